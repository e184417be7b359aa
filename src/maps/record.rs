//! One record through one stream's map, as singer-sdk's `CustomStreamMap.transform` does
//! it: the `__filter__` on the record as it came; then all its properties (or, with
//! `__else__: null`, only its key properties), each listed property removed or computed
//! in configured order (`self` being the property's incoming value); a record left with
//! no properties is dropped. Untouched values are copied as their JSON text, so they keep
//! every digit; computed ones are written by [`super::json::write_value`].

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::protocol::walk::Key;

use super::defs::{MapDef, PropDef};
use super::eval::{evaluate, Env, Properties};
use super::json::write_value;
use super::value::Val;

/// Why a record could not be mapped: the property (or `__filter__`), its expression and
/// the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapError {
    /// The property being computed, or `__filter__`.
    pub property: String,
    /// Its expression as configured.
    pub expression: String,
    /// What went wrong (Python's exception and message).
    pub message: String,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stream map property \"{}\" ({:?}) failed: {}",
            self.property, self.expression, self.message
        )
    }
}

/// A record's properties as raw JSON, parsed without building values.
pub struct Record<'a> {
    properties: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> Record<'a> {
    /// Parses a record object; a repeated key keeps its last value, as Python's `json` does.
    pub fn parse(text: &'a str) -> Result<Record<'a>, String> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let properties = deserializer
            .deserialize_map(PropertiesVisitor)
            .and_then(|p| deserializer.end().map(|()| p))
            .map_err(|e| format!("record is not a JSON object: {e}"))?;
        Ok(Record { properties })
    }

    /// The properties, as expressions see them.
    pub fn properties(&self) -> &Properties<'a> {
        &self.properties
    }

    /// Writes the record without `dropped` properties, as JSON text.
    pub fn without(&self, dropped: &[String]) -> String {
        let mut out = String::from("{");
        for (key, raw) in &self.properties {
            if dropped.iter().any(|d| d == key) {
                continue;
            }
            if out.len() > 1 {
                out.push(',');
            }
            push_key(key, &mut out);
            out.push_str(raw.get());
        }
        out.push('}');
        out
    }
}

struct PropertiesVisitor;

impl<'de> Visitor<'de> for PropertiesVisitor {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut out: Self::Value = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            let key = key.into_cow();
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = value,
                None => out.push((key, value)),
            }
        }
        Ok(out)
    }
}

fn push_key(key: &str, out: &mut String) {
    out.push_str(&serde_json::Value::from(key).to_string());
    out.push(':');
}

/// A value of the mapped record: copied as it came, or computed.
enum Out<'a> {
    Raw(&'a RawValue),
    Computed(Val),
}

/// What a map needs to run on a record besides the record.
pub struct MapContext<'a> {
    /// The map.
    pub def: &'a MapDef,
    /// `config`.
    pub config: &'a Val,
    /// `__stream_name__`: the output stream's name.
    pub stream_name: &'a str,
    /// `__original_stream_name__`: the stream as the tap named it.
    pub original_stream_name: &'a str,
    /// The output stream's key properties.
    pub key_properties: &'a [String],
}

impl MapContext<'_> {
    /// The mapped record as JSON text, or `None` when the filter drops it (or nothing is
    /// left of it).
    pub fn apply(&self, record: &Record<'_>) -> Result<Option<String>, MapError> {
        let properties: &Properties<'_> = &record.properties;
        let env = |self_property| self.env(properties, self_property);
        if let Some(filter) = &self.def.filter {
            let keep = evaluate(&filter.expr, &env(None)).map_err(|message| MapError {
                property: "__filter__".into(),
                expression: filter.text.clone(),
                message,
            })?;
            if !keep.truthy() {
                return Ok(None);
            }
        }
        let mut result: Vec<(Cow<'_, str>, Out<'_>)> = if self.def.else_drop {
            properties
                .iter()
                .filter(|(k, _)| self.key_properties.iter().any(|key| key == k))
                .map(|(k, raw)| (k.clone(), Out::Raw(raw)))
                .collect()
        } else {
            properties
                .iter()
                .map(|(k, raw)| (k.clone(), Out::Raw(raw)))
                .collect()
        };
        for (name, prop) in &self.def.properties {
            match prop {
                PropDef::Drop => result.retain(|(k, _)| k != name),
                PropDef::Expr(compiled) => {
                    let here = properties
                        .iter()
                        .any(|(k, _)| k == name)
                        .then_some(name.as_str());
                    let value =
                        evaluate(&compiled.expr, &env(here)).map_err(|message| MapError {
                            property: name.clone(),
                            expression: compiled.text.clone(),
                            message,
                        })?;
                    match result.iter_mut().find(|(k, _)| k == name) {
                        Some(entry) => entry.1 = Out::Computed(value),
                        None => result.push((Cow::Owned(name.clone()), Out::Computed(value))),
                    }
                }
            }
        }
        if result.is_empty() {
            return Ok(None);
        }
        let mut out = String::from("{");
        for (i, (key, value)) in result.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_key(key, &mut out);
            match value {
                Out::Raw(raw) => out.push_str(raw.get()),
                Out::Computed(value) => {
                    write_value(value, &mut out).map_err(|message| MapError {
                        property: key.to_string(),
                        expression: self.expression_of(key),
                        message,
                    })?
                }
            }
        }
        out.push('}');
        Ok(Some(out))
    }

    fn env<'e>(
        &'e self,
        properties: &'e Properties<'e>,
        self_property: Option<&'e str>,
    ) -> Env<'e> {
        Env {
            record: Some(properties),
            config: self.config,
            stream_name: self.stream_name,
            original_stream_name: self.original_stream_name,
            self_property,
            whole_record: OnceCell::new(),
        }
    }

    fn expression_of(&self, property: &str) -> String {
        self.def
            .properties
            .iter()
            .find_map(|(name, prop)| match prop {
                PropDef::Expr(c) if name == property => Some(c.text.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }
}
