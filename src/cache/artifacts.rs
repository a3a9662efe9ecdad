//! Up-to-date records of archives, kept in the cache directory beside the compile cache's
//! entries (and removed with them by `pyship cache clean`), but unrelated to them: one record
//! per destination says which inputs last wrote it and how the file looked afterwards, so a
//! no-change rebuild compiles nothing and writes nothing (make-style).
//!
//! A record is at `DIR/artifacts-v1/<sha256 of the canonical destination path, hex>` and holds
//! the build's fingerprint (32 bytes), the file's stamp (size, modification time and inode: 28
//! bytes), the files the archive holds (JSON) and the compile warnings of its modules (JSON,
//! after it), which a no-change rebuild prints again. A record without them is not up to date:
//! pyship wrote it before it kept them.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use serde::Deserialize as _;

use crate::cache::{CacheError, hex, write_atomic};
use crate::report::CompilerWarning;
use crate::sink::Artifact;

/// Where artifact records live, beside the entries.
pub(crate) const ARTIFACTS_DIR: &str = "artifacts-v1";

/// The artifact records of the cache directory `dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRecords {
    dir: PathBuf,
}

impl ArtifactRecords {
    /// The records of the cache in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> ArtifactRecords {
        ArtifactRecords { dir: dir.into() }
    }

    fn record_path(&self, dest: &Path) -> PathBuf {
        let dest = fs_err::canonicalize(dest).unwrap_or_else(|_| dest.to_path_buf());
        let key = Sha256::digest(dest.as_os_str().as_encoded_bytes());
        self.dir.join(ARTIFACTS_DIR).join(hex(&key))
    }

    /// Whether the archive at `dest` is the one a build with `fingerprint` would write: it was
    /// written by pyship from the same inputs and has not been touched since (same size and
    /// modification time). Returns it as it was recorded, with the files it holds, and the
    /// compile warnings of its modules.
    pub fn up_to_date(
        &self,
        dest: &Path,
        fingerprint: &[u8; 32],
    ) -> Option<(Artifact, Vec<CompilerWarning>)> {
        let record = fs_err::read(self.record_path(dest)).ok()?;
        let (recorded, rest) = record.split_at_checked(32)?;
        let (stamp, json) = rest.split_at_checked(28)?;
        if recorded != fingerprint || stamp != self::stamp(dest)?.as_slice() {
            return None;
        }
        let mut json = serde_json::Deserializer::from_slice(json);
        let files = std::collections::BTreeMap::deserialize(&mut json).ok()?;
        let warnings = Vec::deserialize(&mut json).ok()?;
        json.end().ok()?;
        Some((Artifact::new(dest.to_path_buf(), files), warnings))
    }

    /// Record that `artifact` was just written for `fingerprint`: the fingerprint, the file's
    /// size and modification time, the files it holds and the compile `warnings` of its
    /// modules (JSON).
    pub fn remember(
        &self,
        artifact: &Artifact,
        fingerprint: &[u8; 32],
        warnings: &[CompilerWarning],
    ) -> Result<(), CacheError> {
        let io = |err: std::io::Error| CacheError::Io {
            dir: self.dir.clone(),
            err,
        };
        let Some(stamp) = stamp(&artifact.path) else {
            return Ok(());
        };
        let path = self.record_path(&artifact.path);
        fs_err::create_dir_all(path.parent().expect("records are in a directory")).map_err(io)?;
        // A directory holding only records is pyship's cache too: `clean` must recognise it.
        crate::cache::Cache::new(&self.dir).mark();
        let mut record = fingerprint.to_vec();
        record.extend_from_slice(&stamp);
        serde_json::to_writer(&mut record, &artifact.files).map_err(|err| io(err.into()))?;
        serde_json::to_writer(&mut record, warnings).map_err(|err| io(err.into()))?;
        write_atomic(&path, &record).map_err(io)
    }
}

/// Size, modification time (seconds, nanoseconds) and inode of a file: what changes when anyone
/// rewrites it.
fn stamp(path: &Path) -> Option<[u8; 28]> {
    let metadata = fs_err::metadata(path).ok()?;
    if !metadata.is_file() {
        return None;
    }
    let modified = metadata
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
    #[cfg(not(unix))]
    let inode = 0u64;
    let mut stamp = [0u8; 28];
    stamp[..8].copy_from_slice(&metadata.len().to_le_bytes());
    stamp[8..16].copy_from_slice(&modified.as_secs().to_le_bytes());
    stamp[16..20].copy_from_slice(&modified.subsec_nanos().to_le_bytes());
    stamp[20..].copy_from_slice(&inode.to_le_bytes());
    Some(stamp)
}
