//! Warnings under `-OO` and `--strip-docstrings`: code that reads docstrings, and libraries that
//! need them, one per site with its file and line.

use serde::Serialize;

use super::{DocRead, ModuleFacts};

/// A warning about one line of one file, printed as `path:line: warning: message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceWarning {
    /// The file, as failures name it.
    pub path: String,
    /// 1-based.
    pub line: u32,
    /// What breaks.
    pub message: String,
}

/// Libraries whose behaviour lives in docstrings: the import's first name, what breaks, and
/// whether to say it once per build rather than at every import.
const NEEDS_DOCSTRINGS: &[(&str, &str, bool)] = &[
    (
        "ply",
        "PLY builds its lexer and parser from docstrings: without them it cannot build them",
        false,
    ),
    (
        "pycparser",
        "pycparser's PLY grammar lives in docstrings: without them it cannot build its parser",
        false,
    ),
    (
        "click",
        "click takes command help text from docstrings: `--help` goes empty without them (said once)",
        true,
    ),
    (
        "typer",
        "typer takes command help text from docstrings: `--help` goes empty without them (said once)",
        true,
    ),
];

/// What the warnings of one build have said already.
#[derive(Debug, Default)]
pub struct Said {
    once: Vec<&'static str>,
}

/// The warnings for one module whose docstrings are stripped, at `path`.
pub fn docstring_warnings(path: &str, facts: &ModuleFacts, said: &mut Said) -> Vec<SourceWarning> {
    let mut warnings: Vec<SourceWarning> = facts
        .doc_uses
        .iter()
        .map(|doc_use| SourceWarning {
            path: path.to_owned(),
            line: doc_use.line,
            message: match doc_use.read {
                DocRead::Docopt => {
                    "`docopt(__doc__)` gets None once docstrings are stripped: the command line stops parsing"
                }
                DocRead::Description => {
                    "`description=__doc__` is None once docstrings are stripped: the help text loses it"
                }
                DocRead::Name => "reads `__doc__`, which is None once docstrings are stripped",
                DocRead::Attribute => "reads `.__doc__`, which is None once docstrings are stripped",
                DocRead::Getdoc => "`getdoc()` returns None once docstrings are stripped",
            }
            .to_owned(),
        })
        .collect();
    // `from pkg import __doc__`: what breaks is pkg's docstring, not this module's.
    for import in &facts.imports {
        if import.names.iter().any(|name| name == "__doc__") {
            let dots = ".".repeat(import.level as usize);
            warnings.push(SourceWarning {
                path: path.to_owned(),
                line: import.line,
                message: format!(
                    "imports `__doc__` from `{dots}{}`, which is None once that module's docstrings are stripped: keep them there with `--keep-docstrings`",
                    import.module
                ),
            });
        }
    }
    for import in facts.imports.iter().filter(|import| import.level == 0) {
        let named = first_name(&import.module);
        for &(library, message, once) in NEEDS_DOCSTRINGS {
            if named != library {
                continue;
            }
            if once {
                if said.once.contains(&library) {
                    continue;
                }
                said.once.push(library);
            }
            warnings.push(SourceWarning {
                path: path.to_owned(),
                line: import.line,
                message: message.to_owned(),
            });
        }
    }
    warnings.sort_by_key(|warning| warning.line);
    warnings
}

fn first_name(module: &str) -> &str {
    module.split('.').next().unwrap_or(module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Analyzed, analyze_one};

    fn warnings(source: &str, said: &mut Said) -> Vec<(u32, String)> {
        let Analyzed::Read(facts) = analyze_one(source.as_bytes()) else {
            panic!("unreadable")
        };
        docstring_warnings("m.py", &facts, said)
            .into_iter()
            .map(|warning| (warning.line, warning.message))
            .collect()
    }

    #[test]
    fn one_warning_per_site_and_click_once() {
        let source = "\
\"\"\"Usage: tool [--x]\"\"\"
import argparse, inspect
import ply.lex
from docopt import docopt
import click
from tool import __doc__ as usage
args = docopt(__doc__)
parser = argparse.ArgumentParser(description=__doc__)
print(__doc__)
print(f.__doc__)
inspect.getdoc(f)
f.__doc__ = 'set, not read'
__doc__ = 'also set'
";
        let mut said = Said::default();
        let found = warnings(source, &mut said);
        let lines: Vec<u32> = found.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [3, 5, 6, 7, 8, 9, 10, 11], "{found:#?}");
        assert!(found[0].1.contains("PLY"));
        assert!(found[2].1.contains("imports `__doc__` from `tool`"));
        assert!(found[3].1.contains("docopt"));
        assert!(found[4].1.contains("description"));
        // click is said once per build.
        assert!(warnings("import click\n", &mut said).is_empty());
        assert!(
            warnings(
                "\"\"\"Clean.\"\"\"\ndef f():\n    \"\"\"Doc.\"\"\"\n",
                &mut said
            )
            .is_empty()
        );
    }
}
