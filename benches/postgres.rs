//! The PostgreSQL store against PostgreSQL itself, in one run on one database: an owner
//! retrieve (a Buyer's carts), a column retrieve (`[Status = 'Paid']`, as the system) and a path
//! retrieve (the lines of user42's carts, `[Shop.Line_Cart/Shop.Cart/System.owner = $u]`) through
//! warden, each against the same question written by hand in SQL and run through the `postgres`
//! crate; and `warden store import` (`store::postgres::import`, `COPY` in batches) against a
//! `COPY` of the same rows by hand.
//!
//! The shop of `benches/fixtures/shop.rs`: 1,000 users, `WARDEN_BENCH_CARTS` carts (10^5 by
//! default) and as many lines, line `k` in cart `k`: `2 * WARDEN_BENCH_CARTS + 1000` objects.
//! The retrieves' store is made by `import` (the users) and SQL (`generate_series`, the carts
//! and lines; the rows of `benches/postgres_whole_process.sh`) in schema `warden_bench_N`; with `WARDEN_BENCH_KEEP=1` it is kept and the next run
//! of the same size reuses it, else it is dropped at the end. `WARDEN_BENCH_ONLY=retrieve` or
//! `import` runs one group. Needs the database of `WARDEN_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`).
//!
//! Run with `cargo bench --bench postgres`; at 10^7 objects
//! `WARDEN_BENCH_CARTS=5000000 WARDEN_BENCH_ONLY=retrieve cargo bench --bench postgres`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly on a broken fixture")]

use std::io::Write;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use warden::eval::{Engine, Outcome, PrincipalName, Vars};
use warden::store::dialect::quote;
use warden::store::postgres::{connect, drop_schema, import, PgStore};
use warden::store::sqlite::Mode;
use warden::store::{Object, ObjectId, Store, Value};

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

/// Whether the group `name` runs (`WARDEN_BENCH_ONLY` unset or naming it).
fn runs(name: &str) -> bool {
    std::env::var("WARDEN_BENCH_ONLY").map_or(true, |only| only.is_empty() || only == name)
}

/// Fewer, longer samples where one iteration takes long.
fn sized(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, samples: usize) {
    group.sample_size(if carts() > 1_000_000 { 10 } else { samples });
    if carts() > 1_000_000 {
        group.measurement_time(Duration::from_secs(20));
        group.warm_up_time(Duration::from_secs(1));
    }
}

/// Cart `x`'s status: Open, Paid, Cancelled in turn (as `benches/postgres_whole_process.sh`).
const STATUS: &str = "CASE x % 3 WHEN 0 THEN 'Open' WHEN 1 THEN 'Paid' ELSE 'Cancelled' END";

/// The retrieves' store in schema `warden_bench_N`: reused when it holds the lines already.
fn retrieve_store(program: &warden::model::Program, u: &str, carts: usize) -> String {
    let schema = format!("warden_bench_{carts}");
    let s = quote(&schema);
    let mut client = connect(u).unwrap();
    let filled = client
        .query_one("SELECT to_regclass($1)::text", &[&format!("{s}.\"Shop.Line\"")])
        .unwrap()
        .get::<_, Option<String>>(0)
        .is_some()
        && client.query_one(&format!("SELECT count(*) FROM {s}.\"Shop.Line\""), &[]).unwrap().get::<_, i64>(0)
            == carts as i64;
    if filled {
        return schema;
    }
    let _ = drop_schema(u, &schema);
    import(program, &shop::store(program, 0), u, Some(&schema)).unwrap();
    client
        .batch_execute(&format!(
            "BEGIN; \
             INSERT INTO {s}.\"Shop.Cart\" (id, \"System.owner\", \"Total\", \"Status\") \
               SELECT 1001 + x, 1 + x % 1000, (x % 100)::text, {STATUS} FROM generate_series(0, {n}) AS x; \
             INSERT INTO {s}.\"Shop.Line\" (id, \"System.owner\", \"Quantity\", \"Shop.Line_Cart\") \
               SELECT 1001 + {carts} + x, 1 + x % 1000, 1 + x % 5, 1001 + x FROM generate_series(0, {n}) AS x; \
             COMMIT; ANALYZE {s}.\"Shop.Cart\"; ANALYZE {s}.\"Shop.Line\"; ANALYZE {s}.\"System.User\"",
            n = carts as i64 - 1
        ))
        .unwrap();
    schema
}

fn retrieves(c: &mut Criterion) {
    if !runs("retrieve") {
        return;
    }
    let mut program = shop::program();
    let carts = carts();
    let u = url();
    let schema = retrieve_store(&program, &u, carts);
    let _guard = (std::env::var("WARDEN_BENCH_KEEP").as_deref() != Ok("1")).then(|| Dropped(schema.clone()));
    let mut client = connect(&u).unwrap();
    let text = "retrieve Shop.Cart\nretrieve Shop.Cart [Status = 'Paid']\n\
                let $u = retrieve first System.User [Name = 'user42']\n\
                retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/System.owner = $u]\n";
    let stmts = warden::check::compile_statements(&mut program, "<bench>", text).unwrap().stmts;
    let program = &program;
    let s = quote(&schema);
    let hand_owner = client.prepare(&format!("SELECT id FROM {s}.\"Shop.Cart\" WHERE \"System.owner\" = $1")).unwrap();
    let hand_column = client.prepare(&format!("SELECT id FROM {s}.\"Shop.Cart\" WHERE \"Status\" = $1")).unwrap();
    let hand_path = client
        .prepare(&format!(
            "SELECT l.id FROM {s}.\"Shop.Line\" l JOIN {s}.\"Shop.Cart\" c ON c.id = l.\"Shop.Line_Cart\" \
             WHERE c.\"System.owner\" = $1"
        ))
        .unwrap();
    let mut group = c.benchmark_group("postgres_retrieve");
    sized(&mut group, 20);
    for (name, who, stmt) in
        [("owner", "user42", &stmts[0]), ("column", "system", &stmts[1]), ("path", "system", &stmts[3])]
    {
        let store = PgStore::open(program, &u, Some(&schema), Mode::Read, 100_000).unwrap();
        let mut engine = Engine::new(program, Box::new(store), 0);
        let principal = if who == "system" { PrincipalName::System } else { PrincipalName::User(who.into()) };
        engine.act_as(&principal).unwrap();
        let mut vars = Vars::new();
        engine.run_top(&stmts[2], &mut vars).unwrap();
        let mut answer = |engine: &mut Engine<'_>| match engine.run_top(stmt, &mut vars).unwrap() {
            Outcome::Value(Value::List(ids)) => ids.len(),
            other => panic!("{other:?}"),
        };
        let by_hand = |client: &mut postgres::Client| match name {
            "owner" => client.query(&hand_owner, &[&42i64]).unwrap().len(),
            "column" => client.query(&hand_column, &[&"Paid"]).unwrap().len(),
            _ => client.query(&hand_path, &[&42i64]).unwrap().len(),
        };
        let expected = match name {
            "column" => (carts + 1) / 3,
            _ => carts / 1000 + usize::from(carts % 1000 > 41),
        };
        assert_eq!(answer(&mut engine), expected, "{name}");
        assert_eq!(by_hand(&mut client), expected, "{name}");
        group.bench_function(BenchmarkId::new(format!("{name}/warden"), carts), |b| b.iter(|| answer(&mut engine)));
        group.bench_function(BenchmarkId::new(format!("{name}/by_hand"), carts), |b| b.iter(|| by_hand(&mut client)));
    }
    group.finish();
}

/// The shop with `carts` carts and as many lines, in memory (the source of the import).
fn memory_shop(program: &warden::model::Program, carts: usize) -> warden::store::MemoryStore {
    let mut memory = shop::store(program, carts);
    let cart = program.entity(program.entity_by_name("Shop.Cart").unwrap());
    let status = cart.member("Status").unwrap();
    let statuses = program.enum_by_name("Shop.Status").unwrap();
    for k in (0..carts as u64).filter(|k| k % 3 != 0) {
        let mut o = memory.get(ObjectId(1001 + k)).unwrap().into_owned();
        o.values[status] = Value::Enum(statuses, (k % 3) as u32);
        memory.put(o);
    }
    let line = program.entity_by_name("Shop.Line").unwrap();
    let (owner, quantity, of) = {
        let e = program.entity(line);
        (e.member("System.owner").unwrap(), e.member("Quantity").unwrap(), e.member("Shop.Line_Cart").unwrap())
    };
    for k in 0..carts as u64 {
        let mut o = Object::new(program, ObjectId(1001 + carts as u64 + k), line);
        o.values[owner] = Value::Object(ObjectId(shop::owner_of(k)));
        o.values[quantity] = Value::Integer(1 + k as i64 % 5);
        o.values[of] = Value::Object(ObjectId(1001 + k));
        memory.put(o);
    }
    memory
}

fn copy_by_hand(u: &str, schema: &str, carts: u64) {
    let mut client = connect(u).unwrap();
    let s = quote(schema);
    let mut tx = client.transaction().unwrap();
    tx.batch_execute(&format!(
        "CREATE SCHEMA {s}; CREATE TABLE {s}.\"System.User\" (id BIGINT PRIMARY KEY, \"Name\" text, \"Password\" text, \"IsAnonymous\" boolean, \"Active\" boolean); \
         CREATE TABLE {s}.\"System.User/System.UserRoles\" (owner BIGINT NOT NULL, position BIGINT NOT NULL, target BIGINT NOT NULL, PRIMARY KEY (owner, position)); \
         CREATE TABLE {s}.\"Shop.Cart\" (id BIGINT PRIMARY KEY, \"System.owner\" bigint, \"createdDate\" bigint, \"Total\" text, \"Status\" text); \
         CREATE TABLE {s}.\"Shop.Line\" (id BIGINT PRIMARY KEY, \"System.owner\" bigint, \"Quantity\" bigint, \"Shop.Line_Cart\" bigint)"
    ))
    .unwrap();
    let mut copy = |table: &str, rows: &mut dyn Iterator<Item = String>| {
        let mut w = tx.copy_in(&format!("COPY {s}.\"{table}\" FROM STDIN")).unwrap();
        let mut buffer = String::new();
        for row in rows {
            buffer.push_str(&row);
            if buffer.len() > 1 << 20 {
                w.write_all(buffer.as_bytes()).unwrap();
                buffer.clear();
            }
        }
        w.write_all(buffer.as_bytes()).unwrap();
        w.finish().unwrap();
    };
    copy("System.User", &mut (1..=shop::USERS).map(|i| format!("{i}\tuser{i}\t\\N\tf\tt\n")));
    copy("System.User/System.UserRoles", &mut (1..=shop::USERS).map(|i| format!("{i}\t0\t{}\n", 1u64 << 62)));
    copy(
        "Shop.Cart",
        &mut (0..carts).map(|k| {
            let status = ["Open", "Paid", "Cancelled"][(k % 3) as usize];
            format!("{}\t{}\t\\N\t{}\t{status}\n", 1001 + k, shop::owner_of(k), shop::total_of(k))
        }),
    );
    copy(
        "Shop.Line",
        &mut (0..carts).map(|k| format!("{}\t{}\t{}\t{}\n", 1001 + carts + k, shop::owner_of(k), 1 + k % 5, 1001 + k)),
    );
    tx.batch_execute(&format!(
        "CREATE INDEX ON {s}.\"Shop.Cart\" (\"System.owner\"); CREATE INDEX ON {s}.\"Shop.Line\" (\"System.owner\"); \
         CREATE INDEX ON {s}.\"Shop.Line\" (\"Shop.Line_Cart\"); CREATE INDEX ON {s}.\"System.User/System.UserRoles\" (target)"
    ))
    .unwrap();
    tx.commit().unwrap();
}

fn postgres_import(c: &mut Criterion) {
    if !runs("import") {
        return;
    }
    let program = shop::program();
    let carts = carts();
    let memory = memory_shop(&program, carts);
    let u = url();
    let (ours, theirs) =
        (format!("warden_bench_import_{}", std::process::id()), format!("warden_bench_copy_{}", std::process::id()));
    let _guards = (Dropped(ours.clone()), Dropped(theirs.clone()));
    let mut group = c.benchmark_group("postgres_import");
    sized(&mut group, 10);
    let n = 2 * carts + shop::USERS as usize;
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
