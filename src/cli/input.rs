//! Reading a command's input: a file, or standard input for `-`.

use std::{
    io::{self, IsTerminal, Read},
    path::Path,
};

use super::CliError;

/// Reads at most `limit` bytes from `path` (`-` or none = standard input).
/// Reading more than `limit` is an error, so a huge input is never buffered.
pub(crate) fn read_input(path: Option<&Path>, limit: usize) -> Result<(String, Vec<u8>), CliError> {
    let (name, reader): (String, Box<dyn Read>) = match path {
        None => ("<stdin>".into(), stdin_reader()?),
        Some(p) if p == Path::new("-") => ("<stdin>".into(), stdin_reader()?),
        Some(p) => {
            let file = std::fs::File::open(p)
                .map_err(|source| CliError::Io { context: format!("cannot open {}", p.display()), source })?;
            (p.display().to_string(), Box::new(file))
        }
    };
    let mut buf = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut buf)
        .map_err(|source| CliError::Io { context: format!("cannot read {name}"), source })?;
    if buf.len() > limit {
        return Err(CliError::BadInput(format!(
            "{name}: input is larger than {limit} bytes (raise the limit with --max-size)"
        )));
    }
    Ok((name, buf))
}

fn stdin_reader() -> Result<Box<dyn Read>, CliError> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        return Err(CliError::BadInput("no input: give a FILE, or pipe a record into standard input".into()));
    }
    Ok(Box::new(stdin))
}
