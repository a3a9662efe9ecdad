//! Integration tests: one binary, one module per area. Each test copies a fixture into a
//! temporary directory, runs the built `pyship`, and uses the artifact with a real CPython.

// Tests use std::fs freely (the library uses fs_err) and compare exact file suffixes; their
// helpers are `pub` for the other test modules, not API.
#![allow(
    unreachable_pub,
    clippy::disallowed_methods,
    clippy::case_sensitive_file_extension_comparisons
)]

mod analysis;
mod backend;
mod build;
mod cache;
mod common;
mod compile;
mod compile_warnings;
// Runs CPython's test.test_compileall, which needs symlinks and a POSIX shell environment.
#[cfg(unix)]
mod conformance;
mod docs;
mod inputs;
mod inspect;
mod marshal;
mod metadata;
mod native;
mod native_identity;
mod output;
mod pool;
mod prune;
mod scopes;
// Symlinks and shell-script shims.
#[cfg(unix)]
mod pythons;
mod sdist;
mod sources;
// Signals, process groups and /proc.
#[cfg(target_os = "linux")]
mod signals;
mod wheel;
mod zipapp;
