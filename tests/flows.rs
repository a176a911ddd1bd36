//! Microflows as transactions: every scenario of `inputs/flows` passes, the
//! errors rule authors read are snapshotted, and a run that ends in an error
//! leaves the store exactly as it was.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use assert_cmd::Command;
use proptest::prelude::*;
use warden::eval::test::{run_tests_on, Backend};
use warden::eval::{Engine, Vars};
use warden::source::SourceMap;
use warden::store::{to_json, MemoryStore, Object, ObjectId, Store, Value};

const FLOWS: &str = "tests/inputs/flows/transactions.rules";

#[test]
fn every_flow_scenario_passes() {
    let checked = warden::load::load_paths(&[FLOWS.into()]).unwrap();
    assert!(checked.diagnostics.is_empty());
    for backend in [Backend::Memory, Backend::Sqlite] {
        let results = run_tests_on(&checked.program, None, backend);
        assert_eq!(results.len(), 6);
        for r in &results {
            assert_eq!(r.outcome, "passed", "{} ({backend:?} store): {:?}", r.name, r.message);
        }
    }
}

fn eval_stderr(script: &str) -> String {
    let dir = std::env::temp_dir().join(format!("warden-flows-{}-{}", std::process::id(), script.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("script.txt");
    std::fs::write(&file, script).unwrap();
    let out = Command::cargo_bin("warden")
        .unwrap()
        .env("NO_COLOR", "1")
        .args(["eval", "--color", "never", FLOWS])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_nested_error_shows_the_call_stack() {
    let err = eval_stderr("let $p = create Clinic.Patient { Name = 'Eve' }\ncommit $p\ncall Clinic.Outer(P = $p)\n");
    insta::assert_snapshot!(err);
}

#[test]
fn a_prevented_delete_names_its_reason() {
    let err = eval_stderr(
        "let $p = create Clinic.Patient { Name = 'Fay' }\ncommit $p\nlet $b = create Clinic.Booking { Clinic.Booking_Patient = $p }\ncommit $b\ncall Clinic.Discharge(P = $p)\n",
    );
    insta::assert_snapshot!(err);
}

/// One statement of a generated microflow.
#[derive(Clone, Debug)]
enum Step {
    Create(i64),
    Change(usize, i64),
    Commit(usize),
    Delete(usize),
    Log,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0i64..100).prop_map(Step::Create),
        (0usize..6, 0i64..100).prop_map(|(i, v)| Step::Change(i, v)),
        (0usize..6).prop_map(Step::Commit),
        (0usize..6).prop_map(Step::Delete),
        Just(Step::Log),
    ]
}

/// A microflow over the store's objects `$o0..$o2` (retrieved by id) and the
/// ones it creates, ending in an error.
fn program_text(steps: &[Step]) -> String {
    let mut body = String::from(
        "    let $o0 = retrieve first M.Item [Tag = 'a']\n    let $o1 = retrieve first M.Item [Tag = 'b']\n    let $o2 = retrieve first M.Item [Tag = 'c']\n",
    );
    let mut made = 3;
    for s in steps {
        match s {
            Step::Create(v) => {
                body.push_str(&format!("    let $o{made} = create M.Item {{ N = {v} }}\n"));
                made += 1;
            }
            Step::Change(i, v) => body.push_str(&format!("    change $o{} {{ N = {v} }}\n", i % made)),
            Step::Commit(i) => body.push_str(&format!("    commit $o{}\n", i % made)),
            Step::Delete(i) => body.push_str(&format!("    delete $o{}\n", i % made)),
            Step::Log => body.push_str("    log 'step'\n"),
        }
    }
    body.push_str("    error 'boom'\n");
    format!(
        "module M {{\n  entity Item {{ N: Integer  Tag: String }}\n  entity Child {{ K: Integer }}\n  association Child_Item: Child -> Item {{ on delete Item: cascade }}\n  microflow Run() {{\n{body}  }}\n}}\n"
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_failed_run_leaves_the_store_as_it_was(steps in prop::collection::vec(step(), 0..25)) {
        let mut sources = SourceMap::new();
        sources.add("gen.rules", program_text(&steps));
        let checked = warden::load::load(sources);
        prop_assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        let mut program = checked.program;
        let call = warden::check::compile_statements(&mut program, "<call>", "call M.Run()").unwrap().stmts;
        let item = program.entity_by_name("M.Item").unwrap();
        let child = program.entity_by_name("M.Child").unwrap();
        let mut store = MemoryStore::new();
        for (k, tag) in ["a", "b", "c"].iter().enumerate() {
            let mut o = Object::new(&program, ObjectId(k as u64 + 1), item);
            o.values[program.entity(item).member("N").unwrap()] = Value::Integer(k as i64);
            o.values[program.entity(item).member("Tag").unwrap()] = Value::String(tag.to_string());
            store.put(o);
            let mut c = Object::new(&program, ObjectId(k as u64 + 10), child);
            c.values[program.entity(child).member("M.Child_Item").unwrap()] = Value::Object(ObjectId(k as u64 + 1));
            store.put(c);
        }
        let before = to_json(&program, &store);
        let mut engine = Engine::new(&program, Box::new(store), 0);
        let result = engine.run_top(&call[0], &mut Vars::new());
        prop_assert!(result.is_err());
        prop_assert_eq!(to_json(&program, engine.store()), before);
        prop_assert!(engine.session().uncommitted.is_empty(), "no uncommitted object survives");
        prop_assert!(engine.log().is_empty(), "the log of a failed run is dropped");
        // The id counter is restored too: the next object gets the next free id.
        let next = engine.into_store().allocate_id();
        prop_assert_eq!(next, ObjectId(13));
    }
}
