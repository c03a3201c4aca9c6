//! Validation every load goes through, the universe/window selection, and the `--update` merge.

use std::collections::HashSet;

use chrono::NaiveDate;

use crate::error::{DataError, Result};
use crate::table::{Bar, PriceTable, Series};

/// Checks a table against the invariants every consumer relies on; `origin` (a file name or a
/// source name) prefixes the error.
///
/// Rules, checked in this order:
/// 1. at least one ticker and one row ([`DataError::EmptyUniverse`]);
/// 2. no ticker twice in `tickers` ([`DataError::DuplicateTicker`]);
/// 3. no `(ticker, date)` twice ([`DataError::DuplicateRow`]);
/// 4. `close` and, when present, `open`/`high`/`low` finite and `> 0`
///    ([`DataError::InvalidValue`] for NaN/inf, [`DataError::NonPositivePrice`] otherwise);
///    `volume`, when present, finite and `>= 0`.
///
/// Then a row that [`PriceTable::from_rows`] was given for a ticker outside the universe
/// ([`DataError::Unsorted`]). A table's rows are in order by construction: grouped by ticker in
/// universe order, ascending dates.
///
/// A ticker without rows is allowed here (a wide CSV column may be empty);
/// [`select`] is where a requested ticker without rows becomes an error.
/// Gaps between dates are allowed: markets close.
///
/// # Example
/// ```
/// use momentum_data::{DataError, PriceRow, PriceTable, validate};
/// let date = "2024-01-02".parse().unwrap();
/// let one = |close| {
///     PriceTable::from_rows(vec!["AAA".into()], vec![PriceRow::close_only("AAA", date, close)])
/// };
/// validate(&one(10.0), "inline")?;
/// let bad = one(f64::NAN);
/// assert!(matches!(validate(&bad, "inline"), Err(DataError::InvalidValue { .. })));
/// # Ok::<(), DataError>(())
/// ```
pub fn validate(table: &PriceTable, origin: &str) -> Result<()> {
    if table.tickers().is_empty() || (table.is_empty() && table.unlisted().is_none()) {
        return Err(DataError::EmptyUniverse {
            origin: origin.into(),
        });
    }
    check_universe(table.tickers(), origin)?;
    for (ticker, series) in table.series() {
        check_bars(ticker, series.bars(), origin)?;
    }
    match table.unlisted() {
        Some((ticker, date)) => Err(DataError::Unsorted {
            origin: origin.into(),
            ticker: ticker.into(),
            date,
            reason: "ticker is not in the universe",
        }),
        None => Ok(()),
    }
}

/// Rule 2 of [`validate`] (and no control character in a ticker).
pub(crate) fn check_universe(tickers: &[String], origin: &str) -> Result<()> {
    let mut seen = HashSet::new();
    for (position, ticker) in tickers.iter().enumerate() {
        // A control character (an escape sequence, a newline) would reach terminals and
        // report files; the ticker is named by its position, not echoed.
        if let Some(control) = ticker.chars().find(|c| c.is_control()) {
            return Err(DataError::ControlCharacter {
                origin: origin.into(),
                position: position + 1,
                code: u32::from(control),
            });
        }
        if !seen.insert(ticker.as_str()) {
            return Err(DataError::DuplicateTicker {
                origin: origin.into(),
                ticker: ticker.clone(),
            });
        }
    }
    Ok(())
}

/// Rules 3 and 4 of [`validate`] on the bars of one ticker, in ascending date order.
pub(crate) fn check_bars(
    ticker: &str,
    bars: impl IntoIterator<Item = Bar>,
    origin: &str,
) -> Result<()> {
    let mut previous: Option<NaiveDate> = None;
    for bar in bars {
        if previous == Some(bar.date) {
            return Err(DataError::DuplicateRow {
                origin: origin.into(),
                ticker: ticker.into(),
                date: bar.date,
            });
        }
        check_values(ticker, &bar, origin)?;
        previous = Some(bar.date);
    }
    Ok(())
}

fn check_values(ticker: &str, bar: &Bar, origin: &str) -> Result<()> {
    for (field, value) in bar.prices() {
        let Some(value) = value else { continue };
        if !value.is_finite() {
            return Err(DataError::InvalidValue {
                origin: origin.into(),
                ticker: ticker.into(),
                date: bar.date,
                field,
                value,
            });
        }
        if value <= 0.0 {
            return Err(DataError::NonPositivePrice {
                origin: origin.into(),
                ticker: ticker.into(),
                date: bar.date,
                field,
                value,
            });
        }
    }
    if let Some(volume) = bar.volume
        && (!volume.is_finite() || volume < 0.0)
    {
        return Err(DataError::InvalidValue {
            origin: origin.into(),
            ticker: ticker.into(),
            date: bar.date,
            field: "volume",
            value: volume,
        });
    }
    Ok(())
}

/// What to keep of a loaded table: the universe, the inclusive date window and whether a
/// requested ticker without rows may be dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniverseWindow {
    /// Requested tickers in the wanted order; empty means every ticker of the table, in its order.
    pub tickers: Vec<String>,
    /// First date kept (inclusive).
    pub start: NaiveDate,
    /// Last date kept (inclusive).
    pub end: NaiveDate,
    /// Drop requested tickers that have no rows in the window instead of failing.
    pub allow_missing: bool,
}

/// The result of [`select`]: the kept table and the tickers dropped for having no rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// The table restricted to the universe and window, validated.
    pub table: PriceTable,
    /// Requested tickers without rows in the window (only non-empty when `allow_missing`).
    pub dropped: Vec<String>,
}

/// Restricts `table` to the universe and window `wanted` and validates the result.
///
/// A requested ticker with no row in the window fails with [`DataError::MissingTickers`]
/// (naming all of them) unless `allow_missing`, which drops them from the universe and lists
/// them in [`Selected::dropped`]. An empty result is [`DataError::EmptyUniverse`].
///
/// # Example
/// ```
/// use momentum_data::{UniverseWindow, load_sample, select};
/// let sample = load_sample()?;
/// let wanted = UniverseWindow {
///     tickers: vec!["XOM".into(), "NOPE".into()],
///     start: "2022-12-01".parse().unwrap(),
///     end: "2022-12-31".parse().unwrap(),
///     allow_missing: true,
/// };
/// let selected = select(&sample, &wanted, "sample")?;
/// assert_eq!(selected.table.tickers(), ["XOM"]);
/// assert_eq!(selected.dropped, ["NOPE"]);
/// assert_eq!(selected.table.len(), 19); // the sample ends on 2022-12-28
/// // Without allow_missing the missing ticker is an error naming it.
/// let strict = UniverseWindow { allow_missing: false, ..wanted };
/// let err = select(&sample, &strict, "sample").unwrap_err();
/// assert!(err.to_string().contains("NOPE"), "{err}");
/// # Ok::<(), momentum_data::DataError>(())
/// ```
pub fn select(table: &PriceTable, wanted: &UniverseWindow, origin: &str) -> Result<Selected> {
    if wanted.start > wanted.end {
        return Err(DataError::InvalidWindow {
            start: wanted.start,
            end: wanted.end,
        });
    }
    let requested: Vec<String> = if wanted.tickers.is_empty() {
        table.tickers().to_vec()
    } else {
        let mut seen = HashSet::new();
        wanted
            .tickers
            .iter()
            .filter(|t| seen.insert(t.as_str()))
            .cloned()
            .collect()
    };
    let mut kept = Vec::new();
    let mut tickers = Vec::new();
    let mut dropped = Vec::new();
    for ticker in &requested {
        let series = table.rows_of(ticker).window(wanted.start, wanted.end);
        if series.is_empty() {
            dropped.push(ticker.clone());
        } else {
            tickers.push(ticker.clone());
            kept.push(series);
        }
    }
    if tickers.is_empty()
        && let Some((first, last)) = table.date_range()
    {
        return Err(DataError::OutsideWindow {
            origin: origin.into(),
            start: wanted.start,
            end: wanted.end,
            first,
            last,
        });
    }
    if !dropped.is_empty() && !wanted.allow_missing {
        return Err(DataError::MissingTickers {
            origin: origin.into(),
            tickers: dropped,
            start: wanted.start,
            end: wanted.end,
        });
    }
    let table = PriceTable::from_series(tickers, kept);
    validate(&table, origin)?;
    Ok(Selected { table, dropped })
}

/// Merges freshly loaded rows into a cached table for `--update`.
///
/// The universe is the cached tickers in their order followed by new tickers in `fresh`'s
/// order. Where both have a `(ticker, date)`, the fresh row wins: a provider may revise a recent
/// bar (late volume, corrected close). The result is sorted like any [`PriceTable`].
///
/// # Example
/// ```
/// use chrono::NaiveDate;
/// use momentum_data::{PriceRow, PriceTable, merge};
/// let d = |day| NaiveDate::from_ymd_opt(2024, 1, day).unwrap();
/// let cached = PriceTable::from_rows(
///     vec!["AAA".into()],
///     vec![PriceRow::close_only("AAA", d(2), 10.0), PriceRow::close_only("AAA", d(3), 11.0)],
/// );
/// let fresh = PriceTable::from_rows(
///     vec!["BBB".into(), "AAA".into()],
///     vec![
///         PriceRow::close_only("AAA", d(3), 11.5),
///         PriceRow::close_only("AAA", d(4), 12.0),
///         PriceRow::close_only("BBB", d(4), 5.0),
///     ],
/// );
/// let merged = merge(&cached, &fresh);
/// assert_eq!(merged.tickers(), ["AAA", "BBB"]);
/// assert_eq!(merged.rows_of("AAA").closes(), [10.0, 11.5, 12.0]); // the fresh bar of day 3 wins
/// ```
pub fn merge(cached: &PriceTable, fresh: &PriceTable) -> PriceTable {
    let mut tickers = cached.tickers().to_vec();
    for ticker in fresh.tickers() {
        if !tickers.contains(ticker) {
            tickers.push(ticker.clone());
        }
    }
    let series = tickers
        .iter()
        .map(|ticker| Series::merged(cached.rows_of(ticker), fresh.rows_of(ticker)))
        .collect();
    PriceTable::from_series(tickers, series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::PriceRow;

    fn row(ticker: &str, date: &str, close: f64) -> PriceRow {
        PriceRow::close_only(ticker, date.parse().unwrap(), close)
    }

    fn table(rows: Vec<PriceRow>) -> PriceTable {
        PriceTable::from_rows(vec!["AAA".into(), "BBB".into()], rows)
    }

    #[test]
    fn a_ticker_with_a_control_character_is_named_by_position_not_echoed() {
        let table = PriceTable::from_rows(
            vec!["AAA".into(), "B\u{1b}[31mB".into()],
            vec![
                row("AAA", "2024-01-02", 1.0),
                row("B\u{1b}[31mB", "2024-01-02", 1.0),
            ],
        );
        let err = validate(&table, "prices.csv").unwrap_err().to_string();
        assert_eq!(
            err,
            "prices.csv: ticker number 2 holds the control character U+001B"
        );
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_clean_table_passes_and_gaps_are_allowed() {
        let t = table(vec![
            row("AAA", "2024-01-02", 1.0),
            row("AAA", "2024-03-01", 2.0),
        ]);
        validate(&t, "t").unwrap();
    }

    #[test]
    fn each_rule_gives_its_variant() {
        let empty = PriceTable::from_rows(vec!["AAA".into()], vec![]);
        assert!(matches!(
            validate(&empty, "t"),
            Err(DataError::EmptyUniverse { .. })
        ));

        let dup = table(vec![
            row("AAA", "2024-01-02", 1.0),
            row("AAA", "2024-01-02", 2.0),
        ]);
        let err = validate(&dup, "f.csv").unwrap_err();
        assert!(matches!(err, DataError::DuplicateRow { .. }));
        assert_eq!(
            err.to_string(),
            "f.csv: AAA has more than one row dated 2024-01-02"
        );

        let zero = table(vec![row("BBB", "2024-01-02", 0.0)]);
        let err = validate(&zero, "f.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.csv: BBB on 2024-01-02: close is 0, prices must be > 0"
        );

        let nan = table(vec![row("BBB", "2024-01-02", f64::NAN)]);
        assert!(matches!(
            validate(&nan, "t"),
            Err(DataError::InvalidValue { field: "close", .. })
        ));

        let mut neg_volume = row("AAA", "2024-01-02", 1.0);
        neg_volume.volume = Some(-1.0);
        assert!(matches!(
            validate(&table(vec![neg_volume]), "t"),
            Err(DataError::InvalidValue {
                field: "volume",
                ..
            })
        ));

        // A foreign row is reported after the universe's rows, however they came.
        let foreign = PriceTable::from_rows(
            vec!["AAA".into()],
            vec![row("ZZZ", "2024-01-02", 1.0), row("AAA", "2024-01-03", 1.0)],
        );
        let err = validate(&foreign, "t").unwrap_err();
        assert!(matches!(err, DataError::Unsorted { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "t: ZZZ on 2024-01-02: ticker is not in the universe"
        );
        let foreign_and_bad = PriceTable::from_rows(
            vec!["AAA".into()],
            vec![
                row("ZZZ", "2024-01-02", 1.0),
                row("AAA", "2024-01-03", -1.0),
            ],
        );
        assert!(matches!(
            validate(&foreign_and_bad, "t"),
            Err(DataError::NonPositivePrice { .. })
        ));

        let twice = PriceTable::from_rows(
            vec!["AAA".into(), "AAA".into()],
            vec![row("AAA", "2024-01-02", 1.0)],
        );
        assert!(matches!(
            validate(&twice, "t"),
            Err(DataError::DuplicateTicker { .. })
        ));
    }

    #[test]
    fn select_keeps_window_and_order_and_reports_missing() {
        let t = table(vec![
            row("AAA", "2024-01-02", 1.0),
            row("AAA", "2024-01-03", 2.0),
            row("BBB", "2024-01-02", 3.0),
        ]);
        let mut sel = UniverseWindow {
            tickers: vec!["BBB".into(), "AAA".into()],
            start: d("2024-01-03"),
            end: d("2024-12-31"),
            allow_missing: false,
        };
        let err = select(&t, &sel, "sample").unwrap_err();
        assert_eq!(
            err.to_string(),
            "sample: no prices for BBB between 2024-01-03 and 2024-12-31 \
             (pass --allow-missing to drop them)"
        );
        // No requested ticker in the window, whatever allow_missing says: the window is named
        // with the dates the input has.
        for allow_missing in [false, true] {
            let outside = UniverseWindow {
                tickers: Vec::new(),
                start: d("2022-01-01"),
                end: d("2022-12-31"),
                allow_missing,
            };
            assert_eq!(
                select(&t, &outside, "prices.csv").unwrap_err().to_string(),
                "prices.csv: no prices between 2022-01-01 and 2022-12-31; its prices run from \
                 2024-01-02 to 2024-01-03 (--start/--end, or data.start/data.end)"
            );
        }
        sel.allow_missing = true;
        let kept = select(&t, &sel, "sample").unwrap();
        assert_eq!(kept.dropped, vec!["BBB".to_string()]);
        assert_eq!(kept.table.tickers(), ["AAA"]);
        assert_eq!(
            kept.table.rows().collect::<Vec<_>>(),
            [row("AAA", "2024-01-03", 2.0)]
        );

        sel.tickers = vec!["BBB".into(), "AAA".into()];
        sel.start = d("2024-01-01");
        let both = select(&t, &sel, "sample").unwrap();
        assert_eq!(both.table.tickers(), ["BBB", "AAA"]);
        assert_eq!(both.table.rows().next().unwrap().ticker, "BBB");

        sel.start = d("2025-01-01");
        sel.end = d("2024-01-01");
        assert!(matches!(
            select(&t, &sel, "s"),
            Err(DataError::InvalidWindow { .. })
        ));
    }

    #[test]
    fn merge_keeps_cached_order_and_fresh_rows_win() {
        let cached = table(vec![
            row("AAA", "2024-01-02", 1.0),
            row("AAA", "2024-01-03", 2.0),
        ]);
        let fresh = PriceTable::from_rows(
            vec!["CCC".into(), "AAA".into()],
            vec![
                row("AAA", "2024-01-03", 2.5),
                row("AAA", "2024-01-04", 3.0),
                row("CCC", "2024-01-04", 9.0),
            ],
        );
        let merged = merge(&cached, &fresh);
        assert_eq!(merged.tickers(), ["AAA", "BBB", "CCC"]);
        let closes: Vec<f64> = merged.rows().map(|r| r.close).collect();
        assert_eq!(closes, [1.0, 2.5, 3.0, 9.0]);
        validate(&merged, "merged").unwrap();
    }
}
