//! `cargo +nightly fuzz run marshal`: see [`pyship::fuzz::marshal`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pyship::fuzz::marshal(data));
