//! `--with-deps`: install the project's `[project.dependencies]` (and `-r/--requirement` files)
//! with the *target*
//! interpreter's own pip into a temporary directory, then scan it like the project.
//!
//! pip picks the wheels for the target's version and platform, so this runs once per target.
//! `--no-compile` because pyship compiles; pip's `bin/` scripts are dropped (they point at an
//! interpreter path that means nothing inside a bundle); `*.dist-info` stays so that
//! `importlib.metadata` works inside the bundle.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::staging::{self, Kind, StagingDir};

use crate::interpreter::Interpreter;
use crate::source::tree::{DiscoverError, Scan, discover};
use crate::support::process::{self, WaitError};

/// The environment variable that sets pip's deadline, in seconds.
pub const PIP_TIMEOUT_ENV: &str = "PYSHIP_PIP_TIMEOUT";

/// How long pip may take: downloads and sdist builds are slow, but not endless.
pub const DEFAULT_PIP_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Lines of pip's stderr quoted in an error.
const STDERR_TAIL_LINES: usize = 15;

/// Why the dependencies could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    /// pip could not be started.
    #[error("Failed to run pip with `{}`", python.display())]
    Spawn {
        /// The interpreter.
        python: PathBuf,
        /// Why.
        #[source]
        err: std::io::Error,
    },
    /// pip was still running at its deadline.
    #[error(
        "`{} -m pip install` did not finish within {} and was killed (set {PIP_TIMEOUT_ENV} to wait longer)",
        python.display(),
        process::seconds(*deadline)
    )]
    TimedOut {
        /// The interpreter.
        python: PathBuf,
        /// How long pyship waited.
        deadline: Duration,
    },
    /// An interrupt stopped pip.
    #[error("Interrupted")]
    Interrupted,
    /// pip exited with an error.
    #[error("`{} -m pip install` failed ({status}):\n{stderr}", python.display())]
    Pip {
        /// The interpreter.
        python: PathBuf,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The last lines pip wrote to stderr.
        stderr: String,
    },
    /// The temporary install directory could not be created.
    #[error("Failed to create a temporary directory for the dependencies")]
    TempDir(#[source] std::io::Error),
    /// The installed files could not be scanned.
    #[error(transparent)]
    Discover(#[from] DiscoverError),
}

/// Dependencies installed for one target; the directory is deleted on drop.
#[derive(Debug)]
pub struct Installed {
    /// Holds pip's `--target` and its temporary files.
    pub dir: StagingDir,
    /// Where pip put them.
    pub target: PathBuf,
    /// What to ship, relative to [`Installed::target`].
    pub scan: Scan,
}

/// What `--with-deps` installs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// PEP 508 requirements: `[project.dependencies]`.
    pub specs: Vec<String>,
    /// Requirements files, given to pip as `-r FILE`.
    pub files: Vec<PathBuf>,
}

impl Requirements {
    /// Whether there is nothing to install.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty() && self.files.is_empty()
    }
}

/// The arguments after `python`.
pub fn pip_command(target: &Path, requirements: &Requirements, pip_args: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "-m",
        "pip",
        "install",
        "--target",
        &target.to_string_lossy(),
        "--no-compile",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .collect();
    args.extend(pip_args.iter().cloned());
    for file in &requirements.files {
        args.push("-r".to_owned());
        args.push(file.to_string_lossy().into_owned());
    }
    args.extend(requirements.specs.iter().cloned());
    args
}

/// Install `requirements` for `interpreter` and scan the result, skipping `excludes` (on top of
/// the default excludes and pip's `bin/`).
pub fn install(
    interpreter: &Interpreter,
    requirements: &Requirements,
    pip_args: &[String],
    excludes: &[String],
) -> Result<Installed, DepsError> {
    let temp = std::env::temp_dir();
    // What killed builds left there (pip's downloads can be large).
    staging::sweep(&temp);
    let dir = staging::dir_in(&temp, Kind::Deps).map_err(DepsError::TempDir)?;
    let (target, pip_temp) = (dir.path().join("site"), dir.path().join("tmp"));
    for path in [&target, &pip_temp] {
        fs_err::create_dir(path).map_err(DepsError::TempDir)?;
    }
    let mut command = Command::new(&interpreter.executable);
    command
        .args(pip_command(&target, requirements, pip_args))
        // pip's own temporary files go with ours, even when it is killed.
        .env("TMPDIR", &pip_temp)
        .env("TEMP", &pip_temp)
        .env("TMP", &pip_temp)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PIP_REQUIRE_VIRTUALENV");
    let deadline = process::deadline_from_env(PIP_TIMEOUT_ENV, DEFAULT_PIP_TIMEOUT);
    let python = || interpreter.executable.clone();
    let output = process::output(command, deadline).map_err(|err| match err {
        WaitError::Spawn(err) | WaitError::Wait(err) => DepsError::Spawn {
            python: python(),
            err,
        },
        WaitError::TimedOut(deadline) => DepsError::TimedOut {
            python: python(),
            deadline,
        },
        WaitError::Interrupted => DepsError::Interrupted,
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.trim_end().lines().collect();
        let tail = lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n");
        return Err(DepsError::Pip {
            python: interpreter.executable.clone(),
            status: output.status,
            stderr: tail,
        });
    }
    let mut excludes = excludes.to_vec();
    excludes.push("/bin/".to_owned());
    // No out-dir lives in the temp dir: name one that does not exist.
    let scan = discover(&target, &excludes, &target.join(".pyship-no-out-dir"))?;
    Ok(Installed { dir, target, scan })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_arguments_come_before_requirements() {
        let args = pip_command(
            Path::new("/tmp/x"),
            &Requirements {
                specs: vec!["dep_pkg>=1".to_owned()],
                files: vec!["reqs.txt".into(), "/p/more.txt".into()],
            },
            &["--no-index".to_owned(), "--find-links=w".to_owned()],
        );
        assert_eq!(
            args.join(" "),
            "-m pip install --target /tmp/x --no-compile --disable-pip-version-check --no-input --quiet --no-index --find-links=w -r reqs.txt -r /p/more.txt dep_pkg>=1"
        );
    }
}
