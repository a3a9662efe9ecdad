//! The differential harness of the native backend, shared by the integration test
//! (`tests/it/native.rs`) and the coverage example (`examples/native_coverage.rs`): compiles
//! each file natively and with CPython 3.12 (`oracle.py`), in every mode, and compares the
//! canonical bytes.

#![allow(dead_code)]

use pyship::bytecode::marshal::canonicalize;
use pyship::compile::native::{Unsupported, compile_312};
use pyship::compile::{CodeOptions, Optimize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The modes every file is compared in: optimize 0, 1, 2, and 0 with docstrings stripped.
pub(crate) const MODES: [(u8, bool); 4] = [(0, false), (1, false), (2, false), (0, true)];

/// An optimize level, and whether docstrings are stripped.
pub(crate) type Mode = (u8, bool);

/// One native result that differs from CPython's.
#[derive(Debug)]
pub(crate) struct Difference {
    pub(crate) path: PathBuf,
    pub(crate) mode: (u8, bool),
    pub(crate) native: Vec<u8>,
    pub(crate) cpython: Vec<u8>,
}

/// What a run found, per mode.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) identical: BTreeMap<(u8, bool), usize>,
    pub(crate) unsupported: BTreeMap<(u8, bool), BTreeMap<String, usize>>,
    pub(crate) rejected_by_cpython: BTreeMap<(u8, bool), usize>,
    pub(crate) differences: Vec<Difference>,
    /// Files CPython rejects that the native side compiled anyway (must stay empty: a
    /// syntax error is CPython's to report).
    pub(crate) accepted_rejected: Vec<(PathBuf, Mode)>,
    /// Native compile CPU time of the optimize levels without stripping (one thread).
    pub(crate) native_time: Duration,
    /// CPython's compile()+marshal.dumps() CPU time for the same.
    pub(crate) cpython_cpu: f64,
}

fn options(mode: (u8, bool)) -> CodeOptions {
    CodeOptions {
        optimize: Optimize::from_level(i64::from(mode.0)).expect("0..=2"),
        strip_docstrings: mode.1,
    }
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex from oracle.py"))
        .collect()
}

/// This thread's CPU time (what CPython's `time.process_time` is compared with).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Compare every file in every mode.
pub(crate) fn run(python: &Path, files: &[PathBuf]) -> Report {
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/native/oracle.py");
    let mut child = Command::new(python)
        .arg(&oracle)
        .args(MODES.iter().map(|(o, s)| format!("{o}:{}", u8::from(*s))))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3.12 oracle.py");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut list = String::new();
    for file in files {
        let _ = writeln!(list, "{}", file.display());
    }
    let writer = std::thread::spawn(move || {
        stdin.write_all(list.as_bytes()).expect("write file list");
    });
    let output = child.wait_with_output().expect("oracle output");
    writer.join().expect("writer thread");
    assert!(output.status.success(), "oracle.py failed");
    let text = String::from_utf8(output.stdout).expect("utf-8 from oracle.py");
    let mut expected: BTreeMap<(usize, Mode), Option<Vec<u8>>> = BTreeMap::new();
    let mut report = Report::default();
    for line in text.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(a), Some(b)) = (parts.next(), parts.next()) else {
            continue;
        };
        if a == "cpu" {
            report.cpython_cpu = b.parse().unwrap_or(0.0);
            continue;
        }
        let index: usize = a.parse().expect("index");
        let (o, s) = b.split_once(':').expect("mode");
        let mode = (o.parse().expect("level"), s == "1");
        let value = parts.next().unwrap_or("");
        expected.insert((index, mode), (!value.starts_with('!')).then(|| hex(value)));
    }
    for (index, path) in files.iter().enumerate() {
        let Ok(source) = fs_err::read(path) else {
            continue;
        };
        let dfile = path.display().to_string();
        for mode in MODES {
            let Some(reference) = expected.get(&(index, mode)).cloned().flatten() else {
                *report.rejected_by_cpython.entry(mode).or_default() += 1;
                if compile_312(&source, &dfile, options(mode)).is_ok() {
                    report.accepted_rejected.push((path.clone(), mode));
                }
                continue;
            };
            let start = thread_cpu_time();
            let native = compile_312(&source, &dfile, options(mode));
            if !mode.1 {
                report.native_time += thread_cpu_time().saturating_sub(start);
            }
            match native {
                Err(reason) => {
                    let key = match reason {
                        Unsupported::Parse(_) => "does not parse natively".to_owned(),
                        other @ Unsupported::Construct(_) => other.to_string(),
                    };
                    *report
                        .unsupported
                        .entry(mode)
                        .or_default()
                        .entry(key)
                        .or_default() += 1;
                }
                Ok(bytes) => {
                    let cpython = canonicalize(&reference, 12).expect("CPython's marshal");
                    if bytes == cpython {
                        *report.identical.entry(mode).or_default() += 1;
                    } else {
                        report.differences.push(Difference {
                            path: path.clone(),
                            mode,
                            native: bytes,
                            cpython,
                        });
                    }
                }
            }
        }
    }
    report
}

/// The first difference of `diff`, with disassembly of both sides (`show.py`).
pub(crate) fn explain(python: &Path, diff: &Difference) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let native = dir.path().join("native.bin");
    let cpython = dir.path().join("cpython.bin");
    fs_err::write(&native, &diff.native).expect("write");
    fs_err::write(&cpython, &diff.cpython).expect("write");
    let show = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/native/show.py");
    let output = Command::new(python)
        .arg(show)
        .arg(&native)
        .arg(&cpython)
        .output()
        .expect("run show.py");
    format!(
        "{} (optimize {}, strip docstrings {}):\n{}{}",
        diff.path.display(),
        diff.mode.0,
        diff.mode.1,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The coverage table of a report.
pub(crate) fn summary(report: &Report, files: usize) -> String {
    let mut out = String::new();
    for mode in MODES {
        let identical = report.identical.get(&mode).copied().unwrap_or(0);
        let rejected = report.rejected_by_cpython.get(&mode).copied().unwrap_or(0);
        let differed = report.differences.iter().filter(|d| d.mode == mode).count();
        let unsupported: usize = report
            .unsupported
            .get(&mode)
            .map_or(0, |m| m.values().sum());
        let compiled = files - rejected;
        let _ = writeln!(
            out,
            "optimize {} strip {}: {identical}/{compiled} identical ({:.1}%), {unsupported} unsupported, {differed} differed, {rejected} rejected by CPython",
            mode.0,
            u8::from(mode.1),
            100.0 * identical as f64 / compiled.max(1) as f64,
        );
    }
    for (path, mode) in &report.accepted_rejected {
        let _ = writeln!(
            out,
            "compiled natively although CPython rejects it: {} {mode:?}",
            path.display()
        );
    }
    if let Some(reasons) = report.unsupported.get(&(0, false)) {
        let mut reasons: Vec<_> = reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1));
        out.push_str("unsupported at optimize 0, by reason:\n");
        for (reason, count) in reasons.iter().take(15) {
            let _ = writeln!(out, "  {count:6}  {reason}");
        }
    }
    out
}
