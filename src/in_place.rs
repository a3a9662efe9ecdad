//! `pyship compile`: byte-compile sources in place, a faster drop-in for `python -m compileall`.
//!
//! Takes compileall's command line ([`InplaceConfig`]) and a target interpreter; finds what
//! `compileall.main` would compile (its walk: `-l`/`-r`, `-x`, `-e`, `-i`, the recorded names
//! of `-d`/`-s`/`-p`, `sys.path` without arguments), writes
//! `__pycache__/X.<cache_tag>[.opt-N].pyc` (or the legacy `X.pyc`) beside each source, one per
//! `-o` level, exactly as `py_compile.compile(path, dfile=...)` would, and returns an
//! [`InplaceReport`] holding what compileall would have printed ([`say`]).
//!
//! It shares the build pipeline's pieces: the worker pool and the compile cache through
//! [`crate::compile::compile_all`] (so the code bytes are canonical), the `__pycache__` file
//! name from [`crate::plan::layout`] and the pyc header from [`crate::bytecode::pyc`]. What it
//! adds is the in-place part:
//!
//! - a source is compiled (at every level) unless all its pycs have the whole 16-byte header
//!   that would be written, or with `-f`. `compileall` compares 12 bytes, which ignores the
//!   source size and treats every hash-based pyc as stale or, worse, current (cpython#117204,
//!   cpython#121577). For timestamp pycs the check needs only `stat`, not the source;
//! - each pyc is written to a temporary file in its directory, created with `py_compile`'s mode
//!   (the source's mode with owner write added, execute bits dropped, then the umask:
//!   `importlib._bootstrap_external._calc_mode` and `_write_atomic`), and renamed into place.
//!   Like `py_compile`, a pyc path that is a symlink or not a regular file is refused;
//! - `PYTHONPYCACHEPREFIX` moves the pycs as `sys.pycache_prefix` does.
//!
//! Syntax errors and sources that cannot be read do not stop the others: every other pyc is
//! still written (compileall's semantics), and the failures are in the report.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::bytecode::pyc::{self, Invalidation};
use crate::cache::Cache;
use crate::compile::native::Compiler;
use crate::compile::{
    CacheStats, CodeOptions, CompileError, CompileRequest, Compiled, Event, Failures, Optimize,
    compile_all,
};
use crate::interpreter::{Interpreter, resolve};
use crate::report::{Failure, Reporter, human_bytes};
use crate::support::jobs::Jobs;

pub mod say;
mod walk;

pub use say::Said;
use walk::{Rules, Step, Walk};

/// What `pyship compile` does, resolved: compileall's options (`python -m compileall --help`)
/// and pyship's.
#[derive(Debug, Clone)]
pub struct InplaceConfig {
    /// Files and directories to compile; none (and no `file_list` entry) means `sys.path`.
    pub paths: Vec<PathBuf>,
    /// `-i`: a file listing more of them, one a line; `-` is stdin.
    pub file_list: Option<String>,
    /// The target interpreter: a path, a command or a version.
    pub python: String,
    /// As `python -O`/`-OO -m compileall`: the level `-o -1` (the default) means.
    pub optimize: Optimize,
    /// `-o`: the levels to compile at, one pyc each; empty is `[-1]`.
    pub opt_levels: Vec<i64>,
    /// PEP 552 mode; [`default_invalidation`] is `py_compile`'s default.
    pub invalidation: Invalidation,
    /// Write `X.pyc` beside `X.py` instead of into `__pycache__` (`compileall -b`).
    pub legacy: bool,
    /// `-f`: rewrite pycs that are up to date too.
    pub force: bool,
    /// `-r N` (`-l` is 0); `None` is the target's default (10 on 3.8, then 1000).
    pub max_levels: Option<i64>,
    /// `-x`: skip the files whose path this regular expression matches.
    pub exclude: Option<String>,
    /// `-d`: the directory recorded in place of the one walked.
    pub ddir: Option<String>,
    /// `-s`: the prefix stripped from recorded paths.
    pub stripdir: Option<String>,
    /// compileall's `-p`: the prefix added to recorded paths.
    pub prependdir: Option<String>,
    /// `-e`: skip symlinks to files outside this directory.
    pub limit_sl_dest: Option<String>,
    /// `--hardlink-dupes`: equal pycs of several levels become hard links.
    pub hardlink_dupes: bool,
    /// `PYTHONPYCACHEPREFIX`: pycs go to a mirror tree there (`sys.pycache_prefix`).
    pub pycache_prefix: Option<PathBuf>,
    /// `-q` count: how much of compileall's output is kept ([`say::render`]).
    pub quiet: u8,
    /// At most this many worker processes; 0 is compileall's error for a negative `-j`.
    pub jobs: usize,
    /// The compile cache directory; `None` compiles everything.
    pub cache_dir: Option<PathBuf>,
    /// Who compiles; never changes the bytes.
    pub backend: crate::compile::native::BackendChoice,
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
    /// The native backend cannot compile for the target.
    #[error(transparent)]
    Native(#[from] crate::compile::native::NativeError),
    /// SIGINT or SIGTERM stopped the run.
    #[error(transparent)]
    Interrupted(#[from] crate::support::interrupt::Interrupted),
    /// A path given does not exist.
    #[error("`{}` does not exist", path.display())]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// A compileall option the target's compileall does not have.
    #[error("`{option}` is not an option of compileall on Python 3.{minor} (it came in 3.{since})")]
    NotInVersion {
        /// As written on the command line.
        option: &'static str,
        /// The target's minor version.
        minor: u8,
        /// The first minor version that has it.
        since: u8,
    },
    /// Options that do not go together, or a value compileall refuses (its usage errors).
    #[error("{0}")]
    Usage(String),
    /// `-x` is not a regular expression pyship can run.
    #[error("`-x {pattern}` is not a regular expression pyship can use: {reason}")]
    Exclude {
        /// As given.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// `-i FILE` could not be read: compileall says `Error reading file list FILE` and
    /// compiles nothing.
    #[error("Failed to read the file list `{file}`")]
    FileList {
        /// As given (`-` for stdin).
        file: String,
        /// Why.
        #[source]
        err: std::io::Error,
    },
    /// The target's `sys.path` could not be read (no PATH given).
    #[error("Failed to read the `sys.path` of `{}`: {reason}", python.display())]
    SysPath {
        /// The target.
        python: PathBuf,
        /// Why.
        reason: String,
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
    /// Sources whose pycs all had the header that would be written: left alone.
    pub up_to_date: usize,
    /// Compiled by workers, answered from the cache, workers started.
    pub cache: CacheStats,
    /// What the native compiler did (`--backend native`/`auto` for a target it compiles for).
    pub native: Option<crate::report::NativeStats>,
    /// Sources that did not compile; their pycs are not written, every other one is.
    pub failures: Vec<Failure>,
    /// What compileall would have printed, in its order: [`say::render`] prints it.
    pub said: Vec<Said>,
    /// Things the user should know that did not stop the run.
    pub warnings: Vec<String>,
    /// Warnings CPython's compiler gave (what compileall prints on stderr), by module then line.
    pub compile_warnings: Vec<crate::report::CompilerWarning>,
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
            crate::report::warning_count(self.warnings.len() + self.compile_warnings.len())
        )
    }
}

/// A source found by the walk.
#[derive(Debug)]
struct Source {
    /// As walked from the argument: what is read and what errors show.
    path: PathBuf,
    /// Recorded in the code objects.
    dfile: String,
    /// Its pycs, one per optimization level, lowest first.
    pycs: Vec<(Optimize, PathBuf)>,
}

/// A pyc that must be (re)written.
struct Pending {
    /// The source's index.
    index: usize,
    optimize: Optimize,
    pyc: PathBuf,
    header: [u8; 16],
    mode: u32,
    source: Arc<[u8]>,
}

/// Why a source failed: the line pyship prints on stderr, and what compileall prints.
struct SourceError {
    failure: Failure,
    said: String,
}

/// The options compileall gained after 3.8, as [`InplaceError::NotInVersion`] names them.
fn check_version(config: &InplaceConfig, minor: u8) -> Result<(), InplaceError> {
    let since_3_9 = [
        ("-s", config.stripdir.is_some()),
        ("-p", config.prependdir.is_some()),
        ("-o", !config.opt_levels.is_empty()),
        ("-e", config.limit_sl_dest.is_some()),
        ("--hardlink-dupes", config.hardlink_dupes),
    ];
    match since_3_9.iter().find(|(_, given)| *given) {
        Some((option, _)) if minor < 9 => Err(InplaceError::NotInVersion {
            option,
            minor,
            since: 9,
        }),
        _ => Ok(()),
    }
}

/// The optimization levels to compile at, lowest first (compileall's `sorted(set(...))`,
/// with `-1` the interpreter's level), after its usage checks.
fn levels(config: &InplaceConfig) -> Result<Vec<Optimize>, InplaceError> {
    let given = if config.opt_levels.is_empty() {
        vec![-1]
    } else {
        config.opt_levels.clone()
    };
    if config.hardlink_dupes && given.len() == 1 {
        return Err(InplaceError::Usage(
            "Hardlinking of duplicated bytecode makes sense only for more than one \
             optimization level."
                .to_owned(),
        ));
    }
    let mut levels = given
        .into_iter()
        .map(|level| match level {
            -1 => Ok(config.optimize),
            level => Optimize::from_level(level)
                .map_err(|err| InplaceError::Usage(format!("-o {level}: {err}"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    levels.sort_unstable();
    levels.dedup();
    Ok(levels)
}

/// compileall's usage checks, then the walk's rules.
fn rules(config: &InplaceConfig, minor: u8) -> Result<Rules, InplaceError> {
    if config.ddir.is_some() && (config.stripdir.is_some() || config.prependdir.is_some()) {
        return Err(InplaceError::Usage(
            "-d cannot be used in combination with -s or -p".to_owned(),
        ));
    }
    if config.jobs == 0 {
        return Err(InplaceError::Usage(
            "workers must be greater or equal to 0".to_owned(),
        ));
    }
    let exclude = config
        .exclude
        .as_ref()
        .map(|pattern| {
            regex_automata::meta::Regex::new(pattern).map_err(|err| InplaceError::Exclude {
                pattern: pattern.clone(),
                // The syntax error draws the pattern over several lines; its last says what.
                reason: err.syntax_error().map_or_else(
                    || err.to_string(),
                    |syntax| {
                        let text = syntax.to_string();
                        let last = text.lines().last().unwrap_or_default();
                        last.strip_prefix("error: ").unwrap_or(last).to_owned()
                    },
                ),
            })
        })
        .transpose()?;
    // `Path(DIR).resolve()`: as much of it resolved as exists.
    let limit = config.limit_sl_dest.as_ref().map(|dir| {
        fs_err::canonicalize(dir).unwrap_or_else(|_| std::path::absolute(dir).unwrap_or_default())
    });
    Ok(Rules {
        minor,
        max_levels: config
            .max_levels
            .unwrap_or(if minor < 9 { 10 } else { 1000 }),
        ddir: config.ddir.clone(),
        stripdir: config.stripdir.clone(),
        prependdir: config.prependdir.clone(),
        exclude,
        limit,
    })
}

/// `-i FILE`: its lines, stripped as `line.strip()` does.
fn read_file_list(file: &str) -> Result<Vec<PathBuf>, InplaceError> {
    let list_error = |err| InplaceError::FileList {
        file: file.to_owned(),
        err,
    };
    let bytes = if file == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(list_error)?;
        bytes
    } else {
        fs_err::read(file).map_err(list_error)?
    };
    // Python iterates over lines: a final newline ends the last one, it starts no other.
    let text = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(text
        .split(|&byte| byte == b'\n')
        .map(|line| path_from_bytes(line.trim_ascii()))
        .collect())
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt as _;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// The target's `sys.path` as `python -m compileall` sees it: its first entry, the empty
/// string of `-c`, is the current directory under `-m`.
fn sys_path(interpreter: &Interpreter) -> Result<Vec<PathBuf>, InplaceError> {
    let error = |reason: String| InplaceError::SysPath {
        python: interpreter.executable.clone(),
        reason,
    };
    let mut command = std::process::Command::new(&interpreter.executable);
    command.args([
        "-c",
        "import os, sys\nfor p in sys.path: sys.stdout.buffer.write(os.fsencode(p) + b'\\0')",
    ]);
    // Asking for sys.path is a probe like the version's: the same deadline.
    let deadline = crate::support::process::deadline_from_env(
        crate::interpreter::PROBE_TIMEOUT_ENV,
        crate::interpreter::DEFAULT_PROBE_TIMEOUT,
    );
    let output =
        crate::support::process::output(command, deadline).map_err(|err| error(err.to_string()))?;
    if !output.status.success() {
        return Err(error(format!(
            "it exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let cwd = std::env::current_dir().map_err(|err| error(err.to_string()))?;
    // Each entry ends with a NUL.
    let entries = output.stdout.strip_suffix(b"\0").unwrap_or_default();
    Ok(entries
        .split(|&byte| byte == 0)
        .enumerate()
        .map(|(at, entry)| {
            if at == 0 && entry.is_empty() {
                cwd.clone()
            } else {
                path_from_bytes(entry)
            }
        })
        .collect())
}

/// Compile every source compileall would, in place; see the module docs.
pub fn run(config: &InplaceConfig, reporter: &dyn Reporter) -> Result<InplaceReport, InplaceError> {
    let start = Instant::now();
    let mut report = InplaceReport::default();
    let interpreter = resolve(&config.python)?;
    // Starts no worker yet; a backend that cannot compile for the target is said up front.
    let compiler = Compiler::new(config.backend, &interpreter, config.jobs, false)?;
    let backend = compiler.backend();
    let minor = interpreter.version.minor;
    check_version(config, minor)?;
    let levels = levels(config)?;
    let rules = rules(config, minor)?;
    let mut stage = Instant::now();
    let mut lap = |report: &mut InplaceReport, name: &str| {
        report
            .timings
            .push((name.to_owned(), stage.elapsed().as_secs_f64()));
        stage = Instant::now();
    };

    let mut dests = config.paths.clone();
    if let Some(file) = &config.file_list {
        dests.extend(read_file_list(file)?);
    }
    // Without paths, compile_path: the interpreter's own level, whatever `-o` says.
    let (walk, levels) = if dests.is_empty() {
        (
            Walk::sys_path(&sys_path(&interpreter)?, minor),
            vec![config.optimize],
        )
    } else {
        (Walk::dests(&dests, &rules), levels)
    };
    let sources: Vec<Source> = walk
        .sources
        .iter()
        .map(|candidate| {
            let mut pycs: Vec<(Optimize, PathBuf)> = levels
                .iter()
                .map(|&level| {
                    (
                        level,
                        pyc_path(
                            &candidate.path,
                            &interpreter,
                            level,
                            config.legacy,
                            config.pycache_prefix.as_deref(),
                        ),
                    )
                })
                .collect();
            // `-b` with several levels: one `X.pyc`, the last level's (compileall writes it
            // once per level, the last one staying).
            if config.legacy {
                pycs.drain(..pycs.len() - 1);
            }
            Source {
                path: candidate.path.clone(),
                dfile: candidate.dfile.clone(),
                pycs,
            }
        })
        .collect();
    report.modules = sources.len();
    lap(&mut report, "scan");

    // Without a cache every stale source is a compile: the workers start as the first ones
    // are found, so they boot while the rest are checked. (With one, a stale source may still
    // be a hit: compile_all starts them as it finds misses.)
    let stale_found = AtomicUsize::new(0);
    let checked: Vec<Result<(u64, Vec<Pending>), InplaceError>> = sources
        .par_iter()
        .enumerate()
        .map(|(index, source)| {
            let checked = check(index, source, &interpreter, config);
            if config.cache_dir.is_none() && matches!(&checked, Ok((_, items)) if !items.is_empty())
            {
                let count = stale_found.fetch_add(1, Ordering::Relaxed) + 1;
                if count <= backend.slots() {
                    // A failure to start comes back from compile_all, which prepares again.
                    let _ = backend.prepare(count);
                }
            }
            checked
        })
        .collect();
    let mut errors: BTreeMap<usize, SourceError> = BTreeMap::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut stale = vec![false; sources.len()];
    for (index, (source, result)) in sources.iter().zip(checked).enumerate() {
        match result {
            Ok((size, items)) => {
                report.source_bytes += size;
                stale[index] = !items.is_empty();
                pending.extend(items);
            }
            // Like compileall, a source that cannot be read is reported and the others are
            // still compiled and written.
            Err(err @ InplaceError::Read { .. }) => {
                stale[index] = true;
                errors.insert(index, source_error(source, &err, &interpreter));
            }
            Err(err) => return Err(err),
        }
    }
    report.up_to_date = stale.iter().filter(|stale| !**stale).count();
    lap(&mut report, "check");

    // `__pycache__` directories first, once each; then every pyc is written from the compiling
    // thread as soon as its code is known, while other modules still compile. A directory that
    // cannot be made fails its own sources only, as it does in compileall.
    let directories: BTreeSet<&Path> = pending
        .iter()
        .filter_map(|item| item.pyc.parent())
        .filter(|directory| !directory.as_os_str().is_empty())
        .collect();
    let mut unmade: Vec<(PathBuf, std::io::Error)> = Vec::new();
    for directory in directories {
        if let Err(err) = fs_err::create_dir_all(directory) {
            unmade.push((directory.to_path_buf(), err));
        }
    }
    pending.retain(|item| {
        let parent = item.pyc.parent();
        let Some((directory, err)) = unmade
            .iter()
            .find(|(directory, _)| Some(directory.as_path()) == parent)
        else {
            return true;
        };
        // A file where `__pycache__` should be: py_compile's makedirs lets that pass, and the
        // write of the pyc fails instead.
        let said = if err.kind() == std::io::ErrorKind::AlreadyExists {
            let enotdir = std::io::Error::from_raw_os_error(libc::ENOTDIR);
            say::os_error(&enotdir, Some(&item.pyc))
        } else {
            say::os_error(err, Some(directory))
        };
        let err = InplaceError::Write {
            path: directory.clone(),
            err: std::io::Error::new(err.kind(), err.to_string()),
        };
        let mut error = source_error(&sources[item.index], &err, &interpreter);
        error.said = said;
        errors.entry(item.index).or_insert(error);
        false
    });

    let requests = pending
        .iter()
        .map(|item| CompileRequest {
            source: Arc::clone(&item.source),
            dfile: sources[item.index].dfile.clone(),
            options: CodeOptions::new(item.optimize),
        })
        .collect();
    let cache = config.cache_dir.as_ref().map(Cache::new);
    // Each pyc is written in the background as its code arrives, so this thread goes straight
    // back to taking answers and the compiling threads to feeding the workers.
    let mut writes: Jobs<(usize, Result<(), InplaceError>)> = Jobs::new();
    let mut failures = Failures::default();
    let mut compiling = false;
    let compiled = compile_all(backend, cache.as_ref(), requests, None, |event| {
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
            let (path, header, mode) = (item.pyc.clone(), item.header, item.mode);
            let index = answer.index;
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
    stats.workers = compiler.spawned();
    if let Some(log) = compiler.finish() {
        report.native = Some(crate::report::NativeStats::new(
            interpreter.short_version(),
            &log,
        ));
    }
    report.cache = stats;
    if let Some(err) = write_error {
        report.warnings.push(err.warning(stats.write_errors));
    }
    let mut written = vec![false; pending.len()];
    let mut write_failures = Vec::new();
    while let Some((index, write)) = writes.next() {
        match write {
            Ok(()) => written[index] = true,
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
        let source_index = pending[index].index;
        errors
            .entry(source_index)
            .or_insert_with(|| source_error(&sources[source_index], &err, &interpreter));
    }
    // Each source once, whatever the levels it was compiled at.
    let python = interpreter.short_version();
    let mut compile_warnings = failures.take_warnings();
    compile_warnings.sort_by_key(|(index, warning)| (pending[*index].index, warning.line));
    for (index, warning) in compile_warnings {
        let path = sources[pending[index].index].path.to_string_lossy();
        crate::report::CompilerWarning::add(&mut report.compile_warnings, &path, warning, &python);
    }
    let mut refused = Vec::new();
    for (index, error) in failures.finish()? {
        let item = &pending[index];
        let source = &sources[item.index];
        if !errors.contains_key(&item.index) {
            refused.push((item.index, item.optimize));
        }
        errors.entry(item.index).or_insert_with(|| SourceError {
            said: say::compile_error(
                &source.dfile,
                &item.source,
                (error.line, error.column),
                &error.message,
                minor,
            ),
            failure: Failure {
                path: source.path.clone(),
                line: error.line,
                column: error.column,
                message: error.message,
                python: interpreter.short_version(),
            },
        });
    }
    // compileall prints py_compile's message for each: asked of the target itself, once for
    // all of them, when they are to be printed (what the workers said stands in otherwise).
    if !refused.is_empty() && config.quiet < 2 {
        let asked: Vec<(&Path, &str, Optimize)> = refused
            .iter()
            .map(|&(index, optimize)| {
                let source = &sources[index];
                (source.path.as_path(), source.dfile.as_str(), optimize)
            })
            .collect();
        for (&(index, _), message) in refused
            .iter()
            .zip(say::py_compile_messages(&interpreter, &asked))
        {
            if let (Some(message), Some(error)) = (message, errors.get_mut(&index)) {
                error.said = message;
            }
        }
    }
    report.written = written.iter().filter(|written| **written).count();
    if config.hardlink_dupes {
        hardlink_dupes(&sources, &errors);
    }

    report.said = walk
        .steps
        .into_iter()
        .filter_map(|step| match step {
            Step::Say(said) => Some(said),
            Step::Source(index) if stale[index] => Some(Said::Compiling {
                path: say::py_str(&sources[index].path),
                error: errors.get(&index).map(|error| error.said.clone()),
            }),
            Step::Source(_) => None,
        })
        .collect();
    // Walk order, whichever stage found the failure.
    report.failures = errors.into_values().map(|error| error.failure).collect();
    report.duration = start.elapsed();
    Ok(report)
}

/// `--hardlink-dupes`: where a source's pyc at one level has the same bytes as at the level
/// before, it becomes a hard link to it (compileall's `filecmp.cmp`, `unlink`, `link`).
fn hardlink_dupes(sources: &[Source], errors: &BTreeMap<usize, SourceError>) {
    for (index, source) in sources.iter().enumerate() {
        if errors.contains_key(&index) {
            continue;
        }
        for pair in source.pycs.windows(2) {
            let (previous, current) = (&pair[0].1, &pair[1].1);
            let same = matches!(
                (fs_err::read(previous), fs_err::read(current)),
                (Ok(a), Ok(b)) if a == b
            );
            if same && previous != current {
                // Linked under a temporary name, then renamed over: never a moment without a
                // pyc.
                let temp = current.with_extension("pyc.pyship-link");
                let _ = fs_err::remove_file(&temp);
                if fs_err::hard_link(previous, &temp).is_ok()
                    && fs_err::rename(&temp, current).is_err()
                {
                    let _ = fs_err::remove_file(&temp);
                }
            }
        }
    }
}

/// `importlib.util.cache_from_source(path, optimization=...)`, or `path + "c"` when legacy.
/// With a `PYTHONPYCACHEPREFIX`, the `__pycache__` directory is replaced by the source's
/// absolute directory under the prefix, as `sys.pycache_prefix` does.
fn pyc_path(
    source: &Path,
    interpreter: &Interpreter,
    optimize: Optimize,
    legacy: bool,
    pycache_prefix: Option<&Path>,
) -> PathBuf {
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
    let head = source.parent().unwrap_or(Path::new(""));
    match pycache_prefix {
        Some(prefix) => {
            let head = std::path::absolute(head).unwrap_or_else(|_| head.to_path_buf());
            let relative: PathBuf = head
                .components()
                .filter(|part| {
                    !matches!(
                        part,
                        std::path::Component::RootDir | std::path::Component::Prefix(_)
                    )
                })
                .collect();
            prefix.join(relative).join(file)
        }
        None => head.join("__pycache__").join(file),
    }
}

/// The source's size, and the pycs that must be written (all of its levels when one is stale,
/// as compileall does, or under `-f`), with everything needed to write them.
fn check(
    index: usize,
    source: &Source,
    interpreter: &Interpreter,
    config: &InplaceConfig,
) -> Result<(u64, Vec<Pending>), InplaceError> {
    let read_error = |err| InplaceError::Read {
        path: source.path.clone(),
        err,
    };
    let metadata = fs_err::metadata(&source.path).map_err(read_error)?;
    let mode = pyc_mode(&metadata);
    let current = |header: [u8; 16]| {
        !config.force
            && source
                .pycs
                .iter()
                .all(|(_, pyc)| existing_header(pyc) == Some(header))
    };
    let (header, bytes) = match config.invalidation {
        Invalidation::Timestamp => {
            let header =
                pyc::timestamp_header(interpreter.magic, stat_mtime(&metadata), metadata.len());
            if current(header) {
                return Ok((metadata.len(), Vec::new()));
            }
            (header, fs_err::read(&source.path).map_err(read_error)?)
        }
        mode @ (Invalidation::CheckedHash | Invalidation::UncheckedHash) => {
            let bytes = fs_err::read(&source.path).map_err(read_error)?;
            let header = pyc::header(
                interpreter.magic,
                interpreter.version.minor,
                mode,
                &bytes,
                0,
            );
            if current(header) {
                return Ok((metadata.len(), Vec::new()));
            }
            (header, bytes)
        }
    };
    let bytes: Arc<[u8]> = Arc::from(bytes);
    Ok((
        metadata.len(),
        source
            .pycs
            .iter()
            .map(|(optimize, pyc)| Pending {
                index,
                optimize: *optimize,
                pyc: pyc.clone(),
                header,
                mode,
                source: Arc::clone(&bytes),
            })
            .collect(),
    ))
}

/// `err`, which stopped `source`: pyship's one-line report (`source: what went wrong`) and
/// compileall's (`PermissionError: [Errno 13] ...`).
fn source_error(source: &Source, err: &InplaceError, interpreter: &Interpreter) -> SourceError {
    let (message, said) = match err {
        InplaceError::Read { path, err } => {
            // An open names the file; a read that fails after it (EIO) does not.
            let named = matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            );
            (
                format!("Failed to read: {}", io_cause(path, err)),
                say::os_error(err, named.then_some(path.as_path())),
            )
        }
        InplaceError::Write { path, err } => (
            format!(
                "Failed to write `{}`: {}",
                path.display(),
                io_cause(path, err)
            ),
            say::os_error(err, Some(path)),
        ),
        InplaceError::NotRegular { path } => {
            let what = if path.is_symlink() {
                "is a symlink and will be changed into a regular file"
            } else {
                "is a non-regular file and will be changed into a regular one"
            };
            (
                err.to_string(),
                format!(
                    "FileExistsError: {} {what} if import writes a byte-compiled file to it",
                    say::py_str(path)
                ),
            )
        }
        other => (other.to_string(), other.to_string()),
    };
    SourceError {
        failure: Failure {
            path: source.path.clone(),
            line: 0,
            column: 0,
            message,
            python: interpreter.short_version(),
        },
        said,
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
                pyc_path(Path::new(source), &python, optimize, legacy, None),
                PathBuf::from(expected),
                "{source} {optimize:?} legacy={legacy}"
            );
        }
    }
}
