//! The AST constant folding CPython 3.12 does before code generation (`Python/ast_opt.c`),
//! as a query: [`Folder::constant`] says what constant an expression folds to. Anything
//! foldable that is not implemented exactly is [`Unsupported`], never a guess.

use super::Unsupported;
use super::code::{BigInt, Const};
use ruff_python_ast::{self as ast, Expr, Number, Operator, UnaryOp};

const MAX_INT_SIZE: u32 = 128;
const MAX_STR_SIZE: i64 = 4096;

pub(crate) struct Folder<'a> {
    /// `optimize` (for `__debug__`).
    pub optimize: u8,
    /// The source, to tell a real U+FFFD from a lone surrogate Ruff replaced.
    pub text: &'a str,
}

type Folded = Result<Option<Const>, Unsupported>;

impl Folder<'_> {
    /// The constant `expr` becomes after `ast_opt`, or `None` if it stays an expression.
    pub(crate) fn constant(&self, expr: &Expr) -> Folded {
        Ok(match expr {
            Expr::NoneLiteral(_) => Some(Const::None),
            Expr::EllipsisLiteral(_) => Some(Const::Ellipsis),
            Expr::BooleanLiteral(b) => Some(Const::Bool(b.value)),
            Expr::NumberLiteral(n) => Some(match &n.value {
                Number::Int(i) => match i.as_i64() {
                    Some(small) => Const::Int(i128::from(small)),
                    None => BigInt::parse_literal(&self.text[n.range])
                        .ok_or(Unsupported::Construct("an unreadable int literal"))?,
                },
                Number::Float(f) => Const::Float(*f),
                Number::Complex { real, imag } => Const::Complex(*real, *imag),
            }),
            Expr::StringLiteral(s) => Some(self.string_value(s)?),
            Expr::BytesLiteral(b) => Some(Const::Bytes(b.value.bytes().collect())),
            Expr::Name(name) if name.id.as_str() == "__debug__" => match name.ctx {
                ast::ExprContext::Load => Some(Const::Bool(self.optimize == 0)),
                _ => return Err(Unsupported::Construct("assignment to __debug__")),
            },
            Expr::Tuple(t) if t.ctx == ast::ExprContext::Load => self.tuple(&t.elts)?,
            Expr::UnaryOp(u) => match self.constant(&u.operand)? {
                Some(value) => fold_unary(u.op, &value)?,
                None => None,
            },
            Expr::BinOp(b) => self.binop(b)?,
            Expr::Subscript(s) if s.ctx == ast::ExprContext::Load => {
                match (self.constant(&s.value)?, self.constant(&s.slice)?) {
                    (Some(value), Some(index)) => fold_subscr(&value, &index),
                    _ => None,
                }
            }
            _ => None,
        })
    }

    /// `make_const_tuple`: every element a constant (no starred item).
    pub(crate) fn tuple(&self, elts: &[Expr]) -> Folded {
        let mut items = Vec::with_capacity(elts.len());
        for elt in elts {
            match self.constant(elt)? {
                Some(value) => items.push(value),
                None => return Ok(None),
            }
        }
        Ok(Some(Const::Tuple(items)))
    }

    /// `fold_iter` for a `set` display: a frozenset when every element is a constant.
    pub(crate) fn frozenset(&self, elts: &[Expr]) -> Folded {
        let Some(Const::Tuple(items)) = self.tuple(elts)? else {
            return Ok(None);
        };
        let mut unique: Vec<Const> = Vec::new();
        for item in items {
            // PyFrozenSet_New keeps the first of equal items (1, 1.0 and True are equal).
            let mut seen = false;
            for u in &unique {
                match py_eq(u, &item) {
                    Some(true) => seen = true,
                    Some(false) => {}
                    None => {
                        return Err(Unsupported::Construct(
                            "a constant set of mixed or complex values",
                        ));
                    }
                }
            }
            if py_eq(&item, &item) != Some(true) {
                return Err(Unsupported::Construct(
                    "a constant set of mixed or complex values",
                ));
            }
            if !seen {
                unique.push(item);
            }
        }
        Ok(Some(Const::FrozenSet(unique)))
    }

    fn binop(&self, b: &ast::ExprBinOp) -> Folded {
        let Some(left) = self.constant(&b.left)? else {
            return Ok(None);
        };
        if b.op == Operator::Mod && matches!(left, Const::Str(_)) {
            if let Expr::Tuple(t) = &*b.right {
                if self.constant(&b.right)?.is_none() && !t.elts.iter().any(Expr::is_starred_expr) {
                    // `optimize_format` rewrites it (see `percent_format`); not a constant.
                    return Ok(None);
                }
            }
        }
        let Some(right) = self.constant(&b.right)? else {
            return Ok(None);
        };
        fold_binop(b.op, &left, &right)
    }
}

impl Folder<'_> {
    fn string_value(&self, s: &ast::ExprStringLiteral) -> Result<Const, Unsupported> {
        super::strings::str_literal_const(self.text, s)
    }
}

fn as_int(value: &Const) -> Option<i128> {
    match value {
        Const::Int(i) => Some(*i),
        Const::Bool(b) => Some(i128::from(*b)),
        _ => None,
    }
}

fn int_const(value: i128) -> Result<Option<Const>, Unsupported> {
    Ok(Some(Const::Int(value)))
}

fn num_bits(value: i128) -> u32 {
    128 - value.unsigned_abs().leading_zeros()
}

fn fold_unary(op: UnaryOp, value: &Const) -> Folded {
    if op == UnaryOp::Not {
        return Ok(Some(Const::Bool(!value.truth())));
    }
    if let Some(i) = as_int(value) {
        return match op {
            UnaryOp::USub => int_const(
                i.checked_neg()
                    .ok_or(Unsupported::Construct("a large negation"))?,
            ),
            UnaryOp::UAdd => int_const(i),
            UnaryOp::Invert => int_const(!i),
            UnaryOp::Not => unreachable!(),
        };
    }
    match (op, value) {
        (UnaryOp::USub, Const::BigInt(b)) => Ok(Some(b.negated())),
        (UnaryOp::UAdd, Const::BigInt(b)) => Ok(Some(Const::BigInt(b.clone()))),
        (UnaryOp::Invert, Const::BigInt(_)) => Err(Unsupported::Construct("ints beyond 127 bits")),
        (UnaryOp::USub, Const::Float(f)) => Ok(Some(Const::Float(-f))),
        (UnaryOp::UAdd, Const::Float(f)) => Ok(Some(Const::Float(*f))),
        (UnaryOp::USub, Const::Complex(r, i)) => Ok(Some(Const::Complex(-r, -i))),
        (UnaryOp::UAdd, Const::Complex(r, i)) => Ok(Some(Const::Complex(*r, *i))),
        // Raises TypeError: not folded.
        (_, Const::Str(_) | Const::Bytes(_) | Const::Tuple(_) | Const::None | Const::Ellipsis) => {
            Ok(None)
        }
        (UnaryOp::Invert, Const::Float(_) | Const::Complex(..)) => Ok(None),
        _ => Err(Unsupported::Construct("folding this unary operation")),
    }
}

fn fold_binop(op: Operator, left: &Const, right: &Const) -> Folded {
    if let (Some(a), Some(b)) = (as_int(left), as_int(right)) {
        if matches!(op, Operator::BitAnd | Operator::BitOr | Operator::BitXor)
            && matches!(left, Const::Bool(_))
            && matches!(right, Const::Bool(_))
        {
            let (a, b) = (a != 0, b != 0);
            return Ok(Some(Const::Bool(match op {
                Operator::BitAnd => a & b,
                Operator::BitOr => a | b,
                _ => a ^ b,
            })));
        }
        return fold_int(op, a, b);
    }
    // PyLong_AsDouble rounds half to even, as `as f64` does.
    let float = |v: &Const| match v {
        Const::Float(f) => Some(*f),
        Const::Int(i) => Some(*i as f64),
        Const::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    };
    let is_float = matches!(left, Const::Float(_)) || matches!(right, Const::Float(_));
    if is_float {
        if let (Some(a), Some(b)) = (float(left), float(right)) {
            return Ok(match op {
                Operator::Add => Some(Const::Float(a + b)),
                Operator::Sub => Some(Const::Float(a - b)),
                Operator::Mult => Some(Const::Float(a * b)),
                Operator::Div if b == 0.0 => None,
                Operator::Div => Some(Const::Float(a / b)),
                Operator::Mod | Operator::FloorDiv | Operator::Pow
                    if !a.is_finite() || !b.is_finite() =>
                {
                    return Err(Unsupported::Construct("folding this float operation"));
                }
                Operator::Mod => float_div_mod(a, b).map(|(_, m)| Const::Float(m)),
                Operator::FloorDiv => float_div_mod(a, b).map(|(d, _)| Const::Float(d)),
                Operator::Pow => float_pow(a, b)?.map(Const::Float),
                // Bitwise operators, shifts and `@` raise TypeError on floats.
                _ => None,
            });
        }
    }
    // Complex arithmetic: the other operand becomes (x, 0.0) (`TO_COMPLEX`), then parts add.
    let complex = |v: &Const| match v {
        Const::Complex(r, i) => Some((*r, *i)),
        Const::Float(f) => Some((*f, 0.0)),
        Const::Int(i) => Some((*i as f64, 0.0)),
        Const::Bool(b) => Some((f64::from(u8::from(*b)), 0.0)),
        _ => None,
    };
    if matches!(left, Const::Complex(..)) || matches!(right, Const::Complex(..)) {
        if let (Some((ar, ai)), Some((br, bi))) = (complex(left), complex(right)) {
            match op {
                Operator::Add => return Ok(Some(Const::Complex(ar + br, ai + bi))),
                Operator::Sub => return Ok(Some(Const::Complex(ar - br, ai - bi))),
                Operator::Mult | Operator::Div | Operator::Pow
                    if [ar, ai, br, bi].iter().all(|x| x.is_finite()) =>
                {
                    let (a, b) = ((ar, ai), (br, bi));
                    let result = match op {
                        Operator::Mult => Some(c_prod(a, b)),
                        Operator::Div => c_quot(a, b),
                        _ => complex_pow(a, b)?,
                    };
                    return Ok(result.map(|(r, i)| Const::Complex(r, i)));
                }
                // Floor division, modulo, shifts and bitwise operators raise TypeError.
                Operator::FloorDiv
                | Operator::Mod
                | Operator::LShift
                | Operator::RShift
                | Operator::BitOr
                | Operator::BitXor
                | Operator::BitAnd
                | Operator::MatMult => return Ok(None),
                _ => return Err(Unsupported::Construct("folding this complex operation")),
            }
        }
    }
    match (op, left, right) {
        (Operator::Mult, Const::Tuple(items), n) | (Operator::Mult, n, Const::Tuple(items))
            if as_int(n).is_some() =>
        {
            // safe_multiply: at most 256 items and 1024 nested ones.
            let n = as_int(n).unwrap_or(0);
            if items.is_empty() {
                return Ok(Some(Const::Tuple(Vec::new())));
            }
            if n < 0 || n > (256 / items.len()) as i128 {
                return Ok(None);
            }
            if n > 0 && complexity(items) > 1024 / n as usize {
                return Ok(None);
            }
            let mut out = Vec::with_capacity(items.len() * n as usize);
            for _ in 0..n {
                out.extend(items.iter().cloned());
            }
            Ok(Some(Const::Tuple(out)))
        }
        (Operator::Add, Const::Str(a), Const::Str(b)) => Ok(Some(Const::Str(format!("{a}{b}")))),
        (Operator::Add, Const::Bytes(a), Const::Bytes(b)) => {
            Ok(Some(Const::Bytes([a.as_slice(), b].concat())))
        }
        (Operator::Add, Const::Tuple(a), Const::Tuple(b)) => {
            Ok(Some(Const::Tuple(a.iter().chain(b).cloned().collect())))
        }
        (Operator::Mult, Const::Str(s), n) | (Operator::Mult, n, Const::Str(s))
            if as_int(n).is_some() =>
        {
            let n = as_int(n).unwrap_or(0);
            let size = s.chars().count() as i64;
            if size == 0 {
                return Ok(Some(Const::Str(String::new())));
            }
            if n < 0 || n > i128::from(MAX_STR_SIZE / size) {
                return Ok(None);
            }
            Ok(Some(Const::Str(s.repeat(n as usize))))
        }
        (Operator::Mult, Const::Bytes(s), n) | (Operator::Mult, n, Const::Bytes(s))
            if as_int(n).is_some() =>
        {
            let n = as_int(n).unwrap_or(0);
            let size = s.len() as i64;
            if size == 0 {
                return Ok(Some(Const::Bytes(Vec::new())));
            }
            if n < 0 || n > i128::from(MAX_STR_SIZE / size) {
                return Ok(None);
            }
            Ok(Some(Const::Bytes(s.repeat(n as usize))))
        }
        // `str % x` and `bytes % x` are never folded (safe_mod).
        (Operator::Mod, Const::Str(_) | Const::Bytes(_), _) => Ok(None),
        // Mixed types that raise TypeError: not folded.
        (_, Const::Str(_), Const::Int(_) | Const::Float(_) | Const::None)
        | (_, Const::Int(_) | Const::Float(_) | Const::None, Const::Str(_))
        | (_, Const::None, _)
        | (_, _, Const::None) => Ok(None),
        _ => Err(Unsupported::Construct("folding this binary operation")),
    }
}

/// Python's `==` between hashable constants, `None` where it is not modelled (NaN, code).
fn py_eq(a: &Const, b: &Const) -> Option<bool> {
    // Numbers compare by value across bool, int, float and complex.
    let number = |c: &Const| -> Option<(Option<i128>, f64, f64)> {
        match c {
            Const::Bool(v) => Some((Some(i128::from(*v)), f64::from(u8::from(*v)), 0.0)),
            Const::Int(i) => Some((Some(*i), *i as f64, 0.0)),
            Const::Float(f) => Some((None, *f, 0.0)),
            Const::Complex(r, i) => Some((None, *r, *i)),
            _ => None,
        }
    };
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        if x.1.is_nan() || x.2.is_nan() || y.1.is_nan() || y.2.is_nan() {
            return None;
        }
        return Some(match (x, y) {
            ((Some(i), ..), (Some(j), ..)) => i == j,
            // An int and a float are equal only when the float is that exact integer.
            ((Some(i), ..), (None, re, im)) | ((None, re, im), (Some(i), ..)) => {
                im == 0.0 && re.fract() == 0.0 && re.abs() < 2f64.powi(127) && re as i128 == i
            }
            ((None, xr, xi), (None, yr, yi)) => xr == yr && xi == yi,
        });
    }
    match (a, b) {
        (Const::BigInt(x), Const::BigInt(y)) => Some(x == y),
        // Beyond i128, so never equal to an `Int`; a float may equal it.
        (Const::BigInt(_), Const::Float(_) | Const::Complex(..))
        | (Const::Float(_) | Const::Complex(..), Const::BigInt(_)) => None,
        (Const::None, Const::None) | (Const::Ellipsis, Const::Ellipsis) => Some(true),
        (Const::Str(x), Const::Str(y)) => Some(x == y),
        (Const::Surrogates(x), Const::Surrogates(y)) => Some(x == y),
        (Const::Bytes(x), Const::Bytes(y)) => Some(x == y),
        (Const::Tuple(x), Const::Tuple(y)) => {
            if x.len() != y.len() {
                // Still only when every item is comparable.
                for item in x.iter().chain(y) {
                    py_eq(item, item)?;
                }
                return Some(false);
            }
            let mut all = true;
            for (p, q) in x.iter().zip(y) {
                all &= py_eq(p, q)?;
            }
            Some(all)
        }
        (Const::Code(..) | Const::FrozenSet(_), _) | (_, Const::Code(..) | Const::FrozenSet(_)) => {
            None
        }
        (Const::Tuple(x), _) | (_, Const::Tuple(x)) => {
            for item in x {
                py_eq(item, item)?;
            }
            Some(false)
        }
        // Different types otherwise: never equal.
        _ => Some(false),
    }
}

/// `fold_subscr`: `PyObject_GetItem` of a constant by a constant index; `None` where it raises
/// (a wrong type, an index out of range).
fn fold_subscr(value: &Const, index: &Const) -> Option<Const> {
    let i = as_int(index)?;
    let item = |len: usize| -> Option<usize> {
        let len = len as i128;
        let i = if i < 0 { i + len } else { i };
        (0..len).contains(&i).then_some(i as usize)
    };
    match value {
        Const::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            Some(Const::Str(chars[item(chars.len())?].to_string()))
        }
        Const::Surrogates(points) => {
            Some(super::strings::str_const(vec![points[item(points.len())?]]))
        }
        Const::Bytes(b) => Some(Const::Int(i128::from(b[item(b.len())?]))),
        Const::Tuple(items) => Some(items[item(items.len())?].clone()),
        _ => None,
    }
}

type Complex = (f64, f64);

/// `_Py_c_prod`
fn c_prod(a: Complex, b: Complex) -> Complex {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

/// `_Py_c_quot` (Smith's method), `None` for division by zero (EDOM: ZeroDivisionError).
#[allow(clippy::float_cmp)]
fn c_quot(a: Complex, b: Complex) -> Option<Complex> {
    let abs_breal = b.0.abs();
    let abs_bimag = b.1.abs();
    if abs_breal >= abs_bimag {
        if abs_breal == 0.0 {
            return None;
        }
        let ratio = b.1 / b.0;
        let denom = b.0 + b.1 * ratio;
        Some(((a.0 + a.1 * ratio) / denom, (a.1 - a.0 * ratio) / denom))
    } else {
        let ratio = b.0 / b.1;
        let denom = b.0 * ratio + b.1;
        Some(((a.0 * ratio + a.1) / denom, (a.1 * ratio - a.0) / denom))
    }
}

/// `complex_pow` for the small integer exponents it computes by repeated products
/// (`c_powi`); other exponents go through libm's `atan2`/`exp` and stay with CPython.
#[allow(clippy::float_cmp)]
fn complex_pow(base: Complex, exponent: Complex) -> Result<Option<Complex>, Unsupported> {
    let (real, imag) = exponent;
    if !(imag == 0.0 && real == real.floor() && real.abs() <= 100.0) {
        return Err(Unsupported::Construct("folding this complex operation"));
    }
    let n = real as i64;
    // c_powu
    let powu = |x: Complex, n: i64| {
        let mut r = (1.0, 0.0);
        let mut p = x;
        let mut mask = 1;
        while mask > 0 && n >= mask {
            if n & mask != 0 {
                r = c_prod(r, p);
            }
            mask <<= 1;
            p = c_prod(p, p);
        }
        r
    };
    let p = if n > 0 {
        powu(base, n)
    } else {
        match c_quot((1.0, 0.0), powu(base, -n)) {
            Some(p) => p,
            None => return Ok(None),
        }
    };
    // _Py_ADJUST_ERANGE2: an infinite part is an OverflowError.
    if p.0.is_infinite() || p.1.is_infinite() {
        return Ok(None);
    }
    Ok(Some(p))
}

/// `_float_div_mod` (floatobject.c): floor quotient and modulo of finite floats, `None` for
/// ZeroDivisionError (not folded).
// Exact float comparisons and the branch order of floatobject.c.
#[allow(clippy::float_cmp, clippy::if_not_else)]
fn float_div_mod(vx: f64, wx: f64) -> Option<(f64, f64)> {
    if wx == 0.0 {
        return None;
    }
    // Rust's `%` on floats is C's fmod.
    let mut modulo = vx % wx;
    let mut div = (vx - modulo) / wx;
    if modulo != 0.0 {
        if (wx < 0.0) != (modulo < 0.0) {
            modulo += wx;
            div -= 1.0;
        }
    } else {
        modulo = 0.0_f64.copysign(wx);
    }
    let floordiv = if div != 0.0 {
        let mut floordiv = div.floor();
        if div - floordiv > 0.5 {
            floordiv += 1.0;
        }
        floordiv
    } else {
        0.0_f64.copysign(vx / wx)
    };
    Some((floordiv, modulo))
}

/// `float_pow` (floatobject.c) for finite operands: `Ok(None)` where CPython raises
/// (ZeroDivisionError, OverflowError: not folded); a complex result is not folded here.
/// The platform `pow` does the rest, as in CPython.
#[allow(clippy::float_cmp)]
fn float_pow(iv: f64, iw: f64) -> Result<Option<f64>, Unsupported> {
    let is_odd_integer = |x: f64| (x.abs() % 2.0) == 1.0;
    if !iv.is_finite() || !iw.is_finite() {
        return Err(Unsupported::Construct("folding this float operation"));
    }
    if iw == 0.0 {
        return Ok(Some(1.0));
    }
    if iv == 0.0 {
        if iw < 0.0 {
            return Ok(None);
        }
        return Ok(Some(if is_odd_integer(iw) { iv } else { 0.0 }));
    }
    let mut iv = iv;
    let mut negate = false;
    if iv < 0.0 {
        if iw != iw.floor() {
            return Err(Unsupported::Construct(
                "a negative number to a fractional power",
            ));
        }
        iv = -iv;
        negate = is_odd_integer(iw);
    }
    if iv == 1.0 {
        return Ok(Some(if negate { -1.0 } else { 1.0 }));
    }
    let ix = iv.powf(iw);
    if ix.is_infinite() {
        return Ok(None);
    }
    Ok(Some(if negate { -ix } else { ix }))
}

/// `check_complexity`'s count: items, nested tuples' items included.
fn complexity(items: &[Const]) -> usize {
    items
        .iter()
        .map(|item| match item {
            Const::Tuple(inner) | Const::FrozenSet(inner) => 1 + complexity(inner),
            _ => 1,
        })
        .sum()
}

fn fold_int(op: Operator, a: i128, b: i128) -> Folded {
    match op {
        Operator::Add => int_const(
            a.checked_add(b)
                .ok_or(Unsupported::Construct("a large sum"))?,
        ),
        Operator::Sub => int_const(
            a.checked_sub(b)
                .ok_or(Unsupported::Construct("a large difference"))?,
        ),
        Operator::Mult => {
            if a != 0 && b != 0 && num_bits(a) + num_bits(b) > MAX_INT_SIZE {
                return Ok(None);
            }
            int_const(
                a.checked_mul(b)
                    .ok_or(Unsupported::Construct("a large folded product"))?,
            )
        }
        Operator::FloorDiv | Operator::Mod => {
            if b == 0 {
                return Ok(None);
            }
            let (Some(q), Some(r)) = (a.checked_div_euclid(b), a.checked_rem_euclid(b)) else {
                return Err(Unsupported::Construct("a large division"));
            };
            // Python floors the quotient; the remainder takes the divisor's sign.
            let (q, r) = if r != 0 && b < 0 {
                (q - 1, r + b)
            } else {
                (q, r)
            };
            int_const(if op == Operator::FloorDiv { q } else { r })
        }
        Operator::Pow => {
            if b < 0 {
                // long_pow: a negative exponent makes it float_pow of both as floats.
                return Ok(float_pow(a as f64, b as f64)?.map(Const::Float));
            }
            if a != 0 && b > 0 && u128::from(num_bits(a)) > u128::from(MAX_INT_SIZE) / b as u128 {
                return Ok(None);
            }
            let exp = u32::try_from(b).map_err(|_| Unsupported::Construct("a large power"))?;
            int_const(
                a.checked_pow(exp)
                    .ok_or(Unsupported::Construct("a large folded power"))?,
            )
        }
        Operator::LShift => {
            if b < 0 {
                return Ok(None);
            }
            if a != 0
                && b != 0
                && (b > i128::from(MAX_INT_SIZE)
                    || i128::from(num_bits(a)) > i128::from(MAX_INT_SIZE) - b)
            {
                return Ok(None);
            }
            if a == 0 {
                return int_const(0);
            }
            if i128::from(num_bits(a)) + b > 126 {
                return Err(Unsupported::Construct("a large shift"));
            }
            int_const(a << b)
        }
        Operator::RShift => {
            if b < 0 {
                return Ok(None);
            }
            int_const(if b >= 127 {
                if a < 0 { -1 } else { 0 }
            } else {
                a >> b
            })
        }
        Operator::BitOr => int_const(a | b),
        Operator::BitXor => int_const(a ^ b),
        Operator::BitAnd => int_const(a & b),
        Operator::Div => {
            if b == 0 {
                return Ok(None);
            }
            if a.unsigned_abs() < (1 << 53) && b.unsigned_abs() < (1 << 53) {
                return Ok(Some(Const::Float(a as f64 / b as f64)));
            }
            Err(Unsupported::Construct("a large int division"))
        }
        Operator::MatMult => Ok(None),
    }
}

/// One piece of a `"..." % (a, b)` that `optimize_format` (ast_opt.c) turns into an
/// f-string: a literal, or the index of a tuple item with its conversion and format spec.
#[derive(Debug)]
pub(crate) enum FormatPiece {
    Text(String),
    Field {
        item: usize,
        conversion: u8,
        spec: Option<String>,
    },
}

/// `optimize_format`: the pieces when the format is simple (`%s`, `%r`, `%a` with width and
/// precision below 100) and has exactly one unit per tuple item; `None` leaves the `%`.
pub(crate) fn percent_format(fmt: &str, items: usize) -> Option<Vec<FormatPiece>> {
    let chars: Vec<char> = fmt.chars().collect();
    let size = chars.len();
    let mut pos = 0;
    let mut count = 0;
    let mut pieces = Vec::new();
    loop {
        // parse_literal
        let start = pos;
        let mut text = String::new();
        while pos < size {
            if chars[pos] != '%' {
                text.push(chars[pos]);
                pos += 1;
            } else if pos + 1 < size && chars[pos + 1] == '%' {
                text.push('%');
                pos += 2;
            } else {
                break;
            }
        }
        if pos != start {
            pieces.push(FormatPiece::Text(text));
        }
        if pos >= size {
            break;
        }
        if count >= items {
            return None;
        }
        pos += 1;
        // simple_format_arg_parse
        let next = |pos: &mut usize| -> Option<char> {
            let ch = chars.get(*pos).copied()?;
            *pos += 1;
            Some(ch)
        };
        let mut ljust = false;
        let mut ch;
        loop {
            ch = next(&mut pos)?;
            match ch {
                '-' => ljust = true,
                '+' | ' ' | '#' | '0' => {}
                _ => break,
            }
        }
        let mut width: i32 = -1;
        let mut prec: i32 = -1;
        if ch.is_ascii_digit() {
            width = 0;
            let mut digits = 0;
            while ch.is_ascii_digit() {
                width = width * 10 + (ch as i32 - '0' as i32);
                ch = next(&mut pos)?;
                digits += 1;
                if digits >= 3 {
                    return None;
                }
            }
        }
        if ch == '.' {
            ch = next(&mut pos)?;
            prec = 0;
            if ch.is_ascii_digit() {
                let mut digits = 0;
                while ch.is_ascii_digit() {
                    prec = prec * 10 + (ch as i32 - '0' as i32);
                    ch = next(&mut pos)?;
                    digits += 1;
                    if digits >= 3 {
                        return None;
                    }
                }
            }
        }
        // parse_format
        let conversion = match ch {
            's' => b's',
            'r' => b'r',
            'a' => b'a',
            _ => return None,
        };
        let mut spec = String::new();
        if !ljust && width > 0 {
            spec.push('>');
        }
        if width >= 0 {
            spec.push_str(&width.to_string());
        }
        if prec >= 0 {
            spec.push('.');
            spec.push_str(&prec.to_string());
        }
        pieces.push(FormatPiece::Field {
            item: count,
            conversion,
            spec: (!spec.is_empty()).then_some(spec),
        });
        count += 1;
    }
    (count == items).then_some(pieces)
}
