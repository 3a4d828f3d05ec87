//! # usp-endpoint
//!
//! What any USP endpoint needs, independent of the process it runs in:
//!
//! * [`path`]: the TR-369 Path Name grammar (objects, parameters, commands,
//!   events, instance numbers, unique keys, wildcards, search expressions,
//!   reference following, `{i}` paths) and its resolution;
//! * [`datamodel`]: schema, typed TR-106 values, instance tables and the
//!   `Provider` trait through which real devices back a subtree;
//! * [`agent`]: the sans-I/O Agent core — `agent.handle(record, now)`
//!   returns the records to send — with subscriptions, notifications and
//!   ControllerTrust permissions;
//! * [`controller`]: the sans-I/O Controller core — requests, msg_id
//!   correlation, typed responses, notification streams;
//! * [`mtp`]: MQTT and WebSocket clients and an in-process link.
//!
//! The protocol cores take values and return values; sockets, tasks and
//! clocks live in [`mtp`] and in the processes that use this crate.

pub mod agent;
pub mod controller;
pub mod datamodel;
pub mod mtp;
pub mod path;
