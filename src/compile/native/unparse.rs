//! `_PyAST_ExprAsUnicode` (`Python/ast_unparse.c`, CPython 3.12): the string an annotation
//! becomes under `from __future__ import annotations`. This is not `ast.unparse` (quoting,
//! parentheses and spacing differ); the C file is followed function by function, on Ruff's
//! AST, which CPython's parser would have shaped the same for these purposes (implicitly
//! concatenated strings are one constant, parentheses are gone).

use super::Unsupported;
use super::printable312::PRINTABLE;
use super::strings;
use ruff_python_ast::{self as ast, BoolOp, CmpOp, Expr, Number, Operator, UnaryOp};
use std::fmt::Write;

// Priority levels (`PR_*`).
const PR_TUPLE: u8 = 0;
const PR_TEST: u8 = 1;
const PR_OR: u8 = 2;
const PR_AND: u8 = 3;
const PR_NOT: u8 = 4;
const PR_CMP: u8 = 5;
const PR_EXPR: u8 = 6;
const PR_BOR: u8 = PR_EXPR;
const PR_BXOR: u8 = 7;
const PR_BAND: u8 = 8;
const PR_SHIFT: u8 = 9;
const PR_ARITH: u8 = 10;
const PR_TERM: u8 = 11;
const PR_FACTOR: u8 = 12;
const PR_POWER: u8 = 13;
const PR_ATOM: u8 = 15;

type R = Result<(), Unsupported>;

/// `_PyAST_ExprAsUnicode(e)`, as code points (a string constant may hold lone surrogates).
/// `text` is the module source, which big ints and escaped surrogates are read from.
pub(crate) fn annotation(text: &str, e: &Expr) -> Result<Vec<u32>, Unsupported> {
    let mut writer = Writer {
        text,
        out: Vec::new(),
    };
    writer.expr(e, PR_TEST)?;
    Ok(writer.out)
}

struct Writer<'t> {
    text: &'t str,
    out: Vec<u32>,
}

impl Writer<'_> {
    fn s(&mut self, s: &str) {
        self.out.extend(s.chars().map(u32::from));
    }
    fn s_if(&mut self, cond: bool, s: &str) {
        if cond {
            self.s(s);
        }
    }

    /// `append_ast_expr`
    fn expr(&mut self, e: &Expr, level: u8) -> R {
        match e {
            Expr::BoolOp(b) => {
                let (op, pr) = match b.op {
                    BoolOp::And => (" and ", PR_AND),
                    BoolOp::Or => (" or ", PR_OR),
                };
                self.s_if(level > pr, "(");
                for (i, value) in b.values.iter().enumerate() {
                    self.s_if(i > 0, op);
                    self.expr(value, pr + 1)?;
                }
                self.s_if(level > pr, ")");
            }
            Expr::BinOp(b) => {
                let (op, pr) = match b.op {
                    Operator::Add => (" + ", PR_ARITH),
                    Operator::Sub => (" - ", PR_ARITH),
                    Operator::Mult => (" * ", PR_TERM),
                    Operator::MatMult => (" @ ", PR_TERM),
                    Operator::Div => (" / ", PR_TERM),
                    Operator::Mod => (" % ", PR_TERM),
                    Operator::LShift => (" << ", PR_SHIFT),
                    Operator::RShift => (" >> ", PR_SHIFT),
                    Operator::BitOr => (" | ", PR_BOR),
                    Operator::BitXor => (" ^ ", PR_BXOR),
                    Operator::BitAnd => (" & ", PR_BAND),
                    Operator::FloorDiv => (" // ", PR_TERM),
                    Operator::Pow => (" ** ", PR_POWER),
                };
                let rassoc = u8::from(b.op == Operator::Pow);
                self.s_if(level > pr, "(");
                self.expr(&b.left, pr + rassoc)?;
                self.s(op);
                self.expr(&b.right, pr + 1 - rassoc)?;
                self.s_if(level > pr, ")");
            }
            Expr::UnaryOp(u) => {
                let (op, pr) = match u.op {
                    UnaryOp::Invert => ("~", PR_FACTOR),
                    UnaryOp::Not => ("not ", PR_NOT),
                    UnaryOp::UAdd => ("+", PR_FACTOR),
                    UnaryOp::USub => ("-", PR_FACTOR),
                };
                self.s_if(level > pr, "(");
                self.s(op);
                self.expr(&u.operand, pr)?;
                self.s_if(level > pr, ")");
            }
            Expr::Lambda(lambda) => {
                self.s_if(level > PR_TEST, "(");
                let positional = lambda
                    .parameters
                    .as_ref()
                    .is_some_and(|p| !p.args.is_empty() || !p.posonlyargs.is_empty());
                self.s(if positional { "lambda " } else { "lambda" });
                if let Some(params) = &lambda.parameters {
                    self.args(params)?;
                }
                self.s(": ");
                self.expr(&lambda.body, PR_TEST)?;
                self.s_if(level > PR_TEST, ")");
            }
            Expr::If(ifexp) => {
                self.s_if(level > PR_TEST, "(");
                self.expr(&ifexp.body, PR_TEST + 1)?;
                self.s(" if ");
                self.expr(&ifexp.test, PR_TEST + 1)?;
                self.s(" else ");
                self.expr(&ifexp.orelse, PR_TEST)?;
                self.s_if(level > PR_TEST, ")");
            }
            Expr::Dict(dict) => {
                self.s("{");
                for (i, item) in dict.items.iter().enumerate() {
                    self.s_if(i > 0, ", ");
                    if let Some(key) = &item.key {
                        self.expr(key, PR_TEST)?;
                        self.s(": ");
                        self.expr(&item.value, PR_TEST)?;
                    } else {
                        self.s("**");
                        self.expr(&item.value, PR_EXPR)?;
                    }
                }
                self.s("}");
            }
            Expr::Set(set) => self.sequence("{", &set.elts, "}")?,
            Expr::List(list) => self.sequence("[", &list.elts, "]")?,
            Expr::Generator(generator) => self.genexp(generator)?,
            Expr::ListComp(comp) => {
                self.s("[");
                self.expr(&comp.elt, PR_TEST)?;
                self.comprehensions(&comp.generators)?;
                self.s("]");
            }
            Expr::SetComp(comp) => {
                self.s("{");
                self.expr(&comp.elt, PR_TEST)?;
                self.comprehensions(&comp.generators)?;
                self.s("}");
            }
            Expr::DictComp(comp) => {
                self.s("{");
                let key = comp.key.as_deref().ok_or(Unsupported::Parse(
                    "a dict comprehension without a key".into(),
                ))?;
                self.expr(key, PR_TEST)?;
                self.s(": ");
                self.expr(&comp.value, PR_TEST)?;
                self.comprehensions(&comp.generators)?;
                self.s("}");
            }
            // CPython refuses these in an annotation (a SyntaxError from the symbol table).
            Expr::Yield(_) | Expr::YieldFrom(_) | Expr::Await(_) | Expr::Named(_) => {
                return Err(Unsupported::Parse(
                    "yield, await or := in an annotation".into(),
                ));
            }
            Expr::Compare(compare) => {
                self.s_if(level > PR_CMP, "(");
                self.expr(&compare.left, PR_CMP + 1)?;
                for (op, comparator) in compare.ops.iter().zip(compare.comparators.iter()) {
                    self.s(match op {
                        CmpOp::Eq => " == ",
                        CmpOp::NotEq => " != ",
                        CmpOp::Lt => " < ",
                        CmpOp::LtE => " <= ",
                        CmpOp::Gt => " > ",
                        CmpOp::GtE => " >= ",
                        CmpOp::Is => " is ",
                        CmpOp::IsNot => " is not ",
                        CmpOp::In => " in ",
                        CmpOp::NotIn => " not in ",
                    });
                    self.expr(comparator, PR_CMP + 1)?;
                }
                self.s_if(level > PR_CMP, ")");
            }
            Expr::Call(call) => {
                self.expr(&call.func, PR_ATOM)?;
                let args = &call.arguments;
                if let ([Expr::Generator(generator)], true) =
                    (&*args.args, args.keywords.is_empty())
                {
                    // Special case: a single generator expression.
                    return self.genexp(generator);
                }
                self.s("(");
                let mut first = true;
                for arg in &args.args {
                    self.s_if(!first, ", ");
                    first = false;
                    self.expr(arg, PR_TEST)?;
                }
                for keyword in &args.keywords {
                    self.s_if(!first, ", ");
                    first = false;
                    match &keyword.arg {
                        None => self.s("**"),
                        Some(arg) => {
                            self.s(arg.as_str());
                            self.s("=");
                        }
                    }
                    self.expr(&keyword.value, PR_TEST)?;
                }
                self.s(")");
            }
            Expr::FString(fstring) => {
                let body = self.fstring_body(fstring)?;
                self.s("f");
                self.out.extend(repr_str(&body));
            }
            Expr::StringLiteral(s) => {
                let value = strings::str_value(self.text, s)?;
                self.out.extend(repr_str(&value));
            }
            Expr::BytesLiteral(b) => {
                let value: Vec<u8> = b.value.bytes().collect();
                self.s(&repr_bytes(&value));
            }
            Expr::NumberLiteral(n) => match &n.value {
                Number::Int(i) => {
                    if let Some(small) = i.as_u64() {
                        self.s(&small.to_string());
                    } else {
                        let decimal = big_decimal(&self.text[n.range])
                            .ok_or(Unsupported::Construct("an unreadable int literal"))?;
                        self.s(&decimal);
                    }
                }
                Number::Float(f) => self.s(&float_repr(*f, true).replace("inf", "1e309")),
                Number::Complex { real, imag } => {
                    self.s(&complex_repr(*real, *imag).replace("inf", "1e309"));
                }
            },
            Expr::BooleanLiteral(b) => self.s(if b.value { "True" } else { "False" }),
            Expr::NoneLiteral(_) => self.s("None"),
            Expr::EllipsisLiteral(_) => self.s("..."),
            Expr::Attribute(attr) => {
                self.expr(&attr.value, PR_ATOM)?;
                // Integers need a space for the attribute access to be unambiguous.
                let int = matches!(
                    &*attr.value,
                    Expr::NumberLiteral(ast::ExprNumberLiteral {
                        value: Number::Int(_),
                        ..
                    })
                );
                self.s(if int { " ." } else { "." });
                self.s(attr.attr.as_str());
            }
            Expr::Subscript(sub) => {
                self.expr(&sub.value, PR_ATOM)?;
                self.s("[");
                self.expr(&sub.slice, PR_TUPLE)?;
                self.s("]");
            }
            Expr::Starred(starred) => {
                self.s("*");
                self.expr(&starred.value, PR_EXPR)?;
            }
            Expr::Slice(slice) => {
                if let Some(lower) = &slice.lower {
                    self.expr(lower, PR_TEST)?;
                }
                self.s(":");
                if let Some(upper) = &slice.upper {
                    self.expr(upper, PR_TEST)?;
                }
                if let Some(step) = &slice.step {
                    self.s(":");
                    self.expr(step, PR_TEST)?;
                }
            }
            Expr::Name(name) => self.s(name.id.as_str()),
            Expr::Tuple(tuple) => {
                if tuple.elts.is_empty() {
                    self.s("()");
                    return Ok(());
                }
                self.s_if(level > PR_TUPLE, "(");
                for (i, elt) in tuple.elts.iter().enumerate() {
                    self.s_if(i > 0, ", ");
                    self.expr(elt, PR_TEST)?;
                }
                self.s_if(tuple.elts.len() == 1, ",");
                self.s_if(level > PR_TUPLE, ")");
            }
            Expr::TString(_) | Expr::IpyEscapeCommand(_) => {
                return Err(Unsupported::Parse("not Python 3.12 syntax".into()));
            }
        }
        Ok(())
    }

    fn sequence(&mut self, open: &str, elts: &[Expr], close: &str) -> R {
        self.s(open);
        for (i, elt) in elts.iter().enumerate() {
            self.s_if(i > 0, ", ");
            self.expr(elt, PR_TEST)?;
        }
        self.s(close);
        Ok(())
    }

    /// `append_ast_genexp`
    fn genexp(&mut self, generator: &ast::ExprGenerator) -> R {
        self.s("(");
        self.expr(&generator.elt, PR_TEST)?;
        self.comprehensions(&generator.generators)?;
        self.s(")");
        Ok(())
    }

    /// `append_ast_comprehensions`
    fn comprehensions(&mut self, generators: &[ast::Comprehension]) -> R {
        for generator in generators {
            self.s(if generator.is_async {
                " async for "
            } else {
                " for "
            });
            self.expr(&generator.target, PR_TUPLE)?;
            self.s(" in ");
            self.expr(&generator.iter, PR_TEST + 1)?;
            for test in &generator.ifs {
                self.s(" if ");
                self.expr(test, PR_TEST + 1)?;
            }
        }
        Ok(())
    }

    /// `append_ast_arg`
    fn arg(&mut self, param: &ast::Parameter) -> R {
        self.s(param.name.as_str());
        if let Some(annotation) = &param.annotation {
            self.s(": ");
            self.expr(annotation, PR_TEST)?;
        }
        Ok(())
    }

    /// `append_ast_args`
    fn args(&mut self, params: &ast::Parameters) -> R {
        let mut first = true;
        let posonly = params.posonlyargs.len();
        for (i, p) in params.posonlyargs.iter().chain(&params.args).enumerate() {
            self.s_if(!first, ", ");
            first = false;
            self.arg(&p.parameter)?;
            if let Some(default) = &p.default {
                self.s("=");
                self.expr(default, PR_TEST)?;
            }
            if posonly > 0 && i + 1 == posonly {
                self.s(", /");
            }
        }
        if params.vararg.is_some() || !params.kwonlyargs.is_empty() {
            self.s_if(!first, ", ");
            first = false;
            self.s("*");
            if let Some(vararg) = &params.vararg {
                self.arg(vararg)?;
            }
        }
        for p in &params.kwonlyargs {
            self.s_if(!first, ", ");
            first = false;
            self.arg(&p.parameter)?;
            if let Some(default) = &p.default {
                self.s("=");
                self.expr(default, PR_TEST)?;
            }
        }
        if let Some(kwarg) = &params.kwarg {
            self.s_if(!first, ", ");
            self.s("**");
            self.arg(kwarg)?;
        }
        Ok(())
    }

    /// `build_fstring_body` of the `JoinedStr` CPython's parser makes of the parts.
    fn fstring_body(&mut self, fstring: &ast::ExprFString) -> Result<Vec<u32>, Unsupported> {
        let mut body = Writer {
            text: self.text,
            out: Vec::new(),
        };
        for part in fstring.value.iter() {
            match part {
                ast::FStringPart::Literal(literal) => {
                    let value = strings::part_value(self.text, literal)?;
                    body.fstring_unicode(&value);
                }
                ast::FStringPart::FString(f) => {
                    body.fstring_elements(&f.elements, f.flags.prefix().is_raw())?;
                }
            }
        }
        Ok(body.out)
    }

    fn fstring_elements(&mut self, elements: &ast::InterpolatedStringElements, raw: bool) -> R {
        for element in elements.iter() {
            match element {
                ast::InterpolatedStringElement::Literal(literal) => {
                    let value = strings::fstring_literal_value(self.text, literal, raw)?;
                    self.fstring_unicode(&value);
                }
                ast::InterpolatedStringElement::Interpolation(field) => {
                    self.formatted_value(field, raw)?;
                }
            }
        }
        Ok(())
    }

    /// `append_fstring_unicode`: the text with its braces doubled.
    fn fstring_unicode(&mut self, value: &[u32]) {
        for &c in value {
            self.out.push(c);
            if c == u32::from('{') || c == u32::from('}') {
                self.out.push(c);
            }
        }
    }

    /// `append_formattedvalue`, with the `=` text the parser makes a constant before it.
    fn formatted_value(&mut self, field: &ast::InterpolatedElement, raw: bool) -> R {
        let mut conversion = field.conversion;
        if let Some(debug) = &field.debug_text {
            // CPython decodes escapes and braces in it again (`_PyPegen_decode_fstring_part`),
            // and its tokenizer leaves comments out of it.
            if debug.as_str().contains(['\\', '{', '}', '#']) {
                return Err(Unsupported::Construct("an f-string `=` field with escapes"));
            }
            let debug: Vec<u32> = debug.as_str().chars().map(u32::from).collect();
            self.fstring_unicode(&debug);
            if conversion == ast::ConversionFlag::None && field.format_spec.is_none() {
                conversion = ast::ConversionFlag::Repr;
            }
        }
        let mut value = Writer {
            text: self.text,
            out: Vec::new(),
        };
        value.expr(&field.expression, PR_TEST + 1)?;
        // An expression starting with a brace is split from the outer one by a space.
        self.s(if value.out.first() == Some(&u32::from('{')) {
            "{ "
        } else {
            "{"
        });
        self.out.extend(value.out);
        match conversion {
            ast::ConversionFlag::None => {}
            ast::ConversionFlag::Str => self.s("!s"),
            ast::ConversionFlag::Repr => self.s("!r"),
            ast::ConversionFlag::Ascii => self.s("!a"),
        }
        if let Some(spec) = &field.format_spec {
            self.s(":");
            self.fstring_elements(&spec.elements, raw)?;
        }
        self.s("}");
        Ok(())
    }
}

/// `unicode_repr`: quotes chosen as CPython does, non-printable characters escaped.
pub(crate) fn repr_str(value: &[u32]) -> Vec<u32> {
    let has = |c: char| value.contains(&u32::from(c));
    let quote = if has('\'') && !has('"') { '"' } else { '\'' };
    let mut out = Vec::with_capacity(value.len() + 2);
    let push = |out: &mut Vec<u32>, s: &str| out.extend(s.chars().map(u32::from));
    out.push(u32::from(quote));
    for &c in value {
        match c {
            _ if c == u32::from(quote) || c == u32::from('\\') => {
                out.push(u32::from('\\'));
                out.push(c);
            }
            0x09 => push(&mut out, "\\t"),
            0x0a => push(&mut out, "\\n"),
            0x0d => push(&mut out, "\\r"),
            _ if c < 0x20 || c == 0x7f => push(&mut out, &format!("\\x{c:02x}")),
            _ if c < 0x7f || is_printable(c) => out.push(c),
            _ if c <= 0xff => push(&mut out, &format!("\\x{c:02x}")),
            _ if c <= 0xffff => push(&mut out, &format!("\\u{c:04x}")),
            _ => push(&mut out, &format!("\\U{c:08x}")),
        }
    }
    out.push(u32::from(quote));
    out
}

/// `Py_UNICODE_ISPRINTABLE` for a code point from U+0080, from 3.12's Unicode tables.
fn is_printable(c: u32) -> bool {
    PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// `PyBytes_Repr` with smart quotes.
fn repr_bytes(value: &[u8]) -> String {
    let quote = if value.contains(&b'\'') && !value.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from("b");
    out.push(quote);
    for &b in value {
        match b {
            _ if char::from(b) == quote || b == b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if !(b' '..0x7f).contains(&b) => {
                let _ = write!(out, "\\x{b:02x}");
            }
            _ => out.push(char::from(b)),
        }
    }
    out.push(quote);
    out
}

/// `float_repr` (`repr(x)`): the shortest digits that read back, in fixed notation when the
/// decimal point falls within -4..16, else with an exponent. `add_dot_0` as
/// `Py_DTSF_ADD_DOT_0` (floats have it, the parts of a complex not).
pub(crate) fn float_repr(x: f64, add_dot_0: bool) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.into();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, as CPython's `repr` does.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let decpt = exp + 1;
    let n = digits.len() as i32;
    let mut out = String::from(sign);
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        let _ = write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-decpt) as usize));
        out.push_str(&digits);
    } else if decpt >= n {
        out.push_str(&digits);
        out.push_str(&"0".repeat((decpt - n) as usize));
        if add_dot_0 {
            out.push_str(".0");
        }
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
    out
}

/// `complex_repr`
pub(crate) fn complex_repr(real: f64, imag: f64) -> String {
    if real == 0.0 && real.is_sign_positive() {
        return format!("{}j", float_repr(imag, false));
    }
    let re = float_repr(real, false);
    let im = float_repr(imag, false);
    let sign = if im.starts_with('-') { "" } else { "+" };
    format!("({re}{sign}{im}j)")
}

/// The decimal digits of an int literal's source text (`0x…`, `0o…`, `0b…`, underscores).
pub(crate) fn big_decimal(source: &str) -> Option<String> {
    let (radix, body) = super::code::literal_digits(source);
    if body.is_empty() {
        return None;
    }
    // Little-endian limbs of 10^9.
    let mut limbs: Vec<u64> = vec![0];
    for c in body.chars() {
        let mut carry = u64::from(c.to_digit(radix)?);
        for limb in &mut limbs {
            let value = *limb * u64::from(radix) + carry;
            *limb = value % 1_000_000_000;
            carry = value / 1_000_000_000;
        }
        while carry > 0 {
            limbs.push(carry % 1_000_000_000);
            carry /= 1_000_000_000;
        }
    }
    let mut out = limbs.last().copied().unwrap_or(0).to_string();
    for limb in limbs.iter().rev().skip(1) {
        let _ = write!(out, "{limb:09}");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{annotation, big_decimal, float_repr};
    use ruff_python_ast::{Mod, Stmt};

    /// What `_PyAST_ExprAsUnicode` makes of `x: <source>` (`*args: <source>` for a starred
    /// one), or `None` where the oracle raises SyntaxError.
    fn unparse(source: &str) -> Option<String> {
        let module = if source.starts_with('*') {
            format!("def f(*args: {source}): pass\n")
        } else {
            format!("x: {source}\n")
        };
        let options = ruff_python_parser::ParseOptions::from(ruff_python_parser::Mode::Module)
            .with_target_version(ruff_python_ast::PythonVersion::PY312);
        let parsed = ruff_python_parser::parse_unchecked(&module, options);
        assert!(
            parsed.errors().is_empty(),
            "{source}: {:?}",
            parsed.errors()
        );
        let Mod::Module(m) = parsed.syntax() else {
            panic!("not a module")
        };
        let expr = match &m.body[0] {
            Stmt::AnnAssign(ann) => &*ann.annotation,
            Stmt::FunctionDef(def) => def.parameters.vararg.as_ref()?.annotation.as_deref()?,
            other => panic!("{other:?}"),
        };
        let points = annotation(&module, expr).ok()?;
        Some(points.iter().map(|&c| char::from_u32(c).unwrap()).collect())
    }

    /// Expected values: `__annotations__` of `from __future__ import annotations` modules
    /// compiled by CPython 3.12.1 (not `ast.unparse`, which differs).
    #[test]
    // The table is the oracle's output, pasted as raw strings alike.
    #[allow(clippy::needless_raw_string_hashes)]
    fn annotations_unparse_as_cpython_312() {
        let cases: &[(&str, Option<&str>)] = &[
            (r##"int"##, Some(r##"int"##)),
            (r##""it's""##, Some(r##""it's""##)),
            (r##"'a"b\'c'"##, Some(r##"'a"b\'c'"##)),
            (r##"'both \' and "'"##, Some(r##"'both \' and "'"##)),
            (
                r##"dict[str, list[int | None]] | None"##,
                Some(r##"dict[str, list[int | None]] | None"##),
            ),
            (
                r##"typing.Callable[[int, str], tuple[int, ...]]"##,
                Some(r##"typing.Callable[[int, str], tuple[int, ...]]"##),
            ),
            (
                r##"lambda a, *b, c=1, **d: a"##,
                Some(r##"lambda a, *b, c=1, **d: a"##),
            ),
            (r##"lambda *a: 0"##, Some(r##"lambda*a: 0"##)),
            (r##"lambda *, k: 0"##, Some(r##"lambda*, k: 0"##)),
            (
                r##"lambda a, /, b=2, *c, d, e=5, **f: 0"##,
                Some(r##"lambda a, /, b=2, *c, d, e=5, **f: 0"##),
            ),
            (r##"(lambda: 1)"##, Some(r##"lambda: 1"##)),
            (r##"a if b else c"##, Some(r##"a if b else c"##)),
            (
                r##"(a if b else c) if d else e"##,
                Some(r##"(a if b else c) if d else e"##),
            ),
            (r##"f"{x = }""##, Some(r##"f'x = {x!r}'"##)),
            (r##"f"{ x = !s:>10}""##, Some(r##"f' x = {x!s:>10}'"##)),
            (r##"f"{x=:>{w}}""##, Some(r##"f'x={x:>{w}}'"##)),
            (r##"f"{x:}""##, Some(r##"f'{x:}'"##)),
            (r##"f"{x!r:{{}}}""##, Some(r##"f'{x!r:{ {}}}'"##)),
            (r##"f"a{{b}}c{x}""##, Some(r##"f'a{{b}}c{x}'"##)),
            (r##""a" f"{x}" "b""##, Some(r##"f'a{x}b'"##)),
            (r##"f'{ {1:2}}'"##, Some(r##"f'{ {1: 2}}'"##)),
            (r##"f'{"nested"}'"##, Some(r##"f"{'nested'}""##)),
            (r##"f"{x:{y}.{z}}""##, Some(r##"f'{x:{y}.{z}}'"##)),
            (r##"f"{x!a}" rf"\d{y}""##, Some(r##"f'{x!a}\\d{y}'"##)),
            (r##"f"{'it\'s'}""##, Some(r##"f'{"it\'s"}'"##)),
            (r##"f"{a if b else c}""##, Some(r##"f'{(a if b else c)}'"##)),
            (r##"f"{(lambda: 1)}""##, Some(r##"f'{(lambda: 1)}'"##)),
            (r##"f"{x,}""##, Some(r##"f'{(x,)}'"##)),
            (r##"f"{yield_}""##, Some(r##"f'{yield_}'"##)),
            (r##"1e400"##, Some(r##"1e309"##)),
            (r##"1e400j"##, Some(r##"1e309j"##)),
            (r##"-1e400"##, Some(r##"-1e309"##)),
            (r##"1e16"##, Some(r##"1e+16"##)),
            (r##"1e15"##, Some(r##"1000000000000000.0"##)),
            (r##"1.5e-5"##, Some(r##"1.5e-05"##)),
            (r##"0.0001"##, Some(r##"0.0001"##)),
            (r##"0.00001"##, Some(r##"1e-05"##)),
            (r##"1e22"##, Some(r##"1e+22"##)),
            (
                r##"12345678901234567.0"##,
                Some(r##"1.2345678901234568e+16"##),
            ),
            (r##"0.1"##, Some(r##"0.1"##)),
            (r##"1/3"##, Some(r##"1 / 3"##)),
            (r##"5e-324"##, Some(r##"5e-324"##)),
            (
                r##"1.7976931348623157e308"##,
                Some(r##"1.7976931348623157e+308"##),
            ),
            (r##"123.456e7"##, Some(r##"1234560000.0"##)),
            (r##"0j"##, Some(r##"0j"##)),
            (r##"1.5j"##, Some(r##"1.5j"##)),
            (r##"1e16j"##, Some(r##"1e+16j"##)),
            (r##"0x10"##, Some(r##"16"##)),
            (r##"0o17"##, Some(r##"15"##)),
            (r##"0b101"##, Some(r##"5"##)),
            (r##"1_000"##, Some(r##"1000"##)),
            (
                r##"123456789012345678901234567890"##,
                Some(r##"123456789012345678901234567890"##),
            ),
            (
                r##"0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"##,
                Some(r##"340282366920938463463374607431768211455"##),
            ),
            (r##"-1"##, Some(r##"-1"##)),
            (r##"not a"##, Some(r##"not a"##)),
            (r##"a ** -b"##, Some(r##"a ** (-b)"##)),
            (r##"(-a) ** b"##, Some(r##"(-a) ** b"##)),
            (r##"-(a ** b)"##, Some(r##"-a ** b"##)),
            (r##"a ** b ** c"##, Some(r##"a ** b ** c"##)),
            (r##"(a ** b) ** c"##, Some(r##"(a ** b) ** c"##)),
            (r##"a - (b - c)"##, Some(r##"a - (b - c)"##)),
            (r##"(a - b) - c"##, Some(r##"a - b - c"##)),
            (r##"a * (b + c)"##, Some(r##"a * (b + c)"##)),
            (r##"a | b & c ^ d"##, Some(r##"a | b & c ^ d"##)),
            (r##"(a | b) & c"##, Some(r##"(a | b) & c"##)),
            (r##"a << b >> c"##, Some(r##"a << b >> c"##)),
            (r##"~a"##, Some(r##"~a"##)),
            (r##"+a"##, Some(r##"+a"##)),
            (r##"-(-a)"##, Some(r##"--a"##)),
            (r##"not not a"##, Some(r##"not not a"##)),
            (r##"(a, b)"##, Some(r##"(a, b)"##)),
            (r##"()"##, Some(r##"()"##)),
            (r##"(a,)"##, Some(r##"(a,)"##)),
            (r##"[a, *b]"##, Some(r##"[a, *b]"##)),
            (r##"{*a, b}"##, Some(r##"{*a, b}"##)),
            (r##"{1: 2, **d}"##, Some(r##"{1: 2, **d}"##)),
            (r##"{}"##, Some(r##"{}"##)),
            (r##"a[1:2, ::3]"##, Some(r##"a[1:2, ::3]"##)),
            (r##"a[()]"##, Some(r##"a[()]"##)),
            (r##"a[(1,)]"##, Some(r##"a[1,]"##)),
            (r##"a[1,]"##, Some(r##"a[1,]"##)),
            (r##"a[:]"##, Some(r##"a[:]"##)),
            (r##"a[::]"##, Some(r##"a[:]"##)),
            (r##"a[b:c]"##, Some(r##"a[b:c]"##)),
            (r##"a[-1]"##, Some(r##"a[-1]"##)),
            (r##"x.y"##, Some(r##"x.y"##)),
            (r##"1 .real"##, Some(r##"1 .real"##)),
            (r##"(1.5).real"##, Some(r##"1.5.real"##)),
            (r##"(1j).imag"##, Some(r##"1j.imag"##)),
            (r##"True.real"##, Some(r##"True.real"##)),
            (r##"f(*a, **k, x=1)"##, Some(r##"f(*a, **k, x=1)"##)),
            (r##"f(x for x in y)"##, Some(r##"f(x for x in y)"##)),
            (
                r##"f((x for x in y), z)"##,
                Some(r##"f((x for x in y), z)"##),
            ),
            (r##"f(a)(b)[c].d"##, Some(r##"f(a)(b)[c].d"##)),
            (
                r##"[x for x in y if z if w]"##,
                Some(r##"[x for x in y if z if w]"##),
            ),
            (
                r##"[x async for x in y]"##,
                Some(r##"[x async for x in y]"##),
            ),
            (
                r##"{k: v for k, v in y}"##,
                Some(r##"{k: v for k, v in y}"##),
            ),
            (
                r##"{x for x in y for z in x}"##,
                Some(r##"{x for x in y for z in x}"##),
            ),
            (r##"(x for x in (a, b))"##, Some(r##"(x for x in (a, b))"##)),
            (r##"a < b < c"##, Some(r##"a < b < c"##)),
            (r##"a is not b"##, Some(r##"a is not b"##)),
            (r##"a not in b"##, Some(r##"a not in b"##)),
            (r##"not (a and b)"##, Some(r##"not (a and b)"##)),
            (r##"a and b or c"##, Some(r##"a and b or c"##)),
            (r##"(a or b) and c"##, Some(r##"(a or b) and c"##)),
            (r##"a and (b or c)"##, Some(r##"a and (b or c)"##)),
            (r##"(a and b) and c"##, Some(r##"(a and b) and c"##)),
            (r##"a and b and c"##, Some(r##"a and b and c"##)),
            (r##"b'\x00\'"'"##, Some(r##"b'\x00\'"'"##)),
            (r##"b"'""##, Some(r##"b"'""##)),
            (r##"b''"##, Some(r##"b''"##)),
            (r##"b'\xff\\'"##, Some(r##"b'\xff\\'"##)),
            (r##"'\udc80'"##, Some(r##"'\udc80'"##)),
            (r##"'é\x7f\xa0\u2028'"##, Some(r##"'é\x7f\xa0\u2028'"##)),
            (
                r##"'\U0001f600 \u0378 \u00ad'"##,
                Some(r##"'😀 \u0378 \xad'"##),
            ),
            (r##"'\t\n\r\x0b\x0c\\'"##, Some(r##"'\t\n\r\x0b\x0c\\'"##)),
            (r##"None"##, Some(r##"None"##)),
            (r##"..."##, Some(r##"..."##)),
            (r##"Ellipsis"##, Some(r##"Ellipsis"##)),
            (r##"True"##, Some(r##"True"##)),
            (r##"False"##, Some(r##"False"##)),
            (r##"*Ts"##, Some(r##"*Ts"##)),
            (
                r##"a if b else lambda: c"##,
                Some(r##"a if b else lambda: c"##),
            ),
            (r##"(yield)"##, None),
            (r##"await x"##, None),
            (r##"(a := 1)"##, None),
            (r##"tuple[*Ts]"##, Some(r##"tuple[*Ts,]"##)),
            (r##"tuple[int, *Ts]"##, Some(r##"tuple[int, *Ts]"##)),
            (r##"a[*b, c:d]"##, Some(r##"a[*b, c:d]"##)),
            (r##"Callable[..., T]"##, Some(r##"Callable[..., T]"##)),
            (r##"x[1:2][3]"##, Some(r##"x[1:2][3]"##)),
        ];
        let mut wrong = Vec::new();
        for &(source, expected) in cases {
            let got = unparse(source);
            if got.as_deref() != expected {
                wrong.push(format!("{source}: got {got:?}, CPython {expected:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn float_repr_is_python_repr() {
        // repr() in CPython 3.12.1.
        for (x, repr) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (123_456_789.0, "123456789.0"),
            (-2.5e-7, "-2.5e-07"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(float_repr(x, true), repr);
        }
        assert_eq!(float_repr(3.0, false), "3");
    }

    #[test]
    fn big_decimal_reads_every_radix() {
        assert_eq!(
            big_decimal("0xFFFF_FFFF_FFFF_FFFF_FFFF").as_deref(),
            Some("1208925819614629174706175")
        );
        assert_eq!(big_decimal("0o7").as_deref(), Some("7"));
        assert_eq!(big_decimal("0b1").as_deref(), Some("1"));
        assert_eq!(
            big_decimal("1_000000000_000000000").as_deref(),
            Some("1000000000000000000")
        );
        assert_eq!(big_decimal("0x").as_deref(), None);
    }
}
