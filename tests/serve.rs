#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]
//! `warden serve` over real HTTP: the FlowX seed's scenario and error tables, sessions, tokens,
//! CORS, event streams, uploads, the gate at run time, reloads and shutdown.

mod common_serve;
use common_serve as serve;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use serve::{agent, anonymous_start, call, start_process, start_ui_flow, status, Server};

const NO_ACCESS: &str = "You don't have access to this feature.";
const DISABLED: &str = "Anonymous access not enabled for this application";
const NOT_FOUND_SESSION: &str = "Anonymous session not found for entity";
const FULL_AUTH: &str = "Full authentication is required to access this resource";

fn sign_in(agent: &ureq::Agent, server: &Server, user: &str) -> String {
    let a =
        call(agent, "POST", &server.url("/__warden/token"), &[], Some(format!(r#"{{"user": "{user}"}}"#).as_bytes()));
    assert_eq!(a.status, 200, "{a:?}");
    let token = a.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 64, "256 bits as hex");
    format!("Bearer {token}")
}

#[test]
fn healthz_answers() {
    let server = Server::forms(&[]);
    let a = call(&agent(), "GET", &server.url("/healthz"), &[], None);
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["app"], "Forms");
    assert_eq!(a.json()["build"], "b1");
}

#[test]
fn scenario_1a_anonymous_starts_and_uses_a_resource() {
    let server = Server::forms(&[]);
    let agent = agent();
    let (pi, session) = anonymous_start(&agent, &server, "PublicOnly");
    assert_eq!(session.len(), 32, "128 bits as hex: {session}");
    assert!(session.chars().all(|c| c.is_ascii_hexdigit()));
    let h = [("X-Fx-Anonymous-Session-Id", session.as_str())];
    for (method, path) in [
        ("GET", format!("/api/runtime/process/{pi}/status")),
        ("GET", format!("/api/runtime/process/{pi}/data")),
        ("GET", format!("/api/runtime/process/{pi}/data/tc1/context/main")),
        ("GET", format!("/api/runtime/process/{pi}/node/n1/context/main/details")),
        ("POST", format!("/api/runtime/process/{pi}/token/t1/ui-action/Next/context/main/execute")),
        ("POST", format!("/api/runtime/process/{pi}/token/t1/ui-action/Next/subprocess")),
        ("GET", format!("/rtm/api/runtime/process-instance/{pi}/data-model-paths")),
        ("GET", format!("/rtm/api/runtime/process-instance/{pi}/build/info")),
    ] {
        let a = call(&agent, method, &server.url(&path), &h, if method == "POST" { Some(b"{}") } else { None });
        assert_eq!(a.status, 200, "{method} {path}: {a:?}");
        assert_eq!(a.session(), None, "a request that carries a session id is issued none");
    }
    let a = call(&agent, "POST", &server.url(&format!("/api/runtime/process/{pi}/dismiss")), &h, Some(b""));
    assert_eq!(a.status, 200);
    let a = call(&agent, "GET", &server.url(&status(&pi)), &h, None);
    assert_eq!(a.status, 404, "a dismissed instance answers 404");
    assert_eq!(a.json()["status"], 404);
    // A UI flow, by name and by rdi, and its status.
    for path in [start_ui_flow("Apply"), "/rtm/api/runtime/app/Forms/build/b1/ui-flow-rdi/Apply".into()] {
        let a = call(&agent, "POST", &server.url(&path), &h, Some(b""));
        assert_eq!(a.status, 200, "{a:?}");
        let id = a.json()["uiFlowSessionUuid"].as_str().unwrap().to_string();
        let a = call(&agent, "GET", &server.url(&format!("/api/runtime/ui-flow-session/{id}/status")), &h, None);
        assert_eq!(a.status, 200, "{a:?}");
        let a =
            call(&agent, "GET", &server.url(&format!("/rtm/api/runtime/ui-flow-session/{id}/build/info")), &h, None);
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.json()["buildId"], "b1");
    }
    // Data model paths by resource: VIEW on it, no instance, no session needed.
    for path in [
        "/rtm/api/runtime/app/Forms/build/b1/process-name/PublicOnly/data-model-paths",
        "/rtm/api/runtime/app/Forms/build/b1/process-rdi/ViewOnly/data-model-paths",
        "/rtm/api/runtime/app/Forms/build/b1/ui-flow-name/Apply/data-model-paths",
        "/rtm/api/runtime/app/Forms/build/b1/ui-flow-rdi/Apply/data-model-paths",
    ] {
        assert_eq!(call(&agent, "GET", &server.url(path), &h, None).status, 200, "{path}");
    }
    for path in [
        "/rtm/api/runtime/app/Forms/build/b1/process-name/Internal/data-model-paths",
        "/rtm/api/runtime/app/Forms/build/b1/ui-flow-name/StaffOnly/data-model-paths",
    ] {
        let a = call(&agent, "GET", &server.url(path), &h, None);
        assert_eq!((a.status, a.detail().as_str()), (403, NO_ACCESS), "{path}");
    }
    // By rdi: the resource's name.
    let a =
        call(&agent, "POST", &server.url("/rtm/api/runtime/app/Forms/build/b1/process-rdi/PublicOnly/start"), &h, None);
    assert_eq!(a.status, 200, "{a:?}");
}

#[test]
fn scenario_1b_a_signed_in_user_on_an_anonymous_only_resource_acts_as_anonymous() {
    let server = Server::forms(&[]);
    let agent = agent();
    let carl = sign_in(&agent, &server, "carl");
    let a = call(&agent, "POST", &server.url(&start_process("PublicOnly")), &[("Authorization", &carl)], None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.session(), None, "a bearer request is issued no session");
    let mine = a.json()["processInstanceUuid"].as_str().unwrap().to_string();
    assert_eq!(call(&agent, "GET", &server.url(&status(&mine)), &[("Authorization", &carl)], None).status, 200);
    // Acting as anonymous, carl reaches only the instances it started itself.
    let (theirs, _) = anonymous_start(&agent, &server, "PublicOnly");
    let a = call(&agent, "GET", &server.url(&status(&theirs)), &[("Authorization", &carl)], None);
    assert_eq!((a.status, a.detail().as_str()), (403, NOT_FOUND_SESSION));
    // Internal grants carl's role nothing and the anonymous role nothing.
    let a = call(&agent, "POST", &server.url(&start_process("Internal")), &[("Authorization", &carl)], None);
    assert_eq!((a.status, a.detail().as_str()), (403, NO_ACCESS));
}

#[test]
fn scenario_1c_a_user_with_another_role_uses_it() {
    let server = Server::forms(&[]);
    let agent = agent();
    let ann = sign_in(&agent, &server, "ann");
    for name in ["Mixed", "Internal"] {
        let a = call(&agent, "POST", &server.url(&start_process(name)), &[("Authorization", &ann)], None);
        assert_eq!(a.status, 200, "{name}: {a:?}");
        let pi = a.json()["processInstanceUuid"].as_str().unwrap().to_string();
        assert_eq!(call(&agent, "GET", &server.url(&status(&pi)), &[("Authorization", &ann)], None).status, 200);
        // Anonymous reaches none of it: Internal does not grant the anonymous role.
        let a = call(&agent, "GET", &server.url(&status(&pi)), &[], None);
        assert_eq!(a.status, 403, "{a:?}");
    }
    let a = call(&agent, "POST", &server.url(&start_ui_flow("StaffOnly")), &[("Authorization", &ann)], None);
    assert_eq!(a.status, 200);
}

#[test]
fn scenario_2a_and_the_gate_closing_mid_session() {
    let server = Server::forms(&[]);
    let agent = agent();
    let (pi, session) = anonymous_start(&agent, &server, "PublicOnly");
    let h = [("X-Fx-Anonymous-Session-Id", session.as_str())];
    let a = call(&agent, "POST", &server.url("/__warden/access"), &[], Some(br#"{"access": "invited"}"#));
    assert_eq!(a.status, 200, "{a:?}");
    // 2a: a new visitor.
    let a = call(&agent, "POST", &server.url(&start_process("PublicOnly")), &[], None);
    assert_eq!((a.status, a.detail().as_str()), (403, NO_ACCESS));
    assert_eq!(a.session(), None, "a refused request issues no session");
    // The session in flight.
    let a = call(&agent, "GET", &server.url(&status(&pi)), &h, None);
    assert_eq!((a.status, a.detail().as_str()), (403, DISABLED));
    // Public assets follow the gate too; themes and fonts do not.
    let a = call(&agent, "GET", &server.url("/rtm/api/runtime/app/Forms/build/b1/rt/substitutiontag"), &[], None);
    assert_eq!((a.status, a.detail().as_str()), (403, NO_ACCESS));
    assert_eq!(call(&agent, "GET", &server.url("/cms/api/fonts"), &[], None).status, 200);
    // Open again: the session goes on.
    let a = call(&agent, "POST", &server.url("/__warden/access"), &[], Some(br#"{"access": "public"}"#));
    assert_eq!(a.status, 200);
    assert_eq!(call(&agent, "GET", &server.url(&status(&pi)), &h, None).status, 200);
    // A gate setting the emulator does not know.
    let a = call(&agent, "POST", &server.url("/__warden/access"), &[], Some(br#"{"access": "everyone"}"#));
    assert_eq!(a.status, 400);
}

#[test]
fn scenario_2b_a_resource_without_the_anonymous_role() {
    let server = Server::forms(&[]);
    let agent = agent();
    for path in [start_process("Internal"), start_ui_flow("StaffOnly")] {
        let a = call(&agent, "POST", &server.url(&path), &[], None);
        assert_eq!((a.status, a.detail().as_str()), (403, NO_ACCESS), "{path}");
        assert_eq!(a.json()["status"], 403);
    }
    // The anonymous role with VIEW only cannot start (EXECUTE and SELF_ASSIGN).
    let a = call(&agent, "POST", &server.url(&start_process("ViewOnly")), &[], None);
    assert_eq!((a.status, a.detail().as_str()), (403, NO_ACCESS));
}

#[test]
fn sessions_are_isolated() {
    let server = Server::forms(&[]);
    let agent = agent();
    let (pi, a_session) = anonymous_start(&agent, &server, "PublicOnly");
    let (_, b_session) = anonymous_start(&agent, &server, "PublicOnly");
    assert_ne!(a_session, b_session);
    let b = [("X-Fx-Anonymous-Session-Id", b_session.as_str())];
    for (method, path) in [
        ("GET", status(&pi)),
        ("GET", format!("/api/runtime/process/{pi}/data")),
        ("POST", format!("/api/runtime/process/{pi}/token/t/ui-action/Next/context/c/execute")),
        ("POST", format!("/api/runtime/process/{pi}/dismiss")),
        ("GET", format!("/rtm/api/runtime/process-instance/{pi}/build/info")),
    ] {
        let a = call(&agent, method, &server.url(&path), &b, None);
        assert_eq!((a.status, a.detail().as_str()), (403, NOT_FOUND_SESSION), "{method} {path}");
    }
    // Without any session id.
    let a = call(&agent, "GET", &server.url(&status(&pi)), &[], None);
    assert_eq!((a.status, a.detail().as_str()), (403, NOT_FOUND_SESSION));
    // A's own session still reaches it: B's dismiss changed nothing.
    let a = call(&agent, "GET", &server.url(&status(&pi)), &[("X-Fx-Anonymous-Session-Id", &a_session)], None);
    assert_eq!(a.status, 200);
}

/// Reads are decided on the worker that receives them, beside the engine thread that writes:
/// every client must still see its own writes at once, with many clients at the same time.
#[test]
fn every_session_reads_its_own_writes_under_concurrency() {
    let server = Server::forms(&[]);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let agent = agent();
                for _ in 0..20 {
                    let (pi, session) = anonymous_start(&agent, &server, "PublicOnly");
                    let own = [("X-Fx-Anonymous-Session-Id", session.as_str())];
                    let other = [("X-Fx-Anonymous-Session-Id", "0123456789abcdef0123456789abcdef")];
                    let a = call(&agent, "GET", &server.url(&status(&pi)), &own, None);
                    assert_eq!(a.status, 200, "a status right after the start: {a:?}");
                    let a = call(&agent, "GET", &server.url(&status(&pi)), &other, None);
                    assert_eq!((a.status, a.detail().as_str()), (403, NOT_FOUND_SESSION));
                    let path = format!("/api/runtime/process/{pi}/dismiss");
                    assert_eq!(call(&agent, "POST", &server.url(&path), &own, Some(b"")).status, 200);
                    let a = call(&agent, "GET", &server.url(&status(&pi)), &own, None);
                    assert_eq!(a.status, 404, "a status right after the dismiss: {a:?}");
                }
            });
        }
    });
    // The gate, closed and opened again: the next read sees each.
    let agent = agent();
    let (pi, session) = anonymous_start(&agent, &server, "PublicOnly");
    let own = [("X-Fx-Anonymous-Session-Id", session.as_str())];
    for _ in 0..10 {
        call(&agent, "POST", &server.url("/__warden/access"), &[], Some(br#"{"access": "invited"}"#));
        let a = call(&agent, "GET", &server.url(&status(&pi)), &own, None);
        assert_eq!((a.status, a.detail().as_str()), (403, DISABLED));
        call(&agent, "POST", &server.url("/__warden/access"), &[], Some(br#"{"access": "public"}"#));
        assert_eq!(call(&agent, "GET", &server.url(&status(&pi)), &own, None).status, 200);
    }
}

#[test]
fn the_error_table_and_restricted_families() {
    let server = Server::forms(&[]);
    let agent = agent();
    for (method, path) in [
        ("GET", "/task/api/tasks"),
        ("GET", "/task/api/tasks/123/assign"),
        ("GET", "/rtm/api/runtime/app/Forms/view/v1/tasks"),
        ("GET", "/rtm/api/runtime/wks/default/conversations"),
        ("POST", "/rtm/api/runtime/wks/default/conversations/c1/upload"),
        ("GET", "/api/events/view/v1"),
        ("POST", "/rtm/api/runtime-internal/wks/default/app-version/1/process-resource-id/r/start/test"),
        ("GET", "/cms/api/languages"),
    ] {
        let a = call(&agent, method, &server.url(path), &[], None);
        assert_eq!(a.status, 401, "{path}: {a:?}");
        assert_eq!(a.json(), serde_json::json!({"status": 401, "detail": FULL_AUTH}), "{path}");
        assert_eq!(a.session(), None);
    }
    // Signed in, the restricted families answer.
    let ann = sign_in(&agent, &server, "ann");
    assert_eq!(call(&agent, "GET", &server.url("/cms/api/languages"), &[("Authorization", &ann)], None).status, 200);
    // A bearer that is invalid, malformed or unknown: 401 everywhere but themes and fonts.
    for bad in ["Bearer nope", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer", &format!("{ann}x")] {
        for path in
            [start_process("PublicOnly"), "/cms/api/languages".into(), status("not-a-number"), "/healthz".into()]
        {
            let a = call(
                &agent,
                if path.contains("start") { "POST" } else { "GET" },
                &server.url(&path),
                &[("Authorization", bad)],
                None,
            );
            if path == "/healthz" {
                assert_eq!(a.status, 200);
                continue;
            }
            assert_eq!(a.status, 401, "{bad} {path}: {a:?}");
            assert_eq!(a.session(), None, "no fallback to anonymous");
        }
        let a = call(&agent, "GET", &server.url("/cms/api/fonts"), &[("Authorization", bad)], None);
        assert_eq!(a.status, 200, "fonts ignore tokens");
        let a = call(
            &agent,
            "GET",
            &server.url("/cms/api/wks/default/themes/uuid/t1/platform/web/compiled"),
            &[("Authorization", bad)],
            None,
        );
        assert_eq!(a.status, 200, "themes ignore tokens");
    }
    // Unknown app, build, workspace, resource, instance, path: 404 with a JSON body.
    for (method, path) in [
        ("POST", "/rtm/api/runtime/app/Other/build/b1/process-name/PublicOnly/start".to_string()),
        ("POST", "/rtm/api/runtime/app/Forms/build/b2/process-name/PublicOnly/start".into()),
        ("POST", start_process("Nope")),
        ("GET", "/rtm/api/runtime/wks/other/app/Forms/build/info".into()),
        ("GET", "/rtm/api/runtime/app/Forms/build/b2/rt/mediafile".into()),
        ("GET", status("12345")),
        ("GET", status("not-a-number")),
        ("GET", status("0")),
        ("GET", "/no/such/path".into()),
    ] {
        let a = call(&agent, method, &server.url(&path), &[], None);
        assert_eq!(a.status, 404, "{path}: {a:?}");
        assert_eq!(a.json()["status"], 404, "{path}");
    }
}

#[test]
fn tokens_take_precedence_over_the_session_and_expire() {
    let server = Server::forms(&["--token-ttl", "1"]);
    let agent = agent();
    let (pi, session) = anonymous_start(&agent, &server, "PublicOnly");
    let carl = sign_in(&agent, &server, "carl");
    // carl's bearer with A's session id: carl, acting as anonymous, not session A.
    let both = [("Authorization", carl.as_str()), ("X-Fx-Anonymous-Session-Id", session.as_str())];
    let a = call(&agent, "GET", &server.url(&status(&pi)), &both, None);
    assert_eq!((a.status, a.detail().as_str()), (403, NOT_FOUND_SESSION), "the session id is ignored");
    // ann (Agent) with A's session id on a resource Agent does not hold.
    let ann = sign_in(&agent, &server, "ann");
    let a = call(
        &agent,
        "POST",
        &server.url(&start_process("PublicOnly")),
        &[("Authorization", &ann), ("X-Fx-Anonymous-Session-Id", &session)],
        None,
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.session(), None);
    // An unknown user cannot sign in.
    let a = call(&agent, "POST", &server.url("/__warden/token"), &[], Some(br#"{"user": "mallory"}"#));
    assert_eq!(a.status, 404);
    // After the ttl, the token is refused: 401, no fallback.
    std::thread::sleep(Duration::from_millis(2100));
    let a = call(&agent, "POST", &server.url(&start_process("PublicOnly")), &[("Authorization", &carl)], None);
    assert_eq!(a.status, 401, "{a:?}");
}

#[test]
fn fixed_tokens_from_a_users_file() {
    let dir = serve::temp_dir("users");
    let token = "a".repeat(40);
    std::fs::write(dir.join("users.json"), format!(r#"{{"{token}": "ann"}}"#)).unwrap();
    let users = dir.join("users.json");
    let server = Server::forms(&["--users", users.to_str().unwrap()]);
    let agent = agent();
    let a = call(
        &agent,
        "POST",
        &server.url(&start_process("Internal")),
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
}

#[test]
fn sessions_are_issued_once_and_never_by_themes_and_fonts() {
    let server = Server::forms(&[]);
    let agent = agent();
    for path in ["/cms/api/fonts", "/cms/api/wks/default/themes/uuid/t1/platform/web/compiled"] {
        let a = call(&agent, "GET", &server.url(path), &[], None);
        assert_eq!(a.status, 200);
        assert_eq!(a.session(), None, "{path}");
    }
    for path in [
        "/rtm/api/runtime/app/Forms/build/b1/rt/enumeration",
        "/rtm/api/runtime/app/Forms/build/b1/rt/enumeration/Colours/values",
        "/rtm/api/runtime/app/Forms/build/b1/rt/substitutiontag",
        "/rtm/api/runtime/app/Forms/build/b1/rt/mediafile",
        "/rtm/api/runtime/wks/default/app/Forms/build/info",
    ] {
        let a = call(&agent, "GET", &server.url(path), &[], None);
        assert_eq!(a.status, 200, "{path}: {a:?}");
        assert_eq!(a.session().map(str::len), Some(32), "the first served anonymous request: {path}");
        let again =
            call(&agent, "GET", &server.url(path), &[("X-Fx-Anonymous-Session-Id", a.session().unwrap())], None);
        assert_eq!(again.session(), None);
    }
}

#[test]
fn cors_lists_and_preflights() {
    let server = Server::forms(&["--allow-origin", "http://front.test"]);
    let agent = agent();
    let a = call(
        &agent,
        "OPTIONS",
        &server.url(&start_process("PublicOnly")),
        &[
            ("Origin", "http://front.test"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "x-fx-anonymous-session-id, fx-buildid, authorization, content-type"),
        ],
        None,
    );
    assert!(a.status == 200 || a.status == 204, "{a:?}");
    assert_eq!(a.header("access-control-allow-origin"), Some("http://front.test"));
    let allowed = a.header("access-control-allow-headers").unwrap().to_ascii_lowercase();
    for h in ["x-fx-anonymous-session-id", "fx-buildid", "authorization", "content-type"] {
        assert!(allowed.contains(h), "{h} in {allowed}");
    }
    assert!(a.header("access-control-allow-methods").unwrap().contains("POST"));
    let a = call(&agent, "POST", &server.url(&start_process("PublicOnly")), &[("Origin", "http://front.test")], None);
    assert_eq!(a.header("access-control-allow-origin"), Some("http://front.test"));
    assert_eq!(a.header("access-control-expose-headers"), Some("x-fx-anonymous-session-id"));
    // Refusals carry CORS headers too, so a page can read them.
    let a = call(&agent, "POST", &server.url(&start_process("Internal")), &[("Origin", "http://front.test")], None);
    assert_eq!(a.status, 403);
    assert_eq!(a.header("access-control-allow-origin"), Some("http://front.test"));
    // Another origin is not allowed.
    let a = call(&agent, "POST", &server.url(&start_process("PublicOnly")), &[("Origin", "http://evil.test")], None);
    assert_eq!(a.header("access-control-allow-origin"), None);
}

#[test]
fn exposed_headers_come_from_the_environment() {
    let rules = serve::inputs().join("forms.rules");
    let server = Server::start_with_env(
        &[rules.to_str().unwrap()],
        &[("APPLICATION_CORS_EXPOSEDHEADERS", "X-Fx-Anonymous-Session-Id, X-Other")],
    );
    let a = call(&agent(), "POST", &server.url(&start_process("PublicOnly")), &[("Origin", "http://a.test")], None);
    assert_eq!(a.header("access-control-expose-headers"), Some("x-fx-anonymous-session-id,x-other"));
}

/// Reads SSE lines until `until` is seen (or the stream ends); the `event:` and `data:` lines.
fn read_events(response: ureq::Response, until: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let reader = BufReader::new(response.into_reader());
    for line in reader.lines() {
        let Ok(line) = line else { break };
        if line.starts_with("event:") || line.starts_with("id:") || line.starts_with("data:") {
            lines.push(line.clone());
        }
        if line.contains(until) {
            break;
        }
    }
    lines
}

#[test]
fn event_streams_deliver_instance_events_from_an_offset() {
    let server = Server::forms(&[]);
    let agent = agent();
    let a = call(&agent, "POST", &server.url(&start_ui_flow("Apply")), &[], None);
    let session = a.session().unwrap().to_string();
    let id = a.json()["uiFlowSessionUuid"].as_str().unwrap().to_string();
    let h = [("X-Fx-Anonymous-Session-Id", session.as_str())];
    let stream = format!("/api/events/process-instance/{id}");
    // Anonymous streams need Fx-BuildId.
    let a = call(&agent, "GET", &server.url(&stream), &h, None);
    assert_eq!(a.status, 400, "{a:?}");
    assert!(a.detail().contains("Fx-BuildId"));
    // Another build: 404.
    let a = call(&agent, "GET", &server.url(&stream), &[h[0], ("Fx-BuildId", "b9")], None);
    assert_eq!(a.status, 404);
    // Another session: refused.
    let (_, other) = anonymous_start(&agent, &server, "PublicOnly");
    let a =
        call(&agent, "GET", &server.url(&stream), &[("X-Fx-Anonymous-Session-Id", &other), ("Fx-BuildId", "b1")], None);
    assert_eq!((a.status, a.detail().as_str()), (403, NOT_FOUND_SESSION));
    // An upload and an action, then the stream from offset 1.
    let upload = format!("/api/runtime/wks/default/appId/Forms/ui-flow/{id}/upload");
    assert_eq!(call(&agent, "POST", &server.url(&upload), &h, Some(b"file")).status, 200);
    let r = agent
        .get(&server.url(&format!("{stream}?offset=1")))
        .set("X-Fx-Anonymous-Session-Id", &session)
        .set("Fx-BuildId", "b1")
        .call()
        .unwrap();
    assert_eq!(r.content_type(), "text/event-stream");
    let lines = read_events(r, "UI_FLOW_FILE_UPLOAD");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("event:")).collect::<Vec<_>>(),
        ["event: UI_FLOW_FILE_UPLOAD"],
        "{lines:?}"
    );
    assert!(lines.contains(&"id: 1".to_string()), "{lines:?}");
    // From 0, STARTED first; a new event arrives on the open stream.
    let r = agent
        .get(&server.url(&stream))
        .set("X-Fx-Anonymous-Session-Id", &session)
        .set("Fx-BuildId", "b1")
        .call()
        .unwrap();
    let base = server.base.clone();
    let (session2, id2) = (session.clone(), id.clone());
    let later = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let path = format!("{base}/api/runtime/wks/default/appId/Forms/ui-flow/{id2}/upload-multiple");
        call(&serve::agent(), "POST", &path, &[("X-Fx-Anonymous-Session-Id", &session2)], Some(b"two files")).status
    });
    let lines = read_events(r, "UI_FLOW_FILE_UPLOAD_MULTIPLE");
    assert_eq!(later.join().unwrap(), 200);
    let kinds: Vec<&String> = lines.iter().filter(|l| l.starts_with("event:")).collect();
    assert_eq!(kinds, ["event: STARTED", "event: UI_FLOW_FILE_UPLOAD", "event: UI_FLOW_FILE_UPLOAD_MULTIPLE"]);
    // The generic stream: allowed types only, filtered by type.
    let generic = format!("/api/events/generic/{id}?type=UI_FLOW_FILE_UPLOAD_MULTIPLE");
    let r = agent
        .get(&server.url(&generic))
        .set("X-Fx-Anonymous-Session-Id", &session)
        .set("Fx-BuildId", "b1")
        .call()
        .unwrap();
    let lines = read_events(r, "UI_FLOW_FILE_UPLOAD_MULTIPLE");
    assert_eq!(lines.iter().filter(|l| l.starts_with("event:")).count(), 1, "{lines:?}");
    let a =
        call(&agent, "GET", &server.url(&format!("/api/events/generic/{id}?type=CHAT_WORKFLOW_RESPONSE")), &h, None);
    assert_eq!((a.status, a.detail().as_str()), (401, FULL_AUTH));
}

/// The first bytes of the answer to a POST that declares `len` bytes of body and sends none:
/// a body over the limit is refused from its declared length, before any of it is read (a raw
/// connection, so that the answer cannot race a connection the server closes, or be read from a
/// pooled one it closed).
fn declared_too_large(server: &Server, path: &str, len: usize, session: &str) -> [u8; 12] {
    use std::io::{Read, Write};
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nX-Fx-Anonymous-Session-Id: {session}\r\nContent-Length: {len}\r\n\r\n"
    )
    .unwrap();
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).unwrap();
    answer
}

#[test]
fn uploads_are_limited() {
    let server = Server::forms(&["--max-upload", "1000"]);
    let agent = agent();
    let a = call(&agent, "POST", &server.url(&start_ui_flow("Apply")), &[], None);
    let session = a.session().unwrap().to_string();
    let id = a.json()["uiFlowSessionUuid"].as_str().unwrap().to_string();
    let h = [("X-Fx-Anonymous-Session-Id", session.as_str())];
    let upload = format!("/api/runtime/wks/default/appId/Forms/ui-flow/{id}/upload");
    let a = call(&agent, "POST", &server.url(&upload), &h, Some(&[7u8; 900]));
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["uploaded"], 900);
    assert_eq!(declared_too_large(&server, &upload, 5000, &session), *b"HTTP/1.1 413");
    let temp = format!("/document/internal/wks/default/temp-files/upload?uiFlowSessionUuid={id}");
    assert_eq!(call(&agent, "POST", &server.url(&temp), &h, Some(&[1u8; 10])).status, 200);
    let (_, other) = anonymous_start(&agent, &server, "PublicOnly");
    let a = call(&agent, "POST", &server.url(&temp), &[("X-Fx-Anonymous-Session-Id", &other)], Some(&[1u8; 10]));
    assert_eq!((a.status, a.detail().as_str()), (403, NOT_FOUND_SESSION));
    // Other bodies are limited to 64 KiB.
    assert_eq!(declared_too_large(&server, "/__warden/token", 65_600, &session), *b"HTTP/1.1 413");
}

#[test]
fn workflows_start_from_a_ui_flow_session() {
    let server = Server::forms(&[]);
    let agent = agent();
    let a = call(&agent, "POST", &server.url(&start_ui_flow("Apply")), &[], None);
    let session = a.session().unwrap().to_string();
    let id = a.json()["uiFlowSessionUuid"].as_str().unwrap().to_string();
    let path = format!("/rtm/api/runtime/wks/default/app/Forms/rdi/Notify/start-workflow?uiFlowSessionUuid={id}");
    let a = call(&agent, "POST", &server.url(&path), &[("X-Fx-Anonymous-Session-Id", &session)], None);
    assert_eq!(a.status, 200, "{a:?}");
    let a = call(&agent, "POST", &server.url(&path), &[], None);
    assert_eq!((a.status, a.detail().as_str()), (403, NOT_FOUND_SESSION));
    let unknown = format!("/rtm/api/runtime/wks/default/app/Forms/rdi/Nope/start-workflow?uiFlowSessionUuid={id}");
    assert_eq!(
        call(&agent, "POST", &server.url(&unknown), &[("X-Fx-Anonymous-Session-Id", &session)], None).status,
        404
    );
}

#[test]
fn reset_forgets_sessions_and_instances() {
    let server = Server::forms(&[]);
    let agent = agent();
    let (pi, session) = anonymous_start(&agent, &server, "PublicOnly");
    call(&agent, "POST", &server.url("/__warden/access"), &[], Some(br#"{"access": "invited"}"#));
    assert_eq!(call(&agent, "POST", &server.url("/__warden/reset"), &[], None).status, 200);
    let a = call(&agent, "GET", &server.url(&status(&pi)), &[("X-Fx-Anonymous-Session-Id", &session)], None);
    assert_eq!(a.status, 404, "the gate is as the rules say again, and the instance is gone: {a:?}");
}

#[test]
fn the_emulators_own_endpoints_are_guarded_like_the_inspector() {
    // With --inspector-token, minting a bearer for any user, opening or closing the gate and
    // resetting need the token, even on loopback (without it, loopback only): anyone else who
    // reaches the server could otherwise sign in as any user without a password.
    let server = Server::forms(&["--inspector-token", "only-the-author"]);
    // A refusal does not read the request's body, so the server closes that connection: each
    // request here takes a connection of its own.
    let fresh = agent;
    let user = br#"{"user": "ann"}"#;
    for (path, body) in [
        ("/__warden/token", &user[..]),
        ("/__warden/access", &br#"{"access": "invited"}"#[..]),
        ("/__warden/reset", &b""[..]),
    ] {
        let a = call(&fresh(), "POST", &server.url(path), &[], Some(body));
        assert_eq!(a.status, 403, "{path} without the token: {a:?}");
        assert!(!a.body.contains("access_token"), "{a:?}");
        let a = call(&fresh(), "POST", &server.url(path), &[("Authorization", "Bearer only-the-author-")], Some(body));
        assert_eq!(a.status, 403, "{path} with a wrong token: {a:?}");
    }
    let a = call(&fresh(), "POST", &server.url("/__warden/token?token=only-the-author"), &[], Some(user));
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.json()["access_token"].is_string(), "{a:?}");
    let a = call(
        &fresh(),
        "POST",
        &server.url("/__warden/access"),
        &[("Authorization", "Bearer only-the-author")],
        Some(br#"{"access": "public"}"#),
    );
    assert_eq!(a.status, 200, "{a:?}");
    // The runtime's own paths do not need it.
    assert_eq!(call(&fresh(), "GET", &server.url("/healthz"), &[], None).status, 200);
    let (pi, session) = anonymous_start(&fresh(), &server, "PublicOnly");
    let a = call(&fresh(), "GET", &server.url(&status(&pi)), &[("X-Fx-Anonymous-Session-Id", &session)], None);
    assert_eq!(a.status, 200, "{a:?}");
}

#[test]
fn servers_over_one_sqlite_store_share_sessions() {
    let dir = serve::temp_dir("sqlite");
    let db = dir.join("forms.db");
    let rules = serve::inputs().join("forms.rules");
    let status_ = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["store", "import"])
        .arg(&rules)
        .arg(serve::inputs().join("forms.store.json"))
        .arg(&db)
        .status()
        .unwrap();
    assert!(status_.success());
    let args = [rules.to_str().unwrap(), "--store", db.to_str().unwrap(), "--build-id", "b1"];
    let one = Server::start(&args);
    let two = Server::start(&args);
    let agent = agent();
    let (pi, session) = anonymous_start(&agent, &one, "PublicOnly");
    let (_, other) = anonymous_start(&agent, &two, "PublicOnly");
    assert_eq!(
        call(&agent, "GET", &two.url(&status(&pi)), &[("X-Fx-Anonymous-Session-Id", &session)], None).status,
        200
    );
    let a = call(&agent, "GET", &two.url(&status(&pi)), &[("X-Fx-Anonymous-Session-Id", &other)], None);
    assert_eq!((a.status, a.detail().as_str()), (403, NOT_FOUND_SESSION));
    // The gate closed through one server is closed for the other.
    call(&agent, "POST", &one.url("/__warden/access"), &[], Some(br#"{"access": "invited"}"#));
    let a = call(&agent, "GET", &two.url(&status(&pi)), &[("X-Fx-Anonymous-Session-Id", &session)], None);
    assert_eq!((a.status, a.detail().as_str()), (403, DISABLED));
    // A token signed in through one is valid on the other.
    let carl = sign_in(&agent, &one, "carl");
    assert_eq!(call(&agent, "GET", &two.url("/cms/api/languages"), &[("Authorization", &carl)], None).status, 200);
    // The store still opens for the other commands.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("eval")
        .arg(&rules)
        .arg("--store")
        .arg(&db)
        .args(["-e", "retrieve System.User"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[cfg(unix)]
#[test]
fn sigterm_drains_and_stops_even_with_an_open_stream() {
    let server = Server::forms(&[]);
    let agent = agent();
    let a = call(&agent, "POST", &server.url(&start_ui_flow("Apply")), &[], None);
    let session = a.session().unwrap().to_string();
    let id = a.json()["uiFlowSessionUuid"].as_str().unwrap().to_string();
    let r = agent
        .get(&server.url(&format!("/api/events/process-instance/{id}")))
        .set("X-Fx-Anonymous-Session-Id", &session)
        .set("Fx-BuildId", "b1")
        .call()
        .unwrap();
    let reader = std::thread::spawn(move || read_events(r, "never"));
    std::thread::sleep(Duration::from_millis(300));
    let (status, log) = server.terminate();
    assert!(status.success(), "{status:?}: {log}");
    assert!(log.contains("warden serve: stopped"), "{log}");
    let lines = reader.join().unwrap();
    assert!(lines.contains(&"event: STARTED".to_string()), "{lines:?}");
}

#[test]
fn watch_reloads_and_keeps_the_old_program_when_the_new_one_does_not_check() {
    let dir = serve::temp_dir("watch");
    let rules = dir.join("forms.rules");
    let original = std::fs::read_to_string(serve::inputs().join("forms.rules")).unwrap();
    std::fs::write(&rules, &original).unwrap();
    let store = serve::inputs().join("forms.store.json");
    let server =
        Server::start(&[rules.to_str().unwrap(), "--store", store.to_str().unwrap(), "--build-id", "b1", "--watch"]);
    let agent = agent();
    assert_eq!(call(&agent, "POST", &server.url(&start_process("Later")), &[], None).status, 404);
    std::fs::write(
        &rules,
        format!("{original}\nprocess Later {{\n  roles {{\n    Anonymous: VIEW, EXECUTE\n  }}\n}}\n"),
    )
    .unwrap();
    assert!(server.wait_for_log("reloaded"), "{}", server.log());
    assert_eq!(call(&agent, "POST", &server.url(&start_process("Later")), &[], None).status, 200);
    std::fs::write(&rules, format!("{original}\nprocess Broken {{ roles {{ Nobody: VIEW }} }}\n")).unwrap();
    assert!(server.wait_for_log("reload failed"), "{}", server.log());
    assert!(server.log().contains("Nobody"), "the reason is reported: {}", server.log());
    assert_eq!(
        call(&agent, "POST", &server.url(&start_process("Later")), &[], None).status,
        200,
        "the old program serves"
    );
}

#[test]
fn a_non_loopback_bind_warns() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("serve")
        .arg(serve::inputs().join("forms.rules"))
        .args(["--bind", "0.0.0.0:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.starts_with("warning:") && first.contains("emulator"), "{first}");
}

#[test]
fn rules_that_do_not_check_are_refused_before_listening() {
    let dir = serve::temp_dir("broken");
    std::fs::write(dir.join("bad.rules"), "module M { entity E { A: Nope } }\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("serve")
        .arg(dir.join("bad.rules"))
        .args(["--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_panic_in_a_request_never_takes_the_server_down() {
    let rules = serve::inputs().join("forms.rules");
    let server =
        Server::start_with_env(&[rules.to_str().unwrap(), "--build-id", "b1"], &[("WARDEN_SERVE_TEST_PANICS", "1")]);
    let agent = agent();
    for path in ["/__warden/test/panic", "/__warden/test/panic-engine", "/__warden/test/panic"] {
        let a = call(&agent, "GET", &server.url(path), &[], None);
        assert_eq!(a.status, 500, "{path}: {a:?}");
        assert_eq!(a.json()["status"], 500);
        // The server and its engine go on.
        let (pi, session) = anonymous_start(&agent, &server, "PublicOnly");
        assert_eq!(
            call(&agent, "GET", &server.url(&status(&pi)), &[("X-Fx-Anonymous-Session-Id", &session)], None).status,
            200
        );
    }
    assert!(server.log().contains("panicked"), "{}", server.log());
    // Without the variable, the routes do not exist.
    let plain = Server::forms(&[]);
    assert_eq!(call(&agent, "GET", &plain.url("/__warden/test/panic"), &[], None).status, 404);
}

#[test]
fn a_slow_client_times_out() {
    use std::io::{Read, Write};
    let server = Server::forms(&["--request-timeout", "1"]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // Headers that promise a body, then only part of it.
    write!(stream, "POST /__warden/token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"user\"").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // The server goes on.
    assert_eq!(call(&agent(), "GET", &server.url("/healthz"), &[], None).status, 200);
}
