//! Record values to PostgreSQL binary COPY bytes.
//!
//! The binary COPY stream is a fixed header, then one tuple per row (a 16-bit field count
//! followed by length-prefixed fields), then a 16-bit -1 trailer. Rows are encoded once, at
//! read time, straight into the buffer that later goes on the wire.

mod array_scan;
pub mod field;
pub mod numeric;
mod scalar;
pub mod text;
pub mod time;
pub mod value;

/// Signature, flags and header-extension length that open every binary COPY stream.
pub const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The field count -1 that closes a binary COPY stream.
pub const COPY_TRAILER: &[u8] = &[0xff, 0xff];

/// Starts a tuple of `fields` fields.
#[inline]
pub fn begin_tuple(fields: u16, out: &mut Vec<u8>) {
    out.extend_from_slice(&fields.to_be_bytes());
}

/// The server-comparison helper of the encoders' unit tests.
#[cfg(test)]
pub(crate) mod test_server {
    /// Runs one psql query and returns its unaligned output, or None when psql or the
    /// server is not there (the comparison tests then skip).
    pub fn psql(sql: &str) -> Option<String> {
        let url = std::env::var("TARGET_POSTGRES_TEST_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
        let output = std::process::Command::new("psql")
            .args([
                url.as_str(),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .ok()?;
        if !output.status.success() {
            return None;
        }
        String::from_utf8(output.stdout).ok()
    }
}
