//! `warden lsp` driven over its standard input and output by a small scripted client:
//! JSON-RPC frames in, frames out, over a workspace of several files written into a scratch
//! directory. The frames each step receives are snapshotted (insta) with the scratch
//! directory written `WORKSPACE`; request ids are the client's own sequence, so they are
//! stable.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

const SHOP: &str = "module Shop {
  entity Cart {
    stores owner
    Total: Decimal = 0
    Note: String
  }
  module role Buyer
  access Cart for Buyer {
    create
    read Total
    where [System.owner = '[%CurrentUser%]']
  }
}
";

const ROLES: &str = "user role Customer: Shop.Buyer\n";

const TESTS: &str = "test 'a cart keeps its total' {
  let $c = create Shop.Cart { Total = 5 }
  expect $c/Total = 5
}
";

/// How long the client waits for one frame before it calls the server stuck.
const PATIENCE: Duration = Duration::from_secs(60);

struct Client {
    child: Child,
    stdin: ChildStdin,
    frames: mpsc::Receiver<Value>,
    next_id: i64,
    root: PathBuf,
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-lsp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

/// Reads frames (`Content-Length` headers, then the body) until the stream ends.
fn read_frames(stdout: impl Read + Send + 'static, tx: mpsc::Sender<Value>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("a header line");
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>().expect("a length"));
            }
        }
        let mut body = vec![0; length.expect("Content-Length")];
        reader.read_exact(&mut body).expect("the body");
        if tx.send(serde_json::from_slice(&body).expect("a JSON body")).is_err() {
            return;
        }
    }
}

impl Client {
    fn start(root: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("warden lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, frames) = mpsc::channel();
        std::thread::spawn(move || read_frames(stdout, tx));
        Client { child, stdin, frames, next_id: 0, root: root.to_path_buf() }
    }

    fn uri(&self, name: &str) -> String {
        format!("file://{}/{name}", self.root.display())
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).unwrap();
        self.stdin.flush().unwrap();
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        self.send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    fn next(&self) -> Value {
        self.frames.recv_timeout(PATIENCE).expect("a frame from the server")
    }

    /// Sends a request; returns every frame received up to and including its response.
    fn request(&mut self, method: &str, params: Value) -> Vec<Value> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let mut out = Vec::new();
        loop {
            let frame = self.next();
            let done = frame.get("id") == Some(&json!(id));
            out.push(frame);
            if done {
                return out;
            }
        }
    }

    /// The result of a request (the last frame's).
    fn result(&mut self, method: &str, params: Value) -> Value {
        let frames = self.request(method, params);
        let last = frames.last().unwrap();
        assert!(last.get("error").is_none(), "{method} failed: {last}");
        last["result"].clone()
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The diagnostics published for every file after a notification: one frame per file.
    fn published(&mut self, files: usize) -> Vec<Value> {
        (0..files).map(|_| self.next()).collect()
    }

    /// Frames as text with the scratch directory written `WORKSPACE`.
    fn stable(&self, frames: &[Value]) -> String {
        let text = serde_json::to_string_pretty(frames).unwrap();
        text.replace(&format!("file://{}", self.root.display()), "file:///WORKSPACE")
    }

    fn position(&self, text: &str, needle: &str, nth: usize) -> Value {
        let offset = text.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("`{needle}` in the text")).0;
        let line = text[..offset].matches('\n').count();
        let column = offset - text[..offset].rfind('\n').map_or(0, |n| n + 1);
        json!({"line": line, "character": column})
    }
}

/// Applies text edits (ASCII text: columns are bytes) to a text.
fn apply(text: &str, edits: &[Value]) -> String {
    let lines: Vec<usize> = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let offset = |p: &Value| {
        let line = p["line"].as_u64().unwrap() as usize;
        let start = lines.get(line).copied().unwrap_or(text.len());
        (start + p["character"].as_u64().unwrap() as usize).min(text.len())
    };
    let mut edits: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| (offset(&e["range"]["start"]), offset(&e["range"]["end"]), e["newText"].as_str().unwrap().to_string()))
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, new) in edits {
        out.replace_range(start..end, &new);
    }
    out
}

fn workspace(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("shop.rules"), SHOP).unwrap();
    std::fs::write(dir.join("roles.rules"), ROLES).unwrap();
    std::fs::write(dir.join("tests.rules"), TESTS).unwrap();
    dir
}

fn initialize(client: &mut Client) -> Vec<Value> {
    let root = format!("file://{}", client.root.display());
    let mut frames = client.request("initialize", json!({"processId": null, "rootUri": root, "capabilities": {}}));
    client.notify("initialized", json!({}));
    // The three files' diagnostics follow the response.
    frames.extend(client.published(3));
    frames
}

/// The whole session the issue describes, step by step.
#[test]
fn a_session_from_initialize_to_shutdown() {
    let root = workspace("session");
    let mut c = Client::start(&root);
    let tests_uri = c.uri("tests.rules");
    let shop_uri = c.uri("shop.rules");

    // Initialize: the capabilities, then every file's diagnostics (none: the program checks).
    let frames = initialize(&mut c);
    assert_eq!(frames[0]["result"]["serverInfo"]["name"], "warden");
    insta::assert_snapshot!("initialize", c.stable(&frames));

    // Open the tests file and make a typo: the diagnostic is at the typo, with its code, a link
    // to its explanation and the did-you-mean help.
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": tests_uri, "languageId": "rules", "version": 1, "text": TESTS}}),
    );
    c.published(3);
    let typo = TESTS.replace("expect $c/Total", "expect $c/Totl");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": tests_uri, "version": 2}, "contentChanges": [{"text": typo}]}),
    );
    let frames = c.published(3);
    let tests_diags = frames.iter().find(|f| f["params"]["uri"] == tests_uri.as_str()).unwrap();
    let diag = &tests_diags["params"]["diagnostics"][0];
    assert_eq!(diag["range"]["start"], c.position(&typo, "Totl", 0));
    assert_eq!(diag["range"]["end"]["character"], c.position(&typo, "Totl", 0)["character"].as_u64().unwrap() + 4);
    insta::assert_snapshot!("typo_diagnostics", c.stable(&frames));

    // The quick fix from its help: applying it makes the diagnostic disappear.
    let actions = c.result(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": tests_uri}, "range": diag["range"], "context": {"diagnostics": [diag]}}),
    );
    insta::assert_snapshot!("quick_fix", c.stable(std::slice::from_ref(&actions)));
    let edits = actions[0]["edit"]["changes"][&tests_uri].as_array().unwrap().clone();
    let fixed = apply(&typo, &edits);
    assert_eq!(fixed, TESTS);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": tests_uri, "version": 3}, "contentChanges": [{"text": fixed}]}),
    );
    let frames = c.published(3);
    assert!(frames.iter().all(|f| f["params"]["diagnostics"] == json!([])), "{frames:?}");

    // Hover over the entity: its members and the matrix row of each user role.
    let hover = c.result(
        "textDocument/hover",
        json!({"textDocument": {"uri": tests_uri}, "position": c.position(TESTS, "Shop.Cart", 0)}),
    );
    let shown = hover["contents"]["value"].as_str().unwrap();
    assert!(shown.contains("Total: Decimal = 0") && shown.contains("| Customer | yes |"), "{shown}");
    insta::assert_snapshot!("hover_entity", shown);
    // A member: its type and who may read or write it.
    let hover = c.result(
        "textDocument/hover",
        json!({"textDocument": {"uri": tests_uri}, "position": c.position(TESTS, "Total", 1)}),
    );
    insta::assert_snapshot!("hover_member", hover["contents"]["value"].as_str().unwrap());

    // Definition across files: `Total` in the test is declared in shop.rules.
    let definition = c.result(
        "textDocument/definition",
        json!({"textDocument": {"uri": tests_uri}, "position": c.position(TESTS, "Total", 1)}),
    );
    assert_eq!(definition["uri"], shop_uri.as_str());
    assert_eq!(definition["range"]["start"], c.position(SHOP, "Total", 0));
    // References of the entity, across the three files.
    let references = c.result(
        "textDocument/references",
        json!({"textDocument": {"uri": shop_uri}, "position": c.position(SHOP, "Cart", 0), "context": {"includeDeclaration": true}}),
    );
    insta::assert_snapshot!("references_entity", c.stable(&[references]));

    // Completion after `$c/`: exactly the members of `$c`'s entity.
    let completion = c.result(
        "textDocument/completion",
        json!({"textDocument": {"uri": tests_uri}, "position": c.position(TESTS, "Total = 5\n", 0)}),
    );
    let labels: Vec<&str> = completion.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["Note", "System.owner", "Total"]);

    // Formatting: the edits turn the text into `warden fmt`'s.
    let messy = SHOP.replace("  entity Cart {", "entity    Cart{").replace("read Total", "read   Total");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": shop_uri, "languageId": "rules", "version": 1, "text": messy}}),
    );
    c.published(3);
    let edits = c.result(
        "textDocument/formatting",
        json!({"textDocument": {"uri": shop_uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    insta::assert_snapshot!("formatting", c.stable(std::slice::from_ref(&edits)));
    assert_eq!(apply(&messy, edits.as_array().unwrap()), SHOP);
    // Range formatting: only the changes on the lines asked for.
    let line = c.position(&messy, "read   Total", 0)["line"].clone();
    let range = json!({"start": {"line": line, "character": 0}, "end": {"line": line, "character": 4}});
    let edits = c.result(
        "textDocument/rangeFormatting",
        json!({"textDocument": {"uri": shop_uri}, "range": range, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(apply(&messy, edits.as_array().unwrap()), messy.replace("read   Total", "read Total"));
    // A file with a syntax error is not formatted: the request fails and says why.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": shop_uri, "version": 2}, "contentChanges": [{"text": "module {"}]}),
    );
    c.published(3);
    let refused = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": shop_uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(refused[0]["error"]["code"], -32803, "{refused:?}");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": shop_uri, "version": 3}, "contentChanges": [{"text": SHOP}]}),
    );
    c.published(3);

    // The test's code lens runs it: it passes; after an edit that breaks it, it fails, and the
    // failure is shown at the failing statement.
    let lenses = c.result("textDocument/codeLens", json!({"textDocument": {"uri": tests_uri}}));
    assert_eq!(lenses[0]["command"]["title"], "▶ run");
    let command = lenses[0]["command"].clone();
    let run = c
        .request("workspace/executeCommand", json!({"command": command["command"], "arguments": command["arguments"]}));
    assert_eq!(run[0]["result"]["outcome"], "passed");
    c.published(3);
    let lenses = c.result("textDocument/codeLens", json!({"textDocument": {"uri": tests_uri}}));
    assert_eq!(lenses[0]["command"]["title"], "✓ passed · run again");
    let broken = TESTS.replace("expect $c/Total = 5", "expect $c/Total = 6");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": tests_uri, "version": 4}, "contentChanges": [{"text": broken}]}),
    );
    c.published(3);
    let mut run = c
        .request("workspace/executeCommand", json!({"command": command["command"], "arguments": command["arguments"]}));
    assert_eq!(run[0]["result"]["outcome"], "failed");
    run.extend(c.published(3));
    insta::assert_snapshot!("test_fails", c.stable(&run));
    let lenses = c.result("textDocument/codeLens", json!({"textDocument": {"uri": tests_uri}}));
    assert!(lenses[0]["command"]["title"].as_str().unwrap().starts_with("✗ failed"), "{lenses}");

    // Shutdown, then exit: status 0.
    assert_eq!(c.result("shutdown", Value::Null), Value::Null);
    c.notify("exit", Value::Null);
    assert_eq!(c.child.wait().unwrap().code(), Some(0));
}

/// A frame that is not JSON, a header without a length, a message that is not JSON-RPC and a
/// method the server does not know: each is answered with its error and the server goes on.
#[test]
fn bad_frames_and_unknown_methods_are_answered_and_the_server_goes_on() {
    let root = workspace("bad-frames");
    let mut c = Client::start(&root);
    initialize(&mut c);
    let mut answers = Vec::new();
    c.send_raw(b"Content-Length: 9\r\n\r\n{not json");
    answers.push(c.next());
    c.send_raw(b"Content-Type: text/plain\r\n\r\n");
    answers.push(c.next());
    c.send(&json!([1, 2, 3]));
    answers.push(c.next());
    c.send(&json!({"jsonrpc": "2.0", "id": 41, "result": "no method"}));
    answers.extend(c.request("warden/noSuchMethod", json!({})));
    answers.extend(c.request("textDocument/hover", json!({"textDocument": 7})));
    insta::assert_snapshot!("bad_frames", c.stable(&answers));
    assert_eq!(answers[0]["error"]["code"], -32700);
    assert_eq!(answers[1]["error"]["code"], -32700);
    assert_eq!(answers[2]["error"]["code"], -32600);
    assert_eq!(answers[3]["error"]["code"], -32601);
    assert_eq!(answers[4]["error"]["code"], -32602);
    // Still serving.
    let tests_uri = c.uri("tests.rules");
    let hover = c.result(
        "textDocument/hover",
        json!({"textDocument": {"uri": tests_uri}, "position": c.position(TESTS, "$c", 1)}),
    );
    assert!(hover["contents"]["value"].as_str().unwrap().contains("object of `Shop.Cart`"), "{hover}");
    // `exit` without `shutdown`: status 1.
    c.notify("exit", Value::Null);
    assert_eq!(c.child.wait().unwrap().code(), Some(1));
}

/// Copies the examples (rules, stores and snapshot files) into a scratch directory.
fn examples(name: &str) -> PathBuf {
    let dir = scratch(name);
    for entry in std::fs::read_dir("examples").unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

/// Every `.rules` file of the examples, as the server publishes them.
const EXAMPLE_FILES: usize = 5;

fn hover_at(c: &mut Client, file: &str, text: &str, needle: &str, nth: usize) -> String {
    let uri = c.uri(file);
    let hover = c
        .result("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": c.position(text, needle, nth)}));
    hover["contents"]["value"].as_str().unwrap_or_else(|| panic!("a hover at `{needle}`: {hover}")).to_string()
}

fn completion_labels(c: &mut Client, file: &str, text: &str) -> Vec<String> {
    let uri = c.uri(file);
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "rules", "version": 1, "text": text}}),
    );
    c.published(EXAMPLE_FILES + 1);
    let end = c.position(text, "\u{0}", 0);
    let result = c.result("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": end}));
    c.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}));
    // Its diagnostics are cleared, and the others published again.
    c.published(EXAMPLE_FILES + 1);
    result.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap().to_string()).collect()
}

/// The examples as a workspace: the audit's findings, hover, definition and references across
/// files, completion by context, symbols, folding, rename (and its refusals).
#[test]
fn the_examples_in_an_editor() {
    let root = examples("examples");
    let mut c = Client::start(&root);
    let init = format!("file://{}", root.display());
    c.request("initialize", json!({"processId": null, "rootUri": init, "capabilities": {}}));
    let published = c.published(EXAMPLE_FILES);
    // The audit's findings, as warnings and information, in audit.rules only.
    let mut findings = Vec::new();
    for frame in &published {
        let file = frame["params"]["uri"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
        for d in frame["params"]["diagnostics"].as_array().unwrap() {
            findings.push(format!(
                "{file}:{} {} {}",
                d["range"]["start"]["line"],
                d["code"].as_str().unwrap(),
                d["severity"]
            ));
        }
    }
    assert!(findings.iter().all(|f| f.starts_with("audit.rules:")), "{findings:?}");
    // A001 points at the user role's module role, and at the user role as related information.
    let audit = published.iter().find(|f| f["params"]["uri"].as_str().unwrap().ends_with("/audit.rules")).unwrap();
    let a001 = audit["params"]["diagnostics"].as_array().unwrap().iter().find(|d| d["code"] == "A001").unwrap();
    assert_eq!(a001["relatedInformation"][0]["message"], "declared here", "{a001}");
    assert_eq!(a001["codeDescription"]["href"], "warden-explain-code:A001");
    let explained = c.result("warden/explainCode", json!({"code": "a001"}));
    assert!(explained.as_str().unwrap().starts_with("A001 (warning): "), "{explained}");
    insta::assert_snapshot!("examples_findings", findings.join("\n"));

    let shop = std::fs::read_to_string(root.join("shop.rules")).unwrap();
    let app = std::fs::read_to_string(root.join("app.rules")).unwrap();
    // A microflow: its signature and who may call it.
    let checkout = hover_at(&mut c, "shop.rules", &shop, "Checkout(", 0);
    assert!(checkout.contains("microflow Checkout(Cart: Shop.Cart) allow Buyer apply entity access"), "{checkout}");
    assert!(checkout.contains("may be called by: Shop.Buyer"), "{checkout}");
    // A user role: its module roles and rules; a module role: who holds it.
    let customer = hover_at(&mut c, "app.rules", &app, "Customer", 0);
    assert!(customer.contains("module roles: Shop.Buyer, Quotes.Client"), "{customer}");
    assert!(customer.contains("- `access Cart for Visitor, Buyer`"), "{customer}");
    let buyer = hover_at(&mut c, "shop.rules", &shop, "Buyer", 0);
    assert!(buyer.contains("held by the user roles: Customer, ShopManager"), "{buyer}");
    // A token: its meaning.
    let token = hover_at(&mut c, "shop.rules", &shop, "[%CurrentUser%]", 0);
    assert!(token.contains("the user the session acts as"), "{token}");
    insta::assert_snapshot!("examples_hover_entity", hover_at(&mut c, "shop.rules", &shop, "Cart {", 0));

    // Definitions across files and kinds.
    let definition = |c: &mut Client, file: &str, text: &str, needle: &str, nth: usize| {
        let uri = c.uri(file);
        let d = c.result(
            "textDocument/definition",
            json!({"textDocument": {"uri": uri}, "position": c.position(text, needle, nth)}),
        );
        let target = d["uri"]
            .as_str()
            .unwrap_or_else(|| panic!("a definition of `{needle}`: {d}"))
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        format!("{needle} -> {target}:{}:{}", d["range"]["start"]["line"], d["range"]["start"]["character"])
    };
    let found = [
        definition(&mut c, "app.rules", &app, "Portal.HandOver", 0),
        definition(&mut c, "app.rules", &app, "Shop.TransferCart", 0),
        definition(&mut c, "app.rules", &app, "Shop.Buyer", 0),
        definition(&mut c, "shop.rules", &shop, "Shop.CartStatus.Open", 0),
        definition(&mut c, "shop.rules", &shop, "$Cart", 0),
        definition(&mut c, "shop.rules", &shop, "$line/Quantity", 0),
        definition(&mut c, "shop.rules", &shop, "Quantity *", 0),
        definition(&mut c, "shop.rules", &shop, "Shop.CartLine_Cart/", 0),
        definition(&mut c, "shop.rules", &shop, "CartStatus = Open", 0),
        definition(&mut c, "shop.rules", &shop, "Visitor, Buyer", 0),
    ];
    insta::assert_snapshot!("examples_definitions", found.join("\n"));

    // References of a module role, across files.
    let uri = c.uri("shop.rules");
    let refs = c.result(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": c.position(&shop, "Buyer\n  module role Manager", 0), "context": {"includeDeclaration": false}}),
    );
    let places: Vec<String> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| format!("{}:{}", l["uri"].as_str().unwrap().rsplit('/').next().unwrap(), l["range"]["start"]["line"]))
        .collect();
    insta::assert_snapshot!("examples_references_buyer", places.join("\n"));

    // Completion by context (`\0` marks where it is asked).
    let tokens = completion_labels(
        &mut c,
        "new.rules",
        "module N {\n  entity E { A: String }\n  access E for Shop.Buyer {\n    read A\n    where [A = '[%Cur\u{0}",
    );
    assert_eq!(tokens, ["CurrentDateTime", "CurrentObject", "CurrentUser"]);
    let roles = completion_labels(&mut c, "new.rules", "module N {\n  entity E { A: String }\n  access E for Vis\u{0}");
    assert_eq!(roles, ["Visitor"]);
    let operations = completion_labels(&mut c, "new.rules", "process P {\n  roles {\n    Guest: VIEW, \u{0}");
    assert_eq!(operations, ["ASSIGN", "EXECUTE", "HOLD", "SELF_ASSIGN", "UNASSIGN", "UNHOLD", "VIEW"]);
    let user_roles = completion_labels(&mut c, "new.rules", "process P {\n  roles {\n    Cus\u{0}");
    assert_eq!(user_roles, ["Customer"]);
    let entities = completion_labels(&mut c, "new.rules", "test 't' {\n  let $x = retrieve Shop.C\u{0}");
    assert_eq!(entities, ["Shop.Cart", "Shop.CartLine"]);
    let top = completion_labels(&mut c, "new.rules", "mod\u{0}");
    assert_eq!(top, ["module"]);
    let in_module = completion_labels(&mut c, "new.rules", "module N {\n  \u{0}");
    assert_eq!(
        in_module,
        ["access", "association", "entity", "enumeration", "microflow", "module role", "non-persistent entity"]
    );
    let in_rule = completion_labels(
        &mut c,
        "new.rules",
        "module N {\n  entity E { A: String }\n  access E for Shop.Buyer {\n    wr\u{0}",
    );
    assert_eq!(in_rule, ["write"]);
    let types = completion_labels(&mut c, "new.rules", "module N {\n  entity E {\n    A: Dec\u{0}");
    assert_eq!(types, ["Decimal"]);
    // A path in a microflow: the members of the entity its association reaches.
    let path = completion_labels(
        &mut c,
        "new.rules",
        "module N {\n  microflow F(L: Shop.CartLine) {\n    let $p = $L/Shop.CartLine_Product/\u{0}",
    );
    assert_eq!(path, ["Cost", "InStock", "Name", "Price"]);

    // Symbols and folding of shop.rules.
    let symbols = c.result("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}));
    fn outline(symbols: &Value, depth: usize, out: &mut String) {
        for s in symbols.as_array().into_iter().flatten() {
            out.push_str(&format!(
                "{}{} ({}) {}\n",
                "  ".repeat(depth),
                s["name"].as_str().unwrap(),
                s["kind"],
                s["range"]["start"]["line"]
            ));
            outline(&s["children"], depth + 1, out);
        }
    }
    let mut text = String::new();
    outline(&symbols, 0, &mut text);
    insta::assert_snapshot!("examples_symbols", text);
    let folds = c.result("textDocument/foldingRange", json!({"textDocument": {"uri": uri}}));
    let folds: Vec<String> =
        folds.as_array().unwrap().iter().map(|f| format!("{}-{}", f["startLine"], f["endLine"])).collect();
    assert!(folds.contains(&"4-119".to_string()) || folds.iter().any(|f| f.starts_with("4-")), "{folds:?}");
    assert!(folds.contains(&"14-17".to_string()), "the entity Cart: {folds:?}");

    // Rename: a microflow across files; a variable in its body; refused for a name a store
    // file holds, for a taken name, and for what is not a name.
    let rename = |c: &mut Client, needle: &str, nth: usize, to: &str| {
        let position = c.position(&shop, needle, nth);
        c.request(
            "textDocument/rename",
            json!({"textDocument": {"uri": c.uri("shop.rules")}, "position": position, "newName": to}),
        )
        .pop()
        .unwrap()
    };
    let edit = rename(&mut c, "TransferCart(", 0, "MoveCart");
    let mut changed: Vec<String> = Vec::new();
    for (file, edits) in edit["result"]["changes"].as_object().unwrap() {
        for e in edits.as_array().unwrap() {
            changed.push(format!(
                "{}:{} {}",
                file.rsplit('/').next().unwrap(),
                e["range"]["start"]["line"],
                e["newText"]
            ));
        }
    }
    changed.sort();
    assert_eq!(changed, ["app.rules:11 \"MoveCart\"", "shop.rules:90 \"MoveCart\""]);
    let edit = rename(&mut c, "$total", 0, "sum");
    let edits = edit["result"]["changes"][&uri].as_array().unwrap();
    assert_eq!(edits.len(), 6);
    assert!(edits.iter().all(|e| e["newText"] == "$sum"));
    let refused = rename(&mut c, "Quantity", 0, "Count");
    assert_eq!(refused["error"]["code"], -32803);
    insta::assert_snapshot!("examples_rename_refused", refused["error"]["message"].as_str().unwrap());
    let taken = rename(&mut c, "Wishlist {", 0, "Product");
    assert_eq!(taken["error"]["message"], "`Shop.Product` is declared already");
    let not_a_name = rename(&mut c, "Wishlist {", 0, "a b");
    assert!(not_a_name["error"]["message"].as_str().unwrap().contains("is not a name"), "{not_a_name}");
}

/// Quick fixes from help lines: `true` -> `true()`, `->>` -> `->*`, the audit's `where`; and a
/// syntax error in one file leaves the others' names known.
#[test]
fn quick_fixes_and_syntax_errors() {
    let root = workspace("fixes");
    let mut c = Client::start(&root);
    initialize(&mut c);
    let shop_uri = c.uri("shop.rules");
    let fix = |c: &mut Client, text: &str| -> (Value, String) {
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": c.uri("shop.rules"), "version": 9}, "contentChanges": [{"text": text}]}),
        );
        let frames = c.published(3);
        let diags = frames.iter().find(|f| f["params"]["uri"] == c.uri("shop.rules").as_str()).unwrap()["params"]
            ["diagnostics"]
            .clone();
        let d = diags.as_array().unwrap().first().unwrap_or_else(|| panic!("a diagnostic for:\n{text}")).clone();
        let actions = c.result(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": c.uri("shop.rules")}, "range": d["range"], "context": {"diagnostics": [d]}}),
        );
        let action = &actions[0];
        let edits = action["edit"]["changes"][&c.uri("shop.rules")]
            .as_array()
            .unwrap_or_else(|| panic!("a fix for {d}"))
            .clone();
        (d, apply(text, &edits))
    };
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": shop_uri, "languageId": "rules", "version": 1, "text": SHOP}}),
    );
    c.published(3);
    // A lone Boolean attribute as a constraint.
    let with_flag = SHOP.replace("    Note: String\n", "    Note: String\n    Open: Boolean\n");
    let lone = with_flag.replace("where [System.owner = '[%CurrentUser%]']", "where [Open]");
    let (d, fixed) = fix(&mut c, &lone);
    assert_eq!(fixed, with_flag.replace("where [System.owner = '[%CurrentUser%]']", "where [Open = true()]"), "{d}");
    // `->>` for a reference set.
    let assoc = SHOP.replace(
        "  module role Buyer\n",
        "  entity Tag { Name: String }\n  association Cart_Tag: Cart ->> Tag\n  module role Buyer\n",
    );
    let (_, fixed) = fix(&mut c, &assoc);
    assert!(fixed.contains("association Cart_Tag: Cart ->* Tag\n"), "{fixed}");
    // The audit's suggested `where` for an anonymous role's unconstrained delete.
    let anonymous = format!(
        "{}app A {{\n  access: public\n  anonymous: Guest\n}}\nuser role Guest: Shop.Buyer\n",
        SHOP.replace(
            "    create\n    read Total\n    where [System.owner = '[%CurrentUser%]']\n",
            "    create\n    delete\n"
        )
    );
    std::fs::write(root.join("roles.rules"), "").unwrap();
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": c.uri("roles.rules"), "languageId": "rules", "version": 1, "text": ""}}),
    );
    c.published(3);
    let (d, fixed) = fix(&mut c, &anonymous);
    assert_eq!(d["code"], "A004", "{d}");
    assert!(fixed.contains("    delete\n    where [System.owner = '[%CurrentUser%]']\n  }"), "{fixed}");
    // A syntax error: reported in its file; the other files still see its names.
    let broken = SHOP.replace("Total: Decimal = 0", "Total: Decimal = ");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": shop_uri, "version": 20}, "contentChanges": [{"text": broken}]}),
    );
    let frames = c.published(3);
    let codes: Vec<String> =
        frames
            .iter()
            .flat_map(|f| {
                f["params"]["diagnostics"].as_array().unwrap().iter().map(|d| {
                    format!("{} {}", f["params"]["uri"].as_str().unwrap().rsplit('/').next().unwrap(), d["code"])
                })
            })
            .collect();
    assert_eq!(codes.len(), 1, "{codes:?}");
    assert!(codes[0].starts_with("shop.rules \"E000"), "{codes:?}");
}

/// A snapshot block's lenses: `run` records its text (a `.snap.new` beside the file when it is
/// new or changed), `accept` appears while that file is there and takes it in, and the next run
/// passes.
#[test]
fn a_snapshot_lens_runs_and_accepts() {
    let root = workspace("snapshot");
    std::fs::write(root.join("tests.rules"), format!("{TESTS}snapshot 'the matrix' {{\n  matrix\n}}\n")).unwrap();
    let mut c = Client::start(&root);
    initialize(&mut c);
    let uri = c.uri("tests.rules");
    let lenses = |c: &mut Client| -> Vec<String> {
        let result = c.result("textDocument/codeLens", json!({"textDocument": {"uri": c.uri("tests.rules")}}));
        result
            .as_array()
            .unwrap()
            .iter()
            .map(|l| format!("{} {}", l["range"]["start"]["line"], l["command"]["title"].as_str().unwrap()))
            .collect()
    };
    assert_eq!(lenses(&mut c), ["0 ▶ run", "4 ▶ run"]);
    let run = |c: &mut Client, command: &str| {
        let frames =
            c.request("workspace/executeCommand", json!({"command": command, "arguments": [uri, "the matrix"]}));
        c.published(3);
        frames[0]["result"]["outcome"].as_str().unwrap().to_string()
    };
    assert_eq!(run(&mut c, "warden.run"), "new");
    assert!(root.join("tests.rules.snap.new").exists());
    assert_eq!(lenses(&mut c), ["0 ▶ run", "4 ✗ new: no stored snapshot yet · run again", "4 accept"]);
    assert_eq!(run(&mut c, "warden.accept"), "passed");
    assert!(!root.join("tests.rules.snap.new").exists());
    assert!(std::fs::read_to_string(root.join("tests.rules.snap")).unwrap().contains("Customer"));
    assert_eq!(run(&mut c, "warden.run"), "passed");
    assert_eq!(lenses(&mut c), ["0 ▶ run", "4 ✓ passed · run again"]);
}

/// Files created, changed and deleted on disk (`workspace/didChangeWatchedFiles`) join and
/// leave the workspace.
#[test]
fn files_on_disk_join_and_leave_the_workspace() {
    let root = workspace("watched");
    let mut c = Client::start(&root);
    initialize(&mut c);
    std::fs::write(root.join("extra.rules"), "test 'x' {\n  let $c = create Shop.Crat\n}\n").unwrap();
    let extra = c.uri("extra.rules");
    c.notify("workspace/didChangeWatchedFiles", json!({"changes": [{"uri": extra, "type": 1}]}));
    let frames = c.published(4);
    let diags = &frames.iter().find(|f| f["params"]["uri"] == extra.as_str()).unwrap()["params"]["diagnostics"];
    assert_eq!(diags[0]["message"], "unknown entity `Shop.Crat`\nhelp: did you mean `Shop.Cart`?", "{diags}");
    std::fs::remove_file(root.join("extra.rules")).unwrap();
    c.notify("workspace/didChangeWatchedFiles", json!({"changes": [{"uri": extra, "type": 3}]}));
    let frames = c.published(4);
    assert_eq!(frames[3]["params"]["uri"], extra.as_str());
    assert!(frames.iter().all(|f| f["params"]["diagnostics"] == json!([])), "{frames:?}");
}

/// Every request at every sixth position of a file of the examples (and past its end) is
/// answered without an internal error.
#[test]
fn every_position_is_answered() {
    let root = examples("positions");
    let mut c = Client::start(&root);
    let init = format!("file://{}", root.display());
    c.request("initialize", json!({"processId": null, "rootUri": init, "capabilities": {}}));
    c.published(EXAMPLE_FILES);
    let uri = c.uri("shop.rules");
    let shop = std::fs::read_to_string(root.join("shop.rules")).unwrap();
    let mut positions: Vec<(usize, usize)> = Vec::new();
    for (line, text) in shop.lines().enumerate() {
        positions.extend((0..=text.len() + 1).step_by(6).map(|ch| (line, ch)));
    }
    positions.push((shop.lines().count() + 3, 0));
    for (line, character) in positions {
        let at = json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}});
        let mut with_context = at.clone();
        with_context["context"] = json!({"includeDeclaration": true});
        for (method, params) in [
            ("textDocument/hover", &at),
            ("textDocument/definition", &at),
            ("textDocument/completion", &at),
            ("textDocument/references", &with_context),
            ("textDocument/prepareRename", &at),
        ] {
            let frames = c.request(method, params.clone());
            let last = frames.last().unwrap();
            assert_ne!(last["error"]["code"], -32603, "{method} at {line}:{character}: {last}");
        }
    }
}
