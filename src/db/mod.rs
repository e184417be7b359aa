//! The PostgreSQL side: connections and TLS, catalog reads, SQL text, flushes and their workers.

pub mod catalog;
pub mod connect;
pub mod flush;
pub mod sql;
pub mod tls;
pub mod workers;
