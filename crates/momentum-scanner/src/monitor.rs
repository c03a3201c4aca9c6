//! Live monitoring: what the picks earned against what the backtest promised, and feature drift.
//!
//! * **Live record.** For every scan whose holding period has elapsed, the picked basket's return
//!   from the as-of close to the close `H` trading days later (`sum_i w_i P[t+H,i] / P[t,i] - 1`,
//!   a missing later price carried as in the backtest), and the equal-weight buy-and-hold return
//!   of every ticker priced on the as-of day. Scans are thinned to non-overlapping periods (a
//!   scan counts only when it is at least `H` days after the previous counted one), because
//!   overlapping returns are correlated and would overstate the evidence. The record is the
//!   latest scan's model's: the scans of its parameters over its universe.
//! * **The promise.** The backtest of the same parameters, gross of costs like the live record,
//!   on every day before the first live scan; its holding-period returns are the distribution
//!   the live record is compared with.
//! * **Checks.** A one-sided t test of the live mean period return against the promised mean;
//!   the live per-period Sharpe against the promised one minus `z_(1-alpha)` standard errors
//!   (`SE = sqrt((1 + SR^2 / 2) / n)`, Lo 2002); the population stability index and a
//!   Kolmogorov-Smirnov test of the momentum scores of the most recent days against the train
//!   window's (the KS test on days `L - S` apart so that no two scores share a return window). Any breached check recommends retraining.

use std::ops::Range;

use chrono::NaiveDate;
use momentum_engine::Window;
use momentum_features::{PricePanel, is_valid, momentum_scores};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

use crate::ScanError;
use crate::drift::{kolmogorov_smirnov, mean_shortfall_test, population_stability_index};
use momentum_engine::StrategyParams;

use crate::scan::{Picks, scored_params};

/// Thresholds of the monitor: the `monitor` block of `params.yaml`, key for key (an unknown
/// key is an error when it is deserialised).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorSettings {
    /// PSI above this is drift (0.25 is the customary "significant shift").
    pub psi_threshold: f64,
    /// KS p-value below this is drift.
    pub ks_alpha: f64,
    /// Significance of the mean-return and Sharpe shortfall tests.
    pub mean_return_alpha: f64,
    /// Trading days at the end of the panel whose scores are compared with the train window.
    pub recent_days: usize,
}

impl Default for MonitorSettings {
    /// The committed `params.yaml`: PSI 0.25, KS 0.01, 5 % tests, 63 recent days.
    fn default() -> Self {
        Self {
            psi_threshold: 0.25,
            ks_alpha: 0.01,
            mean_return_alpha: 0.05,
            recent_days: 63,
        }
    }
}

impl MonitorSettings {
    /// [`MonitorSettings::validate`], and the backtest's train fraction (the drift checks'
    /// reference window) in `(0, 1)`: every setting [`monitor`] reads.
    ///
    /// # Errors
    /// [`ScanError::InvalidSetting`] naming the first setting out of range.
    pub fn validate_with(&self, train_fraction: f64) -> Result<(), ScanError> {
        self.validate()?;
        if !(train_fraction > 0.0 && train_fraction < 1.0) {
            return Err(ScanError::InvalidSetting {
                name: "backtest.train_fraction",
                reason: "must be in (0, 1)",
            });
        }
        Ok(())
    }

    /// Every setting in its range: a threshold that cannot be crossed (or is always crossed)
    /// would make a report that looks like a verdict.
    ///
    /// # Errors
    /// [`ScanError::InvalidSetting`] naming the first setting out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_scanner::ScanError;
    /// use momentum_scanner::monitor::MonitorSettings;
    ///
    /// assert!(MonitorSettings::default().validate().is_ok());
    /// // At ks_alpha 1.0 almost every p-value would read as drift. The first bad setting is named.
    /// let settings = MonitorSettings { ks_alpha: 1.0, recent_days: 1, ..MonitorSettings::default() };
    /// let err = settings.validate().unwrap_err();
    /// assert!(matches!(err, ScanError::InvalidSetting { name: "monitor.ks_alpha", .. }));
    /// assert_eq!(err.to_string(), "invalid monitor.ks_alpha: must be in (0, 1)");
    /// ```
    pub fn validate(&self) -> Result<(), ScanError> {
        let probability = |p: f64| p > 0.0 && p < 1.0;
        let checks = [
            (
                "monitor.psi_threshold",
                self.psi_threshold.is_finite() && self.psi_threshold > 0.0,
                "must be a finite number > 0",
            ),
            (
                "monitor.ks_alpha",
                probability(self.ks_alpha),
                "must be in (0, 1)",
            ),
            (
                "monitor.mean_return_alpha",
                probability(self.mean_return_alpha),
                "must be in (0, 1)",
            ),
            (
                "monitor.recent_days",
                self.recent_days >= 2,
                "must be at least 2",
            ),
        ];
        ScanError::first_out_of_range(checks)
    }
}

/// One realised holding period of the live record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LivePeriod {
    /// The scan's as-of date (entry at its close).
    pub as_of: NaiveDate,
    /// The exit date, `H` trading days later.
    pub exit: NaiveDate,
    /// Tickers held.
    pub tickers: Vec<String>,
    /// Return of the picked basket.
    pub basket_return: f64,
    /// Return of equal-weight buy and hold over the same days.
    pub baseline_return: f64,
}

/// One statistic, its threshold and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Stable name: `mean_return`, `sharpe`, `psi`, `ks`.
    pub name: &'static str,
    /// The statistic's value (`None` when there is not enough data to compute it).
    pub value: Option<f64>,
    /// The threshold it is held to.
    pub threshold: f64,
    /// `true` when the check found a problem.
    pub breached: bool,
    /// What the numbers mean, in words.
    pub detail: String,
}

/// Everything `momentum monitor` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorReport {
    /// Last day of the price data.
    pub as_of: NaiveDate,
    /// Model version monitored (of the latest scan).
    pub model_version: String,
    /// Its parameters (as the scans recorded them: no cost).
    #[serde(with = "scored_params")]
    pub params: StrategyParams,
    /// Realised, non-overlapping periods.
    pub live: Vec<LivePeriod>,
    /// Mean basket return per period (`None` without periods).
    pub live_mean_return: Option<f64>,
    /// Mean buy-and-hold return per period.
    pub live_baseline_mean_return: Option<f64>,
    /// Number of promised (backtest) periods.
    pub promised_periods: usize,
    /// Mean promised period return.
    pub promised_mean_return: Option<f64>,
    /// Promised per-period Sharpe ratio.
    pub promised_sharpe: Option<f64>,
    /// Each statistic with its threshold and verdict.
    pub checks: Vec<Check>,
    /// Whether any check was breached.
    pub retrain_recommended: bool,
    /// The breached checks, in words.
    pub reasons: Vec<String>,
}

/// Builds the monitor report for the latest model in `history` on `panel`. The drift checks'
/// reference is the backtest's train window: [`Window::split`] of `evaluated`, the backtest's
/// evaluation window, at `train_fraction` (`backtest.train_fraction`, and `backtest.start`/`end`
/// as days of `panel`: [`Window::full`] when they are empty).
///
/// The promise is empty (and the return checks say "not enough data") when the days before the
/// first scan are too few for the lookback.
///
/// # Errors
/// [`ScanError::InvalidSetting`] for a setting out of range ([`MonitorSettings::validate`],
/// and `train_fraction` in `(0, 1)`), [`ScanError::Engine`] for `evaluated` outside the panel or too
/// short to leave a day in each of its windows,
/// [`ScanError::NoHistory`] when there is no scan to monitor, [`ScanError::InvalidModel`] for
/// the latest model's parameters out of range, [`ScanError::NoData`] for an empty panel,
/// [`ScanError::MissingTicker`] when a picked ticker is not priced on its scan day.
pub fn monitor(
    panel: &PricePanel,
    history: &[Picks],
    settings: &MonitorSettings,
    (train_fraction, evaluated): (f64, Window),
) -> Result<MonitorReport, ScanError> {
    settings.validate_with(train_fraction)?;
    let latest = history.last().ok_or(ScanError::NoHistory)?;
    let params = latest.params;
    params.validate().map_err(ScanError::InvalidModel)?;
    if panel.n_days() == 0 {
        return Err(ScanError::NoData);
    }
    evaluated.validate(panel.n_days())?;
    let (train, _) = evaluated.split(train_fraction)?;
    let train = train.start..train.end + 1;
    // The model's record: the scans of its parameters over its universe, whatever version
    // numbers they carry (a block adopted or registered again); a scan of another universe
    // picked among other tickers, whose prices the panel need not have.
    fn universe(scan: &Picks) -> std::collections::BTreeSet<&str> {
        scan.picks.iter().map(|pick| pick.ticker.as_str()).collect()
    }
    let tickers = universe(latest);
    let scans: Vec<&Picks> = history
        .iter()
        .filter(|scan| scan.params == params && universe(scan) == tickers)
        .collect();
    // The drift checks go first: their pooled scores (millions at index scale) are freed
    // before the backtest and the live record build the carried prices.
    let drift = drift_checks(panel, params, settings, train);
    let live = live_periods(panel, &scans, params.holding)?;
    let live_returns: Vec<f64> = live.iter().map(|p| p.basket_return).collect();

    let first_live = scans
        .iter()
        .filter_map(|scan| day_index(panel, scan.as_of))
        .min()
        .unwrap_or(panel.n_days() - 1);
    let promised = promised_returns(panel, params, first_live);
    let promised_mean = mean(&promised);
    let promised_sharpe = sharpe(&promised);

    let mut checks = vec![
        mean_return_check(&live_returns, promised_mean, settings.mean_return_alpha),
        sharpe_check(&live_returns, promised_sharpe, settings.mean_return_alpha),
    ];
    checks.extend(drift);
    let reasons: Vec<String> = checks
        .iter()
        .filter(|c| c.breached)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    Ok(MonitorReport {
        as_of: *panel.dates().last().ok_or(ScanError::NoData)?,
        model_version: latest.model_version.clone(),
        params,
        live_mean_return: mean(&live_returns),
        live_baseline_mean_return: mean(
            &live.iter().map(|p| p.baseline_return).collect::<Vec<_>>(),
        ),
        live,
        promised_periods: promised.len(),
        promised_mean_return: promised_mean,
        promised_sharpe,
        retrain_recommended: !reasons.is_empty(),
        reasons,
        checks,
    })
}

fn day_index(panel: &PricePanel, date: NaiveDate) -> Option<usize> {
    panel.dates().binary_search(&date).ok()
}

fn live_periods(
    panel: &PricePanel,
    scans: &[&Picks],
    holding: usize,
) -> Result<Vec<LivePeriod>, ScanError> {
    let carried = panel.carried();
    let last = panel.n_days() - 1;
    let mut periods = Vec::new();
    let mut next_allowed = 0;
    for scan in scans {
        let Some(t) = day_index(panel, scan.as_of) else {
            tracing::warn!(as_of = %scan.as_of, "scan date is not in the price data; skipped");
            continue;
        };
        if t < next_allowed || t + holding > last {
            continue;
        }
        next_allowed = t + holding;
        let exit = t + holding;
        let mut basket = 0.0;
        let mut tickers = Vec::new();
        for pick in scan.picks.iter().filter(|p| p.selected) {
            let i = panel
                .tickers()
                .iter()
                .position(|name| *name == pick.ticker)
                .ok_or_else(|| ScanError::MissingTicker {
                    ticker: pick.ticker.clone(),
                    as_of: scan.as_of,
                })?;
            let entry = panel.price(t, i);
            if !is_valid(entry) {
                return Err(ScanError::MissingTicker {
                    ticker: pick.ticker.clone(),
                    as_of: scan.as_of,
                });
            }
            basket += pick.target_weight * carried[[exit, i]] / entry;
            tickers.push(pick.ticker.clone());
        }
        // No pick means the model held cash: a zero return.
        let basket_return = if tickers.is_empty() {
            0.0
        } else {
            basket - 1.0
        };
        let relatives: Vec<f64> = (0..panel.n_tickers())
            .filter(|&i| is_valid(panel.price(t, i)))
            .map(|i| carried[[exit, i]] / panel.price(t, i))
            .collect();
        let baseline_return = mean(&relatives).map_or(0.0, |m| m - 1.0);
        periods.push(LivePeriod {
            as_of: scan.as_of,
            exit: panel.dates()[exit],
            tickers,
            basket_return,
            baseline_return,
        });
    }
    Ok(periods)
}

/// Holding-period returns of the backtest (no costs) on days `0..=end`, or none when the window
/// is too short for the lookback.
fn promised_returns(panel: &PricePanel, params: StrategyParams, end: usize) -> Vec<f64> {
    let gross = StrategyParams {
        cost_bps: 0.0,
        ..params
    };
    let Ok(run) = momentum_engine::backtest(panel, &gross, Window { start: 0, end }) else {
        return Vec::new();
    };
    run.equity
        .iter()
        .step_by(params.holding)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| w[1] / w[0] - 1.0)
        .collect()
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Per-period Sharpe ratio, `mean / std(ddof 1)`; `None` with fewer than 2 values or no spread.
fn sharpe(values: &[f64]) -> Option<f64> {
    let m = mean(values)?;
    if values.len() < 2 {
        return None;
    }
    let sd =
        (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt();
    (sd > 0.0).then(|| m / sd)
}

fn mean_return_check(live: &[f64], promised_mean: Option<f64>, alpha: f64) -> Check {
    let test = promised_mean.and_then(|promised| mean_shortfall_test(live, promised));
    let (value, breached, detail) = match (test, promised_mean) {
        (Some(test), Some(promised)) => (
            Some(test.p_value),
            test.p_value < alpha,
            format!(
                "one-sided t test of the live mean period return against the backtest's {promised:.4}: t = {:.3}, p = {:.4}",
                test.t_statistic, test.p_value
            ),
        ),
        _ => (None, false, not_enough(live, promised_mean.is_some())),
    };
    Check {
        name: "mean_return",
        value,
        threshold: alpha,
        breached,
        detail,
    }
}

fn sharpe_check(live: &[f64], promised: Option<f64>, alpha: f64) -> Check {
    let z = Normal::standard().inverse_cdf(1.0 - alpha);
    match (sharpe(live), promised) {
        (Some(live_sharpe), Some(promised)) => {
            let n = live.len() as f64;
            let floor = promised - z * ((1.0 + promised * promised / 2.0) / n).sqrt();
            Check {
                name: "sharpe",
                value: Some(live_sharpe),
                threshold: floor,
                breached: live_sharpe < floor,
                detail: format!(
                    "live per-period Sharpe {live_sharpe:.3} against the backtest's {promised:.3} less {z:.2} standard errors over {n} periods"
                ),
            }
        }
        _ => Check {
            name: "sharpe",
            value: None,
            threshold: f64::NAN,
            breached: false,
            detail: not_enough(live, promised.is_some()),
        },
    }
}

/// Why a return check has no statistic: what of its data is missing, in words.
fn not_enough(live: &[f64], promised: bool) -> String {
    let mut missing = Vec::new();
    if live.len() < 2 {
        missing.push(format!("{} live periods (2 needed)", live.len()));
    }
    if !promised {
        missing.push("no backtest period before the first scan".to_owned());
    }
    if missing.is_empty() {
        missing.push(format!("{} live periods of the same return", live.len()));
    }
    format!("not enough data: {}", missing.join(" and "))
}

fn drift_checks(
    panel: &PricePanel,
    params: StrategyParams,
    settings: &MonitorSettings,
    train: Range<usize>,
) -> Vec<Check> {
    let days = panel.n_days();
    // Recent days inside the train window would compare the scores partly with themselves, and
    // read as "no drift": not a verdict either check can give.
    let after_train = days - train.end;
    if settings.recent_days > after_train {
        let detail = format!(
            "not comparable: the last {} days (monitor.recent_days) reach into the train window, \
             which ends on {}; at most {after_train} fit after it",
            settings.recent_days,
            panel.dates()[train.end - 1]
        );
        return [("psi", settings.psi_threshold), ("ks", settings.ks_alpha)]
            .map(|(name, threshold)| Check {
                name,
                value: None,
                threshold,
                breached: false,
                detail: detail.clone(),
            })
            .into();
    }
    let recent_start = (days - settings.recent_days).max(params.lookback);
    // The train window's days that have a score (as the backtest's first rebalance is
    // `max(start, L)`).
    let train = train.start.max(params.lookback)..train.end;
    let reference = pooled_scores(panel, params, train.clone(), 1);
    let recent = pooled_scores(panel, params, recent_start..days, 1);
    let psi = population_stability_index(&reference, &recent);
    let sizes = format!(
        "{} recent scores against {} from the train window",
        recent.len(),
        reference.len()
    );
    drop(reference);
    let spacing = params.lookback - params.skip;
    let reference_spaced = pooled_scores(panel, params, train, spacing);
    let recent_spaced = pooled_scores(panel, params, recent_start..days, spacing);
    let ks = kolmogorov_smirnov(&reference_spaced, &recent_spaced);
    let spaced_sizes = format!(
        "{} recent scores against {} from the train window, days {spacing} apart",
        recent_spaced.len(),
        reference_spaced.len()
    );
    vec![
        Check {
            name: "psi",
            value: psi,
            threshold: settings.psi_threshold,
            breached: psi.is_some_and(|v| v > settings.psi_threshold),
            detail: format!("population stability index of momentum scores, {sizes}"),
        },
        Check {
            name: "ks",
            value: ks.map(|k| k.p_value),
            threshold: settings.ks_alpha,
            breached: ks.is_some_and(|k| k.p_value < settings.ks_alpha),
            detail: match ks {
                Some(k) => format!(
                    "Kolmogorov-Smirnov D = {:.4}, p = {:.4}, {spaced_sizes}",
                    k.statistic, k.p_value
                ),
                None => format!("not enough data: {spaced_sizes}"),
            },
        },
    ]
}

/// Every eligible ticker's score on the days of `days` taken `step` apart, counted back from
/// the range's last day (the features crate's code path), in ascending order: the drift
/// statistics sort their samples, and sorted here in place they are not copied there.
///
/// PSI is descriptive and pools every day. The KS test needs close to independent samples:
/// scores of consecutive days share almost all of their return window, so pooling every day
/// counts the same information up to `L - S` times and makes the test reject stable data; it
/// takes days `L - S` apart so that no two scores of a ticker share a window.
fn pooled_scores(
    panel: &PricePanel,
    params: StrategyParams,
    days: std::ops::Range<usize>,
    step: usize,
) -> Vec<f64> {
    let mut row = vec![f64::NAN; panel.n_tickers()];
    // At most one score per ticker and day taken: reserved once, instead of a doubling that
    // can hold twice the scores.
    let mut pooled = Vec::with_capacity(days.len().div_ceil(step) * panel.n_tickers());
    for t in days.rev().step_by(step) {
        if momentum_scores(panel, t, params.lookback, params.skip, &mut row).is_ok() {
            pooled.extend(row.iter().copied().filter(|s| s.is_finite()));
        }
    }
    pooled.sort_by(f64::total_cmp);
    pooled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_without_a_statistic_says_which_data_is_missing() {
        let two = [0.01, 0.02];
        for (live, promised, expected) in [
            (
                &two[..1],
                true,
                "not enough data: 1 live periods (2 needed)",
            ),
            (
                &two[..],
                false,
                "not enough data: no backtest period before the first scan",
            ),
            (
                &[][..],
                false,
                "not enough data: 0 live periods (2 needed) and no backtest period before the \
                 first scan",
            ),
            (
                &[0.01, 0.01][..],
                true,
                "not enough data: 2 live periods of the same return",
            ),
        ] {
            assert_eq!(not_enough(live, promised), expected);
        }
        // The Sharpe check of two equal returns has no spread to divide by.
        assert_eq!(
            sharpe_check(&[0.01, 0.01], Some(0.5), 0.05).detail,
            "not enough data: 2 live periods of the same return"
        );
        // Enough live periods, no promise: the mean check says so, not "2 needed".
        assert_eq!(
            mean_return_check(&[0.01, 0.03, 0.02, 0.0], None, 0.05).detail,
            "not enough data: no backtest period before the first scan"
        );
    }
}
