//! Logs: `tracing` events to standard error, readable by default.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the process's log subscriber: `RUST_LOG` if set, else
/// `filter` (a `tracing` directive list such as `info` or
/// `usp_broker=debug,info`; an invalid one falls back to `info` with a
/// warning). Does nothing if a subscriber is already installed.
pub fn init(filter: &str) {
    let (env_filter, bad) = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => match EnvFilter::try_new(&env) {
            Ok(f) => (f, None),
            Err(e) => (EnvFilter::new("info"), Some(format!("RUST_LOG={env:?}: {e}"))),
        },
        _ => match EnvFilter::try_new(filter) {
            Ok(f) => (f, None),
            Err(e) => (EnvFilter::new("info"), Some(format!("[log] filter {filter:?}: {e}"))),
        },
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        // Colours on a terminal only: journald and log files get plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init()
        .is_ok();
    if let (true, Some(bad)) = (installed, bad) {
        tracing::warn!("invalid log filter, using info: {bad}");
    }
}
