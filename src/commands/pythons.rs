//! `pyship pythons`: one line per interpreter found (stdout).

use std::process::ExitCode;

use crate::output::{self, stdout_line};

/// Run `pyship pythons`.
pub(crate) fn run() -> ExitCode {
    for interpreter in pyship::interpreter::find_all() {
        let magic = u16::from_le_bytes([interpreter.magic[0], interpreter.magic[1]]);
        if let Err(err) = stdout_line(&format!(
            "{:<8} magic {magic:<5} {:<12} {}",
            interpreter.version.to_string(),
            interpreter.cache_tag,
            interpreter.executable.display()
        )) {
            return output::stdout_failed(&err);
        }
    }
    ExitCode::SUCCESS
}
