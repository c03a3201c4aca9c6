//! The lifecycle through the library alone, no `momentum` process: backtest the embedded sample,
//! track the run, promote the candidate through the gates into a local registry and a params
//! file, load it back from both, and scan with it.

use std::path::Path;

use chrono::NaiveDate;
use momentum_engine::{Arm, GridSpec, PricePanel, Shard, WindowName};
use momentum_lifecycle::track::{open_tracker, track_backtest};
use momentum_lifecycle::{
    BacktestFiles, LifecycleError, ProductionSource, REPORT_FILE, ReportContext, ScanRequest,
    Settings, Silent, backtest, backtest_shard, judge, load_model, merge_backtest, register,
    report_of_run, run_scan,
};
use momentum_scanner::Model;
use momentum_scanner::model::CodeVersion;

/// Settings whose every file lives under `dir`.
fn settings_in(dir: &Path) -> Settings {
    let mut settings = Settings::default();
    settings.tracking.store = dir.join("mlruns");
    settings.tracking.uri = String::new();
    settings.data.out = dir.join("prices.parquet");
    settings.scan.picks = dir.join("picks.json");
    settings.scan.history = dir.join("picks.parquet");
    // The committed production model and one other lookback: the grid picks one of two.
    settings.backtest.grid = GridSpec {
        lookback: vec![120, 250],
        skip: vec![10],
        holding: vec![60],
        top_k: vec![5],
    };
    settings
}

/// The files a backtest under `root` writes.
fn files_in(root: &Path) -> BacktestFiles {
    BacktestFiles {
        reports: root.join("reports"),
        model: root.join("models/candidate.json"),
    }
}

/// The code version a test's candidate records (no git commit: a reproducible file).
fn test_code() -> (CodeVersion, Option<String>) {
    (
        CodeVersion {
            version: "test".into(),
            git_commit: None,
        },
        None,
    )
}

#[test]
fn backtest_promote_and_scan_through_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The params file starts with only a comment: promotion adds the production block.
    let params_file = root.join("params.yaml");
    std::fs::write(&params_file, "# written by the test\n").unwrap();
    let settings = settings_in(root);
    let table = momentum_data::load_sample().unwrap();
    momentum_data::write_parquet(&settings.data.out, &table).unwrap();
    let panel = PricePanel::from_table(&table).unwrap();
    let digest = momentum_data::digest(&table);

    // Backtest: the experiment, its reports and the candidate, written together.
    let files = files_in(root);
    let run = backtest(
        &panel,
        Some(digest.clone()),
        &settings.backtest,
        test_code(),
        &files,
        &ReportContext::default(),
        &Silent,
    )
    .unwrap();
    let experiment = &run.experiment;
    assert_eq!(experiment.grid.len(), 2);
    assert_eq!(experiment.data.digest.as_deref(), Some(digest.as_str()));
    for path in &run.files {
        assert!(path.exists(), "{}", path.display());
    }
    // The candidate file decodes to the experiment that wrote it.
    let bytes = std::fs::read(&files.model).unwrap();
    let candidate = Model::from_candidate_json(&bytes).unwrap();
    assert_eq!(candidate.params, experiment.params);
    assert_eq!(candidate.universe, panel.tickers());
    let decoded = candidate.experiment().unwrap();
    let mut summary = experiment.windows.clone();
    for window in summary.values_mut() {
        window.runs = None;
    }
    assert!(
        decoded.windows == summary,
        "the candidate's windows are the experiment's"
    );
    assert_eq!(decoded.selection.dsr, experiment.selection.dsr);

    let tracker = open_tracker(&settings, "test", None).unwrap();
    let logged = track_backtest(&tracker, &settings, &run, &params_file).unwrap();
    assert_eq!(logged.child_run_ids.len(), 2);
    // The tracked run draws the same report again from its artifacts, byte for byte but for
    // where it says it comes from.
    let id = &logged.parent_run_id;
    let again = report_of_run(&tracker, id, false, &ReportContext::default()).unwrap();
    let written = std::fs::read_to_string(files.reports.join(REPORT_FILE)).unwrap();
    assert!(written.contains("momentum backtest."));
    assert!(
        again.replace(
            &format!("tracked run {id} (local store)"),
            "momentum backtest"
        ) == written,
        "the run's report differs from the backtest's"
    );

    // Promote: the gates read the test window of the candidate file.
    let verdict = judge(&files.model, &settings.promotion).unwrap();
    let test = &experiment.windows[&WindowName::Test];
    let roi = verdict.gates.iter().find(|g| g.gate == "min_roi").unwrap();
    assert_eq!(roi.value, test.strategy.total_roi);
    assert!(verdict.passed(), "{:?}", verdict.gates);
    let promote = || {
        register(
            &tracker,
            &settings,
            &verdict,
            &params_file,
            (Arm::Champion, "2026-12-05T00:00:00Z"),
        )
    };
    // Refused while another promotion holds the params file, and over blocks that changed
    // since `settings` read them: before the registry or the file changes.
    let held = momentum_files::DirLock::exclusive(&params_file).unwrap();
    let err = promote().unwrap_err();
    assert!(
        matches!(err, LifecycleError::PromotionInProgress { .. }),
        "{err}"
    );
    drop(held);
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../params.yaml"))
            .unwrap();
    std::fs::write(&params_file, &committed).unwrap();
    let err = promote().unwrap_err();
    assert!(matches!(err, LifecycleError::ParamsChanged { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&params_file).unwrap(), committed);
    // No registered model yet, not even an empty one.
    assert!(
        tracker
            .list_versions(&settings.tracking.model_name)
            .is_err()
    );
    std::fs::write(&params_file, "# written by the test\n").unwrap();
    let promotion = promote().unwrap();
    assert_eq!(promotion.model.version(), Some("1"));
    assert_eq!(promotion.previous, None);
    let written = std::fs::read_to_string(&params_file).unwrap();
    assert!(
        written.starts_with("# written by the test\nproduction:\n"),
        "{written}"
    );

    // The production model is the same from the params file and from the registry.
    let reread = Settings::load(&params_file, true).unwrap();
    let from_params = reread
        .production
        .model()
        .unwrap()
        .expect("a production model");
    assert_eq!(from_params, promotion.model);
    let registry = || open_tracker(&settings, "test", None);
    let from_registry = load_model(
        &settings,
        &params_file,
        (Arm::Champion, ProductionSource::Registry),
        registry,
    )
    .unwrap();
    assert_eq!(from_registry, promotion.model);

    // Scan on the last day: the model's top k by the spec's score P[t-S] / P[t-L] - 1,
    // recomputed here from the panel's closes.
    let request = ScanRequest {
        prices: settings.data.out.clone(),
        as_of: None,
        today: NaiveDate::from_ymd_opt(2022, 12, 30).unwrap(),
        max_staleness_days: settings.scan.max_staleness_days,
        out: settings.scan.picks.clone(),
        history: settings.scan.history.clone(),
        models_from: None,
    };
    let (picks, _) = run_scan(&from_params, None, &request).unwrap();
    let p = from_params.params;
    let t = panel.n_days() - 1;
    let mut scored: Vec<(f64, &str)> = (0..panel.n_tickers())
        .map(|i| {
            let score = panel.price(t - p.skip, i) / panel.price(t - p.lookback, i) - 1.0;
            (score, panel.tickers()[i].as_str())
        })
        .filter(|(score, _)| score.is_finite())
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let want: Vec<&str> = scored.iter().take(p.top_k).map(|(_, t)| *t).collect();
    assert_eq!(picks.selected().collect::<Vec<_>>(), want);
    assert!(request.csv().exists() && request.history.exists());
}

/// Stale prices are refused before anything is written, naming the file and the dates.
#[test]
fn a_scan_of_stale_prices_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_in(dir.path());
    let table = momentum_data::load_sample().unwrap();
    momentum_data::write_parquet(&settings.data.out, &table).unwrap();
    let model = momentum_scanner::model::ProductionBlock {
        version: Some("3".into()),
        lookback: Some(20),
        skip: Some(0),
        holding: Some(5),
        top_k: Some(3),
        tickers: table.tickers().to_vec(),
        cost_bps: Some(10.0),
        promoted_at: Some("2026-12-01T00:00:00Z".into()),
        ..Default::default()
    }
    .model()
    .unwrap()
    .unwrap();
    let request = ScanRequest {
        prices: settings.data.out.clone(),
        as_of: None,
        today: NaiveDate::from_ymd_opt(2023, 2, 1).unwrap(),
        max_staleness_days: 7,
        out: settings.scan.picks.clone(),
        history: settings.scan.history.clone(),
        models_from: None,
    };
    let err = run_scan(&model, None, &request).unwrap_err().to_string();
    assert!(
        err.starts_with("stale prices: the newest date in ")
            && err.contains(
                "prices.parquet is 2022-12-28, 35 days before 2023-02-01 (limit 7 \
                 days: --max-staleness-days, else scan.max_staleness_days)"
            ),
        "{err}"
    );
    assert!(!request.out.exists() && !request.history.exists());
}

/// A backtest that has not finished logging (still RUNNING here; a killed one is KILLED, as
/// `bins/momentum/tests/runs.rs` checks): its candidate is not promoted from it (the error names
/// the run and its status); once a finished run wrote the same candidate (a rerun with
/// --reproducible writes the same bytes), that one is registered.
#[test]
fn a_candidate_is_registered_only_from_a_finished_run() {
    use momentum_lifecycle::track::CANDIDATE_SHA256_TAG;
    use momentum_tracking::{RunSpec, RunStatus};

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let params_file = root.join("params.yaml");
    let settings = settings_in(root);
    let table = momentum_data::load_sample().unwrap();
    let panel = PricePanel::from_table(&table).unwrap();
    let files = files_in(root);
    let run = backtest(
        &panel,
        None,
        &settings.backtest,
        test_code(),
        &files,
        &ReportContext::default(),
        &Silent,
    )
    .unwrap();
    let tracker = open_tracker(&settings, "test", None).unwrap();
    let killed = RunSpec::new("backtest (killed)")
        .tag(CANDIDATE_SHA256_TAG, &run.candidate_sha256)
        .status(RunStatus::Running);
    let killed_id = tracker
        .log_run(&settings.tracking.experiment, &killed, None)
        .unwrap();
    // A run without the artifacts of a report: all of them named.
    let err = report_of_run(&tracker, &killed_id, false, &ReportContext::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "run {killed_id} has no metrics.json, equity_curve.csv, grid.parquet artifact: not a \
             backtest run, or logged before reports were (rerun `momentum backtest`)"
        )
    );
    let verdict = judge(&files.model, &settings.promotion).unwrap();
    let when = "2026-12-05T00:00:00Z";
    let err = register(
        &tracker,
        &settings,
        &verdict,
        &params_file,
        (Arm::Champion, when),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&format!("backtest run {killed_id}"))
            && err.contains("is RUNNING, not FINISHED"),
        "{err}"
    );
    assert!(!params_file.exists(), "nothing written");

    let logged = track_backtest(&tracker, &settings, &run, &params_file).unwrap();
    let promotion = register(
        &tracker,
        &settings,
        &verdict,
        &params_file,
        (Arm::Champion, when),
    )
    .unwrap();
    assert_eq!(promotion.source_run, logged.parent_run_id);
}

/// The challenger's life through the library: registered beside the champion, scanned in
/// shadow, compared, refused promotion on an undecided comparison, swapped in on a decided one
/// (the old champion archived, `--rollback` returning to it), and retired.
#[test]
fn a_challenger_is_scanned_in_shadow_compared_swapped_in_and_retired() {
    use momentum_lifecycle::{
        ARCHIVED_TAG, AbRequest, AbSource, LifecycleError, aliased, promote_challenger,
        retire_challenger, rollback, run_ab,
    };
    use momentum_scanner::ab::AbSettings;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let params_file = root.join("params.yaml");
    std::fs::write(&params_file, "# written by the test\n").unwrap();
    let mut settings = settings_in(root);
    settings.promotion.max_pbo = None;
    settings.promotion.min_dsr = 0.0;
    let table = momentum_data::load_sample().unwrap();
    momentum_data::write_parquet(&settings.data.out, &table).unwrap();
    let panel = PricePanel::from_table(&table).unwrap();
    let tracker = open_tracker(&settings, "test", None).unwrap();
    // Two candidates, lookback 120 and 250, each backtested, tracked and registered.
    let promote = |lookback: usize, arm: Arm| {
        let mut spec = settings.backtest.clone();
        spec.grid.lookback = vec![lookback];
        let files = files_in(&root.join(format!("lookback{lookback}")));
        let run = backtest(
            &panel,
            None,
            &spec,
            test_code(),
            &files,
            &ReportContext::default(),
            &Silent,
        )
        .unwrap();
        track_backtest(&tracker, &settings, &run, &params_file).unwrap();
        let verdict = judge(&files.model, &settings.promotion).unwrap();
        let current = Settings::load(&params_file, true).unwrap();
        let current = Settings {
            tracking: settings.tracking.clone(),
            ..current
        };
        register(
            &tracker,
            &current,
            &verdict,
            &params_file,
            (arm, "2026-12-05T00:00:00Z"),
        )
        .unwrap()
        .model
    };
    let champion = promote(120, Arm::Champion);
    let challenger = promote(250, Arm::Challenger);
    assert_eq!(
        (champion.version(), challenger.version()),
        (Some("1"), Some("2"))
    );
    let reread = || {
        let mut read = Settings::load(&params_file, true).unwrap();
        read.tracking = settings.tracking.clone();
        read
    };
    assert_eq!(
        reread().challenger.model().unwrap(),
        Some(challenger.clone())
    );
    assert_eq!(reread().production.model().unwrap(), Some(champion.clone()));

    // Two scans: the champion's picks are published, the challenger's recorded beside them.
    for as_of in [
        NaiveDate::from_ymd_opt(2022, 12, 1).unwrap(),
        NaiveDate::from_ymd_opt(2022, 12, 28).unwrap(),
    ] {
        let request = ScanRequest {
            prices: settings.data.out.clone(),
            as_of: Some(as_of),
            today: NaiveDate::from_ymd_opt(2022, 12, 30).unwrap(),
            max_staleness_days: 7,
            out: settings.scan.picks.clone(),
            history: settings.scan.history.clone(),
            models_from: None,
        };
        let (picks, shadow) = run_scan(&champion, Some(&challenger), &request).unwrap();
        let shadow = shadow.expect("a challenger scan");
        assert_eq!(
            (picks.alias, shadow.alias),
            (Arm::Champion, Arm::Challenger)
        );
        assert_eq!(shadow.params.lookback, 250);
        let published: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&request.out).unwrap()).unwrap();
        assert_eq!(published["model_version"], "1");
        assert!(published.get("alias").is_none());
    }
    let history = momentum_scanner::history::read_history(&settings.scan.history).unwrap();
    let aliases: Vec<Arm> = history.iter().map(|scan| scan.alias).collect();
    assert_eq!(
        aliases,
        [
            Arm::Champion,
            Arm::Challenger,
            Arm::Champion,
            Arm::Challenger
        ]
    );

    // The live record is 18 days: too few for a decision.
    let request = |source| AbRequest {
        source,
        prices: settings.data.out.clone(),
        history: settings.scan.history.clone(),
        settings: AbSettings {
            reps: 199,
            ..AbSettings::default()
        },
        out: root.join("reports/ab.json"),
    };
    let err = run_ab(None, &request(AbSource::Live)).unwrap_err();
    assert!(matches!(err, LifecycleError::NoModelsToCompare), "{err}");
    let live = run_ab(Some((&champion, &challenger)), &request(AbSource::Live)).unwrap();
    assert_eq!(live.source, "live");
    // Net of each model's cost (the history records none), as the backtest books are.
    assert_eq!(
        live.champion.params.map(|p| p.cost_bps),
        Some(champion.params.cost_bps)
    );
    assert!(champion.params.cost_bps > 0.0);
    assert_eq!(live.decision.as_str(), "inconclusive");
    assert_eq!(live.days_compared, 18);
    assert!(
        live.reason.contains("fewer than ab.min_days"),
        "{}",
        live.reason
    );

    // Both backtested over the same days: each book is the engine's backtest of its model.
    let window = AbSource::Backtest {
        start: NaiveDate::from_ymd_opt(2015, 1, 1),
        end: NaiveDate::from_ymd_opt(2022, 12, 28),
    };
    let report = run_ab(Some((&champion, &challenger)), &request(window)).unwrap();
    let comparison = report.comparison.as_ref().unwrap();
    let first = panel
        .dates()
        .partition_point(|d| *d < NaiveDate::from_ymd_opt(2015, 1, 1).unwrap());
    let window = momentum_engine::Window {
        start: first,
        end: panel.n_days() - 1,
    };
    for (model, side) in [
        (&champion, &comparison.champion),
        (&challenger, &comparison.challenger),
    ] {
        let run = momentum_engine::backtest(&panel, &model.params, window).unwrap();
        let returns = run.returns();
        let mean = returns.iter().sum::<f64>() / returns.len() as f64;
        assert!((side.mean - mean).abs() < 1e-15, "{} vs {mean}", side.mean);
    }
    assert!(root.join("reports/ab.png").exists());
    // What each would have picked on each common day: sometimes the same, never all the same.
    let overlap = report.mean_overlap.expect("an overlap of the daily picks");
    assert!(overlap > 0.0 && overlap < 1.0, "{overlap}");

    // The comparison on file did not decide for the challenger: no swap.
    let ab_json = root.join("reports/ab.json");
    let verdict = report.decision.as_str();
    if verdict != "promote_challenger" {
        let err = promote_challenger(&tracker, &reread(), &params_file, &ab_json).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("the decision is {verdict}")),
            "{err}"
        );
    }
    // A comparison of other versions is refused too.
    let last_scan = history.iter().map(|scan| scan.as_of).max().unwrap();
    let decided = |champion: &str, challenger: &str| {
        let text = format!(
            r#"{{"source": "live", "end": "{last_scan}", "decision": "promote_challenger", "reason": "by hand", "champion": {{"version": "{champion}"}}, "challenger": {{"version": "{challenger}"}}}}"#
        );
        std::fs::write(&ab_json, text).unwrap();
    };
    decided("1", "7");
    let err = promote_challenger(&tracker, &reread(), &params_file, &ab_json).unwrap_err();
    assert!(matches!(err, LifecycleError::SwapRefused { .. }), "{err}");
    assert!(err.to_string().contains("not the current 1 and 2"), "{err}");

    // Decided: the challenger becomes the champion, the old champion is archived.
    decided("1", "2");
    let swap = promote_challenger(&tracker, &reread(), &params_file, &ab_json).unwrap();
    assert_eq!((swap.champion.as_str(), swap.archived.as_str()), ("2", "1"));
    let after = reread();
    assert_eq!(
        after.production.model().unwrap().unwrap().params.lookback,
        250
    );
    assert_eq!(after.challenger.model().unwrap(), None);
    let name = &settings.tracking.model_name;
    assert_eq!(
        aliased(&tracker, name, Arm::Champion)
            .unwrap()
            .unwrap()
            .version,
        "2"
    );
    assert!(aliased(&tracker, name, Arm::Challenger).unwrap().is_none());
    let versions = tracker.list_versions(name).unwrap();
    assert_eq!(
        versions[0].tags.get(ARCHIVED_TAG).map(String::as_str),
        Some("true")
    );
    // --rollback returns to the champion the swap replaced.
    let back = rollback(&tracker, &after, &params_file).unwrap();
    assert_eq!((back.from.as_str(), back.to.as_deref()), ("2", Some("1")));
    assert_eq!(
        reread()
            .production
            .model()
            .unwrap()
            .unwrap()
            .params
            .lookback,
        120
    );
    // Served again, the old champion no longer reads as archived.
    let versions = tracker.list_versions(name).unwrap();
    assert_eq!(
        versions[0].tags.get(ARCHIVED_TAG).map(String::as_str),
        Some("false")
    );

    // A new challenger, retired: archived, its alias and block gone.
    let third = promote(250, Arm::Challenger);
    assert_eq!(third.version(), Some("3"));
    assert_eq!(
        retire_challenger(&tracker, &reread(), &params_file).unwrap(),
        "3"
    );
    assert_eq!(reread().challenger.model().unwrap(), None);
    assert!(aliased(&tracker, name, Arm::Challenger).unwrap().is_none());
    let versions = tracker.list_versions(name).unwrap();
    assert_eq!(
        versions[2].tags.get(ARCHIVED_TAG).map(String::as_str),
        Some("true")
    );
    assert!(matches!(
        retire_challenger(&tracker, &reread(), &params_file),
        Err(LifecycleError::NoChallenger { .. })
    ));
}

/// A returns file is compared as it is; a bad one is named by line or column and nothing is
/// written.
#[test]
fn a_returns_file_is_compared_and_a_bad_one_is_named() {
    use momentum_lifecycle::{AbRequest, AbSource, run_ab};
    use momentum_scanner::ab::AbSettings;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let request = |file: &str, text: &str| {
        let path = root.join(file);
        std::fs::write(&path, text).unwrap();
        AbRequest {
            source: AbSource::Returns(path),
            prices: root.join("unused.parquet"),
            history: root.join("unused-history.parquet"),
            settings: AbSettings {
                reps: 199,
                min_days: 100,
                ..AbSettings::default()
            },
            out: root.join(format!("{file}.json")),
        }
    };
    // 200 days; the challenger earns 0.3 % a day more on the same noise.
    let start = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    let mut text = String::from("date,champion,challenger\n");
    let mut state = 7u64;
    for day in 0..200 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let r = ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.02;
        text.push_str(&format!(
            "{},{r},{}\n",
            start + chrono::Days::new(day),
            r + 0.003
        ));
    }
    let good = request("good.csv", &text);
    let report = run_ab(None, &good).unwrap();
    assert_eq!((report.source, report.days_compared), ("returns", 200));
    assert_eq!(
        report.decision.as_str(),
        "promote_challenger",
        "{}",
        report.reason
    );
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&good.out).unwrap()).unwrap();
    assert_eq!(written["decision"], "promote_challenger");
    assert_eq!(written["comparison"]["hac"]["lag"], 4);
    assert!(good.chart().exists());

    for (file, text, message) in [
        (
            "no-column.csv",
            "date,champion\n2020-01-01,0.01\n",
            "missing column challenger",
        ),
        (
            "nan.csv",
            "date,champion,challenger\n2020-01-01,0.01,0.02\n2020-01-02,NaN,0.01\n",
            "line 3: champion return NaN is not a finite return above -1",
        ),
        (
            "empty.csv",
            "date,champion,challenger\n2020-01-01,0.01,\n",
            "line 2: no challenger",
        ),
        (
            "twice.csv",
            "date,champion,challenger\n2020-01-01,0.01,0.02\n2020-01-01,0.0,0.0\n",
            "line 3: date 2020-01-01 is a duplicate",
        ),
        (
            "unsorted.csv",
            "date,champion,challenger\n2020-01-02,0.01,0.02\n2020-01-01,0.0,0.0\n",
            "line 3: date 2020-01-01 is out of order",
        ),
        (
            "word.csv",
            "date,champion,challenger\n2020-01-01,abc,0.02\n",
            "line 2: champion `abc`: invalid float literal",
        ),
        (
            "twice-named.csv",
            "date,champion,challenger,champion\n2020-01-01,0.01,0.02,0.5\n",
            "column champion appears twice",
        ),
        (
            "no-such-day.csv",
            "date,champion,challenger\n2020-02-30,0.01,0.02\n",
            "line 2: date `2020-02-30`: input is out of range",
        ),
        (
            "header-only.csv",
            "date,champion,challenger\n",
            "no rows after the header",
        ),
    ] {
        let bad = request(file, text);
        let err = run_ab(None, &bad).unwrap_err().to_string();
        assert!(
            err.starts_with("returns file ") && err.contains(file) && err.contains(message),
            "{err}"
        );
        assert!(!bad.out.exists() && !bad.chart().exists(), "{file}");
    }
}

#[test]
fn a_shard_of_another_version_of_the_code_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let settings = settings_in(root);
    let table = momentum_data::load_sample().unwrap();
    let panel = PricePanel::from_table(&table).unwrap();
    let digest = Some(momentum_data::digest(&table));
    let shards = root.join("shards");
    let spec = &settings.backtest;
    // Two shards of the two-lookback grid, one written by another version of momentum.
    for (index, version) in [(0, "test"), (1, "0.0.1-other")] {
        let code = CodeVersion {
            version: version.into(),
            git_commit: None,
        };
        let shard = Shard::new(index, 2).unwrap();
        backtest_shard(
            &panel,
            digest.clone(),
            spec,
            (shard, &code),
            &shards,
            &Silent,
        )
        .unwrap();
    }
    let files = files_in(root);
    let merged = merge_backtest(
        &panel,
        digest,
        spec,
        (test_code(), &test_code().0),
        (&shards, &files),
        &ReportContext::default(),
    );
    let message = merged.unwrap_err().to_string();
    assert!(
        message.starts_with("shard file ")
            && message.contains(
                "shard-1-of-2.shard: evaluated by momentum 0.0.1-other, this \
                 merge is momentum test"
            ),
        "{message}"
    );
    assert!(!files.reports.exists() && !files.model.exists());
}
