//! JSON and map values: a record's JSON read as singer-sdk reads it (integers as `int`,
//! other numbers as `Decimal`, keeping every digit), computed values written back as JSON
//! text for the load, and the `json` module of expressions (`json.dumps`, `json.loads`)
//! with Python's output byte for byte (`", "` and `": "` separators, `ensure_ascii`).

use serde_json::Value;

use super::args::Args;
use super::builtins::call_function;
use super::decimal::Decimal;
use super::value::{float_repr, py_cmp, py_str, Val};

type R = Result<Val, String>;

/// How JSON numbers with a fraction or exponent are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floats {
    /// As `Decimal`, exactly (records, as singer-sdk reads them).
    Decimal,
    /// As `float` (`stream_map_config`, `json.loads`, as Python's `json` reads them).
    Float,
}

/// A JSON value as a map value.
pub fn from_json(value: &Value, floats: Floats) -> Result<Val, String> {
    Ok(match value {
        Value::Null => Val::None,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => number(&n.to_string(), floats)?,
        Value::String(s) => Val::Str(s.clone()),
        Value::Array(items) => Val::List(
            items
                .iter()
                .map(|v| from_json(v, floats))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Val::Dict(
            map.iter()
                .map(|(k, v)| Ok((Val::Str(k.clone()), from_json(v, floats)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// A JSON number literal: an `int` when it has no fraction or exponent.
fn number(text: &str, floats: Floats) -> R {
    if !text.contains(['.', 'e', 'E']) {
        return text
            .parse()
            .map(Val::Int)
            .map_err(|_| format!("invalid JSON number {text}"));
    }
    match floats {
        Floats::Decimal => Decimal::parse(text)
            .map(Val::Dec)
            .ok_or_else(|| format!("invalid JSON number {text}")),
        Floats::Float => text
            .parse::<f64>()
            .map(Val::Float)
            .map_err(|_| format!("invalid JSON number {text}")),
    }
}

/// A JSON text (one record value) as a map value.
pub fn from_json_text(text: &str, floats: Floats) -> R {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    from_json(&value, floats)
}

/// Writes a computed value as the JSON text the load reads: dates as ISO strings, numbers
/// with every digit; values that have no JSON form are errors naming the type.
pub fn write_value(value: &Val, out: &mut String) -> Result<(), String> {
    match value {
        Val::None => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Int(n) => out.push_str(&n.to_string()),
        Val::Float(f) if f.is_finite() => out.push_str(&float_repr(*f)),
        Val::Float(f) => return Err(format!("the float {} has no JSON form", float_repr(*f))),
        Val::Dec(d) => out.push_str(&d.to_sci_string()),
        Val::Str(s) => write_string(s, false, out),
        Val::Date(d) => write_string(&d.isoformat(), false, out),
        Val::DateTime(dt) => write_string(&dt.isoformat('T'), false, out),
        Val::List(items) | Val::Tuple(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Val::Dict(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(&key_text(key)?, false, out);
                out.push(':');
                write_value(item, out)?;
            }
            out.push('}');
        }
        other => {
            return Err(format!(
                "a value of type {} has no JSON form{}",
                other.type_name(),
                match other {
                    Val::View(..) => "; wrap it in list(...)",
                    Val::Delta(_) => "; use str(...) or .total_seconds()",
                    _ => "",
                }
            ))
        }
    }
    Ok(())
}

/// A dict key as JSON object keys are written: strings as they are, numbers, booleans and
/// `None` as Python's `json` writes them.
fn key_text(key: &Val) -> Result<String, String> {
    match key {
        Val::Str(s) => Ok(s.clone()),
        Val::Int(n) => Ok(n.to_string()),
        Val::Float(f) => Ok(json_float(*f)),
        Val::Bool(b) => Ok(if *b { "true" } else { "false" }.into()),
        Val::None => Ok("null".into()),
        other => Err(format!(
            "TypeError: keys must be str, int, float, bool or None, not {}",
            other.type_name()
        )),
    }
}

/// A float as Python's `json` writes it (NaN and infinities as JavaScript spells them).
fn json_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        float_repr(f)
    }
}

/// A JSON string literal; with `ensure_ascii` every non-ASCII character is `\uXXXX`.
fn write_string(s: &str, ensure_ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && !(' '..='~').contains(&c)) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `json.dumps(obj, default=, sort_keys=, indent=, separators=, ensure_ascii=)`.
pub fn dumps(args: Args) -> R {
    args.count("dumps", 1, 6)?;
    let obj = args.get(0, "obj").cloned().unwrap_or(Val::None);
    let indent = match args.get(4, "indent") {
        None | Some(Val::None) => None,
        Some(Val::Str(s)) => Some(s.clone()),
        Some(v) => match super::value::small_int(v) {
            Some(n) => Some(" ".repeat(usize::try_from(n).unwrap_or(0).min(64))),
            None => return Err("TypeError: indent must be an int, a str or None".into()),
        },
    };
    let (item_sep, key_sep) = match args.get(5, "separators") {
        None | Some(Val::None) => (
            if indent.is_some() { "," } else { ", " }.to_string(),
            ": ".to_string(),
        ),
        Some(Val::Tuple(pair) | Val::List(pair)) => match pair.as_slice() {
            [Val::Str(a), Val::Str(b)] => (a.clone(), b.clone()),
            _ => return Err("TypeError: separators must be a pair of strings".into()),
        },
        Some(_) => return Err("TypeError: separators must be a pair of strings".into()),
    };
    let options = Dumps {
        default: args
            .get(1, "default")
            .filter(|d| !matches!(d, Val::None))
            .cloned(),
        sort_keys: args.get(2, "sort_keys").is_some_and(Val::truthy),
        ensure_ascii: args.get(3, "ensure_ascii").is_none_or(Val::truthy),
        indent,
        item_sep,
        key_sep,
    };
    let mut out = String::new();
    options.write(&obj, 0, &mut out)?;
    Ok(Val::Str(out))
}

struct Dumps {
    default: Option<Val>,
    sort_keys: bool,
    ensure_ascii: bool,
    indent: Option<String>,
    item_sep: String,
    key_sep: String,
}

impl Dumps {
    fn newline(&self, depth: usize, out: &mut String) {
        if let Some(indent) = &self.indent {
            out.push('\n');
            out.push_str(&indent.repeat(depth));
        }
    }

    fn write(&self, value: &Val, depth: usize, out: &mut String) -> Result<(), String> {
        if depth > 100 {
            return Err("ValueError: nested too deeply for json.dumps".into());
        }
        match value {
            Val::None => out.push_str("null"),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Int(n) => out.push_str(&n.to_string()),
            Val::Float(f) => out.push_str(&json_float(*f)),
            Val::Str(s) => write_string(s, self.ensure_ascii, out),
            Val::List(items) | Val::Tuple(items) => {
                if items.is_empty() {
                    out.push_str("[]");
                    return Ok(());
                }
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&self.item_sep);
                    }
                    self.newline(depth + 1, out);
                    self.write(item, depth + 1, out)?;
                }
                self.newline(depth, out);
                out.push(']');
            }
            Val::Dict(entries) => {
                if entries.is_empty() {
                    out.push_str("{}");
                    return Ok(());
                }
                let mut entries: Vec<&(Val, Val)> = entries.iter().collect();
                if self.sort_keys {
                    let mut failure = None;
                    entries.sort_by(|a, b| match py_cmp(&a.0, &b.0, "<") {
                        Ok(order) => order.unwrap_or(std::cmp::Ordering::Equal),
                        Err(e) => {
                            failure.get_or_insert(e);
                            std::cmp::Ordering::Equal
                        }
                    });
                    if let Some(e) = failure {
                        return Err(e);
                    }
                }
                out.push('{');
                for (i, (key, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(&self.item_sep);
                    }
                    self.newline(depth + 1, out);
                    write_string(&key_text(key)?, self.ensure_ascii, out);
                    out.push_str(&self.key_sep);
                    self.write(item, depth + 1, out)?;
                }
                self.newline(depth, out);
                out.push('}');
            }
            other => {
                let Some(default) = &self.default else {
                    return Err(format!(
                        "TypeError: Object of type {} is not JSON serializable",
                        short_type(other)
                    ));
                };
                let converted = match default {
                    Val::Func("str") => Val::Str(py_str(other)),
                    Val::Func(name) => call_function(name, Args::new(vec![other.clone()]))?,
                    _ => return Err("TypeError: default must be a built-in function".into()),
                };
                if std::mem::discriminant(&converted) == std::mem::discriminant(other) {
                    return Err("ValueError: default returned an unserializable value".into());
                }
                self.write(&converted, depth + 1, out)?;
            }
        }
        Ok(())
    }
}

/// The class name Python's `json` errors show (`Decimal`, not `decimal.Decimal`).
fn short_type(value: &Val) -> &'static str {
    let name = value.type_name();
    name.rsplit('.').next().unwrap_or(name)
}

/// `json.loads(s)`: numbers with a fraction become floats, as in Python.
pub fn loads(args: Args) -> R {
    args.count("loads", 1, 1)?;
    match args.get(0, "s") {
        Some(Val::Str(text)) => from_json_text(text, Floats::Float)
            .map_err(|e| format!("json.decoder.JSONDecodeError: {e}")),
        other => Err(format!(
            "TypeError: the JSON object must be str, not {}",
            other.map_or("NoneType", Val::type_name)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::value::py_repr;

    fn dumps_of(value: Val, keywords: Vec<(&str, Val)>) -> String {
        let args = Args {
            positional: vec![value],
            keywords: keywords
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        };
        match dumps(args) {
            Ok(Val::Str(s)) => s,
            Ok(other) => py_repr(&other),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn dumps_writes_what_python_writes() {
        // The SDK's json_dumps snapshot: Decimals through default=str.
        let user = from_json_text(
            r#"{"id": 1, "sub": {"num": 1, "custom_obj": "obj-hello"}, "some_numbers": [3.14, 2.718]}"#,
            Floats::Decimal,
        )
        .unwrap();
        assert_eq!(
            dumps_of(user.clone(), vec![("default", Val::Func("str"))]),
            r#"{"id": 1, "sub": {"num": 1, "custom_obj": "obj-hello"}, "some_numbers": ["3.14", "2.718"]}"#
        );
        assert_eq!(
            dumps_of(user, vec![]),
            "error: TypeError: Object of type Decimal is not JSON serializable"
        );
        assert_eq!(dumps_of(Val::Str("é\n".into()), vec![]), r#""\u00e9\n""#);
        assert_eq!(
            dumps_of(
                Val::Str("é".into()),
                vec![("ensure_ascii", Val::Bool(false))]
            ),
            "\"é\""
        );
        let d = Val::Dict(vec![
            (
                Val::Str("b".into()),
                Val::List(vec![Val::int(1), Val::Float(2.5)]),
            ),
            (Val::Str("a".into()), Val::None),
        ]);
        assert_eq!(
            dumps_of(
                d.clone(),
                vec![("sort_keys", Val::Bool(true)), ("indent", Val::int(2))]
            ),
            "{\n  \"a\": null,\n  \"b\": [\n    1,\n    2.5\n  ]\n}"
        );
        assert_eq!(
            dumps_of(
                d,
                vec![(
                    "separators",
                    Val::Tuple(vec![Val::Str(",".into()), Val::Str(":".into())])
                )]
            ),
            r#"{"b":[1,2.5],"a":null}"#
        );
        assert_eq!(
            dumps_of(Val::Dict(vec![(Val::int(1), Val::Float(f64::NAN))]), vec![]),
            r#"{"1": NaN}"#
        );
    }

    #[test]
    fn record_numbers_keep_every_digit() {
        let v = from_json_text(
            "[1, 3.140, 1e2, 123456789012345678901234567890]",
            Floats::Decimal,
        )
        .unwrap();
        let mut out = String::new();
        write_value(&v, &mut out).unwrap();
        assert_eq!(out, "[1,3.140,1E+2,123456789012345678901234567890]");
        let v = from_json_text("[1.5]", Floats::Float).unwrap();
        assert_eq!(py_repr(&v), "[1.5]");
        let mut out = String::new();
        assert!(write_value(&Val::Float(f64::NAN), &mut out).is_err());
    }
}
