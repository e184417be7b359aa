//! The PostgreSQL column types we can encode, parsed from the names `format_type()` prints.
//!
//! This is the type model: it lives in `schema` and is used by `encode` (which encodes each
//! value for the column's type), `db::catalog` (which reads the types) and schema evolution.
//! Values are encoded for the column's *actual* type, read from the catalog, so a table made
//! by another loader (double precision, varchar, `text[]`, `jsonb[]`) loads unchanged. Our own
//! planned types ([`super::types`]) are spelled the way `format_type()` spells them, so one
//! parser serves both.

/// A column type as far as binary encoding is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgType {
    /// smallint
    Int2,
    /// integer
    Int4,
    /// bigint
    Int8,
    /// numeric / numeric(p,s)
    Numeric,
    /// real
    Float4,
    /// double precision
    Float8,
    /// text, varchar(n), char(n), name: all take the text wire format.
    Text,
    /// boolean
    Bool,
    /// timestamp with time zone
    Timestamptz,
    /// timestamp without time zone
    Timestamp,
    /// date
    Date,
    /// time without time zone
    Time,
    /// uuid
    Uuid,
    /// jsonb
    Jsonb,
    /// json
    Json,
    /// A one-dimensional array of a scalar type above.
    Array {
        /// The element type.
        element: Box<PgType>,
        /// The element type's OID, which the array wire format carries and the server checks.
        element_oid: u32,
    },
    /// Anything else: loading a value into it is an error naming the type.
    Unsupported(String),
}

impl PgType {
    /// Parses a `format_type()` name such as `bigint`, `numeric(38,9)`,
    /// `character varying(255)`, `timestamp(3) with time zone` or `jsonb[]`.
    pub fn from_format_type(name: &str) -> PgType {
        let name = name.trim();
        if let Some(element_name) = name.strip_suffix("[]") {
            let element = PgType::from_format_type(element_name);
            return match element.oid() {
                Some(element_oid) if !matches!(element, PgType::Array { .. }) => PgType::Array {
                    element: Box::new(element),
                    element_oid: text_flavour_oid(element_name).unwrap_or(element_oid),
                },
                _ => PgType::Unsupported(name.to_string()),
            };
        }
        // Drop a type modifier: `numeric(10,2)`, `varchar(5)`, `timestamp(3) with time zone`.
        let base: String = match (name.find('('), name.find(')')) {
            (Some(open), Some(close)) if open < close => {
                format!("{}{}", &name[..open], &name[close + 1..])
            }
            _ => name.to_string(),
        };
        match base.trim().to_ascii_lowercase().as_str() {
            "smallint" | "int2" => PgType::Int2,
            "integer" | "int" | "int4" => PgType::Int4,
            "bigint" | "int8" => PgType::Int8,
            "numeric" | "decimal" => PgType::Numeric,
            "real" | "float4" => PgType::Float4,
            "double precision" | "float8" | "float" => PgType::Float8,
            "text" | "character varying" | "varchar" | "character" | "char" | "bpchar" | "name"
            | "citext" => PgType::Text,
            "boolean" | "bool" => PgType::Bool,
            "timestamp with time zone" | "timestamptz" => PgType::Timestamptz,
            "timestamp without time zone" | "timestamp" => PgType::Timestamp,
            "date" => PgType::Date,
            "time without time zone" | "time" => PgType::Time,
            "uuid" => PgType::Uuid,
            "jsonb" => PgType::Jsonb,
            "json" => PgType::Json,
            _ => PgType::Unsupported(name.to_string()),
        }
    }

    /// The built-in type OID (for array elements); `None` for unsupported types.
    pub fn oid(&self) -> Option<u32> {
        Some(match self {
            PgType::Int2 => 21,
            PgType::Int4 => 23,
            PgType::Int8 => 20,
            PgType::Numeric => 1700,
            PgType::Float4 => 700,
            PgType::Float8 => 701,
            PgType::Text => 25,
            PgType::Bool => 16,
            PgType::Timestamptz => 1184,
            PgType::Timestamp => 1114,
            PgType::Date => 1082,
            PgType::Time => 1083,
            PgType::Uuid => 2950,
            PgType::Jsonb => 3802,
            PgType::Json => 114,
            PgType::Array { .. } | PgType::Unsupported(_) => return None,
        })
    }

    /// Whether a value of this type can be compared with `IS DISTINCT FROM` (json cannot).
    pub fn has_equality(&self) -> bool {
        match self {
            PgType::Json => false,
            PgType::Array { element, .. } => element.has_equality(),
            _ => true,
        }
    }

    /// Integer column types that overflow into numeric.
    pub fn is_integer(&self) -> bool {
        matches!(self, PgType::Int2 | PgType::Int4 | PgType::Int8)
    }
}

/// The text-like types share the text wire format but not the OID an array header must carry.
fn text_flavour_oid(element_name: &str) -> Option<u32> {
    let lower = element_name.trim().to_ascii_lowercase();
    if lower.starts_with("character varying") || lower.starts_with("varchar") {
        Some(1043)
    } else if lower.starts_with("character") || lower.starts_with("char") || lower == "bpchar" {
        Some(1042)
    } else if lower == "name" {
        Some(19)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_type_names_of_other_loaders_parse() {
        assert_eq!(PgType::from_format_type("double precision"), PgType::Float8);
        assert_eq!(PgType::from_format_type("numeric(38,9)"), PgType::Numeric);
        assert_eq!(
            PgType::from_format_type("character varying(255)"),
            PgType::Text
        );
        assert_eq!(
            PgType::from_format_type("timestamp(3) with time zone"),
            PgType::Timestamptz
        );
        assert_eq!(
            PgType::from_format_type("jsonb[]"),
            PgType::Array {
                element: Box::new(PgType::Jsonb),
                element_oid: 3802
            }
        );
    }

    #[test]
    fn varchar_arrays_carry_the_varchar_oid() {
        assert_eq!(
            PgType::from_format_type("character varying(10)[]"),
            PgType::Array {
                element: Box::new(PgType::Text),
                element_oid: 1043
            }
        );
    }

    #[test]
    fn unknown_types_are_unsupported_not_guessed() {
        assert!(matches!(
            PgType::from_format_type("inet"),
            PgType::Unsupported(_)
        ));
        assert!(matches!(
            PgType::from_format_type("inet[]"),
            PgType::Unsupported(_)
        ));
    }
}
