//! Resolved build options ([`Config`]): the command line, `[tool.pyship]` and the defaults,
//! merged by [`resolve`] ([`tool`]), which also reads `pyproject.toml`, once per build.

pub mod tool;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use tool::{Flags, Pyproject, SettingsError, Switch, ToolConfig, resolve};

use crate::bytecode::pyc::Invalidation;

/// The artifact kinds `pyship build` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputFormat {
    /// A laid-out directory tree.
    Dir,
    /// A deflated zip usable on `sys.path`.
    Zip,
    /// A PEP 427 wheel.
    Wheel,
    /// A PEP 441 zipapp.
    Zipapp,
}

impl OutputFormat {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Dir => "dir",
            OutputFormat::Zip => "zip",
            OutputFormat::Wheel => "wheel",
            OutputFormat::Zipapp => "zipapp",
        }
    }
}

/// Where compiled modules go relative to their sources (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Keep `X.py`; add the `.pyc` where the loader looks for a cached one
    /// (`__pycache__/X.<tag>.pyc` in a directory, `X.pyc` in a zip).
    Beside,
    /// Sourceless: `X.pyc` replaces `X.py`.
    Replace,
}

/// Everything a build needs to know, already resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// The project directory.
    pub source: PathBuf,
    /// Artifact kinds to write, in order, no duplicates; empty means the default for the input
    /// (`wheel` for a PEP 621 project or a wheel, `dir` otherwise).
    pub formats: Vec<OutputFormat>,
    /// Where artifacts go; never scanned as input.
    pub out_dir: PathBuf,
    /// Target interpreters as given: paths, commands or versions.
    pub pythons: Vec<String>,
    /// Targets given by version alone (`--target 3.12`), after `pythons`: built by the
    /// native compiler, without an interpreter.
    pub targets: Vec<String>,
    /// Who compiles; never changes the bytes.
    pub backend: crate::compile::native::BackendChoice,
    /// `--verify`: compile every natively compiled module with CPython too, and fail on any
    /// difference (every module is compiled: no cache).
    pub verify: bool,
    /// As `python -O`/`-OO`.
    pub optimize: crate::compile::Optimize,
    /// Beside sources or instead of them.
    pub placement: Placement,
    /// Gitignore-style patterns of modules that stay `.py` even when sourceless.
    pub keep_source: Vec<String>,
    /// Gitignore-style patterns excluded on top of the defaults.
    pub exclude: Vec<String>,
    /// PEP 552 mode; `None` picks by placement (checked-hash beside, unchecked-hash sourceless).
    pub invalidation: Option<Invalidation>,
    /// Prepended to the artifact-relative path in `co_filename`.
    pub dfile_prefix: String,
    /// Worker processes per target.
    pub jobs: usize,
    /// Timestamp for archive entries, file mtimes and timestamp pycs (unix seconds).
    pub source_date_epoch: u32,
    /// Zipapp options, dependency bundling and the size report: see [`BundleOptions`].
    pub bundle: BundleOptions,
    /// Docstring stripping and pruning, decided with the analysis stage: see
    /// [`AnalysisOptions`].
    pub analysis: AnalysisOptions,
    /// `--dry-run`: plan and report, write nothing, start no worker.
    pub dry_run: bool,
    /// The compile cache directory (SPEC §5); `None` compiles everything (`--no-cache`).
    pub cache_dir: Option<PathBuf>,
    /// `[tool.pyship] packages`: what a project wheel ships, instead of the discovered packages.
    pub packages: Option<Vec<String>>,
    /// SOURCE's `pyproject.toml` as [`resolve`] read it; `None` when there is none (or SOURCE is
    /// a wheel). The later stages parse it from here rather than reading the file again.
    pub pyproject: Option<Arc<Pyproject>>,
    /// Artifacts that earlier SOURCEs of the same call wrote: planning one of them again is a
    /// clash, not an overwrite.
    pub claimed: Vec<PathBuf>,
}

/// What the analysis stage (SPEC §7) is asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// Drop docstrings but keep asserts, at any optimize level.
    pub strip_docstrings: bool,
    /// Gitignore-style patterns of modules that keep their docstrings (under `-OO` they are
    /// compiled at `-O`).
    pub keep_docstrings: Vec<String>,
    /// Entry modules for pruning: only what they reach by static imports is shipped.
    pub prune_from: Vec<String>,
    /// Modules kept by pruning whatever imports them (dynamic imports), with what they import.
    pub include: Vec<String>,
    /// Prune from the zipapp entry point when no `prune_from` is given.
    pub prune: bool,
}

impl AnalysisOptions {
    /// Whether pruning was asked for.
    pub fn prunes(&self) -> bool {
        self.prune || !self.prune_from.is_empty()
    }
}

/// Options for deployment bundles: zipapp entry point, vendored dependencies, slimming and the
/// JSON report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleOptions {
    /// Zipapp entry point, `module:function` or `module`; `None` picks the project's single
    /// `[project.scripts]` entry or its top-level `__main__.py`.
    pub main: Option<String>,
    /// Zipapp interpreter line without `#!`; `None` is `/usr/bin/env python3.X` for the target.
    pub shebang: Option<String>,
    /// Install `[project.dependencies]` with the target's pip and ship them compiled.
    pub with_deps: bool,
    /// Extra arguments for `pip install`.
    pub pip_args: Vec<String>,
    /// `-r/--requirement` files installed with `--with-deps`, besides `[project.dependencies]`.
    pub requirements: Vec<PathBuf>,
    /// The zipapp unpacks itself into a per-user cache on first run (native extensions).
    pub extract: bool,
    /// Leave out tests, docs, stubs and `py.typed` ([`crate::plan::bundle::SLIM_EXCLUDES`]).
    pub slim: bool,
    /// Where the JSON report goes.
    pub report: Option<PathBuf>,
}

/// 1980-01-01T00:00:00Z: the earliest time a zip can record.
pub const ZIP_EPOCH: u32 = 315_532_800;

impl Config {
    /// A config with pyship's defaults for `source`: artifacts go to `dist/` inside a project
    /// directory, or beside a wheel or sdist given as `source`.
    pub fn new(source: impl Into<PathBuf>) -> Config {
        let source = source.into();
        let out_dir = if is_wheel(&source) || is_sdist(&source) {
            source.parent().unwrap_or(Path::new("")).join("dist")
        } else {
            source.join("dist")
        };
        Config {
            out_dir,
            source,
            formats: Vec::new(),
            pythons: vec!["python3".to_owned()],
            targets: Vec::new(),
            backend: crate::compile::native::BackendChoice::default(),
            verify: false,
            optimize: crate::compile::Optimize::Zero,
            placement: Placement::Beside,
            keep_source: Vec::new(),
            exclude: Vec::new(),
            invalidation: None,
            dfile_prefix: String::new(),
            jobs: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            source_date_epoch: ZIP_EPOCH,
            bundle: BundleOptions::default(),
            analysis: AnalysisOptions::default(),
            dry_run: false,
            cache_dir: None,
            packages: None,
            pyproject: None,
            claimed: Vec::new(),
        }
    }

    /// The invalidation mode for a module placed as `placement`.
    pub fn invalidation_for(&self, placement: Placement) -> Invalidation {
        self.invalidation.unwrap_or(match placement {
            Placement::Beside => Invalidation::CheckedHash,
            Placement::Replace => Invalidation::UncheckedHash,
        })
    }
}

/// `SOURCE_DATE_EPOCH` if set and valid, clamped to what a zip can hold; else 1980-01-01.
pub fn source_date_epoch_from_env() -> u32 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(ZIP_EPOCH, |value| {
            u32::try_from(value).unwrap_or(u32::MAX).max(ZIP_EPOCH)
        })
}

/// Whether `source` names a wheel rather than a directory.
pub fn is_wheel(source: &Path) -> bool {
    source
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("whl"))
        && !source.is_dir()
}

/// Whether `source` names an sdist (`.tar.gz`, `.zip`) rather than a directory.
pub fn is_sdist(source: &Path) -> bool {
    let name = source
        .file_name()
        .map(|name| name.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let zip = source
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("zip"));
    // Lowercased above: `.tar.gz` is two extensions, which `Path::extension` cannot see.
    #[allow(clippy::case_sensitive_file_extension_comparisons)]
    let tar_gz = name.ends_with(".tar.gz");
    (zip || tar_gz) && !source.is_dir()
}
