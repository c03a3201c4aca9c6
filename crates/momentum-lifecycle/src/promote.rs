//! Promote, roll back, and load the production model: the registry's `champion` alias and the
//! `production` block of `params.yaml` kept in agreement.

use std::path::Path;

use momentum_scanner::Model;
use momentum_scanner::model::{PREVIOUS_CHAMPION_TAG, set_production_block};
use momentum_scanner::promotion::{GateInputs, GateResult, Gates, evaluate};
use momentum_tracking::{Cmp, Filter, ModelVersion, RunQuery, RunStatus, Tracker};

use crate::backtest::sha256_hex;
use crate::error::{LifecycleError, Result};
use crate::files::write_text;
use crate::settings::Settings;
use crate::track::CANDIDATE_SHA256_TAG;

/// The registry alias of the production model.
pub const CHAMPION: &str = "champion";

/// A candidate read from its file and judged by the gates.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The candidate.
    pub candidate: Model,
    /// sha256 of the file's bytes (the tag of the backtest run that wrote it).
    pub sha256: String,
    /// Every gate's result.
    pub gates: Vec<GateResult>,
}

impl Verdict {
    /// Whether every gate passed.
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|gate| gate.passed)
    }
}

/// Reads the candidate at `path` and applies `gates`. Changes nothing.
///
/// # Errors
/// [`LifecycleError::Read`]; [`LifecycleError::Candidate`] for a file that is not a candidate
/// or has no test window.
///
/// # Examples
///
/// A backtest on forty days on which `A` climbs by 1 a day from 10 and `B` stays at 10 writes
/// the candidate, which is then judged:
///
/// ```
/// use momentum_data::{PriceRow, PriceTable};
/// use momentum_engine::{ExperimentSpec, GridSpec, Objective, PricePanel};
/// use momentum_lifecycle::{BacktestFiles, Silent, backtest, judge, sha256_hex};
/// use momentum_scanner::model::CodeVersion;
/// use momentum_scanner::promotion::Gates;
///
/// let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
/// let mut rows = Vec::new();
/// for t in 0..40 {
///     let date = start + chrono::Days::new(t);
///     rows.push(PriceRow::close_only("A", date, 10.0 + t as f64));
///     rows.push(PriceRow::close_only("B", date, 10.0));
/// }
/// let panel = PricePanel::from_table(&PriceTable::from_rows(vec!["A".into(), "B".into()], rows))?;
/// let spec = ExperimentSpec {
///     train_fraction: Some(0.5),
///     objective: Objective::TotalRoi,
///     cost_bps: 0.0,
///     pbo_blocks: 2,
///     grid: GridSpec { lookback: vec![2, 3], skip: vec![0], holding: vec![2], top_k: vec![1] },
///     max_combinations: 100,
/// };
/// let dir = tempfile::tempdir()?;
/// let files = BacktestFiles {
///     reports: dir.path().join("reports"),
///     model: dir.path().join("models/candidate.json"),
/// };
/// let code = CodeVersion { version: "0.1.0".into(), git_commit: None };
/// let run = backtest(&panel, None, &spec, (code, None), &files, &Silent)?;
/// assert!(run.files.iter().all(|path| path.exists()));
///
/// let verdict = judge(&files.model, &Gates::default())?;
/// assert_eq!(verdict.sha256, run.candidate_sha256);
/// assert_eq!(verdict.sha256, sha256_hex(&std::fs::read(&files.model)?));
/// assert_eq!(verdict.candidate.params.lookback, 2);
/// // Out of sample (days 20 to 39) A goes from 30 to 49 without a fall; buy and hold has
/// // half in B.
/// let gate = |name| verdict.gates.iter().find(|g| g.gate == name).unwrap();
/// assert!((gate("min_roi").value - 19.0 / 30.0).abs() < 1e-12);
/// assert!((gate("beats_buy_and_hold").threshold - 19.0 / 60.0).abs() < 1e-12);
/// assert_eq!(gate("max_drawdown").value, 0.0);
/// assert!(gate("min_roi").passed && gate("beats_buy_and_hold").passed);
/// assert_eq!(verdict.passed(), verdict.gates.iter().all(|g| g.passed));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn judge(path: &Path, gates: &Gates) -> Result<Verdict> {
    let bytes = std::fs::read(path).map_err(|source| LifecycleError::NoCandidate {
        path: path.into(),
        source,
    })?;
    let candidate_error = |source| LifecycleError::Candidate {
        path: path.into(),
        source: Box::new(source),
    };
    let candidate = Model::from_candidate_json(&bytes).map_err(candidate_error)?;
    let inputs = GateInputs::of(&candidate).map_err(candidate_error)?;
    Ok(Verdict {
        gates: evaluate(gates, &inputs),
        sha256: sha256_hex(&bytes),
        candidate,
    })
}

/// What a promotion did.
#[derive(Debug, Clone)]
pub struct Promotion {
    /// The model as registered (its version and promotion time).
    pub model: Model,
    /// The backtest run registered as the version's source.
    pub source_run: String,
    /// The version it replaced as `champion`, if any.
    pub previous: Option<String>,
}

/// Registers a passing candidate: a new version of `tracking.model_name` whose source is the
/// backtest run that wrote it, the `champion` alias moved to it, and only the production block
/// of `params_file` rewritten (comments and everything else kept). `promoted_at` is the
/// promotion time (RFC 3339, UTC). If `params_file` cannot be written the alias goes back.
///
/// # Errors
/// [`LifecycleError::CandidateRunMissing`] when no tracked run wrote this candidate,
/// [`LifecycleError::CandidateRunUnfinished`] when none of those that did finished; the
/// registry's errors; [`LifecycleError::Read`], a YAML edit error or
/// [`LifecycleError::Write`] for `params_file`, checked before the registry is touched.
pub fn register(
    tracker: &Tracker,
    settings: &Settings,
    verdict: &Verdict,
    params_file: &Path,
    promoted_at: &str,
) -> Result<Promotion> {
    let source_run = candidate_run(tracker, settings, &verdict.sha256)?;
    let name = &settings.tracking.model_name;
    // Check that params.yaml can be rewritten before touching the registry (the edit does not
    // depend on the version number the registry hands out).
    production_text(
        params_file,
        &verdict.candidate.clone().registered("0", promoted_at),
    )?;
    let previous = champion(tracker, name)?;
    let previous_version = previous.as_ref().map(|v| v.version.clone());
    tracker.create_registered_model(name)?;
    let candidate = &verdict.candidate;
    let p = candidate.params;
    let description = format!(
        "lookback {} skip {} holding {} top_k {} on data {}",
        p.lookback,
        p.skip,
        p.holding,
        p.top_k,
        candidate.data_digest.as_deref().unwrap_or_default()
    );
    // The tags do not depend on the version number either.
    let tags = candidate
        .clone()
        .registered("", promoted_at)
        .registry_tags(previous_version.as_deref())?;
    let version = tracker.create_model_version(name, &source_run, "model", &description, &tags)?;
    let model = candidate
        .clone()
        .registered(version.version.clone(), promoted_at);
    tracker.set_alias(name, CHAMPION, &version.version)?;
    if let Err(err) = write_production(params_file, &model) {
        // Keep the registry and params.yaml in agreement: undo the alias move.
        match &previous_version {
            Some(previous) => tracker.set_alias(name, CHAMPION, previous)?,
            None => tracker.delete_alias(name, CHAMPION)?,
        }
        return Err(err);
    }
    Ok(Promotion {
        model,
        source_run,
        previous: previous_version,
    })
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    /// The version that was `champion`.
    pub from: String,
    /// The version that is `champion` again.
    pub to: String,
}

/// Moves `champion` and the production block of `params_file` back to the version the current
/// champion replaced.
///
/// # Errors
/// [`LifecycleError::NothingToRollBack`], [`LifecycleError::FirstVersion`],
/// [`LifecycleError::MissingVersion`]; the registry's errors; the params file's.
pub fn rollback(tracker: &Tracker, settings: &Settings, params_file: &Path) -> Result<Rollback> {
    let name = &settings.tracking.model_name;
    let current = champion(tracker, name)?
        .ok_or_else(|| LifecycleError::NothingToRollBack { name: name.clone() })?;
    let Some(previous_version) = current.tags.get(PREVIOUS_CHAMPION_TAG) else {
        return Err(LifecycleError::FirstVersion {
            name: name.clone(),
            version: current.version,
        });
    };
    let previous = tracker
        .list_versions(name)?
        .into_iter()
        .find(|v| &v.version == previous_version)
        .ok_or_else(|| LifecycleError::MissingVersion {
            name: name.clone(),
            previous: previous_version.clone(),
            current: current.version.clone(),
        })?;
    let model = Model::from_registry_tags(&previous.version, &previous.tags)?;
    // Check that params.yaml can be rewritten before touching the registry.
    let text = production_text(params_file, &model)?;
    tracker.set_alias(name, CHAMPION, &previous.version)?;
    write_text(params_file, &text)?;
    Ok(Rollback {
        from: current.version,
        to: previous.version,
    })
}

/// Where `scan` and `monitor` take the production model from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductionSource {
    /// The `production` block of params.yaml.
    Params,
    /// The registry version behind the `champion` alias.
    Registry,
}

/// The production model from the settings' production block or the registry's champion.
///
/// # Errors
/// [`LifecycleError::NoProduction`] or [`LifecycleError::NoChampion`] before the first
/// promotion; a malformed block or tag.
pub fn load_production(
    settings: &Settings,
    source: ProductionSource,
    registry: impl FnOnce() -> Result<Tracker>,
) -> Result<Model> {
    match source {
        ProductionSource::Params => settings
            .production
            .model()?
            .ok_or(LifecycleError::NoProduction),
        ProductionSource::Registry => {
            let tracker = registry()?;
            let name = &settings.tracking.model_name;
            let version = champion(&tracker, name)?
                .ok_or_else(|| LifecycleError::NoChampion { name: name.clone() })?;
            Ok(Model::from_registry_tags(&version.version, &version.tags)?)
        }
    }
}

/// The current champion; `None` when the model or its alias does not exist yet.
///
/// # Errors
/// The registry's errors other than "not found".
pub fn champion(tracker: &Tracker, name: &str) -> Result<Option<ModelVersion>> {
    match tracker.get_version_by_alias(name, CHAMPION) {
        Ok(version) => Ok(version),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// The backtest parent run that wrote the candidate file with this sha256.
fn candidate_run(tracker: &Tracker, settings: &Settings, sha256: &str) -> Result<String> {
    let tracking = &settings.tracking;
    let query = RunQuery::new(&tracking.experiment).filter(Filter::Tag(
        CANDIDATE_SHA256_TAG.into(),
        Cmp::Eq,
        sha256.into(),
    ));
    let runs = tracker.search_runs(&query)?;
    // A backtest killed while it logged leaves its run with part of its children (KILLED once
    // the store is opened again, RUNNING while it still logs, or when another host wrote it): a
    // candidate is registered only from a run that finished (an identical one may exist, as
    // with --reproducible, where the same candidate is written again).
    if let Some(finished) = runs.iter().find(|r| r.status == RunStatus::Finished) {
        return Ok(finished.run_id.clone());
    }
    match runs.first() {
        Some(unfinished) => Err(LifecycleError::CandidateRunUnfinished {
            run_id: unfinished.run_id.clone(),
            status: unfinished.status.to_string(),
        }),
        None => Err(LifecycleError::CandidateRunMissing {
            store: tracking.store.clone(),
            experiment: tracking.experiment.clone(),
        }),
    }
}

/// The params file's text with its production block set to `model` (a missing file is empty).
fn production_text(params_file: &Path, model: &Model) -> Result<String> {
    let text = match std::fs::read_to_string(params_file) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(LifecycleError::Read {
                path: params_file.into(),
                source,
            });
        }
    };
    set_production_block(&text, model).map_err(|err| LifecycleError::write(params_file, err))
}

fn write_production(params_file: &Path, model: &Model) -> Result<()> {
    let text = production_text(params_file, model)?;
    write_text(params_file, &text)
}
