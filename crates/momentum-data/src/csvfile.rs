//! CSV input (wide or long, gzip or plain) and the embedded sample.

use std::io::Read;
use std::path::Path;

use chrono::NaiveDate;

use crate::error::{DataError, Result};
use crate::table::{PriceRow, PriceTable};
use crate::validate::validate;

const SAMPLE_PRICES: &[u8] = include_bytes!("../../../data/sample/sp500_prices.csv.gz");
const SAMPLE_INDEX: &[u8] = include_bytes!("../../../data/sample/sp500_index.csv.gz");

/// The origin name the sample's errors and manifests carry.
pub const SAMPLE_ORIGIN: &str = "sample:sp500_prices.csv.gz";

/// The embedded sample: daily adjusted closes of 20 S&P 500 stocks, 1990-01-02 to 2022-12-28
/// (8313 days each, closes only), in the file's alphabetical column order.
///
/// # Example
/// ```
/// let sample = momentum_data::load_sample()?;
/// assert_eq!(sample.tickers.len(), 20);
/// assert_eq!(sample.rows_of("AAPL").len(), 8313);
/// assert_eq!(sample.date_range(), Some(("1990-01-02".parse()?, "2022-12-28".parse()?)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_sample() -> Result<PriceTable> {
    parse_csv(
        &gunzip_if_needed(SAMPLE_PRICES, SAMPLE_ORIGIN)?,
        SAMPLE_ORIGIN,
    )
}

/// The S&P 500 index level over the sample's days, as a one-ticker table (`SP500`): a benchmark
/// series, not part of the tradable universe.
pub fn load_sample_index() -> Result<PriceTable> {
    let origin = "sample:sp500_index.csv.gz";
    parse_csv(&gunzip_if_needed(SAMPLE_INDEX, origin)?, origin)
}

/// Reads a price CSV, gzip-compressed (detected by its magic bytes, whatever the extension) or
/// plain, and validates it (see [`parse_csv`] for the layouts).
///
/// # Example
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("prices.csv");
/// std::fs::write(&path, "date,MSFT,AAPL\n2024-01-03,370.6,184.25\n2024-01-02,370.87,185.64\n")?;
/// let table = momentum_data::read_csv(&path)?;
/// assert_eq!(table.tickers, ["MSFT", "AAPL"]);
/// assert_eq!(table.rows_of("AAPL")[0].close, 185.64); // sorted by date
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_csv(path: &Path) -> Result<PriceTable> {
    read_csv_with_limits(path, &InputLimits::default())
}

/// How much a price file may hold, decompressed: what keeps a small file that inflates to
/// gigabytes (a gzip bomb) or a line without end from taking the machine's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Bytes of the file's text, after decompression (default 1 GiB).
    pub max_bytes: usize,
    /// Bytes of one line (default 1 MiB).
    pub max_line: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 30,
            max_line: 1 << 20,
        }
    }
}

/// [`read_csv`] with other [`InputLimits`].
///
/// # Errors
/// As [`read_csv`], and [`DataError::InputTooLarge`] naming the file, the limit and, for a
/// line, its number.
pub fn read_csv_with_limits(path: &Path, limits: &InputLimits) -> Result<PriceTable> {
    let origin = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|err| DataError::io(path, err))?;
    let mut head = Vec::new();
    let mut file = std::io::BufReader::new(file);
    // Read one byte more than the limit: that byte says the limit was passed.
    let cap = limits.max_bytes as u64 + 1;
    (&mut file)
        .take(2)
        .read_to_end(&mut head)
        .map_err(|err| DataError::io(path, err))?;
    let rest = std::io::Read::chain(head.as_slice(), file);
    let mut text = Vec::new();
    let read = if head.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(rest)
            .take(cap)
            .read_to_end(&mut text)
    } else {
        rest.take(cap).read_to_end(&mut text)
    };
    read.map_err(|err| DataError::io(path, err))?;
    let too_large = |what: String| DataError::InputTooLarge {
        origin: origin.clone(),
        what,
    };
    if text.len() > limits.max_bytes {
        return Err(too_large(format!(
            "more than {} bytes of text (InputLimits::max_bytes)",
            limits.max_bytes
        )));
    }
    if let Some((line, _)) = text
        .split(|&b| b == b'\n')
        .enumerate()
        .find(|(_, line)| line.len() > limits.max_line)
    {
        return Err(too_large(format!(
            "line {} is longer than {} bytes (InputLimits::max_line)",
            line + 1,
            limits.max_line
        )));
    }
    parse_csv(&text, &origin)
}

fn gunzip_if_needed(bytes: &[u8], origin: &str) -> Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|err| DataError::io(origin, err))?;
    Ok(out)
}

/// Parses CSV text in one of two layouts and validates the table
/// ([`validate`](crate::validate())); `origin` names the input in errors.
///
/// - **Long**, chosen when a header is `ticker`: columns `date`, `ticker`, `close` required,
///   `open`, `high`, `low`, `volume` optional, in any order; header names are matched
///   case-insensitively. The universe is the tickers in order of first appearance.
/// - **Wide** otherwise: a `date` column and one close column per ticker; the universe is the
///   column order. A column whose cells are all empty stays in the universe with no rows.
///
/// In both layouts an empty price cell means "no bar": the row is skipped for that ticker. Dates
/// are `YYYY-MM-DD`; rows may come in any date order (they are sorted), but a repeated
/// `(ticker, date)` is an error. Tickers are trimmed and upper-cased.
///
/// # Example
/// ```
/// use momentum_data::{DataError, parse_csv};
/// // Long layout, any column order; an empty close is no bar.
/// let long = b"ticker,date,close,volume\nxom,2024-01-02,100.5,17000000\nXOM,2024-01-03,,\n";
/// let table = parse_csv(long, "inline")?;
/// assert_eq!(table.tickers, ["XOM"]);
/// assert_eq!(table.rows.len(), 1);
/// assert_eq!(table.rows[0].volume, Some(17e6));
/// // A bad price is an error naming the input, the ticker and the date.
/// let err = parse_csv(b"date,XOM\n2024-01-02,-1\n", "inline").unwrap_err();
/// assert!(matches!(err, DataError::NonPositivePrice { .. }), "{err}");
/// # Ok::<(), DataError>(())
/// ```
pub fn parse_csv(text: &[u8], origin: &str) -> Result<PriceTable> {
    let csv_err = |source| DataError::Csv {
        origin: origin.into(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text);
    let headers: Vec<String> = reader
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let find = |name: &str| headers.iter().position(|h| h == name);
    let missing = |column: &str| DataError::MissingColumn {
        origin: origin.into(),
        column: column.into(),
    };
    let date_col = find("date").ok_or_else(|| missing("date"))?;

    let mut tickers: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    if let Some(ticker_col) = find("ticker") {
        let close_col = find("close").ok_or_else(|| missing("close"))?;
        let optional = ["open", "high", "low", "volume"].map(find);
        let mut known = std::collections::HashSet::new();
        for record in reader.records() {
            let record = record.map_err(csv_err)?;
            let line = line_of(&record);
            let ticker = record[ticker_col].to_uppercase();
            if ticker.is_empty() {
                return Err(DataError::EmptyTicker {
                    origin: origin.into(),
                    line,
                });
            }
            let date = parse_date(&record[date_col], origin, line)?;
            if known.insert(ticker.clone()) {
                tickers.push(ticker.clone());
            }
            let cell = |col: Option<usize>, name: &str| match col {
                Some(col) => parse_number(&record[col], origin, line, name),
                None => Ok(None),
            };
            let Some(close) = cell(Some(close_col), "close")? else {
                continue;
            };
            rows.push(PriceRow {
                ticker,
                date,
                open: cell(optional[0], "open")?,
                high: cell(optional[1], "high")?,
                low: cell(optional[2], "low")?,
                close,
                volume: cell(optional[3], "volume")?,
            });
        }
    } else {
        let original = reader.headers().map_err(csv_err)?.clone();
        let columns: Vec<(usize, String)> = original
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != date_col)
            .map(|(i, name)| (i, name.to_uppercase()))
            .collect();
        if columns.iter().any(|(_, name)| name.is_empty()) {
            // An unnamed column (a spreadsheet's index, a trailing comma) cannot be a ticker.
            return Err(DataError::EmptyTicker {
                origin: origin.into(),
                line: 1,
            });
        }
        tickers = columns.iter().map(|(_, name)| name.clone()).collect();
        for record in reader.records() {
            let record = record.map_err(csv_err)?;
            let line = line_of(&record);
            let date = parse_date(&record[date_col], origin, line)?;
            for (col, ticker) in &columns {
                let Some(close) = parse_number(&record[*col], origin, line, &original[*col])?
                else {
                    continue;
                };
                rows.push(PriceRow::close_only(ticker.clone(), date, close));
            }
        }
    }
    let table = PriceTable::from_rows(tickers, rows);
    validate(&table, origin)?;
    Ok(table)
}

fn line_of(record: &csv::StringRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

fn parse_date(text: &str, origin: &str, line: u64) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| DataError::InvalidDate {
        origin: origin.into(),
        line,
        value: text.into(),
    })
}

fn parse_number(text: &str, origin: &str, line: u64, column: &str) -> Result<Option<f64>> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<f64>()
        .map(Some)
        .map_err(|_| DataError::InvalidNumber {
            origin: origin.into(),
            line,
            column: column.into(),
            value: text.into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn wide_keeps_column_order_skips_empty_cells_and_sorts_dates() {
        let text = b"Date,MSFT,aapl,KO\n2024-01-03,2,,\n2024-01-02,1,10,\n";
        let table = parse_csv(text, "w.csv").unwrap();
        assert_eq!(table.tickers, vec!["MSFT", "AAPL", "KO"]);
        assert_eq!(
            table.rows_per_ticker(),
            vec![("MSFT".into(), 2), ("AAPL".into(), 1), ("KO".into(), 0)]
        );
        assert_eq!(table.rows[0].date, d("2024-01-02"));
        assert_eq!(table.rows[1].close, 2.0);
        assert_eq!(table.rows[2].close, 10.0);
    }

    #[test]
    fn long_headers_are_case_insensitive_and_optional_columns_may_be_missing() {
        let text = b"Ticker,DATE,Close,Volume\nbbb,2024-01-02,5,100\nAAA,2024-01-02,3.5,\n";
        let table = parse_csv(text, "l.csv").unwrap();
        assert_eq!(table.tickers, vec!["BBB", "AAA"]);
        assert_eq!(table.rows[0].volume, Some(100.0));
        assert_eq!(table.rows[1].volume, None);
        assert_eq!(table.rows[1].open, None);
    }

    #[test]
    fn bad_cells_name_the_line_and_column() {
        let err = parse_csv(b"Date,AAA\n2024-01-02,1\n2024-01-03,abc\n", "x.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.csv: line 3, column `AAA`: cannot parse \"abc\" as a number"
        );
        let err = parse_csv(b"Date,AAA\n2024/01/02,1\n", "x.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.csv: line 2: cannot parse \"2024/01/02\" as a YYYY-MM-DD date"
        );
        let err = parse_csv(b"day,AAA\n2024-01-02,1\n", "x.csv").unwrap_err();
        assert_eq!(err.to_string(), "x.csv: missing column `date`");
        let err = parse_csv(b"date,ticker,open\n2024-01-02,A,1\n", "x.csv").unwrap_err();
        assert_eq!(err.to_string(), "x.csv: missing column `close`");
        let err = parse_csv(b"date,ticker,close\n2024-01-02,,1\n", "x.csv").unwrap_err();
        assert!(
            matches!(err, DataError::EmptyTicker { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn the_sample_index_is_one_series_over_the_same_days() {
        let index = load_sample_index().unwrap();
        assert_eq!(index.tickers, vec!["SP500"]);
        assert_eq!(index.rows.len(), 8313);
        // First data line of sp500_index.csv.gz: 1990-01-02,359.69
        assert_eq!(index.rows[0].date, d("1990-01-02"));
        assert_eq!(index.rows[0].close, 359.69);
    }
}
