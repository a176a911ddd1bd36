#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]
//! A bounded load test of `warden serve` on loopback: 200 concurrent anonymous sessions start a
//! process each and poll its status; no request may fail and no session may reach another's
//! instance. Prints throughput and p50/p99 latency. `#[ignore]`d (it takes seconds of both
//! cores); `.ci/run` runs it in release: `cargo test --release --test serve_load -- --ignored`.

mod common_serve;

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common_serve::{agent, call, start_process, status, Server};

const SESSIONS: usize = 200;
const POLLS: usize = 25;

#[test]
#[ignore = "a load test: .ci/run runs it in release"]
fn two_hundred_concurrent_sessions_start_and_poll() {
    let server = Arc::new(Server::forms(&["--quiet"]));
    let began = Instant::now();
    let ids = Arc::new(Mutex::new(vec![(String::new(), String::new()); SESSIONS]));
    let barrier = Arc::new(Barrier::new(SESSIONS));
    let mut threads = Vec::new();
    for n in 0..SESSIONS {
        let (server, ids, barrier) = (server.clone(), ids.clone(), barrier.clone());
        threads.push(std::thread::spawn(move || {
            let agent = agent();
            let mut latencies = Vec::with_capacity(POLLS + 2);
            let mut errors = Vec::new();
            let mut crossed = 0usize;
            let t = Instant::now();
            let a = call(&agent, "POST", &server.url(&start_process("PublicOnly")), &[], None);
            latencies.push(t.elapsed());
            assert_eq!(a.status, 200, "{a:?}");
            let session = a.session().unwrap().to_string();
            let pi = a.json()["processInstanceUuid"].as_str().unwrap().to_string();
            ids.lock().unwrap()[n] = (pi.clone(), session.clone());
            barrier.wait();
            let h = [("X-Fx-Anonymous-Session-Id", session.as_str())];
            for _ in 0..POLLS {
                let t = Instant::now();
                let a = call(&agent, "GET", &server.url(&status(&pi)), &h, None);
                latencies.push(t.elapsed());
                if a.status != 200 {
                    errors.push(format!("{} {}", a.status, a.body));
                } else if a.json()["uuid"] != pi.as_str() {
                    crossed += 1;
                }
            }
            // The neighbour's instance, with this session's id: refused.
            let (theirs, _) = ids.lock().unwrap()[(n + 1) % SESSIONS].clone();
            let t = Instant::now();
            let a = call(&agent, "GET", &server.url(&status(&theirs)), &h, None);
            latencies.push(t.elapsed());
            if a.status != 403 {
                crossed += 1;
            }
            (latencies, errors, crossed)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    let mut crossed = 0;
    for t in threads {
        let (l, e, c) = t.join().unwrap();
        latencies.extend(l);
        errors.extend(e);
        crossed += c;
    }
    let elapsed = began.elapsed();
    assert!(errors.is_empty(), "{} errors, the first: {:?}", errors.len(), errors.first());
    assert_eq!(crossed, 0, "answers across sessions");
    assert!(elapsed < Duration::from_secs(60), "bounded at 60 s: {elapsed:?}");
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "serve load: {} sessions, {} requests in {:.2} s: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms",
        SESSIONS,
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
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
    let began = Instant::now();
    let carts = Arc::new(Mutex::new(vec![0u64; SESSIONS]));
    let barrier = Arc::new(Barrier::new(SESSIONS));
    let mut threads = Vec::new();
    for n in 0..SESSIONS {
        let (server, carts, barrier) = (server.clone(), carts.clone(), barrier.clone());
        threads.push(std::thread::spawn(move || {
            let agent = agent();
            let mut latencies = Vec::with_capacity(RETRIEVES + 3);
            let mut errors = Vec::new();
            let mut crossed = 0usize;
            let t = Instant::now();
            let body = format!(r#"{{"Total": "{n}"}}"#);
            let a = call(&agent, "POST", &server.url("/api/data/Shop.Cart"), &[], Some(body.as_bytes()));
            latencies.push(t.elapsed());
            assert_eq!(a.status, 200, "{a:?}");
            let session = a.session().unwrap().to_string();
            let cart = a.json()["id"].as_u64().unwrap();
            carts.lock().unwrap()[n] = cart;
            let h = [("X-Fx-Anonymous-Session-Id", session.as_str())];
            let line = format!(r#"{{"Shop.CartLine_Cart": {cart}, "Shop.CartLine_Product": 3}}"#);
            let t = Instant::now();
            let a = call(&agent, "POST", &server.url("/api/data/Shop.CartLine"), &h, Some(line.as_bytes()));
            latencies.push(t.elapsed());
            if a.status != 200 {
                errors.push(format!("{} {}", a.status, a.body));
            }
            barrier.wait();
            for _ in 0..RETRIEVES {
                let t = Instant::now();
                let a = call(&agent, "GET", &server.url("/api/data/Shop.Cart"), &h, None);
                latencies.push(t.elapsed());
                if a.status != 200 {
                    errors.push(format!("{} {}", a.status, a.body));
                    continue;
                }
                let objects = a.json()["objects"].as_array().unwrap().clone();
                let mine = objects.len() == 1
                    && objects[0]["id"] == cart
                    && objects[0]["Total"].as_str() == Some(n.to_string().as_str());
                if !mine {
                    crossed += 1;
                }
            }
            let theirs = carts.lock().unwrap()[(n + 1) % SESSIONS];
            let t = Instant::now();
            let a = call(&agent, "GET", &server.url(&format!("/api/data/Shop.Cart/{theirs}")), &h, None);
            latencies.push(t.elapsed());
            if a.status != 404 {
                crossed += 1;
            }
            (latencies, errors, crossed)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    let mut crossed = 0;
    for t in threads {
        let (l, e, c) = t.join().unwrap();
        latencies.extend(l);
        errors.extend(e);
        crossed += c;
    }
    let elapsed = began.elapsed();
    assert!(errors.is_empty(), "{} errors, the first: {:?}", errors.len(), errors.first());
    assert_eq!(crossed, 0, "answers across sessions");
    assert!(elapsed < Duration::from_secs(60), "bounded at 60 s: {elapsed:?}");
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "data API load: {} sessions, {} requests in {:.2} s: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms",
        SESSIONS,
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
    );
}
