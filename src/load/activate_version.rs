//! ACTIVATE_VERSION (Meltano's semantics): once the stream's rows are flushed, rows of
//! older versions (or none) are deleted with `hard_delete`, else marked deleted. It needs
//! the version in the table (`add_record_metadata`); without it the message is ignored with
//! a warning rather than treating every row as old.
//!
//! The message counts like a record for the states after it: they wait for its statement.

use crate::db::sql;
use crate::error::{Error, Result};
use crate::load::{flush_job, Loader};
use crate::schema::plan::{DELETED_AT_COLUMN, TABLE_VERSION_COLUMN};

impl Loader<'_> {
    pub(super) fn on_activate_version(
        &mut self,
        stream_name: &str,
        version: i64,
        line: u64,
    ) -> Result<()> {
        if !self.settings.activate_version {
            return Ok(());
        }
        let Some(stream) = self.streams.get(stream_name) else {
            return Err(Error::Stream {
                line,
                stream: stream_name.to_string(),
                message: "ACTIVATE_VERSION before its SCHEMA".into(),
            });
        };
        let table_id = stream.table_id;
        self.flush_table(table_id)?;
        let hard_delete = self.settings.hard_delete;
        let table = self.tables.model_mut(table_id)?;
        let has = |name: &str| table.column(name).is_some();
        if !has(TABLE_VERSION_COLUMN) || (!hard_delete && !has(DELETED_AT_COLUMN)) {
            log::warn!(
                "line {line}: ACTIVATE_VERSION for stream \"{stream_name}\" ignored: {} has no {TABLE_VERSION_COLUMN} column (set add_record_metadata)",
                table.qualified
            );
            return Ok(());
        }
        let statement = if hard_delete {
            sql::delete_older_versions(&table.qualified, TABLE_VERSION_COLUMN, version)
        } else {
            sql::mark_older_versions_deleted(
                &table.qualified,
                TABLE_VERSION_COLUMN,
                DELETED_AT_COLUMN,
                version,
            )
        };
        let seq = self.records_read;
        self.records_read += 1;
        self.tracker.open_batch(seq);
        let mut ddl = table.take_pending_ddl();
        ddl.push(statement);
        let job = flush_job(table, stream_name, ddl, vec![seq], (line, line));
        self.workers.submit(job)
    }
}
