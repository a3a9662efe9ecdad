//! Canonical marshal and pyc headers against every CPython on the machine.
//!
//! Per interpreter, one Python process per role, all data through files in a temporary
//! directory:
//! - `reference`: `py_compile.compile` on a corpus (stdlib modules and crafted sources), from a
//!   fresh process with `PYTHONHASHSEED=0`;
//! - `other`: `marshal.dumps(compile(...))` of the same sources from a process in another state
//!   (codecs and more modules imported, every file compiled before, constants kept alive, a
//!   different hash seed);
//! - `verify`: `marshal.loads` of the canonical bytes against the reference pyc, comparing every
//!   `co_*` attribute recursively, exactly (types, float bits, frozenset contents).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pyship::bytecode::marshal::{canonicalize, splice_filename, with_filename, with_filename_slot};
use pyship::bytecode::pyc::{Invalidation, header, version_for_magic};

use crate::common::{self, Python};

/// How many files of the corpus also get timestamp and unchecked-hash pycs.
const ALL_MODES: usize = 12;

const SCRIPT: &str = r#"
import sys, os, marshal, importlib.util, py_compile, types, struct, warnings
warnings.simplefilter("ignore")
role, work = sys.argv[1], sys.argv[2]
src = os.path.join(work, "src")

def corpus():
    lib = os.path.dirname(os.__file__)
    paths = sorted(os.path.join(work, "crafted", f) for f in os.listdir(os.path.join(work, "crafted")))
    paths += [os.path.join(lib, f) for f in sorted(os.listdir(lib)) if f.endswith(".py")]
    for package in ("email", "json", "asyncio", "importlib", "concurrent", "http", "urllib",
                    "logging", "xml", "collections", "unittest", "encodings"):
        for root, dirs, files in os.walk(os.path.join(lib, package)):
            dirs[:] = sorted(d for d in dirs if d not in ("test", "tests", "__pycache__"))
            paths += [os.path.join(root, f) for f in sorted(files) if f.endswith(".py")]
    return paths[:400]

def moved_dfile(n):
    return ["", "m", "ab.", "<pyship>", "dir/é.py", "x" * 300, "pkg/m%d.py" % (n + 1)][n % 7]

def manifest():
    with open(os.path.join(work, "manifest.txt")) as f:
        return [line.rstrip("\n").split("\t") for line in f]

if role == "reference":
    os.makedirs(src)
    os.makedirs(os.path.join(work, "a"))
    lines = []
    modes = {"checked": py_compile.PycInvalidationMode.CHECKED_HASH,
             "timestamp": py_compile.PycInvalidationMode.TIMESTAMP,
             "unchecked": py_compile.PycInvalidationMode.UNCHECKED_HASH}
    for path in corpus():
        with open(path, "rb") as f:
            data = f.read()
        n = len(lines)
        copy = os.path.join(src, "%d.py" % n)
        with open(copy, "wb") as f:
            f.write(data)
        mtime = 1600000000 + 7 * n
        os.utime(copy, (mtime, mtime))
        dfile = "pkg/m%d.py" % n
        try:
            for name, mode in modes.items():
                if name == "checked" or n < %ALL_MODES%:
                    py_compile.compile(copy, cfile=os.path.join(work, "a", "%d.%s" % (n, name)),
                                       dfile=dfile, invalidation_mode=mode, doraise=True)
        except py_compile.PyCompileError:
            os.remove(copy)  # not valid syntax for this version
            continue
        lines.append("%s\t%d\t%s" % (dfile, mtime, path))
    with open(os.path.join(work, "manifest.txt"), "w") as f:
        f.write("".join(line + "\n" for line in lines))
    print(importlib.util.MAGIC_NUMBER.hex(), sys.version_info[1])

elif role == "other":
    import codecs, encodings.idna, encodings.punycode, json, email.parser, unicodedata
    import collections, typing, dataclasses, argparse, decimal, fractions, enum, re, ast
    os.makedirs(os.path.join(work, "b"))
    keep = []
    def hold(code):
        keep.append(code)
        for const in code.co_consts:
            keep.append(const)
            if isinstance(const, types.CodeType):
                hold(const)
    entries = manifest()
    sources = []
    for n in range(len(entries)):
        with open(os.path.join(src, "%d.py" % n), "rb") as f:
            sources.append(f.read())
    for n in reversed(range(len(entries))):
        hold(compile(sources[n], entries[n][0], "exec", dont_inherit=True))
    for n, (dfile, _, _) in enumerate(entries):
        code = compile(sources[n], dfile, "exec", dont_inherit=True)
        hold(code)
        with open(os.path.join(work, "b", "%d.bin" % n), "wb") as f:
            f.write(marshal.dumps(code))
        # The same module compiled at another path: short, empty, non-ASCII or long names.
        moved = compile(sources[n], moved_dfile(n), "exec", dont_inherit=True)
        with open(os.path.join(work, "b", "%d.moved" % n), "wb") as f:
            f.write(marshal.dumps(moved))

elif role == "verify":
    sys.path.insert(0, "%SAMECODE%")
    from samecode import same
    entries = manifest()
    for n, (dfile, _, path) in enumerate(entries):
        with open(os.path.join(work, "a", "%d.checked" % n), "rb") as f:
            original = marshal.loads(f.read()[16:])
        with open(os.path.join(work, "c", "%d.bin" % n), "rb") as f:
            canonical = marshal.loads(f.read())
        same(original, canonical, path)
    print(len(entries))
"#;

/// The dfile the `other` role compiles file `n` at besides its own (as its `moved_dfile`).
fn moved_dfile(n: usize) -> String {
    match n % 7 {
        0 => String::new(),
        1 => "m".to_owned(),
        2 => "ab.".to_owned(),
        3 => "<pyship>".to_owned(),
        4 => "dir/é.py".to_owned(),
        5 => "x".repeat(300),
        _ => format!("pkg/m{}.py", n + 1),
    }
}

/// Sources that exercise what the stdlib alone might not.
fn crafted() -> Vec<(&'static str, String)> {
    let big_tuple: Vec<String> = (0..300).map(|i| format!("'k{i}'")).collect();
    let long_name = "n".repeat(300);
    vec![
        (
            "sets.py",
            r#"
def f(x):
    return x in {"alpha", "beta", 1, 2.5, "gamma", b"bytes", (1, "two"), None, -0.0, 3j, 10**40}

def g(x):
    return x not in {"a b", "c-d", "é", "longer string with spaces", "ü" * 3, frozenset}

def h(x):
    for y in {"p", "q", "r", "s", "t", "u", "v", "w"}:
        if x in {"p", "q"} or y in {"k", "l", "m", "n", "o"}:
            return {"set", "display", x}
"#
            .to_owned(),
        ),
        (
            "future.py",
            r#"from __future__ import annotations
from typing import Optional

def h(a: List[int], b: dict[str, int] = {}, *args: "quoted", **kw: int) -> Optional[str]:
    return None

class C:
    x: int = 1
    y: "some string" = "some string"
    def m(self, other: C) -> C:
        return self
"#
            .to_owned(),
        ),
        (
            "unicode.py",
            r#"# -*- coding: utf-8 -*-
café = "naïve ☃ \U0001F600"
lone = "\udcff\ud800 surrogates"
def 函数(参数, *, ключ="значение"):
    return 参数 + "ü" * 3 + ключ
BIG = (2**100, -2**70, 12345678901234567890, 0x7fffffff, -0x80000000, 2**31, -2**31 - 1,
       2**45, -2**45, 2**62, 2**63, -2**63, 2**64)
NUMS = (1+2j, -0.0j, 1e400, -1e400, -0.0, 0.0, 1e-310, 3.141592653589793)
B = b"\x00\xff" * 40, b"", b"abc"
lam = lambda x, *a, k=1, **kw: (lambda: x)()
def outer():
    y = 1
    class Inner:
        def meth(self):
            return y
    def nested(z):
        nonlocal y
        y += z
        return [i for i in range(z)], {i: str(i) for i in range(z)}, (i for i in "abc")
    return Inner, nested
F = f"{café!r:>10} {BIG!s} {{}} {1 + 1=} {lam(1):{'>'}{10}}"
async def co(x):
    async with x as y:
        async for z in y:
            await z
try:
    pass
except (ValueError, TypeError) as e:
    raise RuntimeError("again") from e
finally:
    del café
"#
            .to_owned(),
        ),
        (
            "big.py",
            format!(
                "T = ({})\nN = '{long_name}'\nS = '{}'\nL = \"{}\"\n",
                big_tuple.join(", "),
                "not a name ".repeat(40),
                "é".repeat(300),
            ),
        ),
        (
            // Constants equal to the filenames this file is compiled at (its index among the
            // crafted files is small): shared with `co_filename` in canonical form. And one code
            // object only, so the filename is written once.
            "dfile_constants.py",
            format!(
                "NAMES = ({}, '', 'm', 'ab.', '<pyship>', 'dir/é.py', '{}')\n",
                (0..12)
                    .map(|i| format!("'pkg/m{i}.py'"))
                    .collect::<Vec<_>>()
                    .join(", "),
                "x".repeat(300)
            ),
        ),
        (
            "match.py",
            r#"
def m(command):
    match command.split():
        case [action]:
            return action
        case ["go", ("north" | "south") as direction]:
            return direction
        case {"x": 1, "y": y, **rest}:
            return y, rest
        case Point(x=0, y=yy) if yy > 10:
            return yy
        case _:
            return None
"#
            .to_owned(),
        ),
    ]
}

fn run(python: &Python, role: &str, work: &Path, seed: &str) -> String {
    let script = SCRIPT
        .replace("%ALL_MODES%", &ALL_MODES.to_string())
        .replace(
            "%SAMECODE%",
            &crate::common::python_helpers().to_string_lossy(),
        );
    let output = Command::new(&python.path)
        .args(["-s", "-c", &script, role])
        .arg(work)
        .env("PYTHONHASHSEED", seed)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONSTARTUP")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("failed to run python");
    assert!(
        output.status.success(),
        "python {} ({role}) failed:\n{}",
        python.version(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// What one interpreter's run measured.
struct Outcome {
    files: usize,
    raw_differences: usize,
    bytes: usize,
    elapsed: Duration,
    /// Relocations done by a splice, and by a rewrite (the splice could not promise the bytes).
    spliced: usize,
    rewritten: usize,
}

fn check(python: &Python) -> Outcome {
    let temp = tempfile::tempdir().unwrap();
    let work = temp.path();
    fs_err::create_dir(work.join("crafted")).unwrap();
    fs_err::create_dir(work.join("c")).unwrap();
    for (name, source) in crafted() {
        fs_err::write(work.join("crafted").join(name), source).unwrap();
    }

    let stdout = run(python, "reference", work, "0");
    let mut fields = stdout.split_whitespace();
    let magic_hex = fields.next().unwrap();
    let minor: u8 = fields.next().unwrap().parse().unwrap();
    assert_eq!(minor, python.minor);
    let magic: [u8; 4] = (0..4)
        .map(|i| u8::from_str_radix(&magic_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    // (e) the magic number names its version.
    assert_eq!(
        version_for_magic(magic),
        Some((3, minor)),
        "magic {magic_hex}"
    );

    run(python, "other", work, "12345");

    let manifest = fs_err::read_to_string(work.join("manifest.txt")).unwrap();
    let entries: Vec<Vec<&str>> = manifest
        .lines()
        .map(|line| line.split('\t').collect())
        .collect();
    assert!(entries.len() >= 200, "corpus too small: {}", entries.len());
    let crafted_count = crafted().len() - usize::from(minor < 10);
    assert!(
        entries
            .iter()
            .take(crafted_count)
            .all(|entry| entry[2].contains("crafted")),
        "a crafted source did not compile on {}",
        python.version()
    );

    let mut outcome = Outcome {
        files: entries.len(),
        raw_differences: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
        spliced: 0,
        rewritten: 0,
    };
    let mut failures = String::new();
    for (n, entry) in entries.iter().enumerate() {
        let (dfile, mtime, path) = (entry[0], entry[1].parse::<u32>().unwrap(), entry[2]);
        let source = fs_err::read(work.join("src").join(format!("{n}.py"))).unwrap();
        // (d) headers, byte for byte.
        let mut modes = vec![("checked", Invalidation::CheckedHash)];
        if n < ALL_MODES {
            modes.push(("timestamp", Invalidation::Timestamp));
            modes.push(("unchecked", Invalidation::UncheckedHash));
        }
        for (name, mode) in modes {
            let pyc = fs_err::read(work.join("a").join(format!("{n}.{name}"))).unwrap();
            if pyc[..16] != header(magic, minor, mode, &source, mtime) {
                let _ = writeln!(failures, "{path} ({dfile}): {name} header differs");
            }
        }

        let pyc = fs_err::read(work.join("a").join(format!("{n}.checked"))).unwrap();
        let reference = &pyc[16..];
        let other = fs_err::read(work.join("b").join(format!("{n}.bin"))).unwrap();
        if other != reference {
            outcome.raw_differences += 1;
        }
        let start = Instant::now();
        let canonical = canonicalize(reference, minor);
        outcome.elapsed += start.elapsed();
        outcome.bytes += reference.len();
        let canonical = match canonical {
            Ok(canonical) => canonical,
            Err(err) => {
                let _ = writeln!(failures, "{path}: {err}");
                continue;
            }
        };
        // (a) independent of the writing process.
        match canonicalize(&other, minor) {
            Ok(from_other) if from_other == canonical => {}
            Ok(_) => {
                let _ = writeln!(failures, "{path}: canonical forms differ between processes");
            }
            Err(err) => {
                let _ = writeln!(failures, "{path} (other process): {err}");
            }
        }
        // (f) moved: the code compiled at another dfile, its filename rewritten, is the
        // canonical form of the code compiled at this one, and the other way round.
        let moved = fs_err::read(work.join("b").join(format!("{n}.moved"))).unwrap();
        let moved_dfile = moved_dfile(n);
        match (
            with_filename(&moved, minor, dfile),
            canonicalize(&moved, minor),
        ) {
            (Ok(relocated), Ok(moved)) => {
                if relocated != canonical {
                    let _ = writeln!(failures, "{path}: moved to `{dfile}` differs");
                }
                if with_filename(&canonical, minor, &moved_dfile).as_ref() != Ok(&moved) {
                    let _ = writeln!(failures, "{path}: moved to `{moved_dfile}` differs");
                }
                // As the cache does it: stored at a placeholder, spliced where it can be.
                let (stored, slot) = with_filename_slot(&moved, minor, "<pyship>").unwrap();
                for (name, expected) in [(dfile, &canonical), (moved_dfile.as_str(), &moved)] {
                    match slot.and_then(|slot| splice_filename(&stored, slot, name)) {
                        Some(spliced) if spliced != *expected => {
                            let _ = writeln!(failures, "{path}: spliced `{name}` differs");
                        }
                        Some(_) => outcome.spliced += 1,
                        None => outcome.rewritten += 1,
                    }
                }
            }
            (Err(err), _) | (_, Err(err)) => {
                let _ = writeln!(failures, "{path} (moved): {err}");
            }
        }
        // (c) idempotent.
        if canonicalize(&canonical, minor).as_ref() != Ok(&canonical) {
            let _ = writeln!(failures, "{path}: not idempotent");
        }
        fs_err::write(work.join("c").join(format!("{n}.bin")), &canonical).unwrap();
    }
    assert!(
        failures.is_empty(),
        "CPython {}:\n{failures}",
        python.version()
    );
    // (b) loads to equal code objects.
    let verified: usize = run(python, "verify", work, "0").trim().parse().unwrap();
    assert_eq!(verified, entries.len());
    outcome
}

#[test]
fn marshal_canonical_on_real_pythons() {
    let pythons = common::pythons();
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = pythons
            .iter()
            .map(|python| scope.spawn(move || check(python)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (python, outcome) in pythons.iter().zip(&outcomes) {
        let megabytes = f64::from(u32::try_from(outcome.bytes).unwrap()) / 1e6;
        let mb_per_s = megabytes / outcome.elapsed.as_secs_f64();
        eprintln!(
            "CPython {}: {} files, {} differ raw between processes, canonicalize {:.1} MB in {:?} ({mb_per_s:.0} MB/s)",
            python.version(),
            outcome.files,
            outcome.raw_differences,
            megabytes,
            outcome.elapsed,
        );
        // The two processes must really have written different bytes, or (a) proves nothing.
        assert!(
            outcome.raw_differences > 0,
            "CPython {}: no raw differences",
            python.version()
        );
        // Both ways of relocating were checked: most by a splice, some (short names, names
        // equal to a constant) by a rewrite.
        assert!(
            outcome.spliced > outcome.files && outcome.rewritten > 0,
            "CPython {}: {} spliced, {} rewritten",
            python.version(),
            outcome.spliced,
            outcome.rewritten
        );
    }
}
