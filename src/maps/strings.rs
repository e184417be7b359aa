//! The methods of `str` that map expressions may call, with Python's results: indexes count
//! characters (not bytes), `split()` without a separator splits on runs of whitespace,
//! `strip()` strips Python's whitespace, `title()` and `capitalize()` case as Python does.

use super::args::{iterate, Args};
use super::ops::MAX_LENGTH;
use super::value::{small_int, Val};

type R = Result<Val, String>;

/// Python's `str.isspace()` for one character.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn string_arg<'a>(
    args: &'a Args,
    index: usize,
    name: &str,
    method: &str,
) -> Result<Option<&'a str>, String> {
    match args.get(index, name) {
        None | Some(Val::None) => Ok(None),
        Some(Val::Str(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "TypeError: {method}() argument must be str or None, not {}",
            other.type_name()
        )),
    }
}

fn int_arg(args: &Args, index: usize, name: &str, default: i64) -> Result<i64, String> {
    match args.get(index, name) {
        None | Some(Val::None) => Ok(default),
        Some(v) => small_int(v).ok_or_else(|| {
            format!(
                "TypeError: '{}' object cannot be interpreted as an integer",
                v.type_name()
            )
        }),
    }
}

fn check_length(chars: usize) -> Result<(), String> {
    if chars > MAX_LENGTH {
        return Err(format!(
            "IterableTooLong: string of {chars} characters (at most {MAX_LENGTH})"
        ));
    }
    Ok(())
}

/// Calls method `name` of string `s`.
// long function: one arm per str method, each a few lines, read as a table.
pub fn call(s: &str, name: &str, args: Args) -> R {
    let text = |t: String| Ok(Val::Str(t));
    match name {
        "lower" | "upper" | "swapcase" | "title" | "capitalize" => {
            args.count(name, 0, 0)?;
            text(match name {
                "lower" => s.to_lowercase(),
                "upper" => s.to_uppercase(),
                "swapcase" => s
                    .chars()
                    .flat_map(|c| {
                        if c.is_lowercase() {
                            c.to_uppercase().collect::<Vec<_>>()
                        } else {
                            c.to_lowercase().collect()
                        }
                    })
                    .collect(),
                "title" => title(s),
                _ => {
                    let mut chars = s.chars();
                    match chars.next() {
                        Some(first) => first
                            .to_uppercase()
                            .chain(chars.as_str().to_lowercase().chars())
                            .collect(),
                        None => String::new(),
                    }
                }
            })
        }
        "strip" | "lstrip" | "rstrip" => {
            args.count(name, 0, 1)?;
            let chars = string_arg(&args, 0, "chars", name)?;
            let strip = |c: char| chars.map_or_else(|| is_space(c), |set| set.contains(c));
            text(
                match name {
                    "strip" => s.trim_matches(strip),
                    "lstrip" => s.trim_start_matches(strip),
                    _ => s.trim_end_matches(strip),
                }
                .to_string(),
            )
        }
        "split" | "rsplit" => {
            args.count(name, 0, 2)?;
            let sep = string_arg(&args, 0, "sep", name)?;
            let max = int_arg(&args, 1, "maxsplit", -1)?;
            let max = usize::try_from(max).ok();
            let parts = match sep {
                Some("") => return Err("ValueError: empty separator".into()),
                Some(sep) => split_on(s, sep, max, name == "rsplit"),
                None => split_whitespace(s, max, name == "rsplit"),
            };
            Ok(Val::List(parts.into_iter().map(Val::Str).collect()))
        }
        "replace" => {
            args.count("replace", 2, 3)?;
            let (Some(Val::Str(old)), Some(Val::Str(new))) =
                (args.get(0, "old"), args.get(1, "new"))
            else {
                return Err("TypeError: replace() arguments must be str".into());
            };
            let count = int_arg(&args, 2, "count", -1)?;
            if new.len() > old.len() {
                // Bound the result before building it.
                let hits = if old.is_empty() {
                    s.chars().count() + 1
                } else {
                    s.matches(old.as_str()).count()
                };
                let hits = usize::try_from(count).map_or(hits, |n| hits.min(n));
                check_length(
                    s.len()
                        .saturating_add(hits.saturating_mul(new.len() - old.len()))
                        / 4,
                )?;
            }
            let out = match usize::try_from(count) {
                Ok(n) if old.is_empty() => replace_empty(s, new, Some(n)),
                Ok(n) => s.replacen(old.as_str(), new, n),
                Err(_) if old.is_empty() => replace_empty(s, new, None),
                Err(_) => s.replace(old.as_str(), new),
            };
            check_length(out.chars().count())?;
            text(out)
        }
        "startswith" | "endswith" => {
            args.count(name, 1, 3)?;
            let chars: Vec<char> = s.chars().collect();
            let (start, end) = bounds(&args, chars.len(), 1)?;
            let window: String = chars
                .get(start..end.max(start))
                .unwrap_or(&[])
                .iter()
                .collect();
            let test = |prefix: &str| {
                if name == "startswith" {
                    window.starts_with(prefix)
                } else {
                    window.ends_with(prefix)
                }
            };
            let outcome = match args.get(0, "prefix") {
                Some(Val::Str(p)) => test(p),
                Some(Val::Tuple(options)) => {
                    let mut any = false;
                    for option in options {
                        let Val::Str(p) = option else {
                            return Err(format!(
                                "TypeError: tuple for {name} must only contain str, not {}",
                                option.type_name()
                            ));
                        };
                        any |= test(p);
                    }
                    any
                }
                other => {
                    return Err(format!(
                        "TypeError: {name} first arg must be str or a tuple of str, not {}",
                        other.map_or("NoneType", Val::type_name)
                    ))
                }
            };
            Ok(Val::Bool(outcome && start <= end))
        }
        "find" | "rfind" | "index" | "rindex" | "count" => {
            args.count(name, 1, 3)?;
            let Some(Val::Str(sub)) = args.get(0, "sub") else {
                return Err(format!("TypeError: {name}() argument must be str"));
            };
            let chars: Vec<char> = s.chars().collect();
            let needle: Vec<char> = sub.chars().collect();
            let (start, end) = bounds(&args, chars.len(), 1)?;
            let hits: Vec<usize> = if start > end || needle.len() > end - start {
                Vec::new()
            } else if needle.is_empty() {
                (start..=end).collect()
            } else {
                let mut hits = Vec::new();
                let mut i = start;
                while i + needle.len() <= end {
                    if chars[i..i + needle.len()] == needle[..] {
                        hits.push(i);
                        // count() counts non-overlapping occurrences.
                        i += if name == "count" { needle.len() } else { 1 };
                    } else {
                        i += 1;
                    }
                }
                hits
            };
            match name {
                "count" => Ok(Val::int(hits.len() as u64)),
                "find" => Ok(Val::int(hits.first().map_or(-1, |&i| i as i64))),
                "rfind" => Ok(Val::int(hits.last().map_or(-1, |&i| i as i64))),
                _ => {
                    let found = if name == "index" {
                        hits.first()
                    } else {
                        hits.last()
                    };
                    found
                        .map(|&i| Val::int(i as u64))
                        .ok_or_else(|| "ValueError: substring not found".to_string())
                }
            }
        }
        "join" => {
            args.count("join", 1, 1)?;
            let items = iterate(args.get(0, "iterable").unwrap_or(&Val::None))?;
            let mut parts = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Val::Str(part) = item else {
                    return Err(format!(
                        "TypeError: sequence item {i}: expected str instance, {} found",
                        item.type_name()
                    ));
                };
                parts.push(part.as_str());
            }
            let total = parts.iter().map(|p| p.len()).sum::<usize>()
                + s.len().saturating_mul(parts.len().saturating_sub(1));
            check_length(total / 4)?;
            let out = parts.join(s);
            check_length(out.chars().count())?;
            text(out)
        }
        "zfill" => {
            args.count("zfill", 1, 1)?;
            let width = int_arg(&args, 0, "width", 0)?.max(0) as usize;
            check_length(width)?;
            let len = s.chars().count();
            if len >= width {
                return text(s.to_string());
            }
            let zeros = "0".repeat(width - len);
            text(match s.chars().next() {
                Some(sign @ ('+' | '-')) => format!("{sign}{zeros}{}", &s[1..]),
                _ => format!("{zeros}{s}"),
            })
        }
        "center" | "ljust" | "rjust" => {
            args.count(name, 1, 2)?;
            let width = int_arg(&args, 0, "width", 0)?.max(0) as usize;
            check_length(width)?;
            let fill = match string_arg(&args, 1, "fillchar", name)? {
                None => ' ',
                Some(f) if f.chars().count() == 1 => f.chars().next().unwrap_or(' '),
                Some(_) => {
                    return Err(
                        "TypeError: The fill character must be exactly one character long".into(),
                    )
                }
            };
            let len = s.chars().count();
            if len >= width {
                return text(s.to_string());
            }
            let pad = width - len;
            let left = match name {
                "ljust" => 0,
                "rjust" => pad,
                // CPython's centering: the extra space goes left when width is odd.
                _ => pad / 2 + (pad & width & 1),
            };
            let fills = |n: usize| std::iter::repeat_n(fill, n).collect::<String>();
            text(format!("{}{s}{}", fills(left), fills(pad - left)))
        }
        "isdigit" | "isdecimal" | "isnumeric" | "isalpha" | "isalnum" | "isspace" | "isascii" => {
            args.count(name, 0, 0)?;
            let test = |c: char| match name {
                "isdigit" | "isdecimal" => c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric()),
                "isnumeric" => c.is_numeric(),
                "isalpha" => c.is_alphabetic(),
                "isalnum" => c.is_alphanumeric(),
                "isspace" => is_space(c),
                _ => c.is_ascii(),
            };
            Ok(Val::Bool(
                (name == "isascii" || !s.is_empty()) && s.chars().all(test),
            ))
        }
        "islower" | "isupper" => {
            args.count(name, 0, 0)?;
            let cased: Vec<char> = s
                .chars()
                .filter(|c| c.is_lowercase() || c.is_uppercase())
                .collect();
            let all = |f: fn(&char) -> bool| cased.iter().all(f);
            Ok(Val::Bool(
                !cased.is_empty()
                    && if name == "islower" {
                        all(|c| c.is_lowercase())
                    } else {
                        all(|c| c.is_uppercase())
                    },
            ))
        }
        "removeprefix" | "removesuffix" => {
            args.count(name, 1, 1)?;
            let Some(Val::Str(affix)) = args.get(0, "prefix") else {
                return Err(format!("TypeError: {name}() argument must be str"));
            };
            let out = if name == "removeprefix" {
                s.strip_prefix(affix.as_str())
            } else {
                s.strip_suffix(affix.as_str())
            };
            text(out.unwrap_or(s).to_string())
        }
        "partition" | "rpartition" => {
            args.count(name, 1, 1)?;
            let Some(Val::Str(sep)) = args.get(0, "sep") else {
                return Err(format!("TypeError: {name}() argument must be str"));
            };
            if sep.is_empty() {
                return Err("ValueError: empty separator".into());
            }
            let found = if name == "partition" {
                s.find(sep.as_str())
            } else {
                s.rfind(sep.as_str())
            };
            let parts = match found {
                Some(at) => [&s[..at], sep.as_str(), &s[at + sep.len()..]],
                None if name == "partition" => [s, "", ""],
                None => ["", "", s],
            };
            Ok(Val::Tuple(
                parts.iter().map(|p| Val::Str(p.to_string())).collect(),
            ))
        }
        "splitlines" => {
            args.count("splitlines", 0, 1)?;
            let keep = args.get(0, "keepends").is_some_and(Val::truthy);
            Ok(Val::List(
                splitlines(s, keep).into_iter().map(Val::Str).collect(),
            ))
        }
        _ => Err(format!(
            "AttributeError: 'str' object has no attribute '{name}'"
        )),
    }
}

/// `start` and `end` arguments (from position `first`), clamped as Python's slices are.
fn bounds(args: &Args, len: usize, first: usize) -> Result<(usize, usize), String> {
    let len_i = len as i64;
    let clamp = |n: i64| -> usize {
        if n < 0 {
            (n + len_i).max(0) as usize
        } else {
            n.min(len_i) as usize
        }
    };
    let start = clamp(int_arg(args, first, "start", 0)?);
    let end = clamp(int_arg(args, first + 1, "end", len_i)?);
    Ok((start, end))
}

/// Python's `str.title()`: a letter after a cased letter is lowered, any other is raised.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut previous_cased = false;
    for c in s.chars() {
        if previous_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        previous_cased = c.is_lowercase() || c.is_uppercase();
    }
    out
}

/// `replace("", new)`: `new` before every character and at the end.
fn replace_empty(s: &str, new: &str, count: Option<usize>) -> String {
    let mut out = String::new();
    let mut done = 0;
    for c in s.chars() {
        if count.is_none_or(|n| done < n) {
            out.push_str(new);
            done += 1;
        }
        out.push(c);
    }
    if count.is_none_or(|n| done < n) {
        out.push_str(new);
    }
    out
}

fn split_on(s: &str, sep: &str, max: Option<usize>, from_right: bool) -> Vec<String> {
    let mut parts: Vec<String> = match (max, from_right) {
        (None, _) => s.split(sep).map(str::to_string).collect(),
        (Some(n), false) => s.splitn(n + 1, sep).map(str::to_string).collect(),
        (Some(n), true) => s.rsplitn(n + 1, sep).map(str::to_string).collect(),
    };
    if from_right && max.is_some() {
        parts.reverse();
    }
    parts
}

/// `split()` without a separator: runs of whitespace separate, none at either end.
fn split_whitespace(s: &str, max: Option<usize>, from_right: bool) -> Vec<String> {
    let mut parts = Vec::new();
    if from_right {
        let mut rest = s.trim_end_matches(is_space);
        while !rest.is_empty() {
            if max.is_some_and(|n| parts.len() == n) {
                parts.push(rest.to_string());
                break;
            }
            match rest.rfind(is_space) {
                Some(at) => {
                    let space_len = rest[at..].chars().next().map_or(1, char::len_utf8);
                    parts.push(rest[at + space_len..].to_string());
                    rest = rest[..at].trim_end_matches(is_space);
                }
                None => {
                    parts.push(rest.to_string());
                    break;
                }
            }
        }
        parts.reverse();
    } else {
        let mut rest = s.trim_start_matches(is_space);
        while !rest.is_empty() {
            if max.is_some_and(|n| parts.len() == n) {
                parts.push(rest.to_string());
                break;
            }
            match rest.find(is_space) {
                Some(at) => {
                    parts.push(rest[..at].to_string());
                    rest = rest[at..].trim_start_matches(is_space);
                }
                None => {
                    parts.push(rest.to_string());
                    break;
                }
            }
        }
    }
    parts
}

/// Python's line boundaries.
fn splitlines(s: &str, keep: bool) -> Vec<String> {
    let is_break = |c: char| {
        matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        )
    };
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if !is_break(c) {
            line.push(c);
            continue;
        }
        let mut ending = c.to_string();
        if c == '\r' && chars.peek() == Some(&'\n') {
            chars.next();
            ending.push('\n');
        }
        if keep {
            line.push_str(&ending);
        }
        lines.push(std::mem::take(&mut line));
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::value::py_repr;

    fn m(s: &str, name: &str, args: Vec<Val>) -> String {
        match call(s, name, Args::new(args)) {
            Ok(v) => py_repr(&v),
            Err(e) => format!("error: {e}"),
        }
    }

    fn v(text: &str) -> Val {
        Val::Str(text.into())
    }

    #[test]
    fn methods_return_what_python_returns() {
        assert_eq!(
            m("sample1@example.com", "split", vec![v("@")]),
            "['sample1', 'example.com']"
        );
        assert_eq!(m("  a  b c ", "split", vec![]), "['a', 'b', 'c']");
        assert_eq!(
            m("  a  b c ", "split", vec![Val::None, Val::int(1)]),
            "['a', 'b c ']"
        );
        assert_eq!(
            m("  a  b c ", "rsplit", vec![Val::None, Val::int(1)]),
            "['  a  b', 'c']"
        );
        assert_eq!(
            m("a,b,c", "rsplit", vec![v(","), Val::int(1)]),
            "['a,b', 'c']"
        );
        assert_eq!(m("a,,b", "split", vec![v(",")]), "['a', '', 'b']");
        assert_eq!(m("xxhixx", "strip", vec![v("x")]), "'hi'");
        assert_eq!(m("hello world's", "title", vec![]), "\"Hello World'S\"");
        assert_eq!(m("hELLO", "capitalize", vec![]), "'Hello'");
        assert_eq!(m("abc", "replace", vec![v(""), v("-")]), "'-a-b-c-'");
        assert_eq!(
            m("aaa", "replace", vec![v("a"), v("b"), Val::int(2)]),
            "'bba'"
        );
        assert_eq!(m("héllo", "find", vec![v("l")]), "2");
        assert_eq!(m("héllo", "rfind", vec![v("l")]), "3");
        assert_eq!(m("aaaa", "count", vec![v("aa")]), "2");
        assert_eq!(m("abc", "count", vec![v("")]), "4");
        assert_eq!(m("-42", "zfill", vec![Val::int(5)]), "'-0042'");
        assert_eq!(m("ab", "center", vec![Val::int(5), v("*")]), "'**ab*'");
        assert_eq!(m("abc", "center", vec![Val::int(6)]), "' abc  '");
        assert_eq!(
            m(
                "tap-x",
                "startswith",
                vec![Val::Tuple(vec![v("target-"), v("tap-")])]
            ),
            "True"
        );
        assert_eq!(m("a.b", "rpartition", vec![v(".")]), "('a', '.', 'b')");
        assert_eq!(m("a\r\nb\n", "splitlines", vec![]), "['a', 'b']");
        assert_eq!(m("", "isdigit", vec![]), "False");
        assert_eq!(m("ABC1", "isupper", vec![]), "True");
        assert_eq!(
            m("x", "index", vec![v("y")]),
            "error: ValueError: substring not found"
        );
        assert_eq!(
            m("-", "join", vec![Val::List(vec![v("a"), v("b")])]),
            "'a-b'"
        );
        assert!(m("-", "join", vec![Val::List(vec![Val::int(1)])])
            .contains("expected str instance, int found"));
    }
}
