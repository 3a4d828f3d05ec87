//! # usp-broker
//!
//! The embedded USP broker of uspmesh: an MQTT 5 / 3.1.1 server and a USP
//! WebSocket MTP server routing USP Records between local Agents and
//! Controllers, with per-connection identity and access control, an endpoint
//! registry, and in-process links for the rules engine.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let broker = usp_broker::Broker::start(usp_broker::BrokerConfig::default()).await?;
//! println!("MQTT on {:?}", broker.mqtt_addrs());
//! for endpoint in broker.registry().snapshot() {
//!     println!("{} over {:?} since {:?}", endpoint.endpoint_id, endpoint.mtp, endpoint.connected_since);
//! }
//! broker.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## Tour: which file holds what
//!
//! | file | what it holds |
//! |---|---|
//! | `broker.rs` | [`Broker::start`] (listeners, accept loops: TCP_NODELAY, connection limit, TLS), [`BrokerHandle`] (addresses, [`BrokerHandle::link`], registry, stats, graceful [`BrokerHandle::shutdown`]) |
//! | [`config`] | [`BrokerConfig`] and its parts (serde/TOML), every default |
//! | [`tls`] | rustls acceptors, client-certificate verification, the `urn:bbf:usp:id:` SAN |
//! | `transport.rs` | a client socket, plain or TLS: read some, write all |
//! | [`acl`] | credentials (constant-time), identities allowed, which filters an identity may subscribe to and which topics it may publish to |
//! | [`identity`] | who a connection is: certificate SAN, else `usp-endpoint-id`, else ClientId (or WebSocket `eid`) |
//! | [`topics`] | the topic layout (`usp/agent/<eid>`, `usp/controller/<eid>`) and the 3.1.1 `/reply-to=` suffix |
//! | [`record_check`] | the `from_id` check every Record passes, reading the header in place ([`usp_proto::view::RecordView`]) |
//! | `attachment.rs` | what every connection holds while attached (registry entry, queue, subscriptions); dropping it detaches |
//! | `router/mod.rs` | the routing core: route a message into its subscribers' queues, the overflow policy |
//! | `router/index.rs` | topic filter → subscribers (dashmap), looked up without scanning |
//! | `router/outbox.rs` | the bounded per-connection queue, counted overflow |
//! | `router/message.rs` | a routed Record, shared by its deliveries, with its MQTT encodings cached |
//! | `mqtt/session.rs` | one MQTT connection from CONNECT to close: read, handle, deliver, keep-alive, takeover, goodbye |
//! | `mqtt/connect.rs` | CONNECT → CONNACK decision (sans-I/O): credentials, identity, keep-alive, Response Information, `subscribe-topic` |
//! | `mqtt/publish.rs`, `mqtt/subscribe.rs`, `mqtt/will.rs` | one inbound packet kind each |
//! | `mqtt/deliver.rs`, `mqtt/inflight.rs` | queued deliveries into the write buffer; the QoS 1 window (sans-I/O) |
//! | `mqtt/codec.rs`, `mqtt/frame.rs` | rumqttd's v4/v5 codecs behind a guard that checks each fixed header first (no client input reaches a panicking path of theirs) |
//! | `ws/mod.rs`, `ws/handshake.rs` | the USP WebSocket binding: the upgrade's checks (sans-I/O), then one session per connection |
//! | [`link`] | [`LocalLink`]: an in-process endpoint (the rules engine's Controller) |
//! | [`registry`] | who is connected, over what, since when, Records and bytes each way; connect/disconnect events |
//! | [`stats`] | broker-wide counters, mirrored to `metrics` |
//!
//! Benches: `benches/router.rs` (our routing core beside rumqttd's router,
//! no sockets), `benches/load.rs` (end to end over TCP beside raw rumqttd,
//! mosquitto and a TCP echo), `benches/record_check.rs` (the header check
//! beside a full Record decode). Figures: `BENCHMARKS.md`, section "Broker
//! (issue 4)".
//!
//! ## Why our own routing core and not rumqttd's router
//!
//! The plan was to drive rumqttd 0.20's router through its in-process links.
//! Measured on this machine (`cargo bench -p usp-broker --bench router`: 2
//! shared cores, 10,000 endpoints each subscribed to its own topic, 220-byte
//! Records, no sockets — the router side alone; each router in its own
//! process; heap counted by a wrapping allocator):
//!
//! | | rumqttd 0.20 router (links) | our router (`LocalLink`) |
//! |---|---|---|
//! | RSS per attached endpoint | 33.5 KiB | 1.2 KiB |
//! | heap reserved per attached endpoint | 432 KiB | 1.0 KiB |
//! | attaching 10,000 endpoints | 0.78 s | 0.036 s |
//! | heap still held after 100,000 Records delivered and consumed | 3.5 MB (per-topic logs stay) | 1 KiB |
//! | fan-in, 4 senders → 1 receiver | 342 k Records/s | 694 k Records/s |
//!
//! 33.5 KiB per link is four times the 8 KiB budget for a *whole* idle
//! connection, before any socket or buffer: each link preallocates queues
//! of 200 packets and notifications (`MAX_CHANNEL_CAPACITY`, not
//! configurable). Every topic gets a commit log that stays after its
//! messages are consumed and after its subscriber leaves (local links cannot
//! even be detached), so memory grows with every endpoint ever seen. All
//! routing runs on one router thread, there is no hook for a topic ACL or
//! for CONNACK properties, and its `Publish` hides QoS and packet identifier.
//! So the routing core here is our own (the `router` module: a dashmap index and a
//! bounded queue per connection, nothing stored beyond those queues), on
//! rumqttd's codecs; each publishing connection routes its own messages, in
//! parallel with the others. End-to-end figures against raw rumqttd and
//! mosquitto: `BENCHMARKS.md`, "Broker (issue 4)".

pub mod acl;
mod attachment;
mod broker;
pub mod config;
pub mod identity;
pub mod link;
pub mod mqtt;
pub mod record_check;
pub mod registry;
pub(crate) mod router;
pub mod stats;
pub mod tls;
pub mod topics;
mod transport;
pub mod ws;

pub use broker::{Broker, BrokerHandle, StartError};
pub use config::BrokerConfig;
pub use link::{Delivered, LinkError, LocalLink};
pub use registry::{ConnectionId, EndpointInfo, Mtp, Registry, RegistryEvent};
pub use router::message::USP_CONTENT_TYPE;
pub use stats::{DropReason, StatsSnapshot};
