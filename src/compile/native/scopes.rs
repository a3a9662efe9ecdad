//! CPython 3.12's symbol table (`Python/symtable.c`) over Ruff's AST: the tree of scopes with,
//! per scope, each name's `DEF_*` flags and resolved scope, bit for bit what the `symtable`
//! module of CPython 3.12 shows (checked on the whole 3.12 stdlib by `tests/it/scopes.rs`).
//!
//! Two passes, as in CPython: [`Builder`] visits the AST and records raw facts per block
//! (`symtable_visit_*`), then [`Builder::analyze_block`] resolves every name (`analyze_block`,
//! `analyze_name`, `inline_comprehension`, `analyze_cells`, `drop_class_free`,
//! `update_symbols`). Function names here carry the name of the C function they follow.
//!
//! Whatever CPython's symbol table would reject with a `SyntaxError` (and syntax newer than 3.12
//! that Ruff accepts) is [`Refused`]: the compiler then falls back to CPython, which reports it.
//!
//! For the compiler:
//! - Parse with `ParseOptions::from(Mode::Module).with_target_version(PythonVersion::PY312)` and
//!   refuse a module with `errors()` or `unsupported_syntax_errors()`: Ruff reads newer syntax.
//! - Scopes are found by node ([`SymbolTable::function`], [`SymbolTable::comprehension`], ...);
//!   names are looked up mangled ([`mangle`]), as `compile.c` does with its own `u_private`.
//!   CPython 3.12.1 keeps mangling with a generic class's name after that class, in the rest of
//!   the enclosing block: `__x` after `class C[T]` in a function is `_C__x` in the table and in
//!   the bytecode (measured), so the compiler must carry the private name the same way. A name
//!   the table does not have is CPython's scope 0 (`_PyST_GetScope` of a missing name).
//! - `co_varnames` is [`ScopeRef::params`] then the other fast locals in the order code
//!   generation first meets them. The cells and frees are [`ScopeRef::sorted_names`] (`CELL`
//!   or `DEF_COMP_CELL`; `FREE` or `DEF_FREE_CLASS`: `dictbytype`'s sorted order), plus
//!   `__class__` / `__classdict__` for [`Scope::needs_class_closure`] / `needs_classdict`; in
//!   the code object a cell that is also in `co_varnames` (a parameter, an inlined
//!   comprehension's variable) keeps its `co_varnames` place and the others follow, sorted
//!   (measured: `def f(b, a)` with cells `a b c z` and an inlined `q` gives `b a q c z`).
//! - [`Scope::hash_ordered`]: where CPython's own output depends on `PYTHONHASHSEED`.

use rustc_hash::{FxBuildHasher, FxHashMap as HashMap, FxHashSet as HashSet};
use std::ops::Deref;
use std::sync::Arc;

use ruff_python_ast::{
    self as ast, Expr, ExprContext, InterpolatedStringElement, Pattern, Stmt, TypeParam,
};
use ruff_text_size::{Ranged, TextRange, TextSize};

/// The raw `DEF_*` flags of `Include/internal/pycore_symtable.h` (3.12).
pub mod flags {
    /// `global` statement.
    pub const DEF_GLOBAL: u32 = 1;
    /// Assignment in the block.
    pub const DEF_LOCAL: u32 = 2;
    /// Formal parameter.
    pub const DEF_PARAM: u32 = 2 << 1;
    /// `nonlocal` statement.
    pub const DEF_NONLOCAL: u32 = 2 << 2;
    /// The name is read.
    pub const USE: u32 = 2 << 3;
    /// Defined in CPython, never set by 3.12.
    pub const DEF_FREE: u32 = 2 << 4;
    /// Free in a method of the class, and bound or global in the class.
    pub const DEF_FREE_CLASS: u32 = 2 << 5;
    /// Bound by an import.
    pub const DEF_IMPORT: u32 = 2 << 6;
    /// Annotated (`x: int`).
    pub const DEF_ANNOT: u32 = 2 << 7;
    /// A comprehension's iteration variable.
    pub const DEF_COMP_ITER: u32 = 2 << 8;
    /// A PEP 695 type parameter.
    pub const DEF_TYPE_PARAM: u32 = 2 << 9;
    /// A cell in an inlined comprehension (PEP 709).
    pub const DEF_COMP_CELL: u32 = 2 << 10;
    /// Any binding.
    pub const DEF_BOUND: u32 = DEF_LOCAL | DEF_PARAM | DEF_IMPORT;
    /// Where the resolved scope sits in the flags.
    pub const SCOPE_OFFSET: u32 = 12;
    /// Its mask, after the shift.
    pub const SCOPE_MASK: u32 = DEF_GLOBAL | DEF_LOCAL | DEF_PARAM | DEF_NONLOCAL;
}

use flags::{
    DEF_ANNOT, DEF_BOUND, DEF_COMP_CELL, DEF_COMP_ITER, DEF_FREE_CLASS, DEF_GLOBAL, DEF_IMPORT,
    DEF_LOCAL, DEF_NONLOCAL, DEF_PARAM, DEF_TYPE_PARAM, SCOPE_MASK, SCOPE_OFFSET, USE,
};

/// The resolved scope of a name (`LOCAL` … `CELL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolved {
    /// A fast local, or a name in a module or class namespace.
    Local = 1,
    /// Declared `global`.
    GlobalExplicit = 2,
    /// Global or builtin because no enclosing function binds it.
    GlobalImplicit = 3,
    /// Bound in an enclosing function.
    Free = 4,
    /// Local and read by an enclosed scope.
    Cell = 5,
}

impl Resolved {
    fn from_bits(bits: u32) -> Option<Resolved> {
        match bits {
            1 => Some(Resolved::Local),
            2 => Some(Resolved::GlobalExplicit),
            3 => Some(Resolved::GlobalImplicit),
            4 => Some(Resolved::Free),
            5 => Some(Resolved::Cell),
            _ => None,
        }
    }
}

const LOCAL: u32 = Resolved::Local as u32;
const GLOBAL_EXPLICIT: u32 = Resolved::GlobalExplicit as u32;
const GLOBAL_IMPLICIT: u32 = Resolved::GlobalImplicit as u32;
const FREE: u32 = Resolved::Free as u32;
const CELL: u32 = Resolved::Cell as u32;

/// `_Py_block_ty`; the discriminants are the `type` the `_symtable` module shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockType {
    /// `def`, `async def`, `lambda`, comprehensions and generator expressions.
    Function = 0,
    /// A class body.
    Class = 1,
    /// The module.
    Module = 2,
    /// Annotations under `from __future__ import annotations` (never compiled, not listed).
    Annotation = 3,
    /// The bound of a PEP 695 `TypeVar`.
    TypeVarBound = 4,
    /// The value of a `type X = ...` alias.
    TypeAlias = 5,
    /// The hidden scope of a generic `def`, `class` or `type`.
    TypeParam = 6,
}

/// `_Py_comprehension_ty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comprehension {
    /// `[x for ...]`
    List = 1,
    /// `{k: v for ...}`
    Dict = 2,
    /// `{x for ...}`
    Set = 3,
    /// `(x for ...)`, never inlined.
    Generator = 4,
}

/// The AST node a scope belongs to, by kind and range (CPython keys by node address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockKey {
    /// The module.
    Module,
    /// A `def` / `async def` statement's range.
    Function(TextRange),
    /// A `class` statement's range.
    Class(TextRange),
    /// A `lambda` expression's range.
    Lambda(TextRange),
    /// A comprehension or generator expression's range (as Ruff gives it).
    Comprehension(TextRange),
    /// The `[...]` type parameter list of a generic `def`, `class` or `type`.
    TypeParams(TextRange),
    /// A `type X = ...` statement's range (the scope of its value).
    TypeAlias(TextRange),
    /// A `TypeVar` type parameter's range (the scope of its bound).
    TypeVarBound(TextRange),
}

/// Why no table was built: CPython's symbol table raises a `SyntaxError` here, or the source
/// uses syntax CPython 3.12 does not have. The module goes to CPython.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// What CPython 3.12 reports as a `SyntaxError` (its message, roughly).
    #[error("syntax error: {0}")]
    Syntax(String),
    /// Syntax Ruff accepts that 3.12 does not have.
    #[error("{0} is not Python 3.12")]
    NotPy312(&'static str),
    /// Nesting deeper than this implementation follows (CPython may raise `RecursionError`).
    #[error("the code nests too deeply")]
    TooDeep,
}

// Boxed: the visitor recurses along the AST and every level carries a few of these.
type Res<T = ()> = Result<T, Box<Refused>>;

fn syntax<T>(message: impl Into<String>) -> Res<T> {
    Err(Box::new(Refused::Syntax(message.into())))
}

/// Nesting past this is refused: CPython's own limit depends on the C stack it started with.
const MAX_DEPTH: u32 = 1000;

/// A name's index in [`SymbolTable`]'s name list.
pub type NameId = u32;
/// A scope's index in [`SymbolTable::scopes`].
pub type ScopeId = usize;

/// One name of a scope: its raw flags, scope bits included, as `ste_symbols` holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol {
    /// `DEF_*` bits | resolved scope << `SCOPE_OFFSET`.
    pub flags: u32,
}

impl Symbol {
    /// The resolved scope (`_PyST_GetScope`).
    pub fn scope(self) -> Option<Resolved> {
        Resolved::from_bits((self.flags >> SCOPE_OFFSET) & SCOPE_MASK)
    }

    /// Whether any of `flag` is set.
    pub fn has(self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// One block (`PySTEntryObject`).
#[derive(Debug, Clone)]
pub struct Scope {
    /// `ste_type`.
    pub kind: BlockType,
    /// `ste_name`: the def/class name, `lambda`, `listcomp`, `genexpr`, `top`, ...
    pub name: String,
    /// `ste_lineno`.
    pub lineno: u32,
    /// The code object's `co_firstlineno`: the first decorator's line for a decorated `def` or
    /// `class` (and its type parameter scope), else [`Scope::lineno`] (1 for the module).
    pub firstlineno: u32,
    /// The node it belongs to.
    pub key: BlockKey,
    /// The block it was entered from.
    pub parent: Option<ScopeId>,
    /// `ste_nested`.
    pub nested: bool,
    /// `ste_free`.
    pub free: bool,
    /// `ste_child_free`.
    pub child_free: bool,
    /// `ste_generator`.
    pub generator: bool,
    /// `ste_coroutine`.
    pub coroutine: bool,
    /// `ste_comprehension`.
    pub comprehension: Option<Comprehension>,
    /// `ste_varargs`.
    pub varargs: bool,
    /// `ste_varkeywords`.
    pub varkeywords: bool,
    /// `ste_returns_value`.
    pub returns_value: bool,
    /// `ste_needs_class_closure`: a class whose methods use `__class__` (or `super`).
    pub needs_class_closure: bool,
    /// `ste_needs_classdict`: a class whose annotation scopes read `__classdict__`.
    pub needs_classdict: bool,
    /// `ste_comp_inlined`: a comprehension inlined into its parent (PEP 709).
    pub comp_inlined: bool,
    /// `ste_can_see_class_scope`.
    pub can_see_class_scope: bool,
    /// The order of some symbols is CPython's set iteration order, which follows the string
    /// hashes (`PYTHONHASHSEED`): `update_symbols` added two or more free names from its
    /// children, or an inlined comprehension with such names was merged in. Where `compile.c`
    /// walks the symbols in order (an inlined comprehension in a class body pushes them all),
    /// CPython's own bytecode then changes from run to run, and the compiler should refuse.
    pub hash_ordered: bool,
    /// `ste_varnames`: the parameters in order (co_varnames starts with them).
    params: Vec<NameId>,
    /// `ste_children` after analysis: inlined comprehensions replaced by their children.
    children: Vec<ScopeId>,
    /// `ste_symbols`, in insertion order.
    symbols: Vec<(NameId, u32)>,
    /// Where each name is in `symbols`, once there are more than [`SCAN_SYMBOLS`] of them
    /// (below, a scan of `symbols` is cheaper than hashing, and most scopes stay there).
    index: HashMap<NameId, usize>,
    // Only while visiting.
    comp_iter_target: bool,
    comp_iter_expr: u32,
}

/// Up to this many symbols a scope finds a name by scanning, without its `index`.
const SCAN_SYMBOLS: usize = 16;

impl Scope {
    /// The position of `name` in `symbols`.
    fn slot(&self, name: NameId) -> Option<usize> {
        if self.symbols.len() <= SCAN_SYMBOLS {
            self.symbols.iter().position(|&(n, _)| n == name)
        } else {
            self.index.get(&name).copied()
        }
    }

    /// Append a name that is not in `symbols` yet.
    fn push_symbol(&mut self, name: NameId, flags: u32) {
        self.symbols.push((name, flags));
        let len = self.symbols.len();
        if len == SCAN_SYMBOLS + 1 {
            self.index.reserve(2 * len);
            self.index
                .extend(self.symbols.iter().enumerate().map(|(i, &(n, _))| (n, i)));
        } else if len > SCAN_SYMBOLS + 1 {
            self.index.insert(name, len - 1);
        }
    }

    fn get(&self, name: NameId) -> u32 {
        self.slot(name).map_or(0, |i| self.symbols[i].1)
    }

    fn set(&mut self, name: NameId, flags: u32) {
        match self.slot(name) {
            Some(i) => self.symbols[i].1 = flags,
            None => self.push_symbol(name, flags),
        }
    }

    /// Whether this is a function-like block (`_PyST_IsFunctionLike`): its locals are fast.
    pub fn function_like(&self) -> bool {
        matches!(
            self.kind,
            BlockType::Function
                | BlockType::TypeVarBound
                | BlockType::TypeAlias
                | BlockType::TypeParam
        )
    }

    /// The children as CPython lists them after analysis (the `symtable` module's view):
    /// an inlined comprehension is replaced by its own children.
    pub fn children(&self) -> &[ScopeId] {
        &self.children
    }
}

/// The symbol table of one module.
#[derive(Debug, Clone)]
pub struct SymbolTable {
    scopes: Vec<Scope>,
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, NameId>,
    keys: HashMap<BlockKey, ScopeId>,
    /// `from __future__ import annotations` is in effect.
    pub future_annotations: bool,
    /// [`line_starts`] of the source, for the code generator to take.
    lines: Vec<u32>,
}

/// A scope with the table it belongs to, for lookups by name.
#[derive(Debug, Clone, Copy)]
pub struct ScopeRef<'a> {
    table: &'a SymbolTable,
    /// Its id.
    pub id: ScopeId,
}

impl Deref for ScopeRef<'_> {
    type Target = Scope;

    fn deref(&self) -> &Scope {
        &self.table.scopes[self.id]
    }
}

impl<'a> ScopeRef<'a> {
    /// `name`'s symbol in this scope, if the scope has it.
    pub fn lookup(&self, name: &str) -> Option<Symbol> {
        let id = self.table.ids.get(name)?;
        let scope = &self.table.scopes[self.id];
        scope.slot(*id).map(|i| Symbol {
            flags: scope.symbols[i].1,
        })
    }

    /// Every symbol, in CPython's insertion order.
    pub fn symbols(&self) -> impl Iterator<Item = (&'a str, Symbol)> + 'a {
        let table = self.table;
        table.scopes[self.id]
            .symbols
            .iter()
            .map(move |&(name, flags)| (table.name(name), Symbol { flags }))
    }

    /// The parameters in order (`ste_varnames`): positional-only, positional, keyword-only,
    /// `*args`, `**kwargs`; `.0` for a comprehension; `.defaults`/`.kwdefaults` for a generic
    /// function's type parameter scope.
    pub fn params(&self) -> impl Iterator<Item = &'a str> + 'a {
        let table = self.table;
        table.scopes[self.id]
            .params
            .iter()
            .map(move |&name| table.name(name))
    }

    /// The names whose flags have any of `flag` or whose scope is `scope`, sorted (how
    /// `compile.c`'s `dictbytype` orders `co_cellvars` and `co_freevars`).
    pub fn sorted_names(&self, scope: Resolved, flag: u32) -> Vec<&'a str> {
        let mut names: Vec<&str> = self
            .symbols()
            .filter(|(_, symbol)| symbol.scope() == Some(scope) || symbol.has(flag))
            .map(|(name, _)| name)
            .collect();
        names.sort_unstable();
        names
    }

    /// The children, as [`Scope::children`].
    pub fn child_scopes(&self) -> impl Iterator<Item = ScopeRef<'a>> + 'a {
        let table = self.table;
        table.scopes[self.id]
            .children
            .iter()
            .map(move |&id| ScopeRef { table, id })
    }
}

impl SymbolTable {
    /// The module scope.
    pub fn top(&self) -> ScopeRef<'_> {
        self.scope(0)
    }

    /// Scope `id`.
    pub fn scope(&self, id: ScopeId) -> ScopeRef<'_> {
        ScopeRef { table: self, id }
    }

    /// How many scopes there are (annotation scopes included): ids are `0..len()`, in the
    /// order the scopes were entered.
    pub fn len(&self) -> usize {
        self.scopes.len()
    }

    /// Never: a table has at least the module.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// The scope of a node.
    pub fn get(&self, key: BlockKey) -> Option<ScopeRef<'_>> {
        self.keys.get(&key).map(|&id| self.scope(id))
    }

    /// The scope of a `def`.
    pub fn function(&self, def: &ast::StmtFunctionDef) -> Option<ScopeRef<'_>> {
        self.get(BlockKey::Function(def.range))
    }

    /// The scope of a class body.
    pub fn class(&self, def: &ast::StmtClassDef) -> Option<ScopeRef<'_>> {
        self.get(BlockKey::Class(def.range))
    }

    /// The scope of a lambda.
    pub fn lambda(&self, lambda: &ast::ExprLambda) -> Option<ScopeRef<'_>> {
        self.get(BlockKey::Lambda(lambda.range))
    }

    /// The scope of a comprehension or generator expression.
    pub fn comprehension(&self, expr: &Expr) -> Option<ScopeRef<'_>> {
        self.get(BlockKey::Comprehension(expr.range()))
    }

    /// The type parameter scope of a generic `def`, `class` or `type`.
    pub fn type_params(&self, params: &ast::TypeParams) -> Option<ScopeRef<'_>> {
        self.get(BlockKey::TypeParams(params.range))
    }

    /// The line starts of the source (`line_starts`), taken once by the code generator
    /// (empty after).
    pub(crate) fn take_line_starts(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.lines)
    }

    /// A name by id.
    pub fn name(&self, id: NameId) -> &str {
        &self.names[id as usize]
    }
}

/// Mangle `name` in class `private` (`_Py_Mangle`): `__x` in class `_C` is `_C__x`; dunder
/// names, dotted names and classes named only with underscores are left alone.
pub fn mangle(private: Option<&str>, name: &str) -> Option<String> {
    let private = private?;
    if !name.starts_with("__") || name.ends_with("__") || name.contains('.') {
        return None;
    }
    let stripped = private.trim_start_matches('_');
    if stripped.is_empty() {
        return None;
    }
    Some(format!("_{stripped}{name}"))
}

/// Build the symbol table of `module`, parsed from `source` (for line numbers), as CPython
/// 3.12's `_PySymtable_Build` does for `compile(source, ..., "exec")`. It recurses along the
/// AST, up to 1,000 levels (then [`Refused::TooDeep`]), which fit in a 2 MiB stack.
pub fn build(module: &ast::ModModule, source: &str) -> Result<SymbolTable, Refused> {
    build_boxed(module, source).map_err(|refused| *refused)
}

fn build_boxed(module: &ast::ModModule, source: &str) -> Res<SymbolTable> {
    let (future_annotations, future_end) = future_annotations(module)?;
    let mut builder = Builder {
        source,
        lines: line_starts(source),
        scopes: Vec::new(),
        // Roughly one distinct name per 100 bytes of the 3.12 stdlib's sources.
        names: Vec::with_capacity(source.len() / 100),
        ids: HashMap::with_capacity_and_hasher(source.len() / 100, FxBuildHasher),
        keys: HashMap::default(),
        stack: Vec::new(),
        private: None,
        future_annotations,
        future_end,
        depth: 0,
    };
    builder.enter_block("top", BlockType::Module, Some(BlockKey::Module), 0);
    for stmt in &module.body {
        builder.visit_stmt(stmt)?;
    }
    builder.exit_block();
    // symtable_analyze
    let mut free = HashSet::default();
    let mut global = HashSet::default();
    let mut type_params = HashSet::default();
    builder.analyze_block(0, None, &mut free, &mut global, &mut type_params, None)?;
    Ok(SymbolTable {
        scopes: builder.scopes,
        names: builder.names,
        ids: builder.ids,
        keys: builder.keys,
        future_annotations,
        lines: builder.lines,
    })
}

/// The features `future.c` reads (`_PyFuture_FromAST`): only `annotations` changes the table;
/// a misplaced or unknown future import is CPython's `SyntaxError`. Also gives where the
/// leading future imports end: any later one is an error too (`compiler_from_import`).
fn future_annotations(module: &ast::ModModule) -> Res<(bool, TextSize)> {
    const KNOWN: [&str; 10] = [
        "nested_scopes",
        "generators",
        "division",
        "absolute_import",
        "with_statement",
        "print_function",
        "unicode_literals",
        "barry_as_FLUFL",
        "generator_stop",
        "annotations",
    ];
    let mut annotations = false;
    let mut leading = true;
    let mut end = TextSize::default();
    for (i, stmt) in module.body.iter().enumerate() {
        if i == 0
            && let Stmt::Expr(expr) = stmt
            && matches!(*expr.value, Expr::StringLiteral(_))
        {
            continue;
        }
        match stmt {
            Stmt::ImportFrom(import)
                if import.level == 0
                    && import
                        .module
                        .as_ref()
                        .is_some_and(|m| m.id.as_str() == "__future__") =>
            {
                if !leading {
                    return syntax(
                        "from __future__ imports must occur at the beginning of the file",
                    );
                }
                end = import.range.end();
                for alias in &import.names {
                    let name = alias.name.id.as_str();
                    if !KNOWN.contains(&name) {
                        return syntax(format!("future feature {name} is not defined"));
                    }
                    annotations |= name == "annotations";
                }
            }
            _ => leading = false,
        }
    }
    Ok((annotations, end))
}

/// Offsets where each line starts; `\n`, `\r\n` and a lone `\r` end a line, as CPython's
/// tokenizer counts them. Built once per module (memchr: the byte loop was ~2.5% of the
/// compile) and handed on to the code generator with the table.
pub(crate) fn line_starts(source: &str) -> Vec<u32> {
    let bytes = source.as_bytes();
    let mut starts = Vec::with_capacity(bytes.len() / 32 + 1);
    starts.push(0);
    for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
        if bytes[i] == b'\n' || bytes.get(i + 1) != Some(&b'\n') {
            starts.push(to_u32(i + 1));
        }
    }
    starts
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

struct Builder<'s> {
    source: &'s str,
    lines: Vec<u32>,
    scopes: Vec<Scope>,
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, NameId>,
    keys: HashMap<BlockKey, ScopeId>,
    /// `st_stack`.
    stack: Vec<ScopeId>,
    /// `st_private`: the class whose private names are mangled.
    private: Option<String>,
    future_annotations: bool,
    /// Where the leading `from __future__` imports end.
    future_end: TextSize,
    depth: u32,
}

const TOP: ScopeId = 0;

impl Builder<'_> {
    fn cur(&self) -> ScopeId {
        self.stack.last().copied().unwrap_or(TOP)
    }

    fn cur_mut(&mut self) -> &mut Scope {
        let cur = self.cur();
        &mut self.scopes[cur]
    }

    fn lineno(&self, offset: TextSize) -> u32 {
        to_u32(
            self.lines
                .partition_point(|&start| start <= offset.to_u32()),
        )
    }

    fn intern(&mut self, name: &str) -> NameId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = to_u32(self.names.len());
        // One allocation shared by the list and the map.
        let name: Arc<str> = name.into();
        self.names.push(Arc::clone(&name));
        self.ids.insert(name, id);
        id
    }

    fn mangled(&mut self, name: &str) -> NameId {
        match mangle(self.private.as_deref(), name) {
            Some(mangled) => self.intern(&mangled),
            None => self.intern(name),
        }
    }

    /// The line of a `def`/`class` keyword: after the decorators, whose lines Ruff's range
    /// includes and CPython's does not.
    fn def_lineno(&self, range: TextRange, decorators: &[ast::Decorator]) -> u32 {
        let Some(last) = decorators.last() else {
            return self.lineno(range.start());
        };
        let bytes = self.source.as_bytes();
        let mut i = last.range.end().to_usize();
        while i < bytes.len() {
            match bytes[i] {
                b' ' | b'\t' | b'\x0c' | b'\r' | b'\n' | b'\\' | b')' => i += 1,
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                        i += 1;
                    }
                }
                _ => break,
            }
        }
        self.lineno(TextSize::from(to_u32(i)))
    }

    fn first_decorator_lineno(&self, decorators: &[ast::Decorator], lineno: u32) -> u32 {
        decorators.first().map_or(lineno, |first| {
            self.lineno(first.expression.range().start())
        })
    }

    /// `symtable_enter_block`
    fn enter_block(&mut self, name: &str, kind: BlockType, key: Option<BlockKey>, lineno: u32) {
        let prev = self.stack.last().copied();
        let nested = prev.is_some_and(|p| self.scopes[p].nested || self.scopes[p].function_like());
        let comp_iter_expr = prev.map_or(0, |p| self.scopes[p].comp_iter_expr);
        let id = self.scopes.len();
        self.scopes.push(Scope {
            kind,
            name: name.to_owned(),
            lineno,
            firstlineno: lineno.max(1),
            key: key.unwrap_or(BlockKey::Module),
            parent: prev,
            nested,
            free: false,
            child_free: false,
            generator: false,
            coroutine: false,
            comprehension: None,
            varargs: false,
            varkeywords: false,
            returns_value: false,
            needs_class_closure: false,
            needs_classdict: false,
            comp_inlined: false,
            can_see_class_scope: false,
            hash_ordered: false,
            params: Vec::new(),
            children: Vec::new(),
            symbols: Vec::new(),
            index: HashMap::default(),
            comp_iter_target: false,
            comp_iter_expr,
        });
        if let Some(key) = key {
            self.keys.insert(key, id);
        }
        self.stack.push(id);
        // Annotation blocks are not children: they are never analyzed nor compiled.
        if kind != BlockType::Annotation
            && let Some(prev) = prev
        {
            self.scopes[prev].children.push(id);
        }
    }

    /// `symtable_exit_block`
    fn exit_block(&mut self) {
        self.stack.pop();
    }

    /// `symtable_lookup`
    fn lookup(&mut self, name: &str) -> u32 {
        let id = self.mangled(name);
        self.scopes[self.cur()].get(id)
    }

    /// `symtable_add_def`
    fn add_def(&mut self, name: &str, flag: u32) -> Res {
        let cur = self.cur();
        self.add_def_helper(name, flag, cur)
    }

    /// `symtable_add_def_helper`
    fn add_def_helper(&mut self, name: &str, flag: u32, ste: ScopeId) -> Res {
        let mangled = self.mangled(name);
        let scope = &mut self.scopes[ste];
        let slot = scope.slot(mangled);
        let mut val = match slot {
            Some(i) => {
                let val = scope.symbols[i].1;
                if flag & DEF_PARAM != 0 && val & DEF_PARAM != 0 {
                    return syntax(format!(
                        "duplicate argument '{name}' in function definition"
                    ));
                }
                if flag & DEF_TYPE_PARAM != 0 && val & DEF_TYPE_PARAM != 0 {
                    return syntax(format!("duplicate type parameter '{name}'"));
                }
                val | flag
            }
            None => flag,
        };
        if scope.comp_iter_target {
            if val & (DEF_GLOBAL | DEF_NONLOCAL) != 0 {
                return syntax(format!(
                    "comprehension inner loop cannot rebind assignment expression target '{name}'"
                ));
            }
            val |= DEF_COMP_ITER;
        }
        match slot {
            Some(i) => scope.symbols[i].1 = val,
            None => scope.push_symbol(mangled, val),
        }
        if flag & DEF_PARAM != 0 {
            scope.params.push(mangled);
        } else if flag & DEF_GLOBAL != 0 {
            let top = &mut self.scopes[TOP];
            let val = top.get(mangled) | flag;
            top.set(mangled, val);
        }
        Ok(())
    }

    /// `symtable_enter_type_param_block`
    fn enter_type_param_block(
        &mut self,
        name: &str,
        params: &ast::TypeParams,
        has_defaults: bool,
        has_kwdefaults: bool,
        is_class: bool,
        lineno: u32,
    ) -> Res {
        let current = self.scopes[self.cur()].kind;
        self.enter_block(
            name,
            BlockType::TypeParam,
            Some(BlockKey::TypeParams(params.range)),
            lineno,
        );
        if current == BlockType::Class {
            self.cur_mut().can_see_class_scope = true;
            self.add_def("__classdict__", USE)?;
        }
        if is_class {
            self.add_def(".type_params", DEF_LOCAL)?;
            self.add_def(".type_params", USE)?;
            // CPython sets this and never restores it: private names after a generic class are
            // mangled with its name for the rest of the enclosing block (3.12 behaviour).
            self.private = Some(name.to_owned());
            self.add_def(".generic_base", DEF_LOCAL)?;
            self.add_def(".generic_base", USE)?;
        }
        if has_defaults {
            self.add_def(".defaults", DEF_PARAM)?;
        }
        if has_kwdefaults {
            self.add_def(".kwdefaults", DEF_PARAM)?;
        }
        Ok(())
    }

    fn deeper(&mut self) -> Res {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Box::new(Refused::TooDeep));
        }
        Ok(())
    }

    fn visit_body(&mut self, body: &[Stmt]) -> Res {
        body.iter().try_for_each(|stmt| self.visit_stmt(stmt))
    }

    fn visit_exprs<'e>(&mut self, exprs: impl IntoIterator<Item = &'e Expr>) -> Res {
        exprs.into_iter().try_for_each(|expr| self.visit_expr(expr))
    }

    /// `symtable_visit_stmt`
    fn visit_stmt(&mut self, stmt: &Stmt) -> Res {
        self.deeper()?;
        self.visit_stmt_inner(stmt)?;
        self.depth -= 1;
        Ok(())
    }

    fn visit_stmt_inner(&mut self, stmt: &Stmt) -> Res {
        match stmt {
            Stmt::FunctionDef(def) => self.visit_function_def(def)?,
            Stmt::ClassDef(def) => self.visit_class_def(def)?,
            Stmt::TypeAlias(alias) => {
                self.visit_expr(&alias.name)?;
                let Expr::Name(name) = &*alias.name else {
                    return Err(Box::new(Refused::NotPy312(
                        "a type alias whose name is not a name",
                    )));
                };
                let name = name.id.as_str();
                let lineno = self.lineno(alias.range.start());
                let is_in_class = self.scopes[self.cur()].kind == BlockType::Class;
                if let Some(params) = &alias.type_params {
                    self.enter_type_param_block(name, params, false, false, false, lineno)?;
                    self.visit_type_params(params)?;
                }
                self.enter_block(
                    name,
                    BlockType::TypeAlias,
                    Some(BlockKey::TypeAlias(alias.range)),
                    lineno,
                );
                self.cur_mut().can_see_class_scope = is_in_class;
                if is_in_class {
                    self.add_def("__classdict__", USE)?;
                }
                self.visit_expr(&alias.value)?;
                self.exit_block();
                if alias.type_params.is_some() {
                    self.exit_block();
                }
            }
            Stmt::Return(ret) => {
                if let Some(value) = &ret.value {
                    self.visit_expr(value)?;
                    self.cur_mut().returns_value = true;
                }
            }
            Stmt::Delete(delete) => self.visit_exprs(&delete.targets)?,
            Stmt::Assign(assign) => {
                self.visit_exprs(&assign.targets)?;
                self.visit_expr(&assign.value)?;
            }
            Stmt::AnnAssign(assign) => {
                if let Expr::Name(target) = &*assign.target {
                    let name = target.id.as_str();
                    let cur = self.lookup(name);
                    if cur & (DEF_GLOBAL | DEF_NONLOCAL) != 0 && self.cur() != TOP && assign.simple
                    {
                        return syntax(format!(
                            "annotated name '{name}' can't be global or nonlocal"
                        ));
                    }
                    if assign.simple {
                        self.add_def(name, DEF_ANNOT | DEF_LOCAL)?;
                    } else if assign.value.is_some() {
                        self.add_def(name, DEF_LOCAL)?;
                    }
                } else {
                    self.visit_expr(&assign.target)?;
                }
                self.visit_annotation(&assign.annotation)?;
                if let Some(value) = &assign.value {
                    self.visit_expr(value)?;
                }
            }
            Stmt::AugAssign(assign) => {
                self.visit_expr(&assign.target)?;
                self.visit_expr(&assign.value)?;
            }
            Stmt::For(for_) => {
                self.visit_expr(&for_.target)?;
                self.visit_expr(&for_.iter)?;
                self.visit_body(&for_.body)?;
                self.visit_body(&for_.orelse)?;
            }
            Stmt::While(while_) => {
                self.visit_expr(&while_.test)?;
                self.visit_body(&while_.body)?;
                self.visit_body(&while_.orelse)?;
            }
            Stmt::If(if_) => {
                // Ruff flattens `elif` chains; CPython nests them, in the same order.
                self.visit_expr(&if_.test)?;
                self.visit_body(&if_.body)?;
                for clause in &if_.elif_else_clauses {
                    if let Some(test) = &clause.test {
                        self.visit_expr(test)?;
                    }
                    self.visit_body(&clause.body)?;
                }
            }
            Stmt::Match(match_) => {
                self.visit_expr(&match_.subject)?;
                for case in &match_.cases {
                    self.visit_pattern(&case.pattern)?;
                    if let Some(guard) = &case.guard {
                        self.visit_expr(guard)?;
                    }
                    self.visit_body(&case.body)?;
                }
            }
            Stmt::Raise(raise) => {
                if let Some(exc) = &raise.exc {
                    self.visit_expr(exc)?;
                    if let Some(cause) = &raise.cause {
                        self.visit_expr(cause)?;
                    }
                }
            }
            Stmt::Try(try_) => {
                // CPython 3.12.1 visits `else` before the handlers (the order decides the
                // children's order; measured on the stdlib).
                self.visit_body(&try_.body)?;
                self.visit_body(&try_.orelse)?;
                for handler in &try_.handlers {
                    let ast::ExceptHandler::ExceptHandler(handler) = handler;
                    if let Some(type_) = &handler.type_ {
                        self.visit_expr(type_)?;
                    }
                    if let Some(name) = &handler.name {
                        self.add_def(name.id.as_str(), DEF_LOCAL)?;
                    }
                    self.visit_body(&handler.body)?;
                }
                self.visit_body(&try_.finalbody)?;
            }
            Stmt::Assert(assert) => {
                self.visit_expr(&assert.test)?;
                if let Some(msg) = &assert.msg {
                    self.visit_expr(msg)?;
                }
            }
            Stmt::Import(import) => {
                if import.is_lazy {
                    return Err(Box::new(Refused::NotPy312("a lazy import")));
                }
                for alias in &import.names {
                    self.visit_alias(alias)?;
                }
            }
            Stmt::ImportFrom(import) => {
                if import.is_lazy {
                    return Err(Box::new(Refused::NotPy312("a lazy import")));
                }
                // CPython looks at the module name only: `from .__future__ import x` is a future
                // statement to it too, which this does not follow.
                if import
                    .module
                    .as_ref()
                    .is_some_and(|m| m.id.as_str() == "__future__")
                    && (import.level > 0 || import.range.start() >= self.future_end)
                {
                    return syntax(
                        "from __future__ imports must occur at the beginning of the file",
                    );
                }
                for alias in &import.names {
                    self.visit_alias(alias)?;
                }
            }
            Stmt::Global(global) => {
                for name in &global.names {
                    let name = name.id.as_str();
                    let cur = self.lookup(name);
                    if cur & (DEF_PARAM | DEF_LOCAL | USE | DEF_ANNOT) != 0 {
                        return syntax(format!(
                            "name '{name}' is used or bound before its global declaration"
                        ));
                    }
                    self.add_def(name, DEF_GLOBAL)?;
                }
            }
            Stmt::Nonlocal(nonlocal) => {
                for name in &nonlocal.names {
                    let name = name.id.as_str();
                    let cur = self.lookup(name);
                    if cur & (DEF_PARAM | DEF_LOCAL | USE | DEF_ANNOT) != 0 {
                        return syntax(format!(
                            "name '{name}' is used or bound before its nonlocal declaration"
                        ));
                    }
                    self.add_def(name, DEF_NONLOCAL)?;
                }
            }
            Stmt::Expr(expr) => self.visit_expr(&expr.value)?,
            Stmt::Pass(_) | Stmt::Break(_) | Stmt::Continue(_) => {}
            Stmt::With(with) => {
                for item in &with.items {
                    self.visit_expr(&item.context_expr)?;
                    if let Some(vars) = &item.optional_vars {
                        self.visit_expr(vars)?;
                    }
                }
                self.visit_body(&with.body)?;
            }
            Stmt::IpyEscapeCommand(_) => {
                return Err(Box::new(Refused::NotPy312("an IPython escape")));
            }
        }
        Ok(())
    }

    fn visit_function_def(&mut self, def: &ast::StmtFunctionDef) -> Res {
        let name = def.name.id.as_str();
        let lineno = self.def_lineno(def.range, &def.decorator_list);
        let firstlineno = self.first_decorator_lineno(&def.decorator_list, lineno);
        self.add_def(name, DEF_LOCAL)?;
        let params = &def.parameters;
        // `args->defaults`, then `args->kw_defaults`.
        for param in params.posonlyargs.iter().chain(&params.args) {
            if let Some(default) = &param.default {
                self.visit_expr(default)?;
            }
        }
        for param in &params.kwonlyargs {
            if let Some(default) = &param.default {
                self.visit_expr(default)?;
            }
        }
        for decorator in &def.decorator_list {
            self.visit_expr(&decorator.expression)?;
        }
        if let Some(type_params) = &def.type_params {
            // The parser always gives `defaults` a (maybe empty) list: `.defaults` is always there.
            let has_kwdefaults = params.kwonlyargs.iter().any(|p| p.default.is_some());
            self.enter_type_param_block(name, type_params, true, has_kwdefaults, false, lineno)?;
            self.cur_mut().firstlineno = firstlineno;
            self.visit_type_params(type_params)?;
        }
        self.visit_annotations(params, def.returns.as_deref(), lineno)?;
        self.enter_block(
            name,
            BlockType::Function,
            Some(BlockKey::Function(def.range)),
            lineno,
        );
        self.cur_mut().firstlineno = firstlineno;
        if def.is_async {
            self.cur_mut().coroutine = true;
        }
        self.visit_arguments(params)?;
        self.visit_body(&def.body)?;
        self.exit_block();
        if def.type_params.is_some() {
            self.exit_block();
        }
        Ok(())
    }

    fn visit_class_def(&mut self, def: &ast::StmtClassDef) -> Res {
        let name = def.name.id.as_str();
        let lineno = self.def_lineno(def.range, &def.decorator_list);
        let firstlineno = self.first_decorator_lineno(&def.decorator_list, lineno);
        self.add_def(name, DEF_LOCAL)?;
        for decorator in &def.decorator_list {
            self.visit_expr(&decorator.expression)?;
        }
        if let Some(type_params) = &def.type_params {
            self.enter_type_param_block(name, type_params, false, false, true, lineno)?;
            self.cur_mut().firstlineno = firstlineno;
            self.visit_type_params(type_params)?;
        }
        if let Some(arguments) = &def.arguments {
            self.visit_exprs(arguments.args.iter())?;
            for keyword in &arguments.keywords {
                self.visit_expr(&keyword.value)?;
            }
        }
        self.enter_block(
            name,
            BlockType::Class,
            Some(BlockKey::Class(def.range)),
            lineno,
        );
        self.cur_mut().firstlineno = firstlineno;
        let saved = self.private.replace(name.to_owned());
        if def.type_params.is_some() {
            self.add_def("__type_params__", DEF_LOCAL)?;
            self.add_def(".type_params", USE)?;
        }
        self.visit_body(&def.body)?;
        self.private = saved;
        self.exit_block();
        if def.type_params.is_some() {
            self.exit_block();
        }
        Ok(())
    }

    fn visit_type_params(&mut self, params: &ast::TypeParams) -> Res {
        params
            .type_params
            .iter()
            .try_for_each(|param| self.visit_type_param(param))
    }

    /// `symtable_visit_type_param`
    fn visit_type_param(&mut self, param: &TypeParam) -> Res {
        self.deeper()?;
        match param {
            TypeParam::TypeVar(var) => {
                if var.default.is_some() {
                    return Err(Box::new(Refused::NotPy312("a type parameter default")));
                }
                let name = var.name.id.as_str();
                self.add_def(name, DEF_TYPE_PARAM | DEF_LOCAL)?;
                if let Some(bound) = &var.bound {
                    let is_in_class = self.scopes[self.cur()].can_see_class_scope;
                    let lineno = self.lineno(var.range.start());
                    self.enter_block(
                        name,
                        BlockType::TypeVarBound,
                        Some(BlockKey::TypeVarBound(var.range)),
                        lineno,
                    );
                    self.cur_mut().can_see_class_scope = is_in_class;
                    if is_in_class {
                        self.add_def("__classdict__", USE)?;
                    }
                    self.visit_expr(bound)?;
                    self.exit_block();
                }
            }
            TypeParam::TypeVarTuple(var) => {
                if var.default.is_some() {
                    return Err(Box::new(Refused::NotPy312("a type parameter default")));
                }
                self.add_def(var.name.id.as_str(), DEF_TYPE_PARAM | DEF_LOCAL)?;
            }
            TypeParam::ParamSpec(var) => {
                if var.default.is_some() {
                    return Err(Box::new(Refused::NotPy312("a type parameter default")));
                }
                self.add_def(var.name.id.as_str(), DEF_TYPE_PARAM | DEF_LOCAL)?;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// `symtable_visit_pattern`
    fn visit_pattern(&mut self, pattern: &Pattern) -> Res {
        self.deeper()?;
        match pattern {
            Pattern::MatchValue(value) => self.visit_expr(&value.value)?,
            Pattern::MatchSingleton(_) => {}
            Pattern::MatchSequence(sequence) => {
                for pattern in &sequence.patterns {
                    self.visit_pattern(pattern)?;
                }
            }
            Pattern::MatchStar(star) => {
                if let Some(name) = &star.name {
                    self.add_def(name.id.as_str(), DEF_LOCAL)?;
                }
            }
            Pattern::MatchMapping(mapping) => {
                self.visit_exprs(mapping.keys.iter())?;
                for pattern in &mapping.patterns {
                    self.visit_pattern(pattern)?;
                }
                if let Some(rest) = &mapping.rest {
                    self.add_def(rest.id.as_str(), DEF_LOCAL)?;
                }
            }
            Pattern::MatchClass(class) => {
                self.visit_expr(&class.cls)?;
                for pattern in &class.arguments.patterns {
                    self.visit_pattern(pattern)?;
                }
                for keyword in &class.arguments.keywords {
                    self.visit_pattern(&keyword.pattern)?;
                }
            }
            Pattern::MatchAs(as_) => {
                if let Some(pattern) = &as_.pattern {
                    self.visit_pattern(pattern)?;
                }
                if let Some(name) = &as_.name {
                    self.add_def(name.id.as_str(), DEF_LOCAL)?;
                }
            }
            Pattern::MatchOr(or) => {
                for pattern in &or.patterns {
                    self.visit_pattern(pattern)?;
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// `symtable_visit_alias`
    fn visit_alias(&mut self, alias: &ast::Alias) -> Res {
        let name = alias.asname.as_ref().unwrap_or(&alias.name).id.as_str();
        if name == "*" {
            if self.scopes[self.cur()].kind != BlockType::Module {
                return syntax("import * only allowed at module level");
            }
            return Ok(());
        }
        let store = name.split('.').next().unwrap_or(name);
        self.add_def(store, DEF_IMPORT)
    }

    /// `symtable_visit_annotation`
    fn visit_annotation(&mut self, annotation: &Expr) -> Res {
        if self.future_annotations {
            let lineno = self.lineno(annotation.range().start());
            self.enter_block("_annotation", BlockType::Annotation, None, lineno);
        }
        self.visit_expr(annotation)?;
        if self.future_annotations {
            self.exit_block();
        }
        Ok(())
    }

    /// `symtable_visit_annotations`
    fn visit_annotations(
        &mut self,
        params: &ast::Parameters,
        returns: Option<&Expr>,
        lineno: u32,
    ) -> Res {
        if self.future_annotations {
            self.enter_block("_annotation", BlockType::Annotation, None, lineno);
        }
        for param in params.posonlyargs.iter().chain(&params.args) {
            if let Some(annotation) = &param.parameter.annotation {
                self.visit_expr(annotation)?;
            }
        }
        for param in params.vararg.iter().chain(&params.kwarg) {
            if let Some(annotation) = &param.annotation {
                self.visit_expr(annotation)?;
            }
        }
        for param in &params.kwonlyargs {
            if let Some(annotation) = &param.parameter.annotation {
                self.visit_expr(annotation)?;
            }
        }
        if self.future_annotations {
            self.exit_block();
        }
        if let Some(returns) = returns {
            self.visit_annotation(returns)?;
        }
        Ok(())
    }

    /// `symtable_visit_arguments`: the parameters, in `co_varnames` order.
    fn visit_arguments(&mut self, params: &ast::Parameters) -> Res {
        for param in params
            .posonlyargs
            .iter()
            .chain(&params.args)
            .chain(&params.kwonlyargs)
        {
            self.add_def(param.parameter.name.id.as_str(), DEF_PARAM)?;
        }
        if let Some(vararg) = &params.vararg {
            self.add_def(vararg.name.id.as_str(), DEF_PARAM)?;
            self.cur_mut().varargs = true;
        }
        if let Some(kwarg) = &params.kwarg {
            self.add_def(kwarg.name.id.as_str(), DEF_PARAM)?;
            self.cur_mut().varkeywords = true;
        }
        Ok(())
    }

    /// `symtable_raise_if_annotation_block`
    fn raise_if_annotation_block(&self, what: &str) -> Res {
        match self.scopes[self.cur()].kind {
            BlockType::Annotation => syntax(format!("{what} cannot be used within an annotation")),
            BlockType::TypeVarBound => {
                syntax(format!("{what} cannot be used within a TypeVar bound"))
            }
            BlockType::TypeAlias => syntax(format!("{what} cannot be used within a type alias")),
            BlockType::TypeParam => syntax(format!(
                "{what} cannot be used within the definition of a generic"
            )),
            _ => Ok(()),
        }
    }

    /// `symtable_visit_expr`
    fn visit_expr(&mut self, expr: &Expr) -> Res {
        self.deeper()?;
        self.visit_expr_inner(expr)?;
        self.depth -= 1;
        Ok(())
    }

    fn visit_expr_inner(&mut self, expr: &Expr) -> Res {
        // The common, scope-less nodes here; the rest in `visit_expr_rare`, so that this
        // frame, paid once per nesting level, stays small.
        match expr {
            Expr::BoolOp(op) => self.visit_exprs(&op.values)?,
            Expr::BinOp(op) => {
                self.visit_expr(&op.left)?;
                self.visit_expr(&op.right)?;
            }
            Expr::UnaryOp(op) => self.visit_expr(&op.operand)?,
            Expr::If(if_) => {
                self.visit_expr(&if_.test)?;
                self.visit_expr(&if_.body)?;
                self.visit_expr(&if_.orelse)?;
            }
            Expr::Set(set) => self.visit_exprs(&set.elts)?,
            Expr::Compare(compare) => {
                self.visit_expr(&compare.left)?;
                self.visit_exprs(compare.comparators.iter())?;
            }
            Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_) => {}
            Expr::Attribute(attribute) => self.visit_expr(&attribute.value)?,
            Expr::Subscript(subscript) => {
                self.visit_expr(&subscript.value)?;
                self.visit_expr(&subscript.slice)?;
            }
            Expr::Starred(starred) => self.visit_expr(&starred.value)?,
            Expr::Slice(slice) => {
                for part in [&slice.lower, &slice.upper, &slice.step]
                    .into_iter()
                    .flatten()
                {
                    self.visit_expr(part)?;
                }
            }
            Expr::Name(name) => self.visit_name(name)?,
            Expr::List(list) => self.visit_exprs(&list.elts)?,
            Expr::Tuple(tuple) => self.visit_exprs(&tuple.elts)?,
            _ => self.visit_expr_rare(expr)?,
        }
        Ok(())
    }

    fn visit_name(&mut self, name: &ast::ExprName) -> Res {
        let id = name.id.as_str();
        let load = name.ctx == ExprContext::Load;
        self.add_def(id, if load { USE } else { DEF_LOCAL })?;
        // `super` counts as a use of `__class__`.
        if load && self.scopes[self.cur()].function_like() && id == "super" {
            self.add_def("__class__", USE)?;
        }
        Ok(())
    }

    #[inline(never)]
    fn visit_expr_rare(&mut self, expr: &Expr) -> Res {
        match expr {
            Expr::Named(named) => {
                self.raise_if_annotation_block("named expression")?;
                self.handle_namedexpr(named)?;
            }
            Expr::Lambda(lambda) => {
                if self.scopes[self.cur()].can_see_class_scope {
                    return syntax("Cannot use lambda in annotation scope within class scope");
                }
                if let Some(params) = &lambda.parameters {
                    for param in params.posonlyargs.iter().chain(&params.args) {
                        if let Some(default) = &param.default {
                            self.visit_expr(default)?;
                        }
                    }
                    for param in &params.kwonlyargs {
                        if let Some(default) = &param.default {
                            self.visit_expr(default)?;
                        }
                    }
                }
                let lineno = self.lineno(lambda.range.start());
                self.enter_block(
                    "lambda",
                    BlockType::Function,
                    Some(BlockKey::Lambda(lambda.range)),
                    lineno,
                );
                if let Some(params) = &lambda.parameters {
                    self.visit_arguments(params)?;
                }
                self.visit_expr(&lambda.body)?;
                self.exit_block();
            }
            Expr::Dict(dict) => {
                // All keys, then all values.
                for item in &dict.items {
                    if let Some(key) = &item.key {
                        self.visit_expr(key)?;
                    }
                }
                for item in &dict.items {
                    self.visit_expr(&item.value)?;
                }
            }
            Expr::Generator(generator) => {
                let lineno = self.lineno(generator.range.start());
                self.visit_genexp(generator, lineno)?;
            }
            Expr::ListComp(comp) => self.handle_comprehension(
                expr,
                "listcomp",
                Comprehension::List,
                &comp.generators,
                &comp.elt,
                None,
                self.lineno(comp.range.start()),
            )?,
            Expr::SetComp(comp) => self.handle_comprehension(
                expr,
                "setcomp",
                Comprehension::Set,
                &comp.generators,
                &comp.elt,
                None,
                self.lineno(comp.range.start()),
            )?,
            Expr::DictComp(comp) => {
                let Some(key) = &comp.key else {
                    return Err(Box::new(Refused::NotPy312(
                        "dict unpacking in a dict comprehension",
                    )));
                };
                self.handle_comprehension(
                    expr,
                    "dictcomp",
                    Comprehension::Dict,
                    &comp.generators,
                    key,
                    Some(&comp.value),
                    self.lineno(comp.range.start()),
                )?;
            }
            Expr::Yield(yield_) => {
                self.raise_if_annotation_block("yield expression")?;
                if let Some(value) = &yield_.value {
                    self.visit_expr(value)?;
                }
                self.cur_mut().generator = true;
                if self.scopes[self.cur()].comprehension.is_some() {
                    return syntax("'yield' inside comprehension");
                }
            }
            Expr::YieldFrom(yield_) => {
                self.raise_if_annotation_block("yield expression")?;
                self.visit_expr(&yield_.value)?;
                self.cur_mut().generator = true;
                if self.scopes[self.cur()].comprehension.is_some() {
                    return syntax("'yield' inside comprehension");
                }
            }
            Expr::Await(await_) => {
                self.raise_if_annotation_block("await expression")?;
                self.visit_expr(&await_.value)?;
                self.cur_mut().coroutine = true;
            }
            Expr::Call(call) => {
                self.visit_expr(&call.func)?;
                let arguments = &call.arguments;
                // A lone generator argument `f(x for x in y)` starts, for CPython, at the `(`.
                if let [Expr::Generator(generator)] = &*arguments.args
                    && arguments.keywords.is_empty()
                    && !generator.parenthesized
                {
                    let lineno = self.lineno(arguments.range.start());
                    self.deeper()?;
                    self.visit_genexp(generator, lineno)?;
                    self.depth -= 1;
                } else {
                    self.visit_exprs(arguments.args.iter())?;
                }
                for keyword in &arguments.keywords {
                    self.visit_expr(&keyword.value)?;
                }
            }
            Expr::FString(fstring) => {
                for element in fstring.value.elements() {
                    self.visit_interpolated(element)?;
                }
            }
            Expr::TString(_) => return Err(Box::new(Refused::NotPy312("a template string"))),
            Expr::IpyEscapeCommand(_) => {
                return Err(Box::new(Refused::NotPy312("an IPython escape")));
            }
            _ => {}
        }
        Ok(())
    }

    fn visit_interpolated(&mut self, element: &InterpolatedStringElement) -> Res {
        if let InterpolatedStringElement::Interpolation(interpolation) = element {
            self.visit_expr(&interpolation.expression)?;
            if let Some(spec) = &interpolation.format_spec {
                for element in &spec.elements {
                    self.visit_interpolated(element)?;
                }
            }
        }
        Ok(())
    }

    fn visit_genexp(&mut self, generator: &ast::ExprGenerator, lineno: u32) -> Res {
        self.handle_comprehension_parts(
            BlockKey::Comprehension(generator.range),
            "genexpr",
            Comprehension::Generator,
            &generator.generators,
            &generator.elt,
            None,
            lineno,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_comprehension(
        &mut self,
        expr: &Expr,
        name: &str,
        kind: Comprehension,
        generators: &[ast::Comprehension],
        elt: &Expr,
        value: Option<&Expr>,
        lineno: u32,
    ) -> Res {
        self.handle_comprehension_parts(
            BlockKey::Comprehension(expr.range()),
            name,
            kind,
            generators,
            elt,
            value,
            lineno,
        )
    }

    /// `symtable_handle_comprehension`
    #[allow(clippy::too_many_arguments)]
    fn handle_comprehension_parts(
        &mut self,
        key: BlockKey,
        name: &str,
        kind: Comprehension,
        generators: &[ast::Comprehension],
        elt: &Expr,
        value: Option<&Expr>,
        lineno: u32,
    ) -> Res {
        if self.scopes[self.cur()].can_see_class_scope {
            return syntax("Cannot use comprehension in annotation scope within class scope");
        }
        let Some((outermost, rest)) = generators.split_first() else {
            return Err(Box::new(Refused::NotPy312(
                "a comprehension without a loop",
            )));
        };
        let is_generator = kind == Comprehension::Generator;
        // The outermost iterable is evaluated in the enclosing scope.
        self.cur_mut().comp_iter_expr += 1;
        self.visit_expr(&outermost.iter)?;
        self.cur_mut().comp_iter_expr -= 1;
        self.enter_block(name, BlockType::Function, Some(key), lineno);
        self.cur_mut().comprehension = Some(kind);
        if outermost.is_async {
            self.cur_mut().coroutine = true;
        }
        // symtable_implicit_arg: the outermost iterator comes in as `.0`.
        self.add_def(".0", DEF_PARAM)?;
        self.cur_mut().comp_iter_target = true;
        self.visit_expr(&outermost.target)?;
        self.cur_mut().comp_iter_target = false;
        self.visit_exprs(&outermost.ifs)?;
        for generator in rest {
            self.visit_comprehension(generator)?;
        }
        if let Some(value) = value {
            self.visit_expr(value)?;
        }
        self.visit_expr(elt)?;
        let cur = self.cur_mut();
        cur.generator = is_generator;
        let is_async = cur.coroutine && !is_generator;
        self.exit_block();
        if is_async {
            self.cur_mut().coroutine = true;
        }
        Ok(())
    }

    /// `symtable_visit_comprehension`
    fn visit_comprehension(&mut self, generator: &ast::Comprehension) -> Res {
        self.cur_mut().comp_iter_target = true;
        self.visit_expr(&generator.target)?;
        self.cur_mut().comp_iter_target = false;
        self.cur_mut().comp_iter_expr += 1;
        self.visit_expr(&generator.iter)?;
        self.cur_mut().comp_iter_expr -= 1;
        self.visit_exprs(&generator.ifs)?;
        if generator.is_async {
            self.cur_mut().coroutine = true;
        }
        Ok(())
    }

    /// `symtable_handle_namedexpr`
    fn handle_namedexpr(&mut self, named: &ast::ExprNamed) -> Res {
        if self.scopes[self.cur()].comp_iter_expr > 0 {
            return syntax(
                "assignment expression cannot be used in a comprehension iterable expression",
            );
        }
        if self.scopes[self.cur()].comprehension.is_some() {
            self.extend_namedexpr_scope(&named.target)?;
        }
        self.visit_expr(&named.value)?;
        self.visit_expr(&named.target)
    }

    /// `symtable_extend_namedexpr_scope`
    fn extend_namedexpr_scope(&mut self, target: &Expr) -> Res {
        let Expr::Name(target) = target else {
            return syntax("cannot use assignment expressions with this target");
        };
        let name = target.id.as_str();
        for i in (0..self.stack.len()).rev() {
            let ste = self.stack[i];
            let scope = &self.scopes[ste];
            if scope.comprehension.is_some() {
                // `_PyST_GetSymbol` with the name as written: no mangling, as in CPython.
                let in_scope = self.ids.get(name).map_or(0, |&id| self.scopes[ste].get(id));
                if in_scope & DEF_COMP_ITER != 0 && in_scope & DEF_LOCAL != 0 {
                    return syntax(format!(
                        "assignment expression cannot rebind comprehension iteration variable '{name}'"
                    ));
                }
                continue;
            }
            match scope.kind {
                BlockType::Function => {
                    // Only `_PyST_GetSymbol` (no mangling) is asked here, as in CPython.
                    let in_scope = self.ids.get(name).map_or(0, |&id| self.scopes[ste].get(id));
                    if in_scope & DEF_GLOBAL != 0 {
                        self.add_def(name, DEF_GLOBAL)?;
                    } else {
                        self.add_def(name, DEF_NONLOCAL)?;
                    }
                    return self.add_def_helper(name, DEF_LOCAL, ste);
                }
                BlockType::Module => {
                    self.add_def(name, DEF_GLOBAL)?;
                    return self.add_def_helper(name, DEF_GLOBAL, ste);
                }
                BlockType::Class
                | BlockType::TypeParam
                | BlockType::TypeAlias
                | BlockType::TypeVarBound => {
                    return syntax(
                        "assignment expression within a comprehension cannot be used here",
                    );
                }
                BlockType::Annotation => {}
            }
        }
        syntax("assignment expression outside any scope")
    }

    // The second pass.

    /// `analyze_name`: pushes the name's resolved scope on `scopes` (one entry per symbol, in
    /// symbol order).
    #[allow(clippy::too_many_arguments)]
    fn analyze_name(
        &mut self,
        ste: ScopeId,
        scopes: &mut Vec<u32>,
        name: NameId,
        flags: u32,
        bound: Option<&mut HashSet<NameId>>,
        free: &mut HashSet<NameId>,
        global: &mut HashSet<NameId>,
        type_params: &mut HashSet<NameId>,
        class_entry: Option<ScopeId>,
    ) -> Res {
        let shown = |b: &Self| b.names[name as usize].to_string();
        if flags & DEF_GLOBAL != 0 {
            if flags & DEF_NONLOCAL != 0 {
                return syntax(format!("name '{}' is nonlocal and global", shown(self)));
            }
            scopes.push(GLOBAL_EXPLICIT);
            global.insert(name);
            if let Some(bound) = bound {
                bound.remove(&name);
            }
            return Ok(());
        }
        if flags & DEF_NONLOCAL != 0 {
            let Some(bound) = bound else {
                return syntax("nonlocal declaration not allowed at module level");
            };
            if !bound.contains(&name) {
                return syntax(format!("no binding for nonlocal '{}' found", shown(self)));
            }
            if type_params.contains(&name) {
                return syntax(format!(
                    "nonlocal binding not allowed for type parameter '{}'",
                    shown(self)
                ));
            }
            scopes.push(FREE);
            self.scopes[ste].free = true;
            free.insert(name);
            return Ok(());
        }
        if flags & DEF_BOUND != 0 {
            scopes.push(LOCAL);
            global.remove(&name);
            if flags & DEF_TYPE_PARAM != 0 {
                type_params.insert(name);
            } else {
                type_params.remove(&name);
            }
            return Ok(());
        }
        // A scope that can see a class namespace resolves a name the class binds at runtime
        // in the class namespace and the globals, not in an outer function.
        if let Some(class_entry) = class_entry {
            let class_flags = self.scopes[class_entry].get(name);
            if class_flags & DEF_GLOBAL != 0 {
                scopes.push(GLOBAL_EXPLICIT);
                return Ok(());
            } else if class_flags & DEF_BOUND != 0 && class_flags & DEF_NONLOCAL == 0 {
                scopes.push(GLOBAL_IMPLICIT);
                return Ok(());
            }
        }
        if let Some(bound) = bound
            && bound.contains(&name)
        {
            scopes.push(FREE);
            self.scopes[ste].free = true;
            free.insert(name);
            return Ok(());
        }
        if global.contains(&name) {
            scopes.push(GLOBAL_IMPLICIT);
            return Ok(());
        }
        if self.scopes[ste].nested {
            self.scopes[ste].free = true;
        }
        scopes.push(GLOBAL_IMPLICIT);
        Ok(())
    }

    /// `analyze_block`
    fn analyze_block(
        &mut self,
        ste: ScopeId,
        mut bound: Option<&mut HashSet<NameId>>,
        free: &mut HashSet<NameId>,
        global: &mut HashSet<NameId>,
        type_params: &mut HashSet<NameId>,
        class_entry: Option<ScopeId>,
    ) -> Res {
        // The resolved scope of each symbol, by its index in `symbols` (a map in CPython).
        let mut scopes: Vec<u32> = Vec::with_capacity(self.scopes[ste].symbols.len());
        let mut newglobal = HashSet::default();
        let mut newfree = HashSet::default();
        let mut newbound = HashSet::default();
        let mut inlined_cells = HashSet::default();
        let kind = self.scopes[ste].kind;
        let is_class = kind == BlockType::Class;
        // `newbound` and `newglobal` are only for the children: most scopes have none.
        let has_children = !self.scopes[ste].children.is_empty();
        // Class bindings are not visible in methods: what children see is fixed before.
        if is_class && has_children {
            newglobal.extend(global.iter().copied());
            if let Some(bound) = bound.as_deref() {
                newbound.extend(bound.iter().copied());
            }
        }
        for i in 0..self.scopes[ste].symbols.len() {
            let (name, flags) = self.scopes[ste].symbols[i];
            self.analyze_name(
                ste,
                &mut scopes,
                name,
                flags,
                bound.as_deref_mut(),
                free,
                global,
                type_params,
                class_entry,
            )?;
        }
        if has_children && is_class {
            // Methods see `__class__` and annotation scopes `__classdict__` as if bound here.
            newbound.insert(self.intern("__class__"));
            newbound.insert(self.intern("__classdict__"));
        } else if has_children {
            if self.scopes[ste].function_like() {
                // CPython's `local` set: the names resolved `LOCAL` just above.
                let symbols = &self.scopes[ste].symbols;
                newbound.extend(
                    symbols
                        .iter()
                        .zip(&scopes)
                        .filter(|&(_, &scope)| scope == LOCAL)
                        .map(|(&(name, _), _)| name),
                );
            }
            if let Some(bound) = bound.as_deref() {
                newbound.extend(bound.iter().copied());
            }
            newglobal.extend(global.iter().copied());
        }

        // Nothing reads this scope's children while they are analyzed; put back spliced below.
        let children = std::mem::take(&mut self.scopes[ste].children);
        // Scratch copies for the children, reused (`analyze_child_block` copies the sets).
        let mut child_bound = HashSet::default();
        let mut child_global = HashSet::default();
        let mut child_type_params = HashSet::default();
        for &child in &children {
            let new_class_entry = if self.scopes[child].can_see_class_scope {
                if is_class { Some(ste) } else { class_entry }
            } else {
                None
            };
            let inline_comp =
                self.scopes[child].comprehension.is_some() && !self.scopes[child].generator;
            // analyze_child_block: the child works on copies. Its free set starts empty, not
            // as a copy of `newfree`: the child only adds to it, `inline_comprehension` only
            // removes from it, and it is then merged into `newfree`, so `newfree` ends the same.
            let mut child_free = HashSet::default();
            child_bound.clone_from(&newbound);
            child_global.clone_from(&newglobal);
            child_type_params.clone_from(type_params);
            self.analyze_block(
                child,
                Some(&mut child_bound),
                &mut child_free,
                &mut child_global,
                &mut child_type_params,
                new_class_entry,
            )?;
            if inline_comp {
                self.inline_comprehension(
                    ste,
                    child,
                    &mut scopes,
                    &mut child_free,
                    &mut inlined_cells,
                );
                self.scopes[child].comp_inlined = true;
            }
            newfree.extend(child_free);
            if self.scopes[child].free || self.scopes[child].child_free {
                self.scopes[ste].child_free = true;
            }
        }
        // Splice the children of inlined comprehensions into our children list.
        let mut spliced = Vec::with_capacity(children.len());
        for &child in &children {
            if self.scopes[child].comp_inlined {
                spliced.extend(self.scopes[child].children.iter().copied());
            } else {
                spliced.push(child);
            }
        }
        self.scopes[ste].children = spliced;

        if self.scopes[ste].function_like() {
            analyze_cells(
                &self.scopes[ste].symbols,
                &mut scopes,
                &mut newfree,
                &inlined_cells,
            );
        } else if is_class {
            self.drop_class_free(ste, &mut newfree);
        }
        let classflag = is_class || self.scopes[ste].can_see_class_scope;
        self.update_symbols(
            ste,
            &scopes,
            bound.as_deref(),
            &newfree,
            &inlined_cells,
            classflag,
        );
        free.extend(newfree);
        Ok(())
    }

    /// `inline_comprehension`
    fn inline_comprehension(
        &mut self,
        ste: ScopeId,
        comp: ScopeId,
        scopes: &mut Vec<u32>,
        comp_free: &mut HashSet<NameId>,
        inlined_cells: &mut HashSet<NameId>,
    ) {
        let comp_hash_ordered = self.scopes[comp].hash_ordered;
        for k in 0..self.scopes[comp].symbols.len() {
            let (name, comp_flags) = self.scopes[comp].symbols[k];
            // The comprehension's `.0` parameter.
            if comp_flags & DEF_PARAM != 0 {
                continue;
            }
            let scope = (comp_flags >> SCOPE_OFFSET) & SCOPE_MASK;
            let only_flags = comp_flags & ((1 << SCOPE_OFFSET) - 1);
            if scope == CELL || only_flags & DEF_COMP_CELL != 0 {
                inlined_cells.insert(name);
            }
            match self.scopes[ste].slot(name) {
                None => {
                    self.scopes[ste].set(name, only_flags);
                    self.scopes[ste].hash_ordered |= comp_hash_ordered;
                    scopes.push(scope);
                }
                Some(i) => {
                    let existing = self.scopes[ste].symbols[i].1;
                    // Free in the comprehension, local outside: simply local now, unless a
                    // child of the comprehension needs it free, or the outer scope is a class.
                    if existing & DEF_BOUND != 0
                        && !self.is_free_in_any_child(comp, name)
                        && self.scopes[ste].kind != BlockType::Class
                    {
                        comp_free.remove(&name);
                    }
                }
            }
        }
    }

    /// `is_free_in_any_child`
    fn is_free_in_any_child(&self, entry: ScopeId, name: NameId) -> bool {
        self.scopes[entry]
            .children
            .iter()
            .any(|&child| (self.scopes[child].get(name) >> SCOPE_OFFSET) & SCOPE_MASK == FREE)
    }

    /// `drop_class_free`
    fn drop_class_free(&mut self, ste: ScopeId, free: &mut HashSet<NameId>) {
        let class = self.intern("__class__");
        let classdict = self.intern("__classdict__");
        if free.remove(&class) {
            self.scopes[ste].needs_class_closure = true;
        }
        if free.remove(&classdict) {
            self.scopes[ste].needs_classdict = true;
        }
    }

    /// `update_symbols`
    fn update_symbols(
        &mut self,
        ste: ScopeId,
        scopes: &[u32],
        bound: Option<&HashSet<NameId>>,
        free: &HashSet<NameId>,
        inlined_cells: &HashSet<NameId>,
        classflag: bool,
    ) {
        let scope = &mut self.scopes[ste];
        debug_assert_eq!(scope.symbols.len(), scopes.len());
        for ((name, flags), &resolved) in scope.symbols.iter_mut().zip(scopes) {
            if inlined_cells.contains(name) {
                *flags |= DEF_COMP_CELL;
            }
            *flags |= resolved << SCOPE_OFFSET;
        }
        // Free names from children not yet resolved. A set in CPython (hash order); sorted
        // here so the table is deterministic. Only the insertion order depends on it.
        let mut names: Vec<NameId> = free.iter().copied().collect();
        names.sort_unstable();
        let mut added = 0;
        for name in names {
            if let Some(i) = scope.slot(name) {
                // A free variable of a method with the name of a class-level binding.
                if classflag {
                    scope.symbols[i].1 |= DEF_FREE_CLASS;
                }
                continue;
            }
            if let Some(bound) = bound
                && !bound.contains(&name)
            {
                continue; // a global
            }
            scope.set(name, FREE << SCOPE_OFFSET);
            added += 1;
        }
        if added > 1 {
            scope.hash_ordered = true;
        }
    }
}

/// `analyze_cells`: locals that children read become cells.
fn analyze_cells(
    symbols: &[(NameId, u32)],
    scopes: &mut [u32],
    free: &mut HashSet<NameId>,
    inlined_cells: &HashSet<NameId>,
) {
    for ((name, _), scope) in symbols.iter().zip(scopes.iter_mut()) {
        if *scope != LOCAL {
            continue;
        }
        if !free.contains(name) && !inlined_cells.contains(name) {
            continue;
        }
        *scope = CELL;
        free.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(source: &str) -> SymbolTable {
        let parsed = ruff_python_parser::parse_module(source).unwrap();
        build(parsed.syntax(), source).unwrap()
    }

    #[test]
    fn mangles_private_names_in_classes() {
        assert_eq!(mangle(Some("C"), "__x").as_deref(), Some("_C__x"));
        assert_eq!(mangle(Some("__C"), "__x").as_deref(), Some("_C__x"));
        assert_eq!(mangle(Some("__"), "__x"), None);
        assert_eq!(mangle(Some("C"), "__x__"), None);
        assert_eq!(mangle(Some("C"), "__a.b"), None);
        assert_eq!(mangle(None, "__x"), None);
    }

    #[test]
    fn closure_cells_and_frees() {
        let t = table("def f(a):\n    def g():\n        return a\n    return g\n");
        let f = t.top().child_scopes().next().unwrap();
        assert_eq!(f.lookup("a").unwrap().scope(), Some(Resolved::Cell));
        let g = f.child_scopes().next().unwrap();
        assert_eq!(g.lookup("a").unwrap().scope(), Some(Resolved::Free));
        assert!(g.free && f.child_free);
    }

    #[test]
    fn scopes_are_found_by_node() {
        let source = "@dec\n\ndef f[T](a, /, b, *c, d, **e):\n    return [x for x in a], (lambda: b)\n\nclass C:\n    def m(self):\n        return super().__x\n";
        let parsed = ruff_python_parser::parse_module(source).unwrap();
        let module = parsed.syntax();
        let t = build(module, source).unwrap();
        let Stmt::FunctionDef(def) = &module.body[0] else {
            panic!()
        };
        let f = t.function(def).unwrap();
        assert_eq!((f.lineno, f.firstlineno), (3, 1));
        assert_eq!(f.params().collect::<Vec<_>>(), ["a", "b", "d", "c", "e"]);
        assert!(f.varargs && f.varkeywords && f.nested);
        let generic = t.type_params(def.type_params.as_deref().unwrap()).unwrap();
        assert_eq!(generic.kind, BlockType::TypeParam);
        assert_eq!(generic.params().collect::<Vec<_>>(), [".defaults"]);
        let Stmt::Return(ret) = &def.body[0] else {
            panic!()
        };
        let Expr::Tuple(tuple) = ret.value.as_deref().unwrap() else {
            panic!()
        };
        let comp = t.comprehension(&tuple.elts[0]).unwrap();
        assert!(comp.comp_inlined);
        assert_eq!(comp.lookup("x").unwrap().scope(), Some(Resolved::Local));
        // Inlined: `x` is also the function's, and the comprehension is not its child.
        assert!(f.lookup("x").is_some());
        assert_eq!(f.child_scopes().count(), 1);
        let Expr::Lambda(lambda) = &tuple.elts[1] else {
            panic!()
        };
        let lambda = t.lambda(lambda).unwrap();
        assert_eq!(lambda.lookup("b").unwrap().scope(), Some(Resolved::Free));
        assert_eq!(f.sorted_names(Resolved::Cell, DEF_COMP_CELL), ["b"]);
        let Stmt::ClassDef(class) = &module.body[1] else {
            panic!()
        };
        let c = t.class(class).unwrap();
        assert!(c.needs_class_closure);
        let m = c.child_scopes().next().unwrap();
        assert_eq!(m.lookup("__class__").unwrap().scope(), Some(Resolved::Free));
        assert!(m.lookup("super").is_some());
    }

    #[test]
    fn flags_symbol_orders_that_follow_string_hashes() {
        // CPython 3.12 gives this class body's co_varnames in a PYTHONHASHSEED-dependent order.
        let t = table(
            "def f():\n    a = b = 1\n    class C:\n        r = [lambda: (a, b) for _ in ()]\n    return C\n",
        );
        let f = t.top().child_scopes().next().unwrap();
        let c = f.child_scopes().next().unwrap();
        assert!(c.hash_ordered);
        assert!(!f.hash_ordered);
        let t = table("def f():\n    a = 1\n    class C:\n        r = [lambda: a for _ in ()]\n");
        let f = t.top().child_scopes().next().unwrap();
        assert!(!f.child_scopes().next().unwrap().hash_ordered);
    }

    #[test]
    fn deep_nesting_is_refused_before_the_stack_runs_out() {
        // CPython 3.12.1 compiles 1,500 terms and raises RecursionError at 3,000. The 1,000
        // levels followed fit in a 2 MiB stack (Rust's default for a thread), debug build too.
        let results = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                [900, 5000].map(|terms| {
                    let source = format!("x = {}\n", vec!["a"; terms].join(" + "));
                    let parsed = ruff_python_parser::parse_module(&source).unwrap();
                    build(parsed.syntax(), &source).err()
                })
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(results, [None, Some(Refused::TooDeep)]);
    }

    #[test]
    fn refuses_what_cpython_rejects() {
        for source in [
            "nonlocal x\n",
            "def f():\n    x = 1\n    global x\n",
            "def f(a, a): pass\n",
            "def f():\n    from os import *\n",
            "[(yield) for x in y]\n",
        ] {
            let parsed = ruff_python_parser::parse_module(source).unwrap();
            assert!(build(parsed.syntax(), source).is_err(), "{source}");
        }
    }
}
