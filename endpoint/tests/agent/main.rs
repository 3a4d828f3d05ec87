//! Tests of the sans-I/O Agent, message by message, through Records
//! in and Records out: the record layer, every request type with its
//! success path and its error codes, subscriptions of all five kinds with
//! retries and expiry on a controllable clock, and ControllerTrust
//! permissions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod add;
mod delete;
mod fixture;
mod get;
mod get_instances;
mod get_supported;
mod operate;
mod permissions;
mod persistence;
mod record;
mod set;
mod subscriptions;
