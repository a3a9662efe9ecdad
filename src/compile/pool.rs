//! A pool of persistent CPython compile workers behind [`super::Backend`].
//! (Temporary stub: replaced by the worker-pool branch.)

use super::{Backend, CompileError, CompileOutcome, CompileRequest};
use crate::interpreter::Interpreter;

/// Stub.
pub struct WorkerPool;

impl WorkerPool {
    /// Stub.
    pub fn start(interpreter: &Interpreter, workers: usize) -> Result<WorkerPool, CompileError> {
        let _ = (interpreter, workers);
        Ok(WorkerPool)
    }
}

impl Backend for WorkerPool {
    fn compile(&self, request: &CompileRequest) -> Result<CompileOutcome, CompileError> {
        Err(CompileError::Worker {
            dfile: request.dfile.clone(),
            message: "stub".into(),
        })
    }
}

/// Stub.
pub fn compile_all<B: Backend + ?Sized>(
    backend: &B,
    requests: Vec<CompileRequest>,
    threads: usize,
    on_done: impl Fn(usize) + Sync,
) -> Vec<Result<CompileOutcome, CompileError>> {
    let _ = threads;
    requests
        .iter()
        .enumerate()
        .map(|(i, request)| {
            on_done(i);
            backend.compile(request)
        })
        .collect()
}
