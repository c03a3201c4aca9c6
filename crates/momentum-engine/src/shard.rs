//! The grid search split across machines: shard `I` of `N` evaluates a contiguous run of the
//! grid's combinations ([`evaluate_shard`]) and keeps everything the selection needs from them;
//! [`merge_shards`] takes all `N` and gives exactly the experiment of the unsharded run, which
//! is itself one shard of one ([`crate::run_experiment`]).
//!
//! A shard keeps its rows (metrics and CSCV block sums), each walk-forward fold's best among
//! them and each CPCV split's best among them with its block sums. Selections merge in grid
//! order (a later shard's best replaces an earlier one's only when strictly better), so the
//! merge selects what one pass over the whole grid selects; the rows are concatenated, so
//! PSR, DSR and PBO are computed over the same rows in the same order. Every value is stored
//! as its bits: the merged files are byte-identical to the unsharded run's.
//!
//! Shards are balanced by work, not by count: the grid is cut into whole `(lookback, skip)`
//! groups (the simulation shares its rank table and its pass over the days among a group),
//! weighted by combinations times simulated days; a group is cut (at holding periods, then at
//! combinations) only when there are more shards than groups.
//!
//! A shard file ([`GridShard::write`]; [`GridShard::read`], or [`GridShard::read_file`], which
//! leaves the rows in the file instead of copying them): the line `MOMENTUM-SHARD 2`, a
//! one-line JSON header (the shard, its rows, the `backtest` block, the data digest and the code
//! version it was evaluated with), the rows as [`GridRows`] stores them, the folds' and splits'
//! selections, and the sha256 of everything before it.

use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::ops::Range;
use std::str::FromStr;

use momentum_features::PricePanel;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cpcv::{self, Selections};
use crate::error::{EngineError, Result};
use crate::experiment::{ExperimentSpec, Plan};
use crate::grid::{RunningBest, grid_rows};
use crate::params::StrategyParams;
use crate::rows::{GridRows, GridRowsWriter, record_bytes};
use crate::search::SearchMethod;
use crate::walk_forward::fold_bests;

/// Shard `index` (0-based) of `count`: `I/N` on the command line.
///
/// ```
/// use momentum_engine::Shard;
///
/// let shard: Shard = "2/7".parse()?;
/// assert_eq!((shard.index, shard.count), (2, 7));
/// assert_eq!(shard.to_string(), "2/7");
/// assert!("7/7".parse::<Shard>().is_err());
/// assert!("1/0".parse::<Shard>().is_err());
/// # Ok::<(), momentum_engine::EngineError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, `0..count`.
    pub index: usize,
    /// How many shards the grid is cut into.
    pub count: usize,
}

impl Shard {
    /// The whole grid: shard 0 of 1.
    pub const WHOLE: Self = Self { index: 0, count: 1 };

    /// Shard `index` of `count`.
    ///
    /// # Errors
    /// [`EngineError::InvalidParameter`] (`shard`) unless `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if index >= count {
            return Err(EngineError::InvalidParameter {
                name: "shard",
                value: format!("{index}/{count}"),
                reason: "must be I/N with 0 <= I < N",
            });
        }
        Ok(Self { index, count })
    }
}

impl FromStr for Shard {
    type Err = EngineError;

    fn from_str(text: &str) -> Result<Self> {
        let invalid = || EngineError::InvalidParameter {
            name: "shard",
            value: text.to_owned(),
            reason: "must be I/N with 0 <= I < N (for example 0/4)",
        };
        let (index, count) = text.split_once('/').ok_or_else(invalid)?;
        let number = |s: &str| s.trim().parse::<usize>().map_err(|_| invalid());
        Self::new(number(index)?, number(count)?)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a shard was evaluated with: all shards of one merge must agree on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The `backtest` block of `params.yaml`, flags applied.
    pub spec: ExperimentSpec,
    /// The content digest of the prices.
    pub data_digest: Option<String>,
    /// The version of the code that evaluated it.
    pub code: String,
}

/// One shard's part of the grid search ([`evaluate_shard`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GridShard {
    /// Which shard.
    pub shard: Shard,
    /// Grid index of its first row.
    pub first: usize,
    /// Its rows, grid rows `first ..` in order.
    pub rows: GridRows,
    /// Combinations in the whole grid.
    pub grid_rows: usize,
    /// Combinations of the grid left out because `skip >= lookback`.
    pub dropped: usize,
    /// What it was evaluated with.
    pub provenance: Provenance,
    /// Each walk-forward fold's best among its rows.
    folds: Vec<RunningBest>,
    /// Each CPCV split's best among its rows, encoded ([`Selections::encode`]: the layout that
    /// decodes them is the merge's); empty without a CPCV.
    cpcv: Vec<u8>,
}

/// The rows of a shard file before its rows: everything but the selections' bytes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    shard: Shard,
    first: usize,
    rows: usize,
    grid_rows: usize,
    dropped: usize,
    /// CSCV blocks and returns per block, when the rows carry block sums.
    blocks: Option<(usize, usize)>,
    folds: usize,
    cpcv_bytes: usize,
    provenance: Provenance,
}

/// The first line of a shard file.
/// The first line of a shard file. Format 2: a CPCV selection by an objective other than the
/// Sharpe ratio keeps seven words a block (format 1 kept two, the Sharpe ratio's sums).
const MAGIC: &[u8] = b"MOMENTUM-SHARD 2\n";
/// The longest header line read: a `backtest` block with long grid lists stays far below.
const MAX_HEADER_BYTES: u64 = 1 << 20;

/// Evaluates shard `shard` of the grid search of `spec` on `panel`: its contiguous run of
/// combinations on the train and test windows (rows with CSCV block sums laid out for the whole
/// grid), each walk-forward fold's best among them and each CPCV split's best among them.
/// `progress(k)` as [`crate::run_experiment`]'s. Identical for any thread count.
///
/// # Errors
/// As [`crate::run_experiment`] (every combination of the grid is validated, not only the
/// shard's); [`EngineError::InvalidParameter`] (`shard`) when the grid has fewer combinations
/// than shards.
pub fn evaluate_shard(
    panel: &PricePanel,
    spec: &ExperimentSpec,
    (shard, provenance): (Shard, Provenance),
    progress: &(dyn Fn(usize) + Sync),
) -> Result<GridShard> {
    refuse_search(spec)?;
    let plan = Plan::new(panel, spec)?;
    let range = shard_range(&plan, shard)?;
    let part = &plan.combos[range.clone()];
    let options = &plan.options;
    let rows = grid_rows(panel, part, options, plan.max_train_t0, progress)?;
    let folds = match &plan.folds {
        Some(schedule) => {
            let grid = (part, range.start, options.objective, options.cost_bps);
            fold_bests(panel, grid, schedule, progress)?
        }
        None => Vec::new(),
    };
    let mut cpcv = Vec::new();
    if let Some((cpcv_spec, layout)) = plan.cpcv {
        let grid = (part, range.start, options.objective, options.cost_bps);
        cpcv::select(panel, grid, (cpcv_spec, plan.evaluated, layout), progress)?.encode(&mut cpcv);
    }
    Ok(GridShard {
        shard,
        first: range.start,
        rows,
        grid_rows: plan.combos.len(),
        dropped: plan.dropped,
        provenance,
        folds,
        cpcv,
    })
}

/// Shards cut a grid: a TPE search proposes each batch from the results of the batches before
/// it, so it runs in one process.
fn refuse_search(spec: &ExperimentSpec) -> Result<()> {
    match spec.search.method {
        SearchMethod::Grid => Ok(()),
        method => Err(EngineError::InvalidParameter {
            name: "search.method",
            value: method.to_string(),
            reason: "proposes each batch from the results before it: it runs in one process, \
                     not in shards (shard a grid)",
        }),
    }
}

/// The combinations of `shard`: whole `(lookback, skip)` groups unless there are more shards
/// than groups, then runs of one holding period of a group, then single combinations; cut so
/// that each shard's work (combinations times simulated days) is as near `1 / N` of the whole
/// as whole units allow, every shard getting at least one unit.
fn shard_range(plan: &Plan, shard: Shard) -> Result<Range<usize>> {
    let combos = &plan.combos;
    if shard.count > combos.len() {
        return Err(EngineError::InvalidParameter {
            name: "shard",
            value: shard.to_string(),
            reason: "more shards than combinations in the grid",
        });
    }
    let key_group = |p: &StrategyParams| (p.lookback, p.skip, 0);
    let key_holding = |p: &StrategyParams| (p.lookback, p.skip, p.holding);
    let groups = combos.chunk_by(|a, b| key_group(a) == key_group(b)).count();
    let holdings = combos
        .chunk_by(|a, b| key_holding(a) == key_holding(b))
        .count();
    // Unit boundaries: the first combination of each unit, and the end.
    let mut starts: Vec<usize> = Vec::new();
    let mut at = 0;
    let units: Vec<&[StrategyParams]> = if shard.count <= groups {
        combos
            .chunk_by(|a, b| key_group(a) == key_group(b))
            .collect()
    } else if shard.count <= holdings {
        combos
            .chunk_by(|a, b| key_holding(a) == key_holding(b))
            .collect()
    } else {
        combos.chunks(1).collect()
    };
    let weights: Vec<u128> = units
        .iter()
        .map(|unit| {
            starts.push(at);
            at += unit.len();
            let days = plan.simulated_days(unit[0].lookback);
            (unit.len() as u128) * (days as u128).max(1)
        })
        .collect();
    starts.push(at);
    // prefix[k]: the work of units 0..k.
    let prefix: Vec<u128> = std::iter::once(0)
        .chain(weights.iter().scan(0, |sum, w| {
            *sum += w;
            Some(*sum)
        }))
        .collect();
    let (n, u) = (shard.count as u128, units.len());
    let total = prefix[u];
    // cut(i): the first unit of shard i, where the work before it is nearest i / N of the
    // whole (the earlier of two as near), every shard keeping at least one unit.
    let mut cuts = vec![0; shard.count + 1];
    cuts[shard.count] = u;
    for i in 1..shard.count {
        let target = i as u128 * total;
        let after = prefix.partition_point(|&p| p * n < target).min(u);
        let distance = |k: usize| (prefix[k] * n).abs_diff(target);
        let nearest = if after > 0 && distance(after - 1) <= distance(after) {
            after - 1
        } else {
            after
        };
        cuts[i] = nearest.clamp(cuts[i - 1] + 1, u - (shard.count - i));
    }
    Ok(starts[cuts[shard.index]]..starts[cuts[shard.index + 1]])
}

/// The experiment of `spec` on `panel` from the `shards` of its grid search (all `N` of one
/// cut, in any order): the same [`crate::Experiment`] as [`crate::run_experiment`], value for
/// value. `data_digest` is recorded as lineage.
///
/// # Errors
/// [`EngineError::Shards`] when the shards are not the `N` of one cut of this grid; otherwise as
/// [`crate::run_experiment`].
pub fn merge_shards(
    panel: &PricePanel,
    spec: &ExperimentSpec,
    data_digest: Option<String>,
    mut shards: Vec<GridShard>,
) -> Result<crate::Experiment> {
    refuse_search(spec)?;
    let plan = Plan::new(panel, spec)?;
    let mismatch = |reason: String| EngineError::Shards { reason };
    shards.sort_by_key(|s| s.shard.index);
    let count = shards.first().map_or(0, |s| s.shard.count);
    if let Some(other) = shards.iter().find(|s| s.shard.count != count) {
        return Err(mismatch(format!(
            "shards of two cuts: {} and {}",
            shards[0].shard, other.shard
        )));
    }
    for index in 0..count {
        match shards.iter().filter(|s| s.shard.index == index).count() {
            0 => return Err(mismatch(format!("shard {index}/{count} is missing"))),
            1 => {}
            _ => return Err(mismatch(format!("shard {index}/{count} is there twice"))),
        }
    }
    let blocks = plan.block_layout();
    let folds = plan.folds.as_ref().map_or(0, Vec::len);
    let mut next = 0;
    for part in &shards {
        let end = part.first + part.rows.len();
        if part.rows.is_empty()
            || part.rows.block_layout() != blocks
            || part.folds.len() != folds
            || !part.folds.iter().all(|fold| fold.covers(part.first..end))
        {
            return Err(mismatch(format!(
                "shard {} holds no rows, or other CSCV blocks, folds or selections than this \
                 grid's",
                part.shard
            )));
        }
        if part.first != next || part.grid_rows != plan.combos.len() {
            return Err(mismatch(format!(
                "shard {} starts at row {} of {}, expected row {next} of {}",
                part.shard,
                part.first,
                part.grid_rows,
                plan.combos.len()
            )));
        }
        next += part.rows.len();
    }
    if next != plan.combos.len() || count == 0 {
        return Err(mismatch(format!(
            "the shards hold {next} of the grid's {} combinations",
            plan.combos.len()
        )));
    }
    // Each split's selection, shard after shard.
    let mut selections = None;
    if let Some((cpcv_spec, layout)) = plan.cpcv {
        for part in &shards {
            let end = part.first + part.rows.len();
            let objective = plan.options.objective;
            let decoded = Selections::from_index(&layout, cpcv_spec.test_groups, 0, objective)
                .decode(&part.cpcv)
                .filter(|decoded| decoded.covers(part.first..end))
                .ok_or_else(|| {
                    mismatch(format!(
                        "shard {}'s CPCV selections do not match the grid's layout",
                        part.shard
                    ))
                })?;
            match &mut selections {
                None => selections = Some(decoded),
                Some(merged) => Selections::merge(merged, decoded),
            }
        }
    }
    let mut parts = shards.into_iter();
    let mut merged = parts.next().ok_or_else(|| mismatch("no shard".into()))?;
    let rows = if count == 1 {
        merged.rows.clone()
    } else {
        // Shard after shard into one file: no shard is held in memory.
        let mut writer = GridRowsWriter::new();
        writer.append(&merged.rows)?;
        for part in parts {
            writer.append(&part.rows)?;
            for (fold, later) in merged.folds.iter_mut().zip(&part.folds) {
                fold.merge(later);
            }
        }
        writer.finish(merged.rows.block_layout())?
    };
    plan.finish(panel, data_digest, (rows, merged.folds, selections))
}

impl GridShard {
    /// Writes the shard file (see the module docs).
    ///
    /// # Errors
    /// [`EngineError::Io`] when writing fails; [`EngineError::GridSpill`] when the rows cannot
    /// be read.
    pub fn write(&self, out: impl Write) -> Result<()> {
        let mut out = Hashing::new(std::io::BufWriter::new(out));
        let mut selections = Vec::new();
        for fold in &self.folds {
            fold.encode(&mut selections);
        }
        let fold_bytes = selections.len();
        selections.extend_from_slice(&self.cpcv);
        let header = Header {
            shard: self.shard,
            first: self.first,
            rows: self.rows.len(),
            grid_rows: self.grid_rows,
            dropped: self.dropped,
            blocks: self.rows.block_layout(),
            folds: self.folds.len(),
            cpcv_bytes: selections.len() - fold_bytes,
            provenance: self.provenance.clone(),
        };
        out.write_all(MAGIC)?;
        serde_json::to_writer(&mut out, &header).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
        self.rows.write_records(&mut out)?;
        out.write_all(&selections)?;
        let digest = out.hasher.finalize();
        out.inner.write_all(&digest)?;
        out.inner.flush()?;
        Ok(())
    }

    /// Reads a shard file of `len` bytes ([`GridShard::write`]'s), its rows copied to a
    /// temporary file ([`GridShard::read_file`] reads a file's rows where they are).
    ///
    /// # Errors
    /// [`EngineError::ShardFile`] saying what is wrong: not a shard file, a header that does not
    /// parse, a file shorter or longer than its header says (truncated), a digest that does not
    /// match (corrupt); [`EngineError::GridSpill`] when the rows cannot be copied.
    pub fn read(input: impl Read, len: u64) -> Result<Self> {
        Self::parse(input, len, |input, (_, rows, width), blocks| {
            let mut writer = GridRowsWriter::new();
            writer.push_records(input, (rows, width))?;
            writer.finish(blocks)
        })
    }

    /// [`GridShard::read`] of a shard file whose rows stay where they are: the file is read
    /// once to check it (length, header, digest), and the rows are then read from it as they
    /// are needed, without a copy (a merge of shards holds the grid's rows once on disk, in the
    /// merged rows, besides the shard files). The file must not change while the shard is used.
    ///
    /// # Errors
    /// As [`GridShard::read`] (a file that cannot be read is an [`EngineError::ShardFile`]).
    pub fn read_file(file: File) -> Result<Self> {
        let unreadable = |err: std::io::Error| EngineError::ShardFile {
            reason: format!("cannot read it: {err}"),
        };
        let len = file.metadata().map_err(unreadable)?.len();
        let rows_file = file.try_clone().map_err(unreadable)?;
        Self::parse(file, len, |input, (offset, rows, width), blocks| {
            // `parse` checked the file's length against the header: no overflow here.
            let bytes = (rows * record_bytes(width)) as u64;
            // Through the hash, not kept.
            let skipped = std::io::copy(&mut input.take(bytes), &mut std::io::sink());
            if skipped.map_err(unreadable)? != bytes {
                return Err(EngineError::ShardFile {
                    reason: "cannot read its rows: the file ends early".into(),
                });
            }
            Ok(GridRows::in_file(rows_file, offset, (rows, blocks)))
        })
    }

    /// The shard file of `len` bytes in `input`, its rows taken by `take_rows` (given the input
    /// at the first record, the records' offset in the file, their count and width, and the
    /// block layout, once the file's length matches them), which must consume exactly the
    /// records' bytes.
    fn parse<R: Read>(
        input: R,
        len: u64,
        take_rows: impl FnOnce(
            &mut Hashing<std::io::BufReader<R>>,
            (u64, usize, usize),
            Option<(usize, usize)>,
        ) -> Result<GridRows>,
    ) -> Result<Self> {
        let bad = |reason: String| EngineError::ShardFile { reason };
        // Hashing above the buffer: what is hashed is what was consumed, not what was read ahead.
        let mut input = Hashing::new(std::io::BufReader::new(input));
        let mut magic = vec![0; MAGIC.len()];
        input
            .read_exact(&mut magic)
            .map_err(|_| bad(format!("{len} bytes: too short for a shard file")))?;
        if magic != MAGIC {
            let line = String::from_utf8_lossy(&magic);
            return Err(bad(match line.strip_prefix("MOMENTUM-SHARD ") {
                Some(format) => format!(
                    "a shard of format {}, and this momentum reads format 2: evaluate the \
                     shard again with this version",
                    format.trim_end()
                ),
                None => "not a momentum shard file (no MOMENTUM-SHARD 2 line)".into(),
            }));
        }
        let mut line = Vec::new();
        let mut byte = [0u8];
        while line.last() != Some(&b'\n') {
            if line.len() as u64 >= MAX_HEADER_BYTES {
                return Err(bad(format!(
                    "a header line longer than {MAX_HEADER_BYTES} bytes"
                )));
            }
            input
                .read_exact(&mut byte)
                .map_err(|err| bad(format!("cannot read the header: {err}")))?;
            line.push(byte[0]);
        }
        let header: Header = serde_json::from_slice(&line)
            .map_err(|err| bad(format!("the header does not parse: {err}")))?;
        Shard::new(header.shard.index, header.shard.count).map_err(|err| bad(err.to_string()))?;
        let width = header.blocks.map_or(0, |(s, _)| s);
        if width > 24 {
            return Err(bad(format!(
                "{width} CSCV blocks in its header (at most 24)"
            )));
        }
        let fold_bytes = header.folds.checked_mul(RunningBest::ENCODED_BYTES);
        let sections = header
            .rows
            .checked_mul(record_bytes(width))
            .zip(fold_bytes)
            .and_then(|(rows, folds)| rows.checked_add(folds)?.checked_add(header.cpcv_bytes));
        let expected = sections.map(|bytes| (MAGIC.len() + line.len() + bytes) as u64 + 32);
        let fold_bytes = fold_bytes.unwrap_or(0);
        let expected = expected.unwrap_or(u64::MAX);
        if len != expected {
            return Err(bad(format!(
                "{len} bytes where its header says {expected}: truncated or extended"
            )));
        }
        let offset = (MAGIC.len() + line.len()) as u64;
        let rows = take_rows(&mut input, (offset, header.rows, width), header.blocks)?;
        let mut selections = vec![0; fold_bytes + header.cpcv_bytes];
        input
            .read_exact(&mut selections)
            .map_err(|err| bad(format!("cannot read its selections: {err}")))?;
        let computed = input.hasher.finalize();
        let mut digest = [0u8; 32];
        input
            .inner
            .read_exact(&mut digest)
            .map_err(|err| bad(format!("cannot read its digest: {err}")))?;
        if computed[..] != digest[..] {
            return Err(bad("its sha256 does not match its contents: corrupt".into()));
        }
        let objective = header.provenance.spec.objective;
        let folds = selections[..fold_bytes]
            .chunks_exact(RunningBest::ENCODED_BYTES)
            .map(|bytes| RunningBest::decode(objective, bytes))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("a fold's selection does not decode".into()))?;
        Ok(Self {
            shard: header.shard,
            first: header.first,
            rows,
            grid_rows: header.grid_rows,
            dropped: header.dropped,
            provenance: header.provenance,
            folds,
            cpcv: selections[fold_bytes..].to_vec(),
        })
    }
}

/// A reader or writer that hashes every byte that goes through it.
struct Hashing<T> {
    inner: T,
    hasher: Sha256,
}

impl<T> Hashing<T> {
    fn new(inner: T) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..n]);
        Ok(n)
    }
}
