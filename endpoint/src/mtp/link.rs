//! An in-process link: two [`Link`]s joined by bounded tokio channels.
//!
//! Used by tests and by the appliance, whose embedded rules engine talks to
//! the router without a socket. Records are passed as [`Bytes`], so nothing
//! is copied. The `to` of [`RecordSender::send`] is not interpreted: every
//! Record goes to the other end, which (a router) reads `to_id` itself.

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{Link, LinkError, RecordSender};

/// The sending half of an in-process link.
#[derive(Debug, Clone)]
pub struct MemSender {
    tx: mpsc::Sender<Bytes>,
}

impl RecordSender for MemSender {
    async fn send(&self, _to: &str, record: Bytes) -> Result<(), LinkError> {
        self.tx.send(record).await.map_err(|_| LinkError::Closed)
    }
}

/// Two connected link ends; what one sends, the other receives.
///
/// `capacity` bounds each direction: a sender waits while the other end has
/// that many Records unread, which is the back-pressure a slow reader
/// should exert.
pub fn pair(capacity: usize) -> (Link<MemSender>, Link<MemSender>) {
    let (a_tx, b_rx) = mpsc::channel(capacity.max(1));
    let (b_tx, a_rx) = mpsc::channel(capacity.max(1));
    (
        Link { sender: MemSender { tx: a_tx }, incoming: a_rx },
        Link { sender: MemSender { tx: b_tx }, incoming: b_rx },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_cross_over_and_close_propagates() {
        let (a, mut b) = pair(4);
        a.sender.send("proto::b", Bytes::from_static(b"one")).await.unwrap();
        assert_eq!(b.incoming.recv().await.unwrap(), Bytes::from_static(b"one"));
        b.sender.send("proto::a", Bytes::from_static(b"two")).await.unwrap();
        let Link { sender, mut incoming } = a;
        assert_eq!(incoming.recv().await.unwrap(), Bytes::from_static(b"two"));
        drop(incoming);
        assert_eq!(b.sender.send("proto::a", Bytes::new()).await, Err(LinkError::Closed));
        drop(sender);
        assert_eq!(b.incoming.recv().await, None, "the reader sees the end");
    }

    #[tokio::test]
    async fn a_zero_capacity_is_raised_to_one() {
        let (a, mut b) = pair(0);
        a.sender.send("x", Bytes::from_static(b"r")).await.unwrap();
        assert_eq!(b.incoming.recv().await.unwrap(), Bytes::from_static(b"r"));
    }
}
