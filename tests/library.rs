//! Embedding warden in a Rust program: the example of `docs/library.md`, run as a test, and a
//! check that the document shows exactly this code.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

// ---- example ----
use warden::eval::{Engine, Op, Outcome, PrincipalName, Vars};
use warden::source::SourceMap;
use warden::store::{ObjectId, Value};

const RULES: &str = "
module Shop {
  entity Cart {
    stores owner
    Total: Decimal = 0
  }
  module role Buyer
  access Cart for Buyer {
    create
    read Total
    where [System.owner = '[%CurrentUser%]']
  }
}
user role Customer: Shop.Buyer
";

const STORE: &str = r#"{
  "format": "warden-store/1",
  "objects": [
    { "id": 1, "entity": "System.User", "Name": "alice", "UserRoles": ["Customer"] },
    { "id": 2, "entity": "System.User", "Name": "bob", "UserRoles": ["Customer"] },
    { "id": 3, "entity": "Shop.Cart", "System.owner": 1, "Total": "12.50" },
    { "id": 4, "entity": "Shop.Cart", "System.owner": 2, "Total": "3.00" }
  ]
}"#;

#[test]
fn embedding_warden() {
    // Load and check: every problem comes back as a diagnostic with a code and a span.
    let mut sources = SourceMap::new();
    sources.add("shop.rules", RULES);
    let mut checked = warden::load::load(sources);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);

    // Statements are checked against the program before anything runs.
    let query = warden::check::compile_statements(&mut checked.program, "query", "retrieve Shop.Cart").unwrap();
    let program = &checked.program;

    // A store: loaded from the JSON format (or `store::open` for a file, SQLite included).
    let store = warden::store::load_json(program, STORE).unwrap();
    let mut engine = Engine::new(program, Box::new(store), 0);
    engine.act_as(&"alice".parse::<PrincipalName>().unwrap()).unwrap();

    // Decide: may alice read the Total of cart #3? Of bob's cart #4?
    let total = program.entity(program.entity_by_name("Shop.Cart").unwrap()).member("Total").unwrap();
    let own = engine.object(ObjectId(3)).unwrap().into_owned();
    let other = engine.object(ObjectId(4)).unwrap().into_owned();
    assert!(engine.allowed(Op::Read(total), &own));
    assert!(!engine.allowed(Op::Read(total), &other));

    // Retrieve as alice: her own cart only.
    let outcome = engine.run_top(&query.stmts[0], &mut Vars::new()).unwrap();
    assert_eq!(outcome, Outcome::Value(Value::List(vec![ObjectId(3)])));
    assert_eq!(engine.show(&Value::Object(ObjectId(3))), "Shop.Cart #3 { Total: 12.50 }");

    // Why not bob's cart: every rule, each term's value, what decided.
    let why = engine.explain(Op::See, &other, "Shop.Cart #4").render();
    assert!(why.starts_with("deny"), "{why}");
}
// ---- end of example ----

/// `docs/library.md` shows the example above, word for word.
#[test]
fn the_library_guide_shows_this_example() {
    let this = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/library.rs")).unwrap();
    let start = this.find("// ---- example ----\n").unwrap() + "// ---- example ----\n".len();
    let end = this.find("// ---- end of example ----").unwrap();
    let example = &this[start..end];
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/library.md")).unwrap();
    assert!(
        guide.contains(&format!("```rust\n{example}```")),
        "docs/library.md must show tests/library.rs's example exactly, in one ```rust block"
    );
}
