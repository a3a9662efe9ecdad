//! The 16-byte `.pyc` header (PEP 552) and the source hash of hash-based pycs.

/// How the import system decides whether a `.pyc` is stale (PEP 552).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invalidation {
    /// Source mtime and size in the header.
    Timestamp,
    /// Source hash in the header, checked against the source when it exists.
    CheckedHash,
    /// Source hash in the header, never checked.
    UncheckedHash,
}

/// Stub until the pyc branch lands.
pub fn header(
    magic: [u8; 4],
    minor: u8,
    invalidation: Invalidation,
    source: &[u8],
    mtime: u32,
) -> [u8; 16] {
    let _ = (minor, invalidation, source, mtime);
    let mut header = [0u8; 16];
    header[..4].copy_from_slice(&magic);
    header
}
