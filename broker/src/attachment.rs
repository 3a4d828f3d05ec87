//! What every connection — MQTT, WebSocket, in-process — holds while it is
//! attached to the fabric: its registry entry, its outgoing queue, its
//! subscriptions. Dropping the [`Attachment`] detaches it completely, on
//! every exit path (error, takeover, shutdown, panic unwinding).

use std::sync::Arc;

use bytes::Bytes;
use rumqttd::protocol::QoS;

use crate::{
    acl::SubscribeRefusal,
    broker::Shared,
    identity::Identity,
    record_check::{RecordHeader, RecordRejection, check_record},
    registry::{ConnectionId, EndpointEntry, NewEntry},
    router::{Message, Outbox, Pending, Subscriber},
    stats::DropReason,
};

#[derive(Debug)]
pub(crate) struct Attachment {
    shared: Arc<Shared>,
    id: ConnectionId,
    outbox: Arc<Outbox>,
    entry: Arc<EndpointEntry>,
    filters: Vec<Box<str>>,
    scratch: Vec<Subscriber>,
    /// Deliveries counted here first and added to the shared counters by
    /// [`Attachment::flush_counts`] before they are written: one atomic add
    /// per batch, not one per Record.
    counts: Counts,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    records_out: u64,
    bytes_out: u64,
}

impl Attachment {
    /// Registers a connection that passed its handshake.
    pub(crate) fn new(shared: &Arc<Shared>, id: ConnectionId, new: NewEntry) -> Attachment {
        let limits = &shared.limits;
        let outbox = Arc::new(Outbox::new(limits.queue_max_messages, limits.queue_max_bytes));
        let entry = shared.registry.insert(id, new);
        shared.stats.connection_opened();
        Attachment {
            shared: shared.clone(),
            id,
            outbox,
            entry,
            filters: Vec::new(),
            scratch: Vec::new(),
            counts: Counts::default(),
        }
    }

    pub(crate) fn id(&self) -> ConnectionId {
        self.id
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn identity(&self) -> &Identity {
        &self.entry.identity
    }

    pub(crate) fn reply_topic(&self) -> &str {
        &self.entry.reply_topic
    }

    pub(crate) fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Subscribes after the access check; returns the granted QoS (at most 1).
    ///
    /// A granted filter that matches the connection's reply topic makes it
    /// reachable ([`crate::RegistryEvent::Reachable`]), once the router holds
    /// the subscription: a Record sent in reaction to that event is queued.
    pub(crate) fn subscribe(
        &mut self,
        filter: &str,
        qos: QoS,
        no_local: bool,
    ) -> Result<QoS, SubscribeRefusal> {
        if let Err(refusal) = self.shared.policy.check_subscribe(self.identity(), filter) {
            self.shared.stats.subscription_refused();
            return Err(refusal);
        }
        let granted = if qos == QoS::AtMostOnce { QoS::AtMostOnce } else { QoS::AtLeastOnce };
        let sub = Subscriber { connection: self.id, outbox: self.outbox.clone(), qos: granted, no_local };
        if self.shared.router.subscribe(filter, sub) {
            self.filters.push(Box::from(filter));
        }
        if !self.entry.is_reachable() && rumqttd::protocol::matches(self.reply_topic(), filter) {
            self.shared.registry.mark_reachable(&self.entry);
        }
        Ok(granted)
    }

    /// Subscribes to both own topics at QoS 1 (WebSocket and in-process
    /// endpoints, which have no SUBSCRIBE of their own). One of them is the
    /// reply topic, so this makes the connection reachable.
    pub(crate) fn subscribe_own_topics(&mut self) {
        let topics = self.shared.policy.layout().own_topics(self.identity().endpoint_id());
        for topic in topics {
            // Own topics always pass the access check.
            let _ = self.subscribe(&topic, QoS::AtLeastOnce, false);
        }
    }

    /// Unsubscribes; true if the filter was held. Dropping the last filter
    /// that matches the reply topic makes the connection unreachable
    /// ([`crate::RegistryEvent::Unreachable`]).
    pub(crate) fn unsubscribe(&mut self, filter: &str) -> bool {
        let removed = self.shared.router.unsubscribe(filter, self.id);
        if removed {
            self.filters.retain(|f| &**f != filter);
            let reply_topic = self.reply_topic();
            if self.entry.is_reachable()
                && !self.filters.iter().any(|f| rumqttd::protocol::matches(reply_topic, f))
            {
                self.shared.registry.mark_unreachable(&self.entry);
            }
        }
        removed
    }

    /// Checks that a payload is a Record from this connection's identity;
    /// rejections are counted.
    pub(crate) fn admit<'a>(&self, payload: &'a Bytes) -> Result<RecordHeader<'a>, RecordRejection> {
        check_record(&self.shared.record_limits, payload, self.identity().endpoint_id())
            .inspect_err(|r| self.shared.stats.drop_record(r.drop_reason()))
    }

    /// Counts an admitted Record in and routes it. Counted at once, before
    /// any subscriber can see it.
    pub(crate) fn publish(&mut self, message: Message) -> Option<Pending> {
        let bytes = message.payload().len() as u64;
        self.shared.stats.records_in(1, bytes);
        self.entry.count_in(1, bytes);
        let forwarded = self.shared.remote.get().is_some_and(|remote| {
            remote.offer(crate::remote::Outbound {
                topic: message.topic(),
                reply_to: message.reply_to().map(|r| &**r),
                record: message.payload(),
            })
        });
        self.shared.router.route_unless_forwarded(&Arc::new(message), &mut self.scratch, forwarded)
    }

    /// Counts a delivery written to the peer.
    pub(crate) fn delivered(&mut self, bytes: usize) {
        self.counts.records_out += 1;
        self.counts.bytes_out += bytes as u64;
    }

    /// Adds the deliveries counted since the last call to the broker's and
    /// the registry's counters. Connections call it after filling their
    /// write buffer and before writing it.
    pub(crate) fn flush_counts(&mut self) {
        let c = std::mem::take(&mut self.counts);
        if c.records_out > 0 {
            self.shared.stats.records_out(c.records_out, c.bytes_out);
            self.entry.count_out(c.records_out, c.bytes_out);
        }
    }

    /// Counts deliveries that will never reach the peer.
    pub(crate) fn lost(&self, reason: DropReason, n: usize) {
        if n > 0 {
            self.shared.stats.drop_records(reason, n as u64);
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.flush_counts();
        for filter in self.filters.drain(..) {
            self.shared.router.unsubscribe(&filter, self.id);
        }
        let lost = self.outbox.close();
        self.lost(DropReason::SubscriberGone, lost);
        self.shared.registry.remove(self.id);
        self.shared.stats.connection_closed();
    }
}
