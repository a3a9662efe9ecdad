//! `pyship build`: resolve targets, scan, compile with each target, and write every artifact.
//!
//! Compile in parallel, write sequentially: every module is compiled for every target before
//! any artifact is written, so a syntax error anywhere leaves the out-dir untouched.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use crate::cache::{Cache, CacheOptions, CachedOutcomes, SourceDigest, compile_cached};
use crate::compile::{CompileOutcome, CompileRequest};
use crate::config::{Config, OutputFormat, Placement};
use crate::discover::{FileKind, SourceFile, discover, matcher};
use crate::error::Error;
use crate::interpreter::{Interpreter, resolve};
use crate::layout::{Content, LayoutOptions, Loader, plan};
use crate::pyc;
use crate::report::{ArtifactReport, Failure, Report, Reporter};
use crate::sink::{self, Sink};

/// The compiled modules of one target: `code[i]` belongs to `files[i]` (None for data files).
struct Compiled {
    interpreter: Interpreter,
    code: Vec<Option<Vec<u8>>>,
}

/// Build every artifact `config` asks for.
pub fn run(config: &Config, reporter: &dyn Reporter) -> Result<Report, Error> {
    let start = Instant::now();
    let mut report = Report::default();

    let interpreters = resolve_all(&config.pythons)?;
    if config.out_dir.is_file() {
        return Err(Error::OutDirIsFile {
            path: config.out_dir.clone(),
        });
    }
    let mut stage = Instant::now();
    let mut lap = |report: &mut Report, name: String| {
        report.timings.push((name, stage.elapsed().as_secs_f64()));
        stage = Instant::now();
    };
    let root = module_root(&config.source);
    let scan = discover(&root, &config.exclude, &config.out_dir)?;
    lap(&mut report, "scan".to_owned());
    report.warnings.extend(scan.warnings);
    let files = scan.files;
    let module_count = files
        .iter()
        .filter(|file| file.kind == FileKind::Module)
        .count();
    report.modules = module_count;
    report.data_files = files.len() - module_count;
    report.source_bytes = files.iter().map(|file| file.size).sum();

    let sources = read_modules(&files)?;
    let digests = config.cache_dir.as_ref().map(|_| digest_modules(&sources));
    lap(&mut report, "read".to_owned());
    let mut compiled = Vec::with_capacity(interpreters.len());
    for interpreter in interpreters {
        let code = compile_target(
            config,
            &interpreter,
            &files,
            &sources,
            digests.as_deref(),
            reporter,
            &mut report,
        )?;
        lap(
            &mut report,
            format!("compile {}", interpreter.short_version()),
        );
        compiled.push(Compiled { interpreter, code });
    }
    if !report.failures.is_empty() {
        report.duration = start.elapsed();
        return Ok(report);
    }

    fs_err::create_dir_all(&config.out_dir)?;
    let name = artifact_name(&config.source);
    let keep_source = matcher(
        Path::new(""),
        &config
            .keep_source
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )?;
    for target in &compiled {
        for &format in &config.formats {
            let artifact = write_artifact(
                config,
                format,
                &name,
                target,
                &files,
                &sources,
                &keep_source,
            )?;
            lap(&mut report, format!("write {}", artifact.path.display()));
            report.artifacts.push(ArtifactReport {
                path: artifact.path,
                format: format.name(),
                python: target.interpreter.short_version(),
                bytes: artifact.bytes,
            });
        }
    }
    if config.optimize > 0
        && config.formats.contains(&OutputFormat::Dir)
        && (config.placement == Placement::Beside || !config.keep_source.is_empty())
    {
        let flag = if config.optimize == 1 { "-O" } else { "-OO" };
        report.notes.push(format!(
            "The `.opt-{}` pycs in `__pycache__` are used only by `python {flag}` (or PYTHONOPTIMIZE={}); plain `python` compiles the sources again",
            config.optimize, config.optimize
        ));
    }
    report.duration = start.elapsed();
    Ok(report)
}

fn resolve_all(specs: &[String]) -> Result<Vec<Interpreter>, Error> {
    let mut interpreters: Vec<Interpreter> = Vec::new();
    for spec in specs {
        let interpreter = resolve(spec)?;
        // `-p 3.12 -p python3.12` name one target: build it once.
        if !interpreters
            .iter()
            .any(|other| other.executable == interpreter.executable)
        {
            interpreters.push(interpreter);
        }
    }
    Ok(interpreters)
}

/// Read every module once; data files are copied from disk when the artifact is written.
fn read_modules(files: &[SourceFile]) -> Result<Vec<Option<Arc<[u8]>>>, Error> {
    files
        .par_iter()
        .map(|file| match file.kind {
            FileKind::Module => Ok(Some(Arc::from(fs_err::read(&file.path)?))),
            FileKind::Data => Ok(None),
        })
        .collect()
}

/// The cache's digest of every module, computed once for all targets.
fn digest_modules(sources: &[Option<Arc<[u8]>>]) -> Vec<Option<SourceDigest>> {
    sources
        .par_iter()
        .map(|source| source.as_deref().map(SourceDigest::of))
        .collect()
}

fn compile_target(
    config: &Config,
    interpreter: &Interpreter,
    files: &[SourceFile],
    sources: &[Option<Arc<[u8]>>],
    digests: Option<&[Option<SourceDigest>]>,
    reporter: &dyn Reporter,
    report: &mut Report,
) -> Result<Vec<Option<Vec<u8>>>, Error> {
    let mut indices = Vec::new();
    let mut requests = Vec::new();
    for (index, (file, source)) in files.iter().zip(sources).enumerate() {
        if let Some(source) = source {
            indices.push(index);
            requests.push(CompileRequest {
                source: Arc::clone(source),
                dfile: format!("{}{}", config.dfile_prefix, file.relative),
                optimize: config.optimize,
            });
        }
    }
    let mut code = vec![None; files.len()];
    let cache = config.cache_dir.as_ref().map(Cache::new);
    // Hashed once in `run` for every target.
    let digests: Option<Vec<SourceDigest>> = digests.map(|digests| {
        indices
            .iter()
            .map(|&index| digests[index].expect("every module is hashed"))
            .collect()
    });
    let CachedOutcomes {
        outcomes,
        stats,
        write_error,
    } = compile_cached(
        interpreter,
        requests,
        digests.as_deref(),
        CacheOptions {
            cache: cache.as_ref(),
            jobs: config.jobs,
            strip_docstrings: false,
        },
        reporter,
    )?;
    report.cache += stats;
    if let Some(err) = write_error {
        report.warnings.push(err.warning(stats.write_errors));
    }
    for (index, outcome) in indices.into_iter().zip(outcomes) {
        match outcome? {
            CompileOutcome::Code(bytes) => code[index] = Some(bytes),
            CompileOutcome::SyntaxError(error) => report.failures.push(Failure {
                path: files[index].path.clone(),
                line: error.line,
                column: error.column,
                message: error.message,
                python: interpreter.short_version(),
            }),
        }
    }
    Ok(code)
}

/// Where the modules are: `src/` in a PEP 621 project with a src layout, else the project.
fn module_root(source: &Path) -> PathBuf {
    let src = source.join("src");
    if source.join("pyproject.toml").is_file() && src.is_dir() {
        src
    } else {
        source.to_path_buf()
    }
}

/// The artifact's base name: `[project].name` from pyproject.toml, else the directory's name.
fn artifact_name(source: &Path) -> String {
    let from_pyproject = fs_err::read_to_string(source.join("pyproject.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| {
            table
                .get("project")?
                .get("name")?
                .as_str()
                .map(str::to_owned)
        });
    let name = from_pyproject.unwrap_or_else(|| {
        fs_err::canonicalize(source)
            .ok()
            .and_then(|path| {
                path.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "project".to_owned())
    });
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn write_artifact(
    config: &Config,
    format: OutputFormat,
    name: &str,
    target: &Compiled,
    files: &[SourceFile],
    sources: &[Option<Arc<[u8]>>],
    keep_source: &ignore::gitignore::Gitignore,
) -> Result<sink::Artifact, Error> {
    let interpreter = &target.interpreter;
    let tag = format!(
        "cp{}{}",
        interpreter.version.major, interpreter.version.minor
    );
    let (loader, dest): (Loader, PathBuf) = match format {
        OutputFormat::Dir => (
            Loader::FileSystem,
            config.out_dir.join(format!("{name}-{tag}")),
        ),
        OutputFormat::Zip => (
            Loader::Zip,
            config.out_dir.join(format!("{name}-{tag}.zip")),
        ),
        OutputFormat::Wheel | OutputFormat::Zipapp => {
            return Err(Error::UnsupportedFormat {
                format: format.name(),
            });
        }
    };
    let options = LayoutOptions {
        placement: config.placement,
        loader,
        cache_tag: &interpreter.cache_tag,
        optimize: config.optimize,
        keep_source,
        beside_invalidation: config.invalidation_for(Placement::Beside),
        sourceless_invalidation: config.invalidation_for(Placement::Replace),
    };
    let entries = plan(files, &options);
    let mut sink: Box<dyn Sink> = match format {
        OutputFormat::Dir => Box::new(sink::dir::create(&dest, config.source_date_epoch)?),
        _ => Box::new(sink::zip::create(
            &dest,
            sink::zip::ZipOptions {
                mtime: config.source_date_epoch,
                ..sink::zip::ZipOptions::default()
            },
        )?),
    };
    for entry in &entries {
        match entry.content {
            Content::Copy { index } => match &sources[index] {
                Some(source) => sink.add_bytes(&entry.path, source, false)?,
                None => sink.add_file(&entry.path, &files[index].path)?,
            },
            Content::Compiled {
                index,
                invalidation,
            } => {
                let source = sources[index].as_deref().unwrap_or_default();
                let code = target.code[index].as_deref().unwrap_or_default();
                let header = pyc::header(
                    interpreter.magic,
                    interpreter.version.minor,
                    invalidation,
                    source,
                    config.source_date_epoch,
                );
                let mut bytes = Vec::with_capacity(header.len() + code.len());
                bytes.extend_from_slice(&header);
                bytes.extend_from_slice(code);
                sink.add_bytes(&entry.path, &bytes, false)?;
            }
        }
    }
    Ok(sink.finish()?)
}
