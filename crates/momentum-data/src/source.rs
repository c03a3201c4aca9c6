//! Provider selection and the `--update` request plan.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use chrono::{Duration, NaiveDate};

use crate::csvfile::{load_sample, read_csv};
use crate::error::{DataError, Result};
#[cfg(feature = "parquet")]
use crate::store::read_parquet;
use crate::table::PriceTable;

/// Where prices come from (`data.source` in `params.yaml`, `--source` on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Source {
    /// The embedded 20-stock S&P 500 sample (offline, the default).
    #[default]
    Sample,
    /// A wide or long CSV file, gzip or plain ([`read_csv`]).
    Csv,
    /// A long-layout Parquet file ([`read_parquet`]).
    Parquet,
    /// The Financial Datasets HTTP API ([`FinancialDatasetsClient`](crate::FinancialDatasetsClient)).
    FinancialDatasets,
}

impl Source {
    /// Every source, in documentation order.
    pub const ALL: [Source; 4] = [
        Source::Sample,
        Source::Csv,
        Source::Parquet,
        Source::FinancialDatasets,
    ];

    /// The name used in `params.yaml`, flags and manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Sample => "sample",
            Source::Csv => "csv",
            Source::Parquet => "parquet",
            Source::FinancialDatasets => "financialdatasets",
        }
    }

    /// Whether loading reads a local file or the binary itself (everything but the API).
    pub fn is_local(self) -> bool {
        !matches!(self, Source::FinancialDatasets)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        Source::ALL
            .into_iter()
            .find(|source| {
                source.as_str() == lower
                    || (lower == "financial_datasets" && *source == Source::FinancialDatasets)
            })
            .ok_or_else(|| DataError::UnknownSource(s.into()))
    }
}

/// One ticker's request to the price API: `ticker` from `start` to `end`, both inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// Upper-case ticker.
    pub ticker: String,
    /// First date (inclusive).
    pub start: NaiveDate,
    /// Last date (inclusive).
    pub end: NaiveDate,
}

/// Loads a local source: the sample (ignores `path`), or the CSV/Parquet file at `path` (Parquet
/// with the `parquet` feature only).
/// The API is async and goes through [`FinancialDatasetsClient`](crate::FinancialDatasetsClient).
///
/// # Example
/// ```
/// use std::path::Path;
/// use momentum_data::{Source, load_local};
/// let sample = load_local("sample".parse()?, Path::new(""))?;
/// assert_eq!(sample.tickers().len(), 20);
/// // A file source needs a path.
/// assert!(load_local(Source::Csv, Path::new("")).is_err());
/// # Ok::<(), momentum_data::DataError>(())
/// ```
pub fn load_local(source: Source, path: &Path) -> Result<PriceTable> {
    let need_path = || {
        if path.as_os_str().is_empty() {
            Err(DataError::InvalidSetting {
                name: "path",
                reason: format!("the {source} source needs an input file (--path or data.path)"),
            })
        } else {
            Ok(())
        }
    };
    match source {
        Source::Sample => load_sample(),
        Source::Csv => need_path().and_then(|()| read_csv(path)),
        #[cfg(feature = "parquet")]
        Source::Parquet => need_path().and_then(|()| read_parquet(path)),
        #[cfg(not(feature = "parquet"))]
        Source::Parquet => Err(DataError::InvalidSetting {
            name: "source",
            reason: "parquet input needs momentum-data's `parquet` feature".into(),
        }),
        Source::FinancialDatasets => Err(DataError::InvalidSetting {
            name: "source",
            reason: "financialdatasets is fetched over HTTP, not loaded from a file".into(),
        }),
    }
}

/// The API requests for `tickers` over `[start, end]`, shortened by what `cached` already has:
/// a ticker whose cache ends on day `d` is requested from `d + 1` only, and not at all when
/// `d >= end`. Without a cache every ticker gets the whole window.
///
/// The API rejects `start_date == end_date` with a 400, so a one-day request is widened to
/// start one day earlier (the repeated day merges away).
///
/// # Example
/// ```
/// use chrono::NaiveDate;
/// use momentum_data::{PriceRow, PriceTable, plan_requests};
/// let d = |day| NaiveDate::from_ymd_opt(2024, 1, day).unwrap();
/// let cached = PriceTable::from_rows(
///     vec!["AAA".into()],
///     vec![PriceRow::close_only("AAA", d(5), 10.0)],
/// );
/// let tickers = vec!["AAA".to_string(), "BBB".to_string()];
/// let plan = plan_requests(&tickers, d(1), d(10), Some(&cached));
/// // AAA resumes after its last cached day; BBB, not cached, gets the whole window.
/// assert_eq!((plan[0].ticker.as_str(), plan[0].start, plan[0].end), ("AAA", d(6), d(10)));
/// assert_eq!((plan[1].ticker.as_str(), plan[1].start, plan[1].end), ("BBB", d(1), d(10)));
/// ```
pub fn plan_requests(
    tickers: &[String],
    start: NaiveDate,
    end: NaiveDate,
    cached: Option<&PriceTable>,
) -> Vec<FetchRequest> {
    tickers
        .iter()
        .filter_map(|ticker| {
            let from = match cached.and_then(|table| table.last_date(ticker)) {
                Some(last) if last >= end => return None,
                Some(last) => (last + Duration::days(1)).max(start),
                None => start,
            };
            let from = if from == end {
                from - Duration::days(1)
            } else {
                from
            };
            Some(FetchRequest {
                ticker: ticker.clone(),
                start: from,
                end,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::PriceRow;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn names_round_trip_and_unknown_names_fail() {
        for source in Source::ALL {
            assert_eq!(source.as_str().parse::<Source>().unwrap(), source);
        }
        assert_eq!("CSV".parse::<Source>().unwrap(), Source::Csv);
        assert_eq!(
            "yahoo".parse::<Source>().unwrap_err().to_string(),
            "unknown data source \"yahoo\" (expected sample, csv, parquet or financialdatasets)"
        );
    }

    #[test]
    fn update_plan_asks_only_for_days_after_the_cache() {
        let row = |t: &str, date: &str| PriceRow::close_only(t, d(date), 1.0);
        let cached = PriceTable::from_rows(
            vec!["AAA".into(), "BBB".into(), "CCC".into()],
            vec![
                row("AAA", "2024-03-28"),
                row("BBB", "2024-03-31"),
                row("CCC", "2024-03-30"),
            ],
        );
        let tickers: Vec<String> = ["AAA", "BBB", "CCC", "DDD"].map(String::from).to_vec();
        let plan = plan_requests(&tickers, d("2024-01-01"), d("2024-03-31"), Some(&cached));
        let req = |t: &str, s: &str| FetchRequest {
            ticker: t.into(),
            start: d(s),
            end: d("2024-03-31"),
        };
        assert_eq!(
            plan,
            vec![
                req("AAA", "2024-03-29"),
                req("CCC", "2024-03-30"),
                req("DDD", "2024-01-01")
            ]
        );
        assert_eq!(
            plan_requests(&tickers[..1], d("2024-01-01"), d("2024-03-31"), None),
            vec![req("AAA", "2024-01-01")]
        );
    }
}
