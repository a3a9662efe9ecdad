//! `try` ... `except*` (PEP 654): `compiler_try_star_except` of `compile.c`.

use super::{Compiler, FBlock, R};
use crate::compile::native::code::Const;
use crate::compile::native::flowgraph::{Loc, NO_LOC};
use crate::compile::native::opcode312 as op;
use ruff_python_ast::{self as ast, ExprContext};
use ruff_text_size::TextRange;

/// `INTRINSIC_PREP_RERAISE_STAR` of `CALL_INTRINSIC_2`.
const INTRINSIC_PREP_RERAISE_STAR: usize = 1;

impl<'a> Compiler<'a> {
    /// `compiler_try_star_except`: each handler takes its part of the group
    /// (`CHECK_EG_MATCH`); what they raise and what none matched is re-raised together.
    pub(super) fn try_star_except(&mut self, stmt: &'a ast::StmtTry, loc: Loc) -> R {
        let body = self.new_label();
        let mut except = self.new_label();
        let orelse = self.new_label();
        let end = self.new_label();
        let cleanup = self.new_label();
        let reraise_star = self.new_label();
        self.addop_j(op::SETUP_FINALLY, except, loc);
        self.use_label(body);
        self.push_fblock(FBlock::TryExcept)?;
        self.stmts(&stmt.body)?;
        self.u().fblocks.pop();
        self.addop(op::POP_BLOCK, NO_LOC);
        self.addop_j(op::JUMP, orelse, NO_LOC);
        let n = stmt.handlers.len();
        self.use_label(except);
        self.addop_j(op::SETUP_CLEANUP, cleanup, NO_LOC);
        self.addop(op::PUSH_EXC_INFO, NO_LOC);
        self.push_fblock(FBlock::ExceptionGroupHandler)?;
        for (i, handler) in stmt.handlers.iter().enumerate() {
            let ast::ExceptHandler::ExceptHandler(handler) = handler;
            let hloc = self.loc(TextRange::new(
                handler.range.start(),
                self.past_semicolon(handler.range.end()),
            ));
            except = self.new_label();
            let except_with_error = self.new_label();
            let no_match = self.new_label();
            if i == 0 {
                // The list of what the handlers raise, and a copy of the group.
                self.addop_i(op::BUILD_LIST, 0, hloc)?;
                self.addop_i(op::COPY, 2, hloc)?;
            }
            if let Some(type_) = &handler.type_ {
                self.expr(type_)?;
                self.addop(op::CHECK_EG_MATCH, hloc);
                self.addop_i(op::COPY, 1, hloc)?;
                self.addop_j(op::POP_JUMP_IF_NONE, no_match, hloc);
            }
            let cleanup_end = self.new_label();
            let cleanup_body = self.new_label();
            match &handler.name {
                Some(name) => self.nameop(name, ExprContext::Store, hloc)?,
                None => self.addop(op::POP_TOP, hloc),
            }
            self.addop_j(op::SETUP_CLEANUP, cleanup_end, hloc);
            self.use_label(cleanup_body);
            let name = handler.name.as_ref().map(|n| n.as_str());
            self.push_fblock(FBlock::HandlerCleanup(name))?;
            self.stmts(&handler.body)?;
            self.u().fblocks.pop();
            self.addop(op::POP_BLOCK, NO_LOC);
            if let Some(name) = name {
                self.clear_name(name)?;
            }
            self.addop_j(op::JUMP, except, NO_LOC);
            self.use_label(cleanup_end);
            if let Some(name) = name {
                self.clear_name(name)?;
            }
            // What the handler raised joins the list; lasti goes.
            self.addop_i(op::LIST_APPEND, 3, NO_LOC)?;
            self.addop(op::POP_TOP, NO_LOC);
            self.addop_j(op::JUMP, except_with_error, NO_LOC);
            self.use_label(except);
            // Holds a propagated location.
            self.addop(op::NOP, NO_LOC);
            self.addop_j(op::JUMP, except_with_error, NO_LOC);
            self.use_label(no_match);
            self.addop(op::POP_TOP, hloc);
            self.use_label(except_with_error);
            if i == n - 1 {
                // The unmatched rest of the group (or None) joins the list.
                self.addop_i(op::LIST_APPEND, 1, NO_LOC)?;
                self.addop_j(op::JUMP, reraise_star, NO_LOC);
            }
        }
        self.u().fblocks.pop();
        let reraise = self.new_label();
        self.use_label(reraise_star);
        self.addop_i(op::CALL_INTRINSIC_2, INTRINSIC_PREP_RERAISE_STAR, NO_LOC)?;
        self.addop_i(op::COPY, 1, NO_LOC)?;
        self.addop_j(op::POP_JUMP_IF_NOT_NONE, reraise, NO_LOC);
        // Nothing to re-raise.
        self.addop(op::POP_TOP, NO_LOC);
        self.addop(op::POP_BLOCK, NO_LOC);
        self.addop(op::POP_EXCEPT, NO_LOC);
        self.addop_j(op::JUMP, end, NO_LOC);
        self.use_label(reraise);
        self.addop(op::POP_BLOCK, NO_LOC);
        self.addop_i(op::SWAP, 2, NO_LOC)?;
        self.addop(op::POP_EXCEPT, NO_LOC);
        self.addop_i(op::RERAISE, 0, NO_LOC)?;
        self.use_label(cleanup);
        self.pop_except_and_reraise(NO_LOC)?;
        self.use_label(orelse);
        self.stmts(&stmt.orelse)?;
        self.use_label(end);
        Ok(())
    }

    /// `name = None; del name`, artificial: the end of an `except* ... as name` handler.
    fn clear_name(&mut self, name: &str) -> R {
        self.load_const(Const::None, NO_LOC)?;
        self.nameop(name, ExprContext::Store, NO_LOC)?;
        self.nameop(name, ExprContext::Del, NO_LOC)
    }
}

#[cfg(test)]
mod tests {
    use crate::compile::CodeOptions;
    use crate::compile::native::{Unsupported, compile_312};

    /// `break`, `continue` and `return` leaving an `except*` handler are CPython's syntax
    /// errors (its compiler's, not its parser's): never compiled natively.
    #[test]
    fn leaving_an_except_star_handler_goes_to_cpython() {
        let handler = |body: &str| {
            format!(
                "def f(y):\n    for x in y:\n        try:\n            pass\n        except* ValueError:\n{body}"
            )
        };
        for body in [
            "            return 1\n",
            "            break\n",
            "            try:\n                pass\n            finally:\n                continue\n",
        ] {
            let source = handler(body);
            let result = compile_312(source.as_bytes(), "t.py", CodeOptions::default());
            assert!(
                matches!(result, Err(Unsupported::Construct(_))),
                "{source:?} compiled natively"
            );
        }
        // A loop inside the handler is left as any loop is.
        let source = handler("            for z in y:\n                break\n");
        assert!(compile_312(source.as_bytes(), "t.py", CodeOptions::default()).is_ok());
    }
}
