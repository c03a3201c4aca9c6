//! The Financial Datasets client against a wiremock server on 127.0.0.1 serving the recorded
//! response shapes in `tests/data/fd-fixtures/`.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use momentum_data::{ClientConfig, DataError, FetchRequest, FinancialDatasetsClient};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "fd-test-key-5f3c9a";
const PAGE1: &str = include_str!("../data/fd-fixtures/prices_paginated_page1.json");
const PAGE2: &str = include_str!("../data/fd-fixtures/prices_paginated_page2.json");
const SINGLE: &str = include_str!("../data/fd-fixtures/prices_single_page.json");
const EMPTY: &str = include_str!("../data/fd-fixtures/prices_empty.json");
const E401: &str = include_str!("../data/fd-fixtures/error_401_missing_api_key.json");
const E429: &str = include_str!("../data/fd-fixtures/error_429_throttled.json");
const CURSOR: &str = "eyJ2IjoxLCJlcCI6InByaWNlcyIsImFmdGVyIjoxNzQxNTc5MjAwMDAwfQ.Zq3kT0pXwR8s";

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn config(server: &MockServer) -> ClientConfig {
    ClientConfig {
        base_url: server.uri(),
        timeout: Duration::from_millis(500),
        max_retries: 2,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
        requests_per_minute: 60_000,
        concurrency: 2,
        max_pages: 10,
        ..ClientConfig::new(KEY)
    }
}

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// Captures every log line (all levels) of the current thread; the tests run on tokio's
/// current-thread runtime, so spawned fetch tasks log into it too.
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || SharedWriter(writer.clone()))
            .finish();
        (Self(buffer), tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_no_key(err: &DataError, logs: &Logs) {
    let shown = format!("{err} | {err:?} | {}", logs.text());
    assert!(!shown.contains(KEY), "the API key leaked: {shown}");
}

async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.expect("recording is on")
}

#[tokio::test]
async fn follows_next_page_url_verbatim_across_a_dst_change() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    let page1 = PAGE1.replace("https://api.financialdatasets.ai", &server.uri());
    Mock::given(method("GET"))
        .and(path("/prices/"))
        .and(query_param("ticker", "MSFT"))
        .and(query_param("interval", "day"))
        .and(query_param("interval_multiplier", "1"))
        .and(query_param("start_date", "2025-03-03"))
        .and(query_param("end_date", "2025-03-14"))
        .and(header("x-api-key", KEY))
        .respond_with(json(200, &page1))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/prices"))
        .and(query_param("cursor", CURSOR))
        .and(header("x-api-key", KEY))
        .respond_with(json(200, PAGE2))
        .expect(1)
        .mount(&server)
        .await;

    let client = FinancialDatasetsClient::new(config(&server)).unwrap();
    let rows = client
        .fetch_prices("MSFT", d("2025-03-03"), d("2025-03-14"))
        .await
        .unwrap();

    // From the fixtures by hand: six bars on page 1 (the last one, 2025-03-10T04:00:00Z, is
    // midnight EDT after the 9 March switch), four on page 2.
    let dates: Vec<String> = rows.iter().map(|r| r.date.to_string()).collect();
    assert_eq!(
        dates,
        [
            "2025-03-03",
            "2025-03-04",
            "2025-03-05",
            "2025-03-06",
            "2025-03-07",
            "2025-03-10",
            "2025-03-11",
            "2025-03-12",
            "2025-03-13",
            "2025-03-14"
        ]
    );
    let closes: Vec<f64> = rows.iter().map(|r| r.close).collect();
    assert_eq!(
        closes,
        [
            388.49, 388.61, 401.02, 396.89, 393.31, 380.16, 380.45, 383.27, 378.77, 388.56
        ]
    );
    assert_eq!(rows[0].open, Some(398.82));
    assert_eq!(rows[0].volume, Some(27_021_547.0));
    assert!(rows.iter().all(|r| r.ticker == "MSFT"));

    let seen = requests(&server).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].url.path(), "/prices");
    assert_eq!(
        seen[1].url.query(),
        Some(format!("cursor={CURSOR}").as_str())
    );
    assert!(!logs.text().contains(KEY));
}

#[tokio::test]
async fn throttled_then_ok_honours_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/prices/"))
        .respond_with(json(429, E429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/prices/"))
        .respond_with(json(200, SINGLE))
        .mount(&server)
        .await;

    let client = FinancialDatasetsClient::new(config(&server)).unwrap();
    let started = Instant::now();
    let rows = client
        .fetch_prices("AAPL", d("2025-06-02"), d("2025-06-06"))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 2);
    // prices_single_page.json: five bars, the last with integral prices (`"close": 203`).
    let closes: Vec<f64> = rows.iter().map(|r| r.close).collect();
    assert_eq!(closes, [201.7, 203.27, 202.82, 200.63, 203.0]);
    assert_eq!(rows[4].date, d("2025-06-06"));
    assert_eq!(rows[4].open, Some(203.0));
}

#[tokio::test]
async fn server_errors_are_retried_until_the_cap() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    Mock::given(path("/prices/"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .mount(&server)
        .await;
    let client = FinancialDatasetsClient::new(config(&server)).unwrap();
    let err = client
        .fetch_prices("AAPL", d("2025-06-02"), d("2025-06-06"))
        .await
        .unwrap_err();
    // max_retries = 2: the first attempt and two retries.
    assert_eq!(requests(&server).await.len(), 3);
    match &err {
        DataError::RetriesExhausted {
            ticker,
            attempts,
            last,
        } => {
            assert_eq!((ticker.as_str(), *attempts), ("AAPL", 3));
            assert!(last.contains("HTTP 503: upstream unavailable"), "{last}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(logs.text().contains("retrying"), "retries are logged");
    assert_no_key(&err, &logs);
}

async fn fatal(status: u16, body: &str) -> (DataError, usize, Logs) {
    let (logs, guard) = Logs::capture();
    let server = MockServer::start().await;
    Mock::given(path("/prices/"))
        .respond_with(json(status, body))
        .mount(&server)
        .await;
    let client = FinancialDatasetsClient::new(config(&server)).unwrap();
    let err = client
        .fetch_prices("NOPE", d("2025-06-02"), d("2025-06-06"))
        .await
        .unwrap_err();
    let count = requests(&server).await.len();
    drop(guard);
    (err, count, logs)
}

#[tokio::test]
async fn client_errors_fail_at_once_with_the_api_message() {
    let cases = [
        (
            401,
            E401,
            "financialdatasets: NOPE: HTTP 401: Missing API key: Please include an X-API-KEY from https://financialdatasets.ai in your request header.",
        ),
        (
            402,
            r#"{"error": "Insufficient credits", "message": "Your current balance is $0.00. Please add more credits to continue using the API."}"#,
            "financialdatasets: NOPE: HTTP 402: Insufficient credits: Your current balance is $0.00. Please add more credits to continue using the API.",
        ),
        (
            400,
            r#"{"error":"Invalid TICKER","message":"Please provide a valid TICKER."}"#,
            "financialdatasets: NOPE: HTTP 400: Invalid TICKER: Please provide a valid TICKER.",
        ),
    ];
    for (status, body, expected) in cases {
        let (err, count, logs) = fatal(status, body).await;
        assert!(
            matches!(err, DataError::Api { status: s, .. } if s == status),
            "{err:?}"
        );
        assert_eq!(err.to_string(), expected);
        assert_eq!(count, 1, "HTTP {status} must not be retried");
        assert_no_key(&err, &logs);
    }
}

#[tokio::test]
async fn malformed_json_is_an_error_without_retry() {
    let (err, count, logs) = fatal(200, r#"{"ticker": "NOPE", "prices": [{"close": 1,"#).await;
    assert!(matches!(err, DataError::Malformed { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("financialdatasets: NOPE: malformed response: invalid JSON")
    );
    assert_eq!(count, 1);
    assert_no_key(&err, &logs);
}

#[tokio::test]
async fn not_found_and_an_empty_page_mean_no_data() {
    let server = MockServer::start().await;
    Mock::given(path("/prices/"))
        .and(query_param("ticker", "GONE"))
        .respond_with(json(
            404,
            r#"{"error":"Not Found","message":"Ticker GONE not found"}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(path("/prices/"))
        .and(query_param("ticker", "AAPL"))
        .respond_with(json(200, EMPTY))
        .mount(&server)
        .await;
    let client = FinancialDatasetsClient::new(config(&server)).unwrap();
    assert!(
        client
            .fetch_prices("GONE", d("2025-06-07"), d("2025-06-08"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        client
            .fetch_prices("AAPL", d("2025-06-07"), d("2025-06-08"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(requests(&server).await.len(), 2, "404 is not retried");
}

#[tokio::test]
async fn a_404_on_a_later_page_ends_the_walk_and_keeps_the_rows() {
    let server = MockServer::start().await;
    let page1 = PAGE1.replace("https://api.financialdatasets.ai", &server.uri());
    Mock::given(path("/prices/"))
        .respond_with(json(200, &page1))
        .mount(&server)
        .await;
    Mock::given(path("/prices"))
        .respond_with(json(404, "{}"))
        .mount(&server)
        .await;
    let client = FinancialDatasetsClient::new(config(&server)).unwrap();
    let rows = client
        .fetch_prices("MSFT", d("2025-03-03"), d("2025-03-14"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 6, "the six bars of page 1");
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_is_retried_then_reported() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    Mock::given(path("/prices/"))
        .respond_with(json(200, SINGLE).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.timeout = Duration::from_millis(200);
    config.max_retries = 1;
    let client = FinancialDatasetsClient::new(config).unwrap();
    let started = Instant::now();
    let err = client
        .fetch_prices("AAPL", d("2025-06-02"), d("2025-06-06"))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout cut the wait"
    );
    assert!(
        matches!(err, DataError::RetriesExhausted { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("timed out after 200ms"), "{err}");
    assert_eq!(requests(&server).await.len(), 2);
    assert_no_key(&err, &logs);
}

/// Nothing listening: retried, then reported with the cause ("Connection refused"), which
/// reqwest's own message leaves out ("error sending request").
#[tokio::test]
async fn a_refused_connection_is_retried_then_reported_with_its_cause() {
    let (logs, _guard) = Logs::capture();
    // A port that was free a moment ago: bound, read, released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = ClientConfig {
        base_url: format!("http://127.0.0.1:{port}"),
        timeout: Duration::from_millis(500),
        max_retries: 1,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
        requests_per_minute: 60_000,
        ..ClientConfig::new(KEY)
    };
    let client = FinancialDatasetsClient::new(config).unwrap();
    let err = client
        .fetch_prices("AAPL", d("2025-06-02"), d("2025-06-06"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DataError::RetriesExhausted { attempts: 2, .. }),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(shown.contains("Connection refused"), "{shown}");
    assert_eq!(shown.lines().count(), 1, "{shown}");
    assert!(
        logs.text().contains("Connection refused"),
        "{}",
        logs.text()
    );
    assert_no_key(&err, &logs);
}

#[tokio::test]
async fn a_next_page_url_that_repeats_is_stopped() {
    let server = MockServer::start().await;
    let looping = PAGE1.replace("https://api.financialdatasets.ai", &server.uri());
    Mock::given(path("/prices/"))
        .respond_with(json(200, &looping))
        .mount(&server)
        .await;
    Mock::given(path("/prices"))
        .respond_with(json(200, &looping))
        .mount(&server)
        .await;
    let client = FinancialDatasetsClient::new(config(&server)).unwrap();
    let err = client
        .fetch_prices("MSFT", d("2025-03-03"), d("2025-03-14"))
        .await
        .unwrap_err();
    assert!(matches!(err, DataError::Pagination { .. }), "{err:?}");
    // page 1, the cursor page (which names itself again), then the guard trips.
    assert_eq!(requests(&server).await.len(), 2);
}

/// The key goes to the configured base URL's origin only (here another server on loopback, a
/// different port): a page link there stops the fetch, and so does a redirect (reqwest would
/// carry `X-API-KEY` along), before anything is sent to it.
#[tokio::test]
async fn the_key_is_not_sent_to_another_host() {
    let (logs, _guard) = Logs::capture();
    for redirect in [false, true] {
        let server = MockServer::start().await;
        let elsewhere = MockServer::start().await;
        let first = if redirect {
            let target = format!("{}/prices", elsewhere.uri());
            ResponseTemplate::new(302).insert_header("Location", target.as_str())
        } else {
            json(
                200,
                &PAGE1.replace("https://api.financialdatasets.ai", &elsewhere.uri()),
            )
        };
        Mock::given(path("/prices/"))
            .respond_with(first)
            .mount(&server)
            .await;
        // Followed, either link would end the walk here with a valid last page.
        Mock::given(path("/prices"))
            .respond_with(json(200, PAGE2))
            .mount(&elsewhere)
            .await;
        let client = FinancialDatasetsClient::new(config(&server)).unwrap();
        let err = client
            .fetch_prices("MSFT", d("2025-03-03"), d("2025-03-14"))
            .await
            .unwrap_err();
        if redirect {
            assert!(matches!(err, DataError::Api { status: 302, .. }), "{err:?}");
        } else {
            assert!(matches!(err, DataError::Pagination { .. }), "{err:?}");
            assert!(err.to_string().contains(&elsewhere.uri()), "{err}");
        }
        assert!(err.to_string().contains("MSFT"), "{err}");
        assert!(requests(&elsewhere).await.is_empty());
        assert_no_key(&err, &logs);
    }
}

#[tokio::test]
async fn many_tickers_come_back_in_request_order_within_the_rate_limit() {
    let server = MockServer::start().await;
    let page1 = PAGE1.replace("https://api.financialdatasets.ai", &server.uri());
    Mock::given(path("/prices/"))
        .and(query_param("ticker", "MSFT"))
        .respond_with(json(200, &page1))
        .mount(&server)
        .await;
    Mock::given(path("/prices"))
        .and(query_param("cursor", CURSOR))
        .respond_with(json(200, PAGE2))
        .mount(&server)
        .await;
    Mock::given(path("/prices/"))
        .and(query_param("ticker", "AAPL"))
        .respond_with(json(200, SINGLE))
        .mount(&server)
        .await;
    let mut config = config(&server);
    // 600 per minute = one request start every 100 ms; three requests need >= 200 ms.
    config.requests_per_minute = 600;
    let client = FinancialDatasetsClient::new(config).unwrap();
    let done = Arc::new(Mutex::new(Vec::new()));
    let seen = done.clone();
    let requests_made = [
        ("MSFT", "2025-03-03", "2025-03-14"),
        ("AAPL", "2025-06-02", "2025-06-06"),
    ]
    .map(|(t, s, e)| FetchRequest {
        ticker: t.into(),
        start: d(s),
        end: d(e),
    });
    let started = Instant::now();
    let results = client
        .fetch_many(&requests_made, move |ticker| {
            seen.lock().unwrap().push(ticker.to_string())
        })
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    let summary: Vec<(&str, usize)> = results
        .iter()
        .map(|(t, rows)| (t.as_str(), rows.len()))
        .collect();
    assert_eq!(summary, [("MSFT", 10), ("AAPL", 5)]);
    let mut finished = done.lock().unwrap().clone();
    finished.sort();
    assert_eq!(finished, ["AAPL", "MSFT"]);
    assert_eq!(requests(&server).await.len(), 3);
}

#[test]
fn debug_output_of_the_client_hides_the_key() {
    let client = FinancialDatasetsClient::new(ClientConfig::new(KEY)).unwrap();
    let shown = format!("{client:?}");
    assert!(
        !shown.contains(KEY) && shown.contains("<redacted>"),
        "{shown}"
    );
}
