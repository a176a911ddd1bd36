//! Loading figures (W4): `load_json` of the store of 1,000 users and 10^5 or 10^6 carts
//! (≈97 MB of JSON for 10^6), the document written once by `save_json`; and the same
//! load by the reporting loader alone (what `load_json` does when its fast path gives up),
//! and the floor of both: the same objects built with `put`.
//!
//! Run with `cargo bench --bench store`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly on a broken fixture")]

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use warden::model::Program;
use warden::store::{load_json, load_json_reporting, save_json, MemoryStore, Store, StoreError};

#[path = "fixtures/shop.rs"]
mod shop;

use shop::{program, store, USERS};

/// The store of `carts` carts as `save_json` writes it.
fn document(program: &Program, carts: usize) -> String {
    let path = std::env::temp_dir().join(format!("warden-bench-store-{}-{carts}.json", std::process::id()));
    save_json(program, &store(program, carts), &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    text
}

/// A loader under test.
type Loader = fn(&Program, &str) -> Result<MemoryStore, Vec<StoreError>>;

fn load(c: &mut Criterion) {
    let program = program();
    let loaders: [(&str, Loader); 2] = [("load_json", load_json), ("load_json_reporting", load_json_reporting)];
    let documents: Vec<(usize, String)> = [100_000usize, 1_000_000].map(|n| (n, document(&program, n))).into();
    for (name, loader) in loaders {
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        for (n, text) in &documents {
            let loaded = loader(&program, text).unwrap_or_else(|e| panic!("{:?}", &e[..e.len().min(3)]));
            assert_eq!(loaded.all().len(), n + USERS as usize);
            drop(loaded);
            group.throughput(Throughput::Bytes(text.len() as u64));
            // The store is dropped outside the timing.
            group.bench_with_input(BenchmarkId::from_parameter(n), text, |b, text| {
                b.iter_batched(|| (), |()| loader(&program, text).unwrap(), BatchSize::PerIteration)
            });
        }
        group.finish();
    }
    let mut group = c.benchmark_group("put");
    group.sample_size(10);
    for (n, _) in &documents {
        group.bench_with_input(BenchmarkId::from_parameter(n), n, |b, &n| {
            b.iter_batched(|| (), |()| store(&program, n), BatchSize::PerIteration)
        });
    }
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
