//! `pyproject.toml` (as [`crate::settings::resolve`] read it): static PEP 621 metadata
//! ([`load`]) and the packages a project wheel ships ([`discover_packages`]). Its
//! `[tool.pyship]` table belongs to [`crate::settings::tool`].
//!
//! PEP 621: <https://packaging.python.org/en/latest/specifications/pyproject-toml/>

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::settings::Pyproject;

/// Why `pyproject.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// Reading `pyproject.toml` or a file it names failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Not TOML, or a value of the wrong type or an unknown key where keys are checked.
    #[error("Failed to parse `{}`", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        err: toml::de::Error,
    },
    /// A wheel needs `[project]` fields that are `dynamic`: only the project's build backend can
    /// fill them in.
    #[error(
        "`{}` declares dynamic metadata ({}), which only the project's own build backend can compute: build the wheel with it (e.g. `python -m build --wheel`) and pass that wheel to pyship",
        path.display(),
        fields.iter().map(|field| format!("`{field}`")).collect::<Vec<_>>().join(", ")
    )]
    Dynamic {
        /// The file.
        path: PathBuf,
        /// The fields listed in `dynamic`.
        fields: Vec<String>,
    },
    /// A required `[project]` field is absent.
    #[error("`{}` has no `project.{field}`", path.display())]
    MissingField {
        /// The file.
        path: PathBuf,
        /// The field, e.g. `version`.
        field: &'static str,
    },
    /// A `[project]` field is present but unusable.
    #[error("Invalid `project.{field}` in `{}`: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A file named by `[project]` (readme, license) could not be read.
    #[error("Failed to read `{}`, named by `project.{field}`", path.display())]
    ReadFile {
        /// The file named.
        path: PathBuf,
        /// The field naming it.
        field: &'static str,
        /// Why.
        #[source]
        err: std::io::Error,
    },
    /// A path named by `pyproject.toml` resolves (after symlinks) outside the project: it is
    /// never read, so an untrusted project cannot put host files into its artifact.
    #[error("`{key}` points outside the project: `{}`", path.display())]
    Outside {
        /// The key naming it, e.g. `project.readme`.
        key: String,
        /// The path as written.
        path: PathBuf,
    },
    /// A path named by `pyproject.toml` is a FIFO, socket or device: reading it could hang.
    #[error("`{key}` is not a regular file: `{}`", path.display())]
    NotAFile {
        /// The key naming it.
        key: String,
        /// The path as written.
        path: PathBuf,
    },
    /// A discovered package directory or module is a symlink out of the project.
    #[error(
        "Package `{entry}` points outside the project (to `{}`): move it into the project, or list the packages to ship in `[tool.pyship] packages`",
        target.display()
    )]
    PackageOutside {
        /// The package, relative to the project.
        entry: String,
        /// Where it resolves to.
        target: PathBuf,
    },
    /// An entry of `[tool.pyship] packages` cannot be shipped.
    #[error("Invalid `tool.pyship.packages` entry `{entry}`: {reason}")]
    Package {
        /// The entry as written.
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// Package discovery found nothing to ship.
    #[error(
        "No Python package or module found in `{}` (looked for a `src/` layout and top-level packages); list them in `[tool.pyship] packages`",
        dir.display()
    )]
    NoPackages {
        /// The project directory.
        dir: PathBuf,
    },
}

/// A person from `authors` or `maintainers`; at least one of the two is set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// The name.
    pub name: Option<String>,
    /// The email address.
    pub email: Option<String>,
}

/// The long description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readme {
    /// The text.
    pub content: String,
    /// The MIME type, e.g. `text/markdown`, for `Description-Content-Type`.
    pub content_type: String,
}

/// `project.license`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum License {
    /// A string: an SPDX license expression (PEP 639), written as `License-Expression`.
    Expression(String),
    /// `{ text = "…" }`.
    Text(String),
    /// `{ file = "…" }`: the file's path relative to the project and its content.
    File {
        /// As written in `pyproject.toml`, `/`-separated.
        path: String,
        /// The file's text.
        content: String,
    },
}

impl License {
    /// The expression, or the text for the `License` core metadata field.
    pub fn text(&self) -> &str {
        match self {
            License::Expression(text) | License::Text(text) => text,
            License::File { content, .. } => content,
        }
    }
}

/// Static PEP 621 metadata of a project, with files (readme, license) already read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Project {
    /// `name`, as written (see [`crate::wheel::normalize_name`]).
    pub name: String,
    /// `version`, normalized (PEP 440); empty when it is `dynamic`.
    pub version: String,
    /// `description`: one line.
    pub description: Option<String>,
    /// `readme`, read.
    pub readme: Option<Readme>,
    /// `requires-python`, a PEP 440 specifier set.
    pub requires_python: Option<String>,
    /// `license`.
    pub license: Option<License>,
    /// The files `license-files` (PEP 639) matched, sorted by path.
    pub license_files: Vec<LicenseFile>,
    /// `authors`.
    pub authors: Vec<Person>,
    /// `maintainers`.
    pub maintainers: Vec<Person>,
    /// `keywords`.
    pub keywords: Vec<String>,
    /// `classifiers`.
    pub classifiers: Vec<String>,
    /// `urls`: label → URL.
    pub urls: BTreeMap<String, String>,
    /// `dependencies`: PEP 508 requirements.
    pub dependencies: Vec<String>,
    /// `optional-dependencies`: extra → PEP 508 requirements.
    pub optional_dependencies: BTreeMap<String, Vec<String>>,
    /// `scripts`: command → `module:function`.
    pub scripts: BTreeMap<String, String>,
    /// `gui-scripts`: command → `module:function`.
    pub gui_scripts: BTreeMap<String, String>,
    /// `entry-points`: group → name → object reference.
    pub entry_points: BTreeMap<String, BTreeMap<String, String>>,
    /// `dynamic`: fields only the project's build backend can compute. A wheel needs them all;
    /// a directory, zip or zipapp needs none (`--with-deps` needs `dependencies`). For an
    /// sdist's project, what its `PKG-INFO` could not give.
    pub dynamic: Vec<String>,
    /// For an sdist's project with `dynamic` fields: what its `PKG-INFO` gave
    /// ([`crate::source::sdist::resolve_dynamic`]).
    pub sdist: Option<Box<crate::source::sdist::SdistMetadata>>,
}

impl Project {
    /// Whether `field` (`version`, `dependencies`, ...) is listed in `dynamic`.
    pub fn is_dynamic(&self, field: &str) -> bool {
        self.dynamic.iter().any(|dynamic| dynamic == field)
    }
}

/// `readme` as written: a path, or a table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawReadme {
    Path(String),
    Table(RawReadmeTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawReadmeTable {
    file: Option<String>,
    text: Option<String>,
    content_type: Option<String>,
}

/// `license` as written.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawLicense {
    Expression(String),
    Table(RawLicenseTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLicenseTable {
    file: Option<String>,
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawProject {
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    readme: Option<RawReadme>,
    requires_python: Option<String>,
    license: Option<RawLicense>,
    #[serde(default)]
    license_files: Vec<String>,
    #[serde(default)]
    authors: Vec<Person>,
    #[serde(default)]
    maintainers: Vec<Person>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    classifiers: Vec<String>,
    #[serde(default)]
    urls: BTreeMap<String, String>,
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    scripts: BTreeMap<String, String>,
    #[serde(default)]
    gui_scripts: BTreeMap<String, String>,
    #[serde(default)]
    entry_points: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    dynamic: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ProjectFile {
    project: Option<RawProject>,
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, ProjectError> {
    toml::from_str(text).map_err(|err| ProjectError::Toml {
        path: path.to_path_buf(),
        err,
    })
}

/// Load the static PEP 621 metadata from `pyproject`, the file of the project in `dir`: `None`
/// when it has no `[project]` table. The readme and license files are read. Fields listed in
/// `dynamic` are left empty (see [`Project::dynamic`]).
pub fn load(dir: &Path, pyproject: &Pyproject) -> Result<Option<Project>, ProjectError> {
    let path = &pyproject.path;
    let file: ProjectFile = parse(path, &pyproject.text)?;
    let Some(raw) = file.project else {
        return Ok(None);
    };
    let invalid = |field: &'static str, reason: String| ProjectError::Invalid {
        path: path.clone(),
        field,
        reason,
    };
    let name = raw.name.ok_or_else(|| ProjectError::MissingField {
        path: path.clone(),
        field: "name",
    })?;
    if !is_valid_name(&name) {
        return Err(invalid(
            "name",
            format!(
                "`{name}` is not a valid distribution name (letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit)"
            ),
        ));
    }
    for field in &raw.dynamic {
        // PEP 621: `name` is never dynamic, and a field is either given or dynamic.
        let given = match field.as_str() {
            "name" => true,
            "version" => raw.version.is_some(),
            "description" => raw.description.is_some(),
            "readme" => raw.readme.is_some(),
            "requires-python" => raw.requires_python.is_some(),
            "license" => raw.license.is_some(),
            "license-files" => !raw.license_files.is_empty(),
            "authors" => !raw.authors.is_empty(),
            "maintainers" => !raw.maintainers.is_empty(),
            "keywords" => !raw.keywords.is_empty(),
            "classifiers" => !raw.classifiers.is_empty(),
            "urls" => !raw.urls.is_empty(),
            "dependencies" => !raw.dependencies.is_empty(),
            "optional-dependencies" => !raw.optional_dependencies.is_empty(),
            "scripts" => !raw.scripts.is_empty(),
            "gui-scripts" => !raw.gui_scripts.is_empty(),
            "entry-points" => !raw.entry_points.is_empty(),
            _ => {
                return Err(invalid(
                    "dynamic",
                    format!("`{field}` is not a `[project]` field"),
                ));
            }
        };
        if given {
            return Err(invalid(
                "dynamic",
                format!("`{field}` cannot be both given and listed in `dynamic`"),
            ));
        }
    }
    // Wheel and dist-info names carry the normalized form (`1.0-Beta` is `1.0b0`), and so
    // does METADATA, as pip and the build backends write it.
    let version = match raw.version {
        Some(version) => version
            .parse::<pep440_rs::Version>()
            .map_err(|_| invalid("version", format!("`{version}` is not a PEP 440 version")))?
            .to_string(),
        None if raw.dynamic.iter().any(|field| field == "version") => String::new(),
        None => {
            return Err(ProjectError::MissingField {
                path: path.clone(),
                field: "version",
            });
        }
    };
    if let Some(description) = &raw.description {
        if description.contains('\n') {
            return Err(invalid("description", "must be a single line".to_owned()));
        }
    }
    for (field, people) in [("authors", &raw.authors), ("maintainers", &raw.maintainers)] {
        if people
            .iter()
            .any(|person| person.name.is_none() && person.email.is_none())
        {
            return Err(invalid(
                field,
                "each entry needs a `name` or an `email`".to_owned(),
            ));
        }
    }
    for group in ["console_scripts", "gui_scripts"] {
        if raw.entry_points.contains_key(group) {
            return Err(invalid(
                "entry-points",
                format!(
                    "the `{group}` group belongs in `project.scripts` or `project.gui-scripts`"
                ),
            ));
        }
    }
    let readme = raw
        .readme
        .map(|readme| load_readme(dir, path, readme))
        .transpose()?;
    let license = raw
        .license
        .map(|license| match license {
            RawLicense::Expression(expression) => {
                check_license_expression(&expression)
                    .map_err(|reason| invalid("license", reason))?;
                Ok(License::Expression(expression))
            }
            RawLicense::Table(RawLicenseTable {
                text: Some(text),
                file: None,
            }) => Ok(License::Text(text)),
            RawLicense::Table(RawLicenseTable {
                file: Some(file),
                text: None,
            }) => {
                let content = read_named(dir, &file, "license")?;
                Ok(License::File {
                    path: file,
                    content,
                })
            }
            RawLicense::Table(_) => Err(invalid(
                "license",
                "needs exactly one of `file` and `text`".to_owned(),
            )),
        })
        .transpose()?;
    // PEP 639: with an SPDX expression, `License ::` classifiers must be refused (setuptools
    // and hatchling do), lest the two disagree.
    if matches!(license, Some(License::Expression(_)))
        && let Some(classifier) = raw
            .classifiers
            .iter()
            .find(|classifier| classifier.starts_with("License ::"))
    {
        return Err(invalid(
            "classifiers",
            format!(
                "`{classifier}` cannot go with the SPDX expression in `license` (PEP 639): remove the `License ::` classifiers"
            ),
        ));
    }
    Ok(Some(Project {
        name,
        version,
        description: raw.description,
        readme,
        requires_python: raw.requires_python,
        license,
        license_files: resolve_license_files(dir, &raw.license_files)
            .map_err(|reason| invalid("license-files", reason))?,
        authors: raw.authors,
        maintainers: raw.maintainers,
        keywords: raw.keywords,
        classifiers: raw.classifiers,
        urls: raw.urls,
        dependencies: raw.dependencies,
        optional_dependencies: raw.optional_dependencies,
        scripts: raw.scripts,
        gui_scripts: raw.gui_scripts,
        entry_points: raw.entry_points,
        dynamic: raw.dynamic,
        sdist: None,
    }))
}

/// PEP 508 names: ASCII letters and digits, with `-`, `_`, `.` inside.
fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(byte))
}

/// A file that `license-files` matched: it goes into the wheel as
/// `.dist-info/licenses/<path>` and is named by a `License-File` line of METADATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseFile {
    /// `/`-separated, relative to the project directory.
    pub path: String,
    /// Its bytes.
    pub content: Vec<u8>,
}

/// The files under `dir` matching the PEP 639 `patterns` (`*` stays within a directory, `**`
/// crosses them), sorted by path. A pattern that is absolute, climbs out with `..` or matches
/// no file is an error, as PEP 639 asks.
fn resolve_license_files(dir: &Path, patterns: &[String]) -> Result<Vec<LicenseFile>, String> {
    if patterns.is_empty() {
        return Ok(Vec::new());
    }
    let mut globs = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        if pattern.starts_with('/')
            || pattern.contains('\\')
            || pattern.split('/').any(|part| part == "..")
        {
            return Err(format!(
                "`{pattern}` must be a relative `/`-separated pattern that stays in the project"
            ));
        }
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|err| format!("`{pattern}` is not a valid pattern: {}", err.kind()))?;
        globs.push(glob.compile_matcher());
    }
    let mut matched = vec![false; globs.len()];
    let mut files = Vec::new();
    let walk = ignore::WalkBuilder::new(dir)
        .standard_filters(false)
        .filter_entry(|entry| entry.file_name() != ".git")
        .sort_by_file_name(std::cmp::Ord::cmp)
        .build();
    for entry in walk {
        let entry = entry.map_err(|err| err.to_string())?;
        if !entry.file_type().is_some_and(|kind| kind.is_file()) {
            continue;
        }
        let Some(relative) = entry
            .path()
            .strip_prefix(dir)
            .ok()
            .and_then(Path::to_str)
            .map(|path| path.replace('\\', "/"))
        else {
            continue;
        };
        let mut any = false;
        for (glob, hit) in globs.iter().zip(&mut matched) {
            if glob.is_match(&relative) {
                *hit = true;
                any = true;
            }
        }
        if any {
            let content = fs_err::read(entry.path()).map_err(|err| err.to_string())?;
            files.push(LicenseFile {
                path: relative,
                content,
            });
        }
    }
    if let Some(index) = matched.iter().position(|hit| !hit) {
        return Err(format!("`{}` matches no file", patterns[index]));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// `dir/relative` after symlinks, if it stays inside `dir` (also after symlinks); else
/// Refuse a `license` string that is no SPDX expression (PEP 639): index servers reject a
/// wheel whose `License-Expression` does not parse, so it is said at build time. The check is
/// lenient (any case, deprecated identifiers) so as not to refuse what `packaging` accepts; the
/// expression is written as given.
fn check_license_expression(expression: &str) -> Result<(), String> {
    match spdx::Expression::parse_mode(expression.trim(), spdx::ParseMode::LAX) {
        Ok(_) => Ok(()),
        Err(err) => {
            let term = expression.trim().get(err.span.clone()).unwrap_or_default();
            Err(format!(
                "`{}` is not an SPDX license expression (PEP 639): {} at `{term}`; a license not on the SPDX list is named `LicenseRef-NAME`",
                expression.trim(),
                err.reason
            ))
        }
    }
}

/// [`ProjectError::Outside`] naming `key`. A path that does not exist is returned as joined when
/// it cannot climb out (no `..`, not absolute), so that reading it reports it missing.
fn confine(dir: &Path, relative: &Path, key: &str) -> Result<PathBuf, ProjectError> {
    crate::support::paths::confine(dir, relative)?.ok_or_else(|| ProjectError::Outside {
        key: key.to_owned(),
        path: relative.to_path_buf(),
    })
}

/// Read the file `file` that `project.{field}` names: inside the project and a regular file.
fn read_named(dir: &Path, file: &str, field: &'static str) -> Result<String, ProjectError> {
    let key = format!("project.{field}");
    let path = confine(dir, Path::new(file), &key)?;
    // A FIFO would block the read forever; a device could be endless.
    if std::fs::metadata(&path).is_ok_and(|metadata| !metadata.is_file()) {
        return Err(ProjectError::NotAFile {
            key,
            path: PathBuf::from(file),
        });
    }
    // The resolved path is read, so a link swapped in meanwhile is not followed out again.
    fs_err::read_to_string(&path).map_err(|err| ProjectError::ReadFile { path, field, err })
}

fn load_readme(dir: &Path, pyproject: &Path, readme: RawReadme) -> Result<Readme, ProjectError> {
    let invalid = |reason: &str| ProjectError::Invalid {
        path: pyproject.to_path_buf(),
        field: "readme",
        reason: reason.to_owned(),
    };
    match readme {
        RawReadme::Path(file) => Ok(Readme {
            content_type: content_type_for(&file).to_owned(),
            content: read_named(dir, &file, "readme")?,
        }),
        RawReadme::Table(table) => match (table.file, table.text) {
            (Some(file), None) => Ok(Readme {
                content_type: table
                    .content_type
                    .unwrap_or_else(|| content_type_for(&file).to_owned()),
                content: read_named(dir, &file, "readme")?,
            }),
            (None, Some(text)) => Ok(Readme {
                content_type: table
                    .content_type
                    .ok_or_else(|| invalid("`text` needs a `content-type`"))?,
                content: text,
            }),
            _ => Err(invalid("needs exactly one of `file` and `text`")),
        },
    }
}

/// The `Description-Content-Type` for a readme file, by extension.
fn content_type_for(file: &str) -> &'static str {
    let extension = Path::new(file)
        .extension()
        .map(|extension| extension.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("md" | "markdown") => "text/markdown",
        Some("rst") => "text/x-rst",
        _ => "text/plain",
    }
}

/// What a project wheel ships: `entries` (package directories and module files, `/`-separated,
/// sorted) relative to `root`, which becomes the wheel's top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRoots {
    /// The directory holding the packages: the project, `src/`, or the parent of the
    /// `[tool.pyship] packages` entries.
    pub root: PathBuf,
    /// Top-level package directories and module files relative to `root`.
    pub entries: Vec<String>,
}

/// Directories never shipped by the flat-layout discovery, even with an `__init__.py`.
const FLAT_EXCLUDED_DIRS: &[&str] = &["tests", "test", "docs", "examples", "build", "dist"];
/// Modules never shipped by the flat-layout discovery.
const FLAT_EXCLUDED_MODULES: &[&str] = &["setup.py", "conftest.py", "noxfile.py"];

/// Find the packages a wheel of the project in `dir` ships: `packages` (`[tool.pyship]
/// packages`) when set; else every top-level package and module in `src/`; else the top-level
/// packages (directories with an `__init__.py`, or named like the project, `project_name`) and
/// modules of `dir`, leaving out tests, docs, examples, build outputs and `setup.py`-like
/// scripts. Finding nothing is an error.
pub fn discover_packages(
    dir: &Path,
    packages: Option<&[String]>,
    project_name: Option<&str>,
) -> Result<PackageRoots, ProjectError> {
    if let Some(packages) = packages {
        return configured_packages(dir, packages);
    }
    let src = dir.join("src");
    if src.is_dir() {
        let entries = top_level(&src, |name, path, is_dir| {
            if is_dir {
                name != "__pycache__" && is_identifier(name) && contains_python(path)
            } else {
                is_module_file(name)
            }
        })?;
        if !entries.is_empty() {
            check_inside(dir, Path::new("src"), &entries)?;
            return Ok(PackageRoots { root: src, entries });
        }
    }
    let project_name = project_name.map(crate::wheel::wheel_name_component);
    let entries = top_level(dir, |name, path, is_dir| {
        if is_dir {
            !FLAT_EXCLUDED_DIRS.contains(&name)
                && is_identifier(name)
                && (path.join("__init__.py").is_file()
                    || project_name
                        .as_deref()
                        .is_some_and(|project| project == name.to_ascii_lowercase()))
        } else {
            is_module_file(name) && !FLAT_EXCLUDED_MODULES.contains(&name)
        }
    })?;
    if entries.is_empty() {
        return Err(ProjectError::NoPackages {
            dir: dir.to_path_buf(),
        });
    }
    check_inside(dir, Path::new(""), &entries)?;
    Ok(PackageRoots {
        root: dir.to_path_buf(),
        entries,
    })
}

/// Refuse a discovered package or module (`parent/entry`) that is a symlink out of `dir`: the
/// scan never follows it, so the wheel would silently lack it.
fn check_inside(dir: &Path, parent: &Path, entries: &[String]) -> Result<(), ProjectError> {
    let canonical_dir = fs_err::canonicalize(dir)?;
    for entry in entries {
        let relative = parent.join(entry);
        let target = fs_err::canonicalize(dir.join(&relative))?;
        if !target.starts_with(&canonical_dir) {
            return Err(ProjectError::PackageOutside {
                entry: relative.to_string_lossy().into_owned(),
                target,
            });
        }
    }
    Ok(())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first == '_' || first.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn is_module_file(name: &str) -> bool {
    name.strip_suffix(".py").is_some_and(is_identifier)
}

/// Whether `dir` holds a `.py` file at any depth (a package, maybe a namespace package).
pub fn contains_python(dir: &Path) -> bool {
    walk_has_python(dir, 0)
}

fn walk_has_python(dir: &Path, depth: usize) -> bool {
    if depth > 32 {
        return false;
    }
    let Ok(entries) = fs_err::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            return false;
        };
        if kind.is_dir() {
            walk_has_python(&path, depth + 1)
        } else {
            path.extension().is_some_and(|extension| extension == "py")
        }
    })
}

/// The sorted names of entries of `dir` that `keep(name, path, is_dir)` accepts.
fn top_level(
    dir: &Path,
    keep: impl Fn(&str, &Path, bool) -> bool,
) -> Result<Vec<String>, ProjectError> {
    let mut names = Vec::new();
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let is_dir = path.is_dir();
        if (is_dir || path.is_file()) && keep(&name, &path, is_dir) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn configured_packages(dir: &Path, packages: &[String]) -> Result<PackageRoots, ProjectError> {
    let error = |entry: &str, reason: &str| ProjectError::Package {
        entry: entry.to_owned(),
        reason: reason.to_owned(),
    };
    if packages.is_empty() {
        return Err(error("", "the list is empty"));
    }
    let mut root: Option<PathBuf> = None;
    let mut entries = Vec::new();
    for package in packages {
        let relative = Path::new(package.trim_end_matches('/'));
        if !relative
            .components()
            .all(|component| matches!(component, Component::Normal(_) | Component::CurDir))
        {
            return Err(error(package, "must be a relative path inside the project"));
        }
        let path = dir.join(relative);
        // A link out of the project would be dropped by the scan: an empty wheel.
        if matches!(
            confine(dir, relative, "tool.pyship.packages"),
            Err(ProjectError::Outside { .. })
        ) {
            return Err(error(package, "points outside the project"));
        }
        let is_package = path.is_dir();
        let is_module = path.is_file()
            && relative
                .extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("py"));
        if !is_package && !is_module {
            return Err(error(
                package,
                "is neither a package directory nor a `.py` module",
            ));
        }
        let Some(name) = relative.file_name().and_then(|name| name.to_str()) else {
            return Err(error(package, "has no file name"));
        };
        let parent = relative
            .parent()
            .map_or_else(PathBuf::new, Path::to_path_buf);
        match &root {
            None => root = Some(parent),
            Some(root) if *root == parent => {}
            Some(root) => {
                return Err(error(
                    package,
                    &format!(
                        "all packages must share one parent directory, and {} is not {}",
                        describe_dir(&parent),
                        describe_dir(root)
                    ),
                ));
            }
        }
        if !entries.iter().any(|entry| entry == name) {
            entries.push(name.to_owned());
        }
    }
    entries.sort();
    Ok(PackageRoots {
        root: dir.join(root.unwrap_or_default()),
        entries,
    })
}

fn describe_dir(relative: &Path) -> String {
    if relative.as_os_str().is_empty() {
        "the project directory".to_owned()
    } else {
        format!("`{}`", relative.display())
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    /// [`load`] the project in `dir` as a build does: `None` without a `pyproject.toml`.
    fn load_dir(dir: &Path) -> Result<Option<Project>, ProjectError> {
        match Pyproject::read(dir).unwrap() {
            Some(pyproject) => load(dir, &pyproject),
            None => Ok(None),
        }
    }

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }

    #[test]
    fn license_files_are_globbed_sorted_and_every_pattern_must_match() {
        let temp = tempfile::tempdir().unwrap();
        for file in [
            "LICENSE",
            "NOTICE.txt",
            "licenses/a/MIT.txt",
            "licenses/B.txt",
            "src/LICENSE",
        ] {
            write(temp.path(), file, file);
        }
        write(temp.path(), ".git/LICENSE", "not this one");
        let patterns = |list: &[&str]| list.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
        let found =
            resolve_license_files(temp.path(), &patterns(&["LICEN[CS]E*", "licenses/**"])).unwrap();
        let paths: Vec<&str> = found.iter().map(|file| file.path.as_str()).collect();
        // `*` stays in its directory: src/LICENSE is not matched.
        assert_eq!(paths, ["LICENSE", "licenses/B.txt", "licenses/a/MIT.txt"]);
        assert_eq!(found[1].content, b"licenses/B.txt");
        assert!(resolve_license_files(temp.path(), &[]).unwrap().is_empty());

        for (pattern, reason) in [
            ("COPYING", "`COPYING` matches no file"),
            ("../LICENSE", "stays in the project"),
            ("/LICENSE", "stays in the project"),
            ("LICENSE[", "is not a valid pattern"),
        ] {
            let err =
                resolve_license_files(temp.path(), &patterns(&["LICENSE", pattern])).unwrap_err();
            assert!(err.contains(reason), "{pattern}: {err}");
        }
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

    const FULL: &str = r#"
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "Spam.Eggs_tool"
version = "1.2.0rc1"
description = "Eggs, with spam"
readme = "README.md"
requires-python = ">=3.9"
license = { file = "LICENSE.txt" }
authors = [
  { name = "Ada Lovelace", email = "ada@example.org" },
  { name = "Grace Hopper" },
  { email = "team@example.org" },
]
maintainers = [{ name = "Alan Turing", email = "alan@example.org" }]
keywords = ["spam", "eggs"]
classifiers = [
  "Programming Language :: Python :: 3",
  "License :: OSI Approved :: MIT License",
]
dependencies = ["requests>=2.28", "tomli; python_version < '3.11'"]

[project.optional-dependencies]
cli = ["rich", "click>=8; sys_platform != 'win32'"]
Dev_Tools = ["pytest"]

[project.urls]
Homepage = "https://example.org"
"Bug Tracker" = "https://example.org/issues"

[project.scripts]
spam = "spam.cli:main"

[project.gui-scripts]
spam-gui = "spam.gui:run"

[project.entry-points."spam.plugins"]
eggs = "spam.plugins.eggs:Plugin"

[tool.black]
line-length = 100
"#;

    fn full_project(root: &Path) {
        write(root, "pyproject.toml", FULL);
        write(root, "README.md", "# Spam\n\nEggs.\n");
        write(root, "LICENSE.txt", "MIT License\n\nCopyright (c) Ada\n");
        write(root, "src/spam/__init__.py", "");
    }

    #[test]
    fn loads_every_field() {
        let temp = tempfile::tempdir().unwrap();
        full_project(temp.path());
        let project = load_dir(temp.path()).unwrap().unwrap();
        assert_eq!(project.name, "Spam.Eggs_tool");
        assert_eq!(project.version, "1.2.0rc1");
        assert_eq!(project.description.as_deref(), Some("Eggs, with spam"));
        assert_eq!(
            project.readme,
            Some(Readme {
                content: "# Spam\n\nEggs.\n".to_owned(),
                content_type: "text/markdown".to_owned()
            })
        );
        assert_eq!(project.requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(
            project.license,
            Some(License::File {
                path: "LICENSE.txt".to_owned(),
                content: "MIT License\n\nCopyright (c) Ada\n".to_owned()
            })
        );
        assert_eq!(project.authors.len(), 3);
        assert_eq!(project.authors[1].email, None);
        assert_eq!(project.maintainers[0].name.as_deref(), Some("Alan Turing"));
        assert_eq!(project.keywords, ["spam", "eggs"]);
        assert_eq!(project.classifiers.len(), 2);
        assert_eq!(project.urls["Bug Tracker"], "https://example.org/issues");
        assert_eq!(project.dependencies[1], "tomli; python_version < '3.11'");
        assert_eq!(project.optional_dependencies["cli"].len(), 2);
        assert_eq!(project.scripts["spam"], "spam.cli:main");
        assert_eq!(project.gui_scripts["spam-gui"], "spam.gui:run");
        assert_eq!(
            project.entry_points["spam.plugins"]["eggs"],
            "spam.plugins.eggs:Plugin"
        );
    }

    #[test]
    fn no_pyproject_or_no_project_table() {
        let temp = tempfile::tempdir().unwrap();
        assert_eq!(load_dir(temp.path()).unwrap(), None);
        write(
            temp.path(),
            "pyproject.toml",
            "[tool.ruff]\nline-length = 88\n",
        );
        assert_eq!(load_dir(temp.path()).unwrap(), None);
    }

    #[test]
    fn dynamic_fields_are_recorded_and_checked() {
        let temp = tempfile::tempdir().unwrap();
        write(
            temp.path(),
            "pyproject.toml",
            "[project]\nname = \"spam\"\ndynamic = [\"version\", \"dependencies\"]\n",
        );
        let project = load_dir(temp.path()).unwrap().unwrap();
        assert_eq!(project.dynamic, ["version", "dependencies"]);
        assert!(project.is_dynamic("dependencies") && !project.is_dynamic("readme"));
        assert_eq!(project.version, "");

        for (dynamic, reason) in [
            (
                "\"name\"",
                "`name` cannot be both given and listed in `dynamic`",
            ),
            (
                "\"version\"",
                "`version` cannot be both given and listed in `dynamic`",
            ),
            ("\"colour\"", "`colour` is not a `[project]` field"),
        ] {
            write(
                temp.path(),
                "pyproject.toml",
                &format!("[project]\nname = \"spam\"\nversion = \"1\"\ndynamic = [{dynamic}]\n"),
            );
            let err = load_dir(temp.path()).unwrap_err();
            let text = chain(&err, temp.path());
            assert!(text.contains(reason), "{text}");
        }
    }

    #[test]
    fn missing_version_and_bad_toml_are_clear() {
        let temp = tempfile::tempdir().unwrap();
        write(
            temp.path(),
            "pyproject.toml",
            "[project]\nname = \"spam\"\n",
        );
        let err = load_dir(temp.path()).unwrap_err();
        insta::assert_snapshot!(chain(&err, temp.path()), @"`[TEMP]/pyproject.toml` has no `project.version`");

        write(
            temp.path(),
            "pyproject.toml",
            "[project]\nname = \"spam\"\nversion = \"1.0-Beta.2\"\n",
        );
        assert_eq!(load_dir(temp.path()).unwrap().unwrap().version, "1.0b2");
        write(
            temp.path(),
            "pyproject.toml",
            "[project]\nname = \"spam\"\nversion = \"one\"\n",
        );
        let err = load_dir(temp.path()).unwrap_err();
        let text = chain(&err, temp.path());
        assert!(text.contains("`one` is not a PEP 440 version"), "{text}");

        write(
            temp.path(),
            "pyproject.toml",
            "[project]\nname = \"spam\nversion = 1\n",
        );
        let err = load_dir(temp.path()).unwrap_err();
        let text = chain(&err, temp.path());
        assert!(
            text.starts_with(
                "Failed to parse `[TEMP]/pyproject.toml`\n  Caused by: TOML parse error at line 2"
            ),
            "{text}"
        );

        write(
            temp.path(),
            "pyproject.toml",
            "[project]\nname = \"spam\"\nversion = \"1\"\nreadme = \"README.rst\"\n",
        );
        let err = load_dir(temp.path()).unwrap_err();
        let text = chain(&err, temp.path());
        assert!(
            text.starts_with(
                "Failed to read `[TEMP]/README.rst`, named by `project.readme`\n  Caused by: "
            ),
            "{text}"
        );
    }

    #[test]
    fn readme_and_license_forms() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        write(root, "README.rst", "Spam\n====\n");
        write(root, "README", "plain\n");
        let load_with = |extra: &str| {
            write(
                root,
                "pyproject.toml",
                &format!("[project]\nname = \"spam\"\nversion = \"1\"\n{extra}\n"),
            );
            load_dir(root)
        };
        let project = load_with("readme = \"README.rst\"\nlicense = \"MIT\"")
            .unwrap()
            .unwrap();
        assert_eq!(project.readme.unwrap().content_type, "text/x-rst");
        assert_eq!(project.license, Some(License::Expression("MIT".to_owned())));
        let project = load_with("readme = \"README\"\nlicense = { text = \"BSD\" }")
            .unwrap()
            .unwrap();
        assert_eq!(project.readme.unwrap().content_type, "text/plain");
        assert_eq!(project.license.unwrap().text(), "BSD");
        let project = load_with("readme = { text = \"Hi\", content-type = \"text/markdown\" }")
            .unwrap()
            .unwrap();
        assert_eq!(
            project.readme,
            Some(Readme {
                content: "Hi".to_owned(),
                content_type: "text/markdown".to_owned()
            })
        );
        let project = load_with("readme = { file = \"README.rst\" }")
            .unwrap()
            .unwrap();
        assert_eq!(project.readme.unwrap().content_type, "text/x-rst");
        let err = load_with("readme = { text = \"Hi\" }").unwrap_err();
        insta::assert_snapshot!(chain(&err, root), @"Invalid `project.readme` in `[TEMP]/pyproject.toml`: `text` needs a `content-type`");
        let err = load_with("license = { text = \"a\", file = \"b\" }").unwrap_err();
        insta::assert_snapshot!(chain(&err, root), @"Invalid `project.license` in `[TEMP]/pyproject.toml`: needs exactly one of `file` and `text`");
        let err = load_with("[project.entry-points.console_scripts]\nx = \"y:z\"").unwrap_err();
        insta::assert_snapshot!(chain(&err, root), @"Invalid `project.entry-points` in `[TEMP]/pyproject.toml`: the `console_scripts` group belongs in `project.scripts` or `project.gui-scripts`");
        let err = load_with(
            "license = \"MIT\"\nclassifiers = [\"License :: OSI Approved :: MIT License\"]",
        )
        .unwrap_err();
        insta::assert_snapshot!(chain(&err, root), @"Invalid `project.classifiers` in `[TEMP]/pyproject.toml`: `License :: OSI Approved :: MIT License` cannot go with the SPDX expression in `license` (PEP 639): remove the `License ::` classifiers");
        let project = load_with(
            "license = { text = \"MIT\" }\nclassifiers = [\"License :: OSI Approved :: MIT License\"]",
        );
        assert!(project.is_ok(), "a license text may go with classifiers");
        let err = load_with("authors = [{}]").unwrap_err();
        assert!(chain(&err, root).contains("each entry needs a `name` or an `email`"));

        // PEP 639 expressions: what `packaging` accepts passes (written as given), the
        // specification's invalid examples do not.
        for valid in [
            "MIT",
            "mit",
            "MIT AND (Apache-2.0 OR BSD-2-Clause)",
            "MIT OR GPL-2.0-or-later OR (FSFUL AND BSD-2-Clause)",
            "GPL-3.0-only WITH Classpath-exception-2.0 OR BSD-3-Clause",
            "LicenseRef-Special-License OR CC0-1.0 OR Unlicense",
            "LicenseRef-Proprietary",
        ] {
            let project = load_with(&format!("license = \"{valid}\""))
                .unwrap()
                .unwrap();
            assert_eq!(
                project.license,
                Some(License::Expression(valid.to_owned())),
                "{valid}"
            );
        }
        for invalid in [
            "Use-it-after-midnight",
            "Apache-2.0 OR 2-BSD-Clause",
            "MIT AND",
        ] {
            let err = load_with(&format!("license = \"{invalid}\"")).unwrap_err();
            let said = chain(&err, root);
            assert!(
                said.contains(&format!(
                    "Invalid `project.license` in `[TEMP]/pyproject.toml`: `{invalid}` is not an SPDX license expression (PEP 639): "
                )),
                "{said}"
            );
        }
    }

    #[test]
    fn discovers_src_layout() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        write(
            root,
            "pyproject.toml",
            "[project]\nname = \"spam\"\nversion = \"1\"\n",
        );
        write(root, "src/spam/__init__.py", "");
        write(root, "src/nspkg/sub/mod.py", "");
        write(root, "src/single.py", "");
        write(root, "src/spam.egg-info/PKG-INFO", "");
        write(root, "src/data_only/x.txt", "");
        write(root, "tests/test_spam.py", "");
        write(root, "setup.py", "");
        let found = discover_packages(root, None, Some("spam")).unwrap();
        assert_eq!(found.root, root.join("src"));
        assert_eq!(found.entries, ["nspkg", "single.py", "spam"]);
    }

    #[test]
    fn discovers_flat_layout() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        write(
            root,
            "pyproject.toml",
            "[project]\nname = \"My-Tool\"\nversion = \"1\"\n",
        );
        write(root, "my_tool/cli.py", "");
        write(root, "helpers/__init__.py", "");
        write(root, "tests/__init__.py", "");
        write(root, "docs/__init__.py", "");
        write(root, "build/lib/x.py", "");
        write(root, "scripts/run.py", "");
        write(root, ".venv/lib/site.py", "");
        write(root, "tool.py", "");
        write(root, "setup.py", "");
        write(root, "conftest.py", "");
        write(root, "noxfile.py", "");
        write(root, "not-a-module.py", "");
        // `src/` without Python in it is not a src layout.
        write(root, "src/README", "");
        let found = discover_packages(root, None, Some("My-Tool")).unwrap();
        assert_eq!(found.root, root);
        assert_eq!(found.entries, ["helpers", "my_tool", "tool.py"]);
        // Without a project name, only directories with an `__init__.py` are packages.
        let found = discover_packages(root, None, None).unwrap();
        assert_eq!(found.entries, ["helpers", "tool.py"]);
    }

    #[test]
    fn configured_packages_win() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        write(root, "lib/spam/__init__.py", "");
        write(root, "lib/eggs.py", "");
        write(root, "src/other/__init__.py", "");
        write(root, "top/__init__.py", "");
        let discover = |packages: &[&str]| {
            let packages: Vec<String> =
                packages.iter().map(|&package| package.to_owned()).collect();
            discover_packages(root, Some(&packages), None)
        };
        let found = discover(&["lib/spam/", "lib/eggs.py"]).unwrap();
        assert_eq!(found.root, root.join("lib"));
        assert_eq!(found.entries, ["eggs.py", "spam"]);
        let found = discover(&["top"]).unwrap();
        assert_eq!(found.root, root);
        assert_eq!(found.entries, ["top"]);

        let err = discover(&["lib/spam", "top"]).unwrap_err();
        insta::assert_snapshot!(err, @"Invalid `tool.pyship.packages` entry `top`: all packages must share one parent directory, and the project directory is not `lib`");
        let err = discover(&["../outside"]).unwrap_err();
        insta::assert_snapshot!(err, @"Invalid `tool.pyship.packages` entry `../outside`: must be a relative path inside the project");
        let err = discover(&["missing"]).unwrap_err();
        insta::assert_snapshot!(err, @"Invalid `tool.pyship.packages` entry `missing`: is neither a package directory nor a `.py` module");
    }

    #[test]
    fn nothing_to_ship_is_an_error() {
        let temp = tempfile::tempdir().unwrap();
        write(temp.path(), "setup.py", "");
        write(temp.path(), "tests/__init__.py", "");
        let err = discover_packages(temp.path(), None, None).unwrap_err();
        insta::assert_snapshot!(chain(&err, temp.path()), @"No Python package or module found in `[TEMP]` (looked for a `src/` layout and top-level packages); list them in `[tool.pyship] packages`");
    }
}
