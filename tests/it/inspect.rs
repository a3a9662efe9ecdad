//! `pyship inspect` and `pyship verify`: what inspect says of a pyc or an artifact is what the
//! target's own `importlib` and `marshal` say, and verify catches every change to an artifact
//! while an honest one passes when rebuilt from a copy of its sources elsewhere.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{Pyship, Python, pythons};

/// A module with a module, class and function docstring and asserts in a function, a method
/// and the module body: `-O` drops the asserts, `-OO` the docstrings too.
const RICH: &str = r#""""Module docstring."""

assert __name__


class Thing:
    """Class docstring."""

    def method(self, x):
        """Method docstring."""
        assert x, "x must be true"
        return x


def function(y):
    """Function docstring."""
    assert y > 0
    return [v for v in range(y)]
"#;

/// Neither docstrings nor asserts, with what looks like them: a string after the first
/// statement, a string-returning lambda and comprehension, a class attribute, a module that
/// reads (not stores) `__doc__`.
const PLAIN: &str = r#"import sys

print(__doc__)
x = 1
"not a docstring"


class Plain:
    name = "not a docstring"


def function():
    value = 1
    "not a docstring either"
    return value


def strings():
    return "a string", (lambda: "lambda"), ["s" for _ in ()]
"#;

/// What the target says of each pyc `py_compile` writes for every source, mode and level:
/// one JSON object per pyc, with its path.
const EXPECTED: &str = r#"
import importlib.util, json, marshal, os, py_compile, sys
out = []
root = sys.argv[1]
for name in ("rich", "plain"):
    source = os.path.join(root, name + ".py")
    for mode in ("TIMESTAMP", "CHECKED_HASH", "UNCHECKED_HASH"):
        for level in (0, 1, 2):
            cfile = os.path.join(root, "%s-%s-%d.pyc" % (name, mode, level))
            py_compile.compile(source, cfile=cfile, dfile="pkg/%s.py" % name, optimize=level,
                               invalidation_mode=getattr(py_compile.PycInvalidationMode, mode),
                               doraise=True)
            with open(cfile, "rb") as f:
                data = f.read()
            with open(source, "rb") as f:
                source_bytes = f.read()
            flags = int.from_bytes(data[4:8], "little")
            st = os.stat(source)
            entry = {
                "pyc": cfile,
                "magic_number": int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little"),
                "python": "%d.%d" % sys.version_info[:2],
                "invalidation": {0: "timestamp", 1: "unchecked-hash", 3: "checked-hash"}[flags],
                "co_filename": marshal.loads(data[16:]).co_filename,
                "docstrings": name == "rich" and level < 2,
                "asserts": name == "rich" and level < 1,
            }
            assert data[:4] == importlib.util.MAGIC_NUMBER
            if flags == 0:
                entry["source_mtime"] = int(st.st_mtime) & 0xFFFFFFFF
                entry["source_size"] = st.st_size & 0xFFFFFFFF
            else:
                entry["source_hash"] = importlib.util.source_hash(source_bytes).hex()
            out.append(entry)
print(json.dumps(out))
"#;

fn json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn inspect_json(path: &Path) -> Value {
    json(&Pyship::new(["inspect", "--json"]).arg(path).succeeds())
}

#[test]
fn pyc_fields_are_what_importlib_and_marshal_say() {
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        std::fs::write(temp.path().join("rich.py"), RICH).unwrap();
        std::fs::write(temp.path().join("plain.py"), PLAIN).unwrap();
        let expected: Value =
            serde_json::from_str(&run_python(&python, EXPECTED, &[temp.path()])).unwrap();
        let expected = expected.as_array().unwrap();
        assert_eq!(expected.len(), 18);
        for entry in expected {
            let pyc = PathBuf::from(entry["pyc"].as_str().unwrap());
            let got = inspect_json(&pyc);
            assert_eq!(got["kind"], "pyc");
            for (key, value) in entry.as_object().unwrap() {
                if key != "pyc" {
                    assert_eq!(
                        &got[key],
                        value,
                        "Python {}: `{key}` of {}:\n{got:#}",
                        python.version(),
                        pyc.display()
                    );
                }
            }
            // Fields of the other invalidation kind are absent, not zero.
            let hash_based = entry.get("source_hash").is_some();
            assert_eq!(got.get("source_mtime").is_some(), !hash_based);
            assert_eq!(got.get("source_hash").is_some(), hash_based);
        }
        // The text form says the same in a line each.
        let text = Pyship::new(["inspect"])
            .arg(temp.path().join("rich-CHECKED_HASH-0.pyc"))
            .succeeds();
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(text.contains("co_filename   pkg/rich.py"), "{text}");
        assert!(text.contains("docstrings    yes"), "{text}");
        assert!(text.contains("asserts       yes"), "{text}");
    }
}

/// A tiny project whose modules have docstrings and asserts, with a script for the zipapp.
fn write_demo(dir: &Path) {
    let files: [(&str, &str); 4] = [
        (
            "pyproject.toml",
            "[project]\nname = \"demo\"\nversion = \"1.0\"\n\n[project.scripts]\ndemo = \"demo.core:main\"\n",
        ),
        ("demo/__init__.py", "\"\"\"The demo package.\"\"\"\n"),
        ("demo/core.py", RICH),
        (
            "demo/extra.py",
            "def main():\n    \"\"\"Say hello.\"\"\"\n    assert True\n    return 0\n",
        ),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    // The script the zipapp runs.
    let core = dir.join("demo/core.py");
    let mut text = std::fs::read_to_string(&core).unwrap();
    text.push_str("\n\ndef main():\n    return 0\n");
    std::fs::write(core, text).unwrap();
}

/// Where the target's import system finds each module of the artifact at `root` (a directory,
/// or an archive on `sys.path`), relative to `root`; `__main__` modules are not imported.
const LOADER_FILES: &str = r#"
import importlib, importlib.util, json, os, sys
root, names = sys.argv[1], sys.argv[2:]
sys.path.insert(0, root)
out = {}
for name in names:
    if name.split(".")[-1] == "__main__":
        continue
    if os.path.isdir(root):
        spec = importlib.util.find_spec(name)
        used = spec.origin
        if used.endswith(".py") and spec.cached and os.path.exists(spec.cached):
            used = spec.cached
    else:
        used = importlib.import_module(name).__file__
    out[name] = os.path.relpath(used, root).replace(os.sep, "/")
print(json.dumps(out))
"#;

/// Unpack a wheel as an installer would (enough for pure wheels: everything at the root).
fn unpack(python: &Python, wheel: &Path, dest: &Path) {
    run_python(
        python,
        "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        &[wheel, dest],
    );
}

#[test]
fn artifacts_list_the_file_each_module_loads_from() {
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        let project = temp.path().join("demo");
        write_demo(&project);
        let facts = python.script(
            "import importlib.util, sys; print(int.from_bytes(importlib.util.MAGIC_NUMBER[:2], 'little'), sys.implementation.cache_tag)",
            &[],
        );
        let (magic, cache_tag) = facts.trim().split_once(' ').unwrap();
        for sourceless in [false, true] {
            let out = temp.path().join(format!("out-{sourceless}"));
            let mut build = Pyship::build(&project).python(&python).out(&out);
            for format in ["wheel", "dir", "zip", "zipapp"] {
                build = build.args(["-f", format]);
            }
            if sourceless {
                build = build.arg("--strip-sources");
            }
            for artifact in build.artifacts() {
                let context = format!("Python {} {}", python.version(), artifact.display());
                let got = inspect_json(&artifact);
                assert_eq!(got["kind"], "artifact", "{context}");
                let format = got["format"].as_str().unwrap().to_owned();
                assert_eq!(
                    got["targets"][0]["magic_number"].to_string(),
                    magic,
                    "{context}"
                );
                assert_eq!(got["targets"][0]["cache_tag"], cache_tag, "{context}");
                assert_eq!(got["targets"][0]["python"], python.version(), "{context}");
                assert_eq!(got["facts"]["format"], format.as_str(), "{context}");
                assert_eq!(got["facts"]["strip-sources"], sourceless, "{context}");
                // The zipapp's own `__main__.py` stub is a source in every case.
                let has_sources =
                    got["modules"].as_array().unwrap().iter().any(|module| {
                        module["module"] != "__main__" && !module["source"].is_null()
                    });
                assert_eq!(has_sources, !sourceless, "{context}: {got:#}");
                let mode = if sourceless {
                    "unchecked-hash"
                } else {
                    "checked-hash"
                };
                assert_eq!(
                    got["invalidation_modes"],
                    serde_json::json!([mode]),
                    "{context}"
                );
                if format == "wheel" {
                    let tag = if sourceless {
                        format!("cp3{}-none-any", python.minor)
                    } else {
                        "py3-none-any".to_owned()
                    };
                    assert_eq!(got["tags"], serde_json::json!([tag]), "{context}");
                }
                let modules: Vec<&str> = got["modules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|module| module["module"].as_str().unwrap())
                    .collect();
                for name in ["demo", "demo.core", "demo.extra"] {
                    assert!(modules.contains(&name), "{context}: {modules:?}");
                }
                let root = if format == "wheel" {
                    let root = temp.path().join(format!("unpacked-{sourceless}"));
                    unpack(&python, &artifact, &root);
                    root
                } else {
                    artifact.clone()
                };
                let mut args = vec![root.to_string_lossy().into_owned()];
                args.extend(modules.iter().map(|name| (*name).to_owned()));
                let script = format!(
                    "import sys; sys.argv[1:] = {}\n{LOADER_FILES}",
                    serde_json::to_string(&args).unwrap()
                );
                let used: Value = serde_json::from_str(&python.script(&script, &[])).unwrap();
                for module in got["modules"].as_array().unwrap() {
                    let name = module["module"].as_str().unwrap();
                    if let Some(file) = used.get(name) {
                        assert_eq!(
                            &module["loads"][0]["file"], file,
                            "{context}: module {name}"
                        );
                    }
                }
            }
        }
    }
}

/// Replace what differs between machines and versions in inspect's JSON.
fn normalize(text: &str, python: &Python, magic: &str) -> String {
    text.replace(&format!("cpython-3{}", python.minor), "cpython-3X")
        .replace(&format!("\"{}\"", python.version()), "\"3.X\"")
        .replace(&format!("cp3{}", python.minor), "cp3X")
        .replace(magic, "MAGIC")
        .replace(env!("CARGO_PKG_VERSION"), "VERSION")
}

#[test]
fn inspect_json_is_stable() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let magic = python.script(
        "import importlib.util; print(int.from_bytes(importlib.util.MAGIC_NUMBER[:2], 'little'))",
        &[],
    );
    let magic = magic.trim();
    let mut texts = Vec::new();
    for _ in 0..2 {
        let temp = tempfile::tempdir().unwrap();
        let project = temp.path().join("demo");
        write_demo(&project);
        let wheel = Pyship::build(&project)
            .python(&python)
            .out(&temp.path().join("out"))
            .args(["-O", "--strip-sources", "--keep-source", "demo/extra.py"])
            .artifact();
        let output = Pyship::new(["inspect", "--json"]).arg(&wheel).succeeds();
        texts.push(normalize(
            &String::from_utf8(output.stdout).unwrap(),
            &python,
            magic,
        ));
    }
    assert_eq!(
        texts[0], texts[1],
        "two builds at two paths inspect differently"
    );
    insta::assert_snapshot!(texts[0], @r#"
    {
      "kind": "artifact",
      "format": "wheel",
      "facts": {
        "format": "wheel",
        "keep-source": [
          "demo/extra.py"
        ],
        "optimize": 1,
        "pyship": "VERSION",
        "source-date-epoch": 315532800,
        "strip-sources": true,
        "targets": [
          {
            "cache-tag": "cpython-3X",
            "magic-number": MAGIC,
            "python": "3.X"
          }
        ]
      },
      "targets": [
        {
          "python": "3.X",
          "magic_number": MAGIC,
          "cache_tag": "cpython-3X"
        }
      ],
      "tags": [
        "cp3X-none-any"
      ],
      "invalidation_modes": [
        "checked-hash",
        "unchecked-hash"
      ],
      "sources_present": true,
      "modules": [
        {
          "module": "demo",
          "source": null,
          "loads": [
            {
              "python": "3.X",
              "file": "demo/__init__.pyc",
              "how": "legacy"
            }
          ]
        },
        {
          "module": "demo.core",
          "source": null,
          "loads": [
            {
              "python": "3.X",
              "file": "demo/core.pyc",
              "how": "legacy"
            }
          ]
        },
        {
          "module": "demo.extra",
          "source": "demo/extra.py",
          "loads": [
            {
              "python": "3.X",
              "file": "demo/__pycache__/extra.cpython-3X.opt-1.pyc",
              "how": "pycache"
            }
          ]
        }
      ]
    }
    "#);
}

#[test]
fn inspect_refuses_what_is_not_an_artifact_with_one_error() {
    let temp = tempfile::tempdir().unwrap();
    let text = temp.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let zip = temp.path().join("broken.zip");
    std::fs::write(&zip, "PK not really").unwrap();
    let pyc = temp.path().join("short.pyc");
    std::fs::write(&pyc, b"\x00\x01").unwrap();
    let missing = temp.path().join("missing.whl");
    for (path, needle) in [
        (&missing, "does not exist"),
        (&text, "is not a `.pyc`, wheel, zip, zipapp or directory"),
        (&zip, "is not a zip archive"),
        (&pyc, "shorter than its 16-byte header"),
    ] {
        let output = Pyship::new(["inspect"]).arg(path).fails(2);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
    }
}

/// Build the demo for `python` with `args` into `out`, from a project at `dir`.
fn build_demo(dir: &Path, out: &Path, python: &Python, args: &[&str]) -> PathBuf {
    if !dir.exists() {
        write_demo(dir);
    }
    Pyship::build(dir)
        .python(python)
        .out(out)
        .args(args)
        .artifact()
}

fn verify(artifact: &Path, source: &Path) -> Pyship {
    Pyship::new(["verify"])
        .arg(artifact)
        .arg("--source")
        .arg(source)
}

#[test]
fn an_honest_artifact_verifies_from_a_copy_of_its_sources_elsewhere() {
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        let built_from = temp.path().join("here/demo");
        let copy = temp.path().join("elsewhere/checkout/demo");
        write_demo(&built_from);
        write_demo(&copy);
        for args in [
            &["-f", "wheel"][..],
            &["-f", "dir", "-OO"],
            &[
                "-f",
                "zip",
                "--strip-sources",
                "--invalidation-mode",
                "timestamp",
            ],
            &["-f", "zipapp", "--dfile-prefix", "/app/"],
        ] {
            let out = temp.path().join(args.join("_").replace('/', ""));
            let artifact = build_demo(&built_from, &out, &python, args);
            let output = verify(&artifact, &copy)
                .context(python.version())
                .succeeds();
            assert!(output.stdout.is_empty(), "{output:?}");
            let stderr = String::from_utf8(output.stderr).unwrap();
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(stderr.starts_with("Verified "), "{stderr}");
        }
    }
}

/// Run `script` with `python` (`sys.argv[1:]` = `args`); its stdout.
fn run_python(python: &Python, script: &str, args: &[&Path]) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|path| path.to_string_lossy().into_owned())
        .collect();
    python.script(
        &format!(
            "import sys; sys.argv[1:] = {}\n{script}",
            serde_json::to_string(&args).unwrap()
        ),
        &[],
    )
}

/// Change one byte of the last code byte of `member` in the wheel, and rewrite its RECORD line
/// so the wheel stays consistent: only a rebuild can tell.
const TAMPER_WHEEL: &str = r#"
import base64, hashlib, sys, zipfile
path, member = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(path) as z:
    items = [(info, z.read(info)) for info in z.infolist()]
def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
out = []
for info, data in items:
    if info.filename == member:
        data = data[:-1] + bytes([data[-1] ^ 1])
        new = data
    out.append([info, data])
for item in out:
    if item[0].filename.endswith(".dist-info/RECORD"):
        lines = []
        for line in item[1].decode().splitlines():
            if line.startswith(member + ","):
                line = "%s,%s,%d" % (member, digest(new), len(new))
            lines.append(line)
        item[1] = ("\n".join(lines) + "\n").encode()
with zipfile.ZipFile(path, "w") as z:
    for info, data in out:
        z.writestr(info, data)
"#;

#[test]
fn verify_names_each_changed_added_or_missing_module() {
    let all = pythons();
    let Some(python) = all.last() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let project = temp.path().join("demo");
    write_demo(&project);
    let expect = |artifact: &Path, lines: &[&str], context: &str| {
        let output = verify(artifact, &project).context(context).fails(1);
        let stdout = String::from_utf8(output.stdout).unwrap();
        for line in lines {
            assert!(
                stdout.lines().any(|got| got == *line),
                "{context}: no `{line}` in:\n{stdout}"
            );
        }
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{context}: {stderr}");
        assert!(stderr.starts_with("error: "), "{context}: {stderr}");
    };

    // One byte of a pyc, in a wheel whose RECORD was made to agree.
    let wheel = build_demo(&project, &temp.path().join("wheel"), python, &[]);
    let cached = format!("demo/__pycache__/core.cpython-3{}.pyc", python.minor);
    run_python(python, TAMPER_WHEEL, &[&wheel, Path::new(&cached)]);
    expect(
        &wheel,
        &[&format!("differs: {cached} (module demo.core)")],
        "one byte in a wheel",
    );

    // One byte of a sourceless pyc in a directory.
    let dir = build_demo(
        &project,
        &temp.path().join("dir"),
        python,
        &["-f", "dir", "--strip-sources"],
    );
    let pyc = dir.join("demo/extra.pyc");
    let mut bytes = std::fs::read(&pyc).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&pyc, bytes).unwrap();
    expect(
        &dir,
        &["differs: demo/extra.pyc (module demo.extra)"],
        "one byte in a dir",
    );

    // A module added, one removed.
    let dir = build_demo(&project, &temp.path().join("dir2"), python, &["-f", "dir"]);
    std::fs::write(dir.join("demo/added.py"), "x = 1\n").unwrap();
    std::fs::remove_file(dir.join("demo/extra.py")).unwrap();
    expect(
        &dir,
        &[
            "added: demo/added.py (module demo.added)",
            "missing: demo/extra.py (module demo.extra)",
        ],
        "added and removed",
    );

    // A pyc of another optimize level in its place.
    let zip = build_demo(
        &project,
        &temp.path().join("zip0"),
        python,
        &["-f", "zip", "--strip-sources"],
    );
    let optimized = build_demo(
        &project,
        &temp.path().join("zip1"),
        python,
        &["-f", "zip", "--strip-sources", "-O"],
    );
    let swap = r#"
import sys, zipfile
path, other, member = sys.argv[1:]
with zipfile.ZipFile(other) as z:
    replacement = z.read(member)
with zipfile.ZipFile(path) as z:
    items = [(info, replacement if info.filename == member else z.read(info)) for info in z.infolist()]
with zipfile.ZipFile(path, "w") as z:
    for info, data in items:
        z.writestr(info, data)
"#;
    run_python(
        python,
        swap,
        &[&zip, &optimized, Path::new("demo/core.pyc")],
    );
    expect(
        &zip,
        &["differs: demo/core.pyc (module demo.core)"],
        "another optimize level",
    );

    // A pyc of another target in its place.
    if let Some(other) = all.iter().find(|other| other.minor != python.minor) {
        let zip = build_demo(
            &project,
            &temp.path().join("zip-this"),
            python,
            &["-f", "zip", "--strip-sources"],
        );
        let theirs = build_demo(
            &project,
            &temp.path().join("zip-other"),
            other,
            &["-f", "zip", "--strip-sources"],
        );
        run_python(python, swap, &[&zip, &theirs, Path::new("demo/extra.pyc")]);
        expect(
            &zip,
            &["differs: demo/extra.pyc (module demo.extra)"],
            "another target",
        );
        // Rebuilding with another target than the recorded one is refused.
        let output = verify(&zip, &project).arg("-p").arg(&other.path).fails(2);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.starts_with("error: None of the `-p` interpreters is Python"),
            "{stderr}"
        );
    }
}

#[test]
fn verify_without_a_record_is_one_error() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("bundle");
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("pkg/__init__.py"), "").unwrap();
    let output = verify(&dir, &dir).fails(2);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("records no build facts"), "{stderr}");
}

#[test]
fn every_target_of_a_shared_wheel_is_recorded_and_verified() {
    let all = pythons();
    if all.len() < 2 {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let project = temp.path().join("demo");
    write_demo(&project);
    let (first, second) = (&all[0], &all[all.len() - 1]);
    let wheel = Pyship::build(&project)
        .python(first)
        .python(second)
        .out(&temp.path().join("out"))
        .artifact();
    let got = inspect_json(&wheel);
    let recorded: Vec<&str> = got["facts"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|target| target["python"].as_str().unwrap())
        .collect();
    assert_eq!(recorded, [first.version(), second.version()]);
    for module in got["modules"].as_array().unwrap() {
        assert_eq!(module["loads"].as_array().unwrap().len(), 2, "{module}");
    }
    let copy = temp.path().join("copy/demo");
    write_demo(&copy);
    verify(&wheel, &copy).succeeds();
}

#[test]
fn an_artifact_built_again_from_itself_carries_one_record() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let modules = temp.path().join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::write(modules.join("app.py"), "x = 1\n").unwrap();
    let first = Pyship::build(&modules)
        .python(&python)
        .out(&temp.path().join("one"))
        .artifact();
    assert!(first.join(".pyship.json").is_file());
    let second = Pyship::build(&first)
        .python(&python)
        .out(&temp.path().join("two"))
        .args(["-O"])
        .artifact();
    let facts: Value =
        serde_json::from_slice(&std::fs::read(second.join(".pyship.json")).unwrap()).unwrap();
    assert_eq!(facts["optimize"], 1);
    verify(&second, &first).succeeds();
}
