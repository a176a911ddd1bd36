#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]
//! A bounded load test of `warden serve` on loopback: 200 concurrent anonymous sessions start a
//! process each and poll its status; no request may fail and no session may reach another's
//! instance. Prints throughput and p50/p99 latency. `#[ignore]`d (it takes seconds of both
//! cores); `.ci/run` runs it in release: `cargo test --release --test serve_load -- --ignored`.

mod common_serve;

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common_serve::{agent, call, start_process, status, Answer, Server};

const SESSIONS: usize = 200;
const POLLS: usize = 25;

/// What one session's thread counts: each request's latency, the answers that failed, and the
/// answers that crossed to another session.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: Vec<String>,
    crossed: usize,
}

impl Tally {
    /// One request, timed.
    fn timed(&mut self, request: impl FnOnce() -> Answer) -> Answer {
        let t = Instant::now();
        let a = request();
        self.latencies.push(t.elapsed());
        a
    }
}

/// SESSIONS concurrent sessions, each on its own thread and agent: `setup(n, agent, tally)`
/// makes session n's objects and returns what identifies them; once every session has set up,
/// `work(n, agent, tally, mine, neighbour's)` runs the session's requests, the last of them
/// against its neighbour's objects. No request may fail, no answer may cross sessions, and the
/// whole is bounded at 60 s; throughput and p50/p99 latency are printed under `label`.
fn sessions<T, S, W>(label: &str, setup: S, work: W)
where
    T: Clone + Default + Send + 'static,
    S: Fn(usize, &ureq::Agent, &mut Tally) -> T + Send + Sync + 'static,
    W: Fn(usize, &ureq::Agent, &mut Tally, &T, &T) + Send + Sync + 'static,
{
    let (setup, work) = (Arc::new(setup), Arc::new(work));
    let began = Instant::now();
    let ids = Arc::new(Mutex::new(vec![T::default(); SESSIONS]));
    let barrier = Arc::new(Barrier::new(SESSIONS));
    let mut threads = Vec::new();
    for n in 0..SESSIONS {
        let (setup, work, ids, barrier) = (setup.clone(), work.clone(), ids.clone(), barrier.clone());
        threads.push(std::thread::spawn(move || {
            let agent = agent();
            let mut tally = Tally::default();
            let mine = setup(n, &agent, &mut tally);
            ids.lock().unwrap()[n] = mine.clone();
            barrier.wait();
            let theirs = ids.lock().unwrap()[(n + 1) % SESSIONS].clone();
            work(n, &agent, &mut tally, &mine, &theirs);
            tally
        }));
    }
    let mut all = Tally::default();
    for t in threads {
        let tally = t.join().unwrap();
        all.latencies.extend(tally.latencies);
        all.errors.extend(tally.errors);
        all.crossed += tally.crossed;
    }
    let elapsed = began.elapsed();
    let Tally { mut latencies, errors, crossed } = all;
    assert!(errors.is_empty(), "{} errors, the first: {:?}", errors.len(), errors.first());
    assert_eq!(crossed, 0, "answers across sessions");
    assert!(elapsed < Duration::from_secs(60), "bounded at 60 s: {elapsed:?}");
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label}: {} sessions, {} requests in {:.2} s: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms",
        SESSIONS,
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
    );
}

#[test]
#[ignore = "a load test: .ci/run runs it in release"]
fn two_hundred_concurrent_sessions_start_and_poll() {
    let server = Arc::new(Server::forms(&["--quiet"]));
    let started = server.clone();
    sessions(
        "serve load",
        move |_, agent, tally| {
            let a = tally.timed(|| call(agent, "POST", &started.url(&start_process("PublicOnly")), &[], None));
            assert_eq!(a.status, 200, "{a:?}");
            let session = a.session().unwrap().to_string();
            let pi = a.json()["processInstanceUuid"].as_str().unwrap().to_string();
            (pi, session)
        },
        move |_, agent, tally, (pi, session), (theirs, _)| {
            let h = [("X-Fx-Anonymous-Session-Id", session.as_str())];
            for _ in 0..POLLS {
                let a = tally.timed(|| call(agent, "GET", &server.url(&status(pi)), &h, None));
                if a.status != 200 {
                    tally.errors.push(format!("{} {}", a.status, a.body));
                } else if a.json()["uuid"] != pi.as_str() {
                    tally.crossed += 1;
                }
            }
            // The neighbour's instance, with this session's id: refused.
            let a = tally.timed(|| call(agent, "GET", &server.url(&status(theirs)), &h, None));
            if a.status != 403 {
                tally.crossed += 1;
            }
        },
    );
}

/// The data API under the same load: 200 concurrent anonymous sessions each create a cart and
/// a line, then retrieve their carts; each sees exactly its own, and the neighbour's cart is a
/// `404` like a missing one. Bounded at 60 s; throughput and p50/p99 printed.
#[test]
#[ignore = "a load test: .ci/run runs it in release"]
fn two_hundred_sessions_create_and_retrieve_their_own_carts() {
    const RETRIEVES: usize = 10;
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let store = examples.join("shop.store.json");
    let server = Arc::new(Server::start(&[examples.to_str().unwrap(), "--store", store.to_str().unwrap(), "--quiet"]));
    let started = server.clone();
    sessions(
        "data API load",
        move |n, agent, tally| {
            let body = format!(r#"{{"Total": "{n}"}}"#);
            let a =
                tally.timed(|| call(agent, "POST", &started.url("/api/data/Shop.Cart"), &[], Some(body.as_bytes())));
            assert_eq!(a.status, 200, "{a:?}");
            let session = a.session().unwrap().to_string();
            let cart = a.json()["id"].as_u64().unwrap();
            let h = [("X-Fx-Anonymous-Session-Id", session.as_str())];
            let line = format!(r#"{{"Shop.CartLine_Cart": {cart}, "Shop.CartLine_Product": 3}}"#);
            let a =
                tally.timed(|| call(agent, "POST", &started.url("/api/data/Shop.CartLine"), &h, Some(line.as_bytes())));
            if a.status != 200 {
                tally.errors.push(format!("{} {}", a.status, a.body));
            }
            (cart, session)
        },
        move |n, agent, tally, (cart, session), (theirs, _)| {
            let h = [("X-Fx-Anonymous-Session-Id", session.as_str())];
            for _ in 0..RETRIEVES {
                let a = tally.timed(|| call(agent, "GET", &server.url("/api/data/Shop.Cart"), &h, None));
                if a.status != 200 {
                    tally.errors.push(format!("{} {}", a.status, a.body));
                    continue;
                }
                let objects = a.json()["objects"].as_array().unwrap().clone();
                let mine = objects.len() == 1
                    && objects[0]["id"] == *cart
                    && objects[0]["Total"].as_str() == Some(n.to_string().as_str());
                if !mine {
                    tally.crossed += 1;
                }
            }
            let a = tally.timed(|| call(agent, "GET", &server.url(&format!("/api/data/Shop.Cart/{theirs}")), &h, None));
            if a.status != 404 {
                tally.crossed += 1;
            }
        },
    );
}
