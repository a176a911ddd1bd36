#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]
//! The Mendix side of `warden serve` over real HTTP: the data API with entity access, the
//! sign-in screen and the hand-over, the decision log, and every error shape. The program is
//! the demo app in examples/ with the web shop's store.

mod common_serve;
use common_serve as serve;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use serve::{agent, call, Answer, Server};

const SESSION: &str = "X-Fx-Anonymous-Session-Id";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn shop(extra: &[&str]) -> Server {
    let store = examples().join("shop.store.json");
    let mut args = vec![examples().to_str().unwrap().to_string(), "--store".into(), store.to_str().unwrap().into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    Server::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A client holding one session id (or a bearer), as a browser tab would.
struct Client<'a> {
    server: &'a Server,
    agent: ureq::Agent,
    session: Option<String>,
    bearer: Option<String>,
}

impl<'a> Client<'a> {
    fn new(server: &'a Server) -> Client<'a> {
        Client { server, agent: agent(), session: None, bearer: None }
    }

    fn send(&mut self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = &self.session {
            headers.push((SESSION, s));
        }
        if let Some(b) = &self.bearer {
            headers.push(("Authorization", b));
        }
        let body = body.map(|b| b.to_string());
        let a = call(&self.agent, method, &self.server.url(path), &headers, body.as_deref().map(str::as_bytes));
        if let Some(issued) = a.session() {
            self.session = Some(issued.to_string());
        }
        a
    }

    fn ok(&mut self, method: &str, path: &str, body: Option<Value>) -> Value {
        let a = self.send(method, path, body);
        assert_eq!(a.status, 200, "{method} {path}: {a:?}");
        a.json()
    }
}

fn ids(list: &Value) -> Vec<u64> {
    list["objects"].as_array().unwrap().iter().map(|o| o["id"].as_u64().unwrap()).collect()
}

/// Every error answer has one shape: status, code, message, help, and no trace of the server's insides.
fn assert_error(a: &Answer, status: u16, code: &str) -> Value {
    assert_eq!(a.status, status, "{a:?}");
    let body = a.json();
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(body.get("help").is_some(), "{body}");
    for word in ["panicked", "backtrace", "src/", ".rs:"] {
        assert!(!a.body.contains(word), "{word} in {}", a.body);
    }
    body
}

#[test]
fn the_web_shop_story_over_http() {
    let server = shop(&[]);
    let mut visitor = Client::new(&server);
    // Browsing: the products a visitor may see, without the purchase price.
    let products = visitor.ok("GET", "/api/data/Shop.Product?sort=Name", None);
    assert!(visitor.session.is_some(), "the first request issues a session");
    assert_eq!(ids(&products), vec![4, 3], "Cup, Mug; the Teapot is not in stock");
    assert!(products["objects"][0].get("Cost").is_none(), "{products}");
    // The cart, a line and a wishlist.
    let cart = visitor.ok("POST", "/api/data/Shop.Cart", Some(json!({})));
    let cart_id = cart["id"].as_u64().unwrap();
    let line = visitor.ok(
        "POST",
        "/api/data/Shop.CartLine",
        Some(json!({ "Quantity": 2, "Shop.CartLine_Cart": cart_id, "Shop.CartLine_Product": 3 })),
    );
    let line_id = line["id"].as_u64().unwrap();
    let wish = visitor.ok(
        "POST",
        "/api/data/Shop.Wishlist",
        Some(json!({ "Shop.Wishlist_User": "[%CurrentUser%]", "Shop.Wishlist_Product": [3] })),
    );
    let wish_id = wish["id"].as_u64().unwrap();
    let anonymous_user = wish["Shop.Wishlist_User"].as_u64().unwrap();
    assert_eq!(ids(&visitor.ok("GET", "/api/data/Shop.Cart", None)), vec![cart_id]);
    // Check-out: the sign-in screen.
    let a = visitor.send("POST", "/api/microflows/Shop.Checkout", Some(json!({ "Cart": cart_id })));
    let body = assert_error(&a, 401, "R001");
    assert_eq!(body["sign_in_required"], true);
    assert_eq!(body["roles"], json!(["Customer", "ShopManager"]));
    // Carl's own view before: his store cart, not the visitor's.
    let old_session = visitor.session.clone().unwrap();
    let signed = visitor.send("POST", "/api/sign-in", Some(json!({ "user": "carl" })));
    assert_eq!(signed.status, 200, "{signed:?}");
    let new_session = signed.session().expect("a new session id").to_string();
    assert_ne!(new_session, old_session);
    assert!(signed.header("set-cookie").unwrap().contains("HttpOnly"), "{signed:?}");
    assert!(signed.header("set-cookie").unwrap().contains("SameSite=Lax"), "{signed:?}");
    // The old id no longer works.
    let mut replay = Client::new(&server);
    replay.session = Some(old_session);
    assert_error(&replay.send("GET", "/api/data/Shop.Cart", None), 401, "W401");
    // The cart is in the account, with its line; checking out works now.
    let carts = visitor.ok("GET", "/api/data/Shop.Cart", None);
    assert!(ids(&carts).contains(&cart_id), "{carts}");
    assert!(ids(&carts).contains(&6), "carl's own cart from the store: {carts}");
    assert_eq!(visitor.ok("GET", &format!("/api/data/Shop.CartLine/{line_id}"), None)["Quantity"], 2);
    let total = visitor.ok("POST", "/api/microflows/Shop.Checkout", Some(json!({ "Cart": cart_id })));
    assert_eq!(total["result"], "17.00", "{total}");
    assert_eq!(visitor.ok("GET", &format!("/api/data/Shop.Cart/{cart_id}"), None)["Status"], "Ordered");
    // The anonymous user is gone, and the wishlist, not handed over, went with it (cascade).
    for gone in [anonymous_user, wish_id] {
        let a = call(
            &agent(),
            "POST",
            &server.url("/__warden/explain"),
            &[],
            Some(json!({ "principal": "system", "operation": format!("read #{gone}") }).to_string().as_bytes()),
        );
        assert_eq!(a.status, 400, "#{gone} should not exist: {a:?}");
        assert!(a.json()["message"].as_str().unwrap().contains("does not exist"), "{a:?}");
    }
    // Sign-out ends the session.
    let out = visitor.send("POST", "/api/sign-out", None);
    assert_eq!(out.status, 200, "{out:?}");
    let session = visitor.session.clone();
    let mut after = Client::new(&server);
    after.session = session;
    assert_error(&after.send("GET", "/api/data/Shop.Cart", None), 401, "W401");
}

#[test]
fn one_visitor_never_sees_or_links_another_visitors_objects() {
    let server = shop(&[]);
    let mut ann = Client::new(&server);
    let mut bea = Client::new(&server);
    let cart = ann.ok("POST", "/api/data/Shop.Cart", Some(json!({})))["id"].as_u64().unwrap();
    assert_eq!(ids(&ann.ok("GET", "/api/data/Shop.Cart", None)), vec![cart]);
    assert_eq!(ids(&bea.ok("GET", "/api/data/Shop.Cart", None)), Vec::<u64>::new());
    assert_eq!(ids(&bea.ok("GET", "/api/data/Shop.Cart?where=[Total = 0]", None)), Vec::<u64>::new());
    // A hidden object and a missing one get the same answer, whatever the operation.
    let missing = 999_999;
    for (method, body) in [("GET", None), ("PATCH", Some(json!({ "Total": 5 }))), ("DELETE", None)] {
        let hidden = bea.send(method, &format!("/api/data/Shop.Cart/{cart}"), body.clone());
        let absent = bea.send(method, &format!("/api/data/Shop.Cart/{missing}"), body);
        let h = assert_error(&hidden, 404, "R001");
        let m = assert_error(&absent, 404, "R001");
        assert_eq!(
            h["message"].as_str().unwrap().replace(&cart.to_string(), "N"),
            m["message"].as_str().unwrap().replace(&missing.to_string(), "N"),
            "{method}"
        );
    }
    // Nor can Bea link Ann's cart, or see that it exists by trying.
    let link = bea.send(
        "POST",
        "/api/data/Shop.CartLine",
        Some(json!({ "Shop.CartLine_Cart": cart, "Shop.CartLine_Product": 3 })),
    );
    let absent = bea.send(
        "POST",
        "/api/data/Shop.CartLine",
        Some(json!({ "Shop.CartLine_Cart": missing, "Shop.CartLine_Product": 3 })),
    );
    assert_eq!(link.status, absent.status, "{link:?} {absent:?}");
    assert_error(&link, 404, "R001");
    assert_eq!(ids(&bea.ok("GET", "/api/data/Shop.CartLine", None)), Vec::<u64>::new());
    // A product out of stock is hidden like a missing one.
    assert_error(&bea.send("GET", "/api/data/Shop.Product/5", None), 404, "R001");
    // Ann's cart is as she left it.
    assert_eq!(ann.ok("GET", &format!("/api/data/Shop.Cart/{cart}"), None)["Total"], "0");
}

#[test]
fn paging_is_stable_and_sorted() {
    let server = shop(&[]);
    let mut v = Client::new(&server);
    let mut made = Vec::new();
    for i in 0..23 {
        let c = v.ok("POST", "/api/data/Shop.Cart", Some(json!({ "Total": format!("{}", i % 5) })));
        made.push(c["id"].as_u64().unwrap());
    }
    let mut seen = Vec::new();
    for offset in [0, 10, 20] {
        let page = v.ok("GET", &format!("/api/data/Shop.Cart?sort=-Total&offset={offset}&limit=10"), None);
        assert_eq!(page["total"], 23);
        seen.extend(
            page["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| (o["Total"].as_str().unwrap().to_string(), o["id"].as_u64().unwrap())),
        );
    }
    assert_eq!(seen.len(), 23);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(seen, sorted, "descending by Total, ties by id");
    let mut got: Vec<u64> = seen.iter().map(|s| s.1).collect();
    got.sort_unstable();
    assert_eq!(got, made, "every cart once");
    // The same page twice is the same page.
    let a = v.ok("GET", "/api/data/Shop.Cart?sort=Total&offset=5&limit=7", None);
    let b = v.ok("GET", "/api/data/Shop.Cart?sort=Total&offset=5&limit=7", None);
    assert_eq!(ids(&a), ids(&b));
    assert_eq!(ids(&a).len(), 7);
}

#[test]
fn uncommitted_objects_wait_for_commit_or_rollback() {
    let server = shop(&[]);
    let mut v = Client::new(&server);
    let kept = v.ok("POST", "/api/data/Shop.Cart?commit=false", Some(json!({})))["id"].as_u64().unwrap();
    assert_eq!(v.ok("POST", "/api/commit", None)["committed"], 1);
    let dropped = v.ok("POST", "/api/data/Shop.Cart?commit=false", Some(json!({})))["id"].as_u64().unwrap();
    assert_eq!(v.ok("POST", "/api/rollback", None)["rolled_back"], 1);
    assert_eq!(ids(&v.ok("GET", "/api/data/Shop.Cart", None)), vec![kept]);
    assert_error(&v.send("GET", &format!("/api/data/Shop.Cart/{dropped}"), None), 404, "R001");
    // A change is committed; a delete applies the delete behaviour (cascade to the lines).
    assert_eq!(
        v.ok("PATCH", &format!("/api/data/Shop.Cart/{kept}"), Some(json!({ "Total": "3.50" })))["Total"],
        "3.50"
    );
    v.ok("POST", "/api/data/Shop.CartLine", Some(json!({ "Shop.CartLine_Cart": kept, "Shop.CartLine_Product": 4 })));
    v.ok("DELETE", &format!("/api/data/Shop.Cart/{kept}"), None);
    assert_eq!(ids(&v.ok("GET", "/api/data/Shop.CartLine", None)), Vec::<u64>::new());
}

#[test]
fn every_error_has_one_shape() {
    let server = shop(&[]);
    let mut v = Client::new(&server);
    // Unknown entity, member, microflow, parameter: 404.
    assert_error(&v.send("GET", "/api/data/Shop.Nothing", None), 404, "W404");
    assert_error(&v.send("POST", "/api/data/Shop.Cart", Some(json!({ "Colour": "red" }))), 404, "W404");
    assert_error(&v.send("GET", "/api/data/Shop.Cart?sort=Colour", None), 404, "W404");
    assert_error(&v.send("POST", "/api/microflows/Shop.Nothing", Some(json!({}))), 404, "W404");
    // A type error and a constraint error: 400.
    assert_error(&v.send("POST", "/api/data/Shop.Cart", Some(json!({ "Total": "lots" }))), 400, "W400");
    let long = "x".repeat(41);
    assert_error(
        &v.send(
            "POST",
            "/api/data/Shop.Wishlist",
            Some(json!({ "Title": long, "Shop.Wishlist_User": "[%CurrentUser%]" })),
        ),
        400,
        "R004",
    );
    assert_error(&v.send("POST", "/api/data/Shop.Cart", Some(json!(["not", "an", "object"]))), 400, "W400");
    // A bad where: the check's diagnostic and its span within the parameter.
    let a = v.send("GET", "/api/data/Shop.Product?where=%5BPrise%20%3E%205%5D", None);
    let body = assert_error(&a, 400, "E0105");
    assert_eq!(body["span"], json!({ "start": 1, "end": 6 }), "`Prise` in `[Prise > 5]`: {body}");
    let a = v.send("GET", "/api/data/Shop.Product?where=Name%20%3D%20", None);
    assert_eq!(a.status, 400, "{a:?}");
    // Nothing but a constraint gets through `where`.
    let a = v.send("GET", "/api/data/Shop.Product?where=%5BInStock%5D%20%2B%20count(retrieve%20Shop.Cart)", None);
    assert_eq!(a.status, 400, "{a:?}");
    // Access: 403, naming nothing hidden.
    let body = assert_error(&v.send("POST", "/api/data/Shop.Product", Some(json!({ "Name": "Vase" }))), 403, "R001");
    assert!(body["message"].as_str().unwrap().contains("may not create Shop.Product"), "{body}");
    assert_error(&v.send("PATCH", "/api/data/Shop.Product/3", Some(json!({ "Cost": "1" }))), 403, "R001");
    // A bearer that is not valid: 401, never a fallback to the session.
    let mut bad = Client::new(&server);
    bad.bearer = Some("Bearer nonsense".into());
    let a = bad.send("GET", "/api/data/Shop.Product", None);
    assert_error(&a, 401, "W401");
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    // A failed sign-in (no such user) changes nothing: the session goes on.
    let cart = v.ok("POST", "/api/data/Shop.Cart", Some(json!({})))["id"].as_u64().unwrap();
    let before = v.session.clone();
    assert_error(&v.send("POST", "/api/sign-in", Some(json!({ "user": "nobody" }))), 401, "R006");
    assert_eq!(v.session, before);
    assert_eq!(ids(&v.ok("GET", "/api/data/Shop.Cart", None)), vec![cart]);
}

#[test]
fn a_bearer_acts_as_its_user() {
    let server = shop(&[]);
    let token = call(&agent(), "POST", &server.url("/__warden/token"), &[], Some(br#"{"user": "maria"}"#));
    let mut maria = Client::new(&server);
    maria.bearer = Some(format!("Bearer {}", token.json()["access_token"].as_str().unwrap()));
    let carts = maria.ok("GET", "/api/data/Shop.Cart", None);
    assert_eq!(ids(&carts), vec![8], "managers see ordered carts only: {carts}");
    assert!(maria.session.is_none(), "a bearer is issued no session");
    let products = maria.ok("GET", "/api/data/Shop.Product?where=[Cost < 5]&sort=Cost", None);
    assert_eq!(ids(&products), vec![4, 3], "{products}");
}

#[test]
fn a_password_is_checked_against_its_hash() {
    let path = shop_with_dora("data-password");
    assert!(!std::fs::read_to_string(&path).unwrap().contains("s3cret"), "never plain text");
    let server = Server::start(&[examples().to_str().unwrap(), "--store", path.to_str().unwrap()]);
    let mut v = Client::new(&server);
    let cart = v.ok("POST", "/api/data/Shop.Cart", Some(json!({})))["id"].as_u64().unwrap();
    let session = v.session.clone();
    for wrong in [json!({ "user": "dora" }), json!({ "user": "dora", "password": "guess" })] {
        let a = v.send("POST", "/api/sign-in", Some(wrong));
        let body = assert_error(&a, 401, "R006");
        assert_eq!(body["message"], "unknown user or wrong password");
        assert_eq!(v.session, session, "a failed sign-in changes nothing");
    }
    assert_eq!(ids(&v.ok("GET", "/api/data/Shop.Cart", None)), vec![cart]);
    v.ok("POST", "/api/sign-in", Some(json!({ "user": "dora", "password": "s3cret pass" })));
    assert_ne!(v.session, session);
    assert_eq!(ids(&v.ok("GET", "/api/data/Shop.Cart", None)), vec![cart], "the cart is dora's now");
}

#[test]
fn an_unknown_user_takes_as_long_to_refuse_as_a_wrong_password() {
    // A refusal that came back at once for a user who does not exist, and only after a password
    // hash for one who does, would tell who has an account.
    let path = shop_with_dora("data-password-timing");
    let server = Server::start(&[examples().to_str().unwrap(), "--store", path.to_str().unwrap()]);
    let mut v = Client::new(&server);
    v.ok("POST", "/api/data/Shop.Cart", Some(json!({})));
    let fastest = |v: &mut Client, body: Value| {
        (0..3)
            .map(|_| {
                let started = std::time::Instant::now();
                assert_error(&v.send("POST", "/api/sign-in", Some(body.clone())), 401, "R006");
                started.elapsed()
            })
            .min()
            .unwrap()
    };
    let unknown = fastest(&mut v, json!({ "user": "nobody", "password": "guess" }));
    let wrong = fastest(&mut v, json!({ "user": "dora", "password": "guess" }));
    // One argon2 check each (milliseconds); without it, an unknown user answers in microseconds.
    assert!(unknown * 3 > wrong, "unknown user {unknown:?}, wrong password {wrong:?}");
}

#[test]
fn every_decision_is_logged_as_one_json_line() {
    let dir = serve::temp_dir("data-decisions");
    let log = dir.join("decisions.jsonl");
    let server = shop(&["--decision-log", log.to_str().unwrap()]);
    let mut v = Client::new(&server);
    v.ok("GET", "/api/data/Shop.Product", None);
    let a = v.send("POST", "/api/microflows/Shop.Checkout", Some(json!({ "Cart": 1 })));
    assert_eq!(a.status, 401);
    // A FlowX gate's decision goes to the same log.
    assert_eq!(call(&agent(), "GET", &server.url("/task/api/tasks"), &[], None).status, 401);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[2]["status"], 401, "{}", lines[2]);
    assert!(lines[2]["decided_by"]["gate"].as_str().is_some_and(|g| !g.is_empty()), "{}", lines[2]);
    // And live, as server-sent events: the recent decisions first.
    let stream = agent().get(&server.url("/__warden/decisions")).call().unwrap();
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    let mut reader = std::io::BufReader::new(stream.into_reader());
    let mut events = Vec::new();
    while events.len() < 3 {
        let mut line = String::new();
        assert!(std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0);
        if let Some(data) = line.strip_prefix("data: ") {
            events.push(serde_json::from_str::<Value>(data.trim()).unwrap());
        }
    }
    assert_eq!(events[0]["operation"], "retrieve Shop.Product");
    assert_eq!(lines[0]["operation"], "retrieve Shop.Product");
    assert_eq!(lines[0]["outcome"], "allow");
    assert_eq!(lines[0]["decided_by"]["rules"], json!(["shop.rules:47"]), "{}", lines[0]);
    assert!(lines[0]["principal"].as_str().unwrap().starts_with("anonymous:"));
    assert!(!text.contains(v.session.as_deref().unwrap()), "the session id is a secret: {text}");
    assert_eq!(lines[1]["outcome"], "deny");
    assert_eq!(lines[1]["status"], 401);
    for l in &lines {
        assert!(l["request"].as_u64().is_some(), "{l}");
        for key in ["time", "request", "principal", "operation", "outcome", "decided_by"] {
            assert!(l.get(key).is_some(), "{key} in {l}");
        }
    }
}

#[test]
fn the_inspector_answers_only_on_loopback_or_with_its_token() {
    let server = shop(&["--inspector-token", "let-me-in-please"]);
    let a = call(&agent(), "GET", &server.url("/__warden/matrix"), &[], None);
    assert_error(&a, 403, "W403");
    let a = call(&agent(), "GET", &server.url("/__warden/matrix?token=let-me-in-please"), &[], None);
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.contains("Shop.Cart"), "{a:?}");
    let a = call(&agent(), "GET", &server.url("/"), &[("Authorization", "Bearer let-me-in-please")], None);
    assert_eq!(a.status, 200);
    assert!(a.body.contains("<table id=\"matrix\">"), "{}", a.body);
    // Without a token, loopback is enough (these tests run on loopback).
    let open = shop(&[]);
    assert_eq!(call(&agent(), "GET", &open.url("/"), &[], None).status, 200);
    let a = call(&agent(), "GET", &open.url("/__warden/sessions"), &[], None);
    assert_eq!(a.status, 200, "{a:?}");
}

#[test]
fn over_a_sqlite_store_the_data_api_writes_to_its_copy_and_never_to_the_file() {
    let db = shop_db("data-sqlite");
    let before = std::fs::read(&db).unwrap();
    let server = Server::start(&[examples().to_str().unwrap(), "--store", db.to_str().unwrap()]);
    let mut ann = Client::new(&server);
    let cart = ann.ok("POST", "/api/data/Shop.Cart", Some(json!({})))["id"].as_u64().unwrap();
    assert_eq!(ids(&ann.ok("GET", "/api/data/Shop.Cart", None)), vec![cart]);
    ann.ok("PATCH", &format!("/api/data/Shop.Cart/{cart}"), Some(json!({ "Total": 5 })));
    assert_eq!(ann.ok("GET", &format!("/api/data/Shop.Cart/{cart}"), None)["Total"], "5");
    // Another visitor sees nothing of it, over SQLite as over JSON.
    assert_eq!(ids(&Client::new(&server).ok("GET", "/api/data/Shop.Cart", None)), Vec::<u64>::new());
    drop(server);
    assert!(std::fs::read(&db).unwrap() == before, "the data API wrote to the SQLite file");
}

const FLOWX_SESSION_GONE: &str = "Anonymous session ended or expired";

fn shop_b1(extra: &[&str]) -> Server {
    let mut args = vec!["--build-id", "b1"];
    args.extend_from_slice(extra);
    shop(&args)
}

/// Starts the UI flow `Booking` of the demo app (its anonymous role may) with the client's
/// session; the instance id.
fn start_booking(c: &mut Client<'_>) -> (Answer, Option<String>) {
    let a = c.send("POST", "/rtm/api/runtime/app/Portal/build/b1/ui-flows/Booking", None);
    let id = (a.status == 200).then(|| a.json()["uiFlowSessionUuid"].as_str().unwrap().to_string());
    (a, id)
}

fn booking_status(c: &mut Client<'_>, id: &str) -> Answer {
    c.send("GET", &format!("/api/runtime/ui-flow-session/{id}/status"), None)
}

/// A visitor is one session: the id the FlowX side issued works on the data side and the
/// other way round, for the same visitor; two visitors stay apart on both sides; after a
/// sign-in the old id is refused on both, and after a sign-out the new one too.
#[test]
fn one_session_id_names_one_visitor_on_both_sides() {
    let server = shop_b1(&[]);
    // Ann starts on the FlowX side, then fills a cart with the same id.
    let mut ann = Client::new(&server);
    let (a, ann_flow) = start_booking(&mut ann);
    assert_eq!(a.status, 200, "{a:?}");
    let ann_flow = ann_flow.unwrap();
    let ann_id = ann.session.clone().expect("the FlowX side issued an id");
    let a = ann.send("POST", "/api/data/Shop.Cart", Some(json!({})));
    assert_eq!(a.status, 200, "the data side knows the FlowX side's id: {a:?}");
    assert_eq!(a.session(), None, "no new session: the same visitor");
    let cart = a.json()["id"].as_u64().unwrap();
    assert_eq!(ids(&ann.ok("GET", "/api/data/Shop.Cart", None)), vec![cart]);
    // The same visitor behind the id on both requests: one anonymous principal in the log.
    let sessions = call(&agent(), "GET", &server.url("/__warden/sessions"), &[], None).json();
    assert_eq!(sessions["open"], 1, "{sessions}");
    // Bea starts on the data side, then on the FlowX side with the same id.
    let mut bea = Client::new(&server);
    assert_eq!(ids(&bea.ok("GET", "/api/data/Shop.Cart", None)), Vec::<u64>::new());
    let bea_id = bea.session.clone().expect("the data side issued an id");
    assert_ne!(bea_id, ann_id);
    let (a, bea_flow) = start_booking(&mut bea);
    assert_eq!(a.status, 200, "the FlowX side takes the data side's id: {a:?}");
    assert_eq!(a.session(), None, "no new session: the same visitor");
    let bea_flow = bea_flow.unwrap();
    assert_eq!(bea.session.as_deref(), Some(bea_id.as_str()));
    // Apart on both sides.
    assert_eq!(booking_status(&mut bea, &bea_flow).status, 200);
    let a = booking_status(&mut bea, &ann_flow);
    assert_eq!((a.status, a.detail().as_str()), (403, "Anonymous session not found for entity"));
    let a = booking_status(&mut ann, &bea_flow);
    assert_eq!((a.status, a.detail().as_str()), (403, "Anonymous session not found for entity"));
    assert_error(&bea.send("GET", &format!("/api/data/Shop.Cart/{cart}"), None), 404, "R001");
    assert_eq!(ids(&bea.ok("GET", "/api/data/Shop.Cart", None)), Vec::<u64>::new());
    assert_eq!(booking_status(&mut ann, &ann_flow).status, 200);
    // Ann signs in: a new id; the old one is dead on both sides.
    let signed = ann.send("POST", "/api/sign-in", Some(json!({ "user": "carl" })));
    assert_eq!(signed.status, 200, "{signed:?}");
    let carl_id = ann.session.clone().unwrap();
    assert_ne!(carl_id, ann_id);
    let mut replay = Client::new(&server);
    replay.session = Some(ann_id.clone());
    assert_error(&replay.send("GET", "/api/data/Shop.Cart", None), 401, "W401");
    let a = booking_status(&mut replay, &ann_flow);
    assert_eq!((a.status, a.detail().as_str()), (401, FLOWX_SESSION_GONE), "{a:?}");
    let (a, _) = start_booking(&mut replay);
    assert_eq!((a.status, a.detail().as_str()), (401, FLOWX_SESSION_GONE), "{a:?}");
    assert_eq!(a.session(), None, "a refused id is issued no new one");
    assert_eq!(replay.send("GET", "/cms/api/fonts", None).status, 200, "fonts are everyone's");
    // The new id works on both sides: the cart is in carl's account, and the UI flow the
    // visitor started follows it (Bea's still is not hers).
    assert!(ids(&ann.ok("GET", "/api/data/Shop.Cart", None)).contains(&cart));
    assert_eq!(booking_status(&mut ann, &ann_flow).status, 200, "the visitor's instance follows the new id");
    let a = booking_status(&mut ann, &bea_flow);
    assert_eq!((a.status, a.detail().as_str()), (403, "Anonymous session not found for entity"));
    let (a, carl_flow) = start_booking(&mut ann);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.session(), None);
    assert_eq!(booking_status(&mut ann, &carl_flow.unwrap()).status, 200);
    // Sign-out: the id is dead on both sides.
    assert_eq!(ann.send("POST", "/api/sign-out", None).status, 200);
    let mut gone = Client::new(&server);
    gone.session = Some(carl_id);
    assert_error(&gone.send("GET", "/api/data/Shop.Cart", None), 401, "W401");
    let (a, _) = start_booking(&mut gone);
    assert_eq!((a.status, a.detail().as_str()), (401, FLOWX_SESSION_GONE), "{a:?}");
    // Bea goes on, on both sides.
    assert_eq!(booking_status(&mut bea, &bea_flow).status, 200);
    assert_eq!(bea.send("GET", "/api/data/Shop.Cart", None).status, 200);
    // An id the server never issued is no session on the data side.
    let mut stranger = Client::new(&server);
    stranger.session = Some("0123456789abcdef0123456789abcdef".into());
    assert_error(&stranger.send("GET", "/api/data/Shop.Cart", None), 401, "W401");
}

/// `--session-ttl`: an idle session is refused on both sides like an ended one, its anonymous
/// user is deleted with its delete behaviour and its uncommitted objects are dropped; a
/// session in use lives on.
#[test]
fn idle_sessions_expire_on_both_sides() {
    let server = shop_b1(&["--session-ttl", "3s"]);
    let mut idle = Client::new(&server);
    let (a, flow) = start_booking(&mut idle);
    assert_eq!(a.status, 200, "{a:?}");
    let flow = flow.unwrap();
    let wish = idle.ok(
        "POST",
        "/api/data/Shop.Wishlist",
        Some(json!({ "Shop.Wishlist_User": "[%CurrentUser%]", "Shop.Wishlist_Product": [3] })),
    )["id"]
        .as_u64()
        .unwrap();
    idle.ok("POST", "/api/data/Shop.Cart?commit=false", Some(json!({})));
    let mut busy = Client::new(&server);
    let cart = busy.ok("POST", "/api/data/Shop.Cart?commit=false", Some(json!({})))["id"].as_u64().unwrap();
    let sessions = call(&agent(), "GET", &server.url("/__warden/sessions"), &[], None).json();
    assert_eq!(sessions["open"], 2, "{sessions}");
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_millis(5000) {
        assert_eq!(busy.send("GET", &format!("/api/data/Shop.Cart/{cart}"), None).status, 200, "in use: alive");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    // The sweep ended the idle session without a request of its own: its user and what went
    // with it (the wishlist, by cascade) are gone, and so are its uncommitted objects.
    let sessions = call(&agent(), "GET", &server.url("/__warden/sessions"), &[], None).json();
    assert_eq!(sessions["open"], 1, "{sessions}");
    let uncommitted: Vec<u64> =
        sessions["sessions"].as_array().unwrap().iter().map(|s| s["uncommitted"].as_u64().unwrap()).collect();
    assert_eq!(uncommitted.iter().sum::<u64>(), 1, "only the busy visitor's cart is still held: {sessions}");
    let a = call(
        &agent(),
        "POST",
        &server.url("/__warden/explain"),
        &[],
        Some(json!({ "principal": "system", "operation": format!("read #{wish}") }).to_string().as_bytes()),
    );
    assert!(a.body.contains("does not exist"), "the expired visitor's wishlist went with its user: {a:?}");
    // Refused on both sides, like an unknown id.
    assert_error(&idle.send("GET", "/api/data/Shop.Cart", None), 401, "W401");
    let a = booking_status(&mut idle, &flow);
    assert_eq!((a.status, a.detail().as_str()), (401, FLOWX_SESSION_GONE), "{a:?}");
    assert_eq!(busy.send("GET", &format!("/api/data/Shop.Cart/{cart}"), None).status, 200);
}

/// A copy of the web shop's store in a new directory.
/// The shop's store with a user `dora` whose password is `s3cret pass` (an argon2 hash).
fn shop_with_dora(name: &str) -> PathBuf {
    let mut store: Value =
        serde_json::from_str(&std::fs::read_to_string(examples().join("shop.store.json")).unwrap()).unwrap();
    let hash = warden::eval::api::hash_password("s3cret pass").unwrap();
    assert!(hash.starts_with("$argon2"), "{hash}");
    store["objects"].as_array_mut().unwrap().push(json!({
        "id": 50, "entity": "System.User", "Name": "dora", "Password": hash, "UserRoles": ["Customer"]
    }));
    let path = serve::temp_dir(name).join("shop.store.json");
    std::fs::write(&path, store.to_string()).unwrap();
    path
}

/// The shop's store imported into a new SQLite file.
fn shop_db(name: &str) -> PathBuf {
    let db = serve::temp_dir(name).join("shop.db");
    let imported = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["store", "import"])
        .arg(examples())
        .arg(examples().join("shop.store.json"))
        .arg(&db)
        .status()
        .unwrap();
    assert!(imported.success());
    db
}

fn shop_store_copy(name: &str) -> PathBuf {
    let dir = serve::temp_dir(name);
    let path = dir.join("shop.store.json");
    std::fs::copy(examples().join("shop.store.json"), &path).unwrap();
    path
}

fn token(server: &Server, user: &str) -> String {
    let body = json!({ "user": user }).to_string();
    let a = call(&agent(), "POST", &server.url("/__warden/token"), &[], Some(body.as_bytes()));
    format!("Bearer {}", a.json()["access_token"].as_str().unwrap())
}

/// `--persist`: what the data API commits is in the store after a restart, as the principal
/// may see it; what was never committed is not.
fn committed_writes_outlive_the_server(store: &Path) {
    let store = store.to_str().unwrap();
    let server = Server::start(&[examples().to_str().unwrap(), "--store", store, "--persist"]);
    assert!(!server.log().contains("in memory only"), "{}", server.log());
    let mut carl = Client::new(&server);
    carl.bearer = Some(token(&server, "carl"));
    let kept = carl.ok("POST", "/api/data/Shop.Cart", Some(json!({ "Total": "12.50" })))["id"].as_u64().unwrap();
    let changed = carl.ok("POST", "/api/data/Shop.Cart", Some(json!({})))["id"].as_u64().unwrap();
    carl.ok("PATCH", &format!("/api/data/Shop.Cart/{changed}"), Some(json!({ "Total": "3" })));
    let draft = carl.ok("POST", "/api/data/Shop.Cart?commit=false", Some(json!({})))["id"].as_u64().unwrap();
    let (status, _) = server.terminate();
    assert!(status.success());
    let server = Server::start(&[examples().to_str().unwrap(), "--store", store, "--persist"]);
    let mut carl = Client::new(&server);
    carl.bearer = Some(token(&server, "carl"));
    assert_eq!(carl.ok("GET", &format!("/api/data/Shop.Cart/{kept}"), None)["Total"], "12.50");
    assert_eq!(carl.ok("GET", &format!("/api/data/Shop.Cart/{changed}"), None)["Total"], "3");
    assert_error(&carl.send("GET", &format!("/api/data/Shop.Cart/{draft}"), None), 404, "R001");
    // Another principal still sees nothing of carl's carts.
    let mut visitor = Client::new(&server);
    assert_eq!(ids(&visitor.ok("GET", "/api/data/Shop.Cart", None)), Vec::<u64>::new());
    assert_error(&visitor.send("GET", &format!("/api/data/Shop.Cart/{kept}"), None), 404, "R001");
}

#[test]
fn with_persist_committed_writes_outlive_the_server_over_a_json_store() {
    let store = shop_store_copy("data-persist-json");
    committed_writes_outlive_the_server(&store);
    assert!(!std::fs::read_to_string(&store).unwrap().is_empty());
}

#[test]
fn with_persist_committed_writes_outlive_the_server_over_a_sqlite_store() {
    let db = shop_db("data-persist-sqlite");
    committed_writes_outlive_the_server(&db);
}

#[test]
fn without_persist_the_server_says_writes_live_in_memory_only() {
    let store = shop_store_copy("data-memory-only");
    let before = std::fs::read(&store).unwrap();
    let server = Server::start(&[examples().to_str().unwrap(), "--store", store.to_str().unwrap()]);
    assert!(server.wait_for_log("in memory only"), "{}", server.log());
    let mut v = Client::new(&server);
    v.ok("POST", "/api/data/Shop.Cart", Some(json!({})));
    drop(server);
    assert!(std::fs::read(&store).unwrap() == before, "the store file is untouched");
}

/// `--watch` reloads the data side's program too; committed objects and each visitor's
/// session carry over, and rules that do not check keep the previous program.
#[test]
fn watch_reloads_the_data_side() {
    let dir = serve::temp_dir("data-watch");
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rules" || e == "json") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let rules = dir.join("shop.rules");
    let original = std::fs::read_to_string(&rules).unwrap();
    let store = dir.join("shop.store.json");
    let server = Server::start(&[dir.to_str().unwrap(), "--store", store.to_str().unwrap(), "--watch"]);
    let mut v = Client::new(&server);
    let cart = v.ok("POST", "/api/data/Shop.Cart", Some(json!({})))["id"].as_u64().unwrap();
    assert_error(&v.send("GET", "/api/data/Shop.Note", None), 404, "W404");
    let changed = original.replacen(
        "  entity Wishlist {",
        "  entity Note {\n    Text: String(20)\n  }\n\n  entity Wishlist {",
        1,
    );
    assert_ne!(changed, original);
    std::fs::write(&rules, &changed).unwrap();
    assert!(server.wait_for_log("the data API reloaded"), "{}", server.log());
    let a = v.send("GET", "/api/data/Shop.Note", None);
    assert_ne!(a.status, 404, "the new entity is known: {a:?}");
    assert_eq!(ids(&v.ok("GET", "/api/data/Shop.Cart", None)), vec![cart], "the visitor keeps its cart");
    std::fs::write(&rules, format!("{changed}\nthis does not parse\n")).unwrap();
    assert!(server.wait_for_log("the data API's reload failed"), "{}", server.log());
    assert_ne!(v.send("GET", "/api/data/Shop.Note", None).status, 404, "the previous program serves");
}

/// `--persist` never replaces what another process wrote to the store meanwhile: the request
/// answers `500` (`W500`) and the file keeps the other process's text.
#[test]
fn with_persist_a_store_changed_by_another_process_is_not_overwritten() {
    let store = shop_store_copy("data-persist-changed");
    let server = Server::start(&[examples().to_str().unwrap(), "--store", store.to_str().unwrap(), "--persist"]);
    let mut v = Client::new(&server);
    v.ok("POST", "/api/data/Shop.Cart", Some(json!({})));
    let saved = std::fs::read_to_string(&store).unwrap();
    assert_ne!(saved, std::fs::read_to_string(examples().join("shop.store.json")).unwrap(), "the commit was saved");
    // Another process writes the store (here: puts the original back).
    std::fs::copy(examples().join("shop.store.json"), &store).unwrap();
    let theirs = std::fs::read_to_string(&store).unwrap();
    let a = v.send("POST", "/api/data/Shop.Cart", Some(json!({})));
    let body = assert_error(&a, 500, "W500");
    assert!(body["message"].as_str().unwrap().contains("not saved"), "{body}");
    assert_eq!(std::fs::read_to_string(&store).unwrap(), theirs, "the other process's store is kept");
}

/// Over one SQLite store served by two servers, the FlowX instances are shared: an id that
/// ended on one server (a sign-in or a sign-out) reaches none of its instances on the other.
#[test]
fn an_ended_id_reaches_no_instance_through_another_server_over_one_sqlite_store() {
    let dir = serve::temp_dir("data-two-servers");
    let db = dir.join("shop.db");
    let imported = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["store", "import"])
        .arg(examples())
        .arg(examples().join("shop.store.json"))
        .arg(&db)
        .status()
        .unwrap();
    assert!(imported.success());
    let rules = examples();
    let args = [rules.to_str().unwrap(), "--store", db.to_str().unwrap(), "--build-id", "b1"];
    let (one, two) = (Server::start(&args), Server::start(&args));
    for ends in ["/api/sign-out", "/api/sign-in"] {
        let mut v = Client::new(&one);
        let (a, flow) = start_booking(&mut v);
        assert_eq!(a.status, 200, "{a:?}");
        let flow = flow.unwrap();
        let mut elsewhere = Client::new(&two);
        elsewhere.session = v.session.clone();
        assert_eq!(booking_status(&mut elsewhere, &flow).status, 200, "one instance, two servers");
        let body = (ends == "/api/sign-in").then(|| json!({ "user": "carl" }));
        assert_eq!(v.send("POST", ends, body).status, 200);
        let a = booking_status(&mut elsewhere, &flow);
        assert_eq!((a.status, a.detail().as_str()), (403, "Anonymous session not found for entity"), "{ends}");
    }
}
