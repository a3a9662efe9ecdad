//! `pyship completions SHELL` and `pyship man`: generated from the same clap definitions as the
//! parser, so they never drift from `--help`.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::output;

/// Print the completion script for `shell`.
pub(crate) fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "pyship", &mut buffer);
    print(&buffer)
}

/// Print the man page, `pyship(1)`.
pub(crate) fn man() -> ExitCode {
    let mut buffer = Vec::new();
    match clap_mangen::Man::new(Cli::command()).render(&mut buffer) {
        Ok(()) => print(&buffer),
        Err(err) => output::stdout_failed(&err),
    }
}

fn print(bytes: &[u8]) -> ExitCode {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match output::stdout_result(stdout.write_all(bytes).and_then(|()| stdout.flush())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => output::stdout_failed(&err),
    }
}
