//! `momentum runs` end to end: the real binary on a local store written in the layout before
//! `grid.parquet` (a parent with one child run per combination), then `sync` against a real
//! MLflow server (started by the tracking crate's test support); and the runs of a backtest
//! killed while it tracks.

#[path = "../../../crates/momentum-tracking/tests/it/support.rs"]
#[allow(dead_code)]
mod support;

use std::path::Path;
use std::process::{Command, Output};

use momentum_tracking::{RunSpec, Tracker};

fn momentum(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_momentum"))
        .args(args)
        .current_dir(cwd)
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_USERNAME")
        .env_remove("MLFLOW_TRACKING_PASSWORD")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .env("RUST_LOG", "warn")
        .output()
        .expect("momentum runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn list_show_compare_and_sync() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("mlruns");
    std::fs::write(dir.path().join("trades.csv"), "date,ticker\n").unwrap();
    let tracker = Tracker::local(&store).unwrap();
    let children = [(20, 0.4), (60, 1.3), (120, 0.9)]
        .iter()
        .map(|(lb, s)| {
            RunSpec::new(format!("lb{lb}"))
                .param("lookback", lb)
                .param("top_k", 5)
                .metric("train_sharpe", *s)
        })
        .collect();
    let parent = RunSpec::new("backtest")
        .param("objective", "sharpe")
        .artifact(dir.path().join("trades.csv"));
    let grid = tracker.log_grid("momentum", parent, children).unwrap();

    let list = stdout(&momentum(
        dir.path(),
        &[
            "runs",
            "list",
            "--sort",
            "train_sharpe",
            "--parent",
            &grid.parent_run_id[..10],
        ],
    ));
    let names: Vec<&str> = list
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(names, ["lb60", "lb120", "lb20"], "{list}");

    let compare = stdout(&momentum(
        dir.path(),
        &["runs", "compare", "--sort", "train_sharpe"],
    ));
    let header = compare.lines().next().unwrap();
    assert!(
        header.contains("lookback") && header.contains("train_sharpe"),
        "{compare}"
    );
    assert!(
        !header.contains("top_k"),
        "params equal in every run are left out: {compare}"
    );
    assert!(
        compare.lines().nth(1).unwrap().contains("1.3000"),
        "{compare}"
    );

    // A backtest of the layout before grid.parquet (one child run per combination, no table):
    // compare RUN compares its children.
    let old_layout = stdout(&momentum(
        dir.path(),
        &[
            "runs",
            "compare",
            &grid.parent_run_id[..8],
            "--sort",
            "train_sharpe",
        ],
    ));
    let names: Vec<&str> = old_layout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(names, ["lb60", "lb120", "lb20"], "{old_layout}");

    let filtered = stdout(&momentum(
        dir.path(),
        &[
            "runs",
            "list",
            "-f",
            "metrics.train_sharpe>0.5",
            "-f",
            "params.lookback!=60",
        ],
    ));
    assert!(
        filtered.contains("lb120") && !filtered.contains("lb60") && !filtered.contains("lb20"),
        "{filtered}"
    );

    let show = stdout(&momentum(
        dir.path(),
        &["runs", "show", &grid.parent_run_id[..8]],
    ));
    assert!(
        show.contains("objective") && show.contains("trades.csv") && show.contains("children   3"),
        "{show}"
    );

    let out = momentum(dir.path(), &["runs", "sync"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("MLFLOW_TRACKING_URI"));

    let server_dir = dir.path().join("server");
    let server = support::Server::start(&server_dir, false, false);
    let uri = server.uri.as_str();
    let dry_run = momentum(dir.path(), &["runs", "--uri", uri, "sync", "--dry-run"]);
    let dry = stdout(&dry_run);
    assert_eq!(dry.lines().count(), 4, "{dry}");
    // Listed from the store's records: the note says the server was not asked.
    assert_eq!(
        String::from_utf8_lossy(&dry_run.stderr).trim_end(),
        format!("4 of 4 local run(s) not recorded as pushed to {uri} (the server was not asked)")
    );
    let first = stdout(&momentum(dir.path(), &["runs", "--uri", uri, "sync"]));
    assert!(first.contains("pushed 4 run(s)"), "{first}");
    let second = stdout(&momentum(dir.path(), &["runs", "--uri", uri, "sync"]));
    assert!(
        second.contains("pushed 0 run(s)") && second.contains("4 already there"),
        "{second}"
    );
    let remote = stdout(&momentum(
        dir.path(),
        &[
            "runs",
            "--uri",
            uri,
            "list",
            "--remote",
            "--sort",
            "train_sharpe",
        ],
    ));
    assert_eq!(remote.lines().count(), 5, "{remote}");
    // The server's parent: its children counted from their mlflow.parentRunId tags, and the
    // short id printed usable as it is (the server takes whole ids only: it is looked up).
    let top = stdout(&momentum(
        dir.path(),
        &["runs", "--uri", uri, "list", "--remote", "--top-level"],
    ));
    let row = top.lines().nth(1).expect("the parent");
    assert_eq!(row.split_whitespace().last(), Some("3"), "{top}");
    let short_id = row.split_whitespace().next().unwrap();
    let shown = stdout(&momentum(
        dir.path(),
        &["runs", "--uri", uri, "show", "--remote", short_id],
    ));
    assert!(
        shown.contains("objective")
            && shown.contains("trades.csv")
            && shown.contains("children   3"),
        "{shown}"
    );
    let kids = stdout(&momentum(
        dir.path(),
        &[
            "runs", "--uri", uri, "list", "--remote", "--parent", short_id,
        ],
    ));
    assert_eq!(kids.lines().count(), 4, "{kids}");
    let compared = stdout(&momentum(
        dir.path(),
        &["runs", "--uri", uri, "compare", "--remote", short_id],
    ));
    assert!(compared.contains("backtest"), "{compared}");
    let out = momentum(
        dir.path(),
        &["runs", "--uri", uri, "show", "--remote", "0000000"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("run 0000000 not found in experiment"),
        "{stderr}"
    );
    let synced = stdout(&momentum(dir.path(), &["runs", "--uri", uri, "list"]));
    assert!(
        synced
            .lines()
            .skip(1)
            .all(|l| l.trim_end().ends_with("yes")),
        "{synced}"
    );
}

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

/// The server is killed while `runs sync` pushes a grid: one line on stderr naming the server
/// (as when it is down from the start), exit 1, no run blamed on its parent; once the server is
/// back, a sync pushes the rest and the server has every run once.
#[test]
fn a_server_killed_during_sync_is_one_line_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("mlruns").join("runs");
    let n = 300;
    let children = (0..n)
        .map(|i| {
            RunSpec::new(format!("c{i}"))
                .param("lookback", i)
                .metric("sharpe", f64::from(i))
        })
        .collect();
    Tracker::local(dir.path().join("mlruns"))
        .unwrap()
        .log_grid("momentum", RunSpec::new("grid"), children)
        .unwrap();
    let mut server = support::Server::start(&dir.path().join("server"), false, false);
    let uri = server.uri.clone();
    let sync = common::command(dir.path(), Some(&uri), &["runs", "sync"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Killed once the parent is recorded as pushed, while its children are being pushed.
    let started = std::time::Instant::now();
    while std::fs::read_dir(&runs)
        .unwrap()
        .filter_map(Result::ok)
        .all(|e| !e.path().join("remotes.json").exists())
    {
        assert!(started.elapsed().as_secs() < 120, "the sync pushed nothing");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    server.kill();
    let out = sync.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&uri) && stderr.contains("stopped answering"),
        "{stderr}"
    );
    assert!(!stderr.contains("its parent"), "{stderr}");

    server.restart();
    let again = common::ok(common::momentum(dir.path(), Some(&uri), &["runs", "sync"]));
    assert!(again.contains(" 0 failed"), "{again}");
    let client =
        momentum_tracking::RestClient::new(server.client_config(momentum_tracking::Auth::None))
            .unwrap();
    let remote = client
        .search_runs(&momentum_tracking::RunQuery::new("momentum"))
        .unwrap();
    assert_eq!(remote.len(), n as usize + 1, "every run once");
}

/// A tracking server whose answer never ends: `runs list --remote` fails with one line naming
/// the URL and the limit instead of growing until the allocator aborts.
#[test]
fn an_endless_server_body_is_cut_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let uri = common::endless_server();
    let out = common::momentum(dir.path(), Some(&uri), &["runs", "list", "--remote"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&uri) && stderr.contains("larger than the limit of 256 MiB"),
        "{stderr}"
    );
}

#[test]
fn text_from_the_store_reaches_the_terminal_with_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::local(dir.path().join("mlruns")).unwrap();
    let spec = RunSpec::new("evil\x1b]0;owned\x07")
        .param("lookback", "2\x1b[31m")
        .metric("sharpe", 1.0);
    let run_id = tracker.log_run("momentum", &spec, None).unwrap();

    for args in [&["runs", "list"][..], &["runs", "show", &run_id]] {
        let out = stdout(&momentum(dir.path(), args));
        assert!(!out.contains(['\x1b', '\x07']), "{args:?}: {out:?}");
        assert!(out.contains("evil\\u{1b}]0;owned\\u{7}"), "{args:?}: {out}");
    }
    let out = stdout(&momentum(dir.path(), &["runs", "show", &run_id]));
    assert!(out.contains("2\\u{1b}[31m"), "{out}");

    // A store named on the command line that is not there is refused, not read as empty (and
    // not created).
    let out = momentum(dir.path(), &["runs", "list", "--store", "mlrnus"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no run store at mlrnus (--store)"),
        "{stderr}"
    );
    assert!(!dir.path().join("mlrnus").exists());

    // A metric or param no run has, and a param ordered against a number, are refused rather
    // than shown as a column of `-` or matching nothing.
    for (args, message) in [
        (
            &["runs", "list", "--sort", "sharpee"][..],
            "error: --sort sharpee: none of the 1 run(s) has the metric \"sharpee\"",
        ),
        (
            &["runs", "compare", "--show-params", "lookbak"],
            "error: --show-params lookbak: none of the 1 run(s) has the param \"lookbak\"",
        ),
        (
            &["runs", "list", "-f", "params.lookback>60"],
            "params compare as text, so > 60 would put \"60\" before \"7\"",
        ),
    ] {
        let out = momentum(dir.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }

    // The error line too: a run id from the command line is echoed escaped, on one line.
    let out = momentum(dir.path(), &["runs", "show", "nope\x1b[2J\nmore"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("nope\\u{1b}[2J\\u{a}more"), "{stderr}");

    // A run whose run.json is corrupt is named with why, not reported missing.
    let run_file = dir
        .path()
        .join("mlruns/runs")
        .join(&run_id)
        .join("run.json");
    std::fs::write(&run_file, b"{ not json").unwrap();
    for args in [
        &["runs", "show", &run_id[..8]][..],
        &["runs", "show", &run_id],
    ] {
        let out = momentum(dir.path(), args);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.trim_end().lines().last().unwrap();
        assert!(
            last.starts_with(&format!("error: run {} cannot be read (", args[2]))
                && last.contains("run.json"),
            "{stderr}"
        );
    }
    // Listing the runs warns about the unreadable folder once, though `list` reads the store
    // twice (the runs, then their children).
    let out = momentum(dir.path(), &["runs", "list"]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("skipping run folder").count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("{run_id}/run.json")), "{stderr}");
}

/// The parent run of the backtest writing to `runs` (a run folder appears whole, the parent
/// before its children): its id and `run.json`. Polls every millisecond; panics when the
/// backtest exits first or nothing appears within two minutes.
fn parent_run(runs: &Path, backtest: &mut std::process::Child) -> (String, serde_json::Value) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        for entry in std::fs::read_dir(runs).into_iter().flatten().flatten() {
            let Ok(bytes) = std::fs::read(entry.path().join("run.json")) else {
                continue;
            };
            let meta: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            if meta["parent_run_id"].is_null() {
                return (entry.file_name().to_string_lossy().into_owned(), meta);
            }
        }
        if let Some(status) = backtest.try_wait().unwrap() {
            panic!("the backtest exited ({status}) before its parent run appeared");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no parent run within 2 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// `kill -9` of a backtest while it logs its child runs: the next command that opens the store
/// marks the parent KILLED (with an end time) and removes what the dead process staged,
/// `promote` refuses the candidate it wrote naming the status, and `runs sync` pushes the run
/// once, KILLED, and nothing the second time.
#[test]
fn a_backtest_killed_while_it_tracks_is_marked_killed_and_synced_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/sp500_prices.csv.gz");
    // 840 combinations, each a child run: writing them takes a few hundred milliseconds, long
    // enough to be caught at it, while the few lookbacks keep the backtest itself short. Its
    // winner passes promote's gates, so promote gets as far as looking for the run.
    let grid = common::grid_flags([120, 250], [20], (20..=60).step_by(2), 1..=20);
    let mut backtest = Command::new(env!("CARGO_BIN_EXE_momentum"))
        .args(["backtest", "--prices", sample.to_str().unwrap()])
        .args(["--pbo-blocks", "2", "--threads", "2", "--children", "1000"])
        .args(&grid)
        .current_dir(root)
        .env_remove("MLFLOW_TRACKING_URI")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let runs = root.join("mlruns/runs");
    let (parent, meta) = parent_run(&runs, &mut backtest);
    assert_eq!(
        meta["status"], "RUNNING",
        "the backtest finished tracking before it was caught: make the grid larger"
    );
    backtest.kill().unwrap(); // SIGKILL
    backtest.wait().unwrap();
    let run_json = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(runs.join(&parent).join("run.json")).unwrap())
            .unwrap()
    };
    let meta = run_json();
    assert_eq!(meta["status"], "RUNNING", "{meta}");
    assert_eq!(meta["owner"]["pid"], backtest.id(), "{meta}");

    let list = common::ok(common::momentum(
        root,
        None,
        &["runs", "list", "--top-level"],
    ));
    let line = list
        .lines()
        .find(|l| l.starts_with(&parent[..8]))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains(" KILLED "), "{list}");
    let meta = run_json();
    let (start, end) = (meta["start_time"].as_i64(), meta["end_time"].as_i64());
    assert!(
        end.is_some_and(|end| Some(end) >= start) && meta["owner"].is_null(),
        "{meta}"
    );
    let staged: Vec<_> = std::fs::read_dir(root.join("mlruns/.staging"))
        .unwrap()
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
    let local = std::fs::read_dir(&runs).unwrap().count();
    assert!(
        local <= 840,
        "the kill came after all 840 children were written ({local} runs)"
    );

    // The gates pass (PBO aside: this small grid's selection is not what is tested), so what
    // refuses is the run's status.
    common::fails(
        common::momentum(root, None, &["promote", "--max-pbo", "1"]),
        &format!("the backtest run {parent} that wrote this candidate is KILLED, not FINISHED"),
    );

    let server = support::Server::start(&root.join("server"), false, false);
    let uri = Some(server.uri.as_str());
    let first = common::ok(common::momentum(root, uri, &["runs", "sync"]));
    assert!(
        first.contains(&format!("pushed {local} run(s)")) && first.contains("0 failed"),
        "{first}"
    );
    let second = common::ok(common::momentum(root, uri, &["runs", "sync"]));
    assert!(
        second.contains("pushed 0 run(s)") && second.contains(&format!("{local} already there")),
        "{second}"
    );
    let remote = common::ok(common::momentum(
        root,
        uri,
        &["runs", "list", "--remote", "--top-level"],
    ));
    let parents: Vec<&str> = remote.lines().skip(1).collect();
    assert!(
        parents.len() == 1 && parents[0].contains(" KILLED "),
        "{remote}"
    );
}
