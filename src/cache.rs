//! The content-addressed compile cache (SPEC §5), shared by `pyship build` and `pyship compile`.
//!
//! [`compile_cached`] takes compile requests and returns their outcomes in order, like
//! [`crate::compile::compile_all`], but answers every request whose [`CacheKey`] is already in
//! the [`Cache`] without asking CPython. Workers are started only for misses, no more of them
//! than there are misses, and each as soon as its miss is found, so they boot while the rest of
//! the lookups run.
//!
//! A key is the sha256 of the source bytes' digest ([`SourceDigest`], computed once per file
//! even with several targets), the target's magic number, the optimize level, the docstring
//! stripping flag, the dfile and pyship's version (so a change to the canonical form never
//! serves stale bytes). An entry holds the canonical code bytes after a small header with their
//! length and sha256: a truncated or corrupt entry is a miss, compiled again and rewritten.
//!
//! Entries are written to a temporary file in their final directory and renamed into place,
//! so readers see a whole entry or none, and concurrent pyship processes writing the same key
//! write the same bytes. The layout is `DIR/v1/ab/cdef…` (the key in hex, split after two
//! digits); `DIR/CACHEDIR.TAG` marks the directory for backup tools.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use crate::compile::pool::WorkerPool;
use crate::compile::{CompileError, CompileOutcome, CompileRequest, compile_all_with};
use crate::interpreter::Interpreter;
use crate::jobs::Jobs;
use crate::report::Reporter;
use crate::sink::Artifact;

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

/// The sha256 of a source file's bytes: computed once per file and shared by every target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceDigest([u8; 32]);

impl SourceDigest {
    /// Hash `source`.
    pub fn of(source: &[u8]) -> SourceDigest {
        SourceDigest(Sha256::digest(source).into())
    }
}

/// What identifies one compiled module: see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The key of `source` (by digest) compiled by the interpreter with magic number `magic`
    /// at `optimize`, with docstrings stripped or not, and `dfile` as its `co_filename`.
    pub fn new(
        source: &SourceDigest,
        magic: [u8; 4],
        optimize: u8,
        strip_docstrings: bool,
        dfile: &str,
    ) -> CacheKey {
        let mut hasher = Sha256::new();
        hasher.update(b"pyship cache key\0");
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        hasher.update(b"\0");
        hasher.update(source.0);
        hasher.update(magic);
        hasher.update([optimize, u8::from(strip_docstrings)]);
        hasher.update((dfile.len() as u64).to_le_bytes());
        hasher.update(dfile.as_bytes());
        CacheKey(hasher.finalize().into())
    }

    fn hex(&self) -> String {
        hex(&self.0)
    }
}

/// Lowercase hexadecimal.
fn hex(bytes: &[u8]) -> String {
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
    fn mark(&self) {
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

    fn artifact_record_path(&self, dest: &Path) -> PathBuf {
        let dest = fs_err::canonicalize(dest).unwrap_or_else(|_| dest.to_path_buf());
        let key = Sha256::digest(dest.as_os_str().as_encoded_bytes());
        self.dir.join(ARTIFACTS_DIR).join(hex(&key))
    }

    /// Whether the archive at `dest` is the one a build with `fingerprint` would write: it was
    /// written by pyship from the same inputs and has not been touched since (same size and
    /// modification time). Returns it as it was recorded, with the files it holds.
    pub fn artifact_up_to_date(&self, dest: &Path, fingerprint: &[u8; 32]) -> Option<Artifact> {
        let record = fs_err::read(self.artifact_record_path(dest)).ok()?;
        let (recorded, rest) = record.split_at_checked(32)?;
        let (stamp, files) = rest.split_at_checked(28)?;
        if recorded != fingerprint || stamp != artifact_stamp(dest)?.as_slice() {
            return None;
        }
        Some(Artifact::new(
            dest.to_path_buf(),
            serde_json::from_slice(files).ok()?,
        ))
    }

    /// Record that `artifact` was just written for `fingerprint`: the fingerprint, the file's
    /// size and modification time, and the files it holds (JSON).
    pub fn remember_artifact(
        &self,
        artifact: &Artifact,
        fingerprint: &[u8; 32],
    ) -> Result<(), CacheError> {
        let io = |err: std::io::Error| CacheError::Io {
            dir: self.dir.clone(),
            err,
        };
        let Some(stamp) = artifact_stamp(&artifact.path) else {
            return Ok(());
        };
        let path = self.artifact_record_path(&artifact.path);
        fs_err::create_dir_all(path.parent().expect("records are in a directory")).map_err(io)?;
        self.mark();
        let mut record = fingerprint.to_vec();
        record.extend_from_slice(&stamp);
        serde_json::to_writer(&mut record, &artifact.files).map_err(|err| io(err.into()))?;
        write_atomic(&path, &record).map_err(io)
    }

    /// Remove every entry, artifact record and temporary file pyship wrote, and the tag;
    /// returns how many entries there were. Refuses a directory pyship did not mark as its cache
    /// (see [`Cache::mark`]), and removes only what it recognises as its own by name and type
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

/// Where artifact records live, beside the entries.
const ARTIFACTS_DIR: &str = "artifacts-v1";

/// Size, modification time (seconds, nanoseconds) and inode of a file: what changes when anyone
/// rewrites it.
fn artifact_stamp(path: &Path) -> Option<[u8; 28]> {
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

/// Write `bytes` to `path` through a temporary file in the same directory.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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

/// What [`compile_cached`] did, summed over targets in a build.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Modules compiled by a worker (cache misses, or every module without a cache).
    pub compiled: usize,
    /// Modules answered from the cache.
    pub cached: usize,
    /// Worker processes started, replacements included.
    pub workers: usize,
    /// Cache entries that could not be written (the build goes on without them).
    pub write_errors: usize,
}

impl std::ops::AddAssign for CacheStats {
    fn add_assign(&mut self, other: CacheStats) {
        self.compiled += other.compiled;
        self.cached += other.cached;
        self.workers += other.workers;
        self.write_errors += other.write_errors;
    }
}

/// How [`compile_cached`] runs.
#[derive(Debug, Clone, Copy)]
pub struct CacheOptions<'a> {
    /// The cache, or `None` to compile everything (`--no-cache`).
    pub cache: Option<&'a Cache>,
    /// At most this many workers.
    pub jobs: usize,
    /// Part of the key; always false until docstring stripping exists.
    pub strip_docstrings: bool,
}

/// The outcomes of [`compile_cached`], in request order, and what it took.
#[derive(Debug)]
pub struct CachedOutcomes {
    /// One per request.
    pub outcomes: Vec<Result<CompileOutcome, CompileError>>,
    /// Counts.
    pub stats: CacheStats,
    /// The first cache write error, if any, for a warning.
    pub write_error: Option<CacheError>,
}

/// Compile `requests` for `interpreter`, answering from the cache what it can; `digests[i]` is
/// the [`SourceDigest`] of `requests[i].source` (computed here when `digests` is `None` and a
/// cache is used). See the module docs. The reporter hears about the misses only.
pub fn compile_cached(
    interpreter: &Interpreter,
    requests: Vec<CompileRequest>,
    digests: Option<&[SourceDigest]>,
    options: CacheOptions<'_>,
    reporter: &dyn Reporter,
) -> Result<CachedOutcomes, CompileError> {
    compile_cached_with(
        interpreter,
        requests,
        digests,
        options,
        reporter,
        &|_, _| {},
    )
}

/// Called with a request's index and its outcome as soon as it is known (from the cache or a
/// worker), on whichever thread learned it.
pub type OnOutcome<'a> = dyn Fn(usize, &Result<CompileOutcome, CompileError>) + Sync + 'a;

/// [`compile_cached`], handing each outcome to `on_outcome` as soon as it is known.
pub fn compile_cached_with(
    interpreter: &Interpreter,
    requests: Vec<CompileRequest>,
    digests: Option<&[SourceDigest]>,
    options: CacheOptions<'_>,
    reporter: &dyn Reporter,
    on_outcome: &OnOutcome<'_>,
) -> Result<CachedOutcomes, CompileError> {
    let total = requests.len();
    let jobs = options.jobs.max(1);
    let pool = WorkerPool::idle(interpreter, jobs);
    let misses = AtomicUsize::new(0);
    let spawn_error: Mutex<Option<CompileError>> = Mutex::new(None);
    // A miss found while the lookups run starts its worker right away.
    let on_miss = || {
        let count = misses.fetch_add(1, Ordering::Relaxed) + 1;
        if count <= jobs
            && let Err(err) = pool.warm(count)
        {
            spawn_error.lock().unwrap().get_or_insert(err);
        }
    };
    let keys: Vec<Option<CacheKey>> = match options.cache {
        None => {
            for _ in 0..total.min(jobs) {
                on_miss();
            }
            misses.store(total, Ordering::Relaxed);
            vec![None; total]
        }
        Some(_) => requests
            .par_iter()
            .enumerate()
            .map(|(index, request)| {
                let digest = digests.map_or_else(
                    || SourceDigest::of(&request.source),
                    |digests| digests[index],
                );
                Some(CacheKey::new(
                    &digest,
                    interpreter.magic,
                    request.optimize,
                    options.strip_docstrings,
                    &request.dfile,
                ))
            })
            .collect(),
    };
    let mut outcomes: Vec<Option<Result<CompileOutcome, CompileError>>> = match options.cache {
        None => (0..total).map(|_| None).collect(),
        Some(cache) => keys
            .par_iter()
            .enumerate()
            .map(|(index, key)| {
                let code = cache.get(key.as_ref().expect("keyed"));
                if code.is_none() {
                    on_miss();
                }
                code.map(|code| {
                    let outcome = Ok(CompileOutcome::Code(code));
                    on_outcome(index, &outcome);
                    outcome
                })
            })
            .collect(),
    };
    if let Some(err) = spawn_error.into_inner().unwrap() {
        return Err(err);
    }
    let mut misses: Vec<(usize, CompileRequest)> = requests
        .into_iter()
        .enumerate()
        .filter(|(index, _)| outcomes[*index].is_none())
        .collect();
    // Largest sources first: the workers finish together instead of one compiling a big module
    // at the end while the others wait (longest-processing-time-first scheduling). Stable, so
    // the order is a pure function of the input.
    misses.sort_by_key(|(_, request)| std::cmp::Reverse(request.source.len()));
    let (miss_indices, miss_requests): (Vec<usize>, Vec<CompileRequest>) =
        misses.into_iter().unzip();
    let mut stats = CacheStats {
        compiled: miss_indices.len(),
        cached: total - miss_indices.len(),
        ..CacheStats::default()
    };
    let mut write_error = None;
    if !miss_requests.is_empty() {
        let workers = jobs.min(miss_requests.len());
        let dfiles: Vec<String> = miss_requests.iter().map(|r| r.dfile.clone()).collect();
        reporter.on_compile_start(&interpreter.short_version(), miss_requests.len());
        // Cache entries are written in the background as the answers arrive.
        let puts: Mutex<Jobs<Result<(), CacheError>>> = Mutex::new(Jobs::new());
        // Two threads per worker: while one canonicalizes an answer, the other has already
        // handed the worker its next module.
        let compiled = compile_all_with(&pool, miss_requests, workers * 2, |i, outcome| {
            on_outcome(miss_indices[i], outcome);
            reporter.on_compiled(&dfiles[i]);
            if let (Some(cache), Ok(CompileOutcome::Code(code))) = (options.cache, outcome) {
                let (cache, key) = (cache.clone(), keys[miss_indices[i]].expect("keyed"));
                let code = code.clone();
                puts.lock().unwrap().spawn(move || cache.put(&key, &code));
            }
        });
        reporter.on_compile_finish();
        let mut puts = puts.into_inner().unwrap();
        while let Some(put) = puts.next() {
            if let Err(err) = put {
                stats.write_errors += 1;
                write_error.get_or_insert(err);
            }
        }
        for (index, outcome) in miss_indices.into_iter().zip(compiled) {
            outcomes[index] = Some(outcome);
        }
    }
    stats.workers = pool.spawned();
    Ok(CachedOutcomes {
        outcomes: outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every request answered"))
            .collect(),
        stats,
        write_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dfile: &str) -> CacheKey {
        CacheKey::new(
            &SourceDigest::of(b"x = 1\n"),
            *b"\xcb\x0d\r\n",
            0,
            false,
            dfile,
        )
    }

    #[test]
    fn key_depends_on_every_part() {
        let digest = SourceDigest::of(b"x = 1\n");
        let magic = *b"\xcb\x0d\r\n";
        let base = CacheKey::new(&digest, magic, 0, false, "a.py");
        let others = [
            CacheKey::new(&SourceDigest::of(b"x = 2\n"), magic, 0, false, "a.py"),
            CacheKey::new(&digest, *b"\xa7\x0d\r\n", 0, false, "a.py"),
            CacheKey::new(&digest, magic, 1, false, "a.py"),
            CacheKey::new(&digest, magic, 0, true, "a.py"),
            CacheKey::new(&digest, magic, 0, false, "b.py"),
        ];
        for other in others {
            assert_ne!(base, other);
        }
        assert_eq!(base, CacheKey::new(&digest, magic, 0, false, "a.py"));
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
        assert!(!dir.path().join("cache/CACHEDIR.TAG").exists());
        assert!(dir.path().join("cache").is_dir());
    }

    #[test]
    fn clean_leaves_other_files() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("mine.txt"), "keep").unwrap();
        let cache = Cache::new(dir.path());
        cache.put(&key("a.py"), b"code").unwrap();
        assert_eq!(cache.clean().unwrap(), 1);
        assert!(dir.path().join("mine.txt").is_file());
        // No longer marked: refused.
        assert!(matches!(cache.clean(), Err(CacheError::NotMarked { .. })));
        assert_eq!(Cache::new(dir.path().join("missing")).clean().unwrap(), 0);
    }
}
