//! The `zipapp` format (PEP 441, <https://peps.python.org/pep-0441/>): a [`ZipSink`] with a
//! shebang prefix, the executable bit, and a small *source* `__main__.py` rendered from
//! `templates/zipapp_main.py`.
//!
//! The stub checks `sys.version_info` before anything else, because every other module in the
//! archive is bytecode for one CPython version; then it runs the entry point ([`EntryPoint`]).
//! A project's own top-level `__main__.py` is shipped as [`PROJECT_MAIN`] and run with `runpy`,
//! so it never collides with the stub. With `--extract` the stub unpacks the archive once into
//! a per-user cache directory named by [`ZipappSink`]'s content hash of every other entry.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::zip::{ZipOptions, ZipSink};
use super::{Artifact, Sink, SinkError};

/// The stub template.
const TEMPLATE: &str = include_str!("../../templates/zipapp_main.py");

/// The module name a project's own top-level `__main__.py` is shipped under.
pub const PROJECT_MAIN: &str = "__pyship_main__";

/// What the stub runs after the version check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryPoint {
    /// `module:function`: import, call, exit with its return value (as console scripts do).
    Function(String),
    /// Run a module as `__main__` with `runpy`.
    Module(String),
}

/// Why no entry point could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum EntryPointError {
    /// `--main` is not `module:function` or `module`.
    #[error("Invalid entry point `{value}`: expected `module:function` or `module`")]
    Invalid {
        /// What was given.
        value: String,
    },
    /// Several scripts and no `--main`.
    #[error(
        "Several console scripts could be the zipapp's entry point ({}): pick one with `--main module:function`",
        scripts.iter().map(|(name, value)| format!("`{name}` = `{value}`")).collect::<Vec<_>>().join(", ")
    )]
    Ambiguous {
        /// The scripts, name and value.
        scripts: Vec<(String, String)>,
    },
    /// Nothing to run.
    #[error(
        "No entry point for the zipapp: pass `--main module:function`, or give the project one `[project.scripts]` entry (a wheel, one console script) or a top-level `__main__.py`"
    )]
    Missing,
}

/// How to write a zipapp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipappOptions {
    /// Unix seconds for every entry.
    pub mtime: u32,
    /// The interpreter line without `#!`, e.g. `/usr/bin/env python3.12`.
    pub shebang: String,
    /// `(3, 12)`: the only version the stub lets run.
    pub built_for: (u8, u8),
    /// What to run.
    pub entry: EntryPoint,
    /// Unpack into a per-user cache before running (native extensions).
    pub extract: bool,
}

/// `/usr/bin/env python3.12`
pub fn default_shebang(major: u8, minor: u8) -> String {
    format!("/usr/bin/env python{major}.{minor}")
}

fn is_dotted_name(value: &str) -> bool {
    !value.is_empty()
        && value.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
                && chars.all(|c| c == '_' || c.is_alphanumeric())
        })
}

/// Parse `module:function` (attributes may be dotted) or `module`; a console-script value's
/// `[extras]` suffix is ignored.
pub fn parse_entry_point(value: &str) -> Result<EntryPoint, EntryPointError> {
    let trimmed = value.split('[').next().unwrap_or_default().trim();
    let invalid = || EntryPointError::Invalid {
        value: value.to_owned(),
    };
    match trimmed.split_once(':') {
        Some((module, function)) => {
            let (module, function) = (module.trim(), function.trim());
            if is_dotted_name(module) && is_dotted_name(function) {
                Ok(EntryPoint::Function(format!("{module}:{function}")))
            } else {
                Err(invalid())
            }
        }
        None if is_dotted_name(trimmed) => Ok(EntryPoint::Module(trimmed.to_owned())),
        None => Err(invalid()),
    }
}

/// Choose the entry point: `main` (from `--main`), else the single script of `scripts`, else the
/// project's top-level `__main__.py` when `has_main_module`.
pub fn choose_entry_point(
    main: Option<&str>,
    scripts: &BTreeMap<String, String>,
    has_main_module: bool,
) -> Result<EntryPoint, EntryPointError> {
    if let Some(main) = main {
        return parse_entry_point(main);
    }
    match scripts.len() {
        1 => parse_entry_point(scripts.values().next().expect("one script")),
        0 if has_main_module => Ok(EntryPoint::Module(PROJECT_MAIN.to_owned())),
        0 => Err(EntryPointError::Missing),
        _ => Err(EntryPointError::Ambiguous {
            scripts: scripts
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        }),
    }
}

/// A Python string literal for `value` (JSON strings are valid Python literals).
fn python_string(value: &str) -> String {
    serde_json::to_string(value).expect("strings serialize")
}

/// The stub `__main__.py` for `options`, keyed to the content hash `bundle_hash`.
pub fn render_main(options: &ZipappOptions, bundle_hash: &str) -> String {
    let (entry, module) = match &options.entry {
        EntryPoint::Function(value) => (python_string(value), "None".to_owned()),
        EntryPoint::Module(value) => ("None".to_owned(), python_string(value)),
    };
    let (major, minor) = options.built_for;
    TEMPLATE
        .replace("__PYSHIP_BUILT_FOR__", &format!("({major}, {minor})"))
        .replace("__PYSHIP_ENTRY__", &entry)
        .replace("__PYSHIP_RUN_MODULE__", &module)
        .replace(
            "__PYSHIP_EXTRACT__",
            if options.extract { "True" } else { "False" },
        )
        .replace("__PYSHIP_BUNDLE_HASH__", &python_string(bundle_hash))
}

/// Writes a zipapp; see the [module docs](self).
#[derive(Debug)]
pub struct ZipappSink {
    inner: ZipSink,
    options: ZipappOptions,
    /// `path` → sha256 of its bytes, for the bundle's content hash.
    digests: BTreeMap<String, [u8; 32]>,
}

/// Start a zipapp at `dest`.
pub fn create(dest: &Path, options: ZipappOptions) -> Result<ZipappSink, SinkError> {
    let inner = super::zip::create(
        dest,
        ZipOptions {
            mtime: options.mtime,
            prefix: format!("#!{}\n", options.shebang).into_bytes(),
            executable: true,
            // An extracting zipapp is only ever imported from disk, where `__pycache__` works.
            allow_pycache: options.extract,
            ..ZipOptions::default()
        },
    )?;
    Ok(ZipappSink {
        inner,
        options,
        digests: BTreeMap::new(),
    })
}

impl ZipappSink {
    /// Hash of every entry's path and bytes, and the target version: names the extract cache.
    fn bundle_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(format!("{:?}\0", self.options.built_for));
        for (path, digest) in &self.digests {
            hasher.update(path.as_bytes());
            hasher.update(b"\0");
            hasher.update(digest);
        }
        hasher
            .finalize()
            .iter()
            .take(16)
            .fold(String::with_capacity(32), |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            })
    }
}

impl Sink for ZipappSink {
    fn add_bytes(&mut self, path: &str, bytes: &[u8], executable: bool) -> Result<(), SinkError> {
        self.inner.add_bytes(path, bytes, executable)?;
        self.digests
            .insert(path.to_owned(), Sha256::digest(bytes).into());
        Ok(())
    }

    fn add_file(&mut self, path: &str, source: &Path) -> Result<(), SinkError> {
        self.inner.add_file(path, source)?;
        if self.options.extract {
            let bytes = fs_err::read(source)?;
            self.digests
                .insert(path.to_owned(), Sha256::digest(&bytes).into());
        } else {
            self.digests.insert(path.to_owned(), [0; 32]);
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Artifact, SinkError> {
        let stub = render_main(&self.options, &self.bundle_hash());
        self.inner
            .add_bytes("__main__.py", stub.as_bytes(), false)?;
        Box::new(self.inner).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points() {
        let scripts = |names: &[&str]| -> BTreeMap<String, String> {
            names
                .iter()
                .map(|name| ((*name).to_owned(), format!("pkg.cli:{name}")))
                .collect()
        };
        assert_eq!(
            choose_entry_point(Some("pkg.cli:main"), &scripts(&["a", "b"]), true).unwrap(),
            EntryPoint::Function("pkg.cli:main".to_owned())
        );
        assert_eq!(
            choose_entry_point(Some("pkg"), &scripts(&[]), false).unwrap(),
            EntryPoint::Module("pkg".to_owned())
        );
        assert_eq!(
            choose_entry_point(None, &scripts(&["run"]), true).unwrap(),
            EntryPoint::Function("pkg.cli:run".to_owned())
        );
        assert_eq!(
            choose_entry_point(None, &scripts(&[]), true).unwrap(),
            EntryPoint::Module(PROJECT_MAIN.to_owned())
        );
        assert_eq!(
            choose_entry_point(None, &scripts(&["a", "b"]), true)
                .unwrap_err()
                .to_string(),
            "Several console scripts could be the zipapp's entry point (`a` = `pkg.cli:a`, `b` = `pkg.cli:b`): pick one with `--main module:function`"
        );
        assert!(matches!(
            choose_entry_point(None, &scripts(&[]), false),
            Err(EntryPointError::Missing)
        ));
        for bad in [
            "",
            "pkg:",
            ":main",
            "pkg-x:main",
            "pkg:main:x",
            "1pkg",
            "a..b",
        ] {
            assert!(parse_entry_point(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            parse_entry_point("pkg.cli:App.run [extra]").unwrap(),
            EntryPoint::Function("pkg.cli:App.run".to_owned())
        );
    }

    #[test]
    fn stub_has_no_placeholders_left() {
        let stub = render_main(
            &ZipappOptions {
                mtime: 0,
                shebang: default_shebang(3, 12),
                built_for: (3, 12),
                entry: EntryPoint::Function("pkg.cli:main".to_owned()),
                extract: true,
            },
            "abc",
        );
        assert!(!stub.contains("__PYSHIP_"), "{stub}");
        assert!(stub.contains("BUILT_FOR = (3, 12)\n"));
        assert!(stub.contains("ENTRY = \"pkg.cli:main\"\n"));
        assert!(stub.contains("RUN_MODULE = None\n"));
        assert!(stub.contains("EXTRACT = True\n"));
        assert!(stub.contains("BUNDLE_HASH = \"abc\"\n"));
    }
}
