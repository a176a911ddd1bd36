//! Conventions every command keeps: one JSON (or SARIF) document on every path
//! of `--format json|sarif`, exit codes, messages that say what is wrong, bad
//! input (links, FIFOs, binary files, escape sequences, huge values), standard
//! input as `-`, `--quiet`, completions, the manual page, `fmt --diff`,
//! `test --watch` and `explain`'s exit statuses. Over `examples/` and files
//! written into a scratch directory; nothing here reads the spec's own files.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

const RULES: &str = "examples/";
/// One file that is a whole program on its own.
const SINGLE: &str = "tests/inputs/syntax/spec_shop.rules";
const STORE: &str = "examples/events.store.json";

fn warden() -> Command {
    let mut cmd = Command::cargo_bin("warden").expect("the warden binary");
    cmd.env("NO_COLOR", "1");
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    run_with(args, "")
}

fn run_with(args: &[&str], stdin: &str) -> Run {
    let out = warden().args(args).write_stdin(stdin).output().expect("warden runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-conventions-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing a scratch file");
    path.display().to_string()
}

/// Exactly one JSON document on stdout, and nothing else but whitespace.
fn one_document(stdout: &str, what: &str) -> Value {
    let mut docs = serde_json::Deserializer::from_str(stdout).into_iter::<Value>();
    let first = match docs.next() {
        Some(Ok(v)) => v,
        other => panic!("{what}: stdout is not a JSON document ({other:?}):\n{stdout}"),
    };
    assert!(docs.next().is_none(), "{what}: more than one document on stdout:\n{stdout}");
    first
}

// ---- A: one document on every path ----

/// The paths every command is run over: (name, the arguments that lead there, the exit status).
struct Paths {
    good_rules: String,
    bad_rules: String,
    missing: String,
    bad_store: String,
}

fn paths() -> Paths {
    let dir = scratch("paths");
    Paths {
        good_rules: RULES.into(),
        bad_rules: write(
            &dir,
            "broken.rules",
            "module Shop {\n  entity Cart { Total: Decimal }\n  access Cart for Nobody { read Totl }\n}\n",
        ),
        missing: dir.join("missing.rules").display().to_string(),
        bad_store: write(
            &dir,
            "bad.store.json",
            r#"{"format": "warden-store/1", "objects": [{"id": 1, "entity": "Events.Nothing"}]}"#,
        ),
    }
}

/// For every command that takes `--format`: json (and sarif where the command has it)
/// on the success path and on each failure path, one document each time, of the
/// command's own shape, with `error` on failures.
#[test]
fn every_format_prints_one_document_on_every_path() {
    let p = paths();
    let (good, bad, missing, bad_store) = (&p.good_rules, &p.bad_rules, &p.missing, &p.bad_store);
    // (the arguments, the key every document of the command has, the exit status, which path)
    let mut cases: Vec<(Vec<String>, &str, i32, &str)> = Vec::new();
    let words = |w: &[&str]| -> Vec<String> { w.iter().map(|s| s.to_string()).collect() };
    for (cmd, key) in [("check", "diagnostics"), ("audit", "findings"), ("test", "tests"), ("matrix", "roles")] {
        cases.push((words(&[cmd, good]), key, 0, "success"));
        cases.push((words(&[cmd, bad]), key, 1, "bad rules"));
        cases.push((words(&[cmd, missing]), key, 2, "missing file"));
    }
    let acting = [
        ("eval", "results", "count(retrieve Events.Event)"),
        ("explain", "decision", "read #3/Title"),
        ("sql", "sql", "retrieve Events.Event"),
    ];
    for (cmd, key, what) in acting {
        let args = |rules: &str, store: &str, principal: &str, extra: &[&str]| -> Vec<String> {
            let mut w = words(&[cmd, rules, "--store", store, "--as", principal]);
            w.extend(words(extra));
            if cmd == "eval" {
                w.push("-e".into());
            }
            w.push(what.into());
            w
        };
        // `explain` says deny with 1, so wrong rules or a wrong store are 3 there.
        let wrong = if cmd == "explain" { 3 } else { 1 };
        cases.push((args(good, STORE, "noor", &[]), key, 0, "success"));
        cases.push((args(bad, STORE, "noor", &[]), key, wrong, "bad rules"));
        cases.push((args(missing, STORE, "noor", &[]), key, 2, "missing file"));
        cases.push((args(good, bad_store, "noor", &[]), key, wrong, "bad store"));
        cases.push((args(good, STORE, "nobody", &[]), key, 2, "unknown principal"));
        cases.push((args(good, STORE, "noor", &["--now", "yesterday"]), key, 2, "bad --now"));
    }
    // Arguments that parse but are wrong, and evaluation that fails.
    cases.push((words(&["eval", RULES]), "results", 2, "no statements"));
    cases.push((words(&["eval", RULES, "--save", "-e", "1"]), "results", 2, "--save without --store"));
    cases.push((words(&["explain", RULES]), "decision", 2, "no operation"));
    cases.push((words(&["sql", RULES]), "sql", 2, "no retrieve"));
    // `explain --plan`: a retrieve's plan, or why there is none.
    let plan = |rules: &str, store: &str, principal: &str, what: &str| {
        words(&["explain", rules, "--store", store, "--as", principal, "--plan", what])
    };
    cases.push((plan(good, STORE, "noor", "retrieve Events.Event"), "plan", 0, "success"));
    cases.push((plan(bad, STORE, "noor", "retrieve Events.Event"), "plan", 1, "bad rules"));
    cases.push((plan(good, bad_store, "noor", "retrieve Events.Event"), "plan", 1, "bad store"));
    cases.push((plan(good, STORE, "nobody", "retrieve Events.Event"), "plan", 2, "unknown principal"));
    cases.push((plan(good, STORE, "noor", "1 + 2"), "plan", 1, "not a retrieve"));
    cases.push((words(&["explain", RULES, "--plan"]), "plan", 2, "no retrieve"));
    cases.push((
        words(&["explain", RULES, "--store", STORE, "--as", "noor", "read #99"]),
        "decision",
        4,
        "evaluation error",
    ));
    cases.push((
        words(&["eval", RULES, "--as", "anonymous", "-e", "change #3 { Title = 'x' }"]),
        "results",
        1,
        "denied",
    ));
    cases.push((
        words(&["eval", RULES, "-e", "count(retrieve Events.Nope)"]),
        "results",
        1,
        "statements that do not check",
    ));
    // Command lines the argument parser refuses.
    cases.push((words(&["check"]), "diagnostics", 2, "no paths"));
    cases.push((words(&["audit", RULES, "--fail-on", "warnings"]), "findings", 2, "a wrong option value"));
    cases.push((words(&["test", RULES, "--bogus"]), "tests", 2, "an unknown option"));
    let tls = "postgres://u@127.0.0.1:1/db?sslmode=require";
    cases.push((words(&["eval", RULES, "--store", tls, "-e", "1"]), "results", 1, "a PostgreSQL URL asking for TLS"));
    cases.push((words(&["test", RULES, "--store", tls]), "tests", 2, "--store without --backend postgres"));
    cases.push((words(&["eval", RULES, "--max-steps", "lots", "-e", "1"]), "results", 2, "a wrong number"));
    cases.push((words(&["explain"]), "decision", 2, "no arguments"));
    cases.push((words(&["sql", RULES, "--as"]), "sql", 2, "an option without its value"));
    cases.push((words(&["matrix"]), "roles", 2, "no paths"));
    cases.push((words(&["test", good, "--coverage"]), "coverage", 0, "success"));
    cases.push((words(&["test", good, "--coverage", "--fail-under", "99"]), "coverage", 1, "coverage below"));
    cases.push((words(&["test", good, "--mutate"]), "mutants", 1, "mutants survive"));
    cases.push((words(&["test", good, "--fail-under", "90"]), "tests", 2, "--fail-under alone"));
    cases.push((words(&["diff", good, good]), "changes", 0, "success"));
    cases.push((words(&["diff", good, bad]), "changes", 1, "bad rules"));
    cases.push((words(&["diff", good, missing]), "changes", 2, "missing file"));
    cases.push((words(&["diff", good]), "changes", 2, "one path"));
    cases.push((words(&["diff", good, good, "--fail-on-widening", "Nobody"]), "changes", 2, "an unknown role"));
    cases.push((words(&["diff", good, "--bogus"]), "changes", 2, "an unknown option"));

    let mut failures = Vec::new();
    for (words, key, code, path) in &cases {
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        args.extend(["--format", "json"]);
        let r = run(&args);
        let what = format!("{} ({path})", args.join(" "));
        let doc = one_document(&r.stdout, &what);
        if r.code != *code {
            failures.push(format!("{what}: exit {} instead of {code}; stderr: {}", r.code, r.stderr));
        } else if !r.stderr.is_empty() {
            failures.push(format!("{what}: the document is the whole output, but stderr has: {}", r.stderr));
        }
        if doc.get(*key).is_none() {
            failures.push(format!("{what}: no `{key}` in {doc}"));
        }
        // Every failure says what failed, except `check`, whose diagnostics are its result.
        let failed = *code != 0 && !(words[0] == "check" && *path == "bad rules");
        if failed && doc.get("error").is_none() {
            failures.push(format!("{what}: a failure without `error`: {doc}"));
        }
        if *path == "bad rules" && words[0] != "check" && doc["diagnostics"].as_array().is_none_or(Vec::is_empty) {
            failures.push(format!("{what}: the rules' diagnostics are missing: {doc}"));
        }
        if words[0] == "test" && (doc.get("passed").is_none() || doc.get("failed").is_none()) {
            failures.push(format!("{what}: `test` documents keep `passed` and `failed`: {doc}"));
        }
        // SARIF where the command has it: one SARIF 2.1.0 log, whatever happened.
        if matches!(words[0].as_str(), "check" | "audit") {
            let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
            args.extend(["--format", "sarif"]);
            let r = run(&args);
            let sarif = one_document(&r.stdout, &format!("{} (sarif)", args.join(" ")));
            assert_eq!(sarif["version"], "2.1.0", "{sarif}");
            assert_eq!(sarif["runs"].as_array().map(Vec::len), Some(1), "{sarif}");
            let ok = sarif["runs"][0]["invocations"][0]["executionSuccessful"].as_bool();
            let expect_ok = *code == 0 || (words[0] == "check" && *path == "bad rules");
            if ok != Some(expect_ok) {
                failures.push(format!("{}: executionSuccessful {ok:?}: {sarif}", args.join(" ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The specific documents of the failures the issue named.
#[test]
fn failure_documents_say_what_failed() {
    let p = paths();
    // audit --format sarif on rules that do not check: the check errors as results.
    let r = run(&["audit", "--format", "sarif", &p.bad_rules]);
    assert_eq!(r.code, 1);
    let sarif = one_document(&r.stdout, "audit sarif");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert!(results.iter().any(|r| r["ruleId"] == "E0108"), "{sarif}");
    let note = &sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"];
    assert_eq!(note, "the rules do not check; fix them before auditing");

    // test --format json on rules that do not check keeps the test document's shape.
    let doc = one_document(&run(&["test", "--format", "json", &p.bad_rules]).stdout, "test");
    assert_eq!(doc["tests"], serde_json::json!([]));
    assert_eq!((doc["passed"].as_u64(), doc["failed"].as_u64()), (Some(0), Some(0)));
    assert_eq!(doc["diagnostics"][0]["code"], "E0108");

    // A store with a problem: its problems with their JSON paths.
    let r = run(&["eval", RULES, "--store", &p.bad_store, "--format", "json", "-e", "1"]);
    let doc = one_document(&r.stdout, "eval bad store");
    assert_eq!(doc["error"]["kind"], "store");
    assert_eq!(doc["error"]["problems"][0]["path"], "objects[0].entity");
    assert!(r.stderr.is_empty(), "nothing on stderr in JSON mode: {}", r.stderr);

    // A command line the parser refuses: still the command's document, and nothing on stderr.
    let r = run(&["--color", "never", "check", "--format=json"]);
    assert_eq!(r.code, 2);
    let doc = one_document(&r.stdout, "check without paths");
    assert_eq!(doc["error"]["kind"], "usage");
    assert_eq!(doc["error"]["message"], "the following required arguments were not provided: <PATHS>...");
    assert_eq!(doc["error"]["help"], "`warden check --help` lists its arguments and options");
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    // Without a machine format, or with one the command lacks, the parser's own text.
    let r = run(&["check"]);
    assert!(r.stdout.is_empty() && r.stderr.starts_with("error: the following required arguments"), "{}", r.stderr);

    // An unknown principal is a usage error with the users to choose from.
    let r = run(&["eval", RULES, "--store", STORE, "--as", "nobody", "--format", "json", "-e", "1"]);
    let doc = one_document(&r.stdout, "eval nobody");
    assert_eq!(doc["error"]["kind"], "usage");
    assert_eq!(doc["error"]["help"], "the store's users are noor, sam");
}

/// SARIF rules describe their code (from the registry), not the first message.
#[test]
fn sarif_rules_describe_their_code() {
    let dir = scratch("sarif");
    let file = write(
        &dir,
        "two.rules",
        "module M {\n  entity E { A: Integer }\n  module role R\n  access E for R { read B }\n  access E for R { read C where [D = 1] }\n}\n",
    );
    let r = run(&["check", "--format", "sarif", &file]);
    let sarif = one_document(&r.stdout, "check sarif");
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"].as_array().expect("rules");
    assert!(!rules.is_empty());
    for rule in rules {
        let code = rule["id"].as_str().expect("id");
        let entry = warden::codes::describe(code).unwrap_or_else(|| panic!("{code} is registered"));
        assert_eq!(rule["shortDescription"]["text"], entry.summary, "{code}");
        assert!(!rule["shortDescription"]["text"].as_str().unwrap().contains('`') || code == "E0112");
    }
    assert_eq!(rules[0]["shortDescription"]["text"], "A member name resolves to no member of the entity");
}

/// Formats a command does not have are refused by the argument parser.
#[test]
fn formats_a_command_lacks_are_refused() {
    for cmd in ["test", "eval", "explain", "sql", "matrix"] {
        let r = run(&[cmd, RULES, "--format", "sarif"]);
        assert_eq!(r.code, 2, "{cmd}");
        assert!(r.stderr.contains("invalid value 'sarif'"), "{cmd}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn explain_code_describes_a_code() {
    let r = run(&["explain-code", "a011"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("A011 (warning): A process gives a signed-in user role EXECUTE without SELF_ASSIGN"));
    let r = run(&["explain-code", "E105"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("error: warden has no code `E105`; did you mean"), "{}", r.stderr);
    let all = run(&["explain-code"]);
    assert_eq!(all.stdout.lines().count(), warden::codes::CODES.len());
}

// ---- B: messages ----

const CALLS: &str = "module Shop {
  entity Cart { Total: Decimal }
  module role Visitor
  module role Buyer
  module role Manager
  microflow Checkout(Cart: Shop.Cart) allow Buyer { return $Cart/Total }
  microflow Audit() allow Manager { log 'audit' }
  microflow Housekeeping() { log 'clean' }
}
user role Guest: Shop.Visitor
user role Customer: Shop.Buyer
user role Clerk: Shop.Visitor
app Shop {
  access: public
  anonymous: Guest
}
";

const CALLS_STORE: &str = r#"{"format": "warden-store/1", "objects": [
  {"id": 1, "entity": "System.User", "Name": "carl", "UserRoles": ["Clerk"]},
  {"id": 2, "entity": "Shop.Cart", "Total": "5"}
]}"#;

#[test]
fn a_refused_call_says_who_may_call_it() {
    let dir = scratch("calls");
    let rules = write(&dir, "calls.rules", CALLS);
    let store = write(&dir, "calls.store.json", CALLS_STORE);
    let explain = |op: &str| run(&["explain", &rules, "--store", &store, "--as", "carl", op]);

    let r = explain("call Shop.Checkout");
    assert_eq!(r.code, 1, "deny");
    assert_eq!(
        r.stdout,
        "deny: carl call Shop.Checkout\n  because only module role Shop.Buyer may (user role Customer holds it), and carl does not hold it\n"
    );
    // No module role is held by any user role.
    let r = explain("call Shop.Audit");
    assert!(r.stdout.contains("only module role Shop.Manager may (no user role holds it)"), "{}", r.stdout);
    // No `allow` at all.
    let r = explain("call Shop.Housekeeping");
    assert!(r.stdout.contains("because no role may call it (it has no `allow`)"), "{}", r.stdout);
    assert!(!r.stdout.contains("access rules"), "a call is not about entity access: {}", r.stdout);

    // Calling it: the error says so, with an `allow ROLE` help.
    let r = run(&[
        "eval",
        &rules,
        "--store",
        &store,
        "--as",
        "carl",
        "--format",
        "json",
        "-e",
        "call Shop.Checkout(Cart = #2)",
    ]);
    assert_eq!(r.code, 1);
    let doc = one_document(&r.stdout, "eval call");
    assert_eq!(
        doc["error"]["message"],
        "carl may not call Shop.Checkout: only module role Shop.Buyer may (user role Customer holds it), and carl does not hold it"
    );
    assert_eq!(
        doc["error"]["help"],
        "if carl should call it, add one of its module roles to the microflow: `microflow Checkout(...) allow Shop.Visitor`"
    );
    assert_eq!(doc["error"]["code"], "R001");
}

/// A refused request says what the role has and which operation it lacks, or that the
/// resource does not grant the role at all.
#[test]
fn a_refused_request_says_which_operation_is_missing() {
    let request = |who: &str, what: &str| {
        let store = "examples/audit.store.json";
        let r = run(&["eval", RULES, "--store", store, "--as", who, "--format", "json", "-e", what]);
        assert_eq!(r.code, 1, "{}", r.stdout);
        one_document(&r.stdout, what)["error"]["message"].as_str().unwrap().to_string()
    };
    assert_eq!(
        request("pat", "request start process FollowUp"),
        "the request was refused: 403 You don't have access to this feature. \
         (process FollowUp grants Outpatient: VIEW, EXECUTE, not SELF_ASSIGN)"
    );
    assert_eq!(
        request("anonymous", "request start process Underwriting"),
        "the request was refused: 403 You don't have access to this feature. \
         (process Underwriting does not grant the anonymous role Guest)"
    );
}

#[test]
fn explain_reasons_read_as_sentences() {
    let r = run(&["explain", RULES, "--store", STORE, "--as", "anonymous", "write #3/Title"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("because the rule on line 29 matches but grants no write on Title\n"), "{}", r.stdout);
    let r = run(&["explain", RULES, "--store", STORE, "--as", "sam", "write #3/Capacity"]);
    assert!(r.stdout.contains("because the rules on lines 33 and 36 grant write on Capacity"), "{}", r.stdout);
}

#[test]
fn eval_without_statements_says_what_is_missing() {
    let r = run(&["eval", RULES]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: no statements to run: give them with `-e TEXT`, or as a SCRIPT file after the rules' paths\n  help: for example `warden eval shop.rules -e 'count(retrieve Shop.Cart)'`\n"
    );
}

/// An operation, retrieve or statements without their quotes or their `-e`: the error says
/// how to write them.
#[test]
fn arguments_a_newcomer_leaves_unquoted() {
    let r = run(&["explain", RULES, "--store", STORE, "--as", "noor", "read", "#3/Title"]);
    assert_eq!((r.code, r.stderr.as_str()), (2, "error: the operation is one argument; quote it: 'read #3/Title'\n"));
    let r = run(&["sql", RULES, "--as", "noor", "retrieve", "Events.Event"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (2, "error: the retrieve is one argument; quote it: 'retrieve Events.Event'\n")
    );
    let r = run(&["eval", RULES, "count(retrieve Events.Event)"]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: no SCRIPT file `count(retrieve Events.Event)`: statements to run are given with `-e`\n  \
         help: `warden eval PATHS -e 'count(retrieve Events.Event)'`\n"
    );
    // A script that is simply missing is an I/O error as before.
    let r = run(&["eval", RULES, "missing.txt"]);
    assert_eq!((r.code, r.stderr.starts_with("error: cannot read `missing.txt`")), (2, true), "{}", r.stderr);
}

#[test]
fn an_unknown_principal_is_a_wrong_argument() {
    for cmd in [
        &["eval", RULES, "--store", STORE, "--as", "nor", "-e", "1"][..],
        &["explain", RULES, "--store", STORE, "--as", "nor", "read #3"],
    ] {
        let r = run(cmd);
        assert_eq!(r.code, 2, "{cmd:?}");
        assert_eq!(r.stderr, "error: `--as nor`: no user named `nor`; did you mean `noor`?\n", "no snippet");
    }
    let r = run(&["eval", RULES, "--store", STORE, "--as", "zzzzzz", "-e", "1"]);
    assert_eq!(r.stderr, "error: `--as zzzzzz`: no user named `zzzzzz`\n  help: the store's users are noor, sam\n");
}

// ---- D: bad input ----

#[cfg(unix)]
#[test]
fn a_symlink_loop_loads_each_file_once() {
    let dir = scratch("loop");
    std::fs::copy(SINGLE, dir.join("events.rules")).unwrap();
    std::os::unix::fs::symlink(".", dir.join("again")).unwrap();
    std::os::unix::fs::symlink(dir.join("events.rules"), dir.join("same.rules")).unwrap();
    let r = run(&["check", &dir.display().to_string()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "checked 1 file: 0 errors, 0 warnings\n");
    // The same file named twice is one file too.
    assert_eq!(run(&["check", SINGLE, SINGLE]).stderr, "checked 1 file: 0 errors, 0 warnings\n");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_skipped_in_a_directory_and_refused_by_name() {
    let dir = scratch("fifo");
    std::fs::copy(SINGLE, dir.join("events.rules")).unwrap();
    let fifo = dir.join("pipe.rules");
    let made = StdCommand::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo (coreutils) makes the FIFO");
    // Bounded: a hang fails the test instead of blocking it.
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_warden"))
        .args(["check"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("the directory walk hangs on a FIFO");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "checked 1 file: 0 errors, 0 warnings\n");
    let r = run(&["check", &fifo.display().to_string()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not a regular file (it is a FIFO)"), "{}", r.stderr);
}

#[test]
fn a_binary_file_is_one_clear_error() {
    let dir = scratch("binary");
    let mut bytes = b"module M {\x00\x01\x02".to_vec();
    bytes.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(dir.join("data.rules"), &bytes).unwrap();
    let r = run(&["check", "--color", "never", &dir.join("data.rules").display().to_string()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("E0007"), "{}", r.stderr);
    assert!(r.stderr.contains("data.rules` is not a text file: it contains a NUL byte (byte 10)"), "{}", r.stderr);
    assert!(r.stderr.len() < 600, "no dump of the file: {} bytes", r.stderr.len());
    assert!(!r.stderr.contains('\u{fffd}') && !r.stderr.contains('\0'), "{}", r.stderr);
}

#[test]
fn escape_sequences_never_reach_the_terminal() {
    let dir = scratch("escape");
    let file = write(
        &dir,
        "esc.rules",
        "module M {\n  entity E { A: Integer }\n  module role R\n  access E for R { read B } // \x1b[31mred\x1b[0m\n}\ntest 'x\x1b[2Jy' { expect 'a\x1b]0;title\x07' = 'b' }\n",
    );
    let r = run(&["check", "--color", "never", &file]);
    assert!(!r.stderr.contains('\x1b'), "{:?}", r.stderr);
    assert!(r.stderr.contains("// \u{241b}[31mred\u{241b}[0m"), "shown, not obeyed: {}", r.stderr);
    let fixed = file.replace("esc.rules", "esc2.rules");
    std::fs::write(&fixed, std::fs::read_to_string(&file).unwrap().replace("read B", "read A")).unwrap();
    let r = run(&["test", "--color", "never", &fixed]);
    assert_eq!(r.code, 1);
    assert!(!r.stdout.contains('\x1b') && !r.stdout.contains('\x07'), "{:?}", r.stdout);
    assert!(r.stdout.contains("x\u{241b}[2Jy"), "{}", r.stdout);
}

#[test]
fn long_values_are_shortened_in_messages() {
    let dir = scratch("long");
    let big = "x".repeat(2_097_152);
    let file = write(&dir, "long.rules", &format!("test 'long' {{\n  let $s = '{big}'\n  expect $s = 'y'\n}}\n"));
    let r = run(&["test", "--color", "never", &file]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.len() < 4000, "{} bytes", r.stdout.len());
    assert!(r.stdout.contains(&format!("'{}'… (2097152 characters)", "x".repeat(60))), "{}", r.stdout);
    let r = run(&["test", "--format", "json", &file]);
    let doc = one_document(&r.stdout, "long json");
    assert!(doc["tests"][0]["message"].as_str().unwrap().contains("… (2097152 characters)"));
    assert!(r.stdout.len() < 2000);
    // A long line with the span in it: the snippet is cut around the span.
    let file = write(&dir, "long2.rules", &format!("test 'long' {{\n  expect '{big}' = 'y'\n}}\n"));
    let r = run(&["test", "--color", "never", &file]);
    assert!(r.stdout.len() < 4000, "{} bytes", r.stdout.len());
    assert!(r.stdout.contains("…xxxxxxxxxxxxx' = 'y'"), "{}", r.stdout);
    // A store with long values, keys and names: each problem in one short line.
    let rules = write(&dir, "m.rules", "module M {\n  entity E { I: Integer }\n}\n");
    let long = "y".repeat(100_000);
    let store = write(
        &dir,
        "long.store.json",
        &serde_json::json!({"format": "warden-store/1", "objects": [
            {"id": 1, "entity": "M.E", "I": long},
            {"id": 2, "entity": "M.E", long.as_str(): 1},
            {"id": 3, "entity": format!("M.{long}")},
        ]})
        .to_string(),
    );
    let r = run(&["eval", &rules, "--store", &store, "-e", "1"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.len() < 1500, "{} bytes: {}", r.stderr.len(), &r.stderr[..r.stderr.len().min(2000)]);
    assert!(r
        .stderr
        .contains(&format!("objects[0].I: expected a whole number, found \"{}\"… (100000 characters)", &long[..60])));
    assert!(r.stderr.contains("objects[1].yyyy"), "{}", r.stderr);
    let r = run(&["eval", &rules, "--store", &store, "--format", "json", "-e", "1"]);
    assert!(r.stdout.len() < 1500, "{} bytes", r.stdout.len());
    one_document(&r.stdout, "a store with long values");
    // Long arguments are shortened when they are echoed.
    for args in [&["--as", long.as_str()][..], &["--now", long.as_str()]] {
        let mut all = vec!["eval", rules.as_str()];
        all.extend(args);
        all.extend(["-e", "1"]);
        let r = run(&all);
        assert_eq!(r.code, 2);
        assert!(r.stderr.len() < 600 && r.stderr.contains("… (100000 characters)"), "{}", r.stderr);
    }
}

// ---- G: conventions ----

#[test]
fn standard_input_is_a_program() {
    let text = std::fs::read_to_string(SINGLE).unwrap();
    let r = run_with(&["check", "-"], &text);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "checked 1 file: 0 errors, 0 warnings\n");
    let r = run_with(
        &["check", "--color", "never", "-"],
        "module M {\n  entity E { A: Integer }\n  module role R\n  access E for R { read B }\n}\n",
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("[<stdin>:4:25]"), "{}", r.stderr);
    // Tests run; snapshot blocks fail because they need a `.snap` file.
    let blocks = "module M { entity E { A: Integer } }\n\
                  test 'one' { expect 1 = 1 }\n\
                  test 'two' { expect 1 = 2 }\n\
                  snapshot 'three' { retrieve M.E }\n";
    let r = run_with(&["test", "-"], blocks);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("ok     <stdin>:2 one"), "{}", r.stdout);
    assert!(r.stdout.contains("a snapshot needs a `.snap` file beside its rules file"), "{}", r.stdout);
    assert!(r.stdout.ends_with("1 passed, 2 failed\n"), "{}", r.stdout);
    // fmt reads standard input and prints the result.
    let r = run_with(&["fmt", "-"], "module M {\n entity   E { A: Integer }\n}\n");
    assert_eq!((r.code, r.stdout.as_str()), (0, "module M {\n  entity E {\n    A: Integer\n  }\n}\n"));
    // eval reads its statements from standard input.
    let r = run_with(
        &["eval", RULES, "--store", STORE, "-"],
        "count(retrieve Events.Event)\ncount(retrieve Events.Registration)\n",
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, "3\n2\n"), "{}", r.stderr);
    assert_eq!(run_with(&["check", "-", "-"], "").code, 2, "standard input once");
    // The REPL reads its statements from standard input: it cannot read its program there too.
    let r = run_with(&["repl", "-"], &text);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("the REPL reads its statements from standard input"), "{}", r.stderr);
}

#[test]
fn quiet_prints_results_and_errors_only() {
    let dir = scratch("quiet");
    let warn = write(
        &dir,
        "warn.rules",
        "module M {\n  microflow F(AnonymousUser: System.User, SignedInUser: System.User) { }\n}\napp A {\n  sign-in: M.F\n}\n",
    );
    assert!(run(&["check", &warn]).stderr.contains("E0303"), "the file has a warning");
    let r = run(&["check", "-q", &warn]);
    assert_eq!((r.code, r.stderr.as_str(), r.stdout.as_str()), (0, "", ""));
    let r = run(&["check", "--quiet", &paths().bad_rules]);
    assert!(r.stderr.contains("E0108") && !r.stderr.contains("checked 1 file"), "{}", r.stderr);
    // test: failures and the summary only.
    let rules = write(&dir, "t.rules", "test 'good' { expect 1 = 1 }\ntest 'bad' { expect 1 = 2 }\n");
    let r = run(&["test", "-q", "--color", "never", &rules]);
    assert!(!r.stdout.contains("ok "), "{}", r.stdout);
    assert!(r.stdout.contains("FAILED") && r.stdout.ends_with("1 passed, 1 failed\n"), "{}", r.stdout);
    // eval: no log lines.
    let r = run(&["eval", "-q", RULES, "-e", "log 'hello'\n1"]);
    assert_eq!(r.stdout, "1\n");
    assert_eq!(run(&["eval", RULES, "-e", "log 'hello'\n1"]).stdout, "log: hello\n1\n");
    // explain: the decision line only.
    let r = run(&["explain", "-q", RULES, "--store", STORE, "--as", "noor", "read #3/Title"]);
    assert_eq!(r.stdout, "allow: noor read Title of Events.Event #3\n");
    // audit: the findings, no summary line.
    let r = run(&["audit", "-q", RULES]);
    assert!(r.stderr.contains("A003") && !r.stderr.contains("audit: "), "{}", r.stderr);
}

/// A reader that stops early (`warden matrix examples/ | head -1`) ends warden quietly, as
/// it ends `cat`: no panic about a broken pipe.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::os::unix::process::ExitStatusExt;
    for args in [&["matrix", RULES][..], &["man"], &["audit", RULES]] {
        let mut child = StdCommand::new(env!("CARGO_BIN_EXE_warden"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read one line of what the command prints (audit prints on stderr), then close both.
        let mut line = String::new();
        if args[0] == "audit" {
            drop(child.stdout.take());
            BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
        } else {
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        }
        assert!(!line.is_empty(), "{args:?} printed something");
        let status = child.wait().unwrap();
        assert_ne!(status.code(), Some(101), "{args:?} panicked");
        assert!(status.success() || status.signal() == Some(13), "{args:?}: {status:?}");
    }
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let r = run(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}");
        assert!(r.stdout.contains("warden") && r.stdout.contains("explain-code"), "{shell}");
    }
    assert!(run(&["completions", "bash"]).stdout.contains("--format"));
    assert_eq!(run(&["completions", "tcsh"]).code, 2);
}

#[test]
fn the_manual_page_comes_from_the_same_definitions() {
    let r = run(&["man"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains(".TH warden 1"), "{}", &r.stdout[..200]);
    assert!(r.stdout.contains("explain\\-code"), "the commands are listed");
    let r = run(&["man", "explain"]);
    assert!(
        r.stdout.contains(".TH warden\\-explain 1") || r.stdout.contains(".TH warden-explain 1"),
        "{}",
        &r.stdout[..200]
    );
    assert!(r.stdout.contains("4 no decision because evaluating the operation failed"), "the exit statuses are there");
    assert_eq!(run(&["man", "chek"]).code, 2);
}

#[test]
fn fmt_diff_prints_what_would_change() {
    let dir = scratch("diff");
    let file = write(&dir, "f.rules", "module M {\n entity   E { A: Integer }\n}\n");
    let r = run(&["fmt", "--diff", &file]);
    assert_eq!(r.code, 1, "a file would change");
    let expected = format!(
        "--- a/{file}\n+++ b/{file}\n@@ -1,3 +1,5 @@\n module M {{\n- entity   E {{ A: Integer }}\n+  entity E {{\n+    A: Integer\n+  }}\n }}\n"
    );
    assert_eq!(r.stdout, expected);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "module M {\n entity   E { A: Integer }\n}\n",
        "nothing written"
    );
    assert_eq!(run(&["fmt", &file]).code, 0);
    let r = run(&["fmt", "--diff", &file]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    assert_eq!(run(&["fmt", "--diff", "--check", &file]).code, 2, "one of them");
}

#[test]
fn explain_exit_statuses_are_distinct_and_documented() {
    let p = paths();
    let explain = |rules: &str, store: &str, who: &str, op: &str| {
        run(&["explain", rules, "--store", store, "--as", who, op]).code
    };
    assert_eq!(explain(RULES, STORE, "noor", "read #3/Title"), 0, "allow");
    assert_eq!(explain(RULES, STORE, "anonymous", "read #4/Title"), 1, "deny");
    assert_eq!(explain(&p.missing, STORE, "noor", "read #3"), 2, "missing file");
    assert_eq!(explain(RULES, STORE, "nobody", "read #3"), 2, "unknown principal");
    assert_eq!(explain(&p.bad_rules, STORE, "noor", "read #3"), 3, "rules that do not check");
    assert_eq!(explain(RULES, &p.bad_store, "noor", "read #3"), 3, "a store that does not load");
    assert_eq!(explain(RULES, STORE, "noor", "read #3/Nope"), 4, "evaluation error");
    assert_eq!(explain(RULES, STORE, "noor", "read #99"), 4, "an object that does not exist");
    let help = run(&["explain", "--help"]).stdout;
    for line in
        ["0 allow; 1 deny; 2 usage or I/O", "3 no decision because the rules", "4 no decision because evaluating"]
    {
        assert!(help.contains(line), "`{line}` in:\n{help}");
    }
}

/// `test --watch` runs again when a rules file changes: a bounded process test
/// that edits the file, sees the second run, and kills the process.
#[test]
fn test_watch_runs_again_on_a_change() {
    let dir = scratch("watch");
    let file = write(&dir, "w.rules", "test 'one' { expect 1 = 1 }\n");
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_warden"))
        .args(["test", "--watch", "--color", "never"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning warden test --watch");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |rx: &mpsc::Receiver<String>, wanted: &str| -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                let done = line == wanted;
                seen.push(line);
                if done {
                    return seen;
                }
            }
        }
        panic!("no `{wanted}` within 30 s; saw {seen:?}");
    };
    let first = wait_for(&rx, "1 passed, 0 failed");
    assert!(first.contains(&format!("ok     {}:1 one", Path::new(&file).display())), "{first:?}");
    std::thread::sleep(Duration::from_millis(500)); // past the settle time after a run
    let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    f.write_all(b"test 'two' { expect 1 = 2 }\n").unwrap();
    drop(f);
    let second = wait_for(&rx, "1 passed, 1 failed");
    assert!(second.iter().any(|l| l.starts_with("FAILED") && l.ends_with(" two")), "{second:?}");
    child.kill().unwrap();
    let _ = child.wait();
}

/// `warden lsp`: its help says what it serves and its exit statuses, which are as documented
/// (0 after `shutdown` and `exit`, 1 when the input ends or `exit` comes alone); it takes no
/// paths and no `--format` (usage, exit 2); and it writes nothing but frames on stdout.
#[test]
fn lsp_exit_statuses_and_help() {
    let help = run(&["lsp", "--help"]);
    assert_eq!(help.code, 0);
    for line in
        ["Language Server Protocol", "docs/editors.md", "0 after `shutdown` and `exit`", "1 when the input ends"]
    {
        assert!(help.stdout.contains(line), "`{line}` in:\n{}", help.stdout);
    }
    let frame = |body: &str| format!("Content-Length: {}\r\n\r\n{body}", body.len());
    let shutdown = frame(r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#);
    let exit = frame(r#"{"jsonrpc":"2.0","method":"exit"}"#);
    let r = run_with(&["lsp"], &format!("{shutdown}{exit}"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, frame(r#"{"jsonrpc":"2.0","id":1,"result":null}"#));
    assert_eq!(run_with(&["lsp"], &exit).code, 1, "exit without shutdown");
    assert_eq!(run_with(&["lsp"], "").code, 1, "the input ends");
    assert_eq!(run_with(&["lsp"], &shutdown).code, 0, "the input ends after shutdown");
    let r = run(&["lsp", RULES]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty() && r.stderr.contains("unexpected argument"), "{}", r.stderr);
    assert_eq!(run(&["lsp", "--format", "json"]).code, 2);
}

/// `warden repl` takes a PostgreSQL store in a schema of its choice, as `eval` does.
#[test]
fn repl_help_names_the_postgres_schema() {
    let help = run(&["repl", "--help"]).stdout;
    for line in ["--store", "PostgreSQL URL", "--pg-schema"] {
        assert!(help.contains(line), "`{line}` in:\n{help}");
    }
}

/// `warden serve`: its help says what it does and how it exits; wrong arguments exit 2, rules
/// that do not check exit 1, and an address in use exits 2, each before anything listens.
#[test]
fn serve_help_and_exit_statuses() {
    let help = run(&["serve", "--help"]).stdout;
    for line in [
        "Serve the FlowX anonymous runtime over HTTP",
        "Exit status: 0 when stopped",
        "--bind",
        "--allow-origin",
        "--token-ttl",
        "--max-upload",
        "--watch",
        "--decision-log",
        "--inspector-token",
        "--session-ttl",
        "--persist",
        "--pg-schema",
    ] {
        assert!(help.contains(line), "`{line}` in:\n{help}");
    }
    let p = paths();
    assert_eq!(run(&["serve"]).code, 2, "no paths");
    assert_eq!(run(&["serve", RULES, "--bind", "localhost"]).code, 2, "an address without a port");
    assert_eq!(run(&["serve", RULES, "--format", "json"]).code, 2, "serve has no --format");
    assert_eq!(run(&["serve", &p.missing]).code, 2, "a missing file");
    assert_eq!(run(&["serve", RULES, "--session-ttl", "soon"]).code, 2, "a time to live that is no duration");
    assert_eq!(run(&["serve", RULES, "--session-ttl", "0s"]).code, 2, "a time to live of nothing");
    assert_eq!(run(&["serve", RULES, "--persist", "--bind", "127.0.0.1:0"]).code, 2, "--persist with no store");
    assert_eq!(run(&["serve", &p.bad_rules, "--bind", "127.0.0.1:0"]).code, 1, "rules that do not check");
    assert_eq!(run(&["serve", RULES, "--store", &p.bad_store, "--bind", "127.0.0.1:0"]).code, 1, "a bad store");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let r = run(&["serve", RULES, "--bind", &addr]);
    assert_eq!(r.code, 2, "an address in use: {}", r.stderr);
    assert!(r.stderr.contains("cannot listen on"), "{}", r.stderr);
}
