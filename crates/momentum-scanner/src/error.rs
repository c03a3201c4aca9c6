//! Errors of the scanner crate.

use std::path::PathBuf;

use chrono::NaiveDate;

/// Everything that can go wrong while handling a model, promoting, scanning or monitoring.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// `params.yaml` could not be parsed or has no top-level mapping.
    #[error("cannot edit params.yaml production block: {reason}")]
    ParamsEdit {
        /// Why the edit failed (the YAML editor's message).
        reason: String,
    },
    /// A model parameter is out of the spec's range (the engine's check). Its message is in
    /// this error's own (not a source too, which a cause chain would print twice).
    #[error("model: {0}")]
    InvalidModel(momentum_engine::EngineError),
    /// A candidate file is not valid JSON or lacks a field.
    #[error("not a candidate model (at {path})")]
    Candidate {
        /// Where in the file: a dotted path such as `windows.test.strategy`, `.` for the root.
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A JSON file of another kind of model.
    #[error("a model of kind {kind:?}, not momentum-xs")]
    NotAModel {
        /// The `kind` it has.
        kind: String,
    },
    /// A candidate was needed (its evaluation), a registered model was given.
    #[error("the model is registered, not a candidate: it carries no evaluation")]
    NotACandidate,
    /// A registered model was needed (a version), a candidate was given.
    #[error("the model is a candidate: it has no registry version yet (run `momentum promote`)")]
    NotRegistered,
    /// The candidate was evaluated without an out-of-sample window.
    #[error(
        "no out-of-sample `test` window (was it backtested with --no-split?): the gates need one"
    )]
    NoTestWindow,
    /// A registry version's tag is missing or malformed.
    #[error("registry version {version}: tag {key}: {reason}")]
    RegistryTag {
        /// The version.
        version: String,
        /// The tag.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The production block has a version but lacks a parameter.
    #[error(
        "the production block of params.yaml has a version but no {key} (run `momentum promote`)"
    )]
    IncompleteProduction {
        /// The missing key.
        key: &'static str,
    },
    /// A field of a production (or challenger) block that cannot describe a model: an empty
    /// version, a ticker listed twice.
    #[error("invalid {key} of a production block: {reason}")]
    InvalidBlock {
        /// The field.
        key: &'static str,
        /// What is wrong, naming the ticker.
        reason: String,
    },
    /// The price panel has no days.
    #[error("no price data to scan")]
    NoData,
    /// The prices lack tickers of the model's universe.
    #[error("the model's tickers {} are missing from {origin}", tickers.join(", "))]
    MissingTickers {
        /// The tickers missing.
        tickers: Vec<String>,
        /// The prices (a file).
        origin: String,
    },
    /// A model without tickers.
    #[error("the model has no tickers to score")]
    EmptyUniverse,
    /// The panel handed to a scan is not the model's universe in its order.
    #[error("the panel's tickers are not the model's universe in its order (see keep_universe)")]
    UniverseMismatch,
    /// A monitor, A/B or promotion setting outside its range.
    #[error("invalid {name}: {reason}")]
    InvalidSetting {
        /// The setting, as its key in params.yaml (`monitor.ks_alpha`,
        /// `backtest.train_fraction`, `promotion.max_pbo`).
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
    /// The history has no scan of one of the two models.
    #[error(
        "the picks history has no scan of the {arm} (version {version}) yet: `momentum scan` \
         records one for each model in params.yaml (production and challenger), or with \
         --from-registry for each alias (champion and challenger); or compare with --source \
         backtest"
    )]
    NoArmHistory {
        /// The model without scans.
        arm: momentum_engine::Arm,
        /// Its registry version.
        version: String,
    },
    /// A model's ticker has no usable price.
    #[error("ticker {ticker} of the model has no price on {as_of}")]
    MissingTicker {
        /// The ticker.
        ticker: String,
        /// The day.
        as_of: NaiveDate,
    },
    /// A score beyond the range of a float: `P[t-S] / P[t-L]` of prices that far apart (the
    /// spec ranks it first, but no output can state it, so no pick is made of it).
    #[error(
        "ticker {ticker} on {as_of}: its score {recent:e} / {past:e} - 1 overflows a float \
         (are these prices right?)"
    )]
    ScoreOverflow {
        /// The ticker.
        ticker: String,
        /// The day.
        as_of: NaiveDate,
        /// `P[t-S]`.
        recent: f64,
        /// `P[t-L]`.
        past: f64,
    },
    /// The picks history file is not what `momentum scan` writes.
    #[error("corrupt picks history {}: {reason}", path.display())]
    CorruptHistory {
        /// The history file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Writing the picks history failed; the previous file is untouched.
    #[error("cannot write {}", path.display())]
    HistoryWrite {
        /// The history file.
        path: PathBuf,
        /// Why (Arrow or Parquet).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Encoding a model or report failed.
    #[error(transparent)]
    Engine(#[from] momentum_engine::EngineError),
    /// A features computation failed.
    #[error(transparent)]
    Features(#[from] momentum_features::FeaturesError),
    /// File I/O from the data crate's helpers.
    #[error(transparent)]
    Data(#[from] momentum_data::DataError),
}

/// A failed atomic write is an I/O error naming its file, as the data crate reports it.
impl From<momentum_files::FileError> for ScanError {
    fn from(err: momentum_files::FileError) -> Self {
        Self::Data(err.into())
    }
}

impl ScanError {
    /// The first of `checks` (a setting's key, whether its value is in range, the range) out of
    /// range, as [`ScanError::InvalidSetting`]: the settings' `validate` functions.
    pub(crate) fn first_out_of_range<const N: usize>(
        checks: [(&'static str, bool, &'static str); N],
    ) -> Result<(), ScanError> {
        match checks.into_iter().find(|(_, in_range, _)| !in_range) {
            Some((name, _, reason)) => Err(ScanError::InvalidSetting { name, reason }),
            None => Ok(()),
        }
    }
}
