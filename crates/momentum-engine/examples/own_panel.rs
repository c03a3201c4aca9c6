//! Backtest your own price panel: build a small dates x tickers `ndarray` of closes, run one
//! parameter set over every day, and print the metrics.
//!
//! ```text
//! cargo run -p momentum-engine --example own_panel
//! ```

use chrono::{Days, NaiveDate};
use momentum_engine::{PricePanel, StrategyParams, Window, backtest};
use ndarray::Array2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 120 days of three made-up tickers: a steady riser, a laggard and a zig-zag.
    let start = NaiveDate::from_ymd_opt(2024, 1, 2).ok_or("bad start date")?;
    let dates: Vec<NaiveDate> = (0..120).map(|d| start + Days::new(d)).collect();
    let close = Array2::from_shape_fn((dates.len(), 3), |(t, i)| {
        let t = t as f64;
        match i {
            0 => 100.0 * 1.004_f64.powf(t),
            1 => 50.0 * 0.999_f64.powf(t),
            _ => 80.0 + 3.0 * (t / 7.0).sin(),
        }
    });
    let tickers = vec!["RISE".into(), "LAG".into(), "ZIGZAG".into()];
    let panel = PricePanel::new(dates, tickers, close)?;

    let params = StrategyParams {
        lookback: 20,
        skip: 5,
        holding: 10,
        top_k: 1,
        cost_bps: 10.0,
    };
    let run = backtest(&panel, &params, Window::full(panel.n_days()))?;
    let m = &run.metrics;
    println!(
        "{} days, {} tickers, {params:?}",
        panel.n_days(),
        panel.n_tickers()
    );
    println!("total ROI    {:>8.2} %", 100.0 * m.total_roi);
    println!("CAGR         {:>8.2} %", 100.0 * m.cagr);
    println!("volatility   {:>8.2} %", 100.0 * m.volatility);
    println!("Sharpe       {:>8.3}", m.sharpe);
    println!("Sortino      {:>8.3}", m.sortino);
    println!("max drawdown {:>8.2} %", 100.0 * m.max_drawdown);
    println!("trades       {:>8}", m.num_trades);
    println!("turnover     {:>8.3}", m.turnover);
    Ok(())
}
