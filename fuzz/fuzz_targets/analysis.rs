//! `cargo +nightly fuzz run analysis`: see [`pyship::fuzz::analysis`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pyship::fuzz::analysis(data));
