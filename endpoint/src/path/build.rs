//! Building paths in code, for responses and tests:
//!
//! ```
//! use usp_endpoint::path::{Leaf, Path};
//! let path = Path::object(["Device", "IoTCapability"]).instance(1).child("LevelSensor");
//! assert_eq!(path.to_string(), "Device.IoTCapability.1.LevelSensor.");
//! let value = path.with_leaf(Leaf::Param("Value".into()));
//! assert_eq!(value.to_string(), "Device.IoTCapability.1.LevelSensor.Value");
//! ```
//!
//! The builders do not validate names; a path built from names that break
//! the grammar prints text that [`Path::parse`] refuses.

use super::ast::{Leaf, Path, Segment, Selector};

impl Path {
    /// An object path from its names, e.g. `["Device", "DeviceInfo"]` for
    /// `Device.DeviceInfo.`.
    pub fn object<I, S>(names: I) -> Path
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Path {
            segments: names.into_iter().map(|name| Segment::Name(name.into())).collect(),
            leaf: Leaf::Object,
        }
    }

    /// Appends an object name to the object part (`….Stats.`).
    pub fn child(mut self, name: impl Into<String>) -> Path {
        self.segments.push(Segment::Name(name.into()));
        self
    }

    /// Appends an instance number to the object part (`….3.`).
    pub fn instance(mut self, number: u32) -> Path {
        self.segments.push(Segment::Instance(Selector::Number(number)));
        self
    }

    /// The same object part ending in `leaf` instead.
    pub fn with_leaf(mut self, leaf: Leaf) -> Path {
        self.leaf = leaf;
        self
    }
}

#[cfg(test)]
mod tests {
    use crate::path::{Leaf, Path};

    #[test]
    fn built_paths_equal_parsed_ones() {
        let built = Path::object(["Device", "IoTCapability"])
            .instance(3)
            .child("BinaryControl")
            .with_leaf(Leaf::Command("Toggle".into()));
        assert_eq!(built, Path::parse("Device.IoTCapability.3.BinaryControl.Toggle()").unwrap());
        let table =
            Path::object(vec![String::from("Device"), String::from("LocalAgent")]).child("Controller");
        assert_eq!(table, Path::parse("Device.LocalAgent.Controller.").unwrap());
        let param = table.instance(1).with_leaf(Leaf::Param("EndpointID".into()));
        assert_eq!(param.to_string(), "Device.LocalAgent.Controller.1.EndpointID");
        assert_eq!(param.with_leaf(Leaf::Object).to_string(), "Device.LocalAgent.Controller.1.");
    }
}
