//! Benchmarks of the momentum engine.
//!
//! Workloads (all inputs built outside the timer, passed through `black_box`):
//! - `backtest/sample_L120_H20_K5`: one recorded backtest (equity curve, trade log, metrics) of
//!   the 20-stock sample from 1995 on, over the whole panel.
//! - `grid/sample_9000/2_threads`: [`momentum_engine::run_grid`] on the 9,000
//!   combinations (lookback 5..=250 step 5, skip 0, holding 1..=60, top_k 3/5/7) on a
//!   2-thread rayon pool: rank tables, simulation and every metric on the train (70 %) and test
//!   windows, plus the CSCV block sums. Throughput is reported in combinations per second.
//! - `grid/sample_9000/1_thread`: the same on one thread.
//! - `grid_search/sample_9000/2_threads`: the whole selection (`run_grid` + winner re-run + PSR,
//!   DSR and PBO over C(16, 8) = 12,870 CSCV splits).
//! - `pbo/sample_9000/2_threads`: PBO alone, from the block sums of that grid (computed outside
//!   the timer).
//! - `compare/2520_days_5000_reps/2_threads`: [`momentum_engine::compare`] of two sample
//!   strategies' last ten years of daily returns (2,520 days): the HAC test, 5,000
//!   studentized circular block bootstrap replications (block 5) on a 2-thread pool, and the
//!   Diebold-Mariano test (issue #23; target under 1 s).
//! - `scoring/one_day_5000_tickers`: `momentum_scores` + `select_top_k(50)` for one day of a
//!   5,000-ticker universe (what `momentum scan` does).
//!
//! Run: `cargo bench -p momentum-benches --bench engine`.
//! Quick pass (CI, criterion test mode): `cargo test -p momentum-benches --benches`. Test mode
//! runs every routine once, unoptimised, so there the grid workloads shrink to 60 combinations
//! (lookback 5..=250 step 50, holding 1, 20, 60, top_k 3, 5, 7, 9) to stay quick; the
//! timed 9,000-combination grid runs only under `cargo bench` (detected by its `--bench` flag).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use momentum_benches::{ab_pair, large_panel, sample_grid, sample_options, sample_panel};
use momentum_engine::{
    BlockSums, ComparisonSpec, StrategyParams, Window, backtest, compare, grid_search,
    probability_of_backtest_overfitting, run_grid, select_top_k_into,
};
use momentum_features::momentum_scores;

fn bench_backtest(c: &mut Criterion) {
    let panel = sample_panel();
    let params = StrategyParams {
        lookback: 120,
        skip: 0,
        holding: 20,
        top_k: 5,
        cost_bps: 10.0,
    };
    let window = Window::full(panel.n_days());
    c.bench_function("backtest/sample_L120_H20_K5", |b| {
        b.iter(|| backtest(black_box(&panel), black_box(&params), window).unwrap());
    });
}

/// `cargo bench` passes `--bench`; `cargo test --benches` does not (criterion test mode).
fn timed() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn bench_grid(c: &mut Criterion) {
    let panel = sample_panel();
    let mut spec = sample_grid();
    if !timed() {
        spec.lookback = (5..=250).step_by(50).collect();
        spec.holding = vec![1, 20, 60];
        spec.top_k = vec![3, 5, 7, 9];
    }
    let options = sample_options(&panel);
    let combos = spec.combinations(options.cost_bps).unwrap().0.len() as u64;
    let mut group = c.benchmark_group("grid");
    group.throughput(Throughput::Elements(combos));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for threads in [2, 1] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let name = if threads == 1 {
            "1_thread"
        } else {
            "2_threads"
        };
        group.bench_function(format!("sample_9000/{name}"), |b| {
            b.iter(|| {
                pool.install(|| {
                    run_grid(black_box(&panel), black_box(&spec), &options, &|_| {}).unwrap()
                })
            });
        });
    }
    group.finish();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("grid_search");
    group.throughput(Throughput::Elements(combos));
    group.sample_size(10);
    group.bench_function("sample_9000/2_threads", |b| {
        b.iter(|| {
            pool.install(|| {
                grid_search(black_box(&panel), black_box(&spec), &options, &|_| {}).unwrap()
            })
        });
    });
    group.finish();
    let rows = pool
        .install(|| run_grid(&panel, &spec, &options, &|_| {}))
        .unwrap()
        .rows;
    let (blocks, block_len) = rows
        .block_layout()
        .expect("the sample's train window has CSCV blocks");
    let sums = BlockSums {
        blocks,
        block_len,
        sums: rows
            .chunks()
            .flat_map(|chunk| chunk.unwrap().into_owned().sums)
            .collect(),
    };
    let mut group = c.benchmark_group("pbo");
    group.throughput(Throughput::Elements(combos));
    group.sample_size(10);
    group.bench_function("sample_9000/2_threads", |b| {
        b.iter(|| pool.install(|| probability_of_backtest_overfitting(black_box(&sums)).unwrap()));
    });
    group.finish();
}

fn bench_compare(c: &mut Criterion) {
    let (champion, challenger) = ab_pair(&sample_panel());
    let spec = ComparisonSpec::default();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("compare");
    group.sample_size(20);
    group.bench_function("2520_days_5000_reps/2_threads", |b| {
        b.iter(|| {
            pool.install(|| compare(black_box(&champion), black_box(&challenger), &spec).unwrap())
        });
    });
    group.finish();
}

fn bench_scoring(c: &mut Criterion) {
    let panel = large_panel(300, 5000);
    let t = panel.n_days() - 1;
    let mut scores = vec![0.0; panel.n_tickers()];
    let mut picks = Vec::with_capacity(panel.n_tickers());
    c.bench_function("scoring/one_day_5000_tickers", |b| {
        b.iter(|| {
            momentum_scores(black_box(&panel), t, 250, 20, &mut scores).unwrap();
            select_top_k_into(&scores, 50, &mut picks);
            black_box(picks.len())
        });
    });
}

criterion_group!(
    benches,
    bench_backtest,
    bench_grid,
    bench_compare,
    bench_scoring
);
criterion_main!(benches);
