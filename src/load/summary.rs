//! What a person sees of a load (SPEC §10): the per-stream totals kept as flushes commit,
//! a progress line every few seconds of a long load, and the summary at the end.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::db::flush::{FlushCounts, FlushJob};

/// Totals of one stream.
#[derive(Debug, Default, Clone)]
pub struct StreamTotals {
    /// Rows inserted.
    pub inserted: u64,
    /// Rows updated.
    pub updated: u64,
    /// Rows deleted.
    pub deleted: u64,
    /// Records set aside by `invalid_records`.
    pub set_aside: u64,
    /// Flushes committed.
    pub batches: u64,
    /// Time spent in flushes.
    pub flush_time: Duration,
    /// The table written.
    pub table: String,
}

/// What a run did, per stream.
#[derive(Debug, Default)]
pub struct Summary {
    /// Per stream, by name: its totals.
    pub streams: Vec<(String, StreamTotals)>,
    /// Records read.
    pub records: u64,
    /// U+0000 characters replaced.
    pub nul_replaced: u64,
    /// Values of properties missing from their schema, ignored.
    pub ignored_values: u64,
    /// Records set aside by `invalid_records`.
    pub set_aside: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Flushes of one table that could run at once (`lanes`).
    pub lanes: usize,
}

/// Per-stream totals of the committed flushes, shared by the flush workers (which add to
/// them) and the reader (which reads them for progress lines).
#[derive(Debug, Default)]
pub struct CommittedTotals(Mutex<HashMap<String, StreamTotals>>);

impl CommittedTotals {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, StreamTotals>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds what a committed job did.
    pub fn add(&self, job: &FlushJob, counts: FlushCounts, elapsed: Duration) {
        let mut totals = self.lock();
        let stream = totals.entry(job.stream.clone()).or_default();
        stream.inserted += counts.inserted;
        stream.updated += counts.updated;
        stream.deleted += counts.deleted;
        if job.row_count > 0 {
            stream.batches += 1;
        }
        stream.flush_time += elapsed;
        stream.table.clone_from(&job.table);
    }

    /// Rows committed so far (inserted, updated or deleted), per stream, by name.
    pub fn committed_rows(&self) -> Vec<(String, u64)> {
        let mut committed: Vec<(String, u64)> = self
            .lock()
            .iter()
            .filter(|(stream, _)| !stream.is_empty())
            .map(|(stream, t)| (stream.clone(), t.inserted + t.updated + t.deleted))
            .collect();
        committed.sort();
        committed
    }

    /// Takes the totals of `stream` (empty ones for a stream that committed nothing).
    pub fn take(&self, stream: &str) -> StreamTotals {
        self.lock().remove(stream).unwrap_or_default()
    }
}

/// When to write the next progress line.
#[derive(Debug)]
pub struct Progress {
    /// When the run started, for rates.
    started: Instant,
    /// When the last progress line was written.
    last: Instant,
    /// How often progress lines are written.
    every: Duration,
}

impl Progress {
    /// Progress lines every `every`, counted from now.
    pub fn new(every: Duration) -> Progress {
        let now = Instant::now();
        Progress {
            started: now,
            last: now,
            every,
        }
    }

    /// Every `every` of a long load: records read, rows committed, the rate, per stream.
    pub fn log_now_and_then(&mut self, records_read: u64, totals: &CommittedTotals) {
        let now = Instant::now();
        if now.duration_since(self.last) < self.every {
            return;
        }
        self.last = now;
        let committed = totals.committed_rows();
        let total: u64 = committed.iter().map(|(_, rows)| rows).sum();
        let seconds = now.duration_since(self.started).as_secs_f64().max(1e-9);
        let per_stream: Vec<String> = committed
            .iter()
            .map(|(stream, rows)| format!("{stream} {rows}"))
            .collect();
        log::info!(
            "progress: {records_read} records read, {total} rows committed, {:.0} records/s; committed per stream: {}",
            records_read as f64 / seconds,
            if per_stream.is_empty() { "none yet".to_string() } else { per_stream.join(", ") }
        );
    }
}

impl Summary {
    /// Logs the per-stream summary at the end of a run.
    pub fn log(&self) {
        log::info!(
            "loaded {} records in {:.1}s ({:.0} records/s, up to {} lanes per table)",
            self.records,
            self.elapsed.as_secs_f64(),
            self.records as f64 / self.elapsed.as_secs_f64().max(1e-9),
            self.lanes
        );
        for (stream, totals) in &self.streams {
            log::info!(
                "stream \"{stream}\" → {}: {} inserted, {} updated, {} deleted, {} set aside, {} batches, {:.1}s in flushes",
                totals.table,
                totals.inserted,
                totals.updated,
                totals.deleted,
                totals.set_aside,
                totals.batches,
                totals.flush_time.as_secs_f64()
            );
        }
        if self.set_aside > 0 {
            log::info!(
                "{} invalid records set aside (invalid_records)",
                self.set_aside
            );
        }
        if self.nul_replaced > 0 {
            log::info!(
                "{} U+0000 characters replaced with U+FFFD",
                self.nul_replaced
            );
        }
        if self.ignored_values > 0 {
            log::info!(
                "{} values of properties missing from their schema were ignored",
                self.ignored_values
            );
        }
    }
}
