//! The Singer side: reading lines, parsing messages (and saying what is wrong with a line
//! that is not one), BATCH files, and handing states back.

pub mod bad_line;
pub mod batch;
mod fast_record;
mod json_scan;
mod known_names;
pub mod message;
pub mod reader;
pub mod state;
pub mod walk;
