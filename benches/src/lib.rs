//! Criterion benchmarks of the momentum workspace, and the inputs they share.
//!
//! The benchmarks live in `benches/engine.rs`; this library builds their inputs so every bench
//! (and `docs/performance.md`) uses the same ones.
#![warn(missing_docs)]

pub mod synthetic;

use chrono::NaiveDate;
use momentum_engine::{GridOptions, GridSpec, Objective, StrategyParams, Window, backtest, split};
use momentum_features::PricePanel;

/// The embedded sample (20 S&P 500 stocks) from 1995-01-01 on.
pub fn sample_panel() -> PricePanel {
    let table = momentum_data::load_sample().expect("the embedded sample loads");
    let start = NaiveDate::from_ymd_opt(1995, 1, 1).expect("valid date");
    PricePanel::from_table(&table)
        .expect("the sample aligns")
        .since(start)
}

/// The 9,000-combination grid: lookback 5..=250 step 5, skip 0, holding 1..=60,
/// top_k 3, 5, 7, at 10 bps.
pub fn sample_grid() -> GridSpec {
    GridSpec {
        lookback: (5..=250).step_by(5).collect(),
        skip: vec![0],
        holding: (1..=60).collect(),
        top_k: vec![3, 5, 7],
    }
}

/// Train 70 % / test 30 %, Sharpe objective, 16 CSCV blocks.
pub fn sample_options(panel: &PricePanel) -> GridOptions {
    let (train, test) = split(panel.n_days(), 0.7).expect("the sample splits");
    GridOptions {
        train,
        test: Some(test),
        objective: Objective::Sharpe,
        pbo_blocks: 16,
        cost_bps: 10.0,
    }
}

/// Days of the A/B comparison workload: ten years of daily returns.
pub const AB_DAYS: usize = 2520;

/// The A/B comparison's input (issue #23): the daily returns, over the sample's last
/// [`AB_DAYS`] days, of a champion (lookback 120, holding 20, top 5) and a challenger
/// (lookback 250, holding 20, top 5), both at 10 bps.
pub fn ab_pair(panel: &PricePanel) -> (Vec<f64>, Vec<f64>) {
    let returns = |lookback| {
        let params = StrategyParams {
            lookback,
            skip: 0,
            holding: 20,
            top_k: 5,
            cost_bps: 10.0,
        };
        let run =
            backtest(panel, &params, Window::full(panel.n_days())).expect("the sample backtests");
        let r = run.returns();
        r[r.len() - AB_DAYS..].to_vec()
    };
    (returns(120), returns(250))
}

/// A synthetic universe of `n` tickers over `days` days (deterministic random walks, 2 %
/// missing prices) for the scoring bench.
#[expect(clippy::cast_precision_loss, reason = "small synthetic indices")]
pub fn large_panel(days: usize, n: usize) -> PricePanel {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut price: Vec<f64> = (0..n).map(|_| 10.0 + 90.0 * next()).collect();
    let mut close = ndarray::Array2::from_elem((days, n), f64::NAN);
    for t in 0..days {
        for (i, p) in price.iter_mut().enumerate() {
            *p *= 1.0 + 0.04 * (next() - 0.5);
            if next() > 0.02 {
                close[[t, i]] = *p;
            }
        }
    }
    let start = NaiveDate::from_ymd_opt(2000, 1, 3).expect("valid date");
    let dates = (0..days)
        .map(|d| start + chrono::Days::new(d as u64))
        .collect();
    let tickers = (0..n).map(|i| format!("T{i:05}")).collect();
    PricePanel::new(dates, tickers, close).expect("synthetic panel is valid")
}
