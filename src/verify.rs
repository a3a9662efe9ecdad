//! `pyship verify`: build an artifact again from the sources it claims, with the options and
//! targets it records ([`BuildFacts`]), and compare the two file by file. Takes the artifact,
//! the SOURCE (anything `pyship build` accepts) and optionally the interpreters; returns a
//! [`Verification`] listing every file that differs, was added or is missing.
//!
//! The rebuild goes to a temporary directory, without the compile cache (a proof should not
//! rest on what an earlier build stored), with interpreters whose magic number is the recorded
//! one: those given with `-p`, else the recorded version found as `-p 3.X` finds it, else any
//! interpreter `pyship pythons` lists with that magic number.

use std::path::{Path, PathBuf};

use crate::compile::Optimize;
use crate::inspect::{self, ArtifactContents, InspectError, module_name};
use crate::interpreter::{self, Interpreter, InterpreterError};
use crate::plan::facts::{BuildFacts, TargetFacts};
use crate::report::Reporter;
use crate::settings::{Flags, OutputFormat, SettingsError, Switch};

/// Why an artifact could not be verified (as opposed to verified and found different).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The artifact could not be read.
    #[error(transparent)]
    Inspect(#[from] InspectError),
    /// No build-facts record: nothing says how to build it again.
    #[error("`{}` records no build facts (`pyship.json`): it was not written by pyship, or by an older one", path.display())]
    NoFacts {
        /// The artifact.
        path: PathBuf,
    },
    /// A `--with-deps` bundle: its dependencies came from an index at build time.
    #[error("`{}` carries dependencies installed by pip (`--with-deps`), which verify cannot install again the same way", path.display())]
    WithDeps {
        /// The artifact.
        path: PathBuf,
    },
    /// No interpreter with the recorded magic number was found.
    #[error("No Python {python} with magic number {magic_number} found: `{}` was built for it", path.display())]
    NoInterpreter {
        /// The recorded version.
        python: String,
        /// The recorded magic number.
        magic_number: u16,
        /// The artifact.
        path: PathBuf,
    },
    /// The interpreters given with `-p` do not include one for a recorded target.
    #[error("None of the `-p` interpreters is Python {python} (magic number {magic_number}), a target of `{}`", path.display())]
    WrongInterpreter {
        /// The recorded version.
        python: String,
        /// The recorded magic number.
        magic_number: u16,
        /// The artifact.
        path: PathBuf,
    },
    /// A `-p` interpreter could not be used.
    #[error(transparent)]
    Interpreter(#[from] InterpreterError),
    /// The recorded options do not resolve against SOURCE.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The rebuild failed.
    #[error("Building `{}` again failed", path.display())]
    Build {
        /// SOURCE.
        path: PathBuf,
        /// Why.
        #[source]
        error: Box<crate::Error>,
    },
    /// SOURCE has syntax errors: it cannot be what the artifact was built from.
    #[error("`{}` has {count} syntax error(s), the first in `{}`", path.display(), first.display())]
    SyntaxErrors {
        /// SOURCE.
        path: PathBuf,
        /// How many.
        count: usize,
        /// The first file with one.
        first: PathBuf,
    },
    /// The temporary directory could not be made.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl VerifyError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            VerifyError::NoInterpreter { .. } | VerifyError::WrongInterpreter { .. } => Some(
                "give the target with `-p` (a path, a command or a version); `pyship pythons` lists those found"
                    .to_owned(),
            ),
            VerifyError::Interpreter(err) => err.hint().map(str::to_owned),
            VerifyError::Build { error, .. } => error.hint(),
            _ => None,
        }
    }
}

/// What to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The artifact: a wheel, zip, zipapp or directory pyship wrote.
    pub artifact: PathBuf,
    /// What it claims to be built from: a project directory, a directory of modules, a wheel
    /// or an sdist.
    pub source: PathBuf,
    /// Interpreters to rebuild with (`-p`); empty: found by the recorded versions.
    pub pythons: Vec<String>,
    /// Worker processes per target; `None`: one per CPU.
    pub jobs: Option<usize>,
}

/// How one file of the artifact compares with the rebuild.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// In both, with different bytes.
    Differs,
    /// In the artifact only.
    Added,
    /// In the rebuild only.
    Missing,
}

/// One file that does not match.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// Its path in the artifact.
    pub path: String,
    /// The module it is (or is the bytecode of), if any.
    pub module: Option<String>,
    /// How it differs.
    pub change: Change,
}

/// The outcome of a verification.
#[derive(Debug, Clone)]
pub struct Verification {
    /// What the artifact records.
    pub facts: BuildFacts,
    /// The interpreters it was rebuilt with.
    pub interpreters: Vec<Interpreter>,
    /// Files compared (the union of both sides).
    pub compared: usize,
    /// Every file that does not match, sorted by path.
    pub differences: Vec<Difference>,
}

/// Build `options.artifact` again from `options.source` and compare.
pub fn verify(
    options: &VerifyOptions,
    reporter: &dyn Reporter,
) -> Result<Verification, VerifyError> {
    let artifact = inspect::read_artifact(&options.artifact)?;
    let facts = artifact.facts().ok_or_else(|| VerifyError::NoFacts {
        path: options.artifact.clone(),
    })?;
    if facts.with_deps {
        return Err(VerifyError::WithDeps {
            path: options.artifact.clone(),
        });
    }
    let interpreters = interpreters_for(&facts, &options.pythons, &options.artifact)?;
    let temp = tempfile::Builder::new()
        .prefix(".pyship-verify-")
        .tempdir()?;
    let rebuilt = rebuild(
        options,
        &facts,
        &interpreters,
        &temp.path().join("out"),
        reporter,
    )?;
    let (compared, differences) = compare(&artifact, &rebuilt);
    Ok(Verification {
        facts,
        interpreters,
        compared,
        differences,
    })
}

/// One interpreter per recorded target, each with the recorded magic number.
fn interpreters_for(
    facts: &BuildFacts,
    given: &[String],
    artifact: &Path,
) -> Result<Vec<Interpreter>, VerifyError> {
    let magic_of = |interpreter: &Interpreter| {
        u16::from_le_bytes([interpreter.magic[0], interpreter.magic[1]])
    };
    let given: Vec<Interpreter> = given
        .iter()
        .map(|spec| interpreter::resolve(spec))
        .collect::<Result<_, _>>()?;
    let mut chosen = Vec::new();
    let mut found_all: Option<Vec<Interpreter>> = None;
    for TargetFacts {
        magic_number,
        python,
        ..
    } in &facts.targets
    {
        let interpreter = if given.is_empty() {
            match interpreter::resolve(python) {
                Ok(interpreter) if magic_of(&interpreter) == *magic_number => Some(interpreter),
                _ => found_all
                    .get_or_insert_with(|| {
                        interpreter::find_all()
                            .into_iter()
                            .map(|found| found.interpreter)
                            .collect()
                    })
                    .iter()
                    .find(|interpreter| magic_of(interpreter) == *magic_number)
                    .cloned(),
            }
            .ok_or_else(|| VerifyError::NoInterpreter {
                python: python.clone(),
                magic_number: *magic_number,
                path: artifact.to_path_buf(),
            })?
        } else {
            given
                .iter()
                .find(|interpreter| magic_of(interpreter) == *magic_number)
                .cloned()
                .ok_or_else(|| VerifyError::WrongInterpreter {
                    python: python.clone(),
                    magic_number: *magic_number,
                    path: artifact.to_path_buf(),
                })?
        };
        chosen.push(interpreter);
    }
    Ok(chosen)
}

/// Build the artifact again into `out_dir` with the recorded options and read it back.
fn rebuild(
    options: &VerifyOptions,
    facts: &BuildFacts,
    interpreters: &[Interpreter],
    out_dir: &Path,
    reporter: &dyn Reporter,
) -> Result<ArtifactContents, VerifyError> {
    let format = match facts.format.as_str() {
        "zip" => OutputFormat::Zip,
        "wheel" => OutputFormat::Wheel,
        "zipapp" => OutputFormat::Zipapp,
        _ => OutputFormat::Dir,
    };
    let switch = |on: bool| Switch { on, off: !on };
    let flags = Flags {
        source: options.source.clone(),
        formats: vec![format],
        out_dir: Some(out_dir.to_path_buf()),
        pythons: interpreters
            .iter()
            .map(|interpreter| interpreter.executable.to_string_lossy().into_owned())
            .collect(),
        optimize: Some(Optimize::from_flag_count(facts.optimize)),
        strip_sources: switch(facts.strip_sources),
        keep_source: facts.keep_source.clone(),
        exclude: facts.exclude.clone(),
        invalidation: facts.invalidation_mode,
        dfile_prefix: Some(facts.dfile_prefix.clone()),
        jobs: options.jobs,
        main: facts.main.clone(),
        shebang: facts.shebang.clone(),
        with_deps: switch(false),
        extract: switch(facts.extract),
        slim: switch(facts.slim),
        strip_docstrings: switch(facts.strip_docstrings),
        keep_docstrings: facts.keep_docstrings.clone(),
        prune_from: facts.prune_from.clone(),
        include: facts.include.clone(),
        prune: switch(facts.prune),
        no_cache: true,
        ..Flags::default()
    };
    let mut config = crate::settings::resolve(flags)?;
    config.source_date_epoch = facts.source_date_epoch;
    let build_error = |error: crate::Error| VerifyError::Build {
        path: options.source.clone(),
        error: Box::new(error),
    };
    let report = crate::build::run(&config, reporter).map_err(build_error)?;
    if let Some(first) = report.failures.first() {
        return Err(VerifyError::SyntaxErrors {
            path: options.source.clone(),
            count: report.failures.len(),
            first: first.path.clone(),
        });
    }
    let path = report
        .artifacts
        .first()
        .map(|artifact| artifact.path.clone())
        .unwrap_or_default();
    Ok(inspect::read_artifact(&path)?)
}

/// Compare every file of both sides: `(files compared, differences sorted by path)`.
fn compare(artifact: &ArtifactContents, rebuilt: &ArtifactContents) -> (usize, Vec<Difference>) {
    let mut differences = Vec::new();
    let (mut left, mut right) = (
        artifact.files.iter().peekable(),
        rebuilt.files.iter().peekable(),
    );
    let mut compared = 0;
    loop {
        let (path, change) = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(a), Some(b)) if a.path == b.path => {
                let change = (a.digest != b.digest).then_some(Change::Differs);
                let path = a.path.clone();
                left.next();
                right.next();
                (path, change)
            }
            (Some(a), b) if b.is_none_or(|b| a.path < b.path) => {
                let path = a.path.clone();
                left.next();
                (path, Some(Change::Added))
            }
            (_, Some(b)) => {
                let path = b.path.clone();
                right.next();
                (path, Some(Change::Missing))
            }
            (Some(_), None) => unreachable!("handled above"),
        };
        compared += 1;
        if let Some(change) = change {
            differences.push(Difference {
                module: module_of(&path),
                path,
                change,
            });
        }
    }
    (compared, differences)
}

/// The module a file is or is compiled from: `pkg.mod` for `pkg/mod.py`, `pkg/mod.pyc` and
/// `pkg/__pycache__/mod.cpython-312.opt-1.pyc`.
pub fn module_of(path: &str) -> Option<String> {
    if let Some((dir, file)) = path.rsplit_once("__pycache__/") {
        let stem = file.split('.').next()?;
        return module_name(&format!("{dir}{stem}.py"));
    }
    module_name(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_of_paths() {
        assert_eq!(
            module_of("pkg/__pycache__/mod.cpython-312.opt-1.pyc").as_deref(),
            Some("pkg.mod")
        );
        assert_eq!(
            module_of("__pycache__/app.cpython-38.pyc").as_deref(),
            Some("app")
        );
        assert_eq!(
            module_of("pkg/__pycache__/__init__.cpython-312.pyc").as_deref(),
            Some("pkg")
        );
        assert_eq!(module_of("pkg/mod.pyc").as_deref(), Some("pkg.mod"));
        assert_eq!(module_of("pkg-1.0.dist-info/RECORD"), None);
    }
}
