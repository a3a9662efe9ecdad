//! The `dir` format: the laid-out tree as a plain directory.
//!
//! Files are written into a fresh temporary directory beside the destination, so a dropped or
//! failed sink leaves nothing behind; [`Sink::finish`] renames it into place, replacing an
//! existing directory only if it is empty or pyship wrote it (it holds the build facts).
//! Directories are created as entries are added; the files themselves are written in the
//! background on rayon's pool, and `finish` waits for the last of them. Every file gets a fixed
//! mode and the same mtime: timestamp-based pycs are only used when the source's mtime matches
//! the one in their header (PEP 552).

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use filetime::FileTime;

use super::{Artifact, Sink, SinkError, parent_dirs, parent_of, validate_path};
use crate::plan::facts::{DIST_INFO_FACTS, ROOT_FACTS};
use crate::support::jobs::Jobs;
use crate::support::staging::{self, Kind, StagingDir};

/// Mode of regular files.
const FILE_MODE: u32 = 0o644;
/// Mode of executables and directories.
const EXECUTABLE_MODE: u32 = 0o755;

/// Writes the artifact as a directory tree at `dest`; see the [module docs](self).
#[derive(Debug)]
pub struct DirSink {
    /// Final location of the tree.
    dest: PathBuf,
    /// Files being written. Declared before `staging`: fields drop in order, and a dropped
    /// sink waits for its writes before the staging directory is removed.
    jobs: Jobs<Result<(), SinkError>>,
    /// Where files go until `finish`; removed on drop.
    staging: StagingDir,
    /// Modification time given to every file and directory.
    mtime: FileTime,
    /// Artifact paths of the files written so far → their sizes.
    files: BTreeMap<String, u64>,
    /// Artifact paths of the directories created so far.
    dirs: HashSet<String>,
}

/// Start a directory artifact at `dest`, whose files all get mtime `mtime` (unix seconds).
///
/// Missing parents of `dest` are created. Fails early if `dest` exists and is not a directory.
pub fn create(dest: &Path, mtime: u32) -> Result<DirSink, SinkError> {
    check_destination(dest)?;
    let parent = parent_of(dest);
    fs_err::create_dir_all(&parent)?;
    let staging = staging::dir_in(&parent, Kind::Dir)?;
    Ok(DirSink {
        dest: dest.to_path_buf(),
        staging,
        mtime: FileTime::from_unix_time(i64::from(mtime), 0),
        files: BTreeMap::new(),
        dirs: HashSet::new(),
        jobs: Jobs::new(),
    })
}

/// Refuse a destination that exists as anything but a directory (a symlink included), or as a
/// directory pyship did not write: pyship deletes only what it wrote (SPEC §9), and replacing
/// the directory deletes everything in it.
fn check_destination(dest: &Path) -> Result<(), SinkError> {
    match fs_err::symlink_metadata(dest) {
        Ok(metadata) if !metadata.is_dir() => Err(SinkError::NotADirectory {
            path: dest.to_path_buf(),
        }),
        Ok(_) if !written_by_pyship(dest)? => Err(SinkError::NotOurs {
            path: dest.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Whether the existing directory `dest` is empty or an artifact of pyship's: every artifact
/// records its build facts at its top, in `.pyship.json` or a `.dist-info/pyship.json`.
fn written_by_pyship(dest: &Path) -> Result<bool, SinkError> {
    if dest.join(ROOT_FACTS).is_file() {
        return Ok(true);
    }
    let mut empty = true;
    for entry in fs_err::read_dir(dest)? {
        let entry = entry?;
        empty = false;
        if entry.file_name().to_string_lossy().ends_with(".dist-info")
            && entry.path().join(DIST_INFO_FACTS).is_file()
        {
            return Ok(true);
        }
    }
    Ok(empty)
}

/// Set the permission bits of `path` (no-op where there are none).
fn set_mode(path: &Path, mode: u32) -> Result<(), SinkError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

impl DirSink {
    /// Validate `path`, check it against what was written, and create its parent directories.
    /// Returns where the file goes in the staging directory.
    fn prepare(&mut self, path: &str) -> Result<PathBuf, SinkError> {
        validate_path(path)?;
        if self.files.contains_key(path) {
            return Err(SinkError::Duplicate {
                path: path.to_owned(),
            });
        }
        if self.dirs.contains(path) {
            return Err(SinkError::FileDirectoryClash {
                path: path.to_owned(),
            });
        }
        for dir in parent_dirs(path) {
            if self.files.contains_key(dir) {
                return Err(SinkError::FileDirectoryClash {
                    path: dir.to_owned(),
                });
            }
            if !self.dirs.contains(dir) {
                let target = self.staging.path().join(dir);
                fs_err::create_dir(&target)?;
                set_mode(&target, EXECUTABLE_MODE)?;
                self.dirs.insert(dir.to_owned());
            }
        }
        Ok(self.staging.path().join(path))
    }

    /// Account for `path` and write it in the background: `write` creates `target`, then the
    /// file gets its mode and mtime.
    fn spawn(
        &mut self,
        path: &str,
        target: PathBuf,
        executable: bool,
        len: u64,
        write: impl FnOnce(&Path) -> std::io::Result<()> + Send + 'static,
    ) {
        self.files.insert(path.to_owned(), len);
        let mtime = self.mtime;
        self.jobs.spawn(move || {
            write(&target)?;
            set_mode(
                &target,
                if executable {
                    EXECUTABLE_MODE
                } else {
                    FILE_MODE
                },
            )?;
            filetime::set_file_times(&target, mtime, mtime)
                .map_err(|err| with_path(&err, &target))?;
            Ok(())
        });
    }
}

/// Attach the path to an I/O error from a crate that does not name it.
fn with_path(err: &std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(
        err.kind(),
        format!("{err} when setting the times of `{}`", path.display()),
    )
}

impl Sink for DirSink {
    fn add_bytes(&mut self, path: &str, bytes: &[u8], executable: bool) -> Result<(), SinkError> {
        let target = self.prepare(path)?;
        let bytes = bytes.to_vec();
        self.spawn(
            path,
            target,
            executable,
            bytes.len() as u64,
            move |target| fs_err::File::create_new(target)?.write_all(&bytes),
        );
        Ok(())
    }

    fn add_file(&mut self, path: &str, source: &Path) -> Result<(), SinkError> {
        let target = self.prepare(path)?;
        // Fail here on a missing file; it is copied in the background.
        let len = fs_err::metadata(source)?.len();
        let source = source.to_path_buf();
        self.spawn(path, target, false, len, move |target| {
            fs_err::copy(&source, target).map(drop)
        });
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Artifact, SinkError> {
        while let Some(written) = self.jobs.next() {
            written?;
        }
        let DirSink {
            dest,
            staging,
            mtime,
            dirs,
            files,
            ..
        } = *self;
        // Directory mtimes last: creating entries inside a directory bumps its mtime.
        for dir in &dirs {
            let target = staging.path().join(dir);
            filetime::set_file_times(&target, mtime, mtime)
                .map_err(|err| with_path(&err, &target))?;
        }
        // The staging directory was created 0o700.
        set_mode(staging.path(), EXECUTABLE_MODE)?;
        filetime::set_file_times(staging.path(), mtime, mtime)
            .map_err(|err| with_path(&err, staging.path()))?;

        check_destination(&dest)?;
        let parent = parent_of(&dest);
        // Move an existing tree aside into a temporary directory, which deletes it on drop.
        let aside = if dest.exists() {
            let aside = staging::dir_in(&parent, Kind::Old)?;
            let old = aside.path().join("old");
            fs_err::rename(&dest, &old)?;
            Some((aside, old))
        } else {
            None
        };
        if let Err(err) = fs_err::rename(staging.path(), &dest) {
            if let Some((_, old)) = &aside {
                // Best effort: put the previous tree back where it was.
                let _ = fs_err::rename(old, &dest);
            }
            return Err(SinkError::Persist { path: dest, err });
        }
        // Renamed away: nothing left for the guard to delete.
        let _ = staging.dir.keep();
        drop(aside);
        Ok(Artifact::new(dest, files))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const MTIME: u32 = 1_700_000_001;

    /// Every entry below `root`: relative path → (is_dir, mode, mtime, contents).
    fn tree(root: &Path) -> BTreeMap<String, (bool, u32, i64, Vec<u8>)> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs_err::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let metadata = fs_err::symlink_metadata(&path).unwrap();
                let name = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .replace('\\', "/");
                #[cfg(unix)]
                let mode =
                    std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o7777;
                #[cfg(not(unix))]
                let mode = 0;
                let mtime = FileTime::from_last_modification_time(&metadata).unix_seconds();
                let contents = if metadata.is_dir() {
                    stack.push(path.clone());
                    Vec::new()
                } else {
                    fs_err::read(&path).unwrap()
                };
                out.insert(name, (metadata.is_dir(), mode, mtime, contents));
            }
        }
        out
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs_err::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Feed a small project in scrambled order.
    fn fill(sink: &mut DirSink, data_file: &Path) {
        sink.add_bytes("pkg/sub/z.pyc", b"zz", false).unwrap();
        sink.add_bytes("bin/tool", b"#!/bin/sh\n", true).unwrap();
        sink.add_file("pkg/data/table.csv", data_file).unwrap();
        sink.add_bytes("pkg/__init__.pyc", b"", false).unwrap();
        sink.add_bytes("pkg/sub/__init__.pyc", b"sub", false)
            .unwrap();
        sink.add_bytes("top.pyc", b"top", false).unwrap();
    }

    #[test]
    fn writes_tree_with_fixed_modes_and_mtimes() {
        let temp = tempfile::tempdir().unwrap();
        let data = temp.path().join("table.csv");
        fs_err::write(&data, "a,b\n1,2\n").unwrap();
        filetime::set_file_mtime(&data, FileTime::from_unix_time(5, 0)).unwrap();
        let dest = temp.path().join("out/dist");

        let mut sink = Box::new(create(&dest, MTIME).unwrap());
        fill(&mut sink, &data);
        let artifact = sink.finish().unwrap();
        assert_eq!(artifact.path, dest);
        assert_eq!(artifact.bytes, 2 + 10 + 8 + 3 + 3);

        let m = i64::from(MTIME);
        let expected: BTreeMap<String, (bool, u32, i64, Vec<u8>)> = [
            ("bin", (true, 0o755, m, &b""[..])),
            ("bin/tool", (false, 0o755, m, b"#!/bin/sh\n")),
            ("pkg", (true, 0o755, m, b"")),
            ("pkg/__init__.pyc", (false, 0o644, m, b"")),
            ("pkg/data", (true, 0o755, m, b"")),
            ("pkg/data/table.csv", (false, 0o644, m, b"a,b\n1,2\n")),
            ("pkg/sub", (true, 0o755, m, b"")),
            ("pkg/sub/__init__.pyc", (false, 0o644, m, b"sub")),
            ("pkg/sub/z.pyc", (false, 0o644, m, b"zz")),
            ("top.pyc", (false, 0o644, m, b"top")),
        ]
        .into_iter()
        .map(|(name, (is_dir, mode, mtime, contents))| {
            #[cfg(not(unix))]
            let mode = {
                let _ = mode;
                0
            };
            (name.to_owned(), (is_dir, mode, mtime, contents.to_vec()))
        })
        .collect();
        assert_eq!(tree(&dest), expected);
        let root = fs_err::metadata(&dest).unwrap();
        assert_eq!(
            FileTime::from_last_modification_time(&root).unix_seconds(),
            m
        );
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&root.permissions()) & 0o7777,
            0o755
        );
        // Only the artifact is left in the output directory: no staging leftovers.
        assert_eq!(listing(&temp.path().join("out")), ["dist"]);
    }

    #[test]
    fn dropped_sink_leaves_nothing() {
        let temp = tempfile::tempdir().unwrap();
        fs_err::write(temp.path().join("keep.txt"), "x").unwrap();
        let before = listing(temp.path());
        let mut sink = create(&temp.path().join("dist"), MTIME).unwrap();
        // Many writes still running in the background when the sink is dropped.
        for i in 0..500 {
            sink.add_bytes(&format!("pkg{}/m{i}.pyc", i % 7), &[7; 4096], false)
                .unwrap();
        }
        assert_eq!(
            listing(temp.path()).len(),
            before.len() + 1,
            "staging dir exists"
        );
        drop(sink);
        assert_eq!(listing(temp.path()), before);
    }

    #[test]
    fn replaces_existing_directory_it_wrote() {
        let temp = tempfile::tempdir().unwrap();
        let dest = temp.path().join("dist");
        fs_err::create_dir_all(dest.join("stale/deep")).unwrap();
        fs_err::write(dest.join("stale/deep/old.pyc"), "old").unwrap();
        fs_err::write(dest.join("top.pyc"), "old top").unwrap();
        fs_err::write(dest.join(ROOT_FACTS), "{}").unwrap();

        let mut sink = Box::new(create(&dest, MTIME).unwrap());
        sink.add_bytes("top.pyc", b"new top", false).unwrap();
        sink.finish().unwrap();

        assert_eq!(listing(&dest), ["top.pyc"]);
        assert_eq!(fs_err::read(dest.join("top.pyc")).unwrap(), b"new top");
        assert_eq!(listing(temp.path()), ["dist"]);
    }

    #[test]
    fn replaces_only_directories_it_wrote_or_empty_ones() {
        let temp = tempfile::tempdir().unwrap();
        let dest = temp.path().join("dist");
        fs_err::create_dir_all(dest.join("demo-1.0.dist-info")).unwrap();
        fs_err::write(dest.join("notes.txt"), "the user's").unwrap();
        let err = create(&dest, MTIME).unwrap_err();
        assert!(matches!(err, SinkError::NotOurs { .. }), "{err}");

        // A wheel's facts in its .dist-info mark it as pyship's too.
        fs_err::write(dest.join("demo-1.0.dist-info").join(DIST_INFO_FACTS), "{}").unwrap();
        let mut sink = Box::new(create(&dest, MTIME).unwrap());
        sink.add_bytes("a.pyc", b"a", false).unwrap();
        // The user's files appear while the sink is open: checked again before replacing.
        fs_err::remove_dir_all(&dest).unwrap();
        fs_err::create_dir(&dest).unwrap();
        fs_err::write(dest.join("notes.txt"), "the user's").unwrap();
        let err = sink.finish().unwrap_err();
        assert!(matches!(err, SinkError::NotOurs { .. }), "{err}");
        assert_eq!(listing(&dest), ["notes.txt"]);
        assert_eq!(listing(temp.path()), ["dist"]);

        // An empty directory holds nothing to lose.
        fs_err::remove_file(dest.join("notes.txt")).unwrap();
        let mut sink = Box::new(create(&dest, MTIME).unwrap());
        sink.add_bytes("a.pyc", b"a", false).unwrap();
        sink.finish().unwrap();
        assert_eq!(listing(&dest), ["a.pyc"]);
    }

    #[test]
    fn refuses_file_destination() {
        let temp = tempfile::tempdir().unwrap();
        let dest = temp.path().join("dist");
        fs_err::write(&dest, "a file").unwrap();
        let err = create(&dest, MTIME).unwrap_err();
        assert!(matches!(err, SinkError::NotADirectory { .. }), "{err}");

        // Also when the file appears while the sink is open.
        let other = temp.path().join("other");
        let mut sink = Box::new(create(&other, MTIME).unwrap());
        sink.add_bytes("a.pyc", b"a", false).unwrap();
        fs_err::write(&other, "a file").unwrap();
        let err = sink.finish().unwrap_err();
        assert!(matches!(err, SinkError::NotADirectory { .. }), "{err}");
        assert_eq!(fs_err::read(&other).unwrap(), b"a file");
        assert_eq!(listing(temp.path()), ["dist", "other"]);
    }

    #[test]
    fn refuses_unsafe_duplicate_and_clashing_paths() {
        let temp = tempfile::tempdir().unwrap();
        let mut sink = create(&temp.path().join("dist"), MTIME).unwrap();
        for path in [
            "/etc/passwd",
            "../escape",
            "pkg/../../x",
            "a\\b",
            "a//b",
            "./a",
            "",
        ] {
            let err = sink.add_bytes(path, b"x", false).unwrap_err();
            assert!(
                matches!(err, SinkError::UnsafePath { .. }),
                "{path:?}: {err}"
            );
        }
        sink.add_bytes("pkg/a.pyc", b"a", false).unwrap();
        let err = sink.add_bytes("pkg/a.pyc", b"b", false).unwrap_err();
        assert!(matches!(err, SinkError::Duplicate { .. }), "{err}");
        let err = sink.add_bytes("pkg", b"b", false).unwrap_err();
        assert!(matches!(err, SinkError::FileDirectoryClash { .. }), "{err}");
        let err = sink.add_bytes("pkg/a.pyc/b", b"b", false).unwrap_err();
        assert!(matches!(err, SinkError::FileDirectoryClash { .. }), "{err}");
        // Nothing escaped into the parent.
        assert_eq!(listing(temp.path()).len(), 1);
    }
}
