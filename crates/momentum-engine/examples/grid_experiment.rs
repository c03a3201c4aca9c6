//! Grid-search the embedded sample with a progress callback, print the selected parameters
//! and whether the winner is luck (PSR, DSR, PBO), and write `metrics.json` and `grid.csv`.
//!
//! ```text
//! cargo run -p momentum-engine --example grid_experiment
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use momentum_engine::{ExperimentSpec, GridSpec, PricePanel, run_experiment};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The sample's 20 tickers since 2018 (about 1250 days) keep the example quick.
    let table = momentum_data::load_sample()?;
    let since = NaiveDate::from_ymd_opt(2018, 1, 1).ok_or("bad date")?;
    let panel = PricePanel::from_table(&table)?.since(since);
    let digest = momentum_data::digest(&table);

    let spec = ExperimentSpec {
        pbo_blocks: 8,
        grid: GridSpec {
            lookback: vec![20, 60, 120],
            skip: vec![0, 5],
            holding: vec![5, 20],
            top_k: vec![3, 5],
        },
        ..ExperimentSpec::default()
    };
    // The callback is called from the worker threads with the number of combinations done.
    let done = AtomicUsize::new(0);
    let progress = |k: usize| {
        done.fetch_add(k, Ordering::Relaxed);
    };
    let experiment = run_experiment(&panel, &spec, Some(digest), &progress)?;

    let s = &experiment.selection;
    println!(
        "{} days x {} tickers, {} of {} combinations run",
        panel.n_days(),
        panel.n_tickers(),
        done.load(Ordering::Relaxed),
        spec.grid.size()
    );
    println!(
        "selected {:?} (grid rank {})",
        experiment.params, experiment.grid_rank
    );
    for (name, window) in &experiment.windows {
        let (m, b) = (&window.strategy, &window.baseline);
        println!(
            "{:<5} {} to {}: Sharpe {:.3} (buy and hold {:.3}), ROI {:.1} %",
            name.as_str(),
            window.start,
            window.end,
            m.sharpe,
            b.sharpe,
            100.0 * m.total_roi
        );
    }
    println!(
        "PSR {:.3}, DSR {:.3} over {} trials",
        s.psr, s.dsr, s.trials
    );
    match &s.pbo {
        Some(pbo) => println!(
            "PBO {:.3} ({} splits of {} blocks)",
            pbo.pbo, pbo.splits, pbo.blocks
        ),
        None => println!("PBO not computed"),
    }

    let unique = format!("momentum-grid-experiment-{}", std::process::id());
    let dir = std::env::temp_dir().join(unique);
    std::fs::create_dir_all(&dir)?;
    let mut metrics = Vec::new();
    experiment.write_metrics_json(&mut metrics)?;
    std::fs::write(dir.join("metrics.json"), metrics)?;
    let mut grid = Vec::new();
    experiment.write_grid_csv(&mut grid)?;
    std::fs::write(dir.join("grid.csv"), grid)?;
    println!("wrote metrics.json and grid.csv to {}", dir.display());
    Ok(())
}
