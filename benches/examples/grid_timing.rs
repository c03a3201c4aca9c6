//! Times `run_grid` on the 9,000-combination sample grid, outside criterion.
//!
//! `cargo run --profile bench -p momentum-benches --example grid_timing -- THREADS RUNS [PANEL_CSV]`
//! prints the best wall time per grid (and combinations per second at it) and the median (the
//! upper of the middle two for an even count), then the grid's mean final value on the train
//! window (the mean of `total_roi + 1` over the combinations, shortest round-trip digits) with
//! the train and test windows as day indices. With `PANEL_CSV` it also writes the panel it
//! timed, wide (`date,TICKER,...`, `NaN` for a missing close, shortest round-trip digits), for
//! a peer implementation to run on the same prices (`scripts/bench-vs-numba.sh`). Run it under
//! `perf stat` to see the CPU time as well when the machine is shared (wall time then includes
//! waiting for a core).

use std::io::{BufWriter, Write};
use std::time::Instant;

use momentum_benches::{sample_grid, sample_options, sample_panel};
use momentum_engine::run_grid;
use momentum_features::PricePanel;

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let panel_csv = args.next();
    let panel = sample_panel();
    let spec = sample_grid();
    let options = sample_options(&panel);
    if let Some(path) = panel_csv {
        write_panel(&panel, &path);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let run = pool.install(|| run_grid(&panel, &spec, &options, &|_| {}).expect("grid runs"));
        times.push(start.elapsed().as_secs_f64());
        last = Some(run);
    }
    let run = last.expect("at least one run");
    let combos = run.rows.len();
    times.sort_by(f64::total_cmp);
    let (best, median) = (times[0], times[times.len() / 2]);
    #[expect(clippy::cast_precision_loss, reason = "a small count")]
    let rate = combos as f64 / best;
    println!(
        "{combos} combinations, {} days x {} tickers, {threads} threads: best of {runs} {best:.3} s = {rate:.0} combinations/s, median {median:.3} s",
        panel.n_days(),
        panel.n_tickers(),
    );
    // Outside the timed runs: the grid's mean final train value, summed in grid order.
    let mut sum = 0.0;
    for chunk in run.rows.chunks() {
        for row in &chunk.expect("the rows read back").rows {
            sum += row.train.total_roi + 1.0;
        }
    }
    #[expect(clippy::cast_precision_loss, reason = "a small count")]
    let mean = sum / combos as f64;
    let test = options.test.expect("the sample options have a test window");
    println!(
        "mean final value (train) {mean:e} over {combos} combinations; train {}..={}, test {}..={}",
        options.train.start, options.train.end, test.start, test.end,
    );
}

/// Writes `panel` as a wide CSV: `date` then the tickers in panel order, `NaN` when missing.
fn write_panel(panel: &PricePanel, path: &str) {
    let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("create {path}: {e}"));
    write_wide(panel, BufWriter::new(file)).unwrap_or_else(|e| panic!("write {path}: {e}"));
}

fn write_wide(panel: &PricePanel, mut out: impl Write) -> std::io::Result<()> {
    let close = panel.close();
    write!(out, "date")?;
    for ticker in panel.tickers() {
        write!(out, ",{ticker}")?;
    }
    writeln!(out)?;
    for (t, date) in panel.dates().iter().enumerate() {
        write!(out, "{date}")?;
        for i in 0..panel.n_tickers() {
            write!(out, ",{}", close[[t, i]])?;
        }
        writeln!(out)?;
    }
    out.flush()
}
