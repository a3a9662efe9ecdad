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
/// every mode.
#[test]
fn snippets_compile_natively_and_identically() {
    let Some(python) = python312() else { return };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/native/snippets");
    let files = python_files(&dir);
    assert!(files.len() >= 3, "the snippets are missing");
    let report = harness::run(&python, &files);
    eprint!("{}", harness::summary(&report, files.len()));
    assert_no_differences(&python, &report);
    for mode in harness::MODES {
        assert_eq!(
            report.identical.get(&mode).copied().unwrap_or(0),
            files.len(),
            "a snippet was not compiled natively in mode {mode:?}: {:?}",
            report.unsupported.get(&mode)
        );
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
