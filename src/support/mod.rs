//! Plumbing every stage may use: signals, child processes, staging directories, background jobs.

pub mod interrupt;
pub(crate) mod jobs;
pub mod process;
pub mod staging;
