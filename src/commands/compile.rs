//! `pyship compile`: compile in place, print what `python -m compileall` prints (stdout), then
//! pyship's own lines for the failures (stderr).

use std::process::ExitCode;

use super::{TerminalReporter, cache_line};
use crate::output::{ERROR, WARNING, message, print_error, stdout_failed, stdout_text};
use pyship::in_place::{InplaceError, say};
use pyship::report::escape;

/// `pyship compile`: exit 0, 1 when some modules did not compile (the rest were written) or
/// the `-i` list could not be read (compileall's statuses), 2 on a fatal error.
///
/// stdout is compileall's (`Listing`, `Compiling`, `***` errors; less with `-q`, nothing with
/// `-qq`). stderr is empty when all went well, as compileall's; `-v` adds the modules, the
/// timings and the summary there.
pub(crate) fn run(config: &pyship::in_place::InplaceConfig, verbose: bool) -> ExitCode {
    let quiet = config.quiet;
    let reporter = TerminalReporter::new(quiet > 0, verbose);
    let report = match pyship::in_place::run(config, &reporter) {
        Ok(report) => report,
        Err(err) => {
            let status = match &err {
                InplaceError::FileList { file, .. } => {
                    if let Err(err) = stdout_text(&say::file_list_unreadable(file, quiet)) {
                        return stdout_failed(&err);
                    }
                    1
                }
                _ => 2,
            };
            let err = pyship::Error::from(err);
            let hint = err.hint();
            print_error(&err, hint.as_deref());
            return ExitCode::from(status);
        }
    };
    if let Err(err) = stdout_text(&say::render(&report.said, quiet)) {
        return stdout_failed(&err);
    }
    if quiet == 0 {
        for warning in &report.warnings {
            message(format_args!("{WARNING}: {}", escape(warning)));
        }
        for warning in &report.compile_warnings {
            message(format_args!(
                "{}: {WARNING}: {}",
                warning.location(),
                escape(&warning.to_string())
            ));
        }
    }
    // compileall's stdout already shows each failure; these are the `path:line:col: message`
    // lines editors and CI annotations read. `-qq` silences them as it does compileall's.
    if quiet < 2 {
        for failure in &report.failures {
            message(escape(&failure.to_string()));
        }
    }
    if verbose {
        for (stage, seconds) in &report.timings {
            message(format_args!("{}: {seconds:.3}s", escape(stage)));
        }
        message(cache_line(&report.cache));
        if let Some(native) = &report.native {
            message(native.line());
            super::print_fell_back(native);
        }
        message(report.summary());
    }
    if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        let count = report.failures.len();
        message(format_args!(
            "{ERROR}: {count} module{} did not compile; every other pyc was written",
            if count == 1 { "" } else { "s" }
        ));
        ExitCode::from(1)
    }
}
