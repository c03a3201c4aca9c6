//! `momentum scan`: the production model's picks for one day. Scores and selection come from
//! `momentum-scanner`, which calls the same feature and selection code as the backtest.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use momentum_features::PricePanel;
use momentum_scanner::history::append_history;
use momentum_scanner::scan::{Picks, scan};
use momentum_tracking::RunSpec;

use crate::cmd::production::{ProductionSource, load_production, universe_only};
use crate::config::Config;
use crate::output::{write_json, write_text};

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

Fails, writing nothing, when there is no production model, a model ticker is missing from the
prices, or the newest price is older than scan.max_staleness_days (not checked for the
embedded historical sample).

Examples:
  momentum scan
  momentum scan --refresh                  # fetch --update (data.* of params.yaml) first
  momentum scan --as-of 2022-06-01         # what the model picked that day
  momentum scan --from-registry";

/// Score the universe with the production model and write the picks.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Price Parquet file [params: data.out]
    #[arg(long, value_name = "PATH")]
    prices: Option<PathBuf>,

    /// Trading day to score (must be in the prices); later prices are never read
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: Option<NaiveDate>,

    /// Update the price cache first, as `momentum fetch --update` does
    #[arg(long)]
    refresh: bool,

    /// Serve the registry's `champion` version instead of params.yaml's production block
    #[arg(long)]
    from_registry: bool,

    /// Reference date of the staleness check (default: today, UTC)
    #[arg(long, value_name = "YYYY-MM-DD")]
    today: Option<NaiveDate>,

    /// Maximum age in calendar days of the newest price [params: scan.max_staleness_days]
    #[arg(long, value_name = "DAYS")]
    max_staleness_days: Option<i64>,

    /// Picks JSON; the CSV goes beside it [params: scan.picks]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,

    /// Picks history Parquet [params: scan.history]
    #[arg(long, value_name = "PATH")]
    history: Option<PathBuf>,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let source = if args.from_registry {
        ProductionSource::Registry
    } else {
        ProductionSource::Params
    };
    let model = load_production(config, source)?;
    if args.refresh {
        crate::cmd::fetch::update_cache(config)?;
    }
    let prices_path = args.prices.unwrap_or_else(|| config.data.out.clone());
    let table = momentum_data::read_parquet(&prices_path).with_context(|| {
        format!(
            "cannot read the prices {} (run `momentum fetch`)",
            prices_path.display()
        )
    })?;
    let missing: Vec<&str> = model
        .tickers
        .iter()
        .filter(|t| !table.tickers.contains(t))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        bail!(
            "the production model's tickers {} are missing from {}",
            missing.join(", "),
            prices_path.display()
        );
    }
    // In the model's order too: the ranks and the tie rule are then the backtest's.
    let table = universe_only(&table, &model.tickers, &prices_path)?;
    let panel = PricePanel::from_table(&table)?;
    let last = *panel.dates().last().context("the prices are empty")?;
    check_staleness(
        &prices_path,
        last,
        args.today,
        args.max_staleness_days
            .unwrap_or(config.scan.max_staleness_days),
    )?;

    let day = match args.as_of {
        Some(as_of) => panel.dates().binary_search(&as_of).map_err(|_| {
            anyhow::anyhow!(
                "--as-of {as_of} is not a trading day of {} ({} to {last})",
                prices_path.display(),
                panel.dates()[0]
            )
        })?,
        None => panel.n_days() - 1,
    };
    let picks = scan(&panel, day, model.params(), &model.version)?;

    let out = args.out.unwrap_or_else(|| config.scan.picks.clone());
    let csv = out.with_extension("csv");
    let history = args.history.unwrap_or_else(|| config.scan.history.clone());
    // The history goes first: it is the output that can refuse (a corrupt file), and a rerun
    // for the same day replaces its entry, so nothing is left half-written either way.
    append_history(&history, &picks)
        .with_context(|| format!("cannot add the picks to {}", history.display()))?;
    write_json(&out, &picks)?;
    write_csv(&csv, &picks)?;

    let selected: Vec<&str> = picks.selected().collect();
    println!(
        "{}: model v{} picks {} (wrote {}, {}, {})",
        picks.as_of,
        picks.model_version,
        selected.join(", "),
        out.display(),
        csv.display(),
        history.display()
    );

    let tracker = crate::tracking::open(config, "scan")?;
    let spec = RunSpec::new(format!("scan-{}", picks.as_of))
        .tag("momentum.kind", "scan")
        .tag("momentum.model_version", &picks.model_version)
        .param("lookback", picks.params.lookback)
        .param("skip", picks.params.skip)
        .param("holding", picks.params.holding)
        .param("top_k", picks.params.top_k)
        .param("as_of", picks.as_of)
        .param("picks", selected.join(","))
        .metric("selected", selected.len() as f64)
        .artifact(&out)
        .artifact(&csv);
    tracker.log_run(&config.tracking.experiment, &spec, None)?;
    Ok(ExitCode::SUCCESS)
}

/// Live data must be fresh; the embedded sample is historical by design and is exempt.
fn check_staleness(
    prices: &Path,
    last: NaiveDate,
    today: Option<NaiveDate>,
    max_days: i64,
) -> anyhow::Result<()> {
    let manifest = momentum_data::read_manifest(&momentum_data::manifest_path(prices)).ok();
    if manifest.as_ref().is_some_and(|m| m.source == "sample") {
        tracing::info!("the embedded sample is historical data; staleness check skipped");
        return Ok(());
    }
    let today = today.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let age = (today - last).num_days();
    if age > max_days {
        bail!(
            "stale prices: the newest date in {} is {last}, {age} days before {today} (limit scan.max_staleness_days = {max_days}); run `momentum fetch --update` or `momentum scan --refresh`",
            prices.display()
        );
    }
    Ok(())
}

fn write_csv(path: &Path, picks: &Picks) -> anyhow::Result<()> {
    let optional = |value: Option<f64>| value.map(|v| v.to_string()).unwrap_or_default();
    let mut text = String::from("as_of,rank,ticker,score,selected,target_weight,last_close\n");
    for pick in &picks.picks {
        text.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            picks.as_of,
            pick.rank.map(|r| r.to_string()).unwrap_or_default(),
            pick.ticker,
            optional(pick.score),
            pick.selected,
            pick.target_weight,
            optional(pick.last_close)
        ));
    }
    write_text(path, &text)
}
