//! The extension point for Records that may be for an endpoint of another
//! node: [`RemoteRoute`], installed with
//! [`BrokerHandle::set_remote_route`](crate::BrokerHandle::set_remote_route),
//! and the way back in,
//! [`BrokerHandle::deliver_remote`](crate::BrokerHandle::deliver_remote).
//!
//! The broker core knows nothing of NATS: every Record an endpoint of this
//! broker publishes is *offered* to the installed route (after the `from_id`
//! check, before local routing) and the route decides whether it leaves —
//! the NATS mesh ([`crate::nats`]) sends it on when its `to_id` is connected
//! to another node. Offering every Record (rather than only those that found
//! no local subscriber) keeps the decision with the one who knows where
//! endpoints are, and admin wildcard subscriptions or the event tap do not
//! hide that a Record's addressee is elsewhere.
//!
//! Records coming back from a remote node are routed to local subscribers
//! only — never offered again — so a Record cannot loop between nodes.
//!
//! Trust: a Record from a remote node passed the `from_id` check on the node
//! its sender is connected to; this node cannot check it again, so such a
//! Record is trusted exactly as far as the mesh transport is (see
//! [`crate::nats`]).

use std::sync::Arc;

use bytes::Bytes;
use rumqttd::protocol::QoS;

use crate::{broker::Shared, registry::ConnectionId, router::Message};

/// The publisher of Records that came from another node. Connection ids of
/// real connections start at 1.
pub(crate) const REMOTE_PUBLISHER: ConnectionId = ConnectionId(0);

/// A Record published by a local endpoint, as offered to a [`RemoteRoute`].
#[derive(Debug, Clone, Copy)]
pub struct Outbound<'a> {
    /// The topic it was published to (without any `/reply-to=` suffix).
    pub topic: &'a str,
    /// The sender's reply topic, when it gave one.
    pub reply_to: Option<&'a str>,
    /// The Record (its `from_id` already checked against the sender).
    pub record: &'a Bytes,
}

/// Where Records for endpoints not connected here may go.
pub trait RemoteRoute: Send + Sync + std::fmt::Debug + 'static {
    /// Called for every Record a local endpoint publishes, on the
    /// publisher's task, before local routing. Must not block or await:
    /// hand the Record to a queue and return. Returns true when the Record
    /// leaves for another node (it is then not counted as unrouted here).
    fn offer(&self, outbound: Outbound<'_>) -> bool;
}

/// Routes a Record from another node to the local subscribers of `topic`
/// (see [`BrokerHandle::deliver_remote`](crate::BrokerHandle::deliver_remote)).
pub(crate) async fn deliver(
    shared: &Shared,
    topic: Bytes,
    reply_to: Option<Arc<str>>,
    record: Bytes,
) -> usize {
    let message = Arc::new(Message::new(topic, reply_to, record, None, QoS::AtLeastOnce, REMOTE_PUBLISHER));
    let router = &shared.router;
    let Some(mut pending) = router.route(&message, &mut Vec::new()) else {
        return 0;
    };
    loop {
        pending.wait().await;
        if let Some(dropped) = router.resume(&mut pending) {
            return dropped;
        }
    }
}
