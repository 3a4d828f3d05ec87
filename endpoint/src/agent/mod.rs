//! The sans-I/O USP Agent.
//!
//! An [`Agent`] is a value: [`Agent::handle`] takes one received Record
//! and the time and returns the Records to send ([`Output`]);
//! [`Agent::poll`] does the time-driven work (notification retries,
//! TimeToLive expiry, provider reports: sensor readings, async command
//! completions) and [`Agent::next_deadline`] says when it is next due. It
//! owns no socket, task or clock — [`runtime`] drives it over any
//! [`Link`](crate::mtp::Link) with tokio.
//!
//! ```
//! use std::sync::Arc;
//! use usp_endpoint::agent::Agent;
//! use usp_endpoint::datamodel::{models, DataModel, DateTime, Store};
//! use usp_proto::{Msg, Record, usp::Get};
//!
//! let now = DateTime::from_unix(1_700_000_000, 0).unwrap();
//! let dm = DataModel::with_store(Store::new(Arc::new(models::agent_schema().unwrap())));
//! let mut agent = Agent::builder("proto::room-101", dm).full_access("self::rules").build(now).unwrap();
//!
//! let get = Msg::request("1", Get::new(["Device.LocalAgent.EndpointID"]));
//! let record = Record::no_session_context_msg("proto::room-101", "self::rules", &get);
//! let out = agent.handle(record.encode_to_bytes(), now);
//! assert_eq!(out.len(), 1);
//! assert_eq!(out.iter().next().unwrap().to, "self::rules");
//! ```
//!
//! # Where things are
//!
//! | file | holds |
//! |---|---|
//! | `record.rs` | record validation and the answer the spec asks for; dispatch; who is asking |
//! | `get.rs`, `set.rs`, `add.rs`, `delete.rs`, `operate.rs`, `get_instances.rs`, `get_supported_dm.rs`, `get_supported_protocol.rs`, `notify_resp.rs` | one handler per message |
//! | [`permissions`] | ControllerTrust Roles and Permissions; the views resolution uses; setup helpers |
//! | `subscriptions/` | Subscription rows parsed and indexed by schema id |
//! | `changes.rs` | the change log drained after each call into notifications and the Agent's own state |
//! | `notify.rs` | a change → its Notify messages |
//! | `delivery.rs`, `retry.rs` | sending, NotifyResp matching, the R-NOT.1 retry schedule |
//! | `requests.rs` | `Device.LocalAgent.Request.{i}` rows of running async commands |
//! | `controllers.rs` | the Controller rows as notifications need them |
//! | `persist.rs` | export and restore of persistent subscriptions |
//! | [`runtime`] | the tokio driver |

mod add;
mod changes;
pub mod clock;
mod controllers;
mod delete;
mod delivery;
mod get;
mod get_instances;
mod get_supported_dm;
mod get_supported_protocol;
mod ids;
mod notify;
mod notify_resp;
mod operate;
mod output;
pub mod permissions;
mod persist;
mod read;
mod recent;
mod record;
mod requests;
mod retry;
mod rng;
pub mod runtime;
mod set;
mod subscriptions;

use bytes::Bytes;
use usp_proto::{
    decode::Limits,
    endpoint_id::{EndpointId, EndpointIdError},
    validate::Policy,
};

pub use crate::controller::Transmit;
pub use output::Output;
pub use persist::{PersistedRow, PersistentState};

use controllers::Controllers;
use delivery::Delivery;
use ids::Ids;
use permissions::Trust;
use recent::Recent;
use requests::Requests;
use subscriptions::Subscriptions;

use crate::datamodel::{Change, DataModel, DateTime, Instances, ObjRef, ReportQueue, StoreError, Value};

/// Why an Agent could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// The Endpoint ID is not a valid TR-369 Endpoint ID.
    #[error("invalid endpoint id {id:?}: {error}")]
    InvalidEndpointId {
        /// The ID given.
        id: String,
        /// Why it is invalid.
        error: EndpointIdError,
    },
    /// The schema lacks part of `Device.LocalAgent.` the Agent runs.
    #[error("the data model has no {0}")]
    MissingModel(String),
    /// The store refused a row the setup wanted.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Tunables of an [`Agent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// Size limits for received Records (default: 1 MiB).
    pub limits: Limits,
    /// The versions answered to GetSupportedProtocol and put in
    /// OnBoardRequests. Default `"1.3,1.4"`: the Agent implements 1.4 and
    /// nothing it does breaks a 1.3 Controller.
    pub supported_versions: String,
    /// GetSupportedDM's `data_model_inst_uri`. Default
    /// `urn:broadband-forum-org:tr-181-2-18-0`.
    pub data_model_uri: String,
    /// Seed of the Agent's randomness: retry waits, the boot-unique part
    /// of its msg_ids. The default is drawn from the operating system once,
    /// when the configuration is made (the Agent itself reads no random
    /// source); tests fix it to replay a retry schedule.
    pub seed: u64,
    /// Most notifications waiting for a NotifyResp; past it the oldest is
    /// given up. Default 1024.
    pub max_pending_notifications: usize,
    /// How many recent `(sender, msg_id)` pairs are remembered to drop
    /// repeated requests (R-MSG.4). Default 32.
    pub recent_requests: usize,
    /// Record unknown Controllers as Controller rows holding the
    /// UntrustedRole, when that Role exists (see `record.rs`). Default
    /// true.
    pub register_unknown_controllers: bool,
    /// Most Controller rows registered that way. Default 32.
    pub max_registered_controllers: usize,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            limits: Limits::default(),
            supported_versions: "1.3,1.4".to_owned(),
            data_model_uri: "urn:broadband-forum-org:tr-181-2-18-0".to_owned(),
            // Without an OS random source, the time still differs between
            // boots.
            seed: getrandom::u64().unwrap_or_else(|_| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0x5eed, |d| d.as_nanos() as u64)
            }),
            max_pending_notifications: 1024,
            recent_requests: 32,
            register_unknown_controllers: true,
            max_registered_controllers: 32,
        }
    }
}

/// Builds an [`Agent`] over a data model.
#[derive(Debug)]
pub struct AgentBuilder {
    endpoint_id: String,
    dm: DataModel,
    config: AgentConfig,
    full_access: Vec<String>,
    restore: Option<PersistentState>,
}

impl AgentBuilder {
    /// Replaces the configuration.
    pub fn config(mut self, config: AgentConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the random seed (see [`AgentConfig::seed`]).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// Trusts Controller `endpoint_id` with full access: it gets an
    /// enabled `Controller.{i}` row holding the
    /// [`FullAccess`](permissions::setup::FULL_ACCESS_ROLE) Role (`rwxn` on
    /// all of `Device.`). For the rules engine and the CLI's Controller;
    /// finer Roles are made with [`permissions::setup`].
    pub fn full_access(mut self, endpoint_id: impl Into<String>) -> Self {
        self.full_access.push(endpoint_id.into());
        self
    }

    /// Restores the persistent state a previous run exported.
    pub fn restore(mut self, state: PersistentState) -> Self {
        self.restore = Some(state);
        self
    }

    /// Builds the Agent: writes `Device.LocalAgent.EndpointID`, creates the
    /// trusted Controllers and restored subscriptions, and starts from the
    /// data model as it is then (what setup wrote is not notified).
    pub fn build(self, now: DateTime) -> Result<Agent, AgentError> {
        let AgentBuilder { endpoint_id, mut dm, config, full_access, restore } = self;
        EndpointId::parse(&endpoint_id)
            .map_err(|error| AgentError::InvalidEndpointId { id: endpoint_id.clone(), error })?;
        let ids = Ids::new(dm.schema())?;
        let la = ObjRef::new(ids.local_agent, Instances::EMPTY);
        dm.store_mut().set(&la.param(ids.endpoint_id), Value::String(endpoint_id.clone()))?;
        if !full_access.is_empty() {
            let role = permissions::setup::full_access_role(dm.store_mut())?;
            for eid in &full_access {
                EndpointId::parse(eid)
                    .map_err(|error| AgentError::InvalidEndpointId { id: eid.clone(), error })?;
                permissions::setup::add_controller(dm.store_mut(), eid, &[role])?;
            }
        }
        if let Some(state) = &restore {
            persist::restore(&mut dm, &ids, state, now);
        }
        dm.poll(now);
        dm.drain_changes(&mut Vec::new());
        Ok(Agent {
            policy: Policy { limits: config.limits, ..Policy::for_endpoint(endpoint_id.clone()) },
            delivery: Delivery::new(&endpoint_id, config.seed, config.max_pending_notifications),
            recent: Recent::new(config.recent_requests),
            controllers: Controllers::load_all(&dm, &ids),
            subs: Subscriptions::load_all(&dm, &ids),
            trust: Trust::default(),
            requests: Requests::default(),
            changes: Vec::new(),
            scratch: Vec::new(),
            onboard: Vec::new(),
            registered: 0,
            id: endpoint_id,
            config,
            dm,
            ids,
        })
    }
}

/// A USP Agent (see the module documentation).
#[derive(Debug)]
pub struct Agent {
    id: String,
    policy: Policy,
    config: AgentConfig,
    dm: DataModel,
    ids: Ids,
    trust: Trust,
    controllers: Controllers,
    subs: Subscriptions,
    delivery: Delivery,
    requests: Requests,
    recent: Recent,
    /// Reused buffer for the drained change log.
    changes: Vec<Change>,
    /// Reused buffer for subscription candidates.
    scratch: Vec<u32>,
    /// Controller rows owed an OnBoardRequest (sent after the response).
    onboard: Vec<u32>,
    /// Unknown Controllers registered so far.
    registered: usize,
}

impl Agent {
    /// A builder for the Agent `endpoint_id` over `dm` (a data model with
    /// the `Device.LocalAgent.` model, e.g. from
    /// [`models::agent_schema`](crate::datamodel::models::agent_schema)).
    pub fn builder(endpoint_id: impl Into<String>, dm: DataModel) -> AgentBuilder {
        AgentBuilder {
            endpoint_id: endpoint_id.into(),
            dm,
            config: AgentConfig::default(),
            full_access: Vec::new(),
            restore: None,
        }
    }

    /// Our Endpoint ID.
    pub fn endpoint_id(&self) -> &str {
        &self.id
    }

    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// Handles one received, encoded Record at time `now`: the answer (if
    /// any) comes first in the output, then the notifications it caused
    /// and those of provider reports that were waiting.
    pub fn handle(&mut self, record: Bytes, now: DateTime) -> Output {
        let mut out = Output::new();
        self.apply_reports(now);
        self.receive(record, now, &mut out);
        self.settle(now, &mut out);
        out
    }

    /// Does what is due at `now`: applies provider reports (values,
    /// rows, events, async completions) and sends their notifications,
    /// deletes subscriptions whose TimeToLive ended, sends due retries.
    /// Call it when [`Agent::next_deadline`] passes, when the
    /// [`ReportQueue`]'s waker fires, and after changing the data model
    /// through [`Agent::data_model_mut`].
    pub fn poll(&mut self, now: DateTime) -> Output {
        let mut out = Output::new();
        self.apply_reports(now);
        for n in self.subs.expired(now) {
            let gone = Ids::row(self.ids.subscription.table, n)
                .is_none_or(|row| self.dm.store_mut().delete(&row).is_err());
            if gone {
                self.subs.unload(n);
            }
        }
        self.settle(now, &mut out);
        self.delivery.poll(&mut out, &self.controllers, now);
        out
    }

    fn apply_reports(&mut self, now: DateTime) {
        for error in self.dm.poll(now) {
            tracing::debug!(agent = %self.id, %error, "provider report dropped");
        }
    }

    /// When [`Agent::poll`] next has time-driven work (a retry, an
    /// expiry); `None` when nothing is scheduled. Provider reports come
    /// through the [`ReportQueue`]'s waker instead.
    pub fn next_deadline(&self) -> Option<DateTime> {
        match (self.delivery.next_deadline(), self.subs.next_expiry()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The data model.
    pub fn data_model(&self) -> &DataModel {
        &self.dm
    }

    /// The data model, to change it directly (a local write, a driver on
    /// the Agent's thread). Its changes are notified at the next
    /// [`Agent::poll`] or [`Agent::handle`].
    pub fn data_model_mut(&mut self) -> &mut DataModel {
        &mut self.dm
    }

    /// The queue providers push reports into, from any thread.
    pub fn report_queue(&self) -> ReportQueue {
        self.dm.report_queue()
    }

    /// Notifications sent with `send_resp=true` still waiting for their
    /// NotifyResp.
    pub fn pending_notifications(&self) -> usize {
        self.delivery.pending()
    }
}
