//! The long price table every provider produces and every consumer reads, stored by column.
//!
//! A [`PriceTable`] holds one [`Series`] per ticker of its universe: a vector of dates, one of
//! closes, and the optional fields only as far as some bar has them. A close-only table (a wide
//! CSV, the sample) costs 12 bytes a bar, where a row struct with its ticker string cost about
//! 140: what keeps `fetch` of an index-sized file within a few times its close panel. A
//! [`PriceRow`] is a bar with its ticker, the unit providers hand over and
//! [`TickerStream`](crate::TickerStream) visits.

use std::collections::HashMap;

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
    /// A bar with only a close, as the wide CSV layout and the embedded sample carry.
    pub fn close_only(ticker: impl Into<String>, date: NaiveDate, close: f64) -> Self {
        Self::new(ticker.into(), Bar::close_only(date, close))
    }

    fn new(ticker: String, bar: Bar) -> Self {
        Self {
            ticker,
            date: bar.date,
            open: bar.open,
            high: bar.high,
            low: bar.low,
            close: bar.close,
            volume: bar.volume,
        }
    }

    /// The row without its ticker.
    pub(crate) fn bar(&self) -> Bar {
        let mut bar = Bar::close_only(self.date, self.close);
        (bar.open, bar.high, bar.low, bar.volume) = (self.open, self.high, self.low, self.volume);
        bar
    }
}

/// A bar without its ticker: what a [`Series`] stores and the checks and encodings of a table
/// read, so that they never build a ticker string per bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bar {
    pub(crate) date: NaiveDate,
    pub(crate) open: Option<f64>,
    pub(crate) high: Option<f64>,
    pub(crate) low: Option<f64>,
    pub(crate) close: f64,
    pub(crate) volume: Option<f64>,
}

impl Bar {
    pub(crate) fn close_only(date: NaiveDate, close: f64) -> Self {
        Self {
            date,
            open: None,
            high: None,
            low: None,
            close,
            volume: None,
        }
    }

    /// The price fields by name: `open`, `high`, `low` (each when present) and `close`.
    pub(crate) fn prices(&self) -> [(&'static str, Option<f64>); 4] {
        [
            ("open", self.open),
            ("high", self.high),
            ("low", self.low),
            ("close", Some(self.close)),
        ]
    }
}

/// An optional field of a series: the values up to the last bar that has one (`None` for a bar
/// without it), nothing at all when no bar has it, as for every bar of a close-only source.
#[derive(Debug, Clone, PartialEq, Default)]
struct Sparse(Vec<Option<f64>>);

impl Sparse {
    const fn new() -> Self {
        Self(Vec::new())
    }

    fn get(&self, i: usize) -> Option<f64> {
        self.0.get(i).copied().flatten()
    }

    /// Sets the value of bar `i`, the bars being set in order.
    fn push(&mut self, i: usize, value: Option<f64>) {
        if let Some(value) = value {
            self.0.resize(i, None);
            self.0.push(Some(value));
        }
    }
}

/// The bars of one ticker, ascending dates (a repeated date is kept, for
/// [`validate`](crate::validate()) to report), stored by field.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    dates: Vec<NaiveDate>,
    closes: Vec<f64>,
    open: Sparse,
    high: Sparse,
    low: Sparse,
    volume: Sparse,
}

/// What [`PriceTable::rows_of`] returns for a ticker without bars.
static NO_BARS: Series = Series {
    dates: Vec::new(),
    closes: Vec::new(),
    open: Sparse::new(),
    high: Sparse::new(),
    low: Sparse::new(),
    volume: Sparse::new(),
};

impl Series {
    /// Number of bars.
    pub fn len(&self) -> usize {
        self.dates.len()
    }

    /// Whether the ticker has no bar.
    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    /// The dates, ascending.
    pub fn dates(&self) -> &[NaiveDate] {
        &self.dates
    }

    /// The closes, one per date.
    pub fn closes(&self) -> &[f64] {
        &self.closes
    }

    /// The bars as rows of `ticker`, in date order (a string per row: for small tables and
    /// tests, not for a whole index).
    pub fn rows<'a>(&'a self, ticker: &'a str) -> impl Iterator<Item = PriceRow> + 'a {
        self.bars().map(|bar| PriceRow::new(ticker.to_owned(), bar))
    }

    pub(crate) fn bar(&self, i: usize) -> Bar {
        Bar {
            date: self.dates[i],
            open: self.open.get(i),
            high: self.high.get(i),
            low: self.low.get(i),
            close: self.closes[i],
            volume: self.volume.get(i),
        }
    }

    pub(crate) fn bars(&self) -> impl Iterator<Item = Bar> + '_ {
        (0..self.len()).map(|i| self.bar(i))
    }

    /// An empty series with room for `bars` bars of dates and closes.
    pub(crate) fn with_capacity(bars: usize) -> Self {
        Self {
            dates: Vec::with_capacity(bars),
            closes: Vec::with_capacity(bars),
            ..Self::default()
        }
    }

    /// Adds a bar after the others (the caller keeps the dates in order).
    pub(crate) fn push(&mut self, bar: Bar) {
        let i = self.len();
        self.dates.push(bar.date);
        self.closes.push(bar.close);
        self.open.push(i, bar.open);
        self.high.push(i, bar.high);
        self.low.push(i, bar.low);
        self.volume.push(i, bar.volume);
    }

    /// The bars from `first` to `last` (inclusive), as a new series.
    pub(crate) fn window(&self, first: NaiveDate, last: NaiveDate) -> Self {
        let from = self.dates.partition_point(|d| *d < first);
        let to = self.dates.partition_point(|d| *d <= last);
        self.gather(from..to)
    }

    /// The bars of both, `newer`'s where both have a date.
    pub(crate) fn merged(older: &Self, newer: &Self) -> Self {
        let mut merged = Self::default();
        let (mut i, mut j) = (0, 0);
        while i < older.len() || j < newer.len() {
            let take_older =
                j == newer.len() || (i < older.len() && older.dates[i] < newer.dates[j]);
            if take_older {
                merged.push(older.bar(i));
                i += 1;
            } else {
                if i < older.len() && older.dates[i] == newer.dates[j] {
                    i += 1;
                }
                merged.push(newer.bar(j));
                j += 1;
            }
        }
        merged
    }

    /// Puts the bars in date order, keeping the order of bars with the same date (a no-op for a
    /// source in date order, as files usually are).
    fn sort_by_date(&mut self) {
        if self.dates.is_sorted() {
            return;
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by_key(|&i| self.dates[i]);
        *self = self.gather(order);
    }

    fn gather(&self, order: impl IntoIterator<Item = usize>) -> Self {
        let mut out = Self::default();
        for i in order {
            out.push(self.bar(i));
        }
        out
    }
}

/// A long price table: for each ticker of the universe, its bars by ascending date (see
/// [`Series`]). The universe is the configured order, which downstream panels keep; it may
/// name a ticker without bars only when the caller allowed it. [`validate`](crate::validate())
/// checks the rest: no repeated `(ticker, date)`, valid prices.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceTable {
    tickers: Vec<String>,
    /// One per ticker, in universe order.
    series: Vec<Series>,
    /// The earliest bar given to [`PriceTable::from_rows`] for a ticker outside the universe:
    /// [`validate`](crate::validate()) reports it after the universe's bars.
    unlisted: Option<(String, NaiveDate)>,
}

impl PriceTable {
    /// Builds a table from rows in any order: each ticker's rows are stably sorted by date.
    /// A row whose ticker is not in `tickers` is not kept; [`validate`](crate::validate())
    /// reports it.
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
    /// let order: Vec<(String, NaiveDate)> = table.rows().map(|r| (r.ticker, r.date)).collect();
    /// assert_eq!(order, [("MSFT".into(), d(3)), ("AAPL".into(), d(2)), ("AAPL".into(), d(3))]);
    /// assert_eq!(table.rows_of("AAPL").closes(), [185.64, 184.25]);
    /// assert_eq!(table.last_date("AAPL"), Some(d(3)));
    /// ```
    pub fn from_rows(tickers: Vec<String>, rows: impl IntoIterator<Item = PriceRow>) -> Self {
        let position: HashMap<String, usize> = tickers
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect();
        let mut builder = TableBuilder::new(tickers);
        for row in rows {
            match position.get(&row.ticker) {
                Some(&id) => builder.push(id, row.bar()),
                None => builder.unlisted(row.ticker, row.date),
            }
        }
        builder.finish()
    }

    /// A table of series already in date order, one per ticker.
    pub(crate) fn from_series(tickers: Vec<String>, series: Vec<Series>) -> Self {
        debug_assert_eq!(tickers.len(), series.len());
        Self {
            tickers,
            series,
            unlisted: None,
        }
    }

    /// The universe, in its configured order.
    pub fn tickers(&self) -> &[String] {
        &self.tickers
    }

    /// Each ticker with its bars, in universe order.
    pub fn series(&self) -> impl Iterator<Item = (&str, &Series)> {
        self.tickers.iter().map(String::as_str).zip(&self.series)
    }

    /// The bars of `ticker` (empty when it has none or is not in the universe).
    pub fn rows_of(&self, ticker: &str) -> &Series {
        self.tickers
            .iter()
            .position(|t| t == ticker)
            .map_or(&NO_BARS, |i| &self.series[i])
    }

    /// Every bar as a row, in table order: ticker in universe order, then date (a string per
    /// row: for small tables and tests; [`PriceTable::series`] reads a whole index).
    pub fn rows(&self) -> impl Iterator<Item = PriceRow> + '_ {
        self.series()
            .flat_map(|(ticker, series)| series.rows(ticker))
    }

    /// Total number of bars.
    pub fn len(&self) -> usize {
        self.series.iter().map(Series::len).sum()
    }

    /// Whether the table has no bars at all.
    pub fn is_empty(&self) -> bool {
        self.series.iter().all(Series::is_empty)
    }

    /// Number of rows of each ticker, in universe order (0 for a ticker without rows).
    pub fn rows_per_ticker(&self) -> Vec<(String, usize)> {
        self.series()
            .map(|(ticker, series)| (ticker.to_owned(), series.len()))
            .collect()
    }

    /// First and last date over all rows, `None` when the table has no rows.
    pub fn date_range(&self) -> Option<(NaiveDate, NaiveDate)> {
        let first = self.series.iter().filter_map(|s| s.dates.first()).min()?;
        let last = self.series.iter().filter_map(|s| s.dates.last()).max()?;
        Some((*first, *last))
    }

    /// The last date of `ticker`, `None` when it has no rows.
    pub fn last_date(&self, ticker: &str) -> Option<NaiveDate> {
        self.rows_of(ticker).dates.last().copied()
    }

    pub(crate) fn unlisted(&self) -> Option<(&str, NaiveDate)> {
        self.unlisted
            .as_ref()
            .map(|(ticker, date)| (ticker.as_str(), *date))
    }
}

/// A table filled bar by bar, in any order, by ticker position: what the readers build, without
/// a ticker string per bar.
#[derive(Debug, Default)]
pub(crate) struct TableBuilder {
    table: PriceTable,
}

impl TableBuilder {
    pub(crate) fn new(tickers: Vec<String>) -> Self {
        let series = vec![Series::default(); tickers.len()];
        Self {
            table: PriceTable::from_series(tickers, series),
        }
    }

    /// Appends `ticker` to the universe; its position.
    pub(crate) fn add_ticker(&mut self, ticker: String) -> usize {
        self.table.tickers.push(ticker);
        self.table.series.push(Series::default());
        self.table.tickers.len() - 1
    }

    /// Adds a bar of the ticker at `position`.
    pub(crate) fn push(&mut self, position: usize, bar: Bar) {
        self.table.series[position].push(bar);
    }

    /// Records a bar of a ticker outside the universe: the earliest is reported.
    fn unlisted(&mut self, ticker: String, date: NaiveDate) {
        if self
            .table
            .unlisted
            .as_ref()
            .is_none_or(|(_, earliest)| date < *earliest)
        {
            self.table.unlisted = Some((ticker, date));
        }
    }

    /// The table, each series in date order.
    pub(crate) fn finish(mut self) -> PriceTable {
        for series in &mut self.table.series {
            series.sort_by_date();
        }
        self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ticker: &str, date: &str, close: f64) -> PriceRow {
        PriceRow::close_only(ticker, date.parse().unwrap(), close)
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
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
        let order: Vec<(String, NaiveDate)> = table.rows().map(|r| (r.ticker, r.date)).collect();
        assert_eq!(
            order,
            vec![
                ("MSFT".to_string(), d("2024-01-02")),
                ("AAPL".to_string(), d("2024-01-02")),
                ("AAPL".to_string(), d("2024-01-03")),
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
        assert_eq!(table.len(), 3);
        assert_eq!(table.rows_of("AAPL").len(), 2);
        assert!(table.rows_of("KO").is_empty());
        assert!(table.rows_of("NOPE").is_empty());
        assert_eq!(table.last_date("AAPL"), Some(d("2024-01-03")));
        assert_eq!(table.date_range(), Some((d("2024-01-02"), d("2024-01-03"))));
    }

    #[test]
    fn optional_fields_are_stored_only_as_far_as_a_bar_has_them() {
        let mut with_volume = row("AAA", "2024-01-03", 2.0);
        with_volume.volume = Some(7.0);
        let rows = vec![
            row("AAA", "2024-01-02", 1.0),
            with_volume,
            row("AAA", "2024-01-04", 3.0),
        ];
        let table = PriceTable::from_rows(vec!["AAA".into()], rows.clone());
        let series = table.rows_of("AAA");
        assert!(series.open.0.is_empty());
        assert_eq!(series.volume.0, [None, Some(7.0)]);
        assert_eq!(table.rows().collect::<Vec<_>>(), rows);
    }

    #[test]
    fn the_same_date_keeps_its_input_order_and_a_foreign_ticker_is_set_aside() {
        let table = PriceTable::from_rows(
            vec!["AAA".into()],
            vec![
                row("AAA", "2024-01-03", 1.0),
                row("ZZZ", "2024-01-05", 9.0),
                row("AAA", "2024-01-02", 2.0),
                row("AAA", "2024-01-03", 3.0),
                row("YYY", "2024-01-04", 9.0),
            ],
        );
        assert_eq!(table.rows_of("AAA").closes(), [2.0, 1.0, 3.0]);
        assert_eq!(table.unlisted(), Some(("YYY", d("2024-01-04"))));
    }

    #[test]
    fn merged_takes_the_newer_bar_of_a_shared_date() {
        let series = |rows: &[(&str, f64)]| {
            let rows = rows.iter().map(|&(date, close)| row("A", date, close));
            PriceTable::from_rows(vec!["A".into()], rows).series[0].clone()
        };
        let older = series(&[("2024-01-02", 1.0), ("2024-01-04", 2.0)]);
        let newer = series(&[
            ("2024-01-03", 5.0),
            ("2024-01-04", 6.0),
            ("2024-01-05", 7.0),
        ]);
        let merged = Series::merged(&older, &newer);
        assert_eq!(merged.closes(), [1.0, 5.0, 6.0, 7.0]);
        let window = merged.window(d("2024-01-03"), d("2024-01-04"));
        assert_eq!(window.closes(), [5.0, 6.0]);
    }
}
