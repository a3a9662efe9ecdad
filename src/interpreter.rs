//! Find and probe target CPython interpreters.
//!
//! A target is named by a path, a command (`python3.12`) or a version (`3.12`), looked up on
//! `PATH` and in pyenv. Each is probed once for its version, magic number and cache tag.

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
    /// Nothing matched the name or version.
    #[error("No Python interpreter found for `{spec}` (looked on PATH and in pyenv)")]
    NotFound {
        /// What the user asked for.
        spec: String,
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

/// The pyenv root: `$PYENV_ROOT`, else `~/.pyenv`.
fn pyenv_root() -> Option<PathBuf> {
    std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pyenv")))
}

/// `python3` of every pyenv-installed version, newest patch release last.
fn pyenv_executables() -> Vec<PathBuf> {
    let Some(versions) = pyenv_root().map(|root| root.join("versions")) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u32>, PathBuf)> = fs_err::read_dir(&versions)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let key: Option<Vec<u32>> = name.split('.').map(|part| part.parse().ok()).collect();
            let executable = entry.path().join("bin").join("python3");
            Some((key?, executable)).filter(|(_, executable)| executable.is_file())
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|(_, executable)| executable)
        .collect()
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

/// Resolve a `-p/--python` value: a path, a command on `PATH`, or a version found on `PATH` or
/// in pyenv.
pub fn resolve(spec: &str) -> Result<Interpreter, InterpreterError> {
    let not_found = || InterpreterError::NotFound {
        spec: spec.to_owned(),
    };
    if spec.contains(std::path::MAIN_SEPARATOR) || spec.contains('/') {
        let path = Path::new(spec);
        if !path.exists() {
            return Err(not_found());
        }
        return probe(path);
    }
    let wanted = parse_version_spec(spec).or_else(|| {
        spec.strip_prefix("python")
            .and_then(parse_version_spec)
            .filter(|_| spec.contains('.'))
    });
    if let Some((major, minor)) = wanted {
        let name = format!("python{major}.{minor}");
        let candidates = which(&name, &path_dirs()).into_iter().chain(
            pyenv_executables().into_iter().rev().filter(|executable| {
                executable
                    .ancestors()
                    .nth(2)
                    .and_then(Path::file_name)
                    .and_then(|version| version.to_str())
                    .and_then(|version| {
                        let mut parts = version.split('.');
                        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
                    })
                    == Some((major, minor))
            }),
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
        return Err(timed_out.unwrap_or_else(not_found));
    }
    // A plain command such as `python3`: PATH as the user sees it, shims included.
    let all_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    let executable = which(spec, &all_dirs).ok_or_else(not_found)?;
    probe(&executable)
}

/// Every CPython pyship can target, from `PATH` and pyenv, deduplicated by executable and
/// sorted newest first.
pub fn find_all() -> Vec<Interpreter> {
    let dirs = path_dirs();
    let mut candidates: Vec<PathBuf> = Vec::new();
    for dir in &dirs {
        for minor in (MIN_MINOR..=MAX_MINOR).rev() {
            candidates.extend(which(
                &format!("python3.{minor}"),
                std::slice::from_ref(dir),
            ));
        }
        candidates.extend(which("python3", std::slice::from_ref(dir)));
    }
    candidates.extend(pyenv_executables());
    let probed: Vec<Interpreter> = std::thread::scope(|scope| {
        let handles: Vec<_> = candidates
            .iter()
            .map(|candidate| scope.spawn(move || probe(candidate).ok()))
            .collect();
        handles
            .into_iter()
            .filter_map(|handle| handle.join().ok().flatten())
            .collect()
    });
    let mut seen = std::collections::HashSet::new();
    let mut found: Vec<Interpreter> = probed
        .into_iter()
        .filter(|interpreter| {
            let key = fs_err::canonicalize(&interpreter.executable)
                .unwrap_or_else(|_| interpreter.executable.clone());
            seen.insert(key)
        })
        .collect();
    found.sort_by_key(|interpreter| std::cmp::Reverse(interpreter.version));
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
