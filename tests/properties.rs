//! Properties that must always hold: deny by default (an object matched by no
//! applicable rule is never visible, readable, writable or deletable), and the
//! JSON store round-trips.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use proptest::prelude::*;
use rust_decimal::Decimal;
use warden::eval::access::Op;
use warden::eval::{Engine, PrincipalName};
use warden::model::Program;
use warden::source::SourceMap;
use warden::store::{self, MemoryStore, Object, ObjectId, Store, Value};

const PROGRAM: &str = r#"
module Docs {
  entity Doc {
    stores owner
    Level: Integer = 0
    Title: String
    Price: Decimal
  }
  entity Secret { Code: String }
  module role Reader
  module role Writer
  access Doc for Reader {
    read Title
    where [Level > 5]
  }
  access Doc for Writer {
    delete
    write Level
    where [System.owner = '[%CurrentUser%]']
  }
}
user role R: Docs.Reader
user role W: Docs.Writer
user role RW: Docs.Reader, Docs.Writer
user role Nobody: Docs.Reader
"#;

fn program() -> Program {
    let mut sources = SourceMap::new();
    sources.add("docs.rules", PROGRAM);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    checked.program
}

/// A user (by index) with a role, and documents with a level and an owner.
#[derive(Clone, Debug)]
struct World {
    roles: Vec<usize>,
    docs: Vec<(i64, usize)>,
    secrets: usize,
}

fn world() -> impl Strategy<Value = World> {
    (prop::collection::vec(0usize..4, 1..4), prop::collection::vec((-3i64..12, 0usize..3), 0..12), 0usize..3)
        .prop_map(|(roles, docs, secrets)| World { roles, docs, secrets })
}

const ROLE_NAMES: [&str; 4] = ["R", "W", "RW", "Nobody"];

fn build(program: &Program, w: &World) -> (MemoryStore, Vec<ObjectId>, Vec<ObjectId>) {
    let mut s = MemoryStore::new();
    let user = program.entity_by_name("System.User").unwrap();
    let doc = program.entity_by_name("Docs.Doc").unwrap();
    let secret = program.entity_by_name("Docs.Secret").unwrap();
    for (i, role) in w.roles.iter().enumerate() {
        let id = s.allocate_id();
        let mut o = Object::new(program, id, user);
        let def = program.entity(user);
        o.values[def.member("Name").unwrap()] = Value::String(format!("u{i}"));
        let r = program.user_role_by_name(ROLE_NAMES[*role]).unwrap();
        o.values[def.member("System.UserRoles").unwrap()] = Value::List(vec![ObjectId::of_role(r)]);
        s.put(o);
    }
    let mut docs = Vec::new();
    for (level, owner) in &w.docs {
        let id = s.allocate_id();
        let mut o = Object::new(program, id, doc);
        let def = program.entity(doc);
        o.values[def.member("Level").unwrap()] = Value::Integer(*level);
        o.values[def.member("Title").unwrap()] = Value::String(format!("doc {id}"));
        if *owner < w.roles.len() {
            o.values[def.member("System.owner").unwrap()] = Value::Object(ObjectId(*owner as u64 + 1));
        }
        s.put(o);
        docs.push(id);
    }
    let mut secrets = Vec::new();
    for _ in 0..w.secrets {
        let id = s.allocate_id();
        s.put(Object::new(program, id, secret));
        secrets.push(id);
    }
    (s, docs, secrets)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn nothing_is_granted_without_a_matching_rule(w in world()) {
        let program = program();
        let (s, docs, secrets) = build(&program, &w);
        for (i, role) in w.roles.iter().enumerate() {
            let mut engine = Engine::new(&program, Box::new(s.clone()), 0);
            engine.act_as(&PrincipalName::User(format!("u{i}"))).unwrap();
            let user = ObjectId(i as u64 + 1);
            let (reader, writer) = (matches!(role, 0 | 2 | 3), matches!(role, 1 | 2));
            let def = program.entity(program.entity_by_name("Docs.Doc").unwrap());
            let (level_m, title_m, owner_m) =
                (def.member("Level").unwrap(), def.member("Title").unwrap(), def.member("System.owner").unwrap());
            for id in &docs {
                let o = engine.store().get(*id).unwrap().into_owned();
                let level = match o.values[level_m] { Value::Integer(l) => l, _ => 0 };
                let owned = o.values[owner_m] == Value::Object(user);
                // The oracle: which rules apply and hold, computed by hand.
                let by_reader = reader && level > 5;
                let by_writer = writer && owned;
                prop_assert_eq!(engine.allowed(Op::See, &o), by_reader || by_writer, "see {:?}", o);
                prop_assert_eq!(engine.allowed(Op::Read(title_m), &o), by_reader, "read Title");
                prop_assert_eq!(engine.allowed(Op::Read(level_m), &o), by_writer, "read Level (write implies read)");
                prop_assert_eq!(engine.allowed(Op::Write(level_m), &o), by_writer, "write Level");
                prop_assert!(!engine.allowed(Op::Write(title_m), &o), "nobody writes Title");
                prop_assert!(!engine.allowed(Op::Read(owner_m), &o), "no rule grants the owner");
                prop_assert_eq!(engine.allowed(Op::Delete, &o), by_writer, "delete");
            }
            for id in &secrets {
                let o = engine.store().get(*id).unwrap().into_owned();
                prop_assert!(!engine.allowed(Op::See, &o));
                prop_assert!(!engine.allowed(Op::Read(0), &o));
                prop_assert!(!engine.allowed(Op::Write(0), &o));
                prop_assert!(!engine.allowed(Op::Delete, &o));
            }
            prop_assert!(!engine.can_create(program.entity_by_name("Docs.Secret").unwrap()));
            prop_assert!(!engine.can_create(program.entity_by_name("Docs.Doc").unwrap()));
        }
    }

    #[test]
    fn the_json_store_round_trips(w in world(), text in "[a-z' ]{0,12}", amount in -10_000i64..10_000) {
        let program = program();
        let (mut s, docs, _) = build(&program, &w);
        if let Some(first) = docs.first() {
            let mut o = s.get(*first).unwrap().into_owned();
            let def = program.entity(o.entity);
            o.values[def.member("Title").unwrap()] = Value::String(text.clone());
            o.values[def.member("Price").unwrap()] = Value::Decimal(Decimal::new(amount, 2));
            s.put(o);
        }
        let dir = std::env::temp_dir().join(format!("warden-prop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.json");
        store::save_json(&program, &s, &path).unwrap();
        let loaded = store::load_json(&program, &std::fs::read_to_string(&path).unwrap()).unwrap();
        prop_assert_eq!(store::to_json(&program, &loaded), store::to_json(&program, &s));
        let ids: Vec<ObjectId> = s.all().iter().map(|o| o.id).collect();
        let loaded_ids: Vec<ObjectId> = loaded.all().iter().map(|o| o.id).collect();
        prop_assert_eq!(ids, loaded_ids, "ids are stable");
    }
}
