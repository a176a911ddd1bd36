//! The SQLite store on disk: opening it reads no objects, the objects it keeps in memory never
//! exceed its cache, its answers are those of the in-memory store whatever the cache holds,
//! path constraints run as semi-joins that SQLite answers from its indexes (checked with
//! `EXPLAIN QUERY PLAN`), and an import builds the indexes.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use rusqlite::Connection;
use warden::eval::{Engine, Outcome, PrincipalName, Vars};
use warden::model::Program;
use warden::source::SourceMap;
use warden::store::sqlite::{self, Mode};
use warden::store::{MemoryStore, Object, ObjectId, SqliteStore, Store, Value};

const PROGRAM: &str = r#"
module Shop {
  enumeration Status { Open, Paid, Cancelled }
  entity Cart { stores owner  Total: Integer = 0  Status: Status = Open }
  entity Line { stores owner  Quantity: Integer = 1 }
  entity Tag { Name: String }
  association Line_Cart: Line -> Cart
  association Cart_Tag: Cart ->* Tag
  module role Customer
  module role Clerk
  module role Manager
  access Cart for Customer { create delete write Total, Status where [System.owner = '[%CurrentUser%]'] }
  access Cart for Clerk { read Total, Status where [Status = 'Open'] }
  access Cart for Manager { read * where [Shop.Cart_Tag/Shop.Tag/Name = 'vip'] }
  access Line for Customer { create write Quantity where [Shop.Line_Cart/Shop.Cart/System.owner = '[%CurrentUser%]'] }
  access Line for Clerk { read Quantity where [Shop.Line_Cart/Shop.Cart/Status = 'Open'] }
  access Line for Manager { read * where [not(Shop.Line_Cart/Shop.Cart[Total > 50])] }
  access Tag for Customer, Clerk, Manager { read Name }
}
user role Buyer: Shop.Customer
user role Staff: Shop.Clerk
user role Boss: Shop.Manager
"#;

const USERS: u64 = 6;
const TAGS: u64 = 3;
const CARTS: u64 = 400;
const LINES: u64 = 1200;
const NOW: i64 = 1_780_000_000_000;

fn program() -> Program {
    let mut sources = SourceMap::new();
    sources.add("shop.rules", PROGRAM);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    checked.program
}

/// Users 1..=6 (Buyer, Staff, Boss twice over), tags 7..=9, carts and then lines.
fn memory(program: &Program) -> MemoryStore {
    let e = |n: &str| program.entity_by_name(n).unwrap();
    let m = |entity, n: &str| program.entity(entity).member(n).unwrap();
    let (user, tag, cart, line) = (e("System.User"), e("Shop.Tag"), e("Shop.Cart"), e("Shop.Line"));
    let mut store = MemoryStore::new();
    let roles = ["Buyer", "Staff", "Boss"];
    for u in 1..=USERS {
        let mut o = Object::new(program, ObjectId(u), user);
        o.values[m(user, "Name")] = Value::String(format!("u{u}"));
        let role = program.user_role_by_name(roles[(u as usize - 1) % 3]).unwrap();
        o.values[m(user, "System.UserRoles")] = Value::List(vec![ObjectId::of_role(role)]);
        store.put(o);
    }
    for (t, name) in (1..=TAGS).zip(["vip", "new", "old"]) {
        let mut o = Object::new(program, ObjectId(USERS + t), tag);
        o.values[m(tag, "Name")] = Value::String(name.into());
        store.put(o);
    }
    let first_cart = USERS + TAGS + 1;
    let status = program.enum_by_name("Shop.Status").unwrap();
    for k in 0..CARTS {
        let mut o = Object::new(program, ObjectId(first_cart + k), cart);
        o.values[m(cart, "System.owner")] = Value::Object(ObjectId(1 + k % USERS));
        o.values[m(cart, "Total")] = Value::Integer((k * 7 % 100) as i64);
        o.values[m(cart, "Status")] = Value::Enum(status, (k % 3) as u32);
        let tags: Vec<ObjectId> = (0..k % 3).map(|t| ObjectId(USERS + 1 + (k + t) % TAGS)).collect();
        o.values[m(cart, "Shop.Cart_Tag")] = Value::List(tags);
        store.put(o);
    }
    let first_line = first_cart + CARTS;
    for k in 0..LINES {
        let mut o = Object::new(program, ObjectId(first_line + k), line);
        o.values[m(line, "System.owner")] = Value::Object(ObjectId(1 + k % USERS));
        o.values[m(line, "Quantity")] = Value::Integer((k % 9) as i64);
        // Every seventh line belongs to no cart.
        if k % 7 != 0 {
            o.values[m(line, "Shop.Line_Cart")] = Value::Object(ObjectId(first_cart + k * 13 % CARTS));
        }
        store.put(o);
    }
    store
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("warden-sqlite-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A SQLite file holding the objects of [`memory`], made by `warden store import`'s code.
fn imported(program: &Program, dir: &Scratch) -> PathBuf {
    let file = dir.0.join("shop.db");
    let count = sqlite::import(program, &memory(program), &file).unwrap();
    assert_eq!(count as u64, USERS + TAGS + CARTS + LINES);
    file
}

const RETRIEVES: &[&str] = &[
    "retrieve Shop.Cart",
    "retrieve Shop.Line",
    "retrieve Shop.Cart [Status = 'Paid']",
    "retrieve Shop.Line [Quantity > 4]",
    "retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/Status = 'Open']",
    "retrieve Shop.Line [not(Shop.Line_Cart/Shop.Cart)]",
    "retrieve Shop.Cart [Shop.Line_Cart/Shop.Line/Quantity = 8]",
    "retrieve Shop.Cart [Shop.Cart_Tag/Shop.Tag/Name = 'new']",
    "retrieve Shop.Tag [Shop.Cart_Tag/Shop.Cart/Total > 90]",
    "count(retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/System.owner = '[%CurrentUser%]'])",
];

fn answer(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Value(Value::List(mut ids)) => {
            ids.sort();
            Value::List(ids)
        }
        Outcome::Value(v) => v,
        other => panic!("a retrieve gives a value, not {other:?}"),
    }
}

#[test]
fn opening_reads_no_objects_and_the_cache_stays_within_its_size() {
    let mut program = program();
    let dir = Scratch::new("cache");
    let file = imported(&program, &dir);
    let text: String = RETRIEVES.iter().map(|r| format!("{r}\n")).collect();
    let stmts = warden::check::compile_statements(&mut program, "<retrieves>", &text).unwrap().stmts;
    let program = &program;
    for cache in [0, 1, 16, 100_000] {
        let store = SqliteStore::open_with(program, &file, Mode::Read, cache).unwrap();
        let gauge = store.cache_gauge();
        // Only the users are read at open (two users may not share a Name), and only as far as the cache holds them.
        assert!(store.cached_objects() <= (USERS as usize).min(cache), "{} after open", store.cached_objects());
        let mut on_sqlite = Engine::new(program, Box::new(store), NOW);
        let mut on_memory = Engine::new(program, Box::new(memory(program)), NOW);
        for who in ["u1", "u2", "u3", "u4"] {
            on_sqlite.act_as(&PrincipalName::User(who.into())).unwrap();
            on_memory.act_as(&PrincipalName::User(who.into())).unwrap();
            for (stmt, text) in stmts.iter().zip(RETRIEVES) {
                let expected = answer(on_memory.run_top(stmt, &mut Vars::new()).unwrap());
                let actual = answer(on_sqlite.run_top(stmt, &mut Vars::new()).unwrap());
                assert_eq!(actual, expected, "{text} as {who} with a cache of {cache}");
                assert_eq!(on_sqlite.show(&actual), on_memory.show(&expected), "{text} as {who}");
            }
        }
        for id in (1..=USERS + TAGS + CARTS + LINES + 2).map(ObjectId) {
            assert_eq!(
                on_sqlite.store().get(id).map(|o| o.into_owned()),
                on_memory.store().get(id).map(|o| o.into_owned())
            );
        }
        assert_eq!(on_sqlite.store().all(), on_memory.store().all());
        let held = gauge.load(Ordering::Relaxed);
        assert!(held <= cache, "{held} objects held with a cache of {cache}");
    }
}

#[test]
fn writes_through_a_small_cache_commit_and_roll_back_as_in_memory() {
    let mut program = program();
    let dir = Scratch::new("writes");
    let file = imported(&program, &dir);
    let text = "\
let $c = retrieve first Shop.Cart [Status = 'Open']
change $c { Total = 99 }
commit $c
let $l = retrieve first Shop.Line [Quantity = 3]
delete $l
let $d = retrieve first Shop.Line [Quantity = 4]
change $d { Quantity = 7 }
rollback $d
let $n = create Shop.Cart { Total = 5 }
commit $n
for $x in retrieve Shop.Cart [Status = 'Paid'] { change $x { Total = 99 } commit $x }
count(retrieve Shop.Cart [Total = 99])
count(retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/Total = 99])";
    let stmts = warden::check::compile_statements(&mut program, "<writes>", text).unwrap().stmts;
    let program = &program;
    let store = SqliteStore::open_with(program, &file, Mode::Write, 8).unwrap();
    let gauge = store.cache_gauge();
    let mut on_sqlite = Engine::new(program, Box::new(store), NOW);
    let mut on_memory = Engine::new(program, Box::new(memory(program)), NOW);
    let (mut vars_sql, mut vars) = (Vars::new(), Vars::new());
    for stmt in &stmts {
        let sorted = |o: Outcome| match o {
            Outcome::Value(Value::List(mut ids)) => {
                ids.sort();
                Outcome::Value(Value::List(ids))
            }
            other => other,
        };
        let a = on_sqlite.run_top(stmt, &mut vars_sql).map(sorted);
        let b = on_memory.run_top(stmt, &mut vars).map(sorted);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
    assert_eq!(on_sqlite.store().all(), on_memory.store().all());
    assert!(gauge.load(Ordering::Relaxed) <= 8);
}

/// The SQL of a retrieve as user `who`, and SQLite's plan for it.
fn plan(program: &mut Program, file: &std::path::Path, who: &str, retrieve: &str) -> (String, Vec<String>) {
    let stmts = warden::check::compile_statements(program, "<plan>", retrieve).unwrap().stmts;
    let program = &*program;
    let store = SqliteStore::open(program, file, Mode::Read).unwrap();
    let mut engine = Engine::new(program, Box::new(store), NOW);
    engine.act_as(&PrincipalName::User(who.into())).unwrap();
    let query = engine.sql_of(&stmts[0]).unwrap();
    let conn = Connection::open(file).unwrap();
    warden::store::sqlite::register_functions(&conn).unwrap();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", query.text)).unwrap();
    let params: Vec<rusqlite::types::Value> = query
        .params
        .iter()
        .map(|p| match p {
            warden::store::SqlValue::Null => rusqlite::types::Value::Null,
            warden::store::SqlValue::Integer(i) => rusqlite::types::Value::Integer(*i),
            warden::store::SqlValue::Text(t) => rusqlite::types::Value::Text(t.clone()),
        })
        .collect();
    let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(3)).unwrap();
    (query.text, rows.map(Result::unwrap).collect())
}

#[test]
fn a_path_to_the_owner_runs_on_the_indexes_from_the_far_end() {
    let mut program = program();
    let dir = Scratch::new("plan");
    let file = imported(&program, &dir);
    // A Buyer sees the lines of its own carts: the carts from the owner index, then their lines
    // from the Line_Cart index; neither table is scanned.
    let (sql, steps) = plan(&mut program, &file, "u1", "retrieve Shop.Line");
    assert!(!sql.contains("EXISTS"), "{sql}");
    assert!(steps.iter().all(|s| !s.starts_with("SCAN")), "{sql}\n{steps:#?}");
    assert!(steps.iter().any(|s| s.starts_with("SEARCH o USING") && s.contains("(Shop.Line_Cart=?)")), "{steps:#?}");
    assert!(steps.iter().any(|s| s.starts_with("SEARCH t1 USING") && s.contains("(System.owner=?)")), "{steps:#?}");
    // A backward path to a column without an index: the lines are scanned once (not once per
    // cart), and the carts found by id.
    let (sql, steps) = plan(&mut program, &file, "u1", "retrieve Shop.Cart [Shop.Line_Cart/Shop.Line/Quantity = 8]");
    assert!(!sql.contains("EXISTS"), "{sql}");
    assert!(steps.iter().any(|s| s.starts_with("SEARCH o USING")), "{sql}\n{steps:#?}");
    assert!(!steps.iter().any(|s| s.contains("CORRELATED")), "{sql}\n{steps:#?}");
}

#[test]
fn an_import_builds_every_index() {
    let program = program();
    let dir = Scratch::new("import");
    let file = imported(&program, &dir);
    let conn = Connection::open(&file).unwrap();
    let mut stmt =
        conn.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").unwrap();
    let indexes: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        indexes,
        [
            "Shop.Cart(System.owner)",
            "Shop.Cart/Shop.Cart_Tag(target)",
            "Shop.Line(Shop.Line_Cart)",
            "Shop.Line(System.owner)",
            "System.User/System.UserRoles(target)",
        ]
    );
    let next: String = conn.query_row("SELECT value FROM warden_meta WHERE key = 'next_id'", [], |r| r.get(0)).unwrap();
    assert_eq!(next, (USERS + TAGS + CARTS + LINES + 1).to_string());
}

#[test]
fn the_translation_speaks_postgres_through_its_dialect() {
    let mut program = program();
    let text = "\
retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/Status = 'Open']
retrieve Shop.Cart [Total > 5 and not(Status = 'Paid')]
retrieve Shop.Tag [Name = 'VIP' or contains(Name, 'e')]
retrieve Shop.Cart [Shop.Cart_Tag/Shop.Tag[starts-with(Name, 'o')]]";
    let stmts = warden::check::compile_statements(&mut program, "<pg>", text).unwrap().stmts;
    let program = &program;
    let mut engine = Engine::new(program, Box::new(memory(program)), NOW);
    engine.act_as(&PrincipalName::User("u3".into())).unwrap();
    for stmt in &stmts {
        let lite = engine.sql_of_in(stmt, warden::store::dialect::Dialect::Sqlite).unwrap();
        let pg = engine.sql_of_in(stmt, warden::store::dialect::Dialect::Postgres).unwrap();
        // The same query, the same parameters: only the spelling differs.
        assert_eq!(pg.params, lite.params);
        assert_eq!(pg.exact, lite.exact);
        assert!(!pg.text.contains('?') && !pg.text.contains("warden_"), "{}", pg.text);
        for n in 1..=pg.params.len() {
            assert!(pg.text.contains(&format!("${n}")), "no ${n} in {}", pg.text);
        }
        assert_eq!(lite.text.matches('?').count(), lite.params.len(), "{}", lite.text);
    }
    let pg = engine.sql_of_in(&stmts[2], warden::store::dialect::Dialect::Postgres).unwrap().text;
    assert!(pg.contains("lower(") && pg.contains("strpos("), "{pg}");
}
