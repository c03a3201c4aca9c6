//! A client for MLflow's REST API (tracking, artifacts proxy, model registry), as verified
//! against MLflow 3.17/3.18 (`shared/docs/mlflow.md`).
//!
//! The public methods block: the client owns a small tokio runtime and uses it internally for
//! parallel pushes ([`crate::Tracker`] logs a grid's children 8 at a time). Do not call it from
//! inside an async runtime.
//!
//! Requests are retried on a connection error and HTTP 408/429/500/502/503/504, with
//! exponential backoff from [`RetryPolicy::base_delay`] (plus jitter), honouring
//! `Retry-After`. Two exceptions: a timeout is not retried (a hung server must not stall a
//! best-effort push for minutes), and `runs/create` / `model-versions/create`, which would
//! create a duplicate if the first attempt was processed, are retried only when the server
//! cannot have processed it (connection refused, 429, 503). Errors carry the URL (never credentials), the status, MLflow's `error_code`
//! and its message, or the text body when the server did not answer JSON (auth and proxy
//! layers do not).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::model::{
    Cmp, DatasetInput, Filter, MetricPoint, ModelVersion, OrderBy, RemoteRecord, Run, RunQuery,
    RunStatus, TAG_LOCAL_RUN_ID, TAG_PARENT_RUN_ID, TAG_RUN_NAME, TAG_USER, f64_lenient,
};

/// Most metrics in one `runs/log-batch` call.
pub const MAX_BATCH_METRICS: usize = 1000;
/// Most params in one `runs/log-batch` call.
pub const MAX_BATCH_PARAMS: usize = 100;
/// Most tags in one `runs/log-batch` call.
pub const MAX_BATCH_TAGS: usize = 100;
/// Most metrics + params + tags in one `runs/log-batch` call.
pub const MAX_BATCH_TOTAL: usize = 1000;

/// How the client authenticates.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Auth {
    /// MLflow's conventions: `MLFLOW_TRACKING_USERNAME` + `MLFLOW_TRACKING_PASSWORD` (Basic, takes
    /// precedence), else `MLFLOW_TRACKING_TOKEN` (Bearer), else none.
    pub fn from_env() -> Auth {
        let var = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
        match (
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
            var("MLFLOW_TRACKING_TOKEN"),
        ) {
            (Some(username), Some(password), _) => Auth::Basic { username, password },
            (_, _, Some(token)) => Auth::Bearer(token),
            _ => Auth::None,
        }
    }
}

/// Retries on transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: no retry).
    pub max_retries: u32,
    /// Delay before the first retry; doubled each time, plus up to 50 % jitter.
    pub base_delay: Duration,
    /// Cap on one delay (also on `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 retries from 250 ms, at most 10 s apart.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// Settings of a [`RestClient`].
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// `http(s)://host:port[/prefix]`; credentials in the URL are moved into Basic auth.
    pub uri: String,
    /// Authentication.
    pub auth: Auth,
    /// Retries.
    pub retry: RetryPolicy,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Parallel requests when pushing many runs.
    pub concurrency: usize,
}

impl RestConfig {
    /// Defaults for `uri`: auth from the environment, default retries, 30 s timeout,
    /// concurrency 8.
    pub fn new(uri: impl Into<String>) -> Self {
        RestConfig {
            uri: uri.into(),
            auth: Auth::from_env(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            concurrency: 8,
        }
    }
}

/// A blocking MLflow REST client.
#[derive(Debug)]
pub struct RestClient {
    inner: Inner,
    rt: tokio::runtime::Runtime,
    concurrency: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Inner {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    retry: RetryPolicy,
    experiments: Arc<Mutex<HashMap<String, String>>>,
}

enum Body {
    None,
    Json(Value),
    Bytes(Vec<u8>),
}

/// Installs rustls' ring crypto provider once (reqwest is built without one).
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Normalises a tracking URI: checks the scheme, removes credentials and a trailing `/`.
/// Returns the URL and the credentials found in it.
pub fn normalize_uri(uri: &str) -> Result<(Url, Option<(String, String)>)> {
    let mut url = Url::parse(uri.trim()).map_err(|_| Error::UnsupportedUri(redact(uri)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::UnsupportedUri(redact(uri)));
    }
    let creds = (!url.username().is_empty()).then(|| {
        (
            url.username().to_string(),
            url.password().unwrap_or_default().to_string(),
        )
    });
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    if url.path().ends_with('/') {
        let trimmed = url.path().trim_end_matches('/').to_string();
        url.set_path(&trimmed);
    }
    Ok((url, creds))
}

/// `uri` without what may be credentials: everything before the last `@` after the scheme (a
/// password may hold `@`, and a URI without a scheme may still start with `user:password@`).
fn redact(uri: &str) -> String {
    let Some((head, host)) = uri.rsplit_once('@') else {
        return uri.to_string();
    };
    match head.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://<redacted>@{host}"),
        None => format!("<redacted>@{host}"),
    }
}

impl RestClient {
    /// A client for `config.uri`; fails on a non-http(s) URI. Does not contact the server.
    pub fn new(config: RestConfig) -> Result<Self> {
        install_crypto_provider();
        let (base, creds) = normalize_uri(&config.uri)?;
        let auth = match (config.auth, creds) {
            (Auth::None, Some((username, password))) => Auth::Basic { username, password },
            (auth, _) => auth,
        };
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("momentum-tracking/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Http {
                url: base.to_string(),
                source: e.without_url(),
            })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        Ok(RestClient {
            inner: Inner {
                http,
                base,
                auth,
                retry: config.retry,
                experiments: Arc::default(),
            },
            rt,
            concurrency: config.concurrency.max(1),
        })
    }

    /// The normalised tracking URI (no credentials): the key under which local runs record
    /// that they were pushed here.
    pub fn uri(&self) -> &str {
        self.inner.base.as_str().trim_end_matches('/')
    }

    /// `GET /health`: true when the server answers 200.
    pub fn health(&self) -> bool {
        self.rt
            .block_on(self.inner.send(Method::GET, &["health"], &[], Body::None))
            .is_ok()
    }

    /// The id of the experiment `name`, created when missing (race-safe).
    pub fn experiment_id(&self, name: &str) -> Result<String> {
        self.rt.block_on(self.inner.experiment_id(name))
    }

    /// When the experiment `name` was created on the server (epoch ms; 0 when the server does
    /// not say), `None` when it does not exist there.
    pub(crate) fn experiment_created(&self, name: &str) -> Result<Option<i64>> {
        let found = self.rt.block_on(self.inner.experiment_by_name(name))?;
        Ok(found.map(|e| e.creation_time.unwrap_or(0)))
    }

    /// One run, with the latest value of each metric.
    pub fn get_run(&self, run_id: &str) -> Result<Run> {
        self.rt.block_on(self.inner.get_run(run_id))
    }

    /// Runs of `query.experiment` (none when the experiment does not exist). The typed filters
    /// are translated to MLflow's grammar; the ones it cannot express ([`Filter::TopLevel`])
    /// are applied to the results.
    pub fn search_runs(&self, query: &RunQuery) -> Result<Vec<Run>> {
        self.rt.block_on(self.inner.search_runs(query))
    }

    /// Every point of a metric's history.
    pub fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        self.rt.block_on(self.inner.metric_history(run_id, key))
    }

    /// The files under a run's artifact root, as relative paths, recursively, sorted.
    pub fn list_artifacts(&self, run_id: &str) -> Result<Vec<String>> {
        self.rt.block_on(self.inner.list_artifacts(run_id))
    }

    /// The bytes of one artifact of a run, through the server's artifact proxy.
    pub fn download_artifact(&self, run_id: &str, rel: &str) -> Result<Vec<u8>> {
        self.rt.block_on(async {
            let run = self.inner.get_run_info(run_id).await?;
            self.inner
                .get_artifact(run_id, &run.artifact_uri, rel)
                .await
        })
    }

    /// Creates the registered model unless it exists.
    pub fn create_registered_model(&self, name: &str) -> Result<()> {
        self.rt.block_on(self.inner.create_registered_model(name))
    }

    /// Adds a version of `name` from `source` (e.g. `runs:/<run>/model`) of remote run `run_id`.
    pub fn create_model_version(
        &self,
        name: &str,
        run_id: &str,
        source: &str,
        description: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<ModelVersion> {
        self.rt.block_on(
            self.inner
                .create_model_version(name, run_id, source, description, tags),
        )
    }

    /// Points `alias` at `version` (moves it if set).
    pub fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        crate::model::validate_alias(alias)?;
        let body = json!({"name": name, "alias": alias, "version": version});
        self.rt
            .block_on(
                self.inner
                    .call(Method::POST, "registered-models/alias", Body::Json(body)),
            )
            .map(drop)
    }

    /// Removes an alias (no error when it is not set).
    pub fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        let body = json!({"name": name, "alias": alias});
        self.rt
            .block_on(
                self.inner
                    .call(Method::DELETE, "registered-models/alias", Body::Json(body)),
            )
            .map(drop)
    }

    /// The version an alias points at; `None` when the alias is not set (MLflow answers 400
    /// for that); an error when the model does not exist.
    pub fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<Option<ModelVersion>> {
        self.rt
            .block_on(self.inner.get_version_by_alias(name, alias))
    }

    /// All versions of a registered model, oldest first, with their aliases.
    pub fn list_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.rt.block_on(self.inner.list_versions(name))
    }

    /// Remote runs of an experiment carrying the [`TAG_LOCAL_RUN_ID`] tag, by local id.
    pub(crate) fn pushed_runs(&self, experiment_id: &str) -> Result<HashMap<String, RemoteRecord>> {
        self.rt.block_on(self.inner.pushed_runs(experiment_id))
    }

    /// Pushes runs in parallel (bounded by the configured concurrency). After the first
    /// transport failure (server down) the jobs not yet started are skipped.
    /// `on_done(index, result)` is called as each job completes, so progress is recorded even
    /// if the process dies before the batch ends.
    pub(crate) fn push_all(
        &self,
        jobs: Vec<PushJob>,
        on_done: impl FnMut(usize, &Result<RemoteRecord>),
    ) -> Vec<Result<RemoteRecord>> {
        self.rt
            .block_on(self.inner.clone().push_all(jobs, self.concurrency, on_done))
    }
}

/// One local run to bring to the server.
#[derive(Debug, Clone)]
pub(crate) struct PushJob {
    pub run: Run,
    pub experiment_id: String,
    pub remote_parent: Option<String>,
    pub existing: Option<RemoteRecord>,
    pub artifacts: Vec<(String, std::path::PathBuf)>,
    pub now: i64,
}

#[derive(Deserialize)]
struct ApiRun {
    info: ApiRunInfo,
    #[serde(default)]
    data: ApiRunData,
    #[serde(default)]
    inputs: ApiInputs,
}

#[derive(Deserialize)]
struct ApiRunInfo {
    run_id: String,
    experiment_id: String,
    #[serde(default)]
    run_name: String,
    status: String,
    #[serde(default)]
    start_time: Option<i64>,
    #[serde(default)]
    end_time: Option<i64>,
    #[serde(default)]
    artifact_uri: String,
}

#[derive(Deserialize, Default)]
struct ApiRunData {
    #[serde(default)]
    metrics: Vec<ApiMetric>,
    #[serde(default)]
    params: Vec<Kv>,
    #[serde(default)]
    tags: Vec<Kv>,
}

#[derive(Deserialize)]
struct ApiMetric {
    key: String,
    #[serde(with = "f64_lenient")]
    value: f64,
    #[serde(default)]
    timestamp: i64,
    #[serde(default)]
    step: i64,
}

#[derive(Deserialize)]
struct Kv {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize, Default)]
struct ApiInputs {
    #[serde(default)]
    dataset_inputs: Vec<ApiDatasetInput>,
}

#[derive(Deserialize)]
struct ApiDatasetInput {
    #[serde(default)]
    tags: Vec<Kv>,
    dataset: ApiDataset,
}

#[derive(Deserialize)]
struct ApiDataset {
    name: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    source_type: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    profile: Option<String>,
}

#[derive(Deserialize)]
struct ApiModelVersion {
    name: String,
    version: String,
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    creation_timestamp: i64,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    tags: Vec<Kv>,
}

impl From<ApiModelVersion> for ModelVersion {
    fn from(v: ApiModelVersion) -> Self {
        ModelVersion {
            name: v.name,
            version: v.version,
            run_id: v.run_id,
            source: v.source,
            description: v.description,
            creation_timestamp: v.creation_timestamp,
            aliases: v.aliases,
            tags: v.tags.into_iter().map(|kv| (kv.key, kv.value)).collect(),
        }
    }
}

impl ApiRun {
    fn into_run(self) -> Run {
        let tags: BTreeMap<String, String> = self
            .data
            .tags
            .into_iter()
            .map(|kv| (kv.key, kv.value))
            .collect();
        let mut metrics: BTreeMap<String, Vec<MetricPoint>> = BTreeMap::new();
        for m in self.data.metrics {
            metrics.entry(m.key).or_default().push(MetricPoint {
                value: m.value,
                timestamp: m.timestamp,
                step: m.step,
            });
        }
        let name = if self.info.run_name.is_empty() {
            tags.get(TAG_RUN_NAME).cloned().unwrap_or_default()
        } else {
            self.info.run_name
        };
        Run {
            run_id: self.info.run_id,
            experiment_id: self.info.experiment_id,
            experiment: String::new(),
            name,
            status: self.info.status.parse().unwrap_or(RunStatus::Running),
            start_time: self.info.start_time.unwrap_or_default(),
            end_time: self.info.end_time,
            parent_run_id: tags.get(TAG_PARENT_RUN_ID).cloned(),
            params: self
                .data
                .params
                .into_iter()
                .map(|kv| (kv.key, kv.value))
                .collect(),
            metrics,
            tags,
            inputs: self
                .inputs
                .dataset_inputs
                .into_iter()
                .map(|i| DatasetInput {
                    name: i.dataset.name,
                    digest: i.dataset.digest,
                    source_type: i.dataset.source_type,
                    source: i.dataset.source,
                    schema: i.dataset.schema,
                    profile: i.dataset.profile,
                    context: i
                        .tags
                        .into_iter()
                        .find(|t| t.key == "mlflow.data.context")
                        .map(|t| t.value),
                })
                .collect(),
            remotes: BTreeMap::new(),
        }
    }
}

fn kvs<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<Value> {
    pairs
        .into_iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

fn metric_json(key: &str, p: &MetricPoint) -> Value {
    let value = if p.value.is_nan() {
        json!("NaN")
    } else if p.value.is_infinite() {
        json!(if p.value > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        })
    } else {
        json!(p.value)
    };
    json!({"key": key, "value": value, "timestamp": p.timestamp, "step": p.step})
}

/// Splits params, metrics and tags into `runs/log-batch` bodies within the server's limits.
pub(crate) fn batches(
    params: Vec<Value>,
    metrics: Vec<Value>,
    tags: Vec<Value>,
) -> Vec<(Vec<Value>, Vec<Value>, Vec<Value>)> {
    let (mut params, mut metrics, mut tags) =
        (params.into_iter(), metrics.into_iter(), tags.into_iter());
    let mut out = Vec::new();
    loop {
        let p: Vec<Value> = params.by_ref().take(MAX_BATCH_PARAMS).collect();
        let t: Vec<Value> = tags.by_ref().take(MAX_BATCH_TAGS).collect();
        let room = (MAX_BATCH_TOTAL - p.len() - t.len()).min(MAX_BATCH_METRICS);
        let m: Vec<Value> = metrics.by_ref().take(room).collect();
        if p.is_empty() && t.is_empty() && m.is_empty() {
            return out;
        }
        out.push((p, m, t));
    }
}

fn quote(value: &str) -> Result<String> {
    if value.contains('\'') {
        return Err(Error::InvalidName {
            what: "filter value",
            name: value.into(),
            reason: "single quotes are not supported",
        });
    }
    Ok(format!("'{value}'"))
}

fn ident(kind: &str, key: &str) -> Result<String> {
    if key.contains('`') {
        return Err(Error::InvalidKey {
            key: key.into(),
            reason: "backquotes are not supported in filters",
        });
    }
    Ok(format!("{kind}.`{key}`"))
}

/// The MLflow filter string for the filters it can express; the bool says whether all were.
pub(crate) fn filter_string(filters: &[Filter]) -> Result<(String, bool)> {
    let mut parts = Vec::new();
    let mut complete = true;
    for f in filters {
        match f {
            Filter::Metric(k, cmp, v) if v.is_finite() => {
                parts.push(format!("{} {} {v:?}", ident("metrics", k)?, cmp.as_str()))
            }
            // MLflow compares params with `=`, `!=` and LIKE only (400 for `<`).
            Filter::Param(k, cmp @ (Cmp::Eq | Cmp::Ne), v) => parts.push(format!(
                "{} {} {}",
                ident("params", k)?,
                cmp.as_str(),
                quote(v)?
            )),
            Filter::Tag(k, cmp @ (Cmp::Eq | Cmp::Ne), v) => parts.push(format!(
                "{} {} {}",
                ident("tags", k)?,
                cmp.as_str(),
                quote(v)?
            )),
            Filter::Status(s) => parts.push(format!("attributes.status = '{}'", s.as_str())),
            Filter::ParentRunId(id) => {
                parts.push(format!("tags.`{TAG_PARENT_RUN_ID}` = {}", quote(id)?))
            }
            _ => complete = false,
        }
    }
    Ok((parts.join(" and "), complete))
}

fn jitter(delay: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    delay + delay.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

/// What `experiments/get-by-name` says of an experiment.
#[derive(Deserialize)]
struct ServerExperiment {
    experiment_id: String,
    /// Epoch ms.
    creation_time: Option<i64>,
}

impl Inner {
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            for s in segments {
                for part in s.split('/') {
                    path.push(part);
                }
            }
        }
        url
    }

    /// Sends with retries; returns the body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Body,
    ) -> Result<Vec<u8>> {
        let url = self.url(segments);
        // A retried runs/create or model-versions/create whose first attempt did reach the
        // server would create a second run or version: those are only retried when the server
        // cannot have processed the request (no connection, 429, 503).
        let creates_duplicates = segments
            .last()
            .is_some_and(|s| matches!(*s, "runs/create" | "model-versions/create"));
        let mut attempt = 0u32;
        loop {
            let mut req = self.http.request(method.clone(), url.clone());
            if !query.is_empty() {
                req = req.query(query);
            }
            req = match &self.auth {
                Auth::None => req,
                Auth::Basic { username, password } => req.basic_auth(username, Some(password)),
                Auth::Bearer(token) => req.bearer_auth(token),
            };
            req = match &body {
                Body::None => req,
                Body::Json(v) => req.json(v),
                Body::Bytes(b) => req.body(b.clone()),
            };
            let retry_in = |attempt: u32, after: Option<Duration>| -> Option<Duration> {
                if attempt >= self.retry.max_retries {
                    return None;
                }
                let backoff = jitter(
                    self.retry
                        .base_delay
                        .saturating_mul(1u32 << attempt.min(16)),
                );
                Some(after.unwrap_or(backoff).min(self.retry.max_delay))
            };
            let resp = match req.send().await {
                Ok(resp) => resp,
                Err(e) => {
                    // A timeout is not retried: a server that hung for the whole timeout
                    // would make a best-effort push stall the pipeline for minutes.
                    let transient = e.is_connect()
                        || (!creates_duplicates && !e.is_timeout() && e.is_request());
                    match retry_in(attempt, None).filter(|_| transient) {
                        Some(delay) => {
                            tracing::debug!("{url}: {e}; retrying in {delay:?}");
                            tokio::time::sleep(delay).await;
                            attempt += 1;
                            continue;
                        }
                        None => {
                            return Err(Error::Http {
                                url: url.to_string(),
                                source: e.without_url(),
                            });
                        }
                    }
                }
            };
            let status = resp.status();
            if status.is_success() {
                return resp
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .map_err(|e| Error::Http {
                        url: url.to_string(),
                        source: e.without_url(),
                    });
            }
            let retryable = match status.as_u16() {
                429 | 503 => true,
                408 | 500 | 502 | 504 => !creates_duplicates,
                _ => false,
            };
            let after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            if retryable && let Some(delay) = retry_in(attempt, after) {
                tracing::debug!("{url}: {status}; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                attempt += 1;
                continue;
            }
            let text = resp.text().await.unwrap_or_default();
            return Err(api_error(&url, status, &text));
        }
    }

    async fn call(&self, method: Method, endpoint: &str, body: Body) -> Result<Value> {
        self.call_q(method, endpoint, &[], body).await
    }

    async fn call_q(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(&str, String)],
        body: Body,
    ) -> Result<Value> {
        let bytes = self
            .send(method, &["api/2.0/mlflow", endpoint], query, body)
            .await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(json!({}));
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
            url: self.url(&["api/2.0/mlflow", endpoint]).to_string(),
            reason: e.to_string(),
        })
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &str,
        value: Value,
        field: &str,
    ) -> Result<T> {
        let inner = value.get(field).cloned().unwrap_or(Value::Null);
        serde_json::from_value(inner).map_err(|e| Error::Decode {
            url: self.url(&["api/2.0/mlflow", endpoint]).to_string(),
            reason: format!("field {field:?}: {e}"),
        })
    }

    async fn experiment_id(&self, name: &str) -> Result<String> {
        crate::model::validate_name("experiment name", name)?;
        if let Some(id) = self
            .experiments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(id.clone());
        }
        let id = match self.experiment_by_name(name).await? {
            Some(e) => e.experiment_id,
            None => match self
                .call(
                    Method::POST,
                    "experiments/create",
                    Body::Json(json!({"name": name})),
                )
                .await
            {
                Ok(v) => self.decode("experiments/create", v, "experiment_id")?,
                Err(Error::Api {
                    code: Some(code), ..
                }) if code == "RESOURCE_ALREADY_EXISTS" => self
                    .experiment_by_name(name)
                    .await?
                    .map(|e| e.experiment_id)
                    .ok_or_else(|| Error::Decode {
                        url: self.base.to_string(),
                        reason: format!("experiment {name:?} vanished"),
                    })?,
                Err(e) => return Err(e),
            },
        };
        self.experiments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), id.clone());
        Ok(id)
    }

    async fn experiment_by_name(&self, name: &str) -> Result<Option<ServerExperiment>> {
        let q = [("experiment_name", name.to_string())];
        match self
            .call_q(Method::GET, "experiments/get-by-name", &q, Body::None)
            .await
        {
            Ok(v) => {
                let found: ServerExperiment =
                    self.decode("experiments/get-by-name", v, "experiment")?;
                // Every lookup fills the id cache: `sync` checks its experiments, then pushes
                // to them without asking again.
                self.experiments
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.to_string(), found.experiment_id.clone());
                Ok(Some(found))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_run(&self, run_id: &str) -> Result<Run> {
        let run = self
            .api_run(run_id)
            .await
            .map_err(|e| e.not_found_as(|| Error::RunNotFound(run_id.to_string())))?;
        Ok(run.into_run())
    }

    async fn get_run_info(&self, run_id: &str) -> Result<ApiRunInfo> {
        Ok(self.api_run(run_id).await?.info)
    }

    /// `runs/get`, as the server answers it.
    async fn api_run(&self, run_id: &str) -> Result<ApiRun> {
        let v = self
            .call_q(
                Method::GET,
                "runs/get",
                &[("run_id", run_id.to_string())],
                Body::None,
            )
            .await?;
        self.decode("runs/get", v, "run")
    }

    async fn search_raw(
        &self,
        experiment_id: &str,
        filter: &str,
        order_by: &[String],
        max: Option<usize>,
    ) -> Result<Vec<ApiRun>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = max.map(|m| (m - out.len()).min(1000)).unwrap_or(1000);
            if page == 0 {
                break;
            }
            let mut body = json!({"experiment_ids": [experiment_id], "filter": filter, "order_by": order_by, "max_results": page});
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v = self
                .call(Method::POST, "runs/search", Body::Json(body))
                .await?;
            token = v
                .get("next_page_token")
                .and_then(Value::as_str)
                .map(str::to_string);
            let runs: Option<Vec<ApiRun>> = self.decode("runs/search", v, "runs")?;
            out.extend(runs.unwrap_or_default());
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    async fn search_runs(&self, query: &RunQuery) -> Result<Vec<Run>> {
        let Some(ServerExperiment {
            experiment_id: exp_id,
            ..
        }) = self.experiment_by_name(&query.experiment).await?
        else {
            return Ok(Vec::new());
        };
        let (filter, complete) = filter_string(&query.filters)?;
        let order_by = match &query.order_by {
            OrderBy::Metric { key, descending } => vec![format!(
                "{} {}",
                ident("metrics", key)?,
                if *descending { "DESC" } else { "ASC" }
            )],
            OrderBy::StartTime { descending } => vec![format!(
                "attributes.start_time {}",
                if *descending { "DESC" } else { "ASC" }
            )],
        };
        let max = if complete { query.max_results } else { None };
        let runs = self.search_raw(&exp_id, &filter, &order_by, max).await?;
        let runs = runs
            .into_iter()
            .map(|r| {
                let mut run = r.into_run();
                run.experiment = query.experiment.clone();
                run
            })
            .collect();
        Ok(query.apply(runs))
    }

    async fn pushed_runs(&self, experiment_id: &str) -> Result<HashMap<String, RemoteRecord>> {
        let filter = format!("tags.`{TAG_LOCAL_RUN_ID}` LIKE '%'");
        let runs = self.search_raw(experiment_id, &filter, &[], None).await?;
        Ok(runs
            .into_iter()
            .filter_map(|r| {
                let local = r
                    .data
                    .tags
                    .iter()
                    .find(|t| t.key == TAG_LOCAL_RUN_ID)?
                    .value
                    .clone();
                let complete = r
                    .info
                    .status
                    .parse::<RunStatus>()
                    .is_ok_and(RunStatus::is_terminal);
                Some((
                    local,
                    RemoteRecord {
                        run_id: r.info.run_id,
                        artifact_uri: r.info.artifact_uri,
                        complete,
                        pushed_at: 0,
                    },
                ))
            })
            .collect())
    }

    async fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        let query = [
            ("run_id", run_id.to_string()),
            ("metric_key", key.to_string()),
            ("max_results", "25000".to_string()),
        ];
        let metrics: Vec<ApiMetric> = self
            .get_all_pages("metrics/get-history", &query, "metrics")
            .await?;
        Ok(metrics
            .into_iter()
            .map(|m| MetricPoint {
                value: m.value,
                timestamp: m.timestamp,
                step: m.step,
            })
            .collect())
    }

    /// Follows `next_page_token` through every page of a GET listing and concatenates the
    /// `field` arrays (a page without the field contributes nothing).
    async fn get_all_pages<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &str,
        query: &[(&str, String)],
        field: &str,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = query.to_vec();
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let v = self.call_q(Method::GET, endpoint, &q, Body::None).await?;
            token = v
                .get("next_page_token")
                .and_then(Value::as_str)
                .map(str::to_string);
            let page: Option<Vec<T>> = self.decode(endpoint, v, field)?;
            out.extend(page.unwrap_or_default());
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn list_artifacts(&self, run_id: &str) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct F {
            path: String,
            #[serde(default)]
            is_dir: bool,
        }
        let mut out = Vec::new();
        let mut dirs = vec![String::new()];
        while let Some(dir) = dirs.pop() {
            let mut q = vec![("run_id", run_id.to_string())];
            if !dir.is_empty() {
                q.push(("path", dir));
            }
            let v = self
                .call_q(Method::GET, "artifacts/list", &q, Body::None)
                .await?;
            let files: Option<Vec<F>> = self.decode("artifacts/list", v, "files")?;
            for f in files.unwrap_or_default() {
                if f.is_dir {
                    dirs.push(f.path)
                } else {
                    out.push(f.path)
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn artifact_segments(run_id: &str, artifact_uri: &str, rel: &str) -> Result<String> {
        let root = artifact_uri
            .strip_prefix("mlflow-artifacts:")
            .ok_or_else(|| Error::UnsupportedArtifactUri {
                run_id: run_id.to_string(),
                uri: artifact_uri.to_string(),
            })?;
        let root = root.trim_start_matches('/').trim_end_matches('/');
        Ok(format!("{root}/{rel}"))
    }

    async fn put_artifact(
        &self,
        run_id: &str,
        artifact_uri: &str,
        rel: &str,
        bytes: Vec<u8>,
    ) -> Result<()> {
        let path = Self::artifact_segments(run_id, artifact_uri, rel)?;
        self.send(
            Method::PUT,
            &["api/2.0/mlflow-artifacts/artifacts", &path],
            &[],
            Body::Bytes(bytes),
        )
        .await
        .map(drop)
    }

    async fn get_artifact(&self, run_id: &str, artifact_uri: &str, rel: &str) -> Result<Vec<u8>> {
        let path = Self::artifact_segments(run_id, artifact_uri, rel)?;
        self.send(
            Method::GET,
            &["api/2.0/mlflow-artifacts/artifacts", &path],
            &[],
            Body::None,
        )
        .await
    }

    async fn create_registered_model(&self, name: &str) -> Result<()> {
        crate::model::validate_name("model name", name)?;
        match self
            .call(
                Method::POST,
                "registered-models/create",
                Body::Json(json!({"name": name})),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(Error::Api {
                code: Some(code), ..
            }) if code == "RESOURCE_ALREADY_EXISTS" => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn create_model_version(
        &self,
        name: &str,
        run_id: &str,
        source: &str,
        description: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<ModelVersion> {
        let body = json!({"name": name, "source": source, "run_id": run_id, "description": description, "tags": kvs(tags)});
        let v = self
            .call(Method::POST, "model-versions/create", Body::Json(body))
            .await
            .map_err(|e| e.not_found_as(|| Error::ModelNotFound(name.to_string())))?;
        let mv: ApiModelVersion = self.decode("model-versions/create", v, "model_version")?;
        Ok(mv.into())
    }

    async fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<Option<ModelVersion>> {
        let q = [("name", name.to_string()), ("alias", alias.to_string())];
        match self
            .call_q(Method::GET, "registered-models/alias", &q, Body::None)
            .await
        {
            Ok(v) => {
                let mv: ApiModelVersion =
                    self.decode("registered-models/alias", v, "model_version")?;
                Ok(Some(mv.into()))
            }
            Err(e) if e.is_not_found() => Err(Error::ModelNotFound(name.to_string())),
            Err(Error::Api {
                status: 400,
                code: Some(code),
                ..
            }) if code == "INVALID_PARAMETER_VALUE" => {
                // MLflow answers 400 for a missing alias; tell it apart from a bad alias name.
                crate::model::validate_alias(alias)?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn list_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        #[derive(Deserialize)]
        struct Alias {
            alias: String,
            version: String,
        }
        let v = self
            .call_q(
                Method::GET,
                "registered-models/get",
                &[("name", name.to_string())],
                Body::None,
            )
            .await
            .map_err(|e| e.not_found_as(|| Error::ModelNotFound(name.to_string())))?;
        let model = v.get("registered_model").cloned().unwrap_or_default();
        let aliases: Vec<Alias> =
            serde_json::from_value(model.get("aliases").cloned().unwrap_or(json!([])))
                .unwrap_or_default();
        let query = [
            ("filter", format!("name='{name}'")),
            ("max_results", "1000".to_string()),
        ];
        let versions: Vec<ApiModelVersion> = self
            .get_all_pages("model-versions/search", &query, "model_versions")
            .await?;
        let mut out: Vec<ModelVersion> = versions.into_iter().map(ModelVersion::from).collect();
        for v in &mut out {
            v.aliases = aliases
                .iter()
                .filter(|a| a.version == v.version)
                .map(|a| a.alias.clone())
                .collect();
            v.aliases.sort();
        }
        out.sort_by_key(|v| v.version.parse::<u64>().unwrap_or(u64::MAX));
        Ok(out)
    }

    /// Brings one local run to the server: runs/create (unless it exists there), log-batch
    /// call(s), log-inputs, artifact PUTs, runs/update. Every step is idempotent on a SQL
    /// backend, so a re-push after a failure completes the run without duplicating it.
    async fn push(&self, job: PushJob) -> Result<RemoteRecord> {
        let run = &job.run;
        let fresh = job.existing.is_none();
        let (remote_id, artifact_uri) = match &job.existing {
            Some(rec) => (rec.run_id.clone(), rec.artifact_uri.clone()),
            None => {
                let mut tags: BTreeMap<&String, &String> = run.tags.iter().collect();
                let parent_key = TAG_PARENT_RUN_ID.to_string();
                let local_key = TAG_LOCAL_RUN_ID.to_string();
                if let Some(parent) = &job.remote_parent {
                    tags.insert(&parent_key, parent);
                }
                tags.insert(&local_key, &run.run_id);
                let body = json!({
                    "experiment_id": job.experiment_id,
                    "run_name": run.name,
                    "start_time": run.start_time,
                    "user_id": run.tags.get(TAG_USER).cloned().unwrap_or_default(),
                    "tags": kvs(tags),
                });
                let v = self
                    .call(Method::POST, "runs/create", Body::Json(body))
                    .await?;
                let info: ApiRunInfo = self.decode::<ApiRun>("runs/create", v, "run")?.info;
                (info.run_id, info.artifact_uri)
            }
        };
        let params = kvs(&run.params);
        let metrics: Vec<Value> = run
            .metrics
            .iter()
            .flat_map(|(k, pts)| pts.iter().map(move |p| metric_json(k, p)))
            .collect();
        let mut tags = if fresh { Vec::new() } else { kvs(&run.tags) };
        if !fresh && let Some(parent) = &job.remote_parent {
            tags.push(json!({"key": TAG_PARENT_RUN_ID, "value": parent}));
        }
        for (p, m, t) in batches(params, metrics, tags) {
            let body = json!({"run_id": remote_id, "params": p, "metrics": m, "tags": t});
            self.call(Method::POST, "runs/log-batch", Body::Json(body))
                .await?;
        }
        if !run.inputs.is_empty() {
            let datasets: Vec<Value> = run
                .inputs
                .iter()
                .map(|i| {
                    let mut d = json!({"name": i.name, "digest": i.digest, "source_type": i.source_type, "source": i.source});
                    if let Some(s) = &i.schema {
                        d["schema"] = json!(s);
                    }
                    if let Some(p) = &i.profile {
                        d["profile"] = json!(p);
                    }
                    let tags: Vec<Value> = i.context.iter().map(|c| json!({"key": "mlflow.data.context", "value": c})).collect();
                    json!({"tags": tags, "dataset": d})
                })
                .collect();
            self.call(
                Method::POST,
                "runs/log-inputs",
                Body::Json(json!({"run_id": remote_id, "datasets": datasets})),
            )
            .await?;
        }
        for (rel, path) in &job.artifacts {
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|e| Error::io(path, e))?;
            self.put_artifact(&remote_id, &artifact_uri, rel, bytes)
                .await?;
        }
        let mut update = json!({"run_id": remote_id, "status": run.status.as_str()});
        if let Some(end) = run.end_time {
            update["end_time"] = json!(end);
        }
        self.call(Method::POST, "runs/update", Body::Json(update))
            .await?;
        Ok(RemoteRecord {
            run_id: remote_id,
            artifact_uri,
            complete: run.status.is_terminal(),
            pushed_at: job.now,
        })
    }

    async fn push_all(
        self,
        jobs: Vec<PushJob>,
        concurrency: usize,
        mut on_done: impl FnMut(usize, &Result<RemoteRecord>),
    ) -> Vec<Result<RemoteRecord>> {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let down = Arc::new(AtomicBool::new(false));
        let mut set = tokio::task::JoinSet::new();
        let n = jobs.len();
        for (i, job) in jobs.into_iter().enumerate() {
            let (client, semaphore, down) = (self.clone(), semaphore.clone(), down.clone());
            set.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                if down.load(Ordering::Relaxed) {
                    return (
                        i,
                        Err(Error::Unreachable {
                            url: client.base.to_string(),
                        }),
                    );
                }
                let result = client.push(job).await;
                if matches!(result, Err(Error::Http { .. })) {
                    down.store(true, Ordering::Relaxed);
                }
                (i, result)
            });
        }
        let mut out: Vec<Option<Result<RemoteRecord>>> = (0..n).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            if let Ok((i, result)) = joined {
                on_done(i, &result);
                out[i] = Some(result);
            }
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::Decode {
                        url: self.base.to_string(),
                        reason: "push task panicked".into(),
                    })
                })
            })
            .collect()
    }
}

fn api_error(url: &Url, status: StatusCode, text: &str) -> Error {
    #[derive(Deserialize)]
    struct Body {
        error_code: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_str::<Body>(text) {
        Ok(b) if b.error_code.is_some() || b.message.is_some() => Error::Api {
            url: url.to_string(),
            status: status.as_u16(),
            code: b.error_code,
            message: b.message.unwrap_or_default(),
        },
        _ => {
            // One line: an HTML page's lines and indentation become single spaces.
            let mut message: String = text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(300)
                .collect();
            if message.is_empty() {
                message = status
                    .canonical_reason()
                    .unwrap_or("no body")
                    .to_lowercase();
            }
            Error::Api {
                url: url.to_string(),
                status: status.as_u16(),
                code: None,
                message,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_every_limit() {
        let v = |n: usize| (0..n).map(|i| json!(i)).collect::<Vec<_>>();
        let b = batches(v(250), v(2500), v(130));
        for (p, m, t) in &b {
            assert!(
                p.len() <= 100
                    && t.len() <= 100
                    && m.len() <= 1000
                    && p.len() + m.len() + t.len() <= 1000
            );
        }
        let total: usize = b.iter().map(|(p, m, t)| p.len() + m.len() + t.len()).sum();
        assert_eq!(total, 250 + 2500 + 130);
        assert_eq!(b.len(), 3);
        assert!(batches(vec![], vec![], vec![]).is_empty());
    }

    #[test]
    fn uris_are_normalised_without_credentials() {
        let (url, creds) = normalize_uri("http://bob:s3cret@127.0.0.1:5000/").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:5000/");
        assert_eq!(creds, Some(("bob".into(), "s3cret".into())));
        let err = normalize_uri("file:///tmp/mlruns").unwrap_err().to_string();
        assert!(err.contains("unsupported tracking uri"), "{err}");
        for secret in [
            "ftp://bob:s3cret@host",
            "bob:s3cret@host:5000",
            "http://bob:s3@cret@host:99999",
        ] {
            let err = normalize_uri(secret).unwrap_err().to_string();
            assert!(!err.contains("s3") && !err.contains("cret"), "{err}");
            assert!(err.contains("<redacted>@host"), "{err}");
        }
    }

    #[test]
    fn typed_filters_translate_to_mlflow_grammar() {
        let (s, complete) = filter_string(&[
            Filter::Metric("sharpe".into(), Cmp::Gt, 0.5),
            Filter::Param("lookback".into(), Cmp::Eq, "20".into()),
            Filter::Status(RunStatus::Finished),
            Filter::TopLevel,
        ])
        .unwrap();
        assert_eq!(
            s,
            "metrics.`sharpe` > 0.5 and params.`lookback` = '20' and attributes.status = 'FINISHED'"
        );
        assert!(!complete);
        assert!(filter_string(&[Filter::Param("p".into(), Cmp::Eq, "it's".into())]).is_err());
        // The server refuses `<` on params: left to the client.
        let (s, complete) =
            filter_string(&[Filter::Param("lookback".into(), Cmp::Gt, "20".into())]).unwrap();
        assert_eq!(s, "");
        assert!(!complete);
    }

    #[test]
    fn non_json_errors_keep_their_text() {
        let url = Url::parse("http://127.0.0.1:1/x").unwrap();
        let e = api_error(
            &url,
            StatusCode::UNAUTHORIZED,
            "<html>You are not authenticated</html>",
        );
        assert!(
            e.to_string().contains("401") && e.to_string().contains("not authenticated"),
            "{e}"
        );
        // A 404 page of a wrong path prefix is an error of its own, on one line, not "missing".
        let e = api_error(
            &url,
            StatusCode::NOT_FOUND,
            "<!doctype html>\n<html>\n  <title>404 Not Found</title>\n</html>\n",
        );
        assert!(!e.is_not_found(), "{e}");
        assert!(
            e.to_string()
                .contains("<!doctype html> <html> <title>404 Not Found</title> </html>"),
            "{e}"
        );
        let e = api_error(
            &url,
            StatusCode::NOT_FOUND,
            r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Could not find experiment"}"#,
        );
        assert!(e.is_not_found(), "{e}");
        let e = api_error(
            &url,
            StatusCode::BAD_REQUEST,
            r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"bad"}"#,
        );
        assert!(
            matches!(e, Error::Api { status: 400, code: Some(ref c), .. } if c == "INVALID_PARAMETER_VALUE")
        );
    }
}
