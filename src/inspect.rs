//! `pyship inspect`: explain a `.pyc`, or an artifact (wheel, zip, zipapp, directory) module by
//! module. Takes a path and returns an [`Inspection`]; the library never prints.
//!
//! Nothing from the artifact is imported or executed: archives are read with the guards of
//! wheel input ([`crate::wheel::read`]: member names, symlinks, sizes, bombs; a wheel's
//! `RECORD` is checked too), a directory is walked without following symlinks and within the
//! same size limits, and pycs are read by [`crate::bytecode::summary`].
//!
//! Which file the loader uses is decided as the target's import system decides it:
//!
//! - In a directory or an installed wheel (`FileFinder`), `X.py` wins over `X.pyc`; beside a
//!   source, `__pycache__/X.<cache_tag>[.opt-N].pyc` is used when its magic number is the
//!   target's and, for a checked-hash pyc, its hash is the source's (else the source is
//!   compiled again); without a source, the legacy `X.pyc` is used if its magic number is the
//!   target's. The `.opt-N` level is the one the artifact was built with (`python -O`, `-OO`).
//! - In a zip or zipapp (zipimport), `X.pyc` is tried first and used when its magic number is
//!   the target's and, if checked-hash with the source present, its hash matches; else `X.py`.
//!
//! Timestamp pycs are taken as fresh when the source size matches: an installed or unzipped
//! file's mtime is not the artifact's to know.

// The import system matches `.py` and `.pyc` exactly (`importlib.machinery.SOURCE_SUFFIXES`).
#![allow(clippy::case_sensitive_file_extension_comparisons)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::bytecode::pyc::{self, HeaderKind};
use crate::bytecode::summary::{self, PycSummary, SummaryError};
use crate::plan::facts::{BuildFacts, TargetFacts, is_facts_path};
use crate::settings::OutputFormat;
use crate::source::install_path;
use crate::wheel::WheelError;
use crate::wheel::read::{self, Limits, Member};

/// Why a path could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Reading a file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The archive is unreadable or unsafe.
    #[error(transparent)]
    Archive(#[from] WheelError),
    /// The `.pyc` header is unreadable.
    #[error("Cannot read the pyc `{}`", path.display())]
    Pyc {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        err: SummaryError,
    },
    /// Nothing at the path.
    #[error("`{}` does not exist", path.display())]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// Neither a pyc, an archive nor a directory.
    #[error("`{}` is not a `.pyc`, wheel, zip, zipapp or directory", path.display())]
    NotAnArtifact {
        /// The path.
        path: PathBuf,
    },
    /// A file of a directory is larger than the limits allow.
    #[error("Refusing `{}`: `{member}` {reason}", path.display())]
    TooLarge {
        /// The directory.
        path: PathBuf,
        /// The file, relative.
        member: String,
        /// Which limit.
        reason: String,
    },
}

/// What `pyship inspect PATH` found.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Inspection {
    /// A single `.pyc`.
    Pyc(PycSummary),
    /// An artifact.
    Artifact(Box<ArtifactSummary>),
}

/// One file of an artifact, with what inspect and verify need of it.
#[derive(Debug, Clone)]
pub struct ArtifactFile {
    /// `/`-separated path inside the artifact.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Its sha256.
    pub digest: [u8; 32],
    /// The content of modules (`.py`, `.pyc`) and of the build-facts record; `None` otherwise.
    pub bytes: Option<Arc<[u8]>>,
}

/// An artifact read from disk: every file, sorted by path.
#[derive(Debug, Clone)]
pub struct ArtifactContents {
    /// Dir, zip, wheel or zipapp.
    pub format: OutputFormat,
    /// Every file (directories left out), sorted by path.
    pub files: Vec<ArtifactFile>,
    /// A wheel's `WHEEL` tags (`py3-none-any`).
    pub tags: Vec<String>,
}

impl ArtifactContents {
    /// The build-facts record, if the artifact has a readable one.
    pub fn facts(&self) -> Option<BuildFacts> {
        self.files
            .iter()
            .filter(|file| is_facts_path(&file.path))
            .find_map(|file| BuildFacts::from_json(file.bytes.as_deref()?))
    }
}

/// `pyship inspect` of an artifact.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArtifactSummary {
    /// `dir`, `zip`, `wheel` or `zipapp`.
    pub format: &'static str,
    /// The record pyship wrote into the artifact; `None` when there is none.
    pub facts: Option<BuildFacts>,
    /// The targets: the recorded ones, else those the pycs are for.
    pub targets: Vec<Target>,
    /// A wheel's tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The invalidation modes of the pycs' headers, sorted.
    pub invalidation_modes: Vec<&'static str>,
    /// Whether any module's source (`.py`) is shipped.
    pub sources_present: bool,
    /// Every module, sorted by name.
    pub modules: Vec<ModuleSummary>,
}

/// A target of an artifact, keyed as `pyship pythons --json` keys an interpreter (the
/// record in [`ArtifactSummary::facts`] is shown as stored, with its option-style keys).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    /// `3.12`.
    pub python: String,
    /// The first two bytes of the magic number, little-endian.
    pub magic_number: u16,
    /// `cpython-312`.
    pub cache_tag: String,
}

impl From<TargetFacts> for Target {
    fn from(target: TargetFacts) -> Target {
        Target {
            python: target.python,
            magic_number: target.magic_number,
            cache_tag: target.cache_tag,
        }
    }
}

/// One module of an artifact.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModuleSummary {
    /// The dotted module name, e.g. `pkg.sub` for `pkg/sub/__init__.py`.
    pub module: String,
    /// Its source in the artifact, if shipped.
    pub source: Option<String>,
    /// Per target, the file its import system loads.
    pub loads: Vec<Load>,
}

/// The file one target loads for a module.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Load {
    /// The target, `3.12`.
    pub python: String,
    /// The file used; `None` when the module cannot be imported by this target (a sourceless
    /// pyc of another version).
    pub file: Option<String>,
    /// `pycache` (PEP 3147), `legacy` (`X.pyc` in place of or beside `X.py`), `source`
    /// (compiled at import), or `none`.
    pub how: &'static str,
}

/// Inspect `path`: a `.pyc` file, a wheel, a zip, a zipapp or a directory.
pub fn inspect(path: &Path) -> Result<Inspection, InspectError> {
    let metadata = metadata(path)?;
    if metadata.is_file()
        && path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("pyc"))
    {
        if metadata.len() > Limits::default().max_member {
            return Err(InspectError::TooLarge {
                path: path.to_path_buf(),
                member: String::new(),
                reason: "is larger than a pyc can be".to_owned(),
            });
        }
        let bytes = fs_err::read(path)?;
        return summary::summarize(&bytes)
            .map(Inspection::Pyc)
            .map_err(|err| InspectError::Pyc {
                path: path.to_path_buf(),
                err,
            });
    }
    let contents = read_artifact(path)?;
    Ok(Inspection::Artifact(Box::new(summarize_artifact(
        &contents,
    ))))
}

/// Read the artifact at `path` (format from what it is: a directory, `.whl`, `.pyz` or a file
/// starting with `#!`, else a zip) within [`Limits::default`].
pub fn read_artifact(path: &Path) -> Result<ArtifactContents, InspectError> {
    let limits = Limits::default();
    let metadata = metadata(path)?;
    if metadata.is_dir() {
        return read_dir(path, limits);
    }
    if !metadata.is_file() {
        return Err(InspectError::NotAnArtifact {
            path: path.to_path_buf(),
        });
    }
    let extension = path
        .extension()
        .map(|extension| extension.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if extension == "whl" {
        let wheel = read::open_wheel(path, limits)?;
        let tags = wheel.tags.iter().map(ToString::to_string).collect();
        let files = members_to_files(wheel.members)?;
        return Ok(ArtifactContents {
            format: OutputFormat::Wheel,
            files,
            tags,
        });
    }
    let mut start = [0u8; 2];
    let read = {
        use std::io::Read as _;
        fs_err::File::open(path)?.read(&mut start)?
    };
    let format = if extension == "pyz" || (read == 2 && start == *b"#!") {
        OutputFormat::Zipapp
    } else {
        OutputFormat::Zip
    };
    let zip = read::read_zip(path, limits).map_err(|err| match err {
        WheelError::NotAnArchive { .. } if extension != "zip" && format != OutputFormat::Zipapp => {
            InspectError::NotAnArtifact {
                path: path.to_path_buf(),
            }
        }
        err => err.into(),
    })?;
    Ok(ArtifactContents {
        format,
        files: members_to_files(zip.members)?,
        tags: Vec::new(),
    })
}

/// What `path` is, following symlinks; a missing path said plainly.
fn metadata(path: &Path) -> Result<std::fs::Metadata, InspectError> {
    fs_err::metadata(path).map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            InspectError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            err.into()
        }
    })
}

/// Whether inspect and verify keep the content of the file at `path`.
fn keeps_bytes(path: &str) -> bool {
    is_module_file(path) || is_facts_path(path)
}

fn is_module_file(path: &str) -> bool {
    path.ends_with(".py") || path.ends_with(".pyc")
}

fn members_to_files(members: Vec<Member>) -> Result<Vec<ArtifactFile>, InspectError> {
    let mut files = Vec::with_capacity(members.len());
    for member in members {
        let keep = keeps_bytes(&member.path);
        let (digest, bytes) = match &member.spilled {
            // A large member stays on disk unless its content is needed.
            Some(spilled) if !keep => (digest_file(spilled)?, None),
            Some(spilled) => {
                let bytes = fs_err::read(spilled)?;
                (Sha256::digest(&bytes).into(), Some(Arc::from(bytes)))
            }
            None => (
                Sha256::digest(&member.bytes).into(),
                keep.then(|| Arc::from(member.bytes)),
            ),
        };
        files.push(ArtifactFile {
            digest,
            size: member.size,
            bytes,
            path: member.path,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The sha256 of the file at `path`, streamed.
fn digest_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut fs_err::File::open(path)?, &mut hasher)?;
    Ok(hasher.finalize().into())
}

/// Walk `root` without following symlinks (a symlink is left out, as pyship never writes
/// one), refusing a file or a total over `limits`.
fn read_dir(root: &Path, limits: Limits) -> Result<ArtifactContents, InspectError> {
    let mut files = Vec::new();
    let mut total: u64 = 0;
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in fs_err::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = format!("{prefix}{name}");
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push((entry.path(), format!("{relative}/")));
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let too_large = |reason: String| InspectError::TooLarge {
                path: root.to_path_buf(),
                member: relative.clone(),
                reason,
            };
            let size = entry.metadata()?.len();
            total = total.saturating_add(size);
            if size > limits.max_member {
                return Err(too_large(format!(
                    "is {size} bytes, over the {} byte limit",
                    limits.max_member
                )));
            }
            if total > limits.max_total_uncompressed {
                return Err(too_large(format!(
                    "brings the total to more than {} bytes",
                    limits.max_total_uncompressed
                )));
            }
            let (digest, bytes) = if keeps_bytes(&relative) {
                let bytes = fs_err::read(entry.path())?;
                (Sha256::digest(&bytes).into(), Some(Arc::from(bytes)))
            } else {
                (digest_file(&entry.path())?, None)
            };
            files.push(ArtifactFile {
                path: relative,
                size,
                digest,
                bytes,
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(ArtifactContents {
        format: OutputFormat::Dir,
        files,
        tags: Vec::new(),
    })
}

/// The dotted module name of the artifact path `path` (`.py` or legacy `.pyc`, not in
/// `__pycache__`), where a wheel installs it; `None` for anything else.
pub fn module_name(path: &str) -> Option<String> {
    let installed = install_path(path);
    let stem = installed
        .strip_suffix(".py")
        .or_else(|| installed.strip_suffix(".pyc"))?;
    let mut parts: Vec<&str> = stem.split('/').collect();
    if parts.iter().any(|part| {
        *part == "__pycache__"
            || part.ends_with(".dist-info")
            || part.ends_with(".data")
            || part.is_empty()
    }) {
        return None;
    }
    if parts.last() == Some(&"__init__") && parts.len() > 1 {
        parts.pop();
    }
    Some(parts.join("."))
}

/// The module's `__pycache__` file for `cache_tag` at `optimize` (PEP 3147, PEP 488).
fn pycache_path(source: &str, cache_tag: &str, optimize: u8) -> String {
    let level = crate::compile::Optimize::from_level(i64::from(optimize)).unwrap_or_default();
    crate::plan::layout::cache_path(source, cache_tag, level)
}

/// What the pyc header says, if it can be read.
fn header(file: &ArtifactFile) -> Option<pyc::PycHeader> {
    pyc::parse_header(file.bytes.as_deref()?).ok()
}

/// Whether a pyc with `header` is used for `source` by `target` (see the module docs).
fn usable(header: Option<pyc::PycHeader>, target: &Target, source: Option<&ArtifactFile>) -> bool {
    let Some(header) = header else {
        return false;
    };
    if u16::from_le_bytes([header.magic[0], header.magic[1]]) != target.magic_number
        || header.magic[2..] != *b"\r\n"
    {
        return false;
    }
    let Some(source) = source else {
        return true;
    };
    match header.kind {
        HeaderKind::Hash { checked: false, .. } => true,
        HeaderKind::Hash {
            checked: true,
            hash,
        } => {
            let minor = pyc::version_for_magic(header.magic).map_or(0, |(_, minor)| minor);
            source
                .bytes
                .as_deref()
                .is_some_and(|bytes| pyc::source_hash(header.magic, minor, bytes) == hash)
        }
        HeaderKind::Timestamp { size, .. } => source.size as u32 == size,
    }
}

/// The artifact's targets: the recorded ones, else one per magic number of its pycs.
fn targets(contents: &ArtifactContents, facts: Option<&BuildFacts>) -> Vec<Target> {
    if let Some(facts) = facts.filter(|facts| !facts.targets.is_empty()) {
        return facts.targets.iter().cloned().map(Target::from).collect();
    }
    let magics: BTreeSet<[u8; 4]> = contents
        .files
        .iter()
        .filter(|file| file.path.ends_with(".pyc"))
        .filter_map(|file| header(file).map(|header| header.magic))
        .collect();
    magics
        .into_iter()
        .filter_map(|magic| {
            let (major, minor) = pyc::version_for_magic(magic)?;
            Some(Target {
                cache_tag: format!("cpython-{major}{minor}"),
                magic_number: u16::from_le_bytes([magic[0], magic[1]]),
                python: format!("{major}.{minor}"),
            })
        })
        .collect()
}

/// Summarize `contents` for `pyship inspect`.
pub fn summarize_artifact(contents: &ArtifactContents) -> ArtifactSummary {
    let facts = contents.facts();
    let targets = targets(contents, facts.as_ref());
    let by_path: BTreeMap<&str, &ArtifactFile> = contents
        .files
        .iter()
        .map(|file| (file.path.as_str(), file))
        .collect();
    let zipimport = matches!(contents.format, OutputFormat::Zip | OutputFormat::Zipapp);
    let extract = facts.as_ref().is_some_and(|facts| facts.extract);
    let optimize = facts.as_ref().map_or(0, |facts| facts.optimize);
    let invalidation_modes: BTreeSet<&'static str> = contents
        .files
        .iter()
        .filter(|file| file.path.ends_with(".pyc"))
        .filter_map(|file| {
            Some(match header(file)?.kind {
                HeaderKind::Timestamp { .. } => "timestamp",
                HeaderKind::Hash { checked: true, .. } => "checked-hash",
                HeaderKind::Hash { checked: false, .. } => "unchecked-hash",
            })
        })
        .collect();
    // Module name → (source path, legacy pyc path).
    let mut modules: BTreeMap<String, (Option<&str>, Option<&str>)> = BTreeMap::new();
    for file in &contents.files {
        let Some(name) = module_name(&file.path) else {
            continue;
        };
        let slot = modules.entry(name).or_default();
        if file.path.ends_with(".py") {
            slot.0 = Some(&file.path);
        } else {
            slot.1 = Some(&file.path);
        }
    }
    let sources_present = modules.values().any(|(source, _)| source.is_some());
    let modules = modules
        .into_iter()
        .map(|(module, (source, legacy))| {
            let source_file = source.and_then(|path| by_path.get(path).copied());
            let legacy_file = legacy.and_then(|path| by_path.get(path).copied());
            let loads = targets
                .iter()
                .map(|target| {
                    let load = |file: Option<&str>, how| Load {
                        python: target.python.clone(),
                        file: file.map(str::to_owned),
                        how,
                    };
                    // An `--extract` zipapp is unpacked first, then read as a directory.
                    if zipimport && !extract {
                        if let Some(pyc) = legacy_file
                            && usable(header(pyc), target, source_file)
                        {
                            return load(legacy, "legacy");
                        }
                        return match source {
                            Some(_) => load(source, "source"),
                            None => load(None, "none"),
                        };
                    }
                    match source {
                        Some(source_path) => {
                            let cached = pycache_path(source_path, &target.cache_tag, optimize);
                            match by_path.get(cached.as_str()) {
                                Some(pyc) if usable(header(pyc), target, source_file) => Load {
                                    python: target.python.clone(),
                                    file: Some(cached),
                                    how: "pycache",
                                },
                                _ => load(source, "source"),
                            }
                        }
                        None => match legacy_file {
                            Some(pyc) if usable(header(pyc), target, None) => {
                                load(legacy, "legacy")
                            }
                            _ => load(None, "none"),
                        },
                    }
                })
                .collect();
            ModuleSummary {
                module,
                source: source.map(str::to_owned),
                loads,
            }
        })
        .collect();
    ArtifactSummary {
        format: contents.format.name(),
        facts,
        targets,
        tags: contents.tags.clone(),
        invalidation_modes: invalidation_modes.into_iter().collect(),
        sources_present,
        modules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        assert_eq!(module_name("pkg/__init__.py").as_deref(), Some("pkg"));
        assert_eq!(module_name("pkg/mod.pyc").as_deref(), Some("pkg.mod"));
        assert_eq!(module_name("app.py").as_deref(), Some("app"));
        assert_eq!(module_name("__init__.py").as_deref(), Some("__init__"));
        assert_eq!(
            module_name("x-1.0.data/purelib/pkg/a.py").as_deref(),
            Some("pkg.a")
        );
        assert_eq!(module_name("x-1.0.data/scripts/a.py"), None);
        assert_eq!(module_name("pkg/__pycache__/a.cpython-312.pyc"), None);
        assert_eq!(module_name("x-1.0.dist-info/a.py"), None);
        assert_eq!(module_name("pkg/data.json"), None);
    }
}
