//! OperateResp, one outcome per executed command.

use std::collections::BTreeMap;

use usp_proto::usp::{OperateResp, operate_resp::operation_result::OperationResp};

use super::Failure;

/// What one executed command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandResult {
    /// A synchronous command finished with these output arguments.
    ///
    /// A result with no oneof member counts as this, with no outputs: the
    /// spec's own `SendOnBoardRequest()` example answers that way.
    Output(BTreeMap<String, String>),
    /// An asynchronous command started; it is followed in this
    /// `Device.LocalAgent.Request.{i}.` row and completes with an
    /// OperationComplete notification.
    Started {
        /// The Request row.
        request_path: String,
    },
    /// The command failed (R-OPR.1: never an Error message).
    Failed(Failure),
}

/// The outcome for one `OperationResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The command path with instance numbers.
    pub executed_command: String,
    /// What it did.
    pub result: CommandResult,
}

/// The outcomes of an OperateResp, in its order.
pub fn outcomes(resp: OperateResp) -> Vec<CommandOutcome> {
    resp.operation_results
        .into_iter()
        .map(|r| {
            let result = match r.operation_resp {
                Some(OperationResp::ReqOutputArgs(a)) => CommandResult::Output(a.output_args),
                Some(OperationResp::ReqObjPath(p)) => CommandResult::Started { request_path: p },
                Some(OperationResp::CmdFailure(f)) => {
                    CommandResult::Failed(Failure::new(f.err_code, f.err_msg))
                }
                None => CommandResult::Output(BTreeMap::new()),
            };
            CommandOutcome { executed_command: r.executed_command, result }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use usp_proto::{ErrCode, usp::operate_resp::OperationResult};

    #[test]
    fn sync_async_failed_and_bare() {
        let resp = OperateResp::new(vec![
            OperationResult::output("Device.A.Sync()", [("Out", "1")]),
            OperationResult::started("Device.A.Async()", "Device.LocalAgent.Request.3."),
            OperationResult::failure("Device.A.Bad()", ErrCode::COMMAND_FAILURE, "boom"),
            OperationResult { executed_command: "Device.SendOnBoardRequest()".into(), operation_resp: None },
        ]);
        let out = outcomes(resp);
        assert_eq!(out[0].result, CommandResult::Output(BTreeMap::from([("Out".into(), "1".into())])));
        assert_eq!(
            out[1].result,
            CommandResult::Started { request_path: "Device.LocalAgent.Request.3.".into() }
        );
        assert!(matches!(&out[2].result, CommandResult::Failed(f) if f.code == ErrCode::COMMAND_FAILURE));
        assert_eq!(out[3].result, CommandResult::Output(BTreeMap::new()));
        assert_eq!(out[3].executed_command, "Device.SendOnBoardRequest()");
    }
}
