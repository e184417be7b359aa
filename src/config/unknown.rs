//! What to say about a config key that is not one of our settings or aliases.
//!
//! A key is one of three things:
//!
//! - **a key of another tool that means nothing here** (`use_copy`, `temp_dir`, ...,
//!   [`IGNORED_PEER_KEYS`]): accepted with one info line, so a peer's config works unchanged;
//! - **a mistake**: a key close to a setting or an alias (a typo, another letter case), or a
//!   key that belongs in another section (`target_schema` outside `schema_mapping`, settings
//!   nested under `config`, `key_properties` that belong in the SCHEMA message): a config error
//!   with "did you mean", since ignoring it would load with a default the user meant to change
//!   (`"shema": "raw"` loading into `public`);
//! - **anything else**: one warning naming it (SPEC §2), since peers' configs carry keys of
//!   their own that we cannot all list.
//!
//! "Close" is an edit distance (insertions, deletions, substitutions and swaps of two
//! neighbours; letter case ignored) of at most 2, and at most a third of the key's length, so
//! that short keys of other tools (pipelinewise's `ssl`, `hook`) are not taken for `url` or
//! `host`.

use serde_json::Value;

use super::spec::{find_setting, IGNORED_PEER_KEYS, SETTINGS};

/// Keys that are settings of another section, and where they belong.
const NESTED_ELSEWHERE: &[(&str, &str)] = &[
    (
        "target_schema",
        "did you mean \"schema\"? (\"target_schema\" belongs inside \"schema_mapping\": \
         {\"<source_schema>\": {\"target_schema\": \"...\"}})",
    ),
    (
        "columns",
        "did you mean \"_streams\": {\"columns\": {...}}? (Mage's constant columns belong \
         inside \"_streams\")",
    ),
    (
        "key_properties",
        "keys belong in the stream's SCHEMA message (Mage: its stream in --catalog_json), \
         not in the config",
    ),
    (
        "unique_constraints",
        "unique constraints belong in the stream's SCHEMA message (Mage: its stream in \
         --catalog_json), not in the config",
    ),
    (
        "unique_conflict_method",
        "the conflict method belongs in the stream's SCHEMA message (Mage: its stream in \
         --catalog_json), not in the config",
    ),
];

/// What a key that is not a setting or an alias is.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum UnknownKey {
    /// A peer's key that means nothing here: one info line.
    Ignored,
    /// A mistake: what to say after `unknown setting "<key>": `.
    Mistake(String),
    /// Far from everything we know: one warning.
    Unknown,
}

/// Classifies a key that [`find_setting`] does not know, given its value.
pub(super) fn classify(key: &str, value: &Value) -> UnknownKey {
    if IGNORED_PEER_KEYS.contains(&key) {
        return UnknownKey::Ignored;
    }
    if let Some((_, advice)) = NESTED_ELSEWHERE.iter().find(|(k, _)| *k == key) {
        return UnknownKey::Mistake((*advice).to_string());
    }
    if key == "config" {
        if let Some(nested) = value.as_object() {
            if nested.keys().any(|k| find_setting(k).is_some()) {
                return UnknownKey::Mistake(
                    "the settings are nested under \"config\": put them at the top level of \
                     the file (a Mage settings file with a config: section is read with \
                     --settings)"
                        .to_string(),
                );
            }
        }
    }
    match closest_setting(key) {
        Some(name) => UnknownKey::Mistake(format!("did you mean \"{name}\"?")),
        None => UnknownKey::Unknown,
    }
}

/// The setting name or alias nearest to `key`, when it is close enough to be a typo.
fn closest_setting(key: &str) -> Option<&'static str> {
    let key = key.to_lowercase();
    let limit = (key.chars().count() / 3).clamp(1, 2);
    SETTINGS
        .iter()
        .flat_map(|spec| std::iter::once(spec.name).chain(spec.aliases.iter().copied()))
        .map(|name| (edit_distance(&key, name), name))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

/// Optimal string alignment distance: insertions, deletions, substitutions, and swaps of
/// two neighbouring characters, each counting 1.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the dynamic programme: two back (for swaps), one back, current.
    let mut two_back = vec![0; b.len() + 1];
    let mut one_back: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (one_back[j] + 1)
                .min(current[j - 1] + 1)
                .min(one_back[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(two_back[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut two_back, &mut one_back);
        std::mem::swap(&mut one_back, &mut current);
    }
    one_back[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn edit_distance_counts_a_swap_of_neighbours_as_one() {
        assert_eq!(edit_distance("shema", "schema"), 1);
        assert_eq!(edit_distance("hots", "host"), 1);
        assert_eq!(edit_distance("pasword", "password"), 1);
        assert_eq!(edit_distance("ssl", "url"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn typos_and_other_letter_cases_of_settings_and_aliases_are_mistakes() {
        for (key, meant) in [
            ("shema", "schema"),
            ("Schema", "schema"),
            ("HOST", "host"),
            ("pasword", "password"),
            ("usr", "user"),
            ("databse", "database"),
            ("batch_size_row", "batch_size_rows"),
            ("default_target_shema", "default_target_schema"),
            ("sslrootcert", "ssl_root_cert"),
        ] {
            assert_eq!(
                classify(key, &json!("x")),
                UnknownKey::Mistake(format!("did you mean \"{meant}\"?")),
                "{key}"
            );
        }
    }

    #[test]
    fn keys_of_other_tools_far_from_ours_stay_warnings_or_notices() {
        // Short keys of peers must not be taken for short settings (ssl → url, hook → host).
        for key in [
            "ssl",
            "batch_size",
            "ssh_host",
            "connection_method",
            "logging_level",
            "max_batch_rows",
            "ssl_storage_directory",
            "default_target_schema_select_permission",
            "interpret_content_encoding",
            "bogus_setting_xyz",
        ] {
            assert_eq!(classify(key, &json!(1)), UnknownKey::Unknown, "{key}");
        }
        for key in [
            "use_copy",
            "temp_dir",
            "hook",
            "batch_config",
            "dialect+driver",
        ] {
            assert_eq!(classify(key, &json!(1)), UnknownKey::Ignored, "{key}");
        }
    }

    #[test]
    fn keys_of_another_section_say_where_they_belong() {
        let UnknownKey::Mistake(advice) = classify("target_schema", &json!("raw")) else {
            panic!("not a mistake");
        };
        assert!(advice.starts_with("did you mean \"schema\"?"), "{advice}");
        assert!(advice.contains("schema_mapping"), "{advice}");
        let nested = json!({"host": "db", "schema": "raw"});
        let UnknownKey::Mistake(advice) = classify("config", &nested) else {
            panic!("not a mistake");
        };
        assert!(advice.contains("top level"), "{advice}");
        // A "config" holding nothing of ours is just an unknown key.
        assert_eq!(classify("config", &json!({"a": 1})), UnknownKey::Unknown);
        assert!(matches!(
            classify("key_properties", &json!(["id"])),
            UnknownKey::Mistake(_)
        ));
    }
}
