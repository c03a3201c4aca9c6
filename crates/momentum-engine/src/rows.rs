//! The grid's rows, kept on disk: every combination's metrics and block sums in grid order,
//! written as the grid search finishes them and read back a chunk at a time, so that a grid's
//! memory does not grow with its size.
//!
//! Rows that fit one chunk ([`CHUNK_ROWS`], what every reader holds at a time anyway) stay in
//! memory as they were computed: no file, no encoding, and the readers after the grid search
//! (the selection, PSR, DSR, PBO, the reports) borrow them instead of decoding them again.
//! Beyond that, the rows go to an anonymous temporary file (in `$TMPDIR`, removed by the system
//! when the last handle closes, even if the process is killed). A row is a fixed-size record of
//! little-endian `f64`: `lookback, skip, holding, top_k, cost_bps`, the nine train metrics, the
//! nine test metrics (NaN without a test window), then `[sum r, sum r^2]` per CSCV block.
//! Integers below 2^53 and every `f64` round-trip exactly, so reading a row gives back the
//! values the grid computed, bit for bit.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{EngineError, Result};
use crate::grid::{ComboResult, RunningBest};
use crate::metrics::Metrics;
use crate::params::{Objective, StrategyParams};
use crate::stats::BlockSums;

/// Rows read or written at a time: about 8 MB of records with 16 blocks. The grid search hands
/// its results over in batches of at least this many combinations, and every reader of the rows
/// holds one chunk at a time.
pub(crate) const CHUNK_ROWS: usize = 1 << 14;

/// Values of a row before its block sums: 5 parameters and 2 x 9 metrics.
const ROW_VALUES: usize = 5 + 2 * Metrics::NAMES.len();

/// One batch of rows in grid order: the first row's index in the grid, the rows, and their
/// block sums (`sums[r * blocks + b]` for the `r`-th row of the chunk; empty without blocks).
#[derive(Debug, Clone, PartialEq)]
pub struct GridChunk {
    /// Grid index of `rows[0]`.
    pub first: usize,
    /// The rows.
    pub rows: Vec<ComboResult>,
    /// Their `[sum r, sum r^2]` per CSCV block, row by row.
    pub sums: Vec<[f64; 2]>,
}

/// Every combination's results in grid order, on disk (see the module docs).
///
/// Cloning shares the file. Two values are equal when they hold the same rows and block sums,
/// bit for bit, as stored (a NaN metric, of a run worth 0, equals itself).
#[derive(Debug, Clone)]
pub struct GridRows {
    stored: Stored,
    len: usize,
    /// CSCV blocks `S` and returns per block, when the rows carry block sums.
    blocks: Option<(usize, usize)>,
    chunk_rows: usize,
}

/// Where the rows of a [`GridRows`] are.
#[derive(Debug, Clone)]
enum Stored {
    /// All of them, when they fit one chunk (or there are none).
    Memory(Arc<GridChunk>),
    /// Their records in `file` from byte `offset` on: 0 in a temporary file, after the header in
    /// a shard file ([`GridRows::in_file`]; so a file with an offset is a shard file).
    File { file: Arc<Mutex<File>>, offset: u64 },
}

/// No rows, from the first one.
fn empty_chunk() -> GridChunk {
    GridChunk {
        first: 0,
        rows: Vec::new(),
        sums: Vec::new(),
    }
}

impl Default for GridRows {
    /// No rows (an experiment read from JSON).
    fn default() -> Self {
        Self {
            stored: Stored::Memory(Arc::new(empty_chunk())),
            len: 0,
            blocks: None,
            chunk_rows: CHUNK_ROWS,
        }
    }
}

impl PartialEq for GridRows {
    fn eq(&self, other: &Self) -> bool {
        if (self.len, self.blocks) != (other.len, other.blocks) {
            return false;
        }
        let (mut mine, mut theirs) = (self.chunks(), other.chunks());
        loop {
            match (mine.next(), theirs.next()) {
                (None, None) => return true,
                (Some(Ok(a)), Some(Ok(b))) if records(&a) == records(&b) => {}
                _ => return false,
            }
        }
    }
}

/// A chunk's records, as a file stores them: every value's bits.
fn records(chunk: &GridChunk) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to memory cannot fail.
    let _ = encode_rows(&chunk.rows, &chunk.sums, &mut out);
    out
}

impl GridRows {
    /// Rows from memory: `rows` in grid order with `blocks` (their block sums, one set per row),
    /// kept as the grid search keeps its own (in memory while they fit one chunk, on a temporary
    /// file beyond).
    ///
    /// # Errors
    /// [`EngineError::InvalidParameter`] when `blocks` does not hold one set of sums per row;
    /// [`EngineError::GridSpill`] when the temporary file cannot be written.
    ///
    /// ```
    /// use momentum_engine::{ComboResult, GridRows, Metrics, StrategyParams};
    ///
    /// let params = StrategyParams { lookback: 20, skip: 0, holding: 5, top_k: 3, cost_bps: 10.0 };
    /// let row = ComboResult { params, train: Metrics { sharpe: 1.5, ..Metrics::default() }, test: None };
    /// let rows = GridRows::new(&[row, row], None)?;
    /// assert_eq!(rows.len(), 2);
    /// assert_eq!(rows.get(1)?, row);
    /// # Ok::<(), momentum_engine::EngineError>(())
    /// ```
    pub fn new(rows: &[ComboResult], blocks: Option<&BlockSums>) -> Result<Self> {
        let (sums, layout) = match blocks {
            Some(b) if b.combinations() == rows.len() && b.sums.len() == rows.len() * b.blocks => {
                (&b.sums[..], Some((b.blocks, b.block_len)))
            }
            Some(b) => {
                return Err(EngineError::InvalidParameter {
                    name: "blocks",
                    value: b.sums.len().to_string(),
                    reason: "must hold blocks x rows sums",
                });
            }
            None => (&[][..], None),
        };
        let mut writer = GridRowsWriter::new();
        writer.push(rows, sums)?;
        writer.finish(layout)
    }

    /// Rows without block sums, handed over a batch at a time in grid order (a table read a
    /// record batch at a time): memory holds one batch and, while the rows fit one chunk, the
    /// rows so far; beyond that they go to a temporary file as [`GridRows::new`] keeps them.
    ///
    /// # Errors
    /// The first error of `batches`; [`EngineError::GridSpill`] (converted) when the
    /// temporary file cannot be written.
    ///
    /// ```
    /// use momentum_engine::{ComboResult, EngineError, GridRows, Metrics, StrategyParams};
    ///
    /// let params = StrategyParams { lookback: 20, skip: 0, holding: 5, top_k: 3, cost_bps: 10.0 };
    /// let row = ComboResult { params, train: Metrics::default(), test: None };
    /// let batches = [Ok(vec![row; 2]), Ok(vec![row])];
    /// let rows = GridRows::from_batches::<EngineError>(batches)?;
    /// assert_eq!(rows, GridRows::new(&[row; 3], None)?);
    /// # Ok::<(), EngineError>(())
    /// ```
    pub fn from_batches<E: From<EngineError>>(
        batches: impl IntoIterator<Item = Result<Vec<ComboResult>, E>>,
    ) -> Result<Self, E> {
        let mut writer = GridRowsWriter::new();
        for rows in batches {
            writer.push(&rows?, &[])?;
        }
        Ok(writer.finish(None)?)
    }

    /// `len` rows stored in `file` from byte `offset` on, as [`GridRows::write_records`] wrote
    /// them (a shard file's rows, read where they are: no copy). The caller has checked the
    /// file (its length and digest); a file changed while the rows are read gives other rows.
    pub(crate) fn in_file(
        file: File,
        offset: u64,
        (len, blocks): (usize, Option<(usize, usize)>),
    ) -> Self {
        debug_assert!(offset > 0, "a shard file's rows follow its header");
        Self {
            stored: Stored::File {
                file: Arc::new(Mutex::new(file)),
                offset,
            },
            len,
            blocks,
            chunk_rows: CHUNK_ROWS,
        }
    }

    /// Number of rows (combinations).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no row (an experiment read from JSON has none).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// CSCV blocks `S` and returns per block, when the rows carry block sums.
    pub fn block_layout(&self) -> Option<(usize, usize)> {
        self.blocks
    }

    /// Row `index`.
    ///
    /// # Errors
    /// [`EngineError::NotRecorded`] past the last row; [`EngineError::GridSpill`] when the
    /// file cannot be read.
    pub fn get(&self, index: usize) -> Result<ComboResult> {
        if index >= self.len {
            return Err(EngineError::NotRecorded);
        }
        Ok(self.read(index, 1)?.rows[0])
    }

    /// The rows a chunk at a time, in grid order: borrowed when they are all in memory and
    /// fit one chunk, read (and decoded) otherwise.
    pub fn chunks(&self) -> impl Iterator<Item = Result<Cow<'_, GridChunk>>> + '_ {
        (0..self.len)
            .step_by(self.chunk_rows.max(1))
            .map(|first| match &self.stored {
                Stored::Memory(all) if first == 0 && self.chunk_rows >= self.len => {
                    Ok(Cow::Borrowed(&**all))
                }
                _ => self
                    .read(first, self.chunk_rows.min(self.len - first))
                    .map(Cow::Owned),
            })
    }

    /// Calls `f(index, row, sums)` for every row in grid order (`sums`: its block sums, empty
    /// without blocks), one chunk in memory at a time; stops at `f`'s first error.
    ///
    /// # Errors
    /// `f`'s error, or [`EngineError::GridSpill`] (converted) when the file cannot be read.
    pub fn try_for_each<E: From<EngineError>>(
        &self,
        mut f: impl FnMut(usize, &ComboResult, &[[f64; 2]]) -> Result<(), E>,
    ) -> Result<(), E> {
        let width = self.blocks.map_or(0, |(s, _)| s);
        for chunk in self.chunks() {
            let chunk = chunk?;
            for (r, row) in chunk.rows.iter().enumerate() {
                f(
                    chunk.first + r,
                    row,
                    &chunk.sums[r * width..(r + 1) * width],
                )?;
            }
        }
        Ok(())
    }

    /// The index of the best row by `objective` on the train window ([`crate::select_best`]:
    /// NaN counts as worst, ties go to the lower index, 0 when every value is NaN).
    ///
    /// # Errors
    /// [`EngineError::GridSpill`] when the file cannot be read.
    pub fn select_best(&self, objective: Objective) -> Result<usize> {
        let mut best = RunningBest::new(objective);
        for chunk in self.chunks() {
            best.offer(&chunk?.rows);
        }
        Ok(best.index())
    }

    /// Writes every record to `out` as stored ([`GridRowsWriter::push_records`] reads them
    /// back).
    ///
    /// # Errors
    /// [`EngineError::GridSpill`] when the rows cannot be read, [`EngineError::Io`] when `out`
    /// fails.
    pub(crate) fn write_records(&self, out: &mut impl Write) -> Result<()> {
        self.copy_to(out).map_err(|err| match err {
            Copy::Read(err) => self.read_error(err),
            Copy::Short(left) => self.read_error(std::io::Error::other(format!(
                "the rows' file ends {left} bytes early"
            ))),
            Copy::Write(err) => EngineError::Io(err),
        })
    }

    /// Copies every record to `out` (encodes them, when they are in memory).
    fn copy_to(&self, out: &mut impl Write) -> Result<(), Copy> {
        let (file, offset) = match &self.stored {
            Stored::Memory(all) => {
                return encode_rows(&all.rows, &all.sums, out).map_err(Copy::Write);
            }
            Stored::File { file, offset } => (file, *offset),
        };
        let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
        file.seek(SeekFrom::Start(offset)).map_err(Copy::Read)?;
        let width = self.blocks.map_or(0, |(s, _)| s);
        copy_exact(&mut *file, out, self.len * record_bytes(width))
    }

    /// The same rows read `chunk_rows` at a time (tests of the chunked readers).
    #[cfg(test)]
    pub(crate) fn with_chunk_rows(mut self, chunk_rows: usize) -> Self {
        self.chunk_rows = chunk_rows;
        self
    }

    /// The error of a failed read of the rows' file: a shard file's (read, never written), or
    /// the temporary one's.
    fn read_error(&self, source: std::io::Error) -> EngineError {
        if matches!(self.stored, Stored::File { offset, .. } if offset > 0) {
            EngineError::ShardFile {
                reason: format!("cannot read its rows: {source}"),
            }
        } else {
            spill_error(source)
        }
    }

    /// Rows `first .. first + count`.
    fn read(&self, first: usize, count: usize) -> Result<GridChunk> {
        let width = self.blocks.map_or(0, |(s, _)| s);
        let (file, start) = match &self.stored {
            Stored::Memory(all) => {
                return Ok(GridChunk {
                    first,
                    rows: all.rows[first..first + count].to_vec(),
                    sums: all.sums[first * width..(first + count) * width].to_vec(),
                });
            }
            Stored::File { file, offset } => (file, *offset),
        };
        let record = record_bytes(width);
        let mut bytes = vec![0u8; count * record];
        let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
        let at = u64::try_from(first * record)
            .map(|at| at + start)
            .map_err(std::io::Error::other);
        file.seek(SeekFrom::Start(at.map_err(|e| self.read_error(e))?))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(|e| self.read_error(e))?;
        let mut rows = Vec::with_capacity(count);
        let mut sums = Vec::with_capacity(count * width);
        for record in bytes.chunks_exact(record) {
            rows.push(decode_row(record, &mut sums));
        }
        Ok(GridChunk { first, rows, sums })
    }
}

/// Takes rows as they arrive ([`GridRows`]'s layout): in memory while they fit one chunk, on a
/// temporary file from the first row beyond.
pub(crate) struct GridRowsWriter {
    pending: Pending,
    len: usize,
    /// Block sums per row, set by the first rows pushed.
    width: usize,
}

/// Where a [`GridRowsWriter`] keeps the rows so far.
enum Pending {
    /// While they fit one chunk.
    Memory(GridChunk),
    /// The temporary file, from the first row that does not fit in memory.
    File(BufWriter<File>),
}

impl GridRowsWriter {
    /// A writer of rows, in memory until they outgrow one chunk.
    pub(crate) fn new() -> Self {
        Self {
            pending: Pending::Memory(empty_chunk()),
            len: 0,
            width: 0,
        }
    }

    /// The temporary file, with the rows kept in memory so far written to it first.
    fn file(&mut self) -> Result<&mut BufWriter<File>> {
        if let Pending::Memory(kept) = &self.pending {
            let file = tempfile::tempfile().map_err(spill_error)?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            encode_rows(&kept.rows, &kept.sums, &mut out).map_err(spill_error)?;
            self.pending = Pending::File(out);
        }
        match &mut self.pending {
            Pending::File(out) => Ok(out),
            Pending::Memory(_) => unreachable!("the rows in memory went to the file above"),
        }
    }

    /// Appends `rows` and their block sums (the same number per row in every call, row by row).
    pub(crate) fn push(&mut self, rows: &[ComboResult], sums: &[[f64; 2]]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        if self.len == 0 {
            self.width = sums.len() / rows.len();
        }
        debug_assert_eq!(sums.len(), rows.len() * self.width);
        match &mut self.pending {
            Pending::Memory(kept) if self.len + rows.len() <= CHUNK_ROWS => {
                kept.rows.extend_from_slice(rows);
                kept.sums.extend_from_slice(sums);
            }
            _ => {
                let out = self.file()?;
                encode_rows(rows, sums, out).map_err(spill_error)?;
            }
        }
        self.len += rows.len();
        Ok(())
    }

    /// Appends `rows` records of `width` block sums each, read from `input` as they are stored
    /// (a shard file's rows): copied through a buffer to the file, never decoded.
    ///
    /// # Errors
    /// [`EngineError::ShardFile`] when `input` fails or ends first; [`EngineError::GridSpill`]
    /// when the rows cannot be written.
    pub(crate) fn push_records(
        &mut self,
        input: &mut impl Read,
        (rows, width): (usize, usize),
    ) -> Result<()> {
        if self.len == 0 {
            self.width = width;
        }
        let unreadable = |reason: String| EngineError::ShardFile {
            reason: format!("cannot read its rows: {reason}"),
        };
        let bytes = rows
            .checked_mul(record_bytes(width))
            .ok_or_else(|| unreadable(format!("{rows} rows are more than this machine holds")))?;
        let out = self.file()?;
        copy_exact(input, out, bytes).map_err(|err| match err {
            Copy::Read(err) => unreadable(err.to_string()),
            Copy::Short(left) => unreadable(format!("the file ends {left} bytes early")),
            Copy::Write(err) => spill_error(err),
        })?;
        self.len += rows;
        Ok(())
    }

    /// Appends every row of `rows` (rows of the same block layout), copied as stored.
    ///
    /// # Errors
    /// [`EngineError::GridSpill`] when either file fails.
    pub(crate) fn append(&mut self, rows: &GridRows) -> Result<()> {
        if self.len == 0 {
            self.width = rows.blocks.map_or(0, |(s, _)| s);
        }
        let out = self.file()?;
        rows.copy_to(out).map_err(|err| match err {
            Copy::Read(err) | Copy::Write(err) => spill_error(err),
            Copy::Short(left) => spill_error(std::io::Error::other(format!(
                "the rows' file ends {left} bytes early"
            ))),
        })?;
        self.len += rows.len;
        Ok(())
    }

    /// The rows written, with CSCV's `(blocks, block_len)` when they carry block sums.
    pub(crate) fn finish(self, blocks: Option<(usize, usize)>) -> Result<GridRows> {
        let stored = match self.pending {
            Pending::Memory(kept) => Stored::Memory(Arc::new(kept)),
            Pending::File(out) => Stored::File {
                file: Arc::new(Mutex::new(
                    out.into_inner()
                        .map_err(|err| spill_error(err.into_error()))?,
                )),
                offset: 0,
            },
        };
        Ok(GridRows {
            stored,
            len: self.len,
            blocks: blocks.filter(|_| self.width > 0),
            chunk_rows: CHUNK_ROWS,
        })
    }
}

/// Writes the records of `rows` and their block sums (row by row) to `out`.
fn encode_rows(
    rows: &[ComboResult],
    sums: &[[f64; 2]],
    out: &mut impl Write,
) -> std::io::Result<()> {
    let width = sums.len().checked_div(rows.len()).unwrap_or(0);
    let mut record = Vec::with_capacity(record_bytes(width));
    for (r, row) in rows.iter().enumerate() {
        record.clear();
        encode_row(row, &sums[r * width..(r + 1) * width], &mut record);
        out.write_all(&record)?;
    }
    Ok(())
}

/// Why a copy of records failed.
enum Copy {
    /// Reading failed.
    Read(std::io::Error),
    /// The input ended this many bytes early.
    Short(usize),
    /// Writing failed.
    Write(std::io::Error),
}

/// Copies exactly `bytes` bytes from `input` to `out` through a buffer.
fn copy_exact(input: &mut impl Read, out: &mut impl Write, bytes: usize) -> Result<(), Copy> {
    let mut buffer = vec![0u8; (1 << 16).min(bytes.max(1))];
    let mut left = bytes;
    while left > 0 {
        let want = left.min(buffer.len());
        let n = match input.read(&mut buffer[..want]) {
            Ok(0) => return Err(Copy::Short(left)),
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(Copy::Read(err)),
        };
        out.write_all(&buffer[..n]).map_err(Copy::Write)?;
        left -= n;
    }
    Ok(())
}

/// Appends `row`'s record with its block `sums` to `out` (the module docs' layout).
pub(crate) fn encode_row(row: &ComboResult, sums: &[[f64; 2]], out: &mut Vec<u8>) {
    let p = row.params;
    #[expect(clippy::cast_precision_loss, reason = "parameters are far below 2^53")]
    let params = [
        p.lookback as f64,
        p.skip as f64,
        p.holding as f64,
        p.top_k as f64,
        p.cost_bps,
    ];
    let test = row.test.map_or([f64::NAN; 9], |m| m.values());
    for v in params
        .iter()
        .chain(&row.train.values())
        .chain(&test)
        .chain(sums.iter().flatten())
    {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// The row of a `record` ([`encode_row`]'s), its block sums appended to `sums`.
pub(crate) fn decode_row(record: &[u8], sums: &mut Vec<[f64; 2]>) -> ComboResult {
    let mut values = record
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    let mut next = || values.next().unwrap_or(f64::NAN);
    let params = StrategyParams {
        lookback: whole(next()),
        skip: whole(next()),
        holding: whole(next()),
        top_k: whole(next()),
        cost_bps: next(),
    };
    let train = Metrics::from_values(std::array::from_fn(|_| next()));
    let test = std::array::from_fn(|_| next());
    let width = (record.len() / 8 - ROW_VALUES) / 2;
    sums.extend((0..width).map(|_| [next(), next()]));
    ComboResult {
        params,
        train,
        // `num_trades` is a count, never NaN: a NaN there means no test window.
        test: (!test[7].is_nan()).then(|| Metrics::from_values(test)),
    }
}

/// Bytes of one record with `width` block sums.
pub(crate) const fn record_bytes(width: usize) -> usize {
    (ROW_VALUES + 2 * width) * 8
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "written from a usize below 2^53"
)]
fn whole(v: f64) -> usize {
    v as usize
}

fn spill_error(source: std::io::Error) -> EngineError {
    EngineError::GridSpill {
        dir: std::env::temp_dir(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: usize) -> ComboResult {
        #[expect(clippy::cast_precision_loss, reason = "small test indices")]
        let x = i as f64;
        let train = Metrics {
            sharpe: 0.5 * x,
            total_roi: -x,
            ..Metrics::default()
        };
        ComboResult {
            params: StrategyParams {
                lookback: i + 2,
                skip: i % 2,
                holding: 1 + i % 7,
                top_k: 1 + i % 5,
                cost_bps: 10.0,
            },
            train,
            test: i.is_multiple_of(3).then_some(Metrics {
                max_drawdown: 0.25,
                ..train
            }),
        }
    }

    /// Rows `0..n` with 3 block sums each.
    fn rows(n: usize) -> (Vec<ComboResult>, Vec<[f64; 2]>) {
        #[expect(clippy::cast_precision_loss, reason = "small test indices")]
        let sums = (0..3 * n).map(|k| [k as f64 / 7.0, -(k as f64)]).collect();
        ((0..n).map(row).collect(), sums)
    }

    /// Every row and its sums read back in order, through `chunks`, `get` and `try_for_each`.
    fn assert_holds(got: &GridRows, (rows, sums): (&[ComboResult], &[[f64; 2]])) {
        assert_eq!(got.len(), rows.len());
        let (mut read, mut read_sums) = (Vec::new(), Vec::new());
        for chunk in got.chunks() {
            let chunk = chunk.unwrap();
            assert_eq!(chunk.first, read.len());
            read.extend_from_slice(&chunk.rows);
            read_sums.extend_from_slice(&chunk.sums);
        }
        assert!(read == rows && read_sums == sums);
        assert_eq!(got.get(rows.len() - 1).unwrap(), rows[rows.len() - 1]);
        let mut seen = 0;
        got.try_for_each::<EngineError>(|i, r, s| {
            assert_eq!((r, s), (&rows[i], &sums[3 * i..3 * i + 3]));
            seen += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, rows.len());
    }

    #[test]
    fn rows_stay_in_memory_while_they_fit_a_chunk_and_move_to_a_file_beyond() {
        let (all, sums) = rows(CHUNK_ROWS + 5);
        // Within one chunk: no file, the readers borrow the rows.
        let mut writer = GridRowsWriter::new();
        writer.push(&all[..10], &sums[..30]).unwrap();
        writer.push(&all[10..20], &sums[30..60]).unwrap();
        let small = writer.finish(Some((3, 4))).unwrap();
        assert!(matches!(small.stored, Stored::Memory(_)));
        assert!(matches!(small.chunks().next(), Some(Ok(Cow::Borrowed(_)))));
        assert_holds(&small, (&all[..20], &sums[..60]));
        // Read 7 at a time: copies of the rows in memory.
        assert_holds(&small.clone().with_chunk_rows(7), (&all[..20], &sums[..60]));

        // A push that crosses the chunk: the rows so far go to the file first, in order.
        let mut writer = GridRowsWriter::new();
        let cut = CHUNK_ROWS - 2;
        writer.push(&all[..cut], &sums[..3 * cut]).unwrap();
        assert!(matches!(writer.pending, Pending::Memory(_)));
        writer.push(&all[cut..], &sums[3 * cut..]).unwrap();
        assert!(matches!(writer.pending, Pending::File(_)));
        let big = writer.finish(Some((3, 4))).unwrap();
        assert!(matches!(big.stored, Stored::File { offset: 0, .. }));
        assert_eq!(big.chunks().count(), 2);
        assert_holds(&big, (&all, &sums));

        // The records of rows in memory are those a file holds: copied into a writer, the
        // same rows come back.
        let mut records = Vec::new();
        small.write_records(&mut records).unwrap();
        assert_eq!(records.len(), 20 * record_bytes(3));
        let mut writer = GridRowsWriter::new();
        writer
            .push_records(&mut records.as_slice(), (20, 3))
            .unwrap();
        let copied = writer.finish(Some((3, 4))).unwrap();
        assert!(matches!(copied.stored, Stored::File { .. }));
        assert_holds(&copied, (&all[..20], &sums[..60]));
        assert!(copied == small);
        let mut writer = GridRowsWriter::new();
        writer.append(&small).unwrap();
        assert!(writer.finish(Some((3, 4))).unwrap() == small);
    }

    #[test]
    fn rows_are_equal_bit_for_bit() {
        let (mut all, sums) = rows(4);
        // A run worth 0 has NaN ratios: the same rows all the same.
        all[1].train.sharpe = f64::NAN;
        let blocks = |sums: &[[f64; 2]]| BlockSums {
            sums: sums.to_vec(),
            blocks: 3,
            block_len: 4,
        };
        let a = GridRows::new(&all, Some(&blocks(&sums))).unwrap();
        let b = GridRows::new(&all, Some(&blocks(&sums))).unwrap();
        assert!(a == b);
        // One bit apart: -0.0 is not 0.0 as stored.
        let mut other = sums.clone();
        other[0][0] = -0.0;
        assert_eq!(sums[0][0].to_bits(), 0.0f64.to_bits());
        assert!(a != GridRows::new(&all, Some(&blocks(&other))).unwrap());
        let mut fewer = all.clone();
        fewer[3].params.top_k += 1;
        assert!(a != GridRows::new(&fewer, Some(&blocks(&sums))).unwrap());
    }
}
