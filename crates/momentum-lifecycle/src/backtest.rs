//! Features and backtest: align prices into a panel, run the experiment, and write its reports
//! and the candidate model together.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use momentum_data::{
    PriceTable, TableDigest, TickerStream, manifest_path, write_atomic, write_together,
};
use momentum_engine::{
    Experiment, ExperimentSpec, GridShard, PricePanel, Provenance, SearchMethod, Shard,
    evaluate_shard, merge_shards, run_experiment,
};
use momentum_features::{PanelBuilder, read_panel, write_panel};
use momentum_scanner::Model;
use momentum_scanner::model::CodeVersion;
use rayon::prelude::*;
use serde_json::Value;

use crate::chart::{Marks, write_equity_chart};
use crate::error::{LifecycleError, Result};
use crate::fetch::check_plausible_panel;
use crate::progress::Progress;
use crate::report::{REPORT_FILE, ReportContext, render_report};
use crate::settings::{DataSettings, Settings, SettingsError};

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

/// [`panel_of_prices`], its closes checked for plausibility with the `data` settings.
fn checked_panel_of_prices(path: &Path, data: &DataSettings) -> Result<(PricePanel, String)> {
    let (panel, digest) = panel_of_prices(path)?;
    check_plausible_panel(&panel, path, data)?;
    Ok((panel, digest))
}

pub(crate) fn is_parquet(path: &Path) -> bool {
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
/// prices' digest in its metadata. Implausible closes are warned about (or refused with
/// `data.strict_prices`) within the bounds of the `data` settings, as `fetch` does.
///
/// # Errors
/// [`LifecycleError::PanelOverPrices`] when `out` is the file `prices` (nothing is read or
/// written); as [`panel_of_prices`]; [`LifecycleError::ImplausiblePrice`];
/// [`LifecycleError::Write`].
///
/// # Examples
///
/// The panel of a wide CSV, written and read back as a backtest finds it:
///
/// ```
/// use momentum_lifecycle::{DataSettings, PanelSource, Settings, build_features, load_panel};
///
/// let dir = tempfile::tempdir()?;
/// let prices = dir.path().join("prices.csv");
/// std::fs::write(&prices, "date,XOM,CVX\n2024-01-02,100.0,150.0\n2024-01-03,101.5,\n")?;
/// let before = std::fs::read(&prices)?;
/// let out = dir.path().join("features/panel.parquet");
/// let data = DataSettings::default();
/// let (panel, digest) = build_features(&prices, &out, &data)?;
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
///
/// // Never over its own input, whatever the path says.
/// let again = dir.path().join("features/../prices.csv");
/// let err = build_features(&prices, &again, &data).unwrap_err();
/// assert!(err.to_string().starts_with(&again.display().to_string()), "{err}");
/// assert_eq!(std::fs::read(&prices)?, before);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn build_features(
    prices: &Path,
    out: &Path,
    data: &DataSettings,
) -> Result<(PricePanel, String)> {
    // The same file by any path (a link, `./`): the cache would be replaced by its panel.
    if let (Ok(a), Ok(b)) = (prices.canonicalize(), out.canonicalize())
        && a == b
    {
        return Err(LifecycleError::PanelOverPrices { path: out.into() });
    }
    let (panel, digest) = checked_panel_of_prices(prices, data)?;
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
    let from_prices = |path: &Path| {
        checked_panel_of_prices(path, &settings.data).map(|(panel, digest)| (panel, Some(digest)))
    };
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
                let loaded = from_panel(panel)?;
                warn_if_stale(panel, loaded.1.as_deref(), prices);
                Ok(loaded)
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

/// Warns when the panel was built from other prices than the cache holds now (a `fetch`
/// since the last `features`): the backtest would run on the older prices. Quiet when either
/// digest is unknown (a panel of another tool, a cache without its manifest).
fn warn_if_stale(panel: &Path, panel_digest: Option<&str>, prices: &Path) {
    let Ok(manifest) = momentum_data::read_manifest(&manifest_path(prices)) else {
        return;
    };
    if let Some(built_from) = panel_digest
        && built_from != manifest.digest
    {
        tracing::warn!(
            "{} was built from other prices than {} holds now (digest {} against {}): run \
             `momentum features` to backtest the fetched prices",
            panel.display(),
            prices.display(),
            &built_from[..built_from.len().min(12)],
            &manifest.digest[..manifest.digest.len().min(12)]
        );
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

    /// `search.csv` beside the reports, always written: the search's history, one row per
    /// trial (a grid's rows in grid order).
    pub fn search_csv(&self) -> PathBuf {
        self.reports.join("search.csv")
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
    /// [`BacktestFiles::cpcv_csv`] when there is a CPCV, then [`BacktestFiles::search_csv`]).
    pub files: Vec<PathBuf>,
}

/// Runs the experiment `spec` on `panel` and writes its reports and the candidate together:
/// all of them or none are replaced. `code` and `created_at` go into the candidate (leave the
/// commit and the time out for byte-identical files; without a time, `search.csv` holds no
/// seconds either). The tear sheet `report.html` judges the
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
    check_grid_size(spec)?;
    let passes = spec.grid_passes(panel.dates());
    let label = match spec.search.method {
        SearchMethod::Grid => "grid",
        SearchMethod::Tpe => "tpe search",
    };
    progress.start(label, (spec.evaluated_per_pass() * passes) as u64);
    let experiment = run_experiment(panel, spec, data_digest, &|k| {
        progress.advance(k as u64, None)
    });
    progress.finish();
    write_backtest(
        panel,
        spec,
        experiment.map_err(engine_error)?,
        candidate,
        files,
        report,
    )
}

/// Evaluates shard `shard` of the grid search of `spec` on `panel` (as [`backtest`] would run
/// the whole grid) and writes it atomically to `dir`/`shard-I-of-N.shard`: complete or absent.
/// `code` is recorded with the data digest and the spec, which the merge checks. Writes no
/// report, no candidate. Returns the file's path.
///
/// # Errors
/// As [`backtest`]; [`LifecycleError::Write`] naming the shard file.
pub fn backtest_shard(
    panel: &PricePanel,
    data_digest: Option<String>,
    spec: &ExperimentSpec,
    (shard, code): (Shard, &CodeVersion),
    dir: &Path,
    progress: &dyn Progress,
) -> Result<PathBuf> {
    check_grid_size(spec)?;
    let passes = spec.grid_passes(panel.dates());
    // About a shard's share of the grid (the cut is by work, in whole groups).
    let share = (spec.evaluated_per_pass() * passes).div_ceil(shard.count);
    progress.start("grid", share as u64);
    let provenance = Provenance {
        spec: spec.clone(),
        data_digest,
        code: code_label(code),
    };
    let part = evaluate_shard(panel, spec, (shard, provenance), &|k| {
        progress.advance(k as u64, None)
    });
    progress.finish();
    let part = part.map_err(engine_error)?;
    let path = dir.join(format!(
        "shard-{}-of-{}.{SHARD_EXTENSION}",
        shard.index, shard.count
    ));
    write_atomic(&path, |file| {
        part.write(file)
            .map_err(|err| LifecycleError::write(&path, err))
    })?;
    Ok(path)
}

/// Merges the shard files in `dir` (every `*.shard`: all `N` of one cut, evaluated with this
/// `spec`, on prices of this `data_digest`, by this `code`, commit included) into the
/// experiment the unsharded [`backtest`] computes, and writes the same reports and candidate:
/// with the same `candidate` (code version and time), the same bytes. Nothing is written when
/// the shards are refused.
///
/// # Errors
/// [`LifecycleError::ShardFile`] naming a file that cannot be read or does not belong (another
/// spec, other prices, another code version, a second copy of a shard);
/// [`LifecycleError::Shards`] naming the directory when a shard is missing or there is none;
/// otherwise as [`backtest`].
pub fn merge_backtest(
    panel: &PricePanel,
    data_digest: Option<String>,
    spec: &ExperimentSpec,
    (candidate, code): ((CodeVersion, Option<String>), &CodeVersion),
    (dir, files): (&Path, &BacktestFiles),
    report: &ReportContext,
) -> Result<Backtest> {
    check_grid_size(spec)?;
    if data_digest.is_none() {
        return Err(LifecycleError::Shards {
            dir: dir.into(),
            reason: "the prices have no content digest to check the shards against (merge on \
                     the price cache `momentum fetch` writes, or a panel of `momentum features`)"
                .into(),
        });
    }
    let expected = Provenance {
        spec: spec.clone(),
        data_digest: data_digest.clone(),
        code: code_label(code),
    };
    let shards = read_shards(dir, &expected)?;
    let experiment = merge_shards(panel, spec, data_digest, shards).map_err(engine_error)?;
    write_backtest(panel, spec, experiment, candidate, files, report)
}

/// The extension of shard files.
pub const SHARD_EXTENSION: &str = "shard";

/// The code version a shard records: the package version, and the commit when known.
fn code_label(code: &CodeVersion) -> String {
    match &code.git_commit {
        Some(Some(commit)) => format!("{} (commit {commit})", code.version),
        _ => code.version.clone(),
    }
}

/// The first setting two backtest blocks disagree on, as `backtest.cost_bps = 5 there, 10 in
/// this merge`, looked for key by key in alphabetical order, nested blocks included.
fn spec_difference(there: &ExperimentSpec, here: &ExperimentSpec) -> String {
    fn first(there: &Value, here: &Value, key: String) -> Option<String> {
        if let (Value::Object(a), Value::Object(b)) = (there, here) {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            // A block left out is written as `null`, as params.yaml may write it.
            return keys.into_iter().find_map(|name| {
                let [a, b] = [a, b].map(|block| block.get(name).unwrap_or(&Value::Null));
                first(a, b, format!("{key}.{name}"))
            });
        }
        (there != here).then(|| format!("{key} = {there} there, {here} in this merge"))
    }
    let value = |spec| serde_json::to_value(spec).expect("a backtest block serializes");
    first(&value(there), &value(here), "backtest".into()).unwrap_or_else(|| "backtest".into())
}

/// Every shard file of `dir`, read and checked against what the merge was asked for: one line
/// naming the file that does not belong, or the shard that is missing.
fn read_shards(dir: &Path, expected: &Provenance) -> Result<Vec<GridShard>> {
    let entries = std::fs::read_dir(dir).map_err(|source| LifecycleError::Read {
        path: dir.into(),
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| LifecycleError::Read {
                path: dir.into(),
                source,
            })?
            .path();
        if path.extension().is_some_and(|e| e == SHARD_EXTENSION) {
            paths.push(path);
        }
    }
    paths.sort();
    let set_error = |reason: String| LifecycleError::Shards {
        dir: dir.into(),
        reason,
    };
    if paths.is_empty() {
        return Err(set_error(format!("no shard file (*.{SHARD_EXTENSION})")));
    }
    let mut shards: Vec<(PathBuf, GridShard)> = Vec::new();
    for path in paths {
        let file_error = |reason: String| LifecycleError::ShardFile {
            path: path.clone(),
            reason,
        };
        let file = std::fs::File::open(&path).map_err(|source| LifecycleError::Read {
            path: path.clone(),
            source,
        })?;
        // The rows stay in the shard file: the merge writes the grid's rows once.
        let part = GridShard::read_file(file).map_err(|err| match err {
            momentum_engine::EngineError::ShardFile { reason } => file_error(reason),
            other => LifecycleError::Engine(other),
        })?;
        let found = &part.provenance;
        if found.spec != expected.spec {
            return Err(file_error(format!(
                "evaluated with another backtest block: {} (params.yaml or the flags differ from \
                 this merge's)",
                spec_difference(&found.spec, &expected.spec)
            )));
        }
        if found.data_digest != expected.data_digest {
            return Err(file_error(format!(
                "evaluated on other prices (data digest {}, this merge's {})",
                found.data_digest.as_deref().unwrap_or("none"),
                expected.data_digest.as_deref().unwrap_or("none")
            )));
        }
        if found.code != expected.code {
            return Err(file_error(format!(
                "evaluated by momentum {}, this merge is momentum {}",
                found.code, expected.code
            )));
        }
        if let Some((first_path, first)) = shards.first()
            && part.shard.count != first.shard.count
        {
            return Err(file_error(format!(
                "is shard {} but {} is shard {}: shards of two cuts",
                part.shard,
                first_path.display(),
                first.shard
            )));
        }
        if let Some((twin, _)) = shards.iter().find(|(_, s)| s.shard == part.shard) {
            return Err(file_error(format!(
                "is shard {}, as {} is",
                part.shard,
                twin.display()
            )));
        }
        shards.push((path, part));
    }
    let count = shards[0].1.shard.count;
    if let Some(missing) = (0..count).find(|i| !shards.iter().any(|(_, s)| s.shard.index == *i)) {
        return Err(set_error(format!(
            "shard {missing}/{count} is missing ({} of {count} found)",
            shards.len()
        )));
    }
    Ok(shards.into_iter().map(|(_, part)| part).collect())
}

/// An engine error, named by the `backtest` key of a parameter the engine refused.
fn engine_error(err: momentum_engine::EngineError) -> LifecycleError {
    match SettingsError::from_engine(err) {
        Ok(named) => LifecycleError::Settings(named),
        Err(other) => LifecycleError::Engine(other),
    }
}

/// Writes the reports and the candidate of `experiment` together: all of them or none are
/// replaced.
fn write_backtest(
    panel: &PricePanel,
    spec: &ExperimentSpec,
    experiment: Experiment,
    candidate: (CodeVersion, Option<String>),
    files: &BacktestFiles,
    report: &ReportContext,
) -> Result<Backtest> {
    let universe = panel.n_tickers();
    let (key, largest_k) = match spec.search.method {
        SearchMethod::Grid => ("backtest.grid.top_k", spec.grid.top_k.iter().copied().max()),
        SearchMethod::Tpe => ("backtest.search.top_k", Some(spec.search.top_k.max)),
    };
    if let Some(k) = largest_k.filter(|&k| k > universe) {
        tracing::warn!(
            "{key} {k} is larger than the universe of {universe} tickers: the portfolio holds \
             all of them"
        );
    }
    if spec.cpcv.is_some() && spec.cpcv_run().is_none() {
        tracing::warn!(
            "backtest.cpcv is not run with a TPE search: each of its splits would need a \
             search of its own (the walk-forward runs one per fold); cpcv.csv is not written"
        );
    }
    if experiment.selection.dropped > 0 {
        tracing::warn!(
            "left out {} combinations with skip >= lookback",
            experiment.selection.dropped
        );
    }
    let (code, created_at) = candidate;
    // A reproducible run (no creation time) writes no wall-clock seconds either.
    let with_seconds = created_at.is_some();
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
    let search_at = paths.len();
    paths.push(files.search_csv());
    let curve = experiment.chained_curve()?;
    let p = experiment.params;
    let title = format!(
        "Momentum L={} S={} H={} K={} ({} bps) vs buy and hold",
        p.lookback, p.skip, p.holding, p.top_k, p.cost_bps
    );
    let written = write_together(&paths, |staged| -> Result<()> {
        let write = |index: usize, encode: &(dyn Fn(&mut std::fs::File) -> Result<()> + Sync)| {
            let path = &staged[index];
            write_atomic(path, |file| encode(file)).map_err(|err| relabel(err, &paths[index]))
        };
        // References, for the jobs that take what they use along (`move`).
        let (experiment, paths, write) = (&experiment, &paths, &write);
        // The files do not depend on one another: they are rendered and written side by side
        // (the tear sheet's charts, grid.csv's 9,000 rows of shortest digits, the PNG), and the
        // first error in file order is the one reported.
        let mut jobs: Vec<Job<'_>> = vec![
            Box::new(|| write(0, &|file| Ok(experiment.write_metrics_json(file)?))),
            Box::new(|| write(1, &|file| Ok(experiment.write_grid_csv(file)?))),
            Box::new(|| write(2, &|file| Ok(experiment.write_trades_csv(file)?))),
            Box::new(|| write(3, &|file| Ok(experiment.write_equity_csv(file)?))),
            Box::new(|| {
                write_equity_chart(&staged[4], &title, &curve.points, &Marks::split(&curve))
                    .map_err(|err| LifecycleError::write(&paths[4], err))
            }),
            Box::new(|| {
                let html = render_report(experiment, &curve, &model, report, "momentum backtest")?;
                write(5, &|file| {
                    file.write_all(html.as_bytes())
                        .map_err(|err| LifecycleError::write(&paths[5], err))
                })
            }),
            Box::new(|| {
                write(6, &|file| {
                    file.write_all(&candidate_bytes)
                        .map_err(|err| LifecycleError::write(&paths[6], err))
                })
            }),
        ];
        if let Some(analysis) = &experiment.walk_forward {
            jobs.push(Box::new(move || {
                write(
                    walk_at,
                    &|file| Ok(experiment.write_walk_forward_csv(file)?),
                )
            }));
            jobs.push(Box::new(move || {
                let switches: Vec<NaiveDate> =
                    analysis.folds[1..].iter().map(|f| f.test_start).collect();
                let spec = analysis.spec;
                let title = format!(
                    "Walk-forward: re-selected every {} days on {}{} days, out of sample, vs \
                     buy and hold",
                    spec.test_days,
                    if spec.anchored { "at least " } else { "" },
                    spec.train_days
                );
                let marks = Marks {
                    label: "parameters re-selected",
                    days: &switches,
                };
                write_equity_chart(&staged[walk_at + 1], &title, &analysis.curve, &marks)
                    .map_err(|err| LifecycleError::write(&paths[walk_at + 1], err))
            }));
        }
        if let Some(validation) = &experiment.cpcv {
            jobs.push(Box::new(move || {
                write(cpcv_at, &|file| Ok(validation.write_csv(file)?))
            }));
        }
        jobs.push(Box::new(|| {
            write(search_at, &|file| {
                Ok(experiment.write_search_csv(file, with_seconds)?)
            })
        }));
        let results: Vec<Result<()>> = jobs.into_par_iter().map(|job| job()).collect();
        results.into_iter().collect()
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

/// One of a backtest's files, rendered and written to its staged path.
type Job<'a> = Box<dyn Fn() -> Result<()> + Send + Sync + 'a>;

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

/// Refuses, before any work, a grid above `backtest.max_combinations` and one whose estimated
/// peak memory ([`ExperimentSpec::estimated_bytes`]) is above the machine's `MemAvailable`:
/// raising the limit must never mean an allocation failure half-way. Memory unknown lets it run.
fn check_grid_size(spec: &ExperimentSpec) -> Result<()> {
    spec.check_size().map_err(LifecycleError::GridTooLarge)?;
    let needed = spec.estimated_bytes() as u64;
    match available_memory() {
        Some(available) if needed > available => Err(LifecycleError::GridMemory {
            combinations: spec.size(),
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
