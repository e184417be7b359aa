//! A stream's buffer of encoded rows waiting for their flush, and its last-wins key index.
//!
//! Rows are appended as finished binary COPY tuples. For a keyed upsert the batch also keeps
//! an index from the key's encoded bytes to the row that holds it: a later record with the
//! same key retires the earlier row, so a flush never carries a key twice (which `ON
//! CONFLICT DO UPDATE` would refuse) and the last record of a key wins.

use std::ops::Range;
use std::time::Instant;

use std::collections::hash_map::Entry;
use std::hash::Hasher;

use crate::fast_hash::{FastMap, FxHasher};

/// Encoded rows waiting for a flush.
#[derive(Debug, Default)]
pub struct RowBuffer {
    /// Tuples, back to back.
    rows: Vec<u8>,
    /// Where each row starts (keyed batches only).
    row_starts: Vec<usize>,
    /// Rows superseded by a later row with the same key.
    retired: Vec<bool>,
    retired_count: usize,
    /// The rows' encoded keys back to back, and where each row's key lies in it: one
    /// growing buffer instead of an allocation per row.
    keys: Vec<u8>,
    key_spans: Vec<(usize, usize)>,
    /// Hash of a key → the newest row holding the first key seen with that hash.
    rows_by_key_hash: FastMap<u64, usize>,
    /// Keys whose hash equals that of a different key (rare): full key → newest row.
    colliding_keys: FastMap<Box<[u8]>, usize>,
    row_count: usize,
    /// Sequence number of the oldest record in the batch.
    first_seq: Option<u64>,
    /// First and last input line.
    lines: (u64, u64),
    /// When the oldest row arrived, for `max_batch_age_seconds`.
    opened_at: Option<Instant>,
    /// Bytes of the previous batch, to size the next buffer.
    previous_len: usize,
}

/// Room left beyond the flush size so that the row that crosses it does not double the buffer.
pub const ROW_SLACK_BYTES: usize = 64 * 1024;

/// The rows of a buffer handed over for flushing.
#[derive(Debug)]
pub struct TakenRows {
    /// Live tuples.
    pub rows: Vec<u8>,
    /// How many.
    pub row_count: usize,
    /// Oldest record's sequence number.
    pub first_seq: Option<u64>,
    /// First and last input line.
    pub lines: (u64, u64),
}

impl RowBuffer {
    /// Gives an empty batch a buffer for the rows to come: a recycled one when the flush
    /// workers hand one back, else one sized like the previous batch (capped at the flush
    /// size). Growing by doubling instead would leave each full buffer with up to twice the
    /// memory it uses; allocating afresh for every flush fragments the heap until the
    /// process's memory grows with the input.
    pub fn prepare(&mut self, flush_bytes: usize, recycled: Option<Vec<u8>>) {
        if self.rows.capacity() > 0 {
            return;
        }
        if let Some(buffer) = recycled {
            self.rows = buffer;
            self.rows.clear();
        }
        let expected = if self.previous_len > 0 {
            self.previous_len.saturating_mul(2).min(flush_bytes) + ROW_SLACK_BYTES
        } else {
            0
        };
        self.rows
            .reserve(expected.saturating_sub(self.rows.capacity()));
    }

    /// The buffer rows are encoded into; a row starts at its current length.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.rows
    }

    /// Records that the row encoded at `start..` is complete. `key` is the row's key bytes
    /// for a keyed upsert (`None` otherwise). Returns true when this is the batch's first
    /// row, so the caller can tell the state tracker a batch opened.
    pub fn commit_row(&mut self, start: usize, key: Option<&[u8]>, seq: u64, line: u64) -> bool {
        let first = self.first_seq.is_none();
        if first {
            self.first_seq = Some(seq);
            self.lines.0 = line;
            self.opened_at = Some(Instant::now());
        }
        self.lines.1 = line;
        if let Some(key) = key {
            let row = self.row_starts.len();
            self.row_starts.push(start);
            self.retired.push(false);
            self.key_spans.push((self.keys.len(), key.len()));
            self.keys.extend_from_slice(key);
            if let Some(previous) = self.index_key(key, row) {
                if let Some(flag) = self.retired.get_mut(previous) {
                    *flag = true;
                    self.retired_count += 1;
                }
            }
        }
        self.row_count += 1;
        first
    }

    /// Records that `row` holds `key`; returns the row that held it before, if any.
    fn index_key(&mut self, key: &[u8], row: usize) -> Option<usize> {
        let mut hasher = FxHasher::default();
        hasher.write(key);
        match self.rows_by_key_hash.entry(hasher.finish()) {
            Entry::Vacant(slot) => {
                slot.insert(row);
                None
            }
            Entry::Occupied(mut slot) => {
                let previous = *slot.get();
                let previous_key = self
                    .key_spans
                    .get(previous)
                    .and_then(|&(offset, len)| self.keys.get(offset..offset + len));
                if previous_key == Some(key) {
                    Some(slot.insert(row))
                } else {
                    // Same hash, different key: index this one by its full bytes.
                    self.colliding_keys.insert(key.into(), row)
                }
            }
        }
    }

    /// Live rows.
    pub fn live_rows(&self) -> usize {
        self.row_count - self.retired_count
    }

    /// Rows appended, retired ones included.
    pub fn appended_rows(&self) -> usize {
        self.row_count
    }

    /// Bytes held.
    pub fn byte_len(&self) -> usize {
        self.rows.len()
    }

    /// When the oldest row still buffered arrived.
    pub fn opened_at(&self) -> Option<Instant> {
        self.opened_at
    }

    /// Whether no row was appended since the last take.
    pub fn is_empty(&self) -> bool {
        self.row_count == 0
    }

    /// Hands the live rows over and starts afresh, keeping the key index's allocation.
    pub fn take(&mut self) -> TakenRows {
        let rows = if self.retired_count == 0 {
            std::mem::take(&mut self.rows)
        } else {
            let live = self.compact();
            // The old buffer is reused for the next batch.
            self.rows.clear();
            live
        };
        let taken = TakenRows {
            rows,
            row_count: self.live_rows(),
            first_seq: self.first_seq.take(),
            lines: std::mem::take(&mut self.lines),
        };
        self.previous_len = taken.rows.len();
        self.row_starts.clear();
        self.retired.clear();
        self.retired_count = 0;
        self.keys.clear();
        self.key_spans.clear();
        self.rows_by_key_hash.clear();
        self.colliding_keys.clear();
        self.row_count = 0;
        self.opened_at = None;
        taken
    }

    fn compact(&mut self) -> Vec<u8> {
        let mut live = Vec::with_capacity(self.rows.len());
        for (row, &start) in self.row_starts.iter().enumerate() {
            if self.retired.get(row).copied().unwrap_or(false) {
                continue;
            }
            let end = self
                .row_starts
                .get(row + 1)
                .copied()
                .unwrap_or(self.rows.len());
            if let Some(bytes) = self.rows.get(Range { start, end }) {
                live.extend_from_slice(bytes);
            }
        }
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(batch: &mut RowBuffer, bytes: &[u8], key: Option<&[u8]>, seq: u64) -> bool {
        let start = batch.buffer().len();
        batch.buffer().extend_from_slice(bytes);
        batch.commit_row(start, key, seq, seq + 1)
    }

    #[test]
    fn last_row_of_a_key_wins() {
        let mut batch = RowBuffer::default();
        assert!(push(&mut batch, b"A1", Some(b"a"), 0));
        assert!(!push(&mut batch, b"B1", Some(b"b"), 1));
        push(&mut batch, b"A2", Some(b"a"), 2);
        assert_eq!(batch.live_rows(), 2);
        let taken = batch.take();
        assert_eq!(taken.rows, b"B1A2");
        assert_eq!(taken.row_count, 2);
        assert_eq!(taken.first_seq, Some(0));
        assert_eq!(taken.lines, (1, 3));
        assert!(batch.is_empty());
    }

    #[test]
    fn keys_sharing_a_hash_stay_distinct() {
        let hash_of = |key: &[u8]| {
            let mut hasher = FxHasher::default();
            hasher.write(key);
            hasher.finish()
        };
        let mut batch = RowBuffer::default();
        push(&mut batch, b"A", Some(b"k1"), 0);
        // Pretend k2 hashes like k1: its hash entry points at k1's row.
        batch.rows_by_key_hash.insert(hash_of(b"k2"), 0);
        push(&mut batch, b"B", Some(b"k2"), 1);
        assert_eq!(
            batch.live_rows(),
            2,
            "a different key must not retire k1's row"
        );
        push(&mut batch, b"C", Some(b"k2"), 2);
        push(&mut batch, b"D", Some(b"k1"), 3);
        assert_eq!(batch.live_rows(), 2);
        assert_eq!(batch.take().rows, b"CD");
    }

    #[test]
    fn unkeyed_rows_are_all_kept() {
        let mut batch = RowBuffer::default();
        push(&mut batch, b"x", None, 5);
        push(&mut batch, b"x", None, 6);
        let taken = batch.take();
        assert_eq!(taken.rows, b"xx");
        assert_eq!(taken.row_count, 2);
        assert_eq!(taken.first_seq, Some(5));
    }
}
