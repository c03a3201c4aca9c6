//! Times PBO (CSCV over C(16, 8) = 12,870 splits) on the 9,000-combination sample grid's block
//! sums beside the grid that computes them, outside criterion (issue #24: "PBO in at most the
//! grid's time").
//!
//! `cargo run --profile bench -p momentum-benches --example pbo_timing -- THREADS RUNS`
//!
//! Runs `run_grid` and `probability_of_backtest_overfitting` alternately `RUNS` times on
//! `THREADS` threads and prints the best and median of each, their ratio, and the PBO with an
//! FNV-1a hash of its 12,870 logits' bits (the same hash is the same logits, bit for bit, as
//! another revision's).

use std::time::Instant;

use momentum_benches::{sample_grid, sample_options, sample_panel};
use momentum_engine::{BlockSums, probability_of_backtest_overfitting, run_grid};

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let panel = sample_panel();
    let (spec, options) = (sample_grid(), sample_options(&panel));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let (mut grid_times, mut pbo_times) = (Vec::new(), Vec::new());
    let mut found = None;
    for _ in 0..runs {
        let start = Instant::now();
        let run = pool.install(|| run_grid(&panel, &spec, &options, &|_| {}).expect("grid runs"));
        grid_times.push(start.elapsed().as_secs_f64());
        let (blocks, block_len) = run.rows.block_layout().expect("the grid has block sums");
        let sums = BlockSums {
            blocks,
            block_len,
            sums: run
                .rows
                .chunks()
                .flat_map(|chunk| chunk.expect("the rows read back").into_owned().sums)
                .collect(),
        };
        let start = Instant::now();
        let pbo = pool.install(|| probability_of_backtest_overfitting(&sums).expect("a PBO"));
        pbo_times.push(start.elapsed().as_secs_f64());
        found = Some(pbo);
    }
    let pbo = found.expect("at least one run");
    let hash = pbo.logits.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, l| {
        l.to_bits()
            .to_le_bytes()
            .iter()
            .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    });
    grid_times.sort_by(f64::total_cmp);
    pbo_times.sort_by(f64::total_cmp);
    let (grid, pbo_time) = (grid_times[runs / 2], pbo_times[runs / 2]);
    println!(
        "{threads} threads, {runs} runs: grid best {:.3} s median {grid:.3} s; PBO best {:.3} s \
         median {pbo_time:.3} s; PBO / grid {:.2} (medians)",
        grid_times[0],
        pbo_times[0],
        pbo_time / grid
    );
    println!(
        "pbo {} over {} splits, logits hash {hash:016x}",
        pbo.pbo, pbo.splits
    );
}
