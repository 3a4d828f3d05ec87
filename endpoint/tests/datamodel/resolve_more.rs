//! Resolution beyond the worked examples: references (also inside
//! expressions), nested tables, typed unique keys, visibility, errors.

use usp_endpoint::datamodel::models::iot::{self, Capability};
use usp_endpoint::datamodel::{
    Everything, LookupError, Matches, ObjRef, ParamRef, PathKind, ResolveError, SchemaNode, Target, Value,
    Visibility,
};
use usp_proto::ErrCode;

use super::room::{add_row, obj, p, param, paths, room, table};

#[test]
fn reference_inside_search_expression() {
    let dm = room();
    assert_eq!(
        paths(&dm, r#"Device.LocalAgent.Subscription.[Recipient+.EndpointID=="proto::rules-engine"].ID"#),
        ["Device.LocalAgent.Subscription.7.ID"]
    );
    assert!(paths(&dm, r#"Device.LocalAgent.Subscription.[Recipient+.EndpointID=="other"].ID"#).is_empty());
    // #*+ inside an expression: any referenced object may satisfy it.
    assert_eq!(
        paths(&dm, r#"Device.LocalAgent.Controller.[AssignedRole#*+.Name=="Observer"].EndpointID"#),
        ["Device.LocalAgent.Controller.1.EndpointID"]
    );
    assert!(
        paths(&dm, r#"Device.LocalAgent.Controller.[AssignedRole+.Name=="Observer"].EndpointID"#).is_empty()
    );
    // Type rules apply across the hop.
    let e = dm.resolve(&p(r#"Device.LocalAgent.Subscription.[Recipient+.Enable=="true"].ID"#)).unwrap_err();
    assert_eq!(e.code(), ErrCode::INVALID_PATH_SYNTAX);
    // Names after the hop are checked against the target's schema.
    let e = dm.resolve(&p(r#"Device.LocalAgent.Subscription.[Recipient+.Nope=="x"].ID"#)).unwrap_err();
    assert_eq!(e.code(), ErrCode::INVALID_PATH);
}

#[test]
fn reference_errors_and_empty_references() {
    let mut dm = room();
    // Schema is checked across a declared reference target.
    let e = dm.resolve(&p("Device.LocalAgent.Subscription.7.Recipient+.Nope")).unwrap_err();
    assert_eq!(e.code(), ErrCode::INVALID_PATH);
    // A reference hop on a parameter that does not exist.
    assert_eq!(
        dm.resolve(&p("Device.LocalAgent.Subscription.7.Nope+.X")).unwrap_err().code(),
        ErrCode::INVALID_PATH
    );
    // Empty reference: nothing, addressing.
    let sub = obj(&dm, "Device.LocalAgent.Subscription.7.");
    let recipient = param(&dm, "Device.LocalAgent.Subscription.7.Recipient");
    dm.store_mut().set(&recipient, Value::from("")).unwrap();
    let r = dm.resolve(&p("Device.LocalAgent.Subscription.7.Recipient+.EndpointID")).unwrap();
    assert!(r.is_missing());
    // A reference holding a parameter path is not followable: 7008.
    dm.store_mut().set(&recipient, Value::from("Device.LocalAgent.Controller.1.EndpointID")).unwrap();
    let e = dm.resolve(&p("Device.LocalAgent.Subscription.7.Recipient+.EndpointID")).unwrap_err();
    assert!(matches!(e, ResolveError::NotAnObjectReference(_)));
    assert_eq!(e.code(), ErrCode::INVALID_PATH_SYNTAX);
    // ...but in a search it is skipped.
    assert!(paths(&dm, "Device.LocalAgent.Subscription.*.Recipient+.EndpointID").is_empty());
    let _ = sub;
}

#[test]
fn references_to_the_same_object_are_reported_once() {
    let mut dm = room();
    let assigned = param(&dm, "Device.LocalAgent.Controller.1.AssignedRole");
    let twice = dm
        .schema()
        .param(assigned.param)
        .ty
        .parse("Device.LocalAgent.ControllerTrust.Role.1,Device.LocalAgent.ControllerTrust.Role.1");
    dm.store_mut().set(&assigned, twice.unwrap()).unwrap();
    assert_eq!(
        paths(&dm, "Device.LocalAgent.Controller.1.AssignedRole#*+.Name"),
        ["Device.LocalAgent.ControllerTrust.Role.1.Name"]
    );
}

fn nodes_dm() -> usp_endpoint::datamodel::DataModel {
    let mut dm = room();
    let schema = dm.schema().clone();
    let store = dm.store_mut();
    let sensor = iot::add_node(store, "r101-sensor", "Sensor", "Room 101 multisensor").expect("test fixture");
    let caps = iot::node_capabilities(&schema, &sensor).expect("test fixture");
    iot::add_capability(store, &caps, "r101-temp", Capability::level_sensor("Temperature", "degC", "21.5"))
        .expect("test fixture");
    iot::add_capability(store, &caps, "r101-presence", Capability::binary_sensor("MotionDetected", false))
        .expect("test fixture");
    let light = iot::add_node(store, "r101-light", "Light", "").expect("test fixture");
    let caps = iot::node_capabilities(&schema, &light).expect("test fixture");
    iot::add_capability(store, &caps, "r101-light-sw", Capability::binary_control("Switch", false))
        .expect("test fixture");
    dm
}

#[test]
fn nested_tables_with_a_selector_per_level() {
    let dm = nodes_dm();
    assert_eq!(
        paths(
            &dm,
            r#"Device.Node.[Alias=="r101-sensor"].IoTCapability.[Name=="r101-presence"].BinarySensor.Value"#
        ),
        ["Device.Node.1.IoTCapability.2.BinarySensor.Value"]
    );
    assert_eq!(
        paths(&dm, "Device.Node.*.IoTCapability.*.Name"),
        [
            "Device.Node.1.IoTCapability.1.Name",
            "Device.Node.1.IoTCapability.2.Name",
            "Device.Node.2.IoTCapability.1.Name"
        ]
    );
    let r = dm.resolve(&p("Device.Node.*.IoTCapability.")).unwrap();
    let Matches::Tables(ts) = &r.matches else { panic!() };
    assert_eq!(ts.len(), 2);
    assert_eq!(dm.schema().table_path(&ts[1]), "Device.Node.2.IoTCapability.");
    // Same capability name under two tables: keys are per table.
    assert_eq!(
        paths(&dm, r#"Device.Node.*.IoTCapability.[Name=="r101-temp"]."#),
        ["Device.Node.1.IoTCapability.1."]
    );
    assert_eq!(paths(&dm, r#"Device.IoTCapability.[Name=="r101-temp"]."#), ["Device.IoTCapability.1."]);
    // An expression may not reach into a child table.
    let e = dm.resolve(&p(r#"Device.Node.[IoTCapability.Name=="x"]."#)).unwrap_err();
    assert!(matches!(e, ResolveError::ExpressionIntoTable(_)), "{e}");
    assert_eq!(e.code(), ErrCode::INVALID_PATH_SYNTAX);
}

#[test]
fn structural_errors() {
    let dm = room();
    let code = |s: &str| dm.resolve(&p(s)).unwrap_err().code();
    // Instance selector after a single-instance object.
    assert_eq!(code("Device.LocalAgent.1.EndpointID"), ErrCode::INVALID_PATH);
    // A table's name followed by a name.
    assert_eq!(code("Device.IoTCapability.Name"), ErrCode::INVALID_PATH);
    assert_eq!(code("Device.IoTCapability.LevelSensor."), ErrCode::INVALID_PATH);
    let e = dm.resolve(&p("Device.IoTCapability.LevelSensor.")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Device.IoTCapability.LevelSensor: an instance selector must follow the table name: not in the supported data model"
    );
    // Unknown command / event / expression parameter.
    assert_eq!(code("Device.IoTCapability.1.BinaryControl.Nope()"), ErrCode::INVALID_PATH);
    assert_eq!(code("Device.Nope!"), ErrCode::INVALID_PATH);
    assert_eq!(code(r#"Device.IoTCapability.[Nope=="x"]."#), ErrCode::INVALID_PATH);
    // {i} in an instantiated path (as a supported path parsed it).
    let any = usp_endpoint::path::Path::parse_supported("Device.IoTCapability.{i}.Name").unwrap();
    assert_eq!(dm.resolve(&any).unwrap_err(), ResolveError::AnyInstance);
    // Commands and events resolve.
    assert_eq!(paths(&dm, "Device.Boot!"), ["Device.Boot!"]);
    assert_eq!(paths(&dm, "Device.IoTCapability.*.LevelControl.StepUp()").len(), 2);
}

#[test]
fn typed_unique_keys_address_by_value() {
    let mut dm = room();
    let schema = dm.schema().clone();
    let perms = table(&schema, "Device.LocalAgent.ControllerTrust.Role.{i}.Permission.", &[1]);
    add_row(dm.store_mut(), &perms, &[("Order", "5"), ("Targets", "Device.")]);
    add_row(dm.store_mut(), &perms, &[("Order", "12")]);
    let base = "Device.LocalAgent.ControllerTrust.Role.1.Permission";
    // 012 == 12 numerically; addressed through the Order key index.
    let r = dm.resolve(&p(&format!("{base}.[Order==012].Targets"))).unwrap();
    assert_eq!(r.kind, PathKind::KeyAddressing);
    assert_eq!(r.matches.len(), 1);
    assert_eq!(paths(&dm, &format!("{base}.[Order==+5].Targets")), [format!("{base}.1.Targets")]);
    assert_eq!(paths(&dm, &format!("{base}.[Order>5].Order")), [format!("{base}.2.Order")]);
    assert_eq!(paths(&dm, &format!("{base}.[Targets~=\"Device.\"].Order")), [format!("{base}.1.Order")]);
    // The key index follows Sets of key parameters.
    let order = param(&dm, &format!("{base}.2.Order"));
    dm.store_mut().set(&order, Value::UnsignedInt(7)).unwrap();
    assert!(paths(&dm, &format!("{base}.[Order==12].Order")).is_empty());
    assert_eq!(paths(&dm, &format!("{base}.[Order==7].Order")), [format!("{base}.2.Order")]);
}

/// Hides row 4 from `*` and searches, and every parameter of row 5.
struct Restricted;

impl Visibility for Restricted {
    fn instance(&self, row: &ObjRef) -> bool {
        row.inst.last() != Some(4)
    }
    fn param(&self, param: &ParamRef) -> bool {
        param.obj.inst.last() != Some(5)
    }
}

/// Hides one schema node.
struct Hide(SchemaNode);

impl Visibility for Hide {
    fn schema_node(&self, node: SchemaNode) -> bool {
        node != self.0
    }
}

#[test]
fn visibility_hides_rows_parameters_and_schema() {
    let dm = room();
    let r = |s: &str| dm.resolve_with(&p(s), &Restricted).unwrap();
    assert_eq!(r("Device.IoTCapability.*.Name").matches.len(), 4, "row 4 hidden from *");
    // Row 4 hidden, row 5's Class unreadable: nothing matches.
    assert!(r(r#"Device.IoTCapability.[Class=="LevelControl"].Name"#).matches.is_empty());
    // Key addressing likewise treats the row as non-existent.
    assert!(r(r#"Device.IoTCapability.[Name=="r101-setpoint"].Name"#).matches.is_empty());
    assert_eq!(r(r#"Device.IoTCapability.[Name=="r101-temp"].Name"#).matches.len(), 1);
    // Hidden schema elements are "not supported".
    let trust = dm.schema().lookup("Device.LocalAgent.ControllerTrust.").unwrap();
    let e = dm.resolve_with(&p("Device.LocalAgent.ControllerTrust.Role.1.Name"), &Hide(trust)).unwrap_err();
    assert_eq!(e.code(), ErrCode::INVALID_PATH);
    assert!(dm.resolve_with(&p("Device.LocalAgent.Controller.1."), &Hide(trust)).is_ok());
    let name = dm.schema().lookup("Device.IoTCapability.{i}.Name").unwrap();
    let e = dm.resolve_with(&p(r#"Device.IoTCapability.[Name=="r101-temp"]."#), &Hide(name)).unwrap_err();
    assert_eq!(e.code(), ErrCode::INVALID_PATH);
    assert!(dm.resolve_with(&p("Device.IoTCapability.1."), &Hide(name)).is_ok());
    let _ = Everything;
}

#[test]
fn lookup_of_concrete_paths() {
    let dm = nodes_dm();
    let t = |s: &str| dm.lookup(s).map(|t| dm.schema().target_path(&t));
    assert_eq!(t("Device.LocalAgent.Controller.1").as_deref(), Ok("Device.LocalAgent.Controller.1."));
    assert_eq!(t("Device.LocalAgent.Controller.1.").as_deref(), Ok("Device.LocalAgent.Controller.1."));
    assert_eq!(t("Device.LocalAgent.").as_deref(), Ok("Device.LocalAgent."));
    assert_eq!(t("Device.LocalAgent").as_deref(), Ok("Device.LocalAgent."));
    assert_eq!(t("Device.Node.1.IoTCapability.").as_deref(), Ok("Device.Node.1.IoTCapability."));
    assert_eq!(
        t("Device.Node.1.IoTCapability.2.BinarySensor.Value").as_deref(),
        Ok("Device.Node.1.IoTCapability.2.BinarySensor.Value")
    );
    assert_eq!(
        t("Device.IoTCapability.3.BinaryControl.Toggle()").as_deref(),
        Ok("Device.IoTCapability.3.BinaryControl.Toggle()")
    );
    assert_eq!(t("Device.Boot!").as_deref(), Ok("Device.Boot!"));
    assert_eq!(dm.lookup("Device.IoTCapability.9."), Err(LookupError::NotFound));
    assert_eq!(dm.lookup("Device.IoTCapability.1.BinarySensor."), Err(LookupError::NotFound));
    assert_eq!(dm.lookup("Device.IoTCapability.01."), Err(LookupError::Syntax));
    assert_eq!(dm.lookup("Device.IoTCapability.x."), Err(LookupError::Syntax));
    assert_eq!(dm.lookup("Device..X"), Err(LookupError::Syntax));
    assert_eq!(dm.lookup("Device.Nope.1"), Err(LookupError::NotSupported));
    assert_eq!(dm.lookup("Other.X"), Err(LookupError::NotSupported));
    assert_eq!(dm.lookup(""), Err(LookupError::Syntax));
    assert!(matches!(dm.lookup("Device.IoTCapability.1.Name"), Ok(Target::Param(_))));
}
