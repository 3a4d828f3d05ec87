//! What a receiver checks on a Record and its Msg, and how it must answer.
//!
//! [`Policy::check`] turns received bytes into an [`Inbound`] (the Record and,
//! for a NoSessionContext record, its decoded Msg) or a [`Rejection`] that
//! carries a typed [`RecordError`] and the [`Answer`] TR-369 prescribes:
//!
//! * R-MTP.5: answer a bad Record with an Error Msg only if the sender's id
//!   is valid, the record is addressed to us, it carries a *request* whose
//!   `msg_id` can be read (and the MTP knows a return path, which is the
//!   caller's business); otherwise stay silent.
//! * R-E2E.1: a Record whose `to_id` is not ours is ignored.
//! * R-E2E.6a: a receiver that does not support session context answers a
//!   SessionContext record with a DisconnectRecord, reason code 7106.
//!
//! Choices where the spec leaves room, each tested below:
//! * any `1.x` version is accepted (USP minor versions are compatible); any
//!   other version is 7104 "invalid Record value";
//! * an oversized Record is 7005 "resources exceeded" and answered with
//!   silence, since nothing of it is read;
//! * a header `msg_type` that disagrees with the body is accepted (the body
//!   wins, R-MSG.10) unless [`Policy::strict_msg_type`] is set, then 7004;
//! * unknown enum values inside responses are left for the application: no
//!   answer could be sent for them anyway.

use bytes::Bytes;

use crate::{
    ErrCode, Msg, Record,
    decode::{DecodeError, Limits, decode_msg_unbounded},
    endpoint_id::EndpointId,
    usp::{Error, body::MsgBody, header::MsgType},
    usp_record::{
        mqtt_connect_record::MqttVersion, record::PayloadSecurity, record::RecordType,
        session_context_record::PayloadSarState, stomp_connect_record::StompVersion,
    },
};

/// Why a received Record was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes are not a Record, or exceed the size limit.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A required Record field (`version`, `to_id`, `from_id`) is empty.
    #[error("record field {0} is missing")]
    MissingField(&'static str),
    /// The `version` is not a USP 1.x version.
    #[error("USP version {0:?} is not supported (this endpoint speaks 1.x)")]
    UnsupportedVersion(String),
    /// `from_id` is not a valid Endpoint ID.
    #[error("from_id {0:?} is not a valid endpoint id")]
    InvalidFromId(String),
    /// The Record is addressed to another endpoint (R-E2E.1).
    #[error("record is addressed to {to_id:?}, not to us")]
    NotAddressedToUs {
        /// The Record's `to_id`.
        to_id: String,
    },
    /// No `record_type` member is set (R-ENC.4: discard).
    #[error("record has no record_type")]
    MissingRecordType,
    /// An enum field holds a value the schema does not define.
    #[error("record field {field} has unknown value {value}")]
    UnknownEnumValue {
        /// The field's proto name.
        field: &'static str,
        /// The value found.
        value: i32,
    },
    /// The Record uses E2E session context, which this endpoint does not support.
    #[error("session context records are not supported")]
    SessionContextNotSupported,
    /// `payload_security` asks for USP-layer TLS without a session context.
    #[error("payload_security TLS12 is not supported without a session context")]
    SecureSessionNotSupported,
    /// A NoSessionContext record with an empty payload (R-E2E.26).
    #[error("no_session_context payload is empty")]
    EmptyPayload,
    /// The payload is not a valid Msg.
    #[error("payload is not a usp.Msg: {0}")]
    PayloadNotAMsg(DecodeError),
    /// The Msg is not acceptable.
    #[error(transparent)]
    Msg(#[from] MsgError),
}

/// Why a decoded Msg is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgError {
    /// No header (R-MSG.6).
    #[error("msg has no header")]
    MissingHeader,
    /// Empty `msg_id` (R-MSG.8).
    #[error("msg header has an empty msg_id")]
    MissingMsgId,
    /// No body, or a body with no request/response/error (R-MSG.7, R-ENC.5).
    #[error("msg has no body")]
    MissingBody,
    /// A Request or Response whose oneof is empty (R-ENC.5).
    #[error("msg {0} carries no message")]
    EmptyBody(&'static str),
    /// The header's `msg_type` disagrees with the body (strict mode only).
    #[error("header msg_type {header} does not match the body's {body}")]
    TypeMismatch {
        /// What the header says (its proto name, or the raw number).
        header: String,
        /// What the body is.
        body: &'static str,
    },
}

impl RecordError {
    /// The USP error code for this failure, or `None` where the spec asks
    /// for silence without naming one (a record for someone else).
    pub fn code(&self) -> Option<ErrCode> {
        Some(match self {
            RecordError::Decode(DecodeError::TooLarge { .. }) => ErrCode::RESOURCES_EXCEEDED,
            RecordError::Decode(DecodeError::Malformed { .. } | DecodeError::Invalid { .. }) => {
                ErrCode::RECORD_NOT_PARSED
            }
            RecordError::MissingField(_)
            | RecordError::MissingRecordType
            | RecordError::UnsupportedVersion(_)
            | RecordError::InvalidFromId(_)
            | RecordError::UnknownEnumValue { .. }
            | RecordError::EmptyPayload => ErrCode::RECORD_FIELD_INVALID,
            RecordError::NotAddressedToUs { .. } => return None,
            RecordError::SessionContextNotSupported => ErrCode::SESS_CONTEXT_NOT_ALLOWED,
            RecordError::SecureSessionNotSupported => ErrCode::SECURE_SESS_NOT_SUPPORTED,
            RecordError::PayloadNotAMsg(_) => ErrCode::RECORD_NOT_PARSED,
            RecordError::Msg(e) => e.code(),
        })
    }
}

impl MsgError {
    /// The USP error code for this failure.
    pub fn code(&self) -> ErrCode {
        ErrCode::INVALID_ARGUMENTS
    }
}

/// What to send back for a rejected Record.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Send nothing.
    Silence,
    /// Send an Error Msg answering `msg_id` to `to_id` (R-MTP.5).
    Error {
        /// The endpoint to answer (the bad Record's `from_id`).
        to_id: String,
        /// The request's `msg_id`.
        msg_id: String,
        /// The Error to send.
        error: Box<Error>,
    },
    /// Send a DisconnectRecord to `to_id` (R-E2E.6a).
    Disconnect {
        /// The endpoint to answer.
        to_id: String,
        /// The DisconnectRecord's `reason_code`.
        code: ErrCode,
        /// The DisconnectRecord's `reason`.
        reason: String,
    },
}

impl Answer {
    /// The Record that carries this answer, sent as `own_id`; `None` for
    /// [`Answer::Silence`].
    pub fn into_record(self, own_id: &str) -> Option<Record> {
        match self {
            Answer::Silence => None,
            Answer::Error { to_id, msg_id, error } => {
                Some(Record::no_session_context_msg(to_id, own_id, &Msg::error(msg_id, *error)))
            }
            Answer::Disconnect { to_id, code, reason } => {
                Some(Record::disconnect(to_id, own_id, reason, code))
            }
        }
    }
}

/// A rejected Record: why, and what to answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}")]
pub struct Rejection {
    /// Why it was rejected.
    pub error: RecordError,
    /// What the spec asks the receiver to send back.
    pub answer: Answer,
}

/// A Record that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// The Record; for NoSessionContext its payload still holds the Msg bytes.
    pub record: Record,
    /// The decoded Msg of a NoSessionContext record; `None` for Connect and
    /// Disconnect records.
    pub msg: Option<Msg>,
}

/// How received Records are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Our Endpoint ID: Records with another `to_id` are ignored. `None`
    /// skips the check (a router forwards records for everyone).
    pub own_id: Option<String>,
    /// Size limits.
    pub limits: Limits,
    /// Refuse a Msg whose header `msg_type` disagrees with its body (7004)
    /// instead of letting the body win.
    pub strict_msg_type: bool,
    /// Decode and check the Msg of NoSessionContext records.
    pub decode_msg: bool,
}

impl Policy {
    /// The policy of an endpoint called `own_id`, with default limits.
    pub fn for_endpoint(own_id: impl Into<String>) -> Policy {
        Policy { own_id: Some(own_id.into()), ..Policy::default() }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy { own_id: None, limits: Limits::default(), strict_msg_type: false, decode_msg: true }
    }
}

impl Policy {
    /// Decodes and validates received bytes.
    pub fn check(&self, bytes: Bytes) -> Result<Inbound, Rejection> {
        let record = self.limits.decode_record(bytes).map_err(|e| silent(e.into()))?;
        self.check_record(record)
    }

    /// Validates a decoded Record.
    pub fn check_record(&self, record: Record) -> Result<Inbound, Rejection> {
        if let Some(own) = &self.own_id {
            if &record.to_id != own {
                return Err(silent(RecordError::NotAddressedToUs { to_id: record.to_id }));
            }
        }
        check_header_fields(&record).map_err(silent)?;
        let Some(record_type) = &record.record_type else {
            return Err(silent(RecordError::MissingRecordType));
        };
        match record_type {
            RecordType::NoSessionContext(nsc) => {
                if record.payload_security != PayloadSecurity::Plaintext as i32 {
                    return Err(silent(RecordError::SecureSessionNotSupported));
                }
                if nsc.payload.is_empty() {
                    return Err(silent(RecordError::EmptyPayload));
                }
                if !self.decode_msg {
                    return Ok(Inbound { record, msg: None });
                }
                let msg =
                    decode_msg_unbounded(&nsc.payload).map_err(|e| silent(RecordError::PayloadNotAMsg(e)))?;
                match self.check_msg(&msg) {
                    Ok(()) => Ok(Inbound { record, msg: Some(msg) }),
                    Err(e) => Err(reject_msg(&record, &msg, e)),
                }
            }
            RecordType::SessionContext(sc) => {
                for (field, value) in [
                    ("payload_sar_state", sc.payload_sar_state),
                    ("payloadrec_sar_state", sc.payloadrec_sar_state),
                ] {
                    if PayloadSarState::try_from(value).is_err() {
                        return Err(silent(RecordError::UnknownEnumValue { field, value }));
                    }
                }
                Err(Rejection {
                    error: RecordError::SessionContextNotSupported,
                    answer: Answer::Disconnect {
                        to_id: record.from_id.clone(),
                        code: ErrCode::SESS_CONTEXT_NOT_ALLOWED,
                        reason: "session context is not supported by this endpoint".into(),
                    },
                })
            }
            RecordType::MqttConnect(c) if MqttVersion::try_from(c.version).is_err() => {
                Err(silent(RecordError::UnknownEnumValue { field: "mqtt_connect.version", value: c.version }))
            }
            RecordType::StompConnect(c) if StompVersion::try_from(c.version).is_err() => {
                Err(silent(RecordError::UnknownEnumValue {
                    field: "stomp_connect.version",
                    value: c.version,
                }))
            }
            _ => Ok(Inbound { record, msg: None }),
        }
    }

    /// Checks a decoded Msg: header, msg_id, body, and (in strict mode) that
    /// the header's type agrees with the body.
    pub fn check_msg(&self, msg: &Msg) -> Result<(), MsgError> {
        let header = msg.header.as_ref().ok_or(MsgError::MissingHeader)?;
        if header.msg_id.is_empty() {
            return Err(MsgError::MissingMsgId);
        }
        let body = msg.body.as_ref().and_then(|b| b.msg_body.as_ref()).ok_or(MsgError::MissingBody)?;
        match body {
            MsgBody::Request(r) if r.req_type.is_none() => return Err(MsgError::EmptyBody("request")),
            MsgBody::Response(r) if r.resp_type.is_none() => {
                return Err(MsgError::EmptyBody("response"));
            }
            _ => {}
        }
        if self.strict_msg_type && !msg.header_matches_body() {
            let header = MsgType::try_from(header.msg_type)
                .map_or_else(|_| header.msg_type.to_string(), |t| t.as_str_name().to_owned());
            let body = msg.kind().map_or("none", |k| k.as_str_name());
            return Err(MsgError::TypeMismatch { header, body });
        }
        Ok(())
    }
}

fn check_header_fields(record: &Record) -> Result<(), RecordError> {
    for (name, value) in
        [("version", &record.version), ("to_id", &record.to_id), ("from_id", &record.from_id)]
    {
        if value.is_empty() {
            return Err(RecordError::MissingField(name));
        }
    }
    if !is_supported_version(&record.version) {
        return Err(RecordError::UnsupportedVersion(record.version.clone()));
    }
    if EndpointId::parse(&record.from_id).is_err() {
        return Err(RecordError::InvalidFromId(record.from_id.clone()));
    }
    if PayloadSecurity::try_from(record.payload_security).is_err() {
        return Err(RecordError::UnknownEnumValue {
            field: "payload_security",
            value: record.payload_security,
        });
    }
    Ok(())
}

/// True for `"1.<minor>"` with a decimal minor version.
pub fn is_supported_version(version: &str) -> bool {
    match version.split_once('.') {
        Some(("1", minor)) => !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

fn silent(error: RecordError) -> Rejection {
    Rejection { error, answer: Answer::Silence }
}

/// R-MTP.5: a bad Msg in an otherwise good Record gets an Error only when
/// it is a request whose msg_id we can read. "A request" is judged by the
/// body, or by the header when the body is missing.
fn reject_msg(record: &Record, msg: &Msg, error: MsgError) -> Rejection {
    let is_request = msg.is_request()
        || (msg.body.as_ref().and_then(|b| b.msg_body.as_ref()).is_none()
            && msg.header_kind().is_some_and(|k| crate::msg::response_kind_for(k).is_some()));
    let answer = if is_request && !msg.msg_id().is_empty() {
        Answer::Error {
            to_id: record.from_id.clone(),
            msg_id: msg.msg_id().to_owned(),
            error: Box::new(Error::new(error.code(), error.to_string())),
        }
    } else {
        Answer::Silence
    };
    Rejection { error: RecordError::Msg(error), answer }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::{Body, Get, GetResp, Header, Request};
    use crate::usp_record::{NoSessionContextRecord, SessionContextRecord};
    use prost::Message;

    const US: &str = "proto::agent";
    const THEM: &str = "proto::ctrl";

    fn policy() -> Policy {
        Policy::for_endpoint(US)
    }

    fn get() -> Msg {
        Msg::request("m1", Get { param_paths: vec!["Device.".into()], max_depth: 0 })
    }

    fn record_with(msg: &Msg) -> Record {
        Record::no_session_context_msg(US, THEM, msg)
    }

    #[test]
    fn a_good_request_passes() {
        let inbound = policy().check(record_with(&get()).encode_to_bytes()).unwrap();
        assert_eq!(inbound.msg, Some(get()));
    }

    #[test]
    fn other_minor_versions_pass_other_majors_do_not() {
        assert!(is_supported_version("1.0") && is_supported_version("1.3") && is_supported_version("1.14"));
        for v in ["2.0", "1.", "1", "", "1.x", "01.4"] {
            assert!(!is_supported_version(v), "{v}");
        }
        let mut r = record_with(&get());
        r.version = "2.0".into();
        let rej = policy().check_record(r).unwrap_err();
        assert_eq!(rej.error, RecordError::UnsupportedVersion("2.0".into()));
        assert_eq!(rej.error.code(), Some(ErrCode::RECORD_FIELD_INVALID));
        assert_eq!(rej.answer, Answer::Silence);
    }

    #[test]
    fn records_for_others_are_ignored() {
        let mut r = record_with(&get());
        r.to_id = "proto::someone-else".into();
        let rej = policy().check_record(r.clone()).unwrap_err();
        assert!(matches!(rej.error, RecordError::NotAddressedToUs { .. }));
        assert_eq!(rej.error.code(), None);
        assert_eq!(rej.answer, Answer::Silence);
        assert!(Policy::default().check_record(r).is_ok(), "a router accepts any to_id");
    }

    #[test]
    fn missing_fields_and_bad_ids_are_refused_silently() {
        let mut r = record_with(&get());
        r.from_id.clear();
        assert_eq!(policy().check_record(r).unwrap_err().error, RecordError::MissingField("from_id"));
        let mut r = record_with(&get());
        r.from_id = "nonsense".into();
        assert!(matches!(policy().check_record(r).unwrap_err().error, RecordError::InvalidFromId(_)));
        let mut r = record_with(&get());
        r.record_type = None;
        let rej = policy().check_record(r).unwrap_err();
        assert_eq!((rej.error, rej.answer), (RecordError::MissingRecordType, Answer::Silence));
        let mut r = record_with(&get());
        r.payload_security = 7;
        assert!(matches!(
            policy().check_record(r).unwrap_err().error,
            RecordError::UnknownEnumValue { field: "payload_security", value: 7 }
        ));
    }

    #[test]
    fn payload_problems() {
        let mut r = record_with(&get());
        r.record_type = Some(RecordType::NoSessionContext(NoSessionContextRecord { payload: Bytes::new() }));
        assert_eq!(policy().check_record(r).unwrap_err().error, RecordError::EmptyPayload);

        let mut r = record_with(&get());
        r.record_type = Some(RecordType::NoSessionContext(NoSessionContextRecord {
            payload: Bytes::from_static(&[0x0a, 0x05, 0x01]),
        }));
        let rej = policy().check_record(r).unwrap_err();
        assert!(matches!(rej.error, RecordError::PayloadNotAMsg(_)));
        assert_eq!(rej.error.code(), Some(ErrCode::RECORD_NOT_PARSED));
        assert_eq!(rej.answer, Answer::Silence, "no msg_id can be read");

        let mut r = record_with(&get());
        r.payload_security = PayloadSecurity::Tls12 as i32;
        let rej = policy().check_record(r).unwrap_err();
        assert_eq!(rej.error.code(), Some(ErrCode::SECURE_SESS_NOT_SUPPORTED));
    }

    #[test]
    fn an_empty_request_gets_error_7004() {
        let msg = Msg {
            header: Some(Header { msg_id: "m9".into(), msg_type: MsgType::Get as i32 }),
            body: Some(Body { msg_body: Some(MsgBody::Request(Request { req_type: None })) }),
        };
        let rej = policy().check_record(record_with(&msg)).unwrap_err();
        assert_eq!(rej.error, RecordError::Msg(MsgError::EmptyBody("request")));
        let Answer::Error { to_id, msg_id, error } = rej.answer.clone() else { panic!("{rej:?}") };
        assert_eq!((to_id.as_str(), msg_id.as_str(), error.err_code), (THEM, "m9", 7004));
        let answer = rej.answer.into_record(US).unwrap();
        let back = answer.msg().unwrap();
        assert_eq!(back.as_error().map(|e| e.err_code), Some(7004));
        assert_eq!((answer.to_id.as_str(), answer.from_id.as_str()), (THEM, US));
    }

    #[test]
    fn a_missing_body_on_a_request_header_gets_an_error_but_on_a_response_silence() {
        let req =
            Msg { header: Some(Header { msg_id: "m".into(), msg_type: MsgType::Set as i32 }), body: None };
        assert!(matches!(policy().check_record(record_with(&req)).unwrap_err().answer, Answer::Error { .. }));
        let resp = Msg {
            header: Some(Header { msg_id: "m".into(), msg_type: MsgType::SetResp as i32 }),
            body: None,
        };
        assert_eq!(policy().check_record(record_with(&resp)).unwrap_err().answer, Answer::Silence);
        let no_id = Msg { header: Some(Header { msg_id: String::new(), msg_type: 1 }), ..get() };
        let rej = policy().check_record(record_with(&no_id)).unwrap_err();
        assert_eq!((rej.error, rej.answer), (RecordError::Msg(MsgError::MissingMsgId), Answer::Silence));
        let no_header = Msg { header: None, ..get() };
        assert_eq!(
            policy().check_record(record_with(&no_header)).unwrap_err().error,
            RecordError::Msg(MsgError::MissingHeader)
        );
    }

    #[test]
    fn type_mismatch_is_lenient_by_default_and_7004_when_strict() {
        let mut msg = Msg::response("r", GetResp::default());
        if let Some(h) = msg.header.as_mut() {
            h.msg_type = MsgType::Get as i32;
        }
        assert!(policy().check_record(record_with(&msg)).is_ok());
        let strict = Policy { strict_msg_type: true, ..policy() };
        let rej = strict.check_record(record_with(&msg)).unwrap_err();
        assert_eq!(
            rej.error,
            RecordError::Msg(MsgError::TypeMismatch { header: "GET".into(), body: "GET_RESP" })
        );
        assert_eq!(rej.answer, Answer::Silence, "a response is never answered");
    }

    #[test]
    fn session_context_gets_disconnect_7106() {
        let mut r = record_with(&get());
        r.record_type = Some(RecordType::SessionContext(SessionContextRecord {
            session_id: 5,
            sequence_id: 1,
            expected_id: 1,
            ..Default::default()
        }));
        let rej = policy().check_record(r).unwrap_err();
        assert_eq!(rej.error.code(), Some(ErrCode::SESS_CONTEXT_NOT_ALLOWED));
        let disconnect = rej.answer.into_record(US).unwrap();
        let Some(RecordType::Disconnect(d)) = disconnect.record_type else { panic!() };
        assert_eq!(d.reason_code, 7106);
    }

    #[test]
    fn oversized_records_are_7005_and_silent() {
        let p = Policy { limits: Limits::with_max_record_size(10), ..policy() };
        let rej = p.check(record_with(&get()).encode_to_bytes()).unwrap_err();
        assert_eq!(rej.error.code(), Some(ErrCode::RESOURCES_EXCEEDED));
        assert_eq!(rej.answer, Answer::Silence);
    }

    #[test]
    fn connect_records_pass_with_known_versions_only() {
        let ok = Record::mqtt_connect(US, THEM, MqttVersion::V5, "usp/controller/x");
        assert!(policy().check_record(ok.clone()).unwrap().msg.is_none());
        let mut bad = ok;
        if let Some(RecordType::MqttConnect(c)) = bad.record_type.as_mut() {
            c.version = 9;
        }
        assert!(matches!(
            policy().check_record(bad).unwrap_err().error,
            RecordError::UnknownEnumValue { field: "mqtt_connect.version", value: 9 }
        ));
        let _ = Record::decode(&[][..]);
    }
}
