//! The native backend behind [`Backend`]: [`compile_312`] for each module, on the threads of
//! [`crate::compile::compile_all`], with the CPython workers as the fallback for what it does
//! not support ([`Unsupported`]): started lazily, so a fully native build starts no worker.
//! With `--verify` every natively compiled module is compiled by the worker too and any
//! difference is recorded ([`NativeLog::differs`]); the worker's bytes are the ones shipped.
//!
//! [`Compiler`] is what a pipeline holds for one target: the worker pool alone
//! (`--backend cpython`, or `auto` for a version without a native compiler) or a
//! [`NativeBackend`]. A target given by version alone (`--target 3.12`,
//! [`version_target`]) has no interpreter: a module the native side does not support fails
//! the build ([`NativeError::NeedsInterpreter`]) instead of falling back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use super::warnings::WOULD_WARN;
use super::{MAGIC_312, Unsupported, compile_312, compile_312_despite_warnings};
use crate::compile::cpython::WorkerPool;
use crate::compile::{
    Backend, CodeOptions, CompileError, CompileOutcome, CompileRequest, CompileWarning, Relocated,
};
use crate::interpreter::{Interpreter, Version};

/// The CPython minor version the native backend compiles for.
pub const NATIVE_MINOR: u8 = 12;

/// `sys.implementation.cache_tag` of the version the native backend compiles for.
const NATIVE_CACHE_TAG: &str = "cpython-312";

/// Who compiles (`--backend`, `[tool.pyship] backend`). Output is the same bytes whoever does:
/// the choice is in no build record, cache key or artifact fingerprint.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendChoice {
    /// The target's CPython workers.
    #[default]
    Cpython,
    /// The native compiler; an error for a target it does not compile for.
    Native,
    /// The native compiler for the targets it compiles for, the workers for the others.
    Auto,
}

/// Why the native backend cannot build as asked.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// `--backend native` for a target the native compiler does not compile for.
    #[error(
        "`--backend native` compiles for Python 3.{NATIVE_MINOR} only, not for Python {python}"
    )]
    OtherVersion {
        /// The target, e.g. `3.11`.
        python: String,
    },
    /// `--target` with something that is not a version the native compiler compiles for.
    #[error(
        "`--target {spec}`: a target without an interpreter is built by the native compiler, which compiles for Python 3.{NATIVE_MINOR} only"
    )]
    NoCompilerFor {
        /// As given.
        spec: String,
    },
    /// `--target` while the CPython backend is chosen.
    #[error("`--target {spec}` has no interpreter, so only the native backend can compile for it")]
    NeedsNative {
        /// As given.
        spec: String,
    },
    /// An option that runs the target interpreter, with a target that has none.
    #[error("`{option}` needs the target's interpreter, and `--target {python}` has none")]
    NoInterpreterFor {
        /// The option, e.g. `--with-deps`.
        option: &'static str,
        /// The target, e.g. `3.12`.
        python: String,
    },
    /// `--verify` without the native backend: there is nothing to compare.
    #[error(
        "`--verify` compares the native backend with CPython: it needs `--backend native` or `auto`"
    )]
    VerifyWithoutNative,
    /// A target given by version alone, and modules the native compiler does not support.
    #[error(
        "{} module{} the native compiler does not support need{} a Python {python} interpreter: {}",
        modules.len(),
        if modules.len() == 1 { "" } else { "s" },
        if modules.len() == 1 { "s" } else { "" },
        first_few(modules)
    )]
    NeedsInterpreter {
        /// The target, e.g. `3.12`.
        python: String,
        /// Each module (its dfile) and why, sorted.
        modules: Vec<String>,
    },
    /// `--verify`: the native bytes of some modules are not CPython's.
    #[error(
        "The native compiler's bytecode differs from Python {python}'s for {} module{}: {}",
        modules.len(),
        if modules.len() == 1 { "" } else { "s" },
        modules.join(", ")
    )]
    Differs {
        /// The target, e.g. `3.12`.
        python: String,
        /// Each module (its dfile) with where the bytes part, sorted; all of them, as a
        /// proof that failed must say everything it found.
        modules: Vec<String>,
    },
}

impl NativeError {
    /// What the user can do about it, printed as a `hint:` line under the error.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            NativeError::OtherVersion { .. } => {
                "use `--backend auto`: native where it can, the target's CPython elsewhere"
                    .to_owned()
            }
            NativeError::NoCompilerFor { .. } => format!(
                "give any other version with its interpreter, `-p 3.X` (`pyship pythons` lists them); `--target 3.{NATIVE_MINOR}` needs none"
            ),
            NativeError::NeedsNative { .. } => "add `--backend native` (or `auto`)".to_owned(),
            NativeError::NoInterpreterFor { python, .. }
            | NativeError::NeedsInterpreter { python, .. } => format!(
                "install Python {python} and pass `-p {python}` instead of `--target {python}`"
            ),
            NativeError::VerifyWithoutNative => return None,
            NativeError::Differs { .. } => {
                "build with `--backend cpython` meanwhile, and report it with the modules named"
                    .to_owned()
            }
        })
    }
}

/// The first three of `items` and how many more.
fn first_few(items: &[String]) -> String {
    let mut named = items.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 3 {
        named = format!("{named} and {} more", items.len() - 3);
    }
    named
}

/// Whether the native compiler compiles for `interpreter`: its version and magic number.
pub fn compiles_for(interpreter: &Interpreter) -> bool {
    interpreter.version.minor == NATIVE_MINOR && interpreter.magic == MAGIC_312
}

/// The target `--target SPEC` names: the version the native compiler compiles for, without an
/// interpreter (its executable is empty: see [`is_version_only`]).
pub fn version_target(spec: &str) -> Result<Interpreter, NativeError> {
    let wanted = format!("3.{NATIVE_MINOR}");
    if spec.trim() != wanted {
        return Err(NativeError::NoCompilerFor {
            spec: spec.to_owned(),
        });
    }
    Ok(Interpreter {
        executable: PathBuf::new(),
        version: Version {
            major: 3,
            minor: NATIVE_MINOR,
            micro: 0,
        },
        magic: MAGIC_312,
        cache_tag: NATIVE_CACHE_TAG.to_owned(),
    })
}

/// Whether `interpreter` is a target given by version alone ([`version_target`]).
pub fn is_version_only(interpreter: &Interpreter) -> bool {
    interpreter.executable.as_os_str().is_empty()
}

/// Check before anything is scanned that `choice` and `verify` can build `targets`: the
/// errors [`Compiler::new`] would give for any of them, said once up front.
pub fn check_targets(
    choice: BackendChoice,
    verify: bool,
    targets: &[Interpreter],
) -> Result<(), NativeError> {
    if verify && choice == BackendChoice::Cpython {
        return Err(NativeError::VerifyWithoutNative);
    }
    for target in targets {
        let python = target.short_version();
        if choice == BackendChoice::Native && !compiles_for(target) {
            return Err(NativeError::OtherVersion { python });
        }
        if is_version_only(target) {
            if choice == BackendChoice::Cpython {
                return Err(NativeError::NeedsNative { spec: python });
            }
            if verify {
                return Err(NativeError::NoInterpreterFor {
                    option: "--verify",
                    python,
                });
            }
        }
    }
    Ok(())
}

/// The construct a module the native compiler panicked on is counted under (it went to
/// CPython).
const PANICKED: &str = "code the native compiler panics on (a bug: please report it)";

/// What compiles natively: [`compile_312`], or a stand-in in tests.
pub type CompileFn = fn(&[u8], &str, CodeOptions) -> Result<Vec<u8>, Unsupported>;

/// What the native backend did for one target.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NativeLog {
    /// Modules compiled natively (with `--verify`, and equal to the worker's).
    pub native: usize,
    /// Modules the native side did not support, by dfile, in the order answered: the workers
    /// compiled them (or, without an interpreter, nobody did).
    pub fell_back: Vec<(String, Unsupported)>,
    /// `--verify`: modules whose native bytes differ from the worker's, by dfile, with where.
    pub differs: Vec<(String, String)>,
}

impl NativeLog {
    /// The error this run makes for `interpreter`'s target, if any: modules that needed the
    /// interpreter a target given by version alone does not have, or (`--verify`) whose
    /// native bytes differ. Modules are sorted, whichever thread answered first.
    pub fn check(&self, interpreter: &Interpreter) -> Result<(), NativeError> {
        let python = interpreter.short_version();
        let sorted = |mut modules: Vec<String>| {
            modules.sort();
            modules
        };
        if is_version_only(interpreter) && !self.fell_back.is_empty() {
            return Err(NativeError::NeedsInterpreter {
                python,
                modules: sorted(
                    self.fell_back
                        .iter()
                        .map(|(dfile, why)| format!("{dfile} ({})", reason(why)))
                        .collect(),
                ),
            });
        }
        if !self.differs.is_empty() {
            return Err(NativeError::Differs {
                python,
                modules: sorted(
                    self.differs
                        .iter()
                        .map(|(dfile, at)| format!("{dfile} ({at})"))
                        .collect(),
                ),
            });
        }
        Ok(())
    }

    /// How many modules fell back for each reason ([`reason`]).
    pub fn reasons(&self) -> BTreeMap<String, usize> {
        let mut reasons = BTreeMap::new();
        for (_, why) in &self.fell_back {
            *reasons.entry(reason(why)).or_insert(0) += 1;
        }
        reasons
    }
}

/// What a fallback is counted under: the construct, or that the source did not parse (its
/// message names a place in one file, no use in a count).
pub fn reason(why: &Unsupported) -> String {
    match why {
        Unsupported::Construct(construct) => (*construct).to_owned(),
        Unsupported::Parse(_) => "not parsed natively".to_owned(),
    }
}

/// The native compiler, with the target's CPython workers behind it; see the module docs.
#[derive(Debug)]
pub struct NativeBackend {
    compile: CompileFn,
    /// For a module CPython may warn about when no interpreter is there to say its warnings.
    despite_warnings: CompileFn,
    /// `None` for a target given by version alone.
    fallback: Option<WorkerPool>,
    slots: usize,
    verify: bool,
    log: Mutex<NativeLog>,
}

impl NativeBackend {
    /// Compile with [`compile_312`] on `slots` threads' worth of work at once, falling back to
    /// `fallback` (an idle pool: it starts a worker only when one is needed); with `verify`,
    /// compare every native answer with the worker's.
    pub fn new(fallback: Option<WorkerPool>, slots: usize, verify: bool) -> NativeBackend {
        NativeBackend {
            compile: compile_312,
            despite_warnings: compile_312_despite_warnings,
            fallback,
            slots: slots.max(1),
            verify,
            log: Mutex::new(NativeLog::default()),
        }
    }

    /// The same, compiling with `compile` instead of [`compile_312`] (tests).
    #[must_use]
    pub fn with_compile(mut self, compile: CompileFn) -> NativeBackend {
        self.compile = compile;
        self
    }

    /// Worker processes started so far.
    pub fn spawned(&self) -> usize {
        self.fallback.as_ref().map_or(0, WorkerPool::spawned)
    }

    /// What it did; the workers are stopped.
    pub fn finish(self) -> NativeLog {
        self.log
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn log(&self) -> MutexGuard<'_, NativeLog> {
        // Every update is one push or increment: nothing is left half-done by a panic.
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Backend for NativeBackend {
    fn compile(&self, request: &CompileRequest) -> Result<CompileOutcome, CompileError> {
        // A bug in the native compiler costs the speed of one module, not the build.
        let native = std::panic::catch_unwind(|| {
            (self.compile)(&request.source, &request.dfile, request.options)
        })
        .unwrap_or(Err(Unsupported::Construct(PANICKED)));
        let (code, pool) = match (native, &self.fallback) {
            (Ok(code), Some(pool)) if self.verify => (code, pool),
            (Ok(code), _) => {
                self.log().native += 1;
                return Ok(CompileOutcome::code(code));
            }
            // Without an interpreter nobody can give CPython's warnings: the module is built
            // anyway, and a warning says that CPython has some and how to see them.
            (Err(Unsupported::Construct(WOULD_WARN)), None) => {
                if let Ok(code) =
                    (self.despite_warnings)(&request.source, &request.dfile, request.options)
                {
                    self.log().native += 1;
                    return Ok(CompileOutcome::Code(
                        code,
                        vec![CompileWarning {
                            line: 0,
                            category: "SyntaxWarning".to_owned(),
                            message: format!(
                                "CPython 3.{NATIVE_MINOR} warns about this module at compile time; build with `-p 3.{NATIVE_MINOR}` to see its warnings"
                            ),
                        }],
                    ));
                }
                let why = Unsupported::Construct(WOULD_WARN);
                self.log()
                    .fell_back
                    .push((request.dfile.clone(), why.clone()));
                return Err(CompileError::NoFallback {
                    dfile: request.dfile.clone(),
                    reason: why,
                });
            }
            (Err(why), fallback) => {
                self.log()
                    .fell_back
                    .push((request.dfile.clone(), why.clone()));
                // Syntax errors included: CPython reports them, as it always has.
                return match fallback {
                    Some(pool) => pool.compile(request),
                    None => Err(CompileError::NoFallback {
                        dfile: request.dfile.clone(),
                        reason: why,
                    }),
                };
            }
        };
        let theirs = pool.compile(request)?;
        let differs = match &theirs {
            // The native compiler gives no warnings: it must have left such a module to CPython.
            CompileOutcome::Code(_, warnings) if !warnings.is_empty() => Some(format!(
                "CPython warns at line {}: {} ({})",
                warnings[0].line, warnings[0].message, warnings[0].category
            )),
            CompileOutcome::Code(theirs, _) if *theirs == code => None,
            CompileOutcome::Code(theirs, _) => Some(first_difference(&code, theirs)),
            CompileOutcome::SyntaxError(error, _) => Some(format!(
                "CPython refuses it at {}:{}: {}",
                error.line, error.column, error.message
            )),
        };
        match differs {
            None => self.log().native += 1,
            Some(differs) => self.log().differs.push((request.dfile.clone(), differs)),
        }
        // CPython's answer is the one shipped: the build fails anyway when they differ.
        Ok(theirs)
    }

    fn magic(&self) -> [u8; 4] {
        MAGIC_312
    }

    /// As the worker pool relocates 3.12 code: a splice at `slot` when it promises the same
    /// bytes, else a rewrite.
    fn relocate(
        &self,
        code: &[u8],
        slot: Option<usize>,
        dfile: &str,
    ) -> Result<Relocated, CompileError> {
        crate::compile::relocate_canonical(code, slot, NATIVE_MINOR, dfile)
    }

    fn slots(&self) -> usize {
        self.slots
    }

    /// Workers start only for a module that falls back, but with `--verify` every module
    /// goes to them too.
    fn prepare(&self, misses: usize) -> Result<(), CompileError> {
        match &self.fallback {
            Some(pool) if self.verify => pool.warm(misses),
            _ => Ok(()),
        }
    }
}

/// `from byte N; native X bytes, CPython Y`: where two code streams part.
fn first_difference(native: &[u8], cpython: &[u8]) -> String {
    let at = native
        .iter()
        .zip(cpython)
        .position(|(a, b)| a != b)
        .unwrap_or(native.len().min(cpython.len()));
    format!(
        "from byte {at}; native {} bytes, CPython {}",
        native.len(),
        cpython.len()
    )
}

/// What compiles one target's modules: the CPython workers, or the native compiler in front
/// of them.
#[derive(Debug)]
pub enum Compiler {
    /// The target's CPython workers.
    Cpython(WorkerPool),
    /// The native compiler, falling back to the workers.
    Native(NativeBackend),
}

impl Compiler {
    /// What `choice` means for `interpreter` with up to `jobs` workers (none started yet);
    /// `verify` compares native and CPython answers. `--backend native` for a version the
    /// native compiler does not compile for is an error; a target given by version alone
    /// gets no worker pool.
    pub fn new(
        choice: BackendChoice,
        interpreter: &Interpreter,
        jobs: usize,
        verify: bool,
    ) -> Result<Compiler, NativeError> {
        let native = match choice {
            BackendChoice::Cpython => false,
            BackendChoice::Auto => compiles_for(interpreter),
            BackendChoice::Native if compiles_for(interpreter) => true,
            BackendChoice::Native => {
                return Err(NativeError::OtherVersion {
                    python: interpreter.short_version(),
                });
            }
        };
        let version_only = is_version_only(interpreter);
        if !native {
            return if version_only {
                Err(NativeError::NeedsNative {
                    spec: interpreter.short_version(),
                })
            } else {
                Ok(Compiler::Cpython(WorkerPool::idle(interpreter, jobs)))
            };
        }
        if verify && version_only {
            return Err(NativeError::NoInterpreterFor {
                option: "--verify",
                python: interpreter.short_version(),
            });
        }
        let fallback = (!version_only).then(|| WorkerPool::idle(interpreter, jobs));
        Ok(Compiler::Native(NativeBackend::new(fallback, jobs, verify)))
    }

    /// The backend to hand [`crate::compile::compile_all`].
    pub fn backend(&self) -> &dyn Backend {
        match self {
            Compiler::Cpython(pool) => pool,
            Compiler::Native(native) => native,
        }
    }

    /// Worker processes started so far.
    pub fn spawned(&self) -> usize {
        match self {
            Compiler::Cpython(pool) => pool.spawned(),
            Compiler::Native(native) => native.spawned(),
        }
    }

    /// What the native backend did, if it was the one; the workers are stopped.
    pub fn finish(self) -> Option<NativeLog> {
        match self {
            Compiler::Cpython(_) => None,
            Compiler::Native(native) => Some(native.finish()),
        }
    }
}
