//! The routing core: subscriptions and delivery into per-connection queues.
//!
//! There is no router task: the connection that receives a PUBLISH routes it
//! itself — index lookup ([`index`]), then a push into each subscriber's
//! bounded [`Outbox`]. Publishers on different cores route in parallel, and a
//! message is never stored anywhere but in the queues of the connections it
//! is for, so memory is bounded by those queues.
//!
//! Overflow policy, per delivery, QoS 0 and 1 alike: a delivery to a full
//! queue makes the publisher wait for room ([`Pending`]) up to
//! `limits.queue_full_wait_ms`; past that it is dropped and counted as
//! [`DropReason::QueueFull`]. Meanwhile the publisher's connection is not
//! read, and its PUBACK is sent only once every delivery is queued or
//! dropped: a subscriber that is merely slower slows its publishers down
//! (TCP back-pressure) instead of losing their Records, and one that stopped
//! reading costs each publisher at most the wait. (QoS 0 may lose Records by
//! the MQTT contract; this broker loses them only past the wait.)

pub(crate) mod index;
pub(crate) mod message;
pub(crate) mod outbox;

use std::{sync::Arc, time::Duration};

use rumqttd::protocol::QoS;
use tokio::time::Instant;

pub(crate) use index::{Subscriber, SubscriptionIndex};
pub(crate) use message::Message;
pub(crate) use outbox::{Delivery, Outbox, PushError};

use crate::{
    registry::ConnectionId,
    stats::{DropReason, Stats},
};

/// A delivery that found its queue full and waits for room.
#[derive(Debug)]
pub(crate) struct Blocked {
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) qos: QoS,
}

/// A message whose deliveries are not all queued yet.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) message: Arc<Message>,
    pub(crate) blocked: Vec<Blocked>,
    pub(crate) deadline: Instant,
}

impl Pending {
    /// Waits until the first blocked queue has room or the deadline passes.
    pub(crate) async fn wait(&self) {
        let size = self.message.queued_size();
        if let Some(b) = self.blocked.first() {
            let _ = tokio::time::timeout_at(self.deadline, b.outbox.wait_room(size)).await;
        }
    }
}

/// Subscriptions and routing.
#[derive(Debug)]
pub(crate) struct Router {
    index: SubscriptionIndex,
    stats: Arc<Stats>,
    full_wait: Duration,
}

impl Router {
    pub(crate) fn new(stats: Arc<Stats>, full_wait: Duration) -> Router {
        Router { index: SubscriptionIndex::default(), stats, full_wait }
    }

    /// Adds or replaces a subscription.
    pub(crate) fn subscribe(&self, filter: &str, sub: Subscriber) -> bool {
        self.index.insert(filter, sub)
    }

    /// Removes a subscription.
    pub(crate) fn unsubscribe(&self, filter: &str, connection: ConnectionId) -> bool {
        self.index.remove(filter, connection)
    }

    /// Number of subscriptions.
    pub(crate) fn subscription_count(&self) -> usize {
        self.index.len()
    }

    /// Queues `message` for every matching subscriber, once per connection at
    /// the highest matching QoS (capped by the message's). Returns the
    /// deliveries still waiting for room, if any; `scratch` is a reused
    /// buffer.
    pub(crate) fn route(&self, message: &Arc<Message>, scratch: &mut Vec<Subscriber>) -> Option<Pending> {
        self.route_unless_forwarded(message, scratch, false)
    }

    /// [`Router::route`] for a message the remote route also took
    /// (`forwarded`): finding no local subscriber is then not counted as
    /// unrouted.
    pub(crate) fn route_unless_forwarded(
        &self,
        message: &Arc<Message>,
        scratch: &mut Vec<Subscriber>,
        forwarded: bool,
    ) -> Option<Pending> {
        scratch.clear();
        self.index.collect(message.topic(), scratch);
        if scratch.len() > 1 {
            // One delivery per connection, at the highest granted QoS.
            scratch.sort_unstable_by(|a, b| {
                a.connection.cmp(&b.connection).then((b.qos as u8).cmp(&(a.qos as u8)))
            });
            scratch.dedup_by(|later, first| later.connection == first.connection);
        }
        let mut blocked = Vec::new();
        let mut routed = 0usize;
        for sub in scratch.drain(..) {
            if sub.no_local && sub.connection == message.publisher() {
                continue;
            }
            routed += 1;
            let qos = if sub.qos == QoS::AtMostOnce { QoS::AtMostOnce } else { message.qos() };
            match sub.outbox.try_push(Delivery { message: message.clone(), qos }) {
                Ok(()) => {}
                Err(PushError::Closed) => self.stats.drop_record(DropReason::SubscriberGone),
                Err(PushError::Full) if self.full_wait.is_zero() => {
                    self.stats.drop_record(DropReason::QueueFull)
                }
                Err(PushError::Full) => blocked.push(Blocked { outbox: sub.outbox, qos }),
            }
        }
        if routed == 0 && !forwarded {
            self.stats.unrouted();
        }
        if blocked.is_empty() {
            None
        } else {
            Some(Pending { message: message.clone(), blocked, deadline: Instant::now() + self.full_wait })
        }
    }

    /// Retries the blocked deliveries of `pending`. Returns `None` while some
    /// still wait, or, once none is left, how many were dropped because the
    /// deadline passed.
    pub(crate) fn resume(&self, pending: &mut Pending) -> Option<usize> {
        let expired = Instant::now() >= pending.deadline;
        let mut dropped = 0;
        pending.blocked.retain(|b| {
            match b.outbox.try_push(Delivery { message: pending.message.clone(), qos: b.qos }) {
                Ok(()) => false,
                Err(PushError::Closed) => {
                    self.stats.drop_record(DropReason::SubscriberGone);
                    false
                }
                Err(PushError::Full) if expired => {
                    self.stats.drop_record(DropReason::QueueFull);
                    dropped += 1;
                    false
                }
                Err(PushError::Full) => true,
            }
        });
        pending.blocked.is_empty().then_some(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn message(qos: QoS, from: u64) -> Arc<Message> {
        Arc::new(Message::new(
            Bytes::from_static(b"usp/agent/a"),
            None,
            Bytes::from_static(b"r"),
            None,
            qos,
            ConnectionId(from),
        ))
    }

    fn subscriber(id: u64, outbox: &Arc<Outbox>, qos: QoS) -> Subscriber {
        Subscriber { connection: ConnectionId(id), outbox: outbox.clone(), qos, no_local: false }
    }

    #[test]
    fn one_delivery_per_connection_at_the_best_qos() {
        let stats = Arc::new(Stats::new());
        let router = Router::new(stats.clone(), Duration::from_millis(10));
        let q = Arc::new(Outbox::new(10, 1 << 20));
        router.subscribe("usp/agent/a", subscriber(1, &q, QoS::AtMostOnce));
        router.subscribe("usp/agent/a/#", subscriber(1, &q, QoS::AtLeastOnce));
        router.subscribe("#", subscriber(1, &q, QoS::AtMostOnce));
        assert!(router.route(&message(QoS::AtLeastOnce, 9), &mut Vec::new()).is_none());
        let mut out = Vec::new();
        q.pop_into(&mut out, 10);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].qos, QoS::AtLeastOnce);
    }

    #[test]
    fn full_queues_block_until_room_or_the_deadline() {
        let stats = Arc::new(Stats::new());
        let router = Router::new(stats.clone(), Duration::from_secs(60));
        let q = Arc::new(Outbox::new(1, 1 << 20));
        router.subscribe("usp/agent/a", subscriber(1, &q, QoS::AtLeastOnce));
        assert!(router.route(&message(QoS::AtMostOnce, 9), &mut Vec::new()).is_none());
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            let mut pending = router.route(&message(qos, 9), &mut Vec::new()).expect("blocked");
            assert_eq!(pending.blocked.len(), 1);
            assert_eq!(router.resume(&mut pending), None, "still full, before the deadline");
            q.pop().unwrap();
            assert_eq!(router.resume(&mut pending), Some(0), "queued once there is room");
        }
        assert_eq!(stats.snapshot().dropped(DropReason::QueueFull), 0);

        let router = Router::new(stats.clone(), Duration::from_millis(1));
        router.subscribe("usp/agent/a", subscriber(2, &q, QoS::AtLeastOnce));
        let mut pending = router.route(&message(QoS::AtMostOnce, 9), &mut Vec::new()).expect("blocked");
        pending.deadline = Instant::now();
        assert_eq!(router.resume(&mut pending), Some(1), "deadline passed: dropped");
        assert_eq!(stats.snapshot().dropped(DropReason::QueueFull), 1);

        let router = Router::new(stats.clone(), Duration::ZERO);
        router.subscribe("usp/agent/a", subscriber(3, &q, QoS::AtLeastOnce));
        assert!(
            router.route(&message(QoS::AtLeastOnce, 9), &mut Vec::new()).is_none(),
            "no wait: dropped at once"
        );
        assert_eq!(stats.snapshot().dropped(DropReason::QueueFull), 2);
    }

    #[test]
    fn no_local_and_unrouted() {
        let stats = Arc::new(Stats::new());
        let router = Router::new(stats.clone(), Duration::ZERO);
        let q = Arc::new(Outbox::new(4, 1 << 20));
        router.subscribe("usp/agent/a", Subscriber { no_local: true, ..subscriber(7, &q, QoS::AtMostOnce) });
        router.route(&message(QoS::AtMostOnce, 7), &mut Vec::new());
        assert!(q.is_empty());
        assert_eq!(stats.snapshot().unrouted, 1);
        router.route(&message(QoS::AtMostOnce, 8), &mut Vec::new());
        assert_eq!(q.len(), 1);
    }
}
