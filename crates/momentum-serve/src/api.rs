//! The routes, in MLflow's scoring-server conventions where MLflow has the endpoint.
//!
//! | route | answer |
//! |---|---|
//! | `GET /ping`, `GET /health` | 200 when a model is loaded, 503 when not |
//! | `GET /version` | the server's version, plain text |
//! | `POST /invocations` | `{"predictions": [...]}` for the last date of a `dataframe_split` JSON or `text/csv` table of closes; 415 for another content type |
//! | `GET /v1/model` | the served model: alias, source, version, parameters, universe, data digest, `promoted_at` |
//! | `GET /v1/picks/latest`, `GET /v1/picks?date=YYYY-MM-DD` | a scan of the served alias from the picks history |
//! | `GET /metrics` | Prometheus text format ([`crate::metrics`]) |
//!
//! Every error is `{"error_code": ..., "message": ...}` ([`ApiError`]); a client's mistake is
//! a 4xx, never a 500.
//!
//! Limits, from the `serve` block: a request has `request_timeout_seconds` from its head to
//! its answer (504 after), its body `body_timeout_seconds` to arrive (408 after) and at most
//! `max_body_bytes` (413, before reading when `Content-Length` says so); at most
//! `max_concurrency` requests score or read the picks history at once, the others wait for a
//! slot. The probes, `/version` and `/metrics` never wait for a slot.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Json;
use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use chrono::NaiveDate;
use momentum_engine::StrategyParams;
use momentum_scanner::model::Stage;
use momentum_scanner::scan::Picks;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::frame::{Frame, Predictions, score};
use crate::metrics::{CONTENT_TYPE, Metrics};
use crate::state::{Served, Snapshot, scans_of, source_name};

/// What every handler shares.
pub struct App {
    /// The model slot.
    pub served: Arc<Served>,
    /// The registry.
    pub metrics: Metrics,
    /// `serve.monitor_report`.
    pub monitor_report: PathBuf,
    /// The limits of the `serve` block.
    pub limits: Limits,
    /// `serve.max_concurrency` slots for the routes that score or read the picks history.
    pub slots: Arc<Semaphore>,
}

/// The request limits of the `serve` block.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `serve.max_body_bytes`.
    pub max_body_bytes: usize,
    /// `serve.body_timeout_seconds`.
    pub body_timeout: Duration,
    /// `serve.request_timeout_seconds`.
    pub request_timeout: Duration,
}

/// Every route: the router is built from this list, and the request metrics label a request
/// with the route it matched (any other path is `other`: a 404 does not make a new series per
/// path a scanner tries).
fn routes() -> [(&'static str, MethodRouter<Arc<App>>); 8] {
    [
        ("/ping", get(health)),
        ("/health", get(health)),
        ("/version", get(version)),
        ("/invocations", post(invocations)),
        ("/v1/model", get(model)),
        ("/v1/picks/latest", get(latest_picks)),
        ("/v1/picks", get(picks_on)),
        ("/metrics", get(metrics_text)),
    ]
}

/// The router over `app`, with the request timeout and the request metrics.
pub fn router(app: Arc<App>) -> Router {
    let metrics = app.metrics.clone();
    let timeout = app.limits.request_timeout;
    routes()
        .into_iter()
        .fold(Router::new(), |router, (path, route)| {
            router.route(path, route)
        })
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
        .layer(middleware::from_fn_with_state(timeout, deadline))
        .layer(middleware::from_fn_with_state(metrics, count))
}

/// The request's route label: the route of [`routes`] it matched, or `other` (a 404).
fn route_label(request: &Request) -> String {
    let matched = request.extensions().get::<MatchedPath>();
    matched.map_or_else(|| "other".to_owned(), |m| m.as_str().to_owned())
}

/// The method label: the methods the routes answer, and `other` for any other, so a client
/// inventing methods cannot make new series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        _ => "other",
    }
}

async fn count(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let route = route_label(&request);
    let method = method_label(request.method());
    let start = Instant::now();
    let response = next.run(request).await;
    metrics.observe(&route, method, response.status().as_u16(), start.elapsed());
    response
}

/// 504 when the handler (body, queue and scoring) takes longer than the request timeout.
async fn deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "DEADLINE_EXCEEDED",
            format!(
                "the request took longer than serve.request_timeout_seconds ({} s)",
                timeout.as_secs()
            ),
        )
        .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint (see docs/serving.md, Scoring API)")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "BAD_REQUEST",
        "method not allowed on this endpoint (POST /invocations, GET for the others)",
    )
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let snapshot = app.served.snapshot();
    match snapshot.model {
        Some(_) => (StatusCode::OK, "\n").into_response(),
        None => snapshot.no_model().into_response(),
    }
}

async fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The two bodies `/invocations` reads.
#[derive(Clone, Copy)]
enum Format {
    Json,
    Csv,
}

fn format_of(headers: &HeaderMap) -> Result<Format, ApiError> {
    // A compressed body would be parsed as its compressed bytes ("expected value at line 1").
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned());
    if let Some(encoding) = encoding.filter(|e| !e.eq_ignore_ascii_case("identity")) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            format!("content encoding `{encoding}` is not supported: send the body uncompressed"),
        ));
    }
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = given.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(Format::Json)
    } else if essence.eq_ignore_ascii_case("text/csv") {
        Ok(Format::Csv)
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            format!(
                "content type `{given}` is not supported: send application/json \
                 (dataframe_split) or text/csv"
            ),
        ))
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "REQUEST_LIMIT_EXCEEDED",
        "the body is larger than serve.max_body_bytes (--max-body-bytes)",
    )
}

/// The body, at most `limits.max_body_bytes` of it, within `limits.body_timeout`.
async fn read_body(mut body: Body, limits: Limits) -> Result<Vec<u8>, ApiError> {
    let read = async {
        let mut bytes = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame =
                frame.map_err(|err| ApiError::malformed(format!("cannot read the body: {err}")))?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > limits.max_body_bytes {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(bytes)
    };
    tokio::time::timeout(limits.body_timeout, read)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "BAD_REQUEST",
                format!(
                    "the body did not arrive within serve.body_timeout_seconds ({} s)",
                    limits.body_timeout.as_secs()
                ),
            ))
        })
}

/// A slot of `serve.max_concurrency`, waited for (within the request timeout).
async fn slot(app: &App) -> Result<OwnedSemaphorePermit, ApiError> {
    Arc::clone(&app.slots)
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the server is stopping"))
}

/// Runs `work` on the blocking pool holding `permit` until it ends (a request that times out
/// does not free its slot while its work still runs).
async fn blocking<T: Send + 'static>(
    permit: OwnedSemaphorePermit,
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|join| ApiError::internal(format!("the request's task failed: {join}")))?
}

/// `POST /invocations`: the model and the content type are checked, and a `Content-Length`
/// above the limit refused, before a byte of the body is read; parsing and scoring run on the
/// blocking pool.
async fn invocations(State(app): State<Arc<App>>, request: Request) -> Result<Response, ApiError> {
    let snapshot = app.served.snapshot();
    if snapshot.model.is_none() {
        return Err(snapshot.no_model());
    }
    let (head, body) = request.into_parts();
    let format = format_of(&head.headers)?;
    let declared = head
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.limits.max_body_bytes as u64) {
        return Err(too_large());
    }
    let body = read_body(body, app.limits).await?;
    let permit = slot(&app).await?;
    let predictions = blocking(permit, move || {
        let model = snapshot.model.as_ref().ok_or_else(|| snapshot.no_model())?;
        let frame = match format {
            Format::Json => Frame::from_json(&body)?,
            Format::Csv => Frame::from_csv(&body)?,
        };
        Ok(Predictions::from(&score(&frame, model)?))
    })
    .await?;
    Ok(Json(predictions).into_response())
}

/// `GET /v1/model`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ModelInfo {
    /// `champion` or `challenger`.
    pub alias: String,
    /// `params` (the block of params.yaml) or `registry` (the alias on the tracking server).
    pub source: String,
    /// The registry version.
    pub version: Option<String>,
    /// When it was promoted (RFC 3339).
    pub promoted_at: Option<String>,
    /// Content digest of the prices it was selected on.
    pub data_digest: Option<String>,
    /// Lookback, skip, holding, top_k, cost_bps.
    pub params: StrategyParams,
    /// The universe, in the model's order.
    pub tickers: Vec<String>,
}

async fn model(State(app): State<Arc<App>>) -> Result<Json<ModelInfo>, ApiError> {
    let snapshot = app.served.snapshot();
    let model = snapshot.model.as_ref().ok_or_else(|| snapshot.no_model())?;
    let promoted_at = match &model.stage {
        Stage::Registered(registration) => Some(registration.promoted_at.clone()),
        Stage::Candidate(_) => None,
    };
    Ok(Json(ModelInfo {
        alias: app.served.alias().to_string(),
        source: source_name(snapshot.source).to_owned(),
        version: model.version().map(str::to_owned),
        promoted_at,
        data_digest: model.data_digest.clone(),
        params: model.params,
        tickers: model.universe.clone(),
    }))
}

/// The served alias's scans in the picks history, oldest first (blocking: Parquet).
async fn history(app: &App) -> Result<(Arc<Snapshot>, Vec<Picks>), ApiError> {
    let snapshot = app.served.snapshot();
    let path = snapshot.settings.scan.history.clone();
    let alias = app.served.alias();
    let permit = slot(app).await?;
    let scans = blocking(permit, move || {
        scans_of(&path, alias).map_err(|err| ApiError::internal(momentum_http::chain(&err)))
    })
    .await?;
    Ok((snapshot, scans))
}

async fn latest_picks(State(app): State<Arc<App>>) -> Result<Json<Picks>, ApiError> {
    let (snapshot, mut scans) = history(&app).await?;
    scans.pop().map(Json).ok_or_else(|| {
        ApiError::not_found(format!(
            "no {} scan in {} yet: run `momentum scan`",
            app.served.alias(),
            snapshot.settings.scan.history.display()
        ))
    })
}

/// `?date=YYYY-MM-DD`, and nothing else: a misspelt key is an error, not an ignored filter.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DateQuery {
    date: Option<String>,
}

async fn picks_on(
    State(app): State<Arc<App>>,
    query: Result<Query<DateQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Picks>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::malformed(err.body_text()))?;
    let text = query
        .date
        .ok_or_else(|| ApiError::malformed("missing query parameter `date` (YYYY-MM-DD)"))?;
    let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
        ApiError::malformed(format!("date `{text}` is not an ISO date (YYYY-MM-DD)"))
    })?;
    let (_, scans) = history(&app).await?;
    scans
        .into_iter()
        .find(|s| s.as_of == date)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no {} scan as of {date}", app.served.alias())))
}

async fn metrics_text(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let snapshot = app.served.snapshot();
    let alias = app.served.alias();
    let metrics = app.metrics.clone();
    let report = app.monitor_report.clone();
    let text = tokio::task::spawn_blocking(move || {
        metrics.scrape(&snapshot, alias, &report, SystemTime::now())
    })
    .await
    .map_err(|err| ApiError::internal(err.to_string()))?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_map_to_a_bounded_set_of_labels() {
        let label = |m: &str| method_label(&Method::from_bytes(m.as_bytes()).unwrap());
        assert_eq!(
            ["GET", "HEAD", "POST", "PUT", "DELETE", "BREW", "X-ANYTHING"].map(label),
            ["GET", "HEAD", "POST", "other", "other", "other", "other"]
        );
    }
}
