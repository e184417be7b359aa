//! The `target-postgres` binary: parse arguments, start logging, run, map errors to exit codes.

use clap::Parser;

fn main() {
    let args = target_postgres::cli::Args::parse();
    target_postgres::logging::init(
        args.effective_log_format(),
        args.logs_to_stdout(),
        args.debug,
    );
    if let Err(error) = target_postgres::run(args) {
        target_postgres::logging::log_failure(&error);
        std::process::exit(error.exit_code());
    }
}
