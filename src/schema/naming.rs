//! Turning Singer stream and property names into PostgreSQL identifiers, and quoting them.
//!
//! Taps send names PostgreSQL would reject or fold (`camelCase`, `first name`, `a.b`, emoji,
//! 200-byte names), and peers (Mage, pipelinewise, the Meltano SDK) agree on a cleaning rule
//! that users already rely on: lower-case, replace anything but letters, digits and `_`, and
//! prefix Mage's reserved words. PostgreSQL silently truncates identifiers longer than 63
//! bytes, which would merge distinct long names into one column; we cut them ourselves and add a
//! stable hash so they stay distinct, and give names that still collide deterministic suffixes so
//! a `CREATE TABLE` never fails on a duplicate column. Finally, [`quote_ident`] is the single door
//! through which every identifier reaches SQL text, so no name can inject SQL.

/// PostgreSQL's identifier limit (`NAMEDATALEN - 1`), in bytes, not characters.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// Words that get a `_` prefix unless `allow_reserved_words` is set: Mage's list, kept
/// verbatim so tables loaded by Mage and by us get the same column names.
pub const RESERVED_WORDS: &[&str] = &[
    "as",
    "default",
    "from",
    "group",
    "join",
    "limit",
    "order",
    "references",
    "select",
    "to",
    "user",
    "where",
];

/// Length of the `_` + 8 hex digits suffix that [`fit_identifier`] appends.
const HASH_SUFFIX_BYTES: usize = 9;

/// The settings that change how a derived name is cleaned.
#[derive(Debug, Clone, Copy)]
pub struct NamingOptions {
    /// Lower-case the name first (the `lower_case` setting).
    pub lower_case: bool,
    /// Keep reserved words as they are instead of prefixing them with `_`.
    pub allow_reserved_words: bool,
}

/// Cleans a stream or property name into an identifier of at most 63 bytes.
///
/// Lower-cases when asked, replaces every character that is not a Unicode letter, digit or `_`
/// with `_` (non-Latin letters are kept: `Größe` → `größe`), turns an empty name into `_`,
/// prefixes a reserved word (compared case-insensitively) with `_` unless reserved words are
/// allowed, and finally applies [`fit_identifier`].
pub fn clean_name(name: &str, options: NamingOptions) -> String {
    let folded;
    let source = if options.lower_case {
        folded = name.to_lowercase();
        folded.as_str()
    } else {
        name
    };
    let mut cleaned = replace_disallowed(source);
    if cleaned.is_empty() {
        cleaned.push('_');
    }
    if !options.allow_reserved_words && is_reserved_word(&cleaned) {
        cleaned.insert(0, '_');
    }
    fit_identifier(cleaned)
}

/// Every character that is not a Unicode letter, digit or `_` becomes `_`.
fn replace_disallowed(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The name Mage gives the UNIQUE constraint of `unique_constraints`: `unique`, the cleaned
/// `schema_table`, `_`, the columns joined by `_`, cut (not hashed) to 63 bytes as Mage does.
pub fn mage_unique_constraint_name(schema: &str, table: &str, columns: &[String]) -> String {
    let name = format!(
        "unique{}_{}",
        replace_disallowed(&format!("{schema}_{table}")),
        columns.join("_")
    );
    let keep = floor_char_boundary(&name, MAX_IDENTIFIER_BYTES);
    name[..keep].to_string()
}

/// True when `name` is one of [`RESERVED_WORDS`], ignoring ASCII case (the words are ASCII, so
/// no Unicode folding can make a non-ASCII name equal to one).
fn is_reserved_word(name: &str) -> bool {
    RESERVED_WORDS.iter().any(|w| w.eq_ignore_ascii_case(name))
}

/// Makes `name` fit PostgreSQL's 63-byte identifier limit without merging distinct names.
///
/// A name of at most 63 bytes comes back unchanged. A longer one is cut on a character boundary
/// and ends with `_` and 8 lowercase hex digits: the low 32 bits of the FNV-1a 64-bit hash of
/// the whole original name. The result is the same on every run and platform, so a table
/// created yesterday keeps matching today's names.
pub fn fit_identifier(name: String) -> String {
    if name.len() <= MAX_IDENTIFIER_BYTES {
        return name;
    }
    let hash = fnv1a64(name.as_bytes()) & 0xffff_ffff;
    let keep = floor_char_boundary(&name, MAX_IDENTIFIER_BYTES - HASH_SUFFIX_BYTES);
    format!("{}_{:08x}", &name[..keep], hash)
}

/// FNV-1a, 64-bit: tiny, fixed by its definition (unlike `std`'s `DefaultHasher`, whose output
/// may change between Rust releases), and good enough to tell names apart.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(PRIME)
    })
}

/// The largest index `<= max` that is a char boundary of `s`, so `&s[..i]` cannot panic in
/// the middle of a multibyte character. (`str::floor_char_boundary` is newer than our MSRV.)
fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Makes a list of cleaned column names unique, keeping property order.
///
/// The first occurrence of a name keeps it; later duplicates get `_2`, `_3`, … in order, skipping
/// any suffixed name that is already in the list or already handed out, so `[a, a, a_2]` gives
/// `[a, a_3, a_2]`. The base is cut (on a character boundary) before the suffix is appended, so
/// the suffix always survives and every result is at most 63 bytes. Input names longer than 63
/// bytes are first passed through [`fit_identifier`]. Names compare exactly (case-sensitively),
/// as quoted identifiers do. Logging the rename is left to the caller, who knows the stream.
pub fn unique_names(names: &[String]) -> Vec<String> {
    use std::collections::{HashMap, HashSet};

    let fitted: Vec<String> = names.iter().map(|n| fit_identifier(n.clone())).collect();
    // Every input name is reserved up front so a generated suffix never steals a name that a
    // later property holds in its own right.
    let mut taken: HashSet<String> = fitted.iter().cloned().collect();
    let mut seen: HashSet<&str> = HashSet::with_capacity(fitted.len());
    let mut next_suffix: HashMap<&str, u64> = HashMap::new();
    let mut out = Vec::with_capacity(fitted.len());

    for name in &fitted {
        if seen.insert(name.as_str()) {
            out.push(name.clone());
            continue;
        }
        let counter = next_suffix.entry(name.as_str()).or_insert(2);
        // Terminates: each suffix value yields a different candidate ending, and `taken` is
        // finite, so some suffix is free after at most `taken.len()` tries.
        loop {
            let suffix = format!("_{counter}");
            *counter += 1;
            let keep = floor_char_boundary(name, MAX_IDENTIFIER_BYTES - suffix.len());
            let candidate = format!("{}{}", &name[..keep], suffix);
            if taken.insert(candidate.clone()) {
                out.push(candidate);
                break;
            }
        }
    }
    out
}

/// Quotes an identifier for SQL: `"` + the name with every `"` doubled + `"`.
///
/// This is the only way identifiers reach SQL text in this crate; with it, any string (even
/// `x"; DROP TABLE t; --`) is one identifier and can never be read as SQL.
pub fn quote_ident(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    for c in name.chars() {
        if c == '"' {
            quoted.push('"');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// A schema-qualified table name, both parts quoted: `"schema"."table"`.
pub fn qualified_name(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

/// Splits a Singer stream name into an optional source schema and a table name.
///
/// Taps such as tap-postgres and tap-mysql name streams `schema-table` or
/// `database-schema-table`; pipelinewise and the Meltano SDK split on `-` and this mirrors them:
/// `src-users` → `(Some("src"), "users")`, `db-src-users` → `(Some("src"), "users")`. A name
/// without `-`, with more than three parts, or with an empty part (`-users`, `a--b`) is kept
/// whole as the table name with no schema.
pub fn split_stream_name(stream: &str) -> (Option<&str>, &str) {
    let mut parts = stream.split('-');
    let first = parts.next();
    let second = parts.next();
    let third = parts.next();
    let fourth = parts.next();
    let whole = (None, stream);
    match (first, second, third, fourth) {
        (Some(schema), Some(table), None, None) if !schema.is_empty() && !table.is_empty() => {
            (Some(schema), table)
        }
        (Some(db), Some(schema), Some(table), None)
            if !db.is_empty() && !schema.is_empty() && !table.is_empty() =>
        {
            (Some(schema), table)
        }
        _ => whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: NamingOptions = NamingOptions {
        lower_case: true,
        allow_reserved_words: false,
    };
    const KEEP_CASE: NamingOptions = NamingOptions {
        lower_case: false,
        allow_reserved_words: false,
    };
    const RESERVED_OK: NamingOptions = NamingOptions {
        lower_case: true,
        allow_reserved_words: true,
    };

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn camel_case_is_lower_cased_by_default() {
        assert_eq!(clean_name("firstName", DEFAULT), "firstname");
        assert_eq!(clean_name("HTTPStatus", DEFAULT), "httpstatus");
    }

    #[test]
    fn case_is_kept_when_lower_case_is_off() {
        assert_eq!(clean_name("firstName", KEEP_CASE), "firstName");
    }

    #[test]
    fn spaces_dots_and_dashes_become_underscores() {
        assert_eq!(clean_name("first name", DEFAULT), "first_name");
        assert_eq!(clean_name("a.b.c", DEFAULT), "a_b_c");
        assert_eq!(clean_name("a-b", DEFAULT), "a_b");
        assert_eq!(clean_name(" x ", DEFAULT), "_x_");
    }

    #[test]
    fn quotes_and_semicolons_cannot_survive_cleaning() {
        let cleaned = clean_name("x\"; DROP TABLE t; --", DEFAULT);
        assert_eq!(cleaned, "x___drop_table_t____");
        assert!(!cleaned.contains('"') && !cleaned.contains(';'));
        assert_eq!(clean_name("it's", DEFAULT), "it_s");
    }

    #[test]
    fn emoji_become_underscores() {
        assert_eq!(clean_name("score🎉", DEFAULT), "score_");
        assert_eq!(clean_name("👍", DEFAULT), "_");
    }

    #[test]
    fn non_latin_letters_are_kept() {
        assert_eq!(clean_name("Größe", DEFAULT), "größe");
        assert_eq!(clean_name("名前", DEFAULT), "名前");
        assert_eq!(clean_name("Имя Фамилия", DEFAULT), "имя_фамилия");
        assert_eq!(clean_name("Größe", KEEP_CASE), "Größe");
    }

    #[test]
    fn digits_and_underscores_are_kept() {
        assert_eq!(clean_name("_sdc_batched_at", DEFAULT), "_sdc_batched_at");
        assert_eq!(clean_name("2fa_enabled", DEFAULT), "2fa_enabled");
    }

    #[test]
    fn empty_name_becomes_underscore() {
        assert_eq!(clean_name("", DEFAULT), "_");
    }

    #[test]
    fn reserved_words_get_underscore_prefix() {
        for word in RESERVED_WORDS {
            assert_eq!(clean_name(word, DEFAULT), format!("_{word}"));
        }
        assert_eq!(clean_name("Order", DEFAULT), "_order");
    }

    #[test]
    fn reserved_words_compare_case_insensitively_when_case_is_kept() {
        assert_eq!(clean_name("User", KEEP_CASE), "_User");
        assert_eq!(clean_name("SELECT", KEEP_CASE), "_SELECT");
    }

    #[test]
    fn reserved_words_are_kept_when_allowed() {
        assert_eq!(clean_name("user", RESERVED_OK), "user");
        assert_eq!(clean_name("Order", RESERVED_OK), "order");
    }

    #[test]
    fn words_containing_reserved_words_are_not_prefixed() {
        assert_eq!(clean_name("user_id", DEFAULT), "user_id");
        assert_eq!(clean_name("order date", DEFAULT), "order_date");
        assert_eq!(clean_name("users", DEFAULT), "users");
    }

    #[test]
    fn reserved_word_check_happens_after_cleaning() {
        // `user!` cleans to `user_`, which is not reserved.
        assert_eq!(clean_name("user!", DEFAULT), "user_");
    }

    #[test]
    fn name_of_exactly_63_bytes_is_unchanged() {
        let name = "a".repeat(63);
        assert_eq!(clean_name(&name, DEFAULT), name);
        assert_eq!(fit_identifier(name.clone()), name);
    }

    #[test]
    fn name_of_64_bytes_is_cut_and_hashed() {
        let name = "a".repeat(64);
        let fitted = fit_identifier(name);
        assert_eq!(fitted.len(), 63);
        assert!(fitted.starts_with(&"a".repeat(54)));
        let suffix = &fitted[54..];
        assert!(suffix.starts_with('_'));
        assert!(suffix[1..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn hash_suffix_is_fnv1a_of_the_full_name() {
        // Pinned values: changing them would rename columns of existing tables.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        let name = "x".repeat(70);
        let expected = format!("{}_{:08x}", "x".repeat(54), fnv1a64(name.as_bytes()) as u32);
        assert_eq!(fit_identifier(name), expected);
    }

    #[test]
    fn truncation_is_deterministic() {
        let name = "some_very_long_property_name_".repeat(5);
        assert_eq!(fit_identifier(name.clone()), fit_identifier(name));
    }

    #[test]
    fn long_names_keep_distinct_after_truncation() {
        let prefix = "p".repeat(100);
        let a = fit_identifier(format!("{prefix}_alpha"));
        let b = fit_identifier(format!("{prefix}_beta"));
        assert_ne!(a, b);
        assert!(a.len() <= 63 && b.len() <= 63);
    }

    #[test]
    fn multibyte_chars_at_the_cut_point_are_not_split() {
        // 'ö' is 2 bytes, '名' 3 bytes, '🎉' 4 bytes: every offset of the cut point gets a test.
        for lead in 0..4 {
            for ch in ["ö", "名"] {
                let name = format!("{}{}", "a".repeat(lead), ch.repeat(40));
                let fitted = fit_identifier(name);
                assert!(fitted.len() <= 63, "{fitted}");
                assert!(fitted.len() >= 63 - 3, "{fitted}");
            }
        }
        let cleaned = clean_name(&"ä".repeat(64), DEFAULT);
        assert!(cleaned.len() <= 63);
        assert!(cleaned.starts_with(&"ä".repeat(27)));
    }

    #[test]
    fn cleaned_long_names_fit() {
        let cleaned = clean_name(&"Column Name ".repeat(20), DEFAULT);
        assert!(cleaned.len() <= MAX_IDENTIFIER_BYTES);
        assert!(cleaned.starts_with("column_name_"));
    }

    #[test]
    fn unique_names_keep_unique_lists_unchanged() {
        let names = strings(&["id", "name", "Name"]);
        assert_eq!(unique_names(&names), names);
    }

    #[test]
    fn collisions_from_cleaning_get_numbered_suffixes() {
        let cleaned: Vec<String> = ["a b", "a_b", "a-b"]
            .iter()
            .map(|n| clean_name(n, DEFAULT))
            .collect();
        assert_eq!(cleaned, strings(&["a_b", "a_b", "a_b"]));
        assert_eq!(unique_names(&cleaned), strings(&["a_b", "a_b_2", "a_b_3"]));
    }

    #[test]
    fn collision_suffix_that_itself_collides_is_skipped() {
        let names = strings(&["a", "a", "a_2"]);
        assert_eq!(unique_names(&names), strings(&["a", "a_3", "a_2"]));
        let names = strings(&["a_2", "a", "a", "a_3", "a"]);
        assert_eq!(
            unique_names(&names),
            strings(&["a_2", "a", "a_4", "a_3", "a_5"])
        );
    }

    #[test]
    fn generated_suffix_does_not_collide_with_another_names_suffix() {
        // `b_2` arrives as a duplicate of a real `b_2`, and `b`'s duplicate must not reuse it.
        let names = strings(&["b", "b_2", "b", "b_2"]);
        let unique = unique_names(&names);
        assert_eq!(unique, strings(&["b", "b_2", "b_3", "b_2_2"]));
    }

    #[test]
    fn long_colliding_names_keep_their_suffix_within_63_bytes() {
        let long = "c".repeat(63);
        let names = vec![long.clone(), long.clone(), long.clone()];
        let unique = unique_names(&names);
        assert_eq!(unique[0], long);
        assert_eq!(unique[1], format!("{}_2", "c".repeat(61)));
        assert_eq!(unique[2], format!("{}_3", "c".repeat(61)));
        assert!(unique.iter().all(|n| n.len() <= 63));
    }

    #[test]
    fn long_colliding_multibyte_names_cut_on_char_boundary() {
        // 31 two-byte chars + 'x' = 63 bytes; byte 61 falls inside the 31st 'é', so the base
        // must be cut back to 60 bytes before `_2` is appended.
        let name = format!("{}x", "é".repeat(31));
        assert_eq!(name.len(), 63);
        assert!(!name.is_char_boundary(61));
        let unique = unique_names(&[name.clone(), name.clone()]);
        assert_eq!(unique[0], name);
        assert_eq!(unique[1], format!("{}_2", "é".repeat(30)));
    }

    #[test]
    fn unique_names_fit_overlong_input() {
        let long = "d".repeat(80);
        let unique = unique_names(&[long.clone(), long]);
        assert!(unique.iter().all(|n| n.len() <= 63));
        assert_ne!(unique[0], unique[1]);
    }

    #[test]
    fn many_duplicates_stay_unique_and_deterministic() {
        let names = vec!["dup".to_string(); 200];
        let first = unique_names(&names);
        let set: std::collections::HashSet<&String> = first.iter().collect();
        assert_eq!(set.len(), 200);
        assert_eq!(first, unique_names(&names));
        assert_eq!(first[199], "dup_200");
    }

    #[test]
    fn unique_names_of_empty_list_is_empty() {
        assert!(unique_names(&[]).is_empty());
    }

    #[test]
    fn quote_ident_wraps_and_doubles_quotes() {
        assert_eq!(quote_ident("users"), "\"users\"");
        assert_eq!(quote_ident("My Table"), "\"My Table\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            quote_ident("x\"; DROP TABLE t; --"),
            "\"x\"\"; DROP TABLE t; --\""
        );
        assert_eq!(quote_ident(""), "\"\"");
    }

    #[test]
    fn qualified_name_quotes_both_parts() {
        assert_eq!(qualified_name("public", "users"), "\"public\".\"users\"");
        assert_eq!(qualified_name("s\"x", "T"), "\"s\"\"x\".\"T\"");
    }

    #[test]
    fn stream_with_two_parts_gives_schema_and_table() {
        assert_eq!(split_stream_name("src-users"), (Some("src"), "users"));
    }

    #[test]
    fn stream_with_three_parts_drops_the_database() {
        assert_eq!(split_stream_name("db-src-users"), (Some("src"), "users"));
    }

    #[test]
    fn stream_without_dash_is_only_a_table() {
        assert_eq!(split_stream_name("users"), (None, "users"));
        assert_eq!(split_stream_name(""), (None, ""));
    }

    #[test]
    fn stream_with_too_many_or_empty_parts_is_kept_whole() {
        assert_eq!(split_stream_name("a-b-c-d"), (None, "a-b-c-d"));
        assert_eq!(split_stream_name("-users"), (None, "-users"));
        assert_eq!(split_stream_name("src-"), (None, "src-"));
        assert_eq!(split_stream_name("a--b"), (None, "a--b"));
        assert_eq!(split_stream_name("-"), (None, "-"));
    }
}
