//! `momentum ab`: the champion against the challenger ([`momentum_scanner::ab`]), from their
//! live picks, from a backtest of both on the same prices, or from a file of daily returns;
//! written to `reports/ab.json` with a chart `reports/ab.png`.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use momentum_engine::{Arm, EngineError, PricePanel, Window};
use momentum_scanner::ab::{
    AbReport, AbSettings, Book, Paired, backtest_book, live_book, mean_overlap, scanned_overlap,
};
use momentum_scanner::history::read_history;
use momentum_scanner::{Model, ScanError};

use crate::chart::write_ab_chart;
use crate::daily::read_price_cache;
use crate::error::{LifecycleError, Result};
use crate::files::write_json;
use crate::settings::setting_check;

/// Where the two books' returns come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbSource {
    /// The picks history: both models' scans and the realised prices.
    Live,
    /// Both models backtested on the same prices over the days from `start` to `end` (each
    /// `None`: the prices' first or last day), the history before `start` feeding the scores.
    Backtest {
        /// First day.
        start: Option<NaiveDate>,
        /// Last day.
        end: Option<NaiveDate>,
    },
    /// A CSV `date,champion,challenger` of daily simple returns, for any two strategies.
    Returns(PathBuf),
}

impl AbSource {
    /// Its name in `ab.json`.
    pub fn name(&self) -> &'static str {
        match self {
            AbSource::Live => "live",
            AbSource::Backtest { .. } => "backtest",
            AbSource::Returns(_) => "returns",
        }
    }
}

/// What one comparison reads and writes.
#[derive(Debug, Clone, PartialEq)]
pub struct AbRequest {
    /// Where the returns come from.
    pub source: AbSource,
    /// The price cache (Parquet): live and backtest sources.
    pub prices: PathBuf,
    /// The picks history: the live source.
    pub history: PathBuf,
    /// The decision's thresholds and the comparison's settings.
    pub settings: AbSettings,
    /// The report (`reports/ab.json`); the chart goes beside it as `.png`.
    pub out: PathBuf,
}

impl AbRequest {
    /// The chart written beside the report.
    pub fn chart(&self) -> PathBuf {
        self.out.with_extension("png")
    }
}

/// Compares the two books of `request.source` and writes the report and the chart (each
/// atomically; the chart only when there are at least two common days). `models` are the
/// champion and the challenger that hold the aliases now, needed by the live and backtest
/// sources (the live books are their scans, net of their costs), not by a returns file.
///
/// # Errors
/// Settings out of range; the source's errors (no challenger scan in the history, a returns
/// file with a bad row or column, a window too short for a lookback); a comparison that cannot
/// be computed on enough days (a constant series); a write failure.
pub fn run_ab(models: Option<(&Model, &Model)>, request: &AbRequest) -> Result<AbReport> {
    request.settings.validate().map_err(setting_check)?;
    let (champion, challenger, overlap) = match &request.source {
        AbSource::Live => {
            let (champion, challenger) = models.ok_or(LifecycleError::NoModelsToCompare)?;
            let history = read_history(&request.history)?;
            let closes = read_price_cache(&request.prices, |tickers| {
                tickers
                    .iter()
                    .filter(|t| {
                        history
                            .iter()
                            .any(|scan| scan.picks.iter().any(|p| &p.ticker == *t))
                    })
                    .cloned()
                    .collect()
            })?;
            let panel = closes.panel()?;
            let books = (
                live_book(&panel, &history, (Arm::Champion, champion))?,
                live_book(&panel, &history, (Arm::Challenger, challenger))?,
            );
            // The overlap of the two versions compared, not of earlier ones.
            let compared: Vec<_> = history
                .into_iter()
                .filter(|scan| {
                    let book = if scan.alias == Arm::Champion {
                        &books.0
                    } else {
                        &books.1
                    };
                    scan.model_version == book.version
                })
                .collect();
            let overlap = mean_overlap(&compared);
            (books.0, books.1, overlap)
        }
        AbSource::Backtest { start, end } => {
            let (champion, challenger) = models.ok_or(LifecycleError::NoModelsToCompare)?;
            // Each model on its own universe, in its order, as its backtest and scans saw it.
            let panel_of = |model: &Model| -> Result<PricePanel> {
                let closes = read_price_cache(&request.prices, |_| model.universe.clone())?;
                Ok(closes.panel()?)
            };
            let book = |panel: &PricePanel, (arm, model): (Arm, &Model)| -> Result<Book> {
                let window = window_of(panel.dates(), (*start, *end), &request.prices)?;
                backtest_book(panel, model, window).map_err(|err| match err {
                    ScanError::Engine(EngineError::WindowTooShort { lookback, .. }) => {
                        LifecycleError::AbWindowTooShort {
                            arm,
                            lookback,
                            start: panel.dates()[window.start],
                            end: panel.dates()[window.end],
                        }
                    }
                    other => other.into(),
                })
            };
            let panels = (panel_of(champion)?, panel_of(challenger)?);
            let books = (
                book(&panels.0, (Arm::Champion, champion))?,
                book(&panels.1, (Arm::Challenger, challenger))?,
            );
            let days = Paired::of(&books.0, &books.1).dates;
            let overlap = scanned_overlap(&days, (&panels.0, champion), (&panels.1, challenger))?;
            (books.0, books.1, overlap)
        }
        AbSource::Returns(path) => {
            let (champion, challenger) = read_returns(path)?;
            (champion, challenger, None)
        }
    };
    let report = AbReport::of(
        request.source.name(),
        (&champion, &challenger),
        overlap,
        &request.settings,
    )?;
    let paired = Paired::of(&champion, &challenger);
    if paired.dates.len() >= 2 {
        let chart = request.chart();
        write_ab_chart(&chart, &paired).map_err(|err| LifecycleError::write(&chart, err))?;
    }
    write_json(&request.out, &report)?;
    Ok(report)
}

/// The day indices of `dates` from `start` to `end` (the first and last day when `None`).
fn window_of(
    dates: &[NaiveDate],
    (start, end): (Option<NaiveDate>, Option<NaiveDate>),
    prices: &Path,
) -> Result<Window> {
    let from = start.map_or(0, |start| dates.partition_point(|d| *d < start));
    let to = end.map_or(dates.len(), |end| dates.partition_point(|d| *d <= end));
    if from + 1 >= to {
        return Err(LifecycleError::AbWindow {
            path: prices.into(),
            start,
            end,
        });
    }
    Ok(Window {
        start: from,
        end: to - 1,
    })
}

/// Reads a returns file: a header `date,champion,challenger` (in any order, other columns
/// ignored), then one row per day, dates strictly ascending, every return finite and above -1.
fn read_returns(path: &Path) -> Result<(Book, Book)> {
    let bad = |reason: String| LifecycleError::ReturnsFile {
        path: path.into(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|err| bad(err.to_string()))?;
    let header = reader
        .headers()
        .map_err(|err| bad(err.to_string()))?
        .clone();
    let column = |name: &str| match momentum_data::find_column(header.iter(), name) {
        Ok(Some(at)) => Ok(at),
        Ok(None) => Err(bad(format!(
            "missing column {name} (the header is date,champion,challenger)"
        ))),
        Err(_) => Err(bad(format!("column {name} appears twice"))),
    };
    let (date_at, champion_at, challenger_at) =
        (column("date")?, column("champion")?, column("challenger")?);
    let book = || Book {
        version: String::new(),
        params: None,
        dates: Vec::new(),
        returns: Vec::new(),
        turnover: f64::NAN,
    };
    let (mut champion, mut challenger) = (book(), book());
    for (row, record) in reader.records().enumerate() {
        // Line numbers as an editor shows them: the header is line 1.
        let line = row + 2;
        let record = record.map_err(|err| bad(format!("line {line}: {err}")))?;
        let cell = |at: usize, name: &str| {
            record
                .get(at)
                .filter(|text| !text.is_empty())
                .ok_or_else(|| bad(format!("line {line}: no {name}")))
        };
        let text = cell(date_at, "date")?;
        let date: NaiveDate = text
            .parse()
            .map_err(|err| bad(format!("line {line}: date `{text}`: {err}")))?;
        if let Some(&previous) = champion.dates.last()
            && date <= previous
        {
            let what = if date == previous {
                "a duplicate"
            } else {
                "out of order"
            };
            return Err(bad(format!(
                "line {line}: date {date} is {what} (dates must ascend)"
            )));
        }
        for (at, name, book) in [
            (champion_at, "champion", &mut champion),
            (challenger_at, "challenger", &mut challenger),
        ] {
            let text = cell(at, name)?;
            let value: f64 = text
                .parse()
                .map_err(|err| bad(format!("line {line}: {name} `{text}`: {err}")))?;
            if !value.is_finite() || value <= -1.0 {
                return Err(bad(format!(
                    "line {line}: {name} return {value} is not a finite return above -1"
                )));
            }
            book.dates.push(date);
            book.returns.push(value);
        }
    }
    if champion.dates.is_empty() {
        return Err(bad("no rows after the header".into()));
    }
    Ok((champion, challenger))
}
