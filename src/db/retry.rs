//! Which failures are worth replaying: the retry classification of the flush loop and of the
//! first connection.
//!
//! Only transport and concurrency failures are retried — a lost connection, a server
//! restarting or refusing connections for now, a serialization failure, a deadlock, a pool
//! that could not hand out a connection — never data errors, and never a TLS refusal, which
//! stays so however often we ask. Idempotent DDL that lost a race to a concurrent run is
//! replayed too ([`is_ddl_race`]). Codes are rust-postgres' [`SqlState`] constants, not
//! SQLSTATE text. This lives with the database code so that the error type imports no
//! other layer.

use postgres::error::SqlState;

use crate::db::tls::is_tls_refusal;
use crate::error::Error;

/// SQLSTATEs, besides class 08 (connection exception), that a rollback and a replay may cure.
const TRANSIENT_CODES: [SqlState; 6] = [
    // 40001
    SqlState::T_R_SERIALIZATION_FAILURE,
    // 40P01
    SqlState::T_R_DEADLOCK_DETECTED,
    // 57P01
    SqlState::ADMIN_SHUTDOWN,
    // 57P02
    SqlState::CRASH_SHUTDOWN,
    // 57P03
    SqlState::CANNOT_CONNECT_NOW,
    // 53300
    SqlState::TOO_MANY_CONNECTIONS,
];

/// SQLSTATEs of two runs creating the same schema, table or column at once: the loser sees
/// one of these and succeeds on replay, where `IF NOT EXISTS` then finds the object.
const DDL_RACE_CODES: [SqlState; 5] = [
    // 23505: a catalog row inserted concurrently.
    SqlState::UNIQUE_VIOLATION,
    // 42P07
    SqlState::DUPLICATE_TABLE,
    // 42710
    SqlState::DUPLICATE_OBJECT,
    // 42701
    SqlState::DUPLICATE_COLUMN,
    // XX000: "tuple concurrently updated".
    SqlState::INTERNAL_ERROR,
];

/// Whether replaying the same work could succeed: lost connections, server restarts,
/// serialization failures, deadlocks, and a pool that could not hand out a connection.
/// Data errors are never transient.
pub fn is_transient(error: &Error) -> bool {
    match error {
        Error::Database { source, .. } => is_transient_db_error(source),
        Error::Pool { .. } => true,
        _ => false,
    }
}

/// Driver errors that a rollback and a replay may cure.
pub fn is_transient_db_error(error: &postgres::Error) -> bool {
    // A refused certificate or a server without TLS stays so however often we ask, and so
    // does a configuration the driver cannot use (no password for a server that wants one).
    if is_tls_refusal(error) || is_driver_config_error(error) {
        return false;
    }
    if error.is_closed() {
        return true;
    }
    match error.code() {
        // No SQLSTATE: an I/O failure underneath the protocol.
        None => error.as_db_error().is_none(),
        Some(code) => is_transient_code(code),
    }
}

/// How the driver words its configuration errors ("password missing" when the server asks
/// for a password and none was given; a missing host): the error kind is private, so its
/// text is the only way to tell (a unit test pins it).
const DRIVER_CONFIG_ERROR: &str = "invalid configuration";

/// Whether the driver refused to go on for lack of something in its configuration: asking
/// again cannot help.
pub fn is_driver_config_error(error: &postgres::Error) -> bool {
    error.as_db_error().is_none() && error.to_string() == DRIVER_CONFIG_ERROR
}

/// Class 08 (connection exception, any code in it), serialization failure, deadlock, admin
/// or crash shutdown, cannot connect now, too many connections.
fn is_transient_code(code: &SqlState) -> bool {
    sqlstate_class(code) == sqlstate_class(&SqlState::CONNECTION_EXCEPTION)
        || TRANSIENT_CODES.contains(code)
}

/// The two-character class of a SQLSTATE (`08` for `08006`).
fn sqlstate_class(code: &SqlState) -> &str {
    code.code().get(..2).unwrap_or_default()
}

/// Whether a failed idempotent DDL statement (`CREATE ... IF NOT EXISTS`) lost a race to a
/// concurrent run, so that a replay will find the object and succeed.
pub fn is_ddl_race(error: &Error) -> bool {
    match error {
        Error::Database { source, .. } => source
            .code()
            .is_some_and(|code| DDL_RACE_CODES.contains(code)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_class_and_concurrency_codes_are_transient() {
        for code in [
            "08000", "08003", "08006", "08001", "08004", "08007", "08P01", "08XYZ", "40001",
            "40P01", "57P01", "57P02", "57P03", "53300",
        ] {
            assert!(is_transient_code(&SqlState::from_code(code)), "{code}");
        }
    }

    #[test]
    fn data_and_other_codes_are_not_transient() {
        for code in [
            "23505", "23514", "22P02", "42P01", "42501", "28P01", "3D000", "57014", "53100",
            "40002", "XX000", "0", "",
        ] {
            assert!(!is_transient_code(&SqlState::from_code(code)), "{code}");
        }
    }

    #[test]
    fn only_database_and_pool_errors_may_be_transient() {
        assert!(!is_transient(&Error::Usage("x".into())));
        assert!(!is_transient(&Error::Input {
            line: 1,
            message: "not JSON".into()
        }));
        assert!(!is_transient(&Error::CommitUnknown("x".into())));
        assert!(!is_ddl_race(&Error::Internal("x".into())));
    }

    #[test]
    fn a_refused_tcp_connection_is_transient() {
        // Nothing listens on port 1: an I/O error without SQLSTATE, worth retrying.
        let error = postgres::Config::new()
            .host("127.0.0.1")
            .port(1)
            .user("nobody")
            .connect_timeout(std::time::Duration::from_secs(2))
            .connect(postgres::NoTls)
            .err();
        if let Some(error) = error {
            assert!(is_transient_db_error(&error), "{error}");
            assert!(is_transient(&Error::db("connecting", error)));
        }
    }

    #[test]
    fn a_driver_configuration_error_is_not_transient() {
        // No host at all: the driver refuses before any I/O, with its Config kind (the one
        // "password missing" has too).
        let error = postgres::Config::new()
            .user("nobody")
            .connect(postgres::NoTls)
            .err();
        let Some(error) = error else {
            panic!("connected without a host");
        };
        assert!(is_driver_config_error(&error), "{error}");
        assert!(!is_transient_db_error(&error), "{error}");
        assert_eq!(
            crate::error::driver_error_text(&error),
            "invalid configuration: both host and hostaddr are missing"
        );
    }

    #[test]
    fn ddl_race_codes_are_the_duplicate_object_family() {
        let expected = ["23505", "42P07", "42710", "42701", "XX000"];
        let codes: Vec<&str> = DDL_RACE_CODES.iter().map(SqlState::code).collect();
        assert_eq!(codes, expected);
        let transient: Vec<&str> = TRANSIENT_CODES.iter().map(SqlState::code).collect();
        assert_eq!(
            transient,
            ["40001", "40P01", "57P01", "57P02", "57P03", "53300"]
        );
    }
}
