//! `pyship build`: build every artifact, then print their paths (stdout), the warnings, the
//! size report and the summary (stderr).

use std::process::ExitCode;

use super::{TerminalReporter, cache_line};
use crate::cli::BuildArgs;
use crate::output::{self, ERROR, NOTE, WARNING, message, print_error};
use pyship::report::escape;

/// Run `pyship build`.
pub(crate) fn run(args: Box<BuildArgs>, quiet: bool, verbose: bool) -> ExitCode {
    let config = match pyship::settings::resolve(args.into_flags()) {
        Ok(config) => config,
        Err(err) => {
            print_error(&err, None);
            return ExitCode::from(2);
        }
    };
    let reporter = TerminalReporter::new(quiet, verbose);
    let report_path = config.bundle.report.clone();
    match pyship::run(&config, &reporter) {
        Ok(report) => {
            if let Some(path) = &report_path {
                if let Err(err) = write_report(path, &report) {
                    print_error(&err, None);
                    return ExitCode::from(2);
                }
            }
            if !quiet {
                for warning in &report.warnings {
                    message(format_args!("{WARNING}: {}", escape(warning)));
                }
            }
            if !report.failures.is_empty() {
                let several = report
                    .failures
                    .iter()
                    .any(|failure| failure.python != report.failures[0].python);
                for failure in &report.failures {
                    let line = failure.to_string();
                    if several {
                        message(format_args!(
                            "{} (Python {})",
                            escape(&line),
                            failure.python
                        ));
                    } else {
                        message(escape(&line));
                    }
                }
                let count = report.failures.len();
                message(format_args!(
                    "{ERROR}: {count} syntax error{}; nothing was written",
                    if count == 1 { "" } else { "s" }
                ));
                return ExitCode::from(1);
            }
            // The artifacts are written: a closed stdout ends quietly, a failing one is
            // reported after the summary, so what was built is still said.
            let mut stdout_error = None;
            for artifact in &report.artifacts {
                if let Err(err) = output::stdout_path(&artifact.path) {
                    stdout_error = Some(err);
                    break;
                }
            }
            if verbose {
                for (stage, seconds) in &report.timings {
                    message(format_args!("{}: {seconds:.3}s", escape(stage)));
                }
                message(cache_line(&report.cache));
                for path in &report.up_to_date {
                    message(format_args!(
                        "up to date, not written again: {}",
                        escape(&path.to_string_lossy())
                    ));
                }
            }
            if !quiet {
                for sizes in &report.bundles {
                    for line in pyship::report::sizes::render_sizes(sizes).lines() {
                        message(escape(line));
                    }
                }
                for note in &report.notes {
                    message(format_args!("{NOTE}: {}", escape(note)));
                }
                message(report.summary());
            }
            match stdout_error {
                Some(err) => output::stdout_failed(&err),
                None => ExitCode::SUCCESS,
            }
        }
        Err(err) => {
            let hint = err.hint();
            print_error(&err, hint.as_deref());
            ExitCode::from(2)
        }
    }
}

/// `--report FILE`: the whole [`pyship::report::Report`] as JSON.
fn write_report(path: &std::path::Path, report: &pyship::report::Report) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    fs_err::write(path, json)
}
