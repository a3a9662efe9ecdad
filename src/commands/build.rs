//! `pyship build`: build every artifact of each SOURCE in turn, then print their paths
//! (stdout), the warnings, the size report and one summary for them all (stderr).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{TerminalReporter, cache_line};
use crate::cli::BuildArgs;
use crate::output::{self, ERROR, NOTE, WARNING, message, print_error};
use pyship::report::{Report, escape};

/// Run `pyship build`.
pub(crate) fn run(args: Box<BuildArgs>, quiet: bool, verbose: bool) -> ExitCode {
    let all = args.into_flags();
    let several = all.len() > 1;
    let reporter = TerminalReporter::new(quiet, verbose);
    let mut total = Report::default();
    // `--report` of each SOURCE (the same file for all when given on the command line).
    let mut reports: Vec<(PathBuf, Report)> = Vec::new();
    let mut failed = None;
    let mut stdout_error = None;
    for flags in all {
        let source = flags.source.clone();
        // Among several SOURCEs, an error says whose it is.
        let fail = |err: &(dyn std::error::Error + 'static), hint: Option<&str>| {
            if several {
                print_error(
                    &InSource {
                        source: &source,
                        error: err,
                    },
                    hint,
                );
            } else {
                print_error(err, hint);
            }
        };
        let mut config = match pyship::settings::resolve(flags) {
            Ok(config) => config,
            Err(err) => {
                summarize(&total, quiet);
                fail(&err, err.hint().as_deref());
                failed = Some(ExitCode::from(2));
                break;
            }
        };
        // What an earlier SOURCE wrote is not overwritten by a later one.
        config.claimed = total
            .artifacts
            .iter()
            .map(|artifact| artifact.path.clone())
            .collect();
        let report = match pyship::run(&config, &reporter) {
            Ok(report) => report,
            Err(err) => {
                let hint = err.hint();
                summarize(&total, quiet);
                fail(&err, hint.as_deref());
                failed = Some(ExitCode::from(2));
                break;
            }
        };
        if let Some(path) = &config.bundle.report {
            match reports.iter_mut().find(|(other, _)| other == path) {
                Some((_, merged)) => merged.absorb(report.clone()),
                None => reports.push((path.clone(), report.clone())),
            }
        }
        if !quiet {
            for warning in &report.warnings {
                message(format_args!("{WARNING}: {}", escape(warning)));
            }
            for warning in &report.source_warnings {
                message(format_args!(
                    "{}:{}: {WARNING}: {}",
                    escape(&warning.path),
                    warning.line,
                    escape(&warning.message)
                ));
            }
            for warning in &report.compile_warnings {
                message(format_args!(
                    "{}: {WARNING}: {}",
                    warning.location(),
                    escape(&warning.to_string())
                ));
            }
        }
        if !report.failures.is_empty() {
            summarize(&total, quiet);
            print_failures(&report, several.then_some(source.as_path()));
            failed = Some(ExitCode::from(1));
            break;
        }
        // A dry run's listing is its output, on stdout like the artifacts' paths.
        'listing: for listing in &report.listings {
            for line in pyship::plan::listing::render(listing).lines() {
                if let Err(err) = output::stdout_line(&escape(line)) {
                    stdout_error = Some(err);
                    break 'listing;
                }
            }
        }
        if !quiet && !report.listings.is_empty() {
            let files: usize = report
                .listings
                .iter()
                .map(pyship::plan::listing::Listing::shipped)
                .sum();
            // What pruning leaves out is part of the plan (`-v` lists it below in any case).
            if !verbose {
                for pruned in &report.pruned {
                    print_dropped(pruned);
                }
            }
            message(format_args!(
                "Dry run: {} artifacts, {files} files planned; nothing written, no worker started",
                report.listings.len()
            ));
        }
        // The artifacts are written: a closed stdout ends quietly, a failing one is
        // reported after the summary, so what was built is still said.
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
            for native in &report.native {
                super::print_fell_back(native);
            }
            for detail in &report.details {
                message(escape(detail));
            }
            for path in &report.up_to_date {
                message(format_args!(
                    "up to date, not written again: {}",
                    escape(&path.to_string_lossy())
                ));
            }
            for pruned in &report.pruned {
                print_pruned(pruned);
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
        }
        total.absorb(report);
        if stdout_error.is_some() {
            break;
        }
    }
    for (path, report) in &reports {
        if let Err(err) = write_report(path, report) {
            print_error(&err, None);
            return ExitCode::from(2);
        }
    }
    if failed.is_none() {
        summarize(&total, quiet);
    }
    match stdout_error {
        Some(err) => output::stdout_failed(&err),
        None => failed.unwrap_or(ExitCode::SUCCESS),
    }
}

/// The summary of what was built; before the error when a later SOURCE failed, so the
/// `error:` line comes last.
fn summarize(total: &Report, quiet: bool) {
    if !quiet && !total.artifacts.is_empty() {
        for line in total.summary().lines() {
            message(escape(line));
        }
    }
}

/// `-v`: what pruning left out, the imports it could not find in the bundle, and the
/// packages it kept whole.
fn print_pruned(pruned: &pyship::report::Pruned) {
    let python = &pruned.python;
    print_dropped(pruned);
    for import in &pruned.outside {
        message(format_args!(
            "not in the bundle (Python {python}; standard library or missing): {}, imported at {}:{}",
            escape(&import.module),
            escape(&import.path),
            import.line
        ));
    }
    for kept in &pruned.kept_whole {
        message(format_args!(
            "kept with its whole package (Python {python}): {}",
            escape(kept)
        ));
    }
}

/// Each file pruning left out, with its size.
fn print_dropped(pruned: &pyship::report::Pruned) {
    for file in &pruned.dropped {
        message(format_args!(
            "pruned (Python {}): {} ({})",
            pruned.python,
            escape(&file.path),
            pyship::report::human_bytes(file.bytes)
        ));
    }
}

/// Each syntax error, then the one `error:` line.
fn print_failures(report: &Report, source: Option<&Path>) {
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
    let whose = source.map_or_else(String::new, |source| {
        format!(" in `{}`", escape(&source.to_string_lossy()))
    });
    message(format_args!(
        "{ERROR}: {count} syntax error{}{whose}; nothing was written",
        if count == 1 { "" } else { "s" }
    ));
}

/// An error of one SOURCE among several: `` `SOURCE`: error ``.
#[derive(Debug)]
struct InSource<'a> {
    source: &'a Path,
    error: &'a (dyn std::error::Error + 'static),
}

impl std::fmt::Display for InSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.source.display(), self.error)
    }
}

impl std::error::Error for InSource<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// `--report FILE`: the whole [`pyship::report::Report`] as JSON.
fn write_report(path: &std::path::Path, report: &Report) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    fs_err::write(path, json)
}
