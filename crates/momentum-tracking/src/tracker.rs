//! [`Tracker`]: the local store first, an MLflow server as a best-effort mirror.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Result, TrackingError};
use crate::local::{Listing, LocalStore, NewRun};
use crate::model::{
    ArtifactFile, DatasetInput, Experiment, Metric, MetricPoint, ModelVersion, RemoteRecord, Run,
    RunQuery, RunStatus, TAG_GIT_COMMIT, TAG_LOCAL_RUN_ID, TAG_NOTE, TAG_RUN_NAME, TAG_SOURCE_NAME,
    TAG_SOURCE_TYPE, TAG_USER, new_run_id, now_ms,
};
use crate::rest::{PushJob, RestClient, RestConfig};

/// The source of "now" (epoch ms) for timestamps the caller does not give.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Who and what produced the runs: becomes MLflow's system tags on every new run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunContext {
    /// `mlflow.user` (and the run's `user_id` on the server).
    pub user: Option<String>,
    /// `mlflow.source.name`, e.g. `momentum backtest`.
    pub source_name: Option<String>,
    /// `mlflow.source.git.commit`.
    pub git_commit: Option<String>,
}

impl RunContext {
    /// The user from `$USER` (or `$USERNAME`), the given program name, no commit.
    pub fn from_env(source_name: &str) -> Self {
        RunContext {
            user: std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .ok()
                .filter(|u| !u.is_empty()),
            source_name: Some(source_name.to_string()),
            git_commit: None,
        }
    }
}

/// Plain data describing one complete run, for [`Tracker::log_run`] and
/// [`Tracker::log_grid`]. Build it with the chained helpers:
///
/// ```
/// use momentum_tracking::RunSpec;
/// let spec = RunSpec::new("lb20-h5")
///     .param("lookback", 20)
///     .metric("train_sharpe", 1.3)
///     .tag("stage", "grid");
/// assert_eq!(spec.params[0], ("lookback".to_string(), "20".to_string()));
/// ```
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Display name.
    pub name: String,
    /// Params, in order (a key twice is an error).
    pub params: Vec<(String, String)>,
    /// Metrics (timestamp `None`: the tracker's clock).
    pub metrics: Vec<Metric>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Dataset inputs.
    pub inputs: Vec<DatasetInput>,
    /// Files to attach.
    pub artifacts: Vec<ArtifactFile>,
    /// Markdown description (`mlflow.note.content`).
    pub note: Option<String>,
    /// Final status (FINISHED by default).
    pub status: RunStatus,
    /// Epoch ms (clock when `None`).
    pub start_time: Option<i64>,
    /// Epoch ms (clock when `None`).
    pub end_time: Option<i64>,
}

impl RunSpec {
    /// An empty FINISHED run named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        RunSpec {
            name: name.into(),
            params: Vec::new(),
            metrics: Vec::new(),
            tags: Vec::new(),
            inputs: Vec::new(),
            artifacts: Vec::new(),
            note: None,
            status: RunStatus::Finished,
            start_time: None,
            end_time: None,
        }
    }

    /// Adds a param (any `Display` value).
    pub fn param(mut self, key: impl Into<String>, value: impl std::fmt::Display) -> Self {
        self.params.push((key.into(), value.to_string()));
        self
    }

    /// Adds a metric at step 0.
    pub fn metric(mut self, key: impl Into<String>, value: f64) -> Self {
        self.metrics.push(Metric::new(key, value));
        self
    }

    /// Adds a metric point at `step`.
    pub fn metric_at(mut self, key: impl Into<String>, value: f64, step: i64) -> Self {
        self.metrics.push(Metric::new(key, value).at_step(step));
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Adds a dataset input.
    pub fn input(mut self, input: DatasetInput) -> Self {
        self.inputs.push(input);
        self
    }

    /// Attaches a file under its own file name.
    pub fn artifact(mut self, path: impl Into<PathBuf>) -> Self {
        self.artifacts.push(ArtifactFile {
            path: path.into(),
            dest: None,
        });
        self
    }

    /// Attaches a file as `dest` (relative, `/`-separated).
    pub fn artifact_as(mut self, path: impl Into<PathBuf>, dest: impl Into<String>) -> Self {
        self.artifacts.push(ArtifactFile {
            path: path.into(),
            dest: Some(dest.into()),
        });
        self
    }

    /// Sets the description.
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.note = Some(text.into());
        self
    }

    /// Sets the final status.
    pub fn status(mut self, status: RunStatus) -> Self {
        self.status = status;
        self
    }

    /// Sets start and end times (epoch ms).
    pub fn times(mut self, start: i64, end: i64) -> Self {
        self.start_time = Some(start);
        self.end_time = Some(end);
        self
    }
}

/// What a push to the server did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// The server (normalised URI).
    pub uri: String,
    /// Local ids of the runs brought (fully or partly) to the server.
    pub pushed: Vec<String>,
    /// Runs that were already complete there.
    pub up_to_date: usize,
    /// Runs that failed, with the error (they stay unsynced for the next `sync`).
    pub failed: Vec<(String, TrackingError)>,
}

impl SyncReport {
    /// The error that shows the server stopped answering during the push (the first request
    /// that got no answer; the runs after it failed with [`TrackingError::Unreachable`]), if it
    /// did. Those runs are kept locally for the next sync.
    pub fn outage(&self) -> Option<&TrackingError> {
        let errors = || self.failed.iter().map(|(_, e)| e);
        errors()
            .find(|e| matches!(e, TrackingError::Http { .. }))
            .or_else(|| errors().find(|e| e.is_unreachable()))
    }

    /// Per parent the server refused, how many of its children were not pushed because of it
    /// ([`TrackingError::ParentNotPushed`]): one line for a grid's children, not one each.
    pub fn orphans(&self) -> BTreeMap<&str, usize> {
        let mut orphans = BTreeMap::new();
        for (_, err) in &self.failed {
            if let TrackingError::ParentNotPushed { parent, .. } = err {
                *orphans.entry(parent.as_str()).or_insert(0) += 1;
            }
        }
        orphans
    }
}

/// What [`Tracker::log_grid`] wrote.
#[derive(Debug)]
pub struct GridLog {
    /// Local id of the parent run.
    pub parent_run_id: String,
    /// Local ids of the children, in input order.
    pub child_run_ids: Vec<String>,
    /// The push to the server, when one is configured and was reachable.
    pub remote: Option<SyncReport>,
}

/// Experiment tracking: every write goes to the [`LocalStore`] first; when a server is
/// configured, finished runs are then pushed to it (best effort: a failure logs a warning,
/// leaves the run unsynced for [`Tracker::sync`], and never fails the caller).
///
/// Reads ([`Tracker::get_run`], [`Tracker::search_runs`]) use the local store, the source of
/// truth. The model registry lives on the server when one is configured, else locally.
pub struct Tracker {
    local: LocalStore,
    remote: Option<RestClient>,
    context: RunContext,
    clock: Clock,
    remote_down: AtomicBool,
    remote_child_limit: Option<usize>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("store", &self.local.root())
            .field("remote", &self.remote.as_ref().map(RestClient::uri))
            .field("context", &self.context)
            .finish()
    }
}

impl Tracker {
    /// A local-only tracker on the store at `store`.
    pub fn local(store: impl Into<PathBuf>) -> Result<Self> {
        Ok(Tracker {
            local: LocalStore::open(store)?,
            remote: None,
            context: RunContext::default(),
            clock: Arc::new(now_ms),
            remote_down: AtomicBool::new(false),
            remote_child_limit: None,
        })
    }

    /// A tracker on `store` mirroring to the server in `config`.
    pub fn with_remote(store: impl Into<PathBuf>, config: RestConfig) -> Result<Self> {
        let mut tracker = Tracker::local(store)?;
        tracker.remote = Some(RestClient::new(config)?);
        Ok(tracker)
    }

    /// `uri` empty: local only; `http(s)://...`: mirror to that server (auth from the
    /// `MLFLOW_TRACKING_*` environment variables); anything else is an error.
    ///
    /// # Example
    /// A run logged step by step in a local store:
    /// ```
    /// use momentum_tracking::{RunStatus, Tracker};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let tracker = Tracker::open(dir.path().join("mlruns"), "")?;
    /// let run_id = tracker.start_run("momentum", "walk-forward", None, &[])?;
    /// tracker.log_param(&run_id, "lookback", 60)?;
    /// for (fold, sharpe) in [0.8, 1.1, 0.9].into_iter().enumerate() {
    ///     tracker.log_metric(&run_id, "sharpe", sharpe, fold as i64, None)?;
    /// }
    /// tracker.end_run(&run_id, RunStatus::Finished)?;
    /// let run = tracker.get_run(&run_id)?;
    /// assert_eq!(run.status, RunStatus::Finished);
    /// assert_eq!(run.metric("sharpe"), Some(0.9)); // the latest step
    /// assert_eq!(run.metrics["sharpe"].len(), 3);
    /// # Ok::<(), momentum_tracking::TrackingError>(())
    /// ```
    pub fn open(store: impl Into<PathBuf>, uri: &str) -> Result<Self> {
        if uri.trim().is_empty() {
            Tracker::local(store)
        } else {
            Tracker::with_remote(store, RestConfig::new(uri))
        }
    }

    /// [`Tracker::open`] with the URI from `MLFLOW_TRACKING_URI` when it is set and not
    /// empty, else `configured_uri` (e.g. `tracking.uri` from params.yaml).
    pub fn open_with_env(store: impl Into<PathBuf>, configured_uri: &str) -> Result<Self> {
        Tracker::open(store, &resolve_tracking_uri(configured_uri))
    }

    /// Sets the system-tag context of new runs.
    pub fn with_context(mut self, context: RunContext) -> Self {
        self.context = context;
        self
    }

    /// Pushes at most `limit` children of each [`Tracker::log_grid`] to the server right away
    /// (the first ones given: pass the most interesting first); the rest stay in the local
    /// store, unsynced, until [`Tracker::sync`]. A server takes roughly 10 to 20 runs a second,
    /// so this keeps a large grid from holding the pipeline for minutes. `None`: push all.
    pub fn with_remote_child_limit(mut self, limit: Option<usize>) -> Self {
        self.remote_child_limit = limit;
        self
    }

    /// Replaces the clock (for deterministic timestamps in tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The local store.
    pub fn store(&self) -> &LocalStore {
        &self.local
    }

    /// The server client, when one is configured.
    pub fn remote(&self) -> Option<&RestClient> {
        self.remote.as_ref()
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// The local experiment `name`, created when missing.
    pub fn experiment(&self, name: &str) -> Result<Experiment> {
        self.local.experiment(name, self.now())
    }

    fn system_tags(&self, name: &str, note: Option<&str>) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::from([(TAG_RUN_NAME.to_string(), name.to_string())]);
        if let Some(user) = &self.context.user {
            tags.insert(TAG_USER.into(), user.clone());
        }
        if let Some(source) = &self.context.source_name {
            tags.insert(TAG_SOURCE_NAME.into(), source.clone());
            tags.insert(TAG_SOURCE_TYPE.into(), "LOCAL".into());
        }
        if let Some(commit) = &self.context.git_commit {
            tags.insert(TAG_GIT_COMMIT.into(), commit.clone());
        }
        if let Some(note) = note {
            tags.insert(TAG_NOTE.into(), note.to_string());
        }
        tags
    }

    fn new_run_from_spec(
        &self,
        experiment: &str,
        spec: &RunSpec,
        parent: Option<&str>,
        status: RunStatus,
    ) -> Result<NewRun> {
        let now = self.now();
        let run_id = new_run_id();
        let mut params = BTreeMap::new();
        for (k, v) in &spec.params {
            if params.insert(k.clone(), v.clone()).is_some() {
                return Err(TrackingError::DuplicateParam {
                    run_id,
                    key: k.clone(),
                });
            }
        }
        let mut metrics: BTreeMap<String, Vec<MetricPoint>> = BTreeMap::new();
        for m in &spec.metrics {
            metrics.entry(m.key.clone()).or_default().push(MetricPoint {
                value: m.value,
                timestamp: m.timestamp.unwrap_or(now),
                step: m.step,
            });
        }
        let mut tags = self.system_tags(&spec.name, spec.note.as_deref());
        tags.extend(spec.tags.iter().cloned());
        let artifacts = spec
            .artifacts
            .iter()
            .map(|a| {
                let dest = a.dest.clone().unwrap_or_else(|| {
                    a.path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                });
                (a.path.clone(), dest)
            })
            .collect();
        let start = spec.start_time.unwrap_or(now);
        Ok(NewRun {
            run_id,
            experiment: experiment.to_string(),
            name: spec.name.clone(),
            status,
            start_time: start,
            end_time: if status.is_terminal() {
                Some(spec.end_time.unwrap_or(now).max(start))
            } else {
                None
            },
            parent_run_id: parent.map(str::to_string),
            params,
            metrics,
            tags,
            inputs: spec.inputs.clone(),
            artifacts,
        })
    }

    // ----- step-by-step logging -----

    /// Starts a RUNNING run in `experiment` (created when missing), nested under `parent`
    /// (a local run id) if given. Returns the local run id.
    pub fn start_run(
        &self,
        experiment: &str,
        name: &str,
        parent: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String> {
        if let Some(p) = parent {
            self.local.get_run(p)?;
        }
        let mut spec = RunSpec::new(name);
        spec.tags = tags.to_vec();
        let new = self.new_run_from_spec(experiment, &spec, parent, RunStatus::Running)?;
        self.local.create_run(&new, self.now())?;
        Ok(new.run_id)
    }

    /// Logs params (immutable: the same value again is fine, another value an error).
    pub fn log_params(&self, run_id: &str, params: &[(String, String)]) -> Result<()> {
        self.local.log_params(run_id, params)
    }

    /// Logs one param.
    pub fn log_param(&self, run_id: &str, key: &str, value: impl std::fmt::Display) -> Result<()> {
        self.local
            .log_params(run_id, &[(key.to_string(), value.to_string())])
    }

    /// Logs metric points (timestamp from the clock when `None`).
    pub fn log_metrics(&self, run_id: &str, metrics: &[Metric]) -> Result<()> {
        let now = self.now();
        let points: Vec<(String, MetricPoint)> = metrics
            .iter()
            .map(|m| {
                (
                    m.key.clone(),
                    MetricPoint {
                        value: m.value,
                        timestamp: m.timestamp.unwrap_or(now),
                        step: m.step,
                    },
                )
            })
            .collect();
        self.local.log_metrics(run_id, &points)
    }

    /// Logs one metric point.
    pub fn log_metric(
        &self,
        run_id: &str,
        key: &str,
        value: f64,
        step: i64,
        timestamp: Option<i64>,
    ) -> Result<()> {
        self.log_metrics(
            run_id,
            &[Metric {
                key: key.to_string(),
                value,
                step,
                timestamp,
            }],
        )
    }

    /// Sets tags (overwriting).
    pub fn set_tags(&self, run_id: &str, tags: &[(String, String)]) -> Result<()> {
        self.local.set_tags(run_id, tags)
    }

    /// Sets one tag.
    pub fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.local
            .set_tags(run_id, &[(key.to_string(), value.to_string())])
    }

    /// Records a dataset input.
    pub fn log_input(&self, run_id: &str, input: DatasetInput) -> Result<()> {
        self.local.log_inputs(run_id, &[input])
    }

    /// Copies a file into the run's artifacts (as `dest`, or its file name).
    pub fn log_artifact(
        &self,
        run_id: &str,
        path: &std::path::Path,
        dest: Option<&str>,
    ) -> Result<()> {
        let name = match dest {
            Some(d) => d.to_string(),
            None => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        self.local.log_artifact(run_id, path, &name)
    }

    /// Stores bytes as an artifact of the run.
    pub fn log_artifact_bytes(&self, run_id: &str, dest: &str, bytes: &[u8]) -> Result<()> {
        self.local.log_artifact_bytes(run_id, dest, bytes)
    }

    /// Ends the run with `status` and pushes it (with its children still unsynced, if any,
    /// and its unsynced ancestors) to the server, best effort.
    pub fn end_run(&self, run_id: &str, status: RunStatus) -> Result<Option<SyncReport>> {
        let end = status.is_terminal().then(|| self.now());
        self.local.set_status(run_id, status, end)?;
        let run = self.local.get_run(run_id)?;
        Ok(self.mirror(vec![run]))
    }

    // ----- whole runs -----

    /// Writes a complete run in one atomic step (and pushes it, best effort). Returns its
    /// local id.
    ///
    /// # Example
    /// ```
    /// use momentum_tracking::{RunSpec, Tracker};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let tracker = Tracker::open(dir.path().join("mlruns"), "")?;
    /// let scan = RunSpec::new("scan 2022-12-28")
    ///     .param("model_version", "1")
    ///     .metric("picks", 5.0)
    ///     .tag("momentum.stage", "scan")
    ///     .note("The production model's picks on the last day of the sample.");
    /// let run_id = tracker.log_run("momentum", &scan, None)?;
    /// let run = tracker.get_run(&run_id)?;
    /// assert_eq!(run.params["model_version"], "1");
    /// assert_eq!(run.tags["momentum.stage"], "scan");
    /// # Ok::<(), momentum_tracking::TrackingError>(())
    /// ```
    pub fn log_run(
        &self,
        experiment: &str,
        spec: &RunSpec,
        parent: Option<&str>,
    ) -> Result<String> {
        if let Some(p) = parent {
            self.local.get_run(p)?;
        }
        let new = self.new_run_from_spec(experiment, spec, parent, spec.status)?;
        self.local.create_run(&new, self.now())?;
        let run = self.local.get_run(&new.run_id)?;
        self.mirror(vec![run]);
        Ok(new.run_id)
    }

    /// Logs a grid search: a parent run and one child per combination, each written to the
    /// local store in one atomic step, then pushed to the server (parent first, then the
    /// children in parallel, each child as one runs/create + log-batch + runs/update, plus
    /// one PUT per artifact). A failing server is reported in [`GridLog::remote`] and a
    /// warning; the runs stay local and unsynced.
    ///
    /// # Example
    /// ```
    /// use momentum_tracking::{Filter, RunQuery, RunSpec, Tracker};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let tracker = Tracker::open(dir.path().join("mlruns"), "")?;
    /// let children = [20, 60, 120]
    ///     .map(|lookback| RunSpec::new(format!("L{lookback}")).param("lookback", lookback))
    ///     .to_vec();
    /// let grid = tracker.log_grid("momentum", RunSpec::new("backtest"), children)?;
    /// assert!(grid.remote.is_none()); // no server configured
    /// let query = RunQuery::new("momentum").filter(Filter::ParentRunId(grid.parent_run_id.clone()));
    /// assert_eq!(tracker.search_runs(&query)?.len(), 3);
    /// # Ok::<(), momentum_tracking::TrackingError>(())
    /// ```
    pub fn log_grid(
        &self,
        experiment: &str,
        parent: RunSpec,
        children: Vec<RunSpec>,
    ) -> Result<GridLog> {
        let parent_new = self.new_run_from_spec(experiment, &parent, None, RunStatus::Running)?;
        let parent_id = parent_new.run_id.clone();
        self.local.create_run(&parent_new, self.now())?;
        let mut child_ids = Vec::with_capacity(children.len());
        for spec in &children {
            let new = self.new_run_from_spec(experiment, spec, Some(&parent_id), spec.status)?;
            self.local.create_run(&new, self.now())?;
            child_ids.push(new.run_id);
        }
        let end = parent
            .end_time
            .unwrap_or_else(|| self.now())
            .max(parent_new.start_time);
        self.local.set_status(
            &parent_id,
            parent.status,
            parent.status.is_terminal().then_some(end),
        )?;
        let remote = if self.remote.is_some() {
            let mut runs = vec![self.local.get_run(&parent_id)?];
            let pushed_now = self.remote_child_limit.unwrap_or(usize::MAX);
            for id in child_ids.iter().take(pushed_now) {
                runs.push(self.local.get_run(id)?);
            }
            if child_ids.len() > pushed_now {
                tracing::info!(
                    "pushed {pushed_now} of {} grid runs to the server; `momentum runs sync` pushes the rest",
                    child_ids.len()
                );
            }
            self.mirror(runs)
        } else {
            None
        };
        Ok(GridLog {
            parent_run_id: parent_id,
            child_run_ids: child_ids,
            remote,
        })
    }

    // ----- reading -----

    /// One local run.
    pub fn get_run(&self, run_id: &str) -> Result<Run> {
        self.local.get_run(run_id)
    }

    /// Local runs matching `query`.
    ///
    /// # Example
    /// ```
    /// use momentum_tracking::{Cmp, Filter, RunQuery, RunSpec, Tracker};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let tracker = Tracker::open(dir.path().join("mlruns"), "")?;
    /// for (top_k, roi) in [(3, 0.42), (5, 0.35), (10, 0.18)] {
    ///     let spec = RunSpec::new(format!("K{top_k}")).param("top_k", top_k).metric("test_roi", roi);
    ///     tracker.log_run("momentum", &spec, None)?;
    /// }
    /// let query = RunQuery::new("momentum")
    ///     .filter(Filter::Metric("test_roi".into(), Cmp::Ge, 0.2))
    ///     .order_by_metric("test_roi", false); // ascending
    /// let names: Vec<String> = tracker.search_runs(&query)?.into_iter().map(|r| r.name).collect();
    /// assert_eq!(names, ["K5", "K3"]);
    /// # Ok::<(), momentum_tracking::TrackingError>(())
    /// ```
    pub fn search_runs(&self, query: &RunQuery) -> Result<Vec<Run>> {
        self.local.search_runs(query)
    }

    /// Every readable local run, and the unreadable folders.
    pub fn list_runs(&self) -> Result<Listing> {
        self.local.list_runs()
    }

    // ----- server sync -----

    /// Local runs the server has not fully received yet (parents of children included), and
    /// the runs whose records the server cannot back (its experiment is missing or newer than
    /// the push: a new database at the same URI).
    pub fn unsynced(&self) -> Result<Vec<Run>> {
        let remote = self.remote.as_ref().ok_or(TrackingError::NoRemote)?;
        let uri = remote.uri();
        let mut runs = self.local.list_runs()?.runs;
        forget_lost_records(remote, &mut runs);
        Ok(runs
            .into_iter()
            .filter(|r| !r.remotes.get(uri).is_some_and(|rec| rec.complete))
            .collect())
    }

    /// Pushes every local run the server has not fully received: runs, params, metrics,
    /// tags, inputs, artifacts, parent links and final status. Idempotent: a run already on
    /// the server (recorded locally, or found there by its `momentum.localRunId` tag) is
    /// completed, never created twice.
    ///
    /// # Example
    /// Needs a running MLflow server, so it is only compiled here.
    /// ```no_run
    /// use momentum_tracking::Tracker;
    /// let tracker = Tracker::open("mlruns", "http://127.0.0.1:5000")?;
    /// let report = tracker.sync()?;
    /// println!(
    ///     "{} runs pushed, {} up to date, {} failed",
    ///     report.pushed.len(),
    ///     report.up_to_date,
    ///     report.failed.len()
    /// );
    /// # Ok::<(), momentum_tracking::TrackingError>(())
    /// ```
    pub fn sync(&self) -> Result<SyncReport> {
        let remote = self.remote.as_ref().ok_or(TrackingError::NoRemote)?;
        let all = self.local.list_runs()?.runs.len();
        let pending = self.unsynced()?;
        let mut report = self.push_runs(remote, pending, true)?;
        report.up_to_date = all.saturating_sub(report.pushed.len() + report.failed.len());
        Ok(report)
    }

    fn mirror(&self, runs: Vec<Run>) -> Option<SyncReport> {
        let remote = self.remote.as_ref()?;
        if self.remote_down.load(Ordering::Relaxed) {
            tracing::debug!(
                "{} is unreachable; {} run(s) kept locally for `momentum runs sync`",
                remote.uri(),
                runs.len()
            );
            return None;
        }
        match self.push_runs(remote, runs, false) {
            Ok(report) => {
                if let Some((run, err)) = report.failed.first() {
                    tracing::warn!(
                        "{} of {} run(s) not pushed to {} (first: run {run}: {}); they are kept locally, run `momentum runs sync` later",
                        report.failed.len(),
                        report.failed.len() + report.pushed.len(),
                        report.uri,
                        err.chain()
                    );
                    if report.outage().is_some() {
                        self.remote_down.store(true, Ordering::Relaxed);
                    }
                }
                Some(report)
            }
            Err(err) => {
                tracing::warn!(
                    "cannot push to {}: {}; runs are kept locally, run `momentum runs sync` later",
                    remote.uri(),
                    err.chain()
                );
                self.remote_down.store(true, Ordering::Relaxed);
                None
            }
        }
    }

    /// The push protocol: unsynced ancestors are added, experiments resolved, then runs are
    /// pushed level by level (parents before children, so children carry the parent's
    /// remote id), each level in parallel. Each success is recorded in the run's
    /// `remotes.json` at once.
    fn push_runs(
        &self,
        remote: &RestClient,
        mut runs: Vec<Run>,
        lookup: bool,
    ) -> Result<SyncReport> {
        let uri = remote.uri().to_string();
        let mut report = SyncReport {
            uri: uri.clone(),
            ..SyncReport::default()
        };
        let mut ids: HashSet<String> = runs.iter().map(|r| r.run_id.clone()).collect();
        let mut i = 0;
        while i < runs.len() {
            if let Some(p) = runs[i].parent_run_id.clone()
                && !ids.contains(&p)
                && let Ok(parent) = self.local.get_run(&p)
                && !parent.remotes.get(&uri).is_some_and(|r| r.complete)
            {
                ids.insert(p);
                runs.push(parent);
            }
            i += 1;
        }
        if runs.is_empty() {
            return Ok(report);
        }
        let mut exp_ids: BTreeMap<String, String> = BTreeMap::new();
        for r in &runs {
            if !exp_ids.contains_key(&r.experiment) {
                exp_ids.insert(r.experiment.clone(), remote.experiment_id(&r.experiment)?);
            }
        }
        // A run with artifacts needs the server's artifact proxy: checked per experiment before
        // any run is created (after its experiment, created empty if new, so that its location is
        // the one runs would get), so that a server keeping artifacts elsewhere gets no half-pushed
        // run (created, then failing at its first file, forever RUNNING there).
        let mut artifacts: HashMap<String, Vec<(String, PathBuf)>> = HashMap::new();
        for r in &runs {
            let files = self
                .local
                .list_artifacts(&r.run_id)?
                .into_iter()
                .map(|rel| {
                    self.local
                        .artifact_path(&r.run_id, &rel)
                        .map(|path| (rel, path))
                })
                .collect::<Result<Vec<_>>>()?;
            artifacts.insert(r.run_id.clone(), files);
        }
        let mut checked = BTreeSet::new();
        for r in &runs {
            if checked.contains(&r.experiment) || artifacts[&r.run_id].is_empty() {
                continue;
            }
            if let Some(location) = remote.unproxied_artifacts(&r.experiment)? {
                return Err(TrackingError::UnproxiedArtifacts {
                    url: uri,
                    experiment: r.experiment.clone(),
                    location,
                });
            }
            checked.insert(r.experiment.clone());
        }
        let mut records: HashMap<String, RemoteRecord> = runs
            .iter()
            .filter_map(|r| {
                r.remotes
                    .get(&uri)
                    .map(|rec| (r.run_id.clone(), rec.clone()))
            })
            .collect();
        if lookup && runs.iter().any(|r| !records.contains_key(&r.run_id)) {
            for exp_id in exp_ids.values() {
                for (local, rec) in remote.pushed_runs(exp_id)? {
                    records.entry(local).or_insert(rec);
                }
            }
        }
        // Depth of each run within the set (parents first).
        let by_id: HashMap<String, Option<String>> = runs
            .iter()
            .map(|r| (r.run_id.clone(), r.parent_run_id.clone()))
            .collect();
        let depth = |id: &str| {
            let (mut d, mut cur) = (0usize, id.to_string());
            while let Some(Some(p)) = by_id.get(&cur) {
                if !by_id.contains_key(p) || d > by_id.len() {
                    break;
                }
                d += 1;
                cur = p.clone();
            }
            d
        };
        let mut levels: BTreeMap<usize, Vec<Run>> = BTreeMap::new();
        for r in runs {
            levels.entry(depth(&r.run_id)).or_default().push(r);
        }
        let mut unreachable = false;
        for (_, level) in levels {
            let mut jobs = Vec::new();
            let mut job_ids = Vec::new();
            for run in level {
                // Checked first: a child whose parent failed because the server went down is
                // not pushed because the server is down, not because of its parent.
                if unreachable {
                    report.failed.push((
                        run.run_id.clone(),
                        TrackingError::Unreachable { url: uri.clone() },
                    ));
                    continue;
                }
                let remote_parent = match &run.parent_run_id {
                    None => None,
                    Some(p) => match records.get(p).map(|r| r.run_id.clone()).or_else(|| {
                        self.local
                            .get_run(p)
                            .ok()
                            .and_then(|pr| pr.remotes.get(&uri).map(|r| r.run_id.clone()))
                    }) {
                        Some(id) => Some(id),
                        None => {
                            report.failed.push((
                                run.run_id.clone(),
                                TrackingError::ParentNotPushed {
                                    run_id: run.run_id.clone(),
                                    parent: p.clone(),
                                },
                            ));
                            continue;
                        }
                    },
                };
                let artifacts = artifacts.remove(&run.run_id).unwrap_or_default();
                job_ids.push(run.run_id.clone());
                jobs.push(PushJob {
                    experiment_id: exp_ids[&run.experiment].clone(),
                    existing: records.get(&run.run_id).cloned(),
                    remote_parent,
                    artifacts,
                    now: self.now(),
                    run,
                });
            }
            let mut record_error = None;
            let results = remote.push_all(jobs, |i, result| {
                if let Ok(rec) = result
                    && let Err(e) = self.local.set_remote(&job_ids[i], &uri, rec)
                {
                    record_error.get_or_insert(e);
                }
            });
            if let Some(e) = record_error {
                return Err(e);
            }
            for (id, result) in job_ids.into_iter().zip(results) {
                match result {
                    Ok(rec) => {
                        records.insert(id.clone(), rec);
                        report.pushed.push(id);
                    }
                    Err(err) => {
                        unreachable |= err.is_unreachable();
                        report.failed.push((id, err));
                    }
                }
            }
        }
        Ok(report)
    }

    // ----- model registry -----

    /// Creates the registered model unless it exists (on the server when configured).
    pub fn create_registered_model(&self, name: &str) -> Result<()> {
        match &self.remote {
            Some(remote) => remote.create_registered_model(name),
            None => self.local.create_registered_model(name, self.now()),
        }
    }

    /// Registers a new version of `name` from the local run `run_id` (source
    /// `runs:/<run>/<artifact_path>`) with version `tags` (returned by every registry read). With a server, the run is pushed first if needed (an
    /// error if that fails: a registry entry must point at a run the server has) and the
    /// version carries the `momentum.localRunId` tag. The returned version's `run_id` is the
    /// local id.
    ///
    /// # Example
    /// The registry of the local store:
    /// ```
    /// use std::collections::BTreeMap;
    /// use momentum_tracking::{RunSpec, Tracker};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let tracker = Tracker::open(dir.path().join("mlruns"), "")?;
    /// let run_id = tracker.log_run("momentum", &RunSpec::new("backtest"), None)?;
    /// tracker.create_registered_model("momentum-xs")?;
    /// let tags = BTreeMap::from([("lookback".to_string(), "250".to_string())]);
    /// let v1 = tracker.create_model_version("momentum-xs", &run_id, "model", "first", &tags)?;
    /// assert_eq!(v1.version, "1");
    /// assert_eq!(v1.source, format!("runs:/{run_id}/model"));
    /// tracker.set_alias("momentum-xs", "champion", &v1.version)?;
    /// let champion = tracker.get_version_by_alias("momentum-xs", "champion")?.expect("set");
    /// assert_eq!((champion.version.as_str(), champion.tags["lookback"].as_str()), ("1", "250"));
    /// tracker.delete_alias("momentum-xs", "champion")?;
    /// assert!(tracker.get_version_by_alias("momentum-xs", "champion")?.is_none());
    /// assert_eq!(tracker.list_versions("momentum-xs")?.len(), 1);
    /// # Ok::<(), momentum_tracking::TrackingError>(())
    /// ```
    pub fn create_model_version(
        &self,
        name: &str,
        run_id: &str,
        artifact_path: &str,
        description: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<ModelVersion> {
        let run = self.local.get_run(run_id)?;
        match &self.remote {
            None => self.local.create_model_version(
                name,
                run_id,
                &format!("runs:/{run_id}/{artifact_path}"),
                description,
                tags,
                self.now(),
            ),
            Some(remote) => {
                // A version's source must be a run the server has, whatever the record says.
                let backed = match run.remotes.get(remote.uri()) {
                    Some(rec) if rec.complete && !record_lost(remote, rec)? => Some(rec.clone()),
                    _ => None,
                };
                let record = match backed {
                    Some(rec) => rec,
                    None => {
                        // Without the record the push looks the run up by its tag: a partial
                        // push is completed, a lost one created again.
                        let mut run = run;
                        run.remotes.remove(remote.uri());
                        let mut report = self.push_runs(remote, vec![run], true)?;
                        if let Some((_, err)) = report.failed.pop() {
                            return Err(err);
                        }
                        self.local
                            .get_run(run_id)?
                            .remotes
                            .get(remote.uri())
                            .cloned()
                            .ok_or_else(|| TrackingError::RunNotFound(run_id.to_string()))?
                    }
                };
                let mut tags = tags.clone();
                tags.insert(TAG_LOCAL_RUN_ID.to_string(), run_id.to_string());
                let source = format!("runs:/{}/{artifact_path}", record.run_id);
                let version = remote.create_model_version(
                    name,
                    &record.run_id,
                    &source,
                    description,
                    &tags,
                )?;
                Ok(localise(version))
            }
        }
    }

    /// Points `alias` (e.g. `champion`) at `version`, moving it if it was set.
    pub fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        match &self.remote {
            Some(remote) => remote.set_alias(name, alias, version),
            None => self.local.set_alias(name, alias, version),
        }
    }

    /// Sets tag `key` of version `version` of model `name` to `value`.
    pub fn set_version_tag(&self, name: &str, version: &str, key: &str, value: &str) -> Result<()> {
        match &self.remote {
            Some(remote) => remote.set_version_tag(name, version, key, value),
            None => self.local.set_version_tag(name, version, key, value),
        }
    }

    /// Removes an alias (not an error when it is not set).
    pub fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        match &self.remote {
            Some(remote) => remote.delete_alias(name, alias),
            None => self.local.delete_alias(name, alias),
        }
    }

    /// The version `alias` points at, `None` when not set; an error for an unknown model.
    pub fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<Option<ModelVersion>> {
        match &self.remote {
            Some(remote) => remote
                .get_version_by_alias(name, alias)
                .map(|v| v.map(localise)),
            None => self.local.get_version_by_alias(name, alias),
        }
    }

    /// All versions of a model, oldest first, with aliases.
    pub fn list_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        match &self.remote {
            Some(remote) => remote
                .list_versions(name)
                .map(|vs| vs.into_iter().map(localise).collect()),
            None => self.local.list_versions(name),
        }
    }
}

/// The tracking URI to use: `MLFLOW_TRACKING_URI` when set and not empty, else `configured`.
pub fn resolve_tracking_uri(configured: &str) -> String {
    std::env::var("MLFLOW_TRACKING_URI")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| configured.to_string())
}

/// Whether the server has lost the run a record names (MLflow answers "does not exist"): its
/// database was replaced since the push.
fn record_lost(remote: &RestClient, record: &RemoteRecord) -> Result<bool> {
    match remote.get_run(&record.run_id) {
        Ok(_) => Ok(false),
        Err(e) if e.is_not_found() => Ok(true),
        Err(e) => Err(e),
    }
}

/// Drops the records for `remote` that the server cannot back: those of an experiment it does
/// not have, or created after the push (a new database at the same URI), so that those runs are
/// pushed again; the push's lookup by the local-run tag still finds any that are there. One
/// request per experiment. A run the server deleted or purged itself keeps its record (its
/// experiment is older than the push), and a server that does not answer ends the checks with
/// every record kept.
fn forget_lost_records(remote: &RestClient, runs: &mut [Run]) {
    let uri = remote.uri().to_owned();
    let experiments: BTreeSet<String> = runs
        .iter()
        .filter(|r| r.remotes.get(&uri).is_some_and(|rec| rec.complete))
        .map(|r| r.experiment.clone())
        .collect();
    let mut created = BTreeMap::new();
    for experiment in experiments {
        match remote.experiment_created(&experiment) {
            Ok(time) => {
                created.insert(experiment, time);
            }
            Err(err) => {
                tracing::debug!("cannot check the records of {uri}: {err}");
                return;
            }
        }
    }
    let mut forgotten = 0;
    for run in runs.iter_mut() {
        let Some(&created) = created.get(&run.experiment) else {
            continue;
        };
        if run
            .remotes
            .get(&uri)
            .is_some_and(|rec| rec.complete && created.is_none_or(|at| rec.pushed_at < at))
        {
            run.remotes.remove(&uri);
            forgotten += 1;
        }
    }
    if forgotten > 0 {
        tracing::warn!(
            "{uri} lacks the experiments of {forgotten} run(s) recorded as pushed there (a new database?): they will be pushed again"
        );
    }
}

/// Replaces a server run id by the local one recorded in the version's tags.
fn localise(mut version: ModelVersion) -> ModelVersion {
    if let Some(local) = version.tags.get(TAG_LOCAL_RUN_ID) {
        version.run_id = local.clone();
    }
    version
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed_clock() -> Clock {
        Arc::new(|| 1_795_756_400_000)
    }

    #[test]
    fn a_tracker_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Tracker>();
    }

    #[test]
    fn log_grid_writes_parent_and_children_locally() {
        let dir = tempfile::tempdir().unwrap();
        let art = dir.path().join("grid.csv");
        std::fs::write(&art, "a\n1\n").unwrap();
        let tracker = Tracker::local(dir.path().join("mlruns"))
            .unwrap()
            .with_clock(fixed_clock())
            .with_context(RunContext {
                user: Some("quant".into()),
                source_name: Some("test".into()),
                git_commit: Some("abc".into()),
            });
        let parent = RunSpec::new("grid")
            .param("objective", "sharpe")
            .artifact(&art)
            .note("a *grid*");
        let children = (0..5)
            .map(|i| {
                RunSpec::new(format!("c{i}"))
                    .param("lookback", i)
                    .metric("sharpe", f64::from(i))
            })
            .collect();
        let log = tracker.log_grid("exp", parent, children).unwrap();
        assert!(log.remote.is_none());
        let parent = tracker.get_run(&log.parent_run_id).unwrap();
        assert_eq!(parent.status, RunStatus::Finished);
        assert_eq!(parent.end_time, Some(1_795_756_400_000));
        assert_eq!(parent.tags[TAG_GIT_COMMIT], "abc");
        assert_eq!(parent.tags[TAG_NOTE], "a *grid*");
        assert_eq!(
            tracker.store().list_artifacts(&log.parent_run_id).unwrap(),
            ["grid.csv"]
        );
        let q = RunQuery::new("exp")
            .filter(crate::Filter::ParentRunId(log.parent_run_id.clone()))
            .order_by_metric("sharpe", true);
        let kids = tracker.search_runs(&q).unwrap();
        assert_eq!(
            kids.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["c4", "c3", "c2", "c1", "c0"]
        );
        assert!(matches!(tracker.sync(), Err(TrackingError::NoRemote)));
    }

    #[test]
    fn step_by_step_runs_and_validation() {
        let dir = tempfile::tempdir().unwrap();
        let tracker = Tracker::local(dir.path())
            .unwrap()
            .with_clock(fixed_clock());
        let parent = tracker.start_run("exp", "outer", None, &[]).unwrap();
        let child = tracker
            .start_run("exp", "inner", Some(&parent), &[("k".into(), "v".into())])
            .unwrap();
        tracker.log_param(&child, "lookback", 20).unwrap();
        tracker.log_metric(&child, "equity", 1.0, 0, None).unwrap();
        tracker
            .log_metric(&child, "equity", 1.1, 1, Some(5))
            .unwrap();
        assert!(
            tracker
                .log_metric(&child, "bad key?", 1.0, 0, None)
                .is_err()
        );
        assert!(tracker.set_tag(&child, "note", &"x".repeat(8001)).is_err());
        let input =
            DatasetInput::from_sha256("prices", &"ab".repeat(32), "data/raw/prices.parquet")
                .with_context("training");
        tracker.log_input(&child, input.clone()).unwrap();
        tracker.log_input(&child, input).unwrap();
        let mut bad = DatasetInput::new("prices", "x".repeat(37), "p");
        bad.context = None;
        assert!(matches!(
            tracker.log_input(&child, bad),
            Err(TrackingError::ValueTooLong { .. })
        ));
        tracker.end_run(&child, RunStatus::Finished).unwrap();
        tracker.end_run(&parent, RunStatus::Finished).unwrap();
        let run = tracker.get_run(&child).unwrap();
        assert_eq!(run.parent_run_id.as_deref(), Some(parent.as_str()));
        assert_eq!(run.metric("equity"), Some(1.1));
        assert_eq!(run.inputs.len(), 1);
        assert_eq!(run.inputs[0].digest.len(), 8);
        assert!(tracker.start_run("exp", "x", Some("nope"), &[]).is_err());
    }
}
