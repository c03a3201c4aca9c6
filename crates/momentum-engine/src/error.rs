//! The one error type of this crate.

/// Everything the engine refuses to do.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A strategy or grid parameter is out of its domain; never silently clamped.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name, e.g. `holding`.
        name: &'static str,
        /// The value given.
        value: String,
        /// What the domain is.
        reason: &'static str,
    },
    /// The evaluation window does not fit the panel.
    #[error("window [{start}, {end}] does not fit a panel of {days} days")]
    WindowOutOfRange {
        /// First day index of the window.
        start: usize,
        /// Last day index (inclusive).
        end: usize,
        /// Days in the panel.
        days: usize,
    },
    /// The first rebalance day `t0 = max(start, lookback)` is not before the window's end.
    #[error("window too short for lookback: lookback {lookback}, window [{start}, {end}]")]
    WindowTooShort {
        /// The lookback.
        lookback: usize,
        /// First day index of the window.
        start: usize,
        /// Last day index (inclusive).
        end: usize,
    },
    /// An evaluation window too short for its train/test split to leave a day in each part.
    #[error(
        "the evaluation window has {days} trading day(s): a train_fraction of {train_fraction} \
         leaves no day in its train or its test window (start earlier or end later)"
    )]
    TooFewDaysToSplit {
        /// Trading days in the evaluation window.
        days: usize,
        /// The fraction.
        train_fraction: f64,
    },
    /// The evaluation window holds no trading day of the panel.
    #[error(
        "no trading day between {start} and {end}: the data runs from {data_first} to {data_last}"
    )]
    NoDayInWindow {
        /// The window's first date asked for (the data's first when none was).
        start: chrono::NaiveDate,
        /// The window's last date asked for (the data's last when none was).
        end: chrono::NaiveDate,
        /// The panel's first day.
        data_first: chrono::NaiveDate,
        /// The panel's last day.
        data_last: chrono::NaiveDate,
    },
    /// [`EngineError::WindowTooShort`] of an experiment, named by the window's dates.
    #[error(
        "window too short for lookback {lookback}: from {start} to {end}, the first \
         rebalance max(start, lookback) is not before the last day"
    )]
    LookbackBeyondWindow {
        /// The lookback.
        lookback: usize,
        /// The window's first day.
        start: chrono::NaiveDate,
        /// The window's last day.
        end: chrono::NaiveDate,
    },
    /// The objective name is not one of `sharpe`, `total_roi`, `sortino`, `calmar`.
    #[error("unknown objective {name:?} (expected sharpe, total_roi, sortino or calmar)")]
    UnknownObjective {
        /// The name given.
        name: String,
    },
    /// A window name other than `train`, `test` and `full`.
    #[error("unknown window {name:?} (expected train, test or full)")]
    UnknownWindow {
        /// The name given.
        name: String,
    },
    /// No valid combination is left in the grid.
    #[error("the grid is empty: {reason}")]
    EmptyGrid {
        /// Why.
        reason: String,
    },
    /// The grid is larger than the limit; nothing was run.
    #[error(
        "the grid has {combinations} combinations, more than the limit of {limit} (about \
         {megabytes} MB of memory, {disk_megabytes} MB of temporary disk for its rows and {seconds} s \
         on two threads)"
    )]
    GridTooLarge {
        /// Combinations in the grid.
        combinations: usize,
        /// The limit.
        limit: usize,
        /// Estimated peak memory.
        megabytes: usize,
        /// Estimated temporary disk of its rows.
        disk_megabytes: usize,
        /// Estimated time at 50,000 combinations a second.
        seconds: usize,
    },
    /// The panel has too few days or no ticker to backtest.
    #[error("the panel has {days} days and {tickers} tickers: nothing to backtest")]
    EmptyPanel {
        /// Days in the panel.
        days: usize,
        /// Tickers in the panel.
        tickers: usize,
    },
    /// The grid rows, equity curves or trade log were asked of an experiment read from JSON,
    /// which keeps only the summary.
    #[error(
        "the experiment has no recorded runs: its grid rows, equity curves and trade log are not in metrics.json"
    )]
    NotRecorded,
    /// The champion's and the challenger's return series differ in length.
    #[error(
        "the champion has {champion} daily returns and the challenger {challenger}: the series must be aligned"
    )]
    SeriesLengthMismatch {
        /// Returns of the champion.
        champion: usize,
        /// Returns of the challenger.
        challenger: usize,
    },
    /// Too few days to compare.
    #[error("{days} daily returns are too few to compare: at least {minimum} are needed")]
    TooFewDays {
        /// Days given.
        days: usize,
        /// The minimum.
        minimum: usize,
    },
    /// A return is NaN or infinite.
    #[error("the {arm}'s return on day {day} (0-based) is {value}, not a finite number")]
    NonFiniteReturn {
        /// Which series.
        arm: crate::compare::Arm,
        /// Its index, 0-based.
        day: usize,
        /// The value.
        value: f64,
    },
    /// A return series has no variance, so no Sharpe ratio.
    #[error("the {arm}'s returns are constant: a series without variance has no Sharpe ratio")]
    ConstantSeries {
        /// Which series.
        arm: crate::compare::Arm,
    },
    /// The Newey-West lag is not below the number of days.
    #[error("the Newey-West lag {lag} must be below the number of days, {days}")]
    LagTooLong {
        /// The lag.
        lag: usize,
        /// Days in each series.
        days: usize,
    },
    /// A test statistic's standard error is 0, so the statistic is undefined.
    #[error(
        "the {test} test has a standard error of 0: the difference between the challenger's and \
         the champion's returns does not vary (identical series, or a constant apart), so there \
         is nothing to test"
    )]
    ZeroStandardError {
        /// `hac` or `diebold_mariano`.
        test: &'static str,
    },
    /// A line of an `equity_curve.csv` being read back is not `date,strategy,baseline,window`.
    #[error("equity curve line {line}: {reason}")]
    EquityCsv {
        /// 1-based line number (the header is line 1).
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Shards that are not the `N` parts of one cut of this grid.
    #[error("the shards do not make up the grid: {reason}")]
    Shards {
        /// What is wrong.
        reason: String,
    },
    /// A shard file that cannot be read back.
    #[error("not a readable shard file: {reason}")]
    ShardFile {
        /// What is wrong.
        reason: String,
    },
    /// The grid's rows could not be written to or read from their temporary file.
    #[error(
        "cannot keep the grid's rows in a temporary file in {}: {source} (set TMPDIR to a directory with room)",
        dir.display()
    )]
    GridSpill {
        /// The temporary directory.
        dir: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing a report failed.
    #[error("cannot write the report")]
    Io(#[from] std::io::Error),
    /// A feature computation failed.
    #[error(transparent)]
    Features(#[from] momentum_features::FeaturesError),
}

/// Result alias of this crate.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
