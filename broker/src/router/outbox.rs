//! The bounded outgoing queue of one connection.
//!
//! Publishers push deliveries, the connection's task pops them and writes
//! them out. The queue is bounded by a number of deliveries and a number of
//! bytes ([`crate::config::LimitsConfig`]); when it is full the *caller*
//! applies the overflow policy (see [`super::Router::route`]): a QoS 0
//! delivery is dropped and counted, a QoS 1 delivery makes the publisher wait
//! for room, up to a deadline, then is dropped and counted.
//!
//! The queue holds no allocation while it is empty, so an idle connection
//! costs only this struct. The lock is a plain mutex held for a push or a pop,
//! never across an `.await`; waiting uses [`Notify`] with the
//! register-then-check pattern, so no wake-up is lost.

use std::{
    collections::VecDeque,
    pin::pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use rumqttd::protocol::QoS;
use tokio::sync::Notify;

use super::Message;

/// One message queued for one connection, at the QoS it is delivered with.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) message: Arc<Message>,
    pub(crate) qos: QoS,
}

/// Why a delivery was not queued.
#[derive(Debug)]
pub(crate) enum PushError {
    /// The queue is at its bound.
    Full,
    /// The connection is gone.
    Closed,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Delivery>,
    bytes: usize,
    closed: bool,
    /// A producer waits for room: the next pop must wake it.
    room_wanted: bool,
}

/// A connection's outgoing queue.
#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// Signalled when a delivery is queued (one consumer).
    ready: Notify,
    /// Signalled when room is made or the queue closes (many producers).
    room: Notify,
    max_messages: usize,
    max_bytes: usize,
}

impl Outbox {
    pub(crate) fn new(max_messages: usize, max_bytes: usize) -> Outbox {
        Outbox {
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            room: Notify::new(),
            max_messages: max_messages.max(1),
            max_bytes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the queue inconsistent: every
        // mutation is a single push or pop.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a delivery if there is room. A queue always accepts one
    /// delivery when it is empty, whatever its size.
    ///
    /// The consumer is woken only when the queue goes from empty to not
    /// empty: it sleeps only on an empty queue, and checks for emptiness
    /// after registering for the wake-up, so no wake-up is lost and a burst
    /// into one queue costs one wake-up, not one per delivery.
    pub(crate) fn try_push(&self, delivery: Delivery) -> Result<(), PushError> {
        let size = delivery.message.queued_size();
        let was_empty = {
            let mut state = self.lock();
            if state.closed {
                return Err(PushError::Closed);
            }
            let full = state.queue.len() >= self.max_messages || state.bytes + size > self.max_bytes;
            if full && !state.queue.is_empty() {
                return Err(PushError::Full);
            }
            state.queue.push_back(delivery);
            state.bytes += size;
            state.queue.len() == 1
        };
        if was_empty {
            self.ready.notify_waiters();
        }
        Ok(())
    }

    /// Moves up to `max` deliveries into `out`; returns how many.
    pub(crate) fn pop_into(&self, out: &mut Vec<Delivery>, max: usize) -> usize {
        let (n, wake) = {
            let mut guard = self.lock();
            let State { queue, bytes, room_wanted, .. } = &mut *guard;
            let n = max.min(queue.len());
            for delivery in queue.drain(..n) {
                *bytes -= delivery.message.queued_size();
                out.push(delivery);
            }
            if queue.is_empty() && queue.capacity() > 8 {
                // Give a burst's memory back once it is over: idle
                // connections hold no queue storage.
                *queue = VecDeque::new();
            }
            let wake = *room_wanted && self.below_low_water(queue.len(), *bytes);
            if wake {
                *room_wanted = false;
            }
            (n, wake)
        };
        if wake {
            self.room.notify_waiters();
        }
        n
    }

    /// Takes the oldest delivery, if any.
    pub(crate) fn pop(&self) -> Option<Delivery> {
        let (delivery, wake) = {
            let mut guard = self.lock();
            let State { queue, bytes, room_wanted, .. } = &mut *guard;
            let delivery = queue.pop_front()?;
            *bytes -= delivery.message.queued_size();
            if queue.is_empty() && queue.capacity() > 8 {
                *queue = VecDeque::new();
            }
            let wake = *room_wanted && self.below_low_water(queue.len(), *bytes);
            if wake {
                *room_wanted = false;
            }
            (delivery, wake)
        };
        if wake {
            self.room.notify_waiters();
        }
        Some(delivery)
    }

    /// Waiting producers are woken only once the queue is down to half its
    /// bounds, so that each wake-up lets them queue a batch instead of one
    /// delivery each (a full queue would otherwise wake every producer for
    /// every delivery taken out).
    fn below_low_water(&self, len: usize, bytes: usize) -> bool {
        len <= self.max_messages / 2 && bytes <= self.max_bytes / 2
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lock().queue.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// True when a delivery of `size` bytes would be accepted now (or the
    /// queue is closed, so waiting is pointless). When not, the next pop
    /// will wake the room waiters.
    fn has_room_for(&self, size: usize) -> bool {
        let mut state = self.lock();
        let room = state.closed
            || state.queue.is_empty()
            || (state.queue.len() < self.max_messages && state.bytes + size <= self.max_bytes);
        if !room {
            state.room_wanted = true;
        }
        room
    }

    /// Waits until the queue holds at least one delivery.
    pub(crate) async fn wait_ready(&self) {
        loop {
            let mut notified = pin!(self.ready.notified());
            notified.as_mut().enable();
            if !self.is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Waits until a delivery of `size` bytes would fit (or the queue closes).
    pub(crate) async fn wait_room(&self, size: usize) {
        loop {
            let mut notified = pin!(self.room.notified());
            notified.as_mut().enable();
            if self.has_room_for(size) {
                return;
            }
            notified.await;
        }
    }

    /// Closes the queue: later pushes fail, waiting publishers are released,
    /// and whatever was queued is returned (to be counted as lost).
    pub(crate) fn close(&self) -> usize {
        let lost = {
            let mut state = self.lock();
            state.closed = true;
            state.bytes = 0;
            std::mem::take(&mut state.queue).len()
        };
        self.room.notify_waiters();
        self.ready.notify_waiters();
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ConnectionId;
    use bytes::Bytes;
    use std::time::Duration;

    fn delivery(size: usize) -> Delivery {
        let m = Message::new(
            Bytes::from_static(b"t"),
            None,
            Bytes::from(vec![0; size]),
            None,
            QoS::AtMostOnce,
            ConnectionId(0),
        );
        Delivery { message: Arc::new(m), qos: QoS::AtMostOnce }
    }

    #[test]
    fn bounded_by_count_and_bytes() {
        let q = Outbox::new(2, 1000);
        q.try_push(delivery(10)).unwrap();
        q.try_push(delivery(10)).unwrap();
        assert!(matches!(q.try_push(delivery(10)), Err(PushError::Full)));
        let mut out = Vec::new();
        assert_eq!(q.pop_into(&mut out, 1), 1);
        q.try_push(delivery(10)).unwrap();

        let q = Outbox::new(100, 100);
        q.try_push(delivery(2000)).expect("an empty queue takes one oversized delivery");
        assert!(matches!(q.try_push(delivery(1)), Err(PushError::Full)));
        assert_eq!(q.pop_into(&mut out, 10), 1);
        q.try_push(delivery(50)).unwrap();
        assert!(matches!(q.try_push(delivery(50)), Err(PushError::Full)), "50 + 1 + 50 + 1 > 100");
        assert_eq!(q.close(), 1);
        assert!(matches!(q.try_push(delivery(1)), Err(PushError::Closed)));
    }

    #[tokio::test]
    async fn waiters_are_woken_by_room_and_data() {
        let q = Arc::new(Outbox::new(1, 1000));
        q.try_push(delivery(1)).unwrap();
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.wait_room(1).await }
        });
        let consumer = tokio::spawn({
            let q = q.clone();
            async move {
                let mut out = Vec::new();
                q.pop_into(&mut out, 10);
                q.wait_ready().await;
                q.pop_into(&mut out, 10);
                out.len()
            }
        });
        tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        q.try_push(delivery(1)).unwrap();
        assert_eq!(tokio::time::timeout(Duration::from_secs(5), consumer).await.unwrap().unwrap(), 2);
    }
}
