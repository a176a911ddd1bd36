//! The FlowX runtime's state beside a store, for `warden serve`: the instances started so far
//! (with the anonymous session each is bound to), their event logs, the app's gate as it was
//! last set, and the bearer tokens signed in. The decisions stay [`crate::runtime`]'s; this
//! module keeps what they read and what their effects change.
//!
//! Over a SQLite store the state lives in tables of the same database (`warden_runtime_*`,
//! which the store's schema check leaves alone), so several server processes over one file
//! agree on every session; each decision and its effect run in one `BEGIN IMMEDIATE`
//! transaction. Over a PostgreSQL store it lives in tables of the same names in the store's
//! schema (`store::pg_runtime`), each decision in one transaction under an advisory lock of
//! its own. Over a JSON store (or none) it lives in the memory of the one process.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rusqlite::{params, Connection, OptionalExtension};

use crate::model::value::ObjectId;
use crate::model::{AccessLevel, Program, ResourceKind};
use crate::runtime::{self, Caller, Decision, Effect, Instance, Request, Response, Runtime, Target};

/// One event of an instance's stream: its offset (from 0), its type and its JSON data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The position in the instance's stream.
    pub offset: u64,
    /// `STARTED`, `UI_ACTION`, `UI_FLOW_FILE_UPLOAD`, ...
    pub kind: String,
    /// A JSON document.
    pub data: String,
}

/// A signed-in bearer token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The `System.User` Name it signs in as.
    pub user: String,
    /// When it expires, in seconds since the epoch (`i64::MAX`: never).
    pub expires: i64,
}

/// The runtime state that decisions read and effects change.
pub trait RuntimeState {
    /// The app's gate: as last set, else as the program declares it.
    fn access(&self, program: &Program) -> Result<AccessLevel, String>;
    /// Sets the gate (`POST /__warden/access`).
    fn set_access(&mut self, access: AccessLevel) -> Result<(), String>;
    /// One instance, if it exists and its resource is still in the program.
    fn instance(&self, program: &Program, id: u64) -> Result<Option<Instance>, String>;
    /// Applies a served decision's effect (see [`runtime::apply`]); the id of a started instance.
    fn apply(&mut self, program: &Program, effect: Effect, issued: Option<&str>) -> Result<Option<u64>, String>;
    /// Appends an event to an instance's stream.
    fn push_event(&mut self, instance: u64, kind: &str, data: &str) -> Result<(), String>;
    /// The instance's events from `offset` on.
    fn events(&self, instance: u64, offset: u64) -> Result<Vec<Event>, String>;
    /// Records a bearer token.
    fn add_token(&mut self, token: &str, user: &str, expires: i64) -> Result<(), String>;
    /// A recorded token.
    fn token(&self, token: &str) -> Result<Option<Token>, String>;
    /// Forgets every instance, event and anonymous session, and the gate's setting.
    fn reset(&mut self) -> Result<(), String>;
    /// Binds every instance of the anonymous session `old` to the session `new` (a sign-in
    /// gave the visitor a new id); how many.
    fn rebind_session(&mut self, old: &str, new: &str) -> Result<usize, String>;
    /// Decides a request and applies what it changes, as one step (see [`decide`]); `after`
    /// runs on the served response before the step ends (to log an event, read a stream).
    fn decide(
        &mut self,
        program: &Program,
        caller: &Caller<'_>,
        req: &Request,
        after: &mut dyn FnMut(&mut dyn RuntimeState, &Response) -> Result<(), String>,
    ) -> Result<Response, String>;
}

/// Decides `req` for `caller` over `state` in the order of section 8 ([`Runtime::decide`], the
/// function the `request` statement uses) and applies its effect ([`runtime::apply`]'s
/// semantics): a start gets a fresh, unguessable id bound to the session id it carried or the
/// one this response issues.
pub fn decide(
    state: &mut dyn RuntimeState,
    program: &Program,
    caller: &Caller<'_>,
    req: &Request,
    after: &mut dyn FnMut(&mut dyn RuntimeState, &Response) -> Result<(), String>,
) -> Result<Response, String> {
    let decision = decision(&*state, program, caller, req)?;
    let mut response = decision.response;
    let issued = decision.issues_session.then(runtime::new_session_id);
    if let Some(id) = state.apply(program, decision.effect, issued.as_deref())? {
        response.instance = Some(id);
    }
    response.issued_session = issued;
    if response.status == 200 {
        after(state, &response)?;
    }
    Ok(response)
}

/// [`Runtime::decide`] over what `state` holds: the instance the request targets and the gate.
fn decision(
    state: &dyn RuntimeState,
    program: &Program,
    caller: &Caller<'_>,
    req: &Request,
) -> Result<Decision, String> {
    let mut instances = BTreeMap::new();
    if let Target::Instance(_, id) | Target::StartWorkflow(_, id) = &req.target {
        if let Some(instance) = state.instance(program, *id)? {
            instances.insert(*id, instance);
        }
    }
    let access = state.access(program)?;
    Ok(Runtime { program, access, instances: &instances }.decide(caller, req))
}

/// [`decide`] for a request whose decision changes nothing ([`Effect::None`]: a status, a
/// data read, build info, a refusal...), from a state that is only read, so that such requests
/// need not wait for the one writer. `None` when serving the request would change the state (a
/// start, a dismiss): the caller then runs [`decide`]. Where it answers, the response is the
/// one [`decide`] would give (a session id it issues is issued the same way; with no effect,
/// [`decide`] records nothing of it either).
pub fn decide_read_only(
    state: &dyn RuntimeState,
    program: &Program,
    caller: &Caller<'_>,
    req: &Request,
) -> Result<Option<Response>, String> {
    let decision = decision(state, program, caller, req)?;
    if decision.effect != Effect::None {
        return Ok(None);
    }
    let mut response = decision.response;
    response.issued_session = decision.issues_session.then(runtime::new_session_id);
    Ok(Some(response))
}

/// The state in the memory of one process (a JSON store, or none).
#[derive(Debug, Default)]
pub struct MemoryRuntimeState {
    access: Option<AccessLevel>,
    instances: BTreeMap<u64, Stored>,
    events: BTreeMap<u64, Vec<(String, String)>>,
    tokens: BTreeMap<String, Token>,
}

/// An instance as kept: its resource by kind and name, so that a reloaded program (whose
/// resource ids may differ) finds the same resource, or none.
#[derive(Clone, Debug)]
struct Stored {
    kind: ResourceKind,
    resource: String,
    session: Option<String>,
    started_as_anonymous_by: Option<ObjectId>,
    dismissed: bool,
}

impl MemoryRuntimeState {
    /// An empty state.
    pub fn new() -> MemoryRuntimeState {
        MemoryRuntimeState::default()
    }
}

impl RuntimeState for MemoryRuntimeState {
    fn access(&self, program: &Program) -> Result<AccessLevel, String> {
        Ok(self.access.unwrap_or(program.app.access))
    }

    fn set_access(&mut self, access: AccessLevel) -> Result<(), String> {
        self.access = Some(access);
        Ok(())
    }

    fn instance(&self, program: &Program, id: u64) -> Result<Option<Instance>, String> {
        // An instance whose resource a reload removed is gone with it.
        Ok(self.instances.get(&id).and_then(|s| {
            Some(Instance {
                kind: s.kind,
                resource: program.resource_by_name(s.kind, &s.resource)?,
                session: s.session.clone(),
                started_as_anonymous_by: s.started_as_anonymous_by,
                dismissed: s.dismissed,
            })
        }))
    }

    fn apply(&mut self, program: &Program, effect: Effect, issued: Option<&str>) -> Result<Option<u64>, String> {
        match effect {
            Effect::None => Ok(None),
            Effect::Dismiss(id) => {
                if let Some(s) = self.instances.get_mut(&id) {
                    s.dismissed = true;
                }
                Ok(None)
            }
            Effect::Start(instance) => {
                let id = loop {
                    let id = runtime::new_instance_key();
                    if !self.instances.contains_key(&id) {
                        break id;
                    }
                };
                let session = issued.map(str::to_string).or(instance.session);
                let resource = program.resources[instance.resource.index()].name.to_string();
                self.instances.insert(
                    id,
                    Stored {
                        kind: instance.kind,
                        resource,
                        session,
                        started_as_anonymous_by: instance.started_as_anonymous_by,
                        dismissed: false,
                    },
                );
                Ok(Some(id))
            }
        }
    }

    fn push_event(&mut self, instance: u64, kind: &str, data: &str) -> Result<(), String> {
        self.events.entry(instance).or_default().push((kind.to_string(), data.to_string()));
        Ok(())
    }

    fn events(&self, instance: u64, offset: u64) -> Result<Vec<Event>, String> {
        let all = self.events.get(&instance).map(Vec::as_slice).unwrap_or_default();
        Ok(all
            .iter()
            .enumerate()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .map(|(i, (kind, data))| Event { offset: i as u64, kind: kind.clone(), data: data.clone() })
            .collect())
    }

    fn add_token(&mut self, token: &str, user: &str, expires: i64) -> Result<(), String> {
        self.tokens.insert(token.to_string(), Token { user: user.to_string(), expires });
        Ok(())
    }

    fn token(&self, token: &str) -> Result<Option<Token>, String> {
        Ok(self.tokens.get(token).cloned())
    }

    fn reset(&mut self) -> Result<(), String> {
        self.access = None;
        self.instances.clear();
        self.events.clear();
        Ok(())
    }

    fn rebind_session(&mut self, old: &str, new: &str) -> Result<usize, String> {
        let mut n = 0;
        for stored in self.instances.values_mut().filter(|s| s.session.as_deref() == Some(old)) {
            stored.session = Some(new.to_string());
            n += 1;
        }
        Ok(n)
    }

    fn decide(
        &mut self,
        program: &Program,
        caller: &Caller<'_>,
        req: &Request,
        after: &mut dyn FnMut(&mut dyn RuntimeState, &Response) -> Result<(), String>,
    ) -> Result<Response, String> {
        decide(self, program, caller, req, after)
    }
}

/// A [`MemoryRuntimeState`] behind a lock, shared by clones: one thread writes through it as a
/// [`RuntimeState`] (each [`RuntimeState::decide`] under the write lock, so a decision and its
/// effect are one step), while others read it at the same time ([`Self::read`] with
/// [`decide_read_only`]). A reader sees every write that finished before it took the lock, so
/// a client that got the answer to its own write sees that write in its next request.
#[derive(Clone, Debug, Default)]
pub struct SharedMemoryRuntimeState(Arc<RwLock<MemoryRuntimeState>>);

impl SharedMemoryRuntimeState {
    /// An empty state.
    pub fn new() -> SharedMemoryRuntimeState {
        SharedMemoryRuntimeState::default()
    }

    /// The state as it stands, for reading (writers wait until the guard is dropped).
    pub fn read(&self) -> RwLockReadGuard<'_, MemoryRuntimeState> {
        // A writer that panicked left no half-made change visible: every change is one
        // insertion or one field set.
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, MemoryRuntimeState> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RuntimeState for SharedMemoryRuntimeState {
    fn access(&self, program: &Program) -> Result<AccessLevel, String> {
        self.read().access(program)
    }

    fn set_access(&mut self, access: AccessLevel) -> Result<(), String> {
        self.write().set_access(access)
    }

    fn instance(&self, program: &Program, id: u64) -> Result<Option<Instance>, String> {
        self.read().instance(program, id)
    }

    fn apply(&mut self, program: &Program, effect: Effect, issued: Option<&str>) -> Result<Option<u64>, String> {
        self.write().apply(program, effect, issued)
    }

    fn push_event(&mut self, instance: u64, kind: &str, data: &str) -> Result<(), String> {
        self.write().push_event(instance, kind, data)
    }

    fn events(&self, instance: u64, offset: u64) -> Result<Vec<Event>, String> {
        self.read().events(instance, offset)
    }

    fn add_token(&mut self, token: &str, user: &str, expires: i64) -> Result<(), String> {
        self.write().add_token(token, user, expires)
    }

    fn token(&self, token: &str) -> Result<Option<Token>, String> {
        self.read().token(token)
    }

    fn reset(&mut self) -> Result<(), String> {
        self.write().reset()
    }

    fn rebind_session(&mut self, old: &str, new: &str) -> Result<usize, String> {
        self.write().rebind_session(old, new)
    }

    fn decide(
        &mut self,
        program: &Program,
        caller: &Caller<'_>,
        req: &Request,
        after: &mut dyn FnMut(&mut dyn RuntimeState, &Response) -> Result<(), String>,
    ) -> Result<Response, String> {
        let mut state = self.write();
        decide(&mut *state, program, caller, req, after)
    }
}

/// The prefix of the tables the runtime state keeps in a SQLite store (and a PostgreSQL one).
pub const TABLE_PREFIX: &str = "warden_runtime_";

/// The state in tables of a SQLite store, shared by every process that opens the file.
pub struct SqliteRuntimeState {
    conn: Connection,
}

fn sql_error(e: rusqlite::Error) -> String {
    format!("the runtime state: {e}")
}

pub(crate) fn kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Process => "process",
        ResourceKind::UiFlow => "ui flow",
        ResourceKind::Template => "template",
    }
}

pub(crate) fn kind_of(name: &str) -> Option<ResourceKind> {
    match name {
        "process" => Some(ResourceKind::Process),
        "ui flow" => Some(ResourceKind::UiFlow),
        "template" => Some(ResourceKind::Template),
        _ => None,
    }
}

/// kind, resource, session, started_by, dismissed.
type InstanceRow = (String, String, Option<String>, Option<i64>, bool);

impl SqliteRuntimeState {
    /// Opens the state in the SQLite database at `path` (which must exist), creating its
    /// tables when missing.
    pub fn open(path: &Path) -> Result<SqliteRuntimeState, String> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| format!("cannot open `{}`: {e}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql_error)?;
        // WAL, as the store itself: a reader's snapshot never blocks the state's writes.
        let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(sql_error)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS warden_runtime_instances (
                id INTEGER PRIMARY KEY, kind TEXT NOT NULL, resource TEXT NOT NULL,
                session TEXT, started_by INTEGER, dismissed INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE IF NOT EXISTS warden_runtime_events (
                instance INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,
                PRIMARY KEY (instance, seq));
             CREATE TABLE IF NOT EXISTS warden_runtime_gate (id INTEGER PRIMARY KEY CHECK (id = 1), access TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS warden_runtime_tokens (
                token TEXT PRIMARY KEY, user TEXT NOT NULL, expires INTEGER NOT NULL);",
        )
        .map_err(sql_error)?;
        Ok(SqliteRuntimeState { conn })
    }
}

impl RuntimeState for SqliteRuntimeState {
    fn access(&self, program: &Program) -> Result<AccessLevel, String> {
        let set: Option<String> = self
            .conn
            .query_row("SELECT access FROM warden_runtime_gate WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(sql_error)?;
        Ok(match set.as_deref() {
            Some("public") => AccessLevel::Public,
            Some(_) => AccessLevel::Invited,
            None => program.app.access,
        })
    }

    fn set_access(&mut self, access: AccessLevel) -> Result<(), String> {
        let text = if access == AccessLevel::Public { "public" } else { "invited" };
        self.conn
            .execute("INSERT OR REPLACE INTO warden_runtime_gate (id, access) VALUES (1, ?1)", params![text])
            .map_err(sql_error)?;
        Ok(())
    }

    fn instance(&self, program: &Program, id: u64) -> Result<Option<Instance>, String> {
        let Ok(key) = i64::try_from(id) else { return Ok(None) };
        let row: Option<InstanceRow> = self
            .conn
            .query_row(
                "SELECT kind, resource, session, started_by, dismissed FROM warden_runtime_instances WHERE id = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(sql_error)?;
        let Some((kind, resource, session, started_by, dismissed)) = row else { return Ok(None) };
        let Some(kind) = kind_of(&kind) else { return Ok(None) };
        let Some(resource) = program.resource_by_name(kind, &resource) else { return Ok(None) };
        Ok(Some(Instance {
            kind,
            resource,
            session,
            started_as_anonymous_by: started_by.and_then(|u| u64::try_from(u).ok()).map(ObjectId),
            dismissed,
        }))
    }

    fn apply(&mut self, program: &Program, effect: Effect, issued: Option<&str>) -> Result<Option<u64>, String> {
        match effect {
            Effect::None => Ok(None),
            Effect::Dismiss(id) => {
                let key = i64::try_from(id).map_err(|_| "an instance id out of range".to_string())?;
                self.conn
                    .execute("UPDATE warden_runtime_instances SET dismissed = 1 WHERE id = ?1", params![key])
                    .map_err(sql_error)?;
                Ok(None)
            }
            Effect::Start(mut instance) => {
                if let Some(session) = issued {
                    instance.session = Some(session.to_string());
                }
                let name = program.resources[instance.resource.index()].name.to_string();
                let by = instance.started_as_anonymous_by.and_then(|u| i64::try_from(u.0).ok());
                loop {
                    let id = runtime::new_instance_key();
                    let key = i64::try_from(id).map_err(|_| "an instance id out of range".to_string())?;
                    let inserted = self
                        .conn
                        .execute(
                            "INSERT OR IGNORE INTO warden_runtime_instances (id, kind, resource, session, started_by, dismissed)
                             VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                            params![key, kind_name(instance.kind), name, instance.session, by],
                        )
                        .map_err(sql_error)?;
                    if inserted == 1 {
                        return Ok(Some(id));
                    }
                }
            }
        }
    }

    fn push_event(&mut self, instance: u64, kind: &str, data: &str) -> Result<(), String> {
        let key = i64::try_from(instance).map_err(|_| "an instance id out of range".to_string())?;
        self.conn
            .execute(
                "INSERT INTO warden_runtime_events (instance, seq, type, data)
                 VALUES (?1, (SELECT count(*) FROM warden_runtime_events WHERE instance = ?1), ?2, ?3)",
                params![key, kind, data],
            )
            .map_err(sql_error)?;
        Ok(())
    }

    fn events(&self, instance: u64, offset: u64) -> Result<Vec<Event>, String> {
        let (Ok(key), Ok(from)) = (i64::try_from(instance), i64::try_from(offset)) else { return Ok(Vec::new()) };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, type, data FROM warden_runtime_events WHERE instance = ?1 AND seq >= ?2 ORDER BY seq",
            )
            .map_err(sql_error)?;
        let rows = stmt
            .query_map(params![key, from], |r| {
                Ok(Event { offset: r.get::<_, i64>(0)?.unsigned_abs(), kind: r.get(1)?, data: r.get(2)? })
            })
            .map_err(sql_error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
    }

    fn add_token(&mut self, token: &str, user: &str, expires: i64) -> Result<(), String> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO warden_runtime_tokens (token, user, expires) VALUES (?1, ?2, ?3)",
                params![token, user, expires],
            )
            .map_err(sql_error)?;
        Ok(())
    }

    fn token(&self, token: &str) -> Result<Option<Token>, String> {
        self.conn
            .query_row("SELECT user, expires FROM warden_runtime_tokens WHERE token = ?1", params![token], |r| {
                Ok(Token { user: r.get(0)?, expires: r.get(1)? })
            })
            .optional()
            .map_err(sql_error)
    }

    fn rebind_session(&mut self, old: &str, new: &str) -> Result<usize, String> {
        self.conn
            .execute("UPDATE warden_runtime_instances SET session = ?2 WHERE session = ?1", params![old, new])
            .map_err(sql_error)
    }

    fn reset(&mut self) -> Result<(), String> {
        self.conn
            .execute_batch(
                "BEGIN IMMEDIATE;
                 DELETE FROM warden_runtime_instances; DELETE FROM warden_runtime_events; DELETE FROM warden_runtime_gate;
                 COMMIT;",
            )
            .map_err(sql_error)
    }

    fn decide(
        &mut self,
        program: &Program,
        caller: &Caller<'_>,
        req: &Request,
        after: &mut dyn FnMut(&mut dyn RuntimeState, &Response) -> Result<(), String>,
    ) -> Result<Response, String> {
        // One writer at a time across processes: the decision reads what the last served
        // request of any process wrote, and its effect lands before another decides.
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_error)?;
        match decide(self, program, caller, req, after) {
            Ok(response) => {
                self.conn.execute_batch("COMMIT").map_err(sql_error)?;
                Ok(response)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}
