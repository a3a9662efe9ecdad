//! The 16-byte `.pyc` header (PEP 552) and the source hash of hash-based pycs.
//!
//! Takes a target's magic number, the invalidation mode and the source bytes and returns exactly
//! the header `py_compile.compile(..., invalidation_mode=M)` writes; reads one back for
//! `pyship inspect`. Pure: no I/O. <https://peps.python.org/pep-0552/>

use std::hash::Hasher;

use siphasher::sip::{SipHasher13, SipHasher24};

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

/// Flag bit 0 of the header's second word: the pyc is hash-based.
const FLAG_HASH_BASED: u32 = 0b01;
/// Flag bit 1: the import system checks the hash against the source.
const FLAG_CHECK_SOURCE: u32 = 0b10;

/// What `importlib.util.source_hash(source)` returns on CPython 3.`minor` whose magic number is
/// `magic`.
///
/// CPython keys SipHash with `k0 = int.from_bytes(MAGIC_NUMBER, "little")` and `k1 = 0`
/// (`_imp.source_hash(_RAW_MAGIC_NUMBER, source)`); `_Py_KeyedHash` is SipHash-2-4 up to 3.10
/// and SipHash-1-3 from 3.11, and the 64-bit result is stored little-endian.
pub fn source_hash(magic: [u8; 4], minor: u8, source: &[u8]) -> [u8; 8] {
    let key = u64::from(u32::from_le_bytes(magic));
    let hash = if minor <= 10 {
        let mut hasher = SipHasher24::new_with_keys(key, 0);
        hasher.write(source);
        hasher.finish()
    } else {
        let mut hasher = SipHasher13::new_with_keys(key, 0);
        hasher.write(source);
        hasher.finish()
    };
    hash.to_le_bytes()
}

/// The 16-byte header `py_compile.compile(..., invalidation_mode=invalidation)` writes for
/// `source` on CPython 3.`minor` with magic number `magic`; `mtime` is used only by
/// [`Invalidation::Timestamp`] (the source size is stored modulo 2**32, as CPython does).
pub fn header(
    magic: [u8; 4],
    minor: u8,
    invalidation: Invalidation,
    source: &[u8],
    mtime: u32,
) -> [u8; 16] {
    let hash = match invalidation {
        Invalidation::Timestamp => [0; 8],
        Invalidation::CheckedHash | Invalidation::UncheckedHash => {
            source_hash(magic, minor, source)
        }
    };
    header_for(magic, invalidation, hash, source.len() as u64, mtime)
}

/// [`header`] from what it needs of the source: its [`source_hash`] and its size, so a
/// pipeline can let go of the source once it is compiled.
pub fn header_for(
    magic: [u8; 4],
    invalidation: Invalidation,
    hash: [u8; 8],
    size: u64,
    mtime: u32,
) -> [u8; 16] {
    let (flags, rest) = match invalidation {
        Invalidation::Timestamp => return timestamp_header(magic, mtime, size),
        Invalidation::CheckedHash => (FLAG_HASH_BASED | FLAG_CHECK_SOURCE, hash),
        Invalidation::UncheckedHash => (FLAG_HASH_BASED, hash),
    };
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&magic);
    out[4..8].copy_from_slice(&flags.to_le_bytes());
    out[8..].copy_from_slice(&rest);
    out
}

/// The header of a timestamp pyc for a source whose `os.stat()` gives `mtime` (whole seconds,
/// modulo 2**32, as `int(st_mtime) & 0xFFFFFFFF`) and `size` bytes (stored modulo 2**32): what
/// `py_compile` writes, computed without reading the source.
pub fn timestamp_header(magic: [u8; 4], mtime: u32, size: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&magic);
    out[8..12].copy_from_slice(&mtime.to_le_bytes());
    out[12..].copy_from_slice(&(size as u32).to_le_bytes());
    out
}

/// A parsed `.pyc` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PycHeader {
    /// The magic number: two little-endian bytes and `\r\n`.
    pub magic: [u8; 4],
    /// How the pyc is invalidated, with the data the import system checks.
    pub kind: HeaderKind,
}

/// The invalidation data of a [`PycHeader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderKind {
    /// Timestamp-based: the source's mtime and size (modulo 2**32).
    Timestamp {
        /// Source modification time, seconds since the epoch (modulo 2**32).
        mtime: u32,
        /// Source size in bytes (modulo 2**32).
        size: u32,
    },
    /// Hash-based: the SipHash of the source, see [`source_hash`].
    Hash {
        /// Whether the import system checks the hash against the source.
        checked: bool,
        /// The source hash.
        hash: [u8; 8],
    },
}

/// A `.pyc` header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PycError {
    /// Fewer than 16 bytes.
    #[error("The pyc is {len} bytes long, shorter than its 16-byte header")]
    TooShort {
        /// Length of the input.
        len: usize,
    },
    /// Flag bits PEP 552 does not define.
    #[error("The pyc header has unknown flags {flags:#x}")]
    UnknownFlags {
        /// The flags word.
        flags: u32,
    },
}

/// Read the 16-byte header at the start of `bytes`, as `importlib` does: flags beyond the two
/// PEP 552 bits are an error; without the hash bit the pyc is timestamp-based (the check bit is
/// then ignored, as `importlib` ignores it).
pub fn parse_header(bytes: &[u8]) -> Result<PycHeader, PycError> {
    let Some(header) = bytes.get(..16) else {
        return Err(PycError::TooShort { len: bytes.len() });
    };
    let word = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().unwrap());
    let magic: [u8; 4] = header[..4].try_into().unwrap();
    let flags = word(4);
    if flags & !(FLAG_HASH_BASED | FLAG_CHECK_SOURCE) != 0 {
        return Err(PycError::UnknownFlags { flags });
    }
    let kind = if flags & FLAG_HASH_BASED == 0 {
        HeaderKind::Timestamp {
            mtime: word(8),
            size: word(12),
        }
    } else {
        HeaderKind::Hash {
            checked: flags & FLAG_CHECK_SOURCE != 0,
            hash: header[8..].try_into().unwrap(),
        }
    };
    Ok(PycHeader { magic, kind })
}

/// The CPython version, `(3, minor)`, whose magic number is `magic`, for CPython 3.0 to 3.14.
///
/// Ranges from the table in `Lib/importlib/_bootstrap_external.py` (3.12 and before) and
/// `Include/internal/pycore_magic_number.h` (3.13+); from 3.11 on, 3.N owns 2900+50N to
/// 2949+50N, so later 3.14 bug-fix magic numbers are recognised too.
pub fn version_for_magic(magic: [u8; 4]) -> Option<(u8, u8)> {
    if magic[2..] != *b"\r\n" {
        return None;
    }
    let number = u16::from_le_bytes([magic[0], magic[1]]);
    let minor = match number {
        3000..=3131 => 0,
        3141..=3151 => 1,
        3160..=3180 => 2,
        3190..=3230 => 3,
        3250..=3310 => 4,
        3320..=3351 => 5,
        3360..=3379 => 6,
        3390..=3394 => 7,
        3400..=3413 => 8,
        3420..=3425 => 9,
        3430..=3439 => 10,
        3450..=3649 => ((number - 2900) / 50) as u8,
        _ => return None,
    };
    Some((3, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPython 3.12's magic number (3531).
    const MAGIC_312: [u8; 4] = [0xcb, 0x0d, b'\r', b'\n'];

    #[test]
    fn timestamp_header_layout() {
        let header = header(
            MAGIC_312,
            12,
            Invalidation::Timestamp,
            b"x = 1\n",
            0x0102_0304,
        );
        assert_eq!(
            header,
            [0xcb, 0x0d, b'\r', b'\n', 0, 0, 0, 0, 4, 3, 2, 1, 6, 0, 0, 0]
        );
    }

    #[test]
    fn hash_headers_round_trip() {
        for (mode, checked, flags) in [
            (Invalidation::CheckedHash, true, 3),
            (Invalidation::UncheckedHash, false, 1),
        ] {
            let bytes = header(MAGIC_312, 12, mode, b"x = 1\n", 7);
            assert_eq!(bytes[4], flags);
            let parsed = parse_header(&bytes).unwrap();
            assert_eq!(parsed.magic, MAGIC_312);
            assert_eq!(
                parsed.kind,
                HeaderKind::Hash {
                    checked,
                    hash: source_hash(MAGIC_312, 12, b"x = 1\n"),
                }
            );
        }
    }

    #[test]
    fn siphash_variant_depends_on_version() {
        assert_ne!(
            source_hash(MAGIC_312, 10, b"abc"),
            source_hash(MAGIC_312, 11, b"abc")
        );
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            parse_header(&[0; 15]).unwrap_err().to_string(),
            "The pyc is 15 bytes long, shorter than its 16-byte header"
        );
        let mut bytes = [0u8; 16];
        bytes[4] = 4;
        assert_eq!(
            parse_header(&bytes).unwrap_err().to_string(),
            "The pyc header has unknown flags 0x4"
        );
    }

    #[test]
    fn magic_numbers() {
        let magic = |number: u16| {
            let [low, high] = number.to_le_bytes();
            [low, high, b'\r', b'\n']
        };
        assert_eq!(version_for_magic(magic(3413)), Some((3, 8)));
        assert_eq!(version_for_magic(magic(3439)), Some((3, 10)));
        assert_eq!(version_for_magic(magic(3495)), Some((3, 11)));
        assert_eq!(version_for_magic(magic(3531)), Some((3, 12)));
        assert_eq!(version_for_magic(magic(3571)), Some((3, 13)));
        assert_eq!(version_for_magic(magic(3627)), Some((3, 14)));
        assert_eq!(version_for_magic(magic(3394)), Some((3, 7)));
        assert_eq!(version_for_magic(magic(3650)), None);
        assert_eq!(version_for_magic(magic(3440)), None);
        assert_eq!(version_for_magic([0xcb, 0x0d, 0, 0]), None);
    }
}
