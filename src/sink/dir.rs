//! The `dir` format. (Temporary stub: replaced by the sinks branch.)

use std::path::Path;

use super::SinkError;
use super::memory::MemorySink;

/// Stub.
pub type DirSink = MemorySink;

/// Stub.
pub fn create(dest: &Path, mtime: u32) -> Result<DirSink, SinkError> {
    let _ = (dest, mtime);
    Ok(MemorySink::default())
}
