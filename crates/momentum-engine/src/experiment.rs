//! One backtest invocation as a value: what to run ([`ExperimentSpec`], the `backtest` block of
//! `params.yaml`), what it produced ([`Experiment`]), and the files that encode it.
//!
//! [`run_experiment`] goes from a price panel and a spec to an [`Experiment`] in one call: the
//! grid search on the train window (or the whole panel), the winner recorded on every window
//! beside buy and hold, and the selection statistics. The experiment's JSON (`serde`) is
//! `reports/metrics.json`; [`Experiment::write_metrics_json`] writes it canonically (keys
//! sorted, two-space indent, final newline), and the `write_*_csv` methods write `grid.csv`,
//! `trades.csv` and `equity_curve.csv`. Those three need what a run recorded (the grid's rows,
//! the equity curves, the trade log), which `metrics.json` does not carry: an experiment read
//! back from JSON has the summary only, and the writers then fail with
//! [`EngineError::NotRecorded`].

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::Write;

use chrono::NaiveDate;
use momentum_features::PricePanel;
use rayon::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};

use crate::backtest::{BacktestResult, backtest_ranked, baseline};
use crate::cpcv::{self, Cpcv, CpcvSpec, Layout, Selections};
use crate::error::{EngineError, Result};
use crate::grid::{
    ComboResult, GridOptions, GridRun, GridSpec, RunningBest, SelectionStats, block_starts,
    cscv_block_len, max_first_rebalance, selection_statistics_ranked,
};
use crate::metrics::Metrics;
use crate::params::{Objective, StrategyParams, Window};
use crate::rows::GridRows;
use crate::search::{SearchMethod, SearchReport, SearchSpec, Space, run_search};
use crate::select::RankTable;
use crate::shard::{Provenance, Shard, evaluate_shard, merge_shards};
use crate::stats::Pbo;
use crate::walk_forward::{WalkForward, WalkForwardSpec, assemble};

/// What one backtest invocation runs: the `backtest` block of `params.yaml`, key for key (an
/// unknown key is an error when it is deserialised).
///
/// A key left out takes its [`Default`] value (the committed `params.yaml`):
///
/// ```
/// use momentum_engine::{ExperimentSpec, Objective};
///
/// let spec: ExperimentSpec = serde_json::from_str(r#"{"objective": "calmar", "pbo_blocks": 8}"#)?;
/// assert_eq!(spec.objective, Objective::Calmar);
/// assert_eq!(spec.pbo_blocks, 8);
/// assert_eq!(spec.train_fraction, Some(0.7));
/// assert_eq!(spec.grid.size(), 48);
///
/// let typo = serde_json::from_str::<ExperimentSpec>(r#"{"grid": {"top_kk": [1]}}"#);
/// assert!(typo.unwrap_err().to_string().contains("top_kk"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Fraction of the days in the train window, in `(0, 1)`; `None` evaluates the whole panel
    /// as one window (`full`), with no out-of-sample test.
    pub train_fraction: Option<f64>,
    /// What the grid maximises on the train window.
    pub objective: Objective,
    /// One-way cost in basis points, `0 <= c < 5000`.
    pub cost_bps: f64,
    /// CSCV blocks for PBO: even, 2 to 24.
    pub pbo_blocks: usize,
    /// The parameter lists of the grid (`search.method: grid`, the default).
    pub grid: GridSpec,
    /// How the combinations are chosen: the grid, or a TPE search within ranges.
    pub search: SearchSpec,
    /// The largest grid run: a larger one is refused before any work, with an estimate of its
    /// memory and time, instead of growing until the allocator aborts.
    pub max_combinations: usize,
    /// The evaluation window's first day: the first trading day on or after this date; `None`
    /// (or an empty string in `params.yaml`) for the panel's first day. Prices before it still
    /// feed the scores: the first rebalance is `t0 = max(start, lookback)`.
    #[serde(
        deserialize_with = "optional_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub start: Option<NaiveDate>,
    /// The evaluation window's last day: the last trading day on or before this date; `None`
    /// (or empty) for the panel's last day.
    #[serde(
        deserialize_with = "optional_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub end: Option<NaiveDate>,
    /// A walk-forward analysis of the grid over the evaluation window, reported beside the
    /// split (`None`, the default: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub walk_forward: Option<WalkForwardSpec>,
    /// A combinatorial purged cross-validation of the grid over the evaluation window,
    /// reported beside the split (`None`, the default: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpcv: Option<CpcvSpec>,
}

impl Default for ExperimentSpec {
    /// The committed `params.yaml`: 70 % train, Sharpe, 10 bps, 16 blocks, the default grid.
    fn default() -> Self {
        Self {
            train_fraction: Some(0.7),
            objective: Objective::Sharpe,
            cost_bps: 10.0,
            pbo_blocks: 16,
            grid: GridSpec::default(),
            search: SearchSpec::default(),
            max_combinations: DEFAULT_MAX_COMBINATIONS,
            start: None,
            end: None,
            walk_forward: None,
            cpcv: None,
        }
    }
}

/// A date, with `null` and `""` as `None` (an empty `backtest.start` means "from the first
/// day").
fn optional_date<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<NaiveDate>, D::Error> {
    match Option::<String>::deserialize(deserializer)?
        .as_deref()
        .map(str::trim)
    {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a date (YYYY-MM-DD)"))),
    }
}

/// The default [`ExperimentSpec::max_combinations`]: two million, about 40 s on two threads,
/// 880 MB of temporary disk with 16 PBO blocks ([`ExperimentSpec::estimated_disk_bytes`]) and
/// little memory ([`GRID_BYTES_PER_COMBINATION`]).
pub const DEFAULT_MAX_COMBINATIONS: usize = 2_000_000;

/// Peak memory per grid combination of a tracked `momentum backtest`, now that the rows are
/// streamed to disk ([`GridRows`]): the list of the grid's parameters and what is read a chunk
/// at a time. Measured as the slope of peak RSS between a 20,000- and a 100,000-combination
/// grid on the sample (`scripts/grid-memory.sh`, `docs/performance.md`), rounded up.
pub const GRID_BYTES_PER_COMBINATION: usize = 100;

/// Grid combinations a second on two threads of this project's reference machine (the sample
/// grid's benchmark, `docs/performance.md`): what the size check's time estimate assumes.
const COMBINATIONS_PER_SECOND: usize = 50_000;

impl ExperimentSpec {
    /// Refuses a grid of more than `max_combinations` combinations before any work.
    ///
    /// # Errors
    /// [`EngineError::GridTooLarge`] with the grid's size, the limit, and an estimate of the
    /// memory and disk it takes and of its time.
    pub fn check_size(&self) -> Result<()> {
        let combinations = self.size();
        if combinations <= self.max_combinations {
            return Ok(());
        }
        Err(EngineError::GridTooLarge {
            combinations,
            limit: self.max_combinations,
            megabytes: self.estimated_bytes() >> 20,
            disk_megabytes: self.estimated_disk_bytes() >> 20,
            seconds: combinations / COMBINATIONS_PER_SECOND,
        })
    }

    /// The peak memory the grid is expected to take: [`GRID_BYTES_PER_COMBINATION`] per
    /// combination (its rows are on disk: [`ExperimentSpec::estimated_disk_bytes`]).
    pub fn estimated_bytes(&self) -> usize {
        self.size().saturating_mul(GRID_BYTES_PER_COMBINATION)
    }

    /// The combinations the train window's selection evaluates, counted before any is left
    /// out: the grid's size, or a search's trials.
    pub fn size(&self) -> usize {
        match self.search.method {
            SearchMethod::Grid => self.grid.size(),
            SearchMethod::Tpe => self.search.trials,
        }
    }

    /// The combinations each selection (the split's, a fold's) evaluates: the grid's valid
    /// ones, or a search's trials (what a progress bar counts per pass).
    pub fn evaluated_per_pass(&self) -> usize {
        match self.search.method {
            SearchMethod::Grid => self.grid.runnable(),
            SearchMethod::Tpe => self.search.trials,
        }
    }

    /// The largest lookback the selection may try: the history every combination needs.
    pub fn max_lookback(&self) -> usize {
        match self.search.method {
            SearchMethod::Grid => self.grid.max_lookback(),
            SearchMethod::Tpe => self.search.lookback.max,
        }
    }

    /// The temporary disk (in `$TMPDIR`) the grid's rows take while it runs ([`GridRows`]: 23
    /// values plus two per PBO block, 8 bytes each, per combination).
    pub fn estimated_disk_bytes(&self) -> usize {
        self.size()
            .saturating_mul(crate::rows::record_bytes(self.pbo_blocks))
    }

    /// The evaluation window `[start, end]` on a panel with these `dates` (ascending): from
    /// the first day on or after [`ExperimentSpec::start`] to the last day on or before
    /// [`ExperimentSpec::end`], the whole panel by default.
    ///
    /// # Errors
    /// [`EngineError::InvalidParameter`] (`start`) when `start` is after `end`;
    /// [`EngineError::NoDayInWindow`] when no trading day falls between them.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use momentum_engine::{ExperimentSpec, Window};
    ///
    /// let day = |d| NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
    /// let dates = [day(2), day(3), day(4), day(5), day(8), day(9)];
    /// // The 6th and 7th are a weekend: the window starts on the 8th and ends on the 5th...
    /// let spec = ExperimentSpec { start: Some(day(6)), end: None, ..Default::default() };
    /// assert_eq!(spec.evaluation_window(&dates)?, Window { start: 4, end: 5 });
    /// let spec = ExperimentSpec { start: Some(day(1)), end: Some(day(7)), ..Default::default() };
    /// assert_eq!(spec.evaluation_window(&dates)?, Window { start: 0, end: 3 });
    /// // ...and a weekend alone holds no trading day.
    /// let spec = ExperimentSpec { start: Some(day(6)), end: Some(day(7)), ..Default::default() };
    /// assert!(spec.evaluation_window(&dates).is_err());
    /// # Ok::<(), momentum_engine::EngineError>(())
    /// ```
    pub fn evaluation_window(&self, dates: &[NaiveDate]) -> Result<Window> {
        if let (Some(start), Some(end)) = (self.start, self.end)
            && start > end
        {
            return Err(EngineError::InvalidParameter {
                name: "start",
                value: start.to_string(),
                reason: "is after the end of the evaluation window",
            });
        }
        let first = self
            .start
            .map_or(0, |start| dates.partition_point(|d| *d < start));
        let after = self
            .end
            .map_or(dates.len(), |end| dates.partition_point(|d| *d <= end));
        match (dates.first(), dates.last()) {
            (Some(&data_first), Some(&data_last)) if first >= after => {
                Err(EngineError::NoDayInWindow {
                    start: self.start.unwrap_or(data_first),
                    end: self.end.unwrap_or(data_last),
                    data_first,
                    data_last,
                })
            }
            _ => Ok(Window {
                start: first,
                end: after.saturating_sub(1),
            }),
        }
    }

    /// The windows of an evaluation window ([`ExperimentSpec::evaluation_window`]): `train`
    /// and `test` ([`Window::split`] at `train_fraction`), or `full` (all of it).
    ///
    /// # Errors
    /// As [`Window::split`]: [`EngineError::InvalidParameter`] (`train_fraction`),
    /// [`EngineError::TooFewDaysToSplit`].
    pub fn windows(&self, evaluated: Window) -> Result<Vec<(WindowName, Window)>> {
        Ok(match self.train_fraction {
            Some(fraction) => {
                let (train, test) = evaluated.split(fraction)?;
                vec![(WindowName::Train, train), (WindowName::Test, test)]
            }
            None => vec![(WindowName::Full, evaluated)],
        })
    }

    /// How many times an experiment on a panel with these `dates` runs the grid (or the
    /// search): once for the split, once per walk-forward fold, once for the CPCV (a grid's
    /// only), what a progress bar counts. A schedule that fails counts no fold: running the
    /// experiment reports its error.
    pub fn grid_passes(&self, dates: &[NaiveDate]) -> usize {
        let folds = self.walk_forward.map_or(0, |schedule| {
            self.evaluation_window(dates)
                .and_then(|evaluated| schedule.folds(evaluated, self.max_lookback()))
                .map_or(0, |folds| folds.len())
        });
        1 + folds + usize::from(self.cpcv_run().is_some())
    }

    /// The CPCV this spec runs: [`ExperimentSpec::cpcv`] beside a grid, none beside a search
    /// (each of its splits would need a search of its own).
    pub fn cpcv_run(&self) -> Option<CpcvSpec> {
        self.cpcv
            .filter(|_| self.search.method == SearchMethod::Grid)
    }
}

/// The name of an evaluation window, as `metrics.json` and the CSV files spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowName {
    /// Where the grid selects (the first `floor(f * T)` days).
    Train,
    /// Out of sample: the days after the train window.
    Test,
    /// The whole panel, when there is no split.
    Full,
}

impl WindowName {
    /// `train`, `test` or `full`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Test => "test",
            Self::Full => "full",
        }
    }
}

impl std::str::FromStr for WindowName {
    type Err = EngineError;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "train" => Ok(Self::Train),
            "test" => Ok(Self::Test),
            "full" => Ok(Self::Full),
            other => Err(EngineError::UnknownWindow {
                name: other.to_owned(),
            }),
        }
    }
}

impl fmt::Display for WindowName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where the prices came from and what they cover (the `data` object of `metrics.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataLineage {
    /// Content digest of the price table behind the panel, when known.
    pub digest: Option<String>,
    /// Number of tickers.
    pub tickers: usize,
    /// Number of trading days.
    pub days: usize,
    /// First date of the panel.
    pub start: NaiveDate,
    /// Last date of the panel.
    pub end: NaiveDate,
    /// The tickers in panel order.
    pub universe: Vec<String>,
}

impl DataLineage {
    /// The lineage of `panel` (at least one day), with the digest of the prices behind it.
    pub fn of(panel: &PricePanel, digest: Option<String>) -> Self {
        let dates = panel.dates();
        Self {
            digest,
            tickers: panel.n_tickers(),
            days: panel.n_days(),
            start: dates[0],
            end: dates[dates.len() - 1],
            universe: panel.tickers().to_vec(),
        }
    }
}

/// One evaluation window: its days and the metrics of the selected strategy and of buy and
/// hold over them (a `windows.<name>` object of `metrics.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowReport {
    /// First date of the window.
    pub start: NaiveDate,
    /// Last date of the window.
    pub end: NaiveDate,
    /// The first rebalance `t0 = max(start, lookback)`.
    pub first_rebalance: NaiveDate,
    /// Trading days in the window.
    pub days: usize,
    /// Daily returns behind the metrics (`end - t0`).
    pub returns: usize,
    /// The selected strategy.
    pub strategy: Metrics,
    /// Equal-weight buy and hold from `t0`.
    pub baseline: Metrics,
    /// The recorded runs (equity curves, trade log); not in `metrics.json`.
    #[serde(skip)]
    pub runs: Option<WindowRuns>,
}

/// The recorded runs behind a [`WindowReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRuns {
    /// The selected strategy.
    pub strategy: BacktestResult,
    /// Buy and hold over the same days.
    pub baseline: BacktestResult,
}

/// Everything one backtest invocation produced: the selected parameters, the data lineage,
/// the windows with strategy and baseline metrics, the selection statistics, and (from
/// [`run_experiment`], not from JSON) every grid row, the equity curves and the trade log.
///
/// Its JSON is `reports/metrics.json`: `params`, `data`, `windows` (by name), `selection`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// The selected combination.
    pub params: StrategyParams,
    /// The prices the experiment ran on.
    pub data: DataLineage,
    /// `train` and `test`, or `full`.
    pub windows: BTreeMap<WindowName, WindowReport>,
    /// Is the winner luck? PSR, DSR and PBO of the selection.
    pub selection: SelectionStats,
    /// How the combinations were chosen (`grid` in a `metrics.json` written before searches).
    #[serde(default)]
    pub search: SearchReport,
    /// One row per combination in grid order, with the per-block train return sums behind PBO
    /// (on disk, read a chunk at a time); not in `metrics.json` (see `grid.csv`).
    #[serde(skip)]
    pub grid: GridRows,
    /// Index of the selected combination in `grid`.
    #[serde(skip)]
    pub grid_rank: usize,
    /// The panel's dates, which the recorded runs' day indices refer to.
    #[serde(skip)]
    pub dates: Vec<NaiveDate>,
    /// The walk-forward analysis, when the spec asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_forward: Option<WalkForward>,
    /// The combinatorial purged cross-validation, when the spec asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpcv: Option<Cpcv>,
}

/// One day of the chained equity curves ([`Experiment::chained_curve`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// The day.
    pub date: NaiveDate,
    /// The strategy's value.
    pub strategy: f64,
    /// Buy and hold's value.
    pub baseline: f64,
    /// The window the day belongs to.
    pub window: WindowName,
}

/// The equity curves of every window end to end: each later window is chained onto the value
/// the previous one ended with, so a chart reads as one history.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainedCurve {
    /// One point per recorded day, windows in order.
    pub points: Vec<CurvePoint>,
    /// The first rebalance of the second window, if any (where a chart marks the split).
    pub split: Option<NaiveDate>,
}

impl ChainedCurve {
    /// Reads an `equity_curve.csv` ([`Experiment::write_equity_csv`]) back, chained
    /// ([`ChainedCurve::chain`]).
    ///
    /// # Errors
    /// [`EngineError::EquityCsv`] naming the line of a header other than
    /// `date,strategy,baseline,window`, or of a bad date, number or window name.
    pub fn read_equity_csv(input: impl std::io::Read) -> Result<Self> {
        let mut reader = csv::Reader::from_reader(input);
        let bad = |line: u64, reason: String| EngineError::EquityCsv { line, reason };
        let header = reader
            .headers()
            .map_err(|err| bad(1, err.to_string()))?
            .clone();
        if header.iter().collect::<Vec<_>>() != ["date", "strategy", "baseline", "window"] {
            return Err(bad(
                1,
                format!(
                    "header {:?} is not date,strategy,baseline,window",
                    header.iter().collect::<Vec<_>>().join(",")
                ),
            ));
        }
        let mut points = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|err| {
                bad(
                    err.position().map_or(0, csv::Position::line),
                    err.to_string(),
                )
            })?;
            let line = record.position().map_or(0, csv::Position::line);
            let number = |i: usize| {
                record[i]
                    .parse::<f64>()
                    .map_err(|_| bad(line, format!("{:?} is not a number", &record[i])))
            };
            points.push(CurvePoint {
                date: record[0]
                    .parse()
                    .map_err(|_| bad(line, format!("{:?} is not a date", &record[0])))?,
                strategy: number(1)?,
                baseline: number(2)?,
                window: record[3]
                    .parse()
                    .map_err(|err: EngineError| bad(line, err.to_string()))?,
            });
        }
        Ok(Self::chain(points))
    }

    /// The windows' curves, each starting from its own 1.0 as `equity_curve.csv` holds them
    /// (points in window order, a window's points together), chained end to end: each later
    /// window is scaled by the values the windows before it ended with. The split is the
    /// first day of the second window.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use momentum_engine::{ChainedCurve, CurvePoint, WindowName};
    ///
    /// let day = |d| NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
    /// let point = |d, strategy, baseline, window| CurvePoint { date: day(d), strategy, baseline, window };
    /// let curve = ChainedCurve::chain([
    ///     point(1, 1.0, 1.0, WindowName::Train),
    ///     point(2, 2.0, 1.5, WindowName::Train),
    ///     point(3, 1.0, 1.0, WindowName::Test),
    ///     point(4, 0.5, 1.2, WindowName::Test),
    /// ]);
    /// // The test window goes on from 2.0 and 1.5: 2.0 * 0.5 and 1.5 * 1.2.
    /// assert_eq!(curve.points[3].strategy, 1.0);
    /// assert!((curve.points[3].baseline - 1.8).abs() < 1e-12);
    /// assert_eq!(curve.split, Some(day(3)));
    /// ```
    pub fn chain(points: impl IntoIterator<Item = CurvePoint>) -> Self {
        let mut chained: Vec<CurvePoint> = Vec::new();
        let (mut ks, mut kb) = (1.0, 1.0);
        let mut last: Option<CurvePoint> = None;
        let mut split = None;
        for p in points {
            if let Some(previous) = last
                && previous.window != p.window
            {
                ks *= previous.strategy;
                kb *= previous.baseline;
                split = split.or(Some(p.date));
            }
            last = Some(p);
            chained.push(CurvePoint {
                strategy: ks * p.strategy,
                baseline: kb * p.baseline,
                ..p
            });
        }
        Self {
            points: chained,
            split,
        }
    }
}

impl Experiment {
    /// The selected combination's grid row.
    ///
    /// # Errors
    /// [`EngineError::NotRecorded`] for an experiment read from JSON;
    /// [`EngineError::GridSpill`] when the rows cannot be read.
    pub fn best(&self) -> Result<ComboResult> {
        self.grid.get(self.grid_rank)
    }

    /// The experiment without what a run recorded (grid rows, equity curves, trade log, dates,
    /// block sums): what `metrics.json` and a candidate file hold, and what reading them gives.
    #[must_use]
    pub fn summary(&self) -> Self {
        Self {
            params: self.params,
            data: self.data.clone(),
            windows: self
                .windows
                .iter()
                .map(|(name, w)| {
                    let without_runs = WindowReport {
                        start: w.start,
                        end: w.end,
                        first_rebalance: w.first_rebalance,
                        days: w.days,
                        returns: w.returns,
                        strategy: w.strategy,
                        baseline: w.baseline,
                        runs: None,
                    };
                    (*name, without_runs)
                })
                .collect(),
            selection: self.selection.clone(),
            search: SearchReport {
                seconds: Vec::new(),
                ..self.search.clone()
            },
            grid: GridRows::default(),
            grid_rank: self.grid_rank,
            dates: Vec::new(),
            walk_forward: self.walk_forward.as_ref().map(|analysis| WalkForward {
                curve: Vec::new(),
                ..analysis.clone()
            }),
            cpcv: self.cpcv.as_ref().map(|validation| Cpcv {
                splits: Vec::new(),
                ..validation.clone()
            }),
        }
    }

    /// Writes `metrics.json`: the experiment's JSON with its keys sorted, pretty-printed, and a
    /// final newline. NaN (a metric that could not be computed) is written as `null`.
    ///
    /// # Errors
    /// [`EngineError::Io`] when writing fails.
    pub fn write_metrics_json(&self, out: impl Write) -> Result<()> {
        write_canonical_json(out, self)
    }

    /// Writes `grid.csv`: one row per combination in grid order, its params, whether it was
    /// selected, and its train and test metrics (test cells empty without a test window).
    ///
    /// # Errors
    /// [`EngineError::NotRecorded`] for an experiment read from JSON; [`EngineError::Io`].
    pub fn write_grid_csv(&self, out: impl Write) -> Result<()> {
        if self.grid.is_empty() {
            return Err(EngineError::NotRecorded);
        }
        // Row by row through a buffer: the text of a large grid is never held whole.
        let mut out = std::io::BufWriter::new(out);
        out.write_all(b"lookback,skip,holding,top_k,cost_bps,selected")?;
        for prefix in ["train", "test"] {
            write_metric_names(&mut out, prefix)?;
        }
        out.write_all(b"\n")?;
        // A chunk's rows formatted in parallel runs (shortest round-trip digits are most of the
        // work), written in grid order.
        for chunk in self.grid.chunks() {
            let chunk = chunk?;
            let texts = chunk
                .rows
                .par_chunks(CSV_ROWS_PER_TASK)
                .enumerate()
                .map(|(k, rows)| {
                    let mut text = Vec::new();
                    for (j, c) in rows.iter().enumerate() {
                        let (i, p) = (chunk.first + k * CSV_ROWS_PER_TASK + j, c.params);
                        write!(
                            text,
                            "{},{},{},{},{},{}",
                            p.lookback,
                            p.skip,
                            p.holding,
                            p.top_k,
                            p.cost_bps,
                            u8::from(i == self.grid_rank),
                        )?;
                        write_metric_cells(&mut text, Some(&c.train))?;
                        write_metric_cells(&mut text, c.test.as_ref())?;
                        text.push(b'\n');
                    }
                    Ok(text)
                })
                .collect::<std::io::Result<Vec<Vec<u8>>>>()?;
            for text in texts {
                out.write_all(&text)?;
            }
        }
        out.flush()?;
        Ok(())
    }

    /// Writes `search.csv`, the search's history: one row per trial in trial order (a grid's
    /// trials are its rows in grid order) with `trial`, the `batch` it was proposed in (empty
    /// for a grid), its parameters, its train objective (`train_sharpe`, ...), the best
    /// objective up to it (`best_so_far`, NaN skipped) and the seconds from the search's start
    /// to the end of its batch (`seconds`; empty for a grid, and when `with_seconds` is false:
    /// a reproducible file holds no wall-clock time).
    ///
    /// # Errors
    /// [`EngineError::NotRecorded`] for an experiment read from JSON; [`EngineError::Io`].
    pub fn write_search_csv(&self, out: impl Write, with_seconds: bool) -> Result<()> {
        if self.grid.is_empty() {
            return Err(EngineError::NotRecorded);
        }
        let objective = self.selection.objective;
        let mut out = std::io::BufWriter::new(out);
        writeln!(
            out,
            "trial,batch,lookback,skip,holding,top_k,train_{objective},best_so_far,seconds"
        )?;
        let mut best = f64::NAN;
        self.grid.try_for_each(|i, c, _| {
            let p = c.params;
            let value = objective.value(&c.train);
            if !value.is_nan() && (best.is_nan() || value > best) {
                best = value;
            }
            let batch = self
                .search
                .batch
                .map(|size| (i / size).to_string())
                .unwrap_or_default();
            let seconds = match self.search.seconds.get(i) {
                Some(s) if with_seconds => format!("{s:.6}"),
                _ => String::new(),
            };
            writeln!(
                out,
                "{i},{batch},{},{},{},{},{value},{best},{seconds}",
                p.lookback, p.skip, p.holding, p.top_k
            )?;
            Ok::<_, EngineError>(())
        })?;
        out.flush()?;
        Ok(())
    }

    /// Writes `walk_forward.csv`: one row per fold, its train and test windows, the
    /// parameters selected, their train objective and their test metrics.
    ///
    /// # Errors
    /// [`EngineError::NotRecorded`] without a walk-forward analysis; [`EngineError::Io`].
    pub fn write_walk_forward_csv(&self, out: impl Write) -> Result<()> {
        let analysis = self.walk_forward.as_ref().ok_or(EngineError::NotRecorded)?;
        let mut out = std::io::BufWriter::new(out);
        out.write_all(
            b"fold,train_start,train_end,test_start,test_end,lookback,skip,holding,top_k,\
              cost_bps,train_objective",
        )?;
        write_metric_names(&mut out, "test")?;
        out.write_all(b"\n")?;
        for (k, fold) in analysis.folds.iter().enumerate() {
            let p = fold.params;
            write!(
                out,
                "{k},{},{},{},{},{},{},{},{},{},{}",
                fold.train_start,
                fold.train_end,
                fold.test_start,
                fold.test_end,
                p.lookback,
                p.skip,
                p.holding,
                p.top_k,
                p.cost_bps,
                fold.train_objective
            )?;
            write_metric_cells(&mut out, Some(&fold.test))?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok(())
    }

    /// Writes `trades.csv`: every trade of the selected strategy, window by window, through the
    /// `csv` writer (a field is quoted where it needs to be) with tickers made
    /// [`spreadsheet_text`].
    ///
    /// # Errors
    /// [`EngineError::NotRecorded`] for an experiment read from JSON; [`EngineError::Io`].
    pub fn write_trades_csv(&self, out: impl Write) -> Result<()> {
        let mut csv = csv::Writer::from_writer(out);
        let io = |err: csv::Error| EngineError::Io(err.into());
        csv.write_record([
            "window",
            "date",
            "ticker",
            "action",
            "weight_before",
            "weight_after",
            "price",
        ])
        .map_err(io)?;
        for (name, runs) in self.recorded()? {
            for t in &runs.strategy.trades {
                csv.write_record([
                    name.as_str(),
                    &self.dates[t.day].to_string(),
                    &spreadsheet_text(&self.data.universe[t.ticker]),
                    t.action.as_str(),
                    &t.weight_before.to_string(),
                    &t.weight_after.to_string(),
                    &t.price.to_string(),
                ])
                .map_err(io)?;
            }
        }
        csv.flush()?;
        Ok(())
    }

    /// Writes `equity_curve.csv`: the per-window equity curves as the metrics see them, each
    /// from 1.0 before its first trade.
    ///
    /// # Errors
    /// [`EngineError::NotRecorded`] for an experiment read from JSON; [`EngineError::Io`].
    pub fn write_equity_csv(&self, mut out: impl Write) -> Result<()> {
        let mut text = String::from("date,strategy,baseline,window\n");
        for (name, runs) in self.recorded()? {
            let curves = runs.strategy.equity.iter().zip(&runs.baseline.equity);
            for (k, (s, b)) in curves.enumerate() {
                let _ = writeln!(text, "{},{s},{b},{name}", self.dates[runs.strategy.day(k)]);
            }
        }
        out.write_all(text.as_bytes())?;
        Ok(())
    }

    /// The equity curves of every window end to end (see [`ChainedCurve`]).
    ///
    /// # Errors
    /// [`EngineError::NotRecorded`] for an experiment read from JSON.
    pub fn chained_curve(&self) -> Result<ChainedCurve> {
        let mut points = Vec::new();
        for (window, runs) in self.recorded()? {
            let (strategy, baseline) = (&runs.strategy, &runs.baseline);
            for (k, (s, b)) in strategy.equity.iter().zip(&baseline.equity).enumerate() {
                points.push(CurvePoint {
                    date: self.dates[strategy.day(k)],
                    strategy: *s,
                    baseline: *b,
                    window,
                });
            }
        }
        Ok(ChainedCurve::chain(points))
    }

    /// Each window's recorded runs, in window order.
    fn recorded(&self) -> Result<Vec<(WindowName, &WindowRuns)>> {
        self.windows
            .iter()
            .map(|(name, report)| {
                Ok((*name, report.runs.as_ref().ok_or(EngineError::NotRecorded)?))
            })
            .collect()
    }
}

/// `value`'s JSON with its keys sorted (through `serde_json::Value`, whose maps are ordered),
/// two-space indented, with a final newline: the one encoding of the report files, so equal
/// values give equal bytes.
///
/// # Errors
/// [`EngineError::Io`] when writing fails or `value` has no JSON form.
pub fn write_canonical_json<T: Serialize + ?Sized>(mut out: impl Write, value: &T) -> Result<()> {
    let value = serde_json::to_value(value).map_err(std::io::Error::other)?;
    serde_json::to_writer_pretty(&mut out, &value).map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// One window's cells of a `grid.csv` row: the metrics in [`Metrics::NAMES`] order, or empty
/// cells without that window.
/// A text cell of a CSV file meant for spreadsheets: one that starts with `=`, `+`, `-`, `@`,
/// a tab or a carriage return would be read as a formula (CSV injection), so it gets a leading
/// `'`, which spreadsheets show as text; any other cell is as it is. Numbers are not text
/// cells (a negative number keeps its sign).
///
/// ```
/// use momentum_engine::spreadsheet_text;
/// assert_eq!(spreadsheet_text("AAPL"), "AAPL");
/// assert_eq!(spreadsheet_text("BRK-B"), "BRK-B");
/// assert_eq!(spreadsheet_text("=HYPERLINK(1)"), "'=HYPERLINK(1)");
/// assert_eq!(spreadsheet_text("-2+3"), "'-2+3");
/// ```
pub fn spreadsheet_text(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// `,{prefix}_total_roi,...`: the header cells of [`write_metric_cells`].
fn write_metric_names(out: &mut impl Write, prefix: &str) -> std::io::Result<()> {
    Metrics::NAMES
        .iter()
        .try_for_each(|m| write!(out, ",{prefix}_{m}"))
}

/// Rows of `grid.csv` one task formats.
const CSV_ROWS_PER_TASK: usize = 1024;

/// `,v1,v2,...`: one cell per metric, each preceded by its comma (empty cells for `None`).
fn write_metric_cells(out: &mut impl Write, m: Option<&Metrics>) -> std::io::Result<()> {
    match m {
        None => out.write_all(",".repeat(Metrics::NAMES.len()).as_bytes()),
        Some(m) => m.values().iter().try_for_each(|v| write!(out, ",{v}")),
    }
}

/// Runs one backtest invocation on `panel`: the grid of `spec` on the train window (or the
/// whole panel without a split), the winner and buy and hold recorded on every window, and the
/// selection statistics. `data_digest` is the content digest of the prices behind the panel,
/// recorded as lineage. `progress(k)` is called as groups of `k` combinations finish. Uses the
/// current rayon pool; the result is identical for any thread count.
///
/// A grid of one combination (`--no-grid`) is validated first, so a bad parameter is an
/// error naming it rather than an empty grid.
///
/// # Errors
/// [`EngineError::EmptyPanel`] for a panel of fewer than two days or no ticker; otherwise as
/// [`Window::split`], [`GridSpec::combinations`], [`crate::grid_search`] and [`crate::backtest()`].
///
/// # Examples
///
/// Forty days on which `A` climbs by 1 a day from 10 and `B` stays at 10, split in half, with
/// a grid of two lookbacks:
///
/// ```
/// use momentum_engine::{ExperimentSpec, GridSpec, Objective, PricePanel, WindowName};
/// use momentum_engine::run_experiment;
///
/// let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
/// let dates = (0..40).map(|d| start + chrono::Days::new(d)).collect();
/// let close = ndarray::Array2::from_shape_fn((40, 2), |(t, i)| {
///     if i == 0 { 10.0 + t as f64 } else { 10.0 }
/// });
/// let panel = PricePanel::new(dates, vec!["A".into(), "B".into()], close)?;
/// let spec = ExperimentSpec {
///     train_fraction: Some(0.5),
///     objective: Objective::TotalRoi,
///     cost_bps: 0.0,
///     pbo_blocks: 2,
///     grid: GridSpec { lookback: vec![2, 3], skip: vec![0], holding: vec![2], top_k: vec![1] },
///     max_combinations: 100,
///     ..Default::default()
/// };
/// let experiment = run_experiment(&panel, &spec, None, &|_| {})?;
///
/// // Both combinations always hold A; on the train window (days 0 to 19) lookback 2 buys it a
/// // day earlier, at 12 rather than 13, and wins: 29 / 12.
/// assert_eq!(experiment.params.lookback, 2);
/// assert_eq!(experiment.selection.trials, 2);
/// let train = &experiment.windows[&WindowName::Train];
/// assert!((train.strategy.total_roi - (29.0 / 12.0 - 1.0)).abs() < 1e-12);
/// // Out of sample (days 20 to 39) A goes from 30 to 49; buy and hold has half in B.
/// let test = &experiment.windows[&WindowName::Test];
/// assert_eq!((test.days, test.returns), (20, 19));
/// assert!((test.strategy.total_roi - 19.0 / 30.0).abs() < 1e-12);
/// assert!((test.baseline.total_roi - 19.0 / 60.0).abs() < 1e-12);
///
/// // `reports/metrics.json`, here into memory.
/// let mut json = Vec::new();
/// experiment.write_metrics_json(&mut json)?;
/// let metrics: serde_json::Value = serde_json::from_slice(&json)?;
/// assert_eq!(metrics["params"]["lookback"], 2);
/// assert_eq!(metrics["selection"]["trials"], 2);
/// assert_eq!(metrics["selection"]["pbo_blocks"], 2);
/// assert_eq!(metrics["data"]["universe"], serde_json::json!(["A", "B"]));
/// assert!(json.ends_with(b"}\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_experiment(
    panel: &PricePanel,
    spec: &ExperimentSpec,
    data_digest: Option<String>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Experiment> {
    if spec.search.method == SearchMethod::Tpe {
        return run_search(panel, spec, data_digest, progress);
    }
    // The whole grid is one shard of one: the sharded and the unsharded run share every step.
    let provenance = Provenance {
        spec: spec.clone(),
        data_digest: data_digest.clone(),
        code: String::new(),
    };
    let whole = evaluate_shard(panel, spec, (Shard::WHOLE, provenance), progress)?;
    merge_shards(panel, spec, data_digest, vec![whole])
}

/// What one backtest invocation runs, worked out from the spec and the panel before any
/// simulation: the windows, the grid's combinations, the walk-forward schedule and the CPCV
/// layout. Shared by a shard's evaluation and the merge, so both see the same grid.
pub(crate) struct Plan {
    pub(crate) evaluated: Window,
    pub(crate) windows: Vec<(WindowName, Window)>,
    pub(crate) options: GridOptions,
    /// The grid's combinations (none for a search, which draws them as it goes).
    pub(crate) combos: Vec<StrategyParams>,
    pub(crate) dropped: usize,
    /// A search's ranges.
    pub(crate) space: Option<Space>,
    /// The grid's largest first rebalance on the train window (where CSCV's days start).
    pub(crate) max_train_t0: usize,
    /// The walk-forward folds' `(train, test)` windows.
    pub(crate) folds: Option<Vec<(Window, Window)>>,
    pub(crate) walk_forward: Option<WalkForwardSpec>,
    pub(crate) cpcv: Option<(CpcvSpec, Layout)>,
}

impl Plan {
    /// The plan of `spec` on `panel`.
    ///
    /// # Errors
    /// As [`run_experiment`]: the panel, the grid's size and combinations, the windows, every
    /// combination's first rebalance, the walk-forward schedule and the CPCV layout.
    pub(crate) fn new(panel: &PricePanel, spec: &ExperimentSpec) -> Result<Self> {
        Self::planned(panel, spec).map_err(|err| dated(panel.dates(), err))
    }

    fn planned(panel: &PricePanel, spec: &ExperimentSpec) -> Result<Self> {
        let days = panel.n_days();
        if days < 2 || panel.n_tickers() == 0 {
            return Err(EngineError::EmptyPanel {
                days,
                tickers: panel.n_tickers(),
            });
        }
        spec.check_size()?;
        let dates = panel.dates();
        let evaluated = spec.evaluation_window(dates)?;
        let windows = spec.windows(evaluated)?;
        let space = match spec.search.method {
            SearchMethod::Grid => None,
            SearchMethod::Tpe => Some(Space::new(&spec.search, spec.cost_bps)?),
        };
        if space.is_none() && spec.grid.size() == 1 {
            let grid = &spec.grid;
            StrategyParams {
                lookback: grid.lookback[0],
                skip: grid.skip[0],
                holding: grid.holding[0],
                top_k: grid.top_k[0],
                cost_bps: spec.cost_bps,
            }
            .validate()?;
        }
        let options = GridOptions {
            train: windows[0].1,
            test: windows.get(1).map(|(_, window)| *window),
            objective: spec.objective,
            pbo_blocks: spec.pbo_blocks,
            cost_bps: spec.cost_bps,
        };
        let (combos, dropped) = match space {
            None => spec.grid.combinations(spec.cost_bps)?,
            Some(_) => (Vec::new(), 0),
        };
        options.train.validate(days)?;
        // A search's latest first rebalance is its widest lookback's.
        let widest = space.map(|space| [space.widest(spec.cost_bps)]);
        let max_train_t0 = max_first_rebalance(
            widest.as_ref().map_or(&combos[..], |w| &w[..]),
            (options.train, options.test),
        )?;
        let folds = spec
            .walk_forward
            .map(|schedule| schedule.folds(evaluated, spec.max_lookback()))
            .transpose()?;
        let cpcv = spec
            .cpcv_run()
            .map(|cpcv_spec| {
                Ok::<_, EngineError>((cpcv_spec, cpcv::plan(&combos, cpcv_spec, evaluated)?))
            })
            .transpose()?;
        Ok(Self {
            evaluated,
            windows,
            options,
            combos,
            dropped,
            space,
            max_train_t0,
            folds,
            walk_forward: spec.walk_forward,
            cpcv,
        })
    }

    /// CSCV's blocks and returns per block, as the grid's rows carry them (`None`: too few
    /// train days for one return per block).
    pub(crate) fn block_layout(&self) -> Option<(usize, usize)> {
        let s = self.options.pbo_blocks;
        let block_len = cscv_block_len(self.options.train, s, self.max_train_t0);
        (block_len > 0).then_some((s, block_len))
    }

    /// The first days of CSCV's blocks ([`Plan::block_layout`]; none when it has none).
    ///
    /// # Errors
    /// As [`block_starts`].
    pub(crate) fn block_starts(&self) -> Result<Vec<usize>> {
        block_starts(
            self.options.train,
            self.options.pbo_blocks,
            self.max_train_t0,
        )
    }

    /// Days a combination of `lookback` is simulated for: its train and test windows from its
    /// first rebalance (the weight of its work).
    pub(crate) fn simulated_days(&self, lookback: usize) -> usize {
        let days = |w: Window| w.end - w.start.max(lookback).min(w.end);
        days(self.options.train) + self.options.test.map_or(0, days)
    }

    /// The experiment from the grid's `rows` (all of them, in grid order) and each fold's and
    /// split's selection over all of them: the winner and buy and hold recorded on every
    /// window, the selection statistics, the walk-forward analysis and the CPCV.
    pub(crate) fn finish(
        &self,
        panel: &PricePanel,
        data_digest: Option<String>,
        selected: (GridRows, Vec<RunningBest>, Option<Selections>),
    ) -> Result<Experiment> {
        self.finished(panel, data_digest, selected)
            .map_err(|err| dated(panel.dates(), err))
    }

    fn finished(
        &self,
        panel: &PricePanel,
        data_digest: Option<String>,
        (rows, folds, selections): (GridRows, Vec<RunningBest>, Option<Selections>),
    ) -> Result<Experiment> {
        let dates = panel.dates();
        let options = &self.options;
        let run = GridRun {
            rows,
            dropped: self.dropped,
        };
        let best = run.rows.select_best(options.objective)?;
        let params = run.rows.get(best)?.params;
        // The winner's rank table once, for its selection statistics and every window's
        // recorded run; those side by side (PBO takes the idle worker while a window runs).
        let ranks = RankTable::build(panel, params.lookback, params.skip, params.top_k)?;
        let (selection, reports) = rayon::join(
            || selection_statistics_ranked(panel, &run, (&params, &ranks), options),
            || {
                self.windows
                    .par_iter()
                    .map(|&(name, window)| {
                        let strategy = backtest_ranked(panel, &params, window, &ranks)?;
                        let baseline = baseline(panel, &params, window)?;
                        let report = WindowReport {
                            start: dates[window.start],
                            end: dates[window.end],
                            first_rebalance: dates[strategy.t0],
                            days: window.end - window.start + 1,
                            returns: strategy.equity.len() - 1,
                            strategy: strategy.metrics,
                            baseline: baseline.metrics,
                            runs: Some(WindowRuns { strategy, baseline }),
                        };
                        Ok((name, report))
                    })
                    .collect::<Result<BTreeMap<_, _>>>()
            },
        );
        let (selection, reports) = (selection?, reports?);
        let walk_forward = match (self.walk_forward, &self.folds) {
            (Some(spec), Some(schedule)) => Some(assemble(panel, spec, schedule, &folds)?),
            _ => None,
        };
        let cpcv = match (self.cpcv, selections) {
            (Some((cpcv_spec, layout)), Some(selections)) => {
                let grid = (&self.combos[..], options.objective);
                let window = (cpcv_spec, self.evaluated, layout);
                Some(cpcv::finish(panel, grid, window, selections)?)
            }
            _ => None,
        };
        Ok(Experiment {
            params,
            data: DataLineage::of(panel, data_digest),
            windows: reports,
            selection,
            search: SearchReport {
                method: SearchMethod::Grid,
                trials: run.rows.len(),
                best_trial: best,
                ..SearchReport::default()
            },
            grid: run.rows,
            grid_rank: best,
            dates: dates.to_vec(),
            walk_forward,
            cpcv,
        })
    }
}

/// `err` with a window too short for a lookback named by its dates, not by day indices.
fn dated(dates: &[NaiveDate], err: EngineError) -> EngineError {
    match err {
        EngineError::WindowTooShort {
            lookback,
            start,
            end,
        } => EngineError::LookbackBeyondWindow {
            lookback,
            start: dates[start],
            end: dates[end],
        },
        other => other,
    }
}

/// The `selection` object of `metrics.json`: [`SelectionStats`] under the names the reports
/// have always used, PBO spread over four keys (its logits are not written, and a decoded
/// experiment has none).
#[derive(Serialize, Deserialize)]
pub(crate) struct SelectionJson {
    objective: Objective,
    trials: usize,
    #[serde(deserialize_with = "nan_if_null")]
    psr: f64,
    #[serde(deserialize_with = "nan_if_null")]
    dsr: f64,
    pbo: Option<f64>,
    #[serde(deserialize_with = "nan_if_null")]
    sharpe_daily: f64,
    #[serde(deserialize_with = "nan_if_null")]
    sr0_daily: f64,
    #[serde(deserialize_with = "nan_if_null")]
    sharpe_variance: f64,
    returns: usize,
    #[serde(deserialize_with = "nan_if_null")]
    skewness: f64,
    #[serde(deserialize_with = "nan_if_null")]
    kurtosis: f64,
    pbo_splits: Option<usize>,
    pbo_blocks: Option<usize>,
    pbo_block_len: Option<usize>,
    dropped_combinations: usize,
}

impl From<SelectionStats> for SelectionJson {
    fn from(s: SelectionStats) -> Self {
        Self {
            objective: s.objective,
            trials: s.trials,
            psr: s.psr,
            dsr: s.dsr,
            pbo: s.pbo.as_ref().map(|p| p.pbo),
            sharpe_daily: s.sharpe,
            sr0_daily: s.sr0,
            sharpe_variance: s.sharpe_variance,
            returns: s.n,
            skewness: s.skewness,
            kurtosis: s.kurtosis,
            pbo_splits: s.pbo.as_ref().map(|p| p.splits),
            pbo_blocks: s.pbo.as_ref().map(|p| p.blocks),
            pbo_block_len: s.pbo.as_ref().map(|p| p.block_len),
            dropped_combinations: s.dropped,
        }
    }
}

impl From<SelectionJson> for SelectionStats {
    fn from(s: SelectionJson) -> Self {
        let pbo = match (s.pbo, s.pbo_splits, s.pbo_blocks, s.pbo_block_len) {
            (Some(pbo), Some(splits), Some(blocks), Some(block_len)) => Some(Pbo {
                pbo,
                splits,
                blocks,
                block_len,
                logits: Vec::new(),
            }),
            _ => None,
        };
        Self {
            objective: s.objective,
            trials: s.trials,
            sharpe: s.sharpe_daily,
            n: s.returns,
            skewness: s.skewness,
            kurtosis: s.kurtosis,
            psr: s.psr,
            sr0: s.sr0_daily,
            sharpe_variance: s.sharpe_variance,
            dsr: s.dsr,
            pbo,
            dropped: s.dropped_combinations,
        }
    }
}

/// A number that JSON may hold as `null`: serde_json writes NaN (a metric that could not be
/// computed) as `null`, and reading it back gives NaN again.
pub(crate) fn nan_if_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}
