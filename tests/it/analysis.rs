//! The analysis stage: the Rust parser against CPython's own `ast`, docstring stripping
//! against CPython's `optimize=2`, and the `-OO` warnings.

use std::path::Path;

use pyship::analysis::{Analyzed, analyze_one};
use serde_json::{Value, json};

use crate::common::{self, Python};

/// The Rust facts of `source` in the shape `tests/analysis/ast_facts.py` prints.
fn rust_facts(source: &[u8]) -> Result<Value, String> {
    let facts = match analyze_one(source) {
        Analyzed::Read(facts) => facts,
        Analyzed::Unreadable(why) => return Err(why),
    };
    let to_value = |value: Value| -> Vec<Value> {
        let mut rows: Vec<Value> = value.as_array().cloned().unwrap_or_default();
        rows.sort_by_key(ToString::to_string);
        rows
    };
    let docstrings: Vec<Value> = facts
        .docstrings
        .iter()
        .map(|doc| json!([doc.owner, doc.line, doc.end_line]))
        .collect();
    let imports: Vec<Value> = facts
        .imports
        .iter()
        .map(|import| {
            json!([
                import.module,
                import.level,
                import.names,
                import.line,
                import.guard
            ])
        })
        .collect();
    let uses: Vec<Value> = facts
        .doc_uses
        .iter()
        .map(|doc_use| json!([doc_use.read, doc_use.line]))
        .collect();
    Ok(json!({
        "docstrings": to_value(Value::from(docstrings)),
        "imports": to_value(Value::from(imports)),
        "doc_uses": to_value(Value::from(uses)),
    }))
}

/// CPython's facts of every `.py` under `root`, by path.
fn cpython_facts(python: &Python, root: &Path) -> Vec<(String, Result<Value, String>)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/analysis/ast_facts.py");
    let output = python.run(&["-I", &script.to_string_lossy(), &root.to_string_lossy()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut row: Value = serde_json::from_str(line).unwrap();
            let path = row["path"].as_str().unwrap().to_owned();
            let facts = match row.get_mut("facts") {
                Some(facts) => {
                    for key in ["docstrings", "imports", "doc_uses"] {
                        let mut rows = facts[key].as_array().cloned().unwrap();
                        rows.sort_by_key(ToString::to_string);
                        facts[key] = Value::from(rows);
                    }
                    Ok(facts.take())
                }
                None => Err(row["error"].as_str().unwrap_or_default().to_owned()),
            };
            (path, facts)
        })
        .collect()
}

/// Over a whole standard library, the Rust parser reads every file CPython parses, and finds the
/// same docstrings (with their lines), imports and `__doc__` reads as CPython's `ast`.
#[test]
fn the_rust_parser_agrees_with_cpython_on_a_standard_library() {
    let pythons = common::pythons();
    // One version is enough for CI time; 3.11 as the issue asks, else the newest found.
    let Some(python) = pythons
        .iter()
        .find(|python| python.minor == 11)
        .or(pythons.last())
    else {
        return;
    };
    let stdlib = python.script("import sysconfig; print(sysconfig.get_path('stdlib'))", &[]);
    let stdlib = Path::new(stdlib.trim());
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for (path, expected) in cpython_facts(python, stdlib) {
        // Files CPython itself rejects (test data) prove nothing either way.
        let Ok(expected) = expected else { continue };
        if path.contains("site-packages") {
            continue;
        }
        let source = std::fs::read(&path).unwrap();
        compared += 1;
        match rust_facts(&source) {
            Ok(actual) if actual == expected => {}
            Ok(actual) => {
                for key in ["docstrings", "imports", "doc_uses"] {
                    if actual[key] != expected[key] {
                        disagreements.push(format!(
                            "{path}: {key}: rust {} / cpython {}",
                            actual[key], expected[key]
                        ));
                    }
                }
            }
            Err(why) => disagreements.push(format!("{path}: unreadable by the Rust side: {why}")),
        }
    }
    eprintln!("compared {compared} files of CPython {}", python.version());
    assert!(compared > 500, "only {compared} files compared");
    assert!(
        disagreements.is_empty(),
        "{} of {compared} files disagree:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(30)
            .map(|line| &line[..line.len().min(600)])
            .collect::<Vec<_>>()
            .join("\n")
    );
}
