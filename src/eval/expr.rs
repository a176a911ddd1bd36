//! Expressions, retrieves, microflow calls, sign-in, and the operations that
//! `expect allow|deny` and `explain` decide, over the resolved form.

use std::borrow::Cow;

use super::access::{Explanation, Op};
use super::exec::{not_checked, value_ids, Flow, Frame, Rights};
use super::xpath::compare_values;
use super::{codes, Engine, EvalError, SessionKey};
use crate::model::flow::{Expr, ExprKind, MemberRef, OpCheck, Source, Token};
use crate::model::functions::plain;
use crate::model::xpath::{DateToken, Unit};
use crate::model::*;
use crate::model::{BinOp, CmpOp};
use crate::source::Span;
use crate::store::{Object, ObjectId, Value};

/// How deep microflow calls may nest.
pub(crate) const MAX_CALL_DEPTH: usize = 64;

impl<'p> Engine<'p> {
    /// Evaluates an expression. A value an expression builds or copies (a variable's, a
    /// member's, the result of `+`, a list, a function) counts its size as steps.
    pub(crate) fn eval(&mut self, e: &Expr, frame: &mut Frame<'_>) -> Result<Value, EvalError> {
        let value = self.eval_value(e, frame)?;
        let sized = matches!(
            e.kind,
            ExprKind::Var(_)
                | ExprKind::Member { .. }
                | ExprKind::Binary { .. }
                | ExprKind::List(_)
                | ExprKind::Function { .. }
        );
        if sized && self.charge(super::size_steps(&value)) {
            return Err(self.runaway(e.span));
        }
        Ok(value)
    }

    fn eval_value(&mut self, e: &Expr, frame: &mut Frame<'_>) -> Result<Value, EvalError> {
        Ok(match &e.kind {
            ExprKind::Value(v) => v.clone(),
            ExprKind::Token(t) => self.token(*t),
            ExprKind::ObjectRef(id) => {
                if frame.rights == Rights::Principal && !self.knows(*id) {
                    return Err(self.unseen(*id, e.span));
                }
                Value::Object(*id)
            }
            ExprKind::Var(var) => match frame.vars.get(var.slot) {
                Some(v) => v.clone(),
                None => {
                    let message = format!("variable `${}` has no value here", var.name);
                    return Err(EvalError::new(codes::RUNTIME, message, var.span));
                }
            },
            // The acting principal's user object (empty for system).
            ExprKind::CurrentUser => self.current_user().map_or(Value::Empty, Value::Object),
            ExprKind::Member { object, member, member_span } => {
                let id = match self.eval(object, frame)? {
                    Value::Object(id) => id,
                    Value::Empty => {
                        let step = self.program.sources.slice(*member_span).to_string();
                        return Err(EvalError::new(
                            codes::RUNTIME,
                            format!("cannot read `{step}` of empty"),
                            *member_span,
                        ));
                    }
                    other => return Err(type_error("an object", &other, *member_span)),
                };
                if frame.rights == Rights::Principal && !self.knows(id) {
                    return Err(self.unseen(id, *member_span));
                }
                let object = self.object(id).map(Cow::into_owned).ok_or_else(|| {
                    EvalError::new(codes::RUNTIME, format!("object {id} does not exist (it was deleted)"), *member_span)
                })?;
                self.read_member(&object, member, *member_span, frame.rights)?
            }
            ExprKind::Binary { op: BinOp::And, lhs, rhs } => {
                Value::Boolean(self.condition(lhs, frame)? && self.condition(rhs, frame)?)
            }
            ExprKind::Binary { op: BinOp::Or, lhs, rhs } => {
                Value::Boolean(self.condition(lhs, frame)? || self.condition(rhs, frame)?)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (l, r) = (self.eval(lhs, frame)?, self.eval(rhs, frame)?);
                binary(*op, l, r, e.span)?
            }
            ExprKind::Neg(inner) => match self.eval(inner, frame)? {
                Value::Integer(i) => Value::Integer(i.checked_neg().ok_or_else(|| {
                    EvalError::new(codes::RUNTIME, "arithmetic overflow or division by zero", e.span)
                })?),
                Value::Decimal(d) => Value::Decimal(-d),
                Value::Empty => Value::Empty,
                other => return Err(type_error("a number", &other, inner.span)),
            },
            ExprKind::Not(inner) => Value::Boolean(!self.condition(inner, frame)?),
            ExprKind::If { cond, then, otherwise } => {
                if self.condition(cond, frame)? {
                    self.eval(then, frame)?
                } else {
                    self.eval(otherwise, frame)?
                }
            }
            ExprKind::List(items) => {
                let mut ids = Vec::new();
                for item in items {
                    ids.extend(value_ids(&self.eval(item, frame)?));
                }
                Value::List(ids)
            }
            ExprKind::Create { entity, values } => Value::Object(self.create(*entity, values, frame, e.span)?),
            ExprKind::Retrieve { first, source } => {
                let ids = self.retrieve(source, frame, e.span)?;
                if *first {
                    ids.first().map_or(Value::Empty, |id| Value::Object(*id))
                } else {
                    Value::List(ids)
                }
            }
            ExprKind::Call { flow, args } => self.call(*flow, args, frame, e.span)?,
            ExprKind::Function { func: crate::model::functions::Function::Count, args }
                if matches!(args.as_slice(), [Expr { kind: ExprKind::Retrieve { first: false, .. }, .. }]) =>
            {
                let ExprKind::Retrieve { source, .. } = &args[0].kind else { unreachable!("matched above") };
                match self.retrieve_count(source, frame, args[0].span)? {
                    Some(n) => Value::Integer(n as i64),
                    None => Value::Integer(self.retrieve(source, frame, args[0].span)?.len() as i64),
                }
            }
            ExprKind::Function { func, args } => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.eval(a, frame)?);
                }
                func.apply(&values).map_err(|m| type_error(m.expected, &m.found, e.span))?
            }
            ExprKind::Request(request) => {
                let response = self.send(request, frame)?;
                match (response.status, response.instance) {
                    (200, Some(id)) => Value::Instance(id),
                    (200, None) => Value::Integer(200),
                    _ => {
                        let message = format!("the request was refused: {} ({})", response.summary(), response.reason);
                        return Err(EvalError::new(codes::ACCESS, message, e.span));
                    }
                }
            }
            ExprKind::Invalid => return Err(not_checked(e.span)),
        })
    }

    pub(crate) fn condition(&mut self, e: &Expr, frame: &mut Frame<'_>) -> Result<bool, EvalError> {
        match self.eval(e, frame)? {
            Value::Boolean(b) => Ok(b),
            other => Err(type_error("a Boolean", &other, e.span)),
        }
    }

    /// One object from an expression (an error for `empty`).
    pub(crate) fn object_value(&mut self, e: &Expr, frame: &mut Frame<'_>) -> Result<ObjectId, EvalError> {
        match self.eval(e, frame)? {
            Value::Object(id) => Ok(id),
            other => Err(type_error("an object", &other, e.span)),
        }
    }

    /// The objects of an object or list expression (`empty` gives none).
    pub(crate) fn objects_value(&mut self, e: &Expr, frame: &mut Frame<'_>) -> Result<Vec<ObjectId>, EvalError> {
        match self.eval(e, frame)? {
            Value::Object(id) => Ok(vec![id]),
            Value::List(ids) => Ok(ids),
            Value::Empty => Ok(Vec::new()),
            other => Err(type_error("an object or a list", &other, e.span)),
        }
    }

    fn token(&mut self, t: Token) -> Value {
        match t {
            Token::CurrentUser => self.current_user().map_or(Value::Empty, Value::Object),
            Token::UserRole(r) => Value::Object(ObjectId::of_role(r)),
            Token::Date(DateToken::Length(unit)) => match unit {
                Unit::Month => Value::Duration { months: 1, millis: 0 },
                Unit::Year => Value::Duration { months: 12, millis: 0 },
                other => Value::Duration { months: 0, millis: crate::time::add_length(0, other, 1) },
            },
            Token::Date(token) => Value::DateTime(crate::time::date_terms(
                self.now,
                &[crate::model::xpath::DateTerm { factor: 1, token }],
            )),
        }
    }

    /// The member of a resolved reference on this object (by name for a `Dynamic` one). A
    /// value whose entity was not known when it was checked (`#5`) can reach a variable of
    /// another entity: then it is a value of the wrong kind.
    pub(crate) fn resolve_member(
        &self,
        object: &Object,
        member: &MemberRef,
        span: Span,
    ) -> Result<MemberRef, EvalError> {
        let (name, module) = match member {
            MemberRef::Member { entity, .. } => {
                return self.expect_entity(object, *entity, span).map(|()| member.clone())
            }
            MemberRef::Reverse(a) => {
                return self.expect_entity(object, self.program.assoc(*a).to, span).map(|()| member.clone())
            }
            MemberRef::Dynamic { name, module } => (name, module),
        };
        let def = self.program.entity(object.entity);
        if let Some(i) = def.member(name).or_else(|| module.as_ref().and_then(|m| def.member(&format!("{m}.{name}")))) {
            return Ok(MemberRef::Member { entity: object.entity, index: i });
        }
        let qualified = match module {
            Some(m) if !name.contains('.') => format!("{m}.{name}"),
            _ => name.to_string(),
        };
        let program = self.program;
        (0..program.associations.len() as u32)
            .map(AssocId)
            .find(|&a| program.assoc(a).name == qualified && program.is_a(object.entity, program.assoc(a).to))
            .map(MemberRef::Reverse)
            .ok_or_else(|| EvalError::new(codes::RUNTIME, format!("`{}` has no member `{name}`", def.name), span))
    }

    /// That an object is of `entity` (or a specialization), else a run-time type error.
    pub(crate) fn expect_entity(&self, object: &Object, entity: EntityId, span: Span) -> Result<(), EvalError> {
        if self.program.is_a(object.entity, entity) {
            return Ok(());
        }
        let (want, found) = (&self.program.entity(entity).name, &self.program.entity(object.entity).name);
        Err(EvalError::new(
            codes::RUNTIME,
            format!("expected an object of {want}, and {} is a {found}", object.id),
            span,
        ))
    }

    /// One member of an object the caller may know of. With the principal's rights, the
    /// member must be readable, and an association yields only the objects the principal
    /// may know of (walking backwards, only those that let it read the association).
    fn read_member(
        &mut self,
        object: &Object,
        member: &MemberRef,
        span: Span,
        rights: Rights,
    ) -> Result<Value, EvalError> {
        let principal = rights == Rights::Principal;
        match self.resolve_member(object, member, span)? {
            MemberRef::Member { index: i, .. } => {
                let def = self.program.entity(object.entity);
                if principal && !self.allowed(Op::Read(i), object) {
                    let what = format!("may not read `{}` of {} {}", def.members[i].name, def.name, object.id);
                    return Err(self.denied(what, span));
                }
                let value = object.values[i].clone();
                Ok(match value {
                    Value::Object(id) if principal && !self.knows(id) => Value::Empty,
                    Value::List(ids) if principal => {
                        Value::List(ids.into_iter().filter(|id| self.knows(*id)).collect())
                    }
                    other => other,
                })
            }
            // An association followed backwards: the objects that refer to this one.
            MemberRef::Reverse(assoc) => {
                let ids = self.referrers_in_view(object.id, assoc);
                Ok(Value::List(if principal { self.readable_referrers(ids, assoc) } else { ids }))
            }
            MemberRef::Dynamic { .. } => unreachable!("resolve_member resolves dynamic members"),
        }
    }

    /// The referrers the principal may know of and whose association it may read.
    fn readable_referrers(&self, ids: Vec<ObjectId>, assoc: AssocId) -> Vec<ObjectId> {
        ids.into_iter()
            .filter(|id| {
                let Some(o) = self.object(*id) else { return false };
                let Some(member) = super::xpath::member_of(self.program, o.entity, assoc) else { return false };
                self.knows(*id) && self.allowed(Op::Read(member), &o)
            })
            .collect()
    }

    /// `count(retrieve ...)` from the store without listing the answer, where the plan allows
    /// (see [`Engine::retrieve_count`]); `None`: the caller lists it.
    fn retrieve_count(
        &mut self,
        source: &Source,
        frame: &mut Frame<'_>,
        span: Span,
    ) -> Result<Option<usize>, EvalError> {
        let Source::Database { entity, constraint } = source else { return Ok(None) };
        if frame.rights == Rights::Principal && !self.gate_open() {
            return Err(self.denied("may not read data: the app is not public".into(), span));
        }
        let Some((n, charge)) = self.retrieve_count_planned(*entity, constraint.as_ref(), frame.rights) else {
            return Ok(None);
        };
        if self.charge(charge) {
            return Err(self.runaway(span));
        }
        Ok(Some(n))
    }

    /// `retrieve`: from the store (with constraints) or along an association.
    fn retrieve(&mut self, source: &Source, frame: &mut Frame<'_>, span: Span) -> Result<Vec<ObjectId>, EvalError> {
        if frame.rights == Rights::Principal && !self.gate_open() {
            return Err(self.denied("may not read data: the app is not public".into(), span));
        }
        match source {
            Source::Database { entity, constraint } => {
                let vars = &*frame.vars;
                let candidates = match self.retrieve_candidates(*entity, constraint.as_ref(), vars, frame.rights) {
                    super::plan::Candidates::Answer(ids) => {
                        if self.charge(ids.len() as u64) {
                            return Err(self.runaway(span));
                        }
                        return Ok(ids);
                    }
                    super::plan::Candidates::Exact { ids, charge } => {
                        if self.charge(charge.unwrap_or(ids.len() as u64)) {
                            return Err(self.runaway(span));
                        }
                        return Ok(ids);
                    }
                    super::plan::Candidates::Check { ids, charge, visible } => {
                        if charge.is_some_and(|n| self.charge(n)) {
                            return Err(self.runaway(span));
                        }
                        (ids, charge.is_none(), visible)
                    }
                };
                let (candidates, per_candidate, visible) = candidates;
                // The principal's own constraint runs in its view: it reveals nothing it may not read.
                let principal = frame.rights == Rights::Principal;
                let x = if principal { self.xview(Some(vars)) } else { self.xeval(Some(vars)) };
                let session = self.session();
                let mut out = Vec::new();
                // Whether the retrieve's own constraint is decided from the columns, per entity.
                let mut by_columns: Vec<(EntityId, bool)> = Vec::new();
                for id in candidates {
                    if per_candidate && self.charge(1) {
                        return Err(self.runaway(span));
                    }
                    // A committed object the session has not changed is judged from the store's
                    // columns, without building it, where every rule and the constraint allow.
                    let columns = self.plan != super::Plan::Naive;
                    if columns && !session.uncommitted.contains_key(&id) && !session.new.contains(&id) {
                        if let Some(e) = self.store.entity_of(id) {
                            let at = by_columns.iter().position(|(x, _)| *x == e).unwrap_or_else(|| {
                                let ok = constraint.as_ref().is_none_or(|c| x.column_checkable(c, e));
                                by_columns.push((e, ok));
                                by_columns.len() - 1
                            });
                            let seen = if !by_columns[at].1 {
                                None
                            } else if principal && !visible {
                                self.allowed_by_columns(Op::See, id, e)
                            } else {
                                Some(true)
                            };
                            if let Some(seen) = seen {
                                if seen && constraint.as_ref().is_none_or(|c| x.holds_by_columns(c, id, e)) {
                                    out.push(id);
                                }
                                continue;
                            }
                        }
                    }
                    // Database retrieves see committed objects (as this session changed them)
                    // and the session's own non-persistent objects; never others' uncommitted ones.
                    let Some(object) = self.object(id) else { continue };
                    let persistent = self.program.entity(object.entity).persistent;
                    if persistent && session.new.contains(&id) {
                        continue;
                    }
                    if principal {
                        if !self.can_see(&object) {
                            continue;
                        }
                        x.mark_visible(id);
                    }
                    if let Some(c) = constraint {
                        if !x.holds(c, &object) {
                            continue;
                        }
                    }
                    out.push(id);
                }
                if self.exhausted() {
                    return Err(self.runaway(span));
                }
                Ok(out)
            }
            // With the principal's rights, the association yields only what it may know of.
            Source::Association(path) => Ok(value_ids(&self.eval(path, frame)?)),
        }
    }

    /// Calls a microflow: checks `allow` when called from outside, binds parameters,
    /// runs the body with full rights or the caller's (`apply entity access`).
    pub(crate) fn call(
        &mut self,
        id: MicroflowId,
        args: &[Expr],
        frame: &mut Frame<'_>,
        span: Span,
    ) -> Result<Value, EvalError> {
        let program = self.program;
        let def = program.microflow(id);
        let from_outside = frame.stack.is_empty();
        if from_outside && frame.rights == Rights::Principal {
            if let Err(why) = self.may_call(id) {
                let mut e = self.denied(why, span);
                e.help = self.call_help(id);
                return Err(e);
            }
        }
        if frame.stack.len() >= MAX_CALL_DEPTH {
            let e = EvalError::new(codes::RUNAWAY, format!("calls nested deeper than {MAX_CALL_DEPTH} levels"), span);
            return Err(e.with_help("a microflow calls itself without end"));
        }
        // Parameters are the first slots of the microflow's frame, in order.
        let mut vars = super::Vars::new();
        for (slot, value) in args.iter().enumerate() {
            let v = self.eval(value, frame)?;
            // From outside, a principal passes only objects it may know of.
            if from_outside && frame.rights == Rights::Principal {
                if let Some(id) = value_ids(&v).into_iter().find(|id| !self.knows(*id)) {
                    return Err(self.unseen(id, value.span));
                }
            }
            vars.set(slot, v);
        }
        let mut stack = frame.stack.clone();
        stack.push(def.name.to_string());
        let rights = if def.apply_access { Rights::Principal } else { Rights::Full };
        let mut inner = Frame { vars: &mut vars, rights, given: false, stack };
        match self.exec_block(&def.body.stmts, &mut inner) {
            Ok(Flow::Return(v)) => Ok(v),
            Ok(Flow::Normal(_)) => Ok(Value::Empty),
            Err(mut e) => {
                if e.stack.is_empty() {
                    e.stack = inner.stack.clone();
                }
                Err(e)
            }
        }
    }

    /// Whether the acting principal may call a microflow from outside; the reason when not.
    pub(crate) fn may_call(&self, id: MicroflowId) -> Result<(), String> {
        if self.is_system() {
            return Ok(());
        }
        let def = self.program.microflow(id);
        self.cover(|h| {
            h.microflows.insert(id.0);
        });
        if !self.gate_open() {
            return Err(format!("may not call {}: the app is not public", def.name));
        }
        let roles = &self.session().module_roles;
        if def.allow.iter().any(|r| roles.binary_search(r).is_ok()) {
            return Ok(());
        }
        let others = self.roles_that_may_call(id);
        if self.is_anonymous() && !others.is_empty() {
            return Err(format!("may not call {}: sign in required (allowed for {})", def.name, others.join(", ")));
        }
        if def.allow.is_empty() {
            return Err(format!("may not call {}: no role may call it (it has no `allow`)", def.name));
        }
        let allowed: Vec<&str> = def.allow.iter().map(|r| self.program.module_role(*r).name.as_str()).collect();
        let (one, them) = if allowed.len() == 1 { ("", "it") } else { ("s", "any of them") };
        let through = match others.len() {
            0 => "no user role holds".to_string(),
            1 => format!("user role {} holds", others[0]),
            _ => format!("user roles {} hold", others.join(", ")),
        };
        Err(format!(
            "may not call {}: only module role{one} {} may ({through} {them}), and {} does not hold {them}",
            def.name,
            allowed.join(", "),
            self.principal_name()
        ))
    }

    /// How to let the acting principal call a microflow it may not call (none when signing in is the way).
    pub(crate) fn call_help(&self, id: MicroflowId) -> Option<String> {
        let def = self.program.microflow(id);
        if !self.gate_open() || (self.is_anonymous() && !self.roles_that_may_call(id).is_empty()) {
            return None;
        }
        let name = def.name.rsplit('.').next().unwrap_or(&def.name);
        let mine: Vec<&str> =
            self.session().module_roles.iter().map(|r| self.program.module_role(*r).name.as_str()).collect();
        Some(match mine.first() {
            Some(role) => format!(
                "if {} should call it, add one of its module roles to the microflow: `microflow {name}(...) allow {role}`",
                self.principal_name()
            ),
            None => format!("add `allow ROLE` to `microflow {name}` for the module roles that may call it"),
        })
    }

    /// The user roles (other than the anonymous one) whose module roles may call a microflow.
    pub(crate) fn roles_that_may_call(&self, id: MicroflowId) -> Vec<String> {
        let def = self.program.microflow(id);
        self.program
            .user_roles
            .iter()
            .filter(|r| !r.anonymous && r.module_roles.iter().any(|m| def.allow.contains(m)))
            .map(|r| r.name.to_string())
            .collect()
    }

    pub(crate) fn expect_sign_in_call(&mut self, id: MicroflowId, span: Span) -> Result<(), EvalError> {
        match self.may_call(id) {
            Err(why) if why.contains("sign in required") => Ok(()),
            Err(why) => {
                Err(EvalError::new(codes::EXPECTATION, format!("expected sign-in to be required, but {why}"), span))
            }
            Ok(()) => Err(EvalError::new(
                codes::EXPECTATION,
                format!("expected sign-in to be required, but {} may call it", self.principal_name()),
                span,
            )),
        }
    }

    /// The decision and explanation of an operation of `expect allow|deny` and `explain`.
    pub(crate) fn explain_op(&mut self, op: &OpCheck, frame: &mut Frame<'_>) -> Result<Explanation, EvalError> {
        let principal = self.principal_name();
        match op {
            OpCheck::Read { object, member } => {
                let (object, member) = self.op_target(object, member.as_ref(), frame)?;
                let entity = self.program.entity(object.entity);
                let (op, what) = match member {
                    None => (Op::See, format!("see {} {}", entity.name, object.id)),
                    Some(m) => {
                        (Op::Read(m), format!("read {} of {} {}", entity.members[m].name, entity.name, object.id))
                    }
                };
                Ok(self.explain(op, &object, &what))
            }
            OpCheck::Write { object: target, member } => {
                let (object, member) = self.op_target(target, Some(member), frame)?;
                let entity = self.program.entity(object.entity);
                let m = member.ok_or_else(|| not_checked(target.span))?;
                let what = format!("write {} of {} {}", entity.members[m].name, entity.name, object.id);
                Ok(self.explain(Op::Write(m), &object, &what))
            }
            OpCheck::Delete(e) => {
                // The object is asked about, not read: named with full rights, as for `read`.
                let rights = std::mem::replace(&mut frame.rights, Rights::Full);
                let id = self.object_value(e, frame);
                frame.rights = rights;
                let id = id?;
                let object = self
                    .object(id)
                    .map(Cow::into_owned)
                    .ok_or_else(|| EvalError::new(codes::RUNTIME, format!("object {id} does not exist"), e.span))?;
                let what = format!("delete {} {}", self.program.entity(object.entity).name, id);
                Ok(self.explain(Op::Delete, &object, &what))
            }
            OpCheck::Create(entity) => {
                let probe = Object::new(self.program, ObjectId(0), *entity);
                Ok(self.explain(Op::Create, &probe, &format!("create {}", self.program.entity(*entity).name)))
            }
            OpCheck::Call(id) => {
                let result = self.may_call(*id);
                let def = self.program.microflow(*id);
                let allowed_roles: Vec<String> =
                    def.allow.iter().map(|r| self.program.module_role(*r).name.to_string()).collect();
                let reason = match &result {
                    Ok(()) if self.is_system() => "system has full rights".to_string(),
                    Ok(()) => {
                        format!("{principal} holds one of its allowed module roles ({})", allowed_roles.join(", "))
                    }
                    // `may not call M.F: REASON` -> `REASON`
                    Err(why) => why.split_once(": ").map_or(why.as_str(), |(_, r)| r).to_string(),
                };
                Ok(Explanation {
                    decision: if result.is_ok() { "allow" } else { "deny" },
                    principal,
                    operation: format!("call {}", def.name),
                    reason,
                    rules: Vec::new(),
                })
            }
        }
    }

    /// The object (and member, if any) a `read`/`write` operation is about, named with full rights.
    fn op_target(
        &mut self,
        object: &Expr,
        member: Option<&(MemberRef, Span)>,
        frame: &mut Frame<'_>,
    ) -> Result<(Object, Option<usize>), EvalError> {
        let rights = std::mem::replace(&mut frame.rights, Rights::Full);
        let value = self.eval(object, frame);
        frame.rights = rights;
        let id = match value? {
            Value::Object(id) => id,
            other => return Err(type_error("an object", &other, object.span)),
        };
        // An object of another session (uncommitted, or non-persistent) is asked about, not read.
        let object = self
            .object(id)
            .or_else(|| self.sessions.values().find_map(|s| s.uncommitted.get(&id)).map(Cow::Borrowed))
            .map(Cow::into_owned)
            .ok_or_else(|| EvalError::new(codes::RUNTIME, format!("object {id} does not exist"), object.span))?;
        let member = match member {
            None => None,
            Some((m, span)) => match self.resolve_member(&object, m, *span)? {
                MemberRef::Member { index, .. } => Some(index),
                _ => {
                    let name = self.program.sources.slice(*span).to_string();
                    let entity = &self.program.entity(object.entity).name;
                    return Err(EvalError::new(codes::RUNTIME, format!("`{entity}` has no member `{name}`"), *span));
                }
            },
        };
        Ok((object, member))
    }

    /// Signs an anonymous session in as `user`: runs the sign-in microflow, deletes the
    /// anonymous user with every delete behaviour, and hands the session to the user.
    /// A failure changes nothing.
    pub(crate) fn sign_in(&mut self, user: &str, span: Span) -> Result<(), EvalError> {
        let SessionKey::Anonymous(_) = self.current else {
            let e = EvalError::new(
                codes::PRINCIPAL,
                format!("{} is not an anonymous session", self.principal_name()),
                span,
            );
            return Err(e.with_help("switch to one with `as anonymous 'NAME'` first"));
        };
        let target = self.user_object(user).ok_or_else(|| {
            // The anonymous session asks: no other user's Name is suggested to it.
            EvalError::new(codes::PRINCIPAL, format!("no user named `{user}`"), span)
        })?;
        self.transaction(span, |engine| {
            let anonymous_key = engine.current.clone();
            let anonymous_user = engine.current_user();
            // The sign-in microflow runs as the signed-in user, with full rights.
            engine.enter_user(target);
            let program = engine.program;
            if let (Some(flow), Some(anon)) = (program.app.sign_in, anonymous_user) {
                let def = program.microflow(flow);
                let mut vars = super::Vars::new();
                // INVARIANT: the checker holds the sign-in microflow to these two parameters (E0302).
                for (name, value) in [("AnonymousUser", anon), ("SignedInUser", target)] {
                    if let Some(slot) = def.scope.slot(name) {
                        vars.set(slot, Value::Object(value));
                    }
                }
                let mut frame =
                    Frame { vars: &mut vars, rights: Rights::Full, given: false, stack: vec![def.name.to_string()] };
                engine.exec_block(&def.body.stmts, &mut frame)?;
            }
            if let Some(anon) = anonymous_user {
                engine.delete(anon, Rights::Full, span)?;
            }
            // The session is the user's from now on; its non-persistent objects are dropped.
            engine.sessions.remove(&anonymous_key);
            Ok(())
        })
    }
}

fn type_error(expected: &str, found: &Value, span: Span) -> EvalError {
    let found = match found {
        Value::Empty => "empty".to_string(),
        Value::String(_) => "a string".into(),
        Value::Integer(_) | Value::Decimal(_) => "a number".into(),
        Value::Boolean(_) => "a Boolean".into(),
        Value::DateTime(_) => "a date and time".into(),
        Value::Enum(..) => "an enumeration value".into(),
        Value::Object(_) => "an object".into(),
        Value::List(_) => "a list".into(),
        Value::Duration { .. } => "a length".into(),
        Value::Instance(_) => "an instance".into(),
    };
    EvalError::new(codes::RUNTIME, format!("expected {expected}, found {found}"), span)
}

/// Arithmetic and comparison of two values (Integer widens to Decimal).
fn binary(op: BinOp, l: Value, r: Value, span: Span) -> Result<Value, EvalError> {
    if let BinOp::Cmp(c) = op {
        return Ok(Value::Boolean(expr_compare(&l, c, &r)));
    }
    match (op, &l, &r) {
        (BinOp::Add, Value::String(a), _) => return Ok(Value::String(format!("{a}{}", plain(&r)))),
        (BinOp::Add, _, Value::String(b)) => return Ok(Value::String(format!("{}{b}", plain(&l)))),
        (BinOp::Add | BinOp::Sub, Value::DateTime(t), Value::Duration { months, millis }) => {
            // Past the range of instants the result saturates, as `addDays` does: it is then
            // refused where it would be stored, and never wraps round to a storable instant.
            let sign: i64 = if op == BinOp::Add { 1 } else { -1 };
            let moved =
                crate::time::add_months(*t, sign.saturating_mul(*months)).saturating_add(sign.saturating_mul(*millis));
            return Ok(Value::DateTime(moved));
        }
        (BinOp::Mul, Value::Integer(n), Value::Duration { months, millis })
        | (BinOp::Mul, Value::Duration { months, millis }, Value::Integer(n)) => {
            return match (months.checked_mul(*n), millis.checked_mul(*n)) {
                (Some(months), Some(millis)) => Ok(Value::Duration { months, millis }),
                _ => Err(EvalError::new(codes::RUNTIME, "arithmetic overflow or division by zero", span)),
            };
        }
        _ => {}
    }
    if l.is_empty() || r.is_empty() {
        return Ok(Value::Empty);
    }
    if let (Value::Integer(a), Value::Integer(b), false) = (&l, &r, op == BinOp::Div) {
        let result = match op {
            BinOp::Add => a.checked_add(*b),
            BinOp::Sub => a.checked_sub(*b),
            BinOp::Mul => a.checked_mul(*b),
            // `rem_euclid` panics on `i64::MIN mod -1` even without overflow checks; the
            // wrapping form gives its exact value, 0.
            _ => (*b != 0).then(|| a.wrapping_rem_euclid(*b)),
        };
        return result
            .map(Value::Integer)
            .ok_or_else(|| EvalError::new(codes::RUNTIME, "arithmetic overflow or division by zero", span));
    }
    let (Some(a), Some(b)) = (l.as_decimal(), r.as_decimal()) else {
        return Err(type_error("numbers", if l.as_decimal().is_none() { &l } else { &r }, span));
    };
    let result = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::Div => a.checked_div(b),
        _ => a.checked_rem(b),
    };
    result
        .map(Value::Decimal)
        .ok_or_else(|| EvalError::new(codes::RUNTIME, "arithmetic overflow or division by zero", span))
}

/// Comparison in expressions: exact (case-sensitive) for strings, numbers across types.
fn expr_compare(l: &Value, op: CmpOp, r: &Value) -> bool {
    match (l, r) {
        (Value::Empty, Value::Empty) => op == CmpOp::Eq,
        (Value::Empty, _) | (_, Value::Empty) => op == CmpOp::Ne,
        (Value::String(a), Value::String(b)) => match op {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            _ => compare_values(l, op, r, false),
        },
        (Value::List(a), Value::List(b)) => (a == b) == (op == CmpOp::Eq),
        _ => compare_values(l, op, r, false),
    }
}
