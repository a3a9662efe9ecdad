//! Pruning (`--prune`, `--prune-from`, `--include`): `fixtures/prune_app` is designed so that
//! each import form keeps or leaves out a known file; the pruned zipapp runs with every CPython
//! found, and the dropped list in `--report` is exactly the files the design leaves out.

use std::path::Path;

use crate::common::{Pyship, Python, assert_stderr_contains, copy_fixture, fixture, pythons};
use crate::zipapp::{build_dep_wheel, build_with_deps, members};

/// What the design of `fixtures/prune_app` leaves out whatever is included:
/// - `util/unused_helper.py`: the sibling of a used module (`..util.helpers`), imported by no one;
/// - `typing_only.py`: imported only under `if TYPE_CHECKING:`;
/// - `unused/`: a subpackage nothing imports, its data file with it;
/// - `plugins/y.py`: a plugin nobody loads.
///
/// Kept, each by one import form: `cli` (the entry point), `core` (`from . import core`),
/// `core/engine` (`from .engine import run` in `core/__init__`), `util/helpers` and the
/// `util` package (`from ..util.helpers import shout`), `fallback` (in the `except ImportError`
/// branch), `lazy` (imported in `main()`), `core/data/table.txt` (data of a kept package).
const ALWAYS_DROPPED: &[&str] = &[
    "prune_app/plugins/y.py",
    "prune_app/typing_only.py",
    "prune_app/unused/__init__.py",
    "prune_app/unused/data.json",
    "prune_app/unused/heavy.py",
    "prune_app/util/unused_helper.py",
];

/// Only `importlib.import_module("prune_app.plugins.x")` reaches these: left out unless
/// `--include prune_app.plugins.x` (which keeps the plugin, its package and `from .base import`).
const DYNAMIC: &[&str] = &[
    "prune_app/plugins/__init__.py",
    "prune_app/plugins/base.py",
    "prune_app/plugins/x.py",
];

/// The app's output when every part is there.
const EXPECTED: &str = "PRUNED! row one from the core's data\nfallback speedup\nlazy summary\nplugin x\nbytecode True True\n";

/// `pruned[0]` of the `--report` at `path`: the dropped paths (sorted) and their sizes.
fn dropped(report: &Path) -> Vec<(String, u64)> {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    let pruned = json["pruned"].as_array().unwrap();
    assert_eq!(pruned.len(), 1, "{json:#}");
    let mut dropped: Vec<(String, u64)> = pruned[0]["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            (
                file["path"].as_str().unwrap().to_owned(),
                file["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    dropped.sort();
    dropped
}

/// `expected` paths (under `root`) with their sizes on disk, sorted.
fn with_sizes(root: &Path, expected: &[&str]) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = expected
        .iter()
        .map(|path| {
            (
                (*path).to_owned(),
                std::fs::metadata(root.join(path)).unwrap().len(),
            )
        })
        .collect();
    files.sort();
    files
}

fn run_pyz(python: &Python, pyz: &Path) -> std::process::Output {
    std::process::Command::new(&python.path)
        .arg(pyz)
        .output()
        .unwrap()
}

#[test]
fn pruned_zipapp_runs_and_drops_exactly_the_unreached_files() {
    for python in pythons() {
        let (temp, project) = copy_fixture("prune_app");
        let sources = project.join("src");
        let report = temp.path().join("report.json");
        let report_arg = report.to_str().unwrap();

        // With the dynamic plugin included: everything the app uses is there.
        let pyz = Pyship::build(&project)
            .out(&temp.path().join("with"))
            .python(&python)
            .args([
                "-f",
                "zipapp",
                "--prune",
                "--include",
                "prune_app.plugins.x",
            ])
            .args(["--report", report_arg])
            .artifact();
        let output = run_pyz(&python, &pyz);
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            EXPECTED,
            "Python {}: {}",
            python.version(),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success());
        assert_eq!(dropped(&report), with_sizes(&sources, ALWAYS_DROPPED));
        let names = members(&pyz);
        for path in ALWAYS_DROPPED {
            let stem = path.trim_end_matches(".py");
            assert!(
                !names.keys().any(|name| name.starts_with(stem)),
                "{path} shipped: {:?}",
                names.keys()
            );
        }
        assert!(names.contains_key("prune_app/core/data/table.txt"));

        // Without it, the plugin is missing and the app says so.
        let pyz = Pyship::build(&project)
            .out(&temp.path().join("without"))
            .python(&python)
            .args(["-f", "zipapp", "--prune", "--report", report_arg])
            .artifact();
        let output = run_pyz(&python, &pyz);
        assert_eq!(output.status.code(), Some(3), "Python {}", python.version());
        assert_stderr_contains(
            &output,
            "missing plugin: No module named 'prune_app.plugins'",
        );
        let mut expected = ALWAYS_DROPPED.to_vec();
        expected.extend(DYNAMIC);
        assert_eq!(dropped(&report), with_sizes(&sources, &expected));
    }
}

#[test]
fn prune_from_a_dir_lists_what_it_left_out_under_verbose() {
    let python = pythons().pop().expect("a CPython");
    let (temp, project) = copy_fixture("prune_app");
    let out = temp.path().join("out");
    let output = Pyship::build(&project)
        .out(&out)
        .python(&python)
        .args(["-v", "-f", "dir", "--prune-from", "prune_app.cli"])
        .args(["--include", "prune_app.plugins.x"])
        .succeeds();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let version = python.version();
    for path in ALWAYS_DROPPED {
        assert!(
            stderr.contains(&format!("pruned (Python {version}): {path} (")),
            "{path} not listed:\n{stderr}"
        );
    }
    // The missing accelerator and the standard library are listed, never an error.
    assert_stderr_contains(
        &output,
        &format!(
            "not in the bundle (Python {version}; standard library or missing): prune_app._accel, imported at prune_app/cli.py:16"
        ),
    );
    assert_stderr_contains(&output, "pkgutil, imported at prune_app/core/engine.py:3");
    assert_stderr_contains(
        &output,
        &format!("pruned (Python {version}): 5 modules and 1 data file ("),
    );
    let dir = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(!dir.join("prune_app/unused").exists());
    assert!(dir.join("prune_app/core/data/table.txt").exists());
    let output = std::process::Command::new(&python.path)
        .args([
            "-c",
            "import sys; from prune_app.cli import main; sys.exit(main())",
        ])
        .env("PYTHONPATH", &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // A dir keeps the sources beside their pycs by default: `__file__` is the source.
    let parts = EXPECTED.rsplit_once("bytecode").unwrap().0;
    assert!(stdout.starts_with(parts), "{stdout}");
    assert!(output.status.success());
}

#[test]
fn bad_pruning_requests_are_one_error_line() {
    let python = pythons().pop().expect("a CPython");
    let (temp, project) = copy_fixture("prune_app");
    let out = temp.path().join("out");
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["-f", "zipapp", "--prune-from", "prune_app.clli"],
            "error: `--prune-from prune_app.clli` names no module in the bundle",
            "hint: did you mean `prune_app.cli`",
        ),
        (
            &["-f", "zipapp", "--prune", "--include", "plugins.x"],
            "error: `--include plugins.x` names no module in the bundle",
            "hint: the bundle's top-level modules are `prune_app`",
        ),
        (
            &["-f", "wheel", "--prune"],
            "error: Pruning does not apply to a wheel",
            "hint: build the wheel and the pruned bundle in two runs",
        ),
    ];
    for (args, error, hint) in cases {
        let output = Pyship::build(&project)
            .out(&out)
            .python(&python)
            .args(*args)
            .fails(2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.matches("error:").count(), 1, "{args:?}:\n{stderr}");
        assert_stderr_contains(&output, error);
        assert_stderr_contains(&output, hint);
        assert!(!out.exists(), "{args:?} wrote something");
    }

    // A directory of modules without an entry point: `--prune` alone has nothing to start from.
    let modules = temp.path().join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::write(modules.join("lib.py"), "X = 1\n").unwrap();
    let output = Pyship::build(&modules)
        .out(&out)
        .python(&python)
        .args(["-f", "dir", "--prune"])
        .fails(2);
    assert_stderr_contains(
        &output,
        "error: `--prune` prunes from the entry point, and there is none",
    );
    assert_stderr_contains(
        &output,
        "hint: name the modules to prune from with `--prune-from MODULE`",
    );
}

#[test]
fn with_deps_prunes_the_dependencies_too() {
    let python = pythons().pop().expect("a CPython");
    let (temp, project) = copy_fixture("app_with_dep");
    let wheels = temp.path().join("wheels");
    build_dep_wheel(&wheels);
    let report = temp.path().join("report.json");
    let pyz = build_with_deps(
        &project,
        &temp.path().join("out"),
        &python,
        &wheels,
        &[
            "-f",
            "zipapp",
            "--prune",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    // `cli` imports `dep_pkg`, whose `__init__` imports nothing: its `helpers` goes, with the
    // project's modules that the entry point does not import (tests, the native entry point).
    let names: Vec<String> = dropped(&report).into_iter().map(|(path, _)| path).collect();
    assert_eq!(
        names,
        [
            "app_with_dep/cli_test.py",
            "app_with_dep/conftest.py",
            "app_with_dep/native_cli.py",
            "app_with_dep/tests/test_cli.py",
            "dep_pkg/helpers.py",
        ]
    );
    let shipped = members(&pyz);
    assert!(
        shipped
            .keys()
            .any(|name| name.starts_with("dep_pkg/__init__"))
    );
    assert!(
        shipped
            .keys()
            .any(|name| name.starts_with("dep_pkg-1.0.dist-info/"))
    );
    assert!(
        !shipped
            .keys()
            .any(|name| name.starts_with("dep_pkg/helpers"))
    );
    let output = run_pyz(&python, &pyz);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Hello, Ada, from dep_pkg!\ndep_pkg version 1.0\nbytecode True True\n"
            .replace("Ada", "world"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn dry_run_lists_what_pruning_leaves_out() {
    let python = pythons().pop().expect("a CPython");
    let (temp, project) = copy_fixture("prune_app");
    let out = temp.path().join("out");
    let output = Pyship::build(&project)
        .out(&out)
        .python(&python)
        .args(["-f", "zipapp", "--prune", "--dry-run"])
        .succeeds();
    let listing = String::from_utf8_lossy(&output.stdout);
    let version = python.version();
    let mut expected = ALWAYS_DROPPED.to_vec();
    expected.extend(DYNAMIC);
    for path in expected {
        assert_stderr_contains(&output, &format!("pruned (Python {version}): {path} ("));
        // Listed as pruned, not as shipped.
        let lines: Vec<&str> = listing
            .lines()
            .filter(|line| line.trim_start().starts_with(&format!("{path} ")))
            .collect();
        assert_eq!(lines.len(), 1, "{path}:\n{listing}");
        assert!(lines[0].ends_with("[pruned]"), "{path} planned:\n{listing}");
    }
    assert!(
        listing.contains("prune_app/core/data/table.txt"),
        "{listing}"
    );
    assert!(!out.exists());

    // The same from `[tool.pyship]`, the plugin included there.
    let pyproject = project.join("pyproject.toml");
    let mut text = std::fs::read_to_string(&pyproject).unwrap();
    text.push_str("\n[tool.pyship]\nprune = true\ninclude = \"prune_app.plugins.x\"\n");
    std::fs::write(&pyproject, text).unwrap();
    let output = Pyship::build(&project)
        .out(&out)
        .python(&python)
        .args(["-f", "zipapp", "--dry-run"])
        .succeeds();
    let listing = String::from_utf8_lossy(&output.stdout);
    for path in ALWAYS_DROPPED {
        assert_stderr_contains(&output, &format!("pruned (Python {version}): {path} ("));
    }
    for path in DYNAMIC {
        assert!(listing.contains(path), "{path} not planned:\n{listing}");
    }
    let output = Pyship::build(&project)
        .out(&out)
        .python(&python)
        .args(["-f", "zipapp", "--no-prune", "--dry-run"])
        .succeeds();
    assert!(!String::from_utf8_lossy(&output.stderr).contains("pruned ("));
    std::fs::write(
        &pyproject,
        std::fs::read_to_string(fixture("prune_app").join("pyproject.toml")).unwrap(),
    )
    .unwrap();

    // `--include` without pruning does nothing, and says so.
    let output = Pyship::build(&project)
        .out(&out)
        .python(&python)
        .args([
            "-f",
            "zipapp",
            "--include",
            "prune_app.plugins.x",
            "--dry-run",
        ])
        .succeeds();
    assert_stderr_contains(
        &output,
        "warning: `--include` keeps modules only when pruning (`--prune`, `--prune-from`): ignored",
    );
}
