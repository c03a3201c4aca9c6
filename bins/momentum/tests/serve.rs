//! `momentum serve` as a client sees it: the real binary on 127.0.0.1 (`--port 0`), spoken to
//! with reqwest (and a raw socket where a request must stay in flight). Expected numbers are
//! computed here by hand or read from the files `momentum scan` and `momentum monitor` wrote,
//! never from the server's own code.

// The shared helpers; this file uses some of them.
#[allow(dead_code)]
mod common;

#[path = "../../../crates/momentum-tracking/tests/it/support.rs"]
#[allow(dead_code)]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{command, momentum, ok};
use momentum_features::PricePanel;
use serde_json::{Value, json};

/// A running `momentum serve`, killed when dropped.
struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    base: String,
}

impl Server {
    /// Starts `momentum serve --port 0 ARGS` in `dir` and waits for its `listening on` line.
    fn start(dir: &Path, args: &[&str]) -> Self {
        Self::tracking_to(dir, None, args)
    }

    /// [`Server::start`] with `MLFLOW_TRACKING_URI` set to `uri` when given.
    fn tracking_to(dir: &Path, uri: Option<&str>, args: &[&str]) -> Self {
        Self::spawn(dir, uri, args, Stdio::inherit())
    }

    /// [`Server::tracking_to`] with the server's stderr sent to `stderr`.
    fn spawn(dir: &Path, uri: Option<&str>, args: &[&str], stderr: Stdio) -> Self {
        let mut argv = vec!["serve", "--port", "0"];
        argv.extend(args);
        let mut child = command(dir, uri, &argv)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("momentum serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("no `listening on` line: {line:?}"))
            .to_owned();
        Self { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn addr(&self) -> &str {
        self.base.strip_prefix("http://").unwrap()
    }

    /// Waits for the process to exit, at most `bound` (then panics): its status and how long
    /// it took.
    fn exit_within(&mut self, bound: Duration) -> (ExitStatus, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, start.elapsed());
            }
            assert!(start.elapsed() < bound, "still running after {bound:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    momentum_http::client(
        "momentum-serve-tests",
        Duration::from_secs(30),
        reqwest::redirect::Policy::none(),
    )
    .unwrap()
}

/// A three-ticker model (lookback 2, skip 0) whose scores on [`TINY_CSV`] are easy by hand.
fn tiny_params(version: &str, top_k: usize) -> String {
    format!(
        "production:\n  version: '{version}'\n  lookback: 2\n  skip: 0\n  holding: 5\n  top_k: {top_k}\n  \
         cost_bps: 10.0\n  tickers: [AAA, BBB, CCC]\n  promoted_at: '2026-12-01T00:00:00Z'\n"
    )
}

/// On the last day: AAA 12 / 10 - 1 = 0.2, BBB 18 / 20 - 1 = -0.1, CCC 33 / 30 - 1 = 0.1.
const TINY_CSV: &str =
    "Date,AAA,BBB,CCC\n2024-01-02,10,20,30\n2024-01-03,11,19,\n2024-01-04,12,18,33\n";

fn tiny_dir(version: &str, top_k: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("params.yaml"), tiny_params(version, top_k)).unwrap();
    dir
}

async fn post_csv(client: &reqwest::Client, server: &Server, body: &str) -> (u16, Value) {
    post(client, server, "text/csv", body.to_owned()).await
}

/// The value of `series` (name and labels, as exported) in a `/metrics` text.
fn metric(text: &str, series: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[series.len() + 1..].parse().unwrap()
}

/// `POST /invocations` of `body` as `content_type`: the status and the JSON answer.
async fn post(
    client: &reqwest::Client,
    server: &Server,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let response = client
        .post(server.url("/invocations"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn get_json(client: &reqwest::Client, server: &Server, path: &str) -> (u16, Value) {
    let response = client.get(server.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn get_text(client: &reqwest::Client, server: &Server, path: &str) -> String {
    let response = client.get(server.url(path)).send().await.unwrap();
    response.text().await.unwrap()
}

/// Polls `check` every 20 ms for up to 10 s.
async fn eventually(what: &str, check: impl AsyncFnMut() -> bool) {
    eventually_within(Duration::from_secs(10), what, check).await;
}

/// Polls `check` every 20 ms for up to `bound`.
async fn eventually_within(bound: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < bound {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

fn selected(predictions: &Value) -> Vec<String> {
    predictions["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["selected"] == json!(true))
        .map(|p| p["ticker"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn invocations_score_a_tiny_table_as_computed_by_hand() {
    let dir = tiny_dir("7", 2);
    let server = Server::start(dir.path(), &[]);
    let client = client();
    let (status, answer) = post_csv(&client, &server, TINY_CSV).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"predictions": [
            {"ticker": "AAA", "score": 12.0 / 10.0 - 1.0, "rank": 1, "selected": true, "eligible": true},
            {"ticker": "CCC", "score": 33.0 / 30.0 - 1.0, "rank": 2, "selected": true, "eligible": true},
            {"ticker": "BBB", "score": 18.0 / 20.0 - 1.0, "rank": 3, "selected": false, "eligible": true},
        ]})
    );
    // MLflow's dataframe_split, columns in another order, one day later: AAA 11 / 11 - 1 and
    // BBB 19 / 19 - 1 tie at 0, and a tie goes to the ticker listed first in the model's
    // universe (AAA), whatever the columns' order; CCC has no close two days back.
    let split = json!({"dataframe_split": {
        "columns": ["CCC", "BBB", "AAA"],
        "index": ["2024-01-03", "2024-01-04", "2024-01-05"],
        "data": [[null, 19.0, 11.0], [33.0, 18.0, 12.0], [34.0, 19.0, 11.0]],
    }});
    let response = client
        .post(server.url("/invocations"))
        .json(&split)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"predictions": [
            {"ticker": "AAA", "score": 0.0, "rank": 1, "selected": true, "eligible": true},
            {"ticker": "BBB", "score": 0.0, "rank": 2, "selected": true, "eligible": true},
            {"ticker": "CCC", "score": null, "rank": null, "selected": false, "eligible": false},
        ]})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn client_errors_are_4xx_with_an_error_code_and_a_message() {
    let dir = tiny_dir("1", 1);
    let server = Server::start(dir.path(), &["--max-body-bytes", "200"]);
    let client = client();
    let send = |content_type: Option<&'static str>, body: String| {
        let mut request = client.post(server.url("/invocations")).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (
                status,
                body["error_code"].as_str().unwrap().to_owned(),
                body["message"].as_str().unwrap().to_owned(),
            )
        }
    };
    // A compressed body is refused by its encoding, not parsed as text.
    let gzipped = client
        .post(server.url("/invocations"))
        .header("content-type", "text/csv")
        .header("content-encoding", "gzip")
        .body(TINY_CSV)
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.status(), 415);
    let body: Value = gzipped.json().await.unwrap();
    assert_eq!(
        body["message"],
        "content encoding `gzip` is not supported: send the body uncompressed"
    );
    let csv = Some("text/csv");
    let cases = [
        (
            send(Some("text/plain"), TINY_CSV.into()).await,
            415,
            "BAD_REQUEST",
            "content type `text/plain` is not supported",
        ),
        (
            send(None, TINY_CSV.into()).await,
            415,
            "BAD_REQUEST",
            "content type `` is not supported",
        ),
        (
            send(
                csv,
                format!("{TINY_CSV}{}", "2024-01-05,1,1,1\n".repeat(20)),
            )
            .await,
            413,
            "REQUEST_LIMIT_EXCEEDED",
            "the body is larger than serve.max_body_bytes",
        ),
        (
            send(Some("application/json"), "{\"dataframe_split\":".into()).await,
            400,
            "BAD_REQUEST",
            "invalid JSON body: EOF",
        ),
        (
            send(
                csv,
                "Date,AAA,BBB,CCC\n2024-01-02,1,1,1\n2024-01-03,1,1,1\n".into(),
            )
            .await,
            400,
            "INVALID_PARAMETER_VALUE",
            "2024-01-03: only 2 days of prices",
        ),
        (
            send(
                csv,
                "Date,AAA,BBB,CCC\n2024-01-03,1,1,1\n2024-01-02,1,1,1\n2024-01-04,1,1,1\n".into(),
            )
            .await,
            400,
            "INVALID_PARAMETER_VALUE",
            "dates must ascend",
        ),
        (
            send(
                csv,
                "Date,AAA,BBB,CCC\n2024-01-02,1,1,1\n2024-01-02,1,1,1\n2024-01-04,1,1,1\n".into(),
            )
            .await,
            400,
            "INVALID_PARAMETER_VALUE",
            "the request: date 2024-01-02 is on two lines (2 and 3)",
        ),
        (
            send(
                csv,
                "Date,AAA,BBB,CCC\n2024-01-02,1,1,1\n2024-01-03,1,0,1\n2024-01-04,1,1,1\n".into(),
            )
            .await,
            400,
            "INVALID_PARAMETER_VALUE",
            "the request: BBB on 2024-01-03: close is 0, prices must be > 0",
        ),
        (
            send(csv, "Date,AAA,BBB,CCC\n2024-01-02,1,1,inf\n".into()).await,
            400,
            "INVALID_PARAMETER_VALUE",
            "the request: CCC on 2024-01-02: close is inf, which is not a valid close",
        ),
        (
            send(csv, "Date,AAA,BBB,ZZZ\n2024-01-02,1,1,1\n".into()).await,
            400,
            "INVALID_PARAMETER_VALUE",
            "tickers ZZZ are not in the model's universe",
        ),
        (
            send(csv, "Date,AAA,BBB,CCC\n2024-01-02,1,1\n".into()).await,
            400,
            "BAD_REQUEST",
            "the request: CSV error: record 1 (line: 2, byte: 17): found record with 3 fields",
        ),
        (
            send(
                Some("application/json"),
                json!({"dataframe_split": {
                    "columns": ["AAA", "BBB", "CCC"],
                    "index": ["2024-01-02", "2024-01-03"],
                    "data": [[1, 1, 1], [1, true, 1]],
                }})
                .to_string(),
            )
            .await,
            400,
            "BAD_REQUEST",
            "invalid JSON body at dataframe_split.data[1][1]: invalid type: boolean `true`, \
             expected f64",
        ),
        // A score no answer can state (it used to be ranked first and shown as `null`).
        (
            send(
                csv,
                "Date,AAA,BBB,CCC\n2024-01-02,1e-300,1,1\n2024-01-03,1,1,1\n2024-01-04,1e300,1,1\n"
                    .into(),
            )
            .await,
            400,
            "INVALID_PARAMETER_VALUE",
            "ticker AAA on 2024-01-04: its score 1e300 / 1e-300 - 1 overflows a float",
        ),
        // One ticker's bars are not a universe (a 500 before the layout had its error).
        (
            send(csv, "Date,Open,Close\n2024-01-02,1,1\n".into()).await,
            400,
            "BAD_REQUEST",
            "the request: column `Close` is a field of a bar, not a ticker",
        ),
    ];
    for (i, ((status, code, message), want_status, want_code, want_message)) in
        cases.into_iter().enumerate()
    {
        assert_eq!(
            (status, code.as_str()),
            (want_status, want_code),
            "case {i}: {message}"
        );
        assert!(message.starts_with(want_message), "case {i}: {message}");
    }
    // The JSON cell's date and ticker end the message.
    let (.., message) = send(
        Some("application/json"),
        r#"{"dataframe_split": {"columns": ["AAA", "BBB"], "index": ["2024-01-02", "2024-01-03"], "data": [[1, 1], [1, "x"]]}}"#.into(),
    )
    .await;
    assert!(message.ends_with(" (BBB on 2024-01-03)"), "{message}");
    let (status, body) = get_json(&client, &server, "/nowhere").await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("RESOURCE_DOES_NOT_EXIST"))
    );
    let (status, body) =
        get_json(&client, &server, "/v1/picks?date=2024-01-02&dat=2024-01-03").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `dat`"),
        "{body}"
    );
    let response = client.post(server.url("/ping")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error_code"],
        "BAD_REQUEST"
    );
    let (status, body) = get_json(&client, &server, "/v1/picks?date=2024-13-01").await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            400,
            Some("date `2024-13-01` is not an ISO date (YYYY-MM-DD)")
        )
    );
    let (status, body) = get_json(&client, &server, "/v1/picks/latest").await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("RESOURCE_DOES_NOT_EXIST"))
    );
}

/// The request series' labels are bounded: a 404 is `route="other"`, an invented method is
/// `method="other"`; a JSON content type with parameters is still JSON.
#[tokio::test(flavor = "multi_thread")]
async fn request_labels_are_bounded_and_a_charset_is_accepted() {
    let dir = tiny_dir("1", 1);
    let server = Server::start(dir.path(), &[]);
    let client = client();
    let split = json!({"dataframe_split": {
        "columns": ["AAA", "BBB", "CCC"],
        "index": ["2024-01-02", "2024-01-03", "2024-01-04"],
        "data": [[10, 20, 30], [11, 19, null], [12, 18, 33]],
    }});
    let json_utf8 = "application/json; charset=utf-8";
    let (status, answer) = post(&client, &server, json_utf8, split.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(selected(&answer), ["AAA"]);
    for path in ["/nowhere", "/wp-login.php", "/v1/picks/nowhere"] {
        assert_eq!(get_json(&client, &server, path).await.0, 404, "{path}");
    }
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    let response = client
        .request(brew, server.url("/invocations"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let text = get_text(&client, &server, "/metrics").await;
    for line in [
        r#"momentum_http_requests_total{method="POST",route="/invocations",status="200"} 1"#,
        r#"momentum_http_requests_total{method="GET",route="other",status="404"} 3"#,
        r#"momentum_http_requests_total{method="other",route="/invocations",status="405"} 1"#,
    ] {
        assert!(
            text.contains(&format!("\n{line}\n")),
            "{line} not in\n{text}"
        );
    }
    assert!(
        !text.contains("nowhere") && !text.contains("BREW"),
        "{text}"
    );
}

/// A body slower than `--body-timeout-seconds` is answered 408; a `Content-Length` above the
/// limit is answered 413 before any of the body is sent.
#[test]
fn a_slow_or_too_large_body_is_refused_without_waiting_for_it() {
    let dir = tiny_dir("1", 1);
    let server = Server::start(
        dir.path(),
        &["--body-timeout-seconds", "1", "--max-body-bytes", "1000"],
    );
    let exchange = |length: usize, sent: &[u8]| {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let head = format!(
            "POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: text/csv\r\n\
             Content-Length: {length}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(sent).unwrap();
        let start = Instant::now();
        let mut response = [0; 512];
        let n = stream.read(&mut response).unwrap();
        (
            String::from_utf8_lossy(&response[..n]).into_owned(),
            start.elapsed(),
        )
    };
    let (response, waited) = exchange(TINY_CSV.len(), &TINY_CSV.as_bytes()[..20]);
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    assert!(
        response.contains("the body did not arrive within serve.body_timeout_seconds (1 s)"),
        "{response}"
    );
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    let (response, waited) = exchange(1_000_000, b"");
    assert!(response.starts_with("HTTP/1.1 413 "), "{response}");
    assert!(waited < Duration::from_secs(1), "{waited:?}");
}

/// The monitor's report of the served model is exported as it is; a report of another
/// version is not this model's, and every monitor series is then NaN.
#[tokio::test(flavor = "multi_thread")]
async fn the_monitor_report_of_the_served_model_is_exported() {
    let dir = tiny_dir("7", 1);
    // Worked out by hand, independently of the monitor:
    // - PSI of train-window bins [0.5, 0.5] against live bins [0.8, 0.2]:
    //   (0.8 - 0.5) ln(0.8 / 0.5) + (0.2 - 0.5) ln(0.2 / 0.5) = 0.3 ln 1.6 + 0.3 ln 2.5;
    // - the KS p-value of {1, 2, 3} against {4, 5, 6} (D = 1): two of the C(6, 3) = 20
    //   splits are as extreme, p = 2 / 20 = 0.1;
    // - two live periods returning +10 % and -5 % (buy and hold +2 %, +3 %): realised mean
    //   (0.10 - 0.05) / 2 = 0.025, equity 1.10 x 0.95 = 1.045 (1.02 x 1.03 = 1.0506), against
    //   a promised mean of 0.04; the PSI breaches its 0.25, so retraining is recommended.
    let report = |version: &str| {
        format!(
            r#"{{"as_of": "2024-03-01", "model_version": "{version}",
  "params": {{"lookback": 2, "skip": 0, "holding": 5, "top_k": 1}},
  "live": [
    {{"as_of": "2024-01-04", "exit": "2024-01-11", "tickers": ["AAA"], "basket_return": 0.10, "baseline_return": 0.02}},
    {{"as_of": "2024-01-11", "exit": "2024-01-18", "tickers": ["CCC"], "basket_return": -0.05, "baseline_return": 0.03}}
  ],
  "live_mean_return": 0.025, "live_baseline_mean_return": 0.025,
  "promised_periods": 40, "promised_mean_return": 0.04, "promised_sharpe": 0.5,
  "checks": [
    {{"name": "psi", "value": 0.4158883083359672, "threshold": 0.25, "breached": true, "detail": "bins"}},
    {{"name": "ks", "value": 0.1, "threshold": 0.05, "breached": false, "detail": "D = 1"}},
    {{"name": "mean_return", "value": null, "threshold": 0.05, "breached": false, "detail": "too few periods"}}
  ],
  "retrain_recommended": true, "reasons": ["psi"]}}"#
        )
    };
    let path = dir.path().join("reports/monitor.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, report("7")).unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = client();
    let text = get_text(&client, &server, "/metrics").await;
    let value = |series: &str| metric(&text, series);
    let close = |series: &str, want: f64| {
        let got = value(series);
        assert!(
            (got - want).abs() < 1e-12,
            "{series}: {got}, expected {want}"
        );
    };
    close(
        r#"momentum_monitor_check_value{check="psi"}"#,
        0.3 * 1.6_f64.ln() + 0.3 * 2.5_f64.ln(),
    );
    close(r#"momentum_monitor_check_threshold{check="psi"}"#, 0.25);
    close(r#"momentum_monitor_check_breached{check="psi"}"#, 1.0);
    close(r#"momentum_monitor_check_value{check="ks"}"#, 2.0 / 20.0);
    close(r#"momentum_monitor_check_breached{check="ks"}"#, 0.0);
    assert!(value(r#"momentum_monitor_check_value{check="mean_return"}"#).is_nan());
    close("momentum_monitor_retrain_recommended", 1.0);
    close("momentum_monitor_live_mean_return", (0.10 - 0.05) / 2.0);
    close("momentum_monitor_promised_mean_return", 0.04);
    close("momentum_monitor_live_periods", 2.0);
    close(r#"momentum_live_equity{series="picks"}"#, 1.045);
    close(r#"momentum_live_equity{series="buy_and_hold"}"#, 1.0506);
    close("momentum_monitor_model_matches", 1.0);

    // The monitor last ran on version 6: nothing of it is exported for version 7.
    std::fs::write(&path, report("6")).unwrap();
    let text = get_text(&client, &server, "/metrics").await;
    assert!(
        text.contains("\nmomentum_monitor_model_matches 0\n"),
        "{text}"
    );
    for series in [
        r#"momentum_monitor_check_value{check="psi"}"#,
        r#"momentum_monitor_check_breached{check="psi"}"#,
        "momentum_monitor_retrain_recommended",
        "momentum_monitor_live_mean_return",
        "momentum_monitor_live_periods",
        r#"momentum_live_equity{series="picks"}"#,
    ] {
        assert!(
            text.contains(&format!("\n{series} NaN\n")),
            "{series} in\n{text}"
        );
    }
}

/// The sample end to end: `/invocations` on the cached prices up to a day selects exactly the
/// tickers `momentum scan --as-of` that day selects, with the same scores; the other endpoints
/// read the same files.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_picks_what_scan_picks_on_the_sample_and_serves_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("params.yaml"),
        include_str!("../../../params.yaml"),
    )
    .unwrap();
    ok(momentum(root, None, &["fetch"]));
    let table = momentum_data::read_parquet(&root.join("data/raw/prices.parquet")).unwrap();
    let panel = PricePanel::from_table(&table).unwrap();
    let n = panel.n_days();
    let days = [n - 501, n - 1];
    for &t in &days {
        let as_of = panel.dates()[t].to_string();
        ok(momentum(root, None, &["scan", "--as-of", &as_of]));
    }
    ok(momentum(root, None, &["monitor"]));
    let server = Server::start(root, &[]);
    let client = client();

    for (k, &t) in days.iter().enumerate() {
        let as_of = panel.dates()[t].to_string();
        ok(momentum(
            root,
            None,
            &["scan", "--as-of", &as_of, "--out", "reports/again.json"],
        ));
        let scanned: Value =
            serde_json::from_slice(&std::fs::read(root.join("reports/again.json")).unwrap())
                .unwrap();
        // 300 rows up to the day: more than the lookback (250) needs.
        let rows = t - 299..=t;
        let close = |r: usize, i: usize| {
            let price = panel.price(r, i);
            price.is_finite().then_some(price)
        };
        let (content_type, body) = if k == 0 {
            let split = json!({"dataframe_split": {
                "columns": panel.tickers(),
                "index": rows.clone().map(|r| panel.dates()[r].to_string()).collect::<Vec<_>>(),
                "data": rows.clone().map(|r| (0..panel.n_tickers()).map(|i| close(r, i)).collect::<Vec<_>>()).collect::<Vec<_>>(),
            }});
            ("application/json", split.to_string())
        } else {
            let mut csv = format!("Date,{}\n", panel.tickers().join(","));
            for r in rows {
                let cells: Vec<String> = (0..panel.n_tickers())
                    .map(|i| close(r, i).map(|c| c.to_string()).unwrap_or_default())
                    .collect();
                csv.push_str(&format!("{},{}\n", panel.dates()[r], cells.join(",")));
            }
            ("text/csv", csv)
        };
        let (status, answer) = post(&client, &server, content_type, body).await;
        assert_eq!(status, 200);
        let scan_selected: Vec<&str> = scanned["picks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["selected"] == json!(true))
            .map(|p| p["ticker"].as_str().unwrap())
            .collect();
        assert_eq!(scan_selected.len(), 5);
        assert_eq!(selected(&answer), scan_selected, "as of {as_of}");
        let (predictions, picks) = (
            answer["predictions"].as_array().unwrap(),
            scanned["picks"].as_array().unwrap(),
        );
        assert_eq!(predictions.len(), picks.len(), "as of {as_of}");
        assert_eq!(predictions.len(), 20, "as of {as_of}");
        for (prediction, pick) in predictions.iter().zip(picks) {
            assert_eq!(
                (
                    &prediction["ticker"],
                    &prediction["score"],
                    &prediction["rank"]
                ),
                (&pick["ticker"], &pick["score"], &pick["rank"]),
                "as of {as_of}"
            );
        }
        let (status, stored) = get_json(&client, &server, &format!("/v1/picks?date={as_of}")).await;
        assert_eq!(status, 200);
        assert_eq!(stored["picks"], scanned["picks"]);
    }

    let (status, latest) = get_json(&client, &server, "/v1/picks/latest").await;
    assert_eq!(status, 200);
    assert_eq!(latest["as_of"], json!(panel.dates()[n - 1].to_string()));
    let (status, model) = get_json(&client, &server, "/v1/model").await;
    assert_eq!(status, 200);
    // params.yaml's production block.
    assert_eq!(model["alias"], "champion");
    assert_eq!(model["source"], "params");
    assert_eq!(model["version"], "1");
    assert_eq!(model["promoted_at"], "2026-11-27T09:05:36Z");
    assert_eq!(
        model["data_digest"],
        "e982afe2945c8139110ba15a057c8131d25487570fc609b7592dd3c8099108aa"
    );
    assert_eq!(
        model["params"],
        json!({"lookback": 250, "skip": 10, "holding": 60, "top_k": 5, "cost_bps": 10.0})
    );
    assert_eq!(model["tickers"].as_array().unwrap().len(), 20);
    for path in ["/ping", "/health"] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let version = get_text(&client, &server, "/version").await;
    assert_eq!(version, env!("CARGO_PKG_VERSION"));

    // The metrics: requests so far, the model, and what the files hold.
    let text = get_text(&client, &server, "/metrics").await;
    let value = |series: &str| metric(&text, series);
    assert_eq!(
        value(r#"momentum_http_requests_total{method="POST",route="/invocations",status="200"}"#),
        2.0
    );
    assert_eq!(
        value(r#"momentum_http_requests_total{method="GET",route="/v1/picks",status="200"}"#),
        2.0
    );
    assert_eq!(
        value(
            r#"momentum_http_request_duration_seconds_count{method="GET",route="/ping",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            r#"momentum_model_info{alias="champion",holding="60",lookback="250",skip="10",source="params",top_k="5",version="1"}"#
        ),
        1.0
    );
    assert_eq!(value("momentum_model_loaded"), 1.0);
    assert_eq!(value("momentum_picks_selected"), 5.0);
    assert_eq!(value("momentum_picks_history_scans"), 2.0);
    assert_eq!(value("momentum_price_max_age_seconds"), 7.0 * 86_400.0);
    // `momentum monitor` monitored the served version: its report is exported (its values
    // are checked on a hand-made report in `the_monitor_report_of_the_served_model_is_exported`).
    assert_eq!(value("momentum_monitor_model_matches"), 1.0);
    // The newest sample price is 2022-12-30 at the latest: years old.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(root.join("data/raw/prices.manifest.json")).unwrap())
            .unwrap();
    let end: chrono::NaiveDate = manifest["end"].as_str().unwrap().parse().unwrap();
    let expected =
        (chrono::Utc::now() - end.and_hms_opt(0, 0, 0).unwrap().and_utc()).num_seconds() as f64;
    assert!((value("momentum_price_age_seconds") - expected).abs() < 60.0);
    // The newest scan is as of the last sample day: its age is that day's, not the file's.
    let newest = panel.dates()[n - 1].and_hms_opt(0, 0, 0).unwrap().and_utc();
    let expected = (chrono::Utc::now() - newest).num_seconds() as f64;
    assert!((value("momentum_scan_age_seconds") - expected).abs() < 60.0);
    // A ticker's rank is its own series, not a label of its score.
    let latest_picks = latest["picks"].as_array().unwrap();
    let first = latest_picks.iter().find(|p| p["rank"] == 1).unwrap();
    let ticker = first["ticker"].as_str().unwrap();
    assert_eq!(
        value(&format!(r#"momentum_pick_rank{{ticker="{ticker}"}}"#)),
        1.0
    );
    assert_eq!(
        value(&format!(r#"momentum_pick_score{{ticker="{ticker}"}}"#)),
        first["score"].as_f64().unwrap()
    );

    // Every metric the Grafana dashboard and the alert rules query is one this server exports.
    let families: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .flat_map(|l| {
            let (name, kind) = l.split_once(' ').unwrap();
            let suffixes: &[&str] = if kind == "histogram" {
                &["", "_bucket", "_sum", "_count"]
            } else {
                &[""]
            };
            suffixes.iter().map(move |s| format!("{name}{s}"))
        })
        .collect();
    let dashboard: Value = serde_json::from_str(include_str!(
        "../../../docker/grafana/dashboards/momentum.json"
    ))
    .unwrap();
    let datasources =
        include_str!("../../../docker/grafana/provisioning/datasources/prometheus.yaml");
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10);
    for panel in panels {
        let title = panel["title"].as_str().unwrap();
        let uid = panel["datasource"]["uid"].as_str().unwrap();
        assert!(
            datasources.contains(&format!("uid: {uid}\n")),
            "{title}: datasource {uid} is not provisioned"
        );
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}");
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{title}: {expr}");
            for name in names {
                assert!(families.contains(name), "{title}: {name} is not exported");
            }
        }
    }
    let rules = include_str!("../../../docker/prometheus/rules.yml");
    let rule_exprs: Vec<&str> = rules.split("expr:").skip(1).collect();
    assert_eq!(rule_exprs.len(), 7);
    for expr in rule_exprs {
        // The expression runs to the next key (`for:`).
        let expr = expr.split("for:").next().unwrap();
        for name in metric_names(expr) {
            assert!(families.contains(name), "rules.yml: {name} is not exported");
        }
    }
}

/// The `momentum_*` metric names a PromQL expression reads.
fn metric_names(expr: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("momentum_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(&tail[..end]);
        rest = &tail[end..];
    }
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_model_the_server_answers_503_until_one_is_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let params = dir.path().join("params.yaml");
    std::fs::write(&params, "serve:\n  poll_ms: 20\n").unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = client();
    for path in ["/ping", "/health", "/v1/model"] {
        let (status, body) = get_json(&client, &server, path).await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (503, Some("TEMPORARILY_UNAVAILABLE")),
            "{path}"
        );
    }
    let (status, body) = post_csv(&client, &server, TINY_CSV).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (503, Some("TEMPORARILY_UNAVAILABLE"))
    );
    let text = get_text(&client, &server, "/metrics").await;
    assert!(text.contains("\nmomentum_model_loaded 0\n"), "{text}");

    std::fs::write(
        &params,
        format!("serve:\n  poll_ms: 20\n{}", tiny_params("1", 1)),
    )
    .unwrap();
    eventually("the promoted model", async || {
        client
            .get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
    })
    .await;
    let (status, answer) = post_csv(&client, &server, TINY_CSV).await;
    assert_eq!((status, selected(&answer)), (200, vec!["AAA".to_string()]));
}

/// `--alias challenger` serves the challenger block; its picks are the challenger's scans.
#[tokio::test(flavor = "multi_thread")]
async fn the_challenger_can_be_served_instead() {
    let dir = tempfile::tempdir().unwrap();
    let challenger = tiny_params("5", 2).replace("production:", "challenger:");
    let params = format!("{}{challenger}", tiny_params("4", 1));
    std::fs::write(dir.path().join("params.yaml"), params).unwrap();
    let server = Server::start(dir.path(), &["--alias", "challenger"]);
    let client = client();
    let (status, model) = get_json(&client, &server, "/v1/model").await;
    assert_eq!(status, 200);
    assert_eq!(
        (model["alias"].as_str(), model["version"].as_str()),
        (Some("challenger"), Some("5"))
    );
    let (status, answer) = post_csv(&client, &server, TINY_CSV).await;
    assert_eq!(
        (status, selected(&answer)),
        (200, vec!["AAA".to_string(), "CCC".to_string()])
    );
    let text = get_text(&client, &server, "/metrics").await;
    assert!(text.contains(r#"momentum_model_info{alias="challenger",holding="5",lookback="2",skip="0",source="params",top_k="2",version="5"} 1"#), "{text}");

    // Without a challenger, the 503 names what gives it one.
    let alone = tempfile::tempdir().unwrap();
    std::fs::write(alone.path().join("params.yaml"), tiny_params("4", 1)).unwrap();
    let server = Server::start(alone.path(), &["--alias", "challenger"]);
    let (status, body) = post_csv(&client, &server, TINY_CSV).await;
    assert_eq!(status, 503);
    assert_eq!(
        body["message"].as_str().unwrap(),
        "no model is loaded: params.yaml has no challenger block (run `momentum promote --alias \
         challenger`)"
    );
}

/// The registered model of `params.yaml`'s default `tracking.model_name`.
const MODEL_NAME: &str = "momentum-xs";

/// Registers a version of [`MODEL_NAME`] holding the tiny universe's best `top_k` (lookback
/// 2, holding 5) and moves the `champion` alias to it: its version.
fn register_champion(registry: &momentum_tracking::RestClient, top_k: usize) -> String {
    use momentum_engine::StrategyParams;
    use momentum_scanner::Model;
    use momentum_scanner::model::{Registration, Stage};

    let model = Model {
        params: StrategyParams {
            lookback: 2,
            skip: 0,
            holding: 5,
            top_k,
            cost_bps: 10.0,
        },
        universe: vec!["AAA".into(), "BBB".into(), "CCC".into()],
        data_digest: None,
        stage: Stage::Registered(Registration {
            version: "0".into(),
            promoted_at: "2026-12-01T00:00:00Z".into(),
        }),
    };
    let tags = model.registry_tags(None).unwrap();
    // No run: a source outside the server's artifacts (MLflow ties those to a run).
    let source = format!("s3://momentum/models/top{top_k}");
    let version = registry
        .create_model_version(MODEL_NAME, "", &source, "", &tags)
        .unwrap()
        .version;
    registry
        .set_alias(MODEL_NAME, "champion", &version)
        .unwrap();
    version
}

/// A registry that is down when the server starts: the params block is served (with one
/// warning) until the registry answers, then the registry's champion.
#[test]
fn a_registry_down_at_start_serves_the_params_block_until_it_answers() {
    use momentum_tracking::{Auth, RestClient};

    let dir = tiny_dir("1", 1);
    let mut params = std::fs::read_to_string(dir.path().join("params.yaml")).unwrap();
    params.push_str("serve:\n  poll_ms: 50\n");
    std::fs::write(dir.path().join("params.yaml"), params).unwrap();
    let mut mlflow = support::Server::start(&dir.path().join("mlflow"), false, true);
    let registry = RestClient::new(mlflow.client_config(Auth::None)).unwrap();
    registry.create_registered_model(MODEL_NAME).unwrap();
    assert_eq!(register_champion(&registry, 2), "1");
    mlflow.kill();

    let log = dir.path().join("serve.log");
    let server = Server::spawn(
        dir.path(),
        Some(&mlflow.uri),
        &[],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = client();
    runtime.block_on(async {
        let (status, model) = get_json(&client, &server, "/v1/model").await;
        assert_eq!(status, 200, "{model}");
        assert_eq!(
            (model["source"].as_str(), model["params"]["top_k"].as_u64()),
            (Some("params"), Some(1))
        );
        let (_, answer) = post_csv(&client, &server, TINY_CSV).await;
        assert_eq!(selected(&answer), ["AAA"]);
    });
    mlflow.restart();
    runtime.block_on(async {
        // A poll may be in the middle of its retries against the server that was down.
        eventually_within(
            Duration::from_secs(30),
            "the registry's model",
            async || get_json(&client, &server, "/v1/model").await.1["source"] == "registry",
        )
        .await;
        let (_, model) = get_json(&client, &server, "/v1/model").await;
        assert_eq!(model["params"]["top_k"], 2);
        let (_, answer) = post_csv(&client, &server, TINY_CSV).await;
        assert_eq!(selected(&answer), ["AAA", "CCC"]);
    });
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        log.matches("the registry cannot be reached").count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("serving the champion block of params.yaml until it answers"),
        "{log}"
    );
}

/// With a tracking server the registry's `champion` is served, and followed when it moves;
/// params.yaml has no production block (a deployment that serves from the registry alone).
#[test]
fn with_a_tracking_server_the_champion_alias_is_served_and_followed() {
    use momentum_tracking::{Auth, RestClient};

    let mlflow = support::Server::shared();
    let registry = RestClient::new(mlflow.client_config(Auth::None)).unwrap();
    registry.create_registered_model(MODEL_NAME).unwrap();
    let register = |top_k: usize| register_champion(&registry, top_k);
    let first = register(1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("params.yaml"), "serve:\n  poll_ms: 50\n").unwrap();
    let server = Server::tracking_to(dir.path(), Some(&mlflow.uri), &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = client();
    runtime.block_on(async {
        let (status, model) = get_json(&client, &server, "/v1/model").await;
        assert_eq!(status, 200, "{model}");
        assert_eq!(
            (model["source"].as_str(), model["version"].as_str()),
            (Some("registry"), Some(first.as_str()))
        );
        let (_, answer) = post_csv(&client, &server, TINY_CSV).await;
        assert_eq!(selected(&answer), ["AAA"]);
    });
    // A promotion moves the alias: the server follows without a restart.
    let second = register(2);
    runtime.block_on(async {
        eventually("the moved alias", async || {
            get_json(&client, &server, "/v1/model").await.1["version"] == second.as_str()
        })
        .await;
        let (_, answer) = post_csv(&client, &server, TINY_CSV).await;
        assert_eq!(selected(&answer), ["AAA", "CCC"]);
    });
}

/// Requests keep coming while params.yaml is rewritten (in place, so some polls read it half
/// written): none fails, each `/v1/model` answer is one whole model, and the server ends on
/// the last one.
#[tokio::test(flavor = "multi_thread")]
async fn the_model_reloads_on_a_file_change_without_a_failed_request() {
    let dir = tiny_dir("1", 1);
    let params = dir.path().join("params.yaml");
    let server = std::sync::Arc::new(Server::start(dir.path(), &["--poll-ms", "10"]));
    let client = client();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (client, server, stop) = (client.clone(), server.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut seen = std::collections::BTreeSet::new();
            let mut requests = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, answer) = post_csv(&client, &server, TINY_CSV).await;
                assert_eq!(status, 200, "{answer}");
                seen.insert(selected(&answer).len());
                let (status, model) = get_json(&client, &server, "/v1/model").await;
                assert_eq!(status, 200, "{model}");
                let pair = (
                    model["version"].as_str().unwrap().to_owned(),
                    model["params"]["top_k"].as_u64().unwrap(),
                );
                assert!(
                    pair == ("1".into(), 1) || pair == ("2".into(), 2),
                    "{pair:?}"
                );
                requests += 2;
            }
            (requests, seen)
        }));
    }
    for round in 0..20 {
        let (version, top_k) = if round % 2 == 0 { ("2", 2) } else { ("1", 1) };
        std::fs::write(&params, tiny_params(version, top_k)).unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    std::fs::write(&params, tiny_params("2", 2)).unwrap();
    eventually("version 2", async || {
        get_json(&client, &server, "/v1/model").await.1["version"] == "2"
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    let mut seen = std::collections::BTreeSet::new();
    for worker in workers {
        let (requests, sizes) = worker.await.unwrap();
        total += requests;
        seen.extend(sizes);
    }
    assert!(total > 40, "only {total} requests");
    assert!(seen.is_subset(&[1, 2].into()), "{seen:?}");
    let text = get_text(&client, &server, "/metrics").await;
    assert!(!text.contains(r#"status="5"#), "{text}");
}

/// `SIGHUP` reloads at once; a malformed file keeps the served model and counts an error.
#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_at_once_and_a_bad_file_keeps_the_model() {
    let dir = tiny_dir("1", 1);
    let params = dir.path().join("params.yaml");
    let server = Server::start(dir.path(), &["--poll-ms", "3600000"]);
    let client = client();
    let metrics = async || get_text(&client, &server, "/metrics").await;
    std::fs::write(&params, "production:\n  top_kk: 2\n").unwrap();
    server.signal("HUP");
    eventually("the failed reload", async || {
        metrics()
            .await
            .contains("momentum_model_reloads_total{outcome=\"error\"} 1\n")
    })
    .await;
    let (status, answer) = post_csv(&client, &server, TINY_CSV).await;
    assert_eq!((status, selected(&answer)), (200, vec!["AAA".to_string()]));
    assert_eq!(
        get_json(&client, &server, "/v1/model").await.1["version"],
        "1"
    );

    std::fs::write(&params, tiny_params("2", 2)).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        get_json(&client, &server, "/v1/model").await.1["version"],
        "1"
    );
    server.signal("HUP");
    eventually("version 2 after SIGHUP", async || {
        get_json(&client, &server, "/v1/model").await.1["version"] == "2"
    })
    .await;
    assert!(
        metrics()
            .await
            .contains("momentum_model_reloads_total{outcome=\"ok\"} 1\n")
    );
    let (status, answer) = post_csv(&client, &server, TINY_CSV).await;
    assert_eq!(
        (status, selected(&answer)),
        (200, vec!["AAA".to_string(), "CCC".to_string()])
    );
}

/// A params file that loses the model's block keeps the model served: truncated, left half
/// written longer than a reload waits for a file to settle, then written whole, it never
/// unloads it (each poll meanwhile is a failed reload); a block gone for good unloads it after a
/// second, and the 503 names the file.
#[tokio::test(flavor = "multi_thread")]
async fn a_params_file_losing_the_block_keeps_the_model_until_it_stays_so() {
    let dir = tiny_dir("1", 1);
    let params = dir.path().join("params.yaml");
    let server = Server::start(dir.path(), &["--poll-ms", "10"]);
    let client = client();
    // Truncated, then its first half (the blocks before `production`) written.
    std::fs::File::create(&params).unwrap();
    std::fs::write(&params, "serve:\n  port: 0\n").unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(400) {
        let (status, answer) = post_csv(&client, &server, TINY_CSV).await;
        assert_eq!(status, 200, "{answer}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    std::fs::write(&params, tiny_params("2", 2)).unwrap();
    eventually("version 2", async || {
        get_json(&client, &server, "/v1/model").await.1["version"] == "2"
    })
    .await;
    let text = get_text(&client, &server, "/metrics").await;
    assert!(
        !text.contains("momentum_model_reloads_total{outcome=\"error\"} 0\n"),
        "{text}"
    );
    assert!(text.contains("\nmomentum_model_loaded 1\n"), "{text}");

    std::fs::write(&params, "# the model was withdrawn\n").unwrap();
    let gone = Instant::now();
    eventually("the withdrawn model", async || {
        let health = client.get(server.url("/health")).send().await.unwrap();
        health.status() == 503
    })
    .await;
    assert!(
        gone.elapsed() >= Duration::from_secs(1),
        "{:?}",
        gone.elapsed()
    );
    let (status, body) = post_csv(&client, &server, TINY_CSV).await;
    assert_eq!(status, 503);
    assert_eq!(
        body["message"].as_str().unwrap(),
        "no model is loaded: params.yaml has no production block (run `momentum promote`)"
    );
}

/// A connection to `addr` with a request whose head and first 20 bytes of body (of
/// [`TINY_CSV`]) are sent: a request in flight.
fn body_under_way(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
        TINY_CSV.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&TINY_CSV.as_bytes()[..20]).unwrap();
    stream
}

/// A request whose body is still arriving when SIGTERM comes is answered; then the process
/// exits 0.
#[test]
fn sigterm_drains_the_requests_in_flight_and_exits_0() {
    let dir = tiny_dir("1", 1);
    let mut server = Server::start(dir.path(), &[]);
    let mut stream = body_under_way(server.addr());
    std::thread::sleep(Duration::from_millis(300));
    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    // Draining: the listener is closed, a new connection is refused.
    let refused = TcpStream::connect(server.addr()).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    stream.write_all(&TINY_CSV.as_bytes()[20..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response
            .contains(r#"{"ticker":"AAA","score":0.19999999999999996,"rank":1,"selected":true"#),
        "{response}"
    );
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// A request whose body is still arriving when the drain time runs out: the process exits 1
/// and says so.
#[test]
fn a_request_outliving_the_drain_exits_1() {
    let dir = tiny_dir("1", 1);
    let mut server = Server::spawn(dir.path(), None, &["--drain-seconds", "1"], Stdio::piped());
    // Held open to the end: the request stays in flight.
    let _in_flight = body_under_way(server.addr());
    std::thread::sleep(Duration::from_millis(300));
    server.signal("TERM");
    let (status, waited) = server.exit_within(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    assert!(waited >= Duration::from_millis(800), "{waited:?}");
    let mut stderr = String::new();
    let mut pipe = server.child.stderr.take().unwrap();
    pipe.read_to_string(&mut stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "error: {}: in-flight requests still running after 1 s of draining",
            server.addr()
        )),
        "{stderr}"
    );
}

/// The start of a request head: a client that sends this and then nothing.
const PARTIAL_HEAD: &[u8] = b"POST /invocations HTTP/1.1\r\nHost: test\r\n";

/// A connection to `server` that has sent `sent`, reads time out after 20 s.
fn connection(server: &Server, sent: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(sent).unwrap();
    stream
}

/// Reads `stream` until the server closes it: what the server sent before (a read timing out
/// is a connection the server kept open, and fails the test).
fn until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(err) => panic!("the connection was not closed: {err}"),
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A connection that sends part of a request head, or nothing, is closed after
/// `--header-timeout-seconds` (without an answer, or with a 408), and a request on another
/// connection is answered meanwhile.
#[test]
fn a_partial_or_missing_request_head_is_disconnected_after_the_header_timeout() {
    let dir = tiny_dir("1", 1);
    let server = Server::start(dir.path(), &["--header-timeout-seconds", "1"]);
    let start = Instant::now();
    let mut partial = connection(&server, PARTIAL_HEAD);
    let mut silent = connection(&server, b"");
    let mut other = connection(
        &server,
        b"GET /version HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    );
    let response = until_closed(&mut other);
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with(env!("CARGO_PKG_VERSION")), "{response}");
    for stream in [&mut partial, &mut silent] {
        let answer = until_closed(stream);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408 "),
            "{answer}"
        );
    }
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
}

/// At SIGTERM the connections without a request in flight (one still sending its head, one
/// that sent nothing, one kept alive after its answer) do not hold the stop: the process exits
/// 0 well before the drain time, and before the (default, 10 s) header timeout.
#[test]
fn sigterm_with_only_idle_or_partial_connections_exits_0_at_once() {
    let dir = tiny_dir("1", 1);
    let mut server = Server::start(dir.path(), &["--drain-seconds", "5"]);
    let _partial = connection(&server, PARTIAL_HEAD);
    let _silent = connection(&server, b"");
    let mut kept = connection(&server, b"GET /version HTTP/1.1\r\nHost: test\r\n\r\n");
    let mut response = Vec::new();
    let mut buffer = [0; 512];
    while !response.ends_with(env!("CARGO_PKG_VERSION").as_bytes()) {
        let n = kept.read(&mut buffer).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&response));
        response.extend_from_slice(&buffer[..n]);
    }
    assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"));
    std::thread::sleep(Duration::from_millis(300));
    server.signal("TERM");
    let (status, waited) = server.exit_within(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert!(waited < Duration::from_secs(4), "{waited:?}");
}

#[test]
fn help_names_every_endpoint_and_flag() {
    let dir = tempfile::tempdir().unwrap();
    let help = ok(momentum(dir.path(), None, &["serve", "--help"]));
    for needle in [
        "/ping",
        "/health",
        "/version",
        "/invocations",
        "/v1/model",
        "/v1/picks/latest",
        "/v1/picks?date=",
        "/metrics",
        "--host",
        "--port",
        "--alias",
        "--max-body-bytes",
        "--poll-ms",
        "--drain-seconds",
        "--monitor-report",
        "--header-timeout-seconds",
        "--request-timeout-seconds",
        "--body-timeout-seconds",
        "--max-concurrency",
        "SIGHUP",
        "SIGTERM",
        "serve.max_body_bytes",
    ] {
        assert!(help.contains(needle), "{needle} missing from\n{help}");
    }
    common::fails(
        momentum(dir.path(), None, &["serve", "--poll-ms", "1"]),
        "invalid --poll-ms 1: must be at least 10",
    );
    common::fails(
        momentum(dir.path(), None, &["serve", "--drain-seconds", "0"]),
        "invalid --drain-seconds 0: must be at least 1",
    );
    common::fails(
        momentum(
            dir.path(),
            None,
            &["serve", "--header-timeout-seconds", "0"],
        ),
        "invalid --header-timeout-seconds 0: must be at least 1",
    );
}

/// A picks history that cannot be read exports no count and no selection (NaN: unknown), and
/// a scan age no alert reads as fresh.
#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_picks_history_is_unknown_in_the_metrics() {
    let dir = tiny_dir("1", 1);
    let history = dir.path().join("data/predictions/picks.parquet");
    std::fs::create_dir_all(history.parent().unwrap()).unwrap();
    std::fs::write(&history, b"garbage").unwrap();
    let server = Server::start(dir.path(), &[]);
    let text = get_text(&client(), &server, "/metrics").await;
    assert!(metric(&text, "momentum_picks_history_scans").is_nan());
    assert!(metric(&text, "momentum_picks_selected").is_nan());
    assert_eq!(metric(&text, "momentum_scan_age_seconds"), f64::INFINITY);
}
