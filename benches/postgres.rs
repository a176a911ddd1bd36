//! The PostgreSQL store against PostgreSQL itself, in one run on one database: an owner
//! retrieve (a Buyer's carts) and a column retrieve (`[Status = 'Paid']`, as the system) through warden, against the same queries written by hand; and
//! `warden store import` (`store::postgres::import`, `COPY` in batches) against a `COPY` of the
//! same rows by hand. The shop of `benches/fixtures/shop.rs`: 1,000 users and `WARDEN_BENCH_CARTS`
//! carts (10^5 by default). Needs the database of `WARDEN_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each schema is dropped at the end.
//!
//! Run with `cargo bench --bench postgres`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly on a broken fixture")]

use std::io::Write;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use warden::eval::{Engine, PrincipalName, Vars};
use warden::store::postgres::{connect, drop_schema, import, PgStore};
use warden::store::sqlite::Mode;

#[path = "fixtures/shop.rs"]
mod shop;

fn url() -> String {
    std::env::var("WARDEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Drops a schema when it goes, also when the benchmark panics.
struct Dropped(String);

impl Drop for Dropped {
    fn drop(&mut self) {
        let _ = drop_schema(&url(), &self.0);
    }
}

fn carts() -> usize {
    std::env::var("WARDEN_BENCH_CARTS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000)
}

/// Paid carts: every seventh (the fixture leaves them Open).
fn paid(k: u64) -> bool {
    k.is_multiple_of(7)
}

fn retrieves(c: &mut Criterion) {
    let mut program = shop::program();
    let carts = carts();
    let mut memory = shop::store(&program, carts);
    let status = program.entity(program.entity_by_name("Shop.Cart").unwrap()).member("Status").unwrap();
    let paid_value = warden::store::Value::Enum(program.enum_by_name("Shop.Status").unwrap(), 1);
    for k in (0..carts as u64).filter(|k| paid(*k)) {
        let mut o = warden::store::Store::get(&memory, warden::store::ObjectId(1001 + k)).unwrap().into_owned();
        o.values[status] = paid_value.clone();
        warden::store::Store::put(&mut memory, o);
    }
    let schema = format!("warden_bench_{}", std::process::id());
    let u = url();
    let _ = drop_schema(&u, &schema);
    let _guard = Dropped(schema.clone());
    import(&program, &memory, &u, Some(&schema)).unwrap();
    let mut client = connect(&u).unwrap();
    client.batch_execute(&format!("ANALYZE {}.\"Shop.Cart\"", warden::store::dialect::quote(&schema))).unwrap();
    let text = "retrieve Shop.Cart\nretrieve Shop.Cart [Status = 'Paid']\n";
    let stmts = warden::check::compile_statements(&mut program, "<bench>", text).unwrap().stmts;
    let program = &program;
    let hand_owner =
        client.prepare(&format!("SELECT id FROM \"{schema}\".\"Shop.Cart\" WHERE \"System.owner\" = $1")).unwrap();
    let hand_column =
        client.prepare(&format!("SELECT id FROM \"{schema}\".\"Shop.Cart\" WHERE \"Status\" = $1")).unwrap();
    let mut group = c.benchmark_group("postgres_retrieve");
    group.sample_size(20);
    for (name, who, stmt) in [("owner", "user42", &stmts[0]), ("column", "system", &stmts[1])] {
        let store = PgStore::open(program, &u, Some(&schema), Mode::Read, 100_000).unwrap();
        let mut engine = Engine::new(program, Box::new(store), 0);
        let principal = if who == "system" { PrincipalName::System } else { PrincipalName::User(who.into()) };
        engine.act_as(&principal).unwrap();
        let answer = |engine: &mut Engine<'_>| match engine.run_top(stmt, &mut Vars::new()).unwrap() {
            warden::eval::Outcome::Value(warden::store::Value::List(ids)) => ids.len(),
            other => panic!("{other:?}"),
        };
        let by_hand = |client: &mut postgres::Client| match name {
            "owner" => client.query(&hand_owner, &[&42i64]).unwrap().len(),
            _ => client.query(&hand_column, &[&"Paid"]).unwrap().len(),
        };
        assert_eq!(answer(&mut engine), by_hand(&mut client), "{name}");
        group.bench_function(BenchmarkId::new(format!("{name}/warden"), carts), |b| b.iter(|| answer(&mut engine)));
        group.bench_function(BenchmarkId::new(format!("{name}/by_hand"), carts), |b| b.iter(|| by_hand(&mut client)));
    }
    group.finish();
}

fn copy_by_hand(u: &str, schema: &str, carts: u64) {
    let mut client = connect(u).unwrap();
    let s = warden::store::dialect::quote(schema);
    let mut tx = client.transaction().unwrap();
    tx.batch_execute(&format!(
        "CREATE SCHEMA {s}; CREATE TABLE {s}.\"System.User\" (id BIGINT PRIMARY KEY, \"Name\" text, \"Password\" text, \"IsAnonymous\" boolean, \"Active\" boolean); \
         CREATE TABLE {s}.\"System.User/System.UserRoles\" (owner BIGINT NOT NULL, position BIGINT NOT NULL, target BIGINT NOT NULL, PRIMARY KEY (owner, position)); \
         CREATE TABLE {s}.\"Shop.Cart\" (id BIGINT PRIMARY KEY, \"System.owner\" bigint, \"createdDate\" bigint, \"Total\" text, \"Status\" text)"
    ))
    .unwrap();
    let mut rows = String::new();
    for i in 1..=shop::USERS {
        rows.push_str(&format!("{i}\tuser{i}\t\\N\tf\tt\n"));
    }
    let mut w = tx.copy_in(&format!("COPY {s}.\"System.User\" FROM STDIN")).unwrap();
    w.write_all(rows.as_bytes()).unwrap();
    w.finish().unwrap();
    rows.clear();
    for i in 1..=shop::USERS {
        rows.push_str(&format!("{i}\t0\t{}\n", 1u64 << 62));
    }
    let mut w = tx.copy_in(&format!("COPY {s}.\"System.User/System.UserRoles\" FROM STDIN")).unwrap();
    w.write_all(rows.as_bytes()).unwrap();
    w.finish().unwrap();
    rows.clear();
    for k in 0..carts {
        rows.push_str(&format!("{}\t{}\t\\N\t{}\tOpen\n", 1001 + k, shop::owner_of(k), shop::total_of(k)));
    }
    let mut w = tx.copy_in(&format!("COPY {s}.\"Shop.Cart\" FROM STDIN")).unwrap();
    w.write_all(rows.as_bytes()).unwrap();
    w.finish().unwrap();
    tx.batch_execute(&format!(
        "CREATE INDEX ON {s}.\"Shop.Cart\" (\"System.owner\"); CREATE INDEX ON {s}.\"System.User/System.UserRoles\" (target)"
    ))
    .unwrap();
    tx.commit().unwrap();
}

fn postgres_import(c: &mut Criterion) {
    let program = shop::program();
    let carts = carts();
    let memory = shop::store(&program, carts);
    let u = url();
    let (ours, theirs) =
        (format!("warden_bench_import_{}", std::process::id()), format!("warden_bench_copy_{}", std::process::id()));
    let _guards = (Dropped(ours.clone()), Dropped(theirs.clone()));
    let mut group = c.benchmark_group("postgres_import");
    group.sample_size(10);
    let n = carts + shop::USERS as usize;
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::new("warden", n), |b| {
        b.iter_batched(
            || drop_schema(&u, &ours).unwrap(),
            |()| assert_eq!(import(&program, &memory, &u, Some(&ours)).unwrap(), n),
            BatchSize::PerIteration,
        )
    });
    group.bench_function(BenchmarkId::new("copy_by_hand", n), |b| {
        b.iter_batched(
            || drop_schema(&u, &theirs).unwrap(),
            |()| copy_by_hand(&u, &theirs, carts as u64),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, retrieves, postgres_import);
criterion_main!(benches);
