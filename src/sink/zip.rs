//! The `zip` format: a reproducible, deflated archive usable on `sys.path`; with a shebang
//! prefix it is also the container of a zipapp (PEP 441).
//!
//! Entries may be added in any order, from any thread that holds the sink: each is deflated in
//! the background on rayon's pool as soon as it is added (a project file is read there too), so
//! compression overlaps whatever the caller does meanwhile — compiling the next modules. Each
//! entry becomes a one-entry in-memory zip; [`Sink::finish`] waits for the last of them and
//! appends them with the `zip` crate's raw copy, sorted by name, with a directory entry for
//! every parent (namespace packages in zips need them before Python 3.13), one fixed
//! timestamp, fixed modes and no varying extra fields, so the same files give the same bytes in
//! whatever order they were added. The archive goes to a temporary file beside `dest` that is
//! renamed into place only when complete.

use std::collections::BTreeMap;
use std::io::{BufWriter, Cursor, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use super::{Artifact, Sink, SinkError, parent_dirs, parent_of, validate_path};
use crate::support::jobs::Jobs;

/// Mode of regular entries.
const FILE_MODE: u32 = 0o644;
/// Mode of executable entries, directories and an executable archive.
const EXECUTABLE_MODE: u32 = 0o755;
/// 1980-01-01 00:00:00 UTC, the earliest time a zip can store.
const DOS_EPOCH: u32 = 315_532_800;

/// How to write a zip artifact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZipOptions {
    /// Timestamp of every entry, in unix seconds (`SOURCE_DATE_EPOCH`); clamped to
    /// 1980-01-01 and stored as UTC.
    pub mtime: u32,
    /// Bytes before the zip data, e.g. `#!/usr/bin/env python3.12\n` for a zipapp.
    pub prefix: Vec<u8>,
    /// Whether the archive file itself is executable (0o755, else 0o644).
    pub executable: bool,
    /// Entries under this directory (e.g. `name-1.0.dist-info/`) go after all others, so a
    /// wheel's metadata and its `RECORD` come last (PEP 427). Sorted within each group.
    pub last_prefix: Option<String>,
    /// This entry, if present, is written after everything else (a wheel's `RECORD`).
    pub last_entry: Option<String>,
    /// Accept `__pycache__/` entries. Only for wheels, which are unpacked to disk where the
    /// loader reads `__pycache__`; zipimport never does, so plain zips refuse them.
    pub allow_pycache: bool,
}

/// An entry of the archive to be.
#[derive(Debug)]
enum Entry {
    /// A directory; its name ends with `/`.
    Directory,
    /// A file being deflated in the background; it arrives as [`Entry::Compressed`].
    Compressing,
    /// A file deflated into a one-entry zip, with its uncompressed length.
    Compressed { one: Vec<u8>, len: u64 },
}

/// A background job's answer: the entry's name and its one-entry zip and length.
type Done = (String, Result<(Vec<u8>, u64), ZipErrorAt>);

/// Writes a zip archive to `dest`; see the [module docs](self).
#[derive(Debug)]
pub struct ZipSink {
    /// Final location of the archive.
    dest: PathBuf,
    /// How to write it.
    options: ZipOptions,
    /// The archive being written; deleted on drop.
    temp: NamedTempFile,
    /// Entry name (directories with a trailing `/`) → entry, in archive order.
    entries: BTreeMap<String, Entry>,
    /// Entries being deflated.
    jobs: Jobs<Done>,
}

/// Start a zip artifact at `dest`. Missing parents of `dest` are created; fails early if `dest`
/// is a directory.
pub fn create(dest: &Path, options: ZipOptions) -> Result<ZipSink, SinkError> {
    check_destination(dest)?;
    let parent = parent_of(dest);
    fs_err::create_dir_all(&parent)?;
    let temp = crate::support::staging::file_in(&parent)?;
    Ok(ZipSink {
        dest: dest.to_path_buf(),
        options,
        temp,
        entries: BTreeMap::new(),
        jobs: Jobs::new(),
    })
}

/// Refuse a destination that is a directory; an existing file is replaced.
fn check_destination(dest: &Path) -> Result<(), SinkError> {
    if dest.is_dir() {
        return Err(SinkError::IsADirectory {
            path: dest.to_path_buf(),
        });
    }
    Ok(())
}

/// Convert unix seconds to a DOS timestamp with UTC fields, clamped to 1980-01-01. DOS time has
/// a two-second resolution, so odd seconds round down. `u32` seconds end in 2106, before the
/// DOS range does (2107).
pub(crate) fn dos_time(unix_seconds: u32) -> DateTime {
    let seconds = unix_seconds.max(DOS_EPOCH);
    let (days, time) = (seconds / 86_400, seconds % 86_400);
    // Howard Hinnant's `civil_from_days`, for non-negative days since 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u32::from(month <= 2);
    DateTime::from_date_and_time(
        year as u16,
        month as u8,
        day as u8,
        (time / 3600) as u8,
        (time / 60 % 60) as u8,
        (time % 60) as u8,
    )
    .expect("unix seconds in u32 are within the DOS date range once clamped")
}

impl ZipSink {
    /// Validate `path` and check it against what was added; register its parent directories.
    fn insert(&mut self, path: &str, entry: Entry) -> Result<(), SinkError> {
        validate_path(path)?;
        if !self.options.allow_pycache
            && path.split('/').any(|component| component == "__pycache__")
        {
            return Err(SinkError::PycacheInZip {
                path: path.to_owned(),
            });
        }
        if self.entries.contains_key(path) {
            return Err(SinkError::Duplicate {
                path: path.to_owned(),
            });
        }
        if self.entries.contains_key(&format!("{path}/")) {
            return Err(SinkError::FileDirectoryClash {
                path: path.to_owned(),
            });
        }
        if let Some(dir) = parent_dirs(path).find(|dir| self.entries.contains_key(*dir)) {
            return Err(SinkError::FileDirectoryClash {
                path: dir.to_owned(),
            });
        }
        for dir in parent_dirs(path) {
            self.entries
                .entry(format!("{dir}/"))
                .or_insert(Entry::Directory);
        }
        self.entries.insert(path.to_owned(), entry);
        Ok(())
    }
}

/// A one-entry zip holding `name` → `data`, deflated unless that does not make it smaller.
fn compress(name: &str, data: &[u8], mode: u32, time: DateTime) -> Result<Vec<u8>, ZipErrorAt> {
    let write = |method: CompressionMethod| -> zip::result::ZipResult<Vec<u8>> {
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(time)
            .unix_permissions(mode)
            .large_file(data.len() as u64 >= u64::from(u32::MAX));
        let mut writer = ZipWriter::new(Cursor::new(Vec::with_capacity(data.len() / 2 + 256)));
        writer.start_file(name, options)?;
        writer.write_all(data)?;
        Ok(writer.finish()?.into_inner())
    };
    if data.is_empty() {
        return write(CompressionMethod::Stored).map_err(ZipErrorAt::Zip);
    }
    let deflated = write(CompressionMethod::Deflated).map_err(ZipErrorAt::Zip)?;
    let compressed_size = ZipArchive::new(Cursor::new(&deflated))
        .and_then(|mut archive| Ok(archive.by_index_raw(0)?.compressed_size()))
        .map_err(ZipErrorAt::Zip)?;
    if compressed_size >= data.len() as u64 {
        // Incompressible (images, archives): storing is smaller and faster to read.
        return write(CompressionMethod::Stored).map_err(ZipErrorAt::Zip);
    }
    Ok(deflated)
}

/// Errors from a background job, before the destination is known to them.
#[derive(Debug)]
enum ZipErrorAt {
    /// Reading a project file failed.
    Io(std::io::Error),
    /// The zip writer failed.
    Zip(zip::result::ZipError),
}

impl ZipSink {
    /// Deflate `path` in the background: `read` gives its bytes (on the pool's thread).
    fn spawn(
        &mut self,
        path: &str,
        executable: bool,
        read: impl FnOnce() -> std::io::Result<Vec<u8>> + Send + 'static,
    ) -> Result<(), SinkError> {
        self.insert(path, Entry::Compressing)?;
        let name = path.to_owned();
        let (mode, time) = (
            if executable {
                EXECUTABLE_MODE
            } else {
                FILE_MODE
            },
            dos_time(self.options.mtime),
        );
        self.jobs.spawn(move || {
            let one = read().map_err(ZipErrorAt::Io).and_then(|data| {
                compress(&name, &data, mode, time).map(|one| (one, data.len() as u64))
            });
            (name, one)
        });
        Ok(())
    }

    /// Wait for every background job and keep its one-entry zip.
    fn collect(&mut self) -> Result<(), SinkError> {
        while let Some((name, one)) = self.jobs.next() {
            let (one, len) = one.map_err(|err| match err {
                ZipErrorAt::Io(err) => SinkError::Io(err),
                ZipErrorAt::Zip(err) => SinkError::Zip {
                    path: self.dest.clone(),
                    err,
                },
            })?;
            self.entries.insert(name, Entry::Compressed { one, len });
        }
        Ok(())
    }
}

impl Sink for ZipSink {
    fn add_bytes(&mut self, path: &str, bytes: &[u8], executable: bool) -> Result<(), SinkError> {
        let bytes = bytes.to_vec();
        self.spawn(path, executable, move || Ok(bytes))
    }

    fn add_file(&mut self, path: &str, source: &Path) -> Result<(), SinkError> {
        // Fail here on a missing file; the contents are read in the background.
        fs_err::metadata(source)?;
        let source = source.to_path_buf();
        self.spawn(path, false, move || fs_err::read(source))
    }

    fn finish(mut self: Box<Self>) -> Result<Artifact, SinkError> {
        self.collect()?;
        let ZipSink {
            dest,
            options,
            mut temp,
            entries,
            ..
        } = *self;
        let zip_error = |err| SinkError::Zip {
            path: dest.clone(),
            err,
        };
        let time = dos_time(options.mtime);
        let mut files = BTreeMap::new();

        // The prefix comes first; the zip writer records offsets from the start of the file, so
        // they stay right with it (`zipfile`, `zipimport` and `unzip` all accept that).
        temp.as_file_mut().write_all(&options.prefix)?;
        let mut writer = ZipWriter::new(FailOnce::new(BufWriter::with_capacity(
            1 << 20,
            temp.as_file_mut(),
        ))?);

        let mut entries: Vec<(String, Entry)> = entries.into_iter().collect();
        // Stable: each group keeps its sorted order.
        entries.sort_by_key(|(name, _)| {
            (
                options
                    .last_prefix
                    .as_ref()
                    .is_some_and(|last| name.starts_with(last.as_str())),
                options.last_entry.as_ref() == Some(name),
            )
        });
        for (name, entry) in entries {
            match entry {
                Entry::Directory => writer
                    .add_directory(
                        name.as_str(),
                        SimpleFileOptions::default()
                            .last_modified_time(time)
                            .unix_permissions(EXECUTABLE_MODE),
                    )
                    .map_err(zip_error)?,
                Entry::Compressing => unreachable!("every job was collected"),
                Entry::Compressed { one, len } => {
                    let mut archive = ZipArchive::new(Cursor::new(one)).map_err(zip_error)?;
                    let file = archive.by_index_raw(0).map_err(zip_error)?;
                    writer.raw_copy_file(file).map_err(zip_error)?;
                    files.insert(name, len);
                }
            }
        }

        let buffered = writer.finish().map_err(zip_error)?.into_inner()?;
        buffered
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        set_mode(temp.as_file(), options.executable)?;
        check_destination(&dest)?;
        temp.persist(&dest).map_err(|err| SinkError::Persist {
            path: dest.clone(),
            err: err.error,
        })?;
        Ok(Artifact::new(dest, files))
    }
}

/// The archive file under the zip writer. Its first failure is returned as usual; from then on
/// it accepts and discards everything, because the `zip` crate's `Drop` finalizes a writer that
/// was not finished and, when that fails too, prints `ZipWriter drop failed: …` to stderr
/// (zip 2.x) — a second, raw line after the one error pyship reports (a full disk showed it).
/// The failure is remembered, so an archive that lost bytes is never taken for a finished one.
struct FailOnce<W> {
    inner: W,
    /// The first failure, as text (`io::Error` is not `Clone`).
    failed: Option<(std::io::ErrorKind, String)>,
    /// Where the writer is, and how far the file reaches: kept after a failure so that the
    /// zip writer's seeks still get consistent answers.
    position: u64,
    end: u64,
}

impl<W: Write + Seek> FailOnce<W> {
    fn new(mut inner: W) -> std::io::Result<FailOnce<W>> {
        let position = inner.stream_position()?;
        Ok(FailOnce {
            inner,
            failed: None,
            position,
            end: position,
        })
    }

    /// The writer, or the failure it hid from the zip writer's `Drop`.
    fn into_inner(self) -> std::io::Result<W> {
        match self.failed {
            Some((kind, message)) => Err(std::io::Error::new(kind, message)),
            None => Ok(self.inner),
        }
    }

    fn check<T>(&mut self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(err) = &result {
            self.failed = Some((err.kind(), err.to_string()));
        }
        result
    }

    fn moved(&mut self, position: u64) -> u64 {
        self.position = position;
        self.end = self.end.max(position);
        position
    }
}

impl<W: Write + Seek> Write for FailOnce<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = if self.failed.is_some() {
            buf.len()
        } else {
            let result = self.inner.write(buf);
            self.check(result)?
        };
        self.moved(self.position + written as u64);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.failed.is_some() {
            return Ok(());
        }
        let result = self.inner.flush();
        self.check(result)
    }
}

impl<W: Write + Seek> Seek for FailOnce<W> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        if self.failed.is_none() {
            let result = self.inner.seek(to);
            let position = self.check(result)?;
            return Ok(self.moved(position));
        }
        let target = match to {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
            SeekFrom::End(delta) => self.end.checked_add_signed(delta),
        };
        match target {
            Some(position) => Ok(self.moved(position)),
            None => Err(std::io::Error::from(std::io::ErrorKind::InvalidInput)),
        }
    }
}

/// Give the finished archive its fixed mode (no-op where there are no modes).
fn set_mode(file: &std::fs::File, executable: bool) -> Result<(), SinkError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if executable {
            EXECUTABLE_MODE
        } else {
            FILE_MODE
        };
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (file, executable);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::process::Command;

    use super::*;

    /// 2023-11-14 22:13:21 UTC; DOS time keeps 22:13:20.
    const MTIME: u32 = 1_700_000_001;

    /// One entry read back: (name, unix mode, compression, (y, m, d, h, min, s), contents).
    type Listed = (
        String,
        u32,
        CompressionMethod,
        (u16, u8, u8, u8, u8, u8),
        Contents,
    );

    /// Entry contents, shown briefly when an assertion fails.
    #[derive(PartialEq, Eq)]
    struct Contents(Vec<u8>);

    impl std::fmt::Debug for Contents {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let head = &self.0[..self.0.len().min(12)];
            write!(
                f,
                "{} bytes {:?}",
                self.0.len(),
                String::from_utf8_lossy(head)
            )
        }
    }

    fn read_back(path: &Path) -> Vec<Listed> {
        let mut archive = ZipArchive::new(fs_err::File::open(path).unwrap()).unwrap();
        (0..archive.len())
            .map(|index| {
                let mut file = archive.by_index(index).unwrap();
                assert!(
                    file.extra_data().is_none_or(<[u8]>::is_empty),
                    "{} has extra fields",
                    file.name()
                );
                let time = file.last_modified().unwrap();
                let mut contents = Vec::new();
                file.read_to_end(&mut contents).unwrap();
                (
                    file.name().to_owned(),
                    file.unix_mode().unwrap(),
                    file.compression(),
                    (
                        time.year(),
                        time.month(),
                        time.day(),
                        time.hour(),
                        time.minute(),
                        time.second(),
                    ),
                    Contents(contents),
                )
            })
            .collect()
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs_err::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn mode_of(path: &Path) -> u32 {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs_err::metadata(path).unwrap().permissions().mode() & 0o7777
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            0
        }
    }

    /// Compressible Python source, so deflate is chosen.
    fn source(name: &str) -> Vec<u8> {
        format!(
            "NAME = {name:?}\n{}",
            "# padding padding padding\n".repeat(20)
        )
        .into_bytes()
    }

    /// Bytes deflate cannot shrink (xorshift noise).
    fn noise(len: usize) -> Vec<u8> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    /// A small project: a package, a namespace package (no `__init__`), a data file, an empty
    /// file and an executable.
    fn files() -> Vec<(&'static str, Vec<u8>, bool)> {
        vec![
            ("pkg/__init__.py", Vec::new(), false),
            ("pkg/mod.py", source("pkg.mod"), false),
            ("pkg/data/blob.bin", noise(3000), false),
            ("ns/sub/mod.py", source("ns.sub.mod"), false),
            ("bin/tool", b"#!/bin/sh\necho hi\n".to_vec(), true),
            ("top.py", source("top"), false),
        ]
    }

    fn write_zip(dest: &Path, options: ZipOptions, order: &[usize]) -> Artifact {
        let files = files();
        let mut sink = Box::new(create(dest, options).unwrap());
        for &index in order {
            let (path, bytes, executable) = &files[index];
            sink.add_bytes(path, bytes, *executable).unwrap();
        }
        sink.finish().unwrap()
    }

    fn options() -> ZipOptions {
        ZipOptions {
            mtime: MTIME,
            ..ZipOptions::default()
        }
    }

    /// `python3` when there is one; otherwise say why the check is skipped.
    fn python() -> Option<&'static str> {
        match Command::new("python3").arg("--version").output() {
            Ok(output) if output.status.success() => Some("python3"),
            _ => {
                eprintln!("skipping the Python checks: no working `python3` on PATH");
                None
            }
        }
    }

    fn run_python(command: &mut Command) -> String {
        let output = command
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{command:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    #[test]
    fn dos_time_is_utc_and_clamped() {
        let fields = |seconds| {
            let time = dos_time(seconds);
            (
                time.year(),
                time.month(),
                time.day(),
                time.hour(),
                time.minute(),
                time.second(),
            )
        };
        assert_eq!(fields(0), (1980, 1, 1, 0, 0, 0));
        assert_eq!(fields(DOS_EPOCH - 1), (1980, 1, 1, 0, 0, 0));
        assert_eq!(fields(DOS_EPOCH + 3), (1980, 1, 1, 0, 0, 2));
        assert_eq!(fields(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(fields(1_234_567_890), (2009, 2, 13, 23, 31, 30));
        assert_eq!(fields(MTIME), (2023, 11, 14, 22, 13, 20));
        assert_eq!(fields(u32::MAX), (2106, 2, 7, 6, 28, 14));
    }

    #[test]
    fn entries_sorted_with_directories_fixed_times_and_modes() {
        let temp = tempfile::tempdir().unwrap();
        let dest = temp.path().join("out/bundle.zip");
        let artifact = write_zip(&dest, options(), &[3, 5, 1, 4, 2, 0]);
        assert_eq!(artifact.path, dest);
        let files = files();
        assert_eq!(
            artifact.bytes,
            files.iter().map(|(_, b, _)| b.len() as u64).sum::<u64>()
        );

        let time = (2023, 11, 14, 22, 13, 20);
        let dir = |name: &str| {
            (
                name.to_owned(),
                0o40755,
                CompressionMethod::Stored,
                time,
                Contents(Vec::new()),
            )
        };
        let file = |index: usize, mode, method| {
            let (name, bytes, _) = &files[index];
            (
                (*name).to_owned(),
                mode,
                method,
                time,
                Contents(bytes.clone()),
            )
        };
        let expected = vec![
            dir("bin/"),
            // Too short for deflate to pay off.
            file(4, 0o100_755, CompressionMethod::Stored),
            dir("ns/"),
            dir("ns/sub/"),
            file(3, 0o100_644, CompressionMethod::Deflated),
            dir("pkg/"),
            file(0, 0o100_644, CompressionMethod::Stored),
            dir("pkg/data/"),
            file(2, 0o100_644, CompressionMethod::Stored),
            file(1, 0o100_644, CompressionMethod::Deflated),
            file(5, 0o100_644, CompressionMethod::Deflated),
        ];
        assert_eq!(read_back(&dest), expected);
        // What the sink says it wrote is what the archive holds.
        let held: BTreeMap<String, u64> = read_back(&dest)
            .into_iter()
            .filter(|entry| !entry.0.ends_with('/'))
            .map(|entry| (entry.0, entry.4.0.len() as u64))
            .collect();
        assert_eq!(artifact.files, held);
        assert_eq!(mode_of(&dest), if cfg!(unix) { 0o644 } else { 0 });
        assert_eq!(listing(&temp.path().join("out")), ["bundle.zip"]);
    }

    #[test]
    fn same_files_in_any_order_give_identical_bytes() {
        let temp = tempfile::tempdir().unwrap();
        let first = temp.path().join("first.zip");
        let second = temp.path().join("second.zip");
        write_zip(&first, options(), &[0, 1, 2, 3, 4, 5]);
        write_zip(&second, options(), &[5, 2, 4, 0, 3, 1]);
        let first = fs_err::read(&first).unwrap();
        assert_eq!(first, fs_err::read(&second).unwrap());

        // Copying a project file gives the same entry as adding its bytes.
        let data = temp.path().join("blob.bin");
        fs_err::write(&data, noise(3000)).unwrap();
        let third = temp.path().join("third.zip");
        let mut sink = Box::new(create(&third, options()).unwrap());
        for (path, bytes, executable) in files().into_iter().rev() {
            if path == "pkg/data/blob.bin" {
                sink.add_file(path, &data).unwrap();
            } else {
                sink.add_bytes(path, &bytes, executable).unwrap();
            }
        }
        sink.finish().unwrap();
        assert_eq!(first, fs_err::read(&third).unwrap());

        // And the timestamp is really in there.
        let later = temp.path().join("later.zip");
        write_zip(
            &later,
            ZipOptions {
                mtime: MTIME + 2,
                ..ZipOptions::default()
            },
            &[0, 1, 2, 3, 4, 5],
        );
        assert_ne!(first, fs_err::read(&later).unwrap());
    }

    #[test]
    fn python_imports_from_the_zip() {
        let temp = tempfile::tempdir().unwrap();
        let dest = temp.path().join("bundle.zip");
        write_zip(&dest, options(), &[2, 0, 4, 1, 5, 3]);
        let Some(python) = python() else { return };
        let check = "import zipfile, sys; assert zipfile.ZipFile(sys.argv[1]).testzip() is None";
        run_python(Command::new(python).args(["-c", check]).arg(&dest));
        // `ns` has no `__init__`: before 3.13 zipimport finds namespace packages only through
        // directory entries.
        let out = run_python(
            Command::new(python)
                .args([
                    "-c",
                    "import pkg.mod, ns.sub.mod; print(pkg.mod.NAME, ns.sub.mod.NAME, pkg.mod.__file__)",
                ])
                .env("PYTHONPATH", &dest),
        );
        let expected_file = dest.join("pkg").join("mod.py");
        assert_eq!(
            out.trim_end(),
            format!("pkg.mod ns.sub.mod {}", expected_file.display())
        );
    }

    #[test]
    fn prefixed_zipapp_stays_readable() {
        let temp = tempfile::tempdir().unwrap();
        let dest = temp.path().join("app.pyz");
        let prefix = b"#!/usr/bin/env python3\n".to_vec();
        let mut sink = Box::new(
            create(
                &dest,
                ZipOptions {
                    mtime: MTIME,
                    prefix: prefix.clone(),
                    executable: true,
                    last_prefix: None,
                    last_entry: None,
                    allow_pycache: false,
                },
            )
            .unwrap(),
        );
        sink.add_bytes("pkg/mod.py", &source("pkg.mod"), false)
            .unwrap();
        sink.add_bytes(
            "__main__.py",
            b"import pkg.mod\nprint('main', pkg.mod.NAME)\n",
            false,
        )
        .unwrap();
        sink.finish().unwrap();

        let bytes = fs_err::read(&dest).unwrap();
        assert!(bytes.starts_with(&prefix));
        let names: Vec<String> = read_back(&dest).into_iter().map(|entry| entry.0).collect();
        assert_eq!(names, ["__main__.py", "pkg/", "pkg/mod.py"]);
        assert_eq!(mode_of(&dest), if cfg!(unix) { 0o755 } else { 0 });

        let Some(python) = python() else { return };
        let check = "import zipfile, sys; assert zipfile.ZipFile(sys.argv[1]).testzip() is None";
        run_python(Command::new(python).args(["-c", check]).arg(&dest));
        assert_eq!(
            run_python(Command::new(python).arg(&dest)),
            "main pkg.mod\n"
        );
        // Through the shebang and the executable bit.
        #[cfg(unix)]
        assert_eq!(run_python(&mut Command::new(&dest)), "main pkg.mod\n");
    }

    /// zipimport uses `pkg/mod.pyc` beside `pkg/mod.py` only if the pyc's mtime matches the
    /// source entry's DOS time read as *local* time (`time.mktime`): with UTC fields that holds
    /// where the importing process runs in UTC, not elsewhere.
    #[test]
    fn zipimport_reads_dos_time_as_local_time() {
        let Some(python) = python() else { return };
        let temp = tempfile::tempdir().unwrap();
        // Same length, so only the mtime decides whether the pyc is stale.
        let py = b"X = 'src'\n";
        let make_pyc = format!(
            "import importlib._bootstrap_external as b, sys\n\
             code = compile(\"X = 'pyc'\\n\", 'pkg/mod.py', 'exec')\n\
             sys.stdout.buffer.write(b._code_to_timestamp_pyc(code, {MTIME}, {}))",
            py.len()
        );
        let output = Command::new(python)
            .args(["-c", &make_pyc])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let dest = temp.path().join("bundle.zip");
        let mut sink = Box::new(create(&dest, options()).unwrap());
        sink.add_bytes("pkg/mod.pyc", &output.stdout, false)
            .unwrap();
        sink.add_bytes("pkg/mod.py", py, false).unwrap();
        sink.add_bytes("pkg/__init__.py", b"", false).unwrap();
        sink.finish().unwrap();

        let import = |tz: &str| {
            run_python(
                Command::new(python)
                    .args(["-c", "import pkg.mod; print(pkg.mod.X)"])
                    .env("PYTHONPATH", &dest)
                    .env("TZ", tz),
            )
        };
        assert_eq!(import("UTC0"), "pyc\n");
        assert_eq!(import("JST-9"), "src\n", "the stale pyc is ignored off UTC");
    }

    #[test]
    fn dropped_sink_leaves_nothing() {
        let temp = tempfile::tempdir().unwrap();
        fs_err::write(temp.path().join("keep.txt"), "x").unwrap();
        let before = listing(temp.path());
        let mut sink = create(&temp.path().join("bundle.zip"), options()).unwrap();
        sink.add_bytes("pkg/a.py", b"a", false).unwrap();
        assert_eq!(
            listing(temp.path()).len(),
            before.len() + 1,
            "temp file exists"
        );
        drop(sink);
        assert_eq!(listing(temp.path()), before);
    }

    #[test]
    fn replaces_existing_zip_and_refuses_directory() {
        let temp = tempfile::tempdir().unwrap();
        let dest = temp.path().join("bundle.zip");
        fs_err::write(&dest, "old junk").unwrap();
        write_zip(&dest, options(), &[0]);
        assert_eq!(read_back(&dest).len(), 2);
        assert_eq!(listing(temp.path()), ["bundle.zip"]);

        let dir = temp.path().join("dir.zip");
        fs_err::create_dir(&dir).unwrap();
        let err = create(&dir, options()).unwrap_err();
        assert!(matches!(err, SinkError::IsADirectory { .. }), "{err}");

        // A directory appearing while the sink is open is not replaced either.
        let late = temp.path().join("late.zip");
        let mut sink = Box::new(create(&late, options()).unwrap());
        sink.add_bytes("a.py", b"a", false).unwrap();
        fs_err::create_dir(&late).unwrap();
        let err = sink.finish().unwrap_err();
        assert!(matches!(err, SinkError::IsADirectory { .. }), "{err}");
        assert_eq!(listing(temp.path()), ["bundle.zip", "dir.zip", "late.zip"]);
    }

    #[test]
    fn refuses_unsafe_pycache_duplicate_and_clashing_paths() {
        let temp = tempfile::tempdir().unwrap();
        let mut sink = create(&temp.path().join("bundle.zip"), options()).unwrap();
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
        for path in ["pkg/__pycache__/mod.cpython-312.pyc", "__pycache__/x.pyc"] {
            let err = sink.add_bytes(path, b"x", false).unwrap_err();
            assert!(
                matches!(err, SinkError::PycacheInZip { .. }),
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
        let err = sink
            .add_file("data.txt", &temp.path().join("missing.txt"))
            .unwrap_err();
        assert!(err.to_string().contains("missing.txt"), "{err}");
        // Refused paths left no trace: only what was accepted is written.
        let names: Vec<String> = {
            let dest = temp.path().join("bundle.zip");
            Box::new(sink).finish().unwrap();
            read_back(&dest).into_iter().map(|entry| entry.0).collect()
        };
        assert_eq!(names, ["pkg/", "pkg/a.pyc"]);
    }

    /// Timing for the report: `cargo test --release --lib sink::zip::tests::timing -- --ignored
    /// --nocapture`. 3000 entries, 40 MB, moderately compressible like real pycs.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn timing() {
        use rayon::prelude::*;
        let temp = tempfile::tempdir().unwrap();
        let dest = std::env::var_os("PYSHIP_TIMING_OUT")
            .map_or_else(|| temp.path().join("big.zip"), PathBuf::from);
        let words: Vec<String> = (0..4096).map(|i| format!("name_{i:x} ")).collect();
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let entries: Vec<(String, Vec<u8>)> = (0..3000)
            .map(|i| {
                let mut bytes = Vec::with_capacity(13_400);
                while bytes.len() < 13_333 {
                    let r = next();
                    if r % 4 == 0 {
                        bytes.extend_from_slice(&r.to_le_bytes());
                    } else {
                        bytes.extend_from_slice(words[(r >> 20) as usize % words.len()].as_bytes());
                    }
                }
                (format!("pkg{}/sub{}/mod{i}.pyc", i % 7, i % 13), bytes)
            })
            .collect();
        let time = dos_time(MTIME);
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let start = std::time::Instant::now();
            pool.install(|| {
                entries.par_iter().for_each(|(name, bytes)| {
                    assert!(compress(name, bytes, FILE_MODE, time).is_ok());
                });
            });
            eprintln!("compress only, {threads} threads: {:?}", start.elapsed());
        }
        let start = std::time::Instant::now();
        let mut sink = Box::new(create(&dest, options()).unwrap());
        for (path, bytes) in entries.iter().rev() {
            sink.add_bytes(path, bytes, false).unwrap();
        }
        let artifact = sink.finish().unwrap();
        let elapsed = start.elapsed();
        eprintln!(
            "{} entries, {} bytes in, {} bytes out: {elapsed:?} on {} threads",
            entries.len(),
            artifact.bytes,
            fs_err::metadata(&dest).unwrap().len(),
            rayon::current_num_threads()
        );
    }

    #[test]
    fn last_prefix_entries_come_last() {
        let temp = tempfile::tempdir().unwrap();
        let dest = temp.path().join("w.whl");
        let mut sink = Box::new(
            create(
                &dest,
                ZipOptions {
                    mtime: MTIME,
                    last_prefix: Some("a-1.0.dist-info/".to_owned()),
                    last_entry: Some("a-1.0.dist-info/METADATA".to_owned()),
                    ..ZipOptions::default()
                },
            )
            .unwrap(),
        );
        for name in [
            "a-1.0.dist-info/RECORD",
            "b.py",
            "a/x.py",
            "a-1.0.dist-info/METADATA",
        ] {
            sink.add_bytes(name, b"x", false).unwrap();
        }
        sink.finish().unwrap();
        let mut archive = zip::ZipArchive::new(fs_err::File::open(&dest).unwrap()).unwrap();
        let names: Vec<String> = (0..archive.len())
            .map(|i| archive.by_index(i).unwrap().name().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "a/",
                "a/x.py",
                "b.py",
                "a-1.0.dist-info/",
                "a-1.0.dist-info/RECORD",
                "a-1.0.dist-info/METADATA"
            ]
        );
    }
}
