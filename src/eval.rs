//! Evaluation: sessions and principals over a store, access decisions
//! (section 4), XPath (section 5), statements and tests (section 9).
//!
//! An [`Engine`] holds the store, the clock, the app's gate and every
//! session of a run (a test, an `eval`, a REPL). Each session keeps its
//! uncommitted objects; each top-level statement is one transaction.

pub mod access;
pub mod api;
pub mod coverage;
mod exec;
mod expr;
mod plan;
mod requests;
mod show;
mod sql;
pub mod test;
mod xpath;

use crate::codes::Code;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use smol_str::SmolStr;

use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::source::Span;
use crate::store::{Object, ObjectId, Store, Value};

pub use exec::Outcome;
pub use plan::{ConstraintPlan, EntityPlan, Plan, PlanExplanation};
pub use sql::SqlQuery;

/// A principal named on the command line: `system`, `anonymous`, `anonymous:NAME` or a user's Name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalName {
    /// Full rights.
    System,
    /// An anonymous session, named or fresh.
    Anonymous(Option<String>),
    /// A user by Name.
    User(String),
}

impl std::str::FromStr for PrincipalName {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<PrincipalName, Self::Err> {
        Ok(match s {
            "system" => PrincipalName::System,
            "anonymous" => PrincipalName::Anonymous(None),
            _ => match s.strip_prefix("anonymous:") {
                Some(name) => PrincipalName::Anonymous(Some(name.to_string())),
                None => PrincipalName::User(s.to_string()),
            },
        })
    }
}

/// Which session acts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SessionKey {
    /// Full rights, no user.
    System,
    /// A named user, by its `System.User` object.
    User(ObjectId),
    /// An anonymous session, by name (`anonymous 'A'`; fresh ones get `#1`, `#2`, ...).
    Anonymous(SmolStr),
}

/// A session: who acts, and what it has created or changed but not committed.
#[derive(Clone, Debug, Default)]
pub struct Session {
    /// The session's `System.User` object (created on first action for anonymous sessions).
    pub user: Option<ObjectId>,
    /// The user roles it holds.
    pub roles: Vec<UserRoleId>,
    /// The module roles of those user roles, sorted.
    pub module_roles: Vec<ModuleRoleId>,
    /// Objects created or changed and not yet committed (or non-persistent), by id.
    pub uncommitted: BTreeMap<ObjectId, Object>,
    /// Ids of objects created in this session and never committed.
    pub new: BTreeSet<ObjectId>,
    /// The members of each committed object that this session changed since it last committed
    /// it: a commit writes only these over the stored object, so a stale copy never undoes
    /// what another session committed meanwhile.
    pub changed: BTreeMap<ObjectId, BTreeSet<usize>>,
    /// The runtime session id (`X-Fx-Anonymous-Session-Id`) the client holds, once issued.
    pub runtime_id: Option<String>,
}

/// A runtime failure: an access error, an `error` statement, a refused delete,
/// a failed expectation. Carries a stable code and the statement's span.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// Stable code (`R0xx`).
    pub code: Code,
    /// What happened.
    pub message: String,
    /// Where.
    pub span: Span,
    /// How to fix it, when known.
    pub help: Option<String>,
    /// Microflow calls that led here, innermost last.
    pub stack: Vec<String>,
}

impl EvalError {
    /// A new error.
    pub fn new(code: Code, message: impl Into<String>, span: Span) -> EvalError {
        let message = crate::diagnostic::shorten(&message.into()).into_owned();
        EvalError { code, message, span, help: None, stack: Vec::new() }
    }

    /// With a help line.
    pub(crate) fn with_help(mut self, help: impl Into<String>) -> EvalError {
        self.help = Some(help.into());
        self
    }
}

impl From<EvalError> for Diagnostic {
    fn from(e: EvalError) -> Diagnostic {
        let mut d = Diagnostic::error(e.code, e.message, e.span);
        d.help = e.help;
        if let Some((innermost, callers)) = e.stack.split_last() {
            let mut stack = format!("in microflow {innermost}");
            for caller in callers.iter().rev() {
                stack.push_str(&format!(", called by {caller}"));
            }
            d.help = Some(match d.help {
                Some(h) => format!("{h}; {stack}"),
                None => stack,
            });
        }
        d
    }
}

/// Runtime error codes by meaning.
pub(crate) mod codes {
    use crate::codes::Code;

    /// An operation the principal's access rules do not allow.
    pub(crate) const ACCESS: Code = Code::R001;
    /// An `error` statement.
    pub(crate) const ERROR_STATEMENT: Code = Code::R002;
    /// A delete refused by a `prevent` delete behaviour.
    pub(crate) const PREVENTED: Code = Code::R003;
    /// A value of the wrong kind at run time (empty object, division by zero, ...).
    pub(crate) const RUNTIME: Code = Code::R004;
    /// An `expect` that does not hold.
    pub(crate) const EXPECTATION: Code = Code::R005;
    /// An unknown principal or user.
    pub(crate) const PRINCIPAL: Code = Code::R006;
    /// A feature whose evaluation is not built yet.
    pub(crate) const UNSUPPORTED: Code = Code::R007;
    /// A run that did not stop: too deep or too many steps.
    pub(crate) const RUNAWAY: Code = Code::R008;
    /// The store could not write or commit (a full disk, a lock held too long).
    pub(crate) const STORE: Code = Code::R009;
    /// A commit that would leave a reference to an object that is not committed.
    pub(crate) const INTEGRITY: Code = Code::R010;
}

/// What is being decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Whether the object is visible.
    See,
    /// Whether a member is readable.
    Read(MemberIndex),
    /// Whether a member is writable.
    Write(MemberIndex),
    /// Whether the object may be deleted.
    Delete,
    /// Whether objects of the entity may be created.
    Create,
}

/// The steps one top-level statement may take unless `--max-steps` says otherwise.
pub const DEFAULT_STEP_BUDGET: u64 = 10_000_000;

/// Everything one run evaluates against.
pub struct Engine<'p> {
    /// The checked program.
    program: &'p Program,
    /// Committed objects.
    store: Box<dyn Store>,
    /// The clock, in UTC milliseconds.
    now: i64,
    /// The app's gate (tests may flip it).
    access: AccessLevel,
    /// Every session of the run.
    sessions: BTreeMap<SessionKey, Session>,
    /// The acting session.
    current: SessionKey,
    /// Lines written by `log`.
    log: Vec<String>,
    /// Objects created by statements, in order (not the implied anonymous users).
    created: Vec<ObjectId>,
    /// Process instances and UI flow sessions started so far.
    instances: BTreeMap<u64, crate::runtime::Instance>,
    /// Access rules by entity.
    rules_by_entity: Vec<Vec<usize>>,
    /// How each access rule (by index) is decided from columns, found once here.
    column_rules: Vec<xpath::ColumnRule>,
    /// Per entity: whether the columns decide every one of its rules.
    columns_decide: Vec<bool>,
    role_objects: Vec<Object>,
    fresh_anonymous: u32,
    /// Steps taken by the current top-level statement: statements executed and objects
    /// examined by retrieves, path steps and delete behaviour (a `Cell`, so that reads count too).
    steps: std::cell::Cell<u64>,
    /// How many steps one top-level statement may take before it counts as runaway.
    step_budget: u64,
    /// How retrieves find their candidates (see [`Plan`]; the others serve differential tests).
    plan: Plan,
    /// Whether explanations name rules by entity, ordinal and roles (`rule 2 of Shop.Cart
    /// (Shop.Buyer)`) rather than by file and line, so that snapshot text does not change
    /// when a line is added above a rule.
    stable_rule_names: bool,
    /// What the run exercised, when `warden test --coverage` asks.
    coverage: coverage::Recorder,
}

impl<'p> Engine<'p> {
    /// A run over `store`, acting as system.
    pub fn new(program: &'p Program, store: Box<dyn Store>, now: i64) -> Engine<'p> {
        let mut rules_by_entity = vec![Vec::new(); program.entities.len()];
        for (i, r) in program.access_rules.iter().enumerate() {
            rules_by_entity[r.entity.index()].push(i);
        }
        let column_rules: Vec<xpath::ColumnRule> =
            program.access_rules.iter().map(|r| xpath::ColumnRule::of(program, r)).collect();
        let columns_decide =
            rules_by_entity.iter().map(|rs| rs.iter().all(|&r| column_rules[r] != xpath::ColumnRule::Object)).collect();
        let role_objects = (0..program.user_roles.len())
            .map(|i| {
                let role = UserRoleId(i as u32);
                let mut o = Object::new(program, ObjectId::of_role(role), SYSTEM_USER_ROLE);
                o.values[USER_ROLE_NAME] = Value::String(program.user_role(role).name.to_string());
                o
            })
            .collect();
        let mut sessions = BTreeMap::new();
        sessions.insert(SessionKey::System, Session::default());
        Engine {
            program,
            store,
            now,
            access: program.app.access,
            sessions,
            current: SessionKey::System,
            log: Vec::new(),
            instances: BTreeMap::new(),
            created: Vec::new(),
            rules_by_entity,
            column_rules,
            columns_decide,
            role_objects,
            fresh_anonymous: 0,
            steps: std::cell::Cell::new(0),
            step_budget: DEFAULT_STEP_BUDGET,
            plan: Plan::Indexed,
            stable_rule_names: false,
            coverage: None,
        }
    }

    /// The same run (sessions, clock, gate, instances) over another store: for property
    /// tests that ask whether an answer depends on data the principal may not see.
    #[doc(hidden)]
    pub fn fork(&self, store: Box<dyn Store>) -> Engine<'p> {
        let mut engine = Engine::new(self.program, store, self.now);
        engine.access = self.access;
        engine.sessions = self.sessions.clone();
        engine.current = self.current.clone();
        engine.created = self.created.clone();
        engine.instances = self.instances.clone();
        engine.fresh_anonymous = self.fresh_anonymous;
        engine.step_budget = self.step_budget;
        engine.plan = self.plan;
        engine
    }

    /// Ends the engine, keeping everything a later engine over a changed program
    /// (more sources, the same schema) can resume: the store, the sessions, the clock.
    pub fn into_state(self) -> RunState {
        RunState {
            store: self.store,
            now: self.now,
            access: self.access,
            sessions: self.sessions,
            current: self.current,
            created: self.created,
            instances: self.instances,
            fresh_anonymous: self.fresh_anonymous,
            step_budget: self.step_budget,
        }
    }

    /// Resumes a run over `program` from a state another engine left.
    pub fn resume(program: &'p Program, state: RunState) -> Engine<'p> {
        let mut engine = Engine::new(program, state.store, state.now);
        engine.access = state.access;
        engine.sessions = state.sessions;
        engine.current = state.current;
        engine.created = state.created;
        engine.instances = state.instances;
        engine.fresh_anonymous = state.fresh_anonymous;
        engine.step_budget = state.step_budget;
        engine
    }

    /// The checked program the run evaluates.
    pub fn program(&self) -> &'p Program {
        self.program
    }

    /// The committed objects (read only: every change goes through statements).
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Ends the run, giving back its store.
    pub fn into_store(self) -> Box<dyn Store> {
        self.store
    }

    /// Starts a transaction that spans the statements run until [`Engine::commit_batch`]
    /// or [`Engine::rollback_batch`] (`warden eval` runs all its statements in one, so that
    /// `--save` keeps all of them or none).
    pub fn begin_batch(&mut self) {
        self.store.begin();
    }

    /// Makes the batch's changes permanent; on failure the store has undone them.
    pub fn commit_batch(&mut self) -> Result<(), crate::store::CommitError> {
        self.store.commit()
    }

    /// Undoes everything since [`Engine::begin_batch`] in the store.
    pub fn rollback_batch(&mut self) {
        self.store.rollback();
    }

    /// The clock, in UTC milliseconds.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Moves the clock.
    pub fn set_now(&mut self, now: i64) {
        self.now = now;
    }

    /// The app's gate as it stands (tests may flip it).
    pub fn access(&self) -> AccessLevel {
        self.access
    }

    /// Every line `log` has written, in order.
    pub fn log(&self) -> &[String] {
        &self.log
    }

    /// The objects statements created, in order (not the implied anonymous users).
    pub fn created(&self) -> &[ObjectId] {
        &self.created
    }

    /// How many steps one top-level statement may take.
    pub fn step_budget(&self) -> u64 {
        self.step_budget
    }

    /// Sets the steps one top-level statement may take (`--max-steps`).
    pub fn set_step_budget(&mut self, steps: u64) {
        self.step_budget = steps;
    }

    /// Chooses how retrieves find their candidates (plans change cost, never answers).
    pub fn set_plan(&mut self, plan: Plan) {
        self.plan = plan;
    }

    /// Names rules in explanations by entity, ordinal and roles rather than by file and line.
    pub(crate) fn set_stable_rule_names(&mut self, on: bool) {
        self.stable_rule_names = on;
    }

    /// Every session of the run, by key.
    pub fn sessions(&self) -> impl Iterator<Item = (&SessionKey, &Session)> {
        self.sessions.iter()
    }

    /// The acting session's key.
    pub fn current(&self) -> &SessionKey {
        &self.current
    }

    /// Acts as a session the run already has (false, and nothing changes, when it has none).
    pub fn switch_to(&mut self, key: &SessionKey) -> bool {
        if !self.sessions.contains_key(key) {
            return false;
        }
        self.current = key.clone();
        true
    }

    /// The acting session.
    #[expect(clippy::expect_used, reason = "an invariant of the engine's sessions")]
    pub fn session(&self) -> &Session {
        // INVARIANT: `current` always names a session of `sessions`: `new` inserts system's,
        // every switch inserts a session before naming it, and none is ever removed.
        self.sessions.get(&self.current).expect("the current session exists")
    }

    #[expect(clippy::expect_used, reason = "an invariant of the engine's sessions")]
    pub(crate) fn session_mut(&mut self) -> &mut Session {
        // INVARIANT: as for `session`.
        self.sessions.get_mut(&self.current).expect("the current session exists")
    }

    /// Whether the acting principal is `system`.
    pub fn is_system(&self) -> bool {
        self.current == SessionKey::System
    }

    /// Whether the acting principal is an anonymous session.
    pub fn is_anonymous(&self) -> bool {
        matches!(self.current, SessionKey::Anonymous(_))
    }

    /// How the acting principal reads in messages: `system`, `alice`, `anonymous:A`.
    pub fn principal_name(&self) -> String {
        match &self.current {
            SessionKey::System => "system".into(),
            SessionKey::Anonymous(name) => format!("anonymous:{name}"),
            SessionKey::User(id) => self.user_name(*id).unwrap_or_else(|| id.to_string()),
        }
    }

    fn user_name(&self, id: ObjectId) -> Option<String> {
        let index = self.program.entity(self.store.entity_of(id)?).member("Name")?;
        match self.store.value(id, index)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Switches to a principal named on the command line.
    pub fn act_as(&mut self, principal: &PrincipalName) -> Result<(), EvalError> {
        match principal {
            PrincipalName::System => {
                self.act_as_system();
                Ok(())
            }
            PrincipalName::Anonymous(name) => self.act_as_anonymous(name.as_deref(), Span::default()),
            PrincipalName::User(name) => self.act_as_user(name, Span::default()),
        }
    }

    /// Switches to system.
    pub(crate) fn act_as_system(&mut self) {
        self.current = SessionKey::System;
    }

    /// Switches to a named user (looked up by `System.User` Name in the store).
    pub(crate) fn act_as_user(&mut self, name: &str, span: Span) -> Result<(), EvalError> {
        let Some(id) = crate::store::user_by_name(self.program, self.store.as_ref(), name) else {
            let names = self.user_names();
            let hint = crate::diagnostic::suggest::hint(name, names.iter().map(String::as_str));
            return Err(EvalError::new(codes::PRINCIPAL, format!("no user named `{name}`{hint}"), span));
        };
        self.enter_user(id);
        Ok(())
    }

    pub(crate) fn enter_user(&mut self, id: ObjectId) {
        let key = SessionKey::User(id);
        if !self.sessions.contains_key(&key) {
            let roles = self.roles_of(id);
            let session = self.session_for(Some(id), roles);
            self.sessions.insert(key.clone(), session);
        }
        self.current = key;
    }

    /// Switches to an anonymous session: a named one (resumed if it exists) or a fresh one.
    pub fn act_as_anonymous(&mut self, name: Option<&str>, span: Span) -> Result<(), EvalError> {
        let Some(role) = self.program.app.anonymous else {
            let e = EvalError::new(
                codes::PRINCIPAL,
                "the app has no anonymous user role, so there are no anonymous users",
                span,
            );
            return Err(e.with_help("add `anonymous: ROLE` to the app"));
        };
        let name = match name {
            Some(n) => SmolStr::new(n),
            None => {
                self.fresh_anonymous += 1;
                SmolStr::new(format!("#{}", self.fresh_anonymous))
            }
        };
        let key = SessionKey::Anonymous(name);
        if !self.sessions.contains_key(&key) {
            let session = self.session_for(None, vec![role]);
            self.sessions.insert(key.clone(), session);
        }
        self.current = key;
        Ok(())
    }

    fn session_for(&self, user: Option<ObjectId>, roles: Vec<UserRoleId>) -> Session {
        let mut module_roles: Vec<ModuleRoleId> =
            roles.iter().flat_map(|r| self.program.module_roles_of(*r).iter().copied()).collect();
        module_roles.sort();
        module_roles.dedup();
        Session { user, roles, module_roles, ..Session::default() }
    }

    /// The user roles of a user object.
    pub(crate) fn roles_of(&self, user: ObjectId) -> Vec<UserRoleId> {
        let Some(entity) = self.store.entity_of(user) else { return Vec::new() };
        let Some(index) = self.program.entity(entity).member("System.UserRoles") else { return Vec::new() };
        match &self.store.value(user, index).unwrap_or(Value::Empty) {
            Value::List(ids) => ids.iter().filter_map(|id| id.role()).collect(),
            _ => Vec::new(),
        }
    }

    /// Every user's Name, for suggestions.
    pub fn user_names(&self) -> Vec<String> {
        self.program
            .specializations(SYSTEM_USER)
            .into_iter()
            .flat_map(|e| self.store.ids(e))
            .filter_map(|id| self.user_name(id))
            .collect()
    }

    /// The acting session's user object, creating an anonymous session's user on its first action.
    pub(crate) fn current_user(&mut self) -> Option<ObjectId> {
        if let SessionKey::Anonymous(_) = self.current {
            if self.session().user.is_none() {
                let id = self.store.allocate_id();
                let mut user = Object::new(self.program, id, SYSTEM_USER);
                let def = self.program.entity(SYSTEM_USER);
                let set = |o: &mut Object, name: &str, v: Value| {
                    if let Some(i) = def.member(name) {
                        o.values[i] = v;
                    }
                };
                set(&mut user, "IsAnonymous", Value::Boolean(true));
                let roles: Vec<ObjectId> = self.session().roles.iter().map(|r| ObjectId::of_role(*r)).collect();
                set(&mut user, "System.UserRoles", Value::List(roles));
                self.store.put(user);
                self.session_mut().user = Some(id);
            }
        }
        self.session().user
    }

    /// An object as the acting session sees it: its own uncommitted copy, else the store's.
    pub fn object(&self, id: ObjectId) -> Option<Cow<'_, Object>> {
        match self.session().uncommitted.get(&id) {
            Some(o) => Some(Cow::Borrowed(o)),
            None => self.store.get(id).or_else(|| self.role_object(id).map(Cow::Borrowed)),
        }
    }

    /// An object's entity as the acting session sees it, without building the object.
    pub fn entity_of(&self, id: ObjectId) -> Option<EntityId> {
        match self.session().uncommitted.get(&id) {
            Some(o) => Some(o.entity),
            None => self.store.entity_of(id).or_else(|| self.role_object(id).map(|o| o.entity)),
        }
    }

    /// An object as it is committed (the store's, or an implied role object), whatever the
    /// acting session changed in its copy: access rules judge committed objects so (section 4).
    pub(crate) fn committed_object(&self, id: ObjectId) -> Option<Cow<'_, Object>> {
        self.store.get(id).or_else(|| self.role_object(id).map(Cow::Borrowed))
    }

    /// An object's entity as committed (see [`Engine::committed_object`]).
    pub(crate) fn committed_entity_of(&self, id: ObjectId) -> Option<EntityId> {
        self.store.entity_of(id).or_else(|| self.role_object(id).map(|o| o.entity))
    }

    /// The version of `object` that access rules judge: for an object the acting session
    /// changed but has not committed, the committed one (changing a copy never changes what
    /// the principal may do with it); a new object, or any other, as it is.
    pub(crate) fn judged<'a>(&'a self, object: &'a Object) -> Cow<'a, Object> {
        let session = self.session();
        if session.new.contains(&object.id) || !session.uncommitted.contains_key(&object.id) {
            return Cow::Borrowed(object);
        }
        self.store.get(object.id).unwrap_or(Cow::Borrowed(object))
    }

    /// The implied `System.UserRole` objects are not stored; the engine holds them.
    fn role_object(&self, id: ObjectId) -> Option<&Object> {
        self.role_objects.get(id.role()?.index())
    }

    /// The ids of objects of `entity` and its specializations the acting session can reach
    /// (committed ones and its own uncommitted ones), ascending.
    pub fn candidate_ids(&self, entity: EntityId) -> Vec<ObjectId> {
        let entities = self.program.specializations(entity);
        let mut ids: Vec<ObjectId> = Vec::new();
        for &e in &entities {
            if e == SYSTEM_USER_ROLE {
                ids.extend((0..self.program.user_roles.len()).map(|i| ObjectId::of_role(UserRoleId(i as u32))));
            }
            ids.extend(self.store.ids(e));
        }
        let uncommitted = self.session().uncommitted.iter().filter(|(_, o)| self.program.is_a(o.entity, entity));
        let mut merged = entities.len() > 1 || entity == SYSTEM_USER_ROLE;
        for (id, _) in uncommitted {
            ids.push(*id);
            merged = true;
        }
        // One entity's ids come from the store ascending; anything added must be merged in.
        if merged {
            ids.sort_unstable();
            ids.dedup();
        }
        ids
    }

    /// Whether the acting principal may know of the object `id`: an object it can see, its own
    /// uncommitted object, its own `System.User` object, or an implied `System.UserRole`
    /// object. For any other id, existing or not, it gets one answer, `no object #N that you can see`, and nothing more.
    pub fn knows(&self, id: ObjectId) -> bool {
        if let Some(role) = id.role() {
            return role.index() < self.program.user_roles.len();
        }
        let session = self.session();
        if session.uncommitted.contains_key(&id) || session.user == Some(id) {
            return true;
        }
        let Some(entity) = self.store.entity_of(id) else { return false };
        if let Some(seen) = self.allowed_by_columns(Op::See, id, entity) {
            return seen;
        }
        let Some(object) = self.store.get(id) else { return false };
        self.is_system() || (self.program.entity(object.entity).persistent && self.can_see(&object))
    }

    /// The one answer about an object the acting principal may not know of, whatever the
    /// reason (another session's, deleted, never there, or not visible).
    pub(crate) fn unseen(&self, id: ObjectId, span: Span) -> EvalError {
        EvalError::new(codes::ACCESS, format!("no object {id} that you can see"), span)
    }

    /// Counts `n` steps of the current top-level statement; true once the budget is spent.
    pub(crate) fn charge(&self, n: u64) -> bool {
        let steps = self.steps.get().saturating_add(n);
        self.steps.set(steps);
        steps > self.step_budget
    }

    /// Whether the current top-level statement has spent its step budget.
    pub(crate) fn exhausted(&self) -> bool {
        self.steps.get() > self.step_budget
    }

    /// The error of a statement that spent its step budget.
    pub(crate) fn runaway(&self, span: Span) -> EvalError {
        let e = EvalError::new(
            codes::RUNAWAY,
            format!(
                "the statement took more than {} steps (statements run, objects examined, text and lists built)",
                self.step_budget
            ),
            span,
        );
        e.with_help("a loop, a recursive call or a retrieve does too much work; `--max-steps N` raises the limit")
    }

    /// The objects whose association member refers to `target`, as the acting session sees
    /// them (committed ones, as this session changed them, and its own uncommitted ones), ascending.
    /// Each one found counts as a step.
    pub(crate) fn referrers_in_view(&self, target: ObjectId, assoc: AssocId) -> Vec<ObjectId> {
        self.referrers(target, assoc, Referrers::InView)
    }

    /// The committed objects whose association member refers to `target`, as committed (for
    /// access rules, which judge committed objects). Each one found counts as a step.
    pub(crate) fn committed_referrers(&self, target: ObjectId, assoc: AssocId) -> Vec<ObjectId> {
        self.referrers(target, assoc, Referrers::Committed)
    }

    /// Every object whose association member refers to `target`, whoever may see it: the
    /// committed referrers in the store and the acting session's own uncommitted ones (for
    /// delete behaviour, which applies to all of them). Each one found counts as a step.
    pub(crate) fn all_referrers(&self, target: ObjectId, assoc: AssocId) -> Vec<ObjectId> {
        self.referrers(target, assoc, Referrers::All)
    }

    /// The committed referrers (in the session's view, only those the session has not
    /// changed: its own copy decides for them) and, but for committed ones only, the
    /// session's own uncommitted referrers.
    fn referrers(&self, target: ObjectId, assoc: AssocId, which: Referrers) -> Vec<ObjectId> {
        let in_view = which == Referrers::InView;
        let program = self.program;
        let from = program.assoc(assoc).from;
        let session = self.session();
        let mut out = Vec::new();
        for e in program.specializations(from) {
            let Some(member) = eval_member_of(program, e, assoc) else { continue };
            let ids = match self.store.referrers(e, member, target) {
                Some(ids) => ids,
                None => {
                    let ids = self.store.ids(e);
                    self.charge(ids.len() as u64);
                    ids.into_iter()
                        .filter(|id| self.store.value(*id, member).is_some_and(|v| refers(&v, target)))
                        .collect()
                }
            };
            out.extend(ids.into_iter().filter(|id| !in_view || !session.uncommitted.contains_key(id)));
        }
        for (id, o) in session.uncommitted.iter().filter(|_| which != Referrers::Committed) {
            let member = program.is_a(o.entity, from).then(|| eval_member_of(program, o.entity, assoc)).flatten();
            if member.is_some_and(|m| refers(&o.values[m], target)) {
                out.push(*id);
            }
        }
        out.sort_unstable();
        out.dedup();
        self.charge(out.len() as u64);
        out
    }

    /// The access rules of an entity.
    pub(crate) fn rules_of(&self, entity: EntityId) -> &[usize] {
        self.cover(|h| {
            h.entities.insert(entity.0);
        });
        &self.rules_by_entity[entity.index()]
    }

    /// Variables bound by `user` statements and tests live outside sessions.
    pub(crate) fn user_object(&self, name: &str) -> Option<ObjectId> {
        crate::store::user_by_name(self.program, self.store.as_ref(), name)
    }
}

/// Which referrers [`Engine::referrers`] finds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Referrers {
    /// As the acting session sees them.
    InView,
    /// Every committed one and the session's own uncommitted ones (delete behaviour).
    All,
    /// The committed ones, as committed (access rules).
    Committed,
}

/// The steps a value costs where an expression builds or copies it: one per 16 characters of
/// text or items of a list (shorter ones are free), so that a statement cannot double a text
/// or a list until memory runs out within its step budget.
pub(crate) fn size_steps(value: &Value) -> u64 {
    match value {
        Value::String(s) => s.len() as u64 / 16,
        Value::List(ids) => ids.len() as u64 / 16,
        _ => 0,
    }
}

/// Whether a reference or reference set value holds `target`.
pub(crate) fn refers(value: &Value, target: ObjectId) -> bool {
    match value {
        Value::Object(id) => *id == target,
        Value::List(ids) => ids.contains(&target),
        _ => false,
    }
}

use xpath::member_of as eval_member_of;

/// What a run keeps between engines (see [`Engine::into_state`]).
pub struct RunState {
    /// Committed objects.
    pub(crate) store: Box<dyn Store>,
    /// The clock.
    pub(crate) now: i64,
    /// The app's gate.
    pub(crate) access: AccessLevel,
    /// Every session.
    pub(crate) sessions: BTreeMap<SessionKey, Session>,
    /// The acting session.
    pub(crate) current: SessionKey,
    /// Objects created so far.
    pub(crate) created: Vec<ObjectId>,
    /// Runtime instances.
    pub(crate) instances: BTreeMap<u64, crate::runtime::Instance>,
    fresh_anonymous: u32,
    /// The step limit of each top-level statement.
    pub(crate) step_budget: u64,
}

/// The values of a frame's variables, by slot (see [`crate::model::flow::Scope`]); a slot
/// whose statement has not run yet holds nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vars(Vec<Option<Value>>);

impl Vars {
    /// No variable set.
    pub fn new() -> Vars {
        Vars(Vec::new())
    }

    /// The value of a slot, once set.
    pub fn get(&self, slot: usize) -> Option<&Value> {
        self.0.get(slot).and_then(Option::as_ref)
    }

    /// Sets a slot.
    pub fn set(&mut self, slot: usize, value: Value) {
        if self.0.len() <= slot {
            self.0.resize(slot + 1, None);
        }
        self.0[slot] = Some(value);
    }

    /// The values by slot, up to the last one set.
    pub fn values(&self) -> &[Option<Value>] {
        &self.0
    }
}

/// The retrieve from the store a statement is (`retrieve E [...]`, perhaps inside `count(...)`
/// or a `let`), for `warden sql` and `warden explain --plan`: the expression, its entity and
/// its constraint.
pub(crate) fn store_retrieve(
    stmt: &crate::model::flow::Stmt,
) -> Result<(&crate::model::flow::Expr, &EntityId, &Option<crate::model::xpath::Cond>), EvalError> {
    use crate::model::flow::{ExprKind, Source, StmtKind};
    let none = || {
        EvalError::new(
            codes::UNSUPPORTED,
            "give a retrieve from the store, such as `retrieve Shop.Cart [Status = 'Open']`",
            stmt.span,
        )
    };
    let mut expr = match &stmt.kind {
        StmtKind::Expr(e) | StmtKind::Set { value: e, .. } => e,
        _ => return Err(none()),
    };
    while let ExprKind::Function { args, .. } = &expr.kind {
        expr = args.first().ok_or_else(none)?;
    }
    match &expr.kind {
        ExprKind::Retrieve { source: Source::Database { entity, constraint }, .. } => Ok((expr, entity, constraint)),
        _ => Err(none()),
    }
}
