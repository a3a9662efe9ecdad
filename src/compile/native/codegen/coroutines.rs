//! Generators and coroutines in `compile.c`: `yield from`, `await`, `async for`, `async with`
//! and async comprehensions, all built on `compiler_add_yield_from`. CPython's compile-time
//! errors here (an `await` outside an async function, ...) are [`Unsupported`]: CPython then
//! reports them.

use super::{Comp, Compiler, FBlock, INTRINSIC_ASYNC_GEN_WRAP, R, ScopeKind};
use crate::compile::native::Unsupported;
use crate::compile::native::code::Const;
use crate::compile::native::flowgraph::{Loc, NO_LOC};
use crate::compile::native::opcode312 as op;
use ruff_python_ast::{self as ast, Expr};
use ruff_text_size::{Ranged, TextSize};

/// `compiler_async_comprehension_generator`'s `type`: a comprehension and its dict value, or
/// a generator expression (`None`).
pub(super) type CompKind<'e> = Option<(Comp, Option<&'e Expr>)>;

impl<'a> Compiler<'a> {
    /// `compiler_add_yield_from` (`ADD_YIELD_FROM`): delegate to the awaitable or iterator
    /// under the sent value, with the virtual try/except that `CLEANUP_THROW` ends.
    pub(super) fn add_yield_from(&mut self, loc: Loc, is_await: bool) -> R {
        let send = self.new_label();
        let fail = self.new_label();
        let exit = self.new_label();
        self.use_label(send);
        self.addop_j(op::SEND, exit, loc);
        self.addop_j(op::SETUP_FINALLY, fail, loc);
        self.addop_i(op::YIELD_VALUE, 0, loc)?;
        self.addop(op::POP_BLOCK, NO_LOC);
        self.addop_i(op::RESUME, if is_await { 3 } else { 2 }, loc)?;
        self.addop_j(op::JUMP_NO_INTERRUPT, send, loc);
        self.use_label(fail);
        self.addop(op::CLEANUP_THROW, loc);
        self.use_label(exit);
        self.addop(op::END_SEND, loc);
        Ok(())
    }

    /// `GET_AWAITABLE where; LOAD_CONST None; ADD_YIELD_FROM(await)`.
    pub(super) fn await_tos(&mut self, where_: usize, loc: Loc) -> R {
        self.addop_i(op::GET_AWAITABLE, where_, loc)?;
        self.load_const(Const::None, loc)?;
        self.add_yield_from(loc, true)
    }

    /// `addop_yield`: an async generator wraps what it yields.
    pub(super) fn addop_yield(&mut self, loc: Loc) -> R {
        let scope = self.table.scope(self.ur().scope);
        if scope.generator && scope.coroutine {
            self.addop_i(op::CALL_INTRINSIC_1, INTRINSIC_ASYNC_GEN_WRAP, loc)?;
        }
        self.addop_i(op::YIELD_VALUE, 0, loc)?;
        self.addop_i(op::RESUME, 1, loc)
    }

    /// CPython's `COMPILER_SCOPE_COMPREHENSION`: here only a generator expression, as 3.12
    /// inlines list, set and dict comprehensions into their scope.
    fn in_genexp(&self) -> bool {
        self.table.scope(self.ur().scope).comprehension.is_some()
    }

    /// Where `await`, `async for` and `async with` are allowed: an `async def` (and, for
    /// `await` and async comprehensions, a generator expression).
    fn in_async_function(&self) -> bool {
        let unit = self.ur();
        unit.kind == ScopeKind::Function && unit.is_async
    }

    /// `YieldFrom_kind` in `compiler_visit_expr1`.
    pub(super) fn yield_from_expr(&mut self, y: &ast::ExprYieldFrom, loc: Loc) -> R {
        if self.ur().kind != ScopeKind::Function {
            return Err(Unsupported::Construct("yield from outside a function"));
        }
        if self.in_async_function() {
            return Err(Unsupported::Construct(
                "yield from inside an async function",
            ));
        }
        self.expr(&y.value)?;
        self.addop(op::GET_YIELD_FROM_ITER, loc);
        self.load_const(Const::None, loc)?;
        self.add_yield_from(loc, false)
    }

    /// `Await_kind` in `compiler_visit_expr1` (no top-level await: `compile()` without the
    /// flag).
    pub(super) fn await_expr(&mut self, a: &ast::ExprAwait, loc: Loc) -> R {
        if !self.in_async_function() && !self.in_genexp() {
            return Err(Unsupported::Construct("await outside an async function"));
        }
        self.expr(&a.value)?;
        self.await_tos(0, loc)
    }

    /// The start of an `async def` statement: its `async` keyword.
    pub(super) fn async_def_start(
        &self,
        def: &ast::StmtFunctionDef,
    ) -> Result<TextSize, Unsupported> {
        let def_start = self.keyword_start(def.name.range().start(), "def")?;
        let before = &self.text[..usize::from(def_start)];
        let trimmed = before.trim_end_matches([' ', '\t']);
        if trimmed.len() == before.len() || !trimmed.ends_with("async") {
            return Err(Unsupported::Construct("a definition split over lines"));
        }
        Ok(TextSize::from((trimmed.len() - "async".len()) as u32))
    }

    /// `compiler_async_for`.
    pub(super) fn async_for(&mut self, stmt: &'a ast::StmtFor, loc: Loc) -> R {
        if !self.in_async_function() {
            return Err(Unsupported::Construct(
                "async for outside an async function",
            ));
        }
        let start = self.new_label();
        let except = self.new_label();
        let end = self.new_label();
        self.expr(&stmt.iter)?;
        self.addop(op::GET_AITER, loc);
        self.use_label(start);
        self.push_fblock(FBlock::For { start, exit: end })?;
        self.addop_j(op::SETUP_FINALLY, except, loc);
        self.addop(op::GET_ANEXT, loc);
        self.load_const(Const::None, loc)?;
        self.add_yield_from(loc, true)?;
        self.addop(op::POP_BLOCK, loc);
        self.expr(&stmt.target)?;
        self.stmts(&stmt.body)?;
        self.addop_j(op::JUMP, start, NO_LOC);
        self.u().fblocks.pop();
        self.use_label(except);
        // END_ASYNC_FOR has the line of the iterator: it ends the `for`, not the body.
        let iter_loc = self.loc(stmt.iter.range());
        self.addop(op::END_ASYNC_FOR, iter_loc);
        self.stmts(&stmt.orelse)?;
        self.use_label(end);
        Ok(())
    }

    /// `compiler_async_with`, one item at a time.
    pub(super) fn async_with(&mut self, stmt: &'a ast::StmtWith, loc: Loc, pos: usize) -> R {
        if !self.in_async_function() {
            return Err(Unsupported::Construct(
                "async with outside an async function",
            ));
        }
        let item = &stmt.items[pos];
        let block = self.new_label();
        let final_ = self.new_label();
        let exit = self.new_label();
        let cleanup = self.new_label();
        self.expr(&item.context_expr)?;
        self.addop(op::BEFORE_ASYNC_WITH, loc);
        self.await_tos(1, loc)?;
        self.addop_j(op::SETUP_WITH, final_, loc);
        self.use_label(block);
        self.push_fblock(FBlock::AsyncWith(loc))?;
        match &item.optional_vars {
            Some(vars) => self.expr(vars)?,
            None => self.addop(op::POP_TOP, loc),
        }
        if pos + 1 == stmt.items.len() {
            self.stmts(&stmt.body)?;
        } else {
            self.async_with(stmt, loc, pos + 1)?;
        }
        self.u().fblocks.pop();
        self.addop(op::POP_BLOCK, loc);
        self.call_exit_with_nones(loc)?;
        self.await_tos(2, loc)?;
        self.addop(op::POP_TOP, loc);
        self.addop_j(op::JUMP, exit, loc);
        self.use_label(final_);
        self.addop_j(op::SETUP_CLEANUP, cleanup, loc);
        self.addop(op::PUSH_EXC_INFO, loc);
        self.addop(op::WITH_EXCEPT_START, loc);
        self.await_tos(2, loc)?;
        self.with_except_finish(cleanup)?;
        self.use_label(exit);
        Ok(())
    }

    /// `compiler_with_except_finish`.
    pub(super) fn with_except_finish(&mut self, cleanup: i32) -> R {
        let suppress = self.new_label();
        self.addop_j(op::POP_JUMP_IF_TRUE, suppress, NO_LOC);
        self.addop_i(op::RERAISE, 2, NO_LOC)?;
        self.use_label(suppress);
        self.addop(op::POP_TOP, NO_LOC);
        self.addop(op::POP_BLOCK, NO_LOC);
        self.addop(op::POP_EXCEPT, NO_LOC);
        self.addop(op::POP_TOP, NO_LOC);
        self.addop(op::POP_TOP, NO_LOC);
        let exit = self.new_label();
        self.addop_j(op::JUMP, exit, NO_LOC);
        self.use_label(cleanup);
        self.pop_except_and_reraise(NO_LOC)?;
        self.use_label(exit);
        Ok(())
    }

    /// `compiler_comprehension_iter`: the outermost iterable, evaluated where the
    /// comprehension is.
    pub(super) fn comprehension_iter(&mut self, generator: &ast::Comprehension, loc: Loc) -> R {
        self.iter_expr(&generator.iter)?;
        let opcode = if generator.is_async {
            op::GET_AITER
        } else {
            op::GET_ITER
        };
        self.addop(opcode, loc);
        Ok(())
    }

    /// `compiler_comprehension`'s "asynchronous comprehension outside of an asynchronous
    /// function", for an inlined comprehension (its own `await`s are checked where they are).
    pub(super) fn check_async_comprehension(&self, generators: &[ast::Comprehension]) -> R {
        if generators.iter().any(|g| g.is_async) && !self.in_async_function() && !self.in_genexp() {
            return Err(Unsupported::Construct(
                "an async comprehension outside an async function",
            ));
        }
        Ok(())
    }

    /// `compiler_async_comprehension_generator`; `kind` is `None` for a generator expression.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn async_comprehension_generator(
        &mut self,
        generators: &[ast::Comprehension],
        index: usize,
        mut depth: usize,
        elt: &Expr,
        kind: CompKind<'_>,
        iter_on_stack: bool,
        loc: Loc,
    ) -> R {
        let start = self.new_label();
        let except = self.new_label();
        let if_cleanup = self.new_label();
        let generator = &generators[index];
        if !iter_on_stack {
            if index == 0 {
                self.addop_i(op::LOAD_FAST, 0, loc)?;
            } else {
                self.iter_expr(&generator.iter)?;
                self.addop(op::GET_AITER, loc);
            }
        }
        self.use_label(start);
        self.push_fblock(FBlock::AsyncComprehensionGenerator)?;
        self.addop_j(op::SETUP_FINALLY, except, loc);
        self.addop(op::GET_ANEXT, loc);
        self.load_const(Const::None, loc)?;
        self.add_yield_from(loc, true)?;
        self.addop(op::POP_BLOCK, loc);
        self.expr(&generator.target)?;
        for cond in &generator.ifs {
            self.jump_if(cond, if_cleanup, false)?;
        }
        depth += 1;
        if index + 1 < generators.len() {
            match kind {
                Some((comp, value)) => self.comprehension_generator(
                    generators,
                    index + 1,
                    depth,
                    elt,
                    value,
                    comp,
                    false,
                    loc,
                )?,
                None => self.genexp_generator(generators, index + 1, elt, loc)?,
            }
        }
        let mut elt_loc = self.loc(elt.range());
        if index + 1 >= generators.len() {
            match kind {
                None => {
                    self.expr(elt)?;
                    self.addop_yield(elt_loc)?;
                    self.addop(op::POP_TOP, elt_loc);
                }
                Some((Comp::List, _)) => {
                    self.expr(elt)?;
                    self.addop_i(op::LIST_APPEND, depth + 1, elt_loc)?;
                }
                Some((Comp::Set, _)) => {
                    self.expr(elt)?;
                    self.addop_i(op::SET_ADD, depth + 1, elt_loc)?;
                }
                Some((Comp::Dict, value)) => {
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
        self.addop_j(op::JUMP, start, elt_loc);
        self.u().fblocks.pop();
        self.use_label(except);
        self.addop(op::END_ASYNC_FOR, loc);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::compile::CodeOptions;
    use crate::compile::native::{Unsupported, compile_312};

    /// What CPython 3.12's compiler rejects about coroutines (its parser accepts all of it,
    /// and so does Ruff's) is never compiled natively: CPython reports it.
    #[test]
    fn misplaced_async_constructs_go_to_cpython() {
        for source in [
            "def f(x):\n    await x\n",
            "def f(x):\n    async for i in x:\n        pass\n",
            "def f(x):\n    async with x:\n        pass\n",
            "async def f(x):\n    yield from x\n",
            "async def f(x):\n    yield 1\n    return 2\n",
            "def f(x):\n    return [i async for i in x]\n",
            "def f(x):\n    return {i: await i for i in x}\n",
            "async def f(x):\n    return lambda: await x\n",
            "async def f(x):\n    lambda: [i async for i in x]\n",
            "async def f(x):\n    def g():\n        return [await i for i in x]\n",
            "await x\n",
            "class C:\n    await x\n",
            "yield from x\n",
            "def f(x):\n    return [(yield from i) for i in x]\n",
            // `symtable_raise_if_annotation_block`.
            "from __future__ import annotations\nasync def f(y):\n    def g(x: await y): pass\n",
            "from __future__ import annotations\nasync def f(y):\n    z: await y = 1\n",
            "from __future__ import annotations\ndef f(y):\n    def g() -> (yield y): pass\n",
        ] {
            let result = compile_312(source.as_bytes(), "t.py", CodeOptions::default());
            assert!(
                matches!(
                    result,
                    Err(Unsupported::Parse(_) | Unsupported::Construct(_))
                ),
                "{source:?} compiled natively"
            );
        }
    }
}
