//! `cargo +nightly fuzz run pyc`: see [`pyship::fuzz::pyc`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pyship::fuzz::pyc(data));
