//! Command-line arguments. The only module that knows clap.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use pyship::bytecode::pyc::Invalidation;
use pyship::compile::Optimize;
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
    /// or `cache clean` count (what goes to stdout is unchanged).
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = GLOBAL_OPTIONS
    )]
    pub quiet: bool,
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
    /// Compile sources in place, like `python -m compileall` but faster.
    Compile(CompileArgs),
    /// Show or empty the compile cache.
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
            CacheCommand::Dir { cache_dir } | CacheCommand::Clean { cache_dir } => {
                cache_dir.clone().or_else(pyship::cache::default_dir)
            }
        }
    }
}

/// `pyship compile`
#[derive(Debug, Args)]
pub(crate) struct CompileArgs {
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
    #[arg(long)]
    pub optimize: Option<Optimize>,
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
    pub(crate) fn into_config(self) -> InplaceConfig {
        InplaceConfig {
            paths: self.paths,
            python: self.python,
            optimize: self
                .optimize
                .unwrap_or_else(|| Optimize::from_flag_count(self.optimize_flag)),
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
