//! JSON Schema to PostgreSQL column plans, and naming.
pub mod evolution;
pub mod flatten;
pub mod naming;
pub mod types;
