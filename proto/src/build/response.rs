//! Response and Error constructors.

use std::collections::BTreeMap;

use super::{map, strings};
use crate::{
    ErrCode,
    usp::{
        AddResp, DeleteResp, DeregisterResp, Error, GetInstancesResp, GetResp, GetSupportedProtocolResp,
        OperateResp, RegisterResp, SetResp, add_resp, delete_resp, deregister_resp, error,
        get_instances_resp, get_resp, operate_resp, register_resp, set_resp,
    },
};

impl Error {
    /// An Error with a code and a text.
    pub fn new(code: ErrCode, err_msg: impl Into<String>) -> Error {
        Error { err_code: code.0, err_msg: err_msg.into(), param_errs: Vec::new() }
    }

    /// Adds the failure of one parameter or object (full path).
    pub fn param_err(
        mut self,
        param_path: impl Into<String>,
        code: ErrCode,
        err_msg: impl Into<String>,
    ) -> Error {
        self.param_errs.push(error::ParamError {
            param_path: param_path.into(),
            err_code: code.0,
            err_msg: err_msg.into(),
        });
        self
    }

    /// The error code.
    pub fn code(&self) -> ErrCode {
        ErrCode(self.err_code)
    }
}

impl GetResp {
    /// A GetResp of per-path results.
    pub fn new(req_path_results: Vec<get_resp::RequestedPathResult>) -> GetResp {
        GetResp { req_path_results }
    }
}

impl get_resp::RequestedPathResult {
    /// A successful result for `requested_path`.
    pub fn ok(requested_path: impl Into<String>, resolved: Vec<get_resp::ResolvedPathResult>) -> Self {
        Self {
            requested_path: requested_path.into(),
            err_code: 0,
            err_msg: String::new(),
            resolved_path_results: resolved,
        }
    }

    /// A failed result for `requested_path`.
    pub fn failure(requested_path: impl Into<String>, code: ErrCode, err_msg: impl Into<String>) -> Self {
        Self {
            requested_path: requested_path.into(),
            err_code: code.0,
            err_msg: err_msg.into(),
            resolved_path_results: Vec::new(),
        }
    }
}

impl get_resp::ResolvedPathResult {
    /// One resolved object with its parameters (names relative to it).
    pub fn new<K: Into<String>, V: Into<String>>(
        resolved_path: impl Into<String>,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self { resolved_path: resolved_path.into(), result_params: map(params) }
    }
}

impl get_instances_resp::RequestedPathResult {
    /// A successful result for `requested_path`.
    pub fn ok(requested_path: impl Into<String>, curr_insts: Vec<get_instances_resp::CurrInstance>) -> Self {
        Self { requested_path: requested_path.into(), err_code: 0, err_msg: String::new(), curr_insts }
    }

    /// A failed result for `requested_path`.
    pub fn failure(requested_path: impl Into<String>, code: ErrCode, err_msg: impl Into<String>) -> Self {
        Self {
            requested_path: requested_path.into(),
            err_code: code.0,
            err_msg: err_msg.into(),
            curr_insts: Vec::new(),
        }
    }
}

impl GetInstancesResp {
    /// A GetInstancesResp of per-path results.
    pub fn new(req_path_results: Vec<get_instances_resp::RequestedPathResult>) -> GetInstancesResp {
        GetInstancesResp { req_path_results }
    }
}

impl GetSupportedProtocolResp {
    /// The Agent's supported versions, comma-separated.
    pub fn new(agent_versions: impl Into<String>) -> GetSupportedProtocolResp {
        GetSupportedProtocolResp { agent_supported_protocol_versions: agent_versions.into() }
    }
}

impl add_resp::CreatedObjectResult {
    /// A created instance, with its unique keys and the failures of
    /// non-required parameters.
    pub fn success(
        requested_path: impl Into<String>,
        instantiated_path: impl Into<String>,
        unique_keys: BTreeMap<String, String>,
        param_errs: Vec<add_resp::ParameterError>,
    ) -> Self {
        use add_resp::created_object_result::{OperationStatus, operation_status::*};
        Self {
            requested_path: requested_path.into(),
            oper_status: Some(OperationStatus {
                oper_status: Some(OperStatus::OperSuccess(OperationSuccess {
                    instantiated_path: instantiated_path.into(),
                    param_errs,
                    unique_keys,
                })),
            }),
        }
    }

    /// A failed creation.
    pub fn failure(requested_path: impl Into<String>, code: ErrCode, err_msg: impl Into<String>) -> Self {
        use add_resp::created_object_result::{OperationStatus, operation_status::*};
        Self {
            requested_path: requested_path.into(),
            oper_status: Some(OperationStatus {
                oper_status: Some(OperStatus::OperFailure(OperationFailure {
                    err_code: code.0,
                    err_msg: err_msg.into(),
                })),
            }),
        }
    }
}

impl AddResp {
    /// An AddResp of per-object results.
    pub fn new(created_obj_results: Vec<add_resp::CreatedObjectResult>) -> AddResp {
        AddResp { created_obj_results }
    }
}

impl set_resp::UpdatedObjectResult {
    /// A successful update of the objects `requested_path` matched.
    pub fn success(requested_path: impl Into<String>, results: Vec<set_resp::UpdatedInstanceResult>) -> Self {
        use set_resp::updated_object_result::{OperationStatus, operation_status::*};
        Self {
            requested_path: requested_path.into(),
            oper_status: Some(OperationStatus {
                oper_status: Some(OperStatus::OperSuccess(OperationSuccess {
                    updated_inst_results: results,
                })),
            }),
        }
    }

    /// A failed update, naming the instances that failed.
    pub fn failure(
        requested_path: impl Into<String>,
        code: ErrCode,
        err_msg: impl Into<String>,
        failures: Vec<set_resp::UpdatedInstanceFailure>,
    ) -> Self {
        use set_resp::updated_object_result::{OperationStatus, operation_status::*};
        Self {
            requested_path: requested_path.into(),
            oper_status: Some(OperationStatus {
                oper_status: Some(OperStatus::OperFailure(OperationFailure {
                    err_code: code.0,
                    err_msg: err_msg.into(),
                    updated_inst_failures: failures,
                })),
            }),
        }
    }
}

impl SetResp {
    /// A SetResp of per-object results.
    pub fn new(updated_obj_results: Vec<set_resp::UpdatedObjectResult>) -> SetResp {
        SetResp { updated_obj_results }
    }
}

impl delete_resp::DeletedObjectResult {
    /// A successful Delete of `requested_path`.
    pub fn success<S: Into<String>>(
        requested_path: impl Into<String>,
        affected_paths: impl IntoIterator<Item = S>,
        unaffected: Vec<delete_resp::UnaffectedPathError>,
    ) -> Self {
        use delete_resp::deleted_object_result::{OperationStatus, operation_status::*};
        Self {
            requested_path: requested_path.into(),
            oper_status: Some(OperationStatus {
                oper_status: Some(OperStatus::OperSuccess(OperationSuccess {
                    affected_paths: strings(affected_paths),
                    unaffected_path_errs: unaffected,
                })),
            }),
        }
    }

    /// A failed Delete of `requested_path`.
    pub fn failure(requested_path: impl Into<String>, code: ErrCode, err_msg: impl Into<String>) -> Self {
        use delete_resp::deleted_object_result::{OperationStatus, operation_status::*};
        Self {
            requested_path: requested_path.into(),
            oper_status: Some(OperationStatus {
                oper_status: Some(OperStatus::OperFailure(OperationFailure {
                    err_code: code.0,
                    err_msg: err_msg.into(),
                })),
            }),
        }
    }
}

impl DeleteResp {
    /// A DeleteResp of per-path results.
    pub fn new(deleted_obj_results: Vec<delete_resp::DeletedObjectResult>) -> DeleteResp {
        DeleteResp { deleted_obj_results }
    }
}

impl operate_resp::OperationResult {
    /// A synchronous command that succeeded with `output_args`.
    pub fn output<K: Into<String>, V: Into<String>>(
        executed_command: impl Into<String>,
        output_args: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        use operate_resp::operation_result::{OperationResp, OutputArgs};
        Self {
            executed_command: executed_command.into(),
            operation_resp: Some(OperationResp::ReqOutputArgs(OutputArgs { output_args: map(output_args) })),
        }
    }

    /// An asynchronous command, followed in `Device.LocalAgent.Request.{i}.`.
    pub fn started(executed_command: impl Into<String>, req_obj_path: impl Into<String>) -> Self {
        use operate_resp::operation_result::OperationResp;
        Self {
            executed_command: executed_command.into(),
            operation_resp: Some(OperationResp::ReqObjPath(req_obj_path.into())),
        }
    }

    /// A command that failed.
    pub fn failure(executed_command: impl Into<String>, code: ErrCode, err_msg: impl Into<String>) -> Self {
        use operate_resp::operation_result::{CommandFailure, OperationResp};
        Self {
            executed_command: executed_command.into(),
            operation_resp: Some(OperationResp::CmdFailure(CommandFailure {
                err_code: code.0,
                err_msg: err_msg.into(),
            })),
        }
    }
}

impl OperateResp {
    /// An OperateResp of per-command results.
    pub fn new(operation_results: Vec<operate_resp::OperationResult>) -> OperateResp {
        OperateResp { operation_results }
    }
}

impl register_resp::RegisteredPathResult {
    /// A registered path.
    pub fn success(requested_path: impl Into<String>, registered_path: impl Into<String>) -> Self {
        use register_resp::registered_path_result::{OperationStatus, operation_status::*};
        Self {
            requested_path: requested_path.into(),
            oper_status: Some(OperationStatus {
                oper_status: Some(OperStatus::OperSuccess(OperationSuccess {
                    registered_path: registered_path.into(),
                })),
            }),
        }
    }

    /// A path that could not be registered.
    pub fn failure(requested_path: impl Into<String>, code: ErrCode, err_msg: impl Into<String>) -> Self {
        use register_resp::registered_path_result::{OperationStatus, operation_status::*};
        Self {
            requested_path: requested_path.into(),
            oper_status: Some(OperationStatus {
                oper_status: Some(OperStatus::OperFailure(OperationFailure {
                    err_code: code.0,
                    err_msg: err_msg.into(),
                })),
            }),
        }
    }
}

impl RegisterResp {
    /// A RegisterResp of per-path results.
    pub fn new(registered_path_results: Vec<register_resp::RegisteredPathResult>) -> RegisterResp {
        RegisterResp { registered_path_results }
    }
}

impl deregister_resp::DeregisteredPathResult {
    /// Paths withdrawn for `requested_path`.
    pub fn success<S: Into<String>>(
        requested_path: impl Into<String>,
        paths: impl IntoIterator<Item = S>,
    ) -> Self {
        use deregister_resp::deregistered_path_result::{OperationStatus, operation_status::*};
        Self {
            requested_path: requested_path.into(),
            oper_status: Some(OperationStatus {
                oper_status: Some(OperStatus::OperSuccess(OperationSuccess {
                    deregistered_path: strings(paths),
                })),
            }),
        }
    }

    /// A path that could not be deregistered.
    pub fn failure(requested_path: impl Into<String>, code: ErrCode, err_msg: impl Into<String>) -> Self {
        use deregister_resp::deregistered_path_result::{OperationStatus, operation_status::*};
        Self {
            requested_path: requested_path.into(),
            oper_status: Some(OperationStatus {
                oper_status: Some(OperStatus::OperFailure(OperationFailure {
                    err_code: code.0,
                    err_msg: err_msg.into(),
                })),
            }),
        }
    }
}

impl DeregisterResp {
    /// A DeregisterResp of per-path results.
    pub fn new(deregistered_path_results: Vec<deregister_resp::DeregisteredPathResult>) -> DeregisterResp {
        DeregisterResp { deregistered_path_results }
    }
}
