//! `momentum ab`: the champion against the challenger ([`momentum_lifecycle::run_ab`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use momentum_engine::Arm;
use momentum_lifecycle::track::{git_commit, open_tracker, track_ab};
use momentum_lifecycle::{AbRequest, AbSource, ProductionSource, Settings, load_model, run_ab};
use momentum_scanner::ab::Decision;

use crate::overrides::Overrides;
use crate::terminal::say;

/// Exit code when `--fail-on-promote` is given and the decision is `promote_challenger`.
const EXIT_PROMOTE: u8 = 5;

const AFTER_HELP: &str = "\
Compares the daily returns of the champion (params.yaml production) and the challenger
(params.yaml challenger, written by `momentum promote --alias challenger`), or with
--from-registry the versions the registry's `champion` and `challenger` aliases point at (as
`momentum scan --from-registry` scans them):
  --source live      (default) their books from the picks history (`momentum scan` records the
                     challenger's picks in shadow) and the realised prices, net of each model's
                     cost_bps on every counted scan's turnover (docs/serving.md)
  --source backtest  both models backtested on the same prices, net of their costs, over
                     --start..--end (the history before --start feeds the scores)
  --returns FILE     a CSV `date,champion,challenger` of daily simple returns, any two strategies

Statistics (reports/ab.json): both Sharpe ratios and their difference delta (challenger minus
champion; annualised by sqrt(252) for display); the Ledoit-Wolf (2008) HAC test of delta = 0
(Newey-West, lag floor(4 (T/100)^(2/9)) or --hac-lag); their studentized circular block
bootstrap (--block, --reps, --seed: a 95 % interval and a p-value); the Diebold-Mariano test of
the mean return difference; each book's turnover and, live, the mean overlap of their picks.

Decision: fewer than ab.min_days common days is `inconclusive`; `promote_challenger` when the
HAC and the bootstrap p-values are both below ab.alpha and delta > 0; `keep_champion` when both
are and delta < 0; otherwise `inconclusive`. `momentum promote --from-challenger` acts on a
`promote_challenger` decision only. See docs/ab.md.

Writes --out (reports/ab.json) and the chart beside it (reports/ab.png: both books' growth and
the 63-day Sharpe difference), atomically, and logs an `ab-<source>-<date>` run to tracking.

Exit codes:
  0  report written (read the decision)
  1  error (no challenger, no challenger scans yet, a bad returns file, a constant series, ...)
  5  --fail-on-promote was given and the decision is promote_challenger

Examples:
  momentum ab
  momentum ab --from-registry
  momentum ab --source backtest --start 2015-01-01 --end 2022-12-31
  momentum ab --returns returns.csv --reps 10000 --seed 7";

/// Compare the challenger with the champion: Sharpe difference tests and a decision.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Where the daily returns come from
    #[arg(long, value_enum, default_value_t = SourceKind::Live, conflicts_with = "returns")]
    source: SourceKind,

    /// Compare the two return columns of this CSV (date,champion,challenger) instead
    #[arg(long, value_name = "FILE")]
    returns: Option<PathBuf>,

    /// First day of a backtest comparison (default: the first day of the prices)
    #[arg(long, value_name = "YYYY-MM-DD")]
    start: Option<NaiveDate>,

    /// Last day of a backtest comparison (default: the last day of the prices)
    #[arg(long, value_name = "YYYY-MM-DD")]
    end: Option<NaiveDate>,

    /// Price Parquet file [params: data.out, default data/raw/prices.parquet]
    #[arg(long, value_name = "PATH")]
    prices: Option<PathBuf>,

    /// Picks history Parquet [params: scan.history, default data/predictions/picks.parquet]
    #[arg(long, value_name = "PATH")]
    history: Option<PathBuf>,

    /// Report to write; the chart goes beside it as .png
    #[arg(long, value_name = "PATH", default_value = "reports/ab.json")]
    out: PathBuf,

    /// Significance level of the decision's tests [params: ab.alpha, default 0.05]
    #[arg(long, value_name = "P")]
    alpha: Option<f64>,

    /// Common days below which the decision is inconclusive [params: ab.min_days, default 126]
    #[arg(long, value_name = "DAYS")]
    min_days: Option<usize>,

    /// Newey-West lag of the HAC and Diebold-Mariano tests [params: ab.hac_lag, default
    /// floor(4 (T/100)^(2/9))]
    #[arg(long, value_name = "L")]
    hac_lag: Option<usize>,

    /// Bootstrap block length in days [params: ab.block, default 5]
    #[arg(long, value_name = "B")]
    block: Option<usize>,

    /// Bootstrap replications [params: ab.reps, default 5000]
    #[arg(long, value_name = "R")]
    reps: Option<usize>,

    /// Bootstrap seed: the same seed gives the same interval [params: ab.seed, default 0]
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Exit with code 5 when the decision is promote_challenger (for scheduled jobs)
    #[arg(long)]
    fail_on_promote: bool,

    /// Compare the registry's `champion` and `challenger` versions instead of params.yaml's
    /// production and challenger blocks
    #[arg(long, conflicts_with = "returns")]
    from_registry: bool,
}

/// `--source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SourceKind {
    /// The picks history and the realised prices
    Live,
    /// Both models backtested on the same prices
    Backtest,
}

pub fn run(args: Args, settings: &Settings, params: &Path) -> anyhow::Result<ExitCode> {
    if (args.start.is_some() || args.end.is_some())
        && (args.returns.is_some() || args.source != SourceKind::Backtest)
    {
        anyhow::bail!(
            "--start and --end choose the days of --source backtest only (a returns file or the \
             live books compare every day they have)"
        );
    }
    if let (Some(start), Some(end)) = (args.start, args.end)
        && start > end
    {
        anyhow::bail!("--start {start} is after --end {end}");
    }
    let source = match (&args.returns, args.source) {
        (Some(path), _) => AbSource::Returns(path.clone()),
        (None, SourceKind::Live) => AbSource::Live,
        (None, SourceKind::Backtest) => AbSource::Backtest {
            start: args.start,
            end: args.end,
        },
    };
    let mut request = AbRequest {
        source,
        prices: args.prices.unwrap_or_else(|| settings.data.out.clone()),
        history: args
            .history
            .unwrap_or_else(|| settings.scan.history.clone()),
        settings: settings.ab,
        out: args.out,
    };
    let mut flags = Overrides::default();
    let ab = &mut request.settings;
    flags.set(&mut ab.alpha, args.alpha, "ab.alpha", "--alpha");
    flags.set(&mut ab.min_days, args.min_days, "ab.min_days", "--min-days");
    flags.set(&mut ab.block, args.block, "ab.block", "--block");
    flags.set(&mut ab.reps, args.reps, "ab.reps", "--reps");
    flags.set(&mut ab.seed, args.seed, "ab.seed", "--seed");
    if let Some(lag) = args.hac_lag {
        flags.record("ab.hac_lag", "--hac-lag", lag);
        ab.hac_lag = Some(lag);
    }
    let registry = || open_tracker(settings, "registry", git_commit());
    // The models that hold the aliases now: their costs, and whose record is compared. Both
    // from the blocks of params.yaml, or both from the registry's aliases (--from-registry, as
    // `scan --from-registry` scans them).
    let source = if args.from_registry {
        ProductionSource::Registry
    } else {
        ProductionSource::Params
    };
    let load = |arm| load_model(settings, params, (arm, source), registry);
    let models = match request.source {
        AbSource::Returns(_) => None,
        _ => Some((load(Arm::Champion)?, load(Arm::Challenger)?)),
    };
    // Opened before the comparison writes: a store that cannot be opened changes no file.
    let tracker = open_tracker(settings, "ab", git_commit())?;
    let report = run_ab(models.as_ref().map(|(a, b)| (a, b)), &request)
        .map_err(|err| flags.explain(err, params))?;
    // "champion v3", or "champion" for a returns file.
    let label = |arm: Arm, version: &str| match version {
        "" => arm.to_string(),
        version => format!("{arm} v{version}"),
    };
    if let Some(c) = &report.comparison {
        say!(
            "{} Sharpe {:.3}, {} Sharpe {:.3} (annualised) over {} days",
            label(Arm::Champion, &report.champion.version),
            c.champion.sharpe_annualised,
            label(Arm::Challenger, &report.challenger.version),
            c.challenger.sharpe_annualised,
            report.days_compared
        );
        say!(
            "delta {:+.3}: HAC p = {:.4}, bootstrap 95 % [{:+.3}, {:+.3}] p = {:.4}, \
             Diebold-Mariano p = {:.4}",
            c.delta_annualised,
            c.hac.p_value,
            c.bootstrap.ci_low * momentum_engine::DAYS_PER_YEAR.sqrt(),
            c.bootstrap.ci_high * momentum_engine::DAYS_PER_YEAR.sqrt(),
            c.bootstrap.p_value,
            c.diebold_mariano.p_value
        );
    }
    say!(
        "decision: {} ({}); wrote {}",
        report.decision.as_str(),
        report.reason,
        request.out.display()
    );
    track_ab(
        &tracker,
        settings,
        &report,
        &[&request.out, &request.chart()],
    )?;
    if args.fail_on_promote && report.decision == Decision::PromoteChallenger {
        return Ok(ExitCode::from(EXIT_PROMOTE));
    }
    Ok(ExitCode::SUCCESS)
}
