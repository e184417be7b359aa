//! What to say about an input line that is not a JSON Singer message: the parser's reason
//! with its column (the line number is the caller's, said once), the text itself (shortened),
//! and, when the text looks like a log line, the likely cause: a tap writing its logs to
//! stdout, where only Singer messages belong.

use serde::de::IgnoredAny;
use serde_json::error::Category;

use crate::error::excerpt;

/// Words a log line starts with (after an optional `[`), letter case ignored.
const LOG_LEVELS: &[&str] = &[
    "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "CRITICAL", "FATAL", "SEVERE",
];

/// logfmt's first keys (`time=... level=info msg=...`).
const LOGFMT_KEYS: &[&str] = &["time=", "ts=", "level=", "lvl=", "msg="];

/// What is wrong with a line the JSON parser refused, its text (shortened) and, for what
/// looks like a log line, the likely cause:
///
/// - `not JSON: <text>` when it does not even start like a JSON object;
/// - `not valid JSON (<reason> at column C): <text>` when it starts like one;
/// - `not a Singer message (not a JSON object): <text>` for other JSON (`42`, `[1]`);
/// - `not a Singer message (<reason> at column C): <text>` for an object that is not a
///   message (a field given twice).
pub fn not_a_message(line: &str, error: &serde_json::Error) -> String {
    let syntax = matches!(error.classify(), Category::Syntax | Category::Eof);
    let mut message = if !line.trim_start().starts_with('{') {
        // The parser stops at the first thing it cannot use (`2024` of a timestamp is a
        // number, not an object): what matters is whether the line is JSON at all.
        if serde_json::from_str::<IgnoredAny>(line).is_ok() {
            format!("not a Singer message (not a JSON object): {}", shown(line))
        } else {
            format!("not JSON: {}", shown(line))
        }
    } else {
        let what = if syntax {
            "not valid JSON"
        } else {
            "not a Singer message"
        };
        format!("{what} ({}): {}", reason_at_column(error), shown(line))
    };
    if looks_like_a_log_line(line) {
        message.push_str(
            "; it looks like a log line: the tap probably writes its logs to stdout, where \
             only Singer messages belong (make it log to stderr)",
        );
    }
    message
}

/// The parser's reason with the column it stopped at: `EOF while parsing an object at
/// column 46`. serde_json says "at line 1 column C": every input line is one line to it,
/// and the caller names the input's line number, so "line 1" would only contradict it.
pub fn reason_at_column(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match full.strip_suffix(&position) {
        Some(reason) => format!("{reason} at column {}", error.column()),
        None => full,
    }
}

/// The line shortened, control characters escaped so they cannot disturb a terminal.
pub fn shown(line: &str) -> String {
    let short = excerpt(line.trim_end());
    if short.chars().any(char::is_control) {
        short
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        short
    }
}

/// Whether `line` starts the way log lines do: a level (`INFO`, `[WARNING]`, `ERROR:`), a
/// timestamp (`2024-05-01 12:00:00`, `12:00:00`, Go's `2024/05/01`), logfmt (`time=`,
/// `level=`), or a Python traceback.
pub fn looks_like_a_log_line(line: &str) -> bool {
    let text = line.trim_start().trim_start_matches(['[', '<', '(']);
    starts_with_level(text)
        || starts_with_timestamp(text)
        || LOGFMT_KEYS.iter().any(|key| text.starts_with(key))
        || text.starts_with("Traceback (most recent call last)")
}

/// A log level as the first word, followed by the end or a non-alphanumeric character.
fn starts_with_level(text: &str) -> bool {
    let word_end = text
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let word = &text[..word_end];
    let followed_by_word_character = text[word_end..]
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '_');
    !followed_by_word_character && LOG_LEVELS.iter().any(|l| l.eq_ignore_ascii_case(word))
}

/// `dddd-dd-dd`, `dddd/dd/dd` or `dd:dd:dd` at the start.
fn starts_with_timestamp(text: &str) -> bool {
    let matches = |pattern: &str| {
        text.len() >= pattern.len()
            && pattern.bytes().zip(text.bytes()).all(|(p, t)| match p {
                b'd' => t.is_ascii_digit(),
                other => other == t,
            })
    };
    matches("dddd-dd-dd") || matches("dddd/dd/dd") || matches("dd:dd:dd")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refuses a field given twice, as the message parser does.
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Twice {
        stream: String,
    }

    /// The error of parsing `line` as an object (a number or a list is a type error).
    fn error_of_message(line: &str) -> serde_json::Error {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line).unwrap_err()
    }

    fn error_of(line: &str) -> serde_json::Error {
        serde_json::from_str::<serde_json::Value>(line).unwrap_err()
    }

    #[test]
    fn the_message_quotes_the_text_and_gives_only_a_column() {
        let line = "this is not json at all";
        let message = not_a_message(line, &error_of(line));
        assert_eq!(message, "not JSON: this is not json at all");
        let line = r#"{"type":"RECORD","stream":"a","record":{"id":1},"stream":"b"}"#;
        let error = serde_json::from_str::<Twice>(line).unwrap_err();
        let message = not_a_message(line, &error);
        assert!(
            message.starts_with("not a Singer message (duplicate field `stream` at column "),
            "{message}"
        );
        assert!(!message.contains("line 1"), "{message}");
        let line = "2024-05-01 12:00:00 starting";
        let message = not_a_message(line, &error_of_message(line));
        assert!(message.starts_with("not JSON: 2024-05-01"), "{message}");
        let line = "[1, 2]";
        let message = not_a_message(line, &error_of_message(line));
        assert_eq!(message, "not a Singer message (not a JSON object): [1, 2]");
    }

    #[test]
    fn a_log_line_gets_the_hint() {
        let line = "INFO Starting sync of stream users";
        let message = not_a_message(line, &error_of(line));
        assert!(
            message.ends_with(
                "INFO Starting sync of stream users; it looks like a log line: the tap \
                 probably writes its logs to stdout, where only Singer messages belong (make \
                 it log to stderr)"
            ),
            "{message}"
        );
    }

    #[test]
    fn log_lines_are_recognised_by_level_timestamp_logfmt_or_traceback() {
        for line in [
            "INFO Starting sync",
            "info: starting",
            "[WARNING] slow",
            "ERROR:root:boom",
            "WARN  tap_x  something",
            "2024-05-01 12:00:00,123 | INFO | tap-x | Beginning sync",
            "[2024-05-01T12:00:00Z INFO  tap] go",
            "2009/11/10 23:00:00 tap started",
            "12:00:01 sync",
            "time=2024-05-01T12:00:00Z level=info msg=\"go\"",
            "level=warn msg=x",
            "Traceback (most recent call last):",
        ] {
            assert!(looks_like_a_log_line(line), "{line}");
        }
        for line in [
            "this is not json",
            "information overload",
            "{\"type\": \"RECORD\"",
            "12345",
            "Errors:",
        ] {
            assert!(!looks_like_a_log_line(line), "{line}");
        }
    }

    #[test]
    fn long_lines_are_shortened_and_control_characters_escaped() {
        let line = format!("\u{1b}[31mred{}", "x".repeat(200));
        let message = not_a_message(&line, &error_of(&line));
        assert!(message.contains("\\u{1b}[31mred"), "{message}");
        assert!(message.ends_with('…'), "{message}");
        assert!(!message.contains('\u{1b}'), "{message}");
    }

    #[test]
    fn a_truncated_message_names_the_column_where_it_ends() {
        let line = r#"{"type":"RECORD","stream":"t","record":{"id":2"#;
        let message = not_a_message(line, &error_of(line));
        assert!(
            message.starts_with(
                "not valid JSON (EOF while parsing an object at column 46): {\"type\""
            ),
            "{message}"
        );
    }
}
