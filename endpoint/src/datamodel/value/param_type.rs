//! A parameter's (or argument's) type: a TR-106 primitive plus facets.

use super::{Decimal, Value, ValueError, ValueType};

/// A TR-106 type with its facets: list-ness, size, ranges, enumeration,
/// units, and path-reference kind.
///
/// Built with chained calls that read like the TR-181 definition:
///
/// ```
/// use usp_endpoint::datamodel::ParamType;
/// // unsignedInt, range 0-100, units %
/// let sensitivity = ParamType::unsigned_int().range(0, 100).units("%");
/// // list of string(64), at most 8 items
/// let valid = ParamType::string().max_len(64).list().items(0, Some(8));
/// assert!(valid.parse("Off,Heat,Cool,Auto").is_ok());
/// assert_eq!(sensitivity.parse("101").unwrap_err().code().0, 7012);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ParamType {
    base: ValueType,
    list: Option<ListFacet>,
    min_len: u32,
    max_len: Option<u32>,
    ranges: Vec<Range>,
    enumeration: Vec<Box<str>>,
    units: Option<Box<str>>,
    reference: Option<Reference>,
}

/// An inclusive numeric range facet; either end may be open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// Smallest allowed value.
    pub min: Option<Decimal>,
    /// Largest allowed value.
    pub max: Option<Decimal>,
}

impl Range {
    fn contains(&self, v: Decimal) -> bool {
        self.min.is_none_or(|min| v >= min) && self.max.is_none_or(|max| v <= max)
    }
}

/// Facets of a list-valued parameter (TR-106 `list` element).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ListFacet {
    /// Fewest items.
    pub min_items: u32,
    /// Most items, if bounded.
    pub max_items: Option<u32>,
    /// Maximum length of the whole comma-separated string, if bounded.
    pub max_len: Option<u32>,
}

/// Whether a path reference must point at an existing object (TR-106
/// `pathRef` `refType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    /// Setting it to a non-existent target is refused; deleting the target
    /// empties the value (or removes the list item) — R-ARC.12.
    Strong,
    /// Dangling values are allowed and left alone.
    Weak,
}

/// A path-reference facet (TR-106 `pathRef`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// Strong or weak.
    pub kind: RefKind,
    /// Supported path of the table the reference points into, in `{i}`
    /// form without the final `{i}.` (`Device.LocalAgent.Controller.`),
    /// when the model says; it lets a resolver check the path after a
    /// reference hop against the schema.
    pub target: Option<Box<str>>,
}

impl ParamType {
    /// A type with no facets.
    pub fn new(base: ValueType) -> ParamType {
        ParamType {
            base,
            list: None,
            min_len: 0,
            max_len: None,
            ranges: Vec::new(),
            enumeration: Vec::new(),
            units: None,
            reference: None,
        }
    }

    /// `string`.
    pub fn string() -> ParamType {
        ParamType::new(ValueType::String)
    }

    /// `boolean`.
    pub fn boolean() -> ParamType {
        ParamType::new(ValueType::Boolean)
    }

    /// `int`.
    pub fn int() -> ParamType {
        ParamType::new(ValueType::Int)
    }

    /// `unsignedInt`.
    pub fn unsigned_int() -> ParamType {
        ParamType::new(ValueType::UnsignedInt)
    }

    /// `long`.
    pub fn long() -> ParamType {
        ParamType::new(ValueType::Long)
    }

    /// `unsignedLong`.
    pub fn unsigned_long() -> ParamType {
        ParamType::new(ValueType::UnsignedLong)
    }

    /// `decimal`.
    pub fn decimal() -> ParamType {
        ParamType::new(ValueType::Decimal)
    }

    /// `dateTime`.
    pub fn date_time() -> ParamType {
        ParamType::new(ValueType::DateTime)
    }

    /// `base64`.
    pub fn base64() -> ParamType {
        ParamType::new(ValueType::Base64)
    }

    /// `hexBinary`.
    pub fn hex_binary() -> ParamType {
        ParamType::new(ValueType::HexBinary)
    }

    /// TR-181 `Alias`: `string(64)`.
    pub fn alias() -> ParamType {
        ParamType::string().max_len(64)
    }

    /// Maximum length: characters for strings, bytes for binary types
    /// (TR-106 `size`), of each item for lists.
    pub fn max_len(mut self, max: u32) -> ParamType {
        self.max_len = Some(max);
        self
    }

    /// Length bounds (`size minLength maxLength`).
    pub fn len(mut self, min: u32, max: Option<u32>) -> ParamType {
        self.min_len = min;
        self.max_len = max;
        self
    }

    /// Adds an inclusive range; a value must fall in at least one of the
    /// ranges given.
    pub fn range(mut self, min: impl Into<Decimal>, max: impl Into<Decimal>) -> ParamType {
        self.ranges.push(Range { min: Some(min.into()), max: Some(max.into()) });
        self
    }

    /// Adds a range with only a lower bound.
    pub fn min(mut self, min: impl Into<Decimal>) -> ParamType {
        self.ranges.push(Range { min: Some(min.into()), max: None });
        self
    }

    /// Adds a range with only an upper bound.
    pub fn max(mut self, max: impl Into<Decimal>) -> ParamType {
        self.ranges.push(Range { min: None, max: Some(max.into()) });
        self
    }

    /// Restricts a string to the values given (of each item, for lists).
    pub fn enumeration(mut self, values: &[&str]) -> ParamType {
        self.enumeration = values.iter().map(|v| Box::from(*v)).collect();
        self
    }

    /// The unit of a numeric value (informational; TR-106 `units`).
    pub fn units(mut self, units: &str) -> ParamType {
        self.units = Some(units.into());
        self
    }

    /// Makes this a comma-separated list of the type so far. Facets set
    /// before apply to each item.
    pub fn list(mut self) -> ParamType {
        self.list = Some(ListFacet::default());
        self
    }

    /// Item-count bounds of a list (call after [`ParamType::list`]).
    pub fn items(mut self, min: u32, max: Option<u32>) -> ParamType {
        let list = self.list.get_or_insert_with(ListFacet::default);
        list.min_items = min;
        list.max_items = max;
        self
    }

    /// Maximum length of the whole list string (call after
    /// [`ParamType::list`]).
    pub fn list_max_len(mut self, max: u32) -> ParamType {
        self.list.get_or_insert_with(ListFacet::default).max_len = Some(max);
        self
    }

    /// A strong path reference to rows of the table with supported path
    /// `target` (e.g. `Device.LocalAgent.Controller.`).
    pub fn strong_ref(mut self, target: &str) -> ParamType {
        self.reference = Some(Reference { kind: RefKind::Strong, target: Some(target.into()) });
        self
    }

    /// A weak path reference, to rows of `target` if given.
    pub fn weak_ref(mut self, target: Option<&str>) -> ParamType {
        self.reference = Some(Reference { kind: RefKind::Weak, target: target.map(Into::into) });
        self
    }

    /// The primitive type (of the items, for lists).
    pub fn base(&self) -> ValueType {
        self.base
    }

    /// True for list-valued types.
    pub fn is_list(&self) -> bool {
        self.list.is_some()
    }

    /// The list facet, for list-valued types.
    pub fn list_facet(&self) -> Option<&ListFacet> {
        self.list.as_ref()
    }

    /// Length bounds `(min, max)`.
    pub fn len_bounds(&self) -> (u32, Option<u32>) {
        (self.min_len, self.max_len)
    }

    /// The range facets.
    pub fn ranges(&self) -> &[Range] {
        &self.ranges
    }

    /// The enumerated values (empty when unrestricted).
    pub fn enumeration_values(&self) -> &[Box<str>] {
        &self.enumeration
    }

    /// The units, if declared.
    pub fn unit(&self) -> Option<&str> {
        self.units.as_deref()
    }

    /// The reference facet, for path references.
    pub fn reference(&self) -> Option<&Reference> {
        self.reference.as_ref()
    }

    /// The value a parameter of this type has when the model gives no
    /// default: the zero of the base type, or the empty list.
    pub fn zero(&self) -> Value {
        if self.is_list() { Value::List(Vec::new()) } else { self.base.zero() }
    }

    /// Parses a value in its lexical form and checks every facet.
    ///
    /// List items are separated by `,`; whitespace around an item is
    /// ignored (TR-106 list rules); the empty string is the empty list.
    pub fn parse(&self, s: &str) -> Result<Value, ValueError> {
        let Some(list) = &self.list else {
            let v = self.base.parse(s)?;
            self.check_scalar(&v)?;
            return Ok(v);
        };
        if let Some(max) = list.max_len {
            let actual = s.chars().count();
            if actual > max as usize {
                return Err(ValueError::Length { min: 0, max: Some(max), actual });
            }
        }
        let items = if s.is_empty() {
            Vec::new()
        } else {
            s.split(',').map(|item| self.base.parse(item.trim())).collect::<Result<Vec<_>, _>>()?
        };
        let v = Value::List(items);
        self.check(&v)?;
        Ok(v)
    }

    /// True when `v` has this type's shape (same primitive, list or not),
    /// facets aside.
    pub fn accepts_shape(&self, v: &Value) -> bool {
        match v {
            Value::List(items) => self.is_list() && items.iter().all(|i| i.value_type() == Some(self.base)),
            scalar => !self.is_list() && scalar.value_type() == Some(self.base),
        }
    }

    /// Checks a typed value against the type and every facet.
    pub fn check(&self, v: &Value) -> Result<(), ValueError> {
        match (v, &self.list) {
            (Value::List(items), Some(list)) => {
                let n = items.len();
                if n < list.min_items as usize || list.max_items.is_some_and(|max| n > max as usize) {
                    return Err(ValueError::Items { min: list.min_items, max: list.max_items, actual: n });
                }
                items.iter().try_for_each(|item| self.check_scalar(item))
            }
            (Value::List(_), None) | (_, Some(_)) => Err(ValueError::ListMismatch),
            (scalar, None) => self.check_scalar(scalar),
        }
    }

    fn check_scalar(&self, v: &Value) -> Result<(), ValueError> {
        if v.value_type() != Some(self.base) {
            return Err(ValueError::WrongType { expected: self.base, actual: v.value_type() });
        }
        let len = match v {
            Value::String(s) => Some(s.chars().count()),
            Value::Base64(b) | Value::HexBinary(b) => Some(b.len()),
            _ => None,
        };
        if let Some(actual) = len {
            if actual < self.min_len as usize || self.max_len.is_some_and(|max| actual > max as usize) {
                return Err(ValueError::Length { min: self.min_len, max: self.max_len, actual });
            }
        }
        if let (Value::String(s), false) = (v, self.enumeration.is_empty()) {
            if !self.enumeration.iter().any(|e| **e == **s) {
                return Err(ValueError::NotEnumerated);
            }
        }
        if let (Some(n), false) = (v.as_decimal(), self.ranges.is_empty()) {
            if !self.ranges.iter().any(|r| r.contains(n)) {
                return Err(ValueError::OutOfRange);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use usp_proto::ErrCode;

    #[test]
    fn ranges_and_multiple_ranges() {
        let t = ParamType::int().range(-1, -1).range(1, 10);
        assert_eq!(t.parse("-1").unwrap(), Value::Int(-1));
        assert_eq!(t.parse("10").unwrap(), Value::Int(10));
        assert_eq!(t.parse("0").unwrap_err(), ValueError::OutOfRange);
        assert_eq!(t.parse("11").unwrap_err().code(), ErrCode::INVALID_VALUE);
        let d = ParamType::decimal().range(16, 28);
        assert!(d.parse("27.5").is_ok());
        assert_eq!(d.parse("28.01").unwrap_err(), ValueError::OutOfRange);
        assert_eq!(ParamType::unsigned_int().min(5).parse("4").unwrap_err(), ValueError::OutOfRange);
        assert_eq!(ParamType::long().max(5).parse("6").unwrap_err(), ValueError::OutOfRange);
    }

    #[test]
    fn string_length_counts_characters() {
        let t = ParamType::string().max_len(3);
        assert!(t.parse("äöü").is_ok());
        assert_eq!(t.parse("abcd").unwrap_err(), ValueError::Length { min: 0, max: Some(3), actual: 4 });
        assert_eq!(ParamType::string().len(1, None).parse("").unwrap_err().code(), ErrCode::INVALID_VALUE);
        assert_eq!(
            ParamType::hex_binary().max_len(1).parse("0102").unwrap_err().code(),
            ErrCode::INVALID_VALUE
        );
        assert_eq!(
            ParamType::base64().max_len(5).parse("aGVsbG8=").unwrap(),
            Value::Base64(b"hello".to_vec())
        );
    }

    #[test]
    fn enumerations() {
        let t = ParamType::string().enumeration(&["Switch", "Locked"]);
        assert!(t.parse("Locked").is_ok());
        assert_eq!(t.parse("locked").unwrap_err(), ValueError::NotEnumerated);
        assert_eq!(t.parse("locked").unwrap_err().code(), ErrCode::INVALID_VALUE);
    }

    #[test]
    fn lists() {
        let t = ParamType::unsigned_int().range(0, 100).list().items(1, Some(3));
        assert_eq!(t.parse("1, 2 ,3").unwrap(), Value::List(vec![1u32.into(), 2u32.into(), 3u32.into()]));
        assert_eq!(t.parse("1,2,3").unwrap().to_string(), "1,2,3");
        assert_eq!(t.parse("").unwrap_err(), ValueError::Items { min: 1, max: Some(3), actual: 0 });
        assert_eq!(t.parse("1,2,3,4").unwrap_err().code(), ErrCode::INVALID_VALUE);
        assert_eq!(t.parse("1,x").unwrap_err().code(), ErrCode::INVALID_TYPE);
        assert_eq!(t.parse("1,101").unwrap_err(), ValueError::OutOfRange);
        let s = ParamType::string().enumeration(&["MQTT", "WebSocket"]).list().list_max_len(14);
        assert_eq!(s.parse("MQTT,WebSocket").unwrap().to_string(), "MQTT,WebSocket");
        assert_eq!(s.parse("MQTT,WebSocket ").unwrap_err().code(), ErrCode::INVALID_VALUE);
        assert_eq!(s.parse("MQTT,CoAP").unwrap_err(), ValueError::NotEnumerated);
        assert_eq!(s.parse("").unwrap(), Value::List(vec![]));
    }

    #[test]
    fn typed_check() {
        let t = ParamType::boolean();
        assert!(t.check(&Value::Boolean(true)).is_ok());
        assert_eq!(
            t.check(&Value::Int(1)).unwrap_err(),
            ValueError::WrongType { expected: ValueType::Boolean, actual: Some(ValueType::Int) }
        );
        assert_eq!(t.check(&Value::List(vec![])).unwrap_err(), ValueError::ListMismatch);
        assert!(t.accepts_shape(&Value::Boolean(false)));
        assert!(!t.accepts_shape(&Value::from("x")));
        assert!(ParamType::string().list().accepts_shape(&Value::List(vec!["a".into()])));
        assert_eq!(ParamType::string().list().zero(), Value::List(vec![]));
        assert_eq!(ParamType::date_time().zero().to_string(), "0001-01-01T00:00:00Z");
    }
}
