//! The memory bound on the reader's side (`maximum_batch_size_mb`) and the flush triggers
//! that are not about one record: a stream's buffer is full at `batch_size_rows` or at the
//! flush chunk size, all buffers together are bounded (the largest flushes first), and no
//! row waits longer than `max_batch_age_seconds`.
//!
//! A Citus distributed table is flushed in few, large transactions: each one pays a fixed
//! distributed commit (a two-phase commit on every shard's connection, tens of milliseconds
//! however few its rows), so after the first flush (small, so that the connections to the
//! shards are opened while the next rows are encoded) a stream of one flushes as much as the
//! reader's budget holds.
//!
//! The bound is split between the reader's buffers and the flush queue (whose bytes the
//! workers bound by blocking the reader): together they stay within `maximum_batch_size_mb`.
//! The input read ahead of the parser adds at most
//! [`READ_AHEAD_BYTES`](crate::protocol::reader::READ_AHEAD_BYTES), or one line longer than
//! that. A record too big for what is left of the bound beside them is loaded alone
//! ([`Loader::make_room_for_record`]): what is buffered is flushed first, the reader waits
//! for the flushes to leave room, and the record's row is flushed as soon as it is encoded.

use std::time::Instant;

use crate::config::Settings;
use crate::error::Result;
use crate::load::row_buffer::ROW_SLACK_BYTES;
use crate::load::stream::Stream;
use crate::load::Loader;

/// The reader's budget for all streams' buffers together, in flush chunks.
const READER_BUDGET_CHUNKS: usize = 4;

/// The size of a stream's first flush; later ones double up to the full chunk.
const FIRST_CHUNK_BYTES: usize = 256 * 1024;

/// Where a record stands against the memory bound, by the length of its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordRoom {
    /// No longer than a flush chunk: the usual bounds hold it.
    Usual,
    /// Longer, and it fits beside what is buffered and queued.
    Fits,
    /// Too big to share the bound: what was buffered is flushed, and the record's row is
    /// flushed on its own as soon as it is encoded.
    Alone,
}

/// The byte bounds of one run.
#[derive(Debug)]
pub struct Budget {
    /// A stream's buffer flushes once it holds this many bytes, even below
    /// `batch_size_rows`, so that encoding the next rows overlaps the COPY of these.
    flush_chunk_bytes: usize,
    /// Rows a stream buffers before it flushes.
    batch_size_rows: usize,
    /// Bytes held in all streams' buffers.
    buffered: usize,
    /// When `buffered` reaches this, the largest buffer flushes. Also the size of a flush
    /// into a Citus distributed table, after its first.
    limit: usize,
    /// What the flush queue may hold (queued and in flight).
    queue_bytes: usize,
    /// `maximum_batch_size_mb`: everything above together.
    total: usize,
}

impl Budget {
    /// The bounds for `settings`.
    pub fn new(settings: &Settings) -> Budget {
        let flush_chunk_bytes = settings
            .flush_chunk_bytes
            .min(settings.max_buffer_bytes / 4)
            .max(1);
        Budget {
            flush_chunk_bytes,
            batch_size_rows: settings.batch_size_rows,
            buffered: 0,
            // What the reader may hold across all streams before it flushes the largest
            // buffer; with the queue below, within maximum_batch_size_mb.
            limit: (flush_chunk_bytes * READER_BUDGET_CHUNKS)
                .min(settings.max_buffer_bytes / 2)
                .max(1),
            // Enough queued work to keep every connection busy with the next chunk ready,
            // and no more: a deeper queue only holds memory while the database is the
            // bottleneck.
            queue_bytes: (flush_chunk_bytes * (settings.max_parallelism + 1))
                .min(settings.max_buffer_bytes / 2)
                .max(1),
            total: settings.max_buffer_bytes,
        }
    }

    /// The largest row buffer worth keeping for reuse once flushed: room for a full flush
    /// chunk (and the row that crosses it) twice over. A bigger one held a huge record.
    pub fn spare_capacity_max(&self) -> usize {
        2 * (self.flush_chunk_bytes + ROW_SLACK_BYTES)
    }

    /// What the flush queue may hold.
    pub fn queue_bytes(&self) -> usize {
        self.queue_bytes
    }

    /// The byte size at which a stream's buffer flushes. A stream's first flushes are small
    /// (256 KiB, doubling up to the full chunk) so the database starts working after a few
    /// hundred rows instead of waiting for a whole chunk to be parsed. Into a Citus
    /// distributed table only the first is small; the others are as large as the reader's
    /// budget.
    pub fn chunk_limit(&self, flushes_so_far: u32, distributed: bool) -> usize {
        if distributed && flushes_so_far > 0 {
            return self.limit.max(self.flush_chunk_bytes);
        }
        (FIRST_CHUNK_BYTES << flushes_so_far.min(16)).min(self.flush_chunk_bytes)
    }

    /// Whether a stream's buffer should flush now.
    pub fn is_full(&self, stream: &Stream) -> bool {
        stream.rows.appended_rows() >= self.batch_size_rows
            || stream.rows.byte_len()
                >= self.chunk_limit(stream.flushes, stream.loads_distributed_table())
    }

    /// Counts bytes added to a buffer.
    pub fn grew(&mut self, bytes: usize) {
        self.buffered += bytes;
    }

    /// Counts bytes handed to a flush.
    pub fn released(&mut self, bytes: usize) {
        self.buffered = self.buffered.saturating_sub(bytes);
    }

    /// Whether the buffers together are at the bound.
    pub fn exceeded(&self) -> bool {
        self.buffered >= self.limit
    }
}

impl Loader<'_> {
    /// Before a record whose line is `line_bytes` long is encoded: a line longer than a flush
    /// chunk may not fit in what the rows buffered and queued leave of the bound, counting
    /// the line (held already) and its row (about as long again). Then every stream's rows
    /// are flushed and the reader waits until the flushes leave room (or finish), so that the
    /// record is held alone; its row is flushed as soon as it is encoded. Records no longer
    /// than a flush chunk (nearly all) cost one comparison.
    pub(super) fn make_room_for_record(&mut self, line_bytes: usize) -> Result<RecordRoom> {
        if line_bytes <= self.budget.flush_chunk_bytes {
            return Ok(RecordRoom::Usual);
        }
        let needed = line_bytes.saturating_mul(2);
        let held = self.budget.buffered + self.workers.pending_bytes();
        if held.saturating_add(needed) <= self.budget.total {
            return Ok(RecordRoom::Fits);
        }
        log::debug!(
            "a record of {line_bytes} bytes does not fit beside {held} bytes of buffered and \
             queued rows: flushing them first, then loading it alone"
        );
        self.flush_all()?;
        self.workers
            .wait_for_pending_at_most(self.budget.total.saturating_sub(needed))?;
        Ok(RecordRoom::Alone)
    }

    /// Keeps the bytes buffered across all streams under the reader's budget by flushing the
    /// largest buffer. With many streams filling at the same pace this also staggers their
    /// flushes, so the database gets a steady flow instead of every stream at once.
    pub(super) fn enforce_buffer_budget(&mut self) -> Result<()> {
        while self.budget.exceeded() {
            let largest = self
                .streams
                .values()
                .filter(|s| !s.rows.is_empty())
                .max_by_key(|s| s.rows.byte_len())
                .map(|s| s.name.clone());
            match largest {
                Some(name) => self.flush_stream(&name)?,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// When the oldest buffered row reaches `max_batch_age_seconds`.
    pub(super) fn oldest_batch_deadline(&self) -> Option<Instant> {
        self.streams
            .values()
            .filter_map(|s| s.rows.opened_at())
            .min()
            .map(|opened| opened + self.settings.max_batch_age)
    }

    /// Flushes every stream whose oldest row has waited `max_batch_age_seconds`.
    pub(super) fn flush_aged_batches(&mut self) -> Result<()> {
        let now = Instant::now();
        let aged: Vec<String> = self
            .streams
            .values()
            .filter(|s| {
                s.rows
                    .opened_at()
                    .is_some_and(|opened| opened + self.settings.max_batch_age <= now)
            })
            .map(|s| s.name.clone())
            .collect();
        for name in aged {
            log::debug!("stream \"{name}\": flushing rows older than max_batch_age_seconds");
            self.flush_stream(&name)?;
        }
        Ok(())
    }
}
