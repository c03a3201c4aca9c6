//! Integration tests of momentum-engine: hand-computed panels for every rule of the spec, a
//! slow reference implementation compared on random panels, properties, and the selection
//! statistics pinned against independently computed numbers.

mod compare;
mod cpcv;
mod experiment;
mod hand;
mod props;
mod reference;
mod search;
mod shard;
mod stats;

use chrono::NaiveDate;
use momentum_features::PricePanel;

/// A panel from rows of closes (`NAN` = missing), tickers `A, B, C, ...`.
pub fn panel(rows: &[&[f64]]) -> PricePanel {
    let n = rows[0].len();
    let dates = (0..rows.len())
        .map(|d| NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(d as u64))
        .collect();
    let tickers = (0..n)
        .map(|i| char::from(b'A' + i as u8).to_string())
        .collect();
    let close = ndarray::Array2::from_shape_fn((rows.len(), n), |(t, i)| rows[t][i]);
    PricePanel::new(dates, tickers, close).unwrap()
}

/// `|a - b| <= tol * max(1, |b|)`.
pub fn close_to(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * b.abs().max(1.0) || (a.is_nan() && b.is_nan())
}
