//! `uspmesh decode` and `uspmesh encode`.

use std::io::{IsTerminal, Write};

use std::path::PathBuf;

use bytes::Bytes;
use clap::Args;
use usp_proto::{
    Record,
    decode::{DEFAULT_MAX_RECORD_SIZE, Limits},
    json,
    validate::Policy,
};

use super::{CliError, input::read_input, text};

/// Arguments of `uspmesh decode`.
#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// The binary Record to read; `-` or nothing reads standard input.
    #[arg(value_name = "FILE|-")]
    input: Option<PathBuf>,
    /// Print the proto3 JSON mapping of the Record (its Msg payload decoded
    /// in place as `noSessionContext.payload`) instead of readable text.
    #[arg(long)]
    json: bool,
    /// The input is hexadecimal text (whitespace ignored), e.g. copied from a
    /// packet capture.
    #[arg(long)]
    hex: bool,
    /// Largest Record accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_RECORD_SIZE)]
    max_size: usize,
}

/// Arguments of `uspmesh encode`.
#[derive(Debug, Args)]
pub(crate) struct EncodeArgs {
    /// The Record as proto3 JSON (the format `decode --json` prints); `-`
    /// or nothing reads standard input. `noSessionContext.payload` may be a
    /// Msg object or base64 bytes.
    #[arg(value_name = "FILE|-")]
    input: Option<PathBuf>,
    /// The input is proto3 JSON (the only input format; accepted for
    /// clarity in scripts).
    #[arg(long)]
    json: bool,
    /// Write the Record as hexadecimal text instead of binary.
    #[arg(long)]
    hex: bool,
    /// Largest input accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * DEFAULT_MAX_RECORD_SIZE)]
    max_size: usize,
}

/// Decodes a Record and prints it.
pub(crate) fn decode(args: &DecodeArgs) -> Result<(), CliError> {
    // Hex text takes two characters (plus whitespace) per byte.
    let read_limit = if args.hex { args.max_size.saturating_mul(3) } else { args.max_size };
    let (name, raw) = read_input(args.input.as_deref(), read_limit)?;
    let bytes = if args.hex { from_hex(&name, &raw)? } else { raw };
    let size = bytes.len();
    let record = Limits::with_max_record_size(args.max_size)
        .decode_record(Bytes::from(bytes))
        .map_err(|e| CliError::BadInput(format!("{name}: {e}")))?;

    // Decoding succeeded; what a receiver would still refuse is a note.
    if let Err(rejection) = Policy::default().check_record(record.clone()) {
        eprintln!("note: a receiver would refuse this record: {}", rejection.error);
    }
    let out = if args.json {
        let value = json::record_to_json(&record).map_err(|e| CliError::BadInput(format!("{name}: {e}")))?;
        let mut s =
            serde_json::to_string_pretty(&value).map_err(|e| CliError::BadInput(format!("{name}: {e}")))?;
        s.push('\n');
        s
    } else {
        text::render_record(&record, size).map_err(|e| CliError::BadInput(format!("{name}: {e}")))?
    };
    write_stdout(out.as_bytes())
}

/// Encodes a Record from JSON and writes it.
pub(crate) fn encode(args: &EncodeArgs) -> Result<(), CliError> {
    let _ = args.json;
    let (name, raw) = read_input(args.input.as_deref(), args.max_size)?;
    let value: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| CliError::BadInput(format!("{name}: not JSON: {e}")))?;
    let record: Record =
        json::record_from_json(value).map_err(|e| CliError::BadInput(format!("{name}: {e}")))?;
    if let Err(rejection) = Policy::default().check_record(record.clone()) {
        eprintln!("note: a receiver would refuse this record: {}", rejection.error);
    }
    let bytes = record.encode_to_bytes();
    if args.hex {
        let mut s = to_hex(&bytes);
        s.push('\n');
        return write_stdout(s.as_bytes());
    }
    if std::io::stdout().is_terminal() {
        return Err(CliError::BadInput(
            "refusing to write a binary record to a terminal: redirect standard output, or use --hex".into(),
        ));
    }
    write_stdout(&bytes)
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|source| CliError::Io { context: "cannot write to standard output".into(), source })
}

fn from_hex(name: &str, text: &[u8]) -> Result<Vec<u8>, CliError> {
    let digits: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(CliError::BadInput(format!("{name}: hex input has an odd number of digits")));
    }
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let hi = (pair[0] as char).to_digit(16);
            let lo = (pair[1] as char).to_digit(16);
            match (hi, lo) {
                (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                _ => Err(CliError::BadInput(format!(
                    "{name}: not a hex digit pair at byte {i}: {:?}",
                    String::from_utf8_lossy(pair)
                ))),
            }
        })
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        assert_eq!(from_hex("x", b"0a ff\n10").unwrap(), vec![0x0a, 0xff, 0x10]);
        assert_eq!(to_hex(&[0x0a, 0xff, 0x10]), "0aff10");
        assert!(from_hex("x", b"abc").unwrap_err().to_string().contains("odd number"));
        assert!(from_hex("x", b"zz").unwrap_err().to_string().contains("byte 0"));
    }
}
