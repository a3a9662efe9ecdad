//! Metadata in bundles and wheels (SPEC §6): the project's own `.dist-info` in dir, zip and
//! zipapp bundles, dependencies' `.dist-info` trimmed to what `importlib.metadata` reads, and
//! PEP 639 license fields that pip, `importlib.metadata` and `packaging` read.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::common::{Pyship, Python, assert_stderr_contains, copy_fixture, pythons};
use crate::wheel::{install, venv};
use crate::zipapp::{build_with_deps, members, stdout_of, write_dep_wheel};

/// app_with_dep's pyproject with an SPDX license, a license file, a readme and a plugin group.
const PYPROJECT: &str = r#"[project]
name = "app_with_dep"
version = "0.1.0"
description = "A console script that needs dep_pkg"
readme = "README.md"
license = "MIT"
license-files = ["LICENSE"]
requires-python = ">=3.8"
dependencies = ["dep_pkg>=1.0"]

[project.scripts]
app-with-dep = "app_with_dep.cli:main"

[project.entry-points."app.plugins"]
about = "app_with_dep.about:main"
"#;

/// Prints what `importlib.metadata` finds of the app and its dependency (3.8's API).
const ABOUT: &str = r#"
from importlib.metadata import distribution, metadata, version

def main():
    for name in ("app_with_dep", "dep_pkg"):
        points = sorted((ep.group, ep.name, ep.value) for ep in distribution(name).entry_points)
        print(name, version(name), metadata(name)["Summary"], metadata(name)["License-Expression"], points)
    return 0
"#;

/// What [`ABOUT`] prints when both dist-infos are there.
const EXPECTED: &str = "app_with_dep 0.1.0 A console script that needs dep_pkg MIT [('app.plugins', 'about', 'app_with_dep.about:main'), ('console_scripts', 'app-with-dep', 'app_with_dep.cli:main')]\n\
dep_pkg 1.0 A tiny dependency None [('dep_pkg.plugins', 'hello', 'dep_pkg:greet')]\n";

const DEP_METADATA: &[u8] = b"Metadata-Version: 2.1\nName: dep_pkg\nVersion: 1.0\nSummary: A tiny dependency\nDescription-Content-Type: text/markdown\n\n# dep_pkg\n\nA long description for the index.\n";

/// The files (not directory entries) in `.dist-info` directories among `files`.
fn dist_info_members<'a>(files: impl Iterator<Item = &'a String>) -> BTreeSet<String> {
    files
        .filter(|name| {
            !name.ends_with('/')
                && name
                    .split_once('/')
                    .is_some_and(|(dir, _)| dir.ends_with(".dist-info"))
        })
        .cloned()
        .collect()
}

/// Every file under `dir`, relative and `/`-separated.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap();
                found.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found
}

/// app_with_dep with [`PYPROJECT`], [`ABOUT`] and a dependency wheel with entry points, a
/// top-level list, a license and a long description (pip adds INSTALLER and REQUESTED).
fn project() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let (temp, project) = copy_fixture("app_with_dep");
    std::fs::write(project.join("pyproject.toml"), PYPROJECT).unwrap();
    std::fs::write(
        project.join("README.md"),
        "# app\n\nThe app's long description.\n",
    )
    .unwrap();
    std::fs::write(project.join("LICENSE"), "MIT License\n").unwrap();
    std::fs::write(project.join("src/app_with_dep/about.py"), ABOUT).unwrap();
    let wheels = temp.path().join("wheels");
    write_dep_wheel(
        &wheels,
        DEP_METADATA,
        &[
            (
                "entry_points.txt",
                b"[dep_pkg.plugins]\nhello = dep_pkg:greet\n",
            ),
            ("top_level.txt", b"dep_pkg\n"),
            ("licenses/LICENSE", b"BSD\n"),
        ],
    );
    (temp, project, wheels)
}

#[test]
fn bundles_carry_the_projects_metadata_and_trimmed_dependency_metadata() {
    let app_info: BTreeSet<String> = [
        "app_with_dep-0.1.0.dist-info/METADATA",
        "app_with_dep-0.1.0.dist-info/entry_points.txt",
        "app_with_dep-0.1.0.dist-info/licenses/LICENSE",
        // How the bundle was built, for `pyship verify`.
        "app_with_dep-0.1.0.dist-info/pyship.json",
    ]
    .map(str::to_owned)
    .into();
    let dep_info: BTreeSet<String> = [
        "dep_pkg-1.0.dist-info/METADATA",
        "dep_pkg-1.0.dist-info/entry_points.txt",
        "dep_pkg-1.0.dist-info/licenses/LICENSE",
        "dep_pkg-1.0.dist-info/top_level.txt",
    ]
    .map(str::to_owned)
    .into();
    let expected_info: BTreeSet<String> = app_info.union(&dep_info).cloned().collect();
    for python in pythons() {
        let (temp, project, wheels) = project();
        let out = temp.path().join("out");
        // The zipapp runs `about` from inside itself.
        let pyz = build_with_deps(
            &project,
            &out,
            &python,
            &wheels,
            &[
                "-f",
                "zipapp",
                "--slim",
                "--strip-sources",
                "--main",
                "app_with_dep.about:main",
            ],
        );
        let files = members(&pyz);
        assert_eq!(dist_info_members(files.keys()), expected_info);
        // --slim: the headers stay, the long descriptions go.
        let slim_dep = String::from_utf8(files["dep_pkg-1.0.dist-info/METADATA"].clone()).unwrap();
        assert_eq!(
            slim_dep,
            "Metadata-Version: 2.1\nName: dep_pkg\nVersion: 1.0\nSummary: A tiny dependency\nDescription-Content-Type: text/markdown\n"
        );
        let slim_app =
            String::from_utf8(files["app_with_dep-0.1.0.dist-info/METADATA"].clone()).unwrap();
        assert!(slim_app.starts_with("Metadata-Version: 2.4\nName: app_with_dep\n"));
        assert!(!slim_app.contains("long description"), "{slim_app}");
        let output = Command::new(&python.path).arg(&pyz).output().unwrap();
        assert_eq!(stdout_of(&output, "running the zipapp"), EXPECTED);

        // zip and dir, from PYTHONPATH; without --slim the descriptions stay.
        let artifacts = Pyship::build(&project)
            .out(&out)
            .python(&python)
            .args([
                "--with-deps",
                "--pip-arg=--no-index",
                "-f",
                "zip",
                "-f",
                "dir",
            ])
            .arg(format!("--pip-arg=--find-links={}", wheels.display()))
            .artifacts();
        assert_eq!(artifacts.len(), 2, "{artifacts:?}");
        for artifact in &artifacts {
            let files: BTreeSet<String> = if artifact.is_dir() {
                tree(artifact)
            } else {
                members(artifact).into_keys().collect()
            };
            assert_eq!(
                dist_info_members(files.iter()),
                expected_info,
                "{}",
                artifact.display()
            );
            let output = Command::new(&python.path)
                .args(["-c", "import app_with_dep.about as a; a.main()"])
                .env("PYTHONPATH", artifact)
                .output()
                .unwrap();
            assert_eq!(
                stdout_of(&output, &format!("importing from {}", artifact.display())),
                EXPECTED
            );
        }
        let dir = artifacts.iter().find(|path| path.is_dir()).unwrap();
        let metadata = std::fs::read(dir.join("dep_pkg-1.0.dist-info/METADATA")).unwrap();
        assert_eq!(metadata, DEP_METADATA);
    }
}

#[test]
fn a_dynamic_version_leaves_the_dist_info_out_with_a_warning() {
    let python = &pythons()[0];
    let (temp, project) = copy_fixture("app_with_dep");
    let pyproject = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    let dynamic = pyproject.replace("version = \"0.1.0\"", "dynamic = [\"version\"]");
    assert_ne!(dynamic, pyproject);
    std::fs::write(project.join("pyproject.toml"), &dynamic).unwrap();
    let output = Pyship::build(&project)
        .out(&temp.path().join("out"))
        .python(python)
        .args(["-f", "zip"])
        .succeeds();
    assert_stderr_contains(
        &output,
        "warning: Bundles carry no `.dist-info` for `app_with_dep`: its version is dynamic (only its build backend knows it), so `importlib.metadata.version(\"app_with_dep\")` raises PackageNotFoundError inside them",
    );
    let zip = String::from_utf8(output.stdout).unwrap();
    let files = members(Path::new(zip.trim()));
    assert!(
        files.contains_key("app_with_dep/cli.py"),
        "{:?}",
        files.keys()
    );
    assert!(
        dist_info_members(files.keys()).is_empty(),
        "{:?}",
        files.keys()
    );

    // Another dynamic field: the dist-info is there, and the warning says what it lacks.
    let dynamic = pyproject.replace("description = ", "dynamic = [\"readme\"]\ndescription = ");
    std::fs::write(project.join("pyproject.toml"), &dynamic).unwrap();
    let output = Pyship::build(&project)
        .out(&temp.path().join("out2"))
        .python(python)
        .args(["-f", "dir"])
        .succeeds();
    assert_stderr_contains(
        &output,
        "warning: The `.dist-info` of `app_with_dep` in bundles leaves out its dynamic fields (`readme`): only the build backend knows them",
    );
    let dir = String::from_utf8(output.stdout).unwrap();
    let version = Command::new(&python.path)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('app_with_dep'))",
        ])
        .env("PYTHONPATH", dir.trim())
        .output()
        .unwrap();
    assert_eq!(stdout_of(&version, "version()"), "0.1.0\n");
}

/// Install `packaging` (new enough for Metadata-Version 2.4) into `dir` for `python`; the
/// reason when it cannot (no network and not in pip's cache).
fn install_packaging(python: &Python, dir: &Path) -> Result<(), String> {
    let output = Command::new(&python.path)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            "--timeout",
            "10",
            "--retries",
            "0",
            "--target",
        ])
        .arg(dir)
        .arg("packaging>=24.2")
        .output()
        .unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

#[test]
fn spdx_license_expressions_follow_pep_639_and_install_everywhere() {
    let all = pythons();
    for python in &all {
        let (temp, project) = copy_fixture("hello");
        let pyproject = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
        let pep_639 = pyproject.replace(
            "license-files = [\"LICEN[CS]E*\"]",
            "license = \"MIT OR Apache-2.0\"\nlicense-files = [\"LICEN[CS]E*\"]",
        );
        assert_ne!(pep_639, pyproject);
        std::fs::write(project.join("pyproject.toml"), pep_639).unwrap();
        let wheel = Pyship::build(&project)
            .out(&temp.path().join("out"))
            .python(python)
            .artifact();
        let files = members(&wheel);
        let metadata = &files["hello-0.1.0.dist-info/METADATA"];
        let env = temp.path().join("venv");
        let venv_python = venv(python, &env);
        let output = install(python, &env, &wheel);
        assert!(
            output.status.success(),
            "pip of {} refuses the 2.4 wheel:\n{}",
            python.version(),
            String::from_utf8_lossy(&output.stderr)
        );
        let output = Command::new(&venv_python)
            .args([
                "-c",
                "import importlib.metadata as m; d = m.metadata('hello'); print(d['Metadata-Version'], d['License-Expression'], d.get_all('License-File'), d['License'])",
            ])
            .output()
            .unwrap();
        assert_eq!(
            stdout_of(&output, "importlib.metadata"),
            "2.4 MIT OR Apache-2.0 ['LICENSE'] None\n"
        );

        if python.minor == all.last().unwrap().minor {
            let site = temp.path().join("packaging");
            if let Err(reason) = install_packaging(python, &site) {
                eprintln!(
                    "SKIPPED: packaging.metadata check, `pip install packaging` failed: {reason}"
                );
                continue;
            }
            let path = temp.path().join("METADATA");
            std::fs::write(&path, metadata).unwrap();
            let code = format!(
                "from packaging.metadata import Metadata\n\
                 m = Metadata.from_email(open({:?}, 'rb').read(), validate=True)\n\
                 print(m.metadata_version, m.license_expression, m.license_files)",
                path.to_str().unwrap()
            );
            let output = Command::new(&python.path)
                .args(["-c", &code])
                .env("PYTHONPATH", &site)
                .output()
                .unwrap();
            assert_eq!(
                stdout_of(&output, "packaging.metadata"),
                "2.4 MIT OR Apache-2.0 ['LICENSE']\n"
            );
        }
    }
}
