//! Operate (records-and-messages.md §12).
//!
//! The command path (search paths allowed) is resolved; each matched
//! command runs and gets one OperationResult:
//!
//! * a synchronous command: its output (`req_output_args`, empty when it
//!   has none);
//! * an asynchronous one: a `Device.LocalAgent.Request.{i}` row is created
//!   (R-OPR.0, one per command, R-OPR.2) and its path returned
//!   (`req_obj_path`); the OperationComplete follows when the provider
//!   reports completion (see `requests.rs`). The same command with the same
//!   `command_key` from the same Controller while one runs collides on the
//!   Request key: refused with 7005 (R-OPR.3 leaves refusing open);
//! * a failure in `cmd_failure`, never an Error (R-OPR.1): 7006 without
//!   CommandEvent `x`, 7027 for a missing mandatory or invalid argument
//!   (R-OPR.5; unknown arguments are ignored, missing optional ones take
//!   defaults, R-OPR.6/7), 7022 or the provider's code otherwise.
//!
//! Message-level problems are an Error: 7008 bad syntax, 7026 not a
//! command or not in the Supported DM, 7016 an instance number that does
//! not exist. A search matching nothing gives an empty OperateResp.
//!
//! `send_resp=false` (R-OPR.4): no OperateResp, except one listing only
//! the failures when some command failed (the spec's MAY, so the
//! Controller can learn of them); Errors are still sent.
//!
//! Commands the Agent runs itself, before any provider:
//! `Device.LocalAgent.Request.{i}.Cancel()` (Status `Canceling`, then the
//! OperationComplete carries 7023; 7002 if the command cannot be
//! cancelled) and `Device.LocalAgent.Controller.{i}.SendOnBoardRequest()`
//! (sets `OnBoardingComplete=false` and sends that Controller an
//! OnBoardRequest, retried until its NotifyResp).

use usp_proto::{
    ErrCode,
    usp::{
        Error, Operate, OperateResp, operate_resp::OperationResult,
        operate_resp::operation_result::OperationResp,
    },
};

use super::Agent;
use super::permissions::{Category, ReadView, Rights};
use super::record::{Reply, Requester};
use super::requests::{Requests, Status};
use crate::datamodel::{
    CommandError, CommandKind, CommandRef, Matches, Started, StoreError, Target, Value, args_to_strings,
};
use crate::path::Path;

impl Agent {
    pub(crate) fn operate(&mut self, who: &Requester, req: &Operate) -> Reply {
        let path = match Path::parse(&req.command) {
            Ok(p) if p.is_command() => p,
            Ok(_) => return Reply::Error(Error::new(ErrCode::INVALID_PATH, "Operate takes a command path")),
            Err(e) => return Reply::Error(Error::new(e.code(), e.to_string())),
        };
        let access = who.peer.access.clone();
        let res = match self.dm.resolve_with(&path, &ReadView { access: &access, dm: &self.dm }) {
            Ok(r) => r,
            Err(e) => return Reply::Error(Error::new(e.code(), e.to_string())),
        };
        if res.is_missing() {
            return Reply::Error(Error::new(ErrCode::OBJECT_DOES_NOT_EXIST, "object does not exist"));
        }
        let Matches::Commands(commands) = res.matches else {
            return Reply::Error(Error::new(ErrCode::INVALID_PATH, "Operate takes a command path"));
        };
        let results: Vec<OperationResult> = commands.iter().map(|c| self.run(who, c, req)).collect();
        if req.send_resp {
            return Reply::Response(OperateResp::new(results).into());
        }
        let failures: Vec<OperationResult> = results
            .into_iter()
            .filter(|r| matches!(r.operation_resp, Some(OperationResp::CmdFailure(_))))
            .collect();
        if failures.is_empty() { Reply::Nothing } else { Reply::Response(OperateResp::new(failures).into()) }
    }

    fn run(&mut self, who: &Requester, command: &CommandRef, req: &Operate) -> OperationResult {
        let schema = self.dm.schema().clone();
        let path = schema.command_path(command);
        let fail = |e: CommandError| OperationResult::failure(path.clone(), e.code, e.message);
        if !who.peer.access.allows(
            &self.dm,
            Category::CommandEvent,
            &Target::Command(*command),
            Rights::EXECUTE,
        ) {
            return fail(CommandError::new(ErrCode::PERMISSION_DENIED, "no permission to run this command"));
        }
        if command.command == self.ids.request.cancel {
            return match self.cancel_request(command) {
                Ok(()) => OperationResult::output(path, std::iter::empty::<(String, String)>()),
                Err(e) => fail(e),
            };
        }
        if command.command == self.ids.controller.send_onboard_request {
            let c = &self.ids.controller;
            let _ = self.dm.store_mut().set(&command.obj.param(c.onboarding_complete), Value::Boolean(false));
            if let Some(n) = command.obj.inst.last() {
                self.onboard.push(n);
            }
            return OperationResult::output(path, std::iter::empty::<(String, String)>());
        }
        match schema.command(command.command).kind {
            CommandKind::Sync => match self.dm.operate(command, &req.input_args) {
                Ok(Started::Completed(out)) => OperationResult::output(path, args_to_strings(&out)),
                Ok(Started::Running(_)) => {
                    fail(CommandError::failed("a synchronous command did not complete"))
                }
                Err(e) => fail(e),
            },
            CommandKind::Async => {
                let row = match Requests::open(
                    &mut self.dm,
                    &self.ids,
                    &who.endpoint_id,
                    &path,
                    &req.command_key,
                ) {
                    Ok(row) => row,
                    Err(StoreError::DuplicateKey { .. }) => {
                        return fail(CommandError::new(
                            ErrCode::RESOURCES_EXCEEDED,
                            "this command is already running with this command_key",
                        ));
                    }
                    Err(e) => return fail(CommandError::new(e.code(), e.to_string())),
                };
                match self.dm.operate(command, &req.input_args) {
                    Ok(Started::Running(op)) => {
                        self.requests.started(&mut self.dm, &self.ids, row, op, &req.command_key);
                        OperationResult::started(path, schema.obj_path(&row))
                    }
                    Ok(Started::Completed(_)) => {
                        Requests::abandon(&mut self.dm, &row);
                        fail(CommandError::failed("an asynchronous command completed synchronously"))
                    }
                    Err(e) => {
                        Requests::abandon(&mut self.dm, &row);
                        fail(e)
                    }
                }
            }
        }
    }

    /// `Request.{i}.Cancel()`.
    fn cancel_request(&mut self, command: &CommandRef) -> Result<(), CommandError> {
        let row = command.obj;
        let op = self.requests.op_of(&row).ok_or_else(|| {
            CommandError::new(ErrCode::REQUEST_DENIED, "no command is running for this request")
        })?;
        Requests::set_status(&mut self.dm, &self.ids, &row, Status::Canceling);
        self.dm
            .cancel(op)
            .inspect_err(|_| Requests::set_status(&mut self.dm, &self.ids, &row, Status::Active))
    }
}
