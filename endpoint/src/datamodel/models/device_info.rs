//! `Device.DeviceInfo.` essentials, `Device.RootDataModelVersion`,
//! `Device.Reboot()`, `Device.FactoryReset()` and `Device.Boot!`.

use super::ModelError;
use crate::datamodel::schema::{CommandKind, SchemaBuilder, SchemaNode};
use crate::datamodel::store::Store;
use crate::datamodel::value::ParamType;

/// Boot causes (`Device.Boot!` `Cause`).
pub const BOOT_CAUSES: &[&str] =
    &["LocalReboot", "RemoteReboot", "FactoryReset", "LocalFactoryReset", "RemoteFactoryReset"];

/// Adds the objects to `Device.`.
pub fn define(b: &mut SchemaBuilder) {
    let root = b.root();
    root.param("RootDataModelVersion", ParamType::string().max_len(32)).default("2.18");
    root.command("Reboot", CommandKind::Sync, |_| {});
    root.command("FactoryReset", CommandKind::Sync, |_| {});
    root.event("Boot", |e| {
        e.arg("CommandKey", ParamType::string().max_len(32));
        e.arg("Cause", ParamType::string().enumeration(BOOT_CAUSES));
        e.arg("Reason", ParamType::string());
        e.arg("FirmwareUpdated", ParamType::boolean());
        e.arg("ParameterMap", ParamType::string());
    });
    root.object("DeviceInfo", |d| {
        let s64 = || ParamType::string().max_len(64);
        d.param("Manufacturer", s64());
        d.param("ManufacturerOUI", ParamType::string().len(6, Some(6))).default("000000");
        d.param("ModelName", s64());
        d.param("Description", ParamType::string().max_len(256));
        d.param("ProductClass", s64());
        d.param("SerialNumber", s64());
        d.param("HardwareVersion", s64());
        d.param("SoftwareVersion", s64());
        d.param("ProvisioningCode", s64()).read_write();
        d.param("FriendlyName", s64()).read_write();
        d.param("UpTime", ParamType::unsigned_int().units("seconds")).ignore_value_change();
        d.param("FirstUseDate", ParamType::date_time());
    });
}

/// What identifies the device.
#[derive(Clone, Debug, Default)]
pub struct DeviceInfo<'a> {
    /// `Manufacturer`.
    pub manufacturer: &'a str,
    /// `ManufacturerOUI`: six hex digits.
    pub oui: &'a str,
    /// `ModelName`.
    pub model_name: &'a str,
    /// `ProductClass`.
    pub product_class: &'a str,
    /// `SerialNumber`.
    pub serial_number: &'a str,
    /// `SoftwareVersion`.
    pub software_version: &'a str,
    /// `HardwareVersion`.
    pub hardware_version: &'a str,
    /// `Description`.
    pub description: &'a str,
}

/// Writes the identification into `Device.DeviceInfo.`.
pub fn populate(store: &mut Store, info: &DeviceInfo<'_>) -> Result<(), ModelError> {
    let fields = [
        ("Manufacturer", info.manufacturer),
        ("ManufacturerOUI", info.oui),
        ("ModelName", info.model_name),
        ("ProductClass", info.product_class),
        ("SerialNumber", info.serial_number),
        ("SoftwareVersion", info.software_version),
        ("HardwareVersion", info.hardware_version),
        ("Description", info.description),
    ];
    for (name, value) in fields {
        set_text(store, &format!("Device.DeviceInfo.{name}"), value)?;
    }
    Ok(())
}

/// Sets a parameter of a single-instance object (no tables on the way) by
/// its path, parsing the value.
pub(crate) fn set_text(store: &mut Store, path: &str, value: &str) -> Result<(), ModelError> {
    let schema = store.schema().clone();
    let Some(SchemaNode::Param(p)) = schema.lookup(path) else {
        return Err(ModelError::Missing(path.to_owned()));
    };
    let def = schema.param(p);
    if schema.object(def.owner).table_depth() != 0 {
        return Err(ModelError::Missing(path.to_owned()));
    }
    let v = def.ty.parse(value).map_err(|error| ModelError::Value { param: path.to_owned(), error })?;
    let obj = crate::datamodel::ObjRef::new(def.owner, crate::datamodel::Instances::EMPTY);
    store.set(&obj.param(p), v)?;
    Ok(())
}
