//! Several SOURCEs in one `pyship build`: built one after another with the same options, each
//! with its own `[tool.pyship]`, one summary; an error names its SOURCE (SPEC §1).

use std::path::{Path, PathBuf};

use crate::build::names;
use crate::common::{Pyship, copy_fixture, copy_tree, fixture, pythons};

/// A project `NAME` 1.0 with one module, in `root/NAME`, `[tool.pyship]` holding `tool`.
fn project(root: &Path, name: &str, tool: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("__init__.py"), "X = 1\n").unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        format!("[project]\nname = \"{name}\"\nversion = \"1.0\"\n\n[tool.pyship]\n{tool}\n"),
    )
    .unwrap();
    dir
}

/// `file_name` of each path.
fn file_names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn several_wheels_are_converted_in_one_call_with_one_summary() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let mut wheels = Vec::new();
    for name in ["alpha", "beta", "gamma"] {
        let dir = project(temp.path(), name, "");
        wheels.push(
            Pyship::build(&dir)
                .out(&temp.path().join("wheels"))
                .python(&python)
                .artifact(),
        );
    }
    let out = temp.path().join("out");
    let output = Pyship::build(&wheels[0])
        .arg(&wheels[1])
        .arg(&wheels[2])
        .out(&out)
        .python(&python)
        .arg("--strip-sources")
        .succeeds();
    let built: Vec<PathBuf> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(PathBuf::from)
        .collect();
    let tag = format!("cp3{}", python.minor);
    assert_eq!(
        file_names(&built),
        ["alpha", "beta", "gamma"].map(|name| format!("{name}-1.0-{tag}-none-any.whl"))
    );
    for (wheel, name) in built.iter().zip(["alpha", "beta", "gamma"]) {
        let names = names(wheel);
        assert!(names.contains(&format!("{name}/__init__.pyc")), "{names:?}");
        assert!(!names.contains(&format!("{name}/__init__.py")), "{names:?}");
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr
            .lines()
            .filter(|line| line.starts_with("Compiled "))
            .count(),
        1,
        "{stderr}"
    );
    for wheel in &built {
        assert!(
            stderr.contains(&format!("\n  {} (Python ", wheel.display())),
            "{stderr}"
        );
    }
}

/// A directory of modules, a project and a wheel in one call, with the same `-f zip`; each
/// project reads its own `[tool.pyship]`.
#[test]
fn every_input_kind_builds_in_one_call_each_with_its_own_tool_table() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let (_flat_dir, flat) = copy_fixture("flat");
    let stripped = project(temp.path(), "stripped", "strip-sources = true");
    let plain = project(temp.path(), "plain", "");
    let wheeled = project(temp.path(), "wheeled", "");
    let wheel = Pyship::build(&wheeled)
        .out(&temp.path().join("wheels"))
        .python(&python)
        .artifact();
    let out = temp.path().join("out");
    let output = Pyship::build(&flat)
        .arg(&stripped)
        .arg(&plain)
        .arg(&wheel)
        .out(&out)
        .python(&python)
        .args(["-f", "zip"])
        .succeeds();
    let built: Vec<PathBuf> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(PathBuf::from)
        .collect();
    let tag = format!("cp3{}", python.minor);
    assert_eq!(
        file_names(&built),
        [
            format!("flat-{tag}.zip"),
            format!("stripped-{tag}.zip"),
            format!("plain-{tag}.zip"),
            format!("wheeled-{tag}.zip"),
        ],
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(names(&built[0]).contains(&"app.py".to_owned()));
    // `strip-sources = true` of `stripped` only.
    let stripped_names = names(&built[1]);
    assert!(stripped_names.contains(&"stripped/__init__.pyc".to_owned()));
    assert!(!stripped_names.contains(&"stripped/__init__.py".to_owned()));
    assert!(names(&built[2]).contains(&"plain/__init__.py".to_owned()));
}

/// An error stops the call at that SOURCE and names it; what earlier SOURCEs built is written
/// and said.
#[test]
fn an_error_names_its_source() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let good = project(temp.path(), "good", "");
    let bad = temp.path().join("bad");
    copy_tree(&fixture("syntax_errors"), &bad);
    let out = temp.path().join("out");
    let output = Pyship::build(&good)
        .arg(&bad)
        .out(&out)
        .python(&python)
        .args(["-f", "zip"])
        .fails(1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains(&format!("in `{}`; nothing was written", bad.display())),
        "{stderr}"
    );
    let built = String::from_utf8_lossy(&output.stdout);
    assert!(
        built
            .trim()
            .ends_with(&format!("good-cp3{}.zip", python.minor)),
        "{built}"
    );

    // A later SOURCE whose artifact has an earlier one's name: refused, not overwritten.
    let wheel = Pyship::build(&good)
        .out(&temp.path().join("wheels"))
        .python(&python)
        .artifact();
    let clash = temp.path().join("clash");
    let output = Pyship::build(&good)
        .arg(&wheel)
        .out(&clash)
        .python(&python)
        .args(["-f", "zip"])
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let error = stderr
        .lines()
        .skip_while(|line| !line.starts_with("error:"))
        .collect::<Vec<_>>();
    assert!(
        error[0].starts_with(&format!(
            "error: `{}`: Two artifacts of this build would both be written to",
            wheel.display()
        )),
        "{stderr}"
    );
    assert!(error[1].starts_with("hint: "), "{stderr}");
    assert_eq!(
        std::fs::read_dir(&clash).unwrap().count(),
        1,
        "the first SOURCE's zip alone"
    );

    // An error other than a syntax error: `` error: `SOURCE`: … ``.
    let missing = temp.path().join("missing");
    let output = Pyship::build(&good)
        .arg(&missing)
        .out(&out)
        .python(&python)
        .args(["-f", "zip"])
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with(&format!("error: `{}`: ", missing.display())),
        "{stderr}"
    );
}
