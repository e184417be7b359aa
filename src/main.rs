//! The `target-postgres` binary: parse arguments, start logging, run, map errors to exit codes.

use clap::Parser;

fn main() {
    let args = target_postgres::cli::Args::parse();
    target_postgres::logging::init(args.log_format);
    if let Err(error) = target_postgres::run(args) {
        log::error!("{error}");
        std::process::exit(error.exit_code());
    }
}
