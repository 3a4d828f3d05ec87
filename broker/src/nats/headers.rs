//! NATS header names carrying USP metadata.
//!
//! Records crossing the mesh: [`TOPIC`] (the MQTT topic it was published
//! to, so the receiving node routes it to the same topic), [`REPLY_TO`] (the
//! sender's reply topic), [`NODE`] (the sending node). Site events:
//! [`FROM`], [`TO`], [`MSG_ID`], [`KIND`] (the Notify kind, as in the
//! subject).

/// The MQTT topic a Record was published to.
pub const TOPIC: &str = "Usp-Topic";
/// The sender's reply topic.
pub const REPLY_TO: &str = "Usp-Reply-To";
/// The node that sent a Record (or published an event, or submitted a job).
pub const NODE: &str = "Usp-Node";
/// The Record's `from_id`.
pub const FROM: &str = "Usp-From";
/// The Record's `to_id`.
pub const TO: &str = "Usp-To";
/// The Msg's `msg_id`.
pub const MSG_ID: &str = "Usp-Msg-Id";
/// The Notify kind (`value_change`, `event`, ...).
pub const KIND: &str = "Usp-Kind";
/// The name of a rule job.
pub const JOB: &str = "Usp-Rule-Job";
