//! A pool of persistent CPython compile workers behind [`crate::compile::Backend`].
//!
//! [`WorkerPool::start`] spawns N [`Worker`] processes at once and returns while they start up;
//! each one's hello is checked the first time it is used. Callers — typically the 2N threads of
//! [`crate::compile::compile_all`] — check out a worker, send it one request and wait for the
//! answer. A worker takes up to [`IN_FLIGHT`] requests at once, so it finds its next request
//! waiting in its pipe the moment it has answered one, instead of idling while pyship reads the
//! answer and a thread writes the next request. Small modules travel several to a request
//! ([`Backend::compile_batch`]): one frame each way instead of one per module. A worker that
//! dies, hangs past the timeout or breaks the protocol is killed and replaced, and the request
//! it was working on is retried
//! once on another worker (a request only queued behind it is sent again, as it was never
//! started); a second failure is reported as [`CompileError::Worker`] with what happened and
//! the worker's stderr. A worker whose hello is missing or wrong means the interpreter cannot
//! serve at all: the pool then fails every request with [`CompileError::Handshake`] instead of
//! starting processes in a loop.

use std::ffi::OsString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::worker::{Failed, Stage, Worker, WorkerFailure};
use crate::compile::{Backend, CompileError, CompileOutcome, CompileRequest, Relocated};
use crate::interpreter::Interpreter;

/// Per-file timeout unless [`WorkerPool::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How many requests one worker holds at once: the one it works on and the next.
pub const IN_FLIGHT: usize = 2;

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
    changed: Condvar,
    spawned: AtomicUsize,
}

#[derive(Debug)]
struct State {
    workers: Vec<Slot>,
    /// Workers that exist or are being started.
    live: usize,
    /// Set once a worker failed its hello: the message every later request gets.
    broken: Option<String>,
}

/// A live worker and how many requests it holds.
#[derive(Debug)]
struct Slot {
    worker: Arc<Worker>,
    in_flight: usize,
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
    /// none yet: each starts on [`WorkerPool::warm`], or when a request finds none free.
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
                workers: Vec::with_capacity(size),
                live: 0,
                broken: None,
            }),
            changed: Condvar::new(),
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
            self.lock().workers.push(Slot {
                worker: Arc::new(worker),
                in_flight: 0,
            });
            self.changed.notify_all();
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

    /// A worker for one more request: an idle one, else a new one while the pool is short,
    /// else the least busy one that takes another, else wait.
    fn checkout(&self) -> Result<Arc<Worker>, CompileError> {
        let mut state = self.lock();
        loop {
            if let Some(message) = &state.broken {
                return Err(self.handshake_error(message.clone()));
            }
            let idle = state.workers.iter().position(|slot| slot.in_flight == 0);
            let pick = match idle {
                Some(index) => Some(index),
                None if state.live < self.size => {
                    state.live += 1;
                    drop(state);
                    let worker = Arc::new(self.spawn().inspect_err(|_| self.discard())?);
                    self.lock().workers.push(Slot {
                        worker: Arc::clone(&worker),
                        in_flight: 1,
                    });
                    return Ok(worker);
                }
                None => state
                    .workers
                    .iter()
                    .enumerate()
                    .filter(|(_, slot)| slot.in_flight < IN_FLIGHT)
                    .min_by_key(|(_, slot)| slot.in_flight)
                    .map(|(index, _)| index),
            };
            if let Some(index) = pick {
                let slot = &mut state.workers[index];
                slot.in_flight += 1;
                return Ok(Arc::clone(&slot.worker));
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// A request on `worker` is done; when it `failed`, the worker is dead and leaves the pool
    /// (once, whoever notices first).
    fn release(&self, worker: &Arc<Worker>, failed: bool) {
        let mut state = self.lock();
        if let Some(index) = state
            .workers
            .iter()
            .position(|slot| Arc::ptr_eq(&slot.worker, worker))
        {
            if failed {
                state.workers.swap_remove(index);
                state.live -= 1;
            } else {
                state.workers[index].in_flight -= 1;
            }
        }
        drop(state);
        self.changed.notify_all();
    }

    /// A worker being started is not there after all: free its place.
    fn discard(&self) {
        self.lock().live -= 1;
        self.changed.notify_all();
    }

    /// Remember that the interpreter cannot serve, and wake everyone to tell them.
    fn mark_broken(&self, failure: &WorkerFailure) -> CompileError {
        let message = self
            .lock()
            .broken
            .get_or_insert_with(|| failure.to_string())
            .clone();
        self.changed.notify_all();
        self.handshake_error(message)
    }

    fn compile_raw(&self, request: &CompileRequest) -> Result<CompileOutcome, CompileError> {
        let mut first: Option<WorkerFailure> = None;
        loop {
            if crate::support::interrupt::requested().is_some() {
                return Err(CompileError::Interrupted);
            }
            let worker = self.checkout()?;
            let result = worker.compile(&self.interpreter, request, self.timeout);
            self.release(&worker, result.is_err());
            let failed = match result {
                Ok(outcome) => return Ok(outcome),
                Err(failed) => failed,
            };
            if failed.failure().stage == Stage::Hello {
                return Err(self.mark_broken(failed.failure()));
            }
            // Only a worker that failed on this very request counts as an attempt.
            let Failed::Served(failure) = failed else {
                continue;
            };
            let Some(first) = first.take() else {
                first = Some(failure);
                continue;
            };
            return Err(CompileError::Worker {
                dfile: request.dfile.clone(),
                message: WorkerFailure {
                    summary: format!(
                        "{}; retried on a fresh worker: {}",
                        first.summary, failure.summary
                    ),
                    ..failure
                }
                .to_string(),
            });
        }
    }

    /// Several modules in one request frame on one worker. When that worker fails, each module
    /// is compiled on its own, with its own retry: a batch never costs a module its answer, and
    /// the module that broke the worker is found and reported as without batches. The batch
    /// has the per-file timeout: it holds small modules only, and a batch that times out costs
    /// its modules a retry each, not their answers.
    fn compile_batch_raw(
        &self,
        requests: &[&CompileRequest],
    ) -> Vec<Result<CompileOutcome, CompileError>> {
        let one_by_one = || {
            requests
                .iter()
                .map(|request| self.compile_raw(request))
                .collect()
        };
        if crate::support::interrupt::requested().is_some() {
            return one_by_one();
        }
        let Ok(worker) = self.checkout() else {
            return one_by_one();
        };
        let result = worker.compile_batch(&self.interpreter, requests, self.timeout);
        self.release(&worker, result.is_err());
        match result {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(failed) => {
                if failed.failure().stage == Stage::Hello {
                    self.mark_broken(failed.failure());
                }
                one_by_one()
            }
        }
    }

    /// The worker's answer with its code canonicalized.
    fn canonical(
        &self,
        request: &CompileRequest,
        outcome: CompileOutcome,
    ) -> Result<CompileOutcome, CompileError> {
        match outcome {
            CompileOutcome::Code(code, warnings) => {
                crate::bytecode::marshal::canonicalize(&code, self.interpreter.version.minor)
                    .map(|code| CompileOutcome::Code(code, warnings))
                    .map_err(|err| CompileError::Marshal {
                        dfile: request.dfile.clone(),
                        err,
                    })
            }
            outcome @ CompileOutcome::SyntaxError(..) => Ok(outcome),
        }
    }
}

impl Backend for WorkerPool {
    fn compile(&self, request: &CompileRequest) -> Result<CompileOutcome, CompileError> {
        let outcome = self.compile_raw(request)?;
        self.canonical(request, outcome)
    }

    /// One frame each way for all of them, instead of one per module.
    fn compile_batch(
        &self,
        requests: &[&CompileRequest],
    ) -> Vec<Result<CompileOutcome, CompileError>> {
        let outcomes = self.compile_batch_raw(requests);
        requests
            .iter()
            .zip(outcomes)
            .map(|(request, outcome)| self.canonical(request, outcome?))
            .collect()
    }

    fn batches(&self) -> bool {
        true
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
        crate::compile::relocate_canonical(code, slot, self.interpreter.version.minor, dfile)
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
        let workers = std::mem::take(&mut self.lock().workers);
        for slot in &workers {
            slot.worker.close_stdin();
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        for slot in workers {
            slot.worker
                .shutdown(deadline.saturating_duration_since(Instant::now()));
        }
    }
}
