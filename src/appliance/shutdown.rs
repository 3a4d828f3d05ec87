//! [`Appliance::shutdown`]: the graceful stop `uspmesh serve` runs on
//! SIGTERM or SIGINT.
//!
//! Order, and why:
//! 1. the HTTP endpoints stop (requests under way finish): no rule reload
//!    can start while the rules engine is stopping;
//! 2. the rules engine stops and writes the rule state that changed since
//!    its last write (timers under way keep their deadlines across the
//!    restart). It goes before the broker, whose shutdown closes the
//!    engine's in-process link;
//! 3. the rule events handed over before the engine stopped are passed on
//!    to the bridge and NATS;
//! 4. the cloud bridge stops: its local links detach, what they handed
//!    over is written to its on-disk queue (flushed), and the uplink says
//!    DISCONNECT — what the cloud has not acknowledged stays queued on disk
//!    for the next start;
//! 5. the NATS node leaves the cluster (its registry entries and heartbeat
//!    removed), so other nodes stop routing here before the broker closes;
//! 6. the broker stops accepting, lets every connection write out what is
//!    queued for it and say goodbye (MQTT 5 DISCONNECT, WebSocket close),
//!    and waits for them — at most [`DRAIN_LIMIT`], so a peer that stopped
//!    reading cannot hold the stop (its write times out anyway).

use std::time::Duration;

use super::serve::Appliance;

/// Longest wait for the broker's connections to drain.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// What the stop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Whether the rule state was written (true also when no state file is
    /// configured or the rules engine is off: nothing was lost).
    pub rules_persisted: bool,
    /// Whether every connection drained within [`DRAIN_LIMIT`].
    pub drained: bool,
    /// Whether the cloud bridge stopped gracefully, its queue written
    /// (true also when no bridge is configured).
    pub bridge_flushed: bool,
    /// Whether the NATS node left the cluster gracefully (true also when
    /// no NATS is configured).
    pub nats_left: bool,
}

impl Appliance {
    /// Stops the appliance gracefully (see the module doc for the order).
    pub async fn shutdown(self) -> ShutdownReport {
        self.http_stop.cancel();
        self.http_tasks.wait().await;

        let mut rules_persisted = true;
        if let Some(rules) = self.rules {
            match rules.runtime.shutdown().await {
                Ok(()) => match &rules.state {
                    Some(file) => {
                        tracing::info!(file = %file.display(), "rules engine stopped, state written")
                    }
                    None => tracing::info!("rules engine stopped (no [rules] state file: nothing kept)"),
                },
                Err(error) => {
                    rules_persisted = false;
                    tracing::error!(%error, "rules engine stopped without writing its state");
                }
            }
        }

        if let Some(task) = self.upstream {
            // Ends once the runtime's sender is gone (it is, the runtime
            // stopped above) and every event was passed on.
            let _ = task.await;
        }
        // The admin API's copies are gone with the HTTP endpoints (step 1),
        // so these are the last handles.
        let mut bridge_flushed = true;
        if let Some(bridge) = self.bridge {
            match std::sync::Arc::try_unwrap(bridge) {
                Ok(bridge) => {
                    bridge.shutdown().await;
                    tracing::info!("cloud bridge stopped, queue flushed");
                }
                Err(_) => {
                    bridge_flushed = false;
                    tracing::warn!("cloud bridge still in use; stopped without waiting");
                }
            }
        }
        let mut nats_left = true;
        if let Some(nats) = self.nats {
            match std::sync::Arc::try_unwrap(nats) {
                Ok(nats) => {
                    nats.shutdown().await;
                    tracing::info!("NATS node left the cluster");
                }
                Err(_) => {
                    nats_left = false;
                    tracing::warn!("NATS node still in use; stopped without leaving gracefully");
                }
            }
        }

        let drained = tokio::time::timeout(DRAIN_LIMIT, self.broker.shutdown()).await.is_ok();
        if drained {
            tracing::info!("broker stopped, connections drained");
        } else {
            tracing::warn!(limit_s = DRAIN_LIMIT.as_secs(), "broker connections did not drain in time");
        }
        ShutdownReport { rules_persisted, drained, bridge_flushed, nats_left }
    }
}
