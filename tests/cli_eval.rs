//! `warden test`, `eval`, `explain` and `matrix` over `examples/`, with
//! snapshots of what rule authors read.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use assert_cmd::Command;
use serde_json::Value;

const NOW: &str = "2026-11-22T10:00:00Z";

fn warden() -> Command {
    let mut cmd = Command::cargo_bin("warden").expect("the warden binary");
    cmd.env("NO_COLOR", "1");
    cmd
}

/// `warden explain` on the example app and its events store, at [`NOW`].
fn explain_events(principal: &str, operation: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args =
        vec!["explain", "examples/", "--store", "examples/events.store.json", "--as", principal, "--now", NOW];
    args.extend(extra);
    args.push(operation);
    run(&args)
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = warden().args(args).output().expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn eval_as(who: &str, statements: &str) -> (Option<i32>, String, String) {
    run(&["eval", "examples/", "--store", "examples/events.store.json", "--as", who, "--now", NOW, "-e", statements])
}

#[test]
fn examples_tests_pass() {
    let (code, out, _) = run(&["test", "examples/"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.ends_with("27 passed, 0 failed\n"), "22 tests and 5 snapshots: {out}");
    for file in ["app", "audit", "events", "quote", "shop"] {
        assert!(out.contains(&format!("examples/{file}.rules:")), "{file}.rules has blocks: {out}");
    }
}

/// The shop, the quote calculator, the events calendar and the audit example each come with
/// tests, a snapshot block (accepted in its `.snap` file) and a store that loads with the
/// whole program.
#[test]
fn every_example_has_tests_a_snapshot_and_a_store() {
    for name in ["shop", "quote", "events", "audit"] {
        let rules = std::fs::read_to_string(format!("examples/{name}.rules")).unwrap();
        assert!(rules.lines().any(|l| l.starts_with("test ")), "{name}.rules has tests");
        let snapshot = rules.lines().find_map(|l| l.strip_prefix("snapshot ")).expect("a snapshot block");
        let snap = std::fs::read_to_string(format!("examples/{name}.rules.snap")).expect("an accepted snapshot");
        let title = snapshot.trim_end_matches(" {");
        assert!(snap.contains(&format!("=== snapshot {title}")), "{name}.rules.snap holds {title}");
        let store = format!("examples/{name}.store.json");
        let (code, out, err) = run(&["eval", "examples/", "--store", &store, "-e", "count(retrieve System.User)"]);
        assert_eq!(code, Some(0), "{store} loads: {err}");
        assert_ne!(out.trim(), "0", "{store} has users to act as");
    }
}

#[test]
fn a_failing_test_exits_1_and_shows_the_statement() {
    // A copy of the demo app (its snapshots too) with one expectation of events.rules made wrong.
    let dir = std::env::temp_dir().join(format!("warden-cli-eval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir("examples").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".rules") || name.ends_with(".rules.snap") {
            std::fs::copy(&path, dir.join(&name)).unwrap();
        }
    }
    let file = dir.join("events.rules");
    let full = std::fs::read_to_string(&file).unwrap();
    let text = full.replace("expect count(retrieve Events.Event) = 1", "expect count(retrieve Events.Event) = 2");
    assert_ne!(text, full);
    std::fs::write(&file, text).unwrap();
    let (code, out, _) = run(&["test", dir.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(out.contains("FAILED"), "{out}");
    assert!(
        out.contains("expected `count(retrieve Events.Event) = 2` to hold: the left side is 1, the right side is 2"),
        "{out}"
    );
    assert!(out.ends_with("26 passed, 1 failed\n"), "{out}");
    let (_, json, _) = run(&["test", dir.to_str().unwrap(), "--format", "json"]);
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["passed"], 26);
    assert_eq!(doc["failed"], 1);
    let failed = doc["tests"].as_array().unwrap().iter().find(|t| t["outcome"] == "failed").unwrap();
    assert_eq!(failed["name"], "visitors see public events only");
    assert!(failed["line"].as_u64().is_some() && failed["file"].as_str().unwrap().ends_with("events.rules"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn test_filter_selects_by_name() {
    let (code, out, _) = run(&["test", "examples/", "--filter", "registration"]);
    assert_eq!(code, Some(0));
    assert!(out.ends_with("1 passed, 0 failed\n"), "{out}");
}

#[test]
fn eval_shows_only_readable_members() {
    let (code, out, _) = eval_as("anonymous", "retrieve Events.Event");
    assert_eq!(code, Some(0));
    insta::assert_snapshot!("eval_anonymous_events", out);
    let (_, out, _) = eval_as("sam", "retrieve Events.Event [Budget > 100]");
    insta::assert_snapshot!("eval_staff_events_over_100", out);
}

#[test]
fn eval_json_results() {
    let (code, out, _) = run(&[
        "eval",
        "examples/",
        "--store",
        "examples/events.store.json",
        "--as",
        "noor",
        "--now",
        NOW,
        "--format",
        "json",
        "-e",
        "count(retrieve Events.Registration)  retrieve first Events.Registration",
    ]);
    assert_eq!(code, Some(0));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["results"][0], 2);
    let object = &doc["results"][1];
    assert_eq!(object["id"], 5);
    assert_eq!(object["entity"], "Events.Registration");
    assert_eq!(object["Seats"], 2);
    assert!(object.get("System.owner").is_none(), "noor may not read the owner: {object}");
}

#[test]
fn a_denied_write_fails_with_the_reason() {
    let (code, _, err) = eval_as("anonymous", "change #3 { Title = 'Mine now' }");
    assert_eq!(code, Some(1));
    assert!(err.contains("R001"), "{err}");
    assert!(err.contains("may not write `Title` of Events.Event #3"), "{err}");
}

#[test]
fn eval_save_persists_atomically() {
    let dir = std::env::temp_dir().join(format!("warden-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("events.store.json");
    std::fs::copy("examples/events.store.json", &store).unwrap();
    let s = store.to_str().unwrap();
    let (code, _, err) = run(&[
        "eval",
        "examples/",
        "--store",
        s,
        "--as",
        "noor",
        "--now",
        NOW,
        "--save",
        "-e",
        "let $r = create Events.Registration { Seats = 3, Events.Registration_Event = #4 }  commit $r",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (_, out, _) = run(&[
        "eval",
        "examples/",
        "--store",
        s,
        "--as",
        "noor",
        "--now",
        NOW,
        "-e",
        "count(retrieve Events.Registration)",
    ]);
    assert_eq!(out.trim(), "3");
    // A failing run saves nothing.
    let before = std::fs::read_to_string(&store).unwrap();
    let (code, _, _) =
        run(&["eval", "examples/", "--store", s, "--as", "anonymous", "--now", NOW, "--save", "-e", "delete #3"]);
    assert_eq!(code, Some(1));
    assert_eq!(std::fs::read_to_string(&store).unwrap(), before);
    let mut left: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    let name = store.file_name().unwrap().to_string_lossy().into_owned();
    // The store and its lock file (kept: it is only ever locked, never read); no temporary file.
    assert_eq!(left, [format!(".{name}.lock"), name], "no temporary file is left behind");
}

#[test]
fn a_bad_store_is_refused_with_every_problem() {
    let dir = std::env::temp_dir().join(format!("warden-bad-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("bad.json");
    std::fs::write(
        &store,
        r#"{ "format": "warden-store/1", "objects": [
            { "id": 1, "entity": "Events.Event", "Title": 5, "Capacty": 3 },
            { "id": 1, "entity": "Events.Event" },
            { "id": 2, "entity": "Events.Registration", "Events.Registration_Event": 9 },
            { "id": 3, "entity": "Events.Evnt" }
        ] }"#,
    )
    .unwrap();
    let (code, _, err) =
        run(&["eval", "examples/", "--store", store.to_str().unwrap(), "-e", "count(retrieve Events.Event)"]);
    assert_eq!(code, Some(1));
    insta::assert_snapshot!("bad_store", err.replace(store.to_str().unwrap(), "bad.json"));
}

#[test]
fn explain_shows_rules_terms_and_grants() {
    let (code, out, _) = explain_events("sam", "read #7", &[]);
    assert_eq!(code, Some(1), "a deny exits 1");
    insta::assert_snapshot!("explain_staff_old_registration", out);
    let (code, out, _) = explain_events("anonymous", "read #4/Title", &[]);
    assert_eq!(code, Some(1));
    insta::assert_snapshot!("explain_anonymous_members_event", out);
    let (code, out, _) = explain_events("noor", "write #5/Seats", &[]);
    assert_eq!(code, Some(0));
    insta::assert_snapshot!("explain_owner_writes_seats", out);
    let (_, json, _) = explain_events("noor", "delete #5", &["--format", "json"]);
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["decision"], "allow");
    assert_eq!(doc["rules"][0]["applies"], true);
    assert!(doc["rules"][0]["line"].as_u64().is_some());
}

#[test]
fn matrix_of_the_examples() {
    let (code, out, _) = run(&["matrix", "examples/"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("user role Guest (anonymous)"), "the anonymous role comes first: {out}");
    insta::assert_snapshot!("matrix_examples", out);
    let (_, json, _) = run(&["matrix", "examples/", "--format", "json"]);
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["roles"][0]["role"], "Guest");
    assert_eq!(doc["roles"][0]["anonymous"], true);
}

/// `explain --plan` names each constraint's key, or why it has none.
#[test]
fn explain_plan_names_each_key_and_each_fallback() {
    let dir = std::env::temp_dir().join(format!("warden-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("shop.rules");
    std::fs::write(
        &rules,
        r#"
module Shop {
  enumeration Status { Open, CheckedOut }
  entity Cart {
    stores owner
    Status: Status = Open
  }
  entity Line { Qty: Integer = 1 }
  association Line_Cart: Line -> Cart
  module role Buyer
  access Line for Buyer {
    read Qty
    where [Shop.Line_Cart/Shop.Cart/System.owner = '[%CurrentUser%]']
  }
  access Line for Buyer {
    read Qty
    where [not(Shop.Line_Cart/Shop.Cart/Status = 'Open')]
  }
}
user role B: Shop.Buyer
"#,
    )
    .unwrap();
    let store = dir.join("shop.store.json");
    std::fs::write(
        &store,
        r#"{"format": "warden-store/1", "objects": [
            {"id": 1, "entity": "System.User", "Name": "ann", "UserRoles": ["B"]}]}"#,
    )
    .unwrap();
    let plan = |who: &str| {
        let out = Command::cargo_bin("warden")
            .unwrap()
            .args(["explain", rules.to_str().unwrap(), "--store", store.to_str().unwrap(), "--as", who, "--plan"])
            .arg("retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/Status = 'CheckedOut']")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = plan("ann");
    assert!(text.starts_with("plan indexed for ann: retrieve Shop.Line"), "{text}");
    // One rule has no key (`not`), and a principal's own path constraint does not narrow.
    assert!(text.contains("Shop.Line: every object of the entity, each through the full check"), "{text}");
    assert!(
        text.contains("a semi-join from the far end: the System.User compared with, then back through System.owner (the reference index), Shop.Line_Cart (the reference index)"),
        "{text}"
    );
    assert!(text.contains("no key, every object of the entity: `not(...)`"), "{text}");
    assert!(text.contains("not used for a principal"), "{text}");
    let text = plan("system");
    assert!(text.contains("Shop.Line: exact keys: the answer itself"), "{text}");
    assert!(text.contains("a semi-join from the far end: a column scan of Shop.Cart/Status"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
