//! `pyship compile` against CPython's own compileall command-line tests: for every CPython
//! found, `tests/compileall/conformance.py` runs that version's `test.test_compileall`
//! command-line classes with each `python -m compileall ARGS` swapped for `pyship compile
//! --python <that python> ARGS`. Every test must pass but the ones the runner skips, each for
//! a reason it gives (they call compileall's functions in-process and run no command).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::common::{Python, pythons};

/// The tests the runner may skip (its `SKIPS`, with the reasons), by method name.
const SKIPPED: &[&str] = &[
    "test_workers_available_cores",
    // 3.8 only.
    "test_ddir_only_one_worker",
    "test_ddir_multiple_workers",
    "test_ddir_empty_only_one_worker",
    "test_ddir_empty_multiple_workers",
];

/// The runner's JSON for `python`, or `None` when that CPython has no `test` package (some
/// distributions leave it out).
fn run(python: &Python, cache: &Path) -> Option<serde_json::Value> {
    let has_tests = python
        .run(&["-c", "import test.test_compileall"])
        .status
        .success();
    if !has_tests {
        eprintln!(
            "note: CPython {} has no test.test_compileall; its conformance run is skipped",
            python.version()
        );
        return None;
    }
    let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compileall/conformance.py");
    let output = Command::new(&python.path)
        .arg(&runner)
        .args(["--json", "--pyship", env!("CARGO_BIN_EXE_pyship")])
        .env("PYSHIP_CACHE_DIR", cache)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("PYTHONPYCACHEPREFIX")
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .output()
        .expect("failed to run the conformance runner");
    let stdout = String::from_utf8_lossy(&output.stdout);
    Some(serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!(
            "conformance runner on {}: {err}\nstdout:\n{stdout}\nstderr:\n{}",
            python.version(),
            String::from_utf8_lossy(&output.stderr)
        )
    }))
}

#[test]
fn cpython_compileall_command_line_tests_pass() {
    let pythons = pythons();
    let cache = tempfile::tempdir().unwrap();
    // One runner per version at once: each mostly waits for the processes it starts.
    let results: Vec<(String, Option<serde_json::Value>)> = std::thread::scope(|scope| {
        let runs: Vec<_> = pythons
            .iter()
            .map(|python| {
                let cache = cache.path().join(python.version());
                scope.spawn(move || (python.version(), run(python, &cache)))
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    let mut problems = Vec::new();
    for (version, result) in results {
        let Some(result) = result else { continue };
        let tests = result["tests"].as_array().unwrap();
        let mut passed = 0;
        let mut skipped = BTreeSet::new();
        for test in tests {
            let name = test["test"].as_str().unwrap();
            let method = name.rsplit('.').next().unwrap();
            match test["status"].as_str().unwrap() {
                "passed" => passed += 1,
                "skipped" if SKIPPED.contains(&method) => {
                    skipped.insert(method);
                }
                "skipped" => problems.push(format!(
                    "{version} {name}: skipped ({}) but not in the skip list",
                    test["detail"]
                )),
                _ => problems.push(format!(
                    "{version} {name} failed:\n{}",
                    test["detail"].as_str().unwrap_or_default()
                )),
            }
        }
        eprintln!("note: {version}: {passed} passed, skipped {skipped:?}");
        // Two classes (with and without SOURCE_DATE_EPOCH) of 25 to 33 tests each.
        assert!(
            passed >= 50,
            "{version}: only {passed} tests ran and passed"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
