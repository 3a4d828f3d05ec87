//! Concrete paths — names and instance numbers only, as reference
//! parameters hold them and providers report them — looked up without the
//! general parser.

use usp_proto::ErrCode;

use crate::datamodel::DataModel;
use crate::datamodel::refs::{ObjRef, TableRef, Target};

/// Why a concrete path does not name something that exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// Not a dotted path of names and instance numbers.
    #[error("not a concrete path")]
    Syntax,
    /// Names something the schema does not have.
    #[error("not in the supported data model")]
    NotSupported,
    /// The object instance does not exist.
    #[error("object does not exist")]
    NotFound,
    /// A parameter was expected.
    #[error("not a parameter path")]
    NotAParameter,
}

impl LookupError {
    /// 7008, 7026, 7016, or 7026 for a non-parameter.
    pub fn code(&self) -> ErrCode {
        match self {
            LookupError::Syntax => ErrCode::INVALID_PATH_SYNTAX,
            LookupError::NotSupported | LookupError::NotAParameter => ErrCode::INVALID_PATH,
            LookupError::NotFound => ErrCode::OBJECT_DOES_NOT_EXIST,
        }
    }
}

fn instance_number(s: &str) -> Option<u32> {
    let first = s.bytes().next()?;
    if !(b'1'..=b'9').contains(&first) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl DataModel {
    /// Looks up a concrete path: `Device.LocalAgent.Controller.1` or
    /// `…Controller.1.` (an object; reference values omit the trailing
    /// dot), `Device.IoTCapability.` (a table), `…LevelSensor.Value`,
    /// `…Toggle()`, `…Boot!`. The object must exist.
    ///
    /// Without a trailing dot the last name is taken as a parameter if the
    /// object has one by that name, else as a child object.
    pub fn lookup(&self, path: &str) -> Result<Target, LookupError> {
        let schema = self.schema();
        let (body, suffix) = if let Some(b) = path.strip_suffix("()") {
            (b, Some(true))
        } else if let Some(b) = path.strip_suffix('!') {
            (b, Some(false))
        } else {
            (path, None)
        };
        let (body, trailing_dot) = match body.strip_suffix('.') {
            Some(b) if suffix.is_none() => (b, true),
            _ => (body, false),
        };
        let mut parts = body.split('.');
        if parts.next() != Some(schema.object(schema.root()).name()) {
            return Err(if body.is_empty() { LookupError::Syntax } else { LookupError::NotSupported });
        }
        let mut obj = schema.root_ref();
        let mut table: Option<TableRef> = None;
        let mut parts = parts.peekable();
        while let Some(part) = parts.next() {
            let last = parts.peek().is_none();
            if let Some(t) = table.take() {
                let n = instance_number(part).ok_or(LookupError::Syntax)?;
                obj = t.row(n).ok_or(LookupError::Syntax)?;
                continue;
            }
            if part.is_empty() {
                return Err(LookupError::Syntax);
            }
            if last && !trailing_dot {
                match suffix {
                    Some(true) => {
                        let c = schema.command_named(obj.obj, part).ok_or(LookupError::NotSupported)?;
                        return self.existing(obj, Target::Command(obj.command(c)));
                    }
                    Some(false) => {
                        let e = schema.event_named(obj.obj, part).ok_or(LookupError::NotSupported)?;
                        return self.existing(obj, Target::Event(obj.event(e)));
                    }
                    None => {
                        if let Some(p) = schema.param_named(obj.obj, part) {
                            return self.existing(obj, Target::Param(obj.param(p)));
                        }
                    }
                }
            }
            let child = schema.child(obj.obj, part).ok_or(LookupError::NotSupported)?;
            match schema.child_target(&obj, child) {
                Target::Table(t) => table = Some(t),
                Target::Object(o) => obj = o,
                _ => return Err(LookupError::NotSupported),
            }
        }
        if suffix.is_some() {
            return Err(LookupError::Syntax);
        }
        match table {
            Some(t) => self.existing(obj, Target::Table(t)),
            None => self.existing(obj, Target::Object(obj)),
        }
    }

    fn existing(&self, obj: ObjRef, target: Target) -> Result<Target, LookupError> {
        if self.store().has_object(&obj) { Ok(target) } else { Err(LookupError::NotFound) }
    }
}
