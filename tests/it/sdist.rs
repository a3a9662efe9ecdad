//! An sdist as SOURCE (SPEC §1): unpacked safely and built as a project; hostile archives are
//! refused with one error, writing nothing outside; any other SOURCE says what SOURCE may be.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{Pyship, Python, fixture, pythons};

/// Make `path` with Python's `tarfile` (or `zipfile`, for a `.zip`): every file of
/// `fixtures/hello` under `hello-0.1.0/`, plus a PKG-INFO.
fn hello_sdist(python: &Python, path: &Path) {
    let script = r#"
import os, sys, tarfile, zipfile
src, dest = sys.argv[1], sys.argv[2]
files = []
for root, _, names in os.walk(src):
    for name in sorted(names):
        full = os.path.join(root, name)
        files.append((full, "hello-0.1.0/" + os.path.relpath(full, src)))
pkg_info = b"Metadata-Version: 2.1\nName: hello\nVersion: 0.1.0\n"
if dest.endswith(".zip"):
    with zipfile.ZipFile(dest, "w") as z:
        for full, name in files:
            z.write(full, name)
        z.writestr("hello-0.1.0/PKG-INFO", pkg_info)
else:
    import io
    with tarfile.open(dest, "w:gz") as t:
        for full, name in files:
            t.add(full, name)
        info = tarfile.TarInfo("hello-0.1.0/PKG-INFO")
        info.size = len(pkg_info)
        t.addfile(info, io.BytesIO(pkg_info))
"#;
    run_python(
        python,
        script,
        &[fixture("hello").to_str().unwrap(), path.to_str().unwrap()],
    );
}

fn run_python(python: &Python, script: &str, args: &[&str]) {
    let output = std::process::Command::new(&python.path)
        .args(["-I", "-c", script])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn wheel_members(path: &Path) -> Vec<String> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut names: Vec<String> = (0..archive.len())
        .map(|index| archive.by_index(index).unwrap().name().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_sdist_is_unpacked_and_built_as_its_project() {
    let Some(python) = pythons().into_iter().last() else {
        return;
    };
    for name in ["hello-0.1.0.tar.gz", "hello-0.1.0.zip"] {
        let temp = tempfile::tempdir().unwrap();
        let sdist = temp.path().join(name);
        hello_sdist(&python, &sdist);
        // The default out-dir is `dist/` beside the sdist, as for a wheel.
        let wheel = Pyship::build(&sdist)
            .python(&python)
            .args(["--strip-sources"])
            .context(name)
            .artifact();
        assert_eq!(wheel.parent().unwrap(), temp.path().join("dist"), "{name}");
        let members = wheel_members(&wheel);
        for member in [
            "hello/__init__.pyc",
            "hello/cli.pyc",
            "hello/data/greeting.txt",
            "hello-0.1.0.dist-info/METADATA",
            "hello-0.1.0.dist-info/licenses/LICENSE",
        ] {
            assert!(
                members.iter().any(|m| m == member),
                "{name}: {member} in {members:?}"
            );
        }
        // The wheel runs: the sdist's project was compiled, not its archive.
        let output = std::process::Command::new(&python.path)
            .args(["-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); from hello.cli import main; main(['sdist'])"])
            .arg(&wheel)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("sdist"),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Run a build of `sdist` that must be refused: exit 2, one `error:` line containing `needle`.
fn refused(python: &Python, sdist: &Path, out: &Path, needle: &str) -> Output {
    let output = Pyship::build(sdist)
        .out(out)
        .python(python)
        .context(needle)
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(needle), "{needle:?} in {stderr}");
    assert!(!out.exists(), "{needle}: the out-dir was created");
    output
}

#[test]
fn hostile_sdists_are_refused_and_write_nothing_outside() {
    let Some(python) = pythons().into_iter().last() else {
        return;
    };
    // Each case: a member added after a valid project, by a tarfile snippet given `t` (the open
    // archive) and `add(info, data)`.
    let cases = [
        (
            "traversal",
            "add(tarfile.TarInfo('../escaped.txt'), b'x')",
            "Unsafe member `../escaped.txt`",
        ),
        (
            "inner traversal",
            "add(tarfile.TarInfo('demo-1.0/../../escaped.txt'), b'x')",
            "has a `..` component",
        ),
        (
            "absolute",
            "add(tarfile.TarInfo('/tmp/pyship-abs-escaped.txt'), b'x')",
            "is an absolute path",
        ),
        (
            "symlink out",
            "i = tarfile.TarInfo('demo-1.0/demo/link.py'); i.type = tarfile.SYMTYPE; i.linkname = '../../../escaped.txt'; add(i)",
            "is a link pointing outside the archive",
        ),
        (
            "absolute symlink",
            "i = tarfile.TarInfo('demo-1.0/demo/link.py'); i.type = tarfile.SYMTYPE; i.linkname = '/etc/passwd'; add(i)",
            "is a link pointing outside the archive",
        ),
        (
            "hard link out",
            "i = tarfile.TarInfo('demo-1.0/demo/hard.py'); i.type = tarfile.LNKTYPE; i.linkname = '../escaped.txt'; add(i)",
            "is a link pointing outside the archive",
        ),
        (
            "fifo",
            "i = tarfile.TarInfo('demo-1.0/demo/pipe'); i.type = tarfile.FIFOTYPE; add(i)",
            "is a device or FIFO",
        ),
        (
            "device",
            "i = tarfile.TarInfo('demo-1.0/demo/dev'); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3; add(i)",
            "is a device or FIFO",
        ),
        (
            "huge declared size",
            // A header alone: the data it declares is never there to read.
            "i = tarfile.TarInfo('demo-1.0/demo/huge.bin'); i.size = 5 << 30; b = i.tobuf(tarfile.GNU_FORMAT); t.fileobj.write(b); t.offset += len(b)",
            "over the 1073741824 byte limit",
        ),
        (
            "duplicate",
            "add(tarfile.TarInfo('demo-1.0/demo/__init__.py'), b'y')",
            "appears twice",
        ),
    ];
    for (label, member, needle) in cases {
        let temp = tempfile::tempdir().unwrap();
        // Deep enough that `../` from the unpack dir or the sdist's folder lands in `temp`.
        let sdist = temp.path().join("a/b/demo-1.0.tar.gz");
        std::fs::create_dir_all(sdist.parent().unwrap()).unwrap();
        let script = format!(
            r#"
import io, sys, tarfile
def add(info, data=b""):
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
with tarfile.open(sys.argv[1], "w:gz", format=tarfile.GNU_FORMAT) as t:
    add(tarfile.TarInfo("demo-1.0/pyproject.toml"), b'[project]\nname = "demo"\nversion = "1.0"\n')
    add(tarfile.TarInfo("demo-1.0/demo/__init__.py"), b"X = 1\n")
    {member}
"#
        );
        run_python(&python, &script, &[sdist.to_str().unwrap()]);
        let out = temp.path().join("out");
        refused(&python, &sdist, &out, needle);
        for escaped in [
            temp.path().join("escaped.txt"),
            temp.path().join("a/escaped.txt"),
            temp.path().join("a/b/escaped.txt"),
            std::env::temp_dir().join("escaped.txt"),
            PathBuf::from("/tmp/pyship-abs-escaped.txt"),
        ] {
            assert!(!escaped.exists(), "{label}: {} written", escaped.display());
        }
    }
}

#[test]
fn a_link_inside_the_sdist_is_copied() {
    let Some(python) = pythons().into_iter().last() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let sdist = temp.path().join("demo-1.0.tar.gz");
    run_python(
        &python,
        r#"
import io, sys, tarfile
def add(info, data=b""):
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
with tarfile.open(sys.argv[1], "w:gz") as t:
    add(tarfile.TarInfo("demo-1.0/pyproject.toml"), b'[project]\nname = "demo"\nversion = "1.0"\n')
    add(tarfile.TarInfo("demo-1.0/demo/__init__.py"), b"X = 1\n")
    i = tarfile.TarInfo("demo-1.0/demo/alias.py"); i.type = tarfile.SYMTYPE; i.linkname = "__init__.py"; add(i)
"#,
        &[sdist.to_str().unwrap()],
    );
    let wheel = Pyship::build(&sdist)
        .out(&temp.path().join("out"))
        .python(&python)
        .artifact();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&wheel).unwrap()).unwrap();
    let mut text = String::new();
    archive
        .by_name("demo/alias.py")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "X = 1\n");
}

#[test]
fn a_source_that_is_not_one_says_what_source_may_be() {
    let Some(python) = pythons().into_iter().last() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let hint = "hint: SOURCE is a project directory (with pyproject.toml), a directory of modules, a wheel (`.whl`) or an sdist";
    let check = |source: &Path, needle: &str, with_hint: bool| {
        let output = refused(&python, source, &temp.path().join("out"), needle);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.contains(hint), with_hint, "{stderr}");
        assert_eq!(
            stderr.lines().count(),
            1 + usize::from(with_hint),
            "{stderr}"
        );
    };
    // A missing path says just that.
    let missing = temp.path().join("nope");
    check(
        &missing,
        &format!("error: `{}` does not exist", missing.display()),
        false,
    );
    let missing = temp.path().join("nope-1.0-py3-none-any.whl");
    check(
        &missing,
        &format!("error: `{}` does not exist", missing.display()),
        false,
    );
    let missing = temp.path().join("nope.tar.gz");
    check(
        &missing,
        &format!("error: `{}` does not exist", missing.display()),
        false,
    );

    let text = temp.path().join("notes.txt");
    std::fs::write(&text, "hi").unwrap();
    check(
        &text,
        &format!(
            "error: `{}` cannot be built: it is not a directory, a wheel or an sdist",
            text.display()
        ),
        true,
    );

    // A zip of modules with no project in a top directory is not an sdist.
    let zip = temp.path().join("modules.zip");
    run_python(
        &python,
        "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.writestr('mod.py', 'X = 1')",
        &[zip.to_str().unwrap()],
    );
    check(
        &zip,
        "it has no single top directory holding `pyproject.toml`",
        true,
    );

    let fake = temp.path().join("fake-1.0.tar.gz");
    std::fs::write(&fake, "not gzip").unwrap();
    check(
        &fake,
        "is not an sdist: not a readable .tar.gz archive",
        false,
    );
}

/// Write an sdist `.tar.gz` at `path` holding `members` (name, text), as a build backend would.
fn write_sdist(path: &Path, members: &[(&str, &str)]) {
    let file = std::fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for (name, text) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, name, text.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

/// The text of `member` of the zip at `path`.
fn zip_text(path: &Path, member: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut text = String::new();
    archive
        .by_name(member)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// Install `wheel` into a fresh venv of `python` and return what `code` prints there.
fn installed_and_run(python: &Python, dir: &Path, wheel: &Path, code: &str) -> String {
    let env = dir.join(format!("venv-{}", python.minor));
    let env_python = crate::wheel::venv(python, &env);
    let output = crate::wheel::install(python, &env, wheel);
    assert!(
        output.status.success(),
        "pip of {} refuses {}:\n{}",
        python.version(),
        wheel.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let output = std::process::Command::new(env_python)
        .args(["-I", "-c", code])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// setuptools_scm / hatch-vcs: the version is dynamic in pyproject.toml, computed in PKG-INFO.
const DYNAMIC_VERSION: &str = "[project]\nname = \"Dyn.Ver\"\ndynamic = [\"version\"]\nrequires-python = \">=3.8\"\ndependencies = [\"attrs>=22\"]\n";

#[test]
fn a_dynamic_version_comes_from_pkg_info_and_installs_everywhere() {
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        let sdist = temp.path().join("dyn_ver-1.2.3.tar.gz");
        write_sdist(
            &sdist,
            &[
                ("dyn_ver-1.2.3/pyproject.toml", DYNAMIC_VERSION),
                // A Metadata-Version before 2.2 still fixes the version (PEP 643).
                (
                    "dyn_ver-1.2.3/PKG-INFO",
                    "Metadata-Version: 2.1\nName: Dyn.Ver\nVersion: 1.2.3\nRequires-Dist: attrs>=22\n",
                ),
                ("dyn_ver-1.2.3/src/dyn_ver/__init__.py", "X = 1\n"),
            ],
        );
        let wheel = Pyship::build(&sdist)
            .out(&temp.path().join("out"))
            .python(&python)
            .args(["--strip-sources"])
            .artifact();
        assert_eq!(
            wheel.file_name().unwrap().to_str().unwrap(),
            format!("dyn_ver-1.2.3-cp3{}-none-any.whl", python.minor)
        );
        // Rendered from [project] with PKG-INFO's version: every other field was static.
        let metadata = zip_text(&wheel, "dyn_ver-1.2.3.dist-info/METADATA");
        assert_eq!(
            metadata,
            "Metadata-Version: 2.1\nName: Dyn.Ver\nVersion: 1.2.3\nRequires-Python: >=3.8\nRequires-Dist: attrs>=22\n"
        );
        // 3.8's importlib.metadata finds a distribution by its dist-info name only.
        let printed = installed_and_run(
            &python,
            temp.path(),
            &wheel,
            "import importlib.metadata as m, dyn_ver; print(m.version('dyn_ver'), m.requires('dyn_ver'), dyn_ver.__spec__.origin.endswith('.pyc'))",
        );
        assert_eq!(
            printed,
            "1.2.3 ['attrs>=22'] True\n",
            "{}",
            python.version()
        );
    }
}

/// PKG-INFO 2.2+ (as hatch-fancy-pypi-readme, setuptools' `[tool.setuptools.dynamic]`):
/// every field it does not mark `Dynamic` is what the wheel carries, so it is the METADATA.
const PKG_INFO_2_2: &str = "Metadata-Version: 2.2\nName: dyn\nVersion: 0.4.0\nSummary: From the backend\nRequires-Python: >=3.8\nLicense-File: LICENSE\nRequires-Dist: attrs>=22\nRequires-Dist: tomli; python_version < \"3.11\"\nProvides-Extra: cli\nRequires-Dist: rich; extra == \"cli\"\nDescription-Content-Type: text/markdown\n\n# dyn\n\nThe readme.\n";

#[test]
fn dynamic_dependencies_and_readme_come_from_pkg_info_2_2() {
    let all = pythons();
    let (Some(first), Some(last)) = (all.first(), all.last()) else {
        return;
    };
    for python in [first, last] {
        let temp = tempfile::tempdir().unwrap();
        let sdist = temp.path().join("dyn-0.4.0.tar.gz");
        write_sdist(
            &sdist,
            &[
                (
                    "dyn-0.4.0/pyproject.toml",
                    "[project]\nname = \"dyn\"\ndescription = \"From the backend\"\ndynamic = [\"version\", \"dependencies\", \"optional-dependencies\", \"readme\", \"license-files\"]\n\n[project.scripts]\ndyn = \"dyn:main\"\n",
                ),
                ("dyn-0.4.0/PKG-INFO", PKG_INFO_2_2),
                ("dyn-0.4.0/LICENSE", "MIT\n"),
                (
                    "dyn-0.4.0/dyn/__init__.py",
                    "def main():\n    print('dyn')\n",
                ),
            ],
        );
        let wheel = Pyship::build(&sdist)
            .out(&temp.path().join("out"))
            .python(python)
            .args(["--strip-sources"])
            .artifact();
        assert_eq!(
            zip_text(&wheel, "dyn-0.4.0.dist-info/METADATA"),
            PKG_INFO_2_2
        );
        // What PKG-INFO names is shipped; static scripts still come from [project].
        assert_eq!(
            zip_text(&wheel, "dyn-0.4.0.dist-info/licenses/LICENSE"),
            "MIT\n"
        );
        assert_eq!(
            zip_text(&wheel, "dyn-0.4.0.dist-info/entry_points.txt"),
            "[console_scripts]\ndyn = dyn:main\n"
        );
        let printed = installed_and_run(
            python,
            temp.path(),
            &wheel,
            "import importlib.metadata as m; d = m.distribution('dyn'); print(d.version, d.requires, d.metadata.get_all('Provides-Extra'), d.metadata['Summary'], repr(d.metadata.get_payload()))",
        );
        assert_eq!(
            printed,
            "0.4.0 ['attrs>=22', 'tomli; python_version < \"3.11\"', 'rich; extra == \"cli\"'] ['cli'] From the backend '# dyn\\n\\nThe readme.\\n'\n",
            "{}",
            python.version()
        );
    }
}

/// Each case: the `dynamic` list, PKG-INFO's headers after Name and Version, and what the one
/// `error:` line must say.
#[test]
fn what_pkg_info_cannot_give_is_named_with_a_hint() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let cases = [
        (
            "\"version\", \"scripts\"",
            "Metadata-Version: 2.4\n",
            "error: `[SDIST]` declares dynamic metadata that its `PKG-INFO` does not give: `scripts` (entry points are not core metadata: `PKG-INFO` cannot carry them); only the project's own build backend can compute it",
        ),
        (
            "\"dependencies\", \"description\"",
            "Metadata-Version: 2.2\nDynamic: Requires-Dist\n",
            "error: `[SDIST]` declares dynamic metadata that its `PKG-INFO` does not give: `dependencies` (`PKG-INFO` marks `Requires-Dist` as `Dynamic`); only",
        ),
        (
            "\"version\", \"dependencies\", \"gui-scripts\"",
            "Metadata-Version: 2.1\n",
            "that its `PKG-INFO` does not give: `dependencies` (`PKG-INFO` is Metadata-Version 2.1: before 2.2 (PEP 643) a wheel may differ from it), `gui-scripts` (entry points",
        ),
    ];
    for (dynamic, headers, needle) in cases {
        let temp = tempfile::tempdir().unwrap();
        let sdist = temp.path().join("dyn-1.0.tar.gz");
        let pyproject =
            format!("[project]\nname = \"dyn\"\nversion = \"1.0\"\ndynamic = [{dynamic}]\n");
        let pyproject = if dynamic.contains("version") {
            pyproject.replace("version = \"1.0\"\n", "")
        } else {
            pyproject
        };
        let pkg_info = format!("{headers}Name: dyn\nVersion: 1.0\n");
        write_sdist(
            &sdist,
            &[
                ("dyn-1.0/pyproject.toml", &pyproject),
                ("dyn-1.0/PKG-INFO", &pkg_info),
                ("dyn-1.0/dyn/__init__.py", ""),
            ],
        );
        let needle = needle.replace("[SDIST]", &sdist.display().to_string());
        let output = refused(&python, &sdist, &temp.path().join("out"), &needle);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!(
                "\nhint: build its wheel with its own backend, then convert that: `pip wheel --no-deps {} -w wheels/` then `pyship build wheels/dyn-1.0-*.whl`",
                sdist.display()
            )),
            "{stderr}"
        );
        // The version, given by PKG-INFO, is not among what is missing.
        assert!(!stderr.contains("`version`"), "{stderr}");
        // A bundle needs none of it: built, with the project's dist-info.
        let bundle = Pyship::build(&sdist)
            .out(&temp.path().join("bundle"))
            .python(&python)
            .args(["-f", "zip"])
            .context(dynamic)
            .artifact();
        let names = wheel_members(&bundle);
        assert!(
            names
                .iter()
                .any(|name| name == "dyn-1.0.dist-info/METADATA"),
            "{names:?}"
        );
    }
}

#[test]
fn a_pkg_info_version_other_than_the_directorys_is_refused() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let sdist = temp.path().join("dyn-1.0.tar.gz");
    write_sdist(
        &sdist,
        &[
            (
                "dyn-1.0/pyproject.toml",
                "[project]\nname = \"dyn\"\ndynamic = [\"version\"]\n",
            ),
            (
                "dyn-1.0/PKG-INFO",
                "Metadata-Version: 2.4\nName: dyn\nVersion: 2.0\n",
            ),
            ("dyn-1.0/dyn/__init__.py", ""),
        ],
    );
    refused(
        &python,
        &sdist,
        &temp.path().join("out"),
        "its `PKG-INFO` gives version `2.0`, but its top directory is `dyn-1.0`",
    );
    // An unnormalized spelling of the same version agrees.
    let sdist = temp.path().join("dyn-1.0.0.tar.gz");
    write_sdist(
        &sdist,
        &[
            (
                "dyn-1.0.0/pyproject.toml",
                "[project]\nname = \"dyn\"\ndynamic = [\"version\"]\n",
            ),
            (
                "dyn-1.0.0/PKG-INFO",
                "Metadata-Version: 2.4\nName: dyn\nVersion: 1.0.0\n",
            ),
            ("dyn-1.0.0/dyn/__init__.py", ""),
        ],
    );
    let wheel = Pyship::build(&sdist)
        .out(&temp.path().join("out"))
        .python(&python)
        .artifact();
    assert!(
        wheel.ends_with("dyn-1.0.0-py3-none-any.whl"),
        "{}",
        wheel.display()
    );
}

#[test]
fn a_setup_py_sdist_says_to_build_its_wheel_first() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let six = temp.path().join("six-1.16.0.tar.gz");
    write_sdist(
        &six,
        &[
            (
                "six-1.16.0/PKG-INFO",
                "Metadata-Version: 1.2\nName: six\nVersion: 1.16.0\n",
            ),
            (
                "six-1.16.0/setup.py",
                "from setuptools import setup\nsetup(name='six', py_modules=['six'])\n",
            ),
            ("six-1.16.0/six.py", "X = 1\n"),
        ],
    );
    let output = refused(
        &python,
        &six,
        &temp.path().join("out"),
        &format!(
            "error: `{}` is a `setup.py` sdist (no `pyproject.toml`): only setuptools can say which modules it installs, so pyship cannot build it",
            six.display()
        ),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.lines().nth(1).unwrap_or_default(),
        format!(
            "hint: build its wheel with its own backend, then convert that: `pip wheel --no-deps {} -w wheels/` then `pyship build wheels/six-1.16.0-*.whl`",
            six.display()
        )
    );
    // A pyproject.toml without [project] is the same: its backend decides what is installed.
    let legacy = temp.path().join("Legacy.Pkg-2.0.tar.gz");
    write_sdist(
        &legacy,
        &[
            (
                "Legacy.Pkg-2.0/pyproject.toml",
                "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n",
            ),
            (
                "Legacy.Pkg-2.0/setup.py",
                "from setuptools import setup\nsetup()\n",
            ),
            ("Legacy.Pkg-2.0/legacy/__init__.py", ""),
        ],
    );
    let output = refused(
        &python,
        &legacy,
        &temp.path().join("out"),
        "keeps its metadata outside `pyproject.toml` (no `[project]` table): only its build backend (`setuptools.build_meta`) can say which modules it installs",
    );
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("`pyship build wheels/legacy_pkg-2.0-*.whl`"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // One top directory with none of pyproject.toml, setup.py, PKG-INFO is not an sdist.
    let bare = temp.path().join("bare-1.0.tar.gz");
    write_sdist(&bare, &[("bare-1.0/bare.py", "")]);
    refused(
        &python,
        &bare,
        &temp.path().join("out"),
        "is not an sdist: it has no single top directory holding `pyproject.toml`, `setup.py` or `PKG-INFO`",
    );
}
