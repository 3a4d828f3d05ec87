//! Providers: real values and commands behind a subtree of the data model.
//!
//! A [`Provider`] is mounted on a schema object (`DataModel::mount`) and
//! then answers for that object and everything below it that has no mount
//! of its own: a hardware driver, a simulator, a proxy to another bus.
//!
//! The store stays the instance cache for every subtree — resolution,
//! searches and Gets read it, which keeps them fast and lets a
//! search run over provider-backed rows like any other. The provider is
//! asked:
//!
//! * before a Controller's write lands ([`Provider::set`], [`Provider::add`],
//!   [`Provider::delete`]): it may refuse, per parameter;
//! * to run commands ([`Provider::operate`]): a synchronous result, or
//!   [`Operation::Pending`] and a completion reported later;
//! * optionally, for live values ([`Provider::get`]) — `None` (the default)
//!   means "the store's value is current".
//!
//! Changes a provider observes on its own (a sensor reading, a device
//! that appeared) are pushed as [`Report`]s into a [`ReportQueue`] —
//! from any thread — and applied by `DataModel::poll`, which turns them
//! into change-log entries exactly like a Set's. Inside a call, a
//! provider may also write the store directly through its
//! [`ProviderCtx`]; those writes are logged too. Every change is thereby
//! observable the moment the Agent processes it, whoever made it.
//!
//! The trait's default methods accept every write and run no commands, so
//! a provider only implements what it backs; with no provider mounted the
//! plain store is the backing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use usp_proto::ErrCode;

use super::refs::{CommandRef, EventRef, ObjRef, ParamRef, TableRef};
use super::schema::ParamId;
use super::store::Store;
use super::value::{DateTime, Value};

/// Identifies one run of an asynchronous command, from `operate` to its
/// completion. Unique for the life of the `DataModel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u64);

/// Command input or output arguments, by name (relative to the command).
pub type Args = BTreeMap<String, Value>;

/// Formats arguments in their lexical forms, for `output_args` maps.
pub fn args_to_strings(args: &Args) -> BTreeMap<String, String> {
    args.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
}

/// A command that failed: the code and text of `cmd_failure`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CommandError {
    /// USP error code (7022 by default, 7023 cancelled, 7027 bad input,
    /// 7200–7299 model-defined, 7800–7999 vendor).
    pub code: ErrCode,
    /// Free text.
    pub message: String,
}

impl CommandError {
    /// An error with any code.
    pub fn new(code: ErrCode, message: impl Into<String>) -> CommandError {
        CommandError { code, message: message.into() }
    }

    /// 7022 Command failure.
    pub fn failed(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrCode::COMMAND_FAILURE, message)
    }

    /// 7023 Command canceled.
    pub fn cancelled() -> CommandError {
        CommandError::new(ErrCode::COMMAND_CANCELLED, "cancelled")
    }
}

/// A provider's refusal of one parameter of a write.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ParamError {
    /// The parameter.
    pub param: ParamId,
    /// USP code (7009, 7012, 7014, ...).
    pub code: ErrCode,
    /// Free text.
    pub message: String,
}

/// A provider's refusal of an Add or Delete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProviderError {
    /// USP code (7017, 7024, ...).
    pub code: ErrCode,
    /// Free text.
    pub message: String,
}

impl ProviderError {
    /// An error with any code.
    pub fn new(code: ErrCode, message: impl Into<String>) -> ProviderError {
        ProviderError { code, message: message.into() }
    }
}

/// What `operate` did.
#[derive(Clone, Debug, PartialEq)]
pub enum Operation {
    /// Finished: output arguments or failure. For an asynchronous command
    /// the completion is still delivered as an OperationComplete (logged
    /// at once).
    Done(Result<Args, CommandError>),
    /// Running; the provider pushes [`Report::Completed`] with the
    /// [`OpId`] it was given when done. Only valid for asynchronous
    /// commands.
    Pending,
}

/// What a provider may use during a call: the time, and the store (its
/// writes are logged like any other).
pub struct ProviderCtx<'a> {
    /// The current time, as given to the `DataModel` (sans-I/O: no clock is
    /// read).
    pub now: DateTime,
    /// The instance store.
    pub store: &'a mut Store,
}

/// What a provider may use to answer a live read.
pub struct ReadCtx<'a> {
    /// The current time.
    pub now: DateTime,
    /// The instance store.
    pub store: &'a Store,
}

/// A backend for a subtree. Every method has a default that leaves the
/// store in charge; see the module documentation.
pub trait Provider: Send {
    /// A live value for `param`, or `None` to use the store's (default).
    ///
    /// Live values are not watched: for ValueChange notifications to fire,
    /// a provider that answers here must also report changes
    /// ([`Report::Value`]) or keep the store current; otherwise mark such
    /// parameters `ignore_value_change` in the model.
    fn get(&self, ctx: &ReadCtx<'_>, param: &ParamRef) -> Option<Value> {
        let _ = (ctx, param);
        None
    }

    /// A Controller's validated writes to one object (parameters of `obj`
    /// and of its single-instance sub-objects). The store already holds
    /// the new values when this is called, so a check may look at the
    /// whole row; `Err` refuses them all and the store is rolled back, `Ok`
    /// keeps them. Also called, after a rollback, with the values restored
    /// to undo writes it had accepted.
    fn set(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        obj: &ObjRef,
        writes: &[(ParamRef, Value)],
    ) -> Result<(), Vec<ParamError>> {
        let _ = (ctx, obj, writes);
        Ok(())
    }

    /// A Controller adds `row` (already in the store, with `values` set);
    /// `Err` removes it again.
    fn add(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        row: &ObjRef,
        values: &[(ParamRef, Value)],
    ) -> Result<(), ProviderError> {
        let _ = (ctx, row, values);
        Ok(())
    }

    /// A Controller deletes `row` (still in the store); `Err` refuses.
    fn delete(&mut self, ctx: &mut ProviderCtx<'_>, row: &ObjRef) -> Result<(), ProviderError> {
        let _ = (ctx, row);
        Ok(())
    }

    /// Runs a command with validated input arguments (defaults filled in).
    /// The default fails with 7022.
    fn operate(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        command: &CommandRef,
        input: &Args,
        op: OpId,
    ) -> Operation {
        let _ = (ctx, command, input, op);
        Operation::Done(Err(CommandError::failed("command not implemented")))
    }

    /// Asked to cancel a pending operation (`Request.{i}.Cancel()`): true
    /// if it stopped (the completion is then logged as 7023 and any later
    /// report for `op` ignored), false if it cannot be cancelled.
    fn cancel(&mut self, ctx: &mut ProviderCtx<'_>, op: OpId) -> bool {
        let _ = (ctx, op);
        false
    }

    /// Called on every `DataModel::poll`, with the time: a place for
    /// time-driven work (simulated devices, timeouts).
    fn poll(&mut self, ctx: &mut ProviderCtx<'_>) {
        let _ = ctx;
    }
}

/// A change a provider reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// A parameter has a new value.
    Value {
        /// The parameter.
        param: ParamRef,
        /// The value (must have the parameter's type).
        value: Value,
    },
    /// A parameter, named by its full path, has a new value in lexical
    /// form (for providers that speak strings, e.g. a proxied bus).
    ValueText {
        /// Full parameter path with instance numbers.
        path: String,
        /// Value in lexical form.
        value: String,
    },
    /// A row appeared.
    Added {
        /// The table.
        table: TableRef,
        /// The instance number to use (`None`: the next one).
        number: Option<u32>,
        /// Values of the row's parameters (and of its single-instance
        /// sub-objects).
        values: Vec<(ParamId, Value)>,
    },
    /// A row disappeared.
    Deleted {
        /// The row.
        row: ObjRef,
    },
    /// A pending asynchronous command finished.
    Completed {
        /// The operation given to `operate`.
        op: OpId,
        /// Output arguments or failure.
        result: Result<Args, CommandError>,
    },
    /// An event occurred.
    Event {
        /// The event and emitting instance.
        event: EventRef,
        /// Event arguments.
        args: Args,
    },
}

type Waker = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Queue {
    reports: Vec<Report>,
    waker: Option<Waker>,
}

/// A cloneable, thread-safe queue of [`Report`]s, drained by
/// `DataModel::poll`.
///
/// The runtime that drives the Agent sets a waker (e.g. a
/// `tokio::sync::Notify::notify_one`) so that a report wakes it at once;
/// the waker runs when a report lands in an empty queue, outside the
/// queue's lock.
#[derive(Clone, Default)]
pub struct ReportQueue {
    inner: Arc<Mutex<Queue>>,
}

impl std::fmt::Debug for ReportQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportQueue").field("len", &self.len()).finish()
    }
}

impl ReportQueue {
    /// An empty queue.
    pub fn new() -> ReportQueue {
        ReportQueue::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A panic while holding the lock cannot leave a Vec push half done;
        // keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a report, waking the consumer if the queue was empty.
    pub fn push(&self, report: Report) {
        let wake = {
            let mut q = self.lock();
            q.reports.push(report);
            if q.reports.len() == 1 { q.waker.clone() } else { None }
        };
        if let Some(wake) = wake {
            wake();
        }
    }

    /// Sets the function called when a report lands in an empty queue.
    pub fn set_waker(&self, waker: impl Fn() + Send + Sync + 'static) {
        self.lock().waker = Some(Arc::new(waker));
    }

    /// Reports waiting.
    pub fn len(&self) -> usize {
        self.lock().reports.len()
    }

    /// True when no report waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves every waiting report into `out`.
    pub(crate) fn take(&self, out: &mut Vec<Report>) {
        out.append(&mut self.lock().reports);
    }
}
