//! `uspmesh operate`: run a command (USP Operate), and with `--wait`
//! follow an asynchronous command to its OperationComplete.
//!
//! `--wait` subscribes to OperationComplete on the command's path (or on
//! `Device.` when the path cannot be a ReferenceList item) *before*
//! operating, so that a command completing at once is not missed; each
//! started command is matched to its completion by its `command_key` and
//! its path. The subscription is removed afterwards.

use std::collections::BTreeMap;

use clap::Args;
use serde_json::{Value, json};
use usp_endpoint::controller::{
    NotifType, SubscriptionSpec,
    result::{CommandOutcome, CommandResult},
};
use usp_proto::usp::{
    Operate,
    notify::{Notification, operation_complete::OperationResp},
};

use super::{CliError, UspFailure, args::TargetArgs, duration, render, session::Session, settings};

/// Arguments of `uspmesh operate`.
#[derive(Debug, Args)]
pub(crate) struct OperateArgs {
    /// The command, e.g. `Device.Node.2.IoTCapability.1.BinaryControl.Toggle()`
    /// (with wildcards or searches it runs on every match).
    #[arg(value_name = "COMMAND")]
    command: String,
    /// An input argument, `NAME=VALUE` (repeat for several).
    #[arg(long = "arg", short = 'a', value_name = "NAME=VALUE", value_parser = settings::name_value)]
    args: Vec<(String, String)>,
    /// The `command_key` (default: a fresh unique one).
    #[arg(long, value_name = "KEY")]
    command_key: Option<String>,
    /// Wait until asynchronous commands complete and show their output
    /// (bounded by --timeout).
    #[arg(long, short = 'w')]
    wait: bool,
    #[command(flatten)]
    target: TargetArgs,
}

/// What became of one executed command.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Done {
    /// Finished with these output arguments.
    Output(BTreeMap<String, String>),
    /// Running, followed in this Request row.
    Started(String),
    /// Failed.
    Failed(UspFailure),
}

/// Runs `uspmesh operate`.
pub(crate) async fn run(args: OperateArgs) -> Result<(), CliError> {
    if !args.command.ends_with(')') {
        return Err(CliError::Usage(format!(
            "{:?} is not a command path: it must end with '()'",
            args.command
        )));
    }
    let key = args.command_key.clone().unwrap_or_else(|| format!("uspmesh-{}", unique()));
    let operate = Operate::new(args.command.clone(), key.clone())
        .args(args.args.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut session = Session::open(&args.target).await?;
    let result = execute(&mut session, &args, operate, &key).await;
    session.close().await;
    let results = result?;
    let failures: Vec<UspFailure> = results
        .iter()
        .filter_map(|(_, d)| match d {
            Done::Failed(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    render::conclude(args.target.json, || to_json(&key, &results), || to_text(&results), failures)
}

/// A random hexadecimal token for keys and subscription IDs.
pub(crate) fn unique() -> String {
    format!("{:012x}", getrandom::u64().unwrap_or_else(|_| u64::from(std::process::id())) & 0xffff_ffff_ffff)
}

async fn execute(
    session: &mut Session,
    args: &OperateArgs,
    operate: Operate,
    key: &str,
) -> Result<Vec<(String, Done)>, CliError> {
    let to = &args.target.to;
    let subscription = if args.wait {
        let reference =
            if SubscriptionSpec::new("x", NotifType::OperationComplete, [args.command.as_str()]).is_ok() {
                args.command.as_str()
            } else {
                "Device."
            };
        let spec = SubscriptionSpec::new(
            format!("uspmesh-operate-{}", unique()),
            NotifType::OperationComplete,
            [reference],
        )
        .map_err(|e| CliError::Usage(e.to_string()))?;
        Some(args.target.answer(session.client.subscribe(to, &spec).await)?)
    } else {
        None
    };
    let outcomes = args.target.answer(session.client.operate(to, operate).await);
    let mut results: Vec<(String, Done)> = outcomes?.into_iter().map(done).collect();
    if let Some(subscription) = subscription {
        let waited = tokio::time::timeout(
            args.target.timeout,
            wait_for_completions(session, subscription.id(), key, &mut results),
        )
        .await;
        if let Err(e) = subscription.unsubscribe().await {
            eprintln!("warning: could not remove the OperationComplete subscription: {e}");
        }
        if waited.is_err() {
            let running: Vec<&str> = results
                .iter()
                .filter(|(_, d)| matches!(d, Done::Started(_)))
                .map(|(c, _)| c.as_str())
                .collect();
            return Err(CliError::Timeout(format!(
                "{} did not complete within {}: raise --timeout, or look at its Device.LocalAgent.Request row",
                running.join(", "),
                duration::show(args.target.timeout)
            )));
        }
    }
    Ok(results)
}

fn done(o: CommandOutcome) -> (String, Done) {
    let d = match o.result {
        CommandResult::Output(args) => Done::Output(args),
        CommandResult::Started { request_path } => Done::Started(request_path),
        CommandResult::Failed(f) => Done::Failed(render::failure(f.code.0, &o.executed_command, &f.message)),
    };
    (o.executed_command, d)
}

/// Replaces each `Started` with its completion as it arrives.
async fn wait_for_completions(
    session: &mut Session,
    subscription_id: &str,
    key: &str,
    results: &mut [(String, Done)],
) {
    while results.iter().any(|(_, d)| matches!(d, Done::Started(_))) {
        let Some(n) = session.notifications.next_notification().await else { return };
        if n.subscription_id() != subscription_id {
            continue;
        }
        let Some(Notification::OperComplete(c)) = n.kind() else { continue };
        if c.command_key != key {
            continue;
        }
        let command = format!("{}{}", c.obj_path, c.command_name);
        if let Some((_, d)) =
            results.iter_mut().find(|(cmd, d)| *cmd == command && matches!(d, Done::Started(_)))
        {
            *d = match &c.operation_resp {
                Some(OperationResp::CmdFailure(f)) => {
                    Done::Failed(render::failure(f.err_code, &command, &f.err_msg))
                }
                Some(OperationResp::ReqOutputArgs(o)) => Done::Output(o.output_args.clone()),
                None => Done::Output(BTreeMap::new()),
            };
        }
    }
}

/// `COMMAND done` with output arguments indented below, or `COMMAND
/// started: REQUEST` (failures go to standard error).
fn to_text(results: &[(String, Done)]) -> String {
    let mut out = String::new();
    for (command, d) in results {
        match d {
            Done::Output(args) => {
                out.push_str(&format!("{command} done\n"));
                for (k, v) in args {
                    out.push_str(&format!("  {}\n", render::assignment(k, v)));
                }
            }
            Done::Started(request) => out.push_str(&format!("{command} started: {request}\n")),
            Done::Failed(_) => {}
        }
    }
    out
}

/// `{"command_key", "results": [{"command", "status": "done"|"started"|"failed", …}]}`.
fn to_json(key: &str, results: &[(String, Done)]) -> Value {
    let items: Vec<Value> = results
        .iter()
        .map(|(command, d)| match d {
            Done::Output(args) => {
                json!({"command": command, "status": "done", "output_args": render::string_map(args)})
            }
            Done::Started(request) => {
                json!({"command": command, "status": "started", "request_path": request})
            }
            Done::Failed(f) => json!({"command": command, "status": "failed", "error": f.to_json()}),
        })
        .collect();
    json!({"command_key": key, "results": items})
}

#[cfg(test)]
mod tests {
    use super::*;
    use usp_proto::ErrCode;

    #[test]
    fn results() {
        let results = vec![
            ("Device.A.Sync()".to_owned(), Done::Output(BTreeMap::from([("Out".into(), "1".into())]))),
            ("Device.A.Async()".to_owned(), Done::Started("Device.LocalAgent.Request.3.".into())),
            (
                "Device.A.Bad()".to_owned(),
                Done::Failed(UspFailure {
                    code: ErrCode(7022),
                    path: Some("Device.A.Bad()".into()),
                    message: "boom".into(),
                }),
            ),
        ];
        assert_eq!(
            to_text(&results),
            "Device.A.Sync() done\n  Out = 1\nDevice.A.Async() started: Device.LocalAgent.Request.3.\n"
        );
        let v = to_json("k", &results);
        assert_eq!(v["command_key"], "k");
        assert_eq!(v["results"][0]["output_args"]["Out"], "1");
        assert_eq!(v["results"][1]["request_path"], "Device.LocalAgent.Request.3.");
        assert_eq!(v["results"][2]["error"]["code"], 7022);
        assert_eq!(unique().len(), 12);
    }
}
