//! The data model: schema, typed TR-106 values, the instance store, the
//! `Provider` trait that lets real devices back a subtree, and ready-made
//! models (`Device.DeviceInfo.`, `Device.LocalAgent.`, `Device.IoTCapability.`).

mod refs;
pub mod schema;
pub mod value;

pub use refs::{CommandRef, EventRef, Instances, ObjRef, ParamRef, TableRef, Target};
pub use schema::gsdm::GsdmOptions;
pub use schema::{
    ArgDef, CommandDef, CommandId, CommandKind, EventDef, EventId, MAX_TABLE_DEPTH, ObjAccess, ObjId, ObjectDef,
    ObjectKind, ParamAccess, ParamDef, ParamId, Schema, SchemaBuilder, SchemaError, SchemaNode, TableDef, UniqueKey,
    ValueChangePolicy,
};
pub use value::{
    Comparison, ComparisonError, DateTime, DateTimeError, Decimal, DecimalError, ListFacet, ParamType, Range,
    RefKind, Reference, Value, ValueError, ValueType,
};
