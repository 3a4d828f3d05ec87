//! # usp-rules
//!
//! The uspmesh rules engine: the part of the appliance that makes a building
//! run itself. It is a USP Controller that watches Agents (ValueChange,
//! Event, ObjectCreation/Deletion, connections, schedules) and answers with
//! Set, Add, Delete and Operate requests and with events published upstream,
//! following rules a facility operator writes in TOML.
//!
//! This crate is the **sans-I/O core**: an [`Engine`] is a value that takes
//! inputs with the current time and returns outputs. It has no sockets, no
//! tasks and no clock; the runtime (in the appliance) owns those, exactly as
//! quinn owns the sockets around quinn-proto. That is what lets every rule
//! behaviour be tested with a controllable clock, and what keeps the hot path
//! a few microseconds long.
//!
//! ## Parts
//!
//! * [`mod@load`]: rule files → a checked [`RuleSet`], or errors with
//!   `file:line:column` and the reason (the format is described in
//!   `deploy/rules/README.md`, with worked examples beside it);
//! * [`expr`]: the condition language of `if = "…"`;
//! * [`schedule`], [`time`]: schedules (`"mon-fri at 07:30"`), durations
//!   (`"10m"`), times of day;
//! * [`engine`]: the engine — index, evaluation, state, timers, sequences,
//!   loop protection, subscriptions, persistence, reload;
//! * [`trace`]: "why did or didn't it fire" (`uspmesh rules explain NAME`);
//! * [`metrics`]: per-rule metrics through the `metrics` crate;
//! * [`store`]: the redb store that keeps state across restarts;
//! * [`runtime`]: the engine driven by tokio as a USP Controller on a link
//!   (subscriptions on Agents, requests, persistence, reload, explain).
//!
//! ## Driving the engine (what a runtime does)
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use usp_proto::usp::{Notify, response::RespType, SetResp};
//! use usp_rules::{Engine, EngineConfig, Source, engine::{Input, Output, Outcome}};
//!
//! let set = usp_rules::load(&[Source::new("lights.toml", r#"
//!     [rule.light-follows-presence]
//!     when = { value_change = "Device.Node.1.IoTCapability.2.BinarySensor.Value", agents = "proto::room-{room}" }
//!     if = "value == true"
//!     [[rule.light-follows-presence.then]]
//!     set = "Device.Node.2.IoTCapability.1.BinaryControl.Value"
//!     value = true
//! "#)])?;
//! let now = SystemTime::now();
//! let mut engine = Engine::new(EngineConfig::default(), set, now);
//! // engine.restore(store.load()?);   // state from the last run, if any
//!
//! // An Agent connects: the engine says which subscriptions it needs and
//! // primes its cache with a Get.
//! for out in engine.handle(Input::AgentOnline { agent: "proto::room-101".into() }, now) {
//!     match out {
//!         Output::Subscribe(s) => { /* put s.subscriptions[i].to_endpoint() in place on s.agent */ }
//!         Output::Request(r) => { /* send r.body to r.agent; remember r.id */ }
//!         _ => {}
//!     }
//! }
//!
//! // A notification arrives: the rule fires.
//! let notify = Notify::value_change("", false, "Device.Node.1.IoTCapability.2.BinarySensor.Value", "true");
//! let out = engine.handle(Input::Notify { agent: "proto::room-101".into(), notify, received_at: now }, now);
//! let Some(Output::Request(set_light)) = out.iter().find(|o| matches!(o, Output::Request(r) if r.rule.is_some())) else { panic!() };
//! assert_eq!(&*set_light.agent, "proto::room-101");
//!
//! // Its response comes back by handle.
//! engine.handle(Input::Response { id: set_light.id, outcome: Outcome::Response(RespType::SetResp(SetResp::default())) }, now);
//!
//! // Timers: call again with Tick at the deadline.
//! if let Some(deadline) = engine.next_deadline() {
//!     engine.handle(Input::Tick, deadline);
//! }
//! // Persist what changed (into usp_rules::Store), explain a rule.
//! let _batch = engine.take_changes();
//! let text = engine.explain("light-follows-presence", now).unwrap().render(&usp_rules::TimeZone::UTC);
//! assert!(text.contains("FIRED"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Reloading: load the new files first; if they are refused, log the errors
//! and keep the engine as it is; if not, [`Engine::reload`] swaps them in and
//! keeps the state of the rules that remain.

pub mod engine;
pub mod expr;
pub mod load;
pub mod metrics;
pub mod model;
pub(crate) mod pattern;
pub mod runtime;
pub mod schedule;
pub mod store;
pub mod time;
pub mod trace;

pub use engine::{Engine, EngineConfig, Fuse, Stats};
pub use jiff::tz::TimeZone;
pub use load::{LoadError, LoadErrorKind, LoadErrors, Source, load, load_dir, load_with_tags};
pub use model::RuleSet;
pub use pattern::PatternError;
pub use store::{Store, StoreError};
