//! In-process links: in-process code (the rules engine's Controller) acting
//! as a USP endpoint without a socket.
//!
//! A [`LocalLink`] is attached like a WebSocket endpoint: subscribed to its
//! two own topics, registered as [`Mtp::InProcess`](crate::registry::Mtp),
//! held to the same `from_id` rule. Records it sends go straight into the
//! subscribers' queues; Records for it are taken from its own queue — no
//! encoding, no copy, no TCP.
//!
//! ```no_run
//! # async fn demo(broker: &usp_broker::BrokerHandle, record: bytes::Bytes) -> Result<(), usp_broker::LinkError> {
//! let mut link = broker.link("self::site-rules")?;
//! link.send(record).await?;             // routed to the topic of the Record's to_id
//! while let Some(delivered) = link.recv().await {
//!     let _record = delivered.record(); // a Record addressed to self::site-rules
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;

use bytes::Bytes;
use rumqttd::protocol::QoS;

use crate::{
    acl::{ConnectRefusal, SubscribeRefusal, check_publish_topic},
    attachment::Attachment,
    broker::Shared,
    identity::{Claims, IdentitySource},
    record_check::RecordRejection,
    registry::{ConnectionId, Mtp, NewEntry},
    router::Message,
    stats::DropReason,
};

/// Why a link operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The Endpoint ID is not acceptable as an identity.
    #[error("cannot attach: {0}")]
    Identity(#[from] ConnectRefusal),
    /// The Record was refused (not a Record, too large, foreign `from_id`).
    #[error("record refused: {0}")]
    Rejected(#[from] RecordRejection),
    /// The Record has an empty `to_id`, so there is nowhere to send it.
    #[error("record has no to_id")]
    NoDestination,
    /// The topic name is not valid for publishing.
    #[error("invalid topic")]
    InvalidTopic,
    /// Some subscriber queues stayed full until the QoS 1 deadline; the
    /// Record was dropped for them (and delivered to the others).
    #[error("{0} subscriber queue(s) full: dropped there")]
    QueueFull(usize),
    /// The broker is shutting down.
    #[error("broker is shutting down")]
    Closed,
}

/// A Record delivered to a link.
#[derive(Debug, Clone)]
pub struct Delivered {
    message: Arc<Message>,
}

impl Delivered {
    /// The topic it was published to (without any `/reply-to=` suffix).
    pub fn topic(&self) -> &str {
        self.message.topic()
    }

    /// The sender's reply topic, when it gave one.
    pub fn reply_to(&self) -> Option<&str> {
        self.message.reply_to().map(|r| &**r)
    }

    /// The USP Record.
    pub fn record(&self) -> &Bytes {
        self.message.payload()
    }
}

/// An in-process USP endpoint attached to the broker.
#[derive(Debug)]
pub struct LocalLink {
    att: Attachment,
    reply: Arc<str>,
}

impl LocalLink {
    pub(crate) fn attach(shared: &Arc<Shared>, endpoint_id: &str) -> Result<LocalLink, LinkError> {
        if shared.shutdown.is_cancelled() {
            return Err(LinkError::Closed);
        }
        let claims = Claims { declared: Some((endpoint_id, IdentitySource::InProcess)), ..Claims::default() };
        let identity = shared.policy.identify(&claims)?;
        let reply_topic = shared.policy.reply_topic(endpoint_id);
        let id = shared.next_connection_id();
        let mut att = Attachment::new(
            shared,
            id,
            NewEntry { identity, mtp: Mtp::InProcess, tls: false, client_id: None, peer: None, reply_topic },
        );
        att.subscribe_own_topics();
        Ok(LocalLink { reply: Arc::from(att.reply_topic()), att })
    }

    /// The link's Endpoint ID.
    pub fn endpoint_id(&self) -> &str {
        self.att.identity().endpoint_id()
    }

    /// The topic Records for this link are published to.
    pub fn reply_topic(&self) -> &str {
        &self.reply
    }

    /// The link's connection in the registry.
    pub fn connection(&self) -> ConnectionId {
        self.att.id()
    }

    /// Sends a Record to the endpoint named by its `to_id` (published to that
    /// endpoint's reply topic, at QoS 1, with this link's reply topic).
    pub async fn send(&mut self, record: Bytes) -> Result<(), LinkError> {
        let header = self.att.admit(&record)?;
        if header.to_id.is_empty() {
            self.att.shared().stats.drop_record(DropReason::NoDestination);
            return Err(LinkError::NoDestination);
        }
        let topic = self.att.shared().policy.reply_topic(header.to_id);
        self.route(Bytes::from(topic), record).await
    }

    /// Publishes a Record to an explicit topic (at QoS 1, with this link's
    /// reply topic).
    pub async fn publish(&mut self, topic: &str, record: Bytes) -> Result<(), LinkError> {
        if check_publish_topic(topic).is_err() {
            self.att.shared().stats.drop_record(DropReason::InvalidTopic);
            return Err(LinkError::InvalidTopic);
        }
        self.att.admit(&record)?;
        self.route(Bytes::copy_from_slice(topic.as_bytes()), record).await
    }

    async fn route(&mut self, topic: Bytes, record: Bytes) -> Result<(), LinkError> {
        let message =
            Message::new(topic, Some(self.reply.clone()), record, None, QoS::AtLeastOnce, self.att.id());
        let Some(mut pending) = self.att.publish(message) else {
            return Ok(());
        };
        loop {
            pending.wait().await;
            match self.att.shared().router.resume(&mut pending) {
                None => continue,
                Some(0) => return Ok(()),
                Some(dropped) => return Err(LinkError::QueueFull(dropped)),
            }
        }
    }

    /// Subscribes the link to a further topic filter, under the same access
    /// rules as any endpoint (an admin link may subscribe anywhere).
    pub fn subscribe(&mut self, filter: &str) -> Result<(), SubscribeRefusal> {
        self.att.subscribe(filter, QoS::AtLeastOnce, false).map(drop)
    }

    /// The next Record for this link, waiting for one; `None` once the broker
    /// shuts down.
    pub async fn recv(&mut self) -> Option<Delivered> {
        loop {
            if let Some(delivered) = self.try_recv() {
                return Some(delivered);
            }
            tokio::select! {
                _ = self.att.shared().shutdown.cancelled() => return None,
                _ = self.att.outbox().wait_ready() => {}
            }
        }
    }

    /// The next Record for this link, if one is queued.
    pub fn try_recv(&mut self) -> Option<Delivered> {
        let delivery = self.att.outbox().pop()?;
        self.att.delivered(delivery.message.payload().len());
        self.att.flush_counts();
        Some(Delivered { message: delivery.message })
    }
}
