//! Moving queued deliveries into the write buffer.
//!
//! Each delivery is the message's encoded QoS 0 frame for this connection's
//! MQTT version (made once per message, shared by all subscribers), copied
//! into the write buffer with the QoS and packet identifier of this delivery
//! ([`super::frame::write_publish`]). QoS 1 deliveries stop when the send
//! window is full; they wait in the queue until PUBACKs open it again.

use rumqttd::protocol::QoS;

use super::{frame, session::Session};
use crate::stats::DropReason;

/// Deliveries taken from the queue at a time.
const BATCH: usize = 256;
/// Stop filling the write buffer beyond this; it is written out first.
const MAX_BUFFERED: usize = 256 * 1024;

impl Session {
    pub(super) fn deliver(&mut self) {
        let mut batch = std::mem::take(&mut self.batch);
        loop {
            let room = self.inflight.room();
            if room == 0 || self.wbuf.len() >= MAX_BUFFERED {
                break;
            }
            if self.att.outbox().pop_into(&mut batch, room.min(BATCH)) == 0 {
                break;
            }
            for delivery in batch.drain(..) {
                let Some(frame) = delivery.message.encoded(self.version()) else {
                    self.att.lost(DropReason::TooLargeForSubscriber, 1);
                    continue;
                };
                // +2 for the packet identifier of a QoS 1 delivery.
                if frame.len() + 2 > self.client_max_packet {
                    self.att.lost(DropReason::TooLargeForSubscriber, 1);
                    continue;
                }
                let pkid = match delivery.qos {
                    QoS::AtMostOnce => 0,
                    _ => match self.inflight.push() {
                        Some(pkid) => pkid,
                        // Not reached: at most `room` deliveries were taken.
                        None => {
                            self.att.lost(DropReason::QueueFull, 1);
                            continue;
                        }
                    },
                };
                if frame::write_publish(frame, delivery.qos, pkid, false, &mut self.wbuf).is_err() {
                    self.att.lost(DropReason::TooLargeForSubscriber, 1);
                    continue;
                }
                self.att.delivered(delivery.message.payload().len());
            }
        }
        self.batch = batch;
    }
}
