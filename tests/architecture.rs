//! The architecture test: reads the `crate::` and `super::` paths in `src/` and fails on an
//! import cycle, on an edge between top-level modules that the design does not allow, on a
//! source file with more than 600 lines of non-test code, and on a function longer than 80
//! lines without a reason written above it (`// long function: why`).
//!
//! When a change needs a new edge, [`ALLOWED`] is where that decision is written down,
//! together with docs/ARCHITECTURE.md.
//!
//! What counts as code: everything before a file's first `#[cfg(test)]` line at column 0,
//! without comments. Test modules may import what they like. A module's use of its own
//! ancestors (a handler in `load/record.rs` naming `crate::load::Loader`) is not an edge:
//! the parent declares the child, and Rust's nesting is not a dependency between peers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and the top-level modules it may import. Read as the data flow:
/// input → protocol → load (streams, buffers) → db (flush jobs, database), with the type
/// model in schema, value encoding in encode, and config read by whoever needs a setting.
const ALLOWED: &[(&str, &[&str])] = &[
    // Leaves: used by everyone, import nothing of ours.
    ("error", &[]),
    ("percent", &[]),
    ("fast_hash", &[]),
    ("shutdown", &[]),
    // Stream maps: the expression language and the per-stream plans, over JSON alone.
    // Stream maps: JSON text and values; records are split with the walker's borrowed keys.
    ("maps", &["protocol"]),
    // Settings: the one table of keys, validated (stream maps checked at start-up).
    ("config", &["error", "maps", "percent"]),
    // Logging knows only how to write lines (the summary lives with the load).
    ("logging", &["error"]),
    // Reading input: lines, messages, BATCH files, the state tracker.
    ("protocol", &["error", "percent"]),
    // JSON Schema → column plan and the PostgreSQL type model; no database, no encoding.
    ("schema", &["error"]),
    // Values → binary COPY fields for a type of the schema's type model.
    ("encode", &["error", "schema"]),
    // Connections, SQL text, flush jobs, workers: told what to do on commit by a callback,
    // so no logging, no state tracker, no loader.
    ("db", &["config", "encode", "error", "percent", "schema"]),
    // Mage mode's own pieces: its catalog (a SCHEMA source), its state file.
    ("mage", &["error", "protocol"]),
    // The load: everything below it meets here.
    (
        "load",
        &[
            "config",
            "db",
            "encode",
            "error",
            "fast_hash",
            "logging",
            "mage",
            "maps",
            "protocol",
            "schema",
            "shutdown",
        ],
    ),
    // The command line and --about.
    ("cli", &["config", "logging"]),
    ("about", &["cli", "config"]),
];

/// Modules that exist only under `#[cfg(test)]`.
const TEST_ONLY: &[&str] = &["fuzz"];

/// The most lines of non-test code a source file may have.
const MAX_FILE_LINES: usize = 600;

/// The most lines a function may have without a written reason.
const MAX_FUNCTION_LINES: usize = 80;

/// A source file of the library.
struct Source {
    /// Its module path (`load::record`); empty for the crate root.
    module: String,
    /// The path, for messages.
    path: PathBuf,
    /// Its code before the test module, comments blanked out (line structure kept).
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect_rs_files(&root, &mut files);
    files
        .into_iter()
        .filter(|path| !path.starts_with(root.join("bin")) && !path.ends_with("main.rs"))
        .map(|path| {
            let relative = path.strip_prefix(&root).unwrap_or(&path);
            let module = module_path(relative);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            Source {
                module,
                code: strip_comments(non_test_part(&text)),
                path,
            }
        })
        .collect()
}

fn collect_rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `load/record.rs` → `load::record`, `load/mod.rs` → `load`, `lib.rs` → ``.
fn module_path(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.join("::")
}

/// The text before the first `#[cfg(test)]` at column 0 (the test module, by convention
/// last in the file).
fn non_test_part(text: &str) -> &str {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("#[cfg(test)]") {
            return &text[..offset];
        }
        offset += line.len();
    }
    text
}

/// The code with comments and the insides of string and char literals blanked (newlines
/// kept), so paths and braces are only those of the code.
fn strip_comments(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                out.push(blank(chars[i]));
                i += 1;
            }
            i += 2;
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && is_raw_string(&chars, i) {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            i += 2 + hashes;
            out.push_str("\"\"");
            while i < chars.len() {
                if chars[i] == '"'
                    && chars[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == '#')
                        .count()
                        == hashes
                {
                    i += 1 + hashes;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if let Some(&inner) = chars.get(i) {
                    out.push(blank(inner));
                }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && is_char_literal(&chars, i) {
            // 'x' ends two after the quote; '\n' and '\'' at the first quote after the escape.
            let end = if next == Some('\\') {
                (i + 3..chars.len())
                    .find(|&k| chars[k] == '\'')
                    .unwrap_or(chars.len())
            } else {
                i + 2
            };
            out.push_str("' '");
            i = end + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_raw_string(chars: &[char], i: usize) -> bool {
    let before_is_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let after_hashes = chars[i + 1..].iter().find(|&&h| h != '#');
    !before_is_ident && after_hashes == Some(&'"')
}

/// `'x'`, `'\n'`, `'\''`, `'{'` — not a lifetime `'a`.
fn is_char_literal(chars: &[char], i: usize) -> bool {
    matches!(
        (chars.get(i + 1), chars.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// Every module path the code names through `crate::` (groups in braces included) or
/// `super::`, resolved to the longest known module.
fn imports(source: &Source, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code = &source.code;
    for (at, _) in code.match_indices("crate::") {
        let preceded_by_ident = code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        if preceded_by_ident {
            continue;
        }
        for path in expand_paths(&code[at + "crate::".len()..]) {
            if let Some(module) = resolve(&path, modules) {
                found.insert(module);
            }
        }
    }
    for (at, _) in code.match_indices("super::") {
        let parent = parent_of(&source.module);
        for path in expand_paths(&code[at + "super::".len()..]) {
            let full = if parent.is_empty() {
                path
            } else {
                format!("{parent}::{path}")
            };
            if let Some(module) = resolve(&full, modules) {
                found.insert(module);
            }
        }
    }
    found
}

/// The module `super` names from `module` (a `mod.rs` is its directory's module).
fn parent_of(module: &str) -> String {
    module
        .rsplit_once("::")
        .map_or(String::new(), |(parent, _)| parent.to_string())
}

/// The paths that start `text`: `a::b::C` gives `a::b::C`; `a::{b, c::D}` gives `a::b` and
/// `a::c::D`.
fn expand_paths(text: &str) -> Vec<String> {
    let mut prefix = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            prefix.push(c);
            chars.next();
        } else if c == '{' {
            let group = matching_group(&text[at..]);
            return split_group(group)
                .into_iter()
                .flat_map(|item| expand_paths(item.trim()))
                .map(|rest| format!("{prefix}{rest}"))
                .collect();
        } else {
            break;
        }
    }
    vec![prefix.trim_end_matches(':').to_string()]
}

/// The inside of the braces that open `text`.
fn matching_group(text: &str) -> &str {
    let mut depth = 0;
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[1..at];
                }
            }
            _ => {}
        }
    }
    ""
}

/// A group's items, split at the commas outside nested braces.
fn split_group(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .collect()
}

/// The longest known module that `path` starts with.
fn resolve(path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|candidate| modules.contains(candidate))
}

fn top_level(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// The module graph: module → modules it imports (not its ancestors, not itself).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let sources = sources();
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    sources
        .iter()
        .filter(|s| !s.module.is_empty() && !TEST_ONLY.contains(&top_level(&s.module)))
        .map(|source| {
            let targets = imports(source, &modules)
                .into_iter()
                .filter(|target| {
                    !target.is_empty()
                        && target != &source.module
                        && !source.module.starts_with(&format!("{target}::"))
                })
                .collect();
            (source.module.clone(), targets)
        })
        .collect()
}

/// A cycle in `graph`, if there is one, as the list of its nodes.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_string(), Mark::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

#[test]
fn no_import_cycle_between_source_files() {
    let graph = module_graph();
    assert!(
        graph.len() > 20,
        "too few modules found: {:?}",
        graph.keys()
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let mut layers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, targets) in module_graph() {
        let from = top_level(&module).to_string();
        let entry = layers.entry(from.clone()).or_default();
        entry.extend(
            targets
                .iter()
                .map(|t| top_level(t).to_string())
                .filter(|t| *t != from),
        );
    }
    if let Some(cycle) = find_cycle(&layers) {
        panic!(
            "import cycle between top-level modules: {}",
            cycle.join(" → ")
        );
    }
}

#[test]
fn top_level_modules_import_only_what_the_design_allows() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut forbidden = Vec::new();
    for (module, targets) in module_graph() {
        let from = top_level(&module);
        let Some(may) = allowed.get(from) else {
            forbidden.push(format!(
                "{module}: its top-level module \"{from}\" is not in ALLOWED"
            ));
            continue;
        };
        for target in targets {
            let to = top_level(&target);
            if to != from && !may.contains(&to) {
                forbidden.push(format!("{module} imports {target}"));
            }
        }
    }
    assert!(
        forbidden.is_empty(),
        "edges the design does not allow (see ALLOWED):\n{}",
        forbidden.join("\n")
    );
}

#[test]
fn the_rules_the_issue_names_are_in_the_table() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    for (from, to) in [
        ("db", "cli"),
        ("db", "logging"),
        ("db", "load"),
        ("db", "protocol"),
        ("protocol", "db"),
        ("schema", "db"),
        ("schema", "encode"),
    ] {
        assert!(!allowed[from].contains(&to), "{from} must not import {to}");
    }
}

#[test]
fn source_files_stay_under_600_lines_of_code() {
    let long: Vec<String> = sources()
        .iter()
        .filter(|s| s.code.lines().count() > MAX_FILE_LINES)
        .map(|s| format!("{}: {} lines", s.path.display(), s.code.lines().count()))
        .collect();
    assert!(
        long.is_empty(),
        "split these files by concept:\n{}",
        long.join("\n")
    );
}

#[test]
fn functions_stay_under_80_lines_or_say_why() {
    let mut long = Vec::new();
    for source in sources() {
        let raw = std::fs::read_to_string(&source.path).unwrap_or_default();
        let raw_lines: Vec<&str> = raw.lines().collect();
        for (name, start, lines) in functions(&source.code) {
            let reason_given = raw_lines[..start]
                .iter()
                .rev()
                .take_while(|line| {
                    let line = line.trim_start();
                    line.starts_with("//") || line.starts_with("#[")
                })
                .any(|line| line.contains("long function:"));
            if lines > MAX_FUNCTION_LINES && !reason_given {
                long.push(format!(
                    "{}:{}: fn {name}: {lines} lines",
                    source.path.display(),
                    start + 1
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these, or write `// long function: <why>` above them:\n{}",
        long.join("\n")
    );
}

/// Every `fn` with a body: its name, 0-based first line, and length in lines.
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(name) = fn_name(line) else {
            continue;
        };
        let mut depth = 0i32;
        let mut opened = false;
        for (offset, body_line) in lines[index..].iter().enumerate() {
            for c in body_line.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    ';' if !opened && depth == 0 => break,
                    _ => {}
                }
            }
            if !opened && body_line.trim_end().ends_with(';') {
                break;
            }
            if opened && depth <= 0 {
                found.push((name.clone(), index, offset + 1));
                break;
            }
        }
    }
    found
}

/// The name of the function a line declares, if it declares one.
fn fn_name(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "fn")?;
    let before_ok = words[..at].iter().all(|w| {
        matches!(*w, "pub" | "const" | "unsafe" | "async" | "extern") || w.starts_with("pub(")
    });
    let name: String = words
        .get(at + 1)?
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (before_ok && !name.is_empty()).then_some(name)
}

#[test]
fn the_scanner_reads_groups_and_nested_paths() {
    assert_eq!(
        expand_paths("db::flush::{FlushJob, WriteMode};"),
        ["db::flush::FlushJob", "db::flush::WriteMode"]
    );
    assert_eq!(
        expand_paths("protocol::{message::{A, B}, state};"),
        [
            "protocol::message::A",
            "protocol::message::B",
            "protocol::state"
        ]
    );
    assert_eq!(expand_paths("error::Result;"), ["error::Result"]);
    let code = strip_comments("let a = \"crate::x { \"; // crate::y {\nlet b = '{';");
    assert!(!code.contains("crate::"));
    assert!(!code.contains('{'));
    assert_eq!(
        functions("fn a() {\n  if x {\n  }\n}\nfn b();\n"),
        [("a".to_string(), 0, 4)]
    );
}
