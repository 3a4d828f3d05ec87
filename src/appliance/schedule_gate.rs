//! Schedule firings on a NATS mesh: every node's engine falls due at the
//! same moment, one firing runs, and the site's nodes share the work.
//!
//! [`NatsGate`] is the rules engine's [`ScheduleGate`]. Each firing is
//! claimed as a lease in the site's lease bucket (key
//! `<rule>@<scheduled time in Unix ms>`); the first node to create the key
//! submits the firing as a job to the site's queue group
//! (`usp.<site>.rules`), and no engine runs it on its own. NATS gives each
//! job to one member of the group: [`run_jobs`], on every node, hands it to
//! its engine ([`RulesHandle::run_firing`]). So a firing is claimed once,
//! queued once and run once, by whichever node NATS picks — rule work is
//! shared, never done twice.
//!
//! What can go wrong, and what then happens:
//!
//! * The claim cannot be made (NATS unreachable): nobody acts. A missed
//!   schedule is better than one acted on by every node (the mesh's rule
//!   "never twice"); the failure is logged.
//! * The node that took the job dies before its engine ran it: the firing is
//!   lost (NATS queue groups deliver at most once).
//! * A job names a rule this node's engine does not run (rules reloaded on
//!   one node only): the engine ignores it.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use usp_broker::nats::{RuleJob, RuleJobs, RuleWork};
use usp_rules::runtime::{Firing, GateFuture, RulesHandle, ScheduleGate};

/// The job name of a schedule firing on the queue group.
pub(crate) const SCHEDULE_JOB: &str = "schedule-firing";

/// Schedule firings claimed through NATS and run through its queue group.
#[derive(Debug)]
pub(crate) struct NatsGate {
    pub(crate) work: RuleWork,
}

/// A firing as a job's payload.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct FiringJob {
    rule: String,
    trigger: usize,
    /// The scheduled time, Unix milliseconds.
    at_ms: u64,
}

impl FiringJob {
    fn from_firing(firing: &Firing) -> FiringJob {
        let at_ms = firing.at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        FiringJob {
            rule: firing.rule.to_string(),
            trigger: firing.trigger,
            at_ms: u64::try_from(at_ms).unwrap_or(u64::MAX),
        }
    }

    fn into_firing(self) -> Firing {
        Firing {
            rule: self.rule.into(),
            trigger: self.trigger,
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(self.at_ms),
        }
    }
}

impl ScheduleGate for NatsGate {
    fn may_act(&self, firing: Firing) -> GateFuture {
        let work = self.work.clone();
        Box::pin(async move {
            let key = firing.key();
            let payload = match serde_json::to_vec(&FiringJob::from_firing(&firing)) {
                Ok(payload) => Bytes::from(payload),
                Err(error) => {
                    tracing::warn!(%key, %error, "schedule firing not encoded; not acting on it");
                    return false;
                }
            };
            match work.submit_once(&key, SCHEDULE_JOB, payload).await {
                Ok(true) => tracing::debug!(%key, "schedule firing claimed and queued"),
                Ok(false) => tracing::debug!(%key, "schedule firing claimed by another node"),
                Err(error) => tracing::warn!(%key, %error, "schedule firing not claimed; nobody acts on it"),
            }
            // Whoever claimed it, the queue decides where it runs.
            false
        })
    }
}

/// Runs this node's share of the site's rule jobs (`jobs`, joined before
/// the engine starts, so no firing of its own is queued before it listens)
/// on `engine`, until the NATS connection or the engine ends.
pub(crate) async fn run_jobs(mut jobs: RuleJobs, engine: RulesHandle) {
    while let Some(job) = jobs.next().await {
        match decode(&job) {
            Ok(firing) => {
                tracing::debug!(key = %firing.key(), from = %job.submitted_by, "running a queued schedule firing");
                if engine.run_firing(firing).await.is_err() {
                    return;
                }
            }
            Err(reason) => {
                tracing::warn!(job = %job.name, from = %job.submitted_by, %reason, "rule job ignored")
            }
        }
    }
}

fn decode(job: &RuleJob) -> Result<Firing, String> {
    if job.name != SCHEDULE_JOB {
        return Err(format!("unknown job kind (this node runs {SCHEDULE_JOB:?} jobs)"));
    }
    serde_json::from_slice::<FiringJob>(&job.payload).map(FiringJob::into_firing).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_firing_travels_as_a_job_and_back() {
        let firing = Firing {
            rule: "night-mode".into(),
            trigger: 2,
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        };
        let payload = serde_json::to_vec(&FiringJob::from_firing(&firing)).unwrap();
        let job = RuleJob { name: SCHEDULE_JOB.into(), payload: payload.into(), submitted_by: "a".into() };
        assert_eq!(decode(&job), Ok(firing));
    }

    #[test]
    fn other_jobs_and_bad_payloads_are_refused_with_a_reason() {
        let job = |name: &str, payload: &'static [u8]| RuleJob {
            name: name.into(),
            payload: Bytes::from_static(payload),
            submitted_by: "a".into(),
        };
        assert!(decode(&job("reindex", b"{}")).unwrap_err().contains("unknown job kind"));
        assert!(decode(&job(SCHEDULE_JOB, b"{\"rule\": 3}")).is_err());
    }
}
