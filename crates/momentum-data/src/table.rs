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

impl PriceRow {
    /// The price fields by name: `open`, `high`, `low` (each when present) and `close`.
    pub fn prices(&self) -> [(&'static str, Option<f64>); 4] {
        [
            ("open", self.open),
            ("high", self.high),
            ("low", self.low),
            ("close", Some(self.close)),
        ]
    }

    /// A bar with only a close, as the wide CSV layout and the embedded sample carry.
    pub fn close_only(ticker: impl Into<String>, date: NaiveDate, close: f64) -> Self {
        Self {
            ticker: ticker.into(),
            date,
            open: None,
            high: None,
            low: None,
            close,
            volume: None,
        }
    }
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

impl PriceTable {
    /// Builds a table from rows in any order: rows are stably sorted by the position of their
    /// ticker in `tickers`, then by date. Rows whose ticker is not in `tickers` go last, where
    /// [`validate`](crate::validate()) reports them.
    ///
    /// # Example
    /// ```
    /// use chrono::NaiveDate;
    /// use momentum_data::{PriceRow, PriceTable};
    /// let d = |day| NaiveDate::from_ymd_opt(2024, 1, day).unwrap();
    /// let table = PriceTable::from_rows(
    ///     vec!["MSFT".into(), "AAPL".into()],
    ///     vec![
    ///         PriceRow::close_only("AAPL", d(3), 184.25),
    ///         PriceRow::close_only("MSFT", d(3), 370.6),
    ///         PriceRow::close_only("AAPL", d(2), 185.64),
    ///     ],
    /// );
    /// let order: Vec<(&str, NaiveDate)> =
    ///     table.rows.iter().map(|r| (r.ticker.as_str(), r.date)).collect();
    /// assert_eq!(order, [("MSFT", d(3)), ("AAPL", d(2)), ("AAPL", d(3))]);
    /// assert_eq!(table.last_date("AAPL"), Some(d(3)));
    /// ```
    pub fn from_rows(tickers: Vec<String>, mut rows: Vec<PriceRow>) -> Self {
        let position: std::collections::HashMap<&str, usize> = tickers
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        rows.sort_by_cached_key(|row| {
            (
                position
                    .get(row.ticker.as_str())
                    .copied()
                    .unwrap_or(usize::MAX),
                row.date,
            )
        });
        Self { tickers, rows }
    }

    /// The rows of `ticker` (empty when it has none), relying on the sorted layout.
    pub fn rows_of(&self, ticker: &str) -> &[PriceRow] {
        let start = self
            .rows
            .partition_point(|row| self.rank(&row.ticker) < self.rank(ticker));
        let len = self.rows[start..]
            .iter()
            .take_while(|row| row.ticker == ticker)
            .count();
        &self.rows[start..start + len]
    }

    fn rank(&self, ticker: &str) -> usize {
        self.tickers
            .iter()
            .position(|t| t == ticker)
            .unwrap_or(usize::MAX)
    }

    /// Number of rows of each ticker, in universe order (0 for a ticker without rows).
    pub fn rows_per_ticker(&self) -> Vec<(String, usize)> {
        let mut counts: Vec<(String, usize)> =
            self.tickers.iter().map(|t| (t.clone(), 0)).collect();
        let mut i = 0;
        for row in &self.rows {
            while i < counts.len() && counts[i].0 != row.ticker {
                i += 1;
            }
            if let Some(entry) = counts.get_mut(i) {
                entry.1 += 1;
            }
        }
        counts
    }

    /// First and last date over all rows, `None` when the table has no rows.
    pub fn date_range(&self) -> Option<(NaiveDate, NaiveDate)> {
        let first = self.rows.iter().map(|row| row.date).min()?;
        let last = self.rows.iter().map(|row| row.date).max()?;
        Some((first, last))
    }

    /// The last date of `ticker`, `None` when it has no rows.
    pub fn last_date(&self, ticker: &str) -> Option<NaiveDate> {
        self.rows_of(ticker).last().map(|row| row.date)
    }

    /// Whether the table has no rows at all.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ticker: &str, date: &str, close: f64) -> PriceRow {
        PriceRow::close_only(ticker, date.parse().unwrap(), close)
    }

    #[test]
    fn from_rows_orders_by_universe_then_date_and_counts() {
        let table = PriceTable::from_rows(
            vec!["MSFT".into(), "AAPL".into(), "KO".into()],
            vec![
                row("AAPL", "2024-01-03", 2.0),
                row("MSFT", "2024-01-02", 3.0),
                row("AAPL", "2024-01-02", 1.0),
            ],
        );
        let order: Vec<(&str, String)> = table
            .rows
            .iter()
            .map(|r| (r.ticker.as_str(), r.date.to_string()))
            .collect();
        assert_eq!(
            order,
            vec![
                ("MSFT", "2024-01-02".to_string()),
                ("AAPL", "2024-01-02".to_string()),
                ("AAPL", "2024-01-03".to_string()),
            ]
        );
        assert_eq!(
            table.rows_per_ticker(),
            vec![
                ("MSFT".to_string(), 1),
                ("AAPL".to_string(), 2),
                ("KO".to_string(), 0)
            ]
        );
        assert_eq!(table.rows_of("AAPL").len(), 2);
        assert!(table.rows_of("KO").is_empty());
        assert_eq!(table.last_date("AAPL"), Some("2024-01-03".parse().unwrap()));
        assert_eq!(
            table.date_range(),
            Some(("2024-01-02".parse().unwrap(), "2024-01-03".parse().unwrap()))
        );
    }
}
