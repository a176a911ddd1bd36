//! Parse and check a generated program of 10,000 access rules over 1,000 entities,
//! and parse it alone, to show the parser's share.
//!
//! Run with `cargo bench --bench check`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly on a broken fixture")]

use criterion::{criterion_group, criterion_main, Criterion};
use warden::load;
use warden::source::{FileId, SourceMap};
use warden::syntax;

#[path = "fixtures/generate.rs"]
mod generate;

use generate::generate;

fn bench(c: &mut Criterion) {
    let text = generate(1_000, 10);
    let mut sources = SourceMap::new();
    sources.add("generated.rules", text.clone());
    let checked = load::load(sources.clone());
    assert!(checked.diagnostics.is_empty(), "the generated program must be clean");
    assert_eq!(checked.program.access_rules.len(), 10_000);
    let mut group = c.benchmark_group("check");
    group.sample_size(20);
    group.bench_function("parse_and_check_10k_rules_1k_entities", |b| b.iter(|| load::load(sources.clone())));
    group.bench_function("parse_10k_rules_1k_entities", |b| b.iter(|| syntax::parse_file(&text, FileId(0))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
