//! Command-line arguments. The only module that knows clap.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use pyship::config::{Config, OutputFormat, Placement, source_date_epoch_from_env};
use pyship::inplace::{InplaceConfig, default_invalidation};
use pyship::pyc::Invalidation;

/// Turn a Python project into a bytecode-only distribution, compiled by the target CPython.
#[derive(Debug, Parser)]
#[command(name = "pyship", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print each module as it is compiled, and every warning.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// When to use colors (NO_COLOR is honoured with `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// `--color`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colors on a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile a project and write it as a directory or zip.
    Build(BuildArgs),
    /// Compile sources in place, like `python -m compileall` but faster.
    Compile(CompileArgs),
    /// Show or empty the compile cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// List the interpreters pyship can target.
    Pythons,
}

/// `--format`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// A directory tree.
    Dir,
    /// A zip archive usable on `sys.path`.
    Zip,
}

/// `--invalidation-mode` (PEP 552)
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InvalidationArg {
    /// Source mtime and size in the header.
    Timestamp,
    /// Source hash, checked when the source is present.
    CheckedHash,
    /// Source hash, never checked.
    UncheckedHash,
}

/// `pyship build`
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub source: PathBuf,
    /// Output format; repeat for several [default: dir]
    #[arg(short, long = "format", value_enum)]
    pub formats: Vec<FormatArg>,
    /// Where artifacts are written; never scanned as input [default: SOURCE/dist]
    #[arg(short, long)]
    pub out_dir: Option<PathBuf>,
    /// Target interpreter: a path, a command (`python3.12`) or a version (`3.12`); repeat for
    /// one artifact per target [default: python3]
    #[arg(short, long = "python", value_name = "PY")]
    pub pythons: Vec<String>,
    /// Optimize as `python -O` (drop asserts); `-OO` also drops docstrings.
    #[arg(short = 'O', action = ArgAction::Count, conflicts_with = "optimize")]
    pub optimize_flag: u8,
    /// Optimization level, as CPython's: 0, 1 or 2.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub optimize: Option<u8>,
    /// Ship bytecode only: each `X.py` is replaced by `X.pyc`.
    #[arg(long)]
    pub strip_sources: bool,
    /// Modules that stay `.py` with `--strip-sources` (gitignore-style pattern; repeatable).
    #[arg(long, value_name = "GLOB")]
    pub keep_source: Vec<String>,
    /// Files to leave out, on top of the defaults (gitignore-style pattern; repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// How the loader decides a pyc is stale [default: checked-hash beside sources,
    /// unchecked-hash when sourceless]
    #[arg(long, value_enum)]
    pub invalidation_mode: Option<InvalidationArg>,
    /// Prefix for the file names recorded in code objects (tracebacks show it).
    #[arg(long, value_name = "PREFIX", default_value = "")]
    pub dfile_prefix: String,
    /// Worker processes per target [default: number of CPUs]
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// The compile cache.
    #[command(flatten)]
    pub cache: CacheArgs,
}

impl BuildArgs {
    /// Resolve flags and defaults into a [`Config`].
    pub fn into_config(self) -> Config {
        let mut config = Config::new(&self.source);
        if let Some(out_dir) = self.out_dir {
            config.out_dir = out_dir;
        }
        if !self.formats.is_empty() {
            let mut formats: Vec<OutputFormat> = Vec::new();
            for format in self.formats {
                let format = match format {
                    FormatArg::Dir => OutputFormat::Dir,
                    FormatArg::Zip => OutputFormat::Zip,
                };
                if !formats.contains(&format) {
                    formats.push(format);
                }
            }
            config.formats = formats;
        }
        if !self.pythons.is_empty() {
            config.pythons = self.pythons;
        }
        config.optimize = self.optimize.unwrap_or(self.optimize_flag.min(2));
        if self.strip_sources {
            config.placement = Placement::Replace;
        }
        config.keep_source = self.keep_source;
        config.exclude = self.exclude;
        config.invalidation = self.invalidation_mode.map(|mode| match mode {
            InvalidationArg::Timestamp => Invalidation::Timestamp,
            InvalidationArg::CheckedHash => Invalidation::CheckedHash,
            InvalidationArg::UncheckedHash => Invalidation::UncheckedHash,
        });
        config.dfile_prefix = self.dfile_prefix;
        if let Some(jobs) = self.jobs {
            config.jobs = jobs.max(1);
        }
        config.source_date_epoch = source_date_epoch_from_env();
        config.cache_dir = self.cache.dir();
        config
    }
}

/// `--cache-dir`, `--no-cache`
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// The content-addressed compile cache [default: $XDG_CACHE_HOME/pyship or
    /// ~/.cache/pyship]
    #[arg(long, value_name = "DIR", env = pyship::cache::CACHE_DIR_ENV)]
    pub cache_dir: Option<PathBuf>,
    /// Compile every module, neither reading nor writing the cache (wins over `--cache-dir`).
    #[arg(long)]
    pub no_cache: bool,
}

impl CacheArgs {
    /// The cache directory to use, `None` for no cache.
    pub fn dir(self) -> Option<PathBuf> {
        if self.no_cache {
            None
        } else {
            self.cache_dir.or_else(pyship::cache::default_dir)
        }
    }
}

/// `pyship cache`
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Print the cache directory.
    Dir {
        /// The cache directory [default: $XDG_CACHE_HOME/pyship or ~/.cache/pyship]
        #[arg(long, value_name = "DIR", env = pyship::cache::CACHE_DIR_ENV)]
        cache_dir: Option<PathBuf>,
    },
    /// Remove every cache entry.
    Clean {
        /// The cache directory [default: $XDG_CACHE_HOME/pyship or ~/.cache/pyship]
        #[arg(long, value_name = "DIR", env = pyship::cache::CACHE_DIR_ENV)]
        cache_dir: Option<PathBuf>,
    },
}

impl CacheCommand {
    /// The cache directory the command is about.
    pub fn dir(&self) -> Option<PathBuf> {
        match self {
            CacheCommand::Dir { cache_dir } | CacheCommand::Clean { cache_dir } => {
                cache_dir.clone().or_else(pyship::cache::default_dir)
            }
        }
    }
}

/// `pyship compile`
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Directories to walk (skipping `__pycache__`, not following symlinked directories) and
    /// `.py` files to compile.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Target interpreter: a path, a command (`python3.12`) or a version (`3.12`)
    #[arg(short, long = "python", value_name = "PY", default_value = "python3")]
    pub python: String,
    /// Optimize as `python -O` (drop asserts); `-OO` also drops docstrings.
    #[arg(short = 'O', action = ArgAction::Count, conflicts_with = "optimize")]
    pub optimize_flag: u8,
    /// Optimization level, as CPython's: 0, 1 or 2.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub optimize: Option<u8>,
    /// How the loader decides a pyc is stale [default: timestamp, or checked-hash when
    /// SOURCE_DATE_EPOCH is set, as py_compile]
    #[arg(long, value_enum)]
    pub invalidation_mode: Option<InvalidationArg>,
    /// Write `X.pyc` beside `X.py` instead of `__pycache__/X.<tag>.pyc` (`compileall -b`).
    #[arg(short = 'b', long)]
    pub legacy: bool,
    /// Worker processes [default: number of CPUs]
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// The compile cache.
    #[command(flatten)]
    pub cache: CacheArgs,
}

impl CompileArgs {
    /// Resolve flags and defaults into an [`InplaceConfig`].
    pub fn into_config(self) -> InplaceConfig {
        InplaceConfig {
            paths: self.paths,
            python: self.python,
            optimize: self.optimize.unwrap_or(self.optimize_flag.min(2)),
            invalidation: self
                .invalidation_mode
                .map_or_else(default_invalidation, Invalidation::from),
            legacy: self.legacy,
            jobs: self.jobs.map_or_else(
                || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
                |jobs| jobs.max(1),
            ),
            cache_dir: self.cache.dir(),
        }
    }
}

impl From<InvalidationArg> for Invalidation {
    fn from(mode: InvalidationArg) -> Invalidation {
        match mode {
            InvalidationArg::Timestamp => Invalidation::Timestamp,
            InvalidationArg::CheckedHash => Invalidation::CheckedHash,
            InvalidationArg::UncheckedHash => Invalidation::UncheckedHash,
        }
    }
}
