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
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use crate::atomic::write_atomic;
use crate::error::{DataError, Result};
use crate::table::{PriceRow, PriceTable};
use crate::validate::{check_universe, validate};

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
/// A round trip is shown at [`write_parquet`]. [`TickerStream`] reads the same file one ticker
/// at a time.
pub fn read_parquet(path: &Path) -> Result<PriceTable> {
    let (builder, mut tickers) = open_parquet(path)?;
    let mut known: std::collections::HashSet<String> = tickers.iter().cloned().collect();
    let mut rows = Vec::new();
    decode_rows(builder, path, |decoded| {
        let ticker = match &decoded {
            Decoded::Bar(row) => &row.ticker,
            Decoded::NoBar(ticker) => ticker,
        };
        if !known.contains(ticker) {
            known.insert(ticker.clone());
            tickers.push(ticker.clone());
        }
        if let Decoded::Bar(row) = decoded {
            rows.push(row);
        }
        Ok(())
    })?;
    let table = PriceTable::from_rows(tickers, rows);
    validate(&table, &path.display().to_string())?;
    Ok(table)
}

/// A long-layout price file read one ticker at a time, in universe order: what
/// [`read_parquet`] returns, without holding more than one ticker's rows.
///
/// A file that [`write_parquet`] wrote (the universe in its metadata, rows sorted by ticker
/// then date) is streamed: a first pass over the `ticker`, `date` and `close` columns checks the
/// order, a second decodes every column, validating each ticker's rows as they go by. Any other
/// file is read whole with [`read_parquet`], which sorts it. Either way the visited rows, and
/// the error of an invalid file, are [`read_parquet`]'s.
///
/// # Example
/// ```
/// use momentum_data::{TickerStream, digest, load_sample, read_parquet, write_parquet};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("prices.parquet");
/// write_parquet(&path, &load_sample()?)?;
/// let stream = TickerStream::open(&path)?;
/// assert_eq!(stream.tickers().len(), 20);
/// let mut rows = Vec::new();
/// stream.for_each(|_, chunk| rows.extend_from_slice(chunk))?;
/// assert_eq!(rows, read_parquet(&path)?.rows);
/// # Ok::<(), momentum_data::DataError>(())
/// ```
#[derive(Debug)]
pub struct TickerStream {
    path: std::path::PathBuf,
    tickers: Vec<String>,
    /// The whole table, for a file that cannot be streamed.
    loaded: Option<PriceTable>,
}

impl TickerStream {
    /// Opens `path`: checks whether it can be streamed, else reads it whole.
    ///
    /// # Errors
    /// [`read_parquet`]'s, for a file that is not streamed; a streamed file's errors come from
    /// [`TickerStream::for_each`].
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(tickers) = streamable(path) {
            return Ok(Self {
                path: path.into(),
                tickers,
                loaded: None,
            });
        }
        let table = read_parquet(path)?;
        Ok(Self {
            path: path.into(),
            tickers: table.tickers.clone(),
            loaded: Some(table),
        })
    }

    /// The universe, in order.
    pub fn tickers(&self) -> &[String] {
        &self.tickers
    }

    /// Calls `visit(i, rows)` once for each ticker `i` of [`TickerStream::tickers`], in order,
    /// with its rows sorted by date (empty for a ticker without rows).
    ///
    /// # Errors
    /// [`read_parquet`]'s. A validation error is returned after the last ticker (as
    /// [`read_parquet`] validates only after decoding the whole file, a later decoding error
    /// wins), so `visit` may have seen invalid rows when this fails.
    pub fn for_each(self, mut visit: impl FnMut(usize, &[PriceRow])) -> Result<()> {
        if let Some(table) = &self.loaded {
            for (i, ticker) in table.tickers.iter().enumerate() {
                visit(i, table.rows_of(ticker));
            }
            return Ok(());
        }
        let origin = self.path.display().to_string();
        let mut pending = check_universe(&self.tickers, &origin).err();
        let (builder, _) = open_parquet(&self.path)?;
        let mut chunk = PriceTable::default();
        let mut next = 0;
        let mut any_row = false;
        // Visits the tickers before `upto`: the one in `chunk` (validated as a one-ticker table:
        // the same checks, in the same order, as the whole table's) and those without rows.
        let mut flush = |upto: usize,
                         next: &mut usize,
                         chunk: &mut PriceTable,
                         pending: &mut Option<DataError>| {
            while *next < upto {
                if chunk.tickers.first() == Some(&self.tickers[*next]) {
                    if pending.is_none() {
                        *pending = validate(chunk, &origin).err();
                    }
                    visit(*next, &chunk.rows);
                    chunk.tickers.clear();
                    chunk.rows.clear();
                } else {
                    visit(*next, &[]);
                }
                *next += 1;
            }
        };
        decode_rows(builder, &self.path, |decoded| {
            let Decoded::Bar(row) = decoded else {
                return Ok(());
            };
            any_row = true;
            if chunk.tickers.first() != Some(&row.ticker) {
                // The first pass checked that tickers come in universe order.
                let rank = self.tickers[next..]
                    .iter()
                    .position(|t| *t == row.ticker)
                    .map_or(self.tickers.len(), |i| next + i);
                flush(rank, &mut next, &mut chunk, &mut pending);
                chunk.tickers.push(row.ticker.clone());
            }
            chunk.rows.push(row);
            Ok(())
        })?;
        flush(self.tickers.len(), &mut next, &mut chunk, &mut pending);
        if self.tickers.is_empty() || !any_row {
            return Err(DataError::EmptyUniverse { origin });
        }
        pending.map_or(Ok(()), Err)
    }
}

/// The universe of a file [`TickerStream`] can stream: one with the universe in its metadata
/// whose rows with a close name only those tickers, grouped in universe order, dates not
/// descending. `None` for any other file, and for one that fails to decode (the whole read then
/// reports it).
fn streamable(path: &Path) -> Option<Vec<String>> {
    let (builder, tickers) = open_parquet(path).ok()?;
    if !builder
        .schema()
        .metadata()
        .contains_key(TICKERS_METADATA_KEY)
    {
        return None;
    }
    let mask = ProjectionMask::columns(builder.parquet_schema(), ["ticker", "date", "close"]);
    let rank: std::collections::HashMap<&str, usize> = tickers
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut last: Option<(usize, NaiveDate)> = None;
    let mut sorted = true;
    decode_rows(builder.with_projection(mask), path, |decoded| {
        match decoded {
            Decoded::Bar(row) => match rank.get(row.ticker.as_str()) {
                Some(&position) => {
                    let key = (position, row.date);
                    sorted &= last.is_none_or(|last| last <= key);
                    last = Some(key);
                }
                None => sorted = false,
            },
            Decoded::NoBar(ticker) => sorted &= rank.contains_key(ticker.as_str()),
        }
        Ok(())
    })
    .ok()?;
    sorted.then_some(tickers)
}

/// The reader of `path` and the universe in its metadata (empty when absent), the required
/// columns checked.
fn open_parquet(path: &Path) -> Result<(ParquetRecordBatchReaderBuilder<File>, Vec<String>)> {
    let parquet = |source| parquet_error(path, source);
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
    let tickers: Vec<String> = match schema.metadata().get(TICKERS_METADATA_KEY) {
        Some(json) => serde_json::from_str(json).map_err(|err| DataError::Schema {
            path: path.into(),
            column: TICKERS_METADATA_KEY.into(),
            reason: format!("invalid metadata: {err}"),
        })?,
        None => Vec::new(),
    };
    Ok((builder, tickers))
}

/// One row of a file as decoded.
enum Decoded {
    /// A row with a close.
    Bar(PriceRow),
    /// The ticker of a row whose close is null: no bar, but the ticker is in the file.
    NoBar(String),
}

/// Decodes the file's rows in file order, batch by batch. Columns missing from the file (or the
/// projection) are null.
fn decode_rows(
    builder: ParquetRecordBatchReaderBuilder<File>,
    path: &Path,
    mut visit: impl FnMut(Decoded) -> Result<()>,
) -> Result<()> {
    let schema_err = |column: &str, reason: String| DataError::Schema {
        path: path.into(),
        column: column.into(),
        reason,
    };
    let reader = builder
        .build()
        .map_err(|source| parquet_error(path, source))?;
    for batch in reader {
        let batch = batch.map_err(|source| DataError::Arrow {
            path: path.into(),
            source,
        })?;
        let column = |name: &str| batch.column_by_name(name);
        let names = strings(column("ticker").expect("checked on opening"), path)?;
        let dates = dates(column("date").expect("checked on opening"), path)?;
        let close = numbers(column("close"), "close", path, batch.num_rows())?;
        let open = numbers(column("open"), "open", path, batch.num_rows())?;
        let high = numbers(column("high"), "high", path, batch.num_rows())?;
        let low = numbers(column("low"), "low", path, batch.num_rows())?;
        let volume = numbers(column("volume"), "volume", path, batch.num_rows())?;
        for (i, name) in names.into_iter().enumerate() {
            let ticker = name.ok_or_else(|| schema_err("ticker", format!("null in row {i}")))?;
            let date = dates[i].ok_or_else(|| schema_err("date", format!("null in row {i}")))?;
            visit(match close[i] {
                Some(close) => Decoded::Bar(PriceRow {
                    ticker,
                    date,
                    open: open[i],
                    high: high[i],
                    low: low[i],
                    close,
                    volume: volume[i],
                }),
                None => Decoded::NoBar(ticker),
            })?;
        }
    }
    Ok(())
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

    /// `(ticker, day of January 2024, close)`.
    type Row = (&'static str, u32, f64);
    /// Each visit of a [`TickerStream`]: the ticker's index and its rows.
    type Visits = Vec<(usize, Vec<PriceRow>)>;

    /// A file of `(ticker, day of January 2024, close)` rows in the given order, with the
    /// universe metadata when given: what another tool, or a damaged file, may hold.
    fn write_rows(path: &Path, rows: &[Row], universe: Option<&[&str]>) {
        let mut schema = price_schema();
        if let Some(universe) = universe {
            let json = serde_json::to_string(universe).unwrap();
            let metadata: std::collections::HashMap<_, _> =
                [(TICKERS_METADATA_KEY.to_string(), json)]
                    .into_iter()
                    .collect();
            schema = schema.with_metadata(metadata);
        }
        let day = |d| days_since_epoch(NaiveDate::from_ymd_opt(2024, 1, d).unwrap());
        let none = || -> ArrayRef { Arc::new(Float64Array::from(vec![None; rows.len()])) };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| day(r.1)))),
            none(),
            none(),
            none(),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
            none(),
        ];
        let schema = Arc::new(schema);
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    fn streamed(path: &Path) -> Result<(Vec<String>, Visits)> {
        let stream = TickerStream::open(path)?;
        let tickers = stream.tickers().to_vec();
        let mut visits = Vec::new();
        stream.for_each(|i, rows| visits.push((i, rows.to_vec())))?;
        Ok((tickers, visits))
    }

    #[test]
    fn the_ticker_stream_visits_what_read_parquet_returns_streamed_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let sorted = [("BBB", 2, 1.0), ("BBB", 3, 2.0), ("AAA", 2, 3.0)];
        let cases: [(&[Row], Option<&[&str]>); 4] = [
            (&sorted, Some(&["BBB", "EMPTY", "AAA"])),
            // Not streamable: unsorted, a ticker outside the metadata, no metadata.
            (
                &[("AAA", 2, 3.0), ("BBB", 3, 2.0), ("BBB", 2, 1.0)],
                Some(&["BBB", "AAA"]),
            ),
            (&sorted, Some(&["BBB"])),
            (&sorted, None),
        ];
        for (k, (rows, universe)) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("{k}.parquet"));
            write_rows(&path, rows, universe);
            let table = read_parquet(&path).unwrap();
            let (tickers, visits) = streamed(&path).unwrap();
            assert_eq!(tickers, table.tickers, "case {k}");
            let expected: Visits = (table.tickers.iter().enumerate())
                .map(|(i, t)| (i, table.rows_of(t).to_vec()))
                .collect();
            assert_eq!(visits, expected, "case {k}");
        }
    }

    #[test]
    fn a_streamed_invalid_file_fails_as_read_parquet_does() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [&[Row]; 3] = [
            &[("AAA", 2, 1.0), ("AAA", 2, 2.0)],
            &[("AAA", 2, 1.0), ("BBB", 2, -1.0), ("BBB", 3, f64::NAN)],
            &[],
        ];
        for (k, rows) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("{k}.parquet"));
            write_rows(&path, rows, Some(&["AAA", "BBB"]));
            let whole = read_parquet(&path).unwrap_err().to_string();
            let stream = streamed(&path).unwrap_err().to_string();
            assert_eq!(stream, whole, "case {k}");
        }
        let path = dir.path().join("twice.parquet");
        write_rows(&path, &[("AAA", 2, -1.0)], Some(&["AAA", "AAA"]));
        let whole = read_parquet(&path).unwrap_err();
        assert!(
            matches!(whole, DataError::DuplicateTicker { .. }),
            "{whole}"
        );
        assert_eq!(streamed(&path).unwrap_err().to_string(), whole.to_string());
    }

    #[test]
    fn dates_round_trip_through_days_since_epoch() {
        let date: NaiveDate = "1990-01-02".parse().unwrap();
        // 1990-01-02 is 7306 days after 1970-01-01 (20 years incl. 5 leap days = 7305, plus 1).
        assert_eq!(days_since_epoch(date), 7306);
    }
}
