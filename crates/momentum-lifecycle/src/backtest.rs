//! Features and backtest: align prices into a panel, run the experiment, and write its reports
//! and the candidate model together.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use momentum_data::{PriceTable, TableDigest, TickerStream, write_atomic, write_together};
use momentum_engine::{Experiment, ExperimentSpec, PricePanel, run_experiment};
use momentum_features::{PanelBuilder, read_panel, write_panel};
use momentum_scanner::Model;
use momentum_scanner::model::CodeVersion;

use crate::chart::{Marks, write_equity_chart};
use crate::error::{LifecycleError, Result};
use crate::progress::Progress;
use crate::report::{REPORT_FILE, ReportContext, render_report};
use crate::settings::{Settings, SettingsError};

/// Reads a price file by its extension: Parquet (long layout) or CSV (wide or long, gzip ok).
///
/// # Errors
/// [`LifecycleError::Prices`] naming the file.
pub fn read_prices(path: &Path) -> Result<PriceTable> {
    let table = if is_parquet(path) {
        momentum_data::read_parquet(path)
    } else {
        momentum_data::read_csv(path)
    };
    table.map_err(|source| LifecycleError::Prices {
        path: path.into(),
        source: Box::new(source),
    })
}

/// The aligned panel of a price file and the digest of its prices.
///
/// A Parquet file is read one ticker at a time ([`momentum_data::TickerStream`]): the row
/// table of a large universe is many times the panel's size.
///
/// # Errors
/// As [`read_prices`]; [`LifecycleError::Align`] when the prices do not align.
pub fn panel_of_prices(path: &Path) -> Result<(PricePanel, String)> {
    let align = |source| LifecycleError::Align {
        path: path.into(),
        source: Box::new(source),
    };
    if is_parquet(path) {
        let closes = stream_closes(path, <[String]>::to_vec, true).map_err(|source| {
            LifecycleError::Prices {
                path: path.into(),
                source: Box::new(source),
            }
        })?;
        let digest = closes.digest.clone().expect("asked for");
        return Ok((closes.panel().map_err(align)?, digest));
    }
    let table = read_prices(path)?;
    let digest = momentum_data::digest(&table);
    let panel = PricePanel::from_table(&table).map_err(align)?;
    Ok((panel, digest))
}

fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// What [`stream_closes`] kept of a price file.
pub(crate) struct StreamedCloses {
    /// The file's universe.
    pub(crate) universe: Vec<String>,
    /// Every ticker asked for, in the order asked (those the file lacks too).
    pub(crate) kept: Vec<String>,
    /// The kept tickers the file has, in the order asked, with their closes.
    builder: PanelBuilder,
    /// The kept tickers the file has without a price.
    pub(crate) without_rows: Vec<String>,
    /// The digest of all the file's prices, when asked for.
    pub(crate) digest: Option<String>,
}

impl StreamedCloses {
    /// The panel of the kept tickers the file has, in the kept order.
    pub(crate) fn panel(self) -> Result<PricePanel, momentum_features::FeaturesError> {
        self.builder.finish()
    }
}

/// Reads the Parquet price file `path` one ticker at a time, keeping the closes of the tickers
/// `keep` picks from its universe (in the order `keep` returns them), and the digest of every
/// price in it when `with_digest`. The file is validated as [`momentum_data::read_parquet`]
/// validates it, whatever is kept.
pub(crate) fn stream_closes(
    path: &Path,
    keep: impl FnOnce(&[String]) -> Vec<String>,
    with_digest: bool,
) -> Result<StreamedCloses, momentum_data::DataError> {
    let stream = TickerStream::open(path)?;
    let universe = stream.tickers().to_vec();
    let kept = keep(&universe);
    let mut column_of = vec![None; universe.len()];
    let mut columns = Vec::new();
    for ticker in &kept {
        // A ticker asked for twice gets one column.
        let position = universe.iter().position(|t| t == ticker);
        if let Some(i) = position.filter(|&i| column_of[i].is_none()) {
            column_of[i] = Some(columns.len());
            columns.push(ticker.clone());
        }
    }
    let mut builder = PanelBuilder::new(columns).expect("one column per ticker");
    let mut without_rows = Vec::new();
    let mut digest = with_digest.then(|| TableDigest::new(&universe));
    stream.for_each(|i, rows| {
        if let Some(digest) = &mut digest {
            digest.push(rows);
        }
        if let Some(column) = column_of[i] {
            if rows.is_empty() {
                without_rows.push(universe[i].clone());
            }
            builder.set_series(column, rows.iter().map(|row| (row.date, row.close)));
        }
    })?;
    Ok(StreamedCloses {
        universe,
        kept,
        builder,
        without_rows,
        digest: digest.map(TableDigest::finish),
    })
}

/// `momentum features`: aligns the prices of `prices` and writes the panel to `out` with the
/// prices' digest in its metadata.
///
/// # Errors
/// As [`panel_of_prices`]; [`LifecycleError::Write`].
///
/// # Examples
///
/// The panel of a wide CSV, written and read back as a backtest finds it:
///
/// ```
/// use momentum_lifecycle::{PanelSource, Settings, build_features, load_panel};
///
/// let dir = tempfile::tempdir()?;
/// let prices = dir.path().join("prices.csv");
/// std::fs::write(&prices, "date,XOM,CVX\n2024-01-02,100.0,150.0\n2024-01-03,101.5,\n")?;
/// let out = dir.path().join("features/panel.parquet");
/// let (panel, digest) = build_features(&prices, &out)?;
/// assert_eq!(panel.tickers(), ["XOM", "CVX"]);
/// assert_eq!(panel.n_days(), 2);
/// // CVX has no close on the second day.
/// assert!(panel.close()[[1, 1]].is_nan());
///
/// let (stored, stored_digest) = load_panel(&PanelSource::Panel(out), &Settings::default())?;
/// assert_eq!((stored.tickers(), stored.dates()), (panel.tickers(), panel.dates()));
/// // A missing close is carried forward to value a position (row by row).
/// let carried: Vec<f64> = stored.carried().iter().copied().collect();
/// assert_eq!(carried, [100.0, 150.0, 101.5, 150.0]);
/// assert_eq!(stored_digest, Some(digest));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn build_features(prices: &Path, out: &Path) -> Result<(PricePanel, String)> {
    let (panel, digest) = panel_of_prices(prices)?;
    write_panel(out, &panel, Some(&digest)).map_err(|err| LifecycleError::write(out, err))?;
    Ok((panel, digest))
}

/// Where a backtest reads its prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PanelSource {
    /// A price file (CSV or Parquet), aligned on the fly.
    Prices(PathBuf),
    /// A panel written by [`build_features`].
    Panel(PathBuf),
    /// `features.panel` when it exists, else the price cache `data.out`.
    Default,
}

/// The panel to backtest and the digest of its prices, when known.
///
/// # Errors
/// [`LifecycleError::NoInput`] when the default panel and price cache are both missing; the
/// read errors of the file.
pub fn load_panel(
    source: &PanelSource,
    settings: &Settings,
) -> Result<(PricePanel, Option<String>)> {
    let from_prices =
        |path: &Path| panel_of_prices(path).map(|(panel, digest)| (panel, Some(digest)));
    let from_panel = |path: &Path| {
        let stored = read_panel(path).map_err(|source| LifecycleError::Panel {
            path: path.into(),
            source: Box::new(source),
        })?;
        Ok((stored.panel, stored.data_digest))
    };
    match source {
        PanelSource::Prices(path) => from_prices(path),
        PanelSource::Panel(path) => from_panel(path),
        PanelSource::Default => {
            let panel = &settings.features.panel;
            let prices = &settings.data.out;
            if panel.exists() {
                from_panel(panel)
            } else if prices.exists() {
                tracing::info!(
                    "{} not found; aligning {} directly",
                    panel.display(),
                    prices.display()
                );
                from_prices(prices)
            } else {
                Err(LifecycleError::NoInput {
                    panel: panel.clone(),
                    prices: prices.clone(),
                })
            }
        }
    }
}

/// Where a backtest writes: the reports directory and the candidate model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacktestFiles {
    /// `metrics.json`, `grid.csv`, `trades.csv`, `equity_curve.csv`, `equity_curve.png`,
    /// `report.html`.
    pub reports: PathBuf,
    /// The candidate model (`models/candidate.json`).
    pub model: PathBuf,
}

impl BacktestFiles {
    /// Every file, in the order they are written: the six reports, then the model.
    ///
    /// ```
    /// use std::path::PathBuf;
    /// use momentum_lifecycle::BacktestFiles;
    ///
    /// let files = BacktestFiles { reports: "reports".into(), model: "models/candidate.json".into() };
    /// let paths = files.paths();
    /// assert_eq!(paths[0], PathBuf::from("reports/metrics.json"));
    /// assert_eq!(paths[4], PathBuf::from("reports/equity_curve.png"));
    /// assert_eq!(paths[5], PathBuf::from("reports/report.html"));
    /// assert_eq!(paths[6], files.model);
    /// ```
    pub fn paths(&self) -> [PathBuf; 7] {
        let reports = &self.reports;
        [
            reports.join("metrics.json"),
            reports.join("grid.csv"),
            reports.join("trades.csv"),
            reports.join("equity_curve.csv"),
            reports.join("equity_curve.png"),
            reports.join(REPORT_FILE),
            self.model.clone(),
        ]
    }

    /// `walk_forward.csv` and `walk_forward.png` beside the reports, written when the spec
    /// asks for a walk-forward analysis (and removed otherwise, so that no earlier analysis is
    /// taken for this one's).
    pub fn walk_forward_paths(&self) -> [PathBuf; 2] {
        [
            self.reports.join("walk_forward.csv"),
            self.reports.join("walk_forward.png"),
        ]
    }

    /// `cpcv.csv` beside the reports, written when the spec asks for a combinatorial purged
    /// cross-validation (and removed otherwise).
    pub fn cpcv_csv(&self) -> PathBuf {
        self.reports.join("cpcv.csv")
    }
}

/// What one backtest computed and wrote.
#[derive(Debug, Clone)]
pub struct Backtest {
    /// The experiment.
    pub experiment: Experiment,
    /// The candidate model it selected.
    pub candidate: Model,
    /// sha256 of the candidate file's bytes (how `promote` finds this run).
    pub candidate_sha256: String,
    /// Every file written ([`BacktestFiles::paths`], then
    /// [`BacktestFiles::walk_forward_paths`] when there is a walk-forward analysis, then
    /// [`BacktestFiles::cpcv_csv`] when there is a CPCV).
    pub files: Vec<PathBuf>,
}

/// Runs the experiment `spec` on `panel` and writes its reports and the candidate together:
/// all of them or none are replaced. `code` and `created_at` go into the candidate (leave the
/// commit and the time out for byte-identical files). The tear sheet `report.html` judges the
/// candidate by `report`'s gates and shows its live side. Uses the current rayon pool.
///
/// # Errors
/// [`SettingsError::Invalid`] naming the `backtest` key of a parameter the engine refuses;
/// other engine errors (a window too short for a lookback, an empty panel);
/// [`LifecycleError::Write`] naming the file that could not be written.
pub fn backtest(
    panel: &PricePanel,
    data_digest: Option<String>,
    spec: &ExperimentSpec,
    candidate: (CodeVersion, Option<String>),
    files: &BacktestFiles,
    report: &ReportContext,
    progress: &dyn Progress,
) -> Result<Backtest> {
    // Before the combinations are listed: a refused grid costs nothing.
    spec.check_size().map_err(LifecycleError::GridTooLarge)?;
    check_memory(spec, available_memory())?;
    let passes = spec.grid_passes(panel.dates());
    progress.start("grid", (spec.grid.runnable() * passes) as u64);
    let experiment = run_experiment(panel, spec, data_digest, &|k| {
        progress.advance(k as u64, None)
    });
    progress.finish();
    let experiment = experiment.map_err(|err| match SettingsError::from_engine(err) {
        Ok(named) => LifecycleError::Settings(named),
        Err(other) => LifecycleError::Engine(other),
    })?;
    let universe = panel.n_tickers();
    if let Some(k) = spec.grid.top_k.iter().find(|&&k| k > universe) {
        tracing::warn!(
            "backtest.grid.top_k {k} is larger than the universe of {universe} tickers: the \
             portfolio holds all of them"
        );
    }
    if experiment.selection.dropped > 0 {
        tracing::warn!(
            "left out {} combinations with skip >= lookback",
            experiment.selection.dropped
        );
    }
    let (code, created_at) = candidate;
    let model = Model::candidate(experiment.summary(), code, created_at);
    let mut candidate_bytes = Vec::new();
    model.write_candidate_json(&mut candidate_bytes)?;
    let mut paths = files.paths().to_vec();
    let mut stale = Vec::new();
    // Where each analysis's files go in `paths` (and `staged`), when it ran.
    let walk_at = paths.len();
    match experiment.walk_forward {
        Some(_) => paths.extend(files.walk_forward_paths()),
        None => stale.extend(files.walk_forward_paths()),
    }
    let cpcv_at = paths.len();
    match experiment.cpcv {
        Some(_) => paths.push(files.cpcv_csv()),
        None => stale.push(files.cpcv_csv()),
    }
    let curve = experiment.chained_curve()?;
    let p = experiment.params;
    let title = format!(
        "Momentum L={} S={} H={} K={} ({} bps) vs buy and hold",
        p.lookback, p.skip, p.holding, p.top_k, p.cost_bps
    );
    let html = render_report(&experiment, &curve, &model, report, "momentum backtest")?;
    let written = write_together(&paths, |staged| -> Result<()> {
        let write = |index: usize, encode: &dyn Fn(&mut std::fs::File) -> Result<()>| {
            let path = &staged[index];
            write_atomic(path, |file| encode(file)).map_err(|err| relabel(err, &paths[index]))
        };
        write(0, &|file| Ok(experiment.write_metrics_json(file)?))?;
        write(1, &|file| Ok(experiment.write_grid_csv(file)?))?;
        write(2, &|file| Ok(experiment.write_trades_csv(file)?))?;
        write(3, &|file| Ok(experiment.write_equity_csv(file)?))?;
        write_equity_chart(&staged[4], &title, &curve.points, &Marks::split(&curve))
            .map_err(|err| LifecycleError::write(&paths[4], err))?;
        write(5, &|file| {
            file.write_all(html.as_bytes())
                .map_err(|err| LifecycleError::write(&paths[5], err))
        })?;
        write(6, &|file| {
            file.write_all(&candidate_bytes)
                .map_err(|err| LifecycleError::write(&paths[6], err))
        })?;
        if let Some(analysis) = &experiment.walk_forward {
            write(
                walk_at,
                &|file| Ok(experiment.write_walk_forward_csv(file)?),
            )?;
            let switches: Vec<NaiveDate> =
                analysis.folds[1..].iter().map(|f| f.test_start).collect();
            let spec = analysis.spec;
            let title = format!(
                "Walk-forward: re-selected every {} days on {}{} days, out of sample, vs buy and \
                 hold",
                spec.test_days,
                if spec.anchored { "at least " } else { "" },
                spec.train_days
            );
            let marks = Marks {
                label: "parameters re-selected",
                days: &switches,
            };
            write_equity_chart(&staged[walk_at + 1], &title, &analysis.curve, &marks)
                .map_err(|err| LifecycleError::write(&paths[walk_at + 1], err))?;
        }
        if let Some(validation) = &experiment.cpcv {
            write(cpcv_at, &|file| Ok(validation.write_csv(file)?))?;
        }
        Ok(())
    });
    written?;
    // An analysis this backtest did not run must not be read as its own.
    for path in stale {
        match std::fs::remove_file(&path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(LifecycleError::write(&path, err));
            }
            _ => {}
        }
    }
    Ok(Backtest {
        experiment,
        candidate: model,
        candidate_sha256: sha256_hex(&candidate_bytes),
        files: paths,
    })
}

/// A failed write of a staged file, named by the file it was to replace.
fn relabel(err: LifecycleError, target: &Path) -> LifecycleError {
    match err {
        LifecycleError::Write { source, .. } => LifecycleError::write(target, source),
        other => LifecycleError::write(target, other),
    }
}

/// Hex sha256 of a file's bytes, as `sha256sum` prints it.
///
/// ```
/// assert_eq!(
///     momentum_lifecycle::sha256_hex(b"abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Refuses a grid whose estimated peak memory ([`ExperimentSpec::estimated_bytes`]) is above
/// `available` bytes, before any work: raising `backtest.max_combinations` must never mean an
/// allocation failure half-way. `None` (memory unknown) lets it run.
fn check_memory(spec: &ExperimentSpec, available: Option<u64>) -> Result<()> {
    let needed = spec.estimated_bytes() as u64;
    match available {
        Some(available) if needed > available => Err(LifecycleError::GridMemory {
            combinations: spec.grid.size(),
            needed_mb: needed >> 20,
            available_mb: available >> 20,
        }),
        _ => Ok(()),
    }
}

/// `MemAvailable` of `/proc/meminfo` (Linux): what can be allocated without swapping.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    kib.checked_mul(1024)
}
