//! The one error type of the crate.
//!
//! Every failure a user can meet ends up here, carrying what they need to fix it: the
//! input line, the stream, the column and a shortened value for data errors; the table,
//! SQLSTATE and server message for database errors; the key and the file for config
//! errors. [`Error::exit_code`] maps each kind to the process exit code of SPEC §1. Which
//! failures are worth replaying is the database layer's call (`db::retry`): this module
//! imports no other layer of the crate.

use std::fmt;

/// Longest value excerpt (in characters) quoted in an error message.
const VALUE_EXCERPT_CHARS: usize = 80;

/// Everything that can stop a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command-line usage (exit 2).
    #[error("usage: {0}")]
    Usage(String),

    /// A missing, unknown-typed or invalid setting (exit 2).
    #[error("config: {message} ({origin})")]
    Config {
        /// What is wrong, naming the key.
        message: String,
        /// Which file (or `environment`) the setting came from.
        origin: String,
    },

    /// A line that cannot be read as a Singer message (exit 1).
    #[error("line {line}: {message}")]
    Input {
        /// 1-based input line number.
        line: u64,
        /// What is wrong with it.
        message: String,
    },

    /// A message that is well-formed JSON but wrong for its stream (exit 1).
    #[error("line {line}: stream \"{stream}\": {message}")]
    Stream {
        /// 1-based input line number.
        line: u64,
        /// The stream the message belongs to.
        stream: String,
        /// What is wrong.
        message: String,
    },

    /// A record value that does not fit its column (exit 1 under `invalid_records: fail`).
    #[error("line {line}: stream \"{stream}\", column \"{column}\": {reason}: {value}")]
    InvalidValue {
        /// 1-based input line number.
        line: u64,
        /// The stream of the record.
        stream: String,
        /// The target column.
        column: String,
        /// Why the value was refused.
        reason: String,
        /// A shortened rendering of the value.
        value: String,
    },

    /// A record that is not valid for its stream (fails its JSON Schema, is not an object).
    #[error("line {line}: stream \"{stream}\": {reason}")]
    InvalidRecord {
        /// 1-based input line number.
        line: u64,
        /// The stream of the record.
        stream: String,
        /// Why.
        reason: String,
    },

    /// A BATCH file that cannot be read: not a `file://` URL, missing, unreadable (exit 1).
    #[error("line {line}: stream \"{stream}\": BATCH file {file}: {message}")]
    BatchFile {
        /// 1-based input line number of the BATCH message.
        line: u64,
        /// The stream of the BATCH.
        stream: String,
        /// The file's path, or its URL when it has no path.
        file: String,
        /// What is wrong.
        message: String,
    },

    /// A line of a BATCH file that could not be loaded; `source` says why, and decides
    /// whether `invalid_records` may set it aside.
    #[error("line {line}: stream \"{stream}\": BATCH file {file}, line {file_line}: {}", .source.detail())]
    BatchRecord {
        /// 1-based input line number of the BATCH message.
        line: u64,
        /// The stream of the BATCH.
        stream: String,
        /// The file's path.
        file: String,
        /// 1-based line number within the file.
        file_line: u64,
        /// The error the line would have given as a RECORD.
        source: Box<Error>,
    },

    /// A database error, with where it happened (exit 1).
    #[error("{context}: {}", DbErrorText(.source))]
    Database {
        /// What we were doing, naming the table when there is one.
        context: String,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },

    /// A connection refused in its TLS step: the server's certificate, its name, our client
    /// certificate, or a server without TLS (exit 1).
    #[error("cannot connect to {target} (ssl_mode {ssl_mode}): {cause}")]
    Tls {
        /// `host:port/database as user`, never the password.
        target: String,
        /// The TLS policy that was in force.
        ssl_mode: String,
        /// What was refused, in words a user can act on (never key material).
        cause: String,
    },

    /// Could not get a pooled connection.
    #[error("{context}: {source}")]
    Pool {
        /// What we were doing.
        context: String,
        /// The pool's error.
        #[source]
        source: r2d2::Error,
    },

    /// Reading the input failed.
    #[error("reading {what}: {source}")]
    Io {
        /// What was being read.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A flush whose outcome is unknown (the connection broke during COMMIT of rows that a
    /// replay would double): the run stops rather than guess.
    #[error("{0}")]
    CommitUnknown(String),

    /// A flush worker stopped without reporting (a bug, reported rather than hidden).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The process exit code for this error (SPEC §1: 2 for usage and config, 1 otherwise).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Config { .. } => 2,
            _ => 1,
        }
    }

    /// A config error naming the key and where it came from.
    pub fn config(message: impl Into<String>, origin: impl Into<String>) -> Error {
        Error::Config {
            message: message.into(),
            origin: origin.into(),
        }
    }

    /// Wraps a driver error with what we were doing.
    pub fn db(context: impl Into<String>, source: postgres::Error) -> Error {
        Error::Database {
            context: context.into(),
            source,
        }
    }

    /// Whether this is a bad record that `invalid_records` may set aside (as opposed to bad
    /// input as a whole, or a database failure).
    pub fn is_invalid_record(&self) -> bool {
        match self {
            Error::InvalidValue { .. } | Error::InvalidRecord { .. } => true,
            Error::BatchRecord { source, .. } => source.is_invalid_record(),
            _ => false,
        }
    }

    /// The message without the `line N: stream "s": ` that [`Error::BatchRecord`] already
    /// says, for an error about one line of a BATCH file.
    fn detail(&self) -> String {
        match self {
            Error::Input { message, .. } | Error::Stream { message, .. } => message.clone(),
            Error::InvalidValue {
                column,
                reason,
                value,
                ..
            } => format!("column \"{column}\": {reason}: {value}"),
            Error::InvalidRecord { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }

    /// The SQLSTATE of a database error, if it is one.
    pub fn sql_state(&self) -> Option<&str> {
        match self {
            Error::Database { source, .. } => source.code().map(|c| c.code()),
            _ => None,
        }
    }
}

/// Renders a driver error as `SQLSTATE code: message (detail; hint)`.
struct DbErrorText<'a>(&'a postgres::Error);

impl fmt::Display for DbErrorText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_db_error() {
            Some(db) => {
                write!(f, "SQLSTATE {}: {}", db.code().code(), db.message())?;
                if let Some(detail) = db.detail() {
                    write!(f, " ({detail})")?;
                }
                if let Some(hint) = db.hint() {
                    write!(f, " hint: {hint}")?;
                }
                Ok(())
            }
            // The driver's own words name the step ("error connecting to server"); the
            // cause ("Connection refused", a timeout) is its source.
            None => match std::error::Error::source(self.0) {
                Some(cause) => write!(f, "{}: {cause}", self.0),
                None => write!(f, "{}", self.0),
            },
        }
    }
}

/// Shortens a value for an error message: at most 80 characters (`VALUE_EXCERPT_CHARS`),
/// cut on a character boundary, with an ellipsis when cut.
pub fn excerpt(value: &str) -> String {
    let mut chars = value.char_indices();
    match chars.nth(VALUE_EXCERPT_CHARS) {
        None => value.to_string(),
        Some((cut, _)) => format!("{}…", &value[..cut]),
    }
}

/// Crate-wide result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_long_values_on_a_char_boundary() {
        let long = "é".repeat(200);
        let short = excerpt(&long);
        assert_eq!(short.chars().count(), VALUE_EXCERPT_CHARS + 1);
        assert!(short.ends_with('…'));
        assert_eq!(excerpt("abc"), "abc");
    }

    #[test]
    fn a_batch_record_error_names_message_line_file_and_file_line_once() {
        let error = Error::BatchRecord {
            line: 4,
            stream: "users".into(),
            file: "/tmp/b.jsonl".into(),
            file_line: 17,
            source: Box::new(Error::InvalidValue {
                line: 4,
                stream: "users".into(),
                column: "id".into(),
                reason: "not an integer".into(),
                value: "\"abc\"".into(),
            }),
        };
        assert_eq!(
            error.to_string(),
            "line 4: stream \"users\": BATCH file /tmp/b.jsonl, line 17: column \"id\": not an integer: \"abc\""
        );
        assert!(error.is_invalid_record());
        assert_eq!(error.exit_code(), 1);
        let malformed = Error::BatchRecord {
            line: 4,
            stream: "users".into(),
            file: "/tmp/b.jsonl".into(),
            file_line: 18,
            source: Box::new(Error::Input {
                line: 4,
                message: "not JSON".into(),
            }),
        };
        assert!(!malformed.is_invalid_record());
    }

    #[test]
    fn usage_and_config_errors_exit_two_others_one() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::config("bad", "c.json").exit_code(), 2);
        let input = Error::Input {
            line: 3,
            message: "not JSON".into(),
        };
        assert_eq!(input.exit_code(), 1);
        assert_eq!(input.to_string(), "line 3: not JSON");
    }
}
