//! The values of the `JoinedStr` CPython 3.12's parser makes of an f-string (Ruff keeps the
//! parts apart): `_PyPegen_concatenate_strings` joins adjacent literals, `=` fields
//! (`_PyPegen_formatted_value`) add their text as a literal, and a format spec keeps the
//! pieces the tokenizer gave, an empty literal after a trailing field included.

use super::Unsupported;
use super::strings;
use ruff_python_ast::{self as ast};
use ruff_text_size::{TextRange, TextSize};

/// One value of a `JoinedStr`.
pub(crate) enum Value<'e> {
    /// A constant string and the source it spans.
    Text(Vec<u32>, TextRange),
    /// A replacement field with its conversion (`b's'`, `b'r'`, `b'a'`, or 0).
    Field(&'e ast::InterpolatedElement, u8),
}

fn conversion(field: &ast::InterpolatedElement) -> u8 {
    match field.conversion {
        ast::ConversionFlag::None => 0,
        ast::ConversionFlag::Str => b's',
        ast::ConversionFlag::Repr => b'r',
        ast::ConversionFlag::Ascii => b'a',
    }
}

/// The values of an f-string expression (with the plain strings concatenated to it).
pub(crate) fn joined_values<'e>(
    text: &str,
    fstring: &'e ast::ExprFString,
) -> Result<Vec<Value<'e>>, Unsupported> {
    let mut flat: Vec<Value> = Vec::new();
    for part in fstring.value.iter() {
        match part {
            ast::FStringPart::Literal(literal) => {
                flat.push(Value::Text(
                    strings::part_value(text, literal)?,
                    literal.range,
                ));
            }
            ast::FStringPart::FString(f) => {
                let raw = f.flags.prefix().is_raw();
                for element in f.elements.iter() {
                    match element {
                        ast::InterpolatedStringElement::Literal(literal) => {
                            let value = strings::fstring_literal_value(text, literal, raw)?;
                            flat.push(Value::Text(value, literal.range));
                        }
                        ast::InterpolatedStringElement::Interpolation(field) => {
                            let mut conv = conversion(field);
                            if let Some(debug) = &field.debug_text {
                                flat.push(debug_value(field, debug)?);
                                if conv == 0 && field.format_spec.is_none() {
                                    conv = b'r';
                                }
                            }
                            flat.push(Value::Field(field, conv));
                        }
                    }
                }
            }
        }
    }
    // Adjacent constants become one, spanning from the first to the last.
    let mut values: Vec<Value> = Vec::new();
    for value in flat {
        match (values.last_mut(), value) {
            (Some(Value::Text(text, range)), Value::Text(more, more_range)) => {
                text.extend(more);
                *range = TextRange::new(range.start(), more_range.end());
            }
            (_, value) => values.push(value),
        }
    }
    values.retain(|v| !matches!(v, Value::Text(text, _) if text.is_empty()));
    Ok(values)
}

/// The `x=` text of an `=` field: a constant from after the `{` to the `!`, `:` or `}`.
fn debug_value<'e>(
    field: &ast::InterpolatedElement,
    debug: &ast::DebugText,
) -> Result<Value<'e>, Unsupported> {
    let source = debug.as_str();
    // CPython decodes escapes and braces in it again (`_PyPegen_decode_fstring_part`), and its
    // tokenizer leaves comments out of it.
    if source.contains(['\\', '{', '}', '#']) {
        return Err(Unsupported::Construct("an f-string `=` field with escapes"));
    }
    let start = field.range.start() + TextSize::from(1);
    let end = start + TextSize::of(source);
    Ok(Value::Text(
        source.chars().map(u32::from).collect(),
        TextRange::new(start, end),
    ))
}

/// The values of a format spec (not joined: the parser builds that `JoinedStr` directly),
/// and the span of that `JoinedStr`: from the `:` to the field's closing `}`.
pub(crate) fn spec_values<'e>(
    text: &str,
    field: &ast::InterpolatedElement,
    spec: &'e ast::InterpolatedStringFormatSpec,
) -> Result<(Vec<Value<'e>>, TextRange), Unsupported> {
    let mut start = spec.range.start();
    if text[..start.to_usize()].ends_with(':') {
        start -= TextSize::from(1);
    }
    let end = field.range.end() - TextSize::from(1);
    if !text[start.to_usize()..].starts_with(':') || !text[end.to_usize()..].starts_with('}') {
        return Err(Unsupported::Construct("this f-string format spec"));
    }
    let mut values = Vec::new();
    let mut trailing_field = None;
    for element in spec.elements.iter() {
        match element {
            ast::InterpolatedStringElement::Literal(literal) => {
                let source = &text[literal.range];
                // A newline there is dropped by the tokenizer; surrogates need the f-string's
                // raw flag.
                if source.contains('\n') || strings::may_spell_surrogate(source) {
                    return Err(Unsupported::Construct("this f-string format spec"));
                }
                values.push(Value::Text(
                    literal.value.chars().map(u32::from).collect(),
                    literal.range,
                ));
                trailing_field = None;
            }
            ast::InterpolatedStringElement::Interpolation(inner) => {
                if inner.debug_text.is_some() {
                    return Err(Unsupported::Construct(
                        "an `=` field in an f-string format spec",
                    ));
                }
                values.push(Value::Field(inner, conversion(inner)));
                trailing_field = Some(inner.range.end());
            }
        }
    }
    // The tokenizer gives an empty literal between a trailing field and the `}`.
    if let Some(at) = trailing_field {
        values.push(Value::Text(Vec::new(), TextRange::empty(at)));
    }
    Ok((values, TextRange::new(start, end)))
}
