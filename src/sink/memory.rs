//! An in-memory [`Sink`] for tests: records every path and its bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Artifact, Sink, SinkError};

/// Collects files in a map; `finish` returns an artifact with an empty path.
#[derive(Debug, Default)]
pub struct MemorySink {
    /// Artifact path → (bytes, executable).
    pub files: BTreeMap<String, (Vec<u8>, bool)>,
}

impl Sink for MemorySink {
    fn add_bytes(&mut self, path: &str, bytes: &[u8], executable: bool) -> Result<(), SinkError> {
        if self
            .files
            .insert(path.to_owned(), (bytes.to_vec(), executable))
            .is_some()
        {
            return Err(SinkError::Duplicate {
                path: path.to_owned(),
            });
        }
        Ok(())
    }

    fn add_file(&mut self, path: &str, source: &Path) -> Result<(), SinkError> {
        let bytes = fs_err::read(source)?;
        self.add_bytes(path, &bytes, false)
    }

    fn finish(self: Box<Self>) -> Result<Artifact, SinkError> {
        let files = self
            .files
            .iter()
            .map(|(path, (bytes, _))| (path.clone(), bytes.len() as u64))
            .collect();
        Ok(Artifact::new(PathBuf::new(), files))
    }
}
