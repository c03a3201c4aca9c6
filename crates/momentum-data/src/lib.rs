//! Daily price ingestion for momentum: every provider, one validated table, one Parquet cache.
//!
//! This crate owns the first stage of the pipeline. It turns a price source into a
//! [`PriceTable`] (long layout: one bar per ticker and trading day, ordered by ticker in universe
//! order then date, stored by column as one [`Series`] per ticker), checks it with
//! [`validate()`], and caches it as Parquet beside a lineage [`Manifest`] whose [`digest`]
//! identifies the data independently of the file bytes. A [`PriceRow`] is one bar with its
//! ticker: what providers hand over and [`TickerStream`] visits.
//!
//! # Contents
//! - **Providers** ([`Source`]): the embedded sample ([`load_sample`], plus the index
//!   [`load_sample_index`] as a benchmark), CSV files ([`read_csv`], [`parse_csv`]), Parquet
//!   files ([`read_parquet`]) and the Financial Datasets API ([`FinancialDatasetsClient`],
//!   configured by [`ClientConfig`]). [`load_local`] dispatches the file-based ones.
//! - **Validation and selection**: [`validate()`], [`select`] with [`UniverseWindow`] (universe, window,
//!   `allow_missing`), and [`merge`] plus [`plan_requests`] for incremental `--update`s;
//!   [`implausible_prices`] finds valid prices outside a [`PlausibleRange`].
//! - **Storage**: [`write_parquet`] / [`read_parquet`] ([`price_schema`]), [`TickerStream`] (the
//!   same file one ticker at a time), [`Manifest`], [`write_manifest`], [`read_manifest`],
//!   [`manifest_path`], [`digest`] ([`TableDigest`] as the rows go by), and the all-or-nothing
//!   [`write_atomic`] that every writer here (and the binary's reports) goes through.
//! - **Dates**: [`new_york_date`], the trading date of an API timestamp.
//! - **Errors**: [`DataError`], one variant per failure, each naming its file, ticker, line or date.
//!
//! # Example
//! ```
//! # fn main() -> Result<(), momentum_data::DataError> {
//! use momentum_data::{load_sample, select, UniverseWindow};
//! let sample = load_sample()?;
//! assert_eq!(sample.tickers().len(), 20);
//! let window = UniverseWindow {
//!     tickers: vec!["MSFT".into(), "AAPL".into()],
//!     start: "2022-01-01".parse().unwrap(),
//!     end: "2022-12-31".parse().unwrap(),
//!     allow_missing: false,
//! };
//! let picked = select(&sample, &window, "sample")?;
//! assert_eq!(picked.table.tickers(), ["MSFT", "AAPL"]);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//! - `http` (default): the Financial Datasets client (tokio, reqwest, `momentum-http`).
//! - `parquet` (default): Parquet read/write of the price table (arrow, parquet).
//!
//! Without them the crate still reads the sample and CSV files, validates, selects, merges,
//! digests, writes manifests and writes files atomically.
#![warn(missing_docs)]

mod atomic;
mod csvfile;
mod error;
#[cfg(feature = "http")]
mod financialdatasets;
mod manifest;
mod nydate;
mod plausible;
mod source;
#[cfg(feature = "parquet")]
mod store;
mod table;
mod validate;

pub use atomic::{write_atomic, write_together};
pub use csvfile::{
    InputLimits, SAMPLE_ORIGIN, find_column, load_sample, load_sample_index, parse_csv, read_csv,
    read_csv_with_limits,
};
pub use error::{DataError, Result};
#[cfg(feature = "http")]
pub use financialdatasets::{
    API_KEY_ENV, BASE_URL_ENV, ClientConfig, DEFAULT_BASE_URL, FinancialDatasetsClient,
    detail_seconds,
};
pub use manifest::{
    DIGEST_ALGORITHM, Manifest, TableDigest, digest, manifest_path, read_manifest, write_manifest,
};
pub use nydate::{is_us_daylight_time, new_york_date};
pub use plausible::{
    Implausibility, ImplausiblePrice, PlausibleRange, implausible_closes, implausible_prices,
};
pub use source::{FetchRequest, Source, load_local, plan_requests};
#[cfg(feature = "parquet")]
pub use store::{
    TICKERS_METADATA_KEY, TickerStream, parquet_io_failure, price_schema, read_parquet,
    write_parquet,
};
pub use table::{PriceRow, PriceTable, Series};
pub use validate::{Selected, UniverseWindow, merge, select, validate};
