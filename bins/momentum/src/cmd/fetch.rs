//! `momentum fetch`: load or download daily prices, validate them, and cache them as Parquet
//! beside a lineage manifest ([`momentum_lifecycle::fetch`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;
use momentum_data::{Source, manifest_path};
use momentum_lifecycle::{FetchPlan, Settings, fetch};

use crate::overrides::Overrides;
use crate::progress::Bar;
use crate::terminal::say;

const AFTER_HELP: &str = "\
Every flag overrides the matching data.* key of params.yaml. Prices are validated (dates,
numbers, duplicate days, prices > 0, requested tickers present) before anything is written.

Sources:
  sample             the embedded 20-stock S&P 500 sample, 1990-01-02..2022-12-28 (offline)
  csv                --path FILE: wide (Date + one column per ticker) or long
                     (date,ticker,open,high,low,close,volume) CSV, gzip or plain
  parquet            --path FILE: the long Parquet layout this command writes
  financialdatasets  GET /prices/ of the Financial Datasets API, one request per ticker and page

Output:
  --out PATH (default data/raw/prices.parquet) and its manifest PATH with the extension replaced
  by .manifest.json (data/raw/prices.manifest.json): source, tickers, date range, rows per
  ticker, content digest, tool version. Both are written atomically: a failed fetch leaves the
  previous files as they were. Rows that the window of params.yaml (data.start, data.end)
  leaves out of the input are counted in a warning.

Environment:
  FINANCIAL_DATASETS_API_KEY   API key for the financialdatasets source (sent as X-API-KEY,
                               never logged or written)
  FINANCIAL_DATASETS_BASE_URL  API base URL (default https://api.financialdatasets.ai)
  RUST_LOG                     log filter, e.g. RUST_LOG=debug

Examples:
  momentum fetch
  momentum fetch --tickers AAPL,MSFT --start 2010-01-01 --end 2020-12-31 --out /tmp/two.parquet
  momentum fetch --source csv --path prices.csv.gz --end 2026-12-31   # data.end is 2022-12-31
  FINANCIAL_DATASETS_API_KEY=... momentum fetch --source financialdatasets \\
      --tickers AAPL,MSFT,NVDA --start 2024-01-01 --end 2024-03-31
  momentum fetch --source financialdatasets --update   # only the days after the cached ones";

/// Load or download daily prices and cache them as Parquet with a lineage manifest.
///
/// Every flag overrides the matching `data.*` key of params.yaml. The prices are validated
/// (dates, numbers, duplicate days, prices > 0, requested tickers present) before anything is
/// written.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Price source: sample, csv, parquet or financialdatasets [params: data.source, default sample]
    #[arg(long, value_name = "NAME", value_parser = parse_source)]
    source: Option<Source>,

    /// Input file of the csv and parquet sources [params: data.path, default none]
    #[arg(long, value_name = "FILE")]
    path: Option<PathBuf>,

    /// Comma-separated tickers, in the universe order wanted; default every ticker the source
    /// has (required for financialdatasets unless --update finds a cache) [params: data.tickers, default all the source has]
    #[arg(long, value_name = "T1,T2", value_delimiter = ',')]
    tickers: Option<Vec<String>>,

    /// First date kept, inclusive [params: data.start, default 1990-01-01]
    #[arg(long, value_name = "YYYY-MM-DD")]
    start: Option<NaiveDate>,

    /// Last date kept, inclusive [params: data.end, default 2022-12-31]
    #[arg(long, value_name = "YYYY-MM-DD")]
    end: Option<NaiveDate>,

    /// Parquet file to write; the manifest goes beside it [params: data.out, default data/raw/prices.parquet]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,

    /// Merge into the existing --out file; the API is asked only for days after each ticker's
    /// last cached date (file sources are reloaded and merged); every cached ticker is kept and
    /// --tickers adds new ones; the window grows to cover the cache, so no cached day is
    /// dropped
    #[arg(long)]
    update: bool,

    /// Drop requested tickers that have no prices in the window (they are listed) instead of
    /// failing; `--allow-missing=false` fails even where params.yaml allows
    /// [params: data.allow_missing, default false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    allow_missing: Option<bool>,

    /// Client-side API rate limit, retries and pages included [params: data.requests_per_minute, default 60]
    #[arg(long, value_name = "N")]
    requests_per_minute: Option<u32>,

    /// Tickers downloaded at the same time [params: data.concurrency, default 4]
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,

    /// Refuse implausible prices (above --max-price, or a close moving more than
    /// --max-daily-jump times in one day) instead of warning about each;
    /// `--strict-prices=false` warns even where params.yaml refuses
    /// [params: data.strict_prices, default false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    strict_prices: Option<bool>,

    /// The largest plausible price [params: data.max_price, default 1e9]
    #[arg(long, value_name = "PRICE")]
    max_price: Option<f64>,

    /// The largest plausible one-day move of a close, as a factor either way
    /// [params: data.max_daily_jump, default 5]
    #[arg(long, value_name = "FACTOR")]
    max_daily_jump: Option<f64>,
}

fn parse_source(text: &str) -> Result<Source, String> {
    text.parse()
        .map_err(|err: momentum_data::DataError| err.to_string())
}

pub fn run(args: Args, settings: &Settings, params: &Path) -> anyhow::Result<ExitCode> {
    let mut plan = FetchPlan::new(&settings.data);
    let mut flags = Overrides::default();
    flags.set(&mut plan.source, args.source, "data.source", "--source");
    flags.set_list(&mut plan.tickers, args.tickers, "data.tickers", "--tickers");
    plan.warn_left_out = [args.start.is_none(), args.end.is_none()];
    flags.set(&mut plan.start, args.start, "data.start", "--start");
    flags.set(&mut plan.end, args.end, "data.end", "--end");
    flags.set(
        &mut plan.requests_per_minute,
        args.requests_per_minute,
        "data.requests_per_minute",
        "--requests-per-minute",
    );
    flags.set(
        &mut plan.concurrency,
        args.concurrency,
        "data.concurrency",
        "--concurrency",
    );
    flags.set_path(&mut plan.path, args.path, "data.path", "--path");
    flags.set_path(&mut plan.out, args.out, "data.out", "--out");
    plan.update = args.update;
    flags.set(
        &mut plan.allow_missing,
        args.allow_missing,
        "data.allow_missing",
        "--allow-missing",
    );
    flags.set(
        &mut plan.strict_prices,
        args.strict_prices,
        "data.strict_prices",
        "--strict-prices",
    );
    flags.set(
        &mut plan.plausible.max_price,
        args.max_price,
        "data.max_price",
        "--max-price",
    );
    flags.set(
        &mut plan.plausible.max_daily_jump,
        args.max_daily_jump,
        "data.max_daily_jump",
        "--max-daily-jump",
    );
    let manifest = fetch(&plan, Arc::new(Bar::new())).map_err(|err| flags.explain(err, params))?;
    say!(
        "wrote {} ({} tickers, {} rows, {} to {}, digest {}) and {}",
        plan.out.display(),
        manifest.tickers.len(),
        manifest.rows,
        manifest.start,
        manifest.end,
        &manifest.digest[..12],
        manifest_path(&plan.out).display()
    );
    Ok(ExitCode::SUCCESS)
}
