//! `uspmesh instances`: list table rows with their unique keys (USP
//! GetInstances).

use clap::Args;
use serde_json::{Value, json};
use usp_proto::usp::{GetInstances, GetInstancesResp};

use super::{CliError, UspFailure, args::TargetArgs, render, session::Session};

/// Arguments of `uspmesh instances`.
#[derive(Debug, Args)]
pub(crate) struct InstancesArgs {
    /// Tables or rows, e.g. `Device.Node.` or `Device.Node.*.IoTCapability.`.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
    /// Only the rows of the named tables, not of the tables below them.
    #[arg(long)]
    first_level_only: bool,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs `uspmesh instances`.
pub(crate) async fn run(args: InstancesArgs) -> Result<(), CliError> {
    let request = GetInstances::new(args.paths.iter().cloned(), args.first_level_only);
    let session = Session::open(&args.target).await?;
    let answer = session.client.get_instances(&args.target.to, request).await;
    session.close().await;
    let resp = args.target.answer(answer)?;
    let failures: Vec<UspFailure> = resp
        .req_path_results
        .iter()
        .filter(|r| r.err_code != 0)
        .map(|r| render::failure(r.err_code, &r.requested_path, &r.err_msg))
        .collect();
    render::conclude(args.target.json, || to_json(&resp), || to_text(&resp), failures)
}

/// One row per line: its path, then its unique keys.
fn to_text(resp: &GetInstancesResp) -> String {
    let mut out = String::new();
    for inst in resp.req_path_results.iter().filter(|r| r.err_code == 0).flat_map(|r| &r.curr_insts) {
        out.push_str(&inst.instantiated_obj_path);
        if !inst.unique_keys.is_empty() {
            out.push_str("  ");
            out.push_str(&render::inline_map(&inst.unique_keys));
        }
        out.push('\n');
    }
    out
}

/// `{"results": [{"requested_path", "instances": [{"path", "unique_keys"}]} | {"requested_path", "error"}]}`.
fn to_json(resp: &GetInstancesResp) -> Value {
    let results: Vec<Value> = resp
        .req_path_results
        .iter()
        .map(|r| {
            if r.err_code != 0 {
                return json!({
                    "requested_path": r.requested_path,
                    "error": render::failure(r.err_code, "", &r.err_msg).to_json(),
                });
            }
            let instances: Vec<Value> = r
                .curr_insts
                .iter()
                .map(|i| json!({"path": i.instantiated_obj_path, "unique_keys": render::string_map(&i.unique_keys)}))
                .collect();
            json!({"requested_path": r.requested_path, "instances": instances})
        })
        .collect();
    json!({ "results": results })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use usp_proto::usp::get_instances_resp::{CurrInstance, RequestedPathResult};

    #[test]
    fn rows_with_keys() {
        let resp = GetInstancesResp {
            req_path_results: vec![RequestedPathResult {
                requested_path: "Device.Node.".into(),
                err_code: 0,
                err_msg: String::new(),
                curr_insts: vec![
                    CurrInstance {
                        instantiated_obj_path: "Device.Node.1.".into(),
                        unique_keys: BTreeMap::from([("Alias".into(), "r101-sensor".into())]),
                    },
                    CurrInstance {
                        instantiated_obj_path: "Device.Node.1.IoTCapability.1.".into(),
                        unique_keys: BTreeMap::new(),
                    },
                ],
            }],
        };
        assert_eq!(to_text(&resp), "Device.Node.1.  Alias=r101-sensor\nDevice.Node.1.IoTCapability.1.\n");
        assert_eq!(to_json(&resp)["results"][0]["instances"][0]["unique_keys"]["Alias"], "r101-sensor");
    }
}
