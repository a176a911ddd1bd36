//! A small timing harness: a warm-up that also sizes the batches, then N samples of
//! timed batches; the figure kept is the median time per operation.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Time spent calling the operation before measuring (at least one call).
    pub warmup: Duration,
    /// The aimed length of one timed batch; an operation slower than this runs once per sample.
    pub sample_time: Duration,
    /// Timed batches.
    pub samples: usize,
}

impl Config {
    /// The same settings with another number of samples.
    pub fn with_samples(self, samples: usize) -> Config {
        Config { samples, ..self }
    }
}

/// Nanoseconds per operation over the samples.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    /// The median sample.
    pub median: f64,
    /// The fastest sample.
    pub min: f64,
    /// The slowest sample.
    pub max: f64,
}

/// Measures `f`, reporting the figures on stderr under `name`.
pub fn measure<R>(name: &str, cfg: &Config, mut f: impl FnMut() -> R) -> Stats {
    let start = Instant::now();
    let mut calls = 0u64;
    while calls == 0 || start.elapsed() < cfg.warmup {
        black_box(f());
        calls += 1;
    }
    let per_call = start.elapsed().as_nanos() as f64 / calls as f64;
    let batch = ((cfg.sample_time.as_nanos() as f64 / per_call).ceil() as u64).max(1);
    let mut samples = Vec::with_capacity(cfg.samples);
    for _ in 0..cfg.samples.max(1) {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        samples.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    samples.sort_by(f64::total_cmp);
    let stats = Stats { median: samples[samples.len() / 2], min: samples[0], max: samples[samples.len() - 1] };
    eprintln!(
        "  {name:<44} median {:>12}  min {:>12}  max {:>12}  ({} x {batch})",
        crate::table::time(stats.median),
        crate::table::time(stats.min),
        crate::table::time(stats.max),
        samples.len()
    );
    stats
}

/// Times one run of `f` (for set-ups too slow to repeat), returning its result and nanoseconds.
pub fn once<R>(f: impl FnOnce() -> R) -> (R, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_nanos() as f64)
}

/// Measures `f` call by call (`samples` calls after one warm-up call), keeping each result's
/// drop out of the timing: for operations of tens of milliseconds and more.
pub fn measure_each<R>(name: &str, samples: usize, mut f: impl FnMut() -> R) -> Stats {
    drop(black_box(f()));
    let mut times: Vec<f64> = (0..samples.max(1))
        .map(|_| {
            let (r, ns) = once(&mut f);
            drop(black_box(r));
            ns
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let stats = Stats { median: times[times.len() / 2], min: times[0], max: times[times.len() - 1] };
    eprintln!(
        "  {name:<44} median {:>12}  min {:>12}  max {:>12}  ({} x 1)",
        crate::table::time(stats.median),
        crate::table::time(stats.min),
        crate::table::time(stats.max),
        times.len()
    );
    stats
}
