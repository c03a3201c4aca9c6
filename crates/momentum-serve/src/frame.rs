//! The body of `POST /invocations`: MLflow's `dataframe_split` JSON or a wide CSV of closes,
//! read into the data crate's [`PriceTable`] and from there down the path `momentum scan`
//! takes: [`validate`](momentum_data::validate()), [`keep_universe`], [`PricePanel::from_table`],
//! then the scanner's [`scan`].
//!
//! Both encodings hold the same table: one column per ticker, one row per date, closes with
//! gaps (`null`, or an empty CSV cell). The CSV is parsed by [`momentum_data::parse_csv`], and the
//! JSON's tickers are normalised as it normalises them (trimmed, upper-cased), so both are
//! refused for the same reasons with the same words (a control character in a ticker, a
//! repeated ticker, a close that is not a positive finite number; in a CSV, a repeated date).
//! What the data crate accepts and an API should not is refused here: dates out of order (a
//! file may list them in any order, a request's last row is the day scored), a repeated date
//! in the JSON (checked with the order), a date without any close, and tickers the model does
//! not have. Everything a client can get wrong is an [`ApiError`] naming the
//! row, the date, the ticker or the JSON cell; nothing here panics on input.

use chrono::{NaiveDate, NaiveDateTime};
use momentum_data::{PriceRow, PriceTable};
use momentum_features::PricePanel;
use momentum_scanner::scan::{Picks, keep_universe, scan};
use momentum_scanner::{Model, ScanError};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, capped};

/// The name the data crate's errors give the request (`the request: AAA on 2024-01-03: ...`).
pub(crate) const ORIGIN: &str = "the request";

/// A price table as the client sent it, parsed and checked on its own (not yet against a
/// model): the data crate's [`PriceTable`], from rows with ascending dates, each with a close.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    table: PriceTable,
}

/// The JSON body MLflow's scoring server takes. Only `dataframe_split` is a price table here;
/// the other input formats are named so that a client using one gets a precise refusal.
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an object with `dataframe_split` (MLflow's split orientation)"
)]
struct Envelope {
    dataframe_split: Option<Split>,
    dataframe_records: Option<IgnoredAny>,
    instances: Option<IgnoredAny>,
    inputs: Option<IgnoredAny>,
    /// MLflow's inference parameters: the model has none, so only an empty object (or
    /// `null`, as some clients always send) is accepted; a parameter would be ignored.
    params: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Split {
    columns: Vec<String>,
    index: Vec<String>,
    data: Vec<Vec<Option<f64>>>,
}

impl Frame {
    /// Parses MLflow's `{"dataframe_split": {"columns": [...], "index": [...], "data": [...]}}`.
    ///
    /// # Errors
    /// 400 `BAD_REQUEST` for JSON that does not parse (naming the path of the bad value, such
    /// as `dataframe_split.data[3][1]`, with its date and ticker), another of MLflow's input
    /// formats, a ragged table, an empty ticker, a date that does not parse;
    /// 400 `INVALID_PARAMETER_VALUE` for what [`momentum_data::validate()`] refuses, dates out
    /// of order, a date without any close, no rows.
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        // RFC 8259 lets a parser ignore a byte order mark, as the CSV reader does.
        let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
        let mut document = serde_json::Deserializer::from_slice(body);
        let envelope: Envelope = serde_path_to_error::deserialize(&mut document)
            .map_err(|err| json_error(&err, body))?;
        // One document: text after it (a second one, or junk) is not a body this parsed.
        document
            .end()
            .map_err(|err| ApiError::malformed(format!("invalid JSON body: {err}")))?;
        if let Some(name) = envelope.params.as_ref().and_then(|p| p.keys().next()) {
            return Err(ApiError::malformed(format!(
                "`params.{name}` is not supported: the served model takes no inference \
                 parameters (its lookback, skip, holding and top_k are the model's; see GET \
                 /v1/model)"
            )));
        }
        let other = [
            ("dataframe_records", envelope.dataframe_records.is_some()),
            ("instances", envelope.instances.is_some()),
            ("inputs", envelope.inputs.is_some()),
        ]
        .into_iter()
        .find_map(|(name, given)| given.then_some(name));
        let Some(split) = envelope.dataframe_split else {
            return Err(ApiError::malformed(match other {
                Some(name) => format!(
                    "`{name}` is not supported: send the closes as `dataframe_split` \
                     (columns = tickers, index = dates, data = rows of closes) or as text/csv"
                ),
                None => "missing `dataframe_split`".to_owned(),
            }));
        };
        // Which of two inputs was meant cannot be told (MLflow refuses it too).
        if let Some(name) = other {
            return Err(ApiError::malformed(format!(
                "`dataframe_split` and `{name}` in one body: send one input format"
            )));
        }
        if split.data.len() != split.index.len() {
            return Err(ApiError::malformed(format!(
                "`data` has {} rows but `index` has {} dates",
                split.data.len(),
                split.index.len()
            )));
        }
        // As the data crate's CSV reader names them.
        let tickers: Vec<String> = split
            .columns
            .iter()
            .map(|t| t.trim().to_uppercase())
            .collect();
        if let Some(c) = tickers.iter().position(String::is_empty) {
            return Err(ApiError::malformed(format!(
                "column {c} has an empty ticker name"
            )));
        }
        let dates = split
            .index
            .iter()
            .enumerate()
            .map(|(r, text)| {
                parse_date(text).ok_or_else(|| {
                    ApiError::malformed(format!(
                        "row {r}: `{text}` is not an ISO date (YYYY-MM-DD)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (r, (row, date)) in split.data.iter().zip(&dates).enumerate() {
            if row.len() != tickers.len() {
                return Err(ApiError::malformed(format!(
                    "row {r} ({date}) has {} values for {} tickers",
                    row.len(),
                    tickers.len()
                )));
            }
        }
        check_rows(
            dates
                .iter()
                .zip(&split.data)
                .map(|(date, row)| (*date, row.iter().any(Option::is_some))),
        )?;
        let rows = dates.iter().zip(&split.data).flat_map(|(date, row)| {
            tickers.iter().zip(row).filter_map(|(ticker, close)| {
                close.map(|close| PriceRow::close_only(ticker.as_str(), *date, close))
            })
        });
        let table = PriceTable::from_rows(tickers.clone(), rows);
        momentum_data::validate(&table, ORIGIN).map_err(ScanError::from)?;
        Ok(Self { table })
    }

    /// Parses a wide CSV with [`momentum_data::parse_csv`]: a header `Date,TICKER,...`, then
    /// one line per date; an empty cell is a missing close.
    ///
    /// # Errors
    /// 400 `BAD_REQUEST` for what the CSV reader refuses (no `Date` column, a line with
    /// another number of fields, a cell that is not a number or a date), the long layout
    /// (`ticker,date,close`); 400 `INVALID_PARAMETER_VALUE` for what
    /// [`momentum_data::validate()`] refuses, dates out of order, a date without any close.
    pub fn from_csv(body: &[u8]) -> Result<Self, ApiError> {
        let table = momentum_data::parse_csv(body, ORIGIN).map_err(ScanError::from)?;
        // The reader sorts the rows by date and accepts a long layout: the order of the
        // request's dates is checked on the date column, which it has just parsed.
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(body);
        let header = reader
            .headers()
            .map_err(|err| ApiError::malformed(err.to_string()))?
            .clone();
        if header.iter().any(|h| h.eq_ignore_ascii_case("ticker")) {
            return Err(ApiError::malformed(
                "a `ticker` column: send the wide layout (Date, then one column per ticker)",
            ));
        }
        let date_column = header
            .iter()
            .position(|h| h.eq_ignore_ascii_case("date"))
            .ok_or_else(|| ApiError::malformed("no `Date` column"))?;
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|err| ApiError::malformed(err.to_string()))?;
            let date = record
                .get(date_column)
                .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
                .ok_or_else(|| ApiError::malformed("a date the CSV reader accepted"))?;
            let priced =
                (record.iter().enumerate()).any(|(i, cell)| i != date_column && !cell.is_empty());
            rows.push((date, priced));
        }
        check_rows(rows)?;
        Ok(Self { table })
    }

    /// The table, as the data crate holds it.
    pub fn table(&self) -> &PriceTable {
        &self.table
    }

    /// The panel of the model's universe, in the model's order (so the ranks and the tie rule
    /// are the backtest's): [`keep_universe`] then [`PricePanel::from_table`], as `momentum
    /// scan` builds it.
    ///
    /// # Errors
    /// 400 `INVALID_PARAMETER_VALUE` for tickers the model does not have (the first ten
    /// named), or lacks, or a model ticker without any close.
    pub fn panel(&self, model: &Model) -> Result<PricePanel, ApiError> {
        let unknown: Vec<&String> = (self.table.tickers().iter())
            .filter(|t| !model.universe.contains(t))
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::invalid(format!(
                "tickers {} are not in the model's universe ({})",
                capped(&unknown),
                capped(&model.universe)
            )));
        }
        let table = keep_universe(&self.table, &model.universe, ORIGIN)?;
        Ok(PricePanel::from_table(&table).map_err(ScanError::from)?)
    }
}

/// The request's rows in its order, each with whether it has a close: at least one, dates
/// strictly ascending, each with a close.
fn check_rows(rows: impl IntoIterator<Item = (NaiveDate, bool)>) -> Result<(), ApiError> {
    let mut previous: Option<NaiveDate> = None;
    let mut count = 0_usize;
    for (r, (date, priced)) in rows.into_iter().enumerate() {
        if let Some(before) = previous {
            if date == before {
                return Err(ApiError::invalid(format!(
                    "date {date} is given twice (rows {} and {r})",
                    r - 1
                )));
            }
            if date < before {
                return Err(ApiError::invalid(format!(
                    "dates must ascend: row {r} ({date}) comes after {before}"
                )));
            }
        }
        if !priced {
            return Err(ApiError::invalid(format!("{date} has no close at all")));
        }
        previous = Some(date);
        count += 1;
    }
    if count == 0 {
        return Err(ApiError::invalid("the table has no rows"));
    }
    Ok(())
}

/// A JSON error with the path of the value that failed (`dataframe_split.data[3][1]`) and,
/// for a cell of `data`, its date and ticker when the body's `index` and `columns` say.
fn json_error(err: &serde_path_to_error::Error<serde_json::Error>, body: &[u8]) -> ApiError {
    let path = err.path().to_string();
    let inner = err.inner();
    // Python's `json.dumps` (and so `requests`' `json=`) writes a missing close as a bare NaN,
    // which is not JSON: named at its cell, with what to send instead.
    if inner.is_syntax()
        && let Some((word, at)) = bare_non_number(body, inner.line(), inner.column())
    {
        let mut message = format!(
            "invalid JSON body at {path}: `{word}` is not a JSON number (send null for a \
             missing close) at line {} column {}",
            inner.line(),
            inner.column()
        );
        let mut mended = body.to_vec();
        mended.splice(at..at + word.len(), *b"null");
        if let Some((date, ticker)) = cell_of(err.path(), &mended) {
            message.push_str(&format!(" ({ticker} on {date})"));
        }
        return ApiError::malformed(message);
    }
    let mut message = if !inner.is_data() || path == "." {
        format!("invalid JSON body: {inner}")
    } else {
        format!("invalid JSON body at {path}: {inner}")
    };
    if let Some((date, ticker)) = cell_of(err.path(), body) {
        message.push_str(&format!(" ({ticker} on {date})"));
    }
    ApiError::malformed(message)
}

/// The bare `-Infinity`, `Infinity` or `NaN` a parser stopped at (1-based `line` and `column`
/// of the error), and its byte offset in `body`.
fn bare_non_number(body: &[u8], line: usize, column: usize) -> Option<(&'static str, usize)> {
    let line_start: usize = body
        .split(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(|text| text.len() + 1)
        .sum();
    let at = line_start + column.saturating_sub(1);
    ["-Infinity", "Infinity", "NaN"]
        .into_iter()
        .find_map(|word| {
            (at.saturating_sub(word.len())..=at)
                .find(|&i| body.get(i..i + word.len()) == Some(word.as_bytes()))
                .map(|i| (word, i))
        })
}

/// The date and the ticker of `dataframe_split.data[r][c]`, from a lenient second read of
/// the body (only on the error path).
fn cell_of(path: &serde_path_to_error::Path, body: &[u8]) -> Option<(String, String)> {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let [
        Segment::Map { key: split },
        Segment::Map { key: data },
        Segment::Seq { index: r },
        Segment::Seq { index: c },
    ] = segments.as_slice()
    else {
        return None;
    };
    if split != "dataframe_split" || data != "data" {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let split = value.get("dataframe_split")?;
    let date = split.get("index")?.get(*r)?.as_str()?.to_owned();
    let ticker = split.get("columns")?.get(*c)?.as_str()?.to_owned();
    Some((date, ticker))
}

/// `2024-01-02`, or pandas' ISO timestamp of a date (`2024-01-02T00:00:00.000`, with or
/// without a trailing `Z`), as `DataFrame.to_json(orient="split", date_format="iso")` writes.
fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|at| at.date())
        })
}

/// One ticker's answer: MLflow's `predictions` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The ticker.
    pub ticker: String,
    /// Momentum score `P[t-S] / P[t-L] - 1` on the last date; `null` when not eligible.
    pub score: Option<f64>,
    /// 1-based rank among eligible tickers; `null` when not eligible.
    pub rank: Option<usize>,
    /// Whether the model would hold it from the last date's close.
    pub selected: bool,
    /// Whether all three prices the score needs are there.
    pub eligible: bool,
}

/// The picks as MLflow's scoring server answers: `{"predictions": [...]}`, ranked tickers
/// first, then the ineligible ones in the model's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predictions {
    /// One entry per ticker of the model.
    pub predictions: Vec<Prediction>,
}

impl From<&Picks> for Predictions {
    fn from(picks: &Picks) -> Self {
        let predictions = picks
            .picks
            .iter()
            .map(|pick| Prediction {
                ticker: pick.ticker.clone(),
                score: pick.score,
                rank: pick.rank,
                selected: pick.selected,
                eligible: pick.score.is_some(),
            })
            .collect();
        Self { predictions }
    }
}

/// Scores the last date of `frame` with `model`: the scanner's [`scan`] on the frame's panel.
///
/// # Errors
/// As [`Frame::panel`]; 400 `INVALID_PARAMETER_VALUE` when the table is shorter than the
/// lookback; 500 when the model itself is invalid.
pub fn score(frame: &Frame, model: &Model) -> Result<Picks, ApiError> {
    let panel = frame.panel(model)?;
    let last = panel.n_days().checked_sub(1).ok_or(ScanError::NoData)?;
    Ok(scan(&panel, last, model)?)
}

#[cfg(test)]
mod tests {
    use momentum_engine::StrategyParams;
    use momentum_scanner::model::{Registration, Stage};

    use super::*;

    fn model() -> Model {
        Model {
            params: StrategyParams {
                lookback: 2,
                skip: 1,
                holding: 5,
                top_k: 1,
                cost_bps: 10.0,
            },
            universe: vec!["AAA".into(), "BBB".into(), "CCC".into()],
            data_digest: None,
            stage: Stage::Registered(Registration {
                version: "3".into(),
                promoted_at: "2026-12-01T00:00:00Z".into(),
            }),
        }
    }

    const JSON: &str = r#"{"dataframe_split": {
        "columns": ["CCC", "BBB", "AAA"],
        "index": ["2024-01-02", "2024-01-03T00:00:00.000Z", "2024-01-04"],
        "data": [[null, 50.0, 10.0], [8.0, 40.0, 12.5], [9.0, 45.0, 11.0]]
    }}"#;

    #[test]
    fn a_tiny_panel_scores_as_computed_by_hand() {
        let picks = score(&Frame::from_json(JSON.as_bytes()).unwrap(), &model()).unwrap();
        // Lookback 2, skip 1 on the last day (January 4): P[Jan 3] / P[Jan 2] - 1.
        // AAA 12.5 / 10 - 1 = 0.25; BBB 40 / 50 - 1 = -0.2; CCC has no close on January 2.
        let answer = Predictions::from(&picks);
        let got: Vec<_> = answer
            .predictions
            .iter()
            .map(|p| (p.ticker.as_str(), p.score, p.rank, p.selected, p.eligible))
            .collect();
        assert_eq!(
            got,
            [
                ("AAA", Some(12.5 / 10.0 - 1.0), Some(1), true, true),
                ("BBB", Some(40.0 / 50.0 - 1.0), Some(2), false, true),
                ("CCC", None, None, false, false),
            ]
        );
        assert_eq!(picks.as_of, NaiveDate::from_ymd_opt(2024, 1, 4).unwrap());
    }

    #[test]
    fn the_csv_encoding_gives_the_same_table() {
        let csv = "Date,CCC,BBB,AAA\n2024-01-02,,50,10\n2024-01-03,8,40,12.5\n2024-01-04,9,45,11\n";
        let from_csv = Frame::from_csv(csv.as_bytes()).unwrap();
        // The JSON's second label is a pandas timestamp of the same day; its tickers are
        // normalised as the CSV reader normalises them.
        let from_json = Frame::from_json(JSON.replace("\"CCC\"", "\" ccc \"").as_bytes()).unwrap();
        assert_eq!(from_csv, from_json);
        assert_eq!(from_csv.table().tickers(), ["CCC", "BBB", "AAA"]);
        assert_eq!(from_csv.table().rows_of("CCC").closes(), [8.0, 9.0]);
    }

    /// Each bad table and the start of the message it gets.
    #[test]
    fn bad_tables_are_refused_with_what_is_wrong() {
        let frame = |columns: &str, index: &str, data: &str| {
            let body = format!(
                r#"{{"dataframe_split": {{"columns": {columns}, "index": {index}, "data": {data}}}}}"#
            );
            Frame::from_json(body.as_bytes()).and_then(|f| score(&f, &model()))
        };
        let abc = r#"["AAA","BBB","CCC"]"#;
        let three = r#"["2024-01-02","2024-01-03","2024-01-04"]"#;
        let good = "[[1,1,1],[1,1,1],[1,1,1]]";
        let cases = [
            (frame(abc, three, good).map(|_| ()), None),
            (
                frame(r#"["AAA","BBB","ZZZ"]"#, three, good).map(|_| ()),
                Some((
                    "INVALID_PARAMETER_VALUE",
                    "tickers ZZZ are not in the model's universe",
                )),
            ),
            (
                frame(r#"["AAA","BBB"]"#, three, "[[1,1],[1,1],[1,1]]").map(|_| ()),
                Some((
                    "INVALID_PARAMETER_VALUE",
                    "the model's tickers CCC are missing from the request",
                )),
            ),
            (
                frame(r#"["AAA","AAA","CCC"]"#, three, good).map(|_| ()),
                Some((
                    "INVALID_PARAMETER_VALUE",
                    "the request: ticker AAA appears more than once",
                )),
            ),
            (
                frame(abc, r#"["2024-01-02","2024-01-04","2024-01-03"]"#, good).map(|_| ()),
                Some((
                    "INVALID_PARAMETER_VALUE",
                    "dates must ascend: row 2 (2024-01-03)",
                )),
            ),
            (
                frame(abc, r#"["2024-01-02","2024-01-02","2024-01-03"]"#, good).map(|_| ()),
                Some(("INVALID_PARAMETER_VALUE", "date 2024-01-02 is given twice")),
            ),
            (
                frame(abc, r#"["2024-01-02","Jan 3","2024-01-04"]"#, good).map(|_| ()),
                Some(("BAD_REQUEST", "row 1: `Jan 3` is not an ISO date")),
            ),
            (
                frame(abc, three, "[[1,1,1],[1,-2,1],[1,1,1]]").map(|_| ()),
                Some((
                    "INVALID_PARAMETER_VALUE",
                    "the request: BBB on 2024-01-03: close is -2, prices must be > 0",
                )),
            ),
            (
                frame(abc, three, "[[1,1,1],[1,1],[1,1,1]]").map(|_| ()),
                Some((
                    "BAD_REQUEST",
                    "row 1 (2024-01-03) has 2 values for 3 tickers",
                )),
            ),
            (
                frame(abc, three, "[[1,1,1],[null,null,null],[1,1,1]]").map(|_| ()),
                Some(("INVALID_PARAMETER_VALUE", "2024-01-03 has no close at all")),
            ),
            (
                frame(abc, r#"["2024-01-03","2024-01-04"]"#, "[[1,1,1],[1,1,1]]").map(|_| ()),
                Some((
                    "INVALID_PARAMETER_VALUE",
                    "2024-01-04: only 2 days of prices",
                )),
            ),
            (
                frame(abc, three, "[[1,1,1],[1,1,1]]").map(|_| ()),
                Some(("BAD_REQUEST", "`data` has 2 rows but `index` has 3 dates")),
            ),
            (
                frame(abc, "[]", "[]").map(|_| ()),
                Some(("INVALID_PARAMETER_VALUE", "the table has no rows")),
            ),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            match (got, want) {
                (Ok(()), None) => {}
                (Err(err), Some((code, start))) => {
                    assert_eq!(err.code, code, "case {i}: {}", err.message);
                    assert!(err.message.starts_with(start), "case {i}: {}", err.message);
                    assert!(err.status.is_client_error(), "case {i}");
                }
                (got, want) => panic!("case {i}: {got:?}, expected {want:?}"),
            }
        }
    }

    #[test]
    fn malformed_bodies_say_why() {
        let json = |body: &str| Frame::from_json(body.as_bytes()).unwrap_err().message;
        assert!(json("{").starts_with("invalid JSON body: EOF"));
        // Python's json.dumps writes NaN bare, which is not JSON: named at its cell.
        assert_eq!(
            json(
                r#"{"dataframe_split": {"columns": ["A", "B"], "index": ["2024-01-02"], "data": [[1, NaN]]}}"#
            ),
            "invalid JSON body at dataframe_split.data[0][1]: `NaN` is not a JSON number (send \
             null for a missing close) at line 1 column 83 (B on 2024-01-02)"
        );
        assert!(
            json(
                r#"{"dataframe_split": {"columns": ["A"], "index": ["2024-01-02"],
                    "data": [[-Infinity]]}}"#
            )
            .starts_with(
                "invalid JSON body at dataframe_split.data[0][0]: `-Infinity` is not a JSON number"
            )
        );
        assert!(json(r#"{"instances": [1]}"#).starts_with("`instances` is not supported"));
        assert_eq!(
            json(
                r#"{"dataframe_split": {"columns": ["A"], "index": ["2024-01-02"], "data": [[1]]},
                    "instances": [1]}"#
            ),
            "`dataframe_split` and `instances` in one body: send one input format"
        );
        assert_eq!(json("{}"), "missing `dataframe_split`");
        // Not an object: what was expected, not the parser's type name.
        assert_eq!(
            json("[]"),
            "invalid JSON body: invalid length 0, expected an object with `dataframe_split` \
             (MLflow's split orientation) at line 1 column 2"
        );
        // One document only: junk or a second document after it is refused.
        let valid =
            r#"{"dataframe_split": {"columns": ["AAA"], "index": ["2024-01-02"], "data": [[1]]}}"#;
        assert!(Frame::from_json(valid.as_bytes()).is_ok());
        let with_bom = [&b"\xef\xbb\xbf"[..], valid.as_bytes()].concat();
        assert!(Frame::from_json(&with_bom).is_ok());
        // Inference parameters: none, or an empty set of them, is all the model takes.
        let with_params = |params: &str| {
            let body = format!("{}, \"params\": {params}}}", &valid[..valid.len() - 1]);
            Frame::from_json(body.as_bytes()).map_err(|err| err.message)
        };
        assert!(with_params("{}").is_ok() && with_params("null").is_ok());
        assert_eq!(
            with_params(r#"{"top_k": 2}"#).unwrap_err(),
            "`params.top_k` is not supported: the served model takes no inference parameters (its \
             lookback, skip, holding and top_k are the model's; see GET /v1/model)"
        );
        assert!(
            with_params("[1]")
                .unwrap_err()
                .starts_with("invalid JSON body at params: ")
        );
        for tail in [" garbage {{{", r#"{"dataframe_split": {}}"#] {
            assert_eq!(
                json(&format!("{valid}{tail}")),
                format!(
                    "invalid JSON body: trailing characters at line 1 column {}",
                    valid.len() + tail.len() - tail.trim_start().len() + 1
                )
            );
        }
        assert_eq!(
            json(r#"{"dataframe_split": {"columns": [], "index": [], "data": []}, "extra": 1}"#),
            "invalid JSON body at extra: unknown field `extra`, expected one of \
             `dataframe_split`, `dataframe_records`, `instances`, `inputs`, `params` at line 1 \
             column 69"
        );
        // A cell of the wrong type is named by its path, its date and its ticker.
        assert_eq!(
            json(
                r#"{"dataframe_split": {"columns": ["AAA", "BBB"], "index": ["2024-01-02", "2024-01-03"],
                    "data": [[1, 2], [3, "4"]]}}"#
            ),
            "invalid JSON body at dataframe_split.data[1][1]: invalid type: string \"4\", \
             expected f64 at line 2 column 44 (BBB on 2024-01-03)"
        );
        assert_eq!(
            json(
                r#"{"dataframe_split": {"columns": ["AAA"], "index": [20240102], "data": [[1]]}}"#
            ),
            "invalid JSON body at dataframe_split.index[0]: invalid type: integer `20240102`, \
             expected a string at line 1 column 59"
        );
        // The data crate's refusals, in its words: a control character is named by position.
        assert_eq!(
            json(
                r#"{"dataframe_split": {"columns": ["AAA", "B\u001bB"], "index": ["2024-01-02"], "data": [[1, 2]]}}"#
            ),
            "the request: ticker number 2 holds the control character U+001B"
        );
        let csv = |body: &str| Frame::from_csv(body.as_bytes()).unwrap_err().message;
        assert_eq!(csv("Day,AAA\n"), "the request: missing column `date`");
        assert_eq!(
            csv("Date,AAA\n2024-01-02,abc\n"),
            "the request: line 2, column `AAA`: cannot parse \"abc\" as a number"
        );
        assert_eq!(
            csv("Date,AAA\n2024-01-02,1,2\n"),
            "the request: CSV error: record 1 (line: 2, byte: 9): found record with 3 fields, \
             but the previous record has 2 fields"
        );
        assert_eq!(
            csv("ticker,date,close\nAAA,2024-01-02,1\n"),
            "a `ticker` column: send the wide layout (Date, then one column per ticker)"
        );
        // A NaN cell parses as a number and is refused as a close.
        assert_eq!(
            csv("Date,AAA,BBB,CCC\n2024-01-02,NaN,1,1\n"),
            "the request: AAA on 2024-01-02: close is NaN, which is not a valid close"
        );
    }

    #[test]
    fn unknown_tickers_are_listed_ten_at_most() {
        let columns: Vec<String> = ["AAA", "BBB", "CCC"]
            .into_iter()
            .map(str::to_owned)
            .chain((0..12).map(|i| format!("Z{i:02}")))
            .collect();
        let csv = format!(
            "Date,{}\n2024-01-02,{}\n",
            columns.join(","),
            vec!["1"; columns.len()].join(",")
        );
        let err = Frame::from_csv(csv.as_bytes())
            .unwrap()
            .panel(&model())
            .unwrap_err();
        assert_eq!(
            err.message,
            "tickers Z00, Z01, Z02, Z03, Z04, Z05, Z06, Z07, Z08, Z09 and 2 more are not in \
             the model's universe (AAA, BBB, CCC)"
        );
    }
}
