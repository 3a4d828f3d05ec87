//! The data model: schema, typed TR-106 values, the instance store, the
//! `Provider` trait that lets real devices back a subtree, and ready-made
//! models (`Device.DeviceInfo.`, `Device.LocalAgent.`, `Device.IoTCapability.`).

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
