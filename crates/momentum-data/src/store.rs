//! The Parquet cache of a price table (feature `parquet`); its digest and manifest are in
//! `manifest.rs`.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{ArrayBuilder, Date32Builder, Float64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float32Type, Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use crate::atomic::write_atomic;
use crate::error::{DataError, Result};
use crate::table::{Bar, PriceRow, PriceTable, TableBuilder};
use crate::validate::{check_bars, check_universe, validate};

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
    // zstd level 3: the sample is 12% smaller than with snappy (893 KB vs 1018 KB), and
    // pyarrow, DuckDB and polars all read it.
    let zstd = ZstdLevel::try_new(3).map_err(|source| parquet_error(path, source))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .set_created_by(format!("momentum-data {}", env!("CARGO_PKG_VERSION")))
        .build();
    write_atomic(path, |file: &mut File| {
        write_table(file, table, props, path)
    })
}

/// Writes `table` to `out` in the layout of [`price_schema`], a batch at a time (never one
/// Arrow copy of an index's millions of rows), the batches cut where they leave the file's
/// bytes as one batch of the whole table would ([`rows_to_next_cut`]); `path` names the file
/// in errors.
fn write_table(
    out: impl std::io::Write + Send,
    table: &PriceTable,
    props: WriterProperties,
    path: &Path,
) -> Result<()> {
    let schema = schema_of(table, path)?;
    let parquet = |source| parquet_error(path, source);
    let mut cut = rows_to_next_cut(&props, 0);
    let mut written = 0;
    let mut writer =
        ArrowWriter::try_new(out, schema.clone(), Some(props.clone())).map_err(parquet)?;
    let rows = table.len();
    let mut batch = BatchBuilder::new(cut.min(rows));
    for (ticker, series) in table.series() {
        for bar in series.bars() {
            batch.push(ticker, &bar);
            if batch.len() == cut {
                written += cut;
                cut = rows_to_next_cut(&props, written);
                let next = BatchBuilder::new(cut.min(rows - written));
                let full = std::mem::replace(&mut batch, next);
                writer
                    .write(&full.finish(&schema, path)?)
                    .map_err(parquet)?;
            }
        }
    }
    if batch.len() > 0 {
        writer
            .write(&batch.finish(&schema, path)?)
            .map_err(parquet)?;
    }
    writer.close().map_err(parquet)?;
    Ok(())
}

/// [`price_schema`] with the universe of `table` in its metadata.
fn schema_of(table: &PriceTable, path: &Path) -> Result<Arc<Schema>> {
    let tickers_json =
        serde_json::to_string(table.tickers()).map_err(|source| DataError::Json {
            path: path.into(),
            source,
        })?;
    Ok(Arc::new(
        price_schema().with_metadata(
            [(TICKERS_METADATA_KEY.to_string(), tickers_json)]
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        ),
    ))
}

/// How many rows to hand the Parquet writer next, `written` rows into the file, so that the
/// batches cut the columns where one batch of the whole table would. The writer encodes a
/// column in mini-batches of `write_batch_size` rows (`data_page_row_count_limit` rows for a
/// column whose levels are uniform, such as an optional price no bar has) counted from the
/// start of each batch and ends a row group every `max_row_group_row_count` rows; a batch that
/// starts at a row group's start or a multiple of both sizes into it starts a mini-batch of
/// every column, as the whole table's batch does there. With the default sizes a batch is
/// 640,000 rows (about 13 MB for a close-only table) or what is left of the row group.
fn rows_to_next_cut(props: &WriterProperties, written: usize) -> usize {
    let (a, b) = (props.write_batch_size(), props.data_page_row_count_limit());
    let mut gcd = (a, b);
    while gcd.1 != 0 {
        gcd = (gcd.1, gcd.0 % gcd.1);
    }
    let step = a / gcd.0 * b;
    match props.max_row_group_row_count() {
        Some(group) => {
            let in_group = written % group;
            (step - in_group % step).min(group - in_group)
        }
        None => step - written % step,
    }
}

/// The columns of one batch of [`price_schema`] rows, filled bar by bar.
struct BatchBuilder {
    /// The rows the batch is meant to hold: its columns are allocated for them at once (the
    /// capacity a batch does not fill is never touched), not grown and copied on the way.
    capacity: usize,
    ticker: StringBuilder,
    date: Date32Builder,
    close: Float64Builder,
    /// `open`, `high`, `low` and `volume`, each from the first bar of the batch that has one.
    optional: [Option<Float64Builder>; 4],
}

impl BatchBuilder {
    /// Room for the tickers of `capacity` rows at up to this many bytes each, before growing.
    const TICKER_BYTES: usize = 16;

    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ticker: StringBuilder::with_capacity(capacity, capacity * Self::TICKER_BYTES),
            date: Date32Builder::with_capacity(capacity),
            close: Float64Builder::with_capacity(capacity),
            optional: [None, None, None, None],
        }
    }

    fn len(&self) -> usize {
        self.date.len()
    }

    fn push(&mut self, ticker: &str, bar: &Bar) {
        let before = self.len();
        let values = [bar.open, bar.high, bar.low, bar.volume];
        for (column, value) in self.optional.iter_mut().zip(values) {
            match (column, value) {
                (Some(column), value) => column.append_option(value),
                (column @ None, Some(value)) => {
                    let mut values = Float64Builder::with_capacity(self.capacity.max(before + 1));
                    values.append_nulls(before);
                    values.append_value(value);
                    *column = Some(values);
                }
                (None, None) => {}
            }
        }
        self.ticker.append_value(ticker);
        self.date.append_value(days_since_epoch(bar.date));
        self.close.append_value(bar.close);
    }

    /// The rows pushed, as a batch.
    fn finish(mut self, schema: &Arc<Schema>, path: &Path) -> Result<RecordBatch> {
        // The optional columns that no bar of the batch has share one null array. Its values
        // are zeroed pages from the system that nothing writes or reads (the writer skips null
        // slots); `new_null_array` would zero them by hand, 5 MB a batch in memory.
        let nulls: ArrayRef = Arc::new(Float64Array::new_null(self.len()));
        let [open, high, low, volume] = self.optional.map(|column| match column {
            Some(mut values) => Arc::new(values.finish()) as ArrayRef,
            None => nulls.clone(),
        });
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.ticker.finish()),
            Arc::new(self.date.finish()),
            open,
            high,
            low,
            Arc::new(self.close.finish()),
            volume,
        ];
        RecordBatch::try_new(schema.clone(), columns).map_err(|source| DataError::Arrow {
            path: path.into(),
            source,
        })
    }
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
    let (builder, tickers) = open_parquet(path)?;
    let mut position: std::collections::HashMap<String, usize> = tickers
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i))
        .collect();
    let mut table = TableBuilder::new(tickers);
    decode_rows(builder, path, |decoded| {
        let ticker = match &decoded {
            Decoded::Bar(row) => &row.ticker,
            Decoded::NoBar(ticker) => ticker,
        };
        let at = match position.get(ticker) {
            Some(&at) => at,
            None => {
                let at = table.add_ticker(ticker.clone());
                position.insert(ticker.clone(), at);
                at
            }
        };
        if let Decoded::Bar(row) = decoded {
            table.push(at, row.bar());
        }
        Ok(())
    })?;
    let table = table.finish();
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
/// assert_eq!(rows, read_parquet(&path)?.rows().collect::<Vec<_>>());
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
            tickers: table.tickers().to_vec(),
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
            for (i, (ticker, series)) in table.series().enumerate() {
                visit(i, &series.rows(ticker).collect::<Vec<_>>());
            }
            return Ok(());
        }
        let origin = self.path.display().to_string();
        let mut pending = check_universe(&self.tickers, &origin).err();
        let (builder, _) = open_parquet(&self.path)?;
        // The rows of one ticker: the first pass checked that a ticker's rows come together.
        let mut chunk: Vec<PriceRow> = Vec::new();
        let mut next = 0;
        let mut any_row = false;
        // Visits the tickers before `upto`: the one of `chunk` (its rows checked as `validate`
        // checks a ticker's rows) and those without rows.
        let mut flush = |upto: usize,
                         next: &mut usize,
                         chunk: &mut Vec<PriceRow>,
                         pending: &mut Option<DataError>| {
            while *next < upto {
                let ticker = &self.tickers[*next];
                if chunk.first().is_some_and(|row| row.ticker == *ticker) {
                    if pending.is_none() {
                        *pending =
                            check_bars(ticker, chunk.iter().map(PriceRow::bar), &origin).err();
                    }
                    visit(*next, chunk);
                    chunk.clear();
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
            if chunk.first().is_none_or(|first| first.ticker != row.ticker) {
                // The first pass checked that tickers come in universe order.
                let rank = self.tickers[next..]
                    .iter()
                    .position(|t| *t == row.ticker)
                    .map_or(self.tickers.len(), |i| next + i);
                flush(rank, &mut next, &mut chunk, &mut pending);
            }
            chunk.push(row);
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
    let invalid = |reason: String| DataError::Schema {
        path: path.into(),
        column: TICKERS_METADATA_KEY.into(),
        reason: format!("invalid metadata: {reason}"),
    };
    let tickers: Vec<String> = match schema.metadata().get(TICKERS_METADATA_KEY) {
        Some(json) => serde_json::from_str::<Vec<String>>(json)
            .map_err(|err| invalid(err.to_string()))?
            .into_iter()
            .map(|ticker| normalized_ticker(ticker).ok_or_else(|| invalid("empty ticker".into())))
            .collect::<Result<_>>()?,
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
    // Rows are numbered from 1 across the whole file, not within a batch.
    let mut before = 0;
    for batch in reader {
        let batch = batch.map_err(|source| DataError::Arrow {
            path: path.into(),
            source,
        })?;
        let column = |name: &str| batch.column_by_name(name);
        let names = strings(column("ticker").expect("checked on opening"), path)?;
        let dates = dates(column("date").expect("checked on opening"), path, before)?;
        let close = numbers(column("close"), "close", path, batch.num_rows())?;
        let open = numbers(column("open"), "open", path, batch.num_rows())?;
        let high = numbers(column("high"), "high", path, batch.num_rows())?;
        let low = numbers(column("low"), "low", path, batch.num_rows())?;
        let volume = numbers(column("volume"), "volume", path, batch.num_rows())?;
        for (i, name) in names.into_iter().enumerate() {
            let row = before + i + 1;
            let ticker = name.ok_or_else(|| schema_err("ticker", format!("null in row {row}")))?;
            // As a CSV file's: trimmed and upper-cased, so that `aapl` and `AAPL` are one.
            let ticker = normalized_ticker(ticker)
                .ok_or_else(|| schema_err("ticker", format!("empty ticker in row {row}")))?;
            let date = dates[i].ok_or_else(|| schema_err("date", format!("null in row {row}")))?;
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
        before += batch.num_rows();
    }
    Ok(())
}

/// A ticker as the CSV reader keeps it: trimmed and upper-cased; `None` when blank. A ticker
/// already so (every file `write_parquet` wrote) is kept as it is, without a copy.
fn normalized_ticker(ticker: String) -> Option<String> {
    let trimmed = ticker.trim();
    if trimmed.is_empty() {
        return None;
    }
    let kept = trimmed.len() == ticker.len() && !ticker.chars().any(char::is_lowercase);
    Some(if kept { ticker } else { trimmed.to_uppercase() })
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

/// The dates of a batch whose first row is row `before + 1` of the file.
fn dates(array: &ArrayRef, path: &Path, before: usize) -> Result<Vec<Option<NaiveDate>>> {
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
                            before + row + 1
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
    use arrow_array::{Date32Array, Float64Array, StringArray};

    #[test]
    fn a_date32_beyond_the_calendar_is_an_error_naming_file_and_row() {
        let path = Path::new("prices.parquet");
        let array: ArrayRef =
            std::sync::Arc::new(Date32Array::from(vec![Some(7306), None, Some(i32::MAX)]));
        let err = dates(&array, path, 0).unwrap_err().to_string();
        assert!(
            err.contains("prices.parquet") && err.contains("date") && err.contains("row 3"),
            "{err}"
        );
        // In a later batch, the row of the file.
        let err = dates(&array, path, 1024).unwrap_err().to_string();
        assert!(err.contains("row 1027:"), "{err}");
        let fine: ArrayRef = std::sync::Arc::new(Date32Array::from(vec![Some(7306), None]));
        assert_eq!(
            dates(&fine, path, 0).unwrap(),
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
            assert_eq!(tickers, table.tickers(), "case {k}");
            let expected: Visits = (table.series().enumerate())
                .map(|(i, (t, series))| (i, series.rows(t).collect()))
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

    /// Tickers are kept as the CSV reader keeps them, whether another tool wrote them in lower
    /// case, padded, or in the universe metadata: one ticker in any case is one series (it
    /// used to be two half-series, `aapl` and `AAPL`), and a blank one is refused.
    #[test]
    fn tickers_are_trimmed_and_upper_cased_and_a_blank_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mixed = dir.path().join("mixed.parquet");
        write_rows(
            &mixed,
            &[("aapl", 2, 1.0), ("AAPL", 3, 2.0), (" Msft ", 2, 3.0)],
            None,
        );
        let table = read_parquet(&mixed).unwrap();
        assert_eq!(table.tickers(), ["AAPL", "MSFT"]);
        assert_eq!(table.rows_of("AAPL").closes(), [1.0, 2.0]);
        let listed = dir.path().join("listed.parquet");
        write_rows(
            &listed,
            &[("aapl", 2, 1.0), ("aapl", 3, 2.0)],
            Some(&["aapl"]),
        );
        let (tickers, visits) = streamed(&listed).unwrap();
        assert_eq!(tickers, ["AAPL"]);
        assert_eq!(visits[0].1.len(), 2);
        for (name, rows, universe, message) in [
            (
                "blank",
                &[("AAA", 2, 1.0), (" ", 2, 1.0)][..],
                None,
                "empty ticker in row 2",
            ),
            (
                "listed-blank",
                &[("AAA", 2, 1.0)],
                Some(&["AAA", ""][..]),
                "invalid metadata: empty ticker",
            ),
        ] {
            let path = dir.path().join(format!("{name}.parquet"));
            write_rows(&path, rows, universe);
            let err = read_parquet(&path).unwrap_err().to_string();
            assert!(err.contains(message), "{name}: {err}");
        }
    }

    /// A null is reported at its row of the file, counted from 1, whatever batch it is read in
    /// (the reader's batches hold 1,024 rows; the count used to restart with each).
    #[test]
    fn a_null_is_named_by_its_row_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("null.parquet");
        let n = 3000;
        let start = days_since_epoch(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap());
        let tickers: Vec<Option<&str>> = (0..n).map(|i| (i != 2500).then_some("AAA")).collect();
        // Another tool's schema: every column nullable.
        let nullable = price_schema()
            .fields()
            .iter()
            .map(|field| field.as_ref().clone().with_nullable(true))
            .collect::<Vec<Field>>();
        let schema = Arc::new(Schema::new(nullable));
        let none = || -> ArrayRef { Arc::new(Float64Array::from(vec![None; n])) };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(tickers)),
            Arc::new(Date32Array::from_iter_values(
                (0..n).map(|i| start + i as i32),
            )),
            none(),
            none(),
            none(),
            Arc::new(Float64Array::from_iter_values((0..n).map(|_| 1.0))),
            none(),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut writer = ArrowWriter::try_new(File::create(&path).unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let err = read_parquet(&path).unwrap_err().to_string();
        assert!(err.ends_with("column `ticker`: null in row 2501"), "{err}");
    }

    /// Writer sizes small enough for a table of a few hundred rows to take several batches:
    /// mini-batches of 8 rows (20 for uniform levels), row groups of 100 rows.
    fn small_writer() -> WriterProperties {
        WriterProperties::builder()
            .set_write_batch_size(8)
            .set_data_page_row_count_limit(20)
            .set_max_row_group_row_count(Some(100))
            .build()
    }

    /// `tickers` x `days` bars from 2024-01-01, closes counting up; `extra` fills in the rest.
    fn bars(tickers: &[&str], days: u32, extra: impl Fn(usize, u32, &mut PriceRow)) -> PriceTable {
        let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let mut rows = Vec::new();
        for (k, ticker) in tickers.iter().enumerate() {
            for day in 0..days {
                let date = first + chrono::Days::new(u64::from(day));
                let mut row = PriceRow::close_only(*ticker, date, f64::from(day + 1));
                extra(k, day, &mut row);
                rows.push(row);
            }
        }
        PriceTable::from_rows(tickers.iter().map(|t| t.to_string()).collect(), rows)
    }

    fn written_in_batches(table: &PriceTable) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_table(&mut bytes, table, small_writer(), Path::new("t.parquet")).unwrap();
        bytes
    }

    /// `table` handed to the writer `rows` at a time (all of it for `usize::MAX`).
    fn written_in_slices(table: &PriceTable, rows: usize) -> Vec<u8> {
        let mut builder = BatchBuilder::new(table.len());
        for (ticker, series) in table.series() {
            series.bars().for_each(|bar| builder.push(ticker, &bar));
        }
        let path = Path::new("t.parquet");
        let whole = builder
            .finish(&schema_of(table, path).unwrap(), path)
            .unwrap();
        let mut bytes = Vec::new();
        let mut writer =
            ArrowWriter::try_new(&mut bytes, whole.schema(), Some(small_writer())).unwrap();
        for start in (0..whole.num_rows()).step_by(rows.min(whole.num_rows())) {
            let len = rows.min(whole.num_rows() - start);
            writer.write(&whole.slice(start, len)).unwrap();
        }
        writer.close().unwrap();
        bytes
    }

    #[test]
    fn the_batches_give_the_bytes_of_one_batch_of_the_whole_table() {
        // lcm(8, 20) = 40: batches of 40, 40, then 20 to the row group's end, and again.
        let cuts: Vec<usize> = [0, 40, 80, 100, 140, 180]
            .iter()
            .map(|&written| rows_to_next_cut(&small_writer(), written))
            .collect();
        assert_eq!(cuts, [40, 40, 20, 40, 40, 20]);
        // 210 rows: six batches, three row groups; a volume on every bar.
        let table = bars(&["BBB", "AAA", "CCC"], 70, |_, day, row| {
            row.volume = Some(f64::from(day * 100));
        });
        let batched = written_in_batches(&table);
        assert_eq!(batched, written_in_slices(&table, usize::MAX));
        // Cut elsewhere, the pages and the bytes differ: what the cuts are chosen for.
        assert_ne!(written_in_slices(&table, 30), batched);
    }

    #[test]
    fn a_table_of_several_batches_round_trips_with_every_field() {
        // Optional fields on some bars only: a column appears in the middle of a batch.
        let table = bars(&["BBB", "AAA"], 90, |k, day, row| {
            if k == 1 && day % 3 == 0 {
                (row.open, row.volume) = (Some(0.5), Some(f64::from(day)));
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.parquet");
        std::fs::write(&path, written_in_batches(&table)).unwrap();
        assert_eq!(read_parquet(&path).unwrap(), table);
        let (_, visits) = streamed(&path).unwrap();
        let lengths: Vec<(usize, usize)> =
            visits.iter().map(|(i, rows)| (*i, rows.len())).collect();
        assert_eq!(lengths, [(0, 90), (1, 90)]);
        assert_eq!(visits[1].1[3].open, Some(0.5));
        assert_eq!(visits[1].1[4].volume, None);
    }

    #[test]
    fn dates_round_trip_through_days_since_epoch() {
        let date: NaiveDate = "1990-01-02".parse().unwrap();
        // 1990-01-02 is 7306 days after 1970-01-01 (20 years incl. 5 leap days = 7305, plus 1).
        assert_eq!(days_since_epoch(date), 7306);
    }
}
