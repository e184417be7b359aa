//! The record walker: a record's properties straight into column slots, in one pass.
//!
//! A RECORD's `record` (or a bare line of a BATCH file) is never built as a tree: serde
//! hands each property's raw JSON text to the stream's [`RecordSlots`], so numbers keep every
//! digit and nothing is copied that can be borrowed. Objects the stream flattens into
//! columns are walked recursively with `__`-joined paths. [`super::message`] walks a RECORD
//! with this while it parses the envelope; the line-level nesting limit ([`MAX_NESTING`])
//! and the borrowed [`Key`] are shared by both.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::bad_line::{reason_at_column, shown};

/// Where a RECORD's property values go while its line is parsed.
///
/// The loader implements this for its streams, so that a record is walked once, in the same
/// pass that reads the message around it, straight into column slots: a RECORD line is
/// scanned once instead of twice (once to skip the record as raw text, once to walk it).
pub trait RecordSlots {
    /// A record of `stream` is about to be walked; false keeps it raw instead (unknown
    /// stream, or one that needs the whole record, such as for validation).
    fn begin(&mut self, stream: &str) -> bool;
    /// The slot of `property` in the record being walked, if it has one. (`&mut`: an
    /// implementation may learn the order properties come in, which is nearly always the
    /// same from record to record, and skip the lookup when the next one is as expected.)
    fn slot_of(&mut self, property: &str) -> Option<usize>;
    /// The raw JSON text of the value that fills `slot`.
    fn fill(&mut self, slot: usize, raw: &str);
    /// [`RecordSlots::fill`] with the value's text at `from..to` of `line`, the line being
    /// parsed: an implementation that keeps offsets into the line need not slice it.
    fn fill_at(&mut self, slot: usize, line: &str, from: usize, to: usize) {
        self.fill(slot, line.get(from..to).unwrap_or_default());
    }
    /// A property the stream's schema does not have.
    fn unknown(&mut self, property: &str);
    /// Whether `path` (property names joined by `__`) is an object flattened into columns.
    fn is_flattened(&self, path: &str) -> bool {
        let _ = path;
        false
    }
}

/// Keeps every record raw (what [`super::message::parse_message`] walks with).
pub(super) struct KeepRaw;

impl RecordSlots for KeepRaw {
    fn begin(&mut self, _: &str) -> bool {
        false
    }
    fn slot_of(&mut self, _: &str) -> Option<usize> {
        None
    }
    fn fill(&mut self, _: usize, _: &str) {}
    fn unknown(&mut self, _: &str) {}
}

/// Walks a record object into [`RecordSlots`].
pub(super) struct SlotWalk<'h, H> {
    /// Where the values go.
    slots: &'h mut H,
    /// For a flattened object: the path of its parent properties, joined by `__`.
    prefix: Option<String>,
}

impl<'h, H: RecordSlots> SlotWalk<'h, H> {
    /// A walk of a whole record (not of an object flattened into it).
    pub(super) fn record(slots: &'h mut H) -> Self {
        SlotWalk {
            slots,
            prefix: None,
        }
    }

    /// A walk of the object at `path`, which the stream flattens into columns.
    pub(super) fn flattened(slots: &'h mut H, path: String) -> Self {
        SlotWalk {
            slots,
            prefix: Some(path),
        }
    }
}

impl<'de, H: RecordSlots> DeserializeSeed<'de> for SlotWalk<'_, H> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, H: RecordSlots> Visitor<'de> for SlotWalk<'_, H> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let path: Cow<'_, str> = match &self.prefix {
                None => Cow::Borrowed(key.as_str()),
                Some(prefix) => Cow::Owned(format!("{prefix}__{}", key.as_str())),
            };
            if self.slots.is_flattened(&path) {
                // Its properties are columns of their own: walk the object (a null or any
                // other value leaves them NULL).
                let raw: &'de RawValue = map.next_value()?;
                if raw.get().starts_with('{') {
                    let mut nested = serde_json::Deserializer::from_str(raw.get());
                    SlotWalk {
                        slots: &mut *self.slots,
                        prefix: Some(path.into_owned()),
                    }
                    .deserialize(&mut nested)
                    .map_err(de::Error::custom)?;
                }
                continue;
            }
            match self.slots.slot_of(&path) {
                Some(slot) => {
                    let raw: &'de RawValue = map.next_value()?;
                    self.slots.fill(slot, raw.get());
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                    self.slots.unknown(&path);
                }
            }
        }
        Ok(())
    }
}

/// Walks a raw record (kept by [`RecordBody::Raw`](super::message::RecordBody::Raw)) into `slots`, after `slots.begin`.
pub fn walk_record<H: RecordSlots>(record: &str, slots: &mut H) -> Result<(), String> {
    let mut deserializer = serde_json::Deserializer::from_str(record);
    SlotWalk::record(slots)
        .deserialize(&mut deserializer)
        .map_err(|e| format!("record is not a JSON object: {e}"))
}

/// Walks one line of a BATCH file (a bare record) into `slots`, after `slots.begin`. Unlike
/// a RECORD's `record`, nothing has checked the line yet: it must be one JSON object, nested
/// no deeper than [`MAX_NESTING`], with nothing after it.
pub fn walk_record_line<H: RecordSlots>(line: &str, slots: &mut H) -> Result<(), String> {
    check_nesting(line)?;
    let mut deserializer = serde_json::Deserializer::from_str(line);
    SlotWalk::record(slots)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end())
        .map_err(|e| {
            format!(
                "not a JSON record object ({}): {}",
                reason_at_column(&e),
                shown(line)
            )
        })
}

/// A string borrowed from the input unless it had escapes.
#[derive(Debug, Clone)]
pub enum Key<'de> {
    /// Borrowed from the line.
    Borrowed(&'de str),
    /// Unescaped copy.
    Owned(String),
}

impl<'de> Key<'de> {
    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }

    /// The text, still borrowed when it was.
    pub fn into_cow(self) -> Cow<'de, str> {
        match self {
            Key::Borrowed(s) => Cow::Borrowed(s),
            Key::Owned(s) => Cow::Owned(s),
        }
    }
}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The envelope fields a message may have; each may appear once (shared by the serde path
/// and the RECORD scanner, which must refuse the same duplicates).
pub(super) const ENVELOPE_FIELDS: [&str; 13] = [
    "type",
    "stream",
    "record",
    "schema",
    "key_properties",
    "unique_constraints",
    "unique_conflict_method",
    "value",
    "version",
    "time_extracted",
    "sequence",
    "encoding",
    "manifest",
];

/// Deepest nesting of arrays and objects a line may have (SPEC §8).
pub const MAX_NESTING: usize = 128;

/// Refuses lines nested deeper than [`MAX_NESTING`]. serde_json enforces its own limit
/// only where it builds values, not where it borrows raw text, so the limit is checked
/// here once for the whole line: one pass over the bytes, tracking strings and escapes.
pub(super) fn check_nesting(line: &str) -> Result<(), String> {
    // Almost every line has far fewer brackets than the limit: a count proves it without
    // the byte-by-byte walk. Counted in blocks of 255 bytes into a `u8`, which the compiler
    // turns into wide vector compares; memchr2 stops and restarts at every bracket instead,
    // and a record has dozens.
    let openers: usize = line
        .as_bytes()
        .chunks(255)
        .map(|block| {
            let count = block
                .iter()
                .fold(0u8, |n, &b| n + u8::from(b == b'[' || b == b'{'));
            usize::from(count)
        })
        .sum();
    if openers <= MAX_NESTING {
        return Ok(());
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in line.as_bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!("nesting deeper than {MAX_NESTING} levels"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what a walk put where: property → raw text.
    #[derive(Default)]
    struct Collect {
        names: Vec<String>,
        filled: Vec<(String, String)>,
    }

    impl RecordSlots for Collect {
        fn begin(&mut self, _: &str) -> bool {
            true
        }
        fn slot_of(&mut self, property: &str) -> Option<usize> {
            self.names.iter().position(|n| n == property)
        }
        fn fill(&mut self, slot: usize, raw: &str) {
            self.filled
                .push((self.names[slot].clone(), raw.to_string()));
        }
        fn unknown(&mut self, _: &str) {}
    }

    #[test]
    fn a_batch_line_is_walked_like_a_record() {
        let mut slots = Collect {
            names: vec!["id".into(), "n".into()],
            ..Collect::default()
        };
        walk_record_line(r#"{"id":7,"x":true,"n":1.50}"#, &mut slots).unwrap();
        assert_eq!(
            slots.filled,
            vec![("id".into(), "7".into()), ("n".into(), "1.50".into())]
        );
    }

    #[test]
    fn a_batch_line_must_be_one_json_object() {
        for line in [
            r#"{"id":1} {"id":2}"#,
            r#"{"id":1"#,
            r#"[1,2]"#,
            r#"{"type":"RECORD","stream":"s","record":{"id":1}} x"#,
        ] {
            let err = walk_record_line(line, &mut Collect::default()).unwrap_err();
            assert!(err.starts_with("not a JSON record object"), "{line}: {err}");
        }
        let deep = format!(r#"{{"a":{}1{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
        let err = walk_record_line(&deep, &mut Collect::default()).unwrap_err();
        assert!(err.contains("nesting deeper"), "{err}");
    }
}
