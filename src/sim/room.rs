//! The data model of one simulated room, laid out as the worked example
//! of agent-datamodel.md §8.7 (one `Device.Node.{i}` per physical device)
//! and as the example rules in `deploy/rules/` expect it. For room 101:
//!
//! | path | capability name | class, type |
//! |---|---|---|
//! | `Device.Node.1.` | `r101-sensor` | Sensor: "Room 101 multisensor" |
//! | `Device.Node.1.IoTCapability.1.` | `r101-temp` | LevelSensor Temperature, degC, thresholds 16/26 |
//! | `Device.Node.1.IoTCapability.2.` | `r101-presence` | BinarySensor MotionDetected, HoldTime 300000 ms |
//! | `Device.Node.1.IoTCapability.3.` | `r101-humidity` | LevelSensor Humidity, %, thresholds 30/70 |
//! | `Device.Node.2.` | `r101-light` | Light |
//! | `Device.Node.2.IoTCapability.1.` | `r101-light-sw` | BinaryControl Switch |
//! | `Device.Node.2.IoTCapability.2.` | `r101-light-dim` | LevelControl Brightness, %, 0–100 step 10 |
//! | `Device.Node.3.` | `r101-hvac` | HVAC |
//! | `Device.Node.3.IoTCapability.1.` | `r101-setpoint` | LevelControl Temperature, degC, 16–28 step 0.5 |
//! | `Device.Node.3.IoTCapability.2.` | `r101-hvac-mode` | EnumControl ThermostatMode Off,Heat,Cool,Auto |
//! | `Device.Node.4.` | `r101-window` | Sensor: "Room 101 window contact" |
//! | `Device.Node.4.IoTCapability.1.` | `r101-window` | BinarySensor WindowOpen |
//!
//! Every room has the same instance numbers, so the concrete places the
//! simulation writes ([`RoomIds`]) are computed once for the whole
//! building from the shared schema.

use std::sync::Arc;

use super::devices::Thresholds;
use usp_endpoint::agent::AgentError;
use usp_endpoint::agent::permissions::{Grant, Rights, setup};
use usp_endpoint::datamodel::models::{ModelError, device_info, iot, iot::Capability, local_agent};
use usp_endpoint::datamodel::{DateTime, EventRef, Instances, ObjRef, ParamRef, Schema, SchemaNode, Store};

/// The parameters of a `LevelSensor` a driver writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LevelIds {
    /// `Value`.
    pub(crate) value: ParamRef,
    /// `LastChange`.
    pub(crate) last_change: ParamRef,
    /// `LastContactTime`.
    pub(crate) last_contact: ParamRef,
    /// `LowLevel`.
    pub(crate) low: ParamRef,
    /// `LowLevelThreshold`.
    pub(crate) low_threshold: ParamRef,
    /// `HighLevel`.
    pub(crate) high: ParamRef,
    /// `HighLevelThreshold`.
    pub(crate) high_threshold: ParamRef,
}

/// The parameters of a `BinarySensor` a driver writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BinaryIds {
    /// `Value`.
    pub(crate) value: ParamRef,
    /// `LastChange`.
    pub(crate) last_change: ParamRef,
    /// `LastContactTime`.
    pub(crate) last_contact: ParamRef,
}

/// The concrete places of a room's sensors and controls (the same in
/// every room).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoomIds {
    /// Node 1, capability 1.
    pub(crate) temperature: LevelIds,
    /// Node 1, capability 2.
    pub(crate) presence: BinaryIds,
    /// Node 1, capability 3.
    pub(crate) humidity: LevelIds,
    /// Node 4, capability 1.
    pub(crate) window: BinaryIds,
    /// Node 3, capability 1: `LevelControl.Value`.
    pub(crate) setpoint: ParamRef,
    /// Node 3, capability 2: `EnumControl.Value`.
    pub(crate) hvac_mode: ParamRef,
    /// `Device.Boot!`.
    pub(crate) boot: EventRef,
    /// `Device.DeviceInfo.UpTime`.
    pub(crate) uptime: ParamRef,
}

fn missing(what: &str) -> ModelError {
    ModelError::Missing(what.to_owned())
}

fn object(schema: &Schema, supported: &str, inst: &[u32]) -> Result<ObjRef, ModelError> {
    match schema.lookup(supported) {
        Some(SchemaNode::Object(id)) => {
            Ok(ObjRef::new(id, Instances::new(inst).ok_or_else(|| missing(supported))?))
        }
        _ => Err(missing(supported)),
    }
}

fn param(schema: &Schema, obj: &ObjRef, name: &str) -> Result<ParamRef, ModelError> {
    schema.param_named(obj.obj, name).map(|p| obj.param(p)).ok_or_else(|| missing(name))
}

const CAPABILITY: &str = "Device.Node.{i}.IoTCapability.{i}.";

impl RoomIds {
    /// The places, looked up in `schema` (built with the IoT model).
    pub(crate) fn new(schema: &Schema) -> Result<RoomIds, ModelError> {
        let level = |node, cap| -> Result<LevelIds, ModelError> {
            let o = object(schema, &format!("{CAPABILITY}LevelSensor."), &[node, cap])?;
            Ok(LevelIds {
                value: param(schema, &o, "Value")?,
                last_change: param(schema, &o, "LastChange")?,
                last_contact: param(schema, &o, "LastContactTime")?,
                low: param(schema, &o, "LowLevel")?,
                low_threshold: param(schema, &o, "LowLevelThreshold")?,
                high: param(schema, &o, "HighLevel")?,
                high_threshold: param(schema, &o, "HighLevelThreshold")?,
            })
        };
        let binary = |node, cap| -> Result<BinaryIds, ModelError> {
            let o = object(schema, &format!("{CAPABILITY}BinarySensor."), &[node, cap])?;
            Ok(BinaryIds {
                value: param(schema, &o, "Value")?,
                last_change: param(schema, &o, "LastChange")?,
                last_contact: param(schema, &o, "LastContactTime")?,
            })
        };
        let setpoint = object(schema, &format!("{CAPABILITY}LevelControl."), &[3, 1])?;
        let mode = object(schema, &format!("{CAPABILITY}EnumControl."), &[3, 2])?;
        let root = ObjRef::new(schema.root(), Instances::EMPTY);
        let info = object(schema, "Device.DeviceInfo.", &[])?;
        let boot = schema.event_named(schema.root(), "Boot").ok_or_else(|| missing("Device.Boot!"))?;
        Ok(RoomIds {
            temperature: level(1, 1)?,
            presence: binary(1, 2)?,
            humidity: level(1, 3)?,
            window: binary(4, 1)?,
            setpoint: param(schema, &setpoint, "Value")?,
            hvac_mode: param(schema, &mode, "Value")?,
            boot: root.event(boot),
            uptime: param(schema, &info, "UpTime")?,
        })
    }
}

/// The first sensor readings of a room, in lexical form, and when they
/// were taken.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Initial {
    /// When the room started (its sensors' `LastChange` and
    /// `LastContactTime`).
    pub(crate) at: DateTime,
    /// Temperature, °C (one decimal).
    pub(crate) temperature: String,
    /// Relative humidity, % (whole).
    pub(crate) humidity: String,
    /// Someone is there.
    pub(crate) occupied: bool,
    /// The window is open.
    pub(crate) window_open: bool,
}

/// Name of the Role of Controllers a room does not know.
pub(crate) const UNTRUSTED_ROLE: &str = "Untrusted";

/// Fills a room's store: DeviceInfo, LocalAgent identity, the four nodes
/// with their capabilities (checked against [`RoomIds`]), and the
/// `Untrusted` Role given to unknown Controllers: read access to
/// `Device.DeviceInfo.` and `Device.Node.`, nothing else (no writes, no
/// commands, no subscriptions).
pub(crate) fn populate(
    store: &mut Store,
    number: u64,
    endpoint_id: &str,
    protocol: &str,
    initial: &Initial,
    temperature: &Thresholds,
    humidity: &Thresholds,
) -> Result<(), BuildError> {
    let schema: Arc<Schema> = store.schema().clone();
    let serial = format!("SIM-{number}");
    let description = format!("Room {number} controller (simulated)");
    device_info::populate(
        store,
        &device_info::DeviceInfo {
            manufacturer: "uspmesh",
            oui: "000000",
            model_name: "uspmesh sim room",
            product_class: "RoomController",
            serial_number: &serial,
            software_version: env!("CARGO_PKG_VERSION"),
            hardware_version: "sim",
            description: &description,
        },
    )?;
    local_agent::populate(
        store,
        &local_agent::LocalAgentInfo {
            endpoint_id,
            software_version: env!("CARGO_PKG_VERSION"),
            supported_protocols: &[protocol],
        },
    )?;

    let r = |suffix: &str| format!("r{number}-{suffix}");
    let at = initial.at.to_string();
    let stamped = |c: Capability| c.with("LastChange", at.clone()).with("LastContactTime", at.clone());
    let sensor = iot::add_node(store, &r("sensor"), "Sensor", &format!("Room {number} multisensor"))?;
    let caps = iot::node_capabilities(&schema, &sensor)?;
    iot::add_capability(
        store,
        &caps,
        &r("temp"),
        stamped(Capability::level_sensor("Temperature", "degC", &initial.temperature))
            .with("LowLevelThreshold", temperature.low.to_string())
            .with("HighLevelThreshold", temperature.high.to_string())
            .with("Description", format!("Room {number} air temperature")),
    )?;
    iot::add_capability(
        store,
        &caps,
        &r("presence"),
        stamped(Capability::binary_sensor("MotionDetected", initial.occupied))
            .with("HoldTime", "300000")
            .with("Sensitivity", "60")
            .with("Description", format!("Room {number} presence")),
    )?;
    iot::add_capability(
        store,
        &caps,
        &r("humidity"),
        stamped(Capability::level_sensor("Humidity", "%", &initial.humidity))
            .with("LowLevelThreshold", humidity.low.to_string())
            .with("HighLevelThreshold", humidity.high.to_string())
            .with("Description", format!("Room {number} relative humidity")),
    )?;

    let light = iot::add_node(store, &r("light"), "Light", &format!("Room {number} ceiling light"))?;
    let caps = iot::node_capabilities(&schema, &light)?;
    iot::add_capability(store, &caps, &r("light-sw"), Capability::binary_control("Switch", false))?;
    iot::add_capability(
        store,
        &caps,
        &r("light-dim"),
        Capability::level_control("Brightness", "%", "0", "100", "0").with("StepValue", "10"),
    )?;

    let hvac = iot::add_node(store, &r("hvac"), "HVAC", &format!("Room {number} HVAC unit"))?;
    let caps = iot::node_capabilities(&schema, &hvac)?;
    iot::add_capability(
        store,
        &caps,
        &r("setpoint"),
        Capability::level_control("Temperature", "degC", "16", "28", "21").with("StepValue", "0.5"),
    )?;
    iot::add_capability(
        store,
        &caps,
        &r("hvac-mode"),
        Capability::enum_control("ThermostatMode", &["Off", "Heat", "Cool", "Auto"], "Auto"),
    )?;

    let window = iot::add_node(store, &r("window"), "Sensor", &format!("Room {number} window contact"))?;
    let caps = iot::node_capabilities(&schema, &window)?;
    iot::add_capability(
        store,
        &caps,
        &r("window"),
        stamped(Capability::binary_sensor("WindowOpen", initial.window_open))
            .with("Description", format!("Room {number} window")),
    )?;

    let read = Grant {
        param: Rights::READ,
        obj: Rights::READ,
        instantiated_obj: Rights::READ,
        command_event: Rights::NONE,
    };
    let untrusted = setup::add_role(
        store,
        UNTRUSTED_ROLE,
        &[
            setup::PermissionSpec::new(1, ["Device."], Grant::default()),
            setup::PermissionSpec::new(2, ["Device.DeviceInfo.", "Device.Node."], read),
        ],
    )?;
    setup::set_untrusted_roles(store, &[untrusted])?;
    Ok(())
}

/// Why a room's data model could not be filled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildError {
    /// A model refused a value or lacks an object.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A Role or Controller row could not be made.
    #[error(transparent)]
    Agent(#[from] AgentError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use usp_endpoint::datamodel::{Value, models};

    #[test]
    fn the_ids_point_at_what_populate_made() {
        let schema = Arc::new(models::agent_schema().unwrap());
        let ids = RoomIds::new(&schema).unwrap();
        let mut store = Store::new(schema.clone());
        let at = DateTime::from_unix(1_700_000_000, 0).unwrap();
        let initial = Initial {
            at,
            temperature: "21.4".into(),
            humidity: "44".into(),
            occupied: true,
            window_open: false,
        };
        let (t, h) = (Thresholds { low: 16.0, high: 26.0 }, Thresholds { low: 30.0, high: 70.0 });
        populate(&mut store, 101, "proto::room-101", "MQTT", &initial, &t, &h).unwrap();
        assert_eq!(
            schema.param_path(&ids.temperature.value),
            "Device.Node.1.IoTCapability.1.LevelSensor.Value"
        );
        assert_eq!(store.get(&ids.temperature.value).unwrap().to_string(), "21.4");
        assert_eq!(store.get(&ids.temperature.high_threshold).unwrap().to_string(), "26");
        assert_eq!(store.get(&ids.humidity.value).unwrap().to_string(), "44");
        assert_eq!(store.get(&ids.presence.value), Some(&Value::Boolean(true)));
        assert_eq!(schema.param_path(&ids.window.value), "Device.Node.4.IoTCapability.1.BinarySensor.Value");
        assert_eq!(store.get(&ids.window.value), Some(&Value::Boolean(false)));
        assert_eq!(store.get(&ids.setpoint).unwrap().to_string(), "21");
        assert_eq!(store.get(&ids.hvac_mode).unwrap().to_string(), "Auto");
        assert_eq!(schema.event_path(&ids.boot), "Device.Boot!");
        assert_eq!(store.get(&ids.window.last_change), Some(&Value::DateTime(at)));
        assert_eq!(store.get(&ids.temperature.last_contact), Some(&Value::DateTime(at)));
        assert_eq!(schema.param_path(&ids.uptime), "Device.DeviceInfo.UpTime");
    }
}
