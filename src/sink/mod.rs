//! Output formats. Every format is a [`Sink`]: the pipeline adds laid-out files in sorted order
//! and calls [`Sink::finish`]; nothing is visible at the destination until then.

pub mod dir;
pub mod wheel;
pub mod zip;
pub mod zipapp;

use std::collections::BTreeMap;
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
    /// An artifact path could escape the artifact or is not portable.
    #[error("Refusing unsafe artifact path `{path}`: {reason}")]
    UnsafePath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A path is used both as a file and as a parent directory of another file.
    #[error("Path `{path}` is both a file and a directory in the artifact")]
    FileDirectoryClash {
        /// The path used both ways.
        path: String,
    },
    /// A `__pycache__` path was sent to a zip, where zipimport never reads it.
    #[error("Refusing `{path}` in a zip: zipimport never reads `__pycache__`")]
    PycacheInZip {
        /// The artifact path.
        path: String,
    },
    /// The destination of a directory artifact exists and is not a directory.
    #[error("Output `{}` exists and is not a directory", path.display())]
    NotADirectory {
        /// The destination.
        path: PathBuf,
    },
    /// The destination of a directory artifact is a directory pyship did not write: replacing
    /// it would delete what is in it.
    #[error("Output `{}` exists and was not written by pyship", path.display())]
    NotOurs {
        /// The destination.
        path: PathBuf,
    },
    /// The destination of an archive exists and is a directory.
    #[error("Output `{}` is a directory, expected an archive file", path.display())]
    IsADirectory {
        /// The destination.
        path: PathBuf,
    },
    /// Moving the finished artifact into place failed.
    #[error("Failed to move the finished artifact to `{}`", path.display())]
    Persist {
        /// The destination.
        path: PathBuf,
        /// Why.
        #[source]
        err: std::io::Error,
    },
}

/// Check that `path` is a relative, `/`-separated artifact path that stays inside the artifact:
/// no leading `/`, no drive letter, no backslash, no NUL, and no empty, `.` or `..` component.
pub(crate) fn validate_path(path: &str) -> Result<(), SinkError> {
    let reason = if path.is_empty() {
        Some("empty path")
    } else if path.starts_with('/') {
        Some("absolute path")
    } else if path.contains('\\') {
        Some("backslash in path")
    } else if path.contains('\0') {
        Some("NUL in path")
    } else if path.split('/').next().is_some_and(|first| {
        first.len() == 2 && first.as_bytes()[0].is_ascii_alphabetic() && first.ends_with(':')
    }) {
        Some("drive letter in path")
    } else {
        path.split('/').find_map(|component| match component {
            "" => Some("empty path component"),
            "." => Some("`.` path component"),
            ".." => Some("`..` path component"),
            _ => None,
        })
    };
    match reason {
        Some(reason) => Err(SinkError::UnsafePath {
            path: path.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The directories above `path`, outermost first: `a/b/c` yields `a`, `a/b`.
pub(crate) fn parent_dirs(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(index, _)| &path[..index])
}

/// The directory an artifact at `dest` lives in (`.` for a bare relative name): where its
/// temporary file or directory is created, so the final rename stays on one filesystem.
pub(crate) fn parent_of(dest: &Path) -> PathBuf {
    match dest.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        for path in [
            "", "/abs", "a//b", "a/", "./a", "a/./b", "../a", "a/..", "a\\b", "C:/x", "c:", "a\0b",
        ] {
            assert!(
                matches!(validate_path(path), Err(SinkError::UnsafePath { .. })),
                "{path:?} was accepted"
            );
        }
        for path in [
            "a",
            "pkg/mod.pyc",
            "..a/b..",
            ".hidden/x",
            "a:b/c:d",
            "pkg-1.0.dist-info/RECORD",
        ] {
            validate_path(path).unwrap();
        }
    }

    #[test]
    fn parents_outermost_first() {
        assert_eq!(parent_dirs("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(parent_dirs("a").count(), 0);
    }
}

/// A finished artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Where it is: a directory or an archive file.
    pub path: PathBuf,
    /// Total bytes written (file contents, not archive overhead).
    pub bytes: u64,
    /// Every file it holds (directories left out) → its size: what the size report measures,
    /// without reading the artifact back.
    pub files: BTreeMap<String, u64>,
}

impl Artifact {
    /// An artifact at `path` holding `files`.
    pub fn new(path: PathBuf, files: BTreeMap<String, u64>) -> Artifact {
        Artifact {
            path,
            bytes: files.values().sum(),
            files,
        }
    }
}

/// Destination for laid-out files: directory, zip, wheel or zipapp.
/// Paths are `/`-separated and relative on every platform; only [`Sink::finish`] yields a valid
/// artifact, and dropping an unfinished sink leaves nothing behind.
pub trait Sink: Send {
    /// Add bytes pyship produced (a `.pyc`, `METADATA`, `__main__.py`).
    fn add_bytes(&mut self, path: &str, bytes: &[u8], executable: bool) -> Result<(), SinkError>;
    /// Copy a project file unchanged (data files, `py.typed`, licenses, kept sources).
    fn add_file(&mut self, path: &str, source: &Path) -> Result<(), SinkError>;
    /// Write trailing metadata and move the artifact into place.
    fn finish(self: Box<Self>) -> Result<Artifact, SinkError>;
}
