//! Deployment bundles: what `--slim` leaves out, the zipapp entry point and dependencies from
//! pyproject.toml, and the native-extension check for zips.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::settings::{Config, OutputFormat};
use crate::sink::zipapp::{EntryPoint, EntryPointError, PROJECT_MAIN, choose_entry_point};
use crate::source::deps::DepsError;
use crate::source::project::Project;
use crate::source::tree::SourceFile;

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
        "`--with-deps` needs static `[project.dependencies]`, but `{}` declares them dynamic and no `-r/--requirement` file is given",
        path.display()
    )]
    DynamicDependencies {
        /// The pyproject.toml.
        path: PathBuf,
    },
    /// `--with-deps` with nothing to install: the app would die with `ModuleNotFoundError`.
    #[error(
        "`--with-deps` has nothing to install: `{}` declares no `[project.dependencies]` and no `-r/--requirement` file is given",
        path.display()
    )]
    NoDependencies {
        /// SOURCE.
        path: PathBuf,
    },
    /// A `-r/--requirement` file does not exist.
    #[error("Requirements file `{}` does not exist", path.display())]
    MissingRequirements {
        /// The path given.
        path: PathBuf,
    },
    /// A native extension would go into an archive that zipimport reads.
    #[error("{} cannot be imported from a {format}: {hint}", list_natives(paths))]
    NativeInZip {
        /// Their paths in the artifact, every one.
        paths: Vec<String>,
        /// `zip` or `zipapp`.
        format: &'static str,
        /// What to do instead.
        hint: &'static str,
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
    let paths: Vec<String> = files
        .iter()
        .filter(|file| is_native(&file.relative))
        .map(|file| file.relative.clone())
        .collect();
    if paths.is_empty() {
        return Ok(());
    }
    Err(BundleError::NativeInZip {
        paths,
        format,
        hint,
    })
}

/// How many native extensions an error names before it counts the rest.
const NATIVES_NAMED: usize = 3;

/// "Native extension `a`", "Native extensions `a`, `b` and `c`", "… `c` and 4 more".
fn list_natives(paths: &[String]) -> String {
    let named: Vec<String> = paths
        .iter()
        .take(NATIVES_NAMED)
        .map(|path| format!("`{path}`"))
        .collect();
    let rest = paths.len().saturating_sub(NATIVES_NAMED);
    let list = match (named.split_last(), rest) {
        (Some((last, [])), 0) => last.clone(),
        (Some((last, first)), 0) => format!("{} and {last}", first.join(", ")),
        (_, rest) => format!("{} and {rest} more", named.join(", ")),
    };
    let plural = if paths.len() == 1 { "" } else { "s" };
    format!("Native extension{plural} {list}")
}

fn is_native(path: &str) -> bool {
    Path::new(path)
        .extension()
        .is_some_and(|extension| extension == "so" || extension == "pyd")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tree::FileKind;

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
    fn native_extensions_are_refused_in_zips_only() {
        let files = [file("pkg/__init__.py", 1), file("pkg/_speed.abi3.so", 1)];
        let err = check_native(OutputFormat::Zipapp, false, &files).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Native extension `pkg/_speed.abi3.so` cannot be imported from a zipapp: build with `--extract` so that the zipapp unpacks itself before running"
        );
        assert!(check_native(OutputFormat::Zip, false, &files).is_err());
        // Every extension is named, up to a few; then a count.
        let mut many = vec![file("pkg/__init__.py", 1)];
        for name in [
            "a.so",
            "b.pyd",
            "c.cpython-312-x86_64-linux-gnu.so",
            "d.so",
            "e.so",
        ] {
            many.push(file(&format!("pkg/{name}"), 1));
        }
        let message = |files: &[SourceFile]| {
            check_native(OutputFormat::Zip, false, files)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            message(&many[..3]),
            "Native extensions `pkg/a.so` and `pkg/b.pyd` cannot be imported from a zip: build a `dir` instead, or leave the module out"
        );
        assert_eq!(
            message(&many[..4]),
            "Native extensions `pkg/a.so`, `pkg/b.pyd` and `pkg/c.cpython-312-x86_64-linux-gnu.so` cannot be imported from a zip: build a `dir` instead, or leave the module out"
        );
        assert_eq!(
            message(&many),
            "Native extensions `pkg/a.so`, `pkg/b.pyd`, `pkg/c.cpython-312-x86_64-linux-gnu.so` and 2 more cannot be imported from a zip: build a `dir` instead, or leave the module out"
        );
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
}
