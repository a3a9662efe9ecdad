//! Analysis, between source and plan (SPEC §7): takes the modules' source bytes and gives, for
//! each, what a Rust parser (Astral's `ruff_python_parser`) reads from it — docstrings, imports
//! and the code that reads `__doc__` ([`ModuleFacts`]) — or why it could not be read. CPython
//! stays the authority on syntax: an unreadable module is still compiled, by the target.
//!
//! The stage decides nothing on its own: [`warnings`] turns facts into `-OO` warnings,
//! [`prune`] into the set of modules an entry point reaches, and the build decides per module
//! whether the worker strips docstrings.

mod decode;
mod facts;
pub mod prune;
mod strip;
pub mod warnings;

use std::sync::Arc;

use rayon::prelude::*;

pub use decode::{DecodeError, decode};
pub use facts::{DocRead, DocUse, Docstring, Guard, Import, ModuleFacts, Owner};
pub use strip::{Decision, Stripping};

/// What the analysis made of one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Analyzed {
    /// Parsed: what it contains.
    Read(ModuleFacts),
    /// The Rust side could not read it (an encoding it does not know, syntax it rejects): CPython
    /// compiles it as usual, nothing is stripped by the analysis' decision and no warning or
    /// import comes from it.
    Unreadable(String),
}

impl Analyzed {
    /// The facts, when the module could be read.
    pub fn facts(&self) -> Option<&ModuleFacts> {
        match self {
            Analyzed::Read(facts) => Some(facts),
            Analyzed::Unreadable(_) => None,
        }
    }
}

/// The stack of an analysis thread. Deeply nested code recurses deeply in the parser and the visitor: CPython itself accepts
/// some 200 levels of parentheses, and the default 2 MiB of a rayon thread is not enough.
pub const STACK_SIZE: usize = 256 << 20;

/// Analyze every module of `sources` (`None` for data files) in parallel.
pub fn analyze(sources: &[Option<Arc<[u8]>>]) -> Vec<Option<Analyzed>> {
    let run = || {
        sources
            .par_iter()
            .map(|source| source.as_deref().map(analyze_one))
            .collect()
    };
    // Threads of their own with a big stack; if they cannot be had, one big-stack thread.
    match rayon::ThreadPoolBuilder::new()
        .stack_size(STACK_SIZE)
        .thread_name(|index| format!("pyship-analysis-{index}"))
        .build()
    {
        Ok(pool) => pool.install(run),
        Err(_) => std::thread::scope(|scope| {
            std::thread::Builder::new()
                .stack_size(STACK_SIZE)
                .spawn_scoped(scope, || {
                    sources
                        .iter()
                        .map(|source| source.as_deref().map(analyze_one))
                        .collect()
                })
                .ok()
                .and_then(|thread| thread.join().ok())
                // No thread at all: nothing is known, CPython compiles as usual.
                .unwrap_or_else(|| vec![None; sources.len()])
        }),
    }
}

/// Analyze one module's source bytes.
pub fn analyze_one(source: &[u8]) -> Analyzed {
    let text = match decode(source) {
        Ok(text) => text,
        Err(err) => return Analyzed::Unreadable(err.to_string()),
    };
    match ruff_python_parser::parse_module(&text) {
        Ok(parsed) => Analyzed::Read(facts::collect(parsed.syntax(), &text)),
        Err(err) => Analyzed::Unreadable(format!("{err}")),
    }
}
