//! Staging: the temporary files and directories an artifact is written into beside its
//! destination before it is renamed into place, and pip's install directory for `--with-deps`.
//!
//! Each is named `.pyship-KIND-PID-XXXXXX` (KIND `zip`, `dir`, `old` or `deps`, PID the owner's process
//! id) and the owner holds an exclusive `flock` on it for as long as it lives. A SIGKILL or a
//! power loss leaves it behind; [`sweep`] removes such leftovers from an out-dir: an entry whose
//! name has exactly that form, whose lock can be taken (no live process holds it) and whose
//! owner process is gone. Both tests must pass: the lock alone would race with a staging entry
//! created but not yet locked, and a process id alone can be reused or belong to another PID
//! namespace sharing the directory. Nothing else is ever removed.

use std::fs::File;
use std::io;
use std::path::Path;

use tempfile::{NamedTempFile, TempDir};

/// What a staging entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An archive being written (a file).
    Zip,
    /// A directory artifact being written.
    Dir,
    /// A directory artifact's previous tree, moved aside while the new one takes its place.
    Old,
    /// `--with-deps`: pip's install directory, in the system's temporary directory.
    Deps,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Zip => "zip",
            Kind::Dir => "dir",
            Kind::Old => "old",
            Kind::Deps => "deps",
        }
    }

    fn prefix(self) -> String {
        format!(".pyship-{}-{}-", self.name(), std::process::id())
    }
}

/// Random characters tempfile appends to the prefix.
const RANDOM_LEN: usize = 6;

/// A locked staging directory; removed (with its contents) on drop unless kept.
#[derive(Debug)]
pub struct StagingDir {
    /// Declared first: dropped (removed) while still locked.
    pub dir: TempDir,
    _lock: Option<File>,
}

impl StagingDir {
    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Create a locked staging directory of `kind` in `parent`.
pub fn dir_in(parent: &Path, kind: Kind) -> io::Result<StagingDir> {
    debug_assert!(kind != Kind::Zip);
    let dir = tempfile::Builder::new()
        .prefix(&kind.prefix())
        .rand_bytes(RANDOM_LEN)
        .tempdir_in(parent)?;
    let lock = lock_dir(dir.path())?;
    Ok(StagingDir { dir, _lock: lock })
}

/// Create a locked staging file for an archive in `parent`; the lock lives with the handle.
pub fn file_in(parent: &Path) -> io::Result<NamedTempFile> {
    let file = tempfile::Builder::new()
        .prefix(&Kind::Zip.prefix())
        .rand_bytes(RANDOM_LEN)
        .tempfile_in(parent)?;
    #[cfg(unix)]
    if !try_lock(file.as_file())? {
        return Err(io::Error::other(
            "a new staging file is locked by another process",
        ));
    }
    Ok(file)
}

#[cfg(unix)]
fn lock_dir(path: &Path) -> io::Result<Option<File>> {
    let dir = open_no_follow(path)?;
    if try_lock(&dir)? {
        Ok(Some(dir))
    } else {
        Err(io::Error::other(format!(
            "a new staging directory `{}` is locked by another process",
            path.display()
        )))
    }
}

#[cfg(not(unix))]
#[allow(clippy::unnecessary_wraps)]
fn lock_dir(_path: &Path) -> io::Result<Option<File>> {
    Ok(None)
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<File> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    Ok(fs_err::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?
        .into_parts()
        .0)
}

/// Take an exclusive `flock` without waiting: `false` when someone else holds one.
#[cfg(unix)]
fn try_lock(file: &File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: plain system call on a descriptor `file` owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

/// The kind and owner of a staging entry named `name`, if it is one.
fn parse_name(name: &str) -> Option<(Kind, u32)> {
    let rest = name.strip_prefix(".pyship-")?;
    let (kind, rest) = rest.split_once('-')?;
    let kind = match kind {
        "zip" => Kind::Zip,
        "dir" => Kind::Dir,
        "old" => Kind::Old,
        "deps" => Kind::Deps,
        _ => return None,
    };
    let (pid, random) = rest.split_once('-')?;
    let valid_pid = !pid.is_empty() && pid.len() <= 10 && pid.bytes().all(|b| b.is_ascii_digit());
    let valid_random =
        random.len() == RANDOM_LEN && random.bytes().all(|b| b.is_ascii_alphanumeric());
    if !(valid_pid && valid_random) {
        return None;
    }
    Some((kind, pid.parse().ok()?))
}

/// Whether process `pid` exists (a zombie counts as existing).
#[cfg(unix)]
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        // 0 and negatives name groups, not processes.
        return true;
    }
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Remove the staging that killed pyship processes left in `dir` (see the module docs);
/// returns how many entries were removed. Best effort: what cannot be checked or removed stays.
pub fn sweep(dir: &Path) -> usize {
    #[cfg(unix)]
    {
        let Ok(entries) = fs_err::read_dir(dir) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let Some((kind, pid)) = entry.file_name().to_str().and_then(parse_name) else {
                continue;
            };
            if pid == std::process::id() || process_exists(pid) {
                continue;
            }
            let path = entry.path();
            let Ok(metadata) = fs_err::symlink_metadata(&path) else {
                continue;
            };
            // A symlink or another type under a staging name was not written by pyship.
            let expected = match kind {
                Kind::Zip => metadata.is_file(),
                Kind::Dir | Kind::Old | Kind::Deps => metadata.is_dir(),
            };
            if !expected {
                continue;
            }
            // Held while removing, so a concurrent sweeper skips it.
            let Ok(lock) = open_no_follow(&path) else {
                continue;
            };
            if !matches!(try_lock(&lock), Ok(true)) {
                continue;
            }
            let gone = match kind {
                Kind::Zip => fs_err::remove_file(&path),
                Kind::Dir | Kind::Old | Kind::Deps => fs_err::remove_dir_all(&path),
            };
            if gone.is_ok() {
                removed += 1;
            }
        }
        removed
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_name(".pyship-dir-123-aB3xYz"), Some((Kind::Dir, 123)));
        assert_eq!(parse_name(".pyship-zip-1-abcdef"), Some((Kind::Zip, 1)));
        assert_eq!(parse_name(".pyship-old-99-abcdef"), Some((Kind::Old, 99)));
        assert_eq!(parse_name(".pyship-deps-9-abcdef"), Some((Kind::Deps, 9)));
        for other in [
            ".pyship-dir-abcdef",
            ".pyship-dir-12-abcdefg",
            ".pyship-dir-12-abc.ef",
            ".pyship-tmp-12-abcdef",
            ".pyship-dir--abcdef",
            "pyship-dir-12-abcdef",
            ".pyship-dir-12345678901-abcdef",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
        let dir = tempfile::tempdir().unwrap();
        let staging = dir_in(dir.path(), Kind::Dir).unwrap();
        let name = staging.path().file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_name(name), Some((Kind::Dir, std::process::id())));
        let file = file_in(dir.path()).unwrap();
        let name = file.path().file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_name(name), Some((Kind::Zip, std::process::id())));
    }

    #[cfg(unix)]
    #[test]
    fn sweep_removes_only_unowned_staging() {
        let dir = tempfile::tempdir().unwrap();
        // No live process has this id: pid_max is at most 2^22 on Linux.
        let dead = 4_194_304 + 7;
        let stale = dir.path().join(format!(".pyship-dir-{dead}-abcdef"));
        fs_err::create_dir_all(stale.join("pkg")).unwrap();
        fs_err::write(stale.join("pkg/a.pyc"), "x").unwrap();
        let stale_zip = dir.path().join(format!(".pyship-zip-{dead}-abcdef"));
        fs_err::write(&stale_zip, "zip").unwrap();
        // Locked by a live owner, though its pid looks dead.
        let locked = dir.path().join(format!(".pyship-zip-{dead}-locked"));
        fs_err::write(&locked, "zip").unwrap();
        let lock = open_no_follow(&locked).unwrap();
        assert!(try_lock(&lock).unwrap());
        // Ours, live.
        let live = dir_in(dir.path(), Kind::Dir).unwrap();
        // Foreign: other names, and a symlink under a staging name.
        let foreign = [
            dir.path().join(".pyship-dir-abcdef"),
            dir.path().join("notes.txt"),
        ];
        for path in &foreign {
            fs_err::write(path, "mine").unwrap();
        }
        let link = dir.path().join(format!(".pyship-old-{dead}-abcdef"));
        std::os::unix::fs::symlink(&foreign[1], &link).unwrap();

        assert_eq!(sweep(dir.path()), 2);
        assert!(!stale.exists() && !stale_zip.exists());
        assert!(locked.exists() && live.path().is_dir());
        assert!(foreign.iter().all(|path| path.exists()));
        assert!(fs_err::symlink_metadata(&link).is_ok());
    }
}
