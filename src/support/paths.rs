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

/// `dir/relative` for pyship to write to, if it stays inside `dir` after symlinks; `None` when
/// it points outside. It need not exist yet: the longest part of it that does must resolve
/// inside `dir`, and the rest may not climb out (`..`). A dangling link on the way counts as
/// outside, since it may point anywhere once created through.
pub fn confine_for_writing(dir: &Path, relative: &Path) -> std::io::Result<Option<PathBuf>> {
    let canonical_dir = fs_err::canonicalize(dir)?;
    let components: Vec<Component<'_>> = relative.components().collect();
    for existing in (0..=components.len()).rev() {
        let prefix = dir.join(components[..existing].iter().collect::<PathBuf>());
        if std::fs::symlink_metadata(&prefix).is_err() {
            continue;
        }
        let inside = std::fs::canonicalize(&prefix)
            .is_ok_and(|real| real.starts_with(&canonical_dir))
            && components[existing..]
                .iter()
                .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
        return Ok(inside.then(|| dir.join(relative)));
    }
    // `dir` itself exists (it was canonicalized), so the loop returned at the latest there.
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writing_stays_inside_through_missing_directories_and_links() {
        let temp = tempfile::tempdir().unwrap();
        let project = temp.path().join("project");
        fs_err::create_dir_all(project.join("dist")).unwrap();
        fs_err::create_dir(temp.path().join("elsewhere")).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(temp.path().join("elsewhere"), project.join("out")).unwrap();
            std::os::unix::fs::symlink(project.join("dist"), project.join("built")).unwrap();
            std::os::unix::fs::symlink(temp.path().join("gone"), project.join("dangling")).unwrap();
        }
        let confined = |relative: &str| confine_for_writing(&project, Path::new(relative)).unwrap();
        for inside in ["dist", "dist/new/deeper", "new", "./new", "built/new"] {
            assert_eq!(confined(inside), Some(project.join(inside)), "{inside}");
        }
        for outside in [
            "..",
            "../elsewhere",
            "dist/../../elsewhere",
            "new/../../x",
            "/tmp",
        ] {
            assert_eq!(confined(outside), None, "{outside}");
        }
        #[cfg(unix)]
        for outside in ["out", "out/new", "dangling", "dangling/new"] {
            assert_eq!(confined(outside), None, "{outside}");
        }
    }
}
