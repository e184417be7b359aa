//! A column's field encoder, chosen once per write plan: the values taps nearly always send
//! for the common types are written straight from the line's bytes, everything else by
//! [`encode_field`](super::value::encode_field).
//!
//! For most values, the general encoder's work around the value (trimming, telling what
//! kind of JSON it is, the Mage options, a length patched in after the payload) cost more
//! than the value itself. [`FieldEncoder::encode_fast`] knows the column's type before the
//! first record, and takes a value only in a shape the general encoder writes the same bytes
//! for: an integer literal of at most 18 digits, a plain decimal, a string without `\u`
//! escapes, a fixed-width date or date-time, a flat array of plain strings, JSON without a
//! backslash. Whatever it declines it leaves untouched, and
//! [`encode_field`](super::value::encode_field) then writes what it always did, errors
//! included.

use super::numeric::{word_decimal, WORD_FIELD_BYTES};
use super::text::{find_backslash_or_nul, one_letter_escape};
use super::time::fixed::{fixed_date_days, fixed_timestamp_micros};
use super::value::{plain_integer, write_null, EncodeOptions};
use crate::schema::pg_type::PgType;

/// How a column's values are written when they come in their commonest shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldEncoder {
    /// `smallint`: a plain integer literal.
    Int2,
    /// `integer`: a plain integer literal.
    Int4,
    /// `bigint`: a plain integer literal.
    Int8,
    /// `numeric`: a plain decimal literal.
    Numeric,
    /// `text` and its flavours: a string without `\u` escapes or NUL.
    Text,
    /// `boolean`: `true` or `false`.
    Bool,
    /// `timestamp` and `timestamptz`: a fixed-width date-time string.
    Timestamp,
    /// `date`: a `YYYY-MM-DD` string.
    Date,
    /// A `text[]` (or `varchar[]`, ...): a compact array of strings without escapes.
    TextArray {
        /// The element OID the array carries.
        element_oid: u32,
    },
    /// `jsonb`: JSON without a backslash.
    Jsonb,
    /// `json`: any JSON.
    Json,
    /// Every value goes to [`encode_field`](super::value::encode_field).
    General,
}

impl FieldEncoder {
    /// The encoder for a column of type `ty`.
    pub fn for_type(ty: &PgType) -> FieldEncoder {
        match ty {
            PgType::Int2 => FieldEncoder::Int2,
            PgType::Int4 => FieldEncoder::Int4,
            PgType::Int8 => FieldEncoder::Int8,
            PgType::Numeric => FieldEncoder::Numeric,
            PgType::Text => FieldEncoder::Text,
            PgType::Bool => FieldEncoder::Bool,
            PgType::Timestamptz | PgType::Timestamp => FieldEncoder::Timestamp,
            PgType::Date => FieldEncoder::Date,
            PgType::Array {
                element,
                element_oid,
            } if **element == PgType::Text => FieldEncoder::TextArray {
                element_oid: *element_oid,
            },
            PgType::Jsonb => FieldEncoder::Jsonb,
            PgType::Json => FieldEncoder::Json,
            _ => FieldEncoder::General,
        }
    }

    /// Appends the field (length prefix and payload) for `raw`, a value's JSON text as it
    /// lies in the input line, when it has the shape this encoder takes; false, with `out`
    /// untouched, leaves the value to [`encode_field`](super::value::encode_field) (given the same text as a `str`).
    #[inline]
    pub fn encode_fast(self, raw: &[u8], options: EncodeOptions, out: &mut Vec<u8>) -> bool {
        // Both ends ASCII: the bytes then begin and end on the line's char boundaries, where
        // cutting the line as a `str` for the general encoder would have succeeded.
        let (Some(&first), Some(&last)) = (raw.first(), raw.last()) else {
            return false;
        };
        if !first.is_ascii() || !last.is_ascii() {
            return false;
        }
        if first == b'n' {
            // `null`, whatever the column (the general encoder's test is this byte too).
            write_null(out);
            return true;
        }
        match self {
            FieldEncoder::Int2 => {
                integer_field(raw, |v| i16::try_from(v).ok().map(i16::to_be_bytes), out)
            }
            FieldEncoder::Int4 => {
                integer_field(raw, |v| i32::try_from(v).ok().map(i32::to_be_bytes), out)
            }
            FieldEncoder::Int8 => integer_field(raw, |v| Some(v.to_be_bytes()), out),
            FieldEncoder::Numeric => numeric_field(raw, out),
            FieldEncoder::Text => text_field(raw, out),
            FieldEncoder::Bool => {
                // The general encoder, too, reads a boolean from its first byte.
                let value = match first {
                    b't' => 1,
                    b'f' => 0,
                    _ => return false,
                };
                out.extend_from_slice(&[0, 0, 0, 1, value]);
                true
            }
            FieldEncoder::Timestamp => match raw {
                [b'"', inner @ .., b'"'] => match fixed_timestamp_micros(inner) {
                    Some(micros) => fixed_field(micros.to_be_bytes(), out),
                    None => false,
                },
                _ => false,
            },
            FieldEncoder::Date => match raw {
                [b'"', inner @ .., b'"'] => match fixed_date_days(inner) {
                    Some(days) => fixed_field(days.to_be_bytes(), out),
                    None => false,
                },
                _ => false,
            },
            // Mage mode may read strings as JSON in these: its values take the general path.
            FieldEncoder::TextArray { element_oid } => {
                !options.parse_json_strings && text_array_field(raw, element_oid, out)
            }
            FieldEncoder::Jsonb => {
                !options.parse_json_strings
                    && first.is_ascii_graphic()
                    // Only escapes need a look (`\u0000`, lone surrogates).
                    && memchr::memchr(b'\\', raw).is_none()
                    && json_field(Some(1), raw, out)
            }
            FieldEncoder::Json => {
                !options.parse_json_strings
                    && first.is_ascii_graphic()
                    && json_field(None, raw, out)
            }
            FieldEncoder::General => false,
        }
    }
}

/// A fixed-size field: its length, then `payload`.
#[inline]
fn fixed_field<const N: usize>(payload: [u8; N], out: &mut Vec<u8>) -> bool {
    let mut field = [0; 12];
    let Some((length, rest)) = field.split_first_chunk_mut::<4>() else {
        return false;
    };
    let Some(value) = rest.get_mut(..N) else {
        return false;
    };
    *length = (N as i32).to_be_bytes();
    value.copy_from_slice(&payload);
    out.extend_from_slice(field.get(..4 + N).unwrap_or_default());
    true
}

/// An integer column's field for a plain integer literal that fits it (`narrow` gives its
/// bytes in the column's width, `None` when it does not fit: the general encoder then
/// reports the overflow).
#[inline]
fn integer_field<const N: usize>(
    raw: &[u8],
    narrow: impl Fn(i64) -> Option<[u8; N]>,
    out: &mut Vec<u8>,
) -> bool {
    match plain_integer(raw).and_then(narrow) {
        Some(bytes) => fixed_field(bytes, out),
        None => false,
    }
}

/// A numeric column's field for a plain decimal literal.
#[inline]
fn numeric_field(raw: &[u8], out: &mut Vec<u8>) -> bool {
    let mut field = [0; WORD_FIELD_BYTES];
    let Some(len) = word_decimal(raw, &mut field) else {
        return false;
    };
    let Some(length) = field.first_chunk_mut::<4>() else {
        return false;
    };
    // At most 26 bytes.
    *length = (len as i32).to_be_bytes();
    // The whole array and a shorter length: a copy of fixed size is a few moves, one of
    // variable size a call.
    let end = out.len() + 4 + len;
    out.extend_from_slice(&field);
    out.truncate(end);
    true
}

/// A text column's field for a string: the text between its quotes, with its escapes
/// decoded when they are one-letter ones (`\"`, `\n`, ...). A `\u` escape or a NUL is
/// left to the general encoder (U+0000 is replaced or refused there).
#[inline]
fn text_field(raw: &[u8], out: &mut Vec<u8>) -> bool {
    let [b'"', inner @ .., b'"'] = raw else {
        return false;
    };
    let Some(first_escape) = find_backslash_or_nul(inner) else {
        let Ok(length) = i32::try_from(inner.len()) else {
            return false;
        };
        out.reserve(4 + inner.len());
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(inner);
        return true;
    };
    let start = out.len();
    if escaped_text(inner, first_escape, out).is_none() {
        out.truncate(start);
        return false;
    }
    true
}

/// Appends the field of the text `inner` whose first backslash or NUL is at `at`; `None`
/// when a `\u` escape, a NUL or a bad escape is among them (what was appended is then the
/// caller's to undo).
fn escaped_text(inner: &[u8], mut at: usize, out: &mut Vec<u8>) -> Option<()> {
    let start = out.len();
    // Escapes only shrink the text.
    out.reserve(4 + inner.len());
    out.extend_from_slice(&[0; 4]);
    let mut rest = inner;
    loop {
        let (text, escape) = rest.split_at_checked(at)?;
        let decoded = match escape {
            [b'\\', letter, ..] => one_letter_escape(*letter)?,
            _ => return None,
        };
        out.extend_from_slice(text);
        out.push(decoded);
        rest = escape.get(2..)?;
        match find_backslash_or_nul(rest) {
            Some(next) => at = next,
            None => break,
        }
    }
    out.extend_from_slice(rest);
    let length = i32::try_from(out.len() - start - 4).ok()?;
    *out.get_mut(start..)?.first_chunk_mut::<4>()? = length.to_be_bytes();
    Some(())
}

/// A json (`version` none) or jsonb (`version` 1) field: the version byte, then the text.
#[inline]
fn json_field(version: Option<u8>, raw: &[u8], out: &mut Vec<u8>) -> bool {
    let Ok(length) = i32::try_from(raw.len() + usize::from(version.is_some())) else {
        return false;
    };
    out.reserve(5 + raw.len());
    out.extend_from_slice(&length.to_be_bytes());
    if let Some(version) = version {
        out.push(version);
    }
    out.extend_from_slice(raw);
    true
}

/// A one-dimensional text array's field for a compact array of strings without escapes or
/// control characters (`["new","vip"]`, `[]`): the array header, then each string's text.
fn text_array_field(raw: &[u8], element_oid: u32, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    let count = match text_elements(raw, out) {
        Some(count) => count,
        None => {
            out.truncate(start);
            return false;
        }
    };
    if count == 0 {
        // An empty array: ndim 0, no flag, and no size or lower bound.
        out.truncate(start);
        let mut field = [0; 16];
        field[..4].copy_from_slice(&12i32.to_be_bytes());
        field[12..].copy_from_slice(&element_oid.to_be_bytes());
        out.extend_from_slice(&field);
        return true;
    }
    let (Ok(count), Ok(length)) = (i32::try_from(count), i32::try_from(out.len() - start - 4))
    else {
        out.truncate(start);
        return false;
    };
    let mut header = [0; 24];
    header[..4].copy_from_slice(&length.to_be_bytes());
    header[4..8].copy_from_slice(&1i32.to_be_bytes()); // one dimension, no null
    header[12..16].copy_from_slice(&element_oid.to_be_bytes());
    header[16..20].copy_from_slice(&count.to_be_bytes());
    header[20..].copy_from_slice(&1i32.to_be_bytes()); // lower bound
    match out.get_mut(start..start + 24) {
        Some(place) => {
            place.copy_from_slice(&header);
            true
        }
        None => {
            out.truncate(start);
            false
        }
    }
}

/// Appends room for an array field's length and header, then each element of the compact
/// string array `raw` as a field; their count, or `None` for any other text (whatever it
/// appended is the caller's to undo).
#[inline]
fn text_elements(raw: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let [b'[', body @ .., b']'] = raw else {
        return None;
    };
    let mut rest = body;
    out.extend_from_slice(&[0; 24]);
    if rest.is_empty() {
        return Some(0);
    }
    let mut count = 0;
    loop {
        let [b'"', after @ ..] = rest else {
            return None;
        };
        let end = after
            .iter()
            .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)?;
        let (text, closing) = after.split_at(end);
        let length = i32::try_from(text.len()).ok()?;
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(text);
        count += 1;
        match closing {
            [b'"'] => return Some(count),
            [b'"', b',', more @ ..] => rest = more,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::value::{encode_field, EncodeStats};

    /// Every type with a fast path, their neighbours, and a type without one.
    fn types() -> Vec<PgType> {
        [
            "smallint",
            "integer",
            "bigint",
            "numeric",
            "text",
            "character varying(5)",
            "boolean",
            "timestamp with time zone",
            "timestamp without time zone",
            "date",
            "jsonb",
            "json",
            "text[]",
            "character varying[]",
            "bigint[]",
            "jsonb[]",
            "double precision",
            "uuid",
        ]
        .iter()
        .map(|name| PgType::from_format_type(name))
        .collect()
    }

    /// JSON values of every kind, in the shapes the fast paths take and just outside them.
    const VALUES: &[&str] = &[
        "0",
        "-0",
        "7",
        "-7",
        "007",
        "32767",
        "32768",
        "-32769",
        "2147483648",
        "123456789012345678",
        "1234567890123456789",
        "9223372036854775808",
        "12.50",
        "-0.000",
        "622.0652",
        "392884593.94",
        "2.2",
        "0.0001",
        "10000",
        "100000000.00010000",
        "9999999999999999999.9999999999999999",
        "99999999999999999999",
        "0.12345678901234567",
        "1e3",
        "1.",
        ".5",
        "+5",
        "1.5E-3",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\"",
        "\"name-195517\"",
        "\"é☃\"",
        "\"x\\\"y\"",
        "\"a\\u0000b\"",
        "\"a\\nb\"",
        "\"note 0: \\\"quoted\\\" and, comma\"",
        "\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"a\\qb\"",
        "\"ends\\\"",
        "\"\\u00e9 and \\n\"",
        "\"raw\u{0}nul\"",
        "\"raw\u{0}nul \\n\"",
        "\"a long text that goes past thirty-two bytes \\\"quoted\\\" \\\\ here\"",
        "\"t\"",
        "\"42\"",
        "\"12.50\"",
        "\"2024-07-11T04:08:06.967112Z\"",
        "\"2024-06-28T06:47:00+02:00\"",
        "\"2024-06-28T06:47:00\"",
        "\"2024-02-30T00:00:00Z\"",
        "\"2024-01-01T24:00:00Z\"",
        "\"1999-03-23\"",
        "\"0000-01-01\"",
        "\"1999-03-23 \"",
        "\"infinity\"",
        "[]",
        "[\"new\"]",
        "[\"new\",\"vip\"]",
        "[\"new\", \"vip\"]",
        "[\"a\\\"b\"]",
        "[\"a\",null]",
        "[1,2]",
        "[\"a\",]",
        "[\"a\"\"b\"]",
        "[[\"a\"]]",
        "{}",
        "{\"street\":\"5344 Main St\",\"city\":\"Oslo\"}",
        "{\"k\":\"\\u0000\"}",
        "{\"k\":\"\\ud800\"}",
        "\"{\\\"k\\\": 1}\"",
        "\"[1,2]\"",
        "\"0b8a6d9c-4d1e-4b7a-9a3c-0f5e6d7c8b9a\"",
    ];

    /// `raw` written by the general encoder, or its error.
    fn general(
        raw: Option<&str>,
        ty: &PgType,
        options: EncodeOptions,
    ) -> Result<(Vec<u8>, u64), String> {
        let mut out = b"row".to_vec();
        let mut stats = EncodeStats::default();
        encode_field(raw, ty, options, &mut stats, &mut out)
            .map_err(|e| e.reason().into_owned())?;
        Ok((out, stats.nul_replaced))
    }

    /// Checks the fast path against the general encoder for `raw` as `ty`: the same bytes
    /// when it takes the value, nothing written when it declines. Returns whether it took it.
    fn agree(raw: &str, ty: &PgType, options: EncodeOptions) -> bool {
        let encoder = FieldEncoder::for_type(ty);
        let mut fast = b"row".to_vec();
        if !encoder.encode_fast(raw.as_bytes(), options, &mut fast) {
            assert_eq!(fast, b"row", "{raw} as {ty:?}: declined but wrote");
            return false;
        }
        assert_eq!(
            general(Some(raw), ty, options),
            Ok((fast, 0)),
            "{raw} as {ty:?} ({options:?})"
        );
        true
    }

    fn options(parse_json_strings: bool, sanitize_nul: bool) -> EncodeOptions {
        EncodeOptions {
            sanitize_nul,
            parse_json_strings,
            json_string_elements: parse_json_strings,
        }
    }

    #[test]
    fn the_fast_path_writes_what_the_general_encoder_writes() {
        let mut taken = 0;
        for ty in types() {
            for raw in VALUES {
                for (mage, sanitize) in [(false, true), (false, false), (true, true)] {
                    taken += usize::from(agree(raw, &ty, options(mage, sanitize)));
                }
            }
        }
        assert!(taken > 200, "{taken}");
    }

    #[test]
    fn the_fast_path_agrees_on_mutated_values() {
        let noise = [
            "0", "9", "-", ".", "e", "\"", "\\", "[", "]", ",", " ", "n", "t", "T", ":", "Z", "+",
            "é", "\u{1}", "{",
        ];
        let types = types();
        let mut rng = crate::fuzz::Rng(0x5eed_2026_1203);
        let mut taken = 0;
        for _ in 0..200_000 {
            let mut raw = VALUES[rng.below(VALUES.len())].to_string();
            for _ in 0..rng.below(3) {
                let mut at = rng.below(raw.len() + 1);
                while !raw.is_char_boundary(at) {
                    at -= 1;
                }
                match rng.below(3) {
                    0 if at < raw.len() => {
                        raw.remove(at);
                    }
                    _ => raw.insert_str(at, noise[rng.below(noise.len())]),
                }
            }
            let ty = &types[rng.below(types.len())];
            taken += usize::from(agree(&raw, ty, options(rng.below(4) == 0, true)));
        }
        assert!(taken > 20_000, "{taken}");
    }

    #[test]
    fn values_cut_inside_a_character_are_left_to_the_general_encoder() {
        // Bytes that begin or end inside a character are no `str` slice of the line: the
        // general encoder's caller sees no value there, so the fast path must not take them.
        let line = "\"é\"";
        let bytes = line.as_bytes();
        for ty in types() {
            for (from, to) in [(0, 2), (2, 4)] {
                let mut out = Vec::new();
                let taken = FieldEncoder::for_type(&ty).encode_fast(
                    &bytes[from..to],
                    options(false, true),
                    &mut out,
                );
                assert!(!taken && out.is_empty(), "{ty:?} {from}..{to}");
            }
        }
    }

    #[test]
    fn plain_numbers_in_numeric_columns_agree_at_the_word_limits() {
        let mut rng = crate::fuzz::Rng(0x5eed_2026_1207);
        let digits = |rng: &mut crate::fuzz::Rng, n: usize| -> String {
            (0..n)
                .map(|_| char::from(b"0000123456789"[rng.below(13)]))
                .collect()
        };
        let mut taken = 0;
        for _ in 0..100_000 {
            let sign = ["", "-"][rng.below(2)];
            let int_len = 1 + rng.below(21);
            let int = digits(&mut rng, int_len);
            let fraction = match rng.below(4) {
                0 => String::new(),
                _ => {
                    let fraction_len = 1 + rng.below(18);
                    format!(".{}", digits(&mut rng, fraction_len))
                }
            };
            let raw = format!("{sign}{int}{fraction}");
            taken += usize::from(agree(&raw, &PgType::Numeric, options(false, true)));
            for ty in [PgType::Int2, PgType::Int4, PgType::Int8] {
                agree(&raw, &ty, options(false, true));
            }
        }
        assert!(taken > 50_000, "{taken}");
    }
}
