//! `pyship cache dir|info|prune|clean`: print the location (stdout), what the cache holds
//! (stdout), or remove entries.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::cli;
use crate::output::{self, ERROR, message, print_error};
use pyship::cache::{Cache, Limits, MAX_SIZE_ENV};
use pyship::report::{escape, human_bytes};

/// `pyship cache dir|info|prune|clean`; `quiet` silences the count of what `prune` and
/// `clean` removed.
pub(crate) fn run(command: &cli::CacheCommand, quiet: bool) -> ExitCode {
    let Some(dir) = command.dir() else {
        message(format_args!(
            "{ERROR}: No cache directory: set --cache-dir, {} or HOME",
            pyship::cache::CACHE_DIR_ENV
        ));
        return ExitCode::from(2);
    };
    let cache = Cache::new(&dir);
    let shown = escape(&dir.to_string_lossy()).into_owned();
    let entries = |count: usize| format!("entr{}", if count == 1 { "y" } else { "ies" });
    match command {
        cli::CacheCommand::Dir { .. } => match output::stdout_path(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => output::stdout_failed(&err),
        },
        cli::CacheCommand::Info { json, .. } => {
            let info = match cache.info() {
                Ok(info) => info,
                Err(err) => {
                    print_error(&err, None);
                    return ExitCode::from(2);
                }
            };
            let text = if *json {
                let mut value = serde_json::to_value(info).expect("plain counts serialize");
                value["dir"] = dir.to_string_lossy().into();
                value["max_size"] = cache.max_size().into();
                format!("{value}\n")
            } else {
                let cap = match cache.max_size() {
                    0 => format!("none ({MAX_SIZE_ENV}=0)"),
                    max => format!("{} (set {MAX_SIZE_ENV} to change it)", human_bytes(max)),
                };
                let mut text = format!(
                    "Location: {shown}\nEntries:  {} ({})\n",
                    info.entries,
                    human_bytes(info.bytes)
                );
                if info.outdated > 0 {
                    let _ = writeln!(
                        text,
                        "Outdated: {} (an older format, removed by `pyship cache prune`)",
                        info.outdated
                    );
                }
                text + &format!("Archive records: {}\nCap: {cap}\n", info.records)
            };
            match output::stdout_result(std::io::Write::write_all(
                &mut std::io::stdout().lock(),
                text.as_bytes(),
            )) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => output::stdout_failed(&err),
            }
        }
        cli::CacheCommand::Prune {
            max_size,
            older_than,
            ..
        } => {
            let limits = if max_size.is_none() && older_than.is_none() {
                Limits {
                    max_size: Some(cache.max_size()).filter(|&max| max > 0),
                    older_than: None,
                }
            } else {
                Limits {
                    max_size: *max_size,
                    older_than: *older_than,
                }
            };
            match cache.prune(limits) {
                Ok(_) if quiet => ExitCode::SUCCESS,
                Ok(pruned) => {
                    message(format_args!(
                        "Removed {} cache {} ({}) from {shown}; {} {} ({}) remain",
                        pruned.removed,
                        entries(pruned.removed),
                        human_bytes(pruned.removed_bytes),
                        pruned.entries,
                        entries(pruned.entries),
                        human_bytes(pruned.bytes),
                    ));
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    print_error(&err, None);
                    ExitCode::from(2)
                }
            }
        }
        cli::CacheCommand::Clean { .. } => match cache.clean() {
            Ok(_) if quiet => ExitCode::SUCCESS,
            Ok(count) => {
                message(format_args!(
                    "Removed {count} cache {} from {shown}",
                    entries(count)
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
