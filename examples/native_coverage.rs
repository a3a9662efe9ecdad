//! Native backend coverage and speed against CPython 3.12 over a corpus:
//! `cargo run --release --example native_coverage -- PYTHON3.12 DIR_OR_FILE...`
//! Prints identical / unsupported by reason / differed per mode, the first differences with
//! their disassembly, and native vs CPython compile time. Exits 1 if anything differed.

#[path = "../tests/native/harness.rs"]
mod harness;

use std::path::PathBuf;

fn collect(path: PathBuf, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let Ok(entries) = fs_err::read_dir(&path) else {
            return;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for entry in entries {
            let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name == "site-packages" || name == "__pycache__" {
                continue;
            }
            collect(entry, out);
        }
    } else if path.extension().is_some_and(|e| e == "py") {
        out.push(path);
    }
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(python) = args.next() else {
        eprintln!("usage: native_coverage PYTHON3.12 DIR_OR_FILE...");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    for arg in args {
        collect(PathBuf::from(arg), &mut files);
    }
    let python = PathBuf::from(python);
    let report = harness::run(&python, &files);
    print!("{}", harness::summary(&report, files.len()));
    let shown: usize = std::env::var("NATIVE_SHOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for diff in report
        .differences
        .iter()
        .filter(|d| d.mode == (0, false))
        .take(shown)
    {
        println!("{}", harness::explain(&python, diff));
    }
    let native = report.native_time.as_secs_f64();
    println!(
        "CPU time (optimize 0-2, every file, natively unsupported ones included): native {native:.3}s, CPython compile+marshal {:.3}s ({:.1}x)",
        report.cpython_cpu,
        report.cpython_cpu / native.max(1e-9)
    );
    if !report.differences.is_empty() || !report.accepted_rejected.is_empty() {
        println!("{} differences", report.differences.len());
        std::process::exit(1);
    }
}
