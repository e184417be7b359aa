//! The line reader: stdin or a file, gzip detected by its magic bytes, one reusable buffer.
//!
//! Lines are read as bytes so that invalid UTF-8 is reported with its line number instead of
//! aborting the read, and so the buffer is reused for every line of a long load.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Reads input lines with 1-based numbers.
pub struct LineReader {
    input: Box<dyn BufRead + Send>,
    buffer: Vec<u8>,
    line_number: u64,
    what: String,
}

impl LineReader {
    /// Reads from `path`, or from stdin when `None`.
    pub fn open(path: Option<&Path>) -> Result<LineReader> {
        match path {
            Some(path) => {
                let what = path.display().to_string();
                let file = File::open(path).map_err(|source| Error::Io {
                    what: what.clone(),
                    source,
                })?;
                LineReader::from_reader(file, what)
            }
            None => LineReader::from_reader(std::io::stdin(), "standard input".to_string()),
        }
    }

    /// Reads from any byte source, transparently un-gzipping it.
    pub fn from_reader(source: impl Read + Send + 'static, what: String) -> Result<LineReader> {
        let mut buffered = BufReader::with_capacity(READ_BUFFER_BYTES, source);
        let head = buffered.fill_buf().map_err(|source| Error::Io {
            what: what.clone(),
            source,
        })?;
        let input: Box<dyn BufRead + Send> = if head.starts_with(&GZIP_MAGIC) {
            Box::new(BufReader::with_capacity(
                READ_BUFFER_BYTES,
                MultiGzDecoder::new(buffered),
            ))
        } else {
            Box::new(buffered)
        };
        Ok(LineReader {
            input,
            buffer: Vec::with_capacity(4096),
            line_number: 0,
            what,
        })
    }

    /// The next non-blank line (line ending and a trailing `\r` removed) with its number,
    /// or `None` at end of input.
    pub fn next_line(&mut self) -> Result<Option<(u64, &str)>> {
        loop {
            self.buffer.clear();
            let read = self
                .input
                .read_until(b'\n', &mut self.buffer)
                .map_err(|source| Error::Io {
                    what: self.what.clone(),
                    source,
                })?;
            if read == 0 {
                return Ok(None);
            }
            self.line_number += 1;
            let mut end = self.buffer.len();
            while end > 0 && matches!(self.buffer[end - 1], b'\n' | b'\r') {
                end -= 1;
            }
            if self.buffer[..end].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line_number = self.line_number;
            return match std::str::from_utf8(&self.buffer[..end]) {
                Ok(line) => Ok(Some((line_number, line))),
                Err(e) => Err(Error::Input {
                    line: line_number,
                    message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                }),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn lines(bytes: Vec<u8>) -> Vec<(u64, String)> {
        let mut reader =
            LineReader::from_reader(std::io::Cursor::new(bytes), "test".into()).unwrap();
        let mut out = Vec::new();
        while let Some((n, line)) = reader.next_line().unwrap() {
            out.push((n, line.to_string()));
        }
        out
    }

    #[test]
    fn blank_lines_are_skipped_but_counted() {
        let got = lines(b"a\r\n\n  \nb".to_vec());
        assert_eq!(got, vec![(1, "a".to_string()), (4, "b".to_string())]);
    }

    #[test]
    fn gzip_input_is_detected() {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"x\ny\n").unwrap();
        let got = lines(encoder.finish().unwrap());
        assert_eq!(got, vec![(1, "x".to_string()), (2, "y".to_string())]);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let mut reader =
            LineReader::from_reader(std::io::Cursor::new(b"ok\n\xff\xfe\n".to_vec()), "t".into())
                .unwrap();
        assert!(reader.next_line().unwrap().is_some());
        let err = reader.next_line().unwrap_err();
        assert!(err.to_string().starts_with("line 2:"), "{err}");
    }
}
