//! What `pyship inspect` says of one `.pyc`: its header (PEP 552) and what its code objects
//! hold. Takes the file's bytes and returns a [`PycSummary`]; pure, and it never executes or
//! imports anything: the code objects are read by [`marshal::code_objects`].
//!
//! Docstrings and asserts are decided from the code objects, version by version:
//!
//! - A function (a code object with `CO_OPTIMIZED`, not `<lambda>` or a comprehension) has a
//!   docstring when `co_consts[0]` is a `str`: CPython 3.8–3.13 put the docstring there and
//!   `None` otherwise.
//! - A module or class body has one when its bytecode stores `__doc__` (`STORE_NAME
//!   __doc__`): that is how CPython binds it. A module that assigns `__doc__ = "…"` itself
//!   counts too.
//! - Asserts: from 3.9 an `assert` loads `AssertionError` with `LOAD_ASSERTION_ERROR`; 3.8
//!   loads the global, so there it is any code object naming `AssertionError` in `co_names`
//!   (a `raise AssertionError` or `except AssertionError` counts too).
//!
//! Where the opcode numbers of a version are not known (3.14), the answer is `None`.

use std::fmt::Write as _;

use super::marshal::{self, CodeObject, MarshalError};
use super::pyc::{self, HeaderKind, PycError};

/// `CO_OPTIMIZED`: set on functions (fast locals), never on module or class bodies.
const CO_OPTIMIZED: u32 = 0x1;

/// One `.pyc`, as `pyship inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PycSummary {
    /// The magic number, e.g. 3531.
    pub magic_number: u16,
    /// `3.12`, or `None` for a magic number of no CPython 3.
    pub python: Option<String>,
    /// `timestamp`, `checked-hash` or `unchecked-hash`.
    pub invalidation: &'static str,
    /// Timestamp pycs: the source's modification time (seconds, modulo 2**32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_mtime: Option<u32>,
    /// Timestamp pycs: the source's size (modulo 2**32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_size: Option<u32>,
    /// Hash-based pycs: the source hash, 16 hex digits as stored (little-endian bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_hash: Option<String>,
    /// The outermost code object's `co_filename`; `None` when the code cannot be read.
    pub co_filename: Option<String>,
    /// Whether any module, class or function keeps its docstring; `None` when unknown.
    pub docstrings: Option<bool>,
    /// Whether any `assert` is left; `None` when unknown.
    pub asserts: Option<bool>,
    /// Why the code objects could not be read, if they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_error: Option<String>,
}

/// The header of a pyc could not be read: nothing about it is known.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// Too short, or unknown flags.
    #[error(transparent)]
    Header(#[from] PycError),
}

/// Summarize the `.pyc` file `bytes`. Only a bad header is an error; code that cannot be read
/// (another implementation, a damaged file) is said in [`PycSummary::code_error`].
pub fn summarize(bytes: &[u8]) -> Result<PycSummary, SummaryError> {
    let header = pyc::parse_header(bytes)?;
    let magic_number = u16::from_le_bytes([header.magic[0], header.magic[1]]);
    let version = pyc::version_for_magic(header.magic).filter(|&(major, _)| major == 3);
    let (invalidation, source_mtime, source_size, source_hash) = match header.kind {
        HeaderKind::Timestamp { mtime, size } => ("timestamp", Some(mtime), Some(size), None),
        HeaderKind::Hash { checked, hash } => (
            if checked {
                "checked-hash"
            } else {
                "unchecked-hash"
            },
            None,
            None,
            Some(hash.iter().fold(String::new(), |mut text, byte| {
                let _ = write!(text, "{byte:02x}");
                text
            })),
        ),
    };
    let mut summary = PycSummary {
        magic_number,
        python: version.map(|(major, minor)| format!("{major}.{minor}")),
        invalidation,
        source_mtime,
        source_size,
        source_hash,
        co_filename: None,
        docstrings: None,
        asserts: None,
        code_error: None,
    };
    let Some((_, minor)) = version else {
        summary.code_error = Some(format!(
            "magic number {magic_number} is not one of CPython 3.8 to 3.14"
        ));
        return Ok(summary);
    };
    match marshal::code_objects(&bytes[16..], minor) {
        Ok(code) => {
            summary.co_filename = code.first().map(|root| root.filename.clone());
            summary.docstrings = docstrings(&code, minor);
            summary.asserts = asserts(&code, minor);
        }
        Err(MarshalError::UnsupportedVersion { .. }) => {
            summary.code_error = Some(format!("CPython 3.{minor} code objects are not read"));
        }
        Err(err) => summary.code_error = Some(err.to_string()),
    }
    Ok(summary)
}

/// The opcodes these heuristics need on CPython 3.`minor`: `STORE_NAME`, `EXTENDED_ARG` and
/// `LOAD_ASSERTION_ERROR` (`None` in 3.8), from `dis.opmap` of each version.
fn opcodes(minor: u8) -> Option<(u8, u8, Option<u8>)> {
    match minor {
        8 => Some((90, 144, None)),
        9..=12 => Some((90, 144, Some(74))),
        13 => Some((114, 71, Some(23))),
        _ => None,
    }
}

/// The `(opcode, argument)` of each instruction of `code`, `EXTENDED_ARG` folded in (2-byte
/// wordcode since 3.6; inline caches from 3.11 are zeroed by marshal, so they read as opcode 0).
fn instructions(code: &[u8], extended_arg: u8) -> impl Iterator<Item = (u8, u32)> + '_ {
    let mut extended = 0u32;
    code.chunks_exact(2).filter_map(move |unit| {
        let argument = extended << 8 | u32::from(unit[1]);
        if unit[0] == extended_arg {
            extended = argument;
            None
        } else {
            extended = 0;
            Some((unit[0], argument))
        }
    })
}

/// See the [module docs](self).
fn docstrings(code: &[CodeObject], minor: u8) -> Option<bool> {
    let (store_name, extended_arg, _) = opcodes(minor)?;
    Some(code.iter().any(|object| {
        if object.flags & CO_OPTIMIZED != 0 {
            // Lambdas and comprehensions never have one; their first constant can be any str.
            !object.name.starts_with('<') && object.first_const_is_str
        } else {
            instructions(&object.code, extended_arg).any(|(opcode, argument)| {
                opcode == store_name
                    && object
                        .names
                        .get(argument as usize)
                        .is_some_and(|name| name == "__doc__")
            })
        }
    }))
}

/// See the [module docs](self).
fn asserts(code: &[CodeObject], minor: u8) -> Option<bool> {
    let (_, extended_arg, load_assertion_error) = opcodes(minor)?;
    Some(code.iter().any(|object| match load_assertion_error {
        Some(opcode) => instructions(&object.code, extended_arg).any(|(op, _)| op == opcode),
        None => object.names.iter().any(|name| name == "AssertionError"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_arg_is_folded_in() {
        // EXTENDED_ARG 1, STORE_NAME 2 → argument 0x102; then a cache unit.
        let code = [144, 1, 90, 2, 0, 0];
        assert_eq!(
            instructions(&code, 144).collect::<Vec<_>>(),
            [(90, 0x102), (0, 0)]
        );
    }

    #[test]
    fn a_bad_header_is_an_error_and_bad_code_is_not() {
        assert!(summarize(&[0; 15]).is_err());
        let mut bytes = vec![0xcb, 0x0d, b'\r', b'\n'];
        bytes.extend([0; 12]);
        bytes.push(b'?');
        let summary = summarize(&bytes).unwrap();
        assert_eq!(summary.python.as_deref(), Some("3.12"));
        assert_eq!(summary.invalidation, "timestamp");
        assert!(summary.code_error.is_some());
        assert_eq!(summary.docstrings, None);
    }
}
