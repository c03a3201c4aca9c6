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
    assert_eq!(keys(&value), ["data", "params", "selection", "windows"]);
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
