//! The momentum score shared by the backtest engine and the daily scanner.

use crate::error::{FeaturesError, Result};
use crate::panel::PricePanel;

/// Checks `lookback >= 1` and `skip < lookback`, naming the bad parameter.
pub fn validate_lookback_skip(lookback: usize, skip: usize) -> Result<()> {
    if lookback == 0 {
        return Err(FeaturesError::InvalidParameter {
            name: "lookback",
            value: lookback.to_string(),
            reason: "must be at least 1",
        });
    }
    if skip >= lookback {
        return Err(FeaturesError::InvalidParameter {
            name: "skip",
            value: skip.to_string(),
            reason: "must be smaller than lookback",
        });
    }
    Ok(())
}

/// The momentum score of every ticker on day `t`, written into `out` (one slot per ticker).
///
/// `out[i] = P[t-S, i] / P[t-L, i] - 1`, computed in `f64` exactly as written, when ticker `i`
/// is *eligible*: `P[t-S, i]`, `P[t-L, i]` and `P[t, i]` are all finite and `> 0`. An
/// ineligible ticker gets NaN. Allocates nothing.
///
/// # Errors
/// [`FeaturesError::InvalidParameter`] when `lookback == 0`, `skip >= lookback`, `t < lookback`
/// or `t` is past the panel; [`FeaturesError::BufferLength`] when `out` is not `N` long.
///
/// # Example
/// ```
/// use momentum_features::{PricePanel, momentum_scores};
/// let dates = (1..=4).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
/// let close = ndarray::array![
///     [10.0, 5.0, 8.0],
///     [11.0, 5.5, f64::NAN],
///     [12.0, 4.0, 8.0],
///     [9.0, 4.5, 8.0],
/// ];
/// let panel = PricePanel::new(dates, vec!["A".into(), "B".into(), "C".into()], close)?;
/// // On day 3 with L = 3 and S = 1: P[2] / P[0] - 1, skipping the last day's move.
/// let mut scores = [0.0; 3];
/// momentum_scores(&panel, 3, 3, 1, &mut scores)?;
/// assert_eq!(scores[..2], [12.0 / 10.0 - 1.0, 4.0 / 5.0 - 1.0]);
/// assert_eq!(scores[2], 0.0); // C's missing day 1 is not one of the three days read
/// assert!(momentum_scores(&panel, 2, 3, 1, &mut scores).is_err()); // no price 3 days back
/// # Ok::<(), momentum_features::FeaturesError>(())
/// ```
pub fn momentum_scores(
    panel: &PricePanel,
    t: usize,
    lookback: usize,
    skip: usize,
    out: &mut [f64],
) -> Result<()> {
    validate_lookback_skip(lookback, skip)?;
    if t >= panel.n_days() {
        return Err(FeaturesError::InvalidParameter {
            name: "day",
            value: t.to_string(),
            reason: "is past the end of the panel",
        });
    }
    if t < lookback {
        return Err(FeaturesError::InvalidParameter {
            name: "day",
            value: t.to_string(),
            reason: "is earlier than lookback (no price L days back)",
        });
    }
    let n = panel.n_tickers();
    if out.len() != n {
        return Err(FeaturesError::BufferLength {
            got: out.len(),
            want: n,
        });
    }
    scores_of_closes(panel.close_flat(), n, t, (lookback, skip), out);
    Ok(())
}

/// [`momentum_scores`] without the argument checks, on a panel's row-major closes
/// ([`PricePanel::close_flat`], `close[t * n + i]`), without a branch per ticker so that it
/// vectorises (the grid's rank tables call it for every day of every lookback): the same
/// `P[t-S, i] / P[t-L, i] - 1` when all three prices are finite and positive, NaN otherwise.
///
/// The caller guarantees `lookback <= t < T`, `skip < lookback` and `out.len() == n` (it panics
/// otherwise), and closes that are finite or NaN, as a [`PricePanel`]'s are.
#[inline(always)]
pub fn scores_of_closes(
    close: &[f64],
    n: usize,
    t: usize,
    (lookback, skip): (usize, usize),
    out: &mut [f64],
) {
    let now = &close[t * n..(t + 1) * n];
    let recent = &close[(t - skip) * n..(t - skip + 1) * n];
    let past = &close[(t - lookback) * n..(t - lookback + 1) * n];
    for (((o, &p), &a), &b) in out.iter_mut().zip(now).zip(recent).zip(past) {
        *o = score_of_closes(p, a, b);
    }
}

/// The score of one ticker from its closes `P[t]`, `P[t-S]` and `P[t-L]` (finite or NaN, as a
/// [`PricePanel`] holds them): `P[t-S] / P[t-L] - 1`, NaN unless all three are positive.
#[inline(always)]
fn score_of_closes(p: f64, a: f64, b: f64) -> f64 {
    // The closes hold no infinity, so "finite and positive" is "> 0" (false for NaN): one
    // comparison per price, without a branch, which vectorises.
    let valid = (p > 0.0) & (a > 0.0) & (b > 0.0);
    let m = a / b - 1.0;
    if valid { m } else { f64::NAN }
}

/// A usable price: finite and strictly positive.
#[inline]
pub fn is_valid(p: f64) -> bool {
    p.is_finite() && p > 0.0
}

/// The momentum score of one ticker on day `t`, or `None` when it is not eligible (see
/// [`momentum_scores`]).
///
/// # Example
/// ```
/// use momentum_features::{PricePanel, momentum_score};
/// let dates = (1..=3).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
/// let close = ndarray::array![[10.0, f64::NAN], [11.0, 5.0], [12.0, 6.0]];
/// let panel = PricePanel::new(dates, vec!["A".into(), "B".into()], close)?;
/// assert_eq!(momentum_score(&panel, 2, 0, 2, 0)?, Some(12.0 / 10.0 - 1.0));
/// assert_eq!(momentum_score(&panel, 2, 1, 2, 0)?, None); // B has no price 2 days back
/// # Ok::<(), momentum_features::FeaturesError>(())
/// ```
pub fn momentum_score(
    panel: &PricePanel,
    t: usize,
    i: usize,
    lookback: usize,
    skip: usize,
) -> Result<Option<f64>> {
    validate_lookback_skip(lookback, skip)?;
    if t >= panel.n_days() || t < lookback || i >= panel.n_tickers() {
        return Err(FeaturesError::InvalidParameter {
            name: "day",
            value: format!("{t} (ticker {i})"),
            reason: "is outside [lookback, T) or the ticker is out of range",
        });
    }
    let score = score_of_closes(
        panel.price(t, i),
        panel.price(t - skip, i),
        panel.price(t - lookback, i),
    );
    Ok((!score.is_nan()).then_some(score))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use ndarray::array;

    fn panel() -> PricePanel {
        let dates = (1..=4)
            .map(|d| NaiveDate::from_ymd_opt(2024, 1, d).unwrap())
            .collect();
        let close = array![
            [10.0, 20.0, f64::NAN],
            [11.0, 20.0, 5.0],
            [12.0, f64::NAN, 6.0],
            [13.0, 22.0, 7.0],
        ];
        PricePanel::new(dates, vec!["A".into(), "B".into(), "C".into()], close).unwrap()
    }

    #[test]
    fn scores_follow_the_spec_for_every_value_a_panel_holds() {
        // Every kind of value (the panel stores the infinity, like any non-finite price, as
        // NaN), in every combination as P[t], P[t-S] and P[t-L]: t = 2, lookback 2, skip 1.
        let values = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.0,
            0.0,
            -0.0,
            1.0,
            1.1,
            2.2,
            3.0,
        ];
        let mut triples = Vec::new();
        for &p in &values {
            for &a in &values {
                for &b in &values {
                    triples.push((p, a, b));
                }
            }
        }
        let m = triples.len();
        // Day 0 holds P[t-L], day 1 P[t-S], day 2 P[t].
        let flat: Vec<f64> = [
            triples.iter().map(|c| c.2).collect::<Vec<_>>(),
            triples.iter().map(|c| c.1).collect(),
            triples.iter().map(|c| c.0).collect(),
        ]
        .concat();
        let dates = (1..=3)
            .map(|d| NaiveDate::from_ymd_opt(2024, 1, d).unwrap())
            .collect();
        let tickers = (0..m).map(|i| format!("T{i}")).collect();
        let close = ndarray::Array2::from_shape_vec((3, m), flat).unwrap();
        let panel = PricePanel::new(dates, tickers, close).unwrap();
        let mut got = vec![0.0; m];
        momentum_scores(&panel, 2, 2, 1, &mut got).unwrap();
        // The spec, plainly: eligible when all three prices are finite and positive.
        let usable = |x: f64| x.is_finite() && x > 0.0;
        let mut eligible = 0;
        for (i, (&(p, a, b), g)) in triples.iter().zip(&got).enumerate() {
            let one = momentum_score(&panel, 2, i, 2, 1).unwrap();
            if usable(p) && usable(a) && usable(b) {
                eligible += 1;
                assert_eq!(g.to_bits(), (a / b - 1.0).to_bits(), "{p} {a} {b}");
                assert_eq!(one.map(f64::to_bits), Some(g.to_bits()), "{p} {a} {b}");
            } else {
                assert!(g.is_nan() && one.is_none(), "{p} {a} {b}: {g} {one:?}");
            }
        }
        // 1.0, 1.1, 2.2 and 3.0 in each place.
        assert_eq!(eligible, 4 * 4 * 4);
    }

    #[test]
    fn scores_follow_the_formula_and_eligibility() {
        let p = panel();
        let mut out = [0.0; 3];
        momentum_scores(&p, 3, 2, 0, &mut out).unwrap();
        assert_eq!(out[0], 13.0 / 11.0 - 1.0);
        assert_eq!(out[1], 22.0 / 20.0 - 1.0);
        assert_eq!(out[2], 7.0 / 5.0 - 1.0);
        // skip 1: B's P[t-S] = P[2] is missing -> ineligible.
        momentum_scores(&p, 3, 2, 1, &mut out).unwrap();
        assert_eq!(out[0], 12.0 / 11.0 - 1.0);
        assert!(out[1].is_nan());
        // C has no price 3 days back.
        momentum_scores(&p, 3, 3, 0, &mut out).unwrap();
        assert!(out[2].is_nan());
        assert_eq!(momentum_score(&p, 3, 2, 3, 0).unwrap(), None);
        assert_eq!(
            momentum_score(&p, 3, 0, 3, 0).unwrap(),
            Some(13.0 / 10.0 - 1.0)
        );
    }

    #[test]
    fn bad_arguments_name_the_parameter() {
        let p = panel();
        let mut out = [0.0; 3];
        let e = momentum_scores(&p, 3, 2, 2, &mut out).unwrap_err();
        assert!(matches!(
            e,
            FeaturesError::InvalidParameter { name: "skip", .. }
        ));
        let e = momentum_scores(&p, 3, 0, 0, &mut out).unwrap_err();
        assert!(matches!(
            e,
            FeaturesError::InvalidParameter {
                name: "lookback",
                ..
            }
        ));
        let e = momentum_scores(&p, 1, 2, 0, &mut out).unwrap_err();
        assert!(matches!(
            e,
            FeaturesError::InvalidParameter { name: "day", .. }
        ));
        let e = momentum_scores(&p, 3, 2, 0, &mut out[..2]).unwrap_err();
        assert!(matches!(e, FeaturesError::BufferLength { got: 2, want: 3 }));
    }
}
