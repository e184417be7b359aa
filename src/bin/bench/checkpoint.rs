//! An untimed CHECKPOINT before each timed phase, so that no phase pays for the WAL the
//! phase before it wrote.
//!
//! A 1M-row phase writes several hundred megabytes of WAL; with the default `max_wal_size`
//! the checkpoint that follows lands in whichever phase runs next (target, raw COPY or
//! ceiling), and moved single ratios by ±0.2. Starting every phase right after a checkpoint
//! treats them alike; a checkpoint a phase's own writes trigger stays in that phase, as it
//! would for a user.

use std::sync::atomic::{AtomicBool, Ordering};

use postgres::Client;

/// Whether a refused CHECKPOINT was reported already (once per benchmark is enough).
static REFUSAL_REPORTED: AtomicBool = AtomicBool::new(false);

/// Runs CHECKPOINT; a server that refuses it (a role without `pg_checkpoint`) is reported
/// once and the benchmark goes on without.
pub fn settle(client: &mut Client) {
    if let Err(error) = client.batch_execute("CHECKPOINT") {
        if !REFUSAL_REPORTED.swap(true, Ordering::Relaxed) {
            eprintln!(
                "bench: CHECKPOINT refused ({error}); the phases are timed without one before \
                 each, so one may pay for the checkpoint of the WAL the one before it wrote"
            );
        }
    }
}
