//! RFC 3339 date-time, date and time text to PostgreSQL's binary date/time values.
//!
//! Taps send `date-time`, `date` and `time` values as strings, and binary COPY wants them as
//! integers counted from PostgreSQL's epoch, 2000-01-01 00:00:00 UTC: `timestamp` and
//! `timestamptz` are `i64` microseconds, `date` is `i32` days, `time` is `i64` microseconds
//! since midnight. Parsing by hand at the byte level keeps this allocation-free and lets us
//! match the server on the cases where taps and PostgreSQL disagree with a generic parser:
//! a missing offset means UTC, `24:00:00` and the leap second `:60` roll over to the next
//! day or minute, fractions beyond microseconds are rounded exactly as the server rounds
//! them, and `infinity` is the type's sentinel. Calendar arithmetic is Howard Hinnant's
//! days-from-civil algorithm, so no date library is needed. PostgreSQL's epoch is written
//! once, here, which is why the clock reading in that unit ([`now_postgres_micros`]) and its
//! formatting ([`micros_to_rfc3339`]) live here too.

pub(super) mod fixed;

use fixed::{fixed_date_days, fixed_timestamp_micros};

/// Microseconds in one second.
const USECS_PER_SEC: i64 = 1_000_000;
/// Microseconds in one day.
const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;
/// Days from 1970-01-01 (the Unix epoch, and the calendar algorithm's) to 2000-01-01
/// (PostgreSQL's epoch): 946_684_800 seconds. The one place this offset is written.
const PG_EPOCH_DAYS: i64 = 10_957;
/// Largest offset PostgreSQL accepts, in seconds (15:59:59).
const MAX_OFFSET_SECS: i64 = 15 * 3600 + 59 * 60 + 59;

/// Internal marker for malformed text; each public function swaps in its own wording.
const SYNTAX: &str = "syntax";
/// Error for a year outside 0001–9999.
const YEAR_RANGE: &str = "year out of range";
/// Error for a month or day that does not exist.
const INVALID_DATE: &str = "invalid date";
/// Error for an hour, minute or second that does not exist.
const INVALID_TIME: &str = "invalid time";
/// Error for an offset beyond ±15:59:59.
const OFFSET_RANGE: &str = "time zone offset out of range";

/// A calendar date as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Date {
    /// 1..=9999.
    year: i64,
    /// 1..=12.
    month: i64,
    /// 1..=days in the month.
    day: i64,
}

/// A time of day as written, already validated and rounded to microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimeOfDay {
    /// Microseconds since midnight: 0..=86_400_000_000 (`24:00:00` and `23:59:60` give the
    /// upper bound; `12:30:60` gives 12:31:00).
    micros: i64,
    /// Offset east of UTC in seconds, 0 when none was written.
    offset_secs: i64,
}

/// A parsed `date-time` or `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parsed {
    /// `infinity` or `-infinity`.
    Infinite {
        /// True for `-infinity`.
        negative: bool,
    },
    /// A date with an optional time of day.
    Finite {
        /// The date as written.
        date: Date,
        /// The time as written, if any.
        time: Option<TimeOfDay>,
    },
}

/// A byte cursor over the input. Every read is bounds-checked, so no input can panic it.
struct Cursor<'a> {
    /// The whole input.
    text: &'a str,
    /// Index of the next unread byte.
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { text, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `word` (ASCII, compared case-insensitively) if it is next.
    fn eat_word(&mut self, word: &str) -> bool {
        let end = self.pos.saturating_add(word.len());
        match self.text.as_bytes().get(self.pos..end) {
            Some(bytes) if bytes.eq_ignore_ascii_case(word.as_bytes()) => {
                self.pos = end;
                true
            }
            _ => false,
        }
    }

    /// Consumes a run of ASCII digits and returns `(value, count)`. The value saturates,
    /// which is fine because every caller bounds `count` to a few digits.
    fn digits(&mut self) -> (i64, usize) {
        let mut value: i64 = 0;
        let start = self.pos;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
            self.pos += 1;
        }
        (value, self.pos - start)
    }

    /// Consumes 1 to `max` digits; anything else is a syntax error.
    fn field(&mut self, max: usize) -> Result<i64, &'static str> {
        match self.digits() {
            (value, n) if n >= 1 && n <= max => Ok(value),
            _ => Err(SYNTAX),
        }
    }
}

/// True for years divisible by 4, except centuries not divisible by 400.
fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` (1..=12) of `year`.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days before the first of each month in a common year.
const DAYS_BEFORE_MONTH: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/// Days from 0001-01-01 to 2000-01-01: those of 1999 whole years.
const DAYS_TO_PG_EPOCH: i64 = 1999 * 365 + 1999 / 4 - 1999 / 100 + 1999 / 400;

/// `(year, month, day)` of a day count since 1970 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 2000-01-01 of a validated date (year 1 to 9999): the whole years before it,
/// then its month's first from a table, cheaper than a general days-from-civil's eras.
fn pg_days(date: Date) -> i64 {
    let years = date.year - 1;
    let before_month = usize::try_from(date.month - 1)
        .ok()
        .and_then(|index| DAYS_BEFORE_MONTH.get(index))
        .copied()
        .unwrap_or(0);
    let leap_day = i64::from(date.month > 2 && is_leap_year(date.year));
    years * 365 + years / 4 - years / 100 + years / 400 + before_month + leap_day + date.day
        - 1
        - DAYS_TO_PG_EPOCH
}

/// Consumes `infinity`, `+infinity` or `-infinity` when that is the whole input.
fn parse_infinity(text: &str) -> Option<bool> {
    let bytes = text.as_bytes();
    let (negative, rest) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    rest.eq_ignore_ascii_case(b"infinity").then_some(negative)
}

/// Parses `YYYY-M[M]-D[D]` and validates it.
fn parse_date(cur: &mut Cursor<'_>) -> Result<Date, &'static str> {
    let (year, n) = cur.digits();
    if n > 4 {
        // Five or more digits: a well-formed year we do not support, not garbage.
        return Err(YEAR_RANGE);
    }
    if n != 4 || !cur.eat(b'-') {
        return Err(SYNTAX);
    }
    let month = cur.field(2)?;
    if !cur.eat(b'-') {
        return Err(SYNTAX);
    }
    let day = cur.field(2)?;
    if year < 1 {
        return Err(YEAR_RANGE);
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(INVALID_DATE);
    }
    Ok(Date { year, month, day })
}

/// Rounds the fraction `.digits` (the text including its point) to microseconds exactly as
/// PostgreSQL does: `strtod` then `rint(frac * 1e6)`, i.e. round-half-even on the nearest
/// double. Up to six digits are exact integers and skip the float.
fn fraction_micros(fraction: &str, digit_count: usize) -> Result<i64, &'static str> {
    if digit_count <= 6 {
        let mut value: i64 = 0;
        for b in fraction.bytes().skip(1) {
            value = value * 10 + i64::from(b - b'0');
        }
        for _ in digit_count..6 {
            value *= 10;
        }
        return Ok(value);
    }
    let frac: f64 = fraction.parse().map_err(|_| SYNTAX)?;
    // frac is in [0, 1], so the product is in [0, 1e6] and the cast is exact.
    Ok((frac * 1e6).round_ties_even() as i64)
}

/// Parses `H[H]:M[M][:S[S][.fraction]]` and an optional offset, and validates them.
fn parse_time_of_day(cur: &mut Cursor<'_>) -> Result<TimeOfDay, &'static str> {
    let hour = cur.field(2)?;
    if !cur.eat(b':') {
        return Err(SYNTAX);
    }
    let minute = cur.field(2)?;
    let mut second = 0;
    let mut frac_us = 0;
    if cur.eat(b':') {
        second = cur.field(2)?;
        let dot = cur.pos;
        if cur.eat(b'.') {
            let (_, n) = cur.digits();
            if n == 0 {
                return Err(SYNTAX);
            }
            // The slice starts at the ASCII '.' and ends after ASCII digits, so it lies on
            // char boundaries; `get` keeps even that from panicking.
            let fraction = cur.text.get(dot..cur.pos).ok_or(SYNTAX)?;
            frac_us = fraction_micros(fraction, n)?;
        }
    }
    // PostgreSQL's rules, checked after rounding: 24:00:00 exactly, and a leap second only
    // without a fraction; a rounded-up fraction (1_000_000) simply carries.
    let valid = minute <= 59
        && second <= 60
        && (hour < 24 || (hour == 24 && minute == 0 && second == 0 && frac_us == 0))
        && (second < 60 || frac_us == 0);
    if !valid {
        return Err(INVALID_TIME);
    }
    let offset_secs = parse_offset(cur)?;
    Ok(TimeOfDay {
        micros: ((hour * 60 + minute) * 60 + second) * USECS_PER_SEC + frac_us,
        offset_secs,
    })
}

/// Parses what may follow a time: nothing, `Z`, `UTC`/`GMT` (optionally after a space), or
/// `±H[H]`, `±HHMM`, `±HH:MM`, `±HH:MM:SS`. Returns seconds east of UTC; it must end the
/// input.
fn parse_offset(cur: &mut Cursor<'_>) -> Result<i64, &'static str> {
    if cur.at_end() {
        return Ok(0);
    }
    cur.eat(b' ');
    let offset = if cur.eat(b'Z') || cur.eat(b'z') || cur.eat_word("UTC") || cur.eat_word("GMT") {
        0
    } else {
        let sign = if cur.eat(b'+') {
            1
        } else if cur.eat(b'-') {
            -1
        } else {
            return Err(SYNTAX);
        };
        let (hhmm, n) = cur.digits();
        let (hours, mut minutes) = match n {
            1 | 2 => (hhmm, 0),
            4 => (hhmm / 100, hhmm % 100),
            _ => return Err(SYNTAX),
        };
        let mut seconds = 0;
        if n <= 2 && cur.eat(b':') {
            minutes = two_digits(cur)?;
            if cur.eat(b':') {
                seconds = two_digits(cur)?;
            }
        }
        if minutes > 59 || seconds > 59 {
            return Err(SYNTAX);
        }
        let total = (hours * 60 + minutes) * 60 + seconds;
        if total > MAX_OFFSET_SECS {
            return Err(OFFSET_RANGE);
        }
        sign * total
    };
    if cur.at_end() {
        Ok(offset)
    } else {
        Err(SYNTAX)
    }
}

/// Consumes exactly two digits.
fn two_digits(cur: &mut Cursor<'_>) -> Result<i64, &'static str> {
    match cur.digits() {
        (value, 2) => Ok(value),
        _ => Err(SYNTAX),
    }
}

/// Parses a date or date-time as taps write them.
fn parse_date_time(text: &str) -> Result<Parsed, &'static str> {
    if let Some(negative) = parse_infinity(text) {
        return Ok(Parsed::Infinite { negative });
    }
    let mut cur = Cursor::new(text);
    let date = parse_date(&mut cur)?;
    if cur.at_end() {
        return Ok(Parsed::Finite { date, time: None });
    }
    if !(cur.eat(b'T') || cur.eat(b't') || cur.eat(b' ')) {
        return Err(SYNTAX);
    }
    let time = parse_time_of_day(&mut cur)?;
    Ok(Parsed::Finite {
        date,
        time: Some(time),
    })
}

/// Replaces the internal syntax marker with a message naming the expected type.
fn name_syntax(reason: &'static str, message: &'static str) -> &'static str {
    if reason == SYNTAX {
        message
    } else {
        reason
    }
}

/// Parses an RFC 3339 / ISO 8601 date-time and returns the UTC instant in microseconds since
/// 2000-01-01 00:00:00 UTC, the binary form of `timestamp` and `timestamptz`.
///
/// Accepts `YYYY-MM-DD`, then `T`, `t` or a space, then `HH:MM[:SS[.fraction]]`, then
/// optionally `Z`, `UTC`, `GMT` (a space before them is allowed) or an offset `±HH`,
/// `±HHMM`, `±HH:MM`, `±HH:MM:SS` up to ±15:59:59. No offset means UTC, and a date alone
/// means midnight UTC. Fractions of any length are rounded to microseconds as PostgreSQL
/// rounds them; `24:00:00` is the next midnight and a leap second `:60` the next minute.
/// `infinity` and `-infinity` give `i64::MAX` and `i64::MIN`.
///
/// The caller trims surrounding whitespace if it wants to accept it.
///
/// # Errors
///
/// `"not a timestamp"` for malformed text, `"year out of range"` outside 0001–9999,
/// `"invalid date"`, `"invalid time"` and `"time zone offset out of range"`.
pub fn parse_timestamp_micros(s: &str) -> Result<i64, &'static str> {
    match fixed_timestamp_micros(s.as_bytes()) {
        Some(micros) => Ok(micros),
        None => general_timestamp_micros(s),
    }
}

/// [`parse_timestamp_micros`] for every form it accepts.
fn general_timestamp_micros(s: &str) -> Result<i64, &'static str> {
    match parse_date_time(s).map_err(|e| name_syntax(e, "not a timestamp"))? {
        Parsed::Infinite { negative: true } => Ok(i64::MIN),
        Parsed::Infinite { negative: false } => Ok(i64::MAX),
        Parsed::Finite { date, time } => {
            let (micros, offset) = time.map_or((0, 0), |t| (t.micros, t.offset_secs));
            // Years 1..=9999 keep this near ±3.2e17, far from the i64 bounds.
            Ok(pg_days(date) * USECS_PER_DAY + micros - offset * USECS_PER_SEC)
        }
    }
}

/// Parses a date and returns days since 2000-01-01, the binary form of `date`.
///
/// Accepts `YYYY-MM-DD`, or any date-time [`parse_timestamp_micros`] accepts, in which case
/// the calendar date as written is taken and the time and offset are validated but ignored
/// (`2024-01-01T23:00:00-05:00` is 2024-01-01). `infinity` and `-infinity` give `i32::MAX`
/// and `i32::MIN`.
///
/// # Errors
///
/// `"not a date"` for malformed text, and the range errors of [`parse_timestamp_micros`].
pub fn parse_date_days(s: &str) -> Result<i32, &'static str> {
    match fixed_date_days(s.as_bytes()) {
        Some(days) => Ok(days),
        None => general_date_days(s),
    }
}

/// [`parse_date_days`] for every form it accepts.
fn general_date_days(s: &str) -> Result<i32, &'static str> {
    match parse_date_time(s).map_err(|e| name_syntax(e, "not a date"))? {
        Parsed::Infinite { negative: true } => Ok(i32::MIN),
        Parsed::Infinite { negative: false } => Ok(i32::MAX),
        // Years 1..=9999 are within ±3 million days.
        Parsed::Finite { date, .. } => i32::try_from(pg_days(date)).map_err(|_| YEAR_RANGE),
    }
}

/// Parses a time of day and returns microseconds since midnight, the binary form of `time`.
///
/// Accepts `HH:MM[:SS[.fraction]]` with an optional offset that is validated but ignored (as
/// PostgreSQL's `time` ignores it), or a full date-time from which the time as written is
/// taken. `24:00:00` is allowed (86 400 000 000), as is `23:59:60`, which is the same value.
///
/// # Errors
///
/// `"not a time"` for malformed text (including a date without a time), `"invalid time"`,
/// `"time out of range"` when rounding carries past 24:00:00, and the date errors of
/// [`parse_timestamp_micros`] for a date-time.
pub fn parse_time_micros(s: &str) -> Result<i64, &'static str> {
    let not_a_time = |e| name_syntax(e, "not a time");
    let mut cur = Cursor::new(s);
    // A date starts with four digits and a dash; a time with one or two digits and a colon.
    let is_date_time = matches!(s.as_bytes().get(4), Some(b'-'));
    let time = if is_date_time {
        match parse_date_time(s).map_err(not_a_time)? {
            Parsed::Finite {
                time: Some(time), ..
            } => time,
            _ => return Err("not a time"),
        }
    } else {
        parse_time_of_day(&mut cur).map_err(not_a_time)?
    };
    if time.micros > USECS_PER_DAY {
        return Err("time out of range");
    }
    Ok(time.micros)
}

/// Formats microseconds since 2000-01-01 UTC as RFC 3339 in UTC, e.g.
/// `2024-02-29T12:34:56.789Z`, with the fraction only when nonzero and trimmed of trailing
/// zeros. `i64::MAX` and `i64::MIN` print as `infinity` and `-infinity`. For messages and
/// tests.
pub fn micros_to_rfc3339(micros: i64) -> String {
    match micros {
        i64::MAX => return "infinity".to_string(),
        i64::MIN => return "-infinity".to_string(),
        _ => {}
    }
    let days = micros.div_euclid(USECS_PER_DAY);
    let in_day = micros.rem_euclid(USECS_PER_DAY);
    let (year, month, day) = civil_from_days(days + PG_EPOCH_DAYS);
    let secs = in_day / USECS_PER_SEC;
    let frac = in_day % USECS_PER_SEC;
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if frac != 0 {
        let digits = format!("{frac:06}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// Now, in PostgreSQL's timestamp unit: microseconds since 2000-01-01 00:00:00 UTC.
///
/// Saturates at the `i64` bounds instead of panicking, whatever the system clock says (a
/// clock set before 1970 gives a correspondingly earlier, negative value).
pub fn now_postgres_micros() -> i64 {
    postgres_micros_at(std::time::SystemTime::now())
}

/// `at` in microseconds since 2000-01-01 00:00:00 UTC, saturating.
fn postgres_micros_at(at: std::time::SystemTime) -> i64 {
    let since_unix = match at.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => {
            i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |micros| -micros)
        }
    };
    since_unix.saturating_sub(PG_EPOCH_DAYS * USECS_PER_DAY)
}

/// Dates at the edges of the fixed-width form (a leap day, a day that does not exist, the
/// first and last years), for the tests that compare a fast path with the general one.
#[cfg(test)]
pub(crate) const EDGE_DATES: [&str; 5] = [
    "2024-02-29",
    "2023-02-29",
    "0001-01-01",
    "0000-01-01",
    "9999-12-31",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_width_fast_path_agrees_with_the_general_parser() {
        let dates = EDGE_DATES.into_iter().chain([
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-04-30",
            "1900-02-29",
            "2000-02-29",
            "2100-02-28",
            "1999-12-31",
            "2000-01-01",
            "0004-02-29",
            "2024-1-01",
            "2024-01-1",
            "20240101",
            "2024/01/01",
            "+2024-01-01",
            "10000-01-01",
        ]);
        let times = [
            "T00:00:00",
            "T23:59:59",
            "t12:30:45",
            " 08:05:09",
            "T24:00:00",
        ];
        let times = times.into_iter().chain([
            "T23:59:60",
            "T12:60:00",
            "T1:02:03",
            "T12:30",
            "T2a:00:00",
            "x12:00:00",
            "T12-00-00",
        ]);
        let fractions = [
            "",
            ".5",
            ".12",
            ".123",
            ".1234",
            ".12345",
            ".123456",
            ".1234567",
            ".12345678",
            ".123456789",
            ".",
            ".000001",
            ".9999995",
            ".999999",
            ".0000005",
            ".x",
        ];
        let offsets = [
            "", "Z", "z", "+02:00", "-05:30", "+15:59", "-15:59", "+16:00", "-00:60", "+0200",
        ];
        let offsets = offsets.into_iter().chain([
            " UTC",
            "+02",
            "Zx",
            "+02:00:30",
            "+00:00",
            "-00:00",
            "+2:00",
            "+02:0a",
            "ZZ",
            " ",
        ]);
        let offsets: Vec<&str> = offsets.collect();
        let mut fast_taken = 0;
        for date in dates {
            if let Some(days) = fixed_date_days(date.as_bytes()) {
                assert_eq!(Ok(days), general_date_days(date), "{date}");
            }
            assert_eq!(parse_date_days(date), general_date_days(date), "{date}");
            for time in times.clone() {
                for fraction in fractions {
                    for offset in &offsets {
                        let text = format!("{date}{time}{fraction}{offset}");
                        let general = general_timestamp_micros(&text);
                        if let Some(fast) = fixed_timestamp_micros(text.as_bytes()) {
                            fast_taken += 1;
                            assert_eq!(Ok(fast), general, "{text}");
                        }
                        assert_eq!(parse_timestamp_micros(&text), general, "{text}");
                        assert_eq!(parse_date_days(&text), general_date_days(&text), "{text}");
                    }
                }
            }
        }
        assert!(
            fast_taken > 2_000,
            "the fast path was taken {fast_taken} times"
        );
    }

    #[test]
    fn the_fixed_width_date_agrees_with_the_general_parser_over_years_0_to_9999() {
        let every_day: Vec<u32> = (0..=32).collect();
        for year in 0..=9999 {
            // Every day of the years around 2000 and 1900; the edges of the others' months.
            let days = if (1896..=2104).contains(&year) {
                &every_day[..]
            } else {
                &[0, 1, 28, 29, 30, 31, 32][..]
            };
            for month in 0..=13 {
                for &day in days {
                    let text = format!("{year:04}-{month:02}-{day:02}");
                    let fast = fixed_date_days(text.as_bytes());
                    let general = general_date_days(&text);
                    assert_eq!(fast.ok_or(()), general.map_err(|_| ()), "{text}");
                }
            }
        }
    }

    #[test]
    fn the_fixed_width_fast_path_agrees_with_the_general_parser_on_mutated_text() {
        let seeds = [
            "2024-07-11T04:08:06.967112Z",
            "2024-06-28T06:47:00+02:00",
            "1999-12-31T23:59:59.9-15:59",
            "2000-02-29 00:00:00z",
            "2024-03-13",
        ];
        let bytes = b"0123456789-:.TtZz+ xe\xff";
        let mut rng = crate::fuzz::Rng(0x5eed_2026_1203);
        for _ in 0..300_000 {
            let mut text = seeds[rng.below(seeds.len())].as_bytes().to_vec();
            for _ in 0..=rng.below(3) {
                let at = rng.below(text.len() + 1);
                match rng.below(3) {
                    0 if at < text.len() => text[at] = bytes[rng.below(bytes.len())],
                    1 if at < text.len() => {
                        text.remove(at);
                    }
                    _ => text.insert(at, bytes[rng.below(bytes.len())]),
                }
            }
            let Ok(text) = std::str::from_utf8(&text) else {
                assert_eq!(fixed_timestamp_micros(&text), None);
                assert_eq!(fixed_date_days(&text), None);
                continue;
            };
            if let Some(fast) = fixed_timestamp_micros(text.as_bytes()) {
                assert_eq!(Ok(fast), general_timestamp_micros(text), "{text}");
            }
            if let Some(fast) = fixed_date_days(text.as_bytes()) {
                assert_eq!(Ok(fast), general_date_days(text), "{text}");
            }
        }
    }

    #[test]
    fn postgres_epoch_is_946_684_800_seconds_after_unix() {
        use std::time::{Duration, UNIX_EPOCH};
        assert_eq!(PG_EPOCH_DAYS * USECS_PER_DAY, 946_684_800 * USECS_PER_SEC);
        let pg_epoch = UNIX_EPOCH + Duration::from_secs(946_684_800);
        assert_eq!(postgres_micros_at(pg_epoch), 0);
        assert_eq!(
            postgres_micros_at(pg_epoch + Duration::from_micros(1_500_000)),
            1_500_000
        );
        assert_eq!(postgres_micros_at(UNIX_EPOCH), -946_684_800 * USECS_PER_SEC);
        assert_eq!(
            postgres_micros_at(UNIX_EPOCH - Duration::from_secs(1)),
            -946_684_801 * USECS_PER_SEC
        );
    }

    #[test]
    fn now_postgres_micros_is_now_and_never_panics() {
        let before = ts("2024-01-01T00:00:00Z");
        let now = now_postgres_micros();
        assert!(now > before, "{now}");
        assert!(now < ts("2200-01-01T00:00:00Z"), "{now}");
        // Far past and far future clocks saturate instead of overflowing.
        if let Some(far) =
            std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(1 << 62))
        {
            assert_eq!(
                postgres_micros_at(far),
                i64::MAX - PG_EPOCH_DAYS * USECS_PER_DAY
            );
        }
        if let Some(far) =
            std::time::UNIX_EPOCH.checked_sub(std::time::Duration::from_secs(1 << 62))
        {
            assert_eq!(postgres_micros_at(far), i64::MIN);
        }
    }

    const HOUR: i64 = 3600 * USECS_PER_SEC;
    const MINUTE: i64 = 60 * USECS_PER_SEC;

    fn ts(s: &str) -> i64 {
        parse_timestamp_micros(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn timestamp_epoch_is_zero() {
        assert_eq!(ts("2000-01-01T00:00:00Z"), 0);
        assert_eq!(ts("2000-01-01"), 0);
        assert_eq!(ts("2000-01-01 00:00"), 0);
        assert_eq!(ts("2000-01-01t00:00:00z"), 0);
        assert_eq!(ts("2000-01-01T00:00:00+00:00"), 0);
        assert_eq!(ts("2000-01-01T00:00:00-00"), 0);
        assert_eq!(ts("2000-01-01T00:00:00 UTC"), 0);
        assert_eq!(ts("2000-01-01T00:00:00utc"), 0);
        assert_eq!(ts("2000-01-01T00:00:00 GMT"), 0);
        assert_eq!(ts("2000-01-01T00:00:00 Z"), 0);
    }

    #[test]
    fn timestamp_without_offset_is_utc() {
        assert_eq!(ts("2000-01-01T10:00:00"), 10 * HOUR);
        assert_eq!(ts("2000-01-01 10:00:00"), ts("2000-01-01T10:00:00Z"));
    }

    #[test]
    fn timestamp_offsets_give_the_utc_instant() {
        let ten = 10 * HOUR;
        assert_eq!(ts("2000-01-01T10:00:00+02:00"), ten - 2 * HOUR);
        assert_eq!(ts("2000-01-01T10:00:00+0200"), ten - 2 * HOUR);
        assert_eq!(ts("2000-01-01T10:00:00+02"), ten - 2 * HOUR);
        assert_eq!(ts("2000-01-01T10:00:00+2"), ten - 2 * HOUR);
        assert_eq!(ts("2000-01-01T10:00:00 +02"), ten - 2 * HOUR);
        assert_eq!(
            ts("2000-01-01T10:00:00-05:30"),
            ten + 5 * HOUR + 30 * MINUTE
        );
        assert_eq!(ts("2000-01-01T10:00:00+0530"), ten - 5 * HOUR - 30 * MINUTE);
        assert_eq!(
            ts("2000-01-01T10:00:00+05:30:10"),
            ten - 5 * HOUR - 30 * MINUTE - 10 * USECS_PER_SEC
        );
        assert_eq!(ts("2000-01-01T10:00+15:59"), ten - 15 * HOUR - 59 * MINUTE);
        assert_eq!(
            parse_timestamp_micros("2000-01-01T10:00+16"),
            Err(OFFSET_RANGE)
        );
    }

    #[test]
    fn timestamp_short_fractions_are_exact() {
        assert_eq!(ts("2000-01-01T00:00:01.5"), 1_500_000);
        assert_eq!(ts("2000-01-01T00:00:00.000001Z"), 1);
        assert_eq!(ts("2000-01-01T00:00:00.123456Z"), 123_456);
        assert_eq!(ts("2000-01-01T00:00:00.1Z"), 100_000);
    }

    #[test]
    fn timestamp_long_fractions_round_like_postgres() {
        // rint() on the nearest double: these are the server's answers.
        assert_eq!(ts("2000-01-01 00:00:00.0000005"), 0);
        assert_eq!(ts("2000-01-01 00:00:00.0000015"), 2);
        assert_eq!(ts("2000-01-01 00:00:00.0000025"), 2);
        assert_eq!(ts("2000-01-01 00:00:00.1234565"), 123_456);
        assert_eq!(ts("2000-01-01 00:00:00.00000050000001"), 1);
        assert_eq!(ts("2000-01-01 00:00:00.123456789"), 123_457);
        assert_eq!(ts("2000-01-01 00:00:00.9999995"), USECS_PER_SEC);
        assert_eq!(ts("2000-01-01 23:59:59.9999999"), USECS_PER_DAY);
    }

    #[test]
    fn timestamp_midnight_24_and_leap_second_roll_over() {
        assert_eq!(ts("2000-01-01 24:00:00"), USECS_PER_DAY);
        assert_eq!(ts("2000-01-01 23:59:60"), USECS_PER_DAY);
        assert_eq!(ts("2000-01-01 12:30:60"), 12 * HOUR + 31 * MINUTE);
        assert_eq!(ts("2000-01-01 24:00:00.0000001"), USECS_PER_DAY);
        assert_eq!(ts("2000-01-01 23:59:60.0000004"), USECS_PER_DAY);
        for bad in [
            "2000-01-01 24:00:01",
            "2000-01-01 24:01",
            "2000-01-01 24:00:00.4",
            "2000-01-01 23:59:60.5",
            "2000-01-01 23:59:61",
            "2000-01-01 25:00",
            "2000-01-01 12:60",
        ] {
            assert_eq!(parse_timestamp_micros(bad), Err(INVALID_TIME), "{bad}");
        }
    }

    #[test]
    fn timestamp_infinities_are_the_sentinels() {
        assert_eq!(ts("infinity"), i64::MAX);
        assert_eq!(ts("+Infinity"), i64::MAX);
        assert_eq!(ts("-infinity"), i64::MIN);
        assert_eq!(ts("-INFINITY"), i64::MIN);
    }

    #[test]
    fn timestamp_year_bounds() {
        assert_eq!(ts("0001-01-01"), -63_082_281_600_000_000);
        assert_eq!(ts("9999-12-31T23:59:59.999999-15"), 0x0380_e718_23e2_1bff);
        for bad in ["0000-01-01", "10000-01-01", "123456-01-01T00:00:00Z"] {
            assert_eq!(parse_timestamp_micros(bad), Err(YEAR_RANGE), "{bad}");
        }
    }

    #[test]
    fn timestamp_invalid_dates_are_refused() {
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-01-00",
            "2024-04-31",
            "1900-02-29",
            "2024-01-32T00:00:00Z",
        ] {
            assert_eq!(parse_timestamp_micros(bad), Err(INVALID_DATE), "{bad}");
        }
        assert_eq!(ts("2024-02-29"), ts("2024-03-01") - USECS_PER_DAY);
        assert_eq!(ts("2000-02-29"), 59 * USECS_PER_DAY);
    }

    #[test]
    fn timestamp_garbage_is_not_a_timestamp() {
        for bad in [
            "",
            " ",
            "2024",
            "2024-01",
            "2024-01-01T",
            "2024-01-01T10",
            "2024-01-01T10:",
            "2024-01-01T10:00:",
            "2024-01-01T10:00:00.",
            "2024-01-01T10:00:00,5",
            "2024-01-01X10:00",
            "2024-01-01T10:00:00+",
            "2024-01-01T10:00:00+123",
            "2024-01-01T10:00:00+01:6",
            "2024-01-01T10:00:00+01:60",
            "2024-01-01T10:00:00Zjunk",
            "2024-01-01T10:00:00 ",
            "2024-01-01T10:00:00 EST",
            "2024-01-01T100:00",
            "24-01-01",
            "2024/01/01",
            "-2024-01-01",
            "infinityx",
            "now",
            "2024-001-01",
            " 2024-01-01",
        ] {
            assert_eq!(
                parse_timestamp_micros(bad),
                Err("not a timestamp"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn timestamp_multibyte_text_never_panics() {
        let base = "2024-01-01T10:00:00.123+02:00";
        for ch in ['é', '€', '😀', '\u{0}', '１'] {
            // Insert the character at every char boundary and replace every character.
            for i in 0..=base.len() {
                let mut s = base.to_string();
                s.insert(i, ch);
                assert!(parse_timestamp_micros(&s).is_err(), "{s}");
                let _ = parse_date_days(&s);
                let _ = parse_time_micros(&s);
            }
            for i in 0..base.len() {
                let mut s = base.to_string();
                s.replace_range(i..i + 1, &ch.to_string());
                assert!(parse_timestamp_micros(&s).is_err(), "{s}");
                let _ = parse_date_days(&s);
                let _ = parse_time_micros(&s);
            }
        }
    }

    #[test]
    fn timestamp_every_prefix_never_panics() {
        let base = "2024-02-29T23:59:60.9999999+15:59:59";
        for end in 0..=base.len() {
            let s = &base[..end];
            let _ = parse_timestamp_micros(s);
            let _ = parse_date_days(s);
            let _ = parse_time_micros(s);
        }
        let long = format!("2000-01-01T00:00:00.{}Z", "9".repeat(10_000));
        assert_eq!(parse_timestamp_micros(&long), Ok(USECS_PER_SEC));
        let long = format!("{}-01-01", "9".repeat(100));
        assert_eq!(parse_timestamp_micros(&long), Err(YEAR_RANGE));
    }

    /// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's
    /// `days_from_civil`, valid for any year): the reference for [`pg_days`].
    fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400); // [0, 399]
        let mp = (month + 9) % 12; // March = 0
        let doy = (153 * mp + 2) / 5 + day - 1; // [0, 365]
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
        era * 146_097 + doe - 719_468
    }

    #[test]
    fn pg_days_agrees_with_days_from_civil_on_every_date_of_years_1_to_9999() {
        for year in 1..=9999 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(
                        pg_days(Date { year, month, day }),
                        days_from_civil(year, month, day) - PG_EPOCH_DAYS,
                        "{year}-{month}-{day}"
                    );
                }
            }
        }
    }

    #[test]
    fn days_from_civil_matches_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 1, 1), PG_EPOCH_DAYS);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), PG_EPOCH_DAYS + 60);
        for days in [-800_000, -719_468, -1, 0, 1, 10_957, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn date_days_from_dates_and_date_times() {
        assert_eq!(parse_date_days("2000-01-01"), Ok(0));
        assert_eq!(parse_date_days("1999-12-31"), Ok(-1));
        assert_eq!(parse_date_days("2000-03-01"), Ok(60));
        assert_eq!(parse_date_days("2024-1-5"), parse_date_days("2024-01-05"));
        // The date as written, whatever the offset.
        assert_eq!(parse_date_days("2000-01-02T23:00:00-05:00"), Ok(1));
        assert_eq!(parse_date_days("2000-01-02T01:00:00+05:00"), Ok(1));
        assert_eq!(parse_date_days("2000-01-02 24:00:00"), Ok(1));
        assert_eq!(parse_date_days("0001-01-01"), Ok(-730_119));
        assert_eq!(parse_date_days("9999-12-31"), Ok(2_921_939));
        assert_eq!(parse_date_days("infinity"), Ok(i32::MAX));
        assert_eq!(parse_date_days("-infinity"), Ok(i32::MIN));
    }

    #[test]
    fn date_errors_name_the_date() {
        assert_eq!(parse_date_days(""), Err("not a date"));
        assert_eq!(parse_date_days("yesterday"), Err("not a date"));
        assert_eq!(parse_date_days("2023-02-29"), Err(INVALID_DATE));
        assert_eq!(parse_date_days("0000-12-31"), Err(YEAR_RANGE));
        assert_eq!(parse_date_days("2024-01-01T25:00"), Err(INVALID_TIME));
        assert_eq!(parse_date_days("2024-01-01T10:00:00x"), Err("not a date"));
    }

    #[test]
    fn time_micros_from_times() {
        let t = |s: &str| parse_time_micros(s);
        assert_eq!(t("00:00"), Ok(0));
        assert_eq!(t("01:02:03.5"), Ok(0xddf0_19e0));
        assert_eq!(t("1:2:3"), Ok(HOUR + 2 * MINUTE + 3 * USECS_PER_SEC));
        assert_eq!(t("10:00:00+02"), Ok(10 * HOUR));
        assert_eq!(t("10:00:00-05:30"), Ok(10 * HOUR));
        assert_eq!(t("10:00Z"), Ok(10 * HOUR));
        assert_eq!(t("10:00:00 UTC"), Ok(10 * HOUR));
        assert_eq!(t("24:00:00"), Ok(USECS_PER_DAY));
        assert_eq!(t("23:59:60"), Ok(USECS_PER_DAY));
        assert_eq!(t("23:59:59.9999999"), Ok(USECS_PER_DAY));
        assert_eq!(t("23:59:59.999999"), Ok(USECS_PER_DAY - 1));
        // A date-time gives its time as written.
        assert_eq!(t("2020-01-01T10:00:00Z"), Ok(10 * HOUR));
        assert_eq!(t("2020-01-01 10:00:00+05:00"), Ok(10 * HOUR));
    }

    #[test]
    fn time_errors() {
        let t = |s: &str| parse_time_micros(s);
        assert_eq!(t(""), Err("not a time"));
        assert_eq!(t("10"), Err("not a time"));
        assert_eq!(t("10:00:00 junk"), Err("not a time"));
        assert_eq!(t("2020-01-01"), Err("not a time"));
        assert_eq!(t("infinity"), Err("not a time"));
        assert_eq!(t("24:00:01"), Err(INVALID_TIME));
        assert_eq!(t("25:00"), Err(INVALID_TIME));
        assert_eq!(t("23:59:60.5"), Err(INVALID_TIME));
        assert_eq!(t("10:00+16"), Err(OFFSET_RANGE));
        assert_eq!(t("2023-02-29T10:00"), Err(INVALID_DATE));
        assert_eq!(t("１０:00"), Err("not a time"));
    }

    #[test]
    fn rfc3339_formatting_round_trips() {
        assert_eq!(micros_to_rfc3339(0), "2000-01-01T00:00:00Z");
        assert_eq!(micros_to_rfc3339(-1), "1999-12-31T23:59:59.999999Z");
        assert_eq!(micros_to_rfc3339(1_500_000), "2000-01-01T00:00:01.5Z");
        assert_eq!(micros_to_rfc3339(i64::MAX), "infinity");
        assert_eq!(micros_to_rfc3339(i64::MIN), "-infinity");
        for s in [
            "0001-01-01T00:00:00Z",
            "2024-02-29T12:34:56.789Z",
            "9999-12-31T23:59:59.999999Z",
            "1970-01-01T00:00:00.000001Z",
        ] {
            assert_eq!(micros_to_rfc3339(ts(s)), s);
        }
        // Far outside the parser's years it still formats without panicking.
        let _ = micros_to_rfc3339(i64::MAX - 1);
        let _ = micros_to_rfc3339(i64::MIN + 1);
    }

    use crate::encode::test_server::psql;

    /// Decodes psql's `\x...` bytea text into a big-endian integer.
    fn be_hex(line: &str) -> i64 {
        let hex = line.trim_start_matches("\\x");
        u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{line}: {e}")) as i64
    }

    #[test]
    fn timestamps_match_timestamptz_send_on_the_server() {
        let inputs = [
            "2000-01-01T00:00:00Z",
            "2024-06-15T12:34:56.789012Z",
            "2024-06-15T12:34:56.789012+05:30",
            "2024-06-15T12:34:56-08:00",
            "2024-06-15 12:34:56",
            "2024-06-15",
            "1970-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
            "2000-01-01 00:00:00.0000005",
            "2000-01-01 00:00:00.0000015",
            "2000-01-01 00:00:00.0000025",
            "2000-01-01 00:00:00.1234565",
            "2000-01-01 00:00:00.9999995",
            "2016-12-31T23:59:60Z",
            "2024-02-29T24:00:00Z",
            "1999-12-31T23:59:59.999999+15:59",
            "1900-03-01T00:00:00-0130",
            "infinity",
            "-infinity",
        ];
        let mut sql = String::from("SET TimeZone='UTC';");
        for s in inputs {
            sql.push_str(&format!("SELECT timestamptz_send('{s}'::timestamptz);"));
        }
        let Some(output) = psql(&sql) else {
            eprintln!("psql or server not available; skipping");
            return;
        };
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), inputs.len());
        for (s, line) in inputs.iter().zip(lines) {
            assert_eq!(ts(s), be_hex(line), "{s}");
        }
    }

    #[test]
    fn dates_and_times_match_the_server() {
        let dates = [
            "2000-01-01",
            "1999-12-31",
            "0001-01-01",
            "9999-12-31",
            "2024-02-29",
        ];
        let times = [
            "00:00",
            "01:02:03.5",
            "23:59:59.999999",
            "24:00:00",
            "12:30:60",
        ];
        let mut sql = String::new();
        for d in dates {
            sql.push_str(&format!("SELECT date_send('{d}'::date);"));
        }
        for t in times {
            sql.push_str(&format!("SELECT time_send('{t}'::time);"));
        }
        let Some(output) = psql(&sql) else {
            eprintln!("psql or server not available; skipping");
            return;
        };
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), dates.len() + times.len());
        for (d, line) in dates.iter().zip(&lines) {
            assert_eq!(
                parse_date_days(d).map(i64::from),
                Ok(be_hex(line) as i32 as i64),
                "{d}"
            );
        }
        for (t, line) in times.iter().zip(&lines[dates.len()..]) {
            assert_eq!(parse_time_micros(t), Ok(be_hex(line)), "{t}");
        }
    }
}
