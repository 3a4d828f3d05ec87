//! Codec figures for issue 2: decode and encode of a ValueChange Notify
//! record (Record + Msg) and of a GetResp record with 100 parameters.
//!
//! Baseline in the same run: the same bytes through prost-reflect's
//! schema-generic decoder, the usual way to handle protobuf without
//! generated code.
//!
//! Run: `cargo bench --bench codec -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_main};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use usp_proto::{
    FILE_DESCRIPTOR_SET, Msg, Record,
    decode::Limits,
    usp::{GetResp, Notify, get_resp},
};

fn notify_record() -> (Msg, Bytes) {
    let msg = Msg::request(
        "r101-ntf-0007",
        Notify::value_change("s1-temp-vc", false, "Device.IoTCapability.3.LevelSensor.Value", "22.5"),
    );
    let bytes =
        Record::no_session_context_msg("self::site1-rules", "proto::room-101", &msg).encode_to_bytes();
    (msg, bytes)
}

fn get_resp_record() -> (Msg, Bytes) {
    let params = (0..100).map(|i| (format!("Param{i}"), format!("value-{i}")));
    let resolved = get_resp::ResolvedPathResult::new("Device.IoTCapability.3.LevelSensor.", params);
    let msg = Msg::response(
        "s1r-000101",
        GetResp::new(vec![get_resp::RequestedPathResult::ok(
            "Device.IoTCapability.3.LevelSensor.",
            vec![resolved],
        )]),
    );
    let bytes =
        Record::no_session_context_msg("self::site1-rules", "proto::room-101", &msg).encode_to_bytes();
    (msg, bytes)
}

fn codec(c: &mut Criterion) {
    let limits = Limits::default();
    let pool = DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("descriptors");
    let record_desc = pool.get_message_by_name("usp_record.Record").expect("Record");
    let msg_desc = pool.get_message_by_name("usp.Msg").expect("Msg");

    for (name, (msg, bytes)) in
        [("notify_value_change", notify_record()), ("get_resp_100_params", get_resp_record())]
    {
        let mut g = c.benchmark_group(name);
        g.bench_function("decode record+msg (usp-proto)", |b| {
            b.iter(|| {
                let record = limits.decode_record(black_box(bytes.clone())).expect("record");
                black_box(record.msg().expect("msg"))
            })
        });
        g.bench_function("decode record+msg, borrowed header (usp-proto)", |b| {
            b.iter(|| black_box(limits.decode_msg_record(black_box(&bytes)).expect("record")))
        });
        g.bench_function("decode record+msg (baseline: prost-reflect)", |b| {
            b.iter(|| {
                let record =
                    DynamicMessage::decode(record_desc.clone(), black_box(bytes.clone())).expect("record");
                let nsc = record.get_field_by_name("no_session_context").expect("nsc");
                let payload = nsc.as_message().and_then(|m| m.get_field_by_name("payload")).expect("payload");
                let payload = payload.as_bytes().expect("bytes").clone();
                black_box(DynamicMessage::decode(msg_desc.clone(), payload).expect("msg"))
            })
        });
        g.bench_function("decode header view (usp-proto, zero-copy)", |b| {
            b.iter(|| black_box(usp_proto::view::RecordView::parse(black_box(&bytes)).expect("view")))
        });
        g.bench_function("encode record+msg, fused (usp-proto)", |b| {
            b.iter(|| {
                black_box(usp_proto::encode::msg_record(
                    "self::site1-rules",
                    "proto::room-101",
                    black_box(&msg),
                ))
            })
        });
        g.bench_function("encode record+msg, two-step (usp-proto)", |b| {
            b.iter(|| {
                black_box(
                    Record::no_session_context_msg("self::site1-rules", "proto::room-101", black_box(&msg))
                        .encode_to_bytes(),
                )
            })
        });
        let dyn_msg = DynamicMessage::decode(msg_desc.clone(), msg.encode_to_vec().as_slice()).expect("dyn");
        g.bench_function("encode msg only (baseline: prost-reflect)", |b| {
            b.iter(|| black_box(black_box(&dyn_msg).encode_to_vec()))
        });
        g.finish();
    }
}

// criterion_group! generates an undocumented `pub fn benches`.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::codec);
}
criterion_main!(group::benches);
