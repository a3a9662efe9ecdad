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
