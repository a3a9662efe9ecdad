//! The compile stage: source bytes in, canonical `.pyc` code bytes (or a located syntax error)
//! out.
//!
//! Everything behind [`Backend`] is one implementation detail: today a pool of persistent
//! CPython worker processes ([`cpython::WorkerPool`]); tomorrow perhaps a native compiler for
//! one version, proven byte-identical on a corpus. The rest of the pipeline sees only
//! [`Backend`] and [`compile_all`], which answers from the [`Cache`] what it can, asks the
//! backend for the rest, and hands every answer to one consumer on the caller's thread.

pub mod cpython;
mod key;
pub mod native;
mod options;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::cache::{Cache, CacheError, CacheKey};
use crate::support::jobs::Jobs;
pub use key::{STORED_DFILE, SourceDigest, cache_key};
pub use options::{CodeOptions, InvalidOptimize, Optimize};

/// One module to compile.
#[derive(Debug, Clone)]
pub struct CompileRequest {
    /// Source bytes exactly as on disk: encoding cookies, BOMs and CRLF untouched.
    pub source: std::sync::Arc<[u8]>,
    /// The name embedded in code objects (`co_filename`), e.g. `pkg/mod.py`.
    pub dfile: String,
    /// How to compile it.
    pub options: CodeOptions,
}

/// A syntax error located in the source, as CPython reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line, 0 when CPython gave none.
    pub line: u32,
    /// 1-based column, 0 when CPython gave none.
    pub column: u32,
    /// CPython's message, e.g. `invalid syntax`.
    pub message: String,
}

/// A warning CPython's compiler gave for a module, one its own `compileall` prints (the
/// interpreter's default warning filters decide, so it differs by version): e.g. 3.12's
/// `SyntaxWarning: invalid escape sequence '\d'`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompileWarning {
    /// 1-based line, 0 when CPython gave none.
    pub line: u32,
    /// The warning's class name, e.g. `SyntaxWarning`.
    pub category: String,
    /// Its text.
    pub message: String,
}

/// What compiling one module gives, each with the warnings compiling it gave (in the order
/// CPython gave them, each once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileOutcome {
    /// The canonical marshalled code object (the `.pyc` without its 16-byte header).
    Code(Vec<u8>, Vec<CompileWarning>),
    /// The source does not compile.
    SyntaxError(SyntaxError, Vec<CompileWarning>),
}

impl CompileOutcome {
    /// Code without warnings.
    pub fn code(code: Vec<u8>) -> CompileOutcome {
        CompileOutcome::Code(code, Vec::new())
    }

    /// The warnings compiling the module gave.
    pub fn warnings(&self) -> &[CompileWarning] {
        match self {
            CompileOutcome::Code(_, warnings) | CompileOutcome::SyntaxError(_, warnings) => {
                warnings
            }
        }
    }
}

/// The compile stage failed for a reason other than the source itself.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The interpreter could not be started.
    #[error("Failed to start Python at `{}`", path.display())]
    Spawn {
        /// The interpreter.
        path: PathBuf,
        /// Why.
        #[source]
        err: std::io::Error,
    },
    /// A worker died or broke the protocol, even after a retry on a fresh worker.
    #[error("Compile worker for `{dfile}` failed: {message}")]
    Worker {
        /// The module being compiled.
        dfile: String,
        /// What happened, with the worker's stderr when there was any.
        message: String,
    },
    /// A worker did not announce itself as the expected interpreter: it exited or hung before
    /// its hello, or reported another version, magic number or cache tag. No worker can serve,
    /// so every later request on that pool fails the same way.
    #[error("Python at `{}` cannot run the compile worker: {message}", path.display())]
    Handshake {
        /// The interpreter.
        path: PathBuf,
        /// What happened, with the worker's stderr when there was any.
        message: String,
    },
    /// The native compiler does not support a module, and there is no interpreter to fall
    /// back to (a target given by version alone).
    #[error("`{dfile}` needs the target's interpreter: {reason}")]
    NoFallback {
        /// The module.
        dfile: String,
        /// Why the native compiler did not compile it.
        reason: native::Unsupported,
    },
    /// An interrupt stopped the workers.
    #[error("Interrupted")]
    Interrupted,
    /// The worker's answer was not a valid marshal stream.
    #[error("Could not canonicalize the bytecode of `{dfile}`")]
    Marshal {
        /// The module being compiled.
        dfile: String,
        /// Why.
        #[source]
        err: crate::bytecode::marshal::MarshalError,
    },
}

/// The one interface between the pipeline and whatever produces bytecode.
///
/// Implementations are shared between threads: [`Backend::compile`] may be called
/// concurrently, and blocks until that request is answered. The cache, the planner and the
/// sinks know nothing else of a backend.
pub trait Backend: Send + Sync {
    /// Compile one module to canonical code bytes, or report where its syntax is wrong.
    fn compile(&self, request: &CompileRequest) -> Result<CompileOutcome, CompileError>;

    /// Compile several modules, answers in their order: [`Backend::compile`] of each unless
    /// the backend [`Backend::batches`] them.
    fn compile_batch(
        &self,
        requests: &[&CompileRequest],
    ) -> Vec<Result<CompileOutcome, CompileError>> {
        requests
            .iter()
            .map(|request| self.compile(request))
            .collect()
    }

    /// Whether [`Backend::compile_batch`] costs less than a compile of each: [`compile_all`]
    /// then sends small modules in batches (the worker pool: one frame each way for all).
    fn batches(&self) -> bool {
        false
    }

    /// The magic number of the bytecode it produces: with the request, what a cache key needs.
    fn magic(&self) -> [u8; 4];

    /// The code `code` (canonical code bytes it produced) with every code object's
    /// `co_filename` set to `dfile`: exactly what compiling the same source at `dfile` gives.
    /// `slot`, from the [`Relocated`] that gave `code`, may let it splice the name in instead
    /// of rewriting the stream. The cache stores code at [`STORED_DFILE`] with its slot and
    /// relocates it to each request's dfile.
    fn relocate(
        &self,
        code: &[u8],
        slot: Option<usize>,
        dfile: &str,
    ) -> Result<Relocated, CompileError>;

    /// How many requests it serves at once (a pool's workers); [`compile_all`] runs
    /// [`THREADS_PER_SLOT`] threads per slot: while one finishes an answer (canonicalizing it
    /// can take as long as compiling a small module), two others have requests in the slot, so
    /// a worker holding two always finds the next one waiting.
    fn slots(&self) -> usize;

    /// At least `misses` requests (at most [`Backend::slots`]) will come: get ready for them,
    /// without waiting (the pool starts workers). Called with 1, 2, 3… as the cache lookups
    /// find misses, so a backend never prepares more than it will be asked.
    fn prepare(&self, misses: usize) -> Result<(), CompileError> {
        let _ = misses;
        Ok(())
    }
}

/// [`Backend::relocate`] for canonical CPython 3.`minor` code: a splice at `slot` when it can
/// promise the same bytes (most modules), else a rewrite of the whole stream.
pub fn relocate_canonical(
    code: &[u8],
    slot: Option<usize>,
    minor: u8,
    dfile: &str,
) -> Result<Relocated, CompileError> {
    use crate::bytecode::marshal;
    if let Some(spliced) = slot.and_then(|slot| marshal::splice_filename(code, slot, dfile)) {
        return Ok(Relocated {
            code: spliced,
            slot,
        });
    }
    marshal::with_filename_slot(code, minor, dfile)
        .map(|(code, slot)| Relocated { code, slot })
        .map_err(|err| CompileError::Marshal {
            dfile: dfile.to_owned(),
            err,
        })
}

/// What [`Backend::relocate`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relocated {
    /// The code with its new `co_filename`.
    pub code: Vec<u8>,
    /// Where the name sits in it, when a later relocate can splice another in there.
    pub slot: Option<usize>,
}

/// What [`compile_all`] did, summed over targets in a build.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Modules compiled by the backend (cache misses, or every module without a cache).
    pub compiled: usize,
    /// Modules answered from the cache.
    pub cached: usize,
    /// Worker processes started, replacements included (the caller's count: it owns the pool).
    pub workers: usize,
    /// Cache entries that could not be written (the build goes on without them).
    pub write_errors: usize,
    /// Modules among `compiled` whose source was byte for byte that of another module in the
    /// same call: compiled once, and the code given each one's `co_filename`.
    pub shared: usize,
}

impl std::ops::AddAssign for CacheStats {
    fn add_assign(&mut self, other: CacheStats) {
        self.compiled += other.compiled;
        self.cached += other.cached;
        self.workers += other.workers;
        self.write_errors += other.write_errors;
        self.shared += other.shared;
    }
}

/// One module's outcome, as [`compile_all`] hands it over.
#[derive(Debug)]
pub struct Answer {
    /// The index of its request.
    pub index: usize,
    /// The request's dfile.
    pub dfile: String,
    /// The code, the syntax error, or why the backend could not answer.
    pub outcome: Result<CompileOutcome, CompileError>,
    /// Answered from the cache: the backend was not asked.
    pub cached: bool,
}

/// What the consumer of [`compile_all`] hears, in this order: every cache hit, then
/// [`Event::Compiling`] (only when there are misses), then each miss as it is answered.
#[derive(Debug)]
pub enum Event {
    /// The backend starts on `misses` modules (the hook for a progress bar).
    Compiling {
        /// How many.
        misses: usize,
    },
    /// One module is answered.
    Answer(Answer),
}

/// What [`compile_all`] returns once every answer was consumed.
#[derive(Debug)]
pub struct Compiled {
    /// Counts; `workers` is left at 0 for the backend's owner to fill in.
    pub stats: CacheStats,
    /// The first cache write error, if any, for a warning.
    pub write_error: Option<CacheError>,
}

/// What a consumer of [`compile_all`] keeps of the answers that are not code: every syntax
/// error, and the fatal error of the first request (in request order) that had one, so the
/// error reported does not depend on which worker answered first. And the compile warnings of
/// every module.
#[derive(Debug, Default)]
pub struct Failures {
    syntax_errors: Vec<(usize, SyntaxError)>,
    fatal: Option<(usize, CompileError)>,
    warnings: Vec<(usize, CompileWarning)>,
}

impl Failures {
    /// Keep what request `index` gave unless it is code, which is returned; its warnings are
    /// kept either way.
    pub fn code(
        &mut self,
        index: usize,
        outcome: Result<CompileOutcome, CompileError>,
    ) -> Option<Vec<u8>> {
        match outcome {
            Ok(CompileOutcome::Code(code, warnings)) => {
                self.warnings
                    .extend(warnings.into_iter().map(|warning| (index, warning)));
                return Some(code);
            }
            Ok(CompileOutcome::SyntaxError(error, warnings)) => {
                self.warnings
                    .extend(warnings.into_iter().map(|warning| (index, warning)));
                self.syntax_errors.push((index, error));
            }
            Err(err) => {
                if self.fatal.as_ref().is_none_or(|(first, _)| index < *first) {
                    self.fatal = Some((index, err));
                }
            }
        }
        None
    }

    /// The compile warnings kept so far, by request index then line (each module's in
    /// CPython's order within a line), each once.
    pub fn take_warnings(&mut self) -> Vec<(usize, CompileWarning)> {
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.sort_by_key(|(index, warning)| (*index, warning.line));
        let mut seen = std::collections::HashSet::new();
        warnings.retain(|(index, warning)| seen.insert((*index, warning.clone())));
        warnings
    }

    /// The first fatal error, else the syntax errors by request index.
    pub fn finish(mut self) -> Result<Vec<(usize, SyntaxError)>, CompileError> {
        if let Some((_, err)) = self.fatal {
            return Err(err);
        }
        self.syntax_errors.sort_unstable_by_key(|(index, _)| *index);
        Ok(self.syntax_errors)
    }
}

/// What a cache entry holds for `outcome`: a kind byte, then the code relocated to
/// [`STORED_DFILE`] after its slot (`u32`, little-endian, `u32::MAX` for none), or the syntax
/// error's line, column (`u32`, little-endian) and message. A syntax error is cached too (its
/// message never names the file), so a warm run over a tree with a broken file starts no worker
/// either. An outcome with warnings is [`STORED_WARNINGS`], their count (`u32`) and each one's
/// line, category and message (`u32` lengths before the texts), then the entry without them: a
/// module served from the cache warns as its compile did.
fn store(backend: &dyn Backend, outcome: &CompileOutcome) -> Result<Vec<u8>, CompileError> {
    let warnings = outcome.warnings();
    if !warnings.is_empty() {
        let mut stored = vec![STORED_WARNINGS];
        stored.extend_from_slice(&(warnings.len() as u32).to_le_bytes());
        for warning in warnings {
            stored.extend_from_slice(&warning.line.to_le_bytes());
            for text in [&warning.category, &warning.message] {
                stored.extend_from_slice(&(text.len() as u32).to_le_bytes());
                stored.extend_from_slice(text.as_bytes());
            }
        }
        stored.extend(store_bare(backend, outcome)?);
        return Ok(stored);
    }
    store_bare(backend, outcome)
}

/// [`store`] without the warnings.
fn store_bare(backend: &dyn Backend, outcome: &CompileOutcome) -> Result<Vec<u8>, CompileError> {
    match outcome {
        CompileOutcome::Code(code, _) => {
            let Relocated { code, slot } = backend.relocate(code, None, STORED_DFILE)?;
            let slot = slot
                .and_then(|slot| u32::try_from(slot).ok())
                .unwrap_or(u32::MAX);
            let mut stored = Vec::with_capacity(5 + code.len());
            stored.push(STORED_CODE);
            stored.extend_from_slice(&slot.to_le_bytes());
            stored.extend_from_slice(&code);
            Ok(stored)
        }
        CompileOutcome::SyntaxError(error, _) => {
            let mut stored = vec![STORED_SYNTAX_ERROR];
            stored.extend_from_slice(&error.line.to_le_bytes());
            stored.extend_from_slice(&error.column.to_le_bytes());
            stored.extend_from_slice(error.message.as_bytes());
            Ok(stored)
        }
    }
}

/// The outcome a cache entry made by [`store`] gives at `dfile`; `None` when it does not read.
fn unstore(backend: &dyn Backend, stored: &[u8], dfile: &str) -> Option<CompileOutcome> {
    let mut warnings = Vec::new();
    let mut stored = stored;
    if let Some((&STORED_WARNINGS, rest)) = stored.split_first() {
        let mut at = 0;
        let number = |at: &mut usize| -> Option<u32> {
            let value = rest.get(*at..*at + 4)?;
            *at += 4;
            Some(u32::from_le_bytes(value.try_into().expect("4 bytes")))
        };
        let text = |at: &mut usize| -> Option<String> {
            let length = number(at)? as usize;
            let text = rest.get(*at..at.checked_add(length)?)?;
            *at += length;
            String::from_utf8(text.to_vec()).ok()
        };
        let count = number(&mut at)?;
        for _ in 0..count {
            let line = number(&mut at)?;
            let category = text(&mut at)?;
            let message = text(&mut at)?;
            warnings.push(CompileWarning {
                line,
                category,
                message,
            });
        }
        stored = &rest[at..];
    }
    match stored.split_first()? {
        (&STORED_CODE, code) if code.len() >= 4 => {
            let slot = u32::from_le_bytes(code[..4].try_into().expect("4 bytes"));
            let slot = (slot != u32::MAX).then_some(slot as usize);
            let relocated = backend.relocate(&code[4..], slot, dfile).ok()?;
            Some(CompileOutcome::Code(relocated.code, warnings))
        }
        (&STORED_SYNTAX_ERROR, error) if error.len() >= 8 => {
            let number = |at: usize| u32::from_le_bytes(error[at..at + 4].try_into().expect("4"));
            Some(CompileOutcome::SyntaxError(
                SyntaxError {
                    line: number(0),
                    column: number(4),
                    message: String::from_utf8(error[8..].to_vec()).ok()?,
                },
                warnings,
            ))
        }
        _ => None,
    }
}

/// The kind byte of a cache entry holding code.
const STORED_CODE: u8 = b'c';
/// The kind byte of a cache entry holding a syntax error.
const STORED_SYNTAX_ERROR: u8 = b'e';
/// The kind byte of a cache entry with warnings, before the entry they belong to.
const STORED_WARNINGS: u8 = b'w';

/// Misses to compile: one request, and the other requests (index, dfile) with the same
/// source and options, which get its code at their own path.
struct Job {
    index: usize,
    request: CompileRequest,
    copies: Vec<(usize, String)>,
}

/// `misses` with each set of byte-identical sources (and equal options) made one job, at the
/// place of its first member: vendored copies of a package, the same module in two trees.
/// Only sources of equal length are compared, so unique files cost no hashing.
fn share_identical(misses: Vec<(usize, CompileRequest)>) -> Vec<Job> {
    use std::collections::HashMap;
    let mut by_length: HashMap<(usize, CodeOptions), usize> = HashMap::new();
    let mut same_length = vec![false; misses.len()];
    for (position, (_, request)) in misses.iter().enumerate() {
        let key = (request.source.len(), request.options);
        if let Some(first) = by_length.insert(key, position) {
            same_length[first] = true;
            same_length[position] = true;
        }
    }
    let mut leaders: HashMap<(std::sync::Arc<[u8]>, CodeOptions), usize> = HashMap::new();
    let mut jobs: Vec<Job> = Vec::with_capacity(misses.len());
    for ((index, request), shares_length) in misses.into_iter().zip(same_length) {
        if shares_length {
            let key = (request.source.clone(), request.options);
            if let Some(&leader) = leaders.get(&key) {
                jobs[leader].copies.push((index, request.dfile));
                continue;
            }
            leaders.insert(key, jobs.len());
        }
        jobs.push(Job {
            index,
            request,
            copies: Vec::new(),
        });
    }
    jobs
}

/// What the module at `dfile` gets when its source is that of `leader`, compiled to `outcome`.
fn copy_outcome(
    backend: &dyn Backend,
    outcome: &Result<CompileOutcome, CompileError>,
    leader: &str,
    dfile: &str,
) -> Result<CompileOutcome, CompileError> {
    match outcome {
        Ok(CompileOutcome::Code(code, warnings)) => backend
            .relocate(code, None, dfile)
            .map(|relocated| CompileOutcome::Code(relocated.code, warnings.clone())),
        // A syntax error's location and message do not depend on the path, nor do warnings.
        Ok(outcome @ CompileOutcome::SyntaxError(..)) => Ok(outcome.clone()),
        Err(err) => Err(err.for_copy(leader, dfile)),
    }
}

impl CompileError {
    /// This error, which compiling `leader` gave, as the module at `dfile` with the same
    /// source gets it: the same kind, naming `dfile` where it names a module.
    fn for_copy(&self, leader: &str, dfile: &str) -> CompileError {
        let dfile = dfile.to_owned();
        match self {
            CompileError::Spawn { path, err } => CompileError::Spawn {
                path: path.clone(),
                err: std::io::Error::new(err.kind(), err.to_string()),
            },
            CompileError::Handshake { path, message } => CompileError::Handshake {
                path: path.clone(),
                message: message.clone(),
            },
            CompileError::Interrupted => CompileError::Interrupted,
            CompileError::Worker { message, .. } => CompileError::Worker {
                dfile,
                message: format!("its source is that of `{leader}`, which failed: {message}"),
            },
            CompileError::NoFallback { reason, .. } => CompileError::NoFallback {
                dfile,
                reason: reason.clone(),
            },
            CompileError::Marshal { err, .. } => CompileError::Marshal {
                dfile,
                err: err.clone(),
            },
        }
    }
}

/// What a compiling thread sends the consumer for one answered job.
type Sent = (Answer, Option<Result<Vec<u8>, CompileError>>);

/// Send the answer to `job`, and one to each identical copy of it, to the consumer; false when
/// the consumer is gone.
fn answer_job(
    backend: &dyn Backend,
    cache: Option<&Cache>,
    job: Job,
    outcome: Result<CompileOutcome, CompileError>,
    answers: &crossbeam_channel::Sender<Sent>,
) -> bool {
    let Job {
        index,
        request,
        copies,
    } = job;
    // Identical sources get this code at their own path; the cache entry, the same for all, is
    // written once.
    for (index, dfile) in copies {
        let outcome = copy_outcome(backend, &outcome, &request.dfile, &dfile);
        let answer = Answer {
            index,
            dfile,
            outcome,
            cached: false,
        };
        if answers.send((answer, None)).is_err() {
            return false;
        }
    }
    // What the cache stores, made here while the consumer is busy with other answers.
    let stored = match (cache, &outcome) {
        (Some(_), Ok(outcome)) => Some(store(backend, outcome)),
        _ => None,
    };
    let CompileRequest { dfile, .. } = request;
    let answer = Answer {
        index,
        dfile,
        outcome,
        cached: false,
    };
    answers.send((answer, stored)).is_ok()
}

/// Threads [`compile_all`] runs per [`Backend::slots`]: one more than a worker holds
/// requests (`cpython::pool::IN_FLIGHT`).
pub const THREADS_PER_SLOT: usize = 3;

/// How many answers may wait for the consumer before the compiling threads wait for it.
const ANSWERS_IN_FLIGHT: usize = 64;

/// A source this small is compiled in a batch with others of its size when the backend
/// [`Backend::batches`]: its compile costs little more than a request's round trip.
const BATCH_SOURCE: usize = 4 * 1024;

/// At most this many modules, and this many source bytes, go in one batch.
const BATCH_MODULES: usize = 16;
const BATCH_BYTES: usize = 32 * 1024;

/// Batches are made only while more than this many modules per thread are left: a project
/// of a few modules gains nothing from them, and the last modules then go one by one, so a
/// module that hangs its worker holds up no batch of others at the end.
const BATCH_WHILE_LEFT: usize = BATCH_MODULES;

/// Compile `requests` with `backend`, answering from `cache` first what it can: see
/// [`Event`] for what `on_event` hears. `digests[i]`, when given, is the [`SourceDigest`] of
/// `requests[i].source` (computed here otherwise, and only with a cache).
///
/// The backend is asked only for misses, largest sources first (the threads then finish
/// together instead of one compiling a big module at the end), on `THREADS_PER_SLOT × min(slots, misses)`
/// threads that send each answer over a bounded channel; small sources go to a backend that
/// [`Backend::batches`] them several to a request; `on_event` runs on the calling thread
/// and is the only one to see them, so whatever it writes to needs no lock. Answers compiled
/// by the backend are stored in the cache in the background. Each request is dropped once
/// answered, so the sources do not all stay in memory until the end.
///
/// An error from `on_event` stops everything cleanly: the channel closes, the threads finish
/// the module they hold and take no other, and that error is returned. A backend that cannot
/// [`Backend::prepare`] fails the whole call before any answer.
pub fn compile_all<E: From<CompileError>>(
    backend: &dyn Backend,
    cache: Option<&Cache>,
    requests: Vec<CompileRequest>,
    digests: Option<&[SourceDigest]>,
    mut on_event: impl FnMut(Event) -> Result<(), E>,
) -> Result<Compiled, E> {
    let total = requests.len();
    let slots = backend.slots().max(1);
    // With a cache, each miss found gets the backend ready while the other lookups run.
    let (keys, codes): (Vec<Option<CacheKey>>, Vec<Option<CompileOutcome>>) = match cache {
        None => {
            backend.prepare(total.min(slots))?;
            (vec![None; total], (0..total).map(|_| None).collect())
        }
        Some(cache) => {
            let magic = backend.magic();
            let found = AtomicUsize::new(0);
            let prepare_error: Mutex<Option<CompileError>> = Mutex::new(None);
            let looked_up = requests
                .par_iter()
                .enumerate()
                .map(|(index, request)| {
                    let digest = digests.map_or_else(
                        || SourceDigest::of(&request.source),
                        |digests| digests[index],
                    );
                    let key = cache_key(&digest, magic, request);
                    // An entry that does not decode or relocate is corrupt: a miss, rewritten.
                    let code = cache
                        .get(&key)
                        .and_then(|stored| unstore(backend, &stored, &request.dfile));
                    if code.is_none() {
                        let count = found.fetch_add(1, Ordering::Relaxed) + 1;
                        if count <= slots
                            && let Err(err) = backend.prepare(count)
                        {
                            prepare_error
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .get_or_insert(err);
                        }
                    }
                    (Some(key), code)
                })
                .unzip();
            if let Some(err) = prepare_error
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
            {
                return Err(err.into());
            }
            looked_up
        }
    };

    let mut hits = Vec::new();
    let mut misses: Vec<(usize, CompileRequest)> = Vec::new();
    for (index, (request, code)) in requests.into_iter().zip(codes).enumerate() {
        match code {
            Some(outcome) => hits.push(Answer {
                index,
                dfile: request.dfile,
                outcome: Ok(outcome),
                cached: true,
            }),
            None => misses.push((index, request)),
        }
    }
    // Stable, so the order is a pure function of the input.
    misses.sort_by_key(|(_, request)| std::cmp::Reverse(request.source.len()));
    let compiled = misses.len();
    let jobs = share_identical(misses);
    let mut stats = CacheStats {
        compiled,
        cached: hits.len(),
        shared: compiled - jobs.len(),
        ..CacheStats::default()
    };
    // Cache entries are written in the background as the answers arrive; dropping this waits.
    let mut puts: Jobs<Result<u64, CacheError>> = Jobs::new();
    // Set when the consumer fails, so no thread takes another module.
    let stopped = AtomicBool::new(false);
    std::thread::scope(|scope| -> Result<(), E> {
        let miss_count = jobs.len();
        let (work_sender, work) = crossbeam_channel::unbounded::<Job>();
        for job in jobs {
            work_sender.send(job).expect("the receiver is here");
        }
        drop(work_sender);
        let (answer_sender, answers) = crossbeam_channel::bounded::<Sent>(ANSWERS_IN_FLIGHT);
        let stopped = &stopped;
        let mut on_event =
            |event| on_event(event).inspect_err(|_| stopped.store(true, Ordering::Relaxed));
        let threads = (THREADS_PER_SLOT * slots.min(miss_count)).min(miss_count);
        for _ in 0..threads {
            let (work, answer_sender) = (work.clone(), answer_sender.clone());
            scope.spawn(move || {
                let batching = backend.batches();
                let enough_left = || work.len() > threads * BATCH_WHILE_LEFT;
                while let Ok(first) = work.recv() {
                    if stopped.load(Ordering::Relaxed) {
                        break;
                    }
                    // Largest first: once a job is small, those left are too.
                    let mut jobs = vec![first];
                    let mut bytes = jobs[0].request.source.len();
                    while batching
                        && bytes <= BATCH_SOURCE
                        && jobs.len() < BATCH_MODULES
                        && enough_left()
                    {
                        let Ok(next) = work.try_recv() else { break };
                        bytes += next.request.source.len();
                        jobs.push(next);
                        if bytes > BATCH_BYTES {
                            break;
                        }
                    }
                    let outcomes = if let [job] = jobs.as_slice() {
                        vec![backend.compile(&job.request)]
                    } else {
                        let requests: Vec<&CompileRequest> =
                            jobs.iter().map(|job| &job.request).collect();
                        backend.compile_batch(&requests)
                    };
                    for (job, outcome) in jobs.into_iter().zip(outcomes) {
                        if !answer_job(backend, cache, job, outcome, &answer_sender) {
                            return;
                        }
                    }
                }
            });
        }
        drop(answer_sender);
        // The threads are busy already; the hits are in memory and go first.
        for hit in hits {
            on_event(Event::Answer(hit))?;
        }
        if miss_count > 0 {
            on_event(Event::Compiling { misses: compiled })?;
        }
        for (answer, stored) in answers {
            // Code that does not relocate is not stored; the answer itself is unaffected.
            if let (Some(cache), Some(Ok(code))) = (cache, stored) {
                let (cache, key) = (cache.clone(), keys[answer.index].expect("keyed"));
                puts.spawn(move || cache.put(&key, &code));
            }
            // On an error the receiver is dropped here, which stops the threads.
            on_event(Event::Answer(answer))?;
        }
        Ok(())
    })?;
    let mut write_error = None;
    let mut written = 0;
    while let Some(put) = puts.next() {
        match put {
            Ok(bytes) => written += bytes,
            Err(err) => {
                stats.write_errors += 1;
                write_error.get_or_insert(err);
            }
        }
    }
    // Only a run that added entries can have taken the cache over its cap.
    if let Some(cache) = cache
        && written > 0
    {
        cache.cap(written);
    }
    Ok(Compiled { stats, write_error })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend that only relocates: what the cache needs of one.
    struct Relocating;

    impl Backend for Relocating {
        fn compile(&self, _: &CompileRequest) -> Result<CompileOutcome, CompileError> {
            unreachable!("the cache tests compile nothing")
        }
        fn magic(&self) -> [u8; 4] {
            *b"TEST"
        }
        fn relocate(
            &self,
            code: &[u8],
            _: Option<usize>,
            dfile: &str,
        ) -> Result<Relocated, CompileError> {
            let code = String::from_utf8(code.to_vec()).unwrap();
            let body = code.split_once('@').map_or(code.as_str(), |(body, _)| body);
            Ok(Relocated {
                code: format!("{body}@{dfile}").into_bytes(),
                slot: None,
            })
        }
        fn slots(&self) -> usize {
            1
        }
    }

    /// A cache entry keeps the warnings with the code or the syntax error, so a module served
    /// from the cache warns as its compile did; an entry without them reads as before.
    #[test]
    fn cache_entries_keep_the_warnings() {
        let warnings = vec![
            CompileWarning {
                line: 2,
                category: "SyntaxWarning".to_owned(),
                message: "invalid escape sequence '\\d'".to_owned(),
            },
            CompileWarning {
                line: 0,
                category: "DeprecationWarning".to_owned(),
                message: String::new(),
            },
        ];
        let error = SyntaxError {
            line: 3,
            column: 4,
            message: "invalid syntax".to_owned(),
        };
        for outcome in [
            CompileOutcome::Code(b"code@a.py".to_vec(), warnings.clone()),
            CompileOutcome::code(b"code@a.py".to_vec()),
            CompileOutcome::SyntaxError(error.clone(), warnings.clone()),
            CompileOutcome::SyntaxError(error.clone(), Vec::new()),
        ] {
            let stored = store(&Relocating, &outcome).unwrap();
            assert_eq!(
                stored[0] == STORED_WARNINGS,
                !outcome.warnings().is_empty(),
                "{outcome:?}"
            );
            let back = unstore(&Relocating, &stored, "a.py").unwrap();
            assert_eq!(back, outcome);
            // A cut entry is a miss, not wrong warnings.
            if !outcome.warnings().is_empty() {
                for cut in 1..30 {
                    assert!(unstore(&Relocating, &stored[..cut], "a.py").is_none());
                }
            }
        }
    }

    /// A copy of a module whose compile failed gets the same kind of error, so a broken
    /// interpreter reads the same for every module, and a worker failure names the copy.
    #[test]
    fn a_copy_gets_the_same_kind_of_error_naming_itself() {
        let handshake = CompileError::Handshake {
            path: PathBuf::from("/bin/sh"),
            message: "exited".to_owned(),
        };
        assert!(matches!(
            handshake.for_copy("a.py", "b.py"),
            CompileError::Handshake { message, .. } if message == "exited"
        ));
        let worker = CompileError::Worker {
            dfile: "a.py".to_owned(),
            message: "crashed".to_owned(),
        };
        assert_eq!(
            worker.for_copy("a.py", "b.py").to_string(),
            "Compile worker for `b.py` failed: its source is that of `a.py`, which failed: crashed"
        );
        assert!(matches!(
            CompileError::Interrupted.for_copy("a.py", "b.py"),
            CompileError::Interrupted
        ));
    }
}
