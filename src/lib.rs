//! pyship: compile a Python project to bytecode with the target CPython and lay it out as a
//! directory, zip, wheel or zipapp.
//!
//! Data flows one way: [`config::Config`] → [`discover`] → [`layout`] → [`compile`] → [`sink`] →
//! [`report::Report`]. The library never prints; progress goes through [`report::Reporter`].

pub mod build;
pub mod bytecode;
pub mod cache;
pub mod compile;
pub mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod in_place;
pub mod interpreter;
pub mod plan;
pub mod report;
pub mod settings;
pub mod sink;
pub mod source;
pub mod support;
pub mod wheel;

pub use build::run;
pub use error::Error;
