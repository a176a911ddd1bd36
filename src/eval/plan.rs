//! Retrieve planning: the candidates a retrieve must look at. An owner-style
//! constraint (`[Assoc = '[%CurrentUser%]']`, `[Assoc = $var]`) is answered from
//! the store's reference index instead of a scan; every candidate still passes
//! the full check, so planning changes the cost, never the answer. On a store that
//! speaks SQL, one query selects the candidates; when the query is exact and the
//! session has nothing uncommitted, its rows are the answer itself.

use std::collections::BTreeSet;

use super::exec::Rights;
use super::xpath::member_of;
use super::{Engine, Vars};
use crate::model::xpath::{Cond, Operand, PathEnd, TokenExpr};
use crate::model::*;
use crate::store::{ObjectId, Value};
use crate::syntax::ast::CmpOp;

/// What a retrieve must look at (ascending ids).
pub(crate) enum Candidates {
    /// Every object the retrieve may return is among these; each must pass the full check.
    Check(Vec<ObjectId>),
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
        if !self.use_indexes {
            return Candidates::Check(self.candidate_ids(entity));
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
            return Candidates::Check(out.into_iter().collect());
        }
        for e in self.program.specializations(entity) {
            if e == SYSTEM_USER_ROLE {
                out.extend((0..self.program.user_roles.len()).map(|i| ObjectId::of_role(UserRoleId(i as u32))));
                continue;
            }
            let by_query = query.and_then(|c| self.index_lookup(e, c, vars));
            let by_rules = (rights == Rights::Principal && !self.is_system()).then(|| self.rules_lookup(e)).flatten();
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
            }
        }
        Candidates::Check(out.into_iter().collect())
    }

    /// When every applicable rule of `e` is owner-style, the objects those rules can show.
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
            let (assoc, other) = indexable(rule.constraint.as_ref()?)?;
            let Operand::Token(TokenExpr::CurrentUser) = other else { return None };
            let target = session.user.unwrap_or(ObjectId(0));
            out.extend(self.store.referrers(e, member_of(self.program, e, assoc)?, target)?);
        }
        Some(out)
    }

    /// The objects of `e` an owner-style conjunct of a retrieve's own constraint allows.
    fn index_lookup(&self, e: EntityId, c: &Cond, vars: &Vars) -> Option<Vec<ObjectId>> {
        let (assoc, other) = indexable(c)?;
        let target = match other {
            Operand::Token(TokenExpr::CurrentUser) => self.session().user.unwrap_or(ObjectId(0)),
            Operand::Var { name, .. } => match vars.get(name)? {
                Value::Object(id) => *id,
                _ => return None,
            },
            _ => return None,
        };
        self.store.referrers(e, member_of(self.program, e, assoc)?, target)
    }
}

/// An `Assoc = object` conjunct: the object's own association compared with a token or variable.
fn indexable(c: &Cond) -> Option<(AssocId, &Operand)> {
    match c {
        Cond::Compare { lhs, op: CmpOp::Eq, rhs, .. } => {
            let own = |side: &Operand| match side {
                Operand::Path(p) if matches!(p.end, PathEnd::Object) && p.steps.len() == 1 => {
                    let step = &p.steps[0];
                    (step.forward && step.filter.is_none()).then_some(step.assoc)
                }
                _ => None,
            };
            let value = |side: &Operand| matches!(side, Operand::Token(TokenExpr::CurrentUser) | Operand::Var { .. });
            match (own(lhs), own(rhs)) {
                (Some(a), _) if value(rhs) => Some((a, rhs)),
                (_, Some(a)) if value(lhs) => Some((a, lhs)),
                _ => None,
            }
        }
        Cond::And(parts) => parts.iter().find_map(indexable),
        _ => None,
    }
}
