//! The `zip` format. (Temporary stub: replaced by the sinks branch.)

use std::path::Path;

use super::SinkError;
use super::memory::MemorySink;

/// Options.
pub struct ZipOptions {
    /// Unix seconds.
    pub mtime: u32,
    /// Bytes before the archive.
    pub prefix: Vec<u8>,
    /// Mode 0o755.
    pub executable: bool,
}

/// Stub.
pub type ZipSink = MemorySink;

/// Stub.
pub fn create(dest: &Path, options: ZipOptions) -> Result<ZipSink, SinkError> {
    let _ = (dest, options);
    Ok(MemorySink::default())
}
