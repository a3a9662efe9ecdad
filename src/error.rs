//! The library's error type.

/// Anything that stops a build.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing the artifact failed.
    #[error(transparent)]
    Sink(#[from] crate::sink::SinkError),
    /// Compiling failed for a reason other than the source.
    #[error(transparent)]
    Compile(#[from] crate::compile::CompileError),
}
