//! A client for MLflow's REST API (tracking, artifacts proxy, model registry), as verified
//! against MLflow 3.17/3.18 (`shared/docs/mlflow.md`).
//!
//! The public methods block: the client owns a small tokio runtime and uses it internally for
//! parallel pushes ([`crate::Tracker`] logs a grid's children 8 at a time). Do not call it from
//! inside an async runtime.
//!
//! Requests are retried on a connection error and HTTP 408/429/500/502/503/504, with
//! exponential backoff from [`RetryPolicy::base_delay`] (with jitter), honouring
//! `Retry-After`. Two exceptions: a timeout is not retried (a hung server must not stall a
//! best-effort push for minutes), and `runs/create` / `model-versions/create`, which would
//! create a duplicate if the first attempt was processed, are retried only when the server
//! cannot have processed it (connection refused, 429, 503). Errors carry the URL (never
//! credentials), the status, MLflow's `error_code` and its message, or the text body when the
//! server did not answer JSON (auth and proxy layers do not). What the server wrote reaches an
//! error scrubbed ([`momentum_http::Secrets::scrub`]): without the password, token or Basic
//! header the client sent (a proxy may echo the request headers), on one line, shortened.
//!
//! Modules: this one holds the public client and its settings; [`transport`] sends one
//! request (auth, retries, errors); [`wire`] holds MLflow's JSON shapes; [`filter`] the search
//! grammar; [`runs`], [`artifacts`], [`registry`] and [`push`] the calls of each area. The
//! retry mechanism and the HTTP client set-up are `momentum-http`'s.

mod artifacts;
mod filter;
mod push;
mod registry;
mod runs;
mod transport;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use momentum_http::RetryPolicy;
use momentum_http::Secrets;

use reqwest::{Method, Url};
use serde_json::json;

use crate::error::{Result, TrackingError};
use crate::model::{MetricPoint, ModelVersion, RemoteRecord, Run, RunQuery};

pub(crate) use push::PushJob;
pub use push::{MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS, MAX_BATCH_TOTAL};
use transport::{Body, Inner};

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

    /// What this authentication sends, to be scrubbed from the server's answers.
    fn secrets(&self) -> Secrets {
        match self {
            Auth::None => Secrets::default(),
            Auth::Basic { username, password } => Secrets::default().with_basic(username, password),
            Auth::Bearer(token) => Secrets::default().with(token),
        }
    }
}

/// The tracking client's retries: 5 retries from 250 ms, at most 10 s apart, a server's
/// `Retry-After` honoured up to 10 s.
pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy {
    max_retries: 5,
    base_delay: Duration::from_millis(250),
    max_delay: Duration::from_secs(10),
    max_retry_after: Duration::from_secs(10),
};

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
    /// Largest response body read, in bytes (an artifact download included): a longer one (a
    /// server that never stops sending) fails the request instead of exhausting memory.
    pub max_body_bytes: usize,
}

impl RestConfig {
    /// Defaults for `uri`: auth from the environment, [`DEFAULT_RETRY`], bodies of at most
    /// 256 MiB, 30 s timeout,
    /// concurrency 8.
    pub fn new(uri: impl Into<String>) -> Self {
        RestConfig {
            uri: uri.into(),
            auth: Auth::from_env(),
            retry: DEFAULT_RETRY,
            timeout: Duration::from_secs(30),
            concurrency: 8,
            max_body_bytes: 4 * momentum_http::DEFAULT_MAX_BODY,
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

/// Normalises a tracking URI: checks the scheme, removes credentials and a trailing `/`.
/// Returns the URL and the credentials found in it.
pub fn normalize_uri(uri: &str) -> Result<(Url, Option<(String, String)>)> {
    let mut url = Url::parse(uri.trim()).map_err(|_| TrackingError::UnsupportedUri(redact(uri)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(TrackingError::UnsupportedUri(redact(uri)));
    }
    // A URL holds them percent-encoded (`p%40ss` for `p@ss`); Basic auth sends them as they are.
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .map(String::from)
            .map_err(|_| TrackingError::UriCredentials(redact(uri)))
    };
    let creds = if url.username().is_empty() {
        None
    } else {
        Some((
            decode(url.username())?,
            decode(url.password().unwrap_or_default())?,
        ))
    };
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
        let (base, creds) = normalize_uri(&config.uri)?;
        let auth = match (config.auth, creds) {
            (Auth::None, Some((username, password))) => Auth::Basic { username, password },
            (auth, _) => auth,
        };
        let http = momentum_http::client(
            concat!("momentum-tracking/", env!("CARGO_PKG_VERSION")),
            config.timeout,
            reqwest::redirect::Policy::default(),
        )
        .map_err(|e| TrackingError::Http {
            url: base.to_string(),
            source: e.without_url(),
        })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(TrackingError::Runtime)?;
        Ok(RestClient {
            inner: Inner {
                http,
                base,
                secrets: auth.secrets(),
                auth,
                retry: config.retry,
                max_body_bytes: config.max_body_bytes,
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

    /// Where the server puts the artifacts of the experiment `name` when that is not behind its
    /// artifact proxy (`mlflow-artifacts:/`), scrubbed of the credentials this client sends:
    /// a place this client cannot write. `None` when proxied, or not there yet (created
    /// by the first push, under the server's default).
    pub(crate) fn unproxied_artifacts(&self, name: &str) -> Result<Option<String>> {
        let found = self.rt.block_on(self.inner.experiment_by_name(name))?;
        Ok(found
            .and_then(|e| e.artifact_location)
            .filter(|location| !location.starts_with(artifacts::PROXIED_ARTIFACTS))
            .map(|location| self.inner.secrets.scrub(&location)))
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
    /// are translated to MLflow's grammar; the ones it cannot express ([`Filter::TopLevel`](crate::Filter::TopLevel))
    /// are applied to the results.
    pub fn search_runs(&self, query: &RunQuery) -> Result<Vec<Run>> {
        self.rt.block_on(self.inner.search_runs(query))
    }

    /// The ids of the runs of experiment `experiment` whose id starts with `prefix`, at most
    /// `max` (`runs/get` takes whole ids only). None when the experiment does not exist, or when
    /// `prefix` is not hex, as every MLflow run id is (it is not sent: LIKE would read `%` and
    /// `_` as wildcards).
    pub fn run_ids_with_prefix(
        &self,
        experiment: &str,
        prefix: &str,
        max: usize,
    ) -> Result<Vec<String>> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        self.rt.block_on(async {
            match self.inner.experiment_by_name(experiment).await? {
                Some(e) => {
                    self.inner
                        .run_ids_with_prefix(&e.experiment_id, &prefix, max)
                        .await
                }
                None => Ok(Vec::new()),
            }
        })
    }

    /// The runs tagged as children of run `run_id` (`mlflow.parentRunId`), in its experiment.
    pub fn children_of(&self, run_id: &str) -> Result<Vec<Run>> {
        self.rt.block_on(self.inner.children_of(run_id))
    }

    /// How many child runs (runs tagged `mlflow.parentRunId`) each run of experiment
    /// `experiment` has, by server run id; runs without children are left out. One paged
    /// search (empty when the experiment does not exist).
    pub fn child_counts(&self, experiment: &str) -> Result<BTreeMap<String, usize>> {
        self.rt.block_on(async {
            match self.inner.experiment_by_name(experiment).await? {
                Some(e) => self.inner.child_counts(&e.experiment_id).await,
                None => Ok(BTreeMap::new()),
            }
        })
    }

    /// Every point of a metric's history.
    pub fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        self.rt.block_on(self.inner.metric_history(run_id, key))
    }

    /// The files under a run's artifact root, as relative paths, recursively, sorted.
    pub fn list_artifacts(&self, run_id: &str) -> Result<Vec<String>> {
        self.rt.block_on(self.inner.list_artifacts(run_id))
    }

    /// The bytes of one artifact of a run, through the server's artifact proxy (at most
    /// `max_body_bytes`: [`RestClient::download_artifact_to`] takes any size).
    pub fn download_artifact(&self, run_id: &str, rel: &str) -> Result<Vec<u8>> {
        self.rt.block_on(async {
            let run = self.inner.get_run_info(run_id).await?;
            self.inner
                .get_artifact(run_id, &run.artifact_uri, rel)
                .await
        })
    }

    /// One artifact of a run into the file `dest` as it arrives, whatever its size (a grid
    /// table of millions of combinations); `dest` is removed again when the transfer breaks
    /// off. Returns the number of bytes.
    pub fn download_artifact_to(&self, run_id: &str, rel: &str, dest: &Path) -> Result<u64> {
        self.rt.block_on(async {
            let run = self.inner.get_run_info(run_id).await?;
            self.inner
                .get_artifact_to(run_id, &run.artifact_uri, (rel, dest))
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

    /// Sets tag `key` of a model version to `value` (MLflow overwrites an existing tag).
    pub fn set_version_tag(&self, name: &str, version: &str, key: &str, value: &str) -> Result<()> {
        let body = json!({"name": name, "version": version, "key": key, "value": value});
        self.rt
            .block_on(
                self.inner
                    .call(Method::POST, "model-versions/set-tag", Body::Json(body)),
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

    /// Remote runs of an experiment carrying the [`TAG_LOCAL_RUN_ID`](crate::model::TAG_LOCAL_RUN_ID) tag, by local id.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_normalised_without_credentials() {
        let (url, creds) = normalize_uri("http://bob:s3cret@127.0.0.1:5000/").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:5000/");
        assert_eq!(creds, Some(("bob".into(), "s3cret".into())));
        // Percent-encoded in the URL, sent decoded.
        let (url, creds) = normalize_uri("http://b%C3%B6b:p%40ss%2Fw%3A1@127.0.0.1:5000").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:5000/");
        assert_eq!(creds, Some(("böb".into(), "p@ss/w:1".into())));
        // Not UTF-8 once decoded: refused, without echoing it.
        let err = normalize_uri("http://bob:s3%FFcret@host")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "tracking uri \"http://<redacted>@host\": its user or password is not UTF-8 once \
             percent-decoded"
        );
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
}
