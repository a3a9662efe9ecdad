//! Code generation (`Python/compile.c`): the AST to a sequence of instructions with labels per
//! code unit, then each unit through the flow graph and the assembler into a code object.
//! Function names follow compile.c; anything not followed exactly is [`Unsupported`].

use super::Unsupported;
use super::assemble;
use super::code::{CodeObject, Const, NameSet};
use super::flowgraph::{Cfg, Consts, InstrSeq, Loc, NO_LOC};
use super::fold::{Folder, FormatPiece};
use super::opcode312 as op;
use super::symtable::{NameScope, ScopeKind, SymTable, mangle};
use ruff_python_ast::{self as ast, CmpOp, Expr, ExprContext, Operator, Stmt, UnaryOp};
use ruff_text_size::{Ranged, TextRange, TextSize};

type R = Result<(), Unsupported>;

const STACK_USE_GUIDELINE: usize = 30;
/// `CO_FUTURE_ANNOTATIONS`
const CO_FUTURE_ANNOTATIONS: u32 = 0x0100_0000;
const INTRINSIC_IMPORT_STAR: i32 = 2;
const INTRINSIC_UNARY_POSITIVE: i32 = 5;
const INTRINSIC_LIST_TO_TUPLE: i32 = 6;

const CO_OPTIMIZED: u32 = 0x1;
const CO_NEWLOCALS: u32 = 0x2;
const CO_VARARGS: u32 = 0x4;
const CO_VARKEYWORDS: u32 = 0x8;
const CO_NESTED: u32 = 0x10;
const CO_GENERATOR: u32 = 0x20;
const INTRINSIC_STOPITERATION_ERROR: i32 = 3;
const CO_FAST_LOCAL: u8 = 0x20;
const CO_FAST_HIDDEN: u8 = 0x10;
const CO_FAST_CELL: u8 = 0x40;
const CO_FAST_FREE: u8 = 0x80;

/// Line starts of the source, to turn byte offsets into CPython's (line, column).
pub(crate) struct Lines {
    starts: Vec<u32>,
}

impl Lines {
    pub(crate) fn new(text: &str) -> Lines {
        let bytes = text.as_bytes();
        let mut starts = vec![0u32];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i as u32 + 1),
                b'\r' => {
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    starts.push(i as u32 + 1);
                }
                _ => {}
            }
            i += 1;
        }
        Lines { starts }
    }

    fn position(&self, offset: TextSize) -> (i32, i32) {
        let offset = u32::from(offset);
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        (line as i32 + 1, (offset - self.starts[line]) as i32)
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
    HandlerCleanup(Option<&'a str>),
    PopValue,
    ExceptionHandler,
}

/// `CO_MAXBLOCKS`: CPython refuses deeper static nesting.
const MAX_BLOCKS: usize = 20;

struct Unit<'a> {
    seq: InstrSeq,
    consts: Consts,
    names: NameSet,
    varnames: NameSet,
    scope: usize,
    kind: ScopeKind,
    name: String,
    qualname: String,
    firstlineno: i32,
    argcount: u32,
    posonlyargcount: u32,
    kwonlyargcount: u32,
    private: Option<String>,
    fblocks: Vec<FBlock<'a>>,
    /// Names made fast locals by inlined comprehensions in a module or class
    /// (`u_fasthidden`; `CO_FAST_HIDDEN` in `co_localspluskinds`).
    fast_hidden: Vec<String>,
    /// Names bound by the inlined comprehensions being compiled: fast locals meanwhile.
    comp_locals: Vec<Vec<String>>,
}

pub(crate) struct Compiler<'a> {
    text: &'a str,
    lines: Lines,
    symtable: SymTable,
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
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(
        text: &'a str,
        symtable: SymTable,
        optimize: u8,
        strip_docstrings: bool,
        filename: &str,
    ) -> Compiler<'a> {
        Compiler {
            text,
            lines: Lines::new(text),
            symtable,
            folder: Folder { optimize, text },
            optimize,
            strip_docstrings: optimize >= 2 || strip_docstrings,
            filename: filename.to_owned(),
            units: Vec::new(),
            future_ok: Vec::new(),
            future_annotations: false,
        }
    }

    fn u(&mut self) -> &mut Unit<'a> {
        self.units.last_mut().expect("a code unit")
    }
    fn ur(&self) -> &Unit<'a> {
        self.units.last().expect("a code unit")
    }

    fn loc(&self, range: TextRange) -> Loc {
        let (line, col) = self.lines.position(range.start());
        let (end_line, end_col) = self.lines.position(range.end());
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
        let mangled = mangle(self.ur().private.as_deref(), name);
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

    fn enter_scope(&mut self, name: &str, kind: ScopeKind, scope: usize, firstlineno: i32) -> R {
        let varnames = {
            let mut set = NameSet::default();
            for p in &self.symtable.scopes[scope].params {
                set.add(p);
            }
            set
        };
        let private = self.units.last().and_then(|u| u.private.clone());
        let mut unit = Unit {
            seq: InstrSeq::default(),
            consts: Consts::default(),
            names: NameSet::default(),
            varnames,
            scope,
            kind,
            name: name.to_owned(),
            qualname: name.to_owned(),
            firstlineno,
            argcount: 0,
            posonlyargcount: 0,
            kwonlyargcount: 0,
            private,
            fblocks: Vec::new(),
            fast_hidden: Vec::new(),
            comp_locals: Vec::new(),
        };
        let mut loc = Loc {
            line: firstlineno,
            end_line: firstlineno,
            col: 0,
            end_col: 0,
        };
        if kind == ScopeKind::Module {
            loc.line = 0;
        } else {
            unit.qualname = self.qualname(name, kind);
        }
        self.units.push(unit);
        self.addop_i(op::RESUME, 0, loc)
    }

    /// `compiler_set_qualname`.
    fn qualname(&self, name: &str, _kind: ScopeKind) -> String {
        if self.units.len() < 2 {
            return name.to_owned();
        }
        let parent = self.ur();
        let mangled = mangle(parent.private.as_deref(), name);
        if self.symtable.scopes[parent.scope].scope_of(&mangled) == NameScope::GlobalExplicit {
            return name.to_owned();
        }
        // A generator expression's scope (COMPILER_SCOPE_COMPREHENSION) adds no `<locals>`.
        if parent.kind == ScopeKind::Function && parent.name != "<genexpr>" {
            format!("{}.<locals>.{name}", parent.qualname)
        } else {
            format!("{}.{name}", parent.qualname)
        }
    }

    /// `optimize_and_assemble`: the return at the end, the flow graph passes, the assembler.
    fn exit_scope(&mut self, add_none: bool) -> Result<CodeObject, Unsupported> {
        if add_none {
            self.load_const(Const::None, NO_LOC)?;
        }
        self.addop(op::RETURN_VALUE, NO_LOC);
        let mut unit = self.units.pop().expect("a code unit");
        let scope = &self.symtable.scopes[unit.scope];
        let mut flags = 0;
        if unit.kind == ScopeKind::Function {
            flags |= CO_OPTIMIZED | CO_NEWLOCALS;
            if scope.nested {
                flags |= CO_NESTED;
            }
            if scope.varargs {
                flags |= CO_VARARGS;
            }
            if scope.varkeywords {
                flags |= CO_VARKEYWORDS;
            }
        }
        let generator = unit.kind == ScopeKind::Function && scope.generator;
        if generator {
            flags |= CO_GENERATOR;
        }
        if self.future_annotations {
            // compute_code_flags: the future features are in every code object's flags.
            flags |= CO_FUTURE_ANNOTATIONS;
        }
        let mut cfg = Cfg::from_seq(&unit.seq);
        let nlocals = unit.varnames.len();
        let nparams = scope.params.len();
        cfg.optimize_code_unit(&mut unit.consts, nlocals, nparams, unit.firstlineno)?;
        if generator {
            cfg.insert_generator_prefix(unit.firstlineno);
        }
        // prepare_localsplus: arg cells share the argument's slot.
        let nlocals = unit.varnames.len();
        let ncells = scope.cells.len();
        let nfrees = scope.frees.len();
        let mut fixed: Vec<i32> = (0..ncells + nfrees).map(|i| (nlocals + i) as i32).collect();
        for (i, cell) in scope.cells.iter().enumerate() {
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
        // compute_localsplus_info
        let mut localsplusnames = unit.varnames.list.clone();
        let mut localspluskinds: Vec<u8> = localsplusnames
            .iter()
            .map(|name| {
                let mut kind = CO_FAST_LOCAL;
                if unit.fast_hidden.contains(name) {
                    kind |= CO_FAST_HIDDEN;
                }
                if scope.cells.contains(name) {
                    kind |= CO_FAST_CELL;
                }
                kind
            })
            .collect();
        for cell in &scope.cells {
            if !unit.varnames.list.contains(cell) {
                localsplusnames.push(cell.clone());
                localspluskinds.push(CO_FAST_CELL);
            }
        }
        for free in &scope.frees {
            localsplusnames.push(free.clone());
            localspluskinds.push(CO_FAST_FREE);
        }
        Ok(CodeObject {
            scope: Some(unit.scope),
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
                if stmt.is_star {
                    return Err(Unsupported::Construct("except*"));
                }
                if stmt.finalbody.is_empty() {
                    self.try_except(stmt, loc)
                } else {
                    self.try_finally(stmt, loc)
                }
            }
            Stmt::With(stmt) => {
                if stmt.is_async {
                    return Err(Unsupported::Construct("async with"));
                }
                self.with(stmt, loc, 0)
            }
            _ => Err(Unsupported::Construct("this statement")),
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
            FBlock::While { .. } | FBlock::ExceptionHandler => {}
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
            FBlock::With(with_loc) => {
                *loc = with_loc;
                self.addop(op::POP_BLOCK, *loc);
                if preserve_tos {
                    self.addop_i(op::SWAP, 2, *loc)?;
                }
                self.call_exit_with_nones(*loc)?;
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
        // compiler_with_except_finish
        let suppress = self.new_label();
        self.addop_j(op::POP_JUMP_IF_TRUE, suppress, NO_LOC);
        self.addop_i(op::RERAISE, 2, NO_LOC)?;
        self.use_label(suppress);
        self.addop(op::POP_TOP, NO_LOC);
        self.addop(op::POP_BLOCK, NO_LOC);
        self.addop(op::POP_EXCEPT, NO_LOC);
        self.addop(op::POP_TOP, NO_LOC);
        self.addop(op::POP_TOP, NO_LOC);
        let finish_exit = self.new_label();
        self.addop_j(op::JUMP, finish_exit, NO_LOC);
        self.use_label(cleanup);
        self.pop_except_and_reraise(NO_LOC)?;
        self.use_label(finish_exit);
        self.use_label(exit);
        Ok(())
    }

    fn return_(&mut self, ret: &'a ast::StmtReturn, loc: Loc) -> R {
        if self.ur().kind != ScopeKind::Function {
            return Err(Unsupported::Construct("return outside a function"));
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
        let mut funcflags = self.default_arguments(params, loc)?;
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
            .symtable
            .scope_for(std::ptr::from_ref(def) as usize)
            .ok_or(Unsupported::Construct("a function without a scope"))?;
        self.enter_scope(&def.name, ScopeKind::Function, scope, firstlineno)?;
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
        if self.symtable.scopes[scope].generator {
            self.wrap_in_stopiteration_handler()?;
        }
        let code = self.exit_scope(true)?;
        self.make_closure(code, funcflags, loc)?;
        self.apply_decorators(&def.decorator_list)?;
        self.nameop(&def.name, ExprContext::Store, loc)
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
            .symtable
            .scope_for(std::ptr::from_ref(lambda) as usize)
            .ok_or(Unsupported::Construct("a lambda without a scope"))?;
        self.enter_scope("<lambda>", ScopeKind::Function, scope, loc.line)?;
        self.u().consts.add(Const::None);
        self.u().argcount = params.args.len() as u32;
        self.u().posonlyargcount = params.posonlyargs.len() as u32;
        self.u().kwonlyargcount = params.kwonlyargs.len() as u32;
        self.expr(&lambda.body)?;
        let ret_loc = Loc {
            line: loc.line,
            end_line: loc.line,
            col: 0,
            end_col: 0,
        };
        self.addop(op::RETURN_VALUE, ret_loc);
        let code = self.exit_scope(true)?;
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
        if let Some(child) = code.scope {
            let frees = self.symtable.scopes[child].frees.clone();
            if !frees.is_empty() {
                let parent = &self.symtable.scopes[self.ur().scope];
                let mut args = Vec::new();
                for name in &frees {
                    // get_ref_type: a cell of the parent, else one of its free variables.
                    let arg = parent
                        .cells
                        .iter()
                        .position(|n| n == name)
                        .or_else(|| {
                            parent
                                .frees
                                .iter()
                                .position(|n| n == name)
                                .map(|i| i + parent.cells.len())
                        })
                        .ok_or(Unsupported::Construct("a free variable the parent lacks"))?;
                    args.push(arg);
                }
                for arg in args {
                    self.addop_i(op::LOAD_CLOSURE, arg, loc)?;
                }
                flags |= 0x08;
                self.addop_i(op::BUILD_TUPLE, frees.len(), loc)?;
            }
        }
        let key = std::sync::Arc::new(super::code::CodeKey::of(&code));
        self.load_const(Const::Code(Box::new(code), key), loc)?;
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
        let scope = self
            .symtable
            .scope_for(std::ptr::from_ref(class) as usize)
            .ok_or(Unsupported::Construct("a class without a scope"))?;
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
        self.body(body_loc, &class.body)?;
        if self.symtable.scopes[scope]
            .cells
            .iter()
            .any(|c| c == "__class__")
        {
            // Store __classcell__ into the namespace and return it.
            self.addop_i(op::LOAD_CLOSURE, 0, NO_LOC)?;
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
        self.call_helper(loc, 2, args, keywords)?;
        self.apply_decorators(&class.decorator_list)?;
        self.nameop(&class.name, ExprContext::Store, loc)
    }

    /// `compiler_nameop`.
    fn nameop(&mut self, name: &str, ctx: ExprContext, loc: Loc) -> R {
        if name == "__debug__" && ctx != ExprContext::Load {
            return Err(Unsupported::Construct("assignment to __debug__"));
        }
        let mangled = mangle(self.ur().private.as_deref(), name);
        let unit = self.ur();
        let scope = &self.symtable.scopes[unit.scope];
        let function = unit.kind == ScopeKind::Function;
        let comp_local = unit
            .comp_locals
            .iter()
            .any(|names| names.contains(&mangled));
        let name_scope = if comp_local {
            NameScope::Local
        } else {
            scope.scope_of(&mangled)
        };
        if let Some(arg) = deref_index(scope, name_scope, &mangled) {
            if unit.kind == ScopeKind::Class && name_scope == NameScope::Free {
                if ctx != ExprContext::Load {
                    return Err(Unsupported::Construct("a store to a class free variable"));
                }
                // The class namespace first, then the cell.
                self.addop(op::LOAD_LOCALS, loc);
                return self.addop_i(op::LOAD_FROM_DICT_OR_DEREF, arg, loc);
            }
            let opcode = match ctx {
                ExprContext::Load => op::LOAD_DEREF,
                ExprContext::Store => op::STORE_DEREF,
                _ => op::DELETE_DEREF,
            };
            return self.addop_i(opcode, arg, loc);
        }
        let (opcode, fast, global) = match (name_scope, function || comp_local) {
            (NameScope::Local, true) => (
                match ctx {
                    ExprContext::Load => op::LOAD_FAST,
                    ExprContext::Store => op::STORE_FAST,
                    _ => op::DELETE_FAST,
                },
                true,
                false,
            ),
            (NameScope::GlobalExplicit, _) | (NameScope::GlobalImplicit, true) => (
                match ctx {
                    ExprContext::Load => op::LOAD_GLOBAL,
                    ExprContext::Store => op::STORE_GLOBAL,
                    _ => op::DELETE_GLOBAL,
                },
                false,
                true,
            ),
            _ => (
                match ctx {
                    ExprContext::Load => op::LOAD_NAME,
                    ExprContext::Store => op::STORE_NAME,
                    _ => op::DELETE_NAME,
                },
                false,
                false,
            ),
        };
        let mut arg = if fast {
            self.u().varnames.add(&mangled) as usize
        } else {
            self.u().names.add(&mangled) as usize
        };
        if global && opcode == op::LOAD_GLOBAL {
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
                match &y.value {
                    Some(value) => self.expr(value)?,
                    None => self.load_const(Const::None, loc)?,
                }
                self.addop_i(op::YIELD_VALUE, 0, loc)?;
                self.addop_i(op::RESUME, 1, loc)
            }
            Expr::FString(fstring) => self.joined_str(fstring, loc),
            Expr::ListComp(comp) => self.comprehension(
                std::ptr::from_ref(comp) as usize,
                Comp::List,
                &comp.generators,
                &comp.elt,
                None,
                loc,
            ),
            Expr::SetComp(comp) => self.comprehension(
                std::ptr::from_ref(comp) as usize,
                Comp::Set,
                &comp.generators,
                &comp.elt,
                None,
                loc,
            ),
            Expr::DictComp(comp) => {
                let key = comp.key.as_deref().ok_or(Unsupported::Parse(
                    "a dict comprehension without a key".into(),
                ))?;
                self.comprehension(
                    std::ptr::from_ref(comp) as usize,
                    Comp::Dict,
                    &comp.generators,
                    key,
                    Some(&comp.value),
                    loc,
                )
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

    /// `compiler_comprehension` for the comprehensions 3.12 inlines (PEP 709), with
    /// `push_inlined_comprehension_state` and `pop_inlined_comprehension_state`.
    #[allow(clippy::too_many_arguments)]
    fn comprehension(
        &mut self,
        node: usize,
        kind: Comp,
        generators: &[ast::Comprehension],
        elt: &Expr,
        value: Option<&Expr>,
        loc: Loc,
    ) -> R {
        let locals: Vec<String> = self
            .symtable
            .comp_locals(node)
            .ok_or(Unsupported::Construct(
                "a comprehension without a symbol table",
            ))?
            .to_vec();
        self.iter_expr(&generators[0].iter)?;
        self.addop(op::GET_ITER, loc);
        let function = self.ur().kind == ScopeKind::Function;
        for name in &locals {
            if !function && !self.ur().fast_hidden.contains(name) {
                self.u().fast_hidden.push(name.clone());
            }
            let arg = self.u().varnames.add(name) as usize;
            self.addop_i(op::LOAD_FAST_AND_CLEAR, arg, loc)?;
        }
        self.u().comp_locals.push(locals.clone());
        let mut labels = None;
        if !locals.is_empty() {
            self.addop_i(op::SWAP, locals.len() + 1, loc)?;
            let cleanup = self.new_label();
            let end = self.new_label();
            self.addop_j(op::SETUP_FINALLY, cleanup, loc);
            labels = Some((cleanup, end));
        }
        let build = match kind {
            Comp::List => op::BUILD_LIST,
            Comp::Set => op::BUILD_SET,
            Comp::Dict => op::BUILD_MAP,
        };
        self.addop_i(build, 0, loc)?;
        self.addop_i(op::SWAP, 2, loc)?;
        self.comprehension_generator(generators, 0, 0, elt, value, kind, true, loc)?;
        self.u().comp_locals.pop();
        if let Some((cleanup, end)) = labels {
            self.addop(op::POP_BLOCK, NO_LOC);
            self.addop_j(op::JUMP, end, NO_LOC);
            self.use_label(cleanup);
            self.addop_i(op::SWAP, 2, NO_LOC)?;
            self.addop(op::POP_TOP, NO_LOC);
            self.restore_comprehension_locals(&locals, loc)?;
            self.addop_i(op::RERAISE, 0, NO_LOC)?;
            self.use_label(end);
            self.restore_comprehension_locals(&locals, loc)?;
        }
        Ok(())
    }

    /// `compiler_comprehension` for a generator expression: its own code object.
    fn genexp(&mut self, genexp: &ast::ExprGenerator) -> R {
        let range = if genexp.parenthesized {
            genexp.range
        } else {
            // The sole argument of a call: CPython's node takes the call's parentheses.
            let before = self.text[..usize::from(genexp.range.start())].trim_end();
            let after = self.text[usize::from(genexp.range.end())..].trim_start();
            if !before.ends_with('(') || !after.starts_with(')') {
                return Err(Unsupported::Construct(
                    "a generator expression without its parentheses",
                ));
            }
            let start = TextSize::from((before.len() - 1) as u32);
            let end = TextSize::from((self.text.len() - after.len() + 1) as u32);
            TextRange::new(start, end)
        };
        let loc = self.loc(range);
        let scope = self
            .symtable
            .scope_for(std::ptr::from_ref(genexp) as usize)
            .ok_or(Unsupported::Construct(
                "a generator expression without a scope",
            ))?;
        self.enter_scope("<genexpr>", ScopeKind::Function, scope, loc.line)?;
        self.u().argcount = 1;
        self.genexp_generator(&genexp.generators, 0, &genexp.elt, loc)?;
        self.wrap_in_stopiteration_handler()?;
        let code = self.exit_scope(true)?;
        self.make_closure(code, 0, loc)?;
        self.iter_expr(&genexp.generators[0].iter)?;
        self.addop(op::GET_ITER, loc);
        self.addop_i(op::CALL, 0, loc)
    }

    /// `compiler_sync_comprehension_generator` for a generator expression.
    fn genexp_generator(
        &mut self,
        generators: &[ast::Comprehension],
        index: usize,
        elt: &Expr,
        loc: Loc,
    ) -> R {
        let mut start = Some(self.new_label());
        let if_cleanup = self.new_label();
        let anchor = self.new_label();
        let generator = &generators[index];
        if index == 0 {
            self.addop_i(op::LOAD_FAST, 0, loc)?;
        } else {
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
                    start = None;
                }
            }
            if start.is_some() {
                self.iter_expr(&generator.iter)?;
                self.addop(op::GET_ITER, loc);
            }
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
            self.addop_i(op::YIELD_VALUE, 0, elt_loc)?;
            self.addop_i(op::RESUME, 1, elt_loc)?;
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
            let arg = self.u().varnames.add(name) as usize;
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
        let mut start = Some(self.new_label());
        let if_cleanup = self.new_label();
        let anchor = self.new_label();
        let generator = &generators[index];
        if !iter_on_stack {
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
                    start = None;
                }
            }
            if start.is_some() {
                self.iter_expr(&generator.iter)?;
                self.addop(op::GET_ITER, loc);
            }
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
        let scope = &self.symtable.scopes[unit.scope];
        if unit.kind != ScopeKind::Function && unit.kind != ScopeKind::Class {
            // Module: `super` is a module symbol there.
            return Ok(false);
        }
        if unit
            .comp_locals
            .iter()
            .any(|names| names.iter().any(|n| n == "super"))
        {
            return Ok(false);
        }
        let super_scope = match unit.kind {
            ScopeKind::Function => scope.scope_of("super"),
            _ => {
                if scope.scope_of("super") == NameScope::GlobalImplicit
                    && !scope_binds(scope, "super")
                {
                    NameScope::GlobalImplicit
                } else {
                    NameScope::Local
                }
            }
        };
        if super_scope != NameScope::GlobalImplicit || self.symtable.module_mentions("super") {
            return Ok(false);
        }
        let args = &call.arguments.args;
        if args.len() == 2 {
            return Ok(!args.iter().any(Expr::is_starred_expr));
        }
        if !args.is_empty() {
            return Ok(false);
        }
        if unit.argcount == 0 && unit.posonlyargcount == 0 {
            return Ok(false);
        }
        Ok(scope.scope_of("__class__") == NameScope::Free)
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
            Expr::Name(name) => self.symtable.scopes[0].imports.contains(name.id.as_str()),
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

fn scope_binds(scope: &super::symtable::Scope, name: &str) -> bool {
    scope.scope_of(name) != NameScope::GlobalImplicit
}

/// The cell or free-variable index (`u_cellvars`, then `u_freevars` after the cells) of a
/// name the scope reads through a cell.
fn deref_index(scope: &super::symtable::Scope, name_scope: NameScope, name: &str) -> Option<usize> {
    match name_scope {
        NameScope::Cell => scope.cells.iter().position(|n| n == name),
        NameScope::Free => scope
            .frees
            .iter()
            .position(|n| n == name)
            .map(|i| i + scope.cells.len()),
        _ => None,
    }
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
