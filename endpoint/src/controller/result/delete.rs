//! DeleteResp, one outcome per requested path.

use usp_proto::{
    ErrCode,
    usp::{DeleteResp, delete_resp::deleted_object_result::operation_status::OperStatus},
};

use super::Failure;

/// A matched instance that could not be deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathFailure {
    /// The instance.
    pub path: String,
    /// The USP error code.
    pub code: ErrCode,
    /// The Agent's message.
    pub message: String,
}

/// What a successful requested path did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The instances deleted (empty when a search path matched nothing).
    pub affected_paths: Vec<String>,
    /// Matched instances that could not be deleted (`allow_partial`).
    pub unaffected: Vec<PathFailure>,
}

/// The outcome for one `DeletedObjectResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The path of the request.
    pub requested_path: String,
    /// What was deleted, or why nothing was.
    pub result: Result<Deleted, Failure>,
}

/// The outcomes of a DeleteResp, in its order.
pub fn outcomes(resp: DeleteResp) -> Vec<DeleteOutcome> {
    resp.deleted_obj_results
        .into_iter()
        .map(|r| {
            let result = match r.oper_status.and_then(|s| s.oper_status) {
                Some(OperStatus::OperSuccess(s)) => Ok(Deleted {
                    affected_paths: s.affected_paths,
                    unaffected: s
                        .unaffected_path_errs
                        .into_iter()
                        .map(|e| PathFailure {
                            path: e.unaffected_path,
                            code: ErrCode(e.err_code),
                            message: e.err_msg,
                        })
                        .collect(),
                }),
                Some(OperStatus::OperFailure(f)) => Err(Failure::new(f.err_code, f.err_msg)),
                None => Err(Failure::missing_status()),
            };
            DeleteOutcome { requested_path: r.requested_path, result }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use usp_proto::usp::delete_resp::{DeletedObjectResult, UnaffectedPathError};

    #[test]
    fn affected_unaffected_and_failed() {
        let unaffected = vec![UnaffectedPathError {
            unaffected_path: "Device.A.2.".into(),
            err_code: 7024,
            err_msg: "busy".into(),
        }];
        let resp = DeleteResp::new(vec![
            DeletedObjectResult::success("Device.A.*.", ["Device.A.1."], unaffected),
            DeletedObjectResult::failure("Device.B.1.", ErrCode::OBJECT_DOES_NOT_EXIST, "gone"),
        ]);
        let out = outcomes(resp);
        let d = out[0].result.as_ref().unwrap();
        assert_eq!(d.affected_paths, ["Device.A.1."]);
        assert_eq!(
            (d.unaffected[0].path.as_str(), d.unaffected[0].code),
            ("Device.A.2.", ErrCode::DELETE_FAILURE)
        );
        assert_eq!(out[1].result.as_ref().unwrap_err().code, ErrCode::OBJECT_DOES_NOT_EXIST);
    }
}
