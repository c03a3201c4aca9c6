//! The panel on disk: `data/features/panel.parquet`.
//!
//! Layout (`momentum.panel.layout = wide/v1`): one row per trading day, ascending; column `date`
//! (`Date32`, not null) then one nullable `Float64` column per ticker, named by the ticker, in
//! panel order. Null is a missing price. File key-value metadata carries
//! `momentum.panel.layout` and, when known, `momentum.data.digest` (the digest of the price
//! table the panel was built from), so later stages can report the data lineage. ZSTD
//! compressed, in row groups of 1,024 days, without dictionary encoding (closes rarely repeat
//! within a column, and a dictionary per column held hundreds of MB at index scale). Written atomically ([`momentum_data::write_atomic`]): a temporary file in the
//! same directory, then a rename.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Date32Array, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use chrono::NaiveDate;
use ndarray::Array2;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;

use crate::error::{FeaturesError, Result};
use crate::panel::PricePanel;

/// Metadata key of the layout tag.
pub const LAYOUT_KEY: &str = "momentum.panel.layout";
/// The layout tag this crate writes and reads.
pub const LAYOUT: &str = "wide/v1";
/// Metadata key of the price table's digest.
pub const DIGEST_KEY: &str = "momentum.data.digest";

/// Days per Arrow batch handed to the writer, and per row group: the writer's state for the
/// hundreds of columns of an index-sized panel (a compressor and the pages of each) lives only
/// until its row group closes, instead of for the whole file.
const BATCH_DAYS: usize = 1024;

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const EPOCH_CE_DAYS: i32 = 719_163;

/// A panel read back from disk, with the lineage digest it was written with.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPanel {
    /// The panel.
    pub panel: PricePanel,
    /// The digest of the source price table, when the writer knew it.
    pub data_digest: Option<String>,
}

/// Writes `panel` to `path` atomically in the wide layout (see the module docs), creating the
/// parent directory.
///
/// # Example
/// ```
/// use momentum_features::{PricePanel, read_panel, write_panel};
/// let dir = tempfile::tempdir().unwrap();
/// let dates = (2..=3).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
/// let close = ndarray::array![[10.0, f64::NAN], [11.0, 5.0]];
/// let panel = PricePanel::new(dates, vec!["A".into(), "B".into()], close)?;
/// let path = dir.path().join("features/panel.parquet");
/// write_panel(&path, &panel, Some("e982afe2"))?;
/// let stored = read_panel(&path)?;
/// assert_eq!(stored.panel.dates(), panel.dates());
/// assert_eq!(stored.panel.close_row(1), [11.0, 5.0]);
/// assert!(stored.panel.price(0, 1).is_nan()); // stored as null, read back as NaN
/// assert_eq!(stored.data_digest.as_deref(), Some("e982afe2"));
/// # Ok::<(), momentum_features::FeaturesError>(())
/// ```
pub fn write_panel(path: &Path, panel: &PricePanel, data_digest: Option<&str>) -> Result<()> {
    let pq = |err| parquet_error(path, err);
    if panel.tickers().iter().any(|t| t == "date") {
        return Err(FeaturesError::Layout {
            path: path.to_path_buf(),
            reason: "a ticker named `date` collides with the date column".into(),
        });
    }
    let mut fields = vec![Field::new("date", DataType::Date32, false)];
    fields.extend(
        panel
            .tickers()
            .iter()
            .map(|t| Field::new(t, DataType::Float64, true)),
    );
    let schema = Arc::new(Schema::new(fields));
    let arrow = |source| FeaturesError::Arrow {
        path: path.to_path_buf(),
        source,
    };
    // Arrow copies of the panel are made a row group at a time.
    let close = panel.close();
    let batches = (0..panel.n_days()).step_by(BATCH_DAYS).map(|from| {
        let days = from..(from + BATCH_DAYS).min(panel.n_days());
        let dates: Date32Array = panel.dates()[days.clone()]
            .iter()
            .map(|d| Some(d.num_days_from_ce_checked() - EPOCH_CE_DAYS))
            .collect();
        let mut columns: Vec<ArrayRef> = vec![Arc::new(dates)];
        let rows = close.slice(ndarray::s![days, ..]);
        for col in rows.columns() {
            let arr: Float64Array = col.iter().map(|p| p.is_finite().then_some(*p)).collect();
            columns.push(Arc::new(arr));
        }
        RecordBatch::try_new(schema.clone(), columns).map_err(arrow)
    });
    let mut kv = vec![KeyValue::new(LAYOUT_KEY.to_owned(), LAYOUT.to_owned())];
    if let Some(d) = data_digest {
        kv.push(KeyValue::new(DIGEST_KEY.to_owned(), d.to_owned()));
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(BATCH_DAYS))
        .set_key_value_metadata(Some(kv))
        .build();
    momentum_data::write_atomic(path, |file| {
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(pq)?;
        for batch in batches {
            writer.write(&batch?).map_err(pq)?;
        }
        writer.close().map_err(pq)?;
        Ok(())
    })
}

trait CeDays {
    fn num_days_from_ce_checked(&self) -> i32;
}

impl CeDays for NaiveDate {
    fn num_days_from_ce_checked(&self) -> i32 {
        chrono::Datelike::num_days_from_ce(self)
    }
}

/// Reads a panel written by [`write_panel`].
///
/// A round trip is shown at [`write_panel`].
pub fn read_panel(path: &Path) -> Result<StoredPanel> {
    let layout = |reason: String| FeaturesError::Layout {
        path: path.to_path_buf(),
        reason,
    };
    let pq = |err| parquet_error(path, err);
    let open = || {
        File::open(path).map_err(|source| FeaturesError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let metadata =
        ArrowReaderMetadata::load(&open()?, ArrowReaderOptions::default()).map_err(pq)?;
    let kv: Vec<(String, Option<String>)> = metadata
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|v| v.iter().map(|k| (k.key.clone(), k.value.clone())).collect())
        .unwrap_or_default();
    let get = |key: &str| {
        kv.iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.clone())
    };
    match get(LAYOUT_KEY) {
        Some(l) if l == LAYOUT => {}
        other => {
            return Err(layout(format!(
                "layout tag is {other:?}, expected {LAYOUT:?}"
            )));
        }
    }
    let data_digest = get(DIGEST_KEY);
    let schema = metadata.schema().clone();
    let fields = schema.fields();
    if fields.is_empty() || fields[0].name() != "date" || fields[0].data_type() != &DataType::Date32
    {
        return Err(layout("the first column must be `date` (Date32)".into()));
    }
    let tickers: Vec<String> = fields.iter().skip(1).map(|f| f.name().clone()).collect();
    // The row groups decoded side by side (each decoder starts with a fresh zstd context, most
    // of a small panel's reading time), each from its own handle; then taken in order.
    let groups: Vec<Result<Vec<RecordBatch>>> = (0..metadata.metadata().num_row_groups())
        .into_par_iter()
        .map(|group| {
            ParquetRecordBatchReaderBuilder::new_with_metadata(open()?, metadata.clone())
                .with_row_groups(vec![group])
                .build()
                .map_err(pq)?
                .map(|batch| {
                    batch.map_err(|source| FeaturesError::Arrow {
                        path: path.to_path_buf(),
                        source,
                    })
                })
                .collect()
        })
        .collect();
    let mut dates = Vec::new();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); tickers.len()];
    let batches = groups.into_iter().collect::<Result<Vec<_>>>()?;
    for batch in batches.into_iter().flatten() {
        let d = batch
            .column(0)
            .as_any()
            .downcast_ref::<Date32Array>()
            .ok_or_else(|| layout("`date` is not Date32".into()))?;
        for k in 0..d.len() {
            // Rows counted from 1.
            let row = dates.len() + 1;
            if d.is_null(k) {
                return Err(layout(format!("null date in row {row}")));
            }
            let date = NaiveDate::from_num_days_from_ce_opt(d.value(k) + EPOCH_CE_DAYS)
                .ok_or_else(|| layout(format!("date out of range in row {row}")))?;
            dates.push(date);
        }
        for (j, col) in cols.iter_mut().enumerate() {
            let a = batch
                .column(j + 1)
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| layout(format!("column {} is not Float64", tickers[j])))?;
            col.extend((0..a.len()).map(|k| if a.is_null(k) { f64::NAN } else { a.value(k) }));
        }
    }
    // A price file's closes are checked when it is read; a panel's, written by another tool
    // or edited, are checked here alike (a missing close is NaN).
    for (ticker, col) in tickers.iter().zip(&cols) {
        if let Some((t, close)) = (col.iter().enumerate())
            .find(|(_, close)| !(close.is_nan() || crate::is_valid(**close)))
        {
            return Err(layout(format!(
                "{ticker} on {}: close is {close}, prices must be finite and > 0",
                dates[t]
            )));
        }
    }
    let (t_len, n) = (dates.len(), tickers.len());
    let close = Array2::from_shape_fn((t_len, n), |(t, i)| cols[i][t]);
    let panel = PricePanel::new(dates, tickers, close).map_err(|e| layout(e.to_string()))?;
    Ok(StoredPanel { panel, data_digest })
}

/// A Parquet error of `path`: [`FeaturesError::Io`] for an I/O failure the parquet crate
/// wrapped ([`momentum_data::parquet_io_failure`]: its message would repeat the cause), else
/// [`FeaturesError::Parquet`].
fn parquet_error(path: &Path, err: parquet::errors::ParquetError) -> FeaturesError {
    match momentum_data::parquet_io_failure(err) {
        Ok(source) => FeaturesError::Io {
            path: path.to_path_buf(),
            source,
        },
        Err(source) => FeaturesError::Parquet {
            path: path.to_path_buf(),
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn a_panel_with_a_close_that_is_not_a_price_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dates = vec![
            NaiveDate::from_ymd_opt(1995, 1, 3).unwrap(),
            NaiveDate::from_ymd_opt(1995, 1, 4).unwrap(),
        ];
        for bad in [-3.0, 0.0] {
            let close = array![[1.5, f64::NAN], [1.25, bad]];
            let panel =
                PricePanel::new(dates.clone(), vec!["ZZ".into(), "AA".into()], close).unwrap();
            let path = dir.path().join("panel.parquet");
            write_panel(&path, &panel, None).unwrap();
            let err = read_panel(&path).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "{} is not a momentum panel: AA on 1995-01-04: close is {bad}, prices must \
                     be finite and > 0",
                    path.display()
                )
            );
        }
    }

    #[test]
    fn round_trips_prices_nans_order_and_digest() {
        let dates = vec![
            NaiveDate::from_ymd_opt(1995, 1, 3).unwrap(),
            NaiveDate::from_ymd_opt(1995, 1, 4).unwrap(),
        ];
        let close = array![[1.5, f64::NAN, 3.0], [1.25, 2.0, f64::NAN]];
        let panel =
            PricePanel::new(dates, vec!["ZZ".into(), "AA".into(), "NONE".into()], close).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/panel.parquet");
        write_panel(&path, &panel, Some("abc123")).unwrap();
        let back = read_panel(&path).unwrap();
        assert_eq!(back.data_digest.as_deref(), Some("abc123"));
        assert_eq!(back.panel.tickers(), panel.tickers());
        assert_eq!(back.panel.dates(), panel.dates());
        for (a, b) in back.panel.close().iter().zip(panel.close().iter()) {
            assert!(a == b || (a.is_nan() && b.is_nan()));
        }
        // No temporary file left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_foreign_parquet_is_a_layout_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        std::fs::write(&path, b"not parquet").unwrap();
        assert!(read_panel(&path).is_err());
    }
}
