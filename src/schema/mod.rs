//! JSON Schema to PostgreSQL column plans, and naming.
//!
//! The PostgreSQL type model ([`pg_type`]) and the exact JSON number-literal parser
//! ([`number`]) live here too: `encode` and `db` use them, while `schema` imports neither of
//! them.

pub mod evolution;
pub mod flatten;
pub mod naming;
pub mod number;
pub mod pg_type;
pub mod plan;
pub mod types;
