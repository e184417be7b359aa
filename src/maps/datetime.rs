//! Python's `datetime.date`, `datetime.datetime` and `datetime.timedelta` as map
//! expressions use them: the proleptic Gregorian calendar, years 1 to 9999, microseconds,
//! and fixed UTC offsets (`datetime.timezone`). Parsing (`fromisoformat`, as in Python
//! 3.11), `isoformat`, `str`, `repr`, `strftime`, arithmetic and ordering follow Python.
//!
//! Local time is never guessed: what Python would compute in the machine's time zone (a
//! naive `timestamp()`, `now()` without a zone) is refused by the caller instead.

use std::cmp::Ordering;
use std::fmt;

/// Microseconds in a day.
const DAY_MICROS: i128 = 86_400_000_000;

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// 1 to 9999.
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
    /// 1 to the month's length.
    pub day: u32,
}

/// A date and time of day, naive or with a fixed UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// The date.
    pub date: Date,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
    /// 0 to 999999.
    pub micro: u32,
    /// The UTC offset in seconds, or `None` for a naive datetime.
    pub offset: Option<i32>,
}

/// A duration, normalised as Python keeps it: `0 <= seconds < 86400`, `0 <= micros < 10^6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Delta {
    /// Whole days (may be negative).
    pub days: i64,
    /// Seconds into the day.
    pub seconds: i64,
    /// Microseconds into the second.
    pub micros: i64,
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl Date {
    /// A date, checked as Python checks it.
    pub fn new(year: i64, month: i64, day: i64) -> Result<Date, String> {
        if !(1..=9999).contains(&year) {
            return Err(format!("ValueError: year {year} is out of range"));
        }
        let year = year as i32;
        if !(1..=12).contains(&month) {
            return Err("ValueError: month must be in 1..12".into());
        }
        let month = month as u32;
        if day < 1 || day > i64::from(days_in_month(year, month)) {
            return Err("ValueError: day is out of range for month".into());
        }
        Ok(Date {
            year,
            month,
            day: day as u32,
        })
    }

    /// Days since 0001-01-01 (which is day 1), Python's `toordinal()`.
    pub fn ordinal(self) -> i64 {
        let y = i64::from(self.year) - 1;
        let before_year = y * 365 + y / 4 - y / 100 + y / 400;
        let before_month: i64 = (1..self.month)
            .map(|m| i64::from(days_in_month(self.year, m)))
            .sum();
        before_year + before_month + i64::from(self.day)
    }

    /// The date of an ordinal.
    pub fn from_ordinal(ordinal: i64) -> Result<Date, String> {
        if !(1..=3_652_059).contains(&ordinal) {
            return Err("OverflowError: date value out of range".into());
        }
        // 400 years have 146097 days.
        let n = ordinal - 1;
        let (n400, n) = (n / 146_097, n % 146_097);
        let (n100, n) = (n / 36_524, n % 36_524);
        let (n4, n) = (n / 1_461, n % 1_461);
        let (n1, n) = (n / 365, n % 365);
        let mut year = n400 * 400 + n100 * 100 + n4 * 4 + n1 + 1;
        let mut day_of_year = n;
        if n1 == 4 || n100 == 4 {
            // The last day of a leap cycle.
            year -= 1;
            day_of_year = 365;
        }
        let year = year as i32;
        let mut month = 1;
        while day_of_year >= i64::from(days_in_month(year, month)) {
            day_of_year -= i64::from(days_in_month(year, month));
            month += 1;
        }
        Ok(Date {
            year,
            month,
            day: day_of_year as u32 + 1,
        })
    }

    /// Monday is 0.
    pub fn weekday(self) -> u32 {
        ((self.ordinal() + 6) % 7) as u32
    }

    /// `YYYY-MM-DD`.
    pub fn isoformat(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `datetime.date(2022, 1, 1)`.
    pub fn repr(self) -> String {
        format!("datetime.date({}, {}, {})", self.year, self.month, self.day)
    }

    /// `date.fromisoformat`: `YYYY-MM-DD` or `YYYYMMDD`.
    pub fn parse(text: &str) -> Result<Date, String> {
        let invalid = || format!("ValueError: Invalid isoformat string: '{text}'");
        let b = text.as_bytes();
        let (y, m, d) = match b.len() {
            10 if b[4] == b'-' && b[7] == b'-' => (&text[0..4], &text[5..7], &text[8..10]),
            8 => (&text[0..4], &text[4..6], &text[6..8]),
            _ => return Err(invalid()),
        };
        let num = |s: &str| -> Result<i64, String> {
            if s.bytes().all(|c| c.is_ascii_digit()) {
                s.parse().map_err(|_| invalid())
            } else {
                Err(invalid())
            }
        };
        Date::new(num(y)?, num(m)?, num(d)?)
    }

    /// `date + timedelta` (only the whole days count, as in Python).
    pub fn add_days(self, days: i64) -> Result<Date, String> {
        Date::from_ordinal(self.ordinal() + days)
    }
}

impl DateTime {
    /// Microseconds since 0001-01-01T00:00 of the wall-clock time (offset ignored).
    fn wall_micros(&self) -> i128 {
        let day = i128::from(self.date.ordinal() - 1);
        day * DAY_MICROS
            + (i128::from(self.hour) * 3600
                + i128::from(self.minute) * 60
                + i128::from(self.second))
                * 1_000_000
            + i128::from(self.micro)
    }

    /// The wall-clock time of `micros` since 0001-01-01T00:00, with `offset`.
    fn from_wall_micros(micros: i128, offset: Option<i32>) -> Result<DateTime, String> {
        let day = micros.div_euclid(DAY_MICROS);
        let rest = micros.rem_euclid(DAY_MICROS);
        let ordinal =
            i64::try_from(day + 1).map_err(|_| "OverflowError: date value out of range")?;
        let date = Date::from_ordinal(ordinal)?;
        let seconds = rest / 1_000_000;
        Ok(DateTime {
            date,
            hour: (seconds / 3600) as u32,
            minute: (seconds / 60 % 60) as u32,
            second: (seconds % 60) as u32,
            micro: (rest % 1_000_000) as u32,
            offset,
        })
    }

    /// Microseconds since the epoch of the instant (aware), or of the wall time (naive).
    pub fn utc_micros(&self) -> i128 {
        self.wall_micros() - i128::from(self.offset.unwrap_or(0)) * 1_000_000
    }

    /// A datetime from Unix epoch microseconds, in `offset` (UTC when `None`, naive).
    pub fn from_unix_micros(micros: i128, offset: Option<i32>) -> Result<DateTime, String> {
        let epoch = DateTime::epoch().wall_micros();
        let shifted = micros + epoch + i128::from(offset.unwrap_or(0)) * 1_000_000;
        DateTime::from_wall_micros(shifted, offset)
    }

    fn epoch() -> DateTime {
        DateTime {
            date: Date {
                year: 1970,
                month: 1,
                day: 1,
            },
            hour: 0,
            minute: 0,
            second: 0,
            micro: 0,
            offset: Some(0),
        }
    }

    /// `timestamp()` of an aware datetime: seconds since the epoch, as a float.
    pub fn timestamp(&self) -> f64 {
        let micros = self.utc_micros() - DateTime::epoch().wall_micros();
        micros as f64 / 1e6
    }

    /// `isoformat(sep)`.
    pub fn isoformat(&self, sep: char) -> String {
        let mut out = format!(
            "{}{sep}{:02}:{:02}:{:02}",
            self.date.isoformat(),
            self.hour,
            self.minute,
            self.second
        );
        if self.micro != 0 {
            out.push_str(&format!(".{:06}", self.micro));
        }
        if let Some(offset) = self.offset {
            out.push_str(&offset_text(offset));
        }
        out
    }

    /// `datetime.datetime(2022, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)`.
    pub fn repr(&self) -> String {
        let mut out = format!(
            "datetime.datetime({}, {}, {}, {}, {}",
            self.date.year, self.date.month, self.date.day, self.hour, self.minute
        );
        if self.second != 0 || self.micro != 0 {
            out.push_str(&format!(", {}", self.second));
        }
        if self.micro != 0 {
            out.push_str(&format!(", {}", self.micro));
        }
        match self.offset {
            None => {}
            Some(0) => out.push_str(", tzinfo=datetime.timezone.utc"),
            Some(offset) => out.push_str(&format!(
                ", tzinfo=datetime.timezone({})",
                Delta::from_micros(i128::from(offset) * 1_000_000).repr()
            )),
        }
        out.push(')');
        out
    }

    /// Python's `==`: aware datetimes compare instants; naive and aware are never equal.
    pub fn eq_instant(&self, other: &DateTime) -> bool {
        match (self.offset, other.offset) {
            (Some(_), Some(_)) | (None, None) => self.utc_micros() == other.utc_micros(),
            _ => false,
        }
    }

    /// Python's ordering: naive with aware is a TypeError.
    pub fn cmp_instant(&self, other: &DateTime) -> Result<Ordering, String> {
        match (self.offset, other.offset) {
            (Some(_), Some(_)) | (None, None) => Ok(self.utc_micros().cmp(&other.utc_micros())),
            _ => Err("TypeError: can't compare offset-naive and offset-aware datetimes".into()),
        }
    }

    /// `datetime - datetime`.
    pub fn minus(&self, other: &DateTime) -> Result<Delta, String> {
        match (self.offset, other.offset) {
            (Some(_), Some(_)) | (None, None) => {
                Ok(Delta::from_micros(self.utc_micros() - other.utc_micros()))
            }
            _ => Err("TypeError: can't subtract offset-naive and offset-aware datetimes".into()),
        }
    }

    /// `datetime + timedelta` (wall-clock arithmetic, offset kept).
    pub fn plus(&self, delta: &Delta) -> Result<DateTime, String> {
        DateTime::from_wall_micros(self.wall_micros() + delta.total_micros(), self.offset)
    }

    /// The same instant at another offset (`astimezone`).
    pub fn at_offset(&self, offset: i32) -> Result<DateTime, String> {
        let epoch = DateTime::epoch().wall_micros();
        DateTime::from_unix_micros(self.utc_micros() - epoch, Some(offset))
    }

    /// `datetime.fromisoformat` as in Python 3.11: a date, then optionally any one
    /// separator character and a time (`HH[:MM[:SS[.f]]]` or `HHMMSS`), then `Z` or an
    /// offset.
    pub fn parse(text: &str) -> Result<DateTime, String> {
        let invalid = || format!("ValueError: Invalid isoformat string: '{text}'");
        let date_len = if text.as_bytes().get(4) == Some(&b'-') {
            10
        } else {
            8
        };
        let date = Date::parse(text.get(..date_len).ok_or_else(invalid)?).map_err(|_| invalid())?;
        let mut dt = DateTime {
            date,
            hour: 0,
            minute: 0,
            second: 0,
            micro: 0,
            offset: None,
        };
        let rest = &text[date_len..];
        let mut chars = rest.chars();
        if chars.next().is_none() {
            return Ok(dt);
        }
        let time = chars.as_str();
        let zone_at = time.find(['Z', 'z', '+', '-']).unwrap_or(time.len());
        let (clock, zone) = time.split_at(zone_at);
        let (h, m, s, micro) = parse_clock(clock).ok_or_else(invalid)?;
        if h > 23 || m > 59 || s > 59 {
            return Err(invalid());
        }
        dt.hour = h;
        dt.minute = m;
        dt.second = s;
        dt.micro = micro;
        if !zone.is_empty() {
            dt.offset = Some(parse_offset(zone).ok_or_else(invalid)?);
        }
        Ok(dt)
    }

    /// The directives [`DateTime::strftime`] supports.
    pub const STRFTIME_DIRECTIVES: &'static str = "YymdeHIMSfpjaAwubhBFTzZ%";

    /// `strftime(format)`, for the directives every platform's C library shares.
    pub fn strftime(&self, format: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(directive) = chars.next() else {
                out.push('%');
                break;
            };
            let d = self.date;
            let hour12 = if self.hour % 12 == 0 {
                12
            } else {
                self.hour % 12
            };
            match directive {
                'Y' => out.push_str(&format!("{}", d.year)),
                'y' => out.push_str(&format!("{:02}", d.year % 100)),
                'm' => out.push_str(&format!("{:02}", d.month)),
                'd' => out.push_str(&format!("{:02}", d.day)),
                'e' => out.push_str(&format!("{:2}", d.day)),
                'H' => out.push_str(&format!("{:02}", self.hour)),
                'I' => out.push_str(&format!("{hour12:02}")),
                'M' => out.push_str(&format!("{:02}", self.minute)),
                'S' => out.push_str(&format!("{:02}", self.second)),
                'f' => out.push_str(&format!("{:06}", self.micro)),
                'p' => out.push_str(if self.hour < 12 { "AM" } else { "PM" }),
                'j' => out.push_str(&format!(
                    "{:03}",
                    d.ordinal() - Date::new(i64::from(d.year), 1, 1)?.ordinal() + 1
                )),
                'a' => out.push_str(&WEEKDAYS[d.weekday() as usize][..3]),
                'A' => out.push_str(WEEKDAYS[d.weekday() as usize]),
                'w' => out.push_str(&format!("{}", (d.weekday() + 1) % 7)),
                'u' => out.push_str(&format!("{}", d.weekday() + 1)),
                'b' | 'h' => out.push_str(&MONTHS[d.month as usize - 1][..3]),
                'B' => out.push_str(MONTHS[d.month as usize - 1]),
                'F' => out.push_str(&d.isoformat()),
                'T' => out.push_str(&format!(
                    "{:02}:{:02}:{:02}",
                    self.hour, self.minute, self.second
                )),
                'z' => {
                    if let Some(offset) = self.offset {
                        out.push_str(&offset_text(offset).replace(':', ""));
                    }
                }
                'Z' => match self.offset {
                    None => {}
                    Some(0) => out.push_str("UTC"),
                    Some(offset) => {
                        out.push_str(&format!("UTC{}", offset_text(offset)))
                    }
                },
                '%' => out.push('%'),
                other => {
                    return Err(format!(
                        "strftime directive %{other} is not supported (supported: %Y %y %m %d %e %H %I %M %S %f %p %j %a %A %w %u %b %B %F %T %z %Z %%)"
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// A UTC offset as `+HH:MM` (with `:SS` when it has seconds).
pub fn offset_text(offset: i32) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    if s == 0 {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    }
}

/// `HH`, `HH:MM`, `HH:MM:SS`, `HHMM`, `HHMMSS`, each with an optional `.`/`,` fraction
/// after the seconds (digits past the sixth are cut, as Python does).
fn parse_clock(clock: &str) -> Option<(u32, u32, u32, u32)> {
    let (main, fraction) = match clock.find(['.', ',']) {
        Some(at) => (&clock[..at], Some(&clock[at + 1..])),
        None => (clock, None),
    };
    let fields: Vec<&str> = if main.contains(':') {
        main.split(':').collect()
    } else {
        (0..main.len())
            .step_by(2)
            .map(|i| main.get(i..i + 2).unwrap_or(""))
            .collect()
    };
    if fields.is_empty() || fields.len() > 3 {
        return None;
    }
    let mut parts = [0u32; 3];
    for (slot, field) in parts.iter_mut().zip(&fields) {
        if field.len() != 2 || !field.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = field.parse().ok()?;
    }
    let micro = match fraction {
        None => 0,
        Some(f) if fields.len() == 3 && !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let digits: String = f.chars().take(6).collect();
            let scale = 10u32.pow(6 - digits.len() as u32);
            digits.parse::<u32>().ok()? * scale
        }
        Some(_) => return None,
    };
    Some((parts[0], parts[1], parts[2], micro))
}

/// `Z`, `+HH`, `+HHMM`, `+HH:MM`, `+HH:MM:SS` → seconds east of UTC.
fn parse_offset(zone: &str) -> Option<i32> {
    if zone.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m, s, micro) = parse_clock(&zone[1..])?;
    if micro != 0 || h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + s) as i32)
}

impl Delta {
    /// A duration of `micros` microseconds, normalised.
    pub fn from_micros(micros: i128) -> Delta {
        let days = micros.div_euclid(DAY_MICROS);
        let rest = micros.rem_euclid(DAY_MICROS);
        Delta {
            days: days as i64,
            seconds: (rest / 1_000_000) as i64,
            micros: (rest % 1_000_000) as i64,
        }
    }

    /// The duration in microseconds.
    pub fn total_micros(&self) -> i128 {
        i128::from(self.days) * DAY_MICROS
            + i128::from(self.seconds) * 1_000_000
            + i128::from(self.micros)
    }

    /// A duration within Python's bounds (±999999999 days).
    pub fn checked(micros: i128) -> Result<Delta, String> {
        let delta = Delta::from_micros(micros);
        if delta.days.abs() > 999_999_999 {
            return Err(format!(
                "OverflowError: days={}; must have magnitude <= 999999999",
                delta.days
            ));
        }
        Ok(delta)
    }

    /// Zero length.
    pub fn is_zero(&self) -> bool {
        self.days == 0 && self.seconds == 0 && self.micros == 0
    }

    /// `datetime.timedelta(days=1, seconds=5)`.
    pub fn repr(&self) -> String {
        let mut parts = Vec::new();
        if self.days != 0 {
            parts.push(format!("days={}", self.days));
        }
        if self.seconds != 0 {
            parts.push(format!("seconds={}", self.seconds));
        }
        if self.micros != 0 {
            parts.push(format!("microseconds={}", self.micros));
        }
        if parts.is_empty() {
            parts.push("0".into());
        }
        format!("datetime.timedelta({})", parts.join(", "))
    }
}

impl fmt::Display for Delta {
    /// Python's `str(timedelta)`: `1 day, 2:03:04.000005`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.days != 0 {
            let plural = if self.days.abs() != 1 { "s" } else { "" };
            write!(f, "{} day{plural}, ", self.days)?;
        }
        write!(
            f,
            "{}:{:02}:{:02}",
            self.seconds / 3600,
            self.seconds / 60 % 60,
            self.seconds % 60
        )?;
        if self.micros != 0 {
            write!(f, ".{:06}", self.micros)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_round_trip_and_weekdays_are_right() {
        for (y, m, d) in [
            (1, 1, 1),
            (1970, 1, 1),
            (2000, 2, 29),
            (2024, 12, 31),
            (9999, 12, 31),
        ] {
            let date = Date::new(y, m, d).unwrap();
            assert_eq!(Date::from_ordinal(date.ordinal()).unwrap(), date);
        }
        assert_eq!(Date::new(1970, 1, 1).unwrap().ordinal(), 719_163);
        // 2022-01-01 was a Saturday.
        assert_eq!(Date::new(2022, 1, 1).unwrap().weekday(), 5);
        assert!(Date::new(2023, 2, 29).is_err());
    }

    #[test]
    fn fromisoformat_is_python_311s() {
        let dt = DateTime::parse("2022-01-01T00:00:00Z").unwrap();
        assert_eq!(dt.isoformat('T'), "2022-01-01T00:00:00+00:00");
        assert_eq!(dt.timestamp(), 1_640_995_200.0);
        let dt = DateTime::parse("2011-11-04 00:05:23.283+05:30").unwrap();
        assert_eq!(dt.isoformat('T'), "2011-11-04T00:05:23.283000+05:30");
        assert_eq!(
            DateTime::parse("20111104T000523").unwrap().isoformat(' '),
            "2011-11-04 00:05:23"
        );
        assert_eq!(
            DateTime::parse("2011-11-04T00:05:23.1234567")
                .unwrap()
                .micro,
            123_456
        );
        assert_eq!(
            DateTime::parse("2022-01-01").unwrap().isoformat('T'),
            "2022-01-01T00:00:00"
        );
        for bad in [
            "2022-13-01",
            "2022-01-01T25:00",
            "not a date",
            "2022-01-01T10:00+5",
        ] {
            assert!(DateTime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deltas_print_and_add_as_in_python() {
        assert_eq!(
            Delta::from_micros(86_400_000_000).to_string(),
            "1 day, 0:00:00"
        );
        assert_eq!(
            Delta::from_micros(-1_000_000).to_string(),
            "-1 day, 23:59:59"
        );
        assert_eq!(
            Delta::from_micros(3_723_000_005).to_string(),
            "1:02:03.000005"
        );
        assert_eq!(
            Delta::from_micros(-1).repr(),
            "datetime.timedelta(days=-1, seconds=86399, microseconds=999999)"
        );
        let dt = DateTime::parse("2024-02-28T23:00:00+01:00").unwrap();
        let later = dt.plus(&Delta::from_micros(2 * 3_600_000_000)).unwrap();
        assert_eq!(later.isoformat('T'), "2024-02-29T01:00:00+01:00");
        assert_eq!(
            later.at_offset(0).unwrap().isoformat('T'),
            "2024-02-29T00:00:00+00:00"
        );
        assert_eq!(
            dt.strftime("%Y/%m/%d %H:%M %a %b %j %z").unwrap(),
            "2024/02/28 23:00 Wed Feb 059 +0100"
        );
    }
}
