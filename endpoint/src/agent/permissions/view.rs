//! The data model as a Controller sees it: [`Visibility`] views built on
//! an [`Access`], so that resolution treats what the Controller may not
//! read as absent.

use super::{Access, Category, Rights};
use crate::datamodel::{DataModel, ObjRef, ParamRef, SchemaNode, Target, Visibility};

/// The Instantiated DM for Get, GetInstances, Set, Add, Delete, Operate and
/// subscriptions: a parameter exists for the Controller if it may read it
/// (Param `r`, R-GET.1); rows reached through `*` or a search expression
/// need InstantiatedObj `r`; a search-expression parameter needs Param `r`
/// (R-GIN.0). Objects, commands and events are always resolvable: their
/// own checks (`w`, `x`) come after resolution, with 7006.
#[derive(Clone, Copy)]
pub(crate) struct ReadView<'a> {
    pub(crate) access: &'a Access,
    pub(crate) dm: &'a DataModel,
}

impl Visibility for ReadView<'_> {
    fn schema_node(&self, node: SchemaNode) -> bool {
        match node {
            SchemaNode::Param(_) => {
                self.access.possible(Category::Param, node, self.dm.schema()).contains(Rights::READ)
            }
            SchemaNode::Object(_) | SchemaNode::Command(_) | SchemaNode::Event(_) => true,
        }
    }

    fn instance(&self, row: &ObjRef) -> bool {
        self.access.allows(self.dm, Category::InstantiatedObj, &Target::Object(*row), Rights::READ)
    }

    fn param(&self, param: &ParamRef) -> bool {
        self.access.allows(self.dm, Category::Param, &Target::Param(*param), Rights::READ)
    }
}

/// The Supported DM for GetSupportedDM: objects need Obj `r`, parameters
/// Param `r`, commands and events CommandEvent `r` (R-GSP.0).
#[derive(Clone, Copy)]
pub(crate) struct SupportedView<'a> {
    pub(crate) access: &'a Access,
    pub(crate) dm: &'a DataModel,
}

impl SupportedView<'_> {
    /// Whether the element shows in GetSupportedDM.
    pub(crate) fn shows(&self, node: SchemaNode) -> bool {
        let category = match node {
            SchemaNode::Object(_) => Category::Obj,
            SchemaNode::Param(_) => Category::Param,
            SchemaNode::Command(_) | SchemaNode::Event(_) => Category::CommandEvent,
        };
        self.access.possible(category, node, self.dm.schema()).contains(Rights::READ)
    }
}

impl Visibility for SupportedView<'_> {
    fn schema_node(&self, node: SchemaNode) -> bool {
        self.shows(node)
    }
}
