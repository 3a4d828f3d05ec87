//! `uspmesh watch`: subscribe, print notifications as they arrive, and
//! remove the subscription on exit.
//!
//! The subscription is a `Device.LocalAgent.Subscription.` row with a
//! fresh ID (`uspmesh-watch-<random>`, or `--id`), not persistent, so an
//! Agent restart forgets it. It is removed when the command ends: on
//! Ctrl-C or SIGTERM, after `--count` notifications or `--duration`. A
//! `kill -9` leaves it behind (give `--ttl` so that the Agent expires it
//! by itself). Only notifications of this subscription are printed:
//! several CLI commands may share a Controller Endpoint ID and so a reply
//! topic.

use std::time::{Duration, SystemTime};

use clap::{Args, ValueEnum};
use usp_endpoint::controller::{NotifType, SubscriptionSpec};

use super::{CliError, args::TargetArgs, duration, operate::unique, render, session::Session};
use crate::signal::StopSignals;

/// `Subscription.{i}.NotifType` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum NotifArg {
    /// Parameter value changes.
    #[value(name = "ValueChange")]
    ValueChange,
    /// Events (`Name!`).
    #[value(name = "Event")]
    Event,
    /// New rows.
    #[value(name = "ObjectCreation")]
    ObjectCreation,
    /// Removed rows.
    #[value(name = "ObjectDeletion")]
    ObjectDeletion,
    /// Asynchronous commands finishing.
    #[value(name = "OperationComplete")]
    OperationComplete,
}

impl From<NotifArg> for NotifType {
    fn from(n: NotifArg) -> NotifType {
        match n {
            NotifArg::ValueChange => NotifType::ValueChange,
            NotifArg::Event => NotifType::Event,
            NotifArg::ObjectCreation => NotifType::ObjectCreation,
            NotifArg::ObjectDeletion => NotifType::ObjectDeletion,
            NotifArg::OperationComplete => NotifType::OperationComplete,
        }
    }
}

/// Arguments of `uspmesh watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// What to be told about.
    #[arg(long, value_name = "TYPE", ignore_case = true, default_value = "ValueChange")]
    notif: NotifArg,
    /// What to watch (the subscription's ReferenceList): parameters or
    /// objects for ValueChange (`Device.Node.1.IoTCapability.*.LevelSensor.Value`),
    /// tables for ObjectCreation/ObjectDeletion, events (`Device.Boot!`) or
    /// commands (`…Toggle()`), or objects holding them.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
    /// Stop after this many notifications.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Stop after this long (e.g. 30s, 5m).
    #[arg(long = "for", value_name = "DURATION", value_parser = duration::parse)]
    for_: Option<Duration>,
    /// The subscription ID (default: uspmesh-watch-<random>).
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Ask the Agent to retry each notification until we acknowledge it
    /// (NotifRetry).
    #[arg(long)]
    retry: bool,
    /// Let the Agent delete the subscription by itself after this many
    /// seconds (TimeToLive), in case this command is killed without
    /// cleaning up.
    #[arg(long, value_name = "SECONDS")]
    ttl: Option<u32>,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs `uspmesh watch`: one line per notification (`TIME FROM TYPE …`),
/// or with `--json` one JSON object per line.
pub(crate) async fn run(args: WatchArgs) -> Result<(), CliError> {
    let mut signals = StopSignals::install();
    let id = args.id.clone().unwrap_or_else(|| format!("uspmesh-watch-{}", unique()));
    let spec = SubscriptionSpec::new(id, args.notif.into(), args.paths.iter().cloned())
        .map_err(|e| CliError::Usage(e.to_string()))?
        .with_notif_retry(args.retry)
        .with_time_to_live(args.ttl.unwrap_or(0));
    let mut session = Session::open(&args.target).await?;
    let subscription = match session.client.subscribe(&args.target.to, &spec).await {
        Ok(s) => s,
        Err(e) => {
            session.close().await;
            return args.target.answer(Err(e));
        }
    };
    eprintln!(
        "watching {} on {} ({} at {}); Ctrl-C to stop",
        NotifType::from(args.notif).as_str(),
        args.target.to,
        subscription.id(),
        subscription.path()
    );
    let deadline = args.for_.map(|d| tokio::time::Instant::now() + d);
    let mut seen = 0u64;
    let outcome = loop {
        if args.count.is_some_and(|n| seen >= n) {
            break Ok(());
        }
        let next = tokio::select! {
            n = session.notifications.next_notification() => n,
            () = signals.recv() => break Ok(()),
            () = sleep_until(deadline) => break Ok(()),
        };
        let Some(n) = next else {
            break Err(CliError::Unreachable(format!("lost the connection to {}", args.target.broker.url())));
        };
        if n.subscription_id() != subscription.id() {
            continue;
        }
        let at = SystemTime::now();
        let printed = if args.target.json {
            render::notification_json(at, &n).map(|v| render::print_json_line(&v))
        } else {
            render::notification_line(at, &n).map(|line| render::print(&line))
        };
        match printed {
            Some(Ok(())) => seen += 1,
            Some(Err(e)) => break Err(e),
            None => {}
        }
    };
    // Clean up whatever ended the loop; a second Ctrl-C during the clean-up
    // ends the process the default way only after this bounded wait.
    let removal = tokio::time::timeout(args.target.timeout, subscription.unsubscribe()).await;
    match removal {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("warning: could not remove subscription {}: {e}", spec.id()),
        Err(_) => eprintln!("warning: no answer to the removal of subscription {}", spec.id()),
    }
    session.close().await;
    outcome
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
