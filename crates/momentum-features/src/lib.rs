//! Features of the momentum strategy: the aligned price panel and what is computed from it.
//!
//! This crate turns the long [`momentum_data::PriceTable`] into a [`PricePanel`] (dates x
//! tickers, `f64`, NaN where a ticker has no price, tickers in the configured order) and owns
//! the features that the backtest engine and the daily scanner share, so both use one code path:
//!
//! | item | what |
//! |---|---|
//! | [`PricePanel`] | the aligned close panel, plus the carried (last finite) price |
//! | [`momentum_scores`] / [`momentum_score`] / [`scores_of_closes`] | `P[t-S]/P[t-L] - 1` with the spec's eligibility (a day, one ticker, and the unchecked loop the grid's rank tables run) |
//! | [`simple_returns`] / [`log_returns`] | daily return matrices |
//! | [`trailing_volatility`] | sample std of the last `window` daily returns |
//! | [`write_panel`] / [`read_panel`] | `data/features/panel.parquet` (wide layout, digest in metadata; feature `parquet`, on by default) |
//! | [`FeaturesError`] | the crate's error |
//!
//! ```
//! use momentum_features::{PricePanel, momentum_scores};
//! let dates = (1..=3).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
//! let close = ndarray::array![[10.0, 5.0], [11.0, 5.5], [12.0, 4.0]];
//! let panel = PricePanel::new(dates, vec!["A".into(), "B".into()], close)?;
//! let mut scores = [0.0; 2];
//! momentum_scores(&panel, 2, 2, 0, &mut scores)?;
//! assert_eq!(scores, [12.0 / 10.0 - 1.0, 4.0 / 5.0 - 1.0]);
//! # Ok::<(), momentum_features::FeaturesError>(())
//! ```
#![warn(missing_docs)]

mod error;
mod momentum;
mod panel;
#[cfg(feature = "parquet")]
mod parquet_io;
mod returns;

pub use error::{FeaturesError, Result};
pub use momentum::{
    is_valid, momentum_score, momentum_scores, scores_of_closes, validate_lookback_skip,
};
pub use panel::{PanelBuilder, PricePanel};
#[cfg(feature = "parquet")]
pub use parquet_io::{DIGEST_KEY, LAYOUT, LAYOUT_KEY, StoredPanel, read_panel, write_panel};
pub use returns::{log_returns, simple_returns, trailing_volatility};
