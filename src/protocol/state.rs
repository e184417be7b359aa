//! The state tracker: the only writer to stdout.
//!
//! Every record gets a sequence number as it is read. A STATE message is stamped with the
//! number of records read before it (its watermark). Each open batch, buffered or being
//! flushed, is remembered by the sequence number of its oldest record. A state may go out
//! once no open batch is older than its watermark: then every record before it is committed.
//! Only the latest eligible state is written, and never the same value twice in a row.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Where eligible states go.
pub trait StateOutput: Send {
    /// The text to hold for a STATE's value as it arrives, in input order (Mage merges each
    /// state's bookmarks into the ones before it here, so that none is lost when only the
    /// latest eligible state is written). The value itself by default.
    fn prepare(&mut self, value: &str) -> String {
        value.to_string()
    }

    /// Writes one prepared state, durably enough that the next run finds it.
    fn write_state(&mut self, value: &str) -> std::io::Result<()>;

    /// Where the states go, for an error message.
    fn describe(&self) -> String {
        "stdout".to_string()
    }
}

/// Singer's convention: each state value on a line of its own (stdout in production).
pub struct StateLines<W>(pub W);

impl<W: Write + Send> StateOutput for StateLines<W> {
    fn write_state(&mut self, value: &str) -> std::io::Result<()> {
        writeln!(self.0, "{value}")?;
        self.0.flush()
    }
}

/// Shared between the reader (which stamps states and opens batches) and the flush workers
/// (which close batches as they commit).
pub struct StateTracker {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Oldest record sequence of each open batch → how many open batches start there.
    open_batches: BTreeMap<u64, usize>,
    /// States waiting for their records, oldest first: (watermark, JSON text).
    waiting: VecDeque<(u64, String)>,
    /// The last state written, to avoid writing it twice.
    last_written: Option<String>,
    /// Where states go.
    out: Box<dyn StateOutput>,
    /// Whether emission is still allowed (false after a failure).
    enabled: bool,
}

impl StateTracker {
    /// A tracker writing to `out` (stdout in production).
    pub fn new(out: Box<dyn StateOutput>) -> StateTracker {
        StateTracker {
            inner: Mutex::new(Inner {
                open_batches: BTreeMap::new(),
                waiting: VecDeque::new(),
                last_written: None,
                out,
                enabled: true,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked mid-update; the data is a set
        // of counters that stays consistent, so carry on rather than cascade the panic.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A batch whose oldest record has sequence `first_seq` was opened.
    pub fn open_batch(&self, first_seq: u64) {
        *self.lock().open_batches.entry(first_seq).or_insert(0) += 1;
    }

    /// The batch opened at `first_seq` is committed (or was discarded empty).
    pub fn close_batch(&self, first_seq: u64) -> Result<()> {
        let mut inner = self.lock();
        if let Some(count) = inner.open_batches.get_mut(&first_seq) {
            *count -= 1;
            if *count == 0 {
                inner.open_batches.remove(&first_seq);
            }
        }
        inner.emit_ready()
    }

    /// A STATE arrived after `records_before` records.
    pub fn push_state(&self, records_before: u64, value: &str) -> Result<()> {
        let mut inner = self.lock();
        let prepared = inner.out.prepare(value);
        inner.waiting.push_back((records_before, prepared));
        inner.emit_ready()
    }

    /// Stops all further output (after a failure nothing uncommitted may be acknowledged;
    /// states already eligible were written when they became so).
    pub fn disable(&self) {
        self.lock().enabled = false;
    }

    /// Number of states still waiting for data to commit.
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }
}

impl Inner {
    fn emit_ready(&mut self) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let oldest_open = self.open_batches.keys().next().copied().unwrap_or(u64::MAX);
        let mut latest = None;
        while let Some((watermark, _)) = self.waiting.front() {
            if *watermark > oldest_open {
                break;
            }
            latest = self.waiting.pop_front().map(|(_, value)| value);
        }
        let Some(value) = latest else {
            return Ok(());
        };
        if self.last_written.as_deref() == Some(value.as_str()) {
            return Ok(());
        }
        // A closed stdout (a broken pipe) ends the run: states could no longer be delivered.
        self.out
            .write_state(&value)
            .map_err(|source| Error::Output {
                what: self.out.describe(),
                source,
            })?;
        log::debug!("state emitted");
        self.last_written = Some(value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn state_waits_for_older_batches_to_commit() {
        let sink = Sink::default();
        let tracker = StateTracker::new(Box::new(StateLines(sink.clone())));
        tracker.open_batch(0); // records 0.. in stream a
        tracker.open_batch(1); // records 1.. in stream b
        tracker.push_state(2, "{\"s\":1}").unwrap();
        assert_eq!(sink.text(), "");
        tracker.close_batch(1).unwrap();
        assert_eq!(sink.text(), "", "stream a still holds record 0");
        tracker.close_batch(0).unwrap();
        assert_eq!(sink.text(), "{\"s\":1}\n");
    }

    #[test]
    fn only_the_latest_eligible_state_is_written() {
        let sink = Sink::default();
        let tracker = StateTracker::new(Box::new(StateLines(sink.clone())));
        tracker.open_batch(0);
        tracker.push_state(1, "1").unwrap();
        tracker.push_state(1, "2").unwrap();
        tracker.open_batch(5);
        tracker.push_state(6, "3").unwrap();
        tracker.close_batch(0).unwrap();
        assert_eq!(sink.text(), "2\n");
        tracker.close_batch(5).unwrap();
        assert_eq!(sink.text(), "2\n3\n");
    }

    #[test]
    fn state_before_any_record_goes_out_at_once() {
        let sink = Sink::default();
        let tracker = StateTracker::new(Box::new(StateLines(sink.clone())));
        tracker.push_state(0, "{}").unwrap();
        assert_eq!(sink.text(), "{}\n");
    }

    #[test]
    fn unchanged_state_is_not_written_twice() {
        let sink = Sink::default();
        let tracker = StateTracker::new(Box::new(StateLines(sink.clone())));
        tracker.push_state(0, "7").unwrap();
        tracker.push_state(0, "7").unwrap();
        assert_eq!(sink.text(), "7\n");
    }

    #[test]
    fn state_after_a_newer_open_batch_is_still_eligible() {
        // A batch opened after the state's watermark does not hold the state back.
        let sink = Sink::default();
        let tracker = StateTracker::new(Box::new(StateLines(sink.clone())));
        tracker.open_batch(3);
        tracker.push_state(3, "\"ok\"").unwrap();
        assert_eq!(sink.text(), "\"ok\"\n");
    }

    /// A stdout whose reader went away.
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stdout_fails_the_state_write_naming_stdout() {
        let tracker = StateTracker::new(Box::new(StateLines(ClosedPipe)));
        let Err(error) = tracker.push_state(0, "1") else {
            panic!("a state write into a closed pipe succeeded");
        };
        assert!(
            error
                .to_string()
                .starts_with("stdout was closed by its reader"),
            "{error}"
        );
    }

    #[test]
    fn disabled_tracker_writes_nothing() {
        let sink = Sink::default();
        let tracker = StateTracker::new(Box::new(StateLines(sink.clone())));
        tracker.disable();
        tracker.push_state(0, "1").unwrap();
        assert_eq!(sink.text(), "");
    }
}
