//! `--about`: name, version, capabilities and every setting, from the one settings table.

use serde_json::{json, Value};

use crate::cli::AboutFormat;
use crate::config::SETTINGS;

/// Capabilities this build really implements (Meltano's vocabulary).
pub const CAPABILITIES: &[&str] = &[
    "schema-flattening",
    "about",
    "validate-records",
    "target-schema",
    "hard-delete",
    "activate-version",
    "batch",
    "stream-maps",
];

/// The `--about` document as JSON.
pub fn about_json() -> Value {
    let settings: Vec<Value> = SETTINGS
        .iter()
        .map(|spec| {
            let default = match spec.default {
                "" => Value::Null,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                text => text
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::String(text.to_string())),
            };
            json!({
                "name": spec.name,
                "aliases": spec.aliases,
                "kind": spec.kind.about_name(),
                "type": spec.kind.about_name(),
                "default": default,
                "description": spec.description,
                "sensitive": spec.sensitive,
            })
        })
        .collect();
    json!({
        "name": "target-postgres",
        "version": env!("CARGO_PKG_VERSION"),
        "description": env!("CARGO_PKG_DESCRIPTION"),
        "capabilities": CAPABILITIES,
        "settings": settings,
    })
}

/// Renders `--about` in the requested format.
pub fn render(format: AboutFormat) -> String {
    match format {
        AboutFormat::Json => {
            serde_json::to_string_pretty(&about_json()).unwrap_or_else(|_| "{}".to_string())
        }
        AboutFormat::Text => {
            let mut out = format!(
                "target-postgres {}\n{}\n\nCapabilities: {}\n\nSettings:\n",
                env!("CARGO_PKG_VERSION"),
                env!("CARGO_PKG_DESCRIPTION"),
                CAPABILITIES.join(", ")
            );
            for spec in SETTINGS {
                let aliases = if spec.aliases.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", spec.aliases.join(", "))
                };
                let default = if spec.default.is_empty() {
                    String::new()
                } else {
                    format!(" (default {})", spec.default)
                };
                out.push_str(&format!(
                    "  {}{aliases}: {}{default}\n      {}\n",
                    spec.name,
                    spec.kind.about_name(),
                    spec.description
                ));
            }
            out
        }
        AboutFormat::Markdown => {
            let mut out = format!(
                "# target-postgres {}\n\n{}\n\n## Capabilities\n\n",
                env!("CARGO_PKG_VERSION"),
                env!("CARGO_PKG_DESCRIPTION")
            );
            for capability in CAPABILITIES {
                out.push_str(&format!("- `{capability}`\n"));
            }
            out.push_str("\n## Settings\n\n| Setting | Aliases | Type | Default | Description |\n|---|---|---|---|---|\n");
            for spec in SETTINGS {
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} |\n",
                    spec.name,
                    spec.aliases
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    spec.kind.about_name(),
                    spec.default,
                    spec.description.replace('|', "\\|")
                ));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_json_lists_every_setting_with_kind_and_default() {
        let about = about_json();
        let settings = about["settings"].as_array().unwrap();
        assert_eq!(settings.len(), SETTINGS.len());
        let port = settings.iter().find(|s| s["name"] == "port").unwrap();
        assert_eq!(port["kind"], "integer");
        assert_eq!(port["default"], 5432);
        let password = settings.iter().find(|s| s["name"] == "password").unwrap();
        assert_eq!(password["sensitive"], true);
    }
}
