//! The sans-I/O Agent on its hot paths, Record in → Record out.
//!
//! * `agent_get_one_param`: a Get of `Device.IoTCapability.500.LevelSensor.Value`
//!   in a 1,000-row table — the encoded request Record handed to
//!   `Agent::handle`, the encoded GetResp Record out (validation, dedup,
//!   permissions, resolution, read, response encoding).
//! * `agent_get_table_1000`: a Get of `Device.IoTCapability.` (1,000 rows,
//!   2,000 objects, ~8,000 parameters) the same way.
//! * `agent_value_change_notify`: a provider's value report → the
//!   ValueChange Notify Record ready to send (`ReportQueue::push` then
//!   `Agent::poll`: report applied, change log drained, subscription index,
//!   `covers`, `n` right, Notify built and encoded). Target ≤ 20 µs. Also
//!   with 1,000 other subscriptions on other rows (the index keeps it
//!   flat), and through a Set request (response and notification).
//!
//! Baselines beside them: `codec_floor` decodes the same request Record
//! and encodes a prebuilt copy of the same response — the part any Agent
//! pays whatever its data model.
//!
//! Run: `cargo bench -p usp-endpoint --bench agent -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::Criterion;
use usp_endpoint::agent::Agent;
use usp_endpoint::datamodel::models::iot::{self, Capability};
use usp_endpoint::datamodel::models::{self};
use usp_endpoint::datamodel::{DataModel, DateTime, Decimal, Report, Store, Target, Value};
use usp_proto::{
    Msg, Record, encode,
    usp::{Add, Get, Set, add::CreateObject, set::UpdateObject},
};

const AGENT: &str = "proto::bench";
const CTRL: &str = "self::rules";

/// 1,000 capabilities: level sensor, level control, binary control,
/// binary sensor in turn (as in the datamodel bench).
fn agent(rows: u32) -> Agent {
    let schema = Arc::new(models::agent_schema().expect("schema"));
    let mut store = Store::new(schema.clone());
    let caps = iot::top_level(&schema).expect("table");
    for i in 1..=rows {
        let v = (i % 100).to_string();
        let cap = match i % 4 {
            0 => Capability::level_sensor("Temperature", "degC", &format!("{v}.5")),
            1 => Capability::level_control("Brightness", "%", "0", "100", &v),
            2 => Capability::binary_control("Switch", i % 2 == 0),
            _ => Capability::binary_sensor("MotionDetected", false),
        };
        iot::add_capability(&mut store, &caps, &format!("cap-{i}"), cap).expect("row");
    }
    Agent::builder(AGENT, DataModel::with_store(store)).full_access(CTRL).build(now()).expect("agent")
}

fn now() -> DateTime {
    DateTime::from_unix(1_700_000_000, 0).expect("time")
}

fn record(msg: &Msg) -> Bytes {
    Record::no_session_context_msg(AGENT, CTRL, msg).encode_to_bytes()
}

/// A Get Record with a fresh msg_id each time (repeats are dropped).
struct Requests {
    n: u64,
    get: Get,
}

impl Requests {
    fn next(&mut self) -> Bytes {
        self.n += 1;
        record(&Msg::request(format!("b{}", self.n), self.get.clone()))
    }
}

fn get_bench(c: &mut Criterion, name: &str, path: &str, samples: usize) {
    let mut agent = agent(1000);
    let mut reqs = Requests { n: 0, get: Get::new([path]) };
    let probe = agent.handle(reqs.next(), now());
    let answer = probe.iter().next().expect("an answer").record.clone();
    let response = msg_of(&answer);
    let mut group = c.benchmark_group(name);
    group.sample_size(samples);
    group.bench_function("agent_handle", |b| {
        b.iter_batched(|| reqs.next(), |r| agent.handle(r, now()), criterion::BatchSize::SmallInput)
    });
    let request = reqs.next();
    group.bench_function("codec_floor", |b| {
        b.iter(|| {
            let rec = usp_proto::decode::Limits::default()
                .decode_record(black_box(request.clone()))
                .expect("record");
            let msg = rec.msg().expect("msg");
            black_box(msg);
            encode::msg_record(CTRL, AGENT, black_box(&response))
        })
    });
    group.finish();
}

/// The Msg of an encoded Record (for the baseline's prebuilt response).
fn msg_of(bytes: &Bytes) -> Msg {
    usp_proto::decode::Limits::default().decode_record(bytes.clone()).expect("record").msg().expect("msg")
}

fn subscribe(agent: &mut Agent, id: &str, reference: &str, n: &mut u64) {
    *n += 1;
    let add = Add::new(false).object(
        CreateObject::new("Device.LocalAgent.Subscription.")
            .required("Enable", "true")
            .required("ID", id)
            .required("NotifType", "ValueChange")
            .required("ReferenceList", reference),
    );
    let out = agent.handle(record(&Msg::request(format!("s{n}"), add)), now());
    assert_eq!(out.len(), 1);
}

fn value_change(c: &mut Criterion) {
    let mut group = c.benchmark_group("agent_value_change_notify");
    for others in [0u32, 1000] {
        let mut agent = agent(1000);
        let mut n = 0;
        subscribe(&mut agent, "temps", "Device.IoTCapability.*.LevelSensor.Value", &mut n);
        for i in 0..others {
            let row = 1 + (i % 1000);
            subscribe(&mut agent, &format!("o{i}"), &format!("Device.IoTCapability.{row}.Name"), &mut n);
        }
        let Ok(Target::Param(p)) = agent.data_model().lookup("Device.IoTCapability.500.LevelSensor.Value")
        else {
            unreachable!()
        };
        let reports = agent.report_queue();
        let (a, b) = (Decimal::parse("1.5").expect("decimal"), Decimal::parse("2.5").expect("decimal"));
        let mut toggle = false;
        let name = if others == 0 { "provider_report" } else { "provider_report_1000_other_subscriptions" };
        group.bench_function(name, |bench| {
            bench.iter(|| {
                toggle = !toggle;
                reports.push(Report::Value { param: p, value: Value::Decimal(if toggle { a } else { b }) });
                let out = agent.poll(now());
                debug_assert_eq!(out.len(), 1);
                out
            })
        });
    }
    let mut agent = agent(1000);
    let mut n = 0;
    subscribe(&mut agent, "temps", "Device.IoTCapability.*.LevelControl.Value", &mut n);
    let mut toggle = false;
    group.bench_function("set_request_response_and_notify", |bench| {
        bench.iter_batched(
            || {
                toggle = !toggle;
                n += 1;
                let set = Set::new(false).object(
                    UpdateObject::new("Device.IoTCapability.501.LevelControl.")
                        .required("Value", if toggle { "10" } else { "20" }),
                );
                record(&Msg::request(format!("v{n}"), set))
            },
            |r| {
                let out = agent.handle(r, now());
                debug_assert_eq!(out.len(), 2);
                out
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

// Written out instead of `criterion_group!`/`criterion_main!`, whose
// generated public function has no doc comment (the workspace denies that).
fn main() {
    let mut c = Criterion::default().configure_from_args();
    get_bench(&mut c, "agent_get_one_param", "Device.IoTCapability.500.LevelSensor.Value", 100);
    get_bench(&mut c, "agent_get_table_1000", "Device.IoTCapability.", 20);
    value_change(&mut c);
    c.final_summary();
}
