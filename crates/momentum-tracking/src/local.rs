//! The local run store: plain JSON files under a root directory (`mlruns/` by default).
//!
//! ```text
//! mlruns/
//!   experiments/<id>.json         {"id","name","creation_time"}; id = first 16 hex of sha256(name)
//!   runs/<run_id>/run.json        identity and lifecycle: experiment, name, status, times, parent,
//!                                 and while RUNNING its owner {"pid","host","start_ticks"}
//!   runs/<run_id>/params.json     {"key": "value"}
//!   runs/<run_id>/metrics.json    {"key": [{"value","timestamp","step"}]}  (NaN/Inf as strings)
//!   runs/<run_id>/tags.json       {"key": "value"}
//!   runs/<run_id>/inputs.json     [dataset inputs]
//!   runs/<run_id>/remotes.json    {"<tracking uri>": {"run_id","artifact_uri","complete","pushed_at"}}
//!   runs/<run_id>/artifacts/...   copied files
//!   models/<name>.json            registered model: versions and aliases
//!   .staging/<run_id>.<owner tag> runs being created (renamed into runs/ when complete)
//! ```
//!
//! Every file is written to a temporary name in the same directory and renamed over the
//! target, so a reader sees the old or the new content, never half of it. A new run is
//! assembled under `.staging/` and renamed into `runs/` in one step. A run folder whose
//! `run.json` is missing or unreadable (a crash of an older writer, a hand edit) is reported in
//! [`Listing::skipped`] and left out; it never breaks the listing of the other runs.
//!
//! # Runs whose process died
//!
//! A RUNNING run records its owner, the process that created it (or last set it RUNNING): pid,
//! host name and process start time ([`momentum_files::Owner`]); the owner is dropped when the run
//! ends. A staging folder carries its owner in its name, `<run_id>.<pid>.<start_ticks>.<host>`,
//! which exists from the folder's first moment. [`LocalStore::open`] then
//! - marks a RUNNING run whose owner is dead KILLED (MLflow's status for a run stopped before
//!   it ended), with its folder's last modification time (the last write of one of its files,
//!   every write renaming a file into the folder) as its end time, and warns. With that final
//!   status, `sync` pushes the run once more and then counts it as complete;
//! - removes a staging folder whose owner is dead: a writer killed while it assembled a run.
//!
//! An owner is dead only when it ran on this host and its process is gone (or its pid now
//! belongs to a process started at another time), so a run or staging folder that a live
//! process (in another terminal, say) is writing is never touched, nor one of another host
//! sharing the store. Runs and staging folders without an owner (written before owners were
//! recorded, or off Linux, where none is) are left as they are. A store that cannot be written
//! keeps its dead runs RUNNING, with a warning. The check runs on open only: a process that
//! keeps a store open for long does not see the deaths that happen meanwhile.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{Result, TrackingError};
use crate::model::{
    DatasetInput, Experiment, MetricPoint, ModelVersion, RemoteRecord, Run, RunQuery, RunStatus,
    validate_alias, validate_input, validate_name, validate_param, validate_tag,
};
use momentum_files::Owner;

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
    /// The process logging a RUNNING run; absent in files written before owners were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<Owner>,
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
    /// The unreadable run folders already warned about: a command that lists the runs more
    /// than once (a filter, then its parents' children) warns about each folder once.
    warned: Mutex<BTreeSet<PathBuf>>,
}

const RUN_FILE: &str = "run.json";

impl LocalStore {
    /// Opens (creating if needed) a store rooted at `root`, marks the RUNNING runs of dead
    /// processes KILLED and removes the staging folders of dead writers (see the module docs).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for sub in ["experiments", "runs", "models", ".staging"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|e| TrackingError::io(&dir, e))?;
        }
        let store = LocalStore {
            root,
            lock: Mutex::new(()),
            warned: Mutex::new(BTreeSet::new()),
        };
        if let Some(me) = Owner::current() {
            store.end_dead_runs(me)?;
            store.remove_dead_staging(me)?;
        }
        Ok(store)
    }

    /// Marks KILLED every RUNNING run whose owner is dead; its end time is the folder's last
    /// modification time. Unreadable runs are left to [`LocalStore::list_runs`] to report.
    fn end_dead_runs(&self, me: &Owner) -> Result<()> {
        for dir in self.run_dirs()? {
            let path = dir.join(RUN_FILE);
            let Ok(mut meta) = read_json::<RunMeta>(&path) else {
                continue;
            };
            if meta.status != RunStatus::Running {
                continue;
            }
            let Some(owner) = meta.owner.take_if(|o| o.is_dead(me)) else {
                continue;
            };
            let modified = fs::metadata(&dir)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_millis()).ok());
            meta.status = RunStatus::Killed;
            meta.end_time = Some(modified.unwrap_or(meta.start_time).max(meta.start_time));
            match write_json(&path, &meta) {
                Ok(()) => tracing::warn!(
                    "run {} ({}) was RUNNING but its process {} on {} is gone: marked KILLED",
                    meta.run_id,
                    meta.name,
                    owner.pid,
                    owner.host
                ),
                Err(err) => tracing::warn!(
                    "run {} ({}) was RUNNING but its process {} on {} is gone; cannot mark it KILLED: {}",
                    meta.run_id,
                    meta.name,
                    owner.pid,
                    owner.host,
                    err.chain()
                ),
            }
        }
        Ok(())
    }

    /// Removes the staging folders whose owner (in the name) is dead.
    fn remove_dead_staging(&self, me: &Owner) -> Result<()> {
        let staging = self.root.join(".staging");
        for entry in fs::read_dir(&staging).map_err(|e| TrackingError::io(&staging, e))? {
            let entry = entry.map_err(|e| TrackingError::io(&staging, e))?;
            let name = entry.file_name();
            let Some((_, tag)) = name.to_str().and_then(|n| n.split_once('.')) else {
                continue;
            };
            if Owner::from_tag(tag).is_some_and(|o| o.is_dead(me)) {
                let path = entry.path();
                match fs::remove_dir_all(&path) {
                    Ok(()) => tracing::debug!("removed {} of a dead writer", path.display()),
                    // Another process opening the store removed it first.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => tracing::warn!(
                        "cannot remove {} of a dead writer: {}",
                        path.display(),
                        TrackingError::io(&path, e).chain()
                    ),
                }
            }
        }
        Ok(())
    }

    /// The run folders under `runs/`, by name.
    fn run_dirs(&self) -> Result<Vec<PathBuf>> {
        let dir = self.root.join("runs");
        let mut dirs = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| TrackingError::io(&dir, e))? {
            let entry = entry.map_err(|e| TrackingError::io(&dir, e))?;
            if !entry.file_name().to_string_lossy().starts_with('.') && entry.path().is_dir() {
                dirs.push(entry.path());
            }
        }
        dirs.sort();
        Ok(dirs)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn run_dir(&self, run_id: &str) -> PathBuf {
        self.root.join("runs").join(run_id)
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(PoisonError::into_inner)
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
        let owner = Owner::current();
        let staging = self.root.join(".staging").join(match owner {
            Some(owner) => format!("{}.{}", new.run_id, owner.tag()),
            None => new.run_id.clone(),
        });
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
            owner: owner.filter(|_| new.status == RunStatus::Running).cloned(),
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

    /// Every readable run; unreadable folders go to [`Listing::skipped`] (and a warning, the
    /// first time this store lists them).
    pub fn list_runs(&self) -> Result<Listing> {
        let mut listing = Listing::default();
        for path in self.run_dirs()? {
            match read_run(&path) {
                Ok(run) => listing.runs.push(run),
                Err(err) => {
                    let reason = err.chain();
                    let mut warned = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
                    if warned.insert(path.clone()) {
                        tracing::warn!("skipping run folder {}: {reason}", path.display());
                    }
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

    /// Sets the status (and end time, for a terminal status). RUNNING makes this process the
    /// run's owner; any other status drops the owner.
    pub fn set_status(&self, run_id: &str, status: RunStatus, end_time: Option<i64>) -> Result<()> {
        let _g = self.guard();
        let path = self.existing(run_id)?.join(RUN_FILE);
        let mut meta: RunMeta = read_json(&path)?;
        meta.status = status;
        meta.end_time = end_time;
        meta.owner = Owner::current()
            .filter(|_| status == RunStatus::Running)
            .cloned();
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

    /// Sets tag `key` of a model version to `value` (overwriting it).
    pub fn set_version_tag(&self, name: &str, version: &str, key: &str, value: &str) -> Result<()> {
        let _g = self.guard();
        let path = self.model_path(name)?;
        let mut model: ModelFile =
            read_json_opt(&path)?.ok_or_else(|| TrackingError::ModelNotFound(name.into()))?;
        let entry = model
            .versions
            .iter_mut()
            .find(|v| v.version == version)
            .ok_or_else(|| TrackingError::VersionNotFound {
                name: name.into(),
                version: version.into(),
            })?;
        entry.tags.insert(key.to_owned(), value.to_owned());
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

/// Replaces `path` with `bytes` atomically ([`momentum_files::write_atomic_unsynced`]: the
/// store's many small files are not synced one by one).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(momentum_files::write_atomic_unsynced(path, bytes)?)
}

fn copy_file(src: &Path, target: &Path) -> Result<()> {
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| TrackingError::io(parent, e))?;
    }
    // Streamed: an artifact (the grid table) may be larger than what a run should hold.
    Ok(momentum_files::copy_atomic_unsynced(src, target)?)
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

    /// The pid of a process that ran and was reaped: a dead owner.
    #[cfg(target_os = "linux")]
    fn exited_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

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

    /// Creates a RUNNING run (owned by this process) and gives it `owner` instead.
    #[cfg(target_os = "linux")]
    fn running_run_of(store: &LocalStore, owner: &Owner) -> String {
        let mut run = new_run("exp", "backtest", 1.0);
        run.status = RunStatus::Running;
        run.end_time = None;
        store.create_run(&run, 1).unwrap();
        let path = store.run_dir(&run.run_id).join(RUN_FILE);
        let mut meta: serde_json::Value = read_json(&path).unwrap();
        meta["owner"] = serde_json::to_value(owner).unwrap();
        write_json(&path, &meta).unwrap();
        run.run_id
    }

    /// This process, and a process on this host that has exited.
    #[cfg(target_os = "linux")]
    fn me_and_a_dead_owner() -> (&'static Owner, Owner) {
        let me = Owner::current().expect("/proc is readable");
        let dead = Owner {
            pid: exited_pid(),
            ..me.clone()
        };
        (me, dead)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_run_whose_process_died_is_killed_on_open_and_a_live_one_is_left_running() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let (me, dead) = me_and_a_dead_owner();
        let killed = running_run_of(&store, &dead);
        let live = running_run_of(&store, me);
        let elsewhere = running_run_of(
            &store,
            &Owner {
                host: format!("{}-elsewhere", me.host),
                ..dead.clone()
            },
        );
        let last_write =
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_123_456);
        fs::File::open(store.run_dir(&killed))
            .unwrap()
            .set_modified(last_write)
            .unwrap();
        assert_eq!(store.get_run(&killed).unwrap().status, RunStatus::Running);

        let store = LocalStore::open(dir.path()).unwrap();
        let run = store.get_run(&killed).unwrap();
        assert_eq!(run.status, RunStatus::Killed);
        assert_eq!(
            run.end_time,
            Some(1_700_000_123_456),
            "the folder's last write"
        );
        let meta: RunMeta = read_json(&store.run_dir(&killed).join(RUN_FILE)).unwrap();
        assert_eq!(meta.owner, None, "an ended run has no owner");
        for running in [&live, &elsewhere] {
            let run = store.get_run(running).unwrap();
            assert_eq!((run.status, run.end_time), (RunStatus::Running, None));
        }
        let meta: RunMeta = read_json(&store.run_dir(&live).join(RUN_FILE)).unwrap();
        assert_eq!(meta.owner.as_ref(), Some(me));

        // Ending a run drops its owner; setting it RUNNING again makes this process the owner.
        store
            .set_status(&live, RunStatus::Finished, Some(5))
            .unwrap();
        let meta: RunMeta = read_json(&store.run_dir(&live).join(RUN_FILE)).unwrap();
        assert_eq!((meta.status, meta.owner), (RunStatus::Finished, None));
        store.set_status(&killed, RunStatus::Running, None).unwrap();
        let meta: RunMeta = read_json(&store.run_dir(&killed).join(RUN_FILE)).unwrap();
        assert_eq!(meta.owner.as_ref(), Some(me));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn only_the_staging_folders_of_dead_writers_are_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let (me, dead) = me_and_a_dead_owner();
        let reused = Owner {
            start_ticks: me.start_ticks + 1,
            ..me.clone()
        };
        let elsewhere = Owner {
            host: "elsewhere.example.com".into(),
            ..dead.clone()
        };
        let staging = dir.path().join(".staging");
        let folder = |owner: Option<&Owner>| {
            let name = match owner {
                Some(owner) => format!("{}.{}", new_run_id(), owner.tag()),
                None => new_run_id(),
            };
            let path = staging.join(name);
            fs::create_dir_all(path.join("artifacts")).unwrap();
            fs::write(path.join("params.json"), b"{}").unwrap();
            path
        };
        let (dead, reused) = (folder(Some(&dead)), folder(Some(&reused)));
        let kept = [folder(Some(me)), folder(Some(&elsewhere)), folder(None)];

        drop(store);
        let store = LocalStore::open(dir.path()).unwrap();
        assert!(!dead.exists() && !reused.exists());
        for path in &kept {
            assert!(path.is_dir(), "{} kept", path.display());
        }
        // This process's own staging folders are named for it and vanish into runs/.
        store.create_run(&new_run("exp", "r", 1.0), 1).unwrap();
        assert_eq!(fs::read_dir(&staging).unwrap().count(), kept.len());
    }

    #[test]
    fn a_run_json_written_before_owners_reads_and_is_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let run_dir = dir.path().join("runs/0123456789abcdef0123456789abcdef");
        fs::create_dir_all(&run_dir).unwrap();
        let old = br#"{
  "run_id": "0123456789abcdef0123456789abcdef",
  "experiment_id": "446be308664e1964",
  "experiment": "momentum",
  "name": "backtest",
  "status": "RUNNING",
  "start_time": 1000,
  "end_time": null,
  "parent_run_id": null
}"#;
        fs::write(run_dir.join(RUN_FILE), old).unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let run = store.get_run("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!((run.status, run.end_time), (RunStatus::Running, None));
        assert_eq!(fs::read(run_dir.join(RUN_FILE)).unwrap(), old);
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
