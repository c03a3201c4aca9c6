//! Retry and error behaviour of the REST client against a scripted HTTP server (wiremock).

use std::time::Duration;

use momentum_tracking::{
    Auth, RestClient, RestConfig, RetryPolicy, RunSpec, Tracker, TrackingError,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(uri: &str) -> RestConfig {
    RestConfig {
        auth: Auth::Bearer("tok".into()),
        retry: RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retry_after: Duration::from_millis(5),
        },
        ..RestConfig::new(uri)
    }
}

fn get_by_name_ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(serde_json::json!({"experiment": {"experiment_id": "7", "name": "e"}}))
}

#[test]
fn transient_errors_are_retried_and_creates_are_not_duplicated() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        Mock::given(method("GET"))
            .and(path("/api/2.0/mlflow/experiments/get-by-name"))
            .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/2.0/mlflow/experiments/get-by-name"))
            .respond_with(get_by_name_ok())
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/2.0/mlflow/runs/search"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/2.0/mlflow/runs/create"))
            .respond_with(ResponseTemplate::new(500).set_body_string("internal error"))
            .mount(&server)
            .await;
    });
    let client = RestClient::new(config(&server.uri())).unwrap();
    assert_eq!(
        client.experiment_id("e").unwrap(),
        "7",
        "two 503s, then 200"
    );

    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::with_remote(dir.path(), config(&server.uri())).unwrap();
    let id = tracker
        .log_run("e", &RunSpec::new("r").metric("m", 1.0), None)
        .unwrap();
    assert!(
        tracker.get_run(&id).unwrap().remotes.is_empty(),
        "kept locally, unsynced"
    );
    let requests = rt.block_on(server.received_requests()).unwrap();
    let creates = requests
        .iter()
        .filter(|r| r.url.path().ends_with("runs/create"))
        .count();
    assert_eq!(
        creates, 1,
        "a 500 on runs/create is not retried (the run may exist)"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("authorization").unwrap() == "Bearer tok")
    );

    let report = tracker.sync().unwrap();
    let (_, err) = &report.failed[0];
    assert!(
        matches!(err, TrackingError::Api { status: 500, code: None, message, .. } if message == "internal error"),
        "{err}"
    );
}

#[test]
fn a_server_that_is_down_costs_a_warning_not_a_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let tracker =
        Tracker::with_remote(dir.path(), config(&format!("http://127.0.0.1:{port}"))).unwrap();
    let children = (0..5).map(|i| RunSpec::new(format!("c{i}"))).collect();
    let grid = tracker.log_grid("e", RunSpec::new("p"), children).unwrap();
    assert!(grid.remote.is_none());
    assert_eq!(tracker.unsynced().unwrap().len(), 6);
    let err = tracker.sync().unwrap_err();
    assert!(matches!(err, TrackingError::Http { .. }), "{err}");
    // The URL once (the request's own error leaves it out), and the cause.
    let shown = err.chain();
    assert_eq!(
        shown.matches(&format!("127.0.0.1:{port}")).count(),
        1,
        "{shown}"
    );
    assert!(shown.contains("Connection refused"), "{shown}");
}

/// A scripted server for a sync: the experiment is there, none of its runs is, and
/// `runs/create` answers `create`.
fn sync_server(rt: &tokio::runtime::Runtime, create: ResponseTemplate) -> MockServer {
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        Mock::given(method("GET"))
            .and(path("/api/2.0/mlflow/experiments/get-by-name"))
            .respond_with(get_by_name_ok())
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/2.0/mlflow/runs/search"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/2.0/mlflow/runs/create"))
            .respond_with(create)
            .mount(&server)
            .await;
    });
    server
}

/// The server stops answering while the parent of a grid is created: its children are not
/// pushed because the server is down, not "because their parent is not on the server" (the
/// sync's one cause is the server), and every run stays unsynced for the next sync.
#[test]
fn children_of_a_parent_lost_to_an_outage_blame_the_server() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // No answer within the client's timeout, as from a server killed mid-request.
    let server = sync_server(
        &rt,
        ResponseTemplate::new(200).set_delay(Duration::from_secs(5)),
    );
    let dir = tempfile::tempdir().unwrap();
    let children = (0..5).map(|i| RunSpec::new(format!("c{i}"))).collect();
    Tracker::local(dir.path())
        .unwrap()
        .log_grid("e", RunSpec::new("p"), children)
        .unwrap();
    let tracker = Tracker::with_remote(
        dir.path(),
        RestConfig {
            timeout: Duration::from_millis(300),
            ..config(&server.uri())
        },
    )
    .unwrap();
    let report = tracker.sync().unwrap();
    assert!(report.pushed.is_empty(), "{report:?}");
    assert_eq!(report.failed.len(), 6, "{report:?}");
    assert!(
        report.failed.iter().all(|(_, e)| e.is_unreachable()),
        "{:?}",
        report.failed
    );
    assert!(
        matches!(report.outage(), Some(TrackingError::Http { .. })),
        "{report:?}"
    );
    assert_eq!(tracker.unsynced().unwrap().len(), 6, "nothing lost");
}

/// The server refuses the parent of a grid (a 400, not an outage): the parent is named with the
/// server's error, and its children are counted against it once instead of a line each.
#[test]
fn children_of_a_refused_parent_are_counted_against_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = sync_server(
        &rt,
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error_code": "INVALID_PARAMETER_VALUE",
            "message": "refused"
        })),
    );
    let dir = tempfile::tempdir().unwrap();
    let children = (0..5).map(|i| RunSpec::new(format!("c{i}"))).collect();
    let grid = Tracker::local(dir.path())
        .unwrap()
        .log_grid("e", RunSpec::new("p"), children)
        .unwrap();
    let tracker = Tracker::with_remote(dir.path(), config(&server.uri())).unwrap();
    let report = tracker.sync().unwrap();
    assert!(report.outage().is_none(), "{report:?}");
    assert_eq!(report.failed.len(), 6, "{report:?}");
    let refused: Vec<&String> = report
        .failed
        .iter()
        .filter(|(_, e)| matches!(e, TrackingError::Api { status: 400, .. }))
        .map(|(run, _)| run)
        .collect();
    assert_eq!(refused, [&grid.parent_run_id]);
    assert_eq!(
        report.orphans().into_iter().collect::<Vec<_>>(),
        [(grid.parent_run_id.as_str(), 5)]
    );
}
