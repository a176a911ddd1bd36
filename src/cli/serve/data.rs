//! The Mendix side over HTTP (docs/serve.md): the data API with entity access applied, the
//! sign-in screen, and the decision log.
//!
//! Each request is one job on the data thread, which owns the program, a writable copy of the
//! store and the evaluator's sessions; every decision is a [`warden::eval::api`] function, the
//! ones the statements use. The thread keeps the evaluator's state between jobs and resumes an
//! [`Engine`] over it for each one (checking a `where` needs the program mutably, in between).
//! Bearer tokens are the FlowX engine's (`POST /__warden/token`); session ids are the whole
//! server's ([`super::sessions`]), by the same `X-Fx-Anonymous-Session-Id` header or a
//! `warden_session` cookie, so an id either side issued names the same visitor on both.
//! With `--persist`, what a request commits is saved to the store before it is answered.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use tokio::sync::{broadcast, mpsc, oneshot};

use warden::eval::api::{self, ApiError, ApiErrorKind};
use warden::eval::{Engine, RunState};
use warden::model::{EntityId, Program};
use warden::runtime::Target;
use warden::store::file::Fingerprint;

use super::engine::{Auth, Handle, Job};
use super::routes::SESSION_HEADER;
use super::sessions::{Lookup, Sessions, Visitor as Principal};
use super::Options;

/// The cookie that carries the session for pages the emulator serves.
pub const COOKIE: &str = "warden_session";
/// The most objects one page holds.
const MAX_LIMIT: usize = 1000;
/// The decisions the inspector shows when it opens.
const RECENT: usize = 200;
/// The most checked `where` texts kept; the least recently used goes first.
const WHERES: usize = 1024;

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
    /// Whether it may change committed objects (what `--persist` saves after).
    fn writes(&self) -> bool {
        !matches!(self, Op::List { .. } | Op::Get { .. } | Op::Rollback | Op::Create { commit: false, .. })
    }

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

/// What decided a decision, as it was at hand: rendered only when its line is written.
pub enum DecidedBy {
    /// A FlowX gate, by the runtime's reason: `{"gate": REASON}`.
    Gate(String),
    /// One word: `"session"`, `"principal"`, `"bearer"`.
    Word(&'static str),
    /// The data API's (the rules' lines, the microflow's `allow`, the sign-in microflow).
    Json(Value),
}

/// What was asked.
pub enum Operation {
    /// The data API's words (`retrieve Shop.Cart`).
    Text(String),
    /// A FlowX request's target, shown with `Debug` when rendered.
    Gate(Target),
}

/// One decision as recorded: owned values and no formatting, so recording is cheap; its JSON
/// line is made only when it is written to the file, sent to a listener or read.
pub struct Decision {
    /// When it was made.
    pub time: DateTime<Utc>,
    /// The request's id ([`next_request`]).
    pub request: u64,
    /// A user's Name, `anonymous:vN`, or a word: never a session id or token.
    pub principal: Cow<'static, str>,
    /// What was asked.
    pub operation: Operation,
    /// The HTTP status.
    pub status: u16,
    /// `allow`, `deny` or `error`.
    pub outcome: &'static str,
    /// What decided it.
    pub decided_by: DecidedBy,
}

impl Decision {
    /// The decision's JSON line (without its newline).
    pub fn line(&self) -> String {
        let operation = match &self.operation {
            Operation::Text(text) => json!(text),
            Operation::Gate(target) => json!(format!("{target:?}")),
        };
        let decided_by = match &self.decided_by {
            DecidedBy::Gate(reason) => json!({ "gate": reason }),
            DecidedBy::Word(word) => json!(word),
            DecidedBy::Json(value) => value.clone(),
        };
        json!({
            "time": self.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "request": self.request,
            "principal": self.principal,
            "operation": operation,
            "status": self.status,
            "outcome": self.outcome,
            "decided_by": decided_by,
        })
        .to_string()
    }
}

/// A slot of the ring of recent decisions: the decision and its place in the sequence.
type Slot = Mutex<Option<(u64, Decision)>>;

/// The decision log: a file (`--decision-log`), the last decisions, and live subscribers.
///
/// Recording takes one sequence number and one slot of a ring of [`RECENT`] slots, each with its
/// own lock (two workers recording at once take different slots); a decision becomes a JSON line
/// only when there is a file or a listener, or when the inspector reads the ring.
pub struct Decisions {
    file: Option<Mutex<std::fs::File>>,
    ring: Box<[Slot]>,
    next: AtomicU64,
    live: broadcast::Sender<String>,
    listeners: Arc<AtomicUsize>,
}

/// A subscriber to new decisions, counted while it lives (with none, no line is made for it).
pub struct Listener {
    live: broadcast::Receiver<String>,
    listeners: Arc<AtomicUsize>,
}

impl Listener {
    /// The next decision's line.
    pub async fn recv(&mut self) -> Result<String, broadcast::error::RecvError> {
        self.live.recv().await
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.listeners.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Decisions {
    /// A log, writing to `path` when given.
    pub fn open(path: Option<&std::path::Path>) -> Result<Decisions, String> {
        let file = match path {
            Some(p) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| format!("cannot open the decision log `{}`: {e}", p.display()))?,
            )),
            None => None,
        };
        let (live, _) = broadcast::channel(1024);
        Ok(Decisions {
            file,
            ring: (0..RECENT).map(|_| Mutex::new(None)).collect(),
            next: AtomicU64::new(0),
            live,
            listeners: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Records one decision.
    pub fn record(&self, decision: Decision) {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let mut line = None;
        if let Some(file) = &self.file {
            let mut text = decision.line();
            text.push('\n');
            if let Ok(mut f) = file.lock() {
                let _ = f.write_all(text.as_bytes());
            }
            text.pop();
            line = Some(text);
        }
        let slot = &self.ring[(seq % RECENT as u64) as usize];
        let replaced = match slot.lock() {
            // A later decision that took this slot while this one waited stays.
            Ok(mut slot) if slot.as_ref().is_none_or(|(held, _)| *held < seq) => slot.replace((seq, decision)),
            _ => None,
        };
        drop(replaced);
        // Either a listener that subscribed before this load gets the line, or its read of the
        // ring (after it counted itself) finds the decision: the fence orders the ring's write
        // before the load, as `subscribe` orders the count before the read.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.listeners.load(Ordering::SeqCst) > 0 {
            let line = line.or_else(|| match slot.lock() {
                Ok(slot) => slot.as_ref().filter(|(held, _)| *held == seq).map(|(_, d)| d.line()),
                Err(_) => None,
            });
            if let Some(line) = line {
                let _ = self.live.send(line);
            }
        }
    }

    /// The decisions recorded last, oldest first, as JSON lines.
    pub fn recent(&self) -> Vec<String> {
        let mut held: Vec<(u64, String)> = self
            .ring
            .iter()
            .filter_map(|slot| slot.lock().ok().and_then(|s| s.as_ref().map(|(seq, d)| (*seq, d.line()))))
            .collect();
        held.sort_unstable_by_key(|(seq, _)| *seq);
        held.into_iter().map(|(_, line)| line).collect()
    }

    /// New decisions as they are made (read [`Decisions::recent`] after this, not before).
    pub fn subscribe(&self) -> Listener {
        let live = self.live.subscribe();
        self.listeners.fetch_add(1, Ordering::SeqCst);
        Listener { live, listeners: self.listeners.clone() }
    }
}

/// Request ids, one sequence for the whole server (data API and FlowX alike).
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// The next request id.
pub fn next_request() -> u64 {
    REQUESTS.fetch_add(1, Ordering::Relaxed) + 1
}

/// Records a FlowX gate's decision (the runtime's reason names the gate that decided).
pub fn record_gate(decisions: &Decisions, principal: &'static str, target: Target, status: u16, reason: String) {
    decisions.record(Decision {
        time: Utc::now(),
        request: next_request(),
        principal: Cow::Borrowed(principal),
        operation: Operation::Gate(target),
        status,
        outcome: if status == 200 { "allow" } else { "deny" },
        decided_by: DecidedBy::Gate(reason),
    });
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
    sessions: Arc<Sessions>,
    wheres: Wheres,
    decisions: Arc<Decisions>,
    /// With `--persist`: what the store file held when last read or written here.
    persist: Option<Option<Fingerprint>>,
}

type Compiled = Result<warden::model::flow::Stmt, ApiError>;

/// The checked `where` texts, at most [`WHERES`] of them: the least recently used goes first.
#[derive(Default)]
struct Wheres {
    kept: HashMap<(EntityId, String), (Compiled, u64)>,
    tick: u64,
}

impl Wheres {
    fn get(&mut self, key: &(EntityId, String)) -> Option<Compiled> {
        self.tick += 1;
        let tick = self.tick;
        self.kept.get_mut(key).map(|(c, used)| {
            *used = tick;
            c.clone()
        })
    }

    fn insert(&mut self, key: (EntityId, String), compiled: Compiled) {
        if self.kept.len() >= WHERES && !self.kept.contains_key(&key) {
            let oldest = self.kept.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.kept.remove(&oldest);
            }
        }
        self.tick += 1;
        self.kept.insert(key, (compiled, self.tick));
    }

    fn len(&self) -> usize {
        self.kept.len()
    }

    fn clear(&mut self) {
        self.kept.clear();
    }
}

/// With `--persist` (`persist` holds what the file held when last read or written here),
/// writes the committed objects to the store file, unless another process changed it since.
fn save(
    program: &Program,
    path: Option<&std::path::Path>,
    persist: &mut Option<Option<Fingerprint>>,
    engine: &Engine<'_>,
) -> Result<(), ApiError> {
    let (Some(base), Some(path)) = (persist.as_mut(), path) else { return Ok(()) };
    match warden::store::file::save_over(program, engine.store(), path, *base) {
        Ok(print) => {
            *base = Some(print);
            Ok(())
        }
        Err(e) => Err(ApiError {
            kind: ApiErrorKind::Store,
            code: "W500".into(),
            message: format!("the write is done in memory, but not saved: {e}"),
            help: Some("another process changed the store file; restart the server to read it again".into()),
            span: None,
        }),
    }
}

fn store_errors(errors: &[warden::store::StoreError]) -> String {
    errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; ")
}

/// Reads and checks the rules.
fn load_program(paths: &[PathBuf]) -> Result<Program, String> {
    let sources = warden::load::read_sources(paths).map_err(|e| e.to_string())?;
    let checked = warden::load::load(sources);
    if checked.has_errors() {
        let first = checked.diagnostics.iter().find(|d| d.is_error()).map(|d| d.message.clone()).unwrap_or_default();
        return Err(format!("the rules do not check (the first error: {first})"));
    }
    Ok(checked.program)
}

/// Loads the program and a writable in-memory copy of the store; with `persist`, also the
/// fingerprint of what the file held, which a save checks before it replaces the file.
fn load(
    paths: &[PathBuf],
    store_path: Option<&std::path::Path>,
    pg_schema: Option<&str>,
    persist: bool,
) -> Result<(Program, RunState, Option<Fingerprint>), String> {
    let program = load_program(paths)?;
    let mut print = None;
    // A SQLite or PostgreSQL store is copied into memory too: the data API's writes work over
    // every store, and reach the file only with `--persist`, as whole commits.
    let store: Box<dyn warden::store::Store> = match store_path {
        Some(path) if persist => {
            let (store, p) =
                warden::store::file::load_with_fingerprint(&program, path).map_err(|errors| store_errors(&errors))?;
            print = Some(p);
            Box::new(store)
        }
        Some(path) => Box::new(
            warden::store::load_into_memory_in(&program, path, pg_schema).map_err(|errors| store_errors(&errors))?,
        ),
        None => Box::new(warden::store::MemoryStore::new()),
    };
    let state = Engine::new(&program, store, now_ms()).into_state();
    Ok((program, state, print))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A data job that reloads the program (`--watch`).
fn reload_job() -> DataJob {
    Box::new(Ctx::reload)
}

/// Starts the data thread, which loads the program and the store itself (the store never
/// leaves it: a SQLite connection is not `Send`).
pub fn start(
    options: &Options,
    decisions: Arc<Decisions>,
    sessions: Arc<Sessions>,
) -> Result<(DataHandle, std::thread::JoinHandle<()>, Option<notify::RecommendedWatcher>), String> {
    let (tx, mut rx) = mpsc::channel::<DataJob>(4096);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let (paths, store_path, pg_schema, persist) =
        (options.paths.clone(), options.store.clone(), options.pg_schema.clone(), options.persist);
    let thread = std::thread::Builder::new()
        .name("warden-data".into())
        .spawn(move || {
            // A PostgreSQL store may be larger than memory: the data API copies it only when
            // a data request first comes (a server that answers FlowX requests alone never
            // does; the FlowX side reads objects as it needs them).
            let lazy = store_path.as_deref().is_some_and(warden::store::is_postgres);
            let loaded = match lazy {
                true => load_program(&paths).map(|program| (program, None, None)),
                false => load(&paths, store_path.as_deref(), pg_schema.as_deref(), persist)
                    .map(|(p, s, print)| (p, Some(s), print)),
            };
            let (program, state, print) = match loaded {
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
                sessions,
                wheres: Wheres::default(),
                decisions,
                persist: persist.then_some(print),
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
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            let _ = thread.join();
            return Err(e);
        }
        Err(_) => {
            let _ = thread.join();
            return Err("the data thread failed to start".into());
        }
    }
    let watcher = if options.watch {
        let jobs = tx.clone();
        // Only the rules: the data API's own saves to the store are no reason to reload.
        Some(super::engine::watch(options, false, move || {
            let _ = jobs.try_send(reload_job());
        })?)
    } else {
        None
    };
    Ok((DataHandle { jobs: tx }, thread, watcher))
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

impl Ctx {
    /// After a panic the evaluator's state may be gone, and over PostgreSQL it is loaded only
    /// when the first data request comes: (re)load it from the files. The session ids stay;
    /// their visitors start again with new anonymous users.
    fn recover(&mut self) {
        if self.state.is_some() {
            return;
        }
        match load(&self.paths, self.store_path.as_deref(), self.pg_schema.as_deref(), self.persist.is_some()) {
            Ok((program, state, print)) => {
                self.program = program;
                self.state = Some(state);
                self.wheres.clear();
                if self.persist.is_some() {
                    self.persist = Some(print);
                }
            }
            Err(e) => eprintln!("warden serve: the data API cannot recover: {e}"),
        }
    }

    /// `--watch`: the rules changed. The committed objects carry over to the new program
    /// (with `--persist`, a store file that another process changed is read again instead),
    /// and each anonymous visitor keeps its user object; uncommitted objects do not. Rules
    /// that do not check, or objects that do not fit them, keep the previous program.
    fn reload(&mut self) {
        // A save writes several files: reload once, after they settle.
        std::thread::sleep(std::time::Duration::from_millis(150));
        let program = match load_program(&self.paths) {
            Ok(p) => p,
            Err(why) => {
                eprintln!("warden serve: the data API's reload failed, still serving the previous program: {why}");
                return;
            }
        };
        let Some(state) = self.state.take() else { return };
        let engine = Engine::resume(&self.program, state);
        // Each anonymous visitor keeps its user object, and with it what it owns.
        let anonymous = engine.api_anonymous_users();
        let mut from_file = None;
        if let (Some(base), Some(path)) = (self.persist, &self.store_path) {
            if warden::store::file::fingerprint(&self.program, path).ok().flatten() != base {
                from_file = Some(path.clone());
            }
        }
        let loaded = match &from_file {
            Some(path) => warden::store::file::load_with_fingerprint(&program, path)
                .map(|(store, print)| (store, Some(print)))
                .map_err(|errors| store_errors(&errors)),
            None => {
                let text = warden::store::to_json(&self.program, engine.store()).to_string();
                warden::store::load_json(&program, &text).map(|s| (s, None)).map_err(|errors| store_errors(&errors))
            }
        };
        self.state = Some(engine.into_state());
        match loaded {
            Ok((store, print)) => {
                let mut engine = Engine::new(&program, Box::new(store), now_ms());
                for (key, user) in &anonymous {
                    engine.api_adopt_anonymous(key, *user);
                }
                self.state = Some(engine.into_state());
                self.program = program;
                self.wheres.clear();
                if let (Some(p), Some(persist)) = (print, self.persist.as_mut()) {
                    *persist = Some(p);
                }
                eprintln!("warden serve: the data API reloaded");
            }
            Err(why) => {
                eprintln!("warden serve: the data API's reload failed, still serving the previous program: {why}")
            }
        }
    }

    /// Ends the sessions that expired: an anonymous visitor's user is deleted with its delete
    /// behaviour and its uncommitted objects are dropped. `sweep` looks at every session;
    /// otherwise only at those a request found expired.
    fn end_expired(&mut self, sweep: bool) {
        let expired = if sweep { self.sessions.sweep() } else { self.sessions.take_expired() };
        let anonymous: Vec<String> = expired
            .into_iter()
            .filter_map(|v| match v {
                Principal::Anonymous(key) => Some(key),
                Principal::User(_) => None,
            })
            .collect();
        if anonymous.is_empty() {
            return;
        }
        let Some(state) = self.state.take() else { return };
        let mut engine = Engine::resume(&self.program, state);
        engine.set_now(now_ms());
        for key in &anonymous {
            if let Err(e) = engine.api_end_anonymous(key) {
                eprintln!("warden serve: an expired session's user could not be deleted: {}", e.message);
            }
        }
        let saved = save(&self.program, self.store_path.as_deref(), &mut self.persist, &engine);
        self.state = Some(engine.into_state());
        if let Err(e) = saved {
            eprintln!("warden serve: {}", e.message);
        }
    }

    /// The periodic sweep of expired sessions.
    pub fn sweep(&mut self) {
        self.end_expired(true);
    }

    /// Serves one operation for the caller: a bearer's user, or a session id (a new anonymous
    /// session when there is none).
    fn serve(&mut self, request: u64, user: Option<String>, session: Option<String>, op: Op) -> Answer {
        self.end_expired(false);
        let mut issued = None;
        let principal = match (&user, &session) {
            (Some(name), _) => Principal::User(name.clone()),
            (None, Some(id)) => match self.sessions.lookup(id) {
                Lookup::Live(p) => p,
                Lookup::Ended | Lookup::Unknown => {
                    let e = ApiError {
                        kind: ApiErrorKind::Unauthorized,
                        code: "W401".into(),
                        message: "no such session (it ended, expired, or the sign-in replaced it)".into(),
                        help: Some("send no session id to start a new anonymous session".into()),
                        span: None,
                    };
                    self.log(request, Cow::Borrowed("unknown session"), &op, 401, DecidedBy::Word("session"));
                    // A request that found its session expired cleans it up now.
                    self.end_expired(false);
                    return Answer { status: 401, body: error_body(&e), issued: None, ended: true };
                }
            },
            (None, None) => {
                let (id, p) = self.sessions.issue_anonymous();
                issued = Some(id);
                p
            }
        };
        // A `where` is checked against the schema once per text, before any engine runs.
        let compiled = match &op {
            Op::List { entity, where_, .. } => match api::entity(&self.program, entity) {
                Ok(e) => {
                    let key = (e, where_.clone().unwrap_or_default());
                    match self.wheres.get(&key) {
                        Some(c) => Some(c),
                        None => {
                            let stmt = api::compile_retrieve(&mut self.program, e, where_.as_deref());
                            self.wheres.insert(key, stmt.clone());
                            Some(stmt)
                        }
                    }
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
        let (mut result, decided_by, signed_in) = match entered {
            Err(e) => (Err(e), json!("principal"), None),
            Ok(()) => run(&mut engine, &op, compiled, &principal),
        };
        if result.is_ok() && op.writes() {
            if let Err(e) = save(&self.program, self.store_path.as_deref(), &mut self.persist, &engine) {
                result = Err(e);
            }
        }
        self.state = Some(engine.into_state());
        let mut ended = false;
        if let Some(name) = signed_in {
            // The old id no longer works, here or on the FlowX side: the session is the user's
            // under a new id.
            if let Some(old) = &session {
                issued = Some(self.sessions.replace(old, Principal::User(name)));
            }
        }
        if matches!(op, Op::SignOut) && result.is_ok() {
            if let Some(old) = &session {
                self.sessions.end(old);
            }
            ended = true;
        }
        let (status, body) = match result {
            Ok(body) => (200, body),
            Err(e) => (e.status(), error_body(&e)),
        };
        self.log(request, Cow::Owned(principal.describe()), &op, status, DecidedBy::Json(decided_by));
        Answer { status, body, issued, ended }
    }

    fn log(&self, request: u64, principal: Cow<'static, str>, op: &Op, status: u16, decided_by: DecidedBy) {
        let outcome = match status {
            200 => "allow",
            401 | 403 | 404 => "deny",
            _ => "error",
        };
        self.decisions.record(Decision {
            time: Utc::now(),
            request,
            principal,
            operation: Operation::Text(op.describe()),
            status,
            outcome,
            decided_by,
        });
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
        json!({ "sessions": listed, "open": self.sessions.open(), "kept_wheres": self.wheres.len() })
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
    /// The session ids of the whole server.
    pub sessions: Arc<Sessions>,
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
    let (old, signs_in) = (session.clone(), matches!(op, Op::SignIn { .. }));
    let Some(answer) = st.data.run(move |ctx| ctx.serve(request, user, session, op)).await else {
        return json_response(500, &json!({ "status": 500, "message": "Internal Server Error" }));
    };
    // A sign-in: the visitor's FlowX instances follow it to its new id (the old one is refused
    // on both sides already), before the client learns the new id.
    if let (true, Some(old), Some(new)) = (signs_in, old, answer.issued.clone()) {
        if st.engine.ask(|reply| Job::Rebind { old, new, reply }).await.is_none() {
            return json_response(500, &json!({ "status": 500, "message": "Internal Server Error" }));
        }
    }
    unbind_ended(&st.engine, &st.sessions).await;
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
    st.decisions.record(Decision {
        time: Utc::now(),
        request,
        principal: Cow::Borrowed("invalid bearer"),
        operation: Operation::Text(op.describe()),
        status: 401,
        outcome: "deny",
        decided_by: DecidedBy::Word("bearer"),
    });
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

/// Unbinds the FlowX instances of the ids that ended with no successor (signed out, expired):
/// they go to a fresh id that nobody holds, so that no server over a shared SQLite store
/// reaches them with the ended id.
pub async fn unbind_ended(engine: &Handle, sessions: &Sessions) {
    for old in sessions.take_unbind() {
        let new = super::sessions::new_id();
        let _ = engine.ask(|reply| Job::Rebind { old, new, reply }).await;
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

    use super::*;

    fn decision(request: u64) -> Decision {
        Decision {
            time: Utc::now(),
            request,
            principal: Cow::Borrowed("anonymous"),
            operation: Operation::Text(format!("retrieve Shop.Cart #{request}")),
            status: 200,
            outcome: "allow",
            decided_by: DecidedBy::Word("session"),
        }
    }

    /// The line is the one the log wrote before decisions were recorded as structs: the same
    /// keys in the same order, the target in `Debug`, the time in RFC 3339 with milliseconds.
    #[test]
    fn a_line_is_the_json_it_always_was() {
        let time = DateTime::parse_from_rfc3339("2026-12-07T17:17:23.861Z").unwrap().with_timezone(&Utc);
        let target = Target::Instance(warden::model::InstanceOp::Status, 42);
        let gate = Decision {
            time,
            request: 7,
            principal: Cow::Borrowed("anonymous"),
            operation: Operation::Gate(target.clone()),
            status: 403,
            outcome: "deny",
            decided_by: DecidedBy::Gate("the session gate".into()),
        };
        let before = json!({
            "time": "2026-12-07T17:17:23.861Z",
            "request": 7,
            "principal": "anonymous",
            "operation": format!("{target:?}"),
            "status": 403,
            "outcome": "deny",
            "decided_by": { "gate": "the session gate" },
        });
        assert_eq!(gate.line(), before.to_string());
        let data = Decision {
            time,
            request: 8,
            principal: Cow::Owned("anonymous:v1".into()),
            operation: Operation::Text("retrieve Shop.Product".into()),
            status: 200,
            outcome: "allow",
            decided_by: DecidedBy::Json(json!({ "rules": ["shop.rules:47"] })),
        };
        assert_eq!(
            data.line(),
            r#"{"time":"2026-12-07T17:17:23.861Z","request":8,"principal":"anonymous:v1","operation":"retrieve Shop.Product","status":200,"outcome":"allow","decided_by":{"rules":["shop.rules:47"]}}"#
        );
        let word = Decision { decided_by: DecidedBy::Word("bearer"), ..decision(9) };
        assert!(word.line().ends_with(r#""decided_by":"bearer"}"#), "{}", word.line());
    }

    fn requests(lines: &[String]) -> Vec<u64> {
        lines.iter().map(|l| serde_json::from_str::<Value>(l).unwrap()["request"].as_u64().unwrap()).collect()
    }

    /// The inspector opens on the last RECENT decisions, oldest first, however many came before,
    /// and from several threads at once.
    #[test]
    fn the_recent_list_is_the_last_decisions_in_order() {
        let log = Decisions::open(None).unwrap();
        assert!(log.recent().is_empty());
        for n in 1..=5 {
            log.record(decision(n));
        }
        assert_eq!(requests(&log.recent()), vec![1, 2, 3, 4, 5]);
        // 1234 is no multiple of the ring's size: the oldest is in the middle of the ring.
        for n in 6..=1234 {
            log.record(decision(n));
        }
        assert_eq!(requests(&log.recent()), (1234 - RECENT as u64 + 1..=1234).collect::<Vec<_>>());

        // Four threads, each recording its own increasing requests: the list holds RECENT
        // distinct decisions, each thread's in its own order, and the last of every thread.
        let log = Arc::new(Decisions::open(None).unwrap());
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for n in 0..4999 {
                        log.record(decision(t * 1_000_000 + n));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let got = requests(&log.recent());
        assert_eq!(got.len(), RECENT);
        for t in 0..4u64 {
            let own: Vec<u64> = got.iter().copied().filter(|r| r / 1_000_000 == t).collect();
            assert!(own.windows(2).all(|w| w[0] < w[1]), "thread {t} in order: {own:?}");
        }
        let last = *got.last().unwrap();
        assert_eq!(last % 1_000_000, 4998, "the newest is some thread's last: {got:?}");
    }

    /// A listener gets each new line, and counts itself while it lives.
    #[test]
    fn listeners_get_new_lines_and_are_counted() {
        let log = Decisions::open(None).unwrap();
        log.record(decision(1));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let mut listener = log.subscribe();
        assert_eq!(log.listeners.load(Ordering::SeqCst), 1);
        log.record(decision(2));
        let wait = async { tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv()).await };
        let line = runtime.block_on(wait).expect("the listener gets the line").unwrap();
        assert_eq!(line, log.recent()[1]);
        assert_eq!(requests(&[line]), vec![2]);
        drop(listener);
        assert_eq!(log.listeners.load(Ordering::SeqCst), 0);
    }

    fn key(n: usize) -> (EntityId, String) {
        (warden::model::SYSTEM_USER, format!("[Total = {n}]"))
    }

    #[test]
    fn kept_wheres_are_bounded_and_the_least_recently_used_goes_first() {
        let mut wheres = Wheres::default();
        for n in 0..WHERES {
            wheres.insert(key(n), Err(ApiError::invalid(n.to_string())));
        }
        assert_eq!(wheres.len(), WHERES);
        // The first text is used again: the second is now the least recently used.
        assert!(wheres.get(&key(0)).is_some());
        wheres.insert(key(WHERES), Err(ApiError::invalid("new")));
        assert_eq!(wheres.len(), WHERES, "never more than the bound");
        assert!(wheres.get(&key(0)).is_some(), "used lately: kept");
        assert!(wheres.get(&key(1)).is_none(), "the least recently used went");
        assert!(wheres.get(&key(WHERES)).is_some());
        for n in 0..3 * WHERES {
            wheres.insert(key(10 * WHERES + n), Err(ApiError::invalid("more")));
        }
        assert_eq!(wheres.len(), WHERES);
    }
}
