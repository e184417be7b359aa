//! A stream's buffer of encoded rows waiting for their flush, its last-wins key index, and
//! the lane of each keyed row.
//!
//! Rows are appended as finished binary COPY tuples. For a keyed upsert the batch also keeps
//! an index from the key's encoded bytes to the row that holds it: a later record with the
//! same key retires the earlier row, so a flush never carries a key twice (which `ON
//! CONFLICT DO UPDATE` would refuse) and the last record of a key wins.
//!
//! With several lanes (flushes of one table running at once on their own connections), a
//! keyed row's lane is a hash of its key, and [`RowBuffer::take_lanes`] splits the batch by
//! lane: every version of a key then travels through the same lane, whose flushes commit in
//! input order, so last-wins holds across batches too.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use std::collections::hash_map::Entry;
use std::hash::Hasher;

use crate::db::copy_rows::CopyRows;
use crate::fast_hash::{FastMap, FxHasher};

/// Encoded rows waiting for a flush.
#[derive(Debug, Default)]
pub struct RowBuffer {
    /// Tuples, back to back.
    rows: Vec<u8>,
    /// Where each row starts (keyed batches only).
    row_starts: Vec<usize>,
    /// Each keyed row's lane (only with more than one lane).
    row_lanes: Vec<u16>,
    /// Lanes the rows are split into (1: no split).
    lanes: usize,
    /// The lane of the last batch of rows without keys (they take turns).
    last_turn: usize,
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

/// What a row's key is for.
#[derive(Debug, Clone, Copy)]
pub enum RowKey<'k> {
    /// The row has no key (or its key plays no part).
    None,
    /// The key only chooses the row's lane; every row is kept (appends, overwrite stages).
    Lane(&'k [u8]),
    /// The key of a merge: a later row with the same key retires this one.
    Unique(&'k [u8]),
}

/// Where a part of a taken batch goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneChoice {
    /// The lane of its keys (rows without keys: the buffer's lanes in turn).
    Lane(usize),
    /// Keyed rows too few to split: they run alone, after every lane, as a barrier.
    Alone,
}

/// A lane's part of a batch is worth its own transaction only from this size: smaller
/// batches (a trickling tap's, the first small flushes) go whole.
pub const MIN_LANE_PART_BYTES: usize = 64 * 1024;

/// The rows of a buffer handed over for flushing.
#[derive(Debug)]
pub struct TakenRows {
    /// Live tuples.
    pub rows: CopyRows,
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

    /// Splits keyed rows into `lanes` lanes by their key from now on.
    pub fn set_lanes(&mut self, lanes: usize) {
        self.lanes = lanes.clamp(1, usize::from(u16::MAX));
    }

    /// How many lanes keyed rows are split into.
    pub fn lanes(&self) -> usize {
        self.lanes.max(1)
    }

    /// The buffer rows are encoded into; a row starts at its current length.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.rows
    }

    /// Records that the row encoded at `start..` is complete, with its key (see [`RowKey`]).
    /// Returns true when this is the batch's first row, so the caller can tell the state
    /// tracker a batch opened.
    pub fn commit_row(&mut self, start: usize, key: RowKey<'_>, seq: u64, line: u64) -> bool {
        let first = self.first_seq.is_none();
        if first {
            self.first_seq = Some(seq);
            self.lines.0 = line;
            self.opened_at = Some(Instant::now());
        }
        self.lines.1 = line;
        if let RowKey::Lane(bytes) | RowKey::Unique(bytes) = key {
            let row = self.row_starts.len();
            self.row_starts.push(start);
            self.retired.push(false);
            let hash = hash_of(bytes);
            if self.lanes > 1 {
                self.row_lanes.push(lane_of(hash, self.lanes));
            }
            let offset = self.keys.len();
            if let RowKey::Unique(bytes) = key {
                self.keys.extend_from_slice(bytes);
            }
            self.key_spans.push((offset, self.keys.len() - offset));
            if let RowKey::Unique(bytes) = key {
                if let Some(previous) = self.index_key(bytes, hash, row) {
                    if let Some(flag) = self.retired.get_mut(previous) {
                        *flag = true;
                        self.retired_count += 1;
                    }
                }
            }
        }
        self.row_count += 1;
        first
    }

    /// Records that `row` holds `key`; returns the row that held it before, if any.
    fn index_key(&mut self, key: &[u8], hash: u64, row: usize) -> Option<usize> {
        match self.rows_by_key_hash.entry(hash) {
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
        self.previous_len = rows.len();
        let row_count = self.live_rows();
        self.reset(CopyRows::whole(rows), row_count)
    }

    /// Hands the live rows over split by lane, with where each part goes. The parts share
    /// the batch's buffer, each with the byte ranges of its rows: nothing is copied. Rows
    /// without keys, or a buffer with one lane, come whole, in the next lane in turn; so do
    /// keyed rows too few to be worth a transaction per lane ([`MIN_LANE_PART_BYTES`]),
    /// which then run alone.
    pub fn take_lanes(&mut self) -> Vec<(LaneChoice, TakenRows)> {
        if self.lanes() <= 1 || self.row_lanes.len() != self.row_count || self.row_count == 0 {
            self.last_turn = (self.last_turn + 1) % self.lanes();
            return vec![(LaneChoice::Lane(self.last_turn), self.take())];
        }
        if self.rows.len() < MIN_LANE_PART_BYTES * self.lanes() {
            return vec![(LaneChoice::Alone, self.take())];
        }
        // Each lane's rows as ranges, adjacent ones joined, and how many rows.
        let mut lanes: Vec<(Vec<Range<usize>>, usize)> = vec![(Vec::new(), 0); self.lanes()];
        for (row, range) in self.live_ranges() {
            let Some((ranges, rows)) = self.lane_of_row(row).and_then(|lane| lanes.get_mut(lane))
            else {
                continue;
            };
            *rows += 1;
            match ranges.last_mut() {
                Some(last) if last.end == range.start => last.end = range.end,
                _ => ranges.push(range),
            }
        }
        let mut filled = lanes.iter().enumerate().filter(|(_, (_, rows))| *rows > 0);
        if let (Some((lane, _)), None) = (filled.next(), filled.next()) {
            // All in one lane (a huge record alone, say): the buffer goes whole.
            return vec![(LaneChoice::Lane(lane), self.take())];
        }
        self.previous_len = self.rows.len();
        let buffer = Arc::new(std::mem::take(&mut self.rows));
        let whole = self.reset(CopyRows::default(), 0);
        lanes
            .into_iter()
            .enumerate()
            .filter(|(_, (_, rows))| *rows > 0)
            .enumerate()
            .map(|(part, (lane, (ranges, row_count)))| {
                let taken = TakenRows {
                    rows: CopyRows::shared(Arc::clone(&buffer), ranges, part == 0),
                    row_count,
                    first_seq: whole.first_seq,
                    lines: whole.lines,
                };
                (LaneChoice::Lane(lane), taken)
            })
            .collect()
    }

    fn lane_of_row(&self, row: usize) -> Option<usize> {
        self.row_lanes.get(row).map(|&lane| usize::from(lane))
    }

    /// Each live keyed row with the byte range it occupies.
    fn live_ranges(&self) -> impl Iterator<Item = (usize, Range<usize>)> + '_ {
        self.row_starts
            .iter()
            .enumerate()
            .filter(|&(row, _)| !self.retired.get(row).copied().unwrap_or(false))
            .map(|(row, &start)| {
                let end = self
                    .row_starts
                    .get(row + 1)
                    .copied()
                    .unwrap_or(self.rows.len());
                (row, start..end)
            })
    }

    /// Starts afresh after `rows` (`row_count` of them) were taken, keeping allocations.
    fn reset(&mut self, rows: CopyRows, row_count: usize) -> TakenRows {
        let taken = TakenRows {
            rows,
            row_count,
            first_seq: self.first_seq.take(),
            lines: std::mem::take(&mut self.lines),
        };
        self.row_starts.clear();
        self.row_lanes.clear();
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
        for (_, range) in self.live_ranges() {
            if let Some(bytes) = self.rows.get(range) {
                live.extend_from_slice(bytes);
            }
        }
        live
    }
}

/// The hash of a row's key bytes: indexes the key and picks its lane.
fn hash_of(key: &[u8]) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(key);
    hasher.finish()
}

/// A key's lane, from its hash's high half (the best mixed bits of an Fx hash).
fn lane_of(hash: u64, lanes: usize) -> u16 {
    u16::try_from((hash >> 32) % lanes.max(1) as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes the rows would COPY.
    fn bytes(rows: &CopyRows) -> Vec<u8> {
        let mut out = Vec::new();
        rows.write_to(&mut out).unwrap();
        out
    }

    fn push(batch: &mut RowBuffer, bytes: &[u8], key: Option<&[u8]>, seq: u64) -> bool {
        let key = key.map_or(RowKey::None, RowKey::Unique);
        push_keyed(batch, bytes, key, seq)
    }

    fn push_keyed(batch: &mut RowBuffer, bytes: &[u8], key: RowKey<'_>, seq: u64) -> bool {
        let start = batch.buffer().len();
        batch.buffer().extend_from_slice(bytes);
        batch.commit_row(start, key, seq, seq + 1)
    }

    /// The rows of each part of a split, with where it goes.
    fn split(batch: &mut RowBuffer) -> Vec<(LaneChoice, Vec<u8>, usize)> {
        batch
            .take_lanes()
            .into_iter()
            .map(|(lane, taken)| (lane, bytes(&taken.rows), taken.row_count))
            .collect()
    }

    /// A row big enough that a few make a batch worth splitting: `tag` then padding.
    const ROW: usize = 16 * 1024;
    fn row(tag: &[u8]) -> Vec<u8> {
        let mut row = tag.to_vec();
        row.resize(ROW, b'.');
        row
    }

    #[test]
    fn every_version_of_a_key_takes_the_same_lane_in_input_order() {
        let mut batch = RowBuffer::default();
        batch.set_lanes(4);
        let keys: Vec<[u8; 2]> = (0..64u8).map(|k| [b'k', k]).collect();
        for (seq, key) in keys.iter().chain(keys.iter()).enumerate() {
            let row = row(&[key[1], u8::from(seq >= 64)]);
            push_keyed(&mut batch, &row, RowKey::Lane(key), seq as u64);
        }
        let parts = split(&mut batch);
        assert!(parts.len() > 1, "64 keys should spread over several lanes");
        assert_eq!(parts.iter().map(|p| p.2).sum::<usize>(), 128);
        for (lane, rows, _) in &parts {
            assert!(
                matches!(lane, LaneChoice::Lane(lane) if *lane < 4),
                "{lane:?}"
            );
            let tags: Vec<&[u8]> = rows.chunks(ROW).map(|row| &row[..2]).collect();
            for key in 0..64u8 {
                let versions: Vec<u8> = tags
                    .iter()
                    .filter(|tag| tag[0] == key)
                    .map(|tag| tag[1])
                    .collect();
                // Both versions of a key in this lane, or neither; the older one first.
                assert!(versions.is_empty() || versions == [0, 1], "{versions:?}");
            }
        }
        assert!(batch.is_empty());
    }

    #[test]
    fn a_split_leaves_out_retired_rows_and_keeps_the_batch_bounds() {
        let mut batch = RowBuffer::default();
        batch.set_lanes(2);
        for (seq, key) in (0..40u8).chain(0..40).enumerate() {
            let row = row(&[key, u8::from(seq >= 40)]);
            push(&mut batch, &row, Some(&[key]), 7 + seq as u64);
        }
        let parts = batch.take_lanes();
        assert_eq!(parts.len(), 2);
        let rows: usize = parts.iter().map(|(_, taken)| taken.row_count).sum();
        assert_eq!(rows, 40);
        for (_, taken) in &parts {
            assert_eq!(taken.first_seq, Some(7));
            assert_eq!(taken.lines, (8, 87));
            assert!(
                bytes(&taken.rows).chunks(ROW).all(|row| row[1] == 1),
                "only the newer rows"
            );
        }
    }

    #[test]
    fn keyed_batches_too_small_to_split_go_whole_and_alone() {
        let mut batch = RowBuffer::default();
        batch.set_lanes(2);
        push(&mut batch, b"A1", Some(b"a"), 1);
        push(&mut batch, b"B1", Some(b"b"), 2);
        assert_eq!(
            split(&mut batch),
            vec![(LaneChoice::Alone, b"A1B1".to_vec(), 2)]
        );
    }

    #[test]
    fn rows_without_keys_or_lanes_are_taken_whole_in_turns() {
        let mut batch = RowBuffer::default();
        batch.set_lanes(3);
        push(&mut batch, b"x", None, 1);
        push(&mut batch, b"y", None, 2);
        assert_eq!(
            split(&mut batch),
            vec![(LaneChoice::Lane(1), b"xy".to_vec(), 2)]
        );
        push(&mut batch, b"z", None, 3);
        assert_eq!(
            split(&mut batch),
            vec![(LaneChoice::Lane(2), b"z".to_vec(), 1)]
        );
        let mut batch = RowBuffer::default();
        push(&mut batch, b"x", Some(b"1"), 1);
        push(&mut batch, b"y", Some(b"2"), 2);
        assert_eq!(
            split(&mut batch),
            vec![(LaneChoice::Lane(0), b"xy".to_vec(), 2)]
        );
    }

    #[test]
    fn lane_keys_keep_every_row() {
        let mut batch = RowBuffer::default();
        push_keyed(&mut batch, b"A1", RowKey::Lane(b"a"), 0);
        push_keyed(&mut batch, b"A2", RowKey::Lane(b"a"), 1);
        assert_eq!(bytes(&batch.take().rows), b"A1A2");
    }

    #[test]
    fn last_row_of_a_key_wins() {
        let mut batch = RowBuffer::default();
        assert!(push(&mut batch, b"A1", Some(b"a"), 0));
        assert!(!push(&mut batch, b"B1", Some(b"b"), 1));
        push(&mut batch, b"A2", Some(b"a"), 2);
        assert_eq!(batch.live_rows(), 2);
        let taken = batch.take();
        assert_eq!(bytes(&taken.rows), b"B1A2");
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
        assert_eq!(bytes(&batch.take().rows), b"CD");
    }

    #[test]
    fn unkeyed_rows_are_all_kept() {
        let mut batch = RowBuffer::default();
        push(&mut batch, b"x", None, 5);
        push(&mut batch, b"x", None, 6);
        let taken = batch.take();
        assert_eq!(bytes(&taken.rows), b"xx");
        assert_eq!(taken.row_count, 2);
        assert_eq!(taken.first_seq, Some(5));
    }
}
