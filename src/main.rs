//! The `pyship` command line: parse arguments, set up output, call the library, map the
//! outcome to an exit code (0 success, 1 some modules failed, 2 usage or fatal error).

mod cli;
mod output;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use cli::{Cli, ColorChoice, Command};
use output::{ERROR, NOTE, WARNING, message, print_error, stdout_line};
use pyship::report::{Reporter, escape};

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
            message(format_args!("Compiled {}", escape(dfile)));
        }
        if let Some(bar) = self.bar.lock().unwrap().as_ref() {
            bar.set_message(escape(dfile).into_owned());
            bar.inc(1);
        }
    }

    fn on_compile_finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap().take() {
            bar.finish_and_clear();
        }
    }
}

/// `--report FILE`: the whole [`pyship::report::Report`] as JSON.
fn write_report(path: &std::path::Path, report: &pyship::report::Report) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    fs_err::write(path, json)
}

fn main() -> ExitCode {
    handle_signals();
    let code = run_cli();
    match pyship::support::interrupt::requested() {
        Some(signal) => exit_interrupted(signal),
        None => code,
    }
}

/// How long the stages get to unwind after SIGINT/SIGTERM before pyship exits regardless (what
/// is left then is swept by the next build).
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// SIGINT/SIGTERM: ask the library to stop. Its waits kill their children and unwind, so every
/// staging guard removes what it wrote, and `main` exits 128 + signal with one line. A second
/// signal, or a stage still running after [`INTERRUPT_GRACE`], exits at once.
fn handle_signals() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("pyship-signals".to_owned())
            .spawn(move || {
                let mut received = signals.forever();
                let Some(signal) = received.next() else {
                    return;
                };
                pyship::support::interrupt::request(signal);
                let _ = std::thread::Builder::new()
                    .name("pyship-interrupt-grace".to_owned())
                    .spawn(move || {
                        std::thread::sleep(INTERRUPT_GRACE);
                        exit_interrupted(signal);
                    });
                if received.next().is_some() {
                    exit_interrupted(signal);
                }
            });
    }
}

/// Print the one line and exit with 128 + `signal`, once even when called from several threads.
fn exit_interrupted(signal: i32) -> ! {
    static EXITING: Mutex<()> = Mutex::new(());
    let _once = EXITING.lock();
    output::message(format_args!("{ERROR}: Interrupted"));
    std::process::exit(128 + signal)
}

/// Parse the command line and run the command.
fn run_cli() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            if err.use_stderr() {
                // Nowhere left to report a failure to print a usage error.
                let _ = err.print();
                return ExitCode::from(2);
            }
            // `--help` and `--version` are data on stdout.
            return match output::stdout_result(err.print()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => output::stdout_failed(&err),
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
        Command::Compile(args) => compile(&args.into_config(), cli.quiet, cli.verbose),
        Command::Cache(command) => cache(&command),
        Command::Build(args) => {
            let config = match args.into_config() {
                Ok(config) => config,
                Err(err) => {
                    print_error(&err, None);
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
                            print_error(&err, None);
                            return ExitCode::from(2);
                        }
                    }
                    if cli.verbose || !report.failures.is_empty() {
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
                    if cli.verbose {
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
                    if !cli.quiet {
                        for sizes in &report.bundles {
                            for line in pyship::plan::bundle::render_sizes(sizes).lines() {
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
fn compile(config: &pyship::in_place::InplaceConfig, quiet: bool, verbose: bool) -> ExitCode {
    let reporter = TerminalReporter {
        bar: Mutex::new(None),
        show_bar: !quiet && !verbose && std::io::stderr().is_terminal(),
        verbose,
    };
    let report = match pyship::in_place::run(config, &reporter) {
        Ok(report) => report,
        Err(err) => {
            let hint = err.hint();
            print_error(&err, hint.as_deref());
            return ExitCode::from(2);
        }
    };
    if verbose || !report.failures.is_empty() {
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

/// `pyship cache dir|clean`
fn cache(command: &cli::CacheCommand) -> ExitCode {
    let Some(dir) = command.dir() else {
        message(format_args!(
            "{ERROR}: No cache directory: set --cache-dir, {} or HOME",
            pyship::cache::CACHE_DIR_ENV
        ));
        return ExitCode::from(2);
    };
    match command {
        cli::CacheCommand::Dir { .. } => match output::stdout_path(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => output::stdout_failed(&err),
        },
        cli::CacheCommand::Clean { .. } => match pyship::cache::Cache::new(&dir).clean() {
            Ok(count) => {
                message(format_args!(
                    "Removed {count} cache entr{} from {}",
                    if count == 1 { "y" } else { "ies" },
                    escape(&dir.to_string_lossy())
                ));
                ExitCode::SUCCESS
            }
            Err(err) => {
                print_error(&err, None);
                ExitCode::from(2)
            }
        },
    }
}
