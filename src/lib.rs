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
//! - [`mage`] — Mage mode: its state file, its catalog, its config template, and
//!   `mage-install` (the Python shim that makes this binary a Mage destination).
//! - [`percent`] — `%XX` decoding of connection and BATCH manifest URLs.
//! - [`logging`] — text, JSON or Mage log lines; [`shutdown`] — SIGTERM/SIGINT;
//!   [`fast_hash`] — the hasher of the per-record maps.
//! - `fuzz` (tests only) — the mutation fuzzer over parsing, mapping and encoding.
//! - `src/bin/bench/` — the benchmark against a raw binary COPY.

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

use std::time::Duration;

use crate::cli::{Args, Command};
use crate::error::Result;
use crate::mage::state::{LastWritten, MageState};
use crate::protocol::reader::LineReader;
use crate::protocol::state::{StateLines, StateOutput};

/// How long Mage's `--test_connection` tries at most (less when `connect_timeout_seconds`
/// says so): Mage gives a test 10 s, and its own destination answers within about 3.
const MAGE_TEST_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the program for parsed arguments.
pub fn run(args: Args) -> Result<()> {
    if let Some(Command::MageInstall { name, python }) = &args.command {
        return mage_install(name, python);
    }
    if args.about {
        return print_informational(&about::render(args.format));
    }
    if args.show_templates {
        return print_informational(mage::CONFIG_TEMPLATE);
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
        let mut connection = settings.connection.clone();
        if settings.mage_mode {
            log::info!("Testing connection...");
            connection.connect_timeout =
                connection.connect_timeout.min(MAGE_TEST_CONNECTION_TIMEOUT);
        }
        let mut session = db::connect::connect_direct(&connection)?;
        log::info!(
            "connection ok {}",
            db::connect::describe(&mut session.client)?
        );
        return Ok(());
    }
    let mut final_state: Option<LastWritten> = None;
    let state_out: Box<dyn StateOutput> = if settings.mage_mode {
        let state = MageState::open(args.state.as_deref())?;
        final_state = Some(state.last_written());
        Box::new(state)
    } else {
        Box::new(StateLines(std::io::stdout()))
    };
    let reader = LineReader::open(args.input_path())?;
    let shutdown = shutdown::Shutdown::install();
    let summary = load::run(&settings, catalog.as_ref(), reader, state_out, &shutdown)?;
    summary.log();
    if let Some(final_state) = final_state {
        final_state.log_final_state();
    }
    Ok(())
}

/// `mage-install`: writes the shim that makes this binary a Mage destination and prints
/// the YAML line that selects it.
fn mage_install(name: &str, python: &str) -> Result<()> {
    let binary = std::env::current_exe().map_err(|e| {
        error::Error::Usage(format!("mage-install: cannot find this binary's path: {e}"))
    })?;
    let installed = mage::install::install(&mage::install::InstallOptions {
        name: name.to_string(),
        python: python.to_string(),
        binary,
    })?;
    println!(
        "{} {} (it runs {}).\nIn the pipeline's destination YAML (the data exporter block), \
         select it with:\n\ndestination: {name}",
        if installed.replaced {
            "Updated"
        } else {
            "Installed"
        },
        installed.file.display(),
        installed.binary.display(),
    );
    Ok(())
}

/// Writes `--about` or the templates, and a newline, to stdout. A reader that stops early
/// (`--about | head -1`) has all it wanted: a closed stdout ends the program quietly, with
/// exit 0 (`println!` would panic). Other write errors (a full disk) are errors.
fn print_informational(text: &str) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Err(source) if source.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(error::Error::Output {
                what: "stdout".to_string(),
                source,
            })
        }
        _ => Ok(()),
    }
}
