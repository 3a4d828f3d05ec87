//! # usp-broker
//!
//! The embedded USP broker of uspmesh: an MQTT 5 / 3.1.1 server in front of
//! rumqttd's router and a USP WebSocket MTP server, both routing USP Records
//! between local Agents and Controllers; per-connection identity (TLS client
//! certificate, `usp-endpoint-id` property, ClientId) and access control
//! (own topics only, no spoofed `from_id`); the endpoint registry; the cloud
//! bridge and the NATS mesh.
//!
//! None of it exists yet: this crate only holds its charter until issue 4 lands.
