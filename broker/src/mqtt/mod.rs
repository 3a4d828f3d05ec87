//! The MQTT server: our own listener and connection tasks speaking MQTT 3.1.1
//! and 5 with rumqttd's codecs, in front of our routing core.
//!
//! One task per connection (`session.rs`): it reads and decodes packets,
//! handles each in its own file (`publish.rs`, `subscribe.rs`), routes
//! accepted Records itself, and writes out its queue (`deliver.rs`). The
//! CONNECT decision (`connect.rs`), the outgoing QoS 1 window
//! (`inflight.rs`) and the frame inspection (`frame.rs`) are sans-I/O.

pub(crate) mod codec;
pub(crate) mod connect;
mod deliver;
pub(crate) mod frame;
mod inflight;
mod publish;
mod session;
mod subscribe;
mod will;

pub use codec::Version;
pub use connect::{ENDPOINT_ID_PROPERTY, SUBSCRIBE_TOPIC_PROPERTY};
pub use frame::FrameError;

pub(crate) use connect::PeerCertificate;
pub(crate) use session::serve;
