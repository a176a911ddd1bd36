//! A `warden serve` process on an ephemeral loopback port, and a real HTTP client for it
//! (shared by tests/serve.rs, tests/serve_load.rs and tests/serve_browser.rs).

#![allow(dead_code, reason = "each test file uses part of the harness")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The rules and store the tests serve.
pub fn inputs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inputs/serve")
}

/// A fresh directory under the target's temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub stderr: Arc<Mutex<String>>,
}

impl Server {
    /// `warden serve ARGS --bind 127.0.0.1:0`, once it listens.
    pub fn start(args: &[&str]) -> Server {
        Server::start_with_env(args, &[])
    }

    /// As `start`, with environment variables for the server.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
            .envs(env.iter().copied())
            .arg("serve")
            .args(args)
            .args(["--bind", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let keep = log.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = String::new();
            let mut sent = false;
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                keep.lock().unwrap().push_str(&line);
                if !sent {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap().to_string();
                        tx.send(addr).unwrap();
                        sent = true;
                    }
                }
                line.clear();
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not start: {}", log.lock().unwrap());
            }
        };
        Server { child, base: format!("http://{addr}"), stderr: log }
    }

    /// The standard program and store.
    pub fn forms(extra: &[&str]) -> Server {
        let rules = inputs().join("forms.rules");
        let store = inputs().join("forms.store.json");
        let mut args = vec![rules.to_str().unwrap(), "--store", store.to_str().unwrap(), "--build-id", "b1"];
        args.extend_from_slice(extra);
        let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Server::start(&owned.iter().map(String::as_str).collect::<Vec<_>>())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the server printed on stderr so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `text` (at most 20 s).
    pub fn wait_for_log(&self, text: &str) -> bool {
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if self.log().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Sends SIGTERM and waits for the exit.
    #[cfg(unix)]
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.log());
            }
            assert!(Instant::now() < until, "the server did not stop on SIGTERM: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn session(&self) -> Option<&str> {
        self.header("x-fx-anonymous-session-id")
    }

    pub fn detail(&self) -> String {
        self.json()["detail"].as_str().unwrap_or_default().to_string()
    }
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build()
}

fn answer(response: ureq::Response) -> Answer {
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .map(|n| (n.clone(), response.header(&n).unwrap_or("").to_string()))
        .collect();
    let mut body = String::new();
    response.into_reader().take(10_000_000).read_to_string(&mut body).unwrap();
    Answer { status, headers, body }
}

/// Sends a request; any status is an answer.
pub fn call(agent: &ureq::Agent, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Answer {
    let mut req = agent.request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    match result {
        Ok(r) => answer(r),
        Err(ureq::Error::Status(_, r)) => answer(r),
        Err(e) => panic!("{method} {url}: {e}"),
    }
}

/// The standard paths of the `Forms` app.
pub fn start_process(name: &str) -> String {
    format!("/rtm/api/runtime/app/Forms/build/b1/process-name/{name}/start")
}

pub fn start_ui_flow(name: &str) -> String {
    format!("/rtm/api/runtime/app/Forms/build/b1/ui-flows/{name}")
}

pub fn status(id: &str) -> String {
    format!("/api/runtime/process/{id}/status")
}

/// Starts a process anonymously: (instance id, issued session id).
pub fn anonymous_start(agent: &ureq::Agent, server: &Server, name: &str) -> (String, String) {
    let a = call(agent, "POST", &server.url(&start_process(name)), &[], None);
    assert_eq!(a.status, 200, "{a:?}");
    let session = a.session().expect("a session id is issued").to_string();
    (a.json()["processInstanceUuid"].as_str().unwrap().to_string(), session)
}
