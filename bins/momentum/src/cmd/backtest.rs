//! `momentum backtest`: grid-search the strategy on the train window, validate the winner on the
//! test window, and write the reports and the candidate model.
//!
//! [`execute`] does the work and returns a [`BacktestReport`] with everything it computed and
//! wrote, so a tracker can log the grid and the artefacts without re-running anything; [`run`]
//! is the thin command around it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use momentum_engine::{
    BacktestResult, GridOptions, GridOutcome, GridSpec, Metrics, Objective, StrategyParams, Window,
    backtest, baseline, grid_search, split,
};
use momentum_features::{PricePanel, read_panel};
use momentum_tracking::{DatasetInput, RunSpec};
use serde_json::{Value, json};

use crate::config::Config;
use crate::output::{write_json, write_text};
use momentum_data::write_together;

const AFTER_HELP: &str = "\
Inputs: the panel written by `momentum features` (features.panel), or a price file with
--prices (CSV wide or long, gzip ok, or long Parquet: the layouts `momentum fetch` reads; in a
wide CSV an empty cell is a missing price). Without either, the cached prices (data.out) are
aligned on the fly.

Outputs (each written atomically):
  REPORTS/metrics.json      selected params, data lineage, train/test (or full) metrics of the
                            strategy and buy-and-hold, selection statistics (DVC metrics file)
  REPORTS/grid.csv          one row per combination: params, train and test metrics
  REPORTS/trades.csv        per-rebalance trade log of the selected strategy
  REPORTS/equity_curve.csv  date, strategy, baseline, window
  REPORTS/equity_curve.png  strategy vs buy and hold, with a drawdown panel
  MODEL                     the candidate model (models/candidate.json)

Examples:
  momentum backtest
  momentum backtest --grid-lookback 20,60,120 --grid-skip 0 --grid-holding 5,20 --grid-top-k 3,5
  momentum backtest --no-grid --no-split --prices prices.csv --lookback 120 --holding 20 --top-k 5";

/// Grid-search the strategy on the train window and validate the winner out of sample.
///
/// Every default comes from `params.yaml` (`backtest` section); each flag overrides it.
/// Combinations with skip >= lookback are left out of the grid (and counted).
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Price file (CSV or Parquet) to backtest instead of the panel.
    #[arg(long, value_name = "PATH", conflicts_with = "panel")]
    pub prices: Option<PathBuf>,

    /// Panel Parquet written by `momentum features` [default: features.panel].
    #[arg(long, value_name = "PATH")]
    pub panel: Option<PathBuf>,

    /// Fraction of the days in the train window, in (0, 1) [default: backtest.train_fraction].
    #[arg(long, value_name = "F")]
    pub train_fraction: Option<f64>,

    /// Evaluate on the whole panel (window `full`), no train/test split.
    #[arg(long)]
    pub no_split: bool,

    /// What the grid maximises on the train window: sharpe, total_roi, sortino or calmar
    /// [default: backtest.objective].
    #[arg(long, value_name = "NAME")]
    pub objective: Option<String>,

    /// One-way cost in basis points per unit of traded notional, 0 to below 5000
    /// [default: backtest.cost_bps].
    #[arg(long, value_name = "BPS")]
    pub cost_bps: Option<f64>,

    /// CSCV blocks for PBO, even and 2 to 24 [default: backtest.pbo_blocks].
    #[arg(long, value_name = "S")]
    pub pbo_blocks: Option<usize>,

    /// Grid lookbacks, comma-separated [default: backtest.grid.lookback].
    #[arg(long, value_name = "LIST", value_delimiter = ',', num_args = 1..)]
    pub grid_lookback: Option<Vec<usize>>,

    /// Grid skips, comma-separated [default: backtest.grid.skip].
    #[arg(long, value_name = "LIST", value_delimiter = ',', num_args = 1..)]
    pub grid_skip: Option<Vec<usize>>,

    /// Grid holding periods, comma-separated [default: backtest.grid.holding].
    #[arg(long, value_name = "LIST", value_delimiter = ',', num_args = 1..)]
    pub grid_holding: Option<Vec<usize>>,

    /// Grid portfolio sizes, comma-separated [default: backtest.grid.top_k].
    #[arg(long, value_name = "LIST", value_delimiter = ',', num_args = 1..)]
    pub grid_top_k: Option<Vec<usize>>,

    /// Evaluate only the parameters given by --lookback --skip --holding --top-k.
    #[arg(long, requires_all = ["lookback", "holding", "top_k"])]
    pub no_grid: bool,

    /// Lookback L in days (with --no-grid).
    #[arg(long, value_name = "L", requires = "no_grid")]
    pub lookback: Option<usize>,

    /// Skip S in days (with --no-grid) [default: 0].
    #[arg(long, value_name = "S", requires = "no_grid")]
    pub skip: Option<usize>,

    /// Holding period H in days (with --no-grid).
    #[arg(long, value_name = "H", requires = "no_grid")]
    pub holding: Option<usize>,

    /// Number of tickers held K (with --no-grid).
    #[arg(long, value_name = "K", requires = "no_grid")]
    pub top_k: Option<usize>,

    /// Worker threads for the grid [default: all cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Leave the wall-clock creation time and the git commit out of candidate.json (the
    /// tracking run still records both), so the same data and parameters write byte-identical
    /// files: what `dvc repro` needs to reproduce dvc.lock.
    #[arg(long)]
    pub reproducible: bool,

    /// Do not log the runs to tracking.
    #[arg(long)]
    pub no_track: bool,

    /// Directory of the reports.
    #[arg(
        long,
        visible_alias = "out-dir",
        value_name = "DIR",
        default_value = "reports"
    )]
    pub reports: PathBuf,

    /// Where to write the candidate model.
    #[arg(long, value_name = "PATH", default_value = "models/candidate.json")]
    pub model: PathBuf,
}

/// Everything one `momentum backtest` computed and wrote (the tracker's input).
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "the tracking hook reads every field; run() prints a summary"
)]
pub struct BacktestReport {
    /// The panel evaluated.
    pub panel: PricePanel,
    /// Digest of the price table behind the panel, when known.
    pub data_digest: Option<String>,
    /// The grid, the winner and its selection statistics.
    pub outcome: GridOutcome,
    /// The evaluation windows by name (`train`, `test`) or `full`, with the recorded runs of
    /// the selected strategy and of buy and hold.
    pub windows: Vec<WindowReport>,
    /// `metrics.json` as written.
    pub metrics: Value,
    /// `candidate.json` as written.
    pub candidate: Value,
    /// Paths written: metrics, grid, trades, equity CSV, chart, model.
    pub files: Vec<PathBuf>,
}

/// One evaluation window's runs.
#[derive(Debug)]
pub struct WindowReport {
    /// `train`, `test` or `full`.
    pub name: &'static str,
    /// Day indices.
    pub window: Window,
    /// The selected strategy.
    pub strategy: BacktestResult,
    /// Buy and hold over the same days.
    pub baseline: BacktestResult,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let threads = args.threads;
    if let Some(n) = threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot configure the thread pool")?;
    }
    let no_track = args.no_track;
    let report = execute(args, config)?;
    if !no_track {
        track(&report, config)?;
    }
    let best = report.outcome.best();
    let p = best.params;
    eprintln!(
        "selected lookback={} skip={} holding={} top_k={} cost_bps={} of {} combinations \
         (train {} {:.3})",
        p.lookback,
        p.skip,
        p.holding,
        p.top_k,
        p.cost_bps,
        report.outcome.combos.len(),
        report.outcome.selection.objective,
        report.outcome.selection.objective.value(&best.train),
    );
    for w in &report.windows {
        eprintln!(
            "{:>5}: total_roi {:>8.3} sharpe {:>6.3} max_drawdown {:.3} | buy and hold total_roi \
             {:>8.3} sharpe {:>6.3}",
            w.name,
            w.strategy.metrics.total_roi,
            w.strategy.metrics.sharpe,
            w.strategy.metrics.max_drawdown,
            w.baseline.metrics.total_roi,
            w.baseline.metrics.sharpe,
        );
    }
    let s = &report.outcome.selection;
    eprintln!(
        "selection: psr {:.3} dsr {:.3} pbo {}",
        s.psr,
        s.dsr,
        s.pbo
            .as_ref()
            .map_or_else(|| "n/a".to_owned(), |p| format!("{:.3}", p.pbo))
    );
    for f in &report.files {
        eprintln!("wrote {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the data, runs the grid (or the single combination), records the selected strategy
/// and buy and hold on each window, and writes every report. Uses the current rayon pool.
pub fn execute(args: Args, config: &Config) -> anyhow::Result<BacktestReport> {
    let bt = &config.backtest;
    let (panel, data_digest) = load_panel(&args, config)?;
    let days = panel.n_days();
    if days < 2 || panel.n_tickers() == 0 {
        bail!(
            "the panel has {days} days and {} tickers: nothing to backtest",
            panel.n_tickers()
        );
    }
    let objective: Objective = args.objective.as_deref().unwrap_or(&bt.objective).parse()?;
    let cost_bps = args.cost_bps.unwrap_or(bt.cost_bps);
    let pbo_blocks = args.pbo_blocks.unwrap_or(bt.pbo_blocks);
    let train_fraction = args.train_fraction.unwrap_or(bt.train_fraction);
    let spec = if args.no_grid {
        GridSpec {
            lookback: vec![args.lookback.context("--no-grid needs --lookback")?],
            skip: vec![args.skip.unwrap_or(0)],
            holding: vec![args.holding.context("--no-grid needs --holding")?],
            top_k: vec![args.top_k.context("--no-grid needs --top-k")?],
            cost_bps,
        }
    } else {
        GridSpec {
            lookback: args
                .grid_lookback
                .clone()
                .unwrap_or_else(|| bt.grid.lookback.clone()),
            skip: args
                .grid_skip
                .clone()
                .unwrap_or_else(|| bt.grid.skip.clone()),
            holding: args
                .grid_holding
                .clone()
                .unwrap_or_else(|| bt.grid.holding.clone()),
            top_k: args
                .grid_top_k
                .clone()
                .unwrap_or_else(|| bt.grid.top_k.clone()),
            cost_bps,
        }
    };
    if args.no_grid {
        // A single run reports an invalid parameter instead of dropping the combination.
        spec_single(&spec).validate()?;
    }
    let named: Vec<(&'static str, Window)> = if args.no_split {
        vec![("full", Window::full(days))]
    } else {
        let (train, test) = split(days, train_fraction)?;
        vec![("train", train), ("test", test)]
    };
    let options = GridOptions {
        train: named[0].1,
        test: named.get(1).map(|n| n.1),
        objective,
        pbo_blocks,
    };
    let (combos, dropped) = spec.combinations()?;
    if dropped > 0 {
        tracing::warn!("left out {dropped} combinations with skip >= lookback");
    }
    let bar = crate::progress::bar(combos.len() as u64, "grid");
    let outcome = grid_search(&panel, &spec, &options, &|k| bar.inc(k as u64))?;
    bar.finish_and_clear();
    let selected = outcome.best().params;

    let mut windows = Vec::new();
    for (name, window) in named {
        windows.push(WindowReport {
            name,
            window,
            strategy: backtest(&panel, &selected, window)?,
            baseline: baseline(&panel, &selected, window)?,
        });
    }

    let metrics = metrics_json(
        &panel,
        data_digest.as_deref(),
        &selected,
        &windows,
        &outcome,
    );
    let candidate = candidate_json(&metrics, &outcome, args.reproducible);
    let reports = &args.reports;
    let files = vec![
        reports.join("metrics.json"),
        reports.join("grid.csv"),
        reports.join("trades.csv"),
        reports.join("equity_curve.csv"),
        reports.join("equity_curve.png"),
        args.model.clone(),
    ];
    let curve = chained_curve(&panel, &windows);
    let title = format!(
        "Momentum L={} S={} H={} K={} ({} bps) vs buy and hold",
        selected.lookback, selected.skip, selected.holding, selected.top_k, selected.cost_bps
    );
    // The reports and the candidate describe one run: all of them or none are replaced.
    write_together(&files, |staged| {
        write_json(&staged[0], &metrics)?;
        write_grid_csv(&staged[1], &outcome)?;
        write_trades_csv(&staged[2], &panel, &windows)?;
        write_equity_csv(&staged[3], &panel, &windows)?;
        crate::chart::write_equity_chart(&staged[4], &title, &curve.points, curve.split)?;
        write_json(&staged[5], &candidate)
    })?;
    Ok(BacktestReport {
        panel,
        data_digest,
        outcome,
        windows,
        metrics,
        candidate,
        files,
    })
}

fn spec_single(spec: &GridSpec) -> StrategyParams {
    StrategyParams {
        lookback: spec.lookback[0],
        skip: spec.skip[0],
        holding: spec.holding[0],
        top_k: spec.top_k[0],
        cost_bps: spec.cost_bps,
    }
}

/// The panel and its data digest: `--prices`, else the panel file, else the cached prices.
fn load_panel(args: &Args, config: &Config) -> anyhow::Result<(PricePanel, Option<String>)> {
    let from_prices = |path: &Path| -> anyhow::Result<(PricePanel, Option<String>)> {
        let table = super::features::read_prices(path)?;
        let digest = momentum_data::digest(&table);
        let panel = PricePanel::from_table(&table)
            .with_context(|| format!("cannot align the prices of {}", path.display()))?;
        Ok((panel, Some(digest)))
    };
    if let Some(path) = &args.prices {
        return from_prices(path);
    }
    let panel_path = args.panel.as_ref().unwrap_or(&config.features.panel);
    if args.panel.is_some() || panel_path.exists() {
        let stored = read_panel(panel_path)
            .with_context(|| format!("cannot read the panel {}", panel_path.display()))?;
        return Ok((stored.panel, stored.data_digest));
    }
    if config.data.out.exists() {
        tracing::info!(
            "{} not found; aligning {} directly",
            panel_path.display(),
            config.data.out.display()
        );
        return from_prices(&config.data.out);
    }
    bail!(
        "no input: neither {} nor {} exists (run `momentum fetch && momentum features`, or pass \
         --prices PATH)",
        panel_path.display(),
        config.data.out.display()
    )
}

fn date(panel: &PricePanel, day: usize) -> String {
    panel.dates()[day].format("%Y-%m-%d").to_string()
}

fn params_json(p: &StrategyParams) -> Value {
    json!({
        "lookback": p.lookback,
        "skip": p.skip,
        "holding": p.holding,
        "top_k": p.top_k,
        "cost_bps": p.cost_bps,
    })
}

fn metrics_value(m: &Metrics) -> Value {
    serde_json::to_value(m).expect("metrics serialise")
}

fn metrics_json(
    panel: &PricePanel,
    digest: Option<&str>,
    selected: &StrategyParams,
    windows: &[WindowReport],
    outcome: &GridOutcome,
) -> Value {
    let mut by_name = serde_json::Map::new();
    for w in windows {
        by_name.insert(
            w.name.to_owned(),
            json!({
                "start": date(panel, w.window.start),
                "end": date(panel, w.window.end),
                "first_rebalance": date(panel, w.strategy.t0),
                "days": w.window.end - w.window.start + 1,
                "returns": w.strategy.equity.len() - 1,
                "strategy": metrics_value(&w.strategy.metrics),
                "baseline": metrics_value(&w.baseline.metrics),
            }),
        );
    }
    let s = &outcome.selection;
    let last = panel.n_days() - 1;
    json!({
        "params": params_json(selected),
        "data": {
            "digest": digest,
            "tickers": panel.n_tickers(),
            "days": panel.n_days(),
            "start": date(panel, 0),
            "end": date(panel, last),
            "universe": panel.tickers(),
        },
        "windows": by_name,
        "selection": {
            "objective": s.objective.as_str(),
            "trials": s.trials,
            "psr": s.psr,
            "dsr": s.dsr,
            "pbo": s.pbo.as_ref().map(|p| p.pbo),
            "sharpe_daily": s.sharpe,
            "sr0_daily": s.sr0,
            "sharpe_variance": s.sharpe_variance,
            "returns": s.n,
            "skewness": s.skewness,
            "kurtosis": s.kurtosis,
            "pbo_splits": s.pbo.as_ref().map(|p| p.splits),
            "pbo_blocks": s.pbo.as_ref().map(|p| p.blocks),
            "pbo_block_len": s.pbo.as_ref().map(|p| p.block_len),
            "dropped_combinations": outcome.dropped,
        },
    })
}

fn candidate_json(metrics: &Value, outcome: &GridOutcome, reproducible: bool) -> Value {
    let mut candidate = json!({
        "kind": "momentum-xs",
        "params": metrics["params"],
        "data": metrics["data"],
        "windows": metrics["windows"],
        "selection": metrics["selection"],
        "grid_rank": outcome.best,
        "code": {
            "version": env!("CARGO_PKG_VERSION"),
            "git_commit": crate::tracking::git_commit(),
        },
        "created_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    if reproducible {
        let object = candidate.as_object_mut().expect("a JSON object");
        object.remove("created_at");
        object["code"]
            .as_object_mut()
            .expect("a JSON object")
            .remove("git_commit");
    }
    candidate
}

const METRIC_NAMES: [&str; 9] = [
    "total_roi",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "num_trades",
    "turnover",
];

fn metric_cells(m: Option<&Metrics>) -> String {
    match m {
        None => ",".repeat(METRIC_NAMES.len() - 1),
        Some(m) => format!(
            "{},{},{},{},{},{},{},{},{}",
            m.total_roi,
            m.cagr,
            m.volatility,
            m.sharpe,
            m.sortino,
            m.max_drawdown,
            m.calmar,
            m.num_trades,
            m.turnover
        ),
    }
}

fn write_grid_csv(path: &Path, outcome: &GridOutcome) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let mut text = String::from("lookback,skip,holding,top_k,cost_bps,selected");
    for prefix in ["train", "test"] {
        for m in METRIC_NAMES {
            let _ = write!(text, ",{prefix}_{m}");
        }
    }
    text.push('\n');
    for (i, c) in outcome.combos.iter().enumerate() {
        let p = c.params;
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},{},{}",
            p.lookback,
            p.skip,
            p.holding,
            p.top_k,
            p.cost_bps,
            u8::from(i == outcome.best),
            metric_cells(Some(&c.train)),
            metric_cells(c.test.as_ref()),
        );
    }
    write_text(path, &text)
}

fn write_trades_csv(
    path: &Path,
    panel: &PricePanel,
    windows: &[WindowReport],
) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let mut text = String::from("window,date,ticker,action,weight_before,weight_after,price\n");
    for w in windows {
        for t in &w.strategy.trades {
            let _ = writeln!(
                text,
                "{},{},{},{},{},{},{}",
                w.name,
                date(panel, t.day),
                panel.tickers()[t.ticker],
                t.action.as_str(),
                t.weight_before,
                t.weight_after,
                t.price
            );
        }
    }
    write_text(path, &text)
}

/// The equity curves of every window end to end for the chart: each later window is chained
/// onto the value the previous one ended with, so the chart reads as one history.
pub struct ChainedCurve {
    /// `(date, strategy, baseline, window)` per day.
    pub points: Vec<(NaiveDate, f64, f64, &'static str)>,
    /// The first date of the second window, if any.
    pub split: Option<NaiveDate>,
}

fn chained_curve(panel: &PricePanel, windows: &[WindowReport]) -> ChainedCurve {
    let mut points = Vec::new();
    let (mut ks, mut kb) = (1.0, 1.0);
    let mut split = None;
    for (j, w) in windows.iter().enumerate() {
        if j == 1 {
            split = Some(panel.dates()[w.strategy.t0]);
        }
        for (k, (s, b)) in w.strategy.equity.iter().zip(&w.baseline.equity).enumerate() {
            points.push((panel.dates()[w.strategy.day(k)], ks * s, kb * b, w.name));
        }
        ks *= w.strategy.equity.last().copied().unwrap_or(1.0);
        kb *= w.baseline.equity.last().copied().unwrap_or(1.0);
    }
    ChainedCurve { points, split }
}

/// The per-window equity curves as the metrics see them (each from 1.0 before its first trade).
fn write_equity_csv(
    path: &Path,
    panel: &PricePanel,
    windows: &[WindowReport],
) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let mut text = String::from("date,strategy,baseline,window\n");
    for w in windows {
        for (k, (s, b)) in w.strategy.equity.iter().zip(&w.baseline.equity).enumerate() {
            let _ = writeln!(
                text,
                "{},{s},{b},{}",
                date(panel, w.strategy.day(k)),
                w.name
            );
        }
    }
    write_text(path, &text)
}

/// Logs the invocation to tracking: a parent run with the selected parameters, the data digest
/// as a dataset input, every metric and the reports as artifacts, and one child run per grid
/// combination with its parameters and train/test metrics.
fn track(report: &BacktestReport, config: &Config) -> anyhow::Result<()> {
    let tracker = crate::tracking::open(config, "backtest")?;
    let best = report.outcome.best().params;
    let model_path = report.files.last().expect("the candidate is written last");
    let candidate_bytes = std::fs::read(model_path)
        .with_context(|| format!("cannot read back {}", model_path.display()))?;
    let selection = &report.outcome.selection;
    let mut parent = RunSpec::new(format!(
        "backtest L{}-S{}-H{}-K{}",
        best.lookback, best.skip, best.holding, best.top_k
    ))
    .tag("momentum.kind", "backtest")
    .tag(
        crate::cmd::promote::CANDIDATE_SHA256_TAG,
        crate::cmd::promote::sha256_hex(&candidate_bytes),
    )
    .note(format!(
        "Grid of {} combinations selected by train {}; PSR {:.3}, DSR {:.3}.",
        report.outcome.combos.len(),
        selection.objective,
        selection.psr,
        selection.dsr
    ))
    .param("lookback", best.lookback)
    .param("skip", best.skip)
    .param("holding", best.holding)
    .param("top_k", best.top_k)
    .param("cost_bps", best.cost_bps)
    .param("objective", selection.objective)
    .param("trials", selection.trials)
    .param("tickers", report.panel.n_tickers())
    .metric("psr", selection.psr)
    .metric("dsr", selection.dsr);
    if let Some(pbo) = &selection.pbo {
        parent = parent.metric("pbo", pbo.pbo);
    }
    if let Some(digest) = &report.data_digest {
        parent = parent.input(
            DatasetInput::from_sha256("prices", digest, &config.data.out.display().to_string())
                .with_context("training"),
        );
    }
    for window in &report.windows {
        parent = metric_group(
            parent,
            &format!("{}_", window.name),
            &window.strategy.metrics,
        );
        parent = metric_group(
            parent,
            &format!("{}_baseline_", window.name),
            &window.baseline.metrics,
        );
    }
    for file in &report.files {
        parent = parent.artifact(file);
    }
    if Path::new("params.yaml").exists() {
        parent = parent.artifact("params.yaml");
    }
    // Best by the objective first, so a server that only gets the first
    // `tracking.remote_children` right away gets the ones worth looking at.
    let combos = &report.outcome.combos;
    let mut order: Vec<usize> = (0..combos.len()).collect();
    let score = |i: usize| {
        let value = selection.objective.value(&combos[i].train);
        if value.is_nan() {
            f64::NEG_INFINITY
        } else {
            value
        }
    };
    order.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
    let children = order
        .into_iter()
        .map(|i| &combos[i])
        .map(|combo| {
            let p = combo.params;
            let mut child = RunSpec::new(format!(
                "L{}-S{}-H{}-K{}",
                p.lookback, p.skip, p.holding, p.top_k
            ))
            .tag("momentum.kind", "grid")
            .param("lookback", p.lookback)
            .param("skip", p.skip)
            .param("holding", p.holding)
            .param("top_k", p.top_k)
            .param("cost_bps", p.cost_bps);
            child = metric_group(child, "train_", &combo.train);
            if let Some(test) = &combo.test {
                child = metric_group(child, "test_", test);
            }
            child
        })
        .collect();
    let logged = tracker.log_grid(&config.tracking.experiment, parent, children)?;
    tracing::info!(
        "tracked run {} with {} grid runs in {}",
        logged.parent_run_id,
        logged.child_run_ids.len(),
        config.tracking.store.display()
    );
    Ok(())
}

/// Adds every metric of `metrics` under `prefix` (e.g. `train_sharpe`).
fn metric_group(mut spec: RunSpec, prefix: &str, metrics: &Metrics) -> RunSpec {
    if let Value::Object(fields) = metrics_value(metrics) {
        for (name, value) in fields {
            if let Some(value) = value.as_f64() {
                spec = spec.metric(format!("{prefix}{name}"), value);
            }
        }
    }
    spec
}
