//! `momentum report RUN`: the tear sheet `report.html` of a tracked backtest run, drawn again
//! from its artifacts ([`momentum_lifecycle::report_of_run`]); and the flags that say which
//! picks and monitor status a report shows, shared with `momentum backtest`.

use std::path::PathBuf;
use std::process::ExitCode;

use momentum_lifecycle::{LiveFiles, ReportContext, Settings, report_of_run, write_report};

use crate::cmd::runs::{open_store, resolve_either};

const AFTER_HELP: &str = "\
The report is one self-contained HTML file (inline SVG charts and CSS, no script, no external
reference): it opens offline, in MLflow's artifact view and as a CI artifact. Sections: the
summary (selected parameters, strategy vs buy and hold per window, walk-forward and CPCV, PSR,
DSR and PBO in plain words, the promotion gates of params.yaml), equity curves (log scale) with
the train/test split, underwater drawdown, monthly returns, rolling one-year Sharpe ratio and
volatility, the distribution of daily returns against a normal, the grid's train and test
Sharpe heatmaps (lookback x holding per top_k and skip) with the selected combination marked,
train against test Sharpe for every combination, turnover and cost drag, and the latest picks
and monitor status when those files exist. docs/reports.md explains how to read each chart.

A run logged before reports were lacks some of the artifacts the report is drawn from
(metrics.json, equity_curve.csv, grid.parquet): the error names them, exit code 1.

Examples:
  momentum report 3f2a9c                       # a local run, by id prefix
  momentum report 3f2a9c --out /tmp/r.html --report-no-live
  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 momentum report --remote 8d1e...   # a server run";

/// Which picks and monitor status a report shows (`momentum backtest` and `momentum report`).
#[derive(Debug, Clone, clap::Args)]
pub struct LiveArgs {
    /// Picks whose latest scan the report shows, when the file exists
    /// [default: scan.picks, reports/picks.json]
    #[arg(long, value_name = "PATH")]
    pub report_picks: Option<PathBuf>,

    /// Monitor report whose status the report shows, when the file exists
    #[arg(long, value_name = "PATH", default_value = "reports/monitor.json")]
    pub report_monitor: PathBuf,

    /// Leave the latest picks and the monitor's status out of the report: they are other
    /// pipeline stages' outputs, so a reproducible pipeline's report must not read them.
    #[arg(long, conflicts_with_all = ["report_picks"])]
    pub report_no_live: bool,
}

impl LiveArgs {
    /// The report's gates (`promotion`) and, unless left out, the live files that exist.
    pub fn context(&self, settings: &Settings) -> anyhow::Result<ReportContext> {
        let live = if self.report_no_live {
            None
        } else {
            let files = LiveFiles {
                picks: self
                    .report_picks
                    .clone()
                    .unwrap_or_else(|| settings.scan.picks.clone()),
                monitor: self.report_monitor.clone(),
            };
            Some(files.read()?)
        };
        Ok(ReportContext {
            gates: settings.promotion,
            live,
        })
    }
}

/// Write the HTML tear sheet of a tracked backtest run.
///
/// Reads the run's artifacts from the local store (`tracking.store`, default `mlruns/`), or
/// with --remote from the MLflow server, and writes the report `momentum backtest` wrote for
/// it, judged by today's params.yaml gates.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Backtest run id (or a unique prefix; with --remote, of a run of `tracking.experiment`).
    run: String,

    /// Read the run from the tracking server (the id is then the server's run id).
    #[arg(long)]
    remote: bool,

    /// Local run store [default: tracking.store, mlruns].
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,

    /// MLflow tracking server, http(s)://host:port [default: MLFLOW_TRACKING_URI, then
    /// tracking.uri].
    #[arg(long, value_name = "URL")]
    uri: Option<String>,

    /// Where to write the report.
    #[arg(long, value_name = "PATH", default_value = "reports/report.html")]
    out: PathBuf,

    #[command(flatten)]
    live: LiveArgs,
}

pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let tracker = open_store(args.store.clone(), args.uri.clone(), settings)?;
    if args.remote && tracker.remote().is_none() {
        anyhow::bail!("--remote needs a tracking server (--uri or MLFLOW_TRACKING_URI)");
    }
    let experiment = &settings.tracking.experiment;
    let elsewhere = "tracking.experiment in the params file, or its whole id";
    let id = resolve_either(&tracker, (experiment, elsewhere), &args.run, args.remote)?;
    let context = args.live.context(settings)?;
    let html = report_of_run(&tracker, &id, args.remote, &context)?;
    write_report(&args.out, &html)?;
    println!(
        "wrote {} ({} KB) for run {id}",
        args.out.display(),
        html.len().div_ceil(1024)
    );
    Ok(ExitCode::SUCCESS)
}
