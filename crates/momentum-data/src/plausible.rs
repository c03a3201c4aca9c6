//! Prices that are valid but implausible: a value beyond a ceiling, or a close that jumps by
//! more than a factor from the ticker's previous close. Validation ([`crate::validate()`])
//! accepts them (a finite positive number is a price); left alone, one close of `1e308` turns
//! every downstream metric into a 300-digit number. The caller decides whether they warn or
//! refuse.

use std::fmt;

use chrono::NaiveDate;

use crate::table::PriceTable;

/// Where a price stops being plausible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlausibleRange {
    /// The largest plausible price (open, high, low or close).
    pub max_price: f64,
    /// The largest plausible one-day move of a close, as a factor: a close above
    /// `max_daily_jump` times the ticker's previous close, or below it divided by
    /// `max_daily_jump`, is implausible.
    pub max_daily_jump: f64,
}

impl Default for PlausibleRange {
    /// 1e9 (no listed stock has traded near it) and a factor of 5 (an unadjusted 1-for-5
    /// reverse split, or a fall of 80 % in one session: rare enough to be worth a look).
    fn default() -> Self {
        Self {
            max_price: 1e9,
            max_daily_jump: 5.0,
        }
    }
}

/// Why a price is implausible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Implausibility {
    /// A price above [`PlausibleRange::max_price`].
    AboveMax {
        /// `open`, `high`, `low` or `close`.
        field: &'static str,
        /// The price.
        value: f64,
        /// The ceiling it exceeds.
        max: f64,
    },
    /// A close that moved by more than [`PlausibleRange::max_daily_jump`] in one step.
    Jump {
        /// The ticker's previous trading day in the table.
        previous_date: NaiveDate,
        /// Its close.
        previous: f64,
        /// This day's close.
        close: f64,
        /// The factor it exceeds.
        max_factor: f64,
    },
}

/// One implausible price, named by its ticker and date.
#[derive(Debug, Clone, PartialEq)]
pub struct ImplausiblePrice {
    /// The ticker.
    pub ticker: String,
    /// The trading day.
    pub date: NaiveDate,
    /// What is implausible about it.
    pub why: Implausibility,
}

impl fmt::Display for ImplausiblePrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ticker, date) = (&self.ticker, self.date);
        match self.why {
            Implausibility::AboveMax { field, value, max } => {
                write!(f, "{ticker} {date}: {field} {value:e} is above {max:e}")
            }
            Implausibility::Jump {
                previous_date,
                previous,
                close,
                max_factor,
            } => {
                let factor = close / previous;
                let (moved, by) = if factor >= 1.0 {
                    ("rose", factor)
                } else {
                    ("fell", 1.0 / factor)
                };
                write!(
                    f,
                    "{ticker} {date}: close {close} {moved} {by:.1}x from {previous} on \
                     {previous_date} (more than {max_factor}x in one day)"
                )
            }
        }
    }
}

/// Every implausible price of a validated `table`, in its row order: the ceiling is checked on
/// every price field, the jump on consecutive closes of one ticker (a gap in dates is still one
/// step: the move happened between two quotes).
///
/// # Example
/// ```
/// use momentum_data::{Implausibility, PlausibleRange, PriceRow, PriceTable, implausible_prices};
/// let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
/// let rows = vec![
///     PriceRow::close_only("AAA", day(2), 10.0),
///     PriceRow::close_only("AAA", day(3), 49.0), // 4.9x: plausible
///     PriceRow::close_only("AAA", day(4), 9.0),  // 1/5.4: a jump
///     PriceRow::close_only("BBB", day(2), 2e9),  // above 1e9
/// ];
/// let table = PriceTable::from_rows(vec!["AAA".into(), "BBB".into()], rows);
/// let found = implausible_prices(&table, &PlausibleRange::default());
/// assert_eq!(found.len(), 2);
/// assert_eq!((found[0].ticker.as_str(), found[0].date), ("AAA", day(4)));
/// assert!(matches!(found[0].why, Implausibility::Jump { previous: 49.0, close: 9.0, .. }));
/// assert_eq!(
///     found[1].to_string(),
///     "BBB 2024-01-02: close 2e9 is above 1e9"
/// );
/// ```
pub fn implausible_prices(table: &PriceTable, range: &PlausibleRange) -> Vec<ImplausiblePrice> {
    let mut found = Vec::new();
    for (ticker, series) in table.series() {
        let mut previous: Option<(NaiveDate, f64)> = None;
        for bar in series.bars() {
            let mut flag = |why| {
                found.push(ImplausiblePrice {
                    ticker: ticker.into(),
                    date: bar.date,
                    why,
                })
            };
            for (field, value) in bar.prices() {
                if let Some(value) = value.filter(|v| *v > range.max_price) {
                    flag(Implausibility::AboveMax {
                        field,
                        value,
                        max: range.max_price,
                    });
                }
            }
            if let Some((previous_date, previous)) = previous {
                let factor = bar.close / previous;
                if factor > range.max_daily_jump || factor * range.max_daily_jump < 1.0 {
                    flag(Implausibility::Jump {
                        previous_date,
                        previous,
                        close: bar.close,
                        max_factor: range.max_daily_jump,
                    });
                }
            }
            previous = Some((bar.date, bar.close));
        }
    }
    found
}
