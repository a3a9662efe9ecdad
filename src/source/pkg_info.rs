//! An sdist's `PKG-INFO`: core metadata as its build backend computed it, in the RFC 822 form
//! of `METADATA` (headers, continuation lines indented, the long description as the body after
//! a blank line). [`CoreMetadata::parse`] takes the text and gives the headers in order and the
//! body; nothing is validated beyond the form.
//!
//! Core metadata: <https://packaging.python.org/en/latest/specifications/core-metadata/>
//! PEP 643 (`Dynamic`, Metadata-Version 2.2): <https://peps.python.org/pep-0643/>

/// Parsed core metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CoreMetadata {
    /// `(name, value)` in file order; multiple-use fields appear once per use. Folded values
    /// are unfolded: continuation lines joined with `\n`, their indentation removed.
    pub headers: Vec<(String, String)>,
    /// The text after the first blank line (the long description), if any.
    pub body: Option<String>,
}

impl CoreMetadata {
    /// Parse `text`: headers up to the first blank line, then the body. A line that is neither
    /// a `Name: value` header nor a continuation of one is an error, with its 1-based number.
    pub fn parse(text: &str) -> Result<CoreMetadata, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut body = None;
        let mut offset = 0;
        for (index, line) in text.split_inclusive('\n').enumerate() {
            offset += line.len();
            let content = line.trim_end_matches(['\n', '\r']);
            if content.is_empty() {
                let rest = &text[offset..];
                body = (!rest.is_empty()).then(|| rest.to_owned());
                break;
            }
            if content.starts_with([' ', '\t']) {
                let Some((_, value)) = headers.last_mut() else {
                    return Err(format!(
                        "line {} continues a header, but no header precedes it",
                        index + 1
                    ));
                };
                value.push('\n');
                value.push_str(unindent(content));
                continue;
            }
            let Some((name, value)) = content.split_once(':') else {
                return Err(format!(
                    "line {} is not a `Name: value` header: `{}`",
                    index + 1,
                    content.chars().take(60).collect::<String>()
                ));
            };
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(format!(
                    "line {} has no valid header name: `{}`",
                    index + 1,
                    content.chars().take(60).collect::<String>()
                ));
            }
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        Ok(CoreMetadata { headers, body })
    }

    /// The first value of header `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of the multiple-use header `name` (case-insensitive), in file order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// `Metadata-Version` as (major, minor); `(1, 0)` when absent or unreadable, the oldest
    /// form, which promises nothing.
    pub fn metadata_version(&self) -> (u32, u32) {
        self.get("Metadata-Version")
            .and_then(|version| {
                let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
                Some((major.trim().parse().ok()?, minor.trim().parse().ok()?))
            })
            .unwrap_or((1, 0))
    }

    /// Whether PEP 643 lets a wheel built from this sdist differ in the core metadata field
    /// `field`: before Metadata-Version 2.2 every field may (`Name` and `Version` aside), from
    /// 2.2 only those listed in `Dynamic`.
    pub fn is_dynamic(&self, field: &str) -> bool {
        if field.eq_ignore_ascii_case("Name") || field.eq_ignore_ascii_case("Version") {
            return false;
        }
        self.metadata_version() < (2, 2)
            || self
                .get_all("Dynamic")
                .any(|dynamic| dynamic.trim().eq_ignore_ascii_case(field))
    }
}

/// A continuation line without its indentation: the `       |` (7 spaces and a bar) that old
/// setuptools wrote before each line of a `Description`, else up to 8 spaces or one tab, so
/// that a long description keeps its own indentation.
fn unindent(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix("       |") {
        return rest;
    }
    if let Some(rest) = line.strip_prefix('\t') {
        return rest;
    }
    let spaces = line
        .bytes()
        .take(8)
        .take_while(|&byte| byte == b' ')
        .count();
    &line[spaces..]
}

/// Whether the marker of the PEP 508 `requirement` names `extra`: it then belongs to an
/// optional dependency group, not to `dependencies`.
pub fn needs_extra(requirement: &str) -> bool {
    requirement.split_once(';').is_some_and(|(_, marker)| {
        marker
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|word| word == "extra")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_continuations_and_body() {
        let text = "Metadata-Version: 2.3\r\nName: spam\nVersion:   1.0 \nSummary: Spam\n  and eggs\nRequires-Dist: a>=1\nrequires-dist: b; extra == 'x'\nProvides-Extra: x\nDescription-Content-Type: text/markdown\n\n# Spam\n\n    code\n";
        let metadata = CoreMetadata::parse(text).unwrap();
        assert_eq!(metadata.get("version"), Some("1.0"));
        assert_eq!(metadata.get("Summary"), Some("Spam\nand eggs"));
        assert_eq!(
            metadata.get_all("Requires-Dist").collect::<Vec<_>>(),
            ["a>=1", "b; extra == 'x'"]
        );
        assert_eq!(metadata.get("Missing"), None);
        assert_eq!(metadata.metadata_version(), (2, 3));
        assert_eq!(metadata.body.as_deref(), Some("# Spam\n\n    code\n"));
        assert_eq!(metadata.headers.len(), 8);
    }

    #[test]
    fn a_description_header_is_unfolded_keeping_its_own_indentation() {
        let text = "Metadata-Version: 1.2\nName: six\nDescription: Six\n        ===\n        \n          indented\n       |piped\nPlatform: UNKNOWN\n";
        let metadata = CoreMetadata::parse(text).unwrap();
        assert_eq!(
            metadata.get("Description"),
            Some("Six\n===\n\n  indented\npiped")
        );
        assert_eq!(metadata.get("Platform"), Some("UNKNOWN"));
        assert_eq!(metadata.body, None);
    }

    #[test]
    fn dynamic_follows_pep_643() {
        let old = CoreMetadata::parse("Metadata-Version: 2.1\nName: a\nVersion: 1\n").unwrap();
        assert!(old.is_dynamic("Requires-Dist"));
        assert!(!old.is_dynamic("Version"));
        let new = CoreMetadata::parse(
            "Metadata-Version: 2.2\nName: a\nVersion: 1\nDynamic: license-file\nDynamic: Requires-Dist\n",
        )
        .unwrap();
        assert!(new.is_dynamic("requires-dist") && new.is_dynamic("License-File"));
        assert!(!new.is_dynamic("Summary"));
        let none = CoreMetadata::parse("Name: a\n").unwrap();
        assert_eq!(none.metadata_version(), (1, 0));
        let future = CoreMetadata::parse("Metadata-Version: 2.10\n").unwrap();
        assert_eq!(future.metadata_version(), (2, 10));
        assert!(!future.is_dynamic("Summary"));
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        let err = CoreMetadata::parse("Name: a\nnot a header\n").unwrap_err();
        assert_eq!(err, "line 2 is not a `Name: value` header: `not a header`");
        let err = CoreMetadata::parse(" leading\n").unwrap_err();
        assert!(err.starts_with("line 1 continues a header"), "{err}");
        let err = CoreMetadata::parse("Bad Name: x\n").unwrap_err();
        assert!(err.starts_with("line 1 has no valid header name"), "{err}");
        // Empty: no headers, no body.
        assert_eq!(CoreMetadata::parse("").unwrap(), CoreMetadata::default());
    }
}
