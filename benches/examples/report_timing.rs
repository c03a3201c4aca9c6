//! Times the HTML report against the backtest it reports on, on the 9,000-combination
//! sample grid, outside criterion.
//!
//! `cargo run --profile bench -p momentum-benches --example report_timing -- THREADS RUNS`
//! runs the experiment (the grid, the winner on train and test, PSR/DSR/PBO) once, then
//! renders its report `RUNS` times, and prints the experiment's wall time, the best and median
//! report time, the report's share of the experiment and its size. The issue asks for a report
//! under 3 MB, made in under 10 % of the backtest's time.

use std::time::Instant;

use momentum_benches::{sample_grid, sample_panel};
use momentum_engine::{ExperimentSpec, run_experiment};
use momentum_report::{Report, render};

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let panel = sample_panel();
    let spec = ExperimentSpec {
        grid: sample_grid(),
        ..Default::default()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let start = Instant::now();
    let experiment = pool
        .install(|| run_experiment(&panel, &spec, None, &|_| {}))
        .expect("the experiment runs");
    let backtest = start.elapsed().as_secs_f64();
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let start = Instant::now();
        // The curve is part of what the report costs: the backtest chains it for the report.
        let curve = experiment.chained_curve().expect("recorded");
        let html = render(&Report {
            experiment: &experiment,
            curve: &curve,
            gates: None,
            live: None,
            origin: "report_timing".into(),
        });
        times.push(start.elapsed().as_secs_f64());
        bytes = html.len();
    }
    times.sort_by(f64::total_cmp);
    let (best, median) = (times[0], times[times.len() / 2]);
    #[expect(clippy::cast_precision_loss, reason = "a file size")]
    let megabytes = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "{} combinations, {} days x {} tickers, {threads} threads: experiment {backtest:.3} s; \
         report best of {runs} {best:.3} s ({:.1} % of the experiment), median {median:.3} s; \
         {bytes} bytes ({megabytes:.2} MB)",
        experiment.grid.len(),
        panel.n_days(),
        panel.n_tickers(),
        100.0 * best / backtest,
    );
}
