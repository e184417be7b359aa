//! JSON Schema to PostgreSQL column plans, and naming.
//!
//! The PostgreSQL type model ([`pg_type`]) lives here too: `encode` and `db` use it, while
//! `schema` imports neither of them.

pub mod evolution;
pub mod flatten;
pub mod naming;
pub mod pg_type;
pub mod types;
