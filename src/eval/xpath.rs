//! Evaluation of compiled XPath constraints over one object, with full rights
//! (constraints see every object, whatever the principal may read).

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;

use super::Op;
use super::{Engine, Vars};
use crate::model::functions::fold_case;
use crate::model::xpath::*;
use crate::model::*;
use crate::model::{CmpOp, Multiplicity};
use crate::store::{Object, ObjectId, Value};

/// How the values of one side of a comparison were reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// A constant, token, variable or function of them.
    Const,
    /// The object's own attribute or association.
    Own,
    /// Through associations: no values means no object was reached.
    Path,
}

/// The values of one side of a comparison.
#[derive(Clone, Debug)]
pub(crate) struct Side {
    pub(crate) values: Vec<Value>,
    pub(crate) reach: Reach,
}

/// What constraints are evaluated against: the engine's view, the user and the variables.
pub(crate) struct XEval<'a, 'p> {
    pub(crate) engine: &'a Engine<'p>,
    pub(crate) user: Option<ObjectId>,
    pub(crate) vars: Option<&'a Vars>,
    /// The acting principal's own view (section 4), for its retrieves: a path step follows
    /// an association only where the principal may read it on the object that holds it, to
    /// objects it may know of, and a member it may not read has no value (every comparison
    /// on it is false). Access-rule constraints are evaluated without it, with full rights.
    pub(crate) view: bool,
    /// Access-rule constraints: every object as committed, whatever the acting session
    /// changed in its copies or created (section 4: changing a copy never changes what the
    /// principal may do).
    committed: bool,
    /// Decisions made during this evaluation: nothing changes while a constraint is evaluated.
    seen: RefCell<HashMap<ObjectId, bool>>,
    readable: RefCell<HashMap<(ObjectId, usize), bool>>,
}

impl<'a, 'p> XEval<'a, 'p> {
    /// An evaluation with full rights, or in the acting principal's view (`view`; system has no other).
    pub(crate) fn new(engine: &'a Engine<'p>, vars: Option<&'a Vars>, view: bool) -> XEval<'a, 'p> {
        XEval {
            engine,
            user: engine.session().user,
            vars,
            view: view && !engine.is_system(),
            committed: false,
            seen: RefCell::default(),
            readable: RefCell::default(),
        }
    }

    /// An evaluation of access-rule constraints: full rights, over committed objects.
    pub(crate) fn rules(engine: &'a Engine<'p>) -> XEval<'a, 'p> {
        XEval { committed: true, ..XEval::new(engine, None, false) }
    }

    /// [`XEval::rules`] for the acting session's `user`, when the caller has looked it up.
    pub(crate) fn rules_of_user(engine: &'a Engine<'p>, user: Option<ObjectId>) -> XEval<'a, 'p> {
        XEval {
            engine,
            user,
            vars: None,
            view: false,
            committed: true,
            seen: RefCell::default(),
            readable: RefCell::default(),
        }
    }

    /// An object's entity, as this evaluation sees it.
    fn entity_of(&self, id: ObjectId) -> Option<EntityId> {
        if self.committed {
            self.engine.committed_entity_of(id)
        } else {
            self.engine.entity_of(id)
        }
    }

    /// An object, as this evaluation sees it.
    fn object(&self, id: ObjectId) -> Option<Cow<'a, Object>> {
        if self.committed {
            self.engine.committed_object(id)
        } else {
            self.engine.object(id)
        }
    }

    /// Records that the principal can see the object (the caller decided it already).
    pub(crate) fn mark_visible(&self, id: ObjectId) {
        self.seen.borrow_mut().insert(id, true);
    }

    /// Whether the acting principal can see the object.
    fn visible(&self, object: &Object) -> bool {
        if let Some(&known) = self.seen.borrow().get(&object.id) {
            return known;
        }
        let visible = self.engine.can_see(object);
        self.seen.borrow_mut().insert(object.id, visible);
        visible
    }

    /// Whether the acting principal may know of the object (see [`Engine::knows`]).
    fn known(&self, object: &Object) -> bool {
        object.id.role().is_some()
            || self.user == Some(object.id)
            || self.engine.session().uncommitted.contains_key(&object.id)
            || self.visible(object)
    }

    /// Whether the member has a value for this evaluation: always with full rights; in the
    /// principal's view, where it may read the member on the object.
    fn readable(&self, object: &Object, member: usize) -> bool {
        if !self.view {
            return true;
        }
        if let Some(&known) = self.readable.borrow().get(&(object.id, member)) {
            return known;
        }
        // When every applicable rule grants the member, it is readable exactly where the object is visible.
        let readable = if self.engine.read_implied(object.entity, member) {
            self.visible(object)
        } else {
            self.engine.allowed(Op::Read(member), object)
        };
        self.readable.borrow_mut().insert((object.id, member), readable);
        readable
    }

    /// Whether a term of an `and` or `or` holds, recorded for coverage.
    fn holds_term(&self, cond: &Cond, object: &Object) -> bool {
        let holds = self.holds(cond, object);
        if let Some(span) = cond.span() {
            self.engine.cover(|h| {
                h.terms.insert((super::coverage::key(span), holds));
            });
        }
        holds
    }

    /// Whether the condition holds for `object`.
    pub(crate) fn holds(&self, cond: &Cond, object: &Object) -> bool {
        match cond {
            Cond::Const(b) => *b,
            Cond::And(parts) => parts.iter().all(|c| self.holds_term(c, object)),
            Cond::Or(parts) => parts.iter().any(|c| self.holds_term(c, object)),
            Cond::Not(inner) => !self.holds(inner, object),
            Cond::Exists(path) => !self.reached(object, path).is_empty(),
            Cond::Compare { lhs, op, rhs, .. } => {
                if let Some(holds) = self.own_reference_is(lhs, *op, rhs, object) {
                    return holds;
                }
                let (l, r) = (self.side(lhs, object), self.side(rhs, object));
                // Comparing text costs its length, as anywhere else.
                let size: u64 = l.values.iter().chain(&r.values).map(super::size_steps).sum();
                if self.engine.charge(size) {
                    return false;
                }
                compare_sides(&l, *op, &r)
            }
            Cond::Holds(operand) => self.side(operand, object).values.iter().any(|v| matches!(v, Value::Boolean(true))),
        }
    }

    /// Whether [`XEval::holds_by_columns`] decides `cond` for objects of `entity` exactly as
    /// [`XEval::holds`] does: constants, `and`, `or`, `not(...)`, the object's own attributes
    /// compared with constants, tokens or variables (in the principal's view, only members
    /// readable wherever the object is visible), and, with full rights, its own reference
    /// compared with the user. Anything else walks paths and needs the object.
    pub(crate) fn column_checkable(&self, cond: &Cond, entity: EntityId) -> bool {
        column_checkable(self.engine.program, cond, entity, self.view.then_some(self.engine))
    }

    /// [`XEval::holds`] for the committed object `id` of `entity` (one the session has not
    /// changed), read from the store's columns without building it; only for conditions
    /// [`XEval::column_checkable`] accepts, and, in the principal's view, once the object is
    /// known to be visible.
    pub(crate) fn holds_by_columns(&self, cond: &Cond, id: ObjectId, entity: EntityId) -> bool {
        match cond {
            Cond::Const(b) => *b,
            Cond::And(parts) => parts.iter().all(|c| self.holds_by_columns(c, id, entity)),
            Cond::Or(parts) => parts.iter().any(|c| self.holds_by_columns(c, id, entity)),
            Cond::Not(inner) => !self.holds_by_columns(inner, id, entity),
            Cond::Compare { lhs, op, rhs, .. } => {
                let program = self.engine.program;
                if !self.view {
                    if let Some(step) = own_reference_step(lhs, *op, rhs) {
                        if let Some(index) = member_of(program, entity, step.assoc) {
                            let user = self.user.unwrap_or(ObjectId(0));
                            let plain = step.entity == program.assoc(step.assoc).to;
                            return points_at_user(self.engine.store.value(id, index), user, |t| {
                                plain || self.arrives(t, step.entity)
                            });
                        }
                    }
                }
                // An attribute against a constant or a token: one comparison, nothing built.
                let read = |member: usize| self.engine.store.value(id, member).unwrap_or(Value::Empty);
                let pair = match (own_attribute(lhs), own_attribute(rhs)) {
                    (Some(m), _) => self.single(rhs).map(|c| (read(m), c, false)),
                    (_, Some(m)) => self.single(lhs).map(|c| (read(m), c, true)),
                    _ => None,
                };
                if let Some((value, constant, flipped)) = pair {
                    if self.engine.charge(super::size_steps(&value) + super::size_steps(&constant)) {
                        return false;
                    }
                    return if flipped {
                        compare_values(&constant, *op, &value, false)
                    } else {
                        compare_values(&value, *op, &constant, false)
                    };
                }
                let placeholder = Object { id, entity, values: Vec::new() };
                let side = |operand: &Operand| match own_attribute(operand) {
                    Some(member) => Side {
                        values: vec![self.engine.store.value(id, member).unwrap_or(Value::Empty)],
                        reach: Reach::Own,
                    },
                    None => self.side(operand, &placeholder),
                };
                let (l, r) = (side(lhs), side(rhs));
                let size: u64 = l.values.iter().chain(&r.values).map(super::size_steps).sum();
                if self.engine.charge(size) {
                    return false;
                }
                compare_sides(&l, *op, &r)
            }
            Cond::Exists(_) | Cond::Holds(_) => false,
        }
    }

    /// `[Assoc = '[%CurrentUser%]']` on the object's own reference, decided without
    /// building value lists (the owner rule sits on every decision). `None`: not that shape.
    fn own_reference_is(&self, lhs: &Operand, op: CmpOp, rhs: &Operand, object: &Object) -> Option<bool> {
        if op != CmpOp::Eq || self.view {
            return None;
        }
        let (Operand::Path(path), Operand::Token(TokenExpr::CurrentUser)) = (lhs, rhs) else { return None };
        let [step] = path.steps.as_slice() else { return None };
        if !step.forward || step.filter.is_some() || !matches!(path.end, PathEnd::Object) {
            return None;
        }
        let user = self.user.unwrap_or(ObjectId(0));
        let program = self.engine.program;
        let index = member_of(program, object.entity, step.assoc)?;
        // A step to the association's declared target needs no look-up: deletes clear
        // references, so a referenced object exists and is of that entity.
        let plain = step.entity == program.assoc(step.assoc).to;
        let target = match &object.values[index] {
            Value::Object(id) => *id,
            Value::List(ids) => {
                return Some(ids.iter().any(|id| *id == user && (plain || self.arrives(*id, step.entity))))
            }
            _ => return Some(false),
        };
        Some(target == user && (plain || self.arrives(target, step.entity)))
    }

    /// Whether the object with `id` is of `entity` (the step's filter on entities).
    fn arrives(&self, id: ObjectId, entity: EntityId) -> bool {
        self.entity_of(id).is_some_and(|e| self.engine.program.is_a(e, entity))
    }

    /// The values of an operand for `object`.
    pub(crate) fn side(&self, operand: &Operand, object: &Object) -> Side {
        match operand {
            Operand::Value(v) => Side { values: vec![v.clone()], reach: Reach::Const },
            Operand::Token(t) => Side { values: vec![self.token(t)], reach: Reach::Const },
            Operand::Var { slot, .. } => {
                let value = self.vars.and_then(|v| v.get(*slot)).cloned().unwrap_or(Value::Empty);
                // A list (or text) copied for every object costs its size every time.
                self.engine.charge(super::size_steps(&value));
                let values = match value {
                    Value::List(ids) => ids.into_iter().map(Value::Object).collect(),
                    other => vec![other],
                };
                Side { values, reach: Reach::Const }
            }
            Operand::Path(path) => self.path_side(object, path),
            Operand::Func { func, args } => {
                let sides: Vec<Side> = args.iter().map(|a| self.side(a, object)).collect();
                let size: u64 = sides.iter().flat_map(|s| &s.values).map(super::size_steps).sum();
                self.engine.charge(size);
                let reach = if sides.iter().any(|s| s.reach == Reach::Path) { Reach::Path } else { Reach::Const };
                let first = sides.first().map(|s| s.values.clone()).unwrap_or_default();
                let second = sides.get(1).and_then(|s| s.values.first().cloned());
                let values = first.iter().map(|v| func.apply(v, second.as_ref())).collect();
                Side { values, reach }
            }
        }
    }

    /// A constant or a token side as its one value (`None`: another kind of side).
    fn single<'o>(&self, operand: &'o Operand) -> Option<Cow<'o, Value>> {
        match operand {
            Operand::Value(v) => Some(Cow::Borrowed(v)),
            Operand::Token(t) => Some(Cow::Owned(self.token(t))),
            _ => None,
        }
    }

    fn token(&self, t: &TokenExpr) -> Value {
        match t {
            // Without a user object, `[%CurrentUser%]` is no object at all: it equals nothing,
            // not even an unset owner (id 0 is never given out).
            TokenExpr::CurrentUser => Value::Object(self.user.unwrap_or(ObjectId(0))),
            TokenExpr::UserRole(r) => Value::Object(ObjectId::of_role(*r)),
            TokenExpr::Date(terms) => Value::DateTime(crate::time::date_terms(self.engine.now, terms)),
        }
    }

    fn path_side(&self, object: &Object, path: &Path) -> Side {
        // `[Assoc = ...]`: the object's own association, compared as a member (unset is `empty`).
        // A path that goes on to an attribute reaches no value when the association is unset.
        let own_association = path.steps.len() == 1
            && path.steps[0].forward
            && path.steps[0].filter.is_none()
            && matches!(path.end, PathEnd::Object);
        let reach = if path.steps.is_empty() || own_association { Reach::Own } else { Reach::Path };
        if reach == Reach::Own && self.view {
            // A member of the object itself that the principal may not read has no value at all
            // (not even `empty`); `id` always has one.
            let member = match (path.steps.first(), &path.end) {
                (Some(step), _) => member_of(self.engine.program, object.entity, step.assoc),
                (None, PathEnd::Attribute { member, .. }) => Some(*member),
                (None, PathEnd::Object) => None,
            };
            if member.is_some_and(|m| !self.readable(object, m)) {
                return Side { values: Vec::new(), reach: Reach::Path };
            }
        }
        let reached = self.reached(object, path);
        let values: Vec<Value> = match &path.end {
            PathEnd::Object => reached.into_iter().map(|o| Value::Object(o.id)).collect(),
            PathEnd::Attribute { member, .. } => {
                reached.into_iter().filter(|o| self.readable(o, *member)).map(|o| o.values[*member].clone()).collect()
            }
        };
        // The object's own association, unset: an empty value rather than no value.
        let values = if values.is_empty() && reach == Reach::Own { vec![Value::Empty] } else { values };
        Side { values, reach }
    }

    /// The objects a path's association steps arrive at (the object itself for none). In the
    /// principal's view, only through association members it may read, to objects it may know of.
    pub(crate) fn reached<'o>(&'o self, object: &'o Object, path: &Path) -> Vec<Cow<'o, Object>> {
        let program = self.engine.program;
        let mut current: Vec<Cow<'o, Object>> = vec![Cow::Borrowed(object)];
        for step in &path.steps {
            let mut next: Vec<Cow<'o, Object>> = Vec::new();
            for o in &current {
                if self.view && step.forward {
                    let member = member_of(program, o.entity, step.assoc);
                    if !member.is_some_and(|m| self.readable(o, m)) {
                        continue;
                    }
                }
                for id in self.step(o, step) {
                    if self.engine.charge(1) {
                        return Vec::new();
                    }
                    if next.iter().any(|n| n.id == id) {
                        continue;
                    }
                    let Some(entity) = self.entity_of(id) else { continue };
                    if !program.is_a(entity, step.entity) {
                        continue;
                    }
                    let Some(target) = self.object(id) else { continue };
                    if self.view {
                        if !self.known(&target) {
                            continue;
                        }
                        // Walking backwards, the object arrived at holds the association.
                        if !step.forward
                            && !member_of(program, entity, step.assoc).is_some_and(|m| self.readable(&target, m))
                        {
                            continue;
                        }
                    }
                    if let Some(filter) = &step.filter {
                        if !self.holds(filter, &target) {
                            continue;
                        }
                    }
                    next.push(target);
                }
            }
            current = next;
            if current.is_empty() {
                break;
            }
        }
        current
    }

    /// The ids one association step leads to from `object`.
    fn step(&self, object: &Object, step: &Step) -> Vec<ObjectId> {
        let program = self.engine.program;
        if step.forward {
            let Some(index) = member_of(program, object.entity, step.assoc) else { return Vec::new() };
            return match &object.values[index] {
                Value::Object(id) => vec![*id],
                Value::List(ids) => ids.clone(),
                _ => Vec::new(),
            };
        }
        // Backwards: the from-side objects that refer to this one.
        if self.committed {
            self.engine.committed_referrers(object.id, step.assoc)
        } else {
            self.engine.referrers_in_view(object.id, step.assoc)
        }
    }
}

/// The object's own attribute (a path without steps that ends in an attribute).
fn own_attribute(side: &Operand) -> Option<usize> {
    match side {
        Operand::Path(Path { steps, end: PathEnd::Attribute { member, .. }, .. }) if steps.is_empty() => Some(*member),
        _ => None,
    }
}

/// The step of `[Assoc = '[%CurrentUser%]']` on the object's own reference (one step forward,
/// no filter, ending in the object), the shape [`XEval::own_reference_is`] decides.
fn own_reference_step<'c>(lhs: &'c Operand, op: CmpOp, rhs: &Operand) -> Option<&'c Step> {
    let (Operand::Path(path), Operand::Token(TokenExpr::CurrentUser)) = (lhs, rhs) else { return None };
    let [step] = path.steps.as_slice() else { return None };
    (op == CmpOp::Eq && step.forward && step.filter.is_none() && matches!(path.end, PathEnd::Object)).then_some(step)
}

/// [`XEval::column_checkable`]: with full rights (`view` is `None`, as for access rules, so
/// that the answer depends only on the program and can be computed once per rule), or in the
/// view of the engine's acting principal.
pub(crate) fn column_checkable(program: &Program, cond: &Cond, entity: EntityId, view: Option<&Engine<'_>>) -> bool {
    match cond {
        Cond::Const(_) => true,
        Cond::And(parts) | Cond::Or(parts) => parts.iter().all(|c| column_checkable(program, c, entity, view)),
        Cond::Not(inner) => column_checkable(program, inner, entity, view),
        Cond::Compare { lhs, op, rhs, .. } => {
            if view.is_none()
                && own_reference_step(lhs, *op, rhs)
                    .is_some_and(|step| member_of(program, entity, step.assoc).is_some())
            {
                return true;
            }
            let constant = |s: &Operand| matches!(s, Operand::Value(_) | Operand::Token(_) | Operand::Var { .. });
            let member = match (own_attribute(lhs), own_attribute(rhs)) {
                (Some(m), _) if constant(rhs) => m,
                (_, Some(m)) if constant(lhs) => m,
                _ => return false,
            };
            view.is_none_or(|engine| engine.read_implied(entity, member))
        }
        Cond::Exists(_) | Cond::Holds(_) => false,
    }
}

/// How an access rule's constraint is decided from the columns of a committed object of its
/// entity, computed once per rule when the engine starts (see [`Engine::allowed_by_columns`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColumnRule {
    /// No constraint: the rule holds for every object.
    Always,
    /// `[Assoc = '[%CurrentUser%]']` on the object's own reference `member`; `plain` when the
    /// step goes to the association's declared target (else the target must be of `to`).
    OwnReference { member: usize, plain: bool, to: EntityId },
    /// Another constraint [`XEval::holds_by_columns`] decides.
    Columns,
    /// A constraint that needs the object (paths, functions of members...).
    Object,
}

impl ColumnRule {
    /// The form of `rule`'s constraint.
    pub(crate) fn of(program: &Program, rule: &AccessRuleDef) -> ColumnRule {
        let Some(cond) = &rule.constraint else { return ColumnRule::Always };
        if let Cond::Compare { lhs, op, rhs, .. } = cond {
            if let Some(step) = own_reference_step(lhs, *op, rhs) {
                if let Some(member) = member_of(program, rule.entity, step.assoc) {
                    let plain = step.entity == program.assoc(step.assoc).to;
                    return ColumnRule::OwnReference { member, plain, to: step.entity };
                }
            }
        }
        if column_checkable(program, cond, rule.entity, None) {
            ColumnRule::Columns
        } else {
            ColumnRule::Object
        }
    }
}

/// Whether an object's own reference (its value `value`) points at `user`, a target that
/// `arrives` (is of the entity the constraint's step names).
pub(crate) fn points_at_user(value: Option<Value>, user: ObjectId, arrives: impl Fn(ObjectId) -> bool) -> bool {
    match value {
        Some(Value::Object(t)) => t == user && arrives(t),
        Some(Value::List(ids)) => ids.iter().any(|t| *t == user && arrives(*t)),
        _ => false,
    }
}

/// The member index of an association on an entity (or a specialization of its owner).
pub(crate) fn member_of(program: &Program, entity: EntityId, assoc: AssocId) -> Option<usize> {
    program.entity(entity).members.iter().position(|m| m.kind == MemberKind::Association(assoc))
}

/// A comparison of two sides: existential over their values, with the empty-value rules of section 5.
pub(crate) fn compare_sides(l: &Side, op: CmpOp, r: &Side) -> bool {
    let both_paths = l.reach != Reach::Const && r.reach != Reach::Const;
    l.values.iter().any(|a| r.values.iter().any(|b| compare_values(a, op, b, both_paths)))
}

/// One comparison. `empty` on the right tests emptiness; an empty value on the
/// left satisfies only `!=`; between two attributes, an empty side makes it false.
pub(crate) fn compare_values(a: &Value, op: CmpOp, b: &Value, two_attributes: bool) -> bool {
    match (a, b) {
        (_, Value::Empty) | (Value::Empty, _) if two_attributes => false,
        (Value::Empty, Value::Empty) => op == CmpOp::Eq,
        (_, Value::Empty) | (Value::Empty, _) => op == CmpOp::Ne,
        // Strings: `=` and `!=` ignore case; the orderings compare code points.
        (Value::String(x), Value::String(y)) => match op {
            CmpOp::Eq => fold_case(x) == fold_case(y),
            CmpOp::Ne => fold_case(x) != fold_case(y),
            CmpOp::Lt => x < y,
            CmpOp::Le => x <= y,
            CmpOp::Gt => x > y,
            CmpOp::Ge => x >= y,
        },
        _ => match order(a, b) {
            Some(ordering) => match op {
                CmpOp::Eq => ordering == Ordering::Equal,
                CmpOp::Ne => ordering != Ordering::Equal,
                CmpOp::Lt => ordering == Ordering::Less,
                CmpOp::Le => ordering != Ordering::Greater,
                CmpOp::Gt => ordering == Ordering::Greater,
                CmpOp::Ge => ordering != Ordering::Less,
            },
            None => op == CmpOp::Ne,
        },
    }
}

/// How two non-empty values order (strings are handled by the caller).
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        (Value::Boolean(x), Value::Boolean(y)) => Some(x.cmp(y)),
        (Value::DateTime(x), Value::DateTime(y)) => Some(x.cmp(y)),
        (Value::Enum(e, x), Value::Enum(f, y)) if e == f => Some(x.cmp(y)),
        (Value::Object(x), Value::Object(y)) => Some(if x == y { Ordering::Equal } else { x.cmp(y) }),
        _ => match (a.as_decimal(), b.as_decimal()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => None,
        },
    }
}

/// Whether an association is a reference set.
pub(crate) fn is_set(program: &Program, assoc: AssocId) -> bool {
    program.assoc(assoc).multiplicity == Multiplicity::ReferenceSet
}
