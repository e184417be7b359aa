//! One JSON value → one binary COPY field for the column's actual type.
//!
//! Values arrive as the exact JSON text of the input line (a `RawValue`), so numbers keep
//! every digit and objects pass to jsonb without being parsed into a tree. Each field is
//! written as PostgreSQL's binary COPY wants it: a 4-byte big-endian length (or -1 for NULL)
//! followed by the type's send format.

use std::borrow::Cow;

use serde::de::{self, Deserializer as _, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::array_scan::{each_plain_element, write_plain_text};
use super::numeric::{encode_numeric, parse_i64_literal, OUT_OF_RANGE_FOR_BIGINT};
use super::scalar::{parse_bool_text, parse_float_text, parse_uuid};
use super::text::{
    check_json_surrogates, find_byte, has_backslash_or_nul, quoted, replace_nul,
    sanitize_json_text_nul, unescape_json_string, unescape_json_string_into,
};
use super::time::fixed::{fixed_date_days, fixed_timestamp_micros};
use super::time::{parse_date_days, parse_time_micros, parse_timestamp_micros};
use crate::schema::pg_type::PgType;

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// The value does not fit the column; the reason says why.
    Invalid(Cow<'static, str>),
    /// An integer too large for its integer column: the caller may widen the column.
    IntegerOverflow,
}

impl ValueError {
    /// The reason, for messages.
    pub fn reason(&self) -> Cow<'static, str> {
        match self {
            ValueError::Invalid(reason) => reason.clone(),
            ValueError::IntegerOverflow => "integer out of range for the column".into(),
        }
    }
}

impl From<&'static str> for ValueError {
    fn from(reason: &'static str) -> Self {
        ValueError::Invalid(Cow::Borrowed(reason))
    }
}

/// Switches that change how values are encoded.
#[derive(Debug, Clone, Copy)]
pub struct EncodeOptions {
    /// Replace U+0000 with U+FFFD (true) or refuse the value (false).
    pub sanitize_nul: bool,
    /// Mage mode: a string holding a JSON array or object fills a json, jsonb or array
    /// column as that JSON (Mage's sources send arrays of objects as strings), and so does
    /// each string element of a json[] or jsonb[] column.
    pub parse_json_strings: bool,
    /// Mage mode, for a property that is an array of objects: a json or jsonb column holding
    /// its array gets each element that is a string holding JSON as that JSON, as Mage's
    /// destination stores such a property (a jsonb[] whose string elements it parses). Only
    /// the array's own elements: strings nested deeper are kept.
    pub json_string_elements: bool,
}

/// Counters the encoder keeps for the run summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct EncodeStats {
    /// U+0000 characters replaced.
    pub nul_replaced: u64,
}

/// What kind of JSON value a raw text holds, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonKind {
    Null,
    Bool(bool),
    Number,
    String,
    Object,
    Array,
}

fn kind_of(raw: &str) -> JsonKind {
    match raw.as_bytes().first() {
        None | Some(b'n') => JsonKind::Null,
        Some(b't') => JsonKind::Bool(true),
        Some(b'f') => JsonKind::Bool(false),
        Some(b'"') => JsonKind::String,
        Some(b'{') => JsonKind::Object,
        Some(b'[') => JsonKind::Array,
        Some(_) => JsonKind::Number,
    }
}

/// Appends the NULL field marker.
#[inline]
pub fn write_null(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i32).to_be_bytes());
}

/// Appends one field (length prefix and payload) for `raw` (JSON text, or `None` for a
/// missing property) encoded as `ty`.
pub fn encode_field(
    raw: Option<&str>,
    ty: &PgType,
    options: EncodeOptions,
    stats: &mut EncodeStats,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    let raw = match raw {
        // A printable ASCII byte is no whitespace: only other texts need the (per-char) trim.
        Some(raw) if raw.as_bytes().first().is_some_and(u8::is_ascii_graphic) => raw,
        Some(raw) => raw.trim_start(),
        None => {
            write_null(out);
            return Ok(());
        }
    };
    let kind = kind_of(raw);
    if kind == JsonKind::Null {
        write_null(out);
        return Ok(());
    }
    let embedded;
    let elements;
    // Mage mode only (`json_string_elements` implies `parse_json_strings`): tested here so
    // that every other value skips both calls.
    let (raw, kind) = if options.parse_json_strings {
        let (raw, kind) = match embedded_json(raw, kind, ty, options) {
            Some(json) => {
                embedded = json;
                (embedded.as_str(), kind_of(&embedded))
            }
            None => (raw, kind),
        };
        match json_elements(raw, kind, ty, options) {
            Some(json) => {
                elements = json;
                (elements.as_str(), kind)
            }
            None => (raw, kind),
        }
    } else {
        (raw, kind)
    };
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    if let Err(error) = encode_payload(raw, kind, ty, options, stats, out) {
        out.truncate(start);
        return Err(error);
    }
    let length = i32::try_from(out.len() - start - 4).map_err(|_| {
        out.truncate(start);
        ValueError::from("value larger than 2 GB")
    })?;
    out[start..start + 4].copy_from_slice(&length.to_be_bytes());
    Ok(())
}

/// With `parse_json_strings`, the JSON text inside a string value bound for a json or jsonb
/// column, when it parses as JSON (Mage's rule), or for an array column, when it holds an
/// array.
fn embedded_json(raw: &str, kind: JsonKind, ty: &PgType, options: EncodeOptions) -> Option<String> {
    if !options.parse_json_strings
        || kind != JsonKind::String
        || !matches!(ty, PgType::Json | PgType::Jsonb | PgType::Array { .. })
    {
        return None;
    }
    let text = unescape_json_string(raw).ok()?;
    let text = text.trim();
    if matches!(ty, PgType::Array { .. }) && !text.starts_with('[') {
        return None;
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    Some(text.to_string())
}

/// With `json_string_elements`, the array bound for a json or jsonb column with its string
/// elements that hold JSON replaced by that JSON; `None` when there is nothing to replace.
/// A string that is not JSON stays a string (Mage's destination fails the run on one).
fn json_elements(raw: &str, kind: JsonKind, ty: &PgType, options: EncodeOptions) -> Option<String> {
    if !options.json_string_elements
        || kind != JsonKind::Array
        || !matches!(ty, PgType::Json | PgType::Jsonb)
    {
        return None;
    }
    let items: Vec<&RawValue> = serde_json::from_str(raw).ok()?;
    let mut parsed: Vec<Option<String>> = Vec::with_capacity(items.len());
    for item in &items {
        let text = item.get();
        parsed.push(if kind_of(text) == JsonKind::String {
            embedded_json(text, JsonKind::String, &PgType::Jsonb, options)
        } else {
            None
        });
    }
    if parsed.iter().all(Option::is_none) {
        return None;
    }
    let mut out = String::with_capacity(raw.len());
    out.push('[');
    for (index, (item, json)) in items.iter().zip(&parsed).enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(json.as_deref().unwrap_or(item.get()));
    }
    out.push(']');
    Some(out)
}

fn encode_payload(
    raw: &str,
    kind: JsonKind,
    ty: &PgType,
    options: EncodeOptions,
    stats: &mut EncodeStats,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    match ty {
        PgType::Int2 | PgType::Int4 | PgType::Int8 => encode_integer(raw, kind, ty, out)?,
        PgType::Numeric => match kind {
            JsonKind::Number => encode_numeric(raw, out)?,
            JsonKind::String => encode_numeric(string_value(raw)?.trim(), out)?,
            _ => return Err("expected a number".into()),
        },
        PgType::Float8 | PgType::Float4 => encode_float(raw, kind, ty, out)?,
        PgType::Text => match kind {
            JsonKind::String => write_text(raw, options, stats, out)?,
            // Numbers, booleans and structures keep their JSON spelling in a text column.
            _ => out.extend_from_slice(raw.as_bytes()),
        },
        PgType::Bool => {
            let value = match kind {
                JsonKind::Bool(value) => value,
                JsonKind::String => parse_bool_text(string_value(raw)?.trim())?,
                JsonKind::Number => match raw {
                    "0" => false,
                    "1" => true,
                    _ => return Err("expected a boolean".into()),
                },
                _ => return Err("expected a boolean".into()),
            };
            out.push(u8::from(value));
        }
        // The fixed-width forms taps write, read from between the quotes (no escape to undo).
        PgType::Timestamptz | PgType::Timestamp => {
            let micros = match quoted(raw).and_then(fixed_timestamp_micros) {
                Some(micros) => micros,
                None => parse_timestamp_micros(
                    expect_string(raw, kind, "expected a date-time string")?.trim(),
                )?,
            };
            out.extend_from_slice(&micros.to_be_bytes());
        }
        PgType::Date => {
            let days = match quoted(raw).and_then(fixed_date_days) {
                Some(days) => days,
                None => {
                    parse_date_days(expect_string(raw, kind, "expected a date string")?.trim())?
                }
            };
            out.extend_from_slice(&days.to_be_bytes());
        }
        PgType::Time => {
            let text = expect_string(raw, kind, "expected a time string")?;
            out.extend_from_slice(&parse_time_micros(text.trim())?.to_be_bytes());
        }
        PgType::Uuid => {
            let text = expect_string(raw, kind, "expected a UUID string")?;
            out.extend_from_slice(&parse_uuid(text.trim())?);
        }
        PgType::Jsonb => encode_jsonb(raw, options, stats, out)?,
        PgType::Json => out.extend_from_slice(raw.as_bytes()),
        PgType::Array {
            element,
            element_oid,
        } => {
            if kind != JsonKind::Array {
                return Err("expected an array".into());
            }
            encode_array(raw, element, *element_oid, options, stats, out)?;
        }
        PgType::Unsupported(name) => {
            return Err(ValueError::Invalid(
                format!("column type {name} is not supported by target-postgres").into(),
            ))
        }
    }
    Ok(())
}

/// An integer column (`smallint`, `integer`, `bigint`) from a JSON number or numeric string;
/// too large a value is [`ValueError::IntegerOverflow`], so the caller may widen the column.
#[inline]
fn encode_integer(
    raw: &str,
    kind: JsonKind,
    ty: &PgType,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    let value = match kind {
        JsonKind::Number => integer_literal(raw)?,
        JsonKind::String => integer_literal(string_value(raw)?.trim())?,
        _ => return Err("expected an integer".into()),
    };
    match ty {
        PgType::Int2 => out.extend_from_slice(
            &i16::try_from(value)
                .map_err(|_| ValueError::IntegerOverflow)?
                .to_be_bytes(),
        ),
        PgType::Int4 => out.extend_from_slice(
            &i32::try_from(value)
                .map_err(|_| ValueError::IntegerOverflow)?
                .to_be_bytes(),
        ),
        _ => out.extend_from_slice(&value.to_be_bytes()),
    }
    Ok(())
}

/// A `double precision` or `real` column from a JSON number or a numeric string.
#[inline]
fn encode_float(
    raw: &str,
    kind: JsonKind,
    ty: &PgType,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    let value = match kind {
        JsonKind::Number => raw.parse::<f64>().map_err(|_| "not a number")?,
        JsonKind::String => parse_float_text(string_value(raw)?.trim())?,
        _ => return Err("expected a number".into()),
    };
    if kind == JsonKind::Number && value.is_infinite() {
        return Err("out of range for double precision".into());
    }
    if *ty == PgType::Float4 {
        let narrow = value as f32;
        if narrow.is_infinite() && value.is_finite() {
            return Err("out of range for real".into());
        }
        out.extend_from_slice(&narrow.to_be_bytes());
    } else {
        out.extend_from_slice(&value.to_be_bytes());
    }
    Ok(())
}

/// A `jsonb` column: its binary format is a version byte and the JSON text.
#[inline]
fn encode_jsonb(
    raw: &str,
    options: EncodeOptions,
    stats: &mut EncodeStats,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    // Only the \u0000 escape, which jsonb refuses, needs attention.
    out.push(1);
    // jsonb also refuses a lone surrogate escape; catch it here so one value, not the whole
    // COPY, is refused. Both concern escapes: JSON without a backslash (most of it) skips
    // both scans.
    if memchr::memchr(b'\\', raw.as_bytes()).is_none() {
        out.extend_from_slice(raw.as_bytes());
        return Ok(());
    }
    check_json_surrogates(raw)?;
    let (text, replaced) = sanitize_json_text_nul(raw);
    if replaced > 0 && !options.sanitize_nul {
        return Err("contains U+0000, which PostgreSQL cannot store".into());
    }
    stats.nul_replaced += replaced as u64;
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// A one-dimensional array: ndim, has-null flag, element OID, size and lower bound, then
/// each element as a field. Null elements are kept, whatever `items` says. The elements are
/// encoded as the array is parsed (no list of them is built), and the header's flag and
/// size are filled in after.
fn encode_array(
    raw: &str,
    element: &PgType,
    element_oid: u32,
    options: EncodeOptions,
    stats: &mut EncodeStats,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    let header = out.len();
    out.extend_from_slice(&[0; 8]); // ndim and the has-null flag, set below
    out.extend_from_slice(&element_oid.to_be_bytes());
    out.extend_from_slice(&[0; 4]); // size, set below
    out.extend_from_slice(&1i32.to_be_bytes()); // lower bound
    let (count, has_null) = match plain_elements(raw, element, options, stats, out) {
        Some(read) => read,
        None => serde_elements(raw, element, options, stats, out)?,
    };
    if count == 0 {
        // An empty array: ndim 0, no flag, and no size or lower bound.
        out.truncate(header + 12);
        return Ok(());
    }
    let count = i32::try_from(count).map_err(|_| "array too long")?;
    out[header..header + 4].copy_from_slice(&1i32.to_be_bytes());
    out[header + 4..header + 8].copy_from_slice(&i32::from(has_null).to_be_bytes());
    out[header + 12..header + 16].copy_from_slice(&count.to_be_bytes());
    Ok(())
}

/// The elements of an array of plain scalars, encoded into `out` as
/// [`each_plain_element`] reads them: their count and whether one is null. `None` leaves
/// `out` and `stats` as they were, for [`serde_elements`]: the array is not a plain one, or
/// an element does not fit (serde then finds the same element, and says so as before).
fn plain_elements(
    raw: &str,
    element: &PgType,
    options: EncodeOptions,
    stats: &mut EncodeStats,
    out: &mut Vec<u8>,
) -> Option<(usize, bool)> {
    let (start, saved_stats) = (out.len(), *stats);
    let (mut count, mut has_null) = (0, false);
    let read = each_plain_element(raw, |text| {
        count += 1;
        has_null |= text == "null";
        (*element == PgType::Text && write_plain_text(text, out))
            || encode_field(Some(text), element, options, stats, out).is_ok()
    });
    if !read {
        out.truncate(start);
        *stats = saved_stats;
        return None;
    }
    Some((count, has_null))
}

/// The elements of any array, encoded into `out` as serde walks it: their count and
/// whether one is null.
fn serde_elements(
    raw: &str,
    element: &PgType,
    options: EncodeOptions,
    stats: &mut EncodeStats,
    out: &mut Vec<u8>,
) -> Result<(usize, bool), ValueError> {
    let mut elements = ArrayElements {
        element,
        options,
        stats,
        out,
        count: 0,
        has_null: false,
        failure: None,
    };
    let mut deserializer = serde_json::Deserializer::from_str(raw);
    let parsed = deserializer
        .deserialize_seq(&mut elements)
        .and_then(|()| deserializer.end());
    if let Some(failure) = elements.failure {
        return Err(failure);
    }
    parsed.map_err(|_| "not a JSON array")?;
    Ok((elements.count, elements.has_null))
}

/// Encodes an array's elements as serde walks it; the first element that does not fit
/// stops the walk and is kept in `failure`.
struct ArrayElements<'a> {
    element: &'a PgType,
    options: EncodeOptions,
    stats: &'a mut EncodeStats,
    out: &'a mut Vec<u8>,
    count: usize,
    has_null: bool,
    failure: Option<ValueError>,
}

impl<'de> Visitor<'de> for &mut ArrayElements<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            let text = item.get();
            let kind = kind_of(text);
            let encoded = if kind == JsonKind::Array
                && *self.element != PgType::Jsonb
                && *self.element != PgType::Json
            {
                Err("nested arrays do not fit a one-dimensional array column".into())
            } else {
                encode_field(Some(text), self.element, self.options, self.stats, self.out)
            };
            if let Err(error) = encoded {
                self.failure = Some(error);
                return Err(de::Error::custom("element does not fit"));
            }
            self.count += 1;
            self.has_null |= kind == JsonKind::Null;
        }
        Ok(())
    }
}

fn integer_literal(text: &str) -> Result<i64, ValueError> {
    if let Some(value) = plain_integer(text.as_bytes()) {
        return Ok(value);
    }
    parse_i64_literal(text).map_err(|reason| {
        if reason == OUT_OF_RANGE_FOR_BIGINT {
            ValueError::IntegerOverflow
        } else {
            ValueError::from(reason)
        }
    })
}

/// The value of the commonest integer literal, an optional `-` and at most 18 digits (so it
/// cannot overflow), read directly; `None` sends anything else (`+`, a fraction, an
/// exponent, more digits) to the full parser, which gives the same value for these.
#[inline]
pub(super) fn plain_integer(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        bytes => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut value: i64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(byte - b'0');
    }
    Some(if negative { -value } else { value })
}

fn string_value(raw: &str) -> Result<Cow<'_, str>, ValueError> {
    unescape_json_string(raw).map_err(ValueError::from)
}

fn expect_string<'a>(
    raw: &'a str,
    kind: JsonKind,
    reason: &'static str,
) -> Result<Cow<'a, str>, ValueError> {
    if kind == JsonKind::String {
        string_value(raw)
    } else {
        Err(reason.into())
    }
}

/// A JSON string's text, decoded straight into `out` (no copy of it is made on the way);
/// U+0000 is replaced with U+FFFD and counted, or refused without `sanitize_nul`.
fn write_text(
    raw: &str,
    options: EncodeOptions,
    stats: &mut EncodeStats,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    // Most strings have neither an escape nor a NUL: one quick scan proves it, and
    // the text between the quotes is the value.
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        if !has_backslash_or_nul(inner.as_bytes()) {
            out.extend_from_slice(inner.as_bytes());
            return Ok(());
        }
    }
    let start = out.len();
    unescape_json_string_into(raw, out)?;
    // In UTF-8 a zero byte is only ever U+0000; almost no text has one.
    if find_byte(&out[start..], 0).is_none() {
        return Ok(());
    }
    if !options.sanitize_nul {
        return Err("contains U+0000, which PostgreSQL cannot store".into());
    }
    let written =
        String::from_utf8(out.split_off(start)).map_err(|_| ValueError::from("not valid UTF-8"))?;
    let (text, replaced) = replace_nul(Cow::Owned(written));
    stats.nul_replaced += replaced as u64;
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_read_between_the_quotes_match_the_unescaped_text() {
        let dates = crate::encode::time::EDGE_DATES;
        let times = [
            "",
            "T00:00:00",
            " 23:59:59",
            "t24:00:00",
            "T12:30",
            "T01:02:03.1234567",
        ];
        let tails = [
            "",
            "Z",
            "+02:00",
            "-05:30",
            "+16:00",
            " ",
            "x",
            ".5Z",
            ".123456+01:00",
        ];
        let wraps = [
            ("", ""),
            (" ", ""),
            ("", "\\n"),
            ("\\u0032", ""),
            ("", "\\u005a"),
        ];
        let mut rng = crate::fuzz::Rng(0x5eed_2026_1203);
        for _ in 0..5_000 {
            let (before, after) = wraps[rng.below(wraps.len())];
            let raw = format!(
                "\"{before}{}{}{}{after}\"",
                dates[rng.below(dates.len())],
                times[rng.below(times.len())],
                tails[rng.below(tails.len())]
            );
            let old_timestamp = string_value(&raw).and_then(|text| {
                parse_timestamp_micros(text.trim())
                    .map(|micros| [&8i32.to_be_bytes()[..], &micros.to_be_bytes()].concat())
                    .map_err(ValueError::from)
            });
            assert_eq!(field(&raw, &PgType::Timestamptz), old_timestamp, "{raw}");
            let old_date = string_value(&raw).and_then(|text| {
                parse_date_days(text.trim())
                    .map(|days| [&4i32.to_be_bytes()[..], &days.to_be_bytes()].concat())
                    .map_err(ValueError::from)
            });
            assert_eq!(field(&raw, &PgType::Date), old_date, "{raw}");
        }
    }

    #[test]
    fn plain_arrays_read_directly_match_the_serde_walk() {
        let pieces = [
            r#""a""#,
            r#""b c""#,
            r#""é☃""#,
            r#""""#,
            r#""\u0000""#,
            r#""x\"y""#,
            "\"t\u{1}\"",
            "1",
            "-2.5",
            "1e3",
            "01",
            "1.",
            "-",
            "true",
            "false",
            "null",
            "nul",
            r#""1""#,
            r#""t""#,
            r#""12.50""#,
            r#""2024-01-02""#,
            r#""2024-01-02T03:04:05Z""#,
            r#""not a date""#,
            r#""[1,2]""#,
            r#""{\"k\":1}""#,
            "[1]",
            "{}",
            "99999999999999999999",
            r#""0b8a6d9c-4d1e-4b7a-9a3c-0f5e6d7c8b9a""#,
        ];
        let separators = [",", ",", ",", " , ", ",\n", "", ",,", " "];
        let types = [
            PgType::Text,
            PgType::Int2,
            PgType::Int8,
            PgType::Numeric,
            PgType::Float8,
            PgType::Bool,
            PgType::Date,
            PgType::Timestamptz,
            PgType::Uuid,
            PgType::Jsonb,
            PgType::Json,
        ];
        let mut rng = crate::fuzz::Rng(0x5eed_2026_1203);
        let mut taken = 0;
        for case in 0..20_000 {
            let mut raw = String::from(if case % 50 == 0 { "" } else { "[" });
            for index in 0..rng.below(5) {
                if index > 0 {
                    raw.push_str(separators[rng.below(separators.len())]);
                }
                raw.push_str(pieces[rng.below(pieces.len())]);
            }
            raw.push_str(["]", "]", "]", "] ", "]x", ""][rng.below(6)]);
            let element = &types[rng.below(types.len())];
            let options = EncodeOptions {
                sanitize_nul: rng.below(2) == 0,
                parse_json_strings: case % 3 == 0,
                json_string_elements: false,
            };
            let (mut fast, mut slow) = (b"before".to_vec(), b"before".to_vec());
            let mut fast_stats = EncodeStats { nul_replaced: 3 };
            let mut slow_stats = fast_stats;
            let read = plain_elements(&raw, element, options, &mut fast_stats, &mut fast);
            let walked = serde_elements(&raw, element, options, &mut slow_stats, &mut slow);
            match read {
                Some(read) => {
                    taken += 1;
                    assert_eq!(walked, Ok(read), "{raw} as {element:?}");
                    assert_eq!(fast, slow, "{raw} as {element:?}");
                    assert_eq!(fast_stats.nul_replaced, slow_stats.nul_replaced, "{raw}");
                }
                None => {
                    assert_eq!(fast, b"before", "{raw}: declined but wrote");
                    assert_eq!(fast_stats.nul_replaced, 3, "{raw}");
                }
            }
        }
        assert!(taken > 2_000, "{taken}");
    }

    #[test]
    fn plain_integers_read_directly_match_the_literal_parser() {
        let texts = [
            "0",
            "-0",
            "7",
            "-7",
            "007",
            "123456789012345678",
            "-999999999999999999",
        ];
        let longer = [
            "1234567890123456789",
            "9223372036854775807",
            "-9223372036854775808",
        ];
        for text in texts {
            assert_eq!(
                plain_integer(text.as_bytes()).map(Ok),
                Some(parse_i64_literal(text)),
                "{text}"
            );
        }
        // Longer, signed with `+`, or not plain digits: left to the full parser.
        for text in longer
            .into_iter()
            .chain(["+7", "1.0", "1e3", "-", "", "1-2", "٣"])
        {
            assert_eq!(plain_integer(text.as_bytes()), None, "{text}");
        }
    }

    const OPTIONS: EncodeOptions = EncodeOptions {
        sanitize_nul: true,
        parse_json_strings: false,
        json_string_elements: false,
    };

    fn field(raw: &str, ty: &PgType) -> Result<Vec<u8>, ValueError> {
        let mut out = Vec::new();
        let mut stats = EncodeStats::default();
        encode_field(Some(raw), ty, OPTIONS, &mut stats, &mut out)?;
        Ok(out)
    }

    fn payload(raw: &str, ty: &PgType) -> Vec<u8> {
        let out = field(raw, ty).unwrap();
        let length = i32::from_be_bytes([out[0], out[1], out[2], out[3]]);
        assert_eq!(length as usize, out.len() - 4);
        out[4..].to_vec()
    }

    #[test]
    fn mage_array_of_objects_elements_sent_as_json_strings_become_json() {
        let elements = EncodeOptions {
            sanitize_nul: true,
            parse_json_strings: true,
            json_string_elements: true,
        };
        let encode = |raw: &str, ty: &PgType, options: EncodeOptions| {
            let mut out = Vec::new();
            encode_field(
                Some(raw),
                ty,
                options,
                &mut EncodeStats::default(),
                &mut out,
            )
            .map(|()| String::from_utf8_lossy(&out[4..]).into_owned())
        };
        let sent =
            r#"["{\"b\": 2}", {"c": "{\"d\": 1}"}, "7", " [1,2] ", "not json", ["{}"], null]"#;
        // Only the array's own string elements; nested strings and non-JSON strings stay.
        let stored = r#"[{"b": 2},{"c": "{\"d\": 1}"},7,[1,2],"not json",["{}"],null]"#;
        assert_eq!(
            encode(sent, &PgType::Jsonb, elements).unwrap(),
            format!("\u{1}{stored}")
        );
        assert_eq!(encode(sent, &PgType::Json, elements).unwrap(), stored);
        // The whole array sent as a string: parsed, then its elements.
        let as_string = serde_json::to_string(sent).unwrap();
        assert_eq!(
            encode(&as_string, &PgType::Jsonb, elements).unwrap(),
            format!("\u{1}{stored}")
        );
        // Without the option (other properties, or outside Mage mode) the array is kept.
        let mage = EncodeOptions {
            json_string_elements: false,
            ..elements
        };
        assert_eq!(
            encode(sent, &PgType::Jsonb, mage).unwrap(),
            format!("\u{1}{sent}")
        );
        assert_eq!(
            encode(sent, &PgType::Jsonb, OPTIONS).unwrap(),
            format!("\u{1}{sent}")
        );
    }

    #[test]
    fn mage_json_strings_fill_json_and_array_columns_as_json() {
        let mage = EncodeOptions {
            sanitize_nul: true,
            parse_json_strings: true,
            json_string_elements: false,
        };
        let encode = |raw: &str, ty: &PgType, options: EncodeOptions| {
            let mut out = Vec::new();
            encode_field(
                Some(raw),
                ty,
                options,
                &mut EncodeStats::default(),
                &mut out,
            )
            .map(|()| out[4..].to_vec())
        };
        let jsonb_array = PgType::from_format_type("jsonb[]");
        let as_string = r#""[{\"a\": 1}]""#;
        assert_eq!(
            encode(as_string, &jsonb_array, mage).unwrap(),
            encode(r#"[{"a": 1}]"#, &jsonb_array, OPTIONS).unwrap()
        );
        assert!(
            encode(as_string, &jsonb_array, OPTIONS).is_err(),
            "only in Mage mode"
        );
        assert_eq!(
            encode(r#""{\"k\": [2]}""#, &PgType::Jsonb, mage).unwrap(),
            b"\x01{\"k\": [2]}"
        );
        // Any JSON in a jsonb column; strings that are not JSON, and text columns, are left
        // alone.
        assert_eq!(
            encode(r#""123""#, &PgType::Jsonb, mage).unwrap(),
            b"\x01123"
        );
        assert_eq!(
            encode(r#""hello""#, &PgType::Jsonb, mage).unwrap(),
            b"\x01\"hello\""
        );
        assert!(
            encode(r#""7""#, &jsonb_array, mage).is_err(),
            "not an array"
        );
        assert_eq!(
            encode(r#""[oops""#, &PgType::Jsonb, mage).unwrap(),
            b"\x01\"[oops\""
        );
        assert_eq!(encode(r#""[1]""#, &PgType::Text, mage).unwrap(), b"[1]");
    }

    #[test]
    fn null_and_missing_values_are_null_fields() {
        assert_eq!(field("null", &PgType::Int8).unwrap(), (-1i32).to_be_bytes());
        let mut out = Vec::new();
        encode_field(
            None,
            &PgType::Text,
            OPTIONS,
            &mut EncodeStats::default(),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, (-1i32).to_be_bytes());
    }

    #[test]
    fn integers_accept_numeric_strings_and_integral_floats() {
        assert_eq!(payload("42", &PgType::Int8), 42i64.to_be_bytes());
        assert_eq!(payload("\"42\"", &PgType::Int8), 42i64.to_be_bytes());
        assert_eq!(payload("3.0", &PgType::Int4), 3i32.to_be_bytes());
        assert!(matches!(
            field("\"abc\"", &PgType::Int8),
            Err(ValueError::Invalid(_))
        ));
    }

    #[test]
    fn integer_overflow_is_reported_for_widening() {
        assert_eq!(
            field("99999999999999999999", &PgType::Int8),
            Err(ValueError::IntegerOverflow)
        );
        assert_eq!(
            field("70000", &PgType::Int2),
            Err(ValueError::IntegerOverflow)
        );
    }

    #[test]
    fn failed_fields_leave_the_buffer_untouched() {
        let mut out = vec![7u8];
        let result = encode_field(
            Some("\"x\""),
            &PgType::Int8,
            OPTIONS,
            &mut EncodeStats::default(),
            &mut out,
        );
        assert!(result.is_err());
        assert_eq!(out, vec![7u8]);
    }

    #[test]
    fn text_columns_take_any_json_value() {
        assert_eq!(payload("\"a\\nb\"", &PgType::Text), b"a\nb");
        assert_eq!(payload("12.50", &PgType::Text), b"12.50");
        assert_eq!(payload("{\"a\":1}", &PgType::Text), b"{\"a\":1}");
    }

    #[test]
    fn nul_in_text_is_replaced_and_counted() {
        let mut out = Vec::new();
        let mut stats = EncodeStats::default();
        encode_field(
            Some("\"a\\u0000b\""),
            &PgType::Text,
            OPTIONS,
            &mut stats,
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[4..], "a\u{FFFD}b".as_bytes());
        assert_eq!(stats.nul_replaced, 1);
        let strict = EncodeOptions {
            sanitize_nul: false,
            parse_json_strings: false,
            json_string_elements: false,
        };
        assert!(encode_field(
            Some("\"a\\u0000b\""),
            &PgType::Text,
            strict,
            &mut stats,
            &mut out
        )
        .is_err());
    }

    #[test]
    fn text_is_decoded_after_the_fields_before_it() {
        let mut out = b"row so far".to_vec();
        let mut stats = EncodeStats::default();
        encode_field(
            Some(r#""x\u0000\u00e9\n""#),
            &PgType::Text,
            OPTIONS,
            &mut stats,
            &mut out,
        )
        .unwrap();
        let text = "x\u{FFFD}é\n".as_bytes();
        let length = (text.len() as i32).to_be_bytes();
        assert_eq!(out, [&b"row so far"[..], &length, text].concat());
        assert_eq!(stats.nul_replaced, 1);
        for bad in [r#""a\u0000b""#, r#""a\qb""#, r#""a\ud800""#] {
            let strict = EncodeOptions {
                sanitize_nul: false,
                ..OPTIONS
            };
            let mut out = b"row so far".to_vec();
            assert!(encode_field(Some(bad), &PgType::Text, strict, &mut stats, &mut out).is_err());
            assert_eq!(out, b"row so far", "{bad}");
        }
    }

    #[test]
    fn jsonb_is_version_byte_and_raw_text() {
        assert_eq!(
            payload("{\"a\": [1, 2]}", &PgType::Jsonb),
            b"\x01{\"a\": [1, 2]}"
        );
        assert_eq!(payload("\"s\"", &PgType::Jsonb), b"\x01\"s\"");
    }

    #[test]
    fn arrays_keep_null_elements() {
        let ty = PgType::from_format_type("bigint[]");
        let bytes = payload("[1, null]", &ty);
        let mut expected = Vec::new();
        expected.extend_from_slice(&1i32.to_be_bytes());
        expected.extend_from_slice(&1i32.to_be_bytes());
        expected.extend_from_slice(&20u32.to_be_bytes());
        expected.extend_from_slice(&2i32.to_be_bytes());
        expected.extend_from_slice(&1i32.to_be_bytes());
        expected.extend_from_slice(&8i32.to_be_bytes());
        expected.extend_from_slice(&1i64.to_be_bytes());
        expected.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn empty_arrays_have_zero_dimensions() {
        let ty = PgType::from_format_type("text[]");
        let bytes = payload("[]", &ty);
        assert_eq!(&bytes[..4], &0i32.to_be_bytes());
        assert_eq!(bytes.len(), 12);
    }

    #[test]
    fn uuids_parse_in_common_spellings() {
        let expected = payload("\"0a0b0c0d-0e0f-1011-1213-141516171819\"", &PgType::Uuid);
        assert_eq!(
            payload("\"{0A0B0C0D-0E0F-1011-1213-141516171819}\"", &PgType::Uuid),
            expected
        );
        assert_eq!(
            payload("\"0a0b0c0d0e0f10111213141516171819\"", &PgType::Uuid),
            expected
        );
        assert!(field("\"0a0b0c0d-0e0f-1011-1213-14151617181\"", &PgType::Uuid).is_err());
        assert!(field("\"é\"", &PgType::Uuid).is_err());
    }

    #[test]
    fn booleans_accept_common_spellings() {
        assert_eq!(payload("true", &PgType::Bool), [1]);
        assert_eq!(payload("\"f\"", &PgType::Bool), [0]);
        assert_eq!(payload("1", &PgType::Bool), [1]);
        assert!(field("2", &PgType::Bool).is_err());
    }

    #[test]
    fn floats_refuse_overflowing_literals() {
        assert!(field("1e400", &PgType::Float8).is_err());
        assert_eq!(payload("1.5", &PgType::Float8), 1.5f64.to_be_bytes());
        assert_eq!(payload("\"NaN\"", &PgType::Float8).len(), 8);
    }
}
