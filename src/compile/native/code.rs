//! Constants, code objects and their canonical marshal bytes (CPython 3.12 field order), given
//! object by object to the canonical writer ([`crate::bytecode::marshal::Canonical`]).

use rustc_hash::FxHashMap as HashMap;

use crate::bytecode::marshal::{Canonical, MAX_DEPTH, MarshalError, Obj};

/// A constant as the compiler keeps it in `co_consts`.
#[derive(Debug, Clone)]
pub(crate) enum Const {
    None,
    Ellipsis,
    Bool(bool),
    Int(i128),
    /// An int beyond `i128` (only from literals, and their negation).
    BigInt(BigInt),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    /// A `str` holding a lone surrogate (which a Rust `String` cannot), as code points.
    Surrogates(Vec<u32>),
    Bytes(Vec<u8>),
    Tuple(Vec<Const>),
    FrozenSet(Vec<Const>),
    /// A nested code object, shared with its key.
    Code(std::sync::Arc<CodeConst>),
}

/// `_PyCode_ConstantKey`: equal keys are one constant. Type matters (`1`, `1.0`, `True` are
/// three constants), `0.0` and `-0.0` differ, code objects are compared by identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ConstKey {
    None,
    Ellipsis,
    Bool(bool),
    Int(i128),
    BigInt(BigInt),
    Float(u64),
    Complex(u64, u64),
    Str(String),
    Surrogates(Vec<u32>),
    Bytes(Vec<u8>),
    Tuple(Vec<ConstKey>),
    FrozenSet(Vec<ConstKey>),
    /// Code objects are keyed by value (`code_richcompare`): the same code compiled twice
    /// (a `while` test, a `finally` body) is one constant.
    Code(std::sync::Arc<CodeConst>),
}

/// A code object as a constant: shared by the constant and its key (no copy to compare by),
/// its hash made once, so a table hashes it in one word rather than walking the code and
/// every constant nested in it, and equal `Arc`s compare by pointer first.
#[derive(Debug)]
pub(crate) struct CodeConst {
    pub code: CodeObject,
    hash: u64,
}

impl CodeConst {
    fn new(code: CodeObject) -> CodeConst {
        // Some of what `code_richcompare` compares: equal code objects hash alike.
        let mut hasher = rustc_hash::FxHasher::default();
        std::hash::Hash::hash(&code.name, &mut hasher);
        std::hash::Hash::hash(&code.code, &mut hasher);
        for count in [
            code.argcount,
            code.posonlyargcount,
            code.kwonlyargcount,
            code.flags,
            code.firstlineno,
        ] {
            std::hash::Hasher::write_u32(&mut hasher, count);
        }
        std::hash::Hasher::write_usize(&mut hasher, code.consts.len());
        CodeConst {
            hash: std::hash::Hasher::finish(&hasher),
            code,
        }
    }

    /// The hash computed once from fields `code_richcompare` compares: equal keys, equal hashes.
    pub(crate) fn key_hash(&self) -> u64 {
        self.hash
    }
}

/// What `code_richcompare` compares: not the qualname, filename, kinds or stack size.
impl PartialEq for CodeConst {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.code, &other.code);
        self.hash == other.hash
            && a.name == b.name
            && (
                a.argcount,
                a.posonlyargcount,
                a.kwonlyargcount,
                a.flags,
                a.firstlineno,
            ) == (
                b.argcount,
                b.posonlyargcount,
                b.kwonlyargcount,
                b.flags,
                b.firstlineno,
            )
            && a.code == b.code
            && a.names == b.names
            && a.localsplusnames == b.localsplusnames
            && a.linetable == b.linetable
            && a.exceptiontable == b.exceptiontable
            && a.consts.len() == b.consts.len()
            && a.consts
                .iter()
                .zip(&b.consts)
                .all(|(x, y)| x.key() == y.key())
    }
}

impl Eq for CodeConst {}

impl std::hash::Hash for CodeConst {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl Const {
    /// A nested code object as a constant.
    pub(crate) fn code(code: CodeObject) -> Const {
        Const::Code(std::sync::Arc::new(CodeConst::new(code)))
    }

    pub(crate) fn key(&self) -> ConstKey {
        match self {
            Const::None => ConstKey::None,
            Const::Ellipsis => ConstKey::Ellipsis,
            Const::Bool(b) => ConstKey::Bool(*b),
            Const::Int(i) => ConstKey::Int(*i),
            Const::BigInt(b) => ConstKey::BigInt(b.clone()),
            Const::Float(f) => ConstKey::Float(f.to_bits()),
            Const::Complex(r, i) => ConstKey::Complex(r.to_bits(), i.to_bits()),
            Const::Str(s) => ConstKey::Str(s.clone()),
            Const::Surrogates(s) => ConstKey::Surrogates(s.clone()),
            Const::Bytes(b) => ConstKey::Bytes(b.clone()),
            Const::Tuple(items) => ConstKey::Tuple(items.iter().map(Const::key).collect()),
            Const::FrozenSet(items) => {
                let mut keys: Vec<ConstKey> = items.iter().map(Const::key).collect();
                keys.sort_by_key(|key| format!("{key:?}"));
                ConstKey::FrozenSet(keys)
            }
            Const::Code(code) => ConstKey::Code(code.clone()),
        }
    }

    /// Python truth value, where it is known without running code.
    pub(crate) fn truth(&self) -> bool {
        match self {
            Const::None => false,
            Const::Ellipsis | Const::Code(..) => true,
            Const::Bool(b) => *b,
            Const::Int(i) => *i != 0,
            Const::BigInt(_) => true,
            Const::Float(f) => *f != 0.0,
            Const::Complex(r, i) => *r != 0.0 || *i != 0.0,
            Const::Str(s) => !s.is_empty(),
            Const::Surrogates(s) => !s.is_empty(),
            Const::Bytes(b) => !b.is_empty(),
            Const::Tuple(items) | Const::FrozenSet(items) => !items.is_empty(),
        }
    }

    /// Whether a NaN hides inside: CPython keys NaNs by identity, which this model cannot
    /// follow.
    pub(crate) fn has_nan(&self) -> bool {
        match self {
            Const::Float(f) => f.is_nan(),
            Const::Complex(r, i) => r.is_nan() || i.is_nan(),
            Const::Tuple(items) | Const::FrozenSet(items) => items.iter().any(Const::has_nan),
            _ => false,
        }
    }
}

/// An int too large for `i128`, as marshal's `TYPE_LONG` holds it: a sign and 15-bit digits,
/// least significant first, without leading zero digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BigInt {
    pub negative: bool,
    pub digits: Vec<u16>,
}

/// An int literal's radix and its digits, lower case, without prefix or underscores.
pub(crate) fn literal_digits(source: &str) -> (u32, String) {
    let digits: String = source
        .chars()
        .filter(|&c| c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = digits.strip_prefix(prefix) {
            return (radix, rest.to_string());
        }
    }
    (10, digits)
}

impl BigInt {
    /// The value of an int literal's source text (`0x…`, `0o…`, `0b…`, underscores): an
    /// `i128` when it fits.
    pub(crate) fn parse_literal(source: &str) -> Option<Const> {
        let (radix, body) = literal_digits(source);
        let body = body.as_str();
        if let Ok(small) = i128::from_str_radix(body, radix) {
            return Some(Const::Int(small));
        }
        let mut out: Vec<u16> = Vec::new();
        for c in body.chars() {
            let mut carry = c.to_digit(radix)?;
            for digit in &mut out {
                let value = u32::from(*digit) * radix + carry;
                *digit = (value & 0x7fff) as u16;
                carry = value >> 15;
            }
            while carry > 0 {
                out.push((carry & 0x7fff) as u16);
                carry >>= 15;
            }
        }
        Some(Const::BigInt(BigInt {
            negative: false,
            digits: out,
        }))
    }

    /// `-self`: an `Int` again when it fits (only `-(2**127)` does).
    pub(crate) fn negated(&self) -> Const {
        let negative = !self.negative;
        // 2**127 is 2**7 * (2**15)**8.
        if negative
            && self.digits.len() == 9
            && self.digits[8] == 1 << 7
            && self.digits[..8].iter().all(|&d| d == 0)
        {
            return Const::Int(i128::MIN);
        }
        Const::BigInt(BigInt {
            negative,
            digits: self.digits.clone(),
        })
    }
}

/// A finished code object, as `marshal` writes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct CodeObject {
    pub argcount: u32,
    pub posonlyargcount: u32,
    pub kwonlyargcount: u32,
    pub stacksize: u32,
    pub flags: u32,
    pub code: Vec<u8>,
    pub consts: Vec<Const>,
    pub names: Vec<String>,
    pub localsplusnames: Vec<String>,
    pub localspluskinds: Vec<u8>,
    pub filename: String,
    pub name: String,
    pub qualname: String,
    pub firstlineno: u32,
    pub linetable: Vec<u8>,
    pub exceptiontable: Vec<u8>,
}

/// An insertion-ordered set of names (CPython's `dict_add_o` on `u_names`/`u_varnames`).
#[derive(Debug, Default, Clone)]
pub(crate) struct NameSet {
    pub list: Vec<String>,
    /// Name → its index, built only once the list outgrows [`NameSet::SCANNED`]: most units
    /// name a handful, found faster by a scan than by hashing, and with no second copy.
    index: HashMap<String, u32>,
}

impl NameSet {
    /// Lists up to this long are searched by a scan.
    const SCANNED: usize = 16;

    pub(crate) fn add(&mut self, name: &str) -> u32 {
        let found = if self.list.len() <= Self::SCANNED {
            self.list
                .iter()
                .position(|known| known == name)
                .map(|i| i as u32)
        } else {
            self.index.get(name).copied()
        };
        if let Some(i) = found {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push(name.to_owned());
        if self.index.is_empty() && self.list.len() > Self::SCANNED {
            self.index = self.list.iter().cloned().zip(0..).collect();
        } else if !self.index.is_empty() {
            self.index.insert(name.to_owned(), i);
        }
        i
    }
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }
}

/// The canonical marshal bytes of `code`: what [`crate::bytecode::marshal::canonicalize`]
/// makes of `marshal.dumps(code)`, given to the same writer without that stream.
pub(crate) fn canonical(code: &CodeObject) -> Result<Vec<u8>, MarshalError> {
    let mut out = Canonical::new(12, plain_size(code))?;
    let root = give_code(code, 1, &mut out)?;
    Ok(out.finish(root))
}

/// The reader refuses objects nested deeper than [`MAX_DEPTH`] (the outermost at depth 1).
fn check_depth(depth: usize) -> Result<(), MarshalError> {
    if depth > MAX_DEPTH {
        return Err(MarshalError::Invalid {
            offset: 0,
            reason: "nested too deeply",
        });
    }
    Ok(())
}

/// About the length of `code`'s plain marshal stream, to size the writer's pools.
fn plain_size(code: &CodeObject) -> usize {
    let names = |names: &[String]| names.iter().map(|name| name.len() + 5).sum::<usize>();
    64 + code.code.len()
        + code.linetable.len()
        + code.exceptiontable.len()
        + code.localspluskinds.len()
        + code.filename.len()
        + code.name.len()
        + code.qualname.len()
        + names(&code.names)
        + names(&code.localsplusnames)
        + code.consts.iter().map(const_size).sum::<usize>()
}

fn const_size(value: &Const) -> usize {
    match value {
        Const::Str(s) => s.len() + 5,
        Const::Surrogates(s) => s.len() * 3 + 5,
        Const::Bytes(b) => b.len() + 5,
        Const::BigInt(b) => b.digits.len() * 2 + 5,
        Const::Tuple(items) | Const::FrozenSet(items) => {
            5 + items.iter().map(const_size).sum::<usize>()
        }
        Const::Code(code) => plain_size(&code.code),
        _ => 9,
    }
}

/// Give `code`, at `depth`, and everything in it.
fn give_code(code: &CodeObject, depth: usize, out: &mut Canonical) -> Result<Obj, MarshalError> {
    check_depth(depth + 1)?;
    let mark = out.mark();
    let bytecode = out.bytes(&code.code);
    out.item(bytecode);
    let consts = out.mark();
    for value in &code.consts {
        let obj = give_const(value, depth + 2, out)?;
        out.item(obj);
    }
    let consts = out.tuple(consts);
    out.item(consts);
    for names in [&code.names, &code.localsplusnames] {
        if !names.is_empty() {
            check_depth(depth + 2)?;
        }
        let tuple = out.mark();
        for name in names {
            let obj = out.str(name.as_bytes());
            out.item(obj);
        }
        let tuple = out.tuple(tuple);
        out.item(tuple);
    }
    let kinds = out.bytes(&code.localspluskinds);
    out.item(kinds);
    for text in [&code.filename, &code.name, &code.qualname] {
        let obj = out.str(text.as_bytes());
        out.item(obj);
    }
    for table in [&code.linetable, &code.exceptiontable] {
        let obj = out.bytes(table);
        out.item(obj);
    }
    // The marshal stream's int fields, as it writes them (the u32s' bits).
    let ints = [
        code.argcount,
        code.posonlyargcount,
        code.kwonlyargcount,
        code.stacksize,
        code.flags,
        code.firstlineno,
    ]
    .map(|value| value as i32);
    Ok(out.code(&ints, mark))
}

/// Give `value`, at `depth`.
fn give_const(value: &Const, depth: usize, out: &mut Canonical) -> Result<Obj, MarshalError> {
    check_depth(depth)?;
    Ok(match value {
        Const::None => out.none(),
        Const::Ellipsis => out.ellipsis(),
        Const::Bool(b) => out.bool(*b),
        Const::Int(i) => out.int(*i),
        Const::BigInt(b) => out.long(b.negative, &b.digits)?,
        Const::Float(f) => out.float(*f),
        Const::Complex(r, i) => out.complex(*r, *i),
        Const::Str(s) => out.str(s.as_bytes()),
        Const::Surrogates(s) => out.str(&super::strings::surrogatepass_utf8(s)),
        Const::Bytes(b) => out.bytes(b),
        Const::Tuple(items) | Const::FrozenSet(items) => {
            let mark = out.mark();
            for item in items {
                let obj = give_const(item, depth + 1, out)?;
                out.item(obj);
            }
            if let Const::Tuple(_) = value {
                out.tuple(mark)
            } else {
                out.frozenset(mark)?
            }
        }
        Const::Code(code) => give_code(&code.code, depth, out)?,
    })
}

/// The plain marshal stream (no references) that [`canonical`] saves writing and reading again:
/// the reference it is tested against.
#[cfg(test)]
mod plain {
    use super::{CodeObject, Const};

    /// The plain marshal stream of `code`.
    pub(super) fn marshal(code: &CodeObject) -> Vec<u8> {
        let mut out = Vec::with_capacity(code.code.len() * 4 + 256);
        write_code(code, &mut out);
        out
    }

    fn write_u32(value: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(&value.to_le_bytes());
    }

    fn write_str(text: &str, out: &mut Vec<u8>) {
        out.push(b'u');
        write_u32(text.len() as u32, out);
        out.extend_from_slice(text.as_bytes());
    }

    fn write_bytes(bytes: &[u8], out: &mut Vec<u8>) {
        out.push(b's');
        write_u32(bytes.len() as u32, out);
        out.extend_from_slice(bytes);
    }

    fn write_code(code: &CodeObject, out: &mut Vec<u8>) {
        out.push(b'c');
        for value in [
            code.argcount,
            code.posonlyargcount,
            code.kwonlyargcount,
            code.stacksize,
            code.flags,
        ] {
            write_u32(value, out);
        }
        write_bytes(&code.code, out);
        out.push(b'(');
        write_u32(code.consts.len() as u32, out);
        for c in &code.consts {
            write_const(c, out);
        }
        for names in [&code.names, &code.localsplusnames] {
            out.push(b'(');
            write_u32(names.len() as u32, out);
            for name in names {
                write_str(name, out);
            }
        }
        write_bytes(&code.localspluskinds, out);
        write_str(&code.filename, out);
        write_str(&code.name, out);
        write_str(&code.qualname, out);
        write_u32(code.firstlineno, out);
        write_bytes(&code.linetable, out);
        write_bytes(&code.exceptiontable, out);
    }

    fn write_const(value: &Const, out: &mut Vec<u8>) {
        match value {
            Const::None => out.push(b'N'),
            Const::Ellipsis => out.push(b'.'),
            Const::Bool(true) => out.push(b'T'),
            Const::Bool(false) => out.push(b'F'),
            Const::Int(i) => write_int(*i, out),
            Const::BigInt(b) => {
                out.push(b'l');
                let count = b.digits.len() as i32;
                out.extend_from_slice(&(if b.negative { -count } else { count }).to_le_bytes());
                for digit in &b.digits {
                    out.extend_from_slice(&digit.to_le_bytes());
                }
            }
            Const::Float(f) => {
                out.push(b'g');
                out.extend_from_slice(&f.to_le_bytes());
            }
            Const::Complex(r, i) => {
                out.push(b'y');
                out.extend_from_slice(&r.to_le_bytes());
                out.extend_from_slice(&i.to_le_bytes());
            }
            Const::Str(s) => write_str(s, out),
            Const::Surrogates(s) => {
                let utf8 = super::super::strings::surrogatepass_utf8(s);
                out.push(b'u');
                write_u32(utf8.len() as u32, out);
                out.extend_from_slice(&utf8);
            }
            Const::Bytes(b) => write_bytes(b, out),
            Const::Tuple(items) => {
                out.push(b'(');
                write_u32(items.len() as u32, out);
                for item in items {
                    write_const(item, out);
                }
            }
            Const::FrozenSet(items) => {
                out.push(b'>');
                write_u32(items.len() as u32, out);
                for item in items {
                    write_const(item, out);
                }
            }
            Const::Code(code) => write_code(&code.code, out),
        }
    }

    /// `TYPE_INT` within 32 bits, else `TYPE_LONG`: a signed count of 15-bit digits, least
    /// significant first.
    fn write_int(value: i128, out: &mut Vec<u8>) {
        if let Ok(small) = i32::try_from(value) {
            out.push(b'i');
            out.extend_from_slice(&small.to_le_bytes());
            return;
        }
        let mut magnitude = value.unsigned_abs();
        let mut digits = Vec::new();
        while magnitude > 0 {
            digits.push((magnitude & 0x7fff) as u16);
            magnitude >>= 15;
        }
        out.push(b'l');
        let count = digits.len() as i32;
        out.extend_from_slice(&(if value < 0 { -count } else { count }).to_le_bytes());
        for digit in digits {
            out.extend_from_slice(&digit.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BigInt, CodeObject, Const, canonical, plain};
    use crate::bytecode::marshal::canonicalize;

    fn function(name: &str, consts: Vec<Const>) -> Const {
        let code = CodeObject {
            argcount: 1,
            flags: 3,
            code: vec![0x97, 0, 0x79, 0],
            consts,
            names: vec!["print".into(), name.into()],
            localsplusnames: vec!["x".into(), "abcdef".into()],
            localspluskinds: vec![0x26, 0x20],
            filename: "pkg/mod.py".into(),
            name: name.into(),
            qualname: name.into(),
            firstlineno: 3,
            linetable: vec![0x80, 0, 0xd8, 4],
            ..CodeObject::default()
        };
        Const::code(code)
    }

    /// The objects given one by one come out as canonicalizing their plain stream does.
    #[test]
    fn canonical_is_the_canonicalized_plain_stream() {
        let big = BigInt::parse_literal(&format!("0x1{}", "0".repeat(60))).unwrap();
        let Const::BigInt(ref digits) = big else {
            panic!("not big: {big:?}")
        };
        let consts = vec![
            Const::Str("module doc".into()),
            Const::None,
            Const::Ellipsis,
            Const::Bool(true),
            Const::Bool(false),
            Const::Int(0),
            Const::Int(-1),
            Const::Int(1 << 31),
            Const::Int(-(1 << 40)),
            Const::Int(i128::MAX),
            Const::Int(i128::MIN),
            big.clone(),
            digits.negated(),
            Const::Float(0.0),
            Const::Float(-0.0),
            Const::Float(1.5),
            Const::Complex(0.0, 2.0),
            Const::Str("abcdef".into()),
            Const::Str("a b c d".into()),
            Const::Str("é".into()),
            Const::Str(String::new()),
            Const::Str("x".repeat(300)),
            Const::Str("pkg/mod.py".into()),
            Const::Surrogates(vec![0xd800, 0x61]),
            Const::Bytes(Vec::new()),
            Const::Bytes(b"abcdef".to_vec()),
            Const::Tuple(vec![
                Const::Int(1),
                Const::Str("abcdef".into()),
                Const::Tuple(Vec::new()),
            ]),
            Const::Tuple(vec![Const::Str("print".into()), Const::Tuple(Vec::new())]),
            Const::FrozenSet(vec![
                Const::Str("b".into()),
                Const::Int(2),
                Const::Str("a".into()),
                Const::Tuple(vec![Const::Int(1)]),
            ]),
            function("f", vec![Const::None, Const::Str("abcdef".into())]),
            // Equal code, distinct objects: two objects in the stream too.
            function("g", vec![function("f", vec![Const::None])]),
            function("g", vec![function("f", vec![Const::None])]),
        ];
        let Const::Code(module) = function("<module>", consts) else {
            unreachable!()
        };
        let expected = canonicalize(&plain::marshal(&module.code), 12).unwrap();
        assert_eq!(canonical(&module.code).unwrap(), expected);
    }

    /// Code constants are one constant when `code_richcompare` finds them equal: not by
    /// identity, and whatever their qualname, filename or stack size.
    #[test]
    fn code_constants_keyed_by_value() {
        let key = |value: Const| value.key();
        let mut keys = std::collections::HashMap::new();
        let one = key(function("f", vec![Const::None, function("g", vec![])]));
        keys.insert(one.clone(), 0);
        let Const::Code(code) = function("f", vec![Const::None, function("g", vec![])]) else {
            unreachable!()
        };
        let mut other = code.code.clone();
        other.qualname = "C.f".into();
        other.filename = "other.py".into();
        other.stacksize = 9;
        assert_eq!(keys.get(&key(Const::code(other.clone()))), Some(&0));
        for change in [
            |code: &mut CodeObject| code.name = "h".into(),
            |code: &mut CodeObject| code.firstlineno += 1,
            |code: &mut CodeObject| code.names.push("y".into()),
            |code: &mut CodeObject| code.linetable.push(0),
            |code: &mut CodeObject| code.consts[0] = Const::Bool(false),
            |code: &mut CodeObject| code.consts[1] = function("g", vec![Const::None]),
        ] {
            let mut changed = other.clone();
            change(&mut changed);
            assert_ne!(key(Const::code(changed)), one);
        }
    }

    /// Nesting the reader refuses is refused here too, at the same depth.
    #[test]
    fn nesting_limit_is_the_readers() {
        // Recursion 2,000 deep needs more than a test thread's stack in a debug build.
        let run = std::thread::Builder::new().stack_size(256 << 20);
        run.spawn(nesting_limit).unwrap().join().unwrap();
    }

    fn nesting_limit() {
        for depth in [1996, 1997, 1998, 2100] {
            let mut value = Const::Int(1);
            for _ in 0..depth {
                value = Const::Tuple(vec![value]);
            }
            let Const::Code(module) = function("<module>", vec![value]) else {
                unreachable!()
            };
            let expected = canonicalize(&plain::marshal(&module.code), 12).ok();
            // The module at depth 1, its constants' tuple at 2, the outermost tuple at 3.
            assert_eq!(expected.is_none(), depth + 3 > 2000, "depth {depth}");
            assert_eq!(canonical(&module.code).ok(), expected, "depth {depth}");
        }
    }
}
