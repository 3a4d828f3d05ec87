//! The routing-core decision, measured: rumqttd 0.20's router driven through
//! its in-process links, beside our router driven through `LocalLink`s —
//! same work, each in a fresh child process so memory figures do not mix.
//!
//! For each: attach 10,000 endpoints subscribed to their own topic (memory
//! per attached endpoint, router side, no sockets), then deliver 10 Records
//! of 220 bytes to each endpoint's topic and consume them all (memory still
//! held afterwards), then a fan-in of 200,000 Records from 4 senders into
//! one receiver (Records/s through the core alone).
//!
//! Memory is live heap bytes, counted by a wrapping global allocator (RSS
//! would hide freed memory that malloc keeps); RSS is shown beside it.
//!
//! Run: `cargo bench -p usp-broker --bench router`

// A bench binary: a panic is a failed measurement.
#![allow(clippy::unwrap_used, missing_docs)]

use std::{
    alloc::System,
    process::Command,
    time::{Duration, Instant},
};

use bytes::Bytes;

const ENDPOINTS: usize = 10_000;
const PER_ENDPOINT: usize = 10;
const FAN_IN: usize = 200_000;
const SENDERS: usize = 4;

/// The system allocator, counting live bytes.
#[global_allocator]
static ALLOCATOR: cap::Cap<System> = cap::Cap::new(System, usize::MAX);

fn heap_kib() -> i64 {
    (ALLOCATOR.allocated() / 1024) as i64
}

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4
}

/// A 220-byte USP Record from `from` to `to`.
fn record(from: &str, to: &str) -> Bytes {
    let base = usp_proto::Record::no_session_context_payload(to, from, Bytes::new()).encode_to_bytes().len();
    let payload = Bytes::from(vec![0x55; 220usize.saturating_sub(base + 3)]);
    usp_proto::Record::no_session_context_payload(to, from, payload).encode_to_bytes()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        match args.get(at + 1).map(String::as_str) {
            Some("rumqttd") => rumqttd_child(),
            Some("uspmesh") => uspmesh_child(),
            _ => panic!("unknown child"),
        }
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    println!("routing core, in-process (no sockets), {ENDPOINTS} endpoints, 220-byte Records");
    println!(
        "| router | heap KiB per attached endpoint | RSS KiB per attached endpoint | attach time | heap KiB held after {} deliveries consumed | heap KiB held after all detached | fan-in Records/s |",
        ENDPOINTS * PER_ENDPOINT
    );
    println!("|---|---|---|---|---|---|---|");
    for which in ["rumqttd", "uspmesh"] {
        let out = Command::new(std::env::current_exe().unwrap()).args(["--child", which]).output().unwrap();
        assert!(out.status.success(), "{which}: {}", String::from_utf8_lossy(&out.stderr));
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

/// Memory before attaching, to compute per-endpoint figures.
struct Mark {
    heap: i64,
    rss: u64,
}

impl Mark {
    fn now() -> Mark {
        Mark { heap: heap_kib(), rss: rss_kib() }
    }

    fn per_endpoint(&self) -> (f64, f64) {
        let n = ENDPOINTS as f64;
        ((heap_kib() - self.heap) as f64 / n, (rss_kib() - self.rss) as f64 / n)
    }
}

fn report(
    name: &str,
    (heap, rss): (f64, f64),
    attach: Duration,
    held: i64,
    detached: Option<i64>,
    fan_in_rate: f64,
) {
    let detached = detached.map_or_else(|| "no detach API".to_owned(), |d| d.to_string());
    println!("| {name} | {heap:.2} | {rss:.2} | {attach:.2?} | {held} | {detached} | {fan_in_rate:.0} |");
}

fn rumqttd_child() {
    use rumqttd::{Notification, Router, RouterConfig, local::LinkBuilder};
    let config = RouterConfig {
        max_connections: ENDPOINTS + SENDERS + 10,
        max_outgoing_packet_count: 200,
        max_segment_size: 100 * 1024 * 1024,
        max_segment_count: 10,
        ..RouterConfig::default()
    };
    let router = Router::new(0, config).spawn();
    let mark = Mark::now();
    let started = Instant::now();
    let mut links = Vec::with_capacity(ENDPOINTS);
    for i in 0..ENDPOINTS {
        let id = format!("proto::e{i}");
        let (mut tx, rx, _) = LinkBuilder::new(&id, router.clone()).build().unwrap();
        tx.subscribe(format!("usp/agent/{id}")).unwrap();
        links.push((tx, rx));
    }
    // Wait until the router has handled every subscription: a probe
    // published to the last topic arrives.
    let (mut probe_tx, _probe_rx, _) = LinkBuilder::new("proto::probe", router.clone()).build().unwrap();
    probe_tx.publish(format!("usp/agent/proto::e{}", ENDPOINTS - 1), record("proto::probe", "x")).unwrap();
    let last = &mut links.last_mut().unwrap().1;
    loop {
        match last.recv() {
            Ok(Some(Notification::Forward(_))) => break,
            Ok(Some(Notification::Unschedule)) => last.ready().unwrap(),
            _ => {}
        }
    }
    let attach = started.elapsed();
    let per_link = mark.per_endpoint();

    let before = heap_kib();
    let payload = record("proto::s", "proto::e");
    for _ in 0..PER_ENDPOINT {
        for i in 0..ENDPOINTS {
            probe_tx.publish(format!("usp/agent/proto::e{i}"), payload.clone()).unwrap();
        }
    }
    for (_, rx) in links.iter_mut() {
        let mut n = 0;
        while n < PER_ENDPOINT {
            match rx.recv_deadline(Instant::now() + Duration::from_secs(10)) {
                Ok(Some(Notification::Forward(_))) => n += 1,
                // The router stops serving a link until it says it is ready again.
                Ok(Some(Notification::Unschedule)) => rx.ready().unwrap(),
                Ok(_) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    let held = heap_kib() - before;
    // rumqttd's local links have no way to detach: dropping them does not
    // tell the router, which keeps every connection and topic log.
    let detached = None;

    let (mut sink_tx, mut sink, _) = LinkBuilder::new("proto::sink", router.clone()).build().unwrap();
    sink_tx.subscribe("usp/controller/proto::sink").unwrap();
    let started = Instant::now();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let router = router.clone();
            std::thread::spawn(move || {
                let id = format!("proto::fan{s}");
                let (mut tx, _rx, _) = LinkBuilder::new(&id, router).build().unwrap();
                let r = record(&id, "proto::sink");
                for _ in 0..FAN_IN / SENDERS {
                    // Blocks while the router's channel is full.
                    tx.publish("usp/controller/proto::sink", r.clone()).unwrap();
                }
            })
        })
        .collect();
    let mut got = 0;
    while got < FAN_IN {
        match sink.recv_deadline(Instant::now() + Duration::from_secs(10)) {
            Ok(Some(Notification::Forward(_))) => got += 1,
            Ok(Some(Notification::Unschedule)) => sink.ready().unwrap(),
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let rate = got as f64 / started.elapsed().as_secs_f64();
    for s in senders {
        s.join().unwrap();
    }
    report("rumqttd 0.20 (links)", per_link, attach, held, detached, rate);
}

fn uspmesh_child() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut config = usp_broker::BrokerConfig::loopback_ephemeral();
        config.limits.queue_max_messages = 4096;
        let broker = usp_broker::Broker::start(config).await.unwrap();
        let mark = Mark::now();
        let started = Instant::now();
        let mut links = Vec::with_capacity(ENDPOINTS);
        for i in 0..ENDPOINTS {
            links.push(broker.link(&format!("proto::e{i}")).unwrap());
        }
        let attach = started.elapsed();
        let per_link = mark.per_endpoint();

        let before = heap_kib();
        let mut sender = broker.link("proto::s").unwrap();
        for _ in 0..PER_ENDPOINT {
            for i in 0..ENDPOINTS {
                sender.send(record("proto::s", &format!("proto::e{i}"))).await.unwrap();
            }
        }
        for link in links.iter_mut() {
            for _ in 0..PER_ENDPOINT {
                link.recv().await.unwrap();
            }
        }
        let held = heap_kib() - before;
        drop(links);
        drop(sender);
        let detached = Some(heap_kib() - mark.heap);

        let mut sink = broker.link("proto::sink").unwrap();
        let started = Instant::now();
        let mut senders = Vec::new();
        for s in 0..SENDERS {
            let mut link = broker.link(&format!("proto::fan{s}")).unwrap();
            senders.push(tokio::spawn(async move {
                let r = record(link.endpoint_id(), "proto::sink");
                for _ in 0..FAN_IN / SENDERS {
                    link.send(r.clone()).await.unwrap();
                }
            }));
        }
        let mut got = 0;
        while got < FAN_IN {
            tokio::time::timeout(Duration::from_secs(10), sink.recv()).await.unwrap().unwrap();
            got += 1;
        }
        let rate = got as f64 / started.elapsed().as_secs_f64();
        for s in senders {
            s.await.unwrap();
        }
        report("uspmesh (LocalLink)", per_link, attach, held, detached, rate);
        broker.shutdown().await;
    });
}
