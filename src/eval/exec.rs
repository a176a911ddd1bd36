//! Statements: object life cycle (create, change, commit, delete, rollback),
//! control flow, and the test statements of section 9.

use std::borrow::Cow;

use super::access::Op;
use super::{codes, Engine, EvalError, SessionKey, Vars};
use crate::model::flow::{self, Expect, MemberRef, Principal, SetMember, Stmt, StmtKind};
use crate::model::*;
use crate::model::{AccessLevel, AssignOp, BinOp, ComponentState};
use crate::source::Span;
use crate::store::{Object, ObjectId, Value};

/// Whose rules a statement obeys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rights {
    /// Full rights: `given` blocks, system, microflows without `apply entity access`.
    Full,
    /// The acting principal's access rules.
    Principal,
}

/// One level of execution: a test body or a microflow call.
pub(crate) struct Frame<'v> {
    pub(crate) vars: &'v mut Vars,
    pub(crate) rights: Rights,
    /// Inside `given`: everything is committed as it is made.
    pub(crate) given: bool,
    /// Microflow calls above this frame, outermost first.
    pub(crate) stack: Vec<String>,
}

/// What a statement yields.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Nothing to show.
    Nothing,
    /// A value (an expression statement).
    Value(Value),
    /// Text to show (`explain`, `matrix`).
    Text(String),
}

/// The state a transaction restores on failure (the store keeps its own journal).
struct Snapshot {
    sessions: std::collections::BTreeMap<SessionKey, super::Session>,
    instances: std::collections::BTreeMap<u64, crate::runtime::Instance>,
    created: usize,
    current: SessionKey,
    access: AccessLevel,
    now: i64,
    log: usize,
}

pub(crate) enum Flow {
    Normal(Outcome),
    Return(Value),
}

impl<'p> Engine<'p> {
    /// Runs one top-level statement as its own transaction: on error, the store
    /// and every session are as they were before it.
    pub fn run_top(&mut self, stmt: &Stmt, vars: &mut Vars) -> Result<Outcome, EvalError> {
        let mut frame = Frame { vars, rights: Rights::Principal, given: false, stack: Vec::new() };
        self.steps.set(0);
        let flow = self.transaction(stmt.span, |e| e.exec(stmt, &mut frame))?;
        Ok(match flow {
            Flow::Normal(o) => o,
            Flow::Return(v) => Outcome::Value(v),
        })
    }

    /// Explains an operation (`read #5/Total`, `delete $o`, ...) for the acting principal.
    pub fn explain_operation(
        &mut self,
        op: &flow::OpCheck,
        vars: &mut Vars,
    ) -> Result<super::access::Explanation, EvalError> {
        let mut frame = Frame { vars, rights: Rights::Principal, given: false, stack: Vec::new() };
        self.steps.set(0);
        self.explain_op(op, &mut frame)
    }

    /// Runs `f` in a (nested) transaction; on error everything it did is undone.
    pub(crate) fn transaction<T>(
        &mut self,
        span: Span,
        f: impl FnOnce(&mut Self) -> Result<T, EvalError>,
    ) -> Result<T, EvalError> {
        let snapshot = self.snapshot();
        self.store.begin();
        match f(self) {
            Ok(v) => match self.store.commit() {
                Ok(()) => Ok(v),
                Err(message) => {
                    // The store has undone its part; undo the sessions' too.
                    self.restore(snapshot);
                    Err(EvalError::new(codes::STORE, message.to_string(), span))
                }
            },
            Err(e) => {
                self.store.rollback();
                self.restore(snapshot);
                Err(e)
            }
        }
    }

    /// Everything outside the store that a failed statement must leave as it was.
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            sessions: self.sessions.clone(),
            instances: self.instances.clone(),
            created: self.created.len(),
            current: self.current.clone(),
            access: self.access,
            now: self.now,
            log: self.log.len(),
        }
    }

    fn restore(&mut self, s: Snapshot) {
        self.sessions = s.sessions;
        self.instances = s.instances;
        self.created.truncate(s.created);
        self.current = s.current;
        self.access = s.access;
        self.now = s.now;
        self.log.truncate(s.log);
    }

    pub(crate) fn exec_block(&mut self, stmts: &[Stmt], frame: &mut Frame<'_>) -> Result<Flow, EvalError> {
        let mut last = Outcome::Nothing;
        for s in stmts {
            match self.exec(s, frame)? {
                Flow::Normal(o) => last = o,
                ret @ Flow::Return(_) => return Ok(ret),
            }
        }
        Ok(Flow::Normal(last))
    }

    pub(crate) fn exec(&mut self, stmt: &Stmt, frame: &mut Frame<'_>) -> Result<Flow, EvalError> {
        self.step(stmt.span)?;
        let span = stmt.span;
        self.cover(|h| {
            h.statements.insert(super::coverage::key(span));
        });
        let outcome = match &stmt.kind {
            StmtKind::Set { var, value } => {
                let v = self.eval(value, frame)?;
                frame.vars.set(var.slot, v);
                Outcome::Nothing
            }
            StmtKind::Change { target, values } => {
                let id = self.object_value(target, frame)?;
                self.change(id, values, frame, span)?;
                Outcome::Nothing
            }
            StmtKind::Commit(e) => {
                let ids = self.objects_value(e, frame)?;
                self.commit_objects(&ids, frame.rights, span)?;
                Outcome::Nothing
            }
            StmtKind::Delete(e) => {
                for id in self.objects_value(e, frame)? {
                    self.delete(id, frame.rights, span)?;
                }
                Outcome::Nothing
            }
            StmtKind::Rollback(e) => {
                for id in self.objects_value(e, frame)? {
                    let session = self.session_mut();
                    session.uncommitted.remove(&id);
                    session.new.remove(&id);
                    session.changed.remove(&id);
                }
                Outcome::Nothing
            }
            StmtKind::For { var, list, body } => {
                let items = self.objects_value(list, frame)?;
                for id in items {
                    frame.vars.set(var.slot, Value::Object(id));
                    if let ret @ Flow::Return(_) = self.exec_block(&body.stmts, frame)? {
                        return Ok(ret);
                    }
                }
                Outcome::Nothing
            }
            StmtKind::If { cond, then, otherwise } => {
                let taken = self.condition(cond, frame)?;
                self.cover(|h| {
                    h.branches.insert((super::coverage::key(span), taken));
                });
                if taken {
                    return self.exec_block(&then.stmts, frame);
                }
                match otherwise {
                    Some(other) => return self.exec(other, frame),
                    None => Outcome::Nothing,
                }
            }
            StmtKind::Block(b) => return self.exec_block(&b.stmts, frame),
            StmtKind::Return(value) => {
                let v = match value {
                    Some(e) => self.eval(e, frame)?,
                    None => Value::Empty,
                };
                return Ok(Flow::Return(v));
            }
            StmtKind::Log(e) => {
                let v = self.eval(e, frame)?;
                let text = match v {
                    Value::String(s) => s,
                    other => other.display(self.program),
                };
                self.log.push(text);
                Outcome::Nothing
            }
            StmtKind::Error(e) => {
                let v = self.eval(e, frame)?;
                let text = match v {
                    Value::String(s) => s,
                    other => other.display(self.program),
                };
                let mut error = EvalError::new(codes::ERROR_STATEMENT, text, span);
                error.stack = frame.stack.clone();
                return Err(error);
            }
            StmtKind::Expr(e) => Outcome::Value(self.eval(e, frame)?),
            StmtKind::Now(ms) => {
                self.now = *ms;
                Outcome::Nothing
            }
            StmtKind::Given(block) => {
                let previous = self.current.clone();
                self.act_as_system();
                let (rights, given) = (frame.rights, frame.given);
                frame.rights = Rights::Full;
                frame.given = true;
                let result = self.exec_block(&block.stmts, frame);
                frame.rights = rights;
                frame.given = given;
                self.current = previous;
                result?;
                Outcome::Nothing
            }
            StmtKind::User { var, name, roles, entity, values } => {
                let id = self.make_user(name, roles, *entity, values, frame, span)?;
                frame.vars.set(var.slot, Value::Object(id));
                Outcome::Nothing
            }
            StmtKind::As(p) => {
                match p {
                    Principal::System => self.act_as_system(),
                    Principal::User { name, span } => self.act_as_user(name, *span)?,
                    Principal::Anonymous(name) => self.act_as_anonymous(name.as_deref(), span)?,
                }
                Outcome::Nothing
            }
            StmtKind::SignIn { user, span } => {
                self.sign_in(user, *span)?;
                Outcome::Nothing
            }
            StmtKind::SetAccess(level) => {
                self.access = *level;
                Outcome::Nothing
            }
            StmtKind::Expect(e) => {
                self.expect(e, frame, span)?;
                Outcome::Nothing
            }
            StmtKind::Explain(op) => Outcome::Text(self.explain_op(op, frame)?.render()),
            StmtKind::Matrix => {
                self.cover(|h| h.every_rule = true);
                Outcome::Text(crate::matrix::render(&crate::matrix::build(self.program)))
            }
            StmtKind::Invalid => return Err(not_checked(span)),
        };
        if frame.given {
            self.commit_all()?;
        }
        Ok(Flow::Normal(outcome))
    }

    /// Counts a step of the statement; stops runaway loops.
    fn step(&mut self, span: Span) -> Result<(), EvalError> {
        if self.charge(1) {
            return Err(self.runaway(span));
        }
        Ok(())
    }

    /// Commits every uncommitted object of the acting session (used by `given`).
    fn commit_all(&mut self) -> Result<(), EvalError> {
        let ids: Vec<ObjectId> = self.session().uncommitted.keys().copied().collect();
        self.commit_objects(&ids, Rights::Full, Span::default())
    }

    /// Commits objects together, then holds the store to referential integrity: every
    /// reference of a committed object must reach a committed object (section 4). With the
    /// principal's rights, an object it may not know of is [`Engine::unseen`].
    pub(crate) fn commit_objects(&mut self, ids: &[ObjectId], rights: Rights, span: Span) -> Result<(), EvalError> {
        let mut written = Vec::new();
        for &id in ids {
            if rights == Rights::Principal && !self.session().uncommitted.contains_key(&id) && !self.knows(id) {
                return Err(self.unseen(id, span));
            }
            if self.commit_object(id, span)? {
                written.push(id);
            }
        }
        for id in written {
            self.check_references(id, span)?;
            if self.program.is_a(self.store.entity_of(id).unwrap_or(SYSTEM_USER_ROLE), SYSTEM_USER) {
                let name_other = self.is_system();
                if let Some(problem) = crate::store::user_problem(self.program, self.store.as_ref(), id, name_other) {
                    return Err(EvalError::new(codes::INTEGRITY, format!("cannot commit user {id}: {problem}"), span));
                }
            }
        }
        Ok(())
    }

    /// Every reference of a committed object reaches a committed object of the association's target.
    fn check_references(&self, id: ObjectId, span: Span) -> Result<(), EvalError> {
        let program = self.program;
        let Some(object) = self.store.get(id) else { return Ok(()) };
        let def = program.entity(object.entity);
        for (member, value) in def.members.iter().zip(&object.values) {
            let MemberKind::Association(a) = member.kind else { continue };
            let to = program.assoc(a).to;
            for target in value_ids(value) {
                let stored = match target.role() {
                    Some(role) => (role.index() < program.user_roles.len()).then_some(SYSTEM_USER_ROLE),
                    None => self.store.entity_of(target),
                };
                if stored.is_some_and(|e| program.is_a(e, to)) {
                    continue;
                }
                let what = match self.session().uncommitted.get(&target) {
                    Some(t) => format!("{} {target}, which is not committed", program.entity(t.entity).name),
                    None => format!("{target}, which is not committed (it is new to another session, or was deleted)"),
                };
                let e = EvalError::new(
                    codes::INTEGRITY,
                    format!("{} {id} refers through `{}` to {what}", def.name, member.name),
                    span,
                );
                return Err(e.with_help("commit new objects together, `commit [$a, $b]`, or the target first"));
            }
        }
        Ok(())
    }

    /// Creates an object of `entity` with member values, owned by the acting user.
    pub(crate) fn create(
        &mut self,
        entity: EntityId,
        values: &[SetMember],
        frame: &mut Frame<'_>,
        span: Span,
    ) -> Result<ObjectId, EvalError> {
        let def = self.program.entity(entity);
        if frame.rights == Rights::Principal && !self.can_create(entity) {
            let why =
                if self.gate_open() { "no applicable access rule grants create" } else { "the app is not public" };
            return Err(self.denied(format!("may not create {}: {why}", def.name), span));
        }
        // An anonymous session's user object comes first: it exists from the first action on.
        let user = self.current_user();
        let id = self.store.allocate_id();
        let mut object = Object::new(self.program, id, entity);
        if let (Some(assoc), Some(user)) = (def.owner, user) {
            if let Some(i) = super::xpath::member_of(self.program, entity, assoc) {
                object.values[i] = Value::Object(user);
            }
        }
        if let Some(i) = def.created_date {
            object.values[i] = Value::DateTime(self.now);
        }
        if let Some(i) = def.changed_date {
            object.values[i] = Value::DateTime(self.now);
        }
        self.created.push(id);
        let session = self.session_mut();
        session.new.insert(id);
        session.uncommitted.insert(id, object);
        self.apply_values(id, values, frame, span)?;
        Ok(id)
    }

    pub(crate) fn change(
        &mut self,
        id: ObjectId,
        values: &[SetMember],
        frame: &mut Frame<'_>,
        span: Span,
    ) -> Result<(), EvalError> {
        if frame.rights == Rights::Principal && !self.knows(id) {
            return Err(self.unseen(id, span));
        }
        let Some(object) = self.object(id).map(Cow::into_owned) else {
            return Err(EvalError::new(codes::RUNTIME, format!("object {id} does not exist"), span));
        };
        if frame.rights == Rights::Principal && !self.can_see(&object) {
            let name = &self.program.entity(object.entity).name;
            return Err(
                self.denied(format!("may not change {name} {id}: no applicable rule's constraint holds for it"), span)
            );
        }
        self.session_mut().uncommitted.entry(id).or_insert(object);
        self.apply_values(id, values, frame, span)
    }

    /// Sets member values on an object in the session, checking write access.
    fn apply_values(
        &mut self,
        id: ObjectId,
        values: &[SetMember],
        frame: &mut Frame<'_>,
        span: Span,
    ) -> Result<(), EvalError> {
        for mv in values {
            let value = self.eval(&mv.value, frame)?;
            let session = self.session();
            // INVARIANT: create and change put the object into the session before setting members.
            #[expect(clippy::expect_used, reason = "an invariant of create and change")]
            let object = session.uncommitted.get(&id).expect("the object is in the session");
            let (entity, def) = (object.entity, self.program.entity(object.entity));
            let member = match self.resolve_member(object, &mv.member, mv.member_span)? {
                MemberRef::Member { index, .. } => index,
                MemberRef::Reverse(_) | MemberRef::Dynamic { .. } => {
                    let name = self.program.sources.slice(mv.member_span).to_string();
                    return Err(EvalError::new(
                        codes::RUNTIME,
                        format!("`{}` has no member `{name}` to set", def.name),
                        mv.member_span,
                    ));
                }
            };
            if frame.rights == Rights::Principal && !self.allowed(Op::Write(member), object) {
                let name = &def.members[member].name;
                return Err(self.denied(format!("may not write `{name}` of {} {id}", def.name), mv.member_span));
            }
            self.check_value(entity, member, &value, mv.op, frame.rights, mv.value.span)?;
            let current = object.values[member].clone();
            let new = match (mv.op, current, value) {
                (AssignOp::Set, _, Value::List(ids))
                    if matches!(def.members[member].kind, MemberKind::Association(_)) =>
                {
                    Value::List(ids)
                }
                (AssignOp::Set, _, v) => v,
                (AssignOp::Add, Value::List(mut ids), v) => {
                    let mut held: std::collections::HashSet<ObjectId> = ids.iter().copied().collect();
                    for add in value_ids(&v) {
                        if held.insert(add) {
                            ids.push(add);
                        }
                    }
                    Value::List(ids)
                }
                (AssignOp::Remove, Value::List(ids), v) => {
                    let remove: std::collections::HashSet<ObjectId> = value_ids(&v).into_iter().collect();
                    Value::List(ids.into_iter().filter(|i| !remove.contains(i)).collect())
                }
                (_, _, v) => v,
            };
            let new = coerce(self.program, entity, member, new);
            // The set a `+=` or `-=` built is a value like any other: its size counts.
            if self.charge(super::size_steps(&new)) {
                return Err(self.runaway(mv.value.span));
            }
            // INVARIANT: as above; nothing removed it meanwhile.
            #[expect(clippy::expect_used, reason = "an invariant of create and change")]
            let object = self.session_mut().uncommitted.get_mut(&id).expect("in the session");
            object.values[member] = new;
            self.session_mut().changed.entry(id).or_default().insert(member);
        }
        let _ = span;
        Ok(())
    }

    /// Whether a value may be set on a member: a string within its length; a reference
    /// only to objects of the association's target that exist for the session and, with the
    /// principal's rights, that it may know of (section 4).
    fn check_value(
        &self,
        entity: EntityId,
        member: usize,
        value: &Value,
        op: AssignOp,
        rights: Rights,
        span: Span,
    ) -> Result<(), EvalError> {
        let program = self.program;
        let def = &program.entity(entity).members[member];
        match (def.kind, value) {
            (MemberKind::Attribute(AttrType::String(Some(max))), Value::String(s)) => {
                let length = s.chars().count();
                if length > max as usize {
                    let message = format!(
                        "`{}` of {} holds at most {max} characters; the value has {length}",
                        def.name,
                        program.entity(entity).name
                    );
                    return Err(EvalError::new(codes::RUNTIME, message, span));
                }
                Ok(())
            }
            (MemberKind::Attribute(AttrType::Integer), Value::Integer(i)) if i32::try_from(*i).is_err() => {
                let message = format!("`{}` is an Integer (32 bits), and {i} does not fit; use Long", def.name);
                Err(EvalError::new(codes::RUNTIME, message, span))
            }
            (MemberKind::Attribute(_), Value::DateTime(ms)) if !crate::time::storable(*ms) => {
                let message = format!(
                    "`{}` can hold dates and times of the years 0 to 9999 only, not {ms} ms since 1970",
                    def.name
                );
                Err(EvalError::new(codes::RUNTIME, message, span))
            }
            (MemberKind::Association(a), _) if op != AssignOp::Remove => {
                let to = program.assoc(a).to;
                for target in value_ids(value) {
                    if rights == Rights::Principal && !self.knows(target) {
                        return Err(self.unseen(target, span));
                    }
                    match self.entity_of(target) {
                        Some(e) if program.is_a(e, to) => {}
                        Some(e) => {
                            let message = format!(
                                "`{}` refers to {}, and {target} is a {}",
                                def.name,
                                program.entity(to).name,
                                program.entity(e).name
                            );
                            return Err(EvalError::new(codes::RUNTIME, message, span));
                        }
                        None => {
                            return Err(EvalError::new(codes::RUNTIME, format!("object {target} does not exist"), span))
                        }
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Writes the session's copy of an object to the store: a new object whole, a committed
    /// one as the members the session changed over what is committed now (so a stale copy
    /// never undoes another session's committed write). True when something was written.
    /// The caller checks the references ([`Engine::commit_objects`]).
    fn commit_object(&mut self, id: ObjectId, span: Span) -> Result<bool, EvalError> {
        let Some(copy) = self.session().uncommitted.get(&id).cloned() else {
            if self.store.entity_of(id).is_none() && id.role().is_none() {
                return Err(EvalError::new(codes::RUNTIME, format!("object {id} does not exist"), span));
            }
            return Ok(false); // nothing changed
        };
        let def = self.program.entity(copy.entity);
        if !def.persistent {
            return Ok(false); // non-persistent objects live in their session
        }
        let session = self.session();
        let mut object = match self.store.get(id).filter(|_| !session.new.contains(&id)) {
            Some(stored) => {
                let mut merged = stored.into_owned();
                for &m in session.changed.get(&id).into_iter().flatten() {
                    merged.values[m] = copy.values[m].clone();
                }
                merged
            }
            None => copy,
        };
        if let Some(i) = def.changed_date {
            object.values[i] = Value::DateTime(self.now);
        }
        let user = self.session().user;
        if let (Some(assoc), Some(user)) = (def.changed_by, user) {
            if let Some(i) = super::xpath::member_of(self.program, object.entity, assoc) {
                object.values[i] = Value::Object(user);
            }
        }
        self.store.put(object);
        let session = self.session_mut();
        session.uncommitted.remove(&id);
        session.new.remove(&id);
        session.changed.remove(&id);
        Ok(true)
    }

    /// Deletes an object, applying every association's delete behaviour.
    pub(crate) fn delete(&mut self, id: ObjectId, rights: Rights, span: Span) -> Result<(), EvalError> {
        if rights == Rights::Principal && !self.knows(id) {
            return Err(self.unseen(id, span));
        }
        let Some(object) = self.object(id).map(Cow::into_owned) else { return Ok(()) };
        if rights == Rights::Principal && !self.allowed(Op::Delete, &object) {
            let name = &self.program.entity(object.entity).name;
            let why = if self.can_see(&object) { "no matching rule grants delete" } else { "it is not visible" };
            return Err(self.denied(format!("may not delete {name} {id}: {why}"), span));
        }
        let mut pending = vec![id];
        let mut doomed: Vec<ObjectId> = Vec::new();
        while let Some(next) = pending.pop() {
            if doomed.contains(&next) {
                continue;
            }
            doomed.push(next);
            pending.extend(self.delete_effects(next, &doomed, span)?);
        }
        for d in doomed {
            let session = self.session_mut();
            session.uncommitted.remove(&d);
            session.new.remove(&d);
            self.store.remove(d);
            for s in self.sessions.values_mut() {
                s.uncommitted.remove(&d);
                s.changed.remove(&d);
            }
        }
        Ok(())
    }

    /// What deleting `id` does to associated objects: returns the objects to delete too,
    /// clears references, or refuses (`prevent`). `doomed` starts with the object the
    /// statement deletes.
    fn delete_effects(&mut self, id: ObjectId, doomed: &[ObjectId], span: Span) -> Result<Vec<ObjectId>, EvalError> {
        let Some(object) = self.object(id).map(Cow::into_owned) else { return Ok(Vec::new()) };
        let program = self.program;
        // A refusal names the object only to a principal that may know of it (else the
        // object the statement deletes, else none); the author's message is shown as it is.
        let prevented = |engine: &Self, assoc: &AssocDef, message: Option<&str>| {
            let known = |id: ObjectId| engine.is_system() || engine.knows(id);
            let named = [object.id].into_iter().chain(doomed.first().copied()).find(|id| known(*id));
            let named = named.and_then(|id| engine.object(id)).map(Cow::into_owned);
            prevented(program, named.as_ref(), assoc, message, span)
        };
        let mut cascade = Vec::new();
        for (a, assoc) in program.associations.iter().enumerate() {
            let a = AssocId(a as u32);
            // The object is on the from side: its own references.
            if program.is_a(object.entity, assoc.from) {
                if let Some(i) = super::xpath::member_of(program, object.entity, a) {
                    let targets = value_ids(&object.values[i]);
                    match &assoc.on_delete_from {
                        DeleteRule::Keep => {}
                        DeleteRule::Cascade => cascade.extend(targets),
                        DeleteRule::Prevent(message) => {
                            if targets.iter().any(|t| !doomed.contains(t)) {
                                return Err(prevented(self, assoc, message.as_deref()));
                            }
                        }
                    }
                }
            }
            // The object is on the to side: objects referring to it.
            if program.is_a(object.entity, assoc.to) {
                // Every committed referrer counts, whoever may see it (and the session's own).
                let referrers: Vec<ObjectId> =
                    self.all_referrers(id, a).into_iter().filter(|r| !doomed.contains(r)).collect();
                match &assoc.on_delete_to {
                    DeleteRule::Cascade => cascade.extend(referrers),
                    DeleteRule::Prevent(message) if !referrers.is_empty() => {
                        return Err(prevented(self, assoc, message.as_deref()));
                    }
                    _ => {
                        for r in referrers {
                            self.clear_reference(r, a, id);
                        }
                    }
                }
            }
        }
        Ok(cascade)
    }

    /// Removes `target` from `owner`'s association member, in the store and in sessions.
    fn clear_reference(&mut self, owner: ObjectId, assoc: AssocId, target: ObjectId) {
        let program = self.program;
        let clear = |o: &mut Object| {
            if let Some(i) = super::xpath::member_of(program, o.entity, assoc) {
                o.values[i] = match std::mem::replace(&mut o.values[i], Value::Empty) {
                    Value::List(ids) => Value::List(ids.into_iter().filter(|x| *x != target).collect()),
                    Value::Object(x) if x == target => Value::Empty,
                    other => other,
                };
            }
        };
        if let Some(mut o) = self.store.get(owner).map(Cow::into_owned) {
            clear(&mut o);
            self.store.put(o);
        }
        for s in self.sessions.values_mut() {
            if let Some(o) = s.uncommitted.get_mut(&owner) {
                clear(o);
            }
        }
    }

    /// Makes a user in `given`: a System.User (or specialization) with a Name and user roles.
    fn make_user(
        &mut self,
        name: &str,
        roles: &[UserRoleId],
        entity: EntityId,
        values: &[SetMember],
        frame: &mut Frame<'_>,
        span: Span,
    ) -> Result<ObjectId, EvalError> {
        let previous = self.current.clone();
        self.act_as_system();
        let result = self.create(entity, values, frame, span);
        self.current = previous.clone();
        let id = result?;
        let def = self.program.entity(entity);
        let role_ids: Vec<ObjectId> = roles.iter().copied().map(ObjectId::of_role).collect();
        // INVARIANT: the system session exists from `Engine::new` on, and `create` just put the
        // object into it.
        #[expect(clippy::expect_used, reason = "an invariant of the engine's sessions")]
        let system = self.sessions.get_mut(&SessionKey::System).expect("system session");
        #[expect(clippy::expect_used, reason = "an invariant of create")]
        let mut object = system.uncommitted.remove(&id).expect("create put it in the session");
        system.new.remove(&id);
        system.changed.remove(&id);
        if let Some(i) = def.member("Name") {
            object.values[i] = Value::String(name.to_string());
        }
        if let Some(i) = def.member("System.UserRoles") {
            object.values[i] = Value::List(role_ids);
        }
        self.store.put(object);
        if let Some(problem) = crate::store::user_problem(self.program, self.store.as_ref(), id, true) {
            return Err(EvalError::new(codes::INTEGRITY, format!("cannot make user `{name}`: {problem}"), span));
        }
        Ok(id)
    }

    /// An access error for the acting principal.
    pub(crate) fn denied(&self, what: String, span: Span) -> EvalError {
        EvalError::new(codes::ACCESS, format!("{} {what}", self.principal_name()), span)
    }

    fn expect(&mut self, e: &Expect, frame: &mut Frame<'_>, span: Span) -> Result<(), EvalError> {
        match e {
            Expect::Holds(expr) => {
                let v = self.eval(expr, frame)?;
                if v == Value::Boolean(true) {
                    return Ok(());
                }
                let text = self.program.sources.slice(expr.span).to_string();
                let detail = self.comparison_detail(expr, frame);
                Err(EvalError::new(codes::EXPECTATION, format!("expected `{text}` to hold{detail}"), span))
            }
            Expect::Decision { allow, op } => {
                let explanation = self.explain_op(op, frame)?;
                let allowed = explanation.decision == "allow";
                if allowed == *allow {
                    return Ok(());
                }
                let text = self.program.sources.slice(span).trim_start_matches("expect").trim().to_string();
                let actual = if allowed { "allowed" } else { "denied" };
                let message = format!(
                    "expected {text} for {}, but it is {actual}: {}",
                    self.principal_name(),
                    explanation.reason
                );
                Err(EvalError::new(codes::EXPECTATION, message, span))
            }
            Expect::Error { text, body } => {
                // The block must fail, and leaves no trace either way.
                let snapshot = self.snapshot();
                let vars = frame.vars.clone();
                self.store.begin();
                let result = self.exec_block(&body.stmts, frame);
                self.store.rollback();
                self.restore(snapshot);
                *frame.vars = vars;
                match (result, text) {
                    (Ok(_), _) => {
                        Err(EvalError::new(codes::EXPECTATION, "expected an error, but the block succeeded", span))
                    }
                    (Err(err), Some(t)) if !err.message.contains(t.as_str()) => Err(EvalError::new(
                        codes::EXPECTATION,
                        format!("expected an error containing `{t}`, but the error was: {}", err.message),
                        span,
                    )),
                    (Err(_), _) => Ok(()),
                }
            }
            Expect::SignInCall(flow) => self.expect_sign_in_call(*flow, span),
            Expect::Request { request, status, detail } => {
                let response = self.send(request, frame)?;
                let detail_ok = detail.as_ref().is_none_or(|d| response.detail == Some(d.as_str()));
                if response.status == *status && detail_ok {
                    return Ok(());
                }
                let want = match detail {
                    Some(d) => format!("{status} {d}"),
                    None => status.to_string(),
                };
                let message = format!(
                    "expected {want} for {}, got {}: {}",
                    self.principal_name(),
                    response.summary(),
                    response.reason
                );
                Err(EvalError::new(codes::EXPECTATION, message, span))
            }
            Expect::Component { state, component, kind, resource } => {
                let resource = &self.program.resources[resource.index()].name;
                let actual = self.component_state(*kind, resource, component).ok_or_else(|| {
                    EvalError::new(
                        codes::RUNTIME,
                        format!("no component `{component}` in {} `{resource}`", kind.as_str()),
                        span,
                    )
                })?;
                if actual == *state {
                    return Ok(());
                }
                let word = |s: ComponentState| format!("{s:?}").to_lowercase();
                let message = format!(
                    "expected component {} of {} {} to be {} for {}, but it is {}",
                    component,
                    kind.as_str(),
                    resource,
                    word(*state),
                    self.principal_name(),
                    word(actual)
                );
                Err(EvalError::new(codes::EXPECTATION, message, span))
            }
        }
    }

    /// For a failed `expect a = b`, the values of both sides.
    fn comparison_detail(&mut self, expr: &flow::Expr, frame: &mut Frame<'_>) -> String {
        if let flow::ExprKind::Binary { op: BinOp::Cmp(_), lhs, rhs } = &expr.kind {
            // Side effects already happened once; evaluating pure sides again is safe for a message.
            let snapshot = self.snapshot();
            self.store.begin();
            let l = self.eval(lhs, frame).map(|v| v.display(self.program));
            let r = self.eval(rhs, frame).map(|v| v.display(self.program));
            self.store.rollback();
            self.restore(snapshot);
            if let (Ok(l), Ok(r)) = (l, r) {
                return format!(": the left side is {l}, the right side is {r}");
            }
        }
        ", but it does not".to_string()
    }
}

impl Engine<'_> {
    /// Sends a request of a test or statement from the acting session.
    pub(crate) fn send(
        &mut self,
        request: &flow::Request,
        frame: &mut Frame<'_>,
    ) -> Result<crate::runtime::Response, EvalError> {
        use crate::runtime::{Request, Target};
        let instance = |var: &flow::Var| match frame.vars.get(var.slot) {
            Some(Value::Instance(id)) => Ok(*id),
            _ => Err(EvalError::new(codes::RUNTIME, format!("`${}` holds no instance", var.name), var.span)),
        };
        let target = match &request.target {
            flow::RequestTarget::StartProcess(n) => Target::StartProcess(n.to_string()),
            flow::RequestTarget::StartUiFlow(n) => Target::StartUiFlow(n.to_string()),
            flow::RequestTarget::StartWorkflow(n, var) => Target::StartWorkflow(n.to_string(), instance(var)?),
            flow::RequestTarget::Instance(op, var) => Target::Instance(op.clone(), instance(var)?),
            flow::RequestTarget::Global(g) => Target::Global(*g),
        };
        let bearer = super::requests::bearer_of(self, request.invalid_token);
        if self.is_anonymous() {
            // An anonymous session's user exists from its first action.
            self.current_user();
        }
        let session_id = self.carried_session(request.without_session);
        Ok(self.request(&Request { target, bearer, session_id }))
    }
}

/// The error of a statement or expression that did not check (such a program never runs).
pub(crate) fn not_checked(span: Span) -> EvalError {
    EvalError::new(codes::RUNTIME, "this was not checked: a program with errors does not run", span)
}

/// The object ids in a value (an object, a list, or nothing).
pub(crate) fn value_ids(v: &Value) -> Vec<ObjectId> {
    match v {
        Value::Object(id) => vec![*id],
        Value::List(ids) => ids.clone(),
        _ => Vec::new(),
    }
}

/// Fits a value to the member's type: integers into decimals, objects into reference sets.
fn coerce(program: &Program, entity: EntityId, member: usize, v: Value) -> Value {
    match (program.entity(entity).members[member].kind, v) {
        (MemberKind::Attribute(AttrType::Decimal), Value::Integer(i)) => Value::Decimal(i.into()),
        (MemberKind::Association(a), Value::Empty) if super::xpath::is_set(program, a) => Value::List(Vec::new()),
        (MemberKind::Association(a), Value::Object(id)) if super::xpath::is_set(program, a) => Value::List(vec![id]),
        (_, v) => v,
    }
}

fn prevented(
    program: &Program,
    object: Option<&Object>,
    assoc: &AssocDef,
    message: Option<&str>,
    span: Span,
) -> EvalError {
    let text = match (message, object) {
        (Some(m), _) => m.to_string(),
        (None, Some(object)) => format!(
            "cannot delete {} {}: association `{}` prevents it while associated objects exist",
            program.entity(object.entity).name,
            object.id,
            assoc.name
        ),
        (None, None) => {
            format!("cannot delete: association `{}` prevents it while associated objects exist", assoc.name)
        }
    };
    EvalError::new(codes::PREVENTED, text, span)
}
