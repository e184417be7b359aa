//! Stream maps (`stream_maps`, `stream_map_config`), compatible with singer-sdk's: streams
//! aliased, dropped, filtered, duplicated or split; properties removed, whitelisted or
//! computed by expressions in singer-sdk's expression language — a safe subset of Python
//! expressions, parsed, checked and evaluated here without any Python.
//!
//! - [`defs`] reads the settings at start-up: every expression is parsed ([`lex`],
//!   [`parse`] into [`ast`]) and checked ([`check`], against the tables of [`names`]), so
//!   a refused expression stops the run before any input is read.
//! - [`plan`] decides at a stream's SCHEMA which streams it is loaded as, with their
//!   schemas ([`schema`]) and what each record needs: nothing but dropped properties (the
//!   loader's zero-copy path), or the map ([`record`]).
//! - [`eval`] evaluates an expression over Python values ([`value`], [`decimal`],
//!   [`datetime`]) with Python's operators ([`ops`]), built-ins ([`builtins`],
//!   [`strings`], [`temporal`], [`strptime`], [`json`]) and f-string specs ([`spec`],
//!   [`format`]).
//!
//! This module imports nothing else of the crate: it knows JSON, not streams' tables.

pub mod args;
pub mod ast;
pub mod builtins;
pub mod check;
pub mod datetime;
pub mod decimal;
pub mod defs;
pub mod display;
pub mod eval;
pub mod format;
pub mod json;
pub mod lex;
pub mod names;
pub mod ops;
pub mod parse;
pub mod plan;
mod python_cases;
pub mod record;
pub mod schema;
mod sdk_cases;
pub mod spec;
pub mod strings;
pub mod strptime;
pub mod temporal;
pub mod value;

pub use defs::StreamMaps;
pub use plan::{evaluated, Mapped, Output, Records};
pub use record::{MapError, Record};
