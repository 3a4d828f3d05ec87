//! The USP Controller: a sans-I/O core and a tokio client over any MTP.
//!
//! * [`Controller`] (in `core`) is the protocol logic: it builds request
//!   Records with unique msg_ids ([`MsgIdGen`]), tracks them with deadlines,
//!   matches Responses and Errors by msg_id, turns Notify requests into
//!   [`Notification`]s and answers them. It takes values and returns values;
//!   `now` is an argument.
//! * [`result`] gives typed views of Add/Set/Delete/Operate responses, so a
//!   per-object failure or an asynchronous command is a value to match on.
//! * [`subscription`] builds and finds `Device.LocalAgent.Subscription.`
//!   rows.
//! * [`ControllerClient`] runs a [`Controller`] over a [`Link`](crate::mtp::Link)
//!   with tokio: `client.get(to, paths).await`, a stream of notifications
//!   (answered automatically), and [`Subscription`] guards that remove
//!   their row when dropped.

mod client;
mod core;
mod dedup;
mod error;
mod event;
mod msg_id;
mod pending;
pub mod result;
pub mod subscription;

pub use client::{ClientConfig, ControllerClient, Notifications, Subscription};
pub use core::{Controller, ControllerConfig};
pub use error::UspError;
pub use event::{
    Completion, Connected, ConnectedMtp, Disconnected, Event, Handled, Ignored, Incoming, Notification,
    RequestId, Transmit,
};
pub use msg_id::MsgIdGen;
pub use subscription::{Existing, NotifType, SubscriptionError, SubscriptionSpec};
