//! GetSupportedDM (records-and-messages.md §7).
//!
//! Each path is a Supported-DM path (`Device.IoTCapability.{i}.`, the final
//! `{i}.` may be omitted) or an instantiated path of an existing object,
//! answered with its schema. An object path gives the object and its whole
//! subtree — or, with `first_level_only`, the object and its direct
//! children listed bare — with the commands, events, parameters and unique
//! key sets the flags ask for; a parameter, command or event path gives
//! only that element, flags ignored (USP 1.4).
//!
//! * Codes: 7008 bad syntax (or a `*`/search in a supported path); 7026 not
//!   in the Supported DM (or `{i}` missing mid-path); 7016 an instantiated
//!   path naming a row that does not exist.
//! * R-GSP.0: objects without Obj `r`, parameters without Param `r`,
//!   commands and events without CommandEvent `r` are absent.
//! * `data_model_inst_uri` is the Agent's configured data-model URI.
//!   `divergent_paths` are not reported: the schema has no mount points
//!   whose rows differ.

use usp_proto::usp::{GetSupportedDm, GetSupportedDmResp, get_supported_dm_resp::RequestedObjectResult};

use super::permissions::{Access, SupportedView};
use crate::datamodel::{DataModel, GsdmOptions, SchemaNode};
use crate::path::Path;

/// Answers a GetSupportedDM.
pub(crate) fn handle(dm: &DataModel, access: &Access, uri: &str, req: &GetSupportedDm) -> GetSupportedDmResp {
    let opts = GsdmOptions {
        first_level_only: req.first_level_only,
        commands: req.return_commands,
        events: req.return_events,
        params: req.return_params,
        unique_key_sets: req.return_unique_key_sets,
    };
    let view = SupportedView { access, dm };
    let results = req
        .obj_paths
        .iter()
        .map(|text| {
            let failure = |code: usp_proto::ErrCode, msg: String| RequestedObjectResult {
                req_obj_path: text.clone(),
                err_code: code.0,
                err_msg: msg,
                ..Default::default()
            };
            let path = match Path::parse_supported(text) {
                Ok(p) => p,
                Err(e) => return failure(e.code(), e.to_string()),
            };
            let node = match dm.resolve_supported(&path, &view) {
                Ok(n) => n,
                Err(e) => return failure(e.code(), e.to_string()),
            };
            if !view.shows(node) {
                // The path's last element itself (`Device.` included).
                return failure(
                    usp_proto::ErrCode::INVALID_PATH,
                    format!("{text}: not in the supported data model"),
                );
            }
            let supported_objs = match node {
                SchemaNode::Object(obj) => dm.schema().gsdm_objects(obj, &opts, &|n| view.shows(n)),
                element => dm.schema().gsdm_element(element).into_iter().collect(),
            };
            RequestedObjectResult {
                req_obj_path: text.clone(),
                data_model_inst_uri: uri.to_owned(),
                supported_objs,
                ..Default::default()
            }
        })
        .collect();
    GetSupportedDmResp { req_obj_results: results }
}
