//! Supported-DM paths (GetSupportedDM) to schema nodes.

use super::{ResolveError, Visibility};
use crate::datamodel::DataModel;
use crate::datamodel::refs::{Instances, ObjRef};
use crate::datamodel::schema::{ObjId, SchemaNode};
use crate::path::{Leaf, Path, Segment, Selector};

impl DataModel {
    /// Resolves a path from `Path::parse_supported` to the schema node it
    /// names, as `vis` sees the schema:
    ///
    /// * `{i}` after a table name stands for any row;
    /// * the final `{i}.` may be omitted (`Device.IoTCapability.` ≡
    ///   `Device.IoTCapability.{i}.`), a `{i}` in the middle may not (7026);
    /// * instance numbers make an *instantiated* path: every row named must
    ///   exist (7016), and `{i}` may not be followed by a number (7026);
    /// * `*`, search expressions and reference hops are refused (7008).
    pub fn resolve_supported<V: Visibility + ?Sized>(
        &self,
        path: &Path,
        vis: &V,
    ) -> Result<SchemaNode, ResolveError> {
        let schema = self.schema();
        let root = schema.root();
        let not_supported = |obj: ObjId, name: &str| {
            ResolveError::NotSupported(format!("{}{name}", schema.object(obj).supported_path()))
        };
        let mut segments = path.segments.iter();
        match segments.next() {
            Some(Segment::Name(n)) if n == schema.object(root).name() => {}
            _ => return Err(ResolveError::NotSupported(path.to_string())),
        }
        let mut at = root;
        let mut after_table = false;
        // Instance numbers so far; `None` once a `{i}` was seen.
        let mut inst = Some(Instances::EMPTY);
        let mut numbered = false;
        for seg in segments {
            match seg {
                Segment::Name(n) => {
                    if after_table {
                        return Err(not_supported(at, n));
                    }
                    at = schema
                        .child(at, n)
                        .filter(|c| vis.schema_node(SchemaNode::Object(*c)))
                        .ok_or_else(|| not_supported(at, n))?;
                    after_table = schema.object(at).is_table();
                }
                Segment::Instance(Selector::AnyInstance) if after_table => {
                    after_table = false;
                    inst = None;
                }
                Segment::Instance(Selector::Number(n)) if after_table => {
                    // `{i}` may not be followed by an instance number.
                    let nums = inst.ok_or_else(|| not_supported(at, &n.to_string()))?;
                    let nums = nums.push(*n).ok_or(ResolveError::NotFound)?;
                    if !self.store().has_object(&ObjRef::new(at, nums)) {
                        return Err(ResolveError::NotFound);
                    }
                    after_table = false;
                    numbered = true;
                    inst = Some(nums);
                }
                Segment::Instance(Selector::AnyInstance | Selector::Number(_)) => {
                    return Err(not_supported(at, "{i}"));
                }
                Segment::Instance(_) | Segment::Reference { .. } => {
                    return Err(ResolveError::SupportedSelector);
                }
            }
        }
        // In an instantiated path, what follows the last number must
        // exist too (optional objects; the parent of a trailing table).
        if let (true, Some(nums)) = (numbered, inst) {
            let holder = if after_table { schema.object(at).parent().unwrap_or(root) } else { at };
            if !self.store().has_object(&ObjRef::new(holder, nums)) {
                return Err(ResolveError::NotFound);
            }
        }
        let node = match &path.leaf {
            Leaf::Object => return Ok(SchemaNode::Object(at)),
            _ if after_table => return Err(not_supported(at, path.leaf_name().unwrap_or_default())),
            Leaf::Param(n) => schema.param_named(at, n).map(SchemaNode::Param),
            Leaf::Command(n) => schema.command_named(at, n).map(SchemaNode::Command),
            Leaf::Event(n) => schema.event_named(at, n).map(SchemaNode::Event),
        };
        node.filter(|n| vis.schema_node(*n))
            .ok_or_else(|| not_supported(at, path.leaf_name().unwrap_or_default()))
    }
}
