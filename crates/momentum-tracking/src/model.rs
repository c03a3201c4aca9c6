//! The data both backends speak: runs, metrics, dataset inputs, queries, model versions, and
//! the client-side validation MLflow does not do (or does silently).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrackingError};

/// Longest param/metric/tag key MLflow accepts.
pub const MAX_KEY_LEN: usize = 250;
/// Longest param value MLflow stores (longer ones are silently truncated by the server).
pub const MAX_PARAM_VALUE_LEN: usize = 6000;
/// Longest tag value MLflow stores (longer ones are silently truncated by the server).
pub const MAX_TAG_VALUE_LEN: usize = 8000;
/// Longest dataset digest MLflow accepts.
pub const MAX_DIGEST_LEN: usize = 36;

/// System tag: the run's display name.
pub const TAG_RUN_NAME: &str = "mlflow.runName";
/// System tag: who ran it.
pub const TAG_USER: &str = "mlflow.user";
/// System tag: the program that ran it.
pub const TAG_SOURCE_NAME: &str = "mlflow.source.name";
/// System tag: `LOCAL`.
pub const TAG_SOURCE_TYPE: &str = "mlflow.source.type";
/// System tag: the git commit of the code.
pub const TAG_GIT_COMMIT: &str = "mlflow.source.git.commit";
/// System tag: the parent run of a nested run (a remote id on the server).
pub const TAG_PARENT_RUN_ID: &str = "mlflow.parentRunId";
/// System tag: the run description (markdown) shown in the UI.
pub const TAG_NOTE: &str = "mlflow.note.content";
/// Tag this crate puts on every pushed run: the local run id, used to make `sync` idempotent.
pub const TAG_LOCAL_RUN_ID: &str = "momentum.localRunId";

/// The lifecycle state of a run. The server ignores unknown statuses silently, so only these
/// five exist here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// In progress.
    Running,
    /// Queued.
    Scheduled,
    /// Done successfully.
    Finished,
    /// Done with an error.
    Failed,
    /// Stopped.
    Killed,
}

impl RunStatus {
    /// MLflow's spelling (`FINISHED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// True for FINISHED, FAILED and KILLED.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = TrackingError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "RUNNING" => RunStatus::Running,
            "SCHEDULED" => RunStatus::Scheduled,
            "FINISHED" => RunStatus::Finished,
            "FAILED" => RunStatus::Failed,
            "KILLED" => RunStatus::Killed,
            _ => return Err(TrackingError::InvalidStatus(s.to_string())),
        })
    }
}

/// One metric observation to log. `timestamp` (epoch ms) is filled from the tracker's clock
/// when `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Metric key.
    pub key: String,
    /// Value; NaN and infinities are allowed (sent to MLflow as strings).
    pub value: f64,
    /// Step (e.g. epoch or fold), 0 by default.
    pub step: i64,
    /// Epoch milliseconds, or `None` for "now" by the tracker's clock.
    pub timestamp: Option<i64>,
}

impl Metric {
    /// A metric at step 0, timestamped when logged.
    pub fn new(key: impl Into<String>, value: f64) -> Self {
        Metric {
            key: key.into(),
            value,
            step: 0,
            timestamp: None,
        }
    }

    /// The same metric at `step`.
    pub fn at_step(mut self, step: i64) -> Self {
        self.step = step;
        self
    }

    /// The same metric with an explicit timestamp (epoch ms).
    pub fn at_time(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
}

/// One stored point of a metric's history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Value (NaN/±Inf kept; stored as strings in JSON).
    #[serde(with = "f64_lenient")]
    pub value: f64,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// Step.
    pub step: i64,
}

/// A dataset a run consumed (logged with MLflow's `runs/log-inputs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInput {
    /// Dataset name, searchable on the server as `dataset.name = '...'`.
    pub name: String,
    /// Short content digest, at most 36 characters (put the full hash in `source` or `profile`).
    pub digest: String,
    /// `local`, `http`, ...
    pub source_type: String,
    /// JSON string describing the source, e.g. `{"uri": "data/raw/prices.parquet"}`.
    pub source: String,
    /// Optional JSON string schema.
    #[serde(default)]
    pub schema: Option<String>,
    /// Optional JSON string profile (row counts, full hash, ...).
    #[serde(default)]
    pub profile: Option<String>,
    /// `mlflow.data.context` tag: `training`, `testing`, ...
    #[serde(default)]
    pub context: Option<String>,
}

impl DatasetInput {
    /// A local dataset. `digest` longer than 36 characters is an error when logged; use
    /// [`DatasetInput::from_sha256`] to shorten a full hash.
    pub fn new(name: impl Into<String>, digest: impl Into<String>, uri: &str) -> Self {
        DatasetInput {
            name: name.into(),
            digest: digest.into(),
            source_type: "local".into(),
            source: serde_json::json!({ "uri": uri }).to_string(),
            schema: None,
            profile: None,
            context: None,
        }
    }

    /// A local dataset identified by a full hex hash: the digest is its first 8 characters (as
    /// MLflow's Python client does) and the full hash goes into `profile`.
    pub fn from_sha256(name: impl Into<String>, sha256_hex: &str, uri: &str) -> Self {
        let mut input =
            DatasetInput::new(name, sha256_hex.chars().take(8).collect::<String>(), uri);
        input.profile = Some(serde_json::json!({ "sha256": sha256_hex }).to_string());
        input
    }

    /// The same input with an `mlflow.data.context` tag.
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }
}

/// A file to attach to a run: `path` on disk, stored as `dest` (a relative artifact path;
/// the file name when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    /// Source file.
    pub path: PathBuf,
    /// Relative destination inside the run's artifacts, e.g. `reports/trades.csv`.
    pub dest: Option<String>,
}

/// A tracking experiment (a named group of runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Experiment {
    /// Backend id: a 16-hex-digit hash of the name locally, MLflow's numeric id remotely.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Epoch ms.
    pub creation_time: i64,
}

/// The server a local run was pushed to, and its id there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRecord {
    /// The run's id on that server.
    pub run_id: String,
    /// Its artifact root there (`mlflow-artifacts:/...`).
    pub artifact_uri: String,
    /// True once everything (data, artifacts, final status) reached the server.
    pub complete: bool,
    /// Epoch ms of the last push.
    pub pushed_at: i64,
}

/// A run as read back from either backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Run id (32 lowercase hex digits, like MLflow's).
    pub run_id: String,
    /// Experiment id in the backend it was read from.
    pub experiment_id: String,
    /// Experiment name (empty when read from a server).
    pub experiment: String,
    /// Display name.
    pub name: String,
    /// Status.
    pub status: RunStatus,
    /// Epoch ms.
    pub start_time: i64,
    /// Epoch ms, `None` while running.
    pub end_time: Option<i64>,
    /// Parent run (nested runs), in the same backend.
    pub parent_run_id: Option<String>,
    /// Params.
    pub params: BTreeMap<String, String>,
    /// Metric histories (a server read returns the latest point only).
    pub metrics: BTreeMap<String, Vec<MetricPoint>>,
    /// Tags (system tags included).
    pub tags: BTreeMap<String, String>,
    /// Dataset inputs.
    pub inputs: Vec<DatasetInput>,
    /// Servers this (local) run was pushed to, by normalised tracking URI.
    pub remotes: BTreeMap<String, RemoteRecord>,
}

impl Run {
    /// The latest value of a metric: the point with the largest step, then timestamp.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.get(key).and_then(|points| {
            points
                .iter()
                .max_by_key(|p| (p.step, p.timestamp))
                .map(|p| p.value)
        })
    }

    /// The latest value of every metric, by key.
    pub fn latest_metrics(&self) -> BTreeMap<String, f64> {
        self.metrics
            .keys()
            .filter_map(|k| self.metric(k).map(|v| (k.clone(), v)))
            .collect()
    }
}

/// A comparison operator of a [`Filter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl FromStr for Cmp {
    type Err = TrackingError;

    /// `=` (or `==`), `!=`, `<`, `<=`, `>`, `>=`.
    fn from_str(op: &str) -> Result<Self> {
        Ok(match op {
            "=" | "==" => Cmp::Eq,
            "!=" => Cmp::Ne,
            "<" => Cmp::Lt,
            "<=" => Cmp::Le,
            ">" => Cmp::Gt,
            ">=" => Cmp::Ge,
            other => {
                return Err(TrackingError::InvalidFilter {
                    text: other.to_owned(),
                    reason: "unknown comparison (= != < <= > >=)".into(),
                });
            }
        })
    }
}

impl Cmp {
    /// The MLflow search operator.
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    /// Whether `left OP right` holds.
    pub fn holds<T: PartialOrd + ?Sized>(self, left: &T, right: &T) -> bool {
        match self {
            Cmp::Eq => left == right,
            Cmp::Ne => left != right,
            Cmp::Lt => left < right,
            Cmp::Le => left <= right,
            Cmp::Gt => left > right,
            Cmp::Ge => left >= right,
        }
    }
}

/// One condition of a [`RunQuery`] (all conditions must hold). A typed subset of MLflow's
/// search grammar that both backends evaluate the same way.
///
/// # Example
/// ```
/// use momentum_tracking::{Cmp, Filter, RunSpec, Tracker};
/// # let dir = tempfile::tempdir().unwrap();
/// let tracker = Tracker::open(dir.path().join("mlruns"), "")?;
/// let spec = RunSpec::new("lb60").param("lookback", 60).metric("sharpe", 1.2);
/// let run = tracker.get_run(&tracker.log_run("momentum", &spec, None)?)?;
/// assert!(Filter::Metric("sharpe".into(), Cmp::Gt, 1.0).matches(&run));
/// assert!(Filter::TopLevel.matches(&run));
/// // Params compare as strings, as MLflow does: "60" < "7".
/// assert!(Filter::Param("lookback".into(), Cmp::Lt, "7".into()).matches(&run));
/// assert!(!Filter::Metric("sortino".into(), Cmp::Gt, 0.0).matches(&run)); // no such metric
/// # Ok::<(), momentum_tracking::TrackingError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// The run's latest value of a metric; a run without the metric does not match.
    Metric(String, Cmp, f64),
    /// A param, compared as a string (MLflow compares params as strings too); the server takes
    /// only `=` and `!=`, so the other comparisons are applied to its results.
    Param(String, Cmp, String),
    /// A tag, `=` or `!=` only on the server.
    Tag(String, Cmp, String),
    /// The run status.
    Status(RunStatus),
    /// Only the children of this run (same backend's id).
    ParentRunId(String),
    /// Only runs without a parent.
    TopLevel,
}

impl FromStr for Filter {
    type Err = TrackingError;

    /// Parses a condition as a user writes it: `metrics.KEY OP NUMBER`, `params.KEY OP VALUE`,
    /// `tags.KEY OP VALUE` or `status=STATUS`, with OP one of `= != < <= > >=` (quotes around
    /// the value are dropped).
    ///
    /// ```
    /// use momentum_tracking::{Cmp, Filter};
    /// let filter: Filter = "metrics.sharpe>=0.5".parse()?;
    /// assert_eq!(filter, Filter::Metric("sharpe".into(), Cmp::Ge, 0.5));
    /// # Ok::<(), momentum_tracking::TrackingError>(())
    /// ```
    fn from_str(text: &str) -> Result<Self> {
        const OPS: [(&str, Cmp); 6] = [
            (">=", Cmp::Ge),
            ("<=", Cmp::Le),
            ("!=", Cmp::Ne),
            ("=", Cmp::Eq),
            (">", Cmp::Gt),
            ("<", Cmp::Lt),
        ];
        let invalid = |reason: String| TrackingError::InvalidFilter {
            text: text.to_owned(),
            reason,
        };
        let (pos, op, cmp) = OPS
            .iter()
            .filter_map(|(op, cmp)| text.find(op).map(|pos| (pos, *op, *cmp)))
            .min_by_key(|(pos, op, _)| (*pos, std::cmp::Reverse(op.len())))
            .ok_or_else(|| invalid("no operator (= != < <= > >=)".into()))?;
        let (lhs, rhs) = (
            text[..pos].trim(),
            text[pos + op.len()..].trim().trim_matches(['\'', '"']),
        );
        if lhs.eq_ignore_ascii_case("status") || lhs == "attributes.status" {
            if cmp != Cmp::Eq {
                return Err(invalid("status only supports =".into()));
            }
            return Ok(Filter::Status(rhs.parse()?));
        }
        let (kind, key) = lhs.split_once('.').ok_or_else(|| {
            invalid("expected metrics.KEY, params.KEY, tags.KEY or status".into())
        })?;
        if key.is_empty() {
            return Err(invalid(format!("no key after {kind}.")));
        }
        // Params and tags are text: ordered, a number would be compared as text ("60" < "7"),
        // which is never what the filter means.
        let ordered = !matches!(cmp, Cmp::Eq | Cmp::Ne);
        if matches!(kind, "params" | "param" | "tags" | "tag")
            && ordered
            && rhs.parse::<f64>().is_ok()
        {
            return Err(invalid(format!(
                "{kind} compare as text, so {op} {rhs} would put \"60\" before \"7\": use = or \
                 !=, or a metric"
            )));
        }
        Ok(match kind {
            "metrics" | "metric" => {
                let value: f64 = rhs
                    .parse()
                    .ok()
                    .filter(|v: &f64| !v.is_nan())
                    .ok_or_else(|| invalid(format!("{rhs:?} is not a number")))?;
                Filter::Metric(key.into(), cmp, value)
            }
            "params" | "param" => Filter::Param(key.into(), cmp, rhs.into()),
            "tags" | "tag" => Filter::Tag(key.into(), cmp, rhs.into()),
            other => {
                return Err(invalid(format!(
                    "unknown kind {other:?} (metrics, params, tags, status)"
                )));
            }
        })
    }
}

impl Filter {
    /// True when `run` satisfies the condition.
    pub fn matches(&self, run: &Run) -> bool {
        match self {
            Filter::Metric(key, cmp, value) => run
                .metric(key)
                .is_some_and(|v| !v.is_nan() && cmp.holds(&v, value)),
            Filter::Param(key, cmp, value) => run
                .params
                .get(key)
                .is_some_and(|v| cmp.holds(v.as_str(), value.as_str())),
            Filter::Tag(key, cmp, value) => run
                .tags
                .get(key)
                .is_some_and(|v| cmp.holds(v.as_str(), value.as_str())),
            Filter::Status(status) => run.status == *status,
            Filter::ParentRunId(parent) => run.parent_run_id.as_deref() == Some(parent),
            Filter::TopLevel => run.parent_run_id.is_none(),
        }
    }
}

/// How to sort search results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderBy {
    /// By a metric's latest value; runs without it (or NaN) come last.
    Metric {
        /// Metric key.
        key: String,
        /// Largest first.
        descending: bool,
    },
    /// By start time.
    StartTime {
        /// Newest first.
        descending: bool,
    },
}

/// A run search: conditions, order and a limit. Ties are broken by run id so the order is
/// deterministic.
///
/// # Example
/// ```
/// use momentum_tracking::{Cmp, Filter, RunQuery, RunStatus};
/// // The five best finished top-level runs by test Sharpe, with lookback 60.
/// let query = RunQuery::new("momentum")
///     .filter(Filter::TopLevel)
///     .filter(Filter::Status(RunStatus::Finished))
///     .filter("params.lookback = '60'".parse()?)
///     .order_by_metric("test_sharpe", true)
///     .limit(5);
/// assert_eq!(query.filters[2], Filter::Param("lookback".into(), Cmp::Eq, "60".into()));
/// assert_eq!(query.max_results, Some(5));
/// # Ok::<(), momentum_tracking::TrackingError>(())
/// ```
/// [`Tracker::search_runs`](crate::Tracker::search_runs) runs one on the local store.
#[derive(Debug, Clone, PartialEq)]
pub struct RunQuery {
    /// Experiment name.
    pub experiment: String,
    /// All must hold.
    pub filters: Vec<Filter>,
    /// Sort order (default: newest first).
    pub order_by: OrderBy,
    /// At most this many runs (`None`: all).
    pub max_results: Option<usize>,
}

impl RunQuery {
    /// All runs of `experiment`, newest first.
    pub fn new(experiment: impl Into<String>) -> Self {
        RunQuery {
            experiment: experiment.into(),
            filters: Vec::new(),
            order_by: OrderBy::StartTime { descending: true },
            max_results: None,
        }
    }

    /// Adds a condition.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }

    /// Sorts by a metric.
    pub fn order_by_metric(mut self, key: impl Into<String>, descending: bool) -> Self {
        self.order_by = OrderBy::Metric {
            key: key.into(),
            descending,
        };
        self
    }

    /// Limits the number of results.
    pub fn limit(mut self, n: usize) -> Self {
        self.max_results = Some(n);
        self
    }

    /// Filters, sorts and truncates `runs` (used by the local store).
    pub fn apply(&self, runs: Vec<Run>) -> Vec<Run> {
        let mut runs: Vec<Run> = runs
            .into_iter()
            .filter(|r| self.filters.iter().all(|f| f.matches(r)))
            .collect();
        match &self.order_by {
            OrderBy::Metric { key, descending } => runs.sort_by(|a, b| {
                let (va, vb) = (
                    a.metric(key).filter(|v| !v.is_nan()),
                    b.metric(key).filter(|v| !v.is_nan()),
                );
                let ord = match (va, vb) {
                    (Some(x), Some(y)) if *descending => y.total_cmp(&x),
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                };
                ord.then_with(|| a.run_id.cmp(&b.run_id))
            }),
            OrderBy::StartTime { descending } => runs.sort_by(|a, b| {
                let ord = if *descending {
                    b.start_time.cmp(&a.start_time)
                } else {
                    a.start_time.cmp(&b.start_time)
                };
                ord.then_with(|| a.run_id.cmp(&b.run_id))
            }),
        }
        if let Some(n) = self.max_results {
            runs.truncate(n);
        }
        runs
    }
}

/// A version of a registered model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Registered model name.
    pub name: String,
    /// Version number as a string ("1", "2", ...), as MLflow returns it.
    pub version: String,
    /// The source run, as a local run id when it was registered through a [`crate::Tracker`].
    pub run_id: String,
    /// Model location, e.g. `runs:/<run>/model`.
    pub source: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Epoch ms.
    pub creation_timestamp: i64,
    /// Aliases pointing at this version (`champion`, `challenger`, ...).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Version tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Checks a param/metric/tag key: 1–250 characters of `[A-Za-z0-9_-. :/]`, a relative path
/// without empty, `.` or `..` parts (MLflow refuses a key that path normalisation would change,
/// such as `a//b` or `a/`, so a run holding one could never be pushed).
pub fn validate_key(key: &str) -> Result<()> {
    let bad = |reason| {
        Err(TrackingError::InvalidKey {
            key: key.to_string(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.chars().count() > MAX_KEY_LEN {
        return bad("longer than 250 characters");
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-. :/".contains(c))
    {
        return bad("only letters, digits, '_', '-', '.', ' ', ':' and '/' are allowed");
    }
    // MLflow also refuses a key whose normalised path starts with `..` (`..x`).
    if key.starts_with("..")
        || key
            .split('/')
            .any(|part| part.is_empty() || part == ".." || part == ".")
    {
        return bad(
            "must be a relative path without empty, '.' or '..' parts, not starting with '..'",
        );
    }
    Ok(())
}

/// Checks a param value against [`MAX_PARAM_VALUE_LEN`].
pub fn validate_param(key: &str, value: &str) -> Result<()> {
    validate_key(key)?;
    check_len("param value", key, value, MAX_PARAM_VALUE_LEN)
}

/// Checks a tag against the key rules and [`MAX_TAG_VALUE_LEN`].
pub fn validate_tag(key: &str, value: &str) -> Result<()> {
    validate_key(key)?;
    check_len("tag value", key, value, MAX_TAG_VALUE_LEN)
}

/// Checks a dataset input (digest ≤ 36, name ≤ 500 characters).
pub fn validate_input(input: &DatasetInput) -> Result<()> {
    if input.name.is_empty() {
        return Err(TrackingError::InvalidName {
            what: "dataset name",
            name: String::new(),
            reason: "empty",
        });
    }
    check_len("dataset name", &input.name, &input.name, 500)?;
    check_len("dataset digest", &input.name, &input.digest, MAX_DIGEST_LEN)
}

fn check_len(what: &'static str, key: &str, value: &str, max: usize) -> Result<()> {
    let len = value.chars().count();
    if len > max {
        return Err(TrackingError::ValueTooLong {
            what,
            key: key.to_string(),
            len,
            max,
        });
    }
    Ok(())
}

/// Checks an experiment or registered-model name: non-empty, at most 250 characters of
/// `[A-Za-z0-9_-. ]` (so it is also a safe file name locally).
pub fn validate_name(what: &'static str, name: &str) -> Result<()> {
    let bad = |reason| {
        Err(TrackingError::InvalidName {
            what,
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 250 {
        return bad("longer than 250 characters");
    }
    if name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-. ".contains(c))
    {
        return bad("only letters, digits, '_', '-', '.' and ' ' are allowed, not first '.'");
    }
    Ok(())
}

/// Checks a registry alias: letters, digits, `_` and `-`; not `latest`, not `v<digits>`.
pub fn validate_alias(alias: &str) -> Result<()> {
    let bad = |reason| {
        Err(TrackingError::InvalidName {
            what: "alias",
            name: alias.to_string(),
            reason,
        })
    };
    if alias.is_empty()
        || !alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return bad("only letters, digits, '_' and '-' are allowed");
    }
    if alias.eq_ignore_ascii_case("latest") {
        return bad("'latest' is reserved");
    }
    let lower = alias.to_ascii_lowercase();
    if lower.len() > 1 && lower.starts_with('v') && lower[1..].chars().all(|c| c.is_ascii_digit()) {
        return bad("version aliases like 'v3' are reserved");
    }
    Ok(())
}

/// A fresh run id: 32 lowercase hex digits (a SHA-256 of the clock, the process id and a
/// counter), like MLflow's uuid4 hex.
pub fn new_run_id() -> String {
    use sha2::Digest;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut hasher = sha2::Sha256::new();
    hasher.update(nanos.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let digest = hasher.finalize();
    hex::encode(&digest[..16])
}

/// Current time in epoch milliseconds (the default clock).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Serde for `f64` that writes NaN and ±Inf as the strings MLflow uses (`"NaN"`,
/// `"Infinity"`, `"-Infinity"`) and reads a number or any of those strings back.
pub mod f64_lenient {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    /// Serializes finite values as numbers, the rest as strings.
    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_nan() {
            serializer.serialize_str("NaN")
        } else if value.is_infinite() {
            serializer.serialize_str(if *value > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            })
        } else {
            serializer.serialize_f64(*value)
        }
    }

    /// Accepts a number, `"NaN"`, `"Infinity"`, `"-Infinity"` or a numeric string.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum NumOrStr {
            Num(f64),
            Str(String),
        }
        match NumOrStr::deserialize(deserializer)? {
            NumOrStr::Num(v) => Ok(v),
            NumOrStr::Str(s) => {
                parse(&s).ok_or_else(|| D::Error::custom(format!("not a number: {s:?}")))
            }
        }
    }

    /// Parses MLflow's textual numbers.
    pub fn parse(s: &str) -> Option<f64> {
        match s {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            _ => s.parse().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn filters_parse_as_users_write_them() {
        let parse = |text: &str| text.parse::<Filter>();
        assert_eq!(
            parse("metrics.sharpe>=0.5").unwrap(),
            Filter::Metric("sharpe".into(), Cmp::Ge, 0.5)
        );
        assert_eq!(
            parse("params.lookback = '20'").unwrap(),
            Filter::Param("lookback".into(), Cmp::Eq, "20".into())
        );
        assert_eq!(
            parse("tags.stage!=grid").unwrap(),
            Filter::Tag("stage".into(), Cmp::Ne, "grid".into())
        );
        assert_eq!(
            parse("status=finished").unwrap(),
            Filter::Status(RunStatus::Finished)
        );
        assert_eq!(
            parse("metrics.sharpe>abc").unwrap_err().to_string(),
            "filter \"metrics.sharpe>abc\": \"abc\" is not a number"
        );
        assert_eq!(
            parse("params.lookback>60").unwrap_err().to_string(),
            "filter \"params.lookback>60\": params compare as text, so > 60 would put \"60\" \
             before \"7\": use = or !=, or a metric"
        );
        assert!(parse("tags.version<=3").is_err());
        // Text ordered as text is what it says.
        assert!(parse("tags.stage>grid").is_ok());
        assert_eq!(
            parse("metrics.=1").unwrap_err().to_string(),
            "filter \"metrics.=1\": no key after metrics."
        );
        assert!(parse("metrics.sharpe>NaN").is_err());
        assert!(parse("sharpe").is_err());
        assert!(parse("foo.x=1").is_err());
        assert!(parse("status>FINISHED").is_err());
    }

    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        assert!(validate_key("sharpe").is_ok());
        assert!(validate_key("train/sharpe ratio:1.0-x_y").is_ok());
        assert!(validate_key("a b?").is_err());
        assert!(validate_key("").is_err());
        assert!(validate_key(&"k".repeat(251)).is_err());
        assert!(validate_key(&"k".repeat(250)).is_ok());
        assert!(validate_key("../x").is_err());
        for changed_by_normpath in ["a//b", "train/", "/abs", "a/./b", "..x"] {
            assert!(
                validate_key(changed_by_normpath).is_err(),
                "{changed_by_normpath}"
            );
        }
        assert!(validate_param("p", &"x".repeat(6001)).is_err());
        assert!(validate_param("p", &"x".repeat(6000)).is_ok());
        assert!(validate_tag("t", &"x".repeat(8001)).is_err());
        let err = validate_param("lookback", &"x".repeat(6001))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lookback") && err.contains("6000"), "{err}");
    }

    #[test]
    fn aliases_and_statuses_are_checked() {
        assert!(validate_alias("champion").is_ok());
        assert!(validate_alias("latest").is_err());
        assert!(validate_alias("v3").is_err());
        assert!(validate_alias("bad alias!").is_err());
        assert_eq!(
            "finished".parse::<RunStatus>().unwrap(),
            RunStatus::Finished
        );
        assert!(matches!(
            "DONE".parse::<RunStatus>(),
            Err(TrackingError::InvalidStatus(_))
        ));
    }

    #[test]
    fn non_finite_floats_round_trip_as_strings() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5] {
            let p = MetricPoint {
                value: v,
                timestamp: 1,
                step: 2,
            };
            let text = serde_json::to_string(&p).unwrap();
            let back: MetricPoint = serde_json::from_str(&text).unwrap();
            assert!(
                back.value == v || (v.is_nan() && back.value.is_nan()),
                "{text}"
            );
        }
        let p: MetricPoint =
            serde_json::from_str(r#"{"value":"NaN","timestamp":1,"step":0}"#).unwrap();
        assert!(p.value.is_nan());
    }

    #[test]
    fn run_ids_are_32_hex_and_distinct() {
        let (a, b) = (new_run_id(), new_run_id());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
