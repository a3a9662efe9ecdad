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
    Discover(#[from] crate::discover::DiscoverError),
    /// Compiling failed for a reason other than the source.
    #[error(transparent)]
    Compile(#[from] crate::compile::CompileError),
    /// `pyship compile` could not walk, read or write.
    #[error(transparent)]
    Inplace(#[from] crate::inplace::InplaceError),
    /// The compile cache could not be cleaned.
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// Writing the artifact failed.
    #[error(transparent)]
    Sink(#[from] crate::sink::SinkError),
    /// Reading the project or creating the out-dir failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The out-dir names an existing file.
    #[error("The out-dir `{}` is a file", path.display())]
    OutDirIsFile {
        /// The path given.
        path: PathBuf,
    },
    /// A format this build cannot write yet.
    #[error("The `{format}` format is not supported yet")]
    UnsupportedFormat {
        /// Its name.
        format: &'static str,
    },
}
