//! Strategy parameters, evaluation windows, the train/test split and the selection objective.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::metrics::Metrics;

/// The highest cost accepted, exclusive: 5000 bps = 50 % (see [`StrategyParams::validate`]).
pub const MAX_COST_BPS: f64 = 5000.0;

/// The parameters of one strategy run (see the spec's "Inputs").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StrategyParams {
    /// `L >= 1`: days between the two prices of the score.
    pub lookback: usize,
    /// `0 <= S < L`: most recent days left out of the score.
    pub skip: usize,
    /// `H >= 1`: days between rebalances.
    pub holding: usize,
    /// `K >= 1`: tickers held.
    pub top_k: usize,
    /// `0 <= c < 5000`: one-way cost in basis points per unit of traded notional.
    pub cost_bps: f64,
}

impl StrategyParams {
    /// Checks every parameter's domain; the error names the first bad one.
    ///
    /// # Errors
    /// [`EngineError::InvalidParameter`] naming the first parameter out of its domain.
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_engine::{EngineError, StrategyParams};
    ///
    /// let params = StrategyParams { lookback: 60, skip: 10, holding: 20, top_k: 5, cost_bps: 10.0 };
    /// assert!(params.validate().is_ok());
    /// let no_score = StrategyParams { skip: 60, ..params };
    /// assert!(matches!(
    ///     no_score.validate(),
    ///     Err(EngineError::InvalidParameter { name: "skip", .. })
    /// ));
    /// let ruinous = StrategyParams { cost_bps: 5000.0, ..params };
    /// assert!(matches!(
    ///     ruinous.validate(),
    ///     Err(EngineError::InvalidParameter { name: "cost_bps", .. })
    /// ));
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: String, reason| {
            Err(EngineError::InvalidParameter {
                name,
                value,
                reason,
            })
        };
        if self.lookback == 0 {
            return bad("lookback", self.lookback.to_string(), "must be at least 1");
        }
        // Parameters are stored as signed 64-bit integers (Parquet, YAML, registry tags).
        for (name, value) in [
            ("lookback", self.lookback),
            ("skip", self.skip),
            ("holding", self.holding),
            ("top_k", self.top_k),
        ] {
            if i64::try_from(value).is_err() {
                return bad(name, value.to_string(), "must be at most 2^63 - 1");
            }
        }
        if self.skip >= self.lookback {
            return bad(
                "skip",
                self.skip.to_string(),
                "must be smaller than lookback",
            );
        }
        if self.holding == 0 {
            return bad("holding", self.holding.to_string(), "must be at least 1");
        }
        if self.top_k == 0 {
            return bad("top_k", self.top_k.to_string(), "must be at least 1");
        }
        // A rebalance's turnover is at most 2, so from 50 % on a trade could cost the whole
        // portfolio (or more), and no return or drawdown is defined after it.
        if !(self.cost_bps.is_finite() && (0.0..MAX_COST_BPS).contains(&self.cost_bps)) {
            return bad(
                "cost_bps",
                self.cost_bps.to_string(),
                "must be finite, >= 0 and below 5000 (50 %)",
            );
        }
        Ok(())
    }
}

/// An evaluation window `[start, end]` of day indices, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First day index.
    pub start: usize,
    /// Last day index (inclusive).
    pub end: usize,
}

impl Window {
    /// The whole panel `[0, T-1]` (`T >= 1`).
    pub fn full(days: usize) -> Self {
        Self {
            start: 0,
            end: days.saturating_sub(1),
        }
    }

    /// Checks `start <= end < days`.
    pub fn validate(&self, days: usize) -> Result<()> {
        if self.start > self.end || self.end >= days {
            return Err(EngineError::WindowOutOfRange {
                start: self.start,
                end: self.end,
                days,
            });
        }
        Ok(())
    }

    /// The first rebalance day `t0 = max(start, lookback)`; an error when `t0 >= end`
    /// ("window too short for lookback").
    ///
    /// # Errors
    /// [`EngineError::WindowTooShort`] when `t0 >= end`.
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_engine::{EngineError, Window};
    ///
    /// let window = Window { start: 0, end: 5 };
    /// assert_eq!(window.first_rebalance(4)?, 4);
    /// assert!(matches!(window.first_rebalance(5), Err(EngineError::WindowTooShort { .. })));
    /// // A test window after the train window starts on its own first day.
    /// assert_eq!(Window { start: 10, end: 20 }.first_rebalance(4)?, 10);
    /// # Ok::<(), EngineError>(())
    /// ```
    pub fn first_rebalance(&self, lookback: usize) -> Result<usize> {
        let t0 = self.start.max(lookback);
        if t0 >= self.end {
            return Err(EngineError::WindowTooShort {
                lookback,
                start: self.start,
                end: self.end,
            });
        }
        Ok(t0)
    }

    /// The spec's train/test split of this window's days ([`split`] of its length), as day
    /// indices of the panel: the backtest's windows, and the monitor's reference.
    ///
    /// # Errors
    /// As [`split`]: [`EngineError::InvalidParameter`] (`train_fraction`),
    /// [`EngineError::TooFewDaysToSplit`].
    ///
    /// ```
    /// use momentum_engine::Window;
    ///
    /// let (train, test) = Window { start: 100, end: 109 }.split(0.7)?;
    /// assert_eq!((train, test), (Window { start: 100, end: 106 }, Window { start: 107, end: 109 }));
    /// assert!(Window { start: 5, end: 5 }.split(0.5).is_err());
    /// # Ok::<(), momentum_engine::EngineError>(())
    /// ```
    pub fn split(self, train_fraction: f64) -> Result<(Window, Window)> {
        let (train, test) = split(self.end - self.start + 1, train_fraction)?;
        let shifted = |w: Window| Window {
            start: w.start + self.start,
            end: w.end + self.start,
        };
        Ok((shifted(train), shifted(test)))
    }
}

/// `floor(f * T)`, the first day after the train window, for the fraction `f` as written.
///
/// A fraction is written in decimal and most have no exact binary value: `0.7 * 90` is
/// `62.99999999999999` in float64, whose floor would cut 70 % of 90 days at 62 instead of 63. A
/// product within four units of rounding of an integer is taken as that integer (the error of
/// `f * T` is at most one unit), so the cut is the floor of the decimal product. `f` outside
/// `[0, 1]` is [`split`]'s to reject; the result is then clamped to `[0, T]`.
///
/// ```
/// use momentum_engine::train_days;
///
/// assert_eq!(0.7 * 90.0, 62.99999999999999);
/// assert_eq!(train_days(90, 0.7), 63);
/// // A product that is not an integer takes its floor.
/// assert_eq!(train_days(10, 0.75), 7);
/// ```
#[expect(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "day counts are far below 2^52; the cut is clamped to [0, T] (NaN saturates to 0)"
)]
pub fn train_days(days: usize, train_fraction: f64) -> usize {
    let product = train_fraction * days as f64;
    let nearest = product.round();
    let cut = if (product - nearest).abs() <= 4.0 * f64::EPSILON * nearest {
        nearest
    } else {
        product.floor()
    };
    cut.clamp(0.0, days as f64) as usize
}

/// The spec's train/test split of `days` trading days at fraction `f`: train `[0, floor(f*T)-1]`,
/// test `[floor(f*T), T-1]`, with `floor(f*T)` as [`train_days`] reads it.
///
/// # Errors
/// [`EngineError::InvalidParameter`] (`train_fraction`) unless `0 < f < 1`;
/// [`EngineError::TooFewDaysToSplit`] when a window would hold no day.
///
/// # Examples
///
/// ```
/// use momentum_engine::{EngineError, Window, split};
///
/// let (train, test) = split(10, 0.7)?;
/// assert_eq!(train, Window { start: 0, end: 6 });
/// assert_eq!(test, Window { start: 7, end: 9 });
///
/// assert!(matches!(
///     split(10, 1.0),
///     Err(EngineError::InvalidParameter { name: "train_fraction", .. })
/// ));
/// // 0.05 of 10 days leaves the train window empty: the days are too few, not the fraction
/// // out of range.
/// assert!(matches!(split(10, 0.05), Err(EngineError::TooFewDaysToSplit { days: 10, .. })));
/// # Ok::<(), EngineError>(())
/// ```
pub fn split(days: usize, train_fraction: f64) -> Result<(Window, Window)> {
    if !(train_fraction > 0.0 && train_fraction < 1.0) {
        return Err(EngineError::InvalidParameter {
            name: "train_fraction",
            value: train_fraction.to_string(),
            reason: "must be in (0, 1)",
        });
    }
    let cut = train_days(days, train_fraction);
    if cut == 0 || cut >= days {
        return Err(EngineError::TooFewDaysToSplit {
            days,
            train_fraction,
        });
    }
    Ok((
        Window {
            start: 0,
            end: cut - 1,
        },
        Window {
            start: cut,
            end: days - 1,
        },
    ))
}

/// What the grid search maximises on the train window.
///
/// It parses from, and displays as, its name in `params.yaml`:
///
/// ```
/// use momentum_engine::{EngineError, Objective};
///
/// assert_eq!("total_roi".parse::<Objective>()?, Objective::TotalRoi);
/// assert_eq!(Objective::default(), Objective::Sharpe);
/// assert_eq!(Objective::Calmar.to_string(), "calmar");
/// assert!(matches!(
///     "roi".parse::<Objective>(),
///     Err(EngineError::UnknownObjective { name }) if name == "roi"
/// ));
/// # Ok::<(), EngineError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Annualised Sharpe ratio (the default).
    #[default]
    Sharpe,
    /// Total return `V_end - 1`.
    TotalRoi,
    /// Annualised Sortino ratio.
    Sortino,
    /// CAGR over maximum drawdown.
    Calmar,
}

impl Objective {
    /// The metric this objective reads.
    pub fn value(self, m: &Metrics) -> f64 {
        match self {
            Self::Sharpe => m.sharpe,
            Self::TotalRoi => m.total_roi,
            Self::Sortino => m.sortino,
            Self::Calmar => m.calmar,
        }
    }

    /// The name used in `params.yaml` and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sharpe => "sharpe",
            Self::TotalRoi => "total_roi",
            Self::Sortino => "sortino",
            Self::Calmar => "calmar",
        }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Objective {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sharpe" => Ok(Self::Sharpe),
            "total_roi" => Ok(Self::TotalRoi),
            "sortino" => Ok(Self::Sortino),
            "calmar" => Ok(Self::Calmar),
            _ => Err(EngineError::UnknownObjective { name: s.into() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> StrategyParams {
        StrategyParams {
            lookback: 5,
            skip: 0,
            holding: 2,
            top_k: 1,
            cost_bps: 0.0,
        }
    }

    #[test]
    fn validate_names_the_bad_parameter() {
        assert!(p().validate().is_ok());
        let costly = StrategyParams {
            cost_bps: 4999.0,
            ..p()
        };
        assert!(costly.validate().is_ok());
        for (params, name) in [
            (StrategyParams { lookback: 0, ..p() }, "lookback"),
            (StrategyParams { skip: 5, ..p() }, "skip"),
            (StrategyParams { holding: 0, ..p() }, "holding"),
            (StrategyParams { top_k: 0, ..p() }, "top_k"),
            (
                StrategyParams {
                    cost_bps: -1.0,
                    ..p()
                },
                "cost_bps",
            ),
            (
                StrategyParams {
                    cost_bps: f64::NAN,
                    ..p()
                },
                "cost_bps",
            ),
            (
                StrategyParams {
                    cost_bps: 5000.0,
                    ..p()
                },
                "cost_bps",
            ),
        ] {
            let err = params.validate().unwrap_err();
            assert!(
                matches!(err, EngineError::InvalidParameter { name: n, .. } if n == name),
                "{err}"
            );
        }
    }

    #[test]
    fn split_follows_the_floor_rule() {
        let (tr, te) = split(10, 0.7).unwrap();
        assert_eq!(tr, Window { start: 0, end: 6 });
        assert_eq!(te, Window { start: 7, end: 9 });
        assert!(split(10, 0.0).is_err());
        assert!(split(10, 1.0).is_err());
        assert!(split(1, 0.5).is_err());
    }

    #[test]
    fn split_cuts_at_the_floor_of_the_decimal_product() {
        // In float64, 0.7 * 90 = 62.99999999999999, 0.7 * 170 = 118.99999999999999 and
        // 0.7 * 180 = 125.99999999999999: 70 % of 90 days is 63 all the same.
        for (days, f, cut) in [
            (90, 0.7, 63),
            (170, 0.7, 119),
            (180, 0.7, 126),
            (330, 0.3, 99),
        ] {
            assert_eq!(train_days(days, f), cut, "{f} of {days}");
            let (tr, te) = split(days, f).unwrap();
            assert_eq!((tr.end, te.start), (cut - 1, cut), "{f} of {days}");
        }
        // A product that is not an integer still takes its floor.
        assert_eq!(train_days(10, 0.75), 7);
        assert_eq!(train_days(8313, 0.7), 5819);
        assert_eq!(train_days(3, 0.999_999), 2);
    }

    #[test]
    fn window_too_short() {
        let w = Window { start: 0, end: 5 };
        assert_eq!(w.first_rebalance(4).unwrap(), 4);
        assert!(matches!(
            w.first_rebalance(5),
            Err(EngineError::WindowTooShort { lookback: 5, .. })
        ));
    }

    #[test]
    fn objective_names_round_trip() {
        for o in [
            Objective::Sharpe,
            Objective::TotalRoi,
            Objective::Sortino,
            Objective::Calmar,
        ] {
            assert_eq!(o.as_str().parse::<Objective>().unwrap(), o);
        }
        assert!("roi".parse::<Objective>().is_err());
    }
}
