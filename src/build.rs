//! Run a build.

/// Placeholder.
pub fn run() {}
