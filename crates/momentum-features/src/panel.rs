//! The aligned close-price panel: dates x tickers, NaN where a ticker has no price.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use chrono::NaiveDate;
use momentum_data::PriceTable;
use ndarray::{Array2, ArrayView2, ShapeBuilder};

use crate::error::{FeaturesError, Result};

/// Close prices on a common calendar: `close[[t, i]]` is the close of ticker `i` on `dates[t]`.
///
/// Rows are trading days in strictly ascending order, columns the tickers in the configured
/// order. A missing price is NaN (every non-finite input is stored as NaN). Alongside the raw
/// closes the panel keeps the *carried* price: the last finite close of ticker `i` on or before
/// day `t` (NaN before its first price), which is what a held position is valued at when its
/// price is missing.
///
/// # Example
/// ```
/// use momentum_features::PricePanel;
/// let dates = (2..=4).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
/// // B has no price on the second day.
/// let close = ndarray::array![[10.0, 5.0], [11.0, f64::NAN], [12.0, 6.0]];
/// let panel = PricePanel::new(dates, vec!["A".into(), "B".into()], close)?;
/// assert_eq!((panel.n_days(), panel.n_tickers(), panel.count_prices()), (3, 2, 5));
/// assert!(panel.price(1, 1).is_nan());
/// assert_eq!(panel.carried()[[1, 1]], 5.0); // valued at its last price
/// assert_eq!(panel.close_row(2), [12.0, 6.0]);
/// # Ok::<(), momentum_features::FeaturesError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PricePanel {
    dates: Vec<NaiveDate>,
    tickers: Vec<String>,
    close: Array2<f64>,
    /// The carried closes, ticker-major (`i * T + t`), computed on first use: the size of
    /// `close`, which `features` and `scan` never read. One copy serves both the simulation's
    /// walks through one ticker's history and the day-by-ticker view of [`PricePanel::carried`].
    carried_by_ticker: OnceLock<Vec<f64>>,
}

/// The carried prices follow from the closes, so equal closes make equal panels (computed or
/// not).
impl PartialEq for PricePanel {
    fn eq(&self, other: &Self) -> bool {
        self.dates == other.dates && self.tickers == other.tickers && self.close == other.close
    }
}

impl PricePanel {
    /// Builds a panel from its parts, checking the shape, that dates strictly ascend and that
    /// tickers are unique. Non-finite prices become NaN.
    ///
    /// # Example
    /// ```
    /// use momentum_features::{FeaturesError, PricePanel};
    /// let day = |d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
    /// let dates = vec![day(2), day(3)];
    /// let tickers = vec!["A".to_string(), "B".to_string()];
    /// let close = ndarray::Array2::from_elem((2, 2), 1.0);
    /// let panel = PricePanel::new(dates.clone(), tickers.clone(), close)?;
    /// assert_eq!(panel.tickers(), ["A", "B"]);
    /// // Three rows for two dates is a shape error.
    /// let err = PricePanel::new(dates, tickers, ndarray::Array2::zeros((3, 2))).unwrap_err();
    /// assert!(matches!(err, FeaturesError::Shape { rows: 3, dates: 2, .. }));
    /// # Ok::<(), FeaturesError>(())
    /// ```
    pub fn new(dates: Vec<NaiveDate>, tickers: Vec<String>, close: Array2<f64>) -> Result<Self> {
        let (rows, cols) = close.dim();
        if rows != dates.len() || cols != tickers.len() {
            return Err(FeaturesError::Shape {
                rows,
                cols,
                dates: dates.len(),
                tickers: tickers.len(),
            });
        }
        if let Some(w) = dates.windows(2).find(|w| w[1] <= w[0]) {
            return Err(FeaturesError::UnsortedDates { date: w[1] });
        }
        check_unique(&tickers)?;
        // An array already in standard layout is kept, not copied: it may be the whole panel.
        let mut close = if close.is_standard_layout() {
            close
        } else {
            close.as_standard_layout().into_owned()
        };
        close.mapv_inplace(|p| if p.is_finite() { p } else { f64::NAN });
        Ok(Self {
            dates,
            tickers,
            close,
            carried_by_ticker: OnceLock::new(),
        })
    }

    /// Aligns a long [`PriceTable`]: the dates are the sorted union of all rows' dates, the
    /// tickers are `table.tickers()` in order (a ticker without rows gives an all-NaN column).
    ///
    /// # Example
    /// ```
    /// use momentum_features::PricePanel;
    /// let table = momentum_data::load_sample()?;
    /// let panel = PricePanel::from_table(&table)?;
    /// assert_eq!((panel.n_days(), panel.n_tickers()), (8313, 20));
    /// assert_eq!(panel.tickers(), table.tickers());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_table(table: &PriceTable) -> Result<Self> {
        let mut builder = PanelBuilder::new(table.tickers().to_vec())?;
        for (column, (_, series)) in table.series().enumerate() {
            let closes = series.closes().iter().copied();
            builder.set_series(column, series.dates().iter().copied().zip(closes));
        }
        builder.finish()
    }

    /// The rows on or after `start` (all tickers kept, even those without a price left).
    ///
    /// # Example
    /// ```
    /// use chrono::NaiveDate;
    /// use momentum_features::PricePanel;
    /// let panel = PricePanel::from_table(&momentum_data::load_sample()?)?;
    /// let recent = panel.since(NaiveDate::from_ymd_opt(2022, 12, 1).unwrap());
    /// assert_eq!(recent.n_days(), 19);
    /// assert_eq!(recent.dates()[0], NaiveDate::from_ymd_opt(2022, 12, 1).unwrap());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn since(&self, start: NaiveDate) -> Self {
        let from = self.dates.partition_point(|d| *d < start);
        let close = self
            .close
            .slice_axis(ndarray::Axis(0), ndarray::Slice::from(from..))
            .to_owned();
        Self::new(self.dates[from..].to_vec(), self.tickers.clone(), close)
            .expect("a row slice of a valid panel is valid")
    }

    /// Number of trading days `T`.
    pub fn n_days(&self) -> usize {
        self.dates.len()
    }

    /// Number of tickers `N`.
    pub fn n_tickers(&self) -> usize {
        self.tickers.len()
    }

    /// The trading days, ascending.
    pub fn dates(&self) -> &[NaiveDate] {
        &self.dates
    }

    /// The tickers in panel order.
    pub fn tickers(&self) -> &[String] {
        &self.tickers
    }

    /// Raw closes, NaN where missing.
    pub fn close(&self) -> ArrayView2<'_, f64> {
        self.close.view()
    }

    /// Carried closes: the last finite close on or before each day (NaN before the first),
    /// indexed `[[t, i]]` like [`PricePanel::close`] (a strided view of the ticker-major copy).
    pub fn carried(&self) -> ArrayView2<'_, f64> {
        let (days, n) = self.close.dim();
        ArrayView2::from_shape((days, n).strides((1, days)), self.carried_by_ticker_flat())
            .expect("the ticker-major copy holds days * tickers prices")
    }

    /// Close of ticker `i` on day `t` (NaN when missing).
    pub fn price(&self, t: usize, i: usize) -> f64 {
        self.close[[t, i]]
    }

    /// The closes of day `t`, one per ticker.
    pub fn close_row(&self, t: usize) -> &[f64] {
        let n = self.n_tickers();
        &self.close_flat()[t * n..(t + 1) * n]
    }

    /// All raw closes, row-major (`t * N + i`).
    pub fn close_flat(&self) -> &[f64] {
        self.close
            .as_slice()
            .expect("panel arrays are in standard layout")
    }

    /// All carried closes, ticker-major (`i * T + t`): one ticker's history is contiguous.
    pub fn carried_by_ticker_flat(&self) -> &[f64] {
        self.carried_by_ticker.get_or_init(|| {
            let days = self.n_days();
            let mut carried = Vec::with_capacity(days * self.n_tickers());
            for column in self.close.columns() {
                let mut last = f64::NAN;
                carried.extend(column.iter().map(|&p| {
                    if !p.is_nan() {
                        last = p;
                    }
                    last
                }));
            }
            carried
        })
    }

    /// Number of finite prices in the panel.
    pub fn count_prices(&self) -> usize {
        self.close.iter().filter(|p| p.is_finite()).count()
    }
}

/// Builds a [`PricePanel`] from one close series per ticker: what a reader that goes through a
/// price file one ticker at a time ([`momentum_data::TickerStream`]) aligns without a row
/// table. The columns are fixed up front; each gets its series once, in any order. The dates
/// are the sorted union of all series' dates.
///
/// The series are kept end to end in one buffer per field, not in one allocation per ticker:
/// hundreds of small long-lived blocks would stay interleaved with the reader's freed ones, and
/// the allocator could not give that memory back once the panel is built.
///
/// # Example
/// ```
/// use momentum_features::PanelBuilder;
/// let day = |d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
/// let mut builder = PanelBuilder::new(vec!["B".into(), "A".into(), "EMPTY".into()])?;
/// builder.set_series(1, [(day(3), 5.0)]);
/// builder.set_series(0, [(day(2), 10.0), (day(4), 11.0)]);
/// let panel = builder.finish()?;
/// assert_eq!(panel.dates(), [day(2), day(3), day(4)]);
/// assert_eq!(panel.tickers(), ["B", "A", "EMPTY"]);
/// assert!(panel.price(1, 0).is_nan());
/// assert!(panel.price(0, 2).is_nan()); // a column without a series is empty
/// # Ok::<(), momentum_features::FeaturesError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PanelBuilder {
    tickers: Vec<String>,
    /// Every series' dates, end to end.
    dates: Vec<NaiveDate>,
    /// Every series' closes, end to end (`closes[k]` is on `dates[k]`).
    closes: Vec<f64>,
    /// Column `i`'s series: `dates[spans[i].clone()]`; empty until set.
    spans: Vec<Range<usize>>,
}

impl PanelBuilder {
    /// A builder of a panel with these columns, in this order, all empty.
    ///
    /// # Errors
    /// [`FeaturesError::DuplicateTicker`] for a ticker named twice.
    pub fn new(tickers: Vec<String>) -> Result<Self> {
        check_unique(&tickers)?;
        let spans = vec![0..0; tickers.len()];
        Ok(Self {
            tickers,
            dates: Vec::new(),
            closes: Vec::new(),
            spans,
        })
    }

    /// Gives column `column` its closes, as `(date, close)` pairs in any order.
    ///
    /// # Panics
    /// When `column` is out of range or already has a series.
    pub fn set_series(
        &mut self,
        column: usize,
        series: impl IntoIterator<Item = (NaiveDate, f64)>,
    ) {
        assert!(self.spans[column].is_empty(), "one series per column");
        let start = self.dates.len();
        for (date, close) in series {
            self.dates.push(date);
            self.closes.push(close);
        }
        self.spans[column] = start..self.dates.len();
    }

    /// The aligned panel.
    ///
    /// # Errors
    /// [`FeaturesError::DuplicatePrice`] for a date twice in one series.
    pub fn finish(self) -> Result<PricePanel> {
        let mut dates: Vec<NaiveDate> = Vec::new();
        for span in &self.spans {
            dates.extend(&self.dates[span.clone()]);
            dates.sort_unstable();
            dates.dedup();
        }
        let mut close = Array2::from_elem((dates.len(), self.tickers.len()), f64::NAN);
        let mut filled = vec![false; dates.len()];
        for (i, (ticker, span)) in self.tickers.iter().zip(&self.spans).enumerate() {
            filled.fill(false);
            for k in span.clone() {
                let date = self.dates[k];
                let t = dates
                    .binary_search(&date)
                    .expect("every series date is in the union");
                if filled[t] {
                    return Err(FeaturesError::DuplicatePrice {
                        ticker: ticker.clone(),
                        date,
                    });
                }
                filled[t] = true;
                close[[t, i]] = self.closes[k];
            }
        }
        PricePanel::new(dates, self.tickers, close)
    }
}

/// [`FeaturesError::DuplicateTicker`] for the first ticker named twice.
fn check_unique(tickers: &[String]) -> Result<()> {
    let mut seen = HashMap::with_capacity(tickers.len());
    for t in tickers {
        if seen.insert(t.as_str(), ()).is_some() {
            return Err(FeaturesError::DuplicateTicker { ticker: t.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use momentum_data::PriceRow;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, day).unwrap()
    }

    fn row(ticker: &str, day: u32, close: f64) -> PriceRow {
        PriceRow::close_only(ticker, d(day), close)
    }

    #[test]
    fn aligns_on_the_union_of_dates_with_nan_and_keeps_the_universe_order() {
        let table = PriceTable::from_rows(
            vec!["B".into(), "A".into(), "EMPTY".into()],
            vec![row("B", 2, 10.0), row("B", 4, 11.0), row("A", 3, 5.0)],
        );
        let p = PricePanel::from_table(&table).unwrap();
        assert_eq!(p.dates(), &[d(2), d(3), d(4)]);
        assert_eq!(p.tickers(), &["B", "A", "EMPTY"]);
        assert_eq!(p.price(0, 0), 10.0);
        assert!(p.price(1, 0).is_nan());
        assert_eq!(p.carried()[[1, 0]], 10.0);
        assert!(p.carried()[[0, 1]].is_nan());
        assert_eq!(p.carried()[[2, 1]], 5.0);
        assert!(p.close().column(2).iter().all(|x| x.is_nan()));
    }

    #[test]
    fn rejects_duplicates_and_unsorted_dates() {
        let table =
            PriceTable::from_rows(vec!["A".into()], vec![row("A", 2, 1.0), row("A", 2, 2.0)]);
        assert!(matches!(
            PricePanel::from_table(&table),
            Err(FeaturesError::DuplicatePrice { .. })
        ));
        let err = PricePanel::new(vec![d(3), d(2)], vec!["A".into()], Array2::zeros((2, 1)));
        assert!(matches!(err, Err(FeaturesError::UnsortedDates { date }) if date == d(2)));
    }

    #[test]
    fn non_finite_prices_are_missing() {
        let close = ndarray::array![[1.0], [f64::INFINITY], [2.0]];
        let p = PricePanel::new(vec![d(1), d(2), d(3)], vec!["A".into()], close).unwrap();
        assert!(p.price(1, 0).is_nan());
        assert_eq!(p.carried()[[1, 0]], 1.0);
        assert_eq!(p.since(d(2)).n_days(), 2);
    }
}
