//! The Path Name parser: one left-to-right pass over the bytes, no
//! backtracking, no recursion, no regex.
//!
//! ```text
//! idm-path   := obj-path | param-path | cmd-path | event-path
//! obj-path   := name "." ( name ( "." inst | ref-follow "." name )? "." )*
//! param-path := obj-path name       cmd-path := obj-path name "()"
//! event-path := obj-path name "!"   inst     := posnum | expr | "*"
//! ref-follow := ( "#" ( posnum | "*" ) )? "+"
//! ```
//!
//! The parser sees the path as a root name and `.`, then a sequence of
//! positions after a `.`; at each one it reads either an instance selector
//! (a digit, `*`, `[` or `{`) or a name, and the character after a name
//! decides what the name was: `.` an object, `+`/`#` a reference hop, `()` a
//! command, `!` an event, the end a parameter.
//!
//! Choices where the published BNF and the prose disagree (`paths.md` §2;
//! each is tested):
//!
//! * After a reference hop comes `.` and then any relative path of the
//!   referenced object (`Interface+.Name`, `Interface+.IPv4Address.1.`),
//!   including the empty one: `Interface+.` addresses the referenced object
//!   itself. `Interface+` without the dot is an error, by the trailing-dot
//!   rule for object paths.
//! * An instance selector must follow an object name other than the root
//!   (`Device.1.` and `Table.1.2.` are syntax errors, as in the BNF).
//! * Unquoted constants, whitespace and literal escapes inside `[...]`: see
//!   the `expr` module.

use std::str::FromStr;

use super::ast::{Leaf, Path, Segment, Selector};
use super::cursor::{Cursor, is_name_char, is_name_start};
use super::dialect::{Construct, Dialect};
use super::error::{Expected, PathError, PathErrorKind};
use super::expr::parse_expr;

impl Path {
    /// Parses an Instantiated Data Model path: object, instance, parameter,
    /// command (`Name()`) or event (`Name!`) path, with instance numbers,
    /// `*`, search expressions and reference hops (`paths.md` §2).
    ///
    /// ```
    /// use usp_endpoint::path::{Leaf, Path};
    /// let path = Path::parse(r#"Device.IoTCapability.[Class=="LevelSensor"].LevelSensor.Value"#)?;
    /// assert_eq!(path.leaf, Leaf::Param("Value".into()));
    /// assert!(path.is_search());
    /// assert_eq!(path.supported_form().as_deref(), Some("Device.IoTCapability.{i}.LevelSensor.Value"));
    /// # Ok::<_, usp_endpoint::path::PathError>(())
    /// ```
    pub fn parse(src: &str) -> Result<Path, PathError> {
        parse_path(src, Dialect::Instantiated)
    }
}

impl FromStr for Path {
    type Err = PathError;

    /// Same as [`Path::parse`].
    fn from_str(src: &str) -> Result<Path, PathError> {
        Path::parse(src)
    }
}

/// Segment vectors start with room for this many segments (typical paths
/// have 3–8): enough to avoid regrowth on the common case without sizing an
/// allocation from untrusted input.
const INITIAL_SEGMENTS: usize = 8;

/// Parses a whole path in the given dialect.
pub(super) fn parse_path(src: &str, dialect: Dialect) -> Result<Path, PathError> {
    if src.is_empty() {
        return Err(PathError::new(PathErrorKind::Empty, 0));
    }
    let mut c = Cursor::new(src);
    let mut segments = Vec::with_capacity(INITIAL_SEGMENTS);
    segments.push(Segment::Name(c.name()?.to_owned()));
    c.expect(b'.', Expected::Dot)?;
    loop {
        // Here the cursor is just past a `.`.
        let Some(b) = c.peek() else {
            return Ok(Path { segments, leaf: Leaf::Object });
        };
        if is_name_start(b) {
            let name = c.name()?;
            match c.peek() {
                Some(b'.') => {
                    c.advance(1);
                    segments.push(Segment::Name(name.to_owned()));
                }
                None => return Ok(Path { segments, leaf: Leaf::Param(name.to_owned()) }),
                Some(b'(') => {
                    c.advance(1);
                    c.expect(b')', Expected::CloseParen)?;
                    c.expect_end(Expected::End)?;
                    return Ok(Path { segments, leaf: Leaf::Command(name.to_owned()) });
                }
                Some(b'!') => {
                    c.advance(1);
                    c.expect_end(Expected::End)?;
                    return Ok(Path { segments, leaf: Leaf::Event(name.to_owned()) });
                }
                Some(b'+' | b'#') => {
                    check_allowed(&c, Construct::Reference, dialect)?;
                    let item = c.ref_item()?;
                    c.expect(b'.', Expected::Dot)?;
                    segments.push(Segment::Reference { name: name.to_owned(), item });
                }
                Some(_) => return Err(c.unexpected(Expected::AfterName)),
            }
        } else if matches!(b, b'0'..=b'9' | b'*' | b'[' | b'{') {
            let start = c.pos();
            let selector = parse_selector(&mut c, dialect)?;
            let after_table_name = segments.len() > 1 && matches!(segments.last(), Some(Segment::Name(_)));
            if !after_table_name {
                return Err(PathError::new(PathErrorKind::MisplacedInstance, start));
            }
            segments.push(Segment::Instance(selector));
            c.expect(b'.', Expected::Dot)?;
        } else {
            return Err(c.error(PathErrorKind::ExpectedName { found: c.current_char() }));
        }
    }
}

/// Parses an instance selector; the cursor is on a digit, `*`, `[` or `{`.
fn parse_selector(c: &mut Cursor<'_>, dialect: Dialect) -> Result<Selector, PathError> {
    match c.peek() {
        Some(b'*') => {
            check_allowed(c, Construct::Wildcard, dialect)?;
            c.advance(1);
            Ok(Selector::Wildcard)
        }
        Some(b'[') => {
            check_allowed(c, Construct::Search, dialect)?;
            Ok(Selector::Search(parse_expr(c)?))
        }
        Some(b'{') => {
            check_allowed(c, Construct::AnyInstance, dialect)?;
            if !c.rest().starts_with(b"{i}") {
                return Err(c.error(PathErrorKind::MalformedAnyInstance));
            }
            c.advance(3);
            Ok(Selector::AnyInstance)
        }
        _ => {
            check_allowed(c, Construct::InstanceNumber, dialect)?;
            let start = c.pos();
            let number = c.posnum()?;
            // `Device.IP.1abc.`: say what is wrong rather than "expected '.'".
            if c.peek().is_some_and(is_name_char) {
                return Err(PathError::new(PathErrorKind::NameStartsWithDigit, start));
            }
            Ok(Selector::Number(number))
        }
    }
}

fn check_allowed(c: &Cursor<'_>, construct: Construct, dialect: Dialect) -> Result<(), PathError> {
    if dialect.allows(construct) {
        Ok(())
    } else {
        Err(c.error(PathErrorKind::NotAllowed { construct, dialect }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::RefItem;

    fn name(s: &str) -> Segment {
        Segment::Name(s.to_owned())
    }

    #[test]
    fn object_parameter_command_and_event_leaves() {
        let p = Path::parse("Device.DeviceInfo.").unwrap();
        assert_eq!(p.segments, [name("Device"), name("DeviceInfo")]);
        assert_eq!(p.leaf, Leaf::Object);
        let p = Path::parse("Device.DeviceInfo.FriendlyName").unwrap();
        assert_eq!(p.segments, [name("Device"), name("DeviceInfo")]);
        assert_eq!(p.leaf, Leaf::Param("FriendlyName".into()));
        assert_eq!(Path::parse("Device.Reboot()").unwrap().leaf, Leaf::Command("Reboot".into()));
        assert_eq!(Path::parse("Device.Boot!").unwrap().leaf, Leaf::Event("Boot".into()));
    }

    #[test]
    fn instance_selectors() {
        let p = Path::parse(r#"Device.IP.Interface.[Name=="eth0"].IPv4Address.*.IPAddress"#).unwrap();
        assert!(matches!(p.segments[3], Segment::Instance(Selector::Search(_))));
        assert_eq!(p.segments[5], Segment::Instance(Selector::Wildcard));
        let p = Path::parse("Device.LocalAgent.Controller.3.").unwrap();
        assert_eq!(p.segments[3], Segment::Instance(Selector::Number(3)));
        assert_eq!(p.leaf, Leaf::Object);
    }

    #[test]
    fn reference_hops_with_the_prose_relaxation() {
        let p = Path::parse("Device.NAT.PortMapping.1.Interface+.Name").unwrap();
        assert_eq!(p.segments[4], Segment::Reference { name: "Interface".into(), item: RefItem::First });
        assert_eq!(p.leaf, Leaf::Param("Name".into()));
        // A hop followed by an object path that descends into a table.
        let p = Path::parse("Device.NAT.PortMapping.1.Interface+.IPv4Address.1.IPAddress").unwrap();
        assert_eq!(p.segments.len(), 7);
        // The referenced object itself.
        let p = Path::parse("Device.LocalAgent.Subscription.7.Recipient+.").unwrap();
        assert_eq!(
            p.segments.last(),
            Some(&Segment::Reference { name: "Recipient".into(), item: RefItem::First })
        );
        assert_eq!(p.leaf, Leaf::Object);
        // Hop after hop.
        let p = Path::parse("Device.A.B#2+.C#*+.D").unwrap();
        assert_eq!(p.segments[2], Segment::Reference { name: "B".into(), item: RefItem::Index(2) });
        assert_eq!(p.segments[3], Segment::Reference { name: "C".into(), item: RefItem::All });
    }

    #[test]
    fn error_offsets_point_at_the_problem() {
        let e = Path::parse("Device.IoTCapability.01.Name").unwrap_err();
        assert_eq!((e.kind(), e.offset()), (&PathErrorKind::LeadingZero, 21));
        let e = Path::parse("Device.IoTCapability.1.2.").unwrap_err();
        assert_eq!((e.kind(), e.offset()), (&PathErrorKind::MisplacedInstance, 23));
        let e = Path::parse("Device.IoTCapability.{i}.").unwrap_err();
        assert_eq!(
            (e.kind(), e.offset()),
            (
                &PathErrorKind::NotAllowed {
                    construct: Construct::AnyInstance,
                    dialect: Dialect::Instantiated
                },
                21
            )
        );
    }

    #[test]
    fn from_str_is_parse() {
        let p: Path = "Device.Boot!".parse().unwrap();
        assert_eq!(p, Path::parse("Device.Boot!").unwrap());
        assert!("Device".parse::<Path>().is_err());
    }
}
