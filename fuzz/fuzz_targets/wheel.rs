//! `cargo +nightly fuzz run wheel`: see [`pyship::fuzz::wheel`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pyship::fuzz::wheel(data));
