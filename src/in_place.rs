//! `pyship compile`: byte-compile sources in place, a faster drop-in for `python -m compileall`.
//!
//! Takes paths (directories walked as `compileall` walks them, or single files) and a target
//! interpreter; writes `__pycache__/X.<cache_tag>[.opt-N].pyc` (or the legacy `X.pyc`) beside
//! each source exactly as `py_compile.compile(path)` would, and returns an [`InplaceReport`].
//!
//! It shares the build pipeline's pieces: the worker pool and the compile cache through
//! [`crate::compile::compile_all`] (so the code bytes are canonical), the `__pycache__` file
//! name from [`crate::plan::layout`] and the pyc header from [`crate::bytecode::pyc`]. What it adds is the
//! in-place part:
//!
//! - the walk: sorted directory entries, `__pycache__` skipped, symlinked directories not
//!   followed (symlinked files are compiled), a file argument compiled only when it ends in
//!   `.py` (`compileall.compile_dir`/`compile_file`);
//! - `co_filename` is the source path as walked from the argument (`os.path.join(dir, name)`);
//! - a pyc is left alone only when its whole 16-byte header equals the one that would be
//!   written. `compileall` compares 12 bytes, which ignores the source size and treats every
//!   hash-based pyc as stale or, worse, current (cpython#117204, cpython#121577). For timestamp
//!   pycs the check needs only `stat`, not the source;
//! - each pyc is written to a temporary file in its directory, created with `py_compile`'s mode
//!   (the source's mode with owner write added, execute bits dropped, then the umask:
//!   `importlib._bootstrap_external._calc_mode` and `_write_atomic`), and renamed into place.
//!   Like `py_compile`, a pyc path that is a symlink or not a regular file is refused.
//!
//! Syntax errors and sources that cannot be read do not stop the others: every other pyc is
//! still written (compileall's semantics), and the failures are in the report.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use crate::bytecode::pyc::{self, Invalidation};
use crate::cache::Cache;
use crate::compile::cpython::WorkerPool;
use crate::compile::{
    CacheStats, CodeOptions, CompileError, CompileRequest, Compiled, Event, Failures, Optimize,
    compile_all,
};
use crate::interpreter::{Interpreter, resolve};
use crate::report::{Failure, Reporter, human_bytes};
use crate::support::jobs::Jobs;

/// What `pyship compile` does, resolved.
#[derive(Debug, Clone)]
pub struct InplaceConfig {
    /// Directories to walk and files to compile.
    pub paths: Vec<PathBuf>,
    /// The target interpreter: a path, a command or a version.
    pub python: String,
    /// As `python -O`/`-OO -m compileall`.
    pub optimize: Optimize,
    /// PEP 552 mode; [`default_invalidation`] is `py_compile`'s default.
    pub invalidation: Invalidation,
    /// Write `X.pyc` beside `X.py` instead of into `__pycache__` (`compileall -b`).
    pub legacy: bool,
    /// At most this many worker processes.
    pub jobs: usize,
    /// The compile cache directory; `None` compiles everything.
    pub cache_dir: Option<PathBuf>,
}

/// `py_compile`'s default invalidation mode: `checked-hash` when `SOURCE_DATE_EPOCH` is set
/// (to anything non-empty), else `timestamp`.
pub fn default_invalidation() -> Invalidation {
    if std::env::var_os("SOURCE_DATE_EPOCH").is_some_and(|value| !value.is_empty()) {
        Invalidation::CheckedHash
    } else {
        Invalidation::Timestamp
    }
}

/// Why `pyship compile` stopped.
#[derive(Debug, thiserror::Error)]
pub enum InplaceError {
    /// The target interpreter could not be used.
    #[error(transparent)]
    Interpreter(#[from] crate::interpreter::InterpreterError),
    /// Compiling failed for a reason other than a source.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// SIGINT or SIGTERM stopped the run.
    #[error(transparent)]
    Interrupted(#[from] crate::support::interrupt::Interrupted),
    /// A path given does not exist.
    #[error("`{}` does not exist", path.display())]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// A directory could not be listed.
    #[error("Failed to list `{}`", path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        err: std::io::Error,
    },
    /// A source could not be read.
    #[error("Failed to read `{}`", path.display())]
    Read {
        /// The source.
        path: PathBuf,
        /// Why.
        #[source]
        err: std::io::Error,
    },
    /// A pyc could not be written.
    #[error("Failed to write `{}`", path.display())]
    Write {
        /// The pyc.
        path: PathBuf,
        /// Why.
        #[source]
        err: std::io::Error,
    },
    /// The pyc path exists and is a symlink or not a regular file: as `py_compile`, refuse to
    /// replace it.
    #[error(
        "`{}` is a symlink or not a regular file; it would be replaced by a regular file",
        path.display()
    )]
    NotRegular {
        /// The pyc.
        path: PathBuf,
    },
}

/// What `pyship compile` did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct InplaceReport {
    /// Sources found.
    pub modules: usize,
    /// Their bytes.
    pub source_bytes: u64,
    /// Pycs written.
    pub written: usize,
    /// Sources whose pyc already had the header that would be written: left alone.
    pub up_to_date: usize,
    /// Compiled by workers, answered from the cache, workers started.
    pub cache: CacheStats,
    /// Sources that did not compile; their pycs are not written, every other one is.
    pub failures: Vec<Failure>,
    /// Things the user should know that did not stop the run.
    pub warnings: Vec<String>,
    /// Wall time of each stage, in order: `scan`, `check`, `compile 3.12`, `write`.
    pub timings: Vec<(String, f64)>,
    /// Wall time.
    pub duration: std::time::Duration,
}

impl InplaceReport {
    /// The one-line summary printed at the end.
    pub fn summary(&self) -> String {
        let plural = |count: usize| if count == 1 { "" } else { "s" };
        format!(
            "Wrote {} pyc{} for {} module{} ({}), {} up to date, in {:.2}s{}",
            self.written,
            plural(self.written),
            self.modules,
            plural(self.modules),
            human_bytes(self.source_bytes),
            self.up_to_date,
            self.duration.as_secs_f64(),
            crate::report::warning_count(self.warnings.len())
        )
    }
}

/// A source found by the walk.
#[derive(Debug)]
struct Source {
    /// As walked from the argument: `co_filename` and what errors show.
    path: PathBuf,
    /// Where its pyc goes.
    pyc: PathBuf,
}

/// A source whose pyc must be (re)written.
struct Pending {
    index: usize,
    header: [u8; 16],
    mode: u32,
    source: Arc<[u8]>,
}

/// Compile every source under `config.paths` in place; see the module docs.
pub fn run(config: &InplaceConfig, reporter: &dyn Reporter) -> Result<InplaceReport, InplaceError> {
    let start = Instant::now();
    let mut report = InplaceReport::default();
    let interpreter = resolve(&config.python)?;
    let mut stage = Instant::now();
    let mut lap = |report: &mut InplaceReport, name: &str| {
        report
            .timings
            .push((name.to_owned(), stage.elapsed().as_secs_f64()));
        stage = Instant::now();
    };

    let sources = walk(&config.paths, |path| {
        pyc_path(path, &interpreter, config.optimize, config.legacy)
    })?;
    report.modules = sources.len();
    lap(&mut report, "scan");

    let checked: Vec<Result<(u64, Option<Pending>), InplaceError>> = sources
        .par_iter()
        .enumerate()
        .map(|(index, source)| check(index, source, &interpreter, config.invalidation))
        .collect();
    let mut pending: Vec<Pending> = Vec::new();
    for (source, result) in sources.iter().zip(checked) {
        match result {
            Ok((size, item)) => {
                report.source_bytes += size;
                pending.extend(item);
            }
            // Like compileall, a source that cannot be read is reported and the others are
            // still compiled and written.
            Err(err @ InplaceError::Read { .. }) => {
                report
                    .failures
                    .push(failure_of(&source.path, &err, &interpreter));
            }
            Err(err) => return Err(err),
        }
    }
    report.up_to_date = sources.len() - pending.len() - report.failures.len();
    lap(&mut report, "check");

    // `__pycache__` directories first, once each; then every pyc is written from the compiling
    // thread as soon as its code is known, while other modules still compile. A directory that
    // cannot be made fails its own sources only, as it does in compileall.
    let directories: BTreeSet<&Path> = pending
        .iter()
        .filter_map(|item| sources[item.index].pyc.parent())
        .filter(|directory| !directory.as_os_str().is_empty())
        .collect();
    let mut unmade: Vec<(&Path, std::io::Error)> = Vec::new();
    for directory in directories {
        if let Err(err) = fs_err::create_dir_all(directory) {
            unmade.push((directory, err));
        }
    }
    pending.retain(|item| {
        let parent = sources[item.index].pyc.parent();
        match unmade
            .iter()
            .find(|(directory, _)| Some(*directory) == parent)
        {
            Some((directory, err)) => {
                let err = InplaceError::Write {
                    path: directory.to_path_buf(),
                    err: std::io::Error::new(err.kind(), err.to_string()),
                };
                report
                    .failures
                    .push(failure_of(&sources[item.index].path, &err, &interpreter));
                false
            }
            None => true,
        }
    });

    let requests = pending
        .iter()
        .map(|item| CompileRequest {
            source: Arc::clone(&item.source),
            dfile: sources[item.index].path.to_string_lossy().into_owned(),
            options: CodeOptions::new(config.optimize),
        })
        .collect();
    let cache = config.cache_dir.as_ref().map(Cache::new);
    let pool = WorkerPool::idle(&interpreter, config.jobs);
    // Each pyc is written in the background as its code arrives, so this thread goes straight
    // back to taking answers and the compiling threads to feeding the workers.
    let mut writes: Jobs<(usize, Result<(), InplaceError>)> = Jobs::new();
    let mut failures = Failures::default();
    let mut compiling = false;
    let compiled = compile_all(&pool, cache.as_ref(), requests, None, |event| {
        let answer = match event {
            Event::Compiling { misses } => {
                compiling = true;
                reporter.on_compile_start(&interpreter.short_version(), misses);
                return Ok(());
            }
            Event::Answer(answer) => answer,
        };
        if !answer.cached {
            reporter.on_compiled(&answer.dfile);
        }
        if let Some(code) = failures.code(answer.index, answer.outcome) {
            let item = &pending[answer.index];
            let (path, header, mode) = (sources[item.index].pyc.clone(), item.header, item.mode);
            let index = item.index;
            writes.spawn(move || (index, write_pyc(&path, header, mode, &code)));
        }
        Ok::<(), InplaceError>(())
    });
    if compiling {
        reporter.on_compile_finish();
    }
    let Compiled {
        mut stats,
        write_error,
    } = compiled?;
    stats.workers = pool.spawned();
    drop(pool);
    report.cache = stats;
    if let Some(err) = write_error {
        report.warnings.push(err.warning(stats.write_errors));
    }
    let mut written = 0;
    let mut write_failures = Vec::new();
    while let Some((index, write)) = writes.next() {
        match write {
            Ok(()) => written += 1,
            Err(err) => write_failures.push((index, err)),
        }
    }
    lap(
        &mut report,
        &format!("compile and write {}", interpreter.short_version()),
    );
    // A pyc that cannot be written fails its module only (compileall reports the OSError and
    // goes on).
    for (index, err) in write_failures {
        report
            .failures
            .push(failure_of(&sources[index].path, &err, &interpreter));
    }

    for (index, error) in failures.finish()? {
        report.failures.push(Failure {
            path: sources[pending[index].index].path.clone(),
            line: error.line,
            column: error.column,
            message: error.message,
            python: interpreter.short_version(),
        });
    }
    report.written = written;
    // Walk order, whichever stage found the failure.
    report.failures.sort_by(|a, b| a.path.cmp(&b.path));
    report.duration = start.elapsed();
    Ok(report)
}

/// Every `.py` file under `paths`, as `compileall` finds them, without duplicates.
fn walk(
    paths: &[PathBuf],
    pyc_path: impl Fn(&Path) -> PathBuf,
) -> Result<Vec<Source>, InplaceError> {
    let mut found = Vec::new();
    for path in paths {
        let metadata =
            fs_err::metadata(path).map_err(|_| InplaceError::NotFound { path: path.clone() })?;
        if metadata.is_file() {
            if is_python(path) {
                found.push(path.clone());
            }
        } else {
            walk_dir(path, &mut found)?;
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|path| seen.insert(path.clone()));
    Ok(found
        .into_iter()
        .map(|path| Source {
            pyc: pyc_path(&path),
            path,
        })
        .collect())
}

fn is_python(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.as_encoded_bytes().ends_with(b".py"))
}

/// `compileall.compile_dir`: sorted names, `__pycache__` skipped, directories recursed into
/// unless they are symlinks, everything else compiled when it is a `.py` file.
fn walk_dir(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), InplaceError> {
    let list_error = |err| InplaceError::List {
        path: dir.to_path_buf(),
        err,
    };
    let mut entries: Vec<(std::ffi::OsString, std::fs::FileType)> = fs_err::read_dir(dir)
        .map_err(list_error)?
        .map(|entry| {
            let entry = entry?;
            Ok((entry.file_name(), entry.file_type()?))
        })
        .collect::<Result<_, std::io::Error>>()
        .map_err(list_error)?;
    entries.sort_unstable_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
    for (name, file_type) in entries {
        if name == "__pycache__" {
            continue;
        }
        let path = dir.join(&name);
        if file_type.is_dir() {
            walk_dir(&path, found)?;
        } else if is_python(&path) && (file_type.is_file() || path.is_file()) {
            // A symlink to a file is compiled (`os.path.isfile` follows it); a symlink to a
            // directory is neither recursed into nor compiled.
            found.push(path);
        }
    }
    Ok(())
}

/// `importlib.util.cache_from_source(path, optimization=...)`, or `path + "c"` when legacy.
fn pyc_path(source: &Path, interpreter: &Interpreter, optimize: Optimize, legacy: bool) -> PathBuf {
    if legacy {
        let mut name = source.as_os_str().to_owned();
        name.push("c");
        return PathBuf::from(name);
    }
    let name = source.file_name().unwrap_or_default().to_string_lossy();
    // `base` of `tail.rpartition('.')`, or the extension itself for a file named `.py`.
    let stem = match name.rsplit_once('.') {
        Some(("", extension)) => extension,
        Some((stem, _)) => stem,
        None => &name,
    };
    let file = crate::plan::layout::cache_file_name(stem, &interpreter.cache_tag, optimize);
    source
        .parent()
        .unwrap_or(Path::new(""))
        .join("__pycache__")
        .join(file)
}

/// The source's size, and whether its pyc must be written: if so, everything needed to write it.
fn check(
    index: usize,
    source: &Source,
    interpreter: &Interpreter,
    invalidation: Invalidation,
) -> Result<(u64, Option<Pending>), InplaceError> {
    let read_error = |err| InplaceError::Read {
        path: source.path.clone(),
        err,
    };
    let metadata = fs_err::metadata(&source.path).map_err(read_error)?;
    let mode = pyc_mode(&metadata);
    let existing = existing_header(&source.pyc);
    let (header, bytes) = match invalidation {
        Invalidation::Timestamp => {
            let header =
                pyc::timestamp_header(interpreter.magic, stat_mtime(&metadata), metadata.len());
            if existing == Some(header) {
                return Ok((metadata.len(), None));
            }
            (header, fs_err::read(&source.path).map_err(read_error)?)
        }
        Invalidation::CheckedHash | Invalidation::UncheckedHash => {
            let bytes = fs_err::read(&source.path).map_err(read_error)?;
            let header = pyc::header(
                interpreter.magic,
                interpreter.version.minor,
                invalidation,
                &bytes,
                0,
            );
            if existing == Some(header) {
                return Ok((metadata.len(), None));
            }
            (header, bytes)
        }
    };
    Ok((
        metadata.len(),
        Some(Pending {
            index,
            header,
            mode,
            source: Arc::from(bytes),
        }),
    ))
}

/// `err`, which stopped `source`, as its one-line report: `source: what went wrong`.
fn failure_of(source: &Path, err: &InplaceError, interpreter: &Interpreter) -> Failure {
    let message = match err {
        InplaceError::Read { path, err } => format!("Failed to read: {}", io_cause(path, err)),
        InplaceError::Write { path, err } => {
            format!(
                "Failed to write `{}`: {}",
                path.display(),
                io_cause(path, err)
            )
        }
        other => other.to_string(),
    };
    Failure {
        path: source.to_path_buf(),
        line: 0,
        column: 0,
        message,
        python: interpreter.short_version(),
    }
}

/// What the system said, without `fs_err`'s restatement of the path (the failure names it).
fn io_cause(path: &Path, err: &std::io::Error) -> String {
    let text = err.to_string();
    let restated = format!("`{}`: ", path.display());
    match text.split_once(&restated) {
        Some((_, cause)) => cause.to_owned(),
        None => text,
    }
}

/// The first 16 bytes of the pyc at `path`, if there are that many.
fn existing_header(path: &Path) -> Option<[u8; 16]> {
    let mut header = [0u8; 16];
    let mut file = std::fs::File::open(path).ok()?;
    file.read_exact(&mut header).ok()?;
    Some(header)
}

/// `int(os.stat(path).st_mtime) & 0xFFFFFFFF`: whole seconds, truncated toward zero.
fn stat_mtime(metadata: &std::fs::Metadata) -> u32 {
    #[cfg(unix)]
    let seconds = {
        use std::os::unix::fs::MetadataExt as _;
        // `st_mtime` is the float `mtime + mtime_nsec / 1e9`; `int()` truncates toward zero.
        metadata.mtime() + i64::from(metadata.mtime() < 0 && metadata.mtime_nsec() > 0)
    };
    #[cfg(not(unix))]
    let seconds = metadata.modified().map_or(0, |time| {
        time.duration_since(std::time::UNIX_EPOCH).map_or_else(
            |err| -(err.duration().as_secs() as i64),
            |d| d.as_secs() as i64,
        )
    });
    seconds as u32
}

/// `_calc_mode(source) & 0o666`: the source's permissions with owner write added; the umask
/// applies when the file is created.
fn pyc_mode(metadata: &std::fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        (metadata.permissions().mode() | 0o200) & 0o666
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        0o666
    }
}

/// Write `header` and `code` to `path` through a temporary file in its directory, created
/// with `mode`.
fn write_pyc(path: &Path, header: [u8; 16], mode: u32, code: &[u8]) -> Result<(), InplaceError> {
    use std::io::Write as _;
    let write_error = |err| InplaceError::Write {
        path: path.to_path_buf(),
        err,
    };
    if let Ok(metadata) = std::fs::symlink_metadata(path)
        && !metadata.is_file()
    {
        return Err(InplaceError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".pyship-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut temp = builder.tempfile_in(directory).map_err(write_error)?;
    let mut bytes = Vec::with_capacity(16 + code.len());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(code);
    temp.write_all(&bytes).map_err(write_error)?;
    temp.persist(path).map_err(|err| write_error(err.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpreter::Version;

    fn interpreter() -> Interpreter {
        Interpreter {
            executable: PathBuf::from("python3.12"),
            version: Version {
                major: 3,
                minor: 12,
                micro: 1,
            },
            magic: *b"\xcb\x0d\r\n",
            cache_tag: "cpython-312".to_owned(),
        }
    }

    #[test]
    fn pyc_paths_follow_cache_from_source() {
        let python = interpreter();
        let cases = [
            (
                "pkg/mod.py",
                0,
                false,
                "pkg/__pycache__/mod.cpython-312.pyc",
            ),
            (
                "pkg/mod.py",
                1,
                false,
                "pkg/__pycache__/mod.cpython-312.opt-1.pyc",
            ),
            (
                "pkg/mod.py",
                2,
                false,
                "pkg/__pycache__/mod.cpython-312.opt-2.pyc",
            ),
            ("a.b.py", 0, false, "__pycache__/a.b.cpython-312.pyc"),
            ("./x/.py", 0, false, "./x/__pycache__/py.cpython-312.pyc"),
            ("pkg/mod.py", 2, true, "pkg/mod.pyc"),
        ];
        for (source, optimize, legacy, expected) in cases {
            let optimize = Optimize::from_level(optimize).unwrap();
            assert_eq!(
                pyc_path(Path::new(source), &python, optimize, legacy),
                PathBuf::from(expected),
                "{source} {optimize:?} legacy={legacy}"
            );
        }
    }

    #[test]
    fn walk_is_sorted_skips_pycache_and_dedupes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in [
            "b.py",
            "a.py",
            "notes.txt",
            "pkg/__init__.py",
            "pkg/__pycache__/stale.py",
            "pkg/z/deep.py",
        ] {
            let path = root.join(file);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(&path, "").unwrap();
        }
        let found = walk(
            &[
                root.to_path_buf(),
                root.join("a.py"),
                root.join("notes.txt"),
            ],
            Path::to_path_buf,
        )
        .unwrap();
        let names: Vec<String> = found
            .iter()
            .map(|source| {
                source
                    .path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["a.py", "b.py", "pkg/__init__.py", "pkg/z/deep.py"]);
        let missing = walk(&[root.join("nope")], Path::to_path_buf).unwrap_err();
        assert!(
            missing.to_string().ends_with("nope` does not exist"),
            "{missing}"
        );
    }
}
