//! A Controller session for one command: connect to the broker as
//! `--from`, run requests to `--to`, disconnect. Failures are turned into
//! [`CliError`]s that say what to check.

use std::{future::Future, time::Duration};

use usp_endpoint::{
    controller::{
        ClientConfig, Controller, ControllerClient, ControllerConfig, MsgIdGen, Notifications, UspError,
    },
    mtp::{LinkError, Role, mqtt::Peer},
};

use super::{CliError, UspFailure, args::TargetArgs, duration, progress, render};
use crate::mtp::{AnySender, ConnectError, Mtp, MtpClient};

/// How long a session's disconnect may take before it is cut.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Runs a command's future on a single-threaded runtime (a Controller
/// command needs no more).
pub(crate) fn block_on<F: Future<Output = Result<(), CliError>>>(command: F) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| CliError::Io { context: "cannot start the async runtime".into(), source })?;
    runtime.block_on(command)
}

/// A connected Controller.
pub(crate) struct Session {
    /// The Controller client.
    pub(crate) client: ControllerClient<AnySender>,
    /// Notifications that arrive (answered with NotifyResp automatically).
    pub(crate) notifications: Notifications,
    mtp: MtpClient,
}

impl Session {
    /// Connects to the broker as `target.from`, within `target.timeout`.
    pub(crate) async fn open(target: &TargetArgs) -> Result<Session, CliError> {
        target.broker.check()?;
        let mut mtp = target.broker.mtp(&target.from, Role::Controller);
        match &mut mtp {
            Mtp::Mqtt(c) => {
                c.connect_timeout = target.timeout.max(Duration::from_secs(1));
                if let Some(topic) = &target.agent_topic {
                    c.peers.push(Peer { endpoint_id: target.to.clone(), topic: topic.clone() });
                }
            }
            Mtp::Ws(c) => {
                if target.agent_topic.is_some() {
                    return Err(CliError::Usage("--agent-topic is for MQTT, not WebSocket".into()));
                }
                c.connect_timeout = target.timeout;
            }
        }
        let broker = target.broker.url();
        // The MTP clients bound their own attempt; this bounds everything
        // else (a server that accepts TCP and never answers a WebSocket
        // upgrade, say).
        let bound = target.timeout + Duration::from_secs(1);
        let connecting = tokio::time::timeout(bound, mtp.connect());
        let (mtp, link) = match progress::while_slow(&format!("connecting to {broker}"), connecting).await {
            Ok(Ok(connected)) => connected,
            Ok(Err(e)) => return Err(connect_error(target, e)),
            Err(_) => {
                return Err(CliError::Timeout(format!(
                    "no answer from {broker} within {}\n  check the address, and that the server runs there",
                    duration::show(bound)
                )));
            }
        };
        let config = ControllerConfig { request_timeout: target.timeout, ..ControllerConfig::default() };
        let controller = Controller::with_config(target.from.as_str(), config, MsgIdGen::random())
            .map_err(|e| CliError::Usage(format!("--from {:?}: {e}", target.from)))?;
        let (client, notifications) = ControllerClient::spawn(controller, link, ClientConfig::default());
        Ok(Session { client, notifications, mtp })
    }

    /// Disconnects from the broker.
    pub(crate) async fn close(self) {
        let Session { client, notifications, mtp } = self;
        drop((client, notifications));
        mtp.shutdown(CLOSE_GRACE).await;
    }
}

fn connect_error(target: &TargetArgs, error: ConnectError) -> CliError {
    let broker = target.broker.url();
    match error {
        ConnectError::Config(e) => CliError::Usage(e),
        ConnectError::Tls(failure) => CliError::Unreachable(format!(
            "cannot connect to {broker}: {failure}\n  check --ca (the CA that signed the server's certificate), \
             the host name in --broker, and --cert/--key if the server asks for a client certificate"
        )),
        ConnectError::Failed(e) => {
            let login = if broker.scheme.is_websocket() {
                ""
            } else {
                "; if it refused us, check --username and --password"
            };
            CliError::Unreachable(format!(
                "cannot connect to {broker}: {e}\n  check that the server runs there (`uspmesh serve` listens on \
                 mqtt://127.0.0.1:1883 and ws://127.0.0.1:8080/usp by default) or give its address with \
                 --broker{login}"
            ))
        }
    }
}

impl TargetArgs {
    /// A request's answer, or the error it means; with `--json`, a USP
    /// error is also printed as `{"error": {…}, "errors": [{…}]}` so that a
    /// script always finds a document on standard output when the Agent
    /// answered.
    pub(crate) fn answer<T>(&self, answer: Result<T, UspError>) -> Result<T, CliError> {
        answer.map_err(|e| {
            let error = self.usp_error(e);
            if let (true, CliError::Usp(failures)) = (self.json, &error) {
                if let Some((first, rest)) = failures.split_first() {
                    let rest: Vec<_> = rest.iter().map(UspFailure::to_json).collect();
                    let _ =
                        render::print_json(&serde_json::json!({"error": first.to_json(), "errors": rest}));
                }
            }
            error
        })
    }

    /// What a failed request means for the user.
    pub(crate) fn usp_error(&self, error: UspError) -> CliError {
        let broker = self.broker.url();
        match error {
            UspError::Agent { code, message, param_errs } => {
                let mut failures = vec![UspFailure { code, path: None, message }];
                failures.extend(param_errs.into_iter().map(|p| UspFailure {
                    code: p.err_code.into(),
                    path: Some(p.param_path),
                    message: p.err_msg,
                }));
                CliError::Usp(failures)
            }
            UspError::Timeout(t) => CliError::Timeout(format!(
                "no answer from {} within {}\n  check that the Agent is connected to {broker}, that {} is its \
                 Endpoint ID (and --agent-topic if it does not listen on usp/agent/{}), and that it answers \
                 Controller {}",
                self.to,
                duration::show(t),
                self.to,
                self.to,
                self.from
            )),
            UspError::Link(LinkError::TooLarge { size, max }) => CliError::BadInput(format!(
                "the request ({size} bytes) is larger than the broker takes ({max})"
            )),
            UspError::Link(LinkError::Refused(why)) => {
                CliError::Usage(format!("the MTP refused the request: {why}"))
            }
            UspError::Link(e) => CliError::Unreachable(format!("lost the connection to {broker}: {e}")),
            UspError::Closed => CliError::Unreachable(format!("lost the connection to {broker}")),
            e @ (UspError::UnexpectedResponse { .. } | UspError::MalformedResponse(_)) => {
                CliError::Protocol(format!("{} answered something unusable: {e}", self.to))
            }
        }
    }
}
