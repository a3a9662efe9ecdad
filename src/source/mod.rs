//! What `pyship build` reads (SPEC §1 `SOURCE`): a directory of modules, a PEP 621 project
//! (its packages, found by [`project::discover_packages`]), or a wheel from any build backend,
//! verified and held in memory (its members' paths then only name them inside the wheel), or
//! an sdist, unpacked safely and built as the project it holds ([`sdist`]).

pub mod deps;
pub mod dist_info;
pub mod pkg_info;
pub mod project;
pub mod sdist;
pub mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::settings::Config;
use crate::wheel::read::{Limits, open_wheel};
use crate::wheel::tags::{Tag, WheelFilename};
use project::Project;
use tree::{FileKind, SourceFile};

/// SOURCE could not be read as a tree, project or wheel, or overlaps the out-dir.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The tree could not be scanned.
    #[error(transparent)]
    Tree(#[from] tree::DiscoverError),
    /// `pyproject.toml` could not be used.
    #[error(transparent)]
    Project(#[from] project::ProjectError),
    /// The input wheel is malformed or unsafe.
    #[error(transparent)]
    Wheel(#[from] crate::wheel::WheelError),
    /// The input sdist is malformed or unsafe.
    #[error(transparent)]
    Sdist(#[from] sdist::SdistError),
    /// Reading SOURCE failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// SOURCE does not exist.
    #[error("`{}` does not exist", path.display())]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// SOURCE is a file of a kind pyship cannot build from.
    #[error("`{}` cannot be built: it is not a directory, a wheel or an sdist", path.display())]
    NotASource {
        /// The path given.
        path: PathBuf,
    },
    /// The out-dir and the source overlap: the scan leaves out the out-dir, so the artifact
    /// would lack what is in both.
    #[error("{reason}: choose an out-dir outside what is shipped, e.g. `{}` (the default)", default.display())]
    OutDirOverlaps {
        /// What overlaps what.
        reason: String,
        /// The default out-dir, which never overlaps.
        default: PathBuf,
    },
    /// A project with modules would ship none: all were excluded, ignored or linked out.
    #[error("No module of `{}` is left to ship: every one is excluded, ignored or outside the project", path.display())]
    NoModules {
        /// The source directory.
        path: PathBuf,
    },
}

/// A wheel given as `SOURCE`.
#[derive(Debug)]
pub struct WheelInput {
    /// Its parsed file name.
    pub filename: WheelFilename,
    /// `name-1.0.dist-info`.
    pub dist_info: String,
    /// The original `WHEEL` file's text (rewritten with new tags when retagged).
    pub wheel_file: String,
    /// Its `Tag:` lines.
    pub tags: Vec<Tag>,
}

/// The kinds of `SOURCE`.
#[derive(Debug)]
pub enum InputKind {
    /// A directory of modules and packages.
    Tree,
    /// A directory with a static PEP 621 `[project]` table.
    Project(Box<Project>),
    /// A wheel file.
    Wheel(Box<WheelInput>),
}

/// A loaded `SOURCE`: its files and what kind of thing it was.
#[derive(Debug)]
pub struct Input {
    /// Base name for artifacts: the project name, or the directory's name.
    pub name: String,
    /// Files to ship, sorted by relative path.
    pub files: Vec<SourceFile>,
    /// Skipped symlinks and the like.
    pub warnings: Vec<String>,
    /// What `SOURCE` was.
    pub kind: InputKind,
    /// Keeps the large members of a wheel `SOURCE` on disk while the build reads them.
    pub spill: Option<Arc<tempfile::TempDir>>,
}

impl Input {
    /// The PEP 621 project, when SOURCE is one.
    pub fn project(&self) -> Option<&Project> {
        match &self.kind {
            InputKind::Project(project) => Some(project),
            InputKind::Tree | InputKind::Wheel(_) => None,
        }
    }

    /// What a wheel SOURCE needs installed beside it: the `Requires-Dist` of its `METADATA`
    /// outside any extra (pip evaluates the other markers). `None` when SOURCE is no wheel.
    pub fn wheel_dependencies(&self) -> Option<Result<Vec<String>, std::io::Error>> {
        let InputKind::Wheel(wheel) = &self.kind else {
            return None;
        };
        let name = format!("{}/METADATA", wheel.dist_info);
        let file = self.files.iter().find(|file| file.relative == name)?;
        let text = match file.text() {
            Ok(text) => text,
            Err(err) => return Some(Err(err)),
        };
        let metadata = pkg_info::CoreMetadata::parse(&text).unwrap_or_default();
        Some(Ok(metadata
            .get_all("Requires-Dist")
            .filter(|requirement| !pkg_info::needs_extra(requirement))
            .map(str::to_owned)
            .collect()))
    }
}

/// Read `config.source`, leaving out `excludes` (gitignore-style, on top of the defaults) from
/// directories; a wheel's members are all kept. A directory is a PEP 621 project when
/// [`Config::pyproject`] (read by [`crate::settings::resolve`]) has a `[project]` table.
pub fn load(config: &Config, excludes: &[String]) -> Result<Input, SourceError> {
    let metadata = std::fs::metadata(&config.source);
    if metadata
        .as_ref()
        .is_err_and(|err| err.kind() == std::io::ErrorKind::NotFound)
    {
        return Err(SourceError::NotFound {
            path: config.source.clone(),
        });
    }
    if crate::settings::is_wheel(&config.source) {
        return load_wheel(&config.source);
    }
    match metadata {
        Ok(metadata) if !metadata.is_dir() => {
            if metadata.is_file() && crate::settings::is_sdist(&config.source) {
                return load_sdist(config, excludes);
            }
            return Err(SourceError::NotASource {
                path: config.source.clone(),
            });
        }
        // Other failures are reported by the scan, with the path.
        Ok(_) | Err(_) => {}
    }
    let project = match &config.pyproject {
        Some(pyproject) => project::load(&config.source, pyproject)?,
        None => None,
    };
    if let Some(project) = project {
        let roots = project::discover_packages(
            &config.source,
            config.packages.as_deref(),
            Some(&project.name),
        )?;
        check_overlap(config, Some(&roots))?;
        let mut scan = tree::discover(&roots.root, excludes, &config.out_dir)?;
        scan.files.retain(|file| {
            roots.entries.iter().any(|entry| {
                file.relative == *entry
                    || file
                        .relative
                        .strip_prefix(entry.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        });
        let has_modules = roots.entries.iter().any(|entry| {
            Path::new(entry)
                .extension()
                .is_some_and(|extension| extension == "py")
                || project::contains_python(&roots.root.join(entry))
        });
        if has_modules && !scan.files.iter().any(|file| file.kind == FileKind::Module) {
            return Err(SourceError::NoModules {
                path: config.source.clone(),
            });
        }
        return Ok(Input {
            name: project.name.clone(),
            files: scan.files,
            warnings: scan.warnings,
            kind: InputKind::Project(Box::new(project)),
            spill: None,
        });
    }
    check_overlap(config, None)?;
    let scan = tree::discover(&config.source, excludes, &config.out_dir)?;
    let no_modules =
        |scan: &tree::Scan| scan.files.iter().all(|file| file.kind != FileKind::Module);
    // Rare, so a second walk is cheap: were there modules before `--exclude` took them all?
    if no_modules(&scan)
        && !excludes.is_empty()
        && !no_modules(&tree::discover(&config.source, &[], &config.out_dir)?)
    {
        return Err(SourceError::NoModules {
            path: config.source.clone(),
        });
    }
    let name = fs_err::canonicalize(&config.source)
        .ok()
        .and_then(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "project".to_owned());
    Ok(Input {
        name,
        files: scan.files,
        warnings: scan.warnings,
        kind: InputKind::Tree,
        spill: None,
    })
}

/// An sdist SOURCE: unpacked into a temporary directory (kept alive by [`Input::spill`]) and
/// loaded from its top directory as a project directory, with the options of the command line
/// (its own `[tool.pyship]` is not read, as a wheel's is not). Its `dynamic` fields are taken
/// from its `PKG-INFO` where PEP 643 allows ([`sdist::resolve_dynamic`]); one without a
/// `[project]` table is refused, since only its backend knows what it installs.
fn load_sdist(config: &Config, excludes: &[String]) -> Result<Input, SourceError> {
    let unpacked = sdist::unpack(&config.source, sdist::Limits::default())?;
    let path = unpacked.root.join("pyproject.toml");
    let text = fs_err::read_to_string(&path)?;
    let mut inner = config.clone();
    inner.source.clone_from(&unpacked.root);
    inner.pyproject = Some(Arc::new(crate::settings::Pyproject {
        path,
        text: text.clone(),
    }));
    let mut input = load(&inner, excludes)?;
    match &mut input.kind {
        InputKind::Project(project) => {
            sdist::resolve_dynamic(project, &unpacked.root, &config.source)?;
        }
        InputKind::Tree | InputKind::Wheel(_) => {
            return Err(sdist::not_pep621_project(&config.source, &unpacked.root, &text).into());
        }
    }
    input.spill = Some(unpacked.dir);
    Ok(input)
}

/// `path` made absolute with symlinks resolved as far as it exists; the rest (which does not
/// exist yet) appended with `..` applied lexically.
fn resolve_partly(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    let mut resolved = loop {
        match std::fs::canonicalize(existing) {
            Ok(real) => break real,
            Err(_) => match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_owned());
                    existing = parent;
                }
                _ => break absolute.clone(),
            },
        }
    };
    // `file_name` skips `..` and `.`, so what is left over is plain names.
    for name in rest.into_iter().rev() {
        resolved.push(name);
    }
    Ok(resolved)
}

/// Refuse an out-dir that overlaps what is shipped: the source itself, a directory holding the
/// source, or a shipped package (`roots`, for a project; for a plain tree, a directory with
/// modules directly in it). The scan leaves out the out-dir, so any of these would silently
/// give an artifact missing modules. An out-dir inside the source but apart from the shipped
/// packages (the default `SOURCE/dist`) is fine.
fn check_overlap(
    config: &Config,
    roots: Option<&project::PackageRoots>,
) -> Result<(), SourceError> {
    let (Ok(source), Ok(out)) = (
        fs_err::canonicalize(&config.source),
        resolve_partly(&config.out_dir),
    ) else {
        // A missing source is reported by the scan.
        return Ok(());
    };
    let overlap = |reason: String| SourceError::OutDirOverlaps {
        reason,
        default: config.source.join("dist"),
    };
    let show = |path: &Path| path.display().to_string();
    if out == source {
        return Err(overlap(format!(
            "The out-dir `{}` is the source directory",
            show(&config.out_dir)
        )));
    }
    if source.starts_with(&out) {
        return Err(overlap(format!(
            "The source `{}` is inside the out-dir `{}`",
            show(&config.source),
            show(&config.out_dir)
        )));
    }
    if !out.starts_with(&source) {
        return Ok(());
    }
    let shipped: Vec<PathBuf> = match roots {
        Some(roots) => roots
            .entries
            .iter()
            .filter_map(|entry| fs_err::canonicalize(roots.root.join(entry)).ok())
            .filter(|path| path.is_dir())
            .collect(),
        // A plain tree ships everything; what makes a directory shipped is having modules.
        None => out
            .ancestors()
            .take_while(|dir| *dir != source)
            .filter(|dir| has_module(dir))
            .map(Path::to_path_buf)
            .collect(),
    };
    if let Some(dir) = shipped
        .iter()
        .find(|dir| out.starts_with(dir) || dir.starts_with(&out))
    {
        return Err(overlap(format!(
            "The out-dir `{}` overlaps `{}`, which is shipped",
            show(&config.out_dir),
            // As the user named the source.
            show(
                &dir.strip_prefix(&source)
                    .map_or_else(|_| dir.clone(), |rest| config.source.join(rest))
            )
        )));
    }
    Ok(())
}

/// Whether `dir` directly holds a `.py` file.
fn has_module(dir: &Path) -> bool {
    fs_err::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            entry
                .path()
                .extension()
                .is_some_and(|extension| extension == "py")
        })
    })
}

/// The path a module of a wheel is installed at, relative to site-packages: members of
/// `NAME.data/purelib/` and `NAME.data/platlib/` move to the top level on install.
pub fn install_path(relative: &str) -> &str {
    if let Some((first, rest)) = relative.split_once('/') {
        if is_data_dir(first) {
            for scheme in ["purelib/", "platlib/"] {
                if let Some(path) = rest.strip_prefix(scheme) {
                    return path;
                }
            }
        }
    }
    relative
}

/// `NAME-VERSION.data`: PEP 427 spells it exactly so; it is a directory, not an extension.
#[allow(clippy::case_sensitive_file_extension_comparisons)]
fn is_data_dir(name: &str) -> bool {
    name.ends_with(".data")
}

fn load_wheel(path: &Path) -> Result<Input, SourceError> {
    let contents = open_wheel(path, Limits::default())?;
    let dist_info = contents.dist_info.clone();
    // A wheel pyship wrote records how: this build writes its own record.
    let regenerated = [
        format!("{dist_info}/RECORD"),
        format!("{dist_info}/WHEEL"),
        format!("{dist_info}/{}", crate::plan::facts::DIST_INFO_FACTS),
    ];
    let wheel_file = contents
        .member(&regenerated[1])
        .map(|member| String::from_utf8_lossy(&member.bytes).into_owned())
        .unwrap_or_default();
    let mut warnings = Vec::new();
    let mut files: Vec<SourceFile> = Vec::new();
    // Consumed one member at a time, so each is in memory once.
    for member in contents.members {
        let relative = member.path.as_str();
        if regenerated.iter().any(|path| path == relative) {
            continue;
        }
        if relative.split('/').any(|part| part == "__pycache__") {
            warnings.push(format!(
                "Dropped `{relative}` from the wheel: stale bytecode is replaced by pyship's"
            ));
            continue;
        }
        // Modules are what lands in site-packages; scripts, headers, data and metadata are
        // carried untouched.
        let in_metadata = relative.starts_with(&format!("{dist_info}/"));
        let in_data = relative
            .split_once('/')
            .is_some_and(|(first, _)| is_data_dir(first))
            && install_path(relative) == relative;
        let is_module = Path::new(relative)
            .extension()
            .is_some_and(|extension| extension == "py")
            && !in_metadata
            && !in_data;
        // A large member was spilled to a temporary file: it is read from there like a
        // project's file.
        let (file_path, contents) = match member.spilled {
            Some(spilled) => (spilled, None),
            None => (path.join(relative), Some(Arc::from(member.bytes))),
        };
        files.push(SourceFile {
            path: file_path,
            relative: member.path,
            kind: if is_module {
                FileKind::Module
            } else {
                FileKind::Data
            },
            size: member.size,
            executable: member.executable,
            contents,
        });
    }
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(Input {
        name: contents.filename.name.clone(),
        files,
        warnings,
        spill: contents.spill,
        kind: InputKind::Wheel(Box::new(WheelInput {
            filename: contents.filename.clone(),
            dist_info,
            wheel_file,
            tags: contents.tags.clone(),
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOURCE's `pyproject.toml` is read once, by the settings stage: loading the project
    /// uses that text, whatever the file holds by then.
    #[test]
    fn the_project_is_loaded_from_the_file_read_by_the_settings() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        for (file, text) in [
            (
                "pyproject.toml",
                "[project]\nname = \"spam\"\nversion = \"1\"\n[tool.pyship]\npackages = [\"lib/eggs\"]\n",
            ),
            ("lib/eggs/__init__.py", ""),
            ("spam/__init__.py", ""),
        ] {
            fs_err::create_dir_all(root.join(file).parent().unwrap()).unwrap();
            fs_err::write(root.join(file), text).unwrap();
        }
        let config = crate::settings::resolve(crate::settings::Flags {
            source: root.to_path_buf(),
            ..crate::settings::Flags::default()
        })
        .unwrap();
        fs_err::remove_file(root.join("pyproject.toml")).unwrap();
        let input = load(&config, &[]).unwrap();
        assert_eq!(
            input.project().map(|project| project.version.as_str()),
            Some("1")
        );
        assert_eq!(input.name, "spam");
        let files: Vec<&str> = input
            .files
            .iter()
            .map(|file| file.relative.as_str())
            .collect();
        assert_eq!(files, ["eggs/__init__.py"]);
    }

    #[test]
    fn install_paths() {
        assert_eq!(install_path("pkg/mod.py"), "pkg/mod.py");
        assert_eq!(
            install_path("demo-1.0.data/purelib/pkg/mod.py"),
            "pkg/mod.py"
        );
        assert_eq!(install_path("demo-1.0.data/platlib/ext.py"), "ext.py");
        assert_eq!(
            install_path("demo-1.0.data/scripts/tool.py"),
            "demo-1.0.data/scripts/tool.py"
        );
    }
}
