//! Command-line interface: argument definitions and dispatch.

mod codec;
mod input;
mod text;

use clap::{Parser, Subcommand};

/// uspmesh — an on-premise USP (TR-369) broker and automation mesh for
/// smart buildings.
#[derive(Debug, Parser)]
#[command(name = "uspmesh", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode a binary USP Record and print it (readable text, or proto3 JSON).
    ///
    /// The Record's Msg payload is decoded in place. Bad input exits with
    /// status 1 and says what is wrong.
    Decode(codec::DecodeArgs),
    /// Encode a USP Record from proto3 JSON (as `decode --json` prints it)
    /// and write the binary Record to standard output.
    Encode(codec::EncodeArgs),
}

/// A failed command: its message and the exit status it maps to.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The input could not be read or is not valid (exit status 1).
    #[error("{0}")]
    BadInput(String),
    /// Reading or writing failed (exit status 1).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl CliError {
    /// The process exit status for this error: 1 for bad input or I/O.
    pub(crate) fn exit_status(&self) -> u8 {
        match self {
            CliError::BadInput(_) | CliError::Io { .. } => 1,
        }
    }
}

/// Runs a parsed command line.
pub(crate) fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Decode(args) => codec::decode(&args),
        Command::Encode(args) => codec::encode(&args),
    }
}
