//! Property tests of the codec.
//!
//! Arbitrary Records and Msgs are generated from the schemas' own
//! descriptors with `prost-reflect`, an independent reflection-based codec:
//! every field, oneof member, map and repeated field of every message is
//! reachable, and enum fields also take values the schema does not define.
//! Our generated types must decode what it encodes and carry everything
//! through a round trip; arbitrary bytes must never panic the decoders.

use bytes::Bytes;
use proptest::{collection::vec, prelude::*, strategy::Union};
use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value,
};
use usp_proto::{
    FILE_DESCRIPTOR_SET, Msg, Record, decode::Limits, json, usp_record::record::RecordType, validate::Policy,
};

fn pool() -> DescriptorPool {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("descriptor set")
}

fn short_string() -> BoxedStrategy<String> {
    // Mostly short text, with non-ASCII in the mix.
    prop_oneof![4 => "[a-zA-Z0-9._\\[\\]=\"-]{0,12}", 1 => "\\PC{0,6}"].boxed()
}

fn value_for(kind: &Kind) -> BoxedStrategy<Value> {
    match kind {
        Kind::String => short_string().prop_map(Value::String).boxed(),
        Kind::Bytes => vec(any::<u8>(), 0..8).prop_map(|b| Value::Bytes(Bytes::from(b))).boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Kind::Fixed32 | Kind::Uint32 => any::<u32>().prop_map(Value::U32).boxed(),
        Kind::Uint64 => any::<u64>().prop_map(Value::U64).boxed(),
        Kind::Enum(e) => {
            let known: Vec<i32> = e.values().map(|v| v.number()).collect();
            prop_oneof![9 => proptest::sample::select(known), 1 => any::<i32>()]
                .prop_map(Value::EnumNumber)
                .boxed()
        }
        Kind::Message(m) => message(m.clone()).prop_map(Value::Message).boxed(),
        other => unreachable!("the USP schemas use no {other:?} fields"),
    }
}

/// A strategy for one field: `None` leaves it unset.
fn field(f: &FieldDescriptor) -> BoxedStrategy<Option<(FieldDescriptor, Value)>> {
    let fd = f.clone();
    let strat: BoxedStrategy<Value> = if f.is_map() {
        let Kind::Message(entry) = f.kind() else { unreachable!("map entry") };
        let (k, v) = (entry.map_entry_key_field().kind(), entry.map_entry_value_field().kind());
        assert!(matches!((&k, &v), (Kind::String, Kind::String)), "USP maps are string→string");
        vec((short_string(), short_string()), 0..4)
            .prop_map(|pairs| {
                Value::Map(pairs.into_iter().map(|(k, v)| (MapKey::String(k), Value::String(v))).collect())
            })
            .boxed()
    } else if f.is_list() {
        vec(value_for(&f.kind()), 0..3).prop_map(Value::List).boxed()
    } else {
        value_for(&f.kind())
    };
    proptest::option::weighted(0.7, strat).prop_map(move |v| v.map(|v| (fd.clone(), v))).boxed()
}

/// Arbitrary instances of a message type, every oneof holding at most one member.
fn message(desc: MessageDescriptor) -> BoxedStrategy<DynamicMessage> {
    let mut parts: Vec<BoxedStrategy<Option<(FieldDescriptor, Value)>>> =
        desc.fields().filter(|f| f.containing_oneof().is_none()).map(|f| field(&f)).collect();
    for oneof in desc.oneofs() {
        let mut members: Vec<BoxedStrategy<Option<(FieldDescriptor, Value)>>> = vec![Just(None).boxed()];
        for f in oneof.fields() {
            let fd = f.clone();
            members.push(value_for(&f.kind()).prop_map(move |v| Some((fd.clone(), v))).boxed());
        }
        parts.push(Union::new(members).boxed());
    }
    parts
        .prop_map(move |fields| {
            let mut m = DynamicMessage::new(desc.clone());
            for (f, v) in fields.into_iter().flatten() {
                m.set_field(&f, v);
            }
            m
        })
        .boxed()
}

fn msg_desc() -> MessageDescriptor {
    pool().get_message_by_name("usp.Msg").expect("usp.Msg")
}

fn record_desc() -> MessageDescriptor {
    pool().get_message_by_name("usp_record.Record").expect("usp_record.Record")
}

/// Decoding both sides with the reflection codec normalises what proto3
/// cannot tell apart (a field set to its default vs. unset).
fn same_content(desc: &MessageDescriptor, a: &[u8], b: &[u8]) -> bool {
    let da = DynamicMessage::decode(desc.clone(), a).expect("reflection decodes a");
    let db = DynamicMessage::decode(desc.clone(), b).expect("reflection decodes b");
    da == db
}

fn all_enums_known(msg: &Msg) -> bool {
    json::msg_to_json(msg).is_ok()
}

fn record_enums_known(record: &Record) -> bool {
    let header_only = Record { record_type: None, ..record.clone() };
    json::record_to_json(&header_only).is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any Msg another implementation encodes, ours decodes, and re-encodes
    /// with the same content.
    #[test]
    fn msgs_round_trip(dynamic in message(msg_desc())) {
        let wire = dynamic.encode_to_vec();
        let ours = Msg::decode(wire.as_slice()).expect("our Msg decodes reflection's bytes");
        let again = ours.encode_to_vec();
        prop_assert!(same_content(&msg_desc(), &wire, &again));
        prop_assert_eq!(Msg::decode(again.as_slice()).expect("decode again"), ours.clone());
        prop_assert_eq!(again.len(), ours.encoded_len());
        // JSON: every Msg whose enums hold defined values maps and comes back.
        if all_enums_known(&ours) {
            let value = json::msg_to_json(&ours).expect("to JSON");
            prop_assert_eq!(json::msg_from_json(value).expect("from JSON"), ours);
        }
    }

    /// The same for Records, and for Records whose payload is a Msg: the
    /// JSON form (payload decoded in place) maps back to the same content.
    #[test]
    fn records_round_trip(dynamic in message(record_desc()), payload in message(msg_desc())) {
        let wire = dynamic.encode_to_vec();
        let ours = Record::decode(wire.as_slice()).expect("our Record decodes reflection's bytes");
        let again = ours.encode_to_bytes();
        prop_assert!(same_content(&record_desc(), &wire, &again));
        prop_assert_eq!(Record::decode(again).expect("decode again"), ours.clone());

        let mut with_msg = ours;
        let msg = Msg::decode(payload.encode_to_vec().as_slice()).expect("msg");
        with_msg.record_type = Some(RecordType::NoSessionContext(
            usp_proto::usp_record::NoSessionContextRecord { payload: Bytes::from(msg.encode_to_vec()) },
        ));
        match json::record_to_json(&with_msg) {
            Ok(value) => {
                let back = json::record_from_json(value).expect("from JSON");
                prop_assert_eq!(back.msg().expect("payload"), msg);
                prop_assert_eq!((back.to_id, back.from_id), (with_msg.to_id, with_msg.from_id));
            }
            // Only an enum value the schema does not define may stop the JSON form.
            Err(_) => prop_assert!(!all_enums_known(&msg) || !record_enums_known(&with_msg)),
        }
    }

    /// The zero-copy header view reads the same fields as the full decoder,
    /// and the fused encoder writes the same bytes as the two-step one.
    #[test]
    fn view_and_fused_encoder_agree_with_the_decoder(dynamic in message(record_desc()), payload in message(msg_desc())) {
        let wire = dynamic.encode_to_vec();
        let full = Record::decode(wire.as_slice()).expect("full decode");
        let view = usp_proto::view::RecordView::parse(&wire).expect("view");
        prop_assert_eq!((view.version, view.to_id, view.from_id), (full.version.as_str(), full.to_id.as_str(), full.from_id.as_str()));
        prop_assert_eq!(view.payload_security, full.payload_security);
        prop_assert_eq!(view.payload, full.payload().map(|p| p.as_ref()));
        prop_assert_eq!(view.record_type != 0, full.record_type.is_some());
        let topic = match &full.record_type {
            Some(RecordType::MqttConnect(c)) => Some(c.subscribed_topic.as_str()),
            _ => None,
        };
        prop_assert_eq!(view.mqtt_subscribed_topic, topic);

        let msg = Msg::decode(payload.encode_to_vec().as_slice()).expect("msg");
        let fused = usp_proto::encode::msg_record_with_version(&full.version, &full.to_id, &full.from_id, &msg);
        let two_step = Record::no_session_context_msg(full.to_id.clone(), full.from_id.clone(), &msg)
            .with_version(full.version.clone())
            .encode_to_bytes();
        prop_assert_eq!(fused, two_step);
    }

    /// Arbitrary bytes never panic the decoders or the validator.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let b = Bytes::from(bytes);
        let _ = Limits::default().decode_record(b.clone());
        let _ = Limits::default().decode_msg(&b);
        let _ = Policy::for_endpoint("proto::me").check(b.clone());
        let _ = usp_proto::view::RecordView::parse(&b);
        if let Ok(record) = Limits::default().decode_record(b) {
            let _ = record.msg();
            let _ = json::record_to_json(&record);
        }
    }

    /// Valid records with a few bytes changed reach deeper into the decoder
    /// than random bytes do; they must not panic it either.
    #[test]
    fn mutated_records_never_panic(
        dynamic in message(record_desc()),
        payload in message(msg_desc()),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut record = Record::decode(dynamic.encode_to_vec().as_slice()).expect("record");
        record.record_type = Some(RecordType::NoSessionContext(
            usp_proto::usp_record::NoSessionContextRecord { payload: Bytes::from(payload.encode_to_vec()) },
        ));
        let mut bytes = record.encode_to_bytes().to_vec();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = usp_proto::view::RecordView::parse(&bytes);
        let _ = Policy::for_endpoint("proto::me").check(Bytes::from(bytes));
    }
}
