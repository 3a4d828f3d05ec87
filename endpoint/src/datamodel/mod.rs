//! The data model: schema, typed TR-106 values, the instance store, the
//! [`Provider`] trait that lets real devices back a subtree, path
//! resolution, and ready-made models (`Device.DeviceInfo.`,
//! `Device.LocalAgent.`, `Device.IoTCapability.`, `Device.Node.`).
//!
//! # Parts
//!
//! | module | holds |
//! |---|---|
//! | [`value`] | [`ValueType`], [`Value`], [`ParamType`] (facets), [`Comparison`] (search-expression typing rules); errors with codes 7011/7012/7008 |
//! | [`schema`] | [`Schema`] built with [`SchemaBuilder`]; ids [`ObjId`], [`ParamId`], [`CommandId`], [`EventId`]; GSDM results ([`schema::gsdm`]) |
//! | `refs` | concrete places: [`ObjRef`], [`TableRef`], [`ParamRef`], [`CommandRef`], [`EventRef`], [`Target`]; path text via [`Schema::obj_path`] & co. |
//! | [`store`] | [`Store`]: rows with stable instance numbers, values, unique-key indexes, the [`Change`] log, [`Savepoint`]s |
//! | [`provider`] | [`Provider`], [`Report`], [`ReportQueue`], [`OpId`] |
//! | `data_model` | [`DataModel`]: schema + store + providers; Controller-facing writes, commands, `poll` |
//! | [`resolve`] | [`DataModel::resolve`] → [`Resolution`]; supported paths, concrete lookups, [`DataModel::covers`] |
//! | [`models`] | `Device.DeviceInfo.`, `Device.LocalAgent.`, the IoT objects |
//!
//! # What a message handler does
//!
//! * **Get**: `resolve_with(path, &controller_view)` →
//!   [`Matches::Params`] (read each with [`DataModel::read`]) or
//!   [`Matches::Objects`]/[`Matches::Tables`] (visit with
//!   [`Store::walk`]/[`Store::walk_table`] and [`DataModel::read_object`]);
//!   [`Resolution::is_missing`] → 7026.
//! * **Set**: resolve the `obj_path`; per object, [`DataModel::prepare_set`]
//!   each setting (7010/7013/7011/7012), then [`DataModel::set`] (7025 or a
//!   provider's refusal); a [`DataModel::savepoint`] around the whole path
//!   gives R-SET.2a.
//! * **Add**: resolve to [`Matches::Tables`]; [`DataModel::prepare_add`]
//!   each setting; [`DataModel::add`] (7019, 7025, 7017); report
//!   [`Store::unique_keys`].
//! * **Delete**: resolve to [`Matches::Objects`]; [`DataModel::check_delete`]
//!   all, then [`DataModel::delete`].
//! * **Operate**: resolve to [`Matches::Commands`]; [`DataModel::operate`] →
//!   [`Started::Completed`] (sync output) or [`Started::Running`] (create
//!   the `Request.{i}` row; the completion comes as [`Change::Completed`]).
//! * **GetSupportedDM**: [`DataModel::resolve_supported`], then
//!   [`Schema::gsdm_objects`] or [`Schema::gsdm_element`].
//! * **GetInstances**: resolve to tables or rows; [`Store::rows`],
//!   [`Store::walk_table`], [`Store::unique_keys`].
//! * **Notifications**: after each `handle`/`poll`, [`DataModel::poll`] then
//!   [`DataModel::drain_changes`]; index subscriptions by the ids in each
//!   [`Change`] and confirm instance matches with [`DataModel::covers`].
//!
//! ```
//! use std::sync::Arc;
//! use usp_endpoint::datamodel::models::{self, iot, iot::Capability};
//! use usp_endpoint::datamodel::{Change, DataModel, Matches, Store};
//! use usp_endpoint::path::Path;
//!
//! let schema = Arc::new(models::agent_schema().unwrap());
//! let mut store = Store::new(schema.clone());
//! let caps = iot::top_level(&schema).unwrap();
//! iot::add_capability(&mut store, &caps, "r101-dimmer",
//!     Capability::level_control("Brightness", "%", "0", "100", "40")).unwrap();
//! let mut dm = DataModel::with_store(store);
//! dm.drain_changes(&mut Vec::new());
//!
//! // Set Device.IoTCapability.[Name=="r101-dimmer"].LevelControl. Value=70
//! let path = Path::parse(r#"Device.IoTCapability.[Name=="r101-dimmer"].LevelControl."#).unwrap();
//! let Matches::Objects(objs) = dm.resolve(&path).unwrap().matches else { unreachable!() };
//! let write = dm.prepare_set(&objs[0], "Value", "70").unwrap();
//! dm.set(&objs[0], &[write]).unwrap();
//!
//! // The change is in the log, ready to become a ValueChange.
//! let mut changes = Vec::new();
//! dm.drain_changes(&mut changes);
//! let Change::Value { param, new, .. } = &changes[0] else { unreachable!() };
//! assert_eq!(dm.schema().param_path(param), "Device.IoTCapability.1.LevelControl.Value");
//! assert_eq!(new.to_string(), "70");
//! ```

mod data_model;
pub mod models;
pub mod provider;
mod refs;
pub mod resolve;
pub mod schema;
pub mod store;
pub mod value;

pub use data_model::{DataModel, DmError, ReportError, Started};
pub use provider::{
    Args, CommandError, OpId, Operation, ParamError, Provider, ProviderCtx, ProviderError, ReadCtx, Report,
    ReportQueue, args_to_strings,
};
pub use refs::{CommandRef, EventRef, Instances, ObjRef, ParamRef, TableRef, Target};
pub use resolve::{Everything, LookupError, Matches, PathKind, Resolution, ResolveError, Visibility};
pub use schema::gsdm::GsdmOptions;
pub use schema::{
    ArgDef, CommandDef, CommandId, CommandKind, EventDef, EventId, MAX_TABLE_DEPTH, ObjAccess, ObjId,
    ObjectDef, ObjectKind, ParamAccess, ParamDef, ParamId, Schema, SchemaBuilder, SchemaError, SchemaNode,
    TableDef, UniqueKey, ValueChangePolicy,
};
pub use store::{Change, Savepoint, Store, StoreError, Undone};
pub use value::{
    Comparison, ComparisonError, DateTime, DateTimeError, Decimal, DecimalError, ListFacet, ParamType, Range,
    RefKind, Reference, Value, ValueError, ValueType,
};
