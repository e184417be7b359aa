//! A hand-written reader for the commonest arrays, ahead of serde.
//!
//! Nearly every array a tap sends is a flat list of scalars (`["new","vip"]`, `[1,2]`):
//! walking those through serde's `deserialize_seq` and a `RawValue` per element cost more
//! than encoding them. [`each_plain_element`] reads such an array directly and hands each
//! element's text on; whatever it is not certain of (an escape or a control character in a
//! string, a nested array or object, malformed JSON, anything after the array) it declines,
//! and the caller encodes the array through serde as before, with the same errors. So an
//! array it reads whole is one serde reads, element for element.

/// Calls `element` with the JSON text of each element of the array `raw`, in order, while
/// the array is one of plain scalars: strings without escapes or control characters,
/// numbers, `true`, `false` and `null`, with JSON whitespace around them. Returns false at
/// the first thing it declines, or when `element` returns false; what the elements handed
/// over before did is then the caller's to undo.
pub(super) fn each_plain_element<'a>(
    raw: &'a str,
    mut element: impl FnMut(&'a str) -> bool,
) -> bool {
    let bytes = raw.as_bytes();
    let mut at = skip_whitespace(bytes, 0);
    if bytes.get(at) != Some(&b'[') {
        return false;
    }
    at = skip_whitespace(bytes, at + 1);
    if bytes.get(at) == Some(&b']') {
        return skip_whitespace(bytes, at + 1) == bytes.len();
    }
    loop {
        let Some(text) = scalar_end(bytes, at).and_then(|end| raw.get(at..end)) else {
            return false;
        };
        if !element(text) {
            return false;
        }
        at = skip_whitespace(bytes, at + text.len());
        match bytes.get(at) {
            Some(b',') => at = skip_whitespace(bytes, at + 1),
            Some(b']') => return skip_whitespace(bytes, at + 1) == bytes.len(),
            _ => return false,
        }
    }
}

/// Writes the field of a text column for `text`, an element [`each_plain_element`] handed
/// over, when it is a string: the text between its quotes is its value (it has no escape,
/// hence no NUL). False, with nothing written, for any other element.
#[inline]
pub(super) fn write_plain_text(text: &str, out: &mut Vec<u8>) -> bool {
    let Some(inner) = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    let Ok(length) = i32::try_from(inner.len()) else {
        return false;
    };
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(inner.as_bytes());
    true
}

/// Past JSON's whitespace, exactly what serde_json skips.
#[inline]
fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    // Compact arrays have none: one comparison says so (all four are below `!`).
    if bytes.get(at).is_some_and(|&byte| byte > b' ') {
        return at;
    }
    while matches!(bytes.get(at), Some(b' ' | b'\n' | b'\t' | b'\r')) {
        at += 1;
    }
    at
}

/// The end of the plain scalar at `at`, or `None` for anything else. What follows a number
/// is the caller's to check (`01` ends after the `0`, and the `1` is no comma).
fn scalar_end(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => {
            let mut end = at + 1;
            loop {
                match *bytes.get(end)? {
                    b'"' => return Some(end + 1),
                    b'\\' | 0..=0x1f => return None,
                    _ => end += 1,
                }
            }
        }
        b't' => literal_end(bytes, at, b"true"),
        b'f' => literal_end(bytes, at, b"false"),
        b'n' => literal_end(bytes, at, b"null"),
        b'-' | b'0'..=b'9' => number_end(bytes, at),
        _ => None,
    }
}

fn literal_end(bytes: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    let end = at + word.len();
    (bytes.get(at..end)? == word).then_some(end)
}

/// The end of a number as JSON spells it: `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`.
fn number_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    let digit = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_digit);
    let digits_end = |mut at: usize| {
        while digit(at) {
            at += 1;
        }
        at
    };
    if bytes.get(at) == Some(&b'-') {
        at += 1;
    }
    match bytes.get(at)? {
        b'0' => at += 1,
        b'1'..=b'9' => at = digits_end(at + 1),
        _ => return None,
    }
    if bytes.get(at) == Some(&b'.') {
        if !digit(at + 1) {
            return None;
        }
        at = digits_end(at + 1);
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        if !digit(at) {
            return None;
        }
        at = digits_end(at);
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(raw: &str) -> Option<Vec<&str>> {
        let mut seen = Vec::new();
        each_plain_element(raw, |text| {
            seen.push(text);
            true
        })
        .then_some(seen)
    }

    #[test]
    fn flat_scalar_arrays_are_read() {
        assert_eq!(elements("[]"), Some(vec![]));
        assert_eq!(elements(" [ ] "), Some(vec![]));
        assert_eq!(elements(r#"["a","b"]"#), Some(vec![r#""a""#, r#""b""#]));
        assert_eq!(
            elements("[ 1 , -2.5e+3,true,false , null\n]"),
            Some(vec!["1", "-2.5e+3", "true", "false", "null"])
        );
        assert_eq!(elements(r#"["é ☃"]"#), Some(vec![r#""é ☃""#]));
    }

    #[test]
    fn anything_unusual_is_declined() {
        for raw in [
            "",
            "[",
            "[1,]",
            "[,1]",
            "[1 2]",
            "[01]",
            "[1.]",
            "[.5]",
            "[1e]",
            "[-]",
            "[+1]",
            "[tru]",
            "[nul]",
            r#"["a\"b"]"#,
            "[\"a\u{1}\"]",
            "[\"a",
            "[[1]]",
            "[{}]",
            "[1] x",
            "[1]]",
            "{}",
            "\"[]\"",
        ] {
            assert_eq!(elements(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn an_element_refused_stops_the_read() {
        let mut seen = 0;
        let read = each_plain_element("[1,2,3]", |_| {
            seen += 1;
            seen < 2
        });
        assert!(!read);
        assert_eq!(seen, 2);
    }
}
