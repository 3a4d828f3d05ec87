//! The cloud bridge's on-disk queue: append and drain rates per entry,
//! beside a bare `write` of the same bytes to a file (the floor any
//! append-only log pays), with and without an fsync per batch of 256
//! (the bridge's group commit).
//!
//! Entries: a 220-byte Record with its topic and Response Topic, as the
//! bridge queues a Record for a cloud Controller (frame: 291 bytes).
//!
//! Run: `cargo bench -p usp-broker --bench bridge_queue -- --warm-up-time 1 --measurement-time 3`

// A bench binary: a panic is a failed measurement.
#![allow(clippy::unwrap_used, missing_docs)]

use std::{
    fs::File,
    io::Write,
    time::{Duration, Instant},
};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use usp_broker::bridge::{
    FsyncPolicy, OverflowPolicy, QueueConfig,
    queue::{
        DiskQueue,
        format::{Entry, EntryKind, encode_frame},
    },
};

/// Entries between untimed drains (keeps the disk use bounded).
const CHUNK: u64 = 10_000;
/// Entries per fsync (the appender's batch).
const BATCH: u64 = 256;

fn entry() -> Entry {
    Entry {
        kind: EntryKind::Record,
        topic: "usp/controller/proto::cloud-acs".into(),
        response_topic: Some("usp/agent/proto::room-101-thermostat".into()),
        properties: Vec::new(),
        payload: Bytes::from(vec![0x5a; 220]),
    }
}

fn open(dir: &std::path::Path, fsync: FsyncPolicy) -> DiskQueue {
    let config = QueueConfig {
        dir: dir.to_owned(),
        max_bytes: 1 << 40,
        max_records: u64::MAX,
        overflow: OverflowPolicy::Block,
        fsync,
        segment_bytes: 8 << 20,
    };
    DiskQueue::open(&config).unwrap().0
}

fn drain(q: &mut DiskQueue) {
    for seq in q.head_seq()..q.end_seq() {
        q.ack(seq).unwrap();
    }
}

/// Appends `iters` entries, fsyncing every `BATCH` when `sync`; only the
/// appends (and syncs) are timed.
fn append(iters: u64, sync: bool) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let mut q = open(dir.path(), if sync { FsyncPolicy::Always } else { FsyncPolicy::Never });
    let e = entry();
    let mut timed = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(CHUNK);
        let start = Instant::now();
        for i in 0..n {
            q.push(&e).unwrap();
            if sync && (i + 1) % BATCH == 0 {
                q.sync_handle().unwrap().unwrap().sync().unwrap();
            }
        }
        timed += start.elapsed();
        drain(&mut q);
        done += n;
    }
    timed
}

/// The floor: the same frame bytes written to a plain file.
fn raw_write(iters: u64, sync: bool) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let mut frame = Vec::new();
    encode_frame(&entry(), &mut frame).unwrap();
    let mut timed = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(CHUNK);
        let mut file = File::create(dir.path().join("raw")).unwrap();
        let start = Instant::now();
        for i in 0..n {
            file.write_all(&frame).unwrap();
            if sync && (i + 1) % BATCH == 0 {
                file.sync_data().unwrap();
            }
        }
        timed += start.elapsed();
        done += n;
    }
    timed
}

/// Reads and acknowledges `iters` entries (what the uplink does per PUBACK).
fn drain_rate(iters: u64) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let mut q = open(dir.path(), FsyncPolicy::Never);
    let e = entry();
    let mut timed = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(CHUNK);
        for _ in 0..n {
            q.push(&e).unwrap();
        }
        let start = Instant::now();
        for seq in q.head_seq()..q.end_seq() {
            let got = q.get(seq).unwrap().unwrap();
            std::hint::black_box(&got);
            q.ack(seq).unwrap();
        }
        timed += start.elapsed();
        done += n;
    }
    timed
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("bridge_queue");
    g.throughput(Throughput::Elements(1));
    g.bench_function("append", |b| b.iter_custom(|n| append(n, false)));
    g.bench_function("baseline_raw_write", |b| b.iter_custom(|n| raw_write(n, false)));
    g.bench_function("get_and_ack", |b| b.iter_custom(drain_rate));
    g.finish();
    // fsync times swing with the disk and the machine's load: fewer, longer
    // samples.
    let mut g = c.benchmark_group("bridge_queue_fsync");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.bench_function("append_fsync_per_256", |b| b.iter_custom(|n| append(n, true)));
    g.bench_function("baseline_raw_write_fsync_per_256", |b| b.iter_custom(|n| raw_write(n, true)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
