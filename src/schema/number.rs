//! JSON number literals split exactly into sign, digits and exponent: the one parser behind
//! `numeric` encoding, `bigint` values and the `minimum`/`maximum` bounds of a schema.
//!
//! Singer taps send numbers as JSON text, and `serde_json`'s `arbitrary_precision` hands us
//! that text unchanged. Going through `f64` would round, so a literal is only split here —
//! borrowing the input, allocating nothing, never panicking — and each caller reads the
//! parts it needs: `encode::numeric` the significant digits and the display scale, the
//! integer paths the whole part and whether a fraction was cut off. It lives in `schema`
//! because both `schema` (integer bounds) and `encode` use it, and `schema` does not import
//! `encode`.

/// A literal split into its parts, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Literal<'a> {
    /// `NaN`, any case.
    NaN,
    /// `Infinity`/`inf`, signed.
    Infinity {
        /// True for `-Infinity`.
        negative: bool,
    },
    /// A finite decimal: `sign int . frac e exp`.
    Finite(Finite<'a>),
}

/// The parts of a finite literal. Its value is `±0.{int}{frac} × 10^(int.len() + exp)`;
/// leading and trailing zeros are still in the slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finite<'a> {
    /// True when the literal starts with `-`.
    pub negative: bool,
    /// ASCII digits before the point (may be empty, as in `.5`).
    pub int: &'a [u8],
    /// ASCII digits after the point (may be empty, as in `5.` or `5`).
    pub frac: &'a [u8],
    /// The exponent, saturated to the `i64` range: anything that large is out of range for
    /// every column type anyway (or is a zero, whose exponent only matters for its scale).
    pub exp: i64,
}

/// The significant digits of a finite literal and where they sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digits {
    /// Index (into `int ++ frac`) of the first nonzero digit.
    pub first: usize,
    /// Index one past the last nonzero digit; `first == end` means the value is zero.
    pub end: usize,
    /// Number of digits before the decimal point once the exponent is applied: the digit at
    /// index `k` has decimal exponent `point - 1 - k`. Can be negative or beyond `usize`.
    pub point: i128,
}

/// The whole part of a finite literal's magnitude (the value truncated toward zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WholePart {
    /// The truncated magnitude, or `None` when it has more than 19 decimal digits (it is
    /// then at least 10^19, outside `i64` whatever the sign).
    pub magnitude: Option<i128>,
    /// True when a nonzero fraction was cut off.
    pub has_fraction: bool,
}

/// Most decimal digits of a whole part [`Finite::whole_part`] computes (`i64` has 19).
const MAX_WHOLE_DIGITS: i128 = 19;

impl<'a> Finite<'a> {
    /// Locates the significant digits.
    #[inline]
    pub fn digits(self) -> Digits {
        let nonzero = |d: &u8| *d != b'0';
        let int_len = self.int.len();
        let first = match self.int.iter().position(nonzero) {
            Some(i) => i,
            None => match self.frac.iter().position(nonzero) {
                Some(j) => int_len + j,
                None => int_len + self.frac.len(),
            },
        };
        let end = match self.frac.iter().rposition(nonzero) {
            Some(j) => int_len + j + 1,
            None => match self.int.iter().rposition(nonzero) {
                Some(i) => i + 1,
                None => first,
            },
        };
        // Lengths of a &str are below isize::MAX and the exponent is an i64, so the sum
        // cannot overflow an i128.
        let point = self.int.len() as i128 + i128::from(self.exp);
        Digits { first, end, point }
    }

    /// Digits after the decimal point once the exponent is applied, as PostgreSQL counts
    /// them for `dscale`: never negative.
    #[inline]
    pub fn display_scale(&self) -> i128 {
        (self.frac.len() as i128 - i128::from(self.exp)).max(0)
    }

    /// The ASCII digits of `int ++ frac` from index `from` (inclusive) to `to` (exclusive).
    #[inline]
    pub fn digit_range(self, from: usize, to: usize) -> impl Iterator<Item = &'a u8> {
        self.int
            .iter()
            .chain(self.frac.iter())
            .skip(from)
            .take(to.saturating_sub(from))
    }

    /// The magnitude truncated toward zero, exactly, and whether a nonzero fraction was cut
    /// off: `12.5` → 12 and a fraction, `1.20e2` → 120, `1e-3` → 0 and a fraction.
    #[inline]
    pub fn whole_part(self) -> WholePart {
        let digits = self.digits();
        if digits.first == digits.end {
            return WholePart {
                magnitude: Some(0),
                has_fraction: false,
            };
        }
        let has_fraction = digits.end as i128 > digits.point;
        // Decimal digits of the whole part: the significant ones before the point plus the
        // zeros the exponent adds. Checking first keeps the loops and the value small.
        let width = digits.point - digits.first as i128;
        if width > MAX_WHOLE_DIGITS {
            return WholePart {
                magnitude: None,
                has_fraction,
            };
        }
        let mut magnitude: i128 = 0;
        if width > 0 {
            // Between `first` and `end` by the checks above, so it fits a usize.
            let whole_end = (digits.end as i128).min(digits.point) as usize;
            for &d in self.digit_range(digits.first, whole_end) {
                magnitude = magnitude * 10 + i128::from(d - b'0');
            }
            // The trailing zeros the exponent contributes (at most 18 here, see `width`).
            for _ in whole_end as i128..digits.point {
                magnitude *= 10;
            }
        }
        WholePart {
            magnitude: Some(magnitude),
            has_fraction,
        }
    }
}

/// Case-insensitive ASCII comparison of a byte string with a lowercase word.
fn eq_word(bytes: &[u8], word: &[u8]) -> bool {
    bytes.eq_ignore_ascii_case(word)
}

/// Splits off the leading run of ASCII digits.
fn take_digits(bytes: &[u8]) -> (&[u8], &[u8]) {
    let n = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    bytes.split_at(n)
}

/// Splits a literal without looking at its value; `None` when it is not a number.
///
/// Accepts what JSON writes for numbers plus the forms PostgreSQL's `numeric` input accepts
/// from strings: a leading `+`, leading zeros, `.5`, `5.`, and the words `NaN`, `Infinity`
/// and `inf` (any case, the last two signed). Surrounding whitespace is refused.
#[inline]
pub fn parse_literal(literal: &str) -> Option<Literal<'_>> {
    let bytes = literal.as_bytes();
    if eq_word(bytes, b"nan") {
        return Some(Literal::NaN);
    }
    let (negative, rest) = split_sign(bytes);
    if eq_word(rest, b"infinity") || eq_word(rest, b"inf") {
        return Some(Literal::Infinity { negative });
    }
    let (int, rest) = take_digits(rest);
    let (frac, rest) = match rest.split_first() {
        Some((b'.', after)) => take_digits(after),
        _ => (&rest[..0], rest),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let exp = match rest.split_first() {
        None => 0,
        Some((b'e' | b'E', after)) => parse_exponent(after)?,
        Some(_) => return None,
    };
    Some(Literal::Finite(Finite {
        negative,
        int,
        frac,
        exp,
    }))
}

/// Splits off an optional leading `-` (true) or `+`.
fn split_sign(bytes: &[u8]) -> (bool, &[u8]) {
    match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    }
}

/// Parses `[+-]digits` to the end of the input, saturating at the `i64` bounds.
fn parse_exponent(bytes: &[u8]) -> Option<i64> {
    let (negative, rest) = split_sign(bytes);
    let (digits, rest) = take_digits(rest);
    if digits.is_empty() || !rest.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        // Saturate rather than fail: `1e99999999999999999999` is a valid literal whose value
        // is simply too large, and `0e99999999999999999999` is zero.
        value = value.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finite(literal: &str) -> Finite<'_> {
        match parse_literal(literal) {
            Some(Literal::Finite(finite)) => finite,
            other => panic!("{literal}: {other:?}"),
        }
    }

    fn whole(literal: &str) -> (Option<i128>, bool) {
        let part = finite(literal).whole_part();
        (part.magnitude, part.has_fraction)
    }

    #[test]
    fn literals_split_into_sign_digits_and_exponent() {
        assert_eq!(
            finite("-12.50e+3"),
            Finite {
                negative: true,
                int: b"12",
                frac: b"50",
                exp: 3
            }
        );
        assert_eq!(finite(".5").int, b"");
        assert_eq!(finite("5.").frac, b"");
        assert_eq!(finite("+5E-2").exp, -2);
        assert_eq!(finite("1e99999999999999999999").exp, i64::MAX);
        assert_eq!(finite("1e-99999999999999999999").exp, -i64::MAX);
    }

    #[test]
    fn special_words_parse_in_any_case() {
        assert_eq!(parse_literal("NaN"), Some(Literal::NaN));
        assert_eq!(
            parse_literal("-INF"),
            Some(Literal::Infinity { negative: true })
        );
        assert_eq!(
            parse_literal("+infinity"),
            Some(Literal::Infinity { negative: false })
        );
    }

    #[test]
    fn malformed_literals_are_none() {
        for literal in [
            "", " 7", "7 ", "-", "+", ".", "1e", "1e+", "e5", "1.2.3", "+-1", "-nan", "0x10",
            "1_000", "١٢٣", "1e5.5", "Infinit",
        ] {
            assert_eq!(parse_literal(literal), None, "{literal:?}");
        }
    }

    #[test]
    fn digits_locate_the_significant_run() {
        assert_eq!(
            finite("0012.3400").digits(),
            Digits {
                first: 2,
                end: 6,
                point: 4
            }
        );
        assert_eq!(finite("1.5e1").display_scale(), 0);
        assert_eq!(finite("15e-3").display_scale(), 3);
    }

    #[test]
    fn whole_part_truncates_exactly() {
        assert_eq!(whole("12.5"), (Some(12), true));
        assert_eq!(whole("-12.5"), (Some(12), true));
        assert_eq!(whole("1.20e2"), (Some(120), false));
        assert_eq!(whole("1000e-3"), (Some(1), false));
        assert_eq!(whole("0.001"), (Some(0), true));
        assert_eq!(whole("-0.000"), (Some(0), false));
        assert_eq!(whole("0e99999999999999999999"), (Some(0), false));
        assert_eq!(
            whole("9999999999999999999"),
            (Some(9_999_999_999_999_999_999), false)
        );
        assert_eq!(whole("1e19"), (None, false));
        assert_eq!(whole("12345678901234567890.5"), (None, true));
        assert_eq!(whole("1e-99999999999999999999"), (Some(0), true));
    }
}
