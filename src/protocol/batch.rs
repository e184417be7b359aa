//! The files of a BATCH message: from manifest URL to local path, and from path to a stream
//! of lines.
//!
//! The Meltano SDK names each file with a `file://` URL. Its own reader strips `file://`,
//! percent-decodes the rest and resolves it against the working directory, so both
//! `file:///abs/path` and the relative `file://dir/file` it writes for a relative storage root
//! work; `file://localhost/abs/path` and `file:/abs/path` (RFC 8089) are read as absolute
//! paths too. Other schemes (`s3://`, ...) would need a client for that store, which this
//! target does not carry: they are refused with the URL named.
//!
//! A file is read through the same [`LineReader`] as the main input: streamed in reused
//! chunks on a reading thread, gzip recognised by its magic bytes, blank lines skipped, line
//! numbers kept, so a batch file of any size costs the memory of a few chunks.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use crate::percent::{self, BadEscape};
use crate::protocol::message::BatchCompression;
use crate::protocol::reader::LineReader;

/// gzip's first two bytes; no JSON text can start with them, so they decide unambiguously.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The local path a manifest URL names, or why it names none.
pub fn path_of_file_url(url: &str) -> Result<PathBuf, String> {
    let scheme_end = url.find(':').unwrap_or(0);
    let (scheme, rest) = url.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case("file") {
        return Err(
            "not a file:// URL (only local files can be read: reading s3://, gs:// and other stores would need their clients)"
                .into(),
        );
    }
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    // As the SDK's reader does, a `?query` is not part of the path.
    let rest = rest.split_once('?').map_or(rest, |(path, _)| path);
    let path = match rest.strip_prefix("//") {
        Some(after) => match after.get(.."localhost/".len()) {
            Some(host) if host.eq_ignore_ascii_case("localhost/") => {
                after.get("localhost".len()..).unwrap_or(after)
            }
            _ => after,
        },
        // `file:/abs/path`
        None => rest,
    };
    if path.is_empty() {
        return Err("the URL names no file".into());
    }
    Ok(path_from_bytes(
        percent::decode(path, BadEscape::Keep).unwrap_or_default(),
    ))
}

#[cfg(unix)]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

/// Opens a batch file for reading line by line. The file's first bytes decide whether it is
/// gzip; a file that contradicts its declared compression is read anyway, with a warning.
pub fn open_batch_file(path: &Path, declared: BatchCompression) -> Result<LineReader, String> {
    let mut file = File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let mut head = [0u8; 2];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot read it: {e}")),
        }
    }
    file.rewind()
        .map_err(|e| format!("cannot read it from the start: {e}"))?;
    let is_gzip = filled == head.len() && head == GZIP_MAGIC;
    match (declared, is_gzip) {
        (BatchCompression::Gzip, false) if filled > 0 => log::warn!(
            "BATCH file {} is declared gzip but is not gzip-compressed; read as plain text",
            path.display()
        ),
        (BatchCompression::None, true) => log::warn!(
            "BATCH file {} is declared uncompressed but is gzip; decompressed",
            path.display()
        ),
        _ => {}
    }
    LineReader::from_reader(file, path.display().to_string()).map_err(|e| e.to_string())
}

/// A manifest URL as messages show it: without credentials (`user:password@`) or a query,
/// which may carry signed tokens.
pub fn url_for_messages(url: &str) -> String {
    let url = url.split_once('?').map_or(url, |(before, _)| before);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn path(url: &str) -> String {
        path_of_file_url(url)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn absolute_file_urls_give_absolute_paths() {
        assert_eq!(path("file:///tmp/batch/1.json.gz"), "/tmp/batch/1.json.gz");
        assert_eq!(path("FILE:///tmp/x"), "/tmp/x");
        assert_eq!(path("file://localhost/tmp/x"), "/tmp/x");
        assert_eq!(path("file:/tmp/x"), "/tmp/x");
    }

    #[test]
    fn the_sdk_relative_form_stays_relative() {
        assert_eq!(
            path("file://tests/resources/batch-1.json.gz"),
            "tests/resources/batch-1.json.gz"
        );
    }

    #[test]
    fn urls_in_messages_lose_credentials_and_query() {
        assert_eq!(
            url_for_messages("s3://key:secret@bucket/a/b.gz?X-Amz-Signature=abc"),
            "s3://bucket/a/b.gz"
        );
        assert_eq!(
            url_for_messages("file:///tmp/x.jsonl"),
            "file:///tmp/x.jsonl"
        );
        assert_eq!(url_for_messages("not a url"), "not a url");
    }

    #[test]
    fn urls_are_percent_decoded_and_lose_their_query() {
        assert_eq!(
            path("file:///tmp/my%20dir/caf%C3%A9.jsonl"),
            "/tmp/my dir/café.jsonl"
        );
        assert_eq!(path("file:///tmp/100%/x%+1/y%4"), "/tmp/100%/x%+1/y%4");
        assert_eq!(path("file:///tmp/x.jsonl?version=3"), "/tmp/x.jsonl");
    }

    #[test]
    fn other_schemes_and_empty_paths_are_refused() {
        for url in [
            "s3://bucket/key.json.gz",
            "https://x/y",
            "/tmp/plain/path",
            "",
        ] {
            let err = path_of_file_url(url).unwrap_err();
            assert!(err.contains("not a file:// URL"), "{url}: {err}");
        }
        assert!(path_of_file_url("file://").is_err());
    }

    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("tp_batch_unit_{}_{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn read_all(path: &Path, declared: BatchCompression) -> Vec<(u64, String)> {
        let mut reader = open_batch_file(path, declared).unwrap();
        let mut lines = Vec::new();
        while let Some((number, line)) = reader.next_line().unwrap() {
            lines.push((number, line.to_string()));
        }
        lines
    }

    #[test]
    fn gzip_is_read_by_its_magic_whatever_was_declared() {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"{\"id\":1}\n\n{\"id\":2}\n").unwrap();
        let gz = temp_file("magic.json.gz", &encoder.finish().unwrap());
        let plain = temp_file("magic.jsonl", b"{\"id\":1}\r\n{\"id\":2}");
        let expected_gz = vec![(1, "{\"id\":1}".to_string()), (3, "{\"id\":2}".to_string())];
        let expected_plain = vec![(1, "{\"id\":1}".to_string()), (2, "{\"id\":2}".to_string())];
        for declared in [BatchCompression::Gzip, BatchCompression::None] {
            assert_eq!(read_all(&gz, declared), expected_gz);
            assert_eq!(read_all(&plain, declared), expected_plain);
        }
        let empty = temp_file("empty.jsonl", b"");
        assert!(read_all(&empty, BatchCompression::Gzip).is_empty());
        for path in [gz, plain, empty] {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn a_missing_file_says_it_cannot_be_opened() {
        let err = open_batch_file(
            Path::new("/nonexistent/tp/batch.jsonl"),
            BatchCompression::None,
        )
        .map(|_| ())
        .unwrap_err();
        assert!(err.starts_with("cannot open it:"), "{err}");
    }
}
