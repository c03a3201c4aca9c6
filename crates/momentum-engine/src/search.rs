//! Search beyond the grid: a seeded, batched TPE search ([`crate::tpe`]) over ranges of the
//! four parameters (the `backtest.search` block of `params.yaml`), evaluated by the grid's own
//! machinery and judged like a grid.
//!
//! Each batch of `batch` proposals is drawn one after the other from the history, the pending
//! proposals of the batch counted at the worst value seen so far (the *constant liar* of
//! Ginsbourger, Le Riche and Carraro 2010, as Optuna's `constant_liar`), so they spread out
//! instead of piling onto one point. The batch is then simulated in parallel, grouped by
//! `(lookback, skip)` so that trials sharing a lookback and skip share one rank table, and its
//! rows are written in trial order. Proposals depend on the seed and the history alone, and
//! the history on the batch's rows, which do not depend on the thread count: a seed gives the
//! same trials, bit for bit, on any number of threads.
//!
//! No combination is tried twice: a proposal is drawn among the valid combinations
//! (`skip < lookback`) not tried yet. So the trials are distinct, and the selection statistics
//! count exactly what was tried: the DSR deflates by the number of trials, PBO's CSCV ranks
//! every trial, with the block layout the widest lookback of the ranges fixes before the first
//! trial. Each walk-forward fold runs a search of its own on its train window (seeded from the
//! seed and the fold), so no fold selects with knowledge of its test days.

use std::collections::HashSet;
use std::fmt;
use std::time::Instant;

use momentum_features::PricePanel;
use serde::{Deserialize, Serialize};

use crate::compare::SplitMix64;
use crate::error::{EngineError, Result};
use crate::experiment::{Experiment, ExperimentSpec, Plan};
use crate::grid::{ComboResult, RunningBest, simulate_grid};
use crate::params::{Objective, StrategyParams, Window};
use crate::rows::GridRowsWriter;
use crate::tpe::{DIMS, Observation, Point, Tpe};

/// How a backtest chooses the combinations it tries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMethod {
    /// Every combination of `backtest.grid`'s lists.
    #[default]
    Grid,
    /// A seeded TPE search of `trials` combinations within `backtest.search`'s ranges.
    Tpe,
}

impl SearchMethod {
    /// `grid` or `tpe`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grid => "grid",
            Self::Tpe => "tpe",
        }
    }
}

impl fmt::Display for SearchMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for SearchMethod {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "grid" => Ok(Self::Grid),
            "tpe" => Ok(Self::Tpe),
            other => Err(format!("unknown search method {other:?} (grid or tpe)")),
        }
    }
}

/// The values `min, min + step, ..., max` of one parameter (`step` must divide `max - min`).
///
/// Written `MIN:MAX` or `MIN:MAX:STEP` on the command line:
///
/// ```
/// use momentum_engine::ParamRange;
///
/// let range: ParamRange = "5:250:5".parse()?;
/// assert_eq!((range.min, range.max, range.step), (5, 250, 5));
/// assert_eq!(range.values(), 50);
/// assert_eq!("2:500".parse::<ParamRange>()?.step, 1);
/// assert!("5:1".parse::<ParamRange>().is_ok()); // parsed; refused by the search, naming its key
/// assert!("5".parse::<ParamRange>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamRange {
    /// The smallest value.
    pub min: usize,
    /// The largest value.
    pub max: usize,
    /// The distance between neighbouring values (default 1).
    #[serde(default = "one")]
    pub step: usize,
}

fn one() -> usize {
    1
}

impl ParamRange {
    /// A range from `min` to `max` by `step`.
    pub const fn new(min: usize, max: usize, step: usize) -> Self {
        Self { min, max, step }
    }

    /// How many values it holds (0 when it is empty or its step is 0).
    pub fn values(&self) -> usize {
        if self.step == 0 || self.min > self.max {
            0
        } else {
            (self.max - self.min) / self.step + 1
        }
    }

    /// Its `i`-th value.
    fn value(&self, i: u32) -> usize {
        self.min + i as usize * self.step
    }
}

impl fmt::Display for ParamRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.min, self.max, self.step)
    }
}

impl std::str::FromStr for ParamRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let numbers: Vec<&str> = text.split(':').collect();
        let parse = |s: &str| {
            s.trim().parse::<usize>().map_err(|_| {
                format!("{text:?} is not MIN:MAX or MIN:MAX:STEP ({s:?} is not a count)")
            })
        };
        match numbers[..] {
            [min, max] => Ok(Self::new(parse(min)?, parse(max)?, 1)),
            [min, max, step] => Ok(Self::new(parse(min)?, parse(max)?, parse(step)?)),
            _ => Err(format!("{text:?} is not MIN:MAX or MIN:MAX:STEP")),
        }
    }
}

/// What the search tries: the `backtest.search` block of `params.yaml`, key for key.
///
/// ```
/// use momentum_engine::{SearchMethod, SearchSpec};
///
/// let spec: SearchSpec = serde_json::from_str(
///     r#"{"method": "tpe", "trials": 1000, "lookback": {"min": 5, "max": 250, "step": 5}}"#,
/// )?;
/// assert_eq!(spec.method, SearchMethod::Tpe);
/// assert_eq!(spec.lookback.values(), 50);
/// assert_eq!(spec.skip.values(), 61); // the default 0 to 60
/// assert!(serde_json::from_str::<SearchSpec>(r#"{"trails": 10}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSpec {
    /// `grid` (the default: `backtest.grid`'s lists) or `tpe`.
    pub method: SearchMethod,
    /// Distinct combinations a TPE search tries.
    pub trials: usize,
    /// The seed of the proposals: a seed gives the same trials on any thread count.
    pub seed: u64,
    /// Proposals simulated together (in parallel) before the next are drawn. A larger batch
    /// is faster and explores more; the trials depend on it (not on the thread count).
    pub batch: usize,
    /// Trials drawn uniformly at random before the estimator takes over.
    pub startup_trials: usize,
    /// Lookbacks `L`.
    pub lookback: ParamRange,
    /// Skips `S` (combinations with `skip >= lookback` are never tried).
    pub skip: ParamRange,
    /// Holding periods `H`.
    pub holding: ParamRange,
    /// Portfolio sizes `K`.
    pub top_k: ParamRange,
}

impl Default for SearchSpec {
    /// The grid; for a TPE search, 450 trials in batches of 16 (10 at random first) with seed
    /// 0 over lookback 2 to 500, skip 0 to 60, holding 1 to 120 and top_k 1 to 20.
    fn default() -> Self {
        Self {
            method: SearchMethod::Grid,
            trials: 450,
            seed: 0,
            batch: 16,
            startup_trials: 10,
            lookback: ParamRange::new(2, 500, 1),
            skip: ParamRange::new(0, 60, 1),
            holding: ParamRange::new(1, 120, 1),
            top_k: ParamRange::new(1, 20, 1),
        }
    }
}

/// How the combinations were chosen: the `search` object of `metrics.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchReport {
    /// `grid` or `tpe`.
    pub method: SearchMethod,
    /// Distinct combinations evaluated on the train window: the rows of `grid.csv`, the `N`
    /// of the DSR and the trials PBO ranks.
    pub trials: usize,
    /// The selected trial's index (its row in `grid.csv` and `search.csv`).
    pub best_trial: usize,
    /// The seed of a TPE search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Proposals per batch of a TPE search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// Valid combinations (`skip < lookback`) of a TPE search's ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<usize>,
    /// Per trial, the seconds from the search's start to the end of its batch (not in
    /// `metrics.json`; empty for a grid).
    #[serde(skip)]
    pub seconds: Vec<f64>,
}

/// The ranges of a search, checked: lookback, skip, holding, top_k.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Space {
    ranges: [ParamRange; DIMS],
    /// Valid combinations: those with `skip < lookback`.
    size: usize,
}

/// The keys of the ranges, in dimension order.
const KEYS: [&str; DIMS] = [
    "search.lookback",
    "search.skip",
    "search.holding",
    "search.top_k",
];

/// The most values a range may hold: the estimator keeps a few numbers per value.
const MAX_VALUES: usize = 1_000_000;

impl Space {
    /// The ranges of `spec`, each checked, with `trials` and `batch`.
    ///
    /// # Errors
    /// [`EngineError::InvalidParameter`] naming the `search` key: an empty or inverted range, a
    /// step of 0 or one that does not divide the range, a lookback, holding or top_k range from
    /// 0, ranges with no combination of `skip < lookback`, `trials` or `batch` of 0, more
    /// trials than valid combinations, a cost the strategy refuses.
    pub(crate) fn new(spec: &SearchSpec, cost_bps: f64) -> Result<Self> {
        let ranges = [spec.lookback, spec.skip, spec.holding, spec.top_k];
        let bad = |name, value: String, reason| {
            Err(EngineError::InvalidParameter {
                name,
                value,
                reason,
            })
        };
        for (name, range) in KEYS.into_iter().zip(ranges) {
            let value = range.to_string();
            if range.step == 0 {
                return bad(name, value, "step must be at least 1");
            }
            if range.min > range.max {
                return bad(name, value, "is empty: min is above max");
            }
            if !(range.max - range.min).is_multiple_of(range.step) {
                return bad(name, value, "step does not divide max - min");
            }
            if range.values() > MAX_VALUES {
                return bad(name, value, "holds more than 1,000,000 values");
            }
            if range.min == 0 && name != "search.skip" {
                return bad(name, value, "must start at 1 or more");
            }
        }
        // The widest combination: every value is checked by the strategy's own rules.
        StrategyParams {
            lookback: spec.lookback.max,
            skip: spec.skip.min,
            holding: spec.holding.max,
            top_k: spec.top_k.max,
            cost_bps,
        }
        .validate()
        .or_else(|err| match err {
            // Skip >= lookback at the widest: no combination is valid (below).
            EngineError::InvalidParameter { name: "skip", .. } => Ok(()),
            other => Err(other),
        })?;
        let pairs: usize = (0..spec.lookback.values())
            .map(|i| {
                let lookback = spec.lookback.value(index(i));
                (0..spec.skip.values())
                    .filter(|&j| spec.skip.value(index(j)) < lookback)
                    .count()
            })
            .sum();
        if pairs == 0 {
            return bad(
                "search.skip",
                spec.skip.to_string(),
                "every skip of the range is at least every lookback of search.lookback: no \
                 combination has skip < lookback",
            );
        }
        let size = pairs
            .saturating_mul(spec.holding.values())
            .saturating_mul(spec.top_k.values());
        if spec.trials == 0 {
            return bad("search.trials", "0".into(), "must be at least 1");
        }
        if spec.trials > size {
            return bad(
                "search.trials",
                spec.trials.to_string(),
                "is more than the ranges' valid combinations (skip < lookback): fewer trials, \
                 wider ranges, or the grid",
            );
        }
        if spec.batch == 0 {
            return bad("search.batch", "0".into(), "must be at least 1");
        }
        Ok(Self { ranges, size })
    }

    /// Values per dimension.
    fn sizes(&self) -> [usize; DIMS] {
        self.ranges.map(|r| r.values())
    }

    /// The combination at `point`.
    fn params(&self, point: Point, cost_bps: f64) -> StrategyParams {
        let [lookback, skip, holding, top_k] =
            std::array::from_fn(|d| self.ranges[d].value(point[d]));
        StrategyParams {
            lookback,
            skip,
            holding,
            top_k,
            cost_bps,
        }
    }

    /// The widest lookback's combination: the one whose first rebalance is latest.
    pub(crate) fn widest(&self, cost_bps: f64) -> StrategyParams {
        self.params([index(self.ranges[0].values() - 1), 0, 0, 0], cost_bps)
    }
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Where a search hands each batch's rows, in trial order, with their block sums.
pub(crate) type TrialSink<'a> = &'a mut dyn FnMut(&[ComboResult], &[[f64; 2]]) -> Result<()>;

/// A seeded TPE search of `spec.trials` distinct combinations of `space` (each at `cost_bps`)
/// maximising `objective` on `train`: each trial simulated on `train` and `test` as the grid
/// simulates a combination, with the train returns' block sums over `starts`. The rows go to
/// `sink` batch by batch in trial order; returns each trial's seconds from the start to the end
/// of its batch. `progress(k)` as the grid's.
pub(crate) fn tpe_search(
    panel: &PricePanel,
    (space, spec, seed): (&Space, &SearchSpec, u64),
    (objective, cost_bps): (Objective, f64),
    (train, test): (Window, Option<Window>),
    starts: &[usize],
    progress: &(dyn Fn(usize) + Sync),
    sink: TrialSink<'_>,
) -> Result<Vec<f64>> {
    let started = Instant::now();
    let tpe = Tpe::new(space.sizes());
    let mut rng = SplitMix64::new(seed);
    let mut history: Vec<Observation> = Vec::with_capacity(spec.trials);
    let mut tried: HashSet<Point> = HashSet::with_capacity(spec.trials);
    let mut seconds = Vec::with_capacity(spec.trials);
    let blocks = starts.len();
    while history.len() < spec.trials {
        let done = history.len();
        let size = spec.batch.min(spec.trials - done);
        // The constant liar: pending proposals count as the worst trial so far.
        let liar = history
            .iter()
            .map(Observation::rank_value)
            .fold(f64::INFINITY, f64::min);
        let liar = if liar == f64::INFINITY {
            f64::NEG_INFINITY
        } else {
            liar
        };
        let mut points = Vec::with_capacity(size);
        for _ in 0..size {
            let usable = |p: Point| {
                let params = space.params(p, cost_bps);
                params.skip < params.lookback && !tried.contains(&p)
            };
            let at_random = done < spec.startup_trials;
            let point = tpe.propose(&history, &mut rng, &usable, at_random).ok_or(
                EngineError::EmptyGrid {
                    reason: "the search's ranges hold no further valid combination".into(),
                },
            )?;
            tried.insert(point);
            points.push(point);
            history.push(Observation { point, value: liar });
        }
        history.truncate(done);
        // Simulated grouped by (lookback, skip), as the grid's rows are ordered.
        let params: Vec<StrategyParams> =
            points.iter().map(|&p| space.params(p, cost_bps)).collect();
        let mut order: Vec<usize> = (0..size).collect();
        order.sort_by_key(|&j| {
            let p = params[j];
            (p.lookback, p.skip, p.holding, p.top_k)
        });
        let grouped: Vec<StrategyParams> = order.iter().map(|&j| params[j]).collect();
        let mut rows: Vec<Option<ComboResult>> = vec![None; size];
        let mut sums = vec![[0.0; 2]; size * blocks];
        let mut next = 0;
        simulate_grid(
            panel,
            (&grouped, cost_bps),
            (train, test),
            starts,
            progress,
            (usize::MAX, &mut |results, block_sums| {
                for (r, row) in results.iter().enumerate() {
                    let trial = order[next + r];
                    rows[trial] = Some(*row);
                    sums[trial * blocks..(trial + 1) * blocks]
                        .copy_from_slice(&block_sums[r * blocks..(r + 1) * blocks]);
                }
                next += results.len();
                Ok(())
            }),
        )?;
        let rows: Vec<ComboResult> = rows.into_iter().flatten().collect();
        sink(&rows, &sums)?;
        for (point, row) in points.into_iter().zip(&rows) {
            history.push(Observation {
                point,
                value: objective.value(&row.train),
            });
        }
        let elapsed = started.elapsed().as_secs_f64();
        seconds.resize(history.len(), elapsed);
    }
    Ok(seconds)
}

/// The seed of walk-forward fold `fold`'s search: the search's seed and the fold mixed, so
/// folds draw apart and each is reproducible alone.
fn fold_seed(seed: u64, fold: usize) -> u64 {
    SplitMix64::for_replication(seed, fold as u64).next_u64()
}

/// [`crate::run_experiment`] for a TPE search: the search on the train window (rows in trial
/// order), a search of its own in each walk-forward fold, and the experiment judged as the
/// grid's would be. No CPCV: each of its splits would need a search of its own.
pub(crate) fn run_search(
    panel: &PricePanel,
    spec: &ExperimentSpec,
    data_digest: Option<String>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Experiment> {
    let plan = Plan::new(panel, spec)?;
    let Some(space) = plan.space else {
        return Err(EngineError::InvalidParameter {
            name: "search.method",
            value: spec.search.method.to_string(),
            reason: "is not a search over ranges",
        });
    };
    let options = plan.options;
    let search = &spec.search;
    let objective = (options.objective, options.cost_bps);
    let mut rows = GridRowsWriter::new();
    let seconds = tpe_search(
        panel,
        (&space, search, search.seed),
        objective,
        (options.train, options.test),
        &plan.block_starts()?,
        progress,
        &mut |results, sums| rows.push(results, sums),
    )?;
    let rows = rows.finish(plan.block_layout())?;
    let mut folds = Vec::new();
    for (fold, &(train, _)) in plan.folds.iter().flatten().enumerate() {
        let mut best = RunningBest::new(options.objective);
        tpe_search(
            panel,
            (&space, search, fold_seed(search.seed, fold)),
            objective,
            (train, None),
            &[],
            progress,
            &mut |results, _| {
                best.offer(results);
                Ok(())
            },
        )?;
        folds.push(best);
    }
    let mut experiment = plan.finish(panel, data_digest, (rows, folds, None))?;
    // The trials and the best one as the plan counted them; what only a search has.
    experiment.search = SearchReport {
        method: SearchMethod::Tpe,
        seed: Some(search.seed),
        batch: Some(search.batch),
        space: Some(space.size),
        seconds,
        ..experiment.search
    };
    Ok(experiment)
}
