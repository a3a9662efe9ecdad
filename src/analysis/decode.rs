//! Source bytes to text the way CPython's tokenizer does it (PEP 263): a UTF-8 byte order mark,
//! else an encoding cookie on line 1 (or on line 2 below a line with only a comment), else
//! UTF-8.

use std::borrow::Cow;

/// Why a module's bytes could not be read as text; CPython is asked anyway, and has the last
/// word on whether the file is Python.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A cookie names an encoding pyship does not know.
    #[error("unknown encoding `{0}`")]
    UnknownEncoding(String),
    /// The bytes are not valid in their encoding.
    #[error("the source is not valid {0}")]
    Invalid(&'static str),
    /// A UTF-8 byte order mark and a cookie naming another encoding.
    #[error("a byte order mark with a `{0}` coding cookie")]
    BomMismatch(String),
}

const BOM: &[u8] = b"\xef\xbb\xbf";

/// `source` as text.
pub fn decode(source: &[u8]) -> Result<Cow<'_, str>, DecodeError> {
    let (bom, body) = match source.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, source),
    };
    let encoding = cookie(body).as_deref().map(normal_name);
    match (bom, encoding.as_deref()) {
        (_, None | Some("utf-8")) => utf8(body),
        (true, Some(other)) => Err(DecodeError::BomMismatch(other.to_owned())),
        (false, Some("iso-8859-1")) => {
            Ok(Cow::Owned(body.iter().map(|&b| char::from(b)).collect()))
        }
        (false, Some(label)) => {
            let ascii = matches!(label, "ascii" | "us-ascii" | "646");
            if ascii {
                return if body.is_ascii() {
                    utf8(body)
                } else {
                    Err(DecodeError::Invalid("ASCII"))
                };
            }
            // WHATWG calls windows-1252 "latin1"; the Latin-1 names were handled above.
            let Some(encoding) = encoding_rs::Encoding::for_label_no_replacement(label.as_bytes())
            else {
                return Err(DecodeError::UnknownEncoding(label.to_owned()));
            };
            let (text, had_errors) = encoding.decode_without_bom_handling(body);
            if had_errors {
                return Err(DecodeError::Invalid("text in its declared encoding"));
            }
            Ok(Cow::Owned(text.into_owned()))
        }
    }
}

fn utf8(body: &[u8]) -> Result<Cow<'_, str>, DecodeError> {
    std::str::from_utf8(body)
        .map(Cow::Borrowed)
        .map_err(|_| DecodeError::Invalid("UTF-8"))
}

/// The encoding named by a PEP 263 cookie on one of the first two lines.
fn cookie(source: &[u8]) -> Option<String> {
    let mut lines = source.split_inclusive(|&b| b == b'\n' || b == b'\r');
    let first = lines.next()?;
    if let Some(name) = cookie_in(first) {
        return Some(name);
    }
    // The second line counts only below a blank or comment-only first line.
    let stripped = trim_start(first);
    if !(stripped.is_empty() || stripped[0] == b'#' || stripped[0] == b'\n' || stripped[0] == b'\r')
    {
        return None;
    }
    let mut second = lines.next()?;
    if first.ends_with(b"\r") {
        // `\r\n` was split in two.
        if second == b"\n" {
            second = lines.next()?;
        }
    }
    cookie_in(second)
}

fn trim_start(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|&b| !matches!(b, b' ' | b'\t' | b'\x0c'))
        .unwrap_or(line.len());
    &line[start..]
}

/// `^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)`, the regular expression of PEP 263.
fn cookie_in(line: &[u8]) -> Option<String> {
    let line = trim_start(line);
    let comment = line.strip_prefix(b"#")?;
    let mut at = 0;
    while let Some(found) = find(&comment[at..], b"coding") {
        let after = at + found + b"coding".len();
        if matches!(comment.get(after), Some(b':' | b'=')) {
            let rest = trim_start(&comment[after + 1..]);
            let name: Vec<u8> = rest
                .iter()
                .copied()
                .take_while(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                .collect();
            if !name.is_empty() {
                return Some(String::from_utf8_lossy(&name).into_owned());
            }
        }
        at += found + 1;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// CPython's `get_normal_name`: the spellings of UTF-8 and Latin-1 it knows, lower-cased.
fn normal_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase().replace('_', "-");
    let head = |prefix: &str| lower == prefix || lower.starts_with(&format!("{prefix}-"));
    if head("utf-8") {
        "utf-8".to_owned()
    } else if head("latin-1") || head("iso-8859-1") || head("iso-latin-1") {
        "iso-8859-1".to_owned()
    } else {
        lower
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_boms_and_defaults() {
        assert_eq!(decode(b"x = 1\n").unwrap(), "x = 1\n");
        assert_eq!(decode(b"\xef\xbb\xbfx = 1\n").unwrap(), "x = 1\n");
        assert_eq!(
            decode(b"# -*- coding: latin-1 -*-\ns = '\xe9'\n").unwrap(),
            "# -*- coding: latin-1 -*-\ns = '\u{e9}'\n"
        );
        assert_eq!(
            decode(
                b"#!/usr/bin/env python\r\n# vim: set fileencoding=iso-8859-1 :\r\ns = '\xe9'\r\n"
            )
            .unwrap()
            .chars()
            .filter(|c| *c == '\u{e9}')
            .count(),
            1
        );
        // A cookie below a line of code does not count: UTF-8, which this is not.
        assert_eq!(
            decode(b"x = 1\n# coding: latin-1\ns = '\xe9'\n"),
            Err(DecodeError::Invalid("UTF-8"))
        );
        assert_eq!(
            decode(b"# coding: cp1252\ns = '\x80'\n").unwrap(),
            "# coding: cp1252\ns = '\u{20ac}'\n"
        );
        assert_eq!(
            decode(b"# coding: nonsense\n"),
            Err(DecodeError::UnknownEncoding("nonsense".to_owned()))
        );
        assert_eq!(
            decode(b"\xef\xbb\xbf# coding: latin-1\n"),
            Err(DecodeError::BomMismatch("iso-8859-1".to_owned()))
        );
        assert_eq!(
            decode(b"# coding=utf8\nx = 1\n").unwrap(),
            "# coding=utf8\nx = 1\n"
        );
    }
}
