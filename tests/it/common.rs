//! Shared test helpers: the CPython interpreters to test against, fixtures, running pyship.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// A CPython found on this machine.
#[derive(Debug, Clone)]
pub struct Python {
    /// The executable.
    pub path: PathBuf,
    /// Minor version: 12 for 3.12.
    pub minor: u8,
}

impl Python {
    /// `3.12`
    pub fn version(&self) -> String {
        format!("3.{}", self.minor)
    }

    /// Run this interpreter with `args`, returning its output.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.path)
            .args(args)
            .output()
            .expect("failed to run python")
    }

    /// Run a script with `-c`, panicking with stderr on failure; returns stdout.
    pub fn script(&self, code: &str, env: &[(&str, &str)]) -> String {
        self.script_with(code, &[], env)
    }

    /// [`Python::script`] with `sys.argv[1:]` set to `args`.
    pub fn script_args(&self, code: &str, args: &[&str]) -> String {
        self.script_with(code, args, &[])
    }

    fn script_with(&self, code: &str, args: &[&str], env: &[(&str, &str)]) -> String {
        let output = Command::new(&self.path)
            .args(["-I", "-c", code])
            .args(args)
            .envs(env.iter().copied())
            .output()
            .expect("failed to run python");
        assert!(
            output.status.success(),
            "python {} failed:\n{}",
            self.version(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

fn probe(path: &Path) -> Option<Python> {
    let output = Command::new(path)
        .args([
            "-I",
            "-c",
            "import sys; print(sys.version_info[0], sys.version_info[1])",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let mut parts = text.split_whitespace();
    let major: u8 = parts.next()?.parse().ok()?;
    let minor: u8 = parts.next()?.parse().ok()?;
    (output.status.success() && major == 3 && minor >= 8).then(|| Python {
        path: path.to_path_buf(),
        minor,
    })
}

/// Every CPython 3.8+ under pyenv, one per minor version, newest patch release; where there is
/// none, `python3` alone. Prints what it found so a skipped version is visible in the log.
/// Finding none fails under `CI` (a CI machine without Python is broken) and skips elsewhere.
pub fn pythons() -> Vec<Python> {
    let mut found: Vec<Python> = Vec::new();
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pyenv")));
    if let Some(versions) = root.map(|root| root.join("versions")) {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&versions)
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .collect();
        dirs.sort();
        for dir in dirs {
            if let Some(python) = probe(&dir.join("bin").join("python3")) {
                found.retain(|other| other.minor != python.minor);
                found.push(python);
            }
        }
    }
    if found.is_empty() {
        for name in ["python3", "python"] {
            if let Some(python) = probe(Path::new(name)) {
                found.push(python);
                break;
            }
        }
    }
    found.sort_by_key(|python| python.minor);
    if found.is_empty() {
        // A CI machine without Python is broken, not green: fail there, skip on a laptop.
        assert!(
            std::env::var_os("CI").is_none_or(|value| value.is_empty() || value == "false"),
            "no CPython 3.8+ found (pyenv or python3 on PATH) and CI is set: the test machine is broken"
        );
        eprintln!("note: no CPython 3.8+ found; tests that need one are skipped");
    } else {
        let names: Vec<String> = found.iter().map(Python::version).collect();
        eprintln!("note: testing against CPython {}", names.join(", "));
    }
    found
}

/// `tests/python`: Python modules the tests' scripts import (`samecode.same`).
pub fn python_helpers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The fixture directory `fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Copy `fixtures/<name>` into a fresh temporary directory; returns (guard, project path).
pub fn copy_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dest = temp.path().join(name);
    copy_tree(&fixture(name), &dest);
    (temp, dest)
}

/// Recursively copy a directory (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A `pyship` command for the binary under test. Each command gets its own empty compile cache
/// under the target directory, so no test writes to the real `~/.cache` or sees another run's
/// entries; a test about the cache sets `PYSHIP_CACHE_DIR` (or `--cache-dir`) itself.
pub fn pyship() -> assert_cmd::Command {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cache-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut command = assert_cmd::Command::cargo_bin("pyship").unwrap();
    command
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("XDG_CACHE_HOME")
        .env("PYSHIP_CACHE_DIR", cache)
        .env("NO_COLOR", "1");
    command
}

/// A `pyship` command line being put together, then run expecting success or one exit code:
/// `Pyship::build(&project).out(&out).python(&python).args(["-f", "zip"]).succeeds()`.
/// Arguments are passed in the order they are given. It runs in the environment of [`pyship`].
pub struct Pyship {
    command: assert_cmd::Command,
    /// The arguments, for the message of a run that ends otherwise than expected.
    shown: Vec<OsString>,
    context: Option<String>,
}

impl Pyship {
    /// `pyship ARGS`.
    pub fn new(args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Self {
        Self {
            command: pyship(),
            shown: Vec::new(),
            context: None,
        }
        .args(args)
    }

    /// `pyship build SOURCE`.
    pub fn build(source: &Path) -> Self {
        Self::new([OsStr::new("build"), source.as_os_str()])
    }

    /// `pyship compile`; the paths follow as [`Pyship::arg`]s.
    pub fn compile() -> Self {
        Self::new(["compile"])
    }

    /// `-o DIR`
    pub fn out(self, dir: &Path) -> Self {
        self.arg("-o").arg(dir)
    }

    /// `-p PYTHON`
    pub fn python(self, python: &Python) -> Self {
        self.arg("-p").arg(&python.path)
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.command.arg(arg.as_ref());
        self.shown.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args(self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Self {
        args.into_iter().fold(self, Self::arg)
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.command.env_remove(key);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Kill the run after `limit` (it then fails with no exit code).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.command.timeout(limit);
        self
    }

    /// What this run is about, shown first when it ends otherwise than expected.
    pub fn context(mut self, context: impl Display) -> Self {
        self.context = Some(context.to_string());
        self
    }

    /// Run it, whatever the outcome.
    pub fn output(mut self) -> Output {
        self.command.output().unwrap()
    }

    /// Run it; panics, showing the command, stderr and stdout, unless it exits 0.
    #[track_caller]
    pub fn succeeds(self) -> Output {
        self.exits(0)
    }

    /// Run it; panics, showing the command, stderr and stdout, unless it exits with `code`.
    #[track_caller]
    pub fn fails(self, code: i32) -> Output {
        assert_ne!(code, 0, "use `succeeds`");
        self.exits(code)
    }

    /// [`Pyship::succeeds`], returning the artifact paths printed on stdout, one a line.
    #[track_caller]
    pub fn artifacts(self) -> Vec<PathBuf> {
        String::from_utf8(self.succeeds().stdout)
            .unwrap()
            .lines()
            .map(PathBuf::from)
            .collect()
    }

    /// [`Pyship::artifacts`], expecting exactly one.
    #[track_caller]
    pub fn artifact(self) -> PathBuf {
        let mut paths = self.artifacts();
        assert_eq!(paths.len(), 1, "{paths:?}");
        paths.pop().unwrap()
    }

    #[track_caller]
    fn exits(self, code: i32) -> Output {
        let line: Vec<String> = self
            .shown
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        let context = self.context.clone();
        let output = self.output();
        assert!(
            output.status.code() == Some(code),
            "{}`pyship {}` ended with {}, expected exit code {code}\n\
             --- stderr ---\n{}\n--- stdout ---\n{}",
            context.map(|context| context + ": ").unwrap_or_default(),
            line.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout),
        );
        output
    }
}

/// Assert that `output`'s stderr contains `needle`, showing the whole stderr when it does not.
pub fn assert_stderr_contains(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(needle),
        "expected {needle:?} in stderr:\n{stderr}"
    );
}
