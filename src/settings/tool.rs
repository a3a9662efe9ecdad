//! `pyproject.toml` read once per build ([`Pyproject`]), its `[tool.pyship]` table parsed
//! ([`ToolConfig`]) and merged with the command line ([`Flags`]) and the defaults into a
//! [`Config`] by [`resolve`]: the command line wins over the table, the table over the defaults.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Deserializer};

use super::{
    AnalysisOptions, BundleOptions, Config, OutputFormat, Placement, is_sdist, is_wheel,
    source_date_epoch_from_env,
};
use crate::bytecode::pyc::Invalidation;
use crate::compile::Optimize;
use crate::compile::native::BackendChoice;

/// Why the options could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Reading `pyproject.toml` or the project directory failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Not TOML, or `[tool.pyship]` has an unknown key or a value of the wrong type.
    #[error("Failed to parse `{}`", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        err: toml::de::Error,
    },
    /// A path named by an option climbs out of the project: it would name nothing pyship
    /// ships, or let an untrusted project hand pip a host file.
    #[error("`{key}` points outside the project: `{}`", path.display())]
    Outside {
        /// The option naming it, e.g. `tool.pyship.pip-arg` or `--keep-source`.
        key: String,
        /// The path as written.
        path: PathBuf,
    },
}

impl SettingsError {
    /// What the user can do about it, printed as a `hint:` line under the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            SettingsError::Outside { key, .. }
                if key == "tool.pyship.out-dir" || key == "tool.pyship.cache-dir" =>
            {
                let flag = key.trim_start_matches("tool.pyship.");
                Some(format!(
                    "to write outside the project, pass `--{flag}` on the command line"
                ))
            }
            _ => None,
        }
    }
}

/// A project's `pyproject.toml` as read, once per build: the later stages parse what they need
/// of it from here.
#[derive(Clone, PartialEq, Eq)]
pub struct Pyproject {
    /// `SOURCE/pyproject.toml`.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

impl Pyproject {
    /// Read `dir/pyproject.toml`, or `None` when the file does not exist.
    pub fn read(dir: &Path) -> Result<Option<Pyproject>, SettingsError> {
        let path = dir.join("pyproject.toml");
        if !path.is_file() {
            return Ok(None);
        }
        let text = fs_err::read_to_string(&path)?;
        Ok(Some(Pyproject { path, text }))
    }
}

impl std::fmt::Debug for Pyproject {
    /// The path only: the text would flood any debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pyproject")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The `pyship build` command line as given: nothing defaulted, nothing resolved.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// The project directory, or a wheel to convert.
    pub source: PathBuf,
    /// `--format`, in order given.
    pub formats: Vec<OutputFormat>,
    /// `--out-dir`.
    pub out_dir: Option<PathBuf>,
    /// `--python`.
    pub pythons: Vec<String>,
    /// `--target`.
    pub targets: Vec<String>,
    /// `--backend`.
    pub backend: Option<BackendChoice>,
    /// `--verify`, `--no-verify`.
    pub verify: Switch,
    /// `--optimize`.
    pub optimize: Option<Optimize>,
    /// How many `-O` were given.
    pub optimize_flags: u8,
    /// `--strip-sources`, `--no-strip-sources`.
    pub strip_sources: Switch,
    /// `--keep-source`.
    pub keep_source: Vec<String>,
    /// `--exclude`.
    pub exclude: Vec<String>,
    /// `--invalidation-mode`.
    pub invalidation: Option<Invalidation>,
    /// `--dfile-prefix`.
    pub dfile_prefix: Option<String>,
    /// `--jobs`.
    pub jobs: Option<usize>,
    /// `--main`.
    pub main: Option<String>,
    /// `--shebang`.
    pub shebang: Option<String>,
    /// `--with-deps`, `--no-with-deps`.
    pub with_deps: Switch,
    /// `--pip-arg`.
    pub pip_args: Vec<String>,
    /// `-r/--requirement`.
    pub requirements: Vec<PathBuf>,
    /// `--extract`, `--no-extract`.
    pub extract: Switch,
    /// `--slim`, `--no-slim`.
    pub slim: Switch,
    /// `--report`.
    pub report: Option<PathBuf>,
    /// `--cache-dir` (or its environment variable).
    pub cache_dir: Option<PathBuf>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--strip-docstrings`, `--no-strip-docstrings`.
    pub strip_docstrings: Switch,
    /// `--keep-docstrings`.
    pub keep_docstrings: Vec<String>,
    /// `--prune-from`.
    pub prune_from: Vec<String>,
    /// `--include`.
    pub include: Vec<String>,
    /// `--prune`, `--no-prune`.
    pub prune: Switch,
    /// `--dry-run`.
    pub dry_run: bool,
}

/// A boolean option's two flags, `--X` and `--no-X`; the parser keeps only the last one given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Switch {
    /// `--X`.
    pub on: bool,
    /// `--no-X`.
    pub off: bool,
}

impl Switch {
    /// `--X` or `--no-X` on the command line, else `[tool.pyship]`, else off.
    fn or(self, tool: Option<bool>) -> bool {
        self.on || (!self.off && tool == Some(true))
    }
}

/// Resolve `flags`, the `[tool.pyship]` table of SOURCE's `pyproject.toml` and the defaults
/// into a [`Config`]: the command line wins over the table, the table over the defaults. The
/// file is read here, once, and kept in [`Config::pyproject`]; a wheel SOURCE has none.
pub fn resolve(flags: Flags) -> Result<Config, SettingsError> {
    // A wheel's or an sdist's own metadata is read by the source stage.
    let pyproject = if is_wheel(&flags.source) || is_sdist(&flags.source) {
        None
    } else {
        Pyproject::read(&flags.source)?
    };
    let tool = match &pyproject {
        Some(pyproject) => ToolConfig::parse(&flags.source, pyproject)?,
        None => ToolConfig::default(),
    };
    let mut config = Config::new(&flags.source);
    if let Some(out_dir) = flags.out_dir {
        config.out_dir = out_dir;
    } else if let Some(out_dir) = tool.out_dir {
        config.out_dir = confine_written(&flags.source, "out-dir", out_dir)?;
    }
    let mut formats: Vec<OutputFormat> = Vec::new();
    let chosen = if flags.formats.is_empty() {
        tool.format.unwrap_or_default()
    } else {
        flags.formats
    };
    for format in chosen {
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    config.formats = formats;
    // Targets on the command line, with or without an interpreter, replace the table's.
    let (pythons, targets) = if flags.pythons.is_empty() && flags.targets.is_empty() {
        (
            tool.python.unwrap_or_default(),
            tool.target.unwrap_or_default(),
        )
    } else {
        (flags.pythons, flags.targets)
    };
    if !pythons.is_empty() || !targets.is_empty() {
        config.pythons = pythons;
    }
    config.targets = targets;
    config.backend = flags.backend.or(tool.backend).unwrap_or_default();
    config.verify = flags.verify.or(tool.verify);
    config.optimize = flags
        .optimize
        .or((flags.optimize_flags > 0).then(|| Optimize::from_flag_count(flags.optimize_flags)))
        .or(tool.optimize)
        .unwrap_or_default();
    if flags.strip_sources.or(tool.strip_sources) {
        config.placement = Placement::Replace;
    }
    let (keep_source, key) = if flags.keep_source.is_empty() {
        (
            tool.keep_source.unwrap_or_default(),
            "tool.pyship.keep-source",
        )
    } else {
        (flags.keep_source, "--keep-source")
    };
    config.keep_source = inside_patterns(keep_source, key)?;
    config.exclude = tool.exclude.unwrap_or_default();
    config.exclude.extend(flags.exclude);
    config.invalidation = flags.invalidation.or(tool.invalidation_mode);
    config.dfile_prefix = flags.dfile_prefix.or(tool.dfile_prefix).unwrap_or_default();
    if let Some(jobs) = flags.jobs.or(tool.jobs) {
        config.jobs = jobs.max(1);
    }
    config.source_date_epoch = source_date_epoch_from_env();
    config.bundle = BundleOptions {
        main: flags.main.or(tool.main),
        shebang: flags.shebang.or(tool.shebang),
        with_deps: flags.with_deps.or(tool.with_deps),
        pip_args: if flags.pip_args.is_empty() {
            confine_pip_files(&flags.source, tool.pip_arg.unwrap_or_default())?
        } else {
            flags.pip_args
        },
        requirements: if flags.requirements.is_empty() {
            confine_requirements(&flags.source, tool.requirement.unwrap_or_default())?
        } else {
            flags.requirements
        },
        extract: flags.extract.or(tool.extract),
        slim: flags.slim.or(tool.slim),
        report: flags.report.or(tool.report),
    };
    // `--verify` proves every module: none may come from the cache.
    config.cache_dir = if flags.no_cache || tool.no_cache == Some(true) || config.verify {
        None
    } else {
        match (flags.cache_dir, tool.cache_dir) {
            (Some(dir), _) => Some(dir),
            (None, Some(dir)) => Some(confine_written(&flags.source, "cache-dir", dir)?),
            (None, None) => crate::cache::default_dir(),
        }
    };
    config.packages = tool.packages;
    let keep_docstrings = if flags.keep_docstrings.is_empty() {
        inside_patterns(
            tool.keep_docstrings.unwrap_or_default(),
            "tool.pyship.keep-docstrings",
        )?
    } else {
        inside_patterns(flags.keep_docstrings, "--keep-docstrings")?
    };
    config.analysis = AnalysisOptions {
        strip_docstrings: flags.strip_docstrings.or(tool.strip_docstrings),
        keep_docstrings,
        prune_from: if flags.prune_from.is_empty() {
            tool.prune_from.unwrap_or_default()
        } else {
            flags.prune_from
        },
        include: if flags.include.is_empty() {
            tool.include.unwrap_or_default()
        } else {
            flags.include
        },
        prune: flags.prune.or(tool.prune),
    };
    config.dry_run = flags.dry_run;
    config.pyproject = pyproject.map(Arc::new);
    Ok(config)
}

/// `patterns`, given by `key`, if none climbs out of the project: patterns match paths inside it
/// only, so one that climbs out names nothing pyship ships, and is refused rather than silently
/// matching nothing.
fn inside_patterns(patterns: Vec<String>, key: &str) -> Result<Vec<String>, SettingsError> {
    match patterns
        .iter()
        .find(|pattern| pattern.split(['/', '\\']).any(|part| part == ".."))
    {
        Some(pattern) => Err(SettingsError::Outside {
            key: key.to_owned(),
            path: pattern.into(),
        }),
        None => Ok(patterns),
    }
}

/// `key`'s `path` from `[tool.pyship]`, a place pyship writes to, resolved against the project
/// `source` and kept inside it like the report: an untrusted project must not overwrite a host
/// file with its artifact or fill a host directory with cache entries. The same option on the
/// command line is free.
fn confine_written(source: &Path, key: &str, path: PathBuf) -> Result<PathBuf, SettingsError> {
    crate::support::paths::confine_for_writing(source, &path)?.ok_or_else(|| {
        SettingsError::Outside {
            key: format!("tool.pyship.{key}"),
            path,
        }
    })
}

/// `requirement` from `[tool.pyship]`: files inside the project, resolved against it (a project
/// may not hand pip a host file).
fn confine_requirements(source: &Path, files: Vec<String>) -> Result<Vec<PathBuf>, SettingsError> {
    files
        .into_iter()
        .map(
            |file| match crate::support::paths::confine(source, Path::new(&file))? {
                Some(path) => Ok(path),
                None => Err(SettingsError::Outside {
                    key: "tool.pyship.requirement".to_owned(),
                    path: file.into(),
                }),
            },
        )
        .collect()
}

/// pip options that read a local file: requirements and constraints.
const PIP_FILE_OPTIONS: &[&str] = &["-r", "--requirement", "-c", "--constraint"];

/// `pip-arg` from `[tool.pyship]`: the files it names for pip to read (`-r FILE`,
/// `--constraint=FILE`, ...) must be inside the project, and are resolved against it, as the
/// table's other paths are (pip would resolve them against the working directory).
fn confine_pip_files(source: &Path, args: Vec<String>) -> Result<Vec<String>, SettingsError> {
    let confine = |file: &str| match crate::support::paths::confine(source, Path::new(file))? {
        Some(path) => Ok(path.to_string_lossy().into_owned()),
        None => Err(SettingsError::Outside {
            key: "tool.pyship.pip-arg".to_owned(),
            path: file.into(),
        }),
    };
    let mut confined = Vec::with_capacity(args.len());
    let mut names_file = false;
    for arg in args {
        if std::mem::take(&mut names_file) {
            confined.push(confine(&arg)?);
        } else if PIP_FILE_OPTIONS.contains(&arg.as_str()) {
            names_file = true;
            confined.push(arg);
        } else if let Some((option, file)) = arg.split_once('=')
            && PIP_FILE_OPTIONS.contains(&option)
        {
            confined.push(format!("{option}={}", confine(file)?));
        } else if let Some(file) = ["-r", "-c"]
            .iter()
            .find_map(|option| arg.strip_prefix(option))
            .filter(|file| !file.is_empty() && !arg.starts_with("--"))
        {
            confined.push(format!("{}{}", &arg[..2], confine(file)?));
        } else {
            confined.push(arg);
        }
    }
    Ok(confined)
}

#[derive(Debug, Deserialize)]
struct ToolFile {
    #[serde(default)]
    tool: Tools,
}

#[derive(Debug, Default, Deserialize)]
struct Tools {
    #[serde(default)]
    pyship: ToolConfig,
}

/// `[tool.pyship]`: defaults for every `pyship build` option; the command line wins. Every
/// field is `None` when not set. Paths are resolved against the project directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ToolConfig {
    /// `format`: a string or a list of `dir`, `zip`, `wheel`, `zipapp`.
    #[serde(default, deserialize_with = "formats")]
    pub format: Option<Vec<OutputFormat>>,
    /// `out-dir`.
    pub out_dir: Option<PathBuf>,
    /// `python`: a string or a list of target interpreters.
    #[serde(default, deserialize_with = "one_or_many")]
    pub python: Option<Vec<String>>,
    /// `target`: a version or a list of versions built without an interpreter.
    #[serde(default, deserialize_with = "one_or_many")]
    pub target: Option<Vec<String>>,
    /// `backend`: `cpython`, `native` or `auto`.
    pub backend: Option<BackendChoice>,
    /// `verify`: compile natively compiled modules with CPython too and compare.
    pub verify: Option<bool>,
    /// `optimize`: 0, 1 or 2.
    #[serde(default, deserialize_with = "optimize")]
    pub optimize: Option<Optimize>,
    /// `strip-sources`.
    pub strip_sources: Option<bool>,
    /// `keep-source`: a glob or a list of globs.
    #[serde(default, deserialize_with = "one_or_many")]
    pub keep_source: Option<Vec<String>>,
    /// `exclude`: a glob or a list of globs.
    #[serde(default, deserialize_with = "one_or_many")]
    pub exclude: Option<Vec<String>>,
    /// `invalidation-mode`: `timestamp`, `checked-hash` or `unchecked-hash`.
    pub invalidation_mode: Option<Invalidation>,
    /// `main`: `module:function` for zipapps.
    pub main: Option<String>,
    /// `with-deps`.
    pub with_deps: Option<bool>,
    /// `shebang`: the zipapp's interpreter line, without `#!`.
    pub shebang: Option<String>,
    /// `extract`: the zipapp unpacks itself before running.
    pub extract: Option<bool>,
    /// `slim`: leave out tests, docs, stubs and markers.
    pub slim: Option<bool>,
    /// `pip-arg`: a string or a list of extra pip arguments.
    #[serde(default, deserialize_with = "one_or_many")]
    pub pip_arg: Option<Vec<String>>,
    /// `requirement`: a requirements file or a list of them, inside the project.
    #[serde(default, deserialize_with = "one_or_many")]
    pub requirement: Option<Vec<String>>,
    /// `jobs`: at least 1.
    #[serde(default, deserialize_with = "jobs")]
    pub jobs: Option<usize>,
    /// `cache-dir`.
    pub cache_dir: Option<PathBuf>,
    /// `no-cache`.
    pub no_cache: Option<bool>,
    /// `report`: where the JSON report goes.
    pub report: Option<PathBuf>,
    /// `dfile-prefix`.
    pub dfile_prefix: Option<String>,
    /// `packages`: package directories or module files, relative to the project, that a
    /// project wheel ships instead of the packages it would discover.
    #[serde(default, deserialize_with = "one_or_many")]
    pub packages: Option<Vec<String>>,
    /// `strip-docstrings`.
    pub strip_docstrings: Option<bool>,
    /// `keep-docstrings`: a glob or a list of globs.
    #[serde(default, deserialize_with = "one_or_many")]
    pub keep_docstrings: Option<Vec<String>>,
    /// `prune-from`: a module or a list of modules.
    #[serde(default, deserialize_with = "one_or_many")]
    pub prune_from: Option<Vec<String>>,
    /// `include`: modules pruning keeps.
    #[serde(default, deserialize_with = "one_or_many")]
    pub include: Option<Vec<String>>,
    /// `prune`.
    pub prune: Option<bool>,
}

impl ToolConfig {
    /// `[tool.pyship]` of `pyproject`, the file of the project in `dir`: all `None` when the
    /// table is absent; an unknown key or a bad value is an error naming it. `report` is
    /// resolved against `dir`; `out-dir` and `cache-dir` are kept as written, for [`resolve`]
    /// to confine if no flag overrides them.
    pub fn parse(dir: &Path, pyproject: &Pyproject) -> Result<ToolConfig, SettingsError> {
        let file: ToolFile =
            toml::from_str(&pyproject.text).map_err(|err| SettingsError::Toml {
                path: pyproject.path.clone(),
                err,
            })?;
        let mut tool = file.tool.pyship;
        // The report overwrites whatever file it names: a project (say, an untrusted pull request
        // built in CI) may only name one inside itself. `--report` on the command line is free.
        if let Some(report) = &mut tool.report {
            *report = crate::support::paths::confine(dir, report)?.ok_or_else(|| {
                SettingsError::Outside {
                    key: "tool.pyship.report".to_owned(),
                    path: report.clone(),
                }
            })?;
        }
        Ok(tool)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for Vec<String> {
    fn from(value: OneOrMany) -> Self {
        match value {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    use serde::de::Error;
    let value = OneOrMany::deserialize(d)
        .map_err(|_| D::Error::custom("expected a string or a list of strings"))?;
    Ok(Some(value.into()))
}

fn formats<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<OutputFormat>>, D::Error> {
    use serde::de::Error;
    let names: Vec<String> = one_or_many(d)?.unwrap_or_default();
    let mut formats = Vec::new();
    for name in names {
        let format = match name.as_str() {
            "dir" => OutputFormat::Dir,
            "zip" => OutputFormat::Zip,
            "wheel" => OutputFormat::Wheel,
            "zipapp" => OutputFormat::Zipapp,
            _ => {
                return Err(D::Error::custom(format!(
                    "unknown format `{name}`, expected `dir`, `zip`, `wheel` or `zipapp`"
                )));
            }
        };
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    Ok(Some(formats))
}

fn optimize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Optimize>, D::Error> {
    use serde::de::Error;
    Optimize::from_level(i64::deserialize(d)?)
        .map(Some)
        .map_err(D::Error::custom)
}

fn jobs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    use serde::de::Error;
    let jobs = i64::deserialize(d)?;
    match usize::try_from(jobs) {
        Ok(jobs) if jobs > 0 => Ok(Some(jobs)),
        _ => Err(D::Error::custom(format!(
            "jobs must be at least 1, not {jobs}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }

    /// The error and its sources, one per line, with the temp dir replaced.
    fn chain(err: &dyn std::error::Error, temp: &Path) -> String {
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(err) = source {
            let _ = write!(text, "\n  Caused by: {err}");
            source = err.source();
        }
        text.replace(&temp.display().to_string(), "[TEMP]")
    }

    /// `[tool.pyship]` of the project in `dir` as a build parses it: all `None` without a file.
    fn tool_config(dir: &Path) -> Result<ToolConfig, SettingsError> {
        match Pyproject::read(dir)? {
            Some(pyproject) => ToolConfig::parse(dir, &pyproject),
            None => Ok(ToolConfig::default()),
        }
    }

    fn flags(source: &Path) -> Flags {
        Flags {
            source: source.to_path_buf(),
            ..Flags::default()
        }
    }

    const TABLE: &str = r#"
[project]
name = "spam"
version = "1"

[tool.black]
line-length = 100

[tool.pyship]
format = "wheel"
python = ["3.11", "3.12"]
optimize = 2
strip-sources = true
keep-source = "spam/_version.py"
exclude = ["*.md", "tests/"]
invalidation-mode = "unchecked-hash"
jobs = 4
main = "spam.cli:main"
with-deps = false
shebang = "/usr/bin/python3"
extract = true
slim = true
pip-arg = ["--no-binary", ":all:"]
dfile-prefix = "site/"
out-dir = "wheels"
packages = ["src/spam"]
"#;

    #[test]
    fn loads_tool_config_and_resolves_paths() {
        let temp = tempfile::tempdir().unwrap();
        write(temp.path(), "pyproject.toml", TABLE);
        let tool = tool_config(temp.path()).unwrap();
        assert_eq!(
            tool,
            ToolConfig {
                format: Some(vec![OutputFormat::Wheel]),
                out_dir: Some("wheels".into()),
                python: Some(vec!["3.11".to_owned(), "3.12".to_owned()]),
                optimize: Some(Optimize::Two),
                strip_sources: Some(true),
                keep_source: Some(vec!["spam/_version.py".to_owned()]),
                exclude: Some(vec!["*.md".to_owned(), "tests/".to_owned()]),
                invalidation_mode: Some(Invalidation::UncheckedHash),
                jobs: Some(4),
                main: Some("spam.cli:main".to_owned()),
                with_deps: Some(false),
                shebang: Some("/usr/bin/python3".to_owned()),
                extract: Some(true),
                slim: Some(true),
                pip_arg: Some(vec!["--no-binary".to_owned(), ":all:".to_owned()]),
                dfile_prefix: Some("site/".to_owned()),
                packages: Some(vec!["src/spam".to_owned()]),
                ..ToolConfig::default()
            }
        );
    }

    #[test]
    fn no_pyproject_or_no_tool_table() {
        let temp = tempfile::tempdir().unwrap();
        assert_eq!(Pyproject::read(temp.path()).unwrap(), None);
        assert_eq!(tool_config(temp.path()).unwrap(), ToolConfig::default());
        write(
            temp.path(),
            "pyproject.toml",
            "[tool.ruff]\nline-length = 88\n",
        );
        assert_eq!(tool_config(temp.path()).unwrap(), ToolConfig::default());
    }

    #[test]
    fn tool_config_names_unknown_keys_and_bad_values() {
        let temp = tempfile::tempdir().unwrap();
        let check = |body: &str, expected: &str| {
            write(
                temp.path(),
                "pyproject.toml",
                &format!("[tool.pyship]\n{body}\n"),
            );
            let text = chain(&tool_config(temp.path()).unwrap_err(), temp.path());
            assert!(text.contains(expected), "{text}");
            assert!(
                text.starts_with("Failed to parse `[TEMP]/pyproject.toml`"),
                "{text}"
            );
        };
        check("formatt = \"zip\"", "unknown field `formatt`");
        check("format = \"egg\"", "unknown format `egg`");
        check("optimize = 3", "optimize must be 0, 1 or 2, not 3");
        check("jobs = 0", "jobs must be at least 1, not 0");
        check("invalidation-mode = \"never\"", "unknown variant `never`");
        check("python = 3.12", "expected a string or a list of strings");
        check("prune-from = 3", "expected a string or a list of strings");
        check("prune = \"yes\"", "expected a boolean");
        check("backend = \"pypy\"", "unknown variant `pypy`");
        check("target = 3.12", "expected a string or a list of strings");

        write(
            temp.path(),
            "pyproject.toml",
            "[tool.pyship]\nformat = [\"zip\", \"wheel\", \"zip\"]\npython = \"3.12\"\n",
        );
        let tool = tool_config(temp.path()).unwrap();
        assert_eq!(
            tool.format,
            Some(vec![OutputFormat::Zip, OutputFormat::Wheel])
        );
        assert_eq!(tool.python, Some(vec!["3.12".to_owned()]));
    }

    #[test]
    fn a_switch_is_its_last_flag_else_the_table_else_off() {
        for (on, off, tool, expected) in [
            (false, false, None, false),
            (false, false, Some(true), true),
            (false, false, Some(false), false),
            (true, false, Some(false), true),
            (false, true, Some(true), false),
        ] {
            assert_eq!(Switch { on, off }.or(tool), expected, "{on} {off} {tool:?}");
        }
    }

    #[test]
    fn the_command_line_wins_over_the_table_and_the_table_over_the_defaults() {
        let temp = tempfile::tempdir().unwrap();
        write(temp.path(), "pyproject.toml", TABLE);
        let config = resolve(flags(temp.path())).unwrap();
        assert_eq!(config.formats, [OutputFormat::Wheel]);
        assert_eq!(config.out_dir, temp.path().join("wheels"));
        assert_eq!(config.pythons, ["3.11", "3.12"]);
        assert_eq!(config.optimize, Optimize::Two);
        assert_eq!(config.placement, Placement::Replace);
        assert_eq!(config.jobs, 4);
        assert!(config.bundle.extract && config.bundle.slim && !config.bundle.with_deps);
        assert_eq!(config.packages, Some(vec!["src/spam".to_owned()]));

        let config = resolve(Flags {
            formats: vec![OutputFormat::Zip, OutputFormat::Dir, OutputFormat::Zip],
            out_dir: Some("elsewhere".into()),
            pythons: vec!["3.13".to_owned()],
            optimize_flags: 1,
            strip_sources: Switch {
                on: false,
                off: true,
            },
            exclude: vec!["*.txt".to_owned()],
            jobs: Some(0),
            slim: Switch {
                on: false,
                off: true,
            },
            with_deps: Switch {
                on: true,
                off: false,
            },
            ..flags(temp.path())
        })
        .unwrap();
        assert_eq!(config.formats, [OutputFormat::Zip, OutputFormat::Dir]);
        assert_eq!(config.out_dir, Path::new("elsewhere"));
        assert_eq!(config.pythons, ["3.13"]);
        assert_eq!(config.optimize, Optimize::One);
        assert_eq!(config.placement, Placement::Beside);
        // The table's excludes and the command line's add up.
        assert_eq!(config.exclude, ["*.md", "tests/", "*.txt"]);
        assert_eq!(config.jobs, 1);
        assert!(config.bundle.extract && !config.bundle.slim && config.bundle.with_deps);
    }

    #[test]
    fn targets_on_the_command_line_replace_the_tables_and_verify_uses_no_cache() {
        let temp = tempfile::tempdir().unwrap();
        write(
            temp.path(),
            "pyproject.toml",
            "[tool.pyship]\npython = \"3.11\"\ntarget = \"3.12\"\nbackend = \"auto\"\n",
        );
        let config = resolve(flags(temp.path())).unwrap();
        assert_eq!(
            (&config.pythons[..], &config.targets[..], config.backend),
            (
                &["3.11".to_owned()][..],
                &["3.12".to_owned()][..],
                BackendChoice::Auto
            )
        );
        assert!(config.cache_dir.is_some() && !config.verify);
        // `--target` alone: no `python3` added, nor the table's `python`.
        let config = resolve(Flags {
            targets: vec!["3.12".to_owned()],
            backend: Some(BackendChoice::Native),
            verify: Switch {
                on: true,
                off: false,
            },
            ..flags(temp.path())
        })
        .unwrap();
        assert!(config.pythons.is_empty(), "{:?}", config.pythons);
        assert_eq!(config.targets, ["3.12"]);
        assert_eq!(config.backend, BackendChoice::Native);
        assert!(config.verify && config.cache_dir.is_none());
        // `-p` alone replaces both of the table's.
        let config = resolve(Flags {
            pythons: vec!["3.13".to_owned()],
            ..flags(temp.path())
        })
        .unwrap();
        assert_eq!(
            (&config.pythons[..], config.targets.len()),
            (&["3.13".to_owned()][..], 0)
        );
    }

    #[test]
    fn the_file_is_kept_in_the_config_except_for_a_wheel() {
        let temp = tempfile::tempdir().unwrap();
        let config = resolve(flags(temp.path())).unwrap();
        assert!(config.pyproject.is_none());
        write(temp.path(), "pyproject.toml", TABLE);
        let config = resolve(flags(temp.path())).unwrap();
        let pyproject = config.pyproject.unwrap();
        assert_eq!(pyproject.path, temp.path().join("pyproject.toml"));
        assert_eq!(pyproject.text, TABLE);
        // Its debug form (hashed into artifact fingerprints with the rest) leaves out the text.
        assert!(!format!("{pyproject:?}").contains("spam"));

        // A wheel's own metadata is all there is: a `pyproject.toml` beside it is not read.
        write(temp.path(), "spam-1-py3-none-any.whl", "");
        let config = resolve(flags(&temp.path().join("spam-1-py3-none-any.whl"))).unwrap();
        assert!(config.pyproject.is_none() && config.packages.is_none());
    }

    #[test]
    fn keep_source_patterns_that_climb_out_are_refused_naming_their_origin() {
        let temp = tempfile::tempdir().unwrap();
        write(
            temp.path(),
            "pyproject.toml",
            "[tool.pyship]\nkeep-source = [\"ok.py\", \"../x.py\"]\n",
        );
        let err = resolve(flags(temp.path())).unwrap_err();
        insta::assert_snapshot!(err, @"`tool.pyship.keep-source` points outside the project: `../x.py`");
        let err = resolve(Flags {
            keep_source: vec!["a\\..\\..\\b.py".to_owned()],
            ..flags(temp.path())
        })
        .unwrap_err();
        insta::assert_snapshot!(err, @r"`--keep-source` points outside the project: `a\..\..\b.py`");
    }

    #[test]
    fn keep_docstrings_patterns_that_climb_out_are_refused_naming_their_origin() {
        let temp = tempfile::tempdir().unwrap();
        write(
            temp.path(),
            "pyproject.toml",
            "[tool.pyship]\nkeep-docstrings = [\"ok.py\", \"../x.py\"]\n",
        );
        let err = resolve(flags(temp.path())).unwrap_err();
        insta::assert_snapshot!(err, @"`tool.pyship.keep-docstrings` points outside the project: `../x.py`");
        let err = resolve(Flags {
            keep_docstrings: vec!["../b.py".to_owned()],
            ..flags(temp.path())
        })
        .unwrap_err();
        insta::assert_snapshot!(err, @"`--keep-docstrings` points outside the project: `../b.py`");
    }

    #[test]
    fn pip_files_from_the_table_resolve_inside_the_project() {
        let temp = tempfile::tempdir().unwrap();
        fs_err::write(temp.path().join("reqs.txt"), "").unwrap();
        let real = fs_err::canonicalize(temp.path().join("reqs.txt")).unwrap();
        let real = real.to_str().unwrap();
        let args = [
            "-r",
            "reqs.txt",
            "--no-deps",
            "-rreqs.txt",
            "--constraint=reqs.txt",
        ];
        let confined = confine_pip_files(
            temp.path(),
            args.iter().map(|&arg| arg.to_owned()).collect(),
        )
        .unwrap();
        assert_eq!(
            confined,
            [
                "-r".to_owned(),
                real.to_owned(),
                "--no-deps".to_owned(),
                format!("-r{real}"),
                format!("--constraint={real}"),
            ]
        );
        for outside in [["-r", "/etc/passwd"], ["-c", "../x"]] {
            let err = confine_pip_files(
                temp.path(),
                outside.iter().map(|&arg| arg.to_owned()).collect(),
            )
            .unwrap_err();
            assert!(matches!(err, SettingsError::Outside { .. }), "{err}");
        }
    }
}
