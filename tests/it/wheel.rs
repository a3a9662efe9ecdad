//! Wheels: PEP 621 projects built into bytecode wheels, wheels from another backend converted,
//! and every wheel installed with the target's own pip into a fresh venv and run.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::{build, contents, names};
use crate::common::{Pyship, Python, assert_stderr_contains, copy_fixture, pythons};

const MAKE_WHEEL: &str = include_str!("make_wheel.py");

/// A fresh venv of `python` in `dir`; returns its interpreter.
pub fn venv(python: &Python, dir: &Path) -> PathBuf {
    let output = python.run(&["-m", "venv", "--without-pip", dir.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir.join("bin").join("python")
}

/// `python -m pip install --no-index WHEEL` into the venv `target` (pip of `python`).
fn pip_install(python: &Python, target: &Path, wheel: &Path) -> std::process::Output {
    Command::new(&python.path)
        .args(["-m", "pip", "--disable-pip-version-check", "--python"])
        .arg(target)
        .args(["install", "--no-index", "--no-deps"])
        .arg(wheel)
        .output()
        .unwrap()
}

/// pip's `--python` option appeared in pip 22.3; older pips install from inside the venv.
pub fn install(python: &Python, venv_dir: &Path, wheel: &Path) -> std::process::Output {
    let target = venv_dir.join("bin").join("python");
    let output = pip_install(python, &target, wheel);
    if output.status.success()
        || !String::from_utf8_lossy(&output.stderr).contains("no such option")
    {
        return output;
    }
    Command::new(&python.path)
        .args([
            "-m",
            "pip",
            "--disable-pip-version-check",
            "install",
            "--no-index",
            "--no-deps",
            "--target",
        ])
        .arg(site_packages(venv_dir))
        .arg(wheel)
        .output()
        .unwrap()
}

fn site_packages(venv_dir: &Path) -> PathBuf {
    let lib = venv_dir.join("lib");
    let version = std::fs::read_dir(&lib)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    lib.join(version).join("site-packages")
}

/// Run the venv's interpreter with the compile guard installed: importing `module` must not
/// compile any source. Returns the module's `__file__`.
fn guarded_import(venv_python: &Path, module: &str) -> String {
    let code = format!(
        "import builtins\n\
         def guard(*args, **kwargs):\n    raise RuntimeError('compiled from source: %r' % (args[1],))\n\
         builtins.compile = guard\n\
         import {module}\n\
         print({module}.__file__)"
    );
    let output = Command::new(venv_python)
        .args(["-B", "-I", "-c", &code])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Check RECORD with Python's hashlib: every member listed once with its digest and size.
fn verify_record(python: &Python, wheel: &Path) {
    let code = "import base64, csv, hashlib, io, sys, zipfile\n\
                z = zipfile.ZipFile(sys.argv[1])\n\
                names = [n for n in z.namelist() if not n.endswith('/')]\n\
                record = [n for n in names if n.endswith('.dist-info/RECORD')]\n\
                assert len(record) == 1, record\n\
                assert names[-1] == record[0], 'RECORD is not last'\n\
                rows = list(csv.reader(io.TextIOWrapper(z.open(record[0]), 'utf-8')))\n\
                seen = set()\n\
                for path, digest, size in rows:\n\
                \x20   seen.add(path)\n\
                \x20   if path == record[0]:\n\
                \x20       assert digest == '' and size == ''\n\
                \x20       continue\n\
                \x20   data = z.read(path)\n\
                \x20   ours = 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()\n\
                \x20   assert digest == ours, (path, digest, ours)\n\
                \x20   assert int(size) == len(data), path\n\
                assert seen == set(names), set(names) ^ seen\n";
    let output = python.run(&["-I", "-c", code, wheel.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "RECORD of {}: {}",
        wheel.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn wheel_tags(wheel: &Path) -> Vec<String> {
    let files = contents(wheel);
    let (_, text) = files
        .iter()
        .find(|(name, _)| name.ends_with(".dist-info/WHEEL"))
        .unwrap();
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|line| line.strip_prefix("Tag: ").map(str::to_owned))
        .collect()
}

/// Build a `greet` wheel the way another backend would: sources, a console script, a module
/// under `.data/purelib` and a script under `.data/scripts`.
fn foreign_wheel(python: &Python, dir: &Path, tag: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let init = write("init.py", "\"\"\"greet package.\"\"\"\n");
    let cli = write(
        "cli.py",
        "import sys\n\ndef main():\n    \"\"\"Say hello.\"\"\"\n    import extra\n    print('greet says', extra.WORD, sys.argv[1:])\n",
    );
    let extra = write("extra.py", "WORD = 'hi'\n");
    let script = write("tool.py", "#!python\nprint('tool script')\n");
    let args = [
        dir.to_str().unwrap(),
        "greet",
        "1.0",
        tag,
        "--member",
        &format!("greet/__init__.py={init}"),
        "--member",
        &format!("greet/cli.py={cli}"),
        "--purelib",
        &format!("extra.py={extra}"),
        "--data-script",
        &format!("tool.py={script}"),
        "--script",
        "greet=greet.cli:main",
    ];
    let stdout = python.script(
        &format!("import sys; sys.argv[1:] = {args:?}\n{MAKE_WHEEL}"),
        &[],
    );
    PathBuf::from(stdout.trim())
}

fn convert(wheel: &Path, out: &Path, python: &Python, extra: &[&str]) -> PathBuf {
    Pyship::build(wheel)
        .out(out)
        .python(python)
        .args(extra)
        .artifact()
}

#[test]
fn project_wheels_install_and_run_from_bytecode_on_every_python() {
    let all = pythons();
    for python in &all {
        let (temp, project) = copy_fixture("hello");
        let out = temp.path().join("out");
        let wheel = convert(&project, &out, python, &["--strip-sources", "-OO"]);
        let name = wheel.file_name().unwrap().to_str().unwrap().to_owned();
        assert_eq!(
            name,
            format!("hello-0.1.0-cp3{}-none-any.whl", python.minor)
        );
        assert_eq!(
            wheel_tags(&wheel),
            [format!("cp3{}-none-any", python.minor)]
        );
        verify_record(python, &wheel);

        let env = temp.path().join("venv");
        let env_python = venv(python, &env);
        let output = install(python, &env, &wheel);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let installed: Vec<String> = std::fs::read_dir(site_packages(&env).join("hello"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            installed.iter().all(|name| !name.ends_with(".py")),
            "{installed:?}"
        );
        let output = Command::new(env.join("bin").join("hello"))
            .arg("wheel")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "Hello, wheel! (from bytecode)\n"
        );
        assert!(guarded_import(&env_python, "hello.cli").ends_with("cli.pyc"));
        // PEP 639: the license file is installed with the metadata and named in it.
        let output = Command::new(&env_python)
            .args([
                "-c",
                "import importlib.metadata as m; d = m.distribution('hello'); \
                 print(d.metadata.get_all('License-File')); print(d.read_text('licenses/LICENSE'))",
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!(
                "['LICENSE']\n{}\n",
                std::fs::read_to_string(project.join("LICENSE")).unwrap()
            ),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let check = Command::new(&python.path)
            .args(["-m", "pip", "--disable-pip-version-check", "check"])
            .env("PYTHONPATH", site_packages(&env))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );

        // pip of another CPython must refuse the sourceless wheel.
        if let Some(other) = all.iter().find(|other| other.minor != python.minor) {
            let other_env = temp.path().join("other");
            venv(other, &other_env);
            let output = install(other, &other_env, &wheel);
            assert!(!output.status.success());
            assert_stderr_contains(&output, "is not a supported wheel");
        }
    }
}

#[test]
fn converted_wheels_keep_every_member_and_run() {
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        let input = foreign_wheel(&python, &temp.path().join("in"), "py2.py3-none-any");
        let before = contents(&input);

        // Sourceless: retagged, `.py` replaced, scripts untouched.
        let wheel = convert(
            &input,
            &temp.path().join("out"),
            &python,
            &["--strip-sources"],
        );
        assert_eq!(
            wheel.file_name().unwrap().to_str().unwrap(),
            format!("greet-1.0-cp3{}-none-any.whl", python.minor)
        );
        assert_eq!(
            wheel_tags(&wheel),
            [format!("cp3{}-none-any", python.minor)]
        );
        verify_record(&python, &wheel);
        let after = contents(&wheel);
        let listed: Vec<&String> = after.keys().collect();
        for expected in [
            "greet/__init__.pyc",
            "greet/cli.pyc",
            "greet-1.0.data/purelib/extra.pyc",
        ] {
            assert!(
                after.contains_key(expected),
                "{expected} missing: {listed:?}"
            );
        }
        assert!(
            !after
                .keys()
                .any(|name| name.ends_with(".py") && !name.contains("/scripts/")),
            "{listed:?}"
        );
        let script = "greet-1.0.data/scripts/tool.py";
        assert_eq!(after[script], before[script], "scripts must stay untouched");
        for (name, bytes) in &before {
            if !name.ends_with(".py") && !name.ends_with("RECORD") && !name.ends_with("WHEEL") {
                assert_eq!(&after[name], bytes, "{name} changed");
            }
        }

        let env = temp.path().join("venv");
        let env_python = venv(&python, &env);
        let output = install(&python, &env, &wheel);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let output = Command::new(env.join("bin").join("greet"))
            .arg("x")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "greet says hi ['x']\n"
        );
        assert!(guarded_import(&env_python, "extra").ends_with("extra.pyc"));
        assert!(guarded_import(&env_python, "greet.cli").ends_with("cli.pyc"));

        // Beside sources: tags kept, `__pycache__` pycs added and recorded.
        let beside = convert(&input, &temp.path().join("beside"), &python, &[]);
        assert_eq!(
            beside.file_name().unwrap().to_str().unwrap(),
            "greet-1.0-py2.py3-none-any.whl"
        );
        assert_eq!(wheel_tags(&beside), ["py2-none-any", "py3-none-any"]);
        verify_record(&python, &beside);
        let files = names(&beside);
        let cached = format!("greet/__pycache__/cli.cpython-3{}.pyc", python.minor);
        assert!(files.contains(&cached), "{files:?}");
        assert!(files.contains(&"greet/cli.py".to_owned()));
    }
}

#[test]
fn wheels_are_byte_identical_across_runs_and_jobs() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let input = foreign_wheel(&python, &temp.path().join("in"), "py3-none-any");
    let one = convert(
        &input,
        &temp.path().join("one"),
        &python,
        &["--strip-sources", "-j1"],
    );
    let two = convert(
        &input,
        &temp.path().join("two"),
        &python,
        &["--strip-sources", "-j2"],
    );
    assert_eq!(std::fs::read(one).unwrap(), std::fs::read(two).unwrap());
    let (project_temp, project) = copy_fixture("hello");
    let a = convert(&project, &project_temp.path().join("a"), &python, &["-j1"]);
    let b = convert(&project, &project_temp.path().join("b"), &python, &["-j2"]);
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
}

/// Run `pyship build` expecting a fatal error; returns stderr and checks nothing was written.
fn refused(source: &Path, out: &Path, python: &Python, extra: &[&str]) -> String {
    let output = Pyship::build(source)
        .out(out)
        .python(python)
        .args(extra)
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        stderr
            .lines()
            .filter(|line| line.starts_with("error:"))
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        !out.exists() || std::fs::read_dir(out).unwrap().next().is_none(),
        "out-dir not empty"
    );
    stderr
}

#[test]
fn malformed_and_unsafe_wheels_are_refused() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let make = |name: &str, members: &str| -> PathBuf {
        // members: a Python list literal of (name, data, unix mode) tuples.
        let path = dir.join(name);
        let code = format!(
            "import zipfile, sys\n\
             z = zipfile.ZipFile(sys.argv[1], 'w')\n\
             for name, data, mode in {members}:\n\
             \x20   info = zipfile.ZipInfo(name)\n\
             \x20   info.external_attr = mode << 16\n\
             \x20   z.writestr(info, data)\n\
             z.close()\n"
        );
        let output = python.run(&["-I", "-W", "ignore", "-c", &code, path.to_str().unwrap()]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        path
    };
    let meta = "('evil-1.0.dist-info/METADATA', 'Name: evil\\n', 0o644), \
                ('evil-1.0.dist-info/WHEEL', 'Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n', 0o644)";
    let cases = [
        (
            "evil-1.0-py3-none-any.whl",
            format!("[('../evil.py', 'x', 0o644), {meta}]"),
            "evil.py",
        ),
        (
            "abs-1.0-py3-none-any.whl",
            format!("[('/etc/evil.py', 'x', 0o644), {meta}]"),
            "evil.py",
        ),
        (
            "bs-1.0-py3-none-any.whl",
            format!("[('pkg\\\\evil.py', 'x', 0o644), {meta}]"),
            "evil.py",
        ),
        (
            "link-1.0-py3-none-any.whl",
            format!("[('pkg/link', '/etc/passwd', 0o120777), {meta}]"),
            "link",
        ),
        (
            "dup-1.0-py3-none-any.whl",
            format!("[('pkg/a.py', 'x', 0o644), ('pkg/a.py', 'y', 0o644), {meta}]"),
            "a.py",
        ),
        (
            "norecord-1.0-py3-none-any.whl",
            format!("[('pkg/a.py', 'x', 0o644), {meta}]"),
            "RECORD",
        ),
    ];
    for (name, members, mention) in cases {
        let wheel = make(name, &members);
        let stderr = refused(&wheel, &dir.join(format!("out-{name}")), &python, &[]);
        assert!(
            stderr.contains(mention) || stderr.contains("dist-info"),
            "{name}: {stderr}"
        );
    }

    // A RECORD that does not match its contents.
    let input = foreign_wheel(&python, &dir.join("in"), "py3-none-any");
    let tampered = dir.join("greet-1.0-py3-none-any.whl");
    let code = "import zipfile, sys\n\
                src = zipfile.ZipFile(sys.argv[1])\n\
                out = zipfile.ZipFile(sys.argv[2], 'w')\n\
                for info in src.infolist():\n\
                \x20   data = src.read(info)\n\
                \x20   if info.filename == 'greet/cli.py':\n\
                \x20       data += b'# tampered\\n'\n\
                \x20   out.writestr(info, data)\n\
                out.close()\n";
    let output = python.run(&[
        "-I",
        "-c",
        code,
        input.to_str().unwrap(),
        tampered.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let stderr = refused(&tampered, &dir.join("out-tampered"), &python, &[]);
    assert!(stderr.contains("greet/cli.py"), "{stderr}");

    // Not a zip at all.
    let fake = dir.join("fake-1.0-py3-none-any.whl");
    std::fs::write(&fake, "not a zip").unwrap();
    refused(&fake, &dir.join("out-fake"), &python, &[]);
}

#[test]
fn binary_wheels_for_another_python_are_refused() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let other = if python.minor == 8 {
        9
    } else {
        python.minor - 1
    };
    let input = foreign_wheel(
        &python,
        &temp.path().join("in"),
        &format!("cp3{other}-cp3{other}-linux_x86_64"),
    );
    let stderr = refused(
        &input,
        &temp.path().join("out"),
        &python,
        &["--strip-sources"],
    );
    assert!(
        stderr.contains(&format!("cp3{other}-cp3{other}-linux_x86_64")),
        "{stderr}"
    );
}

#[test]
fn dynamic_metadata_asks_for_the_projects_own_backend() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("hello");
    let pyproject = project.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(
        &pyproject,
        text.replace("version = \"0.1.0\"", "dynamic = [\"version\"]"),
    )
    .unwrap();
    let stderr = refused(&project, &temp.path().join("out"), &python, &[]);
    assert!(
        stderr.contains("dynamic") && stderr.contains("build backend"),
        "{stderr}"
    );
    // A zipapp needs no version: it is built, its entry point still from [project.scripts].
    let app = build(
        &project,
        &temp.path().join("app"),
        &python,
        &["-f", "zipapp"],
    );
    let output = python.run(&[app[0].to_str().unwrap(), "dynamic"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Hello, dynamic! (from bytecode)\n"
    );
}

#[test]
fn tool_pyship_supplies_defaults_and_the_command_line_wins() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("hello");
    let pyproject = project.join("pyproject.toml");
    let mut text = std::fs::read_to_string(&pyproject).unwrap();
    text.push_str("\n[tool.pyship]\nformat = \"zip\"\nstrip-sources = true\noptimize = 2\n");
    std::fs::write(&pyproject, text).unwrap();
    let zip = build(&project, &temp.path().join("a"), &python, &[]);
    assert!(zip[0].to_str().unwrap().ends_with(".zip"), "{zip:?}");
    let files = names(&zip[0]);
    assert!(
        files.contains(&"hello/cli.pyc".to_owned()) && !files.contains(&"hello/cli.py".to_owned()),
        "{files:?}"
    );
    let output = python.run(&[
        "-I",
        "-c",
        "import sys; sys.path.insert(0, sys.argv[1]); import hello.cli; print(hello.cli.greeting.__doc__)",
        zip[0].to_str().unwrap(),
    ]);
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "None");
    let dir = build(&project, &temp.path().join("b"), &python, &["-f", "dir"]);
    assert!(dir[0].is_dir(), "{dir:?}");
    // A boolean from the table is switched off by its `--no-` form.
    let kept = build(
        &project,
        &temp.path().join("c"),
        &python,
        &["--no-strip-sources"],
    );
    assert!(
        names(&kept[0]).contains(&"hello/cli.py".to_owned()),
        "{kept:?}"
    );
}

#[test]
fn a_wheel_with_megabytes_of_zeros_converts_and_installs() {
    // 10 MB of zeros deflate about 1000:1, which a compression-ratio rule took for a bomb; pip
    // installs such a wheel, so pyship must convert it (the member is spilled to disk, not
    // held in memory), and the result must install.
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    let zeros = dir.join("zeros.bin");
    std::fs::write(&zeros, vec![0u8; 10_000_000]).unwrap();
    let init = dir.join("init.py");
    std::fs::write(&init, "X = 1\n").unwrap();
    let args = [
        dir.to_str().unwrap(),
        "zeros",
        "1.0",
        "py3-none-any",
        "--member",
        &format!("zeros/__init__.py={}", init.display()),
        "--member",
        &format!("zeros/zeros.bin={}", zeros.display()),
        "--compress",
        "deflated",
    ];
    let stdout = python.script(
        &format!("import sys; sys.argv[1:] = {args:?}\n{MAKE_WHEEL}"),
        &[],
    );
    let input = PathBuf::from(stdout.trim());
    assert!(std::fs::metadata(&input).unwrap().len() < 100_000);
    let wheel = convert(
        &input,
        &temp.path().join("out"),
        &python,
        &["--strip-sources"],
    );
    verify_record(&python, &wheel);
    let env = temp.path().join("venv");
    let env_python = venv(&python, &env);
    let output = install(&python, &env, &wheel);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let installed = std::fs::read(site_packages(&env).join("zeros/zeros.bin")).unwrap();
    assert!(installed.len() == 10_000_000 && installed.iter().all(|&byte| byte == 0));
    assert!(guarded_import(&env_python, "zeros").ends_with("__init__.pyc"));

    // A member read from a temporary file does not defeat the up-to-date check: with one
    // cache, a second conversion of the same wheel writes nothing.
    let cache = temp.path().join("cache");
    let out = temp.path().join("cached");
    let identity = || {
        let metadata = std::fs::metadata(out.join(wheel.file_name().unwrap())).unwrap();
        (
            std::os::unix::fs::MetadataExt::ino(&metadata),
            metadata.modified().unwrap(),
        )
    };
    let cache_arg = ["--strip-sources", "--cache-dir", cache.to_str().unwrap()];
    convert(&input, &out, &python, &cache_arg);
    let first = identity();
    std::thread::sleep(std::time::Duration::from_millis(20));
    convert(&input, &out, &python, &cache_arg);
    assert_eq!(identity(), first, "written again");
}

/// The RECORD rows of an installed distribution, in order.
fn installed_record(venv_dir: &Path, dist_info: &str) -> Vec<String> {
    std::fs::read_to_string(site_packages(venv_dir).join(dist_info).join("RECORD"))
        .unwrap()
        .lines()
        .map(|row| row.split(',').next().unwrap().to_owned())
        .collect()
}

/// A wheel that keeps its sources is not bound to one CPython: `-p A -p B` writes one wheel
/// holding both targets' `__pycache__` pycs, each listed once in RECORD; installed with each
/// target's pip (`--no-compile`), the installed RECORD has no duplicate row and the module is
/// imported from the shipped pyc of that version, byte for byte.
#[test]
fn a_wheel_keeping_its_sources_holds_every_targets_pycs() {
    let found = pythons();
    let [.., older, newer] = found.as_slice() else {
        eprintln!("note: needs two CPythons; skipped");
        return;
    };
    let (temp, project) = copy_fixture("hello");
    let out = temp.path().join("out");
    let wheels = Pyship::build(&project)
        .out(&out)
        .python(older)
        .python(newer)
        .artifacts();
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    let wheel = &wheels[0];
    assert_eq!(wheel_tags(wheel), ["py3-none-any"]);
    verify_record(newer, wheel);
    let members = contents(wheel);
    let record = String::from_utf8(members["hello-0.1.0.dist-info/RECORD"].clone()).unwrap();
    let rows: Vec<&str> = record
        .lines()
        .map(|row| row.split(',').next().unwrap())
        .collect();
    let mut unique = rows.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), rows.len(), "duplicate RECORD rows: {record}");
    for python in [older, newer] {
        let pyc = format!("hello/__pycache__/cli.cpython-3{}.pyc", python.minor);
        assert!(rows.contains(&pyc.as_str()), "{pyc} not in {record}");

        let env = temp.path().join(format!("venv{}", python.minor));
        let env_python = venv(python, &env);
        let output = Command::new(&python.path)
            .args(["-m", "pip", "--disable-pip-version-check", "--python"])
            .arg(&env_python)
            .args(["install", "--no-index", "--no-deps", "--no-compile"])
            .arg(wheel)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let installed = installed_record(&env, "hello-0.1.0.dist-info");
        let mut unique = installed.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), installed.len(), "{installed:?}");
        assert!(installed.contains(&pyc), "{installed:?}");
        assert!(guarded_import(&env_python, "hello.cli").ends_with("cli.py"));
        assert_eq!(
            std::fs::read(site_packages(&env).join(&pyc)).unwrap(),
            members[&pyc],
            "{pyc} is not the shipped one"
        );
    }

    // A converted wheel that keeps its sources: one wheel for both targets too.
    let converted = Pyship::build(wheel)
        .out(&temp.path().join("converted"))
        .python(older)
        .python(newer)
        .artifacts();
    assert_eq!(converted.len(), 1, "{converted:?}");
    let names = names(&converted[0]);
    for python in [older, newer] {
        let pyc = format!("hello/__pycache__/cli.cpython-3{}.pyc", python.minor);
        assert!(names.contains(&pyc), "{pyc} not in {names:?}");
    }
    verify_record(newer, &converted[0]);
}

#[test]
fn a_wheel_becomes_a_zipapp_running_its_console_script() {
    for python in &pythons() {
        let temp = tempfile::tempdir().unwrap();
        let input = foreign_wheel(python, &temp.path().join("in"), "py3-none-any");
        let out = temp.path().join("out");
        let app = convert(&input, &out, python, &["-f", "zipapp", "--strip-sources"]);
        let output = python.run(&[app.to_str().unwrap(), "a", "b"]);
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "greet says hi ['a', 'b']\n",
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // With several scripts, the error shows what `--main` could be.
    let python = pythons().pop().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let cli = temp.path().join("cli.py");
    std::fs::write(&cli, "def main():\n    print('hi')\n").unwrap();
    let args = [
        temp.path().to_str().unwrap(),
        "two",
        "1.0",
        "py3-none-any",
        "--member",
        &format!("two/cli.py={}", cli.display()),
        "--script",
        "two=two.cli:main",
        "--script",
        "two-admin=two.cli:admin",
    ];
    let stdout = python.script(
        &format!("import sys; sys.argv[1:] = {args:?}\n{MAKE_WHEEL}"),
        &[],
    );
    let output = Pyship::build(Path::new(stdout.trim()))
        .out(&temp.path().join("out"))
        .python(&python)
        .args(["-f", "zipapp"])
        .fails(2);
    assert_stderr_contains(
        &output,
        "Several console scripts could be the zipapp's entry point (`two` = `two.cli:main`, `two-admin` = `two.cli:admin`): pick one with `--main module:function`",
    );
}
