//! Access to a [`Msg`]'s id, kind and body.
//!
//! A Msg carries its type twice: `header.msg_type` and the body's oneof.
//! TR-369 R-MSG.10 says the header is informational and the body wins when
//! they disagree; [`Msg::kind`] therefore reads the body, and
//! [`Msg::header_matches_body`] is the consistency check for those who want
//! to be strict (validation does so only when asked, see
//! [`crate::validate::Policy::strict_msg_type`]).

use crate::usp::{Body, Error, Header, Msg, body::MsgBody, header::MsgType, request, response};

/// The kind of a USP Msg: one of the 23 `Header.MsgType` values.
pub type MsgKind = MsgType;

impl Msg {
    /// Builds a request Msg; `msg_type` follows from the body.
    pub fn request(msg_id: impl Into<String>, body: impl Into<request::ReqType>) -> Msg {
        let req = body.into();
        Msg {
            header: Some(Header { msg_id: msg_id.into(), msg_type: req_kind(&req) as i32 }),
            body: Some(Body {
                msg_body: Some(MsgBody::Request(crate::usp::Request { req_type: Some(req) })),
            }),
        }
    }

    /// Builds a response Msg; `msg_type` follows from the body.
    pub fn response(msg_id: impl Into<String>, body: impl Into<response::RespType>) -> Msg {
        let resp = body.into();
        Msg {
            header: Some(Header { msg_id: msg_id.into(), msg_type: resp_kind(&resp) as i32 }),
            body: Some(Body {
                msg_body: Some(MsgBody::Response(crate::usp::Response { resp_type: Some(resp) })),
            }),
        }
    }

    /// Builds an Error Msg answering the request `msg_id`.
    pub fn error(msg_id: impl Into<String>, error: Error) -> Msg {
        Msg {
            header: Some(Header { msg_id: msg_id.into(), msg_type: MsgType::Error as i32 }),
            body: Some(Body { msg_body: Some(MsgBody::Error(error)) }),
        }
    }

    /// The header's `msg_id`, or `""` when there is no header.
    pub fn msg_id(&self) -> &str {
        self.header.as_ref().map_or("", |h| h.msg_id.as_str())
    }

    /// The kind of the Msg as its body says, or `None` when the body (or its
    /// request/response oneof) is missing.
    pub fn kind(&self) -> Option<MsgKind> {
        match self.body.as_ref()?.msg_body.as_ref()? {
            MsgBody::Request(r) => r.req_type.as_ref().map(req_kind),
            MsgBody::Response(r) => r.resp_type.as_ref().map(resp_kind),
            MsgBody::Error(_) => Some(MsgType::Error),
        }
    }

    /// The kind the header claims, or `None` when it is missing or not a
    /// known `MsgType` value.
    pub fn header_kind(&self) -> Option<MsgKind> {
        MsgType::try_from(self.header.as_ref()?.msg_type).ok()
    }

    /// True when the header's `msg_type` agrees with the body.
    pub fn header_matches_body(&self) -> bool {
        matches!((self.header_kind(), self.kind()), (Some(h), Some(b)) if h == b)
    }

    /// The request body, if this is a request.
    pub fn as_request(&self) -> Option<&request::ReqType> {
        match self.body.as_ref()?.msg_body.as_ref()? {
            MsgBody::Request(r) => r.req_type.as_ref(),
            _ => None,
        }
    }

    /// The response body, if this is a response.
    pub fn as_response(&self) -> Option<&response::RespType> {
        match self.body.as_ref()?.msg_body.as_ref()? {
            MsgBody::Response(r) => r.resp_type.as_ref(),
            _ => None,
        }
    }

    /// The Error body, if this is an Error.
    pub fn as_error(&self) -> Option<&Error> {
        match self.body.as_ref()?.msg_body.as_ref()? {
            MsgBody::Error(e) => Some(e),
            _ => None,
        }
    }

    /// Takes the request body out of the Msg.
    pub fn into_request(self) -> Option<request::ReqType> {
        match self.body?.msg_body? {
            MsgBody::Request(r) => r.req_type,
            _ => None,
        }
    }

    /// Takes the response body out of the Msg.
    pub fn into_response(self) -> Option<response::RespType> {
        match self.body?.msg_body? {
            MsgBody::Response(r) => r.resp_type,
            _ => None,
        }
    }

    /// True when the body is a Request (whatever its oneof holds).
    pub fn is_request(&self) -> bool {
        matches!(self.body.as_ref().and_then(|b| b.msg_body.as_ref()), Some(MsgBody::Request(_)))
    }
}

/// The `MsgType` of a request body.
pub fn req_kind(req: &request::ReqType) -> MsgKind {
    use request::ReqType as R;
    match req {
        R::Get(_) => MsgType::Get,
        R::GetSupportedDm(_) => MsgType::GetSupportedDm,
        R::GetInstances(_) => MsgType::GetInstances,
        R::Set(_) => MsgType::Set,
        R::Add(_) => MsgType::Add,
        R::Delete(_) => MsgType::Delete,
        R::Operate(_) => MsgType::Operate,
        R::Notify(_) => MsgType::Notify,
        R::GetSupportedProtocol(_) => MsgType::GetSupportedProto,
        R::Register(_) => MsgType::Register,
        R::Deregister(_) => MsgType::Deregister,
    }
}

/// The `MsgType` of a response body.
pub fn resp_kind(resp: &response::RespType) -> MsgKind {
    use response::RespType as R;
    match resp {
        R::GetResp(_) => MsgType::GetResp,
        R::GetSupportedDmResp(_) => MsgType::GetSupportedDmResp,
        R::GetInstancesResp(_) => MsgType::GetInstancesResp,
        R::SetResp(_) => MsgType::SetResp,
        R::AddResp(_) => MsgType::AddResp,
        R::DeleteResp(_) => MsgType::DeleteResp,
        R::OperateResp(_) => MsgType::OperateResp,
        R::NotifyResp(_) => MsgType::NotifyResp,
        R::GetSupportedProtocolResp(_) => MsgType::GetSupportedProtoResp,
        R::RegisterResp(_) => MsgType::RegisterResp,
        R::DeregisterResp(_) => MsgType::DeregisterResp,
    }
}

/// The response kind that answers a request kind (`Get` → `GetResp`), or
/// `None` for kinds that are not requests.
pub fn response_kind_for(request: MsgKind) -> Option<MsgKind> {
    use MsgType as T;
    Some(match request {
        T::Get => T::GetResp,
        T::GetSupportedDm => T::GetSupportedDmResp,
        T::GetInstances => T::GetInstancesResp,
        T::Set => T::SetResp,
        T::Add => T::AddResp,
        T::Delete => T::DeleteResp,
        T::Operate => T::OperateResp,
        T::Notify => T::NotifyResp,
        T::GetSupportedProto => T::GetSupportedProtoResp,
        T::Register => T::RegisterResp,
        T::Deregister => T::DeregisterResp,
        _ => return None,
    })
}

macro_rules! into_body {
    ($oneof:ident, $($ty:ident => $variant:ident),* $(,)?) => {
        $(impl From<crate::usp::$ty> for $oneof {
            fn from(body: crate::usp::$ty) -> Self {
                $oneof::$variant(body)
            }
        })*
    };
}

use request::ReqType;
use response::RespType;

into_body!(ReqType,
    Get => Get, GetSupportedDm => GetSupportedDm, GetInstances => GetInstances,
    Set => Set, Add => Add, Delete => Delete, Operate => Operate, Notify => Notify,
    GetSupportedProtocol => GetSupportedProtocol, Register => Register,
    Deregister => Deregister,
);
into_body!(RespType,
    GetResp => GetResp, GetSupportedDmResp => GetSupportedDmResp,
    GetInstancesResp => GetInstancesResp, SetResp => SetResp, AddResp => AddResp,
    DeleteResp => DeleteResp, OperateResp => OperateResp, NotifyResp => NotifyResp,
    GetSupportedProtocolResp => GetSupportedProtocolResp, RegisterResp => RegisterResp,
    DeregisterResp => DeregisterResp,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::{Get, GetResp, NotifyResp};

    #[test]
    fn kinds_follow_the_body() {
        let get = Msg::request("1", Get { param_paths: vec!["Device.".into()], max_depth: 0 });
        assert_eq!(get.kind(), Some(MsgType::Get));
        assert!(get.header_matches_body());
        assert!(get.is_request());
        assert_eq!(get.msg_id(), "1");
        assert_eq!(response_kind_for(MsgType::Get), Some(MsgType::GetResp));
        assert_eq!(response_kind_for(MsgType::GetResp), None);

        let mut lying = Msg::response("2", GetResp::default());
        if let Some(h) = lying.header.as_mut() {
            h.msg_type = MsgType::Notify as i32;
        }
        assert_eq!(lying.kind(), Some(MsgType::GetResp), "the body wins (R-MSG.10)");
        assert!(!lying.header_matches_body());

        let unknown = Msg { header: Some(Header { msg_id: "3".into(), msg_type: 99 }), body: None };
        assert_eq!(unknown.header_kind(), None);
        assert_eq!(unknown.kind(), None);
        assert!(!unknown.header_matches_body());
        assert!(Msg::response("4", NotifyResp::default()).as_request().is_none());
    }
}
