//! Promote, roll back, and load the production model: the registry's `champion` alias and the
//! `production` block of `params.yaml` kept in agreement.

use std::path::{Path, PathBuf};

use momentum_scanner::Model;
use momentum_scanner::model::{PREVIOUS_CHAMPION_TAG, set_production_block};
use momentum_scanner::promotion::{GateInputs, GateResult, Gates, evaluate};
use momentum_tracking::{Cmp, Filter, ModelVersion, RunQuery, Tracker};

use crate::backtest::sha256_hex;
use crate::error::{LifecycleError, Result};
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
pub fn judge(path: &Path, gates: &Gates) -> Result<Verdict> {
    let bytes = std::fs::read(path).map_err(|source| LifecycleError::Read {
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
/// [`LifecycleError::CandidateRunMissing`] when no tracked run wrote this candidate; the
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
    let run = runs
        .first()
        .ok_or_else(|| LifecycleError::CandidateRunMissing {
            store: tracking.store.clone(),
            experiment: tracking.experiment.clone(),
        })?;
    Ok(run.run_id.clone())
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

/// Replaces `path` with `text` atomically.
pub(crate) fn write_text(path: &Path, text: &str) -> Result<()> {
    let target: PathBuf = path.into();
    momentum_data::write_atomic(path, |file| {
        std::io::Write::write_all(file, text.as_bytes())
            .map_err(|err| LifecycleError::write(&target, err))
    })
}
