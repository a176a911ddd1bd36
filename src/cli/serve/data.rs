//! The Mendix side over HTTP (docs/serve.md): the data API with entity access applied, the
//! sign-in screen, and the decision log.
//!
//! Each request is one job on the data thread, which owns the program, a writable copy of the
//! store and the evaluator's sessions; every decision is a [`warden::eval::api`] function, the
//! ones the statements use. The thread keeps the evaluator's state between jobs and resumes an
//! [`Engine`] over it for each one (checking a `where` needs the program mutably, in between).
//! Bearer tokens are the FlowX engine's (`POST /__warden/token`); anonymous sessions are this
//! thread's, by the same `X-Fx-Anonymous-Session-Id` header or a `warden_session` cookie.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use tokio::sync::{broadcast, mpsc, oneshot};

use warden::eval::api::{self, ApiError, ApiErrorKind};
use warden::eval::{Engine, RunState};
use warden::model::{EntityId, Program};

use super::engine::{Auth, Handle, Job};
use super::routes::SESSION_HEADER;
use super::Options;

/// The cookie that carries the session for pages the emulator serves.
pub const COOKIE: &str = "warden_session";
/// The most objects one page holds.
const MAX_LIMIT: usize = 1000;
/// The decisions the inspector shows when it opens.
const RECENT: usize = 200;

/// What a session id stands for.
#[derive(Clone, Debug)]
enum Principal {
    /// An anonymous session, by its key in the evaluator (never the id the client holds).
    Anonymous(String),
    /// A signed-in user, by Name.
    User(String),
}

impl Principal {
    fn describe(&self) -> String {
        match self {
            Principal::Anonymous(key) => format!("anonymous:{key}"),
            Principal::User(name) => name.clone(),
        }
    }
}

/// One operation of the data API.
#[derive(Clone, Debug)]
pub enum Op {
    /// `GET /api/data/{E}`.
    List { entity: String, where_: Option<String>, sort: Option<String>, offset: usize, limit: usize },
    /// `GET /api/data/{E}/{id}`.
    Get { entity: String, id: u64 },
    /// `POST /api/data/{E}`.
    Create { entity: String, body: Map<String, Value>, commit: bool },
    /// `PATCH /api/data/{E}/{id}`.
    Change { entity: String, id: u64, body: Map<String, Value> },
    /// `DELETE /api/data/{E}/{id}`.
    Delete { entity: String, id: u64 },
    /// `POST /api/commit`.
    Commit,
    /// `POST /api/rollback`.
    Rollback,
    /// `POST /api/microflows/{M.F}`.
    Call { name: String, params: Map<String, Value> },
    /// `POST /api/sign-in`.
    SignIn { user: String, password: Option<String> },
    /// `POST /api/sign-out`.
    SignOut,
}

impl Op {
    fn describe(&self) -> String {
        match self {
            Op::List { entity, where_, .. } => format!("retrieve {entity}{}", where_.as_deref().unwrap_or("")),
            Op::Get { entity, id } => format!("get {entity} #{id}"),
            Op::Create { entity, .. } => format!("create {entity}"),
            Op::Change { entity, id, .. } => format!("change {entity} #{id}"),
            Op::Delete { entity, id } => format!("delete {entity} #{id}"),
            Op::Commit => "commit".into(),
            Op::Rollback => "rollback".into(),
            Op::Call { name, .. } => format!("call {name}"),
            Op::SignIn { user, .. } => format!("sign in {user}"),
            Op::SignOut => "sign out".into(),
        }
    }
}

/// The answer to one data job.
pub struct Answer {
    status: u16,
    body: Value,
    /// A new session id to hand the client.
    issued: Option<String>,
    /// The session ended: the cookie is cleared.
    ended: bool,
}

/// The decision log: a file (`--decision-log`), the last decisions, and live subscribers.
pub struct Decisions {
    file: Mutex<Option<std::fs::File>>,
    recent: Mutex<VecDeque<String>>,
    live: broadcast::Sender<String>,
}

impl Decisions {
    /// A log, writing to `path` when given.
    pub fn open(path: Option<&std::path::Path>) -> Result<Decisions, String> {
        let file = match path {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| format!("cannot open the decision log `{}`: {e}", p.display()))?,
            ),
            None => None,
        };
        let (live, _) = broadcast::channel(1024);
        Ok(Decisions { file: Mutex::new(file), recent: Mutex::new(VecDeque::new()), live })
    }

    /// Records one decision as a JSON line.
    pub fn record(&self, decision: &Value) {
        let line = decision.to_string();
        if let Ok(mut file) = self.file.lock() {
            if let Some(f) = file.as_mut() {
                let _ = writeln!(f, "{line}");
            }
        }
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= RECENT {
                recent.pop_front();
            }
            recent.push_back(line.clone());
        }
        let _ = self.live.send(line);
    }

    /// The decisions recorded last, oldest first.
    pub fn recent(&self) -> Vec<String> {
        self.recent.lock().map(|r| r.iter().cloned().collect()).unwrap_or_default()
    }

    /// New decisions as they are made.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.live.subscribe()
    }
}

/// Request ids, one sequence for the whole server (data API and FlowX alike).
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// The next request id.
pub fn next_request() -> u64 {
    REQUESTS.fetch_add(1, Ordering::Relaxed) + 1
}

/// Records a FlowX gate's decision (the runtime's reason names the gate that decided).
pub fn record_gate(decisions: &Decisions, principal: &str, operation: &str, status: u16, reason: &str) {
    let outcome = if status == 200 { "allow" } else { "deny" };
    decisions.record(&json!({
        "time": timestamp(),
        "request": next_request(),
        "principal": principal,
        "operation": operation,
        "status": status,
        "outcome": outcome,
        "decided_by": { "gate": reason },
    }));
}

/// The time now, RFC 3339 with milliseconds.
pub fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

type DataJob = Box<dyn FnOnce(&mut Ctx) + Send>;

/// The routes' end of the data thread.
#[derive(Clone)]
pub struct DataHandle {
    jobs: mpsc::Sender<DataJob>,
}

impl DataHandle {
    async fn run<T: Send + 'static>(&self, f: impl FnOnce(&mut Ctx) -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        let job: DataJob = Box::new(move |ctx| {
            let _ = tx.send(f(ctx));
        });
        self.jobs.send(job).await.ok()?;
        rx.await.ok()
    }
}

/// The data thread's state.
pub struct Ctx {
    paths: Vec<PathBuf>,
    store_path: Option<PathBuf>,
    pg_schema: Option<String>,
    program: Program,
    state: Option<RunState>,
    sessions: HashMap<String, Principal>,
    next_anonymous: u64,
    wheres: HashMap<(EntityId, String), Result<warden::model::flow::Stmt, ApiError>>,
    decisions: Arc<Decisions>,
}

/// Loads the program and a writable in-memory copy of the store (the files are never written).
fn load(
    paths: &[PathBuf],
    store_path: Option<&std::path::Path>,
    pg_schema: Option<&str>,
) -> Result<(Program, RunState), String> {
    let program = load_program(paths)?;
    // A SQLite or PostgreSQL store is copied into memory too, so the data API's writes work over
    // every store and never reach the file the FlowX side shares with other servers.
    let store: Box<dyn warden::store::Store> = match store_path {
        Some(path) => Box::new(warden::store::load_into_memory_in(&program, path, pg_schema).map_err(|errors| {
            errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; ")
        })?),
        None => Box::new(warden::store::MemoryStore::new()),
    };
    let state = Engine::new(&program, store, now_ms()).into_state();
    Ok((program, state))
}

/// Loads and checks the rules.
fn load_program(paths: &[PathBuf]) -> Result<Program, String> {
    let sources = warden::load::read_sources(paths).map_err(|e| e.to_string())?;
    let checked = warden::load::load(sources);
    if checked.has_errors() {
        return Err("the rules do not check".into());
    }
    Ok(checked.program)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Starts the data thread, which loads the program and the store itself (the store never
/// leaves it: a SQLite connection is not `Send`).
pub fn start(
    options: &Options,
    decisions: Arc<Decisions>,
) -> Result<(DataHandle, std::thread::JoinHandle<()>), String> {
    let (tx, mut rx) = mpsc::channel::<DataJob>(4096);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let (paths, store_path, pg_schema) = (options.paths.clone(), options.store.clone(), options.pg_schema.clone());
    let thread = std::thread::Builder::new()
        .name("warden-data".into())
        .spawn(move || {
            // A PostgreSQL store may be larger than memory: the data API copies it only when
            // a data request first comes (a server that answers FlowX requests alone never
            // does; the FlowX side reads objects as it needs them).
            let lazy = store_path.as_deref().is_some_and(warden::store::is_postgres);
            let loaded = match lazy {
                true => load_program(&paths).map(|program| (program, None)),
                false => load(&paths, store_path.as_deref(), pg_schema.as_deref()).map(|(p, s)| (p, Some(s))),
            };
            let (program, state) = match loaded {
                Ok(loaded) => loaded,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            let mut ctx = Ctx {
                paths,
                store_path,
                pg_schema,
                program,
                state,
                sessions: HashMap::new(),
                next_anonymous: 0,
                wheres: HashMap::new(),
                decisions,
            };
            while let Some(job) = rx.blocking_recv() {
                ctx.recover();
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut ctx)));
                if run.is_err() {
                    eprintln!(
                        "warden serve: a data request panicked (a bug); it was answered 500 and the server goes on"
                    );
                    ctx.recover();
                }
            }
        })
        .map_err(|e| format!("cannot start the data thread: {e}"))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok((DataHandle { jobs: tx }, thread)),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err("the data thread failed to start".into())
        }
    }
}

fn error_body(e: &ApiError) -> Value {
    let mut body = json!({ "status": e.status(), "code": e.code, "message": e.message, "help": e.help });
    if let Some((start, end)) = e.span {
        body["span"] = json!({ "start": start, "end": end });
    }
    if let ApiErrorKind::SignInRequired(roles) = &e.kind {
        body["sign_in_required"] = json!(true);
        body["roles"] = json!(roles);
    }
    body
}

fn new_session_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Ctx {
    /// After a panic the evaluator's state may be gone, and over PostgreSQL it is loaded only
    /// when the first data request comes: (re)load it from the files.
    fn recover(&mut self) {
        if self.state.is_some() {
            return;
        }
        match load(&self.paths, self.store_path.as_deref(), self.pg_schema.as_deref()) {
            Ok((program, state)) => {
                self.program = program;
                self.state = Some(state);
                self.sessions.clear();
                self.wheres.clear();
            }
            Err(e) => eprintln!("warden serve: the data API cannot recover: {e}"),
        }
    }

    /// Serves one operation for the caller: a bearer's user, or a session id (a new anonymous
    /// session when there is none).
    fn serve(&mut self, request: u64, user: Option<String>, session: Option<String>, op: Op) -> Answer {
        let mut issued = None;
        let principal = match (&user, &session) {
            (Some(name), _) => Principal::User(name.clone()),
            (None, Some(id)) => match self.sessions.get(id) {
                Some(p) => p.clone(),
                None => {
                    let e = ApiError {
                        kind: ApiErrorKind::Unauthorized,
                        code: "W401".into(),
                        message: "no such session (it ended, or the sign-in replaced it)".into(),
                        help: Some("send no session id to start a new anonymous session".into()),
                        span: None,
                    };
                    self.log(request, "unknown session", &op, 401, json!("session"));
                    return Answer { status: 401, body: error_body(&e), issued: None, ended: true };
                }
            },
            (None, None) => {
                let Some(id) = new_session_id() else {
                    return Answer {
                        status: 500,
                        body: json!({ "status": 500, "message": "no randomness" }),
                        issued: None,
                        ended: false,
                    };
                };
                self.next_anonymous += 1;
                let p = Principal::Anonymous(format!("v{}", self.next_anonymous));
                self.sessions.insert(id.clone(), p.clone());
                issued = Some(id);
                p
            }
        };
        // A `where` is checked against the schema once per text, before any engine runs.
        let compiled = match &op {
            Op::List { entity, where_, .. } => match api::entity(&self.program, entity) {
                Ok(e) => {
                    let key = (e, where_.clone().unwrap_or_default());
                    if !self.wheres.contains_key(&key) {
                        let stmt = api::compile_retrieve(&mut self.program, e, where_.as_deref());
                        self.wheres.insert(key.clone(), stmt);
                    }
                    self.wheres.get(&key).cloned()
                }
                Err(e) => Some(Err(e)),
            },
            _ => None,
        };
        let Some(state) = self.state.take() else {
            return Answer {
                status: 500,
                body: json!({ "status": 500, "message": "the data API is unavailable" }),
                issued,
                ended: false,
            };
        };
        let mut engine = Engine::resume(&self.program, state);
        engine.set_now(now_ms());
        let entered = match &principal {
            Principal::Anonymous(key) => engine.api_enter_anonymous(key),
            Principal::User(name) => engine.api_enter_user(name),
        };
        let (result, decided_by, signed_in) = match entered {
            Err(e) => (Err(e), json!("principal"), None),
            Ok(()) => run(&mut engine, &op, compiled, &principal),
        };
        self.state = Some(engine.into_state());
        let mut ended = false;
        if let Some(name) = signed_in {
            // The old id no longer works: the session is the user's under a new id.
            if let Some(old) = &session {
                self.sessions.remove(old);
            }
            if let Some(id) = new_session_id() {
                self.sessions.insert(id.clone(), Principal::User(name));
                issued = Some(id);
            }
        }
        if matches!(op, Op::SignOut) && result.is_ok() {
            if let Some(old) = &session {
                self.sessions.remove(old);
            }
            ended = true;
        }
        let (status, body) = match result {
            Ok(body) => (200, body),
            Err(e) => (e.status(), error_body(&e)),
        };
        self.log(request, &principal.describe(), &op, status, decided_by);
        Answer { status, body, issued, ended }
    }

    fn log(&self, request: u64, principal: &str, op: &Op, status: u16, decided_by: Value) {
        let outcome = match status {
            200 => "allow",
            401 | 403 | 404 => "deny",
            _ => "error",
        };
        self.decisions.record(&json!({
            "time": timestamp(),
            "request": request,
            "principal": principal,
            "operation": op.describe(),
            "status": status,
            "outcome": outcome,
            "decided_by": decided_by,
        }));
    }

    /// The open sessions, for the inspector: principal and uncommitted objects (never the ids).
    fn sessions(&mut self) -> Value {
        let Some(state) = self.state.take() else { return json!([]) };
        let engine = Engine::resume(&self.program, state);
        let listed: Vec<Value> = engine
            .api_sessions()
            .into_iter()
            .map(|(name, uncommitted)| json!({ "principal": name, "uncommitted": uncommitted }))
            .collect();
        self.state = Some(engine.into_state());
        json!({ "sessions": listed, "open": self.sessions.len() })
    }
}

type Ran = (Result<Value, ApiError>, Value, Option<String>);

/// One operation on the engine, as the principal it acts as; what decided it.
fn run(
    engine: &mut Engine<'_>,
    op: &Op,
    compiled: Option<Result<warden::model::flow::Stmt, ApiError>>,
    principal: &Principal,
) -> Ran {
    let program = engine.program();
    let rules = |engine: &Engine<'_>, entity: &str| -> Value {
        match program.entity_by_name(entity) {
            Some(e) => json!(engine.api_rules(e)),
            None => json!([]),
        }
    };
    let entity = |name: &str| api::entity(program, name);
    let result = match op {
        Op::List { sort, offset, limit, entity: name, .. } => (|| {
            let e = entity(name)?;
            let stmt = compiled.unwrap_or_else(|| Err(ApiError::invalid("no retrieve")))?;
            let sort = sort.as_deref().map(|s| api::sort(program, e, s)).transpose()?;
            let page = engine.api_list(&stmt, sort.as_ref(), *offset, *limit)?;
            Ok(json!({ "objects": page.objects, "total": page.total, "offset": offset, "limit": limit }))
        })(),
        Op::Get { entity: name, id } => entity(name).and_then(|e| engine.api_get(e, *id)),
        Op::Create { entity: name, body, commit } => entity(name).and_then(|e| engine.api_create(e, body, *commit)),
        Op::Change { entity: name, id, body } => entity(name).and_then(|e| engine.api_change(e, *id, body)),
        Op::Delete { entity: name, id } => {
            entity(name).and_then(|e| engine.api_delete(e, *id)).map(|()| json!({ "deleted": id }))
        }
        Op::Commit => engine.api_commit().map(|n| json!({ "committed": n })),
        Op::Rollback => Ok(json!({ "rolled_back": engine.api_rollback() })),
        Op::Call { name, params } => engine.api_call(name, params).map(|v| json!({ "result": v })),
        Op::SignIn { user, password } => {
            engine.api_sign_in(user, password.as_deref()).map(|()| json!({ "signed_in": user }))
        }
        Op::SignOut => match principal {
            Principal::Anonymous(key) => engine.api_end_anonymous(key).map(|()| json!({ "signed_out": true })),
            Principal::User(_) => Ok(json!({ "signed_out": true })),
        },
    };
    let decided_by = match op {
        Op::List { entity, .. }
        | Op::Get { entity, .. }
        | Op::Create { entity, .. }
        | Op::Change { entity, .. }
        | Op::Delete { entity, .. } => json!({ "rules": rules(engine, entity) }),
        Op::Call { name, .. } => match program.microflow_by_name(name) {
            Some(id) => json!({ "microflow": name, "allow": engine.location(program.microflow(id).header) }),
            None => json!({ "microflow": name }),
        },
        Op::SignIn { .. } => match program.app.sign_in {
            Some(id) => json!({ "sign_in": program.microflow(id).name.as_str() }),
            None => json!({ "sign_in": null }),
        },
        Op::Commit | Op::Rollback | Op::SignOut => json!("session"),
    };
    let decided_by = match &result {
        Err(e) => json!({ "code": e.code, "reason": e.message, "by": decided_by }),
        Ok(_) => decided_by,
    };
    let signed_in = match (op, &result) {
        (Op::SignIn { user, .. }, Ok(_)) => Some(user.clone()),
        _ => None,
    };
    (result, decided_by, signed_in)
}

/// What the data routes share.
#[derive(Clone)]
pub struct DataShared {
    /// The FlowX engine, for bearer tokens.
    pub engine: Handle,
    /// The data thread.
    pub data: DataHandle,
    /// The decision log.
    pub decisions: Arc<Decisions>,
}

type S = State<DataShared>;

/// The data API's routes.
pub fn router(shared: DataShared) -> Router<()> {
    Router::new()
        .route("/api/data/{entity}", get(list).post(create))
        .route("/api/data/{entity}/{id}", get(one).patch(change).delete(remove))
        .route("/api/commit", post(commit))
        .route("/api/rollback", post(rollback))
        .route("/api/microflows/{name}", post(call))
        .route("/api/sign-in", post(sign_in))
        .route("/api/sign-out", post(sign_out))
        .with_state(shared)
}

/// The session id a request carries: the header, else the cookie.
fn session_of(headers: &HeaderMap) -> Option<String> {
    if let Some(id) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).filter(|s| !s.is_empty()) {
        return Some(id.to_string());
    }
    headers.get_all(axum::http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|cookies| {
        cookies
            .split(';')
            .find_map(|c| c.trim().strip_prefix(COOKIE).and_then(|r| r.strip_prefix('=')).map(str::to_string))
    })
}

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body.clone())).into_response()
}

fn bad(message: &str) -> Response {
    json_response(400, &json!({ "status": 400, "code": "W400", "message": message, "help": null }))
}

/// Resolves the caller and runs the operation on the data thread.
async fn serve(st: &DataShared, headers: &HeaderMap, op: Op) -> Response {
    let request = next_request();
    let user = match super::routes::auth(headers) {
        Auth::None => None,
        Auth::Malformed => return invalid_token(st, request, &op),
        Auth::Token(token) => match st.engine.ask(|reply| Job::WhoIs { token, reply }).await {
            Some(Some(name)) => Some(name),
            _ => return invalid_token(st, request, &op),
        },
    };
    let session = if user.is_some() { None } else { session_of(headers) };
    let Some(answer) = st.data.run(move |ctx| ctx.serve(request, user, session, op)).await else {
        return json_response(500, &json!({ "status": 500, "message": "Internal Server Error" }));
    };
    let mut response = json_response(answer.status, &answer.body);
    if let Some(id) = &answer.issued {
        if let Ok(v) = HeaderValue::from_str(id) {
            response.headers_mut().insert(SESSION_HEADER, v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax")) {
            response.headers_mut().append(axum::http::header::SET_COOKIE, v);
        }
    } else if answer.ended {
        response.headers_mut().append(
            axum::http::header::SET_COOKIE,
            HeaderValue::from_static("warden_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
        );
    }
    response
}

fn invalid_token(st: &DataShared, request: u64, op: &Op) -> Response {
    st.decisions.record(&json!({
        "time": timestamp(), "request": request, "principal": "invalid bearer", "operation": op.describe(),
        "status": 401, "outcome": "deny", "decided_by": "bearer",
    }));
    let mut r = json_response(
        401,
        &json!({ "status": 401, "code": "W401", "message": "Invalid or expired token", "help": null }),
    );
    r.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

fn number(query: &HashMap<String, String>, key: &str, default: usize) -> Result<usize, Response> {
    match query.get(key) {
        None => Ok(default),
        Some(v) => v.parse::<usize>().map_err(|_| bad(&format!("`{key}` must be a non-negative integer"))),
    }
}

/// An id from a path: text that is no id names no object (the one answer for missing objects).
fn object_id(text: &str) -> u64 {
    text.parse::<u64>().unwrap_or(0)
}

fn object_body(body: &Bytes) -> Result<Map<String, Value>, Response> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(bad("the body must be a JSON object")),
    }
}

async fn list(
    State(st): S,
    Path(entity): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let offset = match number(&query, "offset", 0) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let limit = match number(&query, "limit", 100) {
        Ok(n) => n.min(MAX_LIMIT),
        Err(r) => return r,
    };
    let op = Op::List { entity, where_: query.get("where").cloned(), sort: query.get("sort").cloned(), offset, limit };
    serve(&st, &headers, op).await
}

async fn one(State(st): S, Path((entity, id)): Path<(String, String)>, headers: HeaderMap) -> Response {
    serve(&st, &headers, Op::Get { entity, id: object_id(&id) }).await
}

async fn create(
    State(st): S,
    Path(entity): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match object_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let commit = query.get("commit").is_none_or(|c| c != "false");
    serve(&st, &headers, Op::Create { entity, body, commit }).await
}

async fn change(State(st): S, Path((entity, id)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match object_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    serve(&st, &headers, Op::Change { entity, id: object_id(&id), body }).await
}

async fn remove(State(st): S, Path((entity, id)): Path<(String, String)>, headers: HeaderMap) -> Response {
    serve(&st, &headers, Op::Delete { entity, id: object_id(&id) }).await
}

async fn commit(State(st): S, headers: HeaderMap) -> Response {
    serve(&st, &headers, Op::Commit).await
}

async fn rollback(State(st): S, headers: HeaderMap) -> Response {
    serve(&st, &headers, Op::Rollback).await
}

async fn call(State(st): S, Path(name): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let params = match object_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    serve(&st, &headers, Op::Call { name, params }).await
}

#[derive(serde::Deserialize)]
struct SignIn {
    user: String,
    password: Option<String>,
}

async fn sign_in(State(st): S, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(SignIn { user, password }) = serde_json::from_slice::<SignIn>(&body) else {
        return bad("expected {\"user\": \"NAME\", \"password\": \"...\"} (password optional)");
    };
    if session_of(&headers).is_none() || headers.contains_key(axum::http::header::AUTHORIZATION) {
        return bad("sign-in needs the anonymous session (its header or cookie) and no bearer token");
    }
    serve(&st, &headers, Op::SignIn { user, password }).await
}

async fn sign_out(State(st): S, headers: HeaderMap) -> Response {
    if session_of(&headers).is_none() {
        return bad("sign-out needs a session (its header or cookie)");
    }
    serve(&st, &headers, Op::SignOut).await
}

/// The open sessions, for the inspector.
pub async fn sessions(data: &DataHandle) -> Value {
    data.run(Ctx::sessions).await.unwrap_or_else(|| json!({ "sessions": [] }))
}

impl Ctx {
    /// The access matrix of the program, as JSON.
    pub fn matrix(&mut self) -> Value {
        serde_json::to_value(warden::matrix::build(&self.program)).unwrap_or(Value::Null)
    }

    /// `explain OPERATION` as a principal (the author's tool: it shows what the principal may
    /// not read, so only the inspector asks).
    pub fn explain(&mut self, principal: &str, operation: &str) -> Result<String, ApiError> {
        let stmt = api::compile_explain(&mut self.program, operation)?;
        let Some(state) = self.state.take() else { return Err(ApiError::invalid("the data API is unavailable")) };
        let mut engine = Engine::resume(&self.program, state);
        engine.set_now(now_ms());
        let result = engine.api_explain(principal, &stmt);
        self.state = Some(engine.into_state());
        result
    }
}

impl DataHandle {
    /// Runs a function on the data thread.
    pub async fn ask<T: Send + 'static>(&self, f: impl FnOnce(&mut Ctx) -> T + Send + 'static) -> Option<T> {
        self.run(f).await
    }
}
