//! The cross-sectional momentum strategy, exactly as `strategy-spec.md` defines it.
//!
//! Concrete types throughout: a [`momentum_features::PricePanel`], `usize` ticker and day
//! indices, `f64` values.
//!
//! | item | what |
//! |---|---|
//! | [`StrategyParams`], [`Window`], [`split`] | inputs: `L, S, H, K, c`, windows, the train/test split |
//! | [`select_top_k`], [`RankTable`] | top-k with the tie rule (shared with the scanner), ranks per lookback |
//! | [`backtest()`], [`baseline`] | one recorded run: [`Metrics`], equity curve, [`Trade`] log |
//! | [`grid_search`], [`run_grid`], [`GridRows`] | all combinations in parallel (rayon), deterministic, with [`SelectionStats`]; the rows streamed to a temporary file and read back a chunk at a time |
//! | [`SearchSpec`], [`ParamRange`], [`SearchReport`] | a seeded, batched TPE search over parameter ranges instead of the grid, reproducible on any thread count, judged on all its trials |
//! | [`ExperimentSpec`], [`run_experiment`], [`Experiment`] | one backtest invocation, from a panel to `metrics.json`, `grid.csv`, `trades.csv`, `equity_curve.csv` |
//! | [`probabilistic_sharpe_ratio`], [`deflated_sharpe_ratio`], [`probability_of_backtest_overfitting`] | is the winner luck? |
//! | [`compare()`], [`sharpe_difference_hac`], [`sharpe_difference_bootstrap`], [`diebold_mariano`] | champion against challenger: is the difference of Sharpe ratios or mean returns real? |
//! | [`Shard`], [`evaluate_shard`], [`merge_shards`], [`GridShard`] | the grid search cut into `N` shards for other machines and merged back, bit for bit |
//! | [`walk_forward()`], [`cpcv()`] | the selection validated out of sample: walk-forward folds, combinatorial purged cross-validation |
//! | [`EngineError`] | the crate's error |
//!
//! ```
//! use momentum_engine::{StrategyParams, Window, backtest};
//! use momentum_features::PricePanel;
//! let dates = (1..=6).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
//! let close = ndarray::array![[10.0, 10.0], [11.0, 9.0], [12.0, 9.0], [12.0, 9.5], [13.0, 9.0], [14.0, 9.0]];
//! let panel = PricePanel::new(dates, vec!["A".into(), "B".into()], close)?;
//! let params = StrategyParams { lookback: 2, skip: 0, holding: 2, top_k: 1, cost_bps: 0.0 };
//! let run = backtest(&panel, &params, Window::full(panel.n_days()))?;
//! // Day 2 buys A (12/10 beats 9/10) and holds it to day 5: 14 / 12.
//! assert!((run.metrics.total_roi - (14.0 / 12.0 - 1.0)).abs() < 1e-12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod backtest;
mod compare;
mod cpcv;
mod cscv;
mod error;
mod experiment;
mod grid;
mod isa;
mod lanes;
mod metrics;
mod params;
mod rows;
mod search;
mod select;
mod shard;
mod sim;
mod stats;
mod tpe;
mod walk_forward;

pub use backtest::{Action, BacktestResult, Trade, backtest, baseline};
pub use compare::{
    Arm, ArmSharpe, BootstrapTest, Comparison, ComparisonSpec, DEFAULT_BLOCK_LEN,
    DEFAULT_REPLICATIONS, DieboldMariano, HacTest, MIN_REPLICATIONS, PairedReturns, SplitMix64,
    compare, diebold_mariano, newey_west_lag, sharpe_difference_bootstrap, sharpe_difference_hac,
};
pub use cpcv::{Cpcv, CpcvSpec, CpcvSplit, MAX_CPCV_SPLITS, PathSummary, cpcv};
pub use error::{EngineError, Result};
pub use experiment::{
    ChainedCurve, CurvePoint, DEFAULT_MAX_COMBINATIONS, DataLineage, Experiment, ExperimentSpec,
    GRID_BYTES_PER_COMBINATION, WindowName, WindowReport, WindowRuns, run_experiment,
    spreadsheet_text, write_canonical_json,
};
pub use grid::{
    ComboResult, GridOptions, GridOutcome, GridRun, GridSpec, SelectionStats, grid_search,
    run_grid, select_best, selection_statistics,
};
pub use isa::simd_instruction_set;
pub use metrics::{DAYS_PER_YEAR, Metrics};
pub use params::{MAX_COST_BPS, Objective, StrategyParams, Window, split, train_days};
pub use rows::{GridChunk, GridRows};
pub use search::{ParamRange, SearchMethod, SearchReport, SearchSpec};
pub use select::{RankTable, select_top_k, select_top_k_into};
pub use shard::{GridShard, Provenance, Shard, evaluate_shard, merge_shards};
// The types a caller of the engine needs, so it can depend on this crate alone.
pub use momentum_features::{FeaturesError, PricePanel};
pub use stats::{
    BlockSums, EULER_GAMMA, Moments, Pbo, deflated_sharpe_ratio, expected_max_sharpe, moments,
    probabilistic_sharpe_ratio, probability_of_backtest_overfitting, variance_ddof0,
};

// The panel file, for callers that read the features stage's output through the engine.
#[cfg(feature = "parquet")]
pub use momentum_features::{StoredPanel, read_panel, write_panel};
pub use walk_forward::{Fold, WalkForward, WalkForwardSpec, walk_forward};
