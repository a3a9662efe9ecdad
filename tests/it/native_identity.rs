//! The native 3.12 compiler against CPython 3.12 itself (issue 16; `native.rs` tests the
//! backend around it): for every snippet in `tests/native/snippets`, every fixture and a sample
//! of the 3.12 stdlib, at optimize 0, 1, 2 and with docstrings stripped, `compile_312` must
//! give CPython's canonical bytes or say Unsupported; a single differing byte fails, with both
//! disassemblies.

#[path = "../native/harness.rs"]
mod harness;

use crate::common::{pythons, walk};
use std::path::{Path, PathBuf};

fn python312() -> Option<PathBuf> {
    let found = pythons()
        .into_iter()
        .find(|p| p.minor == 12)
        .map(|p| p.path);
    if found.is_none() {
        // CI must have CPython 3.12: the proof of identity needs the reference.
        assert!(
            std::env::var_os("CI").is_none_or(|v| v.is_empty() || v == "false"),
            "CPython 3.12 not found and CI is set: the native backend cannot be checked"
        );
        eprintln!("note: no CPython 3.12; the native differential tests are skipped");
    }
    found
}

fn python_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    files
}

fn assert_no_differences(python: &Path, report: &harness::Report) {
    assert!(
        report.accepted_rejected.is_empty(),
        "compiled natively although CPython rejects them: {:?}",
        report.accepted_rejected
    );
    if let Some(first) = report.differences.first() {
        panic!(
            "{} native results differ from CPython 3.12; the first:\n{}",
            report.differences.len(),
            harness::explain(python, first)
        );
    }
}

/// The snippets exercise what the backend claims: each must compile natively, identically, in
/// every mode, but those CPython 3.12 warns about while compiling them: the backend leaves
/// them to CPython, which gives the warnings, and they compile identically without that check
/// (`compile_312_despite_warnings`).
#[test]
fn snippets_compile_natively_and_identically() {
    let Some(python) = python312() else { return };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/native/snippets");
    let files = python_files(&dir);
    assert!(files.len() >= 3, "the snippets are missing");
    let report = harness::run(&python, &files);
    eprint!("{}", harness::summary(&report, files.len()));
    assert_no_differences(&python, &report);
    let warned = warned_by_cpython(&python, &files);
    for mode in harness::MODES {
        assert_eq!(
            report.identical.get(&mode).copied().unwrap_or(0),
            files.len() - warned.len(),
            "a snippet was not compiled natively in mode {mode:?}: {:?}",
            report.unsupported.get(&mode)
        );
        let left: usize = report
            .unsupported
            .get(&mode)
            .into_iter()
            .flatten()
            .map(|(reason, count)| {
                assert!(reason.contains("warns about at compile time"), "{reason}");
                count
            })
            .sum();
        assert_eq!(left, warned.len(), "{mode:?}");
    }
    compile_identically_despite_warnings(&python, &warned);
}

/// The files among `files` that CPython 3.12 warns about while compiling them.
fn warned_by_cpython(python: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    let output = std::process::Command::new(python)
        .args([
            "-I",
            "-c",
            "import sys, warnings\n\
             for path in sys.argv[1:]:\n\
             \x20   with open(path, 'rb') as file:\n\
             \x20       source = file.read()\n\
             \x20   with warnings.catch_warnings(record=True) as caught:\n\
             \x20       warnings.simplefilter('always')\n\
             \x20       compile(source, path, 'exec', dont_inherit=True)\n\
             \x20   if caught:\n\
             \x20       print(path)",
        ])
        .args(files)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect()
}

/// Each of `files`, compiled natively despite what CPython warns about, in every mode: what
/// the CPython worker gives.
fn compile_identically_despite_warnings(python: &Path, files: &[PathBuf]) {
    use pyship::compile::native::compile_312_despite_warnings;
    use pyship::compile::{Backend, CodeOptions, CompileOutcome, CompileRequest, Optimize};
    let python = pythons()
        .into_iter()
        .find(|found| found.path == python)
        .unwrap();
    let pool =
        pyship::compile::cpython::WorkerPool::start(&crate::pool::interpreter(&python), 1).unwrap();
    for path in files {
        let source = std::fs::read(path).unwrap();
        for (optimize, strip_docstrings) in harness::MODES {
            let options = CodeOptions {
                optimize: Optimize::from_level(i64::from(optimize)).unwrap(),
                strip_docstrings,
            };
            let native = compile_312_despite_warnings(&source, "m.py", options).unwrap();
            let request = CompileRequest {
                source: source.as_slice().into(),
                dfile: "m.py".to_owned(),
                options,
            };
            let CompileOutcome::Code(theirs, warnings) = pool.compile(&request).unwrap() else {
                panic!("{} does not compile", path.display());
            };
            assert!(!warnings.is_empty(), "{}", path.display());
            assert!(
                native == theirs,
                "{} at {options:?}: the native bytes differ",
                path.display()
            );
        }
    }
}

/// The fixtures: whatever is compiled natively is identical.
#[test]
fn fixtures_never_differ() {
    let Some(python) = python312() else { return };
    let files = python_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"));
    let report = harness::run(&python, &files);
    eprint!("{}", harness::summary(&report, files.len()));
    assert_no_differences(&python, &report);
}

/// Every 8th module of CPython 3.12's own standard library: whatever is compiled natively is
/// identical, and the backend compiles a real share of them.
#[test]
fn stdlib_sample_never_differs() {
    let Some(python) = python312() else { return };
    let lib = python
        .parent()
        .and_then(Path::parent)
        .map(|prefix| prefix.join("lib/python3.12"))
        .filter(|lib| lib.is_dir());
    let Some(lib) = lib else {
        eprintln!("note: no 3.12 stdlib next to {}; skipped", python.display());
        return;
    };
    let files: Vec<PathBuf> = python_files(&lib)
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "site-packages"))
        .step_by(8)
        .collect();
    let report = harness::run(&python, &files);
    eprint!("{}", harness::summary(&report, files.len()));
    assert_no_differences(&python, &report);
    let identical = report.identical.get(&(0, false)).copied().unwrap_or(0);
    // 82.8% of the whole stdlib when this was written: a drop means a regression.
    assert!(
        identical * 100 >= files.len() * 75,
        "only {identical} of {} compiled natively",
        files.len()
    );
}
