//! JSON string literals to text, and the U+0000 handling PostgreSQL needs.
//!
//! Record values reach the encoder as the raw JSON text of the input line, so a string
//! value still has its quotes and escapes. Most strings contain no backslash at all, and for
//! those the text between the quotes is the value itself: [`unescape_json_string`] then
//! borrows instead of copying. PostgreSQL refuses the NUL character everywhere: `text`
//! cannot hold U+0000 and `jsonb` rejects the escape `\u0000`. Taps do send it (C strings,
//! binary blobs pasted into text), so the caller can replace it with U+FFFD and count the
//! replacements with [`replace_nul`] for text and [`sanitize_json_text_nul`] for raw JSON.
//! Both cost one scan and no allocation when there is nothing to replace. `jsonb` also
//! refuses lone surrogate escapes that `serde_json` lets through; [`check_json_surrogates`]
//! finds them so one bad value does not fail a whole COPY.

use std::borrow::Cow;

/// Error for a `\u` escape that is malformed or a lone surrogate.
const INVALID_UNICODE: &str = "invalid unicode escape";
/// Error for a backslash followed by something JSON does not allow.
const INVALID_ESCAPE: &str = "invalid escape in string";
/// Error for text that is not a quoted JSON string.
const NOT_A_STRING: &str = "not a JSON string";

/// The escape PostgreSQL's `jsonb` refuses.
const NUL_ESCAPE: &str = "\\u0000";
/// What replaces it: the escape of U+FFFD REPLACEMENT CHARACTER, the same length.
const REPLACEMENT_ESCAPE: &str = "\\ufffd";

/// The bytes between the quotes of a JSON string, as written (escapes and all); `None` for
/// any other JSON value.
#[inline]
pub fn quoted(raw: &str) -> Option<&[u8]> {
    raw.strip_prefix('"')?.strip_suffix('"').map(str::as_bytes)
}

/// Every byte 1 (times a byte value: that byte in every place).
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte.
const HIGH: u64 = 0x8080_8080_8080_8080;
/// Texts shorter than this are scanned eight bytes at a time, where memchr's setup costs
/// more than the whole scan; longer ones by memchr.
const SHORT_TEXT: usize = 32;

/// The classic zero-byte test: the high bit of each zero byte of `word` (the lowest exactly;
/// a borrow can only make false hits above a true one).
#[inline]
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGH
}

/// Whether `bytes` hold a backslash or a zero byte (a text without either is its own
/// value).
#[inline]
pub fn has_backslash_or_nul(bytes: &[u8]) -> bool {
    find_backslash_or_nul(bytes).is_some()
}

/// Where the first backslash or zero byte of `bytes` is: for short texts eight bytes at a
/// time, the last eight overlapping those before (no copy into a padded word, which cost a
/// call); for longer ones by memchr.
#[inline]
pub fn find_backslash_or_nul(bytes: &[u8]) -> Option<usize> {
    if bytes.len() >= SHORT_TEXT {
        return memchr::memchr2(b'\\', 0, bytes);
    }
    let hits = |word: &[u8; 8]| {
        let word = u64::from_le_bytes(*word);
        zero_bytes(word) | zero_bytes(word ^ (ONES * u64::from(b'\\')))
    };
    let first_hit = |hits: u64| (hits.trailing_zeros() / 8) as usize;
    let mut at = 0;
    while let Some(word) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let found = hits(word);
        if found != 0 {
            return Some(at + first_hit(found));
        }
        at += 8;
    }
    if at == bytes.len() {
        return None;
    }
    match bytes.last_chunk::<8>() {
        // The bytes before the last eight had none: the first hit among these is the first.
        Some(word) => {
            let found = hits(word);
            (found != 0).then(|| bytes.len() - 8 + first_hit(found))
        }
        None => bytes.iter().position(|&byte| byte == b'\\' || byte == 0),
    }
}

/// Where `byte` first is in `bytes`.
#[inline]
pub fn find_byte(bytes: &[u8], byte: u8) -> Option<usize> {
    if bytes.len() >= SHORT_TEXT {
        return memchr::memchr(byte, bytes);
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut word = [0; 8];
    let mut at = 0;
    for chunk in &mut chunks {
        word.copy_from_slice(chunk);
        let hits = zero_bytes(u64::from_le_bytes(word) ^ (ONES * u64::from(byte)));
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = chunks.remainder();
    rest.iter().position(|&b| b == byte).map(|index| at + index)
}

/// Decodes a JSON string literal, quotes included, as it appeared in the input.
///
/// Without a backslash the result borrows the text between the quotes. Otherwise the
/// escapes `\"` `\\` `\/` `\b` `\f` `\n` `\r` `\t` and `\uXXXX` (with surrogate pairs) are
/// decoded into a new string. `\u0000` decodes to U+0000; pass the result through
/// [`replace_nul`] before it goes to PostgreSQL.
///
/// The input is expected to be valid JSON already; this does not check for raw control
/// characters.
///
/// # Errors
///
/// `"not a JSON string"` without the surrounding quotes, `"invalid unicode escape"` for a
/// malformed `\u` escape or an unpaired surrogate, and `"invalid escape in string"` for any
/// other bad escape.
pub fn unescape_json_string(raw: &str) -> Result<Cow<'_, str>, &'static str> {
    let inner = string_body(raw)?;
    if find_byte(inner.as_bytes(), b'\\').is_none() {
        return Ok(Cow::Borrowed(inner));
    }
    // Escapes only shrink the text, so this is the most we need.
    let mut out = String::with_capacity(inner.len());
    unescape_into(inner, &mut out)?;
    Ok(Cow::Owned(out))
}

/// [`unescape_json_string`] appended straight to `out`, with no copy in between: how a text
/// column gets a string's bytes (a string of tens of megabytes is then held once, not
/// twice). On an error `out` holds part of the text; the caller truncates it.
///
/// # Errors
///
/// As [`unescape_json_string`].
pub fn unescape_json_string_into(raw: &str, out: &mut Vec<u8>) -> Result<(), &'static str> {
    let inner = string_body(raw)?;
    if find_byte(inner.as_bytes(), b'\\').is_none() {
        out.extend_from_slice(inner.as_bytes());
        return Ok(());
    }
    out.reserve(inner.len());
    unescape_into(inner, out)
}

/// The text between a JSON string literal's quotes.
fn string_body(raw: &str) -> Result<&str, &'static str> {
    raw.strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .ok_or(NOT_A_STRING)
}

/// Where decoded text goes: a `String`, or the bytes of a COPY buffer.
trait TextSink {
    fn push_text(&mut self, text: &str);
    fn push_char(&mut self, ch: char);
}

impl TextSink for String {
    fn push_text(&mut self, text: &str) {
        self.push_str(text);
    }
    fn push_char(&mut self, ch: char) {
        self.push(ch);
    }
}

impl TextSink for Vec<u8> {
    fn push_text(&mut self, text: &str) {
        self.extend_from_slice(text.as_bytes());
    }
    fn push_char(&mut self, ch: char) {
        match u8::try_from(ch) {
            // Most escapes decode to ASCII: one byte, no encoding.
            Ok(byte) if byte.is_ascii() => self.push(byte),
            _ => self.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

/// Decodes the escapes of a string body (quotes removed) into `out`.
fn unescape_into(inner: &str, out: &mut impl TextSink) -> Result<(), &'static str> {
    let mut rest = inner;
    while let Some(at) = find_byte(rest.as_bytes(), b'\\') {
        // `\` is one ASCII byte, so `at` is a char boundary and both slices are valid.
        let (before, escape) = rest.split_at(at);
        out.push_text(before);
        let decoded = match escape.as_bytes().get(1) {
            Some(b'u') => {
                // The backslash and `u` are ASCII: byte 2 is a char boundary.
                let (ch, after) = decode_unicode_escape(escape.get(2..).ok_or(INVALID_UNICODE)?)?;
                out.push_char(ch);
                rest = after;
                continue;
            }
            Some(&letter) => one_letter_escape(letter).ok_or(INVALID_ESCAPE)?,
            None => return Err(INVALID_ESCAPE),
        };
        out.push_char(char::from(decoded));
        // Two ASCII bytes (backslash and escape letter) end on a char boundary.
        rest = escape.get(2..).ok_or(INVALID_ESCAPE)?;
    }
    out.push_text(rest);
    Ok(())
}

/// The byte a one-letter escape (`\"`, `\n`, ...) stands for, by its letter; `None` for
/// `u` (four hex digits follow) and for letters JSON has no escape for.
#[inline]
pub(super) fn one_letter_escape(letter: u8) -> Option<u8> {
    match letter {
        b'"' => Some(b'"'),
        b'\\' => Some(b'\\'),
        b'/' => Some(b'/'),
        b'b' => Some(0x08),
        b'f' => Some(0x0C),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        _ => None,
    }
}

/// Reads the four hex digits after `\u` (and, for a high surrogate, the `\uXXXX` low
/// surrogate that must follow) and returns the character and the text after it.
fn decode_unicode_escape(text: &str) -> Result<(char, &str), &'static str> {
    let (high, rest) = hex4(text)?;
    let code = match high {
        0xD800..=0xDBFF => {
            let low_text = rest.strip_prefix("\\u").ok_or(INVALID_UNICODE)?;
            let (low, after) = hex4(low_text)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return Err(INVALID_UNICODE);
            }
            let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            return char::from_u32(code)
                .map(|ch| (ch, after))
                .ok_or(INVALID_UNICODE);
        }
        0xDC00..=0xDFFF => return Err(INVALID_UNICODE),
        code => code,
    };
    char::from_u32(code)
        .map(|ch| (ch, rest))
        .ok_or(INVALID_UNICODE)
}

/// Parses exactly four ASCII hex digits at the start of `text`.
fn hex4(text: &str) -> Result<(u32, &str), &'static str> {
    let bytes = text.as_bytes();
    let digits = bytes.get(..4).ok_or(INVALID_UNICODE)?;
    let mut value = 0u32;
    for &b in digits {
        let digit = char::from(b).to_digit(16).ok_or(INVALID_UNICODE)?;
        value = value * 16 + digit;
    }
    // Four ASCII bytes were checked, so index 4 is a char boundary.
    let rest = text.get(4..).ok_or(INVALID_UNICODE)?;
    Ok((value, rest))
}

/// Replaces every U+0000 with U+FFFD and returns how many were replaced.
///
/// Returns `s` unchanged (still borrowed if it was) when it holds no NUL, which is the common
/// case and costs one byte scan.
pub fn replace_nul(s: Cow<'_, str>) -> (Cow<'_, str>, usize) {
    if !s.as_bytes().contains(&0) {
        return (s, 0);
    }
    // In UTF-8 a zero byte is only ever U+0000, so counting bytes counts characters.
    let count = s.as_bytes().iter().filter(|&&b| b == 0).count();
    (Cow::Owned(s.replace('\0', "\u{FFFD}")), count)
}

/// Replaces every `\u0000` escape in JSON text with `\ufffd` and returns how many were
/// replaced, so that `jsonb` accepts the text.
///
/// `raw_json` is any JSON text (object, array, string, ...). An escaped backslash is
/// respected: in `"\\u0000"` the backslash is escaped and `u0000` is plain text, so nothing
/// is replaced. Returns the input borrowed when there is no `\u0000` in it. The replacement
/// has the same length as the escape, so offsets in the text do not move.
pub fn sanitize_json_text_nul(raw_json: &str) -> (Cow<'_, str>, usize) {
    if !raw_json.contains(NUL_ESCAPE) {
        return (Cow::Borrowed(raw_json), 0);
    }
    let bytes = raw_json.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0; // bytes of raw_json already in `out`
    let mut count = 0;
    for (at, _) in raw_json.match_indices(NUL_ESCAPE) {
        // Backslashes in JSON come in escapes of two characters, and a run of them never
        // follows an escape's first character, so the backslash at `at` starts an escape
        // exactly when an even number of backslashes runs up to it.
        let preceding = bytes[..at]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if preceding % 2 == 1 {
            continue;
        }
        let text = out.get_or_insert_with(|| String::with_capacity(raw_json.len()));
        // `at` and `at + 6` border the ASCII match, so they are char boundaries.
        text.push_str(&raw_json[copied..at]);
        text.push_str(REPLACEMENT_ESCAPE);
        copied = at + NUL_ESCAPE.len();
        count += 1;
    }
    match out {
        Some(mut text) => {
            text.push_str(&raw_json[copied..]);
            (Cow::Owned(text), count)
        }
        None => (Cow::Borrowed(raw_json), 0),
    }
}

/// Checks that every `\uXXXX` escape in JSON text that encodes a surrogate is part of a
/// high-low pair.
///
/// `serde_json` accepts lone surrogate escapes such as `"\ud800"` inside raw JSON, but
/// PostgreSQL's `jsonb` input refuses them, and a refusal inside a COPY fails the whole batch.
/// Checking here lets the caller reject the one value instead. Escaped backslashes are
/// respected (`\\ud800` is text). Costs one substring scan when there is no `\ud`/`\uD`
/// escape at all, which is nearly always.
///
/// # Errors
///
/// `"invalid unicode escape"` for a lone or reversed surrogate.
pub fn check_json_surrogates(raw_json: &str) -> Result<(), &'static str> {
    if !raw_json.contains("\\ud") && !raw_json.contains("\\uD") {
        return Ok(());
    }
    let bytes = raw_json.as_bytes();
    let mut pos = 0;
    while let Some(found) = bytes
        .get(pos..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\\'))
    {
        let at = pos + found;
        // Every escape is a backslash and one character; only `\u` has more to read. Working
        // on bytes means a stray non-ASCII character after a backslash cannot split a char.
        if bytes.get(at + 1) != Some(&b'u') {
            pos = at + 2;
            continue;
        }
        let unit = hex4_bytes(bytes.get(at + 2..)).ok_or(INVALID_UNICODE)?;
        pos = at + 6;
        match unit {
            0xD800..=0xDBFF => {
                let low = match bytes.get(pos..pos + 2) {
                    Some(b"\\u") => hex4_bytes(bytes.get(pos + 2..)),
                    _ => None,
                };
                if !matches!(low, Some(0xDC00..=0xDFFF)) {
                    return Err(INVALID_UNICODE);
                }
                pos += 6;
            }
            0xDC00..=0xDFFF => return Err(INVALID_UNICODE),
            _ => {}
        }
    }
    Ok(())
}

/// Parses four ASCII hex digits at the start of `bytes`, if there are four.
fn hex4_bytes(bytes: Option<&[u8]>) -> Option<u32> {
    let digits = bytes?.get(..4)?;
    digits.iter().try_fold(0u32, |value, &b| {
        char::from(b).to_digit(16).map(|digit| value * 16 + digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Up to 69 plain letters with fewer than `edits` of them replaced by bytes of `alphabet`.
    fn sprinkled(rng: &mut crate::fuzz::Rng, alphabet: &[u8], edits: usize) -> Vec<u8> {
        let len = rng.below(70);
        let mut bytes: Vec<u8> = (0..len).map(|_| b"abcdefgh"[rng.below(8)]).collect();
        for _ in 0..rng.below(edits) {
            if len > 0 {
                bytes[rng.below(len)] = alphabet[rng.below(alphabet.len())];
            }
        }
        bytes
    }

    #[test]
    fn the_word_scan_for_a_byte_agrees_with_memchr() {
        let mut rng = crate::fuzz::Rng(0x5eed_2026_1204);
        let alphabet = [b'a', b'\\', 0, 0xdc, 0x80, 0xff, 0x01, b'"'];
        for _ in 0..100_000 {
            let bytes = sprinkled(&mut rng, &alphabet, 4);
            for byte in alphabet {
                assert_eq!(
                    find_byte(&bytes, byte),
                    memchr::memchr(byte, &bytes),
                    "{byte} in {bytes:?}"
                );
            }
        }
    }

    #[test]
    fn the_word_scan_for_backslash_or_nul_agrees_with_memchr() {
        let mut rng = crate::fuzz::Rng(0x5eed_2026_1203);
        let alphabet = [
            b'a', b' ', b'\\', 0, 0x5b, 0x5d, 0xdc, 0x80, 0x7f, 0x01, b'"',
        ];
        for _ in 0..100_000 {
            let bytes = sprinkled(&mut rng, &alphabet, 3);
            assert_eq!(
                has_backslash_or_nul(&bytes),
                memchr::memchr2(b'\\', 0, &bytes).is_some(),
                "{bytes:?}"
            );
            assert_eq!(
                find_backslash_or_nul(&bytes),
                memchr::memchr2(b'\\', 0, &bytes),
                "{bytes:?}"
            );
        }
    }

    fn unescape(raw: &str) -> Result<String, &'static str> {
        unescape_json_string(raw).map(Cow::into_owned)
    }

    #[test]
    fn unescape_borrows_when_there_is_no_backslash() {
        let got = unescape_json_string("\"plain text, é €\"").unwrap();
        assert!(matches!(got, Cow::Borrowed("plain text, é €")));
        assert!(matches!(
            unescape_json_string("\"\"").unwrap(),
            Cow::Borrowed("")
        ));
    }

    #[test]
    fn unescape_decodes_every_simple_escape() {
        assert_eq!(
            unescape(r#""a\"b\\c\/d\be\ff\ng\rh\ti""#),
            Ok("a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti".to_string())
        );
        assert_eq!(unescape(r#""\\""#), Ok("\\".to_string()));
        assert_eq!(unescape(r#""\\\\""#), Ok("\\\\".to_string()));
        assert_eq!(unescape(r#""é\nü""#), Ok("é\nü".to_string()));
    }

    #[test]
    fn unescape_decodes_unicode_escapes() {
        assert_eq!(unescape(r#""\u00e9""#), Ok("é".to_string()));
        assert_eq!(unescape(r#""\u00E9\u20AC""#), Ok("é€".to_string()));
        assert_eq!(unescape(r#""x\u0041y""#), Ok("xAy".to_string()));
        assert_eq!(unescape(r#""\u0000""#), Ok("\0".to_string()));
        assert_eq!(unescape(r#""\uFFFF""#), Ok("\u{FFFF}".to_string()));
    }

    #[test]
    fn unescape_joins_surrogate_pairs() {
        assert_eq!(unescape(r#""\ud83d\ude00""#), Ok("😀".to_string()));
        assert_eq!(unescape(r#""a\uD834\uDD1Eb""#), Ok("a𝄞b".to_string()));
        assert_eq!(unescape(r#""\udbff\udfff""#), Ok("\u{10FFFF}".to_string()));
    }

    #[test]
    fn unescape_refuses_lone_surrogates() {
        for raw in [
            r#""\ud83d""#,
            r#""\ud83dx""#,
            r#""\ud83d\n""#,
            r#""\ud83d\u0041""#,
            r#""\ud83d\ud83d""#,
            r#""\ude00""#,
            r#""\ude00\ud83d""#,
        ] {
            assert_eq!(unescape(raw), Err(INVALID_UNICODE), "{raw}");
        }
    }

    #[test]
    fn unescape_refuses_bad_escapes() {
        for raw in [
            r#""\u12""#,
            r#""\u12g4""#,
            r#""\u""#,
            r#""\u€€""#,
            r#""\u+123""#,
        ] {
            assert_eq!(unescape(raw), Err(INVALID_UNICODE), "{raw}");
        }
        for raw in [r#""\x""#, r#""\""#, r#""\é""#, r#""\U0041""#] {
            assert_eq!(unescape(raw), Err(INVALID_ESCAPE), "{raw}");
        }
        for raw in ["", "\"", "abc", "'abc'", "\"abc", "abc\"", "42", "{}"] {
            assert_eq!(unescape(raw), Err(NOT_A_STRING), "{raw}");
        }
    }

    #[test]
    fn unescape_agrees_with_serde_json() {
        for value in [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "controls \u{1}\u{8}\u{c}\n\r\t\u{1f}",
            "nul \0 inside",
            "astral 😀 𝄞 and BMP é €",
            "\\u0000 as text",
        ] {
            let raw = serde_json::to_string(value).unwrap();
            assert_eq!(unescape(&raw), Ok(value.to_string()), "{raw}");
        }
    }

    #[test]
    fn unescape_never_panics_on_arbitrary_text() {
        let pieces = ["\"", "\\", "u", "d83d", "de00", "0", "é", "😀", "n", "x"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let s = format!("\"{a}{b}{c}{d}\"");
                        let _ = unescape_json_string(&s);
                        let _ = unescape_json_string(&s[1..]);
                        let _ = sanitize_json_text_nul(&s);
                    }
                }
            }
        }
    }

    #[test]
    fn unescape_into_appends_what_unescape_returns() {
        let pieces = [
            "\"", "\\", "u", "d83d", "de00", "0", "é", "😀", "n", "x", "\\u00e9",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let raw = format!("\"{a}{b}{c}\"");
                    let mut out = b"before".to_vec();
                    let got = unescape_json_string_into(&raw, &mut out);
                    match unescape_json_string(&raw) {
                        Ok(text) => {
                            assert_eq!(got, Ok(()), "{raw}");
                            assert_eq!(out, [b"before", text.as_bytes()].concat(), "{raw}");
                        }
                        Err(reason) => assert_eq!(got, Err(reason), "{raw}"),
                    }
                    assert!(out.starts_with(b"before"), "{raw}");
                }
            }
        }
    }

    #[test]
    fn replace_nul_is_free_without_nul() {
        let (got, n) = replace_nul(Cow::Borrowed("no nul here"));
        assert!(matches!(got, Cow::Borrowed("no nul here")));
        assert_eq!(n, 0);
        let (got, n) = replace_nul(Cow::Owned("owned".to_string()));
        assert!(matches!(got, Cow::Owned(ref s) if s == "owned"));
        assert_eq!(n, 0);
    }

    #[test]
    fn replace_nul_replaces_and_counts() {
        let (got, n) = replace_nul(Cow::Borrowed("a\0b\0\0é\0"));
        assert_eq!(got, "a\u{FFFD}b\u{FFFD}\u{FFFD}é\u{FFFD}");
        assert_eq!(n, 4);
        let (got, n) = replace_nul(Cow::Owned("\0".to_string()));
        assert_eq!(got, "\u{FFFD}");
        assert_eq!(n, 1);
    }

    #[test]
    fn sanitize_borrows_when_nothing_to_replace() {
        for raw in [
            r#"{"a":"b"}"#,
            r#"{"a":"\u0001"}"#,
            r#"["\\u0000"]"#,
            r#"{"a":"\u000A\u00010"}"#,
            "",
        ] {
            let (got, n) = sanitize_json_text_nul(raw);
            assert!(matches!(got, Cow::Borrowed(_)), "{raw}");
            assert_eq!(n, 0, "{raw}");
        }
    }

    #[test]
    fn sanitize_replaces_nul_escapes() {
        let (got, n) = sanitize_json_text_nul(r#"{"a":"x\u0000y","b":["\u0000\u0000"]}"#);
        assert_eq!(got, r#"{"a":"x\ufffdy","b":["\ufffd\ufffd"]}"#);
        assert_eq!(n, 3);
        let (got, n) = sanitize_json_text_nul(r#""\u0000""#);
        assert_eq!(got, r#""\ufffd""#);
        assert_eq!(n, 1);
        let (got, n) = sanitize_json_text_nul(r#"{"\u0000key":1}"#);
        assert_eq!(got, r#"{"\ufffdkey":1}"#);
        assert_eq!(n, 1);
    }

    #[test]
    fn sanitize_skips_escaped_backslashes() {
        // `\\u0000`: an escaped backslash, then the text u0000.
        let (got, n) = sanitize_json_text_nul(r#"["\\u0000"]"#);
        assert_eq!(got, r#"["\\u0000"]"#);
        assert_eq!(n, 0);
        // `\\\u0000`: an escaped backslash, then a real NUL escape.
        let (got, n) = sanitize_json_text_nul(r#"["\\\u0000"]"#);
        assert_eq!(got, r#"["\\\ufffd"]"#);
        assert_eq!(n, 1);
        // `\\\\u0000`: two escaped backslashes, then text.
        let (got, n) = sanitize_json_text_nul(r#"["\\\\u0000","\"\u0000"]"#);
        assert_eq!(got, r#"["\\\\u0000","\"\ufffd"]"#);
        assert_eq!(n, 1);
        // A NUL escape right after another escape.
        let (got, n) = sanitize_json_text_nul(r#"["\n\u0000\t"]"#);
        assert_eq!(got, r#"["\n\ufffd\t"]"#);
        assert_eq!(n, 1);
    }

    #[test]
    fn sanitize_result_decodes_to_replacement_characters() {
        let raw = r#"{"k":"a\u0000b\\u0000","l":"\u0000é😀"}"#;
        let (got, n) = sanitize_json_text_nul(raw);
        assert_eq!(n, 2);
        let value: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(value["k"], "a\u{FFFD}b\\u0000");
        assert_eq!(value["l"], "\u{FFFD}é😀");
        // Same length: offsets do not move.
        assert_eq!(got.len(), raw.len());
    }

    #[test]
    fn sanitize_matches_decoding_then_replacing() {
        // For any JSON string, sanitizing the text then decoding equals decoding then
        // replacing NULs.
        for value in ["\0", "a\0b", "\\\0", "\\u0000\0", "\\\\\0\\", "é\0😀\0"] {
            let raw = serde_json::to_string(value).unwrap();
            let (sanitized, n1) = sanitize_json_text_nul(&raw);
            let decoded = unescape_json_string(&sanitized).unwrap().into_owned();
            let (replaced, n2) = replace_nul(Cow::Borrowed(value));
            assert_eq!(decoded, replaced, "{raw}");
            assert_eq!(n1, n2, "{raw}");
        }
    }

    #[test]
    fn surrogate_check_accepts_pairs_and_plain_text() {
        for raw in [
            r#"{"a":"plain"}"#,
            r#"["\ud83d\ude00"]"#,
            r#"["\uD834\uDD1E","\u00e9"]"#,
            r#"["\\ud800"]"#,
            r#"["\\\\ud800x"]"#,
            r#""\ud7ff\ue000""#,
            "",
        ] {
            assert_eq!(check_json_surrogates(raw), Ok(()), "{raw}");
        }
    }

    #[test]
    fn surrogate_check_refuses_what_jsonb_refuses() {
        for raw in [
            r#"["\ud800"]"#,
            r#"{"a":"\ud800x"}"#,
            r#"["\ud800\u0041"]"#,
            r#"["\udc00"]"#,
            r#"["\ude00\ud83d"]"#,
            r#"["\\\ud800"]"#,
            r#"["\ud83d\ud83d"]"#,
            r#"["\ud83d\"]"#,
            r#"["\ud8"]"#,
        ] {
            assert_eq!(check_json_surrogates(raw), Err(INVALID_UNICODE), "{raw}");
        }
    }

    #[test]
    fn surrogate_check_never_panics_on_arbitrary_text() {
        let pieces = ["\\", "u", "d83d", "de00", "D", "é", "😀", "\"", "0"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let _ = check_json_surrogates(&format!("{a}{b}{c}{d}"));
                    }
                }
            }
        }
    }
}
