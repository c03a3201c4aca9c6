//! The tear sheet of a backtest (`reports/report.html`, drawn by [`momentum_report`]): its
//! inputs gathered from a backtest just run or from a tracked run's artifacts, and the gates
//! and the live side it shows beside them.

use std::path::{Path, PathBuf};

use momentum_engine::{ChainedCurve, Experiment};
use momentum_report::{Live, MonitorStatus, Report, render};
use momentum_scanner::model::CodeVersion;
use momentum_scanner::promotion::{GateInputs, GateResult, Gates, evaluate};
use momentum_scanner::scan::Picks;
use momentum_scanner::{Model, ScanError};
use momentum_tracking::Tracker;

use crate::error::{LifecycleError, Result};
use crate::track::{grid_rows_of_run, run_artifact};

/// The report's file name, in the reports directory and among a backtest run's artifacts.
pub const REPORT_FILE: &str = "report.html";

/// The artifacts of a backtest run a report is drawn from as bytes (the third, the grid table
/// [`crate::GRID_ARTIFACT`], is read as the engine's rows by [`grid_rows_of_run`]).
const RUN_ARTIFACTS: [&str; 2] = ["metrics.json", "equity_curve.csv"];

/// What a report shows beside a backtest's own results: the promotion gates it is judged by
/// (`promotion` in `params.yaml`) and the latest picks and monitor status (`None`: left out).
#[derive(Debug, Clone, Default)]
pub struct ReportContext {
    /// The gates.
    pub gates: Gates,
    /// The live side, read with [`LiveFiles::read`].
    pub live: Option<Live>,
}

/// Where `momentum scan` and `momentum monitor` wrote their latest results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFiles {
    /// The picks (`scan.picks`, `reports/picks.json`).
    pub picks: PathBuf,
    /// The monitor's report (`reports/monitor.json`).
    pub monitor: PathBuf,
}

impl LiveFiles {
    /// The files that exist, read: a missing file is a section that says so, not an error.
    ///
    /// # Errors
    /// [`LifecycleError::Read`] naming a file that exists but cannot be read or is not what
    /// its writer writes.
    pub fn read(&self) -> Result<Live> {
        Ok(Live {
            picks: read_json_if_exists::<Picks>(&self.picks)?,
            monitor: read_json_if_exists::<MonitorStatus>(&self.monitor)?,
        })
    }
}

fn read_json_if_exists<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LifecycleError::Read {
                path: path.into(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|err| LifecycleError::Read {
            path: path.into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, err),
        })
}

/// Every gate's result for `candidate`; `None` when it has no test window.
fn judged(candidate: &Model, gates: &Gates) -> Result<Option<Vec<GateResult>>> {
    match GateInputs::of(candidate) {
        Ok(inputs) => Ok(Some(evaluate(gates, &inputs))),
        Err(ScanError::NoTestWindow) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// The report's HTML for a recorded experiment (the grid in `experiment.grid`), its curve and
/// its candidate, `origin` said under the title.
pub(crate) fn render_report(
    experiment: &Experiment,
    curve: &ChainedCurve,
    candidate: &Model,
    context: &ReportContext,
    origin: &str,
) -> Result<String> {
    Ok(render(&Report {
        experiment,
        curve,
        gates: judged(candidate, &context.gates)?,
        live: context.live.clone(),
        origin: origin.to_owned(),
    }))
}

/// The report of the tracked backtest run `run_id`, from the local store or (`remote`) the
/// server: drawn from its `metrics.json`, `equity_curve.csv` and `grid.parquet` artifacts.
///
/// # Errors
/// [`LifecycleError::RunArtifacts`] naming every artifact the run lacks (a run of another
/// kind, or logged before the report existed); the read errors of each artifact, naming it;
/// the tracker's errors.
pub fn report_of_run(
    tracker: &Tracker,
    run_id: &str,
    remote: bool,
    context: &ReportContext,
) -> Result<String> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in RUN_ARTIFACTS {
        match run_artifact(tracker, run_id, remote, name)? {
            Some(bytes) => found.push(bytes),
            None => missing.push(name),
        }
    }
    let grid = grid_rows_of_run(tracker, run_id, remote)?;
    if grid.is_none() {
        missing.push(crate::GRID_ARTIFACT);
    }
    let (Some((grid, selected)), [metrics, equity]) = (grid, found.as_slice()) else {
        return Err(LifecycleError::RunArtifacts {
            run_id: run_id.to_owned(),
            missing: missing.join(", "),
        });
    };
    let artifact = |name: &str, source: Box<dyn std::error::Error + Send + Sync>| {
        LifecycleError::RunArtifact {
            run_id: run_id.to_owned(),
            name: name.to_owned(),
            source,
        }
    };
    let mut experiment: Experiment =
        serde_json::from_slice(metrics).map_err(|err| artifact(RUN_ARTIFACTS[0], err.into()))?;
    let curve = ChainedCurve::read_equity_csv(equity.as_slice())
        .map_err(|err| artifact(RUN_ARTIFACTS[1], err.into()))?;
    experiment.grid = grid;
    // A table without a selected row marks no cell (no index is out of range in the maps).
    experiment.grid_rank = selected.unwrap_or(usize::MAX);
    let candidate = Model::candidate(
        experiment.summary(),
        CodeVersion {
            version: String::new(),
            git_commit: None,
        },
        None,
    );
    let origin = format!(
        "tracked run {run_id} ({})",
        if remote { "server" } else { "local store" }
    );
    render_report(&experiment, &curve, &candidate, context, &origin)
}

/// Writes `html` to `path` atomically (a reader sees the old report or the new one).
///
/// # Errors
/// [`LifecycleError::Write`] naming the file.
pub fn write_report(path: &Path, html: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|err| LifecycleError::write(dir, err))?;
    }
    momentum_files::write_atomic(path, |file| {
        std::io::Write::write_all(file, html.as_bytes())
            .map_err(|err| LifecycleError::write(path, err))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_files_that_are_missing_are_none_and_a_corrupt_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let files = LiveFiles {
            picks: dir.path().join("picks.json"),
            monitor: dir.path().join("monitor.json"),
        };
        let live = files.read().unwrap();
        assert!(live.picks.is_none() && live.monitor.is_none());

        std::fs::write(
            &files.monitor,
            r#"{"as_of": "2022-12-28", "model_version": "1", "retrain_recommended": false,
                "checks": [], "reasons": []}"#,
        )
        .unwrap();
        let live = files.read().unwrap();
        assert_eq!(live.monitor.unwrap().model_version, "1");

        std::fs::write(&files.picks, "{\"broken\":").unwrap();
        let err = files.read().unwrap_err();
        assert!(matches!(&err, LifecycleError::Read { path, .. } if *path == files.picks));
        assert_eq!(
            err.to_string(),
            format!("cannot read {}", files.picks.display())
        );
    }
}
