//! The `datetime` module of map expressions: its classes and functions
//! (`datetime.datetime(...)`, `datetime.datetime.fromisoformat(...)`, `datetime.timedelta(...)`,
//! `datetime.timezone.utc`, ...) and the attributes and methods of dates, datetimes and
//! durations, on top of [`super::datetime`].
//!
//! What would depend on the machine's time zone in Python (`now()` without a zone, the
//! `timestamp()` of a naive datetime, `astimezone()` without a zone) is refused with a
//! message saying how to name the zone.

use std::time::{SystemTime, UNIX_EPOCH};

use super::args::Args;
use super::datetime::{Date, DateTime, Delta};
use super::value::{small_int, Val};

type R = Result<Val, String>;

fn int(value: Option<&Val>, default: Option<i64>, what: &str) -> Result<i64, String> {
    match value {
        None => default.ok_or_else(|| format!("TypeError: missing required argument '{what}'")),
        Some(v) => small_int(v).ok_or_else(|| {
            format!(
                "TypeError: '{}' object cannot be interpreted as an integer ({what})",
                v.type_name()
            )
        }),
    }
}

fn zone(value: Option<&Val>) -> Result<Option<i32>, String> {
    match value {
        None | Some(Val::None) => Ok(None),
        Some(Val::Zone(offset)) => Ok(Some(*offset)),
        Some(other) => Err(format!(
            "TypeError: tzinfo argument must be None or a datetime.timezone, not '{}'",
            other.type_name()
        )),
    }
}

fn local_time_refused(what: &str) -> String {
    format!(
        "{what} would use the machine's local time zone, which is not supported: name the zone, e.g. datetime.timezone.utc"
    )
}

/// Microseconds since the epoch, now.
fn now_micros() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i128)
}

/// A Unix timestamp argument in microseconds (rounded half to even, as Python does).
fn timestamp_micros(value: Option<&Val>) -> Result<i128, String> {
    match value {
        Some(Val::Int(n)) => i128::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(1_000_000))
            .ok_or_else(|| "OverflowError: timestamp out of range".into()),
        Some(Val::Bool(b)) => Ok(i128::from(*b) * 1_000_000),
        Some(Val::Float(f)) if f.is_finite() => Ok((f * 1e6).round_ties_even() as i128),
        Some(Val::Dec(d)) => Ok((d.to_f64() * 1e6).round_ties_even() as i128),
        Some(other) => Err(format!(
            "TypeError: a timestamp must be a number, not '{}'",
            other.type_name()
        )),
        None => Err("TypeError: missing required argument 'timestamp'".into()),
    }
}

fn text_arg<'a>(
    args: &'a Args,
    index: usize,
    name: &str,
    function: &str,
) -> Result<&'a str, String> {
    match args.get(index, name) {
        Some(Val::Str(s)) => Ok(s),
        other => Err(format!(
            "TypeError: {function}: argument must be str, not {}",
            other.map_or("NoneType", Val::type_name)
        )),
    }
}

/// Calls a member of the `datetime` module by its dotted path.
// long function: one arm per member of the module, read as a table.
pub fn call_member(path: &str, args: Args) -> R {
    match path {
        "datetime.datetime" => {
            args.count("datetime", 3, 8)?;
            let date = Date::new(
                int(args.get(0, "year"), None, "year")?,
                int(args.get(1, "month"), None, "month")?,
                int(args.get(2, "day"), None, "day")?,
            )?;
            let time = [
                ("hour", 23),
                ("minute", 59),
                ("second", 59),
                ("microsecond", 999_999),
            ];
            let mut parts = [0u32; 4];
            for (i, (name, max)) in time.iter().enumerate() {
                let value = int(args.get(3 + i, name), Some(0), name)?;
                if !(0..=*max).contains(&value) {
                    return Err(format!("ValueError: {name} must be in 0..{max}"));
                }
                parts[i] = value as u32;
            }
            Ok(Val::DateTime(DateTime {
                date,
                hour: parts[0],
                minute: parts[1],
                second: parts[2],
                micro: parts[3],
                offset: zone(args.get(7, "tzinfo"))?,
            }))
        }
        "datetime.date" => {
            args.count("date", 3, 3)?;
            Date::new(
                int(args.get(0, "year"), None, "year")?,
                int(args.get(1, "month"), None, "month")?,
                int(args.get(2, "day"), None, "day")?,
            )
            .map(Val::Date)
        }
        "datetime.timedelta" => timedelta(&args),
        "datetime.timezone" => {
            args.count("timezone", 1, 1)?;
            match args.get(0, "offset") {
                Some(Val::Delta(d)) => {
                    let micros = d.total_micros();
                    if micros % 1_000_000 != 0 {
                        return Err("time zone offsets with microseconds are not supported".into());
                    }
                    if micros.abs() >= 86_400_000_000 {
                        return Err("ValueError: offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)".into());
                    }
                    Ok(Val::Zone((micros / 1_000_000) as i32))
                }
                other => Err(format!(
                    "TypeError: timezone() argument 1 must be datetime.timedelta, not {}",
                    other.map_or("NoneType", Val::type_name)
                )),
            }
        }
        "datetime.datetime.fromisoformat" => {
            args.count("fromisoformat", 1, 1)?;
            DateTime::parse(text_arg(&args, 0, "date_string", "fromisoformat")?).map(Val::DateTime)
        }
        "datetime.datetime.strptime" => {
            args.count("strptime", 2, 2)?;
            let text = text_arg(&args, 0, "date_string", "strptime")?;
            let format = text_arg(&args, 1, "format", "strptime")?;
            super::strptime::strptime(text, format).map(Val::DateTime)
        }
        "datetime.date.fromisoformat" => {
            args.count("fromisoformat", 1, 1)?;
            Date::parse(text_arg(&args, 0, "date_string", "fromisoformat")?).map(Val::Date)
        }
        "datetime.datetime.now" => {
            args.count("now", 0, 1)?;
            match zone(args.get(0, "tz"))? {
                Some(offset) => {
                    DateTime::from_unix_micros(now_micros(), Some(offset)).map(Val::DateTime)
                }
                None => Err(local_time_refused("datetime.datetime.now() without a zone")),
            }
        }
        "datetime.datetime.utcnow" => {
            args.count("utcnow", 0, 0)?;
            DateTime::from_unix_micros(now_micros(), None).map(Val::DateTime)
        }
        "datetime.datetime.fromtimestamp" => {
            args.count("fromtimestamp", 1, 2)?;
            let micros = timestamp_micros(args.get(0, "timestamp"))?;
            match zone(args.get(1, "tz"))? {
                Some(offset) => DateTime::from_unix_micros(micros, Some(offset)).map(Val::DateTime),
                None => Err(local_time_refused(
                    "datetime.datetime.fromtimestamp() without a zone",
                )),
            }
        }
        "datetime.datetime.utcfromtimestamp" => {
            args.count("utcfromtimestamp", 1, 1)?;
            let micros = timestamp_micros(args.get(0, "timestamp"))?;
            DateTime::from_unix_micros(micros, None).map(Val::DateTime)
        }
        other => Err(format!("'{other}' is not callable")),
    }
}

/// `datetime.timedelta(days, seconds, microseconds, milliseconds, minutes, hours, weeks)`.
fn timedelta(args: &Args) -> R {
    args.count("timedelta", 0, 7)?;
    const UNITS: [(&str, i128); 7] = [
        ("days", 86_400_000_000),
        ("seconds", 1_000_000),
        ("microseconds", 1),
        ("milliseconds", 1_000),
        ("minutes", 60_000_000),
        ("hours", 3_600_000_000),
        ("weeks", 604_800_000_000),
    ];
    let mut exact: i128 = 0;
    let mut fractional = 0.0f64;
    for (i, (name, micros)) in UNITS.iter().enumerate() {
        match args.get(i, name) {
            None => {}
            Some(Val::Int(n)) => {
                exact = i128::try_from(n)
                    .ok()
                    .and_then(|n| n.checked_mul(*micros))
                    .and_then(|m| exact.checked_add(m))
                    .ok_or("OverflowError: timedelta too large")?;
            }
            Some(Val::Bool(b)) => exact += i128::from(*b) * micros,
            Some(Val::Float(f)) if f.is_finite() => fractional += f * *micros as f64,
            Some(other) => {
                return Err(format!(
                    "TypeError: unsupported type for timedelta {name} component: {}",
                    other.type_name()
                ))
            }
        }
    }
    let total = exact
        .checked_add(fractional.round_ties_even() as i128)
        .ok_or("OverflowError: timedelta too large")?;
    Delta::checked(total).map(Val::Delta)
}

/// An attribute of a date, datetime or duration (not a method).
pub fn attribute(value: &Val, name: &str) -> Option<Val> {
    let int = |n: i64| Some(Val::int(n));
    match (value, name) {
        (Val::Date(d), "year") => int(i64::from(d.year)),
        (Val::Date(d), "month") => int(i64::from(d.month)),
        (Val::Date(d), "day") => int(i64::from(d.day)),
        (Val::DateTime(dt), "year" | "month" | "day") => attribute(&Val::Date(dt.date), name),
        (Val::DateTime(dt), "hour") => int(i64::from(dt.hour)),
        (Val::DateTime(dt), "minute") => int(i64::from(dt.minute)),
        (Val::DateTime(dt), "second") => int(i64::from(dt.second)),
        (Val::DateTime(dt), "microsecond") => int(i64::from(dt.micro)),
        (Val::DateTime(dt), "tzinfo") => Some(dt.offset.map_or(Val::None, Val::Zone)),
        (Val::Delta(d), "days") => int(d.days),
        (Val::Delta(d), "seconds") => int(d.seconds),
        (Val::Delta(d), "microseconds") => int(d.micros),
        _ => None,
    }
}

/// Calls a method of a date, datetime or duration.
pub fn call_method(receiver: &Val, name: &str, args: Args) -> R {
    match (receiver, name) {
        (Val::DateTime(dt), "date") => {
            args.count("date", 0, 0)?;
            Ok(Val::Date(dt.date))
        }
        (Val::DateTime(dt), "isoformat") => {
            args.count("isoformat", 0, 1)?;
            let sep = match args.get(0, "sep") {
                None => 'T',
                Some(Val::Str(s)) if s.chars().count() == 1 => s.chars().next().unwrap_or('T'),
                Some(_) => {
                    return Err(
                        "TypeError: isoformat() argument 1 must be a unicode character".into(),
                    )
                }
            };
            Ok(Val::Str(dt.isoformat(sep)))
        }
        (Val::Date(d), "isoformat") => {
            args.count("isoformat", 0, 0)?;
            Ok(Val::Str(d.isoformat()))
        }
        (Val::DateTime(dt), "strftime") => {
            args.count("strftime", 1, 1)?;
            dt.strftime(text_arg(&args, 0, "format", "strftime")?)
                .map(Val::Str)
        }
        (Val::Date(d), "strftime") => {
            args.count("strftime", 1, 1)?;
            midnight(*d)
                .strftime(text_arg(&args, 0, "format", "strftime")?)
                .map(Val::Str)
        }
        (Val::DateTime(dt), "timestamp") => {
            args.count("timestamp", 0, 0)?;
            if dt.offset.is_none() {
                return Err(local_time_refused(
                    "timestamp() of a naive datetime (add a zone with .replace(tzinfo=datetime.timezone.utc))",
                ));
            }
            Ok(Val::Float(dt.timestamp()))
        }
        (
            Val::DateTime(DateTime { date, .. }) | Val::Date(date),
            "weekday" | "isoweekday" | "toordinal",
        ) => {
            args.count(name, 0, 0)?;
            Ok(Val::int(match name {
                "weekday" => i64::from(date.weekday()),
                "isoweekday" => i64::from(date.weekday()) + 1,
                _ => date.ordinal(),
            }))
        }
        (Val::DateTime(_) | Val::Date(_), "replace") => replace(receiver, &args),
        (Val::DateTime(dt), "astimezone") => {
            args.count("astimezone", 0, 1)?;
            match (dt.offset, zone(args.get(0, "tz"))?) {
                (Some(_), Some(offset)) => dt.at_offset(offset).map(Val::DateTime),
                _ => Err(local_time_refused(
                    "astimezone() of a naive datetime or without a zone",
                )),
            }
        }
        (Val::DateTime(dt), "utcoffset") => {
            args.count("utcoffset", 0, 0)?;
            Ok(dt.offset.map_or(Val::None, |o| {
                Val::Delta(Delta::from_micros(i128::from(o) * 1_000_000))
            }))
        }
        (Val::Delta(d), "total_seconds") => {
            args.count("total_seconds", 0, 0)?;
            Ok(Val::Float(d.total_micros() as f64 / 1e6))
        }
        _ => Err(super::builtins::no_attribute(receiver, name)),
    }
}

fn midnight(date: Date) -> DateTime {
    DateTime {
        date,
        hour: 0,
        minute: 0,
        second: 0,
        micro: 0,
        offset: None,
    }
}

/// `date.replace(year, month, day)` and `datetime.replace(..., tzinfo)`.
fn replace(receiver: &Val, args: &Args) -> R {
    let (date, mut dt) = match receiver {
        Val::Date(d) => (*d, None),
        Val::DateTime(dt) => (dt.date, Some(*dt)),
        _ => return Err("TypeError: replace() of a non-date".into()),
    };
    let max = if dt.is_some() { 8 } else { 3 };
    args.count("replace", 0, max)?;
    let field = |i: usize, name: &str, current: i64| int(args.get(i, name), Some(current), name);
    let date = Date::new(
        field(0, "year", i64::from(date.year))?,
        field(1, "month", i64::from(date.month))?,
        field(2, "day", i64::from(date.day))?,
    )?;
    let Some(dt) = dt.as_mut() else {
        return Ok(Val::Date(date));
    };
    dt.date = date;
    let limits = [
        ("hour", 23),
        ("minute", 59),
        ("second", 59),
        ("microsecond", 999_999),
    ];
    let current = [dt.hour, dt.minute, dt.second, dt.micro];
    let mut parts = [0u32; 4];
    for (i, (name, max)) in limits.iter().enumerate() {
        let value = field(3 + i, name, i64::from(current[i]))?;
        if !(0..=*max).contains(&value) {
            return Err(format!("ValueError: {name} must be in 0..{max}"));
        }
        parts[i] = value as u32;
    }
    [dt.hour, dt.minute, dt.second, dt.micro] = parts;
    if let Some(tz) = args.get(7, "tzinfo") {
        dt.offset = zone(Some(tz))?;
    }
    Ok(Val::DateTime(*dt))
}

/// A supported constant member of the module (`datetime.timezone.utc`, `MINYEAR`).
pub fn constant(path: &str) -> Option<Val> {
    match path {
        "datetime.timezone.utc" | "datetime.UTC" => Some(Val::Zone(0)),
        "datetime.MINYEAR" => Some(Val::int(1)),
        "datetime.MAXYEAR" => Some(Val::int(9999)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::value::py_repr;

    fn member(path: &str, positional: Vec<Val>, keywords: Vec<(&str, Val)>) -> String {
        let args = Args {
            positional,
            keywords: keywords
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        };
        match call_member(path, args) {
            Ok(v) => py_repr(&v),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn constructors_and_parsers() {
        assert_eq!(
            member(
                "datetime.datetime",
                vec![Val::int(2022), Val::int(1), Val::int(2)],
                vec![("tzinfo", Val::Zone(0))]
            ),
            "datetime.datetime(2022, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)"
        );
        assert_eq!(
            member(
                "datetime.timedelta",
                vec![],
                vec![("hours", Val::Float(1.5)), ("days", Val::int(1))]
            ),
            "datetime.timedelta(days=1, seconds=5400)"
        );
        assert_eq!(
            member(
                "datetime.date.fromisoformat",
                vec![Val::Str("2019-01-01".into())],
                vec![]
            ),
            "datetime.date(2019, 1, 1)"
        );
        assert_eq!(
            member(
                "datetime.datetime.utcfromtimestamp",
                vec![Val::int(1_640_995_200)],
                vec![]
            ),
            "datetime.datetime(2022, 1, 1, 0, 0)"
        );
        assert!(member("datetime.datetime.now", vec![], vec![]).contains("local time zone"));
        assert!(member(
            "datetime.date",
            vec![Val::Float(2022.0), Val::int(1), Val::int(1)],
            vec![]
        )
        .contains("cannot be interpreted as an integer"));
    }

    #[test]
    fn methods_and_attributes() {
        let dt = Val::DateTime(DateTime::parse("2022-01-01T10:30:00+02:00").unwrap());
        let call = |name: &str, args: Vec<Val>| match call_method(&dt, name, Args::new(args)) {
            Ok(v) => py_repr(&v),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(call("date", vec![]), "datetime.date(2022, 1, 1)");
        assert_eq!(call("timestamp", vec![]), "1641025800.0");
        assert_eq!(
            call("isoformat", vec![Val::Str(" ".into())]),
            "'2022-01-01 10:30:00+02:00'"
        );
        assert_eq!(
            call("astimezone", vec![Val::Zone(0)]),
            "datetime.datetime(2022, 1, 1, 8, 30, tzinfo=datetime.timezone.utc)"
        );
        assert_eq!(call("weekday", vec![]), "5");
        assert_eq!(py_repr(&attribute(&dt, "hour").unwrap()), "10");
        let naive = Val::DateTime(DateTime::parse("2022-01-01").unwrap());
        assert!(call_method(&naive, "timestamp", Args::new(vec![]))
            .unwrap_err()
            .contains("local time zone"));
    }
}
