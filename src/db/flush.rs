//! One flush: a transaction that runs pending DDL, COPYs a batch of encoded rows, merges
//! them when keys may already exist, and commits.
//!
//! The job owns its bytes, so a transient failure (lost connection, server restart,
//! serialization failure, deadlock) rolls back and replays the very same bytes: nothing is
//! lost or doubled. Data errors are never retried; [`super::retry`] decides which are
//! transient.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::Client;

use crate::db::citus;
use crate::db::connect::Pool;
use crate::db::copy_rows::CopyRows;
use crate::db::lock_wait::LockWatch;
use crate::db::retry::{is_ddl_race, is_transient};
use crate::db::sql::{self, MergeSql};
use crate::encode::{COPY_HEADER, COPY_TRAILER};
use crate::error::{Error, Result};

/// Attempts per flush before a transient error becomes fatal.
const MAX_ATTEMPTS: u32 = 5;

/// How the rows of a job reach the table.
#[derive(Debug, Clone)]
pub enum WriteMode {
    /// COPY straight into the table.
    Copy {
        /// The COPY statement.
        copy: Arc<str>,
    },
    /// COPY into a stage, then merge by key.
    Merge {
        /// The merge statements.
        sql: Arc<MergeSql>,
        /// For a table that started empty (or that this run created): COPY straight into
        /// the table first, since none of the keys can be there yet.
        direct: Option<DirectCopy>,
    },
}

impl WriteMode {
    /// Whether rows are merged into rows already there (not, or no longer, COPYed straight
    /// into the table).
    pub fn merges_existing_rows(&self) -> bool {
        match self {
            WriteMode::Copy { .. } => false,
            WriteMode::Merge { direct, .. } => direct
                .as_ref()
                .is_none_or(|direct| !direct.enabled.load(Ordering::Acquire)),
        }
    }
}

/// The optimistic path of a keyed load into a table that held no rows: a plain COPY into
/// the table, which the unique index checks. The first conflict (a key seen in an earlier
/// flush) rolls the transaction back, replays the flush as a merge, and turns the path off
/// for the rest of the run. (A savepoint around the COPY would avoid the replay, but costs
/// every flush a subtransaction for the sake of the one that conflicts.)
#[derive(Debug, Clone)]
pub struct DirectCopy {
    /// COPY into the table itself.
    pub copy: Arc<str>,
    /// Shared by every flush of the table: true until a conflict is seen.
    pub enabled: Arc<AtomicBool>,
}

/// A batch of one stream, ready to be written.
#[derive(Debug)]
pub struct FlushJob {
    /// Jobs with the same table id and lane commit in submission order.
    pub table_id: usize,
    /// The lane of the table the job runs in: jobs of different lanes of one table may run
    /// at once, on their own connections.
    pub lane: usize,
    /// A barrier runs alone: after every job of its table submitted before it, and before
    /// any submitted after it (DDL, the first flush of a new table generation, statements).
    pub barrier: bool,
    /// Quoted, qualified table name (for messages).
    pub table: String,
    /// The schema and table names, unquoted (for Mage's log tags).
    pub names: (String, String),
    /// The stream the rows came from.
    pub stream: String,
    /// DDL to run first, in the same transaction.
    pub ddl: Vec<String>,
    /// How to write the rows.
    pub mode: WriteMode,
    /// Binary COPY tuples (no header, no trailer).
    pub rows: CopyRows,
    /// Number of tuples in `rows`.
    pub row_count: usize,
    /// Open batches (by their oldest record's sequence number) this job's commit completes,
    /// for the state tracker: usually its own batch; for an overwrite, the swap completes
    /// every batch that was staged for it.
    pub closes: Vec<u64>,
    /// First and last input line of the batch, for messages.
    pub lines: (u64, u64),
}

/// What a committed flush did.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlushCounts {
    /// Rows inserted.
    pub inserted: u64,
    /// Rows updated (changed values only).
    pub updated: u64,
    /// Rows deleted (hard deletes).
    pub deleted: u64,
}

/// Which step failed, to tell a concurrent-DDL race from a data error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Ddl,
    Data,
    /// The direct COPY of a keyed batch met a key that is already in the table.
    KeyConflict,
    /// COMMIT itself failed: the outcome is unknown to us.
    Commit,
}

impl FlushJob {
    /// The job with rows to write in `mode`: `rows` holds `row_count` binary COPY tuples.
    pub fn with_rows(self, mode: WriteMode, rows: CopyRows, row_count: usize) -> FlushJob {
        FlushJob {
            mode,
            rows,
            row_count,
            ..self
        }
    }

    /// The job in `lane` of its table, a barrier or not.
    pub fn in_lane(self, lane: usize, barrier: bool) -> FlushJob {
        FlushJob {
            lane,
            barrier,
            ..self
        }
    }

    /// Runs the job on a pooled connection, replaying it on transient failures; `watch`
    /// reports it if it waits for a lock.
    pub fn run(&self, pool: &Pool, watch: &LockWatch) -> Result<FlushCounts> {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        let watching = watch.watch(self.describe());
        loop {
            let started = Instant::now();
            let outcome = pool
                .get()
                .map_err(|source| {
                    let context = format!("getting a connection to flush table {}", self.table);
                    (Step::Data, Error::Pool { context, source })
                })
                .and_then(|mut session| {
                    watching.on_session(session.pid);
                    let outcome = self.run_once(&mut session.client);
                    watching.on_session(None);
                    outcome
                });
            match outcome {
                Ok(counts) => {
                    log::debug!(
                        "flushed {} rows of stream \"{}\" into {} (lane {}) in {:?}",
                        self.row_count,
                        self.stream,
                        self.table,
                        self.lane,
                        started.elapsed()
                    );
                    return Ok(counts);
                }
                Err((Step::Commit, error))
                    if matches!(self.mode, WriteMode::Copy { .. }) && self.row_count > 0 =>
                {
                    // The server may have committed before the connection broke. Replaying an
                    // append would then store the rows twice: stop instead, and say so.
                    return Err(Error::CommitUnknown(format!(
                        "the connection broke while committing {} rows into {} (stream \"{}\", lines {}-{}); \
                         whether they were stored is unknown, so they are not sent again: {error}",
                        self.row_count, self.table, self.stream, self.lines.0, self.lines.1
                    )));
                }
                Err((Step::KeyConflict, _)) => {
                    // Not a failure: the optimistic direct COPY met an existing key and was
                    // rolled back with its transaction. Replay at once as a merge.
                    log::debug!(
                        "table {}: a key already exists; merging from now on",
                        self.table
                    );
                }
                Err((step, error)) => {
                    let retry = is_transient(&error) || (step == Step::Ddl && is_ddl_race(&error));
                    if !retry || attempt >= MAX_ATTEMPTS {
                        return Err(error);
                    }
                    log::warn!(
                        "flush of table {} failed ({error}); retrying (attempt {} of {MAX_ATTEMPTS})",
                        self.table,
                        attempt + 1
                    );
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
            }
        }
    }

    /// The job in words, for the lock-wait warning.
    fn describe(&self) -> String {
        if self.stream.is_empty() {
            format!("the statements for table {}", self.table)
        } else {
            format!("flush of table {} (stream \"{}\")", self.table, self.stream)
        }
    }

    /// What we were doing, naming the table, stream and lines, for an error message.
    fn context(&self, what: &str) -> String {
        format!(
            "{what} table {} (stream \"{}\", lines {}-{})",
            self.table, self.stream, self.lines.0, self.lines.1
        )
    }

    /// A driver error of a data step, with what we were doing.
    fn data_error(&self, what: &str, error: postgres::Error) -> (Step, Error) {
        (Step::Data, Error::db(self.context(what), error))
    }

    fn run_once(&self, client: &mut Client) -> Result<FlushCounts, (Step, Error)> {
        let data = |what: &'static str| move |e| self.data_error(what, e);
        let mut transaction = client.transaction().map_err(data("beginning a flush of"))?;
        self.run_ddl(&mut transaction)?;
        let counts = if self.row_count == 0 {
            FlushCounts::default()
        } else {
            match &self.mode {
                WriteMode::Copy { copy } => {
                    copy_rows(&mut transaction, copy, &self.rows).map_err(data("copying into"))?;
                    FlushCounts {
                        inserted: self.row_count as u64,
                        ..FlushCounts::default()
                    }
                }
                WriteMode::Merge { sql: merge, direct } => {
                    if let Some(direct) = direct
                        .as_ref()
                        .filter(|d| d.enabled.load(Ordering::Acquire))
                    {
                        copy_rows(&mut transaction, &direct.copy, &self.rows).map_err(|e| {
                            let step = if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                                // A key from an earlier flush: the caller turns the direct
                                // path off and replays this flush as a merge.
                                direct.enabled.store(false, Ordering::Release);
                                Step::KeyConflict
                            } else {
                                Step::Data
                            };
                            (step, Error::db(self.context("copying into"), e))
                        })?;
                        transaction.commit().map_err(data("committing"))?;
                        return Ok(FlushCounts {
                            inserted: self.row_count as u64,
                            ..FlushCounts::default()
                        });
                    }
                    self.merge_staged(&mut transaction, merge)?
                }
            }
        };
        transaction
            .commit()
            .map_err(|e| (Step::Commit, Error::db(self.context("committing"), e)))?;
        Ok(counts)
    }

    /// Runs the job's pending DDL in the flush's transaction.
    fn run_ddl(&self, transaction: &mut postgres::Transaction<'_>) -> Result<(), (Step, Error)> {
        for statement in &self.ddl {
            transaction.batch_execute(statement).map_err(|e| {
                // Only idempotent DDL may have lost a race to a concurrent run; a failed
                // ALTER (a primary key over duplicate rows, say) is the user's to fix.
                let step =
                    if sql::is_idempotent_ddl(statement) || citus::is_distribution_ddl(statement) {
                        Step::Ddl
                    } else {
                        Step::Data
                    };
                (
                    step,
                    Error::db(format!("{}: {statement}", self.context("changing")), e),
                )
            })?;
        }
        Ok(())
    }

    /// COPYs the rows into a stage and merges them into the table by key; under hard deletes
    /// the keys of rows marked deleted are deleted instead.
    fn merge_staged(
        &self,
        transaction: &mut postgres::Transaction<'_>,
        merge: &MergeSql,
    ) -> Result<FlushCounts, (Step, Error)> {
        let data = |what: &'static str| move |e| self.data_error(what, e);
        transaction
            .batch_execute(&merge.create_stage)
            .map_err(data("staging rows for"))?;
        copy_rows(transaction, &merge.copy_stage, &self.rows)
            .map_err(data("copying into the stage of"))?;
        let (inserted, updated) = transaction
            .query_one(merge.merge.as_str(), &[])
            .and_then(|row| Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, i64>(1)?)))
            .map_err(data("merging into"))?;
        let deleted = match &merge.delete {
            Some(delete) => transaction
                .query_one(delete.as_str(), &[])
                .and_then(|row| row.try_get::<_, i64>(0))
                .map_err(data("deleting from"))?,
            None => 0,
        };
        Ok(FlushCounts {
            inserted: inserted.max(0) as u64,
            updated: updated.max(0) as u64,
            deleted: deleted.max(0) as u64,
        })
    }
}

/// Streams header, rows and trailer through one COPY; `finish` makes the server check it.
fn copy_rows(
    transaction: &mut postgres::Transaction<'_>,
    statement: &str,
    rows: &CopyRows,
) -> Result<u64, postgres::Error> {
    let mut writer = transaction.copy_in(statement)?;
    // Write errors surface as the server's error on finish(); the io::Error itself only
    // says the stream broke.
    let written = writer
        .write_all(COPY_HEADER)
        .and_then(|()| rows.write_to(&mut writer))
        .and_then(|()| writer.write_all(COPY_TRAILER));
    match written {
        Ok(()) => writer.finish(),
        Err(_) => writer.finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyed_load_merges_existing_rows_once_its_direct_copy_is_off() {
        let copy = WriteMode::Copy { copy: "".into() };
        assert!(!copy.merges_existing_rows());
        let enabled = Arc::new(AtomicBool::new(true));
        let merge = |direct: Option<DirectCopy>| WriteMode::Merge {
            sql: Arc::new(MergeSql::default()),
            direct,
        };
        let direct = DirectCopy {
            copy: "".into(),
            enabled: Arc::clone(&enabled),
        };
        assert!(!merge(Some(direct.clone())).merges_existing_rows());
        enabled.store(false, Ordering::Release);
        assert!(merge(Some(direct)).merges_existing_rows());
        assert!(merge(None).merges_existing_rows());
    }
}
