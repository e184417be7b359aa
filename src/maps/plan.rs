//! Which streams a stream becomes, decided at its SCHEMA as singer-sdk's `PluginMapper`
//! decides it: the stream itself first (loaded as it is, dropped by a top-level
//! `__else__: null`, or replaced by the last key that names it exactly or by a glob), then
//! one more stream per `__source__` key naming it. Each output has its name, schema, key
//! properties and what to do with each record.

use std::sync::Arc;

use serde_json::Value;

use super::defs::{is_glob, EntryDef, MapDef, PropDef, StreamMaps};
use super::record::{MapContext, MapError, Record};
use super::schema::transform;
use super::value::Val;

/// One stream that a tap's stream is loaded as.
#[derive(Debug, Clone)]
pub struct Output {
    /// Its name (the alias, the `__source__` key, or the stream's own).
    pub name: String,
    /// Its SCHEMA.
    pub schema: Value,
    /// Its key properties.
    pub key_properties: Vec<String>,
    /// What its records need.
    pub records: Records,
}

/// What an output does with each record.
#[derive(Debug, Clone)]
pub enum Records {
    /// Loaded as they come, without these properties.
    Pass {
        /// Properties removed by the map.
        dropped: Vec<String>,
    },
    /// Evaluated by the map.
    Mapped(Arc<Mapped>),
}

/// A map ready to run on an output's records.
#[derive(Debug)]
pub struct Mapped {
    def: Arc<MapDef>,
    config: Arc<Val>,
    stream_name: String,
    original_stream_name: String,
    key_properties: Vec<String>,
}

impl Mapped {
    /// The mapped record as JSON text, or `None` when it is filtered out.
    pub fn apply(&self, record: &Record<'_>) -> Result<Option<String>, MapError> {
        MapContext {
            def: &self.def,
            config: &self.config,
            stream_name: &self.stream_name,
            original_stream_name: &self.original_stream_name,
            key_properties: &self.key_properties,
        }
        .apply(record)
    }

    /// Whether the map can drop records (a filter, or `__else__` that may leave nothing).
    pub fn filters(&self) -> bool {
        self.def.filter.is_some() || self.def.else_drop
    }
}

/// Python's `fnmatch.fnmatchcase`: `*`, `?`, `[seq]`, `[!seq]`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with backtracking to the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => match class_match(&p[pi..], n[ni]) {
                Some((true, len)) => Some(len),
                Some((false, _)) => None,
                None => (n[ni] == '[').then_some(1),
            },
            Some(c) => (*c == n[ni]).then_some(1),
            None => None,
        };
        match step {
            Some(len) => {
                pi += len;
                ni += 1;
            }
            None => match star {
                Some((star_p, star_n)) => {
                    pi = star_p + 1;
                    ni = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A `[...]` class at the start of `p`: whether `c` is in it and the class's length, or
/// `None` when the `[` is not closed (then it is a literal `[`).
fn class_match(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(p.get(i), Some('!'));
    if negated {
        i += 1;
    }
    let start = i;
    let mut found = false;
    while let Some(&x) = p.get(i) {
        if x == ']' && i > start {
            return Some((found != negated, i + 1));
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            let end = p[i + 2];
            found |= x <= c && c <= end;
            i += 3;
        } else {
            found |= x == c;
            i += 1;
        }
    }
    None
}

impl StreamMaps {
    /// The `stream_maps` keys that apply to `stream` (exactly, by glob or as `__source__`).
    pub fn keys_matching(&self, stream: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(key, entry)| {
                let source = match entry {
                    EntryDef::Map(def) => def.source.as_deref().unwrap_or(key),
                    EntryDef::Drop => key,
                };
                source == stream || (is_glob(source) && glob_match(source, stream))
            })
            .map(|(key, _)| key.as_str())
            .collect()
    }

    /// The outputs of `stream` under the maps, for its SCHEMA (`schema`, `keys`); empty when
    /// the stream is dropped.
    pub fn plan(
        &self,
        stream: &str,
        schema: &Value,
        keys: &[String],
    ) -> Result<Vec<Output>, String> {
        // (name, map or None for "as it is"); the first is the stream itself.
        let mut primary: Option<(String, Option<Arc<MapDef>>)> =
            (!self.else_drop).then(|| (stream.to_string(), None));
        let mut sourced: Vec<(String, Arc<MapDef>)> = Vec::new();
        for (key, entry) in &self.entries {
            let source = match entry {
                EntryDef::Map(def) => def.source.as_deref().unwrap_or(key),
                EntryDef::Drop => key,
            };
            if source != stream && !(is_glob(source) && glob_match(source, stream)) {
                continue;
            }
            match entry {
                EntryDef::Drop => primary = None,
                EntryDef::Map(def) if def.source.is_some() => {
                    sourced.push((key.clone(), def.clone()))
                }
                EntryDef::Map(def) => {
                    let name = self
                        .alias_of(def, stream)?
                        .unwrap_or_else(|| stream.to_string());
                    primary = Some((name, Some(def.clone())));
                }
            }
        }
        let mut outputs = Vec::new();
        let all = primary
            .into_iter()
            .chain(sourced.into_iter().map(|(name, def)| (name, Some(def))));
        for (name, def) in all {
            outputs.push(self.output(stream, name, def, schema, keys)?);
        }
        Ok(outputs)
    }

    fn output(
        &self,
        stream: &str,
        name: String,
        def: Option<Arc<MapDef>>,
        schema: &Value,
        keys: &[String],
    ) -> Result<Output, String> {
        let Some(def) = def else {
            return Ok(Output {
                name,
                schema: schema.clone(),
                key_properties: keys.to_vec(),
                records: Records::Pass {
                    dropped: Vec::new(),
                },
            });
        };
        let (schema, key_properties) = transform(&name, schema, keys, &def)
            .map_err(|e| format!("stream_maps: stream \"{stream}\" as \"{name}\": {e}"))?;
        let records = if def.only_drops() {
            Records::Pass {
                dropped: def
                    .properties
                    .iter()
                    .filter(|(_, p)| matches!(p, PropDef::Drop))
                    .map(|(n, _)| n.clone())
                    .collect(),
            }
        } else {
            Records::Mapped(Arc::new(Mapped {
                def,
                config: Arc::new(self.config.clone()),
                stream_name: name.clone(),
                original_stream_name: stream.to_string(),
                key_properties: key_properties.clone(),
            }))
        };
        Ok(Output {
            name,
            schema,
            key_properties,
            records,
        })
    }
}

/// Makes the records of a pass-through output evaluated instead (for record validation,
/// which needs the mapped record whole).
pub fn evaluated(output: &Output, stream: &str, maps: &StreamMaps) -> Records {
    match &output.records {
        Records::Pass { dropped } => {
            let def = MapDef {
                properties: dropped.iter().map(|d| (d.clone(), PropDef::Drop)).collect(),
                ..MapDef::default()
            };
            Records::Mapped(Arc::new(Mapped {
                def: Arc::new(def),
                config: Arc::new(maps.config.clone()),
                stream_name: output.name.clone(),
                original_stream_name: stream.to_string(),
                key_properties: output.key_properties.clone(),
            }))
        }
        mapped => mapped.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_fnmatch_does() {
        for (pattern, name, matches) in [
            ("*", "anything", true),
            ("*s", "repositories", true),
            ("*s", "singular", false),
            ("public-*", "public-users", true),
            ("user?", "users", true),
            ("user?", "user", false),
            ("[ab]*", "beta", true),
            ("[!ab]*", "beta", false),
            ("[a-c]x", "bx", true),
            ("a[", "a[", true),
            ("*a*b", "xaxxb", true),
            ("*a*b", "xaxxbc", false),
            ("CUSTOMERS", "customers", false),
        ] {
            assert_eq!(glob_match(pattern, name), matches, "{pattern} ~ {name}");
        }
    }
}
