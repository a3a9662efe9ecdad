//! Command-line arguments. The only module that knows clap.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use pyship::bytecode::pyc::Invalidation;
use pyship::compile::Optimize;
use pyship::compile::native::BackendChoice;
use pyship::in_place::{InplaceConfig, default_invalidation};
use pyship::settings::{Flags, OutputFormat, Switch};

/// The heading of `-q`, `-v` and `--color` in every command's help, apart from its own options.
const GLOBAL_OPTIONS: &str = "Global options";

/// Turn a Python project into a bytecode-only distribution, compiled by the target CPython.
#[derive(Debug, Parser)]
#[command(name = "pyship", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Print no messages but errors: no progress bar, warnings, notes, size tables, summary
    /// or `cache clean` count (what goes to stdout is unchanged, but for `compile`, whose
    /// stdout is compileall's: `-q` keeps its errors only, `-qq` nothing).
    #[arg(
        short,
        long,
        global = true,
        action = ArgAction::Count,
        conflicts_with = "verbose",
        help_heading = GLOBAL_OPTIONS
    )]
    pub quiet: u8,
    /// `build` and `compile`: print each module as it is compiled, then the stage timings and
    /// the cache counts (the other commands have nothing more to say).
    #[arg(short, long, global = true, help_heading = GLOBAL_OPTIONS)]
    pub verbose: bool,
    /// When to use colors (NO_COLOR is honoured with `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, help_heading = GLOBAL_OPTIONS)]
    pub color: ColorChoice,
}

/// `--color`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// Colors on a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Compile a project (or convert a wheel) and write it as a directory, zip, wheel or zipapp.
    Build(Box<BuildArgs>),
    /// Compile sources in place: `python -m compileall`'s command line, faster.
    Compile(Box<CompileArgs>),
    /// Explain a `.pyc`, or list every module of a wheel, zip, zipapp or built directory with
    /// the file each target loads; never imports anything from it.
    Inspect {
        /// A `.pyc`, `.whl`, `.zip`, `.pyz` or directory.
        path: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Build an artifact again from its sources with the options it records, and list every
    /// file whose bytes differ (exit 1 if any).
    Verify(VerifyArgs),
    /// The compile cache: where it is, what it holds, prune it (least recently used first) or
    /// empty it.
    ///
    /// Entries are keyed by source bytes, target and options, not by path, so the same files
    /// at another path are hits. After a run that added entries, the cache is pruned to 90% of
    /// its cap once over it: 1 GiB, or PYSHIP_CACHE_MAX_SIZE (0 for none).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// List the CPythons pyship can target: on PATH, in pyenv and among uv's Pythons.
    ///
    /// `*` marks the default, `python3`, the target of `build` without `-p`.
    Pythons {
        /// Print a JSON list of objects: version, magic_number, cache_tag, executable, source
        /// (`path`, `pyenv` or `uv`), default.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script, e.g. `pyship completions bash > ~/.local/share/bash-completion/completions/pyship`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `pyship man > ~/.local/share/man/man1/pyship.1`.
    Man,
}

/// `--format`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// A directory tree.
    Dir,
    /// A zip archive usable on `sys.path`.
    Zip,
    /// A PEP 427 wheel (from a PEP 621 project, or converted from a wheel).
    Wheel,
    /// An executable zipapp (`NAME-cp3X.pyz`, PEP 441) that checks the Python version first.
    Zipapp,
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

/// `--backend`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// The target's own compiler, in worker processes.
    Cpython,
    /// pyship's compiler for Python 3.12 (the same bytes); a module it does not support goes
    /// to the target's CPython.
    Native,
    /// Native for the targets it compiles for (3.12), CPython for the others.
    Auto,
}

impl From<BackendArg> for BackendChoice {
    fn from(backend: BackendArg) -> BackendChoice {
        match backend {
            BackendArg::Cpython => BackendChoice::Cpython,
            BackendArg::Native => BackendChoice::Native,
            BackendArg::Auto => BackendChoice::Auto,
        }
    }
}

/// `pyship build`
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// The project directory, a directory of modules, a wheel to convert, or an sdist
    /// (`.tar.gz`, `.zip`) to build; several are built one after another with the same options
    #[arg(value_name = "SOURCE", default_value = ".")]
    pub sources: Vec<PathBuf>,
    /// Output format; repeat for several [default: wheel for a PEP 621 project or a wheel, dir
    /// otherwise]
    #[arg(short, long = "format", value_enum)]
    pub formats: Vec<FormatArg>,
    /// Where artifacts are written; never scanned as input [default: SOURCE/dist, or dist/
    /// beside a wheel SOURCE]
    #[arg(short, long)]
    pub out_dir: Option<PathBuf>,
    /// Target interpreter: a path, a command (`python3.12`) or a version (`3.12`); repeat for
    /// one artifact per target [default: python3]
    #[arg(short, long = "python", value_name = "PY")]
    pub pythons: Vec<String>,
    /// A target given by version alone (`3.12`), built without its interpreter by the native
    /// compiler (`--backend native` or `auto`); every module must be one it supports
    /// (repeatable, beside `-p`)
    #[arg(long = "target", value_name = "VERSION")]
    pub targets: Vec<String>,
    /// Who compiles: the target's CPython, pyship's native compiler for 3.12 (a module it
    /// does not support goes to CPython), or native where it can; the bytes are the same
    /// [default: cpython]
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// With the native backend: compile every module with CPython too and fail on any
    /// difference (the cache is not used)
    #[arg(long, overrides_with = "no_verify")]
    pub verify: bool,
    /// Trust the native backend, whatever `[tool.pyship]` says.
    #[arg(long, overrides_with = "verify")]
    pub no_verify: bool,
    /// Optimize as `python -O` (drop asserts); `-OO` also drops docstrings.
    #[arg(short = 'O', action = ArgAction::Count, conflicts_with = "optimize")]
    pub optimize_flag: u8,
    /// Optimization level, as CPython's: 0, 1 or 2.
    #[arg(long)]
    pub optimize: Option<Optimize>,
    /// Ship bytecode only: each `X.py` is replaced by `X.pyc`.
    #[arg(long, overrides_with = "no_strip_sources")]
    pub strip_sources: bool,
    /// Keep the sources, whatever `[tool.pyship]` says.
    #[arg(long, overrides_with = "strip_sources")]
    pub no_strip_sources: bool,
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
    #[arg(long, value_name = "PREFIX")]
    pub dfile_prefix: Option<String>,
    /// Worker processes per target [default: number of CPUs]
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Zipapp entry point, `module:function` (or `module`, run as `__main__`) [default: the
    /// single `[project.scripts]` entry, else a top-level `__main__.py`]
    #[arg(long, value_name = "MODULE:FUNC")]
    pub main: Option<String>,
    /// Zipapp interpreter line, without `#!` [default: `/usr/bin/env python3.X` for the target]
    #[arg(long, value_name = "COMMAND")]
    pub shebang: Option<String>,
    /// Install `[project.dependencies]` and the `-r` files with the target's pip and ship them
    /// compiled (dir, zip, zipapp; a wheel declares its dependencies instead).
    #[arg(long, overrides_with = "no_with_deps")]
    pub with_deps: bool,
    /// Ship the project alone, whatever `[tool.pyship]` says.
    #[arg(long, overrides_with = "with_deps")]
    pub no_with_deps: bool,
    /// Extra argument for `pip install` with `--with-deps` (repeatable), e.g.
    /// `--pip-arg=--no-index --pip-arg=--find-links=wheels/`.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub pip_arg: Vec<String>,
    /// A requirements file whose dependencies `--with-deps` installs too, for apps that list
    /// them there rather than in `[project.dependencies]` (repeatable).
    #[arg(short = 'r', long = "requirement", value_name = "FILE")]
    pub requirements: Vec<PathBuf>,
    /// The zipapp unpacks itself once into `~/.cache/pyship/apps/<hash>/` (XDG_CACHE_HOME) and
    /// runs from there: needed for native extensions (`.so`, `.pyd`).
    #[arg(long, overrides_with = "no_extract")]
    pub extract: bool,
    /// Run the zipapp from the archive, whatever `[tool.pyship]` says.
    #[arg(long, overrides_with = "extract")]
    pub no_extract: bool,
    /// Leave out what embedded bundles do not need: `tests/`, `test/`, `test_*.py`,
    /// `*_test.py`, `conftest.py`, `docs/`, `*.pyi`, `py.typed` (and `__pycache__/`, always),
    /// and the long description in each `.dist-info/METADATA`.
    #[arg(long, overrides_with = "no_slim")]
    pub slim: bool,
    /// Ship tests, docs and stubs too, whatever `[tool.pyship]` says.
    #[arg(long, overrides_with = "slim")]
    pub no_slim: bool,
    /// Write the build report (artifacts, per-package sizes, timings, warnings) as JSON.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Drop docstrings but keep asserts, at any optimize level (the code is what the target's
    /// own `-OO` gives, asserts aside).
    #[arg(long, overrides_with = "no_strip_docstrings")]
    pub strip_docstrings: bool,
    /// Keep docstrings, whatever `[tool.pyship]` says.
    #[arg(long, overrides_with = "strip_docstrings")]
    pub no_strip_docstrings: bool,
    /// Modules that keep their docstrings under `-OO` or `--strip-docstrings` (compiled at `-O`
    /// under `-OO`; gitignore-style pattern; repeatable).
    #[arg(long, value_name = "GLOB")]
    pub keep_docstrings: Vec<String>,
    /// Ship only the modules MODULE reaches by static imports (repeatable; dir, zip, zipapp).
    #[arg(long, value_name = "MODULE")]
    pub prune_from: Vec<String>,
    /// A module pruning keeps whatever imports it, for dynamic imports (repeatable).
    #[arg(long, value_name = "MODULE")]
    pub include: Vec<String>,
    /// Prune from the zipapp's entry point.
    #[arg(long, overrides_with = "no_prune")]
    pub prune: bool,
    /// Ship every module, whatever `[tool.pyship]` says.
    #[arg(long, overrides_with = "prune")]
    pub no_prune: bool,
    /// Print where every file would go, what is stripped or pruned; write nothing, start no
    /// worker.
    #[arg(long)]
    pub dry_run: bool,
    /// The compile cache.
    #[command(flatten)]
    pub cache: CacheArgs,
}

impl From<FormatArg> for OutputFormat {
    fn from(format: FormatArg) -> OutputFormat {
        match format {
            FormatArg::Dir => OutputFormat::Dir,
            FormatArg::Zip => OutputFormat::Zip,
            FormatArg::Wheel => OutputFormat::Wheel,
            FormatArg::Zipapp => OutputFormat::Zipapp,
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

impl BuildArgs {
    /// The command line as given, one [`Flags`] per SOURCE, for [`pyship::settings::resolve`]
    /// to merge with that SOURCE's `[tool.pyship]` and the defaults.
    pub(crate) fn into_flags(self) -> Vec<Flags> {
        let switch = |on, off| Switch { on, off };
        let flags = Flags {
            source: PathBuf::new(),
            formats: self.formats.into_iter().map(OutputFormat::from).collect(),
            out_dir: self.out_dir,
            pythons: self.pythons,
            targets: self.targets,
            backend: self.backend.map(BackendChoice::from),
            verify: switch(self.verify, self.no_verify),
            optimize: self.optimize,
            optimize_flags: self.optimize_flag,
            strip_sources: switch(self.strip_sources, self.no_strip_sources),
            keep_source: self.keep_source,
            exclude: self.exclude,
            invalidation: self.invalidation_mode.map(Invalidation::from),
            dfile_prefix: self.dfile_prefix,
            jobs: self.jobs,
            main: self.main,
            shebang: self.shebang,
            with_deps: switch(self.with_deps, self.no_with_deps),
            pip_args: self.pip_arg,
            requirements: self.requirements,
            extract: switch(self.extract, self.no_extract),
            slim: switch(self.slim, self.no_slim),
            report: self.report,
            cache_dir: self.cache.cache_dir,
            no_cache: self.cache.no_cache,
            strip_docstrings: switch(self.strip_docstrings, self.no_strip_docstrings),
            keep_docstrings: self.keep_docstrings,
            prune_from: self.prune_from,
            include: self.include,
            prune: switch(self.prune, self.no_prune),
            dry_run: self.dry_run,
        };
        self.sources
            .into_iter()
            .map(|source| Flags {
                source,
                ..flags.clone()
            })
            .collect()
    }
}

/// `pyship verify`
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The artifact pyship wrote: a wheel, zip, zipapp or directory.
    pub artifact: PathBuf,
    /// What it was built from: a project directory, a directory of modules, a wheel or an sdist.
    #[arg(long, value_name = "DIR")]
    pub source: PathBuf,
    /// Interpreter to rebuild with (repeatable) [default: the recorded version, found as
    /// `-p 3.X` finds it]
    #[arg(short, long = "python", value_name = "PY")]
    pub pythons: Vec<String>,
    /// Worker processes per target [default: number of CPUs]
    #[arg(short, long)]
    pub jobs: Option<usize>,
}

/// `--cache-dir`, `--no-cache`
#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
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
    pub(crate) fn dir(self) -> Option<PathBuf> {
        if self.no_cache {
            None
        } else {
            self.cache_dir.or_else(pyship::cache::default_dir)
        }
    }
}

/// `pyship cache`
#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Print the cache directory.
    Dir {
        /// The cache directory [default: $XDG_CACHE_HOME/pyship or ~/.cache/pyship]
        #[arg(long, value_name = "DIR", env = pyship::cache::CACHE_DIR_ENV)]
        cache_dir: Option<PathBuf>,
    },
    /// Print the location, the number of entries and their size, and the cap.
    Info {
        /// The cache directory [default: $XDG_CACHE_HOME/pyship or ~/.cache/pyship]
        #[arg(long, value_name = "DIR", env = pyship::cache::CACHE_DIR_ENV)]
        cache_dir: Option<PathBuf>,
        /// Print one JSON object: dir, entries, bytes, outdated, records, max_size.
        #[arg(long)]
        json: bool,
    },
    /// Remove the least recently used entries: down to the cap without options, else those
    /// beyond `--max-size` or unused for `--older-than`; entries of an older format always.
    ///
    /// After a build or compile that added entries, pyship prunes to 90% of the cap by itself
    /// once the cache is over it. The cap is 1 GiB unless PYSHIP_CACHE_MAX_SIZE says otherwise
    /// (a size such as 500M or 2G; 0 for none).
    Prune {
        /// The cache directory [default: $XDG_CACHE_HOME/pyship or ~/.cache/pyship]
        #[arg(long, value_name = "DIR", env = pyship::cache::CACHE_DIR_ENV)]
        cache_dir: Option<PathBuf>,
        /// Keep at most this much, the most recently used first: bytes, or with a unit K, M, G
        /// (powers of 1000) or Ki, Mi, Gi (of 1024), e.g. 500M
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_size: Option<u64>,
        /// Remove the entries not used for this many days (decimals allowed)
        #[arg(long, value_name = "DAYS", value_parser = parse_days)]
        older_than: Option<std::time::Duration>,
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
    pub(crate) fn dir(&self) -> Option<PathBuf> {
        match self {
            CacheCommand::Dir { cache_dir }
            | CacheCommand::Info { cache_dir, .. }
            | CacheCommand::Prune { cache_dir, .. }
            | CacheCommand::Clean { cache_dir } => {
                cache_dir.clone().or_else(pyship::cache::default_dir)
            }
        }
    }
}

/// `--max-size`
fn parse_size(text: &str) -> Result<u64, String> {
    pyship::cache::parse_size(text).map_err(str::to_owned)
}

/// `--older-than`: days, as a duration.
fn parse_days(text: &str) -> Result<std::time::Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|days| days.is_finite() && *days >= 0.0 && *days < 1e9)
        .map(|days| std::time::Duration::from_secs_f64(days * 86_400.0))
        .ok_or_else(|| "expected a number of days, such as 30 or 0.5".to_owned())
}

/// `pyship compile`: compileall's command line (`python -m compileall --help`), with the
/// target interpreter and pyship's cache options beside it.
#[derive(Debug, Args)]
pub(crate) struct CompileArgs {
    /// Files and directories to compile; directories are walked as compileall walks them
    /// [default: the target's sys.path, each without recursing]
    #[arg(value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Target interpreter: a path, a command (`python3.12`) or a version (`3.12`)
    /// [default: python3]
    #[arg(long = "python", value_name = "PY")]
    pub python: Option<String>,
    /// The target interpreter, as `--python`; but compileall's PREPENDDIR (a path prefixed to
    /// each recorded source path, after `-s`) when `--python` is given too, or when the value
    /// is a directory, or a path (with a `/`) that is not a file. The last of each kind wins.
    #[arg(short = 'p', value_name = "PY|PREPENDDIR")]
    pub short_p: Vec<String>,
    /// Optimize as `python -O` (drop asserts); `-OO` also drops docstrings. What compileall's
    /// `-o -1` (its default) means.
    #[arg(short = 'O', action = ArgAction::Count, conflicts_with = "optimize")]
    pub optimize_flag: u8,
    /// Optimization level, as CPython's: 0, 1 or 2 (same as `-O`/`-OO`).
    #[arg(long)]
    pub optimize: Option<Optimize>,
    /// Optimization level to compile with; repeat for one pyc per level (-1 is `-O`'s level)
    #[arg(short = 'o', value_name = "LEVEL", value_parser = python_int, allow_hyphen_values = true)]
    pub opt_levels: Vec<i64>,
    /// Do not recurse into subdirectories.
    #[arg(short = 'l')]
    pub no_recursion: bool,
    /// The maximum recursion level (wins over `-l`) [default: 1000; 10 for 3.8]
    #[arg(short = 'r', value_name = "N", value_parser = python_int, allow_hyphen_values = true)]
    pub recursion: Option<i64>,
    /// Rewrite every pyc, even those that are up to date.
    #[arg(short = 'f')]
    pub force: bool,
    /// Directory prepended to the recorded source paths (tracebacks show it); not with `-s`
    /// or PREPENDDIR.
    #[arg(short = 'd', value_name = "DESTDIR")]
    pub ddir: Option<String>,
    /// Prefix stripped from the recorded source paths, e.g. a build root (3.9+).
    #[arg(short = 's', value_name = "STRIPDIR")]
    pub stripdir: Option<String>,
    /// Skip the files whose path matches this regular expression (searched anywhere in it).
    #[arg(short = 'x', value_name = "REGEXP")]
    pub exclude: Option<String>,
    /// Also compile the files and directories listed in FILE, one a line (`-` reads stdin).
    #[arg(short = 'i', value_name = "FILE")]
    pub file_list: Option<String>,
    /// Skip symlinks whose target is not under DIR (3.9+).
    #[arg(short = 'e', value_name = "DIR")]
    pub limit_sl_dest: Option<String>,
    /// Hardlink the pycs of several `-o` levels when their bytes are equal (3.9+).
    #[arg(long)]
    pub hardlink_dupes: bool,
    /// How the loader decides a pyc is stale [default: timestamp, or checked-hash when
    /// SOURCE_DATE_EPOCH is set, as py_compile]
    #[arg(long, value_enum)]
    pub invalidation_mode: Option<InvalidationArg>,
    /// Write `X.pyc` beside `X.py` instead of `__pycache__/X.<tag>.pyc`.
    #[arg(short = 'b', long)]
    pub legacy: bool,
    /// Who compiles: the target's CPython, pyship's native compiler for 3.12 (a module it
    /// does not support goes to CPython), or native where it can; the bytes are the same
    #[arg(long, value_enum, default_value_t = BackendArg::Cpython)]
    pub backend: BackendArg,
    /// Worker processes; 0 is the number of CPUs [default: number of CPUs]
    #[arg(short, long, visible_alias = "workers", value_parser = python_int, allow_hyphen_values = true)]
    pub jobs: Option<i64>,
    /// The compile cache.
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// An integer as Python's `int(text)` reads it: surrounding whitespace allowed, so that
/// compileall's `-r 0` given as one argument (as CPython's tests do) means 0.
fn python_int(text: &str) -> Result<i64, String> {
    text.trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("invalid int value: '{text}'"))
}

impl CompileArgs {
    /// Resolve flags and defaults into an [`InplaceConfig`].
    pub(crate) fn into_config(self, quiet: u8) -> InplaceConfig {
        let (python, prependdir) = split_short_p(self.python, self.short_p);
        InplaceConfig {
            paths: self.paths,
            file_list: self.file_list,
            python,
            optimize: self
                .optimize
                .unwrap_or_else(|| Optimize::from_flag_count(self.optimize_flag)),
            opt_levels: self.opt_levels,
            invalidation: self
                .invalidation_mode
                .map_or_else(default_invalidation, Invalidation::from),
            legacy: self.legacy,
            force: self.force,
            max_levels: self.recursion.or_else(|| self.no_recursion.then_some(0)),
            exclude: self.exclude,
            ddir: self.ddir,
            stripdir: self.stripdir,
            prependdir,
            // compileall: `-e ""` is no limit.
            limit_sl_dest: self.limit_sl_dest.filter(|dir| !dir.is_empty()),
            hardlink_dupes: self.hardlink_dupes,
            pycache_prefix: std::env::var_os("PYTHONPYCACHEPREFIX")
                .filter(|prefix| !prefix.is_empty())
                .map(PathBuf::from),
            quiet,
            jobs: self.jobs.map_or_else(
                || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
                |jobs| match usize::try_from(jobs) {
                    // compileall's -j0: as many as there are CPUs.
                    Ok(0) => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
                    Ok(jobs) => jobs,
                    Err(_) => 0,
                },
            ),
            cache_dir: self.cache.dir(),
            backend: self.backend.into(),
        }
    }
}

/// The target interpreter and compileall's PREPENDDIR from `--python` and the `-p`s (see
/// `CompileArgs::short_p`): `-p` is pyship's interpreter where that is what it can mean.
fn split_short_p(python: Option<String>, short_p: Vec<String>) -> (String, Option<String>) {
    if let Some(python) = python {
        return (python, short_p.into_iter().last());
    }
    let (mut interpreter, mut prependdir) = (None, None);
    for value in short_p {
        let path = std::path::Path::new(&value);
        if path.is_dir() || (value.contains(std::path::MAIN_SEPARATOR) && !path.is_file()) {
            prependdir = Some(value);
        } else {
            interpreter = Some(value);
        }
    }
    (
        interpreter.unwrap_or_else(|| "python3".to_owned()),
        prependdir,
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn build_args(source: &std::path::Path, args: &[&str]) -> BuildArgs {
        let source = source.to_str().unwrap();
        let cli = Cli::try_parse_from(["pyship", "build", source].iter().chain(args)).unwrap();
        match cli.command {
            Command::Build(args) => *args,
            _ => unreachable!("parsed a build"),
        }
    }

    #[test]
    fn short_p_is_the_interpreter_unless_it_can_only_be_a_prependdir() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_str().unwrap().to_owned();
        let file = temp.path().join("python3.12");
        fs_err::write(&file, "").unwrap();
        let file = file.to_str().unwrap().to_owned();
        let split = |python: Option<&str>, short: &[&str]| {
            split_short_p(
                python.map(str::to_owned),
                short.iter().map(|value| (*value).to_owned()).collect(),
            )
        };
        let python =
            |spec: &str, prepend: Option<&str>| (spec.to_owned(), prepend.map(str::to_owned));
        assert_eq!(split(None, &[]), python("python3", None));
        assert_eq!(split(None, &["3.12"]), python("3.12", None));
        assert_eq!(split(None, &["python3.12"]), python("python3.12", None));
        assert_eq!(split(None, &[&file]), python(&file, None));
        assert_eq!(split(None, &["/foo"]), python("python3", Some("/foo")));
        assert_eq!(split(None, &[&dir]), python("python3", Some(&dir)));
        assert_eq!(split(None, &["3.9", "/"]), python("3.9", Some("/")));
        assert_eq!(split(Some("3.11"), &["3.12"]), python("3.11", Some("3.12")));
        // Parsed as such: `-r 0` in one argument is 0, as Python's int() reads it.
        let cli =
            Cli::try_parse_from(["pyship", "compile", "-r 0", "-o", "-1", "-p", "/foo"]).unwrap();
        let Command::Compile(args) = cli.command else {
            unreachable!("parsed a compile")
        };
        assert_eq!((args.recursion, &args.opt_levels[..]), (Some(0), &[-1][..]));
        assert_eq!(args.short_p, ["/foo"]);
    }

    #[test]
    fn the_last_of_a_switch_and_its_no_form_wins_over_the_tool_table() {
        let temp = tempfile::tempdir().unwrap();
        for (args, tool, expected) in [
            (&[][..], None, false),
            (&[][..], Some(true), true),
            (&["--strip-sources"][..], Some(false), true),
            (&["--no-strip-sources"][..], Some(true), false),
            (&["--strip-sources", "--no-strip-sources"][..], None, false),
            (
                &["--no-strip-sources", "--strip-sources"][..],
                Some(false),
                true,
            ),
        ] {
            let table = tool.map_or_else(String::new, |on: bool| {
                format!("[tool.pyship]\nstrip-sources = {on}\n")
            });
            fs_err::write(temp.path().join("pyproject.toml"), table).unwrap();
            let config =
                pyship::settings::resolve(build_args(temp.path(), args).into_flags().remove(0))
                    .unwrap();
            assert_eq!(
                config.placement == pyship::settings::Placement::Replace,
                expected,
                "{args:?} with {tool:?}"
            );
        }
    }
}
