//! The `dir` format.
