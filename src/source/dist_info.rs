//! Installed dependencies' `.dist-info` directories, trimmed for a bundle (SPEC §6).
//!
//! A bundle is not installable: nothing uninstalls or verifies it, so `RECORD` (which lists
//! `.py` files that are gone), `INSTALLER`, `REQUESTED`, `direct_url.json` and `WHEEL` are dead
//! weight. What `importlib.metadata` reads stays: `METADATA` (`version()`, `requires()`),
//! `entry_points.txt`, `top_level.txt` (`packages_distributions()`) and the license files.

use std::sync::Arc;

use super::tree::SourceFile;
use crate::wheel::metadata::strip_long_description;

/// Files directly in a `.dist-info` that a bundle keeps.
const KEPT: &[&str] = &["METADATA", "entry_points.txt", "top_level.txt"];

/// Subdirectories of a `.dist-info` that a bundle keeps whole: PEP 639's `licenses/`, and
/// `license_files/` of backends that predate its final form.
const KEPT_DIRS: &[&str] = &["licenses/", "license_files/"];

/// How license files at the top of a `.dist-info` start (setuptools and wheel put them there).
const LICENSE_PREFIXES: &[&str] = &["LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS"];

/// Whether a bundle keeps `relative` (a path in the install directory): anything outside a
/// top-level `.dist-info`, and what `importlib.metadata` reads inside one.
pub fn is_kept(relative: &str) -> bool {
    let Some((dir, inner)) = relative.split_once('/') else {
        return true;
    };
    if !dir.ends_with(".dist-info") {
        return true;
    }
    KEPT.contains(&inner)
        || KEPT_DIRS.iter().any(|kept| inner.starts_with(kept))
        || (!inner.contains('/')
            && LICENSE_PREFIXES
                .iter()
                .any(|prefix| inner.to_ascii_uppercase().starts_with(prefix)))
}

/// Whether `relative` is the `METADATA` of a top-level `.dist-info`.
fn is_metadata(relative: &str) -> bool {
    relative
        .split_once('/')
        .is_some_and(|(dir, inner)| dir.ends_with(".dist-info") && inner == "METADATA")
}

/// Drop from `files` what a bundle does not need of the `.dist-info` directories; with `slim`,
/// `METADATA` keeps its headers only (read here, then held in memory).
pub fn trim(files: Vec<SourceFile>, slim: bool) -> std::io::Result<Vec<SourceFile>> {
    files
        .into_iter()
        .filter(|file| is_kept(&file.relative))
        .map(|mut file| {
            if slim && is_metadata(&file.relative) {
                let text = file.text()?;
                let headers: Arc<[u8]> = strip_long_description(&text).into_bytes().into();
                file.size = headers.len() as u64;
                file.contents = Some(headers);
            }
            Ok(file)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_importlib_metadata_reads_is_kept() {
        let kept = [
            "pkg/__init__.py",
            "pkg/RECORD",
            "pkg-1.0.dist-info/METADATA",
            "pkg-1.0.dist-info/entry_points.txt",
            "pkg-1.0.dist-info/top_level.txt",
            "pkg-1.0.dist-info/licenses/LICENSE",
            "pkg-1.0.dist-info/licenses/sub/NOTICE.md",
            "pkg-1.0.dist-info/license_files/COPYING",
            "pkg-1.0.dist-info/LICENSE.txt",
            "pkg-1.0.dist-info/licence",
            "pkg-1.0.dist-info/AUTHORS.rst",
        ];
        let dropped = [
            "pkg-1.0.dist-info/RECORD",
            "pkg-1.0.dist-info/INSTALLER",
            "pkg-1.0.dist-info/REQUESTED",
            "pkg-1.0.dist-info/direct_url.json",
            "pkg-1.0.dist-info/WHEEL",
            "pkg-1.0.dist-info/sboms/pkg.cdx.json",
            "pkg-1.0.dist-info/sub/LICENSE",
        ];
        for path in kept {
            assert!(is_kept(path), "{path}");
        }
        for path in dropped {
            assert!(!is_kept(path), "{path}");
        }
    }
}
