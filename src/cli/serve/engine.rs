//! The engine thread: owns the program, the store and the runtime state, and answers jobs one
//! at a time from a channel (see the module comment of `serve` for why a thread).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use tokio::sync::{mpsc, oneshot};

use warden::model::{AccessLevel, Program, UserRoleId};
use warden::runtime::{Bearer, Caller, CallerKind, Request, Response, Target};
use warden::store::pg_runtime::PgRuntimeState;
use warden::store::runtime_state::{Event, RuntimeState, SharedMemoryRuntimeState, SqliteRuntimeState};
use warden::store::{ObjectId, Store};

use super::read::Reader;
use super::{Meta, Options};
use crate::cli::output::Out;

/// What a request's `Authorization` header says.
#[derive(Clone, Debug)]
pub enum Auth {
    /// No header.
    None,
    /// `Bearer TOKEN`.
    Token(String),
    /// Anything else: refused like an invalid token.
    Malformed,
}

/// What to do once a request is served.
#[derive(Clone, Debug)]
pub enum After {
    /// Nothing more.
    Nothing,
    /// Log an event (type, JSON data) on the instance the request started or targets.
    Event(&'static str, String),
    /// Read the instance's events from an offset, of one type or all.
    Read { kind: Option<String>, offset: u64 },
}

/// A served or refused request.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The runtime's answer.
    pub response: Response,
    /// Events read by [`After::Read`].
    pub events: Vec<Event>,
}

/// One job for the engine.
pub enum Job {
    /// Decide a request, apply it, then `after`.
    Decide { auth: Auth, session: Option<String>, target: Target, after: After, reply: oneshot::Sender<Outcome> },
    /// Sign in: a token for a user (`None`: no such user).
    SignIn { user: String, reply: oneshot::Sender<Option<(String, u64)>> },
    /// Set the gate (`Err`: the app has no anonymous role to open it to).
    Access { access: AccessLevel, reply: oneshot::Sender<Result<(), String>> },
    /// Forget sessions and instances.
    Reset { reply: oneshot::Sender<()> },
    /// A sign-in replaced the anonymous session `old` by `new`: its instances follow.
    Rebind { old: String, new: String, reply: oneshot::Sender<()> },
    /// Reload the rules and the store from their files.
    Reload,
    /// Whose a bearer token is, for the data API (`None`: unknown or expired).
    WhoIs { token: String, reply: oneshot::Sender<Option<String>> },
    /// Panic on the engine thread: only with `WARDEN_SERVE_TEST_PANICS=1`, for the test that
    /// a panic in one request never takes the server down.
    Panic { reply: oneshot::Sender<()> },
}

/// The routes' end of the channel.
#[derive(Clone)]
pub struct Handle {
    jobs: mpsc::Sender<Job>,
    /// Decides requests that change nothing without the engine thread (none over SQLite or
    /// PostgreSQL, whose state other processes change too).
    reader: Option<Arc<Reader>>,
}

impl Handle {
    /// Sends a job and waits for its answer (`None` when the engine failed on it).
    pub async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Job) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Decides a request that changes nothing on the calling thread; otherwise the session and
    /// the target back, to send as a [`Job::Decide`].
    pub fn read(
        &self,
        auth: &Auth,
        session: Option<String>,
        target: Target,
        after: &After,
    ) -> Result<Outcome, (Option<String>, Target)> {
        match &self.reader {
            Some(reader) => reader.decide(auth, session, target, after),
            None => Err((session, target)),
        }
    }

    /// Sends a job from a thread outside the runtime (the file watcher).
    pub fn try_send(&self, job: Job) {
        let _ = self.jobs.try_send(job);
    }
}

/// The running engine thread.
pub struct Running {
    /// Where jobs go.
    pub handle: Handle,
    thread: std::thread::JoinHandle<()>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl Running {
    /// Closes the channel and waits for the thread to close the store.
    pub fn stop(self) {
        let Running { handle, thread, _watcher } = self;
        drop(_watcher);
        drop(handle);
        let _ = thread.join();
    }
}

struct Engine {
    paths: Vec<PathBuf>,
    store_path: Option<PathBuf>,
    pg_schema: Option<String>,
    build_override: Option<String>,
    token_ttl: u64,
    program: Arc<Program>,
    store: Box<dyn Store>,
    state: Box<dyn RuntimeState>,
    reader: Option<Arc<Reader>>,
    meta: Arc<RwLock<Meta>>,
    quiet: bool,
}

/// The program, its build id and the store.
type Loaded = (Program, String, Box<dyn Store>);

/// A signed-in caller: its Name, `System.User` object and user roles.
type SignedIn = (String, ObjectId, Vec<UserRoleId>);

/// The program, its build id and the store, or the problem, as text.
fn load(
    paths: &[PathBuf],
    store_path: Option<&std::path::Path>,
    pg_schema: Option<&str>,
    build_override: Option<&str>,
    out: Option<&Out>,
) -> Result<Loaded, (String, Option<ExitCode>)> {
    let sources = warden::load::read_sources(paths).map_err(|e| {
        let text = e.to_string();
        (text.clone(), out.map(|o| o.io(text)))
    })?;
    let build = build_override.map_or_else(|| super::build_id(&sources), str::to_string);
    let checked = warden::load::load(sources);
    if checked.has_errors() {
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        let first = checked.diagnostics.iter().find(|d| d.is_error()).map(|d| d.message.clone()).unwrap_or_default();
        let text = format!("the rules do not check ({errors} errors; the first: {first})");
        let code = out.map(|o| o.rules(&checked.diagnostics, &checked.program.sources, "the rules do not check"));
        return Err((text, code));
    }
    let program = checked.program;
    let store: Box<dyn Store> = match store_path {
        // The server never changes objects: it reads the store (a SQLite store as one snapshot,
        // which never blocks the runtime state's writes beside it).
        Some(path) => {
            match warden::store::open_in(&program, path, false, warden::store::sqlite::DEFAULT_CACHE_OBJECTS, pg_schema)
            {
                Ok(s) => s,
                Err(errors) => {
                    let text =
                        errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; ");
                    let code = out.map(|o| o.store(path, &errors));
                    return Err((text, code));
                }
            }
        }
        None => Box::new(warden::store::MemoryStore::new()),
    };
    Ok((program, build, store))
}

fn app_name(program: &Program) -> String {
    if program.app.name.is_empty() {
        "app".into()
    } else {
        program.app.name.to_string()
    }
}

/// Starts the thread, which loads everything and reports what is wrong (exit status as
/// `warden check` and `eval`) before the server listens. The store and the runtime state are
/// made on the thread and never leave it.
pub fn start(options: &Options, meta: Arc<RwLock<Meta>>, out: &Out) -> Result<Running, ExitCode> {
    let (tx, rx) = mpsc::channel(4096);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<Option<Arc<Reader>>, ExitCode>>();
    let (opts, thread_out) = (options.clone(), out.clone());
    let thread = std::thread::Builder::new()
        .name("warden-engine".into())
        .spawn(move || match Engine::new(&opts, meta, &thread_out) {
            Ok(engine) => {
                let _ = ready_tx.send(Ok(engine.reader.clone()));
                engine.run(rx);
            }
            Err(code) => {
                let _ = ready_tx.send(Err(code));
            }
        })
        .map_err(|e| out.io(format!("cannot start the engine thread: {e}")))?;
    let handle = match ready_rx.recv() {
        Ok(Ok(reader)) => Handle { jobs: tx, reader },
        Ok(Err(code)) => {
            let _ = thread.join();
            return Err(code);
        }
        Err(_) => {
            let _ = thread.join();
            return Err(out.io("the engine thread failed to start"));
        }
    };
    let watcher = if options.watch {
        let jobs = handle.clone();
        match watch(options, true, move || jobs.try_send(Job::Reload)) {
            Ok(w) => Some(w),
            Err(e) => {
                let code = out.io(e);
                Running { handle, thread, _watcher: None }.stop();
                return Err(code);
            }
        }
    } else {
        None
    };
    Ok(Running { handle, thread, _watcher: watcher })
}

impl Engine {
    fn new(options: &Options, meta: Arc<RwLock<Meta>>, out: &Out) -> Result<Engine, ExitCode> {
        let (program, build, store) = load(
            &options.paths,
            options.store.as_deref(),
            options.pg_schema.as_deref(),
            options.build_id.as_deref(),
            Some(out),
        )
        .map_err(|(text, code)| code.unwrap_or_else(|| out.io(text)))?;
        let program = Arc::new(program);
        let mut reader = None;
        let mut state: Box<dyn RuntimeState> = match &options.store {
            Some(path) if warden::store::sqlite::is_sqlite_path(path) => {
                Box::new(SqliteRuntimeState::open(path).map_err(|e| out.io(e))?)
            }
            // In the store's schema, beside its tables: every server over it shares the state.
            // Each request then goes to the engine thread, as over SQLite, since another
            // process may have changed what a read would answer from.
            Some(path) if warden::store::is_postgres(path) => {
                let schema =
                    options.pg_schema.clone().unwrap_or_else(|| warden::store::postgres::default_schema(&program));
                Box::new(PgRuntimeState::open(&path.to_string_lossy(), &schema).map_err(|e| out.io(e))?)
            }
            _ => {
                let shared = SharedMemoryRuntimeState::new();
                reader = Some(Arc::new(Reader::new(program.clone(), shared.clone(), out.quiet)));
                Box::new(shared)
            }
        };
        if let Some(users) = &options.users {
            let text = std::fs::read_to_string(users)
                .map_err(|e| out.io(format!("cannot read `{}`: {e}", users.display())))?;
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).map_err(|e| {
                out.usage(format!("`{}` is not a JSON object of tokens to user names: {e}", users.display()), None)
            })?;
            for (token, user) in map {
                let Some(user) = user.as_str() else {
                    return Err(out.usage(format!("`{}`: the user of a token must be a Name", users.display()), None));
                };
                if token.len() < 32 {
                    return Err(out.usage(
                        format!(
                            "`{}`: a token must be at least 32 characters, so it cannot be guessed",
                            users.display()
                        ),
                        None,
                    ));
                }
                if warden::store::user_with_roles(&program, store.as_ref(), user).is_none() {
                    return Err(out.usage(format!("`{}`: no user named `{user}` in the store", users.display()), None));
                }
                state.add_token(&token, user, i64::MAX).map_err(|e| out.io(e))?;
            }
        }
        if let Ok(mut m) = meta.write() {
            m.app = app_name(&program);
            m.build = build;
        }
        Ok(Engine {
            paths: options.paths.clone(),
            store_path: options.store.clone(),
            pg_schema: options.pg_schema.clone(),
            build_override: options.build_id.clone(),
            token_ttl: options.token_ttl,
            program,
            store,
            state,
            reader,
            meta,
            quiet: out.quiet,
        })
    }
}

/// Watches the rules and, with `store`, a JSON store; a change calls `changed`.
pub(super) fn watch(
    options: &Options,
    store: bool,
    changed: impl Fn() + Send + 'static,
) -> Result<notify::RecommendedWatcher, String> {
    use notify::{RecursiveMode, Watcher};
    let mut watched: Vec<PathBuf> = options.paths.clone();
    // A SQLite store is read live; its own writes are no reason to reload.
    // A PostgreSQL store is no file: nothing to watch.
    if let Some(store) = options
        .store
        .as_ref()
        .filter(|p| store && !warden::store::sqlite::is_sqlite_path(p) && !warden::store::is_postgres(p))
    {
        watched.push(store.clone());
    }
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if !matches!(
            event.kind,
            notify::EventKind::Create(_) | notify::EventKind::Modify(_) | notify::EventKind::Remove(_)
        ) {
            return;
        }
        let relevant = event.paths.iter().any(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            !name.starts_with('.')
                && !name.ends_with(".tmp")
                && match p.extension().and_then(|e| e.to_str()) {
                    Some("rules") => true,
                    Some("json") => store,
                    _ => false,
                }
        });
        if relevant {
            changed();
        }
    })
    .map_err(|e| format!("cannot watch the files: {e}"))?;
    for path in &watched {
        let (target, mode) = if path.is_dir() {
            (path.clone(), RecursiveMode::Recursive)
        } else {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or(PathBuf::from("."), std::path::Path::to_path_buf);
            (dir, RecursiveMode::NonRecursive)
        };
        watcher.watch(&target, mode).map_err(|e| format!("cannot watch `{}`: {e}", target.display()))?;
    }
    Ok(watcher)
}

impl Engine {
    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(job) = rx.blocking_recv() {
            if matches!(job, Job::Reload) {
                // A save writes several files: reload once, after they settle.
                std::thread::sleep(std::time::Duration::from_millis(150));
                let mut more = Vec::new();
                while let Ok(next) = rx.try_recv() {
                    if !matches!(next, Job::Reload) {
                        more.push(next);
                    }
                }
                self.reload();
                for job in more {
                    self.guarded(job);
                }
                continue;
            }
            self.guarded(job);
        }
        // The channel is closed: every request was answered. The store and the state close here.
    }

    /// Answers one job; a panic (a bug) drops its reply, which the route answers with `500`,
    /// and the engine goes on with the next job.
    fn guarded(&mut self, job: Job) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.answer(job)));
        if result.is_err() {
            eprintln!("warden serve: a request panicked (a bug); it was answered 500 and the server goes on");
        }
    }

    fn reload(&mut self) {
        match load(
            &self.paths,
            self.store_path.as_deref(),
            self.pg_schema.as_deref(),
            self.build_override.as_deref(),
            None,
        ) {
            Ok((program, build, store)) => {
                self.program = Arc::new(program);
                if let Some(reader) = &self.reader {
                    reader.set_program(self.program.clone());
                }
                self.store = store;
                if let Ok(mut m) = self.meta.write() {
                    m.app = app_name(&self.program);
                    m.build = build.clone();
                }
                eprintln!("warden serve: reloaded (build `{build}`)");
            }
            Err((why, _)) => eprintln!("warden serve: reload failed, still serving the previous program: {why}"),
        }
    }

    fn answer(&mut self, job: Job) {
        match job {
            Job::Decide { auth, session, target, after, reply } => {
                let outcome = self.decide(&auth, session, target, &after);
                match outcome {
                    Ok(o) => {
                        let _ = reply.send(o);
                    }
                    Err(e) => eprintln!("warden serve: {e}"),
                }
            }
            Job::SignIn { user, reply } => {
                let answer = self.sign_in(&user);
                let _ = reply.send(answer);
            }
            Job::Access { access, reply } => {
                let answer = if access == AccessLevel::Public && self.program.app.anonymous.is_none() {
                    Err("the app has no anonymous role, so its gate cannot open (add `anonymous: ROLE` to the app)"
                        .into())
                } else {
                    self.state.set_access(access)
                };
                let _ = reply.send(answer);
            }
            Job::Reset { reply } => {
                if let Err(e) = self.state.reset() {
                    eprintln!("warden serve: {e}");
                    return;
                }
                let _ = reply.send(());
            }
            Job::Rebind { old, new, reply } => {
                if let Err(e) = self.state.rebind_session(&old, &new) {
                    eprintln!("warden serve: {e}");
                }
                let _ = reply.send(());
            }
            Job::Reload => self.reload(),
            Job::WhoIs { token, reply } => {
                let user = match self.caller(&Auth::Token(token)) {
                    Ok((Bearer::Valid, Some((name, _, _)))) => Some(name),
                    _ => None,
                };
                let _ = reply.send(user);
            }
            Job::Panic { reply } => {
                drop(reply);
                panic!("WARDEN_SERVE_TEST_PANICS: a panic on the engine thread");
            }
        }
    }

    fn sign_in(&mut self, user: &str) -> Option<(String, u64)> {
        warden::store::user_with_roles(&self.program, self.store.as_ref(), user)?;
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).ok()?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let ttl = i64::try_from(self.token_ttl).unwrap_or(i64::MAX);
        let expires = super::now().saturating_add(ttl);
        if let Err(e) = self.state.add_token(&token, user, expires) {
            eprintln!("warden serve: {e}");
            return None;
        }
        Some((token, self.token_ttl))
    }

    /// Who the caller is: a valid bearer's user, or an anonymous session.
    fn caller(&self, auth: &Auth) -> Result<(Bearer, Option<SignedIn>), String> {
        match auth {
            Auth::None => Ok((Bearer::None, None)),
            Auth::Malformed => Ok((Bearer::Invalid, None)),
            Auth::Token(token) => {
                let Some(t) = self.state.token(token)? else { return Ok((Bearer::Invalid, None)) };
                if t.expires <= super::now() {
                    return Ok((Bearer::Invalid, None));
                }
                match warden::store::user_with_roles(&self.program, self.store.as_ref(), &t.user) {
                    Some((id, roles)) => Ok((Bearer::Valid, Some((t.user, id, roles)))),
                    None => Ok((Bearer::Invalid, None)),
                }
            }
        }
    }

    fn decide(
        &mut self,
        auth: &Auth,
        session: Option<String>,
        target: Target,
        after: &After,
    ) -> Result<Outcome, String> {
        let (bearer, user) = self.caller(auth)?;
        let anonymous: Vec<UserRoleId> = self.program.app.anonymous.into_iter().collect();
        let caller = match &user {
            Some((name, id, roles)) => Caller { kind: CallerKind::User, user: Some(*id), roles, name },
            None => Caller { kind: CallerKind::Anonymous, user: None, roles: &anonymous, name: "anonymous" },
        };
        let workflow = match &target {
            Target::StartWorkflow(name, _) => Some(name.clone()),
            _ => None,
        };
        let target_id = match &target {
            Target::Instance(_, id) | Target::StartWorkflow(_, id) => Some(*id),
            _ => None,
        };
        let request = Request { target, bearer, session_id: session };
        let mut events = Vec::new();
        let program = &self.program;
        let mut then = |state: &mut dyn RuntimeState, response: &Response| -> Result<(), String> {
            let on = response.instance.or(target_id);
            match (after, on) {
                (After::Event(kind, data), Some(id)) => state.push_event(id, kind, data),
                (After::Read { kind, offset }, Some(id)) => {
                    events = state.events(id, *offset)?;
                    if let Some(kind) = kind {
                        events.retain(|e| &e.kind == kind);
                    }
                    Ok(())
                }
                _ => Ok(()),
            }
        };
        let mut response = self.state.decide(program, &caller, &request, &mut then)?;
        // A workflow that the program does not declare: 404, once the gates have let it through.
        if let Some(name) = workflow {
            if response.status == 200 && !self.program.workflows.iter().any(|w| w == name.as_str()) {
                response = Response {
                    status: 404,
                    detail: None,
                    issued_session: None,
                    instance: None,
                    reason: format!("no workflow named {name}"),
                };
            }
        }
        if response.status != 200 && !self.quiet {
            eprintln!("warden serve: {} for {}: {}", response.status, caller.name, response.reason);
        }
        Ok(Outcome { response, events })
    }
}
