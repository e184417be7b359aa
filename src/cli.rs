//! Command-line arguments (the raw layer; `config` validates what they point at).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Source;
pub use crate::logging::LogFormat;

/// Loads Singer SCHEMA/RECORD/STATE messages from stdin into PostgreSQL.
#[derive(Debug, Parser)]
#[command(
    name = "target-postgres",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// Something other than loading (`mage-install`).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// JSON config file; repeat to merge (later keys win). `ENV` reads TARGET_POSTGRES_* variables.
    #[arg(long, value_name = "FILE")]
    pub config: Vec<String>,

    /// Read messages from FILE instead of stdin (gzip is detected).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Print what this target is and every setting it accepts, then exit.
    #[arg(long)]
    pub about: bool,

    /// Format of --about.
    #[arg(long, value_enum, default_value_t = AboutFormat::Text)]
    pub format: AboutFormat,

    /// Connect with the given config, report, and exit.
    #[arg(long = "test-connection")]
    pub test_connection: bool,

    /// Log line format on stderr.
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    // Mage starts its destinations with the flags below (SPEC §1); any of them means Mage mode.
    /// Mage: the settings as a JSON object (wins over --config and --settings).
    #[arg(long = "config_json", value_name = "JSON", help_heading = "Mage")]
    pub config_json: Option<String>,

    /// Mage: read messages from FILE.
    #[arg(long = "input_file_path", value_name = "FILE", help_heading = "Mage")]
    pub input_file_path: Option<PathBuf>,

    /// Mage: log lines go to stdout (`0` or `false` keep them on stderr).
    #[arg(long = "log_to_stdout", value_name = "BOOL", num_args = 0..=1, default_missing_value = "1", help_heading = "Mage")]
    pub log_to_stdout: Option<String>,

    /// Mage: write the state ({"bookmarks": ...}) to FILE, replacing it, instead of stdout.
    #[arg(long = "state", value_name = "FILE", help_heading = "Mage")]
    pub state: Option<PathBuf>,

    /// Mage: a YAML file whose `config:` key holds the settings.
    #[arg(long = "settings", value_name = "FILE", help_heading = "Mage")]
    pub settings: Option<String>,

    /// Mage: a catalog whose streams' schemas replace their SCHEMA messages.
    #[arg(long = "catalog_json", value_name = "JSON", help_heading = "Mage")]
    pub catalog_json: Option<String>,

    /// Mage: log at debug level.
    #[arg(long, help_heading = "Mage")]
    pub debug: bool,

    /// Mage: connect, report, and exit.
    #[arg(long = "test_connection", help_heading = "Mage")]
    pub mage_test_connection: bool,

    /// Mage: print the config template and exit.
    #[arg(long = "show_templates", help_heading = "Mage")]
    pub show_templates: bool,
}

/// Commands other than loading.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install this binary as a destination of Mage (the one PYTHON runs).
    ///
    /// Writes mage_integrations/destinations/NAME/__init__.py, a shim that runs this binary,
    /// into the Mage installation that PYTHON imports, and prints the `destination:` line
    /// for the pipeline's YAML.
    MageInstall {
        /// The destination's name (the YAML's `destination:` value).
        #[arg(long, default_value = "target_postgres")]
        name: String,
        /// The Python that Mage runs with (Mage runs `python3` from its PATH).
        #[arg(long, default_value = "python3")]
        python: String,
    },
}

impl Args {
    /// Whether the run was started the way Mage starts destinations.
    pub fn is_mage_mode(&self) -> bool {
        self.config_json.is_some()
            || self.input_file_path.is_some()
            || self.log_to_stdout.is_some()
            || self.state.is_some()
            || self.settings.is_some()
            || self.catalog_json.is_some()
            || self.debug
            || self.mage_test_connection
            || self.show_templates
    }

    /// Whether log lines go to stdout (Mage's `--log_to_stdout 1`).
    pub fn logs_to_stdout(&self) -> bool {
        self.log_to_stdout.as_deref().is_some_and(|value| {
            !matches!(
                value.trim().to_ascii_lowercase().as_str(),
                "" | "0" | "false" | "no"
            )
        })
    }

    /// The log format: Mage's JSON lines in Mage mode unless another was asked for.
    pub fn effective_log_format(&self) -> LogFormat {
        if self.is_mage_mode() && self.log_format == LogFormat::Text {
            LogFormat::Mage
        } else {
            self.log_format
        }
    }

    /// The settings sources in merge order (later wins): Mage's settings YAML, the
    /// `--config` files (or the environment), then Mage's `--config_json`.
    pub fn config_sources(&self) -> Vec<Source> {
        let mut sources = Vec::new();
        if let Some(path) = &self.settings {
            sources.push(Source::MageSettings(path.clone()));
        }
        for arg in &self.config {
            sources.push(if arg == "ENV" {
                Source::Environment
            } else {
                Source::File(arg.clone())
            });
        }
        if let Some(text) = &self.config_json {
            sources.push(Source::JsonText(text.clone()));
        }
        sources
    }

    /// Where messages come from: `--input` or Mage's `--input_file_path` (else stdin).
    pub fn input_path(&self) -> Option<&std::path::Path> {
        self.input.as_deref().or(self.input_file_path.as_deref())
    }
}

/// `--about` output formats (Meltano SDK convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AboutFormat {
    /// Human-readable.
    Text,
    /// One JSON object.
    Json,
    /// A Markdown page.
    Markdown,
}
