//! The walk of `compileall.main`: which files it compiles, in which order, under which
//! recorded name (`dfile`), and what it says on the way ([`Said`]).
//!
//! Each argument that is a file goes through `compile_file`, anything else through
//! `compile_dir` (a missing path is listed, cannot be, and is no error). `compile_dir` lists
//! sorted names, skips `__pycache__`, recurses into real directories `maxlevels` deep (not
//! through symlinks) and hands everything else to `compile_file`, which computes the recorded
//! name (`-d`, `-s`, `-p`), applies `-x` and `-e`, and keeps regular `.py` files. Without
//! arguments, `compile_path`: every `sys.path` entry, without recursing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::say::{Said, py_str};

/// One step of the walk, in order: a line compileall prints, or a source (an index into
/// [`Walk::sources`]).
#[derive(Debug)]
pub(super) enum Step {
    Say(Said),
    Source(usize),
}

/// A `.py` file the walk keeps.
#[derive(Debug)]
pub(super) struct Candidate {
    /// As walked (`os.path.join(dir, name)`): what is read and what is printed.
    pub path: PathBuf,
    /// The name recorded in the code objects (`co_filename`): `dfile or fullname`.
    pub dfile: String,
}

/// How `compile_file` names and filters what it is given.
#[derive(Debug, Default)]
pub(super) struct Rules {
    /// The target's minor version: `-d` and `-s` changed in 3.9 and 3.13.
    pub minor: u8,
    /// `-r`/`-l`: how deep `compile_dir` recurses.
    pub max_levels: i64,
    /// `-d`.
    pub ddir: Option<String>,
    /// `-s`.
    pub stripdir: Option<String>,
    /// compileall's `-p`.
    pub prependdir: Option<String>,
    /// `-x`.
    pub exclude: Option<regex_automata::meta::Regex>,
    /// `-e`, resolved as `Path(DIR).resolve()`.
    pub limit: Option<PathBuf>,
}

/// What the walk found.
#[derive(Debug, Default)]
pub(super) struct Walk {
    pub steps: Vec<Step>,
    pub sources: Vec<Candidate>,
    seen: HashSet<PathBuf>,
}

impl Walk {
    /// `compileall.main` with arguments: each one compiled as a file or a directory.
    pub(super) fn dests(dests: &[PathBuf], rules: &Rules) -> Walk {
        let mut walk = Walk::default();
        for dest in dests {
            if dest.is_file() {
                let ddir = rules.ddir.as_deref();
                let (strip, prepend) = (rules.stripdir.as_deref(), rules.prependdir.as_deref());
                walk.file(dest, ddir, strip, prepend, rules);
            } else {
                walk.dir(dest, rules.max_levels, rules.ddir.clone(), rules);
            }
        }
        walk
    }

    /// `compileall.compile_path`: each `sys.path` entry without recursing, none of the naming
    /// or filtering options; the empty entry (the current directory) is skipped.
    pub(super) fn sys_path(entries: &[PathBuf], minor: u8) -> Walk {
        let rules = Rules {
            minor,
            ..Rules::default()
        };
        let mut walk = Walk::default();
        for entry in entries {
            if entry.as_os_str().is_empty() || entry == Path::new(".") {
                walk.steps.push(Step::Say(Said::SkippingCurdir));
            } else {
                walk.dir(entry, 0, None, &rules);
            }
        }
        walk
    }

    /// `compile_dir(dir, maxlevels, ddir)`.
    fn dir(&mut self, dir: &Path, max_levels: i64, ddir: Option<String>, rules: &Rules) {
        // 3.9+: `-d` is `-s DIR -p DDIR` for what is under DIR.
        let (ddir, strip, prepend) = match ddir {
            Some(ddir) if rules.minor >= 9 => (None, Some(py_str(dir)), Some(ddir)),
            ddir => (ddir, rules.stripdir.clone(), rules.prependdir.clone()),
        };
        self.walk_dir(
            dir,
            max_levels,
            ddir.as_deref(),
            strip.as_deref(),
            prepend.as_deref(),
            rules,
        );
    }

    /// `_walk_dir`, compiling as it goes. `ddir` is 3.8's: the directory's own recorded name.
    fn walk_dir(
        &mut self,
        dir: &Path,
        max_levels: i64,
        ddir: Option<&str>,
        strip: Option<&str>,
        prepend: Option<&str>,
        rules: &Rules,
    ) {
        self.steps.push(Step::Say(Said::Listing(py_str(dir))));
        let mut names: Vec<std::ffi::OsString> = if let Ok(entries) = fs_err::read_dir(dir) {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.file_name()))
                .collect()
        } else {
            self.steps.push(Step::Say(Said::CantList(py_str(dir))));
            Vec::new()
        };
        // Python sorts the names as str: by code point, which is UTF-8 byte order.
        names.sort_unstable_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        for name in names {
            if name == "__pycache__" {
                continue;
            }
            let fullname = dir.join(&name);
            let sub_ddir = ddir.map(|ddir| py_join(ddir, &py_str(Path::new(&name))));
            if !fullname.is_dir() {
                self.file(&fullname, ddir, strip, prepend, rules);
            } else if max_levels > 0 && name != "." && name != ".." && !fullname.is_symlink() {
                self.walk_dir(
                    &fullname,
                    max_levels - 1,
                    sub_ddir.as_deref(),
                    strip,
                    prepend,
                    rules,
                );
            }
        }
    }

    /// `compile_file(fullname, ddir, ...)` up to the compile itself.
    fn file(
        &mut self,
        fullname: &Path,
        ddir: Option<&str>,
        strip: Option<&str>,
        prepend: Option<&str>,
        rules: &Rules,
    ) {
        let full = py_str(fullname);
        let name = full.rsplit('/').next().unwrap_or(&full);
        let mut dfile = ddir.map(|ddir| py_join(ddir, name));
        if rules.minor >= 9 {
            if let Some(strip) = strip {
                match strip_dir(&full, strip, rules.minor) {
                    Some(stripped) => dfile = Some(stripped),
                    None => self.steps.push(Step::Say(Said::StripdirIgnored {
                        stripdir: strip.to_owned(),
                        fullname: full.clone(),
                    })),
                }
            }
            if let Some(prepend) = prepend {
                dfile = Some(py_join(prepend, dfile.as_deref().unwrap_or(&full)));
            }
        }
        if let Some(exclude) = &rules.exclude
            && exclude.is_match(fullname.as_os_str().as_encoded_bytes())
        {
            return;
        }
        if let Some(limit) = &rules.limit
            && fullname.is_symlink()
        {
            // `Path(limit).resolve() in Path(fullname).resolve().parents`; a dangling link is
            // not a file and is skipped below anyway.
            let inside = fs_err::canonicalize(fullname)
                .is_ok_and(|target| target.ancestors().skip(1).any(|parent| parent == limit));
            if !inside {
                return;
            }
        }
        // compileall's `name[-3:] == '.py'`: case matters, as it does to the import system.
        #[allow(clippy::case_sensitive_file_extension_comparisons)]
        let python = name.ends_with(".py");
        if !(python && fullname.is_file()) {
            return;
        }
        // The same file given twice is compiled once; compileall would find it up to date the
        // second time and say nothing either.
        if !self.seen.insert(fullname.to_path_buf()) {
            return;
        }
        self.steps.push(Step::Source(self.sources.len()));
        self.sources.push(Candidate {
            path: fullname.to_path_buf(),
            dfile: dfile.unwrap_or(full),
        });
    }
}

/// `os.path.join(a, b)` on POSIX.
pub(super) fn py_join(a: &str, b: &str) -> String {
    if b.starts_with('/') || a.is_empty() {
        b.to_owned()
    } else if a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// `fullname` without `stripdir`, as `compile_file` does it: from 3.13, only when `stripdir`'s
/// components start `fullname`'s (else `None`: compileall keeps the full path and says so);
/// before, every component of `stripdir` equal to the one at its position in `fullname` is
/// removed wherever it first occurs.
fn strip_dir(fullname: &str, stripdir: &str, minor: u8) -> Option<String> {
    let full: Vec<&str> = fullname.split('/').collect();
    let strip: Vec<&str> = stripdir.split('/').collect();
    let rest: Vec<&str> = if minor >= 13 {
        if full.len() < strip.len() || full[..strip.len()] != strip[..] {
            return None;
        }
        full[strip.len()..].to_vec()
    } else {
        let mut rest = full.clone();
        for (spart, opart) in strip.iter().zip(&full) {
            if spart == opart
                && let Some(at) = rest.iter().position(|part| part == spart)
            {
                rest.remove(at);
            }
        }
        rest
    };
    Some(
        rest.iter()
            .fold(String::new(), |path, part| py_join(&path, part)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_and_join_follow_compile_file() {
        assert_eq!(
            py_join("/foo", "real/path/test.py"),
            "/foo/real/path/test.py"
        );
        assert_eq!(py_join("/foo/", "x.py"), "/foo/x.py");
        assert_eq!(py_join("/foo", "/abs/x.py"), "/abs/x.py");
        assert_eq!(py_join("", "x.py"), "x.py");
        let full = "/tmp/t/test/build/real/path/test.py";
        for minor in [9, 13] {
            assert_eq!(
                strip_dir(full, "/tmp/t/test/build", minor).as_deref(),
                Some("real/path/test.py")
            );
        }
        assert_eq!(strip_dir(full, "/elsewhere", 13), None);
        // Before 3.13 the components that match are removed, the others ignored.
        assert_eq!(
            strip_dir(full, "/elsewhere", 12).as_deref(),
            Some("tmp/t/test/build/real/path/test.py")
        );
    }

    #[test]
    fn dests_are_walked_as_compileall_walks_them() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        for file in ["pkg/a.py", "pkg/b.txt", "pkg/sub/c.py", "pkg/sub/deep/d.py"] {
            let path = root.join(file);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(&path, "").unwrap();
        }
        let pkg = root.join("pkg");
        let names = |walk: &Walk| -> Vec<String> {
            walk.steps
                .iter()
                .map(|step| match step {
                    Step::Say(Said::Listing(dir)) => {
                        format!("L {}", dir.strip_prefix(&py_str(root)).unwrap_or(dir))
                    }
                    Step::Say(Said::CantList(dir)) => format!("X {dir}"),
                    Step::Source(index) => {
                        let source = &walk.sources[*index];
                        format!("S {}", source.dfile)
                    }
                    Step::Say(other) => format!("{other:?}"),
                })
                .collect()
        };
        let rules = Rules {
            minor: 13,
            max_levels: 1,
            ddir: Some("dd".to_owned()),
            ..Rules::default()
        };
        let walk = Walk::dests(&[pkg.clone(), PathBuf::from("nope")], &rules);
        assert_eq!(
            names(&walk),
            [
                "L /pkg",
                "S dd/a.py",
                "L /pkg/sub",
                "S dd/sub/c.py",
                "L nope",
                "X nope"
            ]
        );
        // 3.8 records the same names by joining `-d` level by level.
        let walk = Walk::dests(&[pkg], &Rules { minor: 8, ..rules });
        assert_eq!(
            names(&walk),
            ["L /pkg", "S dd/a.py", "L /pkg/sub", "S dd/sub/c.py"]
        );
    }
}
