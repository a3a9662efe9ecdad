//! `cargo +nightly fuzz run inspect`: see [`pyship::fuzz::inspect`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pyship::fuzz::inspect(data));
