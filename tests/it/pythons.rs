//! `pyship pythons` and how `-p` finds a target: PATH, pyenv and uv's managed Pythons, the
//! default marked, versions outside the supported range refused by name.

use std::path::{Path, PathBuf};

use crate::common::{Pyship, Python, copy_fixture, pythons};

/// What the interpreter says of itself, as `pythons --json` should report it.
fn facts(python: &Python, executable: &Path) -> serde_json::Value {
    let text = python.script(
        "import importlib.util, json, sys; print(json.dumps([\
         '%d.%d.%d' % sys.version_info[:3], \
         int.from_bytes(importlib.util.MAGIC_NUMBER[:2], 'little'), \
         sys.implementation.cache_tag]))",
        &[],
    );
    let [version, magic, tag]: [serde_json::Value; 3] =
        serde_json::from_str::<Vec<serde_json::Value>>(&text)
            .unwrap()
            .try_into()
            .unwrap();
    serde_json::json!({
        "version": version,
        "magic_number": magic,
        "cache_tag": tag,
        "executable": executable.to_str().unwrap(),
    })
}

/// `pyship ARGS` seeing only what `temp` holds: `temp/bin` as PATH, `temp/pyenv` as the pyenv
/// root, `temp/home` as HOME; uv's directory is left to the caller.
fn isolated(temp: &Path, args: &[&str]) -> Pyship {
    Pyship::new(args)
        .env("PATH", temp.join("bin"))
        .env("PYENV_ROOT", temp.join("pyenv"))
        .env("HOME", temp.join("home"))
        .env_remove("UV_PYTHON_INSTALL_DIR")
        .env_remove("XDG_DATA_HOME")
}

fn symlink(target: &Path, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// A uv-managed install as uv lays it out, its executable a link to `python`.
fn fake_uv_install(uv_dir: &Path, python: &Python) -> PathBuf {
    let version = python
        .script("import sys; print('%d.%d.%d' % sys.version_info[:3])", &[])
        .trim()
        .to_owned();
    let executable = uv_dir
        .join(format!("cpython-{version}-linux-x86_64-gnu"))
        .join("bin")
        .join(format!("python3.{}", python.minor));
    symlink(&python.path, &executable);
    // uv's own files beside the installs, and another implementation: not CPython installs.
    std::fs::create_dir_all(uv_dir.join(".cache")).unwrap();
    std::fs::write(uv_dir.join(".lock"), "").unwrap();
    symlink(
        &python.path,
        &uv_dir.join(format!("pypy-{version}-linux-x86_64-gnu/bin/python3")),
    );
    executable
}

fn json(output: &std::process::Output) -> Vec<serde_json::Value> {
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn pythons_finds_uv_managed_pythons_and_marks_the_default() {
    let found = pythons();
    let [.., older, newer] = found.as_slice() else {
        eprintln!("note: needs two CPythons; skipped");
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    // `python3` on PATH: the default.
    let path_python = temp.path().join("bin").join("python3");
    symlink(&newer.path, &path_python);
    let expected = |uv_python: &Path| {
        let mut newer_entry = facts(newer, &path_python);
        newer_entry["source"] = "path".into();
        newer_entry["default"] = true.into();
        let mut older_entry = facts(older, uv_python);
        older_entry["source"] = "uv".into();
        older_entry["default"] = false.into();
        vec![newer_entry, older_entry]
    };

    // UV_PYTHON_INSTALL_DIR, else $XDG_DATA_HOME/uv/python, else ~/.local/share/uv/python: an
    // install in each, and only the first that is set is read.
    let uv_dir = temp.path().join("uv-pythons");
    let uv_python = fake_uv_install(&uv_dir, older);
    let xdg = temp.path().join("data");
    let xdg_python = fake_uv_install(&xdg.join("uv/python"), older);
    let home_python = fake_uv_install(&temp.path().join("home/.local/share/uv/python"), older);
    for (variables, uv_python) in [
        (
            &[("UV_PYTHON_INSTALL_DIR", &uv_dir), ("XDG_DATA_HOME", &xdg)][..],
            &uv_python,
        ),
        (&[("XDG_DATA_HOME", &xdg)][..], &xdg_python),
        (&[][..], &home_python),
    ] {
        let output = variables
            .iter()
            .fold(
                isolated(temp.path(), &["pythons", "--json"]),
                |command, (key, value)| command.env(key, value),
            )
            .context(format!("{variables:?}"))
            .succeeds();
        assert_eq!(json(&output), expected(uv_python), "{variables:?}");
    }

    // The text form: the default starred, each line naming its source.
    let output = isolated(temp.path(), &["pythons"])
        .env("UV_PYTHON_INSTALL_DIR", &uv_dir)
        .succeeds();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("* ")
            && lines[0].contains(" path ")
            && lines[0].ends_with(path_python.to_str().unwrap()),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("  ")
            && lines[1].contains(" uv ")
            && lines[1].ends_with(uv_python.to_str().unwrap()),
        "{stdout}"
    );

    // `-p 3.X` finds the uv-managed one (it is nowhere else here).
    let (_project_temp, project) = copy_fixture("flat");
    let out = temp.path().join("out");
    let artifacts = isolated(temp.path(), &[])
        .env("UV_PYTHON_INSTALL_DIR", &uv_dir)
        .arg("build")
        .arg(&project)
        .out(&out)
        .args(["-f", "zip", "-p", &older.version()])
        .artifacts();
    assert_eq!(
        artifacts,
        [out.join(format!("flat-cp3{}.zip", older.minor))]
    );
}

#[test]
fn a_default_behind_a_shim_is_listed_and_marked() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    // A pyenv-style shim: a script on PATH, skipped when listing, that runs the real one.
    let shims = temp.path().join("pyenv").join("shims");
    std::fs::create_dir_all(&shims).unwrap();
    let shim = shims.join("python3");
    std::fs::write(
        &shim,
        format!("#!/bin/sh\nexec '{}' \"$@\"\n", python.path.display()),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let output = isolated(temp.path(), &["pythons", "--json"])
        .env("PATH", &shims)
        .succeeds();
    let mut entry = facts(&python, &python.path);
    entry["source"] = "path".into();
    entry["default"] = true.into();
    assert_eq!(json(&output), [entry]);
}

#[test]
fn versions_outside_the_supported_range_are_refused_by_name() {
    let (temp, project) = copy_fixture("flat");
    let out = temp.path().join("out");
    // pyenv here may well hold 2.7 and 3.7: being installed does not make them targets.
    for (spec, expected) in [
        (
            "2.7",
            "error: Python 2 is not supported: pyship targets CPython 3.8 to 3.14",
        ),
        (
            "python2.7",
            "error: Python 2 is not supported: pyship targets CPython 3.8 to 3.14",
        ),
        (
            "3.7",
            "error: Python 3.7 is below the supported range, CPython 3.8 to 3.14",
        ),
        (
            "3.99",
            "error: Python 3.99 is above the supported range, CPython 3.8 to 3.14",
        ),
    ] {
        for command in [
            Pyship::build(&project).out(&out),
            Pyship::compile().arg(&project),
        ] {
            let output = command.args(["-p", spec]).context(spec).fails(2);
            assert_eq!(
                String::from_utf8_lossy(&output.stderr),
                format!(
                    "{expected}\nhint: `pyship pythons` lists the interpreters pyship can target\n"
                ),
                "{spec}"
            );
        }
        assert!(!out.exists());
    }
    // Nothing was compiled in place either.
    assert!(!project.join("__pycache__").exists());
}

#[test]
fn a_version_found_nowhere_names_every_place_looked() {
    let temp = tempfile::tempdir().unwrap();
    let (_project_temp, project) = copy_fixture("flat");
    let output = isolated(temp.path(), &[])
        .env("UV_PYTHON_INSTALL_DIR", temp.path().join("uv"))
        .arg("build")
        .arg(&project)
        .args(["-p", "3.12"])
        .fails(2);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: No Python interpreter found for `3.12` (looked on PATH, in pyenv and among uv's Pythons)\n\
         hint: `pyship pythons` lists the interpreters found; `-p` also takes a path\n"
    );
}
