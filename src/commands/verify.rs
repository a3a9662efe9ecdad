//! `pyship verify`: one line per file that differs (stdout), or one summary line (stderr).

use std::process::ExitCode;

use super::TerminalReporter;
use crate::cli::VerifyArgs;
use crate::output::{self, message, print_error, stdout_line};
use pyship::report::escape;
use pyship::verify::{Change, VerifyOptions};

/// Run `pyship verify ARTIFACT --source DIR`: exit 0 when every file matches, 1 when some
/// differ, 2 when it could not be verified.
pub(crate) fn run(args: VerifyArgs, quiet: bool, verbose: bool) -> ExitCode {
    let options = VerifyOptions {
        artifact: args.artifact,
        source: args.source,
        pythons: args.pythons,
        jobs: args.jobs,
    };
    let reporter = TerminalReporter::new(quiet, verbose);
    let verification = match pyship::verify::verify(&options, &reporter) {
        Ok(verification) => verification,
        Err(err) => {
            print_error(&err, err.hint().as_deref());
            return ExitCode::from(2);
        }
    };
    let recorded = &verification.facts.pyship;
    if !quiet && recorded != env!("CARGO_PKG_VERSION") {
        message(format_args!(
            "{}: `{}` was written by pyship {}, this is pyship {}: its output may differ",
            output::WARNING,
            escape(&options.artifact.to_string_lossy()),
            escape(recorded),
            env!("CARGO_PKG_VERSION")
        ));
    }
    for difference in &verification.differences {
        let change = match difference.change {
            Change::Differs => "differs",
            Change::Added => "added",
            Change::Missing => "missing",
        };
        let module = difference
            .module
            .as_deref()
            .map_or_else(String::new, |module| {
                format!(" (module {})", escape(module))
            });
        if let Err(err) = stdout_line(&format!("{change}: {}{module}", escape(&difference.path))) {
            return output::stdout_failed(&err);
        }
    }
    let pythons: Vec<String> = verification
        .interpreters
        .iter()
        .map(pyship::interpreter::Interpreter::short_version)
        .collect();
    let count = verification.differences.len();
    if count == 0 {
        if !quiet {
            message(format_args!(
                "Verified `{}`: all {} files match a rebuild from `{}` with Python {}",
                escape(&options.artifact.to_string_lossy()),
                verification.compared,
                escape(&options.source.to_string_lossy()),
                pythons.join(", ")
            ));
        }
        ExitCode::SUCCESS
    } else {
        message(format_args!(
            "{}: {count} of {} files of `{}` differ from a rebuild from `{}` with Python {}",
            output::ERROR,
            verification.compared,
            escape(&options.artifact.to_string_lossy()),
            escape(&options.source.to_string_lossy()),
            pythons.join(", ")
        ));
        ExitCode::from(1)
    }
}
