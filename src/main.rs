//! The `pyship` command line: parse arguments, set up output, call the library, map the
//! outcome to an exit code (0 success, 1 some modules failed, 2 usage or fatal error).

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use cli::{Cli, ColorChoice, Command};
use pyship::report::Reporter;

const ERROR: &str = "\x1b[1;31merror\x1b[0m";
const WARNING: &str = "\x1b[1;33mwarning\x1b[0m";
const NOTE: &str = "\x1b[1;36mnote\x1b[0m";

/// Draws a progress bar on a terminal; prints each module with `-v`; silent otherwise.
struct TerminalReporter {
    bar: Mutex<Option<ProgressBar>>,
    show_bar: bool,
    verbose: bool,
}

impl Reporter for TerminalReporter {
    fn on_compile_start(&self, python: &str, total: usize) {
        if self.show_bar {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(format!("Compiling for Python {python}"));
            *self.bar.lock().unwrap() = Some(bar);
        }
    }

    fn on_compiled(&self, dfile: &str) {
        if self.verbose {
            anstream::eprintln!("Compiled {dfile}");
        }
        if let Some(bar) = self.bar.lock().unwrap().as_ref() {
            bar.set_message(dfile.to_owned());
            bar.inc(1);
        }
    }

    fn on_compile_finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap().take() {
            bar.finish_and_clear();
        }
    }
}

fn print_error(err: &dyn std::error::Error) {
    anstream::eprintln!("{ERROR}: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        anstream::eprintln!("  Caused by: {cause}");
        source = cause.source();
    }
}

/// `--report FILE`: the whole [`pyship::report::Report`] as JSON.
fn write_report(path: &std::path::Path, report: &pyship::report::Report) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    fs_err::write(path, json)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let color = match cli.color {
        ColorChoice::Always => anstream::ColorChoice::Always,
        ColorChoice::Never => anstream::ColorChoice::Never,
        ColorChoice::Auto => anstream::ColorChoice::Auto,
    };
    color.write_global();

    match cli.command {
        Command::Pythons => {
            for interpreter in pyship::interpreter::find_all() {
                let magic = u16::from_le_bytes([interpreter.magic[0], interpreter.magic[1]]);
                println!(
                    "{:<8} magic {magic:<5} {:<12} {}",
                    interpreter.version.to_string(),
                    interpreter.cache_tag,
                    interpreter.executable.display()
                );
            }
            ExitCode::SUCCESS
        }
        Command::Compile(args) => compile(&args.into_config(), cli.quiet, cli.verbose),
        Command::Cache(command) => cache(&command),
        Command::Build(args) => {
            let config = match args.into_config() {
                Ok(config) => config,
                Err(err) => {
                    print_error(&err);
                    return ExitCode::from(2);
                }
            };
            let reporter = TerminalReporter {
                bar: Mutex::new(None),
                show_bar: !cli.quiet && !cli.verbose && std::io::stderr().is_terminal(),
                verbose: cli.verbose,
            };
            let report_path = config.bundle.report.clone();
            match pyship::run(&config, &reporter) {
                Ok(report) => {
                    if let Some(path) = &report_path {
                        if let Err(err) = write_report(path, &report) {
                            print_error(&err);
                            return ExitCode::from(2);
                        }
                    }
                    if cli.verbose || !report.failures.is_empty() {
                        for warning in &report.warnings {
                            anstream::eprintln!("{WARNING}: {warning}");
                        }
                    }
                    if !report.failures.is_empty() {
                        let several = report
                            .failures
                            .iter()
                            .any(|failure| failure.python != report.failures[0].python);
                        for failure in &report.failures {
                            if several {
                                anstream::eprintln!("{failure} (Python {})", failure.python);
                            } else {
                                anstream::eprintln!("{failure}");
                            }
                        }
                        let count = report.failures.len();
                        anstream::eprintln!(
                            "{ERROR}: {count} syntax error{}; nothing was written",
                            if count == 1 { "" } else { "s" }
                        );
                        return ExitCode::from(1);
                    }
                    for artifact in &report.artifacts {
                        println!("{}", artifact.path.display());
                    }
                    if cli.verbose {
                        for (stage, seconds) in &report.timings {
                            anstream::eprintln!("{stage}: {seconds:.3}s");
                        }
                        anstream::eprintln!("{}", cache_line(&report.cache));
                        for path in &report.up_to_date {
                            anstream::eprintln!(
                                "up to date, not written again: {}",
                                path.display()
                            );
                        }
                    }
                    if !cli.quiet {
                        for sizes in &report.bundles {
                            anstream::eprintln!("{}", pyship::bundle::render_sizes(sizes));
                        }
                        for note in &report.notes {
                            anstream::eprintln!("{NOTE}: {note}");
                        }
                        anstream::eprintln!("{}", report.summary());
                    }
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    print_error(&err);
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// The `-v` line about the compile cache and workers.
fn cache_line(stats: &pyship::compile::CacheStats) -> String {
    format!(
        "compiled {}, from cache {}, workers started {}",
        stats.compiled, stats.cached, stats.workers
    )
}

/// `pyship compile`: exit 0, 1 when some modules did not compile (the rest were written), 2 on
/// a fatal error.
fn compile(config: &pyship::inplace::InplaceConfig, quiet: bool, verbose: bool) -> ExitCode {
    let reporter = TerminalReporter {
        bar: Mutex::new(None),
        show_bar: !quiet && !verbose && std::io::stderr().is_terminal(),
        verbose,
    };
    let report = match pyship::inplace::run(config, &reporter) {
        Ok(report) => report,
        Err(err) => {
            print_error(&err);
            return ExitCode::from(2);
        }
    };
    if verbose || !report.failures.is_empty() {
        for warning in &report.warnings {
            anstream::eprintln!("{WARNING}: {warning}");
        }
    }
    for failure in &report.failures {
        anstream::eprintln!("{failure}");
    }
    if verbose {
        for (stage, seconds) in &report.timings {
            anstream::eprintln!("{stage}: {seconds:.3}s");
        }
        anstream::eprintln!("{}", cache_line(&report.cache));
    }
    if !quiet {
        anstream::eprintln!("{}", report.summary());
    }
    if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        let count = report.failures.len();
        anstream::eprintln!(
            "{ERROR}: {count} module{} did not compile; every other pyc was written",
            if count == 1 { "" } else { "s" }
        );
        ExitCode::from(1)
    }
}

/// `pyship cache dir|clean`
fn cache(command: &cli::CacheCommand) -> ExitCode {
    let Some(dir) = command.dir() else {
        anstream::eprintln!(
            "{ERROR}: No cache directory: set --cache-dir, {} or HOME",
            pyship::cache::CACHE_DIR_ENV
        );
        return ExitCode::from(2);
    };
    match command {
        cli::CacheCommand::Dir { .. } => {
            println!("{}", dir.display());
            ExitCode::SUCCESS
        }
        cli::CacheCommand::Clean { .. } => match pyship::cache::Cache::new(&dir).clean() {
            Ok(count) => {
                anstream::eprintln!(
                    "Removed {count} cache entr{} from {}",
                    if count == 1 { "y" } else { "ies" },
                    dir.display()
                );
                ExitCode::SUCCESS
            }
            Err(err) => {
                print_error(&err);
                ExitCode::from(2)
            }
        },
    }
}
