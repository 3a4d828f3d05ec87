//! The Instantiated Data Model of paths.md §7, built with the models.

use std::sync::Arc;

use usp_endpoint::datamodel::models::{self, iot, iot::Capability};
use usp_endpoint::datamodel::{
    DataModel, Instances, ObjRef, ParamRef, Schema, SchemaNode, Store, TableRef, Target,
};
use usp_endpoint::path::Path;

pub(crate) fn schema() -> Arc<Schema> {
    Arc::new(models::agent_schema().expect("test fixture"))
}

/// `Device.…` table at top level or below numbered rows (`parent`).
pub(crate) fn table(schema: &Schema, path: &str, parent: &[u32]) -> TableRef {
    let Some(SchemaNode::Object(t)) = schema.lookup(path) else { panic!("{path}") };
    TableRef { table: t, parent: Instances::new(parent).expect("test fixture") }
}

/// Adds a row with values given as (relative path, lexical value).
pub(crate) fn add_row(store: &mut Store, table: &TableRef, values: &[(&str, &str)]) -> ObjRef {
    let schema = store.schema().clone();
    let values = values
        .iter()
        .map(|(rel, text)| {
            let p = schema.relative_param(table.table, rel).unwrap_or_else(|| panic!("{rel}"));
            (p, schema.param(p).ty.parse(text).expect("test fixture"))
        })
        .collect();
    store.add(table, values).expect("test fixture")
}

pub(crate) fn room_store() -> Store {
    let schema = schema();
    let mut store = Store::new(schema.clone());
    let caps = iot::top_level(&schema).expect("test fixture");
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
        iot::add_capability(&mut store, &caps, name, cap).expect("test fixture");
    }
    let roles = table(&schema, "Device.LocalAgent.ControllerTrust.Role.", &[]);
    add_row(&mut store, &roles, &[("Name", "Operator")]);
    add_row(&mut store, &roles, &[("Name", "Observer")]);
    let controllers = table(&schema, "Device.LocalAgent.Controller.", &[]);
    add_row(
        &mut store,
        &controllers,
        &[
            ("EndpointID", "proto::rules-engine"),
            ("Enable", "true"),
            (
                "AssignedRole",
                "Device.LocalAgent.ControllerTrust.Role.1,Device.LocalAgent.ControllerTrust.Role.2",
            ),
        ],
    );
    let subs = table(&schema, "Device.LocalAgent.Subscription.", &[]);
    let values = [("ID", "occ-r101"), ("Recipient", "Device.LocalAgent.Controller.1"), ("Enable", "true")]
        .iter()
        .map(|(rel, text)| {
            let p = schema.relative_param(subs.table, rel).expect("test fixture");
            (p, schema.param(p).ty.parse(text).expect("test fixture"))
        })
        .collect();
    store.add_numbered(&subs, 7, values).expect("test fixture");
    store
}

/// The room with the IoT actuators mounted, change log empty.
pub(crate) fn room() -> DataModel {
    let mut dm = DataModel::with_store(room_store());
    let caps = dm.object_id("Device.IoTCapability.").expect("test fixture");
    let nodes = dm.object_id("Device.Node.").expect("test fixture");
    dm.mount(caps, Box::new(iot::Actuators));
    dm.mount(nodes, Box::new(iot::Actuators));
    dm.drain_changes(&mut Vec::new());
    dm
}

pub(crate) fn p(s: &str) -> Path {
    Path::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Paths of a resolution's matches.
pub(crate) fn paths(dm: &DataModel, path: &str) -> Vec<String> {
    let r = dm.resolve(&p(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    r.matches.into_targets().iter().map(|t| dm.schema().target_path(t)).collect()
}

/// A parameter by concrete path.
pub(crate) fn param(dm: &DataModel, path: &str) -> ParamRef {
    match dm.lookup(path) {
        Ok(Target::Param(p)) => p,
        other => panic!("{path}: {other:?}"),
    }
}

/// An object by concrete path.
pub(crate) fn obj(dm: &DataModel, path: &str) -> ObjRef {
    match dm.lookup(path) {
        Ok(Target::Object(o)) => o,
        other => panic!("{path}: {other:?}"),
    }
}

/// A parameter's value in lexical form.
pub(crate) fn text(dm: &DataModel, path: &str) -> String {
    dm.read(&param(dm, path)).expect("test fixture").to_string()
}
