//! A hand-written scanner for the common shape of a RECORD line, ahead of serde.
//!
//! Nearly every line a tap writes is `{"type":"RECORD","stream":…,"record":{…}}` with perhaps
//! `time_extracted`, `version` and `sequence`: serde's visitor machinery spent about half of
//! the target's instructions reading them. [`scan_record`] reads that shape directly and
//! checks the whole line as strictly as serde_json would (numbers, literals, escapes, control
//! characters, brackets, nothing after the object) before anything is handed on. Whatever it
//! is not certain of — another message type, escapes in a key or in the stream's name, a
//! field given twice, `record` before `stream` or not an object, nesting deeper than
//! [`SCAN_DEPTH`](super::json_scan::SCAN_DEPTH), any JSON error — it declines, and the serde path in
//! [`super::message`] reads the line as before, with the same errors. So a line this accepts
//! is one serde accepts, and [`ScannedRecord::deliver`] makes the same calls on the
//! [`RecordSlots`] that serde's walk makes, in the same order (the differential unit test
//! below compares both on corpora of valid, mutated and broken lines).

use std::cell::Cell;

use serde::de::DeserializeSeed;
use serde_json::value::RawValue;

use super::json_scan::Scanner;
use super::known_names::{known_length, remember, KnownNames};
use super::walk::{RecordSlots, SlotWalk, ENVELOPE_FIELDS};

/// The record's properties in line order, as byte offsets into the line: name (no escapes,
/// between its quotes) from, to; raw value text from, to.
type Properties = Vec<[usize; 4]>;

/// The most properties a reused list keeps room for (32 bytes each).
const REUSED_PROPERTIES_MAX: usize = 4096;

thread_local! {
    /// One list of properties reused from line to line: an allocation per line would cost
    /// more than a small record's scan.
    static PROPERTIES: Cell<Properties> = const { Cell::new(Vec::new()) };
    /// The property names of the record before, by place.
    static KNOWN_NAMES: Cell<KnownNames> = const { Cell::new(Vec::new()) };
}

/// Reads `line` if it is a RECORD line of the common shape, walking its record into `slots`
/// as [`super::message::parse_message_into`] would; `None` (with `slots` untouched) leaves
/// the line to serde.
pub(super) fn read_record<'a, H: RecordSlots>(
    line: &'a str,
    slots: &mut H,
) -> Option<Result<FastRecord<'a>, String>> {
    PROPERTIES.with(|reused| {
        let mut properties = reused.take();
        properties.clear();
        let mut names = KNOWN_NAMES.take();
        let scanned = scan_record(line, &mut properties, &mut names);
        KNOWN_NAMES.set(names);
        let message = scanned.map(|scanned| scanned.deliver(line, &properties, slots));
        // A list grown by a record with a great many properties is not kept: memory
        // stays bounded by what the loader accounts for.
        if properties.capacity() <= REUSED_PROPERTIES_MAX {
            reused.set(properties);
        }
        message
    })
}

/// A RECORD line read by the scanner: what [`super::message`] makes its `RecordMessage` of.
pub(super) struct FastRecord<'a> {
    /// Stream name (no escapes).
    pub stream: &'a str,
    /// The record kept raw, when the slots did not take it; `None`: walked into them.
    pub raw: Option<&'a RawValue>,
    /// `version`, when an integer.
    pub version: Option<i64>,
    /// `time_extracted` (no escapes).
    pub time_extracted: Option<&'a str>,
    /// `sequence`, when an integer.
    pub sequence: Option<i64>,
}

/// A RECORD line checked whole, its record's properties not yet handed to any slots.
struct ScannedRecord<'a> {
    stream: &'a str,
    /// The record object's text.
    record: &'a str,
    version: Option<&'a str>,
    time_extracted: Option<&'a str>,
    sequence: Option<&'a str>,
}

/// The envelope fields of a RECORD line as the scan finds them.
#[derive(Default)]
struct Fields<'a> {
    kind: Option<&'a str>,
    stream: Option<&'a str>,
    record: Option<&'a str>,
    version: Option<&'a str>,
    time_extracted: Option<&'a str>,
    sequence: Option<&'a str>,
    /// Bit `i` set: `ENVELOPE_FIELDS[i]` was given.
    seen: u16,
}

/// How nearly every RECORD line starts (compact, the type first): taken as the scan would
/// read it, `type` given as `RECORD` and the `stream` key read, without a look at each byte.
const COMPACT_HEAD: &[u8] = br#"{"type":"RECORD","stream":"#;
/// The key that usually comes after a comma behind the stream's name, taken likewise.
const COMPACT_RECORD_KEY: &[u8] = br#""record":"#;

impl Fields<'_> {
    /// Notes that `key` was given: its place in [`ENVELOPE_FIELDS`] (`None`: not one of
    /// them); `None` when it was given before, which serde refuses with its own message.
    #[inline(always)]
    fn given(&mut self, key: &str) -> Option<Option<usize>> {
        let known = ENVELOPE_FIELDS.iter().position(|f| *f == key);
        if let Some(index) = known {
            if self.seen & (1 << index) != 0 {
                return None;
            }
            self.seen |= 1 << index;
        }
        Some(known)
    }
}

/// Reads `line` if it is a RECORD line of the common shape and valid JSON; `None` leaves it to
/// serde (see the module documentation for what is declined).
fn scan_record<'a>(
    line: &'a str,
    properties: &mut Properties,
    names: &mut KnownNames,
) -> Option<ScannedRecord<'a>> {
    let mut scan = Scanner {
        text: line,
        bytes: line.as_bytes(),
        at: 0,
    };
    let mut fields = Fields::default();
    // A key already read, when the line is laid out the usual way.
    let mut next_key = None;
    if scan.bytes.starts_with(COMPACT_HEAD) {
        fields.given("type")?;
        fields.kind = Some("RECORD");
        scan.at = COMPACT_HEAD.len();
        next_key = Some("stream");
    } else {
        scan.skip_whitespace();
        scan.eat(b'{')?;
    }
    loop {
        let key = match next_key.take() {
            Some(key) => key,
            None => {
                scan.skip_whitespace();
                let (key, escaped) = scan.string()?;
                if escaped || scan.next_token() != b':' {
                    return None;
                }
                key
            }
        };
        scan.skip_whitespace();
        scan.envelope_field(key, &mut fields, properties, names)?;
        match scan.next_token() {
            b',' => {
                let rest = scan.bytes.get(scan.at..).unwrap_or_default();
                if rest.starts_with(COMPACT_RECORD_KEY) {
                    scan.at += COMPACT_RECORD_KEY.len();
                    next_key = Some("record");
                }
            }
            b'}' => break,
            _ => return None,
        }
    }
    scan.skip_whitespace();
    if scan.at != scan.bytes.len() || !fields.kind?.eq_ignore_ascii_case("RECORD") {
        return None;
    }
    Some(ScannedRecord {
        stream: fields.stream?,
        record: fields.record?,
        version: fields.version,
        time_extracted: fields.time_extracted,
        sequence: fields.sequence,
    })
}

impl<'a> ScannedRecord<'a> {
    /// The message, with the record walked into `slots` when they take it: the calls serde's
    /// walk would make ([`RecordSlots::begin`] once, then per property `is_flattened`,
    /// `slot_of`, `fill` or `unknown`), in the same order.
    fn deliver<H: RecordSlots>(
        self,
        line: &'a str,
        properties: &Properties,
        slots: &mut H,
    ) -> Result<FastRecord<'a>, String> {
        let raw = if slots.begin(self.stream) {
            for &[name_from, name_to, raw_from, raw_to] in properties {
                // The offsets are where the scan found them: this cannot fail.
                let name = line.get(name_from..name_to).unwrap_or_default();
                deliver_property(slots, name, line, raw_from..raw_to)?;
            }
            None
        } else {
            // Checked already: this cannot fail, but says why if it did.
            let raw: &'a RawValue = serde_json::from_str(self.record)
                .map_err(|e| format!("record is not a JSON object: {e}"))?;
            Some(raw)
        };
        Ok(FastRecord {
            stream: self.stream,
            raw,
            version: self.version.and_then(|raw| raw.parse::<i64>().ok()),
            time_extracted: self.time_extracted,
            sequence: self.sequence.and_then(|raw| raw.parse::<i64>().ok()),
        })
    }
}

/// One property of the record, its value at `value` in `line`, into `slots`, as
/// [`SlotWalk`] hands it over.
fn deliver_property<H: RecordSlots>(
    slots: &mut H,
    name: &str,
    line: &str,
    value: std::ops::Range<usize>,
) -> Result<(), String> {
    if slots.is_flattened(name) {
        let raw = line.get(value).unwrap_or_default();
        // Rare: serde walks the object (the scan made sure its keys have no escapes, so
        // this walk cannot fail where serde's would have succeeded).
        if raw.starts_with('{') {
            let mut nested = serde_json::Deserializer::from_str(raw);
            SlotWalk::flattened(slots, name.to_string())
                .deserialize(&mut nested)
                .map_err(|e| format!("record is not a JSON object: {e}"))?;
        }
        return Ok(());
    }
    match slots.slot_of(name) {
        Some(slot) => slots.fill_at(slot, line, value.start, value.end),
        None => slots.unknown(name),
    }
    Ok(())
}

impl<'a> Scanner<'a> {
    /// One envelope field's value, at the cursor: kept in `fields`, or skipped (checked)
    /// when the field is not one of ours.
    fn envelope_field(
        &mut self,
        key: &'a str,
        fields: &mut Fields<'a>,
        properties: &mut Properties,
        names: &mut KnownNames,
    ) -> Option<()> {
        let known = fields.given(key)?;
        match key {
            "type" => fields.kind = Some(self.plain_string()?),
            "stream" => fields.stream = Some(self.plain_string()?),
            "record" => {
                // Before its stream serde keeps the record raw; not an object is an error.
                if fields.stream.is_none() || self.peek() != b'{' {
                    return None;
                }
                fields.record = Some(self.record(properties, names)?);
            }
            "version" => fields.version = Some(self.value(1)?),
            "sequence" => fields.sequence = Some(self.value(1)?),
            "time_extracted" => {
                fields.time_extracted = if self.peek() == b'n' {
                    self.literal(*b"null", 0)?;
                    None
                } else {
                    Some(self.plain_string()?)
                }
            }
            // The other messages' fields (schema, value, manifest, …) have no place here.
            _ if known.is_some() => return None,
            _ => {
                self.value(1)?;
            }
        }
        Some(())
    }

    /// The record object at the cursor; its properties go to `properties`.
    fn record(&mut self, properties: &mut Properties, names: &mut KnownNames) -> Option<&'a str> {
        let start = self.at;
        self.at += 1;
        if self.peek_token() == b'}' {
            self.at += 1;
            return self.text.get(start..self.at);
        }
        for place in 0.. {
            if self.next_token() != b'"' {
                return None;
            }
            let name_from = self.at;
            match known_length(names, place, self.bytes, name_from) {
                Some(length) => self.at += length,
                None => {
                    if self.string_rest()? {
                        return None;
                    }
                    let name_and_quote = self.bytes.get(name_from..self.at).unwrap_or_default();
                    remember(names, place, name_and_quote);
                }
            }
            let name_to = self.at - 1;
            if self.next_token() != b':' {
                return None;
            }
            let raw_from = self.skip_value(2)?;
            properties.push([name_from, name_to, raw_from, self.at]);
            match self.next_token() {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
        self.text.get(start..self.at)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::super::json_scan::SCAN_DEPTH;
    use super::super::message::{
        parse_message_into, parse_with_serde, Message, RecordBody, RecordMessage,
    };
    use super::super::walk::{KeepRaw, MAX_NESTING};
    use super::*;
    use crate::fuzz::Rng;

    /// Logs every call a parse makes on the slots, spans as offsets into the line.
    struct Recorder<'l> {
        line: &'l str,
        walk: bool,
        log: RefCell<Vec<String>>,
    }

    const NAMES: &[&str] = &["id", "name", "n", "a", "t", "x-y Z", "é", "", "street"];
    const FLATTENED: &[&str] = &["address", "o", "address__geo"];

    impl RecordSlots for Recorder<'_> {
        fn begin(&mut self, stream: &str) -> bool {
            self.log.borrow_mut().push(format!("begin {stream}"));
            self.walk
        }
        fn slot_of(&mut self, property: &str) -> Option<usize> {
            let slot = NAMES.iter().position(|name| *name == property);
            self.log
                .borrow_mut()
                .push(format!("slot_of {property} {slot:?}"));
            slot
        }
        fn fill(&mut self, slot: usize, raw: &str) {
            let offset = raw.as_ptr() as usize - self.line.as_ptr() as usize;
            self.log
                .borrow_mut()
                .push(format!("fill {slot} at {offset}: {raw}"));
        }
        fn unknown(&mut self, property: &str) {
            self.log.borrow_mut().push(format!("unknown {property}"));
        }
        fn is_flattened(&self, path: &str) -> bool {
            let flattened = FLATTENED.contains(&path);
            self.log
                .borrow_mut()
                .push(format!("is_flattened {path} {flattened}"));
            flattened
        }
    }

    /// The message with its record's place in the line, to compare the two paths by.
    fn described(message: &Message<'_>, line: &str) -> String {
        let at = match message {
            Message::Record(RecordMessage {
                record: RecordBody::Raw(raw),
                ..
            }) => raw.get().as_ptr() as usize - line.as_ptr() as usize,
            _ => 0,
        };
        format!("{message:?} at {at}")
    }

    /// Whether the fast path took `line`; panics where it differs from serde.
    fn agrees_with_serde(line: &str) -> bool {
        let mut accepted = false;
        for walk in [true, false] {
            let recorder = || Recorder {
                line,
                walk,
                log: RefCell::default(),
            };
            let (mut by_serde, mut by_fast, mut probe) = (recorder(), recorder(), recorder());
            let serde = parse_with_serde(line, &mut by_serde);
            if read_record(line, &mut probe).is_none() {
                assert!(probe.log.take().is_empty(), "declined after a call: {line}");
                continue;
            }
            let fast = parse_message_into(line, &mut by_fast);
            accepted = true;
            let serde = match serde {
                Ok(message) => message,
                Err(e) => panic!("the fast path takes a line serde refuses ({e}): {line}"),
            };
            let fast = fast.unwrap();
            assert_eq!(described(&fast, line), described(&serde, line), "{line}");
            assert_eq!(by_fast.log.take(), by_serde.log.take(), "{line}");
        }
        accepted
    }

    /// Whether the fast path declines `line`.
    fn declined(line: &str) -> bool {
        read_record(line, &mut KeepRaw).is_none()
    }

    const BENCHMARK_LINE: &str = r#"{"type":"RECORD","stream":"bench-stream_0","record":{"id":1,"name":"name-195517","email":"user1@example.com","age":82,"score":26.3538,"active":true,"created_at":"2024-03-13T17:30:26.256125Z","birth_date":"1999-03-23","balance":701190514.88,"tags":["new"],"address":{"street":"5344 Main St","city":"Oslo","zip":"10344"},"notes":"note 0: \"quoted\" and, comma","rating":4.8,"updated_at":"2024-06-27T23:40:00+02:00"}}"#;

    /// Lines the fast path must take (and agree on).
    const TAKEN: &[&str] = &[
        BENCHMARK_LINE,
        r#"{"type": "RECORD", "stream": "users", "record": {"id": 1, "name": "a\tb", "address": {"street": "x", "geo": {"lat": 1.5}}}, "version": 3, "time_extracted": "2024-01-01T00:00:00Z"}"#,
        " {\t\"type\" :\r\"record\" ,\"stream\":\"s\",\"record\":{ } , \"sequence\" : -12 } ",
        r#"{"type":"Record","stream":"s","record":{"id":-0,"n":1E-2,"a":[1,[2,{"b":null}],"c"],"t":false},"time_extracted":null,"x":[{"y":"\u00e9\ud800"}],"x":1}"#,
        r#"{"stream":"s","type":"RECORD","record":{"id":1,"id":2,"é":"😀","":0.5e+7},"version":"3","sequence":1.0}"#,
        r#"{"type":"RECORD","stream":"s","record":{"address":null,"o":[1],"x-y Z":"\"\\\/\b\f\n\r\t\u0041"},"version":99999999999999999999}"#,
    ];

    /// Lines serde refuses or the fast path must leave to serde.
    const EDGES: &[&str] = &[
        r#"{"type":"RECORD","stream":"s","record":{"id":1}} x"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":1}}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":1}},"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":01}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":1.}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":-}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":1e}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":1e+}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":.5}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":+1}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":-01}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":tru}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":True}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":nul}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":falsee}}"#,
        "{\"type\":\"RECORD\",\"stream\":\"s\",\"record\":{\"id\":\"a\u{1}b\"}}",
        "{\"type\":\"RECORD\",\"stream\":\"s\",\"record\":{\"id\":\"a\tb\"}}",
        "{\"type\":\"RECORD\",\"stream\":\"s\",\"record\":{\"id\":1}}\u{0}",
        "{\"type\":\"RECORD\",\"stream\":\"s\",\"record\":{\"id\":1\u{0}}}",
        "{\"type\":\"RECORD\",\"stream\":\"s\",\"record\":{\"id\":1}}\u{a0}",
        r#"{"type":"RECORD","stream":"s","record":{"id":"\x"}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":"\u12"}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":"\u12G4"}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"id":"\"}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":[1,2}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":{"b":1}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":1,}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":[1,]}}"#,
        r#"{"type":"RECORD","stream":"s","record":{,}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a" 1}}"#,
        r#"{"type":"RECORD","stream":"s","record":{a:1}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":1}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":1},}"#,
        r#"{"type":"RECORD","type":"RECORD","stream":"s","record":{"a":1}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":1},"stream":"t"}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":1},"record":{}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":1},"version":1,"version":2}"#,
        r#"{"type":"RECORD","record":{"a":1},"stream":"s"}"#,
        r#"{"type":"RECORD","stream":"s\u0041","record":{"a":1}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"\u0069d":1}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"address":{"\u0069d":1}}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"address":{"\ud800":1}}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":1},"time_extracted":5}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":1},"time_extracted":"x\/y"}"#,
        r#"{"type":7,"stream":"s","record":{"a":1}}"#,
        r#"{"type":"STATE","value":{"a":1}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":1},"schema":{}}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":1},"unique_conflict_method":7}"#,
        r#"{"type":"RECORD","stream":"s","record":[1]}"#,
        r#"{"type":"RECORD","stream":"s","record":null}"#,
        r#"{"type":"RECORD","stream":null,"record":{}}"#,
        r#"{"type":"RECORD","stream":"s"}"#,
        r#"{"stream":"s","record":{"a":1}}"#,
        r#"{"type":"RECORD","record":{"a":1}}"#,
        r#"{}"#,
        r#"[]"#,
        r#"{"#,
        r#""RECORD""#,
        r#"{"type":"RECORD","stream":"s","record":{"a":1}} {"type":"RECORD"}"#,
        r#"{"type":"RECORD","stream":"s","record":{"a":1}}//"#,
        "{\"type\":\"RECORD\",\"stream\":\"s\",\"record\":{\"a\":1}}\u{b}",
        "{\"type\":\"RECORD\",\u{c}\"stream\":\"s\",\"record\":{\"a\":1}}",
    ];

    fn nested(depth: usize) -> String {
        format!(
            r#"{{"type":"RECORD","stream":"s","record":{{"a":{}1{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    }

    /// Lines made of the end-to-end tests' source: every `{"…}` in it (most are the records
    /// and values the tests send, written with `json!`) as a record, and every message line as
    /// written, whole and with the Rust after it (which serde refuses).
    fn e2e_lines() -> Vec<String> {
        let sources = [
            include_str!("../../tests/e2e/loading.rs"),
            include_str!("../../tests/e2e/types.rs"),
            include_str!("../../tests/e2e/errors.rs"),
            include_str!("../../tests/e2e/mistakes.rs"),
            include_str!("../../tests/e2e/invalid.rs"),
            include_str!("../../tests/e2e/names.rs"),
            include_str!("../../tests/e2e/mage.rs"),
            include_str!("../../tests/e2e/maps.rs"),
        ];
        let mut lines = Vec::new();
        for source in sources {
            for (start, _) in source.match_indices("{\"") {
                let text = &source[start..];
                let mut depth = 0usize;
                let end = text.char_indices().find_map(|(at, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(at)
                });
                let Some(end) = end.filter(|end| *end < 2000) else {
                    continue;
                };
                let object = &text[..=end];
                if object.starts_with("{\"type\"") {
                    lines.push(object.to_string());
                    lines.push(text.lines().next().unwrap_or("").to_string());
                }
                lines.push(format!(
                    r#"{{"type":"RECORD","stream":"s","record":{object}}}"#
                ));
            }
        }
        lines
    }

    const FRAGMENTS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"",
        "\\",
        ":",
        ",",
        " ",
        "\t",
        "\r",
        "\n",
        "0",
        "1",
        "-",
        ".",
        "e",
        "E",
        "+",
        "\\u00",
        "\\ud800",
        "\\x",
        "null",
        "true",
        "fals",
        "\u{1}",
        "\u{0}",
        "é",
        "😀",
        "\"type\":\"RECORD\",",
        "\"stream\":\"s\",",
        "\"record\":{},",
        "\"version\":1,",
        "\"time_extracted\":null,",
        "\"address\":{\"a\":1},",
        "01",
        "1.",
    ];

    fn mutated(seed: &str, rng: &mut Rng) -> Option<String> {
        let mut bytes = seed.as_bytes().to_vec();
        for _ in 0..=rng.below(3) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(5) {
                0 if at < bytes.len() => {
                    let end = (at + 1 + rng.below(4)).min(bytes.len());
                    bytes.drain(at..end);
                }
                1 if at < bytes.len() => {
                    bytes[at] = b" \"{}[],:0123456789.eE+-\\/tnfxu"[rng.below(30)]
                }
                2 => {
                    let fragment = FRAGMENTS[rng.below(FRAGMENTS.len())].as_bytes();
                    bytes.splice(at..at, fragment.iter().copied());
                }
                3 => bytes.truncate(at),
                _ => {
                    let end = (at + rng.below(12)).min(bytes.len());
                    let copy = bytes[at..end].to_vec();
                    let to = rng.below(bytes.len() + 1);
                    bytes.splice(to..to, copy);
                }
            }
        }
        // Invalid UTF-8 never reaches the parser: the line reader refuses it.
        String::from_utf8(bytes).ok()
    }

    /// Lines one after another whose names at each place are those of the line before, or
    /// nearly: a remembered name must stand for the bytes only when they are the same.
    #[test]
    fn names_remembered_from_the_line_before_are_taken_only_for_the_same_bytes() {
        let names = [
            "id",
            "idx",
            "i",
            "iD",
            "",
            "id\u{1}",
            "id\\u0041",
            "id\\",
            "id\"",
            "abcdefghijklmn",
            "abcdefghijklmno",
            "abcdefghijklmnop",
            "abcdefghijklmnoq",
            "é",
            "😀x",
        ];
        let mut taken = 0;
        for first in names {
            for second in names {
                for name in [first, second] {
                    let lines = [
                        format!(
                            r#"{{"type":"RECORD","stream":"s","record":{{"{name}":1,"n":"{name}"}}}}"#
                        ),
                        format!(
                            r#"{{"type":"RECORD","stream":"s","record":{{"n":1,"{name}":2}}}}"#
                        ),
                        format!(r#"{{"type":"RECORD","stream":"s","record":{{"n":1,"{name}"#),
                    ];
                    for line in &lines {
                        taken += usize::from(agrees_with_serde(line));
                    }
                }
            }
        }
        assert!(taken > names.len() * names.len(), "{taken}");
    }

    /// Lines that start the usual compact way (read without a look at each byte) and then
    /// go on in every way that matters: each must get serde's answer.
    #[test]
    fn the_compact_head_and_record_key_shortcuts_agree_with_serde() {
        let taken = [
            r#"{"type":"RECORD","stream":"s","record":{"id":1}}"#,
            r#"{"type":"RECORD","stream":"s" ,"record":{"id":1}}"#,
            r#"{"type":"RECORD","stream":"s", "record":{"id":1}}"#,
            r#"{"type":"RECORD","stream":"s","record" :{"id":1}}"#,
            r#"{"type":"RECORD","stream":"s","record": {"id":1} }"#,
            r#"{"type":"RECORD","stream":"s","version":1,"record":{"id":1}}"#,
            r#"{"type":"RECORD","stream":"s","recordx":1,"record":{"id":1}}"#,
            r#"{"type":"RECORD","stream":"s","record":{"id":1},"sequence":2}"#,
            r#"{"type":"RECORD","stream":"","record":{}}"#,
            "{\"type\":\"RECORD\",\"stream\":\"s\",\"record\":\t{\"id\":1}}",
        ];
        for line in taken {
            assert!(agrees_with_serde(line), "not taken: {line}");
        }
        let refused = [
            r#"{"type":"RECORD","stream":"s","type":"RECORD","record":{"id":1}}"#,
            r#"{"type":"RECORD","stream":"s","record":{"id":1},"type":"RECORD"}"#,
            r#"{"type":"RECORD","stream":"s","stream":"s","record":{"id":1}}"#,
            r#"{"type":"RECORD","stream":"s","record":{"id":1},"record":{"id":1}}"#,
            r#"{"type":"RECORD","stream":5,"record":{"id":1}}"#,
            r#"{"type":"RECORD","stream":"s\u0041","record":{"id":1}}"#,
            r#"{"type":"RECORD","stream":"s","record":[1]}"#,
            r#"{"type":"RECORD","stream":"s","record":"#,
            r#"{"type":"RECORD","stream":"s","record":}"#,
            r#"{"type":"RECORD","stream":"s","#,
            r#"{"type":"RECORD","stream":"s",}"#,
            r#"{"type":"RECORD","stream":"#,
            r#"{"type":"RECORD","stream":"s"}"#,
            r#"{"type":"RECORD","stream":"s","record":{"id":1}"#,
            r#"{"type":"RECORD","stream":"s","record":{"id":1}}}"#,
            r#"{"type":"RECORD","stream":"s","schema":{},"record":{"id":1}}"#,
        ];
        for line in refused {
            assert!(!agrees_with_serde(line), "taken: {line}");
        }
    }

    /// Numbers, strings and literals of every length from every offset, so that each
    /// crosses the eight-byte steps of the word-at-a-time skips somewhere, and with each of
    /// JSON's whitespace around the punctuation.
    #[test]
    fn the_fast_path_agrees_with_serde_across_word_boundaries_and_whitespace() {
        let values = [
            "0",
            "-0",
            "7",
            "-12",
            "123456789",
            "1234567890123456789012",
            "1.5",
            "0.0001",
            "12345678.87654321",
            "-1e5",
            "2E+10",
            "3.25e-07",
            "01",
            "1.",
            "-",
            "1e",
            "1.e3",
            "\"\"",
            "\"abcdefg\"",
            "\"abcdefgh\"",
            "\"abcdefghijklmnopq\"",
            "\"ab\\\"cdefghij\"",
            "\"abcdefg\\u00e9h\"",
            "\"é😀abcdefgh\"",
            "\"abcdefgh\\\"",
            "\"abcdefgh\\q\"",
            "true",
            "false",
            "null",
            "tru",
            "fals",
            "nul",
            "truex",
            "falsee",
            "nulll",
            "[]",
            "[1,2]",
            "{}",
            "{\"a\":[true]}",
        ];
        let mut taken = 0;
        for pad in 0..9 {
            let name = "k".repeat(pad);
            for value in values {
                for space in ["", " ", "\t", "\r", "\n", " \t\r\n "] {
                    let line = format!(
                        r#"{{"type":"RECORD","stream":"s","record":{{"{name}"{space}:{space}{value}{space},"id":{value}{space}}}}}"#
                    );
                    taken += usize::from(agrees_with_serde(&line));
                    let line = format!(
                        r#"{{"type":"RECORD","stream":"s","record":{{"id":[{value},{space}{value}]}}}}{space}"#
                    );
                    taken += usize::from(agrees_with_serde(&line));
                    // The value last on the line, so that the skips meet its end.
                    let line =
                        format!(r#"{{"type":"RECORD","stream":"s","record":{{}},"x":{value}"#);
                    agrees_with_serde(&line);
                    agrees_with_serde(&format!("{line}}}"));
                    agrees_with_serde(&format!("{line}{space}}}"));
                }
            }
        }
        assert!(taken > 1000, "{taken}");
    }

    #[test]
    fn the_fast_path_takes_the_common_record_shapes_and_agrees_with_serde() {
        for line in TAKEN {
            assert!(agrees_with_serde(line), "not taken: {line}");
        }
        assert!(agrees_with_serde(&nested(SCAN_DEPTH - 3)));
        // More properties than a reused list keeps room for, twice: the second starts afresh.
        let wide: Vec<String> = (0..REUSED_PROPERTIES_MAX + 10)
            .map(|n| format!(r#""p{n}":{n}"#))
            .collect();
        let wide = format!(
            r#"{{"type":"RECORD","stream":"s","record":{{{},"id":1}}}}"#,
            wide.join(",")
        );
        assert!(agrees_with_serde(&wide));
        assert!(agrees_with_serde(&wide));
    }

    #[test]
    fn the_fast_path_leaves_refused_and_unusual_lines_to_serde() {
        for line in EDGES {
            // Every one of these is refused by serde, or unusual enough to be its alone.
            assert!(!agrees_with_serde(line), "{line}");
            assert!(declined(line), "{line}");
        }
        for depth in [SCAN_DEPTH, MAX_NESTING, MAX_NESTING + 5] {
            assert!(declined(&nested(depth)), "{depth}");
        }
    }

    #[test]
    fn the_fast_path_agrees_with_serde_on_mutated_and_test_corpus_lines() {
        let mut seeds: Vec<String> = TAKEN.iter().map(|line| line.to_string()).collect();
        seeds.extend(e2e_lines());
        let mut taken = 0;
        for line in &seeds {
            taken += usize::from(agrees_with_serde(line));
        }
        assert!(taken > seeds.len() / 3, "{taken} of {} taken", seeds.len());
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut tried, mut taken) = (0, 0);
        for round in 0..100_000 {
            let seed = &seeds[round % seeds.len()];
            if let Some(line) = mutated(seed, &mut rng) {
                tried += 1;
                taken += usize::from(agrees_with_serde(&line));
            }
        }
        // Mutations mostly break a line: what matters is that some survive and are taken.
        assert!(taken > tried / 50, "{taken} of {tried} mutated lines taken");
    }
}
