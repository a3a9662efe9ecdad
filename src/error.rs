//! The library's error type.

use std::path::PathBuf;

/// Anything that stops a build.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A target interpreter could not be used.
    #[error(transparent)]
    Interpreter(#[from] crate::interpreter::InterpreterError),
    /// The project could not be scanned.
    #[error(transparent)]
    Discover(#[from] crate::source::tree::DiscoverError),
    /// `pyproject.toml` could not be used.
    #[error(transparent)]
    Project(#[from] crate::source::project::ProjectError),
    /// The input wheel is malformed or unsafe.
    #[error(transparent)]
    Wheel(#[from] crate::wheel::WheelError),
    /// The input wheel holds binaries for another CPython than the target.
    #[error("`{wheel}` is built for {tag}, but the target is CPython {target}")]
    WheelForOtherPython {
        /// The input wheel's file name.
        wheel: String,
        /// The offending tag.
        tag: String,
        /// The target version, e.g. `3.12`.
        target: String,
    },
    /// A wheel was asked of a directory without a PEP 621 project.
    #[error("A wheel needs a `pyproject.toml` with a `[project]` table in `{}` (or a wheel as SOURCE)", path.display())]
    WheelNeedsProject {
        /// The source directory.
        path: PathBuf,
    },
    /// Two artifacts of this build would have the same path.
    #[error("Two artifacts of this build would both be written to `{}`", path.display())]
    ArtifactClash {
        /// The path.
        path: PathBuf,
        /// Why it happens.
        hint: &'static str,
    },
    /// Compiling failed for a reason other than the source.
    #[error(transparent)]
    Compile(#[from] crate::compile::CompileError),
    /// A deployment bundle (zipapp, `--with-deps`) could not be built.
    #[error(transparent)]
    Bundle(#[from] crate::plan::bundle::BundleError),
    /// `pyship compile` could not walk, read or write.
    #[error(transparent)]
    Inplace(#[from] crate::in_place::InplaceError),
    /// The compile cache could not be cleaned.
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// Writing the artifact failed.
    #[error(transparent)]
    Sink(#[from] crate::sink::SinkError),
    /// Reading the project or creating the out-dir failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The out-dir and the source overlap: the scan leaves out the out-dir, so the artifact
    /// would lack what is in both.
    #[error("{reason}: choose an out-dir outside what is shipped, e.g. `{}` (the default)", default.display())]
    OutDirOverlaps {
        /// What overlaps what.
        reason: String,
        /// The default out-dir, which never overlaps.
        default: PathBuf,
    },
    /// A project with modules would ship none: all were excluded, ignored or linked out.
    #[error("No module of `{}` is left to ship: every one is excluded, ignored or outside the project", path.display())]
    NoModules {
        /// The source directory.
        path: PathBuf,
    },
    /// SIGINT or SIGTERM stopped the build.
    #[error(transparent)]
    Interrupted(#[from] crate::support::interrupt::Interrupted),
    /// The out-dir names an existing file.
    #[error("The out-dir `{}` is a file", path.display())]
    OutDirIsFile {
        /// The path given.
        path: PathBuf,
    },
}

impl Error {
    /// What the user can do about it, printed as a `hint:` line under the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::ArtifactClash { hint, .. } => Some((*hint).to_owned()),
            Error::Interpreter(crate::interpreter::InterpreterError::NotFound { .. }) => Some(
                "`pyship pythons` lists the interpreters found; `-p` also takes a path".to_owned(),
            ),
            _ => None,
        }
    }
}
