//! Combinatorial purged cross-validation (CPCV) of the grid search: the grid's selection
//! repeated on every way of holding out `K` of `N` groups of days, its out-of-sample pieces
//! assembled into `phi = K / N * C(N, K)` complete backtest paths (Lopez de Prado 2018, ch. 12).
//!
//! Over an evaluation window `[s, e]`:
//! - every combination runs once over the window, as the grid does; the days every
//!   combination has a return on, `(max t0, e]`, are cut into `N` equal contiguous groups of
//!   `g` days (the earliest `(e - max t0) mod N` days are left out, as CSCV leaves them out);
//! - each of the `C(N, K)` splits (in lexicographic order of its test groups) tests `K` groups;
//!   its train days are the other groups' days except, after each test group, the first
//!   `P + E` days: the *purge* `P`, the grid's largest holding period (those days may hold a
//!   position bought on a test day), then the *embargo* `E` (`embargo_days`). Days before a
//!   test group are kept: a day's return reads no later price;
//! - each split selects the combination with the best value of the grid's objective on its
//!   train days (ties to the earlier combination), as the grid selects its winner: for the
//!   Sharpe ratio from the per-block sums of `r` and `r^2` of the grid's simulation (as CSCV's),
//!   for the other objectives from each combination's recorded run cut into the same blocks
//!   ([`CpcvBlock`]: the train days chained in day order);
//! - path `j` takes, for every group, the selected combination of the `j`-th split (in split
//!   order) that tests that group; its out-of-sample Sharpe ratio is that of the `N * g` returns
//!   so assembled.
//!
//! The simulation keeps, per combination, the sums of each group's first `P + E` days and of the
//! rest: `2N` blocks of exact sums, so every split's train and test sums are exact (no day is
//! rounded to a block) in `32 N` bytes a combination (`112 N` with an objective other than the
//! Sharpe ratio, [`CpcvBlock`]). `docs/strategy.md` ("Combinatorial purged
//! cross-validation") justifies the purge and works an example by hand.
//!
//! # References
//! Lopez de Prado, M. (2018), *Advances in Financial Machine Learning*, Wiley: section 7.4
//! (purging and embargo) and chapter 12 (CPCV, the number of paths and their assembly).

use std::io::Write;

use chrono::NaiveDate;
use momentum_features::PricePanel;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::backtest::run_recorded;
use crate::error::{EngineError, Result};
use crate::grid::{GridSpec, in_group_batches, max_first_rebalance, simulate_grid};
use crate::metrics::{DAYS_PER_YEAR, cagr, calmar, sortino_of_sums};
use crate::params::{Objective, StrategyParams, Window};
use crate::rows::CHUNK_ROWS;
use crate::select::RankTable;
use crate::stats::sharpe_of_sums;

/// The most splits `C(N, K)` accepted: those of PBO's default CSCV, `C(16, 8)`. Each split
/// sums (or, for an objective other than the Sharpe ratio, chains) every combination's train
/// blocks, so the count bounds the work after the simulation.
pub const MAX_CPCV_SPLITS: usize = 12_870;

/// The `backtest.cpcv` block of `params.yaml`: `N` groups, `K` of them tested per split, and
/// the embargo after each test group.
///
/// ```
/// use momentum_engine::CpcvSpec;
///
/// let spec: CpcvSpec = serde_json::from_str(r#"{"embargo_days": 5}"#)?;
/// assert_eq!(spec, CpcvSpec { groups: 10, test_groups: 2, embargo_days: 5 });
/// // 45 splits assemble 9 paths.
/// assert_eq!((spec.splits(), spec.paths()), (45, 9));
/// assert!(serde_json::from_str::<CpcvSpec>(r#"{"group": 6}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CpcvSpec {
    /// Groups `N >= 2` the days are cut into (default 10).
    pub groups: usize,
    /// Groups `1 <= K < N` tested in each split (default 2).
    pub test_groups: usize,
    /// Train days `E` dropped after each test group's purge (default 0).
    pub embargo_days: usize,
}

impl Default for CpcvSpec {
    /// `N = 10`, `K = 2`, no embargo: 45 splits, 9 paths.
    fn default() -> Self {
        Self {
            groups: 10,
            test_groups: 2,
            embargo_days: 0,
        }
    }
}

impl CpcvSpec {
    /// The number of splits `C(N, K)`, saturating.
    pub fn splits(&self) -> usize {
        binomial(self.groups, self.test_groups)
    }

    /// The number of paths `phi = K / N * C(N, K) = C(N - 1, K - 1)`: how many splits test each
    /// group. Saturating; 0 for `N` or `K` of 0.
    pub fn paths(&self) -> usize {
        match (self.groups.checked_sub(1), self.test_groups.checked_sub(1)) {
            (Some(n), Some(k)) => binomial(n, k),
            _ => 0,
        }
    }

    /// Checks what does not depend on the window: `N >= 2`, `1 <= K < N`, at most
    /// [`MAX_CPCV_SPLITS`] splits.
    ///
    /// # Errors
    /// [`EngineError::InvalidParameter`] naming `cpcv.groups` or `cpcv.test_groups`.
    pub fn validate(&self) -> Result<()> {
        let (n, k) = (self.groups, self.test_groups);
        let invalid = |name, value: usize, reason| {
            Err(EngineError::InvalidParameter {
                name,
                value: value.to_string(),
                reason,
            })
        };
        if n < 2 {
            return invalid("cpcv.groups", n, "must be at least 2");
        }
        if k == 0 {
            return invalid("cpcv.test_groups", k, "must be at least 1");
        }
        if k >= n {
            return invalid("cpcv.test_groups", k, "must be fewer than cpcv.groups");
        }
        if self.splits() > MAX_CPCV_SPLITS {
            return invalid(
                "cpcv.test_groups",
                k,
                "gives more than 12870 splits C(groups, test_groups)",
            );
        }
        Ok(())
    }

    /// The groups of the days `(max_t0, end]` with the purge `purge` (the grid's largest
    /// holding period).
    fn layout(&self, (max_t0, end): (usize, usize), purge: usize) -> Result<Layout> {
        let group_days = (end - max_t0) / self.groups;
        if self.embargo_days > group_days {
            return Err(EngineError::InvalidParameter {
                name: "cpcv.embargo_days",
                value: self.embargo_days.to_string(),
                reason: "is longer than a group of the evaluation window",
            });
        }
        let cut = purge + self.embargo_days;
        // Two days past the purge and embargo keep a Sharpe ratio in every train group.
        if group_days < cut + 2 {
            return Err(EngineError::InvalidParameter {
                name: "cpcv.groups",
                value: self.groups.to_string(),
                reason: "leaves groups too short for the evaluation window: each needs the \
                         grid's largest holding + embargo_days + 2 days",
            });
        }
        Ok(Layout {
            first: end + 1 - self.groups * group_days,
            group_days,
            cut,
            groups: self.groups,
        })
    }
}

/// `C(n, k)`, saturating at `usize::MAX`.
fn binomial(n: usize, k: usize) -> usize {
    if k > n {
        return 0;
    }
    // C(n, i) grows with i up to n / 2, and each step divides exactly.
    let mut c: u128 = 1;
    for i in 0..k.min(n - k) {
        c = c * (n - i) as u128 / (i as u128 + 1);
        if c > usize::MAX as u128 {
            return usize::MAX;
        }
    }
    usize::try_from(c).unwrap_or(usize::MAX)
}

/// Where the groups lie: group `j` is the `group_days` days from `first + j * group_days`,
/// cut into its first `cut` days (block `2j`, purged and embargoed after a test group) and the
/// rest (block `2j + 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    first: usize,
    group_days: usize,
    cut: usize,
    groups: usize,
}

impl Layout {
    /// The first day of every block.
    fn starts(&self) -> Vec<usize> {
        (0..self.groups)
            .flat_map(|j| {
                let start = self.first + j * self.group_days;
                [start, start + self.cut]
            })
            .collect()
    }

    /// The days of block `b`.
    fn block_days(&self, b: usize) -> usize {
        if b.is_multiple_of(2) {
            self.cut
        } else {
            self.group_days - self.cut
        }
    }
}

/// One split: its test groups, what it selected on its train days, and how that did on them
/// and on its test groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpcvSplit {
    /// The groups tested (ascending, 0 for the earliest).
    pub test_groups: Vec<usize>,
    /// The path each test group's returns go to, in the order of `test_groups`.
    pub paths: Vec<usize>,
    /// Index of the selected combination in grid order (a row of `grid.csv`).
    pub combination: usize,
    /// Its parameters.
    pub params: StrategyParams,
    /// Train days of the split (after the purge and embargo).
    pub train_days: usize,
    /// Annualised Sharpe ratio of the selection on the train days.
    pub train_sharpe: f64,
    /// Annualised Sharpe ratio of the selection on the test groups' days together.
    pub test_sharpe: f64,
    /// The objective the split selected by ([`Cpcv::objective`]) on the train days, as the
    /// metric has it (annualised for `sharpe` and `sortino`): `train_sharpe` for `sharpe`.
    pub train_objective: f64,
}

/// Mean, spread and quantiles of the paths' Sharpe ratios.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PathSummary {
    /// Arithmetic mean.
    pub mean: f64,
    /// Standard deviation with ddof = 1 (0 for fewer than 2 paths).
    pub std: f64,
    /// 5 % quantile.
    pub q05: f64,
    /// 25 % quantile.
    pub q25: f64,
    /// Median.
    pub q50: f64,
    /// 75 % quantile.
    pub q75: f64,
    /// 95 % quantile.
    pub q95: f64,
    /// Share of the values below 0.
    pub below_zero: f64,
}

impl PathSummary {
    /// The summary of `values` (at least one, none NaN). Quantiles interpolate linearly
    /// between order statistics (Hyndman and Fan's type 7, the default of R, NumPy and
    /// pandas): with the values sorted `x_0 <= ... <= x_(n-1)` and `h = (n - 1) p`,
    /// `Q(p) = x_floor(h) + (h - floor(h)) (x_(floor(h) + 1) - x_floor(h))`.
    ///
    /// ```
    /// use momentum_engine::PathSummary;
    ///
    /// let s = PathSummary::of(&[0.4, -0.2, 1.0, 0.0, 0.6]);
    /// // Sorted -0.2, 0, 0.4, 0.6, 1.0; h = 4p.
    /// assert!((s.mean - 0.36).abs() < 1e-15);
    /// assert_eq!((s.q25, s.q50, s.q75), (0.0, 0.4, 0.6));
    /// // h = 0.2: -0.2 + 0.2 * (0 - -0.2); h = 3.8: 0.6 + 0.8 * (1.0 - 0.6).
    /// assert!((s.q05 - -0.16).abs() < 1e-15 && (s.q95 - 0.92).abs() < 1e-15);
    /// assert_eq!(s.below_zero, 0.2);
    /// ```
    #[expect(clippy::cast_precision_loss, reason = "path counts are far below 2^52")]
    pub fn of(values: &[f64]) -> Self {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        let mean = sorted.iter().sum::<f64>() / n;
        let std = if sorted.len() < 2 {
            0.0
        } else {
            (sorted.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)).sqrt()
        };
        let quantile = |p: f64| {
            let h = (n - 1.0) * p;
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "0 <= h <= n - 1"
            )]
            let i = h.floor() as usize;
            let next = sorted[(i + 1).min(sorted.len() - 1)];
            sorted[i] + (h - h.floor()) * (next - sorted[i])
        };
        Self {
            mean,
            std,
            q05: quantile(0.05),
            q25: quantile(0.25),
            q50: quantile(0.5),
            q75: quantile(0.75),
            q95: quantile(0.95),
            below_zero: sorted.iter().filter(|&&x| x < 0.0).count() as f64 / n,
        }
    }
}

/// A combinatorial purged cross-validation of the grid: its schedule, the paths' Sharpe
/// ratios and their summary, and every split (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cpcv {
    /// `N`, `K` and the embargo.
    pub spec: CpcvSpec,
    /// The grid search's objective: every split selects by it on its train days, as the grid
    /// selects its winner.
    pub objective: Objective,
    /// Combinations the splits choose from.
    pub trials: usize,
    /// First day of the first group.
    pub first_day: NaiveDate,
    /// Last day of the last group (the evaluation window's last day).
    pub last_day: NaiveDate,
    /// Days (daily returns) per group `g`.
    pub group_days: usize,
    /// Train days purged after each test group before the embargo: the grid's largest
    /// holding period.
    pub purge_days: usize,
    /// Annualised out-of-sample Sharpe ratio of each path, path by path.
    pub path_sharpes: Vec<f64>,
    /// Their summary.
    pub paths: PathSummary,
    /// Every split in order; not in `metrics.json` (see [`Cpcv::write_csv`]).
    #[serde(skip)]
    pub splits: Vec<CpcvSplit>,
}

impl Cpcv {
    /// Writes `cpcv.csv`: one row per split in split order, its test groups and their paths
    /// (space-separated), the selected combination's grid index and parameters, its train days,
    /// its train and test Sharpe ratios (annualised) and its train objective.
    ///
    /// # Errors
    /// [`EngineError::NotRecorded`] for a result read from JSON (no splits);
    /// [`EngineError::Io`].
    pub fn write_csv(&self, out: impl Write) -> Result<()> {
        if self.splits.is_empty() {
            return Err(EngineError::NotRecorded);
        }
        let mut out = std::io::BufWriter::new(out);
        out.write_all(
            b"split,test_groups,paths,combination,lookback,skip,holding,top_k,cost_bps,\
              train_days,train_sharpe,test_sharpe,train_objective\n",
        )?;
        let spaced = |list: &[usize]| {
            list.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        for (i, split) in self.splits.iter().enumerate() {
            let p = split.params;
            writeln!(
                out,
                "{i},{},{},{},{},{},{},{},{},{},{},{},{}",
                spaced(&split.test_groups),
                spaced(&split.paths),
                split.combination,
                p.lookback,
                p.skip,
                p.holding,
                p.top_k,
                p.cost_bps,
                split.train_days,
                split.train_sharpe,
                split.test_sharpe,
                split.train_objective,
            )?;
        }
        out.flush()?;
        Ok(())
    }
}

/// Runs the combinatorial purged cross-validation of `grid` over `evaluated` (see the module
/// docs); `progress(k)` as the grid's. One simulation of every combination over the window
/// (as [`crate::run_grid`]'s train window, with `2N` blocks; for an objective other than the
/// Sharpe ratio, one recorded run of each, about twelve times the work), then the splits in
/// parallel. Uses the current rayon pool; identical for any thread count.
///
/// # Errors
/// [`CpcvSpec::validate`]; as [`crate::run_grid`] for the grid and the window;
/// [`EngineError::InvalidParameter`] naming `cpcv.embargo_days` for an embargo longer than a
/// group and `cpcv.groups` for groups shorter than the largest holding period + the embargo +
/// 2 days.
///
/// # Examples
///
/// Two tickers that take turns to rise for 10 days each; lookbacks 1 and 10 tried over 102
/// days in 4 groups of 25:
///
/// ```
/// use momentum_engine::{CpcvSpec, GridSpec, Objective, PricePanel, Window, cpcv};
///
/// let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
/// let dates = (0..112).map(|d| start + chrono::Days::new(d)).collect();
/// let mut close = ndarray::Array2::zeros((112, 2));
/// let mut price = [10.0, 10.0];
/// for t in 0..112 {
///     for (i, p) in price.iter_mut().enumerate() {
///         *p *= if i == (t / 10) % 2 { 1.01 } else { 0.999 };
///         close[[t, i]] = *p;
///     }
/// }
/// let panel = PricePanel::new(dates, vec!["A".into(), "B".into()], close)?;
/// let grid = GridSpec { lookback: vec![1, 10], skip: vec![0], holding: vec![1], top_k: vec![1] };
/// let spec = CpcvSpec { groups: 4, test_groups: 2, embargo_days: 1 };
/// let result = cpcv(&panel, (&grid, Objective::Sharpe, 0.0), spec, Window::full(112), &|_| {})?;
/// // max t0 = 10: days 11..=111 hold 101 returns; 4 groups of 25 from day 12.
/// assert_eq!((result.group_days, result.purge_days, result.trials), (25, 1, 2));
/// assert_eq!(result.first_day, start + chrono::Days::new(12));
/// assert_eq!((result.splits.len(), result.path_sharpes.len()), (6, 3));
/// // Yesterday's winner keeps rising 9 days in 10: lookback 1 wins every split.
/// assert!(result.splits.iter().all(|s| s.params.lookback == 1 && s.test_sharpe > 0.0));
/// assert_eq!(result.paths.below_zero, 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn cpcv(
    panel: &PricePanel,
    (grid, objective, cost_bps): (&GridSpec, Objective, f64),
    spec: CpcvSpec,
    evaluated: Window,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Cpcv> {
    let (combos, _) = grid.combinations(cost_bps)?;
    let layout = plan(&combos, spec, evaluated)?;
    let selections = select(
        panel,
        (&combos, 0, objective, cost_bps),
        (spec, evaluated, layout),
        progress,
    )?;
    finish(
        panel,
        (&combos, objective),
        (spec, evaluated, layout),
        selections,
    )
}

/// The layout of a CPCV of the grid `combos` over `evaluated`: its groups start after the
/// largest first rebalance of the grid, and each test group purges the grid's largest holding.
///
/// # Errors
/// [`CpcvSpec::validate`]; [`EngineError::WindowTooShort`] for a lookback that leaves no
/// rebalance; as [`CpcvSpec::layout`].
pub(crate) fn plan(combos: &[StrategyParams], spec: CpcvSpec, evaluated: Window) -> Result<Layout> {
    spec.validate()?;
    let purge = combos.iter().map(|p| p.holding).max().unwrap_or(0);
    let max_t0 = max_first_rebalance(combos, (evaluated, None))?;
    spec.layout((max_t0, evaluated.end), purge)
}

/// Each split's selection by `objective` among `combos` (grid rows from `first` on: the whole
/// grid, or a shard's part of it), run once over `evaluated` in the blocks of `layout`: by the
/// grid's simulation for the Sharpe ratio (its block sums of `r` and `r^2`), by every
/// combination's recorded run for another objective ([`recorded_blocks`]).
pub(crate) fn select(
    panel: &PricePanel,
    (combos, first, objective, cost_bps): (&[StrategyParams], usize, Objective, f64),
    (spec, evaluated, layout): (CpcvSpec, Window, Layout),
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Selections> {
    let mut selections = Selections::from_index(&layout, spec.test_groups, first, objective);
    if objective == Objective::Sharpe {
        simulate_grid(
            panel,
            (combos, cost_bps),
            (evaluated, None),
            &layout.starts(),
            progress,
            (CHUNK_ROWS, &mut |_, sums| {
                selections.offer(sums);
                Ok(())
            }),
        )?;
    } else {
        recorded_blocks(
            panel,
            combos,
            (evaluated, &layout),
            progress,
            &mut |blocks| {
                selections.offer(blocks);
            },
        )?;
    }
    Ok(selections)
}

/// Every combination of `combos` (grid order) run on its own over `evaluated` exactly as
/// [`crate::backtest()`] runs it, its curve cut into the blocks of `layout`
/// ([`CpcvBlock::of_curve`]): what an objective other than the Sharpe ratio needs (the grid's
/// simulation keeps only the sums of `r` and `r^2` of a block). One rank table per `(lookback,
/// skip)`, as the grid's; the blocks go to `sink` in grid order, one `(lookback, skip)` group at
/// a time (`2N` blocks a combination), the groups run in parallel batches of at least
/// [`CHUNK_ROWS`] combinations. Uses the current rayon pool; identical for any thread count.
fn recorded_blocks(
    panel: &PricePanel,
    combos: &[StrategyParams],
    (evaluated, layout): (Window, &Layout),
    progress: &(dyn Fn(usize) + Sync),
    sink: &mut dyn FnMut(&[CpcvBlock]),
) -> Result<()> {
    evaluated.validate(panel.n_days())?;
    max_first_rebalance(combos, (evaluated, None))?;
    let starts = layout.starts();
    let run_group = |group: &&[StrategyParams]| -> Result<Vec<CpcvBlock>> {
        let first = group[0];
        let width = group.iter().map(|p| p.top_k).max().unwrap_or(1);
        let ranking = (first.lookback, first.skip, width);
        let table = RankTable::build_within(panel, ranking, evaluated)?;
        let mut blocks = Vec::with_capacity(group.len() * starts.len());
        for p in *group {
            let t0 = evaluated.first_rebalance(p.lookback)?;
            // `equity[u - t0]` is the value of day `u`; the groups start after every `t0`.
            let equity = run_recorded(panel, p, evaluated, t0, &table).equity;
            for (b, &start) in starts.iter().enumerate() {
                let end = starts.get(b + 1).copied().unwrap_or(evaluated.end + 1);
                let days = &equity[start - t0..end - t0];
                blocks.push(CpcvBlock::of_curve(equity[start - 1 - t0], days));
            }
        }
        progress(group.len());
        Ok(blocks)
    };
    in_group_batches(combos, CHUNK_ROWS, run_group, &mut |batch| {
        for blocks in &batch {
            sink(blocks);
        }
        Ok(())
    })
}

/// What CPCV keeps of one combination's days in a block, or in blocks chained in day order
/// ([`CpcvBlock::then`]), with values relative to the value before the first day: exact for
/// every objective over any chain of blocks, as over the days themselves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CpcvBlock {
    /// `[sum r, sum r^2, sum min(r, 0)^2]`.
    pub(crate) sums: [f64; 3],
    /// `prod (1 + r)`: the value after the last day.
    pub(crate) growth: f64,
    /// The highest value (the 1 before the first day included).
    pub(crate) high: f64,
    /// The lowest value (the 1 before the first day included).
    pub(crate) low: f64,
    /// The largest `1 - V_u / max_(s <= u) V_s` (the 1 before the first day included).
    pub(crate) drawdown: f64,
}

impl CpcvBlock {
    /// No day: what a chain starts from.
    pub(crate) const EMPTY: Self = Self {
        sums: [0.0; 3],
        growth: 1.0,
        high: 1.0,
        low: 1.0,
        drawdown: 0.0,
    };

    /// The sums of `r` and `r^2` alone (the grid simulation's, all a Sharpe ratio reads); the
    /// rest NaN.
    fn from_sums([s1, s2]: [f64; 2]) -> Self {
        Self {
            sums: [s1, s2, f64::NAN],
            growth: f64::NAN,
            high: f64::NAN,
            low: f64::NAN,
            drawdown: f64::NAN,
        }
    }

    /// The days of a curve: `values` one a day, `before` the value the day before the first
    /// (returns `V_u / V_(u-1) - 1`, as [`crate::BacktestResult::returns`] has them).
    pub(crate) fn of_curve(before: f64, values: &[f64]) -> Self {
        let mut block = Self::EMPTY;
        let (mut previous, mut peak) = (before, before);
        for &v in values {
            let r = v / previous - 1.0;
            let down = r.min(0.0);
            block.sums = [
                block.sums[0] + r,
                block.sums[1] + r * r,
                block.sums[2] + down * down,
            ];
            peak = peak.max(v);
            block.high = block.high.max(v / before);
            block.low = block.low.min(v / before);
            block.drawdown = block.drawdown.max(1.0 - v / peak);
            previous = v;
        }
        block.growth = previous / before;
        block
    }

    /// The days of `self`, then those of `next` (its values scaled by `self`'s last).
    pub(crate) fn then(self, next: Self) -> Self {
        let [a, b] = [self.sums, next.sums];
        Self {
            sums: [a[0] + b[0], a[1] + b[1], a[2] + b[2]],
            growth: self.growth * next.growth,
            high: self.high.max(self.growth * next.high),
            low: self.low.min(self.growth * next.low),
            // A fall within `self`, within `next`, or from `self`'s peak to `next`'s trough.
            drawdown: self
                .drawdown
                .max(next.drawdown)
                .max(1.0 - self.growth * next.low / self.high),
        }
    }

    /// `[sum r, sum r^2]`: the Sharpe ratio's.
    fn sharpe_sums(&self) -> [f64; 2] {
        [self.sums[0], self.sums[1]]
    }

    /// What a split maximises for `objective` over these `days` returns: the metric as
    /// [`crate::Metrics`] computes it (the same functions), except the Sharpe ratio, per period
    /// as the splits have always compared it ([`train_objective`] annualises it).
    fn key(&self, objective: Objective, days: usize) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
        let n = days as f64;
        match objective {
            Objective::Sharpe => sharpe_of_sums(self.sharpe_sums(), days),
            Objective::Sortino => sortino_of_sums(self.sums[0], self.sums[2], n),
            Objective::TotalRoi => self.growth - 1.0,
            Objective::Calmar => calmar(cagr(self.growth, n), self.drawdown),
        }
    }

    /// The words [`Selections::encode`] keeps of a block for `objective`: the sums of `r` and
    /// `r^2` for the Sharpe ratio (all the grid simulation gives), everything otherwise.
    fn words(objective: Objective) -> usize {
        if objective == Objective::Sharpe { 2 } else { 7 }
    }

    /// Its first [`Self::words`] words.
    fn to_words(self) -> [f64; 7] {
        let [s1, s2, s3] = self.sums;
        [s1, s2, s3, self.growth, self.high, self.low, self.drawdown]
    }

    /// The block of `words` ([`Self::to_words`], as many as [`Self::words`] says).
    fn from_words(words: &[f64]) -> Self {
        match *words {
            [s1, s2, s3, growth, high, low, drawdown] => Self {
                sums: [s1, s2, s3],
                growth,
                high,
                low,
                drawdown,
            },
            _ => Self::from_sums([words[0], words[1]]),
        }
    }
}

/// A split's key ([`CpcvBlock::key`]) as the metric reports it: the Sharpe ratio annualised.
fn train_objective(objective: Objective, key: f64) -> f64 {
    if objective == Objective::Sharpe {
        key * DAYS_PER_YEAR.sqrt()
    } else {
        key
    }
}

/// A block as the selections take it: the grid simulation's `[sum r, sum r^2]` (the Sharpe
/// ratio's) or a recorded run's [`CpcvBlock`].
pub(crate) trait CpcvRow: Copy + Sync {
    /// `[sum r, sum r^2]`.
    fn sums(self) -> [f64; 2];
    /// Everything it has.
    fn block(self) -> CpcvBlock;
}

impl CpcvRow for [f64; 2] {
    fn sums(self) -> [f64; 2] {
        self
    }

    fn block(self) -> CpcvBlock {
        CpcvBlock::from_sums(self)
    }
}

impl CpcvRow for CpcvBlock {
    fn sums(self) -> [f64; 2] {
        self.sharpe_sums()
    }

    fn block(self) -> CpcvBlock {
        self
    }
}

/// The CPCV from every split's selection over the whole grid `combos`.
pub(crate) fn finish(
    panel: &PricePanel,
    (combos, objective): (&[StrategyParams], Objective),
    (spec, evaluated, layout): (CpcvSpec, Window, Layout),
    selections: Selections,
) -> Result<Cpcv> {
    let (splits, path_sharpes) = selections.finish(&layout, combos);
    let dates = panel.dates();
    Ok(Cpcv {
        spec,
        objective,
        trials: combos.len(),
        first_day: dates[layout.first],
        last_day: dates[evaluated.end],
        group_days: layout.group_days,
        // The layout's cut is the purge and the embargo.
        purge_days: layout.cut - spec.embargo_days,
        paths: PathSummary::of(&path_sharpes),
        path_sharpes,
        splits,
    })
}

/// The `C(N, K)` splits of `layout` (`K = test_groups`) and the annualised Sharpe ratio of each
/// path, from the block sums of every combination of `combos` (`sums[c * 2N + b]`). Sums run
/// in block order.
#[cfg(test)]
fn evaluate(
    sums: &[[f64; 2]],
    layout: &Layout,
    test_groups: usize,
    combos: &[StrategyParams],
) -> (Vec<CpcvSplit>, Vec<f64>) {
    let mut selections = Selections::new(layout, test_groups);
    selections.offer(sums);
    selections.finish(layout, combos)
}

/// [`evaluate`] by `objective`, from [`CpcvBlock`]s.
#[cfg(test)]
fn evaluate_by(
    objective: Objective,
    blocks: &[CpcvBlock],
    layout: &Layout,
    test_groups: usize,
    combos: &[StrategyParams],
) -> (Vec<CpcvSplit>, Vec<f64>) {
    let mut selections = Selections::from_index(layout, test_groups, 0, objective);
    selections.offer(blocks);
    selections.finish(layout, combos)
}

/// What each split selects, as the grid's rows arrive in grid order: per split, its train
/// blocks and days and the best combination so far (by the objective on the train days, the
/// first on ties) with that combination's `2N` blocks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selections {
    /// What the splits maximise.
    objective: Objective,
    tests: Vec<Vec<usize>>,
    /// Per split: its train blocks (a train group keeps its head unless a test group comes just
    /// before it) and their days.
    trains: Vec<(Vec<usize>, usize)>,
    /// Per split: the index, train key ([`CpcvBlock::key`]) and blocks of its best.
    best: Vec<(usize, f64, Vec<CpcvBlock>)>,
    /// Blocks per combination, `2N`.
    blocks: usize,
    seen: usize,
}

impl Selections {
    #[cfg(test)]
    fn new(layout: &Layout, test_groups: usize) -> Self {
        Self::from_index(layout, test_groups, 0, Objective::Sharpe)
    }

    /// The selections by `objective` of rows from grid row `first` on (a shard's).
    pub(crate) fn from_index(
        layout: &Layout,
        test_groups: usize,
        first: usize,
        objective: Objective,
    ) -> Self {
        let n = layout.groups;
        let tests = test_sets(n, test_groups);
        let trains = tests
            .iter()
            .map(|test| {
                let tested = |j: usize| test.contains(&j);
                let train: Vec<usize> = (0..n)
                    .filter(|&j| !tested(j))
                    .flat_map(|j| {
                        let head = (j == 0 || !tested(j - 1)).then_some(2 * j);
                        head.into_iter().chain([2 * j + 1])
                    })
                    .collect();
                let days = train.iter().map(|&b| layout.block_days(b)).sum();
                (train, days)
            })
            .collect();
        let best = vec![(0, f64::NEG_INFINITY, Vec::new()); tests.len()];
        Self {
            objective,
            tests,
            trains,
            best,
            blocks: 2 * n,
            seen: first,
        }
    }

    /// Whether it ran over exactly the rows `rows` (a shard's): every split's best within them
    /// with its block sums, or (after the first shard only) none yet.
    pub(crate) fn covers(&self, rows: std::ops::Range<usize>) -> bool {
        self.seen == rows.end
            && self.best.iter().all(|(index, _, sums)| {
                if sums.is_empty() {
                    rows.start > 0
                } else {
                    rows.contains(index) && sums.len() == self.blocks
                }
            })
    }

    /// Takes `later`'s selections after these: `later` ran over the rows that follow.
    pub(crate) fn merge(&mut self, later: Self) {
        for (best, next) in self.best.iter_mut().zip(later.best) {
            if next.1 > best.1 {
                *best = next;
            }
        }
        self.seen = later.seen;
    }

    /// Bytes of [`Selections::encode`]'s output.
    pub(crate) fn encoded_bytes(&self) -> usize {
        8 + self.best.len() * (24 + 8 * CpcvBlock::words(self.objective) * self.blocks)
    }

    /// Its state as bytes: the next grid row, then per split the index and key of its best,
    /// whether it has that one's blocks (none before any row) and the blocks (NaN when it has
    /// none), [`CpcvBlock::words`] words each.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.seen as u64).to_le_bytes());
        for (index, sharpe, sums) in &self.best {
            out.extend_from_slice(&(*index as u64).to_le_bytes());
            out.extend_from_slice(&sharpe.to_le_bytes());
            out.extend_from_slice(&u64::from(!sums.is_empty()).to_le_bytes());
            let words = CpcvBlock::words(self.objective);
            for b in 0..self.blocks {
                let block = sums
                    .get(b)
                    .copied()
                    .unwrap_or(CpcvBlock::from_sums([f64::NAN; 2]));
                for v in &block.to_words()[..words] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }

    /// Reads [`Selections::encode`]'s bytes into selections of the same layout; `None` when
    /// their length is another.
    pub(crate) fn decode(mut self, bytes: &[u8]) -> Option<Self> {
        if bytes.len() != self.encoded_bytes() {
            return None;
        }
        let mut words = bytes.chunks_exact(8).map(|w| {
            let mut le = [0; 8];
            le.copy_from_slice(w);
            u64::from_le_bytes(le)
        });
        let mut next = || words.next().unwrap_or(0);
        self.seen = usize::try_from(next()).ok()?;
        for best in &mut self.best {
            let index = usize::try_from(next()).ok()?;
            let sharpe = f64::from_bits(next());
            let present = next() == 1;
            let words = CpcvBlock::words(self.objective);
            let mut sums: Vec<CpcvBlock> = (0..self.blocks)
                .map(|_| {
                    let block: Vec<f64> = (0..words).map(|_| f64::from_bits(next())).collect();
                    CpcvBlock::from_words(&block)
                })
                .collect();
            if !present {
                sums.clear();
            }
            *best = (index, sharpe, sums);
        }
        Some(self)
    }

    /// Takes the blocks of the next combinations (`2N` each, combination by combination): the
    /// grid simulation's sums for the Sharpe ratio, [`CpcvBlock`]s for any objective.
    pub(crate) fn offer<B: CpcvRow>(&mut self, sums: &[B]) {
        let (blocks, seen, objective) = (self.blocks, self.seen, self.objective);
        let rows = sums.len() / blocks;
        let whole = |row: &[B]| row.iter().map(|b| b.block()).collect::<Vec<_>>();
        self.best
            .par_iter_mut()
            .zip(&self.trains)
            .for_each(|(best, (train, train_days))| {
                if seen == 0 && rows > 0 {
                    // With no better one, combination 0 is the selection.
                    best.2 = whole(&sums[..blocks]);
                }
                for c in 0..rows {
                    let row = &sums[c * blocks..(c + 1) * blocks];
                    // The train blocks in day order (a chain: the drawdown reads the order).
                    let key = match objective {
                        Objective::Sharpe => {
                            let total = train
                                .iter()
                                .fold([0.0; 2], |acc, &b| add(acc, row[b].sums()));
                            sharpe_of_sums(total, *train_days)
                        }
                        other => train
                            .iter()
                            .fold(CpcvBlock::EMPTY, |acc, &b| acc.then(row[b].block()))
                            .key(other, *train_days),
                    };
                    // NaN is never the best (as in the grid's selection).
                    if key > best.1 {
                        *best = (seen + c, key, whole(row));
                    }
                }
            });
        self.seen += rows;
    }

    /// The splits and the paths' annualised Sharpe ratios.
    pub(crate) fn finish(
        self,
        layout: &Layout,
        combos: &[StrategyParams],
    ) -> (Vec<CpcvSplit>, Vec<f64>) {
        let n = layout.groups;
        let annual = DAYS_PER_YEAR.sqrt();
        let objective = self.objective;
        // A group: its head, then its tail.
        let group = |row: &[CpcvBlock], j: usize| row[2 * j].then(row[2 * j + 1]);
        let mut splits: Vec<CpcvSplit> = self
            .tests
            .iter()
            .zip(&self.trains)
            .zip(&self.best)
            .map(|((test, (train, train_days)), (c, key, row))| {
                let tested = test
                    .iter()
                    .fold(CpcvBlock::EMPTY, |acc, &j| acc.then(group(row, j)));
                let test_days = test.len() * layout.group_days;
                // The key itself for the Sharpe ratio: the same sums in the same order.
                let train_sharpe = match objective {
                    Objective::Sharpe => *key,
                    _ => {
                        let total = train
                            .iter()
                            .fold([0.0; 2], |acc, &b| add(acc, row[b].sums()));
                        sharpe_of_sums(total, *train_days)
                    }
                };
                CpcvSplit {
                    test_groups: test.clone(),
                    paths: Vec::with_capacity(test.len()),
                    combination: *c,
                    params: combos[*c],
                    train_days: *train_days,
                    train_sharpe: train_sharpe * annual,
                    test_sharpe: sharpe_of_sums(tested.sharpe_sums(), test_days) * annual,
                    train_objective: train_objective(objective, *key),
                }
            })
            .collect();
        // Path `p` takes group `j` from the `p`-th split that tests `j`.
        let mut seen = vec![0; n];
        let mut sources: Vec<Vec<usize>> = Vec::new();
        for (i, split) in splits.iter_mut().enumerate() {
            for &j in &split.test_groups {
                let p = seen[j];
                seen[j] += 1;
                if sources.len() <= p {
                    sources.push(vec![0; n]);
                }
                sources[p][j] = i;
                split.paths.push(p);
            }
        }
        let path_days = n * layout.group_days;
        let path_sharpes = sources
            .iter()
            .map(|source| {
                let total = (0..n).fold([0.0; 2], |acc, j| {
                    add(acc, group(&self.best[source[j]].2, j).sharpe_sums())
                });
                sharpe_of_sums(total, path_days) * annual
            })
            .collect();
        (splits, path_sharpes)
    }
}

fn add(a: [f64; 2], b: [f64; 2]) -> [f64; 2] {
    [a[0] + b[0], a[1] + b[1]]
}

/// Every set of `k` of the groups `0..n`, in lexicographic order.
fn test_sets(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut sets = Vec::new();
    let mut set: Vec<usize> = (0..k).collect();
    loop {
        sets.push(set.clone());
        // The last position that can still move right, then everything after it packed
        // behind it.
        let Some(i) = (0..k).rev().find(|&i| set[i] < n - k + i) else {
            return sets;
        };
        set[i] += 1;
        for m in i + 1..k {
            set[m] = set[m - 1] + 1;
        }
    }
}

/// The spec's metrics day by day, as the integration tests compute them.
#[cfg(test)]
#[path = "../tests/it/objective.rs"]
mod objective;

#[cfg(test)]
mod tests {
    use super::*;

    /// Combination `c` of a test grid: lookback `c + 1`.
    fn labelled(c: usize) -> StrategyParams {
        StrategyParams {
            lookback: c + 1,
            skip: 0,
            holding: 1,
            top_k: 1,
            cost_bps: 0.0,
        }
    }

    #[test]
    fn test_sets_are_every_choice_in_lexicographic_order() {
        let sets = test_sets(4, 2);
        assert_eq!(
            sets,
            [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]].map(Vec::from)
        );
        for (n, k) in [(10, 2), (6, 3), (5, 1), (7, 6), (16, 8)] {
            let spec = CpcvSpec {
                groups: n,
                test_groups: k,
                embargo_days: 0,
            };
            let sets = test_sets(n, k);
            assert_eq!(sets.len(), spec.splits(), "{n} {k}");
            assert!(sets.windows(2).all(|w| w[0] < w[1]));
            // Each group is tested phi times.
            for j in 0..n {
                let tested = sets.iter().filter(|s| s.contains(&j)).count();
                assert_eq!(tested, spec.paths(), "{n} {k} group {j}");
            }
        }
        assert_eq!(binomial(16, 8), MAX_CPCV_SPLITS);
        assert_eq!(binomial(200, 100), usize::MAX);
    }

    #[test]
    fn paths_are_assembled_as_in_the_book() {
        // Lopez de Prado (2018), figure 12.1 (N = 6, K = 2, splits S1..S15, 5 paths): "path 2
        // is the result of combining forecasts from (G1, S2), (G2, S6), (G3, S6), (G4, S7),
        // (G5, S8) and (G6, S9)". Zero-based here: path 1 from splits 1, 5, 5, 6, 7, 8.
        let layout = Layout {
            first: 0,
            group_days: 3,
            cut: 1,
            groups: 6,
        };
        let (splits, paths) = evaluate(&[[0.0, 0.0]; 12], &layout, 2, &[labelled(0)]);
        assert_eq!((splits.len(), paths.len()), (15, 5));
        let mut path_1 = vec![usize::MAX; 6];
        for (i, split) in splits.iter().enumerate() {
            for (&j, &p) in split.test_groups.iter().zip(&split.paths) {
                if p == 1 {
                    path_1[j] = i;
                }
            }
        }
        assert_eq!(path_1, [1, 5, 5, 6, 7, 8]);
    }

    /// Three combinations' daily returns over 4 groups of 4 days: `A` has a large gain on the
    /// first two days of group 2, `B` is best on the days after them, `C` is steadier.
    const RETURNS: [[f64; 16]; 3] = [
        [
            0.02, 0.0, 0.02, 0.0, 0.02, 0.0, 0.02, 0.0, 0.06, 0.04, -0.01, 0.01, -0.01, 0.01,
            -0.01, 0.01,
        ],
        [
            -0.01, 0.01, -0.01, 0.01, 0.0, 0.02, -0.02, 0.02, -0.02, 0.0, 0.03, 0.01, 0.02, 0.0,
            0.02, 0.0,
        ],
        [
            0.005, 0.005, 0.005, 0.005, 0.01, -0.01, 0.01, -0.01, 0.01, 0.01, 0.0, 0.0, 0.01,
            -0.01, 0.015, -0.005,
        ],
    ];

    /// The block sums of [`RETURNS`] with the first `cut` days of each group in a block.
    fn hand_case(cut: usize) -> (Vec<[f64; 2]>, Layout) {
        let layout = Layout {
            first: 0,
            group_days: 4,
            cut,
            groups: 4,
        };
        let mut starts = layout.starts();
        starts.push(16);
        let sums = RETURNS
            .iter()
            .flat_map(|r| {
                starts.windows(2).map(|w| {
                    let days = &r[w[0]..w[1]];
                    [days.iter().sum(), days.iter().map(|x| x * x).sum()]
                })
            })
            .collect();
        (sums, layout)
    }

    #[test]
    fn a_hand_worked_case_with_its_purge_and_embargo() {
        // docs/strategy.md works this case out. Numbers from a straightforward python3
        // implementation that lists each split's train days and takes mean / stdev * sqrt(252)
        // of them (`statistics`), independent of the blocks.
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * b.abs().max(1.0);
        // Purge 1 and embargo 1: two days dropped after each test group.
        let (sums, layout) = hand_case(2);
        let (splits, paths) = evaluate(&sums, &layout, 2, &[0, 1, 2].map(labelled));
        let want = [
            // (test, paths, selected, train days, train Sharpe, test Sharpe)
            ([0, 1], [0, 0], 1, 6, 17.477257950106065, 2.6670026670040006),
            ([0, 2], [1, 0], 0, 4, 6.148170459575759, 12.002499739637575),
            ([0, 3], [2, 0], 0, 6, 12.175191748701419, 6.640783086353597),
            ([1, 2], [1, 1], 2, 6, 12.549900398011134, 4.47721504346782),
            ([1, 3], [2, 1], 2, 6, 20.4939015319192, 1.8141236937208558),
            ([2, 3], [2, 2], 0, 8, 14.849242404917499, 7.783117824941562),
        ];
        for (got, (test, path, best, days, train, test_sharpe)) in splits.iter().zip(want) {
            assert_eq!(got.test_groups, test);
            assert_eq!(got.paths, path);
            assert_eq!((got.combination, got.train_days), (best, days), "{test:?}");
            assert!(close(got.train_sharpe, train), "{test:?} {got:?}");
            assert!(close(got.test_sharpe, test_sharpe), "{test:?} {got:?}");
        }
        for (got, want) in
            paths
                .iter()
                .zip([5.719400183720183, 6.845977571310222, 7.079098555864042])
        {
            assert!(close(*got, want), "{got} {want}");
        }

        // Without the embargo (one day dropped), split {1, 2} trains on day 13 as well and
        // selects A, which changes path 1.
        let (sums, layout) = hand_case(1);
        let (splits, paths) = evaluate(&sums, &layout, 2, &[0, 1, 2].map(labelled));
        assert_eq!((splits[3].combination, splits[3].train_days), (0, 7));
        assert!(close(splits[3].train_sharpe, 10.190493307301361));
        assert!(close(paths[1], 10.13068933617021), "{paths:?}");
        // Without the purge as well, split {0, 1} trains on A's gains of days 8 and 9 and
        // selects A instead of B.
        let (sums, layout) = hand_case(0);
        let (splits, paths) = evaluate(&sums, &layout, 2, &[0, 1, 2].map(labelled));
        assert_eq!((splits[0].combination, splits[0].train_days), (0, 8));
        assert!(close(splits[0].train_sharpe, 7.783117824941562));
        assert!(close(paths[0], 7.29448143869456), "{paths:?}");
    }

    use super::objective::metric as metric_of;

    /// [`RETURNS`] as [`CpcvBlock`]s, the first `cut` days of each group in a block.
    fn hand_blocks(cut: usize) -> (Vec<CpcvBlock>, Layout) {
        let (_, layout) = hand_case(cut);
        let mut starts = layout.starts();
        starts.push(16);
        let blocks = RETURNS
            .iter()
            .flat_map(|r| {
                // The curve of the returns from 1.0 before day 0.
                let curve: Vec<f64> = r
                    .iter()
                    .scan(1.0, |v, x| {
                        *v *= 1.0 + x;
                        Some(*v)
                    })
                    .collect();
                let before = |u: usize| if u == 0 { 1.0 } else { curve[u - 1] };
                starts
                    .windows(2)
                    .map(|w| CpcvBlock::of_curve(before(w[0]), &curve[w[0]..w[1]]))
                    .collect::<Vec<_>>()
            })
            .collect();
        (blocks, layout)
    }

    #[test]
    fn chained_blocks_are_the_block_of_their_days() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12 * b.abs().max(1.0);
        let r = RETURNS.concat();
        let curve: Vec<f64> = r
            .iter()
            .scan(1.0, |v, x| {
                *v *= 1.0 + x;
                Some(*v)
            })
            .collect();
        let whole = CpcvBlock::of_curve(1.0, &curve);
        for cuts in [vec![0, 48], vec![0, 7, 48], vec![0, 1, 2, 30, 31, 47, 48]] {
            let chained = cuts.windows(2).fold(CpcvBlock::EMPTY, |acc, w| {
                let before = if w[0] == 0 { 1.0 } else { curve[w[0] - 1] };
                acc.then(CpcvBlock::of_curve(before, &curve[w[0]..w[1]]))
            });
            for (a, b) in chained.sums.iter().zip(whole.sums) {
                assert!(close(*a, b), "{cuts:?}");
            }
            for (a, b) in [
                (chained.growth, whole.growth),
                (chained.high, whole.high),
                (chained.low, whole.low),
                (chained.drawdown, whole.drawdown),
            ] {
                assert!(close(a, b), "{cuts:?}: {chained:?} {whole:?}");
            }
        }
        // Every objective as the metric computes it on the days.
        for objective in [
            Objective::Sharpe,
            Objective::Sortino,
            Objective::TotalRoi,
            Objective::Calmar,
        ] {
            let got = train_objective(objective, whole.key(objective, r.len()));
            assert!(close(got, metric_of(objective, &r)), "{objective}");
        }
    }

    #[test]
    fn each_split_selects_by_the_objective_on_its_train_days() {
        // The hand case with purge 1 and embargo 1: each split's train days chained in day
        // order, every combination's objective on them from the returns day by day.
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * b.abs().max(1.0);
        let (blocks, layout) = hand_blocks(2);
        let combos = [0, 1, 2].map(labelled);
        let mut differs = 0;
        for objective in [Objective::Sortino, Objective::TotalRoi, Objective::Calmar] {
            let (splits, _) = evaluate_by(objective, &blocks, &layout, 2, &combos);
            let (by_sharpe, _) = evaluate_by(Objective::Sharpe, &blocks, &layout, 2, &combos);
            for (split, sharpe) in splits.iter().zip(&by_sharpe) {
                let train_days: Vec<usize> = (0..4)
                    .filter(|j| !split.test_groups.contains(j))
                    .flat_map(|j| {
                        // Two days dropped after a test group.
                        let after_test = j > 0 && split.test_groups.contains(&(j - 1));
                        (4 * j + if after_test { 2 } else { 0 })..4 * (j + 1)
                    })
                    .collect();
                let values: Vec<f64> = RETURNS
                    .iter()
                    .map(|r| {
                        let days: Vec<f64> = train_days.iter().map(|&u| r[u]).collect();
                        metric_of(objective, &days)
                    })
                    .collect();
                let best = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let ctx = format!("{objective} {:?}: {values:?}", split.test_groups);
                assert!(close(values[split.combination], best), "{ctx}");
                assert!(close(split.train_objective, best), "{ctx}");
                assert_eq!(split.train_days, train_days.len(), "{ctx}");
                differs += usize::from(split.combination != sharpe.combination);
            }
        }
        // The objectives pick otherwise than the Sharpe ratio somewhere: the case tells them
        // apart.
        assert!(differs > 0);
        // By the Sharpe ratio, CpcvBlocks select as the sums do (the hand-worked numbers).
        let (sums, _) = hand_case(2);
        let (blocks, layout) = hand_blocks(2);
        let (a, _) = evaluate(&sums, &layout, 2, &combos);
        let (b, _) = evaluate_by(Objective::Sharpe, &blocks, &layout, 2, &combos);
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(a.combination, b.combination);
            assert!(close(a.train_sharpe, b.train_sharpe) && close(a.test_sharpe, b.test_sharpe));
            assert_eq!(a.train_objective, a.train_sharpe);
        }
    }

    #[test]
    fn selections_survive_their_encoding() {
        let (blocks, layout) = hand_blocks(2);
        let (sums, _) = hand_case(2);
        let round_trip = |selections: &Selections, objective, first| {
            let mut bytes = Vec::new();
            selections.encode(&mut bytes);
            assert_eq!(bytes.len(), selections.encoded_bytes(), "{objective}");
            let decoded = Selections::from_index(&layout, 2, first, objective)
                .decode(&bytes)
                .unwrap();
            // (The Sharpe ratio's blocks hold NaN, unequal to itself: compared as bytes.)
            let mut again = Vec::new();
            decoded.encode(&mut again);
            assert_eq!(again, bytes, "{objective}");
            assert_eq!(decoded.seen, selections.seen, "{objective}");
            bytes.len()
        };
        for first in [0, 5] {
            // Before any row (no best yet), then after every row: seven words a block, or the
            // Sharpe ratio's two.
            let mut calmar = Selections::from_index(&layout, 2, first, Objective::Calmar);
            let mut sharpe = Selections::from_index(&layout, 2, first, Objective::Sharpe);
            round_trip(&calmar, Objective::Calmar, first);
            round_trip(&sharpe, Objective::Sharpe, first);
            calmar.offer(&blocks);
            sharpe.offer(&sums);
            let long = round_trip(&calmar, Objective::Calmar, first);
            let short = round_trip(&sharpe, Objective::Sharpe, first);
            // 6 splits of 8 blocks: 8 + 6 * (24 + 8 * words * 8) bytes.
            assert_eq!((long, short), (8 + 6 * (24 + 448), 8 + 6 * (24 + 128)));
        }
    }

    #[test]
    fn rows_offered_one_at_a_time_select_as_all_at_once() {
        for cut in [0, 1, 2] {
            let (sums, layout) = hand_case(cut);
            let combos = [0, 1, 2].map(labelled);
            let mut selections = Selections::new(&layout, 2);
            for row in sums.chunks(2 * layout.groups) {
                selections.offer(row);
            }
            assert_eq!(
                selections.finish(&layout, &combos),
                evaluate(&sums, &layout, 2, &combos)
            );
        }
    }
}
