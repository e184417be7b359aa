//! The SCHEMA of a mapped stream, as singer-sdk derives it: removed properties leave the
//! schema (and `required`), `__else__: null` starts from the key properties alone, and a
//! computed property's type is read from the expression's text — `int(`, `float(`,
//! `str(`, `bool(`, `json.dumps(`, `datetime.date...`, `datetime.datetime...`, a quoted
//! literal, `record` — or else taken from the property it replaces or copies, or else
//! string. Every computed property may be null.

use serde_json::{json, Map, Value};

use super::defs::{MapDef, PropDef};

/// The transformed schema and key properties of `raw` under `def`, or why they cannot be.
pub fn transform(
    stream: &str,
    raw: &Value,
    raw_keys: &[String],
    def: &MapDef,
) -> Result<(Value, Vec<String>), String> {
    let keys: Vec<String> = match &def.key_properties {
        Some(keys) => keys.clone(),
        None => raw_keys.to_vec(),
    };
    let raw_properties = raw.get("properties").and_then(Value::as_object);
    let mut schema = if def.else_drop {
        // Only what the map lists, and (as singer-sdk documents) the key properties.
        let mut properties = Map::new();
        for key in &keys {
            if let Some(property) = raw_properties.and_then(|p| p.get(key)) {
                properties.insert(key.clone(), property.clone());
            }
        }
        json!({"type": "object", "properties": properties})
    } else {
        raw.clone()
    };
    if !schema.get("properties").is_some_and(Value::is_object) {
        schema["properties"] = json!({});
    }
    for (name, prop) in &def.properties {
        match prop {
            PropDef::Drop => {
                if keys.contains(name) {
                    return Err(format!(
                        "removing key property \"{name}\" is not permitted; to change the key, set __key_properties__ to the new key properties (or null for none)"
                    ));
                }
                if let Some(properties) = schema["properties"].as_object_mut() {
                    properties.shift_remove(name);
                }
                if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
                    required.retain(|r| r.as_str() != Some(name));
                }
            }
            PropDef::Expr(compiled) => {
                let existing = schema["properties"]
                    .get(name)
                    .cloned()
                    .or_else(|| raw_properties.and_then(|p| p.get(&compiled.text)).cloned());
                let default = existing.unwrap_or_else(|| json!({"type": ["string"]}));
                let detected = type_of(&compiled.text, raw, default);
                if let Some(properties) = schema["properties"].as_object_mut() {
                    properties.insert(name.clone(), nullable(detected));
                }
            }
        }
    }
    for key in &keys {
        if schema["properties"].get(key).is_none() {
            return Err(format!(
                "invalid key properties for \"{stream}\": [{}]; property \"{key}\" is not in the mapped schema",
                keys.join(",")
            ));
        }
    }
    Ok((schema, keys))
}

/// singer-sdk's type detection from an expression's text.
fn type_of(text: &str, raw: &Value, default: Value) -> Value {
    if text == "record" {
        return raw.clone();
    }
    let string = || json!({"type": ["string"]});
    if text.starts_with("float(") {
        json!({"type": ["number"]})
    } else if text.starts_with("int(") {
        json!({"type": ["integer"]})
    } else if text.starts_with("str(") || text.starts_with("json.dumps(") {
        string()
    } else if text.starts_with("bool(") {
        json!({"type": ["boolean"]})
    } else if text.starts_with("datetime.date.")
        || text.starts_with("datetime.date(")
        || text.ends_with(".date()")
    {
        json!({"type": ["string"], "format": "date"})
    } else if text.starts_with("datetime.datetime.") || text.starts_with("datetime.datetime(") {
        json!({"type": ["string"], "format": "date-time"})
    } else if text.len() >= 2 && text.starts_with('\'') && text.ends_with('\'') {
        string()
    } else {
        default
    }
}

/// The property schema with `null` allowed, as singer-sdk's `Property` writes an optional
/// property (for `anyOf`/`oneOf`, a `{"type": "null"}` branch).
fn nullable(mut schema: Value) -> Value {
    let null_branch = json!({"type": "null"});
    if let Some(branches) = schema.get_mut("anyOf").and_then(Value::as_array_mut) {
        if !branches.contains(&null_branch) {
            branches.push(null_branch);
        }
        return schema;
    }
    if let Some(branches) = schema.get_mut("oneOf").and_then(Value::as_array_mut) {
        branches.push(null_branch);
        return schema;
    }
    match schema.get_mut("type") {
        Some(Value::Array(types)) if !types.iter().any(|t| t == "null") => {
            types.push(json!("null"));
        }
        Some(single @ Value::String(_)) if single != "null" => {
            *single = json!([single.clone(), "null"]);
        }
        _ => {}
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_read_from_the_expression_text_as_singer_sdk_reads_them() {
        let raw = json!({"type": "object", "properties": {"count": {"type": "integer"}}});
        let default = || json!({"type": ["string"]});
        for (text, expected) in [
            ("int(count - 1)", json!({"type": ["integer"]})),
            ("float(x)", json!({"type": ["number"]})),
            ("str(x)", json!({"type": ["string"]})),
            ("bool(x)", json!({"type": ["boolean"]})),
            ("json.dumps(user, default=str)", json!({"type": ["string"]})),
            (
                "datetime.date.fromisoformat(d)",
                json!({"type": ["string"], "format": "date"}),
            ),
            (
                "datetime.datetime.fromisoformat(joined_at).date()",
                json!({"type": ["string"], "format": "date"}),
            ),
            (
                "datetime.datetime.fromisoformat(x)",
                json!({"type": ["string"], "format": "date-time"}),
            ),
            ("'[masked]'", json!({"type": ["string"]})),
            ("md5(email)", default()),
            ("record", raw.clone()),
        ] {
            assert_eq!(type_of(text, &raw, default()), expected, "{text}");
        }
    }

    #[test]
    fn optional_means_nullable() {
        assert_eq!(
            nullable(json!({"type": "object"})),
            json!({"type": ["object", "null"]})
        );
        assert_eq!(
            nullable(json!({"type": ["string"]})),
            json!({"type": ["string", "null"]})
        );
        assert_eq!(
            nullable(json!({"anyOf": [{"type": "string"}]})),
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]})
        );
        assert_eq!(nullable(json!({})), json!({}));
    }
}
