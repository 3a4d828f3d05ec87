//! The providers behind a simulated room's data model.
//!
//! * [`RoomDevices`] (mounted on `Device.Node.`) is the room's hardware as
//!   a Controller sees it: it checks and runs Sets and commands with
//!   [`iot::Actuators`] (ranges, `ValidValues`, `Toggle()`/`StepUp()`/
//!   `StepDown()` completing at once), then copies what the physics needs
//!   — setpoint, HVAC mode, sensor thresholds — into the room's shared
//!   [`Settings`], which the simulation reads at each step.
//! * [`DeviceRoot`] (mounted on `Device.`) answers `DeviceInfo.UpTime`
//!   live and runs `Device.Reboot()`: a simulated room reboots instantly
//!   (its devices keep their state, its up time restarts) and emits
//!   `Device.Boot!` with `Cause = RemoteReboot`. Its `CommandKey` is
//!   empty: providers are not told the Operate's `command_key`. Every other
//!   command under `Device.` that the Agent does not run itself fails with
//!   7022, as without a provider; writes pass through untouched.
//!
//! The copy is taken after every accepted write, including the provider
//! calls that undo a rolled-back write, so it always equals the store.

use std::sync::{Arc, Mutex, PoisonError};

use usp_endpoint::datamodel::models::iot;
use usp_endpoint::datamodel::{
    Args, CommandError, CommandRef, DateTime, ObjRef, OpId, Operation, ParamError, ParamRef, Provider,
    ProviderCtx, ReadCtx, Report, ReportQueue, Store, Value,
};

use super::physics::{Controls, HvacMode};
use super::room::{LevelIds, RoomIds};

/// A sensor's `LowLevelThreshold` and `HighLevelThreshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Thresholds {
    /// `LowLevel` is true at or below this.
    pub(crate) low: f64,
    /// `HighLevel` is true at or above this.
    pub(crate) high: f64,
}

/// What Controllers set that the simulation needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Settings {
    /// HVAC setpoint and mode.
    pub(crate) controls: Controls,
    /// Temperature sensor thresholds.
    pub(crate) temperature: Thresholds,
    /// Humidity sensor thresholds.
    pub(crate) humidity: Thresholds,
}

/// [`Settings`] shared between a room's Agent (which writes them) and the
/// simulation (which reads them). A plain mutex: it is held for a copy,
/// never across an `.await`.
#[derive(Debug, Clone)]
pub(crate) struct SharedSettings(Arc<Mutex<Settings>>);

impl SharedSettings {
    /// Shares `settings`.
    pub(crate) fn new(settings: Settings) -> SharedSettings {
        SharedSettings(Arc::new(Mutex::new(settings)))
    }

    /// The current settings.
    pub(crate) fn get(&self) -> Settings {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, settings: Settings) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = settings;
    }
}

/// A decimal parameter as `f64` (0 when absent).
pub(crate) fn decimal(store: &Store, p: &ParamRef) -> f64 {
    store.get(p).and_then(Value::as_decimal).map_or(0.0, |d| d.to_scaled() as f64 / 1e18)
}

fn thresholds(store: &Store, ids: &LevelIds) -> Thresholds {
    Thresholds { low: decimal(store, &ids.low_threshold), high: decimal(store, &ids.high_threshold) }
}

/// Reads the settings from a room's store.
pub(crate) fn read_settings(store: &Store, ids: &RoomIds) -> Settings {
    let mode = store.get(&ids.hvac_mode).and_then(Value::as_str).map_or(HvacMode::Off, HvacMode::from_name);
    Settings {
        controls: Controls { setpoint: decimal(store, &ids.setpoint), mode },
        temperature: thresholds(store, &ids.temperature),
        humidity: thresholds(store, &ids.humidity),
    }
}

/// The room's devices (see the module documentation).
#[derive(Debug)]
pub(crate) struct RoomDevices {
    actuators: iot::Actuators,
    ids: Arc<RoomIds>,
    settings: SharedSettings,
}

impl RoomDevices {
    /// The devices of a room whose settings are shared through `settings`.
    pub(crate) fn new(ids: Arc<RoomIds>, settings: SharedSettings) -> RoomDevices {
        RoomDevices { actuators: iot::Actuators, ids, settings }
    }

    fn publish(&self, store: &Store) {
        self.settings.set(read_settings(store, &self.ids));
    }
}

impl Provider for RoomDevices {
    fn set(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        obj: &ObjRef,
        writes: &[(ParamRef, Value)],
    ) -> Result<(), Vec<ParamError>> {
        self.actuators.set(ctx, obj, writes)?;
        self.publish(ctx.store);
        Ok(())
    }

    fn operate(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        command: &CommandRef,
        input: &Args,
        op: OpId,
    ) -> Operation {
        let outcome = self.actuators.operate(ctx, command, input, op);
        self.publish(ctx.store);
        outcome
    }
}

/// `UpTime` and `Device.Reboot()` (see the module documentation).
#[derive(Debug)]
pub(crate) struct DeviceRoot {
    ids: Arc<RoomIds>,
    reports: ReportQueue,
    booted: DateTime,
}

impl DeviceRoot {
    /// The root provider of a room that booted at `booted`; `reports` is
    /// its data model's queue.
    pub(crate) fn new(ids: Arc<RoomIds>, reports: ReportQueue, booted: DateTime) -> DeviceRoot {
        DeviceRoot { ids, reports, booted }
    }
}

impl Provider for DeviceRoot {
    fn get(&self, ctx: &ReadCtx<'_>, param: &ParamRef) -> Option<Value> {
        if *param != self.ids.uptime {
            return None;
        }
        let seconds = ctx.now.to_unix().0.saturating_sub(self.booted.to_unix().0);
        Some(Value::UnsignedInt(u32::try_from(seconds.max(0)).unwrap_or(u32::MAX)))
    }

    fn operate(
        &mut self,
        ctx: &mut ProviderCtx<'_>,
        command: &CommandRef,
        _input: &Args,
        _op: OpId,
    ) -> Operation {
        let name = ctx.store.schema().command(command.command).name.to_string();
        if name != "Reboot" || command.obj != self.ids.boot.obj {
            return Operation::Done(Err(CommandError::failed("command not implemented")));
        }
        let args: Args = [
            ("CommandKey", Value::String(String::new())),
            ("Cause", Value::String("RemoteReboot".into())),
            ("Reason", Value::String("Device.Reboot() (simulated: the room restarts instantly)".into())),
            ("FirmwareUpdated", Value::Boolean(false)),
            ("ParameterMap", Value::String(String::new())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        self.reports.push(Report::Event { event: self.ids.boot, args });
        self.booted = ctx.now;
        Operation::Done(Ok(Args::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::room::{Initial, populate};
    use usp_endpoint::datamodel::{DataModel, Store, models};

    fn room() -> (DataModel, Arc<RoomIds>, SharedSettings) {
        let schema = Arc::new(models::agent_schema().unwrap());
        let ids = Arc::new(RoomIds::new(&schema).unwrap());
        let mut store = Store::new(schema);
        let initial = Initial {
            at: DateTime::UNKNOWN,
            temperature: "21".into(),
            humidity: "40".into(),
            occupied: false,
            window_open: false,
        };
        let (t, h) = (Thresholds { low: 16.0, high: 26.0 }, Thresholds { low: 30.0, high: 70.0 });
        populate(&mut store, 7, "proto::room-7", "MQTT", &initial, &t, &h).unwrap();
        let settings = SharedSettings::new(read_settings(&store, &ids));
        let mut dm = DataModel::with_store(store);
        let nodes = dm.object_id("Device.Node.").unwrap();
        dm.mount(nodes, Box::new(RoomDevices::new(ids.clone(), settings.clone())));
        (dm, ids, settings)
    }

    #[test]
    fn accepted_writes_reach_the_physics_and_refused_ones_do_not() {
        let (mut dm, ids, settings) = room();
        assert_eq!(settings.get().controls, Controls { setpoint: 21.0, mode: HvacMode::Auto });
        assert_eq!(settings.get().temperature, Thresholds { low: 16.0, high: 26.0 });
        let obj = ids.setpoint.obj;
        let write = dm.prepare_set(&obj, "Value", "23.5").unwrap();
        dm.set(&obj, &[write]).unwrap();
        assert_eq!(settings.get().controls.setpoint, 23.5);
        let bad = dm.prepare_set(&obj, "Value", "40").unwrap();
        assert!(dm.set(&obj, &[bad]).is_err(), "outside 16..28");
        assert_eq!(settings.get().controls.setpoint, 23.5, "the refused value never shows");
        let mode = ids.hvac_mode.obj;
        let write = dm.prepare_set(&mode, "Value", "Heat").unwrap();
        dm.set(&mode, &[write]).unwrap();
        assert_eq!(settings.get().controls.mode, HvacMode::Heat);
    }

    #[test]
    fn commands_run_and_are_copied() {
        let (mut dm, ids, settings) = room();
        let step_up = dm.schema().command_named(ids.setpoint.obj.obj, "StepUp").unwrap();
        dm.operate(&ids.setpoint.obj.command(step_up), &Default::default()).unwrap();
        assert_eq!(settings.get().controls.setpoint, 21.5);
    }

    #[test]
    fn reboot_emits_boot() {
        let (mut dm, ids, _) = room();
        let booted = DateTime::from_unix(1_700_000_000, 0).unwrap();
        let root = DeviceRoot::new(ids.clone(), dm.report_queue(), booted);
        dm.mount(dm.schema().root(), Box::new(root));
        assert!(dm.poll(DateTime::from_unix(1_700_000_090, 0).unwrap()).is_empty());
        assert_eq!(dm.read(&ids.uptime).unwrap().into_owned(), Value::UnsignedInt(90));
        let reboot = dm.schema().command_named(dm.schema().root(), "Reboot").unwrap();
        dm.operate(&ids.boot.obj.command(reboot), &Default::default()).unwrap();
        let mut changes = Vec::new();
        dm.drain_changes(&mut changes);
        assert!(dm.poll(DateTime::from_unix(1_700_000_100, 0).unwrap()).is_empty());
        dm.drain_changes(&mut changes);
        let event = changes.iter().find_map(|c| match c {
            usp_endpoint::datamodel::Change::Event { args, .. } => Some(args.clone()),
            _ => None,
        });
        let args = event.expect("Boot! was logged");
        assert_eq!(args.get("Cause"), Some(&Value::String("RemoteReboot".into())));
        assert_eq!(args.get("FirmwareUpdated"), Some(&Value::Boolean(false)));
    }
}
