//! One module per subcommand: each takes its parsed arguments, calls the library and renders
//! the outcome (stdout for data, stderr for messages), returning the exit code: 0 success, 1
//! some modules failed, 2 usage or fatal error.

pub(crate) mod build;
pub(crate) mod cache;
pub(crate) mod compile;
pub(crate) mod docs;
pub(crate) mod inspect;
pub(crate) mod pythons;
pub(crate) mod verify;

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use crate::output::message;
use pyship::report::{Reporter, escape};

/// Draws a progress bar on a terminal; prints each module with `-v`; silent otherwise.
pub(crate) struct TerminalReporter {
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

impl TerminalReporter {
    /// A bar only on a terminal, and neither with `-q` nor with `-v` (which lists each module).
    pub(crate) fn new(quiet: bool, verbose: bool) -> TerminalReporter {
        TerminalReporter {
            bar: Mutex::new(None),
            show_bar: !quiet && !verbose && std::io::stderr().is_terminal(),
            verbose,
        }
    }
}

/// The `-v` line about the compile cache and workers.
pub(crate) fn cache_line(stats: &pyship::compile::CacheStats) -> String {
    let mut line = format!(
        "compiled {}, from cache {}, workers started {}",
        stats.compiled, stats.cached, stats.workers
    );
    if stats.shared > 0 {
        use std::fmt::Write as _;
        let _ = write!(
            line,
            "; {} of the compiled had the source of another and took its code",
            stats.shared
        );
    }
    line
}

/// `-v`: each module the native compiler left to CPython, and why.
pub(crate) fn print_fell_back(native: &pyship::report::NativeStats) {
    for module in &native.modules {
        message(format_args!(
            "compiled by CPython, not natively (Python {}): {}: {}",
            native.python,
            escape(&module.path),
            escape(&module.reason)
        ));
    }
}
