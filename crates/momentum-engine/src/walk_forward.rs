//! Walk-forward analysis: the grid re-run on a moving train window and its winner traded on
//! the days after it, fold by fold, as a strategy that is re-selected on a schedule would have
//! been.
//!
//! Fold `k` of an evaluation window `[s, e]` with `N` train days and `M` test days:
//! - its test window is `[a_k, min(a_k + M, e)]` with `a_k = s + N + k * M`: `M` daily returns,
//!   the first rebalance on `a_k` itself (the scores read the prices before it);
//! - its train window is the `N` days before `a_k` (`[a_k - N, a_k - 1]`), or with `anchored`
//!   every day from `s` (`[s, a_k - 1]`): the grid search selects there, exactly as
//!   [`crate::grid_search`] does on a train window (PBO and DSR are not computed per fold);
//! - folds continue while a test window holds at least one return.
//!
//! Each fold's test metrics are those of [`crate::backtest()`] of the selected parameters on
//! its test window: what `momentum backtest --no-grid --start --end` prints for those days.
//!
//! The stitched curve chains the folds: fold `k + 1` starts on the last day of fold `k`, the
//! day the parameters switch, so no day's return is lost. The switch is a liquidation and a
//! purchase from cash at that close: fold `k + 1` pays its first trade's turnover of 1.0 at
//! `cost_bps` (the liquidation itself, as the spec's final one, is not charged). A continuous
//! run would pay `|w_target - w_pre|` instead, between 0 (the same holdings) and 2 (all new
//! ones). On the switch day the curve holds the post-trade value, as on any rebalance day. The
//! stitched metrics are the spec's metrics of that curve, with the folds' trades and
//! turnover summed.

use chrono::NaiveDate;
use momentum_features::PricePanel;
use serde::{Deserialize, Serialize};

use crate::backtest::{backtest, baseline};
use crate::error::{EngineError, Result};
use crate::experiment::{CurvePoint, WindowName};
use crate::grid::{GridSpec, RunningBest, best_of_grid};
use crate::metrics::{DAYS_PER_YEAR, Metrics, curve_metrics};
use crate::params::{Objective, StrategyParams, Window};

/// The `backtest.walk_forward` block of `params.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkForwardSpec {
    /// Trading days a fold's grid search sees (with `anchored`, the first fold's).
    pub train_days: usize,
    /// Trading days (daily returns) each fold trades its selection for.
    pub test_days: usize,
    /// Train on every day from the window's start instead of the last `train_days`.
    #[serde(default)]
    pub anchored: bool,
}

/// One fold: where it selected, what it selected, and how that did out of sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fold {
    /// First day of the train window.
    pub train_start: NaiveDate,
    /// Last day of the train window.
    pub train_end: NaiveDate,
    /// First day of the test window (its first rebalance).
    pub test_start: NaiveDate,
    /// Last day of the test window.
    pub test_end: NaiveDate,
    /// The parameters the grid selected on the train window.
    pub params: StrategyParams,
    /// Their objective on the train window.
    pub train_objective: f64,
    /// Their metrics on the test window.
    pub test: Metrics,
}

/// A walk-forward analysis: every fold and the stitched out-of-sample result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalkForward {
    /// The folds' schedule.
    pub spec: WalkForwardSpec,
    /// Every fold, in time order.
    pub folds: Vec<Fold>,
    /// The metrics of the stitched out-of-sample curve.
    pub stitched: Metrics,
    /// Equal-weight buy and hold over the same days (from the first fold's test start).
    pub baseline: Metrics,
    /// The stitched curve beside buy and hold, a point for every day from the first fold's
    /// test start to the last fold's test end (all out of sample: window `test`); not in
    /// `metrics.json`.
    #[serde(skip)]
    pub curve: Vec<CurvePoint>,
}

impl WalkForwardSpec {
    /// The `(train, test)` windows of every fold of `evaluated`.
    ///
    /// # Errors
    /// [`EngineError::InvalidParameter`] (`walk_forward.train_days`, `walk_forward.test_days`)
    /// for a train window shorter than `max_lookback + 2` days (no rebalance and return could
    /// follow the lookback), no test day, or a window too short for one fold.
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_engine::{WalkForwardSpec, Window};
    ///
    /// let spec = WalkForwardSpec { train_days: 4, test_days: 3, anchored: false };
    /// let folds = spec.folds(Window { start: 0, end: 11 }, 2)?;
    /// let starts: Vec<_> = folds.iter().map(|(train, test)| (train.start, test.start, test.end)).collect();
    /// // Tests from day 4 for 3 returns each; the last one is cut at the window's end.
    /// assert_eq!(starts, [(0, 4, 7), (3, 7, 10), (6, 10, 11)]);
    /// let anchored = WalkForwardSpec { anchored: true, ..spec };
    /// assert_eq!(anchored.folds(Window { start: 0, end: 11 }, 2)?[2].0, Window { start: 0, end: 9 });
    /// // Counts beyond any panel: no test day, or one fold of the rest.
    /// let huge = WalkForwardSpec { train_days: usize::MAX, ..spec };
    /// assert!(huge.folds(Window { start: 0, end: 11 }, 2).is_err());
    /// let rest = WalkForwardSpec { test_days: usize::MAX, ..spec };
    /// assert_eq!(rest.folds(Window { start: 0, end: 11 }, 2)?[0].1, Window { start: 4, end: 11 });
    /// # Ok::<(), momentum_engine::EngineError>(())
    /// ```
    pub fn folds(&self, evaluated: Window, max_lookback: usize) -> Result<Vec<(Window, Window)>> {
        let invalid = |name, value: usize, reason| EngineError::InvalidParameter {
            name,
            value: value.to_string(),
            reason,
        };
        // A first fold at the panel's start rebalances first on day `lookback`, which must
        // come before its last train day.
        if self.train_days < max_lookback + 2 {
            return Err(invalid(
                "walk_forward.train_days",
                self.train_days,
                "must be at least the grid's largest lookback + 2 days",
            ));
        }
        if self.test_days == 0 {
            return Err(invalid(
                "walk_forward.test_days",
                self.test_days,
                "must be at least 1",
            ));
        }
        let mut folds = Vec::new();
        // Saturating: a count of days near `usize::MAX` (a typo, a flag) then leaves no test day
        // (train) or makes one fold of the rest (test) instead of wrapping around.
        let mut test_start = evaluated.start.saturating_add(self.train_days);
        while test_start < evaluated.end {
            let train_start = if self.anchored {
                evaluated.start
            } else {
                test_start - self.train_days
            };
            folds.push((
                Window {
                    start: train_start,
                    end: test_start - 1,
                },
                Window {
                    start: test_start,
                    end: test_start.saturating_add(self.test_days).min(evaluated.end),
                },
            ));
            test_start = test_start.saturating_add(self.test_days);
        }
        if folds.is_empty() {
            return Err(invalid(
                "walk_forward.train_days",
                self.train_days,
                "leaves no test day in the evaluation window",
            ));
        }
        Ok(folds)
    }
}

/// Runs the walk-forward analysis of `grid` over `evaluated` (see the module docs);
/// `progress(k)` as the grid's. Uses the current rayon pool; identical for any thread count.
///
/// # Errors
/// As [`WalkForwardSpec::folds`] and [`crate::run_grid`].
pub fn walk_forward(
    panel: &PricePanel,
    (grid, objective, cost_bps): (&GridSpec, Objective, f64),
    spec: WalkForwardSpec,
    evaluated: Window,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<WalkForward> {
    let schedule = spec.folds(evaluated, grid.max_lookback())?;
    let (combos, _) = grid.combinations(cost_bps)?;
    let bests = fold_bests(
        panel,
        (&combos, 0, objective, cost_bps),
        &schedule,
        progress,
    )?;
    assemble(panel, spec, &schedule, &bests)
}

/// Each fold's selection among `combos` (grid rows from `first` on: the whole grid, or a
/// shard's part of it) on its train window, in fold order. Only the best is kept: no rows, no
/// block sums (per-fold PBO is not reported).
pub(crate) fn fold_bests(
    panel: &PricePanel,
    grid: (&[StrategyParams], usize, Objective, f64),
    schedule: &[(Window, Window)],
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<RunningBest>> {
    schedule
        .iter()
        .map(|&(train, _)| best_of_grid(panel, grid, train, progress))
        .collect()
}

/// The walk-forward analysis of `schedule` from each fold's selection over the whole grid
/// (`bests`, in fold order): each traded on its test window and chained.
pub(crate) fn assemble(
    panel: &PricePanel,
    spec: WalkForwardSpec,
    schedule: &[(Window, Window)],
    bests: &[RunningBest],
) -> Result<WalkForward> {
    let dates = panel.dates();
    let mut folds = Vec::new();
    let mut curve: Vec<(NaiveDate, f64)> = Vec::new();
    let (mut trades, mut turnover_sum) = (0, 0.0);
    let (stitched_start, stitched_end) = (schedule[0].1.start, schedule[schedule.len() - 1].1.end);
    for (&(train, test), fold_best) in schedule.iter().zip(bests) {
        let (_, best) = fold_best.selected().ok_or(EngineError::EmptyGrid {
            reason: "no combination to run".into(),
        })?;
        let traded = backtest(panel, &best.params, test)?;
        // Chained onto the value the previous fold ended with; the switch day's value is the
        // post-trade one of the new fold.
        let scale = curve.pop().map_or(1.0, |(_, v)| v);
        curve.extend(
            traded
                .equity
                .iter()
                .enumerate()
                .map(|(j, v)| (dates[traded.day(j)], scale * v)),
        );
        let returns = traded.equity.len() - 1;
        trades += traded.metrics.num_trades;
        #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
        let fold_turnover = traded.metrics.turnover * returns as f64 / DAYS_PER_YEAR;
        turnover_sum += fold_turnover;
        folds.push(Fold {
            train_start: dates[train.start],
            train_end: dates[train.end],
            test_start: dates[test.start],
            test_end: dates[test.end],
            params: best.params,
            train_objective: fold_best.objective().value(&best.train),
            test: traded.metrics,
        });
    }
    let values: Vec<f64> = curve.iter().map(|(_, v)| *v).collect();
    let stitched_days = Window {
        start: stitched_start,
        end: stitched_end,
    };
    // Buy and hold's first trade is on the stitched curve's first day: any lookback of the
    // grid is before it.
    let held = baseline(panel, &folds[0].params, stitched_days)?;
    let curve = curve
        .into_iter()
        .zip(&held.equity)
        .map(|((date, strategy), &baseline)| CurvePoint {
            date,
            strategy,
            baseline,
            window: WindowName::Test,
        })
        .collect();
    Ok(WalkForward {
        spec,
        folds,
        stitched: curve_metrics(&values, turnover_sum, trades),
        baseline: held.metrics,
        curve,
    })
}
