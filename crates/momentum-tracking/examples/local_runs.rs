//! Track a grid search in the local run store: a parent run with one child per combination,
//! a search for the best children by a metric, and the best one registered as a model
//! version with the `champion` alias. No server: everything goes to a temporary `mlruns/`.
//!
//! ```text
//! cargo run -p momentum-tracking --example local_runs
//! ```

use std::collections::BTreeMap;

use momentum_tracking::{Cmp, DatasetInput, Filter, RunQuery, RunSpec, Tracker};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let tracker = Tracker::open(dir.path().join("mlruns"), "")?; // "": local store only

    // One child per (lookback, top_k); the metrics stand in for a backtest's.
    let mut children = Vec::new();
    for lookback in [20, 60, 120, 250] {
        for top_k in [3, 5] {
            let sharpe = 0.4 + f64::from(lookback).ln() / 10.0 - f64::from(top_k) / 50.0;
            children.push(
                RunSpec::new(format!("L{lookback}-K{top_k}"))
                    .param("lookback", lookback)
                    .param("top_k", top_k)
                    .metric("train_sharpe", sharpe)
                    .metric("train_max_drawdown", 0.5 - sharpe / 4.0),
            );
        }
    }
    let parent = RunSpec::new("backtest")
        .param("grid_size", children.len())
        .input(DatasetInput::from_sha256(
            "prices",
            &"e9".repeat(32),
            "data/raw/prices.parquet",
        ));
    let grid = tracker.log_grid("momentum", parent, children)?;
    println!(
        "logged parent {} with {} children in {}",
        &grid.parent_run_id[..8],
        grid.child_run_ids.len(),
        tracker.store().root().display()
    );

    // The three best children of this grid with a Sharpe ratio of at least 0.8.
    let query = RunQuery::new("momentum")
        .filter(Filter::ParentRunId(grid.parent_run_id.clone()))
        .filter(Filter::Metric("train_sharpe".into(), Cmp::Ge, 0.8))
        .order_by_metric("train_sharpe", true)
        .limit(3);
    let best = tracker.search_runs(&query)?;
    println!("best children (train_sharpe >= 0.8):");
    for run in &best {
        println!(
            "  {:<8} lookback {:>3} top_k {}  sharpe {:.3}  drawdown {:.3}",
            run.name,
            run.params["lookback"],
            run.params["top_k"],
            run.metric("train_sharpe").unwrap_or(f64::NAN),
            run.metric("train_max_drawdown").unwrap_or(f64::NAN)
        );
    }

    // Register the winner and point `champion` at it, in the local registry.
    let winner = best.first().ok_or("no run passed the filter")?;
    tracker.create_registered_model("momentum-xs")?;
    let tags = BTreeMap::from([("lookback".to_string(), winner.params["lookback"].clone())]);
    let version =
        tracker.create_model_version("momentum-xs", &winner.run_id, "model", "best", &tags)?;
    tracker.set_alias("momentum-xs", "champion", &version.version)?;
    let champion = tracker
        .get_version_by_alias("momentum-xs", "champion")?
        .ok_or("champion not set")?;
    println!(
        "registered momentum-xs version {} from {} ({}), aliases {:?}",
        champion.version, winner.name, champion.source, champion.aliases
    );
    Ok(())
}
