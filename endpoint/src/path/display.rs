//! The canonical text of a path: what a conforming Controller sends (no
//! whitespace, R-ARC.9b), with `"` and `%` in quoted literals re-escaped as
//! `%22` and `%25`. Parsing the printed form gives back the same AST, and
//! printing a path parsed from canonical text gives back that text.
//!
//! Printing does not validate: a hand-built AST that breaks the grammar
//! (an empty name, a selector after the root) prints text that will not
//! parse.

use std::fmt::{self, Write};

use super::ast::{Constant, Expr, Leaf, Op, Path, RefItem, RelPath, Segment, Selector, Term};

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_path(self, f, false)
    }
}

/// Writes `path`, with every instance selector as `{i}` when `supported`.
pub(super) fn write_path(path: &Path, out: &mut impl Write, supported: bool) -> fmt::Result {
    for segment in &path.segments {
        match segment {
            Segment::Instance(_) if supported => out.write_str("{i}")?,
            segment => write!(out, "{segment}")?,
        }
        out.write_char('.')?;
    }
    match &path.leaf {
        Leaf::Object => Ok(()),
        Leaf::Param(name) => out.write_str(name),
        Leaf::Command(name) => write!(out, "{name}()"),
        Leaf::Event(name) => write!(out, "{name}!"),
    }
}

/// A segment without its trailing `.`: `IoTCapability`, `3`, `*`,
/// `[Name=="x"]`, `{i}`, `Interface+`, `AssignedRole#2+`.
impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Name(name) => f.write_str(name),
            Segment::Instance(selector) => write!(f, "{selector}"),
            Segment::Reference { name, item } => write!(f, "{name}{item}"),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Number(n) => write!(f, "{n}"),
            Selector::Wildcard => f.write_str("*"),
            Selector::Search(expr) => write!(f, "[{expr}]"),
            Selector::AnyInstance => f.write_str("{i}"),
        }
    }
}

/// The hop marker: `+`, `#n+` or `#*+`.
impl fmt::Display for RefItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefItem::First => f.write_str("+"),
            RefItem::Index(n) => write!(f, "#{n}+"),
            RefItem::All => f.write_str("#*+"),
        }
    }
}

/// The terms joined by `&&`, without the brackets.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str("&&")?;
            }
            write!(f, "{term}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.param, self.op, self.value)
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.objects {
            write!(f, "{segment}.")?;
        }
        f.write_str(&self.param)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Contains => "~=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
        })
    }
}

/// A quoted literal is written between `"` with `"` as `%22` and `%` as
/// `%25`; a bare constant as it is.
impl fmt::Display for Constant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = match self {
            Constant::Bare(token) => return f.write_str(token),
            Constant::Quoted(value) => value,
        };
        f.write_char('"')?;
        let mut written = 0;
        for (i, special) in value.match_indices(['"', '%']) {
            f.write_str(value.get(written..i).unwrap_or_default())?;
            f.write_str(if special == "\"" { "%22" } else { "%25" })?;
            written = i + special.len();
        }
        f.write_str(value.get(written..).unwrap_or_default())?;
        f.write_char('"')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_round_trips() {
        for text in [
            "Device.",
            "Device.DeviceInfo.FriendlyName",
            "Device.LocalAgent.Controller.3.",
            "Device.IoTCapability.3.BinaryControl.Toggle()",
            "Device.LocalAgent.Threshold.1.Triggered!",
            r#"Device.IP.Interface.[Type=="Normal"].Status"#,
            r#"Device.NAT.PortMapping.[RemoteHost==""&&ExternalPort==0&&Protocol=="TCP"]."#,
            "Device.IoTCapability.*.BinarySensor.Value",
            "Device.LocalAgent.Controller.1.AssignedRole#2+.Name",
            "Device.LocalAgent.Controller.1.AssignedRole#*+.Name",
            "Device.NAT.PortMapping.1.Interface+.Name",
            r#"Device.WiFi.AccessPoint.[SSIDReference+.SSID=="MyHome"].AssociatedDevice.[OperatingStandard=="ac"].SignalStrength"#,
            "Device.X.[A!=1&&B~=2&&C<3&&D>4&&E<=5&&F>=6].",
            r#"Device.X.[A=="%22quoted%22 100%25"]."#,
        ] {
            assert_eq!(Path::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn whitespace_is_dropped() {
        let p = Path::parse(
            "Device.IoTCapability.[ Class == \"LevelControl\" && LevelControl.Value >= 21.5 ].Name",
        )
        .unwrap();
        assert_eq!(
            p.to_string(),
            r#"Device.IoTCapability.[Class=="LevelControl"&&LevelControl.Value>=21.5].Name"#
        );
    }

    #[test]
    fn literals_are_re_escaped() {
        assert_eq!(Constant::Quoted(r#"a"b%c"#.into()).to_string(), r#""a%22b%25c""#);
        assert_eq!(Constant::Quoted("%22".into()).to_string(), r#""%2522""#);
        assert_eq!(Constant::Quoted(String::new()).to_string(), r#""""#);
        assert_eq!(Constant::Quoted("café ☕".into()).to_string(), "\"café ☕\"");
        assert_eq!(Constant::Bare("21.5".into()).to_string(), "21.5");
        // Non-canonical escapes in the input print canonically.
        let p = Path::parse(r#"Device.X.[A=="50% %41"]."#).unwrap();
        assert_eq!(p.to_string(), r#"Device.X.[A=="50%25 %2541"]."#);
        assert_eq!(Path::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn supported_paths_print_any_instance() {
        let p = Path::parse_supported("Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.").unwrap();
        assert_eq!(p.to_string(), "Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.");
    }

    #[test]
    fn parts_print_on_their_own() {
        let p = Path::parse(r#"Device.A.[Ref#3+.Stats.X>=-1&&Name=="n"].B#*+.C"#).unwrap();
        let Segment::Instance(Selector::Search(expr)) = &p.segments[2] else { panic!("{p:?}") };
        assert_eq!(expr.to_string(), r#"Ref#3+.Stats.X>=-1&&Name=="n""#);
        assert_eq!(expr.terms[0].to_string(), "Ref#3+.Stats.X>=-1");
        assert_eq!(expr.terms[0].param.to_string(), "Ref#3+.Stats.X");
        assert_eq!(p.segments[2].to_string(), r#"[Ref#3+.Stats.X>=-1&&Name=="n"]"#);
        assert_eq!(p.segments[3].to_string(), "B#*+");
        assert_eq!(Op::Contains.to_string(), "~=");
        assert_eq!(RelPath::parse("Stats.BytesSent").unwrap().to_string(), "Stats.BytesSent");
    }
}
