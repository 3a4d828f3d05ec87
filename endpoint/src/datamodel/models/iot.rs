//! The IoT objects: `Device.IoTCapability.{i}.` and `Device.Node.{i}.`
//! with its own `IoTCapability.{i}.` (agent-datamodel.md §8).
//!
//! * [`define`] adds both tables (read-only for Controllers; keys `Alias`
//!   and, functional, `Name`; one optional class sub-object per row);
//! * [`Capability`] and [`add_capability`] / [`add_node`] fill a room:
//!   `add_capability(store, &iot::top_level(&schema)?, "r101-temp",
//!   Capability::level_sensor("Temperature", "degC", "21.5"))`;
//! * [`Actuators`] is a provider for the simulated devices of such a room:
//!   it checks Sets against each row's limits (LevelControl `Value` within
//!   `MinValue`–`MaxValue`, EnumControl `Value` in `ValidValues`: 7012)
//!   and runs the asynchronous commands on the stored values — `Toggle()`
//!   inverts, LevelControl `StepUp()`/`StepDown()` move by `StepValue`
//!   clamped to the range, EnumControl ones move through `ValidValues`
//!   wrapping around. The commands complete at once (their
//!   OperationComplete follows the OperateResp).
//! * [`record_reading`] is how a sensor driver stores a reading: `Value`,
//!   `LastChange` (when it changed), `LastContactTime` and, for level
//!   sensors, the `LowLevel`/`HighLevel` flags.

use usp_proto::ErrCode;

use super::ModelError;
use crate::datamodel::provider::{Args, CommandError, OpId, Operation, ParamError, Provider, ProviderCtx};
use crate::datamodel::refs::{CommandRef, ObjRef, ParamRef, TableRef};
use crate::datamodel::schema::{
    CommandKind, ObjId, ObjectBuilder, ParamId, Schema, SchemaBuilder, SchemaNode,
};
use crate::datamodel::store::Store;
use crate::datamodel::value::{DateTime, Decimal, ParamType, Value};

/// IoTDeviceType values (`Node.{i}.Type`).
pub const DEVICE_TYPES: &[&str] = &[
    "Alarm",
    "AntiTheft",
    "Bell",
    "Clock",
    "Door",
    "Fan",
    "GarageDoor",
    "HVAC",
    "Light",
    "Lock",
    "Meter",
    "Motor",
    "Oven",
    "PowerStrip",
    "Sensor",
    "SensorStrip",
    "Siren",
    "Thermostat",
];
/// IoTLevelType values.
pub const LEVEL_TYPES: &[&str] = &[
    "Acceleration",
    "Area",
    "Battery",
    "Brightness",
    "Concentration",
    "Conductivity",
    "Distance",
    "Energy",
    "Flow",
    "Humidity",
    "Intensity",
    "Luminance",
    "Meter",
    "Motion",
    "Position",
    "Power",
    "Pressure",
    "Radiation",
    "Speed",
    "Temperature",
    "Volume",
    "Weight",
    "Depth",
    "Counter",
];
/// IoTEnumControlType values.
pub const ENUM_CONTROL_TYPES: &[&str] =
    &["AlarmMode", "DoorMode", "FanMode", "LockMode", "OperatingMode", "TemperatureMode", "ThermostatMode"];
/// IoTEnumSensorType values.
pub const ENUM_SENSOR_TYPES: &[&str] = &[
    "AlarmState",
    "DoorState",
    "FanState",
    "LockState",
    "OperatingState",
    "TemperatureState",
    "ThermostatFanState",
];
/// BinarySensor types.
pub const BINARY_SENSOR_TYPES: &[&str] = &[
    "CarbonDioxideDetected",
    "CarbonMonoxideDetected",
    "DoorOpen",
    "MotionDetected",
    "SmokeDetected",
    "WindowOpen",
    "WaterDetected",
];
/// IoTUnitType values.
pub const UNITS: &[&str] = &[
    "-", "%", "deg", "degC", "degF", "K", "km", "m", "cm", "mm", "h", "min", "s", "ms", "sq-km", "sq-m",
    "sq-cm", "cu-m", "l", "cl", "ml", "kg", "g", "mg", "Wh", "kWh", "W", "A", "Hz", "V", "N", "Pa", "C", "F",
    "ohm", "S", "Wb", "T", "H", "lm", "lx", "mps", "cd", "mol", "UV", "RGB", "ppm", "Sv", "J", "rpm", "pps",
    "cu-m/s", "liter/s",
];

/// The seven capability classes: the name of the one sub-object a row has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `BinaryControl.`
    BinaryControl,
    /// `LevelControl.`
    LevelControl,
    /// `EnumControl.`
    EnumControl,
    /// `BinarySensor.`
    BinarySensor,
    /// `LevelSensor.`
    LevelSensor,
    /// `MultiLevelSensor.`
    MultiLevelSensor,
    /// `EnumSensor.`
    EnumSensor,
}

impl Class {
    /// Every class.
    pub const ALL: [Class; 7] = [
        Class::BinaryControl,
        Class::LevelControl,
        Class::EnumControl,
        Class::BinarySensor,
        Class::LevelSensor,
        Class::MultiLevelSensor,
        Class::EnumSensor,
    ];

    /// The class name (= the sub-object's name, = the `Class` value).
    pub fn name(self) -> &'static str {
        match self {
            Class::BinaryControl => "BinaryControl",
            Class::LevelControl => "LevelControl",
            Class::EnumControl => "EnumControl",
            Class::BinarySensor => "BinarySensor",
            Class::LevelSensor => "LevelSensor",
            Class::MultiLevelSensor => "MultiLevelSensor",
            Class::EnumSensor => "EnumSensor",
        }
    }

    /// The class with this name.
    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }
}

fn kind(values: &[&str]) -> ParamType {
    ParamType::string().enumeration(values)
}

fn description(o: &mut ObjectBuilder) {
    o.param("Description", ParamType::string().max_len(256));
}

fn unit(o: &mut ObjectBuilder) {
    o.param("Unit", kind(UNITS)).default("-");
}

fn times(o: &mut ObjectBuilder) {
    o.param("LastChange", ParamType::date_time());
    o.param("LastContactTime", ParamType::date_time());
}

/// Defines the rows of an `IoTCapability` table (used at both places it
/// appears).
fn capability_table(t: &mut ObjectBuilder) {
    t.unique_key(&["Alias"]).functional_key(&["Name"]);
    t.param("Alias", ParamType::alias()).write_once();
    t.param("Name", ParamType::string().max_len(64)).read_write();
    t.param("Class", kind(&Class::ALL.map(Class::name))).default("BinaryControl");
    t.object("BinaryControl", |o| {
        o.optional();
        o.param("Type", kind(&["Switch", "Locked"])).default("Switch");
        description(o);
        o.param("Value", ParamType::boolean()).read_write();
        o.command("Toggle", CommandKind::Async, |_| {});
    });
    t.object("LevelControl", |o| {
        o.optional();
        o.param("Type", kind(LEVEL_TYPES)).default("Brightness");
        description(o);
        o.param("Value", ParamType::decimal()).read_write();
        unit(o);
        o.param("MinValue", ParamType::decimal());
        o.param("MaxValue", ParamType::decimal());
        o.param("StepValue", ParamType::decimal().min(0)).read_write();
        o.command("StepUp", CommandKind::Async, |_| {});
        o.command("StepDown", CommandKind::Async, |_| {});
    });
    t.object("EnumControl", |o| {
        o.optional();
        o.param("Type", kind(ENUM_CONTROL_TYPES)).default("OperatingMode");
        description(o);
        o.param("Value", ParamType::string()).read_write();
        o.param("ValidValues", ParamType::string().max_len(64).list());
        o.command("StepUp", CommandKind::Async, |_| {});
        o.command("StepDown", CommandKind::Async, |_| {});
    });
    t.object("BinarySensor", |o| {
        o.optional();
        o.param("Type", kind(BINARY_SENSOR_TYPES)).default("MotionDetected");
        description(o);
        o.param("Value", ParamType::boolean());
        times(o);
        o.param("Sensitivity", ParamType::unsigned_int().range(0, 100).units("%")).read_write();
        o.param("HoldTime", ParamType::unsigned_int().units("milliseconds")).read_write();
        o.param("RestTime", ParamType::unsigned_int().units("milliseconds")).read_write();
    });
    t.object("LevelSensor", |o| {
        o.optional();
        o.param("Type", kind(LEVEL_TYPES)).default("Temperature");
        description(o);
        o.param("Value", ParamType::decimal());
        unit(o);
        times(o);
        o.param("LowLevel", ParamType::boolean());
        o.param("LowLevelThreshold", ParamType::decimal()).read_write();
        o.param("HighLevel", ParamType::boolean());
        o.param("HighLevelThreshold", ParamType::decimal()).read_write();
    });
    t.object("MultiLevelSensor", |o| {
        o.optional();
        o.param("Type", kind(&["RGB", "Location"])).default("Location");
        description(o);
        o.param("Values", ParamType::decimal().list());
        o.param("ValueNames", ParamType::string().list());
        unit(o);
        times(o);
    });
    t.object("EnumSensor", |o| {
        o.optional();
        o.param("Type", kind(ENUM_SENSOR_TYPES)).default("OperatingState");
        description(o);
        o.param("Value", ParamType::string());
        o.param("ValidValues", ParamType::string().max_len(64).list());
        times(o);
    });
}

/// Adds `Device.IoTCapability.{i}.` and `Device.Node.{i}.` (with
/// `Node.{i}.IoTCapability.{i}.`).
pub fn define(b: &mut SchemaBuilder) {
    let root = b.root();
    root.table("IoTCapability", capability_table);
    root.table("Node", |n| {
        n.unique_key(&["Alias"]);
        n.param("Alias", ParamType::alias()).write_once();
        n.param("Type", kind(DEVICE_TYPES)).default("Sensor");
        n.param("Description", ParamType::string().max_len(256));
        n.table("IoTCapability", capability_table);
    });
}

/// A capability to add: its class and parameter values (relative to the
/// class sub-object, in lexical form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capability {
    class: Class,
    params: Vec<(String, String)>,
}

impl Capability {
    /// A capability of `class` with only its `Type`.
    pub fn new(class: Class, kind: &str) -> Capability {
        Capability { class, params: vec![("Type".to_owned(), kind.to_owned())] }
    }

    /// Sets another parameter of the class sub-object (`Description`,
    /// `HighLevelThreshold`, `StepValue`, …).
    pub fn with(mut self, param: &str, value: impl Into<String>) -> Capability {
        self.params.push((param.to_owned(), value.into()));
        self
    }

    /// The class.
    pub fn class(&self) -> Class {
        self.class
    }

    /// `BinaryControl` (`Switch`, `Locked`).
    pub fn binary_control(kind: &str, value: bool) -> Capability {
        Capability::new(Class::BinaryControl, kind).with("Value", value.to_string())
    }

    /// `LevelControl` with its range.
    pub fn level_control(kind: &str, unit: &str, min: &str, max: &str, value: &str) -> Capability {
        Capability::new(Class::LevelControl, kind)
            .with("Unit", unit)
            .with("MinValue", min)
            .with("MaxValue", max)
            .with("Value", value)
    }

    /// `EnumControl` with its ordered values.
    pub fn enum_control(kind: &str, valid_values: &[&str], value: &str) -> Capability {
        Capability::new(Class::EnumControl, kind)
            .with("ValidValues", valid_values.join(","))
            .with("Value", value)
    }

    /// `BinarySensor`.
    pub fn binary_sensor(kind: &str, value: bool) -> Capability {
        Capability::new(Class::BinarySensor, kind).with("Value", value.to_string())
    }

    /// `LevelSensor`.
    pub fn level_sensor(kind: &str, unit: &str, value: &str) -> Capability {
        Capability::new(Class::LevelSensor, kind).with("Unit", unit).with("Value", value)
    }

    /// `MultiLevelSensor` with named readings (`Latitude,Longitude`).
    pub fn multi_level_sensor(kind: &str, unit: &str, names: &[&str], values: &[&str]) -> Capability {
        Capability::new(Class::MultiLevelSensor, kind)
            .with("Unit", unit)
            .with("ValueNames", names.join(","))
            .with("Values", values.join(","))
    }

    /// `EnumSensor`.
    pub fn enum_sensor(kind: &str, valid_values: &[&str], value: &str) -> Capability {
        Capability::new(Class::EnumSensor, kind)
            .with("ValidValues", valid_values.join(","))
            .with("Value", value)
    }
}

/// `Device.IoTCapability.` as a table reference.
pub fn top_level(schema: &Schema) -> Result<TableRef, ModelError> {
    table(schema, "Device.IoTCapability.")
}

fn table(schema: &Schema, path: &str) -> Result<TableRef, ModelError> {
    match schema.lookup(path) {
        Some(SchemaNode::Object(t)) if schema.object(t).is_table() => {
            Ok(TableRef { table: t, parent: crate::datamodel::Instances::EMPTY })
        }
        _ => Err(ModelError::Missing(path.to_owned())),
    }
}

fn param(schema: &Schema, obj: ObjId, rel: &str) -> Result<ParamId, ModelError> {
    schema
        .relative_param(obj, rel)
        .ok_or_else(|| ModelError::Missing(format!("{}{rel}", schema.object(obj).supported_path())))
}

fn typed(schema: &Schema, p: ParamId, text: &str) -> Result<Value, ModelError> {
    let def = schema.param(p);
    def.ty.parse(text).map_err(|error| ModelError::Value {
        param: format!("{}{}", schema.object(def.owner).supported_path(), def.name),
        error,
    })
}

/// Adds a capability row named `name` to an `IoTCapability` table (the
/// top-level one or a node's), with its class sub-object.
pub fn add_capability(
    store: &mut Store,
    table: &TableRef,
    name: &str,
    cap: Capability,
) -> Result<ObjRef, ModelError> {
    let schema = store.schema().clone();
    let row = table.table;
    let mut values = vec![
        (param(&schema, row, "Name")?, Value::String(name.to_owned())),
        (param(&schema, row, "Class")?, Value::String(cap.class.name().to_owned())),
    ];
    for (rel, text) in &cap.params {
        let p = param(&schema, row, &format!("{}.{rel}", cap.class.name()))?;
        values.push((p, typed(&schema, p, text)?));
    }
    Ok(store.add(table, values)?)
}

/// Adds a `Device.Node.{i}` row.
pub fn add_node(store: &mut Store, alias: &str, kind: &str, description: &str) -> Result<ObjRef, ModelError> {
    let schema = store.schema().clone();
    let nodes = table(&schema, "Device.Node.")?;
    let mut values = Vec::new();
    for (rel, text) in [("Alias", alias), ("Type", kind), ("Description", description)] {
        let p = param(&schema, nodes.table, rel)?;
        values.push((p, typed(&schema, p, text)?));
    }
    Ok(store.add(&nodes, values)?)
}

/// The `IoTCapability` table of a node row.
pub fn node_capabilities(schema: &Schema, node: &ObjRef) -> Result<TableRef, ModelError> {
    let t =
        schema.child(node.obj, "IoTCapability").ok_or_else(|| ModelError::Missing("IoTCapability".into()))?;
    Ok(TableRef { table: t, parent: node.inst })
}

/// The class sub-object of a capability row (per its `Class`), if present.
pub fn class_object(store: &Store, row: &ObjRef) -> Option<(Class, ObjRef)> {
    let schema = store.schema();
    let class_param = schema.param_named(row.obj, "Class")?;
    let class = Class::from_name(store.get(&row.param(class_param))?.as_str()?)?;
    let obj = ObjRef::new(schema.child(row.obj, class.name())?, row.inst);
    store.has_object(&obj).then_some((class, obj))
}

/// Stores a sensor reading (lexical form) on capability row `row`:
/// `Value`, `LastChange` if the value changed, `LastContactTime`, and for
/// level sensors `LowLevel` (Value ≤ LowLevelThreshold) and `HighLevel`
/// (Value ≥ HighLevelThreshold). Returns whether the value changed.
pub fn record_reading(
    store: &mut Store,
    row: &ObjRef,
    value: &str,
    now: DateTime,
) -> Result<bool, ModelError> {
    let schema = store.schema().clone();
    let (class, obj) =
        class_object(store, row).ok_or_else(|| ModelError::Missing("class sub-object".into()))?;
    let value_name = if class == Class::MultiLevelSensor { "Values" } else { "Value" };
    let p = param(&schema, obj.obj, value_name)?;
    let v = typed(&schema, p, value)?;
    let changed = store.set(&obj.param(p), v.clone())?;
    if let Ok(contact) = param(&schema, obj.obj, "LastContactTime") {
        store.set(&obj.param(contact), Value::DateTime(now))?;
    }
    if changed {
        if let Ok(last) = param(&schema, obj.obj, "LastChange") {
            store.set(&obj.param(last), Value::DateTime(now))?;
        }
    }
    if class == Class::LevelSensor {
        let reading = v.as_decimal().unwrap_or_default();
        for (flag, threshold, high) in
            [("LowLevel", "LowLevelThreshold", false), ("HighLevel", "HighLevelThreshold", true)]
        {
            let t = decimal(store, &obj.param(param(&schema, obj.obj, threshold)?));
            let on = if high { reading >= t } else { reading <= t };
            store.set(&obj.param(param(&schema, obj.obj, flag)?), Value::Boolean(on))?;
        }
    }
    Ok(changed)
}

fn decimal(store: &Store, p: &ParamRef) -> Decimal {
    store.get(p).and_then(Value::as_decimal).unwrap_or_default()
}

/// The provider of simulated IoT devices; see the module documentation.
/// Mount it on `Device.IoTCapability.` and on `Device.Node.`.
#[derive(Debug, Default)]
pub struct Actuators;

impl Actuators {
    fn sibling(store: &Store, obj: &ObjRef, name: &str) -> Option<ParamRef> {
        Some(obj.param(store.schema().param_named(obj.obj, name)?))
    }

    fn step(store: &mut Store, obj: &ObjRef, class: Class, up: bool) -> Result<(), CommandError> {
        let fail = |e: crate::datamodel::StoreError| CommandError::failed(e.to_string());
        let value =
            Actuators::sibling(store, obj, "Value").ok_or_else(|| CommandError::failed("no Value"))?;
        match class {
            Class::LevelControl => {
                let get = |n: &str| {
                    Actuators::sibling(store, obj, n).map(|p| decimal(store, &p)).unwrap_or_default()
                };
                let (current, step, min, max) =
                    (decimal(store, &value), get("StepValue"), get("MinValue"), get("MaxValue"));
                let moved = if up { current.checked_add(step) } else { current.checked_sub(step) };
                let next = moved.unwrap_or(current).clamp(min.min(max), max.max(min));
                store.set(&value, Value::Decimal(next)).map_err(fail)?;
            }
            Class::EnumControl => {
                let valid = Actuators::sibling(store, obj, "ValidValues")
                    .and_then(|p| store.get(&p).and_then(Value::as_list).map(<[Value]>::to_vec))
                    .unwrap_or_default();
                if valid.is_empty() {
                    return Err(CommandError::failed("ValidValues is empty"));
                }
                let current = store.get(&value).cloned().unwrap_or(Value::String(String::new()));
                let n = valid.len();
                let next = match valid.iter().position(|v| *v == current) {
                    Some(i) if up => (i + 1) % n,
                    Some(i) => (i + n - 1) % n,
                    None => 0,
                };
                if let Some(v) = valid.get(next) {
                    store.set(&value, v.clone()).map_err(fail)?;
                }
            }
            _ => return Err(CommandError::failed("not a level or enum control")),
        }
        Ok(())
    }
}

impl Provider for Actuators {
    fn set(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        _obj: &ObjRef,
        writes: &[(ParamRef, Value)],
    ) -> Result<(), Vec<ParamError>> {
        // The store already holds the new values; check them against the
        // row's own limits.
        let store = &*ctx.store;
        let schema = store.schema();
        let mut errors = Vec::new();
        for (p, v) in writes {
            let owner = schema.object(p.obj.obj).name();
            if &*schema.param(p.param).name != "Value" {
                continue;
            }
            let refuse = |msg: &str| ParamError {
                param: p.param,
                code: ErrCode::INVALID_VALUE,
                message: msg.to_owned(),
            };
            match owner {
                "LevelControl" => {
                    let get = |n: &str| Actuators::sibling(store, &p.obj, n).map(|q| decimal(store, &q));
                    let (min, max) =
                        (get("MinValue").unwrap_or_default(), get("MaxValue").unwrap_or_default());
                    let x = v.as_decimal().unwrap_or_default();
                    if x < min || x > max {
                        errors.push(refuse(&format!("outside {min}..{max}")));
                    }
                }
                "EnumControl" => {
                    let valid =
                        Actuators::sibling(store, &p.obj, "ValidValues").and_then(|q| store.get(&q).cloned());
                    if !valid.as_ref().and_then(Value::as_list).is_some_and(|l| l.contains(v)) {
                        errors.push(refuse("not one of ValidValues"));
                    }
                }
                _ => {}
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn operate(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        command: &CommandRef,
        _input: &Args,
        _op: OpId,
    ) -> Operation {
        let schema = ctx.store.schema().clone();
        let obj = command.obj;
        let Some(class) = Class::from_name(schema.object(obj.obj).name()) else {
            return Operation::Done(Err(CommandError::failed("not an IoT capability")));
        };
        let result = match &*schema.command(command.command).name {
            "Toggle" => match Actuators::sibling(ctx.store, &obj, "Value") {
                Some(p) => {
                    let on = ctx.store.get(&p).and_then(Value::as_bool).unwrap_or(false);
                    ctx.store
                        .set(&p, Value::Boolean(!on))
                        .map(drop)
                        .map_err(|e| CommandError::failed(e.to_string()))
                }
                None => Err(CommandError::failed("no Value")),
            },
            "StepUp" => Actuators::step(ctx.store, &obj, class, true),
            "StepDown" => Actuators::step(ctx.store, &obj, class, false),
            other => Err(CommandError::failed(format!("unknown command {other}()"))),
        };
        Operation::Done(result.map(|()| Args::new()))
    }
}
