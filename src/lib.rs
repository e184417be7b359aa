//! target-postgres: a Singer target that loads SCHEMA / RECORD / STATE messages into
//! PostgreSQL over binary COPY.
//!
//! # Layout
//!
//! The data flow runs one way: input → [`protocol`] (lines, messages, BATCH files) →
//! [`load`] (streams and their row buffers, on the reader thread) → flush jobs → [`db`]
//! (workers, COPY, merge, commit), with states following commits. docs/ARCHITECTURE.md has
//! the picture, the module map, and the import rules that `tests/architecture.rs` enforces.
//!
//! - [`cli`] — command-line arguments; [`config`] — settings from files or the environment,
//!   validated, with the one table of accepted keys; [`about`] — `--about`.
//! - [`protocol`] — the line reader, Singer message parsing and the record walker, BATCH
//!   files (URL → path → lines), and the state tracker (the only writer to stdout).
//! - [`schema`] — a SCHEMA's column plan (properties, columns, metadata columns, target
//!   table), JSON Schema → column types, the PostgreSQL type model, JSON number literals,
//!   flattening, schema evolution, name cleaning and quoting.
//! - [`encode`] — JSON values → binary COPY fields for the column's actual type.
//! - [`load`] — one handler per message kind (SCHEMA, RECORD, BATCH, ACTIVATE_VERSION),
//!   `invalid_records`, the memory budget, what follows a commit, progress and the summary,
//!   and the model they share: streams, their write plans and row buffers, the table model.
//! - [`db`] — connections and pool, TLS (rustls), catalog reads, SQL text, flushes, the flush
//!   workers and the retry classification.
//! - [`error`] — the one error type, with exit codes.
//! - [`mage`] — Mage mode: its state file, its catalog, its config template.
//! - [`percent`] — `%XX` decoding of connection and BATCH manifest URLs.
//! - [`logging`] — text, JSON or Mage log lines; [`shutdown`] — SIGTERM/SIGINT;
//!   [`fast_hash`] — the hasher of the per-record maps.
//! - `fuzz` (tests only) — the mutation fuzzer over parsing, mapping and encoding.
//! - `src/bin/bench.rs` — the benchmark against a raw binary COPY.

pub mod about;
pub mod cli;
pub mod config;
pub mod db;
pub mod encode;
pub mod error;
pub mod fast_hash;
#[cfg(test)]
mod fuzz;
pub mod load;
pub mod logging;
pub mod mage;
pub mod maps;
pub mod percent;
pub mod protocol;
pub mod schema;
pub mod shutdown;

use crate::cli::Args;
use crate::error::Result;
use crate::mage::state::MageState;
use crate::protocol::reader::LineReader;
use crate::protocol::state::{StateLines, StateOutput};

/// Runs the program for parsed arguments.
pub fn run(args: Args) -> Result<()> {
    if args.about {
        println!("{}", about::render(args.format));
        return Ok(());
    }
    if args.show_templates {
        println!("{}", mage::CONFIG_TEMPLATE);
        return Ok(());
    }
    let sources = args.config_sources();
    if sources.is_empty() {
        return Err(error::Error::Usage(
            "--config FILE is required (or --config ENV to read TARGET_POSTGRES_* variables)"
                .into(),
        ));
    }
    let settings = config::load(&sources, args.is_mage_mode())?;
    let catalog = args
        .catalog_json
        .as_deref()
        .map(mage::catalog::Catalog::parse)
        .transpose()?;
    if args.test_connection || args.mage_test_connection {
        if settings.mage_mode {
            log::info!("Testing connection...");
        }
        let mut client = db::connect::connect_direct(&settings.connection)?;
        log::info!("connection ok {}", db::connect::describe(&mut client)?);
        return Ok(());
    }
    let state_out: Box<dyn StateOutput> = if settings.mage_mode {
        Box::new(MageState::open(args.state.as_deref())?)
    } else {
        Box::new(StateLines(std::io::stdout()))
    };
    let reader = LineReader::open(args.input_path())?;
    let shutdown = shutdown::Shutdown::install();
    let summary = load::run(&settings, catalog.as_ref(), reader, state_out, &shutdown)?;
    summary.log();
    Ok(())
}
