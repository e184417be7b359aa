//! BATCH (Meltano SDK): each line of each manifest file is loaded as the `record` of a
//! RECORD of the stream would be — same encoding, validation, `invalid_records`, keys,
//! metadata and counters — so states after the BATCH wait for its rows like for any other.
//! Every URL is checked before the first file is read; errors name the BATCH line, the file
//! and the line within it.

use std::borrow::Cow;

use crate::config::InvalidRecords;
use crate::error::{Error, Result};
use crate::load::dead_letter::Rejected;
use crate::load::route::Route;
use crate::load::Loader;
use crate::protocol::batch::{open_batch_file, path_of_file_url, url_for_messages};
use crate::protocol::message::{BatchMessage, RecordBody, RecordMessage};
use crate::protocol::reader::LineReader;

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

impl Loader<'_> {
    pub(super) fn on_batch(&mut self, batch: BatchMessage, line: u64) -> Result<()> {
        let BatchMessage {
            stream,
            compression,
            manifest,
        } = batch;
        self.open_from_catalog(&stream, line)?;
        let route = self.routes.get(&stream).cloned();
        if route.is_none() && !self.streams.contains_key(&stream) {
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
            let reader = open_batch_file(&path, compression)
                .map_err(|message| file_error(file.clone(), message))?;
            log::debug!("line {line}: loading BATCH file {file} into stream \"{stream}\"");
            if !self.load_batch_file(reader, line, &stream, &file, route.as_deref())? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Loads every line of one BATCH file (through the stream's route, when stream maps
    /// route it); false when a stop signal cut it short.
    fn load_batch_file(
        &mut self,
        mut reader: LineReader,
        line: u64,
        stream: &str,
        file: &str,
        route: Option<&Route>,
    ) -> Result<bool> {
        loop {
            if self.shutdown.requested() {
                log::warn!(
                    "stop requested while reading BATCH file {file}: the rest of the batch is not loaded"
                );
                return Ok(false);
            }
            let next = reader.next_line().map_err(|error| match error {
                Error::Input {
                    line: file_line,
                    message,
                } => Error::BatchRecord {
                    line,
                    stream: stream.to_string(),
                    file: file.to_string(),
                    file_line,
                    source: Box::new(Error::Input { line, message }),
                },
                Error::Io { source, .. } => Error::BatchFile {
                    line,
                    stream: stream.to_string(),
                    file: file.to_string(),
                    message: format!("reading failed: {source}"),
                },
                other => other,
            })?;
            let Some((file_line, text)) = next else {
                return Ok(true);
            };
            let at = BatchLine {
                line,
                stream,
                file,
                file_line,
            };
            self.on_batch_record(text, &at, route)?;
        }
    }

    /// Loads one line of a BATCH file as a record; a bad one is handled by `invalid_records`
    /// (a routed one as the map made it, see [`Loader::on_routed_batch_line`]).
    fn on_batch_record(
        &mut self,
        text: &str,
        at: &BatchLine<'_>,
        route: Option<&Route>,
    ) -> Result<()> {
        let outcome = match route {
            Some(route) => self.on_routed_batch_line(route, at.stream, text, at.line),
            None => {
                let message = RecordMessage {
                    stream: Cow::Borrowed(at.stream),
                    record: RecordBody::Line(text),
                    version: None,
                    time_extracted: None,
                    sequence: None,
                };
                self.load_record(message, at.line, text)
            }
        };
        let mapping_failed = route.is_some() && matches!(outcome, Err(Error::Stream { .. }));
        match outcome {
            // Errors about the line (not the database's) are told with the file and its line.
            Err(error)
                if error.is_invalid_record()
                    || mapping_failed
                    || matches!(error, Error::Input { .. }) =>
            {
                let error = Error::BatchRecord {
                    line: at.line,
                    stream: at.stream.to_string(),
                    file: at.file.to_string(),
                    file_line: at.file_line,
                    source: Box::new(error),
                };
                if error.is_invalid_record()
                    && route.is_none()
                    && self.settings.invalid_records != InvalidRecords::Fail
                {
                    let rejected = Rejected::BatchLine {
                        stream: at.stream,
                        record: text,
                    };
                    self.set_aside(error, at.line, rejected)
                } else {
                    Err(error)
                }
            }
            outcome => outcome,
        }
    }
}
