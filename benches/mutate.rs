//! `warden test --mutate`: the demo app (with the web shop), and a generated program of
//! 1,000 access rules with one test per rule that kills every mutant of it. Each is timed
//! with the tests of a mutant pruned to those that touched what it changes (what the command
//! does) and, as the baseline, run against every test (on the demo app and on a 100-rule
//! program; the 1,000-rule program unpruned would run 5,000 mutants × 1,000 tests).
//!
//! Run with `cargo bench --bench mutate`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly on a broken fixture")]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use warden::model::Program;
use warden::mutate::{run, Options};
use warden::source::SourceMap;

/// `entities` entities with ten rules each (one per module role, each under its own
/// constraint), and for every rule a test of what it grants and what it must not.
fn generate(entities: usize) -> String {
    let mut out = String::from("module M {\n  module role Visitor\n");
    for k in 0..10 {
        out.push_str(&format!("  module role R{k}\n"));
    }
    for i in 0..entities {
        out.push_str(&format!("  entity E{i} {{\n    Name: String(40)\n    Amount: Integer = 0\n  }}\n"));
        for k in 0..10 {
            out.push_str(&format!("  access E{i} for R{k} {{\n    read Name\n    where [Amount > {k}]\n  }}\n"));
        }
    }
    out.push_str("}\n\nuser role Guest: M.Visitor\n");
    for k in 0..10 {
        out.push_str(&format!("user role U{k}: M.R{k}\n"));
    }
    out.push_str("\napp M {\n  access: public\n  anonymous: Guest\n}\n");
    for i in 0..entities {
        for k in 0..10 {
            out.push_str(&format!(
                "\ntest 'E{i} for R{k}' {{\n  given {{\n    user u: U{k}\n  }}\n  \
                 let $yes = create M.E{i} {{ Name = 'a', Amount = {} }}\n  \
                 let $no = create M.E{i} {{ Name = 'b', Amount = {k} }}\n  commit [$yes, $no]\n  as u\n  \
                 expect allow read $yes/Name\n  expect deny read $no\n  expect deny write $yes/Name\n  \
                 expect deny delete $yes\n  expect deny create M.E{i}\n  as anonymous\n  expect deny read $yes\n}}\n",
                k + 1
            ));
        }
    }
    out
}

fn load(sources: SourceMap) -> Program {
    let checked = warden::load::load(sources);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics.first());
    checked.program
}

fn generated(entities: usize) -> Program {
    let mut sources = SourceMap::new();
    sources.add("generated.rules", generate(entities));
    load(sources)
}

fn options(prune: bool) -> Options {
    Options { threads: 2, max_steps: warden::eval::DEFAULT_STEP_BUDGET, prune }
}

fn bench(c: &mut Criterion) {
    let examples = load(warden::load::read_sources(&["examples/".into()]).unwrap());
    // `cargo test --all-targets` runs each benchmark once, unoptimized: small programs there.
    let measuring = std::env::args().any(|a| a == "--bench");
    let (thousand, hundred) = if measuring { (generated(100), generated(10)) } else { (generated(2), generated(1)) };
    assert_eq!(thousand.access_rules.len(), if measuring { 1_000 } else { 20 });
    for (name, program) in [("examples", &examples), ("1,000 rules", &thousand), ("100 rules", &hundred)] {
        let report = run(program, options(true), &|_, _| {});
        eprintln!(
            "{name}: {} mutants ({} equivalent), {} killed, score {:.1}%, {} tests",
            report.mutants.len(),
            report.equivalent,
            report.killed,
            report.score(),
            report.tests
        );
    }
    let mut group = c.benchmark_group("mutate");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("examples_pruned", |b| b.iter(|| run(&examples, options(true), &|_, _| {})));
    group.bench_function("examples_every_test", |b| b.iter(|| run(&examples, options(false), &|_, _| {})));
    group.bench_function("100_rules_pruned", |b| b.iter(|| run(&hundred, options(true), &|_, _| {})));
    group.bench_function("100_rules_every_test", |b| b.iter(|| run(&hundred, options(false), &|_, _| {})));
    group.bench_function("1000_rules_pruned", |b| b.iter(|| run(&thousand, options(true), &|_, _| {})));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
