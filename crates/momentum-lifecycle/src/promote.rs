//! Promote, roll back, and load the production model: the registry's `champion` alias and the
//! `production` block of `params.yaml` kept in agreement, and in the same way the `challenger`
//! alias and the `challenger` block of the model that runs beside it in shadow.
//!
//! The two live in different stores, so no step can change both at once. A promotion or
//! rollback therefore
//! 1. writes a journal file beside `params.yaml` ([`journal_path`]: `params.yaml.promoting`),
//! 2. moves the alias (after registering the new version, for a promotion),
//! 3. rewrites `params.yaml`,
//! 4. removes the journal.
//!
//! A process killed between 2 and 3 leaves `params.yaml` on the last state both agreed on,
//! the alias ahead of it, and the journal. [`load_model`] (behind `momentum scan`)
//! compares the two: while they differ and the journal is there, it refuses to serve either,
//! naming `momentum promote --rollback`; [`rollback`] then puts the alias back on the version
//! of `params.yaml`, which restores the state before the interrupted step. Killed anywhere
//! else, both stores agree (a journal left behind is removed by the next promotion or
//! rollback), and a version registered but never aliased is left as it is: nothing reads it.
//!
//! The same journal covers the challenger's steps: registering one (`--alias challenger`),
//! swapping it in (`--from-challenger`: both aliases move, then one write of both blocks) and
//! retiring it (its alias removed, then its block emptied). While the journal is there an alias
//! that is missing or names another version than its block is refused the same way, and
//! [`rollback`] puts every alias back on the version of its block.
//!
//! Without a journal a difference is not a crash but the normal state of a promotion awaiting
//! review (the weekly job moves the alias, then opens a pull request with the new block), or
//! an alias moved by hand: `scan` serves what it was asked for with a warning.
//!
//! Two of these steps at once on one params file would each act on what it read before the
//! other's change: each takes [`momentum_files::DirLock`] on the file's directory without
//! waiting (the second is refused), then checks that the file's blocks are still the ones it
//! read.
//!
//! For the tests of this, `MOMENTUM_CRASH_AT=<point>` aborts the process at a named point
//! between two steps ([`CRASH_POINTS`]).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use momentum_engine::{Arm, EngineError};
use momentum_scanner::ab::Decision;
use momentum_scanner::history::read_history;
use momentum_scanner::model::{
    PREVIOUS_CHAMPION_TAG, clear_model_block, params_block, set_model_block,
};
use momentum_scanner::promotion::{GateInputs, GateResult, Gates, evaluate};
use momentum_scanner::{Model, ScanError};
use momentum_tracking::{Cmp, Filter, ModelVersion, RunQuery, RunStatus, Tracker};

use crate::backtest::sha256_hex;
use crate::error::{LifecycleError, Result};
use crate::files::write_text;
use crate::settings::{Settings, SettingsError, setting_check};
use crate::track::CANDIDATE_SHA256_TAG;

/// The registry alias of the production model.
pub const CHAMPION: &str = Arm::Champion.as_str();

/// The environment variable that makes promotion or rollback abort at a point (a test hook).
pub const CRASH_AT_ENV: &str = "MOMENTUM_CRASH_AT";

/// Every point between two steps of a promotion or rollback where [`CRASH_AT_ENV`] can abort
/// the process, in the order the steps run.
pub const CRASH_POINTS: [&str; 15] = [
    "promote:journal-written",
    "promote:model-created",
    "promote:block-adopted",
    "promote:version-created",
    "promote:alias-moved",
    "promote:params-written",
    "rollback:journal-written",
    "rollback:alias-moved",
    "rollback:params-written",
    "swap:journal-written",
    "swap:champion-moved",
    "swap:challenger-removed",
    "swap:params-written",
    "retire:journal-written",
    "retire:alias-removed",
];

/// The journal of a promotion or rollback of `params_file` in progress (see the module docs):
/// `params.yaml.promoting` beside `params.yaml`.
pub fn journal_path(params_file: &Path) -> PathBuf {
    let mut name = params_file.file_name().unwrap_or_default().to_owned();
    name.push(".promoting");
    params_file.with_file_name(name)
}

/// The right to change `params_file` and the registry's aliases, held until dropped: a second
/// promotion, rollback, swap or retirement of the same file is refused while one runs (the
/// blocks it read would be stale; following the "interrupted" advice would undo the running
/// one). Taken, the file must be replaceable (a read-only one would fail the last step, after
/// the registry changed), and the blocks `settings` were read with are checked against the
/// file's: one that finished in between changed them.
fn lock_params_file(params_file: &Path, settings: &Settings) -> Result<momentum_files::DirLock> {
    let lock = momentum_files::DirLock::try_exclusive(params_file)?.ok_or_else(|| {
        LifecycleError::PromotionInProgress {
            path: params_file.into(),
        }
    })?;
    momentum_files::check_replaceable(params_file)?;
    let now = Settings::load(params_file, false)?;
    if (&now.production, &now.challenger) != (&settings.production, &settings.challenger) {
        return Err(LifecycleError::ParamsChanged {
            path: params_file.into(),
        });
    }
    Ok(lock)
}

/// Writes the journal before the first change to the registry (under [`lock_params_file`]).
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
/// [`LifecycleError::Settings`] naming a threshold out of range ([`Gates::validate`]);
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
    gates.validate().map_err(setting_check)?;
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

/// What [`check_registration`] found: what a promotion starts from, with the params file held
/// (see the module docs) until it is dropped.
#[derive(Debug)]
pub struct RegistrationCheck {
    /// The backtest run that wrote the candidate, the version's source.
    pub source_run: String,
    /// The version the alias names now, if any.
    pub previous: Option<ModelVersion>,
    /// The model of the alias's block in the params file, if any.
    pub in_params: Option<Model>,
    /// The params file held.
    _turn: momentum_files::DirLock,
}

/// Everything [`register`] checks before it changes anything, changing nothing (what
/// `promote --dry-run` runs): no other promotion running, the finished backtest run that wrote
/// the candidate, a params file that can be rewritten with the candidate's block, and a
/// registry alias that agrees
/// with the block (a promotion from an interrupted state would record the wrong previous
/// champion).
///
/// # Errors
/// As [`register`]'s, before its first change.
pub fn check_registration(
    tracker: &Tracker,
    settings: &Settings,
    verdict: &Verdict,
    (params_file, arm): (&Path, Arm),
) -> Result<RegistrationCheck> {
    let turn = lock_params_file(params_file, settings)?;
    let source_run = candidate_run(tracker, settings, &verdict.sha256)?;
    // The edit does not depend on the version number or the time the registry hands out.
    model_text(
        params_file,
        arm,
        &verdict.candidate.clone().registered("0", ""),
    )?;
    let previous = aliased(tracker, &settings.tracking.model_name, arm)?;
    let in_params = block_model(settings, arm)?;
    check_agreement(
        settings,
        arm,
        (params_file, in_params.as_ref()),
        previous.as_ref(),
    )?;
    Ok(RegistrationCheck {
        source_run,
        previous,
        in_params,
        _turn: turn,
    })
}

/// What a promotion did.
#[derive(Debug, Clone)]
pub struct Promotion {
    /// The alias it was registered under.
    pub arm: Arm,
    /// The model as registered (its version and promotion time).
    pub model: Model,
    /// The backtest run registered as the version's source.
    pub source_run: String,
    /// The version it replaced under the alias, if any.
    pub previous: Option<String>,
}

/// Registers a passing candidate under the alias of `arm`: a new version of
/// `tracking.model_name` whose source is the backtest run that wrote it, the alias (`champion`
/// or `challenger`) moved to it, and only the block of `arm` in `params_file` (`production` or
/// `challenger`) rewritten (comments and everything else kept). `promoted_at` is the promotion
/// time (RFC 3339, UTC). If `params_file` cannot be written the alias goes back. A champion's
/// version records the champion it replaced (where `--rollback` returns to).
///
/// A production block the registry has no `champion` for (the block a fresh clone ships with
/// a fresh registry, or one written by hand) is registered first, as a version of its own
/// whose source is a run logged for it (a version of the registry with the same model is
/// reused): the candidate is then numbered after it rather than taking its number for another
/// model, and `--rollback` returns to it.
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
    (arm, promoted_at): (Arm, &str),
) -> Result<Promotion> {
    let RegistrationCheck {
        source_run,
        previous,
        in_params,
        // Held until the promotion returns.
        _turn,
    } = check_registration(tracker, settings, verdict, (params_file, arm))?;
    let name = &settings.tracking.model_name;
    let previous_version = previous.as_ref().map(|v| v.version.clone());
    begin(params_file, "promotion")?;
    crash_point("promote:journal-written");
    tracker.create_registered_model(name)?;
    crash_point("promote:model-created");
    let replaced = match (&previous_version, &in_params) {
        (None, Some(block)) if arm == Arm::Champion => {
            let adopted = adopt(tracker, settings, block)?;
            crash_point("promote:block-adopted");
            Some(adopted)
        }
        _ => previous_version.clone(),
    };
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
    let replaced_champion = replaced.as_deref().filter(|_| arm == Arm::Champion);
    let tags = candidate
        .clone()
        .registered("", promoted_at)
        .registry_tags(replaced_champion)?;
    let version = tracker.create_model_version(name, &source_run, "model", &description, &tags)?;
    crash_point("promote:version-created");
    let model = candidate
        .clone()
        .registered(version.version.clone(), promoted_at);
    tracker.set_alias(name, arm.as_str(), &version.version)?;
    crash_point("promote:alias-moved");
    if let Err(err) =
        model_text(params_file, arm, &model).and_then(|text| write_text(params_file, &text))
    {
        // Keep the registry and params.yaml in agreement: undo the alias move.
        match &previous_version {
            Some(previous) => tracker.set_alias(name, arm.as_str(), previous)?,
            None => tracker.delete_alias(name, arm.as_str())?,
        }
        end(params_file)?;
        return Err(err);
    }
    crash_point("promote:params-written");
    end(params_file)?;
    Ok(Promotion {
        arm,
        model,
        source_run,
        previous: replaced,
    })
}

/// The registry's version of the champion block `block` ([`register`]): the newest version
/// with the same model (parameters, universe, data), else a new one whose source is a run
/// logged for the block, its tags the block's.
fn adopt(tracker: &Tracker, settings: &Settings, block: &Model) -> Result<String> {
    let name = &settings.tracking.model_name;
    if let Some(known) = registered_as(tracker, name, block)? {
        return Ok(known.version);
    }
    let label = block.version().unwrap_or_default();
    let run_id = crate::track::track_adopted_block(tracker, settings, block)?;
    let description = format!(
        "the production block of params.yaml (version {label}), registered by the first \
         promotion that replaced it"
    );
    let tags = block.registry_tags(None)?;
    let version = tracker.create_model_version(name, &run_id, "model", &description, &tags)?;
    if version.version != label {
        tracing::warn!(
            "registered the production block of params.yaml (version {label}) as version {} \
             of {name}: --rollback returns to it under that number",
            version.version
        );
    }
    Ok(version.version)
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    /// The alias that moved: `champion`, or `challenger` after an interrupted promotion of a
    /// challenger.
    pub arm: Arm,
    /// The version that had the alias (empty when an interrupted step had removed it).
    pub from: String,
    /// The version that has it again; `None` when the alias was removed (an interrupted first
    /// promotion).
    pub to: Option<String>,
    /// Whether this undid an interrupted promotion or rollback (the alias put back on the
    /// version of `params.yaml`) rather than stepping back one version.
    pub interrupted: bool,
}

/// Moves `champion` and the production block of `params_file` back to the version the current
/// champion replaced. After an interrupted promotion or rollback (the journal is there and an
/// alias disagrees with its block; see the module docs) only that alias moves: back to the
/// version of its block, or off the model when the block is empty, which restores the state
/// before the interrupted step.
///
/// # Errors
/// [`LifecycleError::NothingToRollBack`], [`LifecycleError::FirstVersion`],
/// [`LifecycleError::MissingVersion`]; the registry's errors; the params file's.
pub fn rollback(tracker: &Tracker, settings: &Settings, params_file: &Path) -> Result<Rollback> {
    let _turn = lock_params_file(params_file, settings)?;
    let name = &settings.tracking.model_name;
    if journal_path(params_file).exists() {
        // Every alias goes back to the version of its block; the first one moved is reported.
        let mut undone = None;
        for arm in Arm::BOTH {
            let current = aliased(tracker, name, arm)?.map(|v| v.version);
            let in_params = block_model(settings, arm)?;
            let params_version = in_params.as_ref().and_then(Model::version);
            if current.as_deref() == params_version {
                continue;
            }
            // A block the registry does not hold (a shipped or hand-written one, under a first
            // promotion that was interrupted) had no alias before: none is put back.
            let held = match &in_params {
                Some(block) => registered_as(tracker, name, block)?
                    .is_some_and(|v| Some(v.version.as_str()) == params_version),
                None => false,
            };
            let back_to = params_version.filter(|_| held);
            match back_to {
                Some(version) => tracker.set_alias(name, arm.as_str(), version)?,
                None => tracker.delete_alias(name, arm.as_str())?,
            }
            undone.get_or_insert(Rollback {
                arm,
                from: current.unwrap_or_default(),
                to: back_to.map(str::to_owned),
                interrupted: true,
            });
        }
        if let Some(undone) = undone {
            end(params_file)?;
            return Ok(undone);
        }
    }
    let current = aliased(tracker, name, Arm::Champion)?
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
    let text = model_text(params_file, Arm::Champion, &model)?;
    begin(params_file, "rollback")?;
    crash_point("rollback:journal-written");
    tracker.set_alias(name, CHAMPION, &previous.version)?;
    // A champion a swap archived is served again: it no longer reads as retired.
    if previous.tags.get(ARCHIVED_TAG).is_some_and(|v| v == "true") {
        tracker.set_version_tag(name, &previous.version, ARCHIVED_TAG, "false")?;
    }
    crash_point("rollback:alias-moved");
    write_text(params_file, &text)?;
    crash_point("rollback:params-written");
    end(params_file)?;
    Ok(Rollback {
        arm: Arm::Champion,
        from: current.version,
        to: Some(previous.version),
        interrupted: false,
    })
}

/// The registry tag that marks a version no longer served (a replaced champion, a retired
/// challenger).
pub const ARCHIVED_TAG: &str = "archived";

/// What a swap of champion and challenger did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swap {
    /// The version that is `champion` now (the challenger before).
    pub champion: String,
    /// The version that was `champion`, now tagged [`ARCHIVED_TAG`].
    pub archived: String,
}

/// The model of the block of `arm` in params.yaml ([`ProductionBlock::model`]), a parameter
/// out of range or missing named by its key in that block (`challenger.top_k`).
///
/// [`ProductionBlock::model`]: momentum_scanner::model::ProductionBlock::model
///
/// # Errors
/// [`LifecycleError::Settings`] naming the key of a parameter out of range or missing, of an
/// empty version, of a ticker empty or listed twice; a malformed block.
pub fn block_model(settings: &Settings, arm: Arm) -> Result<Option<Model>> {
    let block = params_block(arm);
    settings.block(arm).model().map_err(|err| match err {
        ScanError::InvalidModel(EngineError::InvalidParameter {
            name,
            value,
            reason,
        }) => SettingsError::Invalid {
            key: format!("{block}.{name}"),
            value: Some(value),
            reason: reason.into(),
        }
        .into(),
        ScanError::InvalidBlock { key, reason } => SettingsError::Invalid {
            key: format!("{block}.{key}"),
            value: None,
            reason,
        }
        .into(),
        ScanError::IncompleteProduction { key } => SettingsError::Invalid {
            key: format!("{block}.{key}"),
            value: None,
            reason: "missing from a block that has a version (run `momentum promote`)".into(),
        }
        .into(),
        other => other.into(),
    })
}

/// The part of `reports/ab.json` a swap checks: the books compared, their last day, the
/// decision and the versions.
#[derive(Debug, serde::Deserialize)]
struct RecordedComparison {
    source: String,
    /// The last day compared; none without a common day.
    end: Option<NaiveDate>,
    decision: Decision,
    reason: String,
    champion: RecordedArm,
    challenger: RecordedArm,
}

#[derive(Debug, serde::Deserialize)]
struct RecordedArm {
    version: String,
}

/// Makes the challenger the champion when the comparison in `ab_report` (`reports/ab.json`,
/// written by `momentum ab`) decided `promote_challenger` for the two versions that hold the
/// aliases now: the old champion's version is tagged [`ARCHIVED_TAG`], the challenger's records
/// it as the champion it replaced (so `--rollback` returns to it), `champion` moves to it,
/// `challenger` is removed, and params.yaml's production block becomes the challenger's while
/// its challenger block is emptied, in one write. Journaled as a promotion is.
///
/// # Errors
/// [`LifecycleError::SwapRefused`] naming the reason (no comparison, another decision, a
/// comparison of other versions, a live comparison that ends before a scan of either model in
/// the picks history `scan.history`); [`LifecycleError::NoChallenger`]; the registry's, the
/// history's and the params file's.
pub fn promote_challenger(
    tracker: &Tracker,
    settings: &Settings,
    params_file: &Path,
    ab_report: &Path,
) -> Result<Swap> {
    let _turn = lock_params_file(params_file, settings)?;
    let name = &settings.tracking.model_name;
    let no_challenger = || LifecycleError::NoChallenger {
        path: params_file.into(),
        name: name.clone(),
        in_registry: false,
    };
    let challenger = block_model(settings, Arm::Challenger)?.ok_or_else(no_challenger)?;
    let champion =
        block_model(settings, Arm::Champion)?.ok_or_else(|| LifecycleError::NoProduction {
            path: params_file.into(),
        })?;
    for (arm, model) in [(Arm::Champion, &champion), (Arm::Challenger, &challenger)] {
        let current = aliased(tracker, name, arm)?;
        check_agreement(settings, arm, (params_file, Some(model)), current.as_ref())?;
    }
    let refused = |reason: String| LifecycleError::SwapRefused {
        path: ab_report.into(),
        reason,
    };
    let bytes = std::fs::read(ab_report).map_err(|err| {
        refused(format!(
            "no comparison to decide on ({err}): run `momentum ab`"
        ))
    })?;
    let recorded: RecordedComparison = serde_json::from_slice(&bytes)
        .map_err(|err| refused(format!("not a comparison written by `momentum ab`: {err}")))?;
    if !["live", "backtest"].contains(&recorded.source.as_str()) {
        return Err(refused(format!(
            "it compares the books of source `{}` (a returns file), not the two models: run \
             `momentum ab` with --source live or backtest",
            recorded.source
        )));
    }
    let (champion_version, challenger_version) = (
        champion.version().unwrap_or_default(),
        challenger.version().unwrap_or_default(),
    );
    if (
        recorded.champion.version.as_str(),
        recorded.challenger.version.as_str(),
    ) != (champion_version, challenger_version)
    {
        return Err(refused(format!(
            "it compares champion {} with challenger {}, not the current {champion_version} \
             and {challenger_version}: run `momentum ab` again",
            recorded.champion.version, recorded.challenger.version
        )));
    }
    if recorded.decision != Decision::PromoteChallenger {
        return Err(refused(format!(
            "the decision is {}: {}",
            recorded.decision.as_str(),
            recorded.reason
        )));
    }
    if recorded.source == "live" {
        // The decision was made on the record up to its last day: a scan of either model since
        // is a record it has not seen (weeks of a challenger's decline, say).
        let versions = (champion_version, challenger_version);
        if let Some(scan) = scan_since(&settings.scan.history, versions, recorded.end)? {
            return Err(refused(format!(
                "it compares the live record up to {}, but {} has a scan as of {scan} since: \
                 run `momentum ab` again",
                recorded
                    .end
                    .map_or("no day".to_owned(), |end| end.to_string()),
                settings.scan.history.display()
            )));
        }
    }
    let text = read_params(params_file)?;
    let text = set_model_block(&text, Arm::Champion, &challenger)
        .and_then(|text| clear_model_block(&text, Arm::Challenger))
        .map_err(|err| LifecycleError::write(params_file, err))?;
    begin(params_file, "swap of champion and challenger")?;
    crash_point("swap:journal-written");
    // Where a later --rollback returns to; harmless while the version is not champion.
    tracker.set_version_tag(
        name,
        challenger_version,
        PREVIOUS_CHAMPION_TAG,
        champion_version,
    )?;
    tracker.set_alias(name, CHAMPION, challenger_version)?;
    crash_point("swap:champion-moved");
    tracker.delete_alias(name, Arm::Challenger.as_str())?;
    crash_point("swap:challenger-removed");
    write_text(params_file, &text)?;
    // Archived once it is no longer served: an interrupted swap rolled back leaves it as it was.
    tracker.set_version_tag(name, champion_version, ARCHIVED_TAG, "true")?;
    crash_point("swap:params-written");
    end(params_file)?;
    Ok(Swap {
        champion: challenger_version.to_owned(),
        archived: champion_version.to_owned(),
    })
}

/// The newest scan in the picks history at `history` of the champion's or the challenger's
/// version (`versions`) as of a day after `end` (any scan when `end` is none).
fn scan_since(
    history: &Path,
    (champion, challenger): (&str, &str),
    end: Option<NaiveDate>,
) -> Result<Option<NaiveDate>> {
    let newest = read_history(history)?
        .into_iter()
        .filter(|scan| {
            scan.model_version
                == match scan.alias {
                    Arm::Champion => champion,
                    Arm::Challenger => challenger,
                }
        })
        .map(|scan| scan.as_of)
        .max();
    Ok(newest.filter(|&day| end.is_none_or(|end| day > end)))
}

/// Retires the challenger: its version is tagged [`ARCHIVED_TAG`], the `challenger` alias
/// removed and the challenger block of params.yaml emptied. Returns the retired version.
///
/// # Errors
/// [`LifecycleError::NoChallenger`]; the registry's and the params file's.
pub fn retire_challenger(
    tracker: &Tracker,
    settings: &Settings,
    params_file: &Path,
) -> Result<String> {
    let _turn = lock_params_file(params_file, settings)?;
    let name = &settings.tracking.model_name;
    let challenger =
        block_model(settings, Arm::Challenger)?.ok_or_else(|| LifecycleError::NoChallenger {
            path: params_file.into(),
            name: name.clone(),
            in_registry: false,
        })?;
    let current = aliased(tracker, name, Arm::Challenger)?;
    check_agreement(
        settings,
        Arm::Challenger,
        (params_file, Some(&challenger)),
        current.as_ref(),
    )?;
    let version = challenger.version().unwrap_or_default();
    let text = clear_model_block(&read_params(params_file)?, Arm::Challenger)
        .map_err(|err| LifecycleError::write(params_file, err))?;
    begin(params_file, "retirement of the challenger")?;
    crash_point("retire:journal-written");
    tracker.delete_alias(name, Arm::Challenger.as_str())?;
    crash_point("retire:alias-removed");
    write_text(params_file, &text)?;
    tracker.set_version_tag(name, version, ARCHIVED_TAG, "true")?;
    end(params_file)?;
    Ok(version.to_owned())
}

/// Where `scan` and `monitor` take a model from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductionSource {
    /// The block of params.yaml (`production` or `challenger`).
    Params,
    /// The registry version behind the alias (`champion` or `challenger`).
    Registry,
}

/// The model of `arm` from its settings block or the registry's alias, after checking that the
/// two agree (see the module docs). `params_file` is where `settings` were read from;
/// `registry` opens the tracker.
///
/// With [`ProductionSource::Params`] a registry that cannot be reached (a tracking server that
/// is down) is a warning, not an error: the block alone is enough to serve. A registry without
/// the alias agrees with any block (a block written by hand); with
/// [`ProductionSource::Registry`] an empty block agrees with any aliased version (a deployment
/// that serves from the registry alone).
///
/// # Errors
/// [`LifecycleError::NoProduction`] or [`LifecycleError::NoChampion`] before the first
/// promotion (of a challenger: [`LifecycleError::NoChallenger`]);
/// [`LifecycleError::ProductionMismatch`] when a promotion or rollback was interrupted; a
/// malformed block or tag.
pub fn load_model(
    settings: &Settings,
    params_file: &Path,
    (arm, source): (Arm, ProductionSource),
    registry: impl FnOnce() -> Result<Tracker>,
) -> Result<Model> {
    let name = &settings.tracking.model_name;
    let in_params = block_model(settings, arm)?;
    let none_yet = || match arm {
        Arm::Champion => match source {
            ProductionSource::Params => LifecycleError::NoProduction {
                path: params_file.into(),
            },
            ProductionSource::Registry => LifecycleError::NoChampion { name: name.clone() },
        },
        Arm::Challenger => LifecycleError::NoChallenger {
            path: params_file.into(),
            name: name.clone(),
            in_registry: source == ProductionSource::Registry,
        },
    };
    match source {
        ProductionSource::Params => {
            let model = in_params.ok_or_else(none_yet)?;
            match registry().and_then(|tracker| aliased(&tracker, name, arm)) {
                Ok(current) => {
                    check_agreement(settings, arm, (params_file, Some(&model)), current.as_ref())?;
                }
                Err(err) => tracing::warn!(
                    "could not compare the {} block with the registry's `{arm}`: {}",
                    params_block(arm),
                    momentum_http::chain(&err)
                ),
            }
            Ok(model)
        }
        ProductionSource::Registry => {
            let tracker = registry()?;
            let version = aliased(&tracker, name, arm)?;
            if in_params.is_some() {
                check_agreement(
                    settings,
                    arm,
                    (params_file, in_params.as_ref()),
                    version.as_ref(),
                )?;
            }
            let version = version.ok_or_else(none_yet)?;
            Ok(Model::from_registry_tags(&version.version, &version.tags)?)
        }
    }
}

/// Refuses when the registry's alias of `arm` names another version than the block of `arm`
/// and the journal says a promotion or rollback was interrupted; warns when it does without
/// the journal (see the module docs).
fn check_agreement(
    settings: &Settings,
    arm: Arm,
    (params_file, in_params): (&Path, Option<&Model>),
    current: Option<&ModelVersion>,
) -> Result<()> {
    let params_version = in_params.and_then(Model::version);
    let aliased_version = current.map(|v| v.version.as_str());
    let journal = journal_path(params_file);
    let agree = match aliased_version {
        Some(version) => params_version == Some(version),
        // Without the alias any block agrees (one written by hand), unless a step that
        // removes the alias was interrupted.
        None => params_version.is_none() || !journal.exists(),
    };
    if agree {
        return Ok(());
    }
    let name = &settings.tracking.model_name;
    if journal.exists() {
        return Err(LifecycleError::ProductionMismatch {
            path: params_file.into(),
            arm,
            name: name.clone(),
            params_version: params_version.map(str::to_owned),
            aliased: aliased_version.map(str::to_owned),
        });
    }
    let Some(current) = current else {
        return Ok(());
    };
    tracing::warn!(
        "{}: the {} block is {} but `{arm}` of {name} is version {}: a promotion whose \
         params.yaml change is not merged yet, or an alias moved by hand",
        params_file.display(),
        params_block(arm),
        params_version.map_or("empty".to_owned(), |v| format!("version {v}")),
        current.version
    );
    Ok(())
}

/// The version the alias of `arm` points at; `None` when the model or the alias does not exist
/// yet.
///
/// # Errors
/// The registry's errors other than "not found".
pub fn aliased(tracker: &Tracker, name: &str, arm: Arm) -> Result<Option<ModelVersion>> {
    match tracker.get_version_by_alias(name, arm.as_str()) {
        Ok(version) => Ok(version),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// The version of `name` that holds `model` (the same parameters, universe and data): the one
/// numbered as its block says when there is one, else the newest; `None` when no version does
/// (or the registry has no model `name` yet).
fn registered_as(tracker: &Tracker, name: &str, model: &Model) -> Result<Option<ModelVersion>> {
    let versions = match tracker.list_versions(name) {
        Ok(versions) => versions,
        Err(err) if err.is_not_found() => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let same = |version: &&ModelVersion| {
        Model::from_registry_tags(&version.version, &version.tags).is_ok_and(|registered| {
            (
                &registered.params,
                &registered.universe,
                &registered.data_digest,
            ) == (&model.params, &model.universe, &model.data_digest)
        })
    };
    let holding: Vec<&ModelVersion> = versions.iter().filter(same).collect();
    let numbered = holding
        .iter()
        .find(|v| Some(v.version.as_str()) == model.version());
    Ok(numbered.or(holding.last()).map(|v| (*v).clone()))
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

/// The params file's text with the block of `arm` set to `model` (a missing file is empty).
fn model_text(params_file: &Path, arm: Arm, model: &Model) -> Result<String> {
    let text = read_params(params_file)?;
    set_model_block(&text, arm, model).map_err(|err| LifecycleError::write(params_file, err))
}

/// The params file's text; a missing file is empty.
fn read_params(params_file: &Path) -> Result<String> {
    match std::fs::read_to_string(params_file) {
        Ok(text) => Ok(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(LifecycleError::Read {
            path: params_file.into(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A challenger block as `momentum promote --alias challenger` writes it, with `edit`
    /// applied to its text.
    fn challenger(edit: impl Fn(&str) -> String) -> Settings {
        let block = "challenger:\n  version: '2'\n  lookback: 60\n  skip: 0\n  holding: 20\n  \
                     top_k: 1\n  cost_bps: 10.0\n  tickers:\n    - AAPL\n    - MSFT\n  \
                     promoted_at: '2026-12-01T00:00:00Z'\n";
        Settings::parse(&edit(block), Path::new("params.yaml")).unwrap()
    }

    #[test]
    fn a_block_edited_by_hand_is_named_by_its_key() {
        let settings = challenger(str::to_owned);
        assert!(block_model(&settings, Arm::Challenger).unwrap().is_some());
        for (from, to, expected) in [
            (
                "    - MSFT\n",
                "    - AAPL\n",
                "invalid challenger.tickers: ticker AAPL is listed twice",
            ),
            (
                "  version: '2'\n",
                "  version: ''\n",
                "invalid challenger.version: must not be empty (null before the first promotion)",
            ),
            (
                "  top_k: 1\n",
                "  top_k: 0\n",
                "invalid challenger.top_k = 0: must be at least 1",
            ),
        ] {
            let settings = challenger(|block| block.replacen(from, to, 1));
            let err = block_model(&settings, Arm::Challenger).unwrap_err();
            assert_eq!(err.to_string(), expected);
        }
    }
}
