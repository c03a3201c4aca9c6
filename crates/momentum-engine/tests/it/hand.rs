//! Tiny panels computed by hand, one per rule of the spec. The expected numbers are derived in
//! the comments from the spec's definitions.

use momentum_engine::{Action, EngineError, StrategyParams, Window, backtest, baseline, split};

use crate::{close_to, panel};

const NAN: f64 = f64::NAN;

fn params(
    lookback: usize,
    skip: usize,
    holding: usize,
    top_k: usize,
    cost_bps: f64,
) -> StrategyParams {
    StrategyParams {
        lookback,
        skip,
        holding,
        top_k,
        cost_bps,
    }
}

fn assert_curve(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(close_to(*g, *w, 1e-14), "{got:?} vs {want:?}");
    }
}

/// A: 10 11 12 12 13 14 / B: 10 10 10 11 11 12 / C: 10 9 8 8 8 9.
fn rotation() -> momentum_features::PricePanel {
    panel(&[
        &[10.0, 10.0, 10.0],
        &[11.0, 10.0, 9.0],
        &[12.0, 10.0, 8.0],
        &[12.0, 11.0, 8.0],
        &[13.0, 11.0, 8.0],
        &[14.0, 12.0, 9.0],
    ])
}

#[test]
fn holding_one_rebalances_daily_and_counts_entries_exits_and_turnover() {
    // L=1, H=1, K=1: t0 = 1, rebalances on days 1..=4 (< end 5).
    // t=1 buys A (0.1 > 0 > -0.1); t=2 keeps A (turnover 0); t=3 B is best (0.1): exit A and
    // enter B (turnover 2); t=4 A is best again (13/12 - 1): turnover 2. V on days 1..=5:
    // 1, 12/11, 12/11, 12/11, 12/11 * 14/13.
    let p = rotation();
    let run = backtest(&p, &params(1, 0, 1, 1, 0.0), Window::full(6)).unwrap();
    assert_eq!(run.t0, 1);
    assert_curve(
        &run.equity,
        &[
            1.0,
            12.0 / 11.0,
            12.0 / 11.0,
            12.0 / 11.0,
            12.0 / 11.0 * 14.0 / 13.0,
        ],
    );
    let m = run.metrics;
    assert!(close_to(
        m.total_roi,
        12.0 / 11.0 * 14.0 / 13.0 - 1.0,
        1e-14
    ));
    assert_eq!(m.num_trades, 5);
    // sum of turnovers 1 + 0 + 2 + 2 = 5 over n = 4 days: 5 / (4 / 252).
    assert!(close_to(m.turnover, 315.0, 1e-14));
    assert_eq!(m.max_drawdown, 0.0);
    assert_eq!(m.calmar, 0.0);
    // No negative return: the Sortino denominator is 0.
    assert_eq!(m.sortino, 0.0);
    // Returns 1/11, 0, 0, 1/13; python3 statistics: mean / stdev * sqrt(252).
    assert!(close_to(m.sharpe, 13.65323986840155, 1e-12));
    assert!(close_to(m.volatility, 0.7744261930017967, 1e-12));
    assert!(close_to(m.cagr, 25603.38733433382, 1e-12));
    let day3: Vec<_> = run.trades.iter().filter(|t| t.day == 3).collect();
    assert_eq!(day3.len(), 2);
    assert_eq!((day3[0].ticker, day3[0].action), (0, Action::Sell));
    assert_eq!((day3[1].ticker, day3[1].action), (1, Action::Buy));
    assert_eq!(day3[1].price, 11.0);
}

#[test]
fn costs_are_paid_on_turnover_at_each_rebalance() {
    // Same run, c = 10 bps: factor 1 - 0.001 * turnover: 0.999 on day 1, 1 on day 2, 0.998 on
    // days 3 and 4. V: 0.999, 0.999*12/11, *0.998, *0.998^2, *14/13.
    let p = rotation();
    let run = backtest(&p, &params(1, 0, 1, 1, 10.0), Window::full(6)).unwrap();
    let a = 0.999 * 12.0 / 11.0;
    assert_curve(
        &run.equity,
        &[
            0.999,
            a,
            a * 0.998,
            a * 0.998 * 0.998,
            a * 0.998 * 0.998 * 14.0 / 13.0,
        ],
    );
    let m = run.metrics;
    // Numbers from python3 (math, statistics) on the returns of that curve.
    assert!(close_to(m.total_roi, 0.16896044285314682, 1e-13));
    assert!(close_to(m.sharpe, 13.021689928078658, 1e-12));
    assert!(close_to(m.volatility, 0.7926334162795949, 1e-12));
    assert!(close_to(m.sortino, 459.752880720314, 1e-12));
    assert!(close_to(m.max_drawdown, 0.003996000000000111, 1e-12));
    assert!(close_to(m.cagr, 18679.493657797182, 1e-12));
    assert!(close_to(m.calmar, m.cagr / m.max_drawdown, 1e-15));
}

#[test]
fn late_listing_is_ineligible_and_a_delisted_holding_is_frozen_then_sold() {
    // L=2, H=2, K=1, t0 = 2, rebalances on 2 and 4.
    // t=2: A 11/10 - 1 = 0.1; B has no price on day 0 (late listing); C 0 -> A, 1/11 units.
    // Days 3-4: A is missing, valued at its last price 11 -> V = 1.
    // t=4: A is ineligible (no price today), B 7/5 - 1 = 0.4 -> sell A at 11, buy B at 7.
    // t=5: 7.7 / 7 = 1.1.
    let p = panel(&[
        &[10.0, NAN, 10.0],
        &[10.0, NAN, 10.0],
        &[11.0, 5.0, 10.0],
        &[NAN, 6.0, 10.0],
        &[NAN, 7.0, 10.0],
        &[NAN, 7.7, 10.0],
    ]);
    let run = backtest(&p, &params(2, 0, 2, 1, 0.0), Window::full(6)).unwrap();
    assert_curve(&run.equity, &[1.0, 1.0, 1.0, 7.7 / 7.0]);
    assert_eq!(run.metrics.num_trades, 3);
    let exit = run
        .trades
        .iter()
        .find(|t| t.action == Action::Sell)
        .unwrap();
    assert_eq!(
        (exit.day, exit.ticker, exit.price, exit.weight_before),
        (4, 0, 11.0, 1.0)
    );
    // The baseline buys every ticker priced on t0 = 2: A, B (listed on day 2) and C.
    let base = baseline(&p, &params(2, 0, 2, 1, 0.0), Window::full(6)).unwrap();
    assert_eq!(base.trades.len(), 3);
    // A frozen at 11, B 5 -> 7.7, C flat: (1 + 7.7/5 + 1) / 3.
    assert!(close_to(
        *base.equity.last().unwrap(),
        (1.0 + 7.7 / 5.0 + 1.0) / 3.0,
        1e-14
    ));
}

#[test]
fn ties_go_to_the_lower_index_and_fewer_eligible_are_all_held() {
    // Day 1: A 11/10 - 1 and B 22/20 - 1 are the same f64 (0.1); C and D are not eligible.
    let rows: [&[f64]; 3] = [
        &[10.0, 20.0, NAN, 5.0],
        &[11.0, 22.0, NAN, NAN],
        &[12.0, 30.0, NAN, NAN],
    ];
    let p = panel(&rows);
    // K=1: the tie goes to A (index 0): 12/11, not 30/22.
    let one = backtest(&p, &params(1, 0, 1, 1, 0.0), Window::full(3)).unwrap();
    assert_curve(&one.equity, &[1.0, 12.0 / 11.0]);
    // K=3 with 2 eligible: hold both at 1/2.
    let three = backtest(&p, &params(1, 0, 1, 3, 0.0), Window::full(3)).unwrap();
    assert_curve(&three.equity, &[1.0, 0.5 * 12.0 / 11.0 + 0.5 * 30.0 / 22.0]);
    assert!(three.trades.iter().all(|t| t.weight_after == 0.5));
}

#[test]
fn none_eligible_holds_cash_until_a_ticker_qualifies() {
    // Day 1: nothing priced -> cash. Day 2: yesterday missing for all -> cash. Day 3: A 0.1,
    // B 0 -> A, then 12.1 / 11.
    let p = panel(&[
        &[10.0, 10.0],
        &[NAN, NAN],
        &[10.0, 12.0],
        &[11.0, 12.0],
        &[12.1, 12.0],
    ]);
    let run = backtest(&p, &params(1, 0, 1, 1, 0.0), Window::full(5)).unwrap();
    assert_curve(&run.equity, &[1.0, 1.0, 1.0, 1.1]);
    assert_eq!(run.metrics.num_trades, 1);
    let flat = backtest(&p, &params(1, 0, 1, 1, 0.0), Window { start: 0, end: 2 }).unwrap();
    assert_eq!(flat.metrics.sharpe, 0.0);
    assert_eq!(flat.metrics.volatility, 0.0);
    assert_eq!(flat.metrics.turnover, 0.0);
    assert_eq!(flat.metrics.total_roi, 0.0);
}

#[test]
fn skip_leaves_out_the_most_recent_days() {
    let p = panel(&[
        &[10.0, 10.0],
        &[12.0, 10.0],
        &[12.0, 13.0],
        &[12.0, 13.5],
        &[13.0, 13.5],
    ]);
    // S=1, t=2: P[1]/P[0] - 1: A 0.2, B 0 -> A although B jumped on day 2. t=3: P[2]/P[1]:
    // A 0, B 0.3 -> B at 13.5. V: 1, 1, 1 (B flat on day 4).
    let run = backtest(&p, &params(2, 1, 1, 1, 0.0), Window::full(5)).unwrap();
    assert_eq!(run.trades[0].ticker, 0);
    assert_curve(&run.equity, &[1.0, 1.0, 1.0]);
    // S=0, t=2: A 0.2, B 0.3 -> B at 13, held: 13.5 / 13.
    let run = backtest(&p, &params(2, 0, 1, 1, 0.0), Window::full(5)).unwrap();
    assert_eq!(run.trades[0].ticker, 1);
    assert_curve(&run.equity, &[1.0, 13.5 / 13.0, 13.5 / 13.0]);
}

#[test]
fn a_window_too_short_and_invalid_parameters_are_errors() {
    let p = rotation();
    // T = 6, end = 5: L = 5 gives t0 = 5 = end.
    assert!(matches!(
        backtest(&p, &params(5, 0, 1, 1, 0.0), Window::full(6)),
        Err(EngineError::WindowTooShort { lookback: 5, .. })
    ));
    assert!(matches!(
        backtest(&p, &params(4, 4, 1, 1, 0.0), Window::full(6)),
        Err(EngineError::InvalidParameter { name: "skip", .. })
    ));
    assert!(matches!(
        backtest(&p, &params(2, 0, 0, 1, 0.0), Window::full(6)),
        Err(EngineError::InvalidParameter {
            name: "holding",
            ..
        })
    ));
    assert!(matches!(
        backtest(&p, &params(2, 0, 1, 1, 0.0), Window { start: 0, end: 6 }),
        Err(EngineError::WindowOutOfRange { .. })
    ));
    assert!(matches!(
        baseline(&p, &params(2, 0, 1, 1, -1.0), Window::full(6)),
        Err(EngineError::InvalidParameter {
            name: "cost_bps",
            ..
        })
    ));
}

#[test]
fn the_test_window_scores_with_prices_before_its_start() {
    let p = rotation();
    let (train, test) = split(6, 0.5).unwrap();
    assert_eq!(test, Window { start: 3, end: 5 });
    // L=2 <= 3: t0 = 3, scored with P[1] (inside train): A 12/11 - 1, B 11/10 - 1 = 0.1 > A.
    let run = backtest(&p, &params(2, 0, 5, 1, 0.0), test).unwrap();
    assert_eq!(run.t0, 3);
    assert_eq!(run.trades[0].ticker, 1);
    assert_curve(&run.equity, &[1.0, 1.0, 12.0 / 11.0]);
    assert_eq!(backtest(&p, &params(1, 0, 5, 1, 0.0), train).unwrap().t0, 1);
    assert!(matches!(
        backtest(&p, &params(2, 0, 5, 1, 0.0), train),
        Err(EngineError::WindowTooShort { .. })
    ));
}

#[test]
fn holdings_drift_between_rebalances() {
    // K=2, H=10 (one rebalance): 1/2 in A and B on day 1, then buy and hold.
    let p = rotation();
    let run = backtest(&p, &params(1, 0, 10, 2, 0.0), Window::full(6)).unwrap();
    // t=1: A 0.1, B 0 -> A, B at 11 and 10.
    let v = |a: f64, b: f64| 0.5 * a / 11.0 + 0.5 * b / 10.0;
    assert_curve(
        &run.equity,
        &[
            1.0,
            v(12.0, 10.0),
            v(12.0, 11.0),
            v(13.0, 11.0),
            v(14.0, 12.0),
        ],
    );
    assert_eq!(run.metrics.num_trades, 2);
    assert!(close_to(run.metrics.turnover, 1.0 / (4.0 / 252.0), 1e-14));
}

#[test]
fn a_held_position_priced_zero_has_weight_zero_and_dropping_it_is_no_exit() {
    // A: 10 12 0 0 0 / B: 10 11 11 11 11 / C: 10 10 12 13 13. L=1, H=2, K=2, no cost.
    // t0 = 1: scores A 0.2, B 0.1, C 0 -> buy A and B at 0.5 each (2 entries, turnover 1).
    // Day 2: A is worth 0, B 0.5 -> V = 0.5; day 3 likewise. t=3 rebalances: A is
    // ineligible (price 0), C 13/12 - 1 beats B 0 -> hold C, B. Pre-trade weights A 0, B 1:
    // turnover |0 - 0| + |0.5 - 1| + |0.5 - 0| = 1; C is an entry, A (weight 0) is not an
    // exit, B is kept: 1 trade. Day 4: unchanged, V = 0.5.
    let p = panel(&[
        &[10.0, 10.0, 10.0],
        &[12.0, 11.0, 10.0],
        &[0.0, 11.0, 12.0],
        &[0.0, 11.0, 13.0],
        &[0.0, 11.0, 13.0],
    ]);
    let run = backtest(&p, &params(1, 0, 2, 2, 0.0), Window::full(5)).unwrap();
    assert_eq!(run.t0, 1);
    assert_curve(&run.equity, &[1.0, 0.5, 0.5, 0.5]);
    assert_eq!(run.metrics.num_trades, 3);
    // Turnover 1 + 1 over n = 3 daily returns, annualised.
    assert!(close_to(run.metrics.turnover, 2.0 / (3.0 / 252.0), 1e-12));
    let at3: Vec<_> = run.trades.iter().filter(|t| t.day == 3).collect();
    assert_eq!(at3.len(), 3);
    assert_eq!(
        (at3[0].ticker, at3[0].weight_before, at3[0].weight_after),
        (0, 0.0, 0.0)
    );
    assert_eq!(at3[2].action, Action::Buy);
}

#[test]
fn a_portfolio_worth_zero_stays_at_zero_with_undefined_returns() {
    // A: 10 11 0 0 0 / B: 10 10 10 11 12. L=1, H=2, K=1, no cost.
    // t0 = 1: A 0.1 beats B 0 -> buy A, V = 1. Day 2: A is worth 0, V = 0, r = 0/1 - 1 = -1.
    // t=3 rebalances: A is ineligible (price 0), B 11/10 - 1 -> buy B with V = 0. A's weight
    // is 0 (its value is 0), so it is no exit; B is an entry: turnover 1, 1 trade. V stays 0,
    // and the returns of days 3 and 4 are 0/0 - 1 = NaN, so are the metrics made of them.
    // The curve 1 0 0 0 falls by 1 from its peak: max_drawdown 1, calmar -1 / 1.
    let p = panel(&[
        &[10.0, 10.0],
        &[11.0, 10.0],
        &[0.0, 10.0],
        &[0.0, 11.0],
        &[0.0, 12.0],
    ]);
    let run = backtest(&p, &params(1, 0, 2, 1, 0.0), Window::full(5)).unwrap();
    assert_curve(&run.equity, &[1.0, 0.0, 0.0, 0.0]);
    let m = run.metrics;
    assert_eq!(
        (m.total_roi, m.cagr, m.max_drawdown, m.calmar),
        (-1.0, -1.0, 1.0, -1.0)
    );
    assert!(m.volatility.is_nan() && m.sharpe.is_nan() && m.sortino.is_nan());
    assert_eq!(m.num_trades, 2);
    assert!(close_to(m.turnover, 2.0 / (3.0 / 252.0), 1e-12));
}
