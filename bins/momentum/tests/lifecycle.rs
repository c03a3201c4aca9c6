//! The whole lifecycle on the embedded sample, end to end through the real binary:
//! fetch -> features -> backtest -> promote -> scan -> monitor, with the local tracking store
//! and with a real MLflow server; plus the promotion gates, dry run and rollback, and the
//! serving commands' bad-input errors.

#[allow(dead_code)]
mod common;

#[path = "../../../crates/momentum-tracking/tests/it/support.rs"]
#[allow(dead_code)]
mod support;

use std::path::Path;
use std::process::Output;

use common::{command, echo_server, fails, momentum, ok, sample_project};

use momentum_tracking::{Auth, RestClient, RunQuery};
use serde_json::Value;

/// A small grid keeps the test quick; the sample itself is the real 20-stock universe.
const GRID: &[&str] = &[
    "--grid-lookback",
    "120,250",
    "--grid-skip",
    "20",
    "--grid-holding",
    "20,60",
    "--grid-top-k",
    "5",
];

/// Asserts that `promote` rejected the candidate (exit 3) with `gate` printed as failing.
fn rejected_by(out: Output, gate: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(gate) && l.ends_with("FAIL")),
        "{stdout}"
    );
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn project(uri: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // The repository's params.yaml records its own production model; these tests start from
    // none, with every other line as committed.
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../params.yaml"))
            .unwrap();
    let (before, _, after) = split_production(&committed);
    let empty = "production:\n  version: null\n  lookback: null\n  skip: null\n  holding: null\n  top_k: null\n  cost_bps: null\n  tickers: []\n  data_digest: null\n  promoted_at: null";
    std::fs::write(
        dir.path().join("params.yaml"),
        format!("{before}{empty}{after}"),
    )
    .unwrap();
    ok(momentum(dir.path(), uri, &["fetch"]));
    ok(momentum(dir.path(), uri, &["features"]));
    let mut args = vec!["backtest"];
    args.extend_from_slice(GRID);
    ok(momentum(dir.path(), uri, &args));
    dir
}

/// `params.yaml` split around the production block: (before, block, after).
fn split_production(text: &str) -> (String, String, String) {
    let start = text.find("\nproduction:\n").expect("production block") + 1;
    let end = start
        + text[start..]
            .find("\n\n")
            .expect("blank line after the block");
    (
        text[..start].to_owned(),
        text[start..end].to_owned(),
        text[end..].to_owned(),
    )
}

/// `text` (a params.yaml) with its block `name` emptied, as before any promotion.
fn emptied(text: &str, name: &str) -> String {
    let start = text.find(&format!("\n{name}:\n")).expect("the block") + 1;
    let end = start
        + text[start..]
            .find("\n\n")
            .expect("blank line after the block");
    let empty = "  version: null\n  lookback: null\n  skip: null\n  holding: null\n  top_k: \
                 null\n  cost_bps: null\n  tickers: []\n  data_digest: null\n  promoted_at: null";
    format!("{}{name}:\n{empty}{}", &text[..start], &text[end..])
}

fn lifecycle(uri: Option<&str>) -> tempfile::TempDir {
    let dir = project(uri);
    let root = dir.path();
    let params = root.join("params.yaml");
    let original = std::fs::read_to_string(&params).unwrap();

    // Scanning before any promotion is a clear error, and writes nothing.
    fails(momentum(root, uri, &["scan"]), "no production model yet");
    assert!(!root.join("reports/picks.json").exists());

    let out = ok(momentum(root, uri, &["promote"]));
    assert!(out.contains("promoted"), "{out}");
    let promoted = std::fs::read_to_string(&params).unwrap();
    let (before, block, after) = split_production(&promoted);
    let (before0, block0, after0) = split_production(&original);
    assert_eq!(
        (before.as_str(), after.as_str()),
        (before0.as_str(), after0.as_str()),
        "only the production block changes"
    );
    assert_ne!(block, block0);
    let candidate = json(&root.join("models/candidate.json"));
    for key in ["lookback", "skip", "holding", "top_k"] {
        let value = candidate["params"][key].as_u64().unwrap();
        assert!(
            block.contains(&format!("\n  {key}: {value}\n")),
            "{key} {value} in\n{block}"
        );
    }
    assert!(block.contains("version: '1'"), "{block}");

    let out = ok(momentum(root, uri, &["scan"]));
    assert!(out.contains("2022-12-28"), "{out}");
    let picks = json(&root.join("reports/picks.json"));
    assert_eq!(picks["as_of"], "2022-12-28");
    assert_eq!(picks["model_version"], "1");
    let top_k = candidate["params"]["top_k"].as_u64().unwrap() as usize;
    let list = picks["picks"].as_array().unwrap();
    assert_eq!(list.len(), 20);
    assert_eq!(list.iter().filter(|p| p["selected"] == true).count(), top_k);
    assert!(
        std::fs::read_to_string(root.join("reports/picks.csv"))
            .unwrap()
            .starts_with("as_of,rank,ticker,score,selected,target_weight,last_close\n")
    );

    // Earlier scans make a live record for the monitor.
    for as_of in [
        "2021-06-01",
        "2021-09-01",
        "2021-12-01",
        "2022-03-01",
        "2022-06-01",
        "2022-09-01",
    ] {
        ok(momentum(root, uri, &["scan", "--as-of", as_of]));
    }
    ok(momentum(root, uri, &["monitor"]));
    let report = json(&root.join("reports/monitor.json"));
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mean_return", "sharpe", "psi", "ks"]);
    // The thresholds of params.yaml (monitor: psi 0.25, KS 0.01), then the flags' instead.
    let check = |report: &Value, name: &str| -> Value {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    let threshold = |report: &Value, name: &str| check(report, name)["threshold"].as_f64().unwrap();
    assert_eq!(threshold(&report, "psi"), 0.25);
    assert_eq!(threshold(&report, "ks"), 0.01);
    let flags = [
        "monitor",
        "--psi-threshold",
        "0.9",
        "--ks-alpha",
        "0.002",
        "--recent-days",
        "21",
        "--train-fraction",
        "0.5",
        "--out",
        "reports/monitor-flags.json",
    ];
    ok(momentum(root, uri, &flags));
    // Recent days that reach into the train window: both drift checks say so, without a value,
    // and print as unchecked (not ok).
    let out = ok(momentum(
        root,
        uri,
        &[
            "monitor",
            "--recent-days",
            "8000",
            "--out",
            "reports/monitor-long.json",
        ],
    ));
    for name in ["psi", "ks"] {
        let line = out.lines().find(|l| l.starts_with(name)).unwrap();
        assert!(
            line.contains(" n/a threshold ") && line.contains(" unchecked not comparable: "),
            "{out}"
        );
    }
    let long = json(&root.join("reports/monitor-long.json"));
    for name in ["psi", "ks"] {
        let check = check(&long, name);
        let detail = check["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("not comparable: the last 8000 days"),
            "{detail}"
        );
        assert!(check["value"].is_null());
    }
    let flagged = json(&root.join("reports/monitor-flags.json"));
    assert_eq!(threshold(&flagged, "psi"), 0.9);
    assert_eq!(threshold(&flagged, "ks"), 0.002);
    // The PSI's detail counts the scores: 21 recent days of 20 tickers, and a reference window
    // of the first half of the days instead of 70 %.
    let psi_detail = |report: &Value| check(report, "psi")["detail"].as_str().unwrap().to_owned();
    let reference = |detail: &str| -> usize {
        let after = detail.split(" against ").nth(1).unwrap();
        after.split(' ').next().unwrap().parse().unwrap()
    };
    let (default_detail, flagged_detail) = (psi_detail(&report), psi_detail(&flagged));
    assert!(
        default_detail.contains("1260 recent scores"),
        "{default_detail}"
    );
    assert!(
        flagged_detail.contains("420 recent scores"),
        "{flagged_detail}"
    );
    assert!(
        reference(&flagged_detail) < reference(&default_detail),
        "{flagged_detail} / {default_detail}"
    );
    fails(
        momentum(root, uri, &["monitor", "--mean-return-alpha", "1.5"]),
        "invalid --mean-return-alpha 1.5: must be in (0, 1)",
    );
    // The reference is the train window of the backtest's evaluation window (backtest.start
    // and end): 2015 and 2016 hold 504 NYSE trading days (252 each), the first 352 of them
    // (floor(0.7 * 504)) train, 20 tickers each.
    let window = [
        "monitor",
        "--start",
        "2015-01-01",
        "--end",
        "2016-12-31",
        "--out",
        "reports/monitor-window.json",
    ];
    ok(momentum(root, uri, &window));
    let windowed = psi_detail(&json(&root.join("reports/monitor-window.json")));
    assert!(
        windowed.ends_with("1260 recent scores against 7040 from the train window"),
        "{windowed}"
    );
    fails(
        momentum(root, uri, &["monitor", "--start", "2031-01-01"]),
        "no trading day between 2031-01-01 and 2022-",
    );
    assert!(
        report["live"].as_array().unwrap().len() >= 5,
        "{}",
        report["live"]
    );
    assert!(report["retrain_recommended"].is_boolean());
    dir
}

/// Monitor settings out of range stop the run before any file is read (the directory has no
/// prices and no picks), named by the flag that set them or by their key in params.yaml.
#[test]
fn monitor_settings_are_checked_first_and_named_where_they_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("alt.yaml"), "monitor:\n  ks_alpha: 1.5\n").unwrap();
    let bad_days = "monitor:\n  recent_days: 1\n";
    // (params.yaml, arguments, message)
    let cases: [(Option<&str>, &[&str], &str); 5] = [
        (
            None,
            &["monitor", "--ks-alpha", "2"],
            "error: invalid --ks-alpha 2: must be in (0, 1)",
        ),
        (
            None,
            &["monitor", "--train-fraction", "0"],
            "error: invalid --train-fraction 0: must be in (0, 1)",
        ),
        (
            Some(bad_days),
            &["monitor"],
            "error: invalid monitor.recent_days in params.yaml: must be at least 2",
        ),
        (
            Some(bad_days),
            &["--params", "alt.yaml", "monitor"],
            "error: invalid monitor.ks_alpha in alt.yaml: must be in (0, 1)",
        ),
        // A flag in range replaces the bad value of params.yaml: the next problem is the
        // prices.
        (
            Some(bad_days),
            &["monitor", "--recent-days", "21"],
            "cannot read the prices data/raw/prices.parquet (run `momentum fetch`)",
        ),
    ];
    for (params, args, message) in cases {
        match params {
            Some(text) => std::fs::write(root.join("params.yaml"), text).unwrap(),
            None => {
                let _ = std::fs::remove_file(root.join("params.yaml"));
            }
        }
        fails(momentum(root, None, args), message);
    }
}

#[test]
fn the_lifecycle_runs_on_the_sample_with_the_local_store() {
    let dir = lifecycle(None);
    let root = dir.path();
    // Every command left a run in the local store.
    let listing = ok(momentum(root, None, &["runs", "list"]));
    for name in ["scan-2022-12-28", "monitor-2022-12-28"] {
        assert!(listing.contains(name), "{name} in\n{listing}");
    }

    // A second promotion of the same candidate makes version 2; rollback returns to 1.
    ok(momentum(root, None, &["promote"]));
    assert!(
        std::fs::read_to_string(root.join("params.yaml"))
            .unwrap()
            .contains("version: '2'")
    );
    let out = ok(momentum(root, None, &["promote", "--rollback"]));
    assert!(out.contains("version 1"), "{out}");
    let params = std::fs::read_to_string(root.join("params.yaml")).unwrap();
    assert!(params.contains("version: '1'"), "{params}");
    let out = momentum(root, None, &["promote", "--rollback"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "version 1 was the first: nothing before it"
    );

    // The backtest's report drawn again from its tracked run, now with the picks and the
    // monitor the later commands wrote; a run of another kind names what it lacks.
    let part_of = |page: &str, from: &str| page[page.find(from).unwrap()..].to_owned();
    let run_named = |prefix: &str| {
        std::fs::read_dir(root.join("mlruns/runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|run| {
                json(&run.join("run.json"))["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(prefix))
            })
            .map(|run| run.file_name().unwrap().to_string_lossy().into_owned())
            .unwrap()
    };
    let backtest = run_named("backtest");
    let out = ok(momentum(
        root,
        None,
        &["report", &backtest[..8], "--out", "again.html"],
    ));
    assert!(out.contains("again.html"), "{out}");
    let again = std::fs::read_to_string(root.join("again.html")).unwrap();
    let written = std::fs::read_to_string(root.join("reports/report.html")).unwrap();
    let part = |page: &str| {
        let (start, end) = (
            page.find("<section id=\"summary\">"),
            page.find("<section id=\"live\">"),
        );
        page[start.unwrap()..end.unwrap()].to_owned()
    };
    assert!(
        part(&again) == part(&written),
        "the run's report differs from the backtest's"
    );
    assert!(written.contains("No picks: <code>momentum scan</code> has not written its file."));
    let live = part_of(&again, "<section id=\"live\">");
    assert!(
        live.contains("<h3>Picks as of ") && live.contains("<h3>Monitor as of "),
        "{live}"
    );
    let scan = run_named("scan");
    fails(
        momentum(root, None, &["report", &scan]),
        &format!("run {scan} has no metrics.json, equity_curve.csv, grid.parquet artifact"),
    );
    fails(
        momentum(root, None, &["report", "0123456789abcdef"]),
        "run 0123456789abcdef not found",
    );
}

#[test]
fn the_lifecycle_runs_on_the_sample_with_a_real_mlflow_server() {
    let server = support::Server::shared();
    let dir = lifecycle(Some(&server.uri));
    let client = RestClient::new(server.client_config(Auth::None)).unwrap();
    let champion = client
        .get_version_by_alias("momentum-xs", "champion")
        .unwrap()
        .expect("champion alias on the server");
    assert_eq!(champion.version, "1");
    let runs = client.search_runs(&RunQuery::new("momentum")).unwrap();
    let names: Vec<String> = runs.iter().map(|r| r.name.clone()).collect();
    // The backtest's parent run, its children (the grid is smaller than tracking.children: one
    // per combination) and its artifacts, the grid as one table among them.
    let parent = runs
        .iter()
        .find(|r| r.name.starts_with("backtest") && r.parent_run_id.is_none())
        .unwrap_or_else(|| panic!("a backtest parent run on the server: {names:?}"));
    let children = runs
        .iter()
        .filter(|r| r.parent_run_id.as_deref() == Some(parent.run_id.as_str()))
        .count();
    assert_eq!(children, 4, "2 lookbacks x 1 skip x 2 holdings x 1 top_k");
    let artifacts = client.list_artifacts(&parent.run_id).unwrap();
    for file in [
        "metrics.json",
        "grid.parquet",
        "grid_top.csv",
        "trades.csv",
        "equity_curve.png",
        "equity_curve.csv",
        "report.html",
        "candidate.json",
    ] {
        assert!(
            artifacts.iter().any(|a| a.ends_with(file)),
            "{file} in {artifacts:?}"
        );
    }
    let chart = client
        .download_artifact(
            &parent.run_id,
            artifacts
                .iter()
                .find(|a| a.ends_with("equity_curve.png"))
                .unwrap(),
        )
        .unwrap();
    assert_eq!(
        chart,
        std::fs::read(dir.path().join("reports/equity_curve.png")).unwrap()
    );
    // `momentum report --remote` draws the report again from the server's artifacts.
    let out = ok(momentum(
        dir.path(),
        Some(&server.uri),
        &[
            "report",
            "--remote",
            &parent.run_id,
            "--out",
            "from-server.html",
            "--report-no-live",
        ],
    ));
    assert!(out.contains("from-server.html"), "{out}");
    let from_server = std::fs::read_to_string(dir.path().join("from-server.html")).unwrap();
    let written = std::fs::read_to_string(dir.path().join("reports/report.html")).unwrap();
    let grid = |page: &str| {
        page[page.find("<section id=\"grid\">").unwrap()..]
            .split("<section id=\"costs\">")
            .next()
            .unwrap()
            .to_owned()
    };
    assert!(
        grid(&from_server) == grid(&written),
        "the server's grid section differs"
    );
    assert!(from_server.contains(&format!("tracked run {} (server)", parent.run_id)));
    assert_eq!(
        parent.params["lookback"],
        json(&dir.path().join("models/candidate.json"))["params"]["lookback"].to_string()
    );
    assert!(names.iter().any(|n| n == "scan-2022-12-28"), "{names:?}");
    assert!(names.iter().any(|n| n == "monitor-2022-12-28"), "{names:?}");
    drop(dir);
}

#[test]
fn each_failing_gate_rejects_and_leaves_params_untouched() {
    let dir = project(None);
    let root = dir.path();
    let params = root.join("params.yaml");
    let before = std::fs::read(&params).unwrap();
    for (flags, gate) in [
        (vec!["--min-roi", "1000"], "min_roi"),
        (vec!["--max-drawdown", "0.01"], "max_drawdown"),
        (vec!["--max-pbo", "0"], "max_pbo"),
        // A negative threshold is a number, not a flag.
        (vec!["--min-roi", "-0.5", "--max-pbo", "0"], "max_pbo"),
    ] {
        let mut args = vec!["promote"];
        args.extend(flags);
        rejected_by(momentum(root, None, &args), gate);
        assert_eq!(std::fs::read(&params).unwrap(), before);
    }
    // Thresholds that would pass or fail every candidate are refused, named by their flag or
    // key, before the candidate is read.
    for (flags, message) in [
        (
            vec!["--min-dsr", "1.5"],
            "invalid --min-dsr 1.5: must be in [0, 1]",
        ),
        (
            vec!["--max-pbo=-0.01"],
            "invalid --max-pbo -0.01: must be in [0, 1]",
        ),
        (
            vec!["--min-roi", "nan"],
            "invalid --min-roi NaN: must be a finite number",
        ),
        (
            vec!["--min-oos-sharpe", "inf"],
            "invalid --min-oos-sharpe inf: must be a finite number",
        ),
        (
            vec!["--max-drawdown", "2"],
            "invalid --max-drawdown 2: must be in [0, 1]",
        ),
    ] {
        let mut args = vec!["promote", "--dry-run"];
        args.extend(flags);
        fails(momentum(root, None, &args), message);
    }
    let text = String::from_utf8(before.clone()).unwrap();
    assert!(text.contains("\n  min_dsr: 0.50\n"));
    std::fs::write(
        &params,
        text.replace("\n  min_dsr: 0.50\n", "\n  min_dsr: .nan\n"),
    )
    .unwrap();
    fails(
        momentum(root, None, &["promote", "--dry-run"]),
        "invalid promotion.min_dsr in params.yaml: must be in [0, 1]",
    );
    std::fs::write(&params, &before).unwrap();
    // A candidate given to a command that promotes none is refused, not ignored.
    for steps in ["--rollback", "--retire-challenger", "--from-challenger"] {
        let out = momentum(root, None, &["promote", steps, "--candidate", "x.json"]);
        assert_eq!(out.status.code(), Some(2), "{steps}");
        let usage = String::from_utf8_lossy(&out.stderr);
        assert!(
            usage.contains(&format!(
                "the argument '{steps}' cannot be used with '--candidate <PATH>'"
            )),
            "{usage}"
        );
    }

    // A selection without a PBO (a train window too short for CSCV) fails the gate, unless
    // params.yaml turns it off.
    let candidate_path = root.join("models/candidate.json");
    let original = std::fs::read(&candidate_path).unwrap();
    let mut candidate = json(&candidate_path);
    candidate["selection"]["pbo"] = Value::Null;
    std::fs::write(&candidate_path, serde_json::to_vec(&candidate).unwrap()).unwrap();
    rejected_by(momentum(root, None, &["promote", "--dry-run"]), "max_pbo");
    let text = String::from_utf8(before.clone()).unwrap();
    assert!(text.contains("\n  max_pbo: 0.50\n"));
    std::fs::write(
        &params,
        text.replace("\n  max_pbo: 0.50\n", "\n  max_pbo: null\n"),
    )
    .unwrap();
    // Every gate passes without one for the PBO; the edited candidate was written by no
    // tracked run, which the dry run says as the promotion would.
    let out = momentum(root, None, &["promote", "--dry-run"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("min_roi") && !table.contains("max_pbo") && !table.contains("FAIL"),
        "{table}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the backtest run that wrote this candidate is not in the tracking store"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&params, &before).unwrap();
    std::fs::write(&candidate_path, &original).unwrap();

    // A selection whose Deflated Sharpe Ratio is below the gate (the sample's winner has a
    // DSR of 1.0, which no threshold in [0, 1] fails).
    let mut candidate = json(&candidate_path);
    candidate["selection"]["dsr"] = Value::from(0.4);
    std::fs::write(&candidate_path, serde_json::to_vec(&candidate).unwrap()).unwrap();
    rejected_by(momentum(root, None, &["promote"]), "min_dsr");
    assert_eq!(std::fs::read(&params).unwrap(), before);
    std::fs::write(&candidate_path, &original).unwrap();

    // A candidate that does not beat buy and hold out of sample.
    let mut candidate = json(&candidate_path);
    candidate["windows"]["test"]["baseline"]["total_roi"] = Value::from(1e9);
    std::fs::write(&candidate_path, serde_json::to_vec(&candidate).unwrap()).unwrap();
    rejected_by(momentum(root, None, &["promote"]), "beats_buy_and_hold");
    assert_eq!(std::fs::read(&params).unwrap(), before);

    // A metric that could not be computed (NaN, written as null) fails its gate; a candidate
    // without the value at all is not a candidate.
    candidate["windows"]["test"]["strategy"]["max_drawdown"] = Value::Null;
    std::fs::write(&candidate_path, serde_json::to_vec(&candidate).unwrap()).unwrap();
    rejected_by(momentum(root, None, &["promote"]), "max_drawdown");
    candidate["windows"]["test"]["strategy"]
        .as_object_mut()
        .unwrap()
        .remove("max_drawdown");
    std::fs::write(&candidate_path, serde_json::to_vec(&candidate).unwrap()).unwrap();
    fails(
        momentum(root, None, &["promote"]),
        "not a candidate model (at windows.test.strategy): missing field `max_drawdown`",
    );
    assert_eq!(std::fs::read(&params).unwrap(), before);

    // The dry run of a passing candidate changes nothing either.
    let mut args = vec!["backtest"];
    args.extend_from_slice(GRID);
    ok(momentum(root, None, &args));
    let out = ok(momentum(root, None, &["promote", "--dry-run"]));
    assert!(
        out.contains("dry run: the candidate would be promoted to `champion` (source run "),
        "{out}"
    );
    assert_eq!(std::fs::read(&params).unwrap(), before);
    let nothing_registered = || {
        !root.join("mlruns/models").exists()
            || std::fs::read_dir(root.join("mlruns/models"))
                .unwrap()
                .next()
                .is_none()
    };
    assert!(nothing_registered());

    // A params.yaml that reads as settings but cannot be edited in place (a comment before the
    // document marker): the passing candidate is refused before anything is registered.
    let text = String::from_utf8(before.clone()).unwrap();
    let hand_edited = format!("# edited by hand\n---\n{text}");
    std::fs::write(&params, &hand_edited).unwrap();
    // The dry run refuses what the promotion refuses after the gates (it used to say "would
    // be promoted").
    for dry in [false, true] {
        let args = if dry {
            &["promote", "--dry-run"][..]
        } else {
            &["promote"]
        };
        let out = momentum(root, None, args);
        assert_eq!(out.status.code(), Some(1), "dry run: {dry}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("params.yaml"), "{err}");
        assert!(nothing_registered());
        assert_eq!(std::fs::read_to_string(&params).unwrap(), hand_edited);
    }
    // So is a candidate whose backtest was not tracked.
    std::fs::write(&params, &before).unwrap();
    let mut untracked = vec!["backtest", "--no-track"];
    untracked.extend_from_slice(GRID);
    ok(momentum(root, None, &untracked));
    fails(
        momentum(root, None, &["promote", "--dry-run"]),
        "the backtest run that wrote this candidate is not in the tracking store",
    );

    // A candidate whose backtest ran a walk-forward is also held to its out-of-sample Sharpe.
    std::fs::write(&params, &before).unwrap();
    let mut args = vec![
        "backtest",
        "--validation",
        "walk-forward",
        "--wf-train-days",
        "1260",
        "--wf-test-days",
        "1260",
    ];
    args.extend_from_slice(GRID);
    ok(momentum(root, None, &args));
    let out = momentum(root, None, &["promote", "--dry-run"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.lines().any(|l| l.starts_with("min_oos_sharpe")),
        "{table}"
    );
    rejected_by(
        momentum(
            root,
            None,
            &["promote", "--dry-run", "--min-oos-sharpe", "100"],
        ),
        "min_oos_sharpe",
    );
}

/// The version of the production block of `params.yaml` in `root`.
fn params_version(root: &Path) -> String {
    let text = std::fs::read_to_string(root.join("params.yaml")).unwrap();
    let (_, block, _) = split_production(&text);
    let line = block
        .lines()
        .find_map(|l| l.strip_prefix("  version: "))
        .expect("a version line");
    line.trim_matches('\'').to_owned()
}

/// The model version of the picks a successful `momentum ARGS` wrote.
fn scanned_version(root: &Path, args: &[&str]) -> String {
    ok(momentum(root, None, args));
    json(&root.join("reports/picks.json"))["model_version"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The production block a fresh clone ships with (version 1) and a fresh registry: the first
/// promotion registers that block first, so the candidate becomes version 2 (not a second,
/// different version 1) and `--rollback` returns to the shipped block byte for byte. A first
/// promotion killed before or after that registration is undone by `--rollback`, which leaves
/// no alias where there was none (scan was refused until then).
#[test]
fn a_shipped_production_block_is_registered_before_the_first_promotion_replaces_it() {
    use momentum_lifecycle::CRASH_AT_ENV;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../params.yaml"))
            .unwrap();
    std::fs::write(root.join("params.yaml"), &committed).unwrap();
    ok(momentum(root, None, &["fetch"]));
    ok(momentum(root, None, &["features"]));
    ok(momentum(root, None, &[&["backtest"][..], GRID].concat()));
    assert_eq!(params_version(root), "1");
    // A read-only params.yaml is refused before the registry changes: no model, no version,
    // no journal (a rename would have replaced it, mode and all).
    let params_file = root.join("params.yaml");
    let mode = |bits| std::fs::Permissions::from_mode(bits);
    std::fs::set_permissions(&params_file, mode(0o444)).unwrap();
    fails(
        momentum(root, None, &["promote"]),
        "params.yaml: the file is read-only, so it was left as it is (make it writable to \
         replace it)",
    );
    std::fs::set_permissions(&params_file, mode(0o644)).unwrap();
    assert_eq!(std::fs::read_to_string(&params_file).unwrap(), committed);
    assert!(!root.join("mlruns/models").join("momentum-xs.json").exists());
    assert!(!root.join("params.yaml.promoting").exists());
    for point in ["promote:model-created", "promote:block-adopted"] {
        let out = command(root, None, &["promote"])
            .env(CRASH_AT_ENV, point)
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(6), "{point}: aborted");
        fails(
            momentum(root, None, &["scan"]),
            "a promotion or rollback was interrupted (params.yaml.promoting is left); run \
             `momentum promote --rollback`",
        );
        let out = ok(momentum(root, None, &["promote", "--rollback"]));
        assert!(
            out.starts_with("undid an interrupted step"),
            "{point}: {out}"
        );
        let params = std::fs::read_to_string(root.join("params.yaml")).unwrap();
        assert_eq!(params, committed, "{point}");
        assert_eq!(scanned_version(root, &["scan"]), "1", "{point}");
    }
    let out = ok(momentum(root, None, &["promote"]));
    assert!(out.contains("momentum-xs version 2 is `champion`"), "{out}");
    assert_eq!(params_version(root), "2");
    // The block's version registered by the killed attempt is the one kept: one run logged.
    let adopted = ok(momentum(
        root,
        None,
        &["runs", "list", "-f", "tags.momentum.kind = adopt"],
    ));
    assert_eq!(
        adopted.matches("adopt-production-v1").count(),
        1,
        "{adopted}"
    );
    let out = ok(momentum(root, None, &["promote", "--rollback"]));
    assert!(
        out.contains("rolled back: momentum-xs version 1 is `champion` again (was 2)"),
        "{out}"
    );
    let params = std::fs::read_to_string(root.join("params.yaml")).unwrap();
    assert_eq!(params, committed);

    // The same with the registry of a real MLflow server (its own: the model name is shared).
    let server = support::Server::start(&root.join("mlflow"), false, true);
    let uri = Some(server.uri.as_str());
    std::fs::write(root.join("params.yaml"), &committed).unwrap();
    ok(momentum(root, uri, &[&["backtest"][..], GRID].concat()));
    let out = ok(momentum(root, uri, &["promote"]));
    assert!(out.contains("momentum-xs version 2 is `champion`"), "{out}");
    let registry = RestClient::new(server.client_config(Auth::None)).unwrap();
    let versions = registry.list_versions("momentum-xs").unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].tags["lookback"], "250", "the shipped block's");
    let out = ok(momentum(root, uri, &["promote", "--rollback"]));
    assert!(
        out.contains("version 1 is `champion` again (was 2)"),
        "{out}"
    );
    let params = std::fs::read_to_string(root.join("params.yaml")).unwrap();
    assert_eq!(params, committed);
}

#[test]
fn a_promotion_or_rollback_killed_between_any_two_steps_is_detected_and_undone() {
    use momentum_lifecycle::{CRASH_AT_ENV, CRASH_POINTS, journal_path};
    use std::os::unix::process::ExitStatusExt;

    /// What a kill at a point leaves: both stores on the old version, both on the new one, or
    /// the alias ahead of params.yaml (which scan refuses until `promote --rollback`).
    #[derive(Debug, PartialEq)]
    enum Left {
        BothOld,
        BothNew,
        AliasAhead,
    }
    let expected = [
        ("promote:journal-written", Left::BothOld),
        ("promote:model-created", Left::BothOld),
        ("promote:version-created", Left::BothOld),
        ("promote:alias-moved", Left::AliasAhead),
        ("promote:params-written", Left::BothNew),
        ("rollback:journal-written", Left::BothOld),
        ("rollback:alias-moved", Left::AliasAhead),
        ("rollback:params-written", Left::BothNew),
    ];
    assert_eq!(
        expected.iter().map(|(point, _)| *point).collect::<Vec<_>>(),
        CRASH_POINTS
            .into_iter()
            // Reached only over a block the registry has never seen: tested with the shipped
            // block (a_shipped_production_block_is_registered_before_...).
            .filter(|p| *p != "promote:block-adopted")
            .filter(|p| p.starts_with("promote:") || p.starts_with("rollback:"))
            .collect::<Vec<_>>(),
        "every crash point of a promotion or rollback is tested (the others below)"
    );

    let dir = project(None);
    let root = dir.path();
    ok(momentum(root, None, &["promote"]));
    for (point, left) in expected {
        let args: &[&str] = if point.starts_with("rollback:") {
            // Something to roll back to.
            ok(momentum(root, None, &["promote"]));
            &["promote", "--rollback"]
        } else {
            &["promote"]
        };
        let before = params_version(root);
        let out = command(root, None, args)
            .env(CRASH_AT_ENV, point)
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(6), "{point}: aborted");
        assert!(journal_path(&root.join("params.yaml")).exists(), "{point}");
        let after = params_version(root);
        match left {
            Left::BothOld | Left::BothNew => {
                assert_eq!(after == before, left == Left::BothOld, "{point}");
                assert_eq!(scanned_version(root, &["scan"]), after, "{point}");
                assert_eq!(
                    scanned_version(root, &["scan", "--from-registry"]),
                    after,
                    "{point}"
                );
            }
            Left::AliasAhead => {
                assert_eq!(after, before, "{point}: params.yaml is written last");
                let message = format!("put `champion` back on version {before}");
                fails(momentum(root, None, &["scan"]), &message);
                fails(momentum(root, None, &["scan", "--from-registry"]), &message);
                let out = ok(momentum(root, None, &["promote", "--rollback"]));
                assert!(out.contains("undid an interrupted"), "{point}: {out}");
                assert_eq!(params_version(root), before, "{point}");
                assert_eq!(scanned_version(root, &["scan"]), before, "{point}");
                assert_eq!(
                    scanned_version(root, &["scan", "--from-registry"]),
                    before,
                    "{point}"
                );
                assert!(!journal_path(&root.join("params.yaml")).exists());
            }
        }
    }

    // Without a journal a difference is a promotion awaiting review (or a reverted
    // params.yaml): each source serves its own version, with a warning, and --rollback steps
    // the champion back to where params.yaml is.
    ok(momentum(root, None, &["promote"]));
    assert!(!journal_path(&root.join("params.yaml")).exists());
    let reviewed = std::fs::read(root.join("params.yaml")).unwrap();
    let old = params_version(root);
    ok(momentum(root, None, &["promote"]));
    let new = params_version(root);
    std::fs::write(root.join("params.yaml"), &reviewed).unwrap();
    for (args, version) in [(&["scan"][..], &old), (&["scan", "--from-registry"], &new)] {
        let out = momentum(root, None, args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(stderr.contains("not merged yet"), "{stderr}");
        assert_eq!(&scanned_version(root, args), version);
    }
    let out = ok(momentum(root, None, &["promote", "--rollback"]));
    assert!(
        out.contains(&format!("version {old} is `champion` again")),
        "{out}"
    );
    assert_eq!(scanned_version(root, &["scan", "--from-registry"]), old);
}

/// The version of the challenger block of `params.yaml` in `root` (`None` when empty).
fn challenger_version(root: &Path) -> Option<String> {
    let settings = momentum_lifecycle::Settings::load(&root.join("params.yaml"), true).unwrap();
    settings.challenger.version
}

/// Writes `reports/ab.json` as `momentum ab` would after deciding for the challenger on the
/// live record up to `end`.
fn decide_for_challenger(root: &Path, end: &str) {
    let text = format!(
        r#"{{"source": "live", "end": "{end}", "decision": "promote_challenger", "reason": "by hand", "champion": {{"version": "{}"}}, "challenger": {{"version": "{}"}}}}"#,
        params_version(root),
        challenger_version(root).unwrap()
    );
    std::fs::write(root.join("reports/ab.json"), text).unwrap();
}

#[test]
fn a_swap_or_retirement_killed_between_any_two_steps_is_detected_and_undone() {
    use momentum_lifecycle::{CRASH_AT_ENV, CRASH_POINTS, journal_path};
    use std::os::unix::process::ExitStatusExt;

    /// What a kill at a point leaves: both blocks as before, both as after, or an alias that
    /// disagrees with its block (named in the message scan refuses with).
    #[derive(Debug, PartialEq)]
    enum Left {
        BothOld,
        BothNew,
        Disagree(&'static str),
    }
    let expected = [
        ("swap:journal-written", Left::BothOld),
        ("swap:champion-moved", Left::Disagree("champion")),
        ("swap:challenger-removed", Left::Disagree("champion")),
        ("swap:params-written", Left::BothNew),
        ("retire:journal-written", Left::BothOld),
        ("retire:alias-removed", Left::Disagree("challenger")),
    ];
    assert_eq!(
        expected.iter().map(|(point, _)| *point).collect::<Vec<_>>(),
        CRASH_POINTS
            .into_iter()
            .filter(|p| p.starts_with("swap:") || p.starts_with("retire:"))
            .collect::<Vec<_>>(),
        "every crash point of a swap or retirement is tested"
    );
    let dir = project(None);
    let root = dir.path();
    ok(momentum(root, None, &["promote"]));
    for (point, left) in expected {
        ok(momentum(root, None, &["promote", "--alias", "challenger"]));
        let (champion, challenger) = (params_version(root), challenger_version(root).unwrap());
        let args: &[&str] = if point.starts_with("swap:") {
            decide_for_challenger(root, "2022-12-28");
            &["promote", "--from-challenger"]
        } else {
            &["promote", "--retire-challenger"]
        };
        let out = command(root, None, args)
            .env(CRASH_AT_ENV, point)
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(6), "{point}: aborted");
        let (after_champion, after_challenger) = (params_version(root), challenger_version(root));
        match left {
            Left::BothOld => {
                assert_eq!(
                    (&after_champion, after_challenger.as_ref()),
                    (&champion, Some(&challenger)),
                    "{point}"
                );
            }
            Left::BothNew => {
                assert_eq!(
                    (&after_champion, after_challenger),
                    (&challenger, None),
                    "{point}"
                );
            }
            Left::Disagree(alias) => {
                assert_eq!(
                    (&after_champion, after_challenger.as_ref()),
                    (&champion, Some(&challenger)),
                    "{point}: params.yaml is written last"
                );
                let version = if alias == "champion" {
                    &champion
                } else {
                    &challenger
                };
                let message = format!("put `{alias}` back on version {version}");
                fails(momentum(root, None, &["scan"]), &message);
                fails(momentum(root, None, &["scan", "--from-registry"]), &message);
                let out = ok(momentum(root, None, &["promote", "--rollback"]));
                assert!(out.contains("undid an interrupted"), "{point}: {out}");
                assert!(!journal_path(&root.join("params.yaml")).exists());
            }
        }
        // Whatever was left, both sources serve the same champion, and the challenger (if any)
        // is scanned in shadow from either.
        let served = params_version(root);
        assert_eq!(scanned_version(root, &["scan"]), served, "{point}");
        let out = ok(momentum(root, None, &["scan", "--from-registry"]));
        assert_eq!(
            out.contains("in shadow"),
            challenger_version(root).is_some(),
            "{point}: {out}"
        );
    }
}

/// The champion-challenger lifecycle through the binary: a challenger registered beside the
/// champion, scanned in shadow, compared, swapped in only on a decided comparison.
#[test]
fn a_challenger_runs_in_shadow_and_replaces_the_champion_only_on_a_decision() {
    let dir = project(None);
    let root = dir.path();
    ok(momentum(root, None, &["promote"]));
    fails(
        momentum(root, None, &["promote", "--from-challenger"]),
        "no challenger",
    );
    // No challenger at all, with scans of the champion or without: the advice is a
    // promotion, not a scan.
    let no_challenger = "error: no challenger: the challenger block of params.yaml is empty (run \
                         `momentum promote --alias challenger`)";
    fails(momentum(root, None, &["ab"]), no_challenger);
    ok(momentum(root, None, &["scan"]));
    fails(momentum(root, None, &["ab"]), no_challenger);
    ok(momentum(root, None, &["promote", "--alias", "challenger"]));
    // Registered, never scanned: the champion's scans are no record of it.
    fails(
        momentum(root, None, &["ab"]),
        "the picks history has no scan of the challenger (version 2) yet",
    );
    assert_eq!(challenger_version(root).as_deref(), Some("2"));
    // A challenger block with a version but a parameter missing is named as that block's key.
    let params = root.join("params.yaml");
    let text = std::fs::read_to_string(&params).unwrap();
    let at = text.find("\nchallenger:\n").unwrap();
    let skip = at + text[at..].find("\n  skip: ").unwrap();
    let line_end = skip + 1 + text[skip + 1..].find('\n').unwrap();
    std::fs::write(&params, format!("{}{}", &text[..skip], &text[line_end..])).unwrap();
    fails(
        momentum(root, None, &["scan"]),
        "invalid challenger.skip in params.yaml: missing from a block that has a version",
    );
    std::fs::write(&params, &text).unwrap();
    for as_of in ["2022-11-01", "2022-12-01", "2022-12-28"] {
        let out = ok(momentum(root, None, &["scan", "--as-of", as_of]));
        assert!(out.contains("challenger v2 would pick"), "{out}");
        assert_eq!(json(&root.join("reports/picks.json"))["model_version"], "1");
    }
    // The monitor watches the champion alone.
    ok(momentum(root, None, &["monitor"]));
    assert_eq!(
        json(&root.join("reports/monitor.json"))["model_version"],
        "1"
    );

    // Live: too few days for a decision, which blocks the swap.
    let out = ok(momentum(root, None, &["ab", "--reps", "199"]));
    assert!(out.contains("decision: inconclusive"), "{out}");
    let report = json(&root.join("reports/ab.json"));
    assert_eq!(report["source"], "live");
    assert_eq!(report["champion"]["version"], "1");
    assert_eq!(report["challenger"]["version"], "2");
    assert!(report["mean_overlap"].as_f64().unwrap() <= 1.0);
    fails(
        momentum(root, None, &["promote", "--from-challenger"]),
        "the decision is inconclusive",
    );
    // A deployment that serves from the registry alone (both blocks empty, `scan
    // --from-registry`) compares the two aliases' versions with --from-registry: the same books
    // and report as from the blocks. Without the flag, the empty block is refused.
    let blocks = std::fs::read_to_string(&params).unwrap();
    std::fs::write(
        &params,
        emptied(&emptied(&blocks, "production"), "challenger"),
    )
    .unwrap();
    assert_eq!(challenger_version(root), None);
    fails(
        momentum(root, None, &["ab", "--reps", "199"]),
        "the production block of params.yaml is empty",
    );
    let out = ok(momentum(
        root,
        None,
        &["ab", "--reps", "199", "--from-registry"],
    ));
    assert!(out.contains("decision: inconclusive"), "{out}");
    let from_registry = json(&root.join("reports/ab.json"));
    assert_eq!(from_registry["champion"]["version"], "1");
    assert_eq!(from_registry["challenger"]["version"], "2");
    assert_eq!(from_registry["days_compared"], report["days_compared"]);
    // A returns file compares no model: nothing to read from the registry.
    let out = momentum(root, None, &["ab", "--from-registry", "--returns", "r.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'--from-registry' cannot be used with '--returns <FILE>'"),
        "{stderr}"
    );
    std::fs::write(&params, &blocks).unwrap();
    // The comparison is a tracked run, with its decision and both versions as tags.
    let runs = ok(momentum(
        root,
        None,
        &[
            "runs",
            "list",
            "-f",
            "tags.momentum.kind = ab",
            "-f",
            "tags.decision = inconclusive",
        ],
    ));
    assert!(runs.contains("ab-live-2022-12-28"), "{runs}");
    // The same candidate twice: identical books, whose difference no test can judge and no
    // swap can act on (a retraining that chose the same parameters is not a failed job).
    let out = ok(momentum(
        root,
        None,
        &["ab", "--source", "backtest", "--start", "2015-01-01"],
    ));
    assert!(out.contains("decision: inconclusive"), "{out}");
    let same = json(&root.join("reports/ab.json"));
    assert!(same["comparison"].is_null(), "{same}");
    assert!(
        same["reason"]
            .as_str()
            .unwrap()
            .starts_with("the two books have the same return on each of the"),
        "{same}"
    );

    // A backtest window is named by its dates: reversed, or too short for the lookback.
    let backtest = |start: &str, end: &str| {
        momentum(
            root,
            None,
            &["ab", "--source", "backtest", "--start", start, "--end", end],
        )
    };
    fails(
        backtest("2021-01-01", "2020-01-01"),
        "--start 2021-01-01 is after --end 2020-01-01",
    );
    fails(
        backtest("1990-01-01", "1990-02-01"),
        "trading days leaves no day to trade from 1990-01-02 to 1990-02-01",
    );

    // A comparison of a returns file, whatever it decided, is not one of the two models.
    std::fs::write(
        root.join("returns.csv"),
        "date,champion,challenger\n2022-12-01,0.01,0.02\n2022-12-02,0.0,0.01\n",
    )
    .unwrap();
    ok(momentum(root, None, &["ab", "--returns", "returns.csv"]));
    fails(
        momentum(root, None, &["promote", "--from-challenger"]),
        "it compares the books of source `returns` (a returns file), not the two models",
    );

    // Bad flags name themselves; a decided comparison swaps the two.
    fails(momentum(root, None, &["ab", "--alpha", "2"]), "--alpha");
    fails(
        momentum(root, None, &["ab", "--reps", "3"]),
        "invalid --reps 3: must be at least 19 for a 95 % interval",
    );
    fails(
        momentum(root, None, &["ab", "--block", "0"]),
        "invalid --block 0: must be at least 1",
    );
    // The days of a backtest comparison only: the live books compare every day they have.
    fails(
        momentum(root, None, &["ab", "--start", "2022-01-03"]),
        "--start and --end choose the days of --source backtest only",
    );
    // A decision on the record before the latest scan has not seen that scan.
    decide_for_challenger(root, "2022-12-27");
    fails(
        momentum(root, None, &["promote", "--from-challenger"]),
        "it compares the live record up to 2022-12-27, but data/predictions/picks.parquet has \
         a scan as of 2022-12-28 since: run `momentum ab` again",
    );
    decide_for_challenger(root, "2022-12-28");
    let out = ok(momentum(root, None, &["promote", "--from-challenger"]));
    assert!(out.contains("version 2 is `champion`"), "{out}");
    assert!(out.contains("version 1 is tagged `archived`"), "{out}");
    assert_eq!(
        (params_version(root), challenger_version(root)),
        ("2".to_owned(), None)
    );
    let out = ok(momentum(root, None, &["scan"]));
    assert!(!out.contains("in shadow"), "{out}");
    let out = ok(momentum(root, None, &["promote", "--rollback"]));
    assert!(out.contains("version 1 is `champion` again"), "{out}");
}

/// `scan --refresh` updates the prices the scan reads (`--prices`, not `data.out`) through the
/// last day it may score (`--today`): no later day enters them, and the other cache is untouched.
#[test]
fn a_refresh_updates_the_prices_the_scan_reads_through_today() {
    let dir = project(None);
    let root = dir.path();
    ok(momentum(root, None, &["promote"]));
    let cache = root.join("data/raw/prices.parquet");
    let before = std::fs::read(&cache).unwrap();
    ok(momentum(
        root,
        None,
        &[
            "fetch",
            "--end",
            "2022-12-15",
            "--out",
            "alt/prices.parquet",
        ],
    ));
    let out = ok(momentum(
        root,
        None,
        &[
            "scan",
            "--prices",
            "alt/prices.parquet",
            "--refresh",
            "--today",
            "2022-12-20",
        ],
    ));
    assert!(out.starts_with("2022-12-20: "), "{out}");
    let manifest = json(&root.join("alt/prices.manifest.json"));
    assert_eq!(manifest["end"], "2022-12-20", "{manifest}");
    assert_eq!(std::fs::read(&cache).unwrap(), before, "data.out untouched");
}

#[test]
fn serving_commands_fail_clearly_on_bad_input() {
    let dir = project(None);
    let root = dir.path();
    ok(momentum(root, None, &["promote"]));

    // Monitoring before any scan.
    fails(momentum(root, None, &["monitor"]), "no picks history yet");

    // The refresh before a scan is a fetch with the data settings of the params file: one it
    // refuses is named by its key and the file.
    let params = root.join("params.yaml");
    let text = std::fs::read_to_string(&params).unwrap();
    assert!(text.contains("\n  max_daily_jump: 5.0\n"));
    std::fs::write(
        root.join("jumpy.yaml"),
        text.replace("\n  max_daily_jump: 5.0\n", "\n  max_daily_jump: 0.5\n"),
    )
    .unwrap();
    fails(
        momentum(root, None, &["--params", "jumpy.yaml", "scan", "--refresh"]),
        "error: refreshing the price cache: invalid data.max_daily_jump = 0.5 in jumpy.yaml: \
         must be a finite factor above 1",
    );

    // A corrupt picks history is named and left alone.
    let history = root.join("data/predictions/picks.parquet");
    std::fs::create_dir_all(history.parent().unwrap()).unwrap();
    std::fs::write(&history, b"garbage").unwrap();
    let out = momentum(root, None, &["scan"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("corrupt picks history") && err.contains("picks.parquet"),
        "{err}"
    );
    assert_eq!(std::fs::read(&history).unwrap(), b"garbage");
    std::fs::remove_file(&history).unwrap();

    // A picks file that cannot be written fails the scan before the history takes it.
    let first = ["scan", "--as-of", "2022-03-01", "--out", "odir/ok.json"];
    ok(momentum(root, None, &first));
    let kept = std::fs::read(&history).unwrap();
    std::fs::create_dir_all(root.join("odir/x.json")).unwrap();
    fails(
        momentum(
            root,
            None,
            &["scan", "--as-of", "2022-06-01", "--out", "odir/x.json"],
        ),
        "a directory stands where the file goes",
    );
    assert_eq!(
        std::fs::read(&history).unwrap(),
        kept,
        "the history as it was"
    );
    assert!(!root.join("odir/x.csv").exists());
    std::fs::remove_file(&history).unwrap();

    // Prices that lack a model ticker.
    let out = ok(momentum(
        root,
        None,
        &[
            "fetch",
            "--tickers",
            "AAPL,MSFT",
            "--out",
            "data/raw/two.parquet",
        ],
    ));
    assert!(out.contains("two.parquet"));
    fails(
        momentum(root, None, &["scan", "--prices", "data/raw/two.parquet"]),
        "missing from",
    );

    // Stale prices from a file source (the sample itself is exempt: it is historical).
    let csv = root.join("prices.csv");
    let mut text = String::from("Date");
    let model = json(&root.join("models/candidate.json"));
    let universe: Vec<&str> = model["data"]["universe"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    // ZZZZ, outside the model's universe and first in the file, rises fastest of all.
    text.push_str(",ZZZZ");
    for ticker in &universe {
        text.push(',');
        text.push_str(ticker);
    }
    text.push('\n');
    let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    for day in 0..400u64 {
        text.push_str(&(start + chrono::Days::new(day)).to_string());
        text.push_str(&format!(",{}", 100.0 * 1.05f64.powi(day as i32)));
        for (i, _) in universe.iter().enumerate() {
            text.push_str(&format!(
                ",{}",
                100.0 + (day as f64) * (1.0 + i as f64 / 10.0)
            ));
        }
        text.push('\n');
    }
    std::fs::write(&csv, text).unwrap();
    ok(momentum(
        root,
        None,
        &[
            "fetch",
            "--source",
            "csv",
            "--path",
            "prices.csv",
            "--start",
            "2020-01-01",
            "--out",
            "data/raw/csv.parquet",
        ],
    ));
    fails(
        momentum(
            root,
            None,
            &[
                "scan",
                "--prices",
                "data/raw/csv.parquet",
                "--today",
                "2026-01-01",
            ],
        ),
        "stale prices",
    );
    assert!(!root.join("reports/picks.json").exists());

    // A today before the newest price would scan a day from its future: refused, unless
    // --as-of names a day up to today.
    let csv_prices = ["scan", "--prices", "data/raw/csv.parquet"];
    fails(
        momentum(
            root,
            None,
            &[&csv_prices[..], &["--today", "2021-01-04"]].concat(),
        ),
        "the day to scan, 2021-02-03, is after today (2021-01-04): it would read prices from \
         the future (pass --as-of to score an earlier day)",
    );
    assert!(!root.join("reports/picks.json").exists());

    // Fresh, the same file scans the model's universe only: ZZZZ is not ranked.
    ok(momentum(
        root,
        None,
        &[&csv_prices[..], &["--today", "2021-02-04"]].concat(),
    ));
    let picks = json(&root.join("reports/picks.json"));
    let listed: Vec<&str> = picks["picks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ticker"].as_str().unwrap())
        .collect();
    let mut sorted = universe.clone();
    sorted.sort_unstable();
    let mut got = listed.clone();
    got.sort_unstable();
    assert_eq!(got, sorted, "{listed:?}");
    // The monitor's drift checks pool the scores of the same universe: the last 63 days of the
    // 20 model tickers (ZZZZ would make it 21 x 63 = 1323).
    ok(momentum(
        root,
        None,
        &["monitor", "--prices", "data/raw/csv.parquet"],
    ));
    let report = json(&root.join("reports/monitor.json"));
    let psi = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "psi")
        .unwrap();
    let detail = psi["detail"].as_str().unwrap();
    assert!(detail.contains("1260 recent scores"), "{detail}");

    // A tracking store that cannot be opened (a file where its directory would be) fails a
    // scan and a monitor before either replaces its report.
    let params = root.join("params.yaml");
    let text = std::fs::read_to_string(&params).unwrap();
    assert!(text.contains("\n  store: mlruns\n"));
    std::fs::write(
        root.join("broken.yaml"),
        text.replace("\n  store: mlruns\n", "\n  store: prices.csv\n"),
    )
    .unwrap();
    // Each with flags that would change what it writes.
    let written = [
        "reports/picks.json",
        "reports/monitor.json",
        "data/predictions/picks.parquet",
    ]
    .map(|file| (file, std::fs::read(root.join(file)).unwrap()));
    for flags in [
        &["scan", "--today", "2021-02-04", "--as-of", "2021-01-04"][..],
        &["monitor", "--recent-days", "21"],
    ] {
        let args = [
            &["--params", "broken.yaml"][..],
            flags,
            &["--prices", "data/raw/csv.parquet"],
        ];
        fails(
            momentum(root, None, &args.concat()),
            "tracking store prices.csv",
        );
        for (file, before) in &written {
            assert_eq!(
                &std::fs::read(root.join(file)).unwrap(),
                before,
                "{flags:?}: {file}"
            );
        }
    }

    // A production block out of the spec's range is refused, the engine's reason said once.
    let (before, block, after) = split_production(&std::fs::read_to_string(&params).unwrap());
    let top_k = block.lines().find(|l| l.starts_with("  top_k:")).unwrap();
    let spoiled = block.replace(top_k, "  top_k: 0");
    std::fs::write(&params, format!("{before}{spoiled}{after}")).unwrap();
    fails(
        momentum(root, None, &["scan"]),
        "error: invalid production.top_k = 0 in params.yaml: must be at least 1",
    );
}

/// A production block edited by hand is refused by its key in the params file read, naming
/// the ticker, before anything is scanned or written (a ticker listed twice used to read `the
/// panel's tickers are not the model's universe in its order (see keep_universe)`, one the
/// prices lack named neither the key nor the file, an empty
/// version was scanned and recorded as `model v`, and an empty block was said to be
/// params.yaml's whichever file was read).
#[test]
fn a_production_block_edited_by_hand_is_named_by_its_key_and_file() {
    let dir = sample_project();
    let root = dir.path();
    let committed = std::fs::read_to_string(root.join("params.yaml")).unwrap();
    let no_model = "error: no production model yet: the production block of p.yaml is empty (run \
                    `momentum backtest` then `momentum promote`)";
    for (from, to, message) in [
        (
            "    - AMD\n",
            "    - AAPL\n",
            "error: invalid production.tickers in p.yaml: ticker AAPL is listed twice",
        ),
        (
            "    - AMD\n",
            "    - ZZZ\n",
            "error: production.tickers in p.yaml: the model's tickers ZZZ are missing from \
             data/raw/prices.parquet",
        ),
        (
            "  version: '1'\n",
            "  version: ''\n",
            "error: invalid production.version in p.yaml: must not be empty (null before the \
             first promotion)",
        ),
        (
            "  top_k: 5\n",
            "  top_k: 0\n",
            "error: invalid production.top_k = 0 in p.yaml: must be at least 1",
        ),
        ("  version: '1'\n", "  version: null\n", no_model),
        (&committed, "", no_model),
    ] {
        assert!(committed.contains(from), "{from}");
        std::fs::write(root.join("p.yaml"), committed.replacen(from, to, 1)).unwrap();
        let out = momentum(root, None, &["--params", "p.yaml", "scan"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end(), message);
        assert!(!root.join("reports").exists() && !root.join("data/predictions").exists());
    }
    // As `ab` names it, which has no flag for the block.
    let spoiled = committed.replacen("  top_k: 5\n", "  top_k: 0\n", 1);
    std::fs::write(root.join("p.yaml"), spoiled).unwrap();
    let out = momentum(
        root,
        None,
        &["--params", "p.yaml", "ab", "--source", "backtest"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: invalid production.top_k = 0 in p.yaml: must be at least 1"
    );
    // The picks file named by the flag that set it.
    let out = momentum(root, None, &["scan", "--out", "picks.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: invalid --out picks.csv: must not end in .csv: the CSV is written beside the JSON"
    );
}

/// The credentials of the tracking server, each as the environment or the URI holds it.
const USERNAME: &str = "USERNAME_ZZ";
const PASSWORD: &str = "SECRETPW_ZZ";
const TOKEN: &str = "TOKEN_ZZ";

/// A tracking server (or a proxy in front of it) that echoes the request headers in its error
/// pages gets no credential printed: not the password, the token, `user:password` or its
/// base64 in the Basic header; the status and the rest of the page are, on one line.
#[test]
fn credentials_echoed_by_the_tracking_server_are_never_printed() {
    let dir = sample_project();
    let root = dir.path();
    let basic_sent = "VVNFUk5BTUVfWlo6U0VDUkVUUFdfWlo="; // base64("USERNAME_ZZ:SECRETPW_ZZ")
    let shown = |out: &Output| {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in [PASSWORD, TOKEN, basic_sent, "USERNAME_ZZ:SECRETPW_ZZ"] {
            assert!(!text.contains(secret), "{secret} printed:\n{text}");
        }
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let with_basic = |uri: &str, args: &[&str]| {
        command(root, Some(uri), args)
            .env("MLFLOW_TRACKING_USERNAME", USERNAME)
            .env("MLFLOW_TRACKING_PASSWORD", PASSWORD)
            .output()
            .unwrap()
    };
    let refused = echo_server(401);
    // The page echoed the request line and each header on a line of its own: all on the
    // error's one line (`fails`), the Basic header's value replaced.
    let echoed = "answered 401: rejected, you sent: GET /api/2.0/mlflow/registered-models/alias";
    let out = with_basic(&refused, &["scan", "--from-registry"]);
    let stderr = shown(&out);
    fails(out, echoed);
    assert!(
        stderr.contains("authorization: Basic <redacted> ")
            && stderr.contains(&format!("host: {}", &refused["http://".len()..])),
        "{stderr}"
    );
    // A scan that succeeds warns that its run could not be pushed, each warning one line.
    let out = with_basic(&refused, &["scan"]);
    let stderr = shown(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot push to") && stderr.contains("Basic <redacted>"),
        "{stderr}"
    );
    assert!(stderr.lines().all(|l| l.contains(" WARN ")), "{stderr}");

    // A Bearer token, and a server error (retried, then reported).
    let broken = echo_server(500);
    let out = command(root, Some(&broken), &["promote", "--rollback"])
        .env("MLFLOW_TRACKING_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stderr = shown(&out);
    fails(out, "answered 500: rejected, you sent: GET ");
    assert!(
        stderr.contains("authorization: Bearer <redacted> "),
        "{stderr}"
    );

    // Credentials in the URI go into the same Basic header.
    let in_uri = refused.replace("http://", &format!("http://{USERNAME}:{PASSWORD}@"));
    let out = momentum(root, Some(&in_uri), &["scan", "--from-registry"]);
    let stderr = shown(&out);
    fails(out, echoed);
    assert!(
        stderr.contains("authorization: Basic <redacted> "),
        "{stderr}"
    );
}
