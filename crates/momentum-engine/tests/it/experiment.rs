//! One backtest invocation from a panel to its files, on the two-ticker panel of the crate's
//! example, with the numbers worked out by hand.

use momentum_engine::{
    EngineError, Experiment, ExperimentSpec, GridSpec, Objective, PricePanel, WindowName,
    run_experiment,
};

/// A rises 10, 11, 12, 12, 13, 14; B falls 10, 9, 9, 9.5, 9, 9.
fn panel() -> PricePanel {
    let dates = (1..=6)
        .map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap())
        .collect();
    let close = ndarray::array![
        [10.0, 10.0],
        [11.0, 9.0],
        [12.0, 9.0],
        [12.0, 9.5],
        [13.0, 9.0],
        [14.0, 9.0]
    ];
    PricePanel::new(dates, vec!["A".into(), "B".into()], close).unwrap()
}

/// L = 2, S = 0, H = 2, K = 1, no cost, the whole panel.
fn spec() -> ExperimentSpec {
    ExperimentSpec {
        train_fraction: None,
        objective: Objective::Sharpe,
        cost_bps: 0.0,
        pbo_blocks: 2,
        grid: GridSpec {
            lookback: vec![2],
            skip: vec![0],
            holding: vec![2],
            top_k: vec![1],
        },
        max_combinations: 10,
        ..Default::default()
    }
}

#[test]
fn an_experiment_is_its_metrics_json_and_writes_its_files() {
    let digest = Some("d1".to_owned());
    let experiment = run_experiment(&panel(), &spec(), digest, &|_| {}).unwrap();
    let full = &experiment.windows[&WindowName::Full];
    // Day 2 (2024-01-03) buys A: 12/10 beats 9/10. Day 4 keeps it (13/12 beats 9/9), held to
    // day 5: 14 / 12. Buy and hold from day 2: half in A (14/12), half in B (9/9).
    assert!((full.strategy.total_roi - (14.0 / 12.0 - 1.0)).abs() < 1e-12);
    assert!((full.baseline.total_roi - ((14.0 / 12.0 + 1.0) / 2.0 - 1.0)).abs() < 1e-12);
    assert_eq!((full.days, full.returns), (6, 3));
    assert_eq!(full.first_rebalance.to_string(), "2024-01-03");

    let mut json = Vec::new();
    experiment.write_metrics_json(&mut json).unwrap();
    let text = String::from_utf8(json).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        keys(&value),
        ["data", "params", "search", "selection", "windows"]
    );
    // The grid is the search: one trial per combination, the best's index.
    assert_eq!(
        value["search"],
        serde_json::json!({"method": "grid", "trials": 1, "best_trial": 0})
    );
    assert_eq!(
        keys(&value["data"]),
        ["days", "digest", "end", "start", "tickers", "universe"]
    );
    assert_eq!(
        keys(&value["windows"]["full"]),
        [
            "baseline",
            "days",
            "end",
            "first_rebalance",
            "returns",
            "start",
            "strategy"
        ]
    );
    assert_eq!(
        keys(&value["selection"]),
        [
            "dropped_combinations",
            "dsr",
            "kurtosis",
            "objective",
            "pbo",
            "pbo_block_len",
            "pbo_blocks",
            "pbo_splits",
            "psr",
            "returns",
            "sharpe_daily",
            "sharpe_variance",
            "skewness",
            "sr0_daily",
            "trials"
        ]
    );
    assert_eq!(value["params"]["top_k"], 1);
    assert_eq!(value["data"]["universe"], serde_json::json!(["A", "B"]));
    // One trial: no PBO.
    assert!(value["selection"]["pbo"].is_null());
    assert!(text.ends_with("}\n") && text.starts_with("{\n  \"data\": {\n"));

    // Read back, it is the same summary, without the recorded runs.
    let decoded: Experiment = serde_json::from_str(&text).unwrap();
    assert_eq!(decoded.params, experiment.params);
    assert_eq!(decoded.data, experiment.data);
    assert_eq!(decoded.windows[&WindowName::Full].strategy, full.strategy);
    assert!(matches!(
        decoded.write_trades_csv(Vec::new()),
        Err(EngineError::NotRecorded)
    ));

    let mut trades = Vec::new();
    experiment.write_trades_csv(&mut trades).unwrap();
    let trades = String::from_utf8(trades).unwrap();
    assert!(
        trades.starts_with(
            "window,date,ticker,action,weight_before,weight_after,price\nfull,2024-01-03,A,buy,0,1,12\n"
        ),
        "{trades}"
    );
    let mut grid = Vec::new();
    experiment.write_grid_csv(&mut grid).unwrap();
    let grid = String::from_utf8(grid).unwrap();
    let row = grid.lines().nth(1).unwrap();
    assert!(row.starts_with("2,0,2,1,0,1,"), "{row}");
    assert!(row.ends_with(",,,,,,,,"), "no test window: {row}");
    let mut equity = Vec::new();
    experiment.write_equity_csv(&mut equity).unwrap();
    let equity = String::from_utf8(equity).unwrap();
    assert_eq!(equity.lines().count(), 1 + 4, "{equity}");
    assert!(
        equity.lines().nth(4).unwrap().starts_with("2024-01-06,"),
        "{equity}"
    );
}

#[test]
fn a_metric_that_cannot_be_computed_is_null_and_reads_back_as_nan() {
    let mut experiment = run_experiment(&panel(), &spec(), None, &|_| {}).unwrap();
    let full = experiment.windows.get_mut(&WindowName::Full).unwrap();
    full.strategy.sharpe = f64::NAN;
    let mut json = Vec::new();
    experiment.write_metrics_json(&mut json).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert!(value["windows"]["full"]["strategy"]["sharpe"].is_null());
    let decoded: Experiment = serde_json::from_slice(&json).unwrap();
    assert!(decoded.windows[&WindowName::Full].strategy.sharpe.is_nan());
}

#[test]
fn a_single_combination_names_its_bad_parameter_and_an_empty_panel_is_refused() {
    let mut bad = spec();
    bad.grid.skip = vec![2];
    let err = run_experiment(&panel(), &bad, None, &|_| {}).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid skip = 2: must be smaller than lookback"
    );
    let one_day = PricePanel::new(
        vec![chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()],
        vec!["A".into()],
        ndarray::array![[1.0]],
    )
    .unwrap();
    let err = run_experiment(&one_day, &spec(), None, &|_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::EmptyPanel {
                days: 1,
                tickers: 1
            }
        ),
        "{err}"
    );
}

proptest::proptest! {
    /// Whatever the tickers hold (commas, quotes, line breaks, formula starts), trades.csv
    /// reads back as rows of seven fields whose ticker is the spreadsheet-safe form of the
    /// universe's.
    #[test]
    fn trades_csv_reads_back_whatever_the_tickers(
        a in "[ -~\n\"]{1,12}",
        b in "[=+@,\"a-z-]{1,12}",
    ) {
        proptest::prop_assume!(a != b);
        let dates = (1..=6)
            .map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap())
            .collect();
        let close = ndarray::array![
            [10.0, 10.0], [11.0, 9.0], [12.0, 9.0], [12.0, 9.5], [9.0, 13.0], [14.0, 9.0]
        ];
        let panel = PricePanel::new(dates, vec![a.clone(), b.clone()], close).unwrap();
        let experiment = run_experiment(&panel, &spec(), None, &|_| {}).unwrap();
        let mut out = Vec::new();
        experiment.write_trades_csv(&mut out).unwrap();
        let mut reader = csv::Reader::from_reader(out.as_slice());
        let mut rows = 0;
        for record in reader.records() {
            let record = record.unwrap();
            proptest::prop_assert_eq!(record.len(), 7);
            let ticker = &record[2];
            proptest::prop_assert!(
                ticker == momentum_engine::spreadsheet_text(&a)
                    || ticker == momentum_engine::spreadsheet_text(&b),
                "{ticker:?}"
            );
            rows += 1;
        }
        proptest::prop_assert!(rows >= 2, "buys on day 2 and a switch on day 4");
    }
}

/// The evaluation window on eight trading days (Monday 1 January 2024 to Wednesday the 10th,
/// the weekend of the 6th and 7th missing): A climbs 10, 11, ..., 17; B jumps from 10 to 20 on
/// day 1 and stays. L = 2, S = 0, one rebalance (H = 10), K = 1, no cost, no split.
#[test]
fn the_evaluation_window_uses_earlier_prices_for_its_scores_and_snaps_to_trading_days() {
    let day = |d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
    let dates: Vec<_> = [1, 2, 3, 4, 5, 8, 9, 10].map(day).to_vec();
    let close = ndarray::Array2::from_shape_fn((8, 2), |(t, i)| match (t, i) {
        (t, 0) => 10.0 + t as f64,
        (0, 1) => 10.0,
        _ => 20.0,
    });
    let panel = PricePanel::new(dates.clone(), vec!["A".into(), "B".into()], close).unwrap();
    let spec = |start: Option<u32>, end: Option<u32>| ExperimentSpec {
        grid: GridSpec {
            lookback: vec![2],
            skip: vec![0],
            holding: vec![10],
            top_k: vec![1],
        },
        start: start.map(day),
        end: end.map(day),
        ..spec()
    };
    let full = |spec: &ExperimentSpec| {
        let experiment = run_experiment(&panel, spec, None, &|_| {}).unwrap();
        experiment.windows[&WindowName::Full].clone()
    };

    // The whole panel: t0 = 2 (the 3rd); B's score 20/10 - 1 beats A's 12/10 - 1: B, flat.
    assert_eq!(full(&spec(None, None)).strategy.total_roi, 0.0);

    // From Saturday the 6th: the window opens on Monday the 8th (day 5), t0 = max(5, 2) = 5,
    // scored from days 3 and 5 (before the window): A 15/13 - 1 beats B 0; A bought at 15
    // and held to 17.
    let window = full(&spec(Some(6), None));
    assert_eq!((window.start, window.end), (day(8), day(10)));
    assert_eq!(window.first_rebalance, day(8));
    assert_eq!((window.days, window.returns), (3, 2));
    assert!((window.strategy.total_roi - (17.0 / 15.0 - 1.0)).abs() < 1e-15);
    // Cutting the data at the 8th instead leaves no price before it: too short for L = 2.
    let cut = PricePanel::new(
        dates[5..].to_vec(),
        vec!["A".into(), "B".into()],
        panel.close().slice(ndarray::s![5.., ..]).to_owned(),
    )
    .unwrap();
    assert!(run_experiment(&cut, &spec(None, None), None, &|_| {}).is_err());

    // To Tuesday the 9th: A sold on the last day at 16.
    let window = full(&spec(Some(6), Some(9)));
    assert_eq!((window.start, window.end), (day(8), day(9)));
    assert!((window.strategy.total_roi - (16.0 / 15.0 - 1.0)).abs() < 1e-15);
    // Buy and hold on the same days: half in A (15 to 16), half in B (flat).
    assert!((window.baseline.total_roi - (0.5 * 16.0 / 15.0 + 0.5 - 1.0)).abs() < 1e-15);

    // With a split, train_fraction cuts the window's days: 7 days from the 2nd, 3 to train.
    let split = ExperimentSpec {
        train_fraction: Some(0.5),
        ..spec(Some(2), None)
    };
    let experiment = run_experiment(&panel, &split, None, &|_| {}).unwrap();
    let train = &experiment.windows[&WindowName::Train];
    let test = &experiment.windows[&WindowName::Test];
    assert_eq!((train.start, train.end), (day(2), day(4)));
    assert_eq!((test.start, test.end), (day(5), day(10)));

    // Errors name the dates.
    let run = |spec: &ExperimentSpec| {
        run_experiment(&panel, spec, None, &|_| {})
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        run(&spec(Some(6), Some(7))),
        "no trading day between 2024-01-06 and 2024-01-07: the data runs from 2024-01-01 to \
         2024-01-10"
    );
    assert_eq!(
        run(&spec(Some(11), None)),
        "no trading day between 2024-01-11 and 2024-01-10: the data runs from 2024-01-01 to \
         2024-01-10"
    );
    assert!(matches!(
        run_experiment(&panel, &spec(Some(9), Some(8)), None, &|_| {}),
        Err(EngineError::InvalidParameter { name: "start", .. })
    ));
    assert_eq!(
        run(&spec(Some(10), None)),
        "window too short for lookback 2: from 2024-01-10 to 2024-01-10, the first rebalance \
         max(start, lookback) is not before the last day"
    );
}

/// A two-fold walk-forward worked out by hand: A climbs 10, 11, ..., 16 over seven days, B
/// stays at 10; one combination (L = 1, S = 0, a holding longer than any fold, K = 1) at
/// 10 bps; 3 train days, 2 test days.
#[test]
fn a_two_fold_walk_forward_chains_its_folds_and_pays_each_switch() {
    use momentum_engine::WalkForwardSpec;
    let day = |d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
    let close = ndarray::Array2::from_shape_fn(
        (7, 2),
        |(t, i)| {
            if i == 0 { 10.0 + t as f64 } else { 10.0 }
        },
    );
    let panel = PricePanel::new(
        (1..=7).map(day).collect(),
        vec!["A".into(), "B".into()],
        close,
    )
    .unwrap();
    let spec = ExperimentSpec {
        train_fraction: None,
        objective: Objective::TotalRoi,
        cost_bps: 10.0,
        grid: GridSpec {
            lookback: vec![1],
            skip: vec![0],
            holding: vec![10],
            top_k: vec![1],
        },
        walk_forward: Some(WalkForwardSpec {
            train_days: 3,
            test_days: 2,
            anchored: false,
        }),
        ..spec()
    };
    let experiment = run_experiment(&panel, &spec, None, &|_| {}).unwrap();
    let analysis = experiment.walk_forward.as_ref().expect("asked for");
    let fee = 0.999;

    // Fold 0 trains on days 0-2 and trades days 3-5; fold 1 trains on days 2-4 and trades
    // days 5-6 (cut at the panel's end). Each buys A (its only positive score) from cash.
    let windows: Vec<_> = analysis
        .folds
        .iter()
        .map(|f| (f.train_start, f.train_end, f.test_start, f.test_end))
        .collect();
    assert_eq!(
        windows,
        [
            (day(1), day(3), day(4), day(6)),
            (day(3), day(5), day(6), day(7))
        ]
    );
    // Fold 0's train run: A bought at 11 on day 1, worth 12 on day 2.
    assert!((analysis.folds[0].train_objective - (fee * 12.0 / 11.0 - 1.0)).abs() < 1e-15);
    assert!((analysis.folds[0].test.total_roi - (fee * 15.0 / 13.0 - 1.0)).abs() < 1e-15);
    assert!((analysis.folds[1].test.total_roi - (fee * 16.0 / 15.0 - 1.0)).abs() < 1e-15);

    // Stitched: days 3 to 6, the switch on day 5 pays a second purchase.
    let curve: Vec<f64> = analysis.curve.iter().map(|p| p.strategy).collect();
    let want = [
        fee,
        fee * 14.0 / 13.0,
        fee * 15.0 / 13.0 * fee,
        fee * 15.0 / 13.0 * fee * 16.0 / 15.0,
    ];
    assert_eq!(curve.len(), want.len());
    for (got, want) in curve.iter().zip(want) {
        assert!((got - want).abs() < 1e-14, "{curve:?}");
    }
    let stitched = &analysis.stitched;
    assert!((stitched.total_roi - (fee * fee * 16.0 / 13.0 - 1.0)).abs() < 1e-14);
    let returns: Vec<f64> = want.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
    let mean = returns.iter().sum::<f64>() / 3.0;
    let sd = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!((stitched.sharpe - mean / sd * 252f64.sqrt()).abs() < 1e-9);
    assert_eq!((stitched.num_trades, stitched.max_drawdown), (2, 0.0));
    // Two purchases of turnover 1 over 3 returns, annualised.
    assert!((stitched.turnover - 2.0 / (3.0 / 252.0)).abs() < 1e-9);
    // Buy and hold over the same days: half in A from 13 to 16, half in B, after 10 bps.
    assert!((analysis.baseline.total_roi - fee * (0.5 * 16.0 / 13.0 + 0.5) + 1.0).abs() < 1e-14);

    // In metrics.json, without the curve.
    let mut json = Vec::new();
    experiment.write_metrics_json(&mut json).unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        metrics["walk_forward"]["folds"].as_array().unwrap().len(),
        2
    );
    assert_eq!(metrics["walk_forward"]["spec"]["train_days"], 3);
    assert!(metrics["walk_forward"].get("curve").is_none());

    // A train window that cannot hold the lookback and a rebalance is refused, by its key.
    let short = ExperimentSpec {
        walk_forward: Some(WalkForwardSpec {
            train_days: 2,
            test_days: 2,
            anchored: false,
        }),
        ..spec.clone()
    };
    assert!(matches!(
        run_experiment(&panel, &short, None, &|_| {}),
        Err(EngineError::InvalidParameter {
            name: "walk_forward.train_days",
            ..
        })
    ));
}

#[test]
fn equity_curve_csv_reads_back_as_the_chained_curve() {
    // A 50/50 split of the six days: both windows recorded, the test chained onto the train.
    let mut split = spec();
    split.train_fraction = Some(0.5);
    split.grid.lookback = vec![1];
    split.grid.holding = vec![1];
    let experiment = run_experiment(&panel(), &split, None, &|_| {}).unwrap();
    let mut equity = Vec::new();
    experiment.write_equity_csv(&mut equity).unwrap();
    let read = momentum_engine::ChainedCurve::read_equity_csv(equity.as_slice()).unwrap();
    let chained = experiment.chained_curve().unwrap();
    assert!(chained.split.is_some());
    assert_eq!(read.split, chained.split);
    assert_eq!(read.points.len(), chained.points.len());
    for (a, b) in read.points.iter().zip(&chained.points) {
        assert_eq!((a.date, a.window), (b.date, b.window));
        // The CSV holds shortest round-trip decimals: the chained products agree to rounding.
        assert!((a.strategy - b.strategy).abs() < 1e-12 && (a.baseline - b.baseline).abs() < 1e-12);
    }

    let bad = "date,strategy,baseline,window\n2024-01-02,1.0,1.0,train\n2024-01-03,x,1.0,train\n";
    let err = momentum_engine::ChainedCurve::read_equity_csv(bad.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "equity curve line 3: \"x\" is not a number"
    );
    let err = momentum_engine::ChainedCurve::read_equity_csv("day,value\n".as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "equity curve line 1: header \"day,value\" is not date,strategy,baseline,window"
    );
}
