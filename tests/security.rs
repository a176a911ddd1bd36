//! The security properties of section 4, over random sequences of statements by several
//! anonymous sessions and users (create, change, link, commit, delete, rollback, sign-in,
//! microflow calls, retrieves), each run over the in-memory store and a SQLite file:
//!
//! (a) the store always saves and loads again: after every statement as JSON, and at the
//!     end from the SQLite file; both stores hold the same objects;
//! (b) no retrieve returns, counts or reveals through its constraint anything the principal
//!     may not see: changing what it may not see (members it may not read, objects it may
//!     not see) never changes the answer, as long as what it does see stays the same;
//! (c) sign-in never moves or deletes an object that the signing-in session could not see;
//! (d) a principal's own statements link objects only to objects it may know of;
//! (e) no error a principal's statement fails with names an object it may not know of (other
//!     than one it named itself, or one its own uncommitted objects refer to).
//!
//! The default run is short; `cargo test --test security -- --ignored` runs the long one
//! (more than 10^5 sessions), as `.ci/run` does.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rust_decimal::Decimal;
use warden::eval::access::Op;
use warden::eval::{Engine, Outcome, SessionKey, Vars};
use warden::model::flow::{ExprKind, Stmt, StmtKind};
use warden::model::{AttrType, MemberKind, Program, SYSTEM_USER};
use warden::source::SourceMap;
use warden::store::sqlite::Mode;
use warden::store::{load_json, to_json, MemoryStore, Object, ObjectId, SqliteStore, Store, Value};

const PROGRAM: &str = r#"
module Shop {
  entity Product {
    Name: String(20)
    Price: Decimal
    Cost: Decimal
  }
  entity Cart {
    stores owner, createdDate
    Total: Decimal = 0
    Note: String(10)
  }
  entity Line {
    stores owner
    Quantity: Integer = 1
    Due: DateTime
  }
  entity Wish {
    Note: String
  }
  association Line_Cart: Line -> Cart {
    on delete Cart: cascade
  }
  association Line_Product: Line -> Product
  association Wish_User: Wish -> System.User {
    on delete System.User: cascade
  }
  association Cart_Fans: Cart ->* System.User
  entity Tag { Note: String }
  association Tag_Line: Tag -> Line {
    on delete Line: prevent
  }

  module role Visitor
  module role Buyer
  module role Manager

  access Product for Visitor, Buyer {
    read Name, Price
  }
  access Product for Manager {
    create
    delete
    write *
  }
  access Cart for Visitor, Buyer {
    create
    delete
    write Total, Note, Cart_Fans
    where [System.owner = '[%CurrentUser%]']
  }
  access Cart for Manager {
    read Total, Note, System.owner
    where [Total > 5]
  }
  access Line for Visitor, Buyer {
    create
    delete
    write Quantity, Due, Line_Cart, Line_Product
    where [System.owner = '[%CurrentUser%]']
  }
  access Line for Manager {
    read Quantity
    where [Shop.Line_Cart/Shop.Cart/Total > 5]
  }
  access Wish for Visitor, Buyer {
    create
    delete
    write Note, Wish_User
    where [Shop.Wish_User = '[%CurrentUser%]']
  }

  microflow Transfer(AnonymousUser: System.User, SignedInUser: System.User) {
    for $c in retrieve Shop.Cart [System.owner = $AnonymousUser] {
      change $c { System.owner = $SignedInUser }
      commit $c
    }
    for $l in retrieve Shop.Line [System.owner = $AnonymousUser] {
      change $l { System.owner = $SignedInUser }
      commit $l
    }
  }

  microflow Bump(Cart: Shop.Cart) allow Visitor, Buyer apply entity access {
    change $Cart { Total = $Cart/Total + 1 }
    commit $Cart
    return count(retrieve Shop.Line [Shop.Line_Cart = $Cart])
  }
}

user role Guest: Shop.Visitor
user role Customer: Shop.Buyer
user role Staff: Shop.Manager

app Shop {
  access: public
  anonymous: Guest
  sign-in: Shop.Transfer
}
"#;

const SETUP: &str = "given {
  user alice: Customer
  user bob: Customer
  user mia: Staff
  let $p1 = create Shop.Product { Name = 'pen', Price = 1.50, Cost = 0.40 }
  let $p2 = create Shop.Product { Name = 'ink', Price = 3, Cost = 2.25 }
}";

const PRINCIPALS: [&str; 7] = ["anonymous 'A'", "anonymous 'B'", "anonymous 'C'", "alice", "bob", "mia", "system"];

/// Retrieve constraints by entity: members the visitors may not read (`Cost`, owners), paths
/// through associations they may or may not read, to objects they may or may not see.
const RETRIEVES: &[(&str, &[&str])] = &[
    (
        "Shop.Product",
        &[
            "",
            "[Cost > 1]",
            "[Cost = empty]",
            "[Cost != 0.40]",
            "[not(Cost > 1)]",
            "[Price < Cost]",
            "[Name = 'PEN']",
            "[Shop.Line_Product/Shop.Line/Quantity = 4]",
            "[Shop.Line_Product/Shop.Line]",
            "[not(Shop.Line_Product/Shop.Line/Shop.Line_Cart/Shop.Cart/Total > 5)]",
        ],
    ),
    (
        "Shop.Cart",
        &[
            "",
            "[Total > 5]",
            "[System.owner = '[%CurrentUser%]']",
            "[System.owner = empty]",
            "[System.owner != '[%CurrentUser%]']",
            "[Note = 'a']",
            "[contains(Note, 'B')]",
            "[createdDate > '[%BeginOfCurrentDay%]']",
            "[Shop.Line_Cart/Shop.Line/Quantity > 2]",
            "[Shop.Line_Cart/Shop.Line/Shop.Line_Product/Shop.Product/Cost > 0.5]",
            "[Shop.Cart_Fans/System.User/Name = 'bob']",
            "[Shop.Cart_Fans = '[%CurrentUser%]']",
        ],
    ),
    (
        "Shop.Line",
        &[
            "",
            "[Quantity > 1]",
            "[Shop.Line_Cart/Shop.Cart/Total > 5]",
            "[Shop.Line_Cart = empty]",
            "[Shop.Line_Product/Shop.Product/Cost > 0.3]",
            "[System.owner/System.User/Name = 'alice']",
            "[Shop.Line_Cart/Shop.Cart/System.owner = '[%CurrentUser%]']",
            "[year-from-dateTime(Due) > 2000]",
        ],
    ),
    (
        "Shop.Wish",
        &["", "[Shop.Wish_User = '[%CurrentUser%]']", "[Note = 'w']", "[Shop.Wish_User/System.User/Name = 'bob']"],
    ),
];

fn program() -> Program {
    let mut sources = SourceMap::new();
    sources.add("security.rules", PROGRAM);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    checked.program
}

/// An object named in a statement: an id (often one that exists) or a variable.
fn target(pick: u8) -> String {
    match pick % 2 {
        0 => format!("$v{}", (pick / 2) % 3),
        _ => format!("#{}", 1 + (pick / 2) as u32 % 12),
    }
}

/// One statement, decided by four numbers (so that proptest shrinks sequences, not text).
fn statement(op: u8, a: u8, b: u8, c: u8) -> String {
    let number = |n: u8| ["-3", "0", "3", "7", "12.5", "3000000000"][n as usize % 6];
    let text = |n: u8| ["'a'", "'Bb'", "'abcdefghijklmno'", "''"][n as usize % 4];
    match op % 22 {
        0 | 1 | 20 | 21 => format!("as {}", PRINCIPALS[a as usize % PRINCIPALS.len()]),
        2 => format!("$v{} = create Shop.Cart {{ Total = {}, Note = {} }}", a % 3, number(b), text(c)),
        3 => format!(
            "$v{} = create Shop.Line {{ Quantity = {}, Shop.Line_Cart = {}, Shop.Line_Product = {} }}",
            a % 3,
            number(b),
            target(c),
            ["#4", "#5", "empty"][(c / 4) as usize % 3]
        ),
        4 => {
            let user = if b.is_multiple_of(2) { "$currentUser".to_string() } else { target(b) };
            format!("$v{} = create Shop.Wish {{ Note = 'w', Shop.Wish_User = {user} }}", a % 3)
        }
        5 => format!("change {} {{ Total = {} }}", target(a), number(b)),
        6 => format!("change {} {{ Shop.Line_Cart = {} }}", target(a), target(b)),
        7 => format!("change {} {{ Cost = {} }}", target(a), number(b)),
        8 => format!("change {} {{ Shop.Cart_Fans += {} }}", target(a), target(b)),
        9 => format!(
            "change {} {{ Due = addYears([%CurrentDateTime%], {}) }}",
            target(a),
            [1, 100, 9000][b as usize % 3]
        ),
        10 | 11 => format!("commit {}", target(a)),
        12 => format!("commit [{}, {}]", target(a), target(b)),
        13 => format!("delete {}", target(a)),
        14 => format!("rollback {}", target(a)),
        15 => format!("sign in {}", ["alice", "bob", "mia"][a as usize % 3]),
        16 => format!("call Shop.Bump(Cart = {})", target(a)),
        17 => format!("$v{} = create Shop.Tag {{ Note = 't', Shop.Tag_Line = {} }}", a % 3, target(b)),
        _ => {
            let (entity, constraints) = RETRIEVES[a as usize % RETRIEVES.len()];
            let constraint = constraints[b as usize % constraints.len()];
            if c.is_multiple_of(3) {
                format!("count(retrieve {entity} {constraint})")
            } else {
                format!("retrieve {entity} {constraint}")
            }
        }
    }
}

/// A statement parsed and checked against the program (the program keeps it among its
/// sources). The variables `$v0`..`$v2` may hold anything: they are slots 0 to 2 of every
/// statement's frame, of no known type (the setup's `given` has a frame of its own).
fn parse(program: &mut Program, text: &str) -> Option<Stmt> {
    let file = program.sources.add("<statement>", text.to_string());
    let stmts = warden::syntax::parse_statements(text, file).ok()?;
    let mut scope = warden::model::flow::Scope::default();
    if !text.starts_with("given") {
        for k in 0..3 {
            scope.push(smol_str::SmolStr::new(format!("v{k}")), warden::model::Type::Unknown);
        }
    }
    let mut checked = warden::check::check_statements(program, &stmts, &scope);
    if checked.has_errors() || checked.stmts.len() != 1 {
        return None;
    }
    checked.stmts.pop()
}

/// What the acting principal may know of: every object it may know of, with what it may read.
fn view(engine: &Engine<'_>) -> Vec<(u64, serde_json::Value)> {
    let mut ids: Vec<ObjectId> = engine.store().all().iter().map(|o| o.id).collect();
    ids.extend(engine.session().uncommitted.keys().copied());
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter().filter(|id| engine.knows(*id)).map(|id| (id.0, engine.show_json(&Value::Object(id)))).collect()
}

/// A copy of the store in which what the principal may not see is changed at random: members
/// it may not read, and every member of objects it may not know of (users stay as they are, so
/// that principals are the same).
fn perturbed(engine: &Engine<'_>, program: &Program, seed: u64) -> MemoryStore {
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n.max(1)
    };
    let objects: Vec<Object> = engine.store().all().into_iter().map(|o| o.into_owned()).collect();
    let of =
        |entity| -> Vec<ObjectId> { objects.iter().filter(|o| program.is_a(o.entity, entity)).map(|o| o.id).collect() };
    let mut store = MemoryStore::new();
    for object in &objects {
        let mut changed = object.clone();
        if !program.is_a(object.entity, SYSTEM_USER) {
            let known = engine.knows(object.id);
            for (m, def) in program.entity(object.entity).members.iter().enumerate() {
                let hidden = !known || !engine.allowed(Op::Read(m), object);
                if !hidden || next(2) == 0 {
                    continue;
                }
                changed.values[m] = match def.kind {
                    MemberKind::Attribute(AttrType::Decimal) => {
                        [Value::Empty, Value::Decimal(Decimal::new(next(900) as i64, 2))][next(2) as usize].clone()
                    }
                    MemberKind::Attribute(AttrType::Integer) => Value::Integer(next(6) as i64),
                    MemberKind::Attribute(AttrType::String(_)) => {
                        [Value::Empty, Value::String("a".into()), Value::String("bob".into())][next(3) as usize].clone()
                    }
                    MemberKind::Attribute(AttrType::DateTime) => Value::DateTime(next(4_000_000_000_000) as i64),
                    MemberKind::Attribute(_) => continue,
                    MemberKind::Association(a) => {
                        let targets = of(program.assoc(a).to);
                        if program.assoc(a).multiplicity == warden::syntax::ast::Multiplicity::ReferenceSet {
                            Value::List(targets.into_iter().filter(|_| next(3) == 0).collect())
                        } else if targets.is_empty() || next(4) == 0 {
                            Value::Empty
                        } else {
                            Value::Object(targets[next(targets.len() as u64) as usize])
                        }
                    }
                };
            }
        }
        store.put(changed);
    }
    store
}

/// The ids a retrieve statement returned (a list, or a count as that many).
fn answer(outcome: &Result<Outcome, warden::eval::EvalError>) -> Option<Result<Value, String>> {
    match outcome {
        Ok(Outcome::Value(v)) => Some(Ok(v.clone())),
        Err(e) => Some(Err(e.message.clone())),
        _ => None,
    }
}

fn is_retrieve(stmt: &Stmt) -> bool {
    let StmtKind::Expr(e) = &stmt.kind else { return false };
    match &e.kind {
        ExprKind::Retrieve { .. } => true,
        ExprKind::Function { args, .. } => args.iter().any(|a| matches!(a.kind, ExprKind::Retrieve { .. })),
        _ => false,
    }
}

/// Every reference in the store and in every session's uncommitted objects: (object, member, target).
fn links(engine: &Engine<'_>) -> std::collections::BTreeSet<(ObjectId, usize, ObjectId)> {
    let mut out = std::collections::BTreeSet::new();
    let objects: Vec<Object> = engine
        .store()
        .all()
        .into_iter()
        .map(|o| o.into_owned())
        .chain(engine.sessions().map(|(_, s)| s).flat_map(|s| s.uncommitted.values().cloned()))
        .collect();
    for o in objects {
        for (m, v) in o.values.iter().enumerate() {
            let targets: Vec<ObjectId> = match v {
                Value::Object(t) => vec![*t],
                Value::List(ts) => ts.clone(),
                _ => continue,
            };
            for t in targets.into_iter().filter(|t| t.role().is_none()) {
                out.insert((o.id, m, t));
            }
        }
    }
    out
}

/// The object ids a text names (`#12`; not a fresh anonymous session's name, `anonymous:#1`).
fn ids_in(text: &str) -> Vec<ObjectId> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('#') {
        let session = rest[..i].ends_with("anonymous:");
        rest = &rest[i + 1..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let (Ok(n), false) = (digits.parse(), session) {
            out.push(ObjectId(n));
        }
    }
    out
}

/// The object ids in a value.
fn value_ids(value: &Value) -> Vec<ObjectId> {
    match value {
        Value::Object(id) => vec![*id],
        Value::List(ids) => ids.clone(),
        _ => Vec::new(),
    }
}

fn refers(value: &Value, target: ObjectId) -> bool {
    match value {
        Value::Object(id) => *id == target,
        Value::List(ids) => ids.contains(&target),
        _ => false,
    }
}

static CASES: AtomicUsize = AtomicUsize::new(0);

/// How much a run exercised each property: sessions (of anonymous visitors and users that
/// acted, distinct per sequence; system is none), statements run, retrieves whose answer was
/// compared over a changed store, sign-ins checked.
#[derive(Default)]
struct Counts {
    sessions: Cell<usize>,
    run: Cell<usize>,
    compared: Cell<usize>,
    sign_ins: Cell<usize>,
}

fn add(cell: &Cell<usize>, n: usize) {
    cell.set(cell.get() + n);
}

/// Runs one sequence, checking (a), (b) and (c) at every statement.
fn run_sequence(ops: &[(u8, u8, u8, u8)], counts: &Counts) -> Result<(), TestCaseError> {
    let mut program = program();
    let setup = parse(&mut program, SETUP).expect("the setup checks");
    let stmts: Vec<(String, Option<Stmt>)> = ops
        .iter()
        .map(|&(op, a, b, c)| {
            let text = statement(op, a, b, c);
            let stmt = parse(&mut program, &text);
            (text, stmt)
        })
        .collect();
    let program = &program;
    let case = CASES.fetch_add(1, Ordering::Relaxed);
    // SQLite syncs every commit to disk: on a memory file system that costs nothing.
    let base = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
    let dir = base.join(format!("warden-security-{}-{case}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("store.db");
    let _ = std::fs::remove_file(&file);
    // The store reads objects when asked: with no cache, one that keeps evicting, or room for all.
    let cache = [0, 2, 5, 100_000][case % 4];
    let sqlite = SqliteStore::open_with(program, &file, Mode::Create, cache)
        .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    let now = warden::time::parse_instant("2026-11-22T10:00:00Z").unwrap();
    let mut memory = Engine::new(program, Box::new(MemoryStore::new()), now);
    let mut on_sqlite = Engine::new(program, Box::new(sqlite), now);
    memory.set_step_budget(200_000);
    on_sqlite.set_step_budget(200_000);
    let (mut vars, mut vars_sql) = (Vars::new(), Vars::new());
    memory.run_top(&setup, &mut vars).unwrap();
    on_sqlite.run_top(&setup, &mut vars_sql).unwrap();
    let mut sessions = std::collections::BTreeSet::new();
    for (text, stmt) in &stmts {
        let Some(stmt) = stmt else { continue };
        let signing_in =
            matches!(stmt.kind, StmtKind::SignIn { .. }) && matches!(memory.current(), SessionKey::Anonymous(_));
        // (c) what the signing-in session may know of, and every object as it was.
        let before: Option<(BTreeMap<ObjectId, Object>, Option<ObjectId>)> = signing_in.then(|| {
            let all = memory.store().all().into_iter().map(|o| (o.id, o.into_owned())).collect();
            (all, memory.session().user)
        });
        let known_before: Vec<ObjectId> = before
            .as_ref()
            .map(|(all, _)| all.keys().copied().filter(|id| memory.knows(*id)).collect())
            .unwrap_or_default();
        let view_before = (is_retrieve(stmt) && !memory.is_system()).then(|| view(&memory));
        // (d) what a principal's own statement links to, it knew of (a microflow with full
        // rights, such as sign-in's, may link anything).
        let full_rights = matches!(stmt.kind, StmtKind::SignIn { .. } | StmtKind::Given(_)) || memory.is_system();
        let links_before = (!full_rights).then(|| {
            let known: std::collections::BTreeSet<ObjectId> = memory
                .store()
                .all()
                .iter()
                .map(|o| o.id)
                .chain(memory.session().uncommitted.keys().copied())
                .filter(|id| memory.knows(*id))
                .collect();
            let existed: std::collections::BTreeSet<ObjectId> = memory
                .store()
                .all()
                .iter()
                .map(|o| o.id)
                .chain(memory.sessions().map(|(_, s)| s).flat_map(|s| s.uncommitted.keys().copied()))
                .collect();
            (links(&memory), known, existed)
        });
        // (e) what an error may name: what the principal may know of, what it named itself (in
        // the statement or a variable), what its own uncommitted objects refer to.
        let nameable: Option<std::collections::BTreeSet<ObjectId>> = (!full_rights).then(|| {
            let store_ids = memory.store().all().iter().map(|o| o.id).collect::<Vec<_>>();
            let session = memory.session();
            store_ids
                .into_iter()
                .chain(session.uncommitted.keys().copied())
                .filter(|id| memory.knows(*id))
                .chain(ids_in(text))
                .chain(vars.values().iter().flatten().flat_map(value_ids))
                .chain(session.uncommitted.values().flat_map(|o| o.values.iter().flat_map(value_ids)))
                .collect()
        });
        let existed_before: std::collections::BTreeSet<ObjectId> = memory
            .store()
            .all()
            .iter()
            .map(|o| o.id)
            .chain(memory.sessions().map(|(_, s)| s).flat_map(|s| s.uncommitted.keys().copied()))
            .collect();
        let fork_seed = (case as u64) << 16 | sessions.len() as u64;
        let forks: Vec<Engine<'_>> = match &view_before {
            Some(_) => (0..3).map(|k| memory.fork(Box::new(perturbed(&memory, program, fork_seed + k)))).collect(),
            None => Vec::new(),
        };
        let outcome = memory.run_top(stmt, &mut vars);
        let outcome_sql = on_sqlite.run_top(stmt, &mut vars_sql);
        add(&counts.run, 1);
        // The sessions of anonymous visitors and users that acted (system is not one).
        if *memory.current() != SessionKey::System {
            sessions.insert(memory.current().clone());
        }
        // Both stores answer alike.
        match (&outcome, &outcome_sql) {
            (Ok(a), Ok(b)) => {
                let show = |e: &Engine<'_>, o: &Outcome| match o {
                    Outcome::Value(v) => e.show(v),
                    other => format!("{other:?}"),
                };
                prop_assert_eq!(show(&memory, a), show(&on_sqlite, b), "`{}`", text);
            }
            (Err(a), Err(b)) => prop_assert_eq!(&a.message, &b.message, "`{}`", text),
            (a, b) => prop_assert!(false, "`{}`: memory {:?}, SQLite {:?}", text, a.is_ok(), b.is_ok()),
        }
        if let (Some((before, known, existed)), Ok(_)) = (&links_before, &outcome) {
            for (from, member, to) in links(&memory) {
                // Made by this statement (its objects, an anonymous session's user): known to it.
                let new_object = !existed.contains(&to);
                if before.contains(&(from, member, to)) || known.contains(&to) || new_object {
                    continue;
                }
                prop_assert!(
                    false,
                    "`{}`: {} linked {} to {}, which it could not see",
                    text,
                    memory.principal_name(),
                    from,
                    to
                );
            }
        }
        if let (Some(nameable), Err(e)) = (&nameable, &outcome) {
            for id in ids_in(&e.message) {
                prop_assert!(
                    nameable.contains(&id) || !existed_before.contains(&id),
                    "`{}` as {}: the error `{}` names {}, which it may not know of",
                    text,
                    memory.principal_name(),
                    e.message,
                    id
                );
            }
        }
        // (a) the store saves and loads again.
        let saved = to_json(program, memory.store()).to_string();
        prop_assert!(load_json(program, &saved).is_ok(), "after `{}`: {:?}", text, load_json(program, &saved).err());
        // (b) what a retrieve returns it may see, and nothing it may not see changes the answer.
        if let Some(seen) = view_before {
            if let Ok(Outcome::Value(Value::List(ids))) = &outcome {
                for id in ids {
                    prop_assert!(
                        memory.knows(*id),
                        "`{}` returned {} that {} may not see",
                        text,
                        id,
                        memory.principal_name()
                    );
                }
            }
            for mut fork in forks {
                if view(&fork) != seen {
                    continue;
                }
                add(&counts.compared, 1);
                let other = fork.run_top(stmt, &mut vars.clone());
                prop_assert_eq!(
                    answer(&other),
                    answer(&outcome),
                    "`{}` as {}: the answer depends on what it may not see",
                    text,
                    memory.principal_name()
                );
            }
        }
        // (c) sign-in moves and deletes only what the session could see.
        if let (Some((all, anonymous)), Ok(_)) = (before, &outcome) {
            add(&counts.sign_ins, 1);
            for (id, old) in all {
                if known_before.contains(&id) || Some(id) == anonymous {
                    continue;
                }
                let now = memory.store().get(id).map(|o| o.into_owned());
                prop_assert!(now.is_some(), "sign-in deleted {} that the session could not see", id);
                let now = now.unwrap();
                for (m, (a, b)) in old.values.iter().zip(&now.values).enumerate() {
                    // A reference to the deleted anonymous user is cleared (delete behaviour `keep`).
                    let cleared = anonymous.is_some_and(|u| refers(a, u));
                    prop_assert!(
                        a == b || cleared,
                        "sign-in changed member {} of {} that the session could not see",
                        m,
                        id
                    );
                }
            }
        }
    }
    add(&counts.sessions, sessions.len());
    // (a) on SQLite: the file loads again, with the same objects.
    drop(on_sqlite);
    let reopened = SqliteStore::open(program, &file, Mode::Read).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert_eq!(to_json(program, &reopened), to_json(program, memory.store()));
    drop(reopened);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn ops() -> impl Strategy<Value = Vec<(u8, u8, u8, u8)>> {
    prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()), 10..60)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_sessions_keep_the_store_whole_and_see_only_what_they_may(ops in ops()) {
        run_sequence(&ops, &Counts::default())?;
    }
}

/// A short run that reports how much it exercised (and fails when it exercised little).
#[test]
fn the_short_run_exercises_every_property() {
    let counts = Counts::default();
    let config = ProptestConfig { cases: 150, ..ProptestConfig::default() };
    proptest::test_runner::TestRunner::new(config).run(&ops(), |ops| run_sequence(&ops, &counts)).unwrap();
    let (run, compared, sign_ins) = (counts.run.get(), counts.compared.get(), counts.sign_ins.get());
    eprintln!("{} sessions, {run} statements, {compared} answers compared, {sign_ins} sign-ins", counts.sessions.get());
    assert!(
        run > 1_000 && compared > 50 && sign_ins > 5,
        "{run} statements, {compared} comparisons, {sign_ins} sign-ins"
    );
}

/// The long run: more than 10^5 sessions in all (`.ci/run` runs it).
#[test]
#[ignore = "long: run with `cargo test --release --test security -- --ignored`"]
fn more_than_a_hundred_thousand_sessions() {
    let counts = Counts::default();
    let cases = 32_000;
    let config = ProptestConfig { cases, ..ProptestConfig::default() };
    proptest::test_runner::TestRunner::new(config).run(&ops(), |ops| run_sequence(&ops, &counts)).unwrap();
    let (sessions, run, compared, sign_ins) =
        (counts.sessions.get(), counts.run.get(), counts.compared.get(), counts.sign_ins.get());
    eprintln!(
        "{sessions} sessions in {cases} sequences: {run} statements run, {compared} retrieve answers compared over a changed store, {sign_ins} sign-ins checked"
    );
    assert!(sessions > 100_000, "only {sessions} sessions");
    // Not vacuous: each property was put to the test many times.
    assert!(compared > 20_000 && sign_ins > 2_000, "{compared} comparisons, {sign_ins} sign-ins");
}

/// The attacks of the issue that found the holes, as plain statements.
#[test]
fn the_reported_attacks_fail() {
    let mut program = program();
    let texts = [
        SETUP,
        "as anonymous 'A'",
        "$v0 = create Shop.Cart { Total = 3 }",
        "commit $v0",
        // B links its line to A's cart (ids are sequential, so guessable).
        "as anonymous 'B'",
        "$v1 = create Shop.Line { Quantity = 4, Shop.Line_Cart = #7 }",
        "$v2 = create Shop.Wish { Note = 'mine', Shop.Wish_User = #6 }",
        // A reference to an object that is not committed.
        "$v1 = create Shop.Cart {}",
        "$v2 = create Shop.Line { Shop.Line_Cart = $v1 }",
        "commit $v2",
        "commit [$v1, $v2]",
        // Bisecting a value the visitor may not read.
        "count(retrieve Shop.Product [Cost > 1])",
        "count(retrieve Shop.Product [Cost > 0])",
        // Probing ids.
        "change #7 { Total = 0 }",
        "change #99 { Total = 0 }",
        // A delete refused because of an object the visitor cannot see does not name it.
        "as system",
        "$v0 = create Shop.Line { Shop.Line_Cart = #7 }",
        "$v1 = create Shop.Tag { Note = 't', Shop.Tag_Line = $v0 }",
        "commit [$v0, $v1]",
        "as anonymous 'A'",
        "delete #7",
    ];
    let stmts: Vec<Stmt> =
        texts.iter().map(|t| parse(&mut program, t).unwrap_or_else(|| panic!("`{t}` checks"))).collect();
    let program = &program;
    let now = warden::time::parse_instant("2026-11-22T10:00:00Z").unwrap();
    let mut engine = Engine::new(program, Box::new(MemoryStore::new()), now);
    let mut vars = Vars::new();
    let results: Vec<String> = stmts
        .iter()
        .map(|s| match engine.run_top(s, &mut vars) {
            Ok(Outcome::Value(v)) => engine.show(&v),
            Ok(_) => "ok".into(),
            Err(e) => format!("{} {}", e.code, e.message),
        })
        .collect();
    assert_eq!(
        results[4..],
        [
            "ok",
            "R001 no object #7 that you can see",
            "R001 no object #6 that you can see",
            "ok",
            "ok",
            "R010 Shop.Line #10 refers through `Shop.Line_Cart` to Shop.Cart #9, which is not committed",
            "ok",
            "0",
            "0",
            "R001 no object #7 that you can see",
            "R001 no object #99 that you can see",
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "R003 cannot delete Shop.Cart #7: association `Shop.Tag_Line` prevents it while associated objects exist",
        ]
    );
}
