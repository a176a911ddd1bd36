//! `load_json`'s fast path against the reporting loader: on random valid stores (every
//! attribute type, references, reference sets, user roles, specializations, forward
//! references, sparse ids) the fast path loads exactly the reporting loader's store; on
//! random mutations of them (wrong types, unknown names, dangling references, duplicate
//! ids, bad format, bad enumeration values...) it gives up and `load_json` reports exactly
//! the reporting loader's errors.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value as Json};
use warden::model::{AttrType, MemberKind, Program, SYSTEM_USER, SYSTEM_USER_ROLES};
use warden::source::SourceMap;
use warden::store::{
    load_json, load_json_fast, load_json_reporting, to_json, MemoryStore, Object, ObjectId, Store, Value,
};
use warden::syntax::ast::Multiplicity;

/// Every attribute type, a specialization of System.User and one of an ordinary entity,
/// references and reference sets (one to the specialization, one to itself).
const PROGRAM: &str = r#"
module Lab {
  enumeration Color { Red, Green, Blue }
  entity Person extends System.User { Nick: String(8)  Age: Integer }
  entity Item {
    stores owner, createdDate
    Name: String(12)
    Note: String
    Secret: HashedString
    Count: Integer = 1
    Big: Long
    Serial: AutoNumber
    Price: Decimal = 0
    Done: Boolean = false
    When: DateTime
    Color: Color = Red
  }
  entity Tool extends Item { Weight: Decimal }
  entity Box { Label: String }
  association Item_Box: Item -> Box
  association Box_Items: Box ->* Item
  association Box_Parent: Box -> Box
  association Box_Tools: Box ->* Tool
  association Person_Box: Person -> Box
  module role Any
}
user role Alpha: Lab.Any
user role Beta: Lab.Any
user role Gamma: Lab.Any
"#;

fn program() -> Program {
    let mut sources = SourceMap::new();
    sources.add("lab.rules", PROGRAM);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    checked.program
}

/// The entities objects are made of.
const ENTITIES: [&str; 5] = ["System.User", "Lab.Person", "Lab.Item", "Lab.Tool", "Lab.Box"];

/// One random object: its entity, the gap to the previous id, and words its values are drawn from.
#[derive(Clone, Debug)]
struct Spec {
    entity: usize,
    gap: u64,
    words: Vec<u64>,
}

fn specs() -> impl Strategy<Value = Vec<Spec>> {
    let gap = prop_oneof![8 => 1u64..3, 1 => Just(1u64 << 40)];
    let spec = (0..ENTITIES.len(), gap, prop::collection::vec(any::<u64>(), 48))
        .prop_map(|(entity, gap, words)| Spec { entity, gap, words });
    prop::collection::vec(spec, 0..20)
}

/// Draws values from a spec's words, one after the other.
struct Draw<'a>(std::slice::Iter<'a, u64>);

impl Draw<'_> {
    fn next(&mut self) -> u64 {
        *self.0.next().unwrap_or(&7)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A string of at most `max` characters, some of which JSON escapes.
    fn text(&mut self, max: u64) -> String {
        const CHARS: [char; 8] = ['a', 'Z', ' ', '"', '\\', '\n', 'é', '😀'];
        (0..self.below(max + 1)).map(|_| CHARS[self.below(CHARS.len() as u64) as usize]).collect()
    }
}

/// The store the specs describe: every member drawn at random (often empty), references
/// to any object of the right entity, earlier or later in id order.
fn build(program: &Program, specs: &[Spec]) -> MemoryStore {
    let mut next = 0;
    let objects: Vec<(ObjectId, warden::model::EntityId)> = specs
        .iter()
        .map(|s| {
            next += s.gap;
            (ObjectId(next), program.entity_by_name(ENTITIES[s.entity]).unwrap())
        })
        .collect();
    let mut store = MemoryStore::new();
    for (spec, &(id, entity)) in specs.iter().zip(&objects) {
        let mut draw = Draw(spec.words.iter());
        let mut object = Object::new(program, id, entity);
        for (index, member) in program.entity(entity).members.iter().enumerate() {
            if draw.below(4) == 0 {
                continue;
            }
            object.values[index] = match member.kind {
                MemberKind::Attribute(ty) => attribute(program, ty, &mut draw),
                MemberKind::Association(SYSTEM_USER_ROLES) => {
                    let roles = (0..program.user_roles.len() as u32).map(warden::model::UserRoleId);
                    Value::List(roles.filter(|_| draw.below(2) == 0).map(ObjectId::of_role).collect())
                }
                MemberKind::Association(a) => {
                    let def = program.assoc(a);
                    let targets: Vec<ObjectId> =
                        objects.iter().filter(|(_, e)| program.is_a(*e, def.to)).map(|(id, _)| *id).collect();
                    match def.multiplicity {
                        Multiplicity::Reference if targets.is_empty() => Value::Empty,
                        Multiplicity::Reference => Value::Object(targets[draw.below(targets.len() as u64) as usize]),
                        Multiplicity::ReferenceSet => {
                            Value::List(targets.into_iter().filter(|_| draw.below(3) == 0).collect())
                        }
                    }
                }
            };
        }
        // What a store may hold of users: a Name once, and a named user that is not anonymous.
        if program.is_a(entity, SYSTEM_USER) {
            let def = program.entity(entity);
            let name = def.member("Name").unwrap();
            if let Value::String(s) = &object.values[name] {
                if !s.is_empty() {
                    object.values[name] = Value::String(format!("{s}{}", id.0));
                    object.values[def.member("IsAnonymous").unwrap()] = Value::Boolean(false);
                }
            }
        }
        store.put(object);
    }
    store
}

fn attribute(program: &Program, ty: AttrType, draw: &mut Draw) -> Value {
    match ty {
        AttrType::String(max) => Value::String(draw.text(max.map_or(10, u64::from))),
        AttrType::HashedString => Value::String(draw.text(6)),
        AttrType::Integer => Value::Integer(draw.next() as i32 as i64),
        AttrType::Long | AttrType::AutoNumber => Value::Integer(draw.next() as i64),
        AttrType::Decimal => Value::Decimal(Decimal::new(draw.next() as i32 as i64, draw.below(6) as u32)),
        AttrType::Boolean => Value::Boolean(draw.below(2) == 0),
        AttrType::DateTime => Value::DateTime(draw.below(4_000_000_000_000) as i64),
        AttrType::Enum(e) => Value::Enum(e, draw.below(program.enumeration(e).values.len() as u64) as u32),
    }
}

/// Valid ways of writing a store other than `to_json`'s: objects in another order (`order`,
/// a permutation), `id` last, decimals as numbers, members given as `null`.
fn rewrite(doc: &mut Json, order: &[usize], words: &[u64]) {
    let objects = doc["objects"].as_array_mut().unwrap();
    let mut shuffled: Vec<Json> = order.iter().map(|&i| objects[i].clone()).collect();
    for (o, w) in shuffled.iter_mut().zip(words.iter().cycle()) {
        let map = o.as_object_mut().unwrap();
        if w % 3 == 0 {
            let id = map.shift_remove("id").unwrap();
            map.insert("id".into(), id);
        }
        for (k, v) in map.iter_mut() {
            match (k.as_str(), &*v) {
                ("Price" | "Weight", Json::String(s)) if w % 2 == 0 => *v = serde_json::from_str(s).unwrap(),
                ("Note" | "Lab.Item_Box" | "Lab.Box_Items" | "System.owner", _) if w % 5 == 0 => *v = Json::Null,
                _ => {}
            }
        }
    }
    *objects = shuffled;
}

/// Whether two loaded stores are the same: objects, their JSON (decimals with their scale),
/// the ids by entity and the next id handed out.
fn same(program: &Program, a: &MemoryStore, b: &MemoryStore) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.all(), b.all());
    prop_assert_eq!(to_json(program, a), to_json(program, b));
    for e in 0..program.entities.len() as u32 {
        prop_assert_eq!(a.ids(warden::model::EntityId(e)), b.ids(warden::model::EntityId(e)));
    }
    prop_assert_eq!(a.clone().allocate_id(), b.clone().allocate_id());
    Ok(())
}

/// What must hold for any text: whatever the fast path loads, the reporting loader loads
/// the same; `load_json` answers as the reporting loader (same store, or the same errors).
fn agree(program: &Program, text: &str) -> Result<Option<MemoryStore>, TestCaseError> {
    let reporting = load_json_reporting(program, text);
    let fast = load_json_fast(program, text);
    if let Some(fast) = &fast {
        let Ok(reporting) = &reporting else { return Err(TestCaseError::fail(format!("{reporting:?}"))) };
        same(program, fast, reporting)?;
    }
    match (load_json(program, text), &reporting) {
        (Ok(a), Ok(b)) => same(program, &a, b)?,
        (Err(a), Err(b)) => prop_assert_eq!(&a, b),
        (a, b) => prop_assert!(false, "load_json {:?} but the reporting loader {:?}", a.map(|_| ()), b),
    }
    Ok(fast)
}

/// A change that makes a store document invalid, at object `at` (modulo their number).
#[derive(Clone, Debug)]
enum Mutation {
    Format(Json),
    NoFormat,
    TopKey,
    ObjectsNotArray,
    NotJson,
    ObjectNotObject,
    Id(Json),
    NoId,
    DuplicateId,
    Entity(Json),
    NoEntity,
    UnknownMember,
    /// A member of the object's entity (by position) given a near miss for its type (by position).
    Member(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => prop_oneof![Just(json!("warden-store/2")), Just(json!(1)), Just(json!(null))].prop_map(Mutation::Format),
        1 => Just(Mutation::NoFormat),
        1 => Just(Mutation::TopKey),
        1 => Just(Mutation::ObjectsNotArray),
        1 => Just(Mutation::NotJson),
        1 => Just(Mutation::ObjectNotObject),
        1 => prop_oneof![Just(json!(0)), Just(json!(-3)), Just(json!(2.0)), Just(json!("7")), Just(json!(1u64 << 62))]
            .prop_map(Mutation::Id),
        1 => Just(Mutation::NoId),
        1 => Just(Mutation::DuplicateId),
        1 => prop_oneof![Just(json!("Lab.Crate")), Just(json!("System.UserRole")), Just(json!(3))]
            .prop_map(Mutation::Entity),
        1 => Just(Mutation::NoEntity),
        1 => Just(Mutation::UnknownMember),
        8 => (any::<usize>(), any::<usize>()).prop_map(|(k, v)| Mutation::Member(k, v)),
    ]
}

/// Values a member of this kind does not take, and values it may take: `null` (all but
/// `UserRoles` do), ids of the object and of the one before it (which references may name,
/// if of the right entity), in `near`.
fn near_misses(program: &Program, kind: MemberKind, near: &[Json; 2]) -> (Vec<Json>, Vec<Json>) {
    let wrong = match kind {
        MemberKind::Attribute(AttrType::String(Some(n))) => vec![json!("é".repeat(n as usize + 1)), json!(5)],
        MemberKind::Attribute(AttrType::String(None) | AttrType::HashedString) => vec![json!(5), json!(true)],
        MemberKind::Attribute(AttrType::Integer) => vec![json!(1u64 << 31), json!(-(1i64 << 31) - 1), json!(1.0)],
        MemberKind::Attribute(AttrType::Long | AttrType::AutoNumber) => vec![json!(1u64 << 63), json!("1")],
        MemberKind::Attribute(AttrType::Decimal) => vec![json!("x"), json!("1,5"), json!(true), json!([1])],
        MemberKind::Attribute(AttrType::Boolean) => vec![json!(1), json!("true")],
        MemberKind::Attribute(AttrType::DateTime) => vec![json!("2026-13-45"), json!(0)],
        MemberKind::Attribute(AttrType::Enum(_)) => vec![json!("Purple"), json!("red"), json!(0)],
        MemberKind::Association(a) => match program.assoc(a).multiplicity {
            Multiplicity::Reference => vec![json!(999_999_999), json!(-1), json!(0), json!([1])],
            Multiplicity::ReferenceSet => vec![json!([999_999_999]), json!([-1]), json!(5), json!(["Alpha"])],
        },
    };
    let maybe = match kind {
        MemberKind::Association(a) if program.assoc(a).multiplicity == Multiplicity::Reference => {
            vec![near[0].clone(), near[1].clone(), Json::Null]
        }
        MemberKind::Association(_) => vec![json!(near), json!([near[1]]), Json::Null],
        MemberKind::Attribute(_) => vec![Json::Null],
    };
    (wrong, maybe)
}

/// The mutated text, and whether the mutation is sure to make it invalid.
fn mutate(program: &Program, doc: &Json, m: &Mutation, at: usize) -> (String, bool) {
    let mut doc = doc.clone();
    let n = doc["objects"].as_array().map_or(0, Vec::len);
    let sure = match m {
        Mutation::Format(v) => {
            doc["format"] = v.clone();
            true
        }
        Mutation::NoFormat => doc.as_object_mut().unwrap().shift_remove("format").is_some(),
        Mutation::TopKey => {
            doc["version"] = json!(1);
            true
        }
        Mutation::ObjectsNotArray => {
            doc["objects"] = json!({});
            true
        }
        Mutation::NotJson => {
            let text = doc.to_string();
            return (text[..text.len() - 1].to_string(), true);
        }
        _ if n == 0 => false,
        Mutation::ObjectNotObject => {
            doc["objects"][at % n] = json!([]);
            true
        }
        _ => {
            let other = doc["objects"][(at + 1) % n]["id"].clone();
            let near = [doc["objects"][at % n]["id"].clone(), doc["objects"][(at + n - 1) % n]["id"].clone()];
            let Some(object) = doc["objects"][at % n].as_object_mut() else { return (doc.to_string(), false) };
            match m {
                Mutation::Id(v) | Mutation::Entity(v) => {
                    let key = if matches!(m, Mutation::Id(_)) { "id" } else { "entity" };
                    object.insert(key.into(), v.clone());
                }
                Mutation::NoId => drop(object.shift_remove("id")),
                Mutation::DuplicateId => drop(object.insert("id".into(), other)),
                Mutation::NoEntity => drop(object.shift_remove("entity")),
                Mutation::UnknownMember => drop(object.insert("Colour".into(), json!("Red"))),
                Mutation::Member(k, v) => {
                    let entity = object.get("entity").and_then(Json::as_str).and_then(|e| program.entity_by_name(e));
                    let Some(entity) = entity else { return (doc.to_string(), false) };
                    let def = program.entity(entity);
                    let member = &def.members[k % def.members.len()];
                    let roles = member.kind == MemberKind::Association(SYSTEM_USER_ROLES);
                    let (key, (wrong, maybe)) = if roles && v % 2 == 0 {
                        ("UserRoles", (vec![json!(null), json!(["Delta"]), json!([1]), json!("Alpha")], vec![]))
                    } else {
                        (member.name.as_str(), near_misses(program, member.kind, &near))
                    };
                    let v = v / 2 % (wrong.len() + maybe.len());
                    let (value, sure) = match wrong.get(v) {
                        Some(value) => (value.clone(), true),
                        None => (maybe[v - wrong.len()].clone(), false),
                    };
                    object.insert(key.into(), value);
                    return (doc.to_string(), sure);
                }
                _ => unreachable!("{m:?} is not a change of one object"),
            }
            // A duplicate needs another object.
            !matches!(m, Mutation::DuplicateId) || n > 1
        }
    };
    (doc.to_string(), sure)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_fast_path_loads_every_valid_store_as_the_reporting_loader(
        specs in specs(),
        order in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        words in prop::collection::vec(any::<u64>(), 1..8),
        pretty in any::<bool>(),
    ) {
        let program = program();
        let store = build(&program, &specs);
        let mut doc = to_json(&program, &store);
        let n = doc["objects"].as_array().unwrap().len();
        let mut order: Vec<usize> = order.iter().map(|i| i.index(n.max(1))).filter(|&i| i < n).collect();
        order.sort_unstable();
        order.dedup();
        let rest: Vec<usize> = (0..n).filter(|i| !order.contains(i)).collect();
        order.splice(0..0, rest.into_iter().rev());
        rewrite(&mut doc, &order, &words);
        let text = if pretty { serde_json::to_string_pretty(&doc).unwrap() } else { doc.to_string() };
        let fast = agree(&program, &text)?;
        let Some(fast) = fast else { return Err(TestCaseError::fail(format!("the fast path gave up on {text}"))) };
        prop_assert_eq!(fast.all().len(), specs.len());
    }

    #[test]
    fn an_invalid_store_gets_the_reporting_loaders_errors(
        specs in specs(),
        mutations in prop::collection::vec((mutation(), any::<usize>()), 1..3),
    ) {
        let program = program();
        let doc = to_json(&program, &build(&program, &specs));
        let mut sure = false;
        let mut text = doc.to_string();
        let mut current = doc;
        for (m, at) in &mutations {
            let (t, s) = mutate(&program, &current, m, *at);
            sure = s;
            text = t;
            match serde_json::from_str(&text) {
                Ok(next) => current = next,
                Err(_) => break,
            }
        }
        let fast = agree(&program, &text)?;
        if sure {
            prop_assert!(fast.is_none(), "the fast path loaded {}", text);
            prop_assert!(load_json_reporting(&program, &text).is_err());
        }
    }
}

/// Valid documents the fast path leaves to the reporting loader, which loads them.
#[test]
fn unusual_valid_documents_are_loaded_by_the_reporting_loader() {
    let program = program();
    for text in [
        // A member before the entity.
        r#"{"objects": [{"id": 1, "Label": "a", "entity": "Lab.Box"}], "format": "warden-store/1"}"#,
        // A user's roles given both ways.
        r#"{"format": "warden-store/1", "objects": [{"id": 1, "entity": "System.User", "UserRoles": ["Alpha"], "System.UserRoles": []}]}"#,
    ] {
        assert!(load_json_fast(&program, text).is_none(), "{text}");
        assert!(load_json(&program, text).is_ok(), "{text}");
        agree(&program, text).unwrap();
    }
}

/// The fast path's answer on a few hand-written documents, including a forward reference
/// and a reference to a specialization.
#[test]
fn forward_references_and_specializations() {
    let program = program();
    let text = r#"{"format": "warden-store/1", "objects": [
        {"id": 3, "entity": "Lab.Box", "Lab.Box_Items": [5, 4], "Lab.Box_Tools": [5], "Lab.Box_Parent": 3},
        {"id": 4, "entity": "Lab.Item", "Lab.Item_Box": 3, "Price": 2.50, "When": "2026-11-22T10:00:00Z"},
        {"id": 5, "entity": "Lab.Tool", "Lab.Item_Box": 7, "Weight": "1.250", "Name": "\u00e9t\u00e9"},
        {"id": 7, "entity": "Lab.Box"},
        {"id": 9, "entity": "Lab.Person", "UserRoles": ["Beta", "Alpha"], "Lab.Person_Box": 7, "Age": -4}
    ]}"#;
    let store = load_json_fast(&program, text).expect("valid");
    agree(&program, text).unwrap();
    let tool = store.get(ObjectId(5)).unwrap();
    assert_eq!(program.entity(tool.entity).name, "Lab.Tool");
    let person = store.get(ObjectId(9)).unwrap();
    assert!(program.is_a(person.entity, SYSTEM_USER));
    let mut next = store.clone();
    assert_eq!(next.allocate_id(), ObjectId(10));
    // A reference set naming an Item where Tools are wanted, and a dangling forward reference.
    for bad in [
        text.replace(r#""Lab.Box_Tools": [5]"#, r#""Lab.Box_Tools": [4]"#),
        text.replace(r#""Lab.Item_Box": 7"#, r#""Lab.Item_Box": 8"#),
    ] {
        assert!(load_json_fast(&program, &bad).is_none());
        assert!(load_json(&program, &bad).is_err());
        agree(&program, &bad).unwrap();
    }
}

/// One document per check of the reporting loader: the fast path gives up on each, and
/// `load_json` reports what the reporting loader reports.
#[test]
fn every_check_of_the_reporting_loader_makes_the_fast_path_give_up() {
    let program = program();
    let objects =
        |o: &str| format!(r#"{{"format": "warden-store/1", "objects": [{{"id": 1, "entity": "Lab.Box"}}, {o}]}}"#);
    let mut texts: Vec<String> = [
        "",
        "[]",
        r#"{"format": "warden-store/1", "objects": []} x"#,
        r#"{"objects": []}"#,
        r#"{"format": "warden-store/0", "objects": []}"#,
        r#"{"format": 1}"#,
        r#"{"format": "warden-store/1", "objects": {}}"#,
        r#"{"format": "warden-store/1", "objects": [], "next": 3}"#,
    ]
    .map(String::from)
    .into();
    for o in [
        "7",
        r#"{"entity": "Lab.Box"}"#,
        r#"{"id": 0, "entity": "Lab.Box"}"#,
        r#"{"id": -2, "entity": "Lab.Box"}"#,
        r#"{"id": 2.0, "entity": "Lab.Box"}"#,
        r#"{"id": "2", "entity": "Lab.Box"}"#,
        r#"{"id": 4611686018427387904, "entity": "Lab.Box"}"#,
        r#"{"id": 1, "entity": "Lab.Box"}"#,
        r#"{"id": 2}"#,
        r#"{"id": 2, "entity": "Lab.Crate"}"#,
        r#"{"id": 2, "entity": "System.UserRole"}"#,
        r#"{"id": 2, "entity": ["Lab.Box"]}"#,
        r#"{"id": 2, "entity": "Lab.Box", "Colour": "Red"}"#,
        r#"{"id": 2, "entity": "Lab.Box", "UserRoles": []}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Name": "thirteen char"}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Note": 5}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Secret": false}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Count": 2147483648}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Count": -2147483649}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Count": 1.0}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Big": 9223372036854775808}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Serial": "1"}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Price": "1,5"}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Price": [1]}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Done": 1}"#,
        r#"{"id": 2, "entity": "Lab.Item", "When": "2026-13-45"}"#,
        r#"{"id": 2, "entity": "Lab.Item", "When": 0}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Color": "Purple"}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Color": 0}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Lab.Item_Box": 3}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Lab.Item_Box": 2}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Lab.Item_Box": 0}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Lab.Item_Box": -1}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Lab.Item_Box": "1"}"#,
        r#"{"id": 2, "entity": "Lab.Item", "Lab.Item_Box": [1]}"#,
        r#"{"id": 2, "entity": "Lab.Item", "System.owner": 1}"#,
        r#"{"id": 2, "entity": "Lab.Box", "Lab.Box_Items": 1}"#,
        r#"{"id": 2, "entity": "Lab.Box", "Lab.Box_Items": [3]}"#,
        r#"{"id": 2, "entity": "Lab.Box", "Lab.Box_Items": [-3]}"#,
        r#"{"id": 2, "entity": "Lab.Box", "Lab.Box_Tools": [2]}"#,
        r#"{"id": 2, "entity": "Lab.Box", "Lab.Box_Parent": 4611686018427387904}"#,
        r#"{"id": 2, "entity": "System.User", "UserRoles": null}"#,
        r#"{"id": 2, "entity": "System.User", "UserRoles": "Alpha"}"#,
        r#"{"id": 2, "entity": "System.User", "UserRoles": ["Delta"]}"#,
        r#"{"id": 2, "entity": "System.User", "UserRoles": [1]}"#,
        r#"{"id": 2, "entity": "Lab.Person", "System.UserRoles": [4611686018427387904]}"#,
        r#"{"id": 2, "entity": "Lab.Person", "System.UserRoles": [1]}"#,
        r#"{"id": 2, "entity": "Lab.Person", "Nick": "nine char"}"#,
    ] {
        texts.push(objects(o));
    }
    for text in [
        // A key given twice, anywhere: a store that says two things is refused.
        r#"{"format": "warden-store/1", "objects": [{"id": 1, "entity": "Lab.Box", "Label": "a", "Label": "b"}]}"#,
        r#"{"format": "warden-store/1", "objects": [{"id": 1, "entity": "Lab.Box", "Label": 5, "Label": "a"}]}"#,
        r#"{"format": "warden-store/1", "objects": [{"id": 1, "entity": "Lab.Box"}], "objects": [{"id": 2, "entity": "Lab.Box"}]}"#,
        r#"{"format": "warden-store/1", "format": "warden-store/1", "objects": []}"#,
        r#"{"format": "warden-store/1", "objects": [{"id": 1, "id": 1, "entity": "Lab.Box"}]}"#,
        // Two users with one Name, of any user entity.
        r#"{"format": "warden-store/1", "objects": [{"id": 1, "entity": "System.User", "Name": "ann"}, {"id": 2, "entity": "Lab.Person", "Name": "ann"}]}"#,
        // A named user that is anonymous.
        r#"{"format": "warden-store/1", "objects": [{"id": 1, "entity": "System.User", "Name": "ann", "IsAnonymous": true}]}"#,
    ] {
        texts.push(text.to_string());
    }
    for text in &texts {
        assert!(load_json_fast(&program, text).is_none(), "{text}");
        assert!(load_json_reporting(&program, text).is_err(), "{text}");
        agree(&program, text).unwrap();
    }
}

/// The new refusals name what is wrong where it is.
#[test]
fn duplicate_keys_and_users_are_reported_at_their_paths() {
    let program = program();
    // Users without a Name (anonymous users) share none, and may be anonymous.
    let unnamed = r#"{"format": "warden-store/1", "objects": [{"id": 1, "entity": "System.User", "IsAnonymous": true}, {"id": 2, "entity": "Lab.Person", "IsAnonymous": true, "Name": ""}]}"#;
    assert!(load_json_fast(&program, unnamed).is_some());
    agree(&program, unnamed).unwrap();
    let errors = |text: &str| -> Vec<String> {
        load_json(&program, text).unwrap_err().iter().map(ToString::to_string).collect()
    };
    assert_eq!(
        errors(
            r#"{"format": "warden-store/1", "objects": [{"id": 1, "entity": "Lab.Box", "Label": "a", "Label": "b"}]}"#
        ),
        ["objects[0].Label: the key is given twice; give each member once"]
    );
    assert_eq!(
        errors(
            r#"{"format": "warden-store/1", "objects": [{"id": 1, "entity": "System.User", "Name": "ann"}, {"id": 2, "entity": "Lab.Person", "Name": "ann"}]}"#
        ),
        ["objects[1].Name: another user, #1, is named `ann`"]
    );
    assert_eq!(
        errors(
            r#"{"format": "warden-store/1", "objects": [{"id": 4, "entity": "System.User", "Name": "ann", "IsAnonymous": true}]}"#
        ),
        ["objects[0].IsAnonymous: a user with a Name cannot be anonymous"]
    );
}

/// An object of a non-persistent entity is refused by both loaders (found by the `store_load`
/// fuzz target, `fuzz/regressions/store_load/non_persistent_object.json`): such objects live
/// only in the session that made them, and a SQLite store, which has no table for them, would
/// drop them without a word.
#[test]
fn an_object_of_a_non_persistent_entity_is_refused() {
    let mut sources = SourceMap::new();
    sources.add(
        "scratch.rules",
        "module Lab {\n  non-persistent entity Scratch { Text: String }\n  entity Box { Label: String }\n}\n",
    );
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let program = checked.program;
    let text = r#"{"format":"warden-store/1","objects":[{"id":2,"entity":"Lab.Box"},{"id":1,"entity":"Lab.Scratch","Text":"hi"}]}"#;
    assert!(load_json_fast(&program, text).is_none());
    let errors = load_json(&program, text).unwrap_err();
    assert_eq!(errors, load_json_reporting(&program, text).unwrap_err());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "objects[1].entity");
    assert!(errors[0].message.contains("`Lab.Scratch` is non-persistent"), "{}", errors[0].message);
}
