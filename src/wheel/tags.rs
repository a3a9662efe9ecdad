//! Compatibility tags (PEP 425), wheel file names (PEP 427) and the re-tagging of sourceless
//! wheels, which only the CPython minor version that compiled them can load.
//!
//! Platform compatibility tags: <https://packaging.python.org/en/latest/specifications/platform-compatibility-tags/>

use std::collections::BTreeSet;
use std::fmt;
use std::fmt::Write as _;

use super::WheelError;

/// One compatibility tag: `python-abi-platform`, e.g. `cp312-cp312-manylinux_2_17_x86_64`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    /// Python tag: `py3`, `cp312`.
    pub python: String,
    /// ABI tag: `none`, `abi3`, `cp312`.
    pub abi: String,
    /// Platform tag: `any`, `win_amd64`.
    pub platform: String,
}

impl Tag {
    /// A tag from its three parts.
    pub fn new(python: &str, abi: &str, platform: &str) -> Tag {
        Tag {
            python: python.to_owned(),
            abi: abi.to_owned(),
            platform: platform.to_owned(),
        }
    }

    /// Parse `PY-ABI-PLATFORM`, expanding compressed sets: `py2.py3-none-any` is two tags.
    /// The result is sorted and without duplicates.
    pub fn parse_compressed(text: &str) -> Result<Vec<Tag>, WheelError> {
        let invalid = || WheelError::Tag {
            tag: text.to_owned(),
        };
        let mut parts = text.trim().split('-');
        let (Some(python), Some(abi), Some(platform), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        expand(python, abi, platform).ok_or_else(invalid)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.python, self.abi, self.platform)
    }
}

fn valid_part(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// Every combination of the `.`-separated sets, sorted; `None` when a part is malformed.
fn expand(python: &str, abi: &str, platform: &str) -> Option<Vec<Tag>> {
    let split = |set: &str| -> Option<Vec<String>> {
        set.split('.')
            .map(|part| valid_part(part).then(|| part.to_owned()))
            .collect()
    };
    let (pythons, abis, platforms) = (split(python)?, split(abi)?, split(platform)?);
    let mut tags = BTreeSet::new();
    for python in &pythons {
        for abi in &abis {
            for platform in &platforms {
                tags.insert(Tag::new(python, abi, platform));
            }
        }
    }
    Some(tags.into_iter().collect())
}

/// A parsed wheel file name: `NAME-VERSION(-BUILD)?-PY-ABI-PLATFORM.whl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    /// The distribution name as written (escaped: no `-`).
    pub name: String,
    /// The version as written.
    pub version: String,
    /// The optional build tag; it starts with a digit.
    pub build: Option<String>,
    /// The expanded tag set, sorted, at least one.
    pub tags: Vec<Tag>,
}

impl WheelFilename {
    /// Parse a wheel file name (without directories).
    pub fn parse(filename: &str) -> Result<WheelFilename, WheelError> {
        let invalid = |reason: &str| WheelError::Filename {
            name: filename.to_owned(),
            reason: reason.to_owned(),
        };
        let stem = filename
            .strip_suffix(".whl")
            .ok_or_else(|| invalid("does not end in `.whl`"))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, python, abi, platform) = match parts.as_slice() {
            [name, version, python, abi, platform] => {
                (*name, *version, None, *python, *abi, *platform)
            }
            [name, version, build, python, abi, platform] => {
                (*name, *version, Some(*build), *python, *abi, *platform)
            }
            _ => {
                return Err(invalid(
                    "expected `NAME-VERSION(-BUILD)?-PYTHON-ABI-PLATFORM.whl`",
                ));
            }
        };
        if name.is_empty() || version.is_empty() {
            return Err(invalid("empty name or version"));
        }
        if let Some(build) = build {
            if !build.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(invalid("the build tag must start with a digit"));
            }
        }
        let tags = expand(python, abi, platform).ok_or_else(|| invalid("malformed tags"))?;
        Ok(WheelFilename {
            name: name.to_owned(),
            version: version.to_owned(),
            build: build.map(str::to_owned),
            tags,
        })
    }

    /// The same name with other tags.
    #[must_use]
    pub fn with_tags(&self, tags: Vec<Tag>) -> WheelFilename {
        WheelFilename {
            tags,
            ..self.clone()
        }
    }
}

/// Compresses the tags: the sorted distinct python, ABI and platform tags, each `.`-joined.
/// That is exact when the tags are every combination of their parts, as parsed file names and
/// [`retag_sourceless`] results of such names are.
impl fmt::Display for WheelFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |part: fn(&Tag) -> &str| {
            self.tags
                .iter()
                .map(part)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(".")
        };
        write!(f, "{}-{}", self.name, self.version)?;
        if let Some(build) = &self.build {
            write!(f, "-{build}")?;
        }
        write!(
            f,
            "-{}-{}-{}.whl",
            join(|tag| &tag.python),
            join(|tag| &tag.abi),
            join(|tag| &tag.platform)
        )
    }
}

/// The tags of a wheel whose modules were compiled by CPython `3.{minor}` and whose sources
/// are gone: pure tags (`py3-none-any`, `py2.py3-none-any`, `py312-none-any`, `cp39-none-any`)
/// become `cp3{minor}-none-PLATFORM`; stable-ABI tags (`cp3Y-abi3-PLAT`) become
/// `cp3{minor}-cp3{minor}-PLAT`; version-specific tags (`cp3X-cp3X-PLAT`) stay. Tags of other
/// implementations (`pp310-pypy310_pp73-…`) are dropped: CPython bytecode does not load there.
/// Sorted, without duplicates.
pub fn retag_sourceless(tags: &[Tag], minor: u8) -> Vec<Tag> {
    let cpython = format!("cp3{minor}");
    let mut retagged = BTreeSet::new();
    for tag in tags {
        let is_cpython = tag.python.starts_with("cp");
        let is_generic = tag.python.starts_with("py");
        if !is_cpython && !is_generic {
            continue;
        }
        let new = match tag.abi.as_str() {
            "none" => Tag::new(&cpython, "none", &tag.platform),
            "abi3" => Tag::new(&cpython, &cpython, &tag.platform),
            _ if is_cpython => tag.clone(),
            // `py3-cp312-…` is not a real tag; pin it like a pure one.
            _ => Tag::new(&cpython, &tag.abi, &tag.platform),
        };
        retagged.insert(new);
    }
    retagged.into_iter().collect()
}

/// The tags of a `WHEEL` file's `Tag:` lines, expanded, sorted and without duplicates.
pub fn wheel_file_tags(text: &str) -> Result<Vec<Tag>, WheelError> {
    let mut tags = BTreeSet::new();
    for line in text.lines() {
        if let Some(value) = header_value(line, "Tag") {
            tags.extend(Tag::parse_compressed(value)?);
        }
    }
    Ok(tags.into_iter().collect())
}

/// `WHEEL` text with its `Tag:` lines replaced by one line per tag in `tags`, placed where the
/// first one was (at the end when there was none); every other line is kept. Lines end in `\n`.
pub fn rewrite_wheel_file(text: &str, tags: &[Tag]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut written = false;
    let write_tags = |out: &mut String| {
        for tag in tags {
            let _ = writeln!(out, "Tag: {tag}");
        }
    };
    for line in text.lines() {
        if header_value(line, "Tag").is_some() {
            if !written {
                write_tags(&mut out);
                written = true;
            }
            continue;
        }
        if line.is_empty() && !written {
            // The header block ends at the first blank line: tags go before it.
            write_tags(&mut out);
            written = true;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !written {
        write_tags(&mut out);
    }
    out
}

/// The value of an email-style `Key: value` header line when its key is `key`
/// (case-insensitive).
pub(crate) fn header_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let (name, value) = line.split_once(':')?;
    name.trim().eq_ignore_ascii_case(key).then(|| value.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use insta::assert_snapshot;

    fn tags(text: &str) -> Vec<Tag> {
        Tag::parse_compressed(text).unwrap()
    }

    fn show(tags: &[Tag]) -> String {
        tags.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn parses_and_recompresses_file_names() {
        let name = WheelFilename::parse("six-1.16.0-py2.py3-none-any.whl").unwrap();
        assert_eq!(name.name, "six");
        assert_eq!(name.version, "1.16.0");
        assert_eq!(name.build, None);
        assert_eq!(show(&name.tags), "py2-none-any py3-none-any");
        assert_eq!(name.to_string(), "six-1.16.0-py2.py3-none-any.whl");

        let name = WheelFilename::parse(
            "numpy-2.1.0-1ubuntu-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        )
        .unwrap();
        assert_eq!(name.build.as_deref(), Some("1ubuntu"));
        assert_eq!(
            show(&name.tags),
            "cp312-cp312-manylinux2014_x86_64 cp312-cp312-manylinux_2_17_x86_64"
        );
        // Recompressed in sorted order: deterministic whatever order the input had.
        assert_eq!(
            name.to_string(),
            "numpy-2.1.0-1ubuntu-cp312-cp312-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
        );
    }

    #[test]
    fn rejects_malformed_file_names() {
        for (name, expected) in [
            ("six-1.16.0-py3-none-any.zip", "does not end in `.whl`"),
            (
                "six-py3-none-any.whl",
                "expected `NAME-VERSION(-BUILD)?-PYTHON-ABI-PLATFORM.whl`",
            ),
            ("a-1-2-3-py3-none-any.whl", "expected"),
            (
                "six-1.0-beta-py3-none-any.whl",
                "the build tag must start with a digit",
            ),
            ("six-1.0-py3..x-none-any.whl", "malformed tags"),
            ("-1.0-py3-none-any.whl", "empty name or version"),
        ] {
            let err = WheelFilename::parse(name).unwrap_err().to_string();
            assert!(err.contains(expected), "{name}: {err}");
        }
        assert_snapshot!(
            WheelFilename::parse("x-1.0-py3-none.whl").unwrap_err(),
            @"Invalid wheel file name `x-1.0-py3-none.whl`: expected `NAME-VERSION(-BUILD)?-PYTHON-ABI-PLATFORM.whl`"
        );
        assert_snapshot!(Tag::parse_compressed("py3-none").unwrap_err(), @"Invalid wheel tag `py3-none`");
    }

    #[test]
    fn retagging_table_from_the_spec() {
        for (input, expected) in [
            ("py3-none-any", "cp312-none-any"),
            ("py2.py3-none-any", "cp312-none-any"),
            ("py312-none-any", "cp312-none-any"),
            ("py38-none-any", "cp312-none-any"),
            ("cp39-none-any", "cp312-none-any"),
            ("py3-none-win_amd64", "cp312-none-win_amd64"),
            (
                "cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64",
                "cp312-cp312-manylinux2014_x86_64 cp312-cp312-manylinux_2_17_x86_64",
            ),
            (
                "cp312-cp312-macosx_11_0_arm64",
                "cp312-cp312-macosx_11_0_arm64",
            ),
            ("cp311-cp311-win_amd64", "cp311-cp311-win_amd64"),
            ("pp310-pypy310_pp73-any", ""),
        ] {
            assert_eq!(
                show(&retag_sourceless(&tags(input), 12)),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn retagged_file_name_is_one_minor_version() {
        let name = WheelFilename::parse("attrs-24.2.0-py3-none-any.whl").unwrap();
        let retagged = name.with_tags(retag_sourceless(&name.tags, 9));
        assert_eq!(retagged.to_string(), "attrs-24.2.0-cp39-none-any.whl");
    }

    #[test]
    fn wheel_file_tag_lines_are_parsed_and_rewritten() {
        let wheel = "Wheel-Version: 1.0\r\nGenerator: bdist_wheel (0.43.0)\r\nRoot-Is-Purelib: true\r\nTag: py2-none-any\r\nTag: py3-none-any\r\n\r\n";
        let parsed = wheel_file_tags(wheel).unwrap();
        assert_eq!(show(&parsed), "py2-none-any py3-none-any");
        let retagged = retag_sourceless(&parsed, 11);
        let rewritten = rewrite_wheel_file(wheel, &retagged);
        // The blank line that ends the header block stays.
        assert!(
            rewritten.ends_with("Tag: cp311-none-any\n\n"),
            "{rewritten:?}"
        );
        assert_snapshot!(rewritten, @r"
        Wheel-Version: 1.0
        Generator: bdist_wheel (0.43.0)
        Root-Is-Purelib: true
        Tag: cp311-none-any
        ");
        // A compressed `Tag:` line (some old generators) is expanded; no Tag line at all gets
        // the tags appended.
        assert_eq!(
            show(&wheel_file_tags("Tag: py2.py3-none-any\n").unwrap()),
            "py2-none-any py3-none-any"
        );
        assert_snapshot!(
            rewrite_wheel_file("Wheel-Version: 1.0\n", &tags("cp39.cp310-abi3-any")),
            @r"
        Wheel-Version: 1.0
        Tag: cp310-abi3-any
        Tag: cp39-abi3-any
        "
        );
        assert!(wheel_file_tags("Tag: nonsense\n").is_err());
    }
}
