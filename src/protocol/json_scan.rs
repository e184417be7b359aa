//! Skipping JSON over a line's bytes exactly as strictly as serde_json reads it: numbers,
//! literals, strings with their escapes and control characters, whitespace, nesting. The
//! [`super::fast_record`] scan is built on it, and declines whatever this declines. Strings
//! and digits are looked at eight bytes at a time; scalar values are skipped inline in the
//! caller's loop, objects and arrays out of line.

/// Deepest nesting (the line's object counts as 1) the scanner follows; a deeper line goes to
/// serde and the nesting check, well below [`super::walk::MAX_NESTING`].
pub(super) const SCAN_DEPTH: usize = 64;

/// A cursor over the line; every method returns `None` for what it declines.
pub(super) struct Scanner<'a> {
    pub(super) text: &'a str,
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
}

impl<'a> Scanner<'a> {
    /// The byte at the cursor; 0 past the end (never valid where a byte is looked at).
    #[inline(always)]
    pub(super) fn peek(&self) -> u8 {
        self.bytes.get(self.at).copied().unwrap_or(0)
    }

    /// The byte at the cursor, consumed.
    #[inline(always)]
    pub(super) fn next(&mut self) -> Option<u8> {
        let byte = self.bytes.get(self.at).copied()?;
        self.at += 1;
        Some(byte)
    }

    #[inline(always)]
    pub(super) fn eat(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// JSON's whitespace, exactly what serde_json skips.
    #[inline(always)]
    pub(super) fn skip_whitespace(&mut self) {
        // Compact lines have none: one comparison says so (all four are below `!`).
        if self.peek() > b' ' {
            return;
        }
        while matches!(self.peek(), b' ' | b'\n' | b'\t' | b'\r') {
            self.at += 1;
        }
    }

    /// The byte after any whitespace, the cursor left on it; 0 past the end. One look at the
    /// byte serves both the whitespace test and the caller's.
    #[inline(always)]
    pub(super) fn peek_token(&mut self) -> u8 {
        let byte = self.peek();
        if byte > b' ' {
            return byte;
        }
        self.skip_whitespace();
        self.peek()
    }

    /// The byte after any whitespace, consumed; 0 past the end, which no caller takes for
    /// the punctuation it expects (nor a NUL, never valid outside a string).
    #[inline(always)]
    pub(super) fn next_token(&mut self) -> u8 {
        let byte = self.peek_token();
        self.at += 1;
        byte
    }

    /// A string without escapes (a type, a stream name, a time).
    pub(super) fn plain_string(&mut self) -> Option<&'a str> {
        match self.string()? {
            (text, false) => Some(text),
            (_, true) => None,
        }
    }

    /// Any JSON value at the cursor, inside `depth` levels of nesting; its text.
    pub(super) fn value(&mut self, depth: usize) -> Option<&'a str> {
        let start = self.skip_value(depth)?;
        self.text.get(start..self.at)
    }

    /// Past any JSON value after the cursor (and whitespace), inside `depth` levels of
    /// nesting; where it starts. Scalars are
    /// skipped here, in the caller's loop; objects and arrays (rarer, and recursive) out of
    /// line, so a call's cost is paid only for them.
    #[inline(always)]
    pub(super) fn skip_value(&mut self, depth: usize) -> Option<usize> {
        let first = self.peek_token();
        let start = self.at;
        match first {
            b'"' => {
                self.at += 1;
                self.string_rest()?;
            }
            b'-' | b'0'..=b'9' => self.number()?,
            b't' => self.literal(*b"true", 0)?,
            b'f' => self.literal(*b"fals", b'e')?,
            b'n' => self.literal(*b"null", 0)?,
            b'{' => self.object(depth + 1)?,
            b'[' => self.array(depth + 1)?,
            _ => return None,
        }
        Some(start)
    }

    /// A nested object (its keys without escapes: a flattened one is walked by serde).
    #[inline(never)]
    pub(super) fn object(&mut self, depth: usize) -> Option<()> {
        if depth > SCAN_DEPTH {
            return None;
        }
        self.at += 1;
        if self.peek_token() == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            if self.next_token() != b'"' || self.string_rest()? {
                return None;
            }
            if self.next_token() != b':' {
                return None;
            }
            self.skip_value(depth)?;
            match self.next_token() {
                b',' => continue,
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    #[inline(never)]
    pub(super) fn array(&mut self, depth: usize) -> Option<()> {
        if depth > SCAN_DEPTH {
            return None;
        }
        self.at += 1;
        if self.peek_token() == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.skip_value(depth)?;
            match self.next_token() {
                b',' => continue,
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// `true`, `null` (`fifth` 0) or `false` (`fals`, then `e`), compared as one word.
    #[inline(always)]
    pub(super) fn literal(&mut self, four: [u8; 4], fifth: u8) -> Option<()> {
        let word = self
            .bytes
            .get(self.at..self.at + 4)
            .and_then(|chunk| <[u8; 4]>::try_from(chunk).ok())?;
        (word == four).then_some(())?;
        self.at += 4;
        if fifth != 0 {
            self.eat(fifth)?;
        }
        Some(())
    }

    /// A number as JSON spells it: `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`.
    /// What follows is the caller's to check (`01` stops after the `0`, and the `1` is not
    /// a comma).
    #[inline(always)]
    pub(super) fn number(&mut self) -> Option<()> {
        if self.peek() == b'-' {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == b'.' {
            self.at += 1;
            self.some_digits()?;
        }
        if matches!(self.peek(), b'e' | b'E') {
            self.at += 1;
            if matches!(self.peek(), b'+' | b'-') {
                self.at += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    /// Past the digits at the cursor, eight at a time.
    #[inline(always)]
    pub(super) fn digits(&mut self) {
        while let Some(word) = self
            .bytes
            .get(self.at..self.at + 8)
            .and_then(|chunk| <[u8; 8]>::try_from(chunk).ok())
        {
            let stops = non_digits(u64::from_le_bytes(word));
            if stops != 0 {
                self.at += (stops.trailing_zeros() / 8) as usize;
                return;
            }
            self.at += 8;
        }
        while self.peek().is_ascii_digit() {
            self.at += 1;
        }
    }

    /// At least one digit.
    #[inline(always)]
    pub(super) fn some_digits(&mut self) -> Option<()> {
        self.peek().is_ascii_digit().then_some(())?;
        self.digits();
        Some(())
    }

    /// The string at the cursor (which must be its opening quote): its text between the
    /// quotes, and whether that has escapes.
    #[inline(always)]
    pub(super) fn string(&mut self) -> Option<(&'a str, bool)> {
        let start = self.at + 1;
        let escaped = self.skip_string()?;
        Some((self.text.get(start..self.at - 1)?, escaped))
    }

    /// Past the string at the cursor (which must be its opening quote); whether it has
    /// escapes. Declines control characters and escapes serde refuses.
    #[inline(always)]
    pub(super) fn skip_string(&mut self) -> Option<bool> {
        if self.peek() != b'"' {
            return None;
        }
        self.at += 1;
        self.string_rest()
    }

    /// Past the rest of a string whose opening quote is just behind the cursor; whether it
    /// has escapes.
    #[inline(always)]
    pub(super) fn string_rest(&mut self) -> Option<bool> {
        let mut at = self.at;
        let mut escaped = false;
        loop {
            at = next_special(self.bytes, at);
            match self.bytes.get(at)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    at = escape_end(self.bytes, at + 1)?;
                }
                _ => return None,
            }
        }
        self.at = at + 1;
        Some(escaped)
    }
}

/// Past the escape whose letter is at `at` (after the backslash), as serde_json checks it
/// when it skips a string: one of `"\/bfnrt`, or `u` and four hex digits.
fn escape_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(at + 1),
        b'u' => {
            let hex = bytes.get(at + 1..at + 5)?;
            hex.iter().all(u8::is_ascii_hexdigit).then_some(at + 5)
        }
        _ => None,
    }
}

/// The high bit of each byte of `word` (little-endian) that is not an ASCII digit; exact for
/// the lowest such byte, which is all a caller uses. A digit (0x30..=0x39) neither borrows
/// in `- 0x30` nor carries in `+ 0x46`, so up to the first other byte the lanes are
/// independent; there a byte below 0x30 or from 0xb0 up sets its bit in the difference, one
/// from 0x3a to 0xb9 in the sum.
#[inline(always)]
fn non_digits(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    (word.wrapping_sub(ONES * 0x30) | word.wrapping_add(ONES * 0x46)) & HIGH
}

/// The first quote, backslash or control character at or after `at` (or the end), eight
/// bytes at a time: strings are mostly short, where memchr's setup costs more than it saves.
#[inline(always)]
fn next_special(bytes: &[u8], at: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let Some(mut rest) = bytes.get(at..) else {
        return at;
    };
    let mut at = at;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        let word = u64::from_le_bytes(*word);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        // The classic zero-byte test: its lowest hit is exact (a borrow can only make
        // false hits above a true one), and so is the lowest of the three together.
        let hits = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word);
        let hits = hits & HIGH;
        if hits != 0 {
            return at + (hits.trailing_zeros() / 8) as usize;
        }
        at += 8;
        rest = tail;
    }
    for &byte in rest {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            return at;
        }
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::Rng;

    #[test]
    fn non_digits_finds_the_first_byte_that_is_not_a_digit_whatever_follows() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for at in 0..8 {
            for byte in 0..=255u8 {
                for _ in 0..8 {
                    let mut word = [0u8; 8];
                    for (i, slot) in word.iter_mut().enumerate() {
                        *slot = match i.cmp(&at) {
                            std::cmp::Ordering::Less => b'0' + rng.below(10) as u8,
                            std::cmp::Ordering::Equal => byte,
                            std::cmp::Ordering::Greater => rng.below(256) as u8,
                        };
                    }
                    let stops = non_digits(u64::from_le_bytes(word));
                    let first = word.iter().position(|b| !b.is_ascii_digit());
                    let found = (stops != 0).then(|| (stops.trailing_zeros() / 8) as usize);
                    assert_eq!(found, first, "{word:?}");
                }
            }
        }
    }

    #[test]
    fn next_special_agrees_with_a_byte_by_byte_search() {
        let mut rng = Rng(0x1405_7b7e_f767_814f);
        for _ in 0..20_000 {
            let length = rng.below(40);
            let bytes: Vec<u8> = (0..length)
                .map(|_| match rng.below(10) {
                    0 => b"\"\\\x01\x1f\x00"[rng.below(5)],
                    1 => 0x80 + rng.below(128) as u8,
                    _ => 0x20 + rng.below(0x60) as u8,
                })
                .collect();
            for at in 0..=length {
                let expected = (at..length)
                    .find(|&i| bytes[i] == b'"' || bytes[i] == b'\\' || bytes[i] < 0x20)
                    .unwrap_or(length);
                assert_eq!(next_special(&bytes, at), expected, "{bytes:?} from {at}");
            }
        }
    }
}
