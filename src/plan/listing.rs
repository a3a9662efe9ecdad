//! `--dry-run`: what one planned artifact would hold, file by file — where each pyc goes, the
//! loader that would use it, whether its docstrings are stripped — from the plan alone.

use std::path::PathBuf;

use serde::Serialize;

use super::ArtifactPlan;
use super::layout::{Content, Entry, Loader};
use crate::analysis::Decision;
use crate::bytecode::pyc::Invalidation;
use crate::compile::Optimize;
use crate::source::tree::SourceFile;

/// One artifact a build would write.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    /// Where it would be written.
    pub artifact: PathBuf,
    /// `dir`, `zip`, `wheel` or `zipapp`.
    pub format: &'static str,
    /// The target, `3.12`.
    pub python: String,
    /// Every file, in artifact order.
    pub files: Vec<ListedFile>,
}

/// One file of a [`Listing`].
#[derive(Debug, Clone, Serialize)]
pub struct ListedFile {
    /// `/`-separated path inside the artifact.
    pub path: String,
    /// The file it comes from, relative to SOURCE (or site-packages); none for generated files.
    pub source: Option<String>,
    /// `pyc`, `source`, `data`, `generated`, or `pruned` (not shipped: not reached by imports).
    pub kind: &'static str,
    /// For a pyc and a shipped module source: who imports it, and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loader: Option<String>,
    /// For a pyc: its header's PEP 552 mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalidation: Option<Invalidation>,
    /// For a pyc: `stripped` (by `-OO` or `--strip-docstrings`), `kept` (`--keep-docstrings`)
    /// or `present`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docstrings: Option<&'static str>,
}

impl Listing {
    /// How many files the artifact would hold (pruned ones are listed, not shipped).
    pub fn shipped(&self) -> usize {
        self.files
            .iter()
            .filter(|file| file.kind != "pruned")
            .count()
    }
}

impl ListedFile {
    /// A file pruning leaves out, at `path` in the bundle.
    pub fn pruned(path: &str) -> ListedFile {
        ListedFile::generated(path, "pruned")
    }

    /// A file of `kind` with no source, loader or docstrings: generated, or pruned.
    fn generated(path: &str, kind: &'static str) -> ListedFile {
        ListedFile {
            path: path.to_owned(),
            source: None,
            kind,
            loader: None,
            invalidation: None,
            docstrings: None,
        }
    }
}

/// What `plan` would hold for `python`: `entries` laid out from `files`, each module compiled
/// as `decisions` say, at `optimize` with `loader`.
pub fn list(
    plan: &ArtifactPlan,
    python: String,
    files: &[SourceFile],
    entries: &[Entry],
    decisions: &[Decision],
    loader: Loader,
    optimize: Optimize,
) -> Listing {
    let facts = super::facts::facts_path(plan);
    let mut listed: Vec<ListedFile> = plan
        .generated
        .iter()
        .map(|(path, _)| path.as_str())
        // The build-facts record the sink adds to every artifact.
        .chain([facts.as_str()])
        .map(|path| ListedFile::generated(path, "generated"))
        .collect();
    // Module sources that have a pyc used in their place.
    let mut compiled = vec![false; files.len()];
    for entry in entries {
        if let Content::Compiled { index, .. } = entry.content {
            compiled[index] = true;
        }
    }
    // SOURCE's own record (it is a pyship artifact) gives way to the new one.
    for entry in entries.iter().filter(|entry| entry.path != facts) {
        let (index, kind, loader, invalidation, docstrings) = match entry.content {
            Content::Copy { index } if files[index].kind == crate::source::tree::FileKind::Data => {
                (index, "data", None, None, None)
            }
            Content::Copy { index } => {
                let loader = if compiled[index] && loader == Loader::Zip {
                    "kept beside its pyc; zipimport uses the pyc"
                } else if compiled[index] {
                    "kept beside its pyc, which the import system checks against it"
                } else {
                    "imported from source"
                };
                (index, "source", Some(loader.to_owned()), None, None)
            }
            Content::Compiled {
                index,
                invalidation,
            } => {
                let decision = decisions.get(index);
                let docstrings = match decision {
                    Some(decision) if decision.stripped => "stripped",
                    Some(decision) if decision.kept => "kept",
                    _ => "present",
                };
                (
                    index,
                    "pyc",
                    Some(pyc_loader(&entry.path, loader, optimize)),
                    Some(invalidation),
                    Some(docstrings),
                )
            }
        };
        listed.push(ListedFile {
            path: entry.path.clone(),
            source: Some(files[index].relative.clone()),
            kind,
            loader,
            invalidation,
            docstrings,
        });
    }
    Listing {
        artifact: plan.dest.clone(),
        format: plan.format.name(),
        python,
        files: listed,
    }
}

/// Who loads the pyc at `path`, and when.
fn pyc_loader(path: &str, loader: Loader, optimize: Optimize) -> String {
    if loader == Loader::Zip {
        return "zipimport, whatever the interpreter's flags".to_owned();
    }
    if !path.contains("__pycache__/") {
        return "the sourceless loader, whatever the interpreter's flags".to_owned();
    }
    match optimize {
        Optimize::Zero => "the import system, from __pycache__".to_owned(),
        Optimize::One => "the import system, from __pycache__, under python -O only".to_owned(),
        Optimize::Two => "the import system, from __pycache__, under python -OO only".to_owned(),
    }
}

/// `listing` as text: one line per file, `path  <- source  [what]`.
pub fn render(listing: &Listing) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "{} ({}, Python {}): {} files\n",
        listing.artifact.display(),
        listing.format,
        listing.python,
        listing.shipped()
    );
    for file in &listing.files {
        let _ = write!(out, "  {}", file.path);
        if let Some(source) = &file.source
            && *source != file.path
        {
            let _ = write!(out, " <- {source}");
        }
        let mut what = vec![file.kind.to_owned()];
        if let Some(invalidation) = file.invalidation {
            what.push(
                match invalidation {
                    Invalidation::Timestamp => "timestamp",
                    Invalidation::CheckedHash => "checked-hash",
                    Invalidation::UncheckedHash => "unchecked-hash",
                }
                .to_owned(),
            );
        }
        if let Some(docstrings) = file.docstrings {
            what.push(format!("docstrings {docstrings}"));
        }
        if let Some(loader) = &file.loader {
            what.push(loader.clone());
        }
        let _ = writeln!(out, "  [{}]", what.join("; "));
    }
    out
}
