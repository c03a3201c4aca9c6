//! Times `run_grid` on the 9,000-combination sample grid, outside criterion.
//!
//! `cargo run --profile bench -p momentum-benches --example grid_timing -- THREADS RUNS`
//! prints the best wall time per grid (and combinations per second at it) and the median (the
//! upper of the middle two for an even count). Run it under `perf stat` to see the CPU time as
//! well when the machine is shared (wall time then includes waiting for a core).

use std::time::Instant;

use momentum_benches::{sample_grid, sample_options, sample_panel};
use momentum_engine::run_grid;

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let panel = sample_panel();
    let spec = sample_grid();
    let options = sample_options(&panel);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let mut times = Vec::with_capacity(runs);
    let mut combos = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let run = pool.install(|| run_grid(&panel, &spec, &options, &|_| {}).expect("grid runs"));
        times.push(start.elapsed().as_secs_f64());
        combos = run.rows.len();
    }
    times.sort_by(f64::total_cmp);
    let (best, median) = (times[0], times[times.len() / 2]);
    #[expect(clippy::cast_precision_loss, reason = "a small count")]
    let rate = combos as f64 / best;
    println!(
        "{combos} combinations, {} days x {} tickers, {threads} threads: best of {runs} {best:.3} s = {rate:.0} combinations/s, median {median:.3} s",
        panel.n_days(),
        panel.n_tickers(),
    );
}
