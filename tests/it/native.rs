//! The native backend's plumbing (`--backend`, `--target`, `--verify`): artifacts are the same
//! bytes whoever compiles, every module is counted as native or fallen back, and what cannot
//! be built is one `error:` line with a hint. Written so that they hold however much the
//! native compiler supports: [`NativeBackend`] itself is tested with a stand-in compiler that
//! "supports" the modules marked `# native` by answering what a real CPython 3.12 worker
//! gives.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pyship::compile::cpython::WorkerPool;
use pyship::compile::native::{
    NativeBackend, NativeError, NativeLog, Unsupported, compile_312, version_target,
};
use pyship::compile::{
    Backend, CodeOptions, CompileError, CompileOutcome, CompileRequest, Event, Optimize,
    compile_all,
};
use pyship::interpreter::Interpreter;

use crate::common::{self, Pyship, Python, assert_stderr_contains};

/// The CPython 3.12 of this machine, if any (the native compiler's version).
fn python312() -> Option<Python> {
    let found = common::pythons()
        .into_iter()
        .find(|python| python.minor == 12);
    if found.is_none() {
        eprintln!("note: no CPython 3.12 found; skipped");
    }
    found
}

/// A CPython other than 3.12, if any.
fn other_python() -> Option<Python> {
    common::pythons()
        .into_iter()
        .find(|python| python.minor != 12)
}

/// A module the native compiler refuses for a long while: a NaN constant (`inf - inf`, which
/// CPython folds, its sign and payload the platform's) in a function whose name is not on the
/// line of its `def`.
const HARD: &str = "\
def \\
        not_a_number():
    return 1e999 - 1e999
";

/// A project of plain modules plus [`HARD`] as `app/hard.py`.
fn project_with_hard_module(root: &Path) -> PathBuf {
    let project = root.join("project");
    std::fs::create_dir_all(project.join("app")).unwrap();
    std::fs::write(project.join("app/__init__.py"), "VALUE = 1\n").unwrap();
    std::fs::write(
        project.join("app/plain.py"),
        "def f(x):\n    return x + 1\n",
    )
    .unwrap();
    std::fs::write(project.join("app/hard.py"), HARD).unwrap();
    project
}

/// The `--report` JSON of a build.
fn read_report(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn native_artifacts_are_the_bytes_cpython_ones_are() {
    let Some(python) = python312() else { return };
    for fixture in ["flat", "hello", "encodings", "docstrings"] {
        for options in [&[][..], &["-OO"][..], &["--strip-docstrings", "-O"][..]] {
            let (_temp, project) = common::copy_fixture(fixture);
            let built = |backend: &str| {
                let out = project.parent().unwrap().join(format!("out-{backend}"));
                let report = out.with_extension("json");
                let artifact = Pyship::build(&project)
                    .python(&python)
                    .out(&out)
                    .args(["-f", "zip", "--no-cache", "--backend", backend, "--report"])
                    .arg(&report)
                    .args(options)
                    .context(format!("{fixture} {options:?}"))
                    .artifact();
                (std::fs::read(artifact).unwrap(), read_report(&report))
            };
            let (cpython, cpython_report) = built("cpython");
            assert!(cpython_report.get("native").is_none(), "{cpython_report}");
            for backend in ["native", "auto"] {
                let (native, report) = built(backend);
                assert!(
                    native == cpython,
                    "{fixture} {options:?} --backend {backend}: the artifact differs"
                );
                // Every module compiled is counted once: natively or by CPython.
                let counts = &report["native"][0];
                let compiled = report["cache"]["compiled"].as_u64().unwrap();
                assert_eq!(counts["python"], "3.12", "{report}");
                assert_eq!(
                    counts["native"].as_u64().unwrap() + counts["fell_back"].as_u64().unwrap(),
                    compiled,
                    "{report}"
                );
                assert_eq!(compiled, report["modules"].as_u64().unwrap(), "{report}");
                let by_reason: u64 = counts["reasons"]
                    .as_object()
                    .unwrap()
                    .values()
                    .map(|count| count.as_u64().unwrap())
                    .sum();
                assert_eq!(by_reason, counts["fell_back"].as_u64().unwrap());
                assert_eq!(
                    counts["modules"].as_array().unwrap().len() as u64,
                    by_reason
                );
            }
        }
    }
}

#[test]
fn summary_counts_and_verbose_names_each_module_left_to_cpython() {
    let Some(python) = python312() else { return };
    let temp = tempfile::tempdir().unwrap();
    let project = project_with_hard_module(temp.path());
    let output = Pyship::build(&project)
        .python(&python)
        .out(&temp.path().join("out"))
        .args(["-f", "zip", "--no-cache", "--backend", "native", "-v"])
        .succeeds();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|line| line.starts_with("  native (Python 3.12): "))
        .unwrap_or_else(|| panic!("no native line in:\n{stderr}"));
    // `N modules compiled natively, M by CPython`, N + M = 3.
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|part| part.parse().ok())
        .collect();
    assert_eq!(numbers[2] + numbers[3], 3, "{line}");
    // The hard module is among those left to CPython, named with its reason under -v.
    assert!(
        stderr.lines().any(|line| line
            .starts_with("compiled by CPython, not natively (Python 3.12): app/hard.py: ")),
        "{stderr}"
    );
    assert_eq!(
        stderr
            .lines()
            .filter(|line| line.starts_with("compiled by CPython, not natively"))
            .count(),
        numbers[3],
        "{stderr}"
    );
}

#[test]
fn syntax_errors_are_cpythons_whoever_compiles() {
    // A file the native side cannot parse goes to CPython, which reports it as it always has:
    // the same lines, the same exit status, nothing written.
    let Some(python) = python312() else { return };
    let (temp, project) = common::copy_fixture("syntax_errors");
    let out = temp.path().join("out");
    let stderr = |backend: &str| {
        let output = Pyship::build(&project)
            .python(&python)
            .out(&out)
            .args(["--no-cache", "--backend", backend])
            .fails(1);
        String::from_utf8(output.stderr).unwrap()
    };
    let cpython = stderr("cpython");
    assert!(cpython.contains("broken_one.py:"), "{cpython}");
    assert_eq!(stderr("native"), cpython);
    assert!(!out.exists());
}

#[test]
fn native_for_another_version_is_one_error_with_a_hint() {
    let Some(python) = other_python() else { return };
    let (temp, project) = common::copy_fixture("flat");
    let out = temp.path().join("out");
    let output = Pyship::build(&project)
        .python(&python)
        .out(&out)
        .args(["--backend", "native"])
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            format!(
                "error: `--backend native` compiles for Python 3.12 only, not for Python {}",
                python.version()
            )
            .as_str(),
            "hint: use `--backend auto`: native where it can, the target's CPython elsewhere",
        ],
        "{stderr}"
    );
    assert!(!out.exists());
    // `auto` builds it with CPython, and says nothing of a native compiler.
    let report = temp.path().join("report.json");
    Pyship::build(&project)
        .python(&python)
        .out(&out)
        .args(["--backend", "auto", "--report"])
        .arg(&report)
        .succeeds();
    assert!(read_report(&report).get("native").is_none());
    // The same from `[tool.pyship]`.
    std::fs::write(
        project.join("pyproject.toml"),
        "[tool.pyship]\nbackend = \"native\"\n",
    )
    .unwrap();
    let output = Pyship::build(&project).python(&python).out(&out).fails(2);
    assert_stderr_contains(
        &output,
        "error: `--backend native` compiles for Python 3.12 only",
    );
    // `pyship compile` too.
    let output = Pyship::compile()
        .arg("--python")
        .arg(&python.path)
        .args(["--backend", "native"])
        .arg(project.join("pkg"))
        .fails(2);
    assert_stderr_contains(&output, "hint: use `--backend auto`");
}

#[test]
fn compile_in_place_writes_the_same_pycs_with_the_native_backend() {
    let Some(python) = python312() else { return };
    // One tree, so the recorded paths and source mtimes are the same; `-f` rewrites all.
    let (_temp, project) = common::copy_fixture("flat");
    let mut pycs = Vec::new();
    for backend in ["cpython", "native"] {
        let output = Pyship::compile()
            .arg("--python")
            .arg(&python.path)
            .args(["--backend", backend, "--no-cache", "-v", "-f"])
            .arg(&project)
            .succeeds();
        if backend == "native" {
            assert_stderr_contains(&output, "native (Python 3.12): ");
        }
        let mut found: Vec<(String, Vec<u8>)> = common::walk(&project)
            .into_iter()
            .filter(|path| path.extension().is_some_and(|ext| ext == "pyc"))
            .map(|path| {
                let relative = path.strip_prefix(&project).unwrap().display().to_string();
                (relative, std::fs::read(path).unwrap())
            })
            .collect();
        found.sort();
        assert!(!found.is_empty());
        pycs.push(found);
    }
    assert!(pycs[0] == pycs[1], "the pycs differ");
}

#[test]
fn a_version_target_names_every_module_that_needs_the_interpreter() {
    let temp = tempfile::tempdir().unwrap();
    let project = project_with_hard_module(temp.path());
    let out = temp.path().join("out");
    // No Python anywhere: a version target never looks for one.
    let empty = temp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = Pyship::build(&project)
        .out(&out)
        .args([
            "-f",
            "zip",
            "--no-cache",
            "--target",
            "3.12",
            "--backend",
            "native",
        ])
        .env("PATH", &empty)
        .env("PYENV_ROOT", &empty)
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("error: ")
            && lines[0].contains(" the native compiler does not support ")
            && lines[0].contains(" a Python 3.12 interpreter: ")
            && lines[0].contains("app/hard.py ("),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        "hint: install Python 3.12 and pass `-p 3.12` instead of `--target 3.12`"
    );
    assert!(!out.exists());
}

#[test]
fn a_version_target_is_every_release_of_its_minor_for_requires_python() {
    let temp = tempfile::tempdir().unwrap();
    let empty = temp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let build = |requires: &str| {
        let project = temp.path().join(format!("p{}", requires.len()));
        std::fs::create_dir_all(project.join("demo")).unwrap();
        std::fs::write(project.join("demo/__init__.py"), "X = 1\n").unwrap();
        std::fs::write(
            project.join("pyproject.toml"),
            format!(
                "[project]\nname = \"demo\"\nversion = \"1.0\"\nrequires-python = \"{requires}\"\n"
            ),
        )
        .unwrap();
        Pyship::build(&project)
            .args(["--no-cache", "--target", "3.12", "--backend", "native"])
            .env("PATH", &empty)
            .env("PYENV_ROOT", &empty)
    };
    // 3.12.0 is excluded, 3.12.1 is not: a 3.12 target is allowed, its wheel serves 3.12.1.
    build(">=3.12.1").succeeds();
    let output = build("<3.12").fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("3.12") && !stderr.contains("3.12.0"),
        "{stderr}"
    );
}

#[test]
fn a_version_target_builds_the_same_artifact_without_an_interpreter() {
    // What the native compiler does not support yet comes from the cache, filled by a build
    // with the interpreter: the rest of a version target (layout, headers, names, record) is
    // then proven on its own, whatever the native coverage.
    let Some(python) = python312() else { return };
    let (temp, project) = common::copy_fixture("flat");
    let cache = temp.path().join("cache");
    let empty = temp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for format in ["zip", "dir"] {
        let with_python = Pyship::build(&project)
            .python(&python)
            .out(&temp.path().join(format!("with-{format}")))
            .args(["-f", format, "--strip-sources", "--cache-dir"])
            .arg(&cache)
            .artifact();
        let without = Pyship::build(&project)
            .out(&temp.path().join(format!("without-{format}")))
            .args([
                "-f",
                format,
                "--strip-sources",
                "--target",
                "3.12",
                "--cache-dir",
            ])
            .arg(&cache)
            .args(["--backend", "native"])
            .env("PATH", &empty)
            .env("PYENV_ROOT", &empty)
            .artifact();
        assert_eq!(
            with_python.file_name(),
            without.file_name(),
            "the same name"
        );
        let files = |root: &Path| -> Vec<(PathBuf, Vec<u8>)> {
            if root.is_file() {
                return vec![(PathBuf::new(), std::fs::read(root).unwrap())];
            }
            let mut files: Vec<_> = common::walk(root)
                .into_iter()
                .filter(|path| path.is_file())
                .map(|path| {
                    let bytes = std::fs::read(&path).unwrap();
                    (path.strip_prefix(root).unwrap().to_path_buf(), bytes)
                })
                .collect();
            files.sort();
            files
        };
        assert!(
            files(&with_python) == files(&without),
            "{format}: the artifacts differ"
        );
    }
    // The zip runs on the real 3.12.
    let zip = temp.path().join("without-zip/flat-cp312.zip");
    let out = python.script_args(
        "import sys; sys.path.insert(0, sys.argv[1]); import pkg.sub.mod as m; print(m.__file__)",
        &[zip.to_str().unwrap()],
    );
    assert!(out.trim().ends_with("mod.pyc"), "{out}");
}

#[test]
fn a_version_target_refuses_what_needs_an_interpreter() {
    let (temp, project) = common::copy_fixture("flat");
    let out = temp.path().join("out");
    let run = |args: &[&str]| {
        let output = Pyship::build(&project).out(&out).args(args).fails(2);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(stderr.lines().count(), 2, "{stderr}");
        stderr
    };
    let stderr = run(&["--target", "3.12"]);
    assert!(
        stderr.starts_with("error: `--target 3.12` has no interpreter, so only the native backend can compile for it\nhint: add `--backend native` (or `auto`)"),
        "{stderr}"
    );
    let stderr = run(&["--target", "3.11", "--backend", "native"]);
    assert!(stderr.starts_with("error: `--target 3.11`: "), "{stderr}");
    let stderr = run(&[
        "--target",
        "3.12",
        "--backend",
        "auto",
        "-f",
        "zip",
        "--with-deps",
    ]);
    assert!(
        stderr.starts_with(
            "error: `--with-deps` needs the target's interpreter, and `--target 3.12` has none"
        ),
        "{stderr}"
    );
    let stderr = run(&["--target", "3.12", "--backend", "native", "--verify"]);
    assert!(stderr.starts_with("error: `--verify` needs"), "{stderr}");
    let output = Pyship::build(&project)
        .out(&out)
        .args(["--target", "3.12", "--verify"])
        .fails(2);
    assert_stderr_contains(
        &output,
        "error: `--verify` compares the native backend with CPython",
    );
    assert!(!out.exists());
}

#[test]
fn verify_passes_on_the_fixtures() {
    let Some(python) = python312() else { return };
    for fixture in ["flat", "hello", "encodings", "docstrings"] {
        for options in [&[][..], &["-OO"][..]] {
            let (temp, project) = common::copy_fixture(fixture);
            let report = temp.path().join("report.json");
            Pyship::build(&project)
                .python(&python)
                .out(&temp.path().join("out"))
                .args(["-f", "zip", "--backend", "native", "--verify", "--report"])
                .arg(&report)
                .args(options)
                .context(format!("{fixture} {options:?}"))
                .succeeds();
            // Every module compiled, none from the cache: the proof covers them all.
            let report = read_report(&report);
            assert_eq!(report["cache"]["cached"], 0, "{report}");
            assert_eq!(report["cache"]["compiled"], report["modules"], "{report}");
        }
    }
}

// ---- NativeBackend with a stand-in compiler --------------------------------------------

/// A CPython 3.12 worker pool for the stand-in compilers (they are plain `fn`s).
static ORACLE: OnceLock<Option<(Interpreter, WorkerPool)>> = OnceLock::new();

fn oracle() -> Option<&'static (Interpreter, WorkerPool)> {
    ORACLE
        .get_or_init(|| {
            let python = python312()?;
            let interpreter = pyship::interpreter::probe(&python.path).unwrap();
            let pool = WorkerPool::idle(&interpreter, 2);
            Some((interpreter, pool))
        })
        .as_ref()
}

/// What CPython 3.12 gives for `source` (canonical code bytes).
fn cpython_code(source: &[u8], dfile: &str, options: CodeOptions) -> Vec<u8> {
    let (_, pool) = oracle().expect("checked by the test");
    let request = CompileRequest {
        source: source.into(),
        dfile: dfile.to_owned(),
        options,
    };
    match pool.compile(&request).unwrap() {
        CompileOutcome::Code(code, _) => code,
        CompileOutcome::SyntaxError(error, _) => panic!("{dfile}: {error:?}"),
    }
}

/// "Supports" the modules marked `# native` (answering CPython's bytes), gets those marked
/// `# wrong` wrong (CPython's bytes with the last one changed), and supports nothing else.
fn stand_in(source: &[u8], dfile: &str, options: CodeOptions) -> Result<Vec<u8>, Unsupported> {
    let marked = |mark: &[u8]| source.windows(mark.len()).any(|window| window == mark);
    if marked(b"# native") {
        Ok(cpython_code(source, dfile, options))
    } else if marked(b"# wrong") {
        let mut code = cpython_code(source, dfile, options);
        *code.last_mut().unwrap() ^= 0xff;
        Ok(code)
    } else if marked(b"# panic") {
        panic!("the stand-in compiler panics on {dfile}, as a buggy one might")
    } else if marked(b"(((") {
        Err(Unsupported::Parse("unbalanced".to_owned()))
    } else {
        Err(Unsupported::Construct("unmarked module"))
    }
}

fn request(dfile: &str, source: &str) -> CompileRequest {
    CompileRequest {
        source: source.as_bytes().into(),
        dfile: dfile.to_owned(),
        options: CodeOptions::new(Optimize::Zero),
    }
}

/// Every outcome of `requests` through `backend`, in request order.
fn compile_through(
    backend: &dyn Backend,
    requests: &[CompileRequest],
) -> Vec<Result<CompileOutcome, CompileError>> {
    let mut outcomes: Vec<Option<Result<CompileOutcome, CompileError>>> =
        (0..requests.len()).map(|_| None).collect();
    compile_all(backend, None, requests.to_vec(), None, |event| {
        if let Event::Answer(answer) = event {
            outcomes[answer.index] = Some(answer.outcome);
        }
        Ok::<(), CompileError>(())
    })
    .unwrap();
    outcomes.into_iter().map(Option::unwrap).collect()
}

/// A 3.12 worker pool that starts its workers only when asked.
fn idle_pool() -> WorkerPool {
    WorkerPool::idle(&oracle().unwrap().0, 2)
}

#[test]
fn native_backend_falls_back_per_module_and_counts_both() {
    if oracle().is_none() {
        return;
    }
    let requests = [
        request("a.py", "# native\nx = 1\n"),
        request("b.py", "y = 2\n"),
        request("c.py", "# native\ndef f():\n    return 3\n"),
        request("bad.py", "x = (((\n"),
        request("d.py", "z = [i for i in range(3)]\n"),
        request("e.py", "# panic\nw = 4\n"),
    ];
    let backend = NativeBackend::new(Some(idle_pool()), 2, false).with_compile(stand_in);
    let outcomes = compile_through(&backend, &requests);
    // Whoever compiled it, each answer is what the CPython worker gives.
    let expected = compile_through(&idle_pool(), &requests);
    for ((got, expected), request) in outcomes.iter().zip(&expected).zip(&requests) {
        assert_eq!(
            got.as_ref().unwrap(),
            expected.as_ref().unwrap(),
            "{}",
            request.dfile
        );
    }
    // The syntax error is CPython's, located as CPython says.
    assert!(matches!(
        outcomes[3],
        Ok(CompileOutcome::SyntaxError(ref error, _)) if error.line == 1
    ));
    assert!(backend.spawned() >= 1);
    let log = backend.finish();
    assert_eq!(log.native, 2);
    let mut fell_back: Vec<&str> = log
        .fell_back
        .iter()
        .map(|(dfile, _)| dfile.as_str())
        .collect();
    fell_back.sort_unstable();
    assert_eq!(fell_back, ["b.py", "bad.py", "d.py", "e.py"]);
    // A panic in the native compiler sends the module to CPython too, counted as such.
    assert_eq!(
        log.reasons().into_iter().collect::<Vec<_>>(),
        [
            (
                "code the native compiler panics on (a bug: please report it)".to_owned(),
                1
            ),
            ("not parsed natively".to_owned(), 1),
            ("unmarked module".to_owned(), 2)
        ]
    );
    assert!(log.differs.is_empty());
}

#[test]
fn a_fully_native_run_starts_no_worker() {
    if oracle().is_none() {
        return;
    }
    let requests = [
        request("a.py", "# native\nx = 1\n"),
        request("b.py", "# native\ny = 2\n"),
    ];
    let backend = NativeBackend::new(Some(idle_pool()), 2, false).with_compile(stand_in);
    let outcomes = compile_through(&backend, &requests);
    assert!(
        outcomes
            .iter()
            .all(|outcome| matches!(outcome, Ok(CompileOutcome::Code(..))))
    );
    assert_eq!(backend.spawned(), 0);
    assert_eq!(
        backend.finish(),
        NativeLog {
            native: 2,
            ..NativeLog::default()
        }
    );
}

#[test]
fn verify_names_every_module_whose_native_bytes_differ_and_ships_cpythons() {
    if oracle().is_none() {
        return;
    }
    let (interpreter, _) = oracle().unwrap();
    let requests = [
        request("ok.py", "# native\nx = 1\n"),
        request("pkg/wrong.py", "# wrong\ny = 2\n"),
        request("other.py", "z = 3\n"),
        request("pkg/also_wrong.py", "# wrong\ndef f():\n    pass\n"),
    ];
    let backend = NativeBackend::new(Some(idle_pool()), 2, true).with_compile(stand_in);
    let outcomes = compile_through(&backend, &requests);
    let expected = compile_through(&idle_pool(), &requests);
    for (got, expected) in outcomes.iter().zip(&expected) {
        assert_eq!(got.as_ref().unwrap(), expected.as_ref().unwrap());
    }
    let log = backend.finish();
    assert_eq!(log.native, 1);
    assert_eq!(log.fell_back.len(), 1);
    let err = log.check(interpreter).unwrap_err();
    assert!(matches!(err, NativeError::Differs { .. }));
    let message = err.to_string();
    assert!(
        message.starts_with(
            "The native compiler's bytecode differs from Python 3.12's for 2 modules: pkg/also_wrong.py (from byte "
        ) && message.contains(", pkg/wrong.py (from byte "),
        "{message}"
    );
    // Without `--verify` the same stand-in is trusted: that is what `--verify` is for.
    let backend = NativeBackend::new(Some(idle_pool()), 2, false).with_compile(stand_in);
    compile_through(&backend, &requests);
    assert_eq!(backend.finish().check(interpreter).ok(), Some(()));
}

#[test]
fn a_version_target_fails_the_modules_it_cannot_compile_natively() {
    if oracle().is_none() {
        return;
    }
    let target = version_target("3.12").unwrap();
    let (interpreter, _) = oracle().unwrap();
    // What a version target claims to be is what the interpreter is.
    assert_eq!(
        (target.magic, &target.cache_tag, target.version.minor),
        (interpreter.magic, &interpreter.cache_tag, 12)
    );
    let requests = [
        request("a.py", "# native\nx = 1\n"),
        request("b.py", "y = 2\n"),
        request("bad.py", "x = (((\n"),
    ];
    let backend = NativeBackend::new(None, 2, false).with_compile(stand_in);
    let outcomes = compile_through(&backend, &requests);
    assert!(matches!(outcomes[0], Ok(CompileOutcome::Code(..))));
    assert!(matches!(
        outcomes[1],
        Err(CompileError::NoFallback { ref dfile, .. }) if dfile == "b.py"
    ));
    let err = backend.finish().check(&target).unwrap_err();
    insta::assert_snapshot!(err, @"2 modules the native compiler does not support need a Python 3.12 interpreter: b.py (unmarked module), bad.py (not parsed natively)");
    assert_eq!(
        err.hint().unwrap(),
        "install Python 3.12 and pass `-p 3.12` instead of `--target 3.12`"
    );
}

#[test]
fn the_real_native_compiler_agrees_with_cpython_where_it_claims_support() {
    // Whatever it supports today, it gives CPython's bytes (the bar: zero differences), on
    // every fixture at every optimize level, with docstrings stripped too.
    let Some((_, pool)) = oracle() else { return };
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut compared = 0;
    for path in common::walk(&fixtures) {
        if path.extension().is_none_or(|ext| ext != "py") {
            continue;
        }
        let source = std::fs::read(&path).unwrap();
        for optimize in [Optimize::Zero, Optimize::One, Optimize::Two] {
            for strip_docstrings in [false, true] {
                let options = CodeOptions {
                    strip_docstrings,
                    ..CodeOptions::new(optimize)
                };
                let Ok(native) = compile_312(&source, "pkg/m.py", options) else {
                    continue;
                };
                let request = CompileRequest {
                    source: source.as_slice().into(),
                    dfile: "pkg/m.py".to_owned(),
                    options,
                };
                assert_eq!(
                    pool.compile(&request).unwrap(),
                    // Nor may CPython warn about a module compiled natively.
                    CompileOutcome::code(native),
                    "{} at {options:?}",
                    path.display()
                );
                compared += 1;
            }
        }
    }
    eprintln!("note: {compared} native compiles compared with CPython 3.12's");
}

#[test]
fn a_version_target_builds_a_module_cpython_warns_about_and_says_so() {
    let temp = tempfile::tempdir().unwrap();
    let project = temp.path().join("p");
    std::fs::create_dir_all(project.join("demo")).unwrap();
    std::fs::write(
        project.join("demo/__init__.py"),
        "import re\nPATTERN = re.compile(\"\\d+\")\n",
    )
    .unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        "[project]\nname = \"demo\"\nversion = \"1.0\"\n",
    )
    .unwrap();
    let empty = temp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let without = temp.path().join("without");
    let output = Pyship::build(&project)
        .out(&without)
        .args([
            "-f",
            "zip",
            "--no-cache",
            "--target",
            "3.12",
            "--backend",
            "native",
        ])
        .env("PATH", &empty)
        .env("PYENV_ROOT", &empty)
        .succeeds();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/demo/__init__.py: warning: CPython 3.12 warns about this module at compile time; build with `-p 3.12` to see its warnings"),
        "{stderr}"
    );
    // The bytes are CPython's, warning or not.
    let Some(python) = python312() else { return };
    let with = Pyship::build(&project)
        .out(&temp.path().join("with"))
        .python(&python)
        .args(["-f", "zip", "--no-cache"])
        .artifact();
    assert!(
        std::fs::read(&with).unwrap() == std::fs::read(without.join("demo-cp312.zip")).unwrap(),
        "the zips differ"
    );
}
