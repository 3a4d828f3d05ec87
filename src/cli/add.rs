//! `uspmesh add`: create a row (USP Add).

use clap::Args;
use serde_json::{Value, json};
use usp_endpoint::controller::result::AddOutcome;
use usp_proto::usp::{Add, add::CreateObject};

use super::{CliError, UspFailure, args::TargetArgs, render, session::Session, settings};

/// Arguments of `uspmesh add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The table, e.g. `Device.LocalAgent.Subscription.` (a search or
    /// wildcard in a parent adds one row per match).
    #[arg(value_name = "TABLE")]
    table: String,
    /// Parameters of the new row, `NAME=VALUE` (a name may be a relative
    /// path such as `Sub.Param`).
    #[arg(value_name = "PARAM=VALUE", value_parser = settings::name_value)]
    params: Vec<(String, String)>,
    /// Let the Agent create the rows that succeed when others fail.
    #[arg(long)]
    allow_partial: bool,
    /// Mark the parameters not required: the row is created even when some
    /// of them fail (they are reported).
    #[arg(long)]
    optional: bool,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs `uspmesh add`.
pub(crate) async fn run(args: AddArgs) -> Result<(), CliError> {
    if !args.table.ends_with('.') {
        return Err(CliError::Usage(format!("{:?} is not a table path: it must end with '.'", args.table)));
    }
    let mut object = CreateObject::new(args.table.clone());
    for (name, value) in &args.params {
        object = if args.optional {
            object.param(name.clone(), value.clone())
        } else {
            object.required(name.clone(), value.clone())
        };
    }
    let add = Add::new(args.allow_partial).object(object);
    let session = Session::open(&args.target).await?;
    let answer = session.client.add(&args.target.to, add).await;
    session.close().await;
    let outcomes = args.target.answer(answer)?;
    render::conclude(args.target.json, || to_json(&outcomes), || to_text(&outcomes), failures(&outcomes))
}

fn failures(outcomes: &[AddOutcome]) -> Vec<UspFailure> {
    let mut out = Vec::new();
    for o in outcomes {
        match &o.result {
            Ok(created) => out.extend(created.param_errs.iter().map(|p| UspFailure {
                code: p.code,
                path: Some(format!("{}{}", created.instantiated_path, p.param)),
                message: p.message.clone(),
            })),
            Err(f) => out.push(render::failure(f.code.0, &o.requested_path, &f.message)),
        }
    }
    out
}

/// The new row's path, then its unique keys indented below it.
fn to_text(outcomes: &[AddOutcome]) -> String {
    let mut out = String::new();
    for created in outcomes.iter().filter_map(|o| o.result.as_ref().ok()) {
        out.push_str(&created.instantiated_path);
        out.push('\n');
        for (k, v) in &created.unique_keys {
            out.push_str(&format!("  {}\n", render::assignment(k, v)));
        }
    }
    out
}

/// `{"results": [{"requested_path", "instantiated_path", "unique_keys", "errors"} | {"requested_path", "error"}]}`.
fn to_json(outcomes: &[AddOutcome]) -> Value {
    let results: Vec<Value> = outcomes
        .iter()
        .map(|o| match &o.result {
            Ok(c) => json!({
                "requested_path": o.requested_path,
                "instantiated_path": c.instantiated_path,
                "unique_keys": render::string_map(&c.unique_keys),
                "errors": c.param_errs.iter().map(|p| UspFailure {
                    code: p.code,
                    path: Some(format!("{}{}", c.instantiated_path, p.param)),
                    message: p.message.clone(),
                }.to_json()).collect::<Vec<_>>(),
            }),
            Err(f) => json!({
                "requested_path": o.requested_path,
                "error": render::failure(f.code.0, "", &f.message).to_json(),
            }),
        })
        .collect();
    json!({ "results": results })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use usp_endpoint::controller::result::{Created, Failure};
    use usp_proto::ErrCode;

    #[test]
    fn rows_and_errors() {
        let outcomes = vec![
            AddOutcome {
                requested_path: "Device.LocalAgent.Subscription.".into(),
                result: Ok(Created {
                    instantiated_path: "Device.LocalAgent.Subscription.4.".into(),
                    unique_keys: BTreeMap::from([
                        ("Alias".into(), "cpe-4".into()),
                        ("ID".into(), "x".into()),
                    ]),
                    param_errs: vec![],
                }),
            },
            AddOutcome {
                requested_path: "Device.Node.".into(),
                result: Err(Failure { code: ErrCode(7019), message: "not creatable".into() }),
            },
        ];
        assert_eq!(to_text(&outcomes), "Device.LocalAgent.Subscription.4.\n  Alias = cpe-4\n  ID = x\n");
        assert_eq!(
            failures(&outcomes)[0].to_string(),
            "7019 Attempt to create non-creatable object: Device.Node.: not creatable"
        );
        let v = to_json(&outcomes);
        assert_eq!(v["results"][0]["unique_keys"]["ID"], "x");
        assert_eq!(v["results"][1]["error"]["code"], 7019);
    }
}
