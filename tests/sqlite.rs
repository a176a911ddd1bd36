//! The SQLite store gives the answers of the in-memory store: random stores,
//! principals and constraints, each retrieve run over both; and the SQL a
//! retrieve runs selects exactly the evaluator's answer whenever the
//! translation says it is exact.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use proptest::prelude::*;
use warden::eval::access::Op;
use warden::eval::{Engine, Outcome, PrincipalName, Vars};
use warden::model::Program;
use warden::source::SourceMap;
use warden::store::{MemoryStore, Object, ObjectId, SqliteStore, Store, Value};

const PROGRAM: &str = r#"
module Docs {
  enumeration Kind { Memo, Report, Letter }
  entity Doc {
    stores owner, createdDate
    Level: Integer = 0
    Title: String
    Price: Decimal
    Done: Boolean = false
    Kind: Kind = Memo
    Due: DateTime
  }
  entity Secret extends Doc { Code: String }
  entity Tag { Name: String }
  association Doc_Tag: Doc ->* Tag
  association Doc_Reviewer: Doc -> System.User
  association Doc_Parent: Doc -> Doc
  module role Writer
  module role Reviewer
  module role Public
  access Doc for Writer {
    create
    delete
    write Level, Title
    where [System.owner = '[%CurrentUser%]']
  }
  access Doc for Reviewer {
    read Level, Title
    where [Docs.Doc_Reviewer = '[%CurrentUser%]' or Docs.Doc_Parent/Docs.Doc/Docs.Doc_Reviewer = '[%CurrentUser%]'][Level > 2]
  }
  access Secret for Writer {
    create
    write Code
    where [System.owner = '[%CurrentUser%]' and not(contains(Code, 'x'))]
  }
  access Doc for Public {
    read Level
    where [Level > 7 or Docs.Doc_Tag/Docs.Tag/Name = 'public']
  }
  access Tag for Writer, Reviewer, Public { read Name }
}
user role W: Docs.Writer
user role R: Docs.Reviewer
user role WR: Docs.Writer, Docs.Reviewer
user role Guest: Docs.Public
app Docs {
  access: public
  anonymous: Guest
}
"#;

/// Retrieve constraints over `Docs.Doc` covering section 5: every attribute type, `empty`,
/// `not()`, paths forward and backward, reference sets, nested predicates, functions and tokens.
const CONSTRAINTS: &[&str] = &[
    "",
    "[Level = 3]",
    "[Level != 3]",
    "[Level >= 5]",
    "[Level < 2.5]",
    "[Level = empty]",
    "[Level != empty]",
    "[Title = 'ALPHA']",
    "[Title != 'alpha']",
    "[Title < 'b']",
    "[Title = empty]",
    "[contains(Title, 'LP')]",
    "[starts-with(Title, 'be')]",
    "[not(ends-with(Title, 'a'))]",
    "[string-length(Title) > 4]",
    "[Price > 2.50]",
    "[Price = 3]",
    "[Price <= 1.25]",
    "[Done = true()]",
    "[Done != false()]",
    "[Kind = 'Report']",
    "[Kind != 'Memo']",
    "[month-from-dateTime(Due) = 5]",
    "[hours-from-dateTime(Due, 'Europe/Amsterdam') >= 12]",
    "[not(day-from-dateTime(createdDate) > 20)]",
    "[Due > '[%CurrentDateTime%]']",
    "[Due < '[%CurrentDateTime%] - 2 * [%DayLength%]']",
    "[createdDate > '[%BeginOfCurrentDay%]']",
    "[System.owner = '[%CurrentUser%]']",
    "[System.owner != '[%CurrentUser%]']",
    "[System.owner = empty]",
    "[Docs.Doc_Reviewer = empty]",
    "[Docs.Doc_Reviewer/System.User/Name = 'u2']",
    "[Docs.Doc_Tag/Docs.Tag/Name = 'public']",
    "[Docs.Doc_Tag/Docs.Tag]",
    "[not(Docs.Doc_Tag/Docs.Tag)]",
    "[Docs.Doc_Tag/Docs.Tag[Name = 'red' or Name = 'blue']]",
    "[Docs.Doc_Parent/Docs.Doc/Level > 4]",
    "[Docs.Doc_Parent/Docs.Doc[Done = true()]/Title = 'gamma']",
    "[Docs.Doc_Parent/Docs.Doc/Docs.Doc_Parent/Docs.Doc]",
    "[Docs.Doc_Parent/Docs.Secret]",
    "[System.owner/System.User/System.UserRoles = '[%UserRole_W%]']",
    "[Docs.Doc_Reviewer/System.User/System.UserRoles = '[%UserRole_R%]']",
    "[not(Level > 3 and Done = true()) or Kind = 'Letter']",
    "[Level > 1][Title != empty]",
    "[Level < Price]",
    "[Level = Price]",
    "[not(Level != Price)]",
    "[Title = Title]",
    "[Due > createdDate]",
    "[Docs.Doc_Reviewer = '[%CurrentUser%]' or Docs.Doc_Parent/Docs.Doc/System.owner = '[%CurrentUser%]']",
];

const USERS: [(&str, &str); 5] = [("u1", "W"), ("u2", "R"), ("u3", "WR"), ("u4", "Guest"), ("u5", "W")];
const TITLES: [&str; 6] = ["alpha", "Beta", "gamma", "ÄLPHA", "delta", "be"];
const TAGS: [&str; 3] = ["public", "red", "blue"];

fn program() -> Program {
    let mut sources = SourceMap::new();
    sources.add("docs.rules", PROGRAM);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    checked.program
}

/// One generated document: every field drawn at random (`None`: empty).
#[derive(Clone, Debug)]
struct Doc {
    secret: Option<Option<bool>>,
    level: Option<i8>,
    title: Option<usize>,
    price: Option<i16>,
    done: bool,
    kind: u32,
    due_days: Option<i8>,
    created_days: i8,
    owner: Option<usize>,
    reviewer: Option<usize>,
    parent: Option<usize>,
    tags: Vec<usize>,
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        (
            prop::option::of(prop::option::of(any::<bool>())),
            prop::option::of(-2i8..10),
            prop::option::of(0..TITLES.len()),
        ),
        (prop::option::of(-100i16..600), any::<bool>(), 0u32..3, prop::option::of(-5i8..5), -3i8..1),
        (prop::option::of(0..USERS.len()), prop::option::of(0..USERS.len()), prop::option::of(0usize..12)),
        prop::collection::vec(0..TAGS.len(), 0..3),
    )
        .prop_map(
            |((secret, level, title), (price, done, kind, due_days, created_days), (owner, reviewer, parent), tags)| {
                Doc { secret, level, title, price, done, kind, due_days, created_days, owner, reviewer, parent, tags }
            },
        )
}

const NOW: i64 = 1_780_000_000_000;
const DAY: i64 = 86_400_000;

/// Users get ids 1..=5, tags 6..=8, documents from 9.
fn fill(program: &Program, store: &mut dyn Store, docs: &[Doc]) {
    let e = |n: &str| program.entity_by_name(n).unwrap();
    let m = |entity, n: &str| program.entity(entity).member(n).unwrap();
    let (user, tag, doc, secret) = (e("System.User"), e("Docs.Tag"), e("Docs.Doc"), e("Docs.Secret"));
    store.begin();
    for (i, (name, role)) in USERS.iter().enumerate() {
        let mut o = Object::new(program, ObjectId(1 + i as u64), user);
        o.values[m(user, "Name")] = Value::String(name.to_string());
        o.values[m(user, "System.UserRoles")] =
            Value::List(vec![ObjectId::of_role(program.user_role_by_name(role).unwrap())]);
        store.put(o);
    }
    for (i, name) in TAGS.iter().enumerate() {
        let mut o = Object::new(program, ObjectId(6 + i as u64), tag);
        o.values[m(tag, "Name")] = Value::String(name.to_string());
        store.put(o);
    }
    let first = 9;
    for (i, d) in docs.iter().enumerate() {
        let entity = if d.secret.is_some() { secret } else { doc };
        let mut o = Object::new(program, ObjectId(first + i as u64), entity);
        let set = |o: &mut Object, n: &str, v: Value| o.values[m(entity, n)] = v;
        set(&mut o, "Level", d.level.map_or(Value::Empty, |l| Value::Integer(l as i64)));
        set(&mut o, "Title", d.title.map_or(Value::Empty, |t| Value::String(TITLES[t].into())));
        set(&mut o, "Price", d.price.map_or(Value::Empty, |p| Value::Decimal(rust_decimal::Decimal::new(p as i64, 2))));
        set(&mut o, "Done", Value::Boolean(d.done));
        set(&mut o, "Kind", Value::Enum(program.enum_by_name("Docs.Kind").unwrap(), d.kind));
        set(&mut o, "Due", d.due_days.map_or(Value::Empty, |n| Value::DateTime(NOW + n as i64 * DAY / 2)));
        set(&mut o, "createdDate", Value::DateTime(NOW + d.created_days as i64 * DAY));
        set(&mut o, "System.owner", d.owner.map_or(Value::Empty, |u| Value::Object(ObjectId(1 + u as u64))));
        set(&mut o, "Docs.Doc_Reviewer", d.reviewer.map_or(Value::Empty, |u| Value::Object(ObjectId(1 + u as u64))));
        let parent = d.parent.filter(|p| *p < docs.len() && *p != i);
        set(&mut o, "Docs.Doc_Parent", parent.map_or(Value::Empty, |p| Value::Object(ObjectId(first + p as u64))));
        let mut tags: Vec<ObjectId> = d.tags.iter().map(|t| ObjectId(6 + *t as u64)).collect();
        tags.dedup();
        set(&mut o, "Docs.Doc_Tag", Value::List(tags));
        if let Some(code) = d.secret.flatten() {
            set(&mut o, "Code", Value::String(if code { "xyz".into() } else { "abc".into() }));
        }
        store.put(o);
    }
    store.commit().unwrap();
}

fn principal(k: usize) -> PrincipalName {
    match k {
        0 => PrincipalName::System,
        1 => PrincipalName::Anonymous(None),
        k => PrincipalName::User(USERS[(k - 2) % USERS.len()].0.into()),
    }
}

fn ids(outcome: Outcome) -> Vec<ObjectId> {
    match outcome {
        Outcome::Value(Value::List(mut ids)) => {
            ids.sort();
            ids
        }
        other => panic!("a retrieve gives a list, not {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn both_stores_return_the_same_objects_and_sql_is_exact_when_it_says_so(
        docs in prop::collection::vec(doc(), 0..12),
        who in 0usize..7,
        picks in prop::collection::vec(0..CONSTRAINTS.len(), 1..6),
        cache in prop_oneof![Just(0usize), Just(1), Just(3), Just(100_000)],
    ) {
        let mut program = program();
        let mut memory = MemoryStore::new();
        // The SQLite store reads objects when asked: with no cache, a cache that keeps evicting, or room for all.
        let mut sqlite = SqliteStore::in_memory_with(&program, cache);
        fill(&program, &mut memory, &docs);
        fill(&program, &mut sqlite, &docs);
        let text: String = picks.iter().map(|&c| format!("retrieve Docs.Doc {}\n", CONSTRAINTS[c])).collect();
        let stmts = warden::check::compile_statements(&mut program, "<retrieves>", &text).unwrap().stmts;
        let program = &program;
        let mut on_memory = Engine::new(program, Box::new(memory), NOW);
        let mut on_sqlite = Engine::new(program, Box::new(sqlite), NOW);
        on_memory.act_as(&principal(who)).unwrap();
        on_sqlite.act_as(&principal(who)).unwrap();
        for (stmt, &c) in stmts.iter().zip(&picks) {
            let expected = ids(on_memory.run_top(stmt, &mut Vars::new()).unwrap());
            let actual = ids(on_sqlite.run_top(stmt, &mut Vars::new()).unwrap());
            prop_assert_eq!(&actual, &expected, "retrieve Docs.Doc {} as {:?}", CONSTRAINTS[c], principal(who));
            // The query on its own: a superset always, the answer itself when exact.
            let query = on_sqlite.sql_of(stmt).unwrap();
            let mut selected = on_sqlite.store().select_ids(&query.text, &query.params).expect("the query runs");
            selected.sort();
            for id in &expected {
                prop_assert!(selected.contains(id), "the SQL misses {} for {}:\n{}", id, CONSTRAINTS[c], query.render());
            }
            if query.exact {
                prop_assert_eq!(&selected, &expected, "exact SQL for {}:\n{}", CONSTRAINTS[c], query.render());
            }
            // What the principal sees of each object, and may do with it, is the same too.
            prop_assert_eq!(on_sqlite.show(&Value::List(actual.clone())), on_memory.show(&Value::List(expected)));
        }
        prop_assert_eq!(on_sqlite.store().all(), on_memory.store().all());
        for id in (1..9 + docs.len() as u64).map(ObjectId) {
            let (a, b) = (on_memory.store().get(id).unwrap().into_owned(), on_sqlite.store().get(id).unwrap().into_owned());
            prop_assert_eq!(&a, &b);
            let members = program.entity(a.entity).members.len();
            let ops = [Op::See, Op::Delete, Op::Create]
                .into_iter()
                .chain((0..members).flat_map(|m| [Op::Read(m), Op::Write(m)]));
            for op in ops {
                prop_assert_eq!(on_sqlite.allowed(op, &b), on_memory.allowed(op, &a), "{:?} on {}", op, id);
            }
        }
    }
}

/// Most constraints translate exactly: what is left to the evaluator is named here, so a
/// translation that silently gives up shows up as a failing test.
#[test]
fn the_translation_is_exact_for_every_constraint_but_the_listed_ones() {
    let mut program = program();
    let mut sqlite = SqliteStore::in_memory(&program);
    fill(&program, &mut sqlite, &[]);
    let text: String = CONSTRAINTS.iter().map(|c| format!("retrieve Docs.Doc {c}\n")).collect();
    let stmts = warden::check::compile_statements(&mut program, "<retrieves>", &text).unwrap().stmts;
    let program = &program;
    let mut engine = Engine::new(program, Box::new(sqlite), NOW);
    let inexact = |engine: &Engine| -> Vec<&str> {
        stmts.iter().zip(CONSTRAINTS).filter(|(stmt, _)| !engine.sql_of(stmt).unwrap().exact).map(|(_, c)| *c).collect()
    };
    // With full rights, everything translates.
    assert_eq!(inexact(&engine), Vec::<&str>::new());
    // In a principal's view (section 4), what goes through an association, and an own
    // reference compared with anything but a known object, is left to the evaluator.
    engine.act_as(&PrincipalName::User("u3".into())).unwrap();
    assert_eq!(
        inexact(&engine),
        vec![
            "[System.owner != '[%CurrentUser%]']",
            "[System.owner = empty]",
            "[Docs.Doc_Reviewer = empty]",
            "[Docs.Doc_Reviewer/System.User/Name = 'u2']",
            "[Docs.Doc_Tag/Docs.Tag/Name = 'public']",
            "[Docs.Doc_Tag/Docs.Tag]",
            "[not(Docs.Doc_Tag/Docs.Tag)]",
            "[Docs.Doc_Tag/Docs.Tag[Name = 'red' or Name = 'blue']]",
            "[Docs.Doc_Parent/Docs.Doc/Level > 4]",
            "[Docs.Doc_Parent/Docs.Doc[Done = true()]/Title = 'gamma']",
            "[Docs.Doc_Parent/Docs.Doc/Docs.Doc_Parent/Docs.Doc]",
            "[Docs.Doc_Parent/Docs.Secret]",
            "[System.owner/System.User/System.UserRoles = '[%UserRole_W%]']",
            "[Docs.Doc_Reviewer/System.User/System.UserRoles = '[%UserRole_R%]']",
            "[Docs.Doc_Reviewer = '[%CurrentUser%]' or Docs.Doc_Parent/Docs.Doc/System.owner = '[%CurrentUser%]']",
        ]
    );
}

#[test]
fn tokens_and_constants_are_parameters_never_text() {
    let mut program = program();
    let mut sqlite = SqliteStore::in_memory(&program);
    fill(&program, &mut sqlite, &[]);
    let text = "retrieve Docs.Doc [Title = 'Robert''); DROP TABLE x; --'][Due < '[%CurrentDateTime%]']";
    let stmts = warden::check::compile_statements(&mut program, "<retrieve>", text).unwrap().stmts;
    let program = &program;
    let mut engine = Engine::new(program, Box::new(sqlite), NOW);
    engine.act_as(&PrincipalName::User("u1".into())).unwrap();
    let query = engine.sql_of(&stmts[0]).unwrap();
    assert!(!query.text.contains("Robert") && !query.text.contains(&NOW.to_string()), "{}", query.text);
    assert!(query.params.contains(&warden::store::SqlValue::Text("robert'); drop table x; --".into())));
    assert!(query.params.contains(&warden::store::SqlValue::Integer(NOW)));
    assert!(query.params.contains(&warden::store::SqlValue::Integer(1)), "the user's id: {:?}", query.params);
}

mod cli {
    //! The commands over a SQLite store give what they give over the JSON store.

    use std::path::{Path, PathBuf};

    use assert_cmd::Command;

    /// The demo app (all of `examples/`, one program) and its shop's store.
    const SHOP: &str = "examples";
    const SHOP_STORE: &str = "examples/shop.store.json";

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("warden-sqlite-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn warden(args: &[&str]) -> std::process::Output {
        Command::cargo_bin("warden").unwrap().args(args).output().unwrap()
    }

    fn s(p: &Path) -> &str {
        p.to_str().unwrap()
    }

    #[test]
    fn import_then_export_gives_back_the_json_store_and_the_same_answers() {
        let dir = scratch("roundtrip");
        let (db, out, json_copy) = (dir.join("shop.db"), dir.join("out.json"), dir.join("copy.json"));
        let import = warden(&["store", "import", SHOP, SHOP_STORE, s(&db)]);
        assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
        assert_eq!(
            String::from_utf8_lossy(&import.stderr).trim(),
            format!("copied 9 objects from {SHOP_STORE} to {}", db.display())
        );
        // Importing again into the same file is refused: import makes new stores.
        let again = warden(&["store", "import", SHOP, SHOP_STORE, s(&db)]);
        assert_eq!(again.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
        assert!(warden(&["store", "export", SHOP, s(&db), s(&out)]).status.success());
        assert!(warden(&["store", "import", SHOP, SHOP_STORE, s(&json_copy)]).status.success());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), std::fs::read_to_string(&json_copy).unwrap());
        for who in ["carl", "maria", "anonymous", "system"] {
            for expr in ["count(retrieve Shop.Cart)", "count(retrieve Shop.CartLine)", "retrieve Shop.Cart [Total > 2]"]
            {
                let on = |store: &str| {
                    let o = warden(&[
                        "eval",
                        SHOP,
                        "--store",
                        store,
                        "--as",
                        who,
                        "--now",
                        "2026-11-23T10:00:00Z",
                        "-e",
                        expr,
                    ]);
                    (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
                };
                assert_eq!(on(s(&db)), on(SHOP_STORE), "{expr} as {who}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sql_shows_the_query_and_its_parameters() {
        let dir = scratch("sql");
        let db = dir.join("shop.db");
        assert!(warden(&["store", "import", SHOP, SHOP_STORE, s(&db)]).status.success());
        let sql = |who: &str, retrieve: &str| {
            let o = warden(&["sql", SHOP, "--store", s(&db), "--as", who, "--now", "2026-11-23T10:00:00Z", retrieve]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        insta::assert_snapshot!("sql_owner_and_status", sql("carl", "retrieve Shop.Cart [Status = 'Open']"));
        insta::assert_snapshot!("sql_manager_lines", sql("maria", "retrieve Shop.CartLine [Quantity >= 2]"));
        let bad = warden(&["sql", SHOP, "--as", "system", "1 + 2"]);
        assert_eq!(bad.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("give a retrieve from the store"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn test_blocks_and_snapshots_give_the_same_report_on_both_stores() {
        for path in ["examples", "tests/inputs/syntax/spec_shop.rules", "tests/inputs/syntax/spec_quote.rules"] {
            let memory = warden(&["test", path, "--color", "never"]);
            let sqlite = warden(&["test", path, "--backend", "sqlite", "--color", "never"]);
            assert!(memory.status.success(), "{path}: {}", String::from_utf8_lossy(&memory.stdout));
            assert_eq!(sqlite.status.code(), memory.status.code(), "{path}");
            assert_eq!(String::from_utf8_lossy(&sqlite.stdout), String::from_utf8_lossy(&memory.stdout), "{path}");
        }
    }
}
