//! The daily scan: score the universe on one day with the production model and pick the top k.
//!
//! The scores come from [`momentum_features::momentum_scores`] and the selection from
//! [`momentum_engine::select_top_k`], the same functions the backtest runs on every rebalance
//! day, so a scan on day `t` picks exactly what the backtest would have bought on day `t`.

use chrono::NaiveDate;
use momentum_engine::StrategyParams;
use momentum_features::PricePanel;
use serde::{Deserialize, Serialize};

use crate::ScanError;

/// The parameters of a production model that matter for scoring and holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelParams {
    /// Lookback `L` in trading days.
    pub lookback: usize,
    /// Skip `S` in trading days.
    pub skip: usize,
    /// Holding period `H` in trading days (used by monitoring, not by the scan itself).
    pub holding: usize,
    /// Number of tickers to hold.
    pub top_k: usize,
}

impl ModelParams {
    /// The ranges the spec gives the parameters (`lookback > skip >= 0`, `holding >= 1`,
    /// `top_k >= 1`), checked by the engine's own [`StrategyParams::validate`].
    ///
    /// # Errors
    /// [`ScanError::InvalidModel`] naming the first parameter out of range.
    pub fn validate(&self) -> Result<(), ScanError> {
        self.strategy().validate().map_err(ScanError::InvalidModel)
    }

    /// The engine's parameters of this model, without costs.
    pub fn strategy(&self) -> StrategyParams {
        StrategyParams {
            lookback: self.lookback,
            skip: self.skip,
            holding: self.holding,
            top_k: self.top_k,
            cost_bps: 0.0,
        }
    }
}

/// One ticker's line in the scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pick {
    /// 1-based rank among eligible tickers (best score first, ties to the earlier ticker);
    /// `None` for an ineligible ticker.
    pub rank: Option<usize>,
    /// Ticker symbol.
    pub ticker: String,
    /// Momentum score `P[t-S] / P[t-L] - 1`; `None` when the ticker is not eligible.
    pub score: Option<f64>,
    /// Whether the model holds this ticker from this close.
    pub selected: bool,
    /// Target portfolio weight: `1 / k_selected` when selected, else 0.
    pub target_weight: f64,
    /// Close on the as-of date; `None` when missing that day.
    pub last_close: Option<f64>,
}

/// The result of a scan: the model, the day, and every ticker ranked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Picks {
    /// Registry version of the model that produced the picks.
    pub model_version: String,
    /// The model's parameters.
    #[serde(flatten)]
    pub params: ModelParams,
    /// The trading day the scores are computed on (its close is the decision point).
    pub as_of: NaiveDate,
    /// Eligible tickers by rank, then the ineligible ones in universe order.
    pub picks: Vec<Pick>,
}

impl Picks {
    /// The selected tickers in rank order.
    pub fn selected(&self) -> impl Iterator<Item = &str> {
        self.picks
            .iter()
            .filter(|p| p.selected)
            .map(|p| p.ticker.as_str())
    }
}

/// Scores every ticker of `panel` on day index `t` and selects the model's top k.
///
/// Only prices on days `t`, `t - skip` and `t - lookback` are read, so rows after `t` (if the
/// panel has any) cannot leak into the picks.
///
/// # Errors
/// [`ScanError::TooShort`] when `t < lookback` (no price `L` days back);
/// [`ScanError::InvalidModel`] for parameters out of range ([`ModelParams::validate`]).
pub fn scan(
    panel: &PricePanel,
    t: usize,
    params: ModelParams,
    model_version: &str,
) -> Result<Picks, ScanError> {
    params.validate()?;
    let as_of = *panel.dates().get(t).ok_or(ScanError::NoData)?;
    if t < params.lookback {
        return Err(ScanError::TooShort {
            as_of,
            days: t + 1,
            lookback: params.lookback,
        });
    }
    let mut scores = vec![f64::NAN; panel.n_tickers()];
    momentum_features::momentum_scores(panel, t, params.lookback, params.skip, &mut scores)?;
    // The full ranking is the top N; its first k are exactly `select_top_k(scores, k)` because
    // the rank order is total.
    let ranked = momentum_engine::select_top_k(&scores, scores.len());
    let selected = &ranked[..ranked.len().min(params.top_k)];
    let weight = if selected.is_empty() {
        0.0
    } else {
        1.0 / selected.len() as f64
    };
    let line = |i: usize, rank: Option<usize>| {
        let is_selected = selected.contains(&i);
        let close = panel.price(t, i);
        Pick {
            rank,
            ticker: panel.tickers()[i].clone(),
            score: scores[i].is_finite().then_some(scores[i]),
            selected: is_selected,
            target_weight: if is_selected { weight } else { 0.0 },
            last_close: close.is_finite().then_some(close),
        }
    };
    let mut picks: Vec<Pick> = ranked
        .iter()
        .enumerate()
        .map(|(r, &i)| line(i, Some(r + 1)))
        .collect();
    picks.extend(
        (0..panel.n_tickers())
            .filter(|&i| scores[i].is_nan())
            .map(|i| line(i, None)),
    );
    Ok(Picks {
        model_version: model_version.to_owned(),
        params,
        as_of,
        picks,
    })
}
