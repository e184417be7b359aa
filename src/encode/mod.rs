//! Record values to PostgreSQL binary COPY bytes.
pub mod numeric;
pub mod time;
pub mod text;
