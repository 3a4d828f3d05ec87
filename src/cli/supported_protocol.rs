//! `uspmesh supported-protocol`: the USP versions an Agent supports (USP
//! GetSupportedProtocol).

use clap::Args;
use serde_json::json;

use super::{CliError, args::TargetArgs, render, session::Session};

/// Arguments of `uspmesh supported-protocol`.
#[derive(Debug, Args)]
pub(crate) struct SupportedProtocolArgs {
    /// The versions we announce (comma-separated).
    #[arg(long, value_name = "VERSIONS", default_value = "1.3,1.4")]
    versions: String,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs `uspmesh supported-protocol`: prints the Agent's versions, e.g.
/// `1.3,1.4`; `--json` prints `{"versions": ["1.3", "1.4"]}`.
pub(crate) async fn run(args: SupportedProtocolArgs) -> Result<(), CliError> {
    let session = Session::open(&args.target).await?;
    let answer = session.client.get_supported_protocol(&args.target.to, &args.versions).await;
    session.close().await;
    let resp = args.target.answer(answer)?;
    let versions = resp.agent_supported_protocol_versions;
    if args.target.json {
        let list: Vec<&str> = versions.split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
        render::print_json(&json!({ "versions": list }))
    } else {
        render::print(&format!("{versions}\n"))
    }
}
