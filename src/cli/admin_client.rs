//! The CLI's side of the appliance's admin API (`uspmesh endpoints`,
//! `uspmesh rules …`): one HTTP/1.1 request with a JSON answer, over a
//! fresh loopback connection (see `uspmesh::appliance` `admin.rs` for the
//! API).

use std::{net::SocketAddr, time::Duration};

use clap::Args;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Method, Request, body::Bytes};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use uspmesh::appliance::DEFAULT_ADMIN_ADDR;

use super::CliError;

/// Largest answer read (a registry of 100,000 endpoints is about 40 MB).
const MAX_ANSWER: usize = 256 << 20;

/// Where the admin API is.
#[derive(Debug, Clone, Args)]
pub(crate) struct AdminArgs {
    /// Address of the appliance's admin API ([admin] bind of its
    /// configuration).
    #[arg(long, value_name = "ADDR", env = "USPMESH_ADMIN", default_value_t = DEFAULT_ADMIN_ADDR)]
    pub(crate) admin: SocketAddr,
    /// How long to wait for the answer.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = super::duration::parse)]
    pub(crate) timeout: Duration,
    /// Print the API's JSON answer instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// An answer: the HTTP status and the JSON body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Answer {
    /// The `error` field of an error answer, or the status.
    pub(crate) fn error_text(&self) -> String {
        match self.body.get("error").and_then(Value::as_str) {
            Some(e) => e.to_owned(),
            None => format!("the admin API answered HTTP {}", self.status),
        }
    }
}

/// Sends `method path` to the admin API.
pub(crate) async fn call(args: &AdminArgs, method: Method, path: &str) -> Result<Answer, CliError> {
    let addr = args.admin;
    match tokio::time::timeout(args.timeout, exchange(addr, method, path)).await {
        Ok(answer) => answer,
        Err(_) => Err(CliError::Timeout(format!(
            "the admin API at {addr} did not answer within {:?}",
            args.timeout
        ))),
    }
}

async fn exchange(addr: SocketAddr, method: Method, path: &str) -> Result<Answer, CliError> {
    let unreachable = |e: &dyn std::fmt::Display| {
        CliError::Unreachable(format!(
            "cannot reach the admin API at {addr}: {e}\n  check that `uspmesh serve` runs and its [admin] bind, or give --admin ADDR"
        ))
    };
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| unreachable(&e))?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(|e| unreachable(&e))?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let response = sender.send_request(request).await.map_err(|e| unreachable(&e))?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| CliError::Protocol(format!("the admin API's answer could not be read: {e}")))?
        .to_bytes();
    let body = serde_json::from_slice(&body).map_err(|e| {
        CliError::Protocol(format!(
            "the admin API at {addr} answered HTTP {status} without JSON ({e}): is it uspmesh?"
        ))
    })?;
    Ok(Answer { status, body })
}
