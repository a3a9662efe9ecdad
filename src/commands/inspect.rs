//! `pyship inspect`: what a `.pyc` or an artifact holds, as text or `--json` (stdout).

use std::path::Path;
use std::process::ExitCode;

use crate::output::{self, print_error, stdout_line};
use pyship::bytecode::summary::PycSummary;
use pyship::inspect::{ArtifactSummary, Inspection};
use pyship::report::escape;

/// Run `pyship inspect PATH`.
pub(crate) fn run(path: &Path, json: bool) -> ExitCode {
    let inspection = match pyship::inspect::inspect(path) {
        Ok(inspection) => inspection,
        Err(err) => {
            print_error(&err, None);
            return ExitCode::from(2);
        }
    };
    let text = if json {
        serde_json::to_string_pretty(&inspection).expect("inspection serializes")
    } else {
        match &inspection {
            Inspection::Pyc(pyc) => render_pyc(pyc),
            Inspection::Artifact(artifact) => render_artifact(artifact),
        }
    };
    match stdout_line(text.trim_end()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => output::stdout_failed(&err),
    }
}

fn yes_no(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

/// One `name value` line per field, escaped: everything here comes from the file.
fn render_pyc(pyc: &PycSummary) -> String {
    let mut lines = vec![
        format!(
            "magic number  {} ({})",
            pyc.magic_number,
            pyc.python.as_deref().map_or_else(
                || "unknown version".to_owned(),
                |python| format!("Python {python}")
            )
        ),
        format!("invalidation  {}", pyc.invalidation),
    ];
    if let (Some(mtime), Some(size)) = (pyc.source_mtime, pyc.source_size) {
        lines.push(format!("source mtime  {mtime}"));
        lines.push(format!("source size   {size}"));
    }
    if let Some(hash) = &pyc.source_hash {
        lines.push(format!("source hash   {hash}"));
    }
    if let Some(filename) = &pyc.co_filename {
        lines.push(format!("co_filename   {}", escape(filename)));
    }
    lines.push(format!("docstrings    {}", yes_no(pyc.docstrings)));
    lines.push(format!("asserts       {}", yes_no(pyc.asserts)));
    if let Some(error) = &pyc.code_error {
        lines.push(format!("code          unreadable: {}", escape(error)));
    }
    lines.join("\n")
}

fn render_artifact(artifact: &ArtifactSummary) -> String {
    let mut lines = vec![format!("format        {}", artifact.format)];
    let targets: Vec<String> = artifact
        .targets
        .iter()
        .map(|target| {
            format!(
                "{} (magic {}, {})",
                escape(&target.python),
                target.magic_number,
                escape(&target.cache_tag)
            )
        })
        .collect();
    lines.push(format!(
        "targets       {}",
        none_if_empty(&targets.join(", "))
    ));
    if !artifact.tags.is_empty() {
        lines.push(format!(
            "tags          {}",
            escape(&artifact.tags.join(", "))
        ));
    }
    lines.push(format!(
        "invalidation  {}",
        none_if_empty(&artifact.invalidation_modes.join(", "))
    ));
    lines.push(format!(
        "sources       {}",
        if artifact.sources_present {
            "present"
        } else {
            "absent"
        }
    ));
    lines.push(match &artifact.facts {
        Some(facts) => format!(
            "recorded      {}",
            escape(&serde_json::to_string(facts).expect("facts serialize"))
        ),
        None => "recorded      nothing (not written by pyship)".to_owned(),
    });
    lines.push(format!("modules       {}", artifact.modules.len()));
    let width = artifact
        .modules
        .iter()
        .map(|module| module.module.chars().count())
        .max()
        .unwrap_or(0);
    for module in &artifact.modules {
        let loads: Vec<String> = module
            .loads
            .iter()
            .map(|load| match &load.file {
                Some(file) => format!("{}: {} ({})", load.python, escape(file), load.how),
                None => format!("{}: not importable", load.python),
            })
            .collect();
        lines.push(format!(
            "  {:<width$}  {}",
            escape(&module.module),
            loads.join("; ")
        ));
    }
    lines.join("\n")
}

fn none_if_empty(text: &str) -> &str {
    if text.is_empty() { "none" } else { text }
}
