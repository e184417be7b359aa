//! The `stream_maps` setting read and checked at start-up: per key (a stream name or a
//! glob), the stream dropped (`null` / `"__NULL__"`) or mapped — `__alias__`, `__source__`,
//! `__filter__`, `__key_properties__`, `__else__`, and each property removed or computed by
//! an expression that is parsed and checked here, so that a refused expression stops the
//! run before any input is read. Errors name the stream key, the property and the
//! expression.

use serde_json::Value;

use super::ast::Expr;
use super::check::{check, check_alias};
use super::eval::{evaluate, is_undefined_name, Env};
use super::json::{from_json, Floats};
use super::parse::parse;
use super::value::{py_repr, Val};

/// singer-sdk's spelling of null in string-only settings.
const NULL_STRING: &str = "__NULL__";

/// A parsed and checked expression with its text (for errors and type detection).
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The expression as configured.
    pub text: String,
    /// Its syntax tree.
    pub expr: Expr,
}

/// What a property of a map does.
#[derive(Debug, Clone)]
pub enum PropDef {
    /// `null` / `"__NULL__"`: removed.
    Drop,
    /// Computed.
    Expr(Compiled),
}

/// One stream's map.
#[derive(Debug, Clone, Default)]
pub struct MapDef {
    /// `__source__`: this entry makes a new stream from that one (the key is its name).
    pub source: Option<String>,
    /// `__alias__`: its text, and its expression when it parses as one.
    pub alias: Option<(String, Option<Expr>)>,
    /// `__filter__`.
    pub filter: Option<Compiled>,
    /// `__key_properties__`: `Some(vec![])` for `null` or an empty list.
    pub key_properties: Option<Vec<String>>,
    /// `__else__: null`: keep only the listed properties (and the keys).
    pub else_drop: bool,
    /// The properties, in configured order.
    pub properties: Vec<(String, PropDef)>,
}

impl MapDef {
    /// Whether records pass through untouched but for removed properties (no filter, no
    /// expression, no `__else__`), so they need not be evaluated one by one.
    pub fn only_drops(&self) -> bool {
        self.filter.is_none()
            && !self.else_drop
            && self
                .properties
                .iter()
                .all(|(_, p)| matches!(p, PropDef::Drop))
    }
}

/// What a `stream_maps` key does to the streams it matches.
#[derive(Debug, Clone)]
pub enum EntryDef {
    /// `null` / `"__NULL__"`: the stream is not loaded.
    Drop,
    /// A map.
    Map(std::sync::Arc<MapDef>),
}

/// The checked `stream_maps` and `stream_map_config` settings.
#[derive(Debug, Clone)]
pub struct StreamMaps {
    /// The keys and what they do, in configured order (later keys win for a stream).
    pub entries: Vec<(String, EntryDef)>,
    /// Top-level `__else__: null`: streams no key names are not loaded.
    pub else_drop: bool,
    /// `stream_map_config`, as expressions see it (`config`).
    pub config: Val,
}

fn is_null(value: &Value) -> bool {
    value.is_null() || value.as_str() == Some(NULL_STRING)
}

/// Parses and checks one expression, naming where it is configured.
fn compile(stream: &str, property: &str, text: &str) -> Result<Compiled, String> {
    let refuse = |reason: String| {
        format!("stream_maps.\"{stream}\".\"{property}\": expression {text:?} is refused: {reason}")
    };
    let expr = parse(text.trim()).map_err(refuse)?;
    check(&expr).map_err(refuse)?;
    Ok(Compiled {
        text: text.to_string(),
        expr,
    })
}

impl StreamMaps {
    /// Reads and checks the settings; `None` when no stream is mapped.
    pub fn from_settings(
        stream_maps: Option<&Value>,
        stream_map_config: Option<&Value>,
    ) -> Result<Option<StreamMaps>, String> {
        let config = match stream_map_config {
            None | Some(Value::Null) => Val::Dict(Vec::new()),
            Some(value @ Value::Object(_)) => from_json(value, Floats::Float)?,
            Some(_) => return Err("\"stream_map_config\" must be an object".into()),
        };
        let map = match stream_maps {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(map)) => map,
            Some(_) => return Err("\"stream_maps\" must be an object".into()),
        };
        let mut maps = StreamMaps {
            entries: Vec::new(),
            else_drop: false,
            config,
        };
        for (key, def) in map {
            if key == "__else__" {
                if !is_null(def) {
                    return Err(format!(
                        "stream_maps.\"__else__\": only null (or \"__NULL__\") is supported, got {def}"
                    ));
                }
                maps.else_drop = true;
                continue;
            }
            if key.starts_with("__") {
                return Err(format!(
                    "stream_maps.\"{key}\": options starting with __ are not expected at the top level (only __else__)"
                ));
            }
            let entry = if is_null(def) {
                EntryDef::Drop
            } else if let Value::Object(def) = def {
                EntryDef::Map(std::sync::Arc::new(maps.map_def(key, def)?))
            } else {
                return Err(format!(
                    "stream_maps.\"{key}\": must be an object or null (or \"__NULL__\"), got {def}"
                ));
            };
            maps.entries.push((key.clone(), entry));
        }
        if maps.entries.is_empty() && !maps.else_drop {
            return Ok(None);
        }
        Ok(Some(maps))
    }

    /// One stream's map.
    fn map_def(
        &self,
        stream: &str,
        def: &serde_json::Map<String, Value>,
    ) -> Result<MapDef, String> {
        let mut out = MapDef::default();
        let text = |option: &str, value: &Value| -> Result<String, String> {
            value.as_str().map(str::to_string).ok_or_else(|| {
                format!("stream_maps.\"{stream}\".\"{option}\": must be a string, got {value}")
            })
        };
        for (name, value) in def {
            match name.as_str() {
                "__source__" => out.source = Some(text(name, value)?),
                "__alias__" => {
                    let alias = text(name, value)?;
                    let expr = match parse(alias.trim()) {
                        Ok(expr) => {
                            check_alias(&expr).map_err(|reason| {
                                format!("stream_maps.\"{stream}\".\"__alias__\": expression {alias:?} is refused: {reason}")
                            })?;
                            Some(expr)
                        }
                        // Not an expression: the alias is the text itself.
                        Err(_) => None,
                    };
                    out.alias = Some((alias, expr));
                }
                "__filter__" => out.filter = Some(compile(stream, name, &text(name, value)?)?),
                "__key_properties__" => out.key_properties = Some(key_properties(stream, value)?),
                "__else__" => {
                    if !is_null(value) {
                        return Err(format!(
                            "stream_maps.\"{stream}\".\"__else__\": only null (or \"__NULL__\") is supported, got {value}"
                        ));
                    }
                    out.else_drop = true;
                }
                option if option.starts_with("__") && option.ends_with("__") => {
                    return Err(format!(
                        "stream_maps.\"{stream}\".\"{option}\": not a stream map option (the options are __alias__, __source__, __filter__, __key_properties__ and __else__)"
                    ));
                }
                property => {
                    let prop = if is_null(value) {
                        PropDef::Drop
                    } else if let Value::String(expression) = value {
                        PropDef::Expr(compile(stream, property, expression)?)
                    } else {
                        return Err(format!(
                            "stream_maps.\"{stream}\".\"{property}\": must be an expression (a string) or null, got {value}"
                        ));
                    };
                    out.properties.push((property.to_string(), prop));
                }
            }
        }
        if out.source.is_some() && out.alias.is_some() {
            return Err(format!(
                "stream_maps.\"{stream}\": __source__ and __alias__ together are ambiguous (with __source__ the key is the new stream's name)"
            ));
        }
        // An alias of a plainly named stream can be worked out now, so its errors stop the
        // run before any input is read.
        if out.source.is_none() && !is_glob(stream) {
            self.alias_of(&out, stream)?;
        }
        Ok(out)
    }

    /// The name a mapped stream gets: its `__alias__` evaluated with `__stream_name__`, or
    /// taken literally when it is not an expression (or names something undefined).
    pub fn alias_of(&self, def: &MapDef, stream: &str) -> Result<Option<String>, String> {
        let Some((text, expr)) = &def.alias else {
            return Ok(None);
        };
        let Some(expr) = expr else {
            return Ok(Some(text.clone()));
        };
        match evaluate(expr, &Env::for_alias(stream, &self.config)) {
            Ok(Val::Str(alias)) if !alias.is_empty() => Ok(Some(alias)),
            Ok(other) => Err(format!(
                "stream_maps: the __alias__ {text:?} of stream \"{stream}\" must give a non-empty string, it gives {}",
                py_repr(&other)
            )),
            Err(e) if is_undefined_name(&e) => Ok(Some(text.clone())),
            Err(e) => Err(format!(
                "stream_maps: the __alias__ {text:?} of stream \"{stream}\" failed: {e}"
            )),
        }
    }
}

/// `__key_properties__`: a list of property names, or null for none.
fn key_properties(stream: &str, value: &Value) -> Result<Vec<String>, String> {
    let refuse = || {
        format!(
            "stream_maps.\"{stream}\".\"__key_properties__\": must be a list of property names or null, got {value}"
        )
    };
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(refuse))
            .collect(),
        _ => Err(refuse()),
    }
}

/// Whether a `stream_maps` key is a glob pattern (as Python's `fnmatch` reads it).
pub fn is_glob(key: &str) -> bool {
    key.contains(['*', '?', '['])
}
