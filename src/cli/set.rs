//! `uspmesh set`: change parameters (USP Set).

use clap::Args;
use serde_json::{Map, Value, json};
use usp_endpoint::controller::result::{ParamFailure, SetOutcome};
use usp_proto::usp::{Set, set::UpdateObject};

use super::{
    CliError, UspFailure,
    args::TargetArgs,
    render,
    session::Session,
    settings::{self, Setting},
};

/// Arguments of `uspmesh set`.
#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    /// Settings `OBJECT.PARAM=VALUE`, e.g.
    /// `Device.Node.2.IoTCapability.2.LevelControl.Value=70`; the object
    /// may use wildcards or searches
    /// (`Device.Node.2.IoTCapability.[Name=="r101-light-dim"].LevelControl.Value=70`).
    #[arg(value_name = "SETTING", required = true, value_parser = settings::setting)]
    settings: Vec<Setting>,
    /// Let the Agent apply the objects that succeed when others fail
    /// (`allow_partial`); without it the Set is all or nothing.
    #[arg(long)]
    allow_partial: bool,
    /// Mark the parameters not required: an object is updated even when
    /// some of its parameters fail (they are reported).
    #[arg(long)]
    optional: bool,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs `uspmesh set`.
pub(crate) async fn run(args: SetArgs) -> Result<(), CliError> {
    let mut set = Set::new(args.allow_partial);
    for (object, items) in settings::by_object(&args.settings) {
        let mut update = UpdateObject::new(object);
        for s in items {
            update = if args.optional {
                update.param(s.param.clone(), s.value.clone())
            } else {
                update.required(s.param.clone(), s.value.clone())
            };
        }
        set = set.object(update);
    }
    let session = Session::open(&args.target).await?;
    let answer = session.client.set(&args.target.to, set).await;
    session.close().await;
    let outcomes = args.target.answer(answer)?;
    render::conclude(args.target.json, || to_json(&outcomes), || to_text(&outcomes), failures(&outcomes))
}

fn param_failure(object: &str, p: &ParamFailure) -> UspFailure {
    UspFailure { code: p.code, path: Some(format!("{object}{}", p.param)), message: p.message.clone() }
}

/// Every failure: failed objects (with their failing parameters when the
/// Agent named them) and non-required parameters that failed.
fn failures(outcomes: &[SetOutcome]) -> Vec<UspFailure> {
    let mut out = Vec::new();
    for o in outcomes {
        match &o.result {
            Ok(updated) => {
                for u in updated {
                    out.extend(u.param_errs.iter().map(|p| param_failure(&u.affected_path, p)));
                }
            }
            Err(f) => {
                out.push(UspFailure {
                    code: f.code,
                    path: Some(o.requested_path.clone()),
                    message: f.message.clone(),
                });
                for i in &f.instances {
                    out.extend(i.param_errs.iter().map(|p| param_failure(&i.affected_path, p)));
                }
            }
        }
    }
    out
}

/// One `path = value` line per updated parameter, as the Agent reports it.
fn to_text(outcomes: &[SetOutcome]) -> String {
    let mut out = String::new();
    for updated in outcomes.iter().filter_map(|o| o.result.as_ref().ok()).flatten() {
        for (name, value) in &updated.updated_params {
            out.push_str(&render::assignment(&format!("{}{name}", updated.affected_path), value));
            out.push('\n');
        }
    }
    out
}

/// `{"results": [{"requested_path", "updated": {full path: value}, "errors": [...]}
/// | {"requested_path", "error", "errors"}]}`.
fn to_json(outcomes: &[SetOutcome]) -> Value {
    let results: Vec<Value> = outcomes
        .iter()
        .map(|o| match &o.result {
            Ok(updated) => {
                let mut params = Map::new();
                let mut errors = Vec::new();
                for u in updated {
                    for (name, value) in &u.updated_params {
                        params.insert(format!("{}{name}", u.affected_path), Value::String(value.clone()));
                    }
                    errors.extend(u.param_errs.iter().map(|p| param_failure(&u.affected_path, p).to_json()));
                }
                json!({"requested_path": o.requested_path, "updated": params, "errors": errors})
            }
            Err(f) => {
                let errors: Vec<Value> = f
                    .instances
                    .iter()
                    .flat_map(|i| i.param_errs.iter().map(|p| param_failure(&i.affected_path, p).to_json()))
                    .collect();
                json!({
                    "requested_path": o.requested_path,
                    "error": render::failure(f.code.0, "", &f.message).to_json(),
                    "errors": errors,
                })
            }
        })
        .collect();
    json!({ "results": results })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use usp_endpoint::controller::result::{InstanceFailure, SetFailure, Updated};
    use usp_proto::ErrCode;

    fn outcomes() -> Vec<SetOutcome> {
        vec![
            SetOutcome {
                requested_path: "Device.Node.2.IoTCapability.*.LevelControl.".into(),
                result: Ok(vec![Updated {
                    affected_path: "Device.Node.2.IoTCapability.2.LevelControl.".into(),
                    updated_params: BTreeMap::from([("Value".into(), "70".into())]),
                    param_errs: vec![],
                }]),
            },
            SetOutcome {
                requested_path: "Device.Node.3.IoTCapability.1.LevelControl.".into(),
                result: Err(SetFailure {
                    code: ErrCode::REQUIRED_PARAM_FAILED,
                    message: "required parameter failed".into(),
                    instances: vec![InstanceFailure {
                        affected_path: "Device.Node.3.IoTCapability.1.LevelControl.".into(),
                        param_errs: vec![ParamFailure {
                            param: "Value".into(),
                            code: ErrCode::INVALID_VALUE,
                            message: "outside 16..28".into(),
                        }],
                    }],
                }),
            },
        ]
    }

    #[test]
    fn text_and_failures() {
        assert_eq!(to_text(&outcomes()), "Device.Node.2.IoTCapability.2.LevelControl.Value = 70\n");
        let f: Vec<String> = failures(&outcomes()).iter().map(ToString::to_string).collect();
        assert_eq!(
            f,
            [
                "7021 Required parameter failed: Device.Node.3.IoTCapability.1.LevelControl.: required parameter failed",
                "7012 Invalid value: Device.Node.3.IoTCapability.1.LevelControl.Value: outside 16..28",
            ]
        );
    }

    #[test]
    fn json() {
        let v = to_json(&outcomes());
        assert_eq!(v["results"][0]["updated"]["Device.Node.2.IoTCapability.2.LevelControl.Value"], "70");
        assert_eq!(v["results"][1]["error"]["code"], 7021);
        assert_eq!(v["results"][1]["errors"][0]["path"], "Device.Node.3.IoTCapability.1.LevelControl.Value");
    }
}
