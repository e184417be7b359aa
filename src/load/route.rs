//! Stream maps in the load: at a stream's SCHEMA the maps decide which streams it is
//! loaded as (see [`crate::maps::plan`]); each becomes an ordinary stream of the load, and
//! the tap's stream gets a route to them. A stream the maps leave as it is has no route,
//! and its records take the usual path untouched.
//!
//! A route with one output whose records only lose properties (an alias, removed
//! properties) keeps the zero-copy path: the record is walked straight into the output
//! stream's slots and the removed properties are simply not planned as columns. Any other
//! route (a filter, computed properties, `__else__`, duplicated streams, validation) parses
//! the record, maps it for each output and loads the mapped record as a BATCH line is
//! loaded. A record that fails to map stops the run (as in singer-sdk): it is never set
//! aside as it came, since what the map removes or hashes may be personal data.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::InvalidRecords;
use crate::error::{Error, Result};
use crate::load::dead_letter::Rejected;
use crate::load::Loader;
use crate::maps::{evaluated, Record, Records, StreamMaps};
use crate::protocol::message::{RecordBody, RecordMessage, SchemaMessage};

/// Where a tap's stream goes.
pub struct Route {
    /// The SCHEMA it was planned for.
    fingerprint: String,
    /// The streams it is loaded as, in order (none: dropped).
    outputs: Vec<(String, Records)>,
}

impl Route {
    /// The output stream of a route whose records can be walked straight into it.
    pub fn direct_output(&self) -> Option<&str> {
        match self.outputs.as_slice() {
            [(name, Records::Pass { .. })] => Some(name),
            _ => None,
        }
    }

    /// Properties the single pass-through output removes.
    fn dropped(&self) -> &[String] {
        match self.outputs.as_slice() {
            [(_, Records::Pass { dropped })] => dropped,
            _ => &[],
        }
    }
}

/// Records a route did not load, per tap stream, for the log at the end.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unloaded {
    /// Dropped by a `__filter__` (or left empty by the map), per output.
    pub filtered: u64,
    /// Of a stream mapped to null.
    pub dropped: u64,
}

/// The message-level fields of a record, for the mapped records made from it.
#[derive(Clone, Copy)]
struct Around<'m> {
    version: Option<i64>,
    time_extracted: Option<&'m str>,
    sequence: Option<i64>,
}

impl Loader<'_> {
    /// A SCHEMA under stream maps: plans the stream's outputs, opens each as a stream of
    /// the load, and routes the tap's stream to them.
    pub(super) fn route_schema(
        &mut self,
        maps: &StreamMaps,
        message: SchemaMessage,
        line: u64,
    ) -> Result<()> {
        if self
            .routes
            .get(&message.stream)
            .is_some_and(|route| route.fingerprint == message.fingerprint)
        {
            return Ok(());
        }
        let matched = self.matched_keys.get_or_insert_with(Default::default);
        matched.extend(
            maps.keys_matching(&message.stream)
                .into_iter()
                .map(str::to_string),
        );
        let outputs = maps
            .plan(&message.stream, &message.schema, &message.key_properties)
            .map_err(|e| Error::config(format!("line {line}: {e}"), "stream_maps"))?;
        if outputs.is_empty() {
            log::info!(
                "line {line}: stream \"{}\" is dropped by stream_maps: its records are not loaded",
                message.stream
            );
        }
        let identity = matches!(outputs.as_slice(),
            [output] if output.name == message.stream
                && matches!(&output.records, Records::Pass { dropped } if dropped.is_empty()));
        let mut routed = Vec::with_capacity(outputs.len());
        for output in outputs {
            let records = if self.settings.validate_records {
                evaluated(&output, &message.stream, maps)
            } else {
                output.records.clone()
            };
            if output.name != message.stream {
                log::info!(
                    "line {line}: stream \"{}\" is loaded as stream \"{}\" (stream_maps)",
                    message.stream,
                    output.name
                );
            }
            let schema = SchemaMessage {
                stream: output.name.clone(),
                fingerprint: format!("{}|stream_maps|{}", message.fingerprint, output.schema),
                schema: output.schema,
                key_properties: output.key_properties,
                unique_constraints: message.unique_constraints.clone(),
                unique_conflict_method: message.unique_conflict_method.clone(),
            };
            self.open_stream(schema, line)?;
            if let (Records::Pass { dropped }, Some(stream)) =
                (&records, self.streams.get_mut(&output.name))
            {
                stream.dropped.clone_from(dropped);
            }
            routed.push((output.name, records));
        }
        if identity {
            self.routes.remove(&message.stream);
        } else {
            let route = Route {
                fingerprint: message.fingerprint,
                outputs: routed,
            };
            self.routes.insert(message.stream, Arc::new(route));
        }
        Ok(())
    }

    /// A RECORD of a routed stream.
    pub(super) fn on_routed_record(
        &mut self,
        route: Arc<Route>,
        mut message: RecordMessage<'_>,
        line: u64,
        text: &str,
    ) -> Result<()> {
        if let Some(output) = route.direct_output() {
            message.stream = Cow::Owned(output.to_string());
            return match self.load_record(message, line, text) {
                Err(error)
                    if error.is_invalid_record()
                        && self.settings.invalid_records != InvalidRecords::Fail =>
                {
                    // Set aside as the map made it: without the removed properties.
                    let record = record_of_line(text)
                        .and_then(|raw| Record::parse(raw).ok())
                        .map(|r| r.without(route.dropped()))
                        .unwrap_or_default();
                    let rejected = Rejected::BatchLine {
                        stream: output,
                        record: &record,
                    };
                    self.set_aside(error, line, rejected)
                }
                outcome => outcome,
            };
        }
        let source = message.stream.to_string();
        let raw = match &message.record {
            RecordBody::Raw(raw) => raw.get(),
            RecordBody::Line(line_text) => line_text,
            RecordBody::Walked => {
                return Err(Error::Internal(format!(
                    "stream \"{source}\": a mapped record was walked"
                )))
            }
        };
        let around = Around {
            version: message.version,
            time_extracted: message.time_extracted.as_deref(),
            sequence: message.sequence,
        };
        self.map_record(&route, &source, raw, around, line)
            .map_err(|error| match error {
                Error::Input { line, message } => Error::Stream {
                    line,
                    stream: source.clone(),
                    message,
                },
                other => other,
            })
    }

    /// Maps one record (`raw`, a JSON object) for every output of its route and loads each
    /// mapped record.
    fn map_record(
        &mut self,
        route: &Route,
        source: &str,
        raw: &str,
        around: Around<'_>,
        line: u64,
    ) -> Result<()> {
        if route.outputs.is_empty() {
            self.unloaded.entry(source.to_string()).or_default().dropped += 1;
            return Ok(());
        }
        let record = Record::parse(raw).map_err(|message| Error::Input { line, message })?;
        for (output, records) in &route.outputs {
            let mapped = match records {
                Records::Pass { dropped } => record.without(dropped),
                Records::Mapped(map) => match map.apply(&record) {
                    Ok(Some(mapped)) => mapped,
                    Ok(None) => {
                        self.unloaded
                            .entry(source.to_string())
                            .or_default()
                            .filtered += 1;
                        continue;
                    }
                    Err(e) => {
                        return Err(Error::Stream {
                            line,
                            stream: source.to_string(),
                            message: format!("stream_maps (as stream \"{output}\"): {e}"),
                        })
                    }
                },
            };
            self.load_mapped(output, &mapped, around, line)?;
        }
        Ok(())
    }

    /// Loads a record as a map made it; one that does not fit is handled by
    /// `invalid_records`, and set aside as mapped.
    fn load_mapped(
        &mut self,
        stream: &str,
        mapped: &str,
        around: Around<'_>,
        line: u64,
    ) -> Result<()> {
        let message = RecordMessage {
            stream: Cow::Borrowed(stream),
            record: RecordBody::Line(mapped),
            version: around.version,
            time_extracted: around.time_extracted.map(Cow::Borrowed),
            sequence: around.sequence,
        };
        match self.load_record(message, line, mapped) {
            Err(error)
                if error.is_invalid_record()
                    && self.settings.invalid_records != InvalidRecords::Fail =>
            {
                let rejected = Rejected::BatchLine {
                    stream,
                    record: mapped,
                };
                self.set_aside(error, line, rejected)
            }
            outcome => outcome,
        }
    }

    /// A line of a BATCH file of a routed stream: mapped like a RECORD's record.
    pub(super) fn on_routed_batch_line(
        &mut self,
        route: &Route,
        source: &str,
        text: &str,
        line: u64,
    ) -> Result<()> {
        let around = Around {
            version: None,
            time_extracted: None,
            sequence: None,
        };
        self.map_record(route, source, text, around, line)
    }

    /// ACTIVATE_VERSION of a routed stream: for each stream it is loaded as.
    pub(super) fn routed_activate_version(
        &mut self,
        route: &Route,
        version: i64,
        line: u64,
    ) -> Result<()> {
        for (output, _) in &route.outputs {
            self.on_activate_version(output, version, line)?;
        }
        Ok(())
    }

    /// Logs what routes did not load, and warns about `stream_maps` keys that matched no
    /// stream (a misspelt name would leave its stream unmapped: its e-mails unhashed).
    pub(super) fn log_unloaded(&self) {
        if let (Some(maps), Some(matched)) =
            (self.settings.stream_maps.as_deref(), &self.matched_keys)
        {
            for (key, _) in &maps.entries {
                if !matched.contains(key) {
                    log::warn!(
                        "stream_maps: key \"{key}\" matched no stream of this run: is the stream name right?"
                    );
                }
            }
        }
        let mut streams: Vec<_> = self.unloaded.iter().collect();
        streams.sort_by(|a, b| a.0.cmp(b.0));
        for (stream, unloaded) in streams {
            if unloaded.filtered > 0 {
                log::info!(
                    "stream_maps: stream \"{stream}\": {} record(s) filtered out",
                    unloaded.filtered
                );
            }
            if unloaded.dropped > 0 {
                log::info!(
                    "stream_maps: stream \"{stream}\": {} record(s) not loaded (the stream is mapped to null)",
                    unloaded.dropped
                );
            }
        }
    }
}

/// The `record` of a RECORD line, as written.
fn record_of_line(text: &str) -> Option<&str> {
    #[derive(Deserialize)]
    struct RecordField<'a> {
        #[serde(borrow)]
        record: Option<&'a RawValue>,
    }
    serde_json::from_str::<RecordField<'_>>(text)
        .ok()?
        .record
        .map(RawValue::get)
}
