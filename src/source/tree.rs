//! Walk a project directory and list what goes into the artifact (SPEC §3).
//!
//! Respects `.gitignore` (inside a git checkout or not), always skips version-control and tool
//! directories, stale bytecode, virtual environments, build outputs and the out-dir, follows
//! symlinks only while they stay inside the project, and survives symlink loops.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Patterns excluded from every scan, in `.gitignore` syntax. A directory named `venv` is
/// skipped too unless it is a package (has an `__init__.py`), as the standard library's
/// `venv` is: see `is_virtualenv_dir`.
pub const DEFAULT_EXCLUDES: &[&str] = &[
    ".git/",
    ".hg/",
    ".svn/",
    "__pycache__/",
    "*.pyc",
    "*.pyo",
    ".venv/",
    ".tox/",
    ".nox/",
    "*_cache/",
    "/build/",
    "/dist/",
    "*.egg-info/",
    "node_modules/",
    ".DS_Store",
];

/// What a file is to pyship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A `.py` module: compiled.
    Module,
    /// Anything else: carried unchanged.
    Data,
}

/// One file of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Where it is on disk.
    pub path: PathBuf,
    /// Its path relative to the project root, `/`-separated.
    pub relative: String,
    /// Module or data.
    pub kind: FileKind,
    /// Size in bytes.
    pub size: u64,
    /// Whether it has an executable bit (scripts keep it in the artifact).
    pub executable: bool,
    /// The bytes, when they are already in memory (members of an input wheel); else they are
    /// read from [`SourceFile::path`].
    pub contents: Option<std::sync::Arc<[u8]>>,
}

impl SourceFile {
    /// Its bytes as text (invalid UTF-8 replaced), from memory or from disk.
    pub fn text(&self) -> std::io::Result<String> {
        Ok(match &self.contents {
            Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            None => String::from_utf8_lossy(&fs_err::read(&self.path)?).into_owned(),
        })
    }
}

/// Why the project could not be scanned.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The source is not a directory.
    #[error("`{}` is not a directory", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// An `--exclude` or `--keep-source` pattern is malformed.
    #[error("Invalid pattern `{pattern}`")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        #[source]
        err: ignore::Error,
    },
    /// Walking failed in a way that loses files.
    #[error("Failed to read `{}`", path.display())]
    Walk {
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        err: ignore::Error,
    },
    /// A file name is not valid UTF-8, so it has no module name.
    #[error("File name is not valid UTF-8: `{}`", path.display())]
    NonUtf8 {
        /// The file.
        path: PathBuf,
    },
}

/// A scan's result: the files, sorted by relative path, and what was passed over.
#[derive(Debug, Default)]
pub struct Scan {
    /// Files to ship, sorted by [`SourceFile::relative`].
    pub files: Vec<SourceFile>,
    /// Human-readable notes on skipped symlinks and loops.
    pub warnings: Vec<String>,
}

/// Build a matcher from gitignore-style `patterns` rooted at `root`.
pub fn matcher(root: &Path, patterns: &[&str]) -> Result<Gitignore, DiscoverError> {
    let mut builder = GitignoreBuilder::new(root);
    // The `ignore` crate reads an unclosed `[` literally, as git does in `.gitignore` files; in
    // a pattern typed on the command line it is a mistake, and silently matching nothing would
    // ship what the user meant to leave out.
    builder.allow_unclosed_class(false);
    for pattern in patterns {
        builder
            .add_line(None, pattern)
            .map_err(|err| DiscoverError::Pattern {
                pattern: (*pattern).to_owned(),
                err,
            })?;
    }
    builder.build().map_err(|err| DiscoverError::Pattern {
        pattern: patterns.join(", "),
        err,
    })
}

/// A directory named `venv` that is not a package: a virtual environment by the name
/// `python -m venv venv` gives it (SPEC §3 skips `.venv`/`venv`), not the standard library's
/// `venv` package, which is kept.
fn is_virtualenv_dir(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name == "venv") && !path.join("__init__.py").is_file()
}

/// List the project's files under `root`, skipping `excludes` (on top of
/// [`DEFAULT_EXCLUDES`]) and anything inside `out_dir`.
pub fn discover(root: &Path, excludes: &[String], out_dir: &Path) -> Result<Scan, DiscoverError> {
    if !root.is_dir() {
        return Err(DiscoverError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let canonical_root = fs_err::canonicalize(root).map_err(|err| DiscoverError::Walk {
        path: root.to_path_buf(),
        err: ignore::Error::Io(err),
    })?;
    let canonical_out = fs_err::canonicalize(out_dir).ok();
    let patterns: Vec<&str> = DEFAULT_EXCLUDES
        .iter()
        .copied()
        .chain(excludes.iter().map(String::as_str))
        .collect();
    let excluded = matcher(root, &patterns)?;
    let escapes = Arc::new(Mutex::new(Vec::new()));

    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .git_ignore(true)
        .git_exclude(false)
        .git_global(false)
        .require_git(false)
        .parents(false)
        .follow_links(true)
        .sort_by_file_name(std::cmp::Ord::cmp)
        .filter_entry({
            let excluded = excluded.clone();
            let root = root.to_path_buf();
            let escapes = Arc::clone(&escapes);
            let canonical_out = canonical_out.clone();
            move |entry| {
                let is_dir = entry.file_type().is_some_and(|kind| kind.is_dir());
                let relative = entry.path().strip_prefix(&root).unwrap_or(entry.path());
                if relative.as_os_str().is_empty() {
                    return true;
                }
                if excluded.matched(relative, is_dir).is_ignore()
                    || (is_dir && is_virtualenv_dir(entry.path()))
                {
                    return false;
                }
                // The out-dir is pruned as a directory (a file inside it is reached only through
                // it or through a symlink): one canonicalization per directory, not per file.
                if (is_dir || entry.path_is_symlink())
                    && let Some(out) = &canonical_out
                    && fs_err::canonicalize(entry.path()).is_ok_and(|real| real.starts_with(out))
                {
                    return false;
                }
                // Followed links must stay inside the project: no shipping of `/etc` by accident.
                let inside = !entry.path_is_symlink()
                    || fs_err::canonicalize(entry.path())
                        .is_ok_and(|target| target.starts_with(&canonical_root));
                if !inside {
                    escapes.lock().unwrap().push(format!(
                        "Skipped `{}`: a symlink that points outside the project",
                        entry.path().display()
                    ));
                }
                inside
            }
        })
        .build();

    let mut scan = Scan::default();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                // A dangling or looping link (an editor's `.#mod.py` lock, say) loses nothing:
                // skipped quietly when ignored or excluded, as the rest of what is, else with a
                // warning. Anything else unreadable would lose files, so it stops the build.
                if let Some(path) = error_path(&err)
                    && is_broken_link(path)
                {
                    if !is_ignored(root, &excluded, path) {
                        scan.warnings.push(format!(
                            "Skipped `{}`: a symlink to nothing (dangling or looping)",
                            path.display()
                        ));
                    }
                    continue;
                }
                if is_loop(&err) {
                    scan.warnings.push(format!("Skipped a symlink loop: {err}"));
                    continue;
                }
                return Err(DiscoverError::Walk {
                    path: root.to_path_buf(),
                    err,
                });
            }
        };
        let path = entry.path();
        let Some(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(path);
        let relative = relative
            .to_str()
            .ok_or_else(|| DiscoverError::NonUtf8 {
                path: path.to_path_buf(),
            })?
            .replace(std::path::MAIN_SEPARATOR, "/");
        let kind = if Path::new(&relative)
            .extension()
            .is_some_and(|extension| extension == "py")
        {
            FileKind::Module
        } else {
            FileKind::Data
        };
        let metadata = entry.metadata().ok();
        let size = metadata.as_ref().map_or(0, std::fs::Metadata::len);
        let executable = metadata.as_ref().is_some_and(is_executable);
        scan.files.push(SourceFile {
            path: path.to_path_buf(),
            relative,
            kind,
            size,
            executable,
            contents: None,
        });
    }
    scan.files.sort_by(|a, b| a.relative.cmp(&b.relative));
    scan.warnings.append(&mut escapes.lock().unwrap());
    Ok(scan)
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

/// The path an error of the walk is about.
fn error_path(err: &ignore::Error) -> Option<&Path> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::Loop { child, .. } => Some(child),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

/// A symlink whose target cannot be reached: missing, or a loop of links.
fn is_broken_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|metadata| metadata.is_symlink())
        && std::fs::metadata(path).is_err()
}

/// Whether `path` (under `root`) is left out by `excluded` or by a `.gitignore` between `root`
/// and it, as the walk would have decided had it been able to look at the entry; the walk has
/// already pruned excluded directories, so only `path` itself needs checking.
fn is_ignored(root: &Path, excluded: &Gitignore, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(root) else {
        return false;
    };
    if excluded.matched(relative, false).is_ignore() {
        return true;
    }
    // The deepest `.gitignore` with an opinion decides, as in git.
    let mut ignored = false;
    for dir in path.ancestors().skip(1) {
        let file = dir.join(".gitignore");
        if file.is_file() {
            let (gitignore, _) = Gitignore::new(&file);
            let matched = gitignore.matched(path, false);
            if !matched.is_none() {
                ignored = matched.is_ignore();
                break;
            }
        }
        if dir == root {
            break;
        }
    }
    ignored
}

fn is_loop(err: &ignore::Error) -> bool {
    match err {
        ignore::Error::Loop { .. } => true,
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => is_loop(err),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }

    fn relatives(scan: &Scan) -> Vec<&str> {
        scan.files
            .iter()
            .map(|file| file.relative.as_str())
            .collect()
    }

    #[test]
    fn skips_defaults_gitignore_excludes_and_out_dir() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        for relative in [
            "pkg/__init__.py",
            "pkg/data.txt",
            "pkg/__pycache__/x.cpython-312.pyc",
            "pkg/stale.pyc",
            "pkg/ignored.py",
            "pkg/tests/test_x.py",
            ".git/config",
            ".venv/lib/site.py",
            "venv/pyvenv.cfg",
            "venv/lib/site.py",
            "lib/venv/__init__.py",
            ".mypy_cache/x.json",
            "build/lib/pkg/x.py",
            "dist/old.whl",
            "out/artifact.zip",
            "pkg.egg-info/PKG-INFO",
            "node_modules/x.js",
            "pkg/build/keep.py",
        ] {
            write(root, relative, "");
        }
        write(root, ".gitignore", "ignored.py\n");
        let scan = discover(root, &["tests/".to_owned()], &root.join("out")).unwrap();
        assert_eq!(
            relatives(&scan),
            [
                ".gitignore",
                "lib/venv/__init__.py",
                "pkg/__init__.py",
                "pkg/build/keep.py",
                "pkg/data.txt"
            ]
        );
        assert_eq!(scan.files[2].kind, FileKind::Module);
        assert_eq!(scan.files[4].kind, FileKind::Data);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_stay_inside_and_loops_are_survived() {
        let temp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = temp.path();
        write(root, "pkg/__init__.py", "");
        write(outside.path(), "secret.py", "");
        std::os::unix::fs::symlink(outside.path(), root.join("pkg/escape")).unwrap();
        std::os::unix::fs::symlink(root.join("pkg"), root.join("pkg/loop")).unwrap();
        std::os::unix::fs::symlink(root.join("pkg/__init__.py"), root.join("alias.py")).unwrap();
        // A link into the out-dir is the out-dir.
        write(root, "dist/artifact.zip", "");
        std::os::unix::fs::symlink(root.join("dist/artifact.zip"), root.join("pkg/out.zip"))
            .unwrap();
        let scan = discover(root, &[], &root.join("dist")).unwrap();
        assert_eq!(relatives(&scan), ["alias.py", "pkg/__init__.py"]);
        assert_eq!(scan.warnings.len(), 2, "{:?}", scan.warnings);
    }
}
