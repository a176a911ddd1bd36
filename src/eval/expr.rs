//! Expressions, retrieves, microflow calls, sign-in, and the operations that
//! `expect allow|deny` and `explain` decide.

use std::borrow::Cow;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use smol_str::SmolStr;

use super::access::{Explanation, Op};
use super::exec::{value_ids, Flow, Frame, Rights};
use super::xpath::compare_values;
use super::{codes, Engine, EvalError, SessionKey};
use crate::model::xpath::{date_token, DateToken, Unit};
use crate::model::*;
use crate::source::Span;
use crate::store::{Object, ObjectId, Value};
use crate::syntax::ast::{self, BinOp, CmpOp, Expr, ExprKind, OpCheck};

/// How deep microflow calls may nest.
pub const MAX_CALL_DEPTH: usize = 64;

impl<'p> Engine<'p> {
    pub(crate) fn eval(&mut self, e: &Expr, frame: &mut Frame<'_>) -> Result<Value, EvalError> {
        Ok(match &e.kind {
            ExprKind::String(s) => Value::String(s.clone()),
            ExprKind::Number(n) if n.integer && n.value.to_i64().is_some() => {
                Value::Integer(n.value.to_i64().unwrap_or(0))
            }
            ExprKind::Number(n) => Value::Decimal(n.value),
            ExprKind::Bool(b) => Value::Boolean(*b),
            ExprKind::Empty => Value::Empty,
            ExprKind::Token(t) => self.token(&t.name),
            ExprKind::DateTime(s) => Value::DateTime(crate::time::parse_instant(&s.value).unwrap_or_default()),
            ExprKind::ObjectRef(id) => {
                let id = ObjectId(*id);
                if frame.rights == Rights::Principal && !self.knows(id) {
                    return Err(self.unseen(id, e.span));
                }
                Value::Object(id)
            }
            ExprKind::Path(p) => self.member_path(p, frame)?,
            ExprKind::Name(q) => self.enum_value(q, frame).unwrap_or(Value::Empty),
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
            ExprKind::Create { entity, values } => {
                let id = self.entity_id(entity, frame)?;
                Value::Object(self.create(id, values, frame, e.span)?)
            }
            ExprKind::Retrieve { first, source } => {
                let ids = self.retrieve(source, frame, e.span)?;
                if *first {
                    ids.first().map_or(Value::Empty, |id| Value::Object(*id))
                } else {
                    Value::List(ids)
                }
            }
            ExprKind::Call { flow, args } => self.call(flow, args, frame, e.span)?,
            ExprKind::Function { name, args } => {
                let mut values = Vec::new();
                for a in args {
                    values.push(self.eval(a, frame)?);
                }
                function(&name.name, values, e.span)?
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

    fn token(&mut self, name: &str) -> Value {
        if name == "CurrentUser" {
            return self.current_user().map_or(Value::Empty, Value::Object);
        }
        if let Some(role) = name.strip_prefix("UserRole_") {
            return self.program.user_role_by_name(role).map_or(Value::Empty, |r| Value::Object(ObjectId::of_role(r)));
        }
        match date_token(name) {
            Some(DateToken::Length(unit)) => match unit {
                Unit::Month => Value::Duration { months: 1, millis: 0 },
                Unit::Year => Value::Duration { months: 12, millis: 0 },
                other => Value::Duration { months: 0, millis: crate::time::add_length(0, other, 1) },
            },
            Some(token) => Value::DateTime(crate::time::date_terms(
                self.now,
                &[crate::model::xpath::DateTerm { factor: 1, token }],
            )),
            None => Value::Empty,
        }
    }

    fn enum_value(&self, q: &ast::QName, frame: &Frame<'_>) -> Option<Value> {
        let parts = &q.parts;
        let value = parts.last()?;
        let enum_name = parts[..parts.len() - 1].join(".");
        let e = self.program.enum_by_name(&enum_name).or_else(|| {
            let module = frame.module.as_ref()?;
            self.program.enum_by_name(&format!("{module}.{enum_name}"))
        })?;
        let index = self.program.enumeration(e).values.iter().position(|v| v == value)?;
        Some(Value::Enum(e, index as u32))
    }

    pub(crate) fn entity_id(&self, q: &ast::QName, frame: &Frame<'_>) -> Result<EntityId, EvalError> {
        let name = q.to_string();
        self.program
            .entity_by_name(&name)
            .or_else(|| frame.module.as_ref().and_then(|m| self.program.entity_by_name(&format!("{m}.{name}"))))
            .ok_or_else(|| EvalError::new(codes::RUNTIME, format!("unknown entity `{name}`"), q.span))
    }

    /// `$v/Member/...`, reading with the frame's rights.
    fn member_path(&mut self, p: &ast::MemberPath, frame: &mut Frame<'_>) -> Result<Value, EvalError> {
        let principal = frame.rights == Rights::Principal;
        let mut value = match frame.vars.get(&p.var.name) {
            Some(v) => v.clone(),
            None if p.object().is_some() => {
                let id = ObjectId(p.object().unwrap_or_default());
                if principal && !self.knows(id) {
                    return Err(self.unseen(id, p.var.span));
                }
                Value::Object(id)
            }
            // The implicit `$currentUser`: the acting principal's user object (empty for system).
            None if p.var.name == "currentUser" => self.current_user().map_or(Value::Empty, Value::Object),
            None => {
                let message = format!("variable `${}` has no value here", p.var.name);
                return Err(EvalError::new(codes::RUNTIME, message, p.var.span));
            }
        };
        for step in &p.steps {
            let id = match value {
                Value::Object(id) => id,
                Value::Empty => {
                    return Err(EvalError::new(codes::RUNTIME, format!("cannot read `{step}` of empty"), step.span));
                }
                other => return Err(type_error("an object", &other, step.span)),
            };
            if principal && !self.knows(id) {
                return Err(self.unseen(id, step.span));
            }
            let object = self.object(id).map(Cow::into_owned).ok_or_else(|| {
                EvalError::new(codes::RUNTIME, format!("object {id} does not exist (it was deleted)"), step.span)
            })?;
            value = self.read_member(&object, step, frame.rights, frame.module.as_deref())?;
        }
        Ok(value)
    }

    /// One member of an object the caller may know of. With the principal's rights, the
    /// member must be readable, and an association yields only the objects the principal
    /// may know of (walking backwards, only those that let it read the association).
    fn read_member(
        &mut self,
        object: &Object,
        step: &ast::QName,
        rights: Rights,
        module: Option<&str>,
    ) -> Result<Value, EvalError> {
        let def = self.program.entity(object.entity);
        let name = step.to_string();
        let principal = rights == Rights::Principal;
        if let Some(member) = def.member(&name).or_else(|| module.and_then(|m| def.member(&format!("{m}.{name}")))) {
            if principal && !self.allowed(Op::Read(member), object) {
                let what = format!("may not read `{}` of {} {}", def.members[member].name, def.name, object.id);
                return Err(self.denied(what, step.span));
            }
            let value = object.values[member].clone();
            return Ok(match value {
                Value::Object(id) if principal && !self.knows(id) => Value::Empty,
                Value::List(ids) if principal => Value::List(ids.into_iter().filter(|id| self.knows(*id)).collect()),
                other => other,
            });
        }
        // An association followed backwards: the objects that refer to this one.
        let assoc = self.reverse_assoc(object.entity, &name, module).ok_or_else(|| {
            EvalError::new(codes::RUNTIME, format!("`{}` has no member `{name}`", def.name), step.span)
        })?;
        let ids = self.referrers_in_view(object.id, assoc);
        let ids = if principal { self.readable_referrers(ids, assoc) } else { ids };
        Ok(Value::List(ids))
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

    fn reverse_assoc(&self, entity: EntityId, name: &str, module: Option<&str>) -> Option<AssocId> {
        let program = self.program;
        let qualified = match module {
            Some(m) if !name.contains('.') => format!("{m}.{name}"),
            _ => name.to_string(),
        };
        (0..program.associations.len() as u32)
            .map(AssocId)
            .find(|&a| program.assoc(a).name == qualified && program.is_a(entity, program.assoc(a).to))
    }

    /// `retrieve`: from the store (with constraints) or along an association.
    fn retrieve(
        &mut self,
        source: &ast::RetrieveSource,
        frame: &mut Frame<'_>,
        span: Span,
    ) -> Result<Vec<ObjectId>, EvalError> {
        if frame.rights == Rights::Principal && !self.gate_open() {
            return Err(self.denied("may not read data: the app is not public".into(), span));
        }
        match source {
            ast::RetrieveSource::Database { entity, constraints } => {
                let entity = self.entity_id(entity, frame)?;
                let constraint = self.retrieve_constraint(entity, constraints, frame);
                let vars: super::Vars = frame.vars.clone();
                let candidates = match self.retrieve_candidates(entity, constraint.as_ref(), &vars, frame.rights) {
                    super::plan::Candidates::Answer(ids) => {
                        if self.charge(ids.len() as u64) {
                            return Err(self.runaway(span));
                        }
                        return Ok(ids);
                    }
                    super::plan::Candidates::Check(ids) => ids,
                };
                // The principal's own constraint runs in its view: it reveals nothing it may not read.
                let principal = frame.rights == Rights::Principal;
                let x = if principal { self.xview(Some(&vars)) } else { self.xeval(Some(&vars)) };
                let session = self.session();
                let mut out = Vec::new();
                for id in candidates {
                    if self.charge(1) {
                        return Err(self.runaway(span));
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
                    if let Some(c) = &constraint {
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
            ast::RetrieveSource::Association(path) => Ok(value_ids(&self.member_path(path, frame)?)),
        }
    }

    /// Compiles a retrieve's constraints against the frame's variables (checked already, so it compiles).
    pub(crate) fn retrieve_constraint(
        &self,
        entity: EntityId,
        constraints: &[ast::XPath],
        frame: &Frame<'_>,
    ) -> Option<crate::model::xpath::Cond> {
        if constraints.is_empty() {
            return None;
        }
        let vars = frame.vars.iter().map(|(k, v)| (k.clone(), runtime_type(v))).collect();
        crate::check::compile_retrieve(self.program, frame.module.as_deref(), entity, constraints, vars)
    }

    /// Calls a microflow: checks `allow` when called from outside, binds parameters,
    /// runs the body with full rights or the caller's (`apply entity access`).
    fn call(
        &mut self,
        flow: &ast::QName,
        args: &[(ast::Ident, Expr)],
        frame: &mut Frame<'_>,
        span: Span,
    ) -> Result<Value, EvalError> {
        let name = flow.to_string();
        let id = self
            .program
            .microflow_by_name(&name)
            .or_else(|| frame.module.as_ref().and_then(|m| self.program.microflow_by_name(&format!("{m}.{name}"))))
            .ok_or_else(|| EvalError::new(codes::RUNTIME, format!("unknown microflow `{name}`"), flow.span))?;
        let def = self.program.microflow(id);
        let from_outside = frame.stack.is_empty();
        if from_outside && frame.rights == Rights::Principal {
            if let Err(why) = self.may_call(id) {
                let denied = self.denied(why, span);
                return Err(match self.call_help(id) {
                    Some(help) => denied.with_help(help),
                    None => denied,
                });
            }
        }
        if frame.stack.len() >= MAX_CALL_DEPTH {
            let e = EvalError::new(codes::RUNAWAY, format!("calls nested deeper than {MAX_CALL_DEPTH} levels"), span);
            return Err(e.with_help("a microflow calls itself without end"));
        }
        let mut vars = super::Vars::new();
        for (param, value) in args {
            let v = self.eval(value, frame)?;
            // From outside, a principal passes only objects it may know of.
            if from_outside && frame.rights == Rights::Principal {
                if let Some(id) = value_ids(&v).into_iter().find(|id| !self.knows(*id)) {
                    return Err(self.unseen(id, value.span));
                }
            }
            vars.insert(param.name.clone(), v);
        }
        vars.insert(SmolStr::new("currentUser"), self.current_user().map_or(Value::Empty, Value::Object));
        let mut stack = frame.stack.clone();
        stack.push(def.name.to_string());
        let rights = if def.apply_access { Rights::Principal } else { Rights::Full };
        let mut inner = Frame { vars: &mut vars, module: Some(def.module.clone()), rights, given: false, stack };
        let body = def.decl.body.stmts.clone();
        match self.exec_block(&body, &mut inner) {
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
    pub fn may_call(&self, id: MicroflowId) -> Result<(), String> {
        if self.is_system() {
            return Ok(());
        }
        let def = self.program.microflow(id);
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
        let name = def.decl.name.name.as_str();
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
    fn roles_that_may_call(&self, id: MicroflowId) -> Vec<String> {
        let def = self.program.microflow(id);
        self.program
            .user_roles
            .iter()
            .filter(|r| !r.anonymous && r.module_roles.iter().any(|m| def.allow.contains(m)))
            .map(|r| r.name.to_string())
            .collect()
    }

    pub(crate) fn expect_sign_in_call(&mut self, flow: &ast::QName, span: Span) -> Result<(), EvalError> {
        let id = self.program.microflow_by_name(&flow.to_string());
        let Some(id) = id else {
            return Err(EvalError::new(codes::RUNTIME, format!("unknown microflow `{flow}`"), flow.span));
        };
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
            OpCheck::Read(path) | OpCheck::Write(path) => {
                let write = matches!(op, OpCheck::Write(_));
                let (object, member) = self.path_target(path, frame)?;
                let entity = self.program.entity(object.entity);
                let (op, what) = match member {
                    None => (Op::See, format!("see {} {}", entity.name, object.id)),
                    Some(m) if write => {
                        (Op::Write(m), format!("write {} of {} {}", entity.members[m].name, entity.name, object.id))
                    }
                    Some(m) => {
                        (Op::Read(m), format!("read {} of {} {}", entity.members[m].name, entity.name, object.id))
                    }
                };
                Ok(self.explain(op, &object, &what))
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
            OpCheck::Create(q) => {
                let entity = self.entity_id(q, frame)?;
                let probe = Object::new(self.program, ObjectId(0), entity);
                Ok(self.explain(Op::Create, &probe, &format!("create {}", self.program.entity(entity).name)))
            }
            OpCheck::Call(q) => {
                let id = self
                    .program
                    .microflow_by_name(&q.to_string())
                    .ok_or_else(|| EvalError::new(codes::RUNTIME, format!("unknown microflow `{q}`"), q.span))?;
                let result = self.may_call(id);
                let def = self.program.microflow(id);
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

    /// The object (and member, if any) a `read`/`write` operation is about, read with full rights.
    fn path_target(
        &mut self,
        path: &ast::MemberPath,
        frame: &mut Frame<'_>,
    ) -> Result<(Object, Option<usize>), EvalError> {
        let (last, steps) = match path.steps.split_last() {
            Some((last, steps)) => (Some(last), steps),
            None => (None, &path.steps[..]),
        };
        let prefix = ast::MemberPath { var: path.var.clone(), steps: steps.to_vec(), span: path.span };
        let rights = frame.rights;
        frame.rights = Rights::Full;
        let value = self.member_path(&prefix, frame);
        frame.rights = rights;
        let id = match value? {
            Value::Object(id) => id,
            other => return Err(type_error("an object", &other, path.span)),
        };
        // An object of another session (uncommitted, or non-persistent) is asked about, not read.
        let object = self
            .object(id)
            .or_else(|| self.sessions.values().find_map(|s| s.uncommitted.get(&id)).map(Cow::Borrowed))
            .map(Cow::into_owned)
            .ok_or_else(|| EvalError::new(codes::RUNTIME, format!("object {id} does not exist"), path.span))?;
        let member = match last {
            None => None,
            Some(step) => {
                let def = self.program.entity(object.entity);
                Some(def.member(&step.to_string()).ok_or_else(|| {
                    EvalError::new(codes::RUNTIME, format!("`{}` has no member `{step}`", def.name), step.span)
                })?)
            }
        };
        Ok((object, member))
    }

    /// Signs an anonymous session in as `user`: runs the sign-in microflow, deletes the
    /// anonymous user with every delete behaviour, and hands the session to the user.
    /// A failure changes nothing.
    pub fn sign_in(&mut self, user: &str, span: Span) -> Result<(), EvalError> {
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
            if let (Some(flow), Some(anon)) = (engine.program.app.sign_in, anonymous_user) {
                let def = engine.program.microflow(flow);
                let mut vars = super::Vars::new();
                vars.insert(SmolStr::new("AnonymousUser"), Value::Object(anon));
                vars.insert(SmolStr::new("SignedInUser"), Value::Object(target));
                vars.insert(SmolStr::new("currentUser"), Value::Object(target));
                let mut frame = Frame {
                    vars: &mut vars,
                    module: Some(def.module.clone()),
                    rights: Rights::Full,
                    given: false,
                    stack: vec![def.name.to_string()],
                };
                let body = def.decl.body.stmts.clone();
                engine.exec_block(&body, &mut frame)?;
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

fn runtime_type(v: &Value) -> Type {
    match v {
        Value::String(_) => Type::String,
        Value::Integer(_) => Type::Long,
        Value::Decimal(_) => Type::Decimal,
        Value::Boolean(_) => Type::Boolean,
        Value::DateTime(_) => Type::DateTime,
        Value::Enum(e, _) => Type::Enum(*e),
        _ => Type::Unknown,
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

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Empty => String::new(),
        Value::Integer(i) => i.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::DateTime(ms) => crate::time::format_instant(*ms),
        Value::Object(id) => id.to_string(),
        other => format!("{other:?}"),
    }
}

/// The built-in functions.
fn function(name: &str, args: Vec<Value>, span: Span) -> Result<Value, EvalError> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Empty);
    let text = |i: usize| match arg(i) {
        Value::String(s) => Some(s),
        _ => None,
    };
    let days = |unit: Unit| -> Result<Value, EvalError> {
        match (arg(0), arg(1)) {
            (Value::DateTime(t), Value::Integer(n)) => Ok(Value::DateTime(crate::time::add_length(t, unit, n))),
            (Value::Empty, _) | (_, Value::Empty) => Ok(Value::Empty),
            (other, _) => Err(type_error("a date and time and a number", &other, span)),
        }
    };
    Ok(match name {
        "count" => match arg(0) {
            Value::List(ids) => Value::Integer(ids.len() as i64),
            Value::Empty => Value::Integer(0),
            other => return Err(type_error("a list", &other, span)),
        },
        "length" => text(0).map_or(Value::Empty, |s| Value::Integer(s.chars().count() as i64)),
        "toString" => Value::String(plain(&arg(0))),
        "contains" => Value::Boolean(matches!((text(0), text(1)), (Some(a), Some(b)) if a.contains(&b))),
        "startsWith" => Value::Boolean(matches!((text(0), text(1)), (Some(a), Some(b)) if a.starts_with(&b))),
        "endsWith" => Value::Boolean(matches!((text(0), text(1)), (Some(a), Some(b)) if a.ends_with(&b))),
        "toLowerCase" => text(0).map_or(Value::Empty, |s| Value::String(s.to_lowercase())),
        "toUpperCase" => text(0).map_or(Value::Empty, |s| Value::String(s.to_uppercase())),
        "trim" => text(0).map_or(Value::Empty, |s| Value::String(s.trim().to_string())),
        "parseInteger" => text(0).and_then(|s| s.trim().parse().ok()).map_or(Value::Empty, Value::Integer),
        "parseDecimal" => text(0).and_then(|s| s.trim().parse::<Decimal>().ok()).map_or(Value::Empty, Value::Decimal),
        "addSeconds" => days(Unit::Second)?,
        "addMinutes" => days(Unit::Minute)?,
        "addHours" => days(Unit::Hour)?,
        "addDays" => days(Unit::Day)?,
        "addWeeks" => days(Unit::Week)?,
        "addMonths" => days(Unit::Month)?,
        "addYears" => days(Unit::Year)?,
        other => return Err(EvalError::new(codes::RUNTIME, format!("unknown function `{other}`"), span)),
    })
}
