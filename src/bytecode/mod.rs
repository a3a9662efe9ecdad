//! Bytecode formats, pure: the `.pyc` header (PEP 552) and canonical `marshal` streams.

pub mod marshal;
pub mod pyc;
pub mod summary;
