//! The per-package size report of a finished artifact: what each top-level package weighs as
//! input and as shipped, and what `--strip-sources` left out. Reads the sink's list of written
//! files and the input files; rendered by the binary, serialized into `--report`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::sink::Artifact;
use crate::source::tree::{FileKind, SourceFile};

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
    artifact: &Artifact,
    files: &[SourceFile],
    python: &str,
    optimize: u8,
) -> std::io::Result<BundleSizes> {
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
        let metadata = fs_err::metadata(&artifact.path)?;
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
    use super::{escape, human_bytes};
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
        // An archive of small files can be larger than they are: it is not "compressed" then.
        let what = if archive < sizes.shipped_bytes {
            "compressed"
        } else {
            "on disk"
        };
        let _ = write!(out, " ({} {what})", human_bytes(archive));
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
    use std::path::{Path, PathBuf};

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
    fn an_archive_larger_than_its_files_is_not_called_compressed() {
        let sizes = |archive| BundleSizes {
            artifact: PathBuf::from("a.zip"),
            python: "3.12".to_owned(),
            shipped_bytes: 1000,
            archive_bytes: Some(archive),
            ..BundleSizes::default()
        };
        assert!(render_sizes(&sizes(400)).contains("1000 B (400 B compressed)"));
        let big = render_sizes(&sizes(1300));
        assert!(big.contains("1000 B (1.3 KiB on disk)"), "{big}");
        assert!(!big.contains("compressed"), "{big}");
    }

    #[test]
    fn sizes_per_package() {
        let artifact = Artifact::new(
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
