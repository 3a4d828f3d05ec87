//! The change log: every value change, row creation and row deletion, in
//! the order it happened, plus command completions and events reported by
//! providers. The Agent drains it after each `handle`/`poll` and turns the
//! entries into ValueChange, ObjectCreation, ObjectDeletion,
//! OperationComplete and Event notifications through its subscription
//! index (by [`ParamId`], [`ObjId`](crate::datamodel::ObjId), command and
//! event id) — nothing is found by polling or scanning.

use crate::datamodel::provider::{Args, CommandError, OpId};
use crate::datamodel::refs::{CommandRef, EventRef, ObjRef, ParamRef};
use crate::datamodel::schema::ParamId;
use crate::datamodel::value::Value;

/// One observable change of the data model.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A parameter took a new value (never logged when the value written
    /// equals the old one). Whoever wrote it — a Set, the Agent itself, a
    /// provider's report — the entry is the same.
    Value {
        /// The parameter.
        param: ParamRef,
        /// The value before.
        old: Value,
        /// The value now.
        new: Value,
    },
    /// A table row was created.
    Created {
        /// The new row.
        row: ObjRef,
        /// Its unique-key parameters and their values, for the
        /// ObjectCreation `unique_keys` map.
        keys: Vec<(ParamId, Value)>,
    },
    /// A table row was deleted. When a row with nested tables is deleted,
    /// the nested rows are logged first, innermost first.
    Deleted {
        /// The row that is gone.
        row: ObjRef,
        /// Its unique-key values at deletion, so subscriptions whose path
        /// selects rows by key can still be matched.
        keys: Vec<(ParamId, Value)>,
    },
    /// An asynchronous command finished (or was cancelled: 7023).
    Completed {
        /// The operation, as returned when it started.
        op: OpId,
        /// The command that ran.
        command: CommandRef,
        /// Output arguments, or the failure.
        result: Result<Args, CommandError>,
    },
    /// A provider reported an event.
    Event {
        /// The event and the object instance that emitted it.
        event: EventRef,
        /// Event arguments.
        args: Args,
    },
}
