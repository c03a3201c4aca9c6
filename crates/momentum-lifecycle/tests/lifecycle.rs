//! The lifecycle through the library alone, no `momentum` process: backtest the embedded sample,
//! track the run, promote the candidate through the gates into a local registry and a params
//! file, load it back from both, and scan with it.

use std::path::Path;

use chrono::NaiveDate;
use momentum_engine::{GridSpec, PricePanel, WindowName};
use momentum_lifecycle::track::{open_tracker, track_backtest};
use momentum_lifecycle::{
    BacktestFiles, ProductionSource, ScanRequest, Settings, Silent, backtest, judge,
    load_production, register, run_scan,
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

    // Promote: the gates read the test window of the candidate file.
    let verdict = judge(&files.model, &settings.promotion).unwrap();
    let test = &experiment.windows[&WindowName::Test];
    let roi = verdict.gates.iter().find(|g| g.gate == "min_roi").unwrap();
    assert_eq!(roi.value, test.strategy.total_roi);
    assert!(verdict.passed(), "{:?}", verdict.gates);
    let promotion = register(
        &tracker,
        &settings,
        &verdict,
        &params_file,
        "2026-12-05T00:00:00Z",
    )
    .unwrap();
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
    let from_registry = load_production(
        &settings,
        &params_file,
        ProductionSource::Registry,
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
    };
    let picks = run_scan(&from_params, &request).unwrap();
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
    };
    let err = run_scan(&model, &request).unwrap_err().to_string();
    assert!(
        err.starts_with("stale prices: the newest date in ")
            && err.contains("prices.parquet is 2022-12-28, 35 days before 2023-02-01"),
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
    let verdict = judge(&files.model, &settings.promotion).unwrap();
    let when = "2026-12-05T00:00:00Z";
    let err = register(&tracker, &settings, &verdict, &params_file, when)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("backtest run {killed_id}"))
            && err.contains("is RUNNING, not FINISHED"),
        "{err}"
    );
    assert!(!params_file.exists(), "nothing written");

    let logged = track_backtest(&tracker, &settings, &run, &params_file).unwrap();
    let promotion = register(&tracker, &settings, &verdict, &params_file, when).unwrap();
    assert_eq!(promotion.source_run, logged.parent_run_id);
}
