//! What follows a committed flush, told to the flush workers as their [`OnCommit`]
//! callback: the batches the job completes close for the state tracker (so states after
//! them may go out), its counts join the run's totals, and in Mage's log format Mage gets
//! its `Export data completed.` line.

use std::sync::Arc;

use crate::db::flush::{FlushCounts, FlushJob};
use crate::db::workers::OnCommit;
use crate::load::summary::CommittedTotals;
use crate::logging;
use crate::protocol::state::StateTracker;

/// The callback the flush workers run after each commit.
pub fn on_commit(tracker: Arc<StateTracker>, totals: Arc<CommittedTotals>) -> OnCommit {
    let mage_lines = logging::is_mage_format();
    Box::new(move |job, counts, elapsed| {
        for &seq in &job.closes {
            tracker.close_batch(seq)?;
        }
        totals.add(job, counts, elapsed);
        if mage_lines && job.row_count > 0 {
            log_export_completed(job, counts);
        }
        Ok(())
    })
}

/// Mage's line after each committed batch, with the tags Mage's own destinations give it,
/// counted the way Mage's own PostgreSQL destination counts: every row written (inserted or
/// changed by the merge) is in `records_inserted` and `records_affected`, and
/// `records_updated` is 0. Mage's UI shows `records_updated` as the rows processed whenever
/// it is not 0, and then ignores `records_inserted`; so a real update count there would
/// hide the inserted rows. The split is kept in `inserted`, `updated` and `deleted`, tags
/// Mage's metrics do not read.
fn log_export_completed(job: &FlushJob, counts: FlushCounts) {
    let (schema_name, table_name) = &job.names;
    let written = counts.inserted + counts.updated;
    log::info!(
        records = job.row_count as u64,
        records_affected = written,
        records_inserted = written,
        records_updated = 0u64,
        inserted = counts.inserted,
        updated = counts.updated,
        deleted = counts.deleted,
        stream = job.stream.as_str(),
        schema_name = schema_name.as_str(),
        table_name = table_name.as_str();
        "Export data completed."
    );
}
