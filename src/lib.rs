//! pyship: compile a Python project to bytecode with the target CPython and lay it out as a
//! directory, zip, wheel or zipapp.
//!
//! Data flows one way, one folder per stage:
//!
//! - [`settings`]: the resolved options ([`settings::Config`]): flags, `[tool.pyship]`, defaults,
//!   merged by [`settings::resolve`], which reads `pyproject.toml` once for the whole build.
//! - [`source`]: what SOURCE holds ([`source::Input`]): a tree, a PEP 621 project, a wheel, and
//!   with `--with-deps` the dependencies.
//! - [`plan`]: pure decisions: each artifact's name and generated files, where every file goes
//!   ([`plan::layout`]), what a bundle leaves out ([`plan::bundle`]).
//! - [`compile`]: [`compile::compile_all`] looks each module up in the [`cache`] and asks a
//!   [`compile::Backend`] (the CPython workers, [`compile::cpython`]) for the misses, handing
//!   every outcome to one consumer.
//! - [`sink`]: writes each artifact (dir, zip, wheel, zipapp) into staging, moved into place
//!   only when complete.
//! - [`report`]: counts, sizes, failures and warnings; the library never prints, progress goes
//!   through [`report::Reporter`].
//!
//! [`build`] runs that pipeline for `pyship build`, [`in_place`] the in-place variant for
//! `pyship compile`; [`inspect`] reads an artifact back and [`verify`] builds it again to
//! compare. [`bytecode`] (pyc header, canonical marshal) and [`wheel`] (PEP 427 names,
//! tags, RECORD, METADATA, the reader) are pure format knowledge; [`interpreter`] finds and
//! probes targets; [`support`] holds the plumbing: signals, child processes, staging, jobs.

pub mod analysis;
pub mod build;
pub mod bytecode;
pub mod cache;
pub mod compile;
pub mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod in_place;
pub mod inspect;
pub mod interpreter;
pub mod plan;
pub mod report;
pub mod settings;
pub mod sink;
pub mod source;
pub mod support;
pub mod verify;
pub mod wheel;

pub use build::run;
pub use error::Error;
