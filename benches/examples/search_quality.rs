//! How close a TPE search gets to the grid's best, and how long it takes (issue #25).
//!
//! `cargo run --profile bench -p momentum-benches --example search_quality -- THREADS SEEDS TRIALS...`
//!
//! On the embedded sample (from 1995, 70 % train, Sharpe, 10 bps, 16 CSCV blocks, no
//! walk-forward, no CPCV): first the 9,000-combination grid and its best train Sharpe
//! ratio; then, for each budget in `TRIALS` and each seed `0..SEEDS`, a TPE search over the
//! same space (lookback 5:250:5, skip 0, holding 1:60, top_k 3:7:2) and one over the wide space
//! (the `backtest.search` defaults: lookback 2:500, skip 0:60, holding 1:120, top_k 1:20). It
//! prints one line per search (`space,trials,seed,best_sharpe,ratio_to_grid,seconds`), then per
//! space and budget the median ratio, its range and the median time. Times are of
//! `run_experiment` whole (search, winner's runs, DSR and PBO) on `THREADS` threads.

use std::time::Instant;

use momentum_benches::{sample_grid, sample_panel};
use momentum_engine::{
    ExperimentSpec, Objective, ParamRange, SearchMethod, SearchSpec, run_experiment,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let seeds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let budgets: Vec<usize> = args.filter_map(|a| a.parse().ok()).collect();
    let budgets = if budgets.is_empty() {
        vec![450]
    } else {
        budgets
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let panel = sample_panel();
    let base = ExperimentSpec {
        train_fraction: Some(0.7),
        objective: Objective::Sharpe,
        cost_bps: 10.0,
        pbo_blocks: 16,
        grid: sample_grid(),
        ..ExperimentSpec::default()
    };
    let started = Instant::now();
    let grid = pool
        .install(|| run_experiment(&panel, &base, None, &|_| {}))
        .expect("the grid runs");
    let grid_seconds = started.elapsed().as_secs_f64();
    let grid_best = grid.best().expect("a best row").train.sharpe;
    println!(
        "grid: {} combinations, best train sharpe {grid_best:.6} ({:?}), {grid_seconds:.3} s",
        grid.grid.len(),
        grid.params
    );
    let sample_space = SearchSpec {
        method: SearchMethod::Tpe,
        lookback: ParamRange::new(5, 250, 5),
        skip: ParamRange::new(0, 0, 1),
        holding: ParamRange::new(1, 60, 1),
        top_k: ParamRange::new(3, 7, 2),
        ..SearchSpec::default()
    };
    let wide_space = SearchSpec {
        method: SearchMethod::Tpe,
        ..SearchSpec::default()
    };
    println!("space,trials,seed,best_sharpe,ratio_to_grid,seconds");
    let mut summary = Vec::new();
    for (name, space) in [("sample", sample_space), ("wide", wide_space)] {
        for &trials in &budgets {
            let mut ratios = Vec::new();
            let mut times = Vec::new();
            for seed in 0..seeds {
                let spec = ExperimentSpec {
                    search: SearchSpec {
                        trials,
                        seed,
                        ..space
                    },
                    ..base.clone()
                };
                let started = Instant::now();
                let found = pool
                    .install(|| run_experiment(&panel, &spec, None, &|_| {}))
                    .expect("the search runs");
                let seconds = started.elapsed().as_secs_f64();
                let best = found.best().expect("a best row").train.sharpe;
                let ratio = best / grid_best;
                println!("{name},{trials},{seed},{best:.6},{ratio:.4},{seconds:.3}");
                ratios.push(ratio);
                times.push(seconds);
            }
            summary.push((name, trials, ratios, times));
        }
    }
    for (name, trials, mut ratios, mut times) in summary {
        ratios.sort_by(f64::total_cmp);
        times.sort_by(f64::total_cmp);
        println!(
            "{name} space, {trials} trials, {} seeds: ratio to the grid's best median {:.4} \
             (min {:.4}, max {:.4}), time median {:.3} s",
            ratios.len(),
            median(&ratios),
            ratios[0],
            ratios[ratios.len() - 1],
            median(&times)
        );
    }
}

/// The middle value (the mean of the middle two for an even count) of sorted values.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}
