//! Microflow-heavy work, timed through the test runner (whose interface is stable across
//! the evaluator's designs, so the same bench measures before and after a change): a sign-in
//! whose microflow hands 100 carts and their lines to the account, and a microflow that
//! calls another 10^4 times.
//!
//! Run with `cargo bench --bench flows`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly on a broken fixture")]

use criterion::{criterion_group, criterion_main, Criterion};
use warden::eval::test::{run_tests_on, Backend};
use warden::source::SourceMap;

/// The program: a shop with a sign-in transfer, a loop of calls, and one test per workload.
fn program_text() -> String {
    let mut text = String::from(
        "module Shop {
  entity Cart {
    stores owner
    Total: Decimal = 0
  }
  entity Line {
    stores owner
    Quantity: Integer = 1
  }
  entity Item { N: Integer }
  association Line_Cart: Line -> Cart { on delete Cart: cascade }
  module role Visitor
  module role Buyer
  access Cart for Visitor, Buyer { create write Total where [System.owner = '[%CurrentUser%]'] }
  access Line for Visitor, Buyer { create write Quantity, Line_Cart where [System.owner = '[%CurrentUser%]'] }
  microflow Transfer(AnonymousUser: System.User, SignedInUser: System.User) {
    for $cart in retrieve Shop.Cart [System.owner = $AnonymousUser] {
      change $cart { System.owner = $SignedInUser }
      for $line in retrieve $cart/Shop.Line_Cart {
        change $line { System.owner = $SignedInUser }
        commit $line
      }
      commit $cart
    }
  }
  microflow Leaf(X: Integer) {
    return $X + 1
  }
  microflow Calls() {
    let $items = retrieve Shop.Item
    let $sum = 0
    for $a in $items {
      for $b in $items {
        $sum = $sum + call Shop.Leaf(X = $a/N)
      }
    }
    return $sum
  }
}
user role Guest: Shop.Visitor
user role Customer: Shop.Buyer
app Shop {
  access: public
  anonymous: Guest
  sign-in: Shop.Transfer
}
test 'sign-in hands 100 carts over' {
  given { user alice: Customer }
  as anonymous 'A'
",
    );
    for k in 0..100 {
        text.push_str(&format!(
            "  let $c{k} = create Shop.Cart {{ Total = {k} }}\n  commit $c{k}\n  let $l{k} = create Shop.Line {{ Shop.Line_Cart = $c{k} }}\n  commit $l{k}\n"
        ));
    }
    text.push_str("  sign in alice\n  expect count(retrieve Shop.Cart) = 100\n}\ntest 'a microflow calls another 10^4 times' {\n  given {\n");
    for k in 0..100 {
        text.push_str(&format!("    let $i{k} = create Shop.Item {{ N = {k} }}\n"));
    }
    text.push_str("  }\n  expect call Shop.Calls() = 505000\n}\n");
    text
}

fn flows(c: &mut Criterion) {
    let mut sources = SourceMap::new();
    sources.add("flows.rules", program_text());
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let program = checked.program;
    for (name, filter) in [("sign_in_transfers_100_carts", "sign-in"), ("ten_thousand_calls", "10^4")] {
        let results = run_tests_on(&program, Some(filter), Backend::Memory);
        assert!(results.len() == 1 && results[0].outcome == "passed", "{:?}", results[0].message);
        c.bench_function(name, |b| b.iter(|| run_tests_on(&program, Some(filter), Backend::Memory)));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = flows
}
criterion_main!(benches);
