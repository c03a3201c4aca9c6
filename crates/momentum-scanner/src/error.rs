//! Errors of the scanner crate.

use std::path::PathBuf;

use chrono::NaiveDate;

/// Everything that can go wrong while promoting, scanning or monitoring.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// `params.yaml` could not be parsed or has no top-level mapping.
    #[error("cannot edit {what}: {reason}")]
    ParamsEdit {
        /// The file or block being edited.
        what: String,
        /// Why the edit failed.
        reason: String,
    },
    /// A model parameter is out of the spec's range (the engine's check).
    #[error("model: {0}")]
    InvalidModel(momentum_engine::EngineError),
    /// The price panel has no days.
    #[error("no price data to scan")]
    NoData,
    /// A monitor setting outside its range.
    #[error("invalid {name}: {reason}")]
    InvalidSetting {
        /// The setting, as its key in params.yaml (`monitor.ks_alpha`,
        /// `backtest.train_fraction`).
        name: &'static str,
        /// Its range.
        reason: &'static str,
    },
    /// Not enough history before the as-of date for the lookback.
    #[error("{as_of}: only {days} days of prices, the model's lookback needs more than {lookback}")]
    TooShort {
        /// The scan day.
        as_of: NaiveDate,
        /// Days available up to and including it.
        days: usize,
        /// The model's lookback.
        lookback: usize,
    },
    /// There is no scan to monitor yet.
    #[error("no picks history yet: run `momentum scan` first")]
    NoHistory,
    /// A model's ticker has no usable price.
    #[error("ticker {ticker} of the model has no price on {as_of}")]
    MissingTicker {
        /// The ticker.
        ticker: String,
        /// The day.
        as_of: NaiveDate,
    },
    /// The picks history file is not what `momentum scan` writes.
    #[error("corrupt picks history {}: {reason}", path.display())]
    CorruptHistory {
        /// The history file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Writing an output failed; the previous file is untouched.
    #[error("cannot write {}: {reason}", path.display())]
    Write {
        /// The output file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A features computation failed.
    #[error(transparent)]
    Features(#[from] momentum_features::FeaturesError),
    /// File I/O from the data crate's helpers.
    #[error(transparent)]
    Data(#[from] momentum_data::DataError),
}
