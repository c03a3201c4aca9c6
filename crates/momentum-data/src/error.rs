//! The crate's one error type.

use std::path::PathBuf;

use chrono::NaiveDate;

/// Everything that can go wrong while loading, validating, fetching or writing prices.
///
/// Each variant names what it is about (file, ticker, line or date, field) so the one-line
/// message is enough to find the bad input. No variant ever carries the API key: API errors keep
/// the server's message and the request's ticker only. A variant that wraps another error names
/// only its file in its own message and returns the cause from `source()`, so a report that
/// prints the chain (`{:#}` of `anyhow`) says each part once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Reading, writing or renaming a file failed.
    #[error("{}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The CSV reader failed (bad quoting, ragged row, invalid UTF-8).
    #[error("{origin}")]
    Csv {
        /// The input file.
        origin: String,
        /// The underlying CSV error.
        #[source]
        source: csv::Error,
    },

    /// A required column is missing.
    #[error("{origin}: missing column `{column}`")]
    MissingColumn {
        /// The input file.
        origin: String,
        /// The missing column's name.
        column: String,
    },

    /// A cell that should hold a number does not.
    #[error("{origin}: line {line}, column `{column}`: cannot parse {value:?} as a number")]
    InvalidNumber {
        /// The input file.
        origin: String,
        /// 1-based line in the file (the header is line 1).
        line: u64,
        /// The column's name.
        column: String,
        /// The cell's text.
        value: String,
    },

    /// A cell that should hold a `YYYY-MM-DD` date does not.
    #[error("{origin}: line {line}: cannot parse {value:?} as a YYYY-MM-DD date")]
    InvalidDate {
        /// The input file.
        origin: String,
        /// 1-based line in the file (the header is line 1).
        line: u64,
        /// The cell's text.
        value: String,
    },

    /// A long-layout row has an empty ticker.
    #[error("{origin}: line {line}: empty ticker")]
    EmptyTicker {
        /// The input file.
        origin: String,
        /// 1-based line in the file.
        line: u64,
    },

    /// A wide CSV file with a date on two lines: its lines would be merged.
    #[error(
        "{origin}: date {date} is on two lines ({first} and {second}): a wide file has one line a day"
    )]
    DuplicateDate {
        /// The input file.
        origin: String,
        /// The date.
        date: NaiveDate,
        /// The line of its first row.
        first: u64,
        /// The line of its second.
        second: u64,
    },

    /// A CSV file whose header fits neither layout (a column named twice, one ticker's bars
    /// without a `ticker` column), or a Parquet file read as CSV.
    #[error("{origin}: {reason}")]
    Layout {
        /// The input file.
        origin: String,
        /// What does not fit, naming the column, date or lines.
        reason: String,
    },

    /// A price file past its [`crate::InputLimits`]: nothing more of it is read.
    #[error("{origin}: {what}")]
    InputTooLarge {
        /// The file.
        origin: String,
        /// Which limit, and its value.
        what: String,
    },
    /// A ticker holds a control character (named by position: echoing it could drive a
    /// terminal).
    #[error("{origin}: ticker number {position} holds the control character U+{code:04X}")]
    ControlCharacter {
        /// The file or source.
        origin: String,
        /// 1-based position of the ticker in the universe.
        position: usize,
        /// The character's code point.
        code: u32,
    },
    /// The same ticker appears twice in the universe (e.g. two CSV columns with one name).
    #[error("{origin}: ticker {ticker} appears more than once")]
    DuplicateTicker {
        /// The input.
        origin: String,
        /// The repeated ticker.
        ticker: String,
    },

    /// Two rows share a `(ticker, date)`.
    #[error("{origin}: {ticker} has more than one row dated {date}")]
    DuplicateRow {
        /// The input.
        origin: String,
        /// The ticker.
        ticker: String,
        /// The repeated date.
        date: NaiveDate,
    },

    /// A price is zero or negative.
    #[error("{origin}: {ticker} on {date}: {field} is {value}, prices must be > 0")]
    NonPositivePrice {
        /// The input.
        origin: String,
        /// The ticker.
        ticker: String,
        /// The row's date.
        date: NaiveDate,
        /// `open`, `high`, `low` or `close`.
        field: &'static str,
        /// The offending value.
        value: f64,
    },

    /// A value is NaN or infinite, or a volume is negative.
    #[error("{origin}: {ticker} on {date}: {field} is {value}, which is not a valid {field}")]
    InvalidValue {
        /// The input.
        origin: String,
        /// The ticker.
        ticker: String,
        /// The row's date.
        date: NaiveDate,
        /// The field.
        field: &'static str,
        /// The offending value.
        value: f64,
    },

    /// A row names a ticker outside the universe (only tables built in code can get here: the
    /// readers add every ticker they meet to the universe).
    #[error("{origin}: {ticker} on {date}: {reason}")]
    Unsorted {
        /// The input.
        origin: String,
        /// The ticker.
        ticker: String,
        /// The row's date.
        date: NaiveDate,
        /// What is out of place.
        reason: &'static str,
    },

    /// There is no ticker or no row at all.
    #[error("{origin}: empty universe (no ticker has any price)")]
    EmptyUniverse {
        /// The input.
        origin: String,
    },

    /// None of the requested tickers has a row in the window, and the input has rows outside
    /// it: the window, not the tickers, is what to change.
    #[error(
        "{origin}: no prices between {start} and {end}; its prices run from {first} to {last} \
         (--start/--end, or data.start/data.end)"
    )]
    OutsideWindow {
        /// The input.
        origin: String,
        /// First requested date.
        start: NaiveDate,
        /// Last requested date.
        end: NaiveDate,
        /// The input's first date.
        first: NaiveDate,
        /// The input's last date.
        last: NaiveDate,
    },

    /// Requested tickers have no rows in the window (and `allow_missing` was off).
    #[error(
        "{origin}: no prices for {} between {start} and {end} (pass --allow-missing to drop them)",
        tickers.join(", ")
    )]
    MissingTickers {
        /// The input.
        origin: String,
        /// The tickers without rows, in request order.
        tickers: Vec<String>,
        /// First requested date.
        start: NaiveDate,
        /// Last requested date.
        end: NaiveDate,
    },

    /// The requested window is empty or inverted.
    #[error("invalid date window: start {start} is after end {end}")]
    InvalidWindow {
        /// First requested date.
        start: NaiveDate,
        /// Last requested date.
        end: NaiveDate,
    },

    /// A Parquet file could not be read or written.
    #[cfg(feature = "parquet")]
    #[error("{}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// An Arrow batch could not be built or read.
    #[cfg(feature = "parquet")]
    #[error("{}", path.display())]
    Arrow {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: arrow_schema::ArrowError,
    },

    /// A Parquet file's columns are not the long price layout.
    #[error("{}: column `{column}`: {reason}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A manifest could not be encoded or decoded.
    #[error("{}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },

    /// `source` is not one of the known providers.
    #[error("unknown data source {0:?} (expected sample, csv, parquet or financialdatasets)")]
    UnknownSource(String),

    /// A setting is missing or out of range.
    #[error("invalid setting `{name}`: {reason}")]
    InvalidSetting {
        /// The setting's name.
        name: &'static str,
        /// Why it is invalid.
        reason: String,
    },

    /// The API answered with a non-retryable error (400, 401, 402, other 4xx but 404 and 429).
    #[error("financialdatasets: {ticker}: HTTP {status}: {message}")]
    Api {
        /// The ticker requested.
        ticker: String,
        /// The HTTP status code.
        status: u16,
        /// The API's `error` and `message` (or `detail`, or the start of a non-JSON body).
        message: String,
    },

    /// The API kept failing (429, 5xx, timeouts, connection errors) until retries ran out.
    #[error("financialdatasets: {ticker}: gave up after {attempts} attempts, last error: {last}")]
    RetriesExhausted {
        /// The ticker requested.
        ticker: String,
        /// Requests made for the failing page.
        attempts: u32,
        /// What the last attempt got.
        last: String,
    },

    /// The API's body is not the documented shape.
    #[error("financialdatasets: {ticker}: malformed response: {reason}")]
    Malformed {
        /// The ticker requested.
        ticker: String,
        /// What did not parse.
        reason: String,
    },

    /// `next_page_url` looped or exceeded the page cap.
    #[error("financialdatasets: {ticker}: pagination stopped: {reason}")]
    Pagination {
        /// The ticker requested.
        ticker: String,
        /// Repeated URL or page cap.
        reason: String,
    },

    /// The HTTP client could not be built or a request could not be sent.
    #[error("financialdatasets: {0}")]
    Http(String),
}

impl From<momentum_files::FileError> for DataError {
    fn from(err: momentum_files::FileError) -> Self {
        Self::Io {
            path: err.path,
            source: err.source,
        }
    }
}

impl DataError {
    /// [`DataError::Io`] of `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
