//! The PostgreSQL side: connections, TLS and the SSH tunnel, catalog reads, SQL text,
//! flushes and their workers, and which failures a flush or a connection attempt retries.

pub mod catalog;
pub mod connect;
pub mod flush;
pub mod retry;
pub mod sql;
pub mod ssh;
pub mod tls;
pub mod workers;
