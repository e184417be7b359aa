//! The PostgreSQL column type we choose for one JSON Schema property (SPEC §5).
//!
//! This decides the type only when we `CREATE` a table or `ADD` a column; loading always encodes
//! for the column's actual catalog type. The names returned are spelled exactly as PostgreSQL's
//! `format_type()` prints them (`timestamp with time zone`, `numeric(10,2)`, `text[]`), so the
//! caller parses our plan and the catalog with one parser and compares like with like.
//!
//! Real taps send loose schemas: type lists with `"null"`, `anyOf`/`oneOf` wrappers around one
//! real branch, `$ref`s, and sometimes garbage. The rule is: the first non-null type decides;
//! several distinct types fall back to a column that holds them all (`numeric`, `text`, or
//! `jsonb`); anything we cannot understand becomes `jsonb`, which accepts every value. Numbers
//! are never planned as `double precision`, because `numeric` keeps every digit. Nothing here
//! panics, whatever the input.

use serde_json::{Map, Value};

use super::number::{parse_literal, Literal};

/// How deep `anyOf`/`oneOf`/`items` nesting is followed before giving up with `jsonb`; real
/// schemas nest two or three levels, and a bound keeps hostile input off the stack.
const MAX_DEPTH: usize = 32;

/// PostgreSQL's largest allowed `numeric` precision.
const MAX_NUMERIC_PRECISION: i64 = 1000;

/// A scalar column type we may plan, alone or as an array element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Bigint,
    Numeric,
    /// `numeric(precision, scale)`, already clamped to what PostgreSQL accepts.
    NumericPs(i64, i64),
    Text,
    Boolean,
    Timestamptz,
    Date,
    Time,
    Uuid,
}

impl Scalar {
    fn name(self) -> String {
        match self {
            Scalar::Bigint => "bigint".into(),
            Scalar::Numeric => "numeric".into(),
            Scalar::NumericPs(p, s) => format!("numeric({p},{s})"),
            Scalar::Text => "text".into(),
            Scalar::Boolean => "boolean".into(),
            Scalar::Timestamptz => "timestamp with time zone".into(),
            Scalar::Date => "date".into(),
            Scalar::Time => "time without time zone".into(),
            Scalar::Uuid => "uuid".into(),
        }
    }

    fn is_numeric_family(self) -> bool {
        matches!(
            self,
            Scalar::Bigint | Scalar::Numeric | Scalar::NumericPs(..)
        )
    }
}

/// The planned column, before it is spelled out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    Scalar(Scalar),
    Array(Scalar),
    Jsonb,
    /// `x-sql-datatype`, verbatim.
    Custom(String),
}

impl Column {
    fn name(&self) -> String {
        match self {
            Column::Scalar(s) => s.name(),
            Column::Array(s) => format!("{}[]", s.name()),
            Column::Jsonb => "jsonb".into(),
            Column::Custom(t) => t.clone(),
        }
    }
}

/// Returns the PostgreSQL type for a new column holding `property`, as `format_type()` spells it.
///
/// `x-sql-datatype` (a non-blank string) wins and is returned trimmed. Otherwise: `integer` →
/// `bigint` (`numeric` when `minimum`/`maximum` admit values outside bigint), `number` →
/// `numeric` (`numeric(p,s)` with `format: x-singer.decimal` and `precision`/`scale`), `string`
/// → `text` or by `format` `timestamp with time zone`, `date`, `time without time zone`,
/// `uuid`, `numeric`; `boolean` → `boolean`; `object` → `jsonb`; an array of one scalar type →
/// that type with `[]`, any other array → `jsonb`. `"null"` is ignored; several distinct types
/// give `numeric` (integer and number), `jsonb` (one of them object or array) or `text`.
/// `anyOf`/`oneOf` are collapsed the same way, a lone non-null branch deciding fully. No type,
/// `{}`, `$ref`, or a schema that is not an object → `jsonb`; an unknown type name → `text`.
pub fn column_type_for(property: &Value) -> String {
    resolve(property, 0, true).unwrap_or(Column::Jsonb).name()
}

/// Whether `property` is an array of objects: its one non-null type is `"array"` (in its
/// `type`, or in its one non-null `anyOf` / `oneOf` branch) and its `items` admit
/// `"object"`. Mage's destinations store such a property as `jsonb[]`, parsing the elements
/// its sources send as JSON strings; in Mage mode we do the same (`json_string_elements`).
pub fn is_array_of_objects(property: &Value) -> bool {
    let Some(obj) = property.as_object() else {
        return false;
    };
    if !non_null_types(obj).is_empty() {
        return is_array_of_objects_here(obj);
    }
    let typed: Vec<&Map<String, Value>> = branches(obj)
        .filter(|branch| !non_null_types(branch).is_empty())
        .collect();
    matches!(typed.as_slice(), [branch] if is_array_of_objects_here(branch))
}

/// [`is_array_of_objects`] for a schema's own `type` and `items`.
fn is_array_of_objects_here(obj: &Map<String, Value>) -> bool {
    let Some(items) = obj.get("items").and_then(Value::as_object) else {
        return false;
    };
    let admits_object =
        |o: &Map<String, Value>| type_names(o).is_some_and(|t| t.iter().any(|t| t == "object"));
    non_null_types(obj) == ["array"] && (admits_object(items) || branches(items).any(admits_object))
}

/// The `type` names other than `"null"`.
fn non_null_types(obj: &Map<String, Value>) -> Vec<String> {
    let mut types = type_names(obj).unwrap_or_default();
    types.retain(|t| t != "null");
    types
}

/// The object branches of `anyOf` and `oneOf`.
fn branches(obj: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    ["anyOf", "oneOf"]
        .into_iter()
        .filter_map(|key| obj.get(key).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_object)
}

/// True unless the property's type list lacks `"null"` and no `anyOf`/`oneOf` branch admits
/// null. A schema without any type constraint (`{}`, `$ref`, garbage) counts as nullable.
/// Informational only: columns are always created nullable.
pub fn is_nullable(property: &Value) -> bool {
    admits_null(property, 0)
}

fn admits_null(schema: &Value, depth: usize) -> bool {
    let Some(obj) = schema.as_object() else {
        // `false` admits nothing; every other non-object is garbage we treat as unconstrained.
        return !matches!(schema, Value::Bool(false));
    };
    if depth > MAX_DEPTH || obj.contains_key("$ref") {
        return true;
    }
    if let Some(types) = type_names(obj) {
        if !types.iter().any(|t| t == "null") {
            return false;
        }
    }
    // Every present combinator must admit null: JSON Schema keywords all apply at once.
    ["anyOf", "oneOf"].iter().all(|key| match obj.get(*key) {
        Some(Value::Array(branches)) if !branches.is_empty() => {
            branches.iter().any(|b| admits_null(b, depth + 1))
        }
        _ => true,
    })
}

/// Plans `schema`; `None` means it admits only null (so it has no type of its own).
/// `allow_custom` is false for array items: `x-sql-datatype` is a column-level override, and an
/// element type we cannot parse back would make an unparseable array type.
fn resolve(schema: &Value, depth: usize, allow_custom: bool) -> Option<Column> {
    let Some(obj) = schema.as_object() else {
        // `true`, numbers, strings…: nothing we can read a type from, so accept anything.
        return Some(Column::Jsonb);
    };
    if depth > MAX_DEPTH {
        return Some(Column::Jsonb);
    }
    if allow_custom {
        if let Some(custom) = obj.get("x-sql-datatype").and_then(Value::as_str) {
            let custom = custom.trim();
            if !custom.is_empty() {
                return Some(Column::Custom(custom.to_string()));
            }
        }
    }
    if obj.contains_key("$ref") {
        // References are not resolved; jsonb accepts whatever they point at.
        return Some(Column::Jsonb);
    }

    let types = type_names(obj);
    let mut non_null: Vec<&str> = Vec::new();
    for t in types.iter().flatten() {
        if t != "null" && !non_null.contains(&t.as_str()) {
            non_null.push(t);
        }
    }
    match non_null.as_slice() {
        [only] => return Some(resolve_single(only, obj, depth)),
        [_, _, ..] => return Some(widen_type_names(&non_null)),
        [] => {}
    }

    if let Some(collapsed) = collapse_branches(obj, depth, allow_custom) {
        return collapsed;
    }
    match types {
        // An explicit `"type": "null"` (and nothing else) admits only null.
        Some(list) if !list.is_empty() => None,
        _ => Some(Column::Jsonb),
    }
}

/// The `type` keyword as lower-cased names: a string or an array of strings (non-string
/// entries are skipped). `None` when absent or of another shape.
fn type_names(obj: &Map<String, Value>) -> Option<Vec<String>> {
    match obj.get("type")? {
        Value::String(t) => Some(vec![t.to_ascii_lowercase()]),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect(),
        ),
        _ => None,
    }
}

/// One column for several distinct non-null type names in one `type` list. Keywords such as
/// `format` are ignored here: they cannot describe every listed type at once.
fn widen_type_names(names: &[&str]) -> Column {
    if names.iter().any(|t| *t == "object" || *t == "array") {
        return Column::Jsonb;
    }
    if names.iter().all(|t| *t == "integer" || *t == "number") {
        return Column::Scalar(Scalar::Numeric);
    }
    Column::Scalar(Scalar::Text)
}

/// Resolves one non-null type name together with the rest of the property's keywords.
fn resolve_single(type_name: &str, obj: &Map<String, Value>, depth: usize) -> Column {
    let format = obj
        .get("format")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    match type_name {
        "integer" => Column::Scalar(if integer_bounds_fit_bigint(obj) {
            Scalar::Bigint
        } else {
            Scalar::Numeric
        }),
        "number" => Column::Scalar(if format.as_deref() == Some("x-singer.decimal") {
            decimal(obj)
        } else {
            Scalar::Numeric
        }),
        "string" => Column::Scalar(match format.as_deref() {
            Some("date-time") => Scalar::Timestamptz,
            Some("date") => Scalar::Date,
            Some("time") => Scalar::Time,
            Some("uuid") => Scalar::Uuid,
            Some("x-singer.decimal") => decimal(obj),
            _ => Scalar::Text,
        }),
        "boolean" => Column::Scalar(Scalar::Boolean),
        "object" => Column::Jsonb,
        "array" => array_column(obj.get("items"), depth),
        _ => Column::Scalar(Scalar::Text),
    }
}

/// An array property: a native array when the items are one scalar type, else `jsonb`.
fn array_column(items: Option<&Value>, depth: usize) -> Column {
    // Missing items, `{}`, `true` and tuple-form `items: [...]` all resolve to jsonb here.
    match items.and_then(|i| resolve(i, depth + 1, false)) {
        Some(Column::Scalar(s)) => Column::Array(s),
        _ => Column::Jsonb,
    }
}

/// `numeric(p,s)` when `precision` and `scale` are both readable integers, else `numeric`.
/// PostgreSQL takes precision 1..=1000 and (before 15) scale 0..=precision, so both are clamped
/// into that range rather than producing DDL that fails.
fn decimal(obj: &Map<String, Value>) -> Scalar {
    let precision = obj.get("precision").and_then(integer_setting);
    let scale = obj.get("scale").and_then(integer_setting);
    match (precision, scale) {
        (Some(p), Some(s)) => {
            let p = p.clamp(1, MAX_NUMERIC_PRECISION);
            Scalar::NumericPs(p, s.clamp(0, p))
        }
        _ => Scalar::Numeric,
    }
}

/// An integer given as a JSON number or a numeric string (taps send both).
fn integer_setting(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.to_string().parse().ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Collapses `anyOf` / `oneOf`. Returns `None` when neither is present (or both are empty), and
/// `Some(None)` when every branch admits only null.
fn collapse_branches(
    obj: &Map<String, Value>,
    depth: usize,
    allow_custom: bool,
) -> Option<Option<Column>> {
    let branches: Vec<&Value> = ["anyOf", "oneOf"]
        .iter()
        .filter_map(|key| obj.get(*key).and_then(Value::as_array))
        .flatten()
        .collect();
    if branches.is_empty() {
        return None;
    }
    // Each branch is resolved once: resolving one twice per level would make nested
    // combinators exponential.
    let resolved: Vec<(&Value, Column)> = branches
        .into_iter()
        .filter_map(|branch| Some((branch, resolve(branch, depth + 1, allow_custom)?)))
        .collect();
    // The SDK's reading (singer-sdk, MeltanoLabs): when the first branch that admits a value
    // declares what it is (a date/time/uuid format, or x-sql-datatype), it decides, as in
    // `{"anyOf": [{"type": "string", "format": "date-time"}, {"type": ["string", "null"]}]}`.
    // Values of the other branches that do not fit then follow `invalid_records`.
    if let Some((branch, column)) = resolved.first() {
        if declares_its_type(branch, allow_custom) {
            return Some(Some(column.clone()));
        }
    }
    let mut columns: Vec<Column> = Vec::new();
    for (_, column) in resolved {
        if !columns.contains(&column) {
            columns.push(column);
        }
    }
    Some(widen_columns(columns))
}

/// Whether an `anyOf`/`oneOf` branch says what its values are beyond a JSON type: a
/// date-time, date, time or uuid `format`, or (at column level) `x-sql-datatype`.
fn declares_its_type(branch: &Value, allow_custom: bool) -> bool {
    let Some(obj) = branch.as_object() else {
        return false;
    };
    let custom = allow_custom
        && obj
            .get("x-sql-datatype")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.trim().is_empty());
    let format = obj.get("format").and_then(Value::as_str).is_some_and(|f| {
        ["date-time", "date", "time", "uuid"]
            .iter()
            .any(|known| f.eq_ignore_ascii_case(known))
    });
    custom || format
}

/// One column that holds every value of several distinct planned columns.
fn widen_columns(columns: Vec<Column>) -> Option<Column> {
    if columns.len() <= 1 {
        return columns.into_iter().next();
    }
    if columns
        .iter()
        .any(|c| matches!(c, Column::Jsonb | Column::Array(_)))
    {
        return Some(Column::Jsonb);
    }
    let all_numeric = columns
        .iter()
        .all(|c| matches!(c, Column::Scalar(s) if s.is_numeric_family()));
    Some(Column::Scalar(if all_numeric {
        Scalar::Numeric
    } else {
        Scalar::Text
    }))
}

/// False when `minimum` or `maximum` admits integers outside bigint's range. Bounds that are not
/// numbers are ignored (validation is not our job here).
fn integer_bounds_fit_bigint(obj: &Map<String, Value>) -> bool {
    let in_range = |v: i128| (i128::from(i64::MIN)..=i128::from(i64::MAX)).contains(&v);
    let check = |key: &str, round_up: bool| -> bool {
        let Some(Value::Number(n)) = obj.get(key) else {
            return true;
        };
        match parse_bound(&n.to_string(), round_up) {
            Some(Bound::Integer(v)) => in_range(v),
            Some(Bound::Huge) => false,
            None => true,
        }
    };
    check("minimum", true) && check("maximum", false)
}

/// A bound rounded to the nearest integer that an integer property may actually take.
#[derive(Debug, PartialEq, Eq)]
enum Bound {
    Integer(i128),
    /// Magnitude of at least 10^19: outside bigint whatever the sign.
    Huge,
}

/// Parses a JSON number literal exactly (no `f64` rounding): `-12.5e3`, `1E+30`, `0.5`.
/// `round_up` takes the ceiling (for a minimum), otherwise the floor (for a maximum), so
/// `maximum: 9223372036854775807.5` still fits a bigint. `None` for a malformed literal (and
/// for `NaN`/`Infinity`, which JSON cannot write). The literal is split by [`super::number`],
/// the parser the `numeric` and `bigint` encoders use.
fn parse_bound(literal: &str, round_up: bool) -> Option<Bound> {
    let Some(Literal::Finite(finite)) = parse_literal(literal) else {
        return None;
    };
    let whole = finite.whole_part();
    let Some(magnitude) = whole.magnitude else {
        return Some(Bound::Huge);
    };
    let value = if finite.negative {
        -magnitude
    } else {
        magnitude
    };
    let adjust = match (whole.has_fraction, finite.negative, round_up) {
        (false, _, _) => 0,
        // Positive values sit above their truncation, negative ones below it.
        (true, false, true) => 1,
        (true, true, false) => -1,
        (true, _, _) => 0,
    };
    Some(Bound::Integer(value + adjust))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn col(schema: Value) -> String {
        column_type_for(&schema)
    }

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    // --- SPEC §5 table, row by row ---

    #[test]
    fn integer_is_bigint() {
        assert_eq!(col(json!({"type": "integer"})), "bigint");
    }

    #[test]
    fn number_is_numeric_never_double_precision() {
        assert_eq!(col(json!({"type": "number"})), "numeric");
        assert_eq!(
            col(json!({"type": "number", "multipleOf": 0.01})),
            "numeric"
        );
    }

    #[test]
    fn singer_decimal_number_with_precision_and_scale_is_numeric_p_s() {
        let schema = json!({"type": "number", "format": "x-singer.decimal",
                            "precision": 10, "scale": 2});
        assert_eq!(col(schema), "numeric(10,2)");
    }

    #[test]
    fn singer_decimal_precision_and_scale_may_be_strings() {
        let schema = json!({"type": ["number", "null"], "format": "x-singer.decimal",
                            "precision": "38", "scale": " 9 "});
        assert_eq!(col(schema), "numeric(38,9)");
    }

    #[test]
    fn singer_decimal_precision_is_clamped_to_postgres_range() {
        let huge = json!({"type": "number", "format": "x-singer.decimal",
                          "precision": 5000, "scale": 2});
        assert_eq!(col(huge), "numeric(1000,2)");
        let zero = json!({"type": "number", "format": "x-singer.decimal",
                          "precision": 0, "scale": 0});
        assert_eq!(col(zero), "numeric(1,0)");
        let scale_over = json!({"type": "number", "format": "x-singer.decimal",
                                "precision": 4, "scale": 10});
        assert_eq!(col(scale_over), "numeric(4,4)");
        let negative = json!({"type": "number", "format": "x-singer.decimal",
                              "precision": 6, "scale": -2});
        assert_eq!(col(negative), "numeric(6,0)");
    }

    #[test]
    fn singer_decimal_without_both_settings_is_plain_numeric() {
        assert_eq!(
            col(json!({"type": "number", "format": "x-singer.decimal"})),
            "numeric"
        );
        assert_eq!(
            col(json!({"type": "number", "format": "x-singer.decimal", "precision": 10})),
            "numeric"
        );
        assert_eq!(
            col(json!({"type": "number", "format": "x-singer.decimal",
                       "precision": "ten", "scale": 2})),
            "numeric"
        );
        assert_eq!(
            col(json!({"type": "number", "format": "x-singer.decimal",
                       "precision": 10.5, "scale": 2})),
            "numeric"
        );
    }

    #[test]
    fn precision_without_singer_decimal_format_is_ignored() {
        assert_eq!(
            col(json!({"type": "number", "precision": 10, "scale": 2})),
            "numeric"
        );
    }

    #[test]
    fn string_is_text() {
        assert_eq!(col(json!({"type": "string"})), "text");
        assert_eq!(col(json!({"type": "string", "maxLength": 10})), "text");
    }

    #[test]
    fn string_formats_map_to_temporal_and_uuid_types() {
        let f = |format: &str| col(json!({"type": "string", "format": format}));
        assert_eq!(f("date-time"), "timestamp with time zone");
        assert_eq!(f("date"), "date");
        assert_eq!(f("time"), "time without time zone");
        assert_eq!(f("uuid"), "uuid");
    }

    #[test]
    fn unknown_string_formats_are_text() {
        let f = |format: &str| col(json!({"type": "string", "format": format}));
        assert_eq!(f("email"), "text");
        assert_eq!(f("uri"), "text");
        assert_eq!(f("singer.decimal"), "text");
        assert_eq!(col(json!({"type": "string", "format": 5})), "text");
    }

    #[test]
    fn string_singer_decimal_is_numeric() {
        assert_eq!(
            col(json!({"type": "string", "format": "x-singer.decimal"})),
            "numeric"
        );
        assert_eq!(
            col(
                json!({"type": ["string", "null"], "format": "x-singer.decimal",
                       "precision": 12, "scale": 4})
            ),
            "numeric(12,4)"
        );
    }

    #[test]
    fn boolean_is_boolean() {
        assert_eq!(col(json!({"type": "boolean"})), "boolean");
    }

    #[test]
    fn object_is_jsonb() {
        assert_eq!(col(json!({"type": "object"})), "jsonb");
        assert_eq!(
            col(json!({"type": "object", "properties": {"a": {"type": "string"}}})),
            "jsonb"
        );
    }

    #[test]
    fn arrays_of_scalars_are_native_arrays() {
        let a = |items: Value| col(json!({"type": "array", "items": items}));
        assert_eq!(a(json!({"type": "string"})), "text[]");
        assert_eq!(a(json!({"type": "integer"})), "bigint[]");
        assert_eq!(a(json!({"type": "number"})), "numeric[]");
        assert_eq!(a(json!({"type": "boolean"})), "boolean[]");
        assert_eq!(
            a(json!({"type": "string", "format": "date-time"})),
            "timestamp with time zone[]"
        );
        assert_eq!(a(json!({"type": "string", "format": "date"})), "date[]");
        assert_eq!(
            a(json!({"type": "string", "format": "time"})),
            "time without time zone[]"
        );
        assert_eq!(a(json!({"type": "string", "format": "uuid"})), "uuid[]");
    }

    #[test]
    fn array_items_may_be_nullable_or_any_of() {
        let a = |items: Value| col(json!({"type": "array", "items": items}));
        assert_eq!(a(json!({"type": ["null", "string"]})), "text[]");
        assert_eq!(
            a(json!({"anyOf": [{"type": "integer"}, {"type": "null"}]})),
            "bigint[]"
        );
        assert_eq!(
            a(json!({"oneOf": [{"type": "null"}, {"type": "string", "format": "uuid"}]})),
            "uuid[]"
        );
    }

    #[test]
    fn array_items_with_several_scalar_types_are_text_array() {
        let a = |items: Value| col(json!({"type": "array", "items": items}));
        assert_eq!(a(json!({"type": ["string", "integer"]})), "text[]");
        assert_eq!(
            a(json!({"anyOf": [{"type": "string"}, {"type": "boolean"}]})),
            "text[]"
        );
        assert_eq!(
            a(json!({"type": ["integer", "number", "null"]})),
            "numeric[]"
        );
    }

    #[test]
    fn arrays_of_objects_or_arrays_are_jsonb() {
        let a = |items: Value| col(json!({"type": "array", "items": items}));
        assert_eq!(a(json!({"type": "object"})), "jsonb");
        assert_eq!(
            a(json!({"type": "array", "items": {"type": "string"}})),
            "jsonb"
        );
        assert_eq!(a(json!({"type": ["string", "object"]})), "jsonb");
        assert_eq!(a(json!({"$ref": "#/definitions/x"})), "jsonb");
    }

    #[test]
    fn untyped_arrays_are_jsonb() {
        assert_eq!(col(json!({"type": "array"})), "jsonb");
        assert_eq!(col(json!({"type": "array", "items": {}})), "jsonb");
        assert_eq!(col(json!({"type": "array", "items": true})), "jsonb");
        assert_eq!(
            col(json!({"type": "array", "items": [{"type": "string"}]})),
            "jsonb"
        );
        assert_eq!(
            col(json!({"type": "array", "items": {"type": "null"}})),
            "jsonb"
        );
    }

    #[test]
    fn array_items_ignore_x_sql_datatype() {
        let schema = json!({"type": "array",
                            "items": {"type": "string", "x-sql-datatype": "citext"}});
        assert_eq!(col(schema), "text[]");
    }

    #[test]
    fn several_scalar_types_are_text() {
        assert_eq!(col(json!({"type": ["string", "integer"]})), "text");
        assert_eq!(col(json!({"type": ["null", "boolean", "string"]})), "text");
        assert_eq!(
            col(json!({"type": ["string", "integer"], "format": "date-time"})),
            "text"
        );
    }

    #[test]
    fn integer_and_number_together_are_numeric() {
        assert_eq!(col(json!({"type": ["integer", "number"]})), "numeric");
        assert_eq!(
            col(json!({"type": ["null", "number", "integer"]})),
            "numeric"
        );
    }

    #[test]
    fn several_types_with_object_or_array_are_jsonb() {
        assert_eq!(col(json!({"type": ["string", "object"]})), "jsonb");
        assert_eq!(col(json!({"type": ["array", "integer", "null"]})), "jsonb");
    }

    #[test]
    fn repeated_type_names_count_once() {
        assert_eq!(col(json!({"type": ["string", "string", "null"]})), "text");
        assert_eq!(
            col(json!({"type": ["integer", "null", "integer"]})),
            "bigint"
        );
    }

    #[test]
    fn no_type_is_jsonb() {
        assert_eq!(col(json!({})), "jsonb");
        assert_eq!(col(json!({"description": "anything"})), "jsonb");
        assert_eq!(col(json!({"type": []})), "jsonb");
    }

    #[test]
    fn only_null_is_jsonb() {
        assert_eq!(col(json!({"type": "null"})), "jsonb");
        assert_eq!(col(json!({"type": ["null"]})), "jsonb");
        assert_eq!(col(json!({"anyOf": [{"type": "null"}]})), "jsonb");
    }

    // --- nullable variants ---

    #[test]
    fn nullable_type_lists_pick_the_first_non_null_type() {
        assert_eq!(col(json!({"type": ["null", "integer"]})), "bigint");
        assert_eq!(col(json!({"type": ["integer", "null"]})), "bigint");
        assert_eq!(col(json!({"type": ["null", "object"]})), "jsonb");
        assert_eq!(col(json!({"type": ["boolean", "null"]})), "boolean");
    }

    #[test]
    fn nullable_date_time_from_tap_postgres_is_timestamptz() {
        let schema = json!({"type": ["null", "string"], "format": "date-time"});
        assert_eq!(col(schema), "timestamp with time zone");
    }

    #[test]
    fn nullable_array_from_tap_github_is_text_array() {
        let schema = json!({"anyOf": [{"type": "array", "items": {"type": "string"}},
                                      {"type": "null"}]});
        assert_eq!(col(schema), "text[]");
        let schema = json!({"type": ["null", "array"], "items": {"type": ["null", "string"]}});
        assert_eq!(col(schema), "text[]");
    }

    // --- anyOf / oneOf ---

    #[test]
    fn any_of_with_one_non_null_branch_uses_that_branch_fully() {
        let schema = json!({"anyOf": [{"type": "string", "format": "date-time"},
                                      {"type": "null"}]});
        assert_eq!(col(schema), "timestamp with time zone");
        let schema = json!({"oneOf": [{"type": "null"},
                                      {"type": "number", "format": "x-singer.decimal",
                                       "precision": 20, "scale": 5}]});
        assert_eq!(col(schema), "numeric(20,5)");
    }

    #[test]
    fn any_of_branch_x_sql_datatype_is_used_when_it_is_the_only_branch() {
        let schema = json!({"anyOf": [{"type": "string", "x-sql-datatype": "citext"},
                                      {"type": "null"}]});
        assert_eq!(col(schema), "citext");
    }

    #[test]
    fn any_of_whose_first_branch_has_a_date_format_takes_that_type_as_the_sdk_does() {
        // What SDK taps (Salesforce and friends) send for dates.
        let schema = json!({"anyOf": [{"type": "string", "format": "date-time"},
                                      {"type": ["string", "null"]}]});
        assert_eq!(col(schema), "timestamp with time zone");
        let schema = json!({"anyOf": [{"type": "string", "format": "date-time"},
                                      {"type": "string"}]});
        assert_eq!(col(schema), "timestamp with time zone");
        let schema = json!({"oneOf": [{"type": "null"}, {"type": "string", "format": "DATE"},
                                      {"type": "integer"}]});
        assert_eq!(col(schema), "date");
        let schema = json!({"anyOf": [{"type": "string", "format": "uuid"}, {"type": "string"}]});
        assert_eq!(col(schema), "uuid");
        let schema = json!({"anyOf": [{"type": "string", "format": "time"}, {"type": "integer"}]});
        assert_eq!(col(schema), "time without time zone");
    }

    #[test]
    fn any_of_whose_first_branch_has_x_sql_datatype_takes_it() {
        let schema = json!({"anyOf": [{"type": "string", "x-sql-datatype": "citext"},
                                      {"type": "integer"}]});
        assert_eq!(col(schema), "citext");
    }

    #[test]
    fn any_of_whose_first_branch_declares_nothing_still_widens() {
        let schema = json!({"anyOf": [{"type": "string"},
                                      {"type": "string", "format": "date-time"}]});
        assert_eq!(col(schema), "text");
        let schema = json!({"anyOf": [{"type": "boolean"}, {"type": "integer"}]});
        assert_eq!(col(schema), "text");
        // A format that names no column type of its own does not decide.
        let schema = json!({"anyOf": [{"type": "string", "format": "email"}, {"type": "integer"}]});
        assert_eq!(col(schema), "text");
    }

    #[test]
    fn any_of_with_equal_branches_keeps_the_type() {
        let schema = json!({"anyOf": [{"type": "string", "maxLength": 3},
                                      {"type": "string", "minLength": 5}]});
        assert_eq!(col(schema), "text");
        let schema = json!({"oneOf": [{"type": "integer", "minimum": 0},
                                      {"type": "integer", "maximum": -10}]});
        assert_eq!(col(schema), "bigint");
    }

    #[test]
    fn any_of_numeric_branches_widen_to_numeric() {
        let schema = json!({"anyOf": [{"type": "integer"}, {"type": "number"},
                                      {"type": "null"}]});
        assert_eq!(col(schema), "numeric");
        let schema = json!({"anyOf": [{"type": "integer"},
                                      {"type": "number", "format": "x-singer.decimal",
                                       "precision": 5, "scale": 1}]});
        assert_eq!(col(schema), "numeric");
    }

    #[test]
    fn any_of_with_object_or_array_branch_is_jsonb() {
        let schema = json!({"anyOf": [{"type": "string"}, {"type": "object"}]});
        assert_eq!(col(schema), "jsonb");
        let schema = json!({"anyOf": [{"type": "integer"},
                                      {"type": "array", "items": {"type": "integer"}}]});
        assert_eq!(col(schema), "jsonb");
        let schema = json!({"anyOf": [{"type": "integer"}, {}]});
        assert_eq!(col(schema), "jsonb");
    }

    #[test]
    fn nested_any_of_collapses() {
        let schema = json!({"anyOf": [{"oneOf": [{"type": "string", "format": "date"},
                                                 {"type": "null"}]},
                                      {"type": "null"}]});
        assert_eq!(col(schema), "date");
    }

    #[test]
    fn explicit_type_wins_over_any_of() {
        let schema = json!({"type": "string", "anyOf": [{"format": "date"}, {"format": "uuid"}]});
        assert_eq!(col(schema), "text");
    }

    #[test]
    fn null_type_with_any_of_uses_the_branches() {
        let schema = json!({"type": ["null"], "anyOf": [{"type": "boolean"}, {"type": "null"}]});
        assert_eq!(col(schema), "boolean");
    }

    #[test]
    fn empty_or_malformed_any_of_is_jsonb() {
        assert_eq!(col(json!({"anyOf": []})), "jsonb");
        assert_eq!(col(json!({"anyOf": "string"})), "jsonb");
        assert_eq!(col(json!({"anyOf": [1, "x", null]})), "jsonb");
    }

    // --- integer bounds ---

    #[test]
    fn integer_bounds_inside_bigint_stay_bigint() {
        let schema = json!({"type": "integer", "minimum": -9223372036854775808i64,
                            "maximum": 9223372036854775807i64});
        assert_eq!(col(schema), "bigint");
        assert_eq!(
            col(json!({"type": "integer", "minimum": 0, "maximum": 255})),
            "bigint"
        );
    }

    #[test]
    fn unsigned_bigint_maximum_is_numeric() {
        // tap-mysql's `bigint unsigned`.
        let schema =
            parsed(r#"{"type": "integer", "minimum": 0, "maximum": 18446744073709551615}"#);
        assert_eq!(col(schema), "numeric");
    }

    #[test]
    fn bounds_one_past_bigint_are_numeric() {
        let max = parsed(r#"{"type": "integer", "maximum": 9223372036854775808}"#);
        assert_eq!(col(max), "numeric");
        let min = parsed(r#"{"type": "integer", "minimum": -9223372036854775809}"#);
        assert_eq!(col(min), "numeric");
    }

    #[test]
    fn huge_bound_literals_are_compared_without_rounding() {
        let schema = parsed(
            r#"{"type": ["integer", "null"],
                "maximum": 99999999999999999999999999999999999999999999999999}"#,
        );
        assert_eq!(col(schema), "numeric");
        let schema = parsed(r#"{"type": "integer", "minimum": -1e30}"#);
        assert_eq!(col(schema), "numeric");
        let schema = parsed(r#"{"type": "integer", "maximum": 1E+999999999999999999999}"#);
        assert_eq!(col(schema), "numeric");
    }

    #[test]
    fn fractional_bounds_round_toward_the_allowed_integers() {
        // The largest integer <= this maximum is i64::MAX, so bigint still holds every value.
        let schema = parsed(r#"{"type": "integer", "maximum": 9223372036854775807.5}"#);
        assert_eq!(col(schema), "bigint");
        // The smallest integer >= this minimum is i64::MIN.
        let schema = parsed(r#"{"type": "integer", "minimum": -9223372036854775808.5}"#);
        assert_eq!(col(schema), "bigint");
        let schema = parsed(r#"{"type": "integer", "minimum": -9223372036854775809.5}"#);
        assert_eq!(col(schema), "numeric");
        let schema = parsed(r#"{"type": "integer", "minimum": -9223372036854775808.0}"#);
        assert_eq!(col(schema), "bigint");
        let schema = parsed(r#"{"type": "integer", "maximum": 9.223372036854775807e18}"#);
        assert_eq!(col(schema), "bigint");
        let schema = parsed(r#"{"type": "integer", "maximum": 9.223372036854775808e18}"#);
        assert_eq!(col(schema), "numeric");
    }

    #[test]
    fn small_and_tiny_bounds_stay_bigint() {
        let schema = parsed(r#"{"type": "integer", "minimum": 1e-30, "maximum": 0.0}"#);
        assert_eq!(col(schema), "bigint");
        let schema = parsed(r#"{"type": "integer", "minimum": -0.5e-999999999999}"#);
        assert_eq!(col(schema), "bigint");
    }

    #[test]
    fn non_numeric_bounds_are_ignored() {
        let schema = json!({"type": "integer", "maximum": "99999999999999999999999"});
        assert_eq!(col(schema), "bigint");
    }

    #[test]
    fn parse_bound_rounds_exactly() {
        assert_eq!(parse_bound("12.5", false), Some(Bound::Integer(12)));
        assert_eq!(parse_bound("12.5", true), Some(Bound::Integer(13)));
        assert_eq!(parse_bound("-12.5", false), Some(Bound::Integer(-13)));
        assert_eq!(parse_bound("-12.5", true), Some(Bound::Integer(-12)));
        assert_eq!(parse_bound("1.25e2", false), Some(Bound::Integer(125)));
        assert_eq!(parse_bound("125e-2", true), Some(Bound::Integer(2)));
        assert_eq!(parse_bound("0.001", true), Some(Bound::Integer(1)));
        assert_eq!(parse_bound("-0.001", false), Some(Bound::Integer(-1)));
        assert_eq!(parse_bound("-0", false), Some(Bound::Integer(0)));
        assert_eq!(parse_bound("0001200", false), Some(Bound::Integer(1200)));
        assert_eq!(parse_bound("1e19", false), Some(Bound::Huge));
        assert_eq!(
            parse_bound("9999999999999999999", false),
            Some(Bound::Integer(9_999_999_999_999_999_999))
        );
        assert_eq!(parse_bound("", false), None);
        assert_eq!(parse_bound("abc", false), None);
        assert_eq!(parse_bound("1e", false), None);
        assert_eq!(parse_bound(".", false), None);
        assert_eq!(parse_bound("1.2.3", false), None);
        assert_eq!(parse_bound("ünïcode", false), None);
    }

    // --- x-sql-datatype ---

    #[test]
    fn x_sql_datatype_overrides_everything_and_is_trimmed() {
        assert_eq!(
            col(json!({"type": "integer", "x-sql-datatype": " smallint "})),
            "smallint"
        );
        assert_eq!(
            col(json!({"type": "object", "x-sql-datatype": "json"})),
            "json"
        );
        assert_eq!(
            col(json!({"$ref": "#/x", "x-sql-datatype": "varchar(20)"})),
            "varchar(20)"
        );
    }

    #[test]
    fn blank_or_non_string_x_sql_datatype_is_ignored() {
        assert_eq!(
            col(json!({"type": "integer", "x-sql-datatype": "  "})),
            "bigint"
        );
        assert_eq!(
            col(json!({"type": "integer", "x-sql-datatype": 5})),
            "bigint"
        );
    }

    // --- refs, unknown types, garbage ---

    #[test]
    fn ref_is_jsonb() {
        assert_eq!(col(json!({"$ref": "#/definitions/address"})), "jsonb");
        assert_eq!(
            col(json!({"anyOf": [{"$ref": "#/definitions/a"}, {"type": "null"}]})),
            "jsonb"
        );
    }

    #[test]
    fn unknown_type_name_is_text() {
        assert_eq!(col(json!({"type": "varchar"})), "text");
        assert_eq!(col(json!({"type": ["null", "date"]})), "text");
    }

    #[test]
    fn type_names_are_read_case_insensitively() {
        assert_eq!(col(json!({"type": "Integer"})), "bigint");
        assert_eq!(
            col(json!({"type": ["NULL", "STRING"], "format": "Date-Time"})),
            "timestamp with time zone"
        );
    }

    #[test]
    fn garbage_schemas_do_not_panic() {
        assert_eq!(col(json!(5)), "jsonb");
        assert_eq!(col(json!("string")), "jsonb");
        assert_eq!(col(json!(null)), "jsonb");
        assert_eq!(col(json!(true)), "jsonb");
        assert_eq!(col(json!([1, 2])), "jsonb");
        assert_eq!(col(json!({"type": 5})), "jsonb");
        assert_eq!(col(json!({"type": {"nested": "object"}})), "jsonb");
        assert_eq!(col(json!({"type": [5, null, "integer"]})), "bigint");
        assert_eq!(col(json!({"type": "array", "items": 7})), "jsonb");
        assert_eq!(col(json!({"type": "integer", "minimum": null})), "bigint");
        assert_eq!(col(json!({"type": ""})), "text");
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        // Deep enough to pass MAX_DEPTH several times over, shallow enough that building and
        // dropping the Value (both recursive in serde_json) stay cheap.
        let mut schema = json!({"type": "string"});
        for _ in 0..500 {
            schema = json!({"anyOf": [schema, {"type": "null"}]});
        }
        assert_eq!(column_type_for(&schema), "jsonb");
        assert!(is_nullable(&schema));
        let mut nested = json!({"type": "integer"});
        for _ in 0..500 {
            nested = json!({"type": "array", "items": nested});
        }
        assert_eq!(col(nested), "jsonb");
    }

    // --- is_nullable ---

    #[test]
    fn type_list_with_null_is_nullable() {
        assert!(is_nullable(&json!({"type": ["null", "string"]})));
        assert!(is_nullable(&json!({"type": "null"})));
    }

    #[test]
    fn type_without_null_is_not_nullable() {
        assert!(!is_nullable(&json!({"type": "string"})));
        assert!(!is_nullable(&json!({"type": ["integer", "string"]})));
    }

    #[test]
    fn any_of_with_null_branch_is_nullable() {
        assert!(is_nullable(
            &json!({"anyOf": [{"type": "string"}, {"type": "null"}]})
        ));
        assert!(is_nullable(
            &json!({"oneOf": [{"type": ["string", "null"]}, {"type": "integer"}]})
        ));
        assert!(!is_nullable(
            &json!({"anyOf": [{"type": "string"}, {"type": "integer"}]})
        ));
    }

    #[test]
    fn type_without_null_wins_over_nullable_any_of() {
        let schema = json!({"type": "string", "anyOf": [{"type": "null"}, {"maxLength": 3}]});
        assert!(!is_nullable(&schema));
    }

    #[test]
    fn unconstrained_schemas_are_nullable() {
        assert!(is_nullable(&json!({})));
        assert!(is_nullable(&json!({"$ref": "#/x"})));
        assert!(is_nullable(&json!(5)));
        assert!(is_nullable(&json!({"type": 5})));
        assert!(!is_nullable(&json!(false)));
    }

    #[test]
    fn arrays_of_objects_are_told_as_mage_tells_them() {
        for yes in [
            json!({"type": ["null", "array"], "items": {"type": ["null", "object"]}}),
            json!({"type": "array", "items": {"type": "object"}}),
            json!({"anyOf": [{"type": "array", "items": {"type": "object"}}, {"type": "null"}]}),
            json!({"type": "array", "items": {"anyOf": [{"type": "object"}, {"type": "null"}]}}),
        ] {
            assert!(is_array_of_objects(&yes), "{yes}");
        }
        for no in [
            json!({"type": ["null", "object"]}),
            json!({"type": ["null", "array"]}),
            json!({"type": "array", "items": {}}),
            json!({"type": "array", "items": {"type": "string"}}),
            json!({"type": ["array", "object"], "items": {"type": "object"}}),
            json!({"anyOf": [{"type": "array", "items": {"type": "object"}}, {"type": "string"}]}),
            json!("array"),
        ] {
            assert!(!is_array_of_objects(&no), "{no}");
        }
    }
}
