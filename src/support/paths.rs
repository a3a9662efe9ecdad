//! Paths that a project's own files name, kept inside the project.

use std::path::{Component, Path, PathBuf};

/// `dir/relative` after symlinks, if it stays inside `dir` (also after symlinks); `None` when it
/// points outside. A path that does not exist is returned as joined when it cannot climb out
/// (no `..`, not absolute), so that reading it reports it missing.
pub fn confine(dir: &Path, relative: &Path) -> std::io::Result<Option<PathBuf>> {
    let joined = dir.join(relative);
    let canonical_dir = fs_err::canonicalize(dir)?;
    let stays = relative
        .components()
        .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
    Ok(match std::fs::canonicalize(&joined) {
        Ok(real) if real.starts_with(&canonical_dir) => Some(real),
        // Missing: fine to report as such unless it climbs out, or is a dangling link (which
        // may point out too).
        Err(_) if stays && std::fs::symlink_metadata(&joined).is_err() => Some(joined),
        Ok(_) | Err(_) => None,
    })
}
