//! `pyship build`: resolve targets, scan, compile with each target, and write every artifact.
//!
//! Compile in parallel, write sequentially: every module is compiled for every target before
//! any artifact is written, so a syntax error anywhere leaves the out-dir untouched.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use crate::bundle;
use crate::compile::compile_all;
use crate::compile::pool::WorkerPool;
use crate::compile::{CompileOutcome, CompileRequest};
use crate::config::{Config, OutputFormat, Placement};
use crate::deps;
use crate::discover::{FileKind, SourceFile, discover, matcher};
use crate::error::Error;
use crate::interpreter::{Interpreter, resolve};
use crate::layout::{Content, LayoutOptions, Loader, plan};
use crate::pyc;
use crate::report::{ArtifactReport, Failure, Report, Reporter};
use crate::sink::{self, Sink};

/// The compiled modules of one target: `code[i]` belongs to `files[i]` (None for data files).
/// `files` starts with the project's files; `--with-deps` appends the dependencies'.
struct Compiled {
    interpreter: Interpreter,
    code: Vec<Option<Vec<u8>>>,
    files: Vec<SourceFile>,
    sources: Vec<Option<Arc<[u8]>>>,
    /// Keeps the installed dependencies on disk until their data files are written.
    _deps: Option<deps::Installed>,
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
    let scan = discover(&root, &bundle::project_excludes(config), &config.out_dir)?;
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

    if config.formats.contains(&OutputFormat::Zipapp) {
        bundle::entry_point(config, &files)?;
    }
    let sources = read_modules(&files)?;
    lap(&mut report, "read".to_owned());
    let dependencies = if config.bundle.with_deps {
        dependencies(config, &mut report)?
    } else {
        Vec::new()
    };
    let mut compiled = Vec::with_capacity(interpreters.len());
    for interpreter in interpreters {
        let (mut target_files, mut target_sources) = (files.clone(), sources.clone());
        let installed = if dependencies.is_empty() {
            None
        } else {
            let installed = deps::install(
                &interpreter,
                &dependencies,
                &config.bundle.pip_args,
                &bundle::slim_excludes(config),
            )
            .map_err(bundle::BundleError::from)?;
            target_sources.extend(read_modules(&installed.scan.files)?);
            target_files.extend(installed.scan.files.iter().cloned());
            report
                .warnings
                .extend(installed.scan.warnings.iter().cloned());
            lap(
                &mut report,
                format!("install dependencies {}", interpreter.short_version()),
            );
            Some(installed)
        };
        let code = compile_target(
            config,
            &interpreter,
            &target_files,
            &target_sources,
            reporter,
            &mut report,
        )?;
        lap(
            &mut report,
            format!("compile {}", interpreter.short_version()),
        );
        compiled.push(Compiled {
            interpreter,
            code,
            files: target_files,
            sources: target_sources,
            _deps: installed,
        });
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
            bundle::check_native(format, config.bundle.extract, &target.files)?;
        }
    }
    for target in &compiled {
        for &format in &config.formats {
            // A wheel declares its dependencies instead of carrying them: the project's files
            // come first in `target.files`, so their indices are the same.
            let (files, sources) = if format == OutputFormat::Wheel {
                (&files[..], &sources[..])
            } else {
                (&target.files[..], &target.sources[..])
            };
            let artifact =
                write_artifact(config, format, &name, target, files, sources, &keep_source)?;
            report.bundles.push(bundle::measure(
                &artifact.path,
                files,
                &target.interpreter.short_version(),
                config.optimize,
            )?);
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

/// `[project.dependencies]` for `--with-deps`; a warning when there are none.
fn dependencies(config: &Config, report: &mut Report) -> Result<Vec<String>, Error> {
    let info = bundle::project_info(&config.source)?;
    if info.dynamic_dependencies {
        return Err(bundle::BundleError::DynamicDependencies {
            path: config.source.join("pyproject.toml"),
        }
        .into());
    }
    if info.dependencies.is_empty() {
        report
            .warnings
            .push("`--with-deps`: the project declares no `[project.dependencies]`".to_owned());
    }
    Ok(info.dependencies)
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

fn compile_target(
    config: &Config,
    interpreter: &Interpreter,
    files: &[SourceFile],
    sources: &[Option<Arc<[u8]>>],
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
    if requests.is_empty() {
        return Ok(code);
    }
    let workers = config.jobs.clamp(1, requests.len());
    let pool = WorkerPool::start(interpreter, workers)?;
    reporter.on_compile_start(&interpreter.short_version(), requests.len());
    let outcomes = compile_all(&pool, requests.clone(), workers, |i| {
        reporter.on_compiled(&requests[i].dfile);
    });
    reporter.on_compile_finish();
    drop(pool);
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
        OutputFormat::Zipapp => (
            Loader::Zip,
            config.out_dir.join(format!("{name}-{tag}.pyz")),
        ),
        OutputFormat::Wheel => {
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
    let renamed;
    let files = if format == OutputFormat::Zipapp {
        renamed = bundle::rename_main(files);
        &renamed[..]
    } else {
        files
    };
    let entries = plan(files, &options);
    let mut sink: Box<dyn Sink> = match format {
        OutputFormat::Dir => Box::new(sink::dir::create(&dest, config.source_date_epoch)?),
        OutputFormat::Zipapp => Box::new(sink::zipapp::create(
            &dest,
            sink::zipapp::ZipappOptions {
                mtime: config.source_date_epoch,
                shebang: config.bundle.shebang.clone().unwrap_or_else(|| {
                    sink::zipapp::default_shebang(
                        interpreter.version.major,
                        interpreter.version.minor,
                    )
                }),
                built_for: (interpreter.version.major, interpreter.version.minor),
                entry: bundle::entry_point(config, files)?,
                extract: config.bundle.extract,
            },
        )?),
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
