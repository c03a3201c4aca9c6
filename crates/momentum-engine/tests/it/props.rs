//! Properties of the spec that must hold on any panel.

use momentum_engine::{
    GridOptions, GridSpec, Objective, StrategyParams, Window, backtest, baseline, grid_search,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::close_to;
use crate::reference::random_panel;

/// A panel without missing prices: random walks from a seed.
fn full_panel(seed: u64, days: usize, n: usize) -> momentum_features::PricePanel {
    use rand::Rng;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x: Vec<f64> = (0..n).map(|_| rng.random_range(5.0..50.0)).collect();
    let rows: Vec<Vec<f64>> = (0..days)
        .map(|_| {
            for v in &mut x {
                *v *= 1.0 + rng.random_range(-0.05..0.05);
            }
            x.clone()
        })
        .collect();
    let refs: Vec<&[f64]> = rows.iter().map(Vec::as_slice).collect();
    crate::panel(&refs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn all_tickers_held_forever_without_costs_is_the_baseline(
        seed in any::<u64>(), days in 10usize..60, n in 1usize..6, lookback in 1usize..5,
    ) {
        let panel = full_panel(seed, days, n);
        let prm = StrategyParams { lookback, skip: 0, holding: days + 1, top_k: n, cost_bps: 0.0 };
        let w = Window::full(days);
        let s = backtest(&panel, &prm, w).unwrap();
        let b = baseline(&panel, &prm, w).unwrap();
        for (x, y) in s.equity.iter().zip(&b.equity) {
            prop_assert!(close_to(*x, *y, 1e-12), "{} vs {}", x, y);
        }
        prop_assert!(close_to(s.metrics.sharpe, b.metrics.sharpe, 1e-12));
    }

    #[test]
    fn costs_never_raise_value_equity_stays_positive_turnover_in_0_2(
        seed in any::<u64>(), days in 12usize..60, n in 1usize..6, lookback in 1usize..5,
        holding in 1usize..6, top_k in 1usize..5, cost in 0.0f64..500.0,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (_, panel) = random_panel(&mut rng, days, n, 0.0);
        let prm = StrategyParams { lookback, skip: 0, holding, top_k, cost_bps: 0.0 };
        let w = Window::full(days);
        let free = backtest(&panel, &prm, w).unwrap();
        let paid = backtest(&panel, &StrategyParams { cost_bps: cost, ..prm }, w).unwrap();
        let (a, b) = (*free.equity.last().unwrap(), *paid.equity.last().unwrap());
        prop_assert!(b <= a * (1.0 + 1e-12), "costs raised the value: {} > {}", b, a);
        prop_assert!(paid.equity.iter().all(|v| *v > 0.0));
        prop_assert!((0.0..1.0).contains(&paid.metrics.max_drawdown));
        let mut day_turnover = std::collections::BTreeMap::<usize, f64>::new();
        for t in &paid.trades {
            *day_turnover.entry(t.day).or_default() += (t.weight_after - t.weight_before).abs();
        }
        for (day, t) in day_turnover {
            prop_assert!((0.0..=2.0 + 1e-12).contains(&t), "turnover {} on day {}", t, day);
        }
    }

    #[test]
    fn the_grid_is_identical_with_one_and_two_threads(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (_, panel) = random_panel(&mut rng, 80, 5, 0.0);
        let spec = GridSpec {
            lookback: vec![2, 5, 10],
            skip: vec![0, 1],
            holding: vec![1, 3, 7],
            top_k: vec![1, 2, 4],
        };
        let options = GridOptions {
            train: Window { start: 0, end: 55 },
            test: Some(Window { start: 56, end: 79 }),
            objective: Objective::Sharpe,
            pbo_blocks: 4,
            cost_bps: 5.0,
        };
        let run = |threads| {
            rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
                .install(|| grid_search(&panel, &spec, &options, &|_| {}).unwrap())
        };
        let (one, two) = (run(1), run(2));
        prop_assert_eq!(&one, &two);
        // The grid's train metrics are those of a plain backtest of the same combination.
        let best = one.winner;
        let solo = backtest(&panel, &best.params, options.train).unwrap();
        prop_assert_eq!(solo.metrics, best.train);
    }
}
