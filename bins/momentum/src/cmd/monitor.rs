//! `momentum monitor`: the live record of past picks against the backtest's promise, and
//! feature drift. The statistics live in `momentum-scanner`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use momentum_features::PricePanel;
use momentum_scanner::ScanError;
use momentum_scanner::history::read_history;
use momentum_scanner::monitor::{MonitorSettings, monitor};
use momentum_tracking::RunSpec;

use crate::cmd::production::universe_only;
use crate::config::Config;

/// Exit code when `--fail-on-drift` is given and retraining is recommended.
pub const EXIT_RETRAIN: u8 = 4;

const AFTER_HELP: &str = "\
For every scan in the picks history whose holding period has elapsed (non-overlapping periods
only), the picked basket's realised return and equal-weight buy and hold over the same days.
The live record is compared with the backtest of the same parameters on the days before the
first scan: a one-sided t test of the mean period return (monitor.mean_return_alpha) and the
live Sharpe ratio against the backtest's less z standard errors. Drift: the momentum scores of
the last monitor.recent_days days against the train window (backtest.train_fraction), by the
population stability index (monitor.psi_threshold) and a Kolmogorov-Smirnov test
(monitor.ks_alpha). Any breached check sets `retrain_recommended`, with reasons.

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
    /// Price Parquet file [params: data.out]
    #[arg(long, value_name = "PATH")]
    prices: Option<PathBuf>,

    /// Picks history Parquet [params: scan.history]
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
}

pub fn run(args: Args, config: &Config, params_path: &Path) -> anyhow::Result<ExitCode> {
    let settings = MonitorSettings {
        psi_threshold: args.psi_threshold.unwrap_or(config.monitor.psi_threshold),
        ks_alpha: args.ks_alpha.unwrap_or(config.monitor.ks_alpha),
        mean_return_alpha: args
            .mean_return_alpha
            .unwrap_or(config.monitor.mean_return_alpha),
        recent_days: args.recent_days.unwrap_or(config.monitor.recent_days),
        train_fraction: args
            .train_fraction
            .unwrap_or(config.backtest.train_fraction),
    };
    check_settings(&settings, &args, params_path)?;
    let prices_path = args.prices.unwrap_or_else(|| config.data.out.clone());
    let history_path = args.history.unwrap_or_else(|| config.scan.history.clone());
    let table = momentum_data::read_parquet(&prices_path).with_context(|| {
        format!(
            "cannot read the prices {} (run `momentum fetch`)",
            prices_path.display()
        )
    })?;
    let history = read_history(&history_path)?;
    // The latest scan lists its model's whole universe: the drift checks compare the scores of
    // those tickers only, not of others the price file may hold (as `scan` ranks only them).
    let table = match history.last() {
        Some(latest) => {
            let listed: Vec<String> = table
                .tickers
                .iter()
                .filter(|t| latest.picks.iter().any(|p| &p.ticker == *t))
                .cloned()
                .collect();
            universe_only(&table, &listed, &prices_path)?
        }
        None => table,
    };
    let panel = PricePanel::from_table(&table)?;
    let report = monitor(&panel, &history, &settings)
        .with_context(|| format!("cannot monitor the picks in {}", history_path.display()))?;

    crate::output::write_json(&args.out, &report)?;

    for check in &report.checks {
        let value = check
            .value
            .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.4}"));
        let verdict = if check.breached { "BREACHED" } else { "ok" };
        println!(
            "{:<12} {:>10} threshold {:>8.4}  {verdict:<8} {}",
            check.name, value, check.threshold, check.detail
        );
    }
    println!(
        "{} live period(s); retrain recommended: {} (wrote {})",
        report.live.len(),
        if report.retrain_recommended {
            "YES"
        } else {
            "no"
        },
        args.out.display()
    );

    let tracker = crate::tracking::open(config, "monitor")?;
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
        .artifact(&args.out);
    for check in &report.checks {
        if let Some(value) = check.value {
            spec = spec.metric(check.name, value);
        }
    }
    if let Some(mean) = report.live_mean_return {
        spec = spec.metric("live_mean_return", mean);
    }
    tracker.log_run(&config.tracking.experiment, &spec, None)?;

    if args.fail_on_drift && report.retrain_recommended {
        eprintln!("retraining recommended: {}", report.reasons.join("; "));
        return Ok(ExitCode::from(EXIT_RETRAIN));
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks the settings before any file is read. A value out of range is named by its flag when
/// a flag set it, else by its key in the params file.
fn check_settings(
    settings: &MonitorSettings,
    args: &Args,
    params_path: &Path,
) -> anyhow::Result<()> {
    let Err(err) = settings.validate() else {
        return Ok(());
    };
    let ScanError::InvalidSetting { name, reason } = err else {
        return Err(err.into());
    };
    let setting = name.rsplit('.').next().unwrap_or(name);
    let flag_value = match setting {
        "psi_threshold" => args.psi_threshold.map(|v| v.to_string()),
        "ks_alpha" => args.ks_alpha.map(|v| v.to_string()),
        "mean_return_alpha" => args.mean_return_alpha.map(|v| v.to_string()),
        "recent_days" => args.recent_days.map(|v| v.to_string()),
        "train_fraction" => args.train_fraction.map(|v| v.to_string()),
        _ => None,
    };
    match flag_value {
        Some(value) => anyhow::bail!("invalid --{} {value}: {reason}", setting.replace('_', "-")),
        None => anyhow::bail!("invalid {name} in {}: {reason}", params_path.display()),
    }
}
