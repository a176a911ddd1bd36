//! Loading figures (W4): `load_json` of the store of 1,000 users and 10^5 or 10^6 carts
//! (≈97 MB of JSON for 10^6), the document written once by `save_json`; and the same
//! load by the reporting loader alone (what `load_json` does when its fast path gives up),
//! and the floor of both: the same objects built with `put`.
//!
//! `sqlite_import` times `warden store import`'s code (`store::sqlite::import`) filling a new
//! SQLite file with 1,000 users and 10^5 carts, against the same tables and indexes filled by
//! hand with rusqlite (one transaction, prepared statements, indexes after the rows), in the
//! same run.
//!
//! Run with `cargo bench --bench store`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly on a broken fixture")]

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use warden::model::Program;
use warden::store::{load_json, load_json_reporting, save_json, MemoryStore, Store, StoreError};

#[path = "fixtures/shop.rs"]
mod shop;

use shop::{program, store, USERS};

/// The store of `carts` carts as `save_json` writes it.
fn document(program: &Program, carts: usize) -> String {
    let path = std::env::temp_dir().join(format!("warden-bench-store-{}-{carts}.json", std::process::id()));
    save_json(program, &store(program, carts), &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    text
}

/// A loader under test.
type Loader = fn(&Program, &str) -> Result<MemoryStore, Vec<StoreError>>;

fn load(c: &mut Criterion) {
    let program = program();
    let loaders: [(&str, Loader); 2] = [("load_json", load_json), ("load_json_reporting", load_json_reporting)];
    let documents: Vec<(usize, String)> = [100_000usize, 1_000_000].map(|n| (n, document(&program, n))).into();
    for (name, loader) in loaders {
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        for (n, text) in &documents {
            let loaded = loader(&program, text).unwrap_or_else(|e| panic!("{:?}", &e[..e.len().min(3)]));
            assert_eq!(loaded.all().len(), n + USERS as usize);
            drop(loaded);
            group.throughput(Throughput::Bytes(text.len() as u64));
            // The store is dropped outside the timing.
            group.bench_with_input(BenchmarkId::from_parameter(n), text, |b, text| {
                b.iter_batched(|| (), |()| loader(&program, text).unwrap(), BatchSize::PerIteration)
            });
        }
        group.finish();
    }
    let mut group = c.benchmark_group("put");
    group.sample_size(10);
    for (n, _) in &documents {
        group.bench_with_input(BenchmarkId::from_parameter(n), n, |b, &n| {
            b.iter_batched(|| (), |()| store(&program, n), BatchSize::PerIteration)
        });
    }
    group.finish();
}

/// The tables of the shop's users and carts, and their indexes, as `warden store schema` prints them.
const SCHEMA: &str = r#"
CREATE TABLE warden_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE "System.User" (id INTEGER PRIMARY KEY, "Name" TEXT, "Password" TEXT, "IsAnonymous" BOOLEAN, "Active" BOOLEAN, "System.owner" REFERENCE);
CREATE TABLE "System.User/System.UserRoles" (owner INTEGER NOT NULL, position INTEGER NOT NULL, target INTEGER NOT NULL, PRIMARY KEY (owner, position));
CREATE TABLE "Shop.Cart" (id INTEGER PRIMARY KEY, "System.owner" REFERENCE, "createdDate" DATETIME_MS, "Total" DECIMAL_TEXT, "Status" ENUM_TEXT);
"#;
const INDEXES: &str = r#"
CREATE INDEX "Shop.Cart(System.owner)" ON "Shop.Cart" ("System.owner");
CREATE INDEX "System.User/System.UserRoles(target)" ON "System.User/System.UserRoles" (target);
"#;

/// The same rows written by hand: what SQLite itself costs.
fn import_by_hand(path: &std::path::Path, carts: u64) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).unwrap();
    conn.execute_batch("PRAGMA synchronous = FULL").unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute_batch(SCHEMA).unwrap();
    {
        let mut user = tx.prepare(r#"INSERT INTO "System.User" VALUES (?, ?, NULL, 0, 1, NULL)"#).unwrap();
        let mut role = tx.prepare(r#"INSERT INTO "System.User/System.UserRoles" VALUES (?, 0, ?)"#).unwrap();
        for i in 1..=USERS {
            user.execute(rusqlite::params![i as i64, format!("user{i}")]).unwrap();
            role.execute(rusqlite::params![i as i64, (1u64 << 62) as i64]).unwrap();
        }
        let mut cart = tx.prepare(r#"INSERT INTO "Shop.Cart" VALUES (?, ?, NULL, ?, 'Open')"#).unwrap();
        for k in 0..carts {
            cart.execute(rusqlite::params![(1001 + k) as i64, shop::owner_of(k) as i64, shop::total_of(k).to_string()])
                .unwrap();
        }
    }
    tx.execute_batch(INDEXES).unwrap();
    tx.commit().unwrap();
}

fn sqlite_import(c: &mut Criterion) {
    let program = program();
    let dir = std::env::temp_dir().join(format!("warden-bench-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut group = c.benchmark_group("sqlite_import");
    group.sample_size(10);
    {
        let carts = 100_000usize;
        let memory = store(&program, carts);
        let n = carts + USERS as usize;
        group.throughput(Throughput::Elements(n as u64));
        let fresh = |name: &str| {
            let path = dir.join(format!("{name}.db"));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            path
        };
        assert_eq!(warden::store::sqlite::import(&program, &memory, &fresh("warden")).unwrap(), n);
        group.bench_function(BenchmarkId::new("warden", n), |b| {
            b.iter_batched(
                || fresh("warden"),
                |path| warden::store::sqlite::import(&program, &memory, &path).unwrap(),
                BatchSize::PerIteration,
            )
        });
        group.bench_function(BenchmarkId::new("by_hand", n), |b| {
            b.iter_batched(|| fresh("hand"), |path| import_by_hand(&path, carts as u64), BatchSize::PerIteration)
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, load, sqlite_import);
criterion_main!(benches);
