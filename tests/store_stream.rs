#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]
//! `warden store import|export` streams: the JSON file it writes is byte for byte the file
//! `save_json` writes, a store of more than two batches goes round JSON -> SQLite ->
//! PostgreSQL -> JSON unchanged, a bad SQL source is refused with the messages of the
//! whole-store reader and leaves no target behind, and the memory of an export does not grow
//! with the store.
//!
//! The PostgreSQL parts use a schema of their own with a random name in the database of
//! `WARDEN_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`), dropped at the
//! end; with `WARDEN_SKIP_POSTGRES=1` and no server they are skipped, saying so.

#[allow(dead_code, reason = "each test crate uses part of what the SQL stores' tests share")]
mod common_sql;

use common_sql::{server, url};
use std::path::{Path, PathBuf};

use warden::model::Program;
use warden::source::SourceMap;
use warden::store::postgres::drop_schema;
use warden::store::{convert, convert_in, load_into_memory_in, save_json, MemoryStore, Object, ObjectId, Store, Value};

const PROGRAM: &str = r#"
module Shop {
  enumeration Status { Open, Paid, Cancelled }
  entity Party { Name: String(40) }
  entity Client extends Party { Since: DateTime  Vip: Boolean }
  entity Cart { stores owner  Total: Decimal = 0  Status: Status = Open  Count: Integer  Big: Long  Secret: HashedString  Note: String }
  entity Line { Quantity: Integer = 1 }
  entity Tag { Label: String }
  association Line_Cart: Line -> Cart
  association Cart_Tag: Cart ->* Tag
  association Cart_Party: Cart -> Party
  module role Clerk
  access Cart for Clerk { read * }
}
user role Buyer: Shop.Clerk
user role Boss: Shop.Clerk
"#;

fn program() -> Program {
    let mut sources = SourceMap::new();
    sources.add("shop.rules", PROGRAM);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    checked.program
}

/// Three users, then `n` objects whose entities take turns (so the tables' ids interleave),
/// with every kind of value, empty ones, references forward and backward (to a specialization
/// too) and reference sets of none to three members.
fn store(program: &Program, n: u64) -> MemoryStore {
    let e = |name: &str| program.entity_by_name(name).unwrap();
    let m = |entity, name: &str| program.entity(entity).member(name).unwrap();
    let (user, party, client, cart, line, tag) =
        (e("System.User"), e("Shop.Party"), e("Shop.Client"), e("Shop.Cart"), e("Shop.Line"), e("Shop.Tag"));
    let status = program.enum_by_name("Shop.Status").unwrap();
    let mut store = MemoryStore::new();
    for (u, role) in [(1, "Buyer"), (2, "Boss"), (3, "Buyer")] {
        let mut o = Object::new(program, ObjectId(u), user);
        o.values[m(user, "Name")] = Value::String(format!("user{u}"));
        let roles = if u == 3 { vec![] } else { vec![ObjectId::of_role(program.user_role_by_name(role).unwrap())] };
        o.values[m(user, "System.UserRoles")] = Value::List(roles);
        store.put(o);
    }
    // Ids 10, 11, ...: entity k % 5 (party, client, cart, line, tag).
    let id = |k: u64| ObjectId(10 + k);
    for k in 0..n {
        let o = match k % 5 {
            0 => {
                let mut o = Object::new(program, id(k), party);
                if k % 10 == 0 {
                    o.values[m(party, "Name")] = Value::String(format!("party \"{k}\"\twith\\tab\nand ü"));
                }
                o
            }
            1 => {
                let mut o = Object::new(program, id(k), client);
                o.values[m(client, "Name")] = Value::String(format!("client {k}"));
                o.values[m(client, "Since")] = Value::DateTime(1_780_000_000_000 + k as i64 * 1_000);
                if k % 3 != 0 {
                    o.values[m(client, "Vip")] = Value::Boolean(k % 2 == 0);
                }
                o
            }
            2 => {
                let mut o = Object::new(program, id(k), cart);
                o.values[m(cart, "System.owner")] = Value::Object(ObjectId(1 + k % 3));
                o.values[m(cart, "Total")] = Value::Decimal(format!("{}.{:02}", k % 1000, k % 100).parse().unwrap());
                o.values[m(cart, "Status")] = Value::Enum(status, (k % 3) as u32);
                o.values[m(cart, "Count")] = Value::Integer(k as i64 % 70_000 - 35_000);
                if k % 4 == 0 {
                    o.values[m(cart, "Big")] = Value::Integer((1_i64 << 40) | k as i64);
                    o.values[m(cart, "Secret")] = Value::String(format!("$argon2id$v=19$x{k}"));
                }
                // A tag defined later (k + 2), and ones defined earlier.
                let tags: Vec<ObjectId> = (0..k % 4).filter_map(|t| (k + 2).checked_sub(5 * t).map(id)).collect();
                o.values[m(cart, "Shop.Cart_Tag")] = Value::List(tags.into_iter().filter(|t| t.0 < 10 + n).collect());
                // A party or a client (the specialization), before or after the cart.
                let to = if k % 2 == 0 { k + 3 } else { k - 1 };
                if to < n {
                    o.values[m(cart, "Shop.Cart_Party")] = Value::Object(id(to));
                }
                o.values[m(cart, "Note")] = Value::String(if k % 7 == 0 { String::new() } else { format!("n{k}") });
                o
            }
            3 => {
                let mut o = Object::new(program, id(k), line);
                o.values[m(line, "Quantity")] = Value::Integer((k % 9) as i64);
                if k % 6 != 0 {
                    o.values[m(line, "Shop.Line_Cart")] = Value::Object(id(k - 1));
                }
                o
            }
            _ => {
                let mut o = Object::new(program, id(k), tag);
                o.values[m(tag, "Label")] = Value::String(format!("t{k}"));
                o
            }
        };
        store.put(o);
    }
    store
}

/// A directory of its own, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("warden-store-stream-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn at(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A schema with a random name, dropped when the guard goes.
struct Schema(String);

impl Schema {
    fn new(what: &str) -> Schema {
        let mut bytes = [0u8; 6];
        getrandom::getrandom(&mut bytes).unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Schema(format!("warden_test_{what}_{hex}"))
    }

    fn exists(&self) -> bool {
        let mut client = warden::store::postgres::connect(&url()).unwrap();
        let row = client.query_one("SELECT count(*) FROM pg_namespace WHERE nspname = $1", &[&self.0]).unwrap();
        row.get::<_, i64>(0) > 0
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = drop_schema(&url(), &self.0);
    }
}

fn pg() -> PathBuf {
    PathBuf::from(url())
}

/// The `next_id` a SQLite store keeps.
fn sqlite_next_id(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT value FROM warden_meta WHERE key = 'next_id'", [], |r| r.get(0)).unwrap()
}

#[test]
fn the_streaming_json_writer_writes_the_file_save_json_writes() {
    let program = program();
    let dir = Dir::new("writer");
    for (name, n) in [("empty", 0), ("one", 1), ("some", 600)] {
        let whole = dir.at(&format!("{name}.json"));
        save_json(&program, &store(&program, n), &whole).unwrap();
        // JSON -> JSON, and JSON -> SQLite -> JSON: the writer against `save_json`.
        let copy = dir.at(&format!("{name}.copy.json"));
        convert(&program, &whole, &copy).unwrap();
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), std::fs::read_to_string(&whole).unwrap(), "{name}");
        let db = dir.at(&format!("{name}.db"));
        let objects = convert(&program, &whole, &db).unwrap();
        assert_eq!(objects as u64, if n == 0 { 3 } else { 3 + n }, "{name}");
        let back = dir.at(&format!("{name}.back.json"));
        assert_eq!(convert(&program, &db, &back).unwrap(), objects);
        assert_eq!(std::fs::read_to_string(&back).unwrap(), std::fs::read_to_string(&whole).unwrap(), "{name}");
    }
}

#[test]
fn a_store_of_three_batches_goes_round_json_sqlite_postgres_json_unchanged() {
    if !server("the round trip") {
        return;
    }
    let program = program();
    let dir = Dir::new("round");
    let n = 25_000;
    let json = dir.at("a.json");
    save_json(&program, &store(&program, n), &json).unwrap();
    let db = dir.at("a.db");
    assert_eq!(convert(&program, &json, &db).unwrap() as u64, 3 + n);
    let schema = Schema::new("stream_round");
    assert_eq!(convert_in(&program, &db, &pg(), Some(&schema.0)).unwrap() as u64, 3 + n);
    let back = dir.at("back.json");
    assert_eq!(convert_in(&program, &pg(), &back, Some(&schema.0)).unwrap() as u64, 3 + n);
    assert!(std::fs::read_to_string(&back).unwrap() == std::fs::read_to_string(&json).unwrap(), "the file changed");
    // Both SQL stores hand out the id after the last one next.
    let last = 10 + n - 1;
    assert_eq!(sqlite_next_id(&db), (last + 1).to_string());
    let mut client = warden::store::postgres::connect(&url()).unwrap();
    let sql = format!("SELECT value FROM \"{}\".warden_meta WHERE key = 'next_id'", schema.0);
    assert_eq!(client.query_one(&sql, &[]).unwrap().get::<_, String>(0), (last + 1).to_string());
    // PostgreSQL -> SQLite gives the same rows as JSON -> SQLite.
    let again = dir.at("again.db");
    convert_in(&program, &pg(), &again, Some(&schema.0)).unwrap();
    let again_json = dir.at("again.json");
    convert(&program, &again, &again_json).unwrap();
    assert!(std::fs::read_to_string(&again_json).unwrap() == std::fs::read_to_string(&json).unwrap());
}

/// A SQLite store of [`store`] with rows edited by SQL into a bad one.
fn bad_sqlite(program: &Program, dir: &Dir) -> PathBuf {
    let json = dir.at("good.json");
    save_json(program, &store(program, 200), &json).unwrap();
    let db = dir.at("bad.db");
    convert(program, &json, &db).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        r#"
        UPDATE "Shop.Line" SET "Shop.Line_Cart" = 999999 WHERE id = 13;
        UPDATE "Shop.Cart" SET "Shop.Cart_Party" = 14 WHERE id = 17;
        UPDATE "Shop.Cart" SET "Status" = 'Lost' WHERE id = 22;
        UPDATE "Shop.Party" SET "Name" = 'a name far longer than the forty characters it may have' WHERE id = 20;
        INSERT INTO "Shop.Cart/Shop.Cart_Tag" (owner, position, target) VALUES (27, 9, 424242);
        INSERT INTO "Shop.Tag" (id, "Label") VALUES (18, 'a line''s id');
        "#,
    )
    .unwrap();
    db
}

#[test]
fn a_bad_sqlite_source_is_refused_as_the_whole_store_reader_refuses_it_and_leaves_no_target() {
    let program = program();
    let dir = Dir::new("bad");
    let db = bad_sqlite(&program, &dir);
    // What the reader of the whole store (the REPL's, and export's before it streamed) says.
    let whole = load_into_memory_in(&program, &db, None).unwrap_err();
    let shown: Vec<String> = whole.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "Shop.Party#20.Name: longer than the 40 characters allowed",
            "Shop.Cart#22.Status: `Lost` is not a value of the enumeration (Open, Paid, Cancelled)",
            "Shop.Tag#18: id 18 is also used in table `Shop.Line`",
            "Shop.Cart#17.Shop.Cart_Party: refers to #14, which is not an object of Shop.Party",
            "Shop.Cart#27.Shop.Cart_Tag: refers to #424242, which is not an object of Shop.Tag",
            "Shop.Line#13.Shop.Line_Cart: refers to #999999, which is not an object of Shop.Cart",
        ]
    );
    for target in ["out.json", "out.db"] {
        let to = dir.at(target);
        assert_eq!(convert(&program, &db, &to).unwrap_err(), whole, "{target}");
        let left: Vec<_> = std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(!to.exists(), "{target} was left behind: {left:?}");
        // Nothing but the lock file every writer of a JSON store takes (`.out.json.lock`, left
        // in place: removing it could let two writers in).
        assert!(
            left.iter().all(|f| !f.to_string_lossy().contains("out") || f.to_string_lossy().ends_with(".lock")),
            "{left:?}"
        );
    }
    if !server("a bad source into PostgreSQL") {
        return;
    }
    let schema = Schema::new("stream_bad");
    assert_eq!(convert_in(&program, &db, &pg(), Some(&schema.0)).unwrap_err(), whole);
    assert!(!schema.exists(), "the schema of a failed import was left behind");
}

#[test]
fn a_bad_postgres_source_is_refused_with_the_same_messages_and_leaves_no_target() {
    if !server("a bad PostgreSQL source") {
        return;
    }
    let program = program();
    let dir = Dir::new("badpg");
    let db = bad_sqlite(&program, &dir);
    let whole = load_into_memory_in(&program, &db, None).unwrap_err();
    // The same rows in PostgreSQL, through a good copy edited the same way.
    let good = dir.at("good.json");
    let schema = Schema::new("stream_badpg");
    convert_in(&program, &good, &pg(), Some(&schema.0)).unwrap();
    let mut client = warden::store::postgres::connect(&url()).unwrap();
    client
        .batch_execute(&format!(
            r#"
            SET search_path = "{}";
            UPDATE "Shop.Line" SET "Shop.Line_Cart" = 999999 WHERE id = 13;
            UPDATE "Shop.Cart" SET "Shop.Cart_Party" = 14 WHERE id = 17;
            UPDATE "Shop.Cart" SET "Status" = 'Lost' WHERE id = 22;
            UPDATE "Shop.Party" SET "Name" = 'a name far longer than the forty characters it may have' WHERE id = 20;
            INSERT INTO "Shop.Cart/Shop.Cart_Tag" (owner, position, target) VALUES (27, 9, 424242);
            INSERT INTO "Shop.Tag" (id, "Label") VALUES (18, 'a line''s id');
            "#,
            schema.0
        ))
        .unwrap();
    let out = dir.at("out.db");
    assert_eq!(convert_in(&program, &pg(), &out, Some(&schema.0)).unwrap_err(), whole);
    assert!(!out.exists());
}

/// The peak resident set of `warden store export RULES FROM TO`, in KB.
#[cfg(target_os = "linux")]
fn export_peak_kb(rules: &Path, from: &Path, to: &Path) -> i64 {
    #[allow(clippy::zombie_processes, reason = "wait4 below reaps the child, and reports its peak memory")]
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["store", "export", "-q"])
        .args([rules, from, to])
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: `usage` is a plain struct that wait4 fills; the pid is our own child's.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "the export failed");
    usage.ru_maxrss
}

#[cfg(target_os = "linux")]
#[test]
fn the_memory_of_an_export_does_not_grow_with_the_store() {
    let program = program();
    let dir = Dir::new("memory");
    let rules = dir.at("shop.rules");
    std::fs::write(&rules, PROGRAM).unwrap();
    let mut peaks = Vec::new();
    for n in [30_000u64, 300_000] {
        let json = dir.at("small.json");
        save_json(&program, &store(&program, 1_000), &json).unwrap();
        let db = dir.at(&format!("{n}.db"));
        convert(&program, &json, &db).unwrap();
        // Carts with an owner and two tags each, and lines with a cart each, by SQL; their ids
        // take turns, so the owner and tags are referred to again after the lines' many carts.
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(&format!(
            r#"
            BEGIN;
            WITH RECURSIVE k(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM k WHERE x < {n} - 1)
              INSERT INTO "Shop.Cart" (id, "System.owner", "Total", "Status", "Count", "Note")
              SELECT 100000 + 2 * x, 1, '12.50', 'Paid', x, 'a note of some length, ' || x FROM k;
            INSERT INTO "Shop.Cart/Shop.Cart_Tag" (owner, position, target)
              SELECT id, 0, 14 FROM "Shop.Cart" WHERE id >= 100000
              UNION ALL SELECT id, 1, 19 FROM "Shop.Cart" WHERE id >= 100000;
            WITH RECURSIVE k(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM k WHERE x < {n} - 1)
              INSERT INTO "Shop.Line" (id, "Quantity", "Shop.Line_Cart") SELECT 100001 + 2 * x, 3, 100000 + 2 * x FROM k;
            COMMIT;
            "#
        ))
        .unwrap();
        drop(conn);
        peaks.push(export_peak_kb(&rules, &db, &dir.at(&format!("{n}.json"))));
        assert!(dir.at(&format!("{n}.json")).exists());
    }
    // Past a few batches the memory stays flat: 540,000 objects more would take hundreds of MB
    // read whole. The smaller export's peak itself varies from run to run (56 to 72 MB seen,
    // the larger one's 76 MB each time), so the bound leaves room for that.
    assert!(peaks[1] - peaks[0] < 40_000, "peak RSS {} KB, then {} KB with 10 times the objects", peaks[0], peaks[1]);
}
