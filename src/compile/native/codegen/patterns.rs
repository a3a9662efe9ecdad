//! PEP 634 structural pattern matching, after `compile.c`'s `compiler_match` and its
//! `compiler_pattern_*` / `pattern_helper_*` routines (3.12). Every pattern routine consumes
//! the subject on top of the stack and jumps to a `fail_pop` label on failure; names are
//! captured underneath what is still in use and stored only once the whole pattern matched.
//! Whatever CPython rejects here with a `SyntaxError` is [`Unsupported`]: CPython reports it.

use super::{Compiler, Loc, NO_LOC, R, binop_arg};
use crate::compile::native::Unsupported;
use crate::compile::native::code::Const;
use crate::compile::native::opcode312 as op;
use ruff_python_ast::{self as ast, CmpOp, ExprContext, Operator, Pattern};
use ruff_text_size::Ranged;

/// `pattern_context`.
#[derive(Default)]
pub(super) struct PatternContext {
    /// The names captured so far, in the order their values sit on the stack.
    stores: Vec<String>,
    /// Whether an irrefutable pattern is allowed here.
    allow_irrefutable: bool,
    /// `fail_pop[n]` pops `n` items and fails.
    fail_pop: Vec<i32>,
    /// How many items on top of the stack the patterns still use.
    on_top: usize,
}

/// `WILDCARD_CHECK`: `_`.
fn is_wildcard(pattern: &Pattern) -> bool {
    matches!(pattern, Pattern::MatchAs(p) if p.pattern.is_none() && p.name.is_none())
}

/// `WILDCARD_STAR_CHECK`: `*_`.
fn is_star_wildcard(pattern: &Pattern) -> bool {
    matches!(pattern, Pattern::MatchStar(p) if p.name.is_none())
}

/// Whether two mapping-pattern keys are one to a set (`1`, `1.0` and `True` are).
/// Unsure cases count as equal: CPython would reject the pattern.
fn same_key(a: &Const, b: &Const) -> bool {
    fn numeric(c: &Const) -> Option<(f64, f64)> {
        match c {
            Const::Bool(b) => Some((f64::from(u8::from(*b)), 0.0)),
            Const::Int(i) => Some((*i as f64, 0.0)),
            Const::Float(f) => Some((*f, 0.0)),
            Const::Complex(re, im) => Some((*re, *im)),
            _ => None,
        }
    }
    match (a, b) {
        (Const::Int(x), Const::Int(y)) => x == y,
        (Const::Int(x), Const::Bool(y)) | (Const::Bool(y), Const::Int(x)) => *x == i128::from(*y),
        (Const::Str(x), Const::Str(y)) => x == y,
        (Const::Bytes(x), Const::Bytes(y)) => x == y,
        (Const::None, Const::None) | (Const::Ellipsis, Const::Ellipsis) => true,
        _ => match (numeric(a), numeric(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

impl<'a> Compiler<'a> {
    /// `compiler_match`.
    pub(super) fn match_(&mut self, stmt: &'a ast::StmtMatch) -> R {
        self.expr(&stmt.subject)?;
        let end = self.new_label();
        let cases = stmt.cases.len();
        let Some(last) = stmt.cases.last() else {
            return Err(Unsupported::Construct("a match without cases"));
        };
        let has_default = usize::from(is_wildcard(&last.pattern) && cases > 1);
        let mut pc = PatternContext::default();
        for (i, case) in stmt.cases[..cases - has_default].iter().enumerate() {
            let loc = self.loc(case.pattern.range());
            // Only copy the subject if we're not on the last case.
            let last_tested = i == cases - has_default - 1;
            if !last_tested {
                self.addop_i(op::COPY, 1, loc)?;
            }
            pc.stores = Vec::new();
            // Irrefutable cases must be either guarded, last, or both.
            pc.allow_irrefutable = case.guard.is_some() || i == cases - 1;
            pc.fail_pop = Vec::new();
            pc.on_top = 0;
            self.pattern(&case.pattern, &mut pc)?;
            // A match: store the captured names (on the stack).
            for name in std::mem::take(&mut pc.stores) {
                self.nameop(&name, ExprContext::Store, loc)?;
            }
            if let Some(guard) = &case.guard {
                self.ensure_fail_pop(&mut pc, 0);
                self.jump_if(guard, pc.fail_pop[0], false)?;
            }
            if !last_tested {
                self.addop(op::POP_TOP, loc);
            }
            self.stmts(&case.body)?;
            self.addop_j(op::JUMP, end, NO_LOC);
            // A failed pattern's cleanup has the pattern's line, not the body's.
            self.emit_and_reset_fail_pop(&mut pc, loc);
        }
        if has_default == 1 {
            // A trailing `case _`: line coverage only, no subject left to pop.
            let loc = self.loc(last.pattern.range());
            self.addop(op::NOP, loc);
            if let Some(guard) = &last.guard {
                self.jump_if(guard, end, false)?;
            }
            self.stmts(&last.body)?;
        }
        self.use_label(end);
        Ok(())
    }

    /// `ensure_fail_pop`: labels to pop up to `n` items.
    fn ensure_fail_pop(&mut self, pc: &mut PatternContext, n: usize) {
        while pc.fail_pop.len() < n + 1 {
            let label = self.new_label();
            pc.fail_pop.push(label);
        }
    }

    /// `jump_to_fail_pop`: pop what is on top and the captures so far, and fail.
    fn jump_to_fail_pop(&mut self, loc: Loc, pc: &mut PatternContext, opcode: u16) {
        let pops = pc.on_top + pc.stores.len();
        self.ensure_fail_pop(pc, pops);
        self.addop_j(opcode, pc.fail_pop[pops], loc);
    }

    /// `emit_and_reset_fail_pop`: the POP_TOP ladder the failures jump into.
    fn emit_and_reset_fail_pop(&mut self, pc: &mut PatternContext, loc: Loc) {
        let labels = std::mem::take(&mut pc.fail_pop);
        let Some((&first, rest)) = labels.split_first() else {
            return;
        };
        for &label in rest.iter().rev() {
            self.use_label(label);
            self.addop(op::POP_TOP, loc);
        }
        self.use_label(first);
    }

    /// `pattern_helper_rotate`: 3.10's ROT_N as SWAPs.
    fn pattern_rotate(&mut self, loc: Loc, count: usize) -> R {
        let mut count = count;
        while count > 1 {
            self.addop_i(op::SWAP, count, loc)?;
            count -= 1;
        }
        Ok(())
    }

    /// `pattern_helper_store_name`: the value goes underneath what is still in use.
    fn pattern_store_name(
        &mut self,
        loc: Loc,
        name: Option<&ast::Identifier>,
        pc: &mut PatternContext,
    ) -> R {
        let Some(name) = name else {
            self.addop(op::POP_TOP, loc);
            return Ok(());
        };
        let name = name.as_str();
        if name == "__debug__" {
            return Err(Unsupported::Construct("assignment to __debug__"));
        }
        if pc.stores.iter().any(|n| n == name) {
            // CPython: multiple assignments to a name in a pattern.
            return Err(Unsupported::Construct("a name bound twice in a pattern"));
        }
        let rotations = pc.on_top + pc.stores.len() + 1;
        self.pattern_rotate(loc, rotations)?;
        pc.stores.push(name.to_owned());
        Ok(())
    }

    /// `pattern_unpack_helper`.
    fn pattern_unpack(&mut self, loc: Loc, patterns: &[Pattern]) -> R {
        let n = patterns.len();
        let mut seen_star = false;
        for (i, pattern) in patterns.iter().enumerate() {
            if let Pattern::MatchStar(_) = pattern {
                if seen_star {
                    return Err(Unsupported::Construct("two starred names in a pattern"));
                }
                if i >= 1 << 8 {
                    return Err(Unsupported::Construct(
                        "too many expressions in star-unpacking sequence pattern",
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

    /// `pattern_helper_sequence_unpack`.
    fn pattern_sequence_unpack(
        &mut self,
        loc: Loc,
        patterns: &[Pattern],
        pc: &mut PatternContext,
    ) -> R {
        self.pattern_unpack(loc, patterns)?;
        // The new subjects stay on the stack after each subpattern.
        pc.on_top += patterns.len();
        for pattern in patterns {
            pc.on_top -= 1;
            self.pattern_subpattern(pattern, pc)?;
        }
        Ok(())
    }

    /// `pattern_helper_sequence_subscr`: `[first, *_, last]` by index, without unpacking.
    fn pattern_sequence_subscr(
        &mut self,
        loc: Loc,
        patterns: &[Pattern],
        star: usize,
        pc: &mut PatternContext,
    ) -> R {
        // The subject stays around to take elements from.
        pc.on_top += 1;
        let size = patterns.len();
        for (i, pattern) in patterns.iter().enumerate() {
            if is_wildcard(pattern) || i == star {
                continue;
            }
            self.addop_i(op::COPY, 1, loc)?;
            if i < star {
                self.load_const(Const::Int(i as i128), loc)?;
            } else {
                // The subject may not support negative indexing.
                self.addop(op::GET_LEN, loc);
                self.load_const(Const::Int((size - i) as i128), loc)?;
                self.addop_i(op::BINARY_OP, binop_arg(Operator::Sub), loc)?;
            }
            self.addop(op::BINARY_SUBSCR, loc);
            self.pattern_subpattern(pattern, pc)?;
        }
        pc.on_top -= 1;
        self.addop(op::POP_TOP, loc);
        Ok(())
    }

    /// `compiler_pattern_subpattern`: irrefutable patterns allowed.
    fn pattern_subpattern(&mut self, pattern: &Pattern, pc: &mut PatternContext) -> R {
        let allow_irrefutable = pc.allow_irrefutable;
        pc.allow_irrefutable = true;
        self.pattern(pattern, pc)?;
        pc.allow_irrefutable = allow_irrefutable;
        Ok(())
    }

    /// `compiler_pattern`.
    fn pattern(&mut self, pattern: &Pattern, pc: &mut PatternContext) -> R {
        let loc = self.loc(pattern.range());
        match pattern {
            Pattern::MatchValue(p) => {
                // Only literals (after folding) and attribute lookups.
                if !p.value.is_attribute_expr() && self.folder.constant(&p.value)?.is_none() {
                    return Err(Unsupported::Construct("a pattern value CPython rejects"));
                }
                self.expr(&p.value)?;
                self.addcompare(CmpOp::Eq, loc)?;
                self.jump_to_fail_pop(loc, pc, op::POP_JUMP_IF_FALSE);
                Ok(())
            }
            Pattern::MatchSingleton(p) => {
                let value = match p.value {
                    ast::Singleton::None => Const::None,
                    ast::Singleton::True => Const::Bool(true),
                    ast::Singleton::False => Const::Bool(false),
                };
                self.load_const(value, loc)?;
                self.addcompare(CmpOp::Is, loc)?;
                self.jump_to_fail_pop(loc, pc, op::POP_JUMP_IF_FALSE);
                Ok(())
            }
            Pattern::MatchSequence(p) => self.pattern_sequence(&p.patterns, loc, pc),
            Pattern::MatchMapping(p) => self.pattern_mapping(p, loc, pc),
            Pattern::MatchClass(p) => self.pattern_class(p, loc, pc),
            Pattern::MatchStar(p) => self.pattern_store_name(loc, p.name.as_ref(), pc),
            Pattern::MatchAs(p) => {
                let Some(inner) = &p.pattern else {
                    if !pc.allow_irrefutable {
                        // CPython: the pattern makes remaining patterns unreachable.
                        return Err(Unsupported::Construct(
                            "an irrefutable pattern before others",
                        ));
                    }
                    return self.pattern_store_name(loc, p.name.as_ref(), pc);
                };
                // A copy to store if the pattern matches.
                pc.on_top += 1;
                self.addop_i(op::COPY, 1, loc)?;
                self.pattern(inner, pc)?;
                pc.on_top -= 1;
                self.pattern_store_name(loc, p.name.as_ref(), pc)
            }
            Pattern::MatchOr(p) => self.pattern_or(p, loc, pc),
        }
    }

    /// `compiler_pattern_sequence`.
    fn pattern_sequence(&mut self, patterns: &[Pattern], loc: Loc, pc: &mut PatternContext) -> R {
        let size = patterns.len();
        let mut star = None;
        let mut only_wildcard = true;
        let mut star_wildcard = false;
        for (i, pattern) in patterns.iter().enumerate() {
            if let Pattern::MatchStar(_) = pattern {
                if star.is_some() {
                    return Err(Unsupported::Construct("two starred names in a pattern"));
                }
                star_wildcard = is_star_wildcard(pattern);
                only_wildcard &= star_wildcard;
                star = Some(i);
                continue;
            }
            only_wildcard &= is_wildcard(pattern);
        }
        // The subject stays on top during the sequence and length checks.
        pc.on_top += 1;
        self.addop(op::MATCH_SEQUENCE, loc);
        self.jump_to_fail_pop(loc, pc, op::POP_JUMP_IF_FALSE);
        match star {
            None => {
                self.addop(op::GET_LEN, loc);
                self.load_const(Const::Int(size as i128), loc)?;
                self.addcompare(CmpOp::Eq, loc)?;
                self.jump_to_fail_pop(loc, pc, op::POP_JUMP_IF_FALSE);
            }
            Some(_) if size > 1 => {
                self.addop(op::GET_LEN, loc);
                self.load_const(Const::Int(size as i128 - 1), loc)?;
                self.addcompare(CmpOp::GtE, loc)?;
                self.jump_to_fail_pop(loc, pc, op::POP_JUMP_IF_FALSE);
            }
            Some(_) => {}
        }
        pc.on_top -= 1;
        if only_wildcard {
            self.addop(op::POP_TOP, loc);
            Ok(())
        } else if let (true, Some(star)) = (star_wildcard, star) {
            self.pattern_sequence_subscr(loc, patterns, star, pc)
        } else {
            self.pattern_sequence_unpack(loc, patterns, pc)
        }
    }

    /// `compiler_pattern_class`.
    fn pattern_class(
        &mut self,
        p: &ast::PatternMatchClass,
        loc: Loc,
        pc: &mut PatternContext,
    ) -> R {
        let patterns = &p.arguments.patterns;
        let keywords = &p.arguments.keywords;
        let nargs = patterns.len();
        let nattrs = keywords.len();
        // validate_kwd_attrs
        for (i, keyword) in keywords.iter().enumerate() {
            let attr = keyword.attr.as_str();
            if attr == "__debug__" || keywords[i + 1..].iter().any(|k| k.attr.as_str() == attr) {
                return Err(Unsupported::Construct("a class pattern CPython rejects"));
            }
        }
        self.expr(&p.cls)?;
        let names = keywords
            .iter()
            .map(|k| Const::Str(k.attr.to_string()))
            .collect();
        self.load_const(Const::Tuple(names), loc)?;
        self.addop_i(op::MATCH_CLASS, nargs, loc)?;
        self.addop_i(op::COPY, 1, loc)?;
        self.load_const(Const::None, loc)?;
        self.addop_i(op::IS_OP, 1, loc)?;
        // A tuple of the attributes (or None) on top.
        pc.on_top += 1;
        self.jump_to_fail_pop(loc, pc, op::POP_JUMP_IF_FALSE);
        self.addop_i(op::UNPACK_SEQUENCE, nargs + nattrs, loc)?;
        pc.on_top += nargs + nattrs;
        pc.on_top -= 1;
        let all = patterns.iter().chain(keywords.iter().map(|k| &k.pattern));
        for pattern in all {
            pc.on_top -= 1;
            if is_wildcard(pattern) {
                self.addop(op::POP_TOP, loc);
                continue;
            }
            self.pattern_subpattern(pattern, pc)?;
        }
        Ok(())
    }

    /// `compiler_pattern_mapping`.
    fn pattern_mapping(
        &mut self,
        p: &ast::PatternMatchMapping,
        loc: Loc,
        pc: &mut PatternContext,
    ) -> R {
        let keys = &p.keys;
        let size = keys.len();
        if size != p.patterns.len() {
            return Err(Unsupported::Construct("a malformed mapping pattern"));
        }
        // The subject stays on top during the mapping and length checks.
        pc.on_top += 1;
        self.addop(op::MATCH_MAPPING, loc);
        self.jump_to_fail_pop(loc, pc, op::POP_JUMP_IF_FALSE);
        if size == 0 && p.rest.is_none() {
            // `{}`: done, pop the subject.
            pc.on_top -= 1;
            self.addop(op::POP_TOP, loc);
            return Ok(());
        }
        if size > 0 {
            self.addop(op::GET_LEN, loc);
            self.load_const(Const::Int(size as i128), loc)?;
            self.addcompare(CmpOp::GtE, loc)?;
            self.jump_to_fail_pop(loc, pc, op::POP_JUMP_IF_FALSE);
        }
        // The keys into a tuple for MATCH_KEYS: literals (no duplicates) or attributes.
        let mut seen: Vec<Const> = Vec::new();
        for key in keys {
            match self.folder.constant(key)? {
                Some(value) => {
                    if seen.iter().any(|s| same_key(s, &value)) {
                        return Err(Unsupported::Construct(
                            "a mapping pattern with a duplicate key",
                        ));
                    }
                    seen.push(value);
                }
                None if key.is_attribute_expr() => {}
                None => {
                    return Err(Unsupported::Construct(
                        "a mapping pattern key CPython rejects",
                    ));
                }
            }
            self.expr(key)?;
        }
        self.addop_i(op::BUILD_TUPLE, size, loc)?;
        self.addop(op::MATCH_KEYS, loc);
        // A tuple of keys and a tuple of values on top of the subject.
        pc.on_top += 2;
        self.addop_i(op::COPY, 1, loc)?;
        self.load_const(Const::None, loc)?;
        self.addop_i(op::IS_OP, 1, loc)?;
        self.jump_to_fail_pop(loc, pc, op::POP_JUMP_IF_FALSE);
        self.addop_i(op::UNPACK_SEQUENCE, size, loc)?;
        pc.on_top += size;
        pc.on_top -= 1;
        for pattern in &p.patterns {
            pc.on_top -= 1;
            self.pattern_subpattern(pattern, pc)?;
        }
        // A match: what follows consumes the keys and the subject.
        pc.on_top -= 2;
        if let Some(rest) = &p.rest {
            // rest = dict(subject); del rest[key] for each key.
            self.addop_i(op::BUILD_MAP, 0, loc)?;
            self.addop_i(op::SWAP, 3, loc)?;
            self.addop_i(op::DICT_UPDATE, 2, loc)?;
            self.addop_i(op::UNPACK_SEQUENCE, size, loc)?;
            let mut remaining = size;
            while remaining > 0 {
                self.addop_i(op::COPY, 1 + remaining, loc)?;
                remaining -= 1;
                self.addop_i(op::SWAP, 2, loc)?;
                self.addop(op::DELETE_SUBSCR, loc);
            }
            self.pattern_store_name(loc, Some(rest), pc)
        } else {
            self.addop(op::POP_TOP, loc);
            self.addop(op::POP_TOP, loc);
            Ok(())
        }
    }

    /// `compiler_pattern_or`: each alternative on a copy of the subject, its captures
    /// reordered as the first alternative's.
    fn pattern_or(&mut self, p: &ast::PatternMatchOr, loc: Loc, pc: &mut PatternContext) -> R {
        let end = self.new_label();
        let size = p.patterns.len();
        let old = PatternContext {
            stores: std::mem::take(&mut pc.stores),
            allow_irrefutable: pc.allow_irrefutable,
            fail_pop: std::mem::take(&mut pc.fail_pop),
            on_top: pc.on_top,
        };
        let mut control: Option<Vec<String>> = None;
        for (i, alt) in p.patterns.iter().enumerate() {
            let alt_loc = self.loc(alt.range());
            pc.stores = Vec::new();
            // An irrefutable alternative must be last, if allowed at all.
            pc.allow_irrefutable = i == size - 1 && old.allow_irrefutable;
            pc.fail_pop = Vec::new();
            pc.on_top = 0;
            self.addop_i(op::COPY, 1, alt_loc)?;
            self.pattern(alt, pc)?;
            let nstores = pc.stores.len();
            match &control {
                None => control = Some(pc.stores.clone()),
                Some(control) if control.len() != nstores => {
                    return Err(Unsupported::Construct(
                        "alternative patterns that bind different names",
                    ));
                }
                Some(control) => {
                    for icontrol in (0..nstores).rev() {
                        let name = &control[icontrol];
                        let Some(istores) = pc.stores.iter().position(|n| n == name) else {
                            return Err(Unsupported::Construct(
                                "alternative patterns that bind different names",
                            ));
                        };
                        if icontrol != istores {
                            // Reorder the stack (and the names) to the control's order.
                            let rotations = istores + 1;
                            let rotated: Vec<String> = pc.stores.drain(..rotations).collect();
                            let at = icontrol - istores;
                            pc.stores.splice(at..at, rotated);
                            for _ in 0..rotations {
                                self.pattern_rotate(alt_loc, icontrol + 1)?;
                            }
                        }
                    }
                }
            }
            self.addop_j(op::JUMP, end, alt_loc);
            self.emit_and_reset_fail_pop(pc, alt_loc);
        }
        *pc = old;
        let control = control.unwrap_or_default();
        // No match: pop the remaining copy of the subject and fail.
        self.addop(op::POP_TOP, loc);
        self.jump_to_fail_pop(loc, pc, op::JUMP);
        self.use_label(end);
        let nstores = control.len();
        // Between the new captures and their place: the other captures, the subject's copy,
        // what is on top, and the earlier captures.
        let nrots = nstores + 1 + pc.on_top + pc.stores.len();
        for name in control {
            self.pattern_rotate(loc, nrots)?;
            if pc.stores.contains(&name) {
                return Err(Unsupported::Construct("a name bound twice in a pattern"));
            }
            pc.stores.push(name);
        }
        // Pop the copy of the subject.
        self.addop(op::POP_TOP, loc);
        Ok(())
    }
}
