//! The driver task: link → core → waiters, notifications and replies.

use std::{sync::Arc, time::Instant};

use bytes::Bytes;
use tokio::sync::{
    mpsc::{self, error::TrySendError},
    oneshot,
};

use super::Shared;
use crate::{
    controller::{Completion, Event, Incoming, UspError},
    mtp::RecordSender,
};

/// Runs until the link ends or the last client handle is dropped.
pub(super) async fn run<S: RecordSender>(
    shared: Arc<Shared<S>>,
    mut incoming: mpsc::Receiver<Bytes>,
    events: mpsc::Sender<Incoming>,
    mut alive: oneshot::Receiver<()>,
) {
    loop {
        let deadline = {
            let mut st = shared.lock();
            st.timer = st.core.next_deadline();
            st.timer
        };
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            // Resolves (with an error) when the last handle drops its sender.
            _ = &mut alive => break,
            record = incoming.recv() => match record {
                Some(record) => on_record(&shared, record, &events).await,
                None => break,
            },
            () = sleep => on_timeouts(&shared),
            () = shared.wake.notified() => {}
        }
    }
    let completions = {
        let mut st = shared.lock();
        st.closed = true;
        st.core.fail_all(&UspError::Closed)
    };
    complete(&shared, completions);
}

async fn on_record<S: RecordSender>(shared: &Shared<S>, record: Bytes, events: &mpsc::Sender<Incoming>) {
    let handled = shared.lock().core.handle(record, Instant::now());
    let mut reply = handled.reply;
    match handled.event {
        Event::Completed(completion) => complete(shared, [completion]),
        Event::Incoming(event) => match events.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(event)) => {
                if let (Incoming::Notification(n), Some(_)) = (&event, &reply) {
                    // Not answered, so the Agent's retry brings it back;
                    // and not remembered, so that retry is delivered.
                    shared.lock().core.forget_notification(n);
                    reply = None;
                }
                tracing::warn!(?event, "notification queue full, event dropped");
            }
            // Nobody listens: still answer, so Agents stop retrying.
            Err(TrySendError::Closed(_)) => {}
        },
        Event::Ignored(reason) => tracing::debug!(?reason, "record ignored"),
    }
    if let Some(t) = reply {
        if let Err(error) = shared.sender.send(&t.to, t.record).await {
            tracing::warn!(%error, to = %t.to, "reply not sent");
        }
    }
}

fn on_timeouts<S>(shared: &Shared<S>) {
    let now = Instant::now();
    let completions: Vec<Completion> = {
        let mut st = shared.lock();
        std::iter::from_fn(|| st.core.poll(now)).collect()
    };
    complete(shared, completions);
}

fn complete<S>(shared: &Shared<S>, completions: impl IntoIterator<Item = Completion>) {
    for c in completions {
        let waiter = shared.lock().waiters.remove(&c.id);
        if let Some(waiter) = waiter {
            // The caller may have stopped waiting; nothing to do then.
            let _ = waiter.send(c.result);
        }
    }
}
