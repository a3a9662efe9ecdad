//! The native backend: CPython 3.12 code objects built in Rust, byte-identical to what the
//! CPython 3.12 worker gives (issue 16). Takes a module's source bytes, its `co_filename` and
//! its [`CodeOptions`]; gives the canonical marshal bytes of its code object (what
//! [`crate::bytecode::marshal::canonicalize`] makes of `marshal.dumps(compile(...))`), or
//! [`Unsupported`] with the reason, and the caller falls back to the CPython workers for that
//! module.
//!
//! Stages, after CPython's own files: parse (Ruff's parser, as `analysis/` uses) → symbol
//! table (`scopes.rs`, after `symtable.c`) → code generation (`codegen.rs`, after
//! `compile.c`, with `ast_opt.c`'s folding in `fold.rs`) → flow graph passes (`flowgraph.rs`,
//! after `flowgraph.c`) → assembler (`assemble.rs`, after `assemble.c`: line, location and
//! exception tables) → canonical marshal (`code.rs`, into `bytecode::marshal`'s writer). The
//! opcode table (`opcode312.rs`) is generated from the interpreter by `gen_opcodes.py`: another
//! CPython version is another table.

// The passes mirror CPython's C functions line by line (a switch per opcode, index loops over
// instruction arrays), which some pedantic lints would reshape away from their source.
#![allow(
    clippy::match_same_arms,
    clippy::unnecessary_wraps,
    clippy::needless_range_loop,
    clippy::collapsible_match,
    clippy::items_after_statements,
    clippy::wrong_self_convention,
    clippy::explicit_iter_loop,
    clippy::semicolon_if_nothing_returned,
    clippy::assigning_clones,
    clippy::redundant_closure_for_method_calls
)]

mod assemble;
mod code;
mod codegen;
mod flowgraph;
mod fold;
mod fstrings;
#[allow(clippy::all, clippy::pedantic, unreachable_pub)]
mod opcode312;
#[allow(clippy::unreadable_literal)]
mod printable312;
mod strings;
mod unparse;
mod warnings;

// The tables of names and constants hash with FxHash, not SipHash: 12% less CPU over the
// 3.12 stdlib (examples/native_cpu). Their keys come from the module being compiled, so a
// crafted module could only slow down its own compile.
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

/// The first step of [`compile_312`]: `source` decoded (PEP 263), its newlines made `\n`, and
/// parsed by Ruff's parser as 3.12; refused when it does not parse cleanly. Public so that the
/// benchmark can time this step alone.
pub fn parse_312(
    source: &[u8],
) -> Result<
    (
        std::borrow::Cow<'_, str>,
        ruff_python_parser::Parsed<ruff_python_ast::Mod>,
    ),
    Unsupported,
> {
    let text =
        crate::analysis::decode(source).map_err(|err| Unsupported::Parse(err.to_string()))?;
    if text.contains('\0') {
        return Err(Unsupported::Parse("a NUL byte in the source".into()));
    }
    // CPython's tokenizer reads `\r\n` and a lone `\r` as `\n` (`translate_newlines`): string
    // literals and positions are those of the translated text.
    let text = if text.contains('\r') {
        std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        text
    };
    let parse_options = ruff_python_parser::ParseOptions::from(ruff_python_parser::Mode::Module)
        .with_target_version(ruff_python_ast::PythonVersion::PY312);
    let parsed = ruff_python_parser::parse_unchecked(&text, parse_options);
    if !parsed.errors().is_empty() || !parsed.unsupported_syntax_errors().is_empty() {
        return Err(Unsupported::Parse("a syntax error or newer syntax".into()));
    }
    Ok((text, parsed))
}

/// Compile `source` (bytes exactly as on disk) for CPython 3.12 as `compile(source, dfile,
/// "exec", dont_inherit=True, optimize=...)` would, with docstrings dropped as at optimize 2
/// when `options.strip_docstrings` is set, and give the canonical marshal bytes. A module
/// CPython 3.12 may warn about while compiling it is left to CPython, which gives the warnings
/// (`warnings.rs`).
pub fn compile_312(
    source: &[u8],
    dfile: &str,
    options: CodeOptions,
) -> Result<Vec<u8>, Unsupported> {
    compile_312_checked(source, dfile, options, true)
}

/// [`compile_312`] without leaving to CPython the modules it may warn about: the differential
/// tests keep checking the code generation of what those modules hold with it.
#[doc(hidden)]
pub fn compile_312_despite_warnings(
    source: &[u8],
    dfile: &str,
    options: CodeOptions,
) -> Result<Vec<u8>, Unsupported> {
    compile_312_checked(source, dfile, options, false)
}

fn compile_312_checked(
    source: &[u8],
    dfile: &str,
    options: CodeOptions,
    scan: bool,
) -> Result<Vec<u8>, Unsupported> {
    let (text, parsed) = parse_312(source)?;
    let ruff_python_ast::Mod::Module(module) = parsed.syntax() else {
        return Err(Unsupported::Parse("not a module".into()));
    };
    // The native compiler gives no warnings: CPython compiles such a module and gives them.
    if scan && warnings::may_warn(&text, parsed.tokens(), module).is_some() {
        return Err(Unsupported::Construct(warnings::WOULD_WARN));
    }
    let table = scopes::build(module, &text).map_err(|refused| match refused {
        // CPython's symbol table raises a SyntaxError (or the syntax is newer): it reports it.
        scopes::Refused::Syntax(_) | scopes::Refused::NotPy312(_) => {
            Unsupported::Parse(refused.to_string())
        }
        scopes::Refused::TooDeep => Unsupported::Construct("code nested too deeply"),
    })?;
    let optimize = options.optimize.level();
    let compiler = codegen::Compiler::new(&text, table, optimize, options.strip_docstrings, dfile);
    let code = compiler.module(module)?;
    code::canonical(&code)
        .map_err(|_| Unsupported::Construct("a code object the canonical writer rejects"))
}

#[cfg(test)]
mod tests {
    use super::flowgraph::stack_effect;
    use super::{Unsupported, compile_312};
    use crate::compile::CodeOptions;

    /// A syntax error is never compiled natively: CPython reports it.
    #[test]
    fn syntax_errors_go_to_cpython() {
        for source in [&b"def (:\n"[..], b"x = (1,\n", b"return 1\n", b"break\n"] {
            let result = compile_312(source, "t.py", CodeOptions::default());
            assert!(
                matches!(
                    result,
                    Err(Unsupported::Parse(_) | Unsupported::Construct(_))
                ),
                "{result:?}"
            );
        }
    }
    /// The patterns CPython's compiler rejects (duplicate keys as a set sees them, names
    /// bound twice or not by every alternative, unreachable cases) are left to CPython.
    #[test]
    fn rejected_patterns_go_to_cpython() {
        for case in [
            "{1: a, 1.0: b}",
            "{1: a, True: b}",
            "{-0.0: a, 0: b}",
            "{'k': a, 'k': b}",
            "[a] | b",
            "[a] | [b]",
            "[a, a]",
            "C(a=1, a=2)",
            "(a | b)",
        ] {
            let source =
                format!("match x:\n    case {case}:\n        pass\n    case 1:\n        pass\n");
            let result = compile_312(source.as_bytes(), "t.py", CodeOptions::default());
            assert!(
                matches!(
                    result,
                    Err(Unsupported::Parse(_) | Unsupported::Construct(_))
                ),
                "{case}: {result:?}"
            );
        }
        let fine = b"match x:\n    case {1: a, 2: b} | {3: b, 4: a}:\n        pass\n";
        assert!(compile_312(fine, "t.py", CodeOptions::default()).is_ok());
    }

    /// A class-level comprehension whose names CPython 3.12 pushes in string-hash order
    /// (`co_varnames` changes with PYTHONHASHSEED) is left to CPython.
    #[test]
    fn hash_ordered_class_comprehensions_go_to_cpython() {
        let source =
            b"def f():\n    a = b = 1\n    class C:\n        r = [lambda: (a, b) for _ in ()]\n";
        let result = compile_312(source, "t.py", CodeOptions::default());
        assert!(
            matches!(result, Err(Unsupported::Construct(_))),
            "{result:?}"
        );
        let plain = b"def f():\n    a = 1\n    class C:\n        r = [lambda: a for _ in ()]\n";
        assert!(compile_312(plain, "t.py", CodeOptions::default()).is_ok());
    }

    /// The worker drops a module docstring followed by a `__future__` import when the module
    /// has its own asserts (not what `-OO` gives): that stays with the worker.
    #[test]
    fn stripped_docstring_before_future_with_asserts_goes_to_cpython() {
        let strip = CodeOptions {
            strip_docstrings: true,
            ..CodeOptions::default()
        };
        let with_assert = b"\"doc\"\nfrom __future__ import annotations\nif x:\n    assert x\n";
        assert!(matches!(
            compile_312(with_assert, "t.py", strip),
            Err(Unsupported::Construct(_))
        ));
        // Without module-level asserts it compiles as -OO does, and unstripped as always.
        let in_function = b"\"doc\"\nfrom __future__ import annotations\ndef f():\n    assert x\n";
        assert!(compile_312(in_function, "t.py", strip).is_ok());
        assert!(compile_312(with_assert, "t.py", CodeOptions::default()).is_ok());
    }

    /// CPython 3.12.1 leaves comments out of an `=` field's text: not modelled, so refused.
    #[test]
    fn debug_fields_with_comments_go_to_cpython() {
        let source = b"x = f'''{1 + 2 = # a comment\n}'''\n";
        assert!(matches!(
            compile_312(source, "t.py", CodeOptions::default()),
            Err(Unsupported::Construct(_))
        ));
        assert!(compile_312(b"x = f'''{1 + 2 = \n}'''\n", "t.py", CodeOptions::default()).is_ok());
    }

    /// Under `from __future__ import annotations` CPython rejects `yield`, `await` and `:=` in
    /// any annotation, even one nothing evaluates (in a function body).
    #[test]
    fn forbidden_expressions_in_future_annotations_go_to_cpython() {
        for body in [
            "def f():\n    x: (yield) = 1\n",
            "def f(a: (b := 1)): pass\n",
            "async def f():\n    x: await g\n",
        ] {
            let source = format!("from __future__ import annotations\n{body}");
            assert!(
                matches!(
                    compile_312(source.as_bytes(), "t.py", CodeOptions::default()),
                    Err(Unsupported::Parse(_) | Unsupported::Construct(_))
                ),
                "{body}"
            );
        }
        let fine = b"from __future__ import annotations\ndef f():\n    x: (y) = 1\n";
        assert!(compile_312(fine, "t.py", CodeOptions::default()).is_ok());
    }

    use super::opcode312::STACK_EFFECT_SAMPLES;

    /// The hand-written stack effects agree with `_opcode.stack_effect` of CPython 3.12 on
    /// every sample the generator took from it.
    #[test]
    fn stack_effects_match_cpython() {
        for &(op, arg, plain, jump) in STACK_EFFECT_SAMPLES {
            if op == super::opcode312::EXTENDED_ARG || op == super::opcode312::CACHE {
                continue;
            }
            assert_eq!(
                stack_effect(op, arg as i32, false),
                Some(plain),
                "op {op} arg {arg}"
            );
            assert_eq!(
                stack_effect(op, arg as i32, true),
                Some(jump),
                "op {op} arg {arg} (jump)"
            );
        }
    }
}
