//! Progress on standard error, for people only.
//!
//! A message appears when an operation is slow (past [`PATIENCE`]) and
//! standard error is a terminal; it is erased when the operation ends.
//! Scripts, whose standard error is a pipe or a file, never see it, and a
//! fast operation shows nothing at all.

use std::{
    future::Future,
    io::{IsTerminal, Write},
    time::Duration,
};

/// How long an operation may take before its progress message appears.
pub(crate) const PATIENCE: Duration = Duration::from_millis(400);

/// Runs `operation`, showing `message` (e.g. "connecting to mqtt://…") on
/// a terminal's standard error while it takes longer than [`PATIENCE`].
pub(crate) async fn while_slow<F: Future>(message: &str, operation: F) -> F::Output {
    if !std::io::stderr().is_terminal() {
        return operation.await;
    }
    tokio::pin!(operation);
    tokio::select! {
        out = &mut operation => return out,
        () = tokio::time::sleep(PATIENCE) => {}
    }
    let line = format!("{message}…");
    let _ = write!(std::io::stderr(), "{line}");
    let out = operation.await;
    // Erase the line: back to its start, blanks, back again.
    let _ = write!(std::io::stderr(), "\r{:width$}\r", "", width = line.chars().count());
    out
}

/// A counter shown on one terminal line while it moves ("connected
/// 2500/10000"), or on a new line every few seconds when standard error
/// is not a terminal.
#[derive(Debug)]
pub(crate) struct Counter {
    terminal: bool,
    last: Option<std::time::Instant>,
    width: usize,
}

impl Counter {
    /// How often a non-terminal gets a progress line.
    const LOG_EVERY: Duration = Duration::from_secs(2);

    /// A counter writing to standard error.
    pub(crate) fn new() -> Counter {
        Counter { terminal: std::io::stderr().is_terminal(), last: None, width: 0 }
    }

    /// Shows `text` now if it is time to.
    pub(crate) fn show(&mut self, text: &str) {
        let now = std::time::Instant::now();
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r{text:<width$}", width = self.width);
            self.width = text.chars().count();
            let _ = err.flush();
        } else if self.last.is_none_or(|t| now.duration_since(t) >= Self::LOG_EVERY) {
            let _ = writeln!(err, "{text}");
            self.last = Some(now);
        }
    }

    /// Ends the counter with a final line.
    pub(crate) fn finish(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = writeln!(err, "\r{text:<width$}", width = self.width);
        } else {
            let _ = writeln!(err, "{text}");
        }
        self.width = 0;
    }
}
