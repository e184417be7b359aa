//! The PostgreSQL side: connections, the pool's connection manager and TLS, catalog reads, SQL text, flushes and their
//! workers, and which failures a flush or a connection attempt retries.

pub mod catalog;
pub mod connect;
pub mod flush;
pub mod pool;
pub mod retry;
pub mod sql;
pub mod tls;
pub mod workers;
