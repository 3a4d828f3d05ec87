//! Relative parameter paths: search-expression parameters
//! (`Stats.ErrorsSent`, `SSIDReference+.SSID`) and the relative paths of
//! Set/Add `param` fields and `result_params` keys (`Value`,
//! `Stats.BytesSent`).
//!
//! Grammar (`paths.md` §2): `rel-path := name ( ref-follow? "." name )*`.
//! There is no instance selector in it: an expression parameter must not
//! descend into a child table.

use super::ast::{RelPath, Segment};
use super::cursor::Cursor;
use super::dialect::{Construct, Dialect};
use super::error::{Expected, PathError, PathErrorKind};

impl RelPath {
    /// Parses a relative parameter path as used in Set/Add `param` fields,
    /// `result_params`, `updated_params` and `unique_keys` keys: names
    /// joined by `.`, ending in the parameter name (`Value`,
    /// `Stats.BytesSent`).
    ///
    /// Reference hops are refused here ([`PathErrorKind::NotAllowed`]):
    /// they only make sense inside search expressions, where
    /// [`Path::parse`](super::Path::parse) accepts them.
    pub fn parse(src: &str) -> Result<RelPath, PathError> {
        if src.is_empty() {
            return Err(PathError::new(PathErrorKind::Empty, 0));
        }
        let mut c = Cursor::new(src);
        let rel = parse_rel_path(&mut c, Dialect::Relative)?;
        c.expect_end(Expected::DotOrEnd)?;
        Ok(rel)
    }
}

/// Reads a relative parameter path and stops after its last name; the
/// caller checks what follows. Reference hops are accepted when `dialect`
/// allows them.
pub(super) fn parse_rel_path(c: &mut Cursor<'_>, dialect: Dialect) -> Result<RelPath, PathError> {
    let mut objects = Vec::new();
    loop {
        let name = c.name()?;
        match c.peek() {
            Some(b'.') => {
                c.advance(1);
                objects.push(Segment::Name(name.to_owned()));
            }
            Some(b'+' | b'#') => {
                if !dialect.allows(Construct::Reference) {
                    let construct = Construct::Reference;
                    return Err(c.error(PathErrorKind::NotAllowed { construct, dialect }));
                }
                let item = c.ref_item()?;
                c.expect(b'.', Expected::Dot)?;
                objects.push(Segment::Reference { name: name.to_owned(), item });
            }
            _ => return Ok(RelPath { objects, param: name.to_owned() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::RefItem;

    fn names(objects: &[&str], param: &str) -> RelPath {
        RelPath {
            objects: objects.iter().map(|n| Segment::Name((*n).to_owned())).collect(),
            param: param.to_owned(),
        }
    }

    fn err(src: &str) -> (PathErrorKind, usize) {
        let e = RelPath::parse(src).unwrap_err();
        (e.kind().clone(), e.offset())
    }

    #[test]
    fn parameter_names_and_sub_objects() {
        assert_eq!(RelPath::parse("Value").unwrap(), names(&[], "Value"));
        assert_eq!(RelPath::parse("Stats.BytesSent").unwrap(), names(&["Stats"], "BytesSent"));
        assert_eq!(RelPath::parse("A.B_2.X_00256D_C").unwrap(), names(&["A", "B_2"], "X_00256D_C"));
    }

    #[test]
    fn invalid_relative_paths() {
        assert_eq!(err(""), (PathErrorKind::Empty, 0));
        assert_eq!(err("Stats."), (PathErrorKind::ExpectedName { found: None }, 6));
        assert_eq!(err(".Value"), (PathErrorKind::ExpectedName { found: Some('.') }, 0));
        assert_eq!(err("Stats..X"), (PathErrorKind::ExpectedName { found: Some('.') }, 6));
        assert_eq!(err("1Value"), (PathErrorKind::NameStartsWithDigit, 0));
        assert_eq!(
            err("Bytes-Sent"),
            (PathErrorKind::Unexpected { found: Some('-'), expected: Expected::DotOrEnd }, 5)
        );
        assert_eq!(
            err("Toggle()"),
            (PathErrorKind::Unexpected { found: Some('('), expected: Expected::DotOrEnd }, 6)
        );
        assert_eq!(
            err("Interface+.Name"),
            (PathErrorKind::NotAllowed { construct: Construct::Reference, dialect: Dialect::Relative }, 9)
        );
        assert_eq!(err("Stats.1.X"), (PathErrorKind::NameStartsWithDigit, 6));
    }

    #[test]
    fn expression_parameters_may_follow_references() {
        let mut c = Cursor::new("SSIDReference+.SSID==");
        let rel = parse_rel_path(&mut c, Dialect::Instantiated).unwrap();
        assert_eq!(
            rel,
            RelPath {
                objects: vec![Segment::Reference { name: "SSIDReference".into(), item: RefItem::First }],
                param: "SSID".into(),
            }
        );
        assert_eq!(c.pos(), 19, "stops after the parameter name");
    }
}
