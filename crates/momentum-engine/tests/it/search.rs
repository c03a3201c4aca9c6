//! The TPE search: the same trials for a seed on any thread count, every trial distinct and
//! within its ranges, selection statistics over every trial (checked against a second
//! computation from plain backtests), the grid's answer when it tries the whole space, and bad
//! ranges refused naming their key.

use std::collections::HashSet;

use momentum_engine::{
    BlockSums, EngineError, Experiment, ExperimentSpec, GridSpec, Objective, ParamRange,
    PricePanel, Provenance, SearchMethod, SearchSpec, Shard, WalkForwardSpec, Window, backtest,
    deflated_sharpe_ratio, evaluate_shard, probability_of_backtest_overfitting, run_experiment,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::reference::random_panel;

/// 400 days of 8 tickers (a close of 0 with probability `zeros`); 40 trials in batches of 6 (5 at random) of lookback 2:30:2,
/// skip 0:4:2, holding 1:10, top_k 1:5 (2,100 valid combinations), with a split and a
/// walk-forward.
fn setup(seed: u64, zeros: f64) -> (PricePanel, ExperimentSpec) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (_, panel) = random_panel(&mut rng, 400, 8, zeros);
    let spec = ExperimentSpec {
        train_fraction: Some(0.7),
        objective: Objective::Sharpe,
        cost_bps: 10.0,
        pbo_blocks: 8,
        search: SearchSpec {
            method: SearchMethod::Tpe,
            trials: 40,
            seed: 11,
            batch: 6,
            startup_trials: 5,
            lookback: ParamRange::new(2, 30, 2),
            skip: ParamRange::new(0, 4, 2),
            holding: ParamRange::new(1, 10, 1),
            top_k: ParamRange::new(1, 5, 1),
        },
        walk_forward: Some(WalkForwardSpec {
            train_days: 120,
            test_days: 60,
            anchored: false,
        }),
        ..Default::default()
    };
    (panel, spec)
}

fn run(panel: &PricePanel, spec: &ExperimentSpec, threads: usize) -> Experiment {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| run_experiment(panel, spec, None, &|_| {}))
        .unwrap()
}

/// Every file the experiment writes, as bytes (search.csv without its seconds).
fn files(e: &Experiment) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new(); 5];
    e.write_metrics_json(&mut out[0]).unwrap();
    e.write_grid_csv(&mut out[1]).unwrap();
    e.write_search_csv(&mut out[2], false).unwrap();
    e.write_walk_forward_csv(&mut out[3]).unwrap();
    e.write_trades_csv(&mut out[4]).unwrap();
    out
}

#[test]
fn a_seed_gives_the_same_trials_on_any_thread_count() {
    let (panel, spec) = setup(3, 0.01);
    let one = files(&run(&panel, &spec, 1));
    for threads in [2, 5] {
        // grid.csv holds every metric of every trial in shortest round-trip digits: equal text
        // is equal bits.
        assert!(
            one == files(&run(&panel, &spec, threads)),
            "{threads} threads"
        );
    }
    let other_seed = ExperimentSpec {
        search: SearchSpec {
            seed: 12,
            ..spec.search
        },
        ..spec.clone()
    };
    assert_ne!(one[2], files(&run(&panel, &other_seed, 2))[2]);
}

#[test]
fn trials_are_distinct_valid_and_within_their_ranges() {
    let (panel, spec) = setup(5, 0.01);
    let e = run(&panel, &spec, 2);
    assert_eq!(e.grid.len(), 40);
    let mut seen = HashSet::new();
    e.grid
        .try_for_each(|_, row, _| {
            let p = row.params;
            assert!(
                seen.insert((p.lookback, p.skip, p.holding, p.top_k)),
                "{p:?} twice"
            );
            assert!(p.skip < p.lookback, "{p:?}");
            assert!(
                (2..=30).contains(&p.lookback) && p.lookback % 2 == 0,
                "{p:?}"
            );
            assert!([0, 2, 4].contains(&p.skip), "{p:?}");
            assert!(
                (1..=10).contains(&p.holding) && (1..=5).contains(&p.top_k),
                "{p:?}"
            );
            Ok::<_, EngineError>(())
        })
        .unwrap();
    // Each walk-forward fold searched on its own train window, within the same ranges.
    let folds = &e.walk_forward.as_ref().unwrap().folds;
    assert!(folds.len() >= 3);
    assert!(folds.iter().all(|f| (2..=30).contains(&f.params.lookback)));
    // The record of the search.
    let search = &e.search;
    assert_eq!(search.method, SearchMethod::Tpe);
    assert_eq!(
        (search.trials, search.seed, search.batch),
        (40, Some(11), Some(6))
    );
    // 15 lookbacks; skip 0 with all, 2 with the 14 above 2, 4 with the 13 above 4.
    assert_eq!(search.space, Some((15 + 14 + 13) * 10 * 5));
    assert_eq!(search.best_trial, e.grid_rank);
    assert_eq!(search.seconds.len(), 40);
}

#[test]
fn the_selection_statistics_count_every_trial() {
    let (panel, spec) = setup(9, 0.0);
    let e = run(&panel, &spec, 2);
    let selection = &e.selection;
    assert_eq!(selection.trials, 40);
    let mut trial_sharpes = Vec::new();
    let mut rows = Vec::new();
    e.grid
        .try_for_each(|_, row, _| {
            trial_sharpes.push(row.train.sharpe / 252f64.sqrt());
            rows.push(row.params);
            Ok::<_, EngineError>(())
        })
        .unwrap();
    // The DSR deflates by all 40 trials' Sharpe ratios.
    let dsr = deflated_sharpe_ratio(
        selection.sharpe,
        selection.n,
        selection.skewness,
        selection.kurtosis,
        &trial_sharpes,
    );
    assert!(
        (selection.dsr - dsr).abs() < 1e-12,
        "{} {dsr}",
        selection.dsr
    );
    let fewer = deflated_sharpe_ratio(
        selection.sharpe,
        selection.n,
        selection.skewness,
        selection.kurtosis,
        &trial_sharpes[..10],
    );
    assert!((selection.dsr - fewer).abs() > 1e-6);

    // PBO ranks all 40 trials on the train days every lookback of the ranges could trade:
    // (max(train start, 30), train end], cut in 8 blocks. A second computation from each
    // trial's plain recorded backtest.
    let train = Window { start: 0, end: 279 };
    let widest_t0 = train.first_rebalance(30).unwrap();
    let cscv_days = train.end - widest_t0;
    let returns: Vec<Vec<f64>> = rows
        .iter()
        .map(|params| {
            let r = backtest(&panel, params, train).unwrap().returns();
            r[r.len() - cscv_days..].to_vec()
        })
        .collect();
    let expected =
        probability_of_backtest_overfitting(&BlockSums::from_returns(&returns, 8)).unwrap();
    let pbo = selection.pbo.as_ref().unwrap();
    assert_eq!((pbo.splits, pbo.blocks), (70, 8));
    assert!(
        (pbo.pbo - expected.pbo).abs() < 1e-12,
        "{} {}",
        pbo.pbo,
        expected.pbo
    );
}

#[test]
fn a_search_of_the_whole_space_selects_the_grids_best() {
    let (panel, spec) = setup(13, 0.0);
    // 4 lookbacks x 2 holdings x 2 sizes: 16 combinations, all tried.
    let search = SearchSpec {
        trials: 16,
        lookback: ParamRange::new(5, 20, 5),
        skip: ParamRange::new(0, 0, 1),
        holding: ParamRange::new(5, 10, 5),
        top_k: ParamRange::new(1, 3, 2),
        ..spec.search
    };
    let searched = run(
        &panel,
        &ExperimentSpec {
            search,
            walk_forward: None,
            ..spec.clone()
        },
        2,
    );
    let grid = run(
        &panel,
        &ExperimentSpec {
            grid: GridSpec {
                lookback: vec![5, 10, 15, 20],
                skip: vec![0],
                holding: vec![5, 10],
                top_k: vec![1, 3],
            },
            search: SearchSpec::default(),
            walk_forward: None,
            ..spec
        },
        2,
    );
    assert_eq!(grid.search.method, SearchMethod::Grid);
    assert_eq!(searched.params, grid.params);
    let (a, b) = (&searched.selection, &grid.selection);
    assert_eq!(a.trials, b.trials);
    assert!((a.dsr - b.dsr).abs() < 1e-12);
    assert!((a.pbo.as_ref().unwrap().pbo - b.pbo.as_ref().unwrap().pbo).abs() < 1e-12);
}

#[test]
fn bad_ranges_and_budgets_are_refused_naming_their_key() {
    let (panel, spec) = setup(1, 0.0);
    let refused = |edit: &dyn Fn(&mut SearchSpec)| {
        let mut spec = spec.clone();
        edit(&mut spec.search);
        match run_experiment(&panel, &spec, None, &|_| {}) {
            Err(EngineError::InvalidParameter { name, reason, .. }) => (name, reason),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("{:?} ran", spec.search),
        }
    };
    // (the edit, the key refused, words of the reason)
    type Case<'a> = (&'a dyn Fn(&mut SearchSpec), &'a str, &'a str);
    let cases: [Case<'_>; 8] = [
        (
            &|s| s.lookback = ParamRange::new(20, 5, 1),
            "search.lookback",
            "min is above max",
        ),
        (
            &|s| s.holding = ParamRange::new(1, 10, 0),
            "search.holding",
            "at least 1",
        ),
        (
            &|s| s.top_k = ParamRange::new(1, 10, 4),
            "search.top_k",
            "does not divide",
        ),
        (
            &|s| s.holding = ParamRange::new(0, 10, 1),
            "search.holding",
            "start at 1",
        ),
        (
            &|s| s.skip = ParamRange::new(30, 40, 1),
            "search.skip",
            "skip < lookback",
        ),
        (&|s| s.trials = 0, "search.trials", "at least 1"),
        (&|s| s.trials = 2101, "search.trials", "valid combinations"),
        (&|s| s.batch = 0, "search.batch", "at least 1"),
    ];
    for (edit, key, words) in cases {
        let (name, reason) = refused(edit);
        assert_eq!(name, key);
        assert!(reason.contains(words), "{key}: {reason}");
    }
    // Shards cut a grid; a search runs in one process.
    let provenance = Provenance {
        spec: spec.clone(),
        data_digest: None,
        code: "test".into(),
    };
    let err = evaluate_shard(&panel, &spec, (Shard::WHOLE, provenance), &|_| {}).unwrap_err();
    assert!(matches!(
        err,
        EngineError::InvalidParameter {
            name: "search.method",
            ..
        }
    ));
}
