//! Schema evolution: what to do with an existing column when a stream's schema now wants a
//! different type for it (SPEC §5).
//!
//! The rules, in order: a column that can already hold the new values is left alone (text holds
//! any scalar, jsonb anything, numeric any integer, double precision any number — a table made
//! by another loader keeps its types, timestamp and jsonb[] included); a safe widening
//! (smallint → integer → bigint → numeric; date → timestamp or timestamptz; any scalar →
//! text; anything → jsonb) is an `ALTER COLUMN TYPE ... USING` that keeps every value;
//! anything else keeps the column, and each value is converted into it when it is loaded (or
//! refused, per value). A column is never dropped or renamed, and nothing ever narrows.

use crate::schema::pg_type::PgType;

/// What an existing column needs for a newly wanted type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnChange {
    /// Leave it: it holds the new values, or they are converted into it value by value.
    Keep,
    /// Widen it: `ALTER COLUMN ... TYPE <type_name> USING <using>`, where `{column}` in
    /// `using` stands for the quoted column name.
    Widen {
        /// The new type, as `format_type()` spells it.
        type_name: String,
        /// The conversion expression.
        using: String,
    },
}

/// The change an existing column of type `actual` needs when the schema now maps the
/// property to `wanted_name` (one of our canonical type names).
pub fn column_change(actual: &PgType, wanted_name: &str) -> ColumnChange {
    let wanted = PgType::from_format_type(wanted_name);
    if *actual == wanted || holds(actual, &wanted) {
        return ColumnChange::Keep;
    }
    let widen = |using: &str| ColumnChange::Widen {
        type_name: wanted_name.to_string(),
        using: using.to_string(),
    };
    match (actual, &wanted) {
        (_, PgType::Jsonb) => widen("to_jsonb({column})"),
        (PgType::Int2, PgType::Int4 | PgType::Int8 | PgType::Numeric)
        | (PgType::Int4, PgType::Int8 | PgType::Numeric)
        | (PgType::Int8, PgType::Numeric) => widen("{column}::numeric"),
        (PgType::Date, PgType::Timestamptz) => widen("{column}::timestamp AT TIME ZONE 'UTC'"),
        (PgType::Date, PgType::Timestamp) => widen("{column}::timestamp"),
        (scalar, PgType::Text)
            if !matches!(scalar, PgType::Array { .. } | PgType::Unsupported(_)) =>
        {
            widen("{column}::text")
        }
        _ => ColumnChange::Keep,
    }
}

/// Whether a column of type `actual` can take values meant for `wanted` without a change.
fn holds(actual: &PgType, wanted: &PgType) -> bool {
    match actual {
        PgType::Jsonb | PgType::Json => true,
        // Text takes any scalar; structures want jsonb, arrays keep their own column.
        PgType::Text => !matches!(wanted, PgType::Array { .. } | PgType::Jsonb | PgType::Json),
        PgType::Numeric => wanted.is_integer(),
        PgType::Float4 | PgType::Float8 => wanted.is_integer() || *wanted == PgType::Numeric,
        PgType::Int8 => matches!(wanted, PgType::Int2 | PgType::Int4),
        PgType::Int4 => *wanted == PgType::Int2,
        PgType::Timestamptz => matches!(wanted, PgType::Timestamp | PgType::Date),
        // Another loader's timestamp column takes date-times as UTC instants (README, Types):
        // it is not ours to retype.
        PgType::Timestamp => matches!(wanted, PgType::Timestamptz | PgType::Date),
        // Mage's jsonb[] takes an array of objects as it is.
        PgType::Array { element, .. } => {
            matches!(**element, PgType::Jsonb | PgType::Json) && *wanted == PgType::Jsonb
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(actual: &str, wanted: &str) -> ColumnChange {
        column_change(&PgType::from_format_type(actual), wanted)
    }

    fn widens_to(actual: &str, wanted: &str) -> bool {
        matches!(change(actual, wanted), ColumnChange::Widen { type_name, .. } if type_name == wanted)
    }

    #[test]
    fn integer_to_number_to_string_widens_step_by_step() {
        assert!(widens_to("bigint", "numeric"));
        assert!(widens_to("numeric", "text"));
        assert!(widens_to("integer", "numeric"));
    }

    #[test]
    fn columns_that_hold_the_new_values_are_kept() {
        assert_eq!(change("numeric", "bigint"), ColumnChange::Keep);
        assert_eq!(change("text", "bigint"), ColumnChange::Keep);
        assert_eq!(
            change("text", "timestamp with time zone"),
            ColumnChange::Keep
        );
        assert_eq!(change("jsonb", "text"), ColumnChange::Keep);
        assert_eq!(change("jsonb", "text[]"), ColumnChange::Keep);
        assert_eq!(
            change("timestamp with time zone", "date"),
            ColumnChange::Keep
        );
        assert_eq!(change("character varying(20)", "text"), ColumnChange::Keep);
    }

    #[test]
    fn other_loaders_double_precision_is_never_altered() {
        assert_eq!(change("double precision", "numeric"), ColumnChange::Keep);
        assert_eq!(change("double precision", "bigint"), ColumnChange::Keep);
    }

    #[test]
    fn dates_widen_to_timestamps_in_utc() {
        match change("date", "timestamp with time zone") {
            ColumnChange::Widen { using, .. } => assert!(using.contains("'UTC'"), "{using}"),
            other => panic!("{other:?}"),
        }
        assert!(widens_to("date", "timestamp without time zone"));
        // Another loader's timestamp column already takes date-times (as UTC).
        assert_eq!(
            change("timestamp without time zone", "timestamp with time zone"),
            ColumnChange::Keep
        );
    }

    #[test]
    fn anything_widens_to_jsonb() {
        assert!(widens_to("text", "jsonb"));
        assert!(widens_to("bigint", "jsonb"));
        assert!(widens_to("text[]", "jsonb"));
        assert_eq!(change("jsonb[]", "jsonb"), ColumnChange::Keep);
    }

    #[test]
    fn nothing_narrows_and_unrelated_types_are_kept() {
        assert_eq!(change("numeric", "boolean"), ColumnChange::Keep);
        assert_eq!(change("text", "numeric"), ColumnChange::Keep);
        assert_eq!(change("bigint", "boolean"), ColumnChange::Keep);
        assert_eq!(change("uuid", "date"), ColumnChange::Keep);
    }

    #[test]
    fn scalars_widen_to_text_but_arrays_do_not() {
        assert!(widens_to("boolean", "text"));
        assert!(widens_to("uuid", "text"));
        assert_eq!(change("text[]", "text"), ColumnChange::Keep);
    }
}
