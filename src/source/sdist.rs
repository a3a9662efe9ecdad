//! An sdist given as `SOURCE` (`NAME-VERSION.tar.gz`, or an sdist `.zip`): unpacked into a
//! temporary directory with the wheel reader's refusals ([`crate::wheel::read`]) — no `..`, no
//! absolute path, no link out of the tree, no device or FIFO, bounded sizes — and then built
//! from its top directory `NAME-VERSION/` like a project directory.
//!
//! Links are never created on disk: a link to a file already unpacked inside the tree is
//! written as a copy of it, any other link is refused.
//!
//! An sdist carries `NAME-VERSION/PKG-INFO`, the core metadata its backend computed
//! ([`super::pkg_info`]): [`resolve_dynamic`] takes from it what the project's `pyproject.toml`
//! leaves `dynamic` and PEP 643 fixes — the version always, other fields from Metadata-Version
//! 2.2 unless marked `Dynamic`. An sdist whose metadata is not in a `[project]` table
//! (`setup.py`) is refused with a hint to build its wheel first.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::pkg_info::{CoreMetadata, needs_extra};
use super::project::{LicenseFile, Project};

/// Why an sdist could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum SdistError {
    /// Reading the file or writing the temporary tree failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Not a gzipped tar (or zip) archive.
    #[error("`{}` is not an sdist: not a readable {kind} archive", path.display())]
    NotAnArchive {
        /// The file.
        path: PathBuf,
        /// `.tar.gz` or `.zip`.
        kind: &'static str,
        /// Why the reader gave up.
        #[source]
        err: std::io::Error,
    },
    /// A member could escape the tree, or is a link, device or FIFO.
    #[error("Unsafe member `{member}` in `{}`: {reason}", path.display())]
    UnsafeMember {
        /// The sdist.
        path: PathBuf,
        /// The member name (lossy UTF-8).
        member: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Unpacking would exceed [`Limits`]: probably a bomb.
    #[error("Refusing `{}`: member `{member}` {reason}", path.display())]
    TooLarge {
        /// The sdist.
        path: PathBuf,
        /// The member.
        member: String,
        /// Which limit, with numbers.
        reason: String,
    },
    /// The archive has no single top directory holding `pyproject.toml`, `setup.py` or
    /// `PKG-INFO`.
    #[error("`{}` is not an sdist: it has no single top directory holding `pyproject.toml`, `setup.py` or `PKG-INFO`", path.display())]
    NoProject {
        /// The file.
        path: PathBuf,
    },
    /// An sdist whose metadata is not in a `[project]` table: which modules it installs is
    /// decided by running its build backend (`setup.py`), which pyship does not do.
    #[error("`{}` {what}: only {backend} can say which modules it installs, so pyship cannot build it", path.display())]
    NotPep621 {
        /// The file.
        path: PathBuf,
        /// What it is, e.g. "is a `setup.py` sdist (no `pyproject.toml`)".
        what: &'static str,
        /// Who can build it, e.g. "setuptools".
        backend: String,
        /// How to build its wheel and convert that.
        hint: String,
    },
    /// `PKG-INFO` is needed (the project has `dynamic` fields) but cannot be used.
    #[error("Invalid `PKG-INFO` in `{}`: {reason}", path.display())]
    PkgInfo {
        /// The sdist.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `PKG-INFO`'s version is not the one the sdist's top directory is named with.
    #[error("`{}` is inconsistent: its `PKG-INFO` gives version `{version}`, but its top directory is `{dir}`", path.display())]
    VersionMismatch {
        /// The sdist.
        path: PathBuf,
        /// `PKG-INFO`'s `Version`.
        version: String,
        /// The top directory's name.
        dir: String,
    },
}

impl SdistError {
    /// What the user can do about it, as a `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            SdistError::NotPep621 { hint, .. } => Some(hint.clone()),
            _ => None,
        }
    }
}

/// Bounds on what unpacking may write, checked against the declared sizes before a member is
/// read and against the actual bytes while reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes over all members.
    pub max_total: u64,
    /// Bytes of one member.
    pub max_member: u64,
    /// Number of members (directories included): an inode bomb is many empty files.
    pub max_members: usize,
}

impl Default for Limits {
    /// 2 GiB in total, 1 GiB per member, 200 000 members: far above any honest sdist.
    fn default() -> Limits {
        Limits {
            max_total: 2 << 30,
            max_member: 1 << 30,
            max_members: 200_000,
        }
    }
}

/// An unpacked sdist: the project directory inside a temporary directory, removed when the
/// last clone of [`Unpacked::dir`] is dropped.
#[derive(Debug)]
pub struct Unpacked {
    /// Holds the tree.
    pub dir: Arc<tempfile::TempDir>,
    /// The top directory `NAME-VERSION/`, holding `pyproject.toml`.
    pub root: PathBuf,
}

/// What an sdist's `PKG-INFO` gave a project with `dynamic` fields ([`resolve_dynamic`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdistMetadata {
    /// The sdist, as given.
    pub path: PathBuf,
    /// `PKG-INFO` itself, to be written as `METADATA`: set when it gave a field other than the
    /// version, which pyship then does not render from `[project]` (PEP 643: a wheel built from
    /// the sdist carries these same values).
    pub core_metadata: Option<String>,
    /// The `dynamic` fields `PKG-INFO` cannot give, each with why; they stay in
    /// [`Project::dynamic`].
    pub missing: Vec<(String, String)>,
    /// How to build the wheel with the project's own backend and convert it.
    pub hint: String,
}

/// Unpack the sdist at `path` within `limits` into a new temporary directory.
pub fn unpack(path: &Path, limits: Limits) -> Result<Unpacked, SdistError> {
    // Opening a FIFO blocks until someone writes to it: look before opening.
    if !fs_err::metadata(path)?.is_file() {
        return Err(SdistError::NotAnArchive {
            path: path.to_path_buf(),
            kind: "regular file",
            err: std::io::Error::other("not a regular file"),
        });
    }
    let dir = tempfile::Builder::new().prefix("pyship-sdist-").tempdir()?;
    let mut writer = Writer {
        sdist: path,
        dir: dir.path(),
        limits,
        total: 0,
        seen: HashSet::new(),
        files: HashMap::new(),
    };
    if path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("zip"))
    {
        unpack_zip(path, &mut writer)?;
    } else {
        unpack_tar(path, &mut writer)?;
    }
    let no_project = || SdistError::NoProject {
        path: path.to_path_buf(),
    };
    let root = top_directory(dir.path()).ok_or_else(no_project)?;
    if !root.join("pyproject.toml").is_file() {
        if root.join("setup.py").is_file() || root.join("PKG-INFO").is_file() {
            return Err(not_pep621(
                path,
                &root,
                "is a `setup.py` sdist (no `pyproject.toml`)",
                "setuptools".to_owned(),
            ));
        }
        return Err(no_project());
    }
    Ok(Unpacked {
        dir: Arc::new(dir),
        root,
    })
}

/// The single top-level directory.
fn top_directory(dir: &Path) -> Option<PathBuf> {
    let mut entries = fs_err::read_dir(dir).ok()?.flatten();
    let first = entries.next()?;
    if entries.next().is_some() {
        return None;
    }
    let root = first.path();
    root.is_dir().then_some(root)
}

/// [`SdistError::NotPep621`] for the sdist at `path` unpacked in `root`.
fn not_pep621(path: &Path, root: &Path, what: &'static str, backend: String) -> SdistError {
    let pkg_info = read_pkg_info(root).ok().flatten();
    let field = |name: &str| {
        pkg_info
            .as_ref()
            .and_then(|(_, metadata)| metadata.get(name).map(str::to_owned))
    };
    let (name, version) = match (field("Name"), field("Version")) {
        (Some(name), Some(version)) => (Some(name), Some(version)),
        _ => split_top_directory(root),
    };
    SdistError::NotPep621 {
        path: path.to_path_buf(),
        what,
        backend,
        hint: wheel_hint(path, name.as_deref(), version.as_deref()),
    }
}

/// The sdist of the project in `root` is not PEP 621 (its `pyproject.toml` has no `[project]`
/// table): the error that says so, naming its build backend.
pub fn not_pep621_project(path: &Path, root: &Path, pyproject: &str) -> SdistError {
    #[derive(serde::Deserialize)]
    struct BuildSystem {
        #[serde(rename = "build-backend")]
        build_backend: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(rename = "build-system")]
        build_system: Option<BuildSystem>,
    }
    let backend = toml::from_str::<File>(pyproject)
        .ok()
        .and_then(|file| file.build_system?.build_backend)
        .map_or_else(
            || "setuptools".to_owned(),
            |backend| format!("its build backend (`{backend}`)"),
        );
    not_pep621(
        path,
        root,
        "keeps its metadata outside `pyproject.toml` (no `[project]` table)",
        backend,
    )
}

/// `NAME` and `VERSION` of a top directory `NAME-VERSION`.
fn split_top_directory(root: &Path) -> (Option<String>, Option<String>) {
    let dir = root
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    match dir.rsplit_once('-') {
        Some((name, version)) if !name.is_empty() && !version.is_empty() => {
            (Some(name.to_owned()), Some(version.to_owned()))
        }
        _ => (None, None),
    }
}

/// The commands that build the sdist's wheel with its own backend and convert that wheel.
fn wheel_hint(path: &Path, name: Option<&str>, version: Option<&str>) -> String {
    let wheel = match (name, version) {
        (Some(name), Some(version)) => format!(
            "{}-{}-*.whl",
            crate::wheel::wheel_name_component(name),
            crate::wheel::wheel_version_component(&normalize_version(version))
        ),
        _ => "*.whl".to_owned(),
    };
    format!(
        "build its wheel with its own backend, then convert that: `pip wheel --no-deps {} -w wheels/` then `pyship build wheels/{wheel}`",
        shell_word(&path.display().to_string())
    )
}

/// `word` as one shell word: quoted when it holds anything but safe characters.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./+=:,@%".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// A PEP 440 version in normal form, or as given when it is not one.
fn normalize_version(version: &str) -> String {
    version
        .trim()
        .parse::<pep440_rs::Version>()
        .map_or_else(|_| version.trim().to_owned(), |version| version.to_string())
}

/// `root/PKG-INFO`, its text and parsed headers; `None` when there is none.
fn read_pkg_info(root: &Path) -> Result<Option<(String, CoreMetadata)>, String> {
    let path = root.join("PKG-INFO");
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = fs_err::read(&path).map_err(|err| err.to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "it is not UTF-8".to_owned())?;
    let metadata = CoreMetadata::parse(&text)?;
    Ok(Some((text, metadata)))
}

/// The core metadata fields holding the `[project]` field `field` (PEP 621's mapping); empty
/// for the entry points, which are not core metadata.
fn core_fields(field: &str) -> &'static [&'static str] {
    match field {
        "description" => &["Summary"],
        "readme" => &["Description", "Description-Content-Type"],
        "requires-python" => &["Requires-Python"],
        "license" => &["License", "License-Expression"],
        "license-files" => &["License-File"],
        "authors" => &["Author", "Author-email"],
        "maintainers" => &["Maintainer", "Maintainer-email"],
        "keywords" => &["Keywords"],
        "classifiers" => &["Classifier"],
        "urls" => &["Project-URL", "Home-page", "Download-URL"],
        "dependencies" => &["Requires-Dist"],
        "optional-dependencies" => &["Provides-Extra", "Requires-Dist"],
        _ => &[],
    }
}

/// Fill the `dynamic` fields of `project`, the project of the sdist at `path` unpacked in
/// `root`, from its `PKG-INFO` (PEP 643), and record what it gave in [`Project::sdist`]. The
/// version must agree with the top directory's name. What `PKG-INFO` cannot give stays in
/// [`Project::dynamic`], with why. A project without `dynamic` fields is left as it is.
pub fn resolve_dynamic(project: &mut Project, root: &Path, path: &Path) -> Result<(), SdistError> {
    if project.dynamic.is_empty() {
        return Ok(());
    }
    let invalid = |reason: String| SdistError::PkgInfo {
        path: path.to_path_buf(),
        reason,
    };
    let pkg_info = read_pkg_info(root).map_err(invalid)?;
    if let Some((_, metadata)) = &pkg_info {
        let name = metadata
            .get("Name")
            .ok_or_else(|| invalid("it has no `Name`".to_owned()))?;
        if crate::wheel::normalize_name(name) != crate::wheel::normalize_name(&project.name) {
            return Err(invalid(format!(
                "it names `{name}`, but `pyproject.toml` names `{}`",
                project.name
            )));
        }
    }
    let mut missing = Vec::new();
    let mut gave_more = false;
    for field in std::mem::take(&mut project.dynamic) {
        let Some((_, metadata)) = &pkg_info else {
            missing.push((field, "the sdist has no `PKG-INFO`".to_owned()));
            continue;
        };
        let core = core_fields(&field);
        if field == "version" {
            project.version = pkg_info_version(metadata, root, path)?;
        } else if core.is_empty() {
            missing.push((
                field,
                "entry points are not core metadata: `PKG-INFO` cannot carry them".to_owned(),
            ));
        } else if metadata.metadata_version() < (2, 2) {
            let (major, minor) = metadata.metadata_version();
            missing.push((
                field,
                format!(
                    "`PKG-INFO` is Metadata-Version {major}.{minor}: before 2.2 (PEP 643) a wheel may differ from it"
                ),
            ));
        } else if let Some(dynamic) = core.iter().find(|core| metadata.is_dynamic(core)) {
            missing.push((field, format!("`PKG-INFO` marks `{dynamic}` as `Dynamic`")));
        } else {
            // What other stages read from the project: the target check, `--with-deps`.
            match field.as_str() {
                "requires-python" => {
                    project.requires_python = metadata.get("Requires-Python").map(str::to_owned);
                }
                "dependencies" => {
                    project.dependencies = metadata
                        .get_all("Requires-Dist")
                        .filter(|requirement| !needs_extra(requirement))
                        .map(str::to_owned)
                        .collect();
                }
                _ => {}
            }
            gave_more = true;
        }
    }
    project.dynamic = missing.iter().map(|(field, _)| field.clone()).collect();
    let core_metadata = match pkg_info {
        Some((text, metadata)) if gave_more => {
            add_license_files(project, &metadata, root).map_err(invalid)?;
            Some(text)
        }
        _ => None,
    };
    let version = if project.version.is_empty() {
        split_top_directory(root).1
    } else {
        Some(project.version.clone())
    };
    project.sdist = Some(Box::new(SdistMetadata {
        path: path.to_path_buf(),
        core_metadata,
        missing,
        hint: wheel_hint(path, Some(&project.name), version.as_deref()),
    }));
    Ok(())
}

/// `PKG-INFO`'s `Version`, normalized, checked against the top directory `NAME-VERSION`.
fn pkg_info_version(
    metadata: &CoreMetadata,
    root: &Path,
    path: &Path,
) -> Result<String, SdistError> {
    let Some(version) = metadata.get("Version") else {
        return Err(SdistError::PkgInfo {
            path: path.to_path_buf(),
            reason: "it has no `Version`".to_owned(),
        });
    };
    let parsed = version
        .parse::<pep440_rs::Version>()
        .map_err(|_| SdistError::PkgInfo {
            path: path.to_path_buf(),
            reason: format!("`Version: {version}` is not a PEP 440 version"),
        })?;
    let dir = root
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The directory may spell the version unnormalized (`1.0-1`), or hold `-` in its name.
    let agrees = dir
        .strip_suffix(version)
        .is_some_and(|name| name.ends_with('-') && name.len() > 1)
        || dir.rsplit_once('-').is_some_and(|(_, written)| {
            written.parse::<pep440_rs::Version>().ok().as_ref() == Some(&parsed)
        });
    if !agrees {
        return Err(SdistError::VersionMismatch {
            path: path.to_path_buf(),
            version: version.to_owned(),
            dir,
        });
    }
    Ok(parsed.to_string())
}

/// Add the files `PKG-INFO`'s `License-File` lines name to the project's license files: the
/// wheel's `METADATA` is `PKG-INFO`, and each one it names goes in `.dist-info/licenses/`.
fn add_license_files(
    project: &mut Project,
    metadata: &CoreMetadata,
    root: &Path,
) -> Result<(), String> {
    for name in metadata.get_all("License-File") {
        if project.license_files.iter().any(|file| file.path == name) {
            continue;
        }
        let relative = Path::new(name);
        let plain = !name.contains('\\')
            && relative
                .components()
                .all(|component| matches!(component, Component::Normal(_)));
        let file = root.join(relative);
        if !plain || !file.is_file() {
            return Err(format!("`License-File: {name}` names no file of the sdist"));
        }
        let content = fs_err::read(&file).map_err(|err| err.to_string())?;
        project.license_files.push(LicenseFile {
            path: name.to_owned(),
            content,
        });
    }
    project.license_files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(())
}

/// Writes checked members under `dir`.
struct Writer<'a> {
    sdist: &'a Path,
    dir: &'a Path,
    limits: Limits,
    total: u64,
    seen: HashSet<String>,
    /// Regular files written so far, by member name: what a link inside the tree may copy.
    files: HashMap<String, PathBuf>,
}

impl Writer<'_> {
    fn unsafe_member(&self, member: &str, reason: &'static str) -> SdistError {
        SdistError::UnsafeMember {
            path: self.sdist.to_path_buf(),
            member: member.to_owned(),
            reason,
        }
    }

    /// Check `raw` as a member name; returns it without a leading `./` or trailing `/`.
    fn name(&mut self, raw: &[u8]) -> Result<String, SdistError> {
        let lossy = String::from_utf8_lossy(raw).into_owned();
        let Ok(name) = std::str::from_utf8(raw) else {
            return Err(self.unsafe_member(&lossy, "is not valid UTF-8"));
        };
        // GNU tar writes `./name`; the rest of the name is checked as a wheel's member.
        let name = name.strip_prefix("./").unwrap_or(name);
        crate::wheel::read::check_member_name(name)
            .map_err(|reason| self.unsafe_member(&lossy, reason))?;
        let name = name.trim_end_matches('/').to_owned();
        if self.seen.len() >= self.limits.max_members {
            return Err(SdistError::TooLarge {
                path: self.sdist.to_path_buf(),
                member: name,
                reason: format!("is past the limit of {} members", self.limits.max_members),
            });
        }
        if !self.seen.insert(name.clone()) {
            return Err(self.unsafe_member(&lossy, "appears twice in the archive"));
        }
        Ok(name)
    }

    /// Where `name` goes, its parent directories created.
    fn target(&self, name: &str) -> Result<PathBuf, SdistError> {
        let target = self.dir.join(name);
        if let Some(parent) = target.parent() {
            // Only plain directories exist under `dir` (no links are ever made), so a failure
            // here is a file standing where a directory should be.
            fs_err::create_dir_all(parent)
                .map_err(|_| self.unsafe_member(name, "has a file as a parent directory"))?;
        }
        Ok(target)
    }

    fn directory(&self, name: &str) -> Result<(), SdistError> {
        let target = self.target(name)?;
        if target.is_file() {
            return Err(self.unsafe_member(name, "is a directory where a file is"));
        }
        fs_err::create_dir_all(&target)?;
        Ok(())
    }

    /// Write `reader`'s bytes as member `name`, declared `declared` bytes long.
    fn file(
        &mut self,
        name: &str,
        declared: u64,
        executable: bool,
        reader: &mut dyn Read,
    ) -> Result<(), SdistError> {
        let too_large = |reason: String| SdistError::TooLarge {
            path: self.sdist.to_path_buf(),
            member: name.to_owned(),
            reason,
        };
        if declared > self.limits.max_member {
            return Err(too_large(format!(
                "is {declared} bytes, over the {} byte limit",
                self.limits.max_member
            )));
        }
        if self.total.saturating_add(declared) > self.limits.max_total {
            return Err(too_large(format!(
                "brings the total to more than {} bytes",
                self.limits.max_total
            )));
        }
        let target = self.target(name)?;
        if target.is_dir() {
            return Err(self.unsafe_member(name, "is a file where a directory is"));
        }
        let mut file = fs_err::File::create(&target)?;
        // Never trust the declared size: copy at most one byte more than it.
        let copied = std::io::copy(&mut reader.take(declared + 1), &mut file)?;
        if copied != declared {
            return Err(too_large(format!(
                "holds {copied} bytes where {declared} were declared"
            )));
        }
        self.total += copied;
        set_executable(&target, executable)?;
        self.files.insert(name.to_owned(), target);
        Ok(())
    }

    /// A link member `name` to `to`: relative to its directory for a symbolic link, to the
    /// archive's top for a hard link. Written as a copy of a file already unpacked.
    fn link(&mut self, name: &str, to: &[u8], symbolic: bool) -> Result<(), SdistError> {
        let Ok(to) = std::str::from_utf8(to) else {
            return Err(self.unsafe_member(name, "is a link with a non-UTF-8 target"));
        };
        let base = if symbolic {
            name.rsplit_once('/').map_or("", |(parent, _)| parent)
        } else {
            ""
        };
        let mut parts: Vec<&str> = base.split('/').filter(|part| !part.is_empty()).collect();
        if to.starts_with('/') {
            return Err(self.unsafe_member(name, "is a link pointing outside the archive"));
        }
        for part in to.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(
                            self.unsafe_member(name, "is a link pointing outside the archive")
                        );
                    }
                }
                part => parts.push(part),
            }
        }
        let to = parts.join("/");
        let to = to.strip_prefix("./").unwrap_or(&to);
        let Some(source) = self.files.get(to).cloned() else {
            return Err(self.unsafe_member(
                name,
                "is a link to something that is not a file unpacked before it",
            ));
        };
        let size = fs_err::metadata(&source)?.len();
        let mut reader = fs_err::File::open(&source)?;
        let executable = is_executable(&source);
        self.file(name, size, executable, &mut reader)
    }
}

fn unpack_tar(path: &Path, writer: &mut Writer<'_>) -> Result<(), SdistError> {
    let file = fs_err::File::open(path)?;
    let mut archive =
        tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let not_archive = |err: std::io::Error| SdistError::NotAnArchive {
        path: path.to_path_buf(),
        kind: ".tar.gz",
        err,
    };
    for entry in archive.entries().map_err(not_archive)? {
        let mut entry = entry.map_err(not_archive)?;
        let kind = entry.header().entry_type();
        // Extended headers describe the next member; the reader applies the per-file ones.
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        }
        let name = writer.name(&entry.path_bytes())?;
        if kind.is_dir() {
            writer.directory(&name)?;
        } else if kind.is_file() || kind.is_contiguous() {
            let executable = entry.header().mode().is_ok_and(|mode| mode & 0o111 != 0);
            let declared = entry.size();
            writer
                .file(&name, declared, executable, &mut entry)
                .map_err(|err| match err {
                    SdistError::Io(err) if err.kind() == std::io::ErrorKind::InvalidData => {
                        not_archive(err)
                    }
                    err => err,
                })?;
        } else if kind.is_symlink() || kind.is_hard_link() {
            let to = entry
                .link_name_bytes()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default();
            writer.link(&name, &to, kind.is_symlink())?;
        } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            return Err(writer.unsafe_member(&name, "is a device or FIFO"));
        } else {
            return Err(writer.unsafe_member(&name, "is of an unknown tar member type"));
        }
    }
    Ok(())
}

fn unpack_zip(path: &Path, writer: &mut Writer<'_>) -> Result<(), SdistError> {
    let file = fs_err::File::open(path)?;
    let not_archive = |err: zip::result::ZipError| SdistError::NotAnArchive {
        path: path.to_path_buf(),
        kind: ".zip",
        err: std::io::Error::other(err),
    };
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(not_archive)?;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(not_archive)?;
        let name = writer.name(entry.name_raw())?;
        let mode = entry.unix_mode().unwrap_or(0);
        if mode & 0o170_000 == 0o120_000 {
            return Err(writer.unsafe_member(&name, "is a symbolic link"));
        }
        if entry.is_dir() {
            writer.directory(&name)?;
        } else {
            let declared = entry.size();
            writer.file(&name, declared, mode & 0o111 != 0, &mut entry)?;
        }
    }
    Ok(())
}

fn set_executable(path: &Path, executable: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = if executable { 0o755 } else { 0o644 };
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, executable);
    Ok(())
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.tar.gz` at `dir/name` holding `members` (name, bytes) after a minimal project.
    fn tar_gz(dir: &Path, name: &str, members: &[(&str, Vec<u8>)]) -> PathBuf {
        let path = dir.join(name);
        let file = fs_err::File::create(&path).unwrap();
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        let mut builder = tar::Builder::new(gz);
        let project: [(&str, Vec<u8>); 2] = [
            (
                "demo-1.0/pyproject.toml",
                b"[project]\nname = \"demo\"\nversion = \"1.0\"\n".to_vec(),
            ),
            ("demo-1.0/demo/__init__.py", b"X = 1\n".to_vec()),
        ];
        for (name, bytes) in project.iter().chain(members) {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, name, bytes.as_slice())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        path
    }

    #[test]
    fn unpacks_the_project_directory() {
        let temp = tempfile::tempdir().unwrap();
        let path = tar_gz(temp.path(), "demo-1.0.tar.gz", &[]);
        let unpacked = unpack(&path, Limits::default()).unwrap();
        assert!(unpacked.root.ends_with("demo-1.0"));
        assert_eq!(
            fs_err::read_to_string(unpacked.root.join("demo/__init__.py")).unwrap(),
            "X = 1\n"
        );
        let dir = unpacked.dir.path().to_path_buf();
        drop(unpacked);
        assert!(
            !dir.exists(),
            "the unpacked tree is removed with the last handle"
        );
    }

    /// Bombs: what inflating costs is bounded, for one member, all of them, and their number.
    #[test]
    fn bombs_are_refused_by_the_bytes_they_inflate_to() {
        let temp = tempfile::tempdir().unwrap();
        let limits = Limits {
            max_total: 1 << 20,
            max_member: 512 << 10,
            max_members: 10,
        };
        // 600 KiB of zeros compress to almost nothing.
        let big = tar_gz(
            temp.path(),
            "big-1.0.tar.gz",
            &[("demo-1.0/zeros.bin", vec![0; 600 << 10])],
        );
        let err = unpack(&big, limits).unwrap_err();
        assert!(
            err.to_string().contains(
                "member `demo-1.0/zeros.bin` is 614400 bytes, over the 524288 byte limit"
            ),
            "{err}"
        );
        let parts: Vec<(String, Vec<u8>)> = (0..3)
            .map(|index| (format!("demo-1.0/zeros{index}.bin"), vec![0; 400 << 10]))
            .collect();
        let parts: Vec<(&str, Vec<u8>)> = parts
            .iter()
            .map(|(name, bytes)| (name.as_str(), bytes.clone()))
            .collect();
        let total = tar_gz(temp.path(), "total-1.0.tar.gz", &parts);
        let err = unpack(&total, limits).unwrap_err();
        assert!(
            err.to_string()
                .contains("`demo-1.0/zeros2.bin` brings the total to more than 1048576 bytes"),
            "{err}"
        );
        let names: Vec<String> = (0..20).map(|index| format!("demo-1.0/{index}")).collect();
        let many: Vec<(&str, Vec<u8>)> = names.iter().map(|name| (name.as_str(), vec![])).collect();
        let many = tar_gz(temp.path(), "many-1.0.tar.gz", &many);
        let err = unpack(&many, limits).unwrap_err();
        assert!(
            err.to_string().contains("is past the limit of 10 members"),
            "{err}"
        );
    }

    #[test]
    fn a_member_shorter_than_declared_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let path = tar_gz(
            temp.path(),
            "short-1.0.tar.gz",
            &[("demo-1.0/data.bin", vec![7; 4096])],
        );
        // Cut the archive inside the member's data: the reader meets its end early.
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(fs_err::File::open(&path).unwrap())
            .read_to_end(&mut raw)
            .unwrap();
        let cut = raw.len() - 1024 * 3;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &raw[..cut]).unwrap();
        fs_err::write(&path, gz.finish().unwrap()).unwrap();
        let err = unpack(&path, Limits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                SdistError::TooLarge { .. } | SdistError::NotAnArchive { .. }
            ),
            "{err}"
        );
    }

    /// A zip sdist gets the wheel's refusals: names that climb out, absolute names, symlinks.
    #[test]
    fn hostile_zip_sdists_are_refused() {
        let temp = tempfile::tempdir().unwrap();
        for (label, name, symlink, needle) in [
            (
                "traversal",
                "demo-1.0/../../x.py",
                false,
                "has a `..` component",
            ),
            ("absolute", "/tmp/x.py", false, "is an absolute path"),
            (
                "symlink",
                "demo-1.0/demo/link.py",
                true,
                "is a symbolic link",
            ),
        ] {
            let path = temp.path().join(format!("{label}-1.0.zip"));
            let mut writer = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
            let options = zip::write::SimpleFileOptions::default();
            writer
                .start_file("demo-1.0/pyproject.toml", options)
                .unwrap();
            std::io::Write::write_all(
                &mut writer,
                b"[project]\nname = \"demo\"\nversion = \"1\"\n",
            )
            .unwrap();
            if symlink {
                writer
                    .add_symlink(name, "../../../etc/passwd", options)
                    .unwrap();
            } else {
                writer.start_file(name, options).unwrap();
            }
            writer.finish().unwrap();
            let err = unpack(&path, Limits::default()).unwrap_err();
            assert!(
                matches!(err, SdistError::UnsafeMember { .. }) && err.to_string().contains(needle),
                "{label}: {err}"
            );
        }
    }

    /// What other stages read from the project is filled in: the version (normalized), the
    /// dependencies without the extras' (for `--with-deps`), `requires-python` (the target
    /// check); what PKG-INFO cannot give stays dynamic, with why.
    #[test]
    fn pkg_info_fills_the_dynamic_fields_it_fixes() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("Spam-1.0.0rc1");
        fs_err::create_dir_all(&root).unwrap();
        fs_err::write(
            root.join("PKG-INFO"),
            "Metadata-Version: 2.3\nName: spam\nVersion: 1.0.0-RC1\nRequires-Python: >=3.9\nRequires-Dist: a\nRequires-Dist: b; python_version < '3.11'\nRequires-Dist: c; extra=='x'\nRequires-Dist: d; (os_name == 'nt') and extra == \"y\"\nProvides-Extra: x\n",
        )
        .unwrap();
        let mut project = Project {
            name: "Spam".to_owned(),
            dynamic: ["version", "dependencies", "requires-python", "entry-points"]
                .map(str::to_owned)
                .to_vec(),
            ..Project::default()
        };
        let sdist = Path::new("dist/Spam-1.0.0rc1.tar.gz");
        resolve_dynamic(&mut project, &root, sdist).unwrap();
        assert_eq!(project.version, "1.0.0rc1");
        assert_eq!(project.dependencies, ["a", "b; python_version < '3.11'"]);
        assert_eq!(project.requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(project.dynamic, ["entry-points"]);
        let facts = project.sdist.unwrap();
        assert_eq!(facts.path, sdist);
        assert!(
            facts
                .core_metadata
                .unwrap()
                .starts_with("Metadata-Version: 2.3\n")
        );
        assert_eq!(facts.missing[0].0, "entry-points");
        assert!(
            facts
                .hint
                .ends_with("`pyship build wheels/spam-1.0.0rc1-*.whl`"),
            "{}",
            facts.hint
        );

        // A name other than the project's is an inconsistent sdist.
        let mut other = Project {
            name: "eggs".to_owned(),
            dynamic: vec!["version".to_owned()],
            ..Project::default()
        };
        let err = resolve_dynamic(&mut other, &root, sdist).unwrap_err();
        assert!(
            err.to_string()
                .contains("it names `spam`, but `pyproject.toml` names `eggs`"),
            "{err}"
        );
        // Without dynamic fields, PKG-INFO is not read.
        let mut fixed = Project {
            name: "eggs".to_owned(),
            version: "1".to_owned(),
            ..Project::default()
        };
        resolve_dynamic(&mut fixed, &root, sdist).unwrap();
        assert_eq!(fixed.sdist, None);
    }

    #[test]
    fn hints_quote_what_the_shell_would_split() {
        assert_eq!(shell_word("dist/a-1.0.tar.gz"), "dist/a-1.0.tar.gz");
        assert_eq!(shell_word("my dir/a b.tar.gz"), "'my dir/a b.tar.gz'");
        assert_eq!(shell_word("it's.tar.gz"), "'it'\\''s.tar.gz'");
    }
}
