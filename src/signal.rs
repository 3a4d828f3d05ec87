//! The signals that ask a long-running command (`watch`, `sim`) to stop:
//! Ctrl-C (SIGINT) and SIGTERM (what `systemctl stop`, `docker stop` and
//! `kill` send).
//!
//! The handlers are installed when [`StopSignals::install`] is called, not
//! when a future is first polled, so a signal that arrives while the
//! command is still starting is not lost (nor does it end the process
//! before it could clean up).

#[cfg(unix)]
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Installed SIGINT and SIGTERM handlers.
#[derive(Debug)]
pub(crate) struct StopSignals {
    #[cfg(unix)]
    interrupt: Option<Signal>,
    #[cfg(unix)]
    terminate: Option<Signal>,
}

#[cfg(unix)]
async fn next(handler: &mut Option<Signal>) {
    match handler {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

impl StopSignals {
    /// Installs the handlers (needs a tokio runtime). A handler that cannot
    /// be installed is left out: that signal then ends the process the
    /// default way.
    pub(crate) fn install() -> StopSignals {
        #[cfg(unix)]
        {
            StopSignals {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Completes when one of the signals arrives.
    pub(crate) async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            () = next(&mut self.interrupt) => {}
            () = next(&mut self.terminate) => {}
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
