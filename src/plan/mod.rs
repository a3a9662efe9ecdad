//! The plan stage, pure: what each artifact is called, which files go where in it
//! ([`layout`]), and the files pyship generates for it (wheel metadata, [`bundle`]'s zipapp entry
//! point). Takes the resolved [`Config`], the loaded [`Input`] and a target [`Interpreter`];
//! returns an [`ArtifactPlan`]. Starts no process and writes nothing.

pub mod bundle;
pub mod facts;
pub mod layout;
pub mod listing;

use std::path::PathBuf;

use crate::interpreter::Interpreter;
use crate::settings::{Config, OutputFormat, Placement};
use crate::source::project::{Project, ProjectError};
use crate::source::{Input, InputKind};
use crate::wheel::metadata::{
    render_entry_points, render_metadata, render_wheel_file, strip_long_description,
};
use crate::wheel::tags::{Tag, WheelFilename, retag_sourceless, rewrite_wheel_file};
use crate::wheel::{dist_info_dir, wheel_name_component, wheel_version_component};

/// An artifact cannot be planned as asked.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The input wheel holds binaries for another CPython than the target.
    #[error("`{wheel}` is built for {tag}, but the target is CPython {target}")]
    WheelForOtherPython {
        /// The input wheel's file name.
        wheel: String,
        /// The offending tag.
        tag: String,
        /// The target version, e.g. `3.12`.
        target: String,
    },
    /// A wheel was asked of a directory without a PEP 621 project.
    #[error("A wheel needs a `pyproject.toml` with a `[project]` table in `{}` (or a wheel as SOURCE)", path.display())]
    WheelNeedsProject {
        /// The source directory.
        path: PathBuf,
    },
    /// Two artifacts of this build would have the same path.
    #[error("Two artifacts of this build would both be written to `{}`", path.display())]
    ArtifactClash {
        /// The path.
        path: PathBuf,
        /// Why it happens.
        hint: &'static str,
    },
    /// The project's `requires-python` excludes the target: whatever is built cannot be used.
    #[error("`{project}` requires Python `{requires}`, but the target is CPython {target}")]
    RequiresPython {
        /// The project's name.
        project: String,
        /// `requires-python`, e.g. `>=3.12`.
        requires: String,
        /// The target's full version, e.g. `3.9.18`.
        target: String,
    },
    /// `requires-python` is not a PEP 440 version specifier.
    #[error("Invalid `project.requires-python` `{requires}`: {reason}")]
    InvalidRequiresPython {
        /// The value.
        requires: String,
        /// Why.
        reason: String,
    },
    /// The project's metadata cannot make a wheel (`dynamic` fields).
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// An sdist's project has `dynamic` fields that its `PKG-INFO` does not give.
    #[error(
        "`{}` declares dynamic metadata that its `PKG-INFO` does not give: {}; only the project's own build backend can compute it",
        path.display(),
        missing.iter().map(|(field, why)| format!("`{field}` ({why})")).collect::<Vec<_>>().join(", ")
    )]
    SdistDynamic {
        /// The sdist.
        path: PathBuf,
        /// Each field, with why `PKG-INFO` does not give it.
        missing: Vec<(String, String)>,
        /// How to build the wheel with that backend and convert it.
        hint: String,
    },
}

impl PlanError {
    /// What the user can do about it, as a `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            PlanError::ArtifactClash { hint, .. } => Some((*hint).to_owned()),
            PlanError::RequiresPython { .. } => Some(
                "choose a target that `requires-python` allows with `-p` (`pyship pythons` lists them)"
                    .to_owned(),
            ),
            PlanError::SdistDynamic { hint, .. } => Some(hint.clone()),
            _ => None,
        }
    }
}

/// Refuse a target that the project's `requires-python` excludes (SPEC §6): a wheel for it
/// would never install, a bundle would not run.
pub fn check_requires_python(
    project: &crate::source::project::Project,
    interpreter: &Interpreter,
) -> Result<(), PlanError> {
    use std::str::FromStr as _;
    let Some(requires) = &project.requires_python else {
        return Ok(());
    };
    let specifiers = pep440_rs::VersionSpecifiers::from_str(requires).map_err(|err| {
        PlanError::InvalidRequiresPython {
            requires: requires.clone(),
            reason: err.to_string(),
        }
    })?;
    let version = interpreter.version;
    let release = |micro: u8| {
        pep440_rs::Version::new([
            u64::from(version.major),
            u64::from(version.minor),
            u64::from(micro),
        ])
    };
    // A target given by version alone (`--target 3.12`) is every release of that minor, which
    // all load the same bytecode: it is allowed when one of them is (`>=3.12.1` allows 3.12).
    let version_only = crate::compile::native::is_version_only(interpreter);
    let allowed = if version_only {
        (0..=u8::MAX).any(|micro| specifiers.contains(&release(micro)))
    } else {
        specifiers.contains(&release(version.micro))
    };
    if allowed {
        Ok(())
    } else {
        Err(PlanError::RequiresPython {
            project: project.name.clone(),
            requires: requires.clone(),
            target: if version_only {
                format!("{}.{}", version.major, version.minor)
            } else {
                version.to_string()
            },
        })
    }
}

/// `wheel` for a PEP 621 project or a wheel, `dir` for a plain directory (SPEC §1).
pub fn default_format(kind: &InputKind) -> OutputFormat {
    match kind {
        InputKind::Tree => OutputFormat::Dir,
        InputKind::Project(_) | InputKind::Wheel(_) => OutputFormat::Wheel,
    }
}

/// One artifact to write: where, in which format, and for wheels the metadata to add.
#[derive(Debug)]
pub struct ArtifactPlan {
    /// Its format.
    pub format: OutputFormat,
    /// Where it is written.
    pub dest: PathBuf,
    /// For wheels: the `.dist-info` directory name.
    pub dist_info: Option<String>,
    /// Files pyship writes besides the laid-out project (wheel metadata).
    pub generated: Vec<(String, Vec<u8>)>,
}

/// Name the artifact of `format` for `interpreter` and prepare its metadata.
pub fn plan_artifact(
    config: &Config,
    input: &Input,
    interpreter: &Interpreter,
    format: OutputFormat,
) -> Result<ArtifactPlan, PlanError> {
    let tag = format!(
        "cp{}{}",
        interpreter.version.major, interpreter.version.minor
    );
    let base = safe_file_name(&input.name);
    let simple = |dest: PathBuf| ArtifactPlan {
        format,
        dest,
        dist_info: None,
        generated: Vec::new(),
    };
    let mut plan = match format {
        OutputFormat::Dir => simple(config.out_dir.join(format!("{base}-{tag}"))),
        OutputFormat::Zip => simple(config.out_dir.join(format!("{base}-{tag}.zip"))),
        OutputFormat::Zipapp => simple(config.out_dir.join(format!("{base}-{tag}.pyz"))),
        OutputFormat::Wheel => return plan_wheel(config, input, interpreter),
    };
    match &input.kind {
        // A wheel laid out as a directory or zip keeps its metadata as it was.
        InputKind::Wheel(wheel) => plan.generated.push((
            format!("{}/WHEEL", wheel.dist_info),
            wheel.wheel_file.clone().into_bytes(),
        )),
        InputKind::Project(project) => plan
            .generated
            .extend(bundle_dist_info(project, config.bundle.slim)),
        InputKind::Tree => {}
    }
    Ok(plan)
}

/// The project's own `.dist-info` in a bundle (SPEC §6), so that `importlib.metadata` finds
/// its version and entry points there as it does for its dependencies: `METADATA`,
/// `entry_points.txt` and the license files, as in the wheel; `--slim` drops the long
/// description. None when the version is dynamic: a dist-info needs one in its name.
pub fn bundle_dist_info(project: &Project, slim: bool) -> Vec<(String, Vec<u8>)> {
    if project.is_dynamic("version") {
        return Vec::new();
    }
    let dist_info = dist_info_dir(&project.name, &project.version);
    let mut files = dist_info_files(project, &dist_info);
    if slim && let Some((_, metadata)) = files.first_mut() {
        *metadata = strip_long_description(&String::from_utf8_lossy(metadata)).into_bytes();
    }
    files
}

/// Why a bundle of `project` carries no or incomplete metadata, when it does: a field that
/// only the build backend knows (`dynamic`) cannot be written by pyship.
pub fn bundle_metadata_warning(project: &Project) -> Option<String> {
    let fields = project
        .dynamic
        .iter()
        .map(|field| format!("`{field}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if project.is_dynamic("version") {
        Some(format!(
            "Bundles carry no `.dist-info` for `{name}`: its version is dynamic (only its build backend knows it), so `importlib.metadata.version(\"{name}\")` raises PackageNotFoundError inside them",
            name = project.name
        ))
    } else if project.dynamic.is_empty() {
        None
    } else {
        Some(format!(
            "The `.dist-info` of `{}` in bundles leaves out its dynamic fields ({fields}): only the build backend knows them",
            project.name
        ))
    }
}

/// `METADATA` (first), `entry_points.txt` and `licenses/` of `project` under `dist_info`.
/// `METADATA` is rendered from `[project]`, or is the sdist's `PKG-INFO` when that gave fields
/// `[project]` leaves dynamic (PEP 643: a wheel built from the sdist has these values).
fn dist_info_files(project: &Project, dist_info: &str) -> Vec<(String, Vec<u8>)> {
    let metadata = match project
        .sdist
        .as_ref()
        .and_then(|sdist| sdist.core_metadata.as_ref())
    {
        Some(pkg_info) => pkg_info.clone(),
        None => render_metadata(project),
    };
    let mut files = vec![(format!("{dist_info}/METADATA"), metadata.into_bytes())];
    if let Some(entry_points) = render_entry_points(project) {
        files.push((
            format!("{dist_info}/entry_points.txt"),
            entry_points.into_bytes(),
        ));
    }
    for file in &project.license_files {
        files.push((
            format!("{dist_info}/licenses/{}", file.path),
            file.content.clone(),
        ));
    }
    files
}

/// The wheel for `interpreter`: retagged when sourceless (SPEC §6), with PEP 427 metadata.
fn plan_wheel(
    config: &Config,
    input: &Input,
    interpreter: &Interpreter,
) -> Result<ArtifactPlan, PlanError> {
    let minor = interpreter.version.minor;
    let sourceless = config.placement == Placement::Replace;
    let target = format!("cp3{minor}");
    let generator = concat!("pyship ", env!("CARGO_PKG_VERSION"));
    let (filename, dist_info, generated) = match &input.kind {
        InputKind::Tree => {
            return Err(PlanError::WheelNeedsProject {
                path: config.source.clone(),
            });
        }
        InputKind::Project(project) => {
            if let Some(sdist) = project
                .sdist
                .as_ref()
                .filter(|_| !project.dynamic.is_empty())
            {
                return Err(PlanError::SdistDynamic {
                    path: sdist.path.clone(),
                    missing: sdist.missing.clone(),
                    hint: sdist.hint.clone(),
                });
            }
            if !project.dynamic.is_empty() {
                return Err(ProjectError::Dynamic {
                    path: config.source.join("pyproject.toml"),
                    fields: project.dynamic.clone(),
                }
                .into());
            }
            let tags = if sourceless {
                vec![Tag::new(&target, "none", "any")]
            } else {
                vec![Tag::new("py3", "none", "any")]
            };
            let filename = WheelFilename {
                name: wheel_name_component(&project.name),
                version: wheel_version_component(&project.version),
                build: None,
                tags: tags.clone(),
            };
            let dist_info = dist_info_dir(&project.name, &project.version);
            let mut generated = dist_info_files(project, &dist_info);
            generated.insert(
                1,
                (
                    format!("{dist_info}/WHEEL"),
                    render_wheel_file(generator, true, &tags).into_bytes(),
                ),
            );
            (filename, dist_info, generated)
        }
        InputKind::Wheel(wheel) => {
            let tags = if sourceless {
                retag_sourceless(&wheel.tags, minor)
            } else {
                wheel.tags.clone()
            };
            // Binaries for another CPython cannot work next to this target's bytecode.
            if let Some(tag) = tags
                .iter()
                .find(|tag| tag.abi.starts_with("cp3") && tag.abi != target)
            {
                return Err(PlanError::WheelForOtherPython {
                    wheel: wheel.filename.to_string(),
                    tag: tag.to_string(),
                    target: interpreter.short_version(),
                });
            }
            let wheel_file = if tags == wheel.tags {
                wheel.wheel_file.clone()
            } else {
                rewrite_wheel_file(&wheel.wheel_file, &tags)
            };
            let generated = vec![(
                format!("{}/WHEEL", wheel.dist_info),
                wheel_file.into_bytes(),
            )];
            (
                wheel.filename.with_tags(tags),
                wheel.dist_info.clone(),
                generated,
            )
        }
    };
    Ok(ArtifactPlan {
        format: OutputFormat::Wheel,
        dest: config.out_dir.join(filename.to_string()),
        dist_info: Some(dist_info),
        generated,
    })
}

/// Keep artifact names to characters that are safe in a file name everywhere.
fn safe_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
