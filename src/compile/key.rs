//! What identifies one compiled module in the [`Cache`](crate::cache::Cache): the sha256 of
//! the source bytes' digest ([`SourceDigest`], computed once per file even with several
//! targets), the target's magic number, the [`CodeOptions`](super::CodeOptions) and pyship's
//! version (so a change to the canonical form never serves stale bytes). Not the dfile: an entry
//! holds the code compiled at [`STORED_DFILE`], and [`Backend::relocate`](super::Backend::relocate)
//! writes the real `co_filename` in when a pyc is produced, so the same source at another path
//! (a second venv, a new checkout) is a hit.

use sha2::{Digest as _, Sha256};

use super::CompileRequest;
use crate::cache::CacheKey;

/// The sha256 of a source file's bytes: computed once per file and shared by every target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceDigest([u8; 32]);

impl SourceDigest {
    /// Hash `source`.
    pub fn of(source: &[u8]) -> SourceDigest {
        SourceDigest(Sha256::digest(source).into())
    }
}

/// The `co_filename` of the code a cache entry holds, whatever path it was compiled at.
pub const STORED_DFILE: &str = "<pyship>";

/// The key of `request` (its source by `digest`) compiled for the interpreter whose magic
/// number is `magic`, at any path.
pub fn cache_key(digest: &SourceDigest, magic: [u8; 4], request: &CompileRequest) -> CacheKey {
    let mut hasher = Sha256::new();
    // Entries have held the compile's warnings since "with warnings": older ones, which may
    // lack them, are never read again (the size cap removes them in time).
    hasher.update(b"pyship cache key, any path, with warnings\0");
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(b"\0");
    hasher.update(digest.0);
    hasher.update(magic);
    // Two bytes, as before `CodeOptions`: the level, then the stripping flag.
    hasher.update([
        request.options.optimize.level(),
        u8::from(request.options.strip_docstrings),
    ]);
    CacheKey::from_hash(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{CodeOptions, Optimize};

    fn request(source: &[u8], options: CodeOptions, dfile: &str) -> (SourceDigest, CompileRequest) {
        (
            SourceDigest::of(source),
            CompileRequest {
                source: source.into(),
                dfile: dfile.to_owned(),
                options,
            },
        )
    }

    #[test]
    fn key_depends_on_every_part_but_the_path() {
        let magic = *b"\xcb\x0d\r\n";
        let plain = CodeOptions::default();
        let key = |(digest, request): (SourceDigest, CompileRequest), magic| {
            cache_key(&digest, magic, &request)
        };
        let base = key(request(b"x = 1\n", plain, "a.py"), magic);
        let others = [
            key(request(b"x = 2\n", plain, "a.py"), magic),
            key(request(b"x = 1\n", plain, "a.py"), *b"\xa7\x0d\r\n"),
            key(
                request(b"x = 1\n", CodeOptions::new(Optimize::One), "a.py"),
                magic,
            ),
            key(
                request(
                    b"x = 1\n",
                    CodeOptions {
                        optimize: Optimize::Zero,
                        strip_docstrings: true,
                    },
                    "a.py",
                ),
                magic,
            ),
        ];
        for other in others {
            assert_ne!(base, other);
        }
        assert_eq!(base, key(request(b"x = 1\n", plain, "a.py"), magic));
        // The path is not part of it.
        assert_eq!(
            base,
            key(request(b"x = 1\n", plain, "elsewhere/b.py"), magic)
        );
    }
}
