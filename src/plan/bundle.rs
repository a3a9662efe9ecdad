//! Deployment bundles: what `--slim` leaves out, the zipapp entry point and dependencies from
//! pyproject.toml, and the native-extension check for zips.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::settings::{Config, OutputFormat};
use crate::sink::zipapp::{EntryPoint, EntryPointError, PROJECT_MAIN, choose_entry_point};
use crate::source::WheelInput;
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
    let from_wheel;
    let scripts = if let Some(project) = project {
        &project.scripts
    } else {
        // A wheel SOURCE names its scripts in its own `entry_points.txt`.
        from_wheel = wheel_console_scripts(files);
        &from_wheel
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

/// The `[console_scripts]` of the top-level `*.dist-info/entry_points.txt` among `files` (a
/// wheel SOURCE's), by name; empty when there is none or it cannot be read.
fn wheel_console_scripts(files: &[SourceFile]) -> BTreeMap<String, String> {
    let Some(file) = files.iter().find(|file| {
        file.relative
            .strip_suffix(".dist-info/entry_points.txt")
            .is_some_and(|dir| !dir.is_empty() && !dir.contains('/'))
    }) else {
        return BTreeMap::new();
    };
    console_scripts(&file.text().unwrap_or_default())
}

/// The `[console_scripts]` section of an `entry_points.txt` (the entry points file format:
/// INI sections of `name = value`, `#` and `;` comments).
fn console_scripts(text: &str) -> BTreeMap<String, String> {
    let mut scripts = BTreeMap::new();
    let mut in_section = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            in_section = section.trim() == "console_scripts";
        } else if in_section && let Some((name, value)) = line.split_once('=') {
            scripts.insert(name.trim().to_owned(), value.trim().to_owned());
        }
    }
    scripts
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

/// A wheel SOURCE's files as `pip install --target` lays them out, which is what a bundle (dir,
/// zip, zipapp) of it must hold to be importable: the `NAME.data/` categories leave the archive
/// layout for their install places — `purelib/` and `platlib/` and `data/` to the top, `scripts/`
/// to `bin/`, `headers/` to `include/python/NAME/`. Anything else is unchanged, in order.
pub fn installed_layout(wheel: Option<&WheelInput>, files: &[SourceFile]) -> Vec<SourceFile> {
    let Some(wheel) = wheel else {
        return files.to_vec();
    };
    let data = wheel.dist_info.replace(".dist-info", ".data/");
    let headers = format!("include/python/{}/", wheel.filename.name);
    files
        .iter()
        .cloned()
        .map(|mut file| {
            let place = file.relative.strip_prefix(&data).and_then(|rest| {
                let (category, path) = rest.split_once('/')?;
                match category {
                    "purelib" | "platlib" | "data" => Some(path.to_owned()),
                    "scripts" => Some(format!("bin/{path}")),
                    "headers" => Some(format!("{headers}{path}")),
                    _ => None,
                }
            });
            if let Some(place) = place {
                file.relative = place;
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
    use crate::wheel::tags::{Tag, WheelFilename};

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

    #[test]
    fn a_wheels_console_scripts_are_read_from_its_entry_points() {
        let text = "# made by hand\n[gui_scripts]\ngui = pkg.gui:run\n\n[console_scripts]\n  http = httpie.__main__:main\n; a comment\nhttps=httpie.__main__:main [extra]\n[other]\nx = y:z\n";
        let scripts = console_scripts(text);
        assert_eq!(
            scripts.into_iter().collect::<Vec<_>>(),
            [
                ("http".to_owned(), "httpie.__main__:main".to_owned()),
                (
                    "https".to_owned(),
                    "httpie.__main__:main [extra]".to_owned()
                ),
            ]
        );
        // Only the wheel's own top-level dist-info counts.
        let mut entry_points = file("pkg-1.0.dist-info/entry_points.txt", 1);
        entry_points.contents = Some(b"[console_scripts]\nrun = pkg:main\n".to_vec().into());
        let mut vendored = file("pkg/_vendor/x-1.dist-info/entry_points.txt", 1);
        vendored.contents = Some(b"[console_scripts]\nx = x:main\n".to_vec().into());
        assert_eq!(
            wheel_console_scripts(&[vendored.clone(), entry_points])
                .into_keys()
                .collect::<Vec<_>>(),
            ["run"]
        );
        assert!(wheel_console_scripts(&[vendored]).is_empty());
    }

    #[test]
    fn a_wheels_data_goes_where_pip_install_target_puts_it() {
        let wheel = WheelInput {
            filename: WheelFilename {
                name: "pkg".to_owned(),
                version: "1.0".to_owned(),
                build: None,
                tags: vec![Tag::new("py3", "none", "any")],
            },
            dist_info: "pkg-1.0.dist-info".to_owned(),
            wheel_file: String::new(),
            tags: Vec::new(),
        };
        let files = [
            "pkg-1.0.data/data/share/x.txt",
            "pkg-1.0.data/headers/pkg.h",
            "pkg-1.0.data/platlib/_speed.so",
            "pkg-1.0.data/purelib/extra.py",
            "pkg-1.0.data/scripts/tool",
            "pkg-1.0.data/unknown/y",
            "pkg-1.0.dist-info/METADATA",
            "pkg/__init__.py",
            "pkg/pkg-1.0.data/purelib/z.py",
        ]
        .map(|relative| file(relative, 1));
        let placed: Vec<_> = installed_layout(Some(&wheel), &files)
            .into_iter()
            .map(|file| file.relative)
            .collect();
        assert_eq!(
            placed,
            [
                "share/x.txt",
                "include/python/pkg/pkg.h",
                "_speed.so",
                "extra.py",
                "bin/tool",
                "pkg-1.0.data/unknown/y",
                "pkg-1.0.dist-info/METADATA",
                "pkg/__init__.py",
                "pkg/pkg-1.0.data/purelib/z.py",
            ]
        );
        assert_eq!(installed_layout(None, &files), files);
    }
}
