//! Shared test helpers: the CPython interpreters to test against, fixtures, running pyship.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
        let output = Command::new(&self.path)
            .args(["-I", "-c", code])
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

/// Assert that `output`'s stderr contains `needle`, showing the whole stderr when it does not.
pub fn assert_stderr_contains(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(needle),
        "expected {needle:?} in stderr:\n{stderr}"
    );
}
