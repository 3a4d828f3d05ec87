//! The sans-I/O Controller core: building a request Record and matching its
//! response, beside the bare codec work the same steps cannot avoid
//! (encoding the Record, decoding and validating the response), so the
//! core's own overhead reads as the difference.
//!
//! Run: `cargo bench -p usp-endpoint --bench controller`.

#![allow(missing_docs, clippy::unwrap_used)] // criterion's macros generate undocumented items

use std::{hint::black_box, time::Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use usp_endpoint::controller::{Controller, ControllerConfig, MsgIdGen};
use usp_proto::{
    Msg, Record,
    usp::{Get, GetResp, Notify, get_resp},
    validate::Policy,
};

const CTRL: &str = "self::rules";
const AGENT: &str = "proto::room101";
const PATH: &str = "Device.Node.1.IoTCapability.2.BinarySensor.Value";

fn fresh() -> Controller {
    Controller::with_config(CTRL, ControllerConfig::default(), MsgIdGen::with_prefix("0123456789abcdef"))
        .unwrap()
}

fn get() -> Get {
    Get::new([PATH])
}

/// The Agent's answer to a fresh controller's first request (`<prefix>-1`).
fn response() -> bytes::Bytes {
    let resp = GetResp::new(vec![get_resp::RequestedPathResult::ok(
        PATH,
        vec![get_resp::ResolvedPathResult::new(
            "Device.Node.1.IoTCapability.2.BinarySensor.",
            [("Value", "true")],
        )],
    )]);
    Record::no_session_context_msg(CTRL, AGENT, &Msg::response("0123456789abcdef-1", resp)).encode_to_bytes()
}

fn bench(c: &mut Criterion) {
    let now = Instant::now();
    let resp = response();

    let mut g = c.benchmark_group("controller");
    g.bench_function("request_and_match_response", |b| {
        b.iter_batched(
            fresh,
            |mut ctrl| {
                let (_, transmit) = ctrl.request(AGENT, get(), now);
                let handled = ctrl.handle(resp.clone(), now);
                // Returned, so the controller is dropped outside the timing.
                (ctrl, black_box((transmit, handled)))
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("build_request", |b| {
        let mut ctrl = fresh();
        b.iter(|| {
            let (id, transmit) = ctrl.request(AGENT, get(), now);
            ctrl.cancel(id);
            black_box(transmit)
        })
    });
    g.bench_function("match_response", |b| {
        b.iter_batched(
            || {
                let mut ctrl = fresh();
                ctrl.request(AGENT, get(), now);
                ctrl
            },
            |mut ctrl| {
                let handled = black_box(ctrl.handle(resp.clone(), now));
                (ctrl, handled)
            },
            BatchSize::SmallInput,
        )
    });
    let notify = Record::no_session_context_msg(
        CTRL,
        AGENT,
        &Msg::request("n-1", Notify::value_change("sub-1", true, PATH, "true")),
    )
    .encode_to_bytes();
    g.bench_function("notify_delivered_and_answered", |b| {
        b.iter_batched(
            fresh,
            |mut ctrl| {
                let handled = black_box(ctrl.handle(notify.clone(), now));
                (ctrl, handled)
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // Baselines: the codec work inside the steps above.
    let mut g = c.benchmark_group("baseline");
    g.bench_function("encode_request_record", |b| {
        b.iter(|| {
            let msg = Msg::request("0123456789abcdef-1", get());
            black_box(Record::no_session_context_msg(AGENT, CTRL, &msg).encode_to_bytes())
        })
    });
    let policy = Policy::for_endpoint(CTRL);
    g.bench_function("decode_and_validate_response", |b| b.iter(|| black_box(policy.check(resp.clone()))));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
