//! The broker's in-process link as an MTP [`Link`].
//!
//! [`LocalLink`] hands Records straight to the router's queues; its `send`
//! and `recv` both need `&mut`, while a [`Link`] is a cloneable
//! [`RecordSender`] plus a receiver of incoming Records. [`attach`] bridges
//! the two with one task that owns the `LocalLink`:
//!
//! ```text
//!  LocalSender::send ──mpsc──▶ ┌ task ┐ ── LocalLink::send ──▶ router ──▶ Agent
//!  Link::incoming   ◀──mpsc── └──────┘ ◀─ LocalLink::recv ── router ◀── Agent
//! ```
//!
//! The hot path stays short: a Record is a [`Bytes`] handle all the way
//! (the router's message, the channel, the Controller core's decoder share
//! one buffer — no copy), and the task forwards whatever is queued in a
//! burst before it waits again.
//!
//! Why a task at all: without it (the Controller client reading the
//! router's queue itself, the engine routing its own sends) latency at 10k
//! notifications/s and throughput measured the same, and at 50k/s the tail
//! was worse — the task lets routing run on the other core while the engine
//! works (BENCHMARKS.md, rules engine, "Measured and rejected").
//!
//! Choices:
//! * `send`'s `to` is not used: [`LocalLink::send`] routes each Record by its
//!   own `to_id`, as the broker does for every endpoint (and checks its
//!   `from_id`, so an in-process endpoint cannot spoof either).
//! * The task never waits on the incoming side while outgoing Records are
//!   queued: when the reader is slow, the Record is held and outgoing
//!   traffic keeps flowing. A Controller client answers Notifies on the
//!   same link (NotifyResp); if the task waited for the reader while the
//!   reader waited to send that answer, both would stop.
//! * A Record the broker refuses (queue full past its QoS 1 deadline, no
//!   `to_id`, foreign `from_id`) is logged and dropped, like a PUBLISH the
//!   broker drops for an MQTT client; the sender is not told (an MTP
//!   accepts Records, it does not promise delivery). The task ends when
//!   every sender is gone, the reader is gone, or the broker shuts down.

use bytes::Bytes;
use tokio::sync::mpsc::{self, error::TrySendError};
use usp_broker::{LinkError as BrokerLinkError, LocalLink};
use usp_endpoint::mtp::{Link, LinkError, RecordSender};

/// The sending half of an attached [`LocalLink`].
#[derive(Debug, Clone)]
pub struct LocalSender {
    tx: mpsc::Sender<Bytes>,
}

impl RecordSender for LocalSender {
    async fn send(&self, _to: &str, record: Bytes) -> Result<(), LinkError> {
        self.tx.send(record).await.map_err(|_| LinkError::Closed)
    }
}

/// Runs `link` as an MTP [`Link`] (needs a tokio runtime). `capacity`
/// bounds each direction's queue.
pub fn attach(link: LocalLink, capacity: usize) -> Link<LocalSender> {
    let (out_tx, out_rx) = mpsc::channel(capacity.max(1));
    let (in_tx, in_rx) = mpsc::channel(capacity.max(1));
    tokio::spawn(run(link, out_rx, in_tx));
    Link { sender: LocalSender { tx: out_tx }, incoming: in_rx }
}

async fn run(mut link: LocalLink, mut outgoing: mpsc::Receiver<Bytes>, incoming: mpsc::Sender<Bytes>) {
    // A Record for the reader that did not fit in its queue.
    let mut held: Option<Bytes> = None;
    loop {
        tokio::select! {
            // Outgoing first: it is what the reader may be waiting on.
            biased;
            record = outgoing.recv() => {
                let Some(record) = record else { break };
                if !send(&mut link, record).await {
                    break;
                }
                // The rest of a burst, without another turn of the select.
                while let Ok(record) = outgoing.try_recv() {
                    if !send(&mut link, record).await {
                        return;
                    }
                }
            }
            permit = incoming.reserve(), if held.is_some() => {
                let Ok(permit) = permit else { break };
                if let Some(record) = held.take() {
                    permit.send(record);
                }
            }
            delivered = link.recv(), if held.is_none() => {
                let Some(delivered) = delivered else { break };
                match forward(&incoming, delivered.record().clone(), &mut link) {
                    Ok(h) => held = h,
                    Err(()) => break,
                }
            }
        }
    }
}

/// Hands `record` and whatever else is queued to the reader; returns the
/// Record that did not fit, or `Err` when the reader is gone.
fn forward(incoming: &mpsc::Sender<Bytes>, record: Bytes, link: &mut LocalLink) -> Result<Option<Bytes>, ()> {
    let mut next = Some(record);
    while let Some(record) = next.take() {
        match incoming.try_send(record) {
            Ok(()) => next = link.try_recv().map(|d| d.record().clone()),
            Err(TrySendError::Full(record)) => return Ok(Some(record)),
            Err(TrySendError::Closed(_)) => return Err(()),
        }
    }
    Ok(None)
}

/// Sends one Record; false when the broker is shutting down.
async fn send(link: &mut LocalLink, record: Bytes) -> bool {
    match link.send(record).await {
        Ok(()) => true,
        Err(BrokerLinkError::Closed) => false,
        Err(error) => {
            tracing::warn!(endpoint = %link.endpoint_id(), %error, "in-process record dropped");
            true
        }
    }
}
