//! JSON Schema to PostgreSQL column plans, and naming.
pub mod naming;
pub mod types;
