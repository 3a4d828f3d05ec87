//! The instance store: numbers, keys, change log, savepoints, strong
//! references, optional objects.

use std::sync::Arc;

use usp_endpoint::datamodel::{
    Change, Instances, ObjAccess, ObjRef, ParamType, Schema, SchemaNode, Store, StoreError, TableRef, Target,
    Undone, Value,
};
use usp_proto::ErrCode;

use super::room::{add_row, room_store, table};

fn test_schema() -> Arc<Schema> {
    let mut b = Schema::builder();
    b.root().table("Role", |r| {
        r.access(ObjAccess::AddDelete).entries(0, Some(3));
        r.unique_key(&["Alias"]).functional_key(&["Name"]);
        r.param("Alias", ParamType::alias()).write_once();
        r.param("Name", ParamType::string()).read_write();
        r.table("Permission", |p| {
            p.functional_key(&["Order"]);
            p.param("Order", ParamType::unsigned_int()).read_write();
        });
        r.object("Extra", |e| {
            e.optional();
            e.param("Note", ParamType::string()).read_write().default("n/a");
        });
    });
    b.root().param("Main", ParamType::string().strong_ref("Device.Role.")).read_write();
    b.root().param("All", ParamType::string().list().strong_ref("Device.Role.")).read_write();
    b.root().param("Loose", ParamType::string().weak_ref(Some("Device.Role."))).read_write();
    Arc::new(b.build().expect("test fixture"))
}

fn pid(s: &Schema, path: &str) -> usp_endpoint::datamodel::ParamId {
    let Some(SchemaNode::Param(p)) = s.lookup(path) else { panic!("{path}") };
    p
}

fn root_param(s: &Schema, name: &str) -> usp_endpoint::datamodel::ParamRef {
    s.root_ref().param(pid(s, &format!("Device.{name}")))
}

#[test]
fn instance_numbers_are_never_reused() {
    let s = test_schema();
    let mut store = Store::new(s.clone());
    let roles = table(&s, "Device.Role.", &[]);
    let a = add_row(&mut store, &roles, &[("Name", "a")]);
    let b = add_row(&mut store, &roles, &[("Name", "b")]);
    assert_eq!((a.inst.last(), b.inst.last()), (Some(1), Some(2)));
    store.delete(&b).unwrap();
    let c = add_row(&mut store, &roles, &[("Name", "c")]);
    assert_eq!(c.inst.last(), Some(3), "2 is not handed out again");
    assert_eq!(store.next_number(&roles), Some(4));
    // A restored row keeps its number; later rows go above it.
    let name = pid(&s, "Device.Role.{i}.Name");
    store.delete(&a).unwrap();
    let r = store.add_numbered(&roles, 10, vec![(name, Value::from("r"))]).unwrap();
    assert_eq!(r.inst.last(), Some(10));
    assert_eq!(store.add_numbered(&roles, 10, vec![]), Err(StoreError::NumberUnavailable));
    assert_eq!(store.add_numbered(&roles, 0, vec![]), Err(StoreError::NumberUnavailable));
    let d = add_row(&mut store, &roles, &[("Name", "d")]);
    assert_eq!(d.inst.last(), Some(11));
    let numbers: Vec<u32> = store.rows(&roles).filter_map(|r| r.inst.last()).collect();
    assert_eq!(numbers, [3, 10, 11]);
}

#[test]
fn unique_keys_are_enforced_and_indexed() {
    let s = test_schema();
    let mut store = Store::new(s.clone());
    let roles = table(&s, "Device.Role.", &[]);
    let a = add_row(&mut store, &roles, &[("Name", "a")]);
    // Alias is assigned cpe-<n> when not given (R-ADD.5).
    let alias = a.param(pid(&s, "Device.Role.{i}.Alias"));
    assert_eq!(store.get(&alias), Some(&Value::from("cpe-1")));
    let name = pid(&s, "Device.Role.{i}.Name");
    let dup = store.add(&roles, vec![(name, Value::from("a"))]).unwrap_err();
    assert_eq!(dup, StoreError::DuplicateKey { key: "Name".into() });
    assert_eq!(dup.code(), ErrCode::OBJECT_EXISTS_WITH_DUPLICATE_KEY);
    // A given alias that another row was given automatically collides too.
    let alias_id = pid(&s, "Device.Role.{i}.Alias");
    let e = store.add(&roles, vec![(name, Value::from("b")), (alias_id, Value::from("cpe-1"))]).unwrap_err();
    assert_eq!(e.code().0, 7025);
    // An auto alias avoids one a Controller chose.
    let b = store.add(&roles, vec![(name, Value::from("b")), (alias_id, Value::from("cpe-3"))]).unwrap();
    assert_eq!(b.inst.last(), Some(2), "refused adds use up no number");
    let c = add_row(&mut store, &roles, &[("Name", "c")]);
    assert_eq!(store.get(&c.param(alias_id)), Some(&Value::from("cpe-3-2")));
    // Sets keep keys unique, and setting a key to its own value is fine.
    let b_name = b.param(name);
    assert_eq!(store.set(&b_name, Value::from("a")).unwrap_err().code().0, 7025);
    assert_eq!(store.set(&b_name, Value::from("b")), Ok(false));
    assert_eq!(store.set(&b_name, Value::from("bb")), Ok(true));
    assert_eq!(store.find_by_key(&roles, 1, &[Value::from("bb")]), Some(b));
    assert_eq!(store.find_by_key(&roles, 1, &[Value::from("b")]), None);
    assert_eq!(store.find_by_key(&roles, 0, &[Value::from("cpe-3")]), Some(b));
    // Max entries.
    assert_eq!(store.add(&roles, vec![(name, Value::from("z"))]), Err(StoreError::TableFull));
    assert_eq!(StoreError::TableFull.code(), ErrCode::CREATION_FAILURE);
}

#[test]
fn change_log_records_everything_in_order() {
    let s = test_schema();
    let mut store = Store::new(s.clone());
    let roles = table(&s, "Device.Role.", &[]);
    let count = root_param(&s, "RoleNumberOfEntries");
    let a = add_row(&mut store, &roles, &[("Name", "a")]);
    let perms = TableRef { table: pid_obj(&s, "Device.Role.{i}.Permission."), parent: a.inst };
    let order = pid(&s, "Device.Role.{i}.Permission.{i}.Order");
    let p1 = store.add(&perms, vec![(order, Value::UnsignedInt(1))]).unwrap();
    let p2 = store.add(&perms, vec![(order, Value::UnsignedInt(2))]).unwrap();
    store.set(&a.param(pid(&s, "Device.Role.{i}.Name")), Value::from("A")).unwrap();
    store.set(&a.param(pid(&s, "Device.Role.{i}.Name")), Value::from("A")).unwrap();
    store.delete(&a).unwrap();
    let mut log = Vec::new();
    store.drain_changes(&mut log);
    let perm_count = a.param(pid(&s, "Device.Role.{i}.PermissionNumberOfEntries"));
    let expected = vec![
        Change::Created {
            row: a,
            keys: vec![
                (pid(&s, "Device.Role.{i}.Alias"), Value::from("cpe-1")),
                (pid(&s, "Device.Role.{i}.Name"), Value::from("a")),
            ],
        },
        Change::Value { param: count, old: Value::UnsignedInt(0), new: Value::UnsignedInt(1) },
        Change::Created { row: p1, keys: vec![(order, Value::UnsignedInt(1))] },
        Change::Value { param: perm_count, old: Value::UnsignedInt(0), new: Value::UnsignedInt(1) },
        Change::Created { row: p2, keys: vec![(order, Value::UnsignedInt(2))] },
        Change::Value { param: perm_count, old: Value::UnsignedInt(1), new: Value::UnsignedInt(2) },
        Change::Value {
            param: a.param(pid(&s, "Device.Role.{i}.Name")),
            old: Value::from("a"),
            new: Value::from("A"),
        },
        // Nested rows first, then the row; the same value written twice is logged once.
        Change::Deleted { row: p1, keys: vec![(order, Value::UnsignedInt(1))] },
        Change::Deleted { row: p2, keys: vec![(order, Value::UnsignedInt(2))] },
        Change::Deleted {
            row: a,
            keys: vec![
                (pid(&s, "Device.Role.{i}.Alias"), Value::from("cpe-1")),
                (pid(&s, "Device.Role.{i}.Name"), Value::from("A")),
            ],
        },
        Change::Value { param: count, old: Value::UnsignedInt(1), new: Value::UnsignedInt(0) },
    ];
    assert_eq!(log, expected);
    assert!(store.changes().is_empty());
    assert!(!store.has_object(&p1));
}

fn pid_obj(s: &Schema, path: &str) -> usp_endpoint::datamodel::ObjId {
    let Some(SchemaNode::Object(o)) = s.lookup(path) else { panic!("{path}") };
    o
}

#[test]
fn savepoints_undo_values_rows_keys_and_log() {
    let s = test_schema();
    let mut store = Store::new(s.clone());
    let roles = table(&s, "Device.Role.", &[]);
    let name = pid(&s, "Device.Role.{i}.Name");
    let a = add_row(&mut store, &roles, &[("Name", "a")]);
    let b = add_row(&mut store, &roles, &[("Name", "b")]);
    store.drain_changes(&mut Vec::new());

    let sp = store.savepoint();
    store.set(&a.param(name), Value::from("x")).unwrap();
    let c = add_row(&mut store, &roles, &[("Name", "c")]);
    store.delete(&b).unwrap();
    let inner = store.savepoint();
    store.set(&a.param(name), Value::from("y")).unwrap();
    store.rollback(inner);
    assert_eq!(store.get(&a.param(name)), Some(&Value::from("x")));
    store.release(sp);
    assert_eq!(store.changes().len(), 5, "x, c created + count, b deleted + count");

    let sp = store.savepoint();
    store.set(&a.param(name), Value::from("z")).unwrap();
    store.delete(&c).unwrap();
    let undone = store.rollback(sp);
    assert_eq!(undone.len(), 3);
    assert!(matches!(undone.last(), Some(Undone::Value { restored, .. }) if *restored == Value::from("x")));
    assert_eq!(store.get(&a.param(name)), Some(&Value::from("x")));
    assert!(store.has_object(&c));
    assert_eq!(store.find_by_key(&roles, 1, &[Value::from("c")]), Some(c));
    assert_eq!(store.find_by_key(&roles, 1, &[Value::from("z")]), None);
    assert_eq!(store.changes().len(), 5, "the rolled-back entries are gone");
    assert_eq!(store.get(&root_param(&s, "RoleNumberOfEntries")), Some(&Value::UnsignedInt(2)));

    // A rolled-back add frees its key but not its number.
    let sp = store.savepoint();
    let d = add_row(&mut store, &roles, &[("Name", "d")]);
    store.rollback(sp);
    assert!(!store.has_object(&d));
    let d2 = add_row(&mut store, &roles, &[("Name", "d")]);
    assert!(d2.inst.last() > d.inst.last());
}

#[test]
fn strong_references_follow_deletion() {
    let s = test_schema();
    let mut store = Store::new(s.clone());
    let roles = table(&s, "Device.Role.", &[]);
    add_row(&mut store, &roles, &[("Name", "a")]);
    let b = add_row(&mut store, &roles, &[("Name", "b")]);
    let (main, all, loose) = (root_param(&s, "Main"), root_param(&s, "All"), root_param(&s, "Loose"));
    store.set(&main, Value::from("Device.Role.2")).unwrap();
    store.set(&all, Value::List(vec![Value::from("Device.Role.1"), Value::from("Device.Role.2")])).unwrap();
    store.set(&loose, Value::from("Device.Role.2")).unwrap();
    store.drain_changes(&mut Vec::new());
    store.delete(&b).unwrap();
    assert_eq!(store.get(&main), Some(&Value::from("")));
    assert_eq!(store.get(&all), Some(&Value::List(vec![Value::from("Device.Role.1")])));
    assert_eq!(store.get(&loose), Some(&Value::from("Device.Role.2")), "weak references are left alone");
    let mut log = Vec::new();
    store.drain_changes(&mut log);
    assert!(log.iter().any(|c| matches!(c, Change::Value { param, .. } if *param == main)));
    assert!(log.iter().any(|c| matches!(c, Change::Value { param, .. } if *param == all)));
}

#[test]
fn optional_objects_and_shapes() {
    let s = test_schema();
    let mut store = Store::new(s.clone());
    let roles = table(&s, "Device.Role.", &[]);
    let a = add_row(&mut store, &roles, &[("Name", "a")]);
    let extra = ObjRef::new(pid_obj(&s, "Device.Role.{i}.Extra."), a.inst);
    let note = extra.param(pid(&s, "Device.Role.{i}.Extra.Note"));
    assert!(!store.has_object(&extra));
    assert_eq!(store.get(&note), None);
    assert_eq!(store.set(&note, Value::from("x")), Err(StoreError::NoSuchObject));
    assert_eq!(store.create(&extra), Ok(true));
    assert_eq!(store.create(&extra), Ok(false));
    assert_eq!(store.get(&note), Some(&Value::from("n/a")));
    assert_eq!(store.remove(&extra), Ok(true));
    assert_eq!(store.remove(&extra), Ok(false));
    assert_eq!(store.create(&a), Err(StoreError::NotOptional));
    // Adding with a value of an optional sub-object creates it.
    let b = store
        .add(
            &roles,
            vec![(pid(&s, "Device.Role.{i}.Name"), Value::from("b")), (note.param, Value::from("hi"))],
        )
        .unwrap();
    let b_note = ObjRef::new(extra.obj, b.inst).param(note.param);
    assert_eq!(store.get(&b_note), Some(&Value::from("hi")));
    // Wrong shapes and wrong owners.
    let name = a.param(pid(&s, "Device.Role.{i}.Name"));
    assert_eq!(store.set(&name, Value::Int(1)).unwrap_err().code(), ErrCode::INVALID_TYPE);
    assert_eq!(store.set(&name, Value::List(vec![])).unwrap_err().code(), ErrCode::INVALID_TYPE);
    assert_eq!(store.set(&a.param(note.param), Value::from("x")), Err(StoreError::BadReference));
    let ghost = ObjRef::new(a.obj, Instances::new(&[99]).unwrap());
    assert_eq!(store.delete(&ghost), Err(StoreError::NoSuchObject));
    assert!(!store.exists(&Target::Object(ghost)));
}

#[test]
fn walks_and_instances() {
    let store = room_store();
    let s = store.schema().clone();
    let caps = table(&s, "Device.IoTCapability.", &[]);
    let mut seen = Vec::new();
    store.walk_table(&caps, 0, &mut |o| seen.push(s.obj_path(o)));
    assert_eq!(seen.len(), 10, "5 rows and their class objects");
    assert_eq!(seen[0], "Device.IoTCapability.1.");
    assert_eq!(seen[1], "Device.IoTCapability.1.LevelSensor.");
    let mut top = Vec::new();
    store.walk_table(&caps, 1, &mut |o| top.push(s.obj_path(o)));
    assert_eq!(top.len(), 5);
    let Some(SchemaNode::Object(lc)) = s.lookup("Device.IoTCapability.{i}.LevelControl.") else { panic!() };
    let lcs: Vec<String> = store.instances_of(lc).iter().map(|o| s.obj_path(o)).collect();
    assert_eq!(lcs, ["Device.IoTCapability.4.LevelControl.", "Device.IoTCapability.5.LevelControl."]);
    assert_eq!(store.row_count(&caps), 5);
}
