//! The load: reads messages on the reader thread, hands each to its handler, fills the
//! streams' row buffers and turns full ones into flush jobs for the workers.
//!
//! One file per message kind, as mini-redis keeps one per command: [`schema`] (SCHEMA, and
//! Mage's catalog streams), [`record`] (RECORD), [`batch`] (BATCH files, whose lines take
//! the RECORD path), [`activate_version`]; STATE goes straight to the state tracker. Beside
//! them: [`dead_letter`] (`invalid_records`), [`budget`] (the memory bound and the flush
//! triggers), [`commit`] (what follows a committed flush), [`summary`] (progress and
//! totals). The model the handlers work on: [`stream`] (a stream and the encoding of its
//! records), [`write_plan`] (how its rows reach its table), [`row_buffer`] (its encoded
//! rows), [`table`] (each target table and its queued DDL).
//!
//! The reader talks to the database only when a stream first targets a table (one catalog
//! read) and waits on the workers only when the memory bound is reached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::Client;

use crate::config::Settings;
use crate::db::connect::{build_pool, connect_direct, connect_settled};
use crate::db::copy_rows::CopyRows;
use crate::db::flush::{FlushJob, WriteMode};
use crate::db::lock_wait::LockWatch;
use crate::db::workers::Workers;
use crate::encode::value::{EncodeOptions, EncodeStats};
use crate::error::{Error, Result};
use crate::fast_hash::FastMap;
use crate::mage;
use crate::mage::catalog::Catalog;
use crate::protocol::message::Message;
use crate::protocol::reader::{LineReader, NextLine};
use crate::protocol::state::{StateOutput, StateTracker};
use crate::schema::naming::NamingOptions;
use crate::schema::plan::{ColumnOptions, TargetOptions};
use crate::shutdown::Shutdown;

mod activate_version;
mod batch;
mod budget;
mod citus;
mod commit;
mod dead_letter;
mod record;
mod route;
pub mod row_buffer;
mod schema;
pub mod stream;
pub mod summary;
pub mod table;
pub mod write_plan;

use budget::Budget;
use dead_letter::DeadLetters;
use route::{Route, Unloaded};
use row_buffer::LaneChoice;
use stream::Stream;
use summary::{CommittedTotals, Progress, Summary};
use table::{TableModel, Tables};
use write_plan::WritePolicy;

/// How often a silent input is interrupted to look for a stop signal.
const SIGNAL_POLL: Duration = Duration::from_millis(250);

/// How often (in records) the reader checks the workers' health, the batch ages and progress.
const HOUSEKEEPING_EVERY: u64 = 1024;

/// Loads everything `reader` yields; states go to `state_out`. `catalog` is Mage's
/// `--catalog_json`, which decides the schemas of the streams it lists.
pub fn run(
    settings: &Settings,
    catalog: Option<&Catalog>,
    reader: LineReader,
    state_out: Box<dyn StateOutput>,
    shutdown: &Shutdown,
) -> Result<Summary> {
    let started = Instant::now();
    let mut loader = Loader::start(settings, catalog, state_out, shutdown)?;
    let result = loader.read_all(reader);
    if result.is_err() {
        loader.tracker.disable();
    }
    result?;
    loader.finish(started)
}

/// The reader thread's state: the streams and tables of the run and everything the
/// handlers share.
struct Loader<'s> {
    /// The run's settings.
    settings: &'s Settings,
    /// Mage's catalog, when given.
    catalog: Option<&'s Catalog>,
    /// The reader's own connection, for catalog reads and `after_run_sql`.
    client: Client,
    /// Its backend pid, for the lock-wait watch.
    client_pid: Option<i32>,
    /// Reports flushes and catalog reads that wait for a lock.
    lock_watch: Arc<LockWatch>,
    /// Every target table of the run.
    tables: Tables,
    /// Every stream with a SCHEMA, by name.
    streams: FastMap<String, Stream>,
    /// Streams that stream maps load as other streams (or not at all), by the tap's name.
    routes: FastMap<String, Arc<Route>>,
    /// Records routes did not load, by the tap's stream name.
    unloaded: FastMap<String, Unloaded>,
    /// The `stream_maps` keys that matched a stream of the run (None: no SCHEMA yet).
    matched_keys: Option<std::collections::HashSet<String>>,
    /// The flush workers.
    workers: Workers,
    /// Holds states until what came before them is committed.
    tracker: Arc<StateTracker>,
    /// Per-stream totals of committed flushes.
    totals: Arc<CommittedTotals>,
    /// Records read (set-aside ones and ACTIVATE_VERSION messages included): the sequence
    /// number of the next record, which states are stamped with.
    records_read: u64,
    /// Counters of the encoders.
    stats: EncodeStats,
    /// How values are encoded.
    options: EncodeOptions,
    /// How a SCHEMA becomes columns.
    column_options: ColumnOptions<'s>,
    /// How a stream name becomes a table.
    target_options: TargetOptions<'s>,
    /// What decides a stream's write mode.
    policy: WritePolicy,
    /// The memory bound and flush sizes.
    budget: Budget,
    /// Records set aside by `invalid_records`.
    dead_letters: DeadLetters,
    /// Progress lines.
    progress: Progress,
    /// Whether rows carry columns filled from the message around the record (`_sdc_*`,
    /// `_mage_*`, Mage's constants), so each record needs its metadata.
    fills_metadata: bool,
    /// Citus distributed tables already told that their merges do not use lanes.
    merged_whole: std::collections::HashSet<usize>,
    /// Set by SIGTERM / SIGINT.
    shutdown: &'s Shutdown,
}

impl<'s> Loader<'s> {
    /// Connects, runs `before_run_sql`, and starts the flush workers.
    fn start(
        settings: &'s Settings,
        catalog: Option<&'s Catalog>,
        state_out: Box<dyn StateOutput>,
        shutdown: &'s Shutdown,
    ) -> Result<Loader<'s>> {
        let (session, endpoint) = connect_settled(&settings.connection)?;
        let mut client = session.client;
        for statement in &settings.before_run_sql {
            client
                .batch_execute(statement)
                .map_err(|e| Error::db("running before_run_sql", e))?;
        }
        let lock_watch = Arc::new(LockWatch::start(
            endpoint.clone(),
            settings.lock_wait_warning,
        ));
        let pool = build_pool(endpoint, &settings.connection, settings.max_parallelism)?;
        let tracker = Arc::new(StateTracker::new(state_out));
        let totals = Arc::new(CommittedTotals::default());
        let budget = Budget::new(settings);
        let workers = Workers::start(
            pool,
            Arc::clone(&lock_watch),
            settings.max_parallelism,
            settings.lanes,
            (budget.queue_bytes(), budget.spare_capacity_max()),
            commit::on_commit(Arc::clone(&tracker), Arc::clone(&totals)),
        );
        let mut loader = Loader {
            settings,
            catalog,
            client,
            client_pid: session.pid,
            lock_watch,
            tables: Tables::default(),
            streams: FastMap::default(),
            routes: FastMap::default(),
            unloaded: FastMap::default(),
            matched_keys: None,
            workers,
            tracker,
            totals,
            records_read: 0,
            stats: EncodeStats::default(),
            options: encode_options(settings),
            column_options: column_options(settings),
            target_options: target_options(settings),
            policy: WritePolicy {
                load_method: settings.load_method,
                hard_delete: settings.hard_delete,
            },
            budget,
            dead_letters: DeadLetters::default(),
            progress: Progress::new(settings.progress_interval),
            fills_metadata: settings.add_record_metadata
                || settings.mage_mode
                || !settings.constant_columns.is_empty(),
            merged_whole: std::collections::HashSet::new(),
            shutdown,
        };
        loader.check_citus_setting()?;
        Ok(loader)
    }

    /// Reads every line and hands each message to its handler.
    fn read_all(&mut self, mut reader: LineReader) -> Result<()> {
        loop {
            if self.shutdown.requested() {
                log::warn!("stop requested by signal: flushing what was read, then exiting");
                return Ok(());
            }
            // Wake up now and then to notice a signal even while the tap is silent.
            let deadline = || {
                let wake = Instant::now() + SIGNAL_POLL;
                Some(self.oldest_batch_deadline().map_or(wake, |d| d.min(wake)))
            };
            let (line, text) = match reader.next_line_until(deadline)? {
                NextLine::Line(line, text) => (line, text),
                NextLine::Timeout => {
                    self.housekeeping()?;
                    continue;
                }
                NextLine::End => return Ok(()),
            };
            let message = match self.parse_line(text, line) {
                Ok(message) => message,
                Err(_) if self.settings.mage_mode && mage::skip_input_noise(text, line) => continue,
                Err(error) => return Err(error),
            };
            match message {
                Message::Record(record) => self.on_record(record, line, text)?,
                Message::Schema(schema) => self.on_schema(schema, line)?,
                Message::State { value } => {
                    self.tracker.push_state(self.records_read, value.get())?
                }
                Message::ActivateVersion { stream, version } => {
                    match self.routes.get(&stream).cloned() {
                        Some(route) => self.routed_activate_version(&route, version, line)?,
                        None => self.on_activate_version(&stream, version, line)?,
                    }
                }
                Message::Batch(batch) => self.on_batch(batch, line)?,
                Message::Ignored { kind } => log::debug!("line {line}: {kind} message skipped"),
            }
        }
    }

    /// Surfaces a flush failure early, writes progress, and flushes aged batches.
    fn housekeeping(&mut self) -> Result<()> {
        if let Some(error) = self.workers.take_failure() {
            return Err(error);
        }
        self.progress
            .log_now_and_then(self.records_read, &self.totals);
        self.flush_aged_batches()
    }

    /// The reader's own connection (catalog reads, `after_run_sql`) may have died with a
    /// server restart that the flushes rode out: connect again then.
    fn reconnect_if_closed(&mut self) -> Result<()> {
        if self.client.is_closed() {
            log::warn!("the connection for catalog reads was lost; reconnecting");
            let session = connect_direct(&self.settings.connection)?;
            self.client = session.client;
            self.client_pid = session.pid;
        }
        Ok(())
    }

    /// Hands a stream's buffered rows to the workers: one flush job per lane that has rows
    /// (or one job running alone for a keyed batch too small to split). Only the first job
    /// carries the table's queued DDL, as a barrier the other lanes wait for; each job
    /// completes the batch for the states, which opens it once per extra job so that it
    /// closes only when every lane has committed its part.
    fn flush_stream(&mut self, name: &str) -> Result<()> {
        let Some(stream) = self.streams.get_mut(name) else {
            return Ok(());
        };
        if stream.rows.is_empty() {
            return Ok(());
        }
        let table = self.tables.model_mut(stream.table_id)?;
        let Some(mode) = stream.write_mode() else {
            return Err(Error::Internal("stream without a plan has rows".into()));
        };
        self.budget.released(stream.rows.byte_len());
        // A merge into a Citus distributed table already fans out to every shard; split
        // over lanes it measured slower (0.46-0.49 of a raw COPY against 0.52-0.57 whole).
        let parts = if table.is_distributed() && mode.merges_existing_rows() {
            if self.settings.lanes > 1 && self.merged_whole.insert(table.id) {
                log::info!(
                    "table {}: merges into this Citus distributed table run one at a time \
                     (lanes apply to its COPYs only)",
                    table.qualified
                );
            }
            vec![(LaneChoice::Alone, stream.rows.take())]
        } else {
            stream.rows.take_lanes()
        };
        stream.flushes = stream.flushes.saturating_add(1);
        let Some(first_seq) = parts.first().map(|(_, part)| part.first_seq) else {
            return Ok(());
        };
        let closes = table.batches_completed_by_flush(first_seq);
        for _ in 1..parts.len() {
            closes.iter().for_each(|&seq| self.tracker.open_batch(seq));
        }
        let mut ddl = table.take_flush_ddl();
        let mut barrier = table.starts_generation() || !ddl.is_empty();
        let prologue = table.flush_prologue();
        for (choice, rows) in parts {
            let lane = match choice {
                LaneChoice::Lane(lane) => lane,
                LaneChoice::Alone => {
                    barrier = true;
                    0
                }
            };
            let statements = [prologue.clone(), std::mem::take(&mut ddl)].concat();
            let job = flush_job(table, &stream.name, statements, closes.clone(), rows.lines)
                .with_rows(mode.clone(), rows.rows, rows.row_count)
                .in_lane(lane, std::mem::take(&mut barrier));
            self.workers.submit(job)?;
        }
        Ok(())
    }

    /// Flushes every stream that loads into `table_id`.
    fn flush_table(&mut self, table_id: usize) -> Result<()> {
        let names: Vec<String> = self
            .streams
            .values()
            .filter(|s| s.table_id == table_id && !s.rows.is_empty())
            .map(|s| s.name.clone())
            .collect();
        for name in names {
            self.flush_stream(&name)?;
        }
        Ok(())
    }

    fn flush_all(&mut self) -> Result<()> {
        let names: Vec<String> = self.streams.keys().cloned().collect();
        for name in names {
            self.flush_stream(&name)?;
        }
        Ok(())
    }

    /// End of input: flush everything, swap overwritten tables in, create the tables no row
    /// carried DDL for, wait for the workers, run `after_run_sql`, and sum the run up.
    fn finish(mut self, started: Instant) -> Result<Summary> {
        self.flush_all()?;
        self.log_unloaded();
        if !self.settings.after_run_sql.is_empty() {
            self.reconnect_if_closed()?;
        }
        // Overwrites end here: each table's rows replaced by the staged ones in one
        // transaction, which also completes every staged batch for the states.
        for table in self.tables.iter_mut() {
            if let Some((ddl, closes)) = table.take_overwrite_swap() {
                self.workers
                    .submit(flush_job(table, "", ddl, closes, (0, 0)))?;
            }
        }
        // Tables whose DDL no row carried (a stream with a SCHEMA and no records) still get
        // created: an empty source table should give an empty target table.
        for table in self.tables.iter_mut() {
            if table.has_pending_ddl() {
                let ddl = table.take_flush_ddl();
                self.workers
                    .submit(flush_job(table, "", ddl, Vec::new(), (0, 0)))?;
            }
        }
        let Loader {
            settings,
            mut client,
            workers,
            streams,
            tracker,
            totals,
            records_read,
            stats,
            dead_letters,
            ..
        } = self;
        workers.finish().inspect_err(|_| tracker.disable())?;
        for statement in &settings.after_run_sql {
            client
                .batch_execute(statement)
                .map_err(|e| Error::db("running after_run_sql", e))?;
        }
        let mut summary = Summary {
            records: records_read,
            nul_replaced: stats.nul_replaced,
            set_aside: dead_letters.total(),
            elapsed: started.elapsed(),
            lanes: settings.lanes,
            ..Summary::default()
        };
        let mut names: Vec<&String> = streams.keys().collect();
        names.sort();
        for name in names {
            let mut stream_totals = totals.take(name);
            stream_totals.set_aside = dead_letters.of_stream(name);
            if let Some(stream) = streams.get(name.as_str()) {
                summary.ignored_values += stream.ignored_values;
            }
            summary.streams.push((name.clone(), stream_totals));
        }
        Ok(summary)
    }
}

/// How values are encoded, from the settings.
fn encode_options(settings: &Settings) -> EncodeOptions {
    EncodeOptions {
        sanitize_nul: settings.sanitize_null_text_characters,
        parse_json_strings: settings.mage_mode,
        // Set per column, for arrays of objects (see load::stream).
        json_string_elements: false,
    }
}

/// How property names become column names, from the settings.
fn naming_options(settings: &Settings) -> NamingOptions {
    NamingOptions {
        lower_case: settings.lower_case,
        allow_reserved_words: settings.allow_reserved_words,
    }
}

/// How a SCHEMA becomes columns, from the settings.
fn column_options(settings: &Settings) -> ColumnOptions<'_> {
    ColumnOptions {
        naming: naming_options(settings),
        flattening_max_level: settings.flattening_max_level,
        add_record_metadata: settings.add_record_metadata,
        mage_columns: settings.mage_mode,
        constant_columns: &settings.constant_columns,
    }
}

/// How a stream name becomes a table, from the settings.
fn target_options(settings: &Settings) -> TargetOptions<'_> {
    TargetOptions {
        naming: naming_options(settings),
        schema: &settings.schema,
        schema_mapping: &settings.schema_mapping,
        table: settings.table.as_deref(),
        stream_name_split: settings.stream_name_split,
    }
}

/// The one way a flush job is made: for `table`, on behalf of `stream` (empty for a table's
/// own statements), running `ddl` first and completing the batches in `closes` when it
/// commits. Without [`FlushJob::with_rows`] it only runs its statements.
fn flush_job(
    table: &TableModel,
    stream: &str,
    ddl: Vec<String>,
    closes: Vec<u64>,
    lines: (u64, u64),
) -> FlushJob {
    FlushJob {
        table_id: table.id,
        lane: 0,
        barrier: true,
        table: table.qualified.clone(),
        names: table.names.clone(),
        stream: stream.to_string(),
        ddl,
        mode: WriteMode::Copy { copy: "".into() },
        rows: CopyRows::default(),
        row_count: 0,
        closes,
        lines,
    }
}
