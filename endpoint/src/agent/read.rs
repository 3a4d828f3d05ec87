//! Reading parameters as a Controller sees them: only those it may read
//! (Param `r`), write-only parameters as `""`, `secured` ones as `""`
//! unless it holds a SecuredRole (agent-datamodel.md §7).

use std::collections::BTreeMap;

use super::permissions::{Access, Category, Rights};
use crate::datamodel::{DataModel, ObjRef, ParamAccess, ParamRef, Target, Value};

/// Whether the Controller may read `param`.
pub(crate) fn readable(dm: &DataModel, access: &Access, param: &ParamRef) -> bool {
    access.allows(dm, Category::Param, &Target::Param(*param), Rights::READ)
}

/// The text a Controller gets for `param` holding `value`.
pub(crate) fn shown(dm: &DataModel, access: &Access, param: &ParamRef, value: &Value) -> String {
    let def = dm.schema().param(param.param);
    if def.access == ParamAccess::WriteOnly || (def.secured && !access.sees_secured()) {
        return String::new();
    }
    value.to_string()
}

/// The readable parameters of `obj` with their values, names relative to
/// it; `None` if the object does not exist.
pub(crate) fn object_params(
    dm: &DataModel,
    access: &Access,
    obj: &ObjRef,
) -> Option<BTreeMap<String, String>> {
    let all_readable = access.uniform().map(|g| g.get(Category::Param).contains(Rights::READ));
    let schema = dm.schema();
    let params = dm.read_object(obj)?;
    let mut out = BTreeMap::new();
    for (pid, value) in params {
        let param = obj.param(pid);
        let ok = match all_readable {
            Some(all) => all,
            None => readable(dm, access, &param),
        };
        if ok {
            out.insert(schema.param(pid).name.to_string(), shown(dm, access, &param, &value));
        }
    }
    Some(out)
}

/// The table rows on the way to `obj` (outermost first), each as the row
/// object: what InstantiatedObj `r` is checked on when a partial path walks
/// into child tables.
pub(crate) fn rows_above(dm: &DataModel, obj: &ObjRef) -> Vec<ObjRef> {
    let schema = dm.schema();
    schema
        .object(obj.obj)
        .ancestry()
        .iter()
        .filter(|a| schema.object(**a).is_table())
        .map(|a| ObjRef::new(*a, obj.inst.prefix(schema.object(*a).table_depth())))
        .collect()
}
