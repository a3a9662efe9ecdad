//! The CPython backend: a pool of persistent worker processes of the target interpreter, each
//! running `templates/compile_worker.py`. One implementation of [`super::Backend`].

pub mod pool;
pub mod worker;

pub use pool::WorkerPool;
