//! The grid search: every combination on the train (and test) window, in parallel, with the
//! selection statistics of the winner.

use std::sync::{Mutex, PoisonError};

use momentum_features::PricePanel;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::backtest::run_recorded;
use crate::error::{EngineError, Result};
use crate::experiment::SelectionJson;
use crate::isa::Isa;
use crate::metrics::{DAYS_PER_YEAR, Metrics, Runs};
use crate::params::{Objective, StrategyParams, Window};
use crate::rows::{CHUNK_ROWS, GridRows, GridRowsWriter};
use crate::select::RankTable;
use crate::sim::{Blocks, NoRecord, Prices, Scratch, simulate};
use crate::stats::{
    Pbo, expected_max_sharpe, moments, pbo_of_rows, probabilistic_sharpe_ratio, variance_of_passes,
};

/// The parameter lists whose cartesian product is searched: the `backtest.grid` block of
/// `params.yaml`, key for key (a key it does not know is an error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GridSpec {
    /// Lookbacks `L`.
    pub lookback: Vec<usize>,
    /// Skips `S`.
    pub skip: Vec<usize>,
    /// Holding periods `H`.
    pub holding: Vec<usize>,
    /// Portfolio sizes `K`.
    pub top_k: Vec<usize>,
}

impl Default for GridSpec {
    /// The committed `params.yaml` grid: 4 lookbacks, 2 skips, 3 holding periods, 2 sizes.
    fn default() -> Self {
        Self {
            lookback: vec![20, 60, 120, 250],
            skip: vec![0, 10],
            holding: vec![5, 20, 60],
            top_k: vec![3, 5],
        }
    }
}

impl GridSpec {
    /// The number of combinations [`GridSpec::combinations`] lists (those with
    /// `skip < lookback`), counted without listing them, saturating.
    pub fn runnable(&self) -> usize {
        let pairs = self
            .lookback
            .iter()
            .map(|&lookback| {
                self.skip
                    .iter()
                    .filter(|&&skip| lookback == 0 || skip < lookback)
                    .count()
            })
            .fold(0usize, usize::saturating_add);
        pairs
            .saturating_mul(self.holding.len())
            .saturating_mul(self.top_k.len())
    }

    /// The largest lookback listed (0 for none): the history every combination needs.
    pub fn max_lookback(&self) -> usize {
        self.lookback.iter().copied().max().unwrap_or(0)
    }

    /// The number of combinations before any is left out, saturating.
    pub fn size(&self) -> usize {
        [&self.lookback, &self.skip, &self.holding, &self.top_k]
            .iter()
            .fold(1usize, |n, list| n.saturating_mul(list.len()))
    }

    /// The combinations in grid order (lookback, then skip, holding, top_k, each in list
    /// order), each with `cost_bps`, and how many were left out because `skip >= lookback`.
    ///
    /// # Errors
    /// [`EngineError::InvalidParameter`] for an empty list, a value listed twice, or a value
    /// that is invalid in every combination (lookback 0, holding 0, top_k 0, a bad cost);
    /// [`EngineError::EmptyGrid`] when nothing valid is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_engine::{EngineError, GridSpec};
    ///
    /// let grid = GridSpec { lookback: vec![2, 5], skip: vec![0, 2], holding: vec![5], top_k: vec![1] };
    /// let (combos, dropped) = grid.combinations(10.0)?;
    /// // (lookback 2, skip 2) is left out: the skip must be shorter than the lookback.
    /// let pairs: Vec<_> = combos.iter().map(|p| (p.lookback, p.skip)).collect();
    /// assert_eq!(pairs, [(2, 0), (5, 0), (5, 2)]);
    /// assert_eq!(dropped, 1);
    /// assert!(combos.iter().all(|p| p.holding == 5 && p.top_k == 1 && p.cost_bps == 10.0));
    ///
    /// let twice = GridSpec { lookback: vec![5, 5], ..grid.clone() };
    /// assert!(matches!(
    ///     twice.combinations(10.0),
    ///     Err(EngineError::InvalidParameter { name: "lookback", .. })
    /// ));
    /// let empty = GridSpec { top_k: vec![], ..grid };
    /// assert!(matches!(
    ///     empty.combinations(10.0),
    ///     Err(EngineError::InvalidParameter { name: "top_k", .. })
    /// ));
    /// # Ok::<(), momentum_engine::EngineError>(())
    /// ```
    pub fn combinations(&self, cost_bps: f64) -> Result<(Vec<StrategyParams>, usize)> {
        for (name, list) in [
            ("lookback", &self.lookback),
            ("skip", &self.skip),
            ("holding", &self.holding),
            ("top_k", &self.top_k),
        ] {
            if list.is_empty() {
                return Err(EngineError::InvalidParameter {
                    name,
                    value: "[]".into(),
                    reason: "the grid needs at least one value",
                });
            }
            // A repeated value repeats combinations, which are not further trials: they would
            // raise `N` for the DSR and tie with themselves in PBO.
            if let Some(value) = list
                .iter()
                .enumerate()
                .find_map(|(i, v)| list[..i].contains(v).then_some(v))
            {
                return Err(EngineError::InvalidParameter {
                    name,
                    value: value.to_string(),
                    reason: "listed twice in the grid",
                });
            }
        }
        let mut combos = Vec::new();
        let mut dropped = 0;
        for &lookback in &self.lookback {
            for &skip in &self.skip {
                for &holding in &self.holding {
                    for &top_k in &self.top_k {
                        let p = StrategyParams {
                            lookback,
                            skip,
                            holding,
                            top_k,
                            cost_bps,
                        };
                        if lookback > 0 && skip >= lookback {
                            dropped += 1;
                            continue;
                        }
                        p.validate()?;
                        combos.push(p);
                    }
                }
            }
        }
        if combos.is_empty() {
            return Err(EngineError::EmptyGrid {
                reason: "every combination has skip >= lookback".into(),
            });
        }
        Ok((combos, dropped))
    }
}

/// How to run and judge the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridOptions {
    /// The selection window.
    pub train: Window,
    /// The out-of-sample window, if any.
    pub test: Option<Window>,
    /// What is maximised on `train`.
    pub objective: Objective,
    /// CSCV blocks `S` for PBO (even, default 16).
    pub pbo_blocks: usize,
    /// One-way cost in basis points, the same for every combination.
    pub cost_bps: f64,
}

/// One combination's results.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ComboResult {
    /// The parameters.
    pub params: StrategyParams,
    /// Metrics on the train window.
    pub train: Metrics,
    /// Metrics on the test window, when there is one.
    pub test: Option<Metrics>,
}

/// The selection statistics of the grid's winner (per-period, i.e. daily, Sharpe ratios).
///
/// Its JSON is the `selection` object of `metrics.json` (`sharpe` as `sharpe_daily`, `n` as
/// `returns`, `sr0` as `sr0_daily`, PBO as `pbo`, `pbo_splits`, `pbo_blocks`,
/// `pbo_block_len`, `dropped` as `dropped_combinations`; the CSCV logits are not written).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "SelectionJson", from = "SelectionJson")]
pub struct SelectionStats {
    /// The objective maximised.
    pub objective: Objective,
    /// Number of combinations tried `N`.
    pub trials: usize,
    /// Daily Sharpe ratio of the winner on the train window.
    pub sharpe: f64,
    /// Number of daily returns behind it.
    pub n: usize,
    /// Skewness of the winner's daily returns.
    pub skewness: f64,
    /// Non-excess kurtosis of the winner's daily returns.
    pub kurtosis: f64,
    /// `PSR(0)`: probability that the winner's true Sharpe is above 0.
    pub psr: f64,
    /// The DSR benchmark `SR0` (expected maximum daily Sharpe of `N` luck-only trials).
    pub sr0: f64,
    /// Variance of the trials' daily Sharpe ratios (ddof 0).
    pub sharpe_variance: f64,
    /// Deflated Sharpe Ratio `PSR(SR0)`.
    pub dsr: f64,
    /// PBO by CSCV, `None` when it cannot be computed (one trial, too few days).
    pub pbo: Option<Pbo>,
    /// Combinations of the grid left out because `skip >= lookback` (not trials).
    pub dropped: usize,
}

/// Everything the grid search found.
#[derive(Debug, Clone, PartialEq)]
pub struct GridOutcome {
    /// One result per combination in grid order, with the per-block return sums PBO was
    /// computed from (see [`GridRun::rows`]).
    pub rows: GridRows,
    /// Index in `rows` of the selected combination.
    pub best: usize,
    /// The selected combination's row.
    pub winner: ComboResult,
    /// Selection statistics of the winner.
    pub selection: SelectionStats,
}

/// Index of the best value of `objective` (NaN counts as worst; ties go to the lower index).
///
/// ```
/// use momentum_engine::{ComboResult, Metrics, Objective, StrategyParams, select_best};
///
/// let params = StrategyParams { lookback: 20, skip: 0, holding: 5, top_k: 3, cost_bps: 10.0 };
/// let combo = |sharpe| ComboResult {
///     params,
///     train: Metrics { sharpe, ..Metrics::default() },
///     test: None,
/// };
/// let combos = [combo(f64::NAN), combo(1.2), combo(0.4), combo(1.2)];
/// assert_eq!(select_best(&combos, Objective::Sharpe), 1);
/// ```
pub fn select_best(combos: &[ComboResult], objective: Objective) -> usize {
    let mut best = RunningBest::new(objective);
    best.offer(combos);
    best.index()
}

/// [`select_best`] over rows that arrive in grid order, a batch at a time (or a shard at a
/// time, [`RunningBest::merge`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RunningBest {
    objective: Objective,
    /// Index, objective value and row of the best so far.
    best: Option<(usize, f64, ComboResult)>,
    /// Index and row of the first row seen: the selection when every value is NaN.
    first: Option<(usize, ComboResult)>,
    /// Grid index of the next row.
    seen: usize,
}

impl RunningBest {
    pub(crate) fn new(objective: Objective) -> Self {
        Self::from_index(objective, 0)
    }

    /// A running best whose first row is grid row `first` (a shard's).
    pub(crate) fn from_index(objective: Objective, first: usize) -> Self {
        Self {
            objective,
            best: None,
            first: None,
            seen: first,
        }
    }

    /// Whether it ran over exactly the rows `rows` (a shard's): its first row, its best and
    /// the next row within them, as a state read from a file must be.
    pub(crate) fn covers(&self, rows: std::ops::Range<usize>) -> bool {
        self.seen == rows.end
            && self.first.is_some_and(|(i, _)| i == rows.start)
            && self.best.is_none_or(|(i, _, _)| rows.contains(&i))
    }

    /// What it maximises.
    pub(crate) fn objective(&self) -> Objective {
        self.objective
    }

    /// Takes `later`'s rows after these: `later` ran over the rows that follow.
    pub(crate) fn merge(&mut self, later: &Self) {
        if let Some((i, v, row)) = later.best
            && self.best.is_none_or(|(_, b, _)| v > b)
        {
            self.best = Some((i, v, row));
        }
        self.first = self.first.or(later.first);
        self.seen = later.seen;
    }

    /// The selection: the best row, or the first when every value is NaN, with its grid index
    /// (`None` before any row).
    pub(crate) fn selected(&self) -> Option<(usize, ComboResult)> {
        self.best.map(|(i, _, row)| (i, row)).or(self.first)
    }

    /// Its state as bytes: the index of the best and of the first row (`u64::MAX` for none), the
    /// best's value and both rows as [`crate::rows::encode_row`] records.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let (best, value, best_row) = self.best.unwrap_or((usize::MAX, f64::NAN, filler()));
        let (first, first_row) = self.first.unwrap_or((usize::MAX, filler()));
        for n in [best as u64, first as u64, self.seen as u64] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&value.to_le_bytes());
        crate::rows::encode_row(&best_row, &[], out);
        crate::rows::encode_row(&first_row, &[], out);
    }

    /// Bytes of [`RunningBest::encode`]'s output.
    pub(crate) const ENCODED_BYTES: usize = 32 + 2 * crate::rows::record_bytes(0);

    /// The state [`RunningBest::encode`] wrote.
    pub(crate) fn decode(objective: Objective, bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_BYTES {
            return None;
        }
        let word = |k: usize| {
            let mut le = [0; 8];
            le.copy_from_slice(&bytes[8 * k..8 * k + 8]);
            u64::from_le_bytes(le)
        };
        let index = |k| match word(k) {
            u64::MAX => Some(None),
            n => usize::try_from(n).ok().map(Some),
        };
        let record = crate::rows::record_bytes(0);
        let best_row = crate::rows::decode_row(&bytes[32..32 + record], &mut Vec::new());
        let first_row = crate::rows::decode_row(&bytes[32 + record..], &mut Vec::new());
        let value = f64::from_bits(word(3));
        Some(Self {
            objective,
            best: index(0)?.map(|i| (i, value, best_row)),
            first: index(1)?.map(|i| (i, first_row)),
            seen: usize::try_from(word(2)).ok()?,
        })
    }

    /// Takes the next rows of the grid.
    pub(crate) fn offer(&mut self, rows: &[ComboResult]) {
        if self.first.is_none()
            && let Some(row) = rows.first()
        {
            self.first = Some((self.seen, *row));
        }
        for (i, c) in rows.iter().enumerate() {
            let v = self.objective.value(&c.train);
            if !v.is_nan() && self.best.is_none_or(|(_, b, _)| v > b) {
                self.best = Some((self.seen + i, v, *c));
            }
        }
        self.seen += rows.len();
    }

    /// The index of the best row (0 when every value is NaN).
    pub(crate) fn index(&self) -> usize {
        self.selected().map_or(0, |(i, _)| i)
    }
}

/// The row an absent best is written with.
fn filler() -> ComboResult {
    ComboResult {
        params: StrategyParams {
            lookback: 0,
            skip: 0,
            holding: 0,
            top_k: 0,
            cost_bps: 0.0,
        },
        train: Metrics::default(),
        test: None,
    }
}

/// Buffers the grid's tasks hand on to each other: a task takes one (or makes its own when none
/// is spare) and gives it back when done, so tasks as small as one window reuse the memory of
/// earlier ones without being tied to a worker thread.
///
/// More tasks than threads can hold one at a time (a worker waiting in a `join` whose other
/// half was stolen runs other tasks meanwhile), so the pool keeps at most one per thread and
/// drops the rest: what stays allocated until the grid ends does not grow with the grid.
struct Spares<T> {
    spare: Mutex<Vec<T>>,
    keep: usize,
}

impl<T> Spares<T> {
    /// An empty pool that keeps up to one buffer per thread of the current rayon pool.
    fn per_thread() -> Self {
        Self {
            spare: Mutex::new(Vec::new()),
            keep: rayon::current_num_threads(),
        }
    }

    fn take(&self) -> Option<T> {
        self.spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn give(&self, buffer: T) {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < self.keep {
            spare.push(buffer);
        }
    }
}

/// The raw output of [`run_grid`]: every combination's metrics and, when the train window is
/// long enough, the per-block return sums CSCV needs.
#[derive(Debug, Clone, PartialEq)]
pub struct GridRun {
    /// One result per combination, in grid order, on disk. With the per-block sums of the train
    /// returns over the days every combination has a return on (the last
    /// `pbo_blocks * block_len` days of `(max t0, train.end]`) when that is at least a day per
    /// block.
    pub rows: GridRows,
    /// Combinations left out because `skip >= lookback`.
    pub dropped: usize,
}

/// Simulates every combination of `spec` on `options.train` (and `options.test`) with every
/// metric, without selecting: the hot part of [`grid_search`].
///
/// Parallel on the current rayon pool (set the thread count with a `ThreadPool::install` or the
/// global pool): one task per `(lookback, skip)` ranks its [`RankTable`], then one simulation
/// per window (joined, so an idle worker can take the test window) runs all its holding
/// periods and top_k. Results are in grid order and identical for any thread count; tasks
/// reuse the memory of earlier tasks' tables and scratch buffers, and the day loop allocates
/// nothing. The rows go to a temporary file as they finish ([`GridRows`]): memory holds one
/// batch of them, whatever the grid's size; no equity curve is kept. `progress(k)` is called
/// after each group of `k` combinations finishes.
///
/// # Errors
/// Invalid parameters or windows, [`EngineError::WindowTooShort`] when a lookback leaves no
/// rebalance in a window, [`EngineError::InvalidParameter`] (`pbo_blocks`) unless even and in
/// `2..=24`; [`EngineError::GridSpill`] when the rows cannot be written.
pub fn run_grid(
    panel: &PricePanel,
    spec: &GridSpec,
    options: &GridOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<GridRun> {
    let (combos, dropped) = spec.combinations(options.cost_bps)?;
    options.train.validate(panel.n_days())?;
    let max_t0 = max_first_rebalance(&combos, (options.train, None))?;
    Ok(GridRun {
        rows: grid_rows(panel, &combos, options, max_t0, progress)?,
        dropped,
    })
}

/// The rows of `combos` (the whole grid in grid order, or a contiguous part of it) on
/// `options`' windows, with the block sums CSCV needs over the days every combination of the
/// whole grid has a return on: `(max_t0, train.end]`, `max_t0` the grid's largest first
/// rebalance on the train window.
pub(crate) fn grid_rows(
    panel: &PricePanel,
    combos: &[StrategyParams],
    options: &GridOptions,
    max_t0: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<GridRows> {
    let starts = block_starts(options.train, options.pbo_blocks, max_t0)?;
    let block_len = cscv_block_len(options.train, options.pbo_blocks, max_t0);
    let mut rows = GridRowsWriter::new();
    simulate_grid(
        panel,
        (combos, options.cost_bps),
        (options.train, options.test),
        &starts,
        progress,
        (CHUNK_ROWS, &mut |results, sums| rows.push(results, sums)),
    )?;
    rows.finish((block_len > 0).then_some((options.pbo_blocks, block_len)))
}

/// The first days of the `blocks` CSCV blocks of `train` when the grid's largest first
/// rebalance is `max_t0`: the last `blocks * block_len` days of `(max_t0, train.end]` (none
/// when that is less than a day per block).
///
/// # Errors
/// [`EngineError::InvalidParameter`] (`pbo_blocks`) unless `blocks` is even and in `2..=24`.
pub(crate) fn block_starts(train: Window, blocks: usize, max_t0: usize) -> Result<Vec<usize>> {
    if blocks < 2 || !blocks.is_multiple_of(2) || blocks > 24 {
        return Err(EngineError::InvalidParameter {
            name: "pbo_blocks",
            value: blocks.to_string(),
            reason: "must be even and in 2..=24",
        });
    }
    let block_len = cscv_block_len(train, blocks, max_t0);
    if block_len == 0 {
        return Ok(Vec::new());
    }
    let first = train.end + 1 - blocks * block_len;
    Ok((0..blocks).map(|j| first + j * block_len).collect())
}

/// The largest first rebalance on `train` of `combos`, each combination's first rebalance on
/// `test` checked too.
///
/// # Errors
/// [`EngineError::WindowTooShort`] for a lookback that leaves no rebalance in a window.
pub(crate) fn max_first_rebalance(
    combos: &[StrategyParams],
    (train, test): (Window, Option<Window>),
) -> Result<usize> {
    let mut max_t0 = 0;
    for p in combos {
        max_t0 = max_t0.max(train.first_rebalance(p.lookback)?);
        if let Some(test) = test {
            test.first_rebalance(p.lookback)?;
        }
    }
    Ok(max_t0)
}

/// Returns per CSCV block of the train window when the grid's largest first rebalance is
/// `max_t0` and PBO cuts `(max_t0, train.end]` into `blocks` (0: too few days for one each).
pub(crate) fn cscv_block_len(train: Window, blocks: usize, max_t0: usize) -> usize {
    (train.end - max_t0) / blocks
}

/// The best of `combos` (grid rows from `first` on) on `train` by `objective`
/// ([`select_best`]), without keeping the rest: a walk-forward fold's selection, or a shard's
/// part of it.
pub(crate) fn best_of_grid(
    panel: &PricePanel,
    (combos, first, objective, cost_bps): (&[StrategyParams], usize, Objective, f64),
    train: Window,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<RunningBest> {
    let mut best = RunningBest::from_index(objective, first);
    simulate_grid(
        panel,
        (combos, cost_bps),
        (train, None),
        &[],
        progress,
        (CHUNK_ROWS, &mut |results, _| {
            best.offer(results);
            Ok(())
        }),
    )?;
    Ok(best)
}

/// The simulation behind [`run_grid`]: every combination of a grid (`combos` in grid order,
/// each at `cost_bps`) on the `train` window and the `test` window if any, with the
/// `[sum r, sum r^2]` of its train returns over the blocks whose first days are `starts`
/// (ascending, after the largest first rebalance of the whole grid; empty for none). The
/// results go to `sink` in grid order, in batches of whole groups of at least `batch`
/// combinations (the last one smaller): a batch's rows and their block sums, row by row
/// (`sums[r * blocks + b]`). Validates the windows and every combination's first rebalance
/// before any simulation.
pub(crate) fn simulate_grid(
    panel: &PricePanel,
    (combos, cost_bps): (&[StrategyParams], f64),
    (train, test): (Window, Option<Window>),
    starts: &[usize],
    progress: &(dyn Fn(usize) + Sync),
    (batch, sink): (usize, GridSink<'_>),
) -> Result<()> {
    let days = panel.n_days();
    train.validate(days)?;
    if let Some(test) = test {
        test.validate(days)?;
    }
    max_first_rebalance(combos, (train, test))?;
    let train_blocks = (!starts.is_empty()).then_some(Blocks { starts });

    let n = panel.n_tickers();
    let prices = Prices::new(panel);
    // The days a simulation reads ranks of: the windows' span (a walk-forward fold's five years,
    // not the whole panel).
    let ranked_days = test.map_or(train, |test| Window {
        start: train.start.min(test.start),
        end: train.end.max(test.end),
    });
    // One task per group: rank its table, simulate the train and test windows side by side
    // (`join`), work out the group's metrics. Each group is a task of its own (`with_max_len`):
    // rayon's default split hands each worker a few long runs of groups that no one else can
    // take, and on the sample grid one worker sat idle for up to 10 ms of 180 at the end. Now a
    // worker out of work takes a pending group or a pending test window. Tables and scratch
    // buffers go back to a pool after each task, for the next task to reuse their memory.
    // `collect` keeps grid order, so the results do not depend on the number of threads or on
    // who ran what. The groups run a batch at a time, each batch handed to `sink` before the
    // next starts: memory holds one batch of results, and a batch of at least `batch`
    // combinations keeps both workers busy but at its very end.
    let (tables, scratches) = (Spares::<RankTable>::per_thread(), Spares::per_thread());
    let simulate_window =
        |table: &RankTable,
         (lookback, holdings, ks): (usize, &[usize], &[usize]),
         (window, blocks): (Window, Option<Blocks<'_>>)| {
            let mut scratch = scratches.take().unwrap_or_else(|| Scratch::new(n));
            let mut runs = Runs::default();
            simulate(
                Isa::detected(),
                prices,
                table,
                (holdings, ks),
                cost_bps,
                (window.start.max(lookback), window.end),
                blocks,
                (&mut runs, &mut NoRecord, &mut scratch),
            );
            scratches.give(scratch);
            runs
        };
    let run_group = |group: &&[StrategyParams]| {
        let p = group[0];
        // One simulation per window runs every holding period and top_k of the group (`sim`
        // shares the work between them): the values of each, ascending. A grid's groups all
        // list the same; a search's batch lists a few per group.
        let ascending = |of: fn(&StrategyParams) -> usize| {
            let mut values: Vec<usize> = group.iter().map(of).collect();
            values.sort_unstable();
            values.dedup();
            values
        };
        let (holdings, ks) = (ascending(|p| p.holding), ascending(|p| p.top_k));
        let width = ks[ks.len() - 1];
        let ranking = (p.lookback, p.skip, width);
        let table = match tables.take() {
            Some(mut table) => {
                table.rebuild(panel, ranking, ranked_days)?;
                table
            }
            None => RankTable::build_within(panel, ranking, ranked_days)?,
        };
        let lists = (p.lookback, &holdings[..], &ks[..]);
        let (train, test) = rayon::join(
            || simulate_window(&table, lists, (train, train_blocks)),
            || {
                let test = test?;
                Some(simulate_window(&table, lists, (test, None)))
            },
        );
        tables.give(table);
        let mut results = Vec::with_capacity(group.len());
        let mut block_sums = Vec::new();
        for p in *group {
            let at = |list: &[usize], x| list.binary_search(&x).unwrap_or_else(|_| unreachable!());
            let (h, k) = (at(&holdings, p.holding), at(&ks, p.top_k));
            let at = train.at(h, k);
            results.push(ComboResult {
                params: *p,
                train: train.finish(at),
                test: test.as_ref().map(|runs| runs.finish(runs.at(h, k))),
            });
            block_sums.extend(train.blocks_of(at));
        }
        progress(group.len());
        Ok((results, block_sums))
    };
    in_group_batches(combos, batch, run_group, &mut |finished| {
        let rows = finished.iter().map(|(group, _)| group.len()).sum();
        let (mut results, mut block_sums) = (Vec::with_capacity(rows), Vec::new());
        for (group_results, group_sums) in finished {
            results.extend(group_results);
            block_sums.extend(group_sums);
        }
        sink(&results, &block_sums)
    })
}

/// Runs `run` on each `(lookback, skip)` group of `combos` (its combinations, consecutive in
/// grid order), a task per group (`with_max_len`: a worker out of work takes a pending group),
/// in batches of whole groups of at least `batch` combinations: each batch's outputs go to
/// `sink` in grid order before the next batch starts, so memory holds one batch. Identical for
/// any thread count.
pub(crate) fn in_group_batches<T: Send>(
    combos: &[StrategyParams],
    batch: usize,
    run: impl Fn(&&[StrategyParams]) -> Result<T> + Sync,
    sink: &mut dyn FnMut(Vec<T>) -> Result<()>,
) -> Result<()> {
    let groups: Vec<&[StrategyParams]> = combos
        .chunk_by(|a, b| (a.lookback, a.skip) == (b.lookback, b.skip))
        .collect();
    let mut rest = &groups[..];
    while !rest.is_empty() {
        let (mut end, mut rows) = (0, 0);
        while end < rest.len() && rows < batch {
            rows += rest[end].len();
            end += 1;
        }
        let finished = rest[..end]
            .par_iter()
            .with_max_len(1)
            .map(&run)
            .collect::<Result<Vec<T>>>()?;
        sink(finished)?;
        rest = &rest[end..];
    }
    Ok(())
}

/// Where [`simulate_grid`] hands its results: a batch of rows in grid order and their block
/// sums, row by row.
pub(crate) type GridSink<'a> = &'a mut dyn FnMut(&[ComboResult], &[[f64; 2]]) -> Result<()>;

/// Runs the grid ([`run_grid`]), selects the best combination by `options.objective` on the
/// train window ([`select_best`]) and computes its selection statistics
/// ([`selection_statistics`]).
///
/// # Errors
/// As [`run_grid`].
///
/// # Examples
///
/// Ten days on which `A` climbs by 1 a day from 10 and `B` stays at 10; one `(lookback, skip)`
/// is left out, two portfolio sizes are tried on the whole panel:
///
/// ```
/// use momentum_engine::{GridOptions, GridSpec, Objective, PricePanel, Window, grid_search};
///
/// let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
/// let dates = (0..10).map(|d| start + chrono::Days::new(d)).collect();
/// let close = ndarray::Array2::from_shape_fn((10, 2), |(t, i)| {
///     if i == 0 { 10.0 + t as f64 } else { 10.0 }
/// });
/// let panel = PricePanel::new(dates, vec!["A".into(), "B".into()], close)?;
/// let grid = GridSpec { lookback: vec![2], skip: vec![0, 2], holding: vec![10], top_k: vec![1, 2] };
/// let options = GridOptions {
///     train: Window::full(panel.n_days()),
///     test: None,
///     objective: Objective::TotalRoi,
///     pbo_blocks: 2,
///     cost_bps: 0.0,
/// };
/// let outcome = grid_search(&panel, &grid, &options, &|_| {})?;
/// // From day 2 to day 9, top_k 1 holds A (12 to 19); top_k 2 holds half A, half B.
/// assert_eq!(outcome.rows.len(), 2);
/// assert!((outcome.rows.get(0)?.train.total_roi - 7.0 / 12.0).abs() < 1e-12);
/// assert!((outcome.rows.get(1)?.train.total_roi - 7.0 / 24.0).abs() < 1e-12);
/// assert_eq!(outcome.best, 0);
/// assert_eq!(outcome.winner.params.top_k, 1);
/// assert!(outcome.winner.test.is_none());
/// assert_eq!((outcome.selection.trials, outcome.selection.dropped), (2, 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn grid_search(
    panel: &PricePanel,
    spec: &GridSpec,
    options: &GridOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<GridOutcome> {
    let run = run_grid(panel, spec, options, progress)?;
    let best = run.rows.select_best(options.objective)?;
    let selection = selection_statistics(panel, &run, best, options)?;
    Ok(GridOutcome {
        winner: run.rows.get(best)?,
        rows: run.rows,
        best,
        selection,
    })
}

/// PSR and DSR of combination `best` (its train-window daily returns, recomputed with
/// [`crate::backtest()`]) against the `N` trials of `run`, and PBO by CSCV from the block sums.
/// The rows are read a chunk at a time (twice for the trials' variance, twice for CSCV when
/// they are more than one chunk).
///
/// # Errors
/// As [`crate::backtest()`] for the winner; [`EngineError::NotRecorded`] when `best` is not a
/// row; [`EngineError::GridSpill`] when the rows cannot be read.
pub fn selection_statistics(
    panel: &PricePanel,
    run: &GridRun,
    best: usize,
    options: &GridOptions,
) -> Result<SelectionStats> {
    let winner = run.rows.get(best)?.params;
    let ranks = RankTable::build(panel, winner.lookback, winner.skip, winner.top_k)?;
    selection_statistics_ranked(panel, run, (&winner, &ranks), options)
}

/// [`selection_statistics`] of the `winner`'s parameters (the caller has read its row) with
/// its rank table.
pub(crate) fn selection_statistics_ranked(
    panel: &PricePanel,
    run: &GridRun,
    (winner, ranks): (&StrategyParams, &RankTable),
    options: &GridOptions,
) -> Result<SelectionStats> {
    let rows = &run.rows;
    let t0 = options.train.first_rebalance(winner.lookback)?;
    let recorded = run_recorded(panel, winner, options.train, t0, ranks);
    let mom = moments(&recorded.returns());
    let sqrt_year = DAYS_PER_YEAR.sqrt();
    // The trials' daily Sharpe ratios, a chunk at a time, in grid order (`variance_ddof0`'s
    // sums in its order, so the same bits as over one slice).
    let sharpe_variance = variance_of_passes::<EngineError>(rows.len(), &mut |value| {
        rows.try_for_each(|_, c, _| value(&(c.train.sharpe / sqrt_year)))
    })?;
    let sr0 = expected_max_sharpe(sharpe_variance, rows.len());
    let pbo = pbo_of_rows(rows)?;
    Ok(SelectionStats {
        objective: options.objective,
        trials: rows.len(),
        sharpe: mom.sharpe,
        n: mom.n,
        skewness: mom.skewness,
        kurtosis: mom.kurtosis,
        psr: probabilistic_sharpe_ratio(mom.sharpe, 0.0, mom.n, mom.skewness, mom.kurtosis),
        sr0,
        sharpe_variance,
        // `deflated_sharpe_ratio` with the variance above.
        dsr: probabilistic_sharpe_ratio(mom.sharpe, sr0, mom.n, mom.skewness, mom.kurtosis),
        pbo,
        dropped: run.dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::backtest;

    /// A deterministic random panel with late listings, delistings and scattered gaps, prices
    /// rounded on some tickers so that scores tie, and a close of exactly 0 with probability
    /// `zeros` (a held position then has weight 0).
    fn panel(days: usize, n: usize, seed: u64, zeros: f64) -> PricePanel {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            #[expect(clippy::cast_precision_loss, reason = "test noise")]
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            u
        };
        let mut close = ndarray::Array2::from_elem((days, n), f64::NAN);
        for i in 0..n {
            let mut x = 10.0 + 40.0 * next();
            let first = if next() < 0.3 { days / 5 } else { 0 };
            let last = if next() < 0.2 { days * 3 / 4 } else { days };
            for t in first..last {
                x *= 1.0 + 0.08 * (next() - 0.5);
                if next() < zeros {
                    close[[t, i]] = 0.0;
                } else if next() > 0.1 {
                    close[[t, i]] = if i % 2 == 0 {
                        (x * 10.0).round() / 10.0
                    } else {
                        x
                    };
                }
            }
        }
        let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).expect("date");
        let dates = (0..days)
            .map(|d| start + chrono::Days::new(d as u64))
            .collect();
        let tickers = (0..n).map(|i| format!("T{i}")).collect();
        PricePanel::new(dates, tickers, close).expect("panel")
    }

    /// The same metrics, bit for bit (NaN included: a portfolio worth 0 has NaN returns).
    fn same_bits(a: &Metrics, b: &Metrics) -> bool {
        let floats = |m: &Metrics| {
            [
                m.total_roi,
                m.cagr,
                m.volatility,
                m.sharpe,
                m.sortino,
                m.max_drawdown,
                m.calmar,
                m.turnover,
            ]
            .map(f64::to_bits)
        };
        floats(a) == floats(b) && a.num_trades == b.num_trades
    }

    #[test]
    fn the_runnable_count_is_the_number_of_combinations_listed() {
        let spec = GridSpec {
            lookback: vec![0, 3, 10],
            skip: vec![0, 2, 5],
            holding: vec![1, 4],
            top_k: vec![1, 2, 3],
        };
        // lookback 0 keeps every skip (the combination is refused as invalid, not dropped);
        // lookback 3 keeps skips 0 and 2; lookback 10 keeps all three: 8 pairs x 2 x 3.
        assert_eq!(spec.runnable(), 48);
        let listed = GridSpec {
            lookback: vec![3, 10],
            ..spec.clone()
        };
        let (combos, dropped) = listed.combinations(10.0).unwrap();
        assert_eq!((listed.runnable(), dropped), (combos.len(), 6));
    }

    #[test]
    fn a_value_listed_twice_is_an_error_naming_list_and_value() {
        let spec = |holding: Vec<usize>, top_k: Vec<usize>| GridSpec {
            lookback: vec![20, 60],
            skip: vec![0],
            holding,
            top_k,
        };
        let err = spec(vec![5, 20, 5], vec![3])
            .combinations(10.0)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid holding = 5: listed twice in the grid"
        );
        let err = spec(vec![5], vec![3, 7, 7]).combinations(10.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid top_k = 7: listed twice in the grid"
        );
        let (combos, dropped) = spec(vec![20, 5], vec![7, 3]).combinations(10.0).unwrap();
        assert_eq!((combos.len(), dropped), (8, 0));
    }

    #[test]
    fn every_grid_combination_equals_its_plain_backtest_exactly() {
        // Unsorted top_k (the families share one rank table and one pass; sizes settle two by
        // two, and an odd number of sizes leaves a padding lane), a top_k above the ticker
        // count, unsorted holdings, skips; panels with closes of 0 (sizes whose weights are not
        // all positive settle apart from their lane partner).
        let cases = [
            (1, vec![4, 1, 2, 9], 0.0),
            (7, vec![4, 1, 2, 6, 9], 0.0),
            (42, vec![5, 3, 7], 0.0),
            (2026, vec![2, 9, 4], 0.0),
            (3, vec![4, 1, 2, 6, 9], 0.02),
            (11, vec![5, 3, 7], 0.02),
        ];
        for (seed, top_k, zeros) in cases {
            let panel = panel(150, 6, seed, zeros);
            let spec = GridSpec {
                lookback: vec![3, 10, 25],
                skip: vec![0, 2],
                holding: vec![9, 1, 4, 200],
                top_k,
            };
            let options = GridOptions {
                train: Window { start: 0, end: 104 },
                test: Some(Window {
                    start: 105,
                    end: 149,
                }),
                objective: Objective::Sharpe,
                pbo_blocks: 4,
                cost_bps: 25.0,
            };
            let run = run_grid(&panel, &spec, &options, &|_| {}).expect("grid");
            let (combos, _) = spec.combinations(options.cost_bps).expect("combinations");
            assert_eq!(run.rows.len(), combos.len());
            // Read back 5 rows at a time: chunks that split the lookback groups.
            let (mut rows, mut sums) = (Vec::new(), Vec::new());
            for chunk in run.rows.clone().with_chunk_rows(5).chunks() {
                let chunk = chunk.expect("rows").into_owned();
                assert_eq!(chunk.first, rows.len());
                rows.extend(chunk.rows);
                sums.extend(chunk.sums);
            }
            for (got, p) in rows.iter().zip(&combos) {
                assert_eq!(got.params, *p);
                let train = backtest(&panel, p, options.train).expect("train");
                let (want, got_train) = (&train.metrics, &got.train);
                assert!(
                    same_bits(got_train, want),
                    "seed {seed} {p:?} train {got_train:?} {want:?}"
                );
                let test = backtest(&panel, p, options.test.expect("test")).expect("test");
                let got_test = got.test.as_ref().expect("a test window");
                assert!(same_bits(got_test, &test.metrics), "seed {seed} {p:?} test");
            }
            // The block sums are those of the plain run's returns, block by block.
            let (blocks, block_len) = run.rows.block_layout().expect("blocks");
            assert_eq!(sums.len(), combos.len() * blocks);
            for (c, p) in combos.iter().enumerate() {
                let rec = backtest(&panel, p, options.train).expect("train");
                let r = rec.returns();
                let first = options.train.end + 1 - blocks * block_len;
                for b in 0..blocks {
                    let (mut s1, mut s2) = (0.0, 0.0);
                    for u in first + b * block_len..first + (b + 1) * block_len {
                        let x = r[u - 1 - rec.t0];
                        s1 += x;
                        s2 += x * x;
                    }
                    let got = sums[c * blocks + b];
                    // Infinite or NaN where the run's value reached 0 (returns of x / 0).
                    let close = |g: f64, w: f64| {
                        g == w || (g - w).abs() <= 1e-12 || (g.is_nan() && w.is_nan())
                    };
                    assert!(
                        close(got[0], s1) && close(got[1], s2),
                        "seed {seed} {p:?} block {b}: {got:?} against {s1}, {s2}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_instruction_set_simulates_the_same_bits() {
        // The simulation is compiled once per instruction set (`sim.rs`); each copy must give
        // the portable one's runs and block sums, bit for bit: closes of 0 (sizes settled one
        // by one), an odd number of sizes (a padding lane), a size above the ticker count,
        // holdings longer than the window.
        let isas: Vec<Isa> = Isa::ALL.into_iter().filter(|isa| isa.available()).collect();
        for (seed, zeros) in [(1, 0.0), (3, 0.02), (2026, 0.0)] {
            let panel = panel(160, 7, seed, zeros);
            let (holdings, ks) = ([1, 2, 3, 5, 8, 13, 21, 200], [1, 2, 4, 7, 9]);
            let table = RankTable::build(&panel, 10, 2, 9).expect("table");
            let starts = block_starts(Window { start: 0, end: 159 }, 6, 10).expect("blocks");
            let runs_on = |isa: Isa| {
                let mut runs = Runs::default();
                simulate(
                    isa,
                    Prices::new(&panel),
                    &table,
                    (&holdings, &ks),
                    30.0,
                    (10, 159),
                    Some(Blocks { starts: &starts }),
                    (
                        &mut runs,
                        &mut NoRecord,
                        &mut Scratch::new(panel.n_tickers()),
                    ),
                );
                let mut bits = Vec::new();
                for p in 0..holdings.len() {
                    for q in 0..ks.len() {
                        let at = runs.at(p, q);
                        let metrics = runs.finish(at);
                        bits.extend(metrics.values().map(f64::to_bits));
                        bits.extend(runs.blocks_of(at).flatten().map(f64::to_bits));
                    }
                }
                bits
            };
            let portable = runs_on(Isa::Portable);
            assert_eq!(portable.len(), holdings.len() * ks.len() * (9 + 2 * 6));
            for &isa in &isas {
                assert!(runs_on(isa) == portable, "seed {seed}: {isa:?} differs");
            }
        }
    }

    #[test]
    fn rows_read_in_small_chunks_and_results_in_small_batches_change_nothing() {
        // Top_k 6 and 9 on 6 tickers hold the same book: ties in every split's ranks.
        let panel = panel(150, 6, 5, 0.0);
        let spec = GridSpec {
            lookback: vec![3, 10, 25],
            skip: vec![0, 2],
            holding: vec![9, 1, 4],
            top_k: vec![2, 6, 9],
        };
        let options = GridOptions {
            train: Window { start: 0, end: 119 },
            test: Some(Window {
                start: 120,
                end: 149,
            }),
            objective: Objective::Sharpe,
            pbo_blocks: 6,
            cost_bps: 10.0,
        };
        let run = run_grid(&panel, &spec, &options, &|_| {}).expect("grid");
        let best = run.rows.select_best(options.objective).expect("rows");
        let whole = selection_statistics(&panel, &run, best, &options).expect("statistics");
        assert!(whole.pbo.is_some());
        // Chunks of 3 rows: odd chunks (the last row of each paired with itself in CSCV's
        // lanes), the trials' variance and CSCV's ranks summed over 18 chunks.
        let chunked = GridRun {
            rows: run.rows.clone().with_chunk_rows(3),
            dropped: run.dropped,
        };
        assert_eq!(
            chunked.rows.select_best(options.objective).expect("rows"),
            best
        );
        let stats = selection_statistics(&panel, &chunked, best, &options).expect("statistics");
        assert_eq!(stats, whole);
        let bits = |p: &Option<Pbo>| {
            p.as_ref()
                .map(|p| p.logits.iter().map(|l| l.to_bits()).collect::<Vec<_>>())
        };
        assert_eq!(bits(&stats.pbo), bits(&whole.pbo));
        assert_eq!(
            stats.sharpe_variance.to_bits(),
            whole.sharpe_variance.to_bits()
        );

        // One group per batch hands over the same rows as one batch of all.
        let (combos, _) = spec.combinations(options.cost_bps).expect("combinations");
        let simulate = |batch| {
            let (mut rows, mut sums, mut batches) = (Vec::new(), Vec::new(), 0);
            let starts = [40, 60, 80, 100];
            simulate_grid(
                &panel,
                (&combos, options.cost_bps),
                (options.train, options.test),
                &starts,
                &|_| {},
                (batch, &mut |r, b| {
                    rows.extend_from_slice(r);
                    sums.extend_from_slice(b);
                    batches += 1;
                    Ok(())
                }),
            )
            .expect("grid");
            (rows, sums, batches)
        };
        let (one, many) = (simulate(usize::MAX), simulate(1));
        assert_eq!((one.2, many.2), (1, 6));
        assert_eq!((&one.0, &one.1), (&many.0, &many.1));
        assert_eq!(one.0.len(), combos.len());
    }
}
