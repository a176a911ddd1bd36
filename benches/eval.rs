//! Evaluation figures: one read decision (owner rule, 5 roles, 20 rules), and
//! "which carts may user 42 see" over 10^4, 10^5 and 10^6 carts owned by 1,000 users.
//!
//! Run with `cargo bench --bench eval`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly on a broken fixture")]

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use warden::eval::access::Op;
use warden::eval::{Engine, Plan, PrincipalName, Vars};
use warden::model::flow::Stmt;
use warden::model::Program;
use warden::store::sqlite::Mode;
use warden::store::{SqliteStore, Value};

#[path = "fixtures/shop.rs"]
mod shop;

use shop::{program, store};

fn decision(c: &mut Criterion) {
    let program = program();
    let (engine, total, own, other) = shop::decision_setup(&program);
    let mut group = c.benchmark_group("decision");
    group.bench_function("read_own_cart_allow", |b| b.iter(|| engine.allowed(Op::Read(total), &own)));
    group.bench_function("read_other_cart_deny", |b| b.iter(|| engine.allowed(Op::Read(total), &other)));
    group.finish();
}

/// `count(retrieve Shop.Cart)`, checked against the program.
fn count_carts(program: &mut Program) -> Stmt {
    let mut checked = warden::check::compile_statements(program, "<bench>", "count(retrieve Shop.Cart)").unwrap();
    checked.stmts.remove(0)
}

fn visible_carts(c: &mut Criterion) {
    let mut program = program();
    let stmt = count_carts(&mut program);
    let mut group = c.benchmark_group("which_carts_may_user_42_see");
    group.sample_size(10);
    for n in [10_000usize, 100_000, 1_000_000] {
        time_visible_carts(&mut group, &program, &stmt, Plan::Indexed, n, BenchmarkId::from_parameter(n));
    }
    group.finish();
}

/// The same question answered without the reference index: by scanning the owner column
/// (`Plan::Scan`), and by building and checking every cart (`Plan::Naive`, the general path
/// of a rule whose constraint names no key).
fn visible_carts_without_index(c: &mut Criterion) {
    let mut program = program();
    let stmt = count_carts(&mut program);
    let mut group = c.benchmark_group("which_carts_may_user_42_see_without_index");
    group.sample_size(10);
    for (plan, sizes) in [(Plan::Scan, &[10_000usize, 100_000, 1_000_000][..]), (Plan::Naive, &[10_000, 100_000][..])] {
        for &n in sizes {
            time_visible_carts(&mut group, &program, &stmt, plan, n, BenchmarkId::new(format!("{plan:?}"), n));
        }
    }
    group.finish();
}

/// Times `count(retrieve Shop.Cart)` as user 42 over `n` carts with `plan`, once its answer is checked.
fn time_visible_carts(
    group: &mut BenchmarkGroup<WallTime>,
    program: &Program,
    stmt: &Stmt,
    plan: Plan,
    n: usize,
    id: BenchmarkId,
) {
    let mut engine = Engine::new(program, Box::new(store(program, n)), 0);
    engine.set_plan(plan);
    engine.act_as(&PrincipalName::User("user42".into())).unwrap();
    let mut vars = Vars::new();
    let expected = Value::Integer((n / 1000) as i64);
    assert_eq!(engine.run_top(stmt, &mut vars).unwrap(), warden::eval::Outcome::Value(expected));
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(id, |b| b.iter(|| engine.run_top(stmt, &mut vars).unwrap()));
}

/// The same question over a SQLite store (retrieve as one SQL query, every candidate
/// checked), against the query written by hand on the same database.
fn visible_carts_sqlite(c: &mut Criterion) {
    let mut program = program();
    let stmt = &count_carts(&mut program);
    let mut group = c.benchmark_group("which_carts_may_user_42_see_sqlite");
    group.sample_size(10);
    let dir = std::env::temp_dir().join(format!("warden-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for n in [100_000usize, 1_000_000] {
        let path = dir.join(format!("carts-{n}.db"));
        let _ = std::fs::remove_file(&path);
        {
            let memory = store(&program, n);
            warden::store::sqlite::import(&program, &memory, &path).unwrap();
        }
        let sqlite = SqliteStore::open(&program, &path, Mode::Read).unwrap();
        let mut engine = Engine::new(&program, Box::new(sqlite), 0);
        engine.act_as(&PrincipalName::User("user42".into())).unwrap();
        let mut vars = Vars::new();
        let expected = Value::Integer((n / 1000) as i64);
        assert_eq!(engine.run_top(stmt, &mut vars).unwrap(), warden::eval::Outcome::Value(expected));
        group.bench_with_input(BenchmarkId::new("warden", n), &n, |b, _| {
            b.iter(|| engine.run_top(stmt, &mut vars).unwrap())
        });
        let conn = rusqlite::Connection::open(&path).unwrap();
        let by_hand = || -> Vec<i64> {
            let mut q = conn.prepare_cached(r#"SELECT id FROM "Shop.Cart" WHERE "System.owner" = ?"#).unwrap();
            q.query_map([42i64], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        assert_eq!(by_hand().len(), n / 1000);
        group.bench_with_input(BenchmarkId::new("hand_written_sql", n), &n, |b, _| b.iter(by_hand));
        // From nothing: open the file (no objects read), act as the user, run the retrieve.
        let open_and_retrieve = || {
            let sqlite = SqliteStore::open(&program, &path, Mode::Read).unwrap();
            let mut engine = Engine::new(&program, Box::new(sqlite), 0);
            engine.act_as(&PrincipalName::User("user42".into())).unwrap();
            engine.run_top(stmt, &mut Vars::new()).unwrap()
        };
        assert_eq!(open_and_retrieve(), warden::eval::Outcome::Value(Value::Integer((n / 1000) as i64)));
        group.bench_with_input(BenchmarkId::new("warden_open_and_retrieve", n), &n, |b, _| b.iter(open_and_retrieve));
        let open_and_query = || -> usize {
            let conn =
                rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
            let mut q = conn.prepare(r#"SELECT id FROM "Shop.Cart" WHERE "System.owner" = ?"#).unwrap();
            q.query_map([42i64], |r| r.get::<_, i64>(0)).unwrap().count()
        };
        group.bench_with_input(BenchmarkId::new("hand_open_and_query", n), &n, |b, _| b.iter(open_and_query));
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A path rule over a SQLite store: the lines of user 42's carts (`[Shop.Line_Cart/Shop.Cart/
/// System.owner = $u]`, one line per cart), which warden runs as semi-joins from the owner
/// index, against the `JOIN` written by hand on the same database, in the same run.
fn path_sqlite(c: &mut Criterion) {
    let mut program = program();
    let text = "let $u = retrieve first System.User [Name = 'user42']
count(retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/System.owner = $u])";
    let stmts = warden::check::compile_statements(&mut program, "<bench>", text).unwrap().stmts;
    let mut group = c.benchmark_group("path_rule_sqlite");
    group.sample_size(10);
    let dir = std::env::temp_dir().join(format!("warden-bench-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let n = 1_000_000usize;
    let path = dir.join("lines.db");
    let _ = std::fs::remove_file(&path);
    {
        let mut memory = store(&program, n);
        let line = program.entity_by_name("Shop.Line").unwrap();
        let (owner, cart) = (
            program.entity(line).member("System.owner").unwrap(),
            program.entity(line).member("Shop.Line_Cart").unwrap(),
        );
        for k in 0..n as u64 {
            let mut o = warden::store::Object::new(&program, warden::store::ObjectId(1001 + n as u64 + k), line);
            o.values[owner] = Value::Object(warden::store::ObjectId(shop::owner_of(k)));
            o.values[cart] = Value::Object(warden::store::ObjectId(1001 + k));
            warden::store::Store::put(&mut memory, o);
        }
        warden::store::sqlite::import(&program, &memory, &path).unwrap();
    }
    let sqlite = SqliteStore::open(&program, &path, Mode::Read).unwrap();
    let mut engine = Engine::new(&program, Box::new(sqlite), 0);
    let mut vars = Vars::new();
    engine.run_top(&stmts[0], &mut vars).unwrap();
    let expected = warden::eval::Outcome::Value(Value::Integer((n / 1000) as i64));
    assert_eq!(engine.run_top(&stmts[1], &mut vars).unwrap(), expected);
    group.bench_function(BenchmarkId::new("warden", n), |b| b.iter(|| engine.run_top(&stmts[1], &mut vars).unwrap()));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let by_hand = || -> Vec<i64> {
        let mut q = conn
            .prepare_cached(
                r#"SELECT l.id FROM "Shop.Line" l JOIN "Shop.Cart" c ON c.id = l."Shop.Line_Cart" WHERE c."System.owner" = ?"#,
            )
            .unwrap();
        q.query_map([42i64], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(by_hand().len(), n / 1000);
    group.bench_function(BenchmarkId::new("hand_written_join", n), |b| b.iter(by_hand));
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, decision, visible_carts, visible_carts_without_index, visible_carts_sqlite, path_sqlite);
criterion_main!(benches);
