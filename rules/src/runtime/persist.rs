//! Writing the engine's state changes to the store, off the hot path.
//!
//! A store write is a redb transaction with an fsync: milliseconds, far
//! longer than an evaluation. So the loop never waits for one. After an
//! input it hands [`Engine::take_changes`] to a blocking thread, unless a
//! write is already under way; the engine meanwhile keeps marking records
//! dirty by key, so while one write runs, any number of changes to the same
//! records collapse into the next (group commit). State on disk trails the
//! engine by at most one write; a clean shutdown writes everything.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::{Engine, Store, StoreError, engine::PersistBatch};

/// The store and the write under way.
#[derive(Debug)]
pub(crate) struct Persister {
    store: Option<Arc<Store>>,
    writing: Option<JoinHandle<Result<(), StoreError>>>,
}

impl Persister {
    pub(crate) fn new(store: Option<Store>) -> Persister {
        Persister { store: store.map(Arc::new), writing: None }
    }

    /// Starts writing what changed, unless a write is under way or there
    /// is no store.
    pub(crate) fn kick(&mut self, engine: &mut Engine) {
        let Some(store) = &self.store else { return };
        if self.writing.is_some() {
            return;
        }
        let batch = engine.take_changes();
        if batch.is_empty() {
            return;
        }
        let store = store.clone();
        self.writing = Some(tokio::task::spawn_blocking(move || store.apply(&batch)));
    }

    /// The end of the write under way (pending forever when there is none).
    pub(crate) async fn done(&mut self) -> Result<(), String> {
        let Some(writing) = &mut self.writing else { return std::future::pending().await };
        let result = writing.await;
        self.writing = None;
        flatten(result)
    }

    /// Waits for the write under way, then writes everything left.
    pub(crate) async fn flush(&mut self, engine: &mut Engine) -> Result<(), String> {
        let first = if self.writing.is_some() { self.done().await } else { Ok(()) };
        let Some(store) = self.store.clone() else { return first };
        let batch: PersistBatch = engine.take_changes();
        let last = if batch.is_empty() {
            Ok(())
        } else {
            flatten(tokio::task::spawn_blocking(move || store.apply(&batch)).await)
        };
        first.and(last)
    }
}

fn flatten(r: Result<Result<(), StoreError>, tokio::task::JoinError>) -> Result<(), String> {
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("store writer stopped: {e}")),
    }
}
