//! The compile stage: source bytes in, canonical `.pyc` code bytes (or a located syntax error)
//! out.
//!
//! Everything behind [`Backend`] is one implementation detail: today a pool of persistent
//! CPython worker processes ([`pool::WorkerPool`]); tomorrow perhaps a native compiler for one
//! version, proven byte-identical on a corpus. The rest of the pipeline sees only [`Backend`].

pub mod pool;
pub mod worker;

use std::path::PathBuf;

/// One module to compile.
#[derive(Debug, Clone)]
pub struct CompileRequest {
    /// Source bytes exactly as on disk: encoding cookies, BOMs and CRLF untouched.
    pub source: std::sync::Arc<[u8]>,
    /// The name embedded in code objects (`co_filename`), e.g. `pkg/mod.py`.
    pub dfile: String,
    /// CPython optimization level: 0, 1 (no asserts) or 2 (no docstrings either).
    pub optimize: u8,
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

/// What compiling one module gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileOutcome {
    /// The canonical marshalled code object (the `.pyc` without its 16-byte header).
    Code(Vec<u8>),
    /// The source does not compile.
    SyntaxError(SyntaxError),
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
        err: crate::marshal::MarshalError,
    },
}

/// The one interface between the pipeline and whatever produces bytecode.
///
/// Implementations are shared between threads: [`Backend::compile`] may be called
/// concurrently, and blocks until that request is answered.
pub trait Backend: Send + Sync {
    /// Compile one module to canonical code bytes, or report where its syntax is wrong.
    fn compile(&self, request: &CompileRequest) -> Result<CompileOutcome, CompileError>;
}

/// Compile every request on `threads` threads (at least one) sharing `backend`; results come
/// back in request order. `on_done(i)` is called, from the compiling thread, as soon as request
/// `i` is answered: the hook for a progress bar. Each request is dropped once answered, so the
/// sources do not all stay in memory until the end.
///
/// With a [`pool::WorkerPool`] of N workers, N threads keep every worker busy; more threads only
/// wait for a free worker.
pub fn compile_all<B: Backend + ?Sized>(
    backend: &B,
    requests: Vec<CompileRequest>,
    threads: usize,
    on_done: impl Fn(usize) + Sync,
) -> Vec<Result<CompileOutcome, CompileError>> {
    compile_all_with(backend, requests, threads, |index, _| on_done(index))
}

/// [`compile_all`], handing each answer to `on_answer(i, &answer)` on the compiling thread as
/// soon as it arrives, so a caller can write it while other modules still compile.
pub fn compile_all_with<B: Backend + ?Sized>(
    backend: &B,
    requests: Vec<CompileRequest>,
    threads: usize,
    on_answer: impl Fn(usize, &Result<CompileOutcome, CompileError>) + Sync,
) -> Vec<Result<CompileOutcome, CompileError>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let threads = threads.clamp(1, requests.len().max(1));
    let pending: Vec<Mutex<Option<CompileRequest>>> = requests
        .into_iter()
        .map(|request| Mutex::new(Some(request)))
        .collect();
    let next = AtomicUsize::new(0);
    let mut answered: Vec<(usize, Result<CompileOutcome, CompileError>)> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut answered = Vec::new();
                        loop {
                            let index = next.fetch_add(1, Ordering::Relaxed);
                            let Some(slot) = pending.get(index) else {
                                break;
                            };
                            let request = slot
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .take()
                                .expect("each index is taken once");
                            let answer = backend.compile(&request);
                            drop(request);
                            on_answer(index, &answer);
                            answered.push((index, answer));
                        }
                        answered
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|handle| handle.join().expect("a compile thread panicked"))
                .collect()
        });
    answered.sort_unstable_by_key(|(index, _)| *index);
    answered.into_iter().map(|(_, result)| result).collect()
}
