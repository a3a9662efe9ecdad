//! Deployment bundles: what `--slim` leaves out, the zipapp entry point and dependencies from
//! pyproject.toml, the native-extension check for zips, and the per-package size report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::settings::{Config, OutputFormat};
use crate::sink::zipapp::{EntryPoint, EntryPointError, PROJECT_MAIN, choose_entry_point};
use crate::source::deps::DepsError;
use crate::source::project::Project;
use crate::source::tree::{FileKind, SourceFile};

/// `--slim`: what embedded bundles do not need, in `.gitignore` syntax.
pub const SLIM_EXCLUDES: &[&str] = &[
    "tests/",
    "test/",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "docs/",
    "*.pyi",
    "py.typed",
    "__pycache__/",
];

/// Why a bundle cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// No usable zipapp entry point.
    #[error(transparent)]
    EntryPoint(#[from] EntryPointError),
    /// Installing the dependencies failed.
    #[error(transparent)]
    Deps(#[from] DepsError),
    /// `--with-deps` cannot know dynamic dependencies.
    #[error(
        "`--with-deps` needs static `[project.dependencies]`, but `{}` declares them dynamic",
        path.display()
    )]
    DynamicDependencies {
        /// The pyproject.toml.
        path: PathBuf,
    },
    /// A native extension would go into an archive that zipimport reads.
    #[error("Native extension `{path}` cannot be imported from a {format}: {hint}")]
    NativeInZip {
        /// Its path in the artifact.
        path: String,
        /// `zip` or `zipapp`.
        format: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// The artifact could not be read back for the size report.
    #[error("Failed to measure `{}`", path.display())]
    Measure {
        /// The artifact.
        path: PathBuf,
        /// Why.
        #[source]
        err: std::io::Error,
    },
}

/// The zipapp entry point for `config`, the project (if SOURCE is one) and the scanned
/// `files`.
pub fn entry_point(
    config: &Config,
    project: Option<&Project>,
    files: &[SourceFile],
) -> Result<EntryPoint, BundleError> {
    let none = BTreeMap::new();
    let scripts = match project {
        Some(project) if config.bundle.main.is_none() => &project.scripts,
        _ => &none,
    };
    // Before or after [`rename_main`].
    let has_main = files.iter().any(|file| {
        file.relative == "__main__.py" || file.relative == format!("{PROJECT_MAIN}.py")
    });
    Ok(choose_entry_point(
        config.bundle.main.as_deref(),
        scripts,
        has_main,
    )?)
}

/// Excludes for the project: `--exclude` plus the `--slim` presets.
pub fn project_excludes(config: &Config) -> Vec<String> {
    let mut excludes = config.exclude.clone();
    excludes.extend(slim_excludes(config));
    excludes
}

/// Excludes for installed dependencies: the `--slim` presets only (`--exclude` patterns are
/// written against the project).
pub fn slim_excludes(config: &Config) -> Vec<String> {
    if config.bundle.slim {
        SLIM_EXCLUDES
            .iter()
            .map(|&pattern| pattern.to_owned())
            .collect()
    } else {
        Vec::new()
    }
}

/// A zipapp ships the project's own top-level `__main__.py` as [`PROJECT_MAIN`], so that the
/// version-checking stub can be `__main__.py`.
pub fn rename_main(files: &[SourceFile]) -> Vec<SourceFile> {
    files
        .iter()
        .cloned()
        .map(|mut file| {
            if file.relative == "__main__.py" {
                file.relative = format!("{PROJECT_MAIN}.py");
            }
            file
        })
        .collect()
}

/// Refuse a native extension module in a zip or a zipapp without `--extract`: zipimport cannot
/// load one, and the failure would only show at run time.
pub fn check_native(
    format: OutputFormat,
    extract: bool,
    files: &[SourceFile],
) -> Result<(), BundleError> {
    let (format, hint) = match format {
        OutputFormat::Zipapp if !extract => (
            "zipapp",
            "build with `--extract` so that the zipapp unpacks itself before running",
        ),
        OutputFormat::Zip => ("zip", "build a `dir` instead, or leave the module out"),
        _ => return Ok(()),
    };
    match files.iter().find(|file| is_native(&file.relative)) {
        Some(file) => Err(BundleError::NativeInZip {
            path: file.relative.clone(),
            format,
            hint,
        }),
        None => Ok(()),
    }
}

fn is_native(path: &str) -> bool {
    Path::new(path)
        .extension()
        .is_some_and(|extension| extension == "so" || extension == "pyd")
}

/// The top-level package or module an artifact path belongs to: `pkg/sub/x.pyc` → `pkg`,
/// `mod.pyc` → `mod`, `__pycache__/mod.cpython-312.pyc` → `mod`.
pub fn top_level(path: &str) -> String {
    let path = path.strip_prefix("__pycache__/").unwrap_or(path);
    match path.split_once('/') {
        Some((first, _)) => first.to_owned(),
        None => path.split('.').next().unwrap_or(path).to_owned(),
    }
}

/// Sizes of one top-level package or module.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PackageSize {
    /// `pkg`, `mod` or `dep-1.0.dist-info`.
    pub name: String,
    /// Input files (modules and data).
    pub files: usize,
    /// Bytes of the input files.
    pub source_bytes: u64,
    /// Bytes of the files in the artifact (uncompressed).
    pub shipped_bytes: u64,
    /// Bytes of `.py` inputs not shipped as source (`--strip-sources`).
    pub stripped_source_bytes: u64,
}

/// The size report of one artifact.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BundleSizes {
    /// The artifact.
    pub artifact: PathBuf,
    /// Target CPython, e.g. `3.12`.
    pub python: String,
    /// The optimize level the modules were compiled at.
    pub optimize: u8,
    /// Per top-level package, sorted by name.
    pub packages: Vec<PackageSize>,
    /// Sum of [`PackageSize::source_bytes`].
    pub source_bytes: u64,
    /// Sum of [`PackageSize::shipped_bytes`].
    pub shipped_bytes: u64,
    /// Sum of [`PackageSize::stripped_source_bytes`].
    pub stripped_source_bytes: u64,
    /// Bytes of the archive file; `None` for a directory.
    pub archive_bytes: Option<u64>,
}

fn package(packages: &mut BTreeMap<String, PackageSize>, name: String) -> &mut PackageSize {
    packages.entry(name.clone()).or_insert(PackageSize {
        name,
        ..PackageSize::default()
    })
}

/// Measure the finished `artifact` against its input `files`.
pub fn measure(
    artifact: &crate::sink::Artifact,
    files: &[SourceFile],
    python: &str,
    optimize: u8,
) -> Result<BundleSizes, BundleError> {
    let shipped = &artifact.files;
    let mut packages: BTreeMap<String, PackageSize> = BTreeMap::new();
    for file in files {
        let sizes = package(&mut packages, top_level(&file.relative));
        sizes.files += 1;
        sizes.source_bytes += file.size;
        if file.kind == FileKind::Module && !shipped.contains_key(&file.relative) {
            sizes.stripped_source_bytes += file.size;
        }
    }
    for (path, bytes) in shipped {
        package(&mut packages, top_level(path)).shipped_bytes += bytes;
    }
    let packages: Vec<PackageSize> = packages.into_values().collect();
    let archive_bytes = if artifact.path.is_file() {
        let metadata = fs_err::metadata(&artifact.path).map_err(|err| BundleError::Measure {
            path: artifact.path.clone(),
            err,
        })?;
        Some(metadata.len())
    } else {
        None
    };
    Ok(BundleSizes {
        artifact: artifact.path.clone(),
        python: python.to_owned(),
        optimize,
        source_bytes: packages.iter().map(|p| p.source_bytes).sum(),
        shipped_bytes: packages.iter().map(|p| p.shipped_bytes).sum(),
        stripped_source_bytes: packages.iter().map(|p| p.stripped_source_bytes).sum(),
        archive_bytes,
        packages,
    })
}

/// The human size report: one line per package, then what was saved.
pub fn render_sizes(sizes: &BundleSizes) -> String {
    use crate::report::{escape, human_bytes};
    use std::fmt::Write;
    let width = sizes
        .packages
        .iter()
        .map(|package| escape(&package.name).chars().count())
        .chain([7])
        .max()
        .unwrap_or(7);
    let mut out = format!(
        "Sizes of `{}` (Python {}):\n  {:<width$}  {:>10}  {:>10}\n",
        escape(&sizes.artifact.to_string_lossy()),
        sizes.python,
        "package",
        "source",
        "shipped"
    );
    for package in &sizes.packages {
        let _ = writeln!(
            out,
            "  {:<width$}  {:>10}  {:>10}",
            escape(&package.name),
            human_bytes(package.source_bytes),
            human_bytes(package.shipped_bytes)
        );
    }
    let _ = write!(
        out,
        "  {:<width$}  {:>10}  {:>10}",
        "total",
        human_bytes(sizes.source_bytes),
        human_bytes(sizes.shipped_bytes)
    );
    if let Some(archive) = sizes.archive_bytes {
        let _ = write!(out, " ({} compressed)", human_bytes(archive));
    }
    if sizes.stripped_source_bytes > 0 {
        let _ = write!(
            out,
            "\n  --strip-sources left out {} of sources",
            human_bytes(sizes.stripped_source_bytes)
        );
    }
    if sizes.optimize == 2 {
        out.push_str("\n  -OO dropped docstrings and asserts from the bytecode");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(relative: &str, size: u64) -> SourceFile {
        SourceFile {
            path: PathBuf::from(relative),
            relative: relative.to_owned(),
            kind: if Path::new(relative).extension().is_some_and(|e| e == "py") {
                FileKind::Module
            } else {
                FileKind::Data
            },
            size,
            executable: false,
            contents: None,
        }
    }

    #[test]
    fn top_levels() {
        assert_eq!(top_level("pkg/sub/x.pyc"), "pkg");
        assert_eq!(top_level("mod.pyc"), "mod");
        assert_eq!(top_level("__pycache__/mod.cpython-312.pyc"), "mod");
        assert_eq!(top_level("dep-1.0.dist-info/METADATA"), "dep-1.0.dist-info");
        assert_eq!(
            top_level("_native.cpython-312-x86_64-linux-gnu.so"),
            "_native"
        );
    }

    #[test]
    fn native_extensions_are_refused_in_zips_only() {
        let files = [file("pkg/__init__.py", 1), file("pkg/_speed.abi3.so", 1)];
        let err = check_native(OutputFormat::Zipapp, false, &files).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Native extension `pkg/_speed.abi3.so` cannot be imported from a zipapp: build with `--extract` so that the zipapp unpacks itself before running"
        );
        assert!(check_native(OutputFormat::Zip, false, &files).is_err());
        check_native(OutputFormat::Zipapp, true, &files).unwrap();
        check_native(OutputFormat::Dir, false, &files).unwrap();
        check_native(OutputFormat::Zip, false, &files[..1]).unwrap();
    }

    #[test]
    fn project_main_is_renamed() {
        let renamed = rename_main(&[file("__main__.py", 1), file("pkg/__main__.py", 1)]);
        assert_eq!(renamed[0].relative, "__pyship_main__.py");
        assert_eq!(renamed[1].relative, "pkg/__main__.py");
    }

    #[test]
    fn sizes_per_package() {
        let artifact = crate::sink::Artifact::new(
            PathBuf::from("out"),
            [("pkg/__init__.pyc", 30), ("mod.py", 7), ("mod.pyc", 20)]
                .into_iter()
                .map(|(path, size)| (path.to_owned(), size))
                .collect(),
        );
        let files = [file("pkg/__init__.py", 100), file("mod.py", 7)];
        let sizes = measure(&artifact, &files, "3.12", 0).unwrap();
        assert_eq!(
            sizes
                .packages
                .iter()
                .map(|p| (
                    p.name.as_str(),
                    p.source_bytes,
                    p.shipped_bytes,
                    p.stripped_source_bytes
                ))
                .collect::<Vec<_>>(),
            [("mod", 7, 27, 0), ("pkg", 100, 30, 100)]
        );
        assert_eq!(sizes.stripped_source_bytes, 100);
        assert!(render_sizes(&sizes).contains("--strip-sources left out 100 B of sources"));
    }
}
