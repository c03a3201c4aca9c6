//! Tracking a grid: the whole grid as the parent run's `grid.parquet`, the best combinations as
//! child runs, `runs compare RUN` over every combination, bad queries and a broken or missing
//! table, and the push to a real MLflow server after an outage.

#[allow(dead_code)]
mod common;

#[path = "../../../crates/momentum-tracking/tests/it/support.rs"]
#[allow(dead_code)]
mod support;

use std::path::Path;

use common::{fails, momentum, ok};

use momentum_tracking::{RestClient, RunQuery};

use common::sample_project as project;

/// The id of the only top-level run in the local store.
fn parent_id(root: &Path) -> String {
    let list = ok(momentum(root, None, &["runs", "list", "--top-level"]));
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{list}");
    rows[0].split_whitespace().next().unwrap().to_owned()
}

/// `reports/grid.csv` (the engine's own writer) as rows of cells by column name.
fn grid_csv(root: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(root.join("reports/grid.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn the_grid_is_one_artifact_and_the_best_combinations_are_child_runs() {
    let dir = project();
    let root = dir.path();
    ok(momentum(root, None, &["backtest"]));
    let parent = parent_id(root);
    let show = ok(momentum(root, None, &["runs", "show", &parent]));
    assert!(
        show.contains("grid       48 combinations in grid.parquet"),
        "{show}"
    );
    assert!(show.contains("children   20 ("), "{show}");
    for artifact in [
        "grid.parquet",
        "grid_top.csv",
        "metrics.json",
        "trades.csv",
        "equity_curve.png",
        "candidate.json",
        "params.yaml",
    ] {
        assert!(
            show.contains(&format!("\n  {artifact}\n")),
            "{artifact} in {show}"
        );
    }
    assert!(!show.contains("  grid.csv"), "{show}");

    // Every combination is in the table: the rows with top_k 5 and a test Sharpe above 0.5,
    // best first, are those of grid.csv filtered and sorted here.
    let (header, rows) = grid_csv(root);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut want: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[col("top_k")] == "5" && r[col("test_sharpe")].parse::<f64>().unwrap() > 0.5)
        .collect();
    want.sort_by(|a, b| {
        let v = |r: &Vec<String>| r[col("test_sharpe")].parse::<f64>().unwrap();
        v(b).total_cmp(&v(a))
    });
    let got = ok(momentum(
        root,
        None,
        &[
            "runs",
            "compare",
            &parent,
            "--where",
            "top_k = 5 and test_sharpe > 0.5",
            "--sort",
            "test_sharpe",
            "--format",
            "csv",
        ],
    ));
    let mut lines = got.lines();
    let got_header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let got_rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(!want.is_empty());
    assert_eq!(got_rows.len(), want.len(), "{got}");
    for (g, w) in got_rows.iter().zip(&want) {
        for name in [
            "lookback",
            "skip",
            "holding",
            "top_k",
            "test_sharpe",
            "train_total_roi",
        ] {
            let at = got_header.iter().position(|h| *h == name).unwrap();
            assert_eq!(g[at], w[col(name)], "{name} in {got}");
        }
    }
    // The selected combination is the one grid.csv marks.
    let selected = ok(momentum(
        root,
        None,
        &[
            "runs",
            "compare",
            &parent,
            "--where",
            "selected = 1",
            "--format",
            "json",
        ],
    ));
    let selected: serde_json::Value = serde_json::from_str(&selected).unwrap();
    let winner = rows.iter().find(|r| r[col("selected")] == "1").unwrap();
    assert_eq!(selected.as_array().unwrap().len(), 1);
    assert_eq!(
        selected[0]["lookback"].to_string(),
        winner[col("lookback")],
        "{selected}"
    );
    let top = ok(momentum(
        root,
        None,
        &["runs", "compare", &parent, "--top", "3"],
    ));
    assert_eq!(top.lines().count(), 4, "{top}");

    // The number of child runs is a setting (and a flag); a small grid gets one child each.
    std::fs::remove_dir_all(root.join("mlruns")).unwrap();
    ok(momentum(root, None, &["backtest", "--children", "100"]));
    let show = ok(momentum(root, None, &["runs", "show", &parent_id(root)]));
    assert!(show.contains("children   48 ("), "{show}");
    std::fs::remove_dir_all(root.join("mlruns")).unwrap();
    ok(momentum(root, None, &["backtest", "--children", "0"]));
    let list = ok(momentum(root, None, &["runs", "list"]));
    assert_eq!(list.lines().count(), 2, "only the parent: {list}");
}

#[test]
fn bad_queries_and_a_broken_table_are_one_line_naming_them() {
    let dir = project();
    let root = dir.path();
    ok(momentum(root, None, &["backtest", "--children", "2"]));
    let parent = parent_id(root);
    let compare = |condition: &str| {
        momentum(
            root,
            None,
            &["runs", "compare", &parent, "--where", condition],
        )
    };
    fails(
        compare("test_sharp > 1"),
        "grid condition `test_sharp`: no such column",
    );
    fails(
        compare("top_k >> 1"),
        "grid condition `>>`: unknown comparison",
    );
    fails(
        compare("test_sharpe > high"),
        "grid condition `high`: expected a finite number",
    );
    fails(
        momentum(root, None, &["runs", "compare", &parent, "--sort", "sharp"]),
        "--sort sharp: no such column",
    );
    // Flags that select runs do not apply to one run's grid rows: refused, not ignored.
    for flags in [
        &["--limit", "2"][..],
        &["-f", "metrics.test_sharpe > 99"],
        &["--show-metrics", "sharpe"],
        &["--top-level"],
    ] {
        fails(
            momentum(
                root,
                None,
                &[&["runs", "compare", &parent][..], flags].concat(),
            ),
            "the grid rows of one backtest run take --where, --top, --sort and --format",
        );
    }

    // A reader that goes away (`| head -1`) ends the command quietly with exit 0.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_momentum"))
        .args(["runs", "compare", &parent, "--format", "csv"])
        .current_dir(root)
        .env_remove("MLFLOW_TRACKING_URI")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same for a reader of stderr that goes away (`2>&1 | head`): the count after the
    // table, and any note, used to panic (exit 101).
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_momentum"))
        .args(["runs", "compare", &parent])
        .current_dir(root)
        .env_remove("MLFLOW_TRACKING_URI")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(0));

    // A truncated table: compare names the run and the file; listing still works.
    let artifact = root
        .join("mlruns/runs")
        .read_dir()
        .unwrap()
        .map(|e| e.unwrap().path().join("artifacts/grid.parquet"))
        .find(|p| p.exists())
        .unwrap();
    let bytes = std::fs::read(&artifact).unwrap();
    std::fs::write(&artifact, &bytes[..bytes.len() / 3]).unwrap();
    let out = momentum(root, None, &["runs", "compare", &parent]);
    fails(out, "is not a readable grid table");
    let out = momentum(root, None, &["runs", "compare", &parent]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&parent[..8]) && stderr.contains("grid.parquet"),
        "{stderr}"
    );
    let list = ok(momentum(root, None, &["runs", "list"]));
    assert_eq!(list.lines().count(), 4, "{list}");

    // The table removed from the store: the run is named as one that lost it, whatever flags
    // were given (it used to be compared as a run without a table, or the flags blamed).
    std::fs::remove_file(&artifact).unwrap();
    for flags in [&[][..], &["--where", "top_k = 5"], &["--format", "csv"]] {
        fails(
            momentum(
                root,
                None,
                &[&["runs", "compare", &parent][..], flags].concat(),
            ),
            "logged its 48 combinations in grid.parquet, but the artifact is missing from its \
             store",
        );
    }
}

/// The server is down during a backtest of the 9,000-combination sample grid: the run is
/// complete locally; `runs sync` pushes it, its 20 children and artifacts, once; the server's
/// copy of the grid reads like the local one.
#[test]
fn a_grid_tracked_during_an_outage_reaches_the_server_once() {
    let dir = project();
    let root = dir.path();
    // A port nothing listens on: the server is down.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };
    // The 9,000-combination sample grid: lookback 5..250 step 5, holding 1..60, top_k 3, 5, 7.
    let flags = common::grid_flags((5..=250).step_by(5), [0], 1..=60, [3, 5, 7]);
    let mut grid = vec!["backtest"];
    grid.extend(flags.iter().map(String::as_str));
    ok(momentum(root, Some(&closed), &grid));
    let server = support::Server::start(&root.join("server"), false, false);
    let uri = server.uri.clone();
    let parent = parent_id(root);
    let first = ok(momentum(root, Some(&uri), &["runs", "sync"]));
    assert!(first.contains("pushed 21 run(s)"), "{first}");
    let again = ok(momentum(root, Some(&uri), &["runs", "sync"]));
    assert!(
        again.contains("pushed 0 run(s)") && again.contains("21 already there"),
        "{again}"
    );

    let client = RestClient::new(server.client_config(momentum_tracking::Auth::None)).unwrap();
    let runs = client.search_runs(&RunQuery::new("momentum")).unwrap();
    assert_eq!(runs.len(), 21);
    let remote_parent = runs
        .iter()
        .find(|r| r.parent_run_id.is_none())
        .expect("the parent on the server");
    let artifacts = client.list_artifacts(&remote_parent.run_id).unwrap();
    assert!(
        artifacts.iter().any(|a| a == "grid.parquet"),
        "{artifacts:?}"
    );
    let local = ok(momentum(
        root,
        None,
        &["runs", "compare", &parent, "--format", "csv"],
    ));
    let remote = ok(momentum(
        root,
        Some(&uri),
        &[
            "runs",
            "compare",
            &remote_parent.run_id,
            "--remote",
            "--format",
            "csv",
        ],
    ));
    assert_eq!(remote, local);
    assert_eq!(local.lines().count(), 1 + 9000);
}

fn metrics_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A walk-forward over the sample from 1995 with the committed 48-combination grid: 5-year
/// train windows, 1,500-day test windows (four folds). Each fold's test metrics are those of a
/// plain backtest of the fold's winner over the fold's days, the analysis is the same on one
/// thread and on two, and a bad schedule is named by its flag.
#[test]
fn each_walk_forward_fold_is_the_plain_backtest_of_its_winner_over_its_days() {
    let dir = project();
    let root = dir.path();
    let schedule = [
        "--no-track",
        "--validation",
        "walk-forward",
        "--start",
        "1995-01-01",
        "--wf-train-days",
        "1260",
        "--wf-test-days",
        "1500",
    ];
    ok(momentum(
        root,
        None,
        &[&["backtest", "--threads", "1"][..], &schedule].concat(),
    ));
    let analysis = metrics_json(&root.join("reports/metrics.json"))["walk_forward"].clone();
    let folds = analysis["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 4, "{analysis}");
    let csv = std::fs::read_to_string(root.join("reports/walk_forward.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + folds.len(), "{csv}");
    let png = std::fs::read(root.join("reports/walk_forward.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "the stitched curve's chart");
    for fold in folds {
        let text = |key: &str| fold[key].as_str().unwrap().to_owned();
        let param = |key: &str| fold["params"][key].to_string();
        let args = [
            "backtest",
            "--no-track",
            "--no-grid",
            "--no-split",
            "--start",
            &text("test_start"),
            "--end",
            &text("test_end"),
            "--lookback",
            &param("lookback"),
            "--skip",
            &param("skip"),
            "--holding",
            &param("holding"),
            "--top-k",
            &param("top_k"),
            "--reports",
            "fold",
            "--model",
            "fold/candidate.json",
        ];
        ok(momentum(root, None, &args));
        let plain = metrics_json(&root.join("fold/metrics.json"));
        assert_eq!(plain["windows"]["full"]["strategy"], fold["test"], "{fold}");
        assert_eq!(
            plain["windows"]["full"]["first_rebalance"],
            fold["test_start"]
        );
    }
    // One combination has nothing to select: its plain backtest runs none of the analyses of
    // params.yaml (whose walk-forward would not fit a short window).
    assert!(!root.join("fold/walk_forward.csv").exists());
    assert!(!root.join("fold/cpcv.csv").exists());
    let kinds = [
        "backtest",
        "--no-track",
        "--validation",
        "cpcv,walk-forward,cpcv",
    ];
    let out = momentum(root, None, &kinds);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--validation cpcv,walk-forward,cpcv: cpcv is listed twice")
    );

    ok(momentum(
        root,
        None,
        &[&["backtest", "--threads", "2"][..], &schedule].concat(),
    ));
    let again = metrics_json(&root.join("reports/metrics.json"))["walk_forward"].clone();
    assert_eq!(again, analysis, "the same with 1 and 2 threads");
    // A flag turns the file's `anchored: true` off: the rolling analysis again.
    let params = root.join("params.yaml");
    let committed = std::fs::read_to_string(&params).unwrap();
    let rolling = "    anchored: false\n";
    assert!(committed.contains(rolling));
    std::fs::write(&params, committed.replace(rolling, "    anchored: true\n")).unwrap();
    ok(momentum(
        root,
        None,
        &[&["backtest", "--wf-anchored=false"][..], &schedule].concat(),
    ));
    let unanchored = metrics_json(&root.join("reports/metrics.json"))["walk_forward"].clone();
    assert_eq!(
        unanchored, analysis,
        "--wf-anchored=false over anchored: true"
    );
    std::fs::write(&params, &committed).unwrap();

    let bad = |extra: &[&str]| {
        let args = [
            &["backtest", "--no-track", "--validation", "walk-forward"][..],
            extra,
        ]
        .concat();
        momentum(root, None, &args)
    };
    fails(
        bad(&["--wf-train-days", "200", "--wf-test-days", "100"]),
        "invalid --wf-train-days 200: must be at least the grid's largest lookback + 2 days",
    );
    fails(
        bad(&["--wf-train-days", "1260", "--wf-test-days", "0"]),
        "invalid --wf-test-days 0",
    );
    // Without a schedule in params.yaml, the flags must give one.
    let schedule_block =
        "  walk_forward:\n    train_days: 1260\n    test_days: 252\n    anchored: false\n";
    assert!(committed.contains(schedule_block));
    std::fs::write(
        &params,
        committed.replace(schedule_block, "  walk_forward: null\n"),
    )
    .unwrap();
    fails(
        bad(&[]),
        "a walk-forward needs --wf-train-days and --wf-test-days",
    );
    // A backtest without the analysis removes the earlier one's file.
    ok(momentum(root, None, &["backtest", "--no-track"]));
    assert!(!root.join("reports/walk_forward.csv").exists());
    assert!(!root.join("reports/walk_forward.png").exists());
}

/// A combinatorial purged cross-validation on the sample (10 groups, 2 test groups: 45 splits,
/// 9 paths) is in metrics.json and cpcv.csv, the same on one thread and on two; a bad one is
/// named by its flag, and a backtest without it removes the earlier file.
#[test]
fn a_cpcv_is_reported_the_same_on_any_thread_count_and_bad_ones_are_named() {
    let dir = project();
    let root = dir.path();
    let run = |extra: &[&str]| {
        let args = [
            &["backtest", "--no-track", "--validation", "cpcv"][..],
            extra,
        ]
        .concat();
        momentum(root, None, &args)
    };
    ok(run(&["--threads", "1", "--embargo-days", "5"]));
    let validation = metrics_json(&root.join("reports/metrics.json"))["cpcv"].clone();
    assert_eq!(
        validation["path_sharpes"].as_array().unwrap().len(),
        9,
        "{validation}"
    );
    assert_eq!(validation["spec"]["embargo_days"], 5);
    let below = validation["paths"]["below_zero"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&below));
    let csv = std::fs::read_to_string(root.join("reports/cpcv.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 45, "{csv}");
    ok(run(&["--threads", "2", "--embargo-days", "5"]));
    assert_eq!(
        metrics_json(&root.join("reports/metrics.json"))["cpcv"],
        validation,
        "the same with 1 and 2 threads"
    );

    fails(
        run(&["--cpcv-groups", "4", "--cpcv-test-groups", "4"]),
        "invalid --cpcv-test-groups 4",
    );
    fails(
        run(&["--embargo-days", "100000"]),
        "invalid --embargo-days 100000",
    );
    fails(
        momentum(root, None, &["backtest", "--validation", "split,cpcv"]),
        "--validation split runs the split alone: it takes no other kind",
    );
    fails(
        momentum(
            root,
            None,
            &["backtest", "--validation", "split", "--embargo-days", "5"],
        ),
        "--validation split leaves out cpcv: it takes no --cpcv-* and --embargo-days flags",
    );
    fails(
        run(&["--wf-test-days", "100"]),
        "--validation cpcv leaves out walk-forward: it takes no --wf-* flags",
    );
    // The list is the whole choice: params.yaml sets a walk-forward, which `cpcv` leaves out.
    let params = std::fs::read_to_string(root.join("params.yaml")).unwrap();
    assert!(params.contains("  walk_forward:\n    train_days: 1260\n"));
    ok(run(&[]));
    let metrics = metrics_json(&root.join("reports/metrics.json"));
    assert!(
        metrics["walk_forward"].is_null(),
        "{}",
        metrics["walk_forward"]
    );
    assert!(!metrics["cpcv"].is_null());
    assert!(!root.join("reports/walk_forward.csv").exists());
    ok(momentum(
        root,
        None,
        &["backtest", "--no-track", "--validation", "split"],
    ));
    assert!(!root.join("reports/cpcv.csv").exists());
}
