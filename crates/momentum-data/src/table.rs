//! The long price table every provider produces and every consumer reads.

use chrono::NaiveDate;

/// One daily bar of one ticker. Only `close` is required: a wide CSV or the embedded sample
/// carries closes only, so `open`, `high`, `low` and `volume` are optional (null in Parquet).
#[derive(Debug, Clone, PartialEq)]
pub struct PriceRow {
    /// Upper-case ticker symbol, e.g. `AAPL`.
    pub ticker: String,
    /// Trading date (exchange-local calendar date).
    pub date: NaiveDate,
    /// Opening price, when the source has it.
    pub open: Option<f64>,
    /// Daily high, when the source has it.
    pub high: Option<f64>,
    /// Daily low, when the source has it.
    pub low: Option<f64>,
    /// Closing price (adjusted where the source adjusts); finite and > 0 after validation.
    pub close: f64,
    /// Traded volume, when the source has it.
    pub volume: Option<f64>,
}

/// A validated long price table: rows sorted by ticker (in `tickers` order) then date, with no
/// duplicate `(ticker, date)`. `tickers` is the configured universe order, which downstream
/// panels keep; it may name a ticker that has no rows only when the caller allowed it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceTable {
    /// Universe in its configured order.
    pub tickers: Vec<String>,
    /// Rows grouped by ticker in `tickers` order, ascending dates within a ticker.
    pub rows: Vec<PriceRow>,
}
