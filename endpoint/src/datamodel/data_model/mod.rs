//! [`DataModel`]: schema + store + providers, the one object the Agent's
//! message handlers talk to.
//!
//! * reads: [`DataModel::read`] (a provider's live value or the store's);
//! * resolution: [`DataModel::resolve`] and friends (`resolve` module);
//! * Controller-facing writes, with the checks the spec names
//!   (`write.rs`): [`DataModel::prepare_set`] / [`DataModel::set`],
//!   [`DataModel::prepare_add`] / [`DataModel::add`], [`DataModel::delete`],
//!   and savepoints for all-or-nothing requests;
//! * commands (`operate.rs`): [`DataModel::operate`], [`DataModel::cancel`];
//! * the event loop (`poll.rs`): [`DataModel::poll`] applies provider
//!   reports; [`DataModel::drain_changes`] hands the change log to the
//!   Agent.
//!
//! Sans-I/O: the time is an input ([`DataModel::poll`] takes `now`).

mod operate;
mod poll;
mod write;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

pub use operate::Started;
pub use poll::ReportError;
pub use write::DmError;

use super::provider::{OpId, Provider, ProviderCtx, ReadCtx, ReportQueue};
use super::refs::{CommandRef, ObjRef, ParamRef};
use super::schema::{ObjId, ParamId, Schema};
use super::store::{Change, Store};
use super::value::{DateTime, Value};

/// A pending asynchronous operation.
#[derive(Debug)]
struct Pending {
    command: CommandRef,
    provider: usize,
}

/// The data model of one Agent.
pub struct DataModel {
    schema: Arc<Schema>,
    store: Store,
    providers: Vec<(ObjId, Box<dyn Provider>)>,
    /// For each schema object (by index), the provider answering for it.
    mount_of: Vec<Option<usize>>,
    reports: ReportQueue,
    pending: HashMap<OpId, Pending>,
    next_op: u64,
    now: DateTime,
}

impl std::fmt::Debug for DataModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataModel")
            .field("providers", &self.providers.len())
            .field("pending", &self.pending)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl DataModel {
    /// A data model with an empty store and no providers.
    pub fn new(schema: Arc<Schema>) -> DataModel {
        DataModel::with_store(Store::new(schema))
    }

    /// A data model over a store already filled.
    pub fn with_store(store: Store) -> DataModel {
        let schema = store.schema().clone();
        let objects = schema.objects().count();
        DataModel {
            schema,
            store,
            providers: Vec::new(),
            mount_of: vec![None; objects],
            reports: ReportQueue::new(),
            pending: HashMap::new(),
            next_op: 1,
            now: DateTime::UNKNOWN,
        }
    }

    /// The schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The instance store (read).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The instance store, for the Agent's own writes (its tables, values
    /// it maintains). Writes are logged like any other.
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// The time given to the last [`DataModel::poll`].
    pub fn now(&self) -> DateTime {
        self.now
    }

    /// A handle on the queue providers push [`Report`](super::Report)s into.
    pub fn report_queue(&self) -> ReportQueue {
        self.reports.clone()
    }

    /// Mounts `provider` on schema object `at`: it answers for `at` and
    /// every object below that has no mount of its own. Mounting again on
    /// the same object replaces the provider.
    pub fn mount(&mut self, at: ObjId, provider: Box<dyn Provider>) {
        match self.providers.iter_mut().find(|(obj, _)| *obj == at) {
            Some(slot) => slot.1 = provider,
            None => self.providers.push((at, provider)),
        }
        // Nearest mount wins: walk each object's ancestry from itself up.
        for (id, def) in self.schema.objects() {
            let found = def
                .ancestry()
                .iter()
                .rev()
                .find_map(|anc| self.providers.iter().position(|(obj, _)| obj == anc));
            if let Some(slot) = self.mount_of.get_mut(id.index()) {
                *slot = found;
            }
        }
    }

    /// The provider (by mount index) answering for schema object `obj`.
    pub(crate) fn provider_of(&self, obj: ObjId) -> Option<usize> {
        self.mount_of.get(obj.index()).copied().flatten()
    }

    /// True when a provider answers for `obj`.
    pub fn is_provided(&self, obj: ObjId) -> bool {
        self.provider_of(obj).is_some()
    }

    /// Runs `f` with the provider at mount index `i` and a context over the
    /// store.
    fn with_provider<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut dyn Provider, &mut ProviderCtx<'_>) -> R,
    ) -> Option<R> {
        let (_, provider) = self.providers.get_mut(i)?;
        let mut ctx = ProviderCtx { now: self.now, store: &mut self.store };
        Some(f(provider.as_mut(), &mut ctx))
    }

    /// A parameter's value: the provider's live value if it gives one,
    /// else the store's. `None` if the object or parameter does not exist.
    ///
    /// This is the true value; the Get handler still applies the Agent's
    /// view rules (write-only and `secured` parameters read as `""` for
    /// Controllers without the right).
    pub fn read(&self, param: &ParamRef) -> Option<Cow<'_, Value>> {
        let stored = self.store.get(param)?;
        if let Some(i) = self.provider_of(param.obj.obj) {
            if let Some((_, p)) = self.providers.get(i) {
                if let Some(v) = p.get(&ReadCtx { now: self.now, store: &self.store }, param) {
                    return Some(Cow::Owned(v));
                }
            }
        }
        Some(Cow::Borrowed(stored))
    }

    /// Every parameter of an object instance with its value (see
    /// [`DataModel::read`]), in schema order; `None` if it does not exist.
    pub fn read_object(&self, obj: &ObjRef) -> Option<Vec<(ParamId, Cow<'_, Value>)>> {
        let params = self.store.params(obj)?;
        if self.provider_of(obj.obj).is_none() {
            return Some(params.map(|(p, v)| (p, Cow::Borrowed(v))).collect());
        }
        Some(
            params
                .map(|(p, stored)| (p, self.read(&obj.param(p)).unwrap_or(Cow::Borrowed(stored))))
                .collect(),
        )
    }

    /// Moves the change log into `out` (appending). Call after each
    /// `handle`/`poll`; see [`Change`].
    pub fn drain_changes(&mut self, out: &mut Vec<Change>) {
        self.store.drain_changes(out);
    }
}
