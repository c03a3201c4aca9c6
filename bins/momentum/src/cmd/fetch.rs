//! `momentum fetch`: load or download daily prices, validate them, and cache them as Parquet
//! beside a lineage manifest. The work is in `momentum-data`; this module resolves flags
//! against `params.yaml`, drives the async client on a local runtime and reports.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use momentum_data::{
    ClientConfig, FinancialDatasetsClient, Manifest, PriceTable, SAMPLE_ORIGIN, Selection, Source,
    load_local, manifest_path, merge, plan_requests, read_parquet, select, write_manifest,
    write_parquet, write_together,
};

use crate::config::Config;

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
    /// Price source: sample, csv, parquet or financialdatasets [params: data.source]
    #[arg(long, value_name = "NAME", value_parser = parse_source)]
    source: Option<Source>,

    /// Input file of the csv and parquet sources [params: data.path]
    #[arg(long, value_name = "FILE")]
    path: Option<PathBuf>,

    /// Comma-separated tickers, in the universe order wanted; default every ticker the source
    /// has (required for financialdatasets unless --update finds a cache) [params: data.tickers]
    #[arg(long, value_name = "T1,T2", value_delimiter = ',')]
    tickers: Option<Vec<String>>,

    /// First date kept, inclusive [params: data.start]
    #[arg(long, value_name = "YYYY-MM-DD")]
    start: Option<NaiveDate>,

    /// Last date kept, inclusive [params: data.end]
    #[arg(long, value_name = "YYYY-MM-DD")]
    end: Option<NaiveDate>,

    /// Parquet file to write; the manifest goes beside it [params: data.out]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,

    /// Merge into the existing --out file; the API is asked only for days after each ticker's
    /// last cached date (file sources are reloaded and merged); without --tickers the cached
    /// universe is updated; the window grows to cover the cache, so no cached day of a kept
    /// ticker is dropped
    #[arg(long)]
    update: bool,

    /// Drop requested tickers that have no prices in the window (they are listed) instead of
    /// failing [params: data.allow_missing]
    #[arg(long)]
    allow_missing: bool,

    /// Client-side API rate limit, retries and pages included [params: data.requests_per_minute]
    #[arg(long, value_name = "N")]
    requests_per_minute: Option<u32>,

    /// Tickers downloaded at the same time [params: data.concurrency]
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
}

fn parse_source(text: &str) -> Result<Source, String> {
    text.parse()
        .map_err(|err: momentum_data::DataError| err.to_string())
}

/// The effective settings after flags override params.yaml.
struct Settings {
    source: Source,
    path: PathBuf,
    tickers: Vec<String>,
    start: NaiveDate,
    end: NaiveDate,
    /// Whether `start` and `end` are params.yaml's (no `--start`, `--end`): rows those leave
    /// out get a warning, rows a flag leaves out were asked for.
    window_defaults: [bool; 2],
    out: PathBuf,
    update: bool,
    allow_missing: bool,
    requests_per_minute: u32,
    concurrency: usize,
}

impl Settings {
    fn resolve(args: Args, config: &Config) -> anyhow::Result<Self> {
        let data = &config.data;
        let source = match args.source {
            Some(source) => source,
            None => data.source.parse().context("params.yaml data.source")?,
        };
        let date = |flag: Option<NaiveDate>, key: &str, text: &str| -> anyhow::Result<NaiveDate> {
            match flag {
                Some(date) => Ok(date),
                None => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").with_context(|| {
                    format!("params.yaml data.{key}: {text:?} is not a YYYY-MM-DD date")
                }),
            }
        };
        let from_flag = args.tickers.is_some();
        let tickers: Vec<String> = args
            .tickers
            .unwrap_or_else(|| data.tickers.clone())
            .iter()
            .map(|t| t.trim().to_uppercase())
            .filter(|t| !t.is_empty())
            .collect();
        // A ticker named twice would be fetched twice from the API (twice the quota, and rows
        // that then fail validation as duplicate dates): refused up front.
        if let Some(twice) = tickers
            .iter()
            .enumerate()
            .find_map(|(i, t)| tickers[..i].contains(t).then_some(t))
        {
            let place = if from_flag {
                "--tickers"
            } else {
                "params.yaml data.tickers"
            };
            anyhow::bail!("{place}: ticker {twice} is listed twice");
        }
        Ok(Self {
            source,
            path: args.path.unwrap_or_else(|| PathBuf::from(&data.path)),
            tickers,
            window_defaults: [args.start.is_none(), args.end.is_none()],
            start: date(args.start, "start", &data.start)?,
            end: date(args.end, "end", &data.end)?,
            out: args.out.unwrap_or_else(|| data.out.clone()),
            update: args.update,
            allow_missing: args.allow_missing || data.allow_missing,
            requests_per_minute: args.requests_per_minute.unwrap_or(data.requests_per_minute),
            concurrency: args.concurrency.unwrap_or(data.concurrency),
        })
    }

    /// What errors and the manifest call the input.
    fn origin(&self, base_url: Option<&str>) -> String {
        match self.source {
            Source::Sample => SAMPLE_ORIGIN.into(),
            Source::Csv | Source::Parquet => self.path.display().to_string(),
            Source::FinancialDatasets => base_url.unwrap_or("financialdatasets").into(),
        }
    }
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let settings = Settings::resolve(args, config)?;
    let manifest = fetch(&settings)?;
    println!(
        "wrote {} ({} tickers, {} rows, {} to {}, digest {}) and {}",
        settings.out.display(),
        manifest.tickers.len(),
        manifest.rows,
        manifest.start,
        manifest.end,
        &manifest.digest[..12],
        manifest_path(&settings.out).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `momentum fetch --update` with the `data` settings of params.yaml and the window extended to
/// today (UTC) when `data.end` is earlier: the incremental refresh `momentum scan --refresh`
/// runs before scoring today's universe. Logs a summary instead of printing it, so the caller
/// owns stdout.
pub fn update_cache(config: &Config) -> anyhow::Result<()> {
    let no_flags = Args {
        source: None,
        path: None,
        tickers: None,
        start: None,
        end: None,
        out: None,
        update: true,
        allow_missing: false,
        requests_per_minute: None,
        concurrency: None,
    };
    let mut settings = Settings::resolve(no_flags, config)?;
    let today = chrono::Utc::now().date_naive();
    if settings.end < today {
        tracing::info!(
            "refresh: extending data.end {} to today, {today}",
            settings.end
        );
        settings.end = today;
    }
    let manifest = fetch(&settings).context("refreshing the price cache")?;
    tracing::info!(
        "refreshed {}: {} tickers, {} rows, {} to {}",
        settings.out.display(),
        manifest.tickers.len(),
        manifest.rows,
        manifest.start,
        manifest.end
    );
    Ok(())
}

/// Loads or downloads, merges with the cache for `--update`, selects, validates, then writes
/// the Parquet file and its manifest (in that order, each atomically).
fn fetch(settings: &Settings) -> anyhow::Result<Manifest> {
    if settings.start > settings.end {
        anyhow::bail!("--start {} is after --end {}", settings.start, settings.end);
    }
    let cached = if settings.update {
        load_cache(&settings.out)?
    } else {
        None
    };

    // An update only adds days: the window grows to keep every cached row (a cache fetched with
    // `--end today` runs past data.end and must not shrink), and a ticker new to the cache is
    // asked for the same days as the others.
    let (mut start, mut end) = (settings.start, settings.end);
    if let Some((first, last)) = cached.as_ref().and_then(PriceTable::date_range) {
        start = start.min(first);
        end = end.max(last);
    }
    let (fresh, origin) = match settings.source {
        Source::FinancialDatasets => fetch_api(settings, (start, end), cached.as_ref())?,
        local => (load_local(local, &settings.path)?, settings.origin(None)),
    };
    let combined = match &cached {
        Some(cached) => merge(cached, &fresh),
        None => fresh,
    };
    // An update without tickers refreshes what is cached, whichever source: reloading the whole
    // sample must not widen a universe the cache was built with.
    let tickers = match (&cached, settings.tickers.is_empty()) {
        (Some(cached), true) => cached.tickers.clone(),
        _ => settings.tickers.clone(),
    };
    let selection = Selection {
        tickers,
        start,
        end,
        allow_missing: settings.allow_missing,
    };
    let selected = select(&combined, &selection, &origin)?;
    warn_left_out(&combined, &selected.table, settings, (start, end), &origin);
    if !selected.dropped.is_empty() {
        tracing::warn!(
            "dropped {} ticker(s) without prices between {} and {}: {}",
            selected.dropped.len(),
            start,
            end,
            selected.dropped.join(", ")
        );
    }

    let table = &selected.table;
    let manifest = Manifest::describe(
        settings.source.as_str(),
        &origin,
        &settings.out,
        table,
        &selected.dropped,
        (start, end),
        cached.is_some(),
    );
    // The prices and their manifest are replaced together: an earlier fetch's manifest would
    // describe other data (and its source decides whether scan checks staleness).
    let files = [settings.out.clone(), manifest_path(&settings.out)];
    write_together(&files, |staged| {
        write_parquet(&staged[0], table)?;
        write_manifest(&staged[1], &manifest)
    })?;
    Ok(manifest)
}

/// Warns about the rows of the kept tickers that a bound of the window taken from params.yaml
/// left out: a default `data.end` silently cutting a longer file would look like missing data
/// later.
fn warn_left_out(
    loaded: &PriceTable,
    kept: &PriceTable,
    settings: &Settings,
    (start, end): (NaiveDate, NaiveDate),
    origin: &str,
) {
    // A ticker's rows are sorted by date: the ones outside the window are at its two ends.
    let (mut before, mut after) = (0, 0);
    for ticker in &kept.tickers {
        let rows = loaded.rows_of(ticker);
        before += rows.partition_point(|row| row.date < start);
        after += rows.len() - rows.partition_point(|row| row.date <= end);
    }
    let [start_default, end_default] = settings.window_defaults;
    if start_default && before > 0 {
        tracing::warn!(
            "{origin}: {before} rows before {start} left out by params.yaml data.start (--start to keep them)"
        );
    }
    if end_default && after > 0 {
        tracing::warn!(
            "{origin}: {after} rows after {end} left out by params.yaml data.end (--end to keep them)"
        );
    }
}

fn load_cache(out: &Path) -> anyhow::Result<Option<PriceTable>> {
    if !out.exists() {
        tracing::info!(
            "--update: no cache at {} yet, fetching the whole window",
            out.display()
        );
        return Ok(None);
    }
    let table = read_parquet(out).context("--update: cannot read the cached prices")?;
    tracing::info!(
        "--update: {} rows of {} tickers cached in {}",
        table.rows.len(),
        table.tickers.len(),
        out.display()
    );
    Ok(Some(table))
}

fn fetch_api(
    settings: &Settings,
    (start, end): (NaiveDate, NaiveDate),
    cached: Option<&PriceTable>,
) -> anyhow::Result<(PriceTable, String)> {
    let tickers = match (settings.tickers.is_empty(), cached) {
        (false, _) => settings.tickers.clone(),
        (true, Some(cached)) => cached.tickers.clone(),
        (true, None) => anyhow::bail!(
            "the financialdatasets source needs tickers: pass --tickers AAPL,MSFT or set data.tickers"
        ),
    };
    let client_config = ClientConfig {
        requests_per_minute: settings.requests_per_minute,
        concurrency: settings.concurrency,
        ..ClientConfig::from_env()?
    };
    let origin = settings.origin(Some(&client_config.base_url));
    let client = FinancialDatasetsClient::new(client_config)?;
    let requests = plan_requests(&tickers, start, end, cached);
    tracing::info!(
        "requesting {} of {} tickers from {origin} ({} skipped: cache is up to date)",
        requests.len(),
        tickers.len(),
        tickers.len() - requests.len()
    );
    let bar = crate::progress::bar(requests.len() as u64, "fetch");
    let progress = bar.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let fetched = runtime.block_on(client.fetch_many(&requests, move |ticker| {
        progress.set_message(ticker.to_string());
        progress.inc(1);
    }));
    bar.finish_and_clear();
    let rows = fetched?.into_iter().flat_map(|(_, rows)| rows).collect();
    Ok((PriceTable::from_rows(tickers, rows), origin))
}
