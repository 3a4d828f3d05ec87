//! [`NatsGate`]: the rules engine's [`ScheduleGate`] on a NATS mesh, so a
//! schedule that falls due on every node at once is acted on by one.
//!
//! Each firing is claimed as a lease in the site's lease bucket
//! ([`RuleWork::claim`], key `<rule>@<scheduled time in Unix ms>`): the
//! first node to create the key acts, the others skip. When the claim
//! cannot be made (NATS unreachable) the node does not act: a missed
//! schedule is better than one acted on by every node (the mesh's rule
//! "never twice"); the failure is logged.

use usp_broker::nats::RuleWork;
use usp_rules::runtime::{GateFuture, ScheduleGate};

/// Schedule firings claimed through NATS.
#[derive(Debug)]
pub(crate) struct NatsGate {
    pub(crate) work: RuleWork,
}

impl ScheduleGate for NatsGate {
    fn may_act(&self, key: String) -> GateFuture {
        let work = self.work.clone();
        Box::pin(async move {
            match work.claim(&key).await {
                Ok(won) => won,
                Err(error) => {
                    tracing::warn!(%key, %error, "schedule firing not claimed; not acting on it here");
                    false
                }
            }
        })
    }
}
