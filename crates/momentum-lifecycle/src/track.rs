//! What each lifecycle step records in tracking: the backtest as a parent run with one child
//! per grid combination, a scan, a monitor report.

use std::path::Path;

use momentum_engine::{GridRows, Metrics, SearchMethod};
use momentum_files::{dead_owned, owned_name};
use momentum_scanner::ab::AbReport;
use momentum_scanner::monitor::MonitorReport;
use momentum_scanner::scan::Picks;
use momentum_tracking::{DatasetInput, GridLog, RunContext, RunSpec, Tracker};

use crate::backtest::Backtest;
use crate::error::{LifecycleError, Result};
use crate::grid_table::{GRID_ARTIFACT, GRID_TOP_ARTIFACT, GRID_TOP_ROWS, GridFilter, GridTable};
use crate::settings::Settings;

/// Tag of a backtest run: how many combinations its grid holds (all of them are in its
/// [`GRID_ARTIFACT`]; the best `tracking.children` are child runs).
pub const GRID_COMBINATIONS_TAG: &str = "momentum.grid_combinations";

/// Tag of the backtest run that wrote a candidate: the sha256 of the candidate file's bytes,
/// which is how `promote` finds the run to register as the model version's source.
pub const CANDIDATE_SHA256_TAG: &str = "momentum.candidate_sha256";

/// Opens the local store (and the server, when `MLFLOW_TRACKING_URI` or `tracking.uri` names
/// one) for the runs of `command`, which carry the command, the user and `git_commit`.
///
/// # Errors
/// [`LifecycleError::Store`] naming the store.
pub fn open_tracker(
    settings: &Settings,
    command: &str,
    git_commit: Option<String>,
) -> Result<Tracker> {
    let tracking = &settings.tracking;
    let mut context = RunContext::from_env(&format!("momentum {command}"));
    context.git_commit = git_commit;
    let tracker = Tracker::open_with_env(&tracking.store, &tracking.uri).map_err(|source| {
        LifecycleError::Store {
            path: tracking.store.clone(),
            source: Box::new(source),
        }
    })?;
    Ok(tracker.with_context(context))
}

/// `git rev-parse HEAD` of the working directory, when it is a git checkout.
pub fn git_commit() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}

/// Logs a backtest: a parent run with the selected parameters, the data digest as a dataset
/// input, every metric, the written files but `grid.csv` (the report `report.html` and the
/// `equity_curve.csv` that `momentum report` draws it again from among them; and
/// `params_file`, when it exists),
/// and the whole grid as [`GRID_ARTIFACT`] with its best [`GRID_TOP_ROWS`] rows as
/// [`GRID_TOP_ARTIFACT`] (a table the MLflow UI shows); and one child run for each of the best
/// `tracking.children` combinations by the objective, with its parameters and train/test
/// metrics. The same runs go to the local store and the server.
///
/// # Errors
/// The tracker's errors; [`LifecycleError::Write`] when the grid table cannot be staged.
pub fn track_backtest(
    tracker: &Tracker,
    settings: &Settings,
    run: &Backtest,
    params_file: &Path,
) -> Result<GridLog> {
    let experiment = &run.experiment;
    let best = experiment.params;
    let selection = &experiment.selection;
    let grid = &experiment.grid;
    let mut parent = RunSpec::new(format!(
        "backtest L{}-S{}-H{}-K{}",
        best.lookback, best.skip, best.holding, best.top_k
    ))
    .tag("momentum.kind", "backtest")
    .tag(CANDIDATE_SHA256_TAG, &run.candidate_sha256)
    .tag(GRID_COMBINATIONS_TAG, grid.len().to_string())
    .note(format!(
        "{} selected by train {}; PSR {:.3}, DSR {:.3} over every trial. The whole {} is the \
         artifact {GRID_ARTIFACT}, its best rows {GRID_TOP_ARTIFACT}, the search's history \
         search.csv.",
        match experiment.search.seed {
            Some(seed) => format!("TPE search of {} trials (seed {seed})", grid.len()),
            None => format!("Grid of {} combinations", grid.len()),
        },
        selection.objective,
        selection.psr,
        selection.dsr,
        match experiment.search.method {
            SearchMethod::Grid => "grid",
            SearchMethod::Tpe => "search",
        },
    ));
    parent = strategy_params(parent, &best)
        .param("cost_bps", best.cost_bps)
        .param("objective", selection.objective)
        .param("trials", selection.trials)
        .param("search_method", experiment.search.method)
        .param("best_trial", experiment.search.best_trial)
        .param("tickers", experiment.data.tickers)
        .metric("psr", selection.psr)
        .metric("dsr", selection.dsr);
    if let Some(pbo) = &selection.pbo {
        parent = parent.metric("pbo", pbo.pbo);
    }
    if let (Some(seed), Some(batch)) = (experiment.search.seed, experiment.search.batch) {
        parent = parent
            .param("search_seed", seed)
            .param("search_batch", batch);
    }
    if let Some(digest) = &experiment.data.digest {
        parent = parent.input(
            DatasetInput::from_sha256("prices", digest, &settings.data.out.display().to_string())
                .with_context("training"),
        );
    }
    for (name, window) in &experiment.windows {
        // The evaluation window and its split, as dates (`backtest.start`/`end` cut the panel).
        parent = parent
            .param(format!("{name}_start"), window.start)
            .param(format!("{name}_end"), window.end);
        parent = metric_group(parent, &format!("{name}_"), &window.strategy);
        parent = metric_group(parent, &format!("{name}_baseline_"), &window.baseline);
    }
    if let Some(analysis) = &experiment.walk_forward {
        // The stitched out-of-sample result, comparable across runs like the windows'.
        parent = metric_group(parent, "walk_forward_", &analysis.stitched)
            .param("walk_forward_train_days", analysis.spec.train_days)
            .param("walk_forward_test_days", analysis.spec.test_days)
            .param("walk_forward_anchored", analysis.spec.anchored)
            .param("walk_forward_folds", analysis.folds.len());
    }
    if let Some(validation) = &experiment.cpcv {
        let paths = &validation.paths;
        parent = parent
            .param("cpcv_groups", validation.spec.groups)
            .param("cpcv_test_groups", validation.spec.test_groups)
            .param("cpcv_embargo_days", validation.spec.embargo_days);
        for (name, value) in [
            ("mean", paths.mean),
            ("std", paths.std),
            ("q05", paths.q05),
            ("q25", paths.q25),
            ("q50", paths.q50),
            ("q75", paths.q75),
            ("q95", paths.q95),
            ("below_zero", paths.below_zero),
        ] {
            parent = parent.metric(format!("cpcv_sharpe_{name}"), value);
        }
    }
    // grid.csv is the grid's form for DVC and people, the run carries the table instead.
    for file in run.files.iter().filter(|f| !f.ends_with("grid.csv")) {
        parent = parent.artifact(file);
    }
    if params_file.exists() {
        parent = parent.artifact(params_file);
    }
    let staging = Staging::new()?;
    let table_file = staging.path(GRID_ARTIFACT);
    GridTable::write_experiment_parquet(experiment, &table_file)?;
    // The best rows by the objective (NaN last, ties in grid order): the top artifact's and,
    // the first `tracking.children` of them, the child runs.
    let (top, best) = GridTable::best_of_experiment(
        experiment,
        selection.objective,
        GRID_TOP_ROWS.max(settings.tracking.children),
    )?;
    let top = top.query(None, None, false, Some(GRID_TOP_ROWS))?;
    let top_file = staging.path(GRID_TOP_ARTIFACT);
    let mut csv = Vec::new();
    top.write_csv(&mut csv)
        .map_err(|err| LifecycleError::write(&top_file, err))?;
    std::fs::write(&top_file, csv).map_err(|err| LifecycleError::write(&top_file, err))?;
    parent = parent.artifact(&table_file).artifact(&top_file);

    let children = best
        .iter()
        .take(settings.tracking.children)
        .map(|combo| {
            let p = combo.params;
            let mut child = RunSpec::new(format!(
                "L{}-S{}-H{}-K{}",
                p.lookback, p.skip, p.holding, p.top_k
            ))
            .tag("momentum.kind", "grid");
            child = strategy_params(child, &p).param("cost_bps", p.cost_bps);
            child = metric_group(child, "train_", &combo.train);
            if let Some(test) = &combo.test {
                child = metric_group(child, "test_", test);
            }
            child
        })
        .collect();
    let logged = tracker.log_grid(&settings.tracking.experiment, parent, children)?;
    tracing::info!(
        "tracked run {} ({} combinations in {GRID_ARTIFACT}, {} child runs) in {}",
        logged.parent_run_id,
        grid.len(),
        logged.child_run_ids.len(),
        settings.tracking.store.display()
    );
    Ok(logged)
}

/// The grid of a backtest run as the engine's rows, and its selected row
/// ([`GridTable::read_grid_rows`]: memory does not grow with the table), from the local store
/// or (`remote`) the server; `None` for a run without a grid table (another kind of run, or
/// the older layout whose combinations are all child runs).
///
/// # Errors
/// [`LifecycleError::RunGrid`] naming the run when its table cannot be read (corrupt,
/// truncated, a column missing); [`LifecycleError::GridArtifactMissing`] when a finished run
/// that logged one has lost it; the tracker's errors.
pub fn grid_rows_of_run(
    tracker: &Tracker,
    run_id: &str,
    remote: bool,
) -> Result<Option<(GridRows, Option<usize>)>> {
    with_grid_file(tracker, (run_id, remote), GridTable::read_grid_rows)
}

/// [`GridTable::query_parquet`] of a backtest run's grid table (see [`grid_rows_of_run`]): memory
/// holds the rows of the result, not the table. With the number of rows in the table.
///
/// # Errors
/// As [`grid_rows_of_run`]; [`LifecycleError::GridQuery`] (inside [`LifecycleError::RunGrid`])
/// naming a column the table does not have.
pub fn query_grid_of_run(
    tracker: &Tracker,
    (run_id, remote): (&str, bool),
    filter: Option<&GridFilter>,
    sort: (Option<&str>, bool),
    top: Option<usize>,
) -> Result<Option<(GridTable, usize)>> {
    with_grid_file(tracker, (run_id, remote), |file| {
        GridTable::query_parquet(file, filter, sort, top)
    })
}

/// `read` of the grid table file of a run: the local store's file, or the server's copied to a
/// staging directory first.
fn with_grid_file<T>(
    tracker: &Tracker,
    (run_id, remote): (&str, bool),
    read: impl FnOnce(&Path) -> Result<T>,
) -> Result<Option<T>> {
    let in_run = |source: LifecycleError| LifecycleError::RunGrid {
        run_id: run_id.to_owned(),
        source: Box::new(source),
    };
    if !has_artifact(tracker, run_id, remote, GRID_ARTIFACT)? {
        // A finished run that logged a grid table has lost it (removed from the store by
        // hand, a partial copy): not a run of another kind. A run killed or still logging
        // carries the tag before its artifacts.
        let run = if remote {
            remote_of(tracker)?.get_run(run_id)?
        } else {
            tracker.get_run(run_id)?
        };
        let tagged = run.tags.get(GRID_COMBINATIONS_TAG);
        return match tagged.filter(|_| run.status == momentum_tracking::RunStatus::Finished) {
            Some(combinations) => Err(LifecycleError::GridArtifactMissing {
                run_id: run_id.to_owned(),
                combinations: combinations.clone(),
            }),
            None => Ok(None),
        };
    }
    if remote {
        // Streamed to a file: a table of millions of combinations is larger than any
        // response body the client holds in memory.
        let staging = Staging::new()?;
        let file = staging.path(GRID_ARTIFACT);
        remote_of(tracker)?.download_artifact_to(run_id, GRID_ARTIFACT, &file)?;
        return read(&file).map(Some).map_err(in_run);
    }
    let file = tracker.store().artifact_path(run_id, GRID_ARTIFACT)?;
    read(&file).map(Some).map_err(in_run)
}

/// The bytes of the artifact `name` of a run, from the local store or (`remote`) the server;
/// `None` when the run has no such artifact.
///
/// # Errors
/// The tracker's errors; [`LifecycleError::Read`] for a local artifact that cannot be read.
pub fn run_artifact(
    tracker: &Tracker,
    run_id: &str,
    remote: bool,
    name: &str,
) -> Result<Option<Vec<u8>>> {
    if !has_artifact(tracker, run_id, remote, name)? {
        return Ok(None);
    }
    if remote {
        return Ok(Some(remote_of(tracker)?.download_artifact(run_id, name)?));
    }
    let path = tracker.store().artifact_path(run_id, name)?;
    std::fs::read(&path)
        .map(Some)
        .map_err(|source| LifecycleError::Read { path, source })
}

fn remote_of(tracker: &Tracker) -> Result<&momentum_tracking::RestClient> {
    Ok(tracker
        .remote()
        .ok_or(momentum_tracking::TrackingError::NoRemote)?)
}

fn has_artifact(tracker: &Tracker, run_id: &str, remote: bool, name: &str) -> Result<bool> {
    let listed = if remote {
        remote_of(tracker)?.list_artifacts(run_id)?
    } else {
        tracker.store().list_artifacts(run_id)?
    };
    Ok(listed.iter().any(|a| a == name))
}

/// A directory of its own under the system's temp directory for the files a run is logged
/// with, removed when dropped (the tracker copies artifacts into its store). Its name carries
/// its process's [`momentum_files::Owner`] tag ([`owned_name`]), so that the next one removes the directories of killed
/// processes, which never reached the drop.
struct Staging(std::path::PathBuf);

const STAGING_PREFIX: &str = "momentum-run-";

impl Staging {
    fn new() -> Result<Self> {
        let temp = std::env::temp_dir();
        remove_dead_stagings(&temp);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = temp.join(format!("{}{nanos}", owned_name(STAGING_PREFIX)));
        std::fs::create_dir_all(&dir).map_err(|err| LifecycleError::write(&dir, err))?;
        Ok(Self(dir))
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

/// Removes the staging directories in `temp` whose owner died (best effort: one that cannot
/// be removed stays).
fn remove_dead_stagings(temp: &Path) {
    for stale in dead_owned(temp, STAGING_PREFIX) {
        let _ = std::fs::remove_dir_all(stale);
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Logs a scan: the model's parameters and version, the picks, the files written.
///
/// # Errors
/// The tracker's errors.
pub fn track_scan(
    tracker: &Tracker,
    settings: &Settings,
    picks: &Picks,
    files: &[&Path],
) -> Result<()> {
    let selected: Vec<&str> = picks.selected().collect();
    let mut spec = RunSpec::new(format!("scan-{}", picks.as_of))
        .tag("momentum.kind", "scan")
        .tag("momentum.model_version", &picks.model_version);
    spec = strategy_params(spec, &picks.params)
        .param("as_of", picks.as_of)
        // MLflow takes a param of at most 6,000 characters; the whole list is in the artifacts.
        .param("picks", shorten(&selected.join(","), 1000))
        .metric("selected", selected.len() as f64);
    for file in files {
        spec = spec.artifact(file);
    }
    tracker.log_run(&settings.tracking.experiment, &spec, None)?;
    Ok(())
}

/// Logs a champion-challenger comparison: both versions, the statistics, the decision, the
/// report and its chart.
///
/// # Errors
/// The tracker's errors.
pub fn track_ab(
    tracker: &Tracker,
    settings: &Settings,
    report: &AbReport,
    files: &[&Path],
) -> Result<()> {
    let end = report
        .end
        .map_or_else(|| "none".to_owned(), |d| d.to_string());
    let mut spec = RunSpec::new(format!("ab-{}-{end}", report.source))
        .tag("momentum.kind", "ab")
        .tag("momentum.champion_version", &report.champion.version)
        .tag("momentum.challenger_version", &report.challenger.version)
        .tag("decision", report.decision.as_str())
        .param("source", report.source)
        .param("alpha", settings.ab.alpha)
        .param("min_days", settings.ab.min_days)
        .metric("days_compared", report.days_compared as f64);
    if let Some(comparison) = &report.comparison {
        spec = spec
            .metric("champion_sharpe", comparison.champion.sharpe_annualised)
            .metric("challenger_sharpe", comparison.challenger.sharpe_annualised)
            .metric("delta_sharpe", comparison.delta_annualised)
            .metric("hac_p_value", comparison.hac.p_value)
            .metric("bootstrap_p_value", comparison.bootstrap.p_value)
            .metric(
                "diebold_mariano_p_value",
                comparison.diebold_mariano.p_value,
            );
    }
    if let Some(overlap) = report.mean_overlap {
        spec = spec.metric("mean_overlap", overlap);
    }
    for file in files.iter().filter(|file| file.exists()) {
        spec = spec.artifact(file);
    }
    tracker.log_run(&settings.tracking.experiment, &spec, None)?;
    Ok(())
}

/// Logs a monitor report: each check's value, the verdict, the report file.
///
/// # Errors
/// The tracker's errors.
pub fn track_monitor(
    tracker: &Tracker,
    settings: &Settings,
    report: &MonitorReport,
    file: &Path,
) -> Result<()> {
    let mut spec = RunSpec::new(format!("monitor-{}", report.as_of))
        .tag("momentum.kind", "monitor")
        .tag("momentum.model_version", &report.model_version)
        .tag(
            "retrain_recommended",
            report.retrain_recommended.to_string(),
        )
        .param("as_of", report.as_of)
        .metric("live_periods", report.live.len() as f64)
        .metric(
            "retrain_recommended",
            f64::from(u8::from(report.retrain_recommended)),
        )
        .artifact(file);
    for check in &report.checks {
        if let Some(value) = check.value {
            spec = spec.metric(check.name, value);
        }
    }
    if let Some(mean) = report.live_mean_return {
        spec = spec.metric("live_mean_return", mean);
    }
    tracker.log_run(&settings.tracking.experiment, &spec, None)?;
    Ok(())
}

/// `text` cut to at most `max` characters, with what was left out counted.
fn shorten(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max - 20).collect();
    format!("{kept}... ({} more chars)", count - (max - 20))
}

/// Adds lookback, skip, holding and top_k as params.
/// Logs the run a champion block adopted into the registry points at
/// ([`crate::promote::register`]): its parameters, universe size and version, no metrics (the
/// block carries none). Its id.
///
/// # Errors
/// The tracker's errors.
pub(crate) fn track_adopted_block(
    tracker: &Tracker,
    settings: &Settings,
    block: &momentum_scanner::Model,
) -> Result<String> {
    let version = block.version().unwrap_or_default();
    let spec = RunSpec::new(format!("adopt-production-v{version}"))
        .tag("momentum.kind", "adopt")
        .tag("momentum.model_version", version);
    let spec = strategy_params(spec, &block.params)
        .param("cost_bps", block.params.cost_bps)
        .param("tickers", block.universe.len());
    Ok(tracker.log_run(&settings.tracking.experiment, &spec, None)?)
}

fn strategy_params(spec: RunSpec, p: &momentum_engine::StrategyParams) -> RunSpec {
    spec.param("lookback", p.lookback)
        .param("skip", p.skip)
        .param("holding", p.holding)
        .param("top_k", p.top_k)
}

/// Adds every finite metric of `m` under `prefix` (e.g. `train_sharpe`); one that could not
/// be computed is left out, as `metrics.json` writes it `null`.
fn metric_group(spec: RunSpec, prefix: &str, m: &Metrics) -> RunSpec {
    Metrics::NAMES
        .into_iter()
        .zip(m.values())
        .filter(|(_, value)| value.is_finite())
        .fold(spec, |spec, (name, value)| {
            spec.metric(format!("{prefix}{name}"), value)
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_long_param_is_cut_and_counted() {
        assert_eq!(super::shorten("AAPL,MSFT", 1000), "AAPL,MSFT");
        let long = "X,".repeat(3000);
        let short = super::shorten(&long, 1000);
        assert_eq!(short.chars().count(), 980 + "... (5020 more chars)".len());
        assert!(short.ends_with("... (5020 more chars)"), "{short}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_staging_directory_of_a_dead_process_is_removed_and_a_live_ones_kept() {
        use momentum_files::Owner;
        let temp = tempfile::tempdir().unwrap();
        let me = Owner::current().expect("/proc is readable");
        // The same pid started at another time: a process that died and whose pid was reused.
        let dead = Owner {
            start_ticks: me.start_ticks + 1,
            ..me.clone()
        };
        let dir = |owner: &Owner, n: u32| {
            temp.path()
                .join(format!("momentum-run-{}-{n}", owner.tag()))
        };
        let other = temp.path().join("momentum-run-unrelated");
        for path in [dir(&dead, 1), dir(me, 2), other.clone()] {
            std::fs::create_dir_all(path.join("sub")).unwrap();
        }
        super::remove_dead_stagings(temp.path());
        assert!(!dir(&dead, 1).exists());
        assert!(dir(me, 2).exists() && other.exists());
    }
}
