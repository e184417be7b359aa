//! The pool's connection errors, in words that say what the server said.
//!
//! r2d2 hands every failed attempt to an error sink and keeps its text for the "timed out
//! waiting for connection" error a flush finally gets; the driver's own text for a server's
//! refusal is only "db error". [`PoolConnectError`] carries the SQLSTATE and the server's
//! message into both. (The pool's connection manager is `db::connect::Endpoint`.)

use std::fmt;

use crate::error::driver_error_text;

/// A pooled connection that could not be opened or failed its check, in words a user can
/// act on: `opening a pooled connection: SQLSTATE 53300: too many connections ...`.
#[derive(Debug)]
pub struct PoolConnectError {
    /// What the pool was doing.
    what: &'static str,
    /// The driver's error.
    source: postgres::Error,
}

impl PoolConnectError {
    /// The pool failed at `what` (e.g. "opening a pooled connection") with `source`.
    pub fn new(what: &'static str, source: postgres::Error) -> PoolConnectError {
        PoolConnectError { what, source }
    }
}

impl fmt::Display for PoolConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, driver_error_text(&self.source))
    }
}

impl std::error::Error for PoolConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
