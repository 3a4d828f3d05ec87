//! The queue shared by the bridge's tasks, and the appender task that
//! writes into it.
//!
//! The [`DiskQueue`] sits under a std mutex that is only ever held for
//! page-cache reads and writes, never across an `.await` and never during
//! an fsync: the appender writes a batch inside `spawn_blocking`, then
//! syncs cloned file handles after releasing the lock (group commit).

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::{
    queue::{DiskQueue, Pushed, SyncHandle, format::Entry},
    status::{Dropped, Status},
};

/// Most entries written per batch (and per fsync).
const BATCH: usize = 256;

#[derive(Debug)]
pub(crate) struct Store {
    queue: Mutex<DiskQueue>,
    /// Signalled after entries were added (wakes the uplink).
    pub(crate) data: Notify,
    /// Signalled after entries left the queue (wakes a blocked appender).
    pub(crate) room: Notify,
    pub(crate) status: Arc<Status>,
}

impl Store {
    pub(crate) fn new(queue: DiskQueue, status: Arc<Status>) -> Store {
        status.set_queue(queue.len(), queue.bytes());
        Store { queue: Mutex::new(queue), data: Notify::new(), room: Notify::new(), status }
    }

    fn lock(&self) -> MutexGuard<'_, DiskQueue> {
        // A panic while holding the lock cannot leave the queue half
        // updated in a way later calls misread: every method updates memory
        // after its file operation succeeded.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pushes entries from the front of `batch` until it is empty or the
    /// queue is full under the `block` policy; returns what to fsync.
    fn push_batch(&self, batch: &mut VecDeque<Entry>) -> Option<SyncHandle> {
        let mut q = self.lock();
        let mut stored = false;
        while let Some(entry) = batch.front() {
            match q.push(entry) {
                Ok(Pushed::Stored { dropped_oldest }) => {
                    stored = true;
                    self.status.dropped(Dropped::Oldest, dropped_oldest);
                }
                Ok(Pushed::DroppedNewest) => self.status.dropped(Dropped::Newest, 1),
                Ok(Pushed::Full) => break,
                Err(e) => {
                    tracing::warn!(error = %e, topic = %entry.topic, "bridge queue: entry dropped");
                    self.status.dropped(Dropped::Other, 1);
                }
            }
            batch.pop_front();
        }
        self.status.set_queue(q.len(), q.bytes());
        let handle = if stored {
            q.sync_handle().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "bridge queue: cannot sync");
                None
            })
        } else {
            None
        };
        drop(q);
        if stored {
            self.data.notify_one();
        }
        handle
    }

    /// `(head, end)`: the sequence numbers of the oldest entry and of the
    /// next one to be pushed.
    pub(crate) fn range(&self) -> (u64, u64) {
        let q = self.lock();
        (q.head_seq(), q.end_seq())
    }

    /// The entry `seq`, if it is still queued and reads back intact.
    pub(crate) fn get(&self, seq: u64) -> Option<Entry> {
        let mut q = self.lock();
        let entry = q.get(seq).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "bridge queue: read failed; entry skipped");
            let _ = q.ack(seq);
            self.status.dropped(Dropped::Other, 1);
            None
        });
        if entry.is_none() {
            self.status.set_queue(q.len(), q.bytes());
        }
        entry
    }

    /// Removes `seq` (acknowledged by the cloud server, or given up).
    pub(crate) fn ack(&self, seq: u64) {
        let mut q = self.lock();
        if let Err(e) = q.ack(seq) {
            tracing::warn!(error = %e, "bridge queue: cannot move the cursor");
        }
        self.status.set_queue(q.len(), q.bytes());
        drop(q);
        self.room.notify_one();
    }
}

/// Takes entries from the bridge's producers and appends them in batches;
/// under the `block` policy waits for room, which holds the producers back
/// through the bounded channel.
pub(crate) async fn run_appender(
    store: Arc<Store>,
    mut entries: mpsc::Receiver<Entry>,
    shutdown: CancellationToken,
) {
    let mut batch = VecDeque::with_capacity(BATCH);
    loop {
        if batch.is_empty() {
            tokio::select! {
                entry = entries.recv() => match entry {
                    Some(entry) => batch.push_back(entry),
                    None => return,
                },
                _ = shutdown.cancelled() => {
                    // Keep what the producers already handed over.
                    while let Ok(entry) = entries.try_recv() {
                        batch.push_back(entry);
                    }
                    let store = store.clone();
                    let _ = tokio::task::spawn_blocking(move || append(&store, &mut batch)).await;
                    return;
                }
            }
        }
        while batch.len() < BATCH {
            match entries.try_recv() {
                Ok(entry) => batch.push_back(entry),
                Err(_) => break,
            }
        }
        let writer = store.clone();
        let mut pending = std::mem::take(&mut batch);
        match tokio::task::spawn_blocking(move || {
            append(&writer, &mut pending);
            pending
        })
        .await
        {
            Ok(rest) => batch = rest,
            Err(e) => {
                tracing::error!(error = %e, "bridge queue writer failed");
                return;
            }
        }
        if !batch.is_empty() {
            // Full under `block`: wait until the uplink frees room.
            tokio::select! {
                _ = store.room.notified() => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

/// Writes what fits of `batch`, then fsyncs per the policy (outside the lock).
fn append(store: &Store, batch: &mut VecDeque<Entry>) {
    if let Some(Err(e)) = store.push_batch(batch).map(|handle| handle.sync()) {
        tracing::warn!(error = %e, "bridge queue: fsync failed");
    }
}
