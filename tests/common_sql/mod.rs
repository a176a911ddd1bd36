//! What the differential tests of the SQL stores share (tests/sqlite.rs, tests/postgres.rs):
//! the program, its retrieve constraints, the random documents and how they are stored, and
//! the comparison of a store with the in-memory one.

use proptest::prelude::*;
use warden::eval::access::Op;
use warden::eval::{Engine, Outcome, PrincipalName, Vars};
use warden::model::Program;
use warden::source::SourceMap;
use warden::store::{MemoryStore, Object, ObjectId, Store, Value};

pub const PROGRAM: &str = r#"
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
pub const CONSTRAINTS: &[&str] = &[
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
    "[Title = 'istanbul']",
    "[Title = 'οδοσ']",
    "[contains(Title, '\u{264}')]",
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

pub const USERS: [(&str, &str); 5] = [("u1", "W"), ("u2", "R"), ("u3", "WR"), ("u4", "Guest"), ("u5", "W")];
/// With letters whose case folding differs between Unicode's full and simple mappings (`İ`,
/// a final `Σ`) and one newer than many C libraries (`Ꟍ`, U+A7CB, Unicode 16), which
/// PostgreSQL's `lower()` must fold as the evaluator does.
pub const TITLES: [&str; 9] = ["alpha", "Beta", "gamma", "ÄLPHA", "delta", "be", "İSTANBUL", "ΟΔΟΣ", "\u{a7cb}X"];
pub const TAGS: [&str; 3] = ["public", "red", "blue"];

pub fn program() -> Program {
    let mut sources = SourceMap::new();
    sources.add("docs.rules", PROGRAM);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    checked.program
}

/// One generated document: every field drawn at random (`None`: empty).
#[derive(Clone, Debug, Default)]
pub struct Doc {
    pub secret: Option<Option<bool>>,
    pub level: Option<i8>,
    pub title: Option<usize>,
    pub price: Option<i16>,
    pub done: bool,
    pub kind: u32,
    pub due_days: Option<i8>,
    pub created_days: i8,
    pub owner: Option<usize>,
    pub reviewer: Option<usize>,
    pub parent: Option<usize>,
    pub tags: Vec<usize>,
}

pub fn doc() -> impl Strategy<Value = Doc> {
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

pub const NOW: i64 = 1_780_000_000_000;
pub const DAY: i64 = 86_400_000;

/// Users get ids 1..=5, tags 6..=8, documents from 9.
pub fn fill(program: &Program, store: &mut dyn Store, docs: &[Doc]) {
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

pub fn principal(k: usize) -> PrincipalName {
    match k {
        0 => PrincipalName::System,
        1 => PrincipalName::Anonymous(None),
        k => PrincipalName::User(USERS[(k - 2) % USERS.len()].0.into()),
    }
}

pub fn ids(outcome: Outcome) -> Vec<ObjectId> {
    match outcome {
        Outcome::Value(Value::List(mut ids)) => {
            ids.sort();
            ids
        }
        other => panic!("a retrieve gives a list, not {other:?}"),
    }
}

/// Fills the in-memory store and `other` (made for the program) with `docs`, runs the retrieves
/// `picks` as principal `who` over both and compares: the same objects, what the principal sees
/// of them, the query on its own (a superset, the answer when exact), every object, and every
/// decision on each.
pub fn same_as_memory(
    docs: &[Doc],
    who: usize,
    picks: &[usize],
    other: impl FnOnce(&Program) -> Box<dyn Store>,
) -> Result<(), TestCaseError> {
    let mut program = program();
    let mut memory = MemoryStore::new();
    let mut sql = other(&program);
    fill(&program, &mut memory, docs);
    fill(&program, sql.as_mut(), docs);
    let text: String = picks.iter().map(|&c| format!("retrieve Docs.Doc {}\n", CONSTRAINTS[c])).collect();
    let stmts = warden::check::compile_statements(&mut program, "<retrieves>", &text).unwrap().stmts;
    let program = &program;
    let mut on_memory = Engine::new(program, Box::new(memory), NOW);
    let mut on_sqlite = Engine::new(program, sql, NOW);
    on_memory.act_as(&principal(who)).unwrap();
    on_sqlite.act_as(&principal(who)).unwrap();
    for (stmt, &c) in stmts.iter().zip(picks) {
        let expected = ids(on_memory.run_top(stmt, &mut Vars::new()).unwrap());
        let actual = ids(on_sqlite.run_top(stmt, &mut Vars::new()).unwrap());
        prop_assert_eq!(&actual, &expected, "retrieve Docs.Doc {} as {:?}", CONSTRAINTS[c], principal(who));
        // The query on its own: a superset always, the answer itself when exact.
        let query = on_sqlite.sql_of(stmt).unwrap();
        let selected = on_sqlite.store().select_ids(&query.text, &query.params);
        let mut selected = selected.unwrap_or_else(|| panic!("the query runs:\n{}", query.render()));
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
        let ops =
            [Op::See, Op::Delete, Op::Create].into_iter().chain((0..members).flat_map(|m| [Op::Read(m), Op::Write(m)]));
        for op in ops {
            prop_assert_eq!(on_sqlite.allowed(op, &b), on_memory.allowed(op, &a), "{:?} on {}", op, id);
        }
    }
    Ok(())
}

/// What `warden test` runs on every backend with the same report: the examples, the spec's
/// two programs, and each program of the test corpora that holds `test` blocks (one program a
/// file; some of their blocks fail on purpose, and must fail alike).
pub fn test_corpus() -> Vec<String> {
    let mut paths: Vec<String> =
        ["examples", "tests/inputs/syntax/spec_shop.rules", "tests/inputs/syntax/spec_quote.rules"]
            .map(String::from)
            .into();
    for dir in ["tests/inputs/eval", "tests/inputs/flows", "tests/inputs/runtime", "tests/inputs/coverage"] {
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rules"))
            .filter(|p| std::fs::read_to_string(p).unwrap().lines().any(|l| l.trim_start().starts_with("test ")))
            .map(|p| p.display().to_string())
            .collect();
        files.sort();
        paths.extend(files);
    }
    assert!(paths.len() > 20, "the corpora moved: {paths:?}");
    paths
}

/// The PostgreSQL database of the tests: `WARDEN_TEST_POSTGRES`, else the local `test` database.
pub fn url() -> String {
    std::env::var("WARDEN_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether the test database answers; without it a test fails saying how to start one, or,
/// with `WARDEN_SKIP_POSTGRES=1`, prints that it is skipped.
pub fn server(test: &str) -> bool {
    match warden::store::postgres::connect(&url()) {
        Ok(_) => true,
        Err(e) if std::env::var("WARDEN_SKIP_POSTGRES").as_deref() == Ok("1") => {
            println!("skipped: {test}: no PostgreSQL ({e}); WARDEN_SKIP_POSTGRES=1 is set");
            false
        }
        Err(e) => panic!(
            "{test} needs PostgreSQL at {} (set WARDEN_TEST_POSTGRES to another): {e}\n\
             start a throwaway one: `initdb -D /tmp/pg -U postgres --auth=trust && \
             pg_ctl -D /tmp/pg -o '-p 5432 -k /tmp' -l /tmp/pg.log start && createdb -h 127.0.0.1 -U postgres test`\n\
             or set WARDEN_SKIP_POSTGRES=1 to skip these tests",
            url()
        ),
    }
}
