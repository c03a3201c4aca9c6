//! The daily scan: score the universe on one day with the production model and pick the top k.
//!
//! The scores come from [`momentum_features::momentum_scores`] and the selection from
//! [`momentum_engine::select_top_k`], the same functions the backtest runs on every rebalance
//! day, so a scan on day `t` picks exactly what the backtest would have bought on day `t`.

use chrono::NaiveDate;
use momentum_data::{PriceTable, UniverseWindow, select};
use momentum_engine::{Arm, StrategyParams};
use momentum_features::PricePanel;
use serde::{Deserialize, Serialize};

use crate::ScanError;
use crate::model::Model;

/// One ticker's line in the scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pick {
    /// 1-based rank among eligible tickers (best score first, ties to the earlier ticker);
    /// `None` for an ineligible ticker.
    pub rank: Option<usize>,
    /// Ticker symbol.
    pub ticker: String,
    /// Momentum score `P[t-S] / P[t-L] - 1`; `None` when the ticker is not eligible.
    pub score: Option<f64>,
    /// Whether the model holds this ticker from this close.
    pub selected: bool,
    /// Target portfolio weight: `1 / k_selected` when selected, else 0.
    pub target_weight: f64,
    /// Close on the as-of date; `None` when missing that day.
    pub last_close: Option<f64>,
}

/// The result of a scan: the model, the day, and every ticker ranked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Picks {
    /// Which model scanned: the champion's picks are the production picks, the challenger's
    /// are recorded in shadow. Written only for the challenger (absent means champion).
    #[serde(default, skip_serializing_if = "is_champion")]
    pub alias: Arm,
    /// Registry version of the model that produced the picks (empty for a candidate).
    pub model_version: String,
    /// The model's parameters. The picks record lookback, skip, holding and top_k; a scan
    /// does not trade, so `cost_bps` is 0.
    #[serde(flatten, with = "scored_params")]
    pub params: StrategyParams,
    /// The trading day the scores are computed on (its close is the decision point).
    pub as_of: NaiveDate,
    /// Eligible tickers by rank, then the ineligible ones in universe order.
    pub picks: Vec<Pick>,
}

fn is_champion(arm: &Arm) -> bool {
    *arm == Arm::Champion
}

impl Picks {
    /// The selected tickers in rank order.
    pub fn selected(&self) -> impl Iterator<Item = &str> {
        self.picks
            .iter()
            .filter(|p| p.selected)
            .map(|p| p.ticker.as_str())
    }
}

/// `table` kept to `universe`, every date, in the universe's order: what a scan ranks (and what
/// the monitor watches) are the tickers the model was selected on ([`Model::universe`]),
/// whatever else the price file holds. Align the result with [`PricePanel::from_table`] before
/// [`scan`]: other tickers' days would otherwise add rows to the panel.
///
/// # Errors
/// [`ScanError::EmptyUniverse`] for an empty `universe`; [`ScanError::MissingTickers`]
/// listing the tickers of `universe` that `table` lacks (`origin` names the table).
///
/// # Examples
///
/// ```
/// use momentum_data::{PriceRow, PriceTable};
/// use momentum_engine::PricePanel;
/// use momentum_scanner::ScanError;
/// use momentum_scanner::scan::keep_universe;
///
/// let d = |day| chrono::NaiveDate::from_ymd_opt(2024, 1, day).unwrap();
/// let table = PriceTable::from_rows(
///     vec!["AAA".into(), "BBB".into(), "CCC".into()],
///     vec![
///         PriceRow::close_only("AAA", d(2), 10.0),
///         PriceRow::close_only("BBB", d(2), 20.0),
///         PriceRow::close_only("BBB", d(4), 21.0),
///         PriceRow::close_only("CCC", d(3), 30.0),
///     ],
/// );
/// // The model's universe, in its order: BBB is not in it, nor is its day 4.
/// let universe = vec!["CCC".to_string(), "AAA".to_string()];
/// let kept = keep_universe(&table, &universe, "prices.parquet")?;
/// assert_eq!(kept.tickers(), universe);
/// assert_eq!(kept.len(), 2);
/// let panel = PricePanel::from_table(&kept)?;
/// assert_eq!(panel.tickers(), universe);
/// assert_eq!(panel.dates(), [d(2), d(3)]);
///
/// let wanted = ["AAA".to_string(), "ZZZ".to_string()];
/// let err = keep_universe(&table, &wanted, "prices.parquet").unwrap_err();
/// assert!(matches!(&err, ScanError::MissingTickers { tickers, .. } if tickers == &["ZZZ"]));
/// assert_eq!(err.to_string(), "the model's tickers ZZZ are missing from prices.parquet");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn keep_universe(
    table: &PriceTable,
    universe: &[String],
    origin: &str,
) -> Result<PriceTable, ScanError> {
    check_universe(table.tickers(), universe, origin)?;
    let kept = UniverseWindow {
        tickers: universe.to_vec(),
        start: NaiveDate::MIN,
        end: NaiveDate::MAX,
        allow_missing: false,
    };
    Ok(select(table, &kept, origin)?.table)
}

/// The checks of [`keep_universe`] on the tickers a price file has (`available`), for a reader
/// that does not hold the file's table.
///
/// # Errors
/// [`ScanError::EmptyUniverse`] for an empty `universe`; [`ScanError::MissingTickers`]
/// listing the tickers of `universe` not in `available` (`origin` names the file).
pub fn check_universe(
    available: &[String],
    universe: &[String],
    origin: &str,
) -> Result<(), ScanError> {
    // The data crate reads an empty list as "every ticker": a model always names its universe.
    if universe.is_empty() {
        return Err(ScanError::EmptyUniverse);
    }
    let missing: Vec<String> = universe
        .iter()
        .filter(|t| !available.contains(t))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(ScanError::MissingTickers {
            tickers: missing,
            origin: origin.to_owned(),
        });
    }
    Ok(())
}

/// Scores every ticker of `panel` on day index `t` with `model` and selects its top k: what
/// the backtest buys on a rebalance day `t`.
///
/// The panel's tickers must be the model's universe in its order ([`keep_universe`]), so the
/// ranks and the tie rule (equal scores go to the ticker listed first) are the backtest's.
/// Only prices on days `t`, `t - skip` and `t - lookback` are read, so rows after `t` (if the
/// panel has any) cannot leak into the picks.
///
/// # Errors
/// [`ScanError::UniverseMismatch`] when the panel's tickers are not the model's universe;
/// [`ScanError::TooShort`] when `t < lookback` (no price `L` days back);
/// [`ScanError::InvalidModel`] for parameters out of range; [`ScanError::ScoreOverflow`] for
/// a score beyond a float's range.
///
/// # Examples
///
/// ```
/// use momentum_engine::{PricePanel, StrategyParams};
/// use momentum_scanner::model::{Registration, Stage};
/// use momentum_scanner::scan::scan;
/// use momentum_scanner::{Model, ScanError};
///
/// let dates = (1..=3).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
/// let close = ndarray::array![[10.0, 20.0, f64::NAN], [11.0, 21.0, 5.0], [12.0, 22.0, 6.0]];
/// let panel = PricePanel::new(dates, vec!["A".into(), "B".into(), "C".into()], close)?;
/// let model = Model {
///     params: StrategyParams { lookback: 2, skip: 0, holding: 5, top_k: 2, cost_bps: 10.0 },
///     universe: vec!["A".into(), "B".into(), "C".into()],
///     data_digest: None,
///     stage: Stage::Registered(Registration { version: "4".into(), promoted_at: String::new() }),
/// };
/// let picks = scan(&panel, 2, &model)?;
/// assert_eq!(picks.model_version, "4");
/// assert_eq!(picks.params.cost_bps, 0.0); // a scan does not trade
/// // A +20 % (12 / 10), B +10 % (22 / 20); C has no price two days back.
/// let lines: Vec<_> = picks.picks.iter().map(|p| (p.ticker.as_str(), p.rank, p.target_weight)).collect();
/// assert_eq!(lines, [("A", Some(1), 0.5), ("B", Some(2), 0.5), ("C", None, 0.0)]);
/// assert!((picks.picks[0].score.unwrap() - 0.2).abs() < 1e-12);
/// assert_eq!((picks.picks[2].score, picks.picks[2].last_close), (None, Some(6.0)));
///
/// // Day 1 has no price two days back.
/// assert!(matches!(scan(&panel, 1, &model), Err(ScanError::TooShort { lookback: 2, .. })));
///
/// // 1e300 / 1e-300 overflows: no pick is made of a score no output can state.
/// let close = ndarray::array![[1e-300, 20.0, 1.0], [1.0, 21.0, 5.0], [1e300, 22.0, 6.0]];
/// let dates = (1..=3).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
/// let wild = PricePanel::new(dates, model.universe.clone(), close)?;
/// let err = scan(&wild, 2, &model).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "ticker A on 2024-01-03: its score 1e300 / 1e-300 - 1 overflows a float (are these prices right?)"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn scan(panel: &PricePanel, t: usize, model: &Model) -> Result<Picks, ScanError> {
    if panel.tickers() != model.universe.as_slice() {
        return Err(ScanError::UniverseMismatch);
    }
    let params = StrategyParams {
        cost_bps: 0.0,
        ..model.params
    };
    params.validate().map_err(ScanError::InvalidModel)?;
    let as_of = *panel.dates().get(t).ok_or(ScanError::NoData)?;
    if t < params.lookback {
        return Err(ScanError::TooShort {
            as_of,
            days: t + 1,
            lookback: params.lookback,
        });
    }
    let mut scores = vec![f64::NAN; panel.n_tickers()];
    momentum_features::momentum_scores(panel, t, params.lookback, params.skip, &mut scores)?;
    if let Some(i) = scores.iter().position(|score| score.is_infinite()) {
        return Err(ScanError::ScoreOverflow {
            ticker: panel.tickers()[i].clone(),
            as_of,
            recent: panel.price(t - params.skip, i),
            past: panel.price(t - params.lookback, i),
        });
    }
    // The full ranking is the top N; its first k are exactly `select_top_k(scores, k)` because
    // the rank order is total.
    let ranked = momentum_engine::select_top_k(&scores, scores.len());
    let selected = &ranked[..ranked.len().min(params.top_k)];
    let weight = if selected.is_empty() {
        0.0
    } else {
        1.0 / selected.len() as f64
    };
    let line = |i: usize, rank: Option<usize>| {
        let is_selected = selected.contains(&i);
        let close = panel.price(t, i);
        Pick {
            rank,
            ticker: panel.tickers()[i].clone(),
            score: scores[i].is_finite().then_some(scores[i]),
            selected: is_selected,
            target_weight: if is_selected { weight } else { 0.0 },
            last_close: close.is_finite().then_some(close),
        }
    };
    let mut picks: Vec<Pick> = ranked
        .iter()
        .enumerate()
        .map(|(r, &i)| line(i, Some(r + 1)))
        .collect();
    picks.extend(
        (0..panel.n_tickers())
            .filter(|&i| scores[i].is_nan())
            .map(|i| line(i, None)),
    );
    Ok(Picks {
        alias: Arm::Champion,
        model_version: model.version().unwrap_or_default().to_owned(),
        params,
        as_of,
        picks,
    })
}

/// The parameters a scan records: lookback, skip, holding and top_k (no cost: a scan does not
/// trade), in that order, in `picks.json`, `monitor.json` and the history.
pub(crate) mod scored_params {
    use momentum_engine::StrategyParams;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Scored {
        lookback: usize,
        skip: usize,
        holding: usize,
        top_k: usize,
    }

    pub(crate) fn serialize<S: Serializer>(p: &StrategyParams, s: S) -> Result<S::Ok, S::Error> {
        Scored {
            lookback: p.lookback,
            skip: p.skip,
            holding: p.holding,
            top_k: p.top_k,
        }
        .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<StrategyParams, D::Error> {
        let s = Scored::deserialize(d)?;
        Ok(StrategyParams {
            lookback: s.lookback,
            skip: s.skip,
            holding: s.holding,
            top_k: s.top_k,
            cost_bps: 0.0,
        })
    }
}
