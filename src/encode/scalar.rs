//! Scalar values written as text: the spellings a string may use for a float, a boolean
//! or a UUID column (`"NaN"`, `"yes"`, `"{…}"`), read as PostgreSQL's input functions read
//! them. Errors are plain reasons; the encoder makes them value errors.

/// Whether `text` is one of `words`, ignoring ASCII case (without lower-casing a copy).
fn is_any_of(text: &str, words: &[&str]) -> bool {
    words.iter().any(|word| text.eq_ignore_ascii_case(word))
}

pub(super) fn parse_float_text(text: &str) -> Result<f64, &'static str> {
    if is_any_of(text, &["nan"]) {
        return Ok(f64::NAN);
    }
    if is_any_of(text, &["infinity", "inf", "+infinity"]) {
        return Ok(f64::INFINITY);
    }
    if is_any_of(text, &["-infinity", "-inf"]) {
        return Ok(f64::NEG_INFINITY);
    }
    let value: f64 = text.parse().map_err(|_| "not a number")?;
    if value.is_infinite() {
        Err("out of range for double precision")
    } else {
        Ok(value)
    }
}

pub(super) fn parse_bool_text(text: &str) -> Result<bool, &'static str> {
    if is_any_of(text, &["true", "t", "yes", "y", "on", "1"]) {
        Ok(true)
    } else if is_any_of(text, &["false", "f", "no", "n", "off", "0"]) {
        Ok(false)
    } else {
        Err("expected a boolean")
    }
}

/// Parses `8-4-4-4-12` hex (any case), also without hyphens or inside braces.
pub(super) fn parse_uuid(text: &str) -> Result<[u8; 16], &'static str> {
    let text = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text);
    let mut bytes = [0u8; 16];
    let mut nibbles = 0usize;
    for (position, c) in text.bytes().enumerate() {
        if c == b'-' && matches!(position, 8 | 13 | 18 | 23) && text.len() == 36 {
            continue;
        }
        let value = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err("not a UUID"),
        };
        if nibbles >= 32 {
            return Err("not a UUID");
        }
        bytes[nibbles / 2] |= if nibbles % 2 == 0 { value << 4 } else { value };
        nibbles += 1;
    }
    if nibbles == 32 {
        Ok(bytes)
    } else {
        Err("not a UUID")
    }
}
