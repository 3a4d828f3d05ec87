//! Running commands: input-argument checks (R-OPR.5–7), dispatch to the
//! provider, tracking of asynchronous operations until they complete or
//! are cancelled.
//!
//! How an Operate maps on this (the Agent's side):
//!
//! * [`Started::Completed`] — a synchronous command's output: OperateResp
//!   `req_output_args`;
//! * [`Started::Running`] — an asynchronous command runs under an
//!   [`OpId`]: the Agent creates the `Device.LocalAgent.Request.{i}` row,
//!   answers `req_obj_path`, and when [`Change::Completed`] for that
//!   [`OpId`] comes out of the change log it sends the OperationComplete
//!   and removes the row;
//! * `Err` — `cmd_failure` with the error's code;
//! * `Request.{i}.Cancel()` calls [`DataModel::cancel`].

use std::collections::BTreeMap;

use usp_proto::ErrCode;

use super::{DataModel, Pending};
use crate::datamodel::provider::{Args, CommandError, OpId, Operation};
use crate::datamodel::refs::CommandRef;
use crate::datamodel::schema::{CommandId, CommandKind};
use crate::datamodel::store::Change;

/// How a command started.
#[derive(Clone, Debug, PartialEq)]
pub enum Started {
    /// A synchronous command finished with these output arguments.
    Completed(Args),
    /// An asynchronous command is running; its completion comes as a
    /// [`Change::Completed`] with this id.
    Running(OpId),
}

impl DataModel {
    /// Checks and types an Operate's input arguments: each known argument
    /// is parsed with its type (bad value → 7027), missing mandatory ones
    /// fail with 7027 (R-OPR.5), missing optional ones take their default
    /// (R-OPR.7), unknown ones are ignored (R-OPR.6).
    pub fn prepare_input(
        &self,
        command: CommandId,
        input: &BTreeMap<String, String>,
    ) -> Result<Args, CommandError> {
        let mut args = Args::new();
        for def in &self.schema.command(command).input {
            match input.get(&*def.name) {
                Some(text) => {
                    let v = def.ty.parse(text).map_err(|e| {
                        CommandError::new(
                            ErrCode::INVALID_COMMAND_ARGUMENTS,
                            format!("argument {}: {e}", def.name),
                        )
                    })?;
                    args.insert(def.name.to_string(), v);
                }
                None if def.mandatory => {
                    return Err(CommandError::new(
                        ErrCode::INVALID_COMMAND_ARGUMENTS,
                        format!("missing mandatory argument {}", def.name),
                    ));
                }
                None => {
                    if let Some(d) = &def.default {
                        args.insert(def.name.to_string(), d.clone());
                    }
                }
            }
        }
        Ok(args)
    }

    /// Runs a command of an existing object instance (7016 otherwise) with
    /// the Operate's input arguments. The provider answering for the
    /// object runs it; without one the command fails with 7022.
    pub fn operate(
        &mut self,
        command: &CommandRef,
        input: &BTreeMap<String, String>,
    ) -> Result<Started, CommandError> {
        if !self.store.has_object(&command.obj) {
            return Err(CommandError::new(ErrCode::OBJECT_DOES_NOT_EXIST, "object does not exist"));
        }
        let args = self.prepare_input(command.command, input)?;
        let Some(i) = self.provider_of(command.obj.obj) else {
            return Err(CommandError::failed("no provider implements this command"));
        };
        let op = OpId(self.next_op);
        self.next_op += 1;
        let outcome = self
            .with_provider(i, |p, ctx| p.operate(ctx, command, &args, op))
            .unwrap_or_else(|| Operation::Done(Err(CommandError::failed("provider missing"))));
        match (self.schema.command(command.command).kind, outcome) {
            (CommandKind::Sync, Operation::Done(result)) => result.map(Started::Completed),
            (CommandKind::Sync, Operation::Pending) => {
                Err(CommandError::failed("provider left a synchronous command pending"))
            }
            (CommandKind::Async, Operation::Done(result)) => {
                self.store.log(Change::Completed { op, command: *command, result });
                Ok(Started::Running(op))
            }
            (CommandKind::Async, Operation::Pending) => {
                self.pending.insert(op, Pending { command: *command, provider: i });
                Ok(Started::Running(op))
            }
        }
    }

    /// Cancels a pending asynchronous operation (`Request.{i}.Cancel()`).
    /// When the provider agrees, the completion is logged at once with
    /// 7023 and later reports for `op` are ignored. Unknown or finished
    /// operations, and providers that cannot cancel, give 7002.
    pub fn cancel(&mut self, op: OpId) -> Result<(), CommandError> {
        let Some(p) = self.pending.get(&op) else {
            return Err(CommandError::new(ErrCode::REQUEST_DENIED, "no such pending operation"));
        };
        let (command, provider) = (p.command, p.provider);
        let stopped = self.with_provider(provider, |p, ctx| p.cancel(ctx, op)).unwrap_or(false);
        if !stopped {
            return Err(CommandError::new(ErrCode::REQUEST_DENIED, "operation cannot be cancelled"));
        }
        self.pending.remove(&op);
        self.store.log(Change::Completed { op, command, result: Err(CommandError::cancelled()) });
        Ok(())
    }

    /// The asynchronous operations still running.
    pub fn pending_operations(&self) -> impl Iterator<Item = (OpId, CommandRef)> + '_ {
        self.pending.iter().map(|(op, p)| (*op, p.command))
    }
}
