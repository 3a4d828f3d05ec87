//! Ready-made parts of the TR-181 Device:2 data model, each as a function
//! that adds its objects to a [`SchemaBuilder`] and a function that fills
//! a store with its default content:
//!
//! * [`device_info`]: `Device.DeviceInfo.`, `Device.Reboot()`,
//!   `Device.FactoryReset()`, `Device.Boot!`;
//! * [`local_agent`]: `Device.LocalAgent.` (MTPs, Controllers,
//!   Subscriptions, Requests, Certificates, ControllerTrust);
//! * [`iot`]: `Device.IoTCapability.{i}.` and `Device.Node.{i}.` with
//!   constructors for capabilities and a provider that runs their
//!   commands.
//!
//! [`agent_schema`] puts the three together.

pub mod device_info;
pub mod iot;
pub mod local_agent;

use super::schema::{Schema, SchemaBuilder, SchemaError};
use super::store::StoreError;
use super::value::ValueError;

/// `Device.` with DeviceInfo, LocalAgent and the IoT objects.
pub fn agent_schema() -> Result<Schema, SchemaError> {
    let mut b = SchemaBuilder::new();
    device_info::define(&mut b);
    local_agent::define(&mut b);
    iot::define(&mut b);
    b.build()
}

/// Why filling in model content failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The schema lacks an object or parameter the model needs (it was
    /// built without that model).
    #[error("{0} is not in the schema")]
    Missing(String),
    /// A value does not fit its parameter.
    #[error("{param}: {error}")]
    Value {
        /// The parameter's supported path.
        param: String,
        /// Why.
        error: ValueError,
    },
    /// The store refused.
    #[error("{0}")]
    Store(#[from] StoreError),
}
