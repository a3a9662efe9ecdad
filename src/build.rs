//! `pyship build`: resolve targets, scan, compile with each target, and write every artifact.
//!
//! Every artifact that is not already up to date is opened (in a temporary place beside its
//! destination) before its target compiles, and each module goes into it as soon as it is
//! compiled: [`compile_all`] hands every answer to this thread, which alone feeds the sinks
//! (no lock), and archives deflate in the background while the next modules compile. A sink
//! error stops the compiling at once. Artifacts are
//! moved into place only once every module compiled for every target, so a syntax error
//! anywhere leaves the out-dir untouched. When every artifact of a target is up to date, that
//! target compiles nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use crate::analysis::prune::PruneError;
use crate::analysis::warnings::{Said, docstring_warnings};
use crate::analysis::{self, Analyzed, Decision, Stripping};
use crate::bytecode::pyc::{self, Invalidation};
use crate::cache::Cache;
use crate::cache::artifacts::ArtifactRecords;
use crate::compile::native::{self, Compiler};
use crate::compile::{
    CompileRequest, Compiled, Event, Failures, Optimize, SourceDigest, compile_all,
};
use crate::error::Error;
use crate::interpreter::{Interpreter, resolve};
use crate::plan::layout::{self, Content, LayoutOptions, Loader};
use crate::plan::{self, ArtifactPlan, PlanError, bundle, default_format, plan_artifact};
use crate::report::{
    ArtifactReport, CompilerWarning, DroppedFile, Failure, OutsideImport, Pruned, Report, Reporter,
};
use crate::settings::{Config, OutputFormat, Placement};
use crate::sink::{self, Sink, SinkError};
use crate::source::deps;
use crate::source::tree::{FileKind, SourceFile, matcher};
use crate::source::{self, Input, InputKind, install_path};

/// One target's files: the project's, then with `--with-deps` the dependencies'.
struct Target {
    interpreter: Interpreter,
    files: Vec<SourceFile>,
    /// How each of `files` is compiled (data files: the plain options, unused).
    decisions: Vec<Decision>,
    /// `(source hash for this target's magic number, size)` of each module, for pyc headers
    /// and fingerprints: sources are not kept in memory once compiled.
    stamps: Vec<Stamp>,
    /// Keeps the installed dependencies on disk until their data files are written.
    _deps: Option<deps::Installed>,
    /// How many of `files` are the project's (the rest: dependencies).
    project_files: usize,
}

/// What becomes of one planned artifact.
enum Artifact {
    /// Already up to date: nothing to write.
    UpToDate {
        plan: ArtifactPlan,
        recorded: sink::Artifact,
        /// The compile warnings the build that wrote it gave for its modules.
        warnings: Vec<CompilerWarning>,
    },
    /// Being written; compiled modules go in as they arrive.
    Open(OpenArtifact),
}

/// An artifact being written while its target compiles.
struct OpenArtifact {
    plan: ArtifactPlan,
    /// Fed only by the thread consuming the compile answers.
    sink: Box<dyn Sink>,
    /// `pycs[i]`: where the compiled form of file `i` goes in the artifact, and its header's
    /// invalidation mode (empty for data files and for files the artifact does not carry).
    pycs: Vec<Vec<(String, Invalidation)>>,
    /// With a cache: what to record once written, for the next build's up-to-date check.
    record: Option<(ArtifactRecords, [u8; 32])>,
}

/// Build every artifact `config` asks for. A build that fails leaves no out-dir behind that it
/// created itself (its unfinished artifacts are gone by then).
pub fn run(config: &Config, reporter: &dyn Reporter) -> Result<Report, Error> {
    let out_dir_existed = config.out_dir.exists();
    let result = build(config, reporter);
    let failed = result
        .as_ref()
        .map_or(true, |report| !report.failures.is_empty());
    if failed && !out_dir_existed {
        // Only if empty: never anything but pyship's own leftovers.
        let _ = std::fs::remove_dir(&config.out_dir);
    }
    result
}

fn build(config: &Config, reporter: &dyn Reporter) -> Result<Report, Error> {
    let start = Instant::now();
    let mut report = Report::default();

    let interpreters = resolve_all(config)?;
    if config.out_dir.is_file() {
        return Err(Error::OutDirIsFile {
            path: config.out_dir.clone(),
        });
    }
    // What killed builds left behind; a live build's staging stays. A dry run touches nothing.
    if !config.dry_run {
        crate::support::staging::sweep(&config.out_dir);
    }
    let mut stage = Instant::now();
    let mut lap = |report: &mut Report, name: String| {
        report.timings.push((name, stage.elapsed().as_secs_f64()));
        stage = Instant::now();
    };
    let input = source::load(config, &bundle::project_excludes(config))?;
    lap(&mut report, "scan".to_owned());
    report.warnings.extend(input.warnings.iter().cloned());
    let files = &input.files;
    let module_count = files
        .iter()
        .filter(|file| file.kind == FileKind::Module)
        .count();
    report.modules = module_count;
    report.data_files = files.len() - module_count;
    report.source_bytes = files.iter().map(|file| file.size).sum();

    let formats = if config.formats.is_empty() {
        vec![default_format(&input.kind)]
    } else {
        config.formats.clone()
    };
    if formats.contains(&OutputFormat::Zipapp) {
        bundle::entry_point(config, input.project(), files)?;
    }
    if config.analysis.prunes() && formats.contains(&OutputFormat::Wheel) {
        return Err(PruneError::Wheel.into());
    } else if !config.analysis.prunes() && !config.analysis.include.is_empty() {
        report.warnings.push(
            "`--include` keeps modules only when pruning (`--prune`, `--prune-from`): ignored"
                .to_owned(),
        );
    }
    if formats.iter().any(|&format| format != OutputFormat::Wheel)
        && let Some(warning) = input.project().and_then(plan::bundle_metadata_warning)
    {
        report.warnings.push(warning);
    }
    let keep_source = matcher(
        Path::new(""),
        &config
            .keep_source
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .map_err(source::SourceError::from)?;
    let sources = read_modules(files)?;
    lap(&mut report, "read".to_owned());
    let stripping = Stripping::new(config).map_err(source::SourceError::from)?;
    // The Rust parser reads the modules only when a decision needs it.
    let analyzes = stripping.any() || config.analysis.prunes() || config.dry_run;
    let mut project_analysis = if analyzes {
        let analyzed = analysis::analyze(&sources);
        lap(&mut report, "analyze".to_owned());
        analyzed
    } else {
        Vec::new()
    };
    let mut said = Said::default();
    crate::support::interrupt::check()?;
    if config.bundle.with_deps && formats.contains(&OutputFormat::Wheel) {
        report.warnings.push(
            "`--with-deps` does not apply to a wheel: it declares its dependencies instead of carrying them".to_owned(),
        );
    } else if !config.bundle.with_deps && !config.bundle.requirements.is_empty() {
        report.warnings.push(
            "`-r/--requirement` files are installed only with `--with-deps`: ignored".to_owned(),
        );
    }
    // A wheel alone needs no dependencies installed.
    let bundles_deps =
        config.bundle.with_deps && formats.iter().any(|format| *format != OutputFormat::Wheel);
    // pip runs on the target: a target given by version alone has none.
    let version_only = interpreters
        .iter()
        .find(|target| native::is_version_only(target));
    if bundles_deps && let Some(target) = version_only {
        return Err(native::NativeError::NoInterpreterFor {
            option: "--with-deps",
            python: target.short_version(),
        }
        .into());
    }
    let dependencies = if bundles_deps && !config.dry_run {
        dependencies(config, &input)?
    } else {
        if bundles_deps {
            report.notes.push(
                "a dry run installs no dependencies: the listing has the project's files only"
                    .to_owned(),
            );
        }
        deps::Requirements::default()
    };
    let several = interpreters.len() > 1;
    let shared = name_artifacts(config, &input, &interpreters, &formats)?;
    // What pyc headers and fingerprints need of the project's modules, for every target up
    // front: a wheel shared by several targets is fingerprinted with all of them.
    let project_stamps: Vec<_> = interpreters
        .iter()
        .map(|interpreter| stamp_modules(interpreter, &sources))
        .collect();
    // Each source is hashed once, for every target's cache lookups, and only if one compiles.
    let mut digests: Option<Vec<Option<SourceDigest>>> = None;
    let mut targets: Vec<Target> = Vec::with_capacity(interpreters.len());
    // (target index, artifact), in the order of the targets and formats asked for.
    let mut artifacts: Vec<(usize, Artifact)> = Vec::new();
    for (index, interpreter) in interpreters.iter().cloned().enumerate() {
        let python = interpreter.short_version();
        // Among several targets, an error says whose it is.
        let in_target = |err: Error| {
            if several {
                err.for_target(&python)
            } else {
                err
            }
        };
        // Bundles hold the project as installed; a wheel's own artifact does not use these.
        let wheel = match &input.kind {
            InputKind::Wheel(wheel) => Some(&**wheel),
            _ => None,
        };
        let (mut target_files, mut target_sources) =
            (bundle::installed_layout(wheel, files), sources.clone());
        let installed = if dependencies.is_empty() {
            None
        } else {
            let mut installed = deps::install(
                &interpreter,
                &dependencies,
                &config.bundle.pip_args,
                &bundle::slim_excludes(config),
            )
            .map_err(|err| in_target(bundle::BundleError::from(err).into()))?;
            installed.scan.files = source::dist_info::trim(
                std::mem::take(&mut installed.scan.files),
                config.bundle.slim,
            )?;
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
        let mut stamps = project_stamps[index].clone();
        stamps.extend(stamp_modules(
            &interpreter,
            &target_sources[sources.len()..],
        ));
        // The last target takes the project's analysis; earlier ones copy it.
        let mut target_analysis = if index + 1 == interpreters.len() {
            std::mem::take(&mut project_analysis)
        } else {
            project_analysis.clone()
        };
        if analyzes {
            target_analysis.extend(analysis::analyze(&target_sources[sources.len()..]));
        }
        // `--prune-from`/`--prune`: from here on, this target's files are the kept ones.
        let pruned = config.analysis.prunes();
        let mut project_files = files.len();
        if pruned {
            let kept = prune_target(
                config,
                &input,
                &python,
                &target_files,
                &target_analysis,
                &mut report,
            )
            .map_err(in_target)?;
            project_files = kept[..files.len()].iter().filter(|kept| **kept).count();
            retain_kept(&mut target_files, &kept);
            retain_kept(&mut target_sources, &kept);
            retain_kept(&mut stamps, &kept);
            retain_kept(&mut target_analysis, &kept);
        }
        let decisions = decide(
            &stripping,
            &target_files,
            &target_analysis,
            project_files,
            index == 0,
            &mut said,
            &mut report,
        );
        let target = Target {
            interpreter,
            files: target_files,
            decisions,
            stamps,
            _deps: installed,
            project_files,
        };
        // This target's artifacts: indices into `artifacts`.
        let mut mine = Vec::with_capacity(formats.len());
        for &format in &formats {
            bundle::check_native(format, config.bundle.extract, &target.files)
                .map_err(|err| in_target(err.into()))?;
            let plan = plan_artifact(config, &input, &target.interpreter, format)
                .map_err(|err| in_target(err.into()))?;
            if config.dry_run {
                report.listings.push(dry_run(
                    config,
                    &plan,
                    &target,
                    &input,
                    &keep_source,
                    &report.pruned,
                ));
                continue;
            }
            // A wheel that keeps its sources, already opened by an earlier target: this
            // target's pycs go into it too.
            if let Some(at) = artifacts
                .iter()
                .position(|(_, other)| other.plan().dest == plan.dest)
            {
                if let Artifact::Open(open) = &mut artifacts[at].1 {
                    let files = artifact_files(&plan, &input.files, &target);
                    let options = layout_options(config, &plan, &target.interpreter, &keep_source);
                    open.pycs = compiled_paths(files, &options);
                }
                mine.push(at);
                continue;
            }
            // Every target whose pycs go into it (several only for a shared wheel); this
            // target with its dependencies' stamps, as its artifacts carry them.
            let this = (&target.interpreter, target.stamps.as_slice());
            let members: Vec<(&Interpreter, &[Stamp])> = shared
                .iter()
                .find(|(dest, _)| *dest == plan.dest)
                .map_or_else(
                    || vec![this],
                    |(_, members)| {
                        members
                            .iter()
                            .map(|&member| {
                                if member == index {
                                    this
                                } else {
                                    (&interpreters[member], project_stamps[member].as_slice())
                                }
                            })
                            .collect()
                    },
                );
            let artifact = start_artifact(config, plan, &target, &members, &input, &keep_source)
                .map_err(in_target)?;
            mine.push(artifacts.len());
            artifacts.push((targets.len(), artifact));
        }
        let mut open: Vec<&mut OpenArtifact> = artifacts
            .iter_mut()
            .enumerate()
            .filter(|(at, _)| mine.contains(at))
            .filter_map(|(_, (_, artifact))| match artifact {
                Artifact::Open(open) => Some(open),
                Artifact::UpToDate { .. } => None,
            })
            .collect();
        if !open.is_empty() {
            crate::support::interrupt::check()?;
            let digests = config.cache_dir.as_ref().map(|_| {
                if pruned {
                    // Indices moved: this target's own.
                    return digest_modules(&target_sources);
                }
                let digests = digests.get_or_insert_with(|| digest_modules(&sources));
                let mut all = digests.clone();
                all.extend(digest_modules(&target_sources[sources.len()..]));
                all
            });
            compile_target(
                config,
                &target,
                &target_sources,
                digests.as_deref(),
                reporter,
                &mut report,
                &mut open,
            )
            .map_err(in_target)?;
            lap(
                &mut report,
                format!("compile {}", target.interpreter.short_version()),
            );
        }
        targets.push(target);
    }
    // From here on, module sources are read again from disk only where they are shipped.
    drop(sources);
    drop(digests);
    if !report.failures.is_empty() || config.dry_run {
        // The open artifacts are dropped unfinished: nothing is written.
        report.duration = start.elapsed();
        return Ok(report);
    }

    fs_err::create_dir_all(&config.out_dir)?;
    for (index, artifact) in artifacts {
        // Unfinished artifacts are dropped, so their staging is removed.
        crate::support::interrupt::check()?;
        let target = &targets[index];
        let up_to_date = matches!(artifact, Artifact::UpToDate { .. });
        let dest = match &artifact {
            Artifact::UpToDate { plan, .. } => &plan.dest,
            Artifact::Open(open) => &open.plan.dest,
        };
        // A wheel shared by several targets is for each of them.
        let pythons: Vec<String> = shared
            .iter()
            .find(|(shared, _)| shared == dest)
            .map_or_else(
                || vec![target.interpreter.short_version()],
                |(_, members)| {
                    members
                        .iter()
                        .map(|&member| interpreters[member].short_version())
                        .collect()
                },
            );
        let python = pythons.join(", ");
        let (plan, written) = match artifact {
            Artifact::UpToDate {
                plan,
                recorded,
                warnings,
            } => {
                report.up_to_date.push(plan.dest.clone());
                // Nothing compiled: what the build that wrote it printed is printed again.
                replay(&mut report.compile_warnings, warnings);
                (plan, recorded)
            }
            Artifact::Open(open) => {
                let written = open.sink.finish()?;
                if let Some((records, fingerprint)) = &open.record {
                    let warnings = warnings_of(&report.compile_warnings, &pythons);
                    // Best effort: without a record the next build just writes again.
                    let _ = records.remember(&written, fingerprint, &warnings);
                }
                (open.plan, written)
            }
        };
        let sizes = crate::report::sizes::measure(
            &written,
            artifact_files(&plan, files, target),
            &python,
            config.optimize.level(),
        )?;
        lap(&mut report, format!("write {}", written.path.display()));
        report.artifacts.push(ArtifactReport {
            path: written.path,
            format: plan.format.name(),
            python,
            bytes: written.bytes,
            source_bytes: sizes.source_bytes,
            archive_bytes: sizes.archive_bytes,
            up_to_date,
        });
        report.bundles.push(sizes);
    }
    if config.optimize != Optimize::Zero
        && formats.contains(&OutputFormat::Dir)
        && (config.placement == Placement::Beside || !config.keep_source.is_empty())
    {
        let flag = if config.optimize == Optimize::One {
            "-O"
        } else {
            "-OO"
        };
        let level = config.optimize.level();
        report.notes.push(format!(
            "The `{}` pycs in `__pycache__` are used only by `python {flag}` (or PYTHONOPTIMIZE={level}); plain `python` compiles the sources again",
            config.optimize.pyc_tag()
        ));
    }
    report.duration = start.elapsed();
    Ok(report)
}

/// What pyc headers need of one module for one target: its source hash and size.
type Stamp = Option<([u8; 8], u64)>;

/// Name every artifact of every target before anything is written, so a clash writes nothing
/// (SPEC §6): `(destination, targets)` of each. A wheel that keeps its sources is the same file
/// for every target, so they share it; any other name given twice is an error.
fn name_artifacts(
    config: &Config,
    input: &Input,
    interpreters: &[Interpreter],
    formats: &[OutputFormat],
) -> Result<Vec<(std::path::PathBuf, Vec<usize>)>, Error> {
    let several = interpreters.len() > 1;
    let mut named: Vec<(std::path::PathBuf, Vec<usize>)> = Vec::new();
    for (index, interpreter) in interpreters.iter().enumerate() {
        let in_target = |err: PlanError| -> Error {
            if several {
                Error::from(err).for_target(&interpreter.short_version())
            } else {
                err.into()
            }
        };
        if let Some(project) = input.project() {
            plan::check_requires_python(project, interpreter).map_err(in_target)?;
        }
        for &format in formats {
            let plan = plan_artifact(config, input, interpreter, format).map_err(in_target)?;
            if config.claimed.contains(&plan.dest) {
                return Err(PlanError::ArtifactClash {
                    path: plan.dest,
                    hint: "another SOURCE of this call writes it too: build them with different `--out-dir`s",
                }
                .into());
            }
            let shareable = format == OutputFormat::Wheel && config.placement != Placement::Replace;
            match named.iter_mut().find(|(dest, _)| *dest == plan.dest) {
                Some((_, members)) if shareable && !members.contains(&index) => {
                    members.push(index);
                }
                Some(_) => {
                    return Err(PlanError::ArtifactClash {
                        path: plan.dest,
                        hint: "two targets are the same Python version: give each version once with `-p`",
                    }
                    .into());
                }
                None => named.push((plan.dest, vec![index])),
            }
        }
    }
    Ok(named)
}

/// How `plan`'s artifact lays out files for `interpreter`.
fn layout_options<'a>(
    config: &Config,
    plan: &ArtifactPlan,
    interpreter: &'a Interpreter,
    keep_source: &'a ignore::gitignore::Gitignore,
) -> LayoutOptions<'a> {
    let loader = match plan.format {
        OutputFormat::Dir | OutputFormat::Wheel => Loader::FileSystem,
        // `--extract` bundles are unpacked before anything is imported: beside a source, only
        // a `__pycache__` pyc is used there.
        OutputFormat::Zipapp if config.bundle.extract => Loader::FileSystem,
        OutputFormat::Zip | OutputFormat::Zipapp => Loader::Zip,
    };
    LayoutOptions {
        placement: config.placement,
        loader,
        cache_tag: &interpreter.cache_tag,
        optimize: config.optimize,
        keep_source,
        beside_invalidation: config.invalidation_for(Placement::Beside),
        sourceless_invalidation: config.invalidation_for(Placement::Replace),
    }
}

/// Where the compiled form of each of `files` goes (see [`OpenArtifact::pycs`]), for a target
/// joining a wheel whose sources and data an earlier target already added.
fn compiled_paths(
    files: &[SourceFile],
    options: &LayoutOptions<'_>,
) -> Vec<Vec<(String, Invalidation)>> {
    let mut pycs = vec![Vec::new(); files.len()];
    for entry in layout::plan(files, options) {
        if let Content::Compiled {
            index,
            invalidation,
        } = entry.content
        {
            pycs[index].push((entry.path, invalidation));
        }
    }
    pycs
}

impl Artifact {
    fn plan(&self) -> &ArtifactPlan {
        match self {
            Artifact::UpToDate { plan, .. } => plan,
            Artifact::Open(open) => &open.plan,
        }
    }
}

/// The files `plan`'s artifact carries: a wheel declares its dependencies instead of carrying
/// them, so it has the project's files only (they come first in `target.files`, so their
/// indices are the same).
fn artifact_files<'a>(
    plan: &ArtifactPlan,
    project: &'a [SourceFile],
    target: &'a Target,
) -> &'a [SourceFile] {
    if plan.format == OutputFormat::Wheel {
        project
    } else {
        &target.files
    }
}

/// Put the compiled `code` of file `index` into every artifact of `open` that carries it.
fn feed(
    config: &Config,
    target: &Target,
    open: &mut [&mut OpenArtifact],
    index: usize,
    code: &[u8],
) -> Result<(), SinkError> {
    let (hash, size) = target.stamps[index].unwrap_or_default();
    for artifact in open.iter_mut() {
        for (path, invalidation) in artifact.pycs.get(index).into_iter().flatten() {
            let header = pyc::header_for(
                target.interpreter.magic,
                *invalidation,
                hash,
                size,
                config.source_date_epoch,
            );
            let mut bytes = Vec::with_capacity(header.len() + code.len());
            bytes.extend_from_slice(&header);
            bytes.extend_from_slice(code);
            artifact.sink.add_bytes(path, &bytes, false)?;
        }
    }
    Ok(())
}

/// What `--with-deps` installs: `[project.dependencies]` (a wheel's `Requires-Dist`) and the
/// `-r` files. Nothing to install
/// is an error: the bundle would die with `ModuleNotFoundError`.
fn dependencies(config: &Config, input: &Input) -> Result<deps::Requirements, Error> {
    let project = input.project();
    let files = config.bundle.requirements.clone();
    if let Some(file) = files.iter().find(|file| !file.is_file()) {
        return Err(bundle::BundleError::MissingRequirements { path: file.clone() }.into());
    }
    let dynamic = project.is_some_and(|project| project.is_dynamic("dependencies"));
    if dynamic && files.is_empty() {
        return Err(bundle::BundleError::DynamicDependencies {
            path: config.source.join("pyproject.toml"),
        }
        .into());
    }
    let specs = match input.wheel_dependencies() {
        Some(requires) => requires?,
        None => project
            .filter(|_| !dynamic)
            .map(|project| project.dependencies.clone())
            .unwrap_or_default(),
    };
    let requirements = deps::Requirements { specs, files };
    if requirements.is_empty() {
        return Err(bundle::BundleError::NoDependencies {
            path: config.source.clone(),
        }
        .into());
    }
    Ok(requirements)
}

/// Every target: `-p`'s interpreters, then `--target`'s versions (no interpreter); what the
/// backend cannot build is said before anything is scanned.
fn resolve_all(config: &Config) -> Result<Vec<Interpreter>, Error> {
    let mut interpreters: Vec<Interpreter> = Vec::new();
    let resolved = config
        .pythons
        .iter()
        .map(|spec| resolve(spec).map_err(Error::from))
        .chain(
            config
                .targets
                .iter()
                .map(|spec| native::version_target(spec).map_err(Error::from)),
        );
    for interpreter in resolved {
        let interpreter = interpreter?;
        // `-p 3.12 -p python3.12` name one target: build it once.
        if !interpreters
            .iter()
            .any(|other| other.executable == interpreter.executable)
        {
            interpreters.push(interpreter);
        }
    }
    native::check_targets(config.backend, config.verify, &interpreters)?;
    Ok(interpreters)
}

/// Read every module once; data files are copied from disk when the artifact is written.
fn read_modules(files: &[SourceFile]) -> Result<Vec<Option<Arc<[u8]>>>, Error> {
    files
        .par_iter()
        .map(|file| match (file.kind, &file.contents) {
            (FileKind::Module, Some(contents)) => Ok(Some(Arc::clone(contents))),
            (FileKind::Module, None) => Ok(Some(Arc::from(fs_err::read(&file.path)?))),
            (FileKind::Data, _) => Ok(None),
        })
        .collect()
}

/// A digest of everything that decides the bytes of `plan`'s artifact: pyship's version, the
/// resolved options (all of them but `--jobs`, which never changes output), the target, the
/// generated metadata, and each file's path, kind and identity — a module by its source hash
/// and size, a data file on disk by its size and modification time (as make does), one in
/// memory by its content.
fn fingerprint(
    config: &Config,
    plan: &ArtifactPlan,
    members: &[(&Interpreter, &[Stamp])],
    files: &[SourceFile],
) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut options = config.clone();
    options.jobs = 0;
    // Nor does who compiles: the backends give the same bytes.
    options.backend = native::BackendChoice::default();
    // What of the file decides the artifact is already here: the options resolved from it,
    // the generated metadata and the files shipped.
    options.pyproject = None;
    options.claimed = Vec::new();
    hasher.update(env!("CARGO_PKG_VERSION"));
    hasher.update(format!("{options:?}\n{:?}\n", plan.format));
    for (interpreter, _) in members {
        hasher.update(format!("{interpreter:?}\n"));
    }
    hasher.update(format!("{:?}\n", plan.dist_info));
    for (path, bytes) in &plan.generated {
        hasher.update(format!("{path}:{}:", bytes.len()));
        hasher.update(bytes);
    }
    for (index, file) in files.iter().enumerate() {
        hasher.update(format!(
            "\n{}:{:?}:{}:",
            file.relative, file.kind, file.executable
        ));
        let stamps: Vec<([u8; 8], u64)> = members
            .iter()
            .filter_map(|(_, stamps)| stamps.get(index).copied().flatten())
            .collect();
        if !stamps.is_empty() {
            for (hash, size) in stamps {
                hasher.update(hash);
                hasher.update(size.to_le_bytes());
            }
        } else if let Some(contents) = &file.contents {
            hasher.update(Sha256::digest(contents));
        } else if let Ok(metadata) = fs_err::metadata(&file.path) {
            let modified = metadata
                .modified()
                .ok()
                .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                .unwrap_or_default();
            hasher.update(format!("{}:{}", metadata.len(), modified.as_nanos()));
        }
    }
    hasher.finalize().into()
}

/// How each of `files` is compiled, given what the analysis read of it (`analyzed` is empty
/// when nothing asked for the analysis); its warnings and notes go into `report`. The project's
/// files (the first `project` ones) are the same for every target: only the first target
/// reports on them.
fn decide(
    stripping: &Stripping,
    files: &[SourceFile],
    analyzed: &[Option<Analyzed>],
    project: usize,
    first_target: bool,
    said: &mut Said,
    report: &mut Report,
) -> Vec<Decision> {
    let mut kept = Vec::new();
    let decisions = files
        .iter()
        .enumerate()
        .map(|(index, file)| {
            let analyzed = analyzed.get(index).and_then(Option::as_ref);
            let decision = stripping.decide(&file.relative, analyzed);
            if file.kind != FileKind::Module || (index < project && !first_target) {
                return decision;
            }
            // Dependencies are named by their path in site-packages, not pip's staging.
            let shown = if index < project {
                file.path.to_string_lossy().into_owned()
            } else {
                file.relative.clone()
            };
            match analyzed {
                Some(Analyzed::Unreadable(why)) => report.details.push(format!(
                    "the Rust parser could not read {shown} ({why}): CPython compiles it as usual"
                )),
                Some(Analyzed::Read(facts)) if decision.stripped => report
                    .source_warnings
                    .extend(docstring_warnings(&shown, facts, said)),
                _ => {}
            }
            if decision.kept {
                kept.push(file.relative.clone());
            }
            decision
        })
        .collect();
    if first_target && let Some(first) = report.source_warnings.first() {
        let example = files
            .iter()
            .find(|file| file.path.to_string_lossy() == first.path)
            .map_or(first.path.as_str(), |file| file.relative.as_str());
        report.notes.push(format!(
            "a module that needs its docstrings can keep them: `--keep-docstrings {example}`"
        ));
    }
    if !kept.is_empty() {
        let count = kept.len();
        let mut named = kept.into_iter().take(3).collect::<Vec<_>>().join(", ");
        if count > 3 {
            named = format!("{named} and {} more", count - 3);
        }
        let modules = if count == 1 {
            "1 module keeps its docstrings".to_owned()
        } else {
            format!("{count} modules keep their docstrings")
        };
        report.notes.push(if stripping.optimize() == Optimize::Two {
            format!("{modules} (`--keep-docstrings`), compiled at -O: {named}")
        } else {
            format!("{modules} (`--keep-docstrings`): {named}")
        });
    }
    decisions
}

/// What pyc headers need of each module for `interpreter`: its source hash and size.
fn stamp_modules(interpreter: &Interpreter, sources: &[Option<Arc<[u8]>>]) -> Vec<Stamp> {
    sources
        .par_iter()
        .map(|source| {
            source.as_deref().map(|source| {
                let hash = pyc::source_hash(interpreter.magic, interpreter.version.minor, source);
                (hash, source.len() as u64)
            })
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

/// The modules pruning starts from: `--prune-from`, else the entry point (as the zipapp runs
/// it).
fn prune_roots(
    config: &Config,
    input: &Input,
    files: &[SourceFile],
) -> Result<Vec<String>, PruneError> {
    use crate::sink::zipapp::{EntryPoint, PROJECT_MAIN};
    if !config.analysis.prune_from.is_empty() {
        return Ok(config.analysis.prune_from.clone());
    }
    let entry = bundle::entry_point(config, input.project(), files).map_err(|err| {
        PruneError::NoEntryPoint {
            reason: err.to_string(),
        }
    })?;
    let module = match &entry {
        EntryPoint::Function(value) => value.split(':').next().unwrap_or_default(),
        // The project's own top-level `__main__.py`, renamed only in the zipapp.
        EntryPoint::Module(module) if module == PROJECT_MAIN => "__main__",
        EntryPoint::Module(module) => module,
    };
    Ok(vec![module.to_owned()])
}

/// Which of a target's `files` (dependencies included) the entry modules reach, given what the
/// analysis read of each (see [`crate::analysis::prune`]); what is left out goes to
/// `report.pruned`.
fn prune_target(
    config: &Config,
    input: &Input,
    python: &str,
    files: &[SourceFile],
    analyzed: &[Option<Analyzed>],
    report: &mut Report,
) -> Result<Vec<bool>, Error> {
    let roots = prune_roots(config, input, files)?;
    let include = &config.analysis.include;
    let paths: Vec<&str> = files
        .iter()
        .map(|file| install_path(&file.relative))
        .collect();
    let pruning = crate::analysis::prune::prune(&paths, analyzed, &roots, include)?;
    let mut pruned = Pruned {
        python: python.to_owned(),
        roots: roots.iter().chain(include).cloned().collect(),
        ..Pruned::default()
    };
    for index in pruning.dropped() {
        if crate::analysis::prune::module_name(paths[index]).is_some() {
            pruned.modules += 1;
        } else {
            pruned.data_files += 1;
        }
        pruned.bytes += files[index].size;
        pruned.dropped.push(DroppedFile {
            path: paths[index].to_owned(),
            bytes: files[index].size,
        });
    }
    pruned.outside = pruning
        .outside
        .iter()
        .map(|(module, &(index, line))| OutsideImport {
            module: module.clone(),
            path: paths[index].to_owned(),
            line,
        })
        .collect();
    pruned.kept_whole = pruning
        .kept_whole
        .iter()
        .map(|(index, why)| format!("{}: {why}", paths[*index]))
        .collect();
    report.pruned.push(pruned);
    Ok(pruning.kept)
}

/// The compile warnings among `warnings` that `pythons` gave, naming only those: what an
/// artifact for them records.
fn warnings_of(warnings: &[CompilerWarning], pythons: &[String]) -> Vec<CompilerWarning> {
    warnings
        .iter()
        .filter_map(|warning| {
            let python: Vec<String> = warning
                .python
                .iter()
                .filter(|python| pythons.contains(python))
                .cloned()
                .collect();
            (!python.is_empty()).then(|| CompilerWarning {
                python,
                ..warning.clone()
            })
        })
        .collect()
}

/// Add the recorded `warnings` of an up-to-date artifact to those of the build, each once.
fn replay(warnings: &mut Vec<CompilerWarning>, recorded: Vec<CompilerWarning>) {
    for warning in recorded {
        for python in &warning.python {
            let said = crate::compile::CompileWarning {
                line: warning.line,
                category: warning.category.clone(),
                message: warning.message.clone(),
            };
            CompilerWarning::add(warnings, &warning.path, said, python);
        }
    }
    sort_warnings(warnings);
}

/// By file then line; stable, so a module's warnings stay in CPython's order within a line.
fn sort_warnings(warnings: &mut [CompilerWarning]) {
    warnings.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
}

/// Keep the items of `items` whose `kept` is true.
fn retain_kept<T>(items: &mut Vec<T>, kept: &[bool]) {
    let mut kept = kept.iter();
    items.retain(|_| kept.next().copied().unwrap_or(true));
}

/// Compile every module of `target`, putting each one's code into the artifacts of `open` as
/// soon as it is known; syntax errors go to `report.failures`.
fn compile_target(
    config: &Config,
    target: &Target,
    sources: &[Option<Arc<[u8]>>],
    digests: Option<&[Option<SourceDigest>]>,
    reporter: &dyn Reporter,
    report: &mut Report,
    open: &mut [&mut OpenArtifact],
) -> Result<(), Error> {
    let interpreter = &target.interpreter;
    let mut indices = Vec::new();
    let mut requests = Vec::new();
    for (index, (file, source)) in target.files.iter().zip(sources).enumerate() {
        if let Some(source) = source {
            indices.push(index);
            requests.push(CompileRequest {
                source: Arc::clone(source),
                dfile: format!("{}{}", config.dfile_prefix, install_path(&file.relative)),
                options: target.decisions[index].options,
            });
        }
    }
    let cache = config.cache_dir.as_ref().map(Cache::new);
    // Hashed once in `run` for every target.
    let digests: Option<Vec<SourceDigest>> = digests.map(|digests| {
        indices
            .iter()
            .map(|&index| digests[index].expect("every module is hashed"))
            .collect()
    });
    let compiler = Compiler::new(config.backend, interpreter, config.jobs, config.verify)?;
    let mut failures = Failures::default();
    let mut compiling = false;
    let compiled = compile_all(
        compiler.backend(),
        cache.as_ref(),
        requests,
        digests.as_deref(),
        |event| {
            let answer = match event {
                Event::Compiling { misses } => {
                    compiling = true;
                    reporter.on_compile_start(&interpreter.short_version(), misses);
                    return Ok(());
                }
                Event::Answer(answer) => answer,
            };
            if !answer.cached {
                reporter.on_compiled(&answer.dfile);
            }
            if let Some(code) = failures.code(answer.index, answer.outcome) {
                feed(config, target, open, indices[answer.index], &code)?;
            }
            Ok::<(), Error>(())
        },
    );
    if compiling {
        reporter.on_compile_finish();
    }
    let Compiled {
        mut stats,
        write_error,
    } = compiled?;
    stats.workers = compiler.spawned();
    if let Some(log) = compiler.finish() {
        // Before the first fatal error: these name every module, not the first.
        log.check(interpreter)?;
        report.native.push(crate::report::NativeStats::new(
            interpreter.short_version(),
            &log,
        ));
    }
    report.cache += stats;
    if let Some(err) = write_error {
        report.warnings.push(err.warning(stats.write_errors));
    }
    let python = interpreter.short_version();
    for (index, warning) in failures.take_warnings() {
        let at = indices[index];
        let file = &target.files[at];
        // Named as the analysis names them: dependencies by their path in site-packages.
        let path = if at < target.project_files {
            file.path.to_string_lossy()
        } else {
            std::borrow::Cow::Borrowed(file.relative.as_str())
        };
        CompilerWarning::add(&mut report.compile_warnings, &path, warning, &python);
    }
    sort_warnings(&mut report.compile_warnings);
    for (index, error) in failures.finish()? {
        report.failures.push(Failure {
            path: target.files[indices[index]].path.clone(),
            line: error.line,
            column: error.column,
            message: error.message,
            python: interpreter.short_version(),
        });
    }
    Ok(())
}

/// What `plan`'s artifact would hold, for `--dry-run`.
fn dry_run(
    config: &Config,
    plan: &ArtifactPlan,
    target: &Target,
    input: &Input,
    keep_source: &ignore::gitignore::Gitignore,
    pruned: &[crate::report::Pruned],
) -> plan::listing::Listing {
    let files = artifact_files(plan, &input.files, target);
    let options = layout_options(config, plan, &target.interpreter, keep_source);
    let renamed;
    let files = if plan.format == OutputFormat::Zipapp {
        renamed = bundle::rename_main(files);
        &renamed[..]
    } else {
        files
    };
    let entries = layout::plan(files, &options);
    let python = target.interpreter.short_version();
    let mut listing = plan::listing::list(
        plan,
        python.clone(),
        files,
        &entries,
        &target.decisions,
        options.loader,
        config.optimize,
    );
    // What pruning left out of this target is listed too, as such.
    let dropped = pruned
        .iter()
        .filter(|pruned| pruned.python == python)
        .flat_map(|pruned| &pruned.dropped);
    listing
        .files
        .extend(dropped.map(|file| plan::listing::ListedFile::pruned(&file.path)));
    listing
}

/// Check whether `plan`'s artifact is up to date; if not, open its sink and add everything
/// but the compiled modules, which [`feed`] adds as they arrive.
fn start_artifact(
    config: &Config,
    plan: ArtifactPlan,
    target: &Target,
    members: &[(&Interpreter, &[Stamp])],
    input: &Input,
    keep_source: &ignore::gitignore::Gitignore,
) -> Result<Artifact, Error> {
    let files = artifact_files(&plan, &input.files, target);
    // Archives are rewritten only when something that goes into them changed (make-style,
    // recorded in the cache): a no-change rebuild compiles nothing and writes nothing.
    let record = config
        .cache_dir
        .as_ref()
        .filter(|_| plan.format != OutputFormat::Dir)
        .map(|dir| {
            (
                ArtifactRecords::new(dir),
                fingerprint(config, &plan, members, files),
            )
        });
    if let Some((records, fingerprint)) = &record
        && let Some(recorded) = records.up_to_date(&plan.dest, fingerprint)
    {
        return Ok(Artifact::UpToDate {
            plan,
            recorded: recorded.0,
            warnings: recorded.1,
        });
    }

    let interpreter = &target.interpreter;
    let dest = &plan.dest;
    let options = layout_options(config, &plan, interpreter, keep_source);
    let renamed;
    let files = if plan.format == OutputFormat::Zipapp {
        renamed = bundle::rename_main(files);
        &renamed[..]
    } else {
        files
    };
    let mut sink: Box<dyn Sink> = match plan.format {
        OutputFormat::Dir => Box::new(sink::dir::create(dest, config.source_date_epoch)?),
        OutputFormat::Wheel => Box::new(sink::wheel::create(
            dest,
            plan.dist_info.as_deref().unwrap_or_default(),
            config.source_date_epoch,
        )?),
        OutputFormat::Zipapp => Box::new(sink::zipapp::create(
            dest,
            sink::zipapp::ZipappOptions {
                mtime: config.source_date_epoch,
                shebang: config.bundle.shebang.clone().unwrap_or_else(|| {
                    sink::zipapp::default_shebang(
                        interpreter.version.major,
                        interpreter.version.minor,
                    )
                }),
                built_for: (interpreter.version.major, interpreter.version.minor),
                entry: bundle::entry_point(config, input.project(), files)?,
                extract: config.bundle.extract,
            },
        )?),
        OutputFormat::Zip => Box::new(sink::zip::create(
            dest,
            sink::zip::ZipOptions {
                mtime: config.source_date_epoch,
                ..sink::zip::ZipOptions::default()
            },
        )?),
    };
    for (path, bytes) in &plan.generated {
        sink.add_bytes(path, bytes, false)?;
    }
    // What `pyship verify` needs to build it again, for every target it carries.
    let targets: Vec<&Interpreter> = members.iter().map(|(member, _)| *member).collect();
    let facts_path = plan::facts::facts_path(&plan);
    sink.add_bytes(
        &facts_path,
        &plan::facts::BuildFacts::new(config, plan.format, &targets).to_json(),
        false,
    )?;
    let mut pycs = vec![Vec::new(); files.len()];
    for entry in layout::plan(files, &options) {
        match entry.content {
            // SOURCE is itself an artifact pyship built: its record gives way to this one's.
            Content::Copy { .. } if entry.path == facts_path => {}
            Content::Copy { index } => {
                let file = &files[index];
                match &file.contents {
                    Some(bytes) => sink.add_bytes(&entry.path, bytes, file.executable)?,
                    None if file.executable => {
                        let bytes = fs_err::read(&file.path)?;
                        sink.add_bytes(&entry.path, &bytes, true)?;
                    }
                    None => sink.add_file(&entry.path, &file.path)?,
                }
            }
            Content::Compiled {
                index,
                invalidation,
            } => pycs[index].push((entry.path, invalidation)),
        }
    }
    Ok(Artifact::Open(OpenArtifact {
        plan,
        sink,
        pycs,
        record,
    }))
}
