//! Return series and trailing volatility.

use ndarray::Array2;

use crate::error::{FeaturesError, Result};
use crate::momentum::is_valid;
use crate::panel::PricePanel;

/// Simple daily returns `r[t, i] = P[t, i] / P[t-1, i] - 1`; NaN on day 0 and wherever either
/// price is missing or not positive (no carrying across gaps).
///
/// # Example
/// ```
/// use momentum_features::{PricePanel, log_returns, simple_returns};
/// let dates = (1..=3).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
/// let close = ndarray::array![[10.0], [11.0], [f64::NAN]];
/// let panel = PricePanel::new(dates, vec!["A".into()], close)?;
/// let r = simple_returns(&panel);
/// assert!(r[[0, 0]].is_nan() && r[[2, 0]].is_nan()); // no day before day 0, no price on day 2
/// assert!((r[[1, 0]] - 0.1).abs() < 1e-12);
/// assert!((log_returns(&panel)[[1, 0]] - 1.1_f64.ln()).abs() < 1e-12);
/// # Ok::<(), momentum_features::FeaturesError>(())
/// ```
pub fn simple_returns(panel: &PricePanel) -> Array2<f64> {
    map_pairs(panel, |a, b| b / a - 1.0)
}

/// Log daily returns `ln(P[t, i] / P[t-1, i])`, with the same NaN rules as [`simple_returns`].
pub fn log_returns(panel: &PricePanel) -> Array2<f64> {
    map_pairs(panel, |a, b| (b / a).ln())
}

fn map_pairs(panel: &PricePanel, f: impl Fn(f64, f64) -> f64) -> Array2<f64> {
    let close = panel.close();
    let (t_len, n) = close.dim();
    let mut out = Array2::from_elem((t_len, n), f64::NAN);
    for t in 1..t_len {
        for i in 0..n {
            let (a, b) = (close[[t - 1, i]], close[[t, i]]);
            if is_valid(a) && is_valid(b) {
                out[[t, i]] = f(a, b);
            }
        }
    }
    out
}

/// Trailing volatility on day `t`: the sample standard deviation (ddof = 1, daily, not
/// annualised) of the `window` simple returns ending on day `t` (`t-window+1 ..= t`), one value
/// per ticker in `out`; NaN when any of those returns is missing.
///
/// # Errors
/// [`FeaturesError::InvalidParameter`] when `window < 2` or `t < window` or `t` is past the panel;
/// [`FeaturesError::BufferLength`] when `out` is not `N` long.
///
/// # Example
/// ```
/// use momentum_features::{PricePanel, trailing_volatility};
/// let dates = (1..=4).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
/// // A alternates +10 % and -10 %; B rises 1 % a day.
/// let close = ndarray::array![[100.0, 100.0], [110.0, 101.0], [99.0, 102.01], [108.9, 103.0301]];
/// let panel = PricePanel::new(dates, vec!["A".into(), "B".into()], close)?;
/// let mut vol = [0.0; 2];
/// trailing_volatility(&panel, 3, 2, &mut vol)?; // the returns of days 2 and 3: -10 % and +10 %
/// assert!((vol[0] - 0.2 / 2f64.sqrt()).abs() < 1e-12);
/// assert!(vol[1].abs() < 1e-12);
/// # Ok::<(), momentum_features::FeaturesError>(())
/// ```
pub fn trailing_volatility(
    panel: &PricePanel,
    t: usize,
    window: usize,
    out: &mut [f64],
) -> Result<()> {
    if window < 2 {
        return Err(FeaturesError::InvalidParameter {
            name: "window",
            value: window.to_string(),
            reason: "must be at least 2",
        });
    }
    if t < window || t >= panel.n_days() {
        return Err(FeaturesError::InvalidParameter {
            name: "day",
            value: t.to_string(),
            reason: "needs `window` returns before it inside the panel",
        });
    }
    if out.len() != panel.n_tickers() {
        return Err(FeaturesError::BufferLength {
            got: out.len(),
            want: panel.n_tickers(),
        });
    }
    let close = panel.close();
    for (i, slot) in out.iter_mut().enumerate() {
        let mut sum = 0.0;
        let mut sum_sq = 0.0;
        let mut ok = true;
        for u in t + 1 - window..=t {
            let (a, b) = (close[[u - 1, i]], close[[u, i]]);
            if !(is_valid(a) && is_valid(b)) {
                ok = false;
                break;
            }
            let r = b / a - 1.0;
            sum += r;
            sum_sq += r * r;
        }
        *slot = if ok {
            #[expect(clippy::cast_precision_loss, reason = "window is a small count")]
            let w = window as f64;
            let mean = sum / w;
            ((sum_sq - w * mean * mean) / (w - 1.0)).max(0.0).sqrt()
        } else {
            f64::NAN
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use ndarray::array;

    #[test]
    fn returns_and_volatility() {
        let dates = (1..=4)
            .map(|d| NaiveDate::from_ymd_opt(2024, 1, d).unwrap())
            .collect();
        let close = array![[10.0, 1.0], [11.0, f64::NAN], [9.9, 2.0], [9.9, 2.0]];
        let p = PricePanel::new(dates, vec!["A".into(), "B".into()], close).unwrap();
        let r = simple_returns(&p);
        assert!(r[[0, 0]].is_nan());
        assert!((r[[1, 0]] - 0.1).abs() < 1e-15);
        assert!(r[[2, 1]].is_nan());
        let l = log_returns(&p);
        assert!((l[[1, 0]] - 1.1f64.ln()).abs() < 1e-15);
        let mut out = [0.0; 2];
        trailing_volatility(&p, 3, 3, &mut out).unwrap();
        // returns 0.1, -0.1, 0.0: mean 0, sample variance (0.01 + 0.01) / 2 = 0.01.
        assert!((out[0] - 0.1).abs() < 1e-12, "{}", out[0]);
        assert!(out[1].is_nan());
    }
}
