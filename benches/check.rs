//! Parse and check a generated program of 10,000 access rules over 1,000 entities.
//!
//! Run with `cargo bench --bench check`.

use criterion::{criterion_group, criterion_main, Criterion};
use warden::load;
use warden::source::SourceMap;

/// A program of `entities` entities in 10 modules, each with 10 rules
/// (owner constraints, paths, tokens and plain grants mixed).
pub fn generate(entities: usize, rules_per_entity: usize) -> String {
    let mut out = String::new();
    let modules = 10;
    for m in 0..modules {
        out.push_str(&format!("module M{m} {{\n  enumeration State {{ Open, Closed }}\n"));
        for r in 0..5 {
            out.push_str(&format!("  module role R{r}\n"));
        }
        for e in (m..entities).step_by(modules) {
            out.push_str(&format!(
                "  entity E{e} {{\n    stores owner, createdDate\n    Name: String(200)\n    Amount: Decimal\n    State: State = Open\n  }}\n"
            ));
            if e >= modules {
                out.push_str(&format!("  association E{e}_Parent: E{e} -> E{} \n", e - modules));
            }
            for k in 0..rules_per_entity {
                let role = k % 5;
                let body = match k % 5 {
                    0 => "create\n    delete\n    write Name, Amount\n    where [System.owner = '[%CurrentUser%]']"
                        .to_string(),
                    1 => "read *\n    where [createdDate > '[%CurrentDateTime%] - 30 * [%DayLength%]']".to_string(),
                    2 if e >= modules => format!(
                        "read Name\n    where [M{m}.E{e}_Parent/M{m}.E{}/State = 'Closed' and Amount > 10]",
                        e - modules
                    ),
                    3 => "read Name, State\n    where [contains(Name, 'x') or not(State = 'Open')]".to_string(),
                    _ => "read Name, Amount".to_string(),
                };
                out.push_str(&format!("  access E{e} for R{role} {{\n    {body}\n  }}\n"));
            }
        }
        out.push_str("}\n");
    }
    for m in 0..modules {
        out.push_str(&format!("user role U{m}: M{m}.R0, M{m}.R1\n"));
    }
    out
}

fn bench(c: &mut Criterion) {
    let text = generate(1_000, 10);
    let mut sources = SourceMap::new();
    sources.add("generated.rules", text);
    let checked = load::load(sources.clone());
    assert!(checked.diagnostics.is_empty(), "the generated program must be clean");
    assert_eq!(checked.program.access_rules.len(), 10_000);
    let mut group = c.benchmark_group("check");
    group.sample_size(20);
    group.bench_function("parse_and_check_10k_rules_1k_entities", |b| b.iter(|| load::load(sources.clone())));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
