//! Integration tests against real `mlflow server` processes (MLflow 3.17.2 from the project's
//! venv, see `support`). Three test functions, four server starts: a shared server for the
//! checks that do not interfere, a basic-auth server, and one that is killed mid-grid and
//! restarted. Each function runs its checks in sequence so that `cargo nextest` (one process
//! per test) starts no more servers than `cargo test`.

mod retry;
mod support;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use momentum_tracking::{
    Auth, Cmp, DatasetInput, Filter, RestClient, RunQuery, RunSpec, RunStatus, Tracker,
    TrackingError, model::TAG_LOCAL_RUN_ID,
};
use support::{ADMIN_PASSWORD, Server};

fn tracker(dir: &std::path::Path, server: &Server) -> Tracker {
    Tracker::with_remote(dir.join("mlruns"), server.client_config(Auth::None)).unwrap()
}

fn pseudo_random_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn against_a_live_mlflow_server() {
    let server = Server::shared();
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path(), server);
    let remote = t.remote().unwrap();
    create_and_search_runs(&t, remote);
    grid_with_parent_child_links_inputs_and_artifacts(remote, dir.path());
    more_than_a_thousand_metrics_in_one_run(&t, remote);
    nan_and_infinities_round_trip(&t, remote);
    registry_versions_and_aliases(&t);
    client_side_validation(&t, remote);
    a_200_child_grid_is_logged_quickly(&t, remote);
    a_child_limit_defers_the_rest_of_a_grid_to_sync(dir.path(), server);
    let again = t.sync().unwrap();
    assert!(
        again.pushed.is_empty() && again.failed.is_empty(),
        "{again:?}"
    );
}

fn create_and_search_runs(t: &Tracker, remote: &RestClient) {
    for (name, sharpe, lookback) in [("a", 0.4, 20), ("b", 1.3, 60), ("c", 0.9, 120)] {
        let spec = RunSpec::new(name)
            .param("lookback", lookback)
            .metric("sharpe", sharpe)
            .tag("strategy", "momentum");
        t.log_run("search", &spec, None).unwrap();
    }
    let q = RunQuery::new("search")
        .filter(Filter::Metric("sharpe".into(), Cmp::Gt, 0.5))
        .filter(Filter::Tag("strategy".into(), Cmp::Eq, "momentum".into()))
        .order_by_metric("sharpe", true);
    let names =
        |runs: Vec<momentum_tracking::Run>| runs.into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(names(remote.search_runs(&q).unwrap()), ["b", "c"]);
    assert_eq!(
        names(t.search_runs(&q).unwrap()),
        ["b", "c"],
        "local and remote agree"
    );
    let q = RunQuery::new("search").filter(Filter::Param("lookback".into(), Cmp::Eq, "20".into()));
    let found = remote.search_runs(&q).unwrap();
    assert_eq!(names(found.clone()), ["a"]);
    assert_eq!(found[0].status, RunStatus::Finished);
    // `>` on a param is a string comparison on both backends ("120" < "20"); the server refuses
    // it in a filter, so the client applies it to the server's results.
    let q = RunQuery::new("search").filter(Filter::Param("lookback".into(), Cmp::Gt, "20".into()));
    assert_eq!(names(remote.search_runs(&q).unwrap()), ["b"]);
    assert_eq!(names(t.search_runs(&q).unwrap()), ["b"]);
    assert!(
        remote
            .search_runs(&RunQuery::new("no-such-experiment"))
            .unwrap()
            .is_empty()
    );
}

fn grid_with_parent_child_links_inputs_and_artifacts(remote: &RestClient, dir: &std::path::Path) {
    let params_yaml = dir.join("params.yaml");
    std::fs::write(&params_yaml, "backtest:\n  cost_bps: 10\n").unwrap();
    let blob = dir.join("equity_curve.png");
    let bytes = pseudo_random_bytes(1_500_000);
    std::fs::write(&blob, &bytes).unwrap();
    let t = Tracker::with_remote(dir.join("mlruns"), rest_config(remote))
        .unwrap()
        .with_context(momentum_tracking::RunContext {
            user: Some("quant-bot".into()),
            source_name: Some("momentum backtest".into()),
            git_commit: Some("deadbeef".into()),
        });
    let sha = "ab".repeat(32);
    let parent = RunSpec::new("backtest")
        .param("objective", "sharpe")
        .metric("test_sharpe", 0.8)
        .input(
            DatasetInput::from_sha256("prices", &sha, "data/raw/prices.parquet")
                .with_context("training"),
        )
        .artifact(&params_yaml)
        .artifact_as(&blob, "plots/equity_curve.png")
        .note("grid of **12**");
    let children: Vec<RunSpec> = (0..12)
        .map(|i| {
            RunSpec::new(format!("lb{i}"))
                .param("lookback", i)
                .metric("train_sharpe", f64::from(i) / 10.0)
        })
        .collect();
    let log = t.log_grid("grid", parent, children).unwrap();
    let report = log.remote.as_ref().expect("pushed");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.pushed.len(), 13);

    let local_parent = t.get_run(&log.parent_run_id).unwrap();
    let remote_parent_id = local_parent.remotes[remote.uri()].run_id.clone();
    assert!(local_parent.remotes[remote.uri()].complete);
    let parent = remote.get_run(&remote_parent_id).unwrap();
    assert_eq!(parent.name, "backtest");
    assert_eq!(parent.status, RunStatus::Finished);
    assert_eq!(parent.tags["mlflow.user"], "quant-bot");
    assert_eq!(parent.tags["mlflow.source.name"], "momentum backtest");
    assert_eq!(parent.tags["mlflow.source.git.commit"], "deadbeef");
    assert_eq!(parent.tags["mlflow.note.content"], "grid of **12**");
    assert_eq!(parent.tags[TAG_LOCAL_RUN_ID], log.parent_run_id);
    assert_eq!(parent.inputs.len(), 1);
    assert_eq!(parent.inputs[0].digest, &sha[..8]);
    assert_eq!(parent.inputs[0].context.as_deref(), Some("training"));

    let q = RunQuery::new("grid")
        .filter(Filter::ParentRunId(remote_parent_id.clone()))
        .order_by_metric("train_sharpe", true);
    let kids = remote.search_runs(&q).unwrap();
    assert_eq!(kids.len(), 12);
    assert_eq!(kids[0].name, "lb11");
    assert!(
        kids.iter()
            .all(|k| k.parent_run_id.as_deref() == Some(remote_parent_id.as_str()))
    );
    assert_eq!(
        remote
            .search_runs(&RunQuery::new("grid").filter(Filter::TopLevel))
            .unwrap()
            .len(),
        1
    );
    // The server takes `IS NULL` on the parent tag beside other conditions, and pages the
    // top-level runs alone.
    let top = remote
        .search_runs(
            &RunQuery::new("grid")
                .filter(Filter::TopLevel)
                .filter(Filter::Status(RunStatus::Finished))
                .limit(1),
        )
        .unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].run_id, remote_parent_id);
    // What `runs list --remote` counts and `runs show --remote PREFIX` resolves.
    assert_eq!(
        remote.child_counts("grid").unwrap(),
        BTreeMap::from([(remote_parent_id.clone(), 12)])
    );
    assert_eq!(
        remote
            .run_ids_with_prefix("grid", &remote_parent_id[..8].to_uppercase(), 2)
            .unwrap(),
        std::slice::from_ref(&remote_parent_id)
    );
    assert_eq!(remote.run_ids_with_prefix("grid", "", 2).unwrap().len(), 0);
    assert!(
        remote
            .run_ids_with_prefix("grid", "%", 2)
            .unwrap()
            .is_empty()
    );
    assert!(
        remote
            .run_ids_with_prefix("nope", "a", 2)
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        remote.list_artifacts(&remote_parent_id).unwrap(),
        ["params.yaml", "plots/equity_curve.png"]
    );
    assert_eq!(
        remote
            .download_artifact(&remote_parent_id, "plots/equity_curve.png")
            .unwrap(),
        bytes,
        "byte for byte"
    );
    assert_eq!(
        remote
            .download_artifact(&remote_parent_id, "params.yaml")
            .unwrap(),
        b"backtest:\n  cost_bps: 10\n"
    );
    let err = remote
        .download_artifact(&remote_parent_id, "nope.txt")
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    // A client that holds at most 1 MB of a response body still copies the 1.5 MB artifact
    // into a file, streamed; reading it into memory is refused. A missing artifact leaves no
    // file behind.
    let small = RestClient::new(momentum_tracking::RestConfig {
        max_body_bytes: 1 << 20,
        ..rest_config(remote)
    })
    .unwrap();
    let copy = dir.join("copy.png");
    let copied = small
        .download_artifact_to(&remote_parent_id, "plots/equity_curve.png", &copy)
        .unwrap();
    assert_eq!(copied, 1_500_000);
    assert_eq!(std::fs::read(&copy).unwrap(), bytes, "byte for byte");
    let err = small
        .download_artifact(&remote_parent_id, "plots/equity_curve.png")
        .unwrap_err();
    assert!(matches!(err, TrackingError::Body { .. }), "{err}");
    let missing = dir.join("missing.txt");
    let err = small
        .download_artifact_to(&remote_parent_id, "nope.txt", &missing)
        .unwrap_err();
    assert!(err.is_not_found() && !missing.exists(), "{err}");
    // Everything is on the server already: nothing to sync.
    assert!(t.sync().unwrap().pushed.is_empty());
}

fn rest_config(remote: &RestClient) -> momentum_tracking::RestConfig {
    momentum_tracking::RestConfig {
        auth: Auth::None,
        ..momentum_tracking::RestConfig::new(remote.uri())
    }
}

fn more_than_a_thousand_metrics_in_one_run(t: &Tracker, remote: &RestClient) {
    let mut spec = RunSpec::new("big");
    for step in 0..2500 {
        spec = spec.metric_at("equity", 1.0 + f64::from(step) / 1000.0, i64::from(step));
    }
    for i in 0..150 {
        spec = spec.param(format!("p{i:03}"), i);
    }
    for i in 0..120 {
        spec = spec.tag(format!("t{i:03}"), "x");
    }
    let id = t.log_run("big", &spec, None).unwrap();
    let rid = t.get_run(&id).unwrap().remotes[remote.uri()].run_id.clone();
    let history = remote.metric_history(&rid, "equity").unwrap();
    assert_eq!(history.len(), 2500);
    let run = remote.get_run(&rid).unwrap();
    assert_eq!(run.params.len(), 150);
    assert!(run.tags.keys().filter(|k| k.starts_with('t')).count() >= 120);
    assert_eq!(run.metric("equity"), Some(1.0 + 2499.0 / 1000.0));
}

fn nan_and_infinities_round_trip(t: &Tracker, remote: &RestClient) {
    let spec = RunSpec::new("nan")
        .metric("nan", f64::NAN)
        .metric("inf", f64::INFINITY)
        .metric("ninf", f64::NEG_INFINITY)
        .metric("x", 0.25);
    let id = t.log_run("nan", &spec, None).unwrap();
    let rid = t.get_run(&id).unwrap().remotes[remote.uri()].run_id.clone();
    let run = remote.get_run(&rid).unwrap();
    assert!(run.metric("nan").unwrap().is_nan());
    // sqlite stores +-Infinity as +-f64::MAX (mlflow.md §3).
    assert!(run.metric("inf").unwrap() >= f64::MAX);
    assert!(run.metric("ninf").unwrap() <= f64::MIN);
    assert_eq!(run.metric("x"), Some(0.25));
    assert!(
        remote.metric_history(&rid, "nan").unwrap()[0]
            .value
            .is_nan()
    );
}

fn registry_versions_and_aliases(t: &Tracker) {
    let a = t
        .log_run("registry", &RunSpec::new("a").metric("sharpe", 1.0), None)
        .unwrap();
    let b = t
        .log_run("registry", &RunSpec::new("b").metric("sharpe", 2.0), None)
        .unwrap();
    t.create_registered_model("momentum-xs").unwrap();
    t.create_registered_model("momentum-xs").unwrap(); // get-or-create
    let tags = BTreeMap::from([("lookback".to_string(), "60".to_string())]);
    let v1 = t
        .create_model_version("momentum-xs", &a, "model", "first", &tags)
        .unwrap();
    let v2 = t
        .create_model_version("momentum-xs", &b, "model", "second", &BTreeMap::new())
        .unwrap();
    assert_eq!((v1.version.as_str(), v2.version.as_str()), ("1", "2"));
    assert_eq!(v1.run_id, a, "versions report the local run id");
    assert!(v1.source.starts_with("runs:/") && v1.source.ends_with("/model"));
    assert!(
        t.get_version_by_alias("momentum-xs", "champion")
            .unwrap()
            .is_none()
    );
    t.set_alias("momentum-xs", "champion", "1").unwrap();
    t.set_alias("momentum-xs", "challenger", "2").unwrap();
    let champ = t
        .get_version_by_alias("momentum-xs", "champion")
        .unwrap()
        .unwrap();
    assert_eq!(champ.run_id, a);
    assert_eq!(champ.tags["lookback"], "60", "version tags come back");
    let listed = t.list_versions("momentum-xs").unwrap();
    assert_eq!(listed[0].tags["lookback"], "60");
    assert_eq!(listed[0].run_id, a);
    t.set_alias("momentum-xs", "champion", "2").unwrap(); // move
    let champ = t
        .get_version_by_alias("momentum-xs", "champion")
        .unwrap()
        .unwrap();
    assert_eq!(
        (champ.version.as_str(), champ.run_id.as_str()),
        ("2", b.as_str())
    );
    let versions = t.list_versions("momentum-xs").unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| v.aliases.clone())
            .collect::<Vec<_>>(),
        [
            vec![],
            vec!["challenger".to_string(), "champion".to_string()]
        ]
    );
    t.delete_alias("momentum-xs", "challenger").unwrap();
    t.delete_alias("momentum-xs", "challenger").unwrap();
    assert!(matches!(
        t.list_versions("no-such-model"),
        Err(TrackingError::ModelNotFound(_))
    ));
    assert!(matches!(
        t.get_version_by_alias("no-such-model", "champion"),
        Err(TrackingError::ModelNotFound(_))
    ));
    assert!(t.set_alias("momentum-xs", "latest", "1").is_err());
}

fn client_side_validation(t: &Tracker, remote: &RestClient) {
    let err = t
        .log_run(
            "validation",
            &RunSpec::new("long").param("blob", "x".repeat(6001)),
            None,
        )
        .unwrap_err();
    assert!(
        matches!(err, TrackingError::ValueTooLong { max: 6000, .. }),
        "{err}"
    );
    let err = t
        .log_run("validation", &RunSpec::new("bad").metric("a b?", 1.0), None)
        .unwrap_err();
    assert!(matches!(err, TrackingError::InvalidKey { .. }), "{err}");
    let err = remote
        .get_run("0000000000000000000000000000dead")
        .unwrap_err();
    assert!(matches!(err, TrackingError::RunNotFound(_)), "{err}");
}

fn a_child_limit_defers_the_rest_of_a_grid_to_sync(dir: &std::path::Path, server: &Server) {
    let t = Tracker::with_remote(dir.join("limited"), server.client_config(Auth::None))
        .unwrap()
        .with_remote_child_limit(Some(2));
    let remote = t.remote().unwrap();
    let children = (0..5)
        .map(|i| RunSpec::new(format!("k{i}")).param("lookback", i))
        .collect();
    let log = t
        .log_grid("limited", RunSpec::new("grid"), children)
        .unwrap();
    let on_server = |name: &str| {
        remote
            .search_runs(&RunQuery::new("limited"))
            .unwrap()
            .iter()
            .filter(|r| r.name.starts_with(name))
            .count()
    };
    assert_eq!((on_server("grid"), on_server("k")), (1, 2));
    assert_eq!(
        t.unsynced().unwrap().len(),
        3,
        "the deferred children wait for sync"
    );
    let report = t.sync().unwrap();
    assert_eq!(report.pushed.len(), 3, "{report:?}");
    assert_eq!((on_server("grid"), on_server("k")), (1, 5));
    let children: Vec<_> = remote
        .search_runs(&RunQuery::new("limited"))
        .unwrap()
        .into_iter()
        .filter(|r| r.name.starts_with('k'))
        .collect();
    let parent = log.remote.unwrap();
    assert!(parent.failed.is_empty());
    let parent_ids: std::collections::BTreeSet<_> =
        children.iter().map(|r| r.parent_run_id.clone()).collect();
    assert_eq!(
        parent_ids.len(),
        1,
        "every child, pushed now or later, links to the one parent"
    );
}

fn a_200_child_grid_is_logged_quickly(t: &Tracker, remote: &RestClient) {
    let children: Vec<RunSpec> = (0..200)
        .map(|i| {
            let mut s = RunSpec::new(format!("c{i}"));
            for (k, v) in [
                ("lookback", i % 7),
                ("skip", i % 3),
                ("holding", i % 5),
                ("top_k", i % 2),
            ] {
                s = s.param(k, v);
            }
            for k in [
                "train_sharpe",
                "train_roi",
                "train_mdd",
                "test_sharpe",
                "test_roi",
                "test_mdd",
            ] {
                s = s.metric(k, f64::from(i) / 100.0);
            }
            s
        })
        .collect();
    let started = Instant::now();
    let log = t.log_grid("speed", RunSpec::new("grid"), children).unwrap();
    let elapsed = started.elapsed();
    let report = log.remote.unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    eprintln!(
        "200-child grid logged (local + server) in {elapsed:.1?}: {:.1} runs/s",
        201.0 / elapsed.as_secs_f64()
    );
    assert_eq!(
        remote.search_runs(&RunQuery::new("speed")).unwrap().len(),
        201
    );
    assert!(elapsed < Duration::from_secs(120), "{elapsed:?}");
}

#[test]
fn basic_auth_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"), true, false);
    let admin = Auth::Basic {
        username: "admin".into(),
        password: ADMIN_PASSWORD.into(),
    };
    let t = Tracker::with_remote(dir.path().join("mlruns"), server.client_config(admin)).unwrap();
    let id = t
        .log_run("auth", &RunSpec::new("secured").metric("sharpe", 1.0), None)
        .unwrap();
    let run = t.get_run(&id).unwrap();
    let rid = &run.remotes[t.remote().unwrap().uri()].run_id;
    assert_eq!(
        t.remote().unwrap().get_run(rid).unwrap().metric("sharpe"),
        Some(1.0)
    );

    for auth in [
        Auth::None,
        Auth::Basic {
            username: "admin".into(),
            password: "wrong-secret".into(),
        },
        Auth::Bearer("token-secret".into()),
    ] {
        let client = RestClient::new(server.client_config(auth)).unwrap();
        let err = client.experiment_id("auth").unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                TrackingError::Api {
                    status: 401,
                    code: None,
                    ..
                }
            ),
            "{text}"
        );
        assert!(!text.contains("secret"), "no credentials in errors: {text}");
    }
    // Credentials in the URI work too and are not echoed.
    let uri = server
        .uri
        .replace("http://", &format!("http://admin:{ADMIN_PASSWORD}@"));
    let client = RestClient::new(momentum_tracking::RestConfig {
        auth: Auth::None,
        ..momentum_tracking::RestConfig::new(uri)
    })
    .unwrap();
    assert_eq!(client.uri(), server.uri);
    assert!(client.experiment_id("auth").is_ok());

    // A password with reserved characters goes in the URI percent-encoded, and is sent as it
    // is (the server knows `p@ss/w:rd%-2026`, not `p%40ss%2Fw%3Ard%25-2026`).
    let password = "p@ss/w:rd%-2026";
    let http = momentum_http::client(
        "momentum-it",
        Duration::from_secs(30),
        reqwest::redirect::Policy::none(),
    )
    .unwrap();
    let created = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let response = http
            .post(format!("{}/api/2.0/mlflow/users/create", server.uri))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .json(&serde_json::json!({"username": "bot", "password": password}))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    });
    assert_eq!(created.0, reqwest::StatusCode::OK, "{}", created.1);
    let uri = server
        .uri
        .replace("http://", "http://bot:p%40ss%2Fw%3Ard%25-2026@");
    let client = RestClient::new(momentum_tracking::RestConfig {
        auth: Auth::None,
        ..momentum_tracking::RestConfig::new(uri)
    })
    .unwrap();
    assert!(client.experiment_id("auth").is_ok());
}

/// A server that keeps artifacts outside its proxy gets no run at all from a push of runs with
/// artifacts: one error before anything is created, not one half-written, forever RUNNING run
/// per artifact upload that fails.
#[test]
fn a_server_without_the_artifact_proxy_gets_no_half_pushed_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_unproxied(&dir.path().join("server"));
    let store = dir.path().join("mlruns");
    let local = Tracker::local(&store).unwrap();
    let report = dir.path().join("report.txt");
    std::fs::write(&report, "sharpe 1.0\n").unwrap();
    let spec = RunSpec::new("with-file")
        .metric("sharpe", 1.0)
        .artifact(&report);
    local.log_run("unproxied", &spec, None).unwrap();
    drop(local);
    let t = Tracker::with_remote(&store, server.client_config(Auth::None)).unwrap();
    let err = t.sync().unwrap_err();
    assert!(
        matches!(&err, TrackingError::UnproxiedArtifacts { experiment, .. } if experiment == "unproxied"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("outside its artifact proxy: nothing was pushed"),
        "{err}"
    );
    let remote = t.remote().unwrap();
    let pushed = remote.search_runs(&RunQuery::new("unproxied")).unwrap();
    assert!(pushed.is_empty(), "{pushed:?}");
}

#[test]
fn server_killed_mid_grid_then_sync_completes_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("server"), false, false);
    let store = dir.path().join("mlruns");
    let n = 300;
    let children: Vec<RunSpec> = (0..n)
        .map(|i| {
            RunSpec::new(format!("c{i}"))
                .param("lookback", i)
                .metric("sharpe", f64::from(i))
        })
        .collect();
    let grid = {
        let t = Tracker::with_remote(&store, server.client_config(Auth::None)).unwrap();
        let store = store.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let r = t.log_grid(
                "outage",
                RunSpec::new("grid").param("objective", "sharpe"),
                children,
            );
            tx.send(()).unwrap();
            r
        });
        // Kill the server once some children have reached it.
        let started = Instant::now();
        loop {
            let pushed = std::fs::read_dir(store.join("runs"))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter(|e| e.path().join("remotes.json").exists())
                        .count()
                })
                .unwrap_or(0);
            if pushed >= 30 || rx.try_recv().is_ok() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "grid too slow to reach the server"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server.kill();
        handle
            .join()
            .unwrap()
            .expect("a dead server never fails the grid")
    };
    let report = grid.remote.as_ref().expect("the push started");
    assert!(
        !report.failed.is_empty(),
        "the server died mid-grid: {} pushed",
        report.pushed.len()
    );
    eprintln!(
        "before the kill: {} pushed, {} failed",
        report.pushed.len(),
        report.failed.len()
    );
    let t = Tracker::with_remote(&store, server.client_config(Auth::None)).unwrap();
    assert_eq!(
        t.list_runs().unwrap().runs.len(),
        n as usize + 1,
        "every run kept locally"
    );
    // A server that does not answer leaves every record as it is.
    let recorded = t
        .list_runs()
        .unwrap()
        .runs
        .iter()
        .filter(|r| r.remotes.get(&server.uri).is_some_and(|rec| rec.complete))
        .count();
    assert!(recorded > 0, "{recorded}");
    assert_eq!(t.unsynced().unwrap().len(), n as usize + 1 - recorded);

    server.restart();
    let first = t.sync().unwrap();
    assert!(first.failed.is_empty(), "{:?}", first.failed.first());
    assert_eq!(first.pushed.len() + first.up_to_date, n as usize + 1);
    let second = t.sync().unwrap();
    assert!(
        second.pushed.is_empty() && second.failed.is_empty(),
        "{second:?}"
    );
    assert_eq!(second.up_to_date, n as usize + 1);

    // A lost local record does not create a duplicate either: the run is found by its tag.
    let victim = &grid.child_run_ids[0];
    std::fs::remove_file(store.join("runs").join(victim).join("remotes.json")).unwrap();
    let third = t.sync().unwrap();
    assert_eq!(third.pushed.as_slice(), std::slice::from_ref(victim));

    let remote = t.remote().unwrap();
    let runs = remote.search_runs(&RunQuery::new("outage")).unwrap();
    assert_eq!(runs.len(), n as usize + 1, "no duplicates on the server");
    let locals: HashSet<&String> = runs.iter().map(|r| &r.tags[TAG_LOCAL_RUN_ID]).collect();
    assert_eq!(locals.len(), n as usize + 1);
    let parent_remote = &t.get_run(&grid.parent_run_id).unwrap().remotes[remote.uri()].run_id;
    let children: Vec<_> = runs.iter().filter(|r| r.parent_run_id.is_some()).collect();
    assert_eq!(children.len(), n as usize);
    assert!(children.iter().all(
        |r| r.parent_run_id.as_ref() == Some(parent_remote) && r.status == RunStatus::Finished
    ));
    let by_name: BTreeMap<&str, f64> = children
        .iter()
        .map(|r| (r.name.as_str(), r.metric("sharpe").unwrap()))
        .collect();
    assert_eq!(by_name["c7"], 7.0);

    // A new database at the same URI: every local record says "there", the server has nothing.
    // A later process (a new tracker: the client caches experiment ids) registering a version
    // pushes its run again first, so that the version's source exists; `sync` then finds the
    // records older than the server's experiment and pushes those runs again.
    server.kill();
    std::fs::remove_dir_all(dir.path().join("server")).unwrap();
    server.restart();
    let t = Tracker::with_remote(&store, server.client_config(Auth::None)).unwrap();
    let remote = t.remote().unwrap();
    assert!(
        remote
            .search_runs(&RunQuery::new("outage"))
            .unwrap()
            .is_empty()
    );
    t.create_registered_model("outage-model").unwrap();
    let version = t
        .create_model_version(
            "outage-model",
            &grid.parent_run_id,
            "model",
            "",
            &BTreeMap::new(),
        )
        .unwrap();
    assert_eq!(version.run_id, grid.parent_run_id);
    let parent_remote = t.get_run(&grid.parent_run_id).unwrap().remotes[remote.uri()]
        .run_id
        .clone();
    assert!(remote.get_run(&parent_remote).is_ok());
    // The children's records are older than the new server's experiment: pushed again, the
    // parent (just pushed) not.
    assert_eq!(t.unsynced().unwrap().len(), n as usize);
    let fourth = t.sync().unwrap();
    assert!(fourth.failed.is_empty(), "{:?}", fourth.failed.first());
    assert_eq!(fourth.pushed.len(), n as usize);
    let runs = remote.search_runs(&RunQuery::new("outage")).unwrap();
    assert_eq!(
        runs.len(),
        n as usize + 1,
        "no duplicates on the new server"
    );
    assert!(
        runs.iter()
            .filter(|r| r.parent_run_id.is_some())
            .all(|r| r.parent_run_id.as_ref() == Some(&parent_remote))
    );
    assert!(t.sync().unwrap().pushed.is_empty());
}
