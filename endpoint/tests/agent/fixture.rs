//! The Agent under test: the room of paths.md §7 (IoT capabilities 1–5
//! with the simulated actuators), two nodes, and a test device
//! `Device.X_Test.` with a synchronous and an asynchronous command, an
//! event and a provider that refuses some writes. Time is a controllable
//! clock; requests are built with the usp-proto builders and answers
//! decoded from the Records the Agent returns.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use usp_endpoint::agent::{Agent, Output, clock};
use usp_endpoint::datamodel::models::{device_info, iot, iot::Capability, local_agent};
use usp_endpoint::datamodel::{
    Args, CommandError, CommandKind, CommandRef, DataModel, DateTime, ObjAccess, ObjRef, OpId, Operation,
    ParamError, ParamRef, ParamType, Provider, ProviderCtx, ReportQueue, Schema, SchemaBuilder, SchemaNode,
    Store, TableRef, Value,
};
use usp_proto::{
    ErrCode, Msg, Record,
    usp::{
        AddResp, DeleteResp, Error, GetInstancesResp, GetResp, GetSupportedDmResp, Notify, NotifyResp,
        OperateResp, SetResp, request::ReqType, response::RespType,
    },
};

pub(crate) const AGENT: &str = "proto::room101";
pub(crate) const CTRL: &str = "self::rules";

/// The start of the test clock.
pub(crate) fn t0() -> DateTime {
    DateTime::from_unix(1_700_000_000, 0).unwrap()
}

/// The schema: DeviceInfo, LocalAgent, IoT, and `Device.X_Test.`.
pub(crate) fn schema() -> Arc<Schema> {
    let mut b = SchemaBuilder::new();
    device_info::define(&mut b);
    local_agent::define(&mut b);
    iot::define(&mut b);
    b.root().object("X_Test", |x| {
        x.param("Reading", ParamType::decimal());
        x.param("Mode", ParamType::string()).read_write();
        x.param("Secret", ParamType::string()).read_write().secured();
        x.param("Password", ParamType::string()).write_only();
        x.param("Ticks", ParamType::unsigned_int()).ignore_value_change();
        x.command("Echo", CommandKind::Sync, |c| {
            c.input("Text", ParamType::string()).mandatory();
            c.input("Count", ParamType::unsigned_int().range(1, 3)).default("1");
            c.output("Text", ParamType::string());
        });
        x.command("Slow", CommandKind::Async, |c| {
            c.input("Fail", ParamType::boolean());
            c.output("Done", ParamType::boolean());
        });
        x.command("Stuck", CommandKind::Async, |_| {});
        x.event("Alarm", |e| {
            e.arg("Level", ParamType::unsigned_int());
        });
        x.table("Item", |t| {
            t.access(ObjAccess::AddDelete).unique_key(&["Alias"]).functional_key(&["Name"]);
            t.param("Alias", ParamType::alias()).write_once();
            t.param("Name", ParamType::string()).read_write();
            t.param("Level", ParamType::int().range(0, 10)).read_write();
            t.param("Note", ParamType::string()).read_write();
        });
    });
    Arc::new(b.build().unwrap())
}

/// What the test device was asked to do.
pub(crate) type Log = Arc<Mutex<Vec<String>>>;

/// The provider behind `Device.X_Test.`: `Echo()` answers at once,
/// `Slow()` stays pending (cancellable) until the test reports its
/// completion, `Stuck()` cannot be cancelled; a `Mode` or Item `Note`
/// of `"forbidden"` is refused with 7014.
pub(crate) struct TestDevice {
    pub(crate) log: Log,
}

impl Provider for TestDevice {
    fn set(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        _obj: &ObjRef,
        writes: &[(ParamRef, Value)],
    ) -> Result<(), Vec<ParamError>> {
        let errors: Vec<ParamError> = writes
            .iter()
            .filter(|(_, v)| *v == Value::from("forbidden"))
            .map(|(p, _)| ParamError {
                param: p.param,
                code: ErrCode::VALUE_CONFLICT,
                message: "refused".into(),
            })
            .collect();
        let names: Vec<String> =
            writes.iter().map(|(p, v)| format!("{}={v}", ctx.store.schema().param(p.param).name)).collect();
        self.log.lock().unwrap().push(format!("set {}", names.join(",")));
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn operate(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        command: &CommandRef,
        input: &Args,
        op: OpId,
    ) -> Operation {
        let name = ctx.store.schema().command(command.command).name.to_string();
        self.log.lock().unwrap().push(format!("operate {name} {op:?}"));
        match name.as_str() {
            "Echo" => {
                let text = input.get("Text").map(ToString::to_string).unwrap_or_default();
                let count = match input.get("Count") {
                    Some(Value::UnsignedInt(n)) => *n as usize,
                    _ => 1,
                };
                Operation::Done(Ok(Args::from([("Text".to_owned(), Value::String(text.repeat(count)))])))
            }
            "Slow" | "Stuck" => Operation::Pending,
            _ => Operation::Done(Err(CommandError::failed("unknown"))),
        }
    }

    fn cancel(&mut self, ctx: &mut ProviderCtx<'_>, op: OpId) -> bool {
        let _ = ctx;
        let mut log = self.log.lock().unwrap();
        let stuck = log.iter().any(|l| l == &format!("operate Stuck {op:?}"));
        log.push(format!("cancel {op:?}"));
        !stuck
    }
}

/// A table reference by supported path and parent instances.
pub(crate) fn table(schema: &Schema, path: &str, parent: &[u32]) -> TableRef {
    let Some(SchemaNode::Object(t)) = schema.lookup(path) else { panic!("{path}") };
    TableRef { table: t, parent: usp_endpoint::datamodel::Instances::new(parent).unwrap() }
}

/// Adds a row with values given as (relative path, lexical value).
pub(crate) fn add_row(store: &mut Store, table: &TableRef, values: &[(&str, &str)]) -> ObjRef {
    let schema = store.schema().clone();
    let values = values
        .iter()
        .map(|(rel, text)| {
            let p = schema.relative_param(table.table, rel).unwrap_or_else(|| panic!("{rel}"));
            (p, schema.param(p).ty.parse(text).unwrap())
        })
        .collect();
    store.add(table, values).unwrap()
}

/// The room: capabilities 1–5 of paths.md §7, nodes 1 (a light with a
/// switch and a dimmer) and 2 (a sensor), the test device.
pub(crate) fn room(log: &Log) -> DataModel {
    let schema = schema();
    let mut store = Store::new(schema.clone());
    device_info::populate(
        &mut store,
        &device_info::DeviceInfo {
            manufacturer: "uspmesh",
            oui: "00D09E",
            product_class: "RoomController",
            serial_number: "SN101",
            ..Default::default()
        },
    )
    .unwrap();
    let caps = iot::top_level(&schema).unwrap();
    for (name, cap) in [
        ("r101-temp", Capability::level_sensor("Temperature", "degC", "21.5")),
        ("r101-occ", Capability::binary_sensor("MotionDetected", true)),
        ("r101-light", Capability::binary_control("Switch", false)),
        (
            "r101-dimmer",
            Capability::level_control("Brightness", "%", "0", "100", "40").with("StepValue", "10"),
        ),
        (
            "r101-setpoint",
            Capability::level_control("Temperature", "degC", "16", "28", "21").with("StepValue", "0.5"),
        ),
    ] {
        iot::add_capability(&mut store, &caps, name, cap).unwrap();
    }
    let light = iot::add_node(&mut store, "r101-light", "Light", "Room 101 light").unwrap();
    let light_caps = iot::node_capabilities(&schema, &light).unwrap();
    iot::add_capability(
        &mut store,
        &light_caps,
        "r101-light-sw",
        Capability::binary_control("Switch", false),
    )
    .unwrap();
    iot::add_capability(
        &mut store,
        &light_caps,
        "r101-light-dim",
        Capability::level_control("Brightness", "%", "0", "100", "0"),
    )
    .unwrap();
    let sensor = iot::add_node(&mut store, "r101-sensor", "Sensor", "Room 101 multisensor").unwrap();
    let sensor_caps = iot::node_capabilities(&schema, &sensor).unwrap();
    iot::add_capability(
        &mut store,
        &sensor_caps,
        "r101-co2",
        Capability::level_sensor("Concentration", "ppm", "400"),
    )
    .unwrap();
    let items = table(&schema, "Device.X_Test.Item.", &[]);
    add_row(&mut store, &items, &[("Name", "one"), ("Level", "1")]);
    add_row(&mut store, &items, &[("Name", "two"), ("Level", "2")]);
    let mut dm = DataModel::with_store(store);
    for path in ["Device.IoTCapability.", "Device.Node."] {
        let at = dm.object_id(path).unwrap();
        dm.mount(at, Box::new(iot::Actuators));
    }
    let x = dm.object_id("Device.X_Test.").unwrap();
    dm.mount(x, Box::new(TestDevice { log: log.clone() }));
    dm
}

/// A decoded Record the Agent sent.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub(crate) to: String,
    pub(crate) msg: Msg,
}

/// Decodes an Agent's output, checking the addressing of each Record.
pub(crate) fn decode(out: Output) -> Vec<Sent> {
    out.into_iter()
        .map(|t| {
            let record = usp_proto::decode::Limits::default().decode_record(t.record).unwrap();
            assert_eq!(record.to_id, t.to, "transmit and record agree on the destination");
            assert_eq!(record.from_id, AGENT);
            assert_eq!(record.version, "1.4");
            Sent { to: t.to, msg: record.msg().unwrap() }
        })
        .collect()
}

/// The Agent with a controllable clock, as Controllers talk to it.
pub(crate) struct Fx {
    pub(crate) agent: Agent,
    pub(crate) now: DateTime,
    pub(crate) log: Log,
    pub(crate) reports: ReportQueue,
    next: u64,
}

impl Fx {
    /// The room with Controller [`CTRL`] trusted with full access.
    pub(crate) fn new() -> Fx {
        Fx::with(|_| {}, |b| b.full_access(CTRL))
    }

    /// The room, `setup` run on its store, `build` on the builder.
    pub(crate) fn with(
        setup: impl FnOnce(&mut Store),
        build: impl FnOnce(usp_endpoint::agent::AgentBuilder) -> usp_endpoint::agent::AgentBuilder,
    ) -> Fx {
        let log = Log::default();
        let mut dm = room(&log);
        setup(dm.store_mut());
        let agent = build(Agent::builder(AGENT, dm).seed(42)).build(t0()).unwrap();
        let reports = agent.report_queue();
        Fx { agent, now: t0(), log, reports, next: 0 }
    }

    /// Moves the clock forward.
    pub(crate) fn advance(&mut self, secs: u64) {
        self.now = clock::after(self.now, std::time::Duration::from_secs(secs));
    }

    /// A fresh msg_id.
    pub(crate) fn msg_id(&mut self) -> String {
        self.next += 1;
        format!("m{}", self.next)
    }

    /// Hands the Agent a raw Record.
    pub(crate) fn raw(&mut self, bytes: bytes::Bytes) -> Vec<Sent> {
        decode(self.agent.handle(bytes, self.now))
    }

    /// Sends `msg` from `from`; everything the Agent sent back.
    pub(crate) fn send(&mut self, from: &str, msg: &Msg) -> Vec<Sent> {
        self.raw(Record::no_session_context_msg(AGENT, from, msg).encode_to_bytes())
    }

    /// Sends a request from `from`; its answer (checked to be addressed to
    /// `from` with the request's msg_id) and whatever followed it.
    pub(crate) fn call_as(&mut self, from: &str, body: impl Into<ReqType>) -> (Msg, Vec<Sent>) {
        let id = self.msg_id();
        let mut sent = self.send(from, &Msg::request(id.clone(), body));
        assert!(!sent.is_empty(), "no answer to {id}");
        let first = sent.remove(0);
        assert_eq!(first.to, from);
        assert_eq!(first.msg.msg_id(), id);
        (first.msg, sent)
    }

    /// A request from [`CTRL`]; its answer (notifications it caused are
    /// dropped — use [`Fx::call_as`] to see them).
    pub(crate) fn call(&mut self, body: impl Into<ReqType>) -> Msg {
        self.call_as(CTRL, body).0
    }

    /// Polls the Agent at the current time.
    pub(crate) fn poll(&mut self) -> Vec<Sent> {
        decode(self.agent.poll(self.now))
    }

    /// A value by concrete path, read directly.
    pub(crate) fn value(&self, path: &str) -> String {
        let dm = self.agent.data_model();
        match dm.lookup(path) {
            Ok(usp_endpoint::datamodel::Target::Param(p)) => dm.read(&p).unwrap().to_string(),
            other => panic!("{path}: {other:?}"),
        }
    }

    /// Whether an object exists.
    pub(crate) fn exists(&self, path: &str) -> bool {
        self.agent.data_model().lookup(path).is_ok()
    }
}

macro_rules! response {
    ($name:ident, $variant:ident, $ty:ty) => {
        /// The response body, or a panic naming what came instead.
        #[allow(dead_code)]
        pub(crate) fn $name(msg: &Msg) -> $ty {
            match msg.as_response() {
                Some(RespType::$variant(r)) => r.clone(),
                _ => panic!("expected {}: {msg:?}", stringify!($variant)),
            }
        }
    };
}

response!(get_resp, GetResp, GetResp);
response!(set_resp, SetResp, SetResp);
response!(add_resp, AddResp, AddResp);
response!(delete_resp, DeleteResp, DeleteResp);
response!(operate_resp, OperateResp, OperateResp);
response!(gsdm_resp, GetSupportedDmResp, GetSupportedDmResp);
response!(instances_resp, GetInstancesResp, GetInstancesResp);

/// The Error body.
pub(crate) fn error(msg: &Msg) -> Error {
    msg.as_error().cloned().unwrap_or_else(|| panic!("expected an Error: {msg:?}"))
}

/// A Notify the Agent sent.
pub(crate) fn notify(sent: &Sent) -> Notify {
    match sent.msg.as_request() {
        Some(ReqType::Notify(n)) => n.clone(),
        _ => panic!("expected a Notify: {sent:?}"),
    }
}

/// The NotifyResp answering `sent`.
pub(crate) fn notify_resp(sent: &Sent) -> Msg {
    Msg::response(sent.msg.msg_id(), NotifyResp::new(notify(sent).subscription_id))
}

/// The `(resolved_path, params)` pairs of one requested path.
pub(crate) fn resolved(resp: &GetResp, i: usize) -> Vec<(String, BTreeMap<String, String>)> {
    resp.req_path_results[i]
        .resolved_path_results
        .iter()
        .map(|r| (r.resolved_path.clone(), r.result_params.clone()))
        .collect()
}

/// A map from pairs.
pub(crate) fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}
