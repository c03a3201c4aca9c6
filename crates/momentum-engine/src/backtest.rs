//! One recorded run of the strategy or of the buy-and-hold baseline.

use momentum_features::PricePanel;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::isa::Isa;
use crate::metrics::{Metrics, Runs};
use crate::params::{StrategyParams, Window};
use crate::select::RankTable;
use crate::sim::{BuyAll, Prices, Ranking, Recorder, Scratch, simulate};

/// What a trade log row did to a ticker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Entry: pre-trade weight 0, target weight `> 0`.
    Buy,
    /// Exit: pre-trade weight `> 0`, target weight 0.
    Sell,
    /// Kept, with its drifted weight reset to the target.
    Rebalance,
}

impl Action {
    /// Lower-case name used in `trades.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
            Self::Rebalance => "rebalance",
        }
    }
}

/// One row of the per-rebalance trade log.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// Day index of the rebalance.
    pub day: usize,
    /// Ticker index in the panel.
    pub ticker: usize,
    /// Entry, exit or adjustment.
    pub action: Action,
    /// Drifted weight just before the trade.
    pub weight_before: f64,
    /// Target weight after the trade.
    pub weight_after: f64,
    /// Price traded at (the close of `day`; the carried price for an exit at a missing price).
    pub price: f64,
}

/// The full record of one run over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestResult {
    /// The parameters run.
    pub params: StrategyParams,
    /// The evaluation window.
    pub window: Window,
    /// First rebalance day `max(window.start, lookback)`.
    pub t0: usize,
    /// The spec's metrics.
    pub metrics: Metrics,
    /// Equity `V` for every day `t0..=window.end` (post-trade on rebalance days).
    pub equity: Vec<f64>,
    /// Every ticker traded on every rebalance, by day then ticker index.
    pub trades: Vec<Trade>,
}

impl BacktestResult {
    /// Daily returns `V_u / V_(u-1) - 1`, `u = t0+1..=end`.
    pub fn returns(&self) -> Vec<f64> {
        self.equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
    }

    /// The day index of `equity[j]`.
    pub fn day(&self, j: usize) -> usize {
        self.t0 + j
    }
}

#[derive(Default)]
struct Record {
    equity: Vec<f64>,
    trades: Vec<Trade>,
}

impl Recorder for Record {
    const ACTIVE: bool = true;

    fn value(&mut self, v: f64) {
        self.equity.push(v);
    }

    fn trade(&mut self, t: usize, ticker: usize, before: f64, after: f64, price: f64) {
        let action = if before == 0.0 && after > 0.0 {
            Action::Buy
        } else if before > 0.0 && after == 0.0 {
            Action::Sell
        } else {
            Action::Rebalance
        };
        self.trades.push(Trade {
            day: t,
            ticker,
            action,
            weight_before: before,
            weight_after: after,
            price,
        });
    }
}

/// Runs the strategy with `params` on `window` of `panel`, exactly as the spec defines it, and
/// records its equity curve and trade log.
///
/// # Errors
/// [`crate::EngineError::InvalidParameter`] naming a bad parameter,
/// [`crate::EngineError::WindowOutOfRange`], or [`crate::EngineError::WindowTooShort`] when
/// `max(start, lookback) >= end`.
pub fn backtest(
    panel: &PricePanel,
    params: &StrategyParams,
    window: Window,
) -> Result<BacktestResult> {
    params.validate()?;
    window.validate(panel.n_days())?;
    let t0 = window.first_rebalance(params.lookback)?;
    let ranks = RankTable::build(panel, params.lookback, params.skip, params.top_k)?;
    Ok(run_recorded(panel, params, window, t0, &ranks))
}

/// [`backtest`] on the rank table of `params` the caller already has (the winner's, shared by
/// its windows and its selection statistics).
pub(crate) fn backtest_ranked(
    panel: &PricePanel,
    params: &StrategyParams,
    window: Window,
    ranks: &RankTable,
) -> Result<BacktestResult> {
    window.validate(panel.n_days())?;
    let t0 = window.first_rebalance(params.lookback)?;
    Ok(run_recorded(panel, params, window, t0, ranks))
}

/// The recorded run behind [`backtest`], on a rank table the caller already has.
pub(crate) fn run_recorded(
    panel: &PricePanel,
    params: &StrategyParams,
    window: Window,
    t0: usize,
    ranks: &RankTable,
) -> BacktestResult {
    record(
        panel,
        ranks,
        (params.holding, params.top_k),
        params,
        window,
        t0,
    )
}

/// One simulated size `k` of `sel`, rebalanced every `holding` days, with its curve and trade
/// log (trades by day, then ticker).
fn record<S: Ranking>(
    panel: &PricePanel,
    sel: &S,
    (holding, k): (usize, usize),
    params: &StrategyParams,
    window: Window,
    t0: usize,
) -> BacktestResult {
    let n = panel.n_tickers();
    let mut runs = Runs::default();
    let mut rec = Record::default();
    let prices = Prices::new(panel);
    simulate(
        Isa::detected(),
        prices,
        sel,
        (&[holding], &[k]),
        params.cost_bps,
        (t0, window.end),
        None,
        (&mut runs, &mut rec, &mut Scratch::new(n)),
    );
    rec.trades.sort_by_key(|t| (t.day, t.ticker));
    BacktestResult {
        params: *params,
        window,
        t0,
        metrics: runs.finish(runs.at(0, 0)),
        equity: rec.equity,
        trades: rec.trades,
    }
}

/// The buy-and-hold baseline over the same days as the strategy with `params`: on
/// `t0 = max(start, lookback)` buy equal weights of every ticker with a finite, positive close,
/// pay `cost_bps` on turnover 1.0, then hold to `window.end` with the same drift and
/// missing-price rules. Only `lookback` and `cost_bps` of `params` matter.
///
/// # Errors
/// As [`backtest`].
///
/// # Examples
///
/// ```
/// use momentum_engine::{PricePanel, StrategyParams, Window, baseline};
///
/// let dates = (1..=6).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
/// let close = ndarray::array![[10.0, 20.0], [11.0, 20.0], [12.0, 20.0], [13.0, 21.0], [15.0, 22.0], [18.0, 24.0]];
/// let panel = PricePanel::new(dates, vec!["A".into(), "B".into()], close)?;
/// let params = StrategyParams { lookback: 2, skip: 0, holding: 1, top_k: 1, cost_bps: 10.0 };
/// let run = baseline(&panel, &params, Window::full(panel.n_days()))?;
/// // Bought on day 2 (t0 = lookback) at 10 bps, half in A (12 to 18), half in B (20 to 24).
/// assert_eq!(run.t0, 2);
/// let held = 0.5 * 18.0 / 12.0 + 0.5 * 24.0 / 20.0;
/// assert!((run.metrics.total_roi - (0.999 * held - 1.0)).abs() < 1e-12);
/// assert_eq!(run.trades.len(), 2);
/// assert_eq!(run.equity.len(), 4);
/// # Ok::<(), momentum_engine::EngineError>(())
/// ```
pub fn baseline(
    panel: &PricePanel,
    params: &StrategyParams,
    window: Window,
) -> Result<BacktestResult> {
    params.validate()?;
    window.validate(panel.n_days())?;
    let t0 = window.first_rebalance(params.lookback)?;
    let all = BuyAll::new(panel.close_row(t0));
    // Held to the end: the one rebalance is t0.
    Ok(record(
        panel,
        &all,
        (usize::MAX / 2, panel.n_tickers()),
        params,
        window,
        t0,
    ))
}
