//! Evaluation figures: one read decision (owner rule, 5 roles, 20 rules), and
//! "which carts may user 42 see" over 10^4, 10^5 and 10^6 carts owned by 1,000 users.
//!
//! Run with `cargo bench --bench eval`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use warden::eval::access::Op;
use warden::eval::{Engine, PrincipalName, Vars};
use warden::model::Program;
use warden::source::SourceMap;
use warden::store::sqlite::Mode;
use warden::store::{MemoryStore, Object, ObjectId, SqliteStore, Store, Value};

/// Five module roles and twenty rules over four entities; Customers own their carts.
const PROGRAM: &str = r#"
module Shop {
  enumeration Status { Open, Paid, Cancelled }
  entity Cart { stores owner, createdDate  Total: Decimal = 0  Status: Status = Open }
  entity Line { stores owner  Quantity: Integer = 1 }
  entity Product { Name: String  Price: Decimal  Cost: Decimal }
  entity Note { Text: String }
  association Line_Cart: Line -> Cart
  module role Customer
  module role Guest
  module role Clerk
  module role Manager
  module role Auditor
  access Cart for Customer { create delete write Total, Status where [System.owner = '[%CurrentUser%]'] }
  access Cart for Guest { create write Total where [System.owner = '[%CurrentUser%]'] }
  access Cart for Clerk { read Total, Status where [Status = 'Open'] }
  access Cart for Manager { read * where [createdDate > '[%CurrentDateTime%] - 30 * [%DayLength%]'] }
  access Cart for Auditor { read Total where [Status = 'Paid'] }
  access Line for Customer { create delete write Quantity, Line_Cart where [System.owner = '[%CurrentUser%]'] }
  access Line for Guest { create write Quantity where [System.owner = '[%CurrentUser%]'] }
  access Line for Clerk { read Quantity where [Shop.Line_Cart/Shop.Cart/Status = 'Open'] }
  access Line for Manager { read * }
  access Line for Auditor { read Quantity }
  access Product for Customer { read Name, Price }
  access Product for Guest { read Name, Price }
  access Product for Clerk { read Name, Price }
  access Product for Manager { create delete write * }
  access Product for Auditor { read * }
  access Note for Customer { read Text }
  access Note for Guest { read Text }
  access Note for Clerk { write Text }
  access Note for Manager { write Text }
  access Note for Auditor { read Text }
}
user role Buyer: Shop.Customer
user role Visitor: Shop.Guest
user role Staff: Shop.Clerk
user role Boss: Shop.Manager
user role Inspector: Shop.Auditor
"#;

fn program() -> Program {
    let mut sources = SourceMap::new();
    sources.add("bench.rules", PROGRAM);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    assert_eq!(checked.program.access_rules.len(), 20);
    checked.program
}

/// 1,000 users (ids 1..=1000, all Buyers) and `carts` carts owned round-robin.
fn store(program: &Program, carts: usize) -> MemoryStore {
    let mut s = MemoryStore::new();
    let user = program.entity_by_name("System.User").unwrap();
    let cart = program.entity_by_name("Shop.Cart").unwrap();
    let role = ObjectId::of_role(program.user_role_by_name("Buyer").unwrap());
    let (name, roles) =
        (program.entity(user).member("Name").unwrap(), program.entity(user).member("System.UserRoles").unwrap());
    for i in 1..=1000u64 {
        let mut o = Object::new(program, ObjectId(i), user);
        o.values[name] = Value::String(format!("user{i}"));
        o.values[roles] = Value::List(vec![role]);
        s.put(o);
    }
    let owner = program.entity(cart).member("System.owner").unwrap();
    let total = program.entity(cart).member("Total").unwrap();
    for k in 0..carts as u64 {
        let mut o = Object::new(program, ObjectId(1001 + k), cart);
        o.values[owner] = Value::Object(ObjectId(1 + k % 1000));
        o.values[total] = Value::Integer(k as i64 % 100);
        s.put(o);
    }
    s
}

fn decision(c: &mut Criterion) {
    let program = program();
    let mut engine = Engine::new(&program, Box::new(store(&program, 2_000)), 0);
    engine.act_as(&PrincipalName::User("user42".into())).unwrap();
    let total = program.entity(program.entity_by_name("Shop.Cart").unwrap()).member("Total").unwrap();
    let own = engine.store.get(ObjectId(1001 + 41)).unwrap().clone();
    let other = engine.store.get(ObjectId(1001 + 42)).unwrap().clone();
    assert!(engine.allowed(Op::Read(total), &own));
    assert!(!engine.allowed(Op::Read(total), &other));
    let mut group = c.benchmark_group("decision");
    group.bench_function("read_own_cart_allow", |b| b.iter(|| engine.allowed(Op::Read(total), &own)));
    group.bench_function("read_other_cart_deny", |b| b.iter(|| engine.allowed(Op::Read(total), &other)));
    group.finish();
}

fn visible_carts(c: &mut Criterion) {
    let program = program();
    let stmt = &warden::syntax::parse_statements("count(retrieve Shop.Cart)", warden::source::FileId(0)).unwrap()[0];
    let mut group = c.benchmark_group("which_carts_may_user_42_see");
    group.sample_size(10);
    for n in [10_000usize, 100_000, 1_000_000] {
        let mut engine = Engine::new(&program, Box::new(store(&program, n)), 0);
        engine.act_as(&PrincipalName::User("user42".into())).unwrap();
        let mut vars = Vars::new();
        let expected = Value::Integer((n / 1000) as i64);
        assert_eq!(engine.run_top(stmt, &mut vars).unwrap(), warden::eval::Outcome::Value(expected));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| engine.run_top(stmt, &mut vars).unwrap())
        });
    }
    group.finish();
}

/// The same question over a SQLite store (retrieve as one SQL query, every candidate
/// checked), against the query written by hand on the same database.
fn visible_carts_sqlite(c: &mut Criterion) {
    let program = program();
    let stmt = &warden::syntax::parse_statements("count(retrieve Shop.Cart)", warden::source::FileId(0)).unwrap()[0];
    let mut group = c.benchmark_group("which_carts_may_user_42_see_sqlite");
    group.sample_size(10);
    let dir = std::env::temp_dir().join(format!("warden-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for n in [100_000usize, 1_000_000] {
        let path = dir.join(format!("carts-{n}.db"));
        let _ = std::fs::remove_file(&path);
        {
            let memory = store(&program, n);
            let mut sqlite = SqliteStore::open(&program, &path, Mode::Create).unwrap();
            warden::store::sqlite::copy_into(&memory, &mut sqlite).unwrap();
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
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, decision, visible_carts, visible_carts_sqlite);
criterion_main!(benches);
