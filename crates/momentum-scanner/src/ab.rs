//! Champion against challenger: the daily returns of each model's book, and the decision
//! `momentum ab` takes from their comparison ([`momentum_engine::compare`]).
//!
//! * **Live books** ([`live_book`]). From the picks history: each model's scans, thinned to
//!   non-overlapping holding periods as the monitor thins them (a scan counts when it is at
//!   least `H` trading days after the previous counted one). A counted scan enters its selected
//!   tickers at their target weights at the as-of close (the rest of the book in cash) and holds
//!   them `H` days; the book's value on day `u` of the period is
//!   `cash + sum_i w_i * P[u, i] / P[t, i]` (a missing later price carried), and its daily
//!   return `V_u / V_(u-1) - 1`. A book is held until the next counted scan trades it; the
//!   days between a period's end and a late scan (a missed scan) have no return, as the
//!   monitor counts none. Net of the model's cost, as the backtest books are (a comparison of
//!   gross books would favour the model that trades more): each counted scan's trade costs
//!   `cost_bps / 1e4` times its turnover (below), taken from the value at the as-of close as the
//!   spec takes it from a rebalance day's. That day's return is the previous period's last when
//!   the scan came on time; after a missed scan it has none, and the cost lands on the period's
//!   first return. The first scan's purchase is in no return, as the spec's curve starts from
//!   the post-trade value. Without costs a period's daily returns compound to the monitor's
//!   basket return (its record is gross).
//! * **Backtest books** ([`backtest_book`]): the engine's backtest of each model on the same
//!   prices and window, net of each model's cost, its daily returns from the first rebalance.
//! * **Turnover**: as the spec defines it for the backtest, the sum over rebalances of
//!   `sum_i |w_target_i - w_pre_i|` (drifted weights before the trade; 0 for a book in cash)
//!   divided by `n / 252` for `n` daily returns.
//! * **Decision** ([`decide`]): fewer than `ab.min_days` common days is `inconclusive`, and so
//!   are two books with the same return every day (nothing to test). Then the
//!   challenger is promoted only when both the HAC test and the studentized bootstrap reject
//!   `delta = 0` at `ab.alpha` with `delta > 0`; when both reject it with `delta < 0` the
//!   champion is kept because it is better; otherwise the difference is not established and the
//!   decision is `inconclusive` (the champion stays, as it would anyway). Requiring both tests
//!   makes a promotion rarer than either test alone would.

use chrono::NaiveDate;
use momentum_engine::{
    Arm, Comparison, ComparisonSpec, DAYS_PER_YEAR, MIN_REPLICATIONS, StrategyParams, Window,
    backtest,
};
use momentum_features::{PricePanel, is_valid};
use serde::{Deserialize, Serialize};

use crate::ScanError;
use crate::model::Model;
use crate::scan::Picks;

/// The `ab` block of `params.yaml`: the decision's thresholds and the comparison's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbSettings {
    /// Significance level of the tests behind the decision.
    pub alpha: f64,
    /// Common days below which the decision is `inconclusive`.
    pub min_days: usize,
    /// Newey-West lag of the HAC and Diebold-Mariano tests; `null`: `floor(4 (T/100)^(2/9))`.
    pub hac_lag: Option<usize>,
    /// Block length of the circular block bootstrap, in days.
    pub block: usize,
    /// Bootstrap replications.
    pub reps: usize,
    /// Bootstrap seed: the same seed gives the same interval and p-value.
    pub seed: u64,
}

impl Default for AbSettings {
    /// The committed `params.yaml`: 5 %, half a year of days, the automatic lag, blocks of 5,
    /// 5,000 replications, seed 0.
    fn default() -> Self {
        let spec = ComparisonSpec::default();
        Self {
            alpha: 0.05,
            min_days: 126,
            hac_lag: spec.lag,
            block: spec.block_len,
            reps: spec.replications,
            seed: spec.seed,
        }
    }
}

impl AbSettings {
    /// The engine's comparison settings.
    pub fn comparison(&self) -> ComparisonSpec {
        ComparisonSpec {
            lag: self.hac_lag,
            block_len: self.block,
            replications: self.reps,
            seed: self.seed,
        }
    }

    /// `alpha` in `(0, 1)`, `min_days` at least 2, `block` at least 1 and `reps` at least
    /// [`MIN_REPLICATIONS`] (that a block fits twice in the days compared is the comparison's
    /// own check, once the days are known).
    ///
    /// # Errors
    /// [`ScanError::InvalidSetting`] naming the setting.
    pub fn validate(&self) -> Result<(), ScanError> {
        let checks = [
            (
                "ab.alpha",
                self.alpha > 0.0 && self.alpha < 1.0,
                "must be in (0, 1)",
            ),
            ("ab.min_days", self.min_days >= 2, "must be at least 2"),
            ("ab.block", self.block >= 1, "must be at least 1"),
            (
                "ab.reps",
                self.reps >= MIN_REPLICATIONS,
                "must be at least 19 for a 95 % interval",
            ),
        ];
        // The reason above spells the engine's minimum.
        const _: () = assert!(MIN_REPLICATIONS == 19);
        ScanError::first_out_of_range(checks)
    }
}

/// What the comparison says to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The challenger's Sharpe ratio is significantly higher.
    PromoteChallenger,
    /// The champion's Sharpe ratio is significantly higher.
    KeepChampion,
    /// Too few days, or a difference the tests do not establish.
    Inconclusive,
}

impl Decision {
    /// Its name in `ab.json`: `promote_challenger`, `keep_champion` or `inconclusive`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::PromoteChallenger => "promote_challenger",
            Decision::KeepChampion => "keep_champion",
            Decision::Inconclusive => "inconclusive",
        }
    }
}

/// One model's side of `reports/ab.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmReport {
    /// Its registry version (empty for a returns file).
    pub version: String,
    /// Its parameters (`None` for a returns file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<StrategyParams>,
    /// Days with a return.
    pub days: usize,
    /// Annualised turnover (`None` when unknown or without a return).
    pub turnover: Option<f64>,
}

/// `reports/ab.json`: what was compared, the statistics and the decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbReport {
    /// `live`, `backtest` or `returns`.
    pub source: &'static str,
    /// The production model.
    pub champion: ArmReport,
    /// The model in shadow.
    pub challenger: ArmReport,
    /// The first common day (`None` without one).
    pub start: Option<NaiveDate>,
    /// The last common day.
    pub end: Option<NaiveDate>,
    /// Days both have a return on: the comparison's `T`.
    pub days_compared: usize,
    /// The mean overlap of the two models' picks: [`mean_overlap`] of their scans (live),
    /// [`scanned_overlap`] on the common days (backtest); `None` for a returns file.
    pub mean_overlap: Option<f64>,
    /// The statistics; `None` when there were too few days to compute them, or the two books
    /// are the same every day.
    pub comparison: Option<Comparison>,
    /// The decision.
    pub decision: Decision,
    /// Why, in words.
    pub reason: String,
}

impl AbReport {
    /// Compares the two books on their common days and decides.
    ///
    /// # Errors
    /// [`ScanError::Engine`] for a comparison that cannot be computed on at least
    /// `ab.min_days` days (a constant series, a lag or block too long); below that the
    /// decision is `inconclusive` whatever the statistics, as it is for two books with the
    /// same return every day.
    pub fn of(
        source: &'static str,
        (champion, challenger): (&Book, &Book),
        mean_overlap: Option<f64>,
        settings: &AbSettings,
    ) -> Result<Self, ScanError> {
        settings.validate()?;
        let paired = Paired::of(champion, challenger);
        let days = paired.dates.len();
        // The same return every day (a retraining that chose the champion's parameters again):
        // no test can measure a difference, and there is none to act on.
        let (comparison, (decision, reason)) = if days > 0 && paired.champion == paired.challenger {
            let reason = format!(
                "the two books have the same return on each of the {days} common days: no \
                 difference to test"
            );
            (None, (Decision::Inconclusive, reason))
        } else {
            let computed = momentum_engine::compare(
                &paired.champion,
                &paired.challenger,
                &settings.comparison(),
            );
            let comparison = match computed {
                Ok(comparison) => Some(comparison),
                Err(_) if days < settings.min_days => None,
                Err(err) => return Err(err.into()),
            };
            let decision = decide(comparison.as_ref(), days, settings);
            (comparison, decision)
        };
        let side = |book: &Book| ArmReport {
            version: book.version.clone(),
            params: book.params,
            days: book.returns.len(),
            turnover: book.turnover.is_finite().then_some(book.turnover),
        };
        Ok(Self {
            source,
            champion: side(champion),
            challenger: side(challenger),
            start: paired.dates.first().copied(),
            end: paired.dates.last().copied(),
            days_compared: days,
            mean_overlap,
            comparison,
            decision,
            reason,
        })
    }
}

/// One model's book: its daily returns on the days it held something.
#[derive(Debug, Clone, PartialEq)]
pub struct Book {
    /// Its registry version.
    pub version: String,
    /// Its parameters (`None` for returns read from a file).
    pub params: Option<StrategyParams>,
    /// The day of each return.
    pub dates: Vec<NaiveDate>,
    /// Daily simple returns.
    pub returns: Vec<f64>,
    /// Annualised turnover (see the module docs); NaN without a return.
    pub turnover: f64,
}

/// The live book of `model`, the registered model that is `arm` now, on `panel`: its scans
/// as `arm` in `history` (the same version and parameters; scans of an earlier model that held
/// the alias are not its record), net of the model's cost (the history records none: a scan
/// does not trade), as the module docs describe.
///
/// # Errors
/// [`ScanError::NoHistory`] for an empty history, [`ScanError::NoArmHistory`] when it has no
/// scan of `model` as `arm`; [`ScanError::NotRegistered`] for a model without a version;
/// [`ScanError::MissingTicker`] when a selected ticker is not in the panel or has no price on
/// its scan day.
pub fn live_book(
    panel: &PricePanel,
    history: &[Picks],
    (arm, model): (Arm, &Model),
) -> Result<Book, ScanError> {
    if history.is_empty() {
        return Err(ScanError::NoHistory);
    }
    let version = model.version().ok_or(ScanError::NotRegistered)?;
    let params = model.params;
    // What a scan of the model records: its parameters without the cost.
    let scanned = StrategyParams {
        cost_bps: 0.0,
        ..params
    };
    let of_model = |scan: &&Picks| {
        scan.alias == arm && scan.params == scanned && scan.model_version == version
    };
    if !history.iter().any(|scan| of_model(&scan)) {
        return Err(ScanError::NoArmHistory {
            arm,
            version: version.to_owned(),
        });
    }
    let holding = params.holding;
    let last = panel.n_days().saturating_sub(1);
    let carried = panel.carried();
    let mut book = Book {
        version: version.to_owned(),
        params: Some(params),
        dates: Vec::new(),
        returns: Vec::new(),
        turnover: f64::NAN,
    };
    let mut turnover = 0.0;
    // The book held since the previous counted scan: its entry day and (ticker, weight) pairs.
    let mut held: Option<(usize, Vec<(usize, f64)>)> = None;
    // The two ends of the last return (the later one after any cost already taken that day),
    // for the cost of a trade on its day.
    let mut last_values = (1.0, 1.0);
    let mut next_allowed = 0;
    for scan in history.iter().filter(of_model) {
        let Ok(t) = panel.dates().binary_search(&scan.as_of) else {
            tracing::warn!(as_of = %scan.as_of, %arm, "scan date is not in the price data; skipped");
            continue;
        };
        if t < next_allowed || t >= last {
            continue;
        }
        next_allowed = t + holding;
        let mut targets = Vec::new();
        for pick in scan.picks.iter().filter(|p| p.selected) {
            let missing = || ScanError::MissingTicker {
                ticker: pick.ticker.clone(),
                as_of: scan.as_of,
            };
            let i = panel
                .tickers()
                .iter()
                .position(|name| *name == pick.ticker)
                .ok_or_else(missing)?;
            if !is_valid(panel.price(t, i)) {
                return Err(missing());
            }
            targets.push((i, pick.target_weight));
        }
        // The drifted weights before the trade: the book held since the previous counted scan
        // (whose last recorded day is t when this scan is on time: counted scans are at least
        // a period apart).
        let on_time = matches!(&held, Some((entry, _)) if entry + holding >= t);
        let before: Vec<(usize, f64)> = match &held {
            Some((entry, positions)) => {
                let value = value_on(panel, (*entry, positions), t);
                positions
                    .iter()
                    .map(|&(i, w)| (i, w * carried[[t, i]] / panel.price(*entry, i) / value))
                    .collect()
            }
            None => Vec::new(),
        };
        let weight = |book: &[(usize, f64)], i: usize| {
            book.iter()
                .filter(|&&(j, _)| j == i)
                .map(|&(_, w)| w)
                .sum::<f64>()
        };
        let mut tickers: Vec<usize> = targets.iter().chain(&before).map(|&(i, _)| i).collect();
        tickers.sort_unstable();
        tickers.dedup();
        let traded = tickers
            .iter()
            .map(|&i| (weight(&targets, i) - weight(&before, i)).abs())
            .sum::<f64>();
        turnover += traded;
        // What is left of the value after the trade's cost (spec rule 6): in day t's return
        // when it has one; after a missed scan in the next day's; the first purchase in none.
        let kept = 1.0 - params.cost_bps / 1e4 * traded;
        let mut cost_on_first_day = 1.0;
        if on_time {
            let (value, previous) = last_values;
            if let Some(r) = book.returns.last_mut() {
                *r = value * kept / previous - 1.0;
            }
        } else if held.is_some() {
            cost_on_first_day = kept;
        }
        let mut previous = 1.0;
        for u in t + 1..=(t + holding).min(last) {
            let value = value_on(panel, (t, &targets), u);
            let after_cost = if u == t + 1 {
                value * cost_on_first_day
            } else {
                value
            };
            book.dates.push(panel.dates()[u]);
            book.returns.push(after_cost / previous - 1.0);
            last_values = (after_cost, previous);
            previous = value;
        }
        held = Some((t, targets));
    }
    if !book.returns.is_empty() {
        #[expect(clippy::cast_precision_loss, reason = "day counts are small")]
        let years = book.returns.len() as f64 / DAYS_PER_YEAR;
        book.turnover = turnover / years;
    }
    Ok(book)
}

/// The value on day `u` of one unit invested on day `entry` in `positions` (the rest in cash).
fn value_on(panel: &PricePanel, (entry, positions): (usize, &[(usize, f64)]), u: usize) -> f64 {
    let carried = panel.carried();
    let invested: f64 = positions.iter().map(|&(_, w)| w).sum();
    let held: f64 = positions
        .iter()
        .map(|&(i, w)| w * carried[[u, i]] / panel.price(entry, i))
        .sum();
    (1.0 - invested) + held
}

/// The backtest book of `model` on `panel` (the model's universe, in its order) over `window`:
/// its daily returns net of its cost, from the first rebalance.
///
/// # Errors
/// The engine's, for a window too short for the lookback or parameters out of range.
pub fn backtest_book(panel: &PricePanel, model: &Model, window: Window) -> Result<Book, ScanError> {
    let run = backtest(panel, &model.params, window)?;
    Ok(Book {
        version: model.version().unwrap_or_default().to_owned(),
        params: Some(model.params),
        dates: panel.dates()[run.t0 + 1..=window.end].to_vec(),
        returns: run.returns(),
        turnover: run.metrics.turnover,
    })
}

/// The two books' returns on the days both have one, in date order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Paired {
    /// The common days.
    pub dates: Vec<NaiveDate>,
    /// The champion's returns on them.
    pub champion: Vec<f64>,
    /// The challenger's returns on them.
    pub challenger: Vec<f64>,
}

impl Paired {
    /// The days both books have a return on (each book's dates ascend).
    pub fn of(champion: &Book, challenger: &Book) -> Self {
        let mut paired = Self::default();
        let (mut a, mut b) = (0, 0);
        while a < champion.dates.len() && b < challenger.dates.len() {
            match champion.dates[a].cmp(&challenger.dates[b]) {
                std::cmp::Ordering::Less => a += 1,
                std::cmp::Ordering::Greater => b += 1,
                std::cmp::Ordering::Equal => {
                    paired.dates.push(champion.dates[a]);
                    paired.champion.push(champion.returns[a]);
                    paired.challenger.push(challenger.returns[b]);
                    a += 1;
                    b += 1;
                }
            }
        }
        paired
    }
}

/// The share of the larger of two selections that both hold (`|A n B| / max(|A|, |B|)`);
/// `None` when neither selected anything.
pub fn picks_overlap(a: &Picks, b: &Picks) -> Option<f64> {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.selected().collect(), b.selected().collect());
    let larger = a.len().max(b.len());
    let both = a.iter().filter(|t| b.contains(t)).count();
    #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
    let share = both as f64 / larger as f64;
    (larger > 0).then_some(share)
}

/// The mean of [`picks_overlap`] over the days both models scanned in `history`; `None`
/// without such a day.
pub fn mean_overlap(history: &[Picks]) -> Option<f64> {
    let shares = history
        .iter()
        .filter(|s| s.alias == Arm::Champion)
        .filter_map(|champion| {
            let challenger = history
                .iter()
                .find(|s| s.alias == Arm::Challenger && s.as_of == champion.as_of)?;
            picks_overlap(champion, challenger)
        });
    mean(shares)
}

/// The mean of [`picks_overlap`] of what each model would have picked on each of `days` (a
/// backtest comparison's common days), each model scanning its own panel.
///
/// # Errors
/// [`crate::scan::scan`]'s, for a model whose panel is not its universe.
pub fn scanned_overlap(
    days: &[NaiveDate],
    (champion_panel, champion): (&PricePanel, &Model),
    (challenger_panel, challenger): (&PricePanel, &Model),
) -> Result<Option<f64>, ScanError> {
    let mut shares = Vec::with_capacity(days.len());
    for day in days {
        let at = |panel: &PricePanel| panel.dates().binary_search(day).ok();
        let (Some(a), Some(b)) = (at(champion_panel), at(challenger_panel)) else {
            continue;
        };
        let picks = (
            crate::scan::scan(champion_panel, a, champion)?,
            crate::scan::scan(challenger_panel, b, challenger)?,
        );
        shares.extend(picks_overlap(&picks.0, &picks.1));
    }
    Ok(mean(shares))
}

/// The mean of `values`; `None` for none.
fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values
        .into_iter()
        .fold((0.0, 0usize), |(sum, count), v| (sum + v, count + 1));
    #[expect(clippy::cast_precision_loss, reason = "day counts are small")]
    let mean = sum / count as f64;
    (count > 0).then_some(mean)
}

/// The decision for `days` common days and their comparison (`None` when it could not be
/// computed on too few days), with its reason in words; see the module docs for the rule.
pub fn decide(
    comparison: Option<&Comparison>,
    days: usize,
    settings: &AbSettings,
) -> (Decision, String) {
    let alpha = settings.alpha;
    let comparison = match comparison {
        Some(comparison) if days >= settings.min_days => comparison,
        _ => {
            return (
                Decision::Inconclusive,
                format!(
                    "{days} common days, fewer than ab.min_days = {}",
                    settings.min_days
                ),
            );
        }
    };
    let (hac, boot) = (comparison.hac.p_value, comparison.bootstrap.p_value);
    let both = hac < alpha && boot < alpha;
    let delta = comparison.delta_annualised;
    let tests = format!("HAC p = {hac:.4}, bootstrap p = {boot:.4}, alpha = {alpha}");
    if both && delta > 0.0 {
        (
            Decision::PromoteChallenger,
            format!("the challenger's Sharpe ratio is higher by {delta:.3} a year ({tests})"),
        )
    } else if both && delta < 0.0 {
        (
            Decision::KeepChampion,
            format!(
                "the champion's Sharpe ratio is higher by {:.3} a year ({tests})",
                -delta
            ),
        )
    } else {
        (
            Decision::Inconclusive,
            format!("a difference of {delta:.3} a year that the tests do not establish ({tests})"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::Pick;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, d).unwrap()
    }

    /// Six days of A, B (missing on the fifth day) and C.
    fn panel() -> PricePanel {
        let close = ndarray::array![
            [10.0, 20.0, 5.0],
            [11.0, 19.0, 5.0],
            [12.0, 18.0, 5.0],
            [12.0, 21.0, 5.0],
            [13.0, f64::NAN, 5.0],
            [14.0, 22.0, 5.0],
        ];
        let tickers = ["A", "B", "C"].map(String::from).to_vec();
        PricePanel::new((1..=6).map(day).collect(), tickers, close).unwrap()
    }

    const PARAMS: StrategyParams = StrategyParams {
        lookback: 1,
        skip: 0,
        holding: 2,
        top_k: 1,
        cost_bps: 0.0,
    };

    /// A scan of `arm` on day `t` (0-based) that selects `ticker` alone.
    fn scan(arm: Arm, t: u32, ticker: &str) -> Picks {
        Picks {
            alias: arm,
            model_version: if arm == Arm::Champion { "1" } else { "2" }.into(),
            params: PARAMS,
            as_of: day(t + 1),
            // Every ticker of the universe, as a scan lists them; `ticker` the one selected.
            picks: ["A", "B", "C"]
                .into_iter()
                .map(|name| Pick {
                    rank: Some(1),
                    ticker: name.into(),
                    score: Some(0.1),
                    selected: name == ticker,
                    target_weight: if name == ticker { 1.0 } else { 0.0 },
                    last_close: None,
                })
                .collect(),
        }
    }

    /// The model registered as `arm` (version 1 the champion, 2 the challenger), with `params`.
    fn model(arm: Arm, params: StrategyParams) -> Model {
        Model {
            params,
            universe: ["A", "B", "C"].map(String::from).to_vec(),
            data_digest: None,
            stage: crate::model::Stage::Registered(crate::model::Registration {
                version: if arm == Arm::Champion { "1" } else { "2" }.into(),
                promoted_at: String::new(),
            }),
        }
    }

    #[test]
    fn a_live_book_holds_each_counted_scan_for_its_period_and_carries_missing_prices() {
        let history = [
            scan(Arm::Champion, 0, "A"),
            scan(Arm::Challenger, 0, "A"),
            // Within the first holding period: not counted.
            scan(Arm::Champion, 1, "C"),
            scan(Arm::Champion, 2, "B"),
            scan(Arm::Challenger, 2, "C"),
            scan(Arm::Champion, 4, "A"),
        ];
        let book = live_book(
            &panel(),
            &history,
            (Arm::Champion, &model(Arm::Champion, PARAMS)),
        )
        .unwrap();
        assert_eq!((book.version.as_str(), book.params), ("1", Some(PARAMS)));
        assert_eq!(book.dates, (2..=6).map(day).collect::<Vec<_>>());
        // A from 10: 11, 12. B from 18: 21, then 21 carried over the missing day. A from 13: 14.
        let want = [
            11.0 / 10.0 - 1.0,
            (12.0 / 10.0) / (11.0 / 10.0) - 1.0,
            21.0 / 18.0 - 1.0,
            0.0,
            14.0 / 13.0 - 1.0,
        ];
        for (got, want) in book.returns.iter().zip(want) {
            assert!((got - want).abs() < 1e-15, "{got} vs {want}");
        }
        assert_eq!(book.returns.len(), 5);
        // Turnover: 1 (buy A), 2 (A out, B in), 2 (B out, A in) over 5 days, annualised.
        assert!((book.turnover - 5.0 / (5.0 / 252.0)).abs() < 1e-9);
        // The first period's returns compound to the monitor's basket return, 12 / 10 - 1.
        let period: f64 = book.returns[..2].iter().map(|r| 1.0 + r).product();
        assert!((period - 1.2).abs() < 1e-15);

        // The challenger holds A, then C from day 3 to the end of its period.
        let shadow = live_book(
            &panel(),
            &history,
            (Arm::Challenger, &model(Arm::Challenger, PARAMS)),
        )
        .unwrap();
        assert_eq!(shadow.dates, (2..=5).map(day).collect::<Vec<_>>());
        assert_eq!(shadow.returns[2..], [0.0, 0.0]);
        let paired = Paired::of(&book, &shadow);
        assert_eq!(paired.dates, (2..=5).map(day).collect::<Vec<_>>());
        assert_eq!(paired.champion, book.returns[..4]);
        // On day 1 both selected A, on day 3 B against C.
        assert_eq!(mean_overlap(&history), Some(0.5));
    }

    #[test]
    fn a_live_book_pays_each_trade_on_its_day_or_on_the_first_day_after_a_missed_scan() {
        // 10 bps a unit traded. The book's value day by day as the spec's equity curve: from
        // the first purchase's post-trade value, each later trade's cost taken from the value
        // of its day.
        // The history records no cost (a scan does not trade): the model's is taken.
        let costly = model(
            Arm::Champion,
            StrategyParams {
                cost_bps: 10.0,
                ..PARAMS
            },
        );
        let returns =
            |values: &[f64]| -> Vec<f64> { values.windows(2).map(|v| v[1] / v[0] - 1.0).collect() };
        let close_to = |got: &[f64], want: &[f64]| {
            assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-14, "{got:?} vs {want:?}");
            }
        };
        let annualised = |units: f64, days: f64| units / (days / 252.0);
        // A on day 0 (bought: turnover 1), a scan inside A's period (not counted: no trade),
        // B on day 2 (A out, B in: 2), A on day 4 (2): each on time.
        let history = [
            scan(Arm::Champion, 0, "A"),
            scan(Arm::Champion, 1, "C"),
            scan(Arm::Champion, 2, "B"),
            scan(Arm::Champion, 4, "A"),
        ];
        let book = live_book(&panel(), &history, (Arm::Champion, &costly)).unwrap();
        assert_eq!(book.dates, (2..=6).map(day).collect::<Vec<_>>());
        let v0 = 1.0 - 0.001;
        let (v1, v2) = (v0 * 11.0 / 10.0, v0 * 12.0 / 10.0 * (1.0 - 0.002));
        // B from 18: 21, then 21 carried over its missing day, when A is bought again.
        let (v3, v4) = (v2 * 21.0 / 18.0, v2 * 21.0 / 18.0 * (1.0 - 0.002));
        let v5 = v4 * 14.0 / 13.0;
        close_to(&book.returns, &returns(&[v0, v1, v2, v3, v4, v5]));
        assert!((book.turnover - annualised(5.0, 5.0)).abs() < 1e-9);

        // B on day 3, a day after A's period ended (the scan of day 2 was missed): A was held
        // through day 3, which has no return, so selling it and buying B (2 units) is paid from
        // day 4's.
        let history = [scan(Arm::Champion, 0, "A"), scan(Arm::Champion, 3, "B")];
        let book = live_book(&panel(), &history, (Arm::Champion, &costly)).unwrap();
        assert_eq!(book.dates, [day(2), day(3), day(5), day(6)]);
        let first = returns(&[v0, v0 * 11.0 / 10.0, v0 * 12.0 / 10.0]);
        let second = returns(&[1.0, 0.998 * 21.0 / 21.0, 0.998 * 22.0 / 21.0]);
        close_to(&book.returns, &[first, second].concat());
        assert!((book.turnover - annualised(3.0, 4.0)).abs() < 1e-9);

        // A scan that picks nothing sells A on time (1 unit) and holds cash.
        let mut cash = scan(Arm::Champion, 2, "A");
        cash.picks.clear();
        let history = [scan(Arm::Champion, 0, "A"), cash];
        let book = live_book(&panel(), &history, (Arm::Champion, &costly)).unwrap();
        let v2 = v0 * 12.0 / 10.0 * (1.0 - 0.001);
        close_to(&book.returns, &returns(&[v0, v1, v2, v2, v2]));
        assert!((book.turnover - annualised(2.0, 4.0)).abs() < 1e-9);

        // Holding one day, a scan every day: day 1's return pays day 1's trade.
        let mut history = [scan(Arm::Champion, 0, "A"), scan(Arm::Champion, 1, "B")];
        for picks in &mut history {
            picks.params.holding = 1;
        }
        let daily = StrategyParams {
            holding: 1,
            ..costly.params
        };
        let book = live_book(
            &panel(),
            &history,
            (Arm::Champion, &model(Arm::Champion, daily)),
        )
        .unwrap();
        assert_eq!(book.dates, [day(2), day(3)]);
        let (a, b) = (
            v0 * 11.0 / 10.0 * 0.998,
            v0 * 11.0 / 10.0 * 0.998 * 18.0 / 19.0,
        );
        close_to(&book.returns, &returns(&[v0, a, b]));
        assert!((book.turnover - annualised(3.0, 2.0)).abs() < 1e-9);
    }

    #[test]
    fn each_period_of_a_live_book_compounds_to_the_monitors_basket_return() {
        let history = [
            scan(Arm::Champion, 0, "A"),
            scan(Arm::Champion, 2, "B"),
            scan(Arm::Champion, 4, "A"),
        ];
        let settings = crate::monitor::MonitorSettings {
            recent_days: 2,
            ..Default::default()
        };
        let report = crate::monitor::monitor(
            &panel(),
            &history,
            &settings,
            (0.5, Window::full(panel().n_days())),
        )
        .unwrap();
        let book = live_book(
            &panel(),
            &history,
            (Arm::Champion, &model(Arm::Champion, PARAMS)),
        )
        .unwrap();
        // The monitor counts complete periods only: days 1 to 3 and 3 to 5.
        assert_eq!(report.live.len(), 2);
        for period in &report.live {
            let compounded: f64 = book
                .dates
                .iter()
                .zip(&book.returns)
                .filter(|(day, _)| **day > period.as_of && **day <= period.exit)
                .map(|(_, r)| 1.0 + r)
                .product();
            let basket = period.basket_return;
            assert!(
                (compounded - 1.0 - basket).abs() < 1e-15,
                "{compounded} vs {basket}"
            );
        }
    }

    #[test]
    fn a_book_needs_scans_and_priced_picks() {
        let champion_only = [scan(Arm::Champion, 0, "A")];
        let challenger = model(Arm::Challenger, PARAMS);
        assert!(matches!(
            live_book(&panel(), &champion_only, (Arm::Challenger, &challenger)),
            Err(ScanError::NoArmHistory {
                arm: Arm::Challenger,
                ..
            })
        ));
        // Scans of an earlier champion (version 1) are not the record of the one now (3).
        let mut now = model(Arm::Champion, PARAMS);
        now.stage = crate::model::Stage::Registered(crate::model::Registration {
            version: "3".into(),
            promoted_at: String::new(),
        });
        let err = live_book(&panel(), &champion_only, (Arm::Champion, &now)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the picks history has no scan of the champion (version 3) yet: `momentum scan` \
             records one for each model in params.yaml (production and challenger), or with \
             --from-registry for each alias (champion and challenger); or compare with --source \
             backtest"
        );
        // B has no price on day 5: it cannot be bought then.
        let unpriced = [scan(Arm::Champion, 4, "B")];
        assert!(matches!(
            live_book(&panel(), &unpriced, (Arm::Champion, &model(Arm::Champion, PARAMS))),
            Err(ScanError::MissingTicker { ticker, .. }) if ticker == "B"
        ));
        assert_eq!(mean_overlap(&champion_only), None);
    }

    /// A book of `returns` on consecutive days.
    fn book(arm: Arm, returns: Vec<f64>) -> Book {
        let start = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        Book {
            version: arm.as_str().into(),
            params: None,
            dates: (0..returns.len() as u64)
                .map(|d| start + chrono::Days::new(d))
                .collect(),
            returns,
            turnover: f64::NAN,
        }
    }

    /// Deterministic noise in about [-0.01, 0.01].
    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.02
            })
            .collect()
    }

    #[test]
    fn the_decision_needs_enough_days_and_both_tests() {
        let settings = AbSettings {
            reps: 499,
            ..AbSettings::default()
        };
        let base = noise(300, 1);
        let better: Vec<f64> = base.iter().map(|r| r + 0.003).collect();
        let decided = |champion: &[f64], challenger: &[f64], settings: &AbSettings| {
            let books = (
                book(Arm::Champion, champion.to_vec()),
                book(Arm::Challenger, challenger.to_vec()),
            );
            AbReport::of("returns", (&books.0, &books.1), None, settings).unwrap()
        };
        let report = decided(&base, &better, &settings);
        assert_eq!(
            report.decision,
            Decision::PromoteChallenger,
            "{}",
            report.reason
        );
        let comparison = report.comparison.as_ref().unwrap();
        assert!(comparison.hac.p_value < 0.05 && comparison.bootstrap.p_value < 0.05);
        assert_eq!(report.days_compared, 300);
        assert_eq!(
            decided(&better, &base, &settings).decision,
            Decision::KeepChampion
        );
        // Two unrelated series with the same mean: no established difference.
        let other = noise(300, 2);
        let report = decided(&base, &other, &settings);
        assert_eq!(report.decision, Decision::Inconclusive, "{}", report.reason);
        assert!(report.reason.contains("do not establish"));
        // Too few days: inconclusive whatever the numbers.
        let strict = AbSettings {
            min_days: 301,
            ..settings
        };
        let report = decided(&base, &better, &strict);
        assert_eq!(report.decision, Decision::Inconclusive);
        assert_eq!(
            report.reason,
            "300 common days, fewer than ab.min_days = 301"
        );
        // The same books: nothing to test, nothing to act on (not an error).
        let report = decided(&base, &base, &settings);
        assert_eq!(report.decision, Decision::Inconclusive);
        assert!(report.comparison.is_none());
        assert_eq!(
            report.reason,
            "the two books have the same return on each of the 300 common days: no difference \
             to test"
        );
        // A constant series on enough days is an error that says so.
        let flat = vec![0.001; 300];
        let books = (book(Arm::Champion, flat), book(Arm::Challenger, better));
        let err = AbReport::of("returns", (&books.0, &books.1), None, &settings).unwrap_err();
        assert!(err.to_string().contains("champion"), "{err}");
        let bad = AbSettings {
            alpha: 1.0,
            ..settings
        };
        assert!(matches!(
            bad.validate(),
            Err(ScanError::InvalidSetting {
                name: "ab.alpha",
                ..
            })
        ));
    }
}
