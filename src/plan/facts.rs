//! The build facts every artifact records (SPEC §6): what `pyship verify` needs to build it
//! again (pyship's version, each target, the options that decide the bytes) and what `pyship
//! inspect` shows. Pure: takes the resolved [`Config`], the format and the targets, returns
//! [`BuildFacts`] and where they go in the artifact.
//!
//! The record is JSON with sorted keys and no timestamp or machine path, so it is as
//! reproducible as the rest of the artifact. It grows: a new option is a new field with a
//! default (`#[serde(default)]`), left out when it has its default value, so older records
//! still read and records without the option stay byte-identical.

use crate::interpreter::Interpreter;
use crate::plan::ArtifactPlan;
use crate::settings::{Config, OutputFormat, Placement};

/// The file name of the record inside a `.dist-info` directory.
pub const DIST_INFO_FACTS: &str = "pyship.json";

/// The record at the root of a bundle that carries no `.dist-info` (a plain directory of
/// modules as SOURCE): a dot-file, which no import can name, in every bundle format alike. A
/// zip comment would do for zip and zipapp, but tools that rewrite archives drop it and a
/// directory has none; a member is read and size-checked like every other one.
pub const ROOT_FACTS: &str = ".pyship.json";

/// One target whose bytecode the artifact carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TargetFacts {
    /// `sys.implementation.cache_tag`, e.g. `cpython-312`.
    pub cache_tag: String,
    /// The first two bytes of the magic number, little-endian: 3531 for 3.12.
    pub magic_number: u16,
    /// `3.12`.
    pub python: String,
}

/// What decided the artifact's bytes. Fields are declared in sorted order, so the JSON keys
/// are sorted; every list is sorted or kept in the order it was given where order matters.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct BuildFacts {
    /// `--dfile-prefix`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dfile_prefix: String,
    /// `--exclude` patterns, as given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Zipapp `--extract`.
    #[serde(skip_serializing_if = "is_false")]
    pub extract: bool,
    /// `dir`, `zip`, `wheel` or `zipapp`.
    pub format: String,
    /// `--include`: modules pruning keeps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// `--invalidation-mode`; absent when chosen by placement (checked-hash beside sources,
    /// unchecked-hash sourceless).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalidation_mode: Option<crate::bytecode::pyc::Invalidation>,
    /// `--keep-docstrings`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keep_docstrings: Vec<String>,
    /// `--keep-source` patterns, as given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keep_source: Vec<String>,
    /// Zipapp `--main`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,
    /// 0, 1 or 2.
    pub optimize: u8,
    /// `--prune`: prune from the zipapp entry point.
    #[serde(skip_serializing_if = "is_false")]
    pub prune: bool,
    /// `--prune-from`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prune_from: Vec<String>,
    /// The version of pyship that wrote the artifact.
    pub pyship: String,
    /// Zipapp `--shebang`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shebang: Option<String>,
    /// `--slim`.
    #[serde(skip_serializing_if = "is_false")]
    pub slim: bool,
    /// The timestamp of archive entries and timestamp pycs (`SOURCE_DATE_EPOCH`).
    pub source_date_epoch: u32,
    /// `--strip-docstrings`.
    #[serde(skip_serializing_if = "is_false")]
    pub strip_docstrings: bool,
    /// `--strip-sources`.
    pub strip_sources: bool,
    /// Every target, in the order built (several only for a wheel that keeps its sources).
    pub targets: Vec<TargetFacts>,
    /// `--with-deps`: the bundle carries dependencies installed by pip.
    #[serde(skip_serializing_if = "is_false")]
    pub with_deps: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_false(value: &bool) -> bool {
    !value
}

impl BuildFacts {
    /// The record of an artifact of `format` built with `config` for `targets`.
    pub fn new(config: &Config, format: OutputFormat, targets: &[&Interpreter]) -> BuildFacts {
        let zipapp = format == OutputFormat::Zipapp;
        BuildFacts {
            dfile_prefix: config.dfile_prefix.clone(),
            exclude: config.exclude.clone(),
            extract: zipapp && config.bundle.extract,
            format: format.name().to_owned(),
            include: config.analysis.include.clone(),
            invalidation_mode: config.invalidation,
            keep_docstrings: config.analysis.keep_docstrings.clone(),
            keep_source: config.keep_source.clone(),
            main: config.bundle.main.clone().filter(|_| zipapp),
            optimize: config.optimize.level(),
            prune: config.analysis.prune,
            prune_from: config.analysis.prune_from.clone(),
            pyship: env!("CARGO_PKG_VERSION").to_owned(),
            shebang: config.bundle.shebang.clone().filter(|_| zipapp),
            slim: config.bundle.slim,
            source_date_epoch: config.source_date_epoch,
            strip_sources: config.placement == Placement::Replace,
            strip_docstrings: config.analysis.strip_docstrings,
            targets: targets
                .iter()
                .map(|interpreter| TargetFacts {
                    cache_tag: interpreter.cache_tag.clone(),
                    magic_number: u16::from_le_bytes([interpreter.magic[0], interpreter.magic[1]]),
                    python: interpreter.short_version(),
                })
                .collect(),
            with_deps: config.bundle.with_deps && format != OutputFormat::Wheel,
        }
    }

    /// The JSON text: pretty, sorted keys, a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec_pretty(self).expect("facts serialize");
        json.push(b'\n');
        json
    }

    /// Read a record; `None` when it is not one.
    pub fn from_json(bytes: &[u8]) -> Option<BuildFacts> {
        serde_json::from_slice(bytes).ok()
    }
}

/// Where `plan`'s artifact keeps its record: in the `.dist-info` it carries (a wheel's, or the
/// project's or input wheel's in a bundle), else [`ROOT_FACTS`].
pub fn facts_path(plan: &ArtifactPlan) -> String {
    let dist_info = plan.dist_info.clone().or_else(|| {
        plan.generated.iter().find_map(|(path, _)| {
            path.split_once('/')
                .map(|(top, _)| top)
                .filter(|top| top.ends_with(".dist-info"))
                .map(str::to_owned)
        })
    });
    match dist_info {
        Some(dist_info) => format!("{dist_info}/{DIST_INFO_FACTS}"),
        None => ROOT_FACTS.to_owned(),
    }
}

/// Whether the artifact path `path` is a build-facts record.
pub fn is_facts_path(path: &str) -> bool {
    path == ROOT_FACTS
        || path
            .split_once('/')
            .is_some_and(|(top, rest)| top.ends_with(".dist-info") && rest == DIST_INFO_FACTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_and_defaults_left_out() {
        let facts = BuildFacts {
            format: "wheel".to_owned(),
            pyship: "0.1.0".to_owned(),
            source_date_epoch: 315_532_800,
            targets: vec![TargetFacts {
                cache_tag: "cpython-312".to_owned(),
                magic_number: 3531,
                python: "3.12".to_owned(),
            }],
            ..BuildFacts::default()
        };
        let text = String::from_utf8(facts.to_json()).unwrap();
        // serde_json's `Value` keeps keys sorted: a struct serialized in another order differs.
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            format!("{}\n", serde_json::to_string_pretty(&value).unwrap()),
            text
        );
        insta::assert_snapshot!(text, @r#"
        {
          "format": "wheel",
          "optimize": 0,
          "pyship": "0.1.0",
          "source-date-epoch": 315532800,
          "strip-sources": false,
          "targets": [
            {
              "cache-tag": "cpython-312",
              "magic-number": 3531,
              "python": "3.12"
            }
          ]
        }
        "#);
        assert_eq!(BuildFacts::from_json(text.as_bytes()), Some(facts));
        // A newer pyship's field is ignored, not an error.
        assert!(BuildFacts::from_json(br#"{"format": "dir", "strip-docstrings": true}"#).is_some());
    }

    #[test]
    fn record_paths() {
        assert!(is_facts_path(".pyship.json"));
        assert!(is_facts_path("pkg-1.0.dist-info/pyship.json"));
        assert!(!is_facts_path("pkg/pyship.json"));
        assert!(!is_facts_path("a/pkg-1.0.dist-info/pyship.json"));
    }
}
