//! The native symbol table (`compile::native::scopes`) against CPython 3.12's own, through the
//! `symtable` module (`tests/native/symtable_dump.py`): same tables, same order, same names,
//! same raw flags. On the fixtures and the focused snippets in `tests/native/scopes/`, and
//! (ignored by default, `cargo test --test it scopes:: -- --ignored`) on the whole 3.12 stdlib.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pyship::compile::native::scopes::{self, BlockType, Resolved, ScopeRef, SymbolTable, flags};
use ruff_python_ast::PythonVersion;
use ruff_python_parser::{Mode, ParseOptions};
use serde_json::{Value, json};

use crate::common::{Python, pythons, walk};

/// CPython 3.12: required under `CI`, skipped (with a note) elsewhere.
fn python312() -> Option<Python> {
    let found = pythons().into_iter().find(|python| python.minor == 12);
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none_or(|value| value.is_empty() || value == "false"),
            "CPython 3.12 not found and CI is set: the native symbol table cannot be checked"
        );
        eprintln!("note: no CPython 3.12; the symbol table comparison is skipped");
    }
    found
}

/// Files whose bytecode CPython orders by string hash (see `Scope::hash_ordered`).
static HASH_DEPENDENT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// What the comparison found.
#[derive(Debug, Default)]
struct Tally {
    equal: usize,
    /// Tables built natively that differ from CPython's: must stay 0.
    differing: Vec<String>,
    /// CPython compiles it, the native side refused it (parse or table): falls back.
    refused: Vec<String>,
    /// Code objects of CPython's `compile()` with no native scope of the same name, first
    /// line, flags, cells and frees: must stay 0.
    code_missing: Vec<String>,
    /// CPython does not compile it: not compared.
    skipped: usize,
    /// Of those, the ones the native side (3.12 parse and table) accepts anyway: what the
    /// compiler must reject by other means (`compile.c`'s own errors).
    accepted_rejected: Vec<String>,
    /// Time spent in `scopes::build` (not parsing).
    build_time: Duration,
}

/// The native tables of one file in the dump's format (and what the code objects would be),
/// or why there are none.
fn native_dump(source: &[u8]) -> Result<(Value, Vec<Value>, Duration), String> {
    let text = pyship::analysis::decode(source).map_err(|e| format!("decode: {e}"))?;
    let options = ParseOptions::from(Mode::Module).with_target_version(PythonVersion::PY312);
    let parsed = ruff_python_parser::parse_unchecked(&text, options);
    if let Some(error) = parsed.errors().first() {
        return Err(format!("parse: {error}"));
    }
    if let Some(error) = parsed.unsupported_syntax_errors().first() {
        return Err(format!("parse: {error}"));
    }
    let module = parsed
        .try_into_module()
        .ok_or_else(|| "parse: not a module".to_owned())?;
    let start = Instant::now();
    let table = scopes::build(module.syntax(), &text).map_err(|e| format!("table: {e}"))?;
    let elapsed = start.elapsed();
    let mut out = Vec::new();
    dump(table.top(), &mut out);
    // An inlined comprehension in a class body whose symbols CPython orders by string hash.
    let hash_dependent = (0..table.len()).any(|id| {
        let scope = table.scope(id);
        scope.comp_inlined
            && scope.hash_ordered
            && scope
                .parent
                .is_some_and(|parent| table.scope(parent).kind == BlockType::Class)
    });
    if hash_dependent {
        HASH_DEPENDENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    Ok((Value::Array(out), codes(&table), elapsed))
}

/// Per scope that becomes a code object: `[co_name, co_firstlineno, flags, cells, frees]` as
/// `compile.c` derives them from the table (`compute_code_flags`, `dictbytype`).
fn codes(table: &SymbolTable) -> Vec<Value> {
    let mut out = Vec::new();
    for id in 0..table.len() {
        let scope = table.scope(id);
        if scope.kind == BlockType::Annotation || scope.comp_inlined {
            continue;
        }
        let name = match (scope.kind, scope.key) {
            (BlockType::Module, _) => "<module>".to_owned(),
            (BlockType::TypeParam, _) => format!("<generic parameters of {}>", scope.name),
            (_, scopes::BlockKey::Lambda(_)) => "<lambda>".to_owned(),
            (_, scopes::BlockKey::Comprehension(_)) => format!("<{}>", scope.name),
            _ => scope.name.clone(),
        };
        let mut co_flags = 0;
        if scope.function_like() {
            co_flags |= 0x1 | 0x2;
            if scope.nested {
                co_flags |= 0x10;
            }
            co_flags |= match (scope.generator, scope.coroutine) {
                (true, false) => 0x20,
                (false, true) => 0x80,
                (true, true) => 0x200,
                (false, false) => 0,
            };
            if scope.varargs {
                co_flags |= 0x4;
            }
            if scope.varkeywords {
                co_flags |= 0x8;
            }
        }
        let mut cells = scope.sorted_names(Resolved::Cell, flags::DEF_COMP_CELL);
        if scope.needs_class_closure {
            cells.push("__class__");
        }
        if scope.needs_classdict {
            cells.push("__classdict__");
        }
        cells.sort_unstable();
        let frees = scope.sorted_names(Resolved::Free, flags::DEF_FREE_CLASS);
        out.push(json!([name, scope.firstlineno, co_flags, cells, frees]));
    }
    out
}

fn dump(scope: ScopeRef<'_>, out: &mut Vec<Value>) {
    let mut symbols: Vec<(&str, u32)> = scope
        .symbols()
        .map(|(name, symbol)| (name, symbol.flags))
        .collect();
    symbols.sort_unstable();
    out.push(json!([
        scope.kind as u32,
        scope.name,
        scope.lineno,
        scope.nested,
        !scope.children().is_empty(),
        symbols
            .iter()
            .map(|(name, flags)| json!([name, flags]))
            .collect::<Vec<_>>(),
    ]));
    for child in scope.child_scopes() {
        dump(child, out);
    }
}

/// Where two dumps first differ, for the failure message.
fn first_difference(cpython: &Value, native: &Value) -> String {
    let (Some(left), Some(right)) = (cpython.as_array(), native.as_array()) else {
        return "not arrays".to_owned();
    };
    for (i, (l, r)) in left.iter().zip(right).enumerate() {
        if l != r {
            return format!("table {i}:\n  cpython {l}\n  native  {r}");
        }
    }
    format!("{} tables in CPython, {} natively", left.len(), right.len())
}

/// Compare every file of `files`; the native side runs on a big stack, as the analysis does.
fn compare(python: &Python, files: &[PathBuf]) -> Tally {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/native/symtable_dump.py");
    let mut child = Command::new(&python.path)
        .arg("-I")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run python3.12");
    let mut list = String::new();
    for path in files {
        list.push_str(&path.display().to_string());
        list.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(list.as_bytes()));
    let output = child.wait_with_output().expect("python3.12 output");
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "symtable_dump.py failed");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), files.len(), "one dump per file");

    std::thread::Builder::new()
        .stack_size(pyship::analysis::STACK_SIZE)
        .spawn(move || {
            let mut tally = Tally::default();
            for line in lines {
                let path = line["path"].as_str().unwrap().to_owned();
                let Some(expected) = line.get("tables") else {
                    tally.skipped += 1;
                    let source = std::fs::read(&path).unwrap_or_default();
                    if native_dump(&source).is_ok() {
                        let error = line["error"].as_str().unwrap_or_default();
                        tally.accepted_rejected.push(format!("{path}: {error}"));
                    }
                    continue;
                };
                let source = std::fs::read(&path).unwrap();
                match native_dump(&source) {
                    Ok((native, native_codes, elapsed)) => {
                        tally.build_time += elapsed;
                        if &native == expected {
                            tally.equal += 1;
                        } else {
                            tally
                                .differing
                                .push(format!("{path}: {}", first_difference(expected, &native)));
                        }
                        // Dead code makes no code object in CPython: only CPython's must be found.
                        let mut pool = native_codes;
                        for code in line["codes"].as_array().unwrap() {
                            match pool.iter().position(|native| native == code) {
                                Some(i) => {
                                    pool.swap_remove(i);
                                }
                                None => tally.code_missing.push(format!("{path}: {code}")),
                            }
                        }
                    }
                    Err(why) => tally.refused.push(format!("{path}: {why}")),
                }
            }
            tally
        })
        .unwrap()
        .join()
        .unwrap()
}

fn python_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "py"))
        .collect();
    files.sort();
    files
}

#[test]
fn fixtures_and_snippets_match_cpython() {
    let Some(python) = python312() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let snippets = python_files(&root.join("tests/native/scopes"));
    assert!(snippets.len() >= 10, "the focused snippets are there");
    let mut files = python_files(&root.join("fixtures"));
    files.extend(snippets);
    let tally = compare(&python, &files);
    eprintln!(
        "scopes: {} equal, {} differing, {} refused, {} not compiled by CPython",
        tally.equal,
        tally.differing.len(),
        tally.refused.len(),
        tally.skipped
    );
    assert!(tally.differing.is_empty(), "{:#?}", tally.differing);
    assert!(tally.code_missing.is_empty(), "{:#?}", tally.code_missing);
    assert!(tally.refused.is_empty(), "{:#?}", tally.refused);
    assert!(tally.equal > 50, "{tally:?}");
}

/// The whole 3.12 stdlib (some 1,700 files; half a minute): no file may differ. Other trees
/// (`PYSHIP_SCOPES_CORPUS=dir:dir`, e.g. other versions' stdlibs or a site-packages) replace it.
#[test]
#[ignore = "the whole stdlib; run with --ignored"]
fn stdlib_matches_cpython() {
    let Some(python) = python312() else { return };
    let corpus = std::env::var_os("PYSHIP_SCOPES_CORPUS");
    let dirs: Vec<PathBuf> = if let Some(dirs) = &corpus {
        std::env::split_paths(dirs).collect()
    } else {
        let lib = python.script(
            "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
            &[],
        );
        vec![PathBuf::from(lib.trim())]
    };
    let files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|dir| python_files(dir))
        // The stdlib alone, not what is installed in it.
        .filter(|path| {
            corpus.is_some() || !path.components().any(|c| c.as_os_str() == "site-packages")
        })
        .collect();
    let lib = std::env::join_paths(&dirs).unwrap();
    let tally = compare(&python, &files);
    eprintln!(
        "{}: {} files: {} equal, {} differing, {} refused, {} not compiled by CPython",
        lib.display(),
        files.len(),
        tally.equal,
        tally.differing.len(),
        tally.refused.len(),
        tally.skipped
    );
    for refused in &tally.refused {
        eprintln!("refused: {refused}");
    }
    eprintln!("scopes::build: {:?} in all", tally.build_time);
    eprintln!(
        "files with a hash-ordered inlined comprehension in a class body: {}",
        HASH_DEPENDENT.load(std::sync::atomic::Ordering::Relaxed)
    );
    for accepted in &tally.accepted_rejected {
        eprintln!("CPython rejects, the table accepts: {accepted}");
    }
    for differing in tally.differing.iter().take(30) {
        eprintln!("differs: {differing}");
    }
    for missing in tally.code_missing.iter().take(30) {
        eprintln!("code object without its scope: {missing}");
    }
    eprintln!(
        "{} code objects without their scope",
        tally.code_missing.len()
    );
    assert!(
        tally.code_missing.is_empty(),
        "{} code objects",
        tally.code_missing.len()
    );
    assert!(
        tally.differing.is_empty(),
        "{} differ",
        tally.differing.len()
    );
}

/// Sources CPython 3.12 rejects while building its symbol table (or, for the future imports,
/// just before): the native side must refuse each, never give a table.
const REJECTED: &[&str] = &[
    "nonlocal x\n",
    "def f():\n    nonlocal x\n",
    "def f():\n    def g():\n        nonlocal y\n",
    "def f():\n    x = 1\n    global x\n",
    "def f():\n    print(x)\n    global x\n",
    "def f(x):\n    global x\n",
    "def f():\n    x: int\n    global x\n",
    "def f():\n    global x\n    x: int = 1\n",
    "def f():\n    x = 1\n    def g():\n        nonlocal x\n        x: int = 1\n",
    "def f():\n    x = 1\n    def g():\n        x = 2\n        nonlocal x\n",
    "def f(x):\n    nonlocal x\n",
    "def f():\n    x = 1\n    def g():\n        global x\n        nonlocal x\n",
    "def f(a, a): pass\n",
    "def f(a, *, a): pass\n",
    "lambda a, a: 1\n",
    "def f[T, T](): pass\n",
    "def f[T]():\n    def g():\n        nonlocal T\n",
    "def f():\n    from os import *\n",
    "class C:\n    from os import *\n",
    "[(yield) for x in y]\n",
    "def f():\n    return [(yield x) for x in y]\n",
    "def f():\n    return {(yield from x) for x in y}\n",
    "def f():\n    return ((yield) for x in y)\n",
    "[(x := 1) for x in y]\n",
    "[[(j := 0) for i in range(3)] for j in range(3)]\n",
    "[j for i in range(3) if (j := i) for j in range(2)]\n",
    "[x for x in (y := [1])]\n",
    "[i for i in range(5) for j in (k := range(3))]\n",
    "class C:\n    [(y := 1) for x in z]\n",
    "def f[T: [(x := 1) for _ in ()]](): pass\n",
    "type A = [(x := 1) for _ in ()]\n",
    "def f[T: (yield)](): pass\n",
    "def f[T: (x := 1)](): pass\n",
    "type A = (yield)\n",
    "type A = await x\n",
    "class C[T]:\n    type A = lambda: T\n",
    "class C:\n    def f[T: [x for x in ()]](): pass\n",
    "from __future__ import annotations\ndef f(x: (y := 1)): pass\n",
    "from __future__ import annotations\ndef f(x: (yield)): pass\n",
    "from __future__ import annotations\nx: (await y) = 1\n",
    "x = 1\nfrom __future__ import annotations\n",
    "from __future__ import braces\n",
    "def f():\n    from __future__ import annotations\n",
    "if x:\n    from __future__ import annotations\n",
    "x = 1\nfrom .__future__ import annotations\n",
    "from .__future__ import braces\n",
];

#[test]
fn refuses_what_cpython_rejects() {
    let Some(python) = python312() else { return };
    let sources = serde_json::to_string(REJECTED).unwrap();
    // Which of them CPython 3.12 compiles: none may.
    let accepted = python.script_args(
        "import json, sys\n\
         for s in json.loads(sys.argv[1]):\n\
         \x20   try:\n\
         \x20       compile(s, 'x', 'exec', dont_inherit=True)\n\
         \x20       print(json.dumps(s))\n\
         \x20   except SyntaxError:\n\
         \x20       pass\n",
        &[&sources],
    );
    assert!(accepted.is_empty(), "CPython 3.12 accepts:\n{accepted}");
    for source in REJECTED {
        assert!(
            native_dump(source.as_bytes()).is_err(),
            "a table for what CPython rejects:\n{source}"
        );
    }
}
