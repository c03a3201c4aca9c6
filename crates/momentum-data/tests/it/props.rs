//! Invariants over random tables: Parquet round trips exactly, the digest follows the data,
//! merging is idempotent and fresh rows win.

use chrono::{Duration, NaiveDate};
use momentum_data::{PriceRow, PriceTable, digest, merge};
#[cfg(feature = "parquet")]
use momentum_data::{read_parquet, validate, write_parquet};
use proptest::prelude::*;

fn price() -> impl Strategy<Value = f64> {
    (1u32..1_000_000).prop_map(|cents| f64::from(cents) / 1000.0)
}

fn row_for(ticker: usize, day: u16) -> impl Strategy<Value = PriceRow> {
    let opt = || proptest::option::of(price());
    (
        opt(),
        opt(),
        opt(),
        price(),
        proptest::option::of(0u32..10_000_000),
    )
        .prop_map(move |(open, high, low, close, volume)| PriceRow {
            ticker: format!("T{ticker}"),
            date: NaiveDate::from_ymd_opt(2000, 1, 3).unwrap() + Duration::days(i64::from(day)),
            open,
            high,
            low,
            close,
            volume: volume.map(f64::from),
        })
}

/// 1-4 tickers, each with a set of distinct days (possibly none).
fn table() -> impl Strategy<Value = PriceTable> {
    proptest::collection::vec(proptest::collection::btree_set(0u16..400, 0..30), 1..5)
        .prop_flat_map(|days| {
            let tickers: Vec<String> = (0..days.len()).rev().map(|i| format!("T{i}")).collect();
            let rows: Vec<_> = days
                .iter()
                .enumerate()
                .flat_map(|(i, set)| {
                    set.iter()
                        .map(move |&day| row_for(i, day))
                        .collect::<Vec<_>>()
                })
                .collect();
            rows.prop_map(move |rows| PriceTable::from_rows(tickers.clone(), rows))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[cfg(feature = "parquet")]
    #[test]
    fn parquet_round_trip_is_exact(table in table()) {
        prop_assume!(!table.is_empty());
        validate(&table, "generated").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.parquet");
        write_parquet(&path, &table).unwrap();
        let back = read_parquet(&path).unwrap();
        prop_assert_eq!(digest(&back), digest(&table));
        prop_assert_eq!(back, table);
    }

    #[test]
    fn merge_is_idempotent_and_fresh_rows_win(table in table(), bump in price()) {
        prop_assume!(!table.is_empty());
        prop_assert_eq!(&merge(&table, &table), &table);
        let mut rows: Vec<_> = table.rows().collect();
        let first = rows[0].close;
        rows[0].close = bump;
        let fresh = PriceTable::from_rows(table.tickers().to_vec(), rows);
        let merged = merge(&table, &fresh);
        prop_assert_eq!(merged.rows().next().unwrap().close, bump);
        prop_assert_eq!(digest(&merged) == digest(&table), bump == first);
    }
}
