//! Controller-facing writes through the DataModel: the checks and codes
//! of Set, Add and Delete.

use usp_endpoint::datamodel::{DmError, Matches, Value};
use usp_proto::ErrCode;

use super::room::{obj, p, param, room, table, text};

#[test]
fn prepare_set_codes() {
    let dm = room();
    let light = obj(&dm, "Device.IoTCapability.3.BinaryControl.");
    let code = |o, rel: &str, v: &str| dm.prepare_set(o, rel, v).unwrap_err().code();
    assert_eq!(code(&light, "Nope", "1"), ErrCode::UNSUPPORTED_PARAMETER);
    assert_eq!(code(&light, "Type", "Switch"), ErrCode::PARAM_READ_ONLY);
    assert_eq!(code(&light, "Value", "yes"), ErrCode::INVALID_TYPE);
    let row = obj(&dm, "Device.IoTCapability.3.");
    assert_eq!(code(&row, "Alias", "x"), ErrCode::PARAM_READ_ONLY, "write-once after creation");
    assert_eq!(code(&row, "Name", &"n".repeat(65)), ErrCode::INVALID_VALUE);
    // Relative paths through single-instance sub-objects.
    let (p1, v) = dm.prepare_set(&row, "BinaryControl.Value", "1").unwrap();
    assert_eq!(p1, param(&dm, "Device.IoTCapability.3.BinaryControl.Value"));
    assert_eq!(v, Value::Boolean(true));
    // A class sub-object this row lacks.
    assert_eq!(code(&row, "LevelControl.Value", "1"), ErrCode::UNSUPPORTED_PARAMETER);
    let ctrl = obj(&dm, "Device.LocalAgent.Controller.1.");
    assert_eq!(code(&ctrl, "USPNotifRetryIntervalMultiplier", "999"), ErrCode::INVALID_VALUE);
    assert_eq!(code(&ctrl, "PeriodicNotifTime", "yesterday"), ErrCode::INVALID_TYPE);
}

#[test]
fn set_rolls_back_the_object_on_any_failure() {
    let mut dm = room();
    let dimmer = obj(&dm, "Device.IoTCapability.4.LevelControl.");
    // Range check of the IoT provider: MinValue..MaxValue of the row.
    let w = dm.prepare_set(&dimmer, "Value", "101").unwrap();
    let errs = dm.set(&dimmer, std::slice::from_ref(&w)).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!((errs[0].param, errs[0].code), (w.0.param, ErrCode::INVALID_VALUE));
    assert_eq!(text(&dm, "Device.IoTCapability.4.LevelControl.Value"), "40");
    assert!(dm.store().changes().is_empty(), "nothing logged");
    // Two writes, one refused: neither lands.
    let ok = dm.prepare_set(&dimmer, "StepValue", "5").unwrap();
    assert!(dm.set(&dimmer, &[ok.clone(), w]).is_err());
    assert_eq!(text(&dm, "Device.IoTCapability.4.LevelControl.StepValue"), "10");
    dm.set(&dimmer, &[ok]).unwrap();
    assert_eq!(text(&dm, "Device.IoTCapability.4.LevelControl.StepValue"), "5");
    // Unique keys: 7025 names the parameter.
    let row = obj(&dm, "Device.IoTCapability.4.");
    let name = dm.prepare_set(&row, "Name", "r101-temp").unwrap();
    let errs = dm.set(&row, &[name]).unwrap_err();
    assert_eq!(errs[0].code, ErrCode::OBJECT_EXISTS_WITH_DUPLICATE_KEY);
    // EnumControl value must be one of ValidValues.
    let schema = dm.schema().clone();
    let caps = usp_endpoint::datamodel::models::iot::top_level(&schema).unwrap();
    let mode = usp_endpoint::datamodel::models::iot::add_capability(
        dm.store_mut(),
        &caps,
        "r101-hvac-mode",
        usp_endpoint::datamodel::models::iot::Capability::enum_control(
            "ThermostatMode",
            &["Off", "Heat", "Cool", "Auto"],
            "Auto",
        ),
    )
    .unwrap();
    let ec = dm.schema().child(mode.obj, "EnumControl").unwrap();
    let ec = usp_endpoint::datamodel::ObjRef::new(ec, mode.inst);
    let bad = dm.prepare_set(&ec, "Value", "Dry").unwrap();
    assert_eq!(dm.set(&ec, &[bad]).unwrap_err()[0].code, ErrCode::INVALID_VALUE);
    let good = dm.prepare_set(&ec, "Value", "Heat").unwrap();
    dm.set(&ec, &[good]).unwrap();
}

#[test]
fn savepoint_spanning_objects_undoes_all() {
    let mut dm = room();
    let light = obj(&dm, "Device.IoTCapability.3.BinaryControl.");
    let dimmer = obj(&dm, "Device.IoTCapability.4.LevelControl.");
    let sp = dm.savepoint();
    let a = dm.prepare_set(&light, "Value", "true").unwrap();
    dm.set(&light, &[a]).unwrap();
    let b = dm.prepare_set(&dimmer, "Value", "500").unwrap();
    assert!(dm.set(&dimmer, &[b]).is_err());
    dm.rollback(sp);
    assert_eq!(text(&dm, "Device.IoTCapability.3.BinaryControl.Value"), "false");
    assert!(dm.store().changes().is_empty());
}

#[test]
fn add_and_delete_rules() {
    let mut dm = room();
    let schema = dm.schema().clone();
    // IoT tables are read-only for Controllers.
    let caps = table(&schema, "Device.IoTCapability.", &[]);
    assert_eq!(dm.add(&caps, vec![]).unwrap_err(), DmError::NotCreatable);
    assert_eq!(DmError::NotCreatable.code(), ErrCode::OBJECT_NOT_CREATABLE);
    let row = obj(&dm, "Device.IoTCapability.1.");
    assert_eq!(dm.delete(&row).unwrap_err().code(), ErrCode::DELETE_FAILURE);
    assert_eq!(
        dm.check_delete(&obj(&dm, "Device.IoTCapability.1.LevelSensor.")).unwrap_err(),
        DmError::NotATable
    );
    // Subscriptions may be added: keys from the Add, Alias assigned.
    let subs = table(&schema, "Device.LocalAgent.Subscription.", &[]);
    let mut values = Vec::new();
    for (rel, v) in [
        ("ID", "r101-occupancy"),
        ("Enable", "true"),
        ("NotifType", "ValueChange"),
        ("ReferenceList", r#"Device.IoTCapability.[Name=="r101-occ"].BinarySensor.Value"#),
    ] {
        values.push(dm.prepare_add(&subs, rel, v).unwrap());
    }
    assert_eq!(dm.prepare_add(&subs, "Recipient", "x").unwrap_err().code(), ErrCode::PARAM_READ_ONLY);
    assert_eq!(dm.prepare_add(&subs, "NotifType", "Sometimes").unwrap_err().code(), ErrCode::INVALID_VALUE);
    assert_eq!(dm.prepare_add(&subs, "Nope", "x").unwrap_err().code(), ErrCode::UNSUPPORTED_PARAMETER);
    let new = dm.add(&subs, values).unwrap();
    assert_eq!(dm.schema().obj_path(&new), "Device.LocalAgent.Subscription.8.");
    let keys: Vec<(String, String)> = dm
        .store()
        .unique_keys(&new)
        .iter()
        .map(|(p, v)| (dm.schema().param(*p).name.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        keys,
        [
            ("Alias".into(), "cpe-8".into()),
            ("Recipient".into(), "".into()),
            ("ID".into(), "r101-occupancy".into())
        ]
    );
    dm.delete(&new).unwrap();
    assert!(!dm.store().has_object(&new));
    assert_eq!(dm.delete(&new).unwrap_err().code(), ErrCode::OBJECT_DOES_NOT_EXIST);
}

#[test]
fn reference_values_are_checked_and_normalised() {
    let mut dm = room();
    let ctrl = obj(&dm, "Device.LocalAgent.Controller.1.");
    // Key-based addressing in a reference value is stored with instance
    // numbers (R-ARC.11); trailing dots are dropped.
    let (p1, v) = dm
        .prepare_set(
            &ctrl,
            "AssignedRole",
            r#"Device.LocalAgent.ControllerTrust.Role.[Name=="Observer"],Device.LocalAgent.ControllerTrust.Role.1."#,
        )
        .unwrap();
    assert_eq!(
        v.to_string(),
        "Device.LocalAgent.ControllerTrust.Role.2,Device.LocalAgent.ControllerTrust.Role.1"
    );
    dm.set(&ctrl, &[(p1, v)]).unwrap();
    // Strong references to nothing are refused (R-ARC.12).
    let e = dm.prepare_set(&ctrl, "AssignedRole", "Device.LocalAgent.ControllerTrust.Role.9").unwrap_err();
    assert!(matches!(e, DmError::BadReference(_)));
    assert_eq!(e.code(), ErrCode::INVALID_VALUE);
    assert!(dm.prepare_set(&ctrl, "AssignedRole", "").is_ok());
    // Deleting a role removes it from AssignedRole.
    let role2 = obj(&dm, "Device.LocalAgent.ControllerTrust.Role.2.");
    dm.delete(&role2).unwrap();
    assert_eq!(
        text(&dm, "Device.LocalAgent.Controller.1.AssignedRole"),
        "Device.LocalAgent.ControllerTrust.Role.1"
    );
    let r = dm.resolve(&p("Device.LocalAgent.ControllerTrust.Role.")).unwrap();
    assert!(matches!(r.matches, Matches::Tables(ref t) if t.len() == 1));
}
