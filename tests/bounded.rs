//! Bounded work (docs/language.md section 6): statements run and objects examined by retrieves
//! count as steps, per top-level statement; reaching the limit (`--max-steps`) is an error
//! that rolls the statement back, so a microflow the anonymous role may call cannot keep the
//! evaluator busy without bound.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use assert_cmd::Command;
use warden::codes::Code;
use warden::eval::{Engine, Vars};
use warden::model::flow::Stmt;
use warden::source::SourceMap;
use warden::store::{MemoryStore, Object, ObjectId, Store, Value};

const PROGRAM: &str = "module M {
  entity Item {
    N: Integer
  }
  association Item_Next: Item -> Item
  module role Visitor
  access Item for Visitor {
    read N, Item_Next
  }
  // Every pair of items: quadratic in the store.
  microflow Spin() allow Visitor {
    let $all = retrieve M.Item
    for $a in $all {
      for $b in retrieve M.Item [N > 0] {
        log 'pair'
      }
    }
  }
  microflow Mark() allow Visitor {
    let $x = create M.Item { N = -1 }
    commit $x
    call M.Spin()
  }
}
user role Guest: M.Visitor
app M {
  access: public
  anonymous: Guest
}
";

/// The program with `text` checked among its sources, and the statements of `text`.
fn with_statements(mut program: warden::model::Program, text: &str) -> (warden::model::Program, Vec<Stmt>) {
    let checked = warden::check::compile_statements(&mut program, "<stmt>", text).unwrap();
    (program, checked.stmts)
}

/// The program and a store of `n` items, each referring to the next.
fn setup(n: u64) -> (warden::model::Program, MemoryStore) {
    let mut sources = SourceMap::new();
    sources.add("m.rules", PROGRAM);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let program = checked.program;
    let item = program.entity_by_name("M.Item").unwrap();
    let mut store = MemoryStore::new();
    for i in 1..=n {
        let mut o = Object::new(&program, ObjectId(i), item);
        o.values[0] = Value::Integer(i as i64);
        o.values[1] = if i < n { Value::Object(ObjectId(i + 1)) } else { Value::Empty };
        store.put(o);
    }
    (program, store)
}

#[test]
fn a_quadratic_microflow_stops_at_the_limit_and_rolls_back() {
    let (program, store) = setup(400);
    let (program, stmts) = with_statements(program, "call M.Mark()");
    let program = &program;
    let mut engine = Engine::new(program, Box::new(store), 0);
    engine.act_as_anonymous(Some("A"), Default::default()).unwrap();
    engine.set_step_budget(50_000);
    let err = engine.run_top(&stmts[0], &mut Vars::new()).unwrap_err();
    assert_eq!(err.code, Code::R008);
    assert!(err.message.contains("more than 50000 steps"), "{}", err.message);
    // Nothing of the statement stays: not the object Mark made, not its log.
    let item = program.entity_by_name("M.Item").unwrap();
    assert_eq!(engine.store().ids(item).len(), 400);
    assert!(engine.log().is_empty());
    // The budget is per statement: the next statement starts afresh.
    let again = engine.run_top(&stmts[0], &mut Vars::new()).unwrap_err();
    assert_eq!(again.code, Code::R008);
}

#[test]
fn objects_a_retrieve_examines_count_as_steps() {
    let (program, store) = setup(2_000);
    let text = "count(retrieve M.Item [N > 0])\ncount(retrieve M.Item [M.Item_Next/M.Item/M.Item_Next/M.Item/N > 5])";
    let (program, stmts) = with_statements(program, text);
    let program = &program;
    let mut engine = Engine::new(program, Box::new(store), 0);
    engine.act_as_anonymous(Some("A"), Default::default()).unwrap();
    // One statement, one retrieve of 2,000 objects: well within 10,000 steps...
    engine.set_step_budget(10_000);
    engine.run_top(&stmts[0], &mut Vars::new()).unwrap();
    // ... but not within 1,000: examined objects count, not only statements.
    engine.set_step_budget(1_000);
    assert_eq!(engine.run_top(&stmts[0], &mut Vars::new()).unwrap_err().code, Code::R008);
    // A path walked from every object counts every object it reaches.
    engine.set_step_budget(5_000);
    assert_eq!(engine.run_top(&stmts[1], &mut Vars::new()).unwrap_err().code, Code::R008);
    engine.set_step_budget(20_000);
    engine.run_top(&stmts[1], &mut Vars::new()).unwrap();
}

#[test]
fn max_steps_is_an_option_of_eval_test_and_repl() {
    let dir = std::env::temp_dir().join(format!("warden-bounded-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("m.rules");
    std::fs::write(
        &rules,
        format!("{PROGRAM}\ntest 'spin' {{\n  given {{\n    let $a = create M.Item {{ N = 1 }}\n    let $b = create M.Item {{ N = 2 }}\n  }}\n  as anonymous\n  call M.Spin()\n}}\n"),
    )
    .unwrap();
    let warden = || {
        let mut c = Command::cargo_bin("warden").unwrap();
        c.env("NO_COLOR", "1");
        c
    };
    let eval = warden()
        .args(["eval"])
        .arg(&rules)
        .args(["--max-steps", "3", "-e", "let $x = create M.Item { N = 1 }  commit $x  call M.Spin()"])
        .output()
        .unwrap();
    assert_eq!(eval.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&eval.stderr);
    assert!(
        stderr.contains("R008") && stderr.contains("more than 3 steps") && stderr.contains("max-steps"),
        "{stderr}"
    );
    let test = warden().arg("test").arg(&rules).args(["--max-steps", "5"]).output().unwrap();
    assert_eq!(test.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&test.stdout).contains("more than 5 steps"));
    let test = warden().arg("test").arg(&rules).output().unwrap();
    assert_eq!(test.status.code(), Some(0), "{}", String::from_utf8_lossy(&test.stdout));
    let repl = warden()
        .arg("repl")
        .arg(&rules)
        .args(["--as", "anonymous", "--max-steps", "2"])
        .write_stdin("call M.Spin()\n")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&repl.stderr).contains("more than 2 steps"),
        "{}",
        String::from_utf8_lossy(&repl.stderr)
    );
}

/// Steps never depend on a value the principal may not read: a principal's retrieve counts the
/// objects its rules let it look at, whatever its own constraint narrows them to, so `R008`
/// under a tight `--max-steps` cannot bisect a hidden `Cost` (LANGUAGE.md section 4).
#[test]
fn the_step_limit_does_not_reveal_a_hidden_value() {
    let text = "module S {
  entity Product {
    Name: String
    Cost: Decimal
  }
  module role Visitor
  access Product for Visitor {
    read Name
  }
}
user role Guest: S.Visitor
app S {
  access: public
  anonymous: Guest
}
";
    let mut sources = SourceMap::new();
    sources.add("s.rules", text);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let limits = ["0", "1", "2.5", "5", "8", "100"];
    let queries: Vec<String> = limits.iter().map(|l| format!("count(retrieve S.Product [Cost > {l}])")).collect();
    let (program, stmts) = with_statements(checked.program, &queries.join("\n"));
    let program = &program;
    let product = program.entity_by_name("S.Product").unwrap();
    for name in ["memory", "SQLite"] {
        let mut store: Box<dyn Store> = match name {
            "memory" => Box::new(MemoryStore::new()),
            _ => Box::new(warden::store::SqliteStore::in_memory(program)),
        };
        for (i, cost) in [1, 3, 6, 9].into_iter().enumerate() {
            let mut o = Object::new(program, ObjectId(i as u64 + 1), product);
            o.values[0] = Value::String(format!("p{i}"));
            o.values[1] = Value::Decimal(cost.into());
            store.put(o);
        }
        let mut engine = Engine::new(program, store, 0);
        engine.act_as_anonymous(Some("A"), Default::default()).unwrap();
        for budget in 1..12 {
            engine.set_step_budget(budget);
            let outcomes: Vec<String> = stmts
                .iter()
                .map(|s| match engine.run_top(s, &mut Vars::new()) {
                    Ok(o) => format!("{o:?}"),
                    Err(e) => e.code.to_string(),
                })
                .collect();
            assert!(
                outcomes.windows(2).all(|w| w[0] == w[1]),
                "{name} store, {budget} steps: the outcome depends on Cost: {outcomes:?}"
            );
        }
    }
}

/// Text and lists cost their size: a statement that doubles a text in a loop stops at the limit
/// (with the default budget, at some 20 MB) instead of running out of memory.
#[test]
fn doubling_a_text_stops_at_the_limit() {
    let (program, store) = setup(2);
    let text = "let $s = 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz'
let $all = retrieve M.Item
for $a in $all { for $b in $all { for $c in $all { for $d in $all { for $e in $all { for $f in $all { $s = $s + $s } } } } } }
length($s)";
    let (program, stmts) = with_statements(program, text);
    let program = &program;
    let mut engine = Engine::new(program, Box::new(store), 0);
    engine.act_as_anonymous(Some("A"), Default::default()).unwrap();
    let mut vars = Vars::new();
    for s in &stmts[..2] {
        engine.run_top(s, &mut vars).unwrap();
    }
    // 2^6 doublings of 78 characters would be some 10^21 characters.
    let err = engine.run_top(&stmts[2], &mut vars).unwrap_err();
    assert_eq!(err.code, Code::R008);
    // What the loop built before it stopped is bounded by the budget.
    let Ok(warden::eval::Outcome::Value(warden::store::Value::Integer(length))) = engine.run_top(&stmts[3], &mut vars)
    else {
        panic!("length($s) is an Integer")
    };
    assert!(length < 40_000_000, "{length} characters");
}
