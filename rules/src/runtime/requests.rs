//! The engine's requests on their way to Agents and back.
//!
//! Each [`OutgoingRequest`] becomes one `ControllerClient` request future.
//! The loop polls it once right away: that first poll encodes the Record
//! and hands it to the link, so requests leave in exactly the order the
//! engine issued them (a sequence's steps, a fan-out) — then the future
//! waits for its answer among the others in a `FuturesUnordered`, polled by
//! the same loop. Nothing is spawned per request and no lock is held across
//! an `.await` (the client's own lock is released before it sends).
//!
//! Answers and notifications reach the loop by different paths (a waiter,
//! a channel), but the client's driver reads them in wire order and
//! completes a waiter before it queues the next notification. So before a
//! notification is fed, the loop takes the answers already there
//! ([`InFlight::ready`]): the engine sees an Agent's messages in the order
//! the Agent sent them — a priming GetResp before the ValueChange that
//! followed it (else the older value would win), an OperateResp before its
//! OperationComplete.
//!
//! Timeouts belong to the engine: it fails a request at its own deadline
//! (on the runtime's clock). The client is given a longer one only so its
//! futures cannot pile up; when that fires the engine has already decided,
//! and the late timeout is counted but not fed back.

use std::{future::Future, pin::Pin, task::Poll, time::Duration};

use futures_util::{StreamExt, stream::FuturesUnordered};
use usp_endpoint::{
    controller::{ControllerClient, UspError},
    mtp::RecordSender,
};
use usp_proto::usp::{Error, response::RespType};

use crate::engine::{Outcome, RequestId};

/// Whom an answer is for.
#[derive(Debug, Clone)]
pub(crate) enum For {
    /// The engine, as the answer to its request.
    Engine(RequestId),
    /// The engine's cache, as [`Input::Values`](crate::engine::Input::Values)
    /// of this Agent: a priming Get sent after the engine stopped waiting
    /// for it (see `driver.rs`).
    Values(std::sync::Arc<str>),
}

/// What a request came to.
pub(crate) type Answer = (For, Result<RespType, UspError>);

type Flight = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// Requests sent and not yet answered.
pub(crate) struct InFlight {
    flights: FuturesUnordered<Flight>,
    /// How much longer than the engine the client waits.
    client_timeout: Duration,
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight").field("len", &self.flights.len()).finish()
    }
}

impl InFlight {
    /// `engine_timeout` is the engine's request deadline.
    pub(crate) fn new(engine_timeout: Duration) -> InFlight {
        InFlight { flights: FuturesUnordered::new(), client_timeout: engine_timeout + Duration::from_secs(5) }
    }

    pub(crate) fn len(&self) -> usize {
        self.flights.len()
    }

    /// Sends `body` to `agent`: returns once its Record is handed to the
    /// link (or waits for room there), with its answer if that came at once.
    pub(crate) async fn send<S: RecordSender>(
        &mut self,
        client: &ControllerClient<S>,
        agent: std::sync::Arc<str>,
        body: usp_proto::usp::request::ReqType,
        whom: For,
    ) -> Option<Answer> {
        let client = client.clone();
        let timeout = self.client_timeout;
        let mut flight: Flight =
            Box::pin(async move { (whom, client.request_with_timeout(&agent, body, timeout).await) });
        match std::future::poll_fn(|cx| Poll::Ready(flight.as_mut().poll(cx))).await {
            Poll::Ready(answer) => Some(answer),
            Poll::Pending => {
                self.flights.push(flight);
                None
            }
        }
    }

    /// The answers that are already there, without waiting.
    pub(crate) async fn ready(&mut self, out: &mut Vec<Answer>) {
        std::future::poll_fn(|cx| {
            while let Poll::Ready(Some(answer)) = self.flights.poll_next_unpin(cx) {
                out.push(answer);
            }
            Poll::Ready(())
        })
        .await;
    }

    /// The next answer (pending forever while nothing is in flight).
    pub(crate) async fn next(&mut self) -> Answer {
        match self.flights.next().await {
            Some(answer) => answer,
            None => std::future::pending().await,
        }
    }
}

/// Why a request failed, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// A USP Error answer.
    Error,
    /// No answer in time.
    Timeout,
    /// Not sent, or the client stopped.
    Link,
}

/// The engine's view of an answer; `None` for a client timeout (the engine
/// has timed the request out itself by then).
pub(crate) fn outcome(result: Result<RespType, UspError>) -> (Option<Outcome>, Option<Failure>) {
    match result {
        Ok(resp) => (Some(Outcome::Response(resp)), None),
        Err(UspError::Agent { code, message, param_errs }) => (
            Some(Outcome::Error(Error { err_code: code.0, err_msg: message, param_errs })),
            Some(Failure::Error),
        ),
        Err(UspError::Timeout(_)) => (None, Some(Failure::Timeout)),
        Err(e @ (UspError::Link(_) | UspError::Closed)) => {
            (Some(Outcome::Failed(e.to_string())), Some(Failure::Link))
        }
        Err(e) => (Some(Outcome::Failed(e.to_string())), Some(Failure::Error)),
    }
}
