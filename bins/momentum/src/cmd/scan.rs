//! `momentum scan`: the production model's picks for one day ([`momentum_lifecycle::run_scan`]),
//! scored with the same feature and selection code as the backtest.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;
use momentum_engine::Arm;
use momentum_lifecycle::track::{git_commit, open_tracker, track_scan};
use momentum_lifecycle::{
    DataSettings, LifecycleError, ProductionSource, ScanRequest, Settings, load_model, refresh,
    run_scan,
};

use crate::overrides::Overrides;
use crate::progress::Bar;
use crate::terminal::say;

const AFTER_HELP: &str = "\
The model is the production block of params.yaml (written by `momentum promote`), or with
--from-registry the version the registry's `champion` alias points at. The scan scores every
ticker of the model's universe (other tickers in the prices are left out) on the as-of day
(default: the last day of the prices), ranks them best first (equal scores to the ticker listed
first in the universe), and selects the model's top_k with weight 1/k each: exactly what the
backtest buys on a rebalance day.

Writes (atomically): --out (reports/picks.json), the same list as CSV beside it
(reports/picks.csv), and appends to the picks history (data/predictions/picks.parquet; a rerun
for the same as-of date replaces that day). Logs a `scan-<date>` run to tracking.

A challenger (params.yaml challenger block, or with --from-registry the `challenger` alias;
`momentum promote --alias challenger` writes both) is scored too, in shadow: its picks are
added to the history with alias `challenger` and never written as the production picks.
`momentum ab` compares the two.

Fails, writing nothing, when there is no production model, a model ticker is missing from the
prices, or the newest price is older than scan.max_staleness_days (not checked for the
embedded historical sample); and when the production block and the registry's `champion` name
different versions (a promotion or rollback was killed half-way: `momentum promote --rollback`
restores the state before it).

Examples:
  momentum scan
  momentum scan --refresh                  # fetch --update (data.* of params.yaml) first, through --today
  momentum scan --as-of 2022-06-01         # what the model picked that day
  momentum scan --from-registry";

/// Score the universe with the production model and write the picks.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Price Parquet file [params: data.out, default data/raw/prices.parquet]
    #[arg(long, value_name = "PATH")]
    prices: Option<PathBuf>,

    /// Trading day to score (must be in the prices); later prices are never read
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: Option<NaiveDate>,

    /// Update the prices this scan reads first (--prices, or data.out), as `momentum fetch
    /// --update` does, through --today (default the calendar day): no later day enters them
    #[arg(long)]
    refresh: bool,

    /// Serve the registry's `champion` version instead of params.yaml's production block
    #[arg(long)]
    from_registry: bool,

    /// Today: the reference date of the staleness check, and the latest day a scan may score
    /// (default: today, UTC)
    #[arg(long, value_name = "YYYY-MM-DD")]
    today: Option<NaiveDate>,

    /// Maximum age in calendar days of the newest price [params: scan.max_staleness_days, default 7]
    #[arg(long, value_name = "DAYS")]
    max_staleness_days: Option<i64>,

    /// Picks JSON; the CSV goes beside it [params: scan.picks, default reports/picks.json]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,

    /// Picks history Parquet [params: scan.history, default data/predictions/picks.parquet]
    #[arg(long, value_name = "PATH")]
    history: Option<PathBuf>,
}

pub fn run(args: Args, settings: &Settings, params: &Path) -> anyhow::Result<ExitCode> {
    let source = if args.from_registry {
        ProductionSource::Registry
    } else {
        ProductionSource::Params
    };
    let today = chrono::Utc::now().date_naive();
    let mut request = ScanRequest {
        prices: args.prices.unwrap_or_else(|| settings.data.out.clone()),
        as_of: args.as_of,
        today: args.today.unwrap_or(today),
        max_staleness_days: settings.scan.max_staleness_days,
        out: settings.scan.picks.clone(),
        history: settings.scan.history.clone(),
        models_from: (source == ProductionSource::Params).then(|| params.to_owned()),
    };
    let mut flags = Overrides::default();
    flags.set(
        &mut request.max_staleness_days,
        args.max_staleness_days,
        "scan.max_staleness_days",
        "--max-staleness-days",
    );
    flags.set_path(&mut request.out, args.out, "scan.picks", "--out");
    flags.set_path(
        &mut request.history,
        args.history,
        "scan.history",
        "--history",
    );
    let explain = |err| flags.explain(err, params);
    // Opened first: a store that cannot be opened fails the scan before it reads or writes.
    let tracker = open_tracker(settings, "scan", git_commit())?;
    let registry = || open_tracker(settings, "registry", git_commit());
    let model = load_model(settings, params, (Arm::Champion, source), registry).map_err(explain)?;
    // The challenger runs in shadow when params.yaml (or, --from-registry, the registry) has one.
    let challenger = match load_model(settings, params, (Arm::Challenger, source), registry) {
        Ok(challenger) => Some(challenger),
        Err(LifecycleError::NoChallenger { .. }) => None,
        Err(err) => return Err(explain(err)),
    };
    if args.refresh {
        // The file this scan reads (--prices or data.out), through the last day it may score.
        let data = DataSettings {
            out: request.prices.clone(),
            ..settings.data.clone()
        };
        refresh(&data, request.today, Arc::new(Bar::new())).map_err(explain)?;
    }
    let (picks, shadow) = run_scan(&model, challenger.as_ref(), &request).map_err(explain)?;
    let csv = request.csv();
    say!(
        "{}: model v{} picks {} (wrote {}, {}, {})",
        picks.as_of,
        picks.model_version,
        picks.selected().collect::<Vec<_>>().join(", "),
        request.out.display(),
        csv.display(),
        request.history.display()
    );
    if let Some(shadow) = &shadow {
        say!(
            "{}: challenger v{} would pick {} (in shadow: recorded in {} only)",
            shadow.as_of,
            shadow.model_version,
            shadow.selected().collect::<Vec<_>>().join(", "),
            request.history.display()
        );
    }
    track_scan(&tracker, settings, &picks, &[&request.out, &csv])?;
    Ok(ExitCode::SUCCESS)
}
