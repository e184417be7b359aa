//! The values map expressions compute with: Python's `None`, `bool`, `int` (unbounded),
//! `float`, `Decimal` (a record's non-integer numbers, as singer-sdk reads them), `str`,
//! `list`, `tuple`, `dict`, the `datetime` types, and the functions and modules an
//! expression can name. Here: their Python type names, `str()` and `repr()`, truthiness,
//! equality and ordering, all as Python defines them.

use std::cmp::Ordering;

use num_bigint::{BigInt, Sign};
use num_traits::{Signed, Zero};

use super::datetime::{offset_text, Date, DateTime, Delta};
use super::decimal::Decimal;

/// A Python value.
#[derive(Debug, Clone)]
pub enum Val {
    /// `None`
    None,
    /// `True` / `False`
    Bool(bool),
    /// An `int`.
    Int(BigInt),
    /// A `float`.
    Float(f64),
    /// A `decimal.Decimal`.
    Dec(Decimal),
    /// A `str`.
    Str(String),
    /// A `list`.
    List(Vec<Val>),
    /// A `tuple`.
    Tuple(Vec<Val>),
    /// A `dict`, in insertion order.
    Dict(Vec<(Val, Val)>),
    /// `dict.keys()`, `.values()` or `.items()`: iterable, not a JSON value.
    View(View, Vec<Val>),
    /// A `datetime.date`.
    Date(Date),
    /// A `datetime.datetime`.
    DateTime(DateTime),
    /// A `datetime.timedelta`.
    Delta(Delta),
    /// A `datetime.timezone`: its UTC offset in seconds.
    Zone(i32),
    /// A built-in function or class, by its dotted name (`int`, `datetime.date`,
    /// `json.dumps`).
    Func(&'static str),
    /// A module: `datetime` or `json`.
    Module(&'static str),
    /// A method of a value, not called yet.
    Method(Box<Val>, String),
}

/// Which view of a dict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `dict_keys`
    Keys,
    /// `dict_values`
    Values,
    /// `dict_items`
    Items,
}

impl Val {
    /// Python's name for the value's type, as its error messages show it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::None => "NoneType",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float",
            Val::Dec(_) => "decimal.Decimal",
            Val::Str(_) => "str",
            Val::List(_) => "list",
            Val::Tuple(_) => "tuple",
            Val::Dict(_) => "dict",
            Val::View(View::Keys, _) => "dict_keys",
            Val::View(View::Values, _) => "dict_values",
            Val::View(View::Items, _) => "dict_items",
            Val::Date(_) => "datetime.date",
            Val::DateTime(_) => "datetime.datetime",
            Val::Delta(_) => "datetime.timedelta",
            Val::Zone(_) => "datetime.timezone",
            Val::Func(name) if is_class(name) => "type",
            Val::Func(_) => "builtin_function_or_method",
            Val::Module(_) => "module",
            Val::Method(..) => "builtin_function_or_method",
        }
    }

    /// Python's truth value.
    pub fn truthy(&self) -> bool {
        match self {
            Val::None => false,
            Val::Bool(b) => *b,
            Val::Int(n) => !n.is_zero(),
            Val::Float(f) => *f != 0.0,
            Val::Dec(d) => !d.is_zero(),
            Val::Str(s) => !s.is_empty(),
            Val::List(items) | Val::Tuple(items) | Val::View(_, items) => !items.is_empty(),
            Val::Dict(entries) => !entries.is_empty(),
            Val::Delta(delta) => !delta.is_zero(),
            _ => true,
        }
    }

    /// An `int` from a Rust integer.
    pub fn int(n: impl Into<BigInt>) -> Val {
        Val::Int(n.into())
    }

    /// The string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Whether a built-in's dotted name is a class (callable, with attributes of its own).
pub fn is_class(name: &str) -> bool {
    matches!(
        name,
        "int"
            | "float"
            | "str"
            | "bool"
            | "list"
            | "tuple"
            | "dict"
            | "datetime.datetime"
            | "datetime.date"
            | "datetime.timedelta"
            | "datetime.timezone"
    )
}

/// Python's `str(value)`.
pub fn py_str(value: &Val) -> String {
    match value {
        Val::Str(s) => s.clone(),
        Val::Dec(d) => d.to_sci_string(),
        Val::Date(date) => date.isoformat(),
        Val::DateTime(dt) => dt.isoformat(' '),
        Val::Delta(delta) => delta.to_string(),
        Val::Zone(offset) => zone_str(*offset),
        _ => py_repr(value),
    }
}

/// Python's `repr(value)`.
pub fn py_repr(value: &Val) -> String {
    match value {
        Val::None => "None".into(),
        Val::Bool(true) => "True".into(),
        Val::Bool(false) => "False".into(),
        Val::Int(n) => n.to_string(),
        Val::Float(f) => float_repr(*f),
        Val::Dec(d) => format!("Decimal('{}')", d.to_sci_string()),
        Val::Str(s) => str_repr(s),
        Val::List(items) => format!("[{}]", join_repr(items)),
        Val::Tuple(items) if items.len() == 1 => format!("({},)", join_repr(items)),
        Val::Tuple(items) => format!("({})", join_repr(items)),
        Val::Dict(entries) => format!("{{{}}}", join_entries(entries)),
        Val::View(_, items) => format!("{}([{}])", value.type_name(), join_repr(items)),
        Val::Date(date) => date.repr(),
        Val::DateTime(dt) => dt.repr(),
        Val::Delta(delta) => delta.repr(),
        Val::Zone(0) => "datetime.timezone.utc".into(),
        Val::Zone(offset) => format!(
            "datetime.timezone({})",
            Delta::from_micros(i128::from(*offset) * 1_000_000).repr()
        ),
        Val::Func(name) if is_class(name) => format!("<class '{name}'>"),
        Val::Func(name) => format!("<built-in function {name}>"),
        Val::Module(name) => format!("<module '{name}'>"),
        Val::Method(owner, name) => {
            format!("<built-in method {name} of {} object>", owner.type_name())
        }
    }
}

fn join_repr(items: &[Val]) -> String {
    items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
}

fn join_entries(entries: &[(Val, Val)]) -> String {
    entries
        .iter()
        .map(|(k, v)| format!("{}: {}", py_repr(k), py_repr(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `str(timezone)`: `UTC`, or `UTC+01:00`.
fn zone_str(offset: i32) -> String {
    if offset == 0 {
        return "UTC".into();
    }
    format!("UTC{}", offset_text(offset))
}

/// Python's `repr()` of a string: single quotes unless it holds one and no double quote.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let code = c as u32;
                if code < 0x100 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code < 0x10000 {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable()` for one character, closely enough: control and format
/// characters and every space but U+0020 are escaped by `repr()`.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}'))
}

/// Python's `repr()` of a float: the shortest digits that round-trip, in fixed notation
/// from 1e-4 up to 1e16, else in exponent notation (`1e+16`, `1.5e-05`).
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e3", "-5e-7".
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let point = exponent + 1;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if (-3..=16).contains(&point) {
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
            out.push_str(&digits);
        } else if point as usize >= digits.len() {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = point - 1;
        out.push_str(&format!("e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()));
    }
    out
}

/// A number as an exact fraction, for comparisons across int, float and Decimal.
enum Exact {
    Fraction(BigInt, BigInt),
    Nan,
    Infinite(bool),
}

fn exact(value: &Val) -> Option<Exact> {
    Some(match value {
        Val::Bool(b) => Exact::Fraction(BigInt::from(u8::from(*b)), BigInt::from(1)),
        Val::Int(n) => Exact::Fraction(n.clone(), BigInt::from(1)),
        Val::Dec(d) => {
            let (n, den) = d.to_fraction();
            Exact::Fraction(n, den)
        }
        Val::Float(f) if f.is_nan() => Exact::Nan,
        Val::Float(f) if f.is_infinite() => Exact::Infinite(*f > 0.0),
        Val::Float(f) => {
            let (n, d) = float_fraction(*f);
            Exact::Fraction(n, d)
        }
        _ => return None,
    })
}

/// A finite float as an exact fraction.
pub fn float_fraction(f: f64) -> (BigInt, BigInt) {
    let bits = f.to_bits();
    let sign = if bits >> 63 == 1 {
        Sign::Minus
    } else {
        Sign::Plus
    };
    let exponent = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exp) = if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), exponent - 1075)
    };
    let mantissa = BigInt::from_biguint(sign, mantissa.into());
    if exp >= 0 {
        (mantissa << exp as usize, BigInt::from(1))
    } else {
        (mantissa, BigInt::from(1) << (-exp) as usize)
    }
}

/// Whether a value is a number (`bool` included, as in Python).
pub fn is_number(value: &Val) -> bool {
    matches!(
        value,
        Val::Bool(_) | Val::Int(_) | Val::Float(_) | Val::Dec(_)
    )
}

/// Compares two numbers exactly; `None` when a NaN is involved.
fn cmp_numbers(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => return Some(x.cmp(y)),
        (Val::Float(x), Val::Float(y)) => return x.partial_cmp(y),
        _ => {}
    }
    match (exact(a)?, exact(b)?) {
        (Exact::Nan, _) | (_, Exact::Nan) => None,
        (Exact::Infinite(x), Exact::Infinite(y)) => Some(x.cmp(&y)),
        (Exact::Infinite(positive), _) => Some(if positive {
            Ordering::Greater
        } else {
            Ordering::Less
        }),
        (_, Exact::Infinite(positive)) => Some(if positive {
            Ordering::Less
        } else {
            Ordering::Greater
        }),
        (Exact::Fraction(an, ad), Exact::Fraction(bn, bd)) => Some((an * &bd).cmp(&(bn * &ad))),
    }
}

/// Python's `a == b`.
pub fn py_eq(a: &Val, b: &Val) -> bool {
    if is_number(a) && is_number(b) {
        return cmp_numbers(a, b) == Some(Ordering::Equal);
    }
    match (a, b) {
        (Val::None, Val::None) => true,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::List(x), Val::List(y)) | (Val::Tuple(x), Val::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| py_eq(a, b))
        }
        (Val::Dict(x), Val::Dict(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .find(|(k2, _)| py_eq(k, k2))
                        .is_some_and(|(_, v2)| py_eq(v, v2))
                })
        }
        (Val::Date(x), Val::Date(y)) => x == y,
        (Val::DateTime(x), Val::DateTime(y)) => x.eq_instant(y),
        (Val::Delta(x), Val::Delta(y)) => x == y,
        (Val::Zone(x), Val::Zone(y)) => x == y,
        (Val::Func(x), Val::Func(y)) | (Val::Module(x), Val::Module(y)) => x == y,
        _ => false,
    }
}

/// Python's ordering of `a` and `b` for `<` and friends: `Ok(None)` when unordered (NaN),
/// an error when Python raises TypeError.
pub fn py_cmp(a: &Val, b: &Val, op: &str) -> Result<Option<Ordering>, String> {
    if is_number(a) && is_number(b) {
        // Python orders floats and Decimals exactly (only arithmetic mixing them is refused).
        return Ok(cmp_numbers(a, b));
    }
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Ok(Some(x.cmp(y))),
        (Val::List(x), Val::List(y)) | (Val::Tuple(x), Val::Tuple(y)) => {
            for (p, q) in x.iter().zip(y) {
                if !py_eq(p, q) {
                    return py_cmp(p, q, op);
                }
            }
            Ok(Some(x.len().cmp(&y.len())))
        }
        (Val::Date(x), Val::Date(y)) => Ok(Some(x.cmp(y))),
        (Val::DateTime(x), Val::DateTime(y)) => x.cmp_instant(y).map(Some),
        (Val::Delta(x), Val::Delta(y)) => Ok(Some(x.cmp(y))),
        _ => Err(format!(
            "TypeError: '{op}' not supported between instances of '{}' and '{}'",
            a.type_name(),
            b.type_name()
        )),
    }
}

/// Most values (counted by [`weight`]) one evaluation may build by repeating or collecting
/// them: Python shares repeated objects, a copy does not, so a list of a list of a million
/// items is refused here instead of exhausting memory.
pub const MAX_WEIGHT: usize = 1_000_000;

/// How many values `value` is made of (strings count one per 64 bytes).
pub fn weight(value: &Val) -> usize {
    match value {
        Val::Str(s) => 1 + s.len() / 64,
        Val::List(items) | Val::Tuple(items) | Val::View(_, items) => {
            1 + items.iter().map(weight).sum::<usize>()
        }
        Val::Dict(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| weight(k) + weight(v))
                .sum::<usize>()
        }
        Val::Method(owner, _) => 1 + weight(owner),
        _ => 1,
    }
}

/// Whether a value can be a dict key (Python's hashable types).
pub fn check_hashable(value: &Val) -> Result<(), String> {
    match value {
        Val::List(_) | Val::Dict(_) | Val::View(..) => Err(format!(
            "TypeError: unhashable type: '{}'",
            value.type_name()
        )),
        Val::Tuple(items) => items.iter().try_for_each(check_hashable),
        _ => Ok(()),
    }
}

/// Looks a key up in a dict's entries, by Python equality.
pub fn dict_get<'a>(entries: &'a [(Val, Val)], key: &Val) -> Option<&'a Val> {
    entries.iter().find(|(k, _)| py_eq(k, key)).map(|(_, v)| v)
}

/// Sets a key in a dict's entries: an existing key keeps its place, as in Python.
pub fn dict_set(entries: &mut Vec<(Val, Val)>, key: Val, value: Val) -> Result<(), String> {
    check_hashable(&key)?;
    match entries.iter_mut().find(|(k, _)| py_eq(k, &key)) {
        Some(entry) => entry.1 = value,
        None => entries.push((key, value)),
    }
    Ok(())
}

/// An `int` as `i64`, if it fits (indexes, counts).
pub fn small_int(value: &Val) -> Option<i64> {
    match value {
        Val::Bool(b) => Some(i64::from(*b)),
        Val::Int(n) => i64::try_from(n).ok(),
        _ => None,
    }
}

/// Whether an int is negative (for error messages about indexes and counts).
pub fn is_negative(value: &BigInt) -> bool {
    value.is_negative()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_is_pythons() {
        for (f, shown) in [
            (1640995200.0, "1640995200.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (-2.5, "-2.5"),
            (1.2345e20, "1.2345e+20"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(float_repr(f), shown, "{f}");
        }
    }

    #[test]
    fn str_and_repr_are_pythons() {
        let list = Val::List(vec![
            Val::Str("it's".into()),
            Val::Int(1.into()),
            Val::None,
            Val::Tuple(vec![Val::Bool(true)]),
            Val::Dict(vec![(Val::Str("a".into()), Val::Float(1.0))]),
        ]);
        assert_eq!(py_str(&list), "[\"it's\", 1, None, (True,), {'a': 1.0}]");
        assert_eq!(
            py_repr(&Val::Str("a\n'\"\u{7}é".into())),
            "'a\\n\\'\"\\x07é'"
        );
        assert_eq!(py_str(&Val::Dec(Decimal::parse("3.140").unwrap())), "3.140");
    }

    #[test]
    fn numbers_compare_exactly_across_types() {
        let one = Val::Int(1.into());
        assert!(py_eq(&one, &Val::Float(1.0)));
        assert!(py_eq(&one, &Val::Bool(true)));
        assert!(py_eq(&Val::Dec(Decimal::parse("1.0").unwrap()), &one));
        // 0.1 as a float is not exactly 1/10.
        assert!(!py_eq(
            &Val::Float(0.1),
            &Val::Dec(Decimal::parse("0.1").unwrap())
        ));
        let big = Val::Int(BigInt::from(2).pow(60) + 1);
        assert!(!py_eq(&big, &Val::Float(2f64.powi(60))));
        assert_eq!(py_cmp(&Val::Float(f64::NAN), &one, "<").unwrap(), None);
        assert!(py_cmp(&Val::Str("a".into()), &one, "<")
            .unwrap_err()
            .contains("'<' not supported between instances of 'str' and 'int'"));
    }
}
