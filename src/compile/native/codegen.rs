//! Code generation (`Python/compile.c`): the AST to a sequence of instructions with labels per
//! code unit, then each unit through the flow graph and the assembler into a code object.
//! Function names follow compile.c; anything not followed exactly is [`Unsupported`].

use super::Unsupported;
use super::assemble;
use super::code::{CodeObject, Const, NameSet};
use super::flowgraph::{Cfg, Consts, InstrSeq, Loc, NO_LOC};
use super::fold::{Folder, FormatPiece};
use super::opcode312 as op;
use super::scopes::{
    BlockKey, BlockType, Resolved, ScopeId, SymbolTable,
    flags::{
        DEF_COMP_CELL, DEF_FREE_CLASS, DEF_IMPORT, DEF_LOCAL, DEF_NONLOCAL, SCOPE_MASK,
        SCOPE_OFFSET,
    },
};
use ruff_python_ast::{self as ast, CmpOp, Expr, ExprContext, Operator, Stmt, UnaryOp};
use ruff_text_size::{Ranged, TextRange, TextSize};
use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::cell::Cell;

// Generators and coroutines: `yield from`, `await`, `async for` / `with`, async comprehensions.
mod coroutines;
// `except*`.
mod exception_groups;

type R = Result<(), Unsupported>;

mod patterns;

const STACK_USE_GUIDELINE: usize = 30;
/// `CO_FUTURE_ANNOTATIONS`
const CO_FUTURE_ANNOTATIONS: u32 = 0x0100_0000;
const INTRINSIC_IMPORT_STAR: i32 = 2;
const INTRINSIC_UNARY_POSITIVE: i32 = 5;
const INTRINSIC_LIST_TO_TUPLE: i32 = 6;
const INTRINSIC_TYPEVAR: usize = 7;
const INTRINSIC_PARAMSPEC: usize = 8;
const INTRINSIC_TYPEVARTUPLE: usize = 9;
const INTRINSIC_SUBSCRIPT_GENERIC: usize = 10;
const INTRINSIC_TYPEALIAS: usize = 11;
const INTRINSIC_TYPEVAR_WITH_BOUND: usize = 2;
const INTRINSIC_TYPEVAR_WITH_CONSTRAINTS: usize = 3;
const INTRINSIC_SET_FUNCTION_TYPE_PARAMS: usize = 4;

const CO_OPTIMIZED: u32 = 0x1;
const CO_NEWLOCALS: u32 = 0x2;
const CO_VARARGS: u32 = 0x4;
const CO_VARKEYWORDS: u32 = 0x8;
const CO_NESTED: u32 = 0x10;
const CO_GENERATOR: u32 = 0x20;
const CO_COROUTINE: u32 = 0x80;
const CO_ASYNC_GENERATOR: u32 = 0x200;
const INTRINSIC_ASYNC_GEN_WRAP: usize = 4;
const INTRINSIC_STOPITERATION_ERROR: i32 = 3;
const CO_FAST_LOCAL: u8 = 0x20;
const CO_FAST_HIDDEN: u8 = 0x10;
const CO_FAST_CELL: u8 = 0x40;
const CO_FAST_FREE: u8 = 0x80;

/// Line starts of the source, to turn byte offsets into CPython's (line, column).
pub(crate) struct Lines {
    starts: Vec<u32>,
    /// The line of the last lookup: code generation walks the source mostly forward, and an
    /// end offset is mostly on its start's line, so most lookups need no binary search.
    hint: Cell<usize>,
}

impl Lines {
    pub(crate) fn new(text: &str) -> Lines {
        Lines::from_starts(super::scopes::line_starts(text))
    }

    fn from_starts(starts: Vec<u32>) -> Lines {
        Lines {
            starts,
            hint: Cell::new(0),
        }
    }

    /// The (line, column) of both ends of `range`: the end is looked up from the start's
    /// line, where it mostly is.
    fn span(&self, range: TextRange) -> (i32, i32, i32, i32) {
        let (line, col) = self.position(range.start());
        let end = u32::from(range.end());
        let next = self.starts.get(line as usize).copied();
        if next.is_none_or(|next| end < next) {
            let start = self.starts[line as usize - 1];
            return (line, col, line, (end - start) as i32);
        }
        let (end_line, end_col) = self.position(range.end());
        (line, col, end_line, end_col)
    }

    fn position(&self, offset: TextSize) -> (i32, i32) {
        let offset = u32::from(offset);
        let starts = &self.starts;
        let on = |line: usize| {
            starts[line] <= offset && starts.get(line + 1).is_none_or(|&next| offset < next)
        };
        let hint = self.hint.get();
        let line = if on(hint) {
            hint
        } else if hint + 1 < starts.len() && on(hint + 1) {
            hint + 1
        } else {
            starts.partition_point(|&start| start <= offset) - 1
        };
        self.hint.set(line);
        (line as i32 + 1, (offset - starts[line]) as i32)
    }
}

/// `fblockinfo`: what a `break`, `continue` or `return` must unwind on its way out.
#[derive(Debug, Clone, Copy)]
enum FBlock<'a> {
    While { start: i32, exit: i32 },
    For { start: i32, exit: i32 },
    TryExcept,
    FinallyTry(&'a [Stmt]),
    FinallyEnd,
    With(Loc),
    AsyncWith(Loc),
    AsyncComprehensionGenerator,
    ExceptionGroupHandler,
    HandlerCleanup(Option<&'a str>),
    PopValue,
    ExceptionHandler,
}

/// `CO_MAXBLOCKS`: CPython refuses deeper static nesting.
const MAX_BLOCKS: usize = 20;

// The resolved scopes as `_PyST_GetScope` gives them (0: not in the table).
const LOCAL: u32 = Resolved::Local as u32;
const GLOBAL_EXPLICIT: u32 = Resolved::GlobalExplicit as u32;
const GLOBAL_IMPLICIT: u32 = Resolved::GlobalImplicit as u32;
const FREE: u32 = Resolved::Free as u32;
const CELL: u32 = Resolved::Cell as u32;

/// `u_scope_type`, as far as compile.c decides by it (lambdas and generator expressions are
/// `Function` units here; `qualname` tells a generator expression by its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Module,
    Function,
    Class,
    /// The hidden scope of a generic `def`, `class` or `type`, and a `TypeVar`'s bound.
    TypeParams,
}

/// `_Py_Mangle`: `__x` inside class `C` is `_C__x`.
fn mangle(private: Option<&str>, name: &str) -> String {
    super::scopes::mangle(private, name).unwrap_or_else(|| name.to_owned())
}

/// [`mangle`] without a copy of a name that stays as it is (most of them).
fn mangle_cow<'n>(private: Option<&str>, name: &'n str) -> Cow<'n, str> {
    match super::scopes::mangle(private, name) {
        Some(mangled) => Cow::Owned(mangled),
        None => Cow::Borrowed(name),
    }
}

/// `inlined_comprehension_state`: what `pop_inlined_comprehension_state` undoes.
#[derive(Default)]
struct InlinedComprehensionState {
    pushed_locals: Vec<String>,
    /// The outer unit's overrides the comprehension replaced (`None`: the table's own).
    temp_symbols: Vec<(String, Option<u32>)>,
    fast_hidden: Vec<String>,
    labels: Option<(i32, i32)>,
}

struct Unit<'a> {
    seq: InstrSeq,
    consts: Consts,
    names: NameSet,
    varnames: NameSet,
    scope: ScopeId,
    kind: ScopeKind,
    name: String,
    qualname: String,
    firstlineno: i32,
    argcount: u32,
    posonlyargcount: u32,
    kwonlyargcount: u32,
    private: Option<String>,
    fblocks: Vec<FBlock<'a>>,
    /// `u_fasthidden`: names inlined comprehensions made fast locals in a module or class,
    /// true while one runs (`CO_FAST_HIDDEN` in `co_localspluskinds` either way).
    fast_hidden: Vec<(String, bool)>,
    /// `u_cellvars` in index order: `CELL` or `DEF_COMP_CELL` names sorted, then `__class__`
    /// and `__classdict__` for a class that needs them.
    cellvars: Vec<String>,
    /// `u_freevars` (`FREE` or `DEF_FREE_CLASS`, sorted), numbered after the cells.
    freevars: Vec<String>,
    /// The symbols `push_inlined_comprehension_state` swapped into `ste_symbols` while an
    /// inlined comprehension is compiled.
    temp_symbols: HashMap<String, u32>,
    /// `u_in_inlined_comp`.
    in_inlined_comp: u32,
    /// `COMPILER_SCOPE_ASYNC_FUNCTION`: the body of an `async def`.
    is_async: bool,
}

pub(crate) struct Compiler<'a> {
    text: &'a str,
    lines: Lines,
    table: SymbolTable,
    folder: Folder<'a>,
    /// `c_optimize` for asserts.
    optimize: u8,
    /// Docstrings dropped: `optimize >= 2 || strip_docstrings`.
    strip_docstrings: bool,
    filename: String,
    units: Vec<Unit<'a>>,
    /// The `from __future__` imports at the start of the module (after a docstring), the
    /// only place CPython allows them (`future.c`).
    future_ok: Vec<TextSize>,
    /// `from __future__ import annotations` (`CO_FUTURE_ANNOTATIONS`).
    future_annotations: bool,
    /// Instruction buffers of finished units, emptied, for the next units to fill without
    /// growing new ones from nothing.
    spare_seqs: Vec<InstrSeq>,
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(
        text: &'a str,
        table: SymbolTable,
        optimize: u8,
        strip_docstrings: bool,
        filename: &str,
    ) -> Compiler<'a> {
        let mut table = table;
        let starts = table.take_line_starts();
        let lines = if starts.is_empty() {
            Lines::new(text)
        } else {
            Lines::from_starts(starts)
        };
        Compiler {
            text,
            lines,
            table,
            folder: Folder { optimize, text },
            optimize,
            strip_docstrings: optimize >= 2 || strip_docstrings,
            filename: filename.to_owned(),
            units: Vec::new(),
            future_ok: Vec::new(),
            future_annotations: false,
            spare_seqs: Vec::new(),
        }
    }

    fn u(&mut self) -> &mut Unit<'a> {
        self.units.last_mut().expect("a code unit")
    }
    fn ur(&self) -> &Unit<'a> {
        self.units.last().expect("a code unit")
    }

    fn loc(&self, range: TextRange) -> Loc {
        let (line, col, end_line, end_col) = self.lines.span(range);
        Loc {
            line,
            end_line,
            col,
            end_col,
        }
    }

    fn addop(&mut self, opcode: u16, loc: Loc) {
        self.u().seq.add(opcode, 0, loc);
    }
    fn addop_i(&mut self, opcode: u16, arg: usize, loc: Loc) -> R {
        let arg = i32::try_from(arg).map_err(|_| Unsupported::Construct("a huge argument"))?;
        self.u().seq.add(opcode, arg, loc);
        Ok(())
    }
    fn addop_j(&mut self, opcode: u16, label: i32, loc: Loc) {
        self.u().seq.add(opcode, label, loc);
    }
    fn new_label(&mut self) -> i32 {
        self.u().seq.new_label()
    }
    fn use_label(&mut self, label: i32) {
        self.u().seq.use_label(label);
    }
    fn load_const(&mut self, value: Const, loc: Loc) -> R {
        if value.has_nan() {
            return Err(Unsupported::Construct("a NaN constant"));
        }
        let i = self.u().consts.add(value);
        self.addop_i(op::LOAD_CONST, i as usize, loc)
    }
    /// `compiler_addop_name`: mangled, and LOAD_ATTR/LOAD_METHOD encoded.
    fn addop_name(&mut self, opcode: u16, name: &str, loc: Loc) -> R {
        let mangled = mangle_cow(self.ur().private.as_deref(), name);
        let mut arg = self.u().names.add(&mangled) as usize;
        let mut opcode = opcode;
        if opcode == op::LOAD_ATTR {
            arg <<= 1;
        }
        if opcode == op::LOAD_METHOD {
            opcode = op::LOAD_ATTR;
            arg = (arg << 1) | 1;
        }
        match opcode {
            op::LOAD_SUPER_ATTR => arg = (arg << 2) | 2,
            op::LOAD_SUPER_METHOD => {
                opcode = op::LOAD_SUPER_ATTR;
                arg = (arg << 2) | 3;
            }
            op::LOAD_ZERO_SUPER_ATTR => {
                opcode = op::LOAD_SUPER_ATTR;
                arg <<= 2;
            }
            op::LOAD_ZERO_SUPER_METHOD => {
                opcode = op::LOAD_SUPER_ATTR;
                arg = (arg << 2) | 1;
            }
            _ => {}
        }
        self.addop_i(opcode, arg, loc)
    }
    /// `ADDOP_N` with `names` and no mangling.
    fn addop_name_raw(&mut self, opcode: u16, name: &str, loc: Loc) -> R {
        let arg = self.u().names.add(name) as usize;
        self.addop_i(opcode, arg, loc)
    }

    /// `compiler_enter_scope`.
    fn enter_scope(&mut self, name: &str, kind: ScopeKind, scope: ScopeId, firstlineno: i32) -> R {
        let ste = self.table.scope(scope);
        let mut varnames = NameSet::default();
        for p in ste.params() {
            varnames.add(p);
        }
        let mut cellvars: Vec<String> = ste
            .sorted_names(Resolved::Cell, DEF_COMP_CELL)
            .into_iter()
            .map(str::to_owned)
            .collect();
        // The implicit `__class__` and `__classdict__` cells of a class.
        for (needed, implicit) in [
            (ste.needs_class_closure, "__class__"),
            (ste.needs_classdict, "__classdict__"),
        ] {
            if needed && !cellvars.iter().any(|c| c == implicit) {
                cellvars.push(implicit.to_owned());
            }
        }
        let freevars = ste
            .sorted_names(Resolved::Free, DEF_FREE_CLASS)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let private = self.units.last().and_then(|u| u.private.clone());
        let qualname = if kind == ScopeKind::Module {
            name.to_owned()
        } else {
            self.qualname(name, kind)
        };
        let unit = Unit {
            seq: self.spare_seqs.pop().unwrap_or_default(),
            consts: Consts::default(),
            names: NameSet::default(),
            varnames,
            scope,
            kind,
            name: name.to_owned(),
            qualname,
            firstlineno,
            argcount: 0,
            posonlyargcount: 0,
            kwonlyargcount: 0,
            private,
            fblocks: Vec::new(),
            fast_hidden: Vec::new(),
            cellvars,
            freevars,
            temp_symbols: HashMap::default(),
            in_inlined_comp: 0,
            is_async: false,
        };
        let mut loc = Loc {
            line: firstlineno,
            end_line: firstlineno,
            col: 0,
            end_col: 0,
        };
        if kind == ScopeKind::Module {
            loc.line = 0;
        }
        self.units.push(unit);
        self.addop_i(op::RESUME, 0, loc)
    }

    /// `compiler_set_qualname`.
    fn qualname(&self, name: &str, kind: ScopeKind) -> String {
        let depth = self.units.len();
        if depth < 2 {
            return name.to_owned();
        }
        let mut parent = self.ur();
        // What a type parameter scope holds is named after the scope around it.
        if parent.kind == ScopeKind::TypeParams {
            if depth == 2 {
                return name.to_owned();
            }
            parent = &self.units[depth - 2];
        }
        if matches!(kind, ScopeKind::Function | ScopeKind::Class) {
            let mangled = mangle_cow(parent.private.as_deref(), name);
            if self.scope_in(parent, &mangled) == GLOBAL_EXPLICIT {
                return name.to_owned();
            }
        }
        // A generator expression's scope (COMPILER_SCOPE_COMPREHENSION) adds no `<locals>`.
        if parent.kind == ScopeKind::Function && parent.name != "<genexpr>" {
            format!("{}.<locals>.{name}", parent.qualname)
        } else {
            format!("{}.{name}", parent.qualname)
        }
    }

    /// `_PyST_GetSymbol(u_ste, name)`: the flags of `name` in `unit`'s scope, as an inlined
    /// comprehension being compiled may have swapped them (0: not in the table).
    fn symbol_in(&self, unit: &Unit<'a>, name: &str) -> u32 {
        // Checked for emptiness first: hashing the name for an empty map is not free.
        let temp = if unit.temp_symbols.is_empty() {
            None
        } else {
            unit.temp_symbols.get(name)
        };
        match temp {
            Some(&flags) => flags,
            None => self
                .table
                .scope(unit.scope)
                .lookup(name)
                .map_or(0, |symbol| symbol.flags),
        }
    }

    /// `_PyST_GetScope(u_ste, name)`.
    fn scope_in(&self, unit: &Unit<'a>, name: &str) -> u32 {
        (self.symbol_in(unit, name) >> SCOPE_OFFSET) & SCOPE_MASK
    }

    /// `_PyST_GetSymbol(st_top, name)`: the module's table is the module unit's.
    fn top_symbol(&self, name: &str) -> u32 {
        match self.units.first() {
            Some(module) => self.symbol_in(module, name),
            None => self
                .table
                .top()
                .lookup(name)
                .map_or(0, |symbol| symbol.flags),
        }
    }

    /// `get_ref_type`: how the current unit holds a name a closure takes.
    fn get_ref_type(&self, name: &str) -> Result<u32, Unsupported> {
        let unit = self.ur();
        if unit.kind == ScopeKind::Class && (name == "__class__" || name == "__classdict__") {
            return Ok(CELL);
        }
        match self.scope_in(unit, name) {
            0 => Err(Unsupported::Construct(
                "a closure over a name of unknown scope",
            )),
            scope => Ok(scope),
        }
    }

    /// The `u_cellvars` index of `name` (`compiler_lookup_arg`).
    fn cell_index(&self, name: &str) -> Result<usize, Unsupported> {
        self.ur()
            .cellvars
            .iter()
            .position(|n| n == name)
            .ok_or(Unsupported::Construct("a cell the unit lacks"))
    }

    /// The `u_freevars` index of `name` (after the cells).
    fn free_index(&self, name: &str) -> Result<usize, Unsupported> {
        let unit = self.ur();
        unit.freevars
            .iter()
            .position(|n| n == name)
            .map(|i| i + unit.cellvars.len())
            .ok_or(Unsupported::Construct("a free variable the unit lacks"))
    }

    /// `optimize_and_assemble`: the return at the end, the flow graph passes, the assembler.
    fn exit_scope(&mut self, add_none: bool) -> Result<CodeObject, Unsupported> {
        if add_none {
            self.load_const(Const::None, NO_LOC)?;
        }
        self.addop(op::RETURN_VALUE, NO_LOC);
        let mut unit = self.units.pop().expect("a code unit");
        let scope = self.table.scope(unit.scope);
        // compute_code_flags
        let mut flags = 0;
        if scope.function_like() {
            flags |= CO_OPTIMIZED | CO_NEWLOCALS;
            if scope.nested {
                flags |= CO_NESTED;
            }
            match (scope.generator, scope.coroutine) {
                (true, false) => flags |= CO_GENERATOR,
                (false, true) => flags |= CO_COROUTINE,
                (true, true) => flags |= CO_ASYNC_GENERATOR,
                (false, false) => {}
            }
            if scope.varargs {
                flags |= CO_VARARGS;
            }
            if scope.varkeywords {
                flags |= CO_VARKEYWORDS;
            }
        }
        let generator = flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR) != 0;
        if self.future_annotations {
            // compute_code_flags: the future features are in every code object's flags.
            flags |= CO_FUTURE_ANNOTATIONS;
        }
        let mut cfg = Cfg::from_seq(&unit.seq);
        let mut spare = std::mem::take(&mut unit.seq);
        spare.instrs.clear();
        spare.labels.clear();
        self.spare_seqs.push(spare);
        let nlocals = unit.varnames.len();
        let nparams = scope.params().count();
        cfg.optimize_code_unit(&mut unit.consts, nlocals, nparams, unit.firstlineno)?;
        if generator {
            cfg.insert_generator_prefix(unit.firstlineno);
        }
        // prepare_localsplus: arg cells share the argument's slot.
        let nlocals = unit.varnames.len();
        let ncells = unit.cellvars.len();
        let nfrees = unit.freevars.len();
        let mut fixed: Vec<i32> = (0..ncells + nfrees).map(|i| (nlocals + i) as i32).collect();
        for (i, cell) in unit.cellvars.iter().enumerate() {
            if let Some(var) = unit.varnames.list.iter().position(|v| v == cell) {
                fixed[i] = var as i32;
            }
        }
        cfg.insert_cell_prefix(&fixed[..ncells], nfrees);
        let mut numdropped = 0;
        for (i, offset) in fixed.iter_mut().enumerate() {
            if *offset == (i + nlocals) as i32 {
                *offset -= numdropped;
            } else {
                numdropped += 1;
            }
        }
        cfg.fix_cell_offsets(&fixed);
        let stacksize = cfg.stackdepth(generator)?;
        cfg.convert_pseudo_ops();
        cfg.resolve_jumps();
        let instrs = cfg.instructions();
        // compute_localsplus_info; the unit is done, so its names move into the code object.
        let nvarnames = unit.varnames.list.len();
        let mut localsplusnames = std::mem::take(&mut unit.varnames.list);
        localsplusnames.reserve(unit.cellvars.len() + unit.freevars.len());
        let mut localspluskinds: Vec<u8> = localsplusnames
            .iter()
            .map(|name| {
                let mut kind = CO_FAST_LOCAL;
                if unit.fast_hidden.iter().any(|(n, _)| n == name) {
                    kind |= CO_FAST_HIDDEN;
                }
                if unit.cellvars.contains(name) {
                    kind |= CO_FAST_CELL;
                }
                kind
            })
            .collect();
        for cell in std::mem::take(&mut unit.cellvars) {
            if !localsplusnames[..nvarnames].contains(&cell) {
                localsplusnames.push(cell);
                localspluskinds.push(CO_FAST_CELL);
            }
        }
        for free in std::mem::take(&mut unit.freevars) {
            localsplusnames.push(free);
            localspluskinds.push(CO_FAST_FREE);
        }
        Ok(CodeObject {
            argcount: unit.argcount + unit.posonlyargcount,
            posonlyargcount: unit.posonlyargcount,
            kwonlyargcount: unit.kwonlyargcount,
            stacksize: stacksize as u32,
            flags,
            code: assemble::code_bytes(&instrs),
            consts: unit.consts.list,
            names: unit.names.list,
            localspluskinds,
            localsplusnames,
            filename: self.filename.clone(),
            name: unit.name,
            qualname: unit.qualname,
            firstlineno: unit.firstlineno as u32,
            linetable: assemble::linetable(&instrs, unit.firstlineno),
            exceptiontable: assemble::exception_table(&instrs),
        })
    }

    /// `compiler_mod` for a module.
    pub(crate) fn module(mut self, module: &'a ast::ModModule) -> Result<CodeObject, Unsupported> {
        for (i, stmt) in module.body.iter().enumerate() {
            match stmt {
                Stmt::Expr(e) if i == 0 && e.value.is_string_literal_expr() => {}
                Stmt::ImportFrom(import)
                    if import.level == 0
                        && import
                            .module
                            .as_ref()
                            .is_some_and(|m| m.as_str() == "__future__") =>
                {
                    self.future_ok.push(import.range.start());
                    self.future_annotations |= import
                        .names
                        .iter()
                        .any(|a| a.name.as_str() == "annotations");
                }
                _ => break,
            }
        }
        if self.strip_docstrings
            && self.optimize == 0
            && stripped_doc_before_future(module, self.text)
        {
            return Err(Unsupported::Construct(
                "a stripped module docstring before __future__, with module-level asserts",
            ));
        }
        self.enter_scope("<module>", ScopeKind::Module, 0, 1)?;
        let loc = match module.body.first() {
            Some(first) => self.stmt_loc(first)?,
            None => Loc {
                line: 1,
                end_line: 1,
                col: 0,
                end_col: 0,
            },
        };
        self.body(loc, &module.body)?;
        self.exit_scope(true)
    }

    /// `compiler_body`: `SETUP_ANNOTATIONS`, the docstring, the statements.
    fn body(&mut self, loc: Loc, stmts: &'a [Stmt]) -> R {
        if find_ann(stmts) {
            self.addop(op::SETUP_ANNOTATIONS, loc);
        }
        if stmts.is_empty() {
            return Ok(());
        }
        let mut start = 0;
        if !self.strip_docstrings {
            if let Some(doc) = self.docstring(stmts)? {
                start = 1;
                let Stmt::Expr(first) = &stmts[0] else {
                    unreachable!("a docstring is an expression statement")
                };
                let loc = self.loc(first.value.range());
                self.load_const(Const::Str(doc), loc)?;
                self.nameop("__doc__", ExprContext::Store, NO_LOC)?;
            }
        }
        for stmt in &stmts[start..] {
            self.stmt(stmt)?;
        }
        Ok(())
    }

    /// `_PyAST_GetDocString`: a first statement that is a plain string literal.
    fn docstring(&self, stmts: &[Stmt]) -> Result<Option<String>, Unsupported> {
        let Some(Stmt::Expr(first)) = stmts.first() else {
            return Ok(None);
        };
        match &*first.value {
            Expr::StringLiteral(_) => match self.folder.constant(&first.value)? {
                Some(Const::Str(s)) => Ok(Some(s)),
                Some(Const::Surrogates(_)) => {
                    Err(Unsupported::Construct("a docstring with a lone surrogate"))
                }
                _ => Ok(None),
            },
            Expr::BinOp(_)
                if matches!(self.folder.constant(&first.value)?, Some(Const::Str(_))) =>
            {
                Err(Unsupported::Construct(
                    "a folded string as the first statement",
                ))
            }
            _ => Ok(None),
        }
    }

    /// A statement's location: function and class definitions start at their keyword.
    fn stmt_loc(&self, stmt: &Stmt) -> Result<Loc, Unsupported> {
        let range = stmt.range();
        let start = match stmt {
            Stmt::FunctionDef(def) if def.is_async => self.async_def_start(def)?,
            Stmt::FunctionDef(def) => self.keyword_start(def.name.range().start(), "def")?,
            Stmt::ClassDef(class) => self.keyword_start(class.name.range().start(), "class")?,
            _ => range.start(),
        };
        let compound = matches!(
            stmt,
            Stmt::FunctionDef(_)
                | Stmt::ClassDef(_)
                | Stmt::For(_)
                | Stmt::While(_)
                | Stmt::If(_)
                | Stmt::With(_)
                | Stmt::Try(_)
                | Stmt::Match(_)
        );
        let end = if compound {
            self.past_semicolon(range.end())
        } else {
            range.end()
        };
        Ok(self.loc(TextRange::new(start, end)))
    }

    /// A compound statement (or handler) whose body ends in `x;` ends after the `;` for
    /// CPython (its last token).
    fn past_semicolon(&self, end: TextSize) -> TextSize {
        let rest = &self.text[usize::from(end)..];
        let trimmed = rest.trim_start_matches([' ', '\t', '\x0c']);
        if trimmed.starts_with(';') {
            end + TextSize::from((rest.len() - trimmed.len() + 1) as u32)
        } else {
            end
        }
    }

    fn keyword_start(&self, name_start: TextSize, keyword: &str) -> Result<TextSize, Unsupported> {
        let before = &self.text[..usize::from(name_start)];
        let trimmed = before.trim_end_matches([' ', '\t']);
        if trimmed.len() == before.len() || !trimmed.ends_with(keyword) {
            return Err(Unsupported::Construct("a definition split over lines"));
        }
        Ok(TextSize::from((trimmed.len() - keyword.len()) as u32))
    }

    fn stmt(&mut self, stmt: &'a Stmt) -> R {
        let loc = self.stmt_loc(stmt)?;
        match stmt {
            Stmt::FunctionDef(def) => self.function(def, loc),
            Stmt::ClassDef(class) => self.class(class, loc),
            Stmt::Return(ret) => self.return_(ret, loc),
            Stmt::Delete(del) => {
                for target in &del.targets {
                    self.expr(target)?;
                }
                Ok(())
            }
            Stmt::Assign(assign) => {
                self.expr(&assign.value)?;
                let n = assign.targets.len();
                for (i, target) in assign.targets.iter().enumerate() {
                    if i < n - 1 {
                        self.addop_i(op::COPY, 1, loc)?;
                    }
                    self.expr(target)?;
                }
                Ok(())
            }
            Stmt::AugAssign(aug) => self.augassign(aug, loc),
            Stmt::AnnAssign(ann) => self.annassign(ann, loc),
            Stmt::For(stmt) if stmt.is_async => self.async_for(stmt, loc),
            Stmt::For(stmt) => self.for_(stmt, loc),
            Stmt::While(stmt) => self.while_(stmt, loc),
            Stmt::If(stmt) => self.if_(stmt),
            Stmt::Raise(raise) => {
                let mut n = 0;
                if let Some(exc) = &raise.exc {
                    self.expr(exc)?;
                    n += 1;
                    if let Some(cause) = &raise.cause {
                        self.expr(cause)?;
                        n += 1;
                    }
                }
                self.addop_i(op::RAISE_VARARGS, n, loc)
            }
            Stmt::Assert(assert) => self.assert(assert, loc),
            Stmt::Import(import) => self.import(import, loc),
            Stmt::ImportFrom(import) => self.from_import(import, loc),
            Stmt::Global(_) | Stmt::Nonlocal(_) => Ok(()),
            Stmt::Expr(expr) => {
                if self.folder.constant(&expr.value)?.is_some() {
                    self.addop(op::NOP, loc);
                    return Ok(());
                }
                self.expr(&expr.value)?;
                self.addop(op::POP_TOP, NO_LOC);
                Ok(())
            }
            Stmt::Pass(_) => {
                self.addop(op::NOP, loc);
                Ok(())
            }
            Stmt::Break(_) => {
                self.addop(op::NOP, loc);
                let mut loc = loc;
                let Some(top) = self.unwind_fblock_stack(&mut loc, false, true)? else {
                    return Err(Unsupported::Construct("break outside a loop"));
                };
                let fblock = self.ur().fblocks[top];
                self.unwind_fblock(&mut loc, fblock, false)?;
                let (FBlock::While { exit, .. } | FBlock::For { exit, .. }) = fblock else {
                    unreachable!("a loop")
                };
                self.addop_j(op::JUMP, exit, loc);
                Ok(())
            }
            Stmt::Continue(_) => {
                self.addop(op::NOP, loc);
                let mut loc = loc;
                let Some(top) = self.unwind_fblock_stack(&mut loc, false, true)? else {
                    return Err(Unsupported::Construct("continue outside a loop"));
                };
                let (FBlock::While { start, .. } | FBlock::For { start, .. }) =
                    self.ur().fblocks[top]
                else {
                    unreachable!("a loop")
                };
                self.addop_j(op::JUMP, start, loc);
                Ok(())
            }
            Stmt::Try(stmt) => {
                if stmt.finalbody.is_empty() && stmt.is_star {
                    self.try_star_except(stmt, loc)
                } else if stmt.finalbody.is_empty() {
                    self.try_except(stmt, loc)
                } else {
                    self.try_finally(stmt, loc)
                }
            }
            Stmt::With(stmt) => {
                if stmt.is_async {
                    return self.async_with(stmt, loc, 0);
                }
                self.with(stmt, loc, 0)
            }
            Stmt::Match(stmt) => self.match_(stmt),
            Stmt::TypeAlias(alias) => self.type_alias(alias, loc),
            Stmt::IpyEscapeCommand(_) => Err(Unsupported::Construct("this statement")),
        }
    }

    fn push_fblock(&mut self, fblock: FBlock<'a>) -> R {
        if self.ur().fblocks.len() >= MAX_BLOCKS {
            return Err(Unsupported::Construct("too many statically nested blocks"));
        }
        self.u().fblocks.push(fblock);
        Ok(())
    }

    /// `compiler_unwind_fblock_stack`: unwind every block, or up to the innermost loop
    /// (`to_loop`), whose index it gives.
    fn unwind_fblock_stack(
        &mut self,
        loc: &mut Loc,
        preserve_tos: bool,
        to_loop: bool,
    ) -> Result<Option<usize>, Unsupported> {
        let Some(&top) = self.ur().fblocks.last() else {
            return Ok(None);
        };
        if matches!(top, FBlock::ExceptionGroupHandler) {
            // CPython: "'break', 'continue' and 'return' cannot appear in an except* block".
            return Err(Unsupported::Construct(
                "break, continue or return in except*",
            ));
        }
        if to_loop && matches!(top, FBlock::While { .. } | FBlock::For { .. }) {
            return Ok(Some(self.ur().fblocks.len() - 1));
        }
        self.u().fblocks.pop();
        let result = self
            .unwind_fblock(loc, top, preserve_tos)
            .and_then(|()| self.unwind_fblock_stack(loc, preserve_tos, to_loop));
        self.u().fblocks.push(top);
        result
    }

    /// `compiler_unwind_fblock`.
    fn unwind_fblock(&mut self, loc: &mut Loc, fblock: FBlock<'a>, preserve_tos: bool) -> R {
        match fblock {
            FBlock::While { .. }
            | FBlock::ExceptionHandler
            | FBlock::AsyncComprehensionGenerator
            | FBlock::ExceptionGroupHandler => {}
            FBlock::For { .. } => {
                if preserve_tos {
                    self.addop_i(op::SWAP, 2, *loc)?;
                }
                self.addop(op::POP_TOP, *loc);
            }
            FBlock::TryExcept => self.addop(op::POP_BLOCK, *loc),
            FBlock::FinallyTry(finalbody) => {
                self.addop(op::POP_BLOCK, *loc);
                if preserve_tos {
                    self.push_fblock(FBlock::PopValue)?;
                }
                self.stmts(finalbody)?;
                if preserve_tos {
                    self.u().fblocks.pop();
                }
                *loc = NO_LOC;
            }
            FBlock::FinallyEnd => {
                if preserve_tos {
                    self.addop_i(op::SWAP, 2, *loc)?;
                }
                self.addop(op::POP_TOP, *loc);
                if preserve_tos {
                    self.addop_i(op::SWAP, 2, *loc)?;
                }
                self.addop(op::POP_BLOCK, *loc);
                self.addop(op::POP_EXCEPT, *loc);
            }
            FBlock::With(with_loc) | FBlock::AsyncWith(with_loc) => {
                *loc = with_loc;
                self.addop(op::POP_BLOCK, *loc);
                if preserve_tos {
                    self.addop_i(op::SWAP, 2, *loc)?;
                }
                self.call_exit_with_nones(*loc)?;
                if matches!(fblock, FBlock::AsyncWith(_)) {
                    self.await_tos(2, *loc)?;
                }
                self.addop(op::POP_TOP, *loc);
                *loc = NO_LOC;
            }
            FBlock::HandlerCleanup(name) => {
                if name.is_some() {
                    self.addop(op::POP_BLOCK, *loc);
                }
                if preserve_tos {
                    self.addop_i(op::SWAP, 2, *loc)?;
                }
                self.addop(op::POP_BLOCK, *loc);
                self.addop(op::POP_EXCEPT, *loc);
                if let Some(name) = name {
                    self.load_const(Const::None, *loc)?;
                    self.nameop(name, ExprContext::Store, *loc)?;
                    self.nameop(name, ExprContext::Del, *loc)?;
                }
            }
            FBlock::PopValue => {
                if preserve_tos {
                    self.addop_i(op::SWAP, 2, *loc)?;
                }
                self.addop(op::POP_TOP, *loc);
            }
        }
        Ok(())
    }

    fn call_exit_with_nones(&mut self, loc: Loc) -> R {
        for _ in 0..3 {
            self.load_const(Const::None, loc)?;
        }
        self.addop_i(op::CALL, 2, loc)
    }

    fn pop_except_and_reraise(&mut self, loc: Loc) -> R {
        self.addop_i(op::COPY, 3, loc)?;
        self.addop(op::POP_EXCEPT, loc);
        self.addop_i(op::RERAISE, 1, loc)
    }

    /// `compiler_try_except`.
    fn try_except(&mut self, stmt: &'a ast::StmtTry, loc: Loc) -> R {
        let body = self.new_label();
        let mut except = self.new_label();
        let end = self.new_label();
        let cleanup = self.new_label();
        self.addop_j(op::SETUP_FINALLY, except, loc);
        self.use_label(body);
        self.push_fblock(FBlock::TryExcept)?;
        self.stmts(&stmt.body)?;
        self.u().fblocks.pop();
        self.addop(op::POP_BLOCK, NO_LOC);
        self.stmts(&stmt.orelse)?;
        self.addop_j(op::JUMP, end, NO_LOC);
        let n = stmt.handlers.len();
        self.use_label(except);
        self.addop_j(op::SETUP_CLEANUP, cleanup, NO_LOC);
        self.addop(op::PUSH_EXC_INFO, NO_LOC);
        self.push_fblock(FBlock::ExceptionHandler)?;
        for (i, handler) in stmt.handlers.iter().enumerate() {
            let ast::ExceptHandler::ExceptHandler(handler) = handler;
            let hloc = self.loc(TextRange::new(
                handler.range.start(),
                self.past_semicolon(handler.range.end()),
            ));
            if handler.type_.is_none() && i < n - 1 {
                return Err(Unsupported::Construct("a default except that is not last"));
            }
            except = self.new_label();
            if let Some(type_) = &handler.type_ {
                self.expr(type_)?;
                self.addop(op::CHECK_EXC_MATCH, hloc);
                self.addop_j(op::POP_JUMP_IF_FALSE, except, hloc);
            }
            if let Some(name) = &handler.name {
                let cleanup_end = self.new_label();
                let cleanup_body = self.new_label();
                self.nameop(name, ExprContext::Store, hloc)?;
                self.addop_j(op::SETUP_CLEANUP, cleanup_end, hloc);
                self.use_label(cleanup_body);
                self.push_fblock(FBlock::HandlerCleanup(Some(name.as_str())))?;
                self.stmts(&handler.body)?;
                self.u().fblocks.pop();
                self.addop(op::POP_BLOCK, NO_LOC);
                self.addop(op::POP_BLOCK, NO_LOC);
                self.addop(op::POP_EXCEPT, NO_LOC);
                self.load_const(Const::None, NO_LOC)?;
                self.nameop(name, ExprContext::Store, NO_LOC)?;
                self.nameop(name, ExprContext::Del, NO_LOC)?;
                self.addop_j(op::JUMP, end, NO_LOC);
                self.use_label(cleanup_end);
                self.load_const(Const::None, NO_LOC)?;
                self.nameop(name, ExprContext::Store, NO_LOC)?;
                self.nameop(name, ExprContext::Del, NO_LOC)?;
                self.addop_i(op::RERAISE, 1, NO_LOC)?;
            } else {
                let cleanup_body = self.new_label();
                self.addop(op::POP_TOP, hloc);
                self.use_label(cleanup_body);
                self.push_fblock(FBlock::HandlerCleanup(None))?;
                self.stmts(&handler.body)?;
                self.u().fblocks.pop();
                self.addop(op::POP_BLOCK, NO_LOC);
                self.addop(op::POP_EXCEPT, NO_LOC);
                self.addop_j(op::JUMP, end, NO_LOC);
            }
            self.use_label(except);
        }
        self.u().fblocks.pop();
        self.addop_i(op::RERAISE, 0, NO_LOC)?;
        self.use_label(cleanup);
        self.pop_except_and_reraise(NO_LOC)?;
        self.use_label(end);
        Ok(())
    }

    /// `compiler_try_finally`.
    fn try_finally(&mut self, stmt: &'a ast::StmtTry, loc: Loc) -> R {
        let body = self.new_label();
        let end = self.new_label();
        let exit = self.new_label();
        let cleanup = self.new_label();
        self.addop_j(op::SETUP_FINALLY, end, loc);
        self.use_label(body);
        self.push_fblock(FBlock::FinallyTry(&stmt.finalbody))?;
        if stmt.handlers.is_empty() {
            self.stmts(&stmt.body)?;
        } else if stmt.is_star {
            self.try_star_except(stmt, loc)?;
        } else {
            self.try_except(stmt, loc)?;
        }
        self.addop(op::POP_BLOCK, NO_LOC);
        self.u().fblocks.pop();
        self.stmts(&stmt.finalbody)?;
        self.addop_j(op::JUMP, exit, NO_LOC);
        self.use_label(end);
        self.addop_j(op::SETUP_CLEANUP, cleanup, NO_LOC);
        self.addop(op::PUSH_EXC_INFO, NO_LOC);
        self.push_fblock(FBlock::FinallyEnd)?;
        self.stmts(&stmt.finalbody)?;
        self.u().fblocks.pop();
        self.addop_i(op::RERAISE, 0, NO_LOC)?;
        self.use_label(cleanup);
        self.pop_except_and_reraise(NO_LOC)?;
        self.use_label(exit);
        Ok(())
    }

    /// `compiler_with`, one item at a time.
    fn with(&mut self, stmt: &'a ast::StmtWith, loc: Loc, pos: usize) -> R {
        let item = &stmt.items[pos];
        let block = self.new_label();
        let final_ = self.new_label();
        let exit = self.new_label();
        let cleanup = self.new_label();
        self.expr(&item.context_expr)?;
        self.addop(op::BEFORE_WITH, loc);
        self.addop_j(op::SETUP_WITH, final_, loc);
        self.use_label(block);
        self.push_fblock(FBlock::With(loc))?;
        match &item.optional_vars {
            Some(vars) => self.expr(vars)?,
            None => self.addop(op::POP_TOP, loc),
        }
        if pos + 1 == stmt.items.len() {
            self.stmts(&stmt.body)?;
        } else {
            self.with(stmt, loc, pos + 1)?;
        }
        self.addop(op::POP_BLOCK, NO_LOC);
        self.u().fblocks.pop();
        self.call_exit_with_nones(loc)?;
        self.addop(op::POP_TOP, loc);
        self.addop_j(op::JUMP, exit, loc);
        self.use_label(final_);
        self.addop_j(op::SETUP_CLEANUP, cleanup, loc);
        self.addop(op::PUSH_EXC_INFO, loc);
        self.addop(op::WITH_EXCEPT_START, loc);
        self.with_except_finish(cleanup)?;
        self.use_label(exit);
        Ok(())
    }

    fn return_(&mut self, ret: &'a ast::StmtReturn, loc: Loc) -> R {
        if self.ur().kind != ScopeKind::Function {
            return Err(Unsupported::Construct("return outside a function"));
        }
        let scope = self.table.scope(self.ur().scope);
        if ret.value.is_some() && scope.generator && scope.coroutine {
            // CPython: "'return' with value in async generator".
            return Err(Unsupported::Construct(
                "return with a value in an async generator",
            ));
        }
        let constant = match &ret.value {
            Some(value) => self.folder.constant(value)?,
            None => None,
        };
        let preserve_tos = ret.value.is_some() && constant.is_none();
        let mut loc = loc;
        if preserve_tos {
            self.expr(ret.value.as_ref().expect("a value"))?;
        } else if let Some(value) = &ret.value {
            loc = self.loc(value.range());
            self.addop(op::NOP, loc);
        }
        let stmt_loc = self.stmt_loc_of_return(ret)?;
        let value_line = ret.value.as_ref().map(|v| self.loc(v.range()).line);
        if value_line != Some(stmt_loc.line) {
            loc = stmt_loc;
            self.addop(op::NOP, loc);
        }
        self.unwind_fblock_stack(&mut loc, preserve_tos, false)?;
        match (&ret.value, constant) {
            (None, _) => self.load_const(Const::None, loc)?,
            (Some(_), Some(value)) => self.load_const(value, loc)?,
            _ => {}
        }
        self.addop(op::RETURN_VALUE, loc);
        Ok(())
    }

    fn stmt_loc_of_return(&self, ret: &ast::StmtReturn) -> Result<Loc, Unsupported> {
        Ok(self.loc(ret.range()))
    }

    fn if_(&mut self, stmt: &'a ast::StmtIf) -> R {
        self.if_chain(&stmt.test, &stmt.body, &stmt.elif_else_clauses)
    }

    /// `compiler_if`; ruff's `elif` clauses are CPython's nested `If` statements.
    fn if_chain(&mut self, test: &Expr, body: &'a [Stmt], rest: &'a [ast::ElifElseClause]) -> R {
        let end = self.new_label();
        let next = if rest.is_empty() {
            end
        } else {
            self.new_label()
        };
        self.jump_if(test, next, false)?;
        self.stmts(body)?;
        if let Some((first, more)) = rest.split_first() {
            self.addop_j(op::JUMP, end, NO_LOC);
            self.use_label(next);
            match &first.test {
                Some(test) => self.if_chain(test, &first.body, more)?,
                None => self.stmts(&first.body)?,
            }
        }
        self.use_label(end);
        Ok(())
    }

    fn stmts(&mut self, stmts: &'a [Stmt]) -> R {
        for stmt in stmts {
            self.stmt(stmt)?;
        }
        Ok(())
    }

    fn while_(&mut self, stmt: &'a ast::StmtWhile, _loc: Loc) -> R {
        let loop_ = self.new_label();
        let body = self.new_label();
        let end = self.new_label();
        let anchor = self.new_label();
        self.use_label(loop_);
        self.push_fblock(FBlock::While {
            exit: end,
            start: loop_,
        })?;
        self.jump_if(&stmt.test, anchor, false)?;
        self.use_label(body);
        self.stmts(&stmt.body)?;
        self.jump_if(&stmt.test, body, true)?;
        self.u().fblocks.pop();
        self.use_label(anchor);
        self.stmts(&stmt.orelse)?;
        self.use_label(end);
        Ok(())
    }

    fn for_(&mut self, stmt: &'a ast::StmtFor, loc: Loc) -> R {
        let start = self.new_label();
        let body = self.new_label();
        let cleanup = self.new_label();
        let end = self.new_label();
        self.push_fblock(FBlock::For { exit: end, start })?;
        self.iter_expr(&stmt.iter)?;
        self.addop(op::GET_ITER, loc);
        self.use_label(start);
        self.addop_j(op::FOR_ITER, cleanup, loc);
        self.use_label(body);
        self.expr(&stmt.target)?;
        self.stmts(&stmt.body)?;
        self.addop_j(op::JUMP, start, NO_LOC);
        self.use_label(cleanup);
        self.addop(op::END_FOR, NO_LOC);
        self.u().fblocks.pop();
        self.stmts(&stmt.orelse)?;
        self.use_label(end);
        Ok(())
    }

    /// An iterable after `fold_iter`: a list display becomes a tuple, a set display of
    /// constants a frozenset.
    fn iter_expr(&mut self, iter: &Expr) -> R {
        let loc = self.loc(iter.range());
        match iter {
            Expr::List(list) if !list.elts.iter().any(Expr::is_starred_expr) => {
                match self.folder.tuple(&list.elts)? {
                    Some(value) => self.load_const(value, loc),
                    None => self.starunpack(
                        loc,
                        &list.elts,
                        0,
                        op::BUILD_LIST,
                        op::LIST_APPEND,
                        op::LIST_EXTEND,
                        true,
                    ),
                }
            }
            Expr::Set(set) => match self.folder.frozenset(&set.elts)? {
                Some(value) => self.load_const(value, loc),
                None => self.expr(iter),
            },
            _ => self.expr(iter),
        }
    }

    fn assert(&mut self, assert: &ast::StmtAssert, loc: Loc) -> R {
        if self.optimize > 0 {
            return Ok(());
        }
        let end = self.new_label();
        self.jump_if(&assert.test, end, true)?;
        self.addop(op::LOAD_ASSERTION_ERROR, loc);
        if let Some(msg) = &assert.msg {
            self.expr(msg)?;
            self.addop_i(op::CALL, 0, loc)?;
        }
        self.addop_i(op::RAISE_VARARGS, 1, loc)?;
        self.use_label(end);
        Ok(())
    }

    fn import(&mut self, import: &ast::StmtImport, loc: Loc) -> R {
        for alias in &import.names {
            self.load_const(Const::Int(0), loc)?;
            self.load_const(Const::None, loc)?;
            self.addop_name(op::IMPORT_NAME, &alias.name, loc)?;
            let name = alias.name.as_str();
            if let Some(asname) = &alias.asname {
                // compiler_import_as
                if let Some(dot) = name.find('.') {
                    let parts: Vec<&str> = name[dot + 1..].split('.').collect();
                    for (i, attr) in parts.iter().enumerate() {
                        self.addop_name_raw(op::IMPORT_FROM, attr, loc)?;
                        if i + 1 < parts.len() {
                            self.addop_i(op::SWAP, 2, loc)?;
                            self.addop(op::POP_TOP, loc);
                        }
                    }
                    self.nameop(asname, ExprContext::Store, loc)?;
                    self.addop(op::POP_TOP, loc);
                } else {
                    self.nameop(asname, ExprContext::Store, loc)?;
                }
            } else {
                let stored = name.split('.').next().unwrap_or(name);
                self.nameop(stored, ExprContext::Store, loc)?;
            }
        }
        Ok(())
    }

    fn from_import(&mut self, import: &ast::StmtImportFrom, loc: Loc) -> R {
        let module = import.module.as_ref().map(|m| m.as_str());
        if module == Some("__future__") && import.level == 0 {
            for alias in &import.names {
                match alias.name.as_str() {
                    "nested_scopes" | "generators" | "division" | "absolute_import"
                    | "with_statement" | "print_function" | "unicode_literals"
                    | "generator_stop" | "annotations" => {}
                    _ => return Err(Unsupported::Construct("this __future__ import")),
                }
            }
            if !self.future_ok.contains(&import.range.start()) {
                return Err(Unsupported::Construct("a late __future__ import"));
            }
        }
        self.load_const(Const::Int(i128::from(import.level)), loc)?;
        let names = import
            .names
            .iter()
            .map(|a| Const::Str(a.name.to_string()))
            .collect();
        self.load_const(Const::Tuple(names), loc)?;
        self.addop_name(op::IMPORT_NAME, module.unwrap_or(""), loc)?;
        for (i, alias) in import.names.iter().enumerate() {
            if i == 0 && alias.name.as_str() == "*" {
                self.addop_i(op::CALL_INTRINSIC_1, INTRINSIC_IMPORT_STAR as usize, loc)?;
                self.addop(op::POP_TOP, NO_LOC);
                return Ok(());
            }
            self.addop_name(op::IMPORT_FROM, &alias.name, loc)?;
            let store = alias.asname.as_ref().unwrap_or(&alias.name);
            self.nameop(store, ExprContext::Store, loc)?;
        }
        self.addop(op::POP_TOP, loc);
        Ok(())
    }

    fn augassign(&mut self, aug: &ast::StmtAugAssign, stmt_loc: Loc) -> R {
        let target = &*aug.target;
        let loc = self.loc(target.range());
        match target {
            Expr::Attribute(attr) => {
                self.expr(&attr.value)?;
                self.addop_i(op::COPY, 1, loc)?;
                let loc = self.attr_loc(loc, attr);
                self.addop_name(op::LOAD_ATTR, &attr.attr, loc)?;
            }
            Expr::Subscript(sub) => {
                self.expr(&sub.value)?;
                if is_two_element_slice(&sub.slice) {
                    self.slice(&sub.slice)?;
                    for _ in 0..3 {
                        self.addop_i(op::COPY, 3, loc)?;
                    }
                    self.addop(op::BINARY_SLICE, loc);
                } else {
                    self.expr(&sub.slice)?;
                    self.addop_i(op::COPY, 2, loc)?;
                    self.addop_i(op::COPY, 2, loc)?;
                    self.addop(op::BINARY_SUBSCR, loc);
                }
            }
            Expr::Name(name) => self.nameop(&name.id, ExprContext::Load, loc)?,
            _ => return Err(Unsupported::Construct("this augmented assignment target")),
        }
        self.expr(&aug.value)?;
        self.addop_i(op::BINARY_OP, binop_arg(aug.op) + 13, stmt_loc)?;
        match target {
            Expr::Attribute(attr) => {
                let loc = self.attr_loc(loc, attr);
                self.addop_i(op::SWAP, 2, loc)?;
                self.addop_name(op::STORE_ATTR, &attr.attr, loc)?;
            }
            Expr::Subscript(sub) => {
                if is_two_element_slice(&sub.slice) {
                    self.addop_i(op::SWAP, 4, loc)?;
                    self.addop_i(op::SWAP, 3, loc)?;
                    self.addop_i(op::SWAP, 2, loc)?;
                    self.addop(op::STORE_SLICE, loc);
                } else {
                    self.addop_i(op::SWAP, 3, loc)?;
                    self.addop_i(op::SWAP, 2, loc)?;
                    self.addop(op::STORE_SUBSCR, loc);
                }
            }
            Expr::Name(name) => self.nameop(&name.id, ExprContext::Store, loc)?,
            _ => unreachable!("checked above"),
        }
        Ok(())
    }

    fn annassign(&mut self, ann: &ast::StmtAnnAssign, loc: Loc) -> R {
        let target = &*ann.target;
        if let Some(value) = &ann.value {
            self.expr(value)?;
            self.expr(target)?;
        }
        let module_or_class = matches!(self.ur().kind, ScopeKind::Module | ScopeKind::Class);
        match target {
            Expr::Name(name) => {
                if ann.simple && module_or_class {
                    self.annotation(&ann.annotation)?;
                    self.addop_name_raw(op::LOAD_NAME, "__annotations__", loc)?;
                    let mangled = mangle(self.ur().private.as_deref(), &name.id);
                    self.load_const(Const::Str(mangled), loc)?;
                    self.addop(op::STORE_SUBSCR, loc);
                }
            }
            Expr::Attribute(attr) => {
                if ann.value.is_none() {
                    self.check_ann_expr(&attr.value)?;
                }
            }
            Expr::Subscript(sub) => {
                if ann.value.is_none() {
                    self.check_ann_expr(&sub.value)?;
                    self.check_ann_subscr(&sub.slice)?;
                }
            }
            _ => return Err(Unsupported::Construct("this annotated target")),
        }
        if !ann.simple && module_or_class && !self.future_annotations {
            self.check_ann_expr(&ann.annotation)?;
        }
        Ok(())
    }

    fn annotation(&mut self, annotation: &Expr) -> R {
        if self.future_annotations {
            // compiler_visit_annexpr: the annotation's source, as ast_unparse.c writes it.
            let text = super::unparse::annotation(self.text, annotation)?;
            let loc = self.loc(annotation.range());
            return self.load_const(super::strings::str_const(text), loc);
        }
        if let Expr::Starred(starred) = annotation {
            let _ = starred;
            return Err(Unsupported::Construct("a starred annotation"));
        }
        self.expr(annotation)
    }

    fn check_ann_expr(&mut self, e: &Expr) -> R {
        self.expr(e)?;
        let loc = self.loc(e.range());
        self.addop(op::POP_TOP, loc);
        Ok(())
    }

    fn check_ann_subscr(&mut self, e: &Expr) -> R {
        match e {
            Expr::Slice(slice) => {
                for part in [&slice.lower, &slice.upper, &slice.step]
                    .into_iter()
                    .flatten()
                {
                    self.check_ann_expr(part)?;
                }
                Ok(())
            }
            Expr::Tuple(tuple) => {
                for elt in &tuple.elts {
                    self.check_ann_subscr(elt)?;
                }
                Ok(())
            }
            _ => self.check_ann_expr(e),
        }
    }

    /// `compiler_function` (no type parameters, no closures).
    fn function(&mut self, def: &'a ast::StmtFunctionDef, loc: Loc) -> R {
        for decorator in &def.decorator_list {
            self.expr(&decorator.expression)?;
        }
        let firstlineno = match def.decorator_list.first() {
            Some(first) => self.loc(first.expression.range()).line,
            None => loc.line,
        };
        let params = &*def.parameters;
        let type_params = def.type_params.as_deref();
        if type_params.is_some() {
            // Used by the CALL to the type parameters function.
            self.addop(op::PUSH_NULL, loc);
        }
        let mut funcflags = self.default_arguments(params, loc)?;
        let num_typeparam_args = match type_params {
            Some(type_params) => self.enter_function_type_params(
                &def.name,
                type_params,
                funcflags,
                firstlineno,
                loc,
            )?,
            None => 0,
        };
        // compiler_visit_annotations: args, then posonlyargs, *args, kwonly, **kwargs, return.
        let mut annotations = 0;
        let mut ann_items: Vec<(&str, &Expr)> = Vec::new();
        for p in params.args.iter().chain(&params.posonlyargs) {
            if let Some(a) = &p.parameter.annotation {
                ann_items.push((&p.parameter.name, a));
            }
        }
        if let Some(vararg) = &params.vararg {
            if let Some(a) = &vararg.annotation {
                ann_items.push((&vararg.name, a));
            }
        }
        for p in &params.kwonlyargs {
            if let Some(a) = &p.parameter.annotation {
                ann_items.push((&p.parameter.name, a));
            }
        }
        if let Some(kwarg) = &params.kwarg {
            if let Some(a) = &kwarg.annotation {
                ann_items.push((&kwarg.name, a));
            }
        }
        if let Some(returns) = &def.returns {
            ann_items.push(("return", returns));
        }
        for (name, annotation) in ann_items {
            let mangled = mangle(self.ur().private.as_deref(), name);
            self.load_const(Const::Str(mangled), loc)?;
            self.annotation(annotation)?;
            annotations += 2;
        }
        if annotations > 0 {
            self.addop_i(op::BUILD_TUPLE, annotations, loc)?;
            funcflags |= 0x04;
        }
        // compiler_function_body
        let scope = self
            .table
            .function(def)
            .ok_or(Unsupported::Construct("a function without a scope"))?
            .id;
        self.enter_scope(&def.name, ScopeKind::Function, scope, firstlineno)?;
        self.u().is_async = def.is_async;
        let docstring = if self.strip_docstrings {
            None
        } else {
            self.docstring(&def.body)?
        };
        let first = docstring.clone().map_or(Const::None, Const::Str);
        self.u().consts.add(first);
        self.u().argcount = params.args.len() as u32;
        self.u().posonlyargcount = params.posonlyargs.len() as u32;
        self.u().kwonlyargcount = params.kwonlyargs.len() as u32;
        let start = usize::from(docstring.is_some());
        for stmt in &def.body[start..] {
            self.stmt(stmt)?;
        }
        let ste = self.table.scope(scope);
        if ste.generator || ste.coroutine {
            self.wrap_in_stopiteration_handler()?;
        }
        let code = self.exit_scope(true)?;
        self.make_closure(code, funcflags, loc)?;
        if type_params.is_some() {
            self.exit_function_type_params(num_typeparam_args, loc)?;
        }
        self.apply_decorators(&def.decorator_list)?;
        self.nameop(&def.name, ExprContext::Store, loc)
    }

    /// `compiler_function` for a generic function, up to its annotations: the type parameter
    /// scope, taking the defaults as arguments. Gives how many it takes.
    fn enter_function_type_params(
        &mut self,
        name: &str,
        type_params: &ast::TypeParams,
        funcflags: usize,
        firstlineno: i32,
        loc: Loc,
    ) -> Result<usize, Unsupported> {
        let num_typeparam_args =
            usize::from(funcflags & 0x01 != 0) + usize::from(funcflags & 0x02 != 0);
        if num_typeparam_args == 2 {
            self.addop_i(op::SWAP, 2, loc)?;
        }
        let scope = self
            .table
            .type_params(type_params)
            .ok_or(Unsupported::Construct("type parameters without a scope"))?
            .id;
        let scope_name = format!("<generic parameters of {name}>");
        self.enter_scope(&scope_name, ScopeKind::TypeParams, scope, firstlineno)?;
        self.type_params(type_params)?;
        // The defaults come in as `.defaults` / `.kwdefaults`, the scope's parameters.
        if funcflags & 0x03 != 0 {
            self.addop_i(op::LOAD_FAST, 0, loc)?;
        }
        if funcflags & 0x03 == 0x03 {
            self.addop_i(op::LOAD_FAST, 1, loc)?;
        }
        Ok(num_typeparam_args)
    }

    /// The end of `compiler_function` for a generic function: the type parameters set on the
    /// function, the scope closed and called with the defaults.
    fn exit_function_type_params(&mut self, num_typeparam_args: usize, loc: Loc) -> R {
        self.addop_i(op::SWAP, 2, loc)?;
        self.addop_i(
            op::CALL_INTRINSIC_2,
            INTRINSIC_SET_FUNCTION_TYPE_PARAMS,
            loc,
        )?;
        self.u().argcount = num_typeparam_args as u32;
        let code = self.exit_scope(false)?;
        self.make_closure(code, 0, loc)?;
        if num_typeparam_args > 0 {
            self.addop_i(op::SWAP, num_typeparam_args + 1, loc)?;
        }
        self.addop_i(op::CALL, num_typeparam_args, loc)
    }

    /// `compiler_type_params`: each parameter made, stored, and all of them in a tuple.
    fn type_params(&mut self, type_params: &ast::TypeParams) -> R {
        for param in &type_params.type_params {
            let loc = self.loc(param.range());
            let name = match param {
                ast::TypeParam::TypeVar(var) => {
                    if var.default.is_some() {
                        return Err(Unsupported::Construct("type parameter defaults"));
                    }
                    self.load_const(Const::Str(var.name.to_string()), loc)?;
                    if let Some(bound) = &var.bound {
                        let scope = self
                            .table
                            .get(BlockKey::TypeVarBound(var.range))
                            .ok_or(Unsupported::Construct("a TypeVar bound without a scope"))?
                            .id;
                        let line = self.loc(bound.range()).line;
                        self.enter_scope(&var.name, ScopeKind::TypeParams, scope, line)?;
                        self.expr(bound)?;
                        self.addop(op::RETURN_VALUE, loc);
                        let code = self.exit_scope(true)?;
                        self.make_closure(code, 0, loc)?;
                        let intrinsic = if bound.is_tuple_expr() {
                            INTRINSIC_TYPEVAR_WITH_CONSTRAINTS
                        } else {
                            INTRINSIC_TYPEVAR_WITH_BOUND
                        };
                        self.addop_i(op::CALL_INTRINSIC_2, intrinsic, loc)?;
                    } else {
                        self.addop_i(op::CALL_INTRINSIC_1, INTRINSIC_TYPEVAR, loc)?;
                    }
                    &var.name
                }
                ast::TypeParam::TypeVarTuple(var) => {
                    if var.default.is_some() {
                        return Err(Unsupported::Construct("type parameter defaults"));
                    }
                    self.load_const(Const::Str(var.name.to_string()), loc)?;
                    self.addop_i(op::CALL_INTRINSIC_1, INTRINSIC_TYPEVARTUPLE, loc)?;
                    &var.name
                }
                ast::TypeParam::ParamSpec(var) => {
                    if var.default.is_some() {
                        return Err(Unsupported::Construct("type parameter defaults"));
                    }
                    self.load_const(Const::Str(var.name.to_string()), loc)?;
                    self.addop_i(op::CALL_INTRINSIC_1, INTRINSIC_PARAMSPEC, loc)?;
                    &var.name
                }
            };
            self.addop_i(op::COPY, 1, loc)?;
            self.nameop(name, ExprContext::Store, loc)?;
        }
        let first = type_params
            .type_params
            .first()
            .ok_or(Unsupported::Construct("empty type parameters"))?;
        let loc = self.loc(first.range());
        self.addop_i(op::BUILD_TUPLE, type_params.type_params.len(), loc)
    }

    /// `compiler_typealias`, with `compiler_typealias_body`.
    fn type_alias(&mut self, alias: &'a ast::StmtTypeAlias, loc: Loc) -> R {
        let Expr::Name(name) = &*alias.name else {
            return Err(Unsupported::Construct(
                "a type alias whose name is not a name",
            ));
        };
        let name = name.id.as_str();
        let type_params = alias.type_params.as_deref();
        if let Some(type_params) = type_params {
            self.addop(op::PUSH_NULL, loc);
            let scope = self
                .table
                .type_params(type_params)
                .ok_or(Unsupported::Construct("type parameters without a scope"))?
                .id;
            let scope_name = format!("<generic parameters of {name}>");
            self.enter_scope(&scope_name, ScopeKind::TypeParams, scope, loc.line)?;
            self.load_const(Const::Str(name.to_owned()), loc)?;
            self.type_params(type_params)?;
        } else {
            self.load_const(Const::Str(name.to_owned()), loc)?;
            self.load_const(Const::None, loc)?;
        }
        // compiler_typealias_body: the value, evaluated lazily in its own function.
        let scope = self
            .table
            .get(BlockKey::TypeAlias(alias.range))
            .ok_or(Unsupported::Construct("a type alias without a scope"))?
            .id;
        self.enter_scope(name, ScopeKind::Function, scope, loc.line)?;
        self.u().consts.add(Const::None);
        self.expr(&alias.value)?;
        self.addop(op::RETURN_VALUE, loc);
        let code = self.exit_scope(false)?;
        self.make_closure(code, 0, loc)?;
        self.addop_i(op::BUILD_TUPLE, 3, loc)?;
        self.addop_i(op::CALL_INTRINSIC_1, INTRINSIC_TYPEALIAS, loc)?;
        if type_params.is_some() {
            let code = self.exit_scope(false)?;
            self.make_closure(code, 0, loc)?;
            self.addop_i(op::CALL, 0, loc)?;
        }
        self.nameop(name, ExprContext::Store, loc)
    }

    /// `compiler_default_arguments`: the flags for MAKE_FUNCTION.
    fn default_arguments(
        &mut self,
        params: &ast::Parameters,
        loc: Loc,
    ) -> Result<usize, Unsupported> {
        let mut funcflags = 0;
        let defaults: Vec<&Expr> = params
            .posonlyargs
            .iter()
            .chain(&params.args)
            .filter_map(|p| p.default.as_deref())
            .collect();
        if !defaults.is_empty() {
            for d in &defaults {
                self.expr(d)?;
            }
            self.addop_i(op::BUILD_TUPLE, defaults.len(), loc)?;
            funcflags |= 0x01;
        }
        let mut kw_keys = Vec::new();
        for p in &params.kwonlyargs {
            if let Some(default) = &p.default {
                kw_keys.push(Const::Str(mangle(
                    self.ur().private.as_deref(),
                    &p.parameter.name,
                )));
                self.expr(default)?;
            }
        }
        if !kw_keys.is_empty() {
            let n = kw_keys.len();
            self.load_const(Const::Tuple(kw_keys), loc)?;
            self.addop_i(op::BUILD_CONST_KEY_MAP, n, loc)?;
            funcflags |= 0x02;
        }
        Ok(funcflags)
    }

    /// `compiler_lambda`.
    fn lambda(&mut self, lambda: &ast::ExprLambda, loc: Loc) -> R {
        let empty = ast::Parameters::default();
        let params = lambda.parameters.as_deref().unwrap_or(&empty);
        let funcflags = self.default_arguments(params, loc)?;
        let scope = self
            .table
            .lambda(lambda)
            .ok_or(Unsupported::Construct("a lambda without a scope"))?
            .id;
        self.enter_scope("<lambda>", ScopeKind::Function, scope, loc.line)?;
        self.u().consts.add(Const::None);
        self.u().argcount = params.args.len() as u32;
        self.u().posonlyargcount = params.posonlyargs.len() as u32;
        self.u().kwonlyargcount = params.kwonlyargs.len() as u32;
        self.expr(&lambda.body)?;
        // A generator lambda returns its body's value as it stands, with no located return.
        let code = if self.table.scope(scope).generator {
            self.exit_scope(false)?
        } else {
            let ret_loc = Loc {
                line: loc.line,
                end_line: loc.line,
                col: 0,
                end_col: 0,
            };
            self.addop(op::RETURN_VALUE, ret_loc);
            self.exit_scope(true)?
        };
        self.make_closure(code, funcflags, loc)
    }

    /// `wrap_in_stopiteration_handler`: a SETUP_CLEANUP before everything (labels shift).
    fn wrap_in_stopiteration_handler(&mut self) -> R {
        let handler = self.new_label();
        let seq = &mut self.u().seq;
        seq.instrs.insert(
            0,
            super::flowgraph::SeqInstr {
                op: op::SETUP_CLEANUP,
                arg: handler,
                loc: NO_LOC,
            },
        );
        for offset in &mut seq.labels {
            if *offset >= 0 {
                *offset += 1;
            }
        }
        self.load_const(Const::None, NO_LOC)?;
        self.addop(op::RETURN_VALUE, NO_LOC);
        self.use_label(handler);
        self.addop_i(
            op::CALL_INTRINSIC_1,
            INTRINSIC_STOPITERATION_ERROR as usize,
            NO_LOC,
        )?;
        self.addop_i(op::RERAISE, 1, NO_LOC)
    }

    /// `compiler_make_closure`: the cells and free variables the new function takes.
    fn make_closure(&mut self, code: CodeObject, flags: usize, loc: Loc) -> R {
        let mut flags = flags;
        // The code's free variables, in their co_localsplusnames order.
        let frees: Vec<&String> = code
            .localsplusnames
            .iter()
            .zip(&code.localspluskinds)
            .filter(|(_, kind)| *kind & CO_FAST_FREE != 0)
            .map(|(name, _)| name)
            .collect();
        if !frees.is_empty() {
            let mut args = Vec::with_capacity(frees.len());
            for name in &frees {
                // A class's method may take a name the class also binds: the closure's.
                let arg = if self.get_ref_type(name)? == CELL {
                    self.cell_index(name)?
                } else {
                    self.free_index(name)?
                };
                args.push(arg);
            }
            for &arg in &args {
                self.addop_i(op::LOAD_CLOSURE, arg, loc)?;
            }
            flags |= 0x08;
            self.addop_i(op::BUILD_TUPLE, args.len(), loc)?;
        }
        self.load_const(Const::code(code), loc)?;
        self.addop_i(op::MAKE_FUNCTION, flags, loc)
    }

    fn apply_decorators(&mut self, decorators: &[ast::Decorator]) -> R {
        for decorator in decorators.iter().rev() {
            let loc = self.loc(decorator.expression.range());
            self.addop_i(op::CALL, 0, loc)?;
        }
        Ok(())
    }

    /// `compiler_class` (no type parameters; no `__class__` cell).
    fn class(&mut self, class: &'a ast::StmtClassDef, loc: Loc) -> R {
        for decorator in &class.decorator_list {
            self.expr(&decorator.expression)?;
        }
        let firstlineno = match class.decorator_list.first() {
            Some(first) => self.loc(first.expression.range()).line,
            None => loc.line,
        };
        let type_params = class.type_params.as_deref();
        if let Some(type_params) = type_params {
            self.enter_class_type_params(&class.name, type_params, firstlineno, loc)?;
        }
        let scope = self
            .table
            .class(class)
            .ok_or(Unsupported::Construct("a class without a scope"))?
            .id;
        // compiler_class_body
        self.enter_scope(&class.name, ScopeKind::Class, scope, firstlineno)?;
        let body_loc = Loc {
            line: firstlineno,
            end_line: firstlineno,
            col: 0,
            end_col: 0,
        };
        self.u().private = Some(class.name.to_string());
        self.nameop("__name__", ExprContext::Load, body_loc)?;
        self.nameop("__module__", ExprContext::Store, body_loc)?;
        let qualname = self.ur().qualname.clone();
        self.load_const(Const::Str(qualname), body_loc)?;
        self.nameop("__qualname__", ExprContext::Store, body_loc)?;
        if type_params.is_some() {
            // compiler_set_type_params_in_class
            self.nameop(".type_params", ExprContext::Load, body_loc)?;
            self.nameop("__type_params__", ExprContext::Store, body_loc)?;
        }
        let ste = self.table.scope(scope);
        let (needs_classdict, needs_class_closure) = (ste.needs_classdict, ste.needs_class_closure);
        if needs_classdict {
            self.addop(op::LOAD_LOCALS, body_loc);
            let arg = self.cell_index("__classdict__")?;
            self.addop_i(op::STORE_DEREF, arg, body_loc)?;
        }
        self.body(body_loc, &class.body)?;
        if needs_classdict {
            // Store __classdictcell__ into the namespace.
            let arg = self.cell_index("__classdict__")?;
            self.addop_i(op::LOAD_CLOSURE, arg, NO_LOC)?;
            self.nameop("__classdictcell__", ExprContext::Store, NO_LOC)?;
        }
        if needs_class_closure {
            // Store __classcell__ into the namespace and return it.
            let arg = self.cell_index("__class__")?;
            self.addop_i(op::LOAD_CLOSURE, arg, NO_LOC)?;
            self.addop_i(op::COPY, 1, NO_LOC)?;
            self.nameop("__classcell__", ExprContext::Store, NO_LOC)?;
        } else {
            self.load_const(Const::None, NO_LOC)?;
        }
        self.addop(op::RETURN_VALUE, NO_LOC);
        let code = self.exit_scope(true)?;
        self.addop(op::PUSH_NULL, loc);
        self.addop(op::LOAD_BUILD_CLASS, loc);
        self.make_closure(code, 0, loc)?;
        self.load_const(Const::Str(class.name.to_string()), loc)?;
        let (args, keywords): (&[Expr], &[ast::Keyword]) = match &class.arguments {
            Some(arguments) => (&arguments.args, &arguments.keywords),
            None => (&[], &[]),
        };
        if type_params.is_some() {
            self.exit_class_type_params(class, args, keywords, loc)?;
        } else {
            self.call_helper(loc, 2, args, keywords)?;
        }
        self.apply_decorators(&class.decorator_list)?;
        self.nameop(&class.name, ExprContext::Store, loc)
    }

    /// `compiler_class` for a generic class, up to its body: the type parameter scope.
    fn enter_class_type_params(
        &mut self,
        name: &str,
        type_params: &ast::TypeParams,
        firstlineno: i32,
        loc: Loc,
    ) -> R {
        // CPython 3.12 sets this on the enclosing unit and never restores it: the rest of
        // that block mangles with the generic class's name.
        self.u().private = Some(name.to_owned());
        self.addop(op::PUSH_NULL, loc);
        let scope = self
            .table
            .type_params(type_params)
            .ok_or(Unsupported::Construct("type parameters without a scope"))?
            .id;
        let scope_name = format!("<generic parameters of {name}>");
        self.enter_scope(&scope_name, ScopeKind::TypeParams, scope, firstlineno)?;
        self.type_params(type_params)?;
        self.nameop(".type_params", ExprContext::Store, loc)
    }

    /// The end of `compiler_class` for a generic class: `Generic[*params]` as a last base,
    /// the class built, the scope closed and called.
    fn exit_class_type_params(
        &mut self,
        class: &ast::StmtClassDef,
        args: &[Expr],
        keywords: &[ast::Keyword],
        loc: Loc,
    ) -> R {
        self.nameop(".type_params", ExprContext::Load, loc)?;
        self.addop_i(op::CALL_INTRINSIC_1, INTRINSIC_SUBSCRIPT_GENERIC, loc)?;
        self.nameop(".generic_base", ExprContext::Store, loc)?;
        // The added base is a name node located as the whole class statement.
        let start = self.keyword_start(class.name.range().start(), "class")?;
        let end = self.past_semicolon(class.range.end());
        let mut bases = args.to_vec();
        bases.push(Expr::Name(ast::ExprName {
            node_index: ast::AtomicNodeIndex::default(),
            range: TextRange::new(start, end),
            id: ast::name::Name::new_static(".generic_base"),
            ctx: ExprContext::Load,
        }));
        self.call_helper(loc, 2, &bases, keywords)?;
        let code = self.exit_scope(false)?;
        self.make_closure(code, 0, loc)?;
        self.addop_i(op::CALL, 0, loc)
    }

    /// `compiler_nameop`.
    fn nameop(&mut self, name: &str, ctx: ExprContext, loc: Loc) -> R {
        if name == "__debug__" && ctx != ExprContext::Load {
            return Err(Unsupported::Construct("assignment to __debug__"));
        }
        let mangled = mangle_cow(self.ur().private.as_deref(), name);
        let mangled = &*mangled;
        let unit = self.ur();
        let ste = self.table.scope(unit.scope);
        let function_like = ste.function_like();
        let class_block = ste.kind == BlockType::Class;
        let can_see_class_scope = ste.can_see_class_scope;
        let scope = self.scope_in(unit, mangled);
        enum OpType {
            Fast,
            Global,
            Deref,
            Name,
        }
        let optype = match scope {
            FREE | CELL => OpType::Deref,
            LOCAL
                if function_like
                    || unit
                        .fast_hidden
                        .iter()
                        .any(|(n, hidden)| *hidden && *n == mangled) =>
            {
                OpType::Fast
            }
            GLOBAL_IMPLICIT if function_like => OpType::Global,
            GLOBAL_EXPLICIT => OpType::Global,
            _ => OpType::Name,
        };
        let opcode = match optype {
            OpType::Deref => {
                let arg = if scope == FREE {
                    self.free_index(mangled)?
                } else {
                    self.cell_index(mangled)?
                };
                let opcode = match ctx {
                    ExprContext::Load if class_block && self.ur().in_inlined_comp == 0 => {
                        // The class namespace first, then the cell.
                        self.addop(op::LOAD_LOCALS, loc);
                        op::LOAD_FROM_DICT_OR_DEREF
                    }
                    ExprContext::Load if can_see_class_scope => {
                        let classdict = self.free_index("__classdict__")?;
                        self.addop_i(op::LOAD_DEREF, classdict, loc)?;
                        op::LOAD_FROM_DICT_OR_DEREF
                    }
                    ExprContext::Load => op::LOAD_DEREF,
                    ExprContext::Store => op::STORE_DEREF,
                    _ => op::DELETE_DEREF,
                };
                return self.addop_i(opcode, arg, loc);
            }
            OpType::Fast => {
                let opcode = match ctx {
                    ExprContext::Load => op::LOAD_FAST,
                    ExprContext::Store => op::STORE_FAST,
                    _ => op::DELETE_FAST,
                };
                let arg = self.u().varnames.add(mangled) as usize;
                return self.addop_i(opcode, arg, loc);
            }
            OpType::Global => match ctx {
                ExprContext::Load if can_see_class_scope && scope == GLOBAL_IMPLICIT => {
                    let classdict = self.free_index("__classdict__")?;
                    self.addop_i(op::LOAD_DEREF, classdict, loc)?;
                    op::LOAD_FROM_DICT_OR_GLOBALS
                }
                ExprContext::Load => op::LOAD_GLOBAL,
                ExprContext::Store => op::STORE_GLOBAL,
                _ => op::DELETE_GLOBAL,
            },
            OpType::Name => match ctx {
                ExprContext::Load if class_block && self.ur().in_inlined_comp > 0 => {
                    op::LOAD_GLOBAL
                }
                ExprContext::Load => op::LOAD_NAME,
                ExprContext::Store => op::STORE_NAME,
                _ => op::DELETE_NAME,
            },
        };
        let mut arg = self.u().names.add(mangled) as usize;
        if opcode == op::LOAD_GLOBAL {
            arg <<= 1;
        }
        self.addop_i(opcode, arg, loc)
    }

    fn expr(&mut self, e: &Expr) -> R {
        let loc = self.loc(e.range());
        if let Some(value) = self.folder.constant(e)? {
            return self.load_const(value, loc);
        }
        match e {
            Expr::Named(named) => {
                self.expr(&named.value)?;
                self.addop_i(op::COPY, 1, loc)?;
                self.expr(&named.target)
            }
            Expr::BoolOp(boolop) => {
                let jump = if boolop.op == ast::BoolOp::And {
                    op::POP_JUMP_IF_FALSE
                } else {
                    op::POP_JUMP_IF_TRUE
                };
                let end = self.new_label();
                let n = boolop.values.len() - 1;
                for value in &boolop.values[..n] {
                    self.expr(value)?;
                    self.addop_i(op::COPY, 1, loc)?;
                    self.addop_j(jump, end, loc);
                    self.addop(op::POP_TOP, loc);
                }
                self.expr(&boolop.values[n])?;
                self.use_label(end);
                Ok(())
            }
            Expr::BinOp(binop) => {
                if let Some(pieces) = self.percent_format(binop)? {
                    return self.formatted_percent(binop, &pieces, loc);
                }
                self.expr(&binop.left)?;
                self.expr(&binop.right)?;
                self.addop_i(op::BINARY_OP, binop_arg(binop.op), loc)
            }
            Expr::UnaryOp(unary) => {
                if let Some((compare, inverted)) = not_compare(unary) {
                    return self.compare(compare, Some(inverted));
                }
                self.expr(&unary.operand)?;
                match unary.op {
                    UnaryOp::UAdd => {
                        self.addop_i(op::CALL_INTRINSIC_1, INTRINSIC_UNARY_POSITIVE as usize, loc)?
                    }
                    UnaryOp::USub => self.addop(op::UNARY_NEGATIVE, loc),
                    UnaryOp::Invert => self.addop(op::UNARY_INVERT, loc),
                    UnaryOp::Not => self.addop(op::UNARY_NOT, loc),
                }
                Ok(())
            }
            Expr::If(ifexp) => {
                let end = self.new_label();
                let next = self.new_label();
                self.jump_if(&ifexp.test, next, false)?;
                self.expr(&ifexp.body)?;
                self.addop_j(op::JUMP, end, NO_LOC);
                self.use_label(next);
                self.expr(&ifexp.orelse)?;
                self.use_label(end);
                Ok(())
            }
            Expr::Dict(dict) => self.dict(dict, loc),
            Expr::Lambda(lambda) => self.lambda(lambda, loc),
            Expr::Generator(genexp) => self.genexp(genexp),
            Expr::Yield(y) => {
                if !self.table.scope(self.ur().scope).function_like() {
                    return Err(Unsupported::Construct("yield outside a function body"));
                }
                match &y.value {
                    Some(value) => self.expr(value)?,
                    None => self.load_const(Const::None, loc)?,
                }
                self.addop_yield(loc)
            }
            Expr::YieldFrom(y) => self.yield_from_expr(y, loc),
            Expr::Await(a) => self.await_expr(a, loc),
            Expr::FString(fstring) => self.joined_str(fstring, loc),
            Expr::ListComp(comp) => {
                self.comprehension(e, Comp::List, &comp.generators, &comp.elt, None, loc)
            }
            Expr::SetComp(comp) => {
                self.comprehension(e, Comp::Set, &comp.generators, &comp.elt, None, loc)
            }
            Expr::DictComp(comp) => {
                let key = comp.key.as_deref().ok_or(Unsupported::Parse(
                    "a dict comprehension without a key".into(),
                ))?;
                self.comprehension(e, Comp::Dict, &comp.generators, key, Some(&comp.value), loc)
            }
            Expr::Set(set) => self.starunpack(
                loc,
                &set.elts,
                0,
                op::BUILD_SET,
                op::SET_ADD,
                op::SET_UPDATE,
                false,
            ),
            Expr::Compare(compare) => self.compare(compare, None),
            Expr::Call(call) => self.call(call, loc),
            Expr::Attribute(attr) => {
                if attr.ctx == ExprContext::Load && self.can_optimize_super_call(attr)? {
                    let Expr::Call(call) = &*attr.value else {
                        unreachable!("checked")
                    };
                    self.load_args_for_super(call)?;
                    let opcode = if call.arguments.args.is_empty() {
                        op::LOAD_ZERO_SUPER_ATTR
                    } else {
                        op::LOAD_SUPER_ATTR
                    };
                    self.addop_name(opcode, &attr.attr, loc)?;
                    let loc = self.attr_loc(loc, attr);
                    self.addop(op::NOP, loc);
                    return Ok(());
                }
                self.expr(&attr.value)?;
                let loc = self.attr_loc(loc, attr);
                match attr.ctx {
                    ExprContext::Load => self.addop_name(op::LOAD_ATTR, &attr.attr, loc),
                    ExprContext::Store => {
                        if attr.attr.as_str() == "__debug__" {
                            return Err(Unsupported::Construct("assignment to __debug__"));
                        }
                        self.addop_name(op::STORE_ATTR, &attr.attr, loc)
                    }
                    ExprContext::Del => self.addop_name(op::DELETE_ATTR, &attr.attr, loc),
                    ExprContext::Invalid => Err(Unsupported::Parse("invalid attribute".into())),
                }
            }
            Expr::Subscript(sub) => {
                self.expr(&sub.value)?;
                if is_two_element_slice(&sub.slice) && sub.ctx != ExprContext::Del {
                    self.slice(&sub.slice)?;
                    self.addop(
                        if sub.ctx == ExprContext::Load {
                            op::BINARY_SLICE
                        } else {
                            op::STORE_SLICE
                        },
                        loc,
                    );
                } else {
                    self.expr(&sub.slice)?;
                    self.addop(
                        match sub.ctx {
                            ExprContext::Load => op::BINARY_SUBSCR,
                            ExprContext::Store => op::STORE_SUBSCR,
                            _ => op::DELETE_SUBSCR,
                        },
                        loc,
                    );
                }
                Ok(())
            }
            Expr::Slice(_) => {
                let n = self.slice(e)?;
                self.addop_i(op::BUILD_SLICE, n, loc)
            }
            Expr::Name(name) => self.nameop(&name.id, name.ctx, loc),
            Expr::List(list) => match list.ctx {
                ExprContext::Store => self.assignment_helper(loc, &list.elts),
                ExprContext::Load => self.starunpack(
                    loc,
                    &list.elts,
                    0,
                    op::BUILD_LIST,
                    op::LIST_APPEND,
                    op::LIST_EXTEND,
                    false,
                ),
                _ => {
                    for elt in &list.elts {
                        self.expr(elt)?;
                    }
                    Ok(())
                }
            },
            Expr::Tuple(tuple) => match tuple.ctx {
                ExprContext::Store => self.assignment_helper(loc, &tuple.elts),
                ExprContext::Load => self.starunpack(
                    loc,
                    &tuple.elts,
                    0,
                    op::BUILD_LIST,
                    op::LIST_APPEND,
                    op::LIST_EXTEND,
                    true,
                ),
                _ => {
                    for elt in &tuple.elts {
                        self.expr(elt)?;
                    }
                    Ok(())
                }
            },
            Expr::Starred(_) => Err(Unsupported::Construct("a starred expression here")),
            _ => Err(Unsupported::Construct("this expression")),
        }
    }

    /// An f-string as CPython 3.12's parser leaves it (`_PyPegen_concatenate_strings`): the
    /// literal pieces of all parts flattened, runs of them merged into one constant located
    /// from the first piece to the last, empty ones dropped; then `compiler_joined_str`.
    fn joined_str(&mut self, fstring: &ast::ExprFString, loc: Loc) -> R {
        let values = super::fstrings::joined_values(self.text, fstring)?;
        self.joined_values(values, loc)
    }

    /// `compiler_joined_str` on the values CPython's parser makes.
    fn joined_values(&mut self, values: Vec<super::fstrings::Value<'_>>, loc: Loc) -> R {
        use super::fstrings::Value;
        let n = values.len();
        let many = n > STACK_USE_GUIDELINE;
        if many {
            self.load_const(Const::Str(String::new()), loc)?;
            self.addop_name(op::LOAD_METHOD, "join", loc)?;
            self.addop_i(op::BUILD_LIST, 0, loc)?;
        }
        for value in values {
            match value {
                Value::Text(text, range) => {
                    let loc = self.loc(range);
                    self.load_const(super::strings::str_const(text), loc)?;
                }
                Value::Field(field, conversion) => self.formatted_value(field, conversion)?,
            }
            if many {
                self.addop_i(op::LIST_APPEND, 1, loc)?;
            }
        }
        if many {
            self.addop_i(op::CALL, 1, loc)?;
        } else if n != 1 {
            self.addop_i(op::BUILD_STRING, n, loc)?;
        }
        Ok(())
    }

    /// `"..." % (a, b)` as `optimize_format` rewrites it, if it does.
    fn percent_format(
        &self,
        binop: &ast::ExprBinOp,
    ) -> Result<Option<Vec<FormatPiece>>, Unsupported> {
        if binop.op != Operator::Mod {
            return Ok(None);
        }
        let Expr::Tuple(tuple) = &*binop.right else {
            return Ok(None);
        };
        if tuple.elts.iter().any(Expr::is_starred_expr)
            || self.folder.constant(&binop.right)?.is_some()
        {
            return Ok(None);
        }
        let Some(Const::Str(fmt)) = self.folder.constant(&binop.left)? else {
            return Ok(None);
        };
        Ok(super::fold::percent_format(&fmt, tuple.elts.len()))
    }

    /// The f-string `optimize_format` made: its literals have no location.
    fn formatted_percent(&mut self, binop: &ast::ExprBinOp, pieces: &[FormatPiece], loc: Loc) -> R {
        let Expr::Tuple(tuple) = &*binop.right else {
            unreachable!("checked by percent_format")
        };
        if pieces.len() > STACK_USE_GUIDELINE {
            return Err(Unsupported::Construct("a long %-format"));
        }
        for piece in pieces {
            match piece {
                FormatPiece::Text(text) => self.load_const(Const::Str(text.clone()), NO_LOC)?,
                FormatPiece::Field {
                    item,
                    conversion,
                    spec,
                } => {
                    let arg = &tuple.elts[*item];
                    self.expr(arg)?;
                    let mut oparg = match conversion {
                        b's' => 1,
                        b'r' => 2,
                        _ => 3,
                    };
                    if let Some(spec) = spec {
                        self.load_const(Const::Str(spec.clone()), NO_LOC)?;
                        oparg |= 4;
                    }
                    let arg_loc = self.loc(arg.range());
                    self.addop_i(op::FORMAT_VALUE, oparg, arg_loc)?;
                }
            }
        }
        if pieces.len() != 1 {
            self.addop_i(op::BUILD_STRING, pieces.len(), loc)?;
        }
        Ok(())
    }

    /// `compiler_formatted_value`.
    fn formatted_value(&mut self, field: &ast::InterpolatedElement, conversion: u8) -> R {
        self.expr(&field.expression)?;
        let mut oparg = match conversion {
            b's' => 1,
            b'r' => 2,
            b'a' => 3,
            _ => 0,
        };
        if let Some(spec) = &field.format_spec {
            let (values, range) = super::fstrings::spec_values(self.text, field, spec)?;
            let loc = self.loc(range);
            self.joined_values(values, loc)?;
            oparg |= 4;
        }
        let loc = self.loc(field.range);
        self.addop_i(op::FORMAT_VALUE, oparg, loc)
    }

    /// `compiler_comprehension` for the comprehensions 3.12 inlines (PEP 709).
    #[allow(clippy::too_many_arguments)]
    fn comprehension(
        &mut self,
        e: &Expr,
        kind: Comp,
        generators: &[ast::Comprehension],
        elt: &Expr,
        value: Option<&Expr>,
        loc: Loc,
    ) -> R {
        let entry = self.table.comprehension(e).ok_or(Unsupported::Construct(
            "a comprehension without a symbol table",
        ))?;
        if !entry.comp_inlined {
            return Err(Unsupported::Construct(
                "a comprehension that is not inlined",
            ));
        }
        let entry = entry.id;
        self.check_async_comprehension(generators)?;
        self.comprehension_iter(&generators[0], loc)?;
        let state = self.push_inlined_comprehension_state(loc, entry)?;
        let build = match kind {
            Comp::List => op::BUILD_LIST,
            Comp::Set => op::BUILD_SET,
            Comp::Dict => op::BUILD_MAP,
        };
        self.addop_i(build, 0, loc)?;
        self.addop_i(op::SWAP, 2, loc)?;
        self.comprehension_generator(generators, 0, 0, elt, value, kind, true, loc)?;
        self.pop_inlined_comprehension_state(loc, state)
    }

    /// `push_inlined_comprehension_state` (3.12.1): the comprehension's names isolated from
    /// the enclosing scope's, their outer values kept on the stack.
    fn push_inlined_comprehension_state(
        &mut self,
        loc: Loc,
        entry: ScopeId,
    ) -> Result<InlinedComprehensionState, Unsupported> {
        let unit = self.ur();
        let ste = self.table.scope(unit.scope);
        let in_class_block = ste.kind == BlockType::Class && unit.in_inlined_comp == 0;
        let function_like = ste.function_like();
        let comp = self.table.scope(entry);
        if in_class_block && comp.hash_ordered {
            // CPython pushes every symbol here, in an order that follows PYTHONHASHSEED.
            return Err(Unsupported::Construct(
                "a class-level comprehension whose names CPython orders by hash",
            ));
        }
        let symbols: Vec<(String, u32)> = comp
            .symbols()
            .map(|(name, symbol)| (name.to_owned(), symbol.flags))
            .collect();
        self.u().in_inlined_comp += 1;
        let mut state = InlinedComprehensionState::default();
        for (k, symbol) in symbols {
            // Only names bound in the comprehension (not an assignment expression's nonlocal)
            // are isolated; in a class body, every name.
            if !((symbol & DEF_LOCAL != 0 && symbol & DEF_NONLOCAL == 0) || in_class_block) {
                continue;
            }
            if !function_like {
                // Fast locals meanwhile, in a module or class.
                let unit = self.u();
                match unit.fast_hidden.iter_mut().find(|(n, _)| *n == k) {
                    Some((_, true)) => {}
                    Some((_, hidden)) => {
                        *hidden = true;
                        state.fast_hidden.push(k.clone());
                    }
                    None => {
                        unit.fast_hidden.push((k.clone(), true));
                        state.fast_hidden.push(k.clone());
                    }
                }
            }
            let scope = (symbol >> SCOPE_OFFSET) & SCOPE_MASK;
            let outsc = self.scope_in(self.ur(), &k);
            if scope != outsc && !(scope == CELL && outsc == FREE) {
                // Compiled with its scope inside the comprehension until it ends.
                let previous = self.u().temp_symbols.insert(k.clone(), symbol);
                state.temp_symbols.push((k.clone(), previous));
            }
            let name = mangle(self.ur().private.as_deref(), &k);
            let arg = self.u().varnames.add(&name) as usize;
            self.addop_i(op::LOAD_FAST_AND_CLEAR, arg, loc)?;
            if scope == CELL {
                // A new cell for the comprehension; the outer one waits on the stack.
                let arg = if outsc == FREE {
                    self.free_index(&name)?
                } else {
                    self.cell_index(&name)?
                };
                self.addop_i(op::MAKE_CELL, arg, loc)?;
            }
            state.pushed_locals.push(k);
        }
        if !state.pushed_locals.is_empty() {
            // The outermost iterable back on top, under a handler restoring the names.
            self.addop_i(op::SWAP, state.pushed_locals.len() + 1, loc)?;
            let cleanup = self.new_label();
            let end = self.new_label();
            self.addop_j(op::SETUP_FINALLY, cleanup, loc);
            state.labels = Some((cleanup, end));
        }
        Ok(state)
    }

    /// `pop_inlined_comprehension_state`.
    fn pop_inlined_comprehension_state(&mut self, loc: Loc, state: InlinedComprehensionState) -> R {
        self.u().in_inlined_comp -= 1;
        for (k, previous) in state.temp_symbols {
            match previous {
                Some(flags) => self.u().temp_symbols.insert(k, flags),
                None => self.u().temp_symbols.remove(&k),
            };
        }
        if let Some((cleanup, end)) = state.labels {
            self.addop(op::POP_BLOCK, NO_LOC);
            self.addop_j(op::JUMP, end, NO_LOC);
            // An exception inside: drop the incomplete result, restore, reraise.
            self.use_label(cleanup);
            self.addop_i(op::SWAP, 2, NO_LOC)?;
            self.addop(op::POP_TOP, NO_LOC);
            self.restore_comprehension_locals(&state.pushed_locals, loc)?;
            self.addop_i(op::RERAISE, 0, NO_LOC)?;
            self.use_label(end);
            self.restore_comprehension_locals(&state.pushed_locals, loc)?;
        }
        // Still CO_FAST_HIDDEN in the code object.
        for k in state.fast_hidden {
            if let Some(entry) = self.u().fast_hidden.iter_mut().find(|(n, _)| *n == k) {
                entry.1 = false;
            }
        }
        Ok(())
    }

    /// `compiler_comprehension` for a generator expression: its own code object.
    fn genexp(&mut self, genexp: &ast::ExprGenerator) -> R {
        let range = if genexp.parenthesized {
            genexp.range
        } else {
            // The sole argument of a call: CPython's node takes the call's parentheses.
            let start = usize::from(genexp.range.start());
            let end = usize::from(genexp.range.end());
            match (
                open_paren_before(self.text, start),
                close_paren_after(self.text, end),
            ) {
                (Some(start), Some(end)) => {
                    TextRange::new(TextSize::from(start as u32), TextSize::from(end as u32))
                }
                _ => {
                    return Err(Unsupported::Construct(
                        "a generator expression without its parentheses",
                    ));
                }
            }
        };
        let loc = self.loc(range);
        let scope = self
            .table
            .get(BlockKey::Comprehension(genexp.range))
            .ok_or(Unsupported::Construct(
                "a generator expression without a scope",
            ))?
            .id;
        self.enter_scope("<genexpr>", ScopeKind::Function, scope, loc.line)?;
        self.u().argcount = 1;
        self.genexp_generator(&genexp.generators, 0, &genexp.elt, loc)?;
        self.wrap_in_stopiteration_handler()?;
        let code = self.exit_scope(true)?;
        self.make_closure(code, 0, loc)?;
        self.comprehension_iter(&genexp.generators[0], loc)?;
        self.addop_i(op::CALL, 0, loc)
    }

    /// The iterator of a comprehension's `for` clause beyond the first, as
    /// `compiler_sync_comprehension_generator` pushes it; false when the clause iterates over a
    /// one-element list or tuple, which is pushed as the element itself and needs no loop.
    fn generator_iter(
        &mut self,
        generator: &ast::Comprehension,
        loc: Loc,
    ) -> Result<bool, Unsupported> {
        let elts = match &generator.iter {
            Expr::List(list) => Some(&list.elts),
            Expr::Tuple(tuple) => Some(&tuple.elts),
            _ => None,
        };
        // fold_iter has made a list of constants a constant tuple.
        let folded = match &generator.iter {
            Expr::List(list) => {
                !list.elts.iter().any(Expr::is_starred_expr)
                    && self.folder.tuple(&list.elts)?.is_some()
            }
            other => self.folder.constant(other)?.is_some(),
        };
        if let Some([single]) = elts.map(Vec::as_slice) {
            if !folded && !single.is_starred_expr() {
                self.expr(single)?;
                return Ok(false);
            }
        }
        self.iter_expr(&generator.iter)?;
        self.addop(op::GET_ITER, loc);
        Ok(true)
    }

    /// `compiler_sync_comprehension_generator` for a generator expression.
    fn genexp_generator(
        &mut self,
        generators: &[ast::Comprehension],
        index: usize,
        elt: &Expr,
        loc: Loc,
    ) -> R {
        if generators[index].is_async {
            return self.async_comprehension_generator(generators, index, 0, elt, None, false, loc);
        }
        let mut start = Some(self.new_label());
        let if_cleanup = self.new_label();
        let anchor = self.new_label();
        let generator = &generators[index];
        if index == 0 {
            self.addop_i(op::LOAD_FAST, 0, loc)?;
        } else if !self.generator_iter(generator, loc)? {
            start = None;
        }
        if let Some(start) = start {
            self.use_label(start);
            self.addop_j(op::FOR_ITER, anchor, loc);
        }
        self.expr(&generator.target)?;
        for cond in &generator.ifs {
            self.jump_if(cond, if_cleanup, false)?;
        }
        if index + 1 < generators.len() {
            self.genexp_generator(generators, index + 1, elt, loc)?;
        }
        let elt_loc = self.loc(elt.range());
        if index + 1 >= generators.len() {
            self.expr(elt)?;
            self.addop_yield(elt_loc)?;
            self.addop(op::POP_TOP, elt_loc);
        }
        self.use_label(if_cleanup);
        if let Some(start) = start {
            self.addop_j(op::JUMP, start, elt_loc);
            self.use_label(anchor);
            self.addop(op::END_FOR, NO_LOC);
        }
        Ok(())
    }

    fn restore_comprehension_locals(&mut self, locals: &[String], loc: Loc) -> R {
        self.addop_i(op::SWAP, locals.len() + 1, loc)?;
        for name in locals.iter().rev() {
            let name = mangle(self.ur().private.as_deref(), name);
            let arg = self.u().varnames.add(&name) as usize;
            self.addop_i(op::STORE_FAST_MAYBE_NULL, arg, loc)?;
        }
        Ok(())
    }

    /// `compiler_sync_comprehension_generator`.
    #[allow(clippy::too_many_arguments)]
    fn comprehension_generator(
        &mut self,
        generators: &[ast::Comprehension],
        index: usize,
        mut depth: usize,
        elt: &Expr,
        value: Option<&Expr>,
        kind: Comp,
        iter_on_stack: bool,
        loc: Loc,
    ) -> R {
        if generators[index].is_async {
            let kind = Some((kind, value));
            return self.async_comprehension_generator(
                generators,
                index,
                depth,
                elt,
                kind,
                iter_on_stack,
                loc,
            );
        }
        let mut start = Some(self.new_label());
        let if_cleanup = self.new_label();
        let anchor = self.new_label();
        let generator = &generators[index];
        if !iter_on_stack && !self.generator_iter(generator, loc)? {
            start = None;
        }
        if let Some(start) = start {
            depth += 1;
            self.use_label(start);
            self.addop_j(op::FOR_ITER, anchor, loc);
        }
        self.expr(&generator.target)?;
        for cond in &generator.ifs {
            self.jump_if(cond, if_cleanup, false)?;
        }
        if index + 1 < generators.len() {
            self.comprehension_generator(
                generators,
                index + 1,
                depth,
                elt,
                value,
                kind,
                false,
                loc,
            )?;
        }
        let mut elt_loc = self.loc(elt.range());
        if index + 1 >= generators.len() {
            match kind {
                Comp::List => {
                    self.expr(elt)?;
                    self.addop_i(op::LIST_APPEND, depth + 1, elt_loc)?;
                }
                Comp::Set => {
                    self.expr(elt)?;
                    self.addop_i(op::SET_ADD, depth + 1, elt_loc)?;
                }
                Comp::Dict => {
                    let value = value.expect("a dict comprehension value");
                    self.expr(elt)?;
                    self.expr(value)?;
                    let value_loc = self.loc(value.range());
                    elt_loc.end_line = value_loc.end_line;
                    elt_loc.end_col = value_loc.end_col;
                    self.addop_i(op::MAP_ADD, depth + 1, elt_loc)?;
                }
            }
        }
        self.use_label(if_cleanup);
        if let Some(start) = start {
            self.addop_j(op::JUMP, start, elt_loc);
            self.use_label(anchor);
            self.addop(op::END_FOR, NO_LOC);
        }
        Ok(())
    }

    /// `update_start_location_to_match_attr`.
    fn attr_loc(&self, loc: Loc, attr: &ast::ExprAttribute) -> Loc {
        let end = self.loc(attr.range());
        let mut loc = loc;
        if loc.line != end.end_line {
            loc.line = end.end_line;
            let len = attr.attr.chars().count() as i32;
            if len <= end.end_col {
                loc.col = end.end_col - len;
            } else {
                loc.col = -1;
                loc.end_col = -1;
            }
            loc.end_line = loc.end_line.max(loc.line);
            if loc.line == loc.end_line {
                loc.end_col = loc.end_col.max(loc.col);
            }
        }
        loc
    }

    fn slice(&mut self, e: &Expr) -> Result<usize, Unsupported> {
        let Expr::Slice(slice) = e else {
            return Err(Unsupported::Construct("not a slice"));
        };
        let loc = self.loc(e.range());
        let mut n = 2;
        match &slice.lower {
            Some(lower) => self.expr(lower)?,
            None => self.load_const(Const::None, loc)?,
        }
        match &slice.upper {
            Some(upper) => self.expr(upper)?,
            None => self.load_const(Const::None, loc)?,
        }
        if let Some(step) = &slice.step {
            n += 1;
            self.expr(step)?;
        }
        Ok(n)
    }

    fn unpack_helper(&mut self, loc: Loc, elts: &[Expr]) -> R {
        let n = elts.len();
        let mut seen_star = false;
        for (i, elt) in elts.iter().enumerate() {
            if elt.is_starred_expr() {
                if seen_star {
                    return Err(Unsupported::Construct("multiple starred targets"));
                }
                if i >= (1 << 8) {
                    return Err(Unsupported::Construct(
                        "too many expressions in star-unpacking",
                    ));
                }
                self.addop_i(op::UNPACK_EX, i + ((n - i - 1) << 8), loc)?;
                seen_star = true;
            }
        }
        if !seen_star {
            self.addop_i(op::UNPACK_SEQUENCE, n, loc)?;
        }
        Ok(())
    }

    fn assignment_helper(&mut self, loc: Loc, elts: &[Expr]) -> R {
        self.unpack_helper(loc, elts)?;
        for elt in elts {
            match elt {
                Expr::Starred(starred) => self.expr(&starred.value)?,
                _ => self.expr(elt)?,
            }
        }
        Ok(())
    }

    /// `starunpack_helper`.
    #[allow(clippy::too_many_arguments)]
    fn starunpack(
        &mut self,
        loc: Loc,
        elts: &[Expr],
        pushed: usize,
        build: u16,
        add: u16,
        extend: u16,
        tuple: bool,
    ) -> R {
        let n = elts.len();
        if n > 2 {
            if let Some(Const::Tuple(items)) = self.folder.tuple(elts)? {
                if tuple && pushed == 0 {
                    return self.load_const(Const::Tuple(items), loc);
                }
                let folded = if add == op::SET_ADD {
                    // PyFrozenSet_New: duplicates collapse.
                    match self.folder.frozenset(elts)? {
                        Some(set) => set,
                        None => return Err(Unsupported::Construct("a constant set")),
                    }
                } else {
                    Const::Tuple(items)
                };
                self.addop_i(build, pushed, loc)?;
                self.load_const(folded, loc)?;
                self.addop_i(extend, 1, loc)?;
                if tuple {
                    self.addop_i(op::CALL_INTRINSIC_1, INTRINSIC_LIST_TO_TUPLE as usize, loc)?;
                }
                return Ok(());
            }
        }
        let big = n + pushed > STACK_USE_GUIDELINE;
        let seen_star = elts.iter().any(Expr::is_starred_expr);
        if !seen_star && !big {
            for elt in elts {
                self.expr(elt)?;
            }
            self.addop_i(if tuple { op::BUILD_TUPLE } else { build }, n + pushed, loc)?;
            return Ok(());
        }
        let mut sequence_built = false;
        if big {
            self.addop_i(build, pushed, loc)?;
            sequence_built = true;
        }
        for (i, elt) in elts.iter().enumerate() {
            if let Expr::Starred(starred) = elt {
                if !sequence_built {
                    self.addop_i(build, i + pushed, loc)?;
                    sequence_built = true;
                }
                self.expr(&starred.value)?;
                self.addop_i(extend, 1, loc)?;
            } else {
                self.expr(elt)?;
                if sequence_built {
                    self.addop_i(add, 1, loc)?;
                }
            }
        }
        if tuple {
            self.addop_i(op::CALL_INTRINSIC_1, INTRINSIC_LIST_TO_TUPLE as usize, loc)?;
        }
        Ok(())
    }

    fn dict(&mut self, dict: &ast::ExprDict, loc: Loc) -> R {
        let items = &dict.items;
        let n = items.len();
        let mut have_dict = false;
        let mut elements = 0;
        for i in 0..n {
            if items[i].key.is_none() {
                if elements > 0 {
                    self.subdict(dict, loc, i - elements, i)?;
                    if have_dict {
                        self.addop_i(op::DICT_UPDATE, 1, loc)?;
                    }
                    have_dict = true;
                    elements = 0;
                }
                if !have_dict {
                    self.addop_i(op::BUILD_MAP, 0, loc)?;
                    have_dict = true;
                }
                self.expr(&items[i].value)?;
                self.addop_i(op::DICT_UPDATE, 1, loc)?;
            } else if elements * 2 > STACK_USE_GUIDELINE {
                self.subdict(dict, loc, i - elements, i + 1)?;
                if have_dict {
                    self.addop_i(op::DICT_UPDATE, 1, loc)?;
                }
                have_dict = true;
                elements = 0;
            } else {
                elements += 1;
            }
        }
        if elements > 0 {
            self.subdict(dict, loc, n - elements, n)?;
            if have_dict {
                self.addop_i(op::DICT_UPDATE, 1, loc)?;
            }
            have_dict = true;
        }
        if !have_dict {
            self.addop_i(op::BUILD_MAP, 0, loc)?;
        }
        Ok(())
    }

    fn subdict(&mut self, dict: &ast::ExprDict, loc: Loc, begin: usize, end: usize) -> R {
        let n = end - begin;
        let items = &dict.items[begin..end];
        let big = n * 2 > STACK_USE_GUIDELINE;
        if n > 1 && !big {
            let mut keys = Vec::new();
            for item in items {
                match item
                    .key
                    .as_ref()
                    .map(|k| self.folder.constant(k))
                    .transpose()?
                    .flatten()
                {
                    Some(key) => keys.push(key),
                    None => break,
                }
            }
            if keys.len() == n {
                for item in items {
                    self.expr(&item.value)?;
                }
                self.load_const(Const::Tuple(keys), loc)?;
                self.addop_i(op::BUILD_CONST_KEY_MAP, n, loc)?;
                return Ok(());
            }
        }
        if big {
            self.addop_i(op::BUILD_MAP, 0, loc)?;
        }
        for item in items {
            self.expr(item.key.as_ref().expect("not an unpacking"))?;
            self.expr(&item.value)?;
            if big {
                self.addop_i(op::MAP_ADD, 1, loc)?;
            }
        }
        if !big {
            self.addop_i(op::BUILD_MAP, n, loc)?;
        }
        Ok(())
    }

    fn addcompare(&mut self, cmp: CmpOp, loc: Loc) -> R {
        match cmp {
            CmpOp::Is => self.addop_i(op::IS_OP, 0, loc),
            CmpOp::IsNot => self.addop_i(op::IS_OP, 1, loc),
            CmpOp::In => self.addop_i(op::CONTAINS_OP, 0, loc),
            CmpOp::NotIn => self.addop_i(op::CONTAINS_OP, 1, loc),
            CmpOp::Lt => self.addop_i(op::COMPARE_OP, 2, loc),
            CmpOp::LtE => self.addop_i(op::COMPARE_OP, 26, loc),
            CmpOp::Eq => self.addop_i(op::COMPARE_OP, 40, loc),
            CmpOp::NotEq => self.addop_i(op::COMPARE_OP, 55, loc),
            CmpOp::Gt => self.addop_i(op::COMPARE_OP, 68, loc),
            CmpOp::GtE => self.addop_i(op::COMPARE_OP, 92, loc),
        }
    }

    /// A comparator after `fold_compare`: the last one of an `in`/`not in` is an iterable.
    fn comparator(&mut self, compare: &ast::ExprCompare, i: usize) -> R {
        let last = compare.comparators.len() - 1;
        if i == last && matches!(compare.ops[last], CmpOp::In | CmpOp::NotIn) {
            self.iter_expr(&compare.comparators[i])
        } else {
            self.expr(&compare.comparators[i])
        }
    }

    /// `compiler_compare`; `inverted` is the single operator `not (a op b)` folded into.
    fn compare(&mut self, compare: &ast::ExprCompare, inverted: Option<CmpOp>) -> R {
        let loc = self.loc(compare.range());
        self.expr(&compare.left)?;
        let n = compare.ops.len() - 1;
        if n == 0 {
            self.comparator(compare, 0)?;
            return self.addcompare(inverted.unwrap_or(compare.ops[0]), loc);
        }
        let cleanup = self.new_label();
        for i in 0..n {
            self.comparator(compare, i)?;
            self.addop_i(op::SWAP, 2, loc)?;
            self.addop_i(op::COPY, 2, loc)?;
            self.addcompare(compare.ops[i], loc)?;
            self.addop_i(op::COPY, 1, loc)?;
            self.addop_j(op::POP_JUMP_IF_FALSE, cleanup, loc);
            self.addop(op::POP_TOP, loc);
        }
        self.comparator(compare, n)?;
        self.addcompare(compare.ops[n], loc)?;
        let end = self.new_label();
        self.addop_j(op::JUMP, end, NO_LOC);
        self.use_label(cleanup);
        self.addop_i(op::SWAP, 2, loc)?;
        self.addop(op::POP_TOP, loc);
        self.use_label(end);
        Ok(())
    }

    /// `compiler_jump_if`.
    fn jump_if(&mut self, e: &Expr, next: i32, cond: bool) -> R {
        if self.folder.constant(e)?.is_none() {
            match e {
                Expr::UnaryOp(unary)
                    if unary.op == UnaryOp::Not && not_compare(unary).is_none() =>
                {
                    return self.jump_if(&unary.operand, next, !cond);
                }
                Expr::BoolOp(boolop) => {
                    let n = boolop.values.len() - 1;
                    let cond2 = boolop.op == ast::BoolOp::Or;
                    let mut next2 = next;
                    if cond2 != cond {
                        next2 = self.new_label();
                    }
                    for value in &boolop.values[..n] {
                        self.jump_if(value, next2, cond2)?;
                    }
                    self.jump_if(&boolop.values[n], next, cond)?;
                    if next2 != next {
                        self.use_label(next2);
                    }
                    return Ok(());
                }
                Expr::If(ifexp) => {
                    let end = self.new_label();
                    let next2 = self.new_label();
                    self.jump_if(&ifexp.test, next2, false)?;
                    self.jump_if(&ifexp.body, next, cond)?;
                    self.addop_j(op::JUMP, end, NO_LOC);
                    self.use_label(next2);
                    self.jump_if(&ifexp.orelse, next, cond)?;
                    self.use_label(end);
                    return Ok(());
                }
                Expr::Compare(compare) if compare.ops.len() > 1 => {
                    let loc = self.loc(compare.range());
                    let n = compare.ops.len() - 1;
                    let cleanup = self.new_label();
                    self.expr(&compare.left)?;
                    for i in 0..n {
                        self.comparator(compare, i)?;
                        self.addop_i(op::SWAP, 2, loc)?;
                        self.addop_i(op::COPY, 2, loc)?;
                        self.addcompare(compare.ops[i], loc)?;
                        self.addop_j(op::POP_JUMP_IF_FALSE, cleanup, loc);
                    }
                    self.comparator(compare, n)?;
                    self.addcompare(compare.ops[n], loc)?;
                    self.addop_j(
                        if cond {
                            op::POP_JUMP_IF_TRUE
                        } else {
                            op::POP_JUMP_IF_FALSE
                        },
                        next,
                        loc,
                    );
                    let end = self.new_label();
                    self.addop_j(op::JUMP, end, NO_LOC);
                    self.use_label(cleanup);
                    self.addop(op::POP_TOP, loc);
                    if !cond {
                        self.addop_j(op::JUMP, next, NO_LOC);
                    }
                    self.use_label(end);
                    return Ok(());
                }
                _ => {}
            }
        }
        self.expr(e)?;
        // A folded `not (a in b)` is located at the comparison.
        let loc = match e {
            Expr::UnaryOp(unary) if not_compare(unary).is_some() => self.loc(unary.operand.range()),
            _ => self.loc(e.range()),
        };
        self.addop_j(
            if cond {
                op::POP_JUMP_IF_TRUE
            } else {
                op::POP_JUMP_IF_FALSE
            },
            next,
            loc,
        );
        Ok(())
    }

    /// `can_optimize_super_call`: `super().x` / `super(a, b).x` with `super` the builtin.
    fn can_optimize_super_call(&self, attr: &ast::ExprAttribute) -> Result<bool, Unsupported> {
        let Expr::Call(call) = &*attr.value else {
            return Ok(false);
        };
        let Expr::Name(func) = &*call.func else {
            return Ok(false);
        };
        if func.id.as_str() != "super"
            || attr.attr.as_str() == "__class__"
            || !call.arguments.keywords.is_empty()
        {
            return Ok(false);
        }
        let unit = self.ur();
        // Statically visible shadowing of `super`.
        if self.scope_in(unit, "super") != GLOBAL_IMPLICIT || self.top_symbol("super") != 0 {
            return Ok(false);
        }
        let args = &call.arguments.args;
        if args.len() == 2 {
            return Ok(!args.iter().any(Expr::is_starred_expr));
        }
        if !args.is_empty() {
            return Ok(false);
        }
        // Zero-argument super(): a first argument, and the `__class__` cell.
        if unit.argcount == 0 && unit.posonlyargcount == 0 {
            return Ok(false);
        }
        Ok(self.get_ref_type("__class__")? == FREE)
    }

    /// `load_args_for_super`.
    fn load_args_for_super(&mut self, call: &ast::ExprCall) -> R {
        let loc = self.loc(call.range());
        let func_loc = self.loc(call.func.range());
        self.nameop("super", ExprContext::Load, func_loc)?;
        let args = &call.arguments.args;
        if args.len() == 2 {
            self.expr(&args[0])?;
            return self.expr(&args[1]);
        }
        self.nameop("__class__", ExprContext::Load, loc)?;
        let first = self
            .ur()
            .varnames
            .list
            .first()
            .cloned()
            .ok_or(Unsupported::Construct("super() without arguments"))?;
        // The first parameter, as the unit names it (already mangled).
        self.nameop(&first, ExprContext::Load, loc)
    }

    fn is_import_originated(&self, e: &Expr) -> bool {
        match e {
            Expr::Name(name) => self.top_symbol(name.id.as_str()) & DEF_IMPORT != 0,
            _ => false,
        }
    }

    /// `compiler_call` with `maybe_optimize_method_call`.
    fn call(&mut self, call: &ast::ExprCall, loc: Loc) -> R {
        let args = &call.arguments.args;
        let keywords = &call.arguments.keywords;
        if let Expr::Attribute(meth) = &*call.func {
            let kwdsl = keywords.len();
            if meth.ctx == ExprContext::Load
                && !self.is_import_originated(&meth.value)
                && args.len() + kwdsl + usize::from(kwdsl != 0) < STACK_USE_GUIDELINE
                && !args.iter().any(Expr::is_starred_expr)
                && keywords.iter().all(|k| k.arg.is_some())
            {
                let meth_loc = self.loc(meth.range());
                let attr_loc = self.attr_loc(meth_loc, meth);
                if self.can_optimize_super_call(meth)? {
                    let Expr::Call(inner) = &*meth.value else {
                        unreachable!("checked")
                    };
                    self.load_args_for_super(inner)?;
                    let opcode = if inner.arguments.args.is_empty() {
                        op::LOAD_ZERO_SUPER_METHOD
                    } else {
                        op::LOAD_SUPER_METHOD
                    };
                    self.addop_name(opcode, &meth.attr, meth_loc)?;
                    self.addop(op::NOP, attr_loc);
                } else {
                    self.expr(&meth.value)?;
                    self.addop_name(op::LOAD_METHOD, &meth.attr, attr_loc)?;
                }
                for arg in args.iter() {
                    self.expr(arg)?;
                }
                if kwdsl > 0 {
                    for keyword in keywords.iter() {
                        self.expr(&keyword.value)?;
                    }
                    self.kw_names(keywords, attr_loc)?;
                }
                let call_loc = self.attr_loc(loc, meth);
                return self.addop_i(op::CALL, args.len() + kwdsl, call_loc);
            }
        }
        let func_loc = self.loc(call.func.range());
        self.addop(op::PUSH_NULL, func_loc);
        self.expr(&call.func)?;
        self.call_helper(loc, 0, args, keywords)
    }

    fn kw_names(&mut self, keywords: &[ast::Keyword], loc: Loc) -> R {
        let names = keywords
            .iter()
            .map(|k| Const::Str(k.arg.as_ref().map(|a| a.to_string()).unwrap_or_default()))
            .collect();
        let i = self.u().consts.add(Const::Tuple(names));
        self.addop_i(op::KW_NAMES, i as usize, loc)
    }

    /// `compiler_call_helper`.
    fn call_helper(&mut self, loc: Loc, n: usize, args: &[Expr], keywords: &[ast::Keyword]) -> R {
        let nelts = args.len();
        let nkwelts = keywords.len();
        let simple = nelts + nkwelts * 2 <= STACK_USE_GUIDELINE
            && !args.iter().any(Expr::is_starred_expr)
            && keywords.iter().all(|k| k.arg.is_some());
        if simple {
            for arg in args {
                self.expr(arg)?;
            }
            if nkwelts > 0 {
                for keyword in keywords {
                    self.expr(&keyword.value)?;
                }
                self.kw_names(keywords, loc)?;
            }
            return self.addop_i(op::CALL, n + nelts + nkwelts, loc);
        }
        // ex_call
        if n == 0 && nelts == 1 {
            if let Expr::Starred(starred) = &args[0] {
                self.expr(&starred.value)?;
            } else {
                self.starunpack(
                    loc,
                    args,
                    n,
                    op::BUILD_LIST,
                    op::LIST_APPEND,
                    op::LIST_EXTEND,
                    true,
                )?;
            }
        } else {
            self.starunpack(
                loc,
                args,
                n,
                op::BUILD_LIST,
                op::LIST_APPEND,
                op::LIST_EXTEND,
                true,
            )?;
        }
        if nkwelts > 0 {
            let mut have_dict = false;
            let mut nseen = 0;
            for (i, keyword) in keywords.iter().enumerate() {
                if keyword.arg.is_none() {
                    if nseen > 0 {
                        self.subkwargs(loc, &keywords[i - nseen..i])?;
                        if have_dict {
                            self.addop_i(op::DICT_MERGE, 1, loc)?;
                        }
                        have_dict = true;
                        nseen = 0;
                    }
                    if !have_dict {
                        self.addop_i(op::BUILD_MAP, 0, loc)?;
                        have_dict = true;
                    }
                    self.expr(&keyword.value)?;
                    self.addop_i(op::DICT_MERGE, 1, loc)?;
                } else {
                    nseen += 1;
                }
            }
            if nseen > 0 {
                self.subkwargs(loc, &keywords[nkwelts - nseen..])?;
                if have_dict {
                    self.addop_i(op::DICT_MERGE, 1, loc)?;
                }
            }
        }
        self.addop_i(op::CALL_FUNCTION_EX, usize::from(nkwelts > 0), loc)
    }

    fn subkwargs(&mut self, loc: Loc, keywords: &[ast::Keyword]) -> R {
        let n = keywords.len();
        let big = n * 2 > STACK_USE_GUIDELINE;
        if n > 1 && !big {
            for keyword in keywords {
                self.expr(&keyword.value)?;
            }
            let keys = keywords
                .iter()
                .map(|k| Const::Str(k.arg.as_ref().map(|a| a.to_string()).unwrap_or_default()))
                .collect();
            self.load_const(Const::Tuple(keys), loc)?;
            return self.addop_i(op::BUILD_CONST_KEY_MAP, n, loc);
        }
        if big {
            self.addop_i(op::BUILD_MAP, 0, NO_LOC)?;
        }
        for keyword in keywords {
            let key = keyword
                .arg
                .as_ref()
                .map(|a| a.to_string())
                .unwrap_or_default();
            self.load_const(Const::Str(key), loc)?;
            self.expr(&keyword.value)?;
            if big {
                self.addop_i(op::MAP_ADD, 1, NO_LOC)?;
            }
        }
        if !big {
            self.addop_i(op::BUILD_MAP, n, loc)?;
        }
        Ok(())
    }
}

/// Whether `text` holds only what may sit between tokens: blanks, line continuations and
/// comments (the first line may end in one; the others are blank or a comment).
fn only_trivia(text: &str) -> bool {
    text.split('\n').all(|line| {
        let line = line.trim_start_matches([' ', '\t', '\x0c', '\r']);
        line.is_empty() || line.starts_with('#') || line == "\\" || line == "\\\r"
    })
}

/// The offset of the `(` a call's sole generator argument starts after, with only blanks and
/// comments between (a `(` inside a comment leaves code between it and `start`).
fn open_paren_before(text: &str, start: usize) -> Option<usize> {
    let before = &text[..start];
    let mut end = before.len();
    while let Some(open) = before[..end].rfind('(') {
        if only_trivia(&before[open + 1..]) {
            // Not one in a comment (a `#` before it on its line: refused, to be safe).
            let line_start = before[..open].rfind('\n').map_or(0, |i| i + 1);
            return (!before[line_start..open].contains('#')).then_some(open);
        }
        end = open;
    }
    None
}

/// The offset just past the `)` that closes a call's sole generator argument ending at `end`.
fn close_paren_after(text: &str, end: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = end;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\x0c' | b'\r' | b'\n' | b'\\' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b')' => return Some(i + 1),
            _ => return None,
        }
    }
    None
}

#[derive(Debug, Clone, Copy)]
enum Comp {
    List,
    Set,
    Dict,
}

/// `not (a is b)` and the like, which `fold_unaryop` turns into `a is not b`.
fn not_compare(unary: &ast::ExprUnaryOp) -> Option<(&ast::ExprCompare, CmpOp)> {
    if unary.op != UnaryOp::Not {
        return None;
    }
    let Expr::Compare(compare) = &*unary.operand else {
        return None;
    };
    if compare.ops.len() != 1 {
        return None;
    }
    let inverted = match compare.ops[0] {
        CmpOp::Is => CmpOp::IsNot,
        CmpOp::IsNot => CmpOp::Is,
        CmpOp::In => CmpOp::NotIn,
        CmpOp::NotIn => CmpOp::In,
        _ => return None,
    };
    Some((compare, inverted))
}

fn is_two_element_slice(e: &Expr) -> bool {
    matches!(e, Expr::Slice(slice) if slice.step.is_none())
}

fn binop_arg(op: Operator) -> usize {
    match op {
        Operator::Add => 0,
        Operator::BitAnd => 1,
        Operator::FloorDiv => 2,
        Operator::LShift => 3,
        Operator::MatMult => 4,
        Operator::Mult => 5,
        Operator::Mod => 6,
        Operator::BitOr => 7,
        Operator::Pow => 8,
        Operator::RShift => 9,
        Operator::Sub => 10,
        Operator::Div => 11,
        Operator::BitXor => 12,
    }
}

/// `find_ann`: an annotated assignment anywhere in the body, outside nested scopes.
fn find_ann(stmts: &[Stmt]) -> bool {
    stmts.iter().any(|stmt| match stmt {
        Stmt::AnnAssign(_) => true,
        Stmt::For(s) => find_ann(&s.body) || find_ann(&s.orelse),
        Stmt::While(s) => find_ann(&s.body) || find_ann(&s.orelse),
        Stmt::If(s) => find_ann(&s.body) || s.elif_else_clauses.iter().any(|c| find_ann(&c.body)),
        Stmt::With(s) => find_ann(&s.body),
        Stmt::Try(s) => {
            s.handlers.iter().any(|h| match h {
                ast::ExceptHandler::ExceptHandler(h) => find_ann(&h.body),
            }) || find_ann(&s.body)
                || find_ann(&s.finalbody)
                || find_ann(&s.orelse)
        }
        Stmt::Match(s) => s.cases.iter().any(|c| find_ann(&c.body)),
        _ => false,
    })
}

/// Whether the CPython worker's `strip_docstrings` drops this module's docstring statement
/// instead of compiling as `-OO` does: when a `from __future__` import follows the docstring
/// and the module's own code has an assert or reads `__debug__` (any `__debug__` counts here).
fn stripped_doc_before_future(module: &ast::ModModule, text: &str) -> bool {
    use ruff_python_ast::visitor::{Visitor, walk_stmt};
    struct Asserts(bool);
    impl<'b> Visitor<'b> for Asserts {
        fn visit_stmt(&mut self, stmt: &'b Stmt) {
            match stmt {
                Stmt::Assert(_) => self.0 = true,
                Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
                _ => walk_stmt(self, stmt),
            }
        }
    }
    let [Stmt::Expr(first), rest @ ..] = module.body.as_slice() else {
        return false;
    };
    let follows = rest.iter().any(|stmt| {
        matches!(stmt, Stmt::ImportFrom(import)
            if import.module.as_ref().is_some_and(|m| m.as_str() == "__future__"))
    });
    if !first.value.is_string_literal_expr() || !follows {
        return false;
    }
    let mut asserts = Asserts(text.contains("__debug__"));
    for stmt in rest {
        asserts.visit_stmt(stmt);
    }
    asserts.0
}
