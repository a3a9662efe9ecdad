//! A pool of persistent CPython compile workers behind [`crate::compile::Backend`].
//!
//! [`WorkerPool::start`] spawns N [`Worker`] processes at once and returns while they start up;
//! each one's hello is checked the first time it is used. Callers — typically the N threads of
//! [`crate::compile::compile_all`] — check out an idle worker, send it one request and put it back. A
//! worker that dies, hangs past the timeout or breaks the protocol is killed and replaced, and
//! the request is retried once on the fresh worker; a second failure is reported as
//! [`CompileError::Worker`] with what happened and the worker's stderr. A worker whose hello is
//! missing or wrong means the interpreter cannot serve at all: the pool then fails every request
//! with [`CompileError::Handshake`] instead of starting processes in a loop.

use std::ffi::OsString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::worker::{Stage, Worker, WorkerFailure};
use crate::compile::{Backend, CompileError, CompileOutcome, CompileRequest, Relocated};
use crate::interpreter::Interpreter;

/// Per-file timeout unless [`WorkerPool::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long dropping the pool waits for workers to exit after closing their stdin.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// N persistent compile workers for one interpreter; see the module docs.
#[derive(Debug)]
pub struct WorkerPool {
    interpreter: Interpreter,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
    /// How many workers the pool keeps.
    size: usize,
    state: Mutex<State>,
    idle_changed: Condvar,
    spawned: AtomicUsize,
}

#[derive(Debug)]
struct State {
    idle: Vec<Worker>,
    /// Workers that exist, idle or checked out.
    live: usize,
    /// Set once a worker failed its hello: the message every later request gets.
    broken: Option<String>,
}

impl WorkerPool {
    /// Spawn `workers` (at least one) compile workers for `interpreter` and return without
    /// waiting for them to start.
    pub fn start(interpreter: &Interpreter, workers: usize) -> Result<WorkerPool, CompileError> {
        Self::start_with_env(interpreter, workers, Vec::new())
    }

    /// [`WorkerPool::start`] with `env` added to the workers' environment: how tests switch on
    /// the hooks of `templates/compile_worker.py` (see [`super::worker`]).
    pub fn start_with_env(
        interpreter: &Interpreter,
        workers: usize,
        env: Vec<(OsString, OsString)>,
    ) -> Result<WorkerPool, CompileError> {
        let pool = Self::idle_with_env(interpreter, workers, env);
        pool.warm(workers.max(1))?;
        Ok(pool)
    }

    /// A pool of up to `workers` (at least one) compile workers for `interpreter` that starts
    /// none yet: each starts on [`WorkerPool::warm`], or when a request finds none idle.
    pub fn idle(interpreter: &Interpreter, workers: usize) -> WorkerPool {
        Self::idle_with_env(interpreter, workers, Vec::new())
    }

    fn idle_with_env(
        interpreter: &Interpreter,
        workers: usize,
        env: Vec<(OsString, OsString)>,
    ) -> WorkerPool {
        let size = workers.max(1);
        WorkerPool {
            interpreter: interpreter.clone(),
            env,
            timeout: DEFAULT_TIMEOUT,
            size,
            state: Mutex::new(State {
                idle: Vec::with_capacity(size),
                live: 0,
                broken: None,
            }),
            idle_changed: Condvar::new(),
            spawned: AtomicUsize::new(0),
        }
    }

    /// Start workers, without waiting for them to be ready, until `count` (at most the pool's
    /// size) exist: so they boot while the caller is still finding work for them.
    pub fn warm(&self, count: usize) -> Result<(), CompileError> {
        loop {
            let mut state = self.lock();
            if state.live >= count.min(self.size) {
                return Ok(());
            }
            state.live += 1;
            drop(state);
            let worker = self.spawn().inspect_err(|_| self.discard())?;
            self.checkin(worker);
        }
    }

    /// Give up on a file after `timeout` (default [`DEFAULT_TIMEOUT`]); the worker is killed.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The interpreter the workers run.
    pub fn interpreter(&self) -> &Interpreter {
        &self.interpreter
    }

    /// How many worker processes the pool has started so far, replacements included.
    pub fn spawned(&self) -> usize {
        self.spawned.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere never leaves `State` half-updated, so poisoning is not an error.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn spawn(&self) -> Result<Worker, CompileError> {
        self.spawned.fetch_add(1, Ordering::SeqCst);
        Worker::spawn(&self.interpreter, &self.env)
    }

    fn handshake_error(&self, message: String) -> CompileError {
        CompileError::Handshake {
            path: self.interpreter.executable.clone(),
            message,
        }
    }

    /// An idle worker, waiting for one if all are busy and starting one if the pool is short.
    fn checkout(&self) -> Result<Worker, CompileError> {
        let mut state = self.lock();
        loop {
            if let Some(message) = &state.broken {
                return Err(self.handshake_error(message.clone()));
            }
            if let Some(worker) = state.idle.pop() {
                return Ok(worker);
            }
            if state.live < self.size {
                state.live += 1;
                drop(state);
                return self.spawn().inspect_err(|_| self.discard());
            }
            state = self
                .idle_changed
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn checkin(&self, worker: Worker) {
        self.lock().idle.push(worker);
        self.idle_changed.notify_one();
    }

    /// A checked-out worker is gone: free its place.
    fn discard(&self) {
        self.lock().live -= 1;
        self.idle_changed.notify_one();
    }

    /// Remember that the interpreter cannot serve, and wake everyone to tell them.
    fn mark_broken(&self, failure: &WorkerFailure) -> CompileError {
        let mut state = self.lock();
        state.live -= 1;
        let message = state
            .broken
            .get_or_insert_with(|| failure.to_string())
            .clone();
        drop(state);
        self.idle_changed.notify_all();
        self.handshake_error(message)
    }

    /// Run `request` on a checked-out `worker`; on failure the worker is gone and so is its
    /// place in the pool.
    fn run(
        &self,
        mut worker: Worker,
        request: &CompileRequest,
    ) -> Result<CompileOutcome, Result<WorkerFailure, CompileError>> {
        match worker.compile(&self.interpreter, request, self.timeout) {
            Ok(outcome) => {
                self.checkin(worker);
                Ok(outcome)
            }
            Err(failure) => {
                drop(worker);
                if failure.stage == Stage::Hello {
                    Err(Err(self.mark_broken(&failure)))
                } else {
                    self.discard();
                    Err(Ok(failure))
                }
            }
        }
    }

    fn compile_raw(&self, request: &CompileRequest) -> Result<CompileOutcome, CompileError> {
        if crate::support::interrupt::requested().is_some() {
            return Err(CompileError::Interrupted);
        }
        let worker = self.checkout()?;
        let first = match self.run(worker, request) {
            Ok(outcome) => return Ok(outcome),
            Err(Ok(failure)) => failure,
            Err(Err(error)) => return Err(error),
        };
        // Replace the failed worker and retry once on the fresh one, unless it was stopped.
        if crate::support::interrupt::requested().is_some() {
            return Err(CompileError::Interrupted);
        }
        self.lock().live += 1;
        let fresh = self.spawn().inspect_err(|_| self.discard())?;
        match self.run(fresh, request) {
            Ok(outcome) => Ok(outcome),
            Err(Ok(second)) => Err(CompileError::Worker {
                dfile: request.dfile.clone(),
                message: WorkerFailure {
                    summary: format!(
                        "{}; retried on a fresh worker: {}",
                        first.summary, second.summary
                    ),
                    ..second
                }
                .to_string(),
            }),
            Err(Err(error)) => Err(error),
        }
    }
}

impl Backend for WorkerPool {
    fn compile(&self, request: &CompileRequest) -> Result<CompileOutcome, CompileError> {
        match self.compile_raw(request)? {
            CompileOutcome::Code(code) => {
                crate::bytecode::marshal::canonicalize(&code, self.interpreter.version.minor)
                    .map(CompileOutcome::Code)
                    .map_err(|err| CompileError::Marshal {
                        dfile: request.dfile.clone(),
                        err,
                    })
            }
            outcome @ CompileOutcome::SyntaxError(_) => Ok(outcome),
        }
    }

    fn magic(&self) -> [u8; 4] {
        self.interpreter.magic
    }

    /// A splice at `slot` when it can promise the same bytes (most modules), else a rewrite of
    /// the whole stream.
    fn relocate(
        &self,
        code: &[u8],
        slot: Option<usize>,
        dfile: &str,
    ) -> Result<Relocated, CompileError> {
        use crate::bytecode::marshal;
        if let Some(spliced) = slot.and_then(|slot| marshal::splice_filename(code, slot, dfile)) {
            return Ok(Relocated {
                code: spliced,
                slot,
            });
        }
        marshal::with_filename_slot(code, self.interpreter.version.minor, dfile)
            .map(|(code, slot)| Relocated { code, slot })
            .map_err(|err| CompileError::Marshal {
                dfile: dfile.to_owned(),
                err,
            })
    }

    fn slots(&self) -> usize {
        self.size
    }

    /// Start workers until `misses` exist: lazily, never more than there are misses.
    fn prepare(&self, misses: usize) -> Result<(), CompileError> {
        self.warm(misses)
    }
}

impl Drop for WorkerPool {
    /// Close every worker's stdin so they exit together, then reap them, killing stragglers.
    fn drop(&mut self) {
        let mut workers = std::mem::take(&mut self.lock().idle);
        for worker in &mut workers {
            worker.close_stdin();
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        for worker in workers {
            worker.shutdown(deadline.saturating_duration_since(Instant::now()));
        }
    }
}
