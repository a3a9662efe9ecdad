//! `--format zipapp`, `--with-deps`, `--extract`, `--slim` and `--report`, with every CPython
//! 3.8+ found. The dependency is `fixtures/dep_pkg`, turned into a local wheel by hand (no
//! setuptools needed) and installed by the target's own pip with `--no-index`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::common::{Pyship, Python, assert_stderr_contains, copy_fixture, fixture, pythons};

/// Write `fixtures/dep_pkg` as `dep_pkg-1.0-py3-none-any.whl` into `dir` (PEP 427).
pub fn build_dep_wheel(dir: &Path) -> PathBuf {
    write_dep_wheel(
        dir,
        b"Metadata-Version: 2.1\nName: dep_pkg\nVersion: 1.0\n",
        &[],
    )
}

/// [`build_dep_wheel`] with `metadata` as METADATA and `extra` files (relative to the
/// `.dist-info`) besides.
pub fn write_dep_wheel(dir: &Path, metadata: &[u8], extra: &[(&str, &[u8])]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for name in ["__init__.py", "helpers.py"] {
        let bytes = std::fs::read(fixture("dep_pkg").join("dep_pkg").join(name)).unwrap();
        files.push((format!("dep_pkg/{name}"), bytes));
    }
    let info = "dep_pkg-1.0.dist-info";
    files.push((format!("{info}/METADATA"), metadata.to_vec()));
    for (name, bytes) in extra {
        files.push((format!("{info}/{name}"), bytes.to_vec()));
    }
    files.push((
        format!("{info}/WHEEL"),
        b"Wheel-Version: 1.0\nGenerator: pyship-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            .to_vec(),
    ));
    let mut record = String::new();
    for (name, bytes) in &files {
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes));
        writeln!(record, "{name},sha256={hash},{}", bytes.len()).unwrap();
    }
    writeln!(record, "{info}/RECORD,,").unwrap();
    files.push((format!("{info}/RECORD"), record.into_bytes()));
    let path = dir.join("dep_pkg-1.0-py3-none-any.whl");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (name, bytes) in files {
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(&bytes).unwrap();
    }
    writer.finish().unwrap();
    path
}

/// `pyship build PROJECT -o OUT -p PY EXTRA...`
fn build_command(project: &Path, out: &Path, python: &Python, extra: &[&str]) -> Pyship {
    Pyship::build(project).out(out).python(python).args(extra)
}

/// Build, expecting success; returns the one artifact printed.
fn build(project: &Path, out: &Path, python: &Python, extra: &[&str]) -> PathBuf {
    build_command(project, out, python, extra).artifact()
}

/// Build with the dependency wheel in `wheels` as the only package index.
pub fn build_with_deps(
    project: &Path,
    out: &Path,
    python: &Python,
    wheels: &Path,
    extra: &[&str],
) -> PathBuf {
    let find_links = format!("--pip-arg=--find-links={}", wheels.display());
    let mut args = vec!["--with-deps", "--pip-arg=--no-index", &find_links];
    args.extend(extra);
    build(project, out, python, &args)
}

/// Archive member names → bytes (the zip crate skips a zipapp's shebang).
pub fn members(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        files.insert(entry.name().to_owned(), bytes);
    }
    files
}

fn run(python: &Python, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(&python.path);
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

pub fn stdout_of(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

const EXPECTED: &str = "Hello, Ada, from dep_pkg!\ndep_pkg version 1.0\nbytecode True True\n";

#[test]
fn zipapp_with_deps_runs_from_bytecode_on_every_python() {
    let all = pythons();
    for (position, python) in all.iter().enumerate() {
        let (temp, project) = copy_fixture("app_with_dep");
        let wheels = temp.path().join("wheels");
        build_dep_wheel(&wheels);
        let report = temp.path().join("report.json");
        let pyz = build_with_deps(
            &project,
            &temp.path().join("out"),
            python,
            &wheels,
            &[
                "-f",
                "zipapp",
                "--strip-sources",
                "--report",
                report.to_str().unwrap(),
            ],
        );
        assert!(
            pyz.ends_with(format!("app_with_dep-cp3{}.pyz", python.minor)),
            "{}",
            pyz.display()
        );

        // Shebang, executable bit, and only bytecode besides the stub.
        let bytes = std::fs::read(&pyz).unwrap();
        let shebang = format!("#!/usr/bin/env python3.{}\n", python.minor);
        assert!(bytes.starts_with(shebang.as_bytes()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&pyz).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        let files = members(&pyz);
        let sources: Vec<&String> = files.keys().filter(|name| name.ends_with(".py")).collect();
        assert_eq!(sources, ["__main__.py"], "{:?}", files.keys());
        for name in [
            "app_with_dep/cli.pyc",
            "dep_pkg/__init__.pyc",
            "dep_pkg/helpers.pyc",
            "dep_pkg-1.0.dist-info/METADATA",
        ] {
            assert!(
                files.contains_key(name),
                "{name} missing: {:?}",
                files.keys()
            );
        }
        assert!(!files.keys().any(|name| name.starts_with("bin/")));

        // `python3.X app.pyz` runs the console script from the archive's pycs.
        let output = run(python, &[pyz.to_str().unwrap(), "Ada"], &[]);
        assert_eq!(stdout_of(&output, "running the zipapp"), EXPECTED);

        // Executed directly, the shebang finds python3.X on PATH.
        #[cfg(unix)]
        {
            let bin = python.path.parent().unwrap();
            let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
            let output = Command::new(&pyz)
                .arg("Ada")
                .env("PATH", path)
                .output()
                .unwrap();
            assert_eq!(stdout_of(&output, "executing the zipapp"), EXPECTED);
        }

        // Another version refuses with one clear line.
        if let Some(other) = all.get(usize::from(position == 0)) {
            let output = run(other, &[pyz.to_str().unwrap()], &[]);
            assert_eq!(output.status.code(), Some(1));
            let stderr = String::from_utf8(output.stderr).unwrap();
            assert_eq!(
                stderr,
                format!(
                    "error: {} was built for Python {} but is running on Python {}\n",
                    pyz.display(),
                    python.version(),
                    other.version()
                )
            );
        }

        // The report parses and has per-package sizes.
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        let bundle = &json["bundles"][0];
        assert_eq!(bundle["python"], python.version());
        let packages: BTreeMap<&str, &serde_json::Value> = bundle["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|package| (package["name"].as_str().unwrap(), package))
            .collect();
        for name in ["app_with_dep", "dep_pkg"] {
            let package = packages[name];
            assert!(package["source_bytes"].as_u64().unwrap() > 0, "{package}");
            assert!(package["shipped_bytes"].as_u64().unwrap() > 0, "{package}");
            assert!(
                package["stripped_source_bytes"].as_u64().unwrap() > 0,
                "{package}"
            );
        }
        // dep_pkg is modules only, all stripped; app_with_dep also carries data files.
        assert_eq!(
            packages["dep_pkg"]["stripped_source_bytes"],
            packages["dep_pkg"]["source_bytes"]
        );
        assert!(
            packages["dep_pkg-1.0.dist-info"]["shipped_bytes"]
                .as_u64()
                .unwrap()
                > 0
        );
        assert_eq!(json["artifacts"][0]["format"], "zipapp");

        // A second build, with a second pip run, gives the same bytes.
        let again = build_with_deps(
            &project,
            &temp.path().join("again"),
            python,
            &wheels,
            &["-f", "zipapp", "--strip-sources"],
        );
        assert!(
            std::fs::read(&again).unwrap() == bytes,
            "zipapp for Python {} is not reproducible",
            python.version()
        );
    }
}

/// Import the app from `path` on `PYTHONPATH` with source compilation forbidden, and run it.
const RUN_GUARDED: &str = "
import builtins, sys
real_compile = builtins.compile
def guard(source, filename, *args, **kwargs):
    # typing compiles forward references from '<string>'; a module's file is never '<...>'.
    if not str(filename).startswith('<'):
        raise RuntimeError('compiled from source: %s' % (filename,))
    return real_compile(source, filename, *args, **kwargs)
builtins.compile = guard
sys.argv[1:] = ['Ada']
import app_with_dep.cli
sys.exit(app_with_dep.cli.main())
";

#[test]
fn zip_and_dir_with_deps_work_on_pythonpath() {
    for python in pythons() {
        let (temp, project) = copy_fixture("app_with_dep");
        let wheels = temp.path().join("wheels");
        build_dep_wheel(&wheels);
        let out = temp.path().join("out");
        let zip = build_with_deps(&project, &out, &python, &wheels, &["-f", "zip"]);
        let dir = build_with_deps(&project, &out, &python, &wheels, &["-f", "dir"]);
        assert!(zip.to_string_lossy().ends_with(".zip"));
        let files = members(&zip);
        // Beside sources: zipimport reads `X.pyc` next to `X.py`.
        assert!(files.contains_key("dep_pkg/__init__.py"));
        assert!(files.contains_key("dep_pkg/__init__.pyc"));
        assert!(files.contains_key("dep_pkg-1.0.dist-info/METADATA"));
        // zipimport reports the `.pyc` it loaded as `__file__`; the path finder reports the
        // `.py` even when it loads the cached pyc. The compile guard proves bytecode ran.
        let plain = run(
            &python,
            &["-B", "-c", RUN_GUARDED],
            &[("PYTHONPATH", project.join("src").as_path())],
        );
        assert!(
            String::from_utf8_lossy(&plain.stderr).contains("compiled from source"),
            "the guard must catch a source import"
        );
        for (path, bytecode) in [(&zip, "True True"), (&dir, "False False")] {
            let output = run(
                &python,
                &["-B", "-c", RUN_GUARDED],
                &[("PYTHONPATH", path.as_path())],
            );
            let stdout = stdout_of(&output, &format!("importing from {}", path.display()));
            assert_eq!(
                stdout,
                format!("Hello, Ada, from dep_pkg!\ndep_pkg version 1.0\nbytecode {bytecode}\n")
            );
        }
    }
}

const NATIVE_C: &str = r#"
#include <Python.h>

static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }

static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, "The answer."}, {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
"#;

/// Compile `_native` for `python` into `package`; `None` (with the reason printed) when the
/// headers or a C compiler are missing.
fn compile_native(python: &Python, package: &Path) -> Option<PathBuf> {
    let facts = python.script(
        "import sysconfig; print(sysconfig.get_paths()['include']); print(sysconfig.get_config_var('EXT_SUFFIX'))",
        &[],
    );
    let mut lines = facts.lines();
    let include = PathBuf::from(lines.next().unwrap());
    let suffix = lines.next().unwrap().to_owned();
    if !include.join("Python.h").is_file() {
        eprintln!(
            "note: skipping the native extension test for Python {}: no Python.h in {}",
            python.version(),
            include.display()
        );
        return None;
    }
    let source = package.join("_native.c");
    std::fs::write(&source, NATIVE_C).unwrap();
    let target = package.join(format!("_native{suffix}"));
    let Ok(output) = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-I"])
        .arg(&include)
        .arg(&source)
        .arg("-o")
        .arg(&target)
        .output()
    else {
        eprintln!("note: skipping the native extension test: no `cc`");
        return None;
    };
    assert!(
        output.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_file(&source).unwrap();
    Some(target)
}

#[test]
fn extract_runs_a_native_extension_and_zips_refuse_one() {
    for python in pythons() {
        let (temp, project) = copy_fixture("app_with_dep");
        let package = project.join("src").join("app_with_dep");
        if compile_native(&python, &package).is_none() {
            continue;
        }
        let out = temp.path().join("out");
        let main = ["--main", "app_with_dep.native_cli:main", "--strip-sources"];

        for format in ["zipapp", "zip"] {
            let mut args = vec!["-f", format];
            args.extend(main);
            let output = build_command(&project, &out, &python, &args).fails(2);
            let stderr = String::from_utf8(output.stderr).unwrap();
            assert!(
                stderr.starts_with("error: Native extension `app_with_dep/_native."),
                "{stderr}"
            );
            if format == "zipapp" {
                assert!(stderr.contains("`--extract`"), "{stderr}");
            }
        }
        assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());

        let mut args = vec!["-f", "zipapp", "--extract"];
        args.extend(main);
        let pyz = build(&project, &out, &python, &args);
        let cache = temp.path().join("cache");
        // Concurrent first runs: every one succeeds, one unpacked copy remains.
        let children: Vec<_> = (0..4)
            .map(|_| {
                Command::new(&python.path)
                    .arg(&pyz)
                    .env("XDG_CACHE_HOME", &cache)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert_eq!(
                stdout_of(&output, "running the extracting zipapp"),
                "native says 42\nbytecode True\n"
            );
        }
        let apps: Vec<PathBuf> = std::fs::read_dir(cache.join("pyship").join("apps"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(apps.len(), 1, "{apps:?}");
        assert!(
            apps[0]
                .join("app_with_dep")
                .join("native_cli.pyc")
                .is_file()
        );
        // Keeping sources, the unpacked tree must still run from the shipped bytecode: run the
        // zipapp with source compilation forbidden for everything but the stub itself.
        let beside = build(
            &project,
            &temp.path().join("beside"),
            &python,
            &[
                "-f",
                "zipapp",
                "--extract",
                "--main",
                "app_with_dep.native_cli:main",
            ],
        );
        let guard = "import builtins, runpy, sys\n\
                     real = builtins.compile\n\
                     def guard(source, filename, *args, **kwargs):\n\
                     \x20   if not str(filename).endswith('__main__.py'):\n\
                     \x20       raise RuntimeError('compiled from source: %s' % filename)\n\
                     \x20   return real(source, filename, *args, **kwargs)\n\
                     builtins.compile = guard\n\
                     sys.argv = [sys.argv[1]]\n\
                     runpy.run_path(sys.argv[0], run_name='__main__')\n";
        let output = run(
            &python,
            &["-B", "-c", guard, beside.to_str().unwrap()],
            &[("XDG_CACHE_HOME", &temp.path().join("beside-cache"))],
        );
        assert!(
            stdout_of(&output, "running an extracting zipapp with sources")
                .starts_with("native says 42\n")
        );

        // Cached: a later run uses the unpacked copy.
        let output = run(
            &python,
            &[pyz.to_str().unwrap()],
            &[("XDG_CACHE_HOME", &cache)],
        );
        assert_eq!(
            stdout_of(&output, "running from the cache"),
            "native says 42\nbytecode True\n"
        );
    }
}

#[test]
fn slim_drops_tests_docs_stubs_and_markers() {
    let Some(python) = pythons().into_iter().last() else {
        return;
    };
    let (temp, project) = copy_fixture("app_with_dep");
    let full = members(&build(
        &project,
        &temp.path().join("full"),
        &python,
        &["-f", "zipapp"],
    ));
    let slim = members(&build(
        &project,
        &temp.path().join("slim"),
        &python,
        &["-f", "zipapp", "--slim"],
    ));
    let dropped = [
        "app_with_dep/tests/test_cli.py",
        "app_with_dep/conftest.py",
        "app_with_dep/cli_test.py",
        "app_with_dep/docs/index.md",
        "app_with_dep/cli.pyi",
        "app_with_dep/py.typed",
    ];
    for name in dropped {
        assert!(full.contains_key(name), "{name} not in the full build");
        assert!(!slim.contains_key(name), "{name} survived --slim");
    }
    for name in [
        "app_with_dep/cli.pyc",
        "app_with_dep/native_cli.py",
        "__main__.py",
    ] {
        assert!(slim.contains_key(name), "{name} dropped by --slim");
    }
}

#[test]
fn entry_point_from_project_main_and_clear_errors() {
    let Some(python) = pythons().into_iter().last() else {
        return;
    };
    // A top-level `__main__.py` is shipped under another name and run through runpy.
    let temp = tempfile::tempdir().unwrap();
    let project = temp.path().join("tool");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("__main__.py"),
        "import sys\nprint('main', __name__, __file__.endswith('.pyc'), sys.argv[1:])\n",
    )
    .unwrap();
    let pyz = build(
        &project,
        &temp.path().join("out"),
        &python,
        &["-f", "zipapp", "--strip-sources"],
    );
    assert!(members(&pyz).contains_key("__pyship_main__.pyc"));
    let output = run(&python, &[pyz.to_str().unwrap(), "x"], &[]);
    assert_eq!(
        stdout_of(&output, "running __main__"),
        "main __main__ True ['x']\n"
    );

    // No entry point at all.
    std::fs::remove_file(project.join("__main__.py")).unwrap();
    std::fs::write(project.join("lib.py"), "").unwrap();
    let output = build_command(
        &project,
        &temp.path().join("out"),
        &python,
        &["-f", "zipapp"],
    )
    .fails(2);
    assert_stderr_contains(&output, "pass `--main module:function`");

    // Several scripts are ambiguous.
    std::fs::write(
        project.join("pyproject.toml"),
        "[project]\nname = \"tool\"\nversion = \"1\"\n[project.scripts]\na = \"lib:a\"\nb = \"lib:b\"\n",
    )
    .unwrap();
    let output = build_command(
        &project,
        &temp.path().join("out"),
        &python,
        &["-f", "zipapp"],
    )
    .fails(2);
    assert_stderr_contains(
        &output,
        "Several console scripts could be the zipapp's entry point (`a` = `lib:a`, `b` = `lib:b`)",
    );
}

#[test]
fn pip_failure_is_one_clear_error() {
    let Some(python) = pythons().into_iter().last() else {
        return;
    };
    let (temp, project) = copy_fixture("app_with_dep");
    let output = build_command(
        &project,
        &temp.path().join("out"),
        &python,
        &["-f", "zipapp", "--with-deps", "--pip-arg=--no-index"],
    )
    .fails(2);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: `") && stderr.contains("-m pip install` failed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("dep_pkg"),
        "pip's own message is quoted: {stderr}"
    );
    assert!(!temp.path().join("out").exists());

    // Dynamic dependencies cannot be installed: one line, before pip runs.
    let pyproject = project.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    let start = text.find("dependencies").unwrap();
    let end = start + text[start..].find(']').unwrap() + 1;
    let text = format!(
        "{}dynamic = [\"dependencies\"]{}",
        &text[..start],
        &text[end..]
    );
    std::fs::write(&pyproject, text).unwrap();
    let output = build_command(
        &project,
        &temp.path().join("out"),
        &python,
        &["-f", "zipapp", "--with-deps"],
    )
    .fails(2);
    assert_stderr_contains(
        &output,
        "`--with-deps` needs static `[project.dependencies]`",
    );
    assert_stderr_contains(
        &output,
        "hint: name the file that lists them with `-r requirements.txt`",
    );
    assert!(!temp.path().join("out").exists());
}

/// `app_with_dep` with its `dependencies` line taken out: like an app (httpie) that declares
/// none in pyproject.toml.
fn app_without_declared_dependencies() -> (tempfile::TempDir, PathBuf) {
    let (temp, project) = copy_fixture("app_with_dep");
    let pyproject = project.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    let text: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("dependencies"))
        .collect();
    let text = text.join("\n") + "\n";
    std::fs::write(&pyproject, text).unwrap();
    (temp, project)
}

#[test]
fn with_deps_installs_requirements_files() {
    let Some(python) = pythons().into_iter().last() else {
        return;
    };
    let (temp, project) = app_without_declared_dependencies();
    let wheels = temp.path().join("wheels");
    build_dep_wheel(&wheels);
    std::fs::write(project.join("requirements.txt"), "dep_pkg>=1.0\n").unwrap();
    let check = |pyz: &Path| {
        let output = run(&python, &[pyz.to_str().unwrap(), "Ada"], &[]);
        assert!(
            stdout_of(&output, "the zipapp").starts_with("Hello, Ada, from dep_pkg!"),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
    };
    // On the command line, relative to the working directory as pip's own `-r`.
    let out = temp.path().join("out");
    let find_links = format!("--pip-arg=--find-links={}", wheels.display());
    let pyz = build_command(
        &project,
        &out,
        &python,
        &[
            "-f",
            "zipapp",
            "--with-deps",
            "-r",
            "requirements.txt",
            "--pip-arg=--no-index",
            &find_links,
        ],
    )
    .current_dir(&project)
    .artifact();
    check(&pyz);
    std::fs::remove_dir_all(&out).unwrap();

    // In `[tool.pyship]`, relative to the project.
    let pyproject = project.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(
        &pyproject,
        format!("{text}\n[tool.pyship]\nrequirement = \"requirements.txt\"\n"),
    )
    .unwrap();
    let pyz = build_with_deps(&project, &out, &python, &wheels, &["-f", "zipapp"]);
    check(&pyz);
    std::fs::remove_dir_all(&out).unwrap();

    // One outside the project is refused, before pip reads it.
    std::fs::write(temp.path().join("host.txt"), "dep_pkg\n").unwrap();
    std::fs::write(
        &pyproject,
        format!("{text}\n[tool.pyship]\nrequirement = [\"requirements.txt\", \"../host.txt\"]\n"),
    )
    .unwrap();
    let output = build_command(&project, &out, &python, &["-f", "zipapp", "--with-deps"]).fails(2);
    assert_stderr_contains(
        &output,
        "error: `tool.pyship.requirement` points outside the project: `../host.txt`",
    );
    // A missing file on the command line is named.
    std::fs::write(&pyproject, &text).unwrap();
    let output = build_command(
        &project,
        &out,
        &python,
        &["-f", "zipapp", "--with-deps", "-r", "nope.txt"],
    )
    .fails(2);
    assert_stderr_contains(
        &output,
        "error: Requirements file `nope.txt` does not exist",
    );
    assert!(!out.exists());
}

#[test]
fn with_deps_with_nothing_to_install_is_an_error_with_a_hint() {
    let Some(python) = pythons().into_iter().last() else {
        return;
    };
    let (temp, project) = app_without_declared_dependencies();
    let out = temp.path().join("out");
    let output = build_command(&project, &out, &python, &["-f", "zipapp", "--with-deps"]).fails(2);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.replace(&project.display().to_string(), "[PROJECT]"),
        "error: `--with-deps` has nothing to install: `[PROJECT]` declares no `[project.dependencies]` and no `-r/--requirement` file is given\n\
         hint: name the file that lists them with `-r requirements.txt` (repeatable; `requirement` in `[tool.pyship]`)\n"
    );
    assert!(!out.exists());
}

#[test]
fn with_deps_and_a_wheel_warns_that_a_wheel_declares_its_dependencies() {
    let Some(python) = pythons().into_iter().last() else {
        return;
    };
    let (temp, project) = copy_fixture("app_with_dep");
    let out = temp.path().join("out");
    // No index is reachable: a wheel alone needs no dependency installed.
    let output = build_command(
        &project,
        &out,
        &python,
        &["-f", "wheel", "--with-deps", "--pip-arg=--no-index"],
    )
    .succeeds();
    assert_stderr_contains(
        &output,
        "warning: `--with-deps` does not apply to a wheel: it declares its dependencies instead of carrying them",
    );
    let output = build_command(&project, &out, &python, &["-f", "wheel"]).succeeds();
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("warning:"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Among several targets, a target whose pip fails is named in the one `error:` line: the
/// dependency is offered only for the first target (a `cp3X` wheel), so the second fails.
#[test]
fn a_pip_failure_of_one_target_names_its_python() {
    let found = pythons();
    let [.., older, newer] = found.as_slice() else {
        eprintln!("note: needs two CPythons; skipped");
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let built = build_dep_wheel(&temp.path().join("built"));
    let wheels = temp.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    std::fs::copy(
        &built,
        wheels.join(format!("dep_pkg-1.0-cp3{}-none-any.whl", newer.minor)),
    )
    .unwrap();
    let (_project_dir, project) = copy_fixture("app_with_dep");
    let out = temp.path().join("out");
    let find_links = format!("--pip-arg=--find-links={}", wheels.display());
    let output = Pyship::build(&project)
        .out(&out)
        .python(newer)
        .python(older)
        .args([
            "-f",
            "zip",
            "--with-deps",
            "--pip-arg=--no-index",
            &find_links,
        ])
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with(&format!("error: Python 3.{}: ", older.minor)),
        "{stderr}"
    );
    assert!(!out.exists(), "out-dir left behind");
}

/// The sources an artifact carries, in the summary and `--report`, include its dependencies'.
#[test]
fn an_artifacts_source_size_counts_its_dependencies() {
    let Some(python) = pythons().into_iter().last() else {
        return;
    };
    let (temp, project) = copy_fixture("app_with_dep");
    let wheels = temp.path().join("wheels");
    build_dep_wheel(&wheels);
    let report = temp.path().join("report.json");
    let report_arg = format!("--report={}", report.display());
    build_with_deps(
        &project,
        &temp.path().join("out"),
        &python,
        &wheels,
        &["-f", "zip", &report_arg],
    );
    let sizes = |dir: &Path| -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "py"))
            .map(|path| std::fs::metadata(path).unwrap().len())
            .sum()
    };
    // Test files may be excluded: the entry module alone is surely shipped.
    let project_modules = std::fs::metadata(project.join("src/app_with_dep/cli.py"))
        .unwrap()
        .len();
    let dep_modules = sizes(&fixture("dep_pkg").join("dep_pkg"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let source_bytes = json["artifacts"][0]["source_bytes"].as_u64().unwrap();
    assert!(
        source_bytes >= project_modules + dep_modules,
        "{source_bytes} < {project_modules} + {dep_modules}"
    );
}

#[test]
fn a_wheel_source_bundles_the_dependencies_its_metadata_requires() {
    let Some(python) = pythons().into_iter().last() else {
        return;
    };
    let (temp, project) = copy_fixture("app_with_dep");
    let wheels = temp.path().join("wheels");
    build_dep_wheel(&wheels);
    // The app as a wheel: its METADATA says `Requires-Dist: dep_pkg>=1.0`.
    let wheel = build(
        &project,
        &temp.path().join("wheel"),
        &python,
        &["-f", "wheel"],
    );
    let app = build_with_deps(
        &wheel,
        &temp.path().join("out"),
        &python,
        &wheels,
        &["-f", "zipapp", "--strip-sources"],
    );
    let output = python.run(&[app.to_str().unwrap(), "wheel"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Hello, wheel, from dep_pkg!\ndep_pkg version 1.0\nbytecode True True\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
