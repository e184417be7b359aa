//! The Singer side: reading lines, parsing messages, BATCH files, and handing states back.

pub mod batch;
pub mod message;
pub mod reader;
pub mod state;
pub mod walk;
