//! The daily batch: scan and monitor, the production model's picks for one day and its live
//! record against the backtest's promise (`momentum serve` answers the same questions over
//! HTTP: the `momentum-serve` crate).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use momentum_engine::{Arm, ExperimentSpec, PricePanel, spreadsheet_text};
use momentum_scanner::Model;
use momentum_scanner::history::{append_history, read_history};
use momentum_scanner::monitor::{MonitorReport, MonitorSettings, monitor};
use momentum_scanner::scan::{Picks, check_universe, scan};

use crate::backtest::{StreamedCloses, stream_closes};
use crate::error::{LifecycleError, Result};
use crate::files::{json_text, write_json};
use crate::settings::{SettingsError, setting_check};

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
    /// The params file whose blocks the models were read from, `None` for models from the
    /// registry: a model ticker the prices lack is named where the model lists it.
    pub models_from: Option<PathBuf>,
}

impl ScanRequest {
    /// The CSV written beside the picks JSON.
    ///
    /// ```
    /// use std::path::Path;
    /// use momentum_lifecycle::ScanRequest;
    ///
    /// let today = chrono::NaiveDate::from_ymd_opt(2024, 1, 5).unwrap();
    /// let request = ScanRequest {
    ///     prices: "data/raw/prices.parquet".into(),
    ///     as_of: None,
    ///     today,
    ///     max_staleness_days: 7,
    ///     out: "reports/picks.json".into(),
    ///     history: "data/predictions/picks.parquet".into(),
    ///     models_from: Some("params.yaml".into()),
    /// };
    /// assert_eq!(request.csv(), Path::new("reports/picks.csv"));
    /// ```
    pub fn csv(&self) -> PathBuf {
        self.out.with_extension("csv")
    }
}

/// Scores the champion's universe on one day and, when there is one, the challenger's in
/// shadow, then writes: the history first with both scans (it is the output that can refuse, a
/// corrupt file; a rerun for the same day replaces its entries), then the champion's picks as
/// the JSON and the CSV, each atomically. The challenger's picks go to the history only, marked
/// with its alias: they are never the production picks. Nothing is written unless both scans
/// succeed.
///
/// # Errors
/// A price file that cannot be read, a model ticker missing from it, stale prices
/// ([`LifecycleError::Stale`]; the embedded sample is historical and exempt), an as-of date
/// that is not a trading day, too little history for the lookback, a write failure.
///
/// # Examples
///
/// ```
/// use momentum_data::{PriceRow, PriceTable, write_parquet};
/// use momentum_lifecycle::{LifecycleError, ScanRequest, run_scan};
/// use momentum_scanner::history::read_history;
/// use momentum_scanner::model::ProductionBlock;
///
/// let d = |day| chrono::NaiveDate::from_ymd_opt(2024, 1, day).unwrap();
/// let mut rows = Vec::new();
/// for (ticker, closes) in [("UP", [10.0, 11.0, 12.0]), ("DOWN", [20.0, 19.0, 18.0]), ("XYZ", [5.0, 9.0, 20.0])] {
///     for (day, close) in (2..).zip(closes) {
///         rows.push(PriceRow::close_only(ticker, d(day), close));
///     }
/// }
/// let table = PriceTable::from_rows(vec!["UP".into(), "DOWN".into(), "XYZ".into()], rows);
/// let dir = tempfile::tempdir()?;
/// let prices = dir.path().join("prices.parquet");
/// write_parquet(&prices, &table)?;
///
/// // The production model ranks UP and DOWN only: XYZ is not in its universe.
/// let model = ProductionBlock {
///     version: Some("1".into()),
///     lookback: Some(2),
///     skip: Some(0),
///     holding: Some(5),
///     top_k: Some(1),
///     tickers: vec!["UP".into(), "DOWN".into()],
///     cost_bps: Some(10.0),
///     promoted_at: Some("2026-12-01T00:00:00Z".into()),
///     ..ProductionBlock::default()
/// }
/// .model()?
/// .expect("a promoted model");
/// let request = ScanRequest {
///     prices,
///     as_of: None,
///     today: d(5),
///     max_staleness_days: 7,
///     out: dir.path().join("picks.json"),
///     history: dir.path().join("history.parquet"),
///     models_from: Some("params.yaml".into()),
/// };
/// let (picks, shadow) = run_scan(&model, None, &request)?;
/// assert!(shadow.is_none());
/// // The last day, 2024-01-04: UP 12 / 10, DOWN 18 / 20.
/// assert_eq!(picks.as_of, d(4));
/// assert_eq!(picks.selected().collect::<Vec<_>>(), ["UP"]);
/// assert_eq!(picks.model_version, "1");
/// assert_eq!(read_history(&request.history)?, [picks]);
/// let csv = std::fs::read_to_string(request.csv())?;
/// assert!(csv.starts_with("as_of,rank,ticker,score,selected,target_weight,last_close\n2024-01-04,1,UP,"));
///
/// // A month later the same prices are stale.
/// let late = ScanRequest { today: d(31), ..request.clone() };
/// assert!(matches!(run_scan(&model, None, &late), Err(LifecycleError::Stale { age: 27, .. })));
/// // A model ticker the prices lack is named where the model lists it.
/// let other = momentum_scanner::Model { universe: vec!["UP".into(), "ZZZ".into()], ..model };
/// let err = run_scan(&other, None, &request).unwrap_err();
/// assert_eq!(err.to_string(), "production.tickers in params.yaml");
/// let cause = std::error::Error::source(&err).unwrap().to_string();
/// assert!(cause.starts_with("the model's tickers ZZZ are missing from "), "{cause}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_scan(
    champion: &Model,
    challenger: Option<&Model>,
    request: &ScanRequest,
) -> Result<(Picks, Option<Picks>)> {
    if request.csv() == request.out {
        return Err(SettingsError::invalid(
            "scan.picks",
            "must not end in .csv: the CSV is written beside the JSON",
        )
        .into());
    }
    let picks = scan_day(champion, Arm::Champion, request)?;
    let shadow = challenger
        .map(|model| {
            scan_day(model, Arm::Challenger, request).map(|picks| Picks {
                alias: Arm::Challenger,
                ..picks
            })
        })
        .transpose()?;
    let scans: Vec<Picks> = std::iter::once(picks.clone())
        .chain(shadow.clone())
        .collect();
    // The picks staged first and put in place after the history took the scan: a picks file
    // that cannot be written fails the scan before the history changes.
    let json = json_text(&picks).map_err(|err| LifecycleError::write(&request.out, err))?;
    let csv = picks_csv(&picks);
    momentum_files::write_together(&[request.out.clone(), request.csv()], |staged| {
        for (path, text) in staged.iter().zip([&json, &csv]) {
            std::fs::write(path, text).map_err(|err| LifecycleError::write(path, err))?;
        }
        append_history(&request.history, &scans).map_err(|source| LifecycleError::History {
            path: request.history.clone(),
            source: Box::new(source),
        })
    })?;
    Ok((picks, shadow))
}

/// The picks of `model`, the model of `arm`, on the request's day, on its universe's prices.
fn scan_day(model: &Model, arm: Arm, request: &ScanRequest) -> Result<Picks> {
    // In the model's order too: the ranks and the tie rule are then the backtest's.
    let closes = read_price_cache(&request.prices, |_| model.universe.clone())?;
    let origin = request.prices.display().to_string();
    check_universe(&closes.universe, &model.universe, &origin).map_err(|source| {
        LifecycleError::ModelTickers {
            arm,
            params: request.models_from.clone(),
            version: model.version().unwrap_or_default().to_owned(),
            source: Box::new(source),
        }
    })?;
    let panel = universe_panel(closes, &origin)?;
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
    // A day after the one the scan is told is today is a day from its future.
    if dates[day] > request.today {
        return Err(LifecycleError::ScanAfterToday {
            day: dates[day],
            today: request.today,
        });
    }
    Ok(scan(&panel, day, model)?)
}

/// Reads the closes of the tickers `keep` picks from the price cache one ticker at a time (as
/// [`keep_universe`](momentum_scanner::scan::keep_universe) would keep them, without holding
/// the file's row table), with the command that writes the file in the error.
pub(crate) fn read_price_cache(
    path: &Path,
    keep: impl FnOnce(&[String]) -> Vec<String>,
) -> Result<StreamedCloses> {
    stream_closes(path, keep, false).map_err(|source| LifecycleError::NoPrices {
        path: path.into(),
        source: Box::new(source),
    })
}

/// The panel of the kept tickers, every one of which the file has; one without a price is the
/// error [`keep_universe`](momentum_scanner::scan::keep_universe) gives.
fn universe_panel(closes: StreamedCloses, origin: &str) -> Result<PricePanel> {
    if !closes.without_rows.is_empty() {
        let missing = momentum_data::DataError::MissingTickers {
            origin: origin.into(),
            tickers: closes.without_rows,
            start: NaiveDate::MIN,
            end: NaiveDate::MAX,
        };
        return Err(momentum_scanner::ScanError::from(missing).into());
    }
    Ok(closes.panel()?)
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

/// `reports/picks.csv`: one line per ticker, ranked first, through the `csv` writer (a field is
/// quoted where it needs to be), tickers made [`spreadsheet_text`].
fn picks_csv(picks: &Picks) -> String {
    let optional = |value: Option<f64>| value.map(|v| v.to_string()).unwrap_or_default();
    let mut csv = csv::Writer::from_writer(Vec::new());
    let header = [
        "as_of",
        "rank",
        "ticker",
        "score",
        "selected",
        "target_weight",
        "last_close",
    ];
    // Writing into a Vec cannot fail.
    let write = |csv: &mut csv::Writer<Vec<u8>>, record: &[&str]| {
        csv.write_record(record).expect("writing to memory");
    };
    write(&mut csv, &header);
    for pick in &picks.picks {
        write(
            &mut csv,
            &[
                &picks.as_of.to_string(),
                &pick.rank.map(|r| r.to_string()).unwrap_or_default(),
                &spreadsheet_text(&pick.ticker),
                &optional(pick.score),
                &pick.selected.to_string(),
                &pick.target_weight.to_string(),
                &optional(pick.last_close),
            ],
        );
    }
    let bytes = csv.into_inner().expect("writing to memory");
    String::from_utf8(bytes).expect("the cells are UTF-8")
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
    /// The backtest's train fraction, `start` and `end` (`backtest.*`): its train window is
    /// the drift checks' reference, cut from the evaluation window as the backtest cuts it
    /// ([`ExperimentSpec::evaluation_window`]; `None` for the panel's first or last day).
    pub train_fraction: f64,
    /// The evaluation window's first day (`backtest.start`).
    pub start: Option<NaiveDate>,
    /// The evaluation window's last day (`backtest.end`).
    pub end: Option<NaiveDate>,
}

impl MonitorRequest {
    /// Checks every setting before any file is read.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the key of the first setting out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_lifecycle::MonitorRequest;
    /// use momentum_scanner::monitor::MonitorSettings;
    ///
    /// let request = MonitorRequest {
    ///     prices: "data/raw/prices.parquet".into(),
    ///     history: "data/predictions/picks.parquet".into(),
    ///     out: "reports/monitor.json".into(),
    ///     settings: MonitorSettings::default(),
    ///     train_fraction: 0.7,
    ///     start: None,
    ///     end: None,
    /// };
    /// assert!(request.validate().is_ok());
    /// let no_split = MonitorRequest { train_fraction: 1.0, ..request.clone() };
    /// let err = no_split.validate().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid backtest.train_fraction: must be in (0, 1)");
    /// let too_few = MonitorRequest {
    ///     settings: MonitorSettings { recent_days: 1, ..MonitorSettings::default() },
    ///     ..request
    /// };
    /// let err = too_few.validate().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid monitor.recent_days: must be at least 2");
    /// ```
    pub fn validate(&self) -> Result<()> {
        self.settings
            .validate_with(self.train_fraction)
            .map_err(setting_check)
    }
}

/// The live record of the picks history against the backtest's promise and the drift checks,
/// written to `request.out` (atomically). The drift checks compare the scores of the latest
/// scan's tickers only (the model's universe), as the scan ranks only them.
///
/// # Errors
/// As [`MonitorRequest::validate`], then the files' and the statistics' errors.
///
/// # Examples
///
/// Two scans of a model that always holds `UP` (which climbs by 1 a day from 10; `DOWN` stays
/// at 20), each held for two days:
///
/// ```
/// use momentum_data::{PriceRow, PriceTable, write_parquet};
/// use momentum_lifecycle::{MonitorRequest, ScanRequest, run_monitor, run_scan};
/// use momentum_scanner::model::ProductionBlock;
/// use momentum_scanner::monitor::MonitorSettings;
///
/// let d = |day| chrono::NaiveDate::from_ymd_opt(2024, 1, day).unwrap();
/// let mut rows = Vec::new();
/// for t in 0..10 {
///     rows.push(PriceRow::close_only("UP", d(t + 1), 10.0 + f64::from(t)));
///     rows.push(PriceRow::close_only("DOWN", d(t + 1), 20.0));
/// }
/// let dir = tempfile::tempdir()?;
/// let prices = dir.path().join("prices.parquet");
/// write_parquet(&prices, &PriceTable::from_rows(vec!["UP".into(), "DOWN".into()], rows))?;
/// let model = ProductionBlock {
///     version: Some("1".into()),
///     lookback: Some(2),
///     skip: Some(0),
///     holding: Some(2),
///     top_k: Some(1),
///     tickers: vec!["UP".into(), "DOWN".into()],
///     cost_bps: Some(10.0),
///     promoted_at: Some("2026-12-01T00:00:00Z".into()),
///     ..ProductionBlock::default()
/// }
/// .model()?
/// .expect("a promoted model");
/// let history = dir.path().join("history.parquet");
/// for as_of in [d(5), d(7)] {
///     let scan = ScanRequest {
///         prices: prices.clone(),
///         as_of: Some(as_of),
///         today: d(10),
///         max_staleness_days: 7,
///         out: dir.path().join("picks.json"),
///         history: history.clone(),
///         models_from: None,
///     };
///     run_scan(&model, None, &scan)?;
/// }
/// let request = MonitorRequest {
///     prices,
///     history,
///     out: dir.path().join("monitor.json"),
///     settings: MonitorSettings::default(),
///     train_fraction: 0.5,
///     start: None,
///     end: None,
/// };
/// let report = run_monitor(&request)?;
/// assert_eq!(report.model_version, "1");
/// assert_eq!(report.as_of, d(10));
/// // Held 14 -> 16 from January 5, then 16 -> 18 from January 7; buy and hold has half in DOWN.
/// let live: Vec<_> = report.live.iter().map(|p| (p.as_of, p.exit, p.tickers.clone())).collect();
/// assert_eq!(live, [(d(5), d(7), vec!["UP".to_string()]), (d(7), d(9), vec!["UP".to_string()])]);
/// assert!((report.live[0].basket_return - 2.0 / 14.0).abs() < 1e-12);
/// assert!((report.live[0].baseline_return - 1.0 / 14.0).abs() < 1e-12);
/// assert!((report.live[1].basket_return - 2.0 / 16.0).abs() < 1e-12);
/// assert!(request.out.exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_monitor(request: &MonitorRequest) -> Result<MonitorReport> {
    request.validate()?;
    // The history is read first: it says which tickers' prices to keep. The monitor watches
    // the production model: the challenger's shadow scans are `momentum ab`'s.
    let mut history = read_history(&request.history)?;
    history.retain(|scan| scan.alias == Arm::Champion);
    let closes = read_price_cache(&request.prices, |tickers| match history.last() {
        Some(latest) => tickers
            .iter()
            .filter(|t| latest.picks.iter().any(|p| &p.ticker == *t))
            .cloned()
            .collect(),
        None => tickers.to_vec(),
    })?;
    let panel = if history.is_empty() {
        closes.panel()?
    } else if closes.kept.is_empty() {
        return Err(LifecycleError::NoScannedTicker {
            path: request.prices.clone(),
        });
    } else {
        universe_panel(closes, &request.prices.display().to_string())?
    };
    let window = ExperimentSpec {
        start: request.start,
        end: request.end,
        ..ExperimentSpec::default()
    };
    let evaluated = window.evaluation_window(panel.dates())?;
    let reference = (request.train_fraction, evaluated);
    let report = monitor(&panel, &history, &request.settings, reference).map_err(|source| {
        LifecycleError::Monitor {
            path: request.history.clone(),
            source: Box::new(source),
        }
    })?;
    write_json(&request.out, &report)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use momentum_engine::StrategyParams;
    use momentum_scanner::scan::Pick;

    use super::*;

    #[test]
    fn picks_csv_quotes_what_needs_it_and_neutralises_formulas() {
        let pick = |ticker: &str, rank| Pick {
            rank: Some(rank),
            ticker: ticker.into(),
            score: Some(-0.25),
            selected: rank == 1,
            target_weight: if rank == 1 { 1.0 } else { 0.0 },
            last_close: None,
        };
        let picks = Picks {
            alias: Arm::Champion,
            model_version: "1".into(),
            params: StrategyParams {
                lookback: 2,
                skip: 0,
                holding: 1,
                top_k: 1,
                cost_bps: 0.0,
            },
            as_of: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
            picks: vec![
                pick("=cmd|' /C calc'!A0", 1),
                pick("A,\"B\"\nC", 2),
                pick("MSFT", 3),
            ],
        };
        let text = picks_csv(&picks);
        assert!(
            text.ends_with("\n2024-01-02,3,MSFT,-0.25,false,0,\n"),
            "{text}"
        );
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let tickers: Vec<String> = reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                assert_eq!(r.len(), 7);
                r[2].to_owned()
            })
            .collect();
        assert_eq!(tickers, ["'=cmd|' /C calc'!A0", "A,\"B\"\nC", "MSFT"]);
    }

    proptest::proptest! {
        /// Any printable-or-line-break tickers and any values: picks.csv reads back as one row
        /// of seven fields per pick, each value exactly (Rust prints the shortest decimal that
        /// parses back to the same f64) and each ticker in its spreadsheet-safe form.
        #[test]
        fn picks_csv_reads_back_whatever_the_tickers_and_values(
            rows in proptest::collection::vec(
                (
                    "[ -~\n\r]{1,10}",
                    proptest::option::of(proptest::num::f64::NORMAL | proptest::num::f64::ZERO),
                    proptest::option::of(1e-6f64..1e9),
                    0.0f64..=1.0,
                ),
                1..6,
            ),
        ) {
            let picks = Picks {
                alias: Arm::Champion,
                model_version: "7".into(),
                params: StrategyParams { lookback: 2, skip: 0, holding: 1, top_k: 1, cost_bps: 0.0 },
                as_of: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
                picks: rows
                    .iter()
                    .enumerate()
                    .map(|(i, (ticker, score, close, weight))| Pick {
                        rank: score.map(|_| i + 1),
                        ticker: ticker.clone(),
                        score: *score,
                        selected: i == 0,
                        target_weight: *weight,
                        last_close: *close,
                    })
                    .collect(),
            };
            let text = picks_csv(&picks);
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
            proptest::prop_assert_eq!(records.len(), picks.picks.len());
            let number = |field: &str| (!field.is_empty()).then(|| field.parse::<f64>().unwrap());
            for (record, pick) in records.iter().zip(&picks.picks) {
                proptest::prop_assert_eq!(record.len(), 7);
                proptest::prop_assert_eq!(&record[0], "2024-01-02");
                proptest::prop_assert_eq!(record[1].parse().ok(), pick.rank);
                let ticker = spreadsheet_text(&pick.ticker);
                proptest::prop_assert_eq!(&record[2], ticker.as_ref());
                proptest::prop_assert_eq!(number(&record[3]), pick.score);
                proptest::prop_assert_eq!(&record[4], pick.selected.to_string());
                proptest::prop_assert_eq!(number(&record[5]), Some(pick.target_weight));
                proptest::prop_assert_eq!(number(&record[6]), pick.last_close);
            }
        }
    }
}
