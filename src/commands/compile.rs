//! `pyship compile`: compile in place, then print the failures and the summary (stderr).

use std::process::ExitCode;

use super::{TerminalReporter, cache_line};
use crate::output::{ERROR, WARNING, message, print_error};
use pyship::report::escape;

/// `pyship compile`: exit 0, 1 when some modules did not compile (the rest were written), 2 on
/// a fatal error.
pub(crate) fn run(
    config: &pyship::in_place::InplaceConfig,
    quiet: bool,
    verbose: bool,
) -> ExitCode {
    let reporter = TerminalReporter::new(quiet, verbose);
    let report = match pyship::in_place::run(config, &reporter) {
        Ok(report) => report,
        Err(err) => {
            let err = pyship::Error::from(err);
            let hint = err.hint();
            print_error(&err, hint.as_deref());
            return ExitCode::from(2);
        }
    };
    if !quiet {
        for warning in &report.warnings {
            message(format_args!("{WARNING}: {}", escape(warning)));
        }
    }
    for failure in &report.failures {
        message(escape(&failure.to_string()));
    }
    if verbose {
        for (stage, seconds) in &report.timings {
            message(format_args!("{}: {seconds:.3}s", escape(stage)));
        }
        message(cache_line(&report.cache));
    }
    if !quiet {
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
