//! The PostgreSQL side: connections, the pool's connection manager, TLS and the SSH tunnel,
//! sessions (their timeouts), catalog reads (Citus' among them), SQL text, flushes (and the
//! rows they copy) and their workers, the lock-wait watch, and which failures a flush or a
//! connection attempt retries.

pub mod catalog;
pub mod citus;
pub mod connect;
pub mod copy_rows;
pub mod flush;
pub mod lock_wait;
pub mod pool;
pub mod retry;
pub mod session;
pub mod sql;
pub mod ssh;
pub mod tls;
pub mod workers;
