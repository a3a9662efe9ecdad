//! Output formats. Every format is a [`Sink`]: the pipeline adds laid-out files in sorted order
//! and calls [`Sink::finish`]; nothing is visible at the destination until then.

pub mod dir;
pub mod memory;
pub mod zip;

use std::path::{Path, PathBuf};

/// Why an artifact could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Reading an input or writing the artifact failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The zip writer failed.
    #[error("Failed to write zip archive `{}`", path.display())]
    Zip {
        /// The artifact being written.
        path: PathBuf,
        /// Why.
        #[source]
        err: ::zip::result::ZipError,
    },
    /// Two inputs were laid out at the same artifact path.
    #[error("Two files map to `{path}` in the artifact")]
    Duplicate {
        /// The artifact path.
        path: String,
    },
}

/// A finished artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Where it is: a directory or an archive file.
    pub path: PathBuf,
    /// Total bytes written (file contents, not archive overhead).
    pub bytes: u64,
}

/// Destination for laid-out files: directory, zip, wheel, zipapp or an in-memory listing.
/// Paths are `/`-separated and relative on every platform; only [`Sink::finish`] yields a valid
/// artifact, and dropping an unfinished sink leaves nothing behind.
pub trait Sink {
    /// Add bytes pyship produced (a `.pyc`, `METADATA`, `__main__.py`).
    fn add_bytes(&mut self, path: &str, bytes: &[u8], executable: bool) -> Result<(), SinkError>;
    /// Copy a project file unchanged (data files, `py.typed`, licenses, kept sources).
    fn add_file(&mut self, path: &str, source: &Path) -> Result<(), SinkError>;
    /// Write trailing metadata and move the artifact into place.
    fn finish(self: Box<Self>) -> Result<Artifact, SinkError>;
}
