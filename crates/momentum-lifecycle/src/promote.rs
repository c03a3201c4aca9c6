//! Promote, roll back, and load the production model: the registry's `champion` alias and the
//! `production` block of `params.yaml` kept in agreement.
//!
//! The two live in different stores, so no step can change both at once. A promotion or
//! rollback therefore
//! 1. writes a journal file beside `params.yaml` ([`journal_path`]: `params.yaml.promoting`),
//! 2. moves the alias (after registering the new version, for a promotion),
//! 3. rewrites `params.yaml`,
//! 4. removes the journal.
//!
//! A process killed between 2 and 3 leaves `params.yaml` on the last state both agreed on,
//! the alias ahead of it, and the journal. [`load_production`] (behind `momentum scan`)
//! compares the two: while they differ and the journal is there, it refuses to serve either,
//! naming `momentum promote --rollback`; [`rollback`] then puts the alias back on the version
//! of `params.yaml`, which restores the state before the interrupted step. Killed anywhere
//! else, both stores agree (a journal left behind is removed by the next promotion or
//! rollback), and a version registered but never aliased is left as it is: nothing reads it.
//!
//! Without a journal a difference is not a crash but the normal state of a promotion awaiting
//! review (the weekly job moves the alias, then opens a pull request with the new block), or
//! an alias moved by hand: `scan` serves what it was asked for with a warning.
//!
//! For the tests of this, `MOMENTUM_CRASH_AT=<point>` aborts the process at a named point
//! between two steps ([`CRASH_POINTS`]).

use std::path::{Path, PathBuf};

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

/// The environment variable that makes promotion or rollback abort at a point (a test hook).
pub const CRASH_AT_ENV: &str = "MOMENTUM_CRASH_AT";

/// Every point between two steps of a promotion or rollback where [`CRASH_AT_ENV`] can abort
/// the process, in the order the steps run.
pub const CRASH_POINTS: [&str; 8] = [
    "promote:journal-written",
    "promote:model-created",
    "promote:version-created",
    "promote:alias-moved",
    "promote:params-written",
    "rollback:journal-written",
    "rollback:alias-moved",
    "rollback:params-written",
];

/// The journal of a promotion or rollback of `params_file` in progress (see the module docs):
/// `params.yaml.promoting` beside `params.yaml`.
pub fn journal_path(params_file: &Path) -> PathBuf {
    let mut name = params_file.file_name().unwrap_or_default().to_owned();
    name.push(".promoting");
    params_file.with_file_name(name)
}

/// Writes the journal before the first change to the registry.
fn begin(params_file: &Path, action: &str) -> Result<()> {
    let text = format!(
        "{action} of {} in progress (process {}); if no `momentum promote` is running, it was \
         interrupted: `momentum promote --rollback` restores the state before it\n",
        params_file.display(),
        std::process::id()
    );
    write_text(&journal_path(params_file), &text)
}

/// Removes the journal once both stores agree again.
fn end(params_file: &Path) -> Result<()> {
    let journal = journal_path(params_file);
    match std::fs::remove_file(&journal) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(LifecycleError::write(&journal, err))
        }
        _ => Ok(()),
    }
}

/// Aborts the process, as `kill -9` would (no destructor, no cleanup), when [`CRASH_AT_ENV`]
/// names `point`; the crash-consistency tests inject a kill between every two steps with it.
fn crash_point(point: &str) {
    debug_assert!(
        CRASH_POINTS.contains(&point),
        "unlisted crash point {point}"
    );
    if std::env::var_os(CRASH_AT_ENV).is_some_and(|at| at == point) {
        std::process::abort();
    }
}

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
/// use momentum_lifecycle::{BacktestFiles, ReportContext, Silent, backtest, judge, sha256_hex};
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
///     ..Default::default()
/// };
/// let dir = tempfile::tempdir()?;
/// let files = BacktestFiles {
///     reports: dir.path().join("reports"),
///     model: dir.path().join("models/candidate.json"),
/// };
/// let code = CodeVersion { version: "0.1.0".into(), git_commit: None };
/// let report = ReportContext::default();
/// let run = backtest(&panel, None, &spec, (code, None), &files, &report, &Silent)?;
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
    // A promotion from an interrupted state would record the wrong previous champion.
    let in_params = settings.production.model()?;
    check_agreement(
        settings,
        (params_file, in_params.as_ref()),
        previous.as_ref(),
    )?;
    begin(params_file, "promotion")?;
    crash_point("promote:journal-written");
    tracker.create_registered_model(name)?;
    crash_point("promote:model-created");
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
    crash_point("promote:version-created");
    let model = candidate
        .clone()
        .registered(version.version.clone(), promoted_at);
    tracker.set_alias(name, CHAMPION, &version.version)?;
    crash_point("promote:alias-moved");
    if let Err(err) = write_production(params_file, &model) {
        // Keep the registry and params.yaml in agreement: undo the alias move.
        match &previous_version {
            Some(previous) => tracker.set_alias(name, CHAMPION, previous)?,
            None => tracker.delete_alias(name, CHAMPION)?,
        }
        end(params_file)?;
        return Err(err);
    }
    crash_point("promote:params-written");
    end(params_file)?;
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
    /// The version that is `champion` again; `None` when the alias was removed (an
    /// interrupted first promotion).
    pub to: Option<String>,
    /// Whether this undid an interrupted promotion or rollback (the alias put back on the
    /// version of `params.yaml`) rather than stepping back one version.
    pub interrupted: bool,
}

/// Moves `champion` and the production block of `params_file` back to the version the current
/// champion replaced. After an interrupted promotion or rollback (the journal is there and the
/// two disagree; see the module docs) only the alias moves: back to the version of
/// `params_file`, or off the model when its production block is empty, which restores the
/// state before the interrupted step.
///
/// # Errors
/// [`LifecycleError::NothingToRollBack`], [`LifecycleError::FirstVersion`],
/// [`LifecycleError::MissingVersion`]; the registry's errors; the params file's.
pub fn rollback(tracker: &Tracker, settings: &Settings, params_file: &Path) -> Result<Rollback> {
    let name = &settings.tracking.model_name;
    let current = champion(tracker, name)?
        .ok_or_else(|| LifecycleError::NothingToRollBack { name: name.clone() })?;
    let in_params = settings.production.model()?;
    let params_version = in_params.as_ref().and_then(Model::version);
    if params_version != Some(current.version.as_str()) && journal_path(params_file).exists() {
        match params_version {
            Some(version) => tracker.set_alias(name, CHAMPION, version)?,
            None => tracker.delete_alias(name, CHAMPION)?,
        }
        end(params_file)?;
        return Ok(Rollback {
            from: current.version,
            to: params_version.map(str::to_owned),
            interrupted: true,
        });
    }
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
    begin(params_file, "rollback")?;
    crash_point("rollback:journal-written");
    tracker.set_alias(name, CHAMPION, &previous.version)?;
    crash_point("rollback:alias-moved");
    write_text(params_file, &text)?;
    crash_point("rollback:params-written");
    end(params_file)?;
    Ok(Rollback {
        from: current.version,
        to: Some(previous.version),
        interrupted: false,
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

/// The production model from the settings' production block or the registry's champion,
/// after checking that the two agree (see the module docs). `params_file` is where `settings`
/// were read from; `registry` opens the tracker.
///
/// With [`ProductionSource::Params`] a registry that cannot be reached (a tracking server that
/// is down) is a warning, not an error: the production block alone is enough to serve. A
/// registry without a champion agrees with any block (a block written by hand); with
/// [`ProductionSource::Registry`] an empty block agrees with any champion (a deployment that
/// serves from the registry alone).
///
/// # Errors
/// [`LifecycleError::NoProduction`] or [`LifecycleError::NoChampion`] before the first
/// promotion; [`LifecycleError::ProductionMismatch`] when a promotion or rollback was
/// interrupted; a malformed block or tag.
pub fn load_production(
    settings: &Settings,
    params_file: &Path,
    source: ProductionSource,
    registry: impl FnOnce() -> Result<Tracker>,
) -> Result<Model> {
    let name = &settings.tracking.model_name;
    let in_params = settings.production.model()?;
    match source {
        ProductionSource::Params => {
            let model = in_params.ok_or(LifecycleError::NoProduction)?;
            match registry().and_then(|tracker| champion(&tracker, name)) {
                Ok(current) => {
                    check_agreement(settings, (params_file, Some(&model)), current.as_ref())?;
                }
                Err(err) => tracing::warn!(
                    "could not compare the production block with the registry's `{CHAMPION}`: \
                     {}",
                    momentum_http::chain(&err)
                ),
            }
            Ok(model)
        }
        ProductionSource::Registry => {
            let tracker = registry()?;
            let version = champion(&tracker, name)?
                .ok_or_else(|| LifecycleError::NoChampion { name: name.clone() })?;
            if in_params.is_some() {
                check_agreement(settings, (params_file, in_params.as_ref()), Some(&version))?;
            }
            Ok(Model::from_registry_tags(&version.version, &version.tags)?)
        }
    }
}

/// Refuses when the registry has a champion other than the version of the production block
/// and the journal says a promotion or rollback was interrupted; warns when it has one without
/// the journal (see the module docs).
fn check_agreement(
    settings: &Settings,
    (params_file, in_params): (&Path, Option<&Model>),
    current: Option<&ModelVersion>,
) -> Result<()> {
    let Some(current) = current else {
        return Ok(());
    };
    let params_version = in_params.and_then(Model::version);
    if params_version == Some(current.version.as_str()) {
        return Ok(());
    }
    let name = &settings.tracking.model_name;
    let journal = journal_path(params_file);
    if journal.exists() {
        return Err(LifecycleError::ProductionMismatch {
            path: params_file.into(),
            name: name.clone(),
            params_version: params_version.map(str::to_owned),
            champion: current.version.clone(),
            journal,
        });
    }
    tracing::warn!(
        "{}: the production block is {} but `{CHAMPION}` of {name} is version {}: a promotion \
         whose params.yaml change is not merged yet, or an alias moved by hand (`momentum \
         promote --rollback` returns both to the champion's previous version)",
        params_file.display(),
        params_version.map_or("empty".to_owned(), |v| format!("version {v}")),
        current.version
    );
    Ok(())
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
