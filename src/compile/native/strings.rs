//! String literal values as CPython has them: sequences of code points that may hold lone
//! surrogates (`"\udc80"`), which Ruff's AST cannot (it keeps Rust `str`s and puts U+FFFD in
//! their place). A literal whose source may spell one is decoded again from its source text,
//! after `decode_unicode_with_escapes` (`Parser/string_parser.c`) and
//! `_PyUnicode_DecodeUnicodeEscapeInternal`.

use super::Unsupported;
use super::code::Const;
use ruff_python_ast::{self as ast, AnyStringFlags, StringFlags};
use ruff_text_size::TextRange;

/// Whether source text may spell a lone surrogate (`\\udc80`, `\\U0000d800`), which Ruff
/// cannot hold and replaces with U+FFFD.
pub(crate) fn may_spell_surrogate(source: &str) -> bool {
    let bytes = source.as_bytes();
    // Both spellings start with a backslash: look only there.
    memchr::memchr_iter(b'\\', bytes).any(|i| {
        let rest = &bytes[i..];
        let surrogate = |digits: &[u8]| {
            digits.len() >= 2
                && matches!(digits[0], b'd' | b'D')
                && matches!(digits[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
        };
        (rest.starts_with(b"\\u") && surrogate(&rest[2..]))
            || (rest.starts_with(b"\\U0000") && surrogate(&rest[6..]))
    })
}

/// The value of a (possibly implicitly concatenated) string literal.
pub(crate) fn str_value(text: &str, s: &ast::ExprStringLiteral) -> Result<Vec<u32>, Unsupported> {
    let mut out = Vec::new();
    for part in s.value.iter() {
        out.extend(part_value(text, part)?);
    }
    Ok(out)
}

/// The constant a (possibly implicitly concatenated) string literal is: `str_const` of
/// [`str_value`], without the detour through code points when no part can spell a lone
/// surrogate (Ruff's own value is then exact).
pub(crate) fn str_literal_const(
    text: &str,
    s: &ast::ExprStringLiteral,
) -> Result<Const, Unsupported> {
    let exact = |part: &ast::StringLiteral| {
        AnyStringFlags::from(part.flags).prefix().is_raw()
            || !may_spell_surrogate(&text[part.range])
    };
    if s.value.iter().all(exact) {
        let mut out = String::with_capacity(s.value.iter().map(|part| part.value.len()).sum());
        for part in s.value.iter() {
            out.push_str(&part.value);
        }
        return Ok(Const::Str(out));
    }
    Ok(str_const(str_value(text, s)?))
}

/// The value of one string literal.
pub(crate) fn part_value(text: &str, part: &ast::StringLiteral) -> Result<Vec<u32>, Unsupported> {
    let flags = AnyStringFlags::from(part.flags);
    decode(text, part.range, &part.value, flags)
}

/// The value of a literal piece of an f-string (`raw` if the f-string is).
pub(crate) fn fstring_literal_value(
    text: &str,
    literal: &ast::InterpolatedStringLiteralElement,
    raw: bool,
) -> Result<Vec<u32>, Unsupported> {
    if raw || !may_spell_surrogate(&text[literal.range]) {
        return Ok(literal.value.chars().map(u32::from).collect());
    }
    unescape(&text[literal.range], true)
}

fn decode(
    text: &str,
    range: TextRange,
    value: &str,
    flags: AnyStringFlags,
) -> Result<Vec<u32>, Unsupported> {
    let source = &text[range];
    if flags.prefix().is_raw() || !may_spell_surrogate(source) {
        return Ok(value.chars().map(u32::from).collect());
    }
    let body = TextRange::new(
        range.start() + flags.opener_len(),
        range.end() - flags.closer_len(),
    );
    unescape(&text[body], false)
}

/// `_PyUnicode_DecodeUnicodeEscapeInternal` on a literal's body; `braces` when `{{` and
/// `}}` stand for one brace (f-string literal text).
fn unescape(body: &str, braces: bool) -> Result<Vec<u32>, Unsupported> {
    let chars: Vec<char> = body.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    let hex = |digits: &[char]| -> Option<u32> {
        digits
            .iter()
            .try_fold(0u32, |acc, c| Some(acc * 16 + c.to_digit(16)?))
    };
    while i < chars.len() {
        let c = chars[i];
        if braces && (c == '{' || c == '}') && chars.get(i + 1) == Some(&c) {
            out.push(u32::from(c));
            i += 2;
            continue;
        }
        if c != '\\' || i + 1 >= chars.len() {
            out.push(u32::from(c));
            i += 1;
            continue;
        }
        let e = chars[i + 1];
        i += 2;
        let simple = match e {
            '\n' => Some(None),
            '\\' | '\'' | '"' => Some(Some(u32::from(e))),
            'b' => Some(Some(8)),
            'f' => Some(Some(12)),
            't' => Some(Some(9)),
            'n' => Some(Some(10)),
            'r' => Some(Some(13)),
            'v' => Some(Some(11)),
            'a' => Some(Some(7)),
            _ => None,
        };
        if let Some(simple) = simple {
            out.extend(simple);
            continue;
        }
        match e {
            '0'..='7' => {
                let mut value = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.get(i).and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push(value);
            }
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let value = chars
                    .get(i..i + n)
                    .and_then(hex)
                    .filter(|&v| v <= 0x0010_ffff)
                    .ok_or(Unsupported::Parse("a bad escape".into()))?;
                out.push(value);
                i += n;
            }
            'N' => {
                return Err(Unsupported::Construct(
                    "a named escape next to a lone surrogate",
                ));
            }
            // An unknown escape keeps its backslash (a SyntaxWarning).
            _ => {
                out.push(u32::from('\\'));
                out.push(u32::from(e));
            }
        }
    }
    Ok(out)
}

/// The constant a string value is: `Const::Str` unless it holds a lone surrogate.
pub(crate) fn str_const(value: Vec<u32>) -> Const {
    match points_to_string(&value) {
        Some(s) => Const::Str(s),
        None => Const::Surrogates(value),
    }
}

/// The value as a Rust string, if it has no lone surrogate.
pub(crate) fn points_to_string(value: &[u32]) -> Option<String> {
    value.iter().map(|&c| char::from_u32(c)).collect()
}

/// The UTF-8 encoding with `surrogatepass`, as `marshal` writes a `str`.
pub(crate) fn surrogatepass_utf8(value: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &c in value {
        match c {
            0..=0x7f => out.push(c as u8),
            0x80..=0x7ff => {
                out.push(0xc0 | (c >> 6) as u8);
                out.push(0x80 | (c & 0x3f) as u8);
            }
            0x800..=0xffff => {
                out.push(0xe0 | (c >> 12) as u8);
                out.push(0x80 | ((c >> 6) & 0x3f) as u8);
                out.push(0x80 | (c & 0x3f) as u8);
            }
            _ => {
                out.push(0xf0 | (c >> 18) as u8);
                out.push(0x80 | ((c >> 12) & 0x3f) as u8);
                out.push(0x80 | ((c >> 6) & 0x3f) as u8);
                out.push(0x80 | (c & 0x3f) as u8);
            }
        }
    }
    out
}
