//! The analysis stage: the Rust parser against CPython's own `ast`, docstring stripping
//! against CPython's `optimize=2`, and the `-OO` warnings.

use std::path::Path;

use pyship::analysis::{Analyzed, analyze_one};
use serde_json::{Value, json};

use crate::common::{self, Python};

/// The Rust facts of `source` in the shape `tests/analysis/ast_facts.py` prints.
fn rust_facts(source: &[u8]) -> Result<Value, String> {
    let facts = match analyze_one(source) {
        Analyzed::Read(facts) => facts,
        Analyzed::Unreadable(why) => return Err(why),
    };
    let to_value = |value: Value| -> Vec<Value> {
        let mut rows: Vec<Value> = value.as_array().cloned().unwrap_or_default();
        rows.sort_by_key(ToString::to_string);
        rows
    };
    let docstrings: Vec<Value> = facts
        .docstrings
        .iter()
        .map(|doc| json!([doc.owner, doc.line, doc.end_line]))
        .collect();
    let imports: Vec<Value> = facts
        .imports
        .iter()
        .map(|import| {
            json!([
                import.module,
                import.level,
                import.names,
                import.line,
                import.guard
            ])
        })
        .collect();
    let uses: Vec<Value> = facts
        .doc_uses
        .iter()
        .map(|doc_use| json!([doc_use.read, doc_use.line]))
        .collect();
    Ok(json!({
        "docstrings": to_value(Value::from(docstrings)),
        "imports": to_value(Value::from(imports)),
        "doc_uses": to_value(Value::from(uses)),
    }))
}

/// CPython's facts of every `.py` under `root`, by path.
fn cpython_facts(python: &Python, root: &Path) -> Vec<(String, Result<Value, String>)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/analysis/ast_facts.py");
    let output = python.run(&["-I", &script.to_string_lossy(), &root.to_string_lossy()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut row: Value = serde_json::from_str(line).unwrap();
            let path = row["path"].as_str().unwrap().to_owned();
            let facts = match row.get_mut("facts") {
                Some(facts) => {
                    for key in ["docstrings", "imports", "doc_uses"] {
                        let mut rows = facts[key].as_array().cloned().unwrap();
                        rows.sort_by_key(ToString::to_string);
                        facts[key] = Value::from(rows);
                    }
                    Ok(facts.take())
                }
                None => Err(row["error"].as_str().unwrap_or_default().to_owned()),
            };
            (path, facts)
        })
        .collect()
}

/// Over a whole standard library, the Rust parser reads every file CPython parses, and finds the
/// same docstrings (with their lines), imports and `__doc__` reads as CPython's `ast`.
#[test]
fn the_rust_parser_agrees_with_cpython_on_a_standard_library() {
    let pythons = common::pythons();
    // One version is enough for CI time: 3.11, else the newest found;
    // `PYSHIP_AGREEMENT_MINOR=13` picks another by hand.
    let minor = std::env::var("PYSHIP_AGREEMENT_MINOR")
        .ok()
        .and_then(|minor| minor.parse().ok())
        .unwrap_or(11);
    let Some(python) = pythons
        .iter()
        .find(|python| python.minor == minor)
        .or(pythons.last())
    else {
        return;
    };
    let stdlib = python.script("import sysconfig; print(sysconfig.get_path('stdlib'))", &[]);
    let stdlib = Path::new(stdlib.trim());
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for (path, expected) in cpython_facts(python, stdlib) {
        // Files CPython itself rejects (test data) prove nothing either way.
        let Ok(expected) = expected else { continue };
        if path.contains("site-packages") {
            continue;
        }
        let source = std::fs::read(&path).unwrap();
        compared += 1;
        match rust_facts(&source) {
            Ok(actual) if actual == expected => {}
            Ok(actual) => {
                for key in ["docstrings", "imports", "doc_uses"] {
                    if actual[key] != expected[key] {
                        disagreements.push(format!(
                            "{path}: {key}: rust {} / cpython {}",
                            actual[key], expected[key]
                        ));
                    }
                }
            }
            Err(why) => disagreements.push(format!("{path}: unreadable by the Rust side: {why}")),
        }
    }
    eprintln!("compared {compared} files of CPython {}", python.version());
    assert!(compared > 500, "only {compared} files compared");
    assert!(
        disagreements.is_empty(),
        "{} of {compared} files disagree:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(30)
            .map(|line| &line[..line.len().min(600)])
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Compares each stripped pyc of `dir` with the target's own `optimize=2` compile of its source
/// (code objects, recursively, every `co_*` attribute), for the modules without asserts; then
/// imports the package from `dir` and checks docstrings are gone, asserts stay and tracebacks
/// keep their lines.
const CHECK_STRIPPED: &str = r#"
import sys, os, marshal, warnings, traceback
warnings.simplefilter("ignore")
built, source = sys.argv[1], sys.argv[2]

sys.path.insert(0, sys.argv[3])
from samecode import same

compared = []
for name in sorted(os.listdir(os.path.join(source, "docmod"))):
    if not name.endswith(".py") or name == "checks.py":
        continue
    with open(os.path.join(source, "docmod", name), "rb") as f:
        expected = compile(f.read(), "docmod/" + name, "exec", dont_inherit=True, optimize=2)
    with open(os.path.join(built, "docmod", name[:-3] + ".pyc"), "rb") as f:
        actual = marshal.loads(f.read()[16:])
    same(expected, actual, name)
    compared.append(name)

sys.path.insert(0, built)
import docmod, docmod.shapes as shapes, docmod.crlf, docmod.bom, docmod.latin, docmod.checks as checks
assert docmod.__file__.endswith(".pyc"), docmod.__file__
for module in (docmod, shapes, docmod.crlf, docmod.bom, docmod.latin, checks):
    assert module.__doc__ is None, module
for thing in (shapes.Plain, shapes.Plain.method, shapes.Plain.Inner, shapes.OnlyDoc, shapes.only_doc,
              shapes.coroutine, shapes.outer, shapes.outer(), shapes.concatenated, shapes.two_strings,
              shapes.decorated, docmod.crlf.f, docmod.bom.f, docmod.latin.f, checks.check, checks.fails):
    assert thing.__doc__ is None, thing
assert shapes.fstring_first() == 6 and shapes.two_strings() == 5 and docmod.latin.f() == "\xe9"
try:
    checks.check(0)
except AssertionError as exc:
    assert str(exc) == "x must be truthy"
else:
    raise AssertionError("the assert was stripped")
try:
    checks.fails()
except ValueError:
    line = traceback.extract_tb(sys.exc_info()[2])[-1].lineno
    assert line == 17, line
print(" ".join(compared))
"#;

/// `--strip-docstrings` on every CPython found: the code objects equal the target's own
/// `optimize=2` compile for modules without asserts (module, class, function, async and nested
/// docstrings, a docstring-only body, implicit concatenation, a second string statement, an
/// f-string first statement, CRLF, BOM, a Latin-1 cookie, a package docstring followed by a
/// `__future__` import), `__doc__` is None, asserts still raise and tracebacks keep their lines.
#[test]
fn strip_docstrings_matches_optimize_2_and_keeps_asserts() {
    let (_temp, project) = common::copy_fixture("docstrings");
    for python in common::pythons() {
        let out = tempfile::tempdir().unwrap();
        let built = common::Pyship::build(&project)
            .python(&python)
            .out(out.path())
            .args([
                "-f",
                "dir",
                "--strip-sources",
                "--strip-docstrings",
                "--no-cache",
            ])
            .artifact();
        let compared = python.script_args(
            CHECK_STRIPPED,
            &[
                &built.to_string_lossy(),
                &project.to_string_lossy(),
                &common::python_helpers().to_string_lossy(),
            ],
        );
        assert_eq!(
            compared.trim(),
            "__init__.py bom.py crlf.py latin.py shapes.py",
            "{}",
            python.version()
        );
    }
}

/// Under `-OO` and under `--strip-docstrings`, each place that reads a docstring gets exactly one
/// `path:line: warning:` line (click once per build), counted in the summary and the report; a
/// module listed in `--keep-docstrings` gets none, and a clean module none.
#[test]
fn code_that_reads_docstrings_gets_one_warning_per_site() {
    let Some(python) = common::pythons().pop() else {
        return;
    };
    let (temp, project) = common::copy_fixture("docwarnings");
    let expected = [
        ("tool/cli.py", 14, "`docopt(__doc__)`"),
        ("tool/cli.py", 15, "`description=__doc__`"),
        ("tool/cli.py", 16, "reads `.__doc__`"),
        ("tool/cli.py", 21, "`getdoc()`"),
        ("tool/cli.py", 24, "reads `__doc__`"),
        ("tool/grammar.py", 3, "PLY"),
        ("tool/grammar.py", 4, "click"),
    ];
    for options in [&["-OO"][..], &["--strip-docstrings"][..]] {
        let report = temp.path().join("report.json");
        let output = common::Pyship::build(&project)
            .python(&python)
            .out(&temp.path().join("out"))
            .args(options)
            .arg("--report")
            .arg(&report)
            .succeeds();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|line| line.contains("warning:"))
            .collect();
        assert_eq!(lines.len(), expected.len(), "{options:?}:\n{stderr}");
        for ((file, line, needle), printed) in expected.iter().zip(&lines) {
            let place = format!("{}:{line}: warning: ", project.join(file).display());
            assert!(
                printed.starts_with(&place) && printed.contains(needle),
                "{options:?}: expected {place}…{needle}…, got {printed}"
            );
        }
        assert!(stderr.contains(", 7 warnings"), "{stderr}");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(
            json["source_warnings"].as_array().unwrap().len(),
            expected.len()
        );
    }
    // Kept modules are not stripped, so nothing breaks there.
    let output = common::Pyship::build(&project)
        .python(&python)
        .out(&temp.path().join("out"))
        .args([
            "-OO",
            "--keep-docstrings",
            "tool/cli.py",
            "--keep-docstrings",
            "tool/grammar.py",
        ])
        .succeeds();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("warning:"), "{stderr}");
    assert!(
        stderr.contains("2 modules keep their docstrings (`--keep-docstrings`), compiled at -O"),
        "{stderr}"
    );
    // Without -OO or stripping, no analysis and no warning.
    let output = common::Pyship::build(&project)
        .python(&python)
        .out(&temp.path().join("out"))
        .succeeds();
    assert!(!String::from_utf8_lossy(&output.stderr).contains("warning:"));
}

/// `--keep-docstrings` under `-OO`: the kept module is compiled at `-O` (docstrings there,
/// asserts gone) and the others at `-OO`, in the `.opt-2` pycs `python -OO` loads.
#[test]
fn kept_modules_are_compiled_at_o1_under_oo() {
    let Some(python) = common::pythons().pop() else {
        return;
    };
    let (temp, project) = common::copy_fixture("docstrings");
    let built = common::Pyship::build(&project)
        .python(&python)
        .out(&temp.path().join("out"))
        .args(["-f", "dir", "-OO", "--keep-docstrings", "docmod/checks.py"])
        .artifact();
    let output = std::process::Command::new(&python.path)
        .current_dir(&built)
        .args([
            "-OO",
            "-c",
            "import docmod.checks as c, docmod.shapes as s; \
             assert c.__cached__.endswith('.opt-2.pyc'); \
             print(c.__doc__ is not None, c.check.__doc__ is not None, s.__doc__ is None); \
             print(c.check(0))",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout,
        "True True True\n0\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `--dry-run` lists exactly the files the real build writes, each pyc with its docstring
/// decision, writes nothing (no out-dir) and starts no worker; `--report` has the same as JSON.
#[test]
fn dry_run_lists_what_the_build_writes_and_writes_nothing() {
    let Some(python) = common::pythons().pop() else {
        return;
    };
    let (temp, project) = common::copy_fixture("docstrings");
    let out = temp.path().join("out");
    let report = temp.path().join("report.json");
    let pids = temp.path().join("pids");
    let args = [
        "-f",
        "dir",
        "--strip-docstrings",
        "--keep-docstrings",
        "docmod/checks.py",
    ];
    let output = common::Pyship::build(&project)
        .python(&python)
        .out(&out)
        .args(args)
        .args(["--dry-run", "--no-cache", "--report"])
        .arg(&report)
        .env("PYSHIP_TEST_PID_LOG", &pids)
        .succeeds();
    assert!(!out.exists(), "a dry run created the out-dir");
    assert!(!pids.exists(), "a dry run started a worker");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let listing = &json["listings"][0];
    let mut planned: Vec<String> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["path"].as_str().unwrap().to_owned())
        .collect();
    planned.sort();
    for path in &planned {
        assert!(stdout.contains(path.as_str()), "{path} not in:\n{stdout}");
    }
    let docstrings = |suffix: &str| {
        listing["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|file| file["path"].as_str().unwrap().ends_with(suffix))
            .map(|file| file["docstrings"].clone())
            .unwrap()
    };
    assert_eq!(
        docstrings(&format!("checks.cpython-3{}.pyc", python.minor)),
        "kept"
    );
    assert_eq!(
        docstrings(&format!("shapes.cpython-3{}.pyc", python.minor)),
        "stripped"
    );

    // The real build writes exactly those files.
    let built = common::Pyship::build(&project)
        .python(&python)
        .out(&out)
        .args(args)
        .artifact();
    let mut written = Vec::new();
    for entry in common::walk(&built) {
        written.push(
            entry
                .strip_prefix(&built)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/"),
        );
    }
    written.sort();
    assert_eq!(planned, written);
}

/// An artifact built with docstrings stripped, some kept, and pruning records those choices:
/// `verify` rebuilds it the same way from a copy of the sources elsewhere.
#[test]
fn stripped_and_pruned_artifacts_verify() {
    let Some(python) = common::pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let project = temp.path().join("here/docstrings");
    let copy = temp.path().join("elsewhere/docstrings");
    common::copy_tree(&common::fixture("docstrings"), &project);
    common::copy_tree(&common::fixture("docstrings"), &copy);
    let artifact = common::Pyship::build(&project)
        .python(&python)
        .out(&temp.path().join("out"))
        .args([
            "-f",
            "zip",
            "--strip-docstrings",
            "--keep-docstrings",
            "docmod/checks.py",
        ])
        .args(["--prune-from", "docmod.shapes"])
        .artifact();
    let output = common::Pyship::new(["verify"])
        .arg(&artifact)
        .arg("--source")
        .arg(&copy)
        .succeeds();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Verified"), "{stderr}");
}

/// A stripped zip is used as built: imported from the archive on every CPython found, its
/// modules load from their pycs, docstrings are gone and asserts still raise.
#[test]
fn a_stripped_zip_imports_without_docstrings_and_keeps_asserts() {
    let (temp, project) = common::copy_fixture("docstrings");
    for python in common::pythons() {
        let zip = common::Pyship::build(&project)
            .python(&python)
            .out(&temp.path().join(format!("out{}", python.minor)))
            .args(["-f", "zip", "--strip-sources", "--strip-docstrings"])
            .artifact();
        // `-I` ignores PYTHONPATH: the zip goes on sys.path as PYTHONPATH would put it.
        let printed = python.script_args(
            "import sys; sys.path.insert(0, sys.argv[1])\n\
             import docmod.shapes as s, docmod.checks as c\n\
             assert s.__file__.endswith('.pyc'), s.__file__\n\
             assert s.__doc__ is None and s.Plain.method.__doc__ is None and c.__doc__ is None\n\
             try:\n    c.check(0)\nexcept AssertionError as e:\n    print(e)\n",
            &[&zip.to_string_lossy()],
        );
        assert_eq!(printed, "x must be truthy\n", "{}", python.version());
    }
}

/// A stripped wheel installs with the target's pip and imports its pycs without docstrings,
/// asserts kept, on every CPython.
#[test]
fn a_stripped_wheel_installs_and_imports_without_docstrings() {
    let (temp, project) = common::copy_fixture("docstrings");
    fs_err::write(
        project.join("pyproject.toml"),
        "[project]\nname = \"docmod\"\nversion = \"0.1\"\n",
    )
    .unwrap();
    for python in common::pythons() {
        let work = temp.path().join(format!("py{}", python.minor));
        let wheel = common::Pyship::build(&project)
            .python(&python)
            .out(&work.join("out"))
            .args(["-f", "wheel", "--strip-sources", "--strip-docstrings"])
            .artifact();
        let venv = crate::wheel::venv(&python, &work.join("venv"));
        let installed = crate::wheel::install(&python, &work.join("venv"), &wheel);
        assert!(
            installed.status.success(),
            "{}",
            String::from_utf8_lossy(&installed.stderr)
        );
        let output = std::process::Command::new(&venv)
            .args([
                "-I",
                "-c",
                "import docmod.shapes as s, docmod.checks as c\n\
                 assert s.__file__.endswith('.pyc'), s.__file__\n\
                 assert s.__doc__ is None and s.Plain.method.__doc__ is None and c.__doc__ is None\n\
                 try:\n    c.check(0)\nexcept AssertionError as e:\n    print(e)\n",
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "x must be truthy\n",
            "{}: {}",
            python.version(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
