//! `DataModel::covers`: matching one concrete place against a
//! subscription's path, along the place's own ancestry.

use usp_endpoint::datamodel::{Everything, Target};

use super::room::{obj, p, param, room};

#[test]
fn parameters_against_parameter_and_object_paths() {
    let dm = room();
    let dimmer = Target::Param(param(&dm, "Device.IoTCapability.4.LevelControl.Value"));
    let covers = |path: &str| dm.covers(&p(path), &dimmer, &Everything).unwrap();
    assert!(covers("Device.IoTCapability.4.LevelControl.Value"));
    assert!(covers("Device.IoTCapability.*.LevelControl.Value"));
    assert!(covers(r#"Device.IoTCapability.[Name=="r101-dimmer"].LevelControl.Value"#));
    assert!(covers(r#"Device.IoTCapability.[LevelControl.Value>39].LevelControl.Value"#));
    // Object paths are filters over everything below them.
    assert!(covers("Device.IoTCapability.4."));
    assert!(covers("Device.IoTCapability.*.LevelControl."));
    assert!(covers("Device.IoTCapability."));
    assert!(covers("Device."));
    assert!(!covers("Device.IoTCapability.5.LevelControl.Value"));
    assert!(!covers("Device.IoTCapability.4.LevelControl.MinValue"));
    assert!(!covers(r#"Device.IoTCapability.[Name=="r101-setpoint"].LevelControl.Value"#));
    assert!(!covers(r#"Device.IoTCapability.[LevelControl.Value>40].LevelControl.Value"#));
    assert!(!covers("Device.IoTCapability.4.LevelControl.Value.Nope"));
    assert!(!covers("Device.LocalAgent."));
}

#[test]
fn rows_commands_and_reference_paths() {
    let dm = room();
    let row = Target::Object(obj(&dm, "Device.IoTCapability.3."));
    // ObjectCreation on the table, ObjectDeletion on its instances.
    assert!(dm.covers(&p("Device.IoTCapability."), &row, &Everything).unwrap());
    assert!(dm.covers(&p("Device.IoTCapability.*."), &row, &Everything).unwrap());
    assert!(!dm.covers(&p("Device.IoTCapability.*.Name"), &row, &Everything).unwrap());
    let toggle = dm.lookup("Device.IoTCapability.3.BinaryControl.Toggle()").unwrap();
    assert!(dm.covers(&p("Device.IoTCapability.*.BinaryControl.Toggle()"), &toggle, &Everything).unwrap());
    assert!(!dm.covers(&p("Device.IoTCapability.*.LevelControl.StepUp()"), &toggle, &Everything).unwrap());
    assert!(dm.covers(&p("Device.IoTCapability.3.BinaryControl."), &toggle, &Everything).unwrap());
    // Paths with reference hops are resolved in full.
    let endpoint = Target::Param(param(&dm, "Device.LocalAgent.Controller.1.EndpointID"));
    assert!(
        dm.covers(&p("Device.LocalAgent.Subscription.7.Recipient+.EndpointID"), &endpoint, &Everything)
            .unwrap()
    );
    assert!(dm.covers(&p("Device.LocalAgent.Subscription.7.Recipient+."), &endpoint, &Everything).unwrap());
    assert!(
        !dm.covers(&p("Device.LocalAgent.Subscription.7.Recipient+.Enable"), &endpoint, &Everything).unwrap()
    );
    // Type errors surface.
    assert!(dm.covers(&p(r#"Device.IoTCapability.[Name<"x"]."#), &row, &Everything).is_err());
}
