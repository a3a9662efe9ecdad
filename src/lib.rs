//! pyship: compile a Python project to bytecode with the target CPython and lay it out as a
//! directory, zip, wheel or zipapp.
//!
//! Data flows one way: [`config::Config`] → [`discover`] → [`layout`] → [`compile`] → [`sink`] →
//! [`report::Report`]. The library never prints; progress goes through [`report::Reporter`].

pub mod artifact_record;
pub mod build;
pub mod bundle;
pub mod cache;
pub mod compile;
pub mod config;
pub mod deps;
pub mod discover;
pub mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod inplace;
pub mod input;
pub mod interpreter;
pub mod interrupt;
mod jobs;
pub mod layout;
pub mod marshal;
pub mod process;
pub mod project;
pub mod pyc;
pub mod report;
pub mod sink;
pub mod staging;
pub mod wheel;

pub use build::run;
pub use error::Error;
