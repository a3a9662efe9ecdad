//! The warnings CPython's compiler gives (SPEC §9: printed by default, `-q` silences): each
//! target's are what its own `compileall` prints, found by running it here, never from a table.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use pyship::compile::cpython::WorkerPool;
use pyship::compile::{Backend, CodeOptions, CompileOutcome, CompileRequest, Optimize};

use crate::common::{Pyship, Python, pythons};
use crate::pool::{interpreter, request};

/// A module with what every version warns about (`is` with a literal) and what only 3.12+
/// warns about (`"\d"`: a DeprecationWarning before, which the default filters hide).
const WARNED: &str = "import re\nx = re.compile(\"\\d+\")\nif x is 1: pass\n";

/// `(line, category, message)` of one warning.
type Said = (u32, String, String);

fn project(dir: &Path) -> PathBuf {
    let project = dir.join("p");
    std::fs::create_dir_all(project.join("pkg")).unwrap();
    std::fs::write(project.join("pkg/__init__.py"), "").unwrap();
    std::fs::write(project.join("pkg/a.py"), WARNED).unwrap();
    std::fs::write(project.join("pkg/clean.py"), "y = 1\n").unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        "[project]\nname = \"p\"\nversion = \"1\"\n",
    )
    .unwrap();
    project
}

/// What `python -m compileall` prints on stderr for `pkg/a.py` (compiled in a copy of its
/// own): `path:line: Category: message` lines.
fn compileall_says(python: &Python) -> BTreeSet<Said> {
    compileall_says_of(python, WARNED)
}

/// [`compileall_says`] for a module of `source`.
fn compileall_says_of(python: &Python, source: &str) -> BTreeSet<Said> {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("a.py");
    std::fs::write(&file, source).unwrap();
    let output = python.run(&["-I", "-m", "compileall", "-q", file.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    let prefix = format!("{}:", file.display());
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (number, rest) = rest.split_once(": ")?;
            let (category, message) = rest.split_once(": ")?;
            Some((
                number.parse().ok()?,
                category.to_owned(),
                message.to_owned(),
            ))
        })
        .collect()
}

/// The compile warnings in pyship's stderr for `pkg/a.py`, each with the targets named.
fn pyship_says(output: &Output) -> Vec<(Said, String)> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut said = Vec::new();
    for line in stderr.lines() {
        let Some((_, rest)) = line.split_once("pkg/a.py:") else {
            continue;
        };
        let (number, rest) = rest.split_once(": warning: ").expect("a warning line");
        let (message, rest) = rest.rsplit_once(" (").expect("its category");
        let (category, pythons) = rest
            .strip_suffix(')')
            .and_then(|rest| rest.split_once(", Python "))
            .expect("its targets");
        said.push((
            (
                number.parse().unwrap(),
                category.to_owned(),
                message.to_owned(),
            ),
            pythons.to_owned(),
        ));
    }
    said
}

/// Every warning of one target, once, named with it.
fn only(python: &Python, said: &[(Said, String)]) -> BTreeSet<Said> {
    let unique: BTreeSet<Said> = said
        .iter()
        .map(|(said, pythons)| {
            assert_eq!(*pythons, python.version(), "{said:?}");
            said.clone()
        })
        .collect();
    assert_eq!(unique.len(), said.len(), "printed twice: {said:?}");
    unique
}

#[test]
fn build_prints_what_compileall_prints_and_q_silences_it() {
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        let project = project(temp.path());
        let expected = compileall_says(&python);
        // Every version warns about `is 1`; 3.12 and later about "\d" too.
        assert!(
            expected.iter().any(|(line, _, _)| *line == 3),
            "{expected:?}"
        );
        assert_eq!(
            expected.iter().any(|(line, _, _)| *line == 2),
            python.minor >= 12,
            "{expected:?}"
        );

        let cache = temp.path().join("cache");
        let report = temp.path().join("report.json");
        let build = |out: &str| {
            Pyship::build(&project)
                .python(&python)
                .out(&temp.path().join(out))
                .args(["-f", "zip", "--cache-dir"])
                .arg(&cache)
                .arg("--report")
                .arg(&report)
                .context(python.version())
        };
        let output = build("out").succeeds();
        assert_eq!(only(&python, &pyship_says(&output)), expected);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("clean.py"),
            "a module without warnings: {stderr}"
        );
        assert!(
            stderr.contains(&format!(", {} warning", expected.len())),
            "counted in the summary: {stderr}"
        );

        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        let listed: BTreeSet<Said> = json["compile_warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|warning| {
                assert!(warning["path"].as_str().unwrap().ends_with("pkg/a.py"));
                assert_eq!(warning["python"], serde_json::json!([python.version()]));
                (
                    u32::try_from(warning["line"].as_u64().unwrap()).unwrap(),
                    warning["category"].as_str().unwrap().to_owned(),
                    warning["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(listed, expected);

        // A no-change rebuild compiles nothing and says the same.
        let unchanged = build("out").succeeds();
        assert_eq!(
            only(&python, &pyship_says(&unchanged)),
            expected,
            "up to date"
        );
        assert!(
            String::from_utf8_lossy(&unchanged.stderr).contains("everything up to date"),
            "{}",
            String::from_utf8_lossy(&unchanged.stderr)
        );

        // From the cache, the same warnings; with -q, none; the artifact is the same either way.
        let quiet = build("quiet").arg("-q").succeeds();
        let stderr = String::from_utf8_lossy(&quiet.stderr);
        assert!(!stderr.contains("warning"), "-q: {stderr}");
        let again = build("again").succeeds();
        assert_eq!(
            only(&python, &pyship_says(&again)),
            expected,
            "from the cache"
        );
        assert!(
            String::from_utf8_lossy(&again.stderr).contains("from the cache"),
            "{}",
            String::from_utf8_lossy(&again.stderr)
        );
        let zip = format!("p-cp3{}.zip", python.minor);
        let first = std::fs::read(temp.path().join("out").join(&zip)).unwrap();
        for other in ["quiet", "again"] {
            assert!(
                first == std::fs::read(temp.path().join(other).join(&zip)).unwrap(),
                "{other}: the artifact differs"
            );
        }
    }
}

#[test]
fn several_targets_say_each_warning_once_with_the_pythons_that_gave_it() {
    let all = pythons();
    if all.len() < 2 {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let project = project(temp.path());
    let mut build = Pyship::build(&project)
        .out(&temp.path().join("out"))
        .args(["-f", "zip"]);
    for python in &all {
        build = build.python(python);
    }
    let said = pyship_says(&build.succeeds());
    let mut expected: Vec<(Said, Vec<String>)> = Vec::new();
    for python in &all {
        for warning in compileall_says(python) {
            match expected.iter_mut().find(|(said, _)| *said == warning) {
                Some((_, pythons)) => pythons.push(python.version()),
                None => expected.push((warning, vec![python.version()])),
            }
        }
    }
    let expected: BTreeSet<(Said, String)> = expected
        .into_iter()
        .map(|(said, pythons)| (said, pythons.join(", ")))
        .collect();
    let printed: BTreeSet<(Said, String)> = said.iter().cloned().collect();
    assert_eq!(printed.len(), said.len(), "printed twice: {said:?}");
    assert_eq!(printed, expected);
}

#[test]
fn the_native_backend_warns_as_cpython_does() {
    let Some(python) = pythons().into_iter().find(|python| python.minor == 12) else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let project = project(temp.path());
    let said = |backend: &str| {
        let output = Pyship::build(&project)
            .python(&python)
            .out(&temp.path().join(backend))
            .args(["-f", "zip", "--backend", backend])
            .context(backend)
            .succeeds();
        only(&python, &pyship_says(&output))
    };
    let cpython = said("cpython");
    assert_eq!(cpython, compileall_says(&python));
    assert_eq!(said("native"), cpython);
}

#[test]
fn compile_in_place_prints_them_too() {
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        let project = project(temp.path());
        let expected = compileall_says(&python);
        let output = Pyship::compile()
            .python(&python)
            .arg(project.join("pkg"))
            .context(python.version())
            .succeeds();
        assert_eq!(only(&python, &pyship_says(&output)), expected);
        // compileall does not compile an up-to-date pyc again, so it says nothing more.
        let again = Pyship::compile()
            .python(&python)
            .arg(project.join("pkg"))
            .succeeds();
        assert!(pyship_says(&again).is_empty());
        std::fs::remove_dir_all(project.join("pkg/__pycache__")).unwrap();
        let quiet = Pyship::compile()
            .python(&python)
            .arg("-q")
            .arg(project.join("pkg"))
            .succeeds();
        assert!(pyship_says(&quiet).is_empty(), "-q");
    }
}

fn warnings_of(outcome: &CompileOutcome) -> BTreeSet<Said> {
    outcome
        .warnings()
        .iter()
        .map(|warning| {
            (
                warning.line,
                warning.category.clone(),
                warning.message.clone(),
            )
        })
        .collect()
}

/// The worker answers with compileall's warnings alone and in batches, with docstrings
/// stripped (a module compiled twice warns once), and for a top-level `__main__.py`, which the
/// warnings module would name `__main__` (3.8-3.11 show that module's DeprecationWarnings),
/// while compileall names files by their full path.
#[test]
fn the_worker_answers_with_what_compileall_prints() {
    let stripped = format!("\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\n{WARNED}");
    for python in pythons() {
        let pool = WorkerPool::start(&interpreter(&python), 1).unwrap();
        let expected = compileall_says(&python);
        let requests: Vec<CompileRequest> = ["pkg/a.py", "__main__.py", "pkg/__main__.py"]
            .into_iter()
            .map(|dfile| request(dfile, WARNED.as_bytes(), 0))
            .collect();
        for request in &requests {
            let outcome = pool.compile(request).unwrap();
            assert_eq!(
                warnings_of(&outcome),
                expected,
                "{} {}",
                python.version(),
                request.dfile
            );
        }
        let batch: Vec<&CompileRequest> = requests.iter().collect();
        for outcome in pool.compile_batch(&batch) {
            assert_eq!(
                warnings_of(&outcome.unwrap()),
                expected,
                "{} batch",
                python.version()
            );
        }
        let strip = CompileRequest {
            options: CodeOptions {
                optimize: Optimize::Zero,
                strip_docstrings: true,
            },
            ..request("pkg/a.py", stripped.as_bytes(), 0)
        };
        let outcome = pool.compile(&strip).unwrap();
        assert_eq!(
            outcome.warnings().len(),
            warnings_of(&outcome).len(),
            "each once: {outcome:?}"
        );
        assert_eq!(
            warnings_of(&outcome),
            compileall_says_of(&python, &stripped),
            "{} stripped",
            python.version()
        );
    }
}
