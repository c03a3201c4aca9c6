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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use momentum_engine::StrategyParams;
use momentum_scanner::history::read_history;
use momentum_scanner::model::Stage;
use momentum_scanner::scan::Picks;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::frame::{Frame, Predictions, score};
use crate::metrics::{CONTENT_TYPE, Metrics};
use crate::state::{Served, Snapshot, source_name};

/// The routes; any other path is counted as `other` (a 404 does not make a new series per
/// path a scanner tries).
const ROUTES: [&str; 8] = [
    "/ping",
    "/health",
    "/version",
    "/invocations",
    "/v1/model",
    "/v1/picks/latest",
    "/v1/picks",
    "/metrics",
];

/// What every handler shares.
pub struct App {
    /// The model slot.
    pub served: Arc<Served>,
    /// The registry.
    pub metrics: Metrics,
    /// `serve.monitor_report`.
    pub monitor_report: PathBuf,
}

/// The router over `app`, with the body limit and the request metrics.
pub fn router(app: Arc<App>, max_body_bytes: usize) -> Router {
    let metrics = app.metrics.clone();
    Router::new()
        .route("/ping", get(health))
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/invocations", post(invocations))
        .route("/v1/model", get(model))
        .route("/v1/picks/latest", get(latest_picks))
        .route("/v1/picks", get(picks_on))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn_with_state(metrics, count))
}

async fn count(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let route = ROUTES.into_iter().find(|r| *r == path).unwrap_or("other");
    let method = request.method().clone();
    let start = Instant::now();
    let response = next.run(request).await;
    metrics.observe(
        route,
        method.as_str(),
        response.status().as_u16(),
        start.elapsed(),
    );
    response
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
    match app.served.snapshot().model {
        Some(_) => (StatusCode::OK, "\n").into_response(),
        None => ApiError::no_model().into_response(),
    }
}

async fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The two bodies `/invocations` reads.
enum Format {
    Json,
    Csv,
}

fn format_of(headers: &HeaderMap) -> Result<Format, ApiError> {
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

async fn invocations(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Predictions>, ApiError> {
    let snapshot = app.served.snapshot();
    let model = snapshot.model.as_ref().ok_or_else(ApiError::no_model)?;
    let format = format_of(&headers)?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "REQUEST_LIMIT_EXCEEDED",
            "the body is larger than serve.max_body_bytes (--max-body-bytes)",
        ),
        status => ApiError::new(status, "BAD_REQUEST", rejection.body_text()),
    })?;
    let frame = match format {
        Format::Json => Frame::from_json(&body)?,
        Format::Csv => Frame::from_csv(&body)?,
    };
    let picks = score(&frame, model)?;
    Ok(Json(Predictions::from(&picks)))
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
    let model = snapshot.model.as_ref().ok_or_else(ApiError::no_model)?;
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

/// The served alias's scans in the picks history (blocking: Parquet).
async fn history(app: &App) -> Result<(Arc<Snapshot>, Vec<Picks>), ApiError> {
    let snapshot = app.served.snapshot();
    let path = snapshot.settings.scan.history.clone();
    let alias = app.served.alias();
    let scans = tokio::task::spawn_blocking(move || {
        if !path.exists() {
            return Ok(Vec::new());
        }
        read_history(&path)
            .map(|scans| scans.into_iter().filter(|s| s.alias == alias).collect())
            .map_err(|err| ApiError::internal(momentum_http::chain(&err)))
    })
    .await
    .map_err(|err| ApiError::internal(err.to_string()))??;
    Ok((snapshot, scans))
}

async fn latest_picks(State(app): State<Arc<App>>) -> Result<Json<Picks>, ApiError> {
    let (snapshot, scans) = history(&app).await?;
    scans
        .into_iter()
        .max_by_key(|s| s.as_of)
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no {} scan in {} yet: run `momentum scan`",
                app.served.alias(),
                snapshot.settings.scan.history.display()
            ))
        })
}

#[derive(Deserialize)]
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
        metrics.refresh(&snapshot, alias, &report, SystemTime::now());
        metrics.render()
    })
    .await
    .map_err(|err| ApiError::internal(err.to_string()))?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}
