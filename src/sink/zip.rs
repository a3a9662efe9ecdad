//! The `zip` format.
