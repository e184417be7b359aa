//! The line reader: stdin or a file, gzip detected by its magic bytes.
//!
//! A background thread reads the input in chunks of whole lines and hands them over a small
//! channel; the loader splits them into lines. That keeps decompression and `read` calls off
//! the parsing thread, and — the real reason — lets the loader wait for input with a
//! deadline, so a slow tap cannot hold buffered rows or a pending state past
//! `max_batch_age_seconds`. Lines are bytes until split, so invalid UTF-8 is reported with
//! its line number.
//!
//! Every chunk goes back to the reading thread once its lines are done, and that return is
//! what lets the thread read on: it holds at most [`READ_AHEAD_BYTES`] of input that the
//! loader has not finished with, so memory does not grow with the size of the lines. A line
//! longer than that is read only once the loader holds no other input, and travels alone.
//! Returned buffers are reused; one grown past a few chunks (a huge line) is freed instead.
//!
//! Input is read straight into the chunk's buffer, which stays initialized from one use to
//! the next (a [`Chunk`] says how much of it is input): a read into a `BufReader` and a copy
//! out of it would pass every byte through memory twice.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::Instant;

use flate2::bufread::MultiGzDecoder;

use crate::error::{Error, Result};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks in flight between the reading thread and the loader.
const CHUNKS_AHEAD: usize = 4;
/// What the reading thread may run ahead by: it reads on (one read, up to `CHUNK_BYTES`,
/// at a time) only while the input the loader has not finished with (sent, queued or being
/// parsed) and the chunk being filled are less than this together. A longer line goes alone.
pub const READ_AHEAD_BYTES: usize = (CHUNKS_AHEAD + 1) * CHUNK_BYTES;
/// A returned buffer with more room than this held a long line: freed, not reused. (A chunk
/// that grew once, by a carried partial line, stays well under it.)
const REUSED_CAPACITY_MAX: usize = 4 * CHUNK_BYTES;
/// Returned buffers the reading thread keeps for reuse.
const SPARE_CHUNKS: usize = 2;
/// A new buffer's size: a chunk's worth of reading and room for the partial line carried in.
const BUFFER_BYTES: usize = CHUNK_BYTES + 4096;

/// Input lines in a buffer: `buffer[..filled]` is input, the rest room for reading into
/// (kept initialized, so a read can go straight into it without a zeroing first).
#[derive(Default)]
struct Chunk {
    buffer: Vec<u8>,
    filled: usize,
}

impl Chunk {
    fn input(&self) -> &[u8] {
        self.buffer.get(..self.filled).unwrap_or_default()
    }

    /// Room to read into: at least what one read may bring (a long line grows the buffer).
    fn room(&mut self) -> &mut [u8] {
        if self.buffer.len() - self.filled < CHUNK_BYTES {
            self.buffer.resize(self.filled + CHUNK_BYTES, 0);
        }
        self.buffer.get_mut(self.filled..).unwrap_or_default()
    }

    fn append(&mut self, bytes: &[u8]) {
        let end = self.filled + bytes.len();
        if self.buffer.len() < end {
            self.buffer.resize(end, 0);
        }
        if let Some(room) = self.buffer.get_mut(self.filled..end) {
            room.copy_from_slice(bytes);
        }
        self.filled = end;
    }
}

/// What waiting for the next line produced.
#[derive(Debug, PartialEq, Eq)]
pub enum NextLine<'a> {
    /// A non-blank line (line ending and trailing `\r` removed) and its 1-based number.
    Line(u64, &'a str),
    /// The deadline passed first.
    Timeout,
    /// End of input.
    End,
}

/// Reads input lines with 1-based numbers.
pub struct LineReader {
    chunks: Receiver<std::io::Result<Chunk>>,
    /// Chunks whose lines are done, back to the reading thread (never blocks).
    recycle: Sender<Chunk>,
    chunk: Chunk,
    position: usize,
    line_number: u64,
    finished: bool,
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
        let (chunk_sender, chunks) = mpsc::sync_channel(CHUNKS_AHEAD);
        let (recycle, recycled) = mpsc::channel();
        std::thread::Builder::new()
            .name("input".into())
            .spawn(move || read_chunks(source, &chunk_sender, &recycled))
            .map_err(|source| Error::Io {
                what: "starting the input thread".into(),
                source,
            })?;
        Ok(LineReader {
            chunks,
            recycle,
            chunk: Chunk::default(),
            position: 0,
            line_number: 0,
            finished: false,
            what,
        })
    }

    /// The next non-blank line, or `None` at end of input.
    pub fn next_line(&mut self) -> Result<Option<(u64, &str)>> {
        match self.next_line_until(|| None)? {
            NextLine::Line(number, line) => Ok(Some((number, line))),
            NextLine::Timeout | NextLine::End => Ok(None),
        }
    }

    /// The next non-blank line, waiting for input no later than the instant `deadline`
    /// gives (`None`: as long as it takes). `deadline` is asked only when the line is not
    /// already buffered, and at most once: the caller's answer may cost a walk over its
    /// streams, which every line need not pay.
    pub fn next_line_until(
        &mut self,
        deadline: impl FnOnce() -> Option<Instant>,
    ) -> Result<NextLine<'_>> {
        let mut ask = Some(deadline);
        let mut deadline = None;
        // Find the line's bounds first and borrow the chunk only once, at the end: the
        // loop replaces the chunk, which a borrow held across iterations would forbid.
        let (number, start, end) = loop {
            let input = self.chunk.input();
            if self.position < input.len() {
                let rest = &input[self.position..];
                let length = memchr::memchr(b'\n', rest).map_or(rest.len(), |n| n + 1);
                let start = self.position;
                self.position += length;
                self.line_number += 1;
                let mut end = start + length;
                while end > start && matches!(input[end - 1], b'\n' | b'\r') {
                    end -= 1;
                }
                if input[start..end].iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                break (self.line_number, start, end);
            }
            if self.finished {
                return Ok(NextLine::End);
            }
            if self.chunk.buffer.capacity() > 0 {
                // Every line of the chunk is done: hand it back before waiting, since the
                // reading thread may be waiting for this very return to read on.
                let used = std::mem::take(&mut self.chunk);
                // The reading thread may be gone: then nothing waits for it.
                let _ = self.recycle.send(used);
                self.position = 0;
            }
            if let Some(ask) = ask.take() {
                deadline = ask();
            }
            let received = match deadline {
                None => self
                    .chunks
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
                Some(deadline) => self
                    .chunks
                    .recv_timeout(deadline.saturating_duration_since(Instant::now())),
            };
            match received {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.position = 0;
                }
                Ok(Err(source)) => {
                    return Err(Error::Io {
                        what: self.what.clone(),
                        source,
                    })
                }
                Err(RecvTimeoutError::Timeout) => return Ok(NextLine::Timeout),
                Err(RecvTimeoutError::Disconnected) => {
                    self.finished = true;
                    self.chunk.filled = 0;
                    self.position = 0;
                }
            }
        };
        match std::str::from_utf8(&self.chunk.input()[start..end]) {
            Ok(text) => Ok(NextLine::Line(number, text)),
            Err(e) => Err(Error::Input {
                line: number,
                message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            }),
        }
    }
}

/// The reading thread: sends chunks that end on a line boundary (the last one may not).
fn read_chunks(
    source: impl Read,
    chunks: &SyncSender<std::io::Result<Chunk>>,
    returned: &Receiver<Chunk>,
) {
    let mut buffered = BufReader::with_capacity(CHUNK_BYTES, source);
    let mut input: Box<dyn Read> = match buffered.fill_buf() {
        Ok(head) if head.starts_with(&GZIP_MAGIC) => Box::new(MultiGzDecoder::new(buffered)),
        Ok(_) => Box::new(DrainedThenDirect(buffered)),
        Err(error) => {
            let _ = chunks.send(Err(error));
            return;
        }
    };
    let mut ahead = ReadAhead {
        returned,
        bytes: 0,
        spares: Vec::new(),
    };
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut chunk = ahead.buffer();
        chunk.append(&carry);
        carry.clear();
        // Take what one read gives (a pipe hands over what the tap has written so far), as
        // long as it completes a line; then cut after the last newline. Waiting to fill a
        // whole chunk would hold a slow tap's lines back from the loader.
        let mut at_end = false;
        loop {
            if !ahead.wait_for_room(chunk.filled) {
                return;
            }
            let searched = chunk.filled;
            match input.read(chunk.room()) {
                Ok(0) => {
                    at_end = true;
                    break;
                }
                Ok(read) => chunk.filled += read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    let _ = chunks.send(Err(error));
                    return;
                }
            }
            if memchr::memchr(b'\n', &chunk.input()[searched..]).is_some() {
                break;
            }
        }
        if !at_end {
            if let Some(last) = memchr::memrchr(b'\n', chunk.input()) {
                carry.extend_from_slice(&chunk.input()[last + 1..]);
                chunk.filled = last + 1;
            }
        }
        if chunk.filled > 0 {
            ahead.bytes += chunk.filled;
            if chunks.send(Ok(chunk)).is_err() {
                return;
            }
        }
        if at_end {
            if !carry.is_empty() {
                let mut last = Chunk::default();
                last.append(&carry);
                let _ = chunks.send(Ok(last));
            }
            return;
        }
    }
}

/// Plain input: first what the gzip check buffered, then reads straight from the source
/// into the caller's buffer (a `BufReader` would copy whenever that is smaller than its own).
struct DrainedThenDirect<R>(BufReader<R>);

impl<R: Read> Read for DrainedThenDirect<R> {
    fn read(&mut self, into: &mut [u8]) -> std::io::Result<usize> {
        if self.0.buffer().is_empty() {
            self.0.get_mut().read(into)
        } else {
            self.0.read(into)
        }
    }
}

/// The reading thread's account of the input the loader has not finished with.
struct ReadAhead<'a> {
    /// Chunks the loader is done with.
    returned: &'a Receiver<Chunk>,
    /// Bytes sent and not yet returned.
    bytes: usize,
    /// Returned buffers kept for reuse.
    spares: Vec<Chunk>,
}

impl ReadAhead<'_> {
    /// An empty buffer for the next chunk.
    fn buffer(&mut self) -> Chunk {
        self.spares.pop().unwrap_or_else(|| Chunk {
            buffer: vec![0; BUFFER_BYTES],
            filled: 0,
        })
    }

    /// Waits until the loader has finished with enough input that more may be read on top
    /// of the `filling` bytes of the chunk being filled: while it holds none, any amount
    /// may (a line longer than the bound is read alone). False when the loader is gone.
    fn wait_for_room(&mut self, filling: usize) -> bool {
        while let Ok(chunk) = self.returned.try_recv() {
            self.take_back(chunk);
        }
        while self.bytes > 0 && self.bytes + filling >= READ_AHEAD_BYTES {
            match self.returned.recv() {
                Ok(chunk) => self.take_back(chunk),
                Err(_) => return false,
            }
        }
        true
    }

    /// Counts a returned chunk off, keeping its buffer for reuse unless it grew huge.
    fn take_back(&mut self, mut chunk: Chunk) {
        self.bytes = self.bytes.saturating_sub(chunk.filled);
        if chunk.buffer.capacity() <= REUSED_CAPACITY_MAX && self.spares.len() < SPARE_CHUNKS {
            chunk.filled = 0;
            self.spares.push(chunk);
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

    #[test]
    fn lines_crossing_chunk_boundaries_arrive_whole() {
        let mut input = Vec::new();
        let mut expected = Vec::new();
        for n in 0..20_000u64 {
            // Lines of varying length, one much longer than a chunk.
            let line = if n == 7_000 {
                "z".repeat(CHUNK_BYTES * 2 + 17)
            } else {
                format!("{n}-{}", "y".repeat((n % 97) as usize))
            };
            input.extend_from_slice(line.as_bytes());
            input.push(b'\n');
            expected.push((n + 1, line));
        }
        assert_eq!(lines(input), expected);
    }

    /// Input that counts the bytes taken from it.
    struct Counted {
        data: std::io::Cursor<Vec<u8>>,
        taken: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Read for Counted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.data.read(buf)?;
            self.taken.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
            Ok(n)
        }
    }

    #[test]
    fn lines_longer_than_the_read_ahead_arrive_whole_and_one_at_a_time() {
        let long = READ_AHEAD_BYTES * 2 + 3;
        let lines: Vec<String> = (0..8u8)
            .map(|n| {
                let fill = char::from(b'a' + n);
                let length = if n % 2 == 0 { long } else { 10 };
                fill.to_string().repeat(length)
            })
            .collect();
        let taken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let source = Counted {
            data: std::io::Cursor::new(lines.join("\n").into_bytes()),
            taken: std::sync::Arc::clone(&taken),
        };
        let mut reader = LineReader::from_reader(source, "counted".into()).unwrap();
        for (n, expected) in lines.iter().enumerate() {
            let (number, line) = reader.next_line().unwrap().unwrap();
            assert_eq!((number, line.len()), (n as u64 + 1, expected.len()));
            assert!(line == expected.as_str(), "line {number} arrives whole");
            if n == 0 {
                // Give the reading thread every chance to run ahead while this line is held:
                // it must not read more than the line and what one read brings with it.
                std::thread::sleep(std::time::Duration::from_millis(300));
                let read = taken.load(std::sync::atomic::Ordering::SeqCst);
                assert!(
                    read <= long + 2 * CHUNK_BYTES,
                    "{read} bytes read while a line of {long} is held"
                );
            }
        }
        assert!(reader.next_line().unwrap().is_none());
    }

    /// Input handed over in reads of varying size, some interrupted first.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        calls: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls % 7 == 0 {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let size = [1, 3, 700, 5, 64 * 1024, 2, 300_000][self.calls % 7];
            let n = size.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn varied_lines() -> (Vec<u8>, Vec<(u64, String)>) {
        let mut input = Vec::new();
        let mut expected = Vec::new();
        for n in 0..3_000u64 {
            let line = match n % 500 {
                0 => "L".repeat(CHUNK_BYTES + 99),
                1 => String::new(),
                _ => format!("{n}-{}", "x".repeat((n % 211) as usize)),
            };
            input.extend_from_slice(line.as_bytes());
            input.extend_from_slice(if n % 3 == 0 { b"\r\n" } else { b"\n" });
            if !line.is_empty() {
                expected.push((n + 1, line));
            }
        }
        // The last line has no newline.
        input.extend_from_slice(b"tail");
        expected.push((3_001, "tail".to_string()));
        (input, expected)
    }

    #[test]
    fn reads_of_any_size_and_interrupted_reads_give_the_same_lines() {
        let (input, expected) = varied_lines();
        let source = Trickle {
            data: input,
            at: 0,
            calls: 0,
        };
        let mut reader = LineReader::from_reader(source, "trickle".into()).unwrap();
        let mut got = Vec::new();
        while let Some((n, line)) = reader.next_line().unwrap() {
            got.push((n, line.to_string()));
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn gzip_input_of_several_members_and_many_chunks_gives_the_same_lines() {
        let (input, expected) = varied_lines();
        let mut compressed = Vec::new();
        for part in input.chunks(input.len() / 3 + 1) {
            let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(part).unwrap();
            compressed.extend(encoder.finish().unwrap());
        }
        assert_eq!(lines(compressed), expected);
    }

    #[test]
    fn a_silent_input_times_out_instead_of_blocking() {
        struct Silent;
        impl Read for Silent {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok(0)
            }
        }
        let mut reader = LineReader::from_reader(Silent, "silent".into()).unwrap();
        let deadline = Instant::now() + std::time::Duration::from_millis(50);
        assert_eq!(
            reader.next_line_until(|| Some(deadline)).unwrap(),
            NextLine::Timeout
        );
    }
}
