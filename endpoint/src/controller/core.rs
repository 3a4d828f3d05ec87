//! The Controller state machine.

use std::time::{Duration, Instant};

use bytes::Bytes;
use usp_proto::{
    ErrCode, Msg, Record,
    decode::Limits,
    endpoint_id::{EndpointId, EndpointIdError},
    msg::{req_kind, resp_kind, response_kind_for},
    usp::{Error, Notify, NotifyResp, body::MsgBody, request::ReqType},
    usp_record::{mqtt_connect_record::MqttVersion, record::RecordType},
    validate::{Inbound, Policy, RecordError, Rejection},
};

use super::{
    UspError,
    dedup::NotifyDedup,
    event::{
        Completion, Connected, ConnectedMtp, Disconnected, Event, Handled, Ignored, Incoming, Notification,
        RequestId, Transmit,
    },
    msg_id::MsgIdGen,
    pending::PendingTable,
};

/// Tunables of a [`Controller`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerConfig {
    /// Timeout of requests made with [`Controller::request`]. Default 30 s.
    pub request_timeout: Duration,
    /// Size limits for received Records. Default 1 MiB.
    pub limits: Limits,
    /// How long a Notify `(from, msg_id)` is remembered to recognise its
    /// retries. Default one hour.
    pub dedup_window: Duration,
    /// How many Notify ids are remembered at most. Default 16 384.
    pub dedup_capacity: usize,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            request_timeout: Duration::from_secs(30),
            limits: Limits::default(),
            dedup_window: Duration::from_secs(3600),
            dedup_capacity: 16 * 1024,
        }
    }
}

/// The sans-I/O USP Controller.
///
/// It builds request Records, remembers what is outstanding, and turns
/// received Records into [`Event`]s and the Records to send back. Time is
/// an input: every call that cares takes `now`, and [`Controller::poll`] /
/// [`Controller::next_deadline`] surface timeouts. It owns no socket, task
/// or clock, so the same value drives the tokio client
/// ([`ControllerClient`](super::ControllerClient)), a test, or a bench.
///
/// Rules it applies:
/// * received Records are validated with [`Policy`] for our Endpoint ID
///   (Records for others are ignored, R-E2E.1; bad requests get the answer
///   R-MTP.5 asks for);
/// * Responses and Errors are matched by `msg_id` only, never by sender;
///   an unknown `msg_id` is ignored (R-MSG.9);
/// * a response of the wrong type for its request completes the request
///   with [`UspError::UnexpectedResponse`] (waiting for a timeout would help
///   no one);
/// * a Notify with `send_resp = true` is answered with a NotifyResp with
///   the same `msg_id` and the echoed `subscription_id` (R-NOT.10), every
///   time it arrives, but delivered once (retries, §4.2); one with
///   `send_resp = false` is delivered and not answered (R-NOT.8);
/// * other requests (a Controller serves none) get Error 7001 (R-MSG.1).
#[derive(Debug)]
pub struct Controller {
    id: String,
    policy: Policy,
    ids: MsgIdGen,
    pending: PendingTable,
    dedup: NotifyDedup,
    request_timeout: Duration,
}

impl Controller {
    /// A Controller with Endpoint ID `endpoint_id`, default settings and a
    /// random msg_id prefix.
    pub fn new(endpoint_id: impl Into<String>) -> Result<Controller, EndpointIdError> {
        Controller::with_config(endpoint_id, ControllerConfig::default(), MsgIdGen::random())
    }

    /// A Controller with explicit settings and msg_id generator.
    pub fn with_config(
        endpoint_id: impl Into<String>,
        config: ControllerConfig,
        ids: MsgIdGen,
    ) -> Result<Controller, EndpointIdError> {
        let id = endpoint_id.into();
        EndpointId::parse(&id)?;
        Ok(Controller {
            policy: Policy { limits: config.limits, ..Policy::for_endpoint(id.clone()) },
            id,
            ids,
            pending: PendingTable::default(),
            dedup: NotifyDedup::new(config.dedup_window, config.dedup_capacity),
            request_timeout: config.request_timeout,
        })
    }

    /// Our Endpoint ID.
    pub fn endpoint_id(&self) -> &str {
        &self.id
    }

    /// The default request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Builds a request to `to` and tracks it with the default timeout.
    pub fn request(&mut self, to: &str, body: impl Into<ReqType>, now: Instant) -> (RequestId, Transmit) {
        self.request_with_timeout(to, body, now, self.request_timeout)
    }

    /// Builds a request to `to` and tracks it until `now + timeout`.
    pub fn request_with_timeout(
        &mut self,
        to: &str,
        body: impl Into<ReqType>,
        now: Instant,
        timeout: Duration,
    ) -> (RequestId, Transmit) {
        let body = body.into();
        let kind = req_kind(&body);
        let (n, msg_id) = self.ids.next_id();
        self.pending.insert(n, kind, now, timeout);
        (RequestId(n), self.transmit(to, &Msg::request(msg_id, body)))
    }

    /// Builds a request that expects no answer (an Operate with
    /// `send_resp = false`); nothing is tracked. Returns its `msg_id`.
    pub fn send_untracked(&mut self, to: &str, body: impl Into<ReqType>) -> (String, Transmit) {
        let (_, msg_id) = self.ids.next_id();
        let transmit = self.transmit(to, &Msg::request(msg_id.clone(), body));
        (msg_id, transmit)
    }

    /// Stops tracking a request (its caller gave up); a late answer is then
    /// ignored. False if it was not outstanding.
    pub fn cancel(&mut self, id: RequestId) -> bool {
        self.pending.remove(id.0).is_some()
    }

    /// Number of outstanding requests.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// When [`Controller::poll`] next has something to report.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.next_deadline()
    }

    /// A request that timed out at `now`, if any; call until `None`.
    pub fn poll(&mut self, now: Instant) -> Option<Completion> {
        let (n, p) = self.pending.pop_expired(now)?;
        Some(Completion { id: RequestId(n), from: None, result: Err(UspError::Timeout(p.timeout)) })
    }

    /// Ends every outstanding request with `error` (the link closed).
    pub fn fail_all(&mut self, error: &UspError) -> Vec<Completion> {
        self.pending
            .drain()
            .map(|(n, _)| Completion { id: RequestId(n), from: None, result: Err(error.clone()) })
            .collect()
    }

    /// Forgets that a notification was delivered, so that its next retry
    /// is delivered again (used when the application could not take it and
    /// its NotifyResp was therefore not sent).
    pub fn forget_notification(&mut self, notification: &Notification) {
        self.dedup.forget(&notification.from, &notification.msg_id);
    }

    /// Handles one received, encoded Record.
    pub fn handle(&mut self, record: Bytes, now: Instant) -> Handled {
        match self.policy.check(record) {
            Ok(inbound) => self.accept(inbound, now),
            Err(rejection) => self.reject(rejection),
        }
    }

    /// Handles one received, decoded Record.
    pub fn handle_record(&mut self, record: Record, now: Instant) -> Handled {
        match self.policy.check_record(record) {
            Ok(inbound) => self.accept(inbound, now),
            Err(rejection) => self.reject(rejection),
        }
    }

    fn transmit(&self, to: &str, msg: &Msg) -> Transmit {
        let record = Record::no_session_context_msg(to, self.id.as_str(), msg);
        Transmit { to: to.to_owned(), record: record.encode_to_bytes() }
    }

    fn reject(&self, rejection: Rejection) -> Handled {
        let reply = rejection
            .answer
            .into_record(&self.id)
            .map(|r| Transmit { to: r.to_id.clone(), record: r.encode_to_bytes() });
        Handled { event: Event::Ignored(Ignored::Rejected(rejection.error)), reply }
    }

    fn accept(&mut self, inbound: Inbound, now: Instant) -> Handled {
        let Inbound { record, msg } = inbound;
        let from = record.from_id;
        let Some(msg) = msg else {
            return Handled { event: connect_event(from, record.record_type), reply: None };
        };
        let header = msg.header.unwrap_or_default();
        // Policy::check has verified that the body and its oneof are set.
        match msg.body.and_then(|b| b.msg_body) {
            Some(MsgBody::Response(resp)) => match resp.resp_type {
                Some(resp) => self.complete(header.msg_id, from, Ok(resp)),
                None => ignored(Ignored::UnknownMsgId(header.msg_id)),
            },
            Some(MsgBody::Error(error)) => {
                let error = UspError::Agent {
                    code: ErrCode(error.err_code),
                    message: error.err_msg,
                    param_errs: error.param_errs,
                };
                self.complete(header.msg_id, from, Err(error))
            }
            Some(MsgBody::Request(req)) => match req.req_type {
                Some(ReqType::Notify(notify)) => self.notification(from, header.msg_id, notify, now),
                Some(other) => {
                    let kind = req_kind(&other);
                    let error = Error::new(ErrCode::MESSAGE_NOT_SUPPORTED, "a controller serves no requests");
                    let reply = self.transmit(&from, &Msg::error(header.msg_id, error));
                    Handled { event: Event::Ignored(Ignored::UnsupportedRequest(kind)), reply: Some(reply) }
                }
                None => ignored(Ignored::UnknownMsgId(header.msg_id)),
            },
            None => ignored(Ignored::UnknownMsgId(header.msg_id)),
        }
    }

    fn complete(
        &mut self,
        msg_id: String,
        from: String,
        result: Result<usp_proto::usp::response::RespType, UspError>,
    ) -> Handled {
        let Some(n) = self.ids.parse(&msg_id) else {
            return ignored(Ignored::UnknownMsgId(msg_id));
        };
        let Some(pending) = self.pending.remove(n) else {
            return ignored(Ignored::UnknownMsgId(msg_id));
        };
        let result = result.and_then(|resp| {
            let got = resp_kind(&resp);
            match response_kind_for(pending.kind) {
                Some(expected) if expected != got => Err(UspError::UnexpectedResponse { expected, got }),
                _ => Ok(resp),
            }
        });
        Handled {
            event: Event::Completed(Completion { id: RequestId(n), from: Some(from), result }),
            reply: None,
        }
    }

    fn notification(&mut self, from: String, msg_id: String, notify: Notify, now: Instant) -> Handled {
        if notify.notification.is_none() {
            let error = Error::new(ErrCode::INVALID_ARGUMENTS, "notify carries no notification");
            let reply = self.transmit(&from, &Msg::error(msg_id.clone(), error));
            return Handled {
                event: Event::Ignored(Ignored::EmptyNotify { from, msg_id }),
                reply: Some(reply),
            };
        }
        if !notify.send_resp {
            let n = Notification { from, msg_id, notify };
            return Handled { event: Event::Incoming(Incoming::Notification(n)), reply: None };
        }
        let resp = Msg::response(msg_id.clone(), NotifyResp::new(notify.subscription_id.clone()));
        let reply = Some(self.transmit(&from, &resp));
        let event = if self.dedup.first_sighting(&from, &msg_id, now) {
            Event::Incoming(Incoming::Notification(Notification { from, msg_id, notify }))
        } else {
            Event::Ignored(Ignored::DuplicateNotify { from, msg_id })
        };
        Handled { event, reply }
    }
}

fn ignored(reason: Ignored) -> Handled {
    Handled { event: Event::Ignored(reason), reply: None }
}

/// The event of a Record without a Msg (Policy has already refused
/// session-context records and unknown connect-record versions).
fn connect_event(from: String, record_type: Option<RecordType>) -> Event {
    let mtp = match record_type {
        Some(RecordType::WebsocketConnect(_)) => ConnectedMtp::WebSocket,
        Some(RecordType::MqttConnect(c)) => ConnectedMtp::Mqtt {
            version: MqttVersion::try_from(c.version).unwrap_or(MqttVersion::V5),
            subscribed_topic: c.subscribed_topic,
        },
        Some(RecordType::StompConnect(c)) => {
            ConnectedMtp::Stomp { subscribed_destination: c.subscribed_destination }
        }
        Some(RecordType::UdsConnect(_)) => ConnectedMtp::Uds,
        Some(RecordType::Disconnect(d)) => {
            return Event::Incoming(Incoming::Disconnected(Disconnected {
                from,
                reason: d.reason,
                code: ErrCode(d.reason_code),
            }));
        }
        // Unreachable after Policy::check (a NoSessionContext record comes
        // with its Msg, a SessionContext record is refused); kept total.
        Some(RecordType::NoSessionContext(_) | RecordType::SessionContext(_)) | None => {
            return Event::Ignored(Ignored::Rejected(RecordError::MissingRecordType));
        }
    };
    Event::Incoming(Incoming::Connected(Connected { from, mtp }))
}
