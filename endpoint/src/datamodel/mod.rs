//! The data model: schema, typed TR-106 values, the instance store, the
//! `Provider` trait that lets real devices back a subtree, and ready-made
//! models (`Device.DeviceInfo.`, `Device.LocalAgent.`, `Device.IoTCapability.`).

pub mod value;

pub use value::{
    Comparison, ComparisonError, DateTime, DateTimeError, Decimal, DecimalError, ListFacet, ParamType, Range,
    RefKind, Reference, Value, ValueError, ValueType,
};
