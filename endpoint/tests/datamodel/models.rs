//! The ready-made models: their schema and content, and the simulated IoT
//! devices' commands.

use std::collections::BTreeMap;

use usp_endpoint::datamodel::models::device_info::{self, DeviceInfo};
use usp_endpoint::datamodel::models::iot::{self, Capability, Class};
use usp_endpoint::datamodel::models::local_agent::{self, LocalAgentInfo};
use usp_endpoint::datamodel::{
    Change, CommandKind, DataModel, DateTime, ObjAccess, ParamAccess, SchemaNode, Started, Store, Target,
};

use super::room::{obj, param, room, schema, text};

#[test]
fn local_agent_schema_essentials() {
    let s = schema();
    let node = |path: &str| s.lookup(path).unwrap_or_else(|| panic!("{path}"));
    let table = |path: &str| {
        let SchemaNode::Object(o) = node(path) else { panic!() };
        s.object(o).table().unwrap().clone()
    };
    let key_names = |path: &str| -> Vec<Vec<String>> {
        table(path)
            .unique_keys
            .iter()
            .map(|k| k.params.iter().map(|p| s.param(*p).name.to_string()).collect())
            .collect()
    };
    assert_eq!(key_names("Device.LocalAgent.Subscription."), [vec!["Alias"], vec!["Recipient", "ID"]]);
    assert_eq!(key_names("Device.LocalAgent.Controller."), [vec!["Alias"], vec!["EndpointID"]]);
    assert_eq!(
        key_names("Device.LocalAgent.Request."),
        [vec!["Alias"], vec!["Originator", "Command", "CommandKey"]]
    );
    assert_eq!(
        key_names("Device.LocalAgent.ControllerTrust.Role.{i}.Permission."),
        [vec!["Alias"], vec!["Order"]]
    );
    assert_eq!(table("Device.LocalAgent.Request.").access, ObjAccess::ReadOnly);
    assert_eq!(table("Device.LocalAgent.Subscription.").access, ObjAccess::AddDelete);
    for p in [
        "Device.LocalAgent.EndpointID",
        "Device.LocalAgent.SoftwareVersion",
        "Device.LocalAgent.UpTime",
        "Device.LocalAgent.SupportedProtocols",
        "Device.LocalAgent.SubscriptionNumberOfEntries",
        "Device.LocalAgent.Controller.{i}.MTP.{i}.WebSocket.Host",
        "Device.LocalAgent.Controller.{i}.USPNotifRetryMinimumWaitInterval",
        "Device.LocalAgent.Controller.{i}.USPNotifRetryIntervalMultiplier",
        "Device.LocalAgent.Controller.{i}.InheritedRole",
        "Device.LocalAgent.Controller.{i}.E2ESession.PayloadSecurity",
        "Device.LocalAgent.MTP.{i}.MQTT.ResponseTopicConfigured",
        "Device.LocalAgent.ControllerTrust.UntrustedRole",
        "Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.InstantiatedObj",
        "Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.CommandEvent",
        "Device.LocalAgent.Subscription.{i}.NotifExpiration",
        "Device.LocalAgent.Request.{i}.Status",
    ] {
        assert!(matches!(node(p), SchemaNode::Param(_)), "{p}");
    }
    let SchemaNode::Command(cancel) = node("Device.LocalAgent.Request.{i}.Cancel()") else { panic!() };
    assert_eq!(s.command(cancel).kind, CommandKind::Sync);
    let SchemaNode::Param(inherited) = node("Device.LocalAgent.Controller.{i}.InheritedRole") else {
        panic!()
    };
    assert_eq!(s.param(inherited).access, ParamAccess::ReadOnly);
    let SchemaNode::Param(mult) = node("Device.LocalAgent.Controller.{i}.USPNotifRetryIntervalMultiplier")
    else {
        panic!()
    };
    assert_eq!(s.param(mult).default.to_string(), "2000");
    let SchemaNode::Param(perm) = node("Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.Param")
    else {
        panic!()
    };
    assert_eq!(s.param(perm).default.to_string(), "----");
}

#[test]
fn populate_identity() {
    let s = schema();
    let mut store = Store::new(s.clone());
    device_info::populate(
        &mut store,
        &DeviceInfo { manufacturer: "ACME", oui: "00D09E", serial_number: "SN1", ..Default::default() },
    )
    .unwrap();
    local_agent::populate(
        &mut store,
        &LocalAgentInfo {
            endpoint_id: "proto::room101",
            software_version: "0.1.0",
            supported_protocols: &["MQTT", "WebSocket"],
        },
    )
    .unwrap();
    let dm = DataModel::with_store(store);
    assert_eq!(text(&dm, "Device.DeviceInfo.Manufacturer"), "ACME");
    assert_eq!(text(&dm, "Device.LocalAgent.EndpointID"), "proto::room101");
    assert_eq!(text(&dm, "Device.LocalAgent.SupportedProtocols"), "MQTT,WebSocket");
    assert_eq!(text(&dm, "Device.RootDataModelVersion"), "2.18");
    let mut store = Store::new(s);
    let bad = DeviceInfo { oui: "12345", ..Default::default() };
    assert!(device_info::populate(&mut store, &bad).is_err(), "OUI must be six characters");
}

fn operate(dm: &mut DataModel, path: &str) -> Vec<Change> {
    let Ok(Target::Command(c)) = dm.lookup(path) else { panic!("{path}") };
    assert!(matches!(dm.operate(&c, &BTreeMap::new()).expect("test fixture"), Started::Running(_)));
    let mut out = Vec::new();
    dm.drain_changes(&mut out);
    out
}

#[test]
fn level_control_steps_clamp() {
    let mut dm = room();
    let value = "Device.IoTCapability.5.LevelControl.Value";
    operate(&mut dm, "Device.IoTCapability.5.LevelControl.StepUp()");
    assert_eq!(text(&dm, value), "21.5");
    let v = param(&dm, value);
    dm.store_mut().set(&v, "27.8".parse::<usp_endpoint::datamodel::Decimal>().unwrap().into()).unwrap();
    operate(&mut dm, "Device.IoTCapability.5.LevelControl.StepUp()");
    assert_eq!(text(&dm, value), "28", "clamped at MaxValue");
    let log = operate(&mut dm, "Device.IoTCapability.5.LevelControl.StepUp()");
    assert_eq!(text(&dm, value), "28");
    assert!(
        matches!(&log[..], [Change::Completed { result: Ok(_), .. }]),
        "no change at the limit, still completes"
    );
    for _ in 0..30 {
        operate(&mut dm, "Device.IoTCapability.5.LevelControl.StepDown()");
    }
    assert_eq!(text(&dm, value), "16", "clamped at MinValue");
}

#[test]
fn enum_control_steps_wrap_and_binary_toggles() {
    let mut dm = room();
    let schema = dm.schema().clone();
    let caps = iot::top_level(&schema).unwrap();
    iot::add_capability(
        dm.store_mut(),
        &caps,
        "r101-hvac-mode",
        Capability::enum_control("ThermostatMode", &["Off", "Heat", "Cool", "Auto"], "Auto"),
    )
    .unwrap();
    let value = "Device.IoTCapability.6.EnumControl.Value";
    operate(&mut dm, "Device.IoTCapability.6.EnumControl.StepUp()");
    assert_eq!(text(&dm, value), "Off", "wraps forward");
    operate(&mut dm, "Device.IoTCapability.6.EnumControl.StepDown()");
    assert_eq!(text(&dm, value), "Auto", "wraps backward");
    operate(&mut dm, "Device.IoTCapability.6.EnumControl.StepDown()");
    assert_eq!(text(&dm, value), "Cool");
    let log = operate(&mut dm, "Device.IoTCapability.3.BinaryControl.Toggle()");
    assert_eq!(text(&dm, "Device.IoTCapability.3.BinaryControl.Value"), "true");
    assert_eq!(log.len(), 2, "value change, then completion");
    operate(&mut dm, "Device.IoTCapability.3.BinaryControl.Toggle()");
    assert_eq!(text(&dm, "Device.IoTCapability.3.BinaryControl.Value"), "false");
}

#[test]
fn room_of_nodes_and_readings() {
    let mut dm = room();
    let schema = dm.schema().clone();
    let store = dm.store_mut();
    let node = iot::add_node(store, "r101-sensor", "Sensor", "Room 101 multisensor").unwrap();
    let caps = iot::node_capabilities(&schema, &node).unwrap();
    let temp = iot::add_capability(
        store,
        &caps,
        "r101-temp",
        Capability::level_sensor("Temperature", "degC", "21.5").with("HighLevelThreshold", "26"),
    )
    .unwrap();
    let gps = iot::add_capability(
        store,
        &caps,
        "r101-gps",
        Capability::multi_level_sensor(
            "Location",
            "deg",
            &["Latitude", "Longitude"],
            &["48.1372056", "11.57555"],
        ),
    )
    .unwrap();
    assert!(iot::add_node(store, "bad", "Toaster", "").is_err(), "Type is an enumeration");
    assert_eq!(iot::class_object(store, &temp).map(|(c, _)| c), Some(Class::LevelSensor));
    let t0 = DateTime::parse("2024-05-01T12:00:00Z").unwrap();
    let t1 = DateTime::parse("2024-05-01T12:05:00Z").unwrap();
    assert!(iot::record_reading(store, &temp, "27", t0).unwrap());
    assert!(!iot::record_reading(store, &temp, "27.0", t1).unwrap(), "same value");
    assert!(iot::record_reading(store, &gps, "48.1,11.5", t1).unwrap());
    let base = "Device.Node.1.IoTCapability.1.LevelSensor.";
    assert_eq!(text(&dm, &format!("{base}Value")), "27");
    assert_eq!(text(&dm, &format!("{base}HighLevel")), "true");
    assert_eq!(text(&dm, &format!("{base}LowLevel")), "false");
    assert_eq!(text(&dm, &format!("{base}LastChange")), "2024-05-01T12:00:00Z");
    assert_eq!(text(&dm, &format!("{base}LastContactTime")), "2024-05-01T12:05:00Z");
    assert_eq!(text(&dm, "Device.Node.1.IoTCapability.2.MultiLevelSensor.Values"), "48.1,11.5");
    assert_eq!(text(&dm, "Device.NodeNumberOfEntries"), "1");
    assert_eq!(text(&dm, "Device.Node.1.IoTCapabilityNumberOfEntries"), "2");
    // Node commands run through the provider mounted on Device.Node.
    let light = obj(&dm, "Device.Node.1.");
    let caps = iot::node_capabilities(&schema, &light).unwrap();
    iot::add_capability(dm.store_mut(), &caps, "sw", Capability::binary_control("Switch", false)).unwrap();
    operate(&mut dm, "Device.Node.1.IoTCapability.3.BinaryControl.Toggle()");
    assert_eq!(text(&dm, "Device.Node.1.IoTCapability.3.BinaryControl.Value"), "true");
}
