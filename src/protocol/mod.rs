//! The Singer side: reading lines, parsing messages, and handing states back.

pub mod message;
pub mod reader;
pub mod state;
