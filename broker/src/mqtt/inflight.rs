//! QoS 1 deliveries sent to a client and not yet acknowledged (sans-I/O).
//!
//! The window is the smaller of `limits.max_inflight` and the client's MQTT 5
//! Receive Maximum. Packet identifiers are handed out in increasing order,
//! skipping 0 and any still in flight. Sessions are not kept, so nothing here
//! is ever retransmitted: what is in flight when the connection ends is lost
//! and counted.

use std::{collections::VecDeque, sync::Arc};

use crate::router::Message;

#[derive(Debug)]
pub(crate) struct Inflight {
    window: usize,
    last: u16,
    slots: VecDeque<(u16, Arc<Message>)>,
}

impl Inflight {
    pub(crate) fn new(window: u16) -> Inflight {
        Inflight { window: usize::from(window.max(1)), last: 0, slots: VecDeque::new() }
    }

    /// How many more QoS 1 deliveries may be sent now.
    pub(crate) fn room(&self) -> usize {
        self.window.saturating_sub(self.slots.len())
    }

    /// Records a delivery and returns its packet identifier, or `None` when
    /// the window is full.
    pub(crate) fn push(&mut self, message: Arc<Message>) -> Option<u16> {
        if self.room() == 0 {
            return None;
        }
        // At most `window` (< 65535) identifiers are in use, so a free one
        // is found within `window + 1` steps.
        loop {
            self.last = self.last.wrapping_add(1);
            if self.last != 0 && !self.slots.iter().any(|(id, _)| *id == self.last) {
                break;
            }
        }
        self.slots.push_back((self.last, message));
        Some(self.last)
    }

    /// Handles a PUBACK; false if the identifier was not in flight.
    pub(crate) fn ack(&mut self, pkid: u16) -> bool {
        // Clients acknowledge in order almost always: look at the front first.
        match self.slots.iter().position(|(id, _)| *id == pkid) {
            Some(0) => {
                self.slots.pop_front();
                true
            }
            Some(at) => self.slots.remove(at).is_some(),
            None => false,
        }
    }

    /// Gives up everything in flight; returns how many deliveries were lost.
    pub(crate) fn clear(&mut self) -> usize {
        std::mem::take(&mut self.slots).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ConnectionId;
    use bytes::Bytes;
    use rumqttd::protocol::QoS;

    fn m() -> Arc<Message> {
        Arc::new(Message::new(
            Bytes::from_static(b"t"),
            None,
            Bytes::new(),
            None,
            QoS::AtLeastOnce,
            ConnectionId(0),
        ))
    }

    #[test]
    fn window_and_identifiers() {
        let mut w = Inflight::new(2);
        assert_eq!(w.push(m()), Some(1));
        assert_eq!(w.push(m()), Some(2));
        assert_eq!(w.push(m()), None);
        assert!(w.ack(2));
        assert!(!w.ack(2));
        assert_eq!(w.push(m()), Some(3));
        assert_eq!(w.clear(), 2);
    }

    #[test]
    fn identifiers_wrap_skipping_zero_and_those_in_flight() {
        let mut w = Inflight::new(3);
        w.last = u16::MAX - 1;
        assert_eq!(w.push(m()), Some(u16::MAX));
        assert_eq!(w.push(m()), Some(1));
        assert!(w.ack(u16::MAX));
        w.last = 0;
        assert_eq!(w.push(m()), Some(2), "1 is still in flight");
    }
}
