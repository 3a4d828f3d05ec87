//! `uspmesh`: the appliance binary and its command-line tools.

mod cli;
mod mtp;
mod signal;
mod sim;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(err.exit_status())
        }
    }
}
