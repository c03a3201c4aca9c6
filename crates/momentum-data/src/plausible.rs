//! Prices that are valid but implausible: a value beyond a ceiling, or a close that jumps by
//! more than a factor from the ticker's previous close. Validation ([`crate::validate()`])
//! accepts them (a finite positive number is a price); left alone, one close of `1e308` turns
//! every downstream metric into a 300-digit number. The caller decides whether they warn or
//! refuse.

use std::fmt;

use chrono::NaiveDate;

use crate::table::{Bar, PriceTable};

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
                let (moved, by) = if close >= previous {
                    ("rose", close / previous)
                } else {
                    ("fell", previous / close)
                };
                // One decimal for an ordinary factor; a factor beyond any price's range (a
                // close of 1e-320) as such.
                let by = match by {
                    by if by < 1e6 => format!("{by:.1}"),
                    by if by.is_finite() => format!("{by:.0e}"),
                    _ => "more than 1e308".into(),
                };
                write!(
                    f,
                    "{ticker} {date}: close {} {moved} {by}x from {} on {previous_date} (more \
                     than {max_factor}x in one day)",
                    Compact(close),
                    Compact(previous)
                )
            }
        }
    }
}

/// A price in plain digits, or in scientific notation where plain digits would run long
/// (`1e308` has 309 of them).
struct Compact(f64);

impl fmt::Display for Compact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v != 0.0 && !(1e-4..1e9).contains(&v.abs()) {
            write!(f, "{v:e}")
        } else {
            write!(f, "{v}")
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
        found.extend(implausible_bars(ticker, series.bars(), range));
    }
    found
}

/// [`implausible_prices`] of one ticker's closes, `(date, close)` in date order: the check of
/// a source that is not a [`PriceTable`] (an aligned panel's column).
///
/// ```
/// use momentum_data::{PlausibleRange, implausible_closes};
/// let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
/// let closes = [(day(2), 10.0), (day(3), 1e12)];
/// let found = implausible_closes("AAA", closes.into_iter(), &PlausibleRange::default());
/// // Above the ceiling, and a jump of 1e11 times.
/// assert_eq!(found.len(), 2);
/// assert_eq!(
///     found[1].to_string(),
///     "AAA 2024-01-03: close 1e12 rose 1e11x from 10 on 2024-01-02 (more than 5x in one day)"
/// );
/// ```
pub fn implausible_closes(
    ticker: &str,
    closes: impl Iterator<Item = (NaiveDate, f64)>,
    range: &PlausibleRange,
) -> Vec<ImplausiblePrice> {
    let bars = closes.map(|(date, close)| Bar::close_only(date, close));
    implausible_bars(ticker, bars, range)
}

/// The implausible prices of one ticker's `bars`, in date order.
fn implausible_bars(
    ticker: &str,
    bars: impl Iterator<Item = Bar>,
    range: &PlausibleRange,
) -> Vec<ImplausiblePrice> {
    let mut found = Vec::new();
    let mut previous: Option<(NaiveDate, f64)> = None;
    for bar in bars {
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
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Extreme prices read as numbers: not 309 digits for `1e308`, not `infx` for a fall to a
    /// subnormal close.
    #[test]
    fn an_extreme_jump_is_shown_in_scientific_notation() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
        let range = PlausibleRange::default();
        let shown = |closes: [f64; 2]| {
            let closes = [(day(2), closes[0]), (day(3), closes[1])];
            let found = implausible_closes("AAA", closes.into_iter(), &range);
            found.last().unwrap().to_string()
        };
        assert_eq!(
            shown([100.0, 1e308]),
            "AAA 2024-01-03: close 1e308 rose 1e306x from 100 on 2024-01-02 (more than 5x in \
             one day)"
        );
        assert_eq!(
            shown([100.0, 1e-320]),
            "AAA 2024-01-03: close 1e-320 fell more than 1e308x from 100 on 2024-01-02 (more \
             than 5x in one day)"
        );
        assert_eq!(
            shown([100.0, 12.5]),
            "AAA 2024-01-03: close 12.5 fell 8.0x from 100 on 2024-01-02 (more than 5x in one \
             day)"
        );
    }
}
