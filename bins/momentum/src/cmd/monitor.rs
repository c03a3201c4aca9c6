//! `momentum monitor`: the live record of past picks against the backtest's promise, and
//! feature drift ([`momentum_lifecycle::run_monitor`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;

use momentum_lifecycle::track::{git_commit, open_tracker, track_monitor};
use momentum_lifecycle::{MonitorRequest, Settings, run_monitor};

use crate::overrides::Overrides;
use crate::terminal::{note, say};

/// Exit code when `--fail-on-drift` is given and retraining is recommended.
const EXIT_RETRAIN: u8 = 4;

const AFTER_HELP: &str = "\
For every scan in the picks history whose holding period has elapsed (non-overlapping periods
only), the picked basket's realised return and equal-weight buy and hold over the same days.
The live record is compared with the backtest of the same parameters on the days before the
first scan: a one-sided t test of the mean period return (monitor.mean_return_alpha) and the
live Sharpe ratio against the backtest's less z standard errors. Drift: the momentum scores of
the last monitor.recent_days days against the backtest's train window (backtest.train_fraction
of the evaluation window backtest.start..backtest.end, as the backtest cuts it), by the
population stability index (monitor.psi_threshold) and a Kolmogorov-Smirnov test
(monitor.ks_alpha). Any breached check sets `retrain_recommended`, with reasons. A check that
cannot be computed (too few live periods, or recent days that reach into the train window) is
printed `unchecked` with why, and recommends nothing.

Writes --out (reports/monitor.json) atomically and logs a `monitor-<date>` run to tracking.

Exit codes:
  0  report written (retraining may be recommended: read the report)
  1  error (no picks history, unreadable files, ...)
  4  --fail-on-drift was given and retraining is recommended

Every threshold flag overrides the matching monitor.* key of params.yaml.

Examples:
  momentum monitor
  momentum monitor --fail-on-drift || echo 'retrain'
  momentum monitor --psi-threshold 0.1 --recent-days 21   # a stricter drift check";

/// Compare past picks with realised returns and check for drift.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Price Parquet file [params: data.out, default data/raw/prices.parquet]
    #[arg(long, value_name = "PATH")]
    prices: Option<PathBuf>,

    /// Picks history Parquet [params: scan.history, default data/predictions/picks.parquet]
    #[arg(long, value_name = "PATH")]
    history: Option<PathBuf>,

    /// Report to write
    #[arg(long, value_name = "PATH", default_value = "reports/monitor.json")]
    out: PathBuf,

    /// Exit with code 4 when retraining is recommended (for scheduled jobs)
    #[arg(long)]
    fail_on_drift: bool,

    /// Trading days at the end of the prices whose momentum scores are compared with the train
    /// window [params: monitor.recent_days, default 63]
    #[arg(long, value_name = "DAYS")]
    recent_days: Option<usize>,

    /// Population stability index above which the scores have drifted
    /// [params: monitor.psi_threshold, default 0.25]
    #[arg(long, value_name = "X")]
    psi_threshold: Option<f64>,

    /// Kolmogorov-Smirnov p-value below which the scores have drifted
    /// [params: monitor.ks_alpha, default 0.01]
    #[arg(long, value_name = "P")]
    ks_alpha: Option<f64>,

    /// Significance of the live-versus-backtest mean return and Sharpe tests
    /// [params: monitor.mean_return_alpha, default 0.05]
    #[arg(long, value_name = "P")]
    mean_return_alpha: Option<f64>,

    /// Train fraction of the backtest, which fixes the drift checks' reference window
    /// [params: backtest.train_fraction, default 0.7]
    #[arg(long, value_name = "F")]
    train_fraction: Option<f64>,

    /// First day of the backtest's evaluation window, whose train window is the drift checks'
    /// reference: the first trading day on or after it [params: backtest.start, empty = the
    /// first day of the prices]
    #[arg(long, value_name = "YYYY-MM-DD")]
    start: Option<NaiveDate>,

    /// Last day of the backtest's evaluation window: the last trading day on or before it
    /// [params: backtest.end, empty = the last day of the prices]
    #[arg(long, value_name = "YYYY-MM-DD")]
    end: Option<NaiveDate>,
}

pub fn run(args: Args, settings: &Settings, params: &Path) -> anyhow::Result<ExitCode> {
    let mut request = MonitorRequest {
        prices: args.prices.unwrap_or_else(|| settings.data.out.clone()),
        history: args
            .history
            .unwrap_or_else(|| settings.scan.history.clone()),
        out: args.out,
        settings: settings.monitor,
        // Without a split (`null`) there is no train window to compare with: refused as out of range.
        train_fraction: settings.backtest.train_fraction.unwrap_or(f64::NAN),
        start: settings.backtest.start,
        end: settings.backtest.end,
    };
    let mut flags = Overrides::default();
    let thresholds = &mut request.settings;
    flags.set(
        &mut thresholds.recent_days,
        args.recent_days,
        "monitor.recent_days",
        "--recent-days",
    );
    flags.set(
        &mut thresholds.psi_threshold,
        args.psi_threshold,
        "monitor.psi_threshold",
        "--psi-threshold",
    );
    flags.set(
        &mut thresholds.ks_alpha,
        args.ks_alpha,
        "monitor.ks_alpha",
        "--ks-alpha",
    );
    flags.set(
        &mut thresholds.mean_return_alpha,
        args.mean_return_alpha,
        "monitor.mean_return_alpha",
        "--mean-return-alpha",
    );
    flags.set(
        &mut request.train_fraction,
        args.train_fraction,
        "backtest.train_fraction",
        "--train-fraction",
    );
    flags.set_some(&mut request.start, args.start, "backtest.start", "--start");
    flags.set_some(&mut request.end, args.end, "backtest.end", "--end");
    // Opened before the monitor writes: a store that cannot be opened changes no file.
    let tracker = open_tracker(settings, "monitor", git_commit())?;
    let report = run_monitor(&request).map_err(|err| flags.explain(err, params))?;
    for check in &report.checks {
        let value = check
            .value
            .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.4}"));
        let verdict = match (check.breached, check.value) {
            (true, _) => "BREACHED",
            (false, None) => "unchecked",
            (false, Some(_)) => "ok",
        };
        say!(
            "{:<12} {:>10} threshold {:>8.4}  {verdict:<9} {}",
            check.name,
            value,
            check.threshold,
            check.detail
        );
    }
    say!(
        "{} live period(s); retrain recommended: {} (wrote {})",
        report.live.len(),
        if report.retrain_recommended {
            "YES"
        } else {
            "no"
        },
        request.out.display()
    );
    track_monitor(&tracker, settings, &report, &request.out)?;
    if args.fail_on_drift && report.retrain_recommended {
        note!("retraining recommended: {}", report.reasons.join("; "));
        return Ok(ExitCode::from(EXIT_RETRAIN));
    }
    Ok(ExitCode::SUCCESS)
}
