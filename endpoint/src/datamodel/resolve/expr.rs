//! Search expressions compiled against a table's schema: each term's route
//! to its parameter (child slots through single-instance sub-objects) and
//! its typed comparison are worked out once, so testing a row is a few
//! slice lookups and one comparison per term. A complete unique key is
//! recognised here and becomes an index lookup.

use std::borrow::Cow;

use super::ResolveError;
use super::Visibility;
use super::engine::{Engine, Pos};
use crate::datamodel::refs::{ObjRef, TableRef};
use crate::datamodel::schema::{ObjId, ParamId, SchemaNode};
use crate::datamodel::store::{Child, Node, Table};
use crate::datamodel::value::{Comparison, Value};
use crate::path::{Constant, Expr, Op, Segment, Term};

/// An expression compiled for one table.
pub(crate) struct Compiled<'p> {
    terms: Vec<CompiledTerm<'p>>,
    /// `Some((key index, key values in key order))` when the expression is
    /// exactly a complete unique key of the table.
    pub(crate) key: Option<(usize, Vec<Value>)>,
}

struct CompiledTerm<'p> {
    term: &'p Term,
    route: Route,
}

enum Route {
    /// Through single-instance sub-objects only: known before looking at
    /// any row.
    Static {
        /// Child slots from the row down to the parameter's object.
        slots: Vec<usize>,
        /// The object holding the parameter.
        holder: ObjId,
        param: ParamId,
        slot: usize,
        cmp: Comparison,
    },
    /// Through a reference hop: evaluated per row.
    Dynamic,
}

fn constant_text(c: &Constant) -> &str {
    match c {
        Constant::Quoted(s) | Constant::Bare(s) => s,
    }
}

impl<'p> Compiled<'p> {
    /// Compiles `expr` for rows of `table`: unknown names → 7026, a route
    /// into a child table or a type/operator mismatch → 7008.
    pub(crate) fn new<V: Visibility + ?Sized>(
        engine: &Engine<'_, V>,
        table: ObjId,
        expr: &'p Expr,
    ) -> Result<Compiled<'p>, ResolveError> {
        let schema = engine.schema();
        let mut terms = Vec::with_capacity(expr.terms.len());
        for term in &expr.terms {
            let mut holder = table;
            let mut slots = Vec::new();
            let mut dynamic = false;
            for seg in &term.param.objects {
                match seg {
                    Segment::Name(n) => {
                        let child = engine.visible_child(holder, n)?;
                        if schema.object(child).is_table() {
                            return Err(ResolveError::ExpressionIntoTable(term.param.to_string()));
                        }
                        slots.push(schema.object(child).slot());
                        holder = child;
                    }
                    Segment::Reference { name, .. } => {
                        engine.visible_param(holder, name)?;
                        dynamic = true;
                        break;
                    }
                    Segment::Instance(_) => {
                        return Err(ResolveError::ExpressionIntoTable(term.param.to_string()));
                    }
                }
            }
            let route = if dynamic {
                Route::Dynamic
            } else {
                let param = engine.visible_param(holder, &term.param.param)?;
                let def = schema.param(param);
                let cmp = Comparison::compile(&def.ty, term.op, &term.value)?;
                Route::Static { slots, holder, param, slot: usize::from(def.slot), cmp }
            };
            terms.push(CompiledTerm { term, route });
        }
        let key = complete_key(engine, table, &terms);
        Ok(Compiled { terms, key })
    }

    /// Whether row `row` (whose store node is `node`) satisfies every term.
    /// A row missing a term's parameter, or whose parameter the Controller
    /// cannot read, does not.
    pub(crate) fn matches<V: Visibility + ?Sized>(
        &self,
        engine: &Engine<'_, V>,
        row: &ObjRef,
        node: &Node,
    ) -> Result<bool, ResolveError> {
        for t in &self.terms {
            let ok = match &t.route {
                Route::Static { slots, holder, param, slot, cmp } => {
                    let mut n = node;
                    for s in slots {
                        match n.children.get(*s) {
                            Some(Child::Single(Some(c))) => n = c,
                            _ => return Ok(false),
                        }
                    }
                    let pref = ObjRef::new(*holder, row.inst).param(*param);
                    if !engine.vis().param(&pref) {
                        return Ok(false);
                    }
                    let value = if engine.dm().is_provided(*holder) {
                        engine.dm().read(&pref)
                    } else {
                        n.values.get(*slot).map(Cow::Borrowed)
                    };
                    value.is_some_and(|v| cmp.matches(&v))
                }
                Route::Dynamic => engine.eval_dynamic(row, t.term)?,
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The rows of `table` the expression selects, in number order.
    pub(crate) fn select<'a, V: Visibility + ?Sized>(
        &self,
        engine: &Engine<'a, V>,
        table: &TableRef,
        data: &'a Table,
        out: &mut Vec<Pos<'a>>,
    ) -> Result<(), ResolveError> {
        if let Some((k, values)) = &self.key {
            let found = data.keys.get(*k).and_then(|index| index.get(values.as_slice()));
            if let Some((row, node)) = found.and_then(|n| Some((table.row(*n)?, data.rows.get(n)?))) {
                let readable = self.terms.iter().all(|t| match &t.route {
                    Route::Static { holder, param, .. } => {
                        engine.vis().param(&ObjRef::new(*holder, row.inst).param(*param))
                    }
                    Route::Dynamic => false,
                });
                if readable && engine.vis().instance(&row) {
                    out.push(Pos::Obj(row, node));
                }
            }
            return Ok(());
        }
        for (n, node) in &data.rows {
            let Some(row) = table.row(*n) else { continue };
            if engine.vis().instance(&row) && self.matches(engine, &row, node)? {
                out.push(Pos::Obj(row, node));
            }
        }
        Ok(())
    }
}

/// The unique key (index, values) that the terms spell out exactly: every
/// term `==` on a distinct parameter of the row itself, and together
/// exactly one key's parameters (paths.md §4.2; a partial or extended key
/// is a search).
fn complete_key<V: Visibility + ?Sized>(
    engine: &Engine<'_, V>,
    table: ObjId,
    terms: &[CompiledTerm<'_>],
) -> Option<(usize, Vec<Value>)> {
    let schema = engine.schema();
    let mut named: Vec<(ParamId, &Term)> = Vec::with_capacity(terms.len());
    for t in terms {
        match &t.route {
            Route::Static { slots, param, .. } if slots.is_empty() && t.term.op == Op::Eq => {
                if named.iter().any(|(p, _)| p == param) {
                    return None;
                }
                named.push((*param, t.term));
            }
            _ => return None,
        }
    }
    let keys = &schema.object(table).table()?.unique_keys;
    keys.iter().enumerate().find_map(|(k, key)| {
        if key.params.len() != named.len() {
            return None;
        }
        let values = key
            .params
            .iter()
            .map(|p| {
                let (_, term) = named.iter().find(|(q, _)| q == p)?;
                let ty = &schema.param(*p).ty;
                if ty.is_list() {
                    return None;
                }
                ty.base().parse(constant_text(&term.value)).ok()
            })
            .collect::<Option<Vec<Value>>>()?;
        let visible = key.params.iter().all(|p| engine.vis().schema_node(SchemaNode::Param(*p)));
        visible.then_some((k, values))
    })
}
