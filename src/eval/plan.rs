//! Retrieve planning: the candidates a retrieve must look at. An owner-style
//! constraint (`[Assoc = '[%CurrentUser%]']`, `[Assoc = $var]`) is answered from
//! the store's reference index, and a comparison of the object's own attribute
//! with a constant, token or variable (`[Status = 'Open']`, `[Level > 2]`) by
//! reading one column of the store, instead of building and checking every
//! object; every candidate still passes the full check, so planning changes the
//! cost, never the answer. On a store that
//! speaks SQL, one query selects the candidates; when the query is exact and the
//! session has nothing uncommitted, its rows are the answer itself.

use std::collections::BTreeSet;

use super::exec::Rights;
use super::xpath::{compare_values, member_of};
use super::{Engine, Vars};
use crate::model::xpath::{Cond, Operand, PathEnd, TokenExpr};
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
enum Key<'c> {
    /// `[Assoc = '[%CurrentUser%]']` or `[Assoc = $var]`.
    Assoc(AssocId, &'c Operand),
    /// `[Attribute op value]`: the object's own attribute against a constant, token or
    /// variable (`flipped` when the attribute is on the right).
    Attribute { member: usize, op: CmpOp, other: &'c Operand, flipped: bool },
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
        self.lookup(e, key(c)?, vars)
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
        }
    }
}

/// The key of a conjunct (of an `and`, the first that has one).
fn key(c: &Cond) -> Option<Key<'_>> {
    match c {
        Cond::Compare { lhs, op, rhs, .. } => {
            let own = |side: &Operand| match side {
                Operand::Path(p) if matches!(p.end, PathEnd::Object) && p.steps.len() == 1 => {
                    let step = &p.steps[0];
                    (step.forward && step.filter.is_none()).then_some(step.assoc)
                }
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
            let constant = |side: &Operand| matches!(side, Operand::Value(_) | Operand::Token(_) | Operand::Var { .. });
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
        Cond::And(parts) => parts.iter().find_map(key),
        _ => None,
    }
}
