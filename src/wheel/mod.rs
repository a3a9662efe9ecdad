//! Wheels (PEP 427): names, tags, core metadata and RECORD rendering, and safe reading of an
//! existing `.whl`. Pure pieces; the wheel [`crate::sink::Sink`] and the conversion pipeline
//! use them.
//!
//! Binary distribution format: <https://packaging.python.org/en/latest/specifications/binary-distribution-format/>

pub mod metadata;
pub mod read;
pub mod tags;

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

/// Why a wheel could not be read, or a wheel name or tag parsed.
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file is not a zip archive.
    #[error("`{}` is not a wheel: not a zip archive", path.display())]
    NotAZip {
        /// The file.
        path: PathBuf,
        /// Why the zip reader gave up.
        #[source]
        err: zip::result::ZipError,
    },
    /// The path names a FIFO, socket, device or directory: opening it could hang.
    #[error("`{}` is not a wheel: not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is not a zip archive (a zip or zipapp given to `pyship inspect`).
    #[error("`{}` is not a zip archive", path.display())]
    NotAnArchive {
        /// The file.
        path: PathBuf,
        /// Why the zip reader gave up.
        #[source]
        err: zip::result::ZipError,
    },
    /// The path names a FIFO, socket, device or directory where an archive was expected.
    #[error("`{}` is not a regular file", path.display())]
    NotARegularFile {
        /// The path.
        path: PathBuf,
    },
    /// A member could not be read.
    #[error("Failed to read `{member}` from `{}`", path.display())]
    Zip {
        /// The wheel.
        path: PathBuf,
        /// The member.
        member: String,
        /// Why.
        #[source]
        err: zip::result::ZipError,
    },
    /// A wheel file name does not follow `NAME-VERSION(-BUILD)?-PY-ABI-PLATFORM.whl`.
    #[error("Invalid wheel file name `{name}`: {reason}")]
    Filename {
        /// The file name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A compatibility tag is not `PY-ABI-PLATFORM`.
    #[error("Invalid wheel tag `{tag}`")]
    Tag {
        /// The tag as written.
        tag: String,
    },
    /// A member name could escape the install directory or is not portable.
    #[error("Unsafe member `{member}` in `{}`: {reason}", path.display())]
    UnsafeMember {
        /// The wheel.
        path: PathBuf,
        /// The member name, as stored (lossy UTF-8).
        member: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Reading the member would exceed [`read::Limits`]: probably a zip bomb.
    #[error("Refusing `{}`: member `{member}` {reason}", path.display())]
    TooLarge {
        /// The wheel.
        path: PathBuf,
        /// The member.
        member: String,
        /// Which limit, with numbers.
        reason: String,
    },
    /// Not exactly one `.dist-info` directory, or one not named after the wheel.
    #[error("Invalid wheel `{}`: {reason}", path.display())]
    DistInfo {
        /// The wheel.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The `WHEEL` metadata file is missing or malformed.
    #[error("Invalid `{member}` in `{}`: {reason}", path.display())]
    WheelFile {
        /// The wheel.
        path: PathBuf,
        /// The `WHEEL` member path.
        member: String,
        /// What is wrong.
        reason: String,
    },
    /// RECORD does not match the archive.
    #[error("RECORD of `{}` does not match its contents: `{member}` {problem}", path.display())]
    Record {
        /// The wheel.
        path: PathBuf,
        /// The member concerned (the RECORD itself when it is missing or malformed).
        member: String,
        /// What does not match.
        problem: RecordProblem,
    },
}

/// How a RECORD disagrees with the archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordProblem {
    /// RECORD itself is absent.
    #[error("is missing")]
    MissingRecord,
    /// A RECORD line is not `path,algorithm=digest,size`.
    #[error("has a malformed line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An archive member is not listed.
    #[error("is not listed in RECORD")]
    NotListed,
    /// A listed file is not in the archive.
    #[error("is listed in RECORD but not in the archive")]
    NotInArchive,
    /// Listed twice.
    #[error("is listed twice in RECORD")]
    ListedTwice,
    /// Listed without a hash.
    #[error("has no hash in RECORD")]
    NoHash,
    /// A hash algorithm weaker than sha256 or unknown.
    #[error("has a `{algorithm}` hash in RECORD; only sha256, sha384 and sha512 are accepted")]
    UnsupportedHash {
        /// The algorithm named.
        algorithm: String,
    },
    /// The content does not hash to the recorded digest.
    #[error("has hash `{actual}` but RECORD says `{recorded}`")]
    HashMismatch {
        /// From RECORD.
        recorded: String,
        /// Computed.
        actual: String,
    },
    /// The content does not have the recorded size.
    #[error("is {actual} bytes but RECORD says {recorded}")]
    SizeMismatch {
        /// From RECORD.
        recorded: u64,
        /// Actual.
        actual: u64,
    },
}

/// A project name normalised as PEP 503 says: lowercase, every run of `-`, `_` and `.`
/// replaced by one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                normalized.push('-');
                in_separator = true;
            }
        } else {
            normalized.push(c.to_ascii_lowercase());
            in_separator = false;
        }
    }
    normalized
}

/// A project name as it appears in wheel and dist-info names (PEP 427, PEP 625 escaping): the
/// [`normalize_name`] form with `-` replaced by `_`.
pub fn wheel_name_component(name: &str) -> String {
    normalize_name(name).replace('-', "_")
}

/// A version as it appears in wheel and dist-info names: `-` replaced by `_` (PEP 427).
pub fn wheel_version_component(version: &str) -> String {
    version.trim().replace('-', "_")
}

/// The `.dist-info` directory of a wheel: `NAME-VERSION.dist-info`, both escaped.
pub fn dist_info_dir(name: &str, version: &str) -> String {
    format!(
        "{}-{}.dist-info",
        wheel_name_component(name),
        wheel_version_component(version)
    )
}

/// A RECORD line: a path, its `sha256=` digest (urlsafe base64, no padding) and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    /// `/`-separated path in the wheel.
    pub path: String,
    /// `sha256=<urlsafe-b64-nopad>`.
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
}

impl RecordEntry {
    /// Hash `bytes` stored at `path`.
    pub fn new(path: impl Into<String>, bytes: &[u8]) -> RecordEntry {
        RecordEntry::from_digest(path, Sha256::digest(bytes).into(), bytes.len() as u64)
    }

    /// An entry for content already hashed (by a sink hashing while it writes).
    pub fn from_digest(path: impl Into<String>, digest: [u8; 32], size: u64) -> RecordEntry {
        RecordEntry {
            path: path.into(),
            hash: format!("sha256={}", URL_SAFE_NO_PAD.encode(digest)),
            size,
        }
    }
}

/// Render RECORD: one `path,sha256=…,size` line per entry in the order given, then RECORD's
/// own line `record_path,,` last. Paths holding `,`, `"` or a line break are quoted as CSV.
pub fn render_record(entries: &[RecordEntry], record_path: &str) -> String {
    let mut record = String::new();
    for entry in entries {
        record.push_str(&csv_field(&entry.path));
        record.push(',');
        record.push_str(&entry.hash);
        record.push(',');
        record.push_str(&entry.size.to_string());
        record.push('\n');
    }
    record.push_str(&csv_field(record_path));
    record.push_str(",,\n");
    record
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use insta::assert_snapshot;

    #[test]
    fn names_are_normalized_and_escaped() {
        assert_eq!(normalize_name("Friendly-Bard"), "friendly-bard");
        assert_eq!(normalize_name("FRIENDLY._-_BARD"), "friendly-bard");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(wheel_name_component("Spam.Eggs__tool"), "spam_eggs_tool");
        assert_eq!(wheel_name_component("pyship"), "pyship");
        assert_eq!(
            dist_info_dir("Spam.Eggs", "1.0-1"),
            "spam_eggs-1.0_1.dist-info"
        );
    }

    #[test]
    fn record_lists_itself_last() {
        let entries = [
            RecordEntry::new("pkg/__init__.pyc", b"abc"),
            RecordEntry::new("pkg/odd,name \"q\".txt", b""),
        ];
        assert_snapshot!(render_record(&entries, "pkg-1.0.dist-info/RECORD"), @r#"
        pkg/__init__.pyc,sha256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0,3
        "pkg/odd,name ""q"".txt",sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0
        pkg-1.0.dist-info/RECORD,,
        "#);
    }

    #[test]
    fn record_entry_from_digest_matches_new() {
        let digest: [u8; 32] = Sha256::digest(b"abc").into();
        assert_eq!(
            RecordEntry::from_digest("a", digest, 3),
            RecordEntry::new("a", b"abc")
        );
    }
}
