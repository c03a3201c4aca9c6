//! Fetch: load or download daily prices, validate them, and cache them as Parquet beside a
//! lineage manifest (the `data` block of `params.yaml`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use momentum_data::{
    ClientConfig, DataError, FinancialDatasetsClient, ImplausiblePrice, Manifest, PlausibleRange,
    PriceTable, SAMPLE_ORIGIN, Selected, Source, UniverseWindow, implausible_closes,
    implausible_prices, load_local, manifest_path, merge, plan_requests, read_parquet, select,
    validate, write_manifest, write_parquet, write_together,
};
use momentum_engine::PricePanel;

use crate::backtest::is_parquet;
use crate::error::{LifecycleError, Result};
use crate::progress::Progress;
use crate::settings::{DataSettings, SettingsError};

/// What one fetch does: the `data` block of `params.yaml` with any overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchPlan {
    /// Where the prices come from.
    pub source: Source,
    /// The input file of the csv and parquet sources.
    pub path: PathBuf,
    /// Tickers in universe order (upper-cased, blanks dropped); empty: every ticker the source
    /// has. With `update`, the tickers added after the cached universe (which stays whole).
    pub tickers: Vec<String>,
    /// First date kept.
    pub start: NaiveDate,
    /// Last date kept.
    pub end: NaiveDate,
    /// Whether `start` and `end` are the settings' own: rows they leave out of the input get a
    /// warning (rows left out by a bound the caller chose were asked for).
    pub warn_left_out: [bool; 2],
    /// The Parquet file to write; its manifest goes beside it.
    pub out: PathBuf,
    /// Merge into the existing `out`: the API is asked only for days after the cache.
    pub update: bool,
    /// Drop requested tickers without prices instead of failing.
    pub allow_missing: bool,
    /// Client-side API rate limit.
    pub requests_per_minute: u32,
    /// Tickers downloaded at the same time.
    pub concurrency: usize,
    /// Prices outside it get a warning naming ticker and date.
    pub plausible: PlausibleRange,
    /// Refuse an implausible price instead of warning.
    pub strict_prices: bool,
}

impl FetchPlan {
    /// The plan of the `data` settings as they are.
    ///
    /// ```
    /// use std::path::Path;
    /// use momentum_lifecycle::{FetchPlan, Settings};
    ///
    /// let text = "data:\n  source: csv\n  path: prices.csv\n  tickers: [aapl, ' msft ', '']\n";
    /// let settings = Settings::parse(text, Path::new("params.yaml"))?;
    /// let plan = FetchPlan::new(&settings.data);
    /// assert_eq!(plan.path, Path::new("prices.csv"));
    /// assert_eq!(plan.out, Path::new("data/raw/prices.parquet"));
    /// assert!(!plan.update);
    /// // Overrides (the command line's) go on top.
    /// let plan = FetchPlan { update: true, ..plan };
    /// assert_eq!(plan.normalized_tickers()?, ["AAPL", "MSFT"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(data: &DataSettings) -> Self {
        Self {
            source: data.source,
            path: data.path.clone(),
            tickers: data.tickers.clone(),
            start: data.start,
            end: data.end,
            warn_left_out: [true, true],
            out: data.out.clone(),
            update: false,
            allow_missing: data.allow_missing,
            requests_per_minute: data.requests_per_minute,
            concurrency: data.concurrency,
            plausible: PlausibleRange {
                max_price: data.max_price,
                max_daily_jump: data.max_daily_jump,
            },
            strict_prices: data.strict_prices,
        }
    }

    /// The tickers as they will be requested: trimmed, upper-cased, blanks dropped.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] (`data.tickers`) for a ticker listed twice: it would be
    /// fetched twice from the API (twice the quota, and rows that then fail validation as
    /// duplicate dates).
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_lifecycle::{DataSettings, FetchPlan};
    ///
    /// let mut plan = FetchPlan::new(&DataSettings::default());
    /// plan.tickers = vec![" xom".into(), "".into(), "CVX ".into()];
    /// assert_eq!(plan.normalized_tickers()?, ["XOM", "CVX"]);
    ///
    /// plan.tickers = vec!["xom".into(), "XOM".into()];
    /// let err = plan.normalized_tickers().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid data.tickers = xom,XOM: ticker XOM is listed twice");
    /// # Ok::<(), momentum_lifecycle::LifecycleError>(())
    /// ```
    pub fn normalized_tickers(&self) -> Result<Vec<String>> {
        let tickers: Vec<String> = self
            .tickers
            .iter()
            .map(|t| t.trim().to_uppercase())
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(twice) = tickers
            .iter()
            .enumerate()
            .find_map(|(i, t)| tickers[..i].contains(t).then_some(t))
        {
            return Err(SettingsError::Invalid {
                key: "data.tickers".into(),
                value: Some(self.tickers.join(",")),
                reason: format!("ticker {twice} is listed twice"),
            }
            .into());
        }
        Ok(tickers)
    }

    /// The cache is written as Parquet, and `features`, `backtest --prices` and `scan` read a
    /// price file by its extension: a cache named `prices.csv` would be read back as CSV.
    fn check_out_is_parquet(&self) -> Result<()> {
        if is_parquet(&self.out) {
            return Ok(());
        }
        Err(SettingsError::Invalid {
            key: "data.out".into(),
            value: Some(self.out.display().to_string()),
            reason: "the price cache is written as Parquet, so its name must end in .parquet \
                     (a price file of any other name is read as CSV)"
                .into(),
        }
        .into())
    }

    /// Both bounds must be numbers that leave room for a price and its move.
    fn check_plausible_range(&self) -> Result<()> {
        let PlausibleRange {
            max_price,
            max_daily_jump,
        } = self.plausible;
        let invalid = |key: &str, value: f64, reason: &str| {
            Err(SettingsError::Invalid {
                key: key.into(),
                value: Some(value.to_string()),
                reason: reason.into(),
            }
            .into())
        };
        if !(max_price.is_finite() && max_price > 0.0) {
            return invalid(
                "data.max_price",
                max_price,
                "must be a finite price above 0",
            );
        }
        if !(max_daily_jump.is_finite() && max_daily_jump > 1.0) {
            return invalid(
                "data.max_daily_jump",
                max_daily_jump,
                "must be a finite factor above 1",
            );
        }
        Ok(())
    }

    /// The data crate's refusal of a setting of the plan, named by its key in params.yaml
    /// (`concurrency` is `data.concurrency`) so that the caller can name the flag that set it;
    /// any other error as it is.
    fn setting_refused(&self, err: DataError) -> LifecycleError {
        let DataError::InvalidSetting { name, reason } = &err else {
            return err.into();
        };
        let value = match *name {
            // Empty: there is no value to show.
            "path" => None,
            "requests_per_minute" => Some(self.requests_per_minute.to_string()),
            "concurrency" => Some(self.concurrency.to_string()),
            _ => return err.into(),
        };
        SettingsError::Invalid {
            key: format!("data.{name}"),
            value,
            reason: reason.clone(),
        }
        .into()
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

/// Loads or downloads, merges with the cache for an update, selects, validates, then writes
/// the Parquet file and its manifest together (a failure leaves both as they were).
///
/// # Errors
/// [`SettingsError::Invalid`] for `start > end`, a ticker listed twice, a csv or parquet
/// source without `data.path`, or an API limit of 0 (`data.requests_per_minute`,
/// `data.concurrency`); the data crate's errors naming the file, ticker or date; [`LifecycleError::NeedTickers`] for the API without
/// tickers; [`LifecycleError::Write`].
///
/// # Examples
///
/// December 2022 of one ticker of the embedded sample, cached in a temporary directory:
///
/// ```
/// use std::sync::Arc;
/// use momentum_data::{Source, manifest_path};
/// use momentum_lifecycle::{DataSettings, FetchPlan, Silent, fetch, read_prices};
///
/// let dir = tempfile::tempdir()?;
/// let plan = FetchPlan {
///     source: Source::Sample,
///     tickers: vec!["xom".into()],
///     start: "2022-12-01".parse()?,
///     end: "2022-12-31".parse()?,
///     out: dir.path().join("raw/prices.parquet"),
///     ..FetchPlan::new(&DataSettings::default())
/// };
/// let manifest = fetch(&plan, Arc::new(Silent))?;
/// assert_eq!(manifest.source, "sample");
/// assert_eq!(manifest.tickers, ["XOM"]);
/// // The sample ends on 2022-12-28.
/// assert_eq!((manifest.rows, manifest.end.to_string()), (19, "2022-12-28".to_string()));
/// assert!(manifest_path(&plan.out).exists());
/// let cached = read_prices(&plan.out)?;
/// assert_eq!(cached.len(), 19);
/// assert_eq!(momentum_data::digest(&cached), manifest.digest);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fetch(plan: &FetchPlan, progress: Arc<dyn Progress>) -> Result<Manifest> {
    if plan.start > plan.end {
        // Named by the bound the caller set (the other is the settings').
        let [_, end_from_settings] = plan.warn_left_out;
        let invalid = if end_from_settings {
            SettingsError::Invalid {
                key: "data.start".into(),
                value: Some(plan.start.to_string()),
                reason: format!("after the end {}", plan.end),
            }
        } else {
            SettingsError::Invalid {
                key: "data.end".into(),
                value: Some(plan.end.to_string()),
                reason: format!("before the start {}", plan.start),
            }
        };
        return Err(invalid.into());
    }
    let tickers = plan.normalized_tickers()?;
    plan.check_plausible_range()?;
    plan.check_out_is_parquet()?;
    let cached = if plan.update {
        load_cache(&plan.out)?
    } else {
        None
    };
    // An update never drops a cached ticker: the universe is the cache's, then the tickers asked
    // for that are new to it (reloading a whole source must not widen it either; a fetch
    // without --update sets a new universe).
    let tickers = match &cached {
        Some(cached) => {
            let mut universe = cached.tickers().to_vec();
            let added: Vec<String> = tickers
                .into_iter()
                .filter(|ticker| !universe.contains(ticker))
                .collect();
            universe.extend(added);
            universe
        }
        None => tickers,
    };
    // An update only adds days: the window grows to keep every cached row (a cache fetched with
    // an end of today runs past data.end and must not shrink), and a ticker new to the cache is
    // asked for the same days as the others.
    let (mut start, mut end) = (plan.start, plan.end);
    if let Some((first, last)) = cached.as_ref().and_then(PriceTable::date_range) {
        start = start.min(first);
        end = end.max(last);
    }
    let (fresh, origin) = match plan.source {
        Source::FinancialDatasets => {
            fetch_api(plan, &tickers, (start, end), cached.as_ref(), progress)?
        }
        local => (
            load_local(local, &plan.path).map_err(|err| plan.setting_refused(err))?,
            plan.origin(None),
        ),
    };
    if cached.is_some() {
        let left_out: Vec<&str> = fresh
            .tickers()
            .iter()
            .filter(|ticker| !tickers.contains(ticker))
            .map(String::as_str)
            .collect();
        if !left_out.is_empty() {
            tracing::warn!(
                "update: {origin} has {} ticker(s) the cache has not, left out (--tickers adds \
                 them): {}",
                left_out.len(),
                left_out.join(", ")
            );
        }
    }
    let combined = match &cached {
        Some(cached) => {
            warn_revised(cached, &fresh, &origin);
            merge(cached, &fresh)
        }
        None => fresh,
    };
    let wanted = UniverseWindow {
        tickers,
        start,
        end,
        allow_missing: plan.allow_missing,
    };
    let selected = if keeps_everything(&combined, &wanted) {
        // What `select` returns, without its copy of every row (the table's largest cost).
        validate(&combined, &origin)?;
        Selected {
            table: combined,
            dropped: Vec::new(),
        }
    } else {
        let selected = select(&combined, &wanted, &origin)?;
        warn_left_out(&combined, &selected.table, plan, (start, end), &origin);
        selected
    };
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
    check_plausible(plan, table, cached.as_ref(), &origin)?;
    let manifest = Manifest::describe(
        plan.source.as_str(),
        &origin,
        &plan.out,
        table,
        &selected.dropped,
        (start, end),
        cached.is_some(),
    );
    // The prices and their manifest are replaced together: an earlier fetch's manifest would
    // describe other data (and its source decides whether scan checks staleness).
    let files = [plan.out.clone(), manifest_path(&plan.out)];
    write_together(&files, |staged| {
        write_parquet(&staged[0], table)?;
        write_manifest(&staged[1], &manifest)
    })?;
    Ok(manifest)
}

/// Implausible prices that are new in `table`: warnings naming ticker and date, or with
/// `strict_prices` an error naming the first. An update does not report the cache's again, but
/// a cached day the source revised is new (its close, or the one before it, changed).
fn check_plausible(
    plan: &FetchPlan,
    table: &PriceTable,
    cached: Option<&PriceTable>,
    origin: &str,
) -> Result<()> {
    let known = cached.map_or_else(Vec::new, |cached| {
        implausible_prices(cached, &plan.plausible)
    });
    let found: Vec<ImplausiblePrice> = implausible_prices(table, &plan.plausible)
        .into_iter()
        .filter(|found| !known.contains(found))
        .collect();
    report_implausible(found, origin, plan.strict_prices)
}

/// The implausible closes of `panel`, aligned from the price file `origin` (one `features` or
/// `backtest --prices` reads, which `fetch` may never have checked), reported as `fetch`
/// reports them, within the bounds of the `data` settings.
pub(crate) fn check_plausible_panel(
    panel: &PricePanel,
    origin: &Path,
    data: &DataSettings,
) -> Result<()> {
    let plan = FetchPlan::new(data);
    plan.check_plausible_range()?;
    let close = panel.close();
    let found = (panel.tickers().iter().enumerate())
        .flat_map(|(i, ticker)| {
            let closes = (panel.dates().iter().zip(close.column(i)))
                .filter(|(_, close)| !close.is_nan())
                .map(|(date, close)| (*date, *close));
            implausible_closes(ticker, closes, &plan.plausible)
        })
        .collect();
    report_implausible(found, &origin.display().to_string(), plan.strict_prices)
}

/// Warnings naming ticker and date of each price `found` implausible in `origin`, or with
/// `strict` an error naming the first.
fn report_implausible(mut found: Vec<ImplausiblePrice>, origin: &str, strict: bool) -> Result<()> {
    /// Enough to point at the problem without flooding the log.
    const SHOWN: usize = 10;
    if found.is_empty() {
        return Ok(());
    }
    if strict {
        return Err(LifecycleError::ImplausiblePrice {
            origin: origin.into(),
            more: found.len() - 1,
            first: Box::new(found.swap_remove(0)),
        });
    }
    for price in found.iter().take(SHOWN) {
        tracing::warn!(
            "{origin}: implausible price: {price} (kept; data.max_price and \
             data.max_daily_jump set the bounds, data.strict_prices or fetch --strict-prices \
             refuses)"
        );
    }
    if found.len() > SHOWN {
        tracing::warn!(
            "{origin}: {} more implausible prices not shown",
            found.len() - SHOWN
        );
    }
    Ok(())
}

/// An update of the price cache with the `data` settings through `today`, whatever `data.end`
/// says: the refresh a scan runs before scoring today's universe. `today` is the last day the
/// scan may score (a scan's `--today`), so no later day enters the cache; as every update, it
/// keeps every cached row.
///
/// # Errors
/// [`LifecycleError::Refresh`] with the fetch's error as its cause.
pub fn refresh(
    data: &DataSettings,
    today: NaiveDate,
    progress: Arc<dyn Progress>,
) -> Result<Manifest> {
    let mut plan = FetchPlan::new(data);
    plan.update = true;
    if plan.end != today {
        tracing::info!("refresh: through today, {today} (data.end is {})", plan.end);
        plan.end = today;
    }
    let manifest = fetch(&plan, progress).map_err(|err| LifecycleError::Refresh(Box::new(err)))?;
    tracing::info!(
        "refreshed {}: {} tickers, {} rows, {} to {}",
        plan.out.display(),
        manifest.tickers.len(),
        manifest.rows,
        manifest.start,
        manifest.end
    );
    Ok(manifest)
}

/// Warns about the cached closes that `fresh` replaces with other values: an update that
/// rewrites history (a source's correction, or a different file) should not pass unseen.
fn warn_revised(cached: &PriceTable, fresh: &PriceTable, origin: &str) {
    let mut revised = 0;
    let mut first = None;
    for (ticker, newer) in fresh.series() {
        let older = cached.rows_of(ticker);
        let (dates, closes) = (older.dates(), older.closes());
        for (date, &close) in newer.dates().iter().zip(newer.closes()) {
            let Ok(at) = dates.binary_search(date) else {
                continue;
            };
            // Bit for bit: the cache holds what the source sent, so any change is a revision.
            if closes[at].to_bits() != close.to_bits() {
                revised += 1;
                first.get_or_insert((ticker, *date, closes[at], close));
            }
        }
    }
    if let Some((ticker, date, was, now)) = first {
        tracing::warn!(
            "update: {origin} revises {revised} cached close(s), the cache takes the new ones \
             (first: {ticker} {date}: {was} -> {now})"
        );
    }
}

/// Whether `wanted` keeps every row of `table` in its order (no row is then left out).
fn keeps_everything(table: &PriceTable, wanted: &UniverseWindow) -> bool {
    let same_universe = wanted.tickers.is_empty() || wanted.tickers == table.tickers();
    same_universe
        && table.rows_per_ticker().iter().all(|(_, rows)| *rows > 0)
        && table
            .date_range()
            .is_some_and(|(first, last)| wanted.start <= first && last <= wanted.end)
}

/// Warns about the rows of the kept tickers that a bound of the window taken from the settings
/// left out: a default `data.end` silently cutting a longer file would look like missing data
/// later.
fn warn_left_out(
    loaded: &PriceTable,
    kept: &PriceTable,
    plan: &FetchPlan,
    (start, end): (NaiveDate, NaiveDate),
    origin: &str,
) {
    // A ticker's rows are sorted by date: the ones outside the window are at its two ends.
    let (mut before, mut after) = (0, 0);
    for ticker in kept.tickers() {
        let dates = loaded.rows_of(ticker).dates();
        before += dates.partition_point(|date| *date < start);
        after += dates.len() - dates.partition_point(|date| *date <= end);
    }
    let [start_default, end_default] = plan.warn_left_out;
    if start_default && before > 0 {
        tracing::warn!(
            "{origin}: {before} rows before {start} left out by data.start (--start to keep them)"
        );
    }
    if end_default && after > 0 {
        tracing::warn!(
            "{origin}: {after} rows after {end} left out by data.end (--end to keep them)"
        );
    }
}

fn load_cache(out: &Path) -> Result<Option<PriceTable>> {
    if !out.exists() {
        tracing::info!(
            "update: no cache at {} yet, fetching the whole window",
            out.display()
        );
        return Ok(None);
    }
    let table = read_parquet(out).map_err(|source| LifecycleError::Prices {
        path: out.into(),
        source: Box::new(source),
    })?;
    tracing::info!(
        "update: {} rows of {} tickers cached in {}",
        table.len(),
        table.tickers().len(),
        out.display()
    );
    Ok(Some(table))
}

fn fetch_api(
    plan: &FetchPlan,
    tickers: &[String],
    (start, end): (NaiveDate, NaiveDate),
    cached: Option<&PriceTable>,
    progress: Arc<dyn Progress>,
) -> Result<(PriceTable, String)> {
    // An update's tickers include the cache's: none only in a fetch that named none.
    if tickers.is_empty() {
        return Err(LifecycleError::NeedTickers);
    }
    let client_config = ClientConfig {
        requests_per_minute: plan.requests_per_minute,
        concurrency: plan.concurrency,
        ..ClientConfig::from_env()?
    };
    let origin = plan.origin(Some(&client_config.base_url));
    let client =
        FinancialDatasetsClient::new(client_config).map_err(|err| plan.setting_refused(err))?;
    let requests = plan_requests(tickers, start, end, cached);
    tracing::info!(
        "requesting {} of {} tickers from {origin} ({} skipped: cache is up to date)",
        requests.len(),
        tickers.len(),
        tickers.len() - requests.len()
    );
    progress.start("fetch", requests.len() as u64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(LifecycleError::Runtime)?;
    let done = progress.clone();
    let fetched = runtime.block_on(client.fetch_many(&requests, move |ticker| {
        done.advance(1, Some(ticker));
    }));
    progress.finish();
    let rows = fetched?.into_iter().flat_map(|(_, rows)| rows);
    Ok((PriceTable::from_rows(tickers.to_vec(), rows), origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_crates_refusal_of_a_setting_names_its_key() {
        let plan = FetchPlan {
            source: Source::Csv,
            concurrency: 0,
            ..FetchPlan::new(&DataSettings::default())
        };
        let err = fetch(&plan, Arc::new(crate::Silent)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid data.path: the csv source needs an input file (--path or data.path)"
        );
        // The API client's limits, checked before any request.
        let refused = DataError::InvalidSetting {
            name: "concurrency",
            reason: "must be > 0".into(),
        };
        assert_eq!(
            plan.setting_refused(refused).to_string(),
            "invalid data.concurrency = 0: must be > 0"
        );
        let other = DataError::InvalidSetting {
            name: "base_url",
            reason: "must be an absolute http(s) URL".into(),
        };
        assert!(matches!(
            plan.setting_refused(other),
            LifecycleError::Data(DataError::InvalidSetting {
                name: "base_url",
                ..
            })
        ));
    }
}
