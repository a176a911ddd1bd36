//! The data API of `warden serve` (docs/serve.md): retrieve, create, change, delete, commit,
//! roll back, call a microflow and sign in, as the acting session, each through the same
//! functions the statements use. The HTTP layer maps paths to these and their [`ApiError`]s to
//! status codes; it adds no rule of its own.
//!
//! An object the acting principal may not know of is answered exactly as one that does not
//! exist ([`ApiError::unseen`]), whatever the operation.

use std::cmp::Ordering;

use serde_json::{Map, Value as Json};

use super::exec::{Frame, Rights};
use super::{codes, Engine, EvalError, SessionKey, Vars};
use crate::codes::Code;
use crate::model::flow::{Expr, ExprKind, MemberRef, SetMember, Source, Stmt, StmtKind};
use crate::model::*;
use crate::source::Span;
use crate::store::{ObjectId, Value};

/// What kind of refusal an [`ApiError`] is (the HTTP status follows from it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// The principal's rules do not allow it: `403`.
    Access,
    /// A constraint, type or value error, or a bad query: `400`.
    Invalid,
    /// An unknown entity, member, microflow or object (or one the principal may not know of): `404`.
    NotFound,
    /// An anonymous session may not call the microflow, but these user roles may: `401`.
    SignInRequired(Vec<String>),
    /// A sign-in that failed (unknown user or wrong password, one answer for both): `401`.
    Unauthorized,
    /// The store failed: `500`.
    Store,
}

/// A refused or failed data API operation.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// Its kind.
    pub kind: ApiErrorKind,
    /// The diagnostic code (`R001`, `E0101`, ...).
    pub code: String,
    /// What happened.
    pub message: String,
    /// How to fix it, when known.
    pub help: Option<String>,
    /// For a bad `where`: the byte range of the problem within the query parameter.
    pub span: Option<(usize, usize)>,
}

impl ApiError {
    fn new(kind: ApiErrorKind, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { kind, code: code.to_string(), message: message.into(), help: None, span: None }
    }

    /// The HTTP status of the error.
    pub fn status(&self) -> u16 {
        match self.kind {
            ApiErrorKind::Access => 403,
            ApiErrorKind::Invalid => 400,
            ApiErrorKind::NotFound => 404,
            ApiErrorKind::SignInRequired(_) | ApiErrorKind::Unauthorized => 401,
            ApiErrorKind::Store => 500,
        }
    }

    /// The one answer about an object the principal may not know of: missing or hidden alike.
    pub fn unseen(id: u64) -> ApiError {
        ApiError::new(ApiErrorKind::NotFound, Code::R001.as_str(), format!("no object #{id} that you can see"))
    }

    /// An unknown name (entity, member, microflow, parameter).
    pub fn unknown(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiErrorKind::NotFound, "W404", message)
    }

    /// A malformed request.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiErrorKind::Invalid, "W400", message)
    }
}

impl From<EvalError> for ApiError {
    fn from(e: EvalError) -> ApiError {
        let kind = if e.code == codes::ACCESS {
            // The evaluator's one answer for an object the principal may not know of.
            if e.message.starts_with("no object ") {
                ApiErrorKind::NotFound
            } else {
                ApiErrorKind::Access
            }
        } else if e.code == codes::STORE {
            ApiErrorKind::Store
        } else if e.code == codes::PRINCIPAL {
            ApiErrorKind::Unauthorized
        } else {
            ApiErrorKind::Invalid
        };
        ApiError { kind, code: e.code.as_str().to_string(), message: e.message, help: e.help, span: None }
    }
}

/// How to order a list: a member, descending or not (ties by id, so paging is stable).
#[derive(Clone, Debug)]
pub struct Sort {
    /// The member's index.
    pub member: MemberIndex,
    /// Descending.
    pub descending: bool,
}

/// A page of a retrieve.
#[derive(Clone, Debug)]
pub struct Page {
    /// The objects of the page, each with only its readable members.
    pub objects: Vec<Json>,
    /// How many objects the principal sees in all.
    pub total: usize,
}

/// The entity named `name`, or [`ApiError::unknown`].
pub fn entity(program: &Program, name: &str) -> Result<EntityId, ApiError> {
    program.entity_by_name(name).ok_or_else(|| ApiError::unknown(format!("no entity named `{name}`")))
}

/// A `sort` parameter (`Member` or `-Member`) of an entity.
pub fn sort(program: &Program, entity: EntityId, text: &str) -> Result<Sort, ApiError> {
    let (name, descending) = match text.strip_prefix('-') {
        Some(n) => (n, true),
        None => (text, false),
    };
    let def = program.entity(entity);
    let member = def.member(name).ok_or_else(|| ApiError::unknown(format!("`{}` has no member `{name}`", def.name)))?;
    Ok(Sort { member, descending })
}

/// Checks `retrieve ENTITY [WHERE]` against the schema (adding it to the program's sources, as
/// `warden eval` does): the statement, or the first error with its span within `where_`.
/// Anything but one retrieve of `entity` from the store is refused, so the text can never be
/// more than a constraint.
pub fn compile_retrieve(program: &mut Program, entity: EntityId, where_: Option<&str>) -> Result<Stmt, ApiError> {
    let name = program.entity(entity).name.to_string();
    let prefix = format!("retrieve {name} ");
    let constraint = match where_.map(str::trim) {
        None | Some("") => String::new(),
        Some(w) if w.starts_with('[') => w.to_string(),
        Some(w) => format!("[{w}]"),
    };
    // Where the parameter's own text starts within the statement.
    let shift = prefix.len() + usize::from(where_.is_some_and(|w| !w.trim().starts_with('[')));
    let lead = where_.map_or(0, |w| w.len() - w.trim_start().len());
    let text = format!("{prefix}{constraint}");
    let checked = crate::check::compile_statements(program, "<where>", &text).map_err(|diagnostics| {
        let first = diagnostics.into_iter().find(|d| d.is_error());
        match first {
            Some(d) => {
                let start = (d.span.start as usize).saturating_sub(shift) + lead;
                let end = (d.span.end as usize).saturating_sub(shift) + lead;
                ApiError {
                    kind: ApiErrorKind::Invalid,
                    code: d.code.as_str().to_string(),
                    message: d.message,
                    help: d.help,
                    span: Some((start, end.max(start))),
                }
            }
            None => ApiError::invalid("the where constraint does not check"),
        }
    })?;
    let mut stmts = checked.stmts;
    let only_retrieve = stmts.len() == 1
        && matches!(
            &stmts[0].kind,
            StmtKind::Expr(Expr {
                kind: ExprKind::Retrieve { first: false, source: Source::Database { entity: e, .. } },
                ..
            }) if *e == entity
        );
    match stmts.pop() {
        Some(stmt) if only_retrieve => Ok(stmt),
        _ => Err(ApiError::invalid("`where` must be one XPath constraint such as [Status = 'Open']")),
    }
}

/// A JSON value as a member or parameter of type `ty` (the store format: decimals as strings or
/// numbers, dates and times as RFC 3339 text, enumeration values by name, objects by id).
pub fn json_value(program: &Program, ty: Type, value: &Json) -> Result<Value, String> {
    let found = || format!("found {value}");
    if value.is_null() {
        return Ok(match ty {
            Type::List(_) => Value::List(Vec::new()),
            _ => Value::Empty,
        });
    }
    let id = |v: &Json| v.as_u64().map(ObjectId).ok_or_else(|| format!("expected an object id, found {v}"));
    match ty {
        Type::String => value
            .as_str()
            .map(|s| Value::String(s.to_string()))
            .ok_or_else(|| format!("expected a string, {}", found())),
        Type::Integer | Type::Long => {
            let n = value.as_i64().ok_or_else(|| format!("expected a whole number, {}", found()))?;
            if ty == Type::Integer && i32::try_from(n).is_err() {
                return Err(format!("{n} does not fit an Integer (32 bits)"));
            }
            Ok(Value::Integer(n))
        }
        Type::Decimal => {
            let text = match value {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                _ => String::new(),
            };
            text.parse::<rust_decimal::Decimal>()
                .map(Value::Decimal)
                .map_err(|_| format!("expected a decimal such as \"3.50\", {}", found()))
        }
        Type::Boolean => {
            value.as_bool().map(Value::Boolean).ok_or_else(|| format!("expected true or false, {}", found()))
        }
        Type::DateTime => {
            value.as_str().and_then(crate::time::parse_instant).map(Value::DateTime).ok_or_else(|| {
                format!("expected an RFC 3339 date and time such as \"2026-11-22T10:00:00Z\", {}", found())
            })
        }
        Type::Enum(e) => {
            let def = program.enumeration(e);
            let name = value.as_str().ok_or_else(|| format!("expected a value of {}, {}", def.name, found()))?;
            match def.values.iter().position(|v| v == name) {
                Some(i) => Ok(Value::Enum(e, i as u32)),
                None => Err(format!("`{name}` is not a value of {} ({})", def.name, def.values.join(", "))),
            }
        }
        Type::Object(_) => id(value).map(Value::Object),
        Type::List(_) => {
            let items = value.as_array().ok_or_else(|| format!("expected a list of object ids, {}", found()))?;
            items.iter().map(id).collect::<Result<Vec<_>, _>>().map(Value::List)
        }
        _ => Err(format!("a value of this type cannot be given as JSON ({})", found())),
    }
}

/// The type of a member, as a value of it is given.
fn member_type(program: &Program, member: &MemberDef) -> Type {
    match member.kind {
        MemberKind::Attribute(ty) => match ty {
            AttrType::String(_) | AttrType::HashedString => Type::String,
            AttrType::Integer => Type::Integer,
            AttrType::Long | AttrType::AutoNumber => Type::Long,
            AttrType::Decimal => Type::Decimal,
            AttrType::Boolean => Type::Boolean,
            AttrType::DateTime => Type::DateTime,
            AttrType::Enum(e) => Type::Enum(e),
        },
        MemberKind::Association(a) => {
            let def = program.assoc(a);
            match def.multiplicity {
                Multiplicity::Reference => Type::Object(def.to),
                Multiplicity::ReferenceSet => Type::List(def.to),
            }
        }
    }
}

/// Orders two member values (empty first); `None` when they do not compare.
fn order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Empty, Value::Empty) => Ordering::Equal,
        (Value::Empty, _) => Ordering::Less,
        (_, Value::Empty) => Ordering::Greater,
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        (Value::DateTime(x), Value::DateTime(y)) => x.cmp(y),
        (Value::Enum(_, x), Value::Enum(_, y)) => x.cmp(y),
        (Value::Object(x), Value::Object(y)) => x.cmp(y),
        _ => match (a.as_decimal(), b.as_decimal()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => Ordering::Equal,
        },
    }
}

impl Engine<'_> {
    /// Acts as the anonymous session `key` (created on first use).
    pub fn api_enter_anonymous(&mut self, key: &str) -> Result<(), ApiError> {
        self.act_as_anonymous(Some(key), Span::default()).map_err(ApiError::from)
    }

    /// Acts as the user named `name`.
    pub fn api_enter_user(&mut self, name: &str) -> Result<(), ApiError> {
        self.act_as_user(name, Span::default()).map_err(|_| {
            ApiError::new(ApiErrorKind::Unauthorized, codes::PRINCIPAL.as_str(), "the token's user no longer exists")
        })
    }

    /// Where the access rules that apply to the acting principal for `entity` are written, as
    /// `file:line` (what decided a retrieve).
    pub fn api_rules(&self, entity: EntityId) -> Vec<String> {
        self.program
            .specializations(entity)
            .into_iter()
            .flat_map(|e| self.applicable_rules(e))
            .map(|r| self.location(self.program.access_rules[r].span))
            .collect()
    }

    /// `file:line` of a span.
    pub fn location(&self, span: Span) -> String {
        let sources = &self.program.sources;
        let file = sources.file(span.file);
        let (line, _) = file.line_col(span.start as usize);
        let name = file.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        format!("{name}:{line}")
    }

    /// Runs a checked retrieve as the acting principal, then sorts and pages what it sees.
    pub fn api_list(
        &mut self,
        stmt: &Stmt,
        sort: Option<&Sort>,
        offset: usize,
        limit: usize,
    ) -> Result<Page, ApiError> {
        let mut vars = Vars::new();
        let ids = match self.run_top(stmt, &mut vars)? {
            super::Outcome::Value(Value::List(ids)) => ids,
            super::Outcome::Value(Value::Object(id)) => vec![id],
            _ => Vec::new(),
        };
        let mut keyed: Vec<(Value, ObjectId)> = ids
            .into_iter()
            .map(|id| {
                let key = match (sort, self.object(id)) {
                    // Only a member the principal may read orders: an unreadable one is empty.
                    (Some(s), Some(o)) if self.allowed(super::Op::Read(s.member), &o) => {
                        o.values.get(s.member).cloned().unwrap_or(Value::Empty)
                    }
                    _ => Value::Empty,
                };
                (key, id)
            })
            .collect();
        let descending = sort.is_some_and(|s| s.descending);
        keyed.sort_by(|(ka, ia), (kb, ib)| {
            let by_key = if descending { order(kb, ka) } else { order(ka, kb) };
            by_key.then(ia.cmp(ib))
        });
        let total = keyed.len();
        let objects =
            keyed.into_iter().skip(offset).take(limit).map(|(_, id)| self.show_json(&Value::Object(id))).collect();
        Ok(Page { objects, total })
    }

    /// One object of `entity` the principal may know of, with its readable members.
    pub fn api_get(&self, entity: EntityId, id: u64) -> Result<Json, ApiError> {
        let id = self.api_known(entity, id)?;
        Ok(self.show_json(&Value::Object(id)))
    }

    /// The object `id` when the principal may know of it and it is an `entity`; else the one
    /// answer for missing and hidden objects.
    fn api_known(&self, entity: EntityId, id: u64) -> Result<ObjectId, ApiError> {
        let object = ObjectId(id);
        if id == 0 || !self.knows(object) || !self.entity_of(object).is_some_and(|e| self.program.is_a(e, entity)) {
            return Err(ApiError::unseen(id));
        }
        Ok(object)
    }

    /// Member values from a JSON object (`id` and `entity` are ignored). A reference may be
    /// given as `"[%CurrentUser%]"`: the acting session's own user object, as in XPath.
    fn api_values(&mut self, entity: EntityId, members: &Map<String, Json>) -> Result<Vec<SetMember>, ApiError> {
        let def = self.program.entity(entity);
        let mut out = Vec::new();
        for (name, json) in members {
            if name == "id" || name == "entity" {
                continue;
            }
            let index =
                def.member(name).ok_or_else(|| ApiError::unknown(format!("`{}` has no member `{name}`", def.name)))?;
            let member = &def.members[index];
            let ty = member_type(self.program, member);
            let value = match (ty, json.as_str()) {
                (Type::Object(_), Some("[%CurrentUser%]")) => self.current_user().map_or(Value::Empty, Value::Object),
                _ => json_value(self.program, ty, json)
                    .map_err(|why| ApiError::invalid(format!("`{name}` of {}: {why}", def.name)))?,
            };
            out.push(SetMember {
                member: MemberRef::Member { entity, index },
                op: AssignOp::Set,
                value: Expr { kind: ExprKind::Value(value), span: Span::default() },
                member_span: Span::default(),
            });
        }
        Ok(out)
    }

    /// Creates an object of `entity` with member values as the acting principal, and commits
    /// it unless `commit` is false (then it waits in the session for [`Engine::api_commit`]).
    pub fn api_create(
        &mut self,
        entity: EntityId,
        members: &Map<String, Json>,
        commit: bool,
    ) -> Result<Json, ApiError> {
        let values = self.api_values(entity, members)?;
        self.steps.set(0);
        let id = self.transaction(Span::default(), |e| {
            let mut vars = Vars::new();
            let mut frame = Frame { vars: &mut vars, rights: Rights::Principal, given: false, stack: Vec::new() };
            let id = e.create(entity, &values, &mut frame, Span::default())?;
            if commit {
                e.commit_objects(&[id], Rights::Principal, Span::default())?;
            }
            Ok(id)
        })?;
        Ok(self.show_json(&Value::Object(id)))
    }

    /// Changes an object and commits it (with everything else of the change), as the acting principal.
    pub fn api_change(&mut self, entity: EntityId, id: u64, members: &Map<String, Json>) -> Result<Json, ApiError> {
        let id = self.api_known(entity, id)?;
        let values = self.api_values(entity, members)?;
        self.steps.set(0);
        self.transaction(Span::default(), |e| {
            let mut vars = Vars::new();
            let mut frame = Frame { vars: &mut vars, rights: Rights::Principal, given: false, stack: Vec::new() };
            e.change(id, &values, &mut frame, Span::default())?;
            e.commit_objects(&[id], Rights::Principal, Span::default())
        })?;
        Ok(self.show_json(&Value::Object(id)))
    }

    /// Deletes an object as the acting principal, with every delete behaviour.
    pub fn api_delete(&mut self, entity: EntityId, id: u64) -> Result<(), ApiError> {
        let id = self.api_known(entity, id)?;
        self.steps.set(0);
        self.transaction(Span::default(), |e| e.delete(id, Rights::Principal, Span::default()))?;
        Ok(())
    }

    /// Commits every object the acting session holds uncommitted; how many.
    pub fn api_commit(&mut self) -> Result<usize, ApiError> {
        let ids: Vec<ObjectId> = self.session().uncommitted.keys().copied().collect();
        self.steps.set(0);
        self.transaction(Span::default(), |e| e.commit_objects(&ids, Rights::Principal, Span::default()))?;
        Ok(ids.len())
    }

    /// Forgets every uncommitted object of the acting session; how many.
    pub fn api_rollback(&mut self) -> usize {
        let session = self.session_mut();
        let n = session.uncommitted.len();
        session.uncommitted.clear();
        session.new.clear();
        session.changed.clear();
        n
    }

    /// Calls a microflow from outside as the acting principal with named JSON parameters; its
    /// result as JSON (objects with their readable members).
    pub fn api_call(&mut self, name: &str, params: &Map<String, Json>) -> Result<Json, ApiError> {
        let program = self.program;
        let id =
            program.microflow_by_name(name).ok_or_else(|| ApiError::unknown(format!("no microflow named `{name}`")))?;
        if let Err(why) = self.may_call(id) {
            let roles = self.roles_that_may_call(id);
            if self.is_anonymous() && self.gate_open() && !roles.is_empty() {
                let mut e = ApiError::new(ApiErrorKind::SignInRequired(roles), codes::ACCESS.as_str(), why);
                e.help = Some("sign in (POST /api/sign-in) as a user whose role may call it".into());
                return Err(e);
            }
            let mut e = ApiError::from(self.denied(why, Span::default()));
            e.help = self.call_help(id);
            return Err(e);
        }
        let def = program.microflow(id);
        for key in params.keys() {
            if !def.params.iter().any(|(p, _)| p == key) {
                return Err(ApiError::unknown(format!("{name} has no parameter `{key}`")));
            }
        }
        let mut args = Vec::new();
        for (param, ty) in &def.params {
            let value = match params.get(param.as_str()) {
                Some(json) => json_value(program, *ty, json)
                    .map_err(|why| ApiError::invalid(format!("parameter `{param}`: {why}")))?,
                None => Value::Empty,
            };
            args.push(Expr { kind: ExprKind::Value(value), span: Span::default() });
        }
        self.steps.set(0);
        let value = self.transaction(Span::default(), |e| {
            let mut vars = Vars::new();
            let mut frame = Frame { vars: &mut vars, rights: Rights::Principal, given: false, stack: Vec::new() };
            e.call(id, &args, &mut frame, Span::default())
        })?;
        Ok(self.show_json(&value))
    }

    /// Signs the acting anonymous session in as `user`, as `sign in` does: the sign-in microflow
    /// with the session's user object, the anonymous user deleted with its delete behaviour.
    /// When the user has a `Password` (a PHC string, such as argon2's), `password` must match
    /// it. An unknown user and a wrong password get one answer; a failure changes nothing.
    pub fn api_sign_in(&mut self, user: &str, password: Option<&str>) -> Result<(), ApiError> {
        let refused =
            || ApiError::new(ApiErrorKind::Unauthorized, codes::PRINCIPAL.as_str(), "unknown user or wrong password");
        if !matches!(self.current, SessionKey::Anonymous(_)) {
            return Err(ApiError::invalid("only an anonymous session signs in"));
        }
        let Some(id) = self.user_object(user) else {
            // As long as checking a password of a user who has one: the time of the answer
            // does not tell whether the user exists.
            verify_password(unknown_user_hash(), password.unwrap_or_default());
            return Err(refused());
        };
        let stored = self
            .store
            .entity_of(id)
            .and_then(|e| self.program.entity(e).member("Password"))
            .and_then(|i| self.store.value(id, i));
        if let Some(Value::String(hash)) = stored.filter(|v| !v.is_empty()) {
            if !verify_password(&hash, password.unwrap_or_default()) {
                return Err(refused());
            }
        }
        self.steps.set(0);
        self.sign_in(user, Span::default())?;
        Ok(())
    }

    /// Ends an anonymous session: its user object is deleted with its delete behaviour (what it
    /// made and did not hand over goes with it), and the session is forgotten.
    pub fn api_end_anonymous(&mut self, key: &str) -> Result<(), ApiError> {
        let key = SessionKey::Anonymous(key.into());
        let Some(session) = self.sessions.get(&key) else { return Ok(()) };
        let user = session.user;
        let previous = std::mem::replace(&mut self.current, key.clone());
        self.steps.set(0);
        let result = self.transaction(Span::default(), |e| match user {
            Some(u) => e.delete(u, Rights::Full, Span::default()),
            None => Ok(()),
        });
        self.current = if previous == key { SessionKey::System } else { previous };
        result?;
        self.sessions.remove(&key);
        Ok(())
    }

    /// The anonymous sessions whose user object exists: each one's key and user object id
    /// (what a server carries over when it reloads the program).
    pub fn api_anonymous_users(&self) -> Vec<(String, u64)> {
        self.sessions
            .iter()
            .filter_map(|(k, s)| match (k, s.user) {
                (SessionKey::Anonymous(n), Some(u)) if self.store.entity_of(u).is_some() => Some((n.to_string(), u.0)),
                _ => None,
            })
            .collect()
    }

    /// Makes `user`, an anonymous user object of the store, the user of the anonymous session
    /// `key` again (after a reload of the program), with no uncommitted objects. Does nothing
    /// when the session exists already or the object is not a user.
    pub fn api_adopt_anonymous(&mut self, key: &str, user: u64) {
        let (Some(role), user) = (self.program.app.anonymous, ObjectId(user)) else { return };
        let key = SessionKey::Anonymous(key.into());
        if self.sessions.contains_key(&key) || self.store.entity_of(user).is_none() {
            return;
        }
        let session = self.session_for(Some(user), vec![role]);
        self.sessions.insert(key, session);
    }

    /// The sessions of the run: key, principal name, uncommitted objects.
    pub fn api_sessions(&self) -> Vec<(String, usize)> {
        self.sessions
            .iter()
            .map(|(k, s)| {
                let name = match k {
                    SessionKey::System => "system".to_string(),
                    SessionKey::Anonymous(n) => format!("anonymous:{n}"),
                    SessionKey::User(id) => self.user_name(*id).unwrap_or_else(|| id.to_string()),
                };
                (name, s.uncommitted.len())
            })
            .collect()
    }
}

/// Whether `password` matches a PHC password hash (argon2). Anything that is not a PHC
/// string never matches: a plain-text password in a store is never compared.
pub fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash checked for an unknown user, made once with the parameters of [`hash_password`].
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("no such user").unwrap_or_default())
}

/// An argon2id PHC hash of `password` with a random salt, for a store's `Password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks `explain OPERATION` (`read #5/Cost`, `call Shop.Checkout`, ...) for the inspector:
/// the statement, or the first error. Anything but one `explain` is refused.
pub fn compile_explain(program: &mut Program, operation: &str) -> Result<Stmt, ApiError> {
    let text = format!("explain {operation}");
    let checked =
        crate::check::compile_statements(program, "<explain>", &text).map_err(|diagnostics| {
            match diagnostics.into_iter().find(|d| d.is_error()) {
                Some(d) => ApiError {
                    kind: ApiErrorKind::Invalid,
                    code: d.code.as_str().to_string(),
                    message: d.message,
                    help: d.help,
                    span: None,
                },
                None => ApiError::invalid("the operation does not check"),
            }
        })?;
    let mut stmts = checked.stmts;
    let one = stmts.len() == 1 && matches!(stmts[0].kind, StmtKind::Explain(_));
    match stmts.pop() {
        Some(stmt) if one => Ok(stmt),
        _ => Err(ApiError::invalid("give one operation, such as `read #5/Cost` or `call Shop.Checkout`")),
    }
}

impl Engine<'_> {
    /// Explains an operation as a principal named as on the command line (`anonymous`, `carl`).
    pub fn api_explain(&mut self, principal: &str, stmt: &Stmt) -> Result<String, ApiError> {
        let name: super::PrincipalName = match principal.parse() {
            Ok(n) => n,
            Err(never) => match never {},
        };
        self.act_as(&name)?;
        let mut vars = Vars::new();
        match self.run_top(stmt, &mut vars)? {
            super::Outcome::Text(text) => Ok(text),
            _ => Err(ApiError::invalid("not an explanation")),
        }
    }
}
