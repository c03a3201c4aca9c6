//! Times `cpcv` (N = 10, K = 2) on the 9,000-combination sample grid beside `run_grid`,
//! by the Sharpe ratio (the grid simulation's block sums) and by each other objective (every
//! combination's recorded run cut into blocks).
//!
//! `cargo run --profile bench -p momentum-benches --example cpcv_timing -- THREADS RUNS`

use std::time::Instant;

use momentum_benches::{sample_grid, sample_options, sample_panel};
use momentum_engine::{CpcvSpec, GridOptions, Objective, Window, cpcv, run_grid};

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[0], times[times.len() / 2], last.unwrap())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let panel = sample_panel();
    let grid = sample_grid();
    let split = sample_options(&panel);
    let full = Window::full(panel.n_days());
    let whole = GridOptions {
        train: full,
        test: None,
        ..split
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let (b, m, run) = time(runs, || run_grid(&panel, &grid, &split, &|_| {}).unwrap());
        println!("run_grid train+test (16 blocks): best {b:.3} s, median {m:.3} s ({} combos)", run.rows.len());
        let (b, m, _) = time(runs, || run_grid(&panel, &grid, &whole, &|_| {}).unwrap());
        println!("run_grid whole window (16 blocks): best {b:.3} s, median {m:.3} s");
        for embargo in [0, 20] {
            let spec = CpcvSpec { embargo_days: embargo, ..CpcvSpec::default() };
            let (b, m, c) = time(runs, || {
                cpcv(&panel, (&grid, Objective::Sharpe, 10.0), spec, full, &|_| {}).unwrap()
            });
            println!(
                "cpcv N=10 K=2 E={embargo} whole window: best {b:.3} s, median {m:.3} s; g = {} days, purge {}, paths {:?}, summary {:?}",
                c.group_days, c.purge_days, c.path_sharpes, c.paths
            );
        }
        for objective in [Objective::Sortino, Objective::TotalRoi, Objective::Calmar] {
            let (b, m, c) = time(runs, || {
                cpcv(&panel, (&grid, objective, 10.0), CpcvSpec::default(), full, &|_| {}).unwrap()
            });
            println!(
                "cpcv N=10 K=2 E=0 by {objective}: best {b:.3} s, median {m:.3} s; summary {:?}",
                c.paths
            );
        }
    });
    println!(
        "{} days x {} tickers, {threads} threads, {runs} runs",
        panel.n_days(),
        panel.n_tickers()
    );
}
