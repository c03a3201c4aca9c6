//! The picks history: every scan's ranked list, one Parquet file, idempotent per as-of date.
//!
//! Layout (one row per ticker per scan): `as_of` date32, `model_version` utf8, `lookback`,
//! `skip`, `holding`, `top_k` int64, `rank` int64 (null when ineligible), `ticker` utf8,
//! `score` float64 (null when ineligible), `selected` bool, `target_weight` float64,
//! `last_close` float64 (null when missing). Rows are sorted by as-of date, then list order.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use chrono::NaiveDate;
use momentum_data::DataError;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::ScanError;
use momentum_engine::{Arm, StrategyParams};

use crate::scan::{Pick, Picks};

fn schema() -> Schema {
    let int = |name| Field::new(name, DataType::Int64, false);
    Schema::new(vec![
        Field::new("as_of", DataType::Date32, false),
        Field::new("model_version", DataType::Utf8, false),
        int("lookback"),
        int("skip"),
        int("holding"),
        int("top_k"),
        Field::new("rank", DataType::Int64, true),
        Field::new("ticker", DataType::Utf8, false),
        Field::new("score", DataType::Float64, true),
        Field::new("selected", DataType::Boolean, false),
        Field::new("target_weight", DataType::Float64, false),
        Field::new("last_close", DataType::Float64, true),
        Field::new(ALIAS_COLUMN, DataType::Utf8, false),
    ])
}

/// The column naming the model of a row: `champion` or `challenger` ([`Arm`]). A history
/// written before challengers existed has no such column: all its rows are the champion's.
const ALIAS_COLUMN: &str = "alias";

/// Reads the history at `path`; a missing file is an empty history.
///
/// # Errors
/// [`ScanError::CorruptHistory`] naming the file and what is wrong when it is not a picks
/// history (unreadable Parquet, a missing or mistyped column, a null where none is allowed);
/// [`ScanError::Data`] when it cannot be read at all (a directory, no permission).
pub fn read_history(path: &Path) -> Result<Vec<Picks>, ScanError> {
    let corrupt = |reason: String| ScanError::CorruptHistory {
        path: path.into(),
        reason,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(DataError::io(path, err).into()),
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|builder| builder.build())
        .map_err(|err| match momentum_data::parquet_io_failure(err) {
            Ok(io) => ScanError::from(DataError::io(path, io)),
            Err(err) => corrupt(err.to_string()),
        })?;
    let expected = schema();
    let mut scans: BTreeMap<(NaiveDate, Arm), Picks> = BTreeMap::new();
    let mut listed: BTreeSet<(NaiveDate, Arm, String)> = BTreeSet::new();
    for batch in reader {
        let batch = batch.map_err(|err| corrupt(err.to_string()))?;
        for field in expected.fields() {
            let Some(column) = batch.column_by_name(field.name()) else {
                if field.name() == ALIAS_COLUMN {
                    continue;
                }
                return Err(corrupt(format!("missing column {}", field.name())));
            };
            if column.data_type() != field.data_type() {
                return Err(corrupt(format!(
                    "column {} is {}, expected {}",
                    field.name(),
                    column.data_type(),
                    field.data_type()
                )));
            }
            if !field.is_nullable() && column.null_count() > 0 {
                return Err(corrupt(format!("column {} has nulls", field.name())));
            }
        }
        let col = |name: &str| batch.column_by_name(name).expect("checked above");
        let as_of = col("as_of").as_primitive::<Date32Type>();
        let version = col("model_version").as_string::<i32>();
        let ints: Vec<_> = ["lookback", "skip", "holding", "top_k", "rank"]
            .map(|name| col(name).as_primitive::<Int64Type>())
            .into();
        let ticker = col("ticker").as_string::<i32>();
        let score = col("score").as_primitive::<Float64Type>();
        let selected = col("selected").as_boolean();
        let weight = col("target_weight").as_primitive::<Float64Type>();
        let close = col("last_close").as_primitive::<Float64Type>();
        let alias = batch
            .column_by_name(ALIAS_COLUMN)
            .map(|column| column.as_string::<i32>());
        let usize_at = |array: &arrow_array::Int64Array, row: usize, name: &str| {
            usize::try_from(array.value(row))
                .map_err(|_| corrupt(format!("negative {name} in row {row}")))
        };
        for row in 0..batch.num_rows() {
            let date = as_of
                .value_as_date(row)
                .ok_or_else(|| corrupt(format!("invalid as_of in row {row}")))?;
            let params = StrategyParams {
                lookback: usize_at(ints[0], row, "lookback")?,
                skip: usize_at(ints[1], row, "skip")?,
                holding: usize_at(ints[2], row, "holding")?,
                top_k: usize_at(ints[3], row, "top_k")?,
                cost_bps: 0.0,
            };
            params
                .validate()
                .map_err(|err| corrupt(format!("row {row}: model: {err}")))?;
            let arm = match alias {
                Some(alias) => alias
                    .value(row)
                    .parse::<Arm>()
                    .map_err(|err| corrupt(format!("row {row}: {err}")))?,
                None => Arm::Champion,
            };
            let entry = scans.entry((date, arm)).or_insert_with(|| Picks {
                alias: arm,
                model_version: version.value(row).to_owned(),
                params,
                as_of: date,
                picks: Vec::new(),
            });
            // One scan is one model ranking each ticker once: a row that disagrees with its
            // scan, or repeats a ticker, would be counted as another pick.
            let ticker_name = ticker.value(row);
            if entry.model_version != version.value(row) || entry.params != params {
                return Err(corrupt(format!(
                    "row {row}: the {arm} scan of {date} has rows of two models"
                )));
            }
            if !listed.insert((date, arm, ticker_name.to_owned())) {
                return Err(corrupt(format!(
                    "row {row}: {ticker_name} is listed twice in the {arm} scan of {date}"
                )));
            }
            let optional =
                |array: &arrow_array::Float64Array| array.is_valid(row).then(|| array.value(row));
            let numbers = [
                ("target_weight", Some(weight.value(row)), 0.0..=1.0),
                ("score", optional(score), f64::MIN..=f64::MAX),
                ("last_close", optional(close), f64::MIN_POSITIVE..=f64::MAX),
            ];
            for (name, value, range) in numbers {
                if let Some(value) = value.filter(|v| !range.contains(v)) {
                    return Err(corrupt(format!(
                        "row {row} ({ticker_name}): {name} {value} is out of range"
                    )));
                }
            }
            entry.picks.push(Pick {
                rank: if ints[4].is_valid(row) {
                    Some(usize_at(ints[4], row, "rank")?)
                } else {
                    None
                },
                ticker: ticker.value(row).to_owned(),
                score: optional(score),
                selected: selected.value(row),
                target_weight: weight.value(row),
                last_close: optional(close),
            });
        }
    }
    // A scan selects the model's best `top_k` of the tickers it could score, or all of them
    // when fewer: any other count is not a scan (a monitor would read its empty or padded
    // basket as the model's return).
    for scan in scans.values() {
        let eligible = scan
            .picks
            .iter()
            .filter(|pick| pick.score.is_some())
            .count();
        let selected = scan.selected().count();
        if selected != scan.params.top_k.min(eligible) {
            return Err(corrupt(format!(
                "the {} scan of {} selects {selected} of its {eligible} scored tickers, with a \
                 top_k of {}",
                scan.alias, scan.as_of, scan.params.top_k
            )));
        }
        // Equal weights of the selected, none for the rest: a basket of other weights is
        // levered or partly unallocated, and its return would not be the model's.
        let equal = 1.0 / selected as f64;
        let unequal = scan.picks.iter().find(|pick| {
            let weight = if pick.selected { equal } else { 0.0 };
            (pick.target_weight - weight).abs() > 1e-12
        });
        if let Some(pick) = unequal {
            return Err(corrupt(format!(
                "the {} scan of {} gives {} a target weight of {}: a scan weighs each of its \
                 {selected} selected tickers 1/{selected} and the others 0",
                scan.alias, scan.as_of, pick.ticker, pick.target_weight
            )));
        }
    }
    Ok(scans.into_values().collect())
}

/// Adds the scans `new` to the history at `path`, each replacing an earlier scan of the same
/// as-of date and model ([`Picks::alias`]) so a rerun does not duplicate it. Scans are kept by date, the
/// champion's before the challenger's. The file is rewritten atomically, one process at a time
/// ([`momentum_files::DirLock`] on its directory: a concurrent scan waits its turn).
///
/// # Errors
/// As [`read_history`] for the history already there; [`ScanError::HistoryWrite`] or
/// [`ScanError::Data`] when the file cannot be written.
///
/// # Examples
///
/// ```
/// use momentum_engine::{PricePanel, StrategyParams};
/// use momentum_scanner::Model;
/// use momentum_scanner::history::{append_history, read_history};
/// use momentum_scanner::model::{Registration, Stage};
/// use momentum_scanner::scan::scan;
///
/// let dates = (1..=4).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
/// let close = ndarray::array![[10.0, 20.0], [11.0, 19.0], [12.0, 18.0], [12.0, 21.0]];
/// let panel = PricePanel::new(dates, vec!["UP".into(), "DOWN".into()], close)?;
/// let model = Model {
///     params: StrategyParams { lookback: 2, skip: 0, holding: 5, top_k: 1, cost_bps: 0.0 },
///     universe: panel.tickers().to_vec(),
///     data_digest: None,
///     stage: Stage::Registered(Registration { version: "1".into(), promoted_at: String::new() }),
/// };
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("picks_history.parquet");
/// // No file yet: an empty history.
/// assert!(read_history(&path)?.is_empty());
///
/// let day2 = scan(&panel, 2, &model)?; // UP 12 / 10, DOWN 18 / 20
/// let day3 = scan(&panel, 3, &model)?; // UP 12 / 11, DOWN 21 / 19
/// append_history(&path, &[day3.clone()])?;
/// append_history(&path, &[day2.clone()])?;
/// append_history(&path, &[day2.clone()])?; // a rerun replaces the scan of its day
/// let history = read_history(&path)?;
/// assert_eq!(history, [day2, day3]);
/// assert_eq!(history[0].selected().collect::<Vec<_>>(), ["UP"]);
/// assert_eq!(history[1].selected().collect::<Vec<_>>(), ["DOWN"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn append_history(path: &Path, new: &[Picks]) -> Result<(), ScanError> {
    // Two scans at once would each rewrite the history they read: one's scan would be lost.
    let _turn =
        momentum_files::DirLock::exclusive(path).map_err(|err| ScanError::HistoryWrite {
            path: path.into(),
            source: Box::new(err),
        })?;
    let mut scans = read_history(path)?;
    scans.retain(|scan| {
        !new.iter()
            .any(|picks| (scan.as_of, scan.alias) == (picks.as_of, picks.alias))
    });
    scans.extend_from_slice(new);
    scans.sort_by_key(|scan| (scan.as_of, scan.alias));
    write_history(path, &scans)
}

fn write_history(path: &Path, scans: &[Picks]) -> Result<(), ScanError> {
    let rows: Vec<(&Picks, &Pick)> = scans
        .iter()
        .flat_map(|scan| scan.picks.iter().map(move |pick| (scan, pick)))
        .collect();
    let int = |get: fn(&Picks, &Pick) -> Option<usize>| -> ArrayRef {
        Arc::new(
            rows.iter()
                // Parameters are validated to fit an i64, ranks are at most the universe.
                .map(|(s, p)| get(s, p).map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
                .collect::<Int64Array>(),
        )
    };
    let float = |get: fn(&Pick) -> Option<f64>| -> ArrayRef {
        Arc::new(rows.iter().map(|(_, p)| get(p)).collect::<Float64Array>())
    };
    let epoch = NaiveDate::default();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            rows.iter()
                .map(|(s, _)| Some((s.as_of - epoch).num_days() as i32))
                .collect::<Date32Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|(s, _)| Some(s.model_version.as_str()))
                .collect::<StringArray>(),
        ),
        int(|s, _| Some(s.params.lookback)),
        int(|s, _| Some(s.params.skip)),
        int(|s, _| Some(s.params.holding)),
        int(|s, _| Some(s.params.top_k)),
        int(|_, p| p.rank),
        Arc::new(
            rows.iter()
                .map(|(_, p)| Some(p.ticker.as_str()))
                .collect::<StringArray>(),
        ),
        float(|p| p.score),
        Arc::new(
            rows.iter()
                .map(|(_, p)| Some(p.selected))
                .collect::<BooleanArray>(),
        ),
        float(|p| Some(p.target_weight)),
        float(|p| p.last_close),
        Arc::new(
            rows.iter()
                .map(|(s, _)| Some(s.alias.as_str()))
                .collect::<StringArray>(),
        ),
    ];
    let schema = Arc::new(schema());
    let write_error = |source: Box<dyn std::error::Error + Send + Sync>| ScanError::HistoryWrite {
        path: path.into(),
        source,
    };
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|err| write_error(err.into()))?;
    momentum_data::write_atomic(path, |file: &mut File| {
        let mut writer =
            ArrowWriter::try_new(file, schema, None).map_err(|err| write_error(err.into()))?;
        writer
            .write(&batch)
            .map_err(|err| write_error(err.into()))?;
        writer.close().map_err(|err| write_error(err.into()))?;
        Ok(())
    })
}
