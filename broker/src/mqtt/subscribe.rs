//! SUBSCRIBE and UNSUBSCRIBE.
//!
//! Each filter is checked on its own ([`crate::acl::AccessPolicy::check_subscribe`]):
//! a refused one gets a failure code in the SUBACK (3.1.1: 0x80; 5: Not
//! Authorized 0x87, Topic Filter Invalid 0x8F, or Shared Subscriptions Not
//! Supported 0x9E) and no traffic; the others are granted at most QoS 1.
//! Subscription Identifiers were announced as unavailable, so a SUBSCRIBE
//! carrying one is a protocol error (MQTT 5 §3.8.2.1.2, DISCONNECT 0xA1).

use rumqttd::protocol::{
    DisconnectReasonCode, Packet, SubAck, Subscribe, SubscribeProperties, SubscribeReasonCode, UnsubAck,
    UnsubAckReason, Unsubscribe,
};

use super::{Version, session::Exit, session::Session};
use crate::acl::SubscribeRefusal;

impl Session {
    pub(super) fn handle_subscribe(
        &mut self,
        subscribe: Subscribe,
        properties: Option<SubscribeProperties>,
    ) -> Result<(), Exit> {
        if properties.as_ref().is_some_and(|p| p.id.is_some()) {
            return Err(Exit::Protocol(DisconnectReasonCode::SubscriptionIdentifiersNotSupported));
        }
        let v5 = self.version() == Version::V5;
        let return_codes = subscribe
            .filters
            .iter()
            .map(|filter| match self.att.subscribe(&filter.path, filter.qos, filter.nolocal) {
                Ok(granted) => SubscribeReasonCode::Success(granted),
                Err(_) if !v5 => SubscribeReasonCode::Failure,
                Err(SubscribeRefusal::NotAuthorized) => SubscribeReasonCode::NotAuthorized,
                Err(SubscribeRefusal::InvalidFilter) => SubscribeReasonCode::TopicFilterInvalid,
                Err(SubscribeRefusal::SharedUnsupported) => {
                    SubscribeReasonCode::SharedSubscriptionsNotSupported
                }
            })
            .collect();
        self.write(Packet::SubAck(SubAck { pkid: subscribe.pkid, return_codes }, None))
    }

    pub(super) fn handle_unsubscribe(&mut self, unsubscribe: Unsubscribe) -> Result<(), Exit> {
        let reasons = unsubscribe
            .filters
            .iter()
            .map(|filter| {
                if self.att.unsubscribe(filter) {
                    UnsubAckReason::Success
                } else {
                    UnsubAckReason::NoSubscriptionExisted
                }
            })
            .collect();
        self.write(Packet::UnsubAck(UnsubAck { pkid: unsubscribe.pkid, reasons }, None))
    }
}
