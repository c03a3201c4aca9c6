//! The Parquet cache of a price table (feature `parquet`); its digest and manifest are in
//! `manifest.rs`.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float32Type, Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use crate::atomic::write_atomic;
use crate::error::{DataError, Result};
use crate::table::{PriceRow, PriceTable};
use crate::validate::validate;

/// Arrow schema metadata key holding the universe as a JSON list, so a ticker order (and a
/// ticker without rows) survives a round trip through Parquet.
pub const TICKERS_METADATA_KEY: &str = "momentum.tickers";

/// The Arrow schema of the long price layout written by [`write_parquet`].
pub fn price_schema() -> Schema {
    Schema::new(vec![
        Field::new("ticker", DataType::Utf8, false),
        Field::new("date", DataType::Date32, false),
        Field::new("open", DataType::Float64, true),
        Field::new("high", DataType::Float64, true),
        Field::new("low", DataType::Float64, true),
        Field::new("close", DataType::Float64, false),
        Field::new("volume", DataType::Float64, true),
    ])
}

/// Validates `table` and writes it atomically as one zstd-compressed Parquet file in the long
/// layout of [`price_schema`], rows in table order (ticker in universe order, then date).
/// On any error the previous file at `path`, if any, is left as it was.
///
/// # Example
/// ```
/// use momentum_data::{UniverseWindow, digest, load_sample, read_parquet, select, write_parquet};
/// let dir = tempfile::tempdir().unwrap();
/// let wanted = UniverseWindow {
///     tickers: vec!["MSFT".into(), "AAPL".into()],
///     start: "2022-01-01".parse().unwrap(),
///     end: "2022-12-31".parse().unwrap(),
///     allow_missing: false,
/// };
/// let table = select(&load_sample()?, &wanted, "sample")?.table;
/// let path = dir.path().join("raw/prices.parquet");
/// write_parquet(&path, &table)?;
/// let back = read_parquet(&path)?;
/// assert_eq!(back, table); // the universe order too
/// assert_eq!(digest(&back), digest(&table));
/// # Ok::<(), momentum_data::DataError>(())
/// ```
pub fn write_parquet(path: &Path, table: &PriceTable) -> Result<()> {
    validate(table, &path.display().to_string())?;
    let tickers_json = serde_json::to_string(&table.tickers).map_err(|source| DataError::Json {
        path: path.into(),
        source,
    })?;
    let schema = Arc::new(
        price_schema().with_metadata(
            [(TICKERS_METADATA_KEY.to_string(), tickers_json)]
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        ),
    );
    let rows = &table.rows;
    let floats = |get: fn(&PriceRow) -> Option<f64>| -> ArrayRef {
        Arc::new(rows.iter().map(get).collect::<Float64Array>())
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            rows.iter()
                .map(|r| Some(r.ticker.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| Some(days_since_epoch(r.date)))
                .collect::<Date32Array>(),
        ),
        floats(|r| r.open),
        floats(|r| r.high),
        floats(|r| r.low),
        floats(|r| Some(r.close)),
        floats(|r| r.volume),
    ];
    let arrow = |source| DataError::Arrow {
        path: path.into(),
        source,
    };
    let parquet = |source| parquet_error(path, source);
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(arrow)?;
    // zstd level 3: the sample is 12% smaller than with snappy (893 KB vs 1018 KB), and
    // pyarrow, DuckDB and polars all read it.
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(parquet)?))
        .set_created_by(format!("momentum-data {}", env!("CARGO_PKG_VERSION")))
        .build();
    write_atomic(path, |file: &mut File| {
        let mut writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(parquet)?;
        writer.write(&batch).map_err(parquet)?;
        writer.close().map_err(parquet)?;
        Ok(())
    })
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    let days = date.signed_duration_since(NaiveDate::default()).num_days();
    i32::try_from(days).expect("dates of prices fit in i32 days")
}

/// The I/O failure inside a Parquet error, when that is what it is: the parquet crate wraps
/// one as `External` and prints it in its own message as well as returning it as the cause,
/// so a report of the error chain would say it twice. The other errors come back unchanged.
///
/// # Errors
/// `err` itself when it is not a wrapped I/O failure.
pub fn parquet_io_failure(err: ParquetError) -> std::result::Result<std::io::Error, ParquetError> {
    match err {
        ParquetError::External(inner) => inner
            .downcast::<std::io::Error>()
            .map(|io| *io)
            .map_err(ParquetError::External),
        other => Err(other),
    }
}

/// A Parquet error of `path`: [`DataError::Io`] for a wrapped I/O failure
/// ([`parquet_io_failure`]), else [`DataError::Parquet`].
fn parquet_error(path: &Path, err: ParquetError) -> DataError {
    match parquet_io_failure(err) {
        Ok(io) => DataError::io(path, io),
        Err(source) => DataError::Parquet {
            path: path.into(),
            source,
        },
    }
}

/// Reads a long-layout Parquet file (ours or another tool's) and validates it.
///
/// Required columns: `ticker` (utf8, large utf8 or utf8 view), `date` (date32), `close`;
/// optional: `open`, `high`, `low`, `volume`. Number columns may be float64, float32, int64 or
/// int32. A null close means "no bar" and the row is skipped; a null ticker or date is an
/// error. The universe comes from the [`TICKERS_METADATA_KEY`] metadata when present, else
/// from the order tickers first appear.
///
/// A round trip is shown at [`write_parquet`].
pub fn read_parquet(path: &Path) -> Result<PriceTable> {
    let parquet = |source| parquet_error(path, source);
    let schema_err = |column: &str, reason: String| DataError::Schema {
        path: path.into(),
        column: column.into(),
        reason,
    };
    let file = File::open(path).map_err(|err| DataError::io(path, err))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
    let schema = builder.schema().clone();
    for required in ["ticker", "date", "close"] {
        if schema.index_of(required).is_err() {
            return Err(DataError::MissingColumn {
                origin: path.display().to_string(),
                column: required.into(),
            });
        }
    }
    let mut tickers: Vec<String> = match schema.metadata().get(TICKERS_METADATA_KEY) {
        Some(json) => serde_json::from_str(json)
            .map_err(|err| schema_err(TICKERS_METADATA_KEY, format!("invalid metadata: {err}")))?,
        None => Vec::new(),
    };
    let mut known: std::collections::HashSet<String> = tickers.iter().cloned().collect();
    let mut rows = Vec::new();
    let reader = builder.build().map_err(parquet)?;
    for batch in reader {
        let batch = batch.map_err(|source| DataError::Arrow {
            path: path.into(),
            source,
        })?;
        let column = |name: &str| batch.column_by_name(name);
        let names = strings(column("ticker").expect("checked above"), path)?;
        let dates = dates(column("date").expect("checked above"), path)?;
        let close = numbers(column("close"), "close", path, batch.num_rows())?;
        let open = numbers(column("open"), "open", path, batch.num_rows())?;
        let high = numbers(column("high"), "high", path, batch.num_rows())?;
        let low = numbers(column("low"), "low", path, batch.num_rows())?;
        let volume = numbers(column("volume"), "volume", path, batch.num_rows())?;
        for i in 0..batch.num_rows() {
            let ticker = names[i]
                .clone()
                .ok_or_else(|| schema_err("ticker", format!("null in row {i}")))?;
            let date = dates[i].ok_or_else(|| schema_err("date", format!("null in row {i}")))?;
            if known.insert(ticker.clone()) {
                tickers.push(ticker.clone());
            }
            let Some(close) = close[i] else { continue };
            rows.push(PriceRow {
                ticker,
                date,
                open: open[i],
                high: high[i],
                low: low[i],
                close,
                volume: volume[i],
            });
        }
    }
    let table = PriceTable::from_rows(tickers, rows);
    validate(&table, &path.display().to_string())?;
    Ok(table)
}

fn strings(array: &ArrayRef, path: &Path) -> Result<Vec<Option<String>>> {
    let owned =
        |it: &mut dyn Iterator<Item = Option<&str>>| it.map(|s| s.map(str::to_owned)).collect();
    match array.data_type() {
        DataType::Utf8 => Ok(owned(&mut array.as_string::<i32>().iter())),
        DataType::LargeUtf8 => Ok(owned(&mut array.as_string::<i64>().iter())),
        DataType::Utf8View => Ok(owned(&mut array.as_string_view().iter())),
        other => Err(DataError::Schema {
            path: path.into(),
            column: "ticker".into(),
            reason: format!("expected utf8, found {other}"),
        }),
    }
}

fn dates(array: &ArrayRef, path: &Path) -> Result<Vec<Option<NaiveDate>>> {
    let DataType::Date32 = array.data_type() else {
        return Err(DataError::Schema {
            path: path.into(),
            column: "date".into(),
            reason: format!("expected date32, found {}", array.data_type()),
        });
    };
    let epoch = NaiveDate::default();
    array
        .as_primitive::<Date32Type>()
        .iter()
        .enumerate()
        .map(|(row, days)| {
            days.map(|d| {
                // A date32 holds about +-5.9 million years; a calendar date, +-262,000.
                epoch
                    .checked_add_signed(chrono::TimeDelta::days(i64::from(d)))
                    .ok_or_else(|| DataError::Schema {
                        path: path.into(),
                        column: "date".into(),
                        reason: format!(
                            "row {}: {d} days from 1970-01-01 is not a calendar date",
                            row + 1
                        ),
                    })
            })
            .transpose()
        })
        .collect()
}

#[expect(
    clippy::cast_precision_loss,
    reason = "volumes and prices are far below 2^53"
)]
fn numbers(
    array: Option<&ArrayRef>,
    name: &str,
    path: &Path,
    len: usize,
) -> Result<Vec<Option<f64>>> {
    let Some(array) = array else {
        return Ok(vec![None; len]);
    };
    let values: Vec<Option<f64>> = match array.data_type() {
        DataType::Float64 => array.as_primitive::<Float64Type>().iter().collect(),
        DataType::Float32 => array
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.map(f64::from))
            .collect(),
        DataType::Int64 => array
            .as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.map(|x| x as f64))
            .collect(),
        DataType::Int32 => array
            .as_primitive::<Int32Type>()
            .iter()
            .map(|v| v.map(f64::from))
            .collect(),
        other => {
            return Err(DataError::Schema {
                path: path.into(),
                column: name.into(),
                reason: format!("expected a number column, found {other}"),
            });
        }
    };
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date32_beyond_the_calendar_is_an_error_naming_file_and_row() {
        let path = Path::new("prices.parquet");
        let array: ArrayRef =
            std::sync::Arc::new(Date32Array::from(vec![Some(7306), None, Some(i32::MAX)]));
        let err = dates(&array, path).unwrap_err().to_string();
        assert!(
            err.contains("prices.parquet") && err.contains("date") && err.contains("row 3"),
            "{err}"
        );
        let fine: ArrayRef = std::sync::Arc::new(Date32Array::from(vec![Some(7306), None]));
        assert_eq!(
            dates(&fine, path).unwrap(),
            vec![Some("1990-01-02".parse().unwrap()), None]
        );
    }

    #[test]
    fn dates_round_trip_through_days_since_epoch() {
        let date: NaiveDate = "1990-01-02".parse().unwrap();
        // 1990-01-02 is 7306 days after 1970-01-01 (20 years incl. 5 leap days = 7305, plus 1).
        assert_eq!(days_since_epoch(date), 7306);
    }
}
