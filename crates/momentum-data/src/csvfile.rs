//! CSV input (wide or long, gzip or plain) and the embedded sample.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use chrono::NaiveDate;

use crate::error::{DataError, Result};
use crate::table::{Bar, PriceTable, Series, TableBuilder};
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
/// assert_eq!(sample.tickers().len(), 20);
/// assert_eq!(sample.rows_of("AAPL").len(), 8313);
/// assert_eq!(sample.date_range(), Some(("1990-01-02".parse()?, "2022-12-28".parse()?)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_sample() -> Result<PriceTable> {
    read_input(SAMPLE_PRICES, SAMPLE_ORIGIN, &InputLimits::default())
}

/// The S&P 500 index level over the sample's days, as a one-ticker table (`SP500`): a benchmark
/// series, not part of the tradable universe.
pub fn load_sample_index() -> Result<PriceTable> {
    let origin = "sample:sp500_index.csv.gz";
    read_input(SAMPLE_INDEX, origin, &InputLimits::default())
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
/// assert_eq!(table.tickers(), ["MSFT", "AAPL"]);
/// assert_eq!(table.rows_of("AAPL").closes(), [185.64, 184.25]); // sorted by date
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
    let file = std::fs::File::open(path).map_err(|err| DataError::io(path, err))?;
    read_input(
        std::io::BufReader::new(file),
        &path.display().to_string(),
        limits,
    )
}

/// Parses `input`, gzip-compressed or plain, as it is read: the text is never held whole, and
/// the limits are checked on the way. The outcome is the one of a read of the whole text
/// first: a read failure wins over a passed limit, which wins over the text's own errors (the
/// rest of the input is read for them when parsing stops early).
fn read_input(mut input: impl Read, origin: &str, limits: &InputLimits) -> Result<PriceTable> {
    let mut head = Vec::new();
    (&mut input)
        .take(4)
        .read_to_end(&mut head)
        .map_err(|err| DataError::io(origin, err))?;
    if head == b"PAR1" {
        return Err(DataError::Layout {
            origin: origin.into(),
            reason: "a Parquet file, read as CSV: name it *.parquet (or use the parquet source)"
                .into(),
        });
    }
    let rest = head.as_slice().chain(input);
    let text: Box<dyn Read + '_> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(rest))
    } else {
        Box::new(rest)
    };
    let mut text = Limited::new(text, *limits);
    let parsed = parse(&mut text, origin);
    if parsed.is_err() {
        text.drain();
    }
    if let Some(err) = text.failure.take() {
        return Err(DataError::io(origin, err));
    }
    let too_large = |what: String| DataError::InputTooLarge {
        origin: origin.into(),
        what,
    };
    if text.bytes > limits.max_bytes {
        return Err(too_large(format!(
            "more than {} bytes of text (InputLimits::max_bytes)",
            limits.max_bytes
        )));
    }
    if let Some(line) = text.long_line {
        return Err(too_large(format!(
            "line {line} is longer than {} bytes (InputLimits::max_line)",
            limits.max_line
        )));
    }
    parsed
}

/// Text on its way to the parser, measured against [`InputLimits`]: once a limit is passed or
/// the input fails, the parser gets an error and reads no more.
struct Limited<R> {
    inner: R,
    limits: InputLimits,
    /// Bytes read so far.
    bytes: usize,
    /// Number (from 1) and length of the line being read.
    line: (usize, usize),
    /// The first line longer than `limits.max_line`.
    long_line: Option<usize>,
    /// The input's own failure (a read error, corrupt gzip).
    failure: Option<std::io::Error>,
}

impl<R: Read> Limited<R> {
    fn new(inner: R, limits: InputLimits) -> Self {
        Self {
            inner,
            limits,
            bytes: 0,
            line: (1, 0),
            long_line: None,
            failure: None,
        }
    }

    fn stopped(&self) -> bool {
        self.failure.is_some() || self.bytes > self.limits.max_bytes || self.long_line.is_some()
    }

    fn measure(&mut self, text: &[u8]) {
        self.bytes += text.len();
        for (k, piece) in text.split(|&b| b == b'\n').enumerate() {
            if k > 0 {
                self.line = (self.line.0 + 1, 0);
            }
            self.line.1 += piece.len();
            if self.line.1 > self.limits.max_line && self.long_line.is_none() {
                self.long_line = Some(self.line.0);
            }
        }
    }

    /// Reads the next bytes of the input into `buf` and measures them: how many (0 at the end),
    /// `None` when the input failed (the failure is kept).
    fn fill(&mut self, buf: &mut [u8]) -> Option<usize> {
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    self.measure(&buf[..n]);
                    return Some(n);
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => {
                    self.failure = Some(err);
                    return None;
                }
            }
        }
    }

    /// Reads the rest of the input up to the byte limit, for a failure or limit that a read of
    /// the whole text would have met before parsing.
    fn drain(&mut self) {
        let mut buffer = vec![0; 1 << 16];
        while self.failure.is_none() && self.bytes <= self.limits.max_bytes {
            if matches!(self.fill(&mut buffer), None | Some(0)) {
                break;
            }
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let stop = || std::io::Error::other("the input failed or passed a limit");
        if self.stopped() {
            return Err(stop());
        }
        match self.fill(buf) {
            Some(n) if !self.stopped() => Ok(n),
            _ => Err(stop()),
        }
    }
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
/// assert_eq!(table.tickers(), ["XOM"]);
/// assert_eq!(table.len(), 1);
/// assert_eq!(table.rows().next().unwrap().volume, Some(17e6));
/// // A bad price is an error naming the input, the ticker and the date.
/// let err = parse_csv(b"date,XOM\n2024-01-02,-1\n", "inline").unwrap_err();
/// assert!(matches!(err, DataError::NonPositivePrice { .. }), "{err}");
/// # Ok::<(), DataError>(())
/// ```
pub fn parse_csv(text: &[u8], origin: &str) -> Result<PriceTable> {
    parse(text, origin)
}

/// [`parse_csv`] of text as it is read, record by record into the table's columns.
fn parse(text: impl Read, origin: &str) -> Result<PriceTable> {
    let csv_err = |source| DataError::Csv {
        origin: origin.into(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text);
    let mut original = reader.headers().map_err(csv_err)?.clone();
    // Excel's "CSV UTF-8" starts with a byte order mark, which is not part of the first name.
    if let Some(first) = original.get(0).and_then(|h| h.strip_prefix('\u{feff}')) {
        let first = first.trim().to_owned();
        original = std::iter::once(first.as_str())
            .chain(original.iter().skip(1))
            .collect();
    }
    let layout = |reason: String| DataError::Layout {
        origin: origin.into(),
        reason,
    };
    let find = |name: &str| {
        find_column(original.iter(), name).map_err(|[first, second]| {
            layout(format!(
                "column `{}` appears twice (columns {} and {})",
                &original[first],
                first + 1,
                second + 1
            ))
        })
    };
    let missing = |column: &str| DataError::MissingColumn {
        origin: origin.into(),
        column: column.into(),
    };
    let date_col = find("date")?.ok_or_else(|| missing("date"))?;

    let mut record = csv::StringRecord::new();
    let mut next_record =
        |record: &mut csv::StringRecord| reader.read_record(record).map_err(csv_err);
    let table = if let Some(ticker_col) = find("ticker")? {
        let close_col = find("close")?.ok_or_else(|| missing("close"))?;
        let [open, high, low, volume] = ["open", "high", "low", "volume"].map(find);
        let optional = [open?, high?, low?, volume?];
        let mut table = TableBuilder::new(Vec::new());
        let mut known: HashMap<String, usize> = HashMap::new();
        while next_record(&mut record)? {
            let line = line_of(&record);
            let ticker = record[ticker_col].to_uppercase();
            if ticker.is_empty() {
                return Err(DataError::EmptyTicker {
                    origin: origin.into(),
                    line,
                });
            }
            let date = parse_date(&record[date_col], origin, line)?;
            let position = match known.get(&ticker) {
                Some(&position) => position,
                None => {
                    let position = table.add_ticker(ticker.clone());
                    known.insert(ticker, position);
                    position
                }
            };
            let cell = |col: Option<usize>, name: &str| match col {
                Some(col) => parse_number(&record[col], origin, line, name),
                None => Ok(None),
            };
            let Some(close) = cell(Some(close_col), "close")? else {
                continue;
            };
            let bar = Bar {
                date,
                open: cell(optional[0], "open")?,
                high: cell(optional[1], "high")?,
                low: cell(optional[2], "low")?,
                close,
                volume: cell(optional[3], "volume")?,
            };
            table.push(position, bar);
        }
        table.finish()
    } else {
        let (columns, tickers): (Vec<usize>, Vec<String>) = original
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != date_col)
            .map(|(i, name)| (i, name.to_uppercase()))
            .unzip();
        if tickers.iter().any(String::is_empty) {
            // An unnamed column (a spreadsheet's index, a trailing comma) cannot be a ticker.
            return Err(DataError::EmptyTicker {
                origin: origin.into(),
                line: 1,
            });
        }
        // One ticker's bars as downloaded (Date,Open,High,Low,Close,Adj Close,Volume) would
        // read as a universe of tickers named OPEN, HIGH, ... (OPEN and LOW are real tickers;
        // these names are not).
        if let Some(field) =
            (original.iter()).find(|name| BAR_FIELDS.contains(&&*name.to_lowercase()))
        {
            return Err(layout(format!(
                "column `{field}` is a field of a bar, not a ticker: a file of bars needs a \
                 `ticker` column (date,ticker,close,...); a wide file has a column per ticker"
            )));
        }
        let mut cells = WideCells::default();
        while next_record(&mut record)? {
            let line = line_of(&record);
            cells.lines.push(line);
            cells
                .dates
                .push(parse_date(&record[date_col], origin, line)?);
            for &col in &columns {
                cells.push(parse_number(&record[col], origin, line, &original[col])?);
            }
        }
        cells
            .into_table(tickers)
            .map_err(|(first, second, date)| DataError::DuplicateDate {
                origin: origin.into(),
                date,
                first,
                second,
            })?
    };
    validate(&table, origin)?;
    Ok(table)
}

/// The cells of a wide file as they are read, a row per line. The file is day-major and the
/// table ticker-major: the cells are kept in one buffer per field, which grows in place and is
/// freed whole, then copied once into series of their exact length. Growing every ticker's series
/// side by side instead fragments the heap (30 MB more at 500 tickers x 6,300 days).
#[derive(Debug, Default)]
struct WideCells {
    /// The date of each line.
    dates: Vec<NaiveDate>,
    /// The number in the file of each line (a quoted field may hold line breaks).
    lines: Vec<u64>,
    /// Line by line, the close of each ticker (0 where the cell is empty).
    closes: Vec<f64>,
    /// Whether each cell of `closes` has a price.
    present: Vec<bool>,
}

impl WideCells {
    fn push(&mut self, close: Option<f64>) {
        self.closes.push(close.unwrap_or_default());
        self.present.push(close.is_some());
    }

    /// The table of `tickers`, one per column: each ticker's closes in date order.
    ///
    /// # Errors
    /// The first date on two lines, with the numbers of those lines in the file.
    fn into_table(
        self,
        tickers: Vec<String>,
    ) -> std::result::Result<PriceTable, (u64, u64, NaiveDate)> {
        let width = tickers.len();
        let mut order: Vec<usize> = (0..self.dates.len()).collect();
        order.sort_by_key(|&line| self.dates[line]);
        if let Some(pair) = order
            .windows(2)
            .find(|pair| self.dates[pair[0]] == self.dates[pair[1]])
        {
            // A stable sort keeps the lines of one date in file order.
            let [first, second] = [pair[0], pair[1]];
            return Err((self.lines[first], self.lines[second], self.dates[first]));
        }
        let series = (0..width)
            .map(|column| {
                let lines = || {
                    (order.iter())
                        .filter(|&&line| self.present[line * width + column])
                        .copied()
                };
                let mut series = Series::with_capacity(lines().count());
                for line in lines() {
                    let close = self.closes[line * width + column];
                    series.push(Bar::close_only(self.dates[line], close));
                }
                series
            })
            .collect();
        Ok(PriceTable::from_series(tickers, series))
    }
}

/// Where the column `name` is in a CSV `header`, names compared without case: `Ok(None)` when
/// it is not there, and the first two places (0-based) when it is named twice: a column read
/// from one place and not the other would be misread.
///
/// ```
/// use momentum_data::find_column;
/// assert_eq!(find_column(["Date", "Close"], "close"), Ok(Some(1)));
/// assert_eq!(find_column(["date", "close"], "ticker"), Ok(None));
/// assert_eq!(find_column(["close", "date", "CLOSE"], "close"), Err([0, 2]));
/// ```
pub fn find_column<'a>(
    header: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> std::result::Result<Option<usize>, [usize; 2]> {
    let mut at = (header.into_iter().enumerate()).filter(|(_, h)| h.eq_ignore_ascii_case(name));
    match (at.next(), at.next()) {
        (Some((first, _)), Some((second, _))) => Err([first, second]),
        (first, _) => Ok(first.map(|(i, _)| i)),
    }
}

/// Header names (lower-cased) that are the fields of one ticker's bars, never tickers.
const BAR_FIELDS: [&str; 5] = ["close", "adj close", "adj_close", "adjclose", "volume"];

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
    use crate::table::PriceRow;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn wide_keeps_column_order_skips_empty_cells_and_sorts_dates() {
        let text = b"Date,MSFT,aapl,KO\n2024-01-03,2,,\n2024-01-02,1,10,\n";
        let table = parse_csv(text, "w.csv").unwrap();
        assert_eq!(table.tickers(), ["MSFT", "AAPL", "KO"]);
        assert_eq!(
            table.rows_per_ticker(),
            vec![("MSFT".into(), 2), ("AAPL".into(), 1), ("KO".into(), 0)]
        );
        let rows: Vec<PriceRow> = table.rows().collect();
        assert_eq!(rows[0].date, d("2024-01-02"));
        assert_eq!(rows[1].close, 2.0);
        assert_eq!(rows[2].close, 10.0);
    }

    #[test]
    fn a_wide_file_with_gaps_and_dates_out_of_order_parses_into_its_table() {
        // Dates out of order, a gap in every column, a ticker listed late, one delisted, one
        // empty; cells padded with spaces.
        let text = b"date,BBB,aaa,CCC,DDD\n\
            2024-01-04, 12.5 ,1.25,,\n\
            2024-01-02,10,1,,\n\
            2024-01-05,13,,7,\n\
            2024-01-03,,1.5,6,\n";
        let table = parse_csv(text, "wide.csv").unwrap();
        let row = |ticker: &str, day: u32, close: f64| {
            PriceRow::close_only(
                ticker,
                NaiveDate::from_ymd_opt(2024, 1, day).unwrap(),
                close,
            )
        };
        let expected = [
            row("BBB", 2, 10.0),
            row("BBB", 4, 12.5),
            row("BBB", 5, 13.0),
            row("AAA", 2, 1.0),
            row("AAA", 3, 1.5),
            row("AAA", 4, 1.25),
            row("CCC", 3, 6.0),
            row("CCC", 5, 7.0),
        ];
        assert_eq!(table.tickers(), ["BBB", "AAA", "CCC", "DDD"]);
        assert_eq!(table.rows().collect::<Vec<_>>(), expected);
        assert!(table.rows_of("DDD").is_empty());
        assert_eq!(
            table,
            PriceTable::from_rows(table.tickers().to_vec(), expected)
        );
        // A repeated date is an error naming it and its lines, even where no ticker has a
        // price on both (the lines used to be merged).
        for twice in [
            &b"date,AAA,BBB\n2024-01-02,,1\n2024-01-03,1,2\n2024-01-02,,3\n"[..],
            b"date,AAA,BBB\n2024-01-02,1,\n2024-01-03,1,2\n2024-01-02,,5\n",
        ] {
            let err = parse_csv(twice, "wide.csv").unwrap_err();
            assert_eq!(
                err.to_string(),
                "wide.csv: date 2024-01-02 is on two lines (2 and 4): a wide file has one line \
                 a day"
            );
        }
    }

    #[test]
    fn a_header_that_fits_no_layout_is_named() {
        let cases: [(&[u8], &str); 4] = [
            (
                b"date,ticker,close,close\n2024-01-02,AAA,1,999\n",
                "x.csv: column `close` appears twice (columns 3 and 4)",
            ),
            (
                b"Date,Ticker,Close,DATE\n2024-01-02,AAA,1,2024-01-03\n",
                "x.csv: column `Date` appears twice (columns 1 and 4)",
            ),
            // One ticker's bars as downloaded: not a universe of OPEN, HIGH, ... (it was).
            (
                b"Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,1,2,1,2,2,100\n",
                "x.csv: column `Close` is a field of a bar, not a ticker: a file of bars needs \
                 a `ticker` column (date,ticker,close,...); a wide file has a column per ticker",
            ),
            (
                b"date,AAA,volume\n2024-01-02,1,100\n",
                "x.csv: column `volume` is a field of a bar",
            ),
        ];
        for (text, message) in cases {
            let err = parse_csv(text, "x.csv").unwrap_err();
            assert!(matches!(err, DataError::Layout { .. }), "{err}");
            assert!(err.to_string().starts_with(message), "{err}");
        }
        // A Parquet file under a CSV name: said so, not a UTF-8 error of line 1.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prices.csv");
        crate::write_parquet(&path, &load_sample().unwrap()).unwrap();
        let err = read_csv(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: a Parquet file, read as CSV: name it *.parquet (or use the parquet source)",
                path.display()
            )
        );
        // OPEN, HIGH and LOW are tickers (Opendoor, Lowe's, ...): a wide file may hold them.
        let table = parse_csv(b"date,OPEN,LOW\n2024-01-02,1,2\n", "x.csv").unwrap();
        assert_eq!(table.tickers(), ["OPEN", "LOW"]);
    }

    /// Text under the limits of the tests below: lines up to 32 bytes, 256 bytes in all.
    const LIMITS: InputLimits = InputLimits {
        max_bytes: 256,
        max_line: 32,
    };

    fn gzip(text: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn a_streamed_input_reports_what_a_whole_read_would_have_first() {
        let bad_cell = "date,A\n2024-01-02,abc\n";
        // Parsing stops at line 2; the limits and the input's failures still win.
        let long_line = format!("{bad_cell}2024-01-03,{}\n", "1".repeat(40));
        let err = read_input(long_line.as_bytes(), "in.csv", &LIMITS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "in.csv: line 3 is longer than 32 bytes (InputLimits::max_line)"
        );
        let too_long = format!("{long_line}{}", "2024-01-04,1\n".repeat(20));
        let err = read_input(gzip(too_long.as_bytes()).as_slice(), "in.csv.gz", &LIMITS);
        assert_eq!(
            err.unwrap_err().to_string(),
            "in.csv.gz: more than 256 bytes of text (InputLimits::max_bytes)"
        );
        let mut truncated = gzip(format!("{bad_cell}{}", "2024-01-04,1\n".repeat(9)).as_bytes());
        truncated.truncate(truncated.len() - 12);
        let err = read_input(truncated.as_slice(), "in.csv.gz", &LIMITS).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }), "{err}");
        // Within the limits, the text's own error.
        let err = read_input(gzip(bad_cell.as_bytes()).as_slice(), "in.csv.gz", &LIMITS);
        assert!(matches!(err, Err(DataError::InvalidNumber { line: 2, .. })));
        let fine: &[u8] = b"date,A\n2024-01-02,1\n";
        assert_eq!(read_input(fine, "in.csv", &LIMITS).unwrap().len(), 1);
    }

    /// Text whose every other read is interrupted (a signal), as a pipe's may be.
    struct Interrupted<'a>(&'a [u8], bool);

    impl Read for Interrupted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.1 = !self.1;
            if self.1 {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.0.len()).min(5);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_interrupted_read_is_retried() {
        let text = b"date,A,B\n2024-01-02,1,2\n2024-01-03,3,\n";
        let table = read_input(Interrupted(text, false), "in.csv", &LIMITS).unwrap();
        assert_eq!(table, parse_csv(text, "in.csv").unwrap());
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_column_name() {
        let wide = parse_csv(b"\xef\xbb\xbfdate,AAA\n2024-01-02,1\n", "wide.csv").unwrap();
        assert_eq!(wide.tickers(), ["AAA"]);
        let long = parse_csv(
            b"\xef\xbb\xbfTicker,date,close\nAAA,2024-01-02,1\n",
            "long.csv",
        )
        .unwrap();
        assert_eq!((long.tickers(), long.len()), (&["AAA".to_owned()][..], 1));
        // Wide with the tickers first: the first ticker's name is whole.
        let first = parse_csv(b"\xef\xbb\xbfAAA,date\n1,2024-01-02\n", "first.csv").unwrap();
        assert_eq!(first.tickers(), ["AAA"]);
    }

    #[test]
    fn long_headers_are_case_insensitive_and_optional_columns_may_be_missing() {
        let text = b"Ticker,DATE,Close,Volume\nbbb,2024-01-02,5,100\nAAA,2024-01-02,3.5,\n";
        let table = parse_csv(text, "l.csv").unwrap();
        assert_eq!(table.tickers(), ["BBB", "AAA"]);
        let rows: Vec<PriceRow> = table.rows().collect();
        assert_eq!(rows[0].volume, Some(100.0));
        assert_eq!(rows[1].volume, None);
        assert_eq!(rows[1].open, None);
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
        assert_eq!(index.tickers(), ["SP500"]);
        let series = index.rows_of("SP500");
        assert_eq!(series.len(), 8313);
        // First data line of sp500_index.csv.gz: 1990-01-02,359.69
        assert_eq!(series.dates()[0], d("1990-01-02"));
        assert_eq!(series.closes()[0], 359.69);
    }
}
