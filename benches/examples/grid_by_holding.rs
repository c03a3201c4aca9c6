//! Times `run_grid` on the sample grid restricted to one holding period at a time (all 50
//! lookbacks, top_k 3, 5, 7), on one thread: where the per-combination cost comes from.
//!
//! `cargo run --profile bench -p momentum-benches --example grid_by_holding -- [H ...]`

use std::time::Instant;

use momentum_benches::{sample_grid, sample_options, sample_panel};
use momentum_engine::{RankTable, run_grid};

fn main() {
    let holdings: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let holdings = if holdings.is_empty() {
        vec![1, 2, 5, 20, 60]
    } else {
        holdings
    };
    let panel = sample_panel();
    let options = sample_options(&panel);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool");
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        pool.install(|| {
            for l in (5..=250).step_by(5) {
                std::hint::black_box(RankTable::build(&panel, l, 0, 7).expect("ranks"));
            }
        });
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!("rank tables (50 lookbacks, width 7): best of 5 {best:.4} s");
    for h in holdings {
        let mut spec = sample_grid();
        spec.holding = vec![h];
        let mut best = f64::MAX;
        let mut combos = 0;
        for _ in 0..5 {
            let start = Instant::now();
            let run =
                pool.install(|| run_grid(&panel, &spec, &options, &|_| {}).expect("grid runs"));
            best = best.min(start.elapsed().as_secs_f64());
            combos = run.rows.len();
        }
        #[expect(clippy::cast_precision_loss, reason = "a small count")]
        let per = best / combos as f64 * 1e6;
        println!(
            "holding {h:>3}: {combos} combinations, best of 5 {best:.4} s = {per:.1} us per combination"
        );
    }
}
