//! Retrieve planning: the candidates a retrieve must look at. An owner-style
//! constraint (`[Assoc = '[%CurrentUser%]']`, `[Assoc = $var]`) is answered from
//! the store's reference index, and a comparison of the object's own attribute
//! with a constant, token or variable (`[Status = 'Open']`, `[Level > 2]`) by
//! reading one column of the store, instead of building and checking every
//! object. A constraint through associations (`[Shop.Line_Cart/Shop.Cart/Status =
//! 'Open']`, either direction, any depth, with predicates inside the path) is a
//! semi-join planned from the far end: the objects there that pass come from a column
//! scan (or the constant itself), and each step back goes through the reverse-reference
//! index (or a column scan), so its cost follows the objects it touches. Every candidate
//! still passes the full check, so planning changes the cost, never the answer; a
//! `not(...)` has no key and falls back to the rules' keys or every object. On a store that
//! speaks SQL, one query selects the candidates; when the query is exact and the
//! session has nothing uncommitted, its rows are the answer itself.

use std::collections::BTreeSet;

use super::exec::Rights;
use super::xpath::{compare_values, member_of};
use super::{Engine, Vars};
use crate::model::xpath::{Cond, Operand, Path, PathEnd, Step, TokenExpr};
use crate::model::CmpOp;
use crate::model::*;
use crate::store::{Object, ObjectId, Value};

/// How retrieves find their candidates (the differential tests compare all three).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Reference indexes where a constraint allows, else column scans, else every object.
    Indexed,
    /// Column scans where a constraint allows (no reference index), else every object.
    Scan,
    /// Every object of the entity, each through the full check.
    Naive,
}

/// A conjunct the store can answer from one member of each object, without building objects.
#[derive(Clone)]
enum Key<'c> {
    /// `[Assoc = '[%CurrentUser%]']` or `[Assoc = $var]`.
    Assoc(AssocId, &'c Operand),
    /// `[Attribute op value]`: the object's own attribute against a constant, token or
    /// variable (`flipped` when the attribute is on the right).
    Attribute { member: usize, op: CmpOp, other: &'c Operand, flipped: bool },
    /// A path through associations (`[Shop.Line_Cart/Shop.Cart/Status = 'Open']`, or
    /// `[Shop.Line_Cart/Shop.Cart[Status = 'Open']]` with `end` `None`): a semi-join from
    /// the far end, back step by step through the reverse-reference index or the columns.
    Path { path: &'c Path, end: Option<(CmpOp, &'c Operand, bool)> },
    /// One of the parts of an `or`, each with its key.
    Or(Vec<Key<'c>>),
}

/// What a retrieve must look at (ascending ids).
pub(crate) enum Candidates {
    /// Every object the retrieve may return is among these; each must pass the full check.
    /// With `charge`, the retrieve counts that many steps for looking at them, rather than
    /// one per candidate (see [`Engine::view_charge`]).
    Check { ids: Vec<ObjectId>, charge: Option<u64> },
    /// Exactly the objects the retrieve returns (an exact SQL query; the differential
    /// tests in `tests/sqlite.rs` hold such queries to the evaluator's answers).
    Answer(Vec<ObjectId>),
}

impl Engine<'_> {
    /// The objects a retrieve of `entity` must look at.
    pub(crate) fn retrieve_candidates(
        &self,
        entity: EntityId,
        query: Option<&Cond>,
        vars: &Vars,
        rights: Rights,
    ) -> Candidates {
        // A principal's retrieve counts steps that do not depend on its own constraint.
        let view = rights == Rights::Principal && !self.is_system();
        if self.plan == Plan::Naive {
            let ids = self.candidate_ids(entity);
            return Candidates::Check { charge: view.then(|| self.view_charge(entity)), ids };
        }
        let mut out: BTreeSet<ObjectId> = BTreeSet::new();
        let sql = self.store.speaks_sql().then(|| self.retrieve_sql(entity, query, vars, rights)).flatten();
        if let Some((q, ids)) = sql.and_then(|q| self.store.select_ids(&q.text, &q.params).map(|ids| (q, ids))) {
            let roles = self.program.is_a(SYSTEM_USER_ROLE, entity);
            if q.exact && !roles && self.session().uncommitted.is_empty() {
                let mut ids = ids;
                ids.sort_unstable();
                return Candidates::Answer(ids);
            }
            out.extend(ids);
            if self.program.is_a(SYSTEM_USER_ROLE, entity) {
                out.extend((0..self.program.user_roles.len()).map(|i| ObjectId::of_role(UserRoleId(i as u32))));
            }
            for (id, o) in &self.session().uncommitted {
                if self.program.is_a(o.entity, entity) {
                    out.insert(*id);
                }
            }
            return Candidates::Check {
                ids: out.into_iter().collect(),
                charge: view.then(|| self.view_charge(entity)),
            };
        }
        let mut charge = 0u64;
        for e in self.program.specializations(entity) {
            if e == SYSTEM_USER_ROLE {
                out.extend((0..self.program.user_roles.len()).map(|i| ObjectId::of_role(UserRoleId(i as u32))));
                charge += self.program.user_roles.len() as u64;
                continue;
            }
            let by_query = query.and_then(|c| self.index_lookup(e, c, vars));
            let by_rules = view.then(|| self.rules_lookup(e)).flatten();
            // As in [`Engine::view_charge`], without looking the rules' keys up twice.
            if view {
                charge += by_rules.as_ref().map_or_else(|| self.store.ids(e).len(), Vec::len) as u64;
            }
            match (by_query, by_rules) {
                (Some(a), Some(b)) => out.extend(if a.len() <= b.len() { a } else { b }),
                (Some(a), None) | (None, Some(a)) => out.extend(a),
                (None, None) => out.extend(self.store.ids(e)),
            }
        }
        // The session's own uncommitted objects are seen as changed, whatever the index says.
        for (id, o) in &self.session().uncommitted {
            if self.program.is_a(o.entity, entity) {
                out.insert(*id);
                charge += 1;
            }
        }
        Candidates::Check { ids: out.into_iter().collect(), charge: view.then_some(charge) }
    }

    /// The steps a principal's retrieve of `entity` counts for looking at its candidates: the
    /// objects its access rules can show (by their keys, else every object of each entity) and
    /// its own uncommitted ones. Narrowing the candidates by the retrieve's own constraint
    /// saves work but not steps, so the step limit never tells how many objects match a
    /// constraint on a member the principal may not read (section 4).
    pub(crate) fn view_charge(&self, entity: EntityId) -> u64 {
        let mut charge = 0;
        for e in self.program.specializations(entity) {
            charge += if e == SYSTEM_USER_ROLE {
                self.program.user_roles.len()
            } else {
                self.rules_lookup(e).map_or_else(|| self.store.ids(e).len(), |ids| ids.len())
            };
        }
        let uncommitted = self.session().uncommitted.values().filter(|o| self.program.is_a(o.entity, entity)).count();
        (charge + uncommitted) as u64
    }

    /// When every applicable rule of `e` has a key, the objects those rules can show.
    fn rules_lookup(&self, e: EntityId) -> Option<Vec<ObjectId>> {
        if !self.gate_open() {
            return Some(Vec::new());
        }
        let session = self.session();
        let mut out = Vec::new();
        for &r in self.rules_of(e) {
            let rule = &self.program.access_rules[r];
            if !rule.roles.iter().any(|m| session.module_roles.binary_search(m).is_ok()) {
                continue;
            }
            out.extend(self.lookup(e, key(rule.constraint.as_ref()?)?, &Vars::new())?);
        }
        Some(out)
    }

    /// The objects of `e` a keyed conjunct of a retrieve's own constraint allows.
    fn index_lookup(&self, e: EntityId, c: &Cond, vars: &Vars) -> Option<Vec<ObjectId>> {
        let key = key(c)?;
        // A retrieve's own constraint sees the session's uncommitted copies, which the
        // store's columns and index do not hold: a path through them is not planned.
        if key.has_path() && !self.session().uncommitted.is_empty() {
            return None;
        }
        self.lookup(e, key, vars)
    }

    /// The objects of exactly `e` a key holds for, from the store's index or a column scan.
    fn lookup(&self, e: EntityId, key: Key, vars: &Vars) -> Option<Vec<ObjectId>> {
        match key {
            Key::Assoc(assoc, other) => {
                let target = match other {
                    Operand::Token(TokenExpr::CurrentUser) => self.session().user.unwrap_or(ObjectId(0)),
                    Operand::Var { slot, .. } => match vars.get(*slot)? {
                        Value::Object(id) => *id,
                        _ => return None,
                    },
                    _ => return None,
                };
                let member = member_of(self.program, e, assoc)?;
                if self.plan == Plan::Indexed {
                    if let Some(ids) = self.store.referrers(e, member, target) {
                        return Some(ids);
                    }
                }
                self.store.matching(e, member, &Value::Object(target))
            }
            Key::Attribute { member, op, other, flipped } => {
                // The other side as the evaluator computes it (it doesn't depend on the object).
                let placeholder = Object { id: ObjectId(0), entity: e, values: Vec::new() };
                let values = self.xeval(Some(vars)).side(other, &placeholder).values;
                // Equal to one value that compares as itself (never text or numbers): the same word.
                if let (CmpOp::Eq, [value @ (Value::Enum(..) | Value::Boolean(_))]) = (op, values.as_slice()) {
                    return self.store.matching(e, member, value);
                }
                // What the evaluator does with an own attribute against a constant side.
                let test = |v: &Value| {
                    values.iter().any(|c| {
                        if flipped {
                            compare_values(c, op, v, false)
                        } else {
                            compare_values(v, op, c, false)
                        }
                    })
                };
                self.store.filter(e, member, &test)
            }
            Key::Or(parts) => {
                let mut out = Vec::new();
                for part in parts {
                    out.extend(self.lookup(e, part, vars)?);
                }
                out.sort_unstable();
                out.dedup();
                Some(out)
            }
            Key::Path { path, end } => self.semi_join(e, path, end, vars),
        }
    }

    /// The objects of exactly `e` from which `path` reaches an object that passes `end` (or,
    /// without `end`, its last step's filter), as committed: the far end's objects from a
    /// column scan, the index or the constant itself, then back one step at a time. Step
    /// filters with a key narrow the objects arrived at; others are left to the full check,
    /// so the answer holds every object the path condition holds for, and perhaps more.
    fn semi_join(
        &self,
        e: EntityId,
        path: &Path,
        end: Option<(CmpOp, &Operand, bool)>,
        vars: &Vars,
    ) -> Option<Vec<ObjectId>> {
        let program = self.program;
        let last = path.steps.last()?;
        // The entities each level may hold: the retrieved entity, then each step's arrival.
        let level = |i: usize| if i == 0 { vec![e] } else { program.specializations(path.steps[i - 1].entity) };
        let mut set: Vec<ObjectId> = match end {
            Some((op, other, flipped)) => {
                let placeholder = Object { id: ObjectId(0), entity: e, values: Vec::new() };
                let values = self.xeval(Some(vars)).side(other, &placeholder).values;
                let test = |v: &Value| {
                    values.iter().any(|c| {
                        if flipped {
                            compare_values(c, op, v, false)
                        } else {
                            compare_values(v, op, c, false)
                        }
                    })
                };
                match &path.end {
                    // Objects compared with objects: only `=` names them.
                    PathEnd::Object if op == CmpOp::Eq => values
                        .iter()
                        .filter_map(|v| match v {
                            Value::Object(id) => Some(*id),
                            _ => None,
                        })
                        .filter(|id| self.committed_entity_of(*id).is_some_and(|x| program.is_a(x, last.entity)))
                        .collect(),
                    PathEnd::Object => return None,
                    PathEnd::Attribute { member, .. } => {
                        let mut out = Vec::new();
                        for x in level(path.steps.len()) {
                            if x == SYSTEM_USER_ROLE {
                                return None;
                            }
                            out.extend(self.store.filter(x, *member, &test)?);
                        }
                        out
                    }
                }
            }
            None => Vec::new(),
        };
        for i in (1..=path.steps.len()).rev() {
            let step = &path.steps[i - 1];
            // The objects arrived at by this step pass its filter, when the filter has a key.
            if let Some(k) = step.filter.as_deref().and_then(key) {
                let mut passing = Vec::new();
                for x in level(i) {
                    if x == SYSTEM_USER_ROLE {
                        return None;
                    }
                    passing.extend(self.lookup(x, k.clone(), vars)?);
                }
                passing.sort_unstable();
                if end.is_none() && i == path.steps.len() {
                    set = passing;
                } else {
                    set.sort_unstable();
                    set.retain(|id| passing.binary_search(id).is_ok());
                }
            } else if end.is_none() && i == path.steps.len() {
                return None;
            }
            set.sort_unstable();
            set.dedup();
            set = self.step_back(step, &level(i - 1), &set)?;
        }
        set.sort_unstable();
        set.dedup();
        Some(set)
    }

    /// The objects of the `from` entities that `step` leads from to any of `to` (ascending), as
    /// committed.
    fn step_back(&self, step: &Step, from: &[EntityId], to: &[ObjectId]) -> Option<Vec<ObjectId>> {
        let program = self.program;
        let mut out = Vec::new();
        if to.is_empty() {
            return Some(out);
        }
        if step.forward {
            // The objects before the step hold the association: they refer to `to`.
            for &x in from {
                if x == SYSTEM_USER_ROLE {
                    return None;
                }
                let Some(member) = member_of(program, x, step.assoc) else { continue };
                // Through the index, one look-up per target; else a scan of the column.
                let indexed = self.plan == Plan::Indexed;
                let by_index = indexed
                    .then(|| {
                        let mut ids = Vec::new();
                        for t in to {
                            ids.extend(self.store.referrers(x, member, *t)?);
                        }
                        Some(ids)
                    })
                    .flatten();
                if let Some(ids) = by_index {
                    out.extend(ids);
                } else {
                    let test = |v: &Value| match v {
                        Value::Object(id) => to.binary_search(id).is_ok(),
                        Value::List(ids) => ids.iter().any(|id| to.binary_search(id).is_ok()),
                        _ => false,
                    };
                    out.extend(self.store.filter(x, member, &test)?);
                }
            }
        } else {
            // The objects after the step hold the association: follow their references back.
            for t in to {
                let Some(x) = self.committed_entity_of(*t) else { continue };
                let Some(member) = member_of(program, x, step.assoc) else { continue };
                match self.store.value(*t, member) {
                    Some(Value::Object(id)) => out.push(id),
                    Some(Value::List(ids)) => out.extend(ids),
                    _ => {}
                }
            }
            out.retain(|id| self.committed_entity_of(*id).is_some_and(|x| from.contains(&x)));
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }
}

/// The key of a condition: of an `and`, the first conjunct with a key on the object's own
/// members, else the first with a path key; of an `or`, every part's, when each has one.
fn key(c: &Cond) -> Option<Key<'_>> {
    match c {
        Cond::And(parts) => parts.iter().filter_map(key).min_by_key(|k| u8::from(k.has_path())),
        Cond::Or(parts) => parts.iter().map(key).collect::<Option<Vec<_>>>().map(Key::Or),
        _ => own_key(c).or_else(|| path_key(c)),
    }
}

/// Whether the condition is a path's own association (`[Assoc ...]`, one step forward, no
/// filter, ending in the object): the evaluator compares it as a member (unset is `empty`).
fn own_association(p: &Path) -> bool {
    matches!(p.steps.as_slice(), [step] if step.forward && step.filter.is_none()) && matches!(p.end, PathEnd::Object)
}

/// A side that does not depend on the object: a constant, a token or a variable.
fn constant(side: &Operand) -> bool {
    matches!(side, Operand::Value(_) | Operand::Token(_) | Operand::Var { .. })
}

/// A path through associations compared with a constant, or reaching objects that pass a
/// keyed filter. The comparison is existential over the objects reached (none reached: false),
/// so the objects it holds for are those from which a far-end object that passes is reached.
fn path_key(c: &Cond) -> Option<Key<'_>> {
    match c {
        Cond::Compare { lhs, op, rhs, .. } => {
            fn path(side: &Operand) -> Option<&Path> {
                match side {
                    Operand::Path(p) if !p.steps.is_empty() && !own_association(p) => Some(p),
                    _ => None,
                }
            }
            match (path(lhs), path(rhs)) {
                (Some(p), _) if constant(rhs) => Some(Key::Path { path: p, end: Some((*op, rhs, false)) }),
                (_, Some(p)) if constant(lhs) => Some(Key::Path { path: p, end: Some((*op, lhs, true)) }),
                _ => None,
            }
        }
        Cond::Exists(p) => {
            let last = p.steps.last()?;
            key(last.filter.as_deref()?)?;
            Some(Key::Path { path: p, end: None })
        }
        _ => None,
    }
}

/// The key of a comparison on the object's own members.
fn own_key(c: &Cond) -> Option<Key<'_>> {
    match c {
        Cond::Compare { lhs, op, rhs, .. } => {
            let own = |side: &Operand| match side {
                Operand::Path(p) if own_association(p) => Some(p.steps[0].assoc),
                _ => None,
            };
            let value = |side: &Operand| matches!(side, Operand::Token(TokenExpr::CurrentUser) | Operand::Var { .. });
            let attribute = |side: &Operand| match side {
                Operand::Path(p) if p.steps.is_empty() => match p.end {
                    PathEnd::Attribute { member, .. } => Some(member),
                    PathEnd::Object => None,
                },
                _ => None,
            };
            match (own(lhs), own(rhs)) {
                (Some(a), _) if *op == CmpOp::Eq && value(rhs) => return Some(Key::Assoc(a, rhs)),
                (_, Some(a)) if *op == CmpOp::Eq && value(lhs) => return Some(Key::Assoc(a, lhs)),
                _ => {}
            }
            match (attribute(lhs), attribute(rhs)) {
                (Some(member), _) if constant(rhs) => {
                    Some(Key::Attribute { member, op: *op, other: rhs, flipped: false })
                }
                (_, Some(member)) if constant(lhs) => {
                    Some(Key::Attribute { member, op: *op, other: lhs, flipped: true })
                }
                _ => None,
            }
        }
        _ => None,
    }
}

impl Key<'_> {
    /// Whether answering the key walks associations (then it reads other objects than the
    /// candidates themselves, as committed).
    fn has_path(&self) -> bool {
        match self {
            Key::Path { .. } => true,
            Key::Or(parts) => parts.iter().any(Key::has_path),
            Key::Assoc(..) | Key::Attribute { .. } => false,
        }
    }
}
