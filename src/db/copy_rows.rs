//! The binary COPY tuples one flush writes: a buffer of its own, or the rows of one lane
//! inside a batch buffer that the table's other lanes share.
//!
//! Sharing is what keeps lanes cheap: a batch split over lanes is not copied into a buffer
//! per lane. Each lane's job holds the batch buffer and the byte ranges of its rows; the
//! buffer is freed (or kept for the next batch) when the last of them is done with it.

use std::io::Write;
use std::ops::Range;
use std::sync::Arc;

/// Bytes handed to the driver per COPY write.
const COPY_PIECE_BYTES: usize = 64 * 1024;

/// The rows of one flush job.
#[derive(Debug, Default)]
pub struct CopyRows {
    /// The buffer the rows are in.
    buffer: Arc<Vec<u8>>,
    /// Where this job's rows lie in `buffer`, adjacent rows joined (`None`: all of it).
    ranges: Option<Vec<Range<usize>>>,
    /// Bytes of this job's rows.
    len: usize,
    /// Bytes the flush queue counts for this job: the whole buffer for one of the jobs that
    /// share it (the buffer lives until the last of them is done), nothing for the others.
    charge: usize,
}

impl CopyRows {
    /// Rows that fill a buffer of their own.
    pub fn whole(buffer: Vec<u8>) -> CopyRows {
        CopyRows {
            len: buffer.len(),
            charge: buffer.len(),
            buffer: Arc::new(buffer),
            ranges: None,
        }
    }

    /// The rows at `ranges` of a buffer shared with other jobs; exactly one of them is
    /// `charged` with the buffer's bytes.
    pub fn shared(buffer: Arc<Vec<u8>>, ranges: Vec<Range<usize>>, charged: bool) -> CopyRows {
        CopyRows {
            len: ranges.iter().map(|range| range.len()).sum(),
            charge: if charged { buffer.len() } else { 0 },
            buffer,
            ranges: Some(ranges),
        }
    }

    /// Bytes the flush queue counts for this job until the buffer is freed.
    pub fn charge(&self) -> usize {
        self.charge
    }

    /// Bytes of this job's rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the rows to `out` in pieces of at most 64 KiB. The driver copies each write
    /// into one protocol message, and its connection keeps the largest write buffer it ever
    /// needed for as long as the pooled connection lives: small pieces keep every
    /// connection's buffers small, and joining a lane's scattered rows into pieces keeps the
    /// messages few.
    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        let Some(ranges) = &self.ranges else {
            return self
                .buffer
                .chunks(COPY_PIECE_BYTES)
                .try_for_each(|piece| out.write_all(piece));
        };
        let mut piece = Vec::with_capacity(COPY_PIECE_BYTES.min(self.len));
        for range in ranges {
            let Some(bytes) = self.buffer.get(range.clone()) else {
                continue;
            };
            if !piece.is_empty() && piece.len() + bytes.len() > COPY_PIECE_BYTES {
                out.write_all(&piece)?;
                piece.clear();
            }
            if bytes.len() >= COPY_PIECE_BYTES {
                out.write_all(bytes)?;
            } else {
                piece.extend_from_slice(bytes);
            }
        }
        if piece.is_empty() {
            Ok(())
        } else {
            out.write_all(&piece)
        }
    }

    /// The buffer, once no other job shares it (for reuse); `None` while one still does.
    /// Called by each sharing job as it finishes, under one lock, exactly one gets it.
    pub fn into_buffer(self) -> Option<Vec<u8>> {
        Arc::try_unwrap(self.buffer).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_rows_write_only_their_ranges_in_order() {
        let buffer = Arc::new(b"aaBBccDD".to_vec());
        let lane = CopyRows::shared(Arc::clone(&buffer), vec![2..4, 6..8], true);
        assert_eq!(lane.charge(), 8);
        assert_eq!(lane.len(), 4);
        let mut out = Vec::new();
        lane.write_to(&mut out).unwrap();
        assert_eq!(out, b"BBDD");
        assert!(lane.into_buffer().is_none(), "still shared");
        let last = CopyRows::shared(buffer, vec![0..2, 2..2], false);
        assert_eq!(last.charge(), 0);
        assert_eq!(last.into_buffer().as_deref(), Some(&b"aaBBccDD"[..]));
    }

    #[test]
    fn scattered_rows_are_joined_into_pieces_of_at_most_64_kib() {
        struct Writes(Vec<usize>);
        impl Write for Writes {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.push(buf.len());
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Arc::new(vec![7u8; 1_000_000]);
        let ranges: Vec<Range<usize>> = (0..2000).map(|n| n * 500..n * 500 + 100).collect();
        let rows = CopyRows::shared(buffer, ranges, true);
        let mut writes = Writes(Vec::new());
        rows.write_to(&mut writes).unwrap();
        assert_eq!(writes.0.iter().sum::<usize>(), 200_000);
        assert!(writes.0.iter().all(|&n| n <= COPY_PIECE_BYTES));
        assert_eq!(writes.0.len(), 4);
    }
}
