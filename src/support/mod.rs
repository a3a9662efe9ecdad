//! Plumbing every stage may use: signals, child processes, staging directories, background jobs,
//! paths confined to the project.

pub mod interrupt;
pub(crate) mod jobs;
pub mod paths;
pub mod process;
pub mod staging;
