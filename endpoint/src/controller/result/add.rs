//! AddResp, one outcome per created (or not created) object.

use std::collections::BTreeMap;

use usp_proto::usp::{
    AddResp,
    add_resp::{self, created_object_result::operation_status::OperStatus},
};

use super::{Failure, ParamFailure};

/// A created instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The new instance's path, e.g. `Device.LocalAgent.Subscription.4.`.
    pub instantiated_path: String,
    /// All its unique keys (relative name → value), including Agent-assigned
    /// ones (R-ADD.5).
    pub unique_keys: BTreeMap<String, String>,
    /// Non-required parameters that could not be set (R-ADD.4).
    pub param_errs: Vec<ParamFailure>,
}

/// The outcome for one `CreatedObjectResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOutcome {
    /// The `obj_path` of the request.
    pub requested_path: String,
    /// The created instance, or why it was not created.
    pub result: Result<Created, Failure>,
}

/// The outcomes of an AddResp, in its order.
pub fn outcomes(resp: AddResp) -> Vec<AddOutcome> {
    resp.created_obj_results.into_iter().map(outcome).collect()
}

fn outcome(r: add_resp::CreatedObjectResult) -> AddOutcome {
    let result = match r.oper_status.and_then(|s| s.oper_status) {
        Some(OperStatus::OperSuccess(s)) => Ok(Created {
            instantiated_path: s.instantiated_path,
            unique_keys: s.unique_keys,
            param_errs: s.param_errs.into_iter().map(param_failure).collect(),
        }),
        Some(OperStatus::OperFailure(f)) => Err(Failure::new(f.err_code, f.err_msg)),
        None => Err(Failure::missing_status()),
    };
    AddOutcome { requested_path: r.requested_path, result }
}

fn param_failure(e: add_resp::ParameterError) -> ParamFailure {
    ParamFailure { param: e.param, code: e.err_code.into(), message: e.err_msg }
}

#[cfg(test)]
mod tests {
    use super::*;
    use usp_proto::ErrCode;

    #[test]
    fn success_failure_and_missing_status() {
        let keys = BTreeMap::from([("Alias".to_owned(), "cpe-1".to_owned())]);
        let errs = vec![add_resp::ParameterError { param: "X".into(), err_code: 7010, err_msg: "no".into() }];
        let resp = AddResp::new(vec![
            add_resp::CreatedObjectResult::success("Device.A.", "Device.A.1.", keys.clone(), errs),
            add_resp::CreatedObjectResult::failure("Device.B.", ErrCode::OBJECT_NOT_CREATABLE, "ro"),
            add_resp::CreatedObjectResult { requested_path: "Device.C.".into(), oper_status: None },
        ]);
        let out = outcomes(resp);
        let created = out[0].result.as_ref().unwrap();
        assert_eq!((created.instantiated_path.as_str(), &created.unique_keys), ("Device.A.1.", &keys));
        assert_eq!(created.param_errs[0].code, ErrCode::UNSUPPORTED_PARAMETER);
        assert_eq!(out[1].result.as_ref().unwrap_err().code, ErrCode::OBJECT_NOT_CREATABLE);
        assert_eq!(out[2].result.as_ref().unwrap_err().code, ErrCode::MESSAGE_FAILED);
        assert_eq!(out[2].requested_path, "Device.C.");
    }
}
