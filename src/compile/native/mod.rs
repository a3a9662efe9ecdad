//! The native backend: CPython 3.12 code objects built in Rust, byte-identical to what the
//! CPython 3.12 worker gives (issue 16). Takes a module's source bytes, its `co_filename` and
//! its [`CodeOptions`]; gives the canonical marshal bytes of its code object (what
//! [`crate::bytecode::marshal::canonicalize`] makes of `marshal.dumps(compile(...))`), or
//! [`Unsupported`] with the reason, and the caller falls back to the CPython workers for that
//! module.
//!
//! Stages, after CPython's own files: parse (Ruff's parser, as `analysis/` uses) → symbol
//! table (`symtable.c`) → code generation (`compile.c`, with `ast_opt.c`'s folding) → flow
//! graph passes (`flowgraph.c`) → assembler (`assemble.c`: line, location and exception
//! tables) → marshal.

pub mod scopes;

use super::CodeOptions;

/// The magic number of the bytecode this backend emits: CPython 3.12's (3531).
pub const MAGIC_312: [u8; 4] = [0xcb, 0x0d, 0x0d, 0x0a];

// The backend around the compiler: fallback to the workers, `--target`, `--verify`.
mod backend;

pub use backend::{
    BackendChoice, CompileFn, Compiler, NATIVE_MINOR, NativeBackend, NativeError, NativeLog,
    check_targets, compiles_for, is_version_only, reason, version_target,
};

/// Why the native backend did not compile a module; the module goes to CPython instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    /// The source is not something the native side parses (undecodable, or a syntax error:
    /// CPython then reports it, as it always has).
    #[error("does not parse natively: {0}")]
    Parse(String),
    /// A construct the native code generator does not handle yet.
    #[error("{0} is not compiled natively yet")]
    Construct(&'static str),
}

/// Compile `source` (bytes exactly as on disk) for CPython 3.12 as `compile(source, dfile,
/// "exec", dont_inherit=True, optimize=...)` would, with docstrings dropped as at optimize 2
/// when `options.strip_docstrings` is set, and give the canonical marshal bytes.
pub fn compile_312(
    source: &[u8],
    dfile: &str,
    options: CodeOptions,
) -> Result<Vec<u8>, Unsupported> {
    let _ = (source, dfile, options);
    Err(Unsupported::Construct("any module"))
}
