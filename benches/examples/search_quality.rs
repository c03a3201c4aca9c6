//! How close a TPE search gets to the grid's best, and how long it takes (issue #25).
//!
//! `cargo run --profile bench -p momentum-benches --example search_quality -- THREADS SEEDS BATCH BUDGET...`
//!
//! On the embedded sample (from 1995, 70 % train, Sharpe, 10 bps, 16 CSCV blocks, no
//! walk-forward, no CPCV): first the 9,000-combination grid and its best train Sharpe
//! ratio; then for each seed `0..SEEDS` a TPE search of the largest budget over the same space
//! (`sample`: lookback 5:250:5, skip 0, holding 1:60, top_k 3:7:2) and one over the wide space
//! (`wide`, the `backtest.search` defaults: lookback 2:500, skip 0:60, holding 1:120, top_k
//! 1:20), in batches of `BATCH` (16 is the default of `backtest.search.batch`). A search's first `N` trials do not depend on its budget, so each
//! smaller budget is read off the same run: one line per space, seed and budget
//! (`engine,SPACE,SEED,TRIALS,BEST_SHARPE,SECONDS`: the best train Sharpe ratio among the first
//! `TRIALS` trials and the seconds from the search's start to the end of the batch of trial
//! `TRIALS`, proposals included), then per space and budget the median best, its range, its
//! median ratio to the grid's best and the median seconds. Last, the median wall time of a
//! whole `run_experiment` with the largest budget (search, the winner's runs, DSR and PBO).

use std::time::Instant;

use momentum_benches::{sample_grid, sample_panel};
use momentum_engine::{
    EngineError, ExperimentSpec, Objective, ParamRange, SearchMethod, SearchSpec, run_experiment,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let seeds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let batch: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let mut budgets: Vec<usize> = args.filter_map(|a| a.parse().ok()).collect();
    if budgets.is_empty() {
        budgets = vec![100, 300, 450, 1000];
    }
    budgets.sort_unstable();
    let largest = budgets[budgets.len() - 1];
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
    let p = grid.params;
    println!(
        "grid: {} combinations, best train sharpe {grid_best:.6} (lookback {} skip {} holding {} \
         top_k {}), {grid_seconds:.3} s",
        grid.grid.len(),
        p.lookback,
        p.skip,
        p.holding,
        p.top_k
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
    println!("side,space,seed,trials,best_sharpe,seconds");
    let side = format!("engine-batch-{batch}");
    let mut summary = Vec::new();
    for (name, space) in [("sample", sample_space), ("wide", wide_space)] {
        let mut found = vec![Vec::new(); budgets.len()];
        let mut whole = Vec::new();
        for seed in 0..seeds {
            let spec = ExperimentSpec {
                search: SearchSpec {
                    trials: largest,
                    seed,
                    batch,
                    ..space
                },
                ..base.clone()
            };
            let started = Instant::now();
            let run = pool
                .install(|| run_experiment(&panel, &spec, None, &|_| {}))
                .expect("the search runs");
            whole.push(started.elapsed().as_secs_f64());
            let mut sharpes = Vec::with_capacity(largest);
            run.grid
                .try_for_each(|_, row, _| {
                    sharpes.push(row.train.sharpe);
                    Ok::<_, EngineError>(())
                })
                .expect("the rows read back");
            for (at, &trials) in budgets.iter().enumerate() {
                let best = sharpes[..trials]
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max);
                let seconds = run.search.seconds[trials - 1];
                println!("{side},{name},{seed},{trials},{best:.6},{seconds:.4}");
                found[at].push((best, seconds));
            }
        }
        summary.push((name, found, whole));
    }
    for (name, found, mut whole) in summary {
        for (trials, mut results) in budgets.iter().zip(found) {
            let mut bests: Vec<f64> = results.iter().map(|r| r.0).collect();
            bests.sort_by(f64::total_cmp);
            results.sort_by(|a, b| a.1.total_cmp(&b.1));
            let seconds: Vec<f64> = results.iter().map(|r| r.1).collect();
            println!(
                "{name} space, {trials} trials, {} seeds: best train sharpe median {:.4} (min \
                 {:.4}, max {:.4}), {:.2} % of the grid's best, search {:.3} s (median)",
                bests.len(),
                median(&bests),
                bests[0],
                bests[bests.len() - 1],
                100.0 * median(&bests) / grid_best,
                median(&seconds)
            );
        }
        whole.sort_by(f64::total_cmp);
        println!(
            "{name} space, {largest} trials: whole run_experiment {:.3} s (median)",
            median(&whole)
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
