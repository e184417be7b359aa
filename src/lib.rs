//! target-postgres: a Singer target that loads SCHEMA / RECORD / STATE messages into
//! PostgreSQL over binary COPY.
//!
//! # Layout
//!
//! - [`cli`] — command-line arguments; [`config`] — settings from files or the environment,
//!   validated, with the one table of accepted keys; [`about`] — `--about`.
//! - [`protocol`] — the line reader, Singer message parsing, BATCH files (URL → path → lines)
//!   and the state tracker (the only writer to stdout).
//! - [`schema`] — JSON Schema → column types, flattening, schema evolution, and name
//!   cleaning/quoting.
//! - [`encode`] — JSON values → binary COPY fields for the column's actual type.
//! - [`stream`] — one stream: its properties, plan and record encoding; [`sink`] — its batch
//!   of encoded rows and last-wins key index.
//! - [`table`] — the run's model of each target table and its queued DDL.
//! - [`db`] — connections and pool, TLS (rustls), catalog reads, SQL text, flushes and the
//!   flush workers.
//! - [`loader`] — the router that ties them together on the reader thread: SCHEMA, RECORD,
//!   BATCH, STATE and ACTIVATE_VERSION handling, `invalid_records`, overwrite swaps, progress.
//! - [`error`] — the one error type, with exit codes and retry classification.
//! - [`mage`] — Mage mode: its state file, its catalog, its config template.
//! - [`percent`] — `%XX` decoding of connection and BATCH manifest URLs.
//! - [`logging`] — text, JSON or Mage log lines and the summary; [`shutdown`] — SIGTERM/SIGINT;
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
