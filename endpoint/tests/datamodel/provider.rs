//! Provider-backed subtrees: live reads, refusals, commands (sync, async,
//! cancelled), reports from another thread, rollback compensation.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use usp_endpoint::datamodel::{
    Args, Change, CommandError, CommandKind, DataModel, DateTime, Decimal, Everything, ObjAccess, ObjRef,
    OpId, Operation, ParamError, ParamRef, ParamType, Provider, ProviderCtx, ProviderError, ReadCtx, Report,
    ReportError, Schema, SchemaNode, Started, Target, Value,
};
use usp_proto::ErrCode;

use super::room::{p, paths, table};

fn schema() -> Arc<Schema> {
    let mut b = Schema::builder();
    b.root().object("X_Test", |x| {
        x.param("Reading", ParamType::decimal());
        x.param("Mode", ParamType::string()).read_write();
        x.command("Echo", CommandKind::Sync, |c| {
            c.input("Text", ParamType::string()).mandatory();
            c.input("Count", ParamType::unsigned_int().range(1, 3)).default("1");
            c.output("Text", ParamType::string());
        });
        x.command("Slow", CommandKind::Async, |_| {});
        x.event("Alarm", |e| {
            e.arg("Level", ParamType::unsigned_int());
        });
        x.table("Item", |t| {
            t.access(ObjAccess::AddDelete).functional_key(&["Name"]);
            t.param("Name", ParamType::string()).read_write();
            t.param("Level", ParamType::int()).read_write();
            t.command("Poke", CommandKind::Sync, |_| {});
        });
    });
    b.root().object("Plain", |o| {
        o.command("Run", CommandKind::Sync, |_| {});
    });
    Arc::new(b.build().expect("test fixture"))
}

type Log = Arc<Mutex<Vec<String>>>;

/// A device behind `Device.X_Test.`.
struct Device {
    log: Log,
    live: Arc<Mutex<Option<Decimal>>>,
    pending: Vec<OpId>,
}

impl Provider for Device {
    fn get(&self, ctx: &ReadCtx<'_>, param: &ParamRef) -> Option<Value> {
        let name = &*ctx.store.schema().param(param.param).name;
        (name == "Reading").then(|| *self.live.lock().expect("test fixture")).flatten().map(Value::Decimal)
    }

    fn set(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        _obj: &ObjRef,
        writes: &[(ParamRef, Value)],
    ) -> Result<(), Vec<ParamError>> {
        let s = ctx.store.schema().clone();
        let mut errors = Vec::new();
        for (p, v) in writes {
            self.log.lock().expect("test fixture").push(format!("set {}={v}", s.param(p.param).name));
            if *v == Value::from("forbidden") {
                errors.push(ParamError {
                    param: p.param,
                    code: ErrCode::VALUE_CONFLICT,
                    message: "no".into(),
                });
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn add(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        row: &ObjRef,
        values: &[(ParamRef, Value)],
    ) -> Result<(), ProviderError> {
        self.log.lock().expect("test fixture").push(format!("add {}", ctx.store.schema().obj_path(row)));
        if values.iter().any(|(_, v)| *v == Value::from("nope")) {
            return Err(ProviderError::new(ErrCode::CREATION_FAILURE, "device refuses"));
        }
        Ok(())
    }

    fn delete(&mut self, ctx: &mut ProviderCtx<'_>, row: &ObjRef) -> Result<(), ProviderError> {
        self.log.lock().expect("test fixture").push(format!("delete {}", ctx.store.schema().obj_path(row)));
        let name = ctx.store.schema().param_named(row.obj, "Name").expect("test fixture");
        if ctx.store.get(&row.param(name)) == Some(&Value::from("keep")) {
            return Err(ProviderError::new(ErrCode::DELETE_FAILURE, "kept"));
        }
        Ok(())
    }

    fn operate(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        command: &usp_endpoint::datamodel::CommandRef,
        input: &Args,
        op: OpId,
    ) -> Operation {
        match &*ctx.store.schema().command(command.command).name {
            "Echo" => {
                let Some(Value::String(text)) = input.get("Text") else {
                    return Operation::Done(Err(CommandError::failed("?")));
                };
                let Some(Value::UnsignedInt(n)) = input.get("Count") else {
                    return Operation::Done(Err(CommandError::failed("?")));
                };
                let mut out = Args::new();
                out.insert("Text".into(), Value::String(text.repeat(*n as usize)));
                self.log
                    .lock()
                    .expect("test fixture")
                    .push(format!("echo args {:?}", input.keys().collect::<Vec<_>>()));
                Operation::Done(Ok(out))
            }
            "Slow" => {
                self.pending.push(op);
                Operation::Pending
            }
            _ => Operation::Done(Err(CommandError::new(ErrCode(7250), "model-defined failure"))),
        }
    }

    fn cancel(&mut self, _ctx: &mut ProviderCtx<'_>, op: OpId) -> bool {
        let known = self.pending.contains(&op);
        self.pending.retain(|o| *o != op);
        known
    }

    fn poll(&mut self, ctx: &mut ProviderCtx<'_>) {
        self.log.lock().expect("test fixture").push(format!("poll {}", ctx.now));
    }
}

struct Fixture {
    dm: DataModel,
    log: Log,
    live: Arc<Mutex<Option<Decimal>>>,
    x: ObjRef,
}

fn fixture() -> Fixture {
    let mut dm = DataModel::new(schema());
    let log = Log::default();
    let live = Arc::new(Mutex::new(None));
    let at = dm.object_id("Device.X_Test.").expect("test fixture");
    dm.mount(at, Box::new(Device { log: log.clone(), live: live.clone(), pending: Vec::new() }));
    let x = ObjRef::new(at, usp_endpoint::datamodel::Instances::EMPTY);
    Fixture { dm, log, live, x }
}

fn pref(dm: &DataModel, path: &str) -> ParamRef {
    match dm.lookup(path) {
        Ok(Target::Param(p)) => p,
        other => panic!("{other:?}"),
    }
}

fn changes(dm: &mut DataModel) -> Vec<Change> {
    let mut out = Vec::new();
    dm.drain_changes(&mut out);
    out
}

#[test]
fn live_values_come_from_the_provider() {
    let mut f = fixture();
    let reading = pref(&f.dm, "Device.X_Test.Reading");
    assert_eq!(f.dm.read(&reading).unwrap().to_string(), "0", "no live value: the store's");
    *f.live.lock().expect("lock") = Some("22.5".parse().unwrap());
    assert_eq!(f.dm.read(&reading).unwrap().to_string(), "22.5");
    assert_eq!(f.dm.store().get(&reading), Some(&Value::Decimal(Decimal::ZERO)));
    let all = f.dm.read_object(&f.x).unwrap();
    assert_eq!(all[0].1.to_string(), "22.5");
    // Searches read live values too.
    let items = table(f.dm.schema(), "Device.X_Test.Item.", &[]);
    let name = f.dm.prepare_add(&items, "Name", "a").unwrap();
    f.dm.add(&items, vec![name]).unwrap();
    assert_eq!(paths(&f.dm, "Device.X_Test.Item.[Level==0].Name"), ["Device.X_Test.Item.1.Name"]);
}

#[test]
fn provider_refusals_leave_no_trace() {
    let mut f = fixture();
    let mode = f.dm.prepare_set(&f.x, "Mode", "forbidden").unwrap();
    let errs = f.dm.set(&f.x, &[mode]).unwrap_err();
    assert_eq!(errs[0].code, ErrCode::VALUE_CONFLICT);
    assert_eq!(f.dm.store().get(&pref(&f.dm, "Device.X_Test.Mode")), Some(&Value::from("")));
    assert!(changes(&mut f.dm).is_empty());
    let mode = f.dm.prepare_set(&f.x, "Mode", "eco").unwrap();
    f.dm.set(&f.x, &[mode]).unwrap();
    assert!(matches!(&changes(&mut f.dm)[..], [Change::Value { new, .. }] if *new == Value::from("eco")));

    let items = table(f.dm.schema(), "Device.X_Test.Item.", &[]);
    let nope = f.dm.prepare_add(&items, "Name", "nope").unwrap();
    assert_eq!(f.dm.add(&items, vec![nope]).unwrap_err().code(), ErrCode::CREATION_FAILURE);
    assert_eq!(f.dm.store().row_count(&items), 0);
    assert!(changes(&mut f.dm).is_empty());
    let keep = f.dm.prepare_add(&items, "Name", "keep").unwrap();
    let row = f.dm.add(&items, vec![keep]).unwrap();
    assert_eq!(f.dm.schema().obj_path(&row), "Device.X_Test.Item.2.", "the refused add used up number 1");
    assert_eq!(f.dm.delete(&row).unwrap_err().code(), ErrCode::DELETE_FAILURE);
    assert!(f.dm.store().has_object(&row));
    let log = f.log.lock().expect("lock").clone();
    assert!(log.contains(&"add Device.X_Test.Item.1.".to_owned()));
    assert!(log.contains(&"delete Device.X_Test.Item.2.".to_owned()));
}

#[test]
fn synchronous_commands_and_arguments() {
    let mut f = fixture();
    let echo = f.dm.lookup("Device.X_Test.Echo()").unwrap();
    let Target::Command(echo) = echo else { panic!() };
    let input = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    let out = f.dm.operate(&echo, &input(&[("Text", "ab"), ("Count", "2"), ("Extra", "ignored")])).unwrap();
    let Started::Completed(out) = out else { panic!() };
    assert_eq!(out.get("Text"), Some(&Value::from("abab")));
    assert_eq!(usp_endpoint::datamodel::args_to_strings(&out).get("Text").map(String::as_str), Some("abab"));
    // Default filled in, unknown argument dropped.
    let Started::Completed(out) = f.dm.operate(&echo, &input(&[("Text", "x")])).unwrap() else { panic!() };
    assert_eq!(out.get("Text"), Some(&Value::from("x")));
    assert!(f.log.lock().expect("lock").iter().any(|l| l == "echo args [\"Count\", \"Text\"]"));
    assert_eq!(f.dm.operate(&echo, &input(&[])).unwrap_err().code, ErrCode::INVALID_COMMAND_ARGUMENTS);
    assert_eq!(f.dm.operate(&echo, &input(&[("Text", "x"), ("Count", "9")])).unwrap_err().code.0, 7027);
    // No provider: 7022. Absent object: 7016. Provider's own codes pass through.
    let Ok(Target::Command(run)) = f.dm.lookup("Device.Plain.Run()") else { panic!() };
    assert_eq!(f.dm.operate(&run, &BTreeMap::new()).unwrap_err().code, ErrCode::COMMAND_FAILURE);
    let items = table(f.dm.schema(), "Device.X_Test.Item.", &[]);
    let name = f.dm.prepare_add(&items, "Name", "i").unwrap();
    let row = f.dm.add(&items, vec![name]).unwrap();
    let poke = row.command(f.dm.schema().command_named(row.obj, "Poke").unwrap());
    assert_eq!(f.dm.operate(&poke, &BTreeMap::new()).unwrap_err().code, ErrCode(7250));
    f.dm.store_mut().delete(&row).unwrap();
    assert_eq!(f.dm.operate(&poke, &BTreeMap::new()).unwrap_err().code, ErrCode::OBJECT_DOES_NOT_EXIST);
}

#[test]
fn async_completion_reported_from_another_thread() {
    let mut f = fixture();
    let queue = f.dm.report_queue();
    let (wake_tx, wake_rx) = mpsc::channel();
    queue.set_waker(move || {
        let _ = wake_tx.send(());
    });
    let Ok(Target::Command(slow)) = f.dm.lookup("Device.X_Test.Slow()") else { panic!() };
    let Started::Running(op) = f.dm.operate(&slow, &BTreeMap::new()).unwrap() else { panic!() };
    assert_eq!(f.dm.pending_operations().collect::<Vec<_>>(), [(op, slow)]);
    assert!(changes(&mut f.dm).is_empty(), "not complete yet");

    let worker = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            let mut out = Args::new();
            out.insert("Result".into(), Value::from("done"));
            queue.push(Report::Completed { op, result: Ok(out) });
        })
    };
    wake_rx.recv().unwrap();
    worker.join().unwrap();
    let now = DateTime::parse("2024-05-01T12:00:00Z").unwrap();
    assert!(f.dm.poll(now).is_empty());
    assert_eq!(f.dm.now(), now);
    assert!(f.log.lock().expect("lock").contains(&"poll 2024-05-01T12:00:00Z".to_owned()));
    let log = changes(&mut f.dm);
    assert!(matches!(&log[..], [Change::Completed { op: o, command, result: Ok(out) }]
        if *o == op && *command == slow && out.get("Result") == Some(&Value::from("done"))));
    assert_eq!(f.dm.pending_operations().count(), 0);
    // A second completion for the same operation is refused.
    queue.push(Report::Completed { op, result: Ok(Args::new()) });
    assert_eq!(f.dm.poll(now), [ReportError::UnknownOperation(op)]);
}

#[test]
fn cancellation() {
    let mut f = fixture();
    let Ok(Target::Command(slow)) = f.dm.lookup("Device.X_Test.Slow()") else { panic!() };
    let Started::Running(op) = f.dm.operate(&slow, &BTreeMap::new()).unwrap() else { panic!() };
    f.dm.cancel(op).unwrap();
    let log = changes(&mut f.dm);
    assert!(
        matches!(&log[..], [Change::Completed { result: Err(e), .. }] if e.code == ErrCode::COMMAND_CANCELLED)
    );
    assert_eq!(f.dm.cancel(op).unwrap_err().code, ErrCode::REQUEST_DENIED);
    f.dm.report_queue().push(Report::Completed { op, result: Ok(Args::new()) });
    assert_eq!(f.dm.poll(DateTime::UNKNOWN), [ReportError::UnknownOperation(op)]);
}

#[test]
fn reports_become_changes() {
    let mut f = fixture();
    let q = f.dm.report_queue();
    let s = f.dm.schema().clone();
    let items = table(&s, "Device.X_Test.Item.", &[]);
    let name = s.relative_param(items.table, "Name").unwrap();
    q.push(Report::Added { table: items, number: Some(5), values: vec![(name, Value::from("probe"))] });
    q.push(Report::ValueText { path: "Device.X_Test.Item.5.Level".into(), value: "-3".into() });
    q.push(Report::ValueText { path: "Device.X_Test.Item.6.Level".into(), value: "1".into() });
    q.push(Report::ValueText { path: "Device.X_Test.Item.5.Level".into(), value: "x".into() });
    q.push(Report::ValueText { path: "Device.X_Test.Item.5.".into(), value: "x".into() });
    let alarm = s.event_named(f.x.obj, "Alarm").unwrap();
    let mut args = Args::new();
    args.insert("Level".into(), Value::UnsignedInt(2));
    q.push(Report::Event { event: f.x.event(alarm), args: args.clone() });
    let row = items.row(5).unwrap();
    q.push(Report::Value { param: row.param(name), value: Value::Int(1) });
    q.push(Report::Deleted { row });
    assert_eq!(q.len(), 8);
    let errors = f.dm.poll(DateTime::UNKNOWN);
    assert!(q.is_empty());
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(
        matches!(&errors[0], ReportError::Path { error, .. } if error.code() == ErrCode::OBJECT_DOES_NOT_EXIST)
    );
    assert!(matches!(&errors[1], ReportError::Value(e) if e.code() == ErrCode::INVALID_TYPE));
    assert!(matches!(&errors[2], ReportError::Path { .. }));
    assert!(matches!(&errors[3], ReportError::Store(e) if e.code() == ErrCode::INVALID_TYPE));
    let log = changes(&mut f.dm);
    let kinds: Vec<&str> = log
        .iter()
        .map(|c| match c {
            Change::Created { .. } => "created",
            Change::Value { .. } => "value",
            Change::Deleted { .. } => "deleted",
            Change::Event { .. } => "event",
            Change::Completed { .. } => "completed",
        })
        .collect();
    // created, count, Level, event, deleted, count — the badly typed Value
    // report was refused by the store.
    assert_eq!(kinds, ["created", "value", "value", "event", "deleted", "value"]);
    assert!(matches!(&log[3], Change::Event { args: a, .. } if *a == args));
}

#[test]
fn rollback_tells_the_provider() {
    let mut f = fixture();
    let sp = f.dm.savepoint();
    let mode = f.dm.prepare_set(&f.x, "Mode", "eco").unwrap();
    f.dm.set(&f.x, &[mode]).unwrap();
    let items = table(f.dm.schema(), "Device.X_Test.Item.", &[]);
    let name = f.dm.prepare_add(&items, "Name", "tmp").unwrap();
    f.dm.add(&items, vec![name]).unwrap();
    f.dm.rollback(sp);
    let log = f.log.lock().expect("lock").clone();
    assert_eq!(
        log,
        ["set Mode=eco", "add Device.X_Test.Item.1.", "set Mode=", "delete Device.X_Test.Item.1."]
    );
    assert_eq!(f.dm.store().row_count(&items), 0);
    assert!(changes(&mut f.dm).is_empty());
}

/// Nearest mount wins.
struct Refuser;

impl Provider for Refuser {
    fn set(
        &mut self,
        _: &mut ProviderCtx<'_>,
        _: &ObjRef,
        w: &[(ParamRef, Value)],
    ) -> Result<(), Vec<ParamError>> {
        Err(w
            .iter()
            .map(|(p, _)| ParamError { param: p.param, code: ErrCode(7801), message: "vendor".into() })
            .collect())
    }
}

#[test]
fn nested_mount_overrides() {
    let mut f = fixture();
    let item_table = f.dm.object_id("Device.X_Test.Item.").unwrap();
    f.dm.mount(item_table, Box::new(Refuser));
    let items = table(f.dm.schema(), "Device.X_Test.Item.", &[]);
    let name = f.dm.prepare_add(&items, "Name", "n").unwrap();
    let row = f.dm.add(&items, vec![name]).unwrap();
    let level = f.dm.prepare_set(&row, "Level", "3").unwrap();
    assert_eq!(f.dm.set(&row, &[level]).unwrap_err()[0].code.0, 7801);
    let mode = f.dm.prepare_set(&f.x, "Mode", "ok").unwrap();
    f.dm.set(&f.x, &[mode]).unwrap();
    assert!(f.dm.is_provided(item_table));
    assert!(!f.dm.is_provided(f.dm.object_id("Device.Plain.").unwrap()));
    let _ = (SchemaNode::Object(item_table), Everything, p("Device."));
}
