//! The data model: schema, typed TR-106 values, the instance store, the
//! `Provider` trait that lets real devices back a subtree, and ready-made
//! models (`Device.DeviceInfo.`, `Device.LocalAgent.`, `Device.IoTCapability.`).
