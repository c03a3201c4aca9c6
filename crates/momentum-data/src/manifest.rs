//! The content digest of a price table and the lineage manifest written beside its file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::atomic::write_atomic;
use crate::error::{DataError, Result};
use crate::table::{Bar, PriceRow, PriceTable};

/// The content digest of a table: lowercase hex SHA-256 of a canonical text encoding of its
/// universe and rows, so the same data gives the same digest whatever the file's bytes,
/// compression or writer version.
///
/// Encoding (UTF-8, `\n` line ends): a first line `tickers:` followed by the universe joined
/// with `,`; then one line per row, in table order (universe order, then date):
/// `ticker,YYYY-MM-DD,open,high,low,close,volume`, numbers written as the shortest decimal that
/// parses back to the same `f64` (Rust's `Display`: `0.264`, `169`, `35423294`), a missing value
/// as an empty field. For example a one-row table `AAA` on 2024-01-02 with close 1.5 encodes as
/// `"tickers:AAA\nAAA,2024-01-02,,,,1.5,\n"`.
///
/// # Example
/// ```
/// use momentum_data::{PriceRow, PriceTable, digest};
/// let table = PriceTable::from_rows(
///     vec!["AAA".into()],
///     vec![PriceRow::close_only("AAA", "2024-01-02".parse().unwrap(), 1.5)],
/// );
/// // printf 'tickers:AAA\nAAA,2024-01-02,,,,1.5,\n' | sha256sum
/// assert_eq!(digest(&table), "3a025da6a18ed2a79e37cef72a6961ad821a9f976ed6ec20456c6903083fff92");
/// ```
pub fn digest(table: &PriceTable) -> String {
    let mut digest = TableDigest::new(table.tickers());
    for (ticker, series) in table.series() {
        for bar in series.bars() {
            digest.push_bar(ticker, &bar);
        }
    }
    digest.finish()
}

/// [`digest`] computed as the rows go by, for a reader that never holds the whole table
/// ([`TickerStream`](crate::TickerStream)): the universe first, then the rows in table order.
///
/// # Example
/// ```
/// use momentum_data::{PriceRow, PriceTable, TableDigest, digest};
/// let date = "2024-01-02".parse().unwrap();
/// let rows = vec![PriceRow::close_only("AAA", date, 1.5)];
/// let mut streamed = TableDigest::new(&["AAA".to_string()]);
/// streamed.push(&rows);
/// let table = PriceTable::from_rows(vec!["AAA".into()], rows);
/// assert_eq!(streamed.finish(), digest(&table));
/// ```
#[derive(Debug, Clone)]
pub struct TableDigest {
    hasher: Sha256,
    buffer: String,
}

impl TableDigest {
    /// Starts the encoding with the universe line.
    pub fn new(tickers: &[String]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(format!("tickers:{}\n", tickers.join(",")).as_bytes());
        // Formatting straight into one reused buffer, hashed in 64 KiB chunks, keeps this cheap
        // even in unoptimised builds (166k rows for the sample).
        Self {
            hasher,
            buffer: String::with_capacity(1 << 16),
        }
    }

    /// Adds rows, in table order.
    pub fn push(&mut self, rows: &[PriceRow]) {
        for row in rows {
            self.push_bar(&row.ticker, &row.bar());
        }
    }

    fn push_bar(&mut self, ticker: &str, bar: &Bar) {
        use std::fmt::Write as _;
        let optional = |buffer: &mut String, value: Option<f64>| {
            if let Some(value) = value {
                let _ = write!(buffer, "{value}");
            }
        };
        let buffer = &mut self.buffer;
        let (y, m, d) = (bar.date.year(), bar.date.month(), bar.date.day());
        let _ = write!(buffer, "{ticker},{y:04}-{m:02}-{d:02},");
        optional(buffer, bar.open);
        buffer.push(',');
        optional(buffer, bar.high);
        buffer.push(',');
        optional(buffer, bar.low);
        let _ = write!(buffer, ",{},", bar.close);
        optional(buffer, bar.volume);
        buffer.push('\n');
        if buffer.len() >= 1 << 16 {
            self.hasher.update(buffer.as_bytes());
            buffer.clear();
        }
    }

    /// The lowercase hex digest of everything pushed.
    pub fn finish(mut self) -> String {
        self.hasher.update(self.buffer.as_bytes());
        hex::encode(self.hasher.finalize())
    }
}

/// The lineage record written beside the Parquet file.
///
/// It holds nothing that changes between two runs over the same data (no timestamp, no host),
/// so DVC and `git diff` see a change only when the data or the request changed.
///
/// # Example
/// ```
/// use momentum_data::{
///     Manifest, digest, load_sample, manifest_path, read_manifest, write_manifest,
/// };
/// let dir = tempfile::tempdir().unwrap();
/// let sample = load_sample()?;
/// let parquet = dir.path().join("prices.parquet");
/// let requested = ("1990-01-01".parse().unwrap(), "2022-12-31".parse().unwrap());
/// let input = momentum_data::SAMPLE_ORIGIN;
/// let manifest = Manifest::describe("sample", input, &parquet, &sample, &[], requested, false);
/// assert_eq!((manifest.file.as_str(), manifest.rows), ("prices.parquet", 166_260));
/// assert_eq!(manifest.digest, digest(&sample));
/// let path = manifest_path(&parquet); // prices.manifest.json
/// write_manifest(&path, &manifest)?;
/// assert_eq!(read_manifest(&path)?, manifest);
/// # Ok::<(), momentum_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Provider name: `sample`, `csv`, `parquet` or `financialdatasets`.
    pub source: String,
    /// Input file for `csv`/`parquet`, the base URL for the API, the embedded file for `sample`.
    pub input: String,
    /// The Parquet file this manifest describes (file name only, it sits in the same directory).
    pub file: String,
    /// Universe in order.
    pub tickers: Vec<String>,
    /// Requested tickers dropped for having no rows (`--allow-missing`).
    pub dropped: Vec<String>,
    /// Requested window, inclusive.
    pub requested_start: NaiveDate,
    /// Requested window, inclusive.
    pub requested_end: NaiveDate,
    /// First date present.
    pub start: NaiveDate,
    /// Last date present.
    pub end: NaiveDate,
    /// Total rows.
    pub rows: usize,
    /// Rows of each ticker (JSON object with sorted keys).
    pub rows_per_ticker: BTreeMap<String, usize>,
    /// [`digest`] of the table.
    pub digest: String,
    /// How the digest was computed, so a future encoding change is detectable.
    pub digest_algorithm: String,
    /// Whether this run merged into an existing cache (`--update`).
    pub updated: bool,
    /// `momentum-data <version>`.
    pub tool: String,
}

/// The name of the digest encoding in [`Manifest::digest_algorithm`].
pub const DIGEST_ALGORITHM: &str = "sha256:momentum-prices-v1";

/// Where the manifest of a Parquet file lives: the extension replaced by `manifest.json`
/// (`data/raw/prices.parquet` -> `data/raw/prices.manifest.json`; `prices` ->
/// `prices.manifest.json`).
pub fn manifest_path(parquet_path: &Path) -> PathBuf {
    parquet_path.with_extension("manifest.json")
}

impl Manifest {
    /// Describes a written (non-empty, validated) `table`.
    ///
    /// # Panics
    /// When `table` has no rows; validated tables always have some.
    pub fn describe(
        source: &str,
        input: &str,
        parquet_path: &Path,
        table: &PriceTable,
        dropped: &[String],
        requested: (NaiveDate, NaiveDate),
        updated: bool,
    ) -> Self {
        let (start, end) = table.date_range().expect("a validated table has rows");
        Self {
            source: source.into(),
            input: input.into(),
            file: parquet_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            tickers: table.tickers().to_vec(),
            dropped: dropped.to_vec(),
            requested_start: requested.0,
            requested_end: requested.1,
            start,
            end,
            rows: table.len(),
            rows_per_ticker: table.rows_per_ticker().into_iter().collect(),
            digest: digest(table),
            digest_algorithm: DIGEST_ALGORITHM.into(),
            updated,
            tool: format!("momentum-data {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Writes `manifest` as pretty JSON, atomically.
pub fn write_manifest(path: &Path, manifest: &Manifest) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(manifest).map_err(|source| DataError::Json {
        path: path.into(),
        source,
    })?;
    json.push(b'\n');
    write_atomic(path, |file: &mut File| {
        file.write_all(&json)
            .map_err(|err| DataError::io(path, err))
    })
}

/// Reads a manifest written by [`write_manifest`].
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let bytes = std::fs::read(path).map_err(|err| DataError::io(path, err))?;
    serde_json::from_slice(&bytes).map_err(|source| DataError::Json {
        path: path.into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ticker: &str, date: &str, close: f64) -> PriceRow {
        PriceRow::close_only(ticker, date.parse().unwrap(), close)
    }

    #[test]
    fn digest_matches_sha256sum_of_the_documented_encoding() {
        let table = PriceTable::from_rows(vec!["AAA".into()], vec![row("AAA", "2024-01-02", 1.5)]);
        // printf 'tickers:AAA\nAAA,2024-01-02,,,,1.5,\n' | sha256sum
        assert_eq!(
            digest(&table),
            "3a025da6a18ed2a79e37cef72a6961ad821a9f976ed6ec20456c6903083fff92"
        );
    }

    #[test]
    fn the_digest_encodes_every_field_present_in_table_order() {
        let mut full = row("BBB", "2024-01-03", 1.5);
        (full.open, full.high, full.low, full.volume) =
            (Some(1.0), Some(2.0), Some(0.5), Some(1e8));
        let rows = vec![
            full,
            row("AAA", "2024-01-02", 3.0),
            row("BBB", "2024-01-02", 4.0),
        ];
        let table = PriceTable::from_rows(vec!["BBB".into(), "AAA".into()], rows);
        let text = "tickers:BBB,AAA\n\
                    BBB,2024-01-02,,,,4,\n\
                    BBB,2024-01-03,1,2,0.5,1.5,100000000\n\
                    AAA,2024-01-02,,,,3,\n";
        assert_eq!(digest(&table), hex::encode(Sha256::digest(text)));
        let mut streamed = TableDigest::new(table.tickers());
        streamed.push(&table.rows().collect::<Vec<_>>());
        assert_eq!(streamed.finish(), digest(&table));
    }

    #[test]
    fn manifest_path_replaces_the_extension() {
        assert_eq!(
            manifest_path(Path::new("data/raw/prices.parquet")),
            Path::new("data/raw/prices.manifest.json")
        );
        assert_eq!(
            manifest_path(Path::new("prices")),
            Path::new("prices.manifest.json")
        );
    }
}
