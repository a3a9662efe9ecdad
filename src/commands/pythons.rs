//! `pyship pythons`: one line per interpreter found, or `--json` (stdout).

use std::process::ExitCode;

use crate::output::{self, stdout_line};
use pyship::interpreter::Found;

/// One interpreter in `pyship pythons --json`. The shape is documented in the README: add
/// fields, never rename or remove one.
#[derive(serde::Serialize)]
struct Entry<'a> {
    /// `3.12.1`
    version: String,
    /// The first two bytes of `importlib.util.MAGIC_NUMBER`, little-endian: 3531 for 3.12.
    magic_number: u16,
    /// `sys.implementation.cache_tag`, e.g. `cpython-312`.
    cache_tag: &'a str,
    /// `sys.executable` (lossy UTF-8).
    executable: String,
    /// `path`, `pyenv` or `uv`.
    source: &'static str,
    /// The target of `pyship build` without `-p`.
    default: bool,
}

fn magic_number(found: &Found) -> u16 {
    u16::from_le_bytes([found.interpreter.magic[0], found.interpreter.magic[1]])
}

/// Run `pyship pythons`: `*` marks the default target.
pub(crate) fn run(json: bool) -> ExitCode {
    let found = pyship::interpreter::find_all();
    let result = if json {
        let entries: Vec<Entry<'_>> = found
            .iter()
            .map(|found| Entry {
                version: found.interpreter.version.to_string(),
                magic_number: magic_number(found),
                cache_tag: &found.interpreter.cache_tag,
                executable: found.interpreter.executable.to_string_lossy().into_owned(),
                source: found.source.name(),
                default: found.default,
            })
            .collect();
        serde_json::to_string_pretty(&entries)
            .map_err(std::io::Error::other)
            .and_then(|text| stdout_line(&text))
    } else {
        found.iter().try_for_each(|found| {
            stdout_line(&format!(
                "{} {:<8} magic {:<5} {:<12} {:<5} {}",
                if found.default { '*' } else { ' ' },
                found.interpreter.version.to_string(),
                magic_number(found),
                found.interpreter.cache_tag,
                found.source.name(),
                found.interpreter.executable.display()
            ))
        })
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => output::stdout_failed(&err),
    }
}
