//! `uspmesh delete`: delete rows (USP Delete).

use clap::Args;
use serde_json::{Value, json};
use usp_endpoint::controller::result::DeleteOutcome;
use usp_proto::usp::Delete;

use super::{CliError, UspFailure, args::TargetArgs, render, session::Session};

/// Arguments of `uspmesh delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// Rows to delete, e.g. `Device.LocalAgent.Subscription.4.` or
    /// `Device.LocalAgent.Subscription.[ID=="x"].`.
    #[arg(value_name = "ROW", required = true)]
    paths: Vec<String>,
    /// Delete what can be deleted when some rows cannot.
    #[arg(long)]
    allow_partial: bool,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs `uspmesh delete`.
pub(crate) async fn run(args: DeleteArgs) -> Result<(), CliError> {
    if let Some(bad) = args.paths.iter().find(|p| !p.ends_with('.')) {
        return Err(CliError::Usage(format!("{bad:?} is not a row path: it must end with '.'")));
    }
    let delete = Delete::new(args.allow_partial, args.paths.iter().cloned());
    let session = Session::open(&args.target).await?;
    let answer = session.client.delete(&args.target.to, delete).await;
    session.close().await;
    let outcomes = args.target.answer(answer)?;
    render::conclude(args.target.json, || to_json(&outcomes), || to_text(&outcomes), failures(&outcomes))
}

fn failures(outcomes: &[DeleteOutcome]) -> Vec<UspFailure> {
    let mut out = Vec::new();
    for o in outcomes {
        match &o.result {
            Ok(d) => out.extend(d.unaffected.iter().map(|u| UspFailure {
                code: u.code,
                path: Some(u.path.clone()),
                message: u.message.clone(),
            })),
            Err(f) => out.push(render::failure(f.code.0, &o.requested_path, &f.message)),
        }
    }
    out
}

/// One deleted row per line.
fn to_text(outcomes: &[DeleteOutcome]) -> String {
    outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .flat_map(|d| d.affected_paths.iter())
        .map(|p| format!("{p}\n"))
        .collect()
}

/// `{"results": [{"requested_path", "deleted": [...], "errors": [...]} | {"requested_path", "error"}]}`.
fn to_json(outcomes: &[DeleteOutcome]) -> Value {
    let results: Vec<Value> = outcomes
        .iter()
        .map(|o| match &o.result {
            Ok(d) => json!({
                "requested_path": o.requested_path,
                "deleted": d.affected_paths,
                "errors": d.unaffected.iter().map(|u| render::failure(u.code.0, &u.path, &u.message).to_json()).collect::<Vec<_>>(),
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
    use usp_endpoint::controller::result::{Deleted, PathFailure};
    use usp_proto::ErrCode;

    #[test]
    fn deleted_and_refused() {
        let outcomes = vec![DeleteOutcome {
            requested_path: "Device.LocalAgent.Subscription.*.".into(),
            result: Ok(Deleted {
                affected_paths: vec!["Device.LocalAgent.Subscription.4.".into()],
                unaffected: vec![PathFailure {
                    path: "Device.LocalAgent.Subscription.5.".into(),
                    code: ErrCode::PERMISSION_DENIED,
                    message: "not yours".into(),
                }],
            }),
        }];
        assert_eq!(to_text(&outcomes), "Device.LocalAgent.Subscription.4.\n");
        assert_eq!(
            failures(&outcomes)[0].to_string(),
            "7006 Permission denied: Device.LocalAgent.Subscription.5.: not yours"
        );
        assert_eq!(to_json(&outcomes)["results"][0]["errors"][0]["code"], 7006);
    }
}
