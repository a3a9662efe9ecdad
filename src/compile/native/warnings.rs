//! Which modules CPython 3.12 may warn about while compiling them: takes a module the native
//! side parsed (text, tokens, tree); gives the first construct found that may warn. The native
//! compiler gives no warnings, so such a module goes to the CPython worker, which compiles it
//! and reports them (SPEC §9: warnings are printed).
//!
//! Conservative by design: anything that may fold into a construct CPython warns about counts
//! (a fallback too many costs one module's speed; one too few loses a warning). What 3.12
//! warns about at compile time:
//! - `string_parser.c`: an invalid escape sequence in a str or bytes literal (f-strings
//!   included), an octal escape above `\377`;
//! - the tokenizer's `verify_end_of_number`: a number followed at once by a keyword
//!   (`1if x else 2`);
//! - `compile.c`: `is`/`is not` with a literal (`check_compare`), `assert` on a non-empty
//!   tuple (`compiler_assert`), calling a literal (`check_caller`), subscripting one that
//!   cannot be (`check_subscripter`) or indexing a sequence literal with a non-integer literal
//!   (`check_index`), all after the AST optimizer folded constants.

use ruff_python_ast::token::{TokenKind, Tokens};
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, CmpOp, Expr, Number, Operator, Stmt, StringFlags as _};

/// What a module that CPython 3.12 may warn about is counted under when it falls back.
pub(crate) const WOULD_WARN: &str = "code CPython 3.12 warns about at compile time";

/// The first construct in the module that CPython 3.12 may warn about, if any: a short name
/// of it.
pub(crate) fn may_warn(
    text: &str,
    tokens: &Tokens,
    module: &ast::ModModule,
) -> Option<&'static str> {
    if let Some(what) = tokens_may_warn(text, tokens) {
        return Some(what);
    }
    let mut finder = Finder { found: None };
    finder.visit_body(&module.body);
    finder.found
}

fn tokens_may_warn(text: &str, tokens: &Tokens) -> Option<&'static str> {
    // Where the number token just before ends, if the previous token is one.
    let mut number_end = None;
    for token in tokens {
        let (kind, range) = token.as_tuple();
        match kind {
            TokenKind::String => {
                let flags = token.unwrap_string_flags();
                if !flags.prefix().is_raw() {
                    let start = usize::from(range.start()) + flags.opener_len().to_usize();
                    let end = usize::from(range.end()) - flags.closer_len().to_usize();
                    if start <= end && bad_escape(&text[start..end], flags.is_byte_string()) {
                        return Some("an invalid escape sequence");
                    }
                }
            }
            TokenKind::FStringMiddle | TokenKind::TStringMiddle => {
                let flags = token.unwrap_string_flags();
                if !flags.prefix().is_raw() && bad_escape(&text[range], false) {
                    return Some("an invalid escape sequence");
                }
            }
            // A name or keyword right after a number: `1if x else 2`, `0x1for`.
            kind if (kind == TokenKind::Name || kind.is_keyword() || kind.is_soft_keyword())
                && number_end == Some(range.start()) =>
            {
                return Some("a number followed by a name");
            }
            _ => {}
        }
        number_end = matches!(kind, TokenKind::Int | TokenKind::Float | TokenKind::Complex)
            .then_some(range.end());
    }
    None
}

/// Whether a literal's body (what is between its quotes, or an f-string's literal text) has an
/// escape CPython 3.12 warns about: an unknown one, `\8`, `\9`, an octal one above `\377`, and
/// in bytes `\N`, `\u`, `\U`.
fn bad_escape(body: &str, bytes: bool) -> bool {
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            continue;
        }
        let Some(next) = chars.next() else {
            return true;
        };
        match next {
            '\n' | '\\' | '\'' | '"' | 'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | 'x' => {}
            'N' | 'u' | 'U' if !bytes => {}
            // `decode_unicode_with_escapes` turns a backslash before a non-ASCII character
            // into an escaped backslash: no warning.
            c if !c.is_ascii() => {}
            '0'..='7' => {
                let mut digits = 1;
                while digits < 3 && chars.peek().is_some_and(|c| ('0'..='7').contains(c)) {
                    chars.next();
                    digits += 1;
                }
                if digits == 3 && next >= '4' {
                    return true;
                }
            }
            _ => return true,
        }
    }
    false
}

struct Finder {
    found: Option<&'static str>,
}

impl<'a> Visitor<'a> for Finder {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.found.is_some() {
            return;
        }
        if let Stmt::Assert(assert) = stmt
            && let Expr::Tuple(tuple) = &*assert.test
            && !tuple.elts.is_empty()
        {
            self.found = Some("an assert on a tuple");
            return;
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.found.is_some() {
            return;
        }
        let found = match expr {
            Expr::Compare(compare) => {
                let mut left = &*compare.left;
                let mut found = None;
                for (op, right) in compare.ops.iter().zip(&compare.comparators) {
                    if matches!(op, CmpOp::Is | CmpOp::IsNot)
                        && (literal_not_singleton(left) || literal_not_singleton(right))
                    {
                        found = Some("`is` with a literal");
                    }
                    left = right;
                }
                found
            }
            Expr::Call(call) if uncallable(&call.func) => Some("a call of a literal"),
            Expr::Subscript(subscript) if bad_subscript(&subscript.value, &subscript.slice) => {
                Some("a subscript of a literal")
            }
            _ => None,
        };
        if found.is_some() {
            self.found = found;
            return;
        }
        visitor::walk_expr(self, expr);
    }
}

/// Whether `expr` is a literal or may fold into a constant (the AST optimizer's folding of
/// operators, tuples and subscripts of constants).
fn foldable(expr: &Expr) -> bool {
    match expr {
        Expr::StringLiteral(_)
        | Expr::BytesLiteral(_)
        | Expr::NumberLiteral(_)
        | Expr::BooleanLiteral(_)
        | Expr::NoneLiteral(_)
        | Expr::EllipsisLiteral(_)
        | Expr::FString(_) => true,
        Expr::Name(name) => name.id.as_str() == "__debug__",
        Expr::UnaryOp(unary) => foldable(&unary.operand),
        Expr::BinOp(binary) => foldable(&binary.left) && foldable(&binary.right),
        Expr::Tuple(tuple) => tuple.elts.iter().all(foldable),
        Expr::Subscript(subscript) => foldable(&subscript.value) && foldable(&subscript.slice),
        _ => false,
    }
}

/// `check_is_arg` failing: a constant that is not None, True, False or `...`.
fn literal_not_singleton(expr: &Expr) -> bool {
    foldable(expr)
        && !matches!(
            expr,
            Expr::BooleanLiteral(_) | Expr::NoneLiteral(_) | Expr::EllipsisLiteral(_)
        )
        && !matches!(expr, Expr::Name(_))
}

/// What `infer_type` knows the type of: literals and displays, or what may fold into one.
fn typed_literal(expr: &Expr) -> bool {
    foldable(expr)
        || matches!(
            expr,
            Expr::Tuple(_)
                | Expr::List(_)
                | Expr::ListComp(_)
                | Expr::Dict(_)
                | Expr::DictComp(_)
                | Expr::Set(_)
                | Expr::SetComp(_)
                | Expr::Generator(_)
                | Expr::Lambda(_)
        )
}

/// `check_caller`'s kinds: constants and displays, not lambdas.
fn uncallable(expr: &Expr) -> bool {
    !matches!(expr, Expr::Lambda(_)) && typed_literal(expr)
}

/// What may fold into a number: operators on numbers only (`b"x" * 2` is bytes).
fn number_like(expr: &Expr) -> bool {
    match expr {
        Expr::NumberLiteral(_) | Expr::BooleanLiteral(_) => true,
        Expr::UnaryOp(unary) => number_like(&unary.operand),
        Expr::BinOp(binary) => number_like(&binary.left) && number_like(&binary.right),
        _ => false,
    }
}

/// An integer for certain after folding: `check_index` accepts it.
fn int_like(expr: &Expr) -> bool {
    match expr {
        Expr::NumberLiteral(number) => matches!(number.value, Number::Int(_)),
        Expr::BooleanLiteral(_) => true,
        Expr::UnaryOp(unary) => int_like(&unary.operand),
        Expr::BinOp(binary) => {
            !matches!(binary.op, Operator::Div | Operator::Pow | Operator::MatMult)
                && int_like(&binary.left)
                && int_like(&binary.right)
        }
        _ => false,
    }
}

/// `check_subscripter` or `check_index` may warn about `value[slice]`.
fn bad_subscript(value: &Expr, slice: &Expr) -> bool {
    // Not subscriptable: numbers, None, `...`, sets, generators, lambdas.
    let unsubscriptable = match value {
        Expr::NumberLiteral(_)
        | Expr::BooleanLiteral(_)
        | Expr::NoneLiteral(_)
        | Expr::EllipsisLiteral(_)
        | Expr::Set(_)
        | Expr::SetComp(_)
        | Expr::Generator(_)
        | Expr::Lambda(_) => true,
        Expr::UnaryOp(_) | Expr::BinOp(_) => number_like(value),
        Expr::Subscript(_) => foldable(value),
        _ => false,
    };
    if unsubscriptable {
        return true;
    }
    // A sequence indexed by a literal that is not an integer or a slice.
    let sequence = foldable(value)
        || matches!(
            value,
            Expr::Tuple(_) | Expr::List(_) | Expr::ListComp(_) | Expr::FString(_)
        );
    sequence && !matches!(slice, Expr::Slice(_)) && typed_literal(slice) && !int_like(slice)
}

#[cfg(test)]
mod tests {
    use super::may_warn;

    /// What sends `source` to CPython: a construct it may warn about, or Ruff's parser
    /// refusing it (it goes to CPython then too).
    fn check(source: &str) -> Option<&'static str> {
        let Ok((text, parsed)) = super::super::parse_312(source.as_bytes()) else {
            return Some("does not parse natively");
        };
        let ruff_python_ast::Mod::Module(module) = parsed.syntax() else {
            panic!("a module");
        };
        may_warn(&text, parsed.tokens(), module)
    }

    /// Each construct CPython 3.12 warns about is found; each similar one it does not warn
    /// about is not (checked against `python3.12 -W error -c "compile(...)"`).
    #[test]
    fn finds_what_cpython_warns_about() {
        for source in [
            r#"x = "\d""#,
            r#"x = b"\d""#,
            r#"x = b"\N{EM DASH}""#,
            r#"x = "\777""#,
            r#"x = f"{y}\d""#,
            r#"x = "\8""#,
            "x = 1if y else 2",
            "x = [0x1for x in y]",
            "if x is 1: pass",
            "if x is not 'a': pass",
            "if x is -1: pass",
            "if 1 < x is (): pass",
            "assert (x, 'message')",
            "x = 1(2)",
            "x = [1 (2)]",
            "x = (a, b)(c)",
            "x = 1[2]",
            "x = (1 + 2)[0]",
            "x = {1}[0]",
            "x = [1, 2]['a']",
            "x = 'abc'[1.5]",
            "x = (1, 2)[(0, 1)]",
        ] {
            assert!(check(source).is_some(), "{source}");
        }
    }

    #[test]
    fn leaves_what_cpython_does_not_warn_about() {
        for source in [
            r#"x = r"\d""#,
            r#"x = rb"\d""#,
            r#"x = "\n\t\\\'\"\x41\101\0\N{EM DASH}\u1234\U00012345""#,
            "x = \"a\\\nb\"",
            r#"x = f"{y!r}\n""#,
            r#"x = rf"\d{y}""#,
            "x = 1 if y else 2",
            "if x is None or x is True or x is ...: pass",
            "if x is y: pass",
            "if x == 1: pass",
            "assert x, 'message'",
            "assert ()",
            "x = f(1)",
            "x = 'abc'[0]",
            "x = 'abc'[-1]",
            "x = [1, 2][i]",
            "x = (1, 2)[1:]",
            "x = {'a': 1}['a']",
            "x = a['b']",
            "x = 1.5j",
            "x = 1_000",
            "x = 1e5",
            "x = (lambda: 1)()",
            "x = (b'x' * 32)[:4]",
            "x = '\\П'",
        ] {
            assert_eq!(check(source), None, "{source}");
        }
    }
}
