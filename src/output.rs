//! Printing that never panics. `println!` and `eprintln!` panic when the stream fails (a closed
//! pipe, a full disk), so every line goes through here instead.
//!
//! - stdout carries data (artifact paths, the cache directory, `pythons`). When its reader has
//!   gone (`pyship build | head -0`, EPIPE), the rest of the data is dropped quietly and the
//!   command ends with the exit code it would have had, as ripgrep does: the work is done, and
//!   the reader chose not to read. Any other failure (`> /dev/full`) is one `error:` line and
//!   exit 2.
//! - stderr carries messages. When it fails there is nowhere left to report it, so the failure
//!   is ignored and the exit code still says how the command went.
//!
//! Names in messages are [`escape`]d by the callers; stdout data is escaped only on a terminal
//! (as `ls` does), so a pipe gets the exact path.

use std::fmt::Display;
use std::io::{ErrorKind, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use pyship::report::escape;

/// `error` in bold red (anstream strips colours where they do not belong).
pub(crate) const ERROR: &str = "\x1b[1;31merror\x1b[0m";
/// `warning` in bold yellow.
pub(crate) const WARNING: &str = "\x1b[1;33mwarning\x1b[0m";
/// `note` in bold cyan.
pub(crate) const NOTE: &str = "\x1b[1;36mnote\x1b[0m";
/// `hint` in bold cyan.
pub(crate) const HINT: &str = "\x1b[1;36mhint\x1b[0m";

/// Set once stdout's reader has gone: nothing more is written there.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// A closed pipe is not a failure (see the module docs); anything else is.
pub(crate) fn stdout_result(result: std::io::Result<()>) -> std::io::Result<()> {
    match result.and_then(|()| std::io::stdout().flush()) {
        Err(err) if err.kind() == ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        result => result,
    }
}

/// Write `line` and a newline to stdout: exact on a pipe or file, escaped on a terminal.
pub(crate) fn stdout_line(line: &str) -> std::io::Result<()> {
    if std::io::stdout().is_terminal() {
        write_stdout(&escape(line))
    } else {
        write_stdout(line)
    }
}

fn write_stdout(line: &str) -> std::io::Result<()> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    // Plain std: anstream would strip what looks like an escape sequence from the data.
    let mut stdout = std::io::stdout().lock();
    stdout_result(writeln!(stdout, "{line}"))
}

/// Write `text` (whole lines) to stdout as it is: `compile`'s compileall output, whose paths
/// are already Python `repr`s, so that scripts reading it get compileall's bytes.
pub(crate) fn stdout_text(text: &str) -> std::io::Result<()> {
    if text.is_empty() || STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    stdout_result(stdout.write_all(text.as_bytes()))
}

/// Write a path to stdout, as [`stdout_line`].
pub(crate) fn stdout_path(path: &Path) -> std::io::Result<()> {
    stdout_line(&path.to_string_lossy())
}

/// Report that stdout failed, as any other fatal error.
pub(crate) fn stdout_failed(err: &std::io::Error) -> ExitCode {
    message(format_args!(
        "{ERROR}: Failed to write to stdout: {}",
        escape(&err.to_string())
    ));
    ExitCode::from(2)
}

/// Write one line to stderr, ignoring a failure: there is nowhere left to report it.
pub(crate) fn message(line: impl Display) {
    let _ = writeln!(anstream::stderr().lock(), "{line}");
}

/// `error: what: why: deeper cause` on one line, then `hint: …` when there is a fix. A cause
/// already spelled out by the message before it (transparent wrappers, `fs_err`'s paths) is not
/// repeated.
pub(crate) fn print_error(err: &dyn std::error::Error, hint: Option<&str>) {
    // After a signal, whatever failed failed because of it: `main` says so once.
    if pyship::support::interrupt::requested().is_some() {
        return;
    }
    message(format_args!("{ERROR}: {}", escape(&one_line(err))));
    if let Some(hint) = hint {
        message(format_args!("{HINT}: {}", escape(hint)));
    }
}

/// The error and its causes, joined by `: `.
fn one_line(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = match cause.downcast_ref::<toml::de::Error>() {
            // Its display draws the line under a caret over several lines; the first says
            // where, the message says what.
            Some(toml) => format!(
                "{}: {}",
                toml.to_string().lines().next().unwrap_or_default(),
                toml.message()
            ),
            None => cause.to_string(),
        };
        if !cause_text.is_empty() && !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("Failed to parse `pyproject.toml`")]
    struct Parse(#[source] toml::de::Error);

    #[test]
    fn toml_errors_fit_one_line() {
        let err = Parse(toml::from_str::<toml::Table>("[project]\nname = \"spam\n").unwrap_err());
        assert_eq!(
            one_line(&err),
            "Failed to parse `pyproject.toml`: TOML parse error at line 2, column 13: invalid basic string"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("Failed to write `{path}`")]
    struct Outer {
        path: String,
        #[source]
        err: std::io::Error,
    }

    #[test]
    fn causes_join_one_line_without_repeats() {
        let err = Outer {
            path: "out/a.zip".to_owned(),
            err: std::io::Error::other(Outer {
                path: "out/a.zip".to_owned(),
                err: std::io::Error::from_raw_os_error(28),
            }),
        };
        assert_eq!(
            one_line(&err),
            "Failed to write `out/a.zip`: No space left on device (os error 28)"
        );
    }
}
