//! The CPU the native 3.12 compiler spends on a corpus, for `bench/native.py`:
//! `cargo run --release --example native_cpu -- LIST OPTIMIZE [parse]`
//!
//! LIST names one source file a line. Every file is read first (not timed), then compiled once
//! on this one thread at OPTIMIZE (0, 1 or 2), to the canonical bytes pyship writes; files the
//! compiler does not support are timed too, up to where it gives up. Prints one line of JSON:
//! `{"cpu": thread CPU seconds, "native": files compiled, "unsupported": files given up}`.
//!
//! With `parse`, only the first step is timed (`native::parse_312`): decoding and parsing each
//! file with the Rust parser the compiler starts from (and dropping its tree) — the floor under
//! any compiler built on it. `native` then counts the files that parsed.

use std::time::Duration;

use pyship::compile::{CodeOptions, Optimize};

fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (list, optimize, parse_only) = match args.as_slice() {
        [list, optimize] => (list, optimize, false),
        [list, optimize, stage] if stage == "parse" => (list, optimize, true),
        _ => {
            eprintln!("usage: native_cpu LIST OPTIMIZE [parse]");
            std::process::exit(2);
        }
    };
    let optimize = match optimize.as_str() {
        "0" => Optimize::Zero,
        "1" => Optimize::One,
        "2" => Optimize::Two,
        other => {
            eprintln!("native_cpu: OPTIMIZE must be 0, 1 or 2, not {other}");
            std::process::exit(2);
        }
    };
    let list = fs_err::read_to_string(list).unwrap_or_else(|err| {
        eprintln!("native_cpu: {err}");
        std::process::exit(2);
    });
    let sources: Vec<(String, Vec<u8>)> = list
        .lines()
        .filter(|line| !line.is_empty())
        .map(|path| {
            let source = fs_err::read(path).unwrap_or_else(|err| {
                eprintln!("native_cpu: {err}");
                std::process::exit(2);
            });
            (path.to_string(), source)
        })
        .collect();
    let options = CodeOptions::new(optimize);
    let (mut native, mut unsupported) = (0usize, 0usize);
    let start = thread_cpu_time();
    for (path, source) in &sources {
        if parse_only {
            if let Ok(parsed) = pyship::compile::native::parse_312(source) {
                std::hint::black_box(parsed);
                native += 1;
            } else {
                unsupported += 1;
            }
            continue;
        }
        match pyship::compile::native::compile_312(source, path, options) {
            Ok(code) => {
                native += 1;
                std::hint::black_box(code);
            }
            Err(_) => unsupported += 1,
        }
    }
    let cpu = thread_cpu_time().saturating_sub(start).as_secs_f64();
    println!("{{\"cpu\": {cpu:.6}, \"native\": {native}, \"unsupported\": {unsupported}}}");
}
