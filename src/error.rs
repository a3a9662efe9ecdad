//! The library's error type.

use std::path::PathBuf;

/// Anything that stops a build.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SOURCE could not be read: scanned, loaded as a project or wheel, or it overlaps the
    /// out-dir.
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    /// An artifact cannot be made as asked.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// A target interpreter could not be used.
    #[error(transparent)]
    Interpreter(#[from] crate::interpreter::InterpreterError),
    /// Compiling failed for a reason other than the source.
    #[error(transparent)]
    Compile(#[from] crate::compile::CompileError),
    /// The native backend cannot build as asked.
    #[error(transparent)]
    Native(#[from] crate::compile::native::NativeError),
    /// A deployment bundle (zipapp, `--with-deps`) could not be built.
    #[error(transparent)]
    Bundle(#[from] crate::plan::bundle::BundleError),
    /// Pruning cannot be done as asked.
    #[error(transparent)]
    Prune(#[from] crate::analysis::prune::PruneError),
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
    /// SIGINT or SIGTERM stopped the build.
    #[error(transparent)]
    Interrupted(#[from] crate::support::interrupt::Interrupted),
    /// One target among several failed: the error, and which target it is.
    #[error("Python {python}: {error}")]
    Target {
        /// The target, e.g. `3.12`.
        python: String,
        /// What went wrong.
        #[source]
        error: Box<Error>,
    },
    /// The out-dir names an existing file.
    #[error("The out-dir `{}` is a file", path.display())]
    OutDirIsFile {
        /// The path given.
        path: PathBuf,
    },
}

/// What `pyship build` accepts as SOURCE.
const SOURCE_KINDS: &str = "SOURCE is a project directory (with pyproject.toml), a directory of modules, a wheel (`.whl`) or an sdist (`NAME-VERSION.tar.gz`, sdist `.zip`)";

impl Error {
    /// This error, saying it is `python`'s (e.g. `3.12`) unless it already names the target.
    #[must_use]
    pub fn for_target(self, python: &str) -> Error {
        use crate::plan::PlanError;
        match self {
            Error::Target { .. }
            | Error::Interrupted(_)
            | Error::Plan(
                PlanError::RequiresPython { .. } | PlanError::WheelForOtherPython { .. },
            ) => self,
            error => Error::Target {
                python: python.to_owned(),
                error: Box::new(error),
            },
        }
    }

    /// What the user can do about it, printed as a `hint:` line under the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Target { error, .. } => error.hint(),
            Error::Prune(err) => err.hint(),
            Error::Native(err) | Error::Inplace(crate::in_place::InplaceError::Native(err)) => {
                err.hint()
            }
            Error::Plan(err) => err.hint(),
            Error::Source(crate::source::SourceError::Sdist(err)) if err.hint().is_some() => {
                err.hint()
            }
            Error::Interpreter(err)
            | Error::Inplace(crate::in_place::InplaceError::Interpreter(err)) => {
                err.hint().map(str::to_owned)
            }
            Error::Source(
                crate::source::SourceError::NotASource { .. }
                | crate::source::SourceError::Sdist(crate::source::sdist::SdistError::NoProject {
                    ..
                }),
            ) => Some(SOURCE_KINDS.to_owned()),
            Error::Sink(crate::sink::SinkError::NotOurs { .. }) => Some(
                "pyship replaces a directory only when it wrote it: move it away, or choose another `--out-dir`"
                    .to_owned(),
            ),
            Error::Bundle(
                crate::plan::bundle::BundleError::NoDependencies { .. }
                | crate::plan::bundle::BundleError::DynamicDependencies { .. },
            ) => Some(
                "name the file that lists them with `-r requirements.txt` (repeatable; `requirement` in `[tool.pyship]`)"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}
