//! The one error type of the lifecycle crate.

use std::path::PathBuf;

use chrono::NaiveDate;

use crate::settings::SettingsError;

/// Everything a lifecycle step can fail on. File errors name the file; the cause is kept as
/// `source()`.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// A setting is unreadable or out of range.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A price file cannot be read (the cause names it).
    #[error("cannot read prices")]
    Prices {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<momentum_data::DataError>,
    },
    /// A panel file cannot be read (the cause names it).
    #[error("cannot read the panel")]
    Panel {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<momentum_features::FeaturesError>,
    },
    /// The prices of a file do not align into a panel.
    #[error("cannot align the prices of {}", path.display())]
    Align {
        /// The price file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<momentum_features::FeaturesError>,
    },
    /// The backtest has neither a panel nor prices to read.
    #[error(
        "no input: neither {} nor {} exists (run `momentum fetch && momentum features`, or pass \
         --prices PATH)",
        panel.display(),
        prices.display()
    )]
    NoInput {
        /// The panel looked for.
        panel: PathBuf,
        /// The price cache looked for.
        prices: PathBuf,
    },
    /// The panel would be written over the price file it is built from.
    #[error(
        "{} is the price file the panel is built from: write the panel elsewhere (--out)",
        path.display()
    )]
    PanelOverPrices {
        /// The file.
        path: PathBuf,
    },
    /// The candidate file cannot be read.
    #[error("cannot read the candidate {} (run `momentum backtest`)", path.display())]
    NoCandidate {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The price cache cannot be read.
    #[error("cannot read the prices {} (run `momentum fetch`)", path.display())]
    NoPrices {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<momentum_data::DataError>,
    },
    /// None of the latest scan's tickers is in the prices.
    #[error("none of the tickers of the latest scan in the picks history is in {}", path.display())]
    NoScannedTicker {
        /// The price file.
        path: PathBuf,
    },
    /// A shard file that cannot be merged.
    #[error("shard file {}: {reason}", path.display())]
    ShardFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The shard files of a directory do not make up the grid.
    #[error("the shards in {}: {reason}", dir.display())]
    Shards {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A grid above `backtest.max_combinations`.
    #[error("grid refused before any work (backtest.max_combinations)")]
    GridTooLarge(#[source] momentum_engine::EngineError),
    /// A grid whose estimated memory is above what the machine has available.
    #[error(
        "grid refused before any work: its {combinations} combinations need about \
         {needed_mb} MB of memory, more than the {available_mb} MB available (make \
         backtest.grid smaller, or free memory)"
    )]
    GridMemory {
        /// Combinations in the grid.
        combinations: usize,
        /// The estimate.
        needed_mb: u64,
        /// `MemAvailable` when it was checked.
        available_mb: u64,
    },
    /// A file cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An output cannot be written; the previous file (or set of files) is untouched.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A candidate file is not a candidate.
    #[error("candidate {}", path.display())]
    Candidate {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<momentum_scanner::ScanError>,
    },
    /// An implausible price with `data.strict_prices`.
    #[error(
        "{origin}: implausible price: {first}{}; refused by --strict-prices (data.strict_prices): \
         correct the data, or widen data.max_price / data.max_daily_jump",
        if *more > 0 { format!(" (and {more} more)") } else { String::new() }
    )]
    ImplausiblePrice {
        /// The input.
        origin: String,
        /// The first implausible price in row order.
        first: Box<momentum_data::ImplausiblePrice>,
        /// How many more there are.
        more: usize,
    },
    /// No model has been promoted yet.
    #[error(
        "no production model yet: the production block of {} is empty (run `momentum \
         backtest` then `momentum promote`)",
        path.display()
    )]
    NoProduction {
        /// The params file.
        path: PathBuf,
    },
    /// The registry has no champion.
    #[error(
        "no production model yet: registered model {name} has no `champion` alias (run \
         `momentum promote`)"
    )]
    NoChampion {
        /// The registered model.
        name: String,
    },
    /// `promote --from-challenger` without a comparison that decided for the challenger.
    #[error("not swapping champion and challenger ({}): {reason}", path.display())]
    SwapRefused {
        /// The comparison file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A comparison of the two models (live or backtest) without them.
    #[error(
        "a comparison of the models needs a champion and a challenger (params.yaml production \
         and challenger blocks)"
    )]
    NoModelsToCompare,
    /// The backtest comparison's window has fewer than two days of prices.
    #[error(
        "{}: fewer than two days of prices from {} to {}",
        path.display(),
        start.map_or("the first day".to_owned(), |d| d.to_string()),
        end.map_or("the last day".to_owned(), |d| d.to_string())
    )]
    AbWindow {
        /// The price file.
        path: PathBuf,
        /// The first day asked for.
        start: Option<chrono::NaiveDate>,
        /// The last day asked for.
        end: Option<chrono::NaiveDate>,
    },
    /// A backtest comparison's window ends before a model's lookback has the prices it needs.
    #[error(
        "the {arm}'s lookback of {lookback} trading days leaves no day to trade from {start} to \
         {end}: start later or end later"
    )]
    AbWindowTooShort {
        /// Whose lookback.
        arm: momentum_engine::Arm,
        /// The lookback.
        lookback: usize,
        /// The window's first day.
        start: chrono::NaiveDate,
        /// The window's last day.
        end: chrono::NaiveDate,
    },
    /// A returns file for `momentum ab --returns` that cannot be used.
    #[error("returns file {}: {reason}", path.display())]
    ReturnsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the line or column.
        reason: String,
    },
    /// A challenger was asked for and there is none: the challenger block of `path` is empty,
    /// or (`in_registry`, a model read from the registry) `name` has no `challenger` alias.
    #[error(
        "no challenger: {} (run `momentum promote --alias challenger`)",
        if *in_registry {
            format!("registered model {name} has no `challenger` alias")
        } else {
            format!("the challenger block of {} is empty", path.display())
        }
    )]
    NoChallenger {
        /// The params file.
        path: PathBuf,
        /// The registered model.
        name: String,
        /// Whether the registry was asked (not the block).
        in_registry: bool,
    },
    /// A block of params.yaml and its registry alias name different versions and the journal
    /// ([`crate::journal_path`]) is there: a promotion, swap or rollback was killed between its
    /// writes.
    #[error(
        "{}: the {} block is {} but `{arm}` of {name} {}: a promotion or rollback was \
         interrupted ({} is left); run `momentum promote --rollback` to {}",
        path.display(),
        momentum_scanner::model::params_block(*arm),
        params_version.as_ref().map_or("empty".to_owned(), |v| format!("version {v}")),
        aliased.as_ref().map_or("is not set".to_owned(), |v| format!("is version {v}")),
        crate::journal_path(path).display(),
        params_version.as_ref().map_or(
            format!("remove the `{arm}` alias"),
            |v| format!("put `{arm}` back on version {v}")
        )
    )]
    ProductionMismatch {
        /// The params file.
        path: PathBuf,
        /// Whose block and alias differ.
        arm: momentum_engine::Arm,
        /// The registered model.
        name: String,
        /// The version of the production block; `None` when it is empty.
        params_version: Option<String>,
        /// The version the alias points at; `None` when it is not set.
        aliased: Option<String>,
    },
    /// A rollback was asked for before any promotion.
    #[error("nothing to roll back: {name} has no `champion` alias")]
    NothingToRollBack {
        /// The registered model.
        name: String,
    },
    /// The champion is the first version.
    #[error("nothing to roll back to: {name} version {version} was the first production model")]
    FirstVersion {
        /// The registered model.
        name: String,
        /// The champion's version.
        version: String,
    },
    /// The version the champion replaced is gone from the registry.
    #[error("{name} version {previous} (before {current}) is not in the registry")]
    MissingVersion {
        /// The registered model.
        name: String,
        /// The version looked for.
        previous: String,
        /// The champion's version.
        current: String,
    },
    /// The run that wrote a candidate is not tracked.
    #[error(
        "the backtest run that wrote this candidate is not in the tracking store {} (experiment \
         {experiment}): rerun `momentum backtest`",
        store.display()
    )]
    CandidateRunMissing {
        /// The local store.
        store: PathBuf,
        /// The experiment searched.
        experiment: String,
    },
    /// The run that wrote a candidate did not finish (killed, failed, or still running).
    #[error(
        "the backtest run {run_id} that wrote this candidate is {status}, not FINISHED (was it \
         killed?): rerun `momentum backtest`"
    )]
    CandidateRunUnfinished {
        /// The run.
        run_id: String,
        /// Its status.
        status: String,
    },
    /// The newest price is too old to score on.
    #[error(
        "stale prices: the newest date in {} is {last}, {age} days before {today} (limit \
         {max_days} days: --max-staleness-days, else scan.max_staleness_days); run `momentum \
         fetch --update` or `momentum scan --refresh`",
        path.display()
    )]
    Stale {
        /// The price file.
        path: PathBuf,
        /// Its newest date.
        last: NaiveDate,
        /// Calendar days from it to `today`.
        age: i64,
        /// The reference date.
        today: NaiveDate,
        /// The limit.
        max_days: i64,
    },
    /// The as-of date of a scan is not a day of the prices.
    #[error("as-of date {as_of} is not a trading day of {} ({first} to {last})", path.display())]
    NotATradingDay {
        /// The date asked for.
        as_of: NaiveDate,
        /// The price file.
        path: PathBuf,
        /// Its first date.
        first: NaiveDate,
        /// Its last date.
        last: NaiveDate,
    },
    /// The prices lack tickers of a model (or its list is empty), named where the model lists
    /// them: its block in the params file, or its registry version's tag.
    #[error(
        "{}",
        match params {
            Some(path) => format!(
                "{}.tickers in {}",
                momentum_scanner::model::params_block(*arm),
                path.display()
            ),
            None => format!("registry version {version}: tag tickers"),
        }
    )]
    ModelTickers {
        /// Whose model.
        arm: momentum_engine::Arm,
        /// The params file of its block; `None` for a model from the registry.
        params: Option<PathBuf>,
        /// Its version.
        version: String,
        /// The tickers missing.
        #[source]
        source: Box<momentum_scanner::ScanError>,
    },
    /// The picks history cannot take the picks.
    #[error("cannot add the picks to {}", path.display())]
    History {
        /// The history file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<momentum_scanner::ScanError>,
    },
    /// The monitor cannot judge the picks.
    #[error("cannot monitor the picks in {}", path.display())]
    Monitor {
        /// The history file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<momentum_scanner::ScanError>,
    },
    /// The financialdatasets source was asked for without tickers.
    #[error("the financialdatasets source needs tickers: set data.tickers (or pass them to fetch)")]
    NeedTickers,
    /// A grid condition or column that does not parse or does not exist.
    #[error("grid condition `{token}`: {reason}")]
    GridQuery {
        /// The offending token.
        token: String,
        /// What is wrong.
        reason: String,
    },
    /// A grid table file that cannot be read.
    #[error("{} is not a readable grid table", path.display())]
    GridFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A run's grid table cannot be read.
    #[error("run {run_id}: cannot read its grid table")]
    RunGrid {
        /// The run.
        run_id: String,
        /// Why.
        #[source]
        source: Box<LifecycleError>,
    },
    /// The day a scan would score is after the day it is told is today.
    #[error(
        "the day to scan, {day}, is after today ({today}): it would read prices from the future \
         (pass --as-of to score an earlier day)"
    )]
    ScanAfterToday {
        /// The day to scan (the newest price's, or `--as-of`).
        day: NaiveDate,
        /// Today, as the scan was told.
        today: NaiveDate,
    },
    /// Another promotion, rollback, swap or retirement of the same params file is running (or
    /// another command writing in its directory).
    #[error(
        "another command holds the directory of {} (a `momentum promote` changing it and the \
         registry's aliases, or a scan writing beside it): let it finish, then run this again",
        path.display()
    )]
    PromotionInProgress {
        /// The params file.
        path: PathBuf,
    },
    /// The params file's model blocks changed after they were read.
    #[error(
        "the model blocks of {} changed after this command read them (another `momentum \
         promote` finished meanwhile): run it again",
        path.display()
    )]
    ParamsChanged {
        /// The params file.
        path: PathBuf,
    },
    /// A backtest run that logged a grid table has it no more.
    #[error(
        "run {run_id} logged its {combinations} combinations in {artifact}, but the artifact is \
         missing from its store",
        artifact = crate::GRID_ARTIFACT
    )]
    GridArtifactMissing {
        /// The run.
        run_id: String,
        /// The combinations its tag records.
        combinations: String,
    },
    /// A tracked run lacks artifacts a report is drawn from.
    #[error(
        "run {run_id} has no {missing} artifact: not a backtest run, or logged before reports \
         were (rerun `momentum backtest`)"
    )]
    RunArtifacts {
        /// The run.
        run_id: String,
        /// The missing artifacts, comma-separated.
        missing: String,
    },
    /// An artifact of a tracked run cannot be read as what its writer writes.
    #[error("run {run_id}: cannot read its artifact {name}")]
    RunArtifact {
        /// The run.
        run_id: String,
        /// The artifact.
        name: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The refresh before a scan failed.
    #[error("refreshing the price cache")]
    Refresh(#[source] Box<LifecycleError>),
    /// The async runtime for the price API cannot start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The run store cannot be opened.
    #[error("cannot open the tracking store {}", path.display())]
    Store {
        /// The store.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<momentum_tracking::TrackingError>,
    },
    /// Tracking or the registry failed.
    #[error(transparent)]
    Tracking(#[from] momentum_tracking::TrackingError),
    /// The data crate refused.
    #[error(transparent)]
    Data(#[from] momentum_data::DataError),
    /// The features crate refused.
    #[error(transparent)]
    Features(#[from] momentum_features::FeaturesError),
    /// The engine refused.
    #[error(transparent)]
    Engine(#[from] momentum_engine::EngineError),
    /// The scanner refused.
    #[error(transparent)]
    Scan(#[from] momentum_scanner::ScanError),
}

/// Result alias of this crate.
pub type Result<T, E = LifecycleError> = std::result::Result<T, E>;

impl LifecycleError {
    /// A write of `path` that failed for `source`.
    pub(crate) fn write(
        path: impl Into<PathBuf>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Write {
            path: path.into(),
            source: source.into(),
        }
    }
}

/// A failed atomic write is an I/O error naming its file, as the data crate reports it.
impl From<momentum_files::FileError> for LifecycleError {
    fn from(err: momentum_files::FileError) -> Self {
        Self::Data(err.into())
    }
}
