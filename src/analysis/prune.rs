//! Pruning (`--prune-from`): the modules an entry point reaches by static imports.
//!
//! Pure: the bundle's paths (as installed), what the analysis read from each module and the
//! entry modules give which files stay. The rules:
//! - a module's name comes from its path (`pkg/mod.py` is `pkg.mod`, `pkg/__init__.py` is
//!   `pkg`; extension modules `.so`/`.pyd` are modules too);
//! - every import that runs is followed (module level, in functions, in `try`/`except`), not
//!   those under `if TYPE_CHECKING:`; `import a.b.c` keeps `a`, `a.b` and `a.b.c`;
//!   `from pkg import name` keeps `pkg.name` when it is a module of the bundle (else it is a
//!   name); `from pkg import *` keeps every submodule of `pkg` (its `__all__` may name them);
//!   relative imports count their dots from the importing module's package;
//! - keeping a module keeps the `__init__` of every package above it, and follows its imports;
//! - a module whose imports cannot be read (the Rust parser refused it, or it is a native
//!   extension) keeps its whole package;
//! - a data file goes with the nearest directory above it that holds modules: kept when one
//!   of them is, and always kept when there is no such directory (`*.dist-info/`, top-level
//!   files).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::Analyzed;
use super::facts::Guard;

/// Why pruning cannot be done as asked.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// A `--prune-from` or `--include` module is not in the bundle.
    #[error("`{flag} {module}` names no module in the bundle")]
    NoSuchModule {
        /// `--prune-from` or `--include`.
        flag: &'static str,
        /// What was given.
        module: String,
        /// Modules of the bundle with a close name, or its top-level ones.
        hint: String,
    },
    /// Pruning a wheel.
    #[error(
        "Pruning does not apply to a wheel: a wheel is a library, whose users may import any of it"
    )]
    Wheel,
    /// `--prune` alone, and no entry point to prune from.
    #[error("`--prune` prunes from the entry point, and there is none: {reason}")]
    NoEntryPoint {
        /// Why there is none.
        reason: String,
    },
}

impl PruneError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            PruneError::NoSuchModule { hint, .. } => Some(hint.clone()),
            PruneError::Wheel => Some(
                "build the wheel and the pruned bundle in two runs: `-f wheel`, then `-f zipapp --prune` (or `-f dir`/`-f zip` with `--prune-from MODULE`)"
                    .to_owned(),
            ),
            PruneError::NoEntryPoint { .. } => Some(
                "name the modules to prune from with `--prune-from MODULE` (repeatable), or the entry point with `--main module:function`"
                    .to_owned(),
            ),
        }
    }
}

/// What pruning keeps of a bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruning {
    /// `kept[i]`: whether file `i` stays.
    pub kept: Vec<bool>,
    /// Modules that kept ones import and the bundle does not have (the standard library, or
    /// missing), each with its first importer: `(file index, line)`.
    pub outside: BTreeMap<String, (usize, u32)>,
    /// Modules reached whose imports could not be read, so their whole package is kept: file
    /// index and why.
    pub kept_whole: Vec<(usize, String)>,
}

impl Pruning {
    /// Indices of the files left out, in order.
    pub fn dropped(&self) -> impl Iterator<Item = usize> + '_ {
        self.kept
            .iter()
            .enumerate()
            .filter(|(_, kept)| !**kept)
            .map(|(index, _)| index)
    }
}

/// The dotted module name of the file at `path` (`/`-separated, as installed), and whether it
/// is a package's `__init__`; `None` when it cannot be imported by name (data, a script in a
/// directory whose name is no identifier, `foo.libs/libbar.so`).
// CPython's finders compare suffixes exactly, case included.
#[allow(clippy::case_sensitive_file_extension_comparisons)]
pub fn module_name(path: &str) -> Option<(String, bool)> {
    let (dirs, file) = match path.rsplit_once('/') {
        Some((dirs, file)) => (dirs.split('/').collect::<Vec<_>>(), file),
        None => (Vec::new(), path),
    };
    let stem = if let Some(stem) = file.strip_suffix(".py") {
        stem
    } else if file.ends_with(".so") || file.ends_with(".pyd") {
        // `name.cpython-312-x86_64-linux-gnu.so`, `name.abi3.so`, `name.cp312-win_amd64.pyd`.
        file.split('.').next().unwrap_or_default()
    } else {
        return None;
    };
    if !dirs.iter().all(|dir| is_identifier(dir)) || !is_identifier(stem) {
        return None;
    }
    if stem == "__init__" {
        // A top-level `__init__.py` belongs to no package.
        (!dirs.is_empty()).then(|| (dirs.join("."), true))
    } else {
        let mut name = dirs.join(".");
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(stem);
        Some((name, false))
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first == '_' || first.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// `a.b.c` → `a.b`; `a` → ``.
fn parent(name: &str) -> &str {
    name.rsplit_once('.').map_or("", |(parent, _)| parent)
}

/// The directory part of `path`: `a/b/c.py` → `a/b`; `c.py` → ``.
fn directory(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The modules of a bundle, by name.
struct Modules<'a> {
    /// Name → files (a name can have several: `mod.py` beside `mod.cpython-312-….so`).
    by_name: HashMap<String, Vec<usize>>,
    /// `(name, is package)` of each file that is a module.
    names: Vec<Option<(String, bool)>>,
    /// Dotted names of directories that hold modules, namespace packages included.
    packages: HashSet<String>,
    paths: &'a [&'a str],
}

impl<'a> Modules<'a> {
    fn new(paths: &'a [&'a str]) -> Self {
        let names: Vec<_> = paths.iter().map(|path| module_name(path)).collect();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut packages = HashSet::new();
        for (index, name) in names.iter().enumerate() {
            if let Some((name, package)) = name {
                by_name.entry(name.clone()).or_default().push(index);
                let mut dir = if *package {
                    name.as_str()
                } else {
                    parent(name)
                };
                while !dir.is_empty() && packages.insert(dir.to_owned()) {
                    dir = parent(dir);
                }
            }
        }
        Modules {
            by_name,
            names,
            packages,
            paths,
        }
    }

    /// Whether `name` is something of the bundle one can import.
    fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name) || self.packages.contains(name)
    }

    /// A `hint:` for a name that is not in the bundle: close names, else the top-level ones.
    fn suggest(&self, wrong: &str) -> String {
        let mut close: Vec<(f64, &String)> = self
            .by_name
            .keys()
            .map(|name| (strsim::jaro_winkler(wrong, name), name))
            .filter(|(score, _)| *score > 0.85)
            .collect();
        close.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        if !close.is_empty() {
            let names: Vec<_> = close
                .iter()
                .take(3)
                .map(|(_, name)| name.as_str())
                .collect();
            return format!("did you mean `{}`?", names.join("`, `"));
        }
        let top: BTreeSet<&str> = self
            .by_name
            .keys()
            .map(|name| name.split('.').next().unwrap_or_default())
            .collect();
        if top.is_empty() {
            return "the bundle has no importable module".to_owned();
        }
        let shown: Vec<&str> = top.iter().copied().take(10).collect();
        let more = if top.len() > shown.len() { ", …" } else { "" };
        format!(
            "the bundle's top-level modules are `{}`{more}",
            shown.join("`, `")
        )
    }
}

/// The walk over the import graph.
struct Walk<'a> {
    modules: &'a Modules<'a>,
    analyses: &'a [Option<Analyzed>],
    kept: Vec<bool>,
    queue: Vec<usize>,
    outside: BTreeMap<String, (usize, u32)>,
    kept_whole: Vec<(usize, String)>,
}

impl Walk<'_> {
    /// Keep the modules named `name`, the `__init__` of every package above them, and what
    /// they import.
    fn keep(&mut self, name: &str) {
        let mut prefix = name;
        loop {
            for &index in self.modules.by_name.get(prefix).into_iter().flatten() {
                if !self.kept[index] {
                    self.kept[index] = true;
                    self.queue.push(index);
                }
            }
            if prefix.is_empty() {
                break;
            }
            prefix = parent(prefix);
        }
    }

    /// Keep `name` as an import of file `from` at `line`; a name the bundle lacks is
    /// `outside`.
    fn import(&mut self, name: &str, from: usize, line: u32) {
        if self.modules.has(name) {
            self.keep(name);
        } else {
            self.keep(parent(name));
            self.outside.entry(name.to_owned()).or_insert((from, line));
        }
    }

    /// Follow what file `index` imports.
    fn follow(&mut self, index: usize) {
        let Some((name, package)) = self.modules.names[index].clone() else {
            return;
        };
        let analyses = self.analyses;
        let facts = match analyses.get(index).and_then(Option::as_ref) {
            Some(Analyzed::Read(facts)) => facts,
            Some(Analyzed::Unreadable(why)) => return self.keep_package(index, why),
            None => {
                return self
                    .keep_package(index, "a native extension, whose imports cannot be read");
            }
        };
        for import in &facts.imports {
            if import.guard == Guard::TypeChecking {
                continue;
            }
            let base = if import.level == 0 {
                import.module.clone()
            } else {
                // The importing module's package, then one level up per further dot.
                let mut package_name = if package {
                    name.as_str()
                } else {
                    parent(&name)
                };
                for _ in 1..import.level {
                    package_name = parent(package_name);
                }
                if package_name.is_empty() {
                    // Beyond the top-level package: fails at run time, nothing to keep.
                    continue;
                }
                if import.module.is_empty() {
                    package_name.to_owned()
                } else {
                    format!("{package_name}.{}", import.module)
                }
            };
            self.import(&base, index, import.line);
            for imported in &import.names {
                if imported == "*" {
                    // `__all__` may name submodules: keep every one.
                    let prefix = format!("{base}.");
                    let submodules: Vec<String> = self
                        .modules
                        .by_name
                        .keys()
                        .filter(|other| {
                            other
                                .strip_prefix(&prefix)
                                .is_some_and(|rest| !rest.contains('.'))
                        })
                        .cloned()
                        .collect();
                    for submodule in submodules {
                        self.keep(&submodule);
                    }
                } else {
                    let submodule = format!("{base}.{imported}");
                    // Else it is a name defined in `base`.
                    if self.modules.has(&submodule) {
                        self.keep(&submodule);
                    }
                }
            }
        }
    }

    /// Keep every module in the package of file `index`, whose imports are unknown; a
    /// top-level module has no package and keeps only itself.
    fn keep_package(&mut self, index: usize, why: &str) {
        self.kept_whole.push((index, why.to_owned()));
        let dir = directory(self.modules.paths[index]);
        if dir.is_empty() {
            return;
        }
        let prefix = format!("{dir}/");
        let inside: Vec<String> = self
            .modules
            .names
            .iter()
            .zip(self.modules.paths)
            .filter(|(_, path)| path.starts_with(&prefix))
            .filter_map(|(name, _)| name.as_ref().map(|(name, _)| name.clone()))
            .collect();
        for name in inside {
            self.keep(&name);
        }
    }
}

/// Which of the files at `paths` (installed paths, `/`-separated) the modules `roots` and
/// `include` reach, with `analyses[i]` what the analysis read from file `i` (`None` for files
/// that are not Python source). A root that is a package also runs its `__main__`, as
/// `python -m` does.
pub fn prune(
    paths: &[&str],
    analyses: &[Option<Analyzed>],
    roots: &[String],
    include: &[String],
) -> Result<Pruning, PruneError> {
    let modules = Modules::new(paths);
    for (flag, names) in [("--prune-from", roots), ("--include", include)] {
        if let Some(module) = names
            .iter()
            .find(|name| !modules.by_name.contains_key(name.as_str()))
        {
            return Err(PruneError::NoSuchModule {
                flag,
                module: module.clone(),
                hint: modules.suggest(module),
            });
        }
    }
    let mut walk = Walk {
        modules: &modules,
        analyses,
        kept: vec![false; paths.len()],
        queue: Vec::new(),
        outside: BTreeMap::new(),
        kept_whole: Vec::new(),
    };
    for root in roots {
        walk.keep(root);
        let main = format!("{root}.__main__");
        if modules.by_name.contains_key(&main) {
            walk.keep(&main);
        }
    }
    for name in include {
        walk.keep(name);
    }
    while let Some(index) = walk.queue.pop() {
        walk.follow(index);
    }
    let Walk {
        mut kept,
        outside,
        mut kept_whole,
        ..
    } = walk;
    kept_whole.sort_unstable();

    // Data files go with the nearest directory above them that holds modules.
    let module_dirs: HashSet<&str> = modules
        .names
        .iter()
        .zip(paths)
        .filter(|(name, _)| name.is_some())
        .map(|(_, path)| directory(path))
        .collect();
    let kept_dirs: HashSet<&str> = modules
        .names
        .iter()
        .zip(paths)
        .zip(&kept)
        .filter(|((name, _), kept)| name.is_some() && **kept)
        .map(|((_, path), _)| directory(path))
        .collect();
    for (index, path) in paths.iter().enumerate() {
        if modules.names[index].is_some() {
            continue;
        }
        let mut dir = directory(path);
        kept[index] = loop {
            if dir.is_empty() {
                // In no package.
                break true;
            }
            if module_dirs.contains(dir) {
                break kept_dirs.contains(dir);
            }
            dir = directory(dir);
        };
    }
    Ok(Pruning {
        kept,
        outside,
        kept_whole,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::analyze_one;

    /// A bundle of `(path, source)`; a `None` source is a data file or native extension.
    fn run(
        files: &[(&str, Option<&str>)],
        roots: &[&str],
        include: &[&str],
    ) -> Result<(Vec<String>, Pruning), PruneError> {
        let paths: Vec<&str> = files.iter().map(|(path, _)| *path).collect();
        let analyses: Vec<Option<Analyzed>> = files
            .iter()
            .map(|(_, source)| source.map(|source| analyze_one(source.as_bytes())))
            .collect();
        let strings = |names: &[&str]| {
            names
                .iter()
                .map(|&name| name.to_owned())
                .collect::<Vec<_>>()
        };
        let pruning = prune(&paths, &analyses, &strings(roots), &strings(include))?;
        let dropped = pruning
            .dropped()
            .map(|index| paths[index].to_owned())
            .collect();
        Ok((dropped, pruning))
    }

    #[test]
    fn module_names_come_from_paths() {
        assert_eq!(
            module_name("pkg/mod.py"),
            Some(("pkg.mod".to_owned(), false))
        );
        assert_eq!(
            module_name("pkg/__init__.py"),
            Some(("pkg".to_owned(), true))
        );
        assert_eq!(module_name("top.py"), Some(("top".to_owned(), false)));
        assert_eq!(
            module_name("pkg/_speed.cpython-312-x86_64-linux-gnu.so"),
            Some(("pkg._speed".to_owned(), false))
        );
        assert_eq!(
            module_name("ext.cp312-win_amd64.pyd"),
            Some(("ext".to_owned(), false))
        );
        assert_eq!(module_name("numpy.libs/libopenblas-r0.3.so"), None);
        assert_eq!(module_name("foo-1.0.dist-info/METADATA"), None);
        assert_eq!(module_name("pkg/data.json"), None);
        assert_eq!(module_name("my-scripts/run.py"), None);
        assert_eq!(module_name("__init__.py"), None);
    }

    #[test]
    fn follows_static_imports_of_every_kind() {
        let files = [
            ("app/__init__.py", Some("")),
            ("app/__main__.py", Some("from app import cli\ncli.main()\n")),
            (
                "app/cli.py",
                Some(concat!(
                    "import os\nfrom typing import TYPE_CHECKING\n",
                    "from . import util\nfrom .core.engine import run\n",
                    "if TYPE_CHECKING:\n    from app import typing_only\n",
                    "try:\n    import app.fast\nexcept ImportError:\n    from app import slow\n",
                    "def main():\n    import app.lazy.deep.mod\n    from app import constant_name\n",
                )),
            ),
            ("app/util.py", Some("")),
            ("app/core/__init__.py", Some("")),
            (
                "app/core/engine.py",
                Some("from ..core import helpers\nfrom ...beyond import x\n"),
            ),
            ("app/core/helpers.py", Some("from .. import util\n")),
            ("app/core/unused.py", Some("")),
            ("app/typing_only.py", Some("")),
            ("app/fast.py", Some("")),
            ("app/slow.py", Some("")),
            ("app/lazy/__init__.py", Some("")),
            ("app/lazy/deep/__init__.py", Some("")),
            ("app/lazy/deep/mod.py", Some("")),
            ("app/lazy/deep/other.py", Some("")),
            ("app/unused/__init__.py", Some("import json\n")),
            ("app/unused/thing.py", Some("")),
            ("app/unused/table.csv", None),
            ("app/templates/page.html", None),
            ("app-1.0.dist-info/METADATA", None),
            ("README.txt", None),
        ];
        let (dropped, pruning) = run(&files, &["app"], &[]).unwrap();
        assert_eq!(
            dropped,
            [
                "app/core/unused.py",
                "app/typing_only.py",
                "app/lazy/deep/other.py",
                "app/unused/__init__.py",
                "app/unused/thing.py",
                "app/unused/table.csv",
            ]
        );
        // `from app import constant_name` is a name, not a module: not outside.
        let outside: Vec<_> = pruning.outside.keys().cloned().collect();
        assert_eq!(outside, ["os", "typing"]);
        assert_eq!(pruning.outside["os"], (2, 1));
        assert!(pruning.kept_whole.is_empty());
    }

    #[test]
    fn include_keeps_a_module_and_what_it_imports() {
        let files = [
            ("app/__init__.py", Some("")),
            (
                "app/main.py",
                Some("import importlib\nimportlib.import_module('app.plugins.x')\n"),
            ),
            ("app/plugins/__init__.py", Some("")),
            ("app/plugins/x.py", Some("from . import shared\n")),
            ("app/plugins/shared.py", Some("")),
            ("app/plugins/y.py", Some("")),
        ];
        let (dropped, _) = run(&files, &["app.main"], &[]).unwrap();
        assert_eq!(
            dropped,
            [
                "app/plugins/__init__.py",
                "app/plugins/x.py",
                "app/plugins/shared.py",
                "app/plugins/y.py"
            ]
        );
        let (dropped, _) = run(&files, &["app.main"], &["app.plugins.x"]).unwrap();
        assert_eq!(dropped, ["app/plugins/y.py"]);
    }

    #[test]
    fn star_imports_keep_every_submodule_and_namespace_packages_resolve() {
        let files = [
            ("ns/app.py", Some("from ns.pkg import *\nimport ns.other\n")),
            ("ns/pkg/__init__.py", Some("")),
            ("ns/pkg/a.py", Some("")),
            ("ns/pkg/sub/__init__.py", Some("")),
            ("ns/pkg/sub/deep.py", Some("")),
            ("ns/other.py", Some("")),
            ("ns/data.txt", None),
        ];
        let (dropped, pruning) = run(&files, &["ns.app"], &[]).unwrap();
        assert_eq!(dropped, ["ns/pkg/sub/deep.py"]);
        assert!(pruning.outside.is_empty(), "{:?}", pruning.outside);
    }

    #[test]
    fn unreadable_modules_and_native_extensions_keep_their_package() {
        let files = [
            ("main.py", Some("import a.bad\nimport b\n")),
            ("a/__init__.py", Some("")),
            ("a/bad.py", Some("def f(:\n")),
            ("a/sibling.py", Some("")),
            ("a/sub/x.py", Some("")),
            ("a/sub/data.bin", None),
            ("b/__init__.py", Some("from . import _native\n")),
            ("b/_native.cpython-312-x86_64-linux-gnu.so", None),
            ("b/helper.py", Some("")),
            ("c/__init__.py", Some("")),
            ("b.libs/libz-1a2b.so.1", None),
        ];
        let (dropped, pruning) = run(&files, &["main"], &[]).unwrap();
        assert_eq!(dropped, ["c/__init__.py"]);
        let whole: Vec<&str> = pruning
            .kept_whole
            .iter()
            .map(|(index, _)| files[*index].0)
            .collect();
        assert_eq!(
            whole,
            ["a/bad.py", "b/_native.cpython-312-x86_64-linux-gnu.so"]
        );
    }

    #[test]
    fn a_root_must_be_a_module_of_the_bundle() {
        let files = [("app/__init__.py", Some("")), ("app/main.py", Some(""))];
        let err = run(&files, &["app.mian"], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`--prune-from app.mian` names no module in the bundle"
        );
        assert_eq!(err.hint().unwrap(), "did you mean `app.main`, `app`?");
        let err = run(&files, &["app"], &["zzz"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`--include zzz` names no module in the bundle"
        );
        assert_eq!(
            err.hint().unwrap(),
            "the bundle's top-level modules are `app`"
        );
    }

    #[test]
    fn a_package_root_runs_its_main() {
        let files = [
            ("tool/__init__.py", Some("")),
            ("tool/__main__.py", Some("from .run import go\n")),
            ("tool/run.py", Some("")),
            ("tool/other.py", Some("")),
        ];
        let (dropped, _) = run(&files, &["tool"], &[]).unwrap();
        assert_eq!(dropped, ["tool/other.py"]);
    }
}
