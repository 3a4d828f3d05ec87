//! `uspmesh get`: read parameters (USP Get).

use clap::Args;
use serde_json::{Map, Value, json};
use usp_proto::usp::{Get, GetResp};

use super::{CliError, UspFailure, args::TargetArgs, render, session::Session};

/// Arguments of `uspmesh get`.
#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// Paths to read: a parameter (`Device.DeviceInfo.SerialNumber`), an
    /// object or row (`Device.Node.1.`, everything below it), with
    /// wildcards (`Device.Node.*.IoTCapability.*.Name`) or searches
    /// (`Device.Node.*.IoTCapability.[Name=="r101-temp"].`).
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
    /// How many levels below an object path to return (0 or absent: all).
    #[arg(long, value_name = "N")]
    max_depth: Option<u32>,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs `uspmesh get`.
pub(crate) async fn run(args: GetArgs) -> Result<(), CliError> {
    let mut get = Get::new(args.paths.iter().cloned());
    if let Some(depth) = args.max_depth {
        get = get.with_max_depth(depth);
    }
    let session = Session::open(&args.target).await?;
    let answer = session.client.get_with(&args.target.to, get).await;
    session.close().await;
    let resp = args.target.answer(answer)?;
    render::conclude(args.target.json, || to_json(&resp), || to_text(&resp), failures(&resp))
}

/// The requested paths the Agent could not answer.
fn failures(resp: &GetResp) -> Vec<UspFailure> {
    resp.req_path_results
        .iter()
        .filter(|r| r.err_code != 0)
        .map(|r| render::failure(r.err_code, &r.requested_path, &r.err_msg))
        .collect()
}

/// One `path = value` line per parameter, in the Agent's order of
/// objects and by name within each; an object without parameters (cut by
/// `--max-depth`, or empty) is listed by its path alone.
fn to_text(resp: &GetResp) -> String {
    let mut out = String::new();
    for requested in resp.req_path_results.iter().filter(|r| r.err_code == 0) {
        for resolved in &requested.resolved_path_results {
            if resolved.result_params.is_empty() {
                out.push_str(&resolved.resolved_path);
                out.push('\n');
            }
            for (name, value) in &resolved.result_params {
                out.push_str(&render::assignment(&format!("{}{name}", resolved.resolved_path), value));
                out.push('\n');
            }
        }
    }
    out
}

/// `{"results": [{"requested_path", "params": {full path: value}} |
/// {"requested_path", "error": {…}}]}`.
fn to_json(resp: &GetResp) -> Value {
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
            let mut params = Map::new();
            let mut objects = Vec::new();
            for resolved in &r.resolved_path_results {
                objects.push(Value::String(resolved.resolved_path.clone()));
                for (name, value) in &resolved.result_params {
                    params.insert(format!("{}{name}", resolved.resolved_path), Value::String(value.clone()));
                }
            }
            json!({"requested_path": r.requested_path, "resolved_paths": objects, "params": params})
        })
        .collect();
    json!({ "results": results })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use usp_proto::usp::get_resp::{RequestedPathResult, ResolvedPathResult};

    fn resp() -> GetResp {
        GetResp {
            req_path_results: vec![
                RequestedPathResult {
                    requested_path: "Device.Node.1.IoTCapability.*.LevelSensor.".into(),
                    err_code: 0,
                    err_msg: String::new(),
                    resolved_path_results: vec![ResolvedPathResult {
                        resolved_path: "Device.Node.1.IoTCapability.1.LevelSensor.".into(),
                        result_params: BTreeMap::from([
                            ("Value".into(), "21.5".into()),
                            ("Unit".into(), "degC".into()),
                            ("Description".into(), String::new()),
                        ]),
                    }],
                },
                RequestedPathResult {
                    requested_path: "Device.Foo.".into(),
                    err_code: 7026,
                    err_msg: "object does not exist".into(),
                    resolved_path_results: vec![],
                },
            ],
        }
    }

    #[test]
    fn text_lists_full_paths() {
        assert_eq!(
            to_text(&resp()),
            "Device.Node.1.IoTCapability.1.LevelSensor.Description = \"\"\n\
             Device.Node.1.IoTCapability.1.LevelSensor.Unit = degC\n\
             Device.Node.1.IoTCapability.1.LevelSensor.Value = 21.5\n"
        );
        assert_eq!(failures(&resp())[0].to_string(), "7026 Invalid path: Device.Foo.: object does not exist");
    }

    #[test]
    fn json_keeps_errors_per_path() {
        let v = to_json(&resp());
        assert_eq!(v["results"][0]["params"]["Device.Node.1.IoTCapability.1.LevelSensor.Value"], "21.5");
        assert_eq!(v["results"][0]["resolved_paths"][0], "Device.Node.1.IoTCapability.1.LevelSensor.");
        assert_eq!(v["results"][1]["error"]["code"], 7026);
        assert_eq!(v["results"][1]["error"]["name"], "Invalid path");
    }
}
