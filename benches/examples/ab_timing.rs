//! Times `compare` (issue #23: HAC test, studentized circular block bootstrap and
//! Diebold-Mariano test) on two sample strategies' last ten years of daily returns, with the
//! default 5,000 replications of 5-day blocks, and prints the best and the median wall time.
//!
//! `cargo run --profile bench -p momentum-benches --example ab_timing -- THREADS RUNS`

use std::time::Instant;

use momentum_benches::{ab_pair, sample_panel};
use momentum_engine::{ComparisonSpec, compare};

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let runs: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(21)
        .max(1);
    let (champion, challenger) = ab_pair(&sample_panel());
    let spec = ComparisonSpec::default();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool");
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(pool.install(|| compare(&champion, &challenger, &spec)));
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let ab = last
        .expect("at least one run")
        .expect("the sample compares");
    println!(
        "{} days, {} replications, {threads} thread(s), {runs} runs: best {:.2} ms, median {:.2} ms",
        ab.days,
        ab.bootstrap.replications,
        times[0] * 1e3,
        times[times.len() / 2] * 1e3
    );
    println!("{}", summary_line(&ab));
}

/// The result as the fields, one line.
fn summary_line(ab: &momentum_engine::Comparison) -> String {
    format!(
        "SR champion {:.4} challenger {:.4} (annualised {:.3} vs {:.3}), delta {:.4}; hac lag {} se {:.4} z {:.3} p {:.4}; \
         bootstrap [{:.4}, {:.4}] p {:.4}; diebold_mariano stat {:.3} p {:.4}",
        ab.champion.sharpe,
        ab.challenger.sharpe,
        ab.champion.sharpe_annualised,
        ab.challenger.sharpe_annualised,
        ab.delta,
        ab.hac.lag,
        ab.hac.se,
        ab.hac.z,
        ab.hac.p_value,
        ab.bootstrap.ci_low,
        ab.bootstrap.ci_high,
        ab.bootstrap.p_value,
        ab.diebold_mariano.stat,
        ab.diebold_mariano.p_value
    )
}
