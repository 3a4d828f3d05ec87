//! Supported Data Model paths (GetSupportedDM) and Register/Deregister
//! paths (`paths.md` §3).
//!
//! ```text
//! sdm-path := name "." ( name "." ( ( posnum | "{i}" ) "." )? )* name?
//! ```
//!
//! Both are parsed by the same parser as instantiated paths with a narrower
//! [`Dialect`]; the AST is the same, with `{i}` as
//! [`Selector::AnyInstance`](super::Selector::AnyInstance).
//!
//! Choices (each tested):
//!
//! * Command (`Name()`) and event (`Name!`) leaves are accepted although
//!   the `sdm-path` rule omits them: GetSupportedDM and Register take
//!   command and event paths (TR-369 1.4).
//! * Instance numbers and `{i}` may be mixed in one path
//!   (`Device.WiFi.AccessPoint.1.AssociatedDevice.{i}.`), as the rule
//!   allows; whether GetSupportedDM answers it is the handler's decision.
//! * That a trailing `{i}.` may be omitted in GetSupportedDM is a matter
//!   for resolution: `Device.WiFi.AccessPoint.{i}.AssociatedDevice.` is an
//!   ordinary object path here.

use super::ast::Path;
use super::dialect::Dialect;
use super::error::PathError;
use super::parse::parse_path;

impl Path {
    /// Parses a Supported Data Model path, as given to GetSupportedDM:
    /// `{i}` (parsed as [`Selector::AnyInstance`](super::Selector::AnyInstance))
    /// and instance numbers are allowed; wildcards, search expressions and
    /// reference hops are not ([`PathErrorKind::NotAllowed`](super::PathErrorKind::NotAllowed)).
    pub fn parse_supported(src: &str) -> Result<Path, PathError> {
        parse_path(src, Dialect::Supported)
    }

    /// Parses a Register/Deregister path: object, parameter, command and
    /// event paths made of names only. An instance number, `{i}`, `*`, a
    /// search or a reference hop is refused
    /// ([`PathErrorKind::NotAllowed`](super::PathErrorKind::NotAllowed)), so
    /// nothing below the first table level can be registered.
    pub fn parse_registration(src: &str) -> Result<Path, PathError> {
        parse_path(src, Dialect::Registration)
    }
}

#[cfg(test)]
mod tests {
    use crate::path::{Construct, Dialect, Leaf, Path, PathErrorKind, Segment, Selector};

    fn not_allowed(
        src: &str,
        parse: fn(&str) -> Result<Path, super::PathError>,
    ) -> (Construct, Dialect, usize) {
        let e = parse(src).unwrap_err();
        match e.kind() {
            PathErrorKind::NotAllowed { construct, dialect } => (*construct, *dialect, e.offset()),
            other => panic!("{src}: {other:?}"),
        }
    }

    #[test]
    fn any_instance_and_numbers_in_supported_paths() {
        let p = Path::parse_supported("Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.").unwrap();
        assert_eq!(p.segments[3], Segment::Instance(Selector::AnyInstance));
        assert_eq!(p.segments[5], Segment::Instance(Selector::AnyInstance));
        assert_eq!(p.leaf, Leaf::Object);
        let p = Path::parse_supported("Device.IoTCapability.4.LevelControl.").unwrap();
        assert_eq!(p.segments[2], Segment::Instance(Selector::Number(4)));
        let p = Path::parse_supported("Device.WiFi.AccessPoint.1.AssociatedDevice.{i}.").unwrap();
        assert_eq!(p.segments[5], Segment::Instance(Selector::AnyInstance));
        // §7 #18, #19.
        assert!(Path::parse_supported("Device.IoTCapability.{i}.LevelControl.").is_ok());
        assert!(Path::parse_supported("Device.IoTCapability.LevelControl.").is_ok());
        let p = Path::parse_supported("Device.IoTCapability.{i}.LevelControl.StepUp()").unwrap();
        assert_eq!(p.leaf, Leaf::Command("StepUp".into()));
        let p = Path::parse_supported("Device.LocalAgent.Threshold.{i}.Triggered!").unwrap();
        assert_eq!(p.leaf, Leaf::Event("Triggered".into()));
        let p = Path::parse_supported("Device.WiFi.AccessPoint.{i}.AssociatedDevice.").unwrap();
        assert_eq!(p.leaf, Leaf::Object, "final {{i}}. omitted");
    }

    #[test]
    fn supported_paths_refuse_searching_constructs() {
        let d = Dialect::Supported;
        assert_eq!(
            not_allowed("Device.IP.Interface.*.", Path::parse_supported),
            (Construct::Wildcard, d, 20)
        );
        assert_eq!(
            not_allowed(r#"Device.IP.Interface.[Name=="x"]."#, Path::parse_supported),
            (Construct::Search, d, 20)
        );
        assert_eq!(
            not_allowed("Device.NAT.PortMapping.1.Interface+.Name", Path::parse_supported),
            (Construct::Reference, d, 34)
        );
        assert_eq!(
            not_allowed("Device.A.Roles#2+.Name", Path::parse_supported),
            (Construct::Reference, d, 14)
        );
    }

    #[test]
    fn supported_path_syntax_errors() {
        let kind = |src: &str| Path::parse_supported(src).unwrap_err().kind().clone();
        assert_eq!(kind("Device.WiFi.AccessPoint.{i}.1."), PathErrorKind::MisplacedInstance);
        assert_eq!(kind("Device.WiFi.AccessPoint.{i}.{i}."), PathErrorKind::MisplacedInstance);
        assert_eq!(kind("Device.WiFi.AccessPoint.{j}."), PathErrorKind::MalformedAnyInstance);
        assert_eq!(kind("Device.WiFi.AccessPoint.{i."), PathErrorKind::MalformedAnyInstance);
        assert_eq!(kind("Device.WiFi.AccessPoint.{"), PathErrorKind::MalformedAnyInstance);
        assert_eq!(kind("Device.{i}."), PathErrorKind::MisplacedInstance);
        assert_eq!(kind("Device.WiFi.AccessPoint.0."), PathErrorKind::ZeroNumber);
        assert!(matches!(kind("Device.WiFi.AccessPoint.{i}"), PathErrorKind::Unexpected { found: None, .. }));
    }

    #[test]
    fn registration_paths_are_names_only() {
        for ok in ["Device.IoTCapability.", "Device.X_00256D_Foo.Bar", "Device.Reboot()", "Device.Boot!"] {
            assert!(Path::parse_registration(ok).is_ok(), "{ok}");
        }
        let d = Dialect::Registration;
        assert_eq!(
            not_allowed("Device.IoTCapability.{i}.", Path::parse_registration),
            (Construct::AnyInstance, d, 21)
        );
        assert_eq!(
            not_allowed("Device.IoTCapability.1.", Path::parse_registration),
            (Construct::InstanceNumber, d, 21)
        );
        assert_eq!(
            not_allowed("Device.IoTCapability.*.", Path::parse_registration),
            (Construct::Wildcard, d, 21)
        );
        assert_eq!(
            not_allowed("Device.IoTCapability.[A==1].", Path::parse_registration),
            (Construct::Search, d, 21)
        );
        assert_eq!(not_allowed("Device.A.B+.C", Path::parse_registration), (Construct::Reference, d, 10));
    }
}
