//! The seed's paths, mapped to runtime requests, and the decisions mapped back to HTTP.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use warden::model::{AccessLevel, GlobalEndpoint, InstanceOp, ResourceKind};
use warden::runtime::Target;

use super::engine::{After, Auth, Handle, Job, Outcome};
use super::sessions::Lookup;
use super::{Meta, Options};

/// The session header.
pub const SESSION_HEADER: &str = "x-fx-anonymous-session-id";
/// The build header of event streams.
pub const BUILD_HEADER: &str = "fx-buildid";
/// The refusal of a session id that ended or expired.
pub const SESSION_ENDED: &str = "Anonymous session ended or expired";
/// The largest request body outside uploads.
const MAX_BODY: usize = 64 * 1024;

/// What every route shares.
#[derive(Clone)]
pub struct Shared {
    /// The engine.
    pub engine: Handle,
    /// The app, build and workspace names.
    pub meta: Arc<RwLock<Meta>>,
    /// Becomes true when the server stops: open streams end.
    pub stop: tokio::sync::watch::Receiver<bool>,
    /// The options.
    pub options: Arc<Options>,
    /// The decision log (the FlowX gates' decisions go there too).
    pub decisions: Arc<super::data::Decisions>,
    /// The session ids of the whole server (the data API's too).
    pub sessions: Arc<super::sessions::Sessions>,
}

type S = State<Shared>;

/// Every route, with CORS, timeouts, body limits and panics caught.
pub fn router(shared: Shared) -> Router {
    let options = shared.options.clone();
    let uploads = Router::new()
        .route("/api/runtime/wks/{wks}/appId/{app}/ui-flow/{id}/upload", post(upload))
        .route("/api/runtime/wks/{wks}/appId/{app}/ui-flow/{id}/upload-multiple", post(upload_multiple))
        .route("/document/internal/wks/{wks}/temp-files/upload", post(temp_upload))
        .route("/document/internal/wks/{wks}/temp-files/upload-multiple", post(temp_upload_multiple))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(options.max_upload));
    // The emulator's own endpoints: the author's tools, guarded as the inspector is.
    let author = Router::new()
        .route("/__warden/token", post(sign_in))
        .route("/__warden/access", post(set_access))
        .route("/__warden/reset", post(reset))
        .route_layer(middleware::from_fn_with_state(
            options.inspector_token.as_deref().map(Arc::<str>::from),
            super::inspector::author_guard,
        ));
    let rest = Router::new()
        .route("/healthz", get(healthz))
        .merge(author)
        // Build info.
        .route("/rtm/api/runtime/wks/{wks}/app/{app}/build/info", get(app_build_info))
        .route("/rtm/api/runtime/process-instance/{id}/build/info", get(instance_build_info))
        .route("/rtm/api/runtime/ui-flow-session/{id}/build/info", get(instance_build_info))
        // Starts.
        .route("/rtm/api/runtime/app/{app}/build/{build}/process-name/{name}/start", post(start_process))
        .route("/rtm/api/runtime/app/{app}/build/{build}/process-rdi/{name}/start", post(start_process))
        .route("/rtm/api/runtime/app/{app}/build/{build}/ui-flows/{name}", post(start_ui_flow))
        .route("/rtm/api/runtime/app/{app}/build/{build}/ui-flow-rdi/{name}", post(start_ui_flow))
        .route("/rtm/api/runtime/wks/{wks}/app/{app}/rdi/{name}/start-workflow", post(start_workflow))
        // Process instances.
        .route("/api/runtime/process/{id}/status", get(status))
        .route("/api/runtime/process/{id}/data", get(data))
        .route("/api/runtime/process/{id}/data/{config}/context/{ctx}", get(data_in))
        .route("/api/runtime/process/{id}/node/{node}/context/{ctx}/details", get(data_in))
        .route("/api/runtime/process/{id}/token/{token}/ui-action/{action}/context/{ctx}/execute", post(action))
        .route("/api/runtime/process/{id}/token/{token}/ui-action/{action}/context/{ctx}/subprocess", post(action))
        .route("/api/runtime/process/{id}/token/{token}/ui-action/{action}/subprocess", post(subprocess))
        .route("/api/runtime/process/{id}/dismiss", post(dismiss))
        // UI flow sessions.
        .route("/api/runtime/ui-flow-session/{id}/status", get(status))
        // Data model paths.
        .route("/rtm/api/runtime/process-instance/{id}/data-model-paths", get(data_model_paths))
        .route("/rtm/api/runtime/ui-flow-session/{id}/data-model-paths", get(data_model_paths))
        .route("/rtm/api/runtime/app/{app}/build/{build}/process-name/{name}/data-model-paths", get(process_paths))
        .route("/rtm/api/runtime/app/{app}/build/{build}/process-rdi/{name}/data-model-paths", get(process_paths))
        .route("/rtm/api/runtime/app/{app}/build/{build}/ui-flow-name/{name}/data-model-paths", get(ui_flow_paths))
        .route("/rtm/api/runtime/app/{app}/build/{build}/ui-flow-rdi/{name}/data-model-paths", get(ui_flow_paths))
        // Public assets of the build.
        .route("/rtm/api/runtime/app/{app}/build/{build}/rt/enumeration", get(enumerations))
        .route("/rtm/api/runtime/app/{app}/build/{build}/rt/enumeration/{*rest}", get(enumerations_rest))
        .route("/rtm/api/runtime/app/{app}/build/{build}/rt/substitutiontag", get(substitution_tags))
        .route("/rtm/api/runtime/app/{app}/build/{build}/rt/mediafile", get(media))
        .route("/rtm/api/runtime/app/{app}/build/{build}/rt/mediafile/{*rest}", get(media_rest))
        .route("/cms/api/wks/{wks}/themes/uuid/{theme}/platform/{platform}/compiled", get(themes))
        .route("/cms/api/fonts", get(fonts))
        .route("/cms/api/fonts/{*rest}", get(fonts))
        // Event streams.
        .route("/api/events/process-instance/{id}", get(instance_events))
        .route("/api/events/generic/{id}", get(generic_events))
        // Restricted families.
        .route("/task/api/tasks", any(tasks))
        .route("/task/api/tasks/{*rest}", any(tasks))
        .route("/rtm/api/runtime/app/{app}/view/{*rest}", any(tasks))
        .route("/rtm/api/runtime/wks/{wks}/conversations", any(chat))
        .route("/rtm/api/runtime/wks/{wks}/conversations/{*rest}", any(chat))
        .route("/api/events/view/{view}", any(view_events))
        .route("/rtm/api/runtime-internal/{*rest}", any(internal))
        .route("/cms/api/languages", any(languages))
        .route("/cms/api/languages/{*rest}", any(languages))
        .layer(RequestBodyLimitLayer::new(MAX_BODY));
    let timeout = Duration::from_secs(options.request_timeout);
    // The test that a panic never takes the server down needs a request that panics.
    let rest = if std::env::var_os("WARDEN_SERVE_TEST_PANICS").is_some_and(|v| v == "1") {
        rest.route("/__warden/test/panic", get(panic_in_handler))
            .route("/__warden/test/panic-engine", get(panic_in_engine))
    } else {
        rest
    };
    Router::new()
        .merge(uploads)
        .merge(rest)
        .fallback(not_found)
        .with_state(shared)
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(RequestBodyTimeoutLayer::new(timeout))
        .layer(cors(&options))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            eprintln!("warden serve: a request handler panicked (a bug); answered 500");
            error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }))
}

pub(super) fn cors(options: &Options) -> CorsLayer {
    let allow_origin = if options.allow_origin.is_empty() || options.allow_origin.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(options.allow_origin.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let exposed = std::env::var("APPLICATION_CORS_EXPOSEDHEADERS").unwrap_or_else(|_| SESSION_HEADER.to_string());
    let exposed: Vec<HeaderName> =
        exposed.split(',').map(str::trim).filter(|h| !h.is_empty()).filter_map(|h| h.parse().ok()).collect();
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            HeaderName::from_static(SESSION_HEADER),
            HeaderName::from_static(BUILD_HEADER),
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
        ])
        .expose_headers(exposed)
        .max_age(Duration::from_secs(600))
}

/// A JSON error body: `{"status": 403, "detail": "..."}`.
fn error(status: StatusCode, detail: &str) -> Response {
    (status, Json(json!({ "status": status.as_u16(), "detail": detail }))).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

fn unavailable() -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

fn meta(st: &Shared) -> Meta {
    st.meta.read().map(|m| m.clone()).unwrap_or_else(|p| p.into_inner().clone())
}

/// `404` unless the path names this app (and build, and workspace).
fn check_app(st: &Shared, app: Option<&str>, build: Option<&str>, wks: Option<&str>) -> Result<(), Response> {
    let m = meta(st);
    if app.is_some_and(|a| a != m.app) || build.is_some_and(|b| b != m.build) || wks.is_some_and(|w| w != m.workspace) {
        return Err(error(StatusCode::NOT_FOUND, "Not Found"));
    }
    Ok(())
}

/// An instance id from a path. Text that is no id is 0, which no instance has: the runtime
/// answers it as any unknown instance, after the bearer and the gates (section 8's order).
fn instance_id(text: &str) -> Result<u64, Response> {
    Ok(text.parse::<u64>().unwrap_or(0))
}

pub(super) fn auth(headers: &HeaderMap) -> Auth {
    match headers.get(axum::http::header::AUTHORIZATION) {
        None => Auth::None,
        Some(value) => match value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) {
            Some(token) if !token.trim().is_empty() => Auth::Token(token.trim().to_string()),
            _ => Auth::Malformed,
        },
    }
}

fn session(headers: &HeaderMap) -> Option<String> {
    headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string).filter(|s| !s.is_empty())
}

/// Asks the engine; the outcome, or the HTTP answer of a refusal.
async fn decide(st: &Shared, headers: &HeaderMap, target: Target, after: After) -> Result<Outcome, Response> {
    let (auth, session) = (auth(headers), session(headers));
    // The target as asked, for the decision log (which formats it only when it writes a line).
    let operation = target.clone();
    let principal = match &auth {
        Auth::None => "anonymous",
        Auth::Token(_) | Auth::Malformed => "bearer",
    };
    // One id space with the data API: an id that ended there (a sign-in replaced it, a
    // sign-out ended it) or expired is refused here too, before any gate; a live one's idle
    // time starts again. A bearer's request ignores the session id, and themes and fonts are
    // everyone's.
    let public = matches!(target, Target::Global(GlobalEndpoint::Themes | GlobalEndpoint::Fonts));
    if let (Auth::None, Some(id), false) = (&auth, &session, public) {
        if st.sessions.lookup(id) == Lookup::Ended {
            let reason = "the anonymous session ended (a sign-in replaced it, a sign-out ended it, or it expired)";
            super::data::record_gate(&st.decisions, principal, operation, 401, reason.to_string());
            return Err(error(StatusCode::UNAUTHORIZED, SESSION_ENDED));
        }
    }
    // A request that changes nothing is decided here; the others go to the engine thread.
    let mut outcome = match st.engine.read(&auth, session, target, &after) {
        Ok(outcome) => outcome,
        Err((session, target)) => {
            st.engine.ask(|reply| Job::Decide { auth, session, target, after, reply }).await.ok_or_else(unavailable)?
        }
    };
    // The log keeps the reason: nothing after this reads it (the engine printed it already).
    let reason = std::mem::take(&mut outcome.response.reason);
    super::data::record_gate(&st.decisions, principal, operation, outcome.response.status, reason);
    let r = &outcome.response;
    if let Some(issued) = &r.issued_session {
        st.sessions.register(issued);
    }
    if r.status != 200 {
        let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::FORBIDDEN);
        let detail = match (r.status, r.detail) {
            (_, Some(d)) => d,
            (401, None) => "Invalid or expired token",
            (404, None) => "Not Found",
            _ => "Forbidden",
        };
        let mut response = error(status, detail);
        if r.status == 401 {
            response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        return Err(response);
    }
    Ok(outcome)
}

/// A served request's `200` with its body and the session id it issued.
fn served(outcome: &Outcome, body: Value) -> Response {
    let mut response = (StatusCode::OK, Json(body)).into_response();
    if let Some(id) = &outcome.response.issued_session {
        if let Ok(v) = HeaderValue::from_str(id) {
            response.headers_mut().insert(SESSION_HEADER, v);
        }
    }
    response
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

async fn panic_in_handler() -> Response {
    panic!("WARDEN_SERVE_TEST_PANICS: a panic in a handler");
}

async fn panic_in_engine(State(st): S) -> Response {
    match st.engine.ask(|reply| Job::Panic { reply }).await {
        Some(()) => (StatusCode::OK, Json(json!({}))).into_response(),
        None => unavailable(),
    }
}

async fn healthz(State(st): S) -> Response {
    let m = meta(&st);
    (StatusCode::OK, Json(json!({ "status": "ok", "app": m.app, "build": m.build, "workspace": m.workspace })))
        .into_response()
}

#[derive(serde::Deserialize)]
struct SignIn {
    user: String,
}

async fn sign_in(State(st): S, body: Bytes) -> Response {
    let Ok(SignIn { user }) = serde_json::from_slice::<SignIn>(&body) else {
        return error(StatusCode::BAD_REQUEST, "expected {\"user\": \"NAME\"}");
    };
    match st.engine.ask(|reply| Job::SignIn { user: user.clone(), reply }).await {
        Some(Some((token, ttl))) => (
            StatusCode::OK,
            Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": ttl, "user": user })),
        )
            .into_response(),
        Some(None) => error(StatusCode::NOT_FOUND, &format!("no user named `{user}`")),
        None => unavailable(),
    }
}

#[derive(serde::Deserialize)]
struct SetAccess {
    access: String,
}

async fn set_access(State(st): S, body: Bytes) -> Response {
    let access = match serde_json::from_slice::<SetAccess>(&body).map(|a| a.access) {
        Ok(a) if a == "public" => AccessLevel::Public,
        Ok(a) if a == "invited" => AccessLevel::Invited,
        _ => return error(StatusCode::BAD_REQUEST, "expected {\"access\": \"public\"} or {\"access\": \"invited\"}"),
    };
    match st.engine.ask(|reply| Job::Access { access, reply }).await {
        Some(Ok(())) => (
            StatusCode::OK,
            Json(json!({ "access": if access == AccessLevel::Public { "public" } else { "invited" } })),
        )
            .into_response(),
        Some(Err(why)) => error(StatusCode::BAD_REQUEST, &why),
        None => unavailable(),
    }
}

async fn reset(State(st): S) -> Response {
    match st.engine.ask(|reply| Job::Reset { reply }).await {
        Some(()) => (StatusCode::OK, Json(json!({ "reset": true }))).into_response(),
        None => unavailable(),
    }
}

async fn app_build_info(State(st): S, Path((wks, app)): Path<(String, String)>, headers: HeaderMap) -> Response {
    tri!(check_app(&st, Some(&app), None, Some(&wks)));
    let outcome = tri!(decide(&st, &headers, Target::Global(GlobalEndpoint::BuildInfo), After::Nothing).await);
    let m = meta(&st);
    served(&outcome, json!({ "appId": m.app, "buildId": m.build, "workspaceId": m.workspace }))
}

async fn instance_build_info(State(st): S, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let id = tri!(instance_id(&id));
    let outcome = tri!(decide(&st, &headers, Target::Instance(InstanceOp::BuildInfo, id), After::Nothing).await);
    let m = meta(&st);
    served(&outcome, json!({ "appId": m.app, "buildId": m.build, "workspaceId": m.workspace }))
}

async fn start(st: &Shared, headers: &HeaderMap, app: &str, build: &str, target: Target, key: &str) -> Response {
    tri!(check_app(st, Some(app), Some(build), None));
    let outcome = tri!(decide(st, headers, target, After::Event("STARTED", "{}".into())).await);
    let id = outcome.response.instance.map(|i| i.to_string());
    served(&outcome, json!({ key: id, "state": "STARTED" }))
}

async fn start_process(
    State(st): S,
    Path((app, build, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    start(&st, &headers, &app, &build, Target::StartProcess(name), "processInstanceUuid").await
}

async fn start_ui_flow(
    State(st): S,
    Path((app, build, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    start(&st, &headers, &app, &build, Target::StartUiFlow(name), "uiFlowSessionUuid").await
}

async fn start_workflow(
    State(st): S,
    Path((wks, app, name)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    tri!(check_app(&st, Some(&app), None, Some(&wks)));
    let Some(parent) = query.get("uiFlowSessionUuid") else {
        return error(StatusCode::BAD_REQUEST, "the query parameter uiFlowSessionUuid is required");
    };
    let parent = tri!(instance_id(parent));
    let data = json!({ "workflow": name }).to_string();
    let outcome = tri!(
        decide(
            &st,
            &headers,
            Target::StartWorkflow(name.clone(), parent),
            After::Event("UI_FLOW_WORKFLOW_RESPONSE", data)
        )
        .await
    );
    served(&outcome, json!({ "workflow": name, "uiFlowSessionUuid": parent.to_string(), "state": "STARTED" }))
}

async fn on_instance(
    st: &Shared,
    headers: &HeaderMap,
    id: &str,
    op: InstanceOp,
    after: After,
    body: Value,
) -> Response {
    let id = tri!(instance_id(id));
    let outcome = tri!(decide(st, headers, Target::Instance(op, id), after).await);
    let mut body = body;
    if let Value::Object(map) = &mut body {
        map.insert("uuid".into(), Value::String(id.to_string()));
    }
    served(&outcome, body)
}

async fn status(State(st): S, Path(id): Path<String>, headers: HeaderMap) -> Response {
    on_instance(&st, &headers, &id, InstanceOp::Status, After::Nothing, json!({ "state": "STARTED" })).await
}

async fn data(State(st): S, Path(id): Path<String>, headers: HeaderMap) -> Response {
    on_instance(&st, &headers, &id, InstanceOp::Data, After::Nothing, json!({ "data": {} })).await
}

async fn data_in(State(st): S, Path((id, _, _)): Path<(String, String, String)>, headers: HeaderMap) -> Response {
    on_instance(&st, &headers, &id, InstanceOp::Data, After::Nothing, json!({ "data": {} })).await
}

async fn data_model_paths(State(st): S, Path(id): Path<String>, headers: HeaderMap) -> Response {
    on_instance(&st, &headers, &id, InstanceOp::DataModelPaths, After::Nothing, json!({ "paths": [] })).await
}

async fn resource_paths(st: &Shared, headers: &HeaderMap, app: &str, build: &str, target: Target) -> Response {
    tri!(check_app(st, Some(app), Some(build), None));
    let outcome = tri!(decide(st, headers, target, After::Nothing).await);
    served(&outcome, json!({ "paths": [] }))
}

async fn process_paths(
    State(st): S,
    Path((app, build, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    resource_paths(&st, &headers, &app, &build, Target::ResourceDataModelPaths(ResourceKind::Process, name)).await
}

async fn ui_flow_paths(
    State(st): S,
    Path((app, build, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    resource_paths(&st, &headers, &app, &build, Target::ResourceDataModelPaths(ResourceKind::UiFlow, name)).await
}

async fn action(
    State(st): S,
    Path((id, _token, action, _ctx)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    _body: Bytes,
) -> Response {
    let data = json!({ "action": action }).to_string();
    let op = InstanceOp::Action(action);
    on_instance(&st, &headers, &id, op, After::Event("UI_ACTION", data), json!({ "executed": true })).await
}

async fn subprocess(
    State(st): S,
    Path((id, _token, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    _body: Bytes,
) -> Response {
    let data = json!({ "action": action, "subprocess": true }).to_string();
    let op = InstanceOp::Action(action);
    on_instance(&st, &headers, &id, op, After::Event("UI_ACTION", data), json!({ "executed": true })).await
}

async fn dismiss(State(st): S, Path(id): Path<String>, headers: HeaderMap) -> Response {
    on_instance(
        &st,
        &headers,
        &id,
        InstanceOp::Dismiss,
        After::Event("DISMISSED", "{}".into()),
        json!({ "dismissed": true }),
    )
    .await
}

async fn upload_to(st: &Shared, headers: &HeaderMap, id: &str, kind: &'static str, body: &Bytes) -> Response {
    let data = json!({ "bytes": body.len() }).to_string();
    on_instance(st, headers, id, InstanceOp::Upload, After::Event(kind, data), json!({ "uploaded": body.len() })).await
}

async fn upload(
    State(st): S,
    Path((wks, app, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tri!(check_app(&st, Some(&app), None, Some(&wks)));
    upload_to(&st, &headers, &id, "UI_FLOW_FILE_UPLOAD", &body).await
}

async fn upload_multiple(
    State(st): S,
    Path((wks, app, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tri!(check_app(&st, Some(&app), None, Some(&wks)));
    upload_to(&st, &headers, &id, "UI_FLOW_FILE_UPLOAD_MULTIPLE", &body).await
}

fn upload_target(query: &HashMap<String, String>) -> Result<&String, Response> {
    query
        .get("uiFlowSessionUuid")
        .or_else(|| query.get("processInstanceUuid"))
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "the query parameter uiFlowSessionUuid is required"))
}

async fn temp_upload(
    State(st): S,
    Path(wks): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tri!(check_app(&st, None, None, Some(&wks)));
    let id = tri!(upload_target(&query)).clone();
    upload_to(&st, &headers, &id, "UI_FLOW_FILE_UPLOAD", &body).await
}

async fn temp_upload_multiple(
    State(st): S,
    Path(wks): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tri!(check_app(&st, None, None, Some(&wks)));
    let id = tri!(upload_target(&query)).clone();
    upload_to(&st, &headers, &id, "UI_FLOW_FILE_UPLOAD_MULTIPLE", &body).await
}

async fn asset(
    st: &Shared,
    headers: &HeaderMap,
    app: &str,
    build: &str,
    endpoint: GlobalEndpoint,
    body: Value,
) -> Response {
    tri!(check_app(st, Some(app), Some(build), None));
    let outcome = tri!(decide(st, headers, Target::Global(endpoint), After::Nothing).await);
    served(&outcome, body)
}

async fn enumerations(State(st): S, Path((app, build)): Path<(String, String)>, headers: HeaderMap) -> Response {
    asset(&st, &headers, &app, &build, GlobalEndpoint::Enumerations, json!({ "enumerations": [] })).await
}

async fn enumerations_rest(
    State(st): S,
    Path((app, build, _)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    asset(&st, &headers, &app, &build, GlobalEndpoint::Enumerations, json!({ "enumerations": [] })).await
}

async fn substitution_tags(State(st): S, Path((app, build)): Path<(String, String)>, headers: HeaderMap) -> Response {
    asset(&st, &headers, &app, &build, GlobalEndpoint::SubstitutionTags, json!({ "substitutionTags": [] })).await
}

async fn media(State(st): S, Path((app, build)): Path<(String, String)>, headers: HeaderMap) -> Response {
    asset(&st, &headers, &app, &build, GlobalEndpoint::Media, json!({ "mediaFiles": [] })).await
}

async fn media_rest(
    State(st): S,
    Path((app, build, _)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    asset(&st, &headers, &app, &build, GlobalEndpoint::Media, json!({ "mediaFiles": [] })).await
}

async fn themes(State(st): S, Path((wks, _, _)): Path<(String, String, String)>, headers: HeaderMap) -> Response {
    tri!(check_app(&st, None, None, Some(&wks)));
    let outcome = tri!(decide(&st, &headers, Target::Global(GlobalEndpoint::Themes), After::Nothing).await);
    served(&outcome, json!({ "theme": {} }))
}

async fn fonts(State(st): S, headers: HeaderMap) -> Response {
    let outcome = tri!(decide(&st, &headers, Target::Global(GlobalEndpoint::Fonts), After::Nothing).await);
    served(&outcome, json!({ "fonts": [] }))
}

async fn restricted(st: &Shared, headers: &HeaderMap, endpoint: GlobalEndpoint) -> Response {
    let outcome = tri!(decide(st, headers, Target::Global(endpoint), After::Nothing).await);
    served(&outcome, json!({}))
}

async fn tasks(State(st): S, headers: HeaderMap) -> Response {
    restricted(&st, &headers, GlobalEndpoint::Tasks).await
}

async fn chat(State(st): S, headers: HeaderMap) -> Response {
    restricted(&st, &headers, GlobalEndpoint::Chat).await
}

async fn view_events(State(st): S, headers: HeaderMap) -> Response {
    restricted(&st, &headers, GlobalEndpoint::ViewEvents).await
}

async fn internal(State(st): S, headers: HeaderMap) -> Response {
    restricted(&st, &headers, GlobalEndpoint::Internal).await
}

async fn languages(State(st): S, headers: HeaderMap) -> Response {
    restricted(&st, &headers, GlobalEndpoint::Languages).await
}

async fn instance_events(
    State(st): S,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    stream(st, headers, id, None, query).await
}

async fn generic_events(
    State(st): S,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(kind) = query.get("type").cloned() else {
        return error(StatusCode::BAD_REQUEST, "the query parameter type is required");
    };
    stream(st, headers, id, Some(kind), query).await
}

/// An event stream: the events from `offset`, then new ones as they come, until the instance
/// is dismissed, the request stops being allowed (the gate closed) or the server stops.
async fn stream(
    st: Shared,
    headers: HeaderMap,
    id: String,
    kind: Option<String>,
    query: HashMap<String, String>,
) -> Response {
    let id = tri!(instance_id(&id));
    let offset = match query.get("offset").map(|o| o.parse::<u64>()) {
        None => 0,
        Some(Ok(o)) => o,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "offset must be a non-negative integer"),
    };
    let anonymous_type = kind.as_deref().is_none_or(warden::runtime::is_anonymous_event_type);
    if matches!(auth(&headers), Auth::None) && anonymous_type {
        match headers.get(BUILD_HEADER).and_then(|v| v.to_str().ok()) {
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "an anonymous event stream needs the Fx-BuildId header (the build to route the stream to)",
                )
            }
            Some(b) if b != meta(&st).build => return error(StatusCode::NOT_FOUND, "Not Found"),
            Some(_) => {}
        }
    }
    let target = Target::Instance(InstanceOp::Events(kind.clone()), id);
    let first = tri!(decide(&st, &headers, target.clone(), After::Read { kind: kind.clone(), offset }).await);
    struct Polling {
        st: Shared,
        headers: HeaderMap,
        target: Target,
        kind: Option<String>,
        next: u64,
        buffered: VecDeque<warden::store::runtime_state::Event>,
        first: bool,
    }
    let mut state =
        Polling { st, headers, target, kind, next: offset, buffered: first.events.into_iter().collect(), first: false };
    if let Some(last) = state.buffered.back() {
        state.next = last.offset + 1;
    }
    let events = futures_util::stream::unfold(state, |mut p| async move {
        loop {
            if let Some(e) = p.buffered.pop_front() {
                let event = SseEvent::default().id(e.offset.to_string()).event(e.kind.clone()).data(e.data.clone());
                return Some((Ok::<_, Infallible>(event), p));
            }
            if !p.first {
                let mut stop = p.st.stop.clone();
                if *stop.borrow() {
                    return None;
                }
                tokio::select! {
                    () = tokio::time::sleep(super::STREAM_POLL) => {}
                    _ = stop.changed() => return None,
                }
            }
            p.first = false;
            let after = After::Read { kind: p.kind.clone(), offset: p.next };
            let polled = decide(&p.st, &p.headers, p.target.clone(), after).await.ok()?;
            p.buffered = polled.events.into_iter().collect();
            if let Some(last) = p.buffered.back() {
                p.next = last.offset + 1;
            }
        }
    });
    let mut response = Sse::new(events).keep_alive(KeepAlive::default()).into_response();
    if let Some(session) = &first.response.issued_session {
        if let Ok(v) = HeaderValue::from_str(session) {
            response.headers_mut().insert(SESSION_HEADER, v);
        }
    }
    response
}
