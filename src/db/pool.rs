//! The pool's connection manager: r2d2_postgres's, with errors that say what the server said.
//!
//! r2d2 hands every failed attempt to an error sink and keeps its text for the "timed out
//! waiting for connection" error a flush finally gets; the driver's own text for a server's
//! refusal is only "db error". [`PoolConnectError`] carries the SQLSTATE and the server's
//! message into both.

use std::fmt;

use postgres::Client;
use r2d2_postgres::PostgresConnectionManager;

use crate::db::tls::TlsConnector;
use crate::error::driver_error_text;

/// Opens and checks the pool's connections.
pub struct Manager(PostgresConnectionManager<TlsConnector>);

impl Manager {
    /// A manager connecting with `config` through `tls`.
    pub fn new(config: postgres::Config, tls: TlsConnector) -> Manager {
        Manager(PostgresConnectionManager::new(config, tls))
    }
}

/// A pooled connection that could not be opened or failed its check, in words a user can
/// act on: `opening a pooled connection: SQLSTATE 53300: too many connections ...`.
#[derive(Debug)]
pub struct PoolConnectError {
    /// What the pool was doing.
    what: &'static str,
    /// The driver's error.
    source: postgres::Error,
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

impl r2d2::ManageConnection for Manager {
    type Connection = Client;
    type Error = PoolConnectError;

    fn connect(&self) -> Result<Client, PoolConnectError> {
        self.0.connect().map_err(|source| PoolConnectError {
            what: "opening a pooled connection",
            source,
        })
    }

    fn is_valid(&self, client: &mut Client) -> Result<(), PoolConnectError> {
        self.0.is_valid(client).map_err(|source| PoolConnectError {
            what: "checking a pooled connection",
            source,
        })
    }

    fn has_broken(&self, client: &mut Client) -> bool {
        self.0.has_broken(client)
    }
}
