//! The inspector page (`GET /`) and the author's endpoints under `/__warden/`: the access
//! matrix, the live decision log, the open sessions and `explain`. Explain shows values the
//! principal may not read, so these answer only on loopback unless `--inspector-token` is set
//! (then to requests that carry it). Also mounts the data API's routes with the server's layers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use super::data::{self, DataShared};
use super::Options;

const PAGE: &str = include_str!("inspector.html");

#[derive(Clone)]
struct Inspector {
    data: DataShared,
    token: Option<Arc<str>>,
    stop: tokio::sync::watch::Receiver<bool>,
}

/// The data API and the inspector, with CORS, timeouts, body limits and panics caught.
pub fn router(data: DataShared, options: &Options, stop: tokio::sync::watch::Receiver<bool>) -> Router {
    let token = options.inspector_token.as_deref().map(Arc::from);
    let state = Inspector { data: data.clone(), token, stop };
    let inspector = Router::new()
        .route("/", get(page))
        .route("/__warden/decisions", get(decisions))
        .route("/__warden/matrix", get(matrix))
        .route("/__warden/sessions", get(sessions))
        .route("/__warden/explain", post(explain))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state);
    let timeout = Duration::from_secs(options.request_timeout);
    Router::new()
        .merge(data::router(data))
        .merge(inspector)
        .layer(RequestBodyLimitLayer::new(64 * 1024))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(RequestBodyTimeoutLayer::new(timeout))
        .layer(super::routes::cors(options))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            eprintln!("warden serve: a request handler panicked (a bug); answered 500");
            (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "status": 500, "message": "Internal Server Error" })))
                .into_response()
        }))
}

/// Loopback only, unless the inspector token is set and the request carries it.
async fn guard(State(st): State<Inspector>, request: Request, next: Next) -> Response {
    author_guard(State(st.token), request, next).await
}

/// The guard of the author's tools (the inspector and every `/__warden/*` endpoint, including
/// the emulator's token, gate and reset endpoints, which would otherwise let anyone who reaches
/// the server act as any user): without `--inspector-token`, loopback only; with it, only
/// requests that carry it (`Authorization: Bearer TOKEN` or `?token=TOKEN`), loopback or not.
pub async fn author_guard(State(token): State<Option<Arc<str>>>, request: Request, next: Next) -> Response {
    let loopback =
        request.extensions().get::<ConnectInfo<SocketAddr>>().is_some_and(|ConnectInfo(addr)| addr.ip().is_loopback());
    let allowed = match &token {
        None => loopback,
        Some(token) => {
            let bearer = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|t| same_secret(t, token));
            let query = request
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|p| p.strip_prefix("token=").is_some_and(|t| same_secret(t, token))));
            bearer || query
        }
    };
    if !allowed {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({
                "status": 403,
                "code": "W403",
                "message": "the inspector and /__warden/* answer only on loopback, or with --inspector-token",
                "help": null,
            })),
        )
            .into_response();
    }
    next.run(request).await
}

/// Compares a secret in time that depends on its length only, not on where it differs.
fn same_secret(given: &str, secret: &str) -> bool {
    given.len() == secret.len() && given.bytes().zip(secret.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The access matrix as a table: a row per user role, a column per entity; each cell says
/// create, what the role sees and deletes, and each member's rights with their constraints.
fn matrix_table(m: &serde_json::Value) -> String {
    let roles = m["roles"].as_array().cloned().unwrap_or_default();
    let mut entities: Vec<String> = roles
        .iter()
        .flat_map(|r| r["entities"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["entity"].as_str().map(str::to_string))
        .collect();
    entities.sort();
    entities.dedup();
    let which = |v: &serde_json::Value| -> String {
        let parts: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(|w| w.as_str().map_or_else(|| "all".to_string(), str::to_string))
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(" or ")
        }
    };
    let mut html = String::from("<table id=\"matrix\"><thead><tr><th>role</th>");
    for e in &entities {
        html.push_str(&format!("<th>{}</th>", escape(e)));
    }
    html.push_str("</tr></thead><tbody>");
    for r in &roles {
        let anonymous = if r["anonymous"] == true { " (anonymous)" } else { "" };
        html.push_str(&format!("<tr><th>{}{anonymous}</th>", escape(r["role"].as_str().unwrap_or(""))));
        let mine = r["entities"].as_array().cloned().unwrap_or_default();
        for name in &entities {
            let Some(e) = mine.iter().find(|e| e["entity"].as_str() == Some(name)) else {
                html.push_str("<td class=\"none\">-</td>");
                continue;
            };
            let mut lines = Vec::new();
            if e["create"] == true {
                lines.push("create".to_string());
            }
            lines.push(format!("see: {}", which(&e["visible"])));
            if e["delete"].as_array().is_some_and(|d| !d.is_empty()) {
                lines.push(format!("delete: {}", which(&e["delete"])));
            }
            for member in e["members"].as_array().into_iter().flatten() {
                let grants: Vec<String> = member["grants"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|g| match g[1].as_str() {
                        Some(w) => format!("{} {w}", g[0].as_str().unwrap_or("")),
                        None => g[0].as_str().unwrap_or("").to_string(),
                    })
                    .collect();
                if !grants.is_empty() {
                    lines.push(format!("{}: {}", member["member"].as_str().unwrap_or(""), grants.join(", ")));
                }
            }
            html.push_str(&format!("<td>{}</td>", lines.iter().map(|l| escape(l)).collect::<Vec<_>>().join("<br>")));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// The decisions so far, newest first, as the page's script shows new ones.
fn decision_items(lines: &[String]) -> String {
    let mut html = String::new();
    for line in lines.iter().rev() {
        let Ok(d) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let text = |k: &str| match &d[k] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let outcome = text("outcome");
        html.push_str(&format!(
            "<li class=\"decision {}\">{} #{} {} {} &rarr; {} {} ({})</li>",
            escape(&outcome),
            escape(&text("time")),
            escape(&text("request")),
            escape(&text("principal")),
            escape(&text("operation")),
            escape(&text("status")),
            escape(&outcome),
            escape(&text("decided_by")),
        ));
    }
    html
}

async fn page(State(st): State<Inspector>) -> Response {
    let matrix = st.data.data.ask(data::Ctx::matrix).await.unwrap_or_default();
    let recent = st.data.decisions.recent();
    let html =
        PAGE.replace("<!--MATRIX-->", &matrix_table(&matrix)).replace("<!--DECISIONS-->", &decision_items(&recent));
    let mut r = Html(html).into_response();
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"),
    );
    r
}

async fn matrix(State(st): State<Inspector>) -> Response {
    match st.data.data.ask(data::Ctx::matrix).await {
        Some(m) => Json(m).into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn sessions(State(st): State<Inspector>) -> Response {
    Json(data::sessions(&st.data.data).await).into_response()
}

#[derive(serde::Deserialize)]
struct Explain {
    principal: String,
    operation: String,
}

async fn explain(State(st): State<Inspector>, body: Bytes) -> Response {
    let Ok(Explain { principal, operation }) = serde_json::from_slice::<Explain>(&body) else {
        let body = json!({ "status": 400, "code": "W400", "message": "expected {\"principal\": \"carl\", \"operation\": \"read #5/Cost\"}", "help": null });
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    };
    match st.data.data.ask(move |ctx| ctx.explain(&principal, &operation)).await {
        Some(Ok(text)) => Json(json!({ "explanation": text })).into_response(),
        Some(Err(e)) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, Json(json!({ "status": e.status(), "code": e.code, "message": e.message, "help": e.help })))
                .into_response()
        }
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The decisions as server-sent events: the recent ones, then each new one, until the server stops.
async fn decisions(State(st): State<Inspector>, request: Request) -> Response {
    // `?live`: only new decisions (the inspector page came with the earlier ones).
    let live_only = request.uri().query().is_some_and(|q| q.split('&').any(|p| p == "live"));
    struct Live {
        recent: std::collections::VecDeque<String>,
        live: data::Listener,
        stop: tokio::sync::watch::Receiver<bool>,
    }
    let live = st.data.decisions.subscribe();
    let recent =
        if live_only { std::collections::VecDeque::new() } else { st.data.decisions.recent().into_iter().collect() };
    let state = Live { recent, live, stop: st.stop.clone() };
    let event = |line: String| Ok::<_, Infallible>(Event::default().event("decision").data(line));
    let stream = futures_util::stream::unfold(state, move |mut l| async move {
        if let Some(line) = l.recent.pop_front() {
            return Some((event(line), l));
        }
        loop {
            if *l.stop.borrow() {
                return None;
            }
            tokio::select! {
                got = l.live.recv() => match got {
                    Ok(line) => return Some((event(line), l)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return None,
                },
                _ = l.stop.changed() => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}
