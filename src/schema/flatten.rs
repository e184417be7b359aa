//! Flattening: object properties become `parent__child` columns (pipelinewise's
//! `data_flattening_max_level`, Meltano's `flattening_max_depth`).
//!
//! Only objects that declare their `properties` are flattened; an object without them, or
//! below the last level, stays one jsonb column. The record side walks flattened objects by
//! the same joined paths (see `RecordSlots::is_flattened`).

use std::collections::HashSet;

use serde_json::Value;

/// Collects the leaf properties of `properties` (joined names, subschemas) in order: an
/// object with properties is replaced by its children, named `parent__child`, while `levels`
/// allow; its path goes into `flattened`.
pub fn flatten_properties<'s>(
    properties: &'s serde_json::Map<String, Value>,
    prefix: Option<&str>,
    levels: usize,
    leaves: &mut Vec<(String, &'s Value)>,
    flattened: &mut HashSet<String>,
) {
    for (name, subschema) in properties {
        let path = match prefix {
            Some(prefix) => format!("{prefix}__{name}"),
            None => name.clone(),
        };
        let children = subschema
            .get("properties")
            .and_then(Value::as_object)
            .filter(|children| !children.is_empty() && is_object_schema(subschema));
        match children {
            Some(children) if levels > 0 => {
                flatten_properties(children, Some(&path), levels - 1, leaves, flattened);
                flattened.insert(path);
            }
            _ => leaves.push((path, subschema)),
        }
    }
}

/// Whether a property's `type` includes `object`.
fn is_object_schema(subschema: &Value) -> bool {
    match subschema.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(types)) => types.iter().any(|t| t == "object"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn leaves(schema: Value, levels: usize) -> (Vec<String>, HashSet<String>) {
        let mut leaves = Vec::new();
        let mut flattened = HashSet::new();
        if let Some(properties) = schema.as_object() {
            flatten_properties(properties, None, levels, &mut leaves, &mut flattened);
        }
        (
            leaves.into_iter().map(|(name, _)| name).collect(),
            flattened,
        )
    }

    #[test]
    fn objects_flatten_level_by_level_in_property_order() {
        let schema = json!({
            "id": {"type": "integer"},
            "a": {"type": ["null", "object"], "properties": {
                "b": {"type": "object", "properties": {"c": {"type": "string"}}},
                "d": {"type": "string"}
            }},
            "free": {"type": "object"}
        });
        assert_eq!(leaves(schema.clone(), 0).0, ["id", "a", "free"]);
        let (one, flattened) = leaves(schema.clone(), 1);
        assert_eq!(one, ["id", "a__b", "a__d", "free"]);
        assert!(flattened.contains("a"));
        assert_eq!(leaves(schema, 2).0, ["id", "a__b__c", "a__d", "free"]);
    }
}
