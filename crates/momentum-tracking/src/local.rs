//! The local run store: plain JSON files under a root directory (`mlruns/` by default).
//!
//! ```text
//! mlruns/
//!   experiments/<id>.json         {"id","name","creation_time"}; id = first 16 hex of sha256(name)
//!   runs/<run_id>/run.json        identity and lifecycle: experiment, name, status, times, parent
//!   runs/<run_id>/params.json     {"key": "value"}
//!   runs/<run_id>/metrics.json    {"key": [{"value","timestamp","step"}]}  (NaN/Inf as strings)
//!   runs/<run_id>/tags.json       {"key": "value"}
//!   runs/<run_id>/inputs.json     [dataset inputs]
//!   runs/<run_id>/remotes.json    {"<tracking uri>": {"run_id","artifact_uri","complete","pushed_at"}}
//!   runs/<run_id>/artifacts/...   copied files
//!   models/<name>.json            registered model: versions and aliases
//!   .staging/                     runs being created (renamed into runs/ when complete)
//! ```
//!
//! Every file is written to a temporary name in the same directory and renamed over the
//! target, so a reader sees the old or the new content, never half of it. A new run is
//! assembled under `.staging/` and renamed into `runs/` in one step. A run folder whose
//! `run.json` is missing or unreadable (a crash of an older writer, a hand edit) is reported in
//! [`Listing::skipped`] and left out; it never breaks the listing of the other runs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{Result, TrackingError};
use crate::model::{
    DatasetInput, Experiment, MetricPoint, ModelVersion, RemoteRecord, Run, RunQuery, RunStatus,
    validate_alias, validate_input, validate_name, validate_param, validate_tag,
};

/// A run folder that could not be read, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRun {
    /// The folder.
    pub path: PathBuf,
    /// What was wrong (missing or invalid `run.json`, ...).
    pub reason: String,
}

/// All readable runs of a store, plus the folders that were skipped.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Readable runs, in run-id order.
    pub runs: Vec<Run>,
    /// Unreadable run folders.
    pub skipped: Vec<SkippedRun>,
}

/// Everything needed to create a run in one atomic step.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Run id (see [`crate::model::new_run_id`]).
    pub run_id: String,
    /// Experiment name (created when missing).
    pub experiment: String,
    /// Display name.
    pub name: String,
    /// Initial status (RUNNING for a run still being logged, FINISHED for a complete one).
    pub status: RunStatus,
    /// Epoch ms.
    pub start_time: i64,
    /// Epoch ms, for a run created already finished.
    pub end_time: Option<i64>,
    /// Local parent run id.
    pub parent_run_id: Option<String>,
    /// Params.
    pub params: BTreeMap<String, String>,
    /// Metric histories.
    pub metrics: BTreeMap<String, Vec<MetricPoint>>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Dataset inputs.
    pub inputs: Vec<DatasetInput>,
    /// Files to copy into the run's artifacts: (source, relative destination).
    pub artifacts: Vec<(PathBuf, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunMeta {
    run_id: String,
    experiment_id: String,
    experiment: String,
    name: String,
    status: RunStatus,
    start_time: i64,
    end_time: Option<i64>,
    parent_run_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ModelFile {
    name: String,
    creation_timestamp: i64,
    description: String,
    versions: Vec<ModelVersion>,
    aliases: BTreeMap<String, String>,
}

/// The on-disk run store. Cheap to clone by path; safe to share between threads (writes to
/// existing runs are serialised by an internal lock).
///
/// # Example
/// ```
/// use momentum_tracking::LocalStore;
/// # let dir = tempfile::tempdir().unwrap();
/// let store = LocalStore::open(dir.path().join("mlruns"))?;
/// assert!(store.root().join("runs").is_dir());
/// assert!(store.list_runs()?.runs.is_empty());
/// # Ok::<(), momentum_tracking::TrackingError>(())
/// ```
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    lock: Mutex<()>,
}

const RUN_FILE: &str = "run.json";

impl LocalStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for sub in ["experiments", "runs", "models", ".staging"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|e| TrackingError::io(&dir, e))?;
        }
        Ok(LocalStore {
            root,
            lock: Mutex::new(()),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn run_dir(&self, run_id: &str) -> PathBuf {
        self.root.join("runs").join(run_id)
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The experiment named `name`, created (with `now` as creation time) when missing. Its id
    /// is derived from the name, so concurrent creators agree.
    pub fn experiment(&self, name: &str, now: i64) -> Result<Experiment> {
        validate_name("experiment name", name)?;
        let id = experiment_id(name);
        let path = self.root.join("experiments").join(format!("{id}.json"));
        if let Some(exp) = read_json_opt::<Experiment>(&path)? {
            return Ok(exp);
        }
        let exp = Experiment {
            id,
            name: name.to_string(),
            creation_time: now,
        };
        write_json(&path, &exp)?;
        Ok(exp)
    }

    /// All experiments, by name.
    pub fn experiments(&self) -> Result<Vec<Experiment>> {
        let dir = self.root.join("experiments");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| TrackingError::io(&dir, e))? {
            let path = entry.map_err(|e| TrackingError::io(&dir, e))?.path();
            if path.extension().is_some_and(|x| x == "json")
                && let Ok(Some(exp)) = read_json_opt::<Experiment>(&path)
            {
                out.push(exp);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Creates a run with all its data in one step: the folder is assembled under `.staging/`
    /// and renamed into `runs/`, so a crash leaves either no run or a whole one.
    pub fn create_run(&self, new: &NewRun, now: i64) -> Result<()> {
        for (k, v) in &new.params {
            validate_param(k, v)?;
        }
        for (k, v) in &new.tags {
            validate_tag(k, v)?;
        }
        for k in new.metrics.keys() {
            crate::model::validate_key(k)?;
        }
        for input in &new.inputs {
            validate_input(input)?;
        }
        let exp = self.experiment(&new.experiment, now)?;
        let staging = self.root.join(".staging").join(&new.run_id);
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(|e| TrackingError::io(&staging, e))?;
        }
        fs::create_dir_all(&staging).map_err(|e| TrackingError::io(&staging, e))?;
        let meta = RunMeta {
            run_id: new.run_id.clone(),
            experiment_id: exp.id,
            experiment: new.experiment.clone(),
            name: new.name.clone(),
            status: new.status,
            start_time: new.start_time,
            end_time: new.end_time,
            parent_run_id: new.parent_run_id.clone(),
        };
        write_json(&staging.join("params.json"), &new.params)?;
        write_json(&staging.join("metrics.json"), &new.metrics)?;
        write_json(&staging.join("tags.json"), &new.tags)?;
        write_json(&staging.join("inputs.json"), &new.inputs)?;
        for (src, dest) in &new.artifacts {
            let target = artifact_target(&staging.join("artifacts"), dest)?;
            copy_file(src, &target)?;
        }
        write_json(&staging.join(RUN_FILE), &meta)?;
        let final_dir = self.run_dir(&new.run_id);
        fs::rename(&staging, &final_dir).map_err(|e| TrackingError::io(&final_dir, e))?;
        Ok(())
    }

    /// Reads one run.
    pub fn get_run(&self, run_id: &str) -> Result<Run> {
        let dir = self.run_dir(run_id);
        if !dir.join(RUN_FILE).exists() || run_id.is_empty() || run_id.contains(['/', '\\', '.']) {
            return Err(TrackingError::RunNotFound(run_id.to_string()));
        }
        read_run(&dir)
    }

    /// Every readable run; unreadable folders go to [`Listing::skipped`] (and a warning).
    pub fn list_runs(&self) -> Result<Listing> {
        let dir = self.root.join("runs");
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| TrackingError::io(&dir, e))? {
            let entry = entry.map_err(|e| TrackingError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && entry.path().is_dir() {
                names.push(name);
            }
        }
        names.sort();
        let mut listing = Listing::default();
        for name in names {
            let path = dir.join(&name);
            match read_run(&path) {
                Ok(run) => listing.runs.push(run),
                Err(err) => {
                    let reason = err.chain();
                    tracing::warn!("skipping run folder {}: {reason}", path.display());
                    listing.skipped.push(SkippedRun { path, reason });
                }
            }
        }
        Ok(listing)
    }

    /// The runs of `query.experiment` that match, in the query's order.
    pub fn search_runs(&self, query: &RunQuery) -> Result<Vec<Run>> {
        let listing = self.list_runs()?;
        let runs = listing
            .runs
            .into_iter()
            .filter(|r| r.experiment == query.experiment)
            .collect();
        Ok(query.apply(runs))
    }

    /// Adds params; re-logging a key with the same value is a no-op, a different value an error.
    pub fn log_params(&self, run_id: &str, params: &[(String, String)]) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for (k, v) in params {
            validate_param(k, v)?;
            if !seen.insert(k) {
                return Err(TrackingError::DuplicateParam {
                    run_id: run_id.into(),
                    key: k.clone(),
                });
            }
        }
        let _g = self.guard();
        let path = self.existing(run_id)?.join("params.json");
        let mut current: BTreeMap<String, String> = read_json_opt(&path)?.unwrap_or_default();
        for (k, v) in params {
            match current.get(k) {
                Some(old) if old != v => {
                    return Err(TrackingError::ParamChanged {
                        run_id: run_id.into(),
                        key: k.clone(),
                        old: old.clone(),
                        new: v.clone(),
                    });
                }
                _ => {
                    current.insert(k.clone(), v.clone());
                }
            }
        }
        write_json(&path, &current)
    }

    /// Appends metric points.
    pub fn log_metrics(&self, run_id: &str, points: &[(String, MetricPoint)]) -> Result<()> {
        for (k, _) in points {
            crate::model::validate_key(k)?;
        }
        let _g = self.guard();
        let path = self.existing(run_id)?.join("metrics.json");
        let mut current: BTreeMap<String, Vec<MetricPoint>> =
            read_json_opt(&path)?.unwrap_or_default();
        for (k, p) in points {
            current.entry(k.clone()).or_default().push(*p);
        }
        write_json(&path, &current)
    }

    /// Sets (overwrites) tags.
    pub fn set_tags(&self, run_id: &str, tags: &[(String, String)]) -> Result<()> {
        for (k, v) in tags {
            validate_tag(k, v)?;
        }
        let _g = self.guard();
        let path = self.existing(run_id)?.join("tags.json");
        let mut current: BTreeMap<String, String> = read_json_opt(&path)?.unwrap_or_default();
        for (k, v) in tags {
            current.insert(k.clone(), v.clone());
        }
        write_json(&path, &current)
    }

    /// Adds dataset inputs (the same name and digest twice is kept once, as on the server).
    pub fn log_inputs(&self, run_id: &str, inputs: &[DatasetInput]) -> Result<()> {
        for input in inputs {
            validate_input(input)?;
        }
        let _g = self.guard();
        let path = self.existing(run_id)?.join("inputs.json");
        let mut current: Vec<DatasetInput> = read_json_opt(&path)?.unwrap_or_default();
        for input in inputs {
            if !current
                .iter()
                .any(|c| c.name == input.name && c.digest == input.digest)
            {
                current.push(input.clone());
            }
        }
        write_json(&path, &current)
    }

    /// Copies `src` into the run's artifacts as `dest` (relative, `/`-separated).
    pub fn log_artifact(&self, run_id: &str, src: &Path, dest: &str) -> Result<()> {
        let target = artifact_target(&self.existing(run_id)?.join("artifacts"), dest)?;
        copy_file(src, &target)
    }

    /// Writes `bytes` into the run's artifacts as `dest`.
    pub fn log_artifact_bytes(&self, run_id: &str, dest: &str, bytes: &[u8]) -> Result<()> {
        let target = artifact_target(&self.existing(run_id)?.join("artifacts"), dest)?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| TrackingError::io(parent, e))?;
        }
        write_atomic(&target, bytes)
    }

    /// The run's artifact files as relative `/`-separated paths, sorted.
    pub fn list_artifacts(&self, run_id: &str) -> Result<Vec<String>> {
        let root = self.existing(run_id)?.join("artifacts");
        let mut out = Vec::new();
        if root.is_dir() {
            walk(&root, &root, &mut out)?;
        }
        out.sort();
        Ok(out)
    }

    /// The on-disk path of an artifact of a run.
    pub fn artifact_path(&self, run_id: &str, rel: &str) -> Result<PathBuf> {
        artifact_target(&self.existing(run_id)?.join("artifacts"), rel)
    }

    /// Sets the status (and end time, for a terminal status).
    pub fn set_status(&self, run_id: &str, status: RunStatus, end_time: Option<i64>) -> Result<()> {
        let _g = self.guard();
        let path = self.existing(run_id)?.join(RUN_FILE);
        let mut meta: RunMeta = read_json(&path)?;
        meta.status = status;
        meta.end_time = end_time;
        write_json(&path, &meta)
    }

    /// Records that the run reached (or partly reached) the server `uri`.
    pub fn set_remote(&self, run_id: &str, uri: &str, record: &RemoteRecord) -> Result<()> {
        let _g = self.guard();
        let path = self.existing(run_id)?.join("remotes.json");
        let mut current: BTreeMap<String, RemoteRecord> = read_json_opt(&path)?.unwrap_or_default();
        current.insert(uri.to_string(), record.clone());
        write_json(&path, &current)
    }

    fn existing(&self, run_id: &str) -> Result<PathBuf> {
        let dir = self.run_dir(run_id);
        if run_id.is_empty() || run_id.contains(['/', '\\', '.']) || !dir.join(RUN_FILE).is_file() {
            return Err(TrackingError::RunNotFound(run_id.to_string()));
        }
        Ok(dir)
    }

    // ----- model registry -----

    fn model_path(&self, name: &str) -> Result<PathBuf> {
        validate_name("model name", name)?;
        Ok(self.root.join("models").join(format!("{name}.json")))
    }

    fn model(&self, name: &str) -> Result<ModelFile> {
        let path = self.model_path(name)?;
        read_json_opt(&path)?.ok_or_else(|| TrackingError::ModelNotFound(name.to_string()))
    }

    /// Creates the registered model when missing (get-or-create).
    pub fn create_registered_model(&self, name: &str, now: i64) -> Result<()> {
        let _g = self.guard();
        let path = self.model_path(name)?;
        if read_json_opt::<ModelFile>(&path)?.is_none() {
            let model = ModelFile {
                name: name.to_string(),
                creation_timestamp: now,
                ..ModelFile::default()
            };
            write_json(&path, &model)?;
        }
        Ok(())
    }

    /// Adds a version (numbered 1, 2, ...) whose source is `source` of run `run_id`.
    pub fn create_model_version(
        &self,
        name: &str,
        run_id: &str,
        source: &str,
        description: &str,
        tags: &BTreeMap<String, String>,
        now: i64,
    ) -> Result<ModelVersion> {
        self.existing(run_id)?;
        let _g = self.guard();
        let path = self.model_path(name)?;
        let mut model: ModelFile =
            read_json_opt(&path)?.ok_or_else(|| TrackingError::ModelNotFound(name.into()))?;
        let next = model
            .versions
            .iter()
            .filter_map(|v| v.version.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let version = ModelVersion {
            name: name.to_string(),
            version: next.to_string(),
            run_id: run_id.to_string(),
            source: source.to_string(),
            description: description.to_string(),
            creation_timestamp: now,
            aliases: Vec::new(),
            tags: tags.clone(),
        };
        model.versions.push(version.clone());
        write_json(&path, &model)?;
        Ok(version)
    }

    /// Points `alias` at `version` (moving it when it pointed elsewhere).
    pub fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        validate_alias(alias)?;
        let _g = self.guard();
        let path = self.model_path(name)?;
        let mut model: ModelFile =
            read_json_opt(&path)?.ok_or_else(|| TrackingError::ModelNotFound(name.into()))?;
        if !model.versions.iter().any(|v| v.version == version) {
            return Err(TrackingError::VersionNotFound {
                name: name.into(),
                version: version.into(),
            });
        }
        model.aliases.insert(alias.to_string(), version.to_string());
        write_json(&path, &model)
    }

    /// Removes an alias (a missing alias is not an error).
    pub fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        let _g = self.guard();
        let path = self.model_path(name)?;
        let mut model: ModelFile =
            read_json_opt(&path)?.ok_or_else(|| TrackingError::ModelNotFound(name.into()))?;
        if model.aliases.remove(alias).is_some() {
            write_json(&path, &model)?;
        }
        Ok(())
    }

    /// The version `alias` points at, `None` when the alias is not set.
    pub fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<Option<ModelVersion>> {
        let model = self.model(name)?;
        let Some(version) = model.aliases.get(alias) else {
            return Ok(None);
        };
        Ok(with_aliases(&model)
            .into_iter()
            .find(|v| &v.version == version))
    }

    /// All versions of a model, oldest first, with their aliases.
    pub fn list_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        Ok(with_aliases(&self.model(name)?))
    }
}

fn with_aliases(model: &ModelFile) -> Vec<ModelVersion> {
    model
        .versions
        .iter()
        .map(|v| {
            let mut v = v.clone();
            v.aliases = model
                .aliases
                .iter()
                .filter(|(_, ver)| **ver == v.version)
                .map(|(a, _)| a.clone())
                .collect();
            v
        })
        .collect()
}

/// Local experiment id: the first 16 hex digits of the SHA-256 of the name.
fn experiment_id(name: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(name.as_bytes())[..8])
}

fn read_run(dir: &Path) -> Result<Run> {
    let meta: RunMeta = read_json(&dir.join(RUN_FILE))?;
    let params = read_json_opt(&dir.join("params.json"))?.unwrap_or_default();
    let metrics = read_json_opt(&dir.join("metrics.json"))?.unwrap_or_default();
    let tags = read_json_opt(&dir.join("tags.json"))?.unwrap_or_default();
    let inputs = read_json_opt(&dir.join("inputs.json"))?.unwrap_or_default();
    let remotes = read_json_opt(&dir.join("remotes.json"))?.unwrap_or_default();
    Ok(Run {
        run_id: meta.run_id,
        experiment_id: meta.experiment_id,
        experiment: meta.experiment,
        name: meta.name,
        status: meta.status,
        start_time: meta.start_time,
        end_time: meta.end_time,
        parent_run_id: meta.parent_run_id,
        params,
        metrics,
        tags,
        inputs,
        remotes,
    })
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(|e| TrackingError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| TrackingError::Json {
        path: path.to_path_buf(),
        source: e,
    })
}

fn read_json_opt<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| TrackingError::Json {
                path: path.to_path_buf(),
                source: e,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TrackingError::io(path, e)),
    }
}

fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| TrackingError::Json {
        path: path.to_path_buf(),
        source: e,
    })?;
    write_atomic(path, &bytes)
}

/// Writes `bytes` to a temporary file next to `path`, then renames it over `path`.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    // A write that fails part way (a full disk) must not leave its temp file behind.
    if let Err(e) = fs::write(&tmp, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(TrackingError::io(path, e));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        TrackingError::io(path, e)
    })
}

fn copy_file(src: &Path, target: &Path) -> Result<()> {
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| TrackingError::io(parent, e))?;
    }
    let bytes = fs::read(src).map_err(|e| TrackingError::io(src, e))?;
    write_atomic(target, &bytes)
}

/// `root/rel` for a relative artifact path without `..`, absolute or empty parts.
fn artifact_target(root: &Path, rel: &str) -> Result<PathBuf> {
    let parts: Vec<&str> = rel.split('/').collect();
    if rel.is_empty()
        || parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\\'))
    {
        return Err(TrackingError::InvalidArtifactPath(rel.to_string()));
    }
    Ok(parts.iter().fold(root.to_path_buf(), |acc, p| acc.join(p)))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| TrackingError::io(dir, e))? {
        let path = entry.map_err(|e| TrackingError::io(dir, e))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') && name.contains(".tmp-") {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Filter, RunQuery, new_run_id};

    fn new_run(exp: &str, name: &str, sharpe: f64) -> NewRun {
        NewRun {
            run_id: new_run_id(),
            experiment: exp.into(),
            name: name.into(),
            status: RunStatus::Finished,
            start_time: 1000,
            end_time: Some(2000),
            parent_run_id: None,
            params: BTreeMap::from([("lookback".to_string(), "20".to_string())]),
            metrics: BTreeMap::from([(
                "sharpe".to_string(),
                vec![MetricPoint {
                    value: sharpe,
                    timestamp: 1500,
                    step: 0,
                }],
            )]),
            tags: BTreeMap::new(),
            inputs: vec![],
            artifacts: vec![],
        }
    }

    #[test]
    fn runs_round_trip_and_search_orders_by_metric() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        for (i, s) in [0.5, 1.5, f64::NAN, 1.0].iter().enumerate() {
            store
                .create_run(&new_run("exp", &format!("r{i}"), *s), 1)
                .unwrap();
        }
        store.create_run(&new_run("other", "x", 9.0), 1).unwrap();
        let q = RunQuery::new("exp").order_by_metric("sharpe", true);
        let names: Vec<_> = store
            .search_runs(&q)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["r1", "r3", "r0", "r2"]);
        let q = RunQuery::new("exp")
            .filter(Filter::Metric("sharpe".into(), crate::Cmp::Gt, 0.7))
            .order_by_metric("sharpe", true)
            .limit(1);
        let found = store.search_runs(&q).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "r1");
        assert!(found[0].params["lookback"] == "20");
        let nan_run = store
            .search_runs(&RunQuery::new("exp"))
            .unwrap()
            .into_iter()
            .find(|r| r.name == "r2")
            .unwrap();
        assert!(nan_run.metric("sharpe").unwrap().is_nan());
    }

    #[test]
    fn params_are_immutable_and_validated() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let run = new_run("exp", "r", 1.0);
        store.create_run(&run, 1).unwrap();
        store
            .log_params(&run.run_id, &[("lookback".into(), "20".into())])
            .unwrap();
        let err = store
            .log_params(&run.run_id, &[("lookback".into(), "40".into())])
            .unwrap_err();
        assert!(matches!(err, TrackingError::ParamChanged { .. }), "{err}");
        let err = store
            .log_params(&run.run_id, &[("big".into(), "x".repeat(6001))])
            .unwrap_err();
        assert!(matches!(err, TrackingError::ValueTooLong { .. }), "{err}");
        assert!(matches!(
            store.log_params("nope", &[]),
            Err(TrackingError::RunNotFound(_))
        ));
    }

    #[test]
    fn a_crash_between_writes_never_corrupts_the_listing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let good = new_run("exp", "good", 1.0);
        store.create_run(&good, 1).unwrap();
        let runs = dir.path().join("runs");

        // 1. A writer died while writing run.json non-atomically (or a disk error): partial JSON.
        let partial = runs.join("0123456789abcdef0123456789abcdef");
        fs::create_dir_all(&partial).unwrap();
        fs::write(partial.join("run.json"), br#"{"run_id": "0123456789ab"#).unwrap();
        // 2. A folder whose run.json was never written.
        let missing = runs.join("fedcba9876543210fedcba9876543210");
        fs::create_dir_all(missing.join("artifacts")).unwrap();
        fs::write(missing.join("params.json"), b"{}").unwrap();
        // 3. A crash in the middle of creating a run: only its staging folder exists.
        fs::create_dir_all(dir.path().join(".staging/abc")).unwrap();
        fs::write(dir.path().join(".staging/abc/params.json"), b"{\"a\":").unwrap();
        // 4. A crash in the middle of updating params: the temp file is half written, the
        //    rename never happened.
        let good_dir = runs.join(&good.run_id);
        fs::write(good_dir.join(".params.json.tmp-1-1"), b"{\"lookback\": \"4").unwrap();

        let listing = store.list_runs().unwrap();
        assert_eq!(listing.runs.len(), 1);
        assert_eq!(listing.runs[0].params["lookback"], "20");
        let mut skipped: Vec<_> = listing.skipped.iter().map(|s| s.path.clone()).collect();
        skipped.sort();
        assert_eq!(skipped, vec![partial.clone(), missing.clone()]);
        assert!(
            listing
                .skipped
                .iter()
                .all(|s| s.reason.contains("run.json")),
            "{:?}",
            listing.skipped
        );

        // The store keeps working: new runs, new writes.
        store
            .log_params(&good.run_id, &[("skip".into(), "1".into())])
            .unwrap();
        store.create_run(&new_run("exp", "after", 2.0), 1).unwrap();
        assert_eq!(store.list_runs().unwrap().runs.len(), 2);
        assert!(matches!(
            store.get_run("0123456789abcdef0123456789abcdef"),
            Err(TrackingError::Json { .. })
        ));
    }

    #[test]
    fn artifacts_are_copied_and_paths_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("store")).unwrap();
        let src = dir.path().join("trades.csv");
        fs::write(&src, b"a,b\n1,2\n").unwrap();
        let mut run = new_run("exp", "r", 1.0);
        run.artifacts
            .push((src.clone(), "reports/trades.csv".into()));
        store.create_run(&run, 1).unwrap();
        store
            .log_artifact_bytes(&run.run_id, "metrics.json", b"{}")
            .unwrap();
        assert_eq!(
            store.list_artifacts(&run.run_id).unwrap(),
            ["metrics.json", "reports/trades.csv"]
        );
        let path = store
            .artifact_path(&run.run_id, "reports/trades.csv")
            .unwrap();
        assert_eq!(fs::read(path).unwrap(), b"a,b\n1,2\n");
        assert!(store.log_artifact(&run.run_id, &src, "../escape").is_err());
        assert!(store.log_artifact(&run.run_id, &src, "/abs").is_err());
    }

    #[test]
    fn registry_versions_and_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let (a, b) = (new_run("exp", "a", 1.0), new_run("exp", "b", 2.0));
        store.create_run(&a, 1).unwrap();
        store.create_run(&b, 1).unwrap();
        assert!(matches!(
            store.list_versions("m"),
            Err(TrackingError::ModelNotFound(_))
        ));
        store.create_registered_model("m", 1).unwrap();
        store.create_registered_model("m", 1).unwrap();
        let v1 = store
            .create_model_version("m", &a.run_id, "runs:/a/model", "", &BTreeMap::new(), 2)
            .unwrap();
        let v2 = store
            .create_model_version("m", &b.run_id, "runs:/b/model", "", &BTreeMap::new(), 3)
            .unwrap();
        assert_eq!((v1.version.as_str(), v2.version.as_str()), ("1", "2"));
        store.set_alias("m", "champion", "1").unwrap();
        store.set_alias("m", "challenger", "2").unwrap();
        assert_eq!(
            store
                .get_version_by_alias("m", "champion")
                .unwrap()
                .unwrap()
                .run_id,
            a.run_id
        );
        store.set_alias("m", "champion", "2").unwrap();
        let champ = store
            .get_version_by_alias("m", "champion")
            .unwrap()
            .unwrap();
        assert_eq!(champ.version, "2");
        assert_eq!(champ.aliases, ["challenger", "champion"]);
        store.delete_alias("m", "challenger").unwrap();
        assert!(
            store
                .get_version_by_alias("m", "challenger")
                .unwrap()
                .is_none()
        );
        assert!(store.set_alias("m", "champion", "9").is_err());
        assert!(store.set_alias("m", "latest", "1").is_err());
        assert_eq!(store.list_versions("m").unwrap().len(), 2);
    }
}
