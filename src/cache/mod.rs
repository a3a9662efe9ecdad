//! The content-addressed compile cache (SPEC §5), shared by `pyship build` and `pyship compile`:
//! a plain store of canonical code bytes by [`CacheKey`]. It starts no process and knows
//! nothing of compiling: [`crate::compile::compile_all`] looks it up first and asks the backend
//! only for the misses; [`crate::compile::cache_key`] says what a key covers. The up-to-date
//! records of archives live beside the entries ([`crate::cache::artifacts`]).
//!
//! An entry holds the canonical code bytes after a small header with their length and sha256:
//! a truncated or corrupt entry is a miss, compiled again and rewritten.
//!
//! Entries are written to a temporary file in their final directory and renamed into place,
//! so readers see a whole entry or none, and concurrent pyship processes writing the same key
//! write the same bytes. The layout is `DIR/v1/ab/cdef…` (the key in hex, split after two
//! digits); `DIR/CACHEDIR.TAG` marks the directory for backup tools.

pub mod artifacts;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::cache::artifacts::ARTIFACTS_DIR;

/// The environment variable naming the cache directory (`--cache-dir` wins over it).
pub const CACHE_DIR_ENV: &str = "PYSHIP_CACHE_DIR";

/// The subdirectory holding entries of this format; [`Cache::clean`] removes only these.
const FORMAT_DIR: &str = "v1";

/// The first bytes of every entry.
const ENTRY_MAGIC: &[u8; 8] = b"pyshipc1";

/// Magic, length, sha256 of the code.
const ENTRY_HEADER: usize = 8 + 8 + 32;

const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by pyship.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// Where the cache lives unless `--cache-dir` says otherwise: `$PYSHIP_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/pyship`, else `~/.cache/pyship`; `None` without any of them.
pub fn default_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = var(CACHE_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CACHE_HOME").map(PathBuf::from)
        && dir.is_absolute()
    {
        return Some(dir.join("pyship"));
    }
    let home = var("HOME").or_else(|| var("USERPROFILE"))?;
    Some(PathBuf::from(home).join(".cache").join("pyship"))
}

/// What identifies one compiled module: a sha256 made by [`crate::compile::cache_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The key whose hash is `hash`.
    pub fn from_hash(hash: [u8; 32]) -> CacheKey {
        CacheKey(hash)
    }

    fn hex(&self) -> String {
        hex(&self.0)
    }
}

/// Lowercase hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// The cache could not be written or cleaned.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// An I/O error on a cache file; `fs_err` names it.
    #[error("Failed to write the compile cache in `{}`", dir.display())]
    Io {
        /// The cache directory.
        dir: PathBuf,
        /// Why.
        #[source]
        err: std::io::Error,
    },
    /// `cache clean` was pointed at a directory pyship did not mark as its cache.
    #[error("Refusing to clean `{}`: {reason}, so it is not a pyship cache", dir.display())]
    NotMarked {
        /// The directory.
        dir: PathBuf,
        /// What is missing.
        reason: &'static str,
    },
}

impl CacheError {
    /// The warning for `count` entries that could not be written, this error the first.
    pub fn warning(&self, count: usize) -> String {
        use std::fmt::Write as _;
        let mut message = format!(
            "{count} compile cache entr{} not written: {self}",
            if count == 1 { "y was" } else { "ies were" }
        );
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let _ = write!(message, ": {cause}");
            source = cause.source();
        }
        message
    }
}

/// A compile cache directory; nothing is created until the first [`Cache::put`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_path(&self, key: &CacheKey) -> PathBuf {
        let hex = key.hex();
        self.dir.join(FORMAT_DIR).join(&hex[..2]).join(&hex[2..])
    }

    /// The code bytes stored under `key`, or `None` when there are none or they are truncated
    /// or corrupt.
    pub fn get(&self, key: &CacheKey) -> Option<Vec<u8>> {
        let entry = fs_err::read(self.entry_path(key)).ok()?;
        decode_entry(entry)
    }

    /// Store `code` under `key`, atomically: a temporary file in the entry's directory renamed
    /// into place.
    pub fn put(&self, key: &CacheKey, code: &[u8]) -> Result<(), CacheError> {
        let path = self.entry_path(key);
        let parent = path.parent().expect("entries are in a shard directory");
        let io = |err: std::io::Error| CacheError::Io {
            dir: self.dir.clone(),
            err,
        };
        if !parent.is_dir() {
            fs_err::create_dir_all(parent).map_err(io)?;
            self.mark();
        }
        write_atomic(&path, &encode_entry(code)).map_err(io)
    }

    /// Write `CACHEDIR.TAG` unless it is there: it tells backup tools to skip the directory,
    /// and tells [`Cache::clean`] that pyship made it. Best effort: without it, entries still
    /// work and only `clean` refuses.
    pub(crate) fn mark(&self) {
        let tag = self.dir.join(CACHEDIR_TAG_FILE);
        if fs_err::symlink_metadata(&tag).is_err() {
            let _ = write_atomic(&tag, CACHEDIR_TAG.as_bytes());
        }
    }

    /// Why the directory is not marked as pyship's cache, if it is not.
    fn unmarked(&self) -> Option<&'static str> {
        let tag = self.dir.join(CACHEDIR_TAG_FILE);
        match fs_err::symlink_metadata(&tag) {
            Err(_) => return Some("it has no `CACHEDIR.TAG`"),
            Ok(metadata) if !metadata.is_file() => {
                return Some("its `CACHEDIR.TAG` is not a regular file");
            }
            Ok(_) => {}
        }
        match fs_err::read(&tag) {
            Ok(bytes) if bytes == CACHEDIR_TAG.as_bytes() => None,
            _ => Some("its `CACHEDIR.TAG` was not written by pyship"),
        }
    }

    /// Remove every entry, artifact record and temporary file pyship wrote, and the tag;
    /// returns how many entries there were. Refuses a directory pyship did not mark as its cache
    /// (its `CACHEDIR.TAG`), and removes only what it recognises as its own by name and type
    /// (never following a symlink): a file of someone else's in there stays, and so do the
    /// directories holding it.
    pub fn clean(&self) -> Result<usize, CacheError> {
        let io = |err: std::io::Error| CacheError::Io {
            dir: self.dir.clone(),
            err,
        };
        // Nothing there, or an empty directory: nothing to remove, nobody's files at risk.
        let is_empty =
            fs_err::read_dir(&self.dir).is_ok_and(|mut entries| entries.next().is_none());
        if fs_err::symlink_metadata(&self.dir).is_err() || is_empty {
            return Ok(0);
        }
        if let Some(reason) = self.unmarked() {
            return Err(CacheError::NotMarked {
                dir: self.dir.clone(),
                reason,
            });
        }
        let mut count = 0;
        let entries = self.dir.join(FORMAT_DIR);
        if is_real_dir(&entries) {
            for shard in fs_err::read_dir(&entries).map_err(io)? {
                let shard = shard.map_err(io)?;
                let is_shard = shard.file_type().is_ok_and(|kind| kind.is_dir())
                    && shard
                        .file_name()
                        .to_str()
                        .is_some_and(|name| is_hex(name, 2));
                if is_shard {
                    count += remove_own_files(&shard.path(), ENTRY_NAME_LEN).map_err(io)?;
                    let _ = fs_err::remove_dir(shard.path());
                }
            }
            remove_own_files(&entries, usize::MAX).map_err(io)?;
            let _ = fs_err::remove_dir(&entries);
        }
        let records = self.dir.join(ARTIFACTS_DIR);
        if is_real_dir(&records) {
            remove_own_files(&records, RECORD_NAME_LEN).map_err(io)?;
            let _ = fs_err::remove_dir(&records);
        }
        remove_own_files(&self.dir, usize::MAX).map_err(io)?;
        // The tag stays: an emptied cache is still pyship's, and a second clean finds it so.
        Ok(count)
    }
}

/// The tag's file name.
const CACHEDIR_TAG_FILE: &str = "CACHEDIR.TAG";

/// An entry's file name: the key in hex after its first two digits.
const ENTRY_NAME_LEN: usize = 62;

/// An artifact record's file name: a sha256 in hex.
const RECORD_NAME_LEN: usize = 64;

/// Whether `path` is a directory itself, not a symlink to one.
fn is_real_dir(path: &Path) -> bool {
    fs_err::symlink_metadata(path).is_ok_and(|metadata| metadata.is_dir())
}

/// `len` lowercase hex digits.
fn is_hex(name: &str, len: usize) -> bool {
    name.len() == len && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `name` is one of [`write_atomic`]'s temporary files (a killed writer leaves them).
fn is_temporary(name: &str) -> bool {
    name.strip_prefix(".tmp-pyship-").is_some_and(|random| {
        random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// Remove the regular files in `dir` named `name_len` hex digits, and pyship's temporary
/// files; returns how many of the former there were.
fn remove_own_files(dir: &Path, name_len: usize) -> std::io::Result<usize> {
    let mut count = 0;
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let own = is_hex(&name, name_len);
        if own || is_temporary(&name) {
            fs_err::remove_file(entry.path())?;
            count += usize::from(own);
        }
    }
    Ok(count)
}

/// Write `bytes` to `path` through a temporary file in the same directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-pyship-")
        .tempfile_in(parent)
        .map_err(|err| with_path(&err, parent))?;
    temp.write_all(bytes)
        .map_err(|err| with_path(&err, temp.path()))?;
    temp.persist(path)
        .map_err(|err| with_path(&err.error, path))?;
    Ok(())
}

fn with_path(err: &std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(err.kind(), format!("{err} (at `{}`)", path.display()))
}

fn encode_entry(code: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(ENTRY_HEADER + code.len());
    entry.extend_from_slice(ENTRY_MAGIC);
    entry.extend_from_slice(&(code.len() as u64).to_le_bytes());
    entry.extend_from_slice(&Sha256::digest(code));
    entry.extend_from_slice(code);
    entry
}

fn decode_entry(mut entry: Vec<u8>) -> Option<Vec<u8>> {
    if entry.len() < ENTRY_HEADER || &entry[..8] != ENTRY_MAGIC {
        return None;
    }
    let length = u64::from_le_bytes(entry[8..16].try_into().expect("8 bytes"));
    if length != (entry.len() - ENTRY_HEADER) as u64
        || Sha256::digest(&entry[ENTRY_HEADER..])[..] != entry[16..ENTRY_HEADER]
    {
        return None;
    }
    entry.drain(..ENTRY_HEADER);
    Some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dfile: &str) -> CacheKey {
        CacheKey::from_hash(Sha256::digest(dfile).into())
    }

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let key = key("a.py");
        assert_eq!(cache.get(&key), None);
        cache.put(&key, b"code bytes").unwrap();
        assert_eq!(cache.get(&key).as_deref(), Some(&b"code bytes"[..]));
        assert!(dir.path().join("cache/CACHEDIR.TAG").is_file());

        let path = cache.entry_path(&key);
        let entry = fs_err::read(&path).unwrap();
        // Truncated.
        fs_err::write(&path, &entry[..entry.len() - 1]).unwrap();
        assert_eq!(cache.get(&key), None);
        // One byte flipped in the code.
        let mut flipped = entry.clone();
        *flipped.last_mut().unwrap() ^= 1;
        fs_err::write(&path, &flipped).unwrap();
        assert_eq!(cache.get(&key), None);
        // Rewritten.
        cache.put(&key, b"code bytes").unwrap();
        assert_eq!(cache.get(&key).as_deref(), Some(&b"code bytes"[..]));

        cache.put(&super::tests::key("b.py"), b"").unwrap();
        assert_eq!(
            cache.get(&super::tests::key("b.py")).as_deref(),
            Some(&b""[..])
        );
        assert_eq!(cache.clean().unwrap(), 2);
        assert_eq!(cache.get(&key), None);
        // The mark stays with the emptied directory.
        assert!(dir.path().join("cache/CACHEDIR.TAG").is_file());
    }

    #[test]
    fn clean_leaves_other_files() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("mine.txt"), "keep").unwrap();
        let cache = Cache::new(dir.path());
        cache.put(&key("a.py"), b"code").unwrap();
        assert_eq!(cache.clean().unwrap(), 1);
        assert!(dir.path().join("mine.txt").is_file());
        // Still marked: cleaning again removes nothing and keeps the foreign file.
        assert_eq!(cache.clean().unwrap(), 0);
        assert!(dir.path().join("mine.txt").is_file());
        // An unmarked directory that is not empty is refused.
        fs_err::remove_file(dir.path().join("CACHEDIR.TAG")).unwrap();
        assert!(matches!(cache.clean(), Err(CacheError::NotMarked { .. })));
        assert_eq!(Cache::new(dir.path().join("missing")).clean().unwrap(), 0);
    }
}
