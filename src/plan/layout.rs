//! Decide where every file goes in an artifact (SPEC §2). Pure: no I/O, no Python.
//!
//! | placement | directory / installed wheel | zip / zipapp |
//! |---|---|---|
//! | beside | `pkg/__pycache__/mod.<tag>[.opt-N].pyc` + `pkg/mod.py` | `pkg/mod.pyc` + `pkg/mod.py` |
//! | replace | `pkg/mod.pyc` | `pkg/mod.pyc` |
//!
//! CPython reads `__pycache__/` only beside a source, and zipimport never reads it, so a
//! sourceless or zipped module uses the legacy `X.pyc` name, which carries no opt tag.

use ignore::gitignore::Gitignore;

use crate::bytecode::pyc::Invalidation;
use crate::compile::Optimize;
use crate::settings::Placement;
use crate::source::tree::{FileKind, SourceFile};

/// How the artifact is read by the import system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// A directory on `sys.path` (also an installed wheel): `__pycache__` works.
    FileSystem,
    /// An archive read by zipimport: only legacy `X.pyc` works.
    Zip,
}

/// What one artifact path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// The project file `files[index]`, unchanged.
    Copy {
        /// Index into the scanned files.
        index: usize,
    },
    /// The compiled form of module `files[index]`.
    Compiled {
        /// Index into the scanned files.
        index: usize,
        /// How the header lets the loader check freshness.
        invalidation: Invalidation,
    },
}

/// One file of the artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `/`-separated path inside the artifact.
    pub path: String,
    /// What goes there.
    pub content: Content,
}

/// The choices that decide a layout.
#[derive(Debug, Clone)]
pub struct LayoutOptions<'a> {
    /// Beside sources or sourceless.
    pub placement: Placement,
    /// Directory or zip.
    pub loader: Loader,
    /// The target's `sys.implementation.cache_tag`.
    pub cache_tag: &'a str,
    /// The optimization level, for `.opt-N` names.
    pub optimize: Optimize,
    /// Modules that stay `.py` when sourceless.
    pub keep_source: &'a Gitignore,
    /// The invalidation mode for pycs beside a source.
    pub beside_invalidation: Invalidation,
    /// The invalidation mode for sourceless pycs.
    pub sourceless_invalidation: Invalidation,
}

/// `pkg/__pycache__/mod.cpython-312.opt-1.pyc` for `pkg/mod.py` (PEP 3147, PEP 488).
pub fn cache_path(relative: &str, cache_tag: &str, optimize: Optimize) -> String {
    let (dir, file) = relative
        .rsplit_once('/')
        .map_or(("", relative), |(dir, file)| (dir, file));
    let stem = file.strip_suffix(".py").unwrap_or(file);
    let name = cache_file_name(stem, cache_tag, optimize);
    if dir.is_empty() {
        format!("__pycache__/{name}")
    } else {
        format!("{dir}/__pycache__/{name}")
    }
}

/// `mod.cpython-312.opt-1.pyc` for the module stem `mod`: the one place a `__pycache__` file
/// name is made (PEP 3147, PEP 488), for artifacts and for `pyship compile` alike.
pub fn cache_file_name(stem: &str, cache_tag: &str, optimize: Optimize) -> String {
    format!("{stem}.{cache_tag}{}.pyc", optimize.pyc_tag())
}

/// `pkg/mod.pyc` for `pkg/mod.py`.
pub fn legacy_path(relative: &str) -> String {
    format!("{relative}c")
}

/// Plan the artifact: one or two entries per module, one per data file, sorted by path.
pub fn plan(files: &[SourceFile], options: &LayoutOptions<'_>) -> Vec<Entry> {
    let mut entries = Vec::with_capacity(files.len() * 2);
    for (index, file) in files.iter().enumerate() {
        if file.kind == FileKind::Data {
            entries.push(Entry {
                path: file.relative.clone(),
                content: Content::Copy { index },
            });
            continue;
        }
        let kept = options
            .keep_source
            .matched_path_or_any_parents(&file.relative, false)
            .is_ignore();
        let placement = if kept {
            Placement::Beside
        } else {
            options.placement
        };
        match placement {
            Placement::Beside => {
                entries.push(Entry {
                    path: file.relative.clone(),
                    content: Content::Copy { index },
                });
                let path = match options.loader {
                    Loader::FileSystem => {
                        cache_path(&file.relative, options.cache_tag, options.optimize)
                    }
                    Loader::Zip => legacy_path(&file.relative),
                };
                entries.push(Entry {
                    path,
                    content: Content::Compiled {
                        index,
                        invalidation: options.beside_invalidation,
                    },
                });
            }
            Placement::Replace => entries.push(Entry {
                path: legacy_path(&file.relative),
                content: Content::Compiled {
                    index,
                    invalidation: options.sourceless_invalidation,
                },
            }),
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::source::tree::matcher;

    fn files(relatives: &[&str]) -> Vec<SourceFile> {
        relatives
            .iter()
            .map(|relative| SourceFile {
                path: PathBuf::from(relative),
                relative: (*relative).to_owned(),
                kind: if std::path::Path::new(relative).extension() == Some("py".as_ref()) {
                    FileKind::Module
                } else {
                    FileKind::Data
                },
                size: 0,
                executable: false,
                contents: None,
            })
            .collect()
    }

    fn paths(placement: Placement, loader: Loader, optimize: u8, keep: &[&str]) -> Vec<String> {
        let keep = matcher(std::path::Path::new(""), keep).unwrap();
        let options = LayoutOptions {
            placement,
            loader,
            cache_tag: "cpython-312",
            optimize: Optimize::from_level(optimize.into()).unwrap(),
            keep_source: &keep,
            beside_invalidation: Invalidation::CheckedHash,
            sourceless_invalidation: Invalidation::UncheckedHash,
        };
        let files = files(&[
            "main.py",
            "pkg/__init__.py",
            "pkg/data.json",
            "pkg/sub/mod.py",
        ]);
        plan(&files, &options)
            .into_iter()
            .map(|entry| match entry.content {
                Content::Copy { .. } => entry.path,
                Content::Compiled { invalidation, .. } => {
                    format!("{} ({invalidation:?})", entry.path)
                }
            })
            .collect()
    }

    #[test]
    fn beside_in_a_directory_uses_pycache() {
        assert_eq!(
            paths(Placement::Beside, Loader::FileSystem, 1, &[]),
            [
                "__pycache__/main.cpython-312.opt-1.pyc (CheckedHash)",
                "main.py",
                "pkg/__init__.py",
                "pkg/__pycache__/__init__.cpython-312.opt-1.pyc (CheckedHash)",
                "pkg/data.json",
                "pkg/sub/__pycache__/mod.cpython-312.opt-1.pyc (CheckedHash)",
                "pkg/sub/mod.py",
            ]
        );
    }

    #[test]
    fn beside_in_a_zip_uses_legacy_names() {
        assert_eq!(
            paths(Placement::Beside, Loader::Zip, 2, &[]),
            [
                "main.py",
                "main.pyc (CheckedHash)",
                "pkg/__init__.py",
                "pkg/__init__.pyc (CheckedHash)",
                "pkg/data.json",
                "pkg/sub/mod.py",
                "pkg/sub/mod.pyc (CheckedHash)",
            ]
        );
    }

    #[test]
    fn sourceless_replaces_sources_except_kept_ones() {
        assert_eq!(
            paths(Placement::Replace, Loader::FileSystem, 0, &["main.py"]),
            [
                "__pycache__/main.cpython-312.pyc (CheckedHash)",
                "main.py",
                "pkg/__init__.pyc (UncheckedHash)",
                "pkg/data.json",
                "pkg/sub/mod.pyc (UncheckedHash)",
            ]
        );
        assert_eq!(
            paths(Placement::Replace, Loader::Zip, 0, &["sub/"]),
            [
                "main.pyc (UncheckedHash)",
                "pkg/__init__.pyc (UncheckedHash)",
                "pkg/data.json",
                "pkg/sub/mod.py",
                "pkg/sub/mod.pyc (CheckedHash)",
            ]
        );
    }

    #[test]
    fn cache_paths() {
        assert_eq!(
            cache_path("a.py", "cpython-38", Optimize::Zero),
            "__pycache__/a.cpython-38.pyc"
        );
        assert_eq!(
            cache_path("p/q/a.py", "cpython-313", Optimize::Two),
            "p/q/__pycache__/a.cpython-313.opt-2.pyc"
        );
    }
}
