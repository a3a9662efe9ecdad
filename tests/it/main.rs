//! Integration tests: one binary, one module per area. Each test copies a fixture into a
//! temporary directory, runs the built `pyship`, and uses the artifact with a real CPython.

mod common;
mod marshal;
