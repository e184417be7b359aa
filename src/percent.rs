//! `%XX` escapes of URLs, decoded in one place for the connection URL's libpq parameters
//! (strict: a bad escape is an error, as in libpq) and BATCH manifest URLs (lenient: a `%`
//! without two hex digits stays, as in Python's `unquote`, which the Meltano SDK uses).

/// What to do with a `%` that two hex digits do not follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadEscape {
    /// Refuse the text.
    Refuse,
    /// Keep the `%` as it is.
    Keep,
}

/// The bytes `text` stands for; `None` for a bad escape under [`BadEscape::Refuse`]. A `+`
/// stays a `+` (these are not form-encoded).
pub fn decode(text: &str, bad_escape: BadEscape) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte != b'%' {
            out.push(byte);
            index += 1;
            continue;
        }
        // Both digits are checked: `from_str_radix` alone would take `+f` for 0x0F.
        let escaped = bytes
            .get(index + 1..index + 3)
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bad_escape) {
            (Some(decoded), _) => {
                out.push(decoded);
                index += 3;
            }
            (None, BadEscape::Keep) => {
                out.push(byte);
                index += 1;
            }
            (None, BadEscape::Refuse) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_and_bad_ones_are_refused_or_kept() {
        assert_eq!(
            decode("a%20b%e2%82%ac+", BadEscape::Refuse).unwrap(),
            "a b€+".as_bytes()
        );
        for bad in ["%zz", "%+f", "%2", "%"] {
            assert_eq!(decode(bad, BadEscape::Refuse), None, "{bad}");
            assert_eq!(
                decode(bad, BadEscape::Keep).unwrap(),
                bad.as_bytes(),
                "{bad}"
            );
        }
    }
}
