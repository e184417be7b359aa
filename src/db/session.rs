//! A session of the loader: a connection, set up by one query right after connecting that
//! clears the server's timeouts (`session_timeouts`) and reads the backend's pid (for the
//! lock-wait watch, [`super::lock_wait`]). Every connection is made so: the first one, the
//! pool's (its manager is `connect::Endpoint`) and the watch's own.
//!
//! A role or database with `statement_timeout = '200ms'` (common on shared servers, meant for
//! interactive users) cancels a COPY, a merge or any lock wait at random, and the loader's
//! statements last as long as the data takes. So by default each session sets the timeouts
//! that can cancel a statement or end a transaction to 0; a timeout named in the URL's
//! `options` (`-c statement_timeout=1h`) is the user's own choice and is left alone, and
//! `session_timeouts: server` keeps every one. Only timeouts the server has are set
//! (`transaction_timeout` is PostgreSQL 17's), so older servers need no special case.
//!
//! On Citus the same query also keeps the session's connections to the workers between
//! transactions: `citus.max_cached_conns_per_worker` (1 by default) is raised to
//! `citus.max_adaptive_executor_pool_size` (16), the most a statement uses per worker. A COPY
//! into a distributed table opens one connection per shard it writes, and re-opening them
//! for every flush cost about 0.3 s a transaction on a 32-shard table (measured: a COPY of
//! 1,000 rows took 0.43 s with the default, 0.05 s with the connections kept). Without Citus
//! the lookup finds no such setting and sets nothing; a value named in the URL's `options`
//! is left alone.
//!
//! Why a query and not the `options` startup parameter, which would save its round trip:
//! PgBouncer refuses a `-c` of a parameter it does not track (statement_timeout among them)
//! unless told to ignore `options`, and the pid needs the round trip anyway. It is one per
//! connection, not per flush.

use postgres::{Client, SimpleQueryMessage};

use crate::config::SessionTimeouts;

/// The timeouts that can cancel a statement of the loader or end its transaction.
const TIMEOUTS: [&str; 4] = [
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "transaction_timeout",
];

/// A connection ready for the loader.
pub struct Session {
    /// The connection.
    pub client: Client,
    /// Its backend's process id, when the server told it (a proxy may not).
    pub pid: Option<i32>,
}

/// Citus' setting for how many connections to each worker a session keeps between
/// transactions.
const CITUS_CACHED_CONNECTIONS: &str = "citus.max_cached_conns_per_worker";

/// Raises [`CITUS_CACHED_CONNECTIONS`] to Citus' own per-worker bound, where it is lower;
/// sets nothing on a server without Citus. (The CASE keeps the cast to the one row: the
/// planner may test the conditions of a WHERE in any order.)
const KEEP_CITUS_CONNECTIONS: &str = "(SELECT count(set_config(name, \
     current_setting('citus.max_adaptive_executor_pool_size', true), false)) \
     FROM pg_catalog.pg_settings WHERE name = 'citus.max_cached_conns_per_worker' \
     AND CASE WHEN name = 'citus.max_cached_conns_per_worker' THEN setting::int \
     < current_setting('citus.max_adaptive_executor_pool_size', true)::int END)";

/// The query every session runs once, right after connecting.
#[derive(Debug, Clone)]
pub struct SessionSetup {
    /// Its SQL text: the pid, and the timeouts set to 0.
    sql: String,
    /// Whether it clears timeouts (then its failure fails the connection).
    clears_timeouts: bool,
}

impl SessionSetup {
    /// The setup for `session_timeouts`, given the `options` of the user's URL.
    pub fn new(timeouts: SessionTimeouts, user_options: Option<&str>) -> SessionSetup {
        let chosen = user_options.map(option_names).unwrap_or_default();
        let cleared: Vec<&str> = match timeouts {
            SessionTimeouts::Server => Vec::new(),
            SessionTimeouts::Off => TIMEOUTS
                .into_iter()
                .filter(|name| !chosen.iter().any(|c| c == name))
                .collect(),
        };
        let mut sql = if cleared.is_empty() {
            "SELECT pg_backend_pid()".to_string()
        } else {
            // set_config through pg_settings sets only the timeouts this server has.
            let names: Vec<String> = cleared.iter().map(|n| format!("'{n}'")).collect();
            format!(
                "SELECT pg_backend_pid(), (SELECT count(set_config(name, '0', false)) \
                 FROM pg_catalog.pg_settings WHERE name IN ({}))",
                names.join(", ")
            )
        };
        if !chosen.iter().any(|c| c == CITUS_CACHED_CONNECTIONS) {
            sql.push_str(", ");
            sql.push_str(KEEP_CITUS_CONNECTIONS);
        }
        SessionSetup {
            sql,
            clears_timeouts: !cleared.is_empty(),
        }
    }

    /// Runs the setup on a new connection (one round trip).
    pub fn run(&self, mut client: Client) -> Result<Session, postgres::Error> {
        match client.simple_query(&self.sql) {
            Ok(messages) => {
                let pid = messages.iter().find_map(|message| match message {
                    SimpleQueryMessage::Row(row) => row.get(0).and_then(|p| p.parse().ok()),
                    _ => None,
                });
                Ok(Session { client, pid })
            }
            // Without timeouts to clear, the pid only serves the lock-wait warning: a server
            // without pg_backend_pid() (a proxy, a look-alike) still loads.
            Err(error) if !self.clears_timeouts && error.as_db_error().is_some() => {
                log::debug!(
                    "reading the backend pid failed ({error}); lock waits are not described"
                );
                Ok(Session { client, pid: None })
            }
            Err(error) => Err(error),
        }
    }
}

/// The parameters a libpq `options` string sets (`-c name=value`, `-cname=value`,
/// `--name=value`), lower-cased, with `-` read as `_` as the server does.
fn option_names(options: &str) -> Vec<String> {
    let words = option_words(options);
    let mut names = Vec::new();
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        let setting = if word == "-c" {
            iter.next().map(String::as_str)
        } else if let Some(rest) = word.strip_prefix("--") {
            Some(rest)
        } else {
            word.strip_prefix("-c")
        };
        if let Some((name, _)) = setting.and_then(|s| s.split_once('=')) {
            names.push(name.trim().to_ascii_lowercase().replace('-', "_"));
        }
    }
    names
}

/// Splits an `options` string on unescaped white space, undoing `\` escapes, as the server
/// does.
fn option_words(options: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_name_their_parameters_in_every_spelling() {
        assert_eq!(
            option_names(
                "-c statement_timeout=5min -clock_timeout=1s --idle-in-transaction-session-timeout=0 \
                 -c search_path=a\\ b -x"
            ),
            vec![
                "statement_timeout",
                "lock_timeout",
                "idle_in_transaction_session_timeout",
                "search_path"
            ]
        );
        assert_eq!(
            option_words("-c a=x\\ y  -c b=1"),
            vec!["-c", "a=x y", "-c", "b=1"]
        );
    }

    #[test]
    fn off_clears_every_timeout_but_those_the_url_options_set() {
        let setup = SessionSetup::new(SessionTimeouts::Off, None);
        assert!(setup.clears_timeouts);
        for name in TIMEOUTS {
            assert!(setup.sql.contains(&format!("'{name}'")), "{}", setup.sql);
        }
        let setup = SessionSetup::new(
            SessionTimeouts::Off,
            Some("-c statement_timeout=1h -c application_name=x"),
        );
        assert!(!setup.sql.contains("'statement_timeout'"), "{}", setup.sql);
        assert!(setup.sql.contains("'lock_timeout'"), "{}", setup.sql);
    }

    #[test]
    fn server_reads_the_pid_and_clears_no_timeout() {
        let setup = SessionSetup::new(SessionTimeouts::Server, None);
        assert!(!setup.clears_timeouts);
        assert_eq!(
            setup.sql,
            format!("SELECT pg_backend_pid(), {KEEP_CITUS_CONNECTIONS}")
        );
    }

    #[test]
    fn citus_worker_connections_are_kept_unless_the_url_options_say_otherwise() {
        let setup = SessionSetup::new(SessionTimeouts::Off, None);
        assert!(setup.sql.contains(KEEP_CITUS_CONNECTIONS), "{}", setup.sql);
        let setup = SessionSetup::new(
            SessionTimeouts::Off,
            Some("-c citus.max_cached_conns_per_worker=0"),
        );
        assert!(!setup.sql.contains(KEEP_CITUS_CONNECTIONS), "{}", setup.sql);
    }
}
