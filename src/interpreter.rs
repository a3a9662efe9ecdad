//! Find and probe target CPython interpreters.
//!
//! A target is named by a path, a command (`python3.12`) or a version (`3.12`), looked up on
//! `PATH`, in pyenv and among uv's managed Pythons. Each is probed once for its version, magic
//! number and cache tag.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::process::{self, WaitError};

/// The environment variable that sets the probe's deadline, in seconds.
pub const PROBE_TIMEOUT_ENV: &str = "PYSHIP_PROBE_TIMEOUT";

/// How long an interpreter may take to say what it is: a cold start on a slow disk takes a
/// second or two, a hanging one forever.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// The target of a build without `-p`, resolved as any command is.
pub const DEFAULT_PYTHON: &str = "python3";

/// Oldest CPython minor version pyship targets.
pub const MIN_MINOR: u8 = 8;
/// Newest CPython minor version pyship targets.
pub const MAX_MINOR: u8 = 14;

/// A CPython version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Always 3.
    pub major: u8,
    /// e.g. 12 for 3.12.
    pub minor: u8,
    /// e.g. 1 for 3.12.1.
    pub micro: u8,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// A probed target interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// The executable to run.
    pub executable: PathBuf,
    /// Its version.
    pub version: Version,
    /// `importlib.util.MAGIC_NUMBER`: the first four bytes of every `.pyc` it writes.
    pub magic: [u8; 4],
    /// `sys.implementation.cache_tag`, e.g. `cpython-312`.
    pub cache_tag: String,
}

impl Interpreter {
    /// `3.12`
    pub fn short_version(&self) -> String {
        format!("{}.{}", self.version.major, self.version.minor)
    }
}

/// Why a target interpreter could not be used.
#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    /// Nothing matched the version.
    #[error(
        "No Python interpreter found for `{spec}` (looked on PATH, in pyenv and among uv's Pythons)"
    )]
    NotFound {
        /// What the user asked for.
        spec: String,
    },
    /// No such command on `PATH`.
    #[error("No `{command}` on PATH")]
    NotOnPath {
        /// The command, e.g. `python3`.
        command: String,
    },
    /// An explicit path that names nothing.
    #[error("`{}` does not exist", path.display())]
    NoSuchFile {
        /// The path given.
        path: PathBuf,
    },
    /// A version asked for that pyship cannot target, whether or not it is installed.
    #[error("{}", out_of_range(*major, *minor))]
    VersionOutOfRange {
        /// e.g. 2 for `2.7`.
        major: u8,
        /// e.g. 7 for `2.7`.
        minor: u8,
    },
    /// The file ran but did not answer like CPython.
    #[error("`{}` is not a Python interpreter", path.display())]
    NotPython {
        /// The executable.
        path: PathBuf,
    },
    /// A Python, but not CPython.
    #[error("`{}` is {implementation}, but pyship targets CPython only", path.display())]
    NotCPython {
        /// The executable.
        path: PathBuf,
        /// `sys.implementation.name`.
        implementation: String,
    },
    /// The probe did not answer in time (a hanging `python3.X` on `PATH`).
    #[error(
        "`{}` did not answer within {} when asked its version, and was killed (set {PROBE_TIMEOUT_ENV} to wait longer)",
        path.display(),
        crate::support::process::seconds(*deadline)
    )]
    TimedOut {
        /// The executable.
        path: PathBuf,
        /// How long pyship waited.
        deadline: Duration,
    },
    /// An interrupt stopped the probe.
    #[error("Interrupted")]
    Interrupted,
    /// A CPython outside the supported range.
    #[error(
        "Python {version} at `{}` is not supported: pyship targets CPython 3.{MIN_MINOR} to 3.{MAX_MINOR}",
        path.display()
    )]
    Unsupported {
        /// The executable.
        path: PathBuf,
        /// Its version.
        version: Version,
    },
}

/// Why `-p MAJOR.MINOR` cannot be a target.
fn out_of_range(major: u8, minor: u8) -> String {
    let range = format!("CPython 3.{MIN_MINOR} to 3.{MAX_MINOR}");
    match (major, minor) {
        (3, minor) if minor < MIN_MINOR => {
            format!("Python 3.{minor} is below the supported range, {range}")
        }
        (3, minor) => format!("Python 3.{minor} is above the supported range, {range}"),
        (2, _) => format!("Python 2 is not supported: pyship targets {range}"),
        (major, minor) => {
            format!("Python {major}.{minor} is not supported: pyship targets {range}")
        }
    }
}

impl InterpreterError {
    /// What the user can do about it, printed as a `hint:` line under the error.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            InterpreterError::NotFound { .. }
            | InterpreterError::NotOnPath { .. }
            | InterpreterError::NoSuchFile { .. } => {
                Some("`pyship pythons` lists the interpreters found; `-p` also takes a path")
            }
            InterpreterError::NotPython { .. }
            | InterpreterError::NotCPython { .. }
            | InterpreterError::Unsupported { .. }
            | InterpreterError::VersionOutOfRange { .. } => {
                Some("`pyship pythons` lists the interpreters pyship can target")
            }
            // The message says how to wait longer; an interrupt needs no fix.
            InterpreterError::TimedOut { .. } | InterpreterError::Interrupted => None,
        }
    }
}

/// What the probe script prints: `IMPLEMENTATION MAJOR MINOR MICRO MAGIC CACHE_TAG EXECUTABLE`,
/// the magic number and the executable's UTF-8 (surrogate-escaped) bytes in hex. It runs with
/// `-I -S` and imports nothing, so it costs ~10 ms where `site`, `json` and `importlib.util`
/// made it ~60 ms: a no-change rebuild spends most of its time here.
const PROBE_SCRIPT: &str = "import sys; \
from importlib._bootstrap_external import MAGIC_NUMBER as m; \
sys.stdout.write('%s %d %d %d %s %s %s' % (sys.implementation.name, *sys.version_info[:3], \
m.hex(), sys.implementation.cache_tag, \
sys.executable.encode('utf-8', 'surrogateescape').hex()))";

/// The fields of the probe's answer, or `None` if it is not one.
struct Probe {
    implementation: String,
    version: Version,
    magic: [u8; 4],
    cache_tag: String,
    /// Empty when Python does not know it.
    executable: PathBuf,
}

impl Probe {
    fn parse(output: &[u8]) -> Option<Probe> {
        let text = std::str::from_utf8(output).ok()?;
        let fields: Vec<&str> = text.split(' ').collect();
        let [
            implementation,
            major,
            minor,
            micro,
            magic,
            cache_tag,
            executable,
        ] = fields[..]
        else {
            return None;
        };
        let executable = decode_hex(executable)?;
        #[cfg(unix)]
        let executable = PathBuf::from(
            <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(executable),
        );
        #[cfg(not(unix))]
        let executable = PathBuf::from(String::from_utf8(executable).ok()?);
        Some(Probe {
            implementation: implementation.to_owned(),
            version: Version {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                micro: micro.parse().ok()?,
            },
            magic: decode_hex(magic)?.try_into().ok()?,
            // `None` when the implementation caches no bytecode.
            cache_tag: Some(cache_tag).filter(|tag| *tag != "None")?.to_owned(),
            executable,
        })
    }
}

/// Run `path` once and ask it what it is.
pub fn probe(path: &Path) -> Result<Interpreter, InterpreterError> {
    let not_python = || InterpreterError::NotPython {
        path: path.to_path_buf(),
    };
    let mut command = Command::new(path);
    command.args(["-I", "-S", "-c", PROBE_SCRIPT]);
    let deadline = process::deadline_from_env(PROBE_TIMEOUT_ENV, DEFAULT_PROBE_TIMEOUT);
    let output = process::output(command, deadline).map_err(|err| match err {
        WaitError::TimedOut(deadline) => InterpreterError::TimedOut {
            path: path.to_path_buf(),
            deadline,
        },
        WaitError::Interrupted => InterpreterError::Interrupted,
        WaitError::Spawn(_) | WaitError::Wait(_) => not_python(),
    })?;
    if !output.status.success() {
        return Err(not_python());
    }
    let probe = Probe::parse(&output.stdout).ok_or_else(not_python)?;
    let version = probe.version;
    if probe.implementation != "cpython" {
        return Err(InterpreterError::NotCPython {
            path: path.to_path_buf(),
            implementation: probe.implementation,
        });
    }
    if version.major != 3 || !(MIN_MINOR..=MAX_MINOR).contains(&version.minor) {
        return Err(InterpreterError::Unsupported {
            path: path.to_path_buf(),
            version,
        });
    }
    let executable = if probe.executable.as_os_str().is_empty() {
        path.to_path_buf()
    } else {
        probe.executable
    };
    Ok(Interpreter {
        executable,
        version,
        magic: probe.magic,
        cache_tag: probe.cache_tag,
    })
}

/// Bytes from lowercase or uppercase hex digits.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Parse `3.12` (or `3.12.1`, `312` is not accepted) into (major, minor).
fn parse_version_spec(spec: &str) -> Option<(u8, u8)> {
    let mut parts = spec.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((major, minor))
}

/// Where an interpreter was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A `python3.X` or `python3` on `PATH`.
    Path,
    /// `$PYENV_ROOT/versions/X.Y.Z`.
    Pyenv,
    /// uv's managed Pythons (`uv python dir`).
    Uv,
}

impl Source {
    /// `path`, `pyenv` or `uv`, as `pyship pythons` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Source::Path => "path",
            Source::Pyenv => "pyenv",
            Source::Uv => "uv",
        }
    }
}

/// An interpreter installed by pyenv or uv, known by its directory before it is probed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Install {
    /// (major, minor) as the directory names it.
    version: (u8, u8),
    /// The directory's version numbers, to order patch releases.
    order: Vec<u32>,
    executable: PathBuf,
    source: Source,
}

/// A variable's value, unless unset or empty.
fn env_var(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|value| !value.is_empty())
}

/// The pyenv root: `$PYENV_ROOT`, else `~/.pyenv`.
fn pyenv_root() -> Option<PathBuf> {
    env_var("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| env_var("HOME").map(|home| PathBuf::from(home).join(".pyenv")))
}

/// uv's managed Pythons, as `uv python dir` finds them (uv need not be installed):
/// `$UV_PYTHON_INSTALL_DIR`, else `$XDG_DATA_HOME/uv/python` (an absolute one), else
/// `~/.local/share/uv/python`; on Windows `%APPDATA%\uv\data\python`.
fn uv_python_dir() -> Option<PathBuf> {
    uv_python_dir_from(
        env_var("UV_PYTHON_INSTALL_DIR"),
        // uv reads the XDG variables on Unix and macOS only.
        env_var("XDG_DATA_HOME").filter(|_| !cfg!(windows)),
        if cfg!(windows) {
            env_var("APPDATA")
        } else {
            env_var("HOME")
        },
    )
}

fn uv_python_dir_from(
    install_dir: Option<std::ffi::OsString>,
    xdg_data_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    if let Some(dir) = install_dir {
        return Some(PathBuf::from(dir));
    }
    if let Some(data) = xdg_data_home
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
    {
        return Some(data.join("uv").join("python"));
    }
    let home = PathBuf::from(home?);
    Some(if cfg!(windows) {
        home.join("uv").join("data").join("python")
    } else {
        home.join(".local").join("share").join("uv").join("python")
    })
}

/// The version numbers of a pyenv version directory (`3.12.1`), `None` for anything else
/// (`3.13.0t`, `miniconda3-latest`, a virtualenv).
fn pyenv_version(name: &str) -> Option<Vec<u32>> {
    let order: Option<Vec<u32>> = name.split('.').map(|part| part.parse().ok()).collect();
    order.filter(|order| order.len() >= 2)
}

/// The version numbers of a uv install directory, `cpython-3.12.7-linux-x86_64-gnu` or
/// `cpython-3.13.0+freethreaded-linux-x86_64-gnu`; `None` for PyPy, GraalPy and uv's own files.
fn uv_version(name: &str) -> Option<Vec<u32>> {
    let version = name.strip_prefix("cpython-")?.split(['-', '+']).next()?;
    // A pre-release (`3.14.0rc2`) orders by its leading digits.
    let order: Option<Vec<u32>> = version
        .split('.')
        .map(|part| {
            let digits = part
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(part.len());
            part[..digits].parse().ok()
        })
        .collect();
    order.filter(|order| order.len() >= 2)
}

/// The installs under `dir`: each entry whose name `version` reads, with the first of
/// `executables(minor)` that is a file. Oldest first.
fn installs(
    dir: Option<PathBuf>,
    source: Source,
    version: fn(&str) -> Option<Vec<u32>>,
    executables: fn(u32) -> Vec<PathBuf>,
) -> Vec<Install> {
    let Some(dir) = dir else {
        return Vec::new();
    };
    let mut found: Vec<Install> = fs_err::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let order = version(&entry.file_name().to_string_lossy())?;
            let major = u8::try_from(order[0]).ok()?;
            let minor = u8::try_from(order[1]).ok()?;
            let executable = executables(order[1])
                .into_iter()
                .map(|relative| entry.path().join(relative))
                .find(|executable| executable.is_file())?;
            Some(Install {
                version: (major, minor),
                order,
                executable,
                source,
            })
        })
        .collect();
    found.sort_by(|a, b| a.order.cmp(&b.order));
    found
}

/// Every pyenv and uv install, pyenv's first, each oldest first.
fn managed_installs() -> Vec<Install> {
    let mut found = installs(
        pyenv_root().map(|root| root.join("versions")),
        Source::Pyenv,
        pyenv_version,
        |_| vec![Path::new("bin").join("python3")],
    );
    found.extend(installs(
        uv_python_dir(),
        Source::Uv,
        uv_version,
        // A free-threaded build names its executable `python3.13t`; `python3` is in all.
        |minor| {
            vec![
                Path::new("bin").join(format!("python3.{minor}")),
                Path::new("bin").join("python3"),
                PathBuf::from("python.exe"),
            ]
        },
    ));
    found
}

/// Directories on `PATH`, without pyenv's shims: a shim runs whatever version pyenv has
/// selected, not necessarily the one its name promises.
fn path_dirs() -> Vec<PathBuf> {
    let shims = pyenv_root().map(|root| root.join("shims"));
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|dir| Some(dir) != shims.as_ref())
        .collect()
}

fn which(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter()
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Resolve a `-p/--python` value: a path, a command on `PATH`, or a version found on `PATH`,
/// in pyenv or among uv's Pythons.
pub fn resolve(spec: &str) -> Result<Interpreter, InterpreterError> {
    if spec.contains(std::path::MAIN_SEPARATOR) || spec.contains('/') {
        let path = Path::new(spec);
        if !path.exists() {
            return Err(InterpreterError::NoSuchFile {
                path: path.to_path_buf(),
            });
        }
        return probe(path);
    }
    let wanted = parse_version_spec(spec).or_else(|| {
        spec.strip_prefix("python")
            .and_then(parse_version_spec)
            .filter(|_| spec.contains('.'))
    });
    if let Some((major, minor)) = wanted {
        // Said before looking: that 2.7 or 3.7 is installed does not make it a target.
        if major != 3 || !(MIN_MINOR..=MAX_MINOR).contains(&minor) {
            return Err(InterpreterError::VersionOutOfRange { major, minor });
        }
        let name = format!("python{major}.{minor}");
        let candidates = which(&name, &path_dirs()).into_iter().chain(
            managed_installs()
                .into_iter()
                .filter(|install| install.version == (major, minor))
                .rev()
                .map(|install| install.executable),
        );
        let mut timed_out = None;
        for candidate in candidates {
            match probe(&candidate) {
                Ok(interpreter)
                    if (interpreter.version.major, interpreter.version.minor) == (major, minor) =>
                {
                    return Ok(interpreter);
                }
                Err(
                    err @ (InterpreterError::Unsupported { .. } | InterpreterError::Interrupted),
                ) => return Err(err),
                // Another candidate may answer; if none does, the hang is the news.
                Err(err @ InterpreterError::TimedOut { .. }) => {
                    timed_out.get_or_insert(err);
                }
                _ => {}
            }
        }
        return Err(timed_out.unwrap_or_else(|| InterpreterError::NotFound {
            spec: spec.to_owned(),
        }));
    }
    // A plain command such as `python3`: PATH as the user sees it, shims included.
    let all_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    let executable = which(spec, &all_dirs).ok_or_else(|| InterpreterError::NotOnPath {
        command: spec.to_owned(),
    })?;
    probe(&executable)
}

/// An interpreter `pyship pythons` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The probed interpreter.
    pub interpreter: Interpreter,
    /// Where it was found first.
    pub source: Source,
    /// Whether it is [`DEFAULT_PYTHON`], the target of a build without `-p`.
    pub default: bool,
}

/// Every CPython pyship can target, from `PATH`, pyenv and uv, deduplicated by executable
/// (after symlinks) and sorted newest first; the default marked.
pub fn find_all() -> Vec<Found> {
    let dirs = path_dirs();
    let mut candidates: Vec<(PathBuf, Source)> = Vec::new();
    for dir in &dirs {
        for minor in (MIN_MINOR..=MAX_MINOR).rev() {
            candidates.extend(
                which(&format!("python3.{minor}"), std::slice::from_ref(dir))
                    .map(|path| (path, Source::Path)),
            );
        }
        candidates
            .extend(which("python3", std::slice::from_ref(dir)).map(|path| (path, Source::Path)));
    }
    candidates.extend(
        managed_installs()
            .into_iter()
            .map(|install| (install.executable, install.source)),
    );
    let (default, probed) = std::thread::scope(|scope| {
        let default = scope.spawn(|| resolve(DEFAULT_PYTHON).ok());
        let handles: Vec<_> = candidates
            .iter()
            .map(|(candidate, source)| {
                scope.spawn(move || probe(candidate).ok().map(|found| (found, *source)))
            })
            .collect();
        let probed: Vec<(Interpreter, Source)> = handles
            .into_iter()
            .filter_map(|handle| handle.join().ok().flatten())
            .collect();
        (default.join().ok().flatten(), probed)
    });
    let key = |interpreter: &Interpreter| {
        fs_err::canonicalize(&interpreter.executable)
            .unwrap_or_else(|_| interpreter.executable.clone())
    };
    let default_key = default.as_ref().map(key);
    let mut seen = std::collections::HashSet::new();
    let mut found: Vec<Found> = probed
        .into_iter()
        .filter_map(|(interpreter, source)| {
            let key = key(&interpreter);
            let default = Some(&key) == default_key.as_ref();
            seen.insert(key).then_some(Found {
                interpreter,
                source,
                default,
            })
        })
        .collect();
    // A `python3` reached only through a shim or a directory not searched above.
    if let (Some(interpreter), Some(key)) = (default, default_key)
        && !seen.contains(&key)
    {
        found.push(Found {
            interpreter,
            source: Source::Path,
            default: true,
        });
    }
    found.sort_by_key(|found| std::cmp::Reverse(found.interpreter.version));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_specs() {
        assert_eq!(parse_version_spec("3.12"), Some((3, 12)));
        assert_eq!(parse_version_spec("3"), None);
        assert_eq!(parse_version_spec("3.12.1"), None);
        assert_eq!(parse_version_spec("python"), None);
    }

    #[test]
    fn install_directories_name_their_version() {
        assert_eq!(pyenv_version("3.12.1"), Some(vec![3, 12, 1]));
        assert_eq!(pyenv_version("2.7.18"), Some(vec![2, 7, 18]));
        for other in ["3.13.0t", "miniconda3-latest", "myenv", "3"] {
            assert_eq!(pyenv_version(other), None, "{other}");
        }
        assert_eq!(
            uv_version("cpython-3.12.7-linux-x86_64-gnu"),
            Some(vec![3, 12, 7])
        );
        assert_eq!(
            uv_version("cpython-3.13.0+freethreaded-linux-x86_64-gnu"),
            Some(vec![3, 13, 0])
        );
        assert_eq!(
            uv_version("cpython-3.14.0rc2-macos-aarch64-none"),
            Some(vec![3, 14, 0])
        );
        for other in [
            "pypy-3.10.14-linux-x86_64-gnu",
            "graalpy-24.1.0-linux-x86_64-gnu",
            ".lock",
            ".cache",
            "cpython-x-linux",
        ] {
            assert_eq!(uv_version(other), None, "{other}");
        }
    }

    #[test]
    fn uv_python_dir_is_found_as_uv_finds_it() {
        let some = |text: &str| Some(std::ffi::OsString::from(text));
        assert_eq!(
            uv_python_dir_from(some("/opt/uv"), some("/data"), some("/home/me")),
            Some(PathBuf::from("/opt/uv"))
        );
        assert_eq!(
            uv_python_dir_from(None, some("/data"), some("/home/me")),
            Some(PathBuf::from("/data/uv/python"))
        );
        // A relative XDG_DATA_HOME is ignored, as the XDG spec says.
        let home = uv_python_dir_from(None, some("data"), some("/home/me"));
        if cfg!(windows) {
            assert_eq!(home, Some(PathBuf::from("/home/me/uv/data/python")));
        } else {
            assert_eq!(home, Some(PathBuf::from("/home/me/.local/share/uv/python")));
        }
        assert_eq!(uv_python_dir_from(None, None, None), None);
    }

    #[test]
    fn versions_out_of_range_say_which_way() {
        assert_eq!(
            out_of_range(2, 7),
            format!(
                "Python 2 is not supported: pyship targets CPython 3.{MIN_MINOR} to 3.{MAX_MINOR}"
            )
        );
        assert!(out_of_range(3, MIN_MINOR - 1).contains("below the supported range"));
        assert!(out_of_range(3, MAX_MINOR + 1).contains("above the supported range"));
        assert!(out_of_range(4, 0).starts_with("Python 4.0 is not supported"));
    }

    #[test]
    fn probe_answers_are_parsed_strictly() {
        let probe =
            Probe::parse(b"cpython 3 12 1 cb0d0d0a cpython-312 2f7573722f62696e2f707974686f6e")
                .unwrap();
        assert_eq!(probe.implementation, "cpython");
        assert_eq!(
            (
                probe.version.major,
                probe.version.minor,
                probe.version.micro
            ),
            (3, 12, 1)
        );
        assert_eq!(probe.magic, [0xcb, 0x0d, 0x0d, 0x0a]);
        assert_eq!(probe.cache_tag, "cpython-312");
        assert_eq!(probe.executable, PathBuf::from("/usr/bin/python"));
        assert!(
            Probe::parse(b"cpython 3 12 1 cb0d0d0a cpython-312 ")
                .unwrap()
                .executable
                .as_os_str()
                .is_empty()
        );
        for bad in [
            &b"cpython 3 12 1 cb0d0d cpython-312 00"[..],
            b"cpython 3 12 1 zz0d0d0a cpython-312 00",
            b"cpython 3 12 1 cb0d0d0a None 00",
            b"cpython 3 12 cb0d0d0a cpython-312 00",
            b"cpython 3 12 1 cb0d0d0a cpython-312 0",
            b"{\"implementation\": \"cpython\"}",
        ] {
            assert!(
                Probe::parse(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
