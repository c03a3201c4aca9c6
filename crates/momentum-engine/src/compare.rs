//! Champion against challenger: is the challenger's Sharpe ratio really higher? (issue #23)
//!
//! This module owns the statistics of an A/B comparison of two aligned daily simple-return
//! series, the production model's (the *champion*, series 1) and a candidate's (the
//! *challenger*, series 2), over the same `T` days:
//!
//! - [`sharpe_difference_hac`]: the HAC test of `delta = SR_challenger - SR_champion = 0` of
//!   Ledoit and Wolf (2008), section 3.1;
//! - [`sharpe_difference_bootstrap`]: their studentized circular block bootstrap, section 3.2,
//!   giving a 95 % interval for `delta` and the p-value of their Remark 3.2;
//! - [`diebold_mariano`]: the Diebold-Mariano test of the mean daily return difference;
//! - [`compare`]: all three at once, the input of a promotion decision.
//!
//! The inputs are checked once, by [`PairedReturns::new`].
//!
//! # Conventions
//!
//! Sharpe ratios are daily, with the paper's moments divided by `T` (ddof 0):
//! `SR = mu / sqrt(gamma - mu^2)`, `mu = mean(r)`, `gamma = mean(r^2)`, risk-free rate 0. (The
//! backtest's `sharpe` metric uses ddof 1; the ratio of the two is `sqrt((T - 1) / T)` and
//! cancels in no test statistic here.) Annualised values are daily ones times `sqrt(252)`.
//!
//! With `v = (mu1, mu2, gamma1, gamma2)` and `s_i = sqrt(gamma_i - mu_i^2)`, the difference is
//! `delta = f(v) = mu2 / s2 - mu1 / s1` and its gradient, from
//! `d/dmu [mu (gamma - mu^2)^(-1/2)] = gamma / s^3` and `d/dgamma = -mu / (2 s^3)`, is
//!
//! `grad f = (-gamma1 / s1^3, gamma2 / s2^3, mu1 / (2 s1^3), -mu2 / (2 s2^3))`,
//!
//! the negative of the paper's, whose difference is `SR1 - SR2`: standard errors are the same.
//!
//! # How it is computed
//!
//! Only `grad' Psi grad` is ever needed, never `Psi` itself. Since
//! `grad' Gj grad = (1/T) sum_t u_t u_{t-j}` for `u_t = grad . y_t`, the Newey-West quadratic
//! form is the Newey-West long-run variance of the scalar series `u_t`, which is also the
//! Diebold-Mariano denominator: one function, [`newey_west_variance`], serves both. In the
//! bootstrap, a resample is a list of block start days, and every sum it needs is a sum of
//! per-start block sums of `(r1, r2, r1^2, r2^2)` computed once, so a replication costs
//! `O(T / b)` instead of `O(T)`. The reference implementation in
//! `tests/reference/ab_reference.py` builds the 4 x 4 matrices and the resampled series
//! explicitly, and the integration tests pin this module to it.
//!
//! # References
//!
//! - Ledoit, O. and Wolf, M. (2008), "Robust performance hypothesis testing with the Sharpe
//!   ratio", Journal of Empirical Finance 15(5), 850-859, sections 3.1 and 3.2.
//! - Newey, W. K. and West, K. D. (1987), "A simple, positive semi-definite,
//!   heteroskedasticity and autocorrelation consistent covariance matrix", Econometrica 55(3),
//!   703-708; the lag rule `floor(4 (T/100)^(2/9))` is Newey and West (1994).
//! - Politis, D. N. and Romano, J. P. (1992), "A circular block-resampling procedure for
//!   stationary data", in *Exploring the Limits of Bootstrap*, Wiley.
//! - Goetze, F. and Kuensch, H. R. (1996), "Second-order correctness of the blockwise bootstrap
//!   for stationary observations", Annals of Statistics 24(5), 1914-1933 (the "natural"
//!   block variance estimate of a resample).
//! - Diebold, F. X. and Mariano, R. S. (1995), "Comparing predictive accuracy", Journal of
//!   Business and Economic Statistics 13(3), 253-263.
//! - Steele, G. L., Lea, D. and Flood, C. H. (2014), "Fast splittable pseudorandom number
//!   generators", OOPSLA (SplitMix64).

use std::fmt;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use statrs::distribution::ContinuousCDF;

use crate::error::{EngineError, Result};
use crate::metrics::DAYS_PER_YEAR;
use crate::stats::std_normal;

/// Default bootstrap block length `b`, in days.
pub const DEFAULT_BLOCK_LEN: usize = 5;

/// Default number of bootstrap replications `M`.
pub const DEFAULT_REPLICATIONS: usize = 5000;

/// Fewest bootstrap replications: the 95 % interval needs the `(M + 1) / 20`-th largest
/// replication, so `M + 1 >= 20`.
pub const MIN_REPLICATIONS: usize = 19;

/// Which of the two models: the one in production (the registry alias `champion`, series 1)
/// or the one that runs beside it in shadow (`challenger`, series 2). Champion sorts first.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// The model in production, series 1.
    #[default]
    Champion,
    /// The model in shadow, series 2.
    Challenger,
}

impl Arm {
    /// Both, champion first.
    pub const BOTH: [Arm; 2] = [Arm::Champion, Arm::Challenger];

    /// The registry alias: `champion` or `challenger`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Arm::Champion => "champion",
            Arm::Challenger => "challenger",
        }
    }
}

impl std::str::FromStr for Arm {
    type Err = EngineError;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "champion" => Ok(Arm::Champion),
            "challenger" => Ok(Arm::Challenger),
            _ => Err(EngineError::InvalidParameter {
                name: "alias",
                value: name.to_owned(),
                reason: "must be champion or challenger",
            }),
        }
    }
}

impl fmt::Display for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to compare: the Newey-West lag and the bootstrap's block length, replications and seed.
///
/// Read from a settings file, a missing key takes its [`Default`] value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComparisonSpec {
    /// Newey-West lag `L` of the HAC and Diebold-Mariano tests; `None` for
    /// [`newey_west_lag`]`(T)`. Must be below `T`.
    pub lag: Option<usize>,
    /// Bootstrap block length `b` in days, at least 1, and at least two blocks must fit in `T`.
    pub block_len: usize,
    /// Bootstrap replications `M`, at least [`MIN_REPLICATIONS`].
    pub replications: usize,
    /// Seed of the bootstrap; replication `m` draws from a generator keyed by `(seed, m)`, so
    /// the result depends on the seed alone, not on the thread count.
    pub seed: u64,
}

impl Default for ComparisonSpec {
    fn default() -> Self {
        Self {
            lag: None,
            block_len: DEFAULT_BLOCK_LEN,
            replications: DEFAULT_REPLICATIONS,
            seed: 0,
        }
    }
}

/// Two aligned daily simple-return series, checked: the same length, at least 2 days, every
/// value finite, neither constant.
#[derive(Debug, Clone, Copy)]
pub struct PairedReturns<'a> {
    champion: &'a [f64],
    challenger: &'a [f64],
}

impl<'a> PairedReturns<'a> {
    /// Checks the two series. Errors, in this order: [`EngineError::SeriesLengthMismatch`],
    /// [`EngineError::TooFewDays`] (fewer than 2), [`EngineError::NonFiniteReturn`] (the first
    /// bad day of the champion, then of the challenger), [`EngineError::ConstantSeries`] (no
    /// variance, so no Sharpe ratio).
    pub fn new(champion: &'a [f64], challenger: &'a [f64]) -> Result<Self> {
        if champion.len() != challenger.len() {
            return Err(EngineError::SeriesLengthMismatch {
                champion: champion.len(),
                challenger: challenger.len(),
            });
        }
        if champion.len() < 2 {
            return Err(EngineError::TooFewDays {
                days: champion.len(),
                minimum: 2,
            });
        }
        for (arm, series) in [(Arm::Champion, champion), (Arm::Challenger, challenger)] {
            if let Some(day) = series.iter().position(|r| !r.is_finite()) {
                return Err(EngineError::NonFiniteReturn {
                    arm,
                    day,
                    value: series[day],
                });
            }
        }
        let pair = Self {
            champion,
            challenger,
        };
        let moments = pair.moments();
        for (i, arm) in [Arm::Champion, Arm::Challenger].into_iter().enumerate() {
            let series = pair.series(arm);
            // Exact equality first: the rounded variance of a constant series need not be 0.
            // The variance test then catches values too small for their squares to register.
            if series.iter().all(|&r| r == series[0]) || moments.variance(i) <= 0.0 {
                return Err(EngineError::ConstantSeries { arm });
            }
        }
        Ok(pair)
    }

    /// Days `T`.
    pub fn days(&self) -> usize {
        self.champion.len()
    }

    /// The returns of one arm.
    pub fn series(&self, arm: Arm) -> &'a [f64] {
        match arm {
            Arm::Champion => self.champion,
            Arm::Challenger => self.challenger,
        }
    }

    /// `x_t = (r1, r2, r1^2, r2^2)` of day `t`: the observations whose means are `v`.
    fn observation(&self, t: usize) -> [f64; 4] {
        let (a, b) = (self.champion[t], self.challenger[t]);
        [a, b, a * a, b * b]
    }

    fn moments(&self) -> PairMoments {
        let mut sums = [0.0; 4];
        for t in 0..self.days() {
            add(&mut sums, self.observation(t));
        }
        PairMoments::from_sums(sums, self.days())
    }

    /// `lag`, or the default for `T`, refused unless below `T`.
    fn resolve_lag(&self, lag: Option<usize>) -> Result<usize> {
        let days = self.days();
        let lag = lag.unwrap_or_else(|| newey_west_lag(days));
        if lag >= days {
            return Err(EngineError::LagTooLong { lag, days });
        }
        Ok(lag)
    }
}

/// The sample moments `v = (mu1, mu2, gamma1, gamma2)` of a pair, divided by the day count.
#[derive(Debug, Clone, Copy)]
struct PairMoments([f64; 4]);

impl PairMoments {
    fn from_sums(sums: [f64; 4], days: usize) -> Self {
        #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
        let n = days as f64;
        Self(sums.map(|s| s / n))
    }

    /// `gamma_i - mu_i^2` of series `i` (0 = champion, 1 = challenger).
    fn variance(&self, i: usize) -> f64 {
        self.0[2 + i] - self.0[i] * self.0[i]
    }

    fn sharpe(&self, i: usize) -> f64 {
        self.0[i] / self.variance(i).sqrt()
    }

    /// `delta = SR_challenger - SR_champion`.
    fn delta(&self) -> f64 {
        self.sharpe(1) - self.sharpe(0)
    }

    /// `grad f(v)` of the module docs.
    fn gradient(&self) -> [f64; 4] {
        let [mu1, mu2, gamma1, gamma2] = self.0;
        let (c1, c2) = (self.variance(0).powf(1.5), self.variance(1).powf(1.5));
        [
            -gamma1 / c1,
            gamma2 / c2,
            mu1 / (2.0 * c1),
            -mu2 / (2.0 * c2),
        ]
    }
}

fn add(sums: &mut [f64; 4], x: [f64; 4]) {
    for (s, v) in sums.iter_mut().zip(x) {
        *s += v;
    }
}

fn dot(a: [f64; 4], b: [f64; 4]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]
}

/// The Newey-West lag for `days` observations, `floor(4 (T/100)^(2/9))` (Newey and West
/// 1994): 4 for a year of daily returns up to 8 for ten years (`T` = 2,520).
///
/// ```
/// use momentum_engine::newey_west_lag;
/// assert_eq!(newey_west_lag(100), 4);
/// assert_eq!(newey_west_lag(252), 4);
/// assert_eq!(newey_west_lag(2520), 8);
/// ```
#[expect(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "day counts are far below 2^52 and the lag is a small positive number"
)]
pub fn newey_west_lag(days: usize) -> usize {
    (4.0 * (days as f64 / 100.0).powf(2.0 / 9.0)).floor() as usize
}

/// The Newey-West (Bartlett kernel) long-run variance of a demeaned scalar series `u`:
/// `g0 + 2 sum_{j=1..L} (1 - j/(L+1)) gj`, `gj = (1/T) sum_{t=j+1..T} u_t u_{t-j}`. Never
/// negative up to rounding (the Bartlett weights make it a sum of squares). `lag < u.len()`.
#[expect(
    clippy::cast_precision_loss,
    reason = "lags and day counts are far below 2^52"
)]
fn newey_west_variance(u: &[f64], lag: usize) -> f64 {
    let autocovariance = |j: usize| u[j..].iter().zip(u).map(|(a, b)| a * b).sum::<f64>();
    let weighted: f64 = (1..=lag)
        .map(|j| (1.0 - j as f64 / (lag as f64 + 1.0)) * autocovariance(j))
        .sum();
    (autocovariance(0) + 2.0 * weighted) / u.len() as f64
}

/// Two-sided p-value of a standard normal statistic, `2 Phi(-|z|)` (NaN for NaN).
fn two_sided_p_value(z: f64) -> f64 {
    2.0 * std_normal().cdf(-z.abs())
}

/// Sharpe ratio of one arm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ArmSharpe {
    /// Mean daily return `mu`.
    pub mean: f64,
    /// Standard deviation of the daily returns, ddof 0: `sqrt(gamma - mu^2)`.
    pub std: f64,
    /// Daily Sharpe ratio `mean / std`.
    pub sharpe: f64,
    /// `sharpe * sqrt(252)`, for display.
    pub sharpe_annualised: f64,
}

/// The HAC test of `delta = 0` (Ledoit and Wolf 2008, section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HacTest {
    /// Newey-West lag `L`.
    pub lag: usize,
    /// Standard error of the daily `delta`, `sqrt(grad' Psi grad / T)`.
    pub se: f64,
    /// `delta / se`.
    pub z: f64,
    /// Two-sided p-value of `z` under the standard normal.
    pub p_value: f64,
}

/// The studentized circular block bootstrap of `delta` (Ledoit and Wolf 2008, section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapTest {
    /// Block length `b` in days.
    pub block_len: usize,
    /// Replications `M`.
    pub replications: usize,
    /// The seed.
    pub seed: u64,
    /// The bootstrap's 95 % quantile of `|delta* - delta| / se*`: the `(M + 1) / 20`-th largest
    /// of the `M` replications (integer division).
    pub critical_value: f64,
    /// Lower end of the symmetric 95 % interval for the daily `delta`,
    /// `delta - critical_value * se` (`se` of the HAC test).
    pub ci_low: f64,
    /// Upper end, `delta + critical_value * se`.
    pub ci_high: f64,
    /// `(#{m : |delta*_m - delta| / se*_m >= |delta| / se} + 1) / (M + 1)` (Remark 3.2).
    /// `p_value <= 0.05` exactly when 0 is outside the interval: both say that at most
    /// `floor((M + 1) / 20) - 1` replications reach `|delta| / se`.
    pub p_value: f64,
}

/// The Diebold-Mariano test of the mean daily return difference
/// `d_t = r_challenger,t - r_champion,t`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DieboldMariano {
    /// Newey-West lag `L` of the long-run variance.
    pub lag: usize,
    /// `mean(d)`, daily.
    pub mean_difference: f64,
    /// `mean(d) / sqrt(LRV / T)`, `LRV` the Newey-West long-run variance of the demeaned `d_t`.
    pub stat: f64,
    /// Two-sided p-value of `stat` under the standard normal.
    pub p_value: f64,
}

/// Everything [`compare`] finds: the inputs of a promotion decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Days `T` of each series.
    pub days: usize,
    /// The production model.
    pub champion: ArmSharpe,
    /// The candidate.
    pub challenger: ArmSharpe,
    /// `SR_challenger - SR_champion`, daily: positive when the challenger is better.
    pub delta: f64,
    /// `delta * sqrt(252)`, for display.
    pub delta_annualised: f64,
    /// [`sharpe_difference_hac`].
    pub hac: HacTest,
    /// [`sharpe_difference_bootstrap`].
    pub bootstrap: BootstrapTest,
    /// [`diebold_mariano`].
    pub diebold_mariano: DieboldMariano,
}

/// Compares a champion's and a challenger's aligned daily simple returns: both Sharpe ratios,
/// their difference, the HAC and bootstrap tests of it, and the Diebold-Mariano test of the
/// mean return difference.
///
/// Errors: those of [`PairedReturns::new`], [`sharpe_difference_hac`],
/// [`sharpe_difference_bootstrap`] and [`diebold_mariano`].
///
/// ```
/// use momentum_engine::{ComparisonSpec, compare};
///
/// // A challenger that earns 0.1 % a day more for the same risk, for a year.
/// let champion: Vec<f64> = (0..252).map(|t| 0.01 * ((t * 7 % 13) as f64 / 6.0 - 1.0)).collect();
/// let challenger: Vec<f64> = champion.iter().map(|r| r + 0.001).collect::<Vec<_>>()
///     .into_iter().rev().collect();
/// let spec = ComparisonSpec { replications: 999, ..ComparisonSpec::default() };
/// let ab = compare(&champion, &challenger, &spec)?;
/// assert!(ab.delta > 0.0);
/// assert!((ab.delta_annualised - ab.delta * 252f64.sqrt()).abs() < 1e-12);
/// assert_eq!(ab.hac.lag, 4);
/// assert!(ab.bootstrap.ci_low < ab.delta && ab.delta < ab.bootstrap.ci_high);
/// # Ok::<(), momentum_engine::EngineError>(())
/// ```
pub fn compare(champion: &[f64], challenger: &[f64], spec: &ComparisonSpec) -> Result<Comparison> {
    let pair = PairedReturns::new(champion, challenger)?;
    let moments = pair.moments();
    let sqrt_year = DAYS_PER_YEAR.sqrt();
    let arm = |i: usize| {
        let sharpe = moments.sharpe(i);
        ArmSharpe {
            mean: moments.0[i],
            std: moments.variance(i).sqrt(),
            sharpe,
            sharpe_annualised: sharpe * sqrt_year,
        }
    };
    let delta = moments.delta();
    let hac = sharpe_difference_hac(&pair, spec.lag)?;
    Ok(Comparison {
        days: pair.days(),
        champion: arm(0),
        challenger: arm(1),
        delta,
        delta_annualised: delta * sqrt_year,
        hac,
        bootstrap: bootstrap_studentized_by(&pair, spec, &hac)?,
        diebold_mariano: diebold_mariano(&pair, spec.lag)?,
    })
}

/// The HAC test of `delta = SR_challenger - SR_champion = 0` (Ledoit and Wolf 2008, section
/// 3.1): the delta method on `v = (mu1, mu2, gamma1, gamma2)` with the Newey-West estimate
///
/// `Psi = G0 + sum_{j=1..L} (1 - j/(L+1)) (Gj + Gj')`, `Gj = (1/T) sum_{t=j+1..T} y_t y_{t-j}'`
///
/// of the demeaned `y_t = (r1 - mu1, r2 - mu2, r1^2 - gamma1, r2^2 - gamma2)`,
/// `se = sqrt(grad' Psi grad / T)` (gradient in the module docs), `z = delta / se` and a
/// standard normal two-sided p-value. `lag`: `None` for [`newey_west_lag`]`(T)`.
///
/// Errors: [`EngineError::LagTooLong`] when the lag is not below `T`;
/// [`EngineError::ZeroStandardError`] when `se` is 0 (for instance identical series).
///
/// # References
/// Ledoit, O. and Wolf, M. (2008), "Robust performance hypothesis testing with the Sharpe
/// ratio", Journal of Empirical Finance 15(5), section 3.1.
pub fn sharpe_difference_hac(pair: &PairedReturns<'_>, lag: Option<usize>) -> Result<HacTest> {
    let lag = pair.resolve_lag(lag)?;
    let moments = pair.moments();
    let gradient = moments.gradient();
    // grad' Gj grad = (1/T) sum_t u_t u_{t-j} with u_t = grad . y_t: the quadratic form of the
    // Newey-West matrix is the Newey-West variance of u.
    let u: Vec<f64> = (0..pair.days())
        .map(|t| {
            let x = pair.observation(t);
            dot(gradient, std::array::from_fn(|k| x[k] - moments.0[k]))
        })
        .collect();
    let se = standard_error(newey_west_variance(&u, lag), pair.days(), "hac")?;
    let z = moments.delta() / se;
    Ok(HacTest {
        lag,
        se,
        z,
        p_value: two_sided_p_value(z),
    })
}

/// `sqrt(variance / days)`, refused when 0 (the statistic would be 0/0 or infinite).
fn standard_error(variance: f64, days: usize, test: &'static str) -> Result<f64> {
    #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
    let se = (variance / days as f64).sqrt();
    if se > 0.0 {
        Ok(se)
    } else {
        Err(EngineError::ZeroStandardError { test })
    }
}

/// The Diebold-Mariano test of `mean(d) = 0` for `d_t = r_challenger,t - r_champion,t`:
/// `stat = mean(d) / sqrt(LRV / T)`, `LRV` the Newey-West (Bartlett) long-run variance of the
/// demeaned `d_t` with the lag of [`sharpe_difference_hac`], and a standard normal two-sided
/// p-value.
///
/// Errors: [`EngineError::LagTooLong`]; [`EngineError::ZeroStandardError`] when `d_t` is
/// constant (the challenger earns the champion's returns plus a constant).
///
/// # References
/// Diebold, F. X. and Mariano, R. S. (1995), "Comparing predictive accuracy", Journal of
/// Business and Economic Statistics 13(3), with the loss differential `-d_t`.
pub fn diebold_mariano(pair: &PairedReturns<'_>, lag: Option<usize>) -> Result<DieboldMariano> {
    let lag = pair.resolve_lag(lag)?;
    let d: Vec<f64> = pair
        .challenger
        .iter()
        .zip(pair.champion)
        .map(|(b, a)| b - a)
        .collect();
    #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
    let mean_difference = d.iter().sum::<f64>() / d.len() as f64;
    let demeaned: Vec<f64> = d.iter().map(|x| x - mean_difference).collect();
    let se = standard_error(
        newey_west_variance(&demeaned, lag),
        d.len(),
        "diebold_mariano",
    )?;
    let stat = mean_difference / se;
    Ok(DieboldMariano {
        lag,
        mean_difference,
        stat,
        p_value: two_sided_p_value(stat),
    })
}

/// The studentized circular block bootstrap of `delta` (Ledoit and Wolf 2008, section 3.2).
///
/// Each of the `M` replications `m` resamples `l = floor(T / b)` blocks of `b` consecutive
/// days, the pairs `(r1, r2)` kept together, each block starting on a uniformly drawn day and
/// wrapping from the last day to the first (circular); the resample has `T* = l b` days. On it:
/// `delta*_m`, and the "natural" standard error of the paper (Goetze and Kuensch 1996)
/// `se*_m = sqrt(grad*' Psi* grad* / T*)` with `Psi* = (1/l) sum_j zeta_j zeta_j'`, `zeta_j =
/// sqrt(b)` times the mean of `y*` over block `j`, `y*` demeaned by the resample's own means.
/// The original statistic is studentized by the HAC `se` of [`sharpe_difference_hac`] with
/// `spec.lag`. Then, with `s_m = |delta*_m - delta| / se*_m`:
///
/// - `p_value = (#{m : s_m >= |delta| / se} + 1) / (M + 1)` (Remark 3.2);
/// - `critical_value` = the `k`-th smallest `s_m`, `k = M + 1 - floor((M + 1) / 20)`, and the
///   interval `delta -+ critical_value * se` (the symmetric studentized interval of section 3.2).
///
/// A replication with `se*_m = 0` (a resample with no variation left) counts as `s_m = +inf`:
/// it widens the interval and raises the p-value, never the reverse.
///
/// Replication `m` draws its block starts from SplitMix64 started at
/// `mix(seed) ^ mix(m + 1)` (`mix` its output function), taking `floor(x * T / 2^64)` of each
/// 64-bit output `x`; replications run in parallel and the result is the same, bit for bit,
/// on any number of threads.
///
/// Errors: those of [`sharpe_difference_hac`]; [`EngineError::InvalidParameter`] for a
/// `block_len` of 0 or above `T / 2` (fewer than two blocks leave `Psi* = 0`), or fewer than
/// [`MIN_REPLICATIONS`] replications.
///
/// # Deviations from the paper and the authors' R code
/// - The original statistic is studentized by the Newey-West (Bartlett, fixed lag rule)
///   estimate of section 3.1, so the HAC test and the bootstrap share one `se`; the authors'
///   code uses a prewhitened Parzen-kernel estimate (Andrews and Monahan 1992 prewhitening,
///   Andrews 1991 automatic bandwidth, a `T / (T - 4)` factor).
/// - The paper assumes `b` divides `T`. Otherwise the resample here, as in the authors' code,
///   is `l b < T` days long; `se*` then divides by `l b`, where their code divides by `T`
///   (the same when `b` divides `T`).
/// - `delta` uses the moments divided by `T` everywhere, as the paper's formulas do; the
///   authors' code takes the point estimate with `sd` (divided by `T - 1`).
/// - The paper's data-driven choice of `b` (its calibration algorithm) is not implemented.
/// - The paper's interval uses the "1 - alpha quantile" of the `s_m`; here it is the exact
///   order statistic above, and a replication with `se* = 0` counts as `+inf`.
///
/// # References
/// Ledoit, O. and Wolf, M. (2008), "Robust performance hypothesis testing with the Sharpe
/// ratio", Journal of Empirical Finance 15(5), section 3.2 and Remark 3.2; Politis, D. N. and
/// Romano, J. P. (1992), the circular block bootstrap.
pub fn sharpe_difference_bootstrap(
    pair: &PairedReturns<'_>,
    spec: &ComparisonSpec,
) -> Result<BootstrapTest> {
    let hac = sharpe_difference_hac(pair, spec.lag)?;
    bootstrap_studentized_by(pair, spec, &hac)
}

/// [`sharpe_difference_bootstrap`] with the original statistic's HAC test already computed.
fn bootstrap_studentized_by(
    pair: &PairedReturns<'_>,
    spec: &ComparisonSpec,
    hac: &HacTest,
) -> Result<BootstrapTest> {
    let days = pair.days();
    let (block_len, replications) = (spec.block_len, spec.replications);
    if block_len == 0 || days / block_len < 2 {
        return Err(EngineError::InvalidParameter {
            name: "block_len",
            value: block_len.to_string(),
            reason: "must be at least 1 and fit at least twice in the series",
        });
    }
    if replications < MIN_REPLICATIONS {
        return Err(EngineError::InvalidParameter {
            name: "replications",
            value: replications.to_string(),
            reason: "must be at least 19 for a 95 % interval",
        });
    }
    let delta = pair.moments().delta();
    let blocks = Blocks::new(pair, block_len);
    let studentized: Vec<f64> = (0..replications)
        .into_par_iter()
        .map_init(
            || Vec::with_capacity(blocks.per_resample),
            |starts, m| {
                let mut rng = SplitMix64::for_replication(spec.seed, m as u64);
                blocks.studentized_distance(&mut rng, starts, delta)
            },
        )
        .collect();
    let observed = delta.abs() / hac.se;
    let at_least_as_extreme = studentized.iter().filter(|&&s| s >= observed).count();
    let mut sorted = studentized;
    sorted.sort_unstable_by(f64::total_cmp);
    let critical_value = sorted[replications - (replications + 1) / 20];
    #[expect(
        clippy::cast_precision_loss,
        reason = "replication counts are far below 2^52"
    )]
    let p_value = (at_least_as_extreme + 1) as f64 / (replications + 1) as f64;
    Ok(BootstrapTest {
        block_len,
        replications,
        seed: spec.seed,
        critical_value,
        ci_low: delta - critical_value * hac.se,
        ci_high: delta + critical_value * hac.se,
        p_value,
    })
}

/// The circular blocks of a pair: the sums of `x_t = (r1, r2, r1^2, r2^2)` over the `b` days
/// from each possible start, computed once and shared by all replications.
struct Blocks {
    block_len: usize,
    /// Blocks per resample, `l = floor(T / b)`.
    per_resample: usize,
    /// `sums[s] = sum_{i < b} x_{(s + i) mod T}`.
    sums: Vec<[f64; 4]>,
}

impl Blocks {
    fn new(pair: &PairedReturns<'_>, block_len: usize) -> Self {
        let days = pair.days();
        let sums = (0..days)
            .map(|start| {
                let mut sum = [0.0; 4];
                for i in 0..block_len {
                    add(&mut sum, pair.observation((start + i) % days));
                }
                sum
            })
            .collect();
        Self {
            block_len,
            per_resample: days / block_len,
            sums,
        }
    }

    /// One replication: draws the block starts into `starts` and returns
    /// `|delta* - delta| / se*` (`+inf` when `se*` is 0).
    fn studentized_distance(
        &self,
        rng: &mut SplitMix64,
        starts: &mut Vec<usize>,
        delta: f64,
    ) -> f64 {
        starts.clear();
        let mut total = [0.0; 4];
        for _ in 0..self.per_resample {
            let start = rng.below(self.sums.len());
            starts.push(start);
            add(&mut total, self.sums[start]);
        }
        let resample_days = self.per_resample * self.block_len;
        let moments = PairMoments::from_sums(total, resample_days);
        let gradient = moments.gradient();
        #[expect(
            clippy::cast_precision_loss,
            reason = "block lengths are far below 2^52"
        )]
        let b = self.block_len as f64;
        // grad' zeta_j = (grad . (block sum - b v*)) / sqrt(b), so
        // grad' Psi* grad = (1/l) sum_j (grad' zeta_j)^2 = sum_j (grad . (sum_j - b v*))^2 / (l b)
        // = sum_j (...)^2 / T*, and se*^2 = that / T*.
        let quadratic: f64 = starts
            .iter()
            .map(|&s| {
                let sum = self.sums[s];
                let centred = dot(gradient, std::array::from_fn(|k| sum[k] - b * moments.0[k]));
                centred * centred
            })
            .sum();
        #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
        let se = quadratic.sqrt() / resample_days as f64;
        let distance = (moments.delta() - delta).abs() / se;
        // 0/0 and x/0, and a NaN from a resample without variance, all count as extreme.
        if se > 0.0 && distance.is_finite() {
            distance
        } else {
            f64::INFINITY
        }
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): 64 bits of state, a Weyl sequence through a mixing
/// function. Written out here rather than taken from `rand` because its output is fixed by its
/// definition, so a seed gives the same bootstrap (or the same synthetic benchmark data) on
/// every version and machine, and a generator per replication costs one `u64`.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    /// The output function, a bijection of `u64`.
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The generator of replication `m`: a state keyed by both, so replications neither share
    /// a generator nor depend on which thread runs them. Distinct `m` get distinct states, at
    /// pseudo-random points of the `2^64`-long sequence, far apart compared with the few
    /// hundred draws each makes.
    pub(crate) fn for_replication(seed: u64, m: u64) -> Self {
        Self(Self::mix(seed) ^ Self::mix(m.wrapping_add(1)))
    }

    /// The generator whose state starts at `seed` (Vigna's reference `splitmix64.c`).
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next output.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(Self::GOLDEN_GAMMA);
        Self::mix(self.0)
    }

    /// Uniform in `[0, 1)`, from the top 53 bits of the next output.
    pub fn uniform(&mut self) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "53 bits are exact in an f64")]
        let mantissa = (self.next_u64() >> 11) as f64;
        mantissa / (1u64 << 53) as f64
    }

    /// A uniform integer in `[0, n)`: the high word of `x * n` (Lemire 2019), biased by at most
    /// `n / 2^64`, far below anything a bootstrap can see.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * n as u128;
        #[expect(clippy::cast_possible_truncation, reason = "the high word is below n")]
        let index = (wide >> 64) as usize;
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_published_reference_values() {
        // The first outputs of SplitMix64 seeded with 0 in Vigna's reference implementation
        // (splitmix64.c): state 0 gives 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, ...
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn below_stays_in_range_and_reaches_both_ends() {
        let mut rng = SplitMix64::for_replication(7, 0);
        let draws: Vec<usize> = (0..2000).map(|_| rng.below(5)).collect();
        assert!(draws.iter().all(|&d| d < 5));
        for value in 0..5 {
            assert!(draws.contains(&value), "{value} never drawn");
        }
    }

    #[test]
    fn newey_west_variance_by_hand() {
        // u = (1, -1, 1, -1): g0 = 4/4 = 1, g1 = (-1 -1 -1)/4 = -3/4, g2 = 2/4.
        let u = [1.0, -1.0, 1.0, -1.0];
        assert_eq!(newey_west_variance(&u, 0), 1.0);
        // L = 1: 1 + 2 (1/2)(-3/4) = 1/4.
        assert_eq!(newey_west_variance(&u, 1), 0.25);
        // L = 2: 1 + 2 ((2/3)(-3/4) + (1/3)(1/2)) = 1 - 1 + 1/3.
        assert!((newey_west_variance(&u, 2) - 1.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn the_gradient_matches_finite_differences() {
        let v = PairMoments([0.001, -0.0004, 0.0002, 0.00015]);
        let gradient = v.gradient();
        for (k, &g) in gradient.iter().enumerate() {
            let h = 1e-9;
            let (mut up, mut down) = (v, v);
            up.0[k] += h;
            down.0[k] -= h;
            let numeric = (up.delta() - down.delta()) / (2.0 * h);
            assert!(
                (numeric - g).abs() <= 1e-5 * g.abs().max(1.0),
                "{k}: {numeric} vs {g}"
            );
        }
    }
}
