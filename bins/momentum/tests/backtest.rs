//! End-to-end tests of `momentum features` and `momentum backtest`: the real binary in a
//! temporary directory (no params.yaml there, so every default applies).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn momentum(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_momentum"))
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/sp500_prices.csv.gz")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const METRICS: [&str; 9] = momentum_engine::Metrics::NAMES;

fn assert_metrics(m: &Value) {
    let obj = m.as_object().unwrap();
    let mut keys: Vec<_> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = METRICS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
}

/// A wide CSV: A rises, B falls, C has an empty cell, D has no price at all.
const WIDE: &str = "Date,A,B,C,D\n\
2024-01-02,10,20,5,\n\
2024-01-03,11,19,5.5,\n\
2024-01-04,12,18,,\n\
2024-01-05,13,17,6,\n\
2024-01-08,14,16,6.5,\n\
2024-01-09,15,15,7,\n\
2024-01-10,16,14,7.2,\n";

/// A plain run (no grid, no split) on `WIDE` written as `prices.csv`; the parameters follow.
const PLAIN_RUN_ON_WIDE: [&str; 5] = [
    "backtest",
    "--prices",
    "prices.csv",
    "--no-grid",
    "--no-split",
];

/// Parameters that fit `WIDE`.
const FITTING: [&str; 6] = ["--lookback", "2", "--holding", "2", "--top-k", "1"];

#[test]
fn single_run_on_a_wide_csv_writes_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("prices.csv");
    std::fs::write(&csv, WIDE).unwrap();
    let out = momentum(
        dir.path(),
        &[&PLAIN_RUN_ON_WIDE[..], &FITTING, &["--cost-bps", "0"]].concat(),
    );
    ok(&out);
    let r = dir.path().join("reports");
    let metrics = read_json(&r.join("metrics.json"));
    assert_eq!(metrics["params"]["lookback"], 2);
    assert_eq!(metrics["params"]["skip"], 0);
    assert_eq!(metrics["data"]["tickers"], 4);
    assert_eq!(metrics["data"]["days"], 7);
    assert_eq!(metrics["data"]["start"], "2024-01-02");
    assert_eq!(metrics["data"]["end"], "2024-01-10");
    assert!(metrics["data"]["digest"].is_string());
    let full = &metrics["windows"]["full"];
    assert_eq!(full["start"], "2024-01-02");
    assert_eq!(full["end"], "2024-01-10");
    assert_metrics(&full["strategy"]);
    assert_metrics(&full["baseline"]);
    // t0 = 2 buys A at 12 (best score); it stays the best: 16 / 12.
    let roi = full["strategy"]["total_roi"].as_f64().unwrap();
    assert!((roi - (16.0 / 12.0 - 1.0)).abs() < 1e-12, "{roi}");
    assert_eq!(metrics["selection"]["trials"], 1);
    assert!(metrics["selection"]["pbo"].is_null());
    let trades = std::fs::read_to_string(r.join("trades.csv")).unwrap();
    assert!(trades.starts_with("window,date,ticker,action,weight_before,weight_after,price\n"));
    assert!(
        trades.contains("full,2024-01-04,A,buy,0,1,12\n"),
        "{trades}"
    );
    let equity = std::fs::read_to_string(r.join("equity_curve.csv")).unwrap();
    assert_eq!(equity.lines().count(), 1 + 5);
    assert!(equity.starts_with("date,strategy,baseline,window\n"));
    let png = std::fs::read(r.join("equity_curve.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let model = read_json(&dir.path().join("models/candidate.json"));
    assert_eq!(model["params"], metrics["params"]);
    assert!(model["code"]["version"].is_string());
    assert!(model["created_at"].is_string());
}

#[test]
fn grid_on_the_sample_selects_on_train_and_reports_test() {
    let dir = tempfile::tempdir().unwrap();
    let prices = sample();
    let out = momentum(
        dir.path(),
        &[
            "backtest",
            "--prices",
            prices.to_str().unwrap(),
            "--grid-lookback",
            "20,60",
            "--grid-skip",
            "0,20",
            "--grid-holding",
            "5,20",
            "--grid-top-k",
            "3,5",
            "--threads",
            "2",
            "--reports",
            "out",
            "--model",
            "m/candidate.json",
        ],
    );
    ok(&out);
    let metrics = read_json(&dir.path().join("out/metrics.json"));
    for w in ["train", "test"] {
        assert_metrics(&metrics["windows"][w]["strategy"]);
        assert_metrics(&metrics["windows"][w]["baseline"]);
    }
    let sel = &metrics["selection"];
    assert_eq!(sel["objective"], "sharpe");
    // lookback 20 with skip 20 is left out: 2*2*2*2 - 4 = 12 combinations.
    assert_eq!(sel["trials"], 12);
    for k in ["psr", "dsr", "pbo"] {
        let v = sel[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{k} = {v}");
    }
    assert_eq!(metrics["data"]["tickers"], 20);
    let grid = std::fs::read_to_string(dir.path().join("out/grid.csv")).unwrap();
    assert_eq!(grid.lines().count(), 13);
    assert_eq!(
        grid.lines()
            .skip(1)
            .filter(|l| l.split(',').nth(5) == Some("1"))
            .count(),
        1
    );
    assert!(dir.path().join("m/candidate.json").exists());
    assert!(dir.path().join("out/equity_curve.png").exists());
    // The summary is the command's output (stdout), as every command's is; stderr keeps the
    // logs.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let selected = format!(
        "selected lookback={} skip={} holding={} top_k={}",
        metrics["params"]["lookback"],
        metrics["params"]["skip"],
        metrics["params"]["holding"],
        metrics["params"]["top_k"]
    );
    assert!(stdout.starts_with(&selected), "{stdout}");
    assert!(stdout.contains("\nwrote out/metrics.json\n"), "{stdout}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("selected"));
}

#[test]
fn features_then_backtest_carries_the_data_digest() {
    let dir = tempfile::tempdir().unwrap();
    let prices = sample();
    let out = momentum(
        dir.path(),
        &[
            "-q",
            "features",
            "--prices",
            prices.to_str().unwrap(),
            "--out",
            "panel.parquet",
        ],
    );
    ok(&out);
    // The result on stdout (not a log line that -q hides): 20 tickers and the index's days.
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("wrote panel.parquet (") && said.contains(" days x 20 tickers, "),
        "{said}"
    );
    let out = momentum(
        dir.path(),
        &[
            "backtest",
            "--panel",
            "panel.parquet",
            "--no-grid",
            "--lookback",
            "120",
            "--holding",
            "20",
            "--top-k",
            "5",
        ],
    );
    ok(&out);
    let metrics = read_json(&dir.path().join("reports/metrics.json"));
    let digest = metrics["data"]["digest"].as_str().unwrap();
    assert!(digest.len() >= 32, "{digest}");
    assert_eq!(metrics["data"]["days"], 8313);
}

/// A price file read by `features` or `backtest --prices` is checked for implausible closes
/// as `fetch` checks its input (it used to be taken as it was): warned about, or refused with
/// `data.strict_prices` before anything is written.
#[test]
fn implausible_closes_of_a_price_file_are_warned_about_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("date,AAA,BBB\n");
    let first = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    for day in 0..40u64 {
        let date = first + chrono::Days::new(day);
        // BBB's close of day 20 was typed in cents: 1,000 times the others.
        let bbb = if day == 20 {
            50_000.0
        } else {
            50.0 + day as f64 / 10.0
        };
        text.push_str(&format!("{date},{},{bbb}\n", 10.0 + day as f64 / 10.0));
    }
    std::fs::write(dir.path().join("spike.csv"), text).unwrap();
    let warning = "spike.csv: implausible price: BBB 2024-01-21: close 50000 rose 963.4x from \
                   51.9 on 2024-01-20 (more than 5x in one day) (kept;";
    let features = [
        "features",
        "--prices",
        "spike.csv",
        "--out",
        "panel.parquet",
    ];
    let warns = |args: &[&str]| {
        let out = momentum(dir.path(), args);
        ok(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(warning), "{stderr}");
    };
    warns(&features);
    warns(&[
        "backtest",
        "--prices",
        "spike.csv",
        "--no-track",
        "--no-grid",
        "--no-split",
        "--lookback",
        "5",
        "--holding",
        "5",
        "--top-k",
        "1",
    ]);

    std::fs::write(
        dir.path().join("strict.yaml"),
        "data:\n  strict_prices: true\n",
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("panel.parquet")).unwrap();
    let out = momentum(
        dir.path(),
        &[&["--params", "strict.yaml"][..], &features].concat(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: spike.csv: implausible price: BBB 2024-01-21: close 50000"),
        "{stderr}"
    );
    assert!(!dir.path().join("panel.parquet").exists());
}

/// A fetch after the last `features` leaves a panel of the older prices: the backtest that
/// reads it by default says so (it used to run on them silently), naming both digests.
#[test]
fn a_panel_older_than_the_fetched_prices_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let backtest = [
        "backtest",
        "--no-track",
        "--no-grid",
        "--lookback",
        "120",
        "--holding",
        "20",
        "--top-k",
        "2",
    ];
    ok(&momentum(dir.path(), &["fetch"]));
    ok(&momentum(dir.path(), &["features"]));
    let manifest = dir.path().join("data/raw/prices.manifest.json");
    let digest = |manifest: &Value| manifest["digest"].as_str().unwrap()[..12].to_owned();
    let built_from = digest(&read_json(&manifest));
    let fresh = momentum(dir.path(), &backtest);
    ok(&fresh);
    assert!(
        !String::from_utf8_lossy(&fresh.stderr).contains("other prices"),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );
    let fetch = [
        "fetch",
        "--tickers",
        "AAPL,MSFT,KO",
        "--start",
        "2010-01-01",
    ];
    ok(&momentum(dir.path(), &fetch));
    let stale = momentum(dir.path(), &backtest);
    ok(&stale);
    let stderr = String::from_utf8_lossy(&stale.stderr);
    let now = digest(&read_json(&manifest));
    assert!(
        stderr.contains(&format!(
            "data/features/panel.parquet was built from other prices than \
             data/raw/prices.parquet holds now (digest {built_from} against {now}): run \
             `momentum features`"
        )),
        "{stderr}"
    );
}

#[test]
fn invalid_parameters_fail_naming_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prices.csv"), WIDE).unwrap();
    let params = [
        "--lookback",
        "3",
        "--skip",
        "3",
        "--holding",
        "1",
        "--top-k",
        "1",
    ];
    let out = momentum(dir.path(), &[&PLAIN_RUN_ON_WIDE[..], &params].concat());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("skip"), "{err}");
    let params = ["--lookback", "6", "--holding", "1", "--top-k", "1"];
    let out = momentum(dir.path(), &[&PLAIN_RUN_ON_WIDE[..], &params].concat());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("window too short for lookback"), "{err}");
    let out = momentum(
        dir.path(),
        &["backtest", "--prices", "prices.csv", "--objective", "roi"],
    );
    // Parsed as the flag's value: the flag is named, with the usage exit code.
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value 'roi' for '--objective <NAME>': unknown objective"),
        "{err}"
    );
    // A cost of 50 % could take the whole portfolio in one rebalance: refused, not clamped.
    let out = momentum(
        dir.path(),
        &["backtest", "--prices", "prices.csv", "--cost-bps", "5000"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid --cost-bps 5000: ") && err.contains("below 5000"),
        "{err}"
    );
}

/// A malformed params.yaml stops the run with one line naming the file and the place, and
/// nothing is written.
#[test]
fn a_malformed_params_yaml_is_one_line_naming_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("params.yaml"),
        "backtest:\n  grid:\n    lookback: [20, x]\n",
    )
    .unwrap();
    let prices = sample();
    let out = momentum(
        dir.path(),
        &["backtest", "--prices", prices.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("params.yaml") && err.contains("line 3, column 20"),
        "{err}"
    );
    assert!(!dir.path().join("reports").exists());

    // A key given twice, and a grid list left empty: each named by its key.
    for (yaml, expected) in [
        (
            "backtest:\n  cost_bps: 10\n  cost_bps: 5\n",
            "error: invalid params.yaml: backtest.cost_bps is set twice (again at line 3, column 3)",
        ),
        (
            "backtest:\n  grid:\n    top_k: []\n",
            "error: invalid backtest.grid.top_k = [] in params.yaml: the grid needs at least one value",
        ),
    ] {
        std::fs::write(dir.path().join("params.yaml"), yaml).unwrap();
        let out = momentum(
            dir.path(),
            &[
                "backtest",
                "--prices",
                prices.to_str().unwrap(),
                "--no-track",
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end(), expected);
        assert!(!dir.path().join("reports").exists());
    }
}

/// An empty path in the params file is refused by its key before anything is written: an
/// empty `tracking.store` used to put the run store (`experiments/`, `runs/`, `models/`) in
/// the project's root, and an empty `features.panel` gave `cannot write : : ...`.
#[test]
fn an_empty_path_in_the_params_file_is_refused_by_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let prices = sample();
    let prices = prices.to_str().unwrap();
    let backtest = [
        "backtest",
        "--prices",
        prices,
        "--no-grid",
        "--lookback",
        "20",
        "--holding",
        "5",
        "--top-k",
        "3",
    ];
    let features = ["--params", "alt.yaml", "features", "--prices", prices];
    for (file, yaml, args, expected) in [
        (
            "params.yaml",
            "tracking:\n  store: \"\"\n",
            &backtest[..],
            "error: invalid tracking.store in params.yaml: must not be empty",
        ),
        (
            "alt.yaml",
            "features:\n  panel: ''\n",
            &features[..],
            "error: invalid features.panel in alt.yaml: must not be empty",
        ),
    ] {
        std::fs::write(dir.path().join(file), yaml).unwrap();
        let out = momentum(dir.path(), args);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end(), expected);
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort_unstable();
        assert_eq!(left, [file], "only the params file");
        std::fs::remove_file(dir.path().join(file)).unwrap();
    }
}

/// A price file that is missing, not Parquet, a directory, or a ragged CSV stops the run with
/// one line that names the file and gives the cause once (the data crate's errors used to
/// repeat their cause in the printed chain, and the parquet crate repeats a wrapped I/O error).
#[test]
fn an_unreadable_price_file_is_one_line_with_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.parquet"), "not parquet").unwrap();
    std::fs::create_dir(dir.path().join("dir.parquet")).unwrap();
    std::fs::write(
        dir.path().join("ragged.csv"),
        "date,ticker,close\n2024-01-02,A,1\n2024-01-03,A\n",
    )
    .unwrap();
    for (file, cause) in [
        ("missing.csv", "No such file or directory"),
        ("bad.parquet", "Invalid Parquet file"),
        ("dir.parquet", "Is a directory"),
        ("ragged.csv", "found record with 2 fields"),
    ] {
        let out = momentum(dir.path(), &["backtest", "--prices", file]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(file), "{err}");
        assert_eq!(err.matches(cause).count(), 1, "{err}");
        assert!(!dir.path().join("reports").exists());
    }
}

/// The reports and the candidate are replaced together or not at all: when the last of them
/// cannot be written, the earlier ones of the failed run are not left in place either.
#[test]
fn a_failed_write_leaves_every_previous_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prices.csv"), WIDE).unwrap();
    let run = |cost: &str, model: &str| {
        let flags = ["--cost-bps", cost, "--model", model];
        momentum(
            dir.path(),
            &[&PLAIN_RUN_ON_WIDE[..], &FITTING, &flags].concat(),
        )
    };
    ok(&run("0", "models/candidate.json"));
    let reports = dir.path().join("reports");
    let snapshot = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&path).unwrap())
            })
            .collect();
        files.sort();
        files
    };
    let before = snapshot(&reports);
    assert_eq!(before.len(), 7);
    // The candidate's directory would be a file: its write fails after the seven reports.
    let out = run("25", "prices.csv/candidate.json");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("candidate.json"), "{err}");
    assert_eq!(
        snapshot(&reports),
        before,
        "the reports of the failed run stay out"
    );

    // A tracking store that cannot be opened (a file where its directory would be) fails the
    // command before any report or the model is replaced.
    std::fs::write(
        dir.path().join("p.yaml"),
        "tracking:\n  store: prices.csv\n",
    )
    .unwrap();
    let candidate = dir.path().join("models/candidate.json");
    let model = std::fs::read(&candidate).unwrap();
    let out = momentum(
        dir.path(),
        &[
            &["--params", "p.yaml"][..],
            &PLAIN_RUN_ON_WIDE,
            &FITTING,
            &["--cost-bps", "50"],
        ]
        .concat(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("tracking store prices.csv"), "{err}");
    assert_eq!(snapshot(&reports), before, "{err}");
    assert_eq!(std::fs::read(&candidate).unwrap(), model);
}

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

/// A grid of 9.9 million combinations is refused before any work, with its size, the limit,
/// and an estimate of its memory and time; nothing is written. The limit is a setting and a
/// flag.
#[test]
fn a_huge_grid_is_refused_with_an_estimate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prices.csv"), WIDE).unwrap();
    let grid = common::grid_flags(1..=1000, [0], 1..=100, 1..=99);
    let mut huge = vec!["backtest", "--no-track", "--prices", "prices.csv"];
    huge.extend(grid.iter().map(String::as_str));
    let out = momentum(dir.path(), &huge);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("grid refused before any work (backtest.max_combinations)")
            && err.contains("the grid has 9900000 combinations, more than the limit of 2000000")
            // 9.9 million at 100 bytes of memory and 440 bytes of disk (16 PBO blocks) each.
            && err.contains(
                "(about 944 MB of memory, 4154 MB of temporary disk for its rows and 198 s on \
                 two threads)"
            ),
        "{err}"
    );
    assert!(!dir.path().join("reports").exists());
    let small = [
        &PLAIN_RUN_ON_WIDE[..],
        &["--lookback", "2", "--holding", "1", "--top-k", "1"],
    ]
    .concat();
    let out = momentum(
        dir.path(),
        &[&small[..], &["--max-combinations", "0"]].concat(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the grid has 1 combinations, more than the limit of 0"),
        "{err}"
    );

    // Raising the limit past what the machine can hold is refused too, before any work,
    // instead of ending in an allocation failure: 99 billion combinations at 100 bytes each
    // are about 9 TB.
    let grid = common::grid_flags(1..=1000, 0..100, 1..=1000, 1..=990);
    let mut beyond = vec!["backtest", "--no-track", "--prices", "prices.csv"];
    beyond.extend(grid.iter().map(String::as_str));
    beyond.extend(["--max-combinations", "100000000000"]);
    // (Listing that grid would take ~2 TB: an exit code of 1 says it was refused first.)
    let out = momentum(dir.path(), &beyond);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "grid refused before any work: its 99000000000 combinations need about 9441375 MB \
             of memory, more than the"
        ),
        "{err}"
    );
    assert!(!dir.path().join("reports").exists());
}

/// `--start`/`--end` (and `backtest.start`/`end`) set the evaluation window; a bad one is one
/// line naming the flag or key, and nothing is written.
#[test]
fn the_evaluation_window_comes_from_flags_or_params_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prices.csv"), WIDE).unwrap();
    let run = |extra: &[&str]| {
        let args = [&PLAIN_RUN_ON_WIDE[..], &FITTING[..], &["--no-track"], extra].concat();
        momentum(dir.path(), &args)
    };
    // Saturday the 6th opens the window on Monday the 8th (day 4): t0 = max(4, 2) = 4, the only
    // rebalance before the last day. Scored from day 2, before the window: A 14/12 - 1 beats
    // B 16/18 - 1 (C has no price on day 2). A is bought at 14, paying the default 10 bps on a
    // turnover of 1, and held to 16.
    let out = run(&["--start", "2024-01-06"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("reports/metrics.json")).unwrap())
            .unwrap();
    let full = &metrics["windows"]["full"];
    assert_eq!(
        (full["start"].as_str(), full["end"].as_str()),
        (Some("2024-01-08"), Some("2024-01-10"))
    );
    let roi = full["strategy"]["total_roi"].as_f64().unwrap();
    assert!((roi - (0.999 * 16.0 / 14.0 - 1.0)).abs() < 1e-12, "{roi}");
    let written = std::fs::read(dir.path().join("reports/metrics.json")).unwrap();

    for (extra, message) in [
        (
            &["--start", "2024-01-09", "--end", "2024-01-03"][..],
            "invalid --start 2024-01-09: is after the end of the evaluation window",
        ),
        (
            &["--start", "2025-01-01"],
            "no trading day between 2025-01-01 and 2024-01-10: the data runs from 2024-01-02 to \
             2024-01-10",
        ),
        (
            &["--start", "2024-01-10"],
            "window too short for lookback 2: from 2024-01-10 to 2024-01-10",
        ),
    ] {
        let out = run(extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{extra:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{extra:?}: {stderr}");
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
        assert_eq!(
            std::fs::read(dir.path().join("reports/metrics.json")).unwrap(),
            written,
            "nothing written"
        );
    }

    // Not a date: a usage error of clap's (exit 2) naming the flag.
    let out = run(&["--end", "2024-13-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'2024-13-01' for '--end <YYYY-MM-DD>'"));

    // From params.yaml, named by its key; an empty value is the whole panel.
    std::fs::write(
        dir.path().join("params.yaml"),
        "backtest:\n  start: \"2024-01-09\"\n  end: \"2024-01-03\"\n",
    )
    .unwrap();
    let out = run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid backtest.start = 2024-01-09 in params.yaml: is after the end"),
        "{stderr}"
    );
    std::fs::write(
        dir.path().join("params.yaml"),
        "backtest:\n  start: \"\"\n  end: \"\"\n",
    )
    .unwrap();
    assert!(run(&[]).status.success());
    std::fs::write(
        dir.path().join("params.yaml"),
        "backtest:\n  start: someday\n",
    )
    .unwrap();
    let stderr = String::from_utf8_lossy(&run(&[]).stderr).into_owned();
    assert!(
        stderr.contains("backtest.start") && stderr.contains("\"someday\" is not a date"),
        "{stderr}"
    );
}

/// The vector instructions of the grid and PBO change no byte: a grid writes the same reports
/// with `MOMENTUM_SIMD=portable` as with the widest instructions this processor has (the
/// engine's unit tests check every split's logit, and every run's metrics, on each), and a value naming none is refused in one
/// line before any work.
#[test]
fn every_instruction_set_writes_the_same_reports() {
    let prices = sample();
    let args = [
        "backtest",
        "--prices",
        prices.to_str().unwrap(),
        "--grid-lookback",
        "10,20,40,60,120",
        "--grid-skip",
        "0",
        "--grid-holding",
        "1,5,10,20",
        "--grid-top-k",
        "2,3,5",
        "--validation",
        "split",
        "--no-track",
        "--reproducible",
        "--threads",
        "2",
    ];
    let with_simd = |dir: &Path, simd: &str| {
        Command::new(env!("CARGO_BIN_EXE_momentum"))
            .current_dir(dir)
            .args(args)
            .env_remove("RUST_LOG")
            .env("MOMENTUM_SIMD", simd)
            .output()
            .expect("the binary runs")
    };
    let (portable, widest) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    ok(&with_simd(portable.path(), "portable"));
    ok(&with_simd(widest.path(), "auto"));
    for file in [
        "reports/metrics.json",
        "reports/grid.csv",
        "models/candidate.json",
    ] {
        let read = |dir: &Path| std::fs::read(dir.join(file)).unwrap();
        assert!(
            read(portable.path()) == read(widest.path()),
            "{file} differs"
        );
    }
    let pbo = &read_json(&portable.path().join("reports/metrics.json"))["selection"]["pbo"];
    assert!(
        pbo.as_f64().is_some_and(|p| (0.0..=1.0).contains(&p)),
        "{pbo}"
    );

    let refused = tempfile::tempdir().unwrap();
    let out = with_simd(refused.path(), "avx3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "error: invalid MOMENTUM_SIMD = avx3: expected auto, portable, avx2 or avx512"
    );
    assert!(!refused.path().join("reports").exists());
}
