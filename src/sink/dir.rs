//! The `dir` format. (Temporary stub: replaced by the sinks branch.)

use std::path::Path;

use super::memory::MemorySink;
use super::SinkError;

/// Stub.
pub type DirSink = MemorySink;

/// Stub.
pub fn create(dest: &Path, mtime: u32) -> Result<DirSink, SinkError> {
    let _ = (dest, mtime);
    Ok(MemorySink::default())
}
