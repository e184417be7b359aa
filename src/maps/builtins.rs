//! The functions map expressions call by name (`int`, `float`, `str`, `bool`, `md5`,
//! `sha256`, `list`, `tuple`, `dict`) and the methods of strings, dicts, lists, tuples and
//! floats, with Python's results and Python's errors. Dates are [`super::temporal`]'s,
//! `json` is [`super::json`]'s.

use md5::Digest as _;
use num_bigint::BigInt;
use num_traits::{Num, ToPrimitive};

use super::args::{iterate, Args};
use super::ops::{int_to_f64, MAX_LENGTH};
use super::value::{
    check_hashable, dict_get, dict_set, py_eq, py_repr, py_str, small_int, Val, View,
};

type R = Result<Val, String>;

/// Calls a function by bare name.
pub fn call_function(name: &str, args: Args) -> R {
    match name {
        "int" => {
            args.count("int", 0, 2)?;
            match (args.get(0, "x"), args.get(1, "base")) {
                (None, _) => Ok(Val::int(0)),
                (Some(x), None) => to_int(x),
                (Some(Val::Str(s)), Some(base)) => {
                    let base = small_int(base).ok_or("TypeError: int() base must be an int")?;
                    parse_int(s, base).map(Val::Int)
                }
                (Some(_), Some(_)) => {
                    Err("TypeError: int() can't convert non-string with explicit base".into())
                }
            }
        }
        "float" => {
            args.count("float", 0, 1)?;
            args.get(0, "x").map_or(Ok(Val::Float(0.0)), to_float)
        }
        "str" => {
            args.count("str", 0, 1)?;
            Ok(Val::Str(
                args.get(0, "object").map(py_str).unwrap_or_default(),
            ))
        }
        "bool" => {
            args.count("bool", 0, 1)?;
            Ok(Val::Bool(args.get(0, "x").is_some_and(Val::truthy)))
        }
        "md5" | "sha256" => {
            args.count(name, 1, 1)?;
            let Some(Val::Str(text)) = args.get(0, "string") else {
                let got = args.get(0, "string").map_or("NoneType", Val::type_name);
                return Err(format!(
                    "AttributeError: '{got}' object has no attribute 'encode' ({name}() takes a string)"
                ));
            };
            let digest: Vec<u8> = if name == "md5" {
                md5::Md5::digest(text.as_bytes()).to_vec()
            } else {
                sha2::Sha256::digest(text.as_bytes()).to_vec()
            };
            Ok(Val::Str(
                digest.iter().map(|b| format!("{b:02x}")).collect(),
            ))
        }
        "list" | "tuple" => {
            args.count(name, 0, 1)?;
            let items = match args.get(0, "iterable") {
                Some(iterable) => iterate(iterable)?,
                None => Vec::new(),
            };
            Ok(if name == "list" {
                Val::List(items)
            } else {
                Val::Tuple(items)
            })
        }
        "dict" => make_dict(args),
        other => Err(format!("NameError: function '{other}' is not defined")),
    }
}

/// `dict()`, `dict(mapping)`, `dict(pairs)`, `dict(**kwargs)`.
fn make_dict(args: Args) -> R {
    if args.positional.len() > 1 {
        return Err(format!(
            "TypeError: dict expected at most 1 argument, got {}",
            args.positional.len()
        ));
    }
    let mut entries: Vec<(Val, Val)> = Vec::new();
    match args.positional.first() {
        None => {}
        Some(Val::Dict(source)) => entries = source.clone(),
        Some(iterable) => {
            for (i, item) in iterate(iterable)?.into_iter().enumerate() {
                let pair = match item {
                    Val::List(pair) | Val::Tuple(pair) => pair,
                    Val::Str(s) => s.chars().map(|c| Val::Str(c.to_string())).collect(),
                    other => {
                        return Err(format!(
                            "TypeError: cannot convert dictionary update sequence element #{i} ('{}') to a sequence",
                            other.type_name()
                        ))
                    }
                };
                let [key, value]: [Val; 2] = pair.try_into().map_err(|p: Vec<Val>| {
                    format!(
                        "ValueError: dictionary update sequence element #{i} has length {}; 2 is required",
                        p.len()
                    )
                })?;
                dict_set(&mut entries, key, value)?;
            }
        }
    }
    for (key, value) in args.keywords {
        dict_set(&mut entries, Val::Str(key), value)?;
    }
    Ok(Val::Dict(entries))
}

/// Python's `int(x)` for one argument.
fn to_int(value: &Val) -> R {
    match value {
        Val::Int(_) => Ok(value.clone()),
        Val::Bool(b) => Ok(Val::int(u8::from(*b))),
        Val::Float(f) if f.is_nan() => {
            Err("ValueError: cannot convert float NaN to integer".into())
        }
        Val::Float(f) if f.is_infinite() => {
            Err("OverflowError: cannot convert float infinity to integer".into())
        }
        Val::Float(f) => {
            let (num, den) = super::value::float_fraction(f.trunc());
            Ok(Val::Int(num / den))
        }
        Val::Dec(d) => Ok(Val::Int(d.trunc())),
        Val::Str(s) => parse_int(s, 10).map(Val::Int),
        other => Err(format!(
            "TypeError: int() argument must be a string, a bytes-like object or a real number, not '{}'",
            other.type_name()
        )),
    }
}

/// Python's `int(text, base)`: whitespace around, a sign, `_` between digits, and with base
/// 0 or the matching base a `0x`/`0o`/`0b` prefix.
fn parse_int(text: &str, base: i64) -> Result<BigInt, String> {
    let invalid = || {
        format!(
            "ValueError: invalid literal for int() with base {base}: {}",
            py_repr(&Val::Str(text.to_string()))
        )
    };
    if base != 0 && !(2..=36).contains(&base) {
        return Err("ValueError: int() base must be >= 2 and <= 36, or 0".into());
    }
    let trimmed = text.trim();
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = match (base, lower.get(..2)) {
        (0 | 16, Some("0x")) => (16, &body[2..], true),
        (0 | 8, Some("0o")) => (8, &body[2..], true),
        (0 | 2, Some("0b")) => (2, &body[2..], true),
        (0, _) => {
            if body.len() > 1
                && body.starts_with('0')
                && body.bytes().any(|b| b != b'0' && b != b'_')
            {
                return Err(invalid());
            }
            (10, body, false)
        }
        (b, _) => (b as u32, body, false),
    };
    // After a base prefix one `_` may come first (0x_ff).
    let digits = if prefixed {
        digits.strip_prefix('_').unwrap_or(digits)
    } else {
        digits
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return Err(invalid());
    }
    let clean = digits.replace('_', "");
    let value = BigInt::from_str_radix(&clean, radix).map_err(|_| invalid())?;
    Ok(if negative { -value } else { value })
}

/// Python's `float(x)`.
pub fn to_float(value: &Val) -> R {
    match value {
        Val::Float(_) => Ok(value.clone()),
        Val::Bool(b) => Ok(Val::Float(f64::from(u8::from(*b)))),
        Val::Int(n) => int_to_f64(n).map(Val::Float),
        Val::Dec(d) => Ok(Val::Float(d.to_f64())),
        Val::Str(s) => {
            let invalid = || {
                format!(
                    "ValueError: could not convert string to float: {}",
                    py_repr(value)
                )
            };
            let t = s.trim();
            let lower = t.to_ascii_lowercase();
            let body = lower.trim_start_matches(['+', '-']);
            if matches!(body, "nan" | "inf" | "infinity") {
                let f = if body == "nan" {
                    f64::NAN
                } else {
                    f64::INFINITY
                };
                return Ok(Val::Float(if lower.starts_with('-') { -f } else { f }));
            }
            let ok_chars = t.bytes().all(|b| {
                b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E' | b'_')
            });
            if t.is_empty()
                || !ok_chars
                || t.contains("__")
                || t.starts_with('_')
                || t.ends_with('_')
            {
                return Err(invalid());
            }
            t.replace('_', "")
                .parse::<f64>()
                .map(Val::Float)
                .map_err(|_| invalid())
        }
        other => Err(format!(
            "TypeError: float() argument must be a string or a real number, not '{}'",
            other.type_name()
        )),
    }
}

/// Calls a method of a string, dict, list, tuple or float.
pub fn call_method(receiver: &Val, name: &str, args: Args) -> R {
    match receiver {
        Val::Str(s) => super::strings::call(s, name, args),
        Val::Dict(entries) => dict_method(entries, name, args),
        Val::List(items) | Val::Tuple(items) if matches!(name, "index" | "count" | "copy") => {
            sequence_method(receiver, items, name, args)
        }
        Val::Float(f) if name == "is_integer" => {
            args.count("is_integer", 0, 0)?;
            Ok(Val::Bool(f.is_finite() && f.fract() == 0.0))
        }
        other => Err(no_attribute(other, name)),
    }
}

/// Python's AttributeError for a missing attribute.
pub fn no_attribute(value: &Val, name: &str) -> String {
    format!(
        "AttributeError: '{}' object has no attribute '{name}'",
        value.type_name()
    )
}

fn dict_method(entries: &[(Val, Val)], name: &str, args: Args) -> R {
    match name {
        "get" => {
            args.count("get", 1, 2)?;
            let key = args.get(0, "key").cloned().unwrap_or(Val::None);
            check_hashable(&key)?;
            Ok(dict_get(entries, &key)
                .or_else(|| args.get(1, "default"))
                .cloned()
                .unwrap_or(Val::None))
        }
        "keys" | "values" | "items" => {
            args.count(name, 0, 0)?;
            let (view, items) = match name {
                "keys" => (View::Keys, entries.iter().map(|(k, _)| k.clone()).collect()),
                "values" => (
                    View::Values,
                    entries.iter().map(|(_, v)| v.clone()).collect(),
                ),
                _ => (
                    View::Items,
                    entries
                        .iter()
                        .map(|(k, v)| Val::Tuple(vec![k.clone(), v.clone()]))
                        .collect(),
                ),
            };
            Ok(Val::View(view, items))
        }
        "copy" => {
            args.count("copy", 0, 0)?;
            Ok(Val::Dict(entries.to_vec()))
        }
        _ => Err(format!(
            "AttributeError: 'dict' object has no attribute '{name}'"
        )),
    }
}

fn sequence_method(receiver: &Val, items: &[Val], name: &str, args: Args) -> R {
    match name {
        "copy" if matches!(receiver, Val::List(_)) => {
            args.count("copy", 0, 0)?;
            Ok(receiver.clone())
        }
        "count" => {
            args.count("count", 1, 1)?;
            let x = args.get(0, "value").cloned().unwrap_or(Val::None);
            Ok(Val::int(
                items.iter().filter(|v| py_eq(v, &x)).count() as u64
            ))
        }
        "index" => {
            args.count("index", 1, 3)?;
            let x = args.get(0, "value").cloned().unwrap_or(Val::None);
            let len = items.len() as i64;
            let bound = |i: usize, default: i64| -> i64 {
                args.positional
                    .get(i)
                    .and_then(small_int)
                    .map_or(
                        default,
                        |n| if n < 0 { (n + len).max(0) } else { n.min(len) },
                    )
            };
            let (start, end) = (bound(1, 0), bound(2, len));
            (start..end)
                .find(|&i| items.get(i as usize).is_some_and(|v| py_eq(v, &x)))
                .map(Val::int)
                .ok_or_else(|| {
                    format!(
                        "ValueError: {} is not in {}",
                        py_repr(&x),
                        receiver.type_name()
                    )
                })
        }
        _ => Err(no_attribute(receiver, name)),
    }
}

/// A sequence index as Python reads it: negative counts from the end.
pub fn index_of(len: usize, index: &Val, kind: &str) -> Result<usize, String> {
    let n = match index {
        Val::Int(n) => n.to_i64(),
        Val::Bool(b) => Some(i64::from(*b)),
        other => {
            return Err(format!(
                "TypeError: {kind} indices must be integers or slices, not {}",
                other.type_name()
            ))
        }
    };
    let len = len as i64;
    let i = n.map(|n| if n < 0 { n + len } else { n });
    match i {
        Some(i) if (0..len).contains(&i) => Ok(i as usize),
        _ => Err(format!("IndexError: {kind} index out of range")),
    }
}

/// The positions a slice `[lower:upper:step]` selects from a sequence of `len` items.
pub fn slice_positions(
    len: usize,
    lower: Option<&Val>,
    upper: Option<&Val>,
    step: Option<&Val>,
) -> Result<Vec<usize>, String> {
    let read = |v: Option<&Val>| -> Result<Option<i64>, String> {
        match v {
            None | Some(Val::None) => Ok(None),
            Some(Val::Int(n)) => Ok(Some(n.to_i64().unwrap_or(
                if n.sign() == num_bigint::Sign::Minus {
                    i64::MIN / 2
                } else {
                    i64::MAX / 2
                },
            ))),
            Some(Val::Bool(b)) => Ok(Some(i64::from(*b))),
            Some(other) => Err(format!(
                "TypeError: slice indices must be integers or None, not {}",
                other.type_name()
            )),
        }
    };
    let len = len as i64;
    let step = read(step)?.unwrap_or(1);
    if step == 0 {
        return Err("ValueError: slice step cannot be zero".into());
    }
    let clamp = |v: Option<i64>, default: i64, low: i64, high: i64| match v {
        None => default,
        Some(n) if n < 0 => (n + len).max(low),
        Some(n) => n.min(high),
    };
    let mut out = Vec::new();
    if step > 0 {
        let (start, stop) = (
            clamp(read(lower)?, 0, 0, len),
            clamp(read(upper)?, len, 0, len),
        );
        let mut i = start;
        while i < stop {
            out.push(i as usize);
            i += step;
        }
    } else {
        let start = clamp(read(lower)?, len - 1, -1, len - 1);
        let stop = clamp(read(upper)?, -1, -1, len - 1);
        let mut i = start;
        while i > stop {
            out.push(i as usize);
            i += step;
        }
    }
    if out.len() > MAX_LENGTH {
        return Err("IterableTooLong: slice too long".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Vec<Val>) -> String {
        match call_function(name, Args::new(args)) {
            Ok(v) => py_repr(&v),
            Err(e) => format!("error: {e}"),
        }
    }

    fn s(text: &str) -> Val {
        Val::Str(text.into())
    }

    #[test]
    fn conversions_are_pythons() {
        assert_eq!(call("int", vec![s(" -1_000 ")]), "-1000");
        assert_eq!(call("int", vec![Val::Float(-3.9)]), "-3");
        assert_eq!(call("int", vec![s("ff"), Val::int(16)]), "255");
        assert_eq!(call("int", vec![s("0x1f"), Val::int(0)]), "31");
        assert_eq!(
            call("int", vec![s("3.5")]),
            "error: ValueError: invalid literal for int() with base 10: '3.5'"
        );
        assert_eq!(call("float", vec![s(" 1e3 ")]), "1000.0");
        assert_eq!(call("float", vec![s("-inf")]), "-inf");
        assert!(call("float", vec![s("abc")]).contains("could not convert string to float: 'abc'"));
        assert_eq!(call("str", vec![Val::Float(1.0)]), "'1.0'");
        assert_eq!(call("str", vec![Val::None]), "'None'");
        assert_eq!(call("bool", vec![s("")]), "False");
        assert_eq!(call("list", vec![s("ab")]), "['a', 'b']");
        assert_eq!(
            call(
                "dict",
                vec![Val::List(vec![Val::Tuple(vec![Val::int(1), s("a")])])]
            ),
            "{1: 'a'}"
        );
    }

    #[test]
    fn hashes_are_hex_digests_of_utf8() {
        assert_eq!(
            call("md5", vec![s("")]),
            "'d41d8cd98f00b204e9800998ecf8427e'"
        );
        assert_eq!(
            call("sha256", vec![s("abc")]),
            "'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'"
        );
        assert_eq!(
            call("md5", vec![Val::None]),
            "error: AttributeError: 'NoneType' object has no attribute 'encode' (md5() takes a string)"
        );
    }

    #[test]
    fn slices_are_pythons() {
        let pos = |l: Option<i64>, u: Option<i64>, st: Option<i64>| {
            slice_positions(
                5,
                l.map(Val::int).as_ref(),
                u.map(Val::int).as_ref(),
                st.map(Val::int).as_ref(),
            )
            .unwrap()
        };
        assert_eq!(pos(Some(1), Some(-1), None), vec![1, 2, 3]);
        assert_eq!(pos(None, None, Some(-1)), vec![4, 3, 2, 1, 0]);
        assert_eq!(pos(Some(-2), None, None), vec![3, 4]);
        assert_eq!(pos(None, None, Some(2)), vec![0, 2, 4]);
        assert_eq!(pos(Some(10), None, None), Vec::<usize>::new());
        assert_eq!(index_of(3, &Val::int(-1), "list").unwrap(), 2);
        assert!(index_of(3, &Val::int(3), "list").is_err());
    }
}
