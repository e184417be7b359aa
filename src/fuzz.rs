//! A mutation fuzzer over the input side: the message parser, BATCH file lines and URLs,
//! stream-map expressions (parsed, checked, evaluated), the
//! schema mapping and naming, and the value encoders, for every column type. It runs in the test suite (a few thousand
//! cases, seeded, so a failure reproduces) and for as long as asked with
//! `TARGET_POSTGRES_FUZZ_SECONDS=600 cargo test --lib fuzz -- --nocapture`.
//!
//! The property is the one SPEC §8 sets: no input makes the program panic. Errors are fine.

use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use serde_json::Value;

use crate::encode::value::{encode_field, EncodeOptions, EncodeStats};
use crate::protocol::batch::path_of_file_url;
use crate::protocol::message::{parse_message, Message, RecordBody};
use crate::protocol::walk::{walk_record_line, RecordSlots};
use crate::schema::naming::{clean_name, unique_names, NamingOptions};
use crate::schema::pg_type::PgType;
use crate::schema::types::column_type_for;

/// Lines the mutations start from.
const SEEDS: &[&str] = &[
    r#"{"type":"SCHEMA","stream":"src-users","schema":{"properties":{"id":{"type":"integer","maximum":1e30},"n":{"type":["null","number"],"format":"x-singer.decimal","precision":40,"scale":10},"t":{"type":"string","format":"date-time"},"d":{"anyOf":[{"type":"string","format":"date"},{"type":"null"}]},"a":{"type":"array","items":{"type":["null","integer"]}},"o":{"type":"object","properties":{"x":{"type":"string"}}},"x-y Z":{"x-sql-datatype":"numeric(10,2)"}}},"key_properties":["id"]}"#,
    r#"{"type":"RECORD","stream":"src-users","record":{"id":123456789012345678901234567890,"n":-0.000000000000000000000000000001,"t":"2024-02-29T23:59:60.9999995+14:00","d":"0001-01-01","a":[1,null,-9223372036854775808],"o":{"x":"\u0000\ud83d\ude00"},"x-y Z":"12.5"},"version":3,"time_extracted":"2024-01-01"}"#,
    r#"{"type":"STATE","value":{"bookmarks":{"a":{"k":[1,2,{"z":null}]}}}}"#,
    r#"{"type":"ACTIVATE_VERSION","stream":"s","version":9223372036854775807}"#,
    r#"{"type":"BATCH","stream":"s","encoding":{"format":"jsonl","compression":"gzip"},"manifest":["file:///tmp/a%20b/c%C3%A9.json.gz?x=1","file://localhost/x","file://rel/y"]}"#,
    r#"{"type":"record","stream":"s","record":{"u":"0a0b0c0d-0e0f-1011-1213-141516171819","b":"t","f":1.5e308,"s":"\\\"quoted\\\" \\n"}}"#,
];

/// Fragments spliced into inputs: the shapes that break parsers.
const DICTIONARY: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    ":",
    ",",
    "\\u0000",
    "\\ud800",
    "\\uDFFF",
    "1e400",
    "-0",
    "99999999999999999999999999999999999999",
    "NaN",
    "Infinity",
    "null",
    "true",
    "é",
    "😀",
    "\u{0}",
    "T25:61:61Z",
    "+99:99",
    "--",
    "$$",
    "\"record\":",
    "\"stream\":",
    "\"type\":\"RECORD\"",
    "%",
    "%C3",
    "file://",
];

/// Takes every property, as a stream whose schema has them all would.
struct EveryProperty;

impl RecordSlots for EveryProperty {
    fn begin(&mut self, _: &str) -> bool {
        true
    }
    fn slot_of(&mut self, _: &str) -> Option<usize> {
        Some(0)
    }
    fn fill(&mut self, _: usize, _: &str) {}
    fn unknown(&mut self, _: &str) {}
    fn is_flattened(&self, path: &str) -> bool {
        path.len() % 2 == 0
    }
}

/// Every column type the encoder knows, arrays included.
fn all_types() -> Vec<PgType> {
    let names = [
        "smallint",
        "integer",
        "bigint",
        "numeric",
        "real",
        "double precision",
        "text",
        "boolean",
        "timestamp with time zone",
        "timestamp without time zone",
        "date",
        "time without time zone",
        "uuid",
        "jsonb",
        "json",
        "inet",
    ];
    let mut types: Vec<PgType> = names.iter().map(|n| PgType::from_format_type(n)).collect();
    types.extend(
        names
            .iter()
            .map(|n| PgType::from_format_type(&format!("{n}[]"))),
    );
    types
}

/// A small deterministic generator (xorshift), shared with other tests that mutate input.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutated input, as bytes (it may not be UTF-8 after mutation; the reader would reject
/// such a line, so only UTF-8 ones go on).
fn mutate(rng: &mut Rng) -> Vec<u8> {
    let mut bytes = SEEDS[rng.below(SEEDS.len())].as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 => {
                if at < bytes.len() {
                    bytes[at] = rng.next() as u8;
                }
            }
            1 => {
                let piece = DICTIONARY[rng.below(DICTIONARY.len())].as_bytes();
                bytes.splice(at..at, piece.iter().copied());
            }
            2 => bytes.truncate(at),
            3 => {
                let depth = rng.below(300);
                let nest = if rng.below(2) == 0 { "[" } else { "{\"k\":" };
                bytes.splice(at..at, nest.repeat(depth).bytes());
            }
            _ => {
                let end = (at + rng.below(40)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
        }
    }
    bytes
}

/// Everything the input side does with one line.
fn exercise(line: &str, types: &[PgType]) {
    // Any line may also be a line of a BATCH file.
    let _ = walk_record_line(line, &mut EveryProperty);
    let Ok(message) = parse_message(line) else {
        return;
    };
    match message {
        Message::Schema(schema) => {
            let naming = NamingOptions {
                lower_case: true,
                allow_reserved_words: false,
            };
            if let Some(properties) = schema.schema.get("properties").and_then(Value::as_object) {
                let cleaned: Vec<String> =
                    properties.keys().map(|k| clean_name(k, naming)).collect();
                let _ = unique_names(&cleaned);
                for subschema in properties.values() {
                    let _ = PgType::from_format_type(&column_type_for(subschema));
                }
            }
        }
        Message::Record(record) => {
            let RecordBody::Raw(raw) = record.record else {
                return;
            };
            let Ok(fields) =
                serde_json::from_str::<std::collections::BTreeMap<String, &RawValue>>(raw.get())
            else {
                return;
            };
            let mut out = Vec::new();
            let mut stats = EncodeStats::default();
            for value in fields.values() {
                for ty in types {
                    for (sanitize_nul, parse_json_strings) in [(true, false), (false, true)] {
                        let _ = encode_field(
                            Some(value.get()),
                            ty,
                            EncodeOptions {
                                sanitize_nul,
                                parse_json_strings,
                                json_string_elements: parse_json_strings,
                            },
                            &mut stats,
                            &mut out,
                        );
                    }
                }
            }
        }
        Message::Batch(batch) => {
            for url in &batch.manifest {
                let _ = path_of_file_url(url);
            }
        }
        _ => {}
    }
}

#[test]
fn mutated_inputs_never_panic() {
    let seconds: u64 = std::env::var("TARGET_POSTGRES_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let types = all_types();
    let mut rng = Rng(0x5eed_2026_1124);
    let mut cases = 0u64;
    loop {
        let bytes = mutate(&mut rng);
        if let Ok(line) = std::str::from_utf8(&bytes) {
            exercise(line, &types);
        }
        cases += 1;
        if cases >= 3_000 && Instant::now() >= deadline {
            break;
        }
    }
    if seconds > 0 {
        println!("fuzz: {cases} cases in {seconds} s, no panic");
    }
}

/// Stream-map expressions the mutations start from: singer-sdk's and the corners of the
/// grammar.
const EXPRESSION_SEEDS: &[&str] = &[
    "md5(config['hash_seed'] + owner_email)",
    "owner_email.split('@')[-1]",
    "int(datetime.date.fromisoformat(create_date).year)",
    "float(datetime.datetime.fromisoformat(joined_at).timestamp())",
    "json.dumps(user, default=str, sort_keys=True, indent=2)",
    "dict([(x['id'], x['value']) for x in custom_fields]).get(2)",
    "[f for f in fields if f['key'] != 'age'][1:-1:2]",
    "bool(status) if status else None",
    "f'{a!s}-{b}' * 3 + str(-2 ** 0.5)",
    "{**record, 'k': (1, 2.5, None)}['k'][0] // 0.0",
    "user.sub.num << 3 | 1 ^ ~2 & 5 % 3",
    "datetime.datetime(2024, 2, 29, tzinfo=datetime.timezone.utc) - datetime.timedelta(days=1e9)",
    "x.zfill(5).center(9, '*').title().rsplit(None, 1)",
    "price * 3 / 7 - price ** 2 // 1.1",
    "datetime.datetime.strptime(create_date + ' 3:04PM+0100', '%Y-%m-%d %I:%M%p%z').strftime('%j %a %B')",
];

/// Fragments spliced into expressions.
const EXPRESSION_DICTIONARY: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "'",
    "\"",
    "\\",
    "f'{",
    "}'",
    ":",
    ",",
    ".",
    "**",
    "//",
    "-",
    "not ",
    " is ",
    " in ",
    " for x in ",
    " if ",
    " else ",
    "lambda",
    "__",
    "_",
    "é",
    "😀",
    "9999999999999999999999",
    "1e400",
    "0x",
    "0.0",
    "None",
    "True",
    "record",
    "self",
    "config",
    "fake",
    "len(",
    "datetime.",
    "json.loads(",
    ".strftime('%Y%",
    "**{}",
    "*[]",
];

/// A record the mutated expressions run on.
const EXPRESSION_RECORD: &str = r#"{"owner_email":"a@b.c","create_date":"2019-01-01","joined_at":"2022-01-01T00:00:00Z","user":{"id":1,"sub":{"num":2}},"custom_fields":[{"id":1,"value":"abc"},{"id":2,"value":null}],"fields":[{"key":"age"},{"key":"n"}],"status":"","a":1,"b":"x","x":"-42","price":3.140,"n":null,"deep":[[[[[[[[1]]]]]]]]}"#;

/// Everything stream maps do with one expression: parse, check, evaluate, write.
fn exercise_expression(text: &str) {
    use crate::maps::check::check;
    use crate::maps::eval::{evaluate, Env};
    use crate::maps::json::{write_value, Floats};
    use crate::maps::parse::parse;
    use crate::maps::record::Record;
    let Ok(expr) = parse(text) else {
        return;
    };
    let _ = check(&expr);
    let Ok(record) = Record::parse(EXPRESSION_RECORD) else {
        return;
    };
    let Ok(config) =
        crate::maps::json::from_json_text(r#"{"hash_seed":"s","n":1.5}"#, Floats::Float)
    else {
        return;
    };
    let env = Env {
        record: Some(record.properties()),
        config: &config,
        stream_name: "s",
        original_stream_name: "s",
        self_property: Some("a"),
        whole_record: std::cell::OnceCell::new(),
    };
    if let Ok(value) = evaluate(&expr, &env) {
        let mut out = String::new();
        let _ = write_value(&value, &mut out);
    }
}

#[test]
fn mutated_map_expressions_never_panic() {
    let seconds: u64 = std::env::var("TARGET_POSTGRES_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut rng = Rng(0x5eed_2026_0815);
    let mut cases = 0u64;
    // The deepest expressions the parser accepts are evaluated within a test thread's stack.
    exercise_expression(&format!("{}a{}", "(".repeat(31), ")".repeat(31)));
    exercise_expression(&vec!["a"; 60].join(" + "));
    exercise_expression(&format!("{}1{}", "[".repeat(31), "]".repeat(31)));
    loop {
        let mut text = EXPRESSION_SEEDS[rng.below(EXPRESSION_SEEDS.len())].to_string();
        for _ in 0..=rng.below(4) {
            let mut at = rng.below(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match rng.below(4) {
                0 => text.insert_str(
                    at,
                    EXPRESSION_DICTIONARY[rng.below(EXPRESSION_DICTIONARY.len())],
                ),
                1 => text.truncate(at),
                2 => {
                    let mut end = (at + rng.below(20)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(at..end, "");
                }
                _ => {
                    let mut end = (at + rng.below(30)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    let copy = text[at..end].to_string();
                    text.insert_str(at, &copy);
                }
            }
        }
        exercise_expression(&text);
        cases += 1;
        if cases >= 5_000 && Instant::now() >= deadline {
            break;
        }
    }
    if seconds > 0 {
        println!("fuzz: {cases} expressions in {seconds} s, no panic");
    }
}
