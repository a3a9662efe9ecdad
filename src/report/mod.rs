//! What a build did: artifacts, counts, sizes, failures and warnings, and the [`Reporter`]
//! trait through which the library tells the binary about progress.

pub mod sizes;

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use crate::compile::CacheStats;

/// Progress callbacks. The library never prints; the binary draws a progress bar from these.
pub trait Reporter: Sync {
    /// Compilation for `python` (e.g. `3.12`) starts with `total` modules.
    fn on_compile_start(&self, python: &str, total: usize) {
        let _ = (python, total);
    }
    /// One module finished compiling (or failed to).
    fn on_compiled(&self, dfile: &str) {
        let _ = dfile;
    }
    /// Compilation for the current target finished.
    fn on_compile_finish(&self) {}
}

/// One artifact written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArtifactReport {
    /// Where it is.
    pub path: PathBuf,
    /// Its kind.
    pub format: &'static str,
    /// Target CPython, e.g. `3.12`.
    pub python: String,
    /// Bytes of file contents shipped.
    pub bytes: u64,
    /// Bytes of the input files it carries (dependencies included), as sources.
    pub source_bytes: u64,
    /// Bytes of the archive file; `None` for a directory.
    pub archive_bytes: Option<u64>,
    /// Already up to date, so not written again.
    pub up_to_date: bool,
}

/// A warning CPython's compiler gave for one line of one module (what `compileall` prints, e.g.
/// 3.12's `SyntaxWarning: invalid escape sequence '\d'`), with every target that gave it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompilerWarning {
    /// The source file, as failures name it.
    pub path: String,
    /// 1-based line, 0 when CPython gave none.
    pub line: u32,
    /// The warning's class, e.g. `SyntaxWarning`.
    pub category: String,
    /// CPython's text.
    pub message: String,
    /// The targets that gave it, e.g. `["3.11", "3.12"]`, in the order they compiled.
    pub python: Vec<String>,
}

impl std::fmt::Display for CompilerWarning {
    /// `message (SyntaxWarning, Python 3.11, 3.12)`: what follows `path:line: warning: `.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, Python {})",
            self.message,
            self.category,
            self.python.join(", ")
        )
    }
}

impl CompilerWarning {
    /// `path:line`, or `path` when CPython gave no line: what precedes `: warning: `, the path
    /// [`escape`]d.
    pub fn location(&self) -> String {
        if self.line == 0 {
            escape(&self.path).into_owned()
        } else {
            format!("{}:{}", escape(&self.path), self.line)
        }
    }

    /// Add what `python` said at `path` to `warnings`: once per file, line, category and
    /// message, naming every target that said it.
    pub fn add(
        warnings: &mut Vec<CompilerWarning>,
        path: &str,
        warning: crate::compile::CompileWarning,
        python: &str,
    ) {
        let same = warnings.iter_mut().find(|said| {
            said.line == warning.line
                && said.path == path
                && said.message == warning.message
                && said.category == warning.category
        });
        match same {
            Some(said) => {
                if !said.python.iter().any(|other| other == python) {
                    said.python.push(python.to_owned());
                }
            }
            None => warnings.push(CompilerWarning {
                path: path.to_owned(),
                line: warning.line,
                category: warning.category,
                message: warning.message,
                python: vec![python.to_owned()],
            }),
        }
    }
}

/// A module that did not compile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The source file, as the user would open it.
    pub path: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// What is wrong.
    pub message: String,
    /// Target CPython whose compiler refused it.
    pub python: String,
}

impl std::fmt::Display for Failure {
    /// `path:line:col: message`, the way compilers say it (`path: message` when there is no
    /// line, e.g. a file that could not be read), the path [`escape`]d.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.to_string_lossy();
        if self.line == 0 {
            write!(f, "{}: {}", escape(&path), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                escape(&path),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// `text` with control characters (C0, DEL, C1) and bidirectional-override characters written
/// as escapes (`\n`, `\r`, `\t`, `\u{1b}`): a file name printed to a terminal can then neither
/// drive it (ESC sequences), rewrite a line (CR), start a new one (LF) nor reorder what is shown,
/// and `path:line:col: message` stays one parseable line.
pub fn escape(text: &str) -> Cow<'_, str> {
    use std::fmt::Write as _;
    fn needs_escape(c: char) -> bool {
        c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// What pruning left out of one target's bundle.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    /// Target CPython, e.g. `3.12`.
    pub python: String,
    /// The modules pruning started from: the entry modules, then the `--include`d ones.
    pub roots: Vec<String>,
    /// Modules left out.
    pub modules: usize,
    /// Data files left out.
    pub data_files: usize,
    /// Bytes of the files left out, as sources.
    pub bytes: u64,
    /// Each file left out, by its path in the bundle.
    pub dropped: Vec<DroppedFile>,
    /// Modules imported by kept ones that the bundle does not have (the standard library, or
    /// missing): never an error, listed under `-v`.
    pub outside: Vec<OutsideImport>,
    /// Modules whose imports could not be read, kept with their whole package: `path: why`.
    pub kept_whole: Vec<String>,
}

/// A file pruning left out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DroppedFile {
    /// Its path in the bundle.
    pub path: String,
    /// Its size as a source.
    pub bytes: u64,
}

/// An import of a module the bundle does not have, at its first site.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutsideImport {
    /// The module.
    pub module: String,
    /// The importing file, by its path in the bundle.
    pub path: String,
    /// 1-based line.
    pub line: u32,
}

/// What the native compiler did for one target (`--backend native`/`auto`): modules the cache
/// answered are in neither count.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NativeStats {
    /// Target CPython, e.g. `3.12`.
    pub python: String,
    /// Modules compiled natively.
    pub native: usize,
    /// Modules the native compiler did not support, compiled by CPython instead.
    pub fell_back: usize,
    /// How many fell back for each reason.
    pub reasons: std::collections::BTreeMap<String, usize>,
    /// Each module that fell back, sorted by path.
    pub modules: Vec<FellBack>,
}

/// A module the native compiler did not support.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FellBack {
    /// Its name in code objects (`pkg/mod.py`).
    pub path: String,
    /// Why, in full.
    pub reason: String,
}

impl NativeStats {
    /// The counts of `log`, for `python`'s target.
    pub fn new(python: String, log: &crate::compile::native::NativeLog) -> NativeStats {
        let mut modules: Vec<FellBack> = log
            .fell_back
            .iter()
            .map(|(path, why)| FellBack {
                path: path.clone(),
                reason: why.to_string(),
            })
            .collect();
        modules.sort_by(|a, b| a.path.cmp(&b.path));
        NativeStats {
            python,
            native: log.native,
            fell_back: log.fell_back.len(),
            reasons: log.reasons(),
            modules,
        }
    }

    /// `native (Python 3.12): 40 modules compiled natively, 2 by CPython (x: 1, y: 1)`
    pub fn line(&self) -> String {
        let plural = |count: usize| if count == 1 { "" } else { "s" };
        let mut line = format!(
            "native (Python {}): {} module{} compiled natively, {} by CPython",
            self.python,
            self.native,
            plural(self.native),
            self.fell_back
        );
        if !self.reasons.is_empty() {
            let reasons: Vec<String> = self
                .reasons
                .iter()
                .map(|(reason, count)| format!("{reason}: {count}"))
                .collect();
            line = format!("{line} ({})", reasons.join(", "));
        }
        line
    }
}

/// The outcome of a build.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    /// Artifacts written (none when any module failed).
    pub artifacts: Vec<ArtifactReport>,
    /// Artifacts that were already up to date, so not written again.
    pub up_to_date: Vec<PathBuf>,
    /// Modules compiled per target.
    pub modules: usize,
    /// Non-module files carried.
    pub data_files: usize,
    /// Bytes of the project's files (modules and data).
    pub source_bytes: u64,
    /// Modules that did not compile.
    pub failures: Vec<Failure>,
    /// Things the user should know that did not stop the build.
    pub warnings: Vec<String>,
    /// Warnings about one line of one file (code that reads stripped docstrings).
    pub source_warnings: Vec<crate::analysis::warnings::SourceWarning>,
    /// Warnings CPython's compiler gave, by module then line.
    pub compile_warnings: Vec<CompilerWarning>,
    /// What only `-v` shows: modules the Rust parser could not read, and the like.
    pub details: Vec<String>,
    /// `--dry-run`: what each artifact would hold.
    pub listings: Vec<crate::plan::listing::Listing>,
    /// Facts about how the artifact behaves, e.g. which interpreter flags use its pycs.
    pub notes: Vec<String>,
    /// Per-package sizes of each artifact (see [`sizes::measure`]).
    pub bundles: Vec<sizes::BundleSizes>,
    /// What pruning (`--prune-from`, `--prune`) left out, per target.
    pub pruned: Vec<Pruned>,
    /// Modules compiled by workers, answered from the compile cache, and workers started,
    /// summed over targets.
    pub cache: CacheStats,
    /// What the native compiler did, per target it compiled (none with `--backend cpython`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub native: Vec<NativeStats>,
    /// Wall time of each stage, in order: `scan`, `read`, `compile 3.12`, `write NAME.zip`.
    pub timings: Vec<(String, f64)>,
    /// Wall time.
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// `12.3 KiB`
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl Report {
    /// The summary printed after a successful build: what was compiled this run, then one line
    /// per artifact with the sources it carries and its own size.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let CacheStats {
            compiled, cached, ..
        } = self.cache;
        let mut out = format!(
            "Compiled {compiled} module{}",
            if compiled == 1 { "" } else { "s" }
        );
        if cached > 0 {
            let _ = write!(out, " ({cached} more from the cache)");
        }
        let all_up_to_date = self.artifacts.iter().all(|artifact| artifact.up_to_date);
        if compiled + cached == 0 && all_up_to_date && !self.artifacts.is_empty() {
            out.push_str(": everything up to date");
        }
        let _ = write!(
            out,
            " in {:.2}s{}",
            self.duration.as_secs_f64(),
            warning_count(
                self.warnings.len() + self.source_warnings.len() + self.compile_warnings.len()
            )
        );
        for artifact in &self.artifacts {
            let _ = write!(
                out,
                "\n  {} (Python {}): {} of sources → {}",
                escape(&artifact.path.to_string_lossy()),
                artifact.python,
                human_bytes(artifact.source_bytes),
                shipped_size(artifact.bytes, artifact.archive_bytes)
            );
            if artifact.up_to_date {
                out.push_str(", up to date");
            }
        }
        for native in &self.native {
            let _ = write!(out, "\n  {}", native.line());
        }
        for pruned in &self.pruned {
            let _ = write!(
                out,
                "\n  pruned (Python {}): {} module{} and {} data file{} ({}) not reached from {}",
                pruned.python,
                pruned.modules,
                if pruned.modules == 1 { "" } else { "s" },
                pruned.data_files,
                if pruned.data_files == 1 { "" } else { "s" },
                human_bytes(pruned.bytes),
                pruned.roots.join(", ")
            );
        }
        out
    }

    /// Add `other`'s build to this one: several SOURCEs give one report.
    pub fn absorb(&mut self, other: Report) {
        self.artifacts.extend(other.artifacts);
        self.up_to_date.extend(other.up_to_date);
        self.modules += other.modules;
        self.data_files += other.data_files;
        self.source_bytes += other.source_bytes;
        self.failures.extend(other.failures);
        self.warnings.extend(other.warnings);
        self.source_warnings.extend(other.source_warnings);
        self.compile_warnings.extend(other.compile_warnings);
        self.details.extend(other.details);
        self.listings.extend(other.listings);
        self.notes.extend(other.notes);
        self.bundles.extend(other.bundles);
        self.pruned.extend(other.pruned);
        self.cache += other.cache;
        self.native.extend(other.native);
        self.timings.extend(other.timings);
        self.duration += other.duration;
    }
}

/// `12.0 KiB` of files shipped, and the archive's own size: `, 4.1 KiB compressed` when it is
/// smaller, `, 13.2 KiB on disk` when an archive of small files is not.
pub fn shipped_size(shipped: u64, archive: Option<u64>) -> String {
    match archive {
        Some(archive) if archive < shipped => {
            format!(
                "{}, {} compressed",
                human_bytes(shipped),
                human_bytes(archive)
            )
        }
        Some(archive) => format!("{}, {} on disk", human_bytes(shipped), human_bytes(archive)),
        None => human_bytes(shipped),
    }
}

/// `, 2 warnings` for the end of a summary line; nothing without warnings.
pub fn warning_count(count: usize) -> String {
    match count {
        0 => String::new(),
        1 => ", 1 warning".to_owned(),
        _ => format!(", {count} warnings"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reads_like_a_compiler() {
        let failure = Failure {
            path: PathBuf::from("pkg/bad.py"),
            line: 3,
            column: 7,
            message: "invalid syntax".to_owned(),
            python: "3.12".to_owned(),
        };
        assert_eq!(failure.to_string(), "pkg/bad.py:3:7: invalid syntax");
        let unreadable = Failure {
            path: PathBuf::from("pkg/\x1b[2J\r\n.py"),
            line: 0,
            column: 0,
            message: "Failed to read: Input/output error (os error 5)".to_owned(),
            python: "3.12".to_owned(),
        };
        assert_eq!(
            unreadable.to_string(),
            "pkg/\\u{1b}[2J\\r\\n.py: Failed to read: Input/output error (os error 5)"
        );
    }

    #[test]
    fn escapes_control_and_bidi_characters_only() {
        assert_eq!(escape("pkg/mod.py"), "pkg/mod.py");
        assert!(matches!(escape("naïve \\ 'x' \"y\""), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\u{1b}]0;t\u{7}b\tc\rd\ne\u{7f}f\u{85}g\u{202e}h"),
            "a\\u{1b}]0;t\\u{7}b\\tc\\rd\\ne\\u{7f}f\\u{85}g\\u{202e}h"
        );
    }

    fn artifact(
        path: &str,
        bytes: u64,
        archive_bytes: Option<u64>,
        up_to_date: bool,
    ) -> ArtifactReport {
        ArtifactReport {
            path: PathBuf::from(path),
            format: "zip",
            python: "3.12".to_owned(),
            bytes,
            source_bytes: 10 * 1024,
            archive_bytes,
            up_to_date,
        }
    }

    #[test]
    fn summary_lists_each_artifact_and_what_was_compiled() {
        let mut report = Report {
            artifacts: vec![
                artifact("dist/a.zip", 4096, Some(1024), false),
                artifact("dist/tiny.zip", 100, Some(300), false),
                artifact("dist/d", 2048, None, false),
            ],
            cache: CacheStats {
                compiled: 3,
                cached: 2,
                ..CacheStats::default()
            },
            ..Report::default()
        };
        let summary = report.summary();
        let lines: Vec<&str> = summary.lines().collect();
        assert!(
            lines[0].starts_with("Compiled 3 modules (2 more from the cache) in "),
            "{summary}"
        );
        assert_eq!(
            &lines[1..],
            [
                "  dist/a.zip (Python 3.12): 10.0 KiB of sources → 4.0 KiB, 1.0 KiB compressed",
                "  dist/tiny.zip (Python 3.12): 10.0 KiB of sources → 100 B, 300 B on disk",
                "  dist/d (Python 3.12): 10.0 KiB of sources → 2.0 KiB",
            ]
        );
        report.cache = CacheStats::default();
        for artifact in &mut report.artifacts {
            artifact.up_to_date = true;
        }
        let summary = report.summary();
        assert!(
            summary.starts_with("Compiled 0 modules: everything up to date in "),
            "{summary}"
        );
        assert!(
            summary.contains("1.0 KiB compressed, up to date"),
            "{summary}"
        );
    }

    #[test]
    fn summary_says_what_pruning_left_out() {
        let report = Report {
            artifacts: vec![artifact("dist/app.pyz", 4096, Some(1024), false)],
            pruned: vec![Pruned {
                python: "3.12".to_owned(),
                roots: vec!["app.cli".to_owned(), "app.plugins.x".to_owned()],
                modules: 3,
                data_files: 1,
                bytes: 3 * 1024,
                ..Pruned::default()
            }],
            ..Report::default()
        };
        let summary = report.summary();
        assert_eq!(
            summary.lines().last().unwrap(),
            "  pruned (Python 3.12): 3 modules and 1 data file (3.0 KiB) not reached from app.cli, app.plugins.x",
            "{summary}"
        );
    }

    #[test]
    fn summary_counts_native_and_fallen_back_modules_by_reason() {
        use crate::compile::native::{NativeLog, Unsupported};
        let log = NativeLog {
            native: 40,
            fell_back: vec![
                ("z.py".to_owned(), Unsupported::Construct("`match`")),
                ("a.py".to_owned(), Unsupported::Parse("line 3".to_owned())),
                ("m.py".to_owned(), Unsupported::Construct("`match`")),
            ],
            differs: Vec::new(),
        };
        let native = NativeStats::new("3.12".to_owned(), &log);
        let report = Report {
            artifacts: vec![artifact("dist/a.zip", 4096, Some(1024), false)],
            native: vec![native.clone()],
            ..Report::default()
        };
        assert_eq!(
            report.summary().lines().last().unwrap(),
            "  native (Python 3.12): 40 modules compiled natively, 3 by CPython (`match`: 2, not parsed natively: 1)"
        );
        let paths: Vec<&str> = native.modules.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["a.py", "m.py", "z.py"]);
        assert_eq!(native.modules[0].reason, "does not parse natively: line 3");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
