//! Find and probe target CPython interpreters.
//!
//! A target is named by a path, a command (`python3.12`) or a version (`3.12`), looked up on
//! `PATH` and in pyenv. Each is probed once for its version, magic number and cache tag.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Oldest CPython minor version pyship targets.
pub const MIN_MINOR: u8 = 8;
/// Newest CPython minor version pyship targets.
pub const MAX_MINOR: u8 = 14;

/// A CPython version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Always 3.
    pub major: u8,
    /// e.g. 12 for 3.12.
    pub minor: u8,
    /// e.g. 1 for 3.12.1.
    pub micro: u8,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// A probed target interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// The executable to run.
    pub executable: PathBuf,
    /// Its version.
    pub version: Version,
    /// `importlib.util.MAGIC_NUMBER`: the first four bytes of every `.pyc` it writes.
    pub magic: [u8; 4],
    /// `sys.implementation.cache_tag`, e.g. `cpython-312`.
    pub cache_tag: String,
}

impl Interpreter {
    /// `3.12`
    pub fn short_version(&self) -> String {
        format!("{}.{}", self.version.major, self.version.minor)
    }
}
