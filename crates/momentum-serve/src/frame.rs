//! The body of `POST /invocations`: MLflow's `dataframe_split` JSON or a wide CSV of closes,
//! checked and turned into the model's [`PricePanel`], then scored by the scanner's
//! [`scan`], the code `momentum scan` runs.
//!
//! Both encodings hold the same table: one column per ticker, one row per date, closes with
//! gaps (`null`, or an empty CSV cell). Everything a client can get wrong is an [`ApiError`]
//! naming the row, the date or the ticker; nothing here panics on input.

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveDateTime};
use momentum_features::{PanelBuilder, PricePanel};
use momentum_scanner::scan::{Picks, check_universe, scan};
use momentum_scanner::{Model, ScanError};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A price table as the client sent it, not yet checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The column names: tickers.
    pub tickers: Vec<String>,
    /// The row labels: dates as sent.
    pub dates: Vec<String>,
    /// `rows[r][c]`: the close of ticker `c` on date `r`, `None` when missing.
    pub rows: Vec<Vec<Option<f64>>>,
}

/// The JSON body MLflow's scoring server takes. Only `dataframe_split` is a price table here;
/// the other input formats are named so that a client using one gets a precise refusal.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    dataframe_split: Option<Split>,
    dataframe_records: Option<IgnoredAny>,
    instances: Option<IgnoredAny>,
    inputs: Option<IgnoredAny>,
    /// MLflow's inference parameters: accepted and unused (the model has none).
    #[serde(rename = "params")]
    _params: Option<IgnoredAny>,
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
    /// 400 `BAD_REQUEST` for JSON that does not parse or another of MLflow's input formats.
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        let envelope: Envelope = serde_json::from_slice(body)
            .map_err(|err| ApiError::malformed(format!("invalid JSON body: {err}")))?;
        let Some(split) = envelope.dataframe_split else {
            let other = [
                ("dataframe_records", envelope.dataframe_records.is_some()),
                ("instances", envelope.instances.is_some()),
                ("inputs", envelope.inputs.is_some()),
            ]
            .into_iter()
            .find_map(|(name, given)| given.then_some(name));
            return Err(ApiError::malformed(match other {
                Some(name) => format!(
                    "`{name}` is not supported: send the closes as `dataframe_split` \
                     (columns = tickers, index = dates, data = rows of closes) or as text/csv"
                ),
                None => "missing `dataframe_split`".to_owned(),
            }));
        };
        if split.data.len() != split.index.len() {
            return Err(ApiError::malformed(format!(
                "`data` has {} rows but `index` has {} dates",
                split.data.len(),
                split.index.len()
            )));
        }
        Ok(Self {
            tickers: split.columns,
            dates: split.index,
            rows: split.data,
        })
    }

    /// Parses a wide CSV: a header `Date,TICKER,...`, then one line per date; an empty cell is
    /// a missing close.
    ///
    /// # Errors
    /// 400 `BAD_REQUEST` for a missing or wrong header, a line with another number of fields,
    /// a cell that is not a number.
    pub fn from_csv(body: &[u8]) -> Result<Self, ApiError> {
        let mut reader = csv::ReaderBuilder::new().from_reader(body);
        let header = reader.headers().map_err(|err| {
            ApiError::malformed(format!("invalid CSV header: {}", csv_message(&err)))
        })?;
        let mut columns = header.iter();
        if !columns
            .next()
            .is_some_and(|first| first.eq_ignore_ascii_case("date"))
        {
            return Err(ApiError::malformed(
                "the CSV header must start with `Date` (then one column per ticker)",
            ));
        }
        let tickers: Vec<String> = columns.map(str::to_owned).collect();
        let mut dates = Vec::new();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|err| {
                ApiError::malformed(format!("invalid CSV: {}", csv_message(&err)))
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let date = record.get(0).unwrap_or_default();
            let row = tickers
                .iter()
                .zip(record.iter().skip(1))
                .map(|(ticker, cell)| match cell.trim() {
                    "" => Ok(None),
                    text => text.parse::<f64>().map(Some).map_err(|_| {
                        ApiError::malformed(format!(
                            "CSV line {line}: {ticker} on {date}: `{text}` is not a number"
                        ))
                    }),
                })
                .collect::<Result<Vec<_>, _>>()?;
            dates.push(date.to_owned());
            rows.push(row);
        }
        Ok(Self {
            tickers,
            dates,
            rows,
        })
    }

    /// The panel of the model's universe, in the model's order (so the ranks and the tie rule
    /// are the backtest's), after checking the table.
    ///
    /// # Errors
    /// 400 `BAD_REQUEST` for a ragged table, a repeated or empty ticker, a date that does not
    /// parse; 400 `INVALID_PARAMETER_VALUE` for tickers the model does not have (or lacks),
    /// dates out of order or repeated, a close that is not a positive finite number, a date
    /// without any close, no rows.
    pub fn panel(&self, model: &Model) -> Result<PricePanel, ApiError> {
        let mut seen = BTreeSet::new();
        for ticker in &self.tickers {
            if ticker.trim().is_empty() {
                return Err(ApiError::malformed("a column has an empty ticker name"));
            }
            if !seen.insert(ticker.as_str()) {
                return Err(ApiError::malformed(format!(
                    "ticker {ticker} is given twice"
                )));
            }
        }
        let unknown: Vec<&str> = self
            .tickers
            .iter()
            .filter(|t| !model.universe.contains(t))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::invalid(format!(
                "tickers {} are not in the model's universe ({})",
                unknown.join(", "),
                model.universe.join(", ")
            )));
        }
        check_universe(&self.tickers, &model.universe, "the request")
            .map_err(|err| ApiError::invalid(err.to_string()))?;
        let dates = self.checked_dates()?;
        for (r, (row, date)) in self.rows.iter().zip(&dates).enumerate() {
            if row.len() != self.tickers.len() {
                return Err(ApiError::malformed(format!(
                    "row {r} ({date}) has {} values for {} tickers",
                    row.len(),
                    self.tickers.len()
                )));
            }
            if row.iter().all(Option::is_none) {
                return Err(ApiError::invalid(format!("{date} has no close at all")));
            }
            for (ticker, close) in self.tickers.iter().zip(row) {
                if let Some(close) = close
                    && !(close.is_finite() && *close > 0.0)
                {
                    return Err(ApiError::invalid(format!(
                        "{ticker} on {date}: close {close} is not a positive finite number"
                    )));
                }
            }
        }
        let mut builder = PanelBuilder::new(model.universe.clone())
            .map_err(|err| ApiError::internal(format!("the model's universe: {err}")))?;
        for (column, ticker) in model.universe.iter().enumerate() {
            let c = self
                .tickers
                .iter()
                .position(|t| t == ticker)
                .expect("checked: every model ticker is a column");
            builder.set_series(
                column,
                dates
                    .iter()
                    .zip(&self.rows)
                    .filter_map(|(date, row)| row[c].map(|close| (*date, close))),
            );
        }
        builder
            .finish()
            .map_err(|err| ApiError::invalid(err.to_string()))
    }

    /// The row labels as dates, strictly ascending.
    fn checked_dates(&self) -> Result<Vec<NaiveDate>, ApiError> {
        if self.dates.is_empty() {
            return Err(ApiError::invalid("the table has no rows"));
        }
        let dates = self
            .dates
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
        for (r, pair) in dates.windows(2).enumerate() {
            if pair[1] == pair[0] {
                return Err(ApiError::invalid(format!(
                    "date {} is given twice (rows {r} and {})",
                    pair[0],
                    r + 1
                )));
            }
            if pair[1] < pair[0] {
                return Err(ApiError::invalid(format!(
                    "dates must ascend: row {} ({}) comes after {}",
                    r + 1,
                    pair[1],
                    pair[0]
                )));
            }
        }
        Ok(dates)
    }
}

/// The csv crate's message without its `CSV error: ` prefix (the caller says it is CSV).
fn csv_message(err: &csv::Error) -> String {
    let text = err.to_string();
    text.strip_prefix("CSV error: ").unwrap_or(&text).to_owned()
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
    scan(&panel, panel.n_days() - 1, model).map_err(|err| match err {
        ScanError::TooShort { .. } => ApiError::invalid(err.to_string()),
        other => ApiError::internal(other.to_string()),
    })
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
        let mut from_csv = Frame::from_csv(csv.as_bytes()).unwrap();
        let from_json = Frame::from_json(JSON.as_bytes()).unwrap();
        assert_eq!(from_csv.rows, from_json.rows);
        assert_eq!(from_csv.tickers, from_json.tickers);
        // The JSON's second label is a pandas timestamp of the same day.
        from_csv.dates[1] = "2024-01-03T00:00:00.000Z".into();
        assert_eq!(from_csv, from_json);
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
                Some(("BAD_REQUEST", "ticker AAA is given twice")),
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
                    "BBB on 2024-01-03: close -2 is not a positive",
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
        // Python's json.dumps writes NaN bare, which is not JSON.
        assert!(json(r#"{"dataframe_split": {"columns": ["A"], "index": ["2024-01-02"], "data": [[NaN]]}}"#)
            .starts_with("invalid JSON body: expected value"));
        assert!(json(r#"{"instances": [1]}"#).starts_with("`instances` is not supported"));
        assert_eq!(json("{}"), "missing `dataframe_split`");
        assert!(
            json(r#"{"dataframe_split": {"columns": [], "index": [], "data": []}, "extra": 1}"#)
                .starts_with("invalid JSON body: unknown field `extra`")
        );
        let csv = |body: &str| Frame::from_csv(body.as_bytes()).unwrap_err().message;
        assert!(csv("Day,AAA\n").starts_with("the CSV header must start with `Date`"));
        assert_eq!(
            csv("Date,AAA\n2024-01-02,abc\n"),
            "CSV line 2: AAA on 2024-01-02: `abc` is not a number"
        );
        assert!(
            csv("Date,AAA\n2024-01-02,1,2\n").starts_with(
                "invalid CSV: record 1 (line: 2, byte: 9): found record with 3 fields"
            )
        );
        // A NaN cell parses as a number and is refused as a close.
        let frame = Frame::from_csv(b"Date,AAA,BBB,CCC\n2024-01-02,NaN,1,1\n").unwrap();
        let err = frame.panel(&model()).unwrap_err();
        assert_eq!(
            err.message,
            "AAA on 2024-01-02: close NaN is not a positive finite number"
        );
    }
}
