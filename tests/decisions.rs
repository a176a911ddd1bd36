//! Decisions by id agree with decisions on the built object: random programs (rules with
//! random roles, grants and constraints, some decided from the store's columns with the form
//! the engine finds once per rule when it starts, some needing the object) over random stores,
//! every principal, every operation, every id. The indexed plan reads columns
//! (`Engine::allowed_by_columns`); the naive plan never does, so it is the reference.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use proptest::prelude::*;
use warden::eval::access::Op;
use warden::eval::{Engine, Plan, PrincipalName};
use warden::model::Program;
use warden::source::SourceMap;
use warden::store::{MemoryStore, Object, ObjectId, Store, Value};

/// Constraints: column-checkable ones (own reference, attributes against constants, `not`,
/// `or`, several brackets) and ones that need the object (paths, existence).
const CONSTRAINTS: [&str; 17] = [
    "",
    "where [System.owner = '[%CurrentUser%]']",
    "where [M.Doc_Reviewer = '[%CurrentUser%]']",
    "where [Level > 2]",
    "where [Level = 1]",
    "where [Level != 3]",
    "where [Stage = 'Open']",
    "where [Pinned = true()]",
    "where [not(Level > 4)]",
    "where [Level > 5 or Stage = 'Done']",
    "where [M.Doc_Tag/M.Tag/Name = 'x']",
    "where [M.Doc_Tag]",
    "where [Title = 'a']",
    "where [Level > 1][System.owner = '[%CurrentUser%]']",
    "where [M.Doc_Reviewer/System.User/Name = 'u1']",
    "where [Title = empty]",
    "where [createdDate > '[%CurrentDateTime%] - 1 * [%DayLength%]']",
];

const GRANTS: [&str; 7] = [
    "read Level",
    "write Title",
    "read *",
    "delete read Title",
    "write Pinned, Stage",
    "create delete write Level",
    "read Level, Stage",
];

const ROLES: [&str; 7] = ["A", "B", "C", "A, B", "B, C", "A, C", "A, B, C"];

/// A rule: roles, grants and constraint, by index into the tables above; on `Memo` when `memo`.
#[derive(Clone, Debug)]
struct Rule {
    roles: usize,
    grants: usize,
    constraint: usize,
    memo: bool,
}

fn rule() -> impl Strategy<Value = Rule> {
    (0..ROLES.len(), 0..GRANTS.len(), 0..CONSTRAINTS.len(), prop::bool::weighted(0.2))
        .prop_map(|(roles, grants, constraint, memo)| Rule { roles, grants, constraint, memo })
}

fn source(rules: &[Rule]) -> String {
    let mut text = String::from(
        "module M {
  enumeration Stage { Draft, Open, Done }
  entity Doc {
    stores owner, createdDate
    Level: Integer = 0
    Stage: Stage = Draft
    Pinned: Boolean = false
    Title: String
  }
  entity Memo extends Doc { Body: String }
  entity Tag { Name: String }
  association Doc_Tag: Doc ->* Tag
  association Doc_Reviewer: Doc -> System.User
  module role A
  module role B
  module role C
  access Tag for A, B { read Name }
",
    );
    for r in rules {
        let entity = if r.memo { "Memo" } else { "Doc" };
        text.push_str(&format!(
            "  access {entity} for {} {{ {} {} }}\n",
            ROLES[r.roles], GRANTS[r.grants], CONSTRAINTS[r.constraint]
        ));
    }
    text.push_str(
        "}
user role UA: M.A
user role UB: M.B
user role UAB: M.A, M.B
user role UC: M.C
app M {
  access: public
  anonymous: UC
}
",
    );
    text
}

fn program(rules: &[Rule]) -> Program {
    let mut sources = SourceMap::new();
    sources.add("m.rules", source(rules));
    let checked = warden::load::load(sources);
    assert!(!checked.has_errors(), "{:?}\n{}", checked.diagnostics, source(rules));
    checked.program
}

/// A document: level, stage, pinned, title, owner and reviewer (user index; 4 is none),
/// tags (bits), created a day ago or now, and whether it is a `Memo`.
type Doc = (i64, u32, bool, u8, usize, usize, u8, bool, bool);

fn doc() -> impl Strategy<Value = Doc> {
    (-1i64..7, 0u32..3, any::<bool>(), 0u8..3, 0usize..5, 0usize..5, 0u8..4, any::<bool>(), prop::bool::weighted(0.3))
}

const USER_ROLES: [&str; 4] = ["UA", "UB", "UAB", "UC"];

fn build(program: &Program, roles: &[usize], docs: &[Doc]) -> MemoryStore {
    let mut s = MemoryStore::new();
    let user = program.entity_by_name("System.User").unwrap();
    let u = program.entity(user);
    for (i, role) in roles.iter().enumerate() {
        let mut o = Object::new(program, s.allocate_id(), user);
        o.values[u.member("Name").unwrap()] = Value::String(format!("u{i}"));
        let r = program.user_role_by_name(USER_ROLES[*role]).unwrap();
        o.values[u.member("System.UserRoles").unwrap()] = Value::List(vec![ObjectId::of_role(r)]);
        s.put(o);
    }
    let tag = program.entity_by_name("M.Tag").unwrap();
    let tags: Vec<ObjectId> = ["x", "y"]
        .iter()
        .map(|name| {
            let mut o = Object::new(program, s.allocate_id(), tag);
            o.values[0] = Value::String(name.to_string());
            let id = o.id;
            s.put(o);
            id
        })
        .collect();
    let stage = program.enum_by_name("M.Stage").unwrap();
    for &(level, st, pinned, title, owner, reviewer, tag_bits, recent, memo) in docs {
        let entity = program.entity_by_name(if memo { "M.Memo" } else { "M.Doc" }).unwrap();
        let def = program.entity(entity);
        let mut o = Object::new(program, s.allocate_id(), entity);
        let mut set = |name: &str, v: Value| o.values[def.member(name).unwrap()] = v;
        set("Level", Value::Integer(level));
        set("Stage", Value::Enum(stage, st));
        set("Pinned", Value::Boolean(pinned));
        set("Title", if title == 0 { Value::Empty } else { Value::String(["", "a", "b"][title as usize].into()) });
        let user_id = |k: usize| if k < roles.len() { Value::Object(ObjectId(k as u64 + 1)) } else { Value::Empty };
        set("System.owner", user_id(owner));
        set("M.Doc_Reviewer", user_id(reviewer));
        let linked: Vec<ObjectId> = (0..2).filter(|b| tag_bits & (1 << b) != 0).map(|b| tags[b]).collect();
        set("M.Doc_Tag", Value::List(linked));
        set("createdDate", Value::DateTime(if recent { 0 } else { -2 * 86_400_000 }));
        s.put(o);
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    #[test]
    fn decisions_by_id_agree_with_decisions_on_the_object(
        rules in prop::collection::vec(rule(), 1..6),
        roles in prop::collection::vec(0usize..4, 1..4),
        docs in prop::collection::vec(doc(), 0..8),
    ) {
        let program = program(&rules);
        let store = build(&program, &roles, &docs);
        let last = store.all().last().map_or(0, |o| o.id.0);
        let mut principals: Vec<PrincipalName> =
            (0..roles.len()).map(|i| PrincipalName::User(format!("u{i}"))).collect();
        principals.push(PrincipalName::Anonymous(Some("A".into())));
        principals.push(PrincipalName::System);
        for principal in &principals {
            let mut columns = Engine::new(&program, Box::new(store.clone()), 0);
            let mut naive = Engine::new(&program, Box::new(store.clone()), 0);
            naive.set_plan(Plan::Naive);
            columns.act_as(principal).unwrap();
            naive.act_as(principal).unwrap();
            for id in (1..=last + 2).map(ObjectId) {
                prop_assert_eq!(columns.knows(id), naive.knows(id), "knows {} as {:?}", id, principal);
                let members = store.entity_of(id).map_or(1, |e| program.entity(e).members.len());
                let ops = [Op::See, Op::Delete]
                    .into_iter()
                    .chain((0..members).flat_map(|m| [Op::Read(m), Op::Write(m)]));
                for op in ops {
                    let by_id = columns.allowed_id(op, id);
                    prop_assert_eq!(by_id, naive.allowed_id(op, id), "{:?} on {} as {:?}", op, id, principal);
                    if let Some(o) = store.get(id) {
                        prop_assert_eq!(by_id, columns.allowed(op, &o), "{:?} on the built {}", op, id);
                    }
                }
            }
        }
    }
}
