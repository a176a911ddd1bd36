#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]
//! A real browser against `warden serve`: headless Chromium loads a page from a second loopback
//! origin whose script starts a process cross-origin, reads the exposed session header, sends it
//! back on a status request and reads a refusal's body; the test reads the result from the page
//! (`--dump-dom`) and fails if CORS blocks any step.
//!
//! `#[ignore]`d because it needs Chromium (Debian's `chromium` package); `.ci/run` installs it
//! and runs `cargo test --test serve_browser -- --ignored`. Without Chromium the test FAILS.

mod common_serve;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;

use common_serve::Server;

const PAGE: &str = r#"<!doctype html>
<html><body><pre id="out">RESULT pending END</pre>
<script>
(async () => {
  const out = document.getElementById('out');
  const api = 'API';
  try {
    const started = await fetch(api + '/rtm/api/runtime/app/Forms/build/b1/process-name/PublicOnly/start', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    const session = started.headers.get('X-Fx-Anonymous-Session-Id');
    const pi = (await started.json()).processInstanceUuid;
    const status = await fetch(api + '/api/runtime/process/' + pi + '/status', {
      headers: { 'X-Fx-Anonymous-Session-Id': session, 'Content-Type': 'application/json' } });
    const uuid = (await status.json()).uuid;
    const other = await fetch(api + '/api/runtime/process/' + pi + '/status', {
      headers: { 'X-Fx-Anonymous-Session-Id': 'ffffffffffffffffffffffffffffffff' } });
    const detail = (await other.json()).detail;
    out.textContent = 'RESULT start=' + started.status + ' session=' + (session ? session.length : 'none')
      + ' status=' + status.status + ' same=' + (uuid === pi) + ' other=' + other.status + ' detail=' + detail + ' END';
  } catch (e) {
    out.textContent = 'RESULT blocked: ' + e + ' END';
  }
})();
</script></body></html>"#;

fn chromium() -> String {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return name.to_string();
        }
    }
    panic!("no chromium: install Debian's `chromium` package (.ci/run does) to run this test");
}

/// What the page says, served from a new loopback origin against a server started with
/// `allowed` as its only allowed origin (`None`: the page's own origin).
fn page_result(allowed: Option<&str>) -> String {
    let browser = chromium();
    let page = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", page.local_addr().unwrap());
    let server = Server::forms(&["--allow-origin", allowed.unwrap_or(&origin)]);
    let html = PAGE.replace("'API'", &format!("'{}'", server.base));
    std::thread::spawn(move || {
        for stream in page.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
                html.len()
            );
        }
    });
    let profile = common_serve::temp_dir(&format!("chromium-{}", allowed.is_some()));
    let out = Command::new(&browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--virtual-time-budget=15000"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("{origin}/index.html"))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let result = dom.split("RESULT").nth(1).and_then(|r| r.split("END").next()).unwrap_or("").trim().to_string();
    assert!(
        !result.is_empty() && result != "pending",
        "the page did not finish: {dom}\nchromium: {}\nserver: {}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    result
}

#[test]
#[ignore = "needs Chromium: .ci/run installs it and runs this test"]
fn a_page_on_another_origin_runs_an_anonymous_session() {
    assert_eq!(
        page_result(None),
        "start=200 session=32 status=200 same=true other=403 detail=Anonymous session not found for entity"
    );
    // The same page, when the server does not allow its origin: the browser blocks it, and the
    // test sees that (so a CORS mistake cannot pass).
    let blocked = page_result(Some("http://elsewhere.test"));
    assert!(blocked.starts_with("blocked:"), "{blocked}");
}

/// The inspector in a real browser: the access matrix as a table, and a decision made before
/// the page opened shown in the live log (read from the DOM); a screenshot is kept under
/// target/ as the test's artefact.
#[test]
#[ignore = "needs Chromium: .ci/run installs it and runs this test"]
fn the_inspector_shows_the_matrix_and_the_decisions() {
    let browser = chromium();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let store = examples.join("shop.store.json");
    let server = Server::start(&[examples.to_str().unwrap(), "--store", store.to_str().unwrap()]);
    let agent = common_serve::agent();
    let a = common_serve::call(&agent, "GET", &server.url("/api/data/Shop.Product"), &[], None);
    assert_eq!(a.status, 200, "{a:?}");
    let profile = common_serve::temp_dir("chromium-inspector");
    let run = |extra: &[&str]| {
        Command::new(&browser)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--timeout=15000"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(server.url("/"))
            .output()
            .unwrap()
    };
    let out = run(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    let matrix = dom.split("<table id=\"matrix\">").nth(1).and_then(|t| t.split("</table>").next()).unwrap_or("");
    assert!(
        matrix.contains("<th>Shop.Cart</th>"),
        "the matrix has the entities: {dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(matrix.contains("Guest (anonymous)"), "and the roles: {matrix}");
    assert!(matrix.contains("[System.owner = '[%CurrentUser%]']"), "and the constraints: {matrix}");
    let decisions = dom.split("<ul id=\"decisions\">").nth(1).and_then(|t| t.split("</ul>").next()).unwrap_or("");
    assert!(
        decisions.contains("retrieve Shop.Product") && decisions.contains("allow"),
        "the decision is shown: {decisions}"
    );
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("inspector.png");
    let _ = std::fs::remove_file(&shot);
    let out = run(&["--window-size=1400,1000", &format!("--screenshot={}", shot.display())]);
    assert!(shot.exists(), "a screenshot: {}", String::from_utf8_lossy(&out.stderr));
}
