//! Python's format mini-language, for f-string specs (`f"{price:.2f}"`, `f"{id:08d}"`,
//! `f"{name:>10}"`): fill and alignment, sign, zero padding, width, `,`/`_` grouping,
//! precision, and the types `s`, `d`, `b`, `o`, `x`, `X`, `f`, `F`, `e`, `E`, `%`. Floats are
//! rounded from their exact binary value and Decimals from their decimal digits, half to
//! even, as Python rounds them. Specs are parsed at start-up; a spec that does not fit its
//! value's type is Python's ValueError.

use num_bigint::BigInt;
use num_traits::Signed;

use super::decimal::Decimal;
use super::spec::Spec;
use super::value::{py_str, Val};

fn unknown_code(kind: char, value: &Val) -> String {
    format!(
        "ValueError: Unknown format code '{kind}' for object of type '{}'",
        value.type_name()
    )
}

/// `format(value, spec)`.
pub fn format_value(value: &Val, spec: &Spec) -> Result<String, String> {
    let (negative, body) = match (value, spec.kind) {
        (Val::Str(s), None | Some('s')) => {
            if spec.sign != '-' || spec.grouping.is_some() || spec.align == Some('=') {
                return Err("ValueError: Sign, grouping and '=' alignment are not allowed in string format specifier".into());
            }
            let text: String = match spec.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            };
            return Ok(pad(&text, "", spec, '<'));
        }
        (Val::Str(_), Some(kind)) => return Err(unknown_code(kind, value)),
        (Val::Bool(b), None) if spec.precision.is_none() && spec.grouping.is_none() => {
            return Ok(pad(&py_str(&Val::Bool(*b)), "", spec, '<'))
        }
        (Val::Bool(b), _) => integer(&BigInt::from(u8::from(*b)), spec, value)?,
        (Val::Int(n), _) => integer(n, spec, value)?,
        (Val::Float(f), _) => float(*f, spec, value)?,
        (Val::Dec(d), _) => decimal(d, spec, value)?,
        (other, None) if spec.precision.is_none() => {
            return Ok(pad(&py_str(other), "", spec, '<'));
        }
        (other, _) => {
            return Err(format!(
                "TypeError: unsupported format string passed to {}.__format__",
                other.type_name()
            ))
        }
    };
    let sign = match (negative, spec.sign) {
        (true, _) => "-",
        (false, '+') => "+",
        (false, ' ') => " ",
        _ => "",
    };
    let (prefix, body) = body.split_once('\t').unwrap_or(("", &body));
    Ok(pad(body, &format!("{sign}{prefix}"), spec, '>'))
}

/// An integer's digits (without sign) for its type.
fn integer(n: &BigInt, spec: &Spec, value: &Val) -> Result<(bool, String), String> {
    let negative = n.is_negative();
    let magnitude = n.abs();
    let (digits, prefix) = match spec.kind {
        None | Some('d') => (magnitude.to_str_radix(10), ""),
        Some('b') => (magnitude.to_str_radix(2), "0b"),
        Some('o') => (magnitude.to_str_radix(8), "0o"),
        Some('x') => (magnitude.to_str_radix(16), "0x"),
        Some('X') => (magnitude.to_str_radix(16).to_uppercase(), "0X"),
        Some('f' | 'F' | 'e' | 'E' | '%') => {
            let f = super::ops::int_to_f64(n)?;
            return float(f, spec, value);
        }
        Some(kind) => return Err(unknown_code(kind, value)),
    };
    if spec.precision.is_some() {
        return Err("ValueError: Precision not allowed in integer format specifier".into());
    }
    let every = if matches!(spec.kind, None | Some('d')) {
        3
    } else {
        4
    };
    let digits = group(&digits, spec.grouping, every);
    let prefix = if spec.alternate { prefix } else { "" };
    // A `0x`-style prefix goes before `=` padding, as the sign does: marked by a tab.
    Ok((negative, format!("{prefix}\t{digits}")))
}

/// A float's digits (without sign) for its type.
fn float(f: f64, spec: &Spec, value: &Val) -> Result<(bool, String), String> {
    let negative = f.is_sign_negative() && !f.is_nan();
    let a = f.abs();
    let precision = spec.precision.unwrap_or(6);
    let body = if !a.is_finite() {
        let text = if a.is_nan() { "nan" } else { "inf" };
        if matches!(spec.kind, Some('F' | 'E')) {
            text.to_uppercase()
        } else {
            text.to_string()
        }
    } else {
        match spec.kind {
            Some('f' | 'F') => group_number(&format!("{a:.precision$}"), spec.grouping),
            Some('%') => format!("{}%", group_number(&format!("{:.precision$}", a * 100.0), spec.grouping)),
            Some(kind @ ('e' | 'E')) => {
                let text = format!("{a:.precision$e}");
                let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
                let exponent: i32 = exponent.parse().unwrap_or(0);
                let e = if kind == 'E' { 'E' } else { 'e' };
                format!("{mantissa}{e}{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs())
            }
            None if spec.precision.is_none() => {
                group_number(&super::value::float_repr(a), spec.grouping)
            }
            None => return Err(format!("format spec with a precision and no type for a float is not supported; add f or e (value {})", super::value::float_repr(f))),
            Some(kind) => return Err(unknown_code(kind, value)),
        }
    };
    Ok((negative, body))
}

/// A Decimal's digits (without sign): `f`, `F` and `%` round its decimal digits half to even.
fn decimal(d: &Decimal, spec: &Spec, value: &Val) -> Result<(bool, String), String> {
    let negative = d.neg;
    let magnitude = Decimal {
        neg: false,
        ..d.clone()
    };
    let fixed = |m: &Decimal, places: usize| -> Result<String, String> {
        let rounded = m.quantize(places)?;
        let text = rounded.to_plain_string();
        Ok(group_number(&text, spec.grouping))
    };
    let body = match spec.kind {
        Some('f' | 'F') => match spec.precision {
            Some(p) => fixed(&magnitude, p)?,
            None => group_number(&magnitude.to_plain_string(), spec.grouping),
        },
        Some('%') => {
            // × 100, exactly.
            let scaled = Decimal {
                exp: magnitude.exp + 2,
                ..magnitude.clone()
            };
            format!(
                "{}%",
                match spec.precision {
                    Some(p) => fixed(&scaled, p)?,
                    None => group_number(&scaled.to_plain_string(), spec.grouping),
                }
            )
        }
        None if spec.precision.is_none() => group_number(&magnitude.to_sci_string(), spec.grouping),
        Some(kind) => return Err(unknown_code(kind, value)),
        None => {
            return Err(
                "format spec with a precision and no type for a Decimal is not supported; add f"
                    .into(),
            )
        }
    };
    Ok((negative, body))
}

/// Inserts a grouping character every `every` digits of a digit string.
fn group(digits: &str, grouping: Option<char>, every: usize) -> String {
    let Some(sep) = grouping else {
        return digits.to_string();
    };
    let chars: Vec<char> = digits.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if i > 0 && (chars.len() - i) % every == 0 {
            out.push(sep);
        }
        out.push(*c);
    }
    out
}

/// Groups the integer part of a plain number (`1234.5` → `1,234.5`).
fn group_number(text: &str, grouping: Option<char>) -> String {
    let (int, rest) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    format!("{}{rest}", group(int, grouping, 3))
}

/// Pads `sign` + `body` to the spec's width with its fill and alignment.
fn pad(body: &str, sign: &str, spec: &Spec, default_align: char) -> String {
    let len = sign.chars().count() + body.chars().count();
    if len >= spec.width {
        return format!("{sign}{body}");
    }
    let fill = |n: usize| std::iter::repeat_n(spec.fill, n).collect::<String>();
    let padding = spec.width - len;
    match spec.align.unwrap_or(default_align) {
        '<' => format!("{sign}{body}{}", fill(padding)),
        '^' => format!(
            "{}{sign}{body}{}",
            fill(padding / 2),
            fill(padding - padding / 2)
        ),
        '=' => format!("{sign}{}{body}", fill(padding)),
        _ => format!("{}{sign}{body}", fill(padding)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::spec::parse_spec;

    fn f(value: Val, spec: &str) -> String {
        match parse_spec(spec).and_then(|s| format_value(&value, &s)) {
            Ok(text) => text,
            Err(e) => format!("error: {e}"),
        }
    }

    fn dec(text: &str) -> Val {
        Val::Dec(Decimal::parse(text).unwrap())
    }

    #[test]
    fn specs_format_as_python_formats() {
        assert_eq!(f(Val::Float(1.23456), ".2f"), "1.23");
        assert_eq!(f(Val::Float(2.675), ".2f"), "2.67");
        assert_eq!(f(dec("2.675"), ".2f"), "2.68");
        assert_eq!(f(dec("-1234.5"), ",.2f"), "-1,234.50");
        assert_eq!(f(Val::int(42), "08d"), "00000042");
        assert_eq!(f(Val::int(-42), "08d"), "-0000042");
        assert_eq!(f(Val::int(1234567), ","), "1,234,567");
        assert_eq!(f(Val::int(255), "#x"), "0xff");
        assert_eq!(f(Val::int(255), "#06x"), "0x00ff");
        assert_eq!(f(Val::int(-255), "#b"), "-0b11111111");
        assert_eq!(f(Val::int(255), "X"), "FF");
        assert_eq!(f(Val::int(5), "+d"), "+5");
        assert_eq!(f(Val::Str("ab".into()), ">5"), "   ab");
        assert_eq!(f(Val::Str("ab".into()), "*^6"), "**ab**");
        assert_eq!(f(Val::Str("abcdef".into()), ".3"), "abc");
        assert_eq!(f(Val::Float(0.25), ".1%"), "25.0%");
        assert_eq!(f(Val::Float(12345.678), ".2e"), "1.23e+04");
        assert_eq!(f(Val::Float(1.5), ""), "1.5");
        assert_eq!(f(Val::int(7), ".2f"), "7.00");
        assert_eq!(f(Val::Bool(true), ""), "True");
        assert_eq!(
            f(Val::Str("x".into()), "d"),
            "error: ValueError: Unknown format code 'd' for object of type 'str'"
        );
        assert!(f(Val::int(1), "n").contains("type 'n' is not supported"));
        assert!(f(Val::int(1), ".2d").contains("Precision not allowed"));
    }
}
