//! The serving side of momentum: promotion gates, the daily scan and live monitoring.
//!
//! It sits on top of the research crates (data -> features -> engine -> scanner) and owns what
//! happens after a backtest: whether a candidate may become the production model, what that
//! model picks on a given day, and whether its live record and its inputs still look like what
//! it was validated on.
//!
//! | module | what |
//! |---|---|
//! | [`promotion`] | the gates ([`promotion::evaluate`]) and the `production` block of `params.yaml` ([`promotion::set_production_block`], comment-preserving) |
//! | [`scan`] | [`scan::scan`]: score and rank a day with the features crate's scores and the engine's top-k selection, the backtest's own code path |
//! | [`history`] | the picks history Parquet file, idempotent per as-of date |
//! | [`monitor`] | [`monitor::monitor`]: live record against the backtest's promise, feature drift |
//! | [`drift`] | the statistics: PSI, two-sample Kolmogorov-Smirnov, a one-sided t test |
//! | [`ScanError`] | the crate's error |
//!
//! ```
//! use momentum_features::PricePanel;
//! use momentum_scanner::scan::{ModelParams, scan};
//! let dates = (1..=3).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
//! let close = ndarray::array![[10.0, 20.0], [11.0, 19.0], [12.0, 18.0]];
//! let panel = PricePanel::new(dates, vec!["UP".into(), "DOWN".into()], close)?;
//! let params = ModelParams { lookback: 2, skip: 0, holding: 5, top_k: 1 };
//! let picks = scan(&panel, 2, params, "1")?;
//! assert_eq!(picks.selected().collect::<Vec<_>>(), ["UP"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod drift;
mod error;
pub mod history;
pub mod monitor;
pub mod promotion;
pub mod scan;

pub use error::ScanError;
