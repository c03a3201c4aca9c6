//! The whole grid of a backtest as one table: `grid.parquet`, an artifact of the backtest's
//! parent run, readable by pyarrow, polars and DuckDB.
//!
//! Layout (`momentum.grid.layout = v1` in the file's key-value metadata): one row per
//! combination in grid order; `lookback`, `skip`, `holding`, `top_k` (Int64), `cost_bps`
//! (Float64), `selected` (Int64, 1 for the winner), `train_<metric>` and `test_<metric>` for
//! every metric of `Metrics::NAMES` (Float64, `train_num_trades`/`test_num_trades` Int64; null
//! where there is no test window or a metric could not be computed), then, when PBO could be
//! computed, `block_<b>_sum` and `block_<b>_sumsq` (Float64): the sums of the combination's
//! daily train returns and of their squares in CSCV block `b`, all CSCV needs to recompute the
//! PBO. ZSTD compressed.
//!
//! [`GridFilter`] is the condition language of `momentum runs compare --where`:
//! `test_sharpe > 1 and top_k = 5`.

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use momentum_engine::{ComboResult, Experiment, GridRows, Metrics, Objective, StrategyParams};
use momentum_tracking::Cmp;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::error::{LifecycleError, Result};

/// The artifact name of the grid table in a backtest's parent run.
pub const GRID_ARTIFACT: &str = "grid.parquet";
/// The artifact name of the grid's best rows as CSV, which the MLflow UI shows as a table.
pub const GRID_TOP_ARTIFACT: &str = "grid_top.csv";
/// How many rows [`GRID_TOP_ARTIFACT`] holds.
pub const GRID_TOP_ROWS: usize = 100;

const LAYOUT_KEY: &str = "momentum.grid.layout";
const LAYOUT: &str = "v1";

/// Every combination of a grid, one row each; every cell a number (NaN where a value is
/// missing). Columns are named as in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct GridTable {
    columns: Vec<String>,
    rows: Vec<Vec<f64>>,
}

/// Rows of a Parquet row group of the grid table: the rows held in memory while it is written.
/// About 7 MB with 16 PBO blocks, the size of a chunk of the grid's rows; a grid below it is
/// one row group.
const ROW_GROUP_ROWS: usize = 1 << 14;

/// A grid table's first columns: the parameters, then whether the row is the selected one.
const PARAM_COLUMNS: [&str; 6] = [
    "lookback", "skip", "holding", "top_k", "cost_bps", "selected",
];

/// The columns of a grid table with `blocks` CSCV blocks, if any.
fn experiment_columns(blocks: Option<usize>) -> Vec<String> {
    let mut columns: Vec<String> = PARAM_COLUMNS.map(String::from).to_vec();
    for window in ["train", "test"] {
        columns.extend(Metrics::NAMES.iter().map(|m| format!("{window}_{m}")));
    }
    for b in 0..blocks.unwrap_or(0) {
        columns.push(format!("block_{b}_sum"));
        columns.push(format!("block_{b}_sumsq"));
    }
    columns
}

/// One combination's row of the grid table (the columns of [`experiment_columns`]).
fn experiment_row(combo: &ComboResult, sums: &[[f64; 2]], selected: bool) -> Vec<f64> {
    let p = combo.params;
    #[expect(clippy::cast_precision_loss, reason = "parameters are small integers")]
    let mut row = vec![
        p.lookback as f64,
        p.skip as f64,
        p.holding as f64,
        p.top_k as f64,
        p.cost_bps,
        f64::from(u8::from(selected)),
    ];
    row.extend(combo.train.values());
    row.extend(combo.test.map_or([f64::NAN; 9], |m| m.values()));
    row.extend(sums.iter().flatten());
    row
}

/// Writes a grid table of `columns` to `path` atomically, its rows a batch at a time, in row
/// groups of at most [`ROW_GROUP_ROWS`].
fn write_parquet_batches<'a>(
    path: &Path,
    columns: &[String],
    batches: impl Iterator<Item = Result<Cow<'a, [Vec<f64>]>>>,
) -> Result<()> {
    let fail = |err: Box<dyn std::error::Error + Send + Sync>| LifecycleError::write(path, err);
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            let kind = if is_integer(c) {
                DataType::Int64
            } else {
                DataType::Float64
            };
            Field::new(c, kind, true)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    // Floats of many distinct values: byte-stream-split groups their bytes by position,
    // which ZSTD compresses far better than the plain or dictionary encodings.
    let mut properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for column in columns.iter().filter(|c| !is_integer(c)) {
        let path = ColumnPath::from(column.as_str());
        properties = properties
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, Encoding::BYTE_STREAM_SPLIT);
    }
    let properties = properties
        .set_key_value_metadata(Some(vec![KeyValue::new(
            LAYOUT_KEY.into(),
            LAYOUT.to_owned(),
        )]))
        .build();
    momentum_data::write_atomic(path, |file: &mut File| {
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))
            .map_err(|e| fail(e.into()))?;
        for rows in batches {
            let rows = rows?;
            let arrays: Vec<ArrayRef> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let values = rows.iter().map(|row| row[i]);
                    if is_integer(c) {
                        #[expect(clippy::cast_possible_truncation, reason = "stored as integers")]
                        let ints: Int64Array =
                            values.map(|v| (!v.is_nan()).then_some(v as i64)).collect();
                        Arc::new(ints) as ArrayRef
                    } else {
                        let floats: Float64Array =
                            values.map(|v| (!v.is_nan()).then_some(v)).collect();
                        Arc::new(floats) as ArrayRef
                    }
                })
                .collect();
            let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| fail(e.into()))?;
            writer.write(&batch).map_err(|e| fail(e.into()))?;
        }
        writer.close().map_err(|e| fail(e.into()))?;
        Ok(())
    })
}

/// Columns stored as integers.
fn is_integer(column: &str) -> bool {
    matches!(
        column,
        "lookback"
            | "skip"
            | "holding"
            | "top_k"
            | "selected"
            | "train_num_trades"
            | "test_num_trades"
    )
}

impl GridTable {
    /// Writes the grid of a recorded experiment to `path` as Parquet (see the module docs),
    /// atomically, reading its rows a chunk at a time: memory holds one chunk and one row group
    /// (`ROW_GROUP_ROWS` rows) whatever the grid's size.
    ///
    /// # Errors
    /// [`momentum_engine::EngineError::NotRecorded`] for an experiment read from JSON;
    /// [`LifecycleError::Write`] naming the file.
    pub fn write_experiment_parquet(experiment: &Experiment, path: &Path) -> Result<()> {
        let grid = &experiment.grid;
        if grid.is_empty() {
            return Err(momentum_engine::EngineError::NotRecorded.into());
        }
        let columns = experiment_columns(grid.block_layout().map(|(blocks, _)| blocks));
        let batches = grid.chunks().map(|chunk| {
            let chunk = chunk?;
            let width = chunk.sums.len() / chunk.rows.len().max(1);
            let rows: Vec<Vec<f64>> = chunk
                .rows
                .iter()
                .enumerate()
                .map(|(r, combo)| {
                    let sums = &chunk.sums[r * width..(r + 1) * width];
                    experiment_row(combo, sums, chunk.first + r == experiment.grid_rank)
                })
                .collect();
            Ok(Cow::Owned(rows))
        });
        write_parquet_batches(path, &columns, batches)
    }

    /// The `count` best rows of a recorded experiment's grid by `objective` on the train
    /// window, best first (NaN last, ties in grid order, as [`GridTable::query`] sorts), read a
    /// chunk at a time and kept `count` at most.
    ///
    /// # Errors
    /// [`momentum_engine::EngineError::NotRecorded`] for an experiment read from JSON;
    /// [`LifecycleError::Engine`] when the rows cannot be read.
    pub fn best_of_experiment(
        experiment: &Experiment,
        objective: Objective,
        count: usize,
    ) -> Result<(Self, Vec<ComboResult>)> {
        let grid = &experiment.grid;
        if grid.is_empty() {
            return Err(momentum_engine::EngineError::NotRecorded.into());
        }
        /// A row kept, with its place: (NaN, -value, index), the smaller the better; a strict
        /// order, indices being unique.
        struct Kept {
            key: (bool, f64, usize),
            combo: ComboResult,
            row: Vec<f64>,
        }
        let before = |a: &(bool, f64, usize), b: &(bool, f64, usize)| {
            a.0.cmp(&b.0)
                .then(a.1.total_cmp(&b.1))
                .then(a.2.cmp(&b.2))
                .is_lt()
        };
        let mut best: Vec<Kept> = Vec::new();
        grid.try_for_each(|index, combo, sums| {
            let value = objective.value(&combo.train);
            let key = (
                value.is_nan(),
                if value.is_nan() { 0.0 } else { -value },
                index,
            );
            if best.len() == count && best.last().is_none_or(|worst| !before(&key, &worst.key)) {
                return Ok::<_, LifecycleError>(());
            }
            let at = best.partition_point(|kept| before(&kept.key, &key));
            let row = experiment_row(combo, sums, index == experiment.grid_rank);
            best.insert(
                at,
                Kept {
                    key,
                    combo: *combo,
                    row,
                },
            );
            best.truncate(count);
            Ok(())
        })?;
        let columns = experiment_columns(grid.block_layout().map(|(blocks, _)| blocks));
        let combos = best.iter().map(|kept| kept.combo).collect();
        let rows = best.into_iter().map(|kept| kept.row).collect();
        Ok((Self { columns, rows }, combos))
    }

    /// The rows of the grid table in the Parquet file `path` as the engine's results
    /// (parameters, train and test metrics; no test metrics where every `test_` cell is empty),
    /// in table order, and the selected row: read a record batch at a time into
    /// [`GridRows`], which keeps them on a temporary file beyond one chunk, so memory does not
    /// grow with the table (`momentum report RUN` of a run of millions of combinations).
    ///
    /// # Errors
    /// As [`GridTable::read_parquet`], and [`LifecycleError::GridFile`] naming the file and a
    /// column the rows need that the table lacks; [`LifecycleError::Engine`] when the rows
    /// cannot be kept.
    pub fn read_grid_rows(path: &Path) -> Result<(GridRows, Option<usize>)> {
        let mut reader = TableReader::open(path)?;
        let columns = ComboColumns::of(&reader.columns)
            .map_err(|missing| grid_file_error(path, missing.into()))?;
        let width = reader.columns.len();
        let (mut cells, mut first, mut selected) = (Vec::new(), 0, None);
        let batches = std::iter::from_fn(|| match reader.next_rows(&mut cells) {
            Ok(None) => None,
            Ok(Some(count)) => {
                let rows = cells.chunks_exact(width);
                if selected.is_none() {
                    selected = rows
                        .clone()
                        .position(|row| columns.is_selected(row))
                        .map(|r| first + r);
                }
                first += count;
                Some(Ok(rows.map(|row| columns.combo(row)).collect()))
            }
            Err(err) => Some(Err(err)),
        });
        let rows = GridRows::from_batches(batches)?;
        Ok((rows, selected))
    }

    /// The column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The rows, in grid order unless reordered.
    pub fn rows(&self) -> &[Vec<f64>] {
        &self.rows
    }

    /// The index of `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The rows that satisfy `filter`, sorted by `sort` (largest first unless `ascending`;
    /// NaN last; ties keep grid order), at most `top` of them.
    ///
    /// # Errors
    /// [`LifecycleError::GridQuery`] naming a column the table does not have.
    pub fn query(
        &self,
        filter: Option<&GridFilter>,
        sort: Option<&str>,
        ascending: bool,
        top: Option<usize>,
    ) -> Result<Self> {
        let mut picker = Picker::new(&self.columns, filter, (sort, ascending), top)?;
        for (index, row) in self.rows.iter().enumerate() {
            if !picker.wants_more() {
                break;
            }
            picker.offer(index, row);
        }
        Ok(Self {
            columns: self.columns.clone(),
            rows: picker.finish(),
        })
    }

    /// [`GridTable::query`] of the table in the Parquet file `path`, read a row group at a
    /// time: memory holds the rows that pass the filter, only the best `top` of them when
    /// sorted with a `top`, and reading stops at the `top`-th without a sort. With the number
    /// of rows in the file.
    ///
    /// # Errors
    /// As [`GridTable::read_parquet`] and [`GridTable::query`].
    pub fn query_parquet(
        path: &Path,
        filter: Option<&GridFilter>,
        (sort, ascending): (Option<&str>, bool),
        top: Option<usize>,
    ) -> Result<(Self, usize)> {
        let reader = TableReader::open(path)?;
        let (columns, total) = (reader.columns.clone(), reader.total);
        let mut picker = Picker::new(&columns, filter, (sort, ascending), top)?;
        reader.for_each_row(|index, row| {
            picker.offer(index, row);
            picker.wants_more()
        })?;
        let rows = picker.finish();
        Ok((Self { columns, rows }, total))
    }

    /// Writes the table as CSV: a header, then one line per row (integers without a
    /// fraction, missing values empty).
    ///
    /// # Errors
    /// The writer's I/O error.
    pub fn write_csv(&self, mut out: impl Write) -> std::io::Result<()> {
        writeln!(out, "{}", self.columns.join(","))?;
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|v| cell(*v)).collect();
            writeln!(out, "{}", cells.join(","))?;
        }
        Ok(())
    }

    /// Writes the rows as a JSON array of objects whose keys are the columns in table order
    /// (missing values `null`, integer columns as integers), one object per line.
    ///
    /// # Errors
    /// The writer's I/O error.
    pub fn write_json(&self, mut out: impl Write) -> std::io::Result<()> {
        let keys: Vec<String> = self
            .columns
            .iter()
            .map(|c| serde_json::Value::from(c.as_str()).to_string())
            .collect();
        writeln!(out, "[")?;
        for (r, row) in self.rows.iter().enumerate() {
            let fields: Vec<String> = keys
                .iter()
                .zip(&self.columns)
                .zip(row)
                .map(|((key, name), &v)| {
                    let value = if v.is_nan() {
                        "null".to_owned()
                    } else if is_integer(name) {
                        format!("{v}")
                    } else {
                        serde_json::Value::from(v).to_string()
                    };
                    format!("{key}: {value}")
                })
                .collect();
            let comma = if r + 1 < self.rows.len() { "," } else { "" };
            writeln!(out, "  {{{}}}{comma}", fields.join(", "))?;
        }
        writeln!(out, "]")
    }

    /// Writes the table to `path` as Parquet (see the module docs), atomically.
    ///
    /// # Errors
    /// [`LifecycleError::Write`] naming the file.
    pub fn write_parquet(&self, path: &Path) -> Result<()> {
        let whole = std::iter::once(Ok(Cow::Borrowed(&self.rows[..])));
        write_parquet_batches(path, &self.columns, whole)
    }

    /// Reads a table written by [`GridTable::write_parquet`].
    ///
    /// # Errors
    /// [`LifecycleError::GridFile`] naming the file and what is wrong (not Parquet, truncated,
    /// another layout, a column of another type).
    pub fn read_parquet(path: &Path) -> Result<Self> {
        let reader = TableReader::open(path)?;
        let (columns, mut rows) = (reader.columns.clone(), Vec::with_capacity(reader.total));
        reader.for_each_row(|_, row| {
            rows.push(row.to_vec());
            true
        })?;
        Ok(Self { columns, rows })
    }
}

/// The index of column `name` of `columns`.
fn known(columns: &[String], name: &str) -> Result<usize> {
    columns
        .iter()
        .position(|c| c == name)
        .ok_or_else(|| LifecycleError::GridQuery {
            token: name.to_owned(),
            reason: format!("no such column (columns: {})", column_summary(columns)),
        })
}

/// Column names for a message: the per-block sums as one range.
fn column_summary(columns: &[String]) -> String {
    let (blocks, named): (Vec<&String>, Vec<&String>) =
        columns.iter().partition(|c| c.starts_with("block_"));
    let mut text = named
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if let (Some(first), Some(last)) = (blocks.first(), blocks.last()) {
        text.push_str(&format!(", {first} .. {last}"));
    }
    text
}

/// The rows of a query, offered one at a time in grid order: those that pass the conditions,
/// at most `top` in the result ([`Picker::finish`] puts them in result order).
struct Picker {
    conditions: Vec<(usize, Cmp, f64)>,
    /// The sort column and whether ascending.
    sort: Option<(usize, bool)>,
    top: usize,
    /// `(grid index, row)` of the rows that passed (in grid order until a cut); with a sort and
    /// a `top`, at most twice `top`.
    kept: Vec<(usize, Vec<f64>)>,
}

impl Picker {
    fn new(
        columns: &[String],
        filter: Option<&GridFilter>,
        (sort, ascending): (Option<&str>, bool),
        top: Option<usize>,
    ) -> Result<Self> {
        let conditions = match filter {
            Some(filter) => filter
                .conditions
                .iter()
                .map(|c| Ok((known(columns, &c.column)?, c.op, c.value)))
                .collect::<Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        let sort = sort
            .map(|name| Ok::<_, LifecycleError>((known(columns, name)?, ascending)))
            .transpose()?;
        Ok(Self {
            conditions,
            sort,
            top: top.unwrap_or(usize::MAX),
            kept: Vec::new(),
        })
    }

    /// Whether a later row can still be in the result (not once the first `top` rows that
    /// pass are the result, unsorted).
    fn wants_more(&self) -> bool {
        self.sort.is_some() || self.kept.len() < self.top
    }

    /// The order of row `a` (at grid index `ia`) and row `b`: by the sort column, NaN last,
    /// ties (and no sort) in grid order.
    fn order(&self, (ia, a): (usize, &[f64]), (ib, b): (usize, &[f64])) -> std::cmp::Ordering {
        let by_value = match self.sort {
            None => std::cmp::Ordering::Equal,
            Some((i, ascending)) => match (a[i].is_nan(), b[i].is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ if ascending => a[i].total_cmp(&b[i]),
                _ => b[i].total_cmp(&a[i]),
            },
        };
        by_value.then(ia.cmp(&ib))
    }

    fn offer(&mut self, index: usize, row: &[f64]) {
        // A missing cell (NaN) satisfies no condition, `!=` included.
        let passes = self
            .conditions
            .iter()
            .all(|&(i, op, value)| !row[i].is_nan() && op.holds(&row[i], &value));
        if !passes || self.top == 0 {
            return;
        }
        self.kept.push((index, row.to_vec()));
        // Sorted with a `top`: at most twice `top` rows wait, then the best `top` of them stay
        // (linear in the rows, where keeping them in order cost `top` moves a row).
        if self.sort.is_some() && self.kept.len() >= self.top.saturating_mul(2) {
            self.keep_best();
        }
    }

    /// Cuts the rows kept to the best `top` (unordered).
    fn keep_best(&mut self) {
        if self.kept.len() > self.top {
            let mut kept = std::mem::take(&mut self.kept);
            kept.select_nth_unstable_by(self.top, |(ia, a), (ib, b)| {
                self.order((*ia, a), (*ib, b))
            });
            kept.truncate(self.top);
            self.kept = kept;
        }
    }

    /// The result's rows, in result order.
    fn finish(mut self) -> Vec<Vec<f64>> {
        self.keep_best();
        let mut kept = std::mem::take(&mut self.kept);
        kept.sort_by(|(ia, a), (ib, b)| self.order((*ia, a), (*ib, b)));
        kept.into_iter().map(|(_, row)| row).collect()
    }
}

/// Where a grid table keeps what the engine's results hold: the parameters, the selected flag
/// and both windows' metrics.
struct ComboColumns {
    /// Those of [`PARAM_COLUMNS`], in its order.
    params: [usize; PARAM_COLUMNS.len()],
    train: [usize; Metrics::NAMES.len()],
    test: [usize; Metrics::NAMES.len()],
}

impl ComboColumns {
    /// The columns of `columns` to read; the error names the first one missing.
    fn of(columns: &[String]) -> std::result::Result<Self, String> {
        let at = |name: &str| known(columns, name).map_err(|_| format!("no column {name}"));
        let metrics_at = |window: &str| -> std::result::Result<_, String> {
            let mut found = [0; Metrics::NAMES.len()];
            for (slot, m) in found.iter_mut().zip(Metrics::NAMES) {
                *slot = at(&format!("{window}_{m}"))?;
            }
            Ok(found)
        };
        let mut params = [0; PARAM_COLUMNS.len()];
        for (slot, name) in params.iter_mut().zip(PARAM_COLUMNS) {
            *slot = at(name)?;
        }
        Ok(Self {
            params,
            train: metrics_at("train")?,
            test: metrics_at("test")?,
        })
    }

    /// Whether `row` is the selected combination.
    fn is_selected(&self, row: &[f64]) -> bool {
        row[self.params[5]] == 1.0
    }

    /// The engine's result of `row`.
    fn combo(&self, row: &[f64]) -> ComboResult {
        let metrics = |columns: &[usize; Metrics::NAMES.len()]| {
            Metrics::from_values(std::array::from_fn(|m| row[columns[m]]))
        };
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "parameters are small non-negative integers"
        )]
        let whole = |column: usize| row[self.params[column]] as usize;
        ComboResult {
            params: StrategyParams {
                lookback: whole(0),
                skip: whole(1),
                holding: whole(2),
                top_k: whole(3),
                cost_bps: row[self.params[4]],
            },
            train: metrics(&self.train),
            test: self
                .test
                .iter()
                .any(|&c| !row[c].is_nan())
                .then(|| metrics(&self.test)),
        }
    }
}

/// What is wrong with the grid table file `path`.
fn grid_file_error(
    path: &Path,
    source: Box<dyn std::error::Error + Send + Sync>,
) -> LifecycleError {
    LifecycleError::GridFile {
        path: path.into(),
        source,
    }
}

/// A grid table file opened for reading: its columns, its number of rows, and its rows a
/// record batch at a time.
struct TableReader {
    path: PathBuf,
    columns: Vec<String>,
    total: usize,
    batches: ParquetRecordBatchReader,
}

impl TableReader {
    /// Opens `path`, checking the layout.
    fn open(path: &Path) -> Result<Self> {
        let bad = |source| grid_file_error(path, source);
        let file = File::open(path).map_err(|source| LifecycleError::Read {
            path: path.into(),
            source,
        })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(e.into()))?;
        let layout = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|k| k.key == LAYOUT_KEY))
            .and_then(|k| k.value.clone());
        if layout.as_deref() != Some(LAYOUT) {
            return Err(bad(format!(
                "not a momentum grid table (no {LAYOUT_KEY} = {LAYOUT})"
            )
            .into()));
        }
        let columns: Vec<String> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        if columns.is_empty() {
            return Err(bad("no columns".into()));
        }
        let total = usize::try_from(builder.metadata().file_metadata().num_rows())
            .map_err(|e| bad(e.into()))?;
        let batches = builder.build().map_err(|e| bad(e.into()))?;
        Ok(Self {
            path: path.into(),
            columns,
            total,
            batches,
        })
    }

    /// The rows of the next record batch into `cells`, row by row (NaN where null): their
    /// number, `None` at the end.
    fn next_rows(&mut self, cells: &mut Vec<f64>) -> Result<Option<usize>> {
        let bad = |source| grid_file_error(&self.path, source);
        let Some(batch) = self.batches.next() else {
            return Ok(None);
        };
        let batch = batch.map_err(|e| bad(e.into()))?;
        let (rows, width) = (batch.num_rows(), self.columns.len());
        cells.clear();
        cells.resize(rows * width, f64::NAN);
        for (i, column) in batch.columns().iter().enumerate() {
            let name = &self.columns[i];
            for r in (0..rows).filter(|&r| !column.is_null(r)) {
                cells[r * width + i] = match column.data_type() {
                    #[expect(clippy::cast_precision_loss, reason = "small integers")]
                    DataType::Int64 => column.as_primitive::<Int64Type>().value(r) as f64,
                    DataType::Float64 => column.as_primitive::<Float64Type>().value(r),
                    other => return Err(bad(format!("column {name} is {other}").into())),
                };
            }
        }
        Ok(Some(rows))
    }

    /// Hands each row (its index and cells, NaN where null) to `visit`, in file order, until
    /// `visit` returns false or the rows end.
    fn for_each_row(mut self, mut visit: impl FnMut(usize, &[f64]) -> bool) -> Result<()> {
        let width = self.columns.len();
        let (mut index, mut cells) = (0, Vec::new());
        while self.next_rows(&mut cells)?.is_some() {
            for row in cells.chunks_exact(width) {
                if !visit(index, row) {
                    return Ok(());
                }
                index += 1;
            }
        }
        Ok(())
    }
}

fn cell(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        v.to_string()
    }
}

/// One `column op number` of a [`GridFilter`].
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The column.
    pub column: String,
    /// The comparison.
    pub op: Cmp,
    /// The number.
    pub value: f64,
}

/// Conditions on grid rows, all of which must hold: `COLUMN OP NUMBER`, joined by `and`, OP one
/// of `= == != < <= > >=`, e.g. `test_sharpe > 1 and top_k = 5`. A missing value (no test
/// window) satisfies no condition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GridFilter {
    /// The conditions.
    pub conditions: Vec<Condition>,
}

impl FromStr for GridFilter {
    type Err = LifecycleError;

    fn from_str(text: &str) -> Result<Self> {
        let bad = |token: &str, reason: &str| LifecycleError::GridQuery {
            token: token.to_owned(),
            reason: reason.to_owned(),
        };
        let mut conditions = Vec::new();
        for part in split_and(text) {
            let part = part.as_str();
            if part.is_empty() {
                return Err(bad(
                    text.trim(),
                    "empty condition (expected COLUMN OP NUMBER, joined by and)",
                ));
            }
            let at = part
                .find(['<', '>', '=', '!'])
                .ok_or_else(|| bad(part, "no comparison (= != < <= > >=)"))?;
            let (column, rest) = part.split_at(at);
            let column = column.trim();
            if column.is_empty() {
                return Err(bad(part, "expected a column name before the comparison"));
            }
            if !column
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(bad(column, "expected a column name"));
            }
            let op_len = rest
                .chars()
                .take_while(|c| matches!(c, '<' | '>' | '=' | '!'))
                .count();
            let (op, number) = rest.split_at(op_len);
            let op: Cmp = op
                .parse()
                .map_err(|_| bad(op, "unknown comparison (= != < <= > >=)"))?;
            let number = number.trim();
            if number.is_empty() {
                return Err(bad(part, "expected a number after the comparison"));
            }
            let value: f64 = number
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| bad(number, "expected a finite number"))?;
            conditions.push(Condition {
                column: column.to_owned(),
                op,
                value,
            });
        }
        Ok(Self { conditions })
    }
}

/// The conditions of `text`: its words grouped between the words `and` (any case).
fn split_and(text: &str) -> Vec<String> {
    let mut parts = vec![Vec::new()];
    for word in text.split_whitespace() {
        if word.eq_ignore_ascii_case("and") {
            parts.push(Vec::new());
        } else if let Some(part) = parts.last_mut() {
            part.push(word);
        }
    }
    parts.into_iter().map(|words| words.join(" ")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three combinations; the second has no test window.
    fn table() -> GridTable {
        GridTable {
            columns: ["lookback", "top_k", "test_sharpe", "train_num_trades"]
                .map(String::from)
                .to_vec(),
            rows: vec![
                vec![20.0, 5.0, 1.5, 10.0],
                vec![60.0, 5.0, f64::NAN, 12.0],
                vec![120.0, 3.0, 0.25, 7.0],
            ],
        }
    }

    fn csv(table: &GridTable) -> String {
        let mut out = Vec::new();
        table.write_csv(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn conditions_parse_and_name_the_bad_token() {
        let filter: GridFilter = "test_sharpe > 1 and top_k = 5".parse().unwrap();
        assert_eq!(
            filter.conditions,
            [
                Condition {
                    column: "test_sharpe".into(),
                    op: Cmp::Gt,
                    value: 1.0
                },
                Condition {
                    column: "top_k".into(),
                    op: Cmp::Eq,
                    value: 5.0
                }
            ]
        );
        let filter: GridFilter = "lookback>=-2.5 AND top_k!=3".parse().unwrap();
        assert_eq!(filter.conditions[0].op, Cmp::Ge);
        assert_eq!(filter.conditions[0].value, -2.5);
        assert_eq!(filter.conditions[1].op, Cmp::Ne);
        for (text, token) in [
            ("top_k >> 1", "`>>`"),
            ("test_sharpe > x", "`x`"),
            ("test_sharpe > nan", "`nan`"),
            ("test_sharpe >", "`test_sharpe >`"),
            ("> 1", "`> 1`"),
            ("top_k = 5 and", "`top_k = 5 and`"),
            ("top_k", "`top_k`"),
        ] {
            let err = text.parse::<GridFilter>().unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("grid condition {token}: ")),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn a_query_filters_sorts_with_missing_values_last_and_cuts() {
        let table = table();
        let sharpe = table.query(None, Some("test_sharpe"), false, None).unwrap();
        assert_eq!(
            csv(&sharpe),
            "lookback,top_k,test_sharpe,train_num_trades\n20,5,1.5,10\n120,3,0.25,7\n60,5,,12\n"
        );
        let ascending = table
            .query(None, Some("test_sharpe"), true, Some(2))
            .unwrap();
        assert_eq!(ascending.rows()[0][0], 120.0);
        assert_eq!(ascending.rows().len(), 2);
        // A missing value satisfies no condition, not even `!=`.
        let filter: GridFilter = "top_k = 5 and test_sharpe != 0".parse().unwrap();
        let kept = table.query(Some(&filter), None, false, None).unwrap();
        assert_eq!(kept.rows().len(), 1);
        let err = table
            .query(Some(&"test_sharp > 1".parse().unwrap()), None, false, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("grid condition `test_sharp`: no such column"),
            "{err}"
        );
    }

    #[test]
    fn a_query_of_the_file_equals_filtering_and_sorting_the_whole_table() {
        // 5,000 rows: several record batches, scores with ties and gaps.
        let rows: Vec<Vec<f64>> = (0..5_000u32)
            .map(|i| {
                let score = if i % 11 == 0 {
                    f64::NAN
                } else {
                    f64::from(i * 7_919 % 101) / 10.0
                };
                vec![f64::from(i), f64::from(i % 7), score]
            })
            .collect();
        let table = GridTable {
            columns: ["lookback", "top_k", "test_sharpe"]
                .map(String::from)
                .to_vec(),
            rows,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(GRID_ARTIFACT);
        table.write_parquet(&path).unwrap();
        // The definition, plainly: every row that passes, a stable sort (NaN last), cut.
        let plain = |filter: &str, sort: Option<&str>, ascending: bool, top: Option<usize>| {
            let filter: Option<GridFilter> = (!filter.is_empty()).then(|| filter.parse().unwrap());
            let mut rows: Vec<Vec<f64>> = table
                .rows
                .iter()
                .filter(|row| {
                    filter.iter().flat_map(|f| &f.conditions).all(|c| {
                        let v = row[table.column(&c.column).unwrap()];
                        !v.is_nan() && c.op.holds(&v, &c.value)
                    })
                })
                .cloned()
                .collect();
            if let Some(sort) = sort {
                let i = table.column(sort).unwrap();
                let key = |row: &Vec<f64>| {
                    let v = if ascending { row[i] } else { -row[i] };
                    (row[i].is_nan(), if row[i].is_nan() { 0.0 } else { v })
                };
                rows.sort_by(|a, b| key(a).partial_cmp(&key(b)).unwrap());
            }
            rows.truncate(top.unwrap_or(usize::MAX));
            (filter, rows)
        };
        let cases: [(&str, Option<&str>, bool, Option<usize>); 7] = [
            ("", None, false, None),
            ("", Some("test_sharpe"), false, Some(10)),
            ("top_k = 3", Some("test_sharpe"), true, Some(25)),
            ("test_sharpe > 5", None, false, Some(7)),
            (
                "test_sharpe >= 9.9 and top_k != 0",
                Some("test_sharpe"),
                false,
                None,
            ),
            ("", Some("test_sharpe"), true, None),
            ("", Some("lookback"), false, Some(0)),
        ];
        for (text, sort, ascending, top) in cases {
            let (filter, want) = plain(text, sort, ascending, top);
            let (got, total) =
                GridTable::query_parquet(&path, filter.as_ref(), (sort, ascending), top).unwrap();
            assert_eq!(total, 5_000);
            let bits = |rows: &[Vec<f64>]| -> Vec<Vec<u64>> {
                rows.iter()
                    .map(|r| r.iter().map(|v| v.to_bits()).collect())
                    .collect()
            };
            assert_eq!(bits(got.rows()), bits(&want), "{text:?} {sort:?} {top:?}");
            let in_memory = table.query(filter.as_ref(), sort, ascending, top).unwrap();
            assert_eq!(
                bits(in_memory.rows()),
                bits(&want),
                "{text:?} {sort:?} {top:?}"
            );
        }
        let err = GridTable::query_parquet(&path, None, (Some("sharpe"), false), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("grid condition `sharpe`: no such column"),
            "{err}"
        );
    }

    #[test]
    fn the_rows_of_a_grid_file_are_the_rows_written_even_beyond_a_chunk() {
        // 20,000 rows: more than the engine keeps in memory (16,384), so the rows read go to a
        // temporary file a record batch at a time. Every fifth row has no test window, every
        // thirteenth a NaN train Sharpe ratio.
        let combos: Vec<ComboResult> = (0..20_000u32)
            .map(|i| {
                let at = |n: u32| usize::try_from(i % n).unwrap();
                let params = StrategyParams {
                    lookback: 5 + 5 * at(50),
                    skip: at(3),
                    holding: 1 + at(60),
                    top_k: 1 + at(7),
                    cost_bps: f64::from(i % 4) * 2.5,
                };
                let value = |m: usize| match m {
                    7 => f64::from(i % 97),
                    3 if i % 13 == 0 => f64::NAN,
                    _ => f64::from(i) * 1e-3 + f64::from(u32::try_from(m).unwrap()) / 7.0 - 3.0,
                };
                ComboResult {
                    params,
                    train: Metrics::from_values(std::array::from_fn(value)),
                    test: (i % 5 != 0)
                        .then(|| Metrics::from_values(std::array::from_fn(|m| value(m).max(-1.0)))),
                }
            })
            .collect();
        let selected = 17_777;
        let table = GridTable {
            columns: experiment_columns(None),
            rows: combos
                .iter()
                .enumerate()
                .map(|(i, combo)| experiment_row(combo, &[], i == selected))
                .collect(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(GRID_ARTIFACT);
        table.write_parquet(&path).unwrap();
        let (rows, found) = GridTable::read_grid_rows(&path).unwrap();
        assert_eq!(found, Some(selected));
        assert_eq!(rows.len(), 20_000);
        // Every value's bits (`GridRows` compares records), and which rows have a test window.
        assert_eq!(rows, GridRows::new(&combos, None).unwrap());
        let mut read = Vec::new();
        rows.try_for_each::<LifecycleError>(|_, combo, _| {
            read.push(*combo);
            Ok(())
        })
        .unwrap();
        assert!(read.iter().zip(&combos).all(|(a, b)| a.params == b.params
            && a.test.is_some() == b.test.is_some()
            && a.train.sharpe.is_nan() == b.train.sharpe.is_nan()));
        // A table without a column the rows need: the error names the file and the column.
        let without = |column: &str| {
            let keep: Vec<usize> = (0..table.columns.len())
                .filter(|&c| table.columns[c] != column)
                .collect();
            GridTable {
                columns: keep.iter().map(|&c| table.columns[c].clone()).collect(),
                rows: vec![keep.iter().map(|&c| table.rows[selected][c]).collect()],
            }
        };
        let message = |err: LifecycleError| {
            std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(": ")
        };
        for column in ["test_calmar", "selected"] {
            without(column).write_parquet(&path).unwrap();
            let err = message(GridTable::read_grid_rows(&path).unwrap_err());
            assert!(
                err.contains(GRID_ARTIFACT) && err.ends_with(&format!("no column {column}")),
                "{err}"
            );
        }
    }

    #[test]
    fn the_parquet_file_round_trips_and_a_broken_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(GRID_ARTIFACT);
        let table = table();
        table.write_parquet(&path).unwrap();
        let read = GridTable::read_parquet(&path).unwrap();
        assert_eq!(read.columns(), table.columns());
        assert_eq!(csv(&read), csv(&table));
        let mut json = Vec::new();
        read.write_json(&mut json).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value[1]["test_sharpe"], serde_json::Value::Null);
        assert_eq!(value[2]["train_num_trades"], 7);
        // Truncated: the footer is gone.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = GridTable::read_parquet(&path).unwrap_err().to_string();
        assert!(
            err.contains(GRID_ARTIFACT) && err.contains("is not a readable grid table"),
            "{err}"
        );
    }
}
