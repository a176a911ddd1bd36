//! `warden serve`: the FlowX anonymous runtime over HTTP, for front-end teams (docs/serve.md).
//!
//! The HTTP layer (tokio, axum, tower-http) only maps paths and headers to a
//! [`warden::runtime::Request`] and the decision back to a response: every decision is
//! [`warden::runtime::Runtime::decide`] with its effect applied, in one step of
//! [`warden::store::runtime_state`], the same function the `request` statement uses.
//!
//! The engine runs on one dedicated thread per store, fed by a channel: the program, the store
//! and the runtime state are synchronous and single-writer (the SQLite connection is not
//! `Sync`), so one thread serializes decisions with no lock to contend for, while the tokio
//! workers handle connections, CORS, timeouts and streams.
//!
//! A request that changes nothing (a status, a data read, build info, a stream's poll, a
//! refusal) is decided on the tokio worker that received it when the runtime state is in memory
//! ([`read`]): the engine thread writes that state under a lock, so a read never waits for the
//! queue and still sees every write answered before it. Over SQLite every decision stays on the
//! engine thread, in the transaction that makes servers over one file agree.

mod data;
mod engine;
mod inspector;
mod read;
mod routes;
mod sessions;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::output::Out;

/// What `warden serve` was asked for: its arguments and options.
#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    /// Files or directories of the rules.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The store: a JSON file (sessions live in this process), a SQLite database
    /// (sessions live in the database, shared by every server over it), or a PostgreSQL URL
    /// (`postgres://USER@HOST:PORT/DB`; sessions live in this process). An empty store
    /// when omitted.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// The PostgreSQL schema of a `postgres://` store (default: named after the app).
    #[arg(long, value_name = "SCHEMA")]
    pub pg_schema: Option<String>,
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// The workspace id, `{wks}` in the paths.
    #[arg(long, default_value = "default")]
    pub workspace: String,
    /// The build id, `{buildId}` in the paths (default: a stable hash of the rules).
    #[arg(long)]
    pub build_id: Option<String>,
    /// An origin allowed to call the server from a browser (repeatable; default: any).
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// How long a token from `POST /__warden/token` lives, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub token_ttl: u64,
    /// The largest upload body, in bytes (larger ones answer 413).
    #[arg(long, value_name = "BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_upload: usize,
    /// A JSON file of fixed bearer tokens, `{"TOKEN": "alice"}` (tokens of 32 characters or more; they never expire).
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Reload the rules (and a JSON store) when they change; a reload that does not
    /// check keeps the previous program and says why.
    #[arg(long)]
    pub watch: bool,
    /// How long a request may take before it answers 408, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub request_timeout: u64,
    /// Append every decision, one JSON line each, to this file (also live at `GET /__warden/decisions`).
    #[arg(long, value_name = "FILE")]
    pub decision_log: Option<PathBuf>,
    /// Let the inspector (`GET /`, `/__warden/*`) answer beyond loopback to requests that carry
    /// this token (`Authorization: Bearer TOKEN` or `?token=TOKEN`).
    #[arg(long, value_name = "TOKEN")]
    pub inspector_token: Option<String>,
    /// How long a session (FlowX and data API alike) lives without a request: `30m`, `90s`,
    /// `2h`; an expired one is refused like an unknown one, and its uncommitted objects are dropped.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = sessions::parse_duration)]
    pub session_ttl: Duration,
    /// Write what the data API commits to the store (a JSON file atomically, under its write
    /// lock; a SQLite store in one write transaction). Without it, data API writes live in
    /// memory only and are gone when the server stops.
    #[arg(long)]
    pub persist: bool,
}

/// What the routes read about the program, updated by a reload.
#[derive(Clone, Debug)]
pub struct Meta {
    /// `{appId}`.
    pub app: String,
    /// `{buildId}`.
    pub build: String,
    /// `{wks}`.
    pub workspace: String,
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(options: Options, out: &Out) -> ExitCode {
    if options.paths.iter().any(|p| p.as_os_str() == "-") && options.watch {
        return out.usage("`--watch` cannot watch standard input; give files or directories", None);
    }
    if options.persist {
        match &options.store {
            None => return out.usage("`--persist` needs a `--store` to write to", None),
            Some(p) if warden::store::is_postgres(p) => {
                return out.usage("`--persist` writes JSON and SQLite stores only, not PostgreSQL", None)
            }
            Some(_) => {}
        }
    }
    let meta =
        Arc::new(RwLock::new(Meta { app: String::new(), build: String::new(), workspace: options.workspace.clone() }));
    let engine = match engine::start(&options, meta.clone(), out) {
        Ok(engine) => engine,
        Err(code) => return code,
    };
    let decisions = match data::Decisions::open(options.decision_log.as_deref()) {
        Ok(d) => Arc::new(d),
        Err(e) => {
            engine.stop();
            return out.io(e);
        }
    };
    let sessions = Arc::new(sessions::Sessions::new(options.session_ttl));
    let (data, data_thread, data_watcher) = match data::start(&options, decisions.clone(), sessions.clone()) {
        Ok(d) => d,
        Err(e) => {
            engine.stop();
            return out.io(e);
        }
    };
    let data = data::DataShared { engine: engine.handle.clone(), data, decisions, sessions };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return out.io(format!("cannot start the server's runtime: {e}")),
    };
    let code = runtime.block_on(serve(&options, engine.handle.clone(), data, meta, out));
    // Every request is answered: the engine drains its queue, then closes the store.
    drop(runtime);
    drop(data_watcher);
    engine.stop();
    let _ = data_thread.join();
    code
}

async fn serve(
    options: &Options,
    engine: engine::Handle,
    data: data::DataShared,
    meta: Arc<RwLock<Meta>>,
    out: &Out,
) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(options.bind).await {
        Ok(l) => l,
        Err(e) => return out.io(format!("cannot listen on {}: {e}", options.bind)),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return out.io(format!("cannot listen on {}: {e}", options.bind)),
    };
    if !addr.ip().is_loopback() {
        eprintln!(
            "warning: listening on {addr}, which is not a loopback address: warden serve is an emulator \
             (anyone who reaches it can sign in as any user); bind to 127.0.0.1 unless you mean it"
        );
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let decisions = data.decisions.clone();
    let sessions = data.sessions.clone();
    // Expired sessions are swept now and then, so their uncommitted objects do not wait for
    // the next data request.
    let (sweeper, unbinder, swept) = (data.data.clone(), data.engine.clone(), data.sessions.clone());
    let every = (options.session_ttl / 2).clamp(Duration::from_millis(100), Duration::from_secs(30));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if sweeper.ask(data::Ctx::sweep).await.is_none() {
                break;
            }
            data::unbind_ended(&unbinder, &swept).await;
        }
    });
    let inspector = inspector::router(data, options, stop_rx.clone());
    let app = routes::router(routes::Shared {
        engine,
        meta: meta.clone(),
        stop: stop_rx,
        options: Arc::new(options.clone()),
        decisions,
        sessions,
    })
    .merge(inspector);
    {
        let m = meta.read().map(|m| m.clone()).ok();
        if let Some(m) = m {
            eprintln!(
                "warden serve: listening on http://{addr} (app `{}`, build `{}`, workspace `{}`); Ctrl-C stops",
                m.app, m.build, m.workspace
            );
            if !options.persist {
                eprintln!(
                    "warden serve: the data API's writes live in memory only and are gone when the server stops \
                     (--persist writes them to the store)"
                );
            }
        }
    }
    let shutdown = async move {
        wait_for_signal().await;
        eprintln!("warden serve: stopping; answering the requests in flight");
        let _ = stop_tx.send(true);
    };
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    match served {
        Ok(()) => {
            eprintln!("warden serve: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => out.io(format!("the server failed: {e}")),
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// A stable build id: the FNV-1a hash of the sources' file names and texts, in path order, as
/// 16 hex digits (the same rules give the same id from any working directory).
pub fn build_id(sources: &warden::source::SourceMap) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut files: Vec<_> = sources.files().map(|(_, f)| f).collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for file in files {
        let name = file.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for byte in name.bytes().chain([0]).chain(file.text.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// How often an open event stream looks for new events.
pub const STREAM_POLL: Duration = Duration::from_millis(200);
