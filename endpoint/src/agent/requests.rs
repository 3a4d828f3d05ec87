//! `Device.LocalAgent.Request.{i}`: one row per running asynchronous
//! command (R-OPR.0, agent-datamodel.md §5).
//!
//! Lifecycle: the row is added with `Status=Requested` before the command
//! starts; `Active` once the provider runs it; on completion `Success` or
//! `Error` (`Canceled` after `Cancel()`, which first sets `Canceling`),
//! then the OperationComplete is sent and the row removed. Each step is an
//! ordinary store write, so ValueChange, ObjectCreation and ObjectDeletion
//! subscriptions on the table see the progress. A command that fails to
//! start has its row removed at once.
//!
//! Rows are not persisted: a command running at restart is gone (TR-369
//! does not expect async operations to survive a reboot).

use std::collections::HashMap;

use super::ids::Ids;
use crate::datamodel::{DataModel, ObjRef, OpId, StoreError, Value};

/// A running command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Running {
    /// Its Request row.
    pub(crate) row: ObjRef,
    /// The Operate's `command_key`.
    pub(crate) command_key: String,
}

/// `Request.{i}.Status` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Active,
    Canceling,
    Canceled,
    Success,
    Error,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::Canceling => "Canceling",
            Status::Canceled => "Canceled",
            Status::Success => "Success",
            Status::Error => "Error",
        }
    }
}

/// The running commands by operation.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    running: HashMap<OpId, Running>,
}

impl Requests {
    /// Adds the row of a command about to start.
    pub(crate) fn open(
        dm: &mut DataModel,
        ids: &Ids,
        originator: &str,
        command: &str,
        command_key: &str,
    ) -> Result<ObjRef, StoreError> {
        let r = &ids.request;
        dm.store_mut().add(
            &ids.request_table(),
            vec![
                (r.originator, Value::String(originator.to_owned())),
                (r.command, Value::String(command.to_owned())),
                (r.command_key, Value::String(command_key.to_owned())),
                (r.status, Value::String("Requested".to_owned())),
            ],
        )
    }

    /// The command started as `op`.
    pub(crate) fn started(
        &mut self,
        dm: &mut DataModel,
        ids: &Ids,
        row: ObjRef,
        op: OpId,
        command_key: &str,
    ) {
        Requests::set_status(dm, ids, &row, Status::Active);
        self.running.insert(op, Running { row, command_key: command_key.to_owned() });
    }

    /// The command did not start: its row goes.
    pub(crate) fn abandon(dm: &mut DataModel, row: &ObjRef) {
        let _ = dm.store_mut().delete(row);
    }

    /// Writes `Status`.
    pub(crate) fn set_status(dm: &mut DataModel, ids: &Ids, row: &ObjRef, status: Status) {
        let _ = dm.store_mut().set(&row.param(ids.request.status), Value::String(status.as_str().to_owned()));
    }

    /// The operation running for Request row `row`.
    pub(crate) fn op_of(&self, row: &ObjRef) -> Option<OpId> {
        self.running.iter().find(|(_, r)| r.row == *row).map(|(op, _)| *op)
    }

    /// The running command `op`.
    pub(crate) fn get(&self, op: OpId) -> Option<&Running> {
        self.running.get(&op)
    }

    /// `op` finished with `status`: the row gets it, then goes.
    pub(crate) fn finish(&mut self, dm: &mut DataModel, ids: &Ids, op: OpId, status: Status) {
        if let Some(r) = self.running.remove(&op) {
            Requests::set_status(dm, ids, &r.row, status);
            let _ = dm.store_mut().delete(&r.row);
        }
    }
}
