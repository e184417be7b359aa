//! The fixed-width dates and date-times nearly every tap writes, read at fixed positions.
//!
//! `YYYY-MM-DD`, and `YYYY-MM-DDTHH:MM:SS` with an optional fraction of one to six digits,
//! then the end, `Z` or `±HH:MM`: what a `date` or `date-time` value looks like when a tap
//! formats it with a standard library. Reading those at fixed offsets, checking eight digits
//! at once and doing the calendar arithmetic in unsigned words skips the general parser's
//! cursor ([`super`]), which took most of a value's time. Everything else, valid or
//! not, and the edge cases (`24:00:00`, the leap second `:60`, fractions that need rounding)
//! are declined with `None` and left to the general parser, which gives the same value for
//! everything accepted here.

use super::{DAYS_TO_PG_EPOCH, MAX_OFFSET_SECS, USECS_PER_DAY, USECS_PER_SEC};

/// Days before the first of each month in a common year.
const DAYS_BEFORE_MONTH: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/// Days in each month of a common year.
const DAYS_IN_MONTH: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// What a fraction of `n` digits is multiplied by to count microseconds (`n` in 1..=6).
const FRACTION_SCALE: [u32; 7] = [0, 100_000, 10_000, 1_000, 100, 10, 1];

/// `'0'` in every byte.
const ZEROS: u64 = 0x3030_3030_3030_3030;
/// The high bit of every byte.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Eight bytes read as a little-endian word (the first byte lowest), for the digit tests.
#[inline]
fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(*bytes.get(at..)?.first_chunk::<8>()?))
}

/// The digit values of a word of eight ASCII digits, one a byte, or `None` when a byte is
/// no digit. One test for all eight: after subtracting `'0'` a byte above 9 has its high bit
/// set, itself or once 0x76 is added to it; a borrow or carry out of such a byte can only
/// flag its neighbour too.
#[inline]
fn digit_values(word: u64) -> Option<u64> {
    let values = word.wrapping_sub(ZEROS);
    ((values | values.wrapping_add(0x7676_7676_7676_7676)) & HIGH_BITS == 0).then_some(values)
}

/// Each byte of `values` (digit values) times ten plus the next byte: a two-digit number
/// starts in every byte (no byte overflows: at most 99).
#[inline]
fn pairs(values: u64) -> u64 {
    values * 10 + (values >> 8)
}

/// Byte `index` of `word`.
#[inline]
fn byte(word: u64, index: u32) -> u32 {
    (word >> (8 * index)) as u32 & 0xFF
}

/// Days since 2000-01-01 of the valid `YYYY-MM-DD` (year 0001 or later) that `bytes` start
/// with.
#[inline]
fn leading_date_days(bytes: &[u8]) -> Option<i64> {
    // `YYYY-MM-` as one word, its dashes checked, then read as zeros among the digits.
    const DASHES: u64 = 0x2D00_002D_0000_0000;
    const DASH_BYTES: u64 = 0xFF00_00FF_0000_0000;
    let word = word_at(bytes, 0)?;
    let [d1, d2] = *bytes.get(8..10)?.first_chunk::<2>()?;
    if word & DASH_BYTES != DASHES {
        return None;
    }
    let date = pairs(digit_values(word ^ DASHES ^ (ZEROS & DASH_BYTES))?);
    let (d1, d2) = (d1.wrapping_sub(b'0'), d2.wrapping_sub(b'0'));
    if d1 > 9 || d2 > 9 {
        return None;
    }
    let year = byte(date, 0) * 100 + byte(date, 2);
    let month = byte(date, 5);
    let day = u32::from(d1) * 10 + u32::from(d2);
    let month_index = month.wrapping_sub(1) as usize;
    let (&days_in_month, &days_before) = DAYS_IN_MONTH
        .get(month_index)
        .zip(DAYS_BEFORE_MONTH.get(month_index))?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if year == 0 || day == 0 || day > days_in_month + u32::from(leap && month == 2) {
        return None;
    }
    let years = year - 1;
    let days = years * 365 + years / 4 - years / 100
        + years / 400
        + days_before
        + u32::from(leap && month > 2)
        + day
        - 1;
    Some(i64::from(days) - DAYS_TO_PG_EPOCH)
}

/// Days since 2000-01-01 of a `YYYY-MM-DD` and nothing else.
#[inline]
pub(in crate::encode) fn fixed_date_days(bytes: &[u8]) -> Option<i32> {
    if bytes.len() != 10 {
        return None;
    }
    // Years 1..=9999 are within ±3 million days.
    i32::try_from(leading_date_days(bytes)?).ok()
}

/// Microseconds since 2000-01-01 UTC of a date-time in the fixed-width form (see the module
/// documentation).
#[inline]
pub(in crate::encode) fn fixed_timestamp_micros(bytes: &[u8]) -> Option<i64> {
    let days = leading_date_days(bytes)?;
    // `HH:MM:SS` as one word, its colons checked, then read as zeros among the digits.
    const COLONS: u64 = 0x0000_3A00_003A_0000;
    const COLON_BYTES: u64 = 0x0000_FF00_00FF_0000;
    let (b'T' | b't' | b' ') = *bytes.get(10)? else {
        return None;
    };
    let word = word_at(bytes, 11)?;
    if word & COLON_BYTES != COLONS {
        return None;
    }
    let time = pairs(digit_values(word ^ COLONS ^ (ZEROS & COLON_BYTES))?);
    let (hour, minute, second) = (byte(time, 0), byte(time, 3), byte(time, 6));
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let rest = bytes.get(19..)?;
    let (fraction_micros, rest) = match rest {
        [b'.', after @ ..] => {
            let (mut value, mut count) = (0u32, 0usize);
            for &byte in after {
                let digit = byte.wrapping_sub(b'0');
                if digit > 9 {
                    break;
                }
                // Seven digits need rounding: the general parser's.
                if count == 6 {
                    return None;
                }
                value = value * 10 + u32::from(digit);
                count += 1;
            }
            let scale = *FRACTION_SCALE.get(count).filter(|_| count > 0)?;
            (value * scale, after.get(count..)?)
        }
        _ => (0, rest),
    };
    let offset_secs = match *rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), oh1, oh2, b':', om1, om2] => {
            let word = u64::from_le_bytes([oh1, oh2, om1, om2, b'0', b'0', b'0', b'0']);
            let offset = pairs(digit_values(word)?);
            let (hours, minutes) = (byte(offset, 0), byte(offset, 2));
            let total = i64::from((hours * 60 + minutes) * 60);
            if minutes > 59 || total > MAX_OFFSET_SECS {
                return None;
            }
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    let seconds = i64::from((hour * 60 + minute) * 60 + second) - offset_secs;
    Some(days * USECS_PER_DAY + seconds * USECS_PER_SEC + i64::from(fraction_micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_values_refuses_every_byte_that_is_no_digit_wherever_it_stands() {
        for position in 0..8 {
            for value in 0..=u8::MAX {
                for base in [*b"01234567", *b"99999999", *b"00000000"] {
                    let mut bytes = base;
                    bytes[position] = value;
                    let expected = bytes
                        .iter()
                        .all(u8::is_ascii_digit)
                        .then(|| u64::from_le_bytes(bytes.map(|b| b.wrapping_sub(b'0'))));
                    assert_eq!(
                        digit_values(u64::from_le_bytes(bytes)),
                        expected,
                        "{bytes:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn pairs_read_two_digit_numbers_at_every_byte() {
        let values = digit_values(u64::from_le_bytes(*b"12345678")).unwrap();
        let pairs = pairs(values);
        for (index, expected) in [12, 23, 34, 45, 56, 67, 78].into_iter().enumerate() {
            assert_eq!(byte(pairs, index as u32), expected);
        }
        let nines = pairs_of(*b"99999999");
        assert_eq!(byte(nines, 0), 99);
        assert_eq!(byte(nines, 6), 99);
    }

    fn pairs_of(bytes: [u8; 8]) -> u64 {
        pairs(digit_values(u64::from_le_bytes(bytes)).unwrap())
    }
}
