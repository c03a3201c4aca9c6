//! Scan and monitor: the production model's picks for one day, and its live record against the
//! backtest's promise.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use momentum_data::PriceTable;
use momentum_engine::PricePanel;
use momentum_scanner::Model;
use momentum_scanner::history::{append_history, read_history};
use momentum_scanner::monitor::{MonitorReport, MonitorSettings, monitor};
use momentum_scanner::scan::{Picks, keep_universe, scan};

use crate::error::{LifecycleError, Result};
use crate::promote::write_text;
use crate::settings::SettingsError;

/// What one scan reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRequest {
    /// The price cache (Parquet).
    pub prices: PathBuf,
    /// The day to score; `None`: the last day of the prices.
    pub as_of: Option<NaiveDate>,
    /// The reference date of the staleness check.
    pub today: NaiveDate,
    /// The largest age in calendar days of the newest price.
    pub max_staleness_days: i64,
    /// The picks JSON; the CSV goes beside it.
    pub out: PathBuf,
    /// The picks history (Parquet).
    pub history: PathBuf,
}

impl ScanRequest {
    /// The CSV written beside the picks JSON.
    pub fn csv(&self) -> PathBuf {
        self.out.with_extension("csv")
    }
}

/// Scores the model's universe on one day and writes the picks: the history first (it is the
/// output that can refuse, a corrupt file; a rerun for the same day replaces its entry), then
/// the JSON and the CSV, each atomically.
///
/// # Errors
/// A price file that cannot be read, a model ticker missing from it, stale prices
/// ([`LifecycleError::Stale`]; the embedded sample is historical and exempt), an as-of date
/// that is not a trading day, too little history for the lookback, a write failure.
pub fn run_scan(model: &Model, request: &ScanRequest) -> Result<Picks> {
    let table = read_price_cache(&request.prices)?;
    let origin = request.prices.display().to_string();
    // In the model's order too: the ranks and the tie rule are then the backtest's.
    let table = keep_universe(&table, &model.universe, &origin)?;
    let panel = PricePanel::from_table(&table)?;
    let dates = panel.dates();
    let (Some(&first), Some(&last)) = (dates.first(), dates.last()) else {
        return Err(momentum_scanner::ScanError::NoData.into());
    };
    check_staleness(request, last)?;
    let day = match request.as_of {
        Some(as_of) => dates
            .binary_search(&as_of)
            .map_err(|_| LifecycleError::NotATradingDay {
                as_of,
                path: request.prices.clone(),
                first,
                last,
            })?,
        None => panel.n_days() - 1,
    };
    let picks = scan(&panel, day, model)?;
    append_history(&request.history, &picks).map_err(|source| LifecycleError::History {
        path: request.history.clone(),
        source: Box::new(source),
    })?;
    write_json(&request.out, &picks)?;
    write_text(&request.csv(), &picks_csv(&picks))?;
    Ok(picks)
}

/// Reads the price cache, with the command that writes it in the error.
fn read_price_cache(path: &Path) -> Result<PriceTable> {
    momentum_data::read_parquet(path).map_err(|source| LifecycleError::Prices {
        path: path.into(),
        source: Box::new(source),
    })
}

/// Live data must be fresh; the embedded sample is historical by design and is exempt.
fn check_staleness(request: &ScanRequest, last: NaiveDate) -> Result<()> {
    let manifest_file = momentum_data::manifest_path(&request.prices);
    let manifest = momentum_data::read_manifest(&manifest_file).ok();
    if manifest.as_ref().is_some_and(|m| m.source == "sample") {
        tracing::info!("the embedded sample is historical data; staleness check skipped");
        return Ok(());
    }
    let age = (request.today - last).num_days();
    if age > request.max_staleness_days {
        return Err(LifecycleError::Stale {
            path: request.prices.clone(),
            last,
            age,
            today: request.today,
            max_days: request.max_staleness_days,
        });
    }
    Ok(())
}

/// `reports/picks.csv`: one line per ticker, ranked first.
fn picks_csv(picks: &Picks) -> String {
    let optional = |value: Option<f64>| value.map(|v| v.to_string()).unwrap_or_default();
    let mut text = String::from("as_of,rank,ticker,score,selected,target_weight,last_close\n");
    for pick in &picks.picks {
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},{}",
            picks.as_of,
            pick.rank.map(|r| r.to_string()).unwrap_or_default(),
            pick.ticker,
            optional(pick.score),
            pick.selected,
            pick.target_weight,
            optional(pick.last_close)
        );
    }
    text
}

/// What one monitor run reads and writes.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorRequest {
    /// The price cache (Parquet).
    pub prices: PathBuf,
    /// The picks history.
    pub history: PathBuf,
    /// The report to write.
    pub out: PathBuf,
    /// The thresholds.
    pub settings: MonitorSettings,
    /// The backtest's train fraction: the drift checks' reference window.
    pub train_fraction: f64,
}

impl MonitorRequest {
    /// Checks every setting before any file is read.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the key of the first setting out of range.
    pub fn validate(&self) -> Result<()> {
        let probability = self.train_fraction > 0.0 && self.train_fraction < 1.0;
        let checked = self.settings.validate().and_then(|()| {
            if probability {
                Ok(())
            } else {
                Err(momentum_scanner::ScanError::InvalidSetting {
                    name: "backtest.train_fraction",
                    reason: "must be in (0, 1)",
                })
            }
        });
        checked.map_err(|err| match SettingsError::from_scan(err) {
            Ok(named) => LifecycleError::Settings(named),
            Err(other) => LifecycleError::Scan(other),
        })
    }
}

/// The live record of the picks history against the backtest's promise and the drift checks,
/// written to `request.out` (atomically). The drift checks compare the scores of the latest
/// scan's tickers only (the model's universe), as the scan ranks only them.
///
/// # Errors
/// As [`MonitorRequest::validate`], then the files' and the statistics' errors.
pub fn run_monitor(request: &MonitorRequest) -> Result<MonitorReport> {
    request.validate()?;
    let table = read_price_cache(&request.prices)?;
    let history = read_history(&request.history)?;
    let table = match history.last() {
        Some(latest) => {
            let universe: Vec<String> = table
                .tickers
                .iter()
                .filter(|t| latest.picks.iter().any(|p| &p.ticker == *t))
                .cloned()
                .collect();
            keep_universe(&table, &universe, &request.prices.display().to_string())?
        }
        None => table,
    };
    let panel = PricePanel::from_table(&table)?;
    let report =
        monitor(&panel, &history, &request.settings, request.train_fraction).map_err(|source| {
            LifecycleError::Monitor {
                path: request.history.clone(),
                source: Box::new(source),
            }
        })?;
    write_json(&request.out, &report)?;
    Ok(report)
}

/// Writes `value` as pretty JSON in its fields' order with a final newline, atomically.
fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text =
        serde_json::to_string_pretty(value).map_err(|err| LifecycleError::write(path, err))?;
    text.push('\n');
    write_text(path, &text)
}
