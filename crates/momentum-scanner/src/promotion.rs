//! Promotion gates: whether a candidate may become the production model.
//!
//! A candidate becomes the production model only when every gate passes. The gates read the
//! out-of-sample (test window) numbers, because the train window is where the grid search chose
//! the candidate and is optimistic by construction.

use serde::{Deserialize, Serialize};

use crate::ScanError;
use crate::model::{Model, test_window};

/// Thresholds a candidate must meet: the `promotion` block of `params.yaml`, key for key (an
/// unknown key is an error when it is deserialised).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gates {
    /// Minimum out-of-sample `total_roi` (0.20 = +20 %).
    pub min_roi: f64,
    /// Minimum Deflated Sharpe Ratio of the selection (a probability in [0, 1]).
    pub min_dsr: f64,
    /// Maximum out-of-sample `max_drawdown` (0.60 = a 60 % peak-to-trough loss).
    pub max_drawdown: f64,
    /// Maximum Probability of Backtest Overfitting of the selection; `None` (`null`) disables
    /// the gate.
    pub max_pbo: Option<f64>,
    /// Minimum out-of-sample Sharpe ratio of the walk-forward (its stitched curve) and of the
    /// combinatorial purged cross-validation (its paths' mean), each applied when the
    /// candidate carries it; `None` (`null`) disables the gate.
    pub min_oos_sharpe: Option<f64>,
}

impl Default for Gates {
    /// The committed `params.yaml`: +20 %, DSR 0.5, drawdown 60 %, PBO 0.5, walk-forward
    /// Sharpe 0.5 (`docs/serving.md` says why).
    fn default() -> Self {
        Self {
            min_roi: 0.20,
            min_dsr: 0.50,
            max_drawdown: 0.60,
            max_pbo: Some(0.50),
            min_oos_sharpe: Some(0.50),
        }
    }
}

impl Gates {
    /// Every threshold a number, and the probabilities and the drawdown in `[0, 1]`: a NaN
    /// gate fails every candidate and a probability above 1 passes every one, either way a
    /// verdict that only looks like one (`null` is the way to turn `max_pbo` or
    /// `min_oos_sharpe` off).
    ///
    /// # Errors
    /// [`ScanError::InvalidSetting`] naming the first threshold out of range.
    ///
    /// ```
    /// use momentum_scanner::promotion::Gates;
    ///
    /// assert!(Gates::default().validate().is_ok());
    /// // A loss still allowed out of sample: negative thresholds are numbers like any other.
    /// assert!(Gates { min_roi: -0.1, min_oos_sharpe: Some(-1.0), ..Gates::default() }.validate().is_ok());
    /// let err = Gates { max_pbo: Some(1.5), ..Gates::default() }.validate().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid promotion.max_pbo: must be in [0, 1]");
    /// let err = Gates { min_roi: f64::NAN, ..Gates::default() }.validate().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid promotion.min_roi: must be a finite number");
    /// ```
    pub fn validate(&self) -> Result<(), ScanError> {
        let unit = |x: f64| (0.0..=1.0).contains(&x);
        let checks = [
            (
                "promotion.min_roi",
                self.min_roi.is_finite(),
                "must be a finite number",
            ),
            ("promotion.min_dsr", unit(self.min_dsr), "must be in [0, 1]"),
            (
                "promotion.max_drawdown",
                unit(self.max_drawdown),
                "must be in [0, 1]",
            ),
            (
                "promotion.max_pbo",
                self.max_pbo.is_none_or(unit),
                "must be in [0, 1]",
            ),
            (
                "promotion.min_oos_sharpe",
                self.min_oos_sharpe.is_none_or(f64::is_finite),
                "must be a finite number",
            ),
        ];
        ScanError::first_out_of_range(checks)
    }
}

/// The candidate's numbers the gates look at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateInputs {
    /// Strategy `total_roi` on the test window.
    pub test_roi: f64,
    /// Buy-and-hold `total_roi` on the same window.
    pub test_baseline_roi: f64,
    /// Deflated Sharpe Ratio of the selected combination.
    pub dsr: f64,
    /// Strategy `max_drawdown` on the test window.
    pub test_max_drawdown: f64,
    /// Probability of Backtest Overfitting of the grid; NaN when the train window was too
    /// short for CSCV.
    pub pbo: f64,
    /// The lower of the walk-forward's stitched out-of-sample Sharpe ratio and the CPCV
    /// paths' mean Sharpe ratio, of those the backtest ran (`None`: neither).
    pub oos_sharpe: Option<f64>,
}

impl GateInputs {
    /// The numbers of a candidate (a metric that could not be computed is NaN and fails).
    ///
    /// # Errors
    /// [`ScanError::NotACandidate`] for a registered model; [`ScanError::NoTestWindow`] when
    /// the candidate was backtested without a split.
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_engine::{ExperimentSpec, GridSpec, Objective, PricePanel, run_experiment};
    /// use momentum_scanner::model::CodeVersion;
    /// use momentum_scanner::promotion::GateInputs;
    /// use momentum_scanner::{Model, ScanError};
    ///
    /// // Forty days: A climbs by 1 a day from 10, B stays at 10; half of them out of sample.
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
    /// let code = CodeVersion { version: "0.1.0".into(), git_commit: None };
    /// let candidate = Model::candidate(experiment, code, None);
    ///
    /// let inputs = GateInputs::of(&candidate)?;
    /// // Out of sample (days 20 to 39) A goes from 30 to 49 and never falls; buy and hold
    /// // has half in B.
    /// assert!((inputs.test_roi - 19.0 / 30.0).abs() < 1e-12);
    /// assert!((inputs.test_baseline_roi - 19.0 / 60.0).abs() < 1e-12);
    /// assert_eq!(inputs.test_max_drawdown, 0.0);
    /// assert_eq!(inputs.dsr, candidate.experiment()?.selection.dsr);
    ///
    /// let registered = candidate.registered("1", "2024-02-10T00:00:00Z");
    /// assert!(matches!(GateInputs::of(&registered), Err(ScanError::NotACandidate)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of(candidate: &Model) -> Result<Self, ScanError> {
        let test = test_window(candidate)?;
        let selection = &candidate.experiment()?.selection;
        Ok(Self {
            test_roi: test.strategy.total_roi,
            test_baseline_roi: test.baseline.total_roi,
            dsr: selection.dsr,
            test_max_drawdown: test.strategy.max_drawdown,
            pbo: selection.pbo.as_ref().map_or(f64::NAN, |pbo| pbo.pbo),
            oos_sharpe: {
                let experiment = candidate.experiment()?;
                let stitched = experiment.walk_forward.as_ref().map(|a| a.stitched.sharpe);
                let paths = experiment.cpcv.as_ref().map(|c| c.paths.mean);
                // The stricter of the two (a NaN fails either way).
                stitched
                    .into_iter()
                    .chain(paths)
                    .reduce(|a, b| if b < a || b.is_nan() { b } else { a })
            },
        })
    }
}

/// One gate's verdict, printed by `momentum promote` and logged to tracking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    /// Stable name, e.g. `min_roi`.
    pub gate: &'static str,
    /// What the candidate scored.
    pub value: f64,
    /// The threshold it was held to.
    pub threshold: f64,
    /// `>=`, `>` or `<=`: how `value` must compare with `threshold`.
    pub rule: &'static str,
    /// Whether the gate passed. A NaN value never passes.
    pub passed: bool,
}

/// Applies every gate (`max_pbo` and `min_oos_sharpe` unless disabled, the latter only to a
/// candidate with a walk-forward or a CPCV); the candidate is promotable when all of them pass.
///
/// ```
/// use momentum_scanner::promotion::{GateInputs, Gates, evaluate};
///
/// // +35 % out of sample, but buy and hold made +40 %.
/// let inputs = GateInputs {
///     test_roi: 0.35,
///     test_baseline_roi: 0.40,
///     dsr: 0.93,
///     test_max_drawdown: 0.18,
///     pbo: 0.25,
///     oos_sharpe: None,
/// };
/// let results = evaluate(&Gates::default(), &inputs);
/// let verdicts: Vec<_> = results.iter().map(|g| (g.gate, g.rule, g.passed)).collect();
/// assert_eq!(
///     verdicts,
///     [
///         ("min_roi", ">=", true),
///         ("beats_buy_and_hold", ">", false),
///         ("min_dsr", ">=", true),
///         ("max_drawdown", "<=", true),
///         ("max_pbo", "<=", true),
///     ]
/// );
/// assert!(!results.iter().all(|g| g.passed));
///
/// // A metric that could not be computed (NaN) fails its gate.
/// let nan = GateInputs { test_baseline_roi: 0.10, dsr: f64::NAN, ..inputs };
/// let failed: Vec<_> = evaluate(&Gates::default(), &nan)
///     .into_iter()
///     .filter(|g| !g.passed)
///     .map(|g| g.gate)
///     .collect();
/// assert_eq!(failed, ["min_dsr"]);
///
/// // A selection that keeps its rank out of sample no better than a coin fails max_pbo;
/// // `None` disables the gate.
/// let coin = GateInputs { pbo: 0.62, ..inputs };
/// assert!(!evaluate(&Gates::default(), &coin).iter().find(|g| g.gate == "max_pbo").unwrap().passed);
/// let without = Gates { max_pbo: None, ..Gates::default() };
/// assert!(evaluate(&without, &coin).iter().all(|g| g.gate != "max_pbo"));
/// ```
pub fn evaluate(gates: &Gates, inputs: &GateInputs) -> Vec<GateResult> {
    // Comparisons are written so that a NaN value fails: `NaN >= x` is false.
    let mut results = vec![
        GateResult {
            gate: "min_roi",
            value: inputs.test_roi,
            threshold: gates.min_roi,
            rule: ">=",
            passed: inputs.test_roi >= gates.min_roi,
        },
        GateResult {
            gate: "beats_buy_and_hold",
            value: inputs.test_roi,
            threshold: inputs.test_baseline_roi,
            rule: ">",
            passed: inputs.test_roi > inputs.test_baseline_roi,
        },
        GateResult {
            gate: "min_dsr",
            value: inputs.dsr,
            threshold: gates.min_dsr,
            rule: ">=",
            passed: inputs.dsr >= gates.min_dsr,
        },
        GateResult {
            gate: "max_drawdown",
            value: inputs.test_max_drawdown,
            threshold: gates.max_drawdown,
            rule: "<=",
            passed: inputs.test_max_drawdown <= gates.max_drawdown,
        },
    ];
    if let Some(max_pbo) = gates.max_pbo {
        results.push(GateResult {
            gate: "max_pbo",
            value: inputs.pbo,
            threshold: max_pbo,
            rule: "<=",
            passed: inputs.pbo <= max_pbo,
        });
    }
    if let (Some(min), Some(sharpe)) = (gates.min_oos_sharpe, inputs.oos_sharpe) {
        results.push(GateResult {
            gate: "min_oos_sharpe",
            value: sharpe,
            threshold: min,
            rule: ">=",
            passed: sharpe >= min,
        });
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_fail_on_nan_and_on_each_threshold() {
        let gates = Gates {
            min_roi: 0.2,
            min_dsr: 0.5,
            max_drawdown: 0.3,
            max_pbo: Some(0.4),
            min_oos_sharpe: Some(0.5),
        };
        let good = GateInputs {
            test_roi: 0.25,
            test_baseline_roi: 0.1,
            dsr: 0.9,
            test_max_drawdown: 0.2,
            pbo: 0.4,
            oos_sharpe: Some(0.5),
        };
        assert!(evaluate(&gates, &good).iter().all(|g| g.passed));
        let nan = GateInputs {
            dsr: f64::NAN,
            ..good
        };
        let failed: Vec<_> = evaluate(&gates, &nan)
            .into_iter()
            .filter(|g| !g.passed)
            .map(|g| g.gate)
            .collect();
        assert_eq!(failed, ["min_dsr"]);
        for (spoilt, gate) in [
            (
                GateInputs {
                    test_roi: 0.19,
                    ..good
                },
                "min_roi",
            ),
            (
                GateInputs {
                    test_baseline_roi: 0.25,
                    ..good
                },
                "beats_buy_and_hold",
            ),
            (
                GateInputs {
                    test_max_drawdown: 0.31,
                    ..good
                },
                "max_drawdown",
            ),
            (GateInputs { pbo: 0.41, ..good }, "max_pbo"),
            (
                GateInputs {
                    oos_sharpe: Some(0.49),
                    ..good
                },
                "min_oos_sharpe",
            ),
            (
                GateInputs {
                    pbo: f64::NAN,
                    ..good
                },
                "max_pbo",
            ),
        ] {
            let failed: Vec<_> = evaluate(&gates, &spoilt)
                .into_iter()
                .filter(|g| !g.passed)
                .map(|g| g.gate)
                .collect();
            assert_eq!(failed, [gate]);
        }
    }

    #[test]
    fn the_out_of_sample_sharpe_gate_applies_only_to_a_candidate_with_a_walk_forward() {
        let inputs = GateInputs {
            test_roi: 0.25,
            test_baseline_roi: 0.1,
            dsr: 0.9,
            test_max_drawdown: 0.2,
            pbo: 0.3,
            oos_sharpe: None,
        };
        let names = |inputs: &GateInputs| -> Vec<&str> {
            evaluate(&Gates::default(), inputs)
                .iter()
                .map(|g| g.gate)
                .collect()
        };
        assert!(!names(&inputs).contains(&"min_oos_sharpe"));
        let with = GateInputs {
            oos_sharpe: Some(0.7),
            ..inputs
        };
        assert_eq!(names(&with).last(), Some(&"min_oos_sharpe"));
        let off = Gates {
            min_oos_sharpe: None,
            ..Gates::default()
        };
        assert!(
            evaluate(&off, &with)
                .iter()
                .all(|g| g.gate != "min_oos_sharpe")
        );
    }
}
