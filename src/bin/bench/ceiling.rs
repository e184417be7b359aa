//! `--ceiling`: how fast this server takes the same rows over several lanes when the client
//! costs nothing. The raw COPY's bytes are split into lanes by a hash of each row's key (the
//! first field) and into chunks of `CHUNK_BYTES` (one transaction each, as the target's
//! flushes are), then COPYed at once over one connection per lane. No client can load this
//! server faster with that many lanes: the target's ratio to this line shows what its own
//! parsing and encoding cost, and this line's ratio to the raw COPY shows what lanes can
//! gain on this machine at all.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::io::Write;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

/// The signature, flags and header-extension length that open a binary COPY stream.
const HEADER_BYTES: usize = 19;
/// The field count of -1 that ends a binary COPY stream.
const TRAILER: [u8; 2] = [0xff, 0xff];
/// A chunk's size, as the target's default `flush_chunk_mb`.
const CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// The lanes the target uses with `--lanes` (or `--set lanes=N`) as given, or its automatic
/// choice otherwise with the default `max_parallelism` of 4: this machine's cores, at least
/// 2 and at most 4.
pub fn lanes_for(label: &str) -> usize {
    label.parse::<usize>().unwrap_or_else(|_| {
        std::thread::available_parallelism()
            .map_or(2, |cores| cores.get())
            .clamp(2, 4)
    })
}

/// Splits binary COPY bytes (header, tuples, trailer) into `lanes` lists of chunks: each
/// chunk is a whole binary COPY stream of the lane's rows, in input order.
pub fn split_into_lanes(binary: &[u8], lanes: usize) -> Result<Vec<Vec<Vec<u8>>>, String> {
    let header = binary
        .get(..HEADER_BYTES)
        .ok_or("binary COPY data shorter than its header")?;
    let hasher = BuildHasherDefault::<DefaultHasher>::default();
    let mut chunks: Vec<Vec<Vec<u8>>> = vec![Vec::new(); lanes];
    let mut open: Vec<Vec<u8>> = vec![header.to_vec(); lanes];
    let mut at = HEADER_BYTES;
    loop {
        let start = at;
        let fields = i16::from_be_bytes(read_array(binary, &mut at)?);
        if fields < 0 {
            break;
        }
        let mut key: &[u8] = &[];
        for field in 0..fields {
            let len = i32::from_be_bytes(read_array(binary, &mut at)?);
            let len = usize::try_from(len).unwrap_or(0);
            let value = binary
                .get(at..at + len)
                .ok_or("binary COPY data ends inside a field")?;
            if field == 0 {
                key = value;
            }
            at += len;
        }
        let lane = (hasher.hash_one(key) % lanes as u64) as usize;
        open[lane].extend_from_slice(&binary[start..at]);
        if open[lane].len() >= CHUNK_BYTES {
            let mut chunk = std::mem::replace(&mut open[lane], header.to_vec());
            chunk.extend_from_slice(&TRAILER);
            chunks[lane].push(chunk);
        }
    }
    for (lane, mut rest) in open.into_iter().enumerate() {
        if rest.len() > HEADER_BYTES {
            rest.extend_from_slice(&TRAILER);
            chunks[lane].push(rest);
        }
    }
    Ok(chunks)
}

fn read_array<const N: usize>(binary: &[u8], at: &mut usize) -> Result<[u8; N], String> {
    let bytes = binary
        .get(*at..*at + N)
        .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
        .ok_or("binary COPY data ends inside a tuple")?;
    *at += N;
    Ok(bytes)
}

/// Times the COPY of every lane's chunks into `table` (qualified), all lanes at once, each on
/// its own connection (opened before the clock starts), one transaction per chunk.
pub fn copy_lanes(url: &str, table: &str, lanes: Vec<Vec<Vec<u8>>>) -> Result<Duration, String> {
    let start = Arc::new(Barrier::new(lanes.len() + 1));
    let copy = format!("COPY {table} FROM STDIN (FORMAT binary)");
    let workers: Vec<_> = lanes
        .into_iter()
        .map(|chunks| {
            let start = Arc::clone(&start);
            let copy = copy.clone();
            let url = url.to_string();
            std::thread::spawn(move || {
                let client = Client::connect(&url, NoTls).map_err(|e| e.to_string());
                start.wait();
                copy_chunks(&mut client?, &copy, &chunks)
            })
        })
        .collect();
    start.wait();
    let started = Instant::now();
    for worker in workers {
        worker
            .join()
            .map_err(|_| "a ceiling lane panicked".to_string())??;
    }
    Ok(started.elapsed())
}

fn copy_chunks(client: &mut Client, copy: &str, chunks: &[Vec<u8>]) -> Result<(), String> {
    let db = |e: postgres::Error| e.to_string();
    for chunk in chunks {
        let mut transaction = client.transaction().map_err(db)?;
        let mut writer = transaction.copy_in(copy).map_err(db)?;
        writer.write_all(chunk).map_err(|e| e.to_string())?;
        writer.finish().map_err(db)?;
        transaction.commit().map_err(db)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary COPY stream of rows with an 8-byte key and a text field.
    fn stream(rows: std::ops::Range<i64>) -> Vec<u8> {
        let mut out = b"PGCOPY\n\xff\r\n\0".to_vec();
        out.extend_from_slice(&[0; 8]);
        for id in rows {
            out.extend_from_slice(&2i16.to_be_bytes());
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&(-1i32).to_be_bytes());
        }
        out.extend_from_slice(&TRAILER);
        out
    }

    fn keys(chunk: &[u8]) -> Vec<i64> {
        let mut at = HEADER_BYTES;
        let mut keys = Vec::new();
        while i16::from_be_bytes(read_array(chunk, &mut at).unwrap()) >= 0 {
            at += 4;
            keys.push(i64::from_be_bytes(read_array(chunk, &mut at).unwrap()));
            at += 4;
        }
        assert_eq!(at, chunk.len(), "the trailer ends the chunk");
        keys
    }

    #[test]
    fn every_row_lands_in_exactly_one_lane_in_input_order() {
        let lanes = split_into_lanes(&stream(0..1000), 2).unwrap();
        assert_eq!(lanes.len(), 2);
        let mut seen: Vec<i64> = Vec::new();
        for lane in &lanes {
            let lane_keys: Vec<i64> = lane.iter().flat_map(|chunk| keys(chunk)).collect();
            assert!(lane_keys.windows(2).all(|w| w[0] < w[1]), "input order");
            assert!(lane_keys.len() > 300, "both lanes get rows");
            seen.extend(lane_keys);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn truncated_data_is_an_error_not_a_panic() {
        let whole = stream(0..3);
        for cut in [5, HEADER_BYTES + 1, HEADER_BYTES + 7, whole.len() - 3] {
            assert!(split_into_lanes(&whole[..cut], 2).is_err(), "cut at {cut}");
        }
    }
}
