//! The record layer: what arrives, what is answered, by whom.
//!
//! Every received Record goes through [`Policy::check`] for the Agent's own
//! Endpoint ID:
//!
//! * a Record for another endpoint is ignored (R-E2E.1); a bad Record gets
//!   the answer the spec prescribes — an Error for a readable request
//!   (R-MTP.5), a DisconnectRecord 7106 for a session-context Record
//!   (R-E2E.6a; only no-session-context Records are served, so a response
//!   always travels in the record type of its request, R-MSG.0a), or
//!   silence;
//! * Connect Records are accepted; a Controller's DisconnectRecord drops
//!   what the Agent keeps about its session (its cached permissions and
//!   recent msg_ids);
//! * a request is answered exactly once — a Response, an Error, or
//!   nothing for an Operate with `send_resp=false` — unless it repeats a
//!   recent `(sender, msg_id)` (R-MSG.4, see `recent.rs`);
//! * a NotifyResp ends the retries of its Notify; other responses, and
//!   Errors not answering a Notify, are ignored (R-MSG.9);
//! * Notify, Register and Deregister requests are refused with 7001 (an
//!   Agent that is not a USP Broker serves none of them).
//!
//! Before any action the requester's Roles are determined (R-SEC.1,
//! `permissions/trust.rs`). A Controller whose row is disabled gets 7002
//! for every request; one holding the BannedRole is not answered at all.
//! A Controller the Agent does not know is served with the UntrustedRole;
//! when that Role exists, the Agent also records it as a Controller row
//! with the UntrustedRole assigned (*Determine Role*, security-and-e2e.md
//! §3) — up to [`AgentConfig::max_registered_controllers`](super::AgentConfig)
//! rows — so that it can, for instance, subscribe.

use std::sync::Arc;

use bytes::Bytes;
use usp_proto::{
    ErrCode, Msg, encode,
    usp::{Error, body::MsgBody, request::ReqType, response::RespType},
    usp_record::record::RecordType,
    validate::Inbound,
};

use super::output::Output;
use super::permissions::Peer;
use super::{Agent, get, get_instances, get_supported_dm, get_supported_protocol, notify_resp};
use crate::controller::Transmit;
use crate::datamodel::{DateTime, Value};

/// Who sent the request being served.
pub(crate) struct Requester {
    /// Its Endpoint ID (the Record's `from_id`).
    pub(crate) endpoint_id: String,
    /// Its rights and Controller row.
    pub(crate) peer: Arc<Peer>,
}

/// A handler's answer.
pub(crate) enum Reply {
    /// A response body.
    Response(RespType),
    /// An Error message.
    Error(Error),
    /// Nothing (Operate with `send_resp=false`).
    Nothing,
}

impl Agent {
    /// Validates and serves one received Record.
    pub(crate) fn receive(&mut self, bytes: Bytes, now: DateTime, out: &mut Output) {
        match self.policy.check(bytes) {
            Ok(inbound) => self.accept(inbound, now, out),
            Err(rejection) => {
                if let Some(r) = rejection.answer.into_record(&self.id) {
                    out.push(Transmit { to: r.to_id.clone(), record: r.encode_to_bytes() });
                }
            }
        }
    }

    fn accept(&mut self, inbound: Inbound, now: DateTime, out: &mut Output) {
        let Inbound { record, msg } = inbound;
        let from = record.from_id;
        let Some(msg) = msg else {
            if let Some(RecordType::Disconnect(_)) = record.record_type {
                self.trust.forget(&from);
                self.recent.forget(&from);
            }
            return;
        };
        let msg_id = msg.header.map(|h| h.msg_id).unwrap_or_default();
        match msg.body.and_then(|b| b.msg_body) {
            Some(MsgBody::Request(req)) => {
                if let Some(req) = req.req_type {
                    self.serve(from, msg_id, req, now, out);
                }
            }
            Some(MsgBody::Response(resp)) => {
                if let Some(RespType::NotifyResp(r)) = resp.resp_type {
                    notify_resp::handle(&mut self.delivery, &msg_id, &r);
                }
            }
            Some(MsgBody::Error(_)) => {
                self.delivery.acknowledge(&msg_id);
            }
            None => {}
        }
    }

    fn serve(&mut self, from: String, msg_id: String, req: ReqType, now: DateTime, out: &mut Output) {
        if self.recent.repeat(&from, &msg_id) {
            return;
        }
        let who = self.requester(&from);
        if who.peer.banned {
            return;
        }
        let reply = if !who.peer.enabled {
            Reply::Error(Error::new(ErrCode::REQUEST_DENIED, "this Controller is disabled on the Agent"))
        } else {
            let access = who.peer.access.clone();
            match &req {
                ReqType::Get(r) => Reply::Response(get::handle(&self.dm, &access, r).into()),
                ReqType::GetInstances(r) => {
                    Reply::Response(get_instances::handle(&self.dm, &access, r).into())
                }
                ReqType::GetSupportedDm(r) => Reply::Response(
                    get_supported_dm::handle(&self.dm, &access, &self.config.data_model_uri, r).into(),
                ),
                ReqType::GetSupportedProtocol(r) => {
                    Reply::Response(get_supported_protocol::handle(&self.config.supported_versions, r).into())
                }
                ReqType::Set(r) => self.set(&who, r),
                ReqType::Add(r) => self.add(&who, r, now),
                ReqType::Delete(r) => self.delete(&who, r),
                ReqType::Operate(r) => self.operate(&who, r),
                ReqType::Notify(_) | ReqType::Register(_) | ReqType::Deregister(_) => {
                    Reply::Error(Error::new(
                        ErrCode::MESSAGE_NOT_SUPPORTED,
                        "this Agent serves Get, Set, Add, Delete, Operate, GetInstances, GetSupportedDM and GetSupportedProtocol",
                    ))
                }
            }
        };
        let msg = match reply {
            Reply::Response(resp) => Msg::response(msg_id, resp),
            Reply::Error(e) => Msg::error(msg_id, e),
            Reply::Nothing => return,
        };
        out.push(Transmit { record: encode::msg_record(&from, &self.id, &msg), to: from });
    }

    /// Determines the requester's standing, registering an unknown
    /// Controller when the UntrustedRole grants something.
    fn requester(&mut self, from: &str) -> Requester {
        let mut peer = self.trust.peer(&self.dm, &self.ids, from);
        if peer.row.is_none()
            && self.config.register_unknown_controllers
            && self.registered < self.config.max_registered_controllers
        {
            let untrusted = self.ids.trust_object().param(self.ids.trust.untrusted_role);
            let roles = self.dm.store().get(&untrusted).cloned().unwrap_or(Value::List(Vec::new()));
            if roles.as_list().is_some_and(|l| !l.is_empty()) {
                let c = &self.ids.controller;
                let added = self.dm.store_mut().add(
                    &self.ids.controller_table(),
                    vec![
                        (c.endpoint_id, Value::String(from.to_owned())),
                        (c.enable, Value::Boolean(true)),
                        (c.assigned_role, roles),
                    ],
                );
                if added.is_ok() {
                    self.registered += 1;
                    self.trust.forget(from);
                    peer = self.trust.peer(&self.dm, &self.ids, from);
                }
            }
        }
        Requester { endpoint_id: from.to_owned(), peer }
    }
}
