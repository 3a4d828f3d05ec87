//! SetResp, one outcome per requested object path.

use std::collections::BTreeMap;

use usp_proto::{
    ErrCode,
    usp::{
        SetResp,
        set_resp::{self, updated_object_result::operation_status::OperStatus},
    },
};

use super::{Failure, ParamFailure};

/// One updated object or instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updated {
    /// The object or instance updated.
    pub affected_path: String,
    /// Parameter (relative) → value after the update.
    pub updated_params: BTreeMap<String, String>,
    /// Non-required parameters that failed.
    pub param_errs: Vec<ParamFailure>,
}

/// One instance that failed to update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFailure {
    /// The object or instance.
    pub affected_path: String,
    /// Its failing parameters.
    pub param_errs: Vec<ParamFailure>,
}

/// The failure of one requested object path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFailure {
    /// The USP error code.
    pub code: ErrCode,
    /// The Agent's message.
    pub message: String,
    /// The instances that failed (R-SET.2a), if the Agent named them.
    pub instances: Vec<InstanceFailure>,
}

impl From<Failure> for SetFailure {
    fn from(f: Failure) -> SetFailure {
        SetFailure { code: f.code, message: f.message, instances: Vec::new() }
    }
}

/// The outcome for one `UpdatedObjectResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOutcome {
    /// The `obj_path` of the request.
    pub requested_path: String,
    /// The updated instances (none when a search path matched nothing), or
    /// the failure.
    pub result: Result<Vec<Updated>, SetFailure>,
}

/// The outcomes of a SetResp, in its order.
pub fn outcomes(resp: SetResp) -> Vec<SetOutcome> {
    resp.updated_obj_results.into_iter().map(outcome).collect()
}

fn outcome(r: set_resp::UpdatedObjectResult) -> SetOutcome {
    let result = match r.oper_status.and_then(|s| s.oper_status) {
        Some(OperStatus::OperSuccess(s)) => Ok(s
            .updated_inst_results
            .into_iter()
            .map(|i| Updated {
                affected_path: i.affected_path,
                updated_params: i.updated_params,
                param_errs: i.param_errs.into_iter().map(param_failure).collect(),
            })
            .collect()),
        Some(OperStatus::OperFailure(f)) => Err(SetFailure {
            code: ErrCode(f.err_code),
            message: f.err_msg,
            instances: f
                .updated_inst_failures
                .into_iter()
                .map(|i| InstanceFailure {
                    affected_path: i.affected_path,
                    param_errs: i.param_errs.into_iter().map(param_failure).collect(),
                })
                .collect(),
        }),
        None => Err(Failure::missing_status().into()),
    };
    SetOutcome { requested_path: r.requested_path, result }
}

fn param_failure(e: set_resp::ParameterError) -> ParamFailure {
    ParamFailure { param: e.param, code: e.err_code.into(), message: e.err_msg }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_and_failure_with_instances() {
        let ok = set_resp::UpdatedInstanceResult {
            affected_path: "Device.A.1.".into(),
            param_errs: vec![],
            updated_params: BTreeMap::from([("Value".to_owned(), "70".to_owned())]),
        };
        let bad = set_resp::UpdatedInstanceFailure {
            affected_path: "Device.A.2.".into(),
            param_errs: vec![set_resp::ParameterError {
                param: "Value".into(),
                err_code: 7012,
                err_msg: "range".into(),
            }],
        };
        let resp = SetResp::new(vec![
            set_resp::UpdatedObjectResult::success("Device.A.1.", vec![ok]),
            set_resp::UpdatedObjectResult::failure("Device.A.*.", ErrCode::SET_FAILURE, "no", vec![bad]),
            set_resp::UpdatedObjectResult { requested_path: "x".into(), oper_status: None },
        ]);
        let out = outcomes(resp);
        assert_eq!(out[0].result.as_ref().unwrap()[0].updated_params["Value"], "70");
        let f = out[1].result.as_ref().unwrap_err();
        assert_eq!(
            (f.code, f.instances[0].param_errs[0].code),
            (ErrCode::SET_FAILURE, ErrCode::INVALID_VALUE)
        );
        assert_eq!(out[2].result.as_ref().unwrap_err().code, ErrCode::MESSAGE_FAILED);
    }
}
