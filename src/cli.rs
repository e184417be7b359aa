//! Command-line arguments (the raw layer; `config.rs` validates what they point at).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Loads Singer SCHEMA/RECORD/STATE messages from stdin into PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "target-postgres", version, about, long_about = None)]
pub struct Args {
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

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `LEVEL message`.
    Text,
    /// One JSON object per line.
    Json,
}
