//! The spec's objective metrics of a series of daily returns, computed day by day from their
//! definitions (`strategy-spec.md`, "Metrics"): the reference the CPCV tests compare with. The
//! engine's unit tests (`src/cpcv.rs`) include this file too, through `#[path]`.

use super::Objective;

/// Annualised `mean / std` (ddof 1) of `r`, two passes, 0 when the std is 0.
#[expect(clippy::cast_precision_loss, reason = "short series")]
pub fn sharpe(r: &[f64]) -> f64 {
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let var = r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    if var > 0.0 {
        mean / var.sqrt() * 252f64.sqrt()
    } else {
        0.0
    }
}

/// The spec's metric `objective` of the returns `r` chained from 1.0 (Sharpe and Sortino
/// annualised; 0 for a zero denominator).
#[expect(clippy::cast_precision_loss, reason = "short series")]
pub fn metric(objective: Objective, r: &[f64]) -> f64 {
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let (mut v, mut peak, mut drawdown) = (1.0f64, 1.0f64, 0.0f64);
    for x in r {
        v *= 1.0 + x;
        peak = peak.max(v);
        drawdown = drawdown.max(1.0 - v / peak);
    }
    match objective {
        Objective::Sharpe => sharpe(r),
        Objective::Sortino => {
            let down = (r.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / n).sqrt();
            if down == 0.0 {
                0.0
            } else {
                mean / down * 252f64.sqrt()
            }
        }
        Objective::TotalRoi => v - 1.0,
        Objective::Calmar if drawdown == 0.0 => 0.0,
        Objective::Calmar => {
            let cagr = if v <= 0.0 {
                -1.0
            } else {
                v.powf(252.0 / n) - 1.0
            };
            cagr / drawdown
        }
    }
}
