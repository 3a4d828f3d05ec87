//! The event loop: provider time ticks and reports.

use super::DataModel;
use crate::datamodel::provider::{OpId, Report};
use crate::datamodel::refs::Target;
use crate::datamodel::resolve::LookupError;
use crate::datamodel::store::{Change, StoreError};
use crate::datamodel::value::{DateTime, ValueError};

/// A provider report that could not be applied (it is dropped; the rest
/// are applied).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// A `ValueText` path that does not name an existing parameter.
    #[error("{path}: {error}")]
    Path {
        /// The path reported.
        path: String,
        /// Why it does not resolve.
        error: LookupError,
    },
    /// A value that does not parse as the parameter's type.
    #[error("{0}")]
    Value(#[from] ValueError),
    /// Refused by the store (wrong type, duplicate key, absent object).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A completion for an operation that is not pending (finished,
    /// cancelled, or never started).
    #[error("operation {0:?} is not pending")]
    UnknownOperation(OpId),
    /// An event of an object instance that does not exist.
    #[error("event source does not exist")]
    NoSuchObject,
}

impl DataModel {
    /// Advances the time, lets every provider do its time-driven work,
    /// then applies every queued [`Report`] — each becomes change-log
    /// entries (value changes, rows created or deleted, completions,
    /// events). Returns the reports that could not be applied.
    ///
    /// Call it whenever the report queue's waker fires and on each of the
    /// Agent's `handle`/`poll` calls, then drain the change log.
    pub fn poll(&mut self, now: DateTime) -> Vec<ReportError> {
        self.now = now;
        for i in 0..self.providers.len() {
            self.with_provider(i, |p, ctx| p.poll(ctx));
        }
        let mut reports = Vec::new();
        self.reports.take(&mut reports);
        reports.into_iter().filter_map(|r| self.apply_report(r).err()).collect()
    }

    /// Applies one report at once (for code running on the Agent's own
    /// thread, which need not go through the queue).
    pub fn apply_report(&mut self, report: Report) -> Result<(), ReportError> {
        match report {
            Report::Value { param, value } => {
                self.store.set(&param, value)?;
            }
            Report::ValueText { path, value } => {
                let param = match self.lookup(&path) {
                    Ok(Target::Param(p)) => p,
                    Ok(_) => return Err(ReportError::Path { path, error: LookupError::NotAParameter }),
                    Err(error) => return Err(ReportError::Path { path, error }),
                };
                let value = self.schema.param(param.param).ty.parse(&value)?;
                self.store.set(&param, value)?;
            }
            Report::Added { table, number, values } => {
                match number {
                    Some(n) => self.store.add_numbered(&table, n, values)?,
                    None => self.store.add(&table, values)?,
                };
            }
            Report::Deleted { row } => self.store.delete(&row)?,
            Report::Completed { op, result } => {
                let p = self.pending.remove(&op).ok_or(ReportError::UnknownOperation(op))?;
                self.store.log(Change::Completed { op, command: p.command, result });
            }
            Report::Event { event, args } => {
                if !self.store.has_object(&event.obj) {
                    return Err(ReportError::NoSuchObject);
                }
                self.store.log(Change::Event { event, args });
            }
        }
        Ok(())
    }
}
