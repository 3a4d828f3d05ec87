//! The stream of what Agents send unasked.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use tokio::sync::mpsc;

use crate::controller::{Incoming, Notification};

/// Notifications and connect events received by a
/// [`ControllerClient`](super::ControllerClient), in arrival order.
///
/// Each Notify is here once, already answered (NotifyResp) when the Agent
/// asked for it. The stream ends when the client's driver stops.
#[derive(Debug)]
pub struct Notifications {
    rx: mpsc::Receiver<Incoming>,
}

impl Notifications {
    pub(super) fn new(rx: mpsc::Receiver<Incoming>) -> Notifications {
        Notifications { rx }
    }

    /// The next event.
    pub async fn recv(&mut self) -> Option<Incoming> {
        self.rx.recv().await
    }

    /// The next notification, skipping connect and disconnect events.
    pub async fn next_notification(&mut self) -> Option<Notification> {
        loop {
            if let Incoming::Notification(n) = self.rx.recv().await? {
                return Some(n);
            }
        }
    }
}

impl futures_util::Stream for Notifications {
    type Item = Incoming;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Incoming>> {
        self.rx.poll_recv(cx)
    }
}
