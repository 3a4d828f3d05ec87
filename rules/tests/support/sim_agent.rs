//! Simulated Agents for the rules runtime's tests: real `Agent`s with the
//! IoT data model, whose actuators report every Set and command they carry
//! out, so a test awaits "the light was switched" instead of polling.
//!
//! Each room Agent has, in `Device.IoTCapability.`:
//!
//! | i | Name | class | starts |
//! |---|---|---|---|
//! | 1 | occupancy | BinarySensor (MotionDetected) | false |
//! | 2 | temperature | LevelSensor (Temperature, degC) | `temperature` argument |
//! | 3 | light | BinaryControl (Switch) | false |
//! | 4 | dimmer | LevelControl (Brightness, 0–100, step 10) | 0 |
//! | 5 | mode | EnumControl (Comfort, Eco, Off) | Comfort |
//! | 6 | window | BinarySensor (WindowOpen) | false |
//!
//! the `Device.Node.` table for ObjectCreation / ObjectDeletion, and a
//! vendor table `Device.X_Sim.Note.{i}.` (`Alias`, `Text`) that Controllers
//! may add to and delete from, for the Add and Delete actions.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{sync::Arc, time::Instant};

use tokio::sync::mpsc;
use usp_endpoint::{
    agent::{Agent, runtime},
    datamodel::{
        Args, CommandRef, DataModel, ObjAccess, ObjRef, OpId, Operation, ParamError, ParamRef, ParamType,
        Provider, ProviderCtx, ProviderError, Report, ReportQueue, SchemaBuilder, Store, Target, Value,
        models::{device_info, iot, iot::Capability, local_agent},
    },
};

/// The rules engine's Endpoint ID in these tests.
pub const RULES: &str = "self::rules";

pub const OCCUPANCY: &str = "Device.IoTCapability.1.BinarySensor.Value";
pub const TEMPERATURE: &str = "Device.IoTCapability.2.LevelSensor.Value";
pub const LIGHT: &str = "Device.IoTCapability.3.BinaryControl.Value";
pub const LIGHT_TOGGLE: &str = "Device.IoTCapability.3.BinaryControl.Toggle()";
pub const DIMMER: &str = "Device.IoTCapability.4.LevelControl.Value";
pub const DIMMER_UP: &str = "Device.IoTCapability.4.LevelControl.StepUp()";
pub const MODE: &str = "Device.IoTCapability.5.EnumControl.Value";
pub const WINDOW: &str = "Device.IoTCapability.6.BinarySensor.Value";

/// Something an actuator was asked to do, and when it was asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Touch {
    /// A parameter was set.
    Set { path: String, value: String },
    /// A command ran.
    Operate { command: String },
    /// A row was added, with these parameter values.
    Add { row: String, values: Vec<(String, String)> },
    /// A row was deleted.
    Delete { row: String },
}

/// The IoT actuators, reporting what they are asked.
struct Watched {
    inner: iot::Actuators,
    tx: mpsc::UnboundedSender<(Touch, Instant)>,
}

impl Provider for Watched {
    fn set(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        obj: &ObjRef,
        writes: &[(ParamRef, Value)],
    ) -> Result<(), Vec<ParamError>> {
        let at = Instant::now();
        let result = self.inner.set(ctx, obj, writes);
        if result.is_ok() {
            for (p, v) in writes {
                let path = ctx.store.schema().param_path(p);
                let _ = self.tx.send((Touch::Set { path, value: v.to_string() }, at));
            }
        }
        result
    }

    fn operate(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        command: &CommandRef,
        input: &Args,
        op: OpId,
    ) -> Operation {
        let at = Instant::now();
        let _ = self.tx.send((Touch::Operate { command: ctx.store.schema().command_path(command) }, at));
        self.inner.operate(ctx, command, input, op)
    }

    fn add(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        row: &ObjRef,
        values: &[(ParamRef, Value)],
    ) -> Result<(), ProviderError> {
        let schema = ctx.store.schema();
        let values =
            values.iter().map(|(p, v)| (schema.param(p.param).name.to_string(), v.to_string())).collect();
        let _ = self.tx.send((Touch::Add { row: schema.obj_path(row), values }, Instant::now()));
        Ok(())
    }

    fn delete(&mut self, ctx: &mut ProviderCtx<'_>, row: &ObjRef) -> Result<(), ProviderError> {
        let _ = self.tx.send((Touch::Delete { row: ctx.store.schema().obj_path(row) }, Instant::now()));
        Ok(())
    }
}

/// A room's data model; what its actuators do goes to `tx`.
pub fn room_model(temperature: &str, tx: mpsc::UnboundedSender<(Touch, Instant)>) -> DataModel {
    let mut b = SchemaBuilder::new();
    device_info::define(&mut b);
    local_agent::define(&mut b);
    iot::define(&mut b);
    b.root().object("X_Sim", |x| {
        x.table("Note", |t| {
            t.access(ObjAccess::AddDelete).unique_key(&["Alias"]);
            t.param("Alias", ParamType::alias()).write_once();
            t.param("Text", ParamType::string().max_len(256)).read_write();
        });
    });
    let schema = Arc::new(b.build().unwrap());
    let mut store = Store::new(schema.clone());
    device_info::populate(
        &mut store,
        &device_info::DeviceInfo {
            manufacturer: "uspmesh",
            oui: "00D09E",
            product_class: "Room",
            serial_number: "SN1",
            ..Default::default()
        },
    )
    .unwrap();
    let caps = iot::top_level(&schema).unwrap();
    for (name, cap) in [
        ("occupancy", Capability::binary_sensor("MotionDetected", false)),
        ("temperature", Capability::level_sensor("Temperature", "degC", temperature)),
        ("light", Capability::binary_control("Switch", false)),
        ("dimmer", Capability::level_control("Brightness", "%", "0", "100", "0").with("StepValue", "10")),
        ("mode", Capability::enum_control("OperatingMode", &["Comfort", "Eco", "Off"], "Comfort")),
        ("window", Capability::binary_sensor("WindowOpen", false)),
    ] {
        iot::add_capability(&mut store, &caps, name, cap).unwrap();
    }
    let mut dm = DataModel::with_store(store);
    for path in ["Device.IoTCapability.", "Device.Node.", "Device.X_Sim."] {
        let at = dm.object_id(path).unwrap();
        dm.mount(at, Box::new(Watched { inner: iot::Actuators, tx: tx.clone() }));
    }
    dm
}

/// A room Agent trusting [`RULES`], not yet running; what its actuators
/// are asked arrives on the receiver.
pub fn room_agent(
    eid: &str,
    temperature: &str,
) -> (Agent, ReportQueue, mpsc::UnboundedReceiver<(Touch, Instant)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let agent = Agent::builder(eid, room_model(temperature, tx))
        .full_access(RULES)
        .build(runtime::system_now())
        .unwrap();
    let reports = agent.report_queue();
    (agent, reports, rx)
}

/// A sensor reading, as the room's driver reports it.
pub fn reading(reports: &ReportQueue, path: &str, value: &str) {
    reports.push(Report::ValueText { path: path.into(), value: value.into() });
}

/// `Device.Boot!` with `Cause`, as an Agent reports after starting.
pub async fn boot(agent: &runtime::AgentHandle, cause: &'static str) {
    agent
        .call(move |a| {
            let Ok(Target::Event(event)) = a.data_model().lookup("Device.Boot!") else { panic!("no Boot!") };
            let args = Args::from([("Cause".to_owned(), Value::String(cause.to_owned()))]);
            a.report_queue().push(Report::Event { event, args });
        })
        .await
        .unwrap();
}

/// Adds a `Device.Node.` row (a device appearing); returns its number.
pub async fn add_node(agent: &runtime::AgentHandle, alias: &'static str) -> u32 {
    agent
        .call(move |a| {
            let row = iot::add_node(a.data_model_mut().store_mut(), alias, "Light", "a new device").unwrap();
            row.inst.last().unwrap()
        })
        .await
        .unwrap()
}

/// Removes `Device.Node.{n}.`.
pub async fn delete_node(agent: &runtime::AgentHandle, n: u32) {
    agent
        .call(move |a| {
            let Ok(Target::Object(row)) = a.data_model().lookup(&format!("Device.Node.{n}.")) else {
                panic!()
            };
            a.data_model_mut().store_mut().delete(&row).unwrap();
        })
        .await
        .unwrap();
}

/// The IDs of the Agent's subscription rows, sorted.
pub async fn subscription_ids(agent: &runtime::AgentHandle) -> Vec<String> {
    agent
        .call(|a| {
            let store = a.data_model().store();
            let schema = store.schema().clone();
            let Some(table) = schema.lookup("Device.LocalAgent.Subscription.").and_then(|n| match n {
                usp_endpoint::datamodel::SchemaNode::Object(t) => Some(t),
                _ => None,
            }) else {
                panic!("no Subscription table")
            };
            let id = schema.param_named(table, "ID").unwrap();
            let mut ids: Vec<String> = store
                .instances_of(table)
                .into_iter()
                .filter_map(|row| store.get(&row.param(id)).map(ToString::to_string))
                .collect();
            ids.sort();
            ids
        })
        .await
        .unwrap()
}

/// The next thing the room's actuators were asked, with when.
pub async fn next_touch(rx: &mut mpsc::UnboundedReceiver<(Touch, Instant)>) -> (Touch, Instant) {
    rx.recv().await.expect("the agent is gone")
}

/// Adds `Device.X_Sim.Note.{n}.` with `Text` to a not yet running Agent's
/// data model (a target for Sets that carry any text, e.g. a sequence
/// number in a bench); returns its path.
pub fn add_note(agent: &mut Agent, text: &str) -> String {
    let dm = agent.data_model_mut();
    let Ok(Target::Table(table)) = dm.lookup("Device.X_Sim.Note.") else { panic!("no Note table") };
    let store = dm.store_mut();
    let schema = store.schema().clone();
    let param = schema.param_named(table.table, "Text").unwrap();
    let row = store.add(&table, vec![(param, Value::String(text.to_owned()))]).unwrap();
    schema.obj_path(&row)
}
