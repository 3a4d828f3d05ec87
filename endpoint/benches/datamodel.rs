//! The data model under the Agent's hot paths.
//!
//! * `get_one_param`: a Get of one parameter in a 1,000-row table — resolve
//!   the pre-parsed path, read the value, format it (and the same with the
//!   parse included). Baseline: a `HashMap<String, String>` keyed by the
//!   full path, the flat store many agents use.
//! * `get_table_1000`: a Get of `Device.IoTCapability.` with 1,000 rows:
//!   resolve, walk every object, format each object path and every
//!   parameter value — what a GetResp is built from.
//! * `search_10000`: resolution of search expressions over 10,000 rows
//!   (target ≤ 1 ms): a decimal comparison through a sub-object, and a
//!   complete unique key (index lookup).
//! * `value_change`: a write that changes a value, through to the change
//!   log entry drained and turned into the ValueChange fields (full
//!   parameter path and value text).
//!
//! Run: `cargo bench -p usp-endpoint --bench datamodel -- --warm-up-time 1 --measurement-time 3`

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;

use criterion::Criterion;
use usp_endpoint::datamodel::models::iot::{self, Capability};
use usp_endpoint::datamodel::models::{self};
use usp_endpoint::datamodel::{Change, DataModel, Matches, Store, Target, Value};
use usp_endpoint::path::Path;

/// A data model with `rows` IoT capabilities: classes rotate through
/// level sensor, level control, binary control, binary sensor.
fn model(rows: u32) -> DataModel {
    let schema = std::sync::Arc::new(models::agent_schema().expect("schema"));
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
    store.drain_changes(&mut Vec::new());
    DataModel::with_store(store)
}

fn parse(s: &str) -> Path {
    Path::parse(s).expect("valid path")
}

fn get_one_param(c: &mut Criterion) {
    let dm = model(1000);
    let path_text = "Device.IoTCapability.500.LevelSensor.Value";
    let path = parse(path_text);
    let mut flat: HashMap<String, String> = HashMap::new();
    for i in 1..=1000u32 {
        flat.insert(format!("Device.IoTCapability.{i}.LevelSensor.Value"), format!("{}.5", i % 100));
        flat.insert(format!("Device.IoTCapability.{i}.Name"), format!("cap-{i}"));
    }
    let mut group = c.benchmark_group("get_one_param");
    group.bench_function("baseline_hashmap_by_path", |b| b.iter(|| flat.get(black_box(path_text)).cloned()));
    group.bench_function("resolve_read_format", |b| {
        b.iter(|| {
            let r = dm.resolve(black_box(&path)).expect("resolves");
            let Matches::Params(ps) = r.matches else { unreachable!() };
            ps.iter().map(|p| dm.read(p).map(|v| v.to_string())).collect::<Vec<_>>()
        })
    });
    group.bench_function("parse_resolve_read_format", |b| {
        b.iter(|| {
            let path = parse(black_box(path_text));
            let r = dm.resolve(&path).expect("resolves");
            let Matches::Params(ps) = r.matches else { unreachable!() };
            ps.iter().map(|p| dm.read(p).map(|v| v.to_string())).collect::<Vec<_>>()
        })
    });
    let Ok(Target::Param(p)) = dm.lookup(path_text) else { unreachable!() };
    group.bench_function("read_resolved_ref", |b| b.iter(|| dm.read(black_box(&p)).map(|v| v.to_string())));
    group.finish();
}

fn get_table_1000(c: &mut Criterion) {
    let dm = model(1000);
    let path = parse("Device.IoTCapability.");
    let schema = dm.schema().clone();
    let mut group = c.benchmark_group("get_table_1000");
    group.sample_size(20);
    group.bench_function("resolve_walk_format", |b| {
        b.iter(|| {
            let r = dm.resolve(black_box(&path)).expect("resolves");
            let Matches::Tables(tables) = r.matches else { unreachable!() };
            let mut results: Vec<(String, BTreeMap<String, String>)> = Vec::with_capacity(2000);
            for t in &tables {
                dm.store().walk_table(t, 0, &mut |o| {
                    let params = dm
                        .read_object(o)
                        .into_iter()
                        .flatten()
                        .map(|(p, v)| (schema.param(p).name.to_string(), v.to_string()))
                        .collect();
                    results.push((schema.obj_path(o), params));
                });
            }
            results
        })
    });
    group.finish();
}

fn search_10000(c: &mut Criterion) {
    let dm = model(10_000);
    let decimal = parse("Device.IoTCapability.[LevelControl.Value>=50].Name");
    let two_terms =
        parse(r#"Device.IoTCapability.[Class=="LevelSensor"&&LevelSensor.Unit=="degC"].LevelSensor.Value"#);
    let key = parse(r#"Device.IoTCapability.[Name=="cap-7777"].Name"#);
    assert_eq!(dm.resolve(&decimal).expect("resolves").matches.len(), 1200);
    assert_eq!(dm.resolve(&two_terms).expect("resolves").matches.len(), 2500);
    assert_eq!(dm.resolve(&key).expect("resolves").matches.len(), 1);
    let mut group = c.benchmark_group("search_10000");
    group.bench_function("decimal_through_sub_object", |b| b.iter(|| dm.resolve(black_box(&decimal))));
    group.bench_function("two_terms", |b| b.iter(|| dm.resolve(black_box(&two_terms))));
    group.bench_function("wildcard_param", |b| {
        let wild = parse("Device.IoTCapability.*.Name");
        b.iter(|| dm.resolve(black_box(&wild)))
    });
    group.bench_function("unique_key", |b| b.iter(|| dm.resolve(black_box(&key))));
    group.finish();
}

fn value_change(c: &mut Criterion) {
    let mut dm = model(1000);
    let Ok(Target::Param(p)) = dm.lookup("Device.IoTCapability.500.LevelSensor.Value") else {
        unreachable!()
    };
    let schema = dm.schema().clone();
    let mut log: Vec<Change> = Vec::with_capacity(4);
    let mut toggle = false;
    let mut group = c.benchmark_group("value_change");
    group.bench_function("set_drain_format", |b| {
        b.iter(|| {
            toggle = !toggle;
            let v = Value::Decimal(if toggle { 1.into() } else { 2.into() });
            dm.store_mut().set(&p, v).expect("set");
            log.clear();
            dm.drain_changes(&mut log);
            log.iter()
                .map(|c| match c {
                    Change::Value { param, new, .. } => (schema.param_path(param), new.to_string()),
                    _ => unreachable!(),
                })
                .collect::<Vec<_>>()
        })
    });
    group.finish();
}

// Written out instead of `criterion_group!`/`criterion_main!`, whose
// generated public function has no doc comment (the workspace denies that).
fn main() {
    let mut c = Criterion::default().configure_from_args();
    get_one_param(&mut c);
    get_table_1000(&mut c);
    search_10000(&mut c);
    value_change(&mut c);
    c.final_summary();
}
