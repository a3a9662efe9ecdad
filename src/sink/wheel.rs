//! The `wheel` format (PEP 427): a zip whose `.dist-info/` comes last, with a `RECORD` listing
//! every file's sha256 and size and its own line with empty fields.

use std::path::Path;

use super::zip::{self, ZipOptions, ZipSink};
use super::{Artifact, Sink, SinkError};
use crate::wheel::{RecordEntry, render_record};

/// Writes a wheel; hashes every file as it is added and writes `RECORD` in [`Sink::finish`].
#[derive(Debug)]
pub struct WheelSink {
    zip: ZipSink,
    /// `name-1.0.dist-info`, without a trailing slash.
    dist_info: String,
    record: Vec<RecordEntry>,
}

/// Start a wheel at `dest` whose metadata lives in `dist_info` (`name-1.0.dist-info`).
pub fn create(dest: &Path, dist_info: &str, mtime: u32) -> Result<WheelSink, SinkError> {
    let zip = zip::create(
        dest,
        ZipOptions {
            mtime,
            last_prefix: Some(format!("{dist_info}/")),
            last_entry: Some(format!("{dist_info}/RECORD")),
            allow_pycache: true,
            ..ZipOptions::default()
        },
    )?;
    Ok(WheelSink {
        zip,
        dist_info: dist_info.to_owned(),
        record: Vec::new(),
    })
}

impl WheelSink {
    fn record_path(&self) -> String {
        format!("{}/RECORD", self.dist_info)
    }
}

impl Sink for WheelSink {
    fn add_bytes(&mut self, path: &str, bytes: &[u8], executable: bool) -> Result<(), SinkError> {
        if path == self.record_path() {
            // RECORD is ours to write, last.
            return Err(SinkError::Duplicate {
                path: path.to_owned(),
            });
        }
        self.zip.add_bytes(path, bytes, executable)?;
        self.record.push(RecordEntry::new(path, bytes));
        Ok(())
    }

    fn add_file(&mut self, path: &str, source: &Path) -> Result<(), SinkError> {
        let bytes = fs_err::read(source)?;
        self.add_bytes(path, &bytes, false)
    }

    fn finish(self: Box<Self>) -> Result<Artifact, SinkError> {
        let WheelSink {
            mut zip,
            dist_info,
            mut record,
        } = *self;
        // RECORD in archive order: the payload, then the metadata, each sorted; RECORD last.
        let prefix = format!("{dist_info}/");
        record.sort_by(|a, b| {
            (a.path.starts_with(&prefix), &a.path).cmp(&(b.path.starts_with(&prefix), &b.path))
        });
        let record_path = format!("{dist_info}/RECORD");
        let text = render_record(&record, &record_path);
        zip.add_bytes(&record_path, text.as_bytes(), false)?;
        Box::new(zip).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn record_lists_every_file_and_comes_last() {
        let temp = tempfile::tempdir().unwrap();
        let dest = temp.path().join("demo-1.0-py3-none-any.whl");
        let mut sink = Box::new(create(&dest, "demo-1.0.dist-info", 315_532_800).unwrap());
        sink.add_bytes("demo-1.0.dist-info/METADATA", b"Name: demo\n", false)
            .unwrap();
        sink.add_bytes("demo/__init__.pyc", b"abc", false).unwrap();
        assert!(
            sink.add_bytes("demo-1.0.dist-info/RECORD", b"", false)
                .is_err()
        );
        sink.finish().unwrap();
        let mut archive = ::zip::ZipArchive::new(fs_err::File::open(&dest).unwrap()).unwrap();
        let names: Vec<String> = (0..archive.len())
            .map(|i| archive.by_index(i).unwrap().name().to_owned())
            .collect();
        assert_eq!(names.last().unwrap(), "demo-1.0.dist-info/RECORD");
        let mut record = String::new();
        archive
            .by_name("demo-1.0.dist-info/RECORD")
            .unwrap()
            .read_to_string(&mut record)
            .unwrap();
        // Digests computed independently with Python hashlib (urlsafe base64, no padding).
        assert_eq!(
            record,
            "demo/__init__.pyc,sha256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0,3\n\
             demo-1.0.dist-info/METADATA,sha256=TCbnncczH5a7clH-MmVga0zKkBjAxl7yrSIkXOrZk1E,11\n\
             demo-1.0.dist-info/RECORD,,\n"
        );
    }
}
