//! `pyship cache dir|clean`: print the location (stdout) or empty the cache.

use std::process::ExitCode;

use crate::cli;
use crate::output::{self, ERROR, message, print_error};
use pyship::report::escape;

/// `pyship cache dir|clean`; `quiet` silences the count of what `clean` removed.
pub(crate) fn run(command: &cli::CacheCommand, quiet: bool) -> ExitCode {
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
            Ok(_) if quiet => ExitCode::SUCCESS,
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
