//! `cargo +nightly fuzz run pyproject`: see [`pyship::fuzz::pyproject`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pyship::fuzz::pyproject(data));
