//! Async client for the Financial Datasets daily-price endpoint (`GET {base}/prices/`).
//!
//! Contract (see `docs/data.md` and the shared API notes): key in the `X-API-KEY` header;
//! query `ticker`, `interval=day`, `interval_multiplier=1`, `start_date`, `end_date` (both
//! inclusive); body `{ticker?, prices: [...], next_page_url?}`; `next_page_url` is followed
//! verbatim when it stays on the base URL's origin (the key is sent nowhere else; redirects are
//! not followed). Retry policy: 429 (after `Retry-After`, else the seconds in `detail`, else
//! backoff), 5xx, timeouts and connection errors are retried up to `max_retries` times;
//! 400/401/402, any other 4xx and a 3xx fail at once with the API's message; 404 means "no
//! data". The retry mechanism (backoff, the cap on a server's wait, reading `Retry-After`) and
//! the HTTP client set-up are `momentum-http`'s; what is retried, and how, is decided here.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use momentum_http::{BodyError, RetryPolicy, Secrets, describe, read_body};
use reqwest::StatusCode;
use serde::Deserialize;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

use crate::error::{DataError, Result};
use crate::nydate::new_york_date;
use crate::source::FetchRequest;
use crate::table::PriceRow;

/// The public API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.financialdatasets.ai";
/// Environment variable holding the API key.
pub const API_KEY_ENV: &str = "FINANCIAL_DATASETS_API_KEY";
/// Environment variable overriding the base URL.
pub const BASE_URL_ENV: &str = "FINANCIAL_DATASETS_BASE_URL";

/// Settings of [`FinancialDatasetsClient`]. `Debug` prints the key as `<redacted>`.
#[derive(Clone)]
pub struct ClientConfig {
    /// Scheme and host (and optional path prefix), without the trailing `/prices/`.
    pub base_url: String,
    /// Sent as `X-API-KEY`; never logged, printed or put in an error (not even when the server
    /// echoes it back: the server's text is scrubbed of it).
    pub api_key: String,
    /// Per-request timeout (connect plus full body).
    pub timeout: Duration,
    /// Retries after the first attempt for 429, 5xx, timeouts and connection errors.
    pub max_retries: u32,
    /// First backoff step; retry `n` (from 0) waits a random time in `[d/2, d]`,
    /// `d = min(base_backoff * 2^n, max_backoff)`.
    pub base_backoff: Duration,
    /// Cap on one backoff wait (a server's `Retry-After` is honoured up to `max_retry_after`).
    pub max_backoff: Duration,
    /// Longest `Retry-After` (or `detail` seconds) honoured; longer waits are cut to this.
    pub max_retry_after: Duration,
    /// Client-side limit on requests started per minute, retries and pages included (> 0).
    pub requests_per_minute: u32,
    /// Tickers fetched at the same time (> 0).
    pub concurrency: usize,
    /// Pages followed for one ticker before giving up (a loop guard).
    pub max_pages: usize,
    /// Largest response body read, in bytes: a longer one (a server that never stops sending)
    /// fails the ticker instead of exhausting memory.
    pub max_body_bytes: usize,
}

impl ClientConfig {
    /// Defaults for the public API with `api_key`: 30 s timeout, 4 retries from 1 s backoff
    /// (capped at 60 s), 60 requests/minute, 4 tickers at a time, 1000 pages, bodies of at most
    /// 64 MiB.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.into(),
            api_key: api_key.into(),
            timeout: Duration::from_secs(30),
            max_retries: 4,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(120),
            requests_per_minute: 60,
            concurrency: 4,
            max_pages: 1000,
            max_body_bytes: momentum_http::DEFAULT_MAX_BODY,
        }
    }

    /// The retry settings as the shared mechanism takes them.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.max_retries,
            base_delay: self.base_backoff,
            max_delay: self.max_backoff,
            max_retry_after: self.max_retry_after,
        }
    }

    /// [`ClientConfig::new`] with the key from `FINANCIAL_DATASETS_API_KEY` (required, not
    /// empty) and the base URL from `FINANCIAL_DATASETS_BASE_URL` when set.
    pub fn from_env() -> Result<Self> {
        let key = std::env::var(API_KEY_ENV).unwrap_or_default();
        if key.trim().is_empty() {
            return Err(DataError::InvalidSetting {
                name: API_KEY_ENV,
                reason: "not set; the financialdatasets source needs an API key".into(),
            });
        }
        let mut config = Self::new(key.trim());
        if let Ok(base) = std::env::var(BASE_URL_ENV)
            && !base.trim().is_empty()
        {
            config.base_url = base.trim().into();
        }
        Ok(config)
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("base_backoff", &self.base_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_retry_after", &self.max_retry_after)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("concurrency", &self.concurrency)
            .field("max_pages", &self.max_pages)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

/// Async client for `GET {base}/prices/`; cheap to clone (clones share the connection pool and
/// the rate limiter).
///
/// # Example
/// Needs the network and an API key, so it is only compiled here.
/// ```no_run
/// use momentum_data::{
///     ClientConfig, FinancialDatasetsClient, PriceTable, plan_requests, validate,
/// };
/// # #[tokio::main]
/// # async fn main() -> Result<(), momentum_data::DataError> {
/// let client = FinancialDatasetsClient::new(ClientConfig::from_env()?)?;
/// let tickers = vec!["AAPL".to_string(), "MSFT".to_string()];
/// let (start, end) = ("2024-01-01".parse().unwrap(), "2024-06-30".parse().unwrap());
/// let requests = plan_requests(&tickers, start, end, None);
/// let fetched = client.fetch_many(&requests, |ticker| eprintln!("{ticker} done")).await?;
/// let rows = fetched.into_iter().flat_map(|(_, rows)| rows);
/// let table = PriceTable::from_rows(tickers, rows);
/// validate(&table, "financialdatasets")?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct FinancialDatasetsClient {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    /// `config.base_url` parsed: the only origin the API key goes to.
    home: reqwest::Url,
    /// The API key, scrubbed from the server's text before it reaches an error or a log.
    secrets: Arc<Secrets>,
    limiter: Arc<RateLimiter>,
}

impl fmt::Debug for FinancialDatasetsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinancialDatasetsClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl FinancialDatasetsClient {
    /// Builds the client (installing rustls' ring crypto provider on first use).
    pub fn new(config: ClientConfig) -> Result<Self> {
        if config.requests_per_minute == 0 {
            return Err(DataError::InvalidSetting {
                name: "requests_per_minute",
                reason: "must be > 0".into(),
            });
        }
        if config.concurrency == 0 {
            return Err(DataError::InvalidSetting {
                name: "concurrency",
                reason: "must be > 0".into(),
            });
        }
        if config.max_pages == 0 {
            return Err(DataError::InvalidSetting {
                name: "max_pages",
                reason: "must be > 0".into(),
            });
        }
        // Checked here, not at the first request, where it would read as the ticker's error.
        // The value is not echoed: a URL can carry credentials.
        let home = reqwest::Url::parse(&config.base_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host());
        let Some(home) = home else {
            return Err(DataError::InvalidSetting {
                name: "base_url",
                reason: format!(
                    "must be an absolute http(s) URL such as {DEFAULT_BASE_URL} \
                     (set by {BASE_URL_ENV})"
                ),
            });
        };
        let http = momentum_http::client(
            concat!("momentum-data/", env!("CARGO_PKG_VERSION")),
            config.timeout,
            // The API does not redirect, and reqwest would carry `X-API-KEY` along to wherever a
            // redirect points: a 3xx is an error instead.
            reqwest::redirect::Policy::none(),
        )
        .map_err(|err| {
            DataError::Http(format!("cannot build the HTTP client: {}", describe(err)))
        })?;
        let interval = Duration::from_secs(60) / config.requests_per_minute;
        Ok(Self {
            http,
            secrets: Arc::new(Secrets::default().with(&config.api_key)),
            config: Arc::new(config),
            home,
            limiter: Arc::new(RateLimiter::new(interval)),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Every daily bar of one ticker in `[start, end]`, following pagination, sorted by date with
    /// duplicate dates removed (the later page wins; a warning names a day whose close differed).
    /// A 404 (no data) gives an empty vector.
    pub async fn fetch_prices(
        &self,
        ticker: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<PriceRow>> {
        let first = format!("{}/prices/", self.config.base_url.trim_end_matches('/'));
        let query = [
            ("ticker", ticker.to_string()),
            ("interval", "day".into()),
            ("interval_multiplier", "1".into()),
            ("start_date", start.format("%Y-%m-%d").to_string()),
            ("end_date", end.format("%Y-%m-%d").to_string()),
        ];
        // The reasons quote the server's next_page_url.
        let stopped = |reason: String| DataError::Pagination {
            ticker: ticker.into(),
            reason: self.secrets.scrub(&reason),
        };
        let mut rows = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut next: Option<String> = None;
        for page in 1.. {
            if page > self.config.max_pages {
                return Err(stopped(format!(
                    "more than {} pages",
                    self.config.max_pages
                )));
            }
            let request = match &next {
                None => self.http.get(&first).query(&query),
                Some(url) => self.http.get(url),
            };
            let body = match self.send_with_retries(ticker, request).await? {
                Some(body) => body,
                // 404 on a later page: the walk is over, keep what we have.
                None => break,
            };
            let parsed = parse_page(ticker, &body, &self.secrets)?;
            tracing::debug!(ticker, page, rows = parsed.rows.len(), "fetched page");
            rows.extend(parsed.rows);
            match parsed.next_page_url {
                Some(url) => {
                    if let Some(elsewhere) = foreign_origin(&self.home, &url) {
                        return Err(stopped(format!(
                            "next_page_url points to {elsewhere}, not to the API's base URL \
                             (the API key is sent there only)"
                        )));
                    }
                    if !seen.insert(url.clone()) {
                        return Err(stopped(format!("next_page_url repeats ({url})")));
                    }
                    next = Some(url);
                }
                None => break,
            }
        }
        let (rows, revised) = one_row_a_date(rows);
        if let Some(&(date, dropped, kept)) = revised.first() {
            tracing::warn!(
                "{ticker}: the API gave {} day(s) twice with different closes, the first \
                 {date} ({dropped}, then {kept} on a later page); the later pages' are kept",
                revised.len()
            );
        }
        Ok(rows)
    }

    /// Fetches many tickers, at most `concurrency` at a time, and returns `(ticker, rows)` in
    /// request order. `on_done` is called with each finished ticker (for a progress bar). The
    /// first error cancels the remaining requests and is returned.
    pub async fn fetch_many(
        &self,
        requests: &[FetchRequest],
        on_done: impl Fn(&str) + Send + Sync + 'static,
    ) -> Result<Vec<(String, Vec<PriceRow>)>> {
        let semaphore = Arc::new(Semaphore::new(self.config.concurrency));
        let on_done = Arc::new(on_done);
        let mut tasks = tokio::task::JoinSet::new();
        for (index, request) in requests.iter().cloned().enumerate() {
            let client = self.clone();
            let semaphore = semaphore.clone();
            let on_done = on_done.clone();
            tasks.spawn(async move {
                let _permit = semaphore
                    .acquire_owned()
                    .await
                    .expect("semaphore is never closed");
                let rows = client
                    .fetch_prices(&request.ticker, request.start, request.end)
                    .await?;
                on_done(&request.ticker);
                Ok::<_, DataError>((index, request.ticker, rows))
            });
        }
        let mut results: Vec<Option<(String, Vec<PriceRow>)>> = vec![None; requests.len()];
        while let Some(joined) = tasks.join_next().await {
            let (index, ticker, rows) =
                joined.map_err(|err| DataError::Http(format!("fetch task failed: {err}")))??;
            results[index] = Some((ticker, rows));
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every task reported"))
            .collect())
    }

    /// Sends one page request with the retry policy; `Ok(None)` is a 404.
    async fn send_with_retries(
        &self,
        ticker: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Option<String>> {
        let request = request
            .header("X-API-KEY", &self.config.api_key)
            .header(reqwest::header::ACCEPT, "application/json")
            .build()
            .map_err(|err| {
                DataError::Http(format!("{ticker}: cannot build request: {}", describe(err)))
            })?;
        let mut attempt: u32 = 0;
        loop {
            self.limiter.acquire().await;
            attempt += 1;
            let copy = request
                .try_clone()
                .expect("GET requests have no streaming body");
            // For messages only, on the failure paths: a later page's URL is the server's
            // next_page_url, scrubbed before it is shown.
            let url = copy.url().clone();
            let shown_url = || self.secrets.scrub(url.as_str());
            let (last, server_wait) = match self.http.execute(copy).await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = momentum_http::retry_after(response.headers());
                    let body = match read_body(response, self.config.max_body_bytes).await {
                        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                        Err(BodyError::Read(err)) if is_transient(&err) => {
                            let last =
                                format!("reading the body of {}: {}", shown_url(), describe(err));
                            self.retry_or_give_up(ticker, attempt, last, None).await?;
                            continue;
                        }
                        Err(BodyError::Read(err)) => {
                            return Err(DataError::Http(format!("{ticker}: {}", describe(err))));
                        }
                        Err(too_large) => {
                            return Err(DataError::Http(format!(
                                "{ticker}: {}: {too_large}",
                                shown_url()
                            )));
                        }
                    };
                    if status.is_success() {
                        return Ok(Some(body));
                    }
                    match status {
                        StatusCode::NOT_FOUND => {
                            tracing::debug!(ticker, "404: no data in this window");
                            return Ok(None);
                        }
                        StatusCode::TOO_MANY_REQUESTS => {
                            let wait = retry_after.or_else(|| detail_seconds(&body));
                            (
                                format!("HTTP 429: {}", error_message(&body, &self.secrets)),
                                wait,
                            )
                        }
                        s if s.is_server_error() => (
                            format!(
                                "HTTP {}: {}",
                                s.as_u16(),
                                error_message(&body, &self.secrets)
                            ),
                            retry_after,
                        ),
                        s => {
                            return Err(DataError::Api {
                                ticker: ticker.into(),
                                status: s.as_u16(),
                                message: error_message(&body, &self.secrets),
                            });
                        }
                    }
                }
                Err(err) if is_transient(&err) => {
                    let what = if err.is_timeout() {
                        format!("timed out after {:?}", self.config.timeout)
                    } else {
                        describe(err)
                    };
                    (format!("{what} ({})", shown_url()), None)
                }
                Err(err) => {
                    return Err(DataError::Http(format!("{ticker}: {}", describe(err))));
                }
            };
            self.retry_or_give_up(ticker, attempt, last, server_wait)
                .await?;
        }
    }

    async fn retry_or_give_up(
        &self,
        ticker: &str,
        attempt: u32,
        last: String,
        server_wait: Option<Duration>,
    ) -> Result<()> {
        // `attempt` counts requests made, so `attempt - 1` retries are behind us.
        let Some(wait) = self
            .config
            .retry_policy()
            .retry_in(attempt - 1, server_wait)
        else {
            return Err(DataError::RetriesExhausted {
                ticker: ticker.into(),
                attempts: attempt,
                last,
            });
        };
        tracing::warn!(
            ticker,
            attempt,
            wait_ms = wait.as_millis() as u64,
            "{last}; retrying"
        );
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

fn is_transient(err: &reqwest::Error) -> bool {
    err.is_timeout() || err.is_connect() || err.is_request() || err.is_body()
}

/// The seconds in a DRF throttle message: `"Request was throttled. Expected available in 39
/// seconds."` gives 39 s. Only the number right before `second` counts.
pub fn detail_seconds(body: &str) -> Option<Duration> {
    #[derive(Deserialize)]
    struct Detail {
        detail: String,
    }
    let detail = serde_json::from_str::<Detail>(body).ok()?.detail;
    let before = &detail[..detail.find("second")?];
    let number = before.trim_end().rsplit(' ').next()?;
    let seconds: f64 = number.parse().ok()?;
    // An absurd wait ("1e20 seconds") is no wait to honour: backoff takes over.
    Duration::try_from_secs_f64(seconds).ok()
}

/// The origin (scheme, host, port) of `url` when it is not the base URL's: a page link the
/// client must not follow with the API key. An unparsable link counts as foreign.
fn foreign_origin(home: &reqwest::Url, url: &str) -> Option<String> {
    match reqwest::Url::parse(url).map(|u| u.origin()) {
        Ok(there) if there == home.origin() && there.is_tuple() => None,
        Ok(there) => Some(there.ascii_serialization()),
        Err(_) => Some(format!("an unparsable URL ({url})")),
    }
}

/// The API's error text: `error: message` for `{error, message}`, `detail` for DRF bodies, else
/// the body; scrubbed of `secrets`, on one line, shortened ([`Secrets::scrub`]).
fn error_message(body: &str, secrets: &Secrets) -> String {
    #[derive(Deserialize)]
    struct ApiError {
        error: Option<String>,
        message: Option<String>,
        detail: Option<String>,
    }
    if let Ok(parsed) = serde_json::from_str::<ApiError>(body) {
        match (parsed.error, parsed.message, parsed.detail) {
            (Some(e), Some(m), _) => return secrets.scrub(&format!("{e}: {m}")),
            (Some(text), None, _) | (None, Some(text), _) | (None, None, Some(text)) => {
                return secrets.scrub(&text);
            }
            _ => {}
        }
    }
    if body.trim().is_empty() {
        return "(empty body)".into();
    }
    secrets.scrub(body)
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    prices: Option<Vec<ApiPrice>>,
    #[serde(default)]
    next_page_url: Option<String>,
}

#[derive(Deserialize)]
struct ApiPrice {
    #[serde(default)]
    open: Option<f64>,
    #[serde(default)]
    high: Option<f64>,
    #[serde(default)]
    low: Option<f64>,
    #[serde(default)]
    close: Option<f64>,
    #[serde(default)]
    volume: Option<f64>,
    time: String,
    #[serde(default)]
    time_milliseconds: Option<f64>,
    #[serde(default)]
    ticker: Option<String>,
}

struct ParsedPage {
    rows: Vec<PriceRow>,
    next_page_url: Option<String>,
}

/// `rows` sorted by date with one row a date: where pages overlap, the later page's row is
/// kept. Beside them, each day whose dropped close differs from the kept one:
/// `(date, dropped close, kept close)`, for a warning (an overlap repeats a day unchanged).
fn one_row_a_date(mut rows: Vec<PriceRow>) -> (Vec<PriceRow>, Vec<(NaiveDate, f64, f64)>) {
    // A stable sort keeps page order among equal dates.
    rows.sort_by_key(|row| row.date);
    let mut kept: Vec<PriceRow> = Vec::with_capacity(rows.len());
    let mut revised = Vec::new();
    for row in rows {
        match kept.last_mut() {
            Some(last) if last.date == row.date => {
                if last.close != row.close {
                    revised.push((row.date, last.close, row.close));
                }
                *last = row;
            }
            _ => kept.push(row),
        }
    }
    (kept, revised)
}

/// One page of prices; a [`DataError::Malformed`] reason quotes the body, scrubbed of `secrets`.
fn parse_page(ticker: &str, body: &str, secrets: &Secrets) -> Result<ParsedPage> {
    let malformed = |reason: String| DataError::Malformed {
        ticker: ticker.into(),
        reason: secrets.scrub(&reason),
    };
    let page: Page =
        serde_json::from_str(body).map_err(|err| malformed(format!("invalid JSON: {err}")))?;
    let mut rows = Vec::new();
    for price in page.prices.unwrap_or_default() {
        if let Some(row_ticker) = &price.ticker
            && !row_ticker.eq_ignore_ascii_case(ticker)
        {
            return Err(malformed(format!(
                "row for {row_ticker} in the answer for {ticker}"
            )));
        }
        let instant = DateTime::parse_from_rfc3339(&price.time)
            .map_err(|err| malformed(format!("time {:?}: {err}", price.time)))?
            .with_timezone(&Utc);
        if let Some(ms) = price.time_milliseconds
            && ms != instant.timestamp_millis() as f64
        {
            return Err(malformed(format!(
                "time {:?} disagrees with time_milliseconds {ms}",
                price.time
            )));
        }
        let date = new_york_date(instant);
        let Some(close) = price.close else {
            tracing::warn!(ticker, %date, "bar without close skipped");
            continue;
        };
        rows.push(PriceRow {
            ticker: ticker.to_string(),
            date,
            open: price.open,
            high: price.high,
            low: price.low,
            close,
            volume: price.volume,
        });
    }
    Ok(ParsedPage {
        rows,
        next_page_url: page.next_page_url.filter(|url| !url.is_empty()),
    })
}

/// Spaces request starts at least `interval` apart across every clone of the client.
struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            next: Mutex::new(None),
        }
    }

    async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_given_twice_keeps_the_later_page_and_a_changed_close_is_reported() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2025, 6, d).unwrap();
        let row = |d, close| PriceRow::close_only("AAPL", day(d), close);
        // Pages in order: an overlap of 06-03 unchanged, 06-02 revised to 999.
        let pages = vec![
            row(2, 201.7),
            row(3, 203.27),
            row(3, 203.27),
            row(4, 202.82),
            row(2, 999.0),
        ];
        let (kept, revised) = one_row_a_date(pages);
        assert_eq!(kept, [row(2, 999.0), row(3, 203.27), row(4, 202.82)]);
        assert_eq!(revised, [(day(2), 201.7, 999.0)]);
    }

    #[test]
    fn a_base_url_without_scheme_or_host_is_refused_up_front() {
        for bad in [
            "api.financialdatasets.ai",
            "ftp://example.com",
            "https://",
            "",
        ] {
            let config = ClientConfig {
                base_url: bad.into(),
                ..ClientConfig::new("k")
            };
            let err = FinancialDatasetsClient::new(config)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("base_url") && err.contains(BASE_URL_ENV),
                "{bad}: {err}"
            );
        }
        let local = ClientConfig {
            base_url: "http://127.0.0.1:8080".into(),
            ..ClientConfig::new("k")
        };
        assert!(FinancialDatasetsClient::new(local).is_ok());
    }

    #[test]
    fn detail_seconds_reads_the_drf_throttle_message() {
        let body = r#"{"detail": "Request was throttled. Expected available in 39 seconds."}"#;
        assert_eq!(detail_seconds(body), Some(Duration::from_secs(39)));
        let one = r#"{"detail": "Request was throttled. Expected available in 1 second."}"#;
        assert_eq!(detail_seconds(one), Some(Duration::from_secs(1)));
        assert_eq!(
            detail_seconds(r#"{"detail": "Request was throttled."}"#),
            None
        );
        assert_eq!(detail_seconds("not json"), None);
        let absurd = r#"{"detail": "Request was throttled. Expected available in 1e20 seconds."}"#;
        assert_eq!(detail_seconds(absurd), None);
        let negative = r#"{"detail": "Expected available in -5 seconds."}"#;
        assert_eq!(detail_seconds(negative), None);
    }

    #[test]
    fn error_messages_cover_both_shapes_and_plain_text() {
        let message = |body: &str| error_message(body, &Secrets::default());
        assert_eq!(
            message(r#"{"error":"Invalid TICKER","message":"Please provide a valid TICKER."}"#),
            "Invalid TICKER: Please provide a valid TICKER."
        );
        assert_eq!(message(r#"{"detail":"slow down"}"#), "slow down");
        assert_eq!(
            message("<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(message(""), "(empty body)");
        // A proxy's HTML page is folded onto one line.
        assert_eq!(
            message("<html>\r\n<head><title>502 Bad Gateway</title></head>\n</html>\n"),
            "<html> <head><title>502 Bad Gateway</title></head> </html>"
        );
        // Cut after momentum_http::MAX_SERVER_TEXT (300) characters, the last space dropped.
        assert_eq!(
            message(&"x ".repeat(300)),
            format!("{}x…", "x ".repeat(149))
        );
    }

    #[test]
    fn error_messages_never_show_the_key() {
        let secrets = Secrets::default().with("APIKEY_ZZ");
        for body in [
            "{'x-api-key': 'APIKEY_ZZ', 'accept': 'application/json'}",
            r#"{"error":"Unauthorized APIKEY_ZZ","message":"key APIKEY_ZZ is invalid"}"#,
            r#"{"detail":"APIKEY_ZZ"}"#,
        ] {
            let shown = error_message(body, &secrets);
            assert!(
                !shown.contains("APIKEY_ZZ") && shown.contains("<redacted>"),
                "{shown}"
            );
        }
        // A malformed page quotes the body, scrubbed too.
        let body = r#"{"prices":[{"close":1,"time":"APIKEY_ZZ"}]}"#;
        let Err(err) = parse_page("AAPL", body, &secrets) else {
            panic!("a time that is no time parses");
        };
        let shown = err.to_string();
        assert!(
            !shown.contains("APIKEY_ZZ") && shown.contains("time \"<redacted>\""),
            "{shown}"
        );
    }

    #[test]
    fn debug_redacts_the_key() {
        let config = ClientConfig::new("sk-secret-123");
        let text = format!("{config:?}");
        assert!(
            !text.contains("sk-secret-123") && text.contains("<redacted>"),
            "{text}"
        );
    }

    #[test]
    fn rows_take_the_new_york_date_and_tolerate_integral_and_missing_fields() {
        let body = r#"{"prices":[
            {"open":203,"close":203,"high":205.7,"low":202.05,"volume":46539252,
             "time":"2025-06-06T04:00:00Z","time_milliseconds":1749182400000,"extra":1},
            {"close":1.5,"time":"2025-11-03T05:00:00Z"}]}"#;
        let page = parse_page("AAPL", body, &Secrets::default()).unwrap();
        assert!(page.next_page_url.is_none());
        assert_eq!(page.rows.len(), 2);
        assert_eq!(
            page.rows[0].date,
            "2025-06-06".parse::<NaiveDate>().unwrap()
        );
        assert_eq!(page.rows[0].close, 203.0);
        assert_eq!(page.rows[0].volume, Some(46_539_252.0));
        assert_eq!(
            page.rows[1].date,
            "2025-11-03".parse::<NaiveDate>().unwrap()
        );
        assert_eq!(page.rows[1].open, None);
    }

    #[test]
    fn a_time_that_disagrees_with_its_milliseconds_is_rejected() {
        let body = r#"{"prices":[{"close":1,"time":"2025-06-06T04:00:00Z","time_milliseconds":1749182400001}]}"#;
        assert!(matches!(
            parse_page("AAPL", body, &Secrets::default()),
            Err(DataError::Malformed { .. })
        ));
        let foreign = r#"{"prices":[{"close":1,"time":"2025-06-06T04:00:00Z","ticker":"MSFT"}]}"#;
        assert!(matches!(
            parse_page("AAPL", foreign, &Secrets::default()),
            Err(DataError::Malformed { .. })
        ));
    }
}
