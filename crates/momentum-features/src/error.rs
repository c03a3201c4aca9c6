//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while building, reading or writing a panel or a feature.
#[derive(Debug, thiserror::Error)]
pub enum FeaturesError {
    /// The close matrix does not have one row per date and one column per ticker.
    #[error("panel shape mismatch: {rows} x {cols} prices for {dates} dates and {tickers} tickers")]
    Shape {
        /// Rows of the matrix.
        rows: usize,
        /// Columns of the matrix.
        cols: usize,
        /// Number of dates given.
        dates: usize,
        /// Number of tickers given.
        tickers: usize,
    },
    /// Dates must be strictly ascending (sorted and unique).
    #[error("panel dates are not strictly ascending at {date}")]
    UnsortedDates {
        /// The first date that is not after its predecessor.
        date: chrono::NaiveDate,
    },
    /// A ticker appears twice in the universe.
    #[error("ticker {ticker} appears twice in the universe")]
    DuplicateTicker {
        /// The repeated ticker.
        ticker: String,
    },
    /// Two price rows for the same ticker and date.
    #[error("two prices for ticker {ticker} on {date}")]
    DuplicatePrice {
        /// Ticker of the duplicate.
        ticker: String,
        /// Date of the duplicate.
        date: chrono::NaiveDate,
    },
    /// A parameter of a feature is out of its domain.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name, e.g. `lookback`.
        name: &'static str,
        /// The value given.
        value: String,
        /// What the domain is.
        reason: &'static str,
    },
    /// An output slice has the wrong length.
    #[error("output buffer has {got} slots, the panel has {want} tickers")]
    BufferLength {
        /// Slots given.
        got: usize,
        /// Slots needed.
        want: usize,
    },
    /// A file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Parquet encoding or decoding failed.
    #[cfg(feature = "parquet")]
    #[error("parquet error in {path}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow array construction failed.
    #[cfg(feature = "parquet")]
    #[error("arrow error in {path}")]
    Arrow {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// The all-or-nothing write of a file failed (its temporary file, the rename).
    #[error(transparent)]
    Data(#[from] momentum_data::DataError),
    /// The Parquet file is not a panel in the layout this crate writes.
    #[error("{path} is not a momentum panel: {reason}")]
    Layout {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = FeaturesError> = std::result::Result<T, E>;

/// A failed atomic write is an I/O error naming its file, as the data crate reports it.
impl From<momentum_files::FileError> for FeaturesError {
    fn from(err: momentum_files::FileError) -> Self {
        Self::Data(err.into())
    }
}
