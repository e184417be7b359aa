//! target-postgres: a Singer target that loads into PostgreSQL over binary COPY.
pub mod encode;
pub mod schema;
