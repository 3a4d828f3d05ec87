//! End-to-end figures through real TCP, uspmesh's broker beside its
//! baselines, all driven by the same load generator in the same run:
//!
//! * **uspmesh** — `usp_broker::Broker`, in a child process (this binary,
//!   `--serve uspmesh`), on a 2-worker tokio runtime;
//! * **rumqttd 0.20** — run from the crate in a child process (`--serve
//!   rumqttd`), with the settings of its shipped `rumqttd.toml`;
//! * **mosquitto** — Debian's, started here with `set_tcp_nodelay true`,
//!   everything else default;
//! * **raw TCP echo** — for the round-trip floor.
//!
//! Measured (MQTT 3.1.1, 220-byte payloads that are valid USP Records from
//! their sender, so uspmesh does its full `from_id` check):
//!
//! * fan-in: 10 publishers × 30,000 Records into one subscriber, QoS 0 and
//!   QoS 1 (publishers keep up to 100 unacknowledged), Records/s received
//!   and Records lost;
//! * round trip: request → responder → reply, 5,000 sequential exchanges
//!   after 500 of warm-up, p50 and p99, QoS 0 and QoS 1, alternating
//!   between the brokers (and a plain TCP echo) exchange by exchange —
//!   except rumqttd at QoS 1, whose 44 ms delayed-ACK stalls are measured
//!   apart over 200 exchanges;
//! * 10,000 idle agents: connect + subscribe 10,000 connections (100 at a
//!   time), time to the last SUBACK, and broker RSS growth per connection.
//!
//! The brokers run at once; fan-in is measured in turns over 3 rounds
//! (medians shown) and round trips alternate exchange by exchange, so load
//! from other processes on this shared machine falls on each alike.
//!
//! Run: `cargo bench -p usp-broker --bench load` (needs `mosquitto`, and an
//! open-file limit of at least 20,000 — `ulimit -n 65536` where allowed:
//! the load generator and each broker hold 10,000 sockets apiece during the
//! idle-connection step). `--quick` shrinks every count by 10.

// A bench binary: a panic is a failed measurement.
#![allow(clippy::unwrap_used, missing_docs)]

use std::{
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Barrier,
};

struct Counts {
    publishers: usize,
    per_publisher: usize,
    rtt_samples: usize,
    idle: usize,
}

const PAYLOAD: usize = 220;
const WINDOW: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--serve") {
        match args.get(at + 1).map(String::as_str) {
            Some("uspmesh") => serve_uspmesh(),
            Some("rumqttd") => serve_rumqttd(args.get(at + 2).unwrap().parse().unwrap()),
            _ => panic!("unknown server"),
        }
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let scale = if args.iter().any(|a| a == "--quick") { 10 } else { 1 };
    let counts = Counts {
        publishers: 10,
        per_publisher: 30_000 / scale,
        rtt_samples: 5_000 / scale,
        idle: 10_000 / scale,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run(counts));
}

async fn run(counts: Counts) {
    let total = counts.publishers * counts.per_publisher;
    let kinds = [Kind::Uspmesh, Kind::Rumqttd, Kind::Mosquitto];
    // All brokers run at once. Fan-in is measured in turns, round after
    // round (medians reported); round trips alternate between the brokers
    // exchange by exchange. Load from other processes on this machine thus
    // falls on each broker alike.
    let servers: Vec<Server> = kinds.iter().map(|&k| Server::start(k)).collect();
    let mut fan: Vec<Vec<FanIn>> = vec![Vec::new(); kinds.len()];
    for round in 0..ROUNDS {
        for (i, server) in servers.iter().enumerate() {
            let tag = format!("r{round}");
            let q0 = fan_in(server.addr, &counts, 0, &tag).await;
            let q1 = fan_in(server.addr, &counts, 1, &tag).await;
            fan[i].push(FanIn { q0, q1 });
        }
    }
    let mut rtts = Vec::new();
    for qos in [0, 1] {
        // rumqttd sets no TCP_NODELAY, so its QoS 1 exchanges stall ~44 ms
        // on delayed ACKs: measured apart, with fewer samples, so the
        // others are not measured after 44 ms pauses.
        let stalls = |k: Kind| qos == 1 && k == Kind::Rumqttd;
        let mut pairs = Vec::new();
        for (server, &kind) in servers.iter().zip(&kinds) {
            if !stalls(kind) {
                pairs.push(Pair::broker(server.addr, qos, "rtt").await);
            }
        }
        pairs.push(Pair::echo().await);
        let mut figures = rtt_interleaved(pairs, counts.rtt_samples).await;
        for (i, (server, &kind)) in servers.iter().zip(&kinds).enumerate() {
            if stalls(kind) {
                let alone = rtt_interleaved(
                    vec![Pair::broker(server.addr, qos, "rtt").await],
                    counts.rtt_samples / 25,
                )
                .await;
                figures.insert(i, alone[0]);
            }
        }
        rtts.push(figures);
    }
    println!(
        "load generator: MQTT 3.1.1, {PAYLOAD}-byte Records, TCP_NODELAY on every client socket; fan-in: medians of {ROUNDS} rounds"
    );
    println!();
    println!(
        "| broker | fan-in QoS 0 Records/s (lost of {total}) | fan-in QoS 1 Records/s (lost of {total}) | RTT QoS 0 p50 / p99 µs | RTT QoS 1 p50 / p99 µs | {} idle connections: connect time | RSS per idle connection |",
        counts.idle
    );
    println!("|---|---|---|---|---|---|---|");
    for (i, server) in servers.into_iter().enumerate() {
        let med = |get: &dyn Fn(&FanIn) -> f64| median(fan[i].iter().map(get).collect());
        let (connect_time, per_conn) = idle(&server, counts.idle).await;
        println!(
            "| {} | {:.0} ({:.0}) | {:.0} ({:.0}) | {:.0} / {:.0} | {:.0} / {:.0} | {:.2?} | {:.1} KiB |",
            kinds[i].name(),
            med(&|x| x.q0.0),
            med(&|x| x.q0.1 as f64),
            med(&|x| x.q1.0),
            med(&|x| x.q1.1 as f64),
            rtts[0][i].0,
            rtts[0][i].1,
            rtts[1][i].0,
            rtts[1][i].1,
            connect_time,
            per_conn
        );
        server.stop();
    }
    let echo = kinds.len();
    println!("| raw TCP echo | | | {:.0} / {:.0} | | | |", rtts[0][echo].0, rtts[0][echo].1);
}

const ROUNDS: usize = 3;

/// One round's fan-in figures: (Records/s, lost) at QoS 0 and QoS 1.
#[derive(Clone, Copy)]
struct FanIn {
    q0: (f64, usize),
    q1: (f64, usize),
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

// ---------------------------------------------------------------- servers

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Uspmesh,
    Rumqttd,
    Mosquitto,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Uspmesh => "uspmesh (on a 2-worker tokio runtime)",
            Kind::Rumqttd => "rumqttd 0.20 (raw, from the crate)",
            Kind::Mosquitto => "mosquitto 2.0 (Debian, TCP_NODELAY)",
        }
    }
}

struct Server {
    addr: SocketAddr,
    child: Child,
    _dir: Option<tempfile::TempDir>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    fn start(kind: Kind) -> Server {
        let exe = std::env::current_exe().unwrap();
        let (mut child, dir, port) = match kind {
            Kind::Uspmesh => {
                let mut child = Command::new(exe)
                    .args(["--serve", "uspmesh"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                let mut line = String::new();
                BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
                let port = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
                (child, None, port)
            }
            Kind::Rumqttd => {
                let port = free_port();
                let child = Command::new(exe)
                    .args(["--serve", "rumqttd", &port.to_string()])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                (child, None, port)
            }
            Kind::Mosquitto => {
                let port = free_port();
                let dir = tempfile::tempdir().unwrap();
                let conf = dir.path().join("mosquitto.conf");
                std::fs::write(
                    &conf,
                    format!("listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"),
                )
                .unwrap();
                let child = Command::new("mosquitto")
                    .arg("-c")
                    .arg(&conf)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("mosquitto is installed (apt-get install mosquitto)");
                (child, Some(dir), port)
            }
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // A foreign process: its listener is up when a connection succeeds.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "{} did not start", kind.name());
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{} exited: {status}", kind.name());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Server { addr, child, _dir: dir }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    fn stop(mut self) {
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The uspmesh broker, until stdin closes.
fn serve_uspmesh() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut config = usp_broker::BrokerConfig::loopback_ephemeral();
        config.websocket.clear();
        config.limits.max_connections = 50_000;
        let broker = usp_broker::Broker::start(config).await.unwrap();
        println!("PORT {}", broker.mqtt_addrs()[0].port());
        std::io::stdout().flush().unwrap();
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await
        .unwrap();
        broker.shutdown().await;
    });
}

/// rumqttd with its shipped `rumqttd.toml` settings (more connections).
fn serve_rumqttd(port: u16) {
    use std::collections::HashMap;
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 60000,
        max_payload_size: 20480,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "v4-1".into(),
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 20_010,
            max_outgoing_packet_count: 200,
            max_segment_size: 104_857_600,
            max_segment_count: 10,
            ..rumqttd::RouterConfig::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..rumqttd::Config::default()
    };
    std::thread::spawn(move || {
        let mut broker = rumqttd::Broker::new(config);
        broker.start().unwrap();
    });
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

// ---------------------------------------------------------- MQTT framing

/// A 220-byte USP Record from `from` to `to`.
fn record(from: &str, to: &str) -> Bytes {
    let empty = usp_proto::Record::no_session_context_payload(to, from, Bytes::new()).encode_to_bytes().len();
    let pad = Bytes::from(vec![0x55; PAYLOAD.saturating_sub(empty + 2)]);
    usp_proto::Record::no_session_context_payload(to, from, pad).encode_to_bytes()
}

fn put_str(out: &mut BytesMut, s: &[u8]) {
    out.put_u16(s.len() as u16);
    out.put_slice(s);
}

fn put_len(out: &mut BytesMut, mut len: usize) {
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.put_u8(b);
        if len == 0 {
            break;
        }
    }
}

fn connect_frame(client_id: &str) -> BytesMut {
    let mut body = BytesMut::new();
    put_str(&mut body, b"MQTT");
    body.put_u8(4);
    body.put_u8(0b10);
    body.put_u16(60);
    put_str(&mut body, client_id.as_bytes());
    let mut out = BytesMut::new();
    out.put_u8(0x10);
    put_len(&mut out, body.len());
    out.put(body);
    out
}

fn subscribe_frame(filter: &str, qos: u8) -> BytesMut {
    let mut body = BytesMut::new();
    body.put_u16(1);
    put_str(&mut body, filter.as_bytes());
    body.put_u8(qos);
    let mut out = BytesMut::new();
    out.put_u8(0x82);
    put_len(&mut out, body.len());
    out.put(body);
    out
}

fn put_publish(out: &mut BytesMut, topic: &str, payload: &[u8], qos: u8, pkid: u16) {
    out.put_u8(0x30 | (qos << 1));
    put_len(out, 2 + topic.len() + if qos > 0 { 2 } else { 0 } + payload.len());
    put_str(out, topic.as_bytes());
    if qos > 0 {
        out.put_u16(pkid);
    }
    out.put_slice(payload);
}

fn put_puback(out: &mut BytesMut, pkid: u16) {
    out.put_slice(&[0x40, 2]);
    out.put_u16(pkid);
}

/// One complete frame from the front of `buf`: (first byte, frame).
fn next_frame(buf: &mut BytesMut) -> Option<(u8, BytesMut)> {
    let (mut len, mut shift, mut at) = (0usize, 0, 1);
    loop {
        let b = *buf.get(at)?;
        len |= usize::from(b & 0x7f) << shift;
        at += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    if buf.len() < at + len {
        return None;
    }
    let mut frame = buf.split_to(at + len);
    let first = frame[0];
    frame.advance(at);
    Some((first, frame))
}

/// The packet identifier of a QoS 1 PUBLISH body.
fn publish_pkid(body: &[u8]) -> u16 {
    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    u16::from_be_bytes([body[2 + topic_len], body[3 + topic_len]])
}

struct Conn {
    s: TcpStream,
    rbuf: BytesMut,
}

impl Conn {
    async fn open(addr: SocketAddr, client_id: &str) -> Conn {
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut c = Conn { s, rbuf: BytesMut::with_capacity(64 * 1024) };
        c.s.write_all(&connect_frame(client_id)).await.unwrap();
        let (first, body) = c.frame().await;
        assert_eq!((first, &body[..]), (0x20, &[0u8, 0][..]), "CONNACK for {client_id}");
        c
    }

    async fn subscribe(&mut self, filter: &str, qos: u8) {
        self.s.write_all(&subscribe_frame(filter, qos)).await.unwrap();
        let (first, body) = self.frame().await;
        assert_eq!(first, 0x90, "SUBACK");
        assert!(body[2] < 0x80, "subscription to {filter} refused");
    }

    async fn fill(&mut self) -> bool {
        matches!(self.s.read_buf(&mut self.rbuf).await, Ok(n) if n > 0)
    }

    async fn frame(&mut self) -> (u8, BytesMut) {
        self.try_frame().await.expect("connection open")
    }

    /// The next frame, or `None` once the broker closed the connection.
    async fn try_frame(&mut self) -> Option<(u8, BytesMut)> {
        loop {
            if let Some(f) = next_frame(&mut self.rbuf) {
                return Some(f);
            }
            if !self.fill().await {
                return None;
            }
        }
    }
}

// ------------------------------------------------------------------ fan-in

/// Records/s received by one subscriber from all publishers, and how many
/// never arrived.
async fn fan_in(addr: SocketAddr, counts: &Counts, qos: u8, tag: &str) -> (f64, usize) {
    let total = counts.publishers * counts.per_publisher;
    let sink_id = format!("proto::sink-q{qos}-{tag}");
    let mut sink = Conn::open(addr, &sink_id).await;
    let topic = format!("usp/controller/{sink_id}");
    sink.subscribe(&topic, qos).await;
    let start = Arc::new(Barrier::new(counts.publishers + 1));
    let mut publishers = Vec::new();
    for p in 0..counts.publishers {
        let id = format!("proto::pub{p}-q{qos}-{tag}");
        let mut conn = Conn::open(addr, &id).await;
        let payload = record(&id, &sink_id);
        let (topic, start, n) = (topic.clone(), start.clone(), counts.per_publisher);
        publishers.push(tokio::spawn(async move {
            start.wait().await;
            let mut out = BytesMut::new();
            if qos == 0 {
                let mut sent = 0;
                while sent < n {
                    // Writes of 64 Records at a time.
                    for _ in 0..64.min(n - sent) {
                        put_publish(&mut out, &topic, &payload, 0, 0);
                        sent += 1;
                    }
                    conn.s.write_all(&out).await.unwrap();
                    out.clear();
                }
            } else {
                let (mut sent, mut acked, mut pkid) = (0usize, 0usize, 0u16);
                while acked < n {
                    while sent < n && sent - acked < WINDOW {
                        pkid = pkid % 60_000 + 1;
                        put_publish(&mut out, &topic, &payload, 1, pkid);
                        sent += 1;
                    }
                    if !out.is_empty() {
                        conn.s.write_all(&out).await.unwrap();
                        out.clear();
                    }
                    let (first, _) = conn.frame().await;
                    if first == 0x40 {
                        acked += 1;
                    }
                }
            }
            conn
        }));
    }
    start.wait().await;
    let started = Instant::now();
    let (mut received, mut last) = (0usize, started);
    let mut acks = BytesMut::new();
    while received < total {
        // A broker that lost Records goes quiet: stop after 1 s of silence.
        match tokio::time::timeout(Duration::from_secs(1), sink.fill()).await {
            Ok(true) => {}
            _ => break,
        }
        while let Some((first, body)) = next_frame(&mut sink.rbuf) {
            if first >> 4 == 3 {
                received += 1;
                if (first >> 1) & 3 == 1 {
                    put_puback(&mut acks, publish_pkid(&body));
                }
            }
        }
        last = Instant::now();
        if !acks.is_empty() {
            sink.s.write_all(&acks).await.unwrap();
            acks.clear();
        }
    }
    for p in publishers {
        drop(p.await.unwrap());
    }
    let rate = received as f64 / (last - started).as_secs_f64();
    (rate, total - received)
}

// -------------------------------------------------------------- round trip

/// One request/response pair of connections through a broker, or a plain
/// TCP echo.
enum Pair {
    Broker { requester: Conn, to_resp: String, request: Bytes, out: BytesMut, pkid: u16, qos: u8 },
    Echo { s: TcpStream, msg: Vec<u8>, back: Vec<u8> },
}

impl Pair {
    /// A requester and a responder (echoing from a task) on `addr`.
    async fn broker(addr: SocketAddr, qos: u8, tag: &str) -> Pair {
        let (req_id, resp_id) = (format!("proto::req-q{qos}-{tag}"), format!("proto::resp-q{qos}-{tag}"));
        let mut requester = Conn::open(addr, &req_id).await;
        requester.subscribe(&format!("usp/agent/{req_id}"), qos).await;
        let mut responder = Conn::open(addr, &resp_id).await;
        responder.subscribe(&format!("usp/agent/{resp_id}"), qos).await;
        let (request, reply) = (record(&req_id, &resp_id), record(&resp_id, &req_id));
        let to_req = format!("usp/agent/{req_id}");
        tokio::spawn(async move {
            let mut out = BytesMut::new();
            let mut pkid = 0u16;
            // Until the broker stops.
            while let Some((first, body)) = responder.try_frame().await {
                if first >> 4 != 3 {
                    continue;
                }
                if qos == 1 {
                    put_puback(&mut out, publish_pkid(&body));
                }
                pkid = pkid % 60_000 + 1;
                put_publish(&mut out, &to_req, &reply, qos, pkid);
                if responder.s.write_all(&out).await.is_err() {
                    return;
                }
                out.clear();
            }
        });
        Pair::Broker {
            requester,
            to_resp: format!("usp/agent/{resp_id}"),
            request,
            out: BytesMut::new(),
            pkid: 0,
            qos,
        }
    }

    /// A plain TCP echo of the same size.
    async fn echo() -> Pair {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = vec![0u8; PAYLOAD];
            while s.read_exact(&mut buf).await.is_ok() {
                if s.write_all(&buf).await.is_err() {
                    break;
                }
            }
        });
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        Pair::Echo { s, msg: vec![7u8; PAYLOAD], back: vec![0u8; PAYLOAD] }
    }

    /// One round trip.
    async fn exchange(&mut self) -> Duration {
        match self {
            Pair::Broker { requester, to_resp, request, out, pkid, qos } => {
                *pkid = *pkid % 60_000 + 1;
                put_publish(out, to_resp, request, *qos, *pkid);
                let sent = Instant::now();
                requester.s.write_all(out).await.unwrap();
                out.clear();
                loop {
                    let (first, body) = requester.frame().await;
                    if first >> 4 == 3 {
                        if *qos == 1 {
                            // Sent with the next request.
                            put_puback(out, publish_pkid(&body));
                        }
                        return sent.elapsed();
                    }
                }
            }
            Pair::Echo { s, msg, back } => {
                let sent = Instant::now();
                s.write_all(msg).await.unwrap();
                s.read_exact(back).await.unwrap();
                sent.elapsed()
            }
        }
    }
}

/// Round trips through every pair, one exchange per pair in turn, so each
/// sees the same moment-to-moment load: p50 and p99 in µs per pair.
async fn rtt_interleaved(mut pairs: Vec<Pair>, samples: usize) -> Vec<(f64, f64)> {
    let mut times = vec![Vec::with_capacity(samples); pairs.len()];
    for i in 0..samples + samples / 10 {
        for (k, pair) in pairs.iter_mut().enumerate() {
            let t = pair.exchange().await;
            if i >= samples / 10 {
                times[k].push(t);
            }
        }
    }
    times.into_iter().map(percentiles).collect()
}

fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

// -------------------------------------------------------------------- idle

/// Connects and subscribes `n` agents, 100 at a time; returns the time to
/// the last SUBACK and the broker's RSS growth per connection (KiB).
async fn idle(server: &Server, n: usize) -> (Duration, f64) {
    let before = server.rss_kib();
    let started = Instant::now();
    let mut conns = Vec::with_capacity(n);
    let addr = server.addr;
    // 100 at a time: mosquitto listens with a backlog of 100, and a deeper
    // burst would measure its SYN retransmissions rather than its accepts.
    for batch in (0..n).collect::<Vec<_>>().chunks(100) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|&i| {
                tokio::spawn(async move {
                    let id = format!("proto::idle-{i}");
                    let mut c = Conn::open(addr, &id).await;
                    c.subscribe(&format!("usp/agent/{id}"), 1).await;
                    c.rbuf = BytesMut::new();
                    c
                })
            })
            .collect();
        for t in tasks {
            conns.push(t.await.unwrap());
        }
    }
    let elapsed = started.elapsed();
    let after = server.rss_kib();
    let per = after.saturating_sub(before) as f64 / n as f64;
    drop(conns);
    (elapsed, per)
}
