//! The numbers behind the charts, computed from an equity curve: drawdown, calendar-month
//! returns, rolling one-year Sharpe ratio and volatility, and the distribution of daily
//! returns against a normal with the same mean and standard deviation.
//!
//! Conventions are the engine's (`strategy-spec.md`): daily return `r_u = V_u / V_(u-1) - 1`,
//! standard deviation with ddof 1, 252 trading days a year, risk-free rate 0.

use chrono::{Datelike, NaiveDate};
use momentum_engine::DAYS_PER_YEAR;

/// Each day's drawdown from the running peak, `V_u / max_(s<=u) V_s - 1`: 0 at a new high,
/// negative below it.
pub(crate) fn drawdown(values: &[f64]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    values
        .iter()
        .map(|&v| {
            peak = peak.max(v);
            v / peak - 1.0
        })
        .collect()
}

/// Daily returns `V_u / V_(u-1) - 1`, one fewer than the values.
pub(crate) fn daily_returns(values: &[f64]) -> Vec<f64> {
    values.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
}

/// The return of one calendar month.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MonthReturn {
    pub(crate) year: i32,
    /// 1 to 12.
    pub(crate) month: u32,
    pub(crate) value: f64,
}

/// The return of each calendar month the curve covers: the month's last value over the last
/// value before the month (the curve's first value for its first month), minus 1.
pub(crate) fn monthly_returns(dates: &[NaiveDate], values: &[f64]) -> Vec<MonthReturn> {
    let mut out: Vec<MonthReturn> = Vec::new();
    let Some(&first) = values.first() else {
        return out;
    };
    let mut base = first;
    let mut current: Option<(i32, u32, f64)> = None;
    for (date, &value) in dates.iter().zip(values) {
        let key = (date.year(), date.month());
        match current {
            Some((year, month, last)) if (year, month) != key => {
                out.push(MonthReturn {
                    year,
                    month,
                    value: last / base - 1.0,
                });
                base = last;
            }
            _ => {}
        }
        current = Some((key.0, key.1, value));
    }
    if let Some((year, month, last)) = current {
        out.push(MonthReturn {
            year,
            month,
            value: last / base - 1.0,
        });
    }
    out
}

/// Annualised Sharpe ratio and volatility of each run of `window` consecutive daily returns:
/// element `j` covers returns `j..j + window`. `mean / std * sqrt(252)` (0 when the std is
/// 0) and `std * sqrt(252)`, std with ddof 1. Empty when there are fewer returns than
/// `window` (or `window < 2`).
pub(crate) fn rolling(returns: &[f64], window: usize) -> Vec<(f64, f64)> {
    if window < 2 || returns.len() < window {
        return Vec::new();
    }
    #[expect(clippy::cast_precision_loss, reason = "a window of days")]
    let n = window as f64;
    let year = DAYS_PER_YEAR.sqrt();
    // Running sums, recomputed from scratch every `window` steps so rounding cannot drift.
    let (mut sum, mut sumsq) = (0.0, 0.0);
    (0..=returns.len() - window)
        .map(|j| {
            if j % window == 0 {
                let part = &returns[j..j + window];
                sum = part.iter().sum();
                sumsq = part.iter().map(|x| x * x).sum();
            } else {
                let (old, new) = (returns[j - 1], returns[j + window - 1]);
                sum += new - old;
                sumsq += new * new - old * old;
            }
            let mean = sum / n;
            // Below the rounding of the sums (constant returns) the spread is 0.
            let spread = sumsq - n * mean * mean;
            let spread = if spread > 64.0 * f64::EPSILON * sumsq {
                spread
            } else {
                0.0
            };
            let std = (spread / (n - 1.0)).sqrt();
            let sharpe = if std > 0.0 { mean / std * year } else { 0.0 };
            (sharpe, std * year)
        })
        .collect()
}

/// Daily returns in equal bins, and the normal with their mean and standard deviation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Histogram {
    /// Left edge of the first bin.
    pub(crate) lo: f64,
    /// Width of every bin.
    pub(crate) width: f64,
    /// Returns in each bin.
    pub(crate) counts: Vec<usize>,
    /// Mean and standard deviation (ddof 1) of all the returns.
    pub(crate) mean: f64,
    pub(crate) std: f64,
    /// Returns outside the bins (beyond four standard deviations from the mean).
    pub(crate) outside: usize,
    /// Every finite return.
    pub(crate) n: usize,
}

impl Histogram {
    /// `bins` equal bins over the mean plus or minus four standard deviations; `None` for
    /// fewer than two finite returns or no spread.
    pub(crate) fn of(returns: &[f64], bins: usize) -> Option<Self> {
        let finite: Vec<f64> = returns.iter().copied().filter(|r| r.is_finite()).collect();
        #[expect(clippy::cast_precision_loss, reason = "a count of days")]
        let n = finite.len() as f64;
        if finite.len() < 2 || bins == 0 {
            return None;
        }
        let mean = finite.iter().sum::<f64>() / n;
        let std = (finite.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        if std <= 0.0 {
            return None;
        }
        let lo = mean - 4.0 * std;
        #[expect(clippy::cast_precision_loss, reason = "a few dozen bins")]
        let width = 8.0 * std / bins as f64;
        let mut counts = vec![0; bins];
        let mut outside = 0;
        for r in &finite {
            let at = ((r - lo) / width).floor();
            #[expect(clippy::cast_precision_loss, reason = "a few dozen bins")]
            if at >= 0.0 && at < bins as f64 {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "in [0, bins)"
                )]
                let i = at as usize;
                counts[i] += 1;
            } else {
                outside += 1;
            }
        }
        Some(Self {
            lo,
            width,
            counts,
            mean,
            std,
            outside,
            n: finite.len(),
        })
    }

    /// How many of the returns a normal with the same mean and std would put in a bin
    /// centred on `x`: `n * width * pdf(x)`.
    pub(crate) fn normal_count(&self, x: f64) -> f64 {
        let z = (x - self.mean) / self.std;
        #[expect(clippy::cast_precision_loss, reason = "a count of days")]
        let n = self.n as f64;
        n * self.width * (-0.5 * z * z).exp() / (self.std * (2.0 * std::f64::consts::PI).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn drawdown_is_measured_from_the_running_peak() {
        // Peak 2 then 1.5 is 25 % below it; 3 is a new high; 2.4 is 20 % below that.
        let dd = drawdown(&[1.0, 2.0, 1.5, 3.0, 2.4]);
        let expected = [0.0, 0.0, -0.25, 0.0, -0.2];
        for (a, b) in dd.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{dd:?}");
        }
    }

    #[test]
    fn a_month_compounds_from_the_last_value_before_it() {
        let dates = [
            day(2024, 1, 30),
            day(2024, 1, 31),
            day(2024, 2, 1),
            day(2024, 2, 29),
            day(2024, 3, 1),
        ];
        let values = [1.0, 1.1, 1.21, 0.99, 1.089];
        let months = monthly_returns(&dates, &values);
        // January: 1.1 / 1.0 - 1; February: 0.99 / 1.1 - 1 = -10 %; March: 1.089 / 0.99 - 1.
        let expected = [(2024, 1, 0.1), (2024, 2, -0.1), (2024, 3, 0.1)];
        assert_eq!(months.len(), 3);
        for (m, (year, month, value)) in months.iter().zip(expected) {
            assert_eq!((m.year, m.month), (year, month));
            assert!((m.value - value).abs() < 1e-12, "{months:?}");
        }
        assert!(monthly_returns(&[], &[]).is_empty());
    }

    #[test]
    fn rolling_statistics_match_a_window_computed_by_hand() {
        // Returns 1 %, 3 %, 2 %, 4 % in windows of 3: (1, 3, 2) has mean 2 and sample std 1;
        // (3, 2, 4) has mean 3 and sample std 1 (all in %).
        let returns = [0.01, 0.03, 0.02, 0.04];
        let out = rolling(&returns, 3);
        let year = 252f64.sqrt();
        assert_eq!(out.len(), 2);
        assert!((out[0].0 - 2.0 * year).abs() < 1e-9 && (out[0].1 - 0.01 * year).abs() < 1e-12);
        assert!((out[1].0 - 3.0 * year).abs() < 1e-9 && (out[1].1 - 0.01 * year).abs() < 1e-12);
        assert!(rolling(&returns, 5).is_empty());
        // No spread: Sharpe 0, volatility 0.
        assert_eq!(rolling(&[0.01; 4], 2), vec![(0.0, 0.0); 3]);
    }

    #[test]
    fn rolling_sums_agree_with_recomputing_each_window() {
        let returns: Vec<f64> = (0..600)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) * 1e-4)
            .collect();
        let fast = rolling(&returns, 252);
        for (j, (sharpe, vol)) in fast.iter().enumerate() {
            let part = &returns[j..j + 252];
            let mean = part.iter().sum::<f64>() / 252.0;
            let std = (part.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 251.0).sqrt();
            assert!((vol - std * 252f64.sqrt()).abs() < 1e-12, "day {j}");
            assert!(
                (sharpe - mean / std * 252f64.sqrt()).abs() < 1e-9,
                "day {j}"
            );
        }
    }

    #[test]
    fn the_histogram_bins_returns_and_scales_the_normal_to_counts() {
        // Mean 0, sample std of (-1, 1) is sqrt(2); one far outlier would widen it, so none.
        let h = Histogram::of(&[-1.0, 1.0, f64::NAN], 8).unwrap();
        let s = 2f64.sqrt();
        assert!((h.mean).abs() < 1e-12 && (h.std - s).abs() < 1e-12);
        assert!((h.lo + 4.0 * s).abs() < 1e-12 && (h.width - s).abs() < 1e-12);
        // -1 is in bin floor((4s - 1) / s) = 3, 1 in bin floor((4s + 1) / s) = 4.
        assert_eq!(h.counts, [0, 0, 0, 1, 1, 0, 0, 0]);
        assert_eq!((h.n, h.outside), (2, 0));
        // At the mean: 2 * sqrt(2) / (sqrt(2) * sqrt(2 pi)) = 2 / sqrt(2 pi).
        let peak = 2.0 / (2.0 * std::f64::consts::PI).sqrt();
        assert!((h.normal_count(0.0) - peak).abs() < 1e-12);
        assert!(Histogram::of(&[0.5, 0.5], 8).is_none());
        assert!(Histogram::of(&[0.5], 8).is_none());
    }
}
