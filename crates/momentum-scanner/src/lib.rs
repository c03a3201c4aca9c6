//! The model and the serving side of momentum: what a model is, whether a candidate may become
//! the production model, what that model picks on a given day, and whether its live record and
//! its inputs still look like what it was validated on.
//!
//! It sits on top of the research crates (data -> features -> engine -> scanner) and owns what
//! happens after a backtest.
//!
//! | module | what |
//! |---|---|
//! | [`model`] | [`Model`]: the candidate and the registered model as one type with a [`model::Stage`]; its encodings (`candidate.json`, the `production` block of `params.yaml`, registry tags) |
//! | [`promotion`] | the gates ([`promotion::Gates`], [`promotion::evaluate`]) a candidate must pass |
//! | [`scan`] | [`scan::scan`]: score and rank a day with the features crate's scores and the engine's top-k selection, the backtest's own code path |
//! | [`history`] | the picks history Parquet file, idempotent per as-of date and model (champion, or challenger in shadow) |
//! | [`monitor`] | [`monitor::monitor`]: live record against the backtest's promise, feature drift |
//! | [`drift`] | the statistics: PSI, two-sample Kolmogorov-Smirnov, a one-sided t test |
//! | [`ab`] | champion against challenger: each model's daily book returns (live or backtest) and the decision from their comparison |
//! | [`ScanError`] | the crate's error |
//!
//! ```
//! use momentum_engine::{PricePanel, StrategyParams};
//! use momentum_scanner::model::ProductionBlock;
//! use momentum_scanner::scan::scan;
//! let dates = (1..=3).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
//! let close = ndarray::array![[10.0, 20.0], [11.0, 19.0], [12.0, 18.0]];
//! let panel = PricePanel::new(dates, vec!["UP".into(), "DOWN".into()], close)?;
//! // The production block of params.yaml, as `momentum promote` writes it.
//! let block = ProductionBlock {
//!     version: Some("1".into()),
//!     lookback: Some(2),
//!     skip: Some(0),
//!     holding: Some(5),
//!     top_k: Some(1),
//!     tickers: vec!["UP".into(), "DOWN".into()],
//!     cost_bps: Some(10.0),
//!     promoted_at: Some("2026-12-01T00:00:00Z".into()),
//!     ..ProductionBlock::default()
//! };
//! let model = block.model()?.expect("a promoted model");
//! let picks = scan(&panel, 2, &model)?;
//! assert_eq!(picks.selected().collect::<Vec<_>>(), ["UP"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod ab;
pub mod drift;
mod error;
pub mod history;
pub mod model;
pub mod monitor;
pub mod promotion;
pub mod scan;

pub use error::ScanError;
pub use model::Model;
