//! `datetime.datetime.strptime(text, format)` as Python's `_strptime` reads dates: each
//! directive matches what Python's regular expression for it matches (alternatives tried in
//! Python's order, with backtracking), letters case-insensitively, whitespace in the format
//! as one or more whitespace characters, and the whole text must be used. Fields not given
//! default to 1900-01-01 00:00:00; `%z` makes the result aware.

use super::datetime::{Date, DateTime};

/// The directives `strptime` supports here.
pub const DIRECTIVES: &str = "dmYyHIMSfpbBaAjz%";

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// One piece of a format.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Piece {
    Literal(char),
    Space,
    Directive(char),
}

/// The first directive of `format` that `strptime` does not support, if any.
pub fn unsupported_directive(format: &str, supported: &str) -> Option<char> {
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some(d) if supported.contains(d) => {}
                Some(d) => return Some(d),
                None => return Some('%'),
            }
        }
    }
    None
}

fn pieces(format: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => match chars.next() {
                Some(d) if DIRECTIVES.contains(d) => out.push(Piece::Directive(d)),
                Some(d) => {
                    return Err(format!(
                        "strptime directive %{d} is not supported (supported: %d %m %Y %y %H %I %M %S %f %p %b %B %a %A %j %z %%)"
                    ))
                }
                None => return Err("ValueError: stray % in format".into()),
            },
            c if c.is_whitespace() => {
                if out.last() != Some(&Piece::Space) {
                    out.push(Piece::Space);
                }
            }
            c => out.push(Piece::Literal(c)),
        }
    }
    Ok(out)
}

/// The candidate lengths (in characters, longest-preferred as Python's alternations are)
/// of a numeric directive at the start of `text`, with their values.
fn numbers(text: &[char], directive: char) -> Vec<(usize, i64)> {
    // (min digits, max digits, range) per directive; Python's alternations try the
    // two-digit forms before the one-digit ones.
    let (min, max, low, high) = match directive {
        'd' => (1, 2, 1, 31),
        'm' | 'I' => (1, 2, 1, 12),
        'Y' => (4, 4, 0, 9999),
        'y' => (2, 2, 0, 99),
        'H' => (1, 2, 0, 23),
        'M' => (1, 2, 0, 59),
        'S' => (1, 2, 0, 61),
        'f' => (1, 6, 0, 999_999),
        'j' => (1, 3, 1, 366),
        _ => return Vec::new(),
    };
    let digits = text
        .iter()
        .take(max)
        .take_while(|c| c.is_ascii_digit())
        .count();
    let mut out = Vec::new();
    for len in (min..=digits).rev() {
        let value: i64 = text[..len].iter().collect::<String>().parse().unwrap_or(-1);
        let value = if directive == 'f' {
            value * 10i64.pow(6 - len as u32)
        } else {
            value
        };
        if (low..=high).contains(&value) {
            out.push((len, value));
        }
    }
    // `%d` also takes a space-padded day (" 5").
    if directive == 'd'
        && text.first() == Some(&' ')
        && text.get(1).is_some_and(|c| ('1'..='9').contains(c))
    {
        out.push((2, i64::from(text[1].to_digit(10).unwrap_or(0))));
    }
    out
}

/// Fields read so far.
#[derive(Debug, Clone, Copy, Default)]
struct Fields {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    hour: i64,
    hour12: Option<i64>,
    pm: Option<bool>,
    minute: i64,
    second: i64,
    micro: i64,
    day_of_year: Option<i64>,
    offset: Option<i32>,
}

/// Names (months, weekdays, AM/PM) matching at the start of `text`, case-insensitively.
fn names(text: &[char], directive: char) -> Vec<(usize, i64)> {
    let lower: String = text.iter().take(9).collect::<String>().to_lowercase();
    let list: Vec<(String, i64)> = match directive {
        'B' => MONTHS
            .iter()
            .enumerate()
            .map(|(i, m)| (m.to_string(), i as i64 + 1))
            .collect(),
        'b' => MONTHS
            .iter()
            .enumerate()
            .map(|(i, m)| (m[..3].to_string(), i as i64 + 1))
            .collect(),
        'A' => WEEKDAYS
            .iter()
            .enumerate()
            .map(|(i, d)| (d.to_string(), i as i64))
            .collect(),
        'a' => WEEKDAYS
            .iter()
            .enumerate()
            .map(|(i, d)| (d[..3].to_string(), i as i64))
            .collect(),
        'p' => vec![("am".into(), 0), ("pm".into(), 1)],
        _ => Vec::new(),
    };
    list.into_iter()
        .filter(|(name, _)| lower.starts_with(name.as_str()))
        .map(|(name, value)| (name.chars().count(), value))
        .collect()
}

/// `%z`: `Z`, or `±HH[:]MM[[:]SS]`, at the start of `text`: (length, seconds east).
fn zone(text: &[char]) -> Option<(usize, i32)> {
    if text.first() == Some(&'Z') {
        return Some((1, 0));
    }
    let sign = match text.first()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let s: String = text.iter().take(9).collect();
    let digits = |at: usize| {
        s.get(at..at + 2)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
    };
    let h: i32 = digits(1)?.parse().ok()?;
    let colon = s.get(3..4) == Some(":");
    let m_at = if colon { 4 } else { 3 };
    let m: i32 = digits(m_at)?.parse().ok()?;
    if m > 59 {
        return None;
    }
    let mut len = m_at + 2;
    let mut seconds = 0;
    let s_at = if colon { len + 1 } else { len };
    if (!colon || s.get(len..len + 1) == Some(":")) && digits(s_at).is_some() {
        seconds = digits(s_at)?.parse().ok()?;
        len = s_at + 2;
    }
    Some((len, sign * (h * 3600 + m * 60 + seconds)))
}

/// Most matching steps one `strptime` may take (backtracking over ambiguous directives such
/// as `%d%d%d...` could otherwise take exponential time).
const MAX_STEPS: usize = 100_000;

/// Matches `pieces` against `text` from the start, trying each directive's candidates in
/// Python's order; the fields of the first full match.
fn matching(pieces: &[Piece], text: &[char], fields: Fields, steps: &mut usize) -> Option<Fields> {
    *steps += 1;
    if *steps > MAX_STEPS {
        return None;
    }
    let Some((piece, rest)) = pieces.split_first() else {
        return text.is_empty().then_some(fields);
    };
    match *piece {
        Piece::Space => {
            let n = text.iter().take_while(|c| c.is_whitespace()).count();
            (n > 0)
                .then(|| matching(rest, &text[n..], fields, steps))
                .flatten()
        }
        Piece::Literal(c) | Piece::Directive(c @ '%') => {
            let first = text.first()?;
            (first.to_lowercase().eq(c.to_lowercase()))
                .then(|| matching(rest, &text[1..], fields, steps))
                .flatten()
        }
        Piece::Directive('z') => {
            let (len, offset) = zone(text)?;
            matching(
                rest,
                &text[len..],
                Fields {
                    offset: Some(offset),
                    ..fields
                },
                steps,
            )
        }
        Piece::Directive(d @ ('b' | 'B' | 'a' | 'A' | 'p')) => {
            names(text, d).into_iter().find_map(|(len, value)| {
                let mut f = fields;
                match d {
                    'b' | 'B' => f.month = Some(value),
                    'p' => f.pm = Some(value == 1),
                    _ => {}
                }
                matching(rest, &text[len..], f, steps)
            })
        }
        Piece::Directive(d) => numbers(text, d).into_iter().find_map(|(len, value)| {
            let mut f = fields;
            match d {
                'd' => f.day = Some(value),
                'm' => f.month = Some(value),
                'Y' => f.year = Some(value),
                'y' => {
                    f.year = Some(if value <= 68 {
                        2000 + value
                    } else {
                        1900 + value
                    })
                }
                'H' => f.hour = value,
                'I' => f.hour12 = Some(value),
                'M' => f.minute = value,
                'S' => f.second = value,
                'f' => f.micro = value,
                _ => f.day_of_year = Some(value),
            }
            matching(rest, &text[len..], f, steps)
        }),
    }
}

/// `datetime.datetime.strptime(text, format)`.
pub fn strptime(text: &str, format: &str) -> Result<DateTime, String> {
    let pieces = pieces(format)?;
    let chars: Vec<char> = text.chars().collect();
    let mismatch = || format!("ValueError: time data '{text}' does not match format '{format}'");
    let mut steps = 0;
    let f = matching(&pieces, &chars, Fields::default(), &mut steps).ok_or_else(mismatch)?;
    let year = f.year.unwrap_or(1900);
    let date = match (f.day_of_year, f.month, f.day) {
        (Some(doy), None, None) => {
            let first = Date::new(year, 1, 1)?;
            let date = Date::from_ordinal(first.ordinal() + doy - 1)?;
            if date.year as i64 != year {
                return Err("ValueError: day of year out of range".into());
            }
            date
        }
        (_, month, day) => Date::new(year, month.unwrap_or(1), day.unwrap_or(1))?,
    };
    let hour = match (f.hour12, f.pm) {
        (Some(h), Some(true)) => h % 12 + 12,
        (Some(h), _) => h % 12,
        (None, _) => f.hour,
    };
    if f.second > 59 {
        return Err("ValueError: second must be in 0..59".into());
    }
    Ok(DateTime {
        date,
        hour: hour as u32,
        minute: f.minute as u32,
        second: f.second as u32,
        micro: f.micro as u32,
        offset: f.offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str, format: &str) -> String {
        match strptime(text, format) {
            Ok(dt) => dt.isoformat('T'),
            Err(e) => e,
        }
    }

    #[test]
    fn strptime_reads_what_python_reads() {
        assert_eq!(parsed("01/05/2024", "%m/%d/%Y"), "2024-01-05T00:00:00");
        assert_eq!(parsed("1/5/24", "%m/%d/%y"), "2024-01-05T00:00:00");
        assert_eq!(parsed("20240105", "%Y%m%d"), "2024-01-05T00:00:00");
        assert_eq!(
            parsed("5 Jan 2024 3:04:05 PM", "%d %b %Y %I:%M:%S %p"),
            "2024-01-05T15:04:05"
        );
        assert_eq!(parsed("MARCH 3,  1999", "%B %d, %Y"), "1999-03-03T00:00:00");
        assert_eq!(
            parsed("2024-01-05T10:00:00.25+0530", "%Y-%m-%dT%H:%M:%S.%f%z"),
            "2024-01-05T10:00:00.250000+05:30"
        );
        assert_eq!(
            parsed("2024-01-05 10:00Z", "%Y-%m-%d %H:%M%z"),
            "2024-01-05T10:00:00+00:00"
        );
        assert_eq!(parsed("2024 060", "%Y %j"), "2024-02-29T00:00:00");
        assert_eq!(parsed("12 AM", "%I %p"), "1900-01-01T00:00:00");
        assert_eq!(
            parsed("2024-13-01", "%Y-%m-%d"),
            "ValueError: time data '2024-13-01' does not match format '%Y-%m-%d'"
        );
        assert!(parsed("2023-02-29", "%Y-%m-%d").contains("day is out of range"));
        assert!(parsed("2024-01-05x", "%Y-%m-%d").contains("does not match"));
        assert!(parsed("x", "%Q").contains("%Q is not supported"));
        assert_eq!(unsupported_directive("%Y-%m %c", DIRECTIVES), Some('c'));
        // Ambiguous formats end: no exponential backtracking.
        assert!(parsed(&("1".repeat(60) + "x"), &"%d".repeat(40)).contains("does not match"));
    }
}
