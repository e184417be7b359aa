//! The router: reads messages, keeps the stream registry, fills batches and hands them to the
//! flush workers, and stamps states for the state tracker. The records in a BATCH message's
//! files take the same path as RECORD messages, line by line.
//!
//! Everything here runs on the reader thread. It talks to the database only when a stream
//! first targets a table (one catalog read) and waits on the workers only when the memory
//! bound is reached.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::Client;
use serde_json::{json, Value};

use crate::config::{InvalidRecords, LoadMethod, Settings};
use crate::db::connect::{build_pool, connect_direct, connect_settled};
use crate::db::flush::{FlushJob, WriteMode};
use crate::db::sql::OnConflict;
use crate::db::workers::{StreamTotals, Workers};
use crate::encode::time::micros_to_rfc3339;
use crate::encode::value::{EncodeOptions, EncodeStats, ValueError};
use crate::error::{excerpt, Error, Result};
use crate::fast_hash::FastMap;
use crate::mage;
use crate::mage::catalog::Catalog;
use crate::protocol::batch::{open_batch_file, path_of_file_url, url_for_messages};
use crate::protocol::message::{
    parse_message_into, walk_record, walk_record_line, BatchMessage, Message, RecordBody,
    RecordMessage, RecordSlots, SchemaMessage,
};
use crate::protocol::reader::{LineReader, NextLine};
use crate::protocol::state::{StateOutput, StateTracker};
use crate::schema::flatten::flatten_properties;
use crate::schema::naming::quote_ident;
use crate::schema::naming::{
    clean_name, mage_unique_constraint_name, split_stream_name, unique_names, NamingOptions,
};
use crate::schema::types::column_type_for;
use crate::shutdown::Shutdown;
use crate::stream::{
    Metadata, Property, RecordError, RecordMeta, Stream, StreamSlots, DELETED_AT_COLUMN,
    TABLE_VERSION_COLUMN,
};
use crate::table::{TableModel, Tables, WantedColumn};

/// The reader's budget for all streams' buffers together, in flush chunks.
const READER_BUDGET_CHUNKS: usize = 4;

/// The size of a stream's first flush; later ones double up to the full chunk.
const FIRST_CHUNK_BYTES: usize = 256 * 1024;

/// How often a silent input is interrupted to look for a stop signal.
const SIGNAL_POLL: Duration = Duration::from_millis(250);

/// How often (in records) the reader checks the memory bound and the workers' health.
const HOUSEKEEPING_EVERY: u64 = 1024;

/// What a run did, per stream.
#[derive(Debug, Default)]
pub struct Summary {
    /// Per stream: its totals.
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
}

/// Loads everything `reader` yields; states go to `state_out`. `catalog` is Mage's
/// `--catalog_json`.
pub fn run(
    settings: &Settings,
    catalog: Option<&Catalog>,
    reader: LineReader,
    state_out: Box<dyn StateOutput>,
    shutdown: &Shutdown,
) -> Result<Summary> {
    let started = Instant::now();
    let (mut client, endpoint) = connect_settled(&settings.connection)?;
    for statement in &settings.before_run_sql {
        client
            .batch_execute(statement)
            .map_err(|e| Error::db("running before_run_sql", e))?;
    }
    let pool = build_pool(endpoint, &settings.connection, settings.max_parallelism)?;
    let tracker = Arc::new(StateTracker::new(state_out));
    let flush_chunk_bytes = settings
        .flush_chunk_bytes
        .min(settings.max_buffer_bytes / 4)
        .max(1);
    // Enough queued work to keep every connection busy with the next chunk ready, and no
    // more: a deeper queue only holds memory while the database is the bottleneck.
    let queue_bytes = (flush_chunk_bytes * (settings.max_parallelism + 1))
        .min(settings.max_buffer_bytes / 2)
        .max(1);
    // What the reader may hold across all streams before it flushes the largest buffer;
    // with the queue above, within maximum_batch_size_mb.
    let buffer_budget = (flush_chunk_bytes * READER_BUDGET_CHUNKS)
        .min(settings.max_buffer_bytes / 2)
        .max(1);
    let workers = Workers::start(
        pool,
        Arc::clone(&tracker),
        settings.max_parallelism,
        queue_bytes,
    );
    let mut loader = Loader {
        settings,
        catalog,
        client,
        tables: Tables::default(),
        streams: FastMap::default(),
        workers,
        tracker,
        records_read: 0,
        stats: EncodeStats::default(),
        options: EncodeOptions {
            sanitize_nul: settings.sanitize_null_text_characters,
            parse_json_strings: settings.mage_mode,
        },
        naming: NamingOptions {
            lower_case: settings.lower_case,
            allow_reserved_words: settings.allow_reserved_words,
        },
        flush_chunk_bytes,
        buffered_bytes: 0,
        buffer_budget,
        set_aside_records: 0,
        set_aside_by_stream: FastMap::default(),
        started: Instant::now(),
        last_progress: Instant::now(),
        progress_every: settings.progress_interval,
        fills_metadata: settings.add_record_metadata
            || settings.mage_mode
            || !settings.constant_columns.is_empty(),
        shutdown,
    };
    let result = loader.read_all(reader);
    if result.is_err() {
        loader.tracker.disable();
    }
    result?;
    loader.finish(started)
}

struct Loader<'s> {
    settings: &'s Settings,
    /// Mage's `--catalog_json`, if given.
    catalog: Option<&'s Catalog>,
    client: Client,
    tables: Tables,
    streams: FastMap<String, Stream>,
    workers: Workers,
    tracker: Arc<StateTracker>,
    records_read: u64,
    stats: EncodeStats,
    options: EncodeOptions,
    naming: NamingOptions,
    flush_chunk_bytes: usize,
    /// Bytes held in all streams' buffers.
    buffered_bytes: usize,
    /// When `buffered_bytes` reaches this, the largest buffer flushes.
    buffer_budget: usize,
    /// Records set aside by `invalid_records`.
    set_aside_records: u64,
    /// The same, per stream.
    set_aside_by_stream: FastMap<String, u64>,
    /// When the run started, for rates.
    started: Instant,
    /// When the last progress line was written.
    last_progress: Instant,
    /// How often progress lines are written.
    progress_every: Duration,
    /// Whether rows carry columns filled from the message around the record (`_sdc_*`,
    /// `_mage_*`, Mage's constants), so each record needs its [`RecordMeta`].
    fills_metadata: bool,
    shutdown: &'s Shutdown,
}

impl Loader<'_> {
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
                    self.log_progress_now_and_then();
                    self.flush_aged_batches()?;
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
                    self.on_activate_version(&stream, version, line)?;
                }
                Message::Batch(batch) => self.on_batch(batch, line)?,
                Message::Ignored { kind } => log::debug!("line {line}: {kind} message skipped"),
            }
        }
    }

    /// When the oldest buffered row reaches `max_batch_age_seconds`.
    fn oldest_batch_deadline(&self) -> Option<Instant> {
        self.streams
            .values()
            .filter_map(|s| s.batch.opened_at())
            .min()
            .map(|opened| opened + self.settings.max_batch_age)
    }

    /// Flushes every stream whose oldest row has waited `max_batch_age_seconds`.
    fn flush_aged_batches(&mut self) -> Result<()> {
        let now = Instant::now();
        let aged: Vec<String> = self
            .streams
            .values()
            .filter(|s| {
                s.batch
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

    fn on_schema(&mut self, mut message: SchemaMessage, line: u64) -> Result<()> {
        if let Some(catalog) = self.catalog {
            catalog.apply(&mut message);
        }
        if self
            .streams
            .get(&message.stream)
            .is_some_and(|s| s.fingerprint == message.fingerprint)
        {
            return Ok(());
        }
        let stream_error = |text: String| Error::Stream {
            line,
            stream: message.stream.clone(),
            message: text,
        };
        let (properties, flattened) = self.properties_of(&message.schema);
        let columns_of = |names: &[String]| -> Result<Vec<String>> {
            names
                .iter()
                .map(|key| {
                    properties
                        .iter()
                        .find(|p| &p.name == key)
                        .map(|p| p.column.clone())
                        .ok_or_else(|| {
                            stream_error(format!(
                                "key property \"{key}\" is not in the schema's properties"
                            ))
                        })
                })
                .collect()
        };
        let primary_key_columns = columns_of(&message.key_properties)?;
        // Mage's unique_constraints: a UNIQUE constraint, and the key rows are merged on.
        let unique_columns = columns_of(&message.unique_constraints)?;
        let key_columns = if unique_columns.is_empty() {
            primary_key_columns.clone()
        } else {
            unique_columns.clone()
        };
        if key_columns.is_empty() && self.settings.primary_key_required {
            return Err(stream_error(
                "has no key_properties and primary_key_required is set".into(),
            ));
        }
        let on_conflict = match message.unique_conflict_method.as_deref() {
            Some(method) if method.eq_ignore_ascii_case("IGNORE") => OnConflict::Ignore,
            _ => OnConflict::Update,
        };
        let validator = if self.settings.validate_records {
            Some(
                jsonschema::draft7::new(&message.schema)
                    .map_err(|e| stream_error(format!("schema is not a valid JSON Schema: {e}")))?,
            )
        } else {
            None
        };

        let (schema, table) = self.target_of(&message.stream);
        self.reconnect_if_closed()?;
        let table_id = self.tables.open(
            &mut self.client,
            &schema,
            &table,
            self.settings.skip_schema_creation,
        )?;
        // Rows already buffered were encoded for the table as it was: send them first.
        self.flush_table(table_id)?;
        let wanted: Vec<WantedColumn> = properties
            .iter()
            .map(|p| WantedColumn {
                name: p.column.clone(),
                type_name: p.type_name.clone(),
            })
            .collect();
        let model = self
            .tables
            .get_mut(table_id)
            .ok_or_else(|| Error::Internal("table vanished".into()))?;
        // Append-only keeps every record, repeated keys included: no key constraint for it.
        let (primary_key, unique): (&[String], &[String]) = match self.settings.load_method {
            LoadMethod::Upsert | LoadMethod::Overwrite => (&primary_key_columns, &unique_columns),
            LoadMethod::AppendOnly => (&[], &[]),
        };
        let unique = (!unique.is_empty())
            .then(|| (mage_unique_constraint_name(&schema, &table, unique), unique));
        model
            .reconcile(&wanted, primary_key, unique)
            .map_err(|e| stream_error(e.to_string()))?;
        if self.settings.load_method == LoadMethod::Overwrite {
            model.enable_overwrite(&schema, &table, &key_columns);
        }
        let previous = self.streams.remove(&message.stream);
        let mut stream = Stream::new(
            message.stream.clone(),
            table_id,
            properties,
            key_columns,
            on_conflict,
            message.fingerprint,
            validator,
        );
        stream.flattened = flattened;
        if let Some(previous) = previous {
            stream.unknown_properties = previous.unknown_properties;
            stream.ignored_values = previous.ignored_values;
        }
        log::debug!(
            "line {line}: stream \"{}\" → {}",
            stream.name,
            model.qualified
        );
        self.streams.insert(message.stream, stream);
        Ok(())
    }

    /// The stream's properties in schema order, objects flattened into `parent__child`
    /// properties down to `data_flattening_max_level`, and the flattened objects' paths.
    fn properties_of(&self, schema: &Value) -> (Vec<Property>, HashSet<String>) {
        let mut leaves: Vec<(String, &Value)> = Vec::new();
        let mut flattened = HashSet::new();
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            flatten_properties(
                properties,
                None,
                self.settings.flattening_max_level,
                &mut leaves,
                &mut flattened,
            );
        }
        let cleaned: Vec<String> = leaves
            .iter()
            .map(|(name, _)| clean_name(name, self.naming))
            .collect();
        let columns = unique_names(&cleaned);
        for (((name, _), clean), column) in leaves.iter().zip(&cleaned).zip(&columns) {
            if clean != column {
                log::warn!("property \"{name}\" collides with another after cleaning; its column is \"{column}\"");
            }
        }
        let mut properties: Vec<Property> = leaves
            .into_iter()
            .zip(columns)
            .map(|((name, subschema), column)| Property {
                name,
                column,
                type_name: column_type_for(subschema),
                metadata: None,
            })
            .collect();
        let mut added: Vec<(String, &str, Metadata)> = Vec::new();
        if self.settings.add_record_metadata {
            added.extend(
                Metadata::COLUMNS
                    .iter()
                    .map(|&(name, type_name, kind)| (name.to_string(), type_name, kind)),
            );
        }
        if self.settings.mage_mode {
            for (name, kind) in [
                (mage::CREATED_AT_COLUMN, Metadata::MageCreatedAt),
                (mage::UPDATED_AT_COLUMN, Metadata::MageUpdatedAt),
            ] {
                added.push((name.to_string(), "timestamp with time zone", kind));
            }
        }
        for (index, (name, _)) in self.settings.constant_columns.iter().enumerate() {
            added.push((name.clone(), "text", Metadata::Constant(index)));
        }
        for (name, type_name, kind) in added {
            // Metadata columns have fixed names; Mage's constants are named by the user.
            let column = match kind {
                Metadata::Constant(_) => clean_name(&name, self.naming),
                _ => name.clone(),
            };
            // A property of the same name (a CDC tap's _sdc_deleted_at) is the column.
            match properties.iter_mut().find(|p| p.column == column) {
                Some(property) => property.metadata = Some(kind),
                None => properties.push(Property {
                    name,
                    column,
                    type_name: type_name.to_string(),
                    metadata: Some(kind),
                }),
            }
        }
        (properties, flattened)
    }

    /// The target schema and table of a stream.
    fn target_of(&self, stream: &str) -> (String, String) {
        if stream == REJECTS_STREAM {
            return (self.settings.schema.clone(), REJECTS_STREAM.to_string());
        }
        let (source_schema, name) = if self.settings.stream_name_split {
            split_stream_name(stream)
        } else {
            (None, stream)
        };
        let schema = source_schema
            .and_then(|source| {
                self.settings
                    .schema_mapping
                    .iter()
                    .find(|(from, _)| from == source)
            })
            .map_or_else(|| self.settings.schema.clone(), |(_, to)| to.clone());
        match &self.settings.table {
            Some(table) => (schema, table.clone()),
            None => (schema, clean_name(name, self.naming)),
        }
    }

    /// Parses one line, walking a RECORD's values into its stream's slots as it goes.
    fn parse_line<'l>(&mut self, text: &'l str, line: u64) -> Result<Message<'l>> {
        let mut slots = SlotFiller {
            streams: Some(&mut self.streams),
            current: None,
            tables: &self.tables,
            load_method: self.settings.load_method,
            hard_delete: self.settings.hard_delete,
            line: text,
        };
        parse_message_into(text, &mut slots).map_err(|message| Error::Input { line, message })
    }

    /// Loads a record; one that does not fit is handled by `invalid_records`.
    fn on_record(&mut self, message: RecordMessage<'_>, line: u64, text: &str) -> Result<()> {
        match self.load_record(message, line, text) {
            Err(error)
                if error.is_invalid_record()
                    && self.settings.invalid_records != InvalidRecords::Fail =>
            {
                self.set_aside(error, line, Rejected::Message(text))
            }
            outcome => outcome,
        }
    }

    /// BATCH (Meltano SDK): each line of each manifest file is loaded as the `record` of a
    /// RECORD of the stream would be — same encoding, validation, `invalid_records`, keys,
    /// metadata and counters — so states after the BATCH wait for its rows like for any
    /// other. Every URL is checked before the first file is read.
    fn on_batch(&mut self, batch: BatchMessage, line: u64) -> Result<()> {
        let BatchMessage {
            stream,
            compression,
            manifest,
        } = batch;
        self.open_from_catalog(&stream, line)?;
        if !self.streams.contains_key(&stream) {
            return Err(Error::Stream {
                line,
                stream,
                message: "BATCH before its SCHEMA".into(),
            });
        }
        let file_error = |file: String, message: String| Error::BatchFile {
            line,
            stream: stream.clone(),
            file,
            message,
        };
        let paths = manifest
            .iter()
            .map(|url| {
                path_of_file_url(url).map_err(|reason| file_error(url_for_messages(url), reason))
            })
            .collect::<Result<Vec<_>>>()?;
        if paths.is_empty() {
            log::warn!("line {line}: BATCH of stream \"{stream}\" lists no files");
        }
        for path in paths {
            let file = path.display().to_string();
            let mut reader = open_batch_file(&path, compression)
                .map_err(|message| file_error(file.clone(), message))?;
            log::debug!("line {line}: loading BATCH file {file} into stream \"{stream}\"");
            loop {
                if self.shutdown.requested() {
                    log::warn!(
                        "stop requested while reading BATCH file {file}: the rest of the batch is not loaded"
                    );
                    return Ok(());
                }
                let next = reader.next_line().map_err(|error| match error {
                    Error::Input {
                        line: file_line,
                        message,
                    } => Error::BatchRecord {
                        line,
                        stream: stream.clone(),
                        file: file.clone(),
                        file_line,
                        source: Box::new(Error::Input { line, message }),
                    },
                    Error::Io { source, .. } => {
                        file_error(file.clone(), format!("reading failed: {source}"))
                    }
                    other => other,
                })?;
                let Some((file_line, text)) = next else {
                    break;
                };
                let at = BatchLine {
                    line,
                    stream: &stream,
                    file: &file,
                    file_line,
                };
                self.on_batch_record(text, &at)?;
            }
        }
        Ok(())
    }

    /// Mage: a stream of `--catalog_json` needs no SCHEMA message; its first RECORD or BATCH
    /// opens it from the catalog. (Without a catalog this costs one test per record.)
    fn open_from_catalog(&mut self, stream: &str, line: u64) -> Result<()> {
        let Some(catalog) = self.catalog else {
            return Ok(());
        };
        if self.streams.contains_key(stream) {
            return Ok(());
        }
        match catalog.schema_message(stream) {
            Some(schema) => self.on_schema(schema, line),
            None => Ok(()),
        }
    }

    /// Loads one line of a BATCH file as a record; a bad one is handled by `invalid_records`.
    fn on_batch_record(&mut self, text: &str, at: &BatchLine<'_>) -> Result<()> {
        let message = RecordMessage {
            stream: Cow::Borrowed(at.stream),
            record: RecordBody::Line(text),
            version: None,
            time_extracted: None,
            sequence: None,
        };
        match self.load_record(message, at.line, text) {
            // Errors about the line (not the database's) are told with the file and its line.
            Err(error) if error.is_invalid_record() || matches!(error, Error::Input { .. }) => {
                let error = Error::BatchRecord {
                    line: at.line,
                    stream: at.stream.to_string(),
                    file: at.file.to_string(),
                    file_line: at.file_line,
                    source: Box::new(error),
                };
                if error.is_invalid_record()
                    && self.settings.invalid_records != InvalidRecords::Fail
                {
                    self.set_aside(
                        error,
                        at.line,
                        Rejected::BatchLine {
                            stream: at.stream,
                            record: text,
                        },
                    )
                } else {
                    Err(error)
                }
            }
            outcome => outcome,
        }
    }

    /// Counts a record set aside by `invalid_records: skip | dead_letter`, and stores it for
    /// `dead_letter`. Past `invalid_records_threshold` the run fails after all.
    fn set_aside(&mut self, error: Error, line: u64, rejected: Rejected<'_>) -> Result<()> {
        self.records_read += 1;
        self.set_aside_records += 1;
        let stream = match &error {
            Error::InvalidValue { stream, .. }
            | Error::InvalidRecord { stream, .. }
            | Error::BatchRecord { stream, .. } => stream.clone(),
            _ => String::new(),
        };
        *self.set_aside_by_stream.entry(stream).or_insert(0) += 1;
        let threshold = self.settings.invalid_records_threshold;
        if threshold > 0 && self.set_aside_records > threshold {
            return Err(Error::InvalidRecord {
                line,
                stream: String::new(),
                reason: format!(
                    "more than {threshold} invalid records (invalid_records_threshold); the last: {error}"
                ),
            });
        }
        if self.set_aside_records <= SET_ASIDE_LOGGED {
            log::warn!("record set aside: {error}");
        } else if self.set_aside_records == SET_ASIDE_LOGGED + 1 {
            log::warn!("more records set aside; the summary counts them");
        }
        if self.settings.invalid_records != InvalidRecords::DeadLetter {
            return Ok(());
        }
        if !self.streams.contains_key(REJECTS_STREAM) {
            self.on_schema(rejects_schema(), line)?;
        }
        let (stream, record, message) = match rejected {
            Rejected::Message(text) => {
                let message: Option<&serde_json::value::RawValue> = serde_json::from_str(text).ok();
                let original: Option<Value> = serde_json::from_str(text).ok();
                let field = |name: &str| original.as_ref().and_then(|m| m.get(name)).cloned();
                (field("stream"), field("record"), message)
            }
            // The BATCH message says nothing about this record that the reason does not.
            Rejected::BatchLine { stream, record } => (
                Some(Value::from(stream)),
                serde_json::from_str(record).ok(),
                None,
            ),
        };
        let reject = json!({
            "type": "RECORD",
            "stream": REJECTS_STREAM,
            "record": {
                "stream": stream,
                "line": line,
                "reason": error.to_string(),
                "record": record,
                "message": message,
                "rejected_at": micros_to_rfc3339(now_postgres_micros()),
            },
        })
        .to_string();
        let message = self.parse_line(&reject, line)?;
        match message {
            Message::Record(record) => self.load_record(record, line, &reject),
            _ => Err(Error::Internal("a reject is not a RECORD".into())),
        }
    }

    fn load_record(&mut self, message: RecordMessage<'_>, line: u64, text: &str) -> Result<()> {
        let seq = self.records_read;
        self.open_from_catalog(message.stream.as_ref(), line)?;
        let Some(stream) = self.streams.get_mut(message.stream.as_ref()) else {
            return Err(Error::Stream {
                line,
                stream: message.stream.into_owned(),
                message: "RECORD before its SCHEMA".into(),
            });
        };
        let table_id = stream.table_id;
        // When the record was read, for the metadata columns.
        let settings = self.settings;
        let received_at = self
            .fills_metadata
            .then(|| format!("\"{}\"", micros_to_rfc3339(now_postgres_micros())));
        if !matches!(message.record, RecordBody::Walked) {
            // Kept whole (for validation, or its stream was named after it), or a line of a
            // BATCH file: walk it now.
            let table = self
                .tables
                .get(table_id)
                .ok_or_else(|| Error::Internal("table vanished".into()))?;
            stream.refresh_plan(table, self.settings.load_method, self.settings.hard_delete);
            stream.begin_record();
        }
        match &message.record {
            RecordBody::Walked => {}
            RecordBody::Raw(raw) => {
                stream
                    .validate(raw.get())
                    .map_err(|e| record_error(e, line, message.stream.as_ref()))?;
                walk_record(raw.get(), &mut StreamSlots::new(stream, text)).map_err(|reason| {
                    record_error(RecordError::Invalid(reason), line, message.stream.as_ref())
                })?;
            }
            RecordBody::Line(record) => {
                // A line that is not one JSON object is malformed input, as a RECORD line
                // that is not JSON would be: no policy sets it aside.
                walk_record_line(record, &mut StreamSlots::new(stream, text))
                    .map_err(|message| Error::Input { line, message })?;
                stream
                    .validate(record)
                    .map_err(|e| record_error(e, line, message.stream.as_ref()))?;
            }
        }
        // Columns widened for this record: each at most once, so the loop ends.
        let mut widened: Vec<String> = Vec::new();
        let stream_is_full = loop {
            let stream = self
                .streams
                .get_mut(message.stream.as_ref())
                .ok_or_else(|| Error::Internal("stream vanished".into()))?;
            let table = self
                .tables
                .get(table_id)
                .ok_or_else(|| Error::Internal("table vanished".into()))?;
            stream.refresh_plan(table, self.settings.load_method, self.settings.hard_delete);
            if stream.batch.is_empty() && stream.batch.buffer().capacity() == 0 {
                let spare = self.workers.spare_buffer();
                stream
                    .batch
                    .prepare(chunk_limit(self.flush_chunk_bytes, stream.flushes), spare);
            }
            let before = stream.batch.byte_len();
            let meta = received_at.as_deref().map(|received_at| RecordMeta {
                extracted_at: message.time_extracted.as_deref(),
                received_at,
                sequence: message
                    .sequence
                    .unwrap_or_else(|| i64::try_from(seq).unwrap_or(i64::MAX)),
                table_version: message.version,
                constants: &settings.constant_columns,
            });
            match stream.encode_row(
                text,
                meta.as_ref(),
                seq,
                line,
                self.options,
                &mut self.stats,
            ) {
                Ok(opened) => {
                    self.buffered_bytes += stream.batch.byte_len().saturating_sub(before);
                    if opened {
                        self.tracker.open_batch(seq);
                    }
                    break stream.batch.appended_rows() >= self.settings.batch_size_rows
                        || stream.batch.byte_len()
                            >= chunk_limit(self.flush_chunk_bytes, stream.flushes);
                }
                Err(RecordError::Value {
                    column,
                    error: ValueError::IntegerOverflow,
                    ..
                }) if !widened.contains(&column) => {
                    // An integer too big for its column widens the column to numeric: send
                    // what was encoded for the old type, then queue the ALTER.
                    self.flush_table(table_id)?;
                    let model = self
                        .tables
                        .get_mut(table_id)
                        .ok_or_else(|| Error::Internal("table vanished".into()))?;
                    log::info!(
                        "line {line}: column \"{column}\" of {} widens to numeric for an integer beyond its range",
                        model.qualified
                    );
                    model.widen_to_numeric(&column);
                    widened.push(column);
                }
                Err(error) => {
                    return Err(record_error(error, line, message.stream.as_ref()));
                }
            }
        };
        self.records_read += 1;

        if stream_is_full {
            if self.settings.flush_all_streams {
                self.flush_all()?;
            } else {
                self.flush_stream(message.stream.as_ref())?;
            }
        }
        if self.buffered_bytes >= self.buffer_budget {
            self.enforce_buffer_budget()?;
        }
        if self.records_read % HOUSEKEEPING_EVERY == 0 {
            self.housekeeping()?;
        }
        Ok(())
    }

    /// Flushes the largest buffers while everything buffered and queued exceeds the bound,
    /// and surfaces a flush failure early.
    fn housekeeping(&mut self) -> Result<()> {
        if let Some(error) = self.workers.take_failure() {
            return Err(error);
        }
        self.log_progress_now_and_then();
        self.flush_aged_batches()
    }

    /// Every few seconds of a long load: records read, rows committed, the rate, per stream.
    fn log_progress_now_and_then(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.last_progress) < self.progress_every {
            return;
        }
        self.last_progress = now;
        let committed = self.workers.committed();
        let total: u64 = committed.iter().map(|(_, rows)| rows).sum();
        let seconds = now.duration_since(self.started).as_secs_f64().max(1e-9);
        let per_stream: Vec<String> = committed
            .iter()
            .map(|(stream, rows)| format!("{stream} {rows}"))
            .collect();
        log::info!(
            "progress: {} records read, {total} rows committed, {:.0} records/s; committed per stream: {}",
            self.records_read,
            self.records_read as f64 / seconds,
            if per_stream.is_empty() { "none yet".to_string() } else { per_stream.join(", ") }
        );
    }

    /// Keeps the bytes buffered across all streams under the reader's budget by flushing the
    /// largest buffer. With many streams filling at the same pace this also staggers their
    /// flushes, so the database gets a steady flow instead of every stream at once.
    fn enforce_buffer_budget(&mut self) -> Result<()> {
        while self.buffered_bytes >= self.buffer_budget {
            let largest = self
                .streams
                .values()
                .filter(|s| !s.batch.is_empty())
                .max_by_key(|s| s.batch.byte_len())
                .map(|s| s.name.clone());
            match largest {
                Some(name) => self.flush_stream(&name)?,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// The reader's own connection (catalog reads, `after_run_sql`) may have died with a
    /// server restart that the flushes rode out: connect again then.
    fn reconnect_if_closed(&mut self) -> Result<()> {
        if self.client.is_closed() {
            log::warn!("the connection for catalog reads was lost; reconnecting");
            self.client = connect_direct(&self.settings.connection)?;
        }
        Ok(())
    }

    fn flush_stream(&mut self, name: &str) -> Result<()> {
        let Some(stream) = self.streams.get_mut(name) else {
            return Ok(());
        };
        if stream.batch.is_empty() {
            return Ok(());
        }
        let Some(table) = self.tables.get_mut(stream.table_id) else {
            return Err(Error::Internal("table vanished".into()));
        };
        let Some(mode) = stream.write_mode() else {
            return Err(Error::Internal("stream without a plan has rows".into()));
        };
        self.buffered_bytes = self.buffered_bytes.saturating_sub(stream.batch.byte_len());
        let batch = stream.batch.take();
        stream.flushes = stream.flushes.saturating_add(1);
        let job = FlushJob {
            table_id: table.id,
            table: table.qualified.clone(),
            names: table.names.clone(),
            stream: stream.name.clone(),
            ddl: table.take_flush_ddl(),
            mode,
            rows: batch.rows,
            row_count: batch.row_count,
            closes: table.batches_completed_by_flush(batch.first_seq),
            lines: batch.lines,
        };
        self.workers.submit(job)
    }

    /// ACTIVATE_VERSION (Meltano's semantics): once the stream's rows are flushed, rows of
    /// older versions (or none) are deleted with `hard_delete`, else marked deleted. It needs
    /// the version in the table (`add_record_metadata`); without it the message is ignored
    /// with a warning rather than treating every row as old.
    fn on_activate_version(&mut self, stream_name: &str, version: i64, line: u64) -> Result<()> {
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
        let Some(table) = self.tables.get_mut(table_id) else {
            return Err(Error::Internal("table vanished".into()));
        };
        let has = |name: &str| table.column(name).is_some();
        if !has(TABLE_VERSION_COLUMN) || (!self.settings.hard_delete && !has(DELETED_AT_COLUMN)) {
            log::warn!(
                "line {line}: ACTIVATE_VERSION for stream \"{stream_name}\" ignored: {} has no {TABLE_VERSION_COLUMN} column (set add_record_metadata)",
                table.qualified
            );
            return Ok(());
        }
        let old_rows = format!(
            "({0} IS NULL OR {0} < {version})",
            quote_ident(TABLE_VERSION_COLUMN)
        );
        let statement = if self.settings.hard_delete {
            format!("DELETE FROM {} WHERE {old_rows}", table.qualified)
        } else {
            format!(
                "UPDATE {0} SET {1} = now() WHERE {old_rows} AND {1} IS NULL",
                table.qualified,
                quote_ident(DELETED_AT_COLUMN)
            )
        };
        // The message counts like a record for the states after it: they wait for this.
        let seq = self.records_read;
        self.records_read += 1;
        self.tracker.open_batch(seq);
        let mut ddl = table.take_pending_ddl();
        ddl.push(statement);
        self.workers.submit(statements_job(
            table,
            stream_name,
            ddl,
            vec![seq],
            (line, line),
        ))
    }

    /// Flushes every stream that loads into `table_id`.
    fn flush_table(&mut self, table_id: usize) -> Result<()> {
        let names: Vec<String> = self
            .streams
            .values()
            .filter(|s| s.table_id == table_id && !s.batch.is_empty())
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

    fn finish(mut self, started: Instant) -> Result<Summary> {
        self.flush_all()?;
        if !self.settings.after_run_sql.is_empty() {
            self.reconnect_if_closed()?;
        }
        // Overwrites end here: each table's rows replaced by the staged ones in one
        // transaction, which also completes every staged batch for the states.
        for table in self.tables.iter_mut() {
            if let Some((ddl, closes)) = table.take_overwrite_swap() {
                self.workers
                    .submit(statements_job(table, "", ddl, closes, (0, 0)))?;
            }
        }
        // Tables whose DDL no row carried (a stream with a SCHEMA and no records) still get
        // created: an empty source table should give an empty target table.
        for table in self.tables.iter_mut() {
            if table.has_pending_ddl() {
                let ddl = table.take_flush_ddl();
                self.workers
                    .submit(statements_job(table, "", ddl, Vec::new(), (0, 0)))?;
            }
        }
        let Loader {
            settings,
            mut client,
            workers,
            streams,
            tracker,
            records_read,
            stats,
            set_aside_records,
            set_aside_by_stream,
            ..
        } = self;
        let mut totals = workers.finish().inspect_err(|_| tracker.disable())?;
        for statement in &settings.after_run_sql {
            client
                .batch_execute(statement)
                .map_err(|e| Error::db("running after_run_sql", e))?;
        }
        let mut summary = Summary {
            records: records_read,
            nul_replaced: stats.nul_replaced,
            set_aside: set_aside_records,
            elapsed: started.elapsed(),
            ..Summary::default()
        };
        let mut names: Vec<&String> = streams.keys().collect();
        names.sort();
        for name in names {
            let mut stream_totals = totals.remove(name.as_str()).unwrap_or_default();
            stream_totals.set_aside = set_aside_by_stream.get(name.as_str()).copied().unwrap_or(0);
            if let Some(stream) = streams.get(name.as_str()) {
                summary.ignored_values += stream.ignored_values;
            }
            summary.streams.push((name.clone(), stream_totals));
        }
        Ok(summary)
    }
}

/// The byte size at which a stream's buffer flushes. A stream's first flushes are small
/// (256 KiB, doubling up to the full chunk) so the database starts working after a few
/// hundred rows instead of waiting for a whole chunk to be parsed.
fn chunk_limit(full_chunk: usize, flushes_so_far: u32) -> usize {
    (FIRST_CHUNK_BYTES << flushes_so_far.min(16)).min(full_chunk)
}

/// Routes a RECORD's values, while its line is parsed, into the slots of its stream.
struct SlotFiller<'a> {
    /// Taken by the one stream the line names.
    streams: Option<&'a mut FastMap<String, Stream>>,
    current: Option<StreamSlots<'a>>,
    tables: &'a Tables,
    load_method: LoadMethod,
    hard_delete: bool,
    line: &'a str,
}

impl RecordSlots for SlotFiller<'_> {
    fn begin(&mut self, stream: &str) -> bool {
        let Some(stream) = self
            .streams
            .take()
            .and_then(|streams| streams.get_mut(stream))
        else {
            return false;
        };
        // Validation needs the record whole: keep it raw.
        if stream.validator.is_some() {
            return false;
        }
        let Some(table) = self.tables.get(stream.table_id) else {
            return false;
        };
        stream.refresh_plan(table, self.load_method, self.hard_delete);
        stream.begin_record();
        self.current = Some(StreamSlots::new(stream, self.line));
        true
    }

    fn slot_of(&self, property: &str) -> Option<usize> {
        self.current.as_ref()?.slot_of(property)
    }

    fn fill(&mut self, slot: usize, raw: &str) {
        if let Some(current) = self.current.as_mut() {
            current.fill(slot, raw);
        }
    }

    fn unknown(&mut self, property: &str) {
        if let Some(current) = self.current.as_mut() {
            current.unknown(property);
        }
    }

    fn is_flattened(&self, path: &str) -> bool {
        self.current
            .as_ref()
            .is_some_and(|current| current.is_flattened(path))
    }
}

/// Where a line of a BATCH file is, for its errors.
struct BatchLine<'a> {
    /// Input line of the BATCH message.
    line: u64,
    /// The BATCH's stream.
    stream: &'a str,
    /// The file's path.
    file: &'a str,
    /// 1-based line within the file.
    file_line: u64,
}

/// What a record set aside was read from, for the rejects table.
enum Rejected<'a> {
    /// A RECORD message: its whole line.
    Message(&'a str),
    /// A line of a BATCH file: the bare record and the BATCH's stream.
    BatchLine {
        /// The BATCH's stream.
        stream: &'a str,
        /// The line, a bare record.
        record: &'a str,
    },
}

/// The stream, and table, that `invalid_records: dead_letter` stores records in.
const REJECTS_STREAM: &str = "_target_postgres_rejects";

/// Records set aside that are logged one by one; the rest are only counted.
const SET_ASIDE_LOGGED: u64 = 20;

/// The SCHEMA of the rejects table: what was refused, where, and why.
fn rejects_schema() -> SchemaMessage {
    let schema = json!({"type": "object", "properties": {
        "stream": {"type": "string"},
        "line": {"type": "integer"},
        "reason": {"type": "string"},
        "record": {},
        "message": {},
        "rejected_at": {"type": "string", "format": "date-time"},
    }});
    SchemaMessage {
        stream: REJECTS_STREAM.to_string(),
        fingerprint: schema.to_string(),
        schema,
        key_properties: Vec::new(),
        unique_constraints: Vec::new(),
        unique_conflict_method: None,
    }
}

/// Now, in PostgreSQL's timestamp unit: microseconds since 2000-01-01 UTC.
fn now_postgres_micros() -> i64 {
    const UNIX_TO_POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;
    let since_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    since_unix - UNIX_TO_POSTGRES_EPOCH_MICROS
}

fn record_error(error: RecordError, line: u64, stream: &str) -> Error {
    match error {
        RecordError::Value {
            column,
            value,
            error,
        } => Error::InvalidValue {
            line,
            stream: stream.to_string(),
            column,
            reason: error.reason().into_owned(),
            value,
        },
        RecordError::NullKey { column } => Error::InvalidValue {
            line,
            stream: stream.to_string(),
            column,
            reason: "key column is null or missing".into(),
            value: "null".into(),
        },
        RecordError::Invalid(reason) => Error::InvalidRecord {
            line,
            stream: stream.to_string(),
            reason: excerpt(&reason),
        },
    }
}

/// A flush job that only runs statements on `table` (DDL, an ACTIVATE_VERSION delete, an
/// overwrite swap) and completes the batches in `closes`.
fn statements_job(
    table: &TableModel,
    stream: &str,
    ddl: Vec<String>,
    closes: Vec<u64>,
    lines: (u64, u64),
) -> FlushJob {
    FlushJob {
        table_id: table.id,
        table: table.qualified.clone(),
        names: table.names.clone(),
        stream: stream.to_string(),
        ddl,
        mode: WriteMode::Copy { copy: "".into() },
        rows: Vec::new(),
        row_count: 0,
        closes,
        lines,
    }
}
