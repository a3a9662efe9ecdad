//! Which modules lose their docstrings, and with which [`CodeOptions`] each is compiled.

use ignore::gitignore::Gitignore;

use super::Analyzed;
use crate::compile::{CodeOptions, Optimize};
use crate::settings::Config;
use crate::source::tree::{DiscoverError, matcher};

/// The docstring decisions of one build: `-OO`, `--strip-docstrings` and `--keep-docstrings`.
pub struct Stripping {
    optimize: Optimize,
    strip: bool,
    keep: Gitignore,
}

/// How one module is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// What goes on the wire and into the cache key.
    pub options: CodeOptions,
    /// Its docstrings are gone (whether by `-OO` or by stripping).
    pub stripped: bool,
    /// `--keep-docstrings` matched it where they would have gone.
    pub kept: bool,
}

impl Stripping {
    /// The decisions `config` asks for; `Err` for a bad `--keep-docstrings` pattern.
    pub fn new(config: &Config) -> Result<Stripping, DiscoverError> {
        let patterns: Vec<&str> = config
            .analysis
            .keep_docstrings
            .iter()
            .map(String::as_str)
            .collect();
        Ok(Stripping {
            optimize: config.optimize,
            strip: config.analysis.strip_docstrings,
            keep: matcher(std::path::Path::new(""), &patterns)?,
        })
    }

    /// The build's optimization level.
    pub fn optimize(&self) -> Optimize {
        self.optimize
    }

    /// Whether any module may lose its docstrings: only then is the analysis needed for them.
    pub fn any(&self) -> bool {
        self.strip || self.optimize == Optimize::Two
    }

    /// How the module at `relative` (its path in SOURCE or in the installed dependencies) is
    /// compiled, given what the analysis read of it.
    pub fn decide(&self, relative: &str, analyzed: Option<&Analyzed>) -> Decision {
        let plain = CodeOptions::new(self.optimize);
        if !self.any() {
            return Decision {
                options: plain,
                stripped: false,
                kept: false,
            };
        }
        if self
            .keep
            .matched_path_or_any_parents(relative, false)
            .is_ignore()
        {
            // Under -OO a kept module is compiled at -O: asserts still go, docstrings stay.
            let optimize = self.optimize.min(Optimize::One);
            return Decision {
                options: CodeOptions::new(optimize),
                stripped: false,
                kept: true,
            };
        }
        let options = match self.optimize {
            Optimize::Two => plain,
            // -O without docstrings is exactly -OO.
            Optimize::One => CodeOptions::new(Optimize::Two),
            Optimize::Zero => {
                // A module the parser read and found no docstring in compiles as it is: no
                // tree to rewrite in the worker, and the cache entry is the plain one.
                let none = analyzed
                    .and_then(Analyzed::facts)
                    .is_some_and(|facts| facts.docstrings.is_empty());
                CodeOptions {
                    optimize: Optimize::Zero,
                    strip_docstrings: !none,
                }
            }
        };
        Decision {
            options,
            stripped: true,
            kept: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::analyze_one;

    fn stripping(optimize: Optimize, strip: bool, keep: &[&str]) -> Stripping {
        let mut config = Config::new(std::path::Path::new("."));
        config.optimize = optimize;
        config.analysis.strip_docstrings = strip;
        config.analysis.keep_docstrings = keep.iter().map(|&p| p.to_owned()).collect();
        Stripping::new(&config).unwrap()
    }

    #[test]
    fn each_module_gets_the_options_its_docstrings_need() {
        let documented = analyze_one(b"def f():\n    'doc'\n");
        let bare = analyze_one(b"def f():\n    return 1\n");
        let strip = stripping(Optimize::Zero, true, &["cli/*.py"]);
        let decision = strip.decide("pkg/a.py", Some(&documented));
        assert!(decision.options.strip_docstrings && decision.stripped);
        // Nothing to strip: the plain compile, which shares its cache entry.
        let decision = strip.decide("pkg/b.py", Some(&bare));
        assert_eq!(decision.options, CodeOptions::new(Optimize::Zero));
        assert!(decision.stripped);
        // Unreadable by the parser: the worker decides.
        assert!(strip.decide("pkg/c.py", None).options.strip_docstrings);
        let kept = strip.decide("cli/main.py", Some(&documented));
        assert_eq!(kept.options, CodeOptions::new(Optimize::Zero));
        assert!(kept.kept && !kept.stripped);
        // -O and stripping is -OO.
        let decision = stripping(Optimize::One, true, &[]).decide("a.py", Some(&documented));
        assert_eq!(decision.options, CodeOptions::new(Optimize::Two));
        // -OO keeping docstrings is -O.
        let decision = stripping(Optimize::Two, false, &["a.py"]).decide("a.py", None);
        assert_eq!(decision.options, CodeOptions::new(Optimize::One));
        assert!(decision.kept);
        let decision = stripping(Optimize::Zero, false, &["a.py"]).decide("a.py", None);
        assert!(!decision.kept && !decision.stripped);
    }
}
