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

use serde::Serialize;

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
    /// With `visible`, every candidate that is committed and unchanged by the session is visible
    /// to the principal: the candidates are exactly what the rules' keys find, and every
    /// applicable rule is exactly its key ([`exact_key`]), so its check can be skipped.
    Check { ids: Vec<ObjectId>, charge: Option<u64>, visible: bool },
    /// Exactly the objects the retrieve returns, found by exact keys on a session that has
    /// changed nothing; counted as [`Candidates::Check`] counts (`charge`, else one step each).
    Exact { ids: Vec<ObjectId>, charge: Option<u64> },
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
            return Candidates::Check { charge: view.then(|| self.view_charge(entity)), ids, visible: false };
        }
        let sql = self.store.speaks_sql().then(|| self.retrieve_sql(entity, query, vars, rights)).flatten();
        if let Some((q, ids)) = sql.and_then(|q| self.store.select_ids(&q.text, &q.params).map(|ids| (q, ids))) {
            let mut out: BTreeSet<ObjectId> = BTreeSet::new();
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
                visible: false,
            };
        }
        // A vector, sorted once at the end: the keys' answers are ascending already.
        let mut out: Vec<ObjectId> = Vec::new();
        let mut charge = 0u64;
        let mut visible = view;
        // Whether the candidates are exactly the answer for committed objects: the rules' keys
        // (if any) and the retrieve's key are exact, and the session has changed nothing.
        let unchanged = self.session().uncommitted.is_empty();
        let mut answered = unchanged;
        for e in self.program.specializations(entity) {
            if e == SYSTEM_USER_ROLE {
                out.extend((0..self.program.user_roles.len()).map(|i| ObjectId::of_role(UserRoleId(i as u32))));
                charge += self.program.user_roles.len() as u64;
                visible = false;
                answered = false;
                continue;
            }
            let by_query = query.and_then(|c| self.index_lookup(e, c, vars, view));
            let by_rules = view.then(|| self.rules_lookup(e)).flatten();
            // As in [`Engine::view_charge`], without looking the rules' keys up twice.
            if view {
                charge += by_rules.as_ref().map_or_else(|| self.store.ids(e).len(), Vec::len) as u64;
            }
            let exact = by_rules.is_some() && self.rules_exact(e);
            let query_ok = match query {
                None => true,
                Some(c) => by_query.is_some() && self.query_exact(e, c, view),
            };
            let rules_ok = if view { exact } else { by_rules.is_none() };
            match (by_query, by_rules) {
                // Exact keys on both sides: the answer is where they meet.
                (Some(a), Some(b)) if answered && rules_ok && query_ok => {
                    // Several rules' answers follow each other in `b`: sorted before searching.
                    let (mut a, mut b) = (a, b);
                    a.sort_unstable();
                    b.sort_unstable();
                    out.extend(meet(&a, &b));
                }
                (Some(a), None) | (None, Some(a)) if answered && rules_ok && query_ok => out.extend(a),
                (None, None) if answered && rules_ok && query_ok => out.extend(self.store.ids(e)),
                (Some(a), Some(b)) if a.len() < b.len() => {
                    visible = false;
                    answered = false;
                    out.extend(a);
                }
                (_, Some(b)) => {
                    visible &= exact;
                    answered = false;
                    out.extend(b);
                }
                (Some(a), None) => {
                    visible = false;
                    answered = false;
                    out.extend(a);
                }
                (None, None) => {
                    visible = false;
                    answered = false;
                    out.extend(self.store.ids(e));
                }
            }
        }
        if answered {
            // Several rules may find the same object.
            out.sort_unstable();
            out.dedup();
            return Candidates::Exact { ids: out, charge: view.then_some(charge) };
        }
        // The session's own uncommitted objects are seen as changed, whatever the index says.
        for (id, o) in &self.session().uncommitted {
            if self.program.is_a(o.entity, entity) {
                out.push(*id);
                charge += 1;
            }
        }
        out.sort_unstable();
        out.dedup();
        Candidates::Check { ids: out, charge: view.then_some(charge), visible }
    }

    /// `count(retrieve ...)` without listing the answer, where [`Engine::retrieve_candidates`]
    /// would answer [`Candidates::Exact`] and every key involved is one column holding one
    /// word (`[Status = 'Open']`, `[Active = true()]`): per entity, at most one applicable
    /// rule, exactly its key, and the retrieve's own exact key on the same column (or none).
    /// The count and the steps charged are those of the listed answer. `None`: list it.
    pub(crate) fn retrieve_count_planned(
        &self,
        entity: EntityId,
        query: Option<&Cond>,
        rights: Rights,
    ) -> Option<(usize, u64)> {
        if self.plan == Plan::Naive || self.store.speaks_sql() || !self.session().uncommitted.is_empty() {
            return None;
        }
        let view = rights == Rights::Principal && !self.is_system();
        let (mut count, mut charge) = (0usize, 0u64);
        for e in self.program.specializations(entity) {
            if e == SYSTEM_USER_ROLE {
                return None;
            }
            let by_query = match query {
                None => None,
                Some(c) if self.query_exact(e, c, view) => Some(self.word_key(e, c)?),
                Some(_) => return None,
            };
            let n = if view {
                if !self.gate_open() || !self.rules_exact(e) {
                    return None;
                }
                let session = self.session();
                let mut applicable = self
                    .rules_of(e)
                    .iter()
                    .map(|&r| &self.program.access_rules[r])
                    .filter(|rule| rule.roles.iter().any(|m| session.module_roles.binary_search(m).is_ok()));
                let n = match (applicable.next(), applicable.next()) {
                    (None, _) => 0,
                    (Some(rule), None) => {
                        let (member, value) = self.word_key(e, rule.constraint.as_ref()?)?;
                        let n = self.store.count_matching(e, member, &value)?;
                        charge += n as u64;
                        match &by_query {
                            None => n,
                            Some((m, v)) if *m == member => {
                                if *v == value {
                                    n
                                } else {
                                    0
                                }
                            }
                            Some(_) => return None,
                        }
                    }
                    (Some(_), Some(_)) => return None,
                };
                n
            } else {
                let n = match &by_query {
                    None => self.store.ids(e).len(),
                    Some((member, value)) => self.store.count_matching(e, *member, value)?,
                };
                charge += n as u64;
                n
            };
            count += n;
        }
        Some((count, charge))
    }

    /// A condition's key when it is one column holding one word: `[member = value]` with one
    /// enumeration value or Boolean, a constant or token (never a variable: its steps are
    /// counted where the retrieve reads it).
    fn word_key(&self, e: EntityId, c: &Cond) -> Option<(usize, Value)> {
        let Key::Attribute { member, op: CmpOp::Eq, other, .. } = key(c)? else { return None };
        if !matches!(other, Operand::Value(_) | Operand::Token(_)) {
            return None;
        }
        let placeholder = Object { id: ObjectId(0), entity: e, values: Vec::new() };
        match self.xeval(None).side(other, &placeholder).values.as_slice() {
            [value @ (Value::Enum(..) | Value::Boolean(_))] => Some((member, value.clone())),
            _ => None,
        }
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

    /// Whether a retrieve's own constraint on `e` is exactly its key as the retrieve evaluates it:
    /// with full rights, as for the rules ([`exact_key`]); in a principal's view, only keys on
    /// the object's own attributes that the principal may read wherever it sees the object.
    fn query_exact(&self, e: EntityId, c: &Cond, view: bool) -> bool {
        if !exact_key(self.program, c) {
            return false;
        }
        if !view {
            return true;
        }
        fn readable(engine: &Engine<'_>, e: EntityId, k: &Key) -> bool {
            match k {
                Key::Attribute { member, .. } => engine.read_implied(e, *member),
                Key::Or(parts) => parts.iter().all(|p| readable(engine, e, p)),
                Key::Assoc(..) | Key::Path { .. } => false,
            }
        }
        key(c).is_some_and(|k| readable(self, e, &k))
    }

    /// Whether every applicable rule of `e` is exactly its key (see [`exact_key`]), so that the
    /// objects [`Engine::rules_lookup`] finds are exactly the committed objects it shows.
    fn rules_exact(&self, e: EntityId) -> bool {
        let session = self.session();
        self.rules_of(e).iter().all(|&r| {
            let rule = &self.program.access_rules[r];
            !rule.roles.iter().any(|m| session.module_roles.binary_search(m).is_ok())
                || rule.constraint.as_ref().is_some_and(|c| exact_key(self.program, c))
        })
    }

    /// The objects of `e` a keyed conjunct of a retrieve's own constraint allows.
    fn index_lookup(&self, e: EntityId, c: &Cond, vars: &Vars, view: bool) -> Option<Vec<ObjectId>> {
        let key = key(c)?;
        // A retrieve's own constraint sees the session's uncommitted copies, which the
        // store's columns and index do not hold: a path through them is not planned. Nor is
        // it in a principal's view: the path may cross members the principal may not read,
        // and the candidates' checks, which count steps, would then follow what it may not
        // know (its rules' keys still narrow the candidates).
        if key.has_path() && (view || !self.session().uncommitted.is_empty()) {
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
                        self.store.referrers_of_each(x, member, to, &mut ids)?;
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

/// The ids in both ascending lists, ascending (a merge: linear in both).
fn meet(a: &[ObjectId], b: &[ObjectId]) -> Vec<ObjectId> {
    let (mut i, mut j, mut out) = (0, 0, Vec::with_capacity(a.len().min(b.len())));
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(*x);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Whether the objects a condition's key finds are exactly those it holds for, when access
/// rules judge them (committed objects, full rights): a comparison with a key that reads the
/// member the evaluator compares, with the same comparison (the object's own reference with the
/// user, where the step arrives at the association's target; an own attribute; a path without
/// predicates ending in an attribute, or in objects compared with `=`), or an `or` of such.
fn exact_key(program: &Program, c: &Cond) -> bool {
    match c {
        Cond::Or(parts) => parts.iter().all(|p| exact_key(program, p)),
        Cond::Compare { lhs, rhs, .. } => match own_key(c) {
            Some(Key::Attribute { .. }) => true,
            Some(Key::Assoc(a, other)) => {
                let own = [lhs, rhs].into_iter().find_map(|side| match side {
                    Operand::Path(p) if own_association(p) => Some(&p.steps[0]),
                    _ => None,
                });
                matches!(other, Operand::Token(TokenExpr::CurrentUser))
                    && matches!(lhs, Operand::Path(_))
                    && own.is_some_and(|step| step.entity == program.assoc(a).to)
            }
            Some(_) => false,
            None => match path_key(c) {
                Some(Key::Path { path, end: Some((op, _, _)) }) => {
                    path.steps.iter().all(|s| s.filter.is_none())
                        && (matches!(path.end, PathEnd::Attribute { .. }) || op == CmpOp::Eq)
                }
                _ => false,
            },
        },
        _ => false,
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

/// How a retrieve finds its candidates, for `warden explain --plan`: per entity it reads
/// (the retrieved one and its specializations), the acting principal's applicable rules and
/// the retrieve's own constraint, each with its plan or the reason it has none.
#[derive(Clone, Debug, Serialize)]
pub struct PlanExplanation {
    /// Who acts.
    pub principal: String,
    /// The retrieve as written.
    pub retrieve: String,
    /// The engine's plan: `indexed`, `scan` or `naive`.
    pub plan: &'static str,
    /// Whether the store answers with one SQL query (`warden sql` prints it).
    pub sql: bool,
    /// One entry per entity read.
    pub entities: Vec<EntityPlan>,
}

/// The plan for one entity of a retrieve.
#[derive(Clone, Debug, Serialize)]
pub struct EntityPlan {
    /// The entity.
    pub entity: String,
    /// Where its candidates come from, in one sentence.
    pub candidates: String,
    /// The applicable rules (none for system, whose retrieves see everything).
    pub rules: Vec<ConstraintPlan>,
    /// The retrieve's own constraint.
    pub query: Option<ConstraintPlan>,
}

/// The plan of one constraint.
#[derive(Clone, Debug, Serialize)]
pub struct ConstraintPlan {
    /// The rule (`file:line`), or `retrieve` for the retrieve's own constraint.
    pub source: String,
    /// The constraint as written (`None`: the rule has none).
    pub constraint: Option<String>,
    /// Whether it has a key (otherwise every object of the entity is a candidate).
    pub keyed: bool,
    /// The key in words, or why there is none.
    pub plan: String,
}

impl PlanExplanation {
    /// The plan as text, as `warden explain --plan` prints it.
    pub fn render(&self) -> String {
        let store = if self.sql { ", one SQL query (`warden sql` prints it)" } else { "" };
        let mut out = format!("plan {} for {}: {}{store}\n", self.plan, self.principal, self.retrieve);
        for e in &self.entities {
            out.push_str(&format!("  {}: {}\n", e.entity, e.candidates));
            for c in e.rules.iter().chain(&e.query) {
                let what =
                    c.constraint.as_deref().map_or_else(|| "no constraint".to_string(), |c| format!("where {c}"));
                out.push_str(&format!("    {} {what}\n      {}\n", c.source, c.plan));
            }
        }
        out
    }
}

impl Engine<'_> {
    /// The plan of a retrieve statement (`retrieve E [...]`, perhaps inside `count(...)`), as
    /// the acting principal runs it with a retrieve's rights.
    pub fn plan_of(&self, stmt: &crate::model::flow::Stmt) -> Result<PlanExplanation, super::EvalError> {
        let (expr, entity, constraint) = super::store_retrieve(stmt)?;
        let program = self.program;
        let text = program.sources.file(expr.span.file).text.get(expr.span.start as usize..expr.span.end as usize);
        let system = self.is_system();
        let mut entities = Vec::new();
        for e in program.specializations(*entity) {
            let name = program.entity(e).name.to_string();
            if e == SYSTEM_USER_ROLE {
                let candidates = "the user roles, held by the engine".into();
                entities.push(EntityPlan { entity: name, candidates, rules: Vec::new(), query: None });
                continue;
            }
            let mut rules = Vec::new();
            if !system && self.gate_open() {
                for r in self.applicable_rules(e) {
                    let rule = &program.access_rules[r];
                    let file = program.sources.file(rule.span.file);
                    let (line, _) = file.line_col(rule.span.start as usize);
                    let source = format!("rule {}:{line}", file.path.display());
                    rules.push(self.constraint_plan(e, source, rule.constraint.as_ref(), rule.constraint_text.clone()));
                }
            }
            let query = constraint.as_ref().map(|c| {
                // The retrieve's constraint as written: its text from the first bracket.
                let text = text.and_then(|t| t.find('[').map(|at| t[at..].to_string()));
                let mut plan = self.constraint_plan(e, "retrieve".into(), Some(c), text);
                if plan.keyed && key(c).is_some_and(|k| k.has_path()) {
                    if system {
                        plan.plan.push_str(" (unless the session has uncommitted changes)");
                    } else {
                        plan.keyed = false;
                        plan.plan = "not used for a principal: a path may cross members it may not read, so its \
                                     own path constraint never narrows the candidates (the rules' keys do)"
                            .into();
                    }
                }
                plan
            });
            let by_rules = !system && rules.iter().all(|r| r.keyed);
            let by_query = query.as_ref().is_some_and(|q| q.keyed);
            let candidates = if !system && !self.gate_open() {
                "none: the app is not public".to_string()
            } else if !system && rules.is_empty() {
                "none: no access rule names the principal's module roles".to_string()
            } else {
                let exact = by_rules && self.rules_exact(e);
                let query_exact = match constraint {
                    None => true,
                    Some(c) => by_query && self.query_exact(e, c, !system),
                };
                let answered = if system { query_exact } else { exact && query_exact };
                match (by_rules, by_query) {
                    _ if answered && self.plan != Plan::Naive => {
                        "exact keys: the answer itself (where the keys meet), nothing checked again, while the session has changed nothing"
                    }
                    (true, true) if exact => {
                        "the smaller of the rules' keys and the retrieve's key; the rules' keys are exact, so when they are the smaller no object is checked for visibility again"
                    }
                    (true, true) => "the smaller of the rules' keys and the retrieve's key, then the full check",
                    (true, false) if exact => {
                        "the rules' keys, which are exact: committed objects are not checked for visibility again"
                    }
                    (true, false) => "the rules' keys, then the full check of each",
                    (false, true) => "the retrieve's key, then the full check of each",
                    (false, false) => "every object of the entity, each through the full check",
                }
                .to_string()
            };
            entities.push(EntityPlan { entity: name, candidates, rules, query });
        }
        Ok(PlanExplanation {
            principal: self.principal_name(),
            retrieve: text.unwrap_or_default().to_string(),
            plan: match self.plan {
                Plan::Indexed => "indexed",
                Plan::Scan => "scan",
                Plan::Naive => "naive",
            },
            sql: self.store.speaks_sql(),
            entities,
        })
    }

    /// The plan of one constraint on exactly `e`.
    fn constraint_plan(&self, e: EntityId, source: String, c: Option<&Cond>, text: Option<String>) -> ConstraintPlan {
        let (keyed, plan) = match c {
            None => (false, "no constraint: every object of the entity".to_string()),
            Some(c) => match (self.plan, key(c)) {
                (Plan::Naive, _) => (false, "the naive plan: every object of the entity".to_string()),
                (_, Some(k)) => (true, self.describe_key(e, &k)),
                (_, None) => (false, format!("no key, every object of the entity: {}", no_key(c))),
            },
        };
        ConstraintPlan { source, constraint: text, keyed, plan }
    }

    /// A key in words.
    fn describe_key(&self, e: EntityId, k: &Key) -> String {
        let program = self.program;
        let index = if self.plan == Plan::Indexed { "the reference index" } else { "a column scan" };
        match k {
            Key::Assoc(a, _) => format!("{index} on {}", program.assoc(*a).name),
            Key::Attribute { member, .. } => {
                format!("a column scan of {}", program.entity(e).members.get(*member).map_or("?", |m| m.name.as_str()))
            }
            Key::Or(parts) => {
                let each: Vec<String> = parts.iter().map(|p| self.describe_key(e, p)).collect();
                format!("the union of: {}", each.join("; "))
            }
            Key::Path { path, end } => {
                let Some(last) = path.steps.last() else { return String::new() };
                let far = program.entity(last.entity);
                let start = match (&path.end, end) {
                    (PathEnd::Attribute { member, .. }, Some(_)) => {
                        format!(
                            "a column scan of {}/{}",
                            far.name,
                            far.members.get(*member).map_or("?", |m| m.name.as_str())
                        )
                    }
                    (PathEnd::Object, Some(_)) => format!("the {} compared with", far.name),
                    (_, None) => format!("the {} its predicate's key finds", far.name),
                };
                let steps: Vec<String> = path
                    .steps
                    .iter()
                    .rev()
                    .map(|s| {
                        let name = &program.assoc(s.assoc).name;
                        if s.forward {
                            format!("{name} ({index})")
                        } else {
                            format!("{name} (its values)")
                        }
                    })
                    .collect();
                format!("a semi-join from the far end: {start}, then back through {}", steps.join(", "))
            }
        }
    }
}

/// Why a condition has no key, in words.
fn no_key(c: &Cond) -> String {
    match c {
        Cond::Not(_) => "`not(...)` holds for the objects a key would not find, so only a full check is exact".into(),
        Cond::Const(_) => "a constant".into(),
        Cond::Holds(_) => "a function of the object's members".into(),
        Cond::Exists(_) => "an existence test without a keyed predicate at its end reaches any object".into(),
        Cond::Compare { lhs, rhs, .. } => {
            let is_path = |o: &Operand| matches!(o, Operand::Path(_));
            if is_path(lhs) && is_path(rhs) {
                "it compares two members with each other".into()
            } else if matches!(lhs, Operand::Func { .. }) || matches!(rhs, Operand::Func { .. }) {
                "a function of the object's members".into()
            } else {
                "the object's own association compared otherwise than `=` with the user or a variable".into()
            }
        }
        Cond::And(parts) => match parts.first() {
            Some(first) => format!("no part has one; the first: {}", no_key(first)),
            None => "empty".into(),
        },
        Cond::Or(parts) => match parts.iter().find(|p| key(p).is_none()) {
            Some(part) => format!("a part of the `or` has none: {}", no_key(part)),
            None => "a part of the `or` has none".into(),
        },
    }
}
