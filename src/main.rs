//! The `pyship` command line: parse arguments, set up output, call the library, map the
//! outcome to an exit code (0 success, 1 some modules failed, 2 usage or fatal error).

mod cli;
mod commands;
mod output;

use std::process::ExitCode;
use std::sync::Mutex;

use clap::Parser;

use cli::{Cli, ColorChoice, Command};
use output::ERROR;

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
        Command::Pythons { json } => commands::pythons::run(json),
        Command::Compile(args) => commands::compile::run(&args.into_config(cli.quiet), cli.verbose),
        Command::Cache(command) => commands::cache::run(&command, cli.quiet > 0),
        Command::Build(args) => commands::build::run(args, cli.quiet > 0, cli.verbose),
        Command::Completions { shell } => commands::docs::completions(shell),
        Command::Man => commands::docs::man(),
    }
}
