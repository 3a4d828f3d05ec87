//! Record constructors and payload access.

use bytes::{Bytes, BytesMut};
use prost::Message;

use crate::{
    ErrCode, Msg, Record,
    decode::{DecodeError, decode_msg_unbounded},
    usp_record::{
        DisconnectRecord, MqttConnectRecord, NoSessionContextRecord, StompConnectRecord, UdsConnectRecord,
        WebSocketConnectRecord, mqtt_connect_record::MqttVersion, record::RecordType,
    },
};

/// The USP version this crate speaks and puts in the Records it builds.
pub const USP_VERSION: &str = "1.4";

/// Why a Record's Msg could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The Record is not a NoSessionContext record.
    #[error("record is a {0} record, which carries no Msg")]
    NoMsg(&'static str),
    /// The payload is not a Msg.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl Record {
    fn with_type(to_id: impl Into<String>, from_id: impl Into<String>, record_type: RecordType) -> Record {
        Record {
            version: USP_VERSION.to_owned(),
            to_id: to_id.into(),
            from_id: from_id.into(),
            record_type: Some(record_type),
            ..Record::default()
        }
    }

    /// A NoSessionContext Record carrying `msg`.
    pub fn no_session_context_msg(to_id: impl Into<String>, from_id: impl Into<String>, msg: &Msg) -> Record {
        Record::no_session_context_payload(to_id, from_id, Bytes::from(msg.encode_to_vec()))
    }

    /// A NoSessionContext Record carrying already-encoded Msg bytes.
    pub fn no_session_context_payload(
        to_id: impl Into<String>,
        from_id: impl Into<String>,
        payload: Bytes,
    ) -> Record {
        Record::with_type(to_id, from_id, RecordType::NoSessionContext(NoSessionContextRecord { payload }))
    }

    /// A WebSocketConnect Record.
    pub fn websocket_connect(to_id: impl Into<String>, from_id: impl Into<String>) -> Record {
        Record::with_type(to_id, from_id, RecordType::WebsocketConnect(WebSocketConnectRecord {}))
    }

    /// An MQTTConnect Record announcing the topic the sender is reachable at.
    pub fn mqtt_connect(
        to_id: impl Into<String>,
        from_id: impl Into<String>,
        version: MqttVersion,
        subscribed_topic: impl Into<String>,
    ) -> Record {
        Record::with_type(
            to_id,
            from_id,
            RecordType::MqttConnect(MqttConnectRecord {
                version: version as i32,
                subscribed_topic: subscribed_topic.into(),
            }),
        )
    }

    /// A STOMPConnect Record.
    pub fn stomp_connect(
        to_id: impl Into<String>,
        from_id: impl Into<String>,
        subscribed_destination: impl Into<String>,
    ) -> Record {
        Record::with_type(
            to_id,
            from_id,
            RecordType::StompConnect(StompConnectRecord {
                version: 0,
                subscribed_destination: subscribed_destination.into(),
            }),
        )
    }

    /// A UDSConnect Record.
    pub fn uds_connect(to_id: impl Into<String>, from_id: impl Into<String>) -> Record {
        Record::with_type(to_id, from_id, RecordType::UdsConnect(UdsConnectRecord {}))
    }

    /// A DisconnectRecord with a reason and a reason code (7100–7106 per R-MTP.9).
    pub fn disconnect(
        to_id: impl Into<String>,
        from_id: impl Into<String>,
        reason: impl Into<String>,
        code: ErrCode,
    ) -> Record {
        Record::with_type(
            to_id,
            from_id,
            RecordType::Disconnect(DisconnectRecord { reason: reason.into(), reason_code: code.0 }),
        )
    }

    /// The same Record with another `version`.
    pub fn with_version(mut self, version: impl Into<String>) -> Record {
        self.version = version.into();
        self
    }

    /// Encodes the Record into a buffer of exactly its size.
    pub fn encode_to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        // Encoding into a buffer with enough capacity cannot fail.
        self.encode_raw(&mut buf);
        buf.freeze()
    }

    /// The payload of a NoSessionContext Record.
    pub fn payload(&self) -> Option<&Bytes> {
        match &self.record_type {
            Some(RecordType::NoSessionContext(nsc)) => Some(&nsc.payload),
            _ => None,
        }
    }

    /// Decodes the Msg of a NoSessionContext Record.
    pub fn msg(&self) -> Result<Msg, PayloadError> {
        let payload = self.payload().ok_or(PayloadError::NoMsg(self.type_name()))?;
        Ok(decode_msg_unbounded(payload)?)
    }

    /// The proto name of the Record's type (`no_session_context`,
    /// `mqtt_connect`, ...), or `"empty"` when none is set.
    pub fn type_name(&self) -> &'static str {
        match &self.record_type {
            None => "empty",
            Some(RecordType::NoSessionContext(_)) => "no_session_context",
            Some(RecordType::SessionContext(_)) => "session_context",
            Some(RecordType::WebsocketConnect(_)) => "websocket_connect",
            Some(RecordType::MqttConnect(_)) => "mqtt_connect",
            Some(RecordType::StompConnect(_)) => "stomp_connect",
            Some(RecordType::Disconnect(_)) => "disconnect",
            Some(RecordType::UdsConnect(_)) => "uds_connect",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::NotifyResp;

    #[test]
    fn records_round_trip_and_expose_their_msg() {
        let msg = Msg::response("n1", NotifyResp::new("sub"));
        let r = Record::no_session_context_msg("proto::a", "proto::b", &msg);
        assert_eq!(r.type_name(), "no_session_context");
        let back = Record::decode(r.encode_to_bytes()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.msg().unwrap(), msg);
        assert_eq!(r.encode_to_bytes().len(), r.encoded_len());

        let d = Record::disconnect("proto::a", "proto::b", "bye", ErrCode::SESS_CONTEXT_TERMINATED);
        assert_eq!(d.msg().unwrap_err(), PayloadError::NoMsg("disconnect"));
        assert_eq!(Record::websocket_connect("a", "b").with_version("1.3").version, "1.3");
        assert_eq!(Record::default().type_name(), "empty");
    }
}
