//! The plan stage, pure: what goes where in each artifact.

pub mod bundle;
pub mod layout;
