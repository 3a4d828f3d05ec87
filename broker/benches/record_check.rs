//! The `from_id` check every Record passes through, with the header read in
//! place (`usp_proto::view::RecordView`, what the broker does) beside the
//! full Record decode it replaced (`Limits::decode_record`, then the owned
//! `to_id` the router needed).
//!
//! Run: `cargo bench -p usp-broker --bench record_check -- --warm-up-time 1
//! --measurement-time 3`.

// A bench binary: a panic is a failed measurement.
#![allow(clippy::unwrap_used, missing_docs)]

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use usp_broker::record_check::check_record;
use usp_proto::{Record, decode::Limits};

const FROM: &str = "proto::room-101-thermostat";
const TO: &str = "self::site-rules";

fn records() -> Vec<(&'static str, Bytes)> {
    let small = Record::no_session_context_payload(TO, FROM, Bytes::from(vec![0x55; 160])).encode_to_bytes();
    let large =
        Record::no_session_context_payload(TO, FROM, Bytes::from(vec![0x55; 64 * 1024])).encode_to_bytes();
    vec![("220 B", small), ("64 KiB", large)]
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("record_check");
    for (name, record) in records() {
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("view (broker)", name), &record, |b, r| {
            b.iter(|| check_record(&limits, black_box(r), FROM).unwrap().to_id.len())
        });
        group.bench_with_input(BenchmarkId::new("full decode (before)", name), &record, |b, r| {
            b.iter(|| {
                let record = limits.decode_record(black_box(r).clone()).unwrap();
                assert_eq!(record.from_id, FROM);
                record.to_id.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
