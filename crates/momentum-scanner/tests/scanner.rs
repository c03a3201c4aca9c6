//! The scanner against the engine, the picks history on disk, and the monitor on constructed data.

use chrono::NaiveDate;
use momentum_engine::{EngineError, StrategyParams, Window, backtest};
use momentum_features::PricePanel;
use momentum_scanner::history::{append_history, read_history};
use momentum_scanner::model::{Registration, Stage};
use momentum_scanner::monitor::{MonitorReport, MonitorSettings, monitor};
use momentum_scanner::scan::{Picks, scan};
use momentum_scanner::{Model, ScanError};

fn sample_panel() -> PricePanel {
    let table = momentum_data::load_sample().expect("embedded sample loads");
    PricePanel::from_table(&table).expect("sample aligns")
}

#[test]
fn scan_picks_equal_the_backtest_holdings_on_several_sample_dates() {
    let panel = sample_panel();
    for (lookback, skip, holding, top_k) in [(60, 0, 20, 3), (120, 20, 5, 5), (250, 5, 63, 7)] {
        let strategy = StrategyParams {
            lookback,
            skip,
            holding,
            top_k,
            cost_bps: 10.0,
        };
        let window = Window {
            start: 3000,
            end: 6000,
        };
        let run = backtest(&panel, &strategy, window).expect("backtest runs");
        let params = StrategyParams {
            cost_bps: 0.0,
            lookback,
            skip,
            holding,
            top_k,
        };
        let rebalance_days: Vec<usize> = (run.t0..window.end).step_by(holding).collect();
        for &day in rebalance_days.iter().step_by(rebalance_days.len() / 5) {
            let mut held: Vec<&str> = run
                .trades
                .iter()
                .filter(|trade| trade.day == day && trade.weight_after > 0.0)
                .map(|trade| panel.tickers()[trade.ticker].as_str())
                .collect();
            held.sort_unstable();
            let picks = scan(&panel, day, &model(&panel, params, "test")).expect("scan runs");
            let mut picked: Vec<&str> = picks.selected().collect();
            picked.sort_unstable();
            assert_eq!(
                picked,
                held,
                "L={lookback} S={skip} K={top_k} on {}",
                panel.dates()[day]
            );
            let weight: f64 = picks.picks.iter().map(|p| p.target_weight).sum();
            assert!((weight - 1.0).abs() < 1e-12);
        }
    }
}

/// The registered model `version` of `params` on the tickers of `panel`.
fn model(panel: &PricePanel, params: StrategyParams, version: &str) -> Model {
    Model {
        params,
        universe: panel.tickers().to_vec(),
        data_digest: None,
        stage: Stage::Registered(Registration {
            version: version.into(),
            promoted_at: "2024-01-01T00:00:00Z".into(),
        }),
    }
}

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, day).unwrap()
}

/// The model most tiny-panel tests scan with: one day of lookback, the best ticker, held 2 days.
const ONE_DAY_MODEL: StrategyParams = StrategyParams {
    cost_bps: 0.0,
    lookback: 1,
    skip: 0,
    holding: 2,
    top_k: 1,
};

/// The model of the synthetic panels: a month's momentum, held a week.
const MONTHLY_MODEL: StrategyParams = StrategyParams {
    cost_bps: 0.0,
    lookback: 20,
    skip: 0,
    holding: 5,
    top_k: 3,
};

fn tiny_panel() -> PricePanel {
    let close = ndarray::array![
        [10.0, 10.0, 10.0],
        [11.0, 9.0, 10.0],
        [12.0, 9.0, f64::NAN],
        [13.0, 9.0, 10.0],
        [14.0, 9.0, 10.0],
        [15.0, 9.0, 10.0],
    ];
    PricePanel::new(
        (1..=6).map(date).collect(),
        vec!["A".into(), "B".into(), "C".into()],
        close,
    )
    .unwrap()
}

#[test]
fn scan_ranks_every_ticker_and_leaves_ineligible_ones_unranked() {
    let panel = tiny_panel();
    let params = StrategyParams {
        cost_bps: 0.0,
        lookback: 1,
        skip: 0,
        holding: 2,
        top_k: 2,
    };
    // Day 1: A 11/10-1 = 0.1, B 9/10-1 = -0.1, C 10/10-1 = 0: A then C.
    let picks = scan(&panel, 1, &model(&panel, params, "7")).unwrap();
    let order: Vec<(&str, Option<usize>, bool)> = picks
        .picks
        .iter()
        .map(|p| (p.ticker.as_str(), p.rank, p.selected))
        .collect();
    assert_eq!(
        order,
        [
            ("A", Some(1), true),
            ("C", Some(2), true),
            ("B", Some(3), false)
        ]
    );
    assert_eq!(picks.picks[0].target_weight, 0.5);
    // Day 2: C has no price, so it is not eligible.
    let picks = scan(&panel, 2, &model(&panel, params, "7")).unwrap();
    let c = picks.picks.iter().find(|p| p.ticker == "C").unwrap();
    assert_eq!((c.rank, c.score, c.last_close), (None, None, None));
    let longer = StrategyParams {
        lookback: 2,
        ..params
    };
    assert!(matches!(
        scan(&panel, 0, &model(&panel, longer, "7")),
        Err(ScanError::TooShort { .. })
    ));
}

#[test]
fn history_is_idempotent_per_as_of_date_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("predictions/picks.parquet");
    let panel = tiny_panel();
    let params = ONE_DAY_MODEL;
    let day1 = scan(&panel, 1, &model(&panel, params, "1")).unwrap();
    let day3 = scan(&panel, 3, &model(&panel, params, "1")).unwrap();
    append_history(&path, std::slice::from_ref(&day3)).unwrap();
    append_history(&path, std::slice::from_ref(&day1)).unwrap();
    append_history(&path, std::slice::from_ref(&day1)).unwrap();
    let history = read_history(&path).unwrap();
    assert_eq!(history, vec![day1, day3]);
}

/// Scans appending to one history at once (a scheduled scan and one by hand) each keep their
/// scan: they take turns (each used to rewrite the history it had read, losing the other's).
#[test]
fn concurrent_appends_keep_every_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("predictions/picks.parquet");
    let panel = tiny_panel();
    let scans: Vec<Picks> = (1..panel.n_days())
        .map(|t| scan(&panel, t, &model(&panel, ONE_DAY_MODEL, "1")).unwrap())
        .collect();
    for round in 0..20 {
        let _ = std::fs::remove_file(&path);
        std::thread::scope(|threads| {
            for picks in &scans {
                threads.spawn(|| append_history(&path, std::slice::from_ref(picks)).unwrap());
            }
        });
        assert_eq!(read_history(&path).unwrap(), scans, "round {round}");
    }
}

#[test]
fn a_corrupt_history_is_a_clear_error_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("picks.parquet");
    std::fs::write(&path, b"not parquet").unwrap();
    let panel = tiny_panel();
    let picks = scan(&panel, 1, &model(&panel, ONE_DAY_MODEL, "1")).unwrap();
    let err = append_history(&path, std::slice::from_ref(&picks)).unwrap_err();
    assert!(matches!(err, ScanError::CorruptHistory { .. }), "{err}");
    assert!(err.to_string().contains("picks.parquet"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not parquet");
}

/// A history row whose model could not have been scanned (skip == lookback) is refused when
/// read, and each monitor setting out of its range is refused by name.
#[test]
fn a_foreign_model_in_the_history_and_bad_monitor_settings_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("picks.parquet");
    let panel = tiny_panel();
    let params = ONE_DAY_MODEL;
    let mut picks = scan(&panel, 1, &model(&panel, params, "1")).unwrap();
    picks.params.skip = 1;
    append_history(&path, std::slice::from_ref(&picks)).unwrap();
    let err = read_history(&path).unwrap_err().to_string();
    assert!(
        err.contains("picks.parquet")
            && err.contains("model: invalid skip = 1: must be smaller than lookback"),
        "{err}"
    );
    // A weight that is no weight, and a ticker picked twice in one scan (a table written
    // twice over itself): refused by row, not counted (a NaN weight used to crash the monitor's
    // statistics; a repeated row doubled the picks).
    let clean = scan(&panel, 1, &model(&panel, params, "1")).unwrap();
    let first = clean.picks[0].ticker.clone();
    let mut nan_weight = clean.clone();
    nan_weight.picks[0].target_weight = f64::NAN;
    let mut twice = clean.clone();
    twice.picks.push(twice.picks[0].clone());
    let last = twice.picks.len() - 1;
    let mut none_selected = clean.clone();
    for pick in &mut none_selected.picks {
        pick.selected = false;
    }
    let scored = clean.picks.iter().filter(|p| p.score.is_some()).count();
    // Weights that are in range but not the scan's: an unallocated basket read as a loss of
    // everything (t = -inf), a weight on a ticker not selected (a levered basket).
    let chosen = clean.picks.iter().position(|p| p.selected).unwrap();
    let other = clean.picks.iter().position(|p| !p.selected).unwrap();
    let mut unallocated = clean.clone();
    unallocated.picks[chosen].target_weight = 0.0;
    let mut levered = clean.clone();
    levered.picks[other].target_weight = 0.5;
    let n = clean.selected().count();
    let weighs = |ticker: &str, weight: &str| {
        format!(
            "the champion scan of {} gives {ticker} a target weight of {weight}: a scan weighs \
             each of its {n} selected tickers 1/{n} and the others 0",
            clean.as_of
        )
    };
    for (spoilt, expected) in [
        (unallocated, weighs(&clean.picks[chosen].ticker, "0")),
        (levered, weighs(&clean.picks[other].ticker, "0.5")),
        (
            none_selected,
            format!(
                "the champion scan of {} selects 0 of its {scored} scored tickers, with a top_k \
                 of {}",
                clean.as_of, params.top_k
            ),
        ),
        (
            nan_weight,
            format!("row 0 ({first}): target_weight NaN is out of range"),
        ),
        (
            twice,
            format!(
                "row {last}: {first} is listed twice in the champion scan of {}",
                clean.as_of
            ),
        ),
    ] {
        let spoilt_path = dir.path().join("spoilt.parquet");
        let _ = std::fs::remove_file(&spoilt_path);
        append_history(&spoilt_path, &[spoilt]).unwrap();
        let err = read_history(&spoilt_path).unwrap_err().to_string();
        assert!(
            err.contains("spoilt.parquet") && err.ends_with(&expected),
            "{err}"
        );
    }
    // The library call refuses the same model handed to it directly.
    let err = monitor_whole(&panel, &[picks]).unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::InvalidModel(EngineError::InvalidParameter { name: "skip", .. })
        ),
        "{err}"
    );

    let history = [scan(&panel, 1, &model(&panel, params, "1")).unwrap()];
    type Spoil = fn(&mut MonitorSettings);
    let bad: [(&str, Spoil); 4] = [
        ("monitor.psi_threshold", |s| s.psi_threshold = f64::NAN),
        ("monitor.ks_alpha", |s| s.ks_alpha = 1.0),
        ("monitor.mean_return_alpha", |s| s.mean_return_alpha = 0.0),
        ("monitor.recent_days", |s| s.recent_days = 0),
    ];
    for (name, spoil) in bad {
        let mut s = settings();
        spoil(&mut s);
        let err = monitor(&panel, &history, &s, (0.7, Window::full(panel.n_days())))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&format!("invalid {name}:")), "{err}");
    }
    for fraction in [0.0, 1.5, f64::NAN] {
        let err = monitor(
            &panel,
            &history,
            &settings(),
            (fraction, Window::full(panel.n_days())),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid backtest.train_fraction: must be in (0, 1)"
        );
    }
}

/// The monitor with [`settings`] and a backtest of the whole panel, 70 % of it in train.
fn monitor_whole(panel: &PricePanel, history: &[Picks]) -> Result<MonitorReport, ScanError> {
    monitor(
        panel,
        history,
        &settings(),
        (0.7, Window::full(panel.n_days())),
    )
}

fn settings() -> MonitorSettings {
    MonitorSettings {
        psi_threshold: 0.25,
        ks_alpha: 0.01,
        mean_return_alpha: 0.05,
        recent_days: 63,
    }
}

#[test]
fn live_returns_match_a_hand_computation() {
    let panel = tiny_panel();
    let params = ONE_DAY_MODEL;
    // Scan on day 1 picks A (score 0.1). Exit on day 3: A 13 / 11 - 1.
    // Buy and hold of the three tickers priced on day 1: (13/11 + 9/9 + 10/10) / 3 - 1.
    // A scan on day 2 overlaps the first period and does not count; day 3 exits on day 5.
    let history = vec![
        scan(&panel, 1, &model(&panel, params, "1")).unwrap(),
        scan(&panel, 2, &model(&panel, params, "1")).unwrap(),
        scan(&panel, 3, &model(&panel, params, "1")).unwrap(),
    ];
    let report = monitor_whole(&panel, &history).unwrap();
    assert_eq!(report.live.len(), 2);
    assert!((report.live[0].basket_return - (13.0 / 11.0 - 1.0)).abs() < 1e-15);
    assert!(
        (report.live[0].baseline_return - ((13.0 / 11.0 + 1.0 + 1.0) / 3.0 - 1.0)).abs() < 1e-15
    );
    // Day 3 picks A again (13/12 - 1 beats B's 0 and C's 10/10 - 1 = 0): 15 / 13 - 1.
    assert_eq!(report.live[1].tickers, ["A"]);
    assert!((report.live[1].basket_return - (15.0 / 13.0 - 1.0)).abs() < 1e-15);
}

/// A model of the same parameters over another universe (a ticker dropped from the block by
/// hand, a new version) starts a record of its own: the older scans picked a ticker the monitor's
/// panel, cut to the latest universe, does not have, and are not its record.
#[test]
fn a_changed_universe_starts_a_new_live_record() {
    let panel = tiny_panel();
    let params = ONE_DAY_MODEL;
    let close = panel.close().slice(ndarray::s![.., 1..]).to_owned();
    let without_a =
        PricePanel::new(panel.dates().to_vec(), vec!["B".into(), "C".into()], close).unwrap();
    let history = vec![
        scan(&panel, 1, &model(&panel, params, "1")).unwrap(),
        scan(&panel, 3, &model(&panel, params, "1")).unwrap(),
        scan(&without_a, 3, &model(&without_a, params, "2")).unwrap(),
    ];
    assert_eq!(history[0].selected().collect::<Vec<_>>(), ["A"]);
    let report = monitor_whole(&without_a, &history).unwrap();
    assert_eq!(report.live.len(), 1, "{:?}", report.live);
    assert_eq!(report.live[0].as_of, date(4));
    assert!(!report.live[0].tickers.contains(&"A".to_string()));
}

/// A deterministic pseudo-random panel: `days` closes of `tickers` tickers whose daily log
/// returns are uniform in `[-spread, spread]` plus `drift`; from day `shift_from` on, the
/// spread and drift become `late_spread` and `late_drift`.
fn synthetic_panel(
    days: usize,
    tickers: usize,
    shift_from: usize,
    late_spread: f64,
    late_drift: f64,
) -> PricePanel {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let mut close = ndarray::Array2::<f64>::zeros((days, tickers));
    for i in 0..tickers {
        close[[0, i]] = 100.0;
    }
    for t in 1..days {
        let (spread, drift) = if t >= shift_from {
            (late_spread, late_drift)
        } else {
            (0.02, 0.0003)
        };
        for i in 0..tickers {
            close[[t, i]] = close[[t - 1, i]] * (drift + spread * uniform()).exp();
        }
    }
    let start = NaiveDate::from_ymd_opt(2010, 1, 1).unwrap();
    let dates = (0..days)
        .map(|d| start + chrono::Days::new(d as u64))
        .collect();
    PricePanel::new(
        dates,
        (0..tickers).map(|i| format!("T{i}")).collect(),
        close,
    )
    .unwrap()
}

#[test]
fn stable_scores_raise_no_drift_and_a_regime_change_does() {
    let params = MONTHLY_MODEL;
    let stable = synthetic_panel(1500, 12, usize::MAX, 0.0, 0.0);
    let history = vec![scan(&stable, 1499, &model(&stable, params, "1")).unwrap()];
    let report = monitor_whole(&stable, &history).unwrap();
    let check = |name| {
        report
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .clone()
    };
    assert!(check("psi").value.unwrap() < 0.1, "{:?}", check("psi"));
    assert!(!check("ks").breached, "{:?}", check("ks"));
    assert!(!report.retrain_recommended, "{:?}", report.reasons);

    // The last 100 days move four times as much with a strong trend: scores shift far up.
    let shifted = synthetic_panel(1500, 12, 1400, 0.08, 0.02);
    let history = vec![scan(&shifted, 1499, &model(&shifted, params, "1")).unwrap()];
    let report = monitor_whole(&shifted, &history).unwrap();
    let breached: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.breached)
        .map(|c| c.name)
        .collect();
    assert!(
        breached.contains(&"psi") && breached.contains(&"ks"),
        "{:?}",
        report.checks
    );
    assert!(report.retrain_recommended);
}

#[test]
fn the_drift_reference_is_the_train_window_of_the_evaluation_window() {
    let params = MONTHLY_MODEL;
    // The market changed on day 900 and stayed so: the last 63 days are like days 900 on.
    let panel = synthetic_panel(1500, 12, 900, 0.08, 0.02);
    let history = vec![scan(&panel, 1499, &model(&panel, params, "1")).unwrap()];
    // (PSI breached, retraining recommended, recent scores, reference scores), the counts from
    // the check's detail.
    let drift = |evaluated: Window| {
        let report = monitor(&panel, &history, &settings(), (0.7, evaluated)).unwrap();
        let psi = report.checks.iter().find(|c| c.name == "psi").unwrap();
        let (recent, reference) = psi.detail.split_once(" recent scores against ").unwrap();
        let number = |word: Option<&str>| word.unwrap().parse::<usize>().unwrap();
        let counts = (
            number(recent.rsplit(' ').next()),
            number(reference.split(' ').next()),
        );
        (psi.breached, report.retrain_recommended, counts)
    };
    // 63 recent days of 12 tickers. A backtest of the whole panel trained on days 0 to 1049
    // (floor(0.7 * 1500) = 1050 days), scored from day 20: 1,030 days, mostly before the
    // change. Drift.
    assert_eq!(drift(Window::full(1500)), (true, true, (756, 12_360)));
    // A backtest from day 900 (`backtest.start`) trained on its first 420 days (0.7 * 600),
    // 900 to 1319, all after the change, as the recent days are. No drift.
    let late = Window {
        start: 900,
        end: 1499,
    };
    assert_eq!(drift(late), (false, false, (756, 5_040)));
    // An evaluation window that ends early (`backtest.end`) moves the train window with it:
    // days 900 to 1099, 140 of them in train.
    let short = Window {
        start: 900,
        end: 1099,
    };
    assert_eq!(drift(short).2, (756, 1_680));
    // Recent days that reach into the train window would compare the scores partly with
    // themselves: days 1050 to 1499 fit after a train window of days 0 to 1049, one more day
    // makes both checks "not comparable" (not breached, no value) instead of a verdict.
    let checks = |recent_days| {
        let settings = MonitorSettings {
            recent_days,
            ..settings()
        };
        monitor(&panel, &history, &settings, (0.7, Window::full(1500)))
            .unwrap()
            .checks
    };
    let fitting = checks(450);
    assert!(
        fitting.iter().skip(2).all(|c| c.value.is_some()),
        "{fitting:?}"
    );
    let reaching = checks(451);
    for name in ["psi", "ks"] {
        let check = reaching.iter().find(|c| c.name == name).unwrap();
        assert!(check.value.is_none() && !check.breached, "{check:?}");
        assert!(
            check
                .detail
                .starts_with("not comparable: the last 451 days")
                && check.detail.ends_with("at most 450 fit after it"),
            "{}",
            check.detail
        );
    }
    // A window outside the panel is refused.
    let on = |start, end| monitor(&panel, &history, &settings(), (0.7, Window { start, end }));
    let err = on(900, 1500);
    assert!(matches!(err, Err(ScanError::Engine(_))), "{err:?}");
    // So is one whose train window would be empty, as the backtest refuses it: 0.7 of one day.
    let err = on(900, 900).unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::Engine(EngineError::TooFewDaysToSplit { days: 1, .. })
        ),
        "{err:?}"
    );
}

#[test]
fn live_returns_far_below_the_promise_recommend_retraining() {
    // Trending up for 1,000 days (the backtest promises gains), then every ticker falls 1 % a
    // day: the picks scanned in the fall lose money period after period.
    let panel = synthetic_panel(1300, 12, 1000, 0.002, -0.01);
    let params = MONTHLY_MODEL;
    let history: Vec<_> = (1000..1290)
        .step_by(5)
        .map(|t| scan(&panel, t, &model(&panel, params, "1")).unwrap())
        .collect();
    let report = monitor_whole(&panel, &history).unwrap();
    let mean_check = report
        .checks
        .iter()
        .find(|c| c.name == "mean_return")
        .unwrap();
    assert!(report.live.len() >= 50, "{}", report.live.len());
    assert!(mean_check.breached, "{mean_check:?}");
    assert!(report.live_mean_return.unwrap() < 0.0);
    assert!(report.retrain_recommended);
}
