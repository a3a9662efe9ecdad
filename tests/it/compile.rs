//! `pyship compile`: in-place pycs equal to `py_compile`'s, used by the import system, written
//! only when stale, on every CPython 3.8+ found.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{Pyship, Python, copy_tree, fixture, pythons};

const IMPORT_CHECK: &str = include_str!("import_check.py");
const FLAT_MODULES: &[&str] = &["app", "pkg", "pkg.sub", "pkg.sub.mod", "ns.part"];

/// `pyship compile -p PYTHON ARGS` in `cwd`.
fn compile(cwd: &Path, python: &Python, args: &[&str]) -> Pyship {
    Pyship::compile().current_dir(cwd).python(python).args(args)
}

/// [`compile`], which must succeed; returns stderr.
fn compile_ok(cwd: &Path, python: &Python, args: &[&str]) -> String {
    String::from_utf8_lossy(&compile(cwd, python, args).succeeds().stderr).into_owned()
}

/// Copy the `flat` fixture to `dir/flat` and give a few sources unusual permissions, so the
/// pyc mode rule is exercised.
fn flat_in(dir: &Path) -> PathBuf {
    let project = dir.join("flat");
    copy_tree(&fixture("flat"), &project);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for (file, mode) in [
            ("app.py", 0o755),
            ("pkg/__init__.py", 0o444),
            ("ns/part.py", 0o600),
        ] {
            std::fs::set_permissions(project.join(file), std::fs::Permissions::from_mode(mode))
                .unwrap();
        }
    }
    project
}

/// Every `.py` under `dir` (everything, as compileall walks), relative to `cwd`.
fn sources(cwd: &Path, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            out.extend(sources(cwd, &path));
        } else if path.extension().is_some_and(|ext| ext == "py") {
            out.push(path.strip_prefix(cwd).unwrap().to_str().unwrap().to_owned());
        }
    }
    out.sort();
    out
}

/// Every `.pyc` under `dir`.
fn pycs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(pycs(&path));
        } else if path.extension().is_some_and(|ext| ext == "pyc") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// What the reference script reports about one source.
#[derive(Debug, serde::Deserialize, Clone)]
struct Reference {
    source: String,
    /// Where the import system (or compileall -b) expects the pyc: pyship's file.
    cfile: String,
    /// `py_compile.compile(source, cfile=ref)`'s output.
    py_compile: String,
}

/// For each source (relative to `cwd`), where its pyc belongs, and py_compile's own pyc for it
/// (dfile left to py_compile, so `co_filename` is the path as given) written under `dest`.
fn py_compile_references(
    python: &Python,
    cwd: &Path,
    dest: &Path,
    sources: &[String],
    optimize: u8,
    mode: &str,
    legacy: bool,
) -> Vec<Reference> {
    let code = "import importlib.util, json, os, py_compile, sys\n\
                cwd, dest, optimize, mode, legacy = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == '1'\n\
                mode = getattr(py_compile.PycInvalidationMode, mode)\n\
                os.chdir(cwd)\n\
                out = []\n\
                for source in sys.argv[6:]:\n\
                \x20   if legacy:\n\
                \x20       cfile = source + 'c'\n\
                \x20   else:\n\
                \x20       cfile = importlib.util.cache_from_source(source, optimization=optimize or '')\n\
                \x20   ref = os.path.join(dest, source + 'c')\n\
                \x20   os.makedirs(os.path.dirname(ref), exist_ok=True)\n\
                \x20   py_compile.compile(source, cfile=ref, doraise=True, optimize=optimize, invalidation_mode=mode)\n\
                \x20   out.append({'source': source, 'cfile': os.path.abspath(cfile), 'py_compile': ref})\n\
                print(json.dumps(out))\n";
    let mut args = vec![
        cwd.to_str().unwrap().to_owned(),
        dest.to_str().unwrap().to_owned(),
        optimize.to_string(),
        mode.to_owned(),
        if legacy { "1" } else { "0" }.to_owned(),
    ];
    args.extend(sources.iter().cloned());
    let stdout = python.script(&format!("import sys; sys.argv[1:] = {args:?}\n{code}"), &[]);
    serde_json::from_str(&stdout).unwrap()
}

/// pyship's pyc for each reference has py_compile's header, its canonicalised body and its
/// file mode; and pyship wrote no other pyc under `project`.
fn assert_matches_references(python: &Python, project: &Path, references: &[Reference]) {
    for reference in references {
        let what = format!("{} on 3.{}", reference.source, python.minor);
        let ours = std::fs::read(&reference.cfile).unwrap_or_else(|err| {
            panic!("no pyc at {} for {what}: {err}", reference.cfile);
        });
        let theirs = std::fs::read(&reference.py_compile).unwrap();
        assert_eq!(ours[..16], theirs[..16], "header of {what}");
        let canonical =
            pyship::bytecode::marshal::canonicalize(&theirs[16..], python.minor).unwrap();
        assert_eq!(ours[16..], canonical[..], "body of {what}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |path: &str| std::fs::metadata(path).unwrap().permissions().mode() & 0o7777;
            assert_eq!(
                format!("{:o}", mode(&reference.cfile)),
                format!("{:o}", mode(&reference.py_compile)),
                "mode of {what}"
            );
        }
    }
    let mut expected: Vec<PathBuf> = references
        .iter()
        .map(|reference| PathBuf::from(&reference.cfile))
        .collect();
    expected.sort();
    assert_eq!(
        pycs(project),
        expected,
        "pycs written on 3.{}",
        python.minor
    );
}

#[test]
fn pycs_equal_py_compile_for_every_mode_and_level() {
    let combinations: &[(&str, &[&str], u8, &str)] = &[
        ("timestamp", &[], 0, "TIMESTAMP"),
        (
            "checked",
            &["--invalidation-mode", "checked-hash"],
            0,
            "CHECKED_HASH",
        ),
        (
            "unchecked",
            &["--invalidation-mode", "unchecked-hash"],
            0,
            "UNCHECKED_HASH",
        ),
        ("O", &["-O"], 1, "TIMESTAMP"),
        (
            "OO",
            &["-OO", "--invalidation-mode", "checked-hash"],
            2,
            "CHECKED_HASH",
        ),
        (
            "optimize2",
            &["--optimize", "2", "--invalidation-mode", "unchecked-hash"],
            2,
            "UNCHECKED_HASH",
        ),
    ];
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        for &(name, args, optimize, mode) in combinations {
            let cwd = temp.path().join(name);
            let project = flat_in(&cwd);
            let mut all = vec!["flat"];
            all.extend(args);
            compile_ok(&cwd, &python, &all);
            let sources = sources(&cwd, &project);
            assert!(sources.len() >= 7, "{sources:?}");
            let references = py_compile_references(
                &python,
                &cwd,
                &temp.path().join(format!("{name}-ref")),
                &sources,
                optimize,
                mode,
                false,
            );
            assert_matches_references(&python, &project, &references);
        }
    }
}

/// compileall's repeated `-o`: one pyc per level in one run, each equal to py_compile's, and
/// with `--hardlink-dupes` the equal neighbours are one file.
#[cfg(unix)]
#[test]
fn several_levels_in_one_run_equal_py_compile_and_dupes_are_hardlinked() {
    use std::os::unix::fs::MetadataExt as _;
    for python in pythons().into_iter().filter(|python| python.minor >= 9) {
        let temp = tempfile::tempdir().unwrap();
        let cwd = temp.path().join("levels");
        let project = flat_in(&cwd);
        let args = ["flat", "-o", "2", "-o", "0", "-o", "1", "--hardlink-dupes"];
        compile_ok(&cwd, &python, &args);
        let sources = sources(&cwd, &project);
        let references: Vec<Vec<Reference>> = (0..=2)
            .map(|level| {
                let dest = temp.path().join(format!("ref-{level}"));
                py_compile_references(&python, &cwd, &dest, &sources, level, "TIMESTAMP", false)
            })
            .collect();
        assert_matches_references(&python, &project, &references.concat());
        let mut linked = 0;
        for at in 0..sources.len() {
            for pair in references.windows(2) {
                let (lower, upper) = (&pair[0][at].cfile, &pair[1][at].cfile);
                let same_bytes = std::fs::read(lower).unwrap() == std::fs::read(upper).unwrap();
                let inode = |path: &str| std::fs::metadata(path).unwrap().ino();
                assert_eq!(inode(lower) == inode(upper), same_bytes, "{lower} {upper}");
                linked += usize::from(same_bytes);
            }
        }
        assert!(
            linked > 0,
            "no level gave equal bytes on 3.{}",
            python.minor
        );
    }
}

#[test]
fn python_imports_the_pycs_without_compiling() {
    for python in pythons() {
        for (args, flags, tag) in [
            (&[][..], &[][..], ""),
            (&["--invalidation-mode", "checked-hash"][..], &[][..], ""),
            (&["-O"][..], &["-O"][..], ".opt-1"),
            (
                &["-OO", "--invalidation-mode", "unchecked-hash"][..],
                &["-OO"][..],
                ".opt-2",
            ),
        ] {
            let temp = tempfile::tempdir().unwrap();
            let project = flat_in(temp.path());
            let mut all = vec!["flat"];
            all.extend(args);
            compile_ok(temp.path(), &python, &all);
            let mut run: Vec<&str> = flags.to_vec();
            run.extend(["-B", "-I", "-c", IMPORT_CHECK, project.to_str().unwrap()]);
            run.extend(FLAT_MODULES);
            let output = python.run(&run);
            assert!(
                output.status.success(),
                "import {args:?} on 3.{}:\n{}",
                python.minor,
                String::from_utf8_lossy(&output.stderr)
            );
            let facts: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            let suffix = format!(".cpython-3{}{tag}.pyc", python.minor);
            for module in FLAT_MODULES {
                let cached = facts[module]["cached"].as_str().unwrap();
                assert!(cached.ends_with(&suffix), "{module}: {cached} on {args:?}");
                assert!(Path::new(cached).is_file(), "{cached}");
            }
        }
    }
}

/// (inode, mtime in ns) of every pyc under `dir`: changes whenever a pyc is replaced.
fn stamps(dir: &Path) -> BTreeMap<PathBuf, (u64, i128)> {
    pycs(dir)
        .into_iter()
        .map(|path| {
            let metadata = std::fs::metadata(&path).unwrap();
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
            #[cfg(not(unix))]
            let inode = 0;
            let mtime = metadata
                .modified()
                .unwrap()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i128;
            (path, (inode, mtime))
        })
        .collect()
}

/// The pycs whose stamp differs between `before` and `after`, by file name.
fn changed(
    before: &BTreeMap<PathBuf, (u64, i128)>,
    after: &BTreeMap<PathBuf, (u64, i128)>,
) -> Vec<String> {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    before
        .iter()
        .filter(|(path, stamp)| after[*path] != **stamp)
        .map(|(path, _)| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn wrote(stderr: &str) -> usize {
    let line = stderr
        .lines()
        .find(|line| line.starts_with("Wrote "))
        .unwrap_or_else(|| panic!("no summary in:\n{stderr}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn set_mtime(path: &Path, seconds: i64) {
    filetime::set_file_mtime(path, filetime::FileTime::from_unix_time(seconds, 0)).unwrap();
}

#[test]
fn only_stale_pycs_are_written_again() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let project = flat_in(temp.path());
    for source in sources(temp.path(), &project) {
        set_mtime(&temp.path().join(source), 1_600_000_000);
    }
    let first = compile_ok(temp.path(), &python, &["flat", "-v"]);
    let count = wrote(&first);
    assert!(count >= 7, "{first}");
    let before = stamps(&project);
    assert_eq!(before.len(), count);

    // Nothing changed: nothing written, no worker started.
    let second = compile_ok(temp.path(), &python, &["flat", "-v"]);
    assert_eq!(wrote(&second), 0, "{second}");
    assert!(second.contains("workers started 0"), "{second}");
    let after = stamps(&project);
    assert_eq!(changed(&before, &after), Vec::<String>::new());

    // A touched source: only its pyc.
    set_mtime(&project.join("app.py"), 1_600_000_100);
    let third = compile_ok(temp.path(), &python, &["flat", "-v"]);
    assert_eq!(wrote(&third), 1, "{third}");
    let touched = stamps(&project);
    let tag = format!("app.cpython-3{}.pyc", python.minor);
    assert_eq!(changed(&after, &touched), [tag]);

    // Without a cache the workers start while the sources are checked, as stale ones are
    // found: none for an up-to-date tree, one for one stale source, whatever `-j`.
    let uncached = compile_ok(
        temp.path(),
        &python,
        &["flat", "-v", "--no-cache", "-j", "4"],
    );
    assert!(uncached.contains("workers started 0"), "{uncached}");
    let app = project.join("app.py");
    let app_text = std::fs::read(&app).unwrap();
    std::fs::write(&app, [&app_text[..], b"# touched\n"].concat()).unwrap();
    let uncached = compile_ok(
        temp.path(),
        &python,
        &["flat", "-v", "--no-cache", "-j", "4"],
    );
    assert_eq!(wrote(&uncached), 1, "{uncached}");
    assert!(uncached.contains("workers started 1"), "{uncached}");
    std::fs::write(&app, &app_text).unwrap();
    set_mtime(&app, 1_600_000_100);
    let restored = compile_ok(temp.path(), &python, &["flat", "-v"]);
    assert_eq!(wrote(&restored), 1, "{restored}");
    let touched = stamps(&project);

    // Same mtime, other size: compileall's 12-byte check would keep the stale pyc.
    let part = project.join("ns/part.py");
    let mut text = std::fs::read_to_string(&part).unwrap();
    text.push_str("EXTRA = 1\n");
    std::fs::write(&part, &text).unwrap();
    set_mtime(&part, 1_600_000_000);
    let fourth = compile_ok(temp.path(), &python, &["flat", "-v"]);
    assert_eq!(wrote(&fourth), 1, "{fourth}");
    let resized = stamps(&project);
    let tag = format!("part.cpython-3{}.pyc", python.minor);
    assert_eq!(changed(&touched, &resized), std::slice::from_ref(&tag));
    let pyc = std::fs::read(project.join("ns/__pycache__").join(&tag)).unwrap();
    assert_eq!(
        u32::from_le_bytes(pyc[12..16].try_into().unwrap()) as usize,
        text.len()
    );

    // Another invalidation mode: every header differs, every pyc is written.
    let hashed = compile_ok(
        temp.path(),
        &python,
        &["flat", "-v", "--invalidation-mode", "checked-hash"],
    );
    assert_eq!(wrote(&hashed), count, "{hashed}");
    let hashed_stamps = stamps(&project);
    // Hash mode: an mtime change alone is not staleness; a content change is.
    set_mtime(&project.join("app.py"), 1_700_000_000);
    let again = compile_ok(
        temp.path(),
        &python,
        &["flat", "-v", "--invalidation-mode", "checked-hash"],
    );
    assert_eq!(wrote(&again), 0, "{again}");
    std::fs::write(&part, "NAME = 'other'\n").unwrap();
    let edited = compile_ok(
        temp.path(),
        &python,
        &["flat", "-v", "--invalidation-mode", "checked-hash"],
    );
    assert_eq!(wrote(&edited), 1, "{edited}");
    assert_eq!(changed(&hashed_stamps, &stamps(&project)), [tag]);
    // Unchecked-hash differs from checked-hash only in its flags: rewritten too.
    let unchecked = compile_ok(
        temp.path(),
        &python,
        &["flat", "-v", "--invalidation-mode", "unchecked-hash"],
    );
    assert_eq!(wrote(&unchecked), count, "{unchecked}");
}

#[test]
fn legacy_pycs_sit_beside_their_sources_and_import_sourceless() {
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        let project = flat_in(temp.path());
        compile_ok(temp.path(), &python, &["flat", "--legacy"]);
        let sources = sources(temp.path(), &project);
        assert!(
            !project.join("pkg/__pycache__").exists(),
            "legacy writes no __pycache__"
        );
        let references = py_compile_references(
            &python,
            temp.path(),
            &temp.path().join("ref"),
            &sources,
            0,
            "TIMESTAMP",
            true,
        );
        assert_matches_references(&python, &project, &references);
        for source in &sources {
            std::fs::remove_file(temp.path().join(source)).unwrap();
        }
        let mut run = vec!["-B", "-I", "-c", IMPORT_CHECK, project.to_str().unwrap()];
        run.extend(FLAT_MODULES);
        let output = python.run(&run);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let facts: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        for module in FLAT_MODULES {
            let file = facts[module]["file"].as_str().unwrap();
            assert!(file.ends_with(".pyc"), "{module}: {file}");
        }
    }
}

#[test]
fn syntax_errors_are_reported_and_the_rest_is_written() {
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        copy_tree(&fixture("syntax_errors"), &temp.path().join("pkg_root"));
        let output = compile(temp.path(), &python, &["pkg_root"]).fails(1);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Python's own line, column and message for each broken file.
        let lines = python
            .run(&[
                "-I",
                "-c",
                "import os, sys\n\
                 for name in ('broken_one.py', 'broken_two.py'):\n\
                 \x20   path = os.path.join('pkg_root', 'pkg', name)\n\
                 \x20   try:\n\
                 \x20       compile(open(os.path.join(sys.argv[1], path), 'rb').read(), path, 'exec')\n\
                 \x20   except SyntaxError as e:\n\
                 \x20       print('%s:%d:%d: %s' % (path, e.lineno, e.offset, e.msg))\n",
                temp.path().to_str().unwrap(),
            ])
            .stdout;
        let lines = String::from_utf8(lines).unwrap();
        assert_eq!(lines.lines().count(), 2, "{lines}");
        for line in lines.lines() {
            assert!(
                stderr.lines().any(|l| l == line),
                "{line:?} missing on 3.{}:\n{stderr}",
                python.minor
            );
        }
        let cache = temp.path().join("pkg_root/pkg/__pycache__");
        let mut written: Vec<String> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        written.sort();
        let tag = format!("cpython-3{}", python.minor);
        assert_eq!(
            written,
            [format!("__init__.{tag}.pyc"), format!("good.{tag}.pyc")]
        );
    }
}

#[test]
fn files_and_defaults_follow_compileall() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let project = flat_in(temp.path());
    // A single file, a non-Python file (ignored, as compileall does), SOURCE_DATE_EPOCH making
    // checked-hash the default (py_compile's rule).
    Pyship::compile()
        .current_dir(temp.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .python(&python)
        .args(["flat/app.py", "flat/pkg/data.json"])
        .succeeds();
    let written = pycs(&project);
    assert_eq!(written.len(), 1, "{written:?}");
    let pyc = std::fs::read(&written[0]).unwrap();
    assert_eq!(u32::from_le_bytes(pyc[4..8].try_into().unwrap()), 0b11);
    let references = py_compile_references(
        &python,
        temp.path(),
        &temp.path().join("ref"),
        &["flat/app.py".to_owned()],
        0,
        "CHECKED_HASH",
        false,
    );
    assert_matches_references(&python, &project, &references);

    // A missing path, as compileall has it: listed, not listable, no error; the rest is
    // compiled and stderr stays empty.
    let output = compile(temp.path(), &python, &["-q", "flat", "nope"]).succeeds();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Can't list 'nope'\n"
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

/// compileall's stdout for the tree `theirs`, as it reads for `ours` beside it, run by its
/// relative name: the path, and the random suffix of py_compile's temporary pyc name (`X.pyc.
/// 140543346667040`), which pyship does not reproduce.
fn same_tree_stdout(stdout: &[u8], theirs: &Path) -> String {
    let text = String::from_utf8_lossy(stdout).replace(theirs.to_str().unwrap(), "ours");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(".pyc.") {
        out.push_str(&rest[..at + 4]);
        rest = rest[at + 5..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// A source that cannot be read, even by root: `/proc/self/mem` is a regular file whose first
/// page is never mapped, so reading it fails with EIO.
#[cfg(target_os = "linux")]
#[test]
fn an_unreadable_source_is_reported_and_the_rest_is_written() {
    if !Path::new("/proc/self/mem").exists() {
        eprintln!("note: no /proc/self/mem; skipped");
        return;
    }
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        let tree = |name: &str| {
            let dir = temp.path().join(name);
            std::fs::create_dir_all(dir.join("pkg")).unwrap();
            for file in ["a.py", "pkg/__init__.py", "pkg/c.py"] {
                std::fs::write(dir.join(file), "x = 1\n").unwrap();
            }
            std::os::unix::fs::symlink("/proc/self/mem", dir.join("pkg/b.py")).unwrap();
            dir
        };
        let (ours, theirs) = (tree("ours"), tree("theirs"));
        let output = compile(temp.path(), &python, &["-q", "ours"]).fails(1);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let compileall = python.run(&["-I", "-m", "compileall", "-q", theirs.to_str().unwrap()]);
        // compileall's words on stdout, for the same tree under another name.
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            same_tree_stdout(&compileall.stdout, &theirs),
            "3.{}",
            python.minor
        );
        // compileall writes every other pyc and exits 1; so does pyship.
        assert_eq!(compileall.status.code(), Some(1));
        let relative = |dir: &Path| -> Vec<PathBuf> {
            pycs(dir)
                .iter()
                .map(|pyc| pyc.strip_prefix(dir).unwrap().to_path_buf())
                .collect()
        };
        assert_eq!(relative(&ours), relative(&theirs));
        assert_eq!(relative(&ours).len(), 3, "{stderr}");
        assert!(
            stderr.lines().any(
                |line| line == "ours/pkg/b.py: Failed to read: Input/output error (os error 5)"
            ),
            "{stderr}"
        );
        assert!(
            stderr
                .lines()
                .any(|line| line == "error: 1 module did not compile; every other pyc was written"),
            "{stderr}"
        );
    }
}

/// A pyc path taken by a directory, and a `__pycache__` that is a file: compileall reports the
/// modules concerned and writes the others; so does pyship.
#[test]
fn an_unwritable_pyc_is_reported_and_the_rest_is_written() {
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        let tag = format!("cpython-3{}", python.minor);
        let tree = |name: &str| {
            let dir = temp.path().join(name);
            for file in ["a/m.py", "a/n.py", "b/m.py", "b/n.py"] {
                std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
                std::fs::write(dir.join(file), "x = 1\n").unwrap();
            }
            std::fs::create_dir_all(dir.join(format!("a/__pycache__/n.{tag}.pyc"))).unwrap();
            std::fs::write(dir.join("b/__pycache__"), "").unwrap();
            dir
        };
        let (ours, theirs) = (tree("ours"), tree("theirs"));
        let output = compile(temp.path(), &python, &["-q", "ours"]).fails(1);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let compileall = python.run(&["-I", "-m", "compileall", "-q", theirs.to_str().unwrap()]);
        // compileall's words on stdout, for the same tree under another name.
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            same_tree_stdout(&compileall.stdout, &theirs),
            "3.{}",
            python.minor
        );
        assert_eq!(compileall.status.code(), Some(1));
        let written = |dir: &Path| -> Vec<PathBuf> {
            pycs(dir)
                .iter()
                .filter(|pyc| pyc.is_file())
                .map(|pyc| pyc.strip_prefix(dir).unwrap().to_path_buf())
                .collect()
        };
        assert_eq!(written(&ours), written(&theirs));
        assert_eq!(
            written(&ours),
            [PathBuf::from(format!("a/__pycache__/m.{tag}.pyc"))]
        );
        let reported: Vec<&str> = stderr
            .lines()
            .filter_map(|line| line.split_once(": ").map(|(path, _)| path))
            .filter(|path| path.starts_with("ours/"))
            .collect();
        assert_eq!(
            reported,
            ["ours/a/n.py", "ours/b/m.py", "ours/b/n.py"],
            "{stderr}"
        );
        assert!(
            stderr.lines().any(|line| line
                == "error: 3 modules did not compile; every other pyc was written"),
            "{stderr}"
        );
    }
}

/// The tree the compileall comparisons run in: a package with a syntax error, an indentation
/// error, a quote in a file name, a data file, two levels of subpackages, a broken top-level
/// module, a file list and (unix) symlinks to files inside and outside a directory.
fn compileall_tree(root: &Path) {
    for (name, text) in [
        ("pkg/__init__.py", ""),
        ("pkg/a.py", "x = 1\n"),
        ("pkg/bad.py", "def f(:\n    pass\n"),
        ("pkg/data.txt", ""),
        ("pkg/it's.py", ""),
        ("pkg/sub/b.py", "y = 2\n"),
        ("pkg/sub/indent.py", "if 1:\nx = 1\n"),
        // 3.10+ underline the whole call.
        ("pkg/sub/range.py", "if 1:\n  \tprint \"hi\", f(x)\n"),
        ("pkg/sub/deeper/c.py", "z = 3\n"),
        ("top.py", "t = (\n"),
        ("list", "pkg/a.py\npkg/sub\n"),
    ] {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    #[cfg(unix)]
    {
        std::fs::create_dir(root.join("links")).unwrap();
        std::os::unix::fs::symlink(root.join("pkg/sub/b.py"), root.join("links/in.py")).unwrap();
        std::os::unix::fs::symlink(root.join("pkg/a.py"), root.join("links/out.py")).unwrap();
    }
}

/// Same stdout, same exit status as `python -m compileall` for the same arguments in the same
/// tree, on every CPython; run twice where the second run (up-to-date pycs) says something
/// else. stderr is empty whenever compileall succeeds. (Not compared: `-j` output, which
/// compileall's workers interleave at random, and a second run in a hash mode, where
/// compileall's 12-byte check recompiles what is current.)
#[test]
fn stdout_and_status_match_compileall() {
    let cases: Vec<(&[&str], bool)> = vec![
        (&["pkg"], true),
        (&["-q", "pkg"], false),
        (&["-qq", "pkg"], false),
        (&["pkg", "nope"], false),
        (&["-d", "dd", "pkg"], false),
        (&["-q", "-d", "dd", "top.py"], false),
        (&["-l", "pkg"], false),
        (&["-r", "1", "pkg"], false),
        (&["-x", "sub", "pkg"], false),
        (&["top.py", "pkg/a.py", "pkg/data.txt"], false),
        (&["-f", "pkg"], true),
        (&["-b", "pkg"], true),
        (&["-i", "list", "top.py"], false),
        (&["-i", "nolist", "pkg"], false),
    ];
    let newer: Vec<(&[&str], bool)> = vec![
        (&["-s", "elsewhere", "pkg"], false),
        (&["-s", "pkg", "-p", "/foo", "pkg"], false),
        (&["-o", "0", "-o", "2", "--hardlink-dupes", "pkg"], true),
        #[cfg(unix)]
        (&["-e", "pkg/sub", "links"], false),
    ];
    let pythons = pythons();
    // One thread per version: each mostly waits for the processes it starts.
    std::thread::scope(|scope| {
        for python in &pythons {
            let cases = cases
                .iter()
                .chain(newer.iter().filter(|_| python.minor >= 9));
            scope.spawn(move || {
                for (args, twice) in cases {
                    compare_with_compileall(python, args, *twice);
                }
            });
        }
    });
}

/// Run `python -m compileall ARGS` and `pyship compile --python PYTHON ARGS` in two copies of
/// [`compileall_tree`] (twice each when `twice`), comparing stdout and status.
fn compare_with_compileall(python: &Python, args: &[&str], twice: bool) {
    let temp = tempfile::tempdir().unwrap();
    let (theirs, ours) = (temp.path().join("theirs"), temp.path().join("ours"));
    compileall_tree(&theirs);
    compileall_tree(&ours);
    for run in 0..if twice { 2 } else { 1 } {
        let compileall = std::process::Command::new(&python.path)
            .args(["-m", "compileall"])
            .args(args)
            .current_dir(&theirs)
            .env("PYTHONIOENCODING", "utf-8")
            .env_remove("SOURCE_DATE_EPOCH")
            .output()
            .unwrap();
        let pyship = crate::common::pyship()
            .args(["compile", "--python"])
            .arg(&python.path)
            .args(args)
            .current_dir(&ours)
            .output()
            .unwrap();
        let context = format!("3.{} {args:?} run {run}", python.minor);
        assert_eq!(
            String::from_utf8_lossy(&pyship.stdout),
            String::from_utf8_lossy(&compileall.stdout),
            "{context}"
        );
        assert_eq!(pyship.status.code(), compileall.status.code(), "{context}");
        if compileall.status.success() {
            assert_eq!(String::from_utf8_lossy(&pyship.stderr), "", "{context}");
        }
    }
}

/// The compileall options 3.8 lacks are refused for a 3.8 target, in one line, before anything
/// is written.
#[test]
fn options_newer_than_the_target_are_refused() {
    let Some(python) = pythons().into_iter().find(|python| python.minor == 8) else {
        eprintln!("note: no CPython 3.8; skipped");
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    compileall_tree(temp.path());
    for (args, option) in [
        (&["-s", "pkg"][..], "-s"),
        (&["-p", "/foo"][..], "-p"),
        (&["-o", "1"][..], "-o"),
        (&["-e", "pkg"][..], "-e"),
        (&["--hardlink-dupes"][..], "--hardlink-dupes"),
    ] {
        let output = compile(temp.path(), &python, args).arg("pkg").fails(2);
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!(
                "error: `{option}` is not an option of compileall on Python 3.8 (it came in 3.9)\n"
            ),
            "{args:?}"
        );
        assert!(!temp.path().join("pkg/__pycache__").exists());
    }
}
