//! The JSON store loaders on arbitrary documents, against one fixed program: the examples
//! (so `examples/*.store.json` load) plus a module with every attribute type, a
//! specialization of `System.User` and of an ordinary entity, references and reference sets.
//!
//! Invariants, for any bytes:
//! - nothing panics;
//! - `load_json` answers as `load_json_reporting` does: the same store, or the same errors;
//! - `load_json_fast`, when it loads, loads the reporting loader's store;
//! - a loaded store round-trips: `to_json`, as text, loads again into the same store;
//! - a loaded store holds no user problem (`user_problems` is empty);
//! - a loaded store holds no object of a non-persistent entity (those live only in the
//!   session that made them; the SQLite store has no table for them).

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warden::model::{EntityId, Program};
use warden::store::{load_json, load_json_fast, load_json_reporting, to_json, user_problems, MemoryStore, Store};

/// Every attribute type, a specialization of System.User and one of an ordinary entity,
/// references and reference sets (one to the specialization, one to itself); as in
/// tests/store_load.rs.
const LAB: &str = r#"
module Lab {
  enumeration Color { Red, Green, Blue }
  entity Person extends System.User { Nick: String(8)  Age: Integer }
  entity Item {
    stores owner, changedBy, createdDate, changedDate
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
  non-persistent entity Scratch { Text: String }
  association Item_Box: Item -> Box
  association Box_Items: Box ->* Item
  association Box_Parent: Box -> Box
  association Box_Tools: Box ->* Tool
  association Person_Box: Person -> Box
  association Box_People: Box ->* System.User
  module role Any
}
user role Alpha: Lab.Any
user role Beta: Lab.Any
"#;

fn program() -> &'static Program {
    static PROGRAM: OnceLock<Program> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let examples = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples"));
        let mut sources = warden::load::read_sources(&[examples]).expect("the examples are there");
        sources.add("lab.rules", LAB);
        let checked = warden::load::load(sources);
        assert!(!checked.has_errors(), "the fuzzed program checks: {:?}", checked.diagnostics);
        checked.program
    })
}

/// Whether two loaded stores are the same: objects, their JSON, the ids by entity and the
/// next id handed out.
fn same(program: &Program, a: &MemoryStore, b: &MemoryStore) -> Result<(), String> {
    if a.all() != b.all() {
        return Err(format!("objects differ:\n{:?}\n{:?}", a.all(), b.all()));
    }
    if to_json(program, a) != to_json(program, b) {
        return Err("the documents differ".into());
    }
    for e in 0..program.entities.len() as u32 {
        if a.ids(EntityId(e)) != b.ids(EntityId(e)) {
            return Err(format!("the ids of entity {e} differ"));
        }
    }
    if a.clone().allocate_id() != b.clone().allocate_id() {
        return Err("the next id differs".into());
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let program = program();
    let reporting = load_json_reporting(program, text);
    if std::env::var_os("WARDEN_FUZZ_LOG").is_some() {
        match &reporting {
            Ok(store) => eprintln!("loads: {} objects", store.all().len()),
            Err(errors) => eprintln!("refused: {errors:?}"),
        }
    }
    if let Some(fast) = load_json_fast(program, text) {
        match &reporting {
            Ok(slow) => same(program, &fast, slow).unwrap_or_else(|e| panic!("the fast path loads another store: {e}")),
            Err(errors) => panic!("the fast path loaded a store that the reporting loader refuses: {errors:?}"),
        }
    }
    let store = match (load_json(program, text), &reporting) {
        (Ok(a), Ok(b)) => {
            same(program, &a, b).unwrap_or_else(|e| panic!("load_json and the reporting loader differ: {e}"));
            a
        }
        (Err(a), Err(b)) => {
            assert_eq!(&a, b, "load_json and the reporting loader report different errors");
            return;
        }
        (a, b) => panic!("load_json {:?} but the reporting loader {:?}", a.map(|_| ()), b.as_ref().map(|_| ())),
    };
    for o in store.all() {
        let def = program.entity(o.entity);
        assert!(def.persistent, "a loaded store holds {} of the non-persistent entity `{}`", o.id, def.name);
    }
    let problems = user_problems(program, &store);
    assert!(problems.is_empty(), "a loaded store holds user problems: {problems:?}");
    let saved = serde_json::to_string_pretty(&to_json(program, &store)).expect("a document prints");
    match load_json(program, &saved) {
        Ok(again) => {
            same(program, &store, &again).unwrap_or_else(|e| panic!("the store does not round-trip: {e}\n{saved}"))
        }
        Err(errors) => panic!("a saved store does not load: {errors:?}\n{saved}"),
    }
});
