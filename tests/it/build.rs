//! `pyship build` to dir and zip, used by every CPython 3.8+ found.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{self, Pyship, Python, assert_stderr_contains, copy_fixture, pythons};

pub(crate) const IMPORT_CHECK: &str = include_str!("import_check.py");
const FLAT_MODULES: &[&str] = &["app", "pkg", "pkg.sub", "pkg.sub.mod", "ns.part"];

/// Import `modules` from `path` with source compilation forbidden; returns the JSON facts.
pub(crate) fn import_facts(
    python: &Python,
    flags: &[&str],
    path: &Path,
    modules: &[&str],
) -> serde_json::Value {
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["-B", "-I", "-c", IMPORT_CHECK, path.to_str().unwrap()]);
    args.extend(modules);
    let output = python.run(&args);
    assert!(
        output.status.success(),
        "importing from {} with Python {} {flags:?} failed:\n{}",
        path.display(),
        python.version(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Evaluate `expression` after putting `path` first on sys.path; returns its repr.
fn evaluate(python: &Python, flags: &[&str], path: &Path, expression: &str) -> String {
    let code = format!(
        "import sys; sys.path.insert(0, sys.argv[1]); import pkg, pkg.sub.mod, app; print(repr({expression}))"
    );
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["-B", "-I", "-c", &code, path.to_str().unwrap()]);
    let output = python.run(&args);
    assert!(
        output.status.success(),
        "{expression} failed on Python {}:\n{}",
        python.version(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Run `pyship build` and return the artifact paths it printed.
pub(crate) fn build(project: &Path, out: &Path, python: &Python, extra: &[&str]) -> Vec<PathBuf> {
    Pyship::build(project)
        .out(out)
        .python(python)
        .args(extra)
        .artifacts()
}

fn artifact<'a>(paths: &'a [PathBuf], suffix: &str) -> &'a Path {
    paths
        .iter()
        .find(|path| path.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no artifact ending in {suffix} among {paths:?}"))
}

fn is_zip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension == "zip" || extension == "whl" || extension == "pyz")
}

/// Every file in a dir artifact or zip, relative and `/`-separated, with its bytes.
pub(crate) fn contents(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    if is_zip(path) {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            files.insert(entry.name().to_owned(), bytes);
        }
    } else {
        for entry in common::walk(path) {
            let relative = entry.strip_prefix(path).unwrap();
            let name = relative.to_str().unwrap().replace('\\', "/");
            files.insert(name, std::fs::read(&entry).unwrap());
        }
    }
    files
}

pub(crate) fn names(path: &Path) -> Vec<String> {
    contents(path).into_keys().collect()
}

#[test]
fn dir_and_zip_import_from_bytecode_on_every_python() {
    for python in pythons() {
        let (temp, project) = copy_fixture("flat");
        let out = temp.path().join("out");
        let paths = build(&project, &out, &python, &["-f", "dir", "-f", "zip"]);
        assert_eq!(paths.len(), 2, "{paths:?}");
        let tag = format!("cpython-3{}", python.minor);
        for path in [
            artifact(&paths, &format!("-cp3{}", python.minor)),
            artifact(&paths, ".zip"),
        ] {
            let facts = import_facts(&python, &[], path, FLAT_MODULES);
            let files = names(path);
            for module in FLAT_MODULES {
                let fact = &facts[module];
                let file = fact["file"].as_str().unwrap();
                assert!(file.starts_with(path.to_str().unwrap()), "{module}: {file}");
                if is_zip(path) {
                    assert_eq!(fact["loader"], "zipimporter", "{module}");
                } else {
                    let cached = fact["cached"].as_str().unwrap();
                    assert!(cached.contains(&tag), "{module}: {cached}");
                    assert!(Path::new(cached).is_file(), "{module}: {cached} missing");
                }
            }
            assert_eq!(evaluate(&python, &[], path, "app.run()"), "42");
            assert_eq!(
                evaluate(&python, &[], path, "pkg.sub.mod.in_set('beta')"),
                "True"
            );
            assert_eq!(
                evaluate(
                    &python,
                    &[],
                    path,
                    "__import__('pkgutil').get_data('pkg', 'data.json')"
                ),
                "b'{\"answer\": 42}\\n'"
            );
            // Carried unchanged: data, markers, stubs. Left out: gitignored and default excludes.
            for present in [
                "pkg/data.json",
                "pkg/py.typed",
                "pkg/sub/typing_stub.pyi",
                ".gitignore",
            ] {
                assert!(
                    files.iter().any(|name| name == present),
                    "{present} missing: {files:?}"
                );
            }
            for absent in ["ignored.py", "debug.log"] {
                assert!(
                    !files.iter().any(|name| name.contains(absent)),
                    "{absent} shipped"
                );
            }
            if is_zip(path) {
                assert!(
                    files.iter().all(|name| !name.contains("__pycache__")),
                    "{files:?}"
                );
                assert!(
                    files.contains(&"ns/".to_owned()),
                    "no directory entry: {files:?}"
                );
                assert!(files.contains(&"pkg/sub/mod.pyc".to_owned()), "{files:?}");
            }
        }
    }
}

#[test]
fn exclude_removes_files() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let out = temp.path().join("out");
    let paths = build(
        &project,
        &out,
        &python,
        &["-f", "zip", "--exclude", "tests/", "--exclude", "*.pyi"],
    );
    let files = names(&paths[0]);
    assert!(
        files
            .iter()
            .all(|name| !name.starts_with("tests") && !name.ends_with(".pyi")),
        "{files:?}"
    );
    assert!(files.contains(&"app.pyc".to_owned()), "{files:?}");
}

#[test]
fn optimize_levels_drop_asserts_and_docstrings() {
    for python in pythons() {
        for (flag, run_flag, asserts, debug, doc) in [
            ("-O", "-O", "False", "'optimized'", "'Double x.'"),
            ("-OO", "-OO", "False", "'optimized'", "None"),
        ] {
            for format in ["dir", "zip"] {
                let (temp, project) = copy_fixture("flat");
                let out = temp.path().join("out");
                let paths = build(&project, &out, &python, &["-f", format, flag]);
                let path = &paths[0];
                // A zip's legacy pycs are used by plain `python`; a directory's `.opt-N` pycs
                // only by `python -O`/`-OO`.
                let flags: &[&str] = if format == "zip" { &[] } else { &[run_flag] };
                import_facts(&python, flags, path, FLAT_MODULES);
                assert_eq!(evaluate(&python, flags, path, "pkg.has_asserts()"), asserts);
                assert_eq!(evaluate(&python, flags, path, "pkg.debug_block()"), debug);
                assert_eq!(evaluate(&python, flags, path, "pkg.sub.mod.doc()"), doc);
                if format == "dir" {
                    let level = flag.len() - 1;
                    let names = names(path);
                    assert!(
                        names.contains(&format!(
                            "pkg/sub/__pycache__/mod.cpython-3{}.opt-{level}.pyc",
                            python.minor
                        )),
                        "{names:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn strip_sources_ships_only_bytecode_but_kept_sources() {
    for python in pythons() {
        let (temp, project) = copy_fixture("flat");
        let out = temp.path().join("out");
        let paths = build(
            &project,
            &out,
            &python,
            &[
                "-f",
                "dir",
                "-f",
                "zip",
                "-OO",
                "--strip-sources",
                "--keep-source",
                "app.py",
            ],
        );
        for path in &paths {
            let files = names(path);
            let sources: Vec<&String> = files.iter().filter(|name| name.ends_with(".py")).collect();
            assert_eq!(sources, ["app.py"], "{}", path.display());
            assert!(files.contains(&"pkg/sub/mod.pyc".to_owned()), "{files:?}");
            assert!(!files.iter().any(|name| name.ends_with(".pyo")));
            // Legacy sourceless pycs carry no opt tag: plain `python` uses them.
            let facts = import_facts(&python, &[], path, &["pkg", "pkg.sub.mod", "ns.part"]);
            assert!(
                facts["pkg.sub.mod"]["file"]
                    .as_str()
                    .unwrap()
                    .ends_with("mod.pyc")
            );
            assert_eq!(evaluate(&python, &[], path, "pkg.sub.mod.doc()"), "None");
            assert_eq!(evaluate(&python, &[], path, "app.run()"), "42");
        }
    }
}

#[test]
fn builds_are_byte_identical_across_jobs_and_locations() {
    for python in pythons() {
        let (temp_a, project_a) = copy_fixture("flat");
        let (temp_b, project_b) = copy_fixture("flat");
        let args = ["-f", "dir", "-f", "zip", "--strip-sources"];
        let one = build(
            &project_a,
            &temp_a.path().join("out"),
            &python,
            &[&args[..], &["-j1"]].concat(),
        );
        let two = build(
            &project_b,
            &temp_b.path().join("out"),
            &python,
            &[&args[..], &["-j2"]].concat(),
        );
        let beside_one = build(
            &project_a,
            &temp_a.path().join("beside"),
            &python,
            &["-f", "zip", "-j1"],
        );
        let beside_two = build(
            &project_b,
            &temp_b.path().join("beside"),
            &python,
            &["-f", "zip", "-j2"],
        );
        for (a, b) in one
            .iter()
            .zip(&two)
            .chain(beside_one.iter().zip(&beside_two))
        {
            if is_zip(a) {
                assert_eq!(
                    std::fs::read(a).unwrap(),
                    std::fs::read(b).unwrap(),
                    "{}",
                    a.display()
                );
            }
            let (files_a, files_b) = (contents(a), contents(b));
            assert_eq!(
                files_a,
                files_b,
                "Python {}: {}",
                python.version(),
                a.display()
            );
            for root in [temp_a.path(), temp_b.path()] {
                let needle = root.to_str().unwrap().as_bytes();
                for (name, bytes) in &files_a {
                    assert!(
                        !bytes.windows(needle.len()).any(|window| window == needle),
                        "{name} contains the build path {}",
                        root.display()
                    );
                }
            }
        }
    }
}

#[test]
fn syntax_errors_are_all_reported_and_nothing_is_written() {
    for python in pythons() {
        let (temp, project) = copy_fixture("syntax_errors");
        let out = temp.path().join("out");
        let output = Pyship::build(&project)
            .out(&out)
            .args(["-f", "zip", "-f", "dir"])
            .python(&python)
            .fails(1);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let located: Vec<&str> = stderr
            .lines()
            .filter(|line| line.contains(".py:"))
            .collect();
        assert_eq!(located.len(), 2, "{stderr}");
        let one = project.join("pkg").join("broken_one.py");
        let two = project.join("pkg").join("broken_two.py");
        assert!(
            located
                .iter()
                .any(|line| line.starts_with(&format!("{}:5:", one.display()))),
            "{stderr}"
        );
        assert!(
            located
                .iter()
                .any(|line| line.starts_with(&format!("{}:2:", two.display()))),
            "{stderr}"
        );
        // Not even the out-dir: the build created it, and takes it away again.
        assert!(!out.exists(), "out-dir left behind");
        assert!(String::from_utf8_lossy(&output.stdout).is_empty());
    }
}

#[test]
fn encodings_survive_compilation() {
    for python in pythons() {
        let (temp, project) = copy_fixture("encodings");
        let out = temp.path().join("out");
        let paths = build(
            &project,
            &out,
            &python,
            &["-f", "zip", "-f", "dir", "--strip-sources"],
        );
        for path in &paths {
            let code = "import sys, json; sys.path.insert(0, sys.argv[1]); \
                        import latin1_mod, bom_mod, crlf_mod; \
                        print(json.dumps([latin1_mod.value(), bom_mod.value(), crlf_mod.value(), latin1_mod.__doc__]))";
            let output = python.run(&["-B", "-I", "-c", code, path.to_str().unwrap()]);
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let values: Vec<String> = serde_json::from_slice(&output.stdout).unwrap();
            assert_eq!(
                values,
                [
                    "\u{e7}a va, caf\u{e9} \u{b1} \u{a3}",
                    "Grüße, 東京 ✓",
                    "line one\nline two",
                    "Latin-1 module."
                ]
            );
        }
    }
}

#[test]
fn several_targets_get_one_artifact_each() {
    let all = pythons();
    if all.len() < 2 {
        eprintln!("note: skipped: needs two CPython versions");
        return;
    }
    let (first, last) = (&all[0], &all[all.len() - 1]);
    let (temp, project) = copy_fixture("flat");
    let out = temp.path().join("out");
    let paths = Pyship::build(&project)
        .out(&out)
        .args(["-f", "zip", "--strip-sources"])
        .python(first)
        .python(last)
        .artifacts();
    assert_eq!(paths.len(), 2);
    assert_ne!(paths[0], paths[1]);
    for (python, path) in [(first, &paths[0]), (last, &paths[1])] {
        import_facts(python, &[], path, FLAT_MODULES);
    }
}

#[test]
fn bad_interpreters_get_one_clear_line() {
    let (temp, project) = copy_fixture("flat");
    let out = temp.path().join("out");
    let missing = temp.path().join("missing");
    let cases: Vec<(String, String)> = vec![
        (
            "3.99".to_owned(),
            "Python 3.99 is above the supported range".to_owned(),
        ),
        (
            "/bin/ls".to_owned(),
            "is not a Python interpreter".to_owned(),
        ),
        (
            missing.display().to_string(),
            format!("`{}` does not exist", missing.display()),
        ),
        (
            "no-such-python".to_owned(),
            "No `no-such-python` on PATH".to_owned(),
        ),
    ];
    for (spec, expected) in cases {
        let output = Pyship::build(&project)
            .out(&out)
            .args(["-p", &spec])
            .fails(2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        // One error line, and the way to find a usable interpreter.
        assert_eq!(lines.len(), 2, "{stderr}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(&expected),
            "{stderr}"
        );
        assert!(lines[1].starts_with("hint: `pyship pythons`"), "{stderr}");
        assert!(!out.exists());
    }
}

#[test]
fn out_dir_inside_a_file_is_an_error() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let file = temp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let output = Pyship::build(&project)
        .out(&file.join("out"))
        .python(&python)
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
}

#[test]
fn input_tree_is_never_modified() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let before = contents(&project);
    build(
        &project,
        &temp.path().join("out"),
        &python,
        &["-f", "dir", "-f", "zip", "--strip-sources"],
    );
    // The default out-dir lives in the project: everything else must be as it was.
    build(&project, &project.join("dist"), &python, &["-f", "zip"]);
    let mut after = contents(&project);
    after.retain(|name, _| !name.starts_with("dist/"));
    assert_eq!(before, after);
}

#[test]
fn pythons_lists_every_interpreter() {
    let output = Pyship::new(["pythons"]).succeeds();
    let stdout = String::from_utf8_lossy(&output.stdout);
    for python in pythons() {
        let tag = format!("cpython-3{}", python.minor);
        assert!(stdout.contains(&tag), "{tag} missing from:\n{stdout}");
    }
}

/// Write `py_compile`'s pyc for every module of `project` into `dest`, with the dfile pyship
/// uses (the artifact-relative path), and return dfile → bytes.
fn py_compile_all(
    python: &Python,
    project: &Path,
    dest: &Path,
    optimize: u8,
    mode: &str,
) -> BTreeMap<String, Vec<u8>> {
    let code = "import os, py_compile, sys\n\
                root, dest, optimize, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]\n\
                mode = getattr(py_compile.PycInvalidationMode, mode)\n\
                for base, dirs, files in os.walk(root):\n\
                \x20   for name in files:\n\
                \x20       if name.endswith('.py') and name != 'ignored.py':\n\
                \x20           path = os.path.join(base, name)\n\
                \x20           rel = os.path.relpath(path, root).replace(os.sep, '/')\n\
                \x20           cfile = os.path.join(dest, rel + 'c')\n\
                \x20           py_compile.compile(path, cfile=cfile, dfile=rel, doraise=True,\n\
                \x20                              optimize=optimize, invalidation_mode=mode)\n";
    python.script(
        &format!(
            "import sys; sys.argv[1:] = {:?}\n{code}",
            [
                project.to_str().unwrap(),
                dest.to_str().unwrap(),
                &optimize.to_string(),
                mode
            ]
        ),
        &[],
    );
    contents(dest)
}

#[test]
fn pycs_match_py_compile_once_canonicalised() {
    for python in pythons() {
        for (optimize, flag) in [(0u8, "-O0"), (2, "-OO")] {
            let (temp, project) = copy_fixture("flat");
            std::fs::remove_file(project.join("ignored.py")).unwrap();
            let args: Vec<&str> = if optimize == 0 {
                vec!["-f", "zip", "--strip-sources"]
            } else {
                vec!["-f", "zip", "--strip-sources", flag]
            };
            let paths = build(&project, &temp.path().join("out"), &python, &args);
            let ours = contents(&paths[0]);
            let theirs = py_compile_all(
                &python,
                &project,
                &temp.path().join("py_compile"),
                optimize,
                "UNCHECKED_HASH",
            );
            assert_eq!(theirs.len(), 6, "{:?}", theirs.keys());
            for (name, reference) in &theirs {
                let pyc = &ours[name];
                assert_eq!(
                    pyc[..16],
                    reference[..16],
                    "header of {name} on 3.{}",
                    python.minor
                );
                let canonical =
                    pyship::bytecode::marshal::canonicalize(&reference[16..], python.minor)
                        .unwrap();
                assert_eq!(
                    pyc[16..],
                    canonical[..],
                    "body of {name} on 3.{}",
                    python.minor
                );
                let again =
                    pyship::bytecode::marshal::canonicalize(&pyc[16..], python.minor).unwrap();
                assert_eq!(again, &pyc[16..], "not idempotent: {name}");
            }
        }
    }
}

#[test]
fn the_import_guard_catches_a_source_compile() {
    // A checked-hash pyc whose source changed is stale: the loader compiles the source, which
    // the guard must catch. Without this, the "loaded from .pyc" checks could pass vacuously.
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let paths = build(&project, &temp.path().join("out"), &python, &["-f", "dir"]);
    let dir = &paths[0];
    import_facts(&python, &[], dir, FLAT_MODULES);
    std::fs::write(dir.join("ns/part.py"), "NAME = 'changed'\n").unwrap();
    let mut args = vec!["-B", "-I", "-c", IMPORT_CHECK, dir.to_str().unwrap()];
    args.extend(FLAT_MODULES);
    let output = python.run(&args);
    assert!(!output.status.success());
    assert_stderr_contains(&output, "compiled from source");
}

#[test]
fn a_dir_rebuild_replaces_only_a_directory_pyship_wrote() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let out = temp.path().join("out");
    let dir = build(&project, &out, &python, &["-f", "dir"]).remove(0);
    // pyship's own output is replaced by the next build, whatever was added to it.
    std::fs::write(dir.join("added.txt"), "x").unwrap();
    build(&project, &out, &python, &["-f", "dir"]);
    assert!(!dir.join("added.txt").exists());
    import_facts(&python, &[], &dir, FLAT_MODULES);

    // A directory of the same name that pyship did not write is kept, and the build refused.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::create_dir_all(dir.join("photos")).unwrap();
    std::fs::write(dir.join("photos/cat.jpg"), "the user's").unwrap();
    let output = Pyship::build(&project)
        .out(&out)
        .python(&python)
        .args(["-f", "dir"])
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    assert!(stderr.contains("was not written by pyship"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
    assert_eq!(
        std::fs::read(dir.join("photos/cat.jpg")).unwrap(),
        b"the user's"
    );
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        1,
        "staging left behind"
    );
}

#[test]
fn timestamp_pycs_match_their_sources() {
    // The dir sink sets every file's mtime to the header's: a timestamp pyc must be used.
    for python in pythons() {
        let (temp, project) = copy_fixture("flat");
        let paths = build(
            &project,
            &temp.path().join("out"),
            &python,
            &["-f", "dir", "--invalidation-mode", "timestamp"],
        );
        import_facts(&python, &[], &paths[0], FLAT_MODULES);
    }
}

#[test]
fn a_crashing_worker_is_retried_once_then_reported() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let reference = build(
        &project,
        &temp.path().join("reference"),
        &python,
        &["-f", "zip"],
    );

    // Crashes once: the file is retried on a fresh worker and the artifact is as usual.
    let marker = temp.path().join("crashed-once");
    let out = temp.path().join("once");
    let paths = Pyship::build(&project)
        .args(["-f", "zip"])
        .out(&out)
        .python(&python)
        .env("PYSHIP_TEST_CRASH_DFILE", "pkg/sub/mod.py")
        .env("PYSHIP_TEST_CRASH_ONCE", &marker)
        .artifacts();
    assert!(
        marker.exists(),
        "the worker never crashed: the test proves nothing"
    );
    assert_eq!(
        std::fs::read(&paths[0]).unwrap(),
        std::fs::read(&reference[0]).unwrap()
    );

    // Crashes every time: one clear error naming the module and the worker's stderr, nothing
    // written.
    let out = temp.path().join("always");
    let output = Pyship::build(&project)
        .args(["-f", "zip"])
        .out(&out)
        .python(&python)
        .env("PYSHIP_TEST_CRASH_DFILE", "pkg/sub/mod.py")
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: Compile worker for `pkg/sub/mod.py` failed"),
        "{stderr}"
    );
    assert!(stderr.contains("simulated crash"), "{stderr}");
    assert!(!out.exists(), "out-dir left behind");

    // Among several targets, the error says whose worker failed.
    let found = pythons();
    if let [.., older, newer] = found.as_slice() {
        let output = Pyship::build(&project)
            .args(["-f", "zip"])
            .out(&out)
            .python(older)
            .python(newer)
            .env("PYSHIP_TEST_CRASH_DFILE", "pkg/sub/mod.py")
            .fails(2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with(&format!(
                "error: Python 3.{}: Compile worker for `pkg/sub/mod.py` failed",
                older.minor
            )),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}
