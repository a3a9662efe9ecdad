//! The content-addressed compile cache (SPEC §5), shared by `pyship build` and `pyship compile`:
//! a plain store of canonical code bytes by [`CacheKey`]. It starts no process and knows
//! nothing of compiling: [`crate::compile::compile_all`] looks it up first and asks the backend
//! only for the misses; [`crate::compile::cache_key`] says what a key covers. The up-to-date
//! records of archives live beside the entries ([`crate::cache::artifacts`]).
//!
//! An entry holds the canonical code bytes, deflated (code objects shrink to about 40%), after
//! a small header with their length and sha256: a truncated or corrupt entry is a miss,
//! compiled again and rewritten.
//!
//! Entries are written to a temporary file in their final directory and renamed into place,
//! so readers see a whole entry or none, and concurrent pyship processes writing the same key
//! write the same bytes. The layout is `DIR/v2/ab/cdef…` (the key in hex, split after two
//! digits); `DIR/CACHEDIR.TAG` marks the directory for backup tools. Entries of an older
//! format (`v1/`: uncompressed, keyed by path too) are never read and go first in a prune.
//!
//! The cache is bounded: a hit sets the entry's modification time (at most once an hour), so
//! it tells when the entry was last used, and [`Cache::prune`] removes the least recently used
//! first. After a run that wrote entries, [`Cache::cap`] prunes down to 90% of the cap
//! ([`DEFAULT_MAX_SIZE`], or `$PYSHIP_CACHE_MAX_SIZE`) when the cache is over it; `v2/size`
//! keeps count of the size so that it need not walk every entry to know.

pub mod artifacts;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};

use crate::cache::artifacts::ARTIFACTS_DIR;

/// The environment variable naming the cache directory (`--cache-dir` wins over it).
pub const CACHE_DIR_ENV: &str = "PYSHIP_CACHE_DIR";

/// The environment variable setting the size cap applied after a run (`0` for none).
pub const MAX_SIZE_ENV: &str = "PYSHIP_CACHE_MAX_SIZE";

/// The default cap: 1 GiB. Entries are compressed, so it holds about 2.5 GB of pycs: a few
/// dozen large virtual environments, each for several targets and optimize levels, while
/// staying small beside what a CI cache or a laptop disk can spare (ccache caps at 5 GB of
/// object files, sccache at 10 GB; uv has no cap and only `uv cache prune`).
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;

/// The subdirectory holding entries of this format.
const FORMAT_DIR: &str = "v2";

/// Subdirectories of older entry formats, never read again: removed by clean and prune.
const OLD_FORMAT_DIRS: &[&str] = &["v1"];

/// The first bytes of every entry.
const ENTRY_MAGIC: &[u8; 8] = b"pyshipc2";

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
    /// `cache clean` or `cache prune` was pointed at a directory pyship did not mark as its
    /// cache.
    #[error("Refusing to {action} `{}`: {reason}, so it is not a pyship cache", dir.display())]
    NotMarked {
        /// `clean` or `prune`.
        action: &'static str,
        /// The directory.
        dir: PathBuf,
        /// What is missing.
        reason: &'static str,
    },
    /// A size (`--max-size`, `$PYSHIP_CACHE_MAX_SIZE`) that does not read as one.
    #[error("Invalid cache size `{value}` in {what}: {reason}")]
    BadSize {
        /// The text given.
        value: String,
        /// Where it was given.
        what: &'static str,
        /// Why it does not read.
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
    /// The cap [`Cache::cap`] applies; 0 for none.
    max_size: u64,
}

impl Cache {
    /// The cache in `dir`, capped by [`max_size_from_env`] (the binary rejects a bad value
    /// before any cache is made; here it falls back to the default).
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache {
            dir: dir.into(),
            max_size: max_size_from_env().unwrap_or(DEFAULT_MAX_SIZE),
        }
    }

    /// The same cache with another cap (0: none).
    #[must_use]
    pub fn with_max_size(self, max_size: u64) -> Cache {
        Cache { max_size, ..self }
    }

    /// The cap applied after a run that wrote entries; 0 for none.
    pub fn max_size(&self) -> u64 {
        self.max_size
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
    /// or corrupt. A hit records the use in the entry's modification time, for
    /// [`Cache::prune`]: at most once per [`TOUCH_INTERVAL`], through the open file, so a hit
    /// costs no extra path lookup.
    pub fn get(&self, key: &CacheKey) -> Option<Vec<u8>> {
        use std::io::Read as _;
        let mut file = fs_err::File::open(self.entry_path(key)).ok()?;
        let metadata = file.metadata().ok()?;
        let mut entry = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
        file.read_to_end(&mut entry).ok()?;
        let code = decode_entry(&entry)?;
        let stale = metadata.modified().is_ok_and(|modified| {
            modified
                .elapsed()
                .is_ok_and(|elapsed| elapsed > TOUCH_INTERVAL)
        });
        if stale {
            // Best effort: in a cache shared with another user, it only makes pruning less fair.
            let now = filetime::FileTime::now();
            let _ = filetime::set_file_handle_times(file.file(), None, Some(now));
        }
        Some(code)
    }

    /// Store `code` under `key`, atomically: a temporary file in the entry's directory renamed
    /// into place. Returns the entry's size, for [`Cache::cap`].
    pub fn put(&self, key: &CacheKey, code: &[u8]) -> Result<u64, CacheError> {
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
        let entry = encode_entry(code);
        write_atomic(&path, &entry).map_err(io)?;
        Ok(entry.len() as u64)
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
                action: "clean",
                dir: self.dir.clone(),
                reason,
            });
        }
        let mut count = 0;
        for format in std::iter::once(&FORMAT_DIR).chain(OLD_FORMAT_DIRS) {
            let entries = self.dir.join(format);
            if !is_real_dir(&entries) {
                continue;
            }
            for shard in shards(&entries).map_err(io)? {
                count += remove_own_files(&shard, ENTRY_NAME_LEN).map_err(io)?;
                let _ = fs_err::remove_dir(shard);
            }
            let size = entries.join(SIZE_FILE);
            if fs_err::symlink_metadata(&size).is_ok_and(|metadata| metadata.is_file()) {
                fs_err::remove_file(size).map_err(io)?;
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

/// What [`Cache::info`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheInfo {
    /// Compiled modules stored (entries of older formats included).
    pub entries: usize,
    /// Their size on disk as files (apparent size).
    pub bytes: u64,
    /// Of these, entries of an older format, never read again (the next prune removes them).
    pub outdated: usize,
    /// Up-to-date records of archives ([`artifacts`]).
    pub records: usize,
}

/// What [`Cache::prune`] keeps: entries used within `older_than`, the most recently used first
/// while they fit in `max_size` bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// The most the entries may take.
    pub max_size: Option<u64>,
    /// How long ago an entry may have been used last.
    pub older_than: Option<Duration>,
}

/// What [`Cache::prune`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Entries removed.
    pub removed: usize,
    /// Their bytes.
    pub removed_bytes: u64,
    /// Entries left.
    pub entries: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// One entry file.
struct Found {
    path: PathBuf,
    size: u64,
    used: SystemTime,
    current: bool,
}

/// The entries and temporary files in the cache.
#[derive(Default)]
struct Walk {
    entries: Vec<Found>,
    /// Temporary files in shards, with their age.
    temporaries: Vec<(PathBuf, SystemTime)>,
}

impl Cache {
    /// Count what the cache holds.
    pub fn info(&self) -> Result<CacheInfo, CacheError> {
        let walk = self.walk().map_err(|err| self.io(err))?;
        let records = self.dir.join(ARTIFACTS_DIR);
        let records = if is_real_dir(&records) {
            fs_err::read_dir(&records)
                .map_err(|err| self.io(err))?
                .filter_map(Result::ok)
                .filter(|entry| {
                    entry.file_type().is_ok_and(|kind| kind.is_file())
                        && entry
                            .file_name()
                            .to_str()
                            .is_some_and(|name| is_hex(name, RECORD_NAME_LEN))
                })
                .count()
        } else {
            0
        };
        Ok(CacheInfo {
            entries: walk.entries.len(),
            bytes: walk.entries.iter().map(|found| found.size).sum(),
            outdated: walk.entries.iter().filter(|found| !found.current).count(),
            records,
        })
    }

    /// Remove entries beyond `limits`, least recently used first (by modification time, which
    /// a hit sets), every entry of an older format, and temporary files a killed writer left
    /// (older than an hour: a younger one may be a live writer's). Like [`Cache::clean`], it
    /// refuses a directory pyship did not mark and removes only files it recognises as its own.
    /// An entry another process removed meanwhile is not counted.
    pub fn prune(&self, limits: Limits) -> Result<Pruned, CacheError> {
        let is_empty =
            fs_err::read_dir(&self.dir).is_ok_and(|mut entries| entries.next().is_none());
        if fs_err::symlink_metadata(&self.dir).is_err() || is_empty {
            return Ok(Pruned::default());
        }
        if let Some(reason) = self.unmarked() {
            return Err(CacheError::NotMarked {
                action: "prune",
                dir: self.dir.clone(),
                reason,
            });
        }
        let walk = self.walk().map_err(|err| self.io(err))?;
        let now = SystemTime::now();
        let age = |time: SystemTime| now.duration_since(time).unwrap_or(Duration::ZERO);
        let (mut keep, outdated): (Vec<Found>, Vec<Found>) =
            walk.entries.into_iter().partition(|found| found.current);
        // Most recently used first; the path orders equal times, so the choice is stable.
        keep.sort_by(|a, b| b.used.cmp(&a.used).then_with(|| a.path.cmp(&b.path)));
        let mut total = 0u64;
        let split = keep
            .iter()
            .position(|found| {
                total += found.size;
                limits
                    .older_than
                    .is_some_and(|limit| age(found.used) > limit)
                    || limits.max_size.is_some_and(|max| total > max)
            })
            .unwrap_or(keep.len());
        let removed = keep.split_off(split);
        let mut pruned = Pruned {
            entries: keep.len(),
            bytes: keep.iter().map(|found| found.size).sum(),
            ..Pruned::default()
        };
        for found in removed.into_iter().chain(outdated) {
            match fs_err::remove_file(&found.path) {
                Ok(()) => {
                    pruned.removed += 1;
                    pruned.removed_bytes += found.size;
                }
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(self.io(err)),
            }
        }
        for (path, modified) in walk.temporaries {
            if age(modified) > TEMPORARY_AGE {
                let _ = fs_err::remove_file(path);
            }
        }
        if is_real_dir(&self.dir.join(FORMAT_DIR)) {
            self.count_size(pruned.bytes);
        }
        // Older formats' directories go once empty (`remove_dir` keeps any that are not).
        for format in OLD_FORMAT_DIRS {
            let entries = self.dir.join(format);
            if is_real_dir(&entries) {
                for shard in shards(&entries).map_err(|err| self.io(err))? {
                    let _ = fs_err::remove_dir(shard);
                }
                let _ = fs_err::remove_dir(&entries);
            }
        }
        Ok(pruned)
    }

    /// After a run that wrote `added` bytes of entries: when the entries take more than
    /// [`Cache::max_size`] bytes, prune down to 90% of it, so the next runs do not prune again
    /// at once. The size is kept in `v2/size` (what the last walk counted plus what runs added
    /// since), so a run under the cap costs two small file operations, not a walk of every
    /// entry; past the cap by that count, a walk counts again. Runs in parallel may lose each
    /// other's additions, which only delays a prune to a later run. Best effort: a cache that
    /// cannot be pruned still works, and `None` says nothing was removed.
    pub fn cap(&self, added: u64) -> Option<Pruned> {
        let max_size = self.max_size;
        if max_size == 0 {
            return None;
        }
        let counted = self.counted_size().map(|size| size.saturating_add(added));
        if let Some(size) = counted.filter(|&size| size <= max_size) {
            self.count_size(size);
            return None;
        }
        let walk = self.walk().ok()?;
        let bytes: u64 = walk.entries.iter().map(|found| found.size).sum();
        if bytes <= max_size {
            self.count_size(bytes);
            return None;
        }
        self.prune(Limits {
            max_size: Some(max_size / 10 * 9),
            older_than: None,
        })
        .ok()
    }

    fn size_path(&self) -> PathBuf {
        self.dir.join(FORMAT_DIR).join(SIZE_FILE)
    }

    /// The size `v2/size` records, if it reads.
    fn counted_size(&self) -> Option<u64> {
        let text = fs_err::read_to_string(self.size_path()).ok()?;
        text.trim().parse().ok()
    }

    /// Record `bytes` as the entries' size; best effort (without it, the next cap walks).
    fn count_size(&self, bytes: u64) {
        let _ = write_atomic(&self.size_path(), format!("{bytes}\n").as_bytes());
    }

    /// Every entry (of every format) and temporary file in the shards, never following a
    /// symlink.
    fn walk(&self) -> std::io::Result<Walk> {
        let mut walk = Walk::default();
        for (format, current) in std::iter::once((&FORMAT_DIR, true))
            .chain(OLD_FORMAT_DIRS.iter().map(|format| (format, false)))
        {
            let entries = self.dir.join(format);
            if !is_real_dir(&entries) {
                continue;
            }
            for shard in shards(&entries)? {
                for entry in fs_err::read_dir(&shard)? {
                    let entry = entry?;
                    let name = entry.file_name();
                    let Some(name) = name.to_str() else {
                        continue;
                    };
                    let own = is_hex(name, ENTRY_NAME_LEN);
                    if !own && !is_temporary(name) {
                        continue;
                    }
                    // Gone meanwhile (another prune, or a writer's rename): not there.
                    let Ok(metadata) = entry.metadata() else {
                        continue;
                    };
                    if !metadata.is_file() {
                        continue;
                    }
                    let used = metadata.modified()?;
                    if own {
                        walk.entries.push(Found {
                            path: entry.path(),
                            size: metadata.len(),
                            used,
                            current,
                        });
                    } else {
                        walk.temporaries.push((entry.path(), used));
                    }
                }
            }
        }
        Ok(walk)
    }

    fn io(&self, err: std::io::Error) -> CacheError {
        CacheError::Io {
            dir: self.dir.clone(),
            err,
        }
    }
}

/// The shard directories (two hex digits, real directories) of an entries directory.
fn shards(entries: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for shard in fs_err::read_dir(entries)? {
        let shard = shard?;
        let is_shard = shard.file_type().is_ok_and(|kind| kind.is_dir())
            && shard
                .file_name()
                .to_str()
                .is_some_and(|name| is_hex(name, 2));
        if is_shard {
            out.push(shard.path());
        }
    }
    out.sort();
    Ok(out)
}

/// The cap from `$PYSHIP_CACHE_MAX_SIZE`, else [`DEFAULT_MAX_SIZE`]; 0 is no cap.
pub fn max_size_from_env() -> Result<u64, CacheError> {
    match std::env::var_os(MAX_SIZE_ENV) {
        None => Ok(DEFAULT_MAX_SIZE),
        Some(value) => {
            let text = value.to_string_lossy();
            parse_size(&text).map_err(|reason| CacheError::BadSize {
                value: text.into_owned(),
                what: MAX_SIZE_ENV,
                reason,
            })
        }
    }
}

/// A size as ccache writes them: a number of bytes, optionally with a unit `K`, `M`, `G`, `T`
/// (powers of 1000) or `Ki`, `Mi`, `Gi`, `Ti` (powers of 1024), optionally followed by `B`,
/// case-insensitive: `500M`, `1.5GiB`, `0`.
pub fn parse_size(text: &str) -> Result<u64, &'static str> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| "expected a number of bytes, such as 500M or 2G")?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let (power, binary) = match unit.strip_suffix('i') {
        Some(prefix) => (prefix, true),
        None => (unit, false),
    };
    let exponent = match power {
        "" if !binary => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        _ => return Err("the unit is not one of K, M, G, T, Ki, Mi, Gi, Ti (B optional)"),
    };
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let bytes = number * base.powi(exponent);
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err("too large");
    }
    Ok(bytes.round() as u64)
}

/// How stale an entry's modification time may be before a hit sets it again.
pub const TOUCH_INTERVAL: Duration = Duration::from_secs(3600);

/// How old a temporary file must be before prune takes it for a killed writer's.
const TEMPORARY_AGE: Duration = Duration::from_secs(3600);

/// The tag's file name.
const CACHEDIR_TAG_FILE: &str = "CACHEDIR.TAG";

/// The file in [`FORMAT_DIR`] holding the entries' size as counted for [`Cache::cap`].
const SIZE_FILE: &str = "size";

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

/// Magic, length and sha256 of the code, then the code deflated. Level 1: on code objects it
/// gives within 10% of level 6's size at a fraction of its time (entries are written while a
/// build runs).
fn encode_entry(code: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(ENTRY_HEADER + code.len() / 2);
    entry.extend_from_slice(ENTRY_MAGIC);
    entry.extend_from_slice(&(code.len() as u64).to_le_bytes());
    entry.extend_from_slice(&Sha256::digest(code));
    let mut encoder = flate2::write::DeflateEncoder::new(entry, flate2::Compression::fast());
    encoder
        .write_all(code)
        .expect("writing to a Vec does not fail");
    encoder.finish().expect("writing to a Vec does not fail")
}

/// The code of an entry, if it is whole: the magic, then code of the recorded length and hash.
fn decode_entry(entry: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read as _;
    if entry.len() < ENTRY_HEADER || &entry[..8] != ENTRY_MAGIC {
        return None;
    }
    let length = u64::from_le_bytes(entry[8..16].try_into().expect("8 bytes"));
    // The recorded length sizes the buffer only within reason: a corrupt header allocates
    // nothing huge, and one byte more than recorded is read to tell a longer stream.
    let mut code = Vec::with_capacity(usize::try_from(length.min(1 << 26)).ok()?);
    flate2::read::DeflateDecoder::new(&entry[ENTRY_HEADER..])
        .take(length.checked_add(1)?)
        .read_to_end(&mut code)
        .ok()?;
    if code.len() as u64 != length || Sha256::digest(&code)[..] != entry[16..ENTRY_HEADER] {
        return None;
    }
    Some(code)
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

    /// Set `path`'s modification time to `days` ago.
    fn used_days_ago(path: &Path, days: f64) {
        let time = SystemTime::now() - Duration::from_secs_f64(days * 86_400.0);
        filetime::set_file_mtime(path, filetime::FileTime::from_system_time(time)).unwrap();
    }

    #[test]
    fn entries_are_compressed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let code: Vec<u8> = b"\xe3\x00\x00\x00\x00some_name\x97\x00d\x00"
            .repeat(200)
            .into_iter()
            .collect();
        cache.put(&key("a.py"), &code).unwrap();
        let stored = fs_err::read(cache.entry_path(&key("a.py"))).unwrap();
        assert!(stored.len() < code.len() / 4, "{} bytes", stored.len());
        assert_eq!(cache.get(&key("a.py")), Some(code));
        // An entry that inflates to more than its recorded length is corrupt.
        let mut longer = stored.clone();
        longer[8] -= 1;
        fs_err::write(cache.entry_path(&key("a.py")), longer).unwrap();
        assert_eq!(cache.get(&key("a.py")), None);
    }

    #[test]
    fn a_hit_records_its_use() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        cache.put(&key("a.py"), b"code").unwrap();
        let path = cache.entry_path(&key("a.py"));
        let modified = || fs_err::metadata(&path).unwrap().modified().unwrap();
        used_days_ago(&path, 3.0);
        assert!(cache.get(&key("a.py")).is_some());
        assert!(modified().elapsed().unwrap() < Duration::from_secs(600));
        // Within the hour: not written again.
        used_days_ago(&path, 0.5 / 24.0);
        let before = modified();
        assert!(cache.get(&key("a.py")).is_some());
        assert_eq!(modified(), before);
    }

    #[test]
    fn prune_removes_the_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        // Entry i was used i days ago; each takes the same room.
        let keys: Vec<CacheKey> = (0..6).map(|i| key(&format!("m{i}.py"))).collect();
        for (i, key) in keys.iter().enumerate() {
            cache.put(key, b"same size").unwrap();
            used_days_ago(&cache.entry_path(key), i as f64);
        }
        let size = fs_err::metadata(cache.entry_path(&keys[0])).unwrap().len();
        // Someone else's file, an old-format entry, a killed writer's file and a live one's.
        let shard = cache.entry_path(&keys[0]).parent().unwrap().to_path_buf();
        fs_err::write(shard.join("notes.txt"), "keep").unwrap();
        let old = dir.path().join("v1/ab");
        fs_err::create_dir_all(&old).unwrap();
        fs_err::write(old.join("c".repeat(62)), "old format").unwrap();
        fs_err::write(shard.join(".tmp-pyship-Ab12Cd"), "partial").unwrap();
        used_days_ago(&shard.join(".tmp-pyship-Ab12Cd"), 1.0);
        fs_err::write(shard.join(".tmp-pyship-Ef34Gh"), "writing").unwrap();
        let info = cache.info().unwrap();
        assert_eq!((info.entries, info.outdated), (7, 1));
        assert_eq!(info.bytes, 6 * size + 10);

        let pruned = cache
            .prune(Limits {
                max_size: Some(4 * size + 1),
                older_than: Some(Duration::from_secs(86_400 * 5 / 2)),
            })
            .unwrap();
        // Days 0, 1, 2 fit both limits; 3 fits the size but not the age; 4 and 5 neither.
        assert_eq!((pruned.removed, pruned.entries), (4, 3));
        assert_eq!(
            (pruned.removed_bytes, pruned.bytes),
            (3 * size + 10, 3 * size)
        );
        // (By path: a `get` would record a use.)
        let present = |key: &CacheKey| cache.entry_path(key).is_file();
        let kept: Vec<bool> = keys.iter().map(present).collect();
        assert_eq!(kept, [true, true, true, false, false, false]);
        assert!(shard.join("notes.txt").is_file());
        assert!(!dir.path().join("v1").exists());
        assert!(!shard.join(".tmp-pyship-Ab12Cd").exists());
        assert!(shard.join(".tmp-pyship-Ef34Gh").exists());

        // By size alone: the two most recently used stay.
        let pruned = cache
            .prune(Limits {
                max_size: Some(2 * size),
                older_than: None,
            })
            .unwrap();
        assert_eq!((pruned.removed, pruned.entries), (1, 2));
        assert!(present(&keys[1]) && !present(&keys[2]));

        // Not pyship's: refused, nothing removed.
        fs_err::remove_file(dir.path().join("CACHEDIR.TAG")).unwrap();
        let err = cache.prune(Limits::default()).unwrap_err();
        assert!(err.to_string().starts_with("Refusing to prune"), "{err}");
        assert_eq!(cache.info().unwrap().entries, 2);
    }

    #[test]
    fn the_cap_prunes_to_ninety_percent_once_over() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<CacheKey> = (0..10).map(|i| key(&format!("m{i}.py"))).collect();
        let cache = Cache::new(dir.path()).with_max_size(0);
        for (i, key) in keys.iter().enumerate() {
            cache.put(key, b"same size").unwrap();
            used_days_ago(&cache.entry_path(key), 10.0 - i as f64);
        }
        let size = fs_err::metadata(cache.entry_path(&keys[0])).unwrap().len();
        assert_eq!(cache.cap(size), None, "no cap");
        // Nothing counted yet: a walk counts, and records the count.
        assert_eq!(
            cache.clone().with_max_size(10 * size).cap(size),
            None,
            "not over"
        );
        assert_eq!(cache.counted_size(), Some(10 * size));
        let pruned = cache.clone().with_max_size(10 * size - 1).cap(0).unwrap();
        // 90% of just under ten entries holds eight: the two least recently used go.
        assert_eq!((pruned.removed, pruned.entries), (2, 8));
        let present = |key: &CacheKey| cache.entry_path(key).is_file();
        assert!(!present(&keys[1]) && present(&keys[2]));
        assert_eq!(cache.counted_size(), Some(8 * size));

        // Under the cap by the count: no walk, so entries the count missed (a parallel run's)
        // wait for a later run.
        let more: Vec<CacheKey> = (10..14).map(|i| key(&format!("m{i}.py"))).collect();
        for key in &more {
            cache.put(key, b"same size").unwrap();
        }
        let capped = cache.clone().with_max_size(10 * size);
        assert_eq!(capped.cap(size), None);
        assert_eq!(cache.counted_size(), Some(9 * size));
        // Over by the count: a walk finds twelve entries and prunes to nine.
        let pruned = capped.cap(2 * size).unwrap();
        assert_eq!((pruned.removed, pruned.entries), (3, 9));
        assert_eq!(cache.counted_size(), Some(9 * size));
        // Cleaning removes the count with the entries.
        assert_eq!(cache.clean().unwrap(), 9);
        assert!(!dir.path().join("v2").exists());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert_eq!(parse_size("500M"), Ok(500_000_000));
        assert_eq!(parse_size("500 MB"), Ok(500_000_000));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("2g"), Ok(2_000_000_000));
        assert_eq!(parse_size("1Ki"), Ok(1024));
        assert_eq!(parse_size("10B"), Ok(10));
        for bad in ["", "M", "5X", "5iB", "1e3", "-1", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
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
