//! Canonical re-emission of CPython `marshal` streams (SPEC §4).
//!
//! Takes the marshal bytes of a code object as the target interpreter wrote them and returns
//! bytes that depend only on the loaded value: unused `FLAG_REF` marks dropped and
//! back-references renumbered, frozenset elements in a fixed order, and the interned flag of
//! every string set by a rule that depends on the string alone.
//!
//! The stream is parsed into a DAG of nodes (a `TYPE_REF` points back at the node it names).
//! Every node gets a *value id*: equal immutable values get the same id (hash-consing), while
//! mutable containers and code objects get one id per object, so the identity structure the
//! loader would build for them is kept. The canonical form is then written pre-order:
//!
//! - strings as CPython picks their type, with the interned variant iff the string is ASCII and
//!   made of `[A-Za-z0-9_]` only (CPython's `all_name_chars`, the rule its code constructor
//!   interns constants by); ints in `TYPE_INT` when they fit 32 bits, floats in binary;
//! - set and frozenset elements sorted by their canonical reference-free encoding;
//! - a value whose reference-free encoding is longer than a reference (5 bytes), or any mutable
//!   container or code object, that is reached more than once is written in full the first time
//!   with `FLAG_REF` and as `TYPE_REF` afterwards; nothing else carries `FLAG_REF`. Reference
//!   indices are numbered in the order the reader assigns them (type-byte order, since
//!   containers reserve their slot before their children).
//!
//! The graph has a second front end, `Canonical`, for the native compiler: it gives its code
//! objects value by value instead of writing a marshal stream for the parser to read back, and
//! the same hash-consing and writer make the same bytes of them.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

/// The marshal stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarshalError {
    /// The stream ends inside an object.
    #[error("Marshal data ends early at offset {offset}")]
    Truncated {
        /// Offset of the first missing byte.
        offset: usize,
    },
    /// A type byte marshal does not know (for this CPython version).
    #[error("Unknown marshal type byte {byte:#04x} at offset {offset}")]
    UnknownType {
        /// The type byte, `FLAG_REF` cleared.
        byte: u8,
        /// Offset of the type byte.
        offset: usize,
    },
    /// A `TYPE_REF` to an index not (yet) assigned, or to an object still being read.
    #[error("Invalid marshal back-reference {index} at offset {offset}")]
    BadRef {
        /// The reference index as written.
        index: i64,
        /// Offset of the `TYPE_REF` byte.
        offset: usize,
    },
    /// Data CPython's reader would reject, or that cannot be canonicalised.
    #[error("Invalid marshal data at offset {offset}: {reason}")]
    Invalid {
        /// Offset of the object's type byte.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A CPython version whose code object layout is not known.
    #[error("Canonical marshal is not supported for CPython 3.{minor}")]
    UnsupportedVersion {
        /// The minor version asked for.
        minor: u8,
    },
}

/// Re-emit `data` (`marshal.dumps(code)` as CPython 3.`minor` writes it, 3.8 to 3.14) in
/// canonical form. Bytes after the first object are ignored, as `marshal.loads` ignores them.
pub fn canonicalize(data: &[u8], minor: u8) -> Result<Vec<u8>, MarshalError> {
    emit(data, minor, None).map(|(out, _)| out)
}

/// [`canonicalize`] `data` with every code object's `co_filename` replaced by `filename`: the
/// bytes are those of canonicalizing the same module compiled with `filename` as its dfile
/// (a compiler puts the dfile nowhere else), so code compiled once serves every path. The
/// filename joins the value graph like any string: equal to a constant it is shared with it,
/// and whether it carries a reference, its type byte and the reference numbering follow.
pub fn with_filename(data: &[u8], minor: u8, filename: &str) -> Result<Vec<u8>, MarshalError> {
    emit(data, minor, Some(filename)).map(|(out, _)| out)
}

/// [`with_filename`], and where the filename sits in the result when [`splice_filename`] can
/// replace it there: when it is written in full once (longer than a reference) and no value
/// but `co_filename` fields is that string.
pub fn with_filename_slot(
    data: &[u8],
    minor: u8,
    filename: &str,
) -> Result<(Vec<u8>, Option<usize>), MarshalError> {
    emit(data, minor, Some(filename))
}

/// The canonical stream `data` (from [`with_filename_slot`], its filename at `slot`) with
/// `filename` in every code object instead, without parsing it: the bytes [`with_filename`]
/// gives, or `None` when a splice cannot promise them and it must be used instead. A splice
/// keeps every reference as it is, so it needs the new name to be written in full once too
/// (longer than a reference) and to be equal to no other string in the stream (which would
/// then be shared with it): it must not occur in `data` at all.
pub fn splice_filename(data: &[u8], slot: usize, filename: &str) -> Option<Vec<u8>> {
    let ty = *data.get(slot)?;
    let (header, len) = match ty & !FLAG_REF {
        b'z' | b'Z' => (2, usize::from(*data.get(slot + 1)?)),
        b'a' | b'A' | b'u' => {
            let len = data.get(slot + 1..slot + 5)?;
            (5, u32::from_le_bytes(len.try_into().ok()?) as usize)
        }
        _ => return None,
    };
    let end = slot.checked_add(header)?.checked_add(len)?;
    if end > data.len()
        || filename.is_empty()
        || memchr::memmem::find(data, filename.as_bytes()).is_some()
    {
        return None;
    }
    let mut name = Vec::with_capacity(filename.len() + 5);
    write_str(
        filename.as_bytes(),
        filename.is_ascii(),
        ty & FLAG_REF,
        &mut name,
    );
    if name.len() as u64 <= REF_SIZE {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() - (end - slot) + name.len());
    out.extend_from_slice(&data[..slot]);
    out.extend_from_slice(&name);
    out.extend_from_slice(&data[end..]);
    Some(out)
}

/// A value given to a [`Canonical`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Obj(u32);

/// The canonical writer's second front end: the objects of a code object tree given one by
/// one, children before their container, by a compiler that holds the values rather than a
/// marshal stream. They go into the same graph (hash-consed the same way) and out through the
/// same writer as [`canonicalize`]'s, so the bytes are those [`canonicalize`] makes of
/// `marshal.dumps` of the same objects, without writing and reading that stream.
///
/// A container's children are given with [`Canonical::item`] after [`Canonical::mark`], then
/// the container is made from the mark. Nesting deeper than [`MAX_DEPTH`] is the caller's to
/// refuse, as the reader would.
pub(crate) struct Canonical {
    build: Builder,
    size: usize,
}

impl Canonical {
    /// For CPython 3.`minor`'s code object layout (3.11 to 3.14); `size` is about the length of
    /// the stream, to size the pools.
    pub(crate) fn new(minor: u8, size: usize) -> Result<Self, MarshalError> {
        if !(11..=14).contains(&minor) {
            return Err(MarshalError::UnsupportedVersion { minor });
        }
        Ok(Canonical {
            build: Builder::new(LAYOUT_311, size),
            size,
        })
    }

    pub(crate) fn none(&mut self) -> Obj {
        Obj(self.build.singleton(b'N'))
    }

    pub(crate) fn ellipsis(&mut self) -> Obj {
        Obj(self.build.singleton(b'.'))
    }

    pub(crate) fn bool(&mut self, value: bool) -> Obj {
        Obj(self.build.singleton(if value { b'T' } else { b'F' }))
    }

    pub(crate) fn int(&mut self, value: i128) -> Obj {
        let kind = self.build.int_kind(value);
        Obj(self.build.push(kind))
    }

    /// An int as `TYPE_LONG` digits: 15 bits each, least significant first.
    pub(crate) fn long(&mut self, negative: bool, digits: &[u16]) -> Result<Obj, MarshalError> {
        let bytes: Vec<u8> = digits
            .iter()
            .flat_map(|digit| digit.to_le_bytes())
            .collect();
        let kind = self
            .build
            .long_kind(negative, &bytes)
            .map_err(|reason| MarshalError::Invalid { offset: 0, reason })?;
        Ok(Obj(self.build.push(kind)))
    }

    pub(crate) fn float(&mut self, value: f64) -> Obj {
        Obj(self.build.push(Kind::Float(value.to_bits())))
    }

    pub(crate) fn complex(&mut self, real: f64, imag: f64) -> Obj {
        Obj(self
            .build
            .push(Kind::Complex(real.to_bits(), imag.to_bits())))
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> Obj {
        let data = self.build.store(bytes);
        Obj(self.build.push(Kind::Bytes(data)))
    }

    /// A `str` from its UTF-8 bytes (surrogatepass for lone surrogates).
    pub(crate) fn str(&mut self, utf8: &[u8]) -> Obj {
        let kind = self.build.utf8_str(utf8);
        Obj(self.build.push(kind))
    }

    /// Where the next container's children start.
    pub(crate) fn mark(&self) -> usize {
        self.build.stack.len()
    }

    /// The next child of the container being given.
    pub(crate) fn item(&mut self, obj: Obj) {
        self.build.stack.push(obj.0);
    }

    /// A tuple of the items since `mark`.
    pub(crate) fn tuple(&mut self, mark: usize) -> Obj {
        let span = self.build.pop_children(mark);
        Obj(self.build.push(Kind::Tuple(span)))
    }

    /// A frozenset of the (distinct) items since `mark`.
    pub(crate) fn frozenset(&mut self, mark: usize) -> Result<Obj, MarshalError> {
        let span = self.build.pop_children(mark);
        self.build.sort_set(span, 0)?;
        Ok(Obj(self.build.push(Kind::FrozenSet(span))))
    }

    /// A code object: its int fields in `ints` and its object fields the items since `mark`,
    /// each in the layout's order.
    pub(crate) fn code(&mut self, ints: &[i32], mark: usize) -> Obj {
        let layout = self.build.graph.layout;
        debug_assert_eq!(
            (ints.len(), self.build.stack.len() - mark),
            (
                layout.iter().filter(|&&field| field == Field::Int).count(),
                layout
                    .iter()
                    .filter(|&&field| field == Field::Object)
                    .count()
            )
        );
        let objects = self.build.pop_children(mark);
        let pool = &mut self.build.graph.ints;
        let span = Span {
            start: pool.len() as u32,
            len: ints.len() as u32,
        };
        pool.extend_from_slice(ints);
        Obj(self.build.push(Kind::Code {
            ints: span,
            objects,
        }))
    }

    /// The canonical stream of `root`.
    pub(crate) fn finish(self, root: Obj) -> Vec<u8> {
        write_canonical(&self.build.graph, root.0, NO_INDEX, self.size).0
    }
}

/// The canonical stream, and with a filename, where it sits if [`splice_filename`] can use it.
fn emit(
    data: &[u8],
    minor: u8,
    filename: Option<&str>,
) -> Result<(Vec<u8>, Option<usize>), MarshalError> {
    let (layout, filename_field) = match minor {
        8..=10 => (LAYOUT_38, FILENAME_38),
        11..=14 => (LAYOUT_311, FILENAME_311),
        _ => return Err(MarshalError::UnsupportedVersion { minor }),
    };
    let mut parser = Parser::new(data, layout, minor >= 14);
    parser.filename = filename.map(|name| (name, filename_field, NO_INDEX));
    let root = parser.object()?;
    let filename_node = parser.filename.map_or(NO_INDEX, |(_, _, node)| node);
    let graph = parser.build.graph;
    // The filename can be spliced when it is written once in full and only code objects'
    // filename fields point at its value (each code object has one).
    let track = (filename_node != NO_INDEX)
        .then(|| graph.nodes[filename_node as usize].value)
        .filter(|&value| {
            let edges = graph
                .children
                .iter()
                .filter(|&&child| graph.nodes[child as usize].value == value)
                .count();
            let codes = graph
                .nodes
                .iter()
                .filter(|node| matches!(node.kind, Kind::Code { .. }))
                .count();
            edges == codes && graph.values[value as usize].size > REF_SIZE
        })
        .unwrap_or(NO_INDEX);
    Ok(write_canonical(&graph, root, track, data.len()))
}

/// The canonical stream of `root` in `graph`, and where `track`'s first full write sits (see
/// [`Writer::slot`]). `size` is the expected length.
fn write_canonical(graph: &Graph, root: u32, track: u32, size: usize) -> (Vec<u8>, Option<usize>) {
    let counts = graph.count(root);
    let mut writer = Writer {
        graph,
        counts: &counts,
        indices: vec![NO_INDEX; graph.values.len()],
        next_index: 0,
        out: Vec::with_capacity(size),
        track,
        slot: None,
    };
    writer.write(root);
    (writer.out, writer.slot)
}

/// What `pyship inspect` reads of one code object; nothing in it is ever executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeObject {
    /// `co_name`: `<module>`, a function's or class's name, `<lambda>`, `<listcomp>`…
    pub name: String,
    /// `co_filename`.
    pub filename: String,
    /// `co_flags`.
    pub flags: u32,
    /// Whether `co_consts[0]` is a `str` (where CPython keeps a function's docstring).
    pub first_const_is_str: bool,
    /// `co_names`.
    pub names: Vec<String>,
    /// `co_code`: the bytecode, with inline caches zeroed as marshal writes them.
    pub code: Vec<u8>,
}

/// Every code object in `data` (a marshalled module as CPython 3.`minor` writes it), the
/// outermost first, then the nested ones in stream order; each shared one once. An error when
/// the stream does not parse or its outermost object is not a code object.
pub fn code_objects(data: &[u8], minor: u8) -> Result<Vec<CodeObject>, MarshalError> {
    let (layout, flags_at, filename_at, name_at) = match minor {
        8..=10 => (LAYOUT_38, 5, 6, 7),
        11..=14 => (LAYOUT_311, 4, 5, 6),
        _ => return Err(MarshalError::UnsupportedVersion { minor }),
    };
    let mut parser = Parser::new(data, layout, minor >= 14);
    let root = parser.object()?;
    let graph = parser.build.graph;
    if !matches!(graph.nodes[root as usize].kind, Kind::Code { .. }) {
        return Err(MarshalError::Invalid {
            offset: 0,
            reason: "not a code object",
        });
    }
    let text = |node: u32| match graph.nodes[node as usize].kind {
        Kind::Str { data, .. } => String::from_utf8_lossy(&graph.bytes[data.range()]).into_owned(),
        _ => String::new(),
    };
    let code_object = |node: u32| {
        let Kind::Code { ints, objects } = graph.nodes[node as usize].kind else {
            return None;
        };
        let ints = &graph.ints[ints.range()];
        let objects = graph.kids(objects);
        let code = match graph.nodes[objects[0] as usize].kind {
            Kind::Bytes(data) => graph.bytes[data.range()].to_vec(),
            _ => Vec::new(),
        };
        let (first_const_is_str, names) = match (
            graph.nodes[objects[1] as usize].kind,
            graph.nodes[objects[2] as usize].kind,
        ) {
            (Kind::Tuple(consts), Kind::Tuple(names)) => (
                graph.kids(consts).first().is_some_and(|&first| {
                    matches!(graph.nodes[first as usize].kind, Kind::Str { .. })
                }),
                graph.kids(names).iter().map(|&name| text(name)).collect(),
            ),
            _ => (false, Vec::new()),
        };
        Some(CodeObject {
            name: text(objects[name_at]),
            filename: text(objects[filename_at]),
            flags: ints[flags_at] as u32,
            first_const_is_str,
            names,
            code,
        })
    };
    // Nodes are stored children first, so the outermost code object is the root, last.
    let mut found: Vec<CodeObject> = code_object(root).into_iter().collect();
    found.extend(
        (0..graph.nodes.len() as u32)
            .filter(|&node| node != root)
            .filter_map(code_object),
    );
    Ok(found)
}

/// `FLAG_REF`: the object gets the next back-reference index.
const FLAG_REF: u8 = 0x80;
/// The reader's `MAX_MARSHAL_STACK_DEPTH` (POSIX): no object sits deeper (the outermost at 1).
pub(crate) const MAX_DEPTH: usize = 2000;
/// Size of a `TYPE_REF`: a value no longer than this is never shared.
const REF_SIZE: u64 = 5;
/// Bound on the reference-free encoding of a set, built to order its elements.
const MAX_SET_ENCODING: u64 = 1 << 26;
const NO_INDEX: u32 = u32::MAX;
const PENDING: u32 = u32::MAX;

/// One field of a marshalled code object: a raw 32-bit int or an object.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Int,
    Object,
}
use Field::{Int as I, Object as O};

/// 3.8–3.10: argcount, posonlyargcount, kwonlyargcount, nlocals, stacksize, flags, code,
/// consts, names, varnames, freevars, cellvars, filename, name, firstlineno, lnotab/linetable.
const LAYOUT_38: &[Field] = &[I, I, I, I, I, I, O, O, O, O, O, O, O, O, I, O];
/// 3.11–3.14: argcount, posonlyargcount, kwonlyargcount, stacksize, flags, code, consts, names,
/// localsplusnames, localspluskinds, filename, name, qualname, firstlineno, linetable,
/// exceptiontable.
const LAYOUT_311: &[Field] = &[I, I, I, I, I, O, O, O, O, O, O, O, O, I, O, O];
/// Which object field of a code object is `co_filename`, in each layout.
const FILENAME_38: usize = 6;
const FILENAME_311: usize = 5;

/// A run of `len` items from `start` in one of the graph's pools.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// A parsed object. Byte payloads live in `Graph::bytes`, children in `Graph::children`.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `N`, `F`, `T`, `S` or `.`: the type byte.
    Singleton(u8),
    Int(i32),
    /// An int beyond 32 bits: sign and 15-bit digits (two bytes each, little-endian).
    Long {
        negative: bool,
        digits: Span,
    },
    Float(u64),
    Complex(u64, u64),
    Bytes(Span),
    /// UTF-8 (surrogatepass) bytes; `ascii` when every byte is below 0x80.
    Str {
        ascii: bool,
        data: Span,
    },
    Tuple(Span),
    List(Span),
    /// Keys and values, alternating.
    Dict(Span),
    Set(Span),
    FrozenSet(Span),
    /// Int fields in `Graph::ints`, object fields in `Graph::children`.
    Code {
        ints: Span,
        objects: Span,
    },
    Slice(Span),
}

#[derive(Debug, Clone, Copy)]
struct Node {
    kind: Kind,
    value: u32,
}

/// What all nodes with one value id share.
#[derive(Debug, Clone, Copy)]
struct Value {
    /// Length of the canonical encoding without any back-reference.
    size: u64,
    /// Mutable container or code object: shared only where the input shared the object.
    identity: bool,
    /// The first node with this value.
    node: u32,
}

impl Value {
    /// Whether the value can be shared (written once and referenced after): the walk counts
    /// these. Any value it holds is one too (a smaller value cannot hold a larger one).
    fn shareable(self) -> bool {
        self.identity || self.size > REF_SIZE
    }
}

#[derive(Default)]
struct Graph {
    nodes: Vec<Node>,
    values: Vec<Value>,
    bytes: Vec<u8>,
    children: Vec<u32>,
    ints: Vec<i32>,
    layout: &'static [Field],
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Exact hash-consing of value keys without one allocation per key: keys are stored back to
/// back (or left where they are, for payloads in `Graph::bytes`), the table maps a key's hash to
/// the newest value with that hash, and values with equal hashes are chained.
#[derive(Default)]
struct Interner {
    table: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    chain: Vec<u32>,
    keys: Vec<u8>,
    keys_at: Vec<KeyAt>,
}

/// Where a value's key is: its tag (0 for keys that carry their own type byte) and its bytes,
/// in `Interner::keys` or, for a payload, in `Graph::bytes`.
#[derive(Clone, Copy)]
struct KeyAt {
    span: Span,
    tag: u8,
    in_graph: bool,
}

impl Interner {
    /// The value id of the key `tag` and `key`, and whether it is new. `payload`: where `key`
    /// is in `graph_bytes` (`Graph::bytes`), to be kept there rather than copied.
    // `push` is too large for the inliner to take this in, and the call cost more than the
    // copies it saves (callgrind).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn intern(
        &mut self,
        tag: u8,
        key: &[u8],
        graph_bytes: &[u8],
        payload: Option<Span>,
    ) -> (u32, bool) {
        let hash = hash_bytes(key) ^ u64::from(tag);
        // One probe of the table: the entry is updated in place when the key is new.
        let entry = self.table.entry(hash);
        let head = match &entry {
            Entry::Occupied(newest) => *newest.get(),
            Entry::Vacant(_) => NO_INDEX,
        };
        let mut cursor = head;
        while cursor != NO_INDEX {
            let at = self.keys_at[cursor as usize];
            let pool = if at.in_graph { graph_bytes } else { &self.keys };
            if at.tag == tag && &pool[at.span.range()] == key {
                return (cursor, false);
            }
            cursor = self.chain[cursor as usize];
        }
        let id = self.chain.len() as u32;
        self.chain.push(head);
        let span = payload.unwrap_or_else(|| {
            let start = self.keys.len() as u32;
            self.keys.extend_from_slice(key);
            Span {
                start,
                len: key.len() as u32,
            }
        });
        self.keys_at.push(KeyAt {
            span,
            tag,
            in_graph: payload.is_some(),
        });
        match entry {
            Entry::Occupied(mut newest) => *newest.get_mut() = id,
            Entry::Vacant(slot) => {
                slot.insert(id);
            }
        }
        (id, true)
    }

    /// A value id equal to no other.
    fn fresh(&mut self) -> u32 {
        let id = self.chain.len() as u32;
        self.chain.push(NO_INDEX);
        self.keys_at.push(KeyAt {
            span: Span { start: 0, len: 0 },
            tag: 0,
            in_graph: false,
        });
        id
    }
}

/// FxHash-style word hash; quality only affects speed, equality is checked on the key.
fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut hash = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap());
        hash = (hash.rotate_left(5) ^ word).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    hash = (hash.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    hash ^ (hash >> 32)
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    depth: usize,
    allow_slice: bool,
    build: Builder,
    /// Back-reference table: node index, or `PENDING` while the object is being read.
    refs: Vec<u32>,
    /// The `co_filename` to put in every code object: the name, the object field it goes in,
    /// and its node once made.
    filename: Option<(&'a str, usize, u32)>,
}

impl<'a> Parser<'a> {
    fn new(data: &'a [u8], layout: &'static [Field], allow_slice: bool) -> Self {
        Parser {
            data,
            pos: 0,
            depth: 0,
            allow_slice,
            build: Builder::new(layout, data.len()),
            refs: Vec::with_capacity(data.len() / 64),
            filename: None,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], MarshalError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len());
        let Some(end) = end else {
            return Err(MarshalError::Truncated {
                offset: self.data.len(),
            });
        };
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, MarshalError> {
        Ok(self.take(1)?[0])
    }

    fn int(&mut self) -> Result<i32, MarshalError> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }

    /// A 32-bit size field, which the reader requires to be non-negative.
    fn size(&mut self, offset: usize) -> Result<usize, MarshalError> {
        let n = self.int()?;
        usize::try_from(n).map_err(|_| MarshalError::Invalid {
            offset,
            reason: "negative size",
        })
    }

    fn f64_bits(&mut self) -> Result<u64, MarshalError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    /// A `TYPE_FLOAT` text float, as `PyOS_string_to_double` would read it.
    fn text_float(&mut self, offset: usize) -> Result<u64, MarshalError> {
        let n = self.byte()? as usize;
        let text = self.take(n)?;
        std::str::from_utf8(text)
            .ok()
            .and_then(|text| text.parse::<f64>().ok())
            .map(f64::to_bits)
            .ok_or(MarshalError::Invalid {
                offset,
                reason: "unreadable text float",
            })
    }

    fn object(&mut self) -> Result<u32, MarshalError> {
        let offset = self.pos;
        self.object_or_null()?.ok_or(MarshalError::Invalid {
            offset,
            reason: "NULL object outside a dict",
        })
    }

    /// Read one object; `None` for `TYPE_NULL` (the end of a dict).
    fn object_or_null(&mut self) -> Result<Option<u32>, MarshalError> {
        let offset = self.pos;
        let code = self.byte()?;
        let flag = code & FLAG_REF != 0;
        let ty = code & !FLAG_REF;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(MarshalError::Invalid {
                offset,
                reason: "nested too deeply",
            });
        }
        let node = match ty {
            b'0' => None,
            // The reader never registers these, whatever the flag says.
            b'N' | b'F' | b'T' | b'S' | b'.' => Some(self.build.singleton(ty)),
            b'r' => {
                let index = self.int()?;
                let target = usize::try_from(index)
                    .ok()
                    .and_then(|index| self.refs.get(index))
                    .copied()
                    .filter(|&node| node != PENDING);
                Some(target.ok_or(MarshalError::BadRef {
                    index: index.into(),
                    offset,
                })?)
            }
            b'i' => {
                let value = self.int()?;
                Some(self.leaf(flag, Kind::Int(value)))
            }
            b'I' => {
                let value = i64::from_le_bytes(self.take(8)?.try_into().unwrap());
                let kind = self.build.int_kind(value.into());
                Some(self.leaf(flag, kind))
            }
            b'l' => {
                let kind = self.long(offset)?;
                Some(self.leaf(flag, kind))
            }
            b'g' => {
                let bits = self.f64_bits()?;
                Some(self.leaf(flag, Kind::Float(bits)))
            }
            b'f' => {
                let bits = self.text_float(offset)?;
                Some(self.leaf(flag, Kind::Float(bits)))
            }
            b'y' => {
                let real = self.f64_bits()?;
                let imag = self.f64_bits()?;
                Some(self.leaf(flag, Kind::Complex(real, imag)))
            }
            b'x' => {
                let real = self.text_float(offset)?;
                let imag = self.text_float(offset)?;
                Some(self.leaf(flag, Kind::Complex(real, imag)))
            }
            b's' => {
                let n = self.size(offset)?;
                let bytes = self.take(n)?;
                let span = self.build.store(bytes);
                Some(self.leaf(flag, Kind::Bytes(span)))
            }
            b'a' | b'A' | b'z' | b'Z' => {
                let n = if ty.eq_ignore_ascii_case(&b'a') {
                    self.size(offset)?
                } else {
                    self.byte()? as usize
                };
                let latin1 = self.take(n)?;
                let kind = self.build.latin1_str(latin1);
                Some(self.leaf(flag, kind))
            }
            b'u' | b't' => {
                let n = self.size(offset)?;
                let utf8 = self.take(n)?;
                let kind = self.build.utf8_str(utf8);
                Some(self.leaf(flag, kind))
            }
            b'(' | b')' | b'[' | b'<' | b'>' => {
                let n = if ty == b')' {
                    self.byte()? as usize
                } else {
                    self.size(offset)?
                };
                let slot = self.reserve(flag);
                let base = self.build.stack.len();
                for _ in 0..n {
                    let child = self.object()?;
                    self.build.stack.push(child);
                }
                let span = self.build.pop_children(base);
                let kind = match ty {
                    b'(' | b')' => Kind::Tuple(span),
                    b'[' => Kind::List(span),
                    _ => {
                        self.build.sort_set(span, offset)?;
                        if ty == b'<' {
                            Kind::Set(span)
                        } else {
                            Kind::FrozenSet(span)
                        }
                    }
                };
                Some(self.finish(slot, kind))
            }
            b'{' => {
                let slot = self.reserve(flag);
                let base = self.build.stack.len();
                while let Some(key) = self.object_or_null()? {
                    let value = self.object()?;
                    self.build.stack.extend([key, value]);
                }
                let span = self.build.pop_children(base);
                Some(self.finish(slot, Kind::Dict(span)))
            }
            b'c' => {
                let slot = self.reserve(flag);
                let base = self.build.stack.len();
                let mut raw = [0i32; 8];
                let mut n_ints = 0;
                let mut n_objects = 0;
                for &field in self.build.graph.layout {
                    if field == Field::Int {
                        raw[n_ints] = self.int()?;
                        n_ints += 1;
                    } else {
                        let mut child = self.object()?;
                        if let Some((name, index, node)) = self.filename
                            && index == n_objects
                        {
                            // Read as written (a back-reference may point at it), then replaced.
                            child = if node == NO_INDEX {
                                self.filename_node(name, index)
                            } else {
                                node
                            };
                        }
                        n_objects += 1;
                        self.build.stack.push(child);
                    }
                }
                let objects = self.build.pop_children(base);
                let ints = Span {
                    start: self.build.graph.ints.len() as u32,
                    len: n_ints as u32,
                };
                self.build.graph.ints.extend_from_slice(&raw[..n_ints]);
                Some(self.finish(slot, Kind::Code { ints, objects }))
            }
            b':' if self.allow_slice => {
                let slot = self.reserve(flag);
                let base = self.build.stack.len();
                for _ in 0..3 {
                    let child = self.object()?;
                    self.build.stack.push(child);
                }
                let span = self.build.pop_children(base);
                Some(self.finish(slot, Kind::Slice(span)))
            }
            _ => return Err(MarshalError::UnknownType { byte: ty, offset }),
        };
        self.depth -= 1;
        Ok(node)
    }

    /// The node of the replacement `co_filename`, made on first use.
    fn filename_node(&mut self, name: &'a str, index: usize) -> u32 {
        let data = self.build.store(name.as_bytes());
        let node = self.build.push(Kind::Str {
            ascii: name.is_ascii(),
            data,
        });
        self.filename = Some((name, index, node));
        node
    }

    /// `TYPE_LONG`: a signed digit count, then 15-bit digits, least significant first.
    fn long(&mut self, offset: usize) -> Result<Kind, MarshalError> {
        let n = self.int()?;
        if n == i32::MIN {
            return Err(MarshalError::Invalid {
                offset,
                reason: "long size out of range",
            });
        }
        let digits = self.take(n.unsigned_abs() as usize * 2)?;
        self.build
            .long_kind(n < 0, digits)
            .map_err(|reason| MarshalError::Invalid { offset, reason })
    }

    /// Reserve a back-reference slot now (containers register before their children).
    fn reserve(&mut self, flag: bool) -> Option<usize> {
        flag.then(|| {
            self.refs.push(PENDING);
            self.refs.len() - 1
        })
    }

    /// A childless object: registered after it is read.
    fn leaf(&mut self, flag: bool, kind: Kind) -> u32 {
        let node = self.build.push(kind);
        if flag {
            self.refs.push(node);
        }
        node
    }

    fn finish(&mut self, slot: Option<usize>, kind: Kind) -> u32 {
        let node = self.build.push(kind);
        if let Some(slot) = slot {
            self.refs[slot] = node;
        }
        node
    }
}

/// The value graph being built: nodes hash-consed as they arrive, children before their
/// container. What both front ends feed: the marshal [`Parser`] and [`Canonical`].
struct Builder {
    graph: Graph,
    interner: Interner,
    /// Children of the containers being built, innermost last.
    stack: Vec<u32>,
    /// Scratch space for value keys.
    key: Vec<u8>,
    singletons: [u32; 5],
}

impl Builder {
    /// Pools sized for a marshal stream of about `size` bytes.
    fn new(layout: &'static [Field], size: usize) -> Self {
        // Sized from the stream so the pools are not copied as they grow. Over the 3.11
        // stdlib's code objects (50 MB of marshal) there is one node per 55 bytes, one child
        // per 27 and one reference per 126, and payloads take 0.8 of the stream (the keys
        // that are not payloads far less): these leave room for the modules above the average.
        let objects = size / 32;
        Builder {
            graph: Graph {
                layout,
                nodes: Vec::with_capacity(objects),
                values: Vec::with_capacity(objects),
                bytes: Vec::with_capacity(size),
                children: Vec::with_capacity(size / 16),
                ints: Vec::new(),
            },
            interner: Interner {
                table: HashMap::with_capacity_and_hasher(objects, BuildHasherDefault::default()),
                chain: Vec::with_capacity(objects),
                keys: Vec::with_capacity(size / 4),
                keys_at: Vec::with_capacity(objects),
            },
            stack: Vec::with_capacity(64),
            key: Vec::with_capacity(256),
            singletons: [NO_INDEX; 5],
        }
    }

    fn singleton(&mut self, ty: u8) -> u32 {
        let slot = match ty {
            b'N' => 0,
            b'F' => 1,
            b'T' => 2,
            b'S' => 3,
            _ => 4,
        };
        if self.singletons[slot] == NO_INDEX {
            self.singletons[slot] = self.push(Kind::Singleton(ty));
        }
        self.singletons[slot]
    }

    /// A `TYPE_LONG`'s 15-bit digits (two bytes each, little-endian, least significant
    /// first) as the reader takes them: normalised to `TYPE_INT` when they fit 32 bits.
    fn long_kind(&mut self, negative: bool, digits: &[u8]) -> Result<Kind, &'static str> {
        let count = digits.len() / 2;
        let digit = |i: usize| u16::from_le_bytes([digits[2 * i], digits[2 * i + 1]]);
        if (0..count).any(|i| digit(i) > 0x7fff) {
            return Err("digit out of range in long");
        }
        if count > 0 && digit(count - 1) == 0 {
            return Err("unnormalized long");
        }
        if count <= 3 {
            let magnitude = (0..count).fold(0i64, |acc, i| acc | i64::from(digit(i)) << (15 * i));
            let value = if negative { -magnitude } else { magnitude };
            return Ok(self.int_kind(value.into()));
        }
        Ok(Kind::Long {
            negative,
            digits: self.store(digits),
        })
    }

    /// An int as CPython writes it: `TYPE_INT` within 32 bits, else `TYPE_LONG`.
    fn int_kind(&mut self, value: i128) -> Kind {
        if let Ok(small) = i32::try_from(value) {
            return Kind::Int(small);
        }
        let mut magnitude = value.unsigned_abs();
        let start = self.graph.bytes.len() as u32;
        while magnitude != 0 {
            let digit = (magnitude & 0x7fff) as u16;
            self.graph.bytes.extend_from_slice(&digit.to_le_bytes());
            magnitude >>= 15;
        }
        let len = self.graph.bytes.len() as u32 - start;
        Kind::Long {
            negative: value < 0,
            digits: Span { start, len },
        }
    }

    /// A string from its UTF-8 (surrogatepass) bytes.
    fn utf8_str(&mut self, utf8: &[u8]) -> Kind {
        let ascii = utf8.is_ascii();
        let data = self.store(utf8);
        Kind::Str { ascii, data }
    }

    /// A string read as Latin-1 (the ASCII types), stored as UTF-8.
    fn latin1_str(&mut self, latin1: &[u8]) -> Kind {
        if latin1.is_ascii() {
            let data = self.store(latin1);
            return Kind::Str { ascii: true, data };
        }
        let start = self.graph.bytes.len() as u32;
        for &byte in latin1 {
            if byte < 0x80 {
                self.graph.bytes.push(byte);
            } else {
                self.graph
                    .bytes
                    .extend_from_slice(&[0xc0 | (byte >> 6), 0x80 | (byte & 0x3f)]);
            }
        }
        let len = self.graph.bytes.len() as u32 - start;
        Kind::Str {
            ascii: false,
            data: Span { start, len },
        }
    }

    fn store(&mut self, bytes: &[u8]) -> Span {
        let start = self.graph.bytes.len() as u32;
        self.graph.bytes.extend_from_slice(bytes);
        Span {
            start,
            len: bytes.len() as u32,
        }
    }

    fn pop_children(&mut self, base: usize) -> Span {
        let start = self.graph.children.len() as u32;
        self.graph.children.extend(self.stack.drain(base..));
        Span {
            start,
            len: self.graph.children.len() as u32 - start,
        }
    }

    /// Add a node whose children are complete, giving it a value id.
    fn push(&mut self, mut kind: Kind) -> u32 {
        // A payload (bytes, a string's text, a long's digits) is its own key, in place in
        // `graph.bytes`: not copied into the key and the interner; a repeated one is dropped
        // and the node points at the first.
        let (tag, payload) = match kind {
            Kind::Bytes(data) => (b's', Some(data)),
            Kind::Str { data, .. } => (b'u', Some(data)),
            Kind::Long { negative, digits } => (if negative { b'-' } else { b'l' }, Some(digits)),
            _ => (0, None),
        };
        let (value, new, identity) = if let Some(data) = payload {
            let bytes = &mut self.graph.bytes;
            let (value, new) = self
                .interner
                .intern(tag, &bytes[data.range()], bytes, Some(data));
            if !new {
                let first = self.interner.keys_at[value as usize].span;
                if data.start + data.len == bytes.len() as u32 {
                    bytes.truncate(data.start as usize);
                }
                kind = kind.with_payload(first);
            }
            (value, new, false)
        } else {
            let graph = &self.graph;
            let key = &mut self.key;
            key.clear();
            let child_values = |span: Span, key: &mut Vec<u8>| {
                for &child in &graph.children[span.range()] {
                    key.extend_from_slice(&graph.nodes[child as usize].value.to_le_bytes());
                }
            };
            let identity = match kind {
                Kind::Singleton(ty) => {
                    key.push(ty);
                    false
                }
                Kind::Int(value) => {
                    key.push(b'i');
                    key.extend_from_slice(&value.to_le_bytes());
                    false
                }
                Kind::Float(bits) => {
                    key.push(b'g');
                    key.extend_from_slice(&bits.to_le_bytes());
                    false
                }
                Kind::Complex(real, imag) => {
                    key.push(b'y');
                    key.extend_from_slice(&real.to_le_bytes());
                    key.extend_from_slice(&imag.to_le_bytes());
                    false
                }
                Kind::Tuple(span) => {
                    key.push(b'(');
                    child_values(span, key);
                    false
                }
                Kind::FrozenSet(span) => {
                    key.push(b'>');
                    child_values(span, key);
                    false
                }
                Kind::Slice(span) => {
                    key.push(b':');
                    child_values(span, key);
                    false
                }
                Kind::List(_) | Kind::Dict(_) | Kind::Set(_) | Kind::Code { .. } => true,
                Kind::Bytes(_) | Kind::Str { .. } | Kind::Long { .. } => unreachable!(),
            };
            let (value, new) = if identity {
                (self.interner.fresh(), true)
            } else {
                self.interner.intern(0, &self.key, &self.graph.bytes, None)
            };
            (value, new, identity)
        };
        if new {
            let size = self.graph.size(kind);
            let node = self.graph.nodes.len() as u32;
            self.graph.values.push(Value {
                size,
                identity,
                node,
            });
        }
        self.graph.nodes.push(Node { kind, value });
        self.graph.nodes.len() as u32 - 1
    }

    /// Order set elements by their canonical reference-free encoding.
    fn sort_set(&mut self, span: Span, offset: usize) -> Result<(), MarshalError> {
        let graph = &self.graph;
        let elements = &graph.children[span.range()];
        let total: u64 = elements
            .iter()
            .map(|&node| graph.values[graph.nodes[node as usize].value as usize].size)
            .sum();
        if total > MAX_SET_ENCODING {
            return Err(MarshalError::Invalid {
                offset,
                reason: "set elements too large to order",
            });
        }
        let mut encoded = Vec::with_capacity(total as usize);
        let mut order: Vec<(usize, usize, u32)> = elements
            .iter()
            .map(|&node| {
                let start = encoded.len();
                graph.encode_plain(node, &mut encoded);
                (start, encoded.len(), node)
            })
            .collect();
        order.sort_by(|a, b| encoded[a.0..a.1].cmp(&encoded[b.0..b.1]));
        let sorted: Vec<u32> = order.into_iter().map(|(_, _, node)| node).collect();
        self.graph.children[span.range()].copy_from_slice(&sorted);
        Ok(())
    }
}

/// CPython's `all_name_chars`: the strings its code constructor interns.
fn all_name_chars(bytes: &[u8]) -> bool {
    bytes.iter().all(|&byte| NAME_CHARS[usize::from(byte)])
}

/// `[A-Za-z0-9_]`, by byte: one load a character where the ranges take several tests.
static NAME_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = (byte as u8).is_ascii_alphanumeric() || byte == b'_' as usize;
        byte += 1;
    }
    table
};

impl Graph {
    fn value(&self, node: u32) -> Value {
        self.values[self.nodes[node as usize].value as usize]
    }

    fn kids(&self, span: Span) -> &[u32] {
        &self.children[span.range()]
    }

    fn sum(&self, span: Span) -> u64 {
        self.kids(span)
            .iter()
            .map(|&child| self.value(child).size)
            .sum()
    }

    /// Length of the canonical reference-free encoding of a node of this kind.
    fn size(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Singleton(_) => 1,
            Kind::Int(_) => 5,
            Kind::Long { digits, .. } => 5 + u64::from(digits.len),
            Kind::Float(_) => 9,
            Kind::Complex(..) => 17,
            Kind::Bytes(data) => 5 + u64::from(data.len),
            Kind::Str { ascii, data } => {
                let header = if ascii && data.len < 256 { 2 } else { 5 };
                header + u64::from(data.len)
            }
            Kind::Tuple(span) => (if span.len < 256 { 2 } else { 5 }) + self.sum(span),
            Kind::List(span) | Kind::Set(span) | Kind::FrozenSet(span) => 5 + self.sum(span),
            Kind::Dict(span) => 2 + self.sum(span),
            Kind::Code { ints, objects } => 1 + 4 * u64::from(ints.len) + self.sum(objects),
            Kind::Slice(span) => 1 + self.sum(span),
        }
    }

    /// Count, per shareable value, how often the pre-order walk of the canonical stream from
    /// `root` reaches it, in full or as a reference. A shareable value's children are walked
    /// once, however often it is reached, and hold no shareable value under one that is not:
    /// so a value is reached once per place among the children of the reached shareable
    /// values. Values are numbered children first, so one pass from the last one counts each
    /// value before its children (no recursion).
    fn count(&self, root: u32) -> Vec<u32> {
        let mut counts = vec![0u32; self.values.len()];
        let root = self.nodes[root as usize].value as usize;
        if self.values[root].shareable() {
            counts[root] = 1;
        }
        for value in (0..=root).rev() {
            if counts[value] == 0 {
                continue;
            }
            let kind = self.nodes[self.values[value].node as usize].kind;
            if let Some(span) = kind.children() {
                for &child in self.kids(span) {
                    let child = self.nodes[child as usize].value;
                    if self.values[child as usize].shareable() {
                        counts[child as usize] += 1;
                    }
                }
            }
        }
        counts
    }

    /// Write the canonical encoding of `node` with no `FLAG_REF` and no `TYPE_REF`.
    fn encode_plain(&self, node: u32, out: &mut Vec<u8>) {
        let kind = self.nodes[node as usize].kind;
        self.write_head(kind, 0, out);
        self.write_body(kind, &mut Plain { graph: self, out });
    }

    /// The type byte (with `flag`) and everything up to the first child.
    fn write_head(&self, kind: Kind, flag: u8, out: &mut Vec<u8>) {
        let sized = |out: &mut Vec<u8>, ty: u8, n: u32| {
            out.push(ty | flag);
            out.extend_from_slice(&n.to_le_bytes());
        };
        match kind {
            Kind::Singleton(ty) => out.push(ty),
            Kind::Int(value) => {
                out.push(b'i' | flag);
                out.extend_from_slice(&value.to_le_bytes());
            }
            Kind::Long { negative, digits } => {
                let n = (digits.len / 2) as i32;
                out.push(b'l' | flag);
                out.extend_from_slice(&(if negative { -n } else { n }).to_le_bytes());
                out.extend_from_slice(&self.bytes[digits.range()]);
            }
            Kind::Float(bits) => {
                out.push(b'g' | flag);
                out.extend_from_slice(&bits.to_le_bytes());
            }
            Kind::Complex(real, imag) => {
                out.push(b'y' | flag);
                out.extend_from_slice(&real.to_le_bytes());
                out.extend_from_slice(&imag.to_le_bytes());
            }
            Kind::Bytes(data) => {
                sized(out, b's', data.len);
                out.extend_from_slice(&self.bytes[data.range()]);
            }
            Kind::Str { ascii, data } => write_str(&self.bytes[data.range()], ascii, flag, out),
            Kind::Tuple(span) => {
                if span.len < 256 {
                    out.extend_from_slice(&[b')' | flag, span.len as u8]);
                } else {
                    sized(out, b'(', span.len);
                }
            }
            Kind::List(span) => sized(out, b'[', span.len),
            Kind::Set(span) => sized(out, b'<', span.len),
            Kind::FrozenSet(span) => sized(out, b'>', span.len),
            Kind::Dict(_) => out.push(b'{' | flag),
            Kind::Code { .. } => out.push(b'c' | flag),
            Kind::Slice(_) => out.push(b':' | flag),
        }
    }

    /// The children (and, for code objects, the int fields between them) and any trailer.
    fn write_body(&self, kind: Kind, sink: &mut impl Sink) {
        if let Kind::Code { ints, objects } = kind {
            let mut ints = self.ints[ints.range()].iter();
            let mut objects = self.kids(objects).iter();
            for &field in self.layout {
                if field == Field::Int {
                    let int = ints.next().unwrap();
                    sink.out().extend_from_slice(&int.to_le_bytes());
                } else {
                    sink.child(*objects.next().unwrap());
                }
            }
            return;
        }
        if let Some(span) = kind.children() {
            for &node in self.kids(span) {
                sink.child(node);
            }
        }
        if let Kind::Dict(_) = kind {
            sink.out().push(b'0');
        }
    }
}

/// Where [`Graph::write_body`] writes: the stream so far, and the writing of a child.
trait Sink {
    fn out(&mut self) -> &mut Vec<u8>;
    fn child(&mut self, node: u32);
}

/// The reference-free encoding ([`Graph::encode_plain`]).
struct Plain<'g, 'o> {
    graph: &'g Graph,
    out: &'o mut Vec<u8>,
}

impl Sink for Plain<'_, '_> {
    fn out(&mut self) -> &mut Vec<u8> {
        self.out
    }

    fn child(&mut self, node: u32) {
        self.graph.encode_plain(node, self.out);
    }
}

impl Sink for Writer<'_> {
    fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    fn child(&mut self, node: u32) {
        self.write(node);
    }
}

/// A string as CPython picks its type (see the module docs), with `flag`.
fn write_str(bytes: &[u8], ascii: bool, flag: u8, out: &mut Vec<u8>) {
    let len = bytes.len() as u32;
    if ascii {
        let interned = all_name_chars(bytes);
        if len < 256 {
            out.push(if interned { b'Z' } else { b'z' } | flag);
            out.push(len as u8);
        } else {
            out.push(if interned { b'A' } else { b'a' } | flag);
            out.extend_from_slice(&len.to_le_bytes());
        }
    } else {
        out.push(b'u' | flag);
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(bytes);
}

impl Kind {
    /// The same kind with its payload (bytes, text or digits) at `data` instead.
    fn with_payload(self, data: Span) -> Kind {
        match self {
            Kind::Bytes(_) => Kind::Bytes(data),
            Kind::Str { ascii, .. } => Kind::Str { ascii, data },
            Kind::Long { negative, .. } => Kind::Long {
                negative,
                digits: data,
            },
            other => other,
        }
    }

    fn children(self) -> Option<Span> {
        match self {
            Kind::Tuple(span)
            | Kind::List(span)
            | Kind::Dict(span)
            | Kind::Set(span)
            | Kind::FrozenSet(span)
            | Kind::Slice(span)
            | Kind::Code { objects: span, .. } => Some(span),
            _ => None,
        }
    }
}

struct Writer<'g> {
    graph: &'g Graph,
    counts: &'g [u32],
    /// Back-reference index per value, once written with `FLAG_REF`.
    indices: Vec<u32>,
    next_index: u32,
    out: Vec<u8>,
    /// The value whose first full write [`Writer::slot`] records (the filename), or `NO_INDEX`.
    track: u32,
    slot: Option<usize>,
}

impl Writer<'_> {
    fn write(&mut self, node: u32) {
        let graph = self.graph;
        let Node { kind, value } = graph.nodes[node as usize];
        let mut flag = 0;
        if self.counts[value as usize] > 1 {
            let index = self.indices[value as usize];
            if index != NO_INDEX {
                self.out.push(b'r');
                self.out.extend_from_slice(&index.to_le_bytes());
                return;
            }
            self.indices[value as usize] = self.next_index;
            self.next_index += 1;
            flag = FLAG_REF;
        }
        if value == self.track && self.slot.is_none() {
            self.slot = Some(self.out.len());
        }
        graph.write_head(kind, flag, &mut self.out);
        graph.write_body(kind, self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(data: &[u8]) -> Vec<u8> {
        let out = canonicalize(data, 12).unwrap();
        assert_eq!(canonicalize(&out, 12).unwrap(), out, "not idempotent");
        out
    }

    #[test]
    fn unused_flag_ref_dropped() {
        // ('abcdef' with FLAG_REF, never referenced), 1 with FLAG_REF
        let data = b"\xa9\x02\xda\x06abcdef\xe9\x01\x00\x00\x00";
        assert_eq!(canon(data), b")\x02Z\x06abcdefi\x01\x00\x00\x00");
    }

    #[test]
    fn refs_renumbered() {
        // (1 [ref 0, unused], 'hello world' [ref 1], ref 1)
        let data = b")\x03\xe9\x01\x00\x00\x00\xfa\x0bhello worldr\x02\x00\x00\x00";
        assert!(matches!(
            canonicalize(data, 12),
            Err(MarshalError::BadRef { index: 2, .. })
        ));
        let data = b")\x03\xe9\x01\x00\x00\x00\xfa\x0bhello worldr\x01\x00\x00\x00";
        assert_eq!(
            canon(data),
            b")\x03i\x01\x00\x00\x00\xfa\x0bhello worldr\x00\x00\x00\x00"
        );
    }

    #[test]
    fn equal_strings_shared_whatever_their_identity() {
        // Two separate equal strings, one of them interned: one object in canonical form.
        let one = b")\x02z\x06abcdefz\x06abcdef";
        let two = b")\x02\xda\x06abcdefr\x00\x00\x00\x00";
        let three = b"\xa9\x02\xda\x06abcdefr\x01\x00\x00\x00";
        let expected = b")\x02\xda\x06abcdefr\x00\x00\x00\x00";
        assert_eq!(canon(one), expected);
        assert_eq!(canon(two), expected);
        assert_eq!(canon(three), expected);
    }

    #[test]
    fn short_values_never_shared() {
        let data = b")\x02\xe9\x07\x00\x00\x00r\x00\x00\x00\x00";
        assert_eq!(canon(data), b")\x02i\x07\x00\x00\x00i\x07\x00\x00\x00");
    }

    #[test]
    fn frozenset_ordered() {
        let a = b">\x03\x00\x00\x00z\x01bi\x02\x00\x00\x00z\x01a";
        let b = b">\x03\x00\x00\x00i\x02\x00\x00\x00Z\x01az\x01b";
        let expected = b">\x03\x00\x00\x00Z\x01aZ\x01bi\x02\x00\x00\x00";
        assert_eq!(canon(a), expected);
        assert_eq!(canon(b), expected);
    }

    #[test]
    fn interned_flag_normalised() {
        // name chars -> interned; others -> not; non-ASCII -> 'u' whatever it was.
        let data = b")\x03z\x03abcZ\x03a bt\x02\x00\x00\x00\xc3\xa9";
        assert_eq!(
            canon(data),
            b")\x03Z\x03abcz\x03a bu\x02\x00\x00\x00\xc3\xa9"
        );
        // 'u' holding ASCII becomes short ASCII; Latin-1 'z' becomes UTF-8 'u'.
        assert_eq!(canon(b"u\x01\x00\x00\x00x"), b"Z\x01x");
        assert_eq!(canon(b"z\x01\xe9"), b"u\x02\x00\x00\x00\xc3\xa9");
    }

    #[test]
    fn ints_normalised() {
        // TYPE_LONG within 32 bits, TYPE_INT64 beyond.
        assert_eq!(canon(b"l\x01\x00\x00\x00\x05\x00"), b"i\x05\x00\x00\x00");
        assert_eq!(canon(b"l\x00\x00\x00\x00"), b"i\x00\x00\x00\x00");
        let big = canon(b"I\x00\x00\x00\x00\x01\x00\x00\x00"); // 2**32
        assert_eq!(big, b"l\x03\x00\x00\x00\x00\x00\x00\x00\x04\x00");
        assert!(canonicalize(b"l\x01\x00\x00\x00\x00\x00", 12).is_err());
    }

    #[test]
    fn container_refs_reserved_before_children() {
        // Tuple ref 0 holds 'xxxxxx' ref 1; then a ref to the tuple and to the string.
        let data = b")\x03\xa9\x01\xfa\x06xxxxxxr\x00\x00\x00\x00r\x01\x00\x00\x00";
        assert_eq!(
            canon(data),
            b")\x03\xa9\x01\xda\x06xxxxxxr\x00\x00\x00\x00r\x01\x00\x00\x00"
        );
        // A singleton's FLAG_REF takes no index.
        let data = b")\x03\xce\xfa\x06yyyyyyr\x00\x00\x00\x00";
        assert_eq!(canon(data), b")\x03N\xda\x06yyyyyyr\x00\x00\x00\x00");
    }

    #[test]
    fn mutable_identity_kept() {
        // Two distinct empty lists stay two; one list referenced twice stays shared.
        let two = b")\x02[\x00\x00\x00\x00[\x00\x00\x00\x00";
        assert_eq!(canon(two), two);
        let shared = b")\x02\xdb\x00\x00\x00\x00r\x00\x00\x00\x00";
        assert_eq!(canon(shared), shared);
    }

    #[test]
    fn code_object() {
        // A 3.12 code object with a tiny body.
        let mut data = vec![b'\xe3'];
        for value in [0i32, 0, 0, 1, 0] {
            data.extend_from_slice(&value.to_le_bytes());
        }
        data.extend_from_slice(b"s\x02\x00\x00\x00\x97\x00"); // code
        data.extend_from_slice(b")\x01N"); // consts
        data.extend_from_slice(b")\x00"); // names
        data.extend_from_slice(b")\x00"); // localsplusnames
        data.extend_from_slice(b"s\x00\x00\x00\x00"); // localspluskinds
        data.extend_from_slice(b"\xfa\x04m.py"); // filename
        data.extend_from_slice(b"\xda\x08<module>"); // name
        data.extend_from_slice(b"r\x02\x00\x00\x00"); // qualname
        data.extend_from_slice(&1i32.to_le_bytes());
        data.extend_from_slice(b"\xf3\x00\x00\x00\x00r\x03\x00\x00\x00");
        let out = canon(&data);
        let mut expected = vec![b'c'];
        for value in [0i32, 0, 0, 1, 0] {
            expected.extend_from_slice(&value.to_le_bytes());
        }
        expected.extend_from_slice(b"s\x02\x00\x00\x00\x97\x00)\x01N)\x00)\x00");
        expected.extend_from_slice(b"s\x00\x00\x00\x00z\x04m.py\xfa\x08<module>r\x00\x00\x00\x00");
        expected.extend_from_slice(&1i32.to_le_bytes());
        expected.extend_from_slice(b"s\x00\x00\x00\x00s\x00\x00\x00\x00");
        assert_eq!(out, expected);
    }

    /// A 3.12 module whose constants are `consts` (marshalled), filename `m.py`.
    fn module(consts: &[u8]) -> Vec<u8> {
        let mut data = vec![b'c'];
        for value in [0i32, 0, 0, 1, 0] {
            data.extend_from_slice(&value.to_le_bytes());
        }
        data.extend_from_slice(b"s\x02\x00\x00\x00\x97\x00");
        data.extend_from_slice(consts);
        data.extend_from_slice(b")\x00)\x00s\x00\x00\x00\x00z\x04m.py\xda\x08<module>");
        data.extend_from_slice(b"r\x00\x00\x00\x00");
        data.extend_from_slice(&1i32.to_le_bytes());
        data.extend_from_slice(b"s\x00\x00\x00\x00s\x00\x00\x00\x00");
        data
    }

    #[test]
    fn filename_rewritten_or_spliced() {
        let plain = module(b")\x01N");
        let moved = with_filename(&plain, 12, "pkg/other.py").unwrap();
        assert!(moved.windows(14).any(|w| w == b"z\x0cpkg/other.py"));
        let (stored, slot) = with_filename_slot(&plain, 12, "<pyship>").unwrap();
        let slot = slot.expect("spliceable");
        assert_eq!(&stored[slot..slot + 10], b"z\x08<pyship>");
        assert_eq!(splice_filename(&stored, slot, "pkg/other.py"), Some(moved));
        // Non-ASCII and long names take the 4-byte length.
        for name in ["dir/é.py", &"x".repeat(300)] {
            let expected = with_filename(&plain, 12, name).unwrap();
            assert_eq!(splice_filename(&stored, slot, name), Some(expected));
        }
        // Too short to be shared, or in the stream already: no splice.
        assert_eq!(splice_filename(&stored, slot, "a.p"), None);
        assert_eq!(splice_filename(&stored, slot, "module"), None);
        assert_eq!(splice_filename(&stored, slot, ""), None);
        assert_eq!(splice_filename(&stored, slot + 1, "pkg/other.py"), None);

        // A constant equal to the filename is shared with it: relocating must split them, so
        // the slot is not offered; and a constant equal to the new name joins it.
        let with_constant = module(b")\x01z\x08<pyship>");
        let (stored, slot) = with_filename_slot(&with_constant, 12, "<pyship>").unwrap();
        assert_eq!(slot, None);
        let moved = with_filename(&stored, 12, "pkg/other.py").unwrap();
        assert_eq!(
            moved,
            with_filename(&with_constant, 12, "pkg/other.py").unwrap()
        );
        // The constant keeps its value, written once, no longer shared.
        assert!(moved.windows(10).any(|w| w == b"z\x08<pyship>"));
        assert!(moved.windows(14).any(|w| w == b"z\x0cpkg/other.py"));
        let joined = with_filename(&module(b")\x01z\x0cpkg/other.py"), 12, "pkg/other.py");
        let joined = joined.unwrap();
        assert!(joined.windows(14).any(|w| w == b"\xfa\x0cpkg/other.py"));
        assert_eq!(
            joined.windows(12).filter(|w| w == b"pkg/other.py").count(),
            1
        );
    }

    #[test]
    fn errors_name_the_offset() {
        assert_eq!(
            canonicalize(b")\x02N", 12).unwrap_err().to_string(),
            "Marshal data ends early at offset 3"
        );
        assert_eq!(
            canonicalize(b")\x01?", 12).unwrap_err().to_string(),
            "Unknown marshal type byte 0x3f at offset 2"
        );
        assert!(matches!(
            canonicalize(b":NNN", 12),
            Err(MarshalError::UnknownType { byte: b':', .. })
        ));
        assert!(canonicalize(b":NNN", 14).is_ok());
        assert_eq!(
            canonicalize(b"s\x05\x00\x00\x00ab", 12).unwrap_err(),
            MarshalError::Truncated { offset: 7 }
        );
        // A container referring to itself.
        assert!(matches!(
            canonicalize(b"\xa9\x01r\x00\x00\x00\x00", 12),
            Err(MarshalError::BadRef { index: 0, .. })
        ));
        assert_eq!(
            canonicalize(b"N", 7).unwrap_err().to_string(),
            "Canonical marshal is not supported for CPython 3.7"
        );
    }
}
