//! Questions the resolver and the message handlers ask of a parsed path.

use super::ast::{Leaf, Path, RefItem, Segment, Selector};
use super::display::write_path;

impl Path {
    /// Whether the path is a Search Path by its syntax: it has a `*`, a
    /// `[...]` expression or a `#*+` hop, so it may match 0..n objects and 0
    /// matches is normally success (R-MSG.4a).
    ///
    /// A `[...]` that spells out a complete unique key addresses one row
    /// (`paths.md` §4.2), but only the schema knows the keys; the resolver
    /// makes that final call, this answers `true` for every expression.
    pub fn is_search(&self) -> bool {
        self.segments.iter().any(|segment| {
            matches!(
                segment,
                Segment::Instance(Selector::Wildcard | Selector::Search(_))
                    | Segment::Reference { item: RefItem::All, .. }
            )
        })
    }

    /// Whether any table level carries an instance selector (number, `*`,
    /// `[...]` or `{i}`).
    pub fn has_instance_selector(&self) -> bool {
        self.segments.iter().any(|segment| matches!(segment, Segment::Instance(_)))
    }

    /// Whether the path follows a reference (`+`, `#n+`, `#*+`) in its
    /// object part. References inside search expressions do not count.
    pub fn has_reference(&self) -> bool {
        self.segments.iter().any(|segment| matches!(segment, Segment::Reference { .. }))
    }

    /// The Supported-DM form used to look the path up in the schema: every
    /// instance selector replaced by `{i}`, e.g.
    /// `Device.IoTCapability.[Name=="x"].LevelSensor.Value` →
    /// `Device.IoTCapability.{i}.LevelSensor.Value`; commands keep `()`,
    /// events `!`.
    ///
    /// `None` when the path has a reference hop: what follows the hop lives
    /// in the referenced object's schema, known only once the reference is
    /// read, so the resolver must look up the part before the hop and
    /// continue from the target.
    pub fn supported_form(&self) -> Option<String> {
        if self.has_reference() {
            return None;
        }
        let mut out = String::with_capacity(64);
        // Writing to a String cannot fail.
        write_path(self, &mut out, true).ok()?;
        Some(out)
    }

    /// Whether the path ends in `.` (object, table or instance path).
    pub fn is_object(&self) -> bool {
        self.leaf == Leaf::Object
    }

    /// Whether the path ends in a parameter name.
    pub fn is_param(&self) -> bool {
        matches!(self.leaf, Leaf::Param(_))
    }

    /// Whether the path ends in a command (`Name()`).
    pub fn is_command(&self) -> bool {
        matches!(self.leaf, Leaf::Command(_))
    }

    /// Whether the path ends in an event (`Name!`).
    pub fn is_event(&self) -> bool {
        matches!(self.leaf, Leaf::Event(_))
    }

    /// Whether the path is an Object Instance Path by its syntax: an object
    /// path whose last step is an instance selector (`Table.3.`,
    /// `Table.*.`, `Table.[Key=="k"].`). Delete wants one (7018 otherwise);
    /// Add wants the opposite, a path ending in the table's name. A path
    /// ending in a reference hop (`Ref+.`) is not one, although its target
    /// usually is an instance: only resolution can tell.
    pub fn is_instance_path(&self) -> bool {
        self.is_object() && matches!(self.segments.last(), Some(Segment::Instance(_)))
    }

    /// The parameter, command or event name at the end, without `()` or
    /// `!`; `None` for object paths.
    pub fn leaf_name(&self) -> Option<&str> {
        match &self.leaf {
            Leaf::Object => None,
            Leaf::Param(name) | Leaf::Command(name) | Leaf::Event(name) => Some(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::path::Path;

    fn p(s: &str) -> Path {
        Path::parse(s).unwrap()
    }

    #[test]
    fn search_paths() {
        assert!(p("Device.IoTCapability.*.Name").is_search());
        assert!(p(r#"Device.IoTCapability.[Name=="r101-temp"].Name"#).is_search());
        assert!(p("Device.LocalAgent.Controller.1.AssignedRole#*+.Name").is_search());
        assert!(!p("Device.LocalAgent.Controller.1.AssignedRole#2+.Name").is_search());
        assert!(!p("Device.LocalAgent.Controller.1.AssignedRole+.Name").is_search());
        assert!(!p("Device.IoTCapability.1.Name").is_search());
        assert!(!p("Device.IoTCapability.").is_search());
    }

    #[test]
    fn instance_selectors_and_references() {
        assert!(p("Device.IoTCapability.1.Name").has_instance_selector());
        assert!(p("Device.IoTCapability.*.").has_instance_selector());
        assert!(!p("Device.IoTCapability.").has_instance_selector());
        assert!(!p("Device.LocalAgent.EndpointID").has_instance_selector());
        assert!(Path::parse_supported("Device.IoTCapability.{i}.").unwrap().has_instance_selector());
        assert!(p("Device.NAT.PortMapping.1.Interface+.Name").has_reference());
        assert!(!p(r#"Device.WiFi.AccessPoint.[SSIDReference+.SSID=="x"]."#).has_reference());
    }

    #[test]
    fn supported_form_replaces_every_selector() {
        let form = |s: &str| p(s).supported_form();
        assert_eq!(
            form("Device.IoTCapability.1.LevelSensor.Value").as_deref(),
            Some("Device.IoTCapability.{i}.LevelSensor.Value")
        );
        assert_eq!(
            form(r#"Device.IP.Interface.[Name=="eth0"].IPv4Address.*.IPAddress"#).as_deref(),
            Some("Device.IP.Interface.{i}.IPv4Address.{i}.IPAddress")
        );
        assert_eq!(form("Device.IoTCapability.3.").as_deref(), Some("Device.IoTCapability.{i}."));
        assert_eq!(form("Device.IoTCapability.").as_deref(), Some("Device.IoTCapability."));
        assert_eq!(
            form("Device.IoTCapability.3.BinaryControl.Toggle()").as_deref(),
            Some("Device.IoTCapability.{i}.BinaryControl.Toggle()")
        );
        assert_eq!(
            form("Device.LocalAgent.Threshold.1.Triggered!").as_deref(),
            Some("Device.LocalAgent.Threshold.{i}.Triggered!")
        );
        assert_eq!(form("Device.NAT.PortMapping.1.Interface+.Name"), None);
        let supported = Path::parse_supported("Device.WiFi.AccessPoint.1.AssociatedDevice.{i}.").unwrap();
        assert_eq!(
            supported.supported_form().as_deref(),
            Some("Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.")
        );
    }

    #[test]
    fn leaf_kinds() {
        let kinds = |path: &Path| [path.is_object(), path.is_param(), path.is_command(), path.is_event()];
        assert_eq!(kinds(&p("Device.DeviceInfo.")), [true, false, false, false]);
        assert_eq!(kinds(&p("Device.DeviceInfo.FriendlyName")), [false, true, false, false]);
        assert_eq!(kinds(&p("Device.Reboot()")), [false, false, true, false]);
        assert_eq!(kinds(&p("Device.Boot!")), [false, false, false, true]);
        assert_eq!(p("Device.DeviceInfo.").leaf_name(), None);
        assert_eq!(p("Device.DeviceInfo.FriendlyName").leaf_name(), Some("FriendlyName"));
        assert_eq!(p("Device.Reboot()").leaf_name(), Some("Reboot"));
        assert_eq!(p("Device.Boot!").leaf_name(), Some("Boot"));
    }

    #[test]
    fn instance_paths() {
        assert!(p("Device.LocalAgent.Controller.3.").is_instance_path());
        assert!(p("Device.LocalAgent.Controller.*.").is_instance_path());
        assert!(p(r#"Device.LocalAgent.Controller.[EndpointID=="x"]."#).is_instance_path());
        assert!(!p("Device.LocalAgent.Controller.").is_instance_path());
        assert!(!p("Device.LocalAgent.Controller.3.Enable").is_instance_path());
        assert!(!p("Device.LocalAgent.Controller.3.MTP.").is_instance_path());
        assert!(!p("Device.LocalAgent.Subscription.7.Recipient+.").is_instance_path());
    }
}
