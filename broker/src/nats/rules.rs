//! Rule work shared by the nodes of a site, never acted on twice.
//!
//! Each node's rules engine sees its own Agents' notifications and acts on
//! them: that work is naturally done once. What every node would otherwise
//! do *each* — a schedule-triggered rule, a job any node may run — needs one
//! of two primitives, both in [`RuleWork`]:
//!
//! * **Queue group** on `usp.<site>.rules`: [`RuleWork::submit`] publishes a
//!   job, and of all nodes running [`RuleWork::jobs`], exactly one (NATS picks
//!   one member of the queue group `usp-rules`) receives it. At most once: a
//!   node that dies holding a job loses it; a job is never run twice.
//! * **Lease** ("who acts"): [`RuleWork::claim`] creates a key in the
//!   `USP_<site>_LEASES` KV bucket; the create succeeds for exactly one
//!   caller, everyone else gets `false`. Keys expire after
//!   `rules.lease_ttl_s`. A schedule that fires on every node at the same
//!   minute claims `"<rule>@<fire time>"` and only the winner acts — or
//!   submits the job to the queue group, so a lightly loaded node runs it.
//!
//! Wiring in the appliance (`src/appliance/schedule_gate.rs`; this crate
//! does not depend on `usp-rules`): each node's rules engine asks its
//! schedule gate before a schedule-triggered rule runs; the gate calls
//! [`RuleWork::submit_once`] with `<rule>@<scheduled time>`, so the one node
//! that wins the lease queues the firing, and every node's job worker
//! ([`RuleWork::jobs`]) hands the jobs NATS gives it to its engine.
//! Counted in [`super::NatsStatsSnapshot`] (`rule_jobs_submitted`,
//! `rule_jobs_taken`).

use async_nats::HeaderMap;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures_util::StreamExt;
use std::{sync::Arc, time::Duration};

use super::{NatsError, config::RulesWorkConfig, headers, stats::NatsStats, subject};

/// The queue group every node's job worker joins.
pub const QUEUE_GROUP: &str = "usp-rules";

/// Shared rule work of one site (cheap to clone).
#[derive(Debug, Clone)]
pub struct RuleWork {
    client: async_nats::Client,
    subject: String,
    leases: kv::Store,
    node: String,
    stats: Arc<NatsStats>,
}

/// A rule job taken from the queue group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleJob {
    /// The job's name (what to run).
    pub name: String,
    /// Its parameters, opaque here.
    pub payload: Bytes,
    /// The node that submitted it.
    pub submitted_by: String,
}

/// This node's share of the queue group: the jobs it is given.
#[derive(Debug)]
pub struct RuleJobs {
    subscriber: async_nats::Subscriber,
    stats: Arc<NatsStats>,
}

impl RuleJobs {
    /// The next job for this node; `None` once the connection closes.
    /// Messages on the subject without a job name are skipped.
    pub async fn next(&mut self) -> Option<RuleJob> {
        while let Some(message) = self.subscriber.next().await {
            let header =
                |name| message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_owned());
            let Some(name) = header(headers::JOB) else { continue };
            NatsStats::add(&self.stats.rule_jobs_taken, 1);
            return Some(RuleJob {
                name,
                payload: message.payload,
                submitted_by: header(headers::NODE).unwrap_or_default(),
            });
        }
        None
    }
}

impl RuleWork {
    pub(crate) async fn open(
        client: async_nats::Client,
        js: &jetstream::Context,
        subjects: &subject::Subjects,
        site: &str,
        node: &str,
        config: &RulesWorkConfig,
        stats: Arc<NatsStats>,
    ) -> Result<RuleWork, NatsError> {
        let leases = super::open_bucket(
            js,
            kv::Config {
                bucket: format!("USP_{site}_LEASES"),
                description: "uspmesh: rule work leases (who acts)".into(),
                history: 1,
                max_age: Duration::from_secs(config.lease_ttl_s.max(1)),
                num_replicas: config.replicas,
                ..kv::Config::default()
            },
        )
        .await?;
        Ok(RuleWork { client, subject: subjects.rules(), leases, node: node.to_owned(), stats })
    }

    /// Joins the queue group: from now on this node takes its share of the
    /// submitted jobs.
    pub async fn jobs(&self) -> Result<RuleJobs, NatsError> {
        let subscriber = self
            .client
            .queue_subscribe(self.subject.clone(), QUEUE_GROUP.to_owned())
            .await
            .map_err(|e| NatsError::Nats(e.to_string()))?;
        // The subscription is in place on the server once this returns.
        self.client.flush().await.map_err(|e| NatsError::Nats(e.to_string()))?;
        Ok(RuleJobs { subscriber, stats: self.stats.clone() })
    }

    /// Submits a job to exactly one member of the queue group.
    pub async fn submit(&self, name: &str, payload: Bytes) -> Result<(), NatsError> {
        let mut h = HeaderMap::new();
        h.insert(headers::JOB, name);
        h.insert(headers::NODE, self.node.as_str());
        self.client
            .publish_with_headers(self.subject.clone(), h, payload)
            .await
            .map_err(|e| NatsError::Nats(e.to_string()))?;
        NatsStats::add(&self.stats.rule_jobs_submitted, 1);
        Ok(())
    }

    /// Claims `key` for this node: `Ok(true)` for exactly one caller in the
    /// whole mesh until the lease expires, `Ok(false)` for every other.
    pub async fn claim(&self, key: &str) -> Result<bool, NatsError> {
        let key = subject::encode_token(key)?;
        match self.leases.create(&key, Bytes::copy_from_slice(self.node.as_bytes())).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(NatsError::JetStream(e.to_string())),
        }
    }

    /// Submits a job only if this node wins the lease `key`: the way for a
    /// trigger that fires on every node to become one job. Returns whether
    /// it was submitted.
    pub async fn submit_once(&self, key: &str, name: &str, payload: Bytes) -> Result<bool, NatsError> {
        if !self.claim(key).await? {
            return Ok(false);
        }
        self.submit(name, payload).await?;
        Ok(true)
    }
}
