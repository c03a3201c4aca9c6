//! The spec's performance metrics (risk-free rate 0, 252 trading days a year).

use serde::{Deserialize, Serialize};

use crate::lanes::{F64x2, Mask2};

/// Trading days per year used for every annualisation.
pub const DAYS_PER_YEAR: f64 = 252.0;

/// The metrics of one run over one window, with exactly the spec's names. In JSON a metric
/// that could not be computed (NaN) is `null`, and `null` reads back as NaN.
///
/// `n` below is the number of daily returns, `end - t0`; `r` the daily returns
/// `r_u = V_u / V_(u-1) - 1`, `u = t0+1..=end`; `V` the equity curve from day `t0` (post-trade).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    /// `V_end - 1`.
    #[serde(deserialize_with = "crate::experiment::nan_if_null")]
    pub total_roi: f64,
    /// `V_end^(252/n) - 1`; `-1` when `V_end <= 0`.
    #[serde(deserialize_with = "crate::experiment::nan_if_null")]
    pub cagr: f64,
    /// `std(r, ddof=1) * sqrt(252)`; 0 when `n < 2`.
    #[serde(deserialize_with = "crate::experiment::nan_if_null")]
    pub volatility: f64,
    /// `mean(r) / std(r, ddof=1) * sqrt(252)`; 0 when the std is 0 or `n < 2`.
    #[serde(deserialize_with = "crate::experiment::nan_if_null")]
    pub sharpe: f64,
    /// `mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(252)`; 0 when the denominator is 0.
    #[serde(deserialize_with = "crate::experiment::nan_if_null")]
    pub sortino: f64,
    /// `max_u (1 - V_u / max_(s<=u) V_s)` over the curve from day `t0`; in `[0, 1]`.
    #[serde(deserialize_with = "crate::experiment::nan_if_null")]
    pub max_drawdown: f64,
    /// `cagr / max_drawdown`; 0 when `max_drawdown` is 0.
    #[serde(deserialize_with = "crate::experiment::nan_if_null")]
    pub calmar: f64,
    /// Entries plus exits over all rebalances (the final liquidation is not counted).
    pub num_trades: u64,
    /// Sum of rebalance turnovers divided by `n / 252` (annualised).
    #[serde(deserialize_with = "crate::experiment::nan_if_null")]
    pub turnover: f64,
}

impl Metrics {
    /// The metrics' names, in the order of [`Metrics::values`] (and of `grid.csv`'s columns).
    pub const NAMES: [&'static str; 9] = [
        "total_roi",
        "cagr",
        "volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
        "num_trades",
        "turnover",
    ];

    /// The metrics of `values` in the order of [`Metrics::NAMES`], as [`Metrics::values`] gives
    /// them (`num_trades` back from its float: 0 when it is not finite).
    ///
    /// ```
    /// use momentum_engine::Metrics;
    /// let m = Metrics { sharpe: 1.5, num_trades: 12, ..Metrics::default() };
    /// assert_eq!(Metrics::from_values(m.values()), m);
    /// ```
    pub fn from_values(values: [f64; 9]) -> Self {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a count of trades, written from a u64 below 2^53"
        )]
        let num_trades = if values[7].is_finite() {
            values[7] as u64
        } else {
            0
        };
        Self {
            total_roi: values[0],
            cagr: values[1],
            volatility: values[2],
            sharpe: values[3],
            sortino: values[4],
            max_drawdown: values[5],
            calmar: values[6],
            num_trades,
            turnover: values[8],
        }
    }

    /// Every metric in the order of [`Metrics::NAMES`] (`num_trades` as a float, exact far
    /// beyond any count of trades).
    #[expect(
        clippy::cast_precision_loss,
        reason = "trade counts are far below 2^52"
    )]
    pub fn values(&self) -> [f64; 9] {
        [
            self.total_roi,
            self.cagr,
            self.volatility,
            self.sharpe,
            self.sortino,
            self.max_drawdown,
            self.calmar,
            self.num_trades as f64,
            self.turnover,
        ]
    }
}

/// How far below the drawdown record a day's bound must stay to skip its division: far above
/// the few units of 2^-52 by which the bound and the day's drawdown can round apart.
const MARGIN: f64 = 1e-12;

/// The state and sums of two runs over one window, one per lane (two sizes of one holding
/// period), period by period: what the metrics need. The simulation updates both lanes with
/// one instruction per value; a lane is a run of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunPair {
    /// `[sum r, sum r^2, sum min(r, 0)^2]`.
    pub(crate) sums: [F64x2; 3],
    /// The post-trade value at the start of the current period; `V_end` once the run is over.
    pub(crate) v: F64x2,
    /// The running maximum of the curve.
    pub(crate) peak: F64x2,
    /// `1 - max_dd + MARGIN`: a value above `peak * floor` cannot raise the drawdown.
    pub(crate) floor: F64x2,
    max_dd: F64x2,
    pub(crate) turnover: F64x2,
    /// Entries plus exits, counted in `f64` (exact far beyond any count of trades).
    pub(crate) trades: F64x2,
}

impl RunPair {
    /// Two runs from their post-trade values `v0` on their first day, after first trades of
    /// `turnover` and `trades` entries.
    pub(crate) fn start(v0: F64x2, turnover: F64x2, trades: F64x2) -> Self {
        let zero = F64x2::splat(0.0);
        Self {
            sums: [zero; 3],
            v: v0,
            peak: v0,
            floor: F64x2::splat(1.0 + MARGIN),
            max_dd: zero,
            turnover,
            trades,
        }
    }

    /// Adds the sums `[r, r^2, min(r, 0)^2]` of a day's return to lane `w`.
    pub(crate) fn add(&mut self, w: usize, sums: [f64; 3]) {
        for (total, x) in self.sums.iter_mut().zip(sums) {
            *total = total.with_lane(w, total.lane(w) + x);
        }
    }

    /// The days of a period of lane `w` with positive values `a * S` for `S` in `curve`
    /// (from the period's start: its days are `1..len - 1`), then `last` on its last day,
    /// when bounds from the period's lowest value and largest fall could not rule out a new
    /// drawdown record: the spec's running maximum, day by day, with the division only for a
    /// value at or below the running peak times `floor`. The peak itself is the caller's.
    #[inline(never)]
    pub(crate) fn drawdown_days(&mut self, w: usize, (a, curve): (f64, &[f64]), last: f64) {
        // The values are positive and finite here. Only a value at or below the running peak
        // times `floor` can raise the record (a new peak has no drawdown).
        let (mut peak, mut floor, mut max_dd) =
            (self.peak.lane(w), self.floor.lane(w), self.max_dd.lane(w));
        let mut day = |v: f64| {
            peak = max(peak, v);
            if v <= peak * floor {
                let dd = 1.0 - v / peak;
                if dd > max_dd {
                    max_dd = dd;
                    floor = 1.0 - dd + MARGIN;
                }
            }
        };
        for &c in &curve[1..curve.len() - 1] {
            day(a * c);
        }
        day(last);
        self.floor = self.floor.with_lane(w, floor);
        self.max_dd = self.max_dd.with_lane(w, max_dd);
    }

    /// The drawdown of the lanes in `below`, whose period's values (`a * S` with `a > 0`, so
    /// never below 0) stay at or below the run's peak: every day's running maximum is that
    /// peak, so the deepest day is the lowest, `low`, and `1 - low / peak` is the new record
    /// when above the old one. The same bits as [`Self::drawdown_days`] finds day by day
    /// (`a * S` is monotone in `S`).
    #[inline]
    pub(crate) fn drawdown_below_peak(&mut self, low: F64x2, below: Mask2) {
        let one = F64x2::splat(1.0);
        let dd = one.sub(low.div(self.peak));
        let record = dd.gt(self.max_dd).and(below);
        self.max_dd = dd.select(record, self.max_dd);
        self.floor = one
            .sub(dd)
            .add(F64x2::splat(MARGIN))
            .select(record, self.floor);
    }

    /// One day of the drawdown of lane `w` as the spec writes it, for values of any sign; a
    /// day whose drawdown is undefined (`0 / 0`, after costs of 100 %) does not count.
    pub(crate) fn day_drawdown(&mut self, w: usize, v: f64) {
        let peak = self.peak.lane(w).max(v);
        let max_dd = self.max_dd.lane(w).max(1.0 - v / peak);
        self.peak = self.peak.with_lane(w, peak);
        self.max_dd = self.max_dd.with_lane(w, max_dd);
        self.floor = self.floor.with_lane(w, 1.0 - max_dd + MARGIN);
    }

    /// The metrics of lane `w` over `n` daily returns.
    #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
    fn finish(&self, w: usize, n: usize) -> Metrics {
        let days = n as f64;
        let v_end = self.v.lane(w);
        let sqrt_year = DAYS_PER_YEAR.sqrt();
        let total_roi = v_end - 1.0;
        let cagr = cagr(v_end, days);
        let [s1, s2, sn] = self.sums.map(|s| s.lane(w));
        let mean = s1 / days;
        // A variance below 0 is rounding (0 then); a NaN one (a return of 0 / 0, after costs
        // of 100 %) stays NaN, as every metric made from it.
        let std = if n >= 2 {
            let variance = (s2 - s1 * mean) / (days - 1.0);
            if variance < 0.0 { 0.0 } else { variance.sqrt() }
        } else {
            0.0
        };
        let volatility = if n >= 2 { std * sqrt_year } else { 0.0 };
        let sharpe = if n >= 2 && std != 0.0 {
            mean / std * sqrt_year
        } else {
            0.0
        };
        let sortino = sortino_of_sums(s1, sn, days);
        let max_drawdown = self.max_dd.lane(w);
        let calmar = calmar(cagr, max_drawdown);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a count of trades, a whole number far below 2^53"
        )]
        let num_trades = self.trades.lane(w) as u64;
        Metrics {
            total_roi,
            cagr,
            volatility,
            sharpe,
            sortino,
            max_drawdown,
            calmar,
            num_trades,
            turnover: self.turnover.lane(w) / (days / DAYS_PER_YEAR),
        }
    }
}

/// The runs of one simulation (every holding period and size of a rank table over one
/// window), two sizes to a [`RunPair`], and their CSCV block sums of `r` and `r^2` when the
/// window has blocks. With an odd number of sizes, the last pair's second lane repeats its
/// first (nothing reads it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Runs {
    /// Daily returns in the window, `end - t0`.
    n: usize,
    pairs_per_holding: usize,
    pub(crate) pairs: Vec<RunPair>,
    block_count: usize,
    /// `[sum r, sum r^2]` of block `b` of pair `j` at `j * block_count + b`.
    blocks: Vec<[F64x2; 2]>,
}

impl Runs {
    /// Starts `holdings` holding periods, each from the same pairs `first` (their state after
    /// the first rebalance), every run of `n` daily returns, with `blocks` CSCV blocks (sums 0).
    pub(crate) fn reset(
        &mut self,
        (holdings, first): (usize, &[RunPair]),
        n: usize,
        blocks: usize,
    ) {
        self.n = n;
        self.pairs_per_holding = first.len();
        self.pairs.clear();
        for _ in 0..holdings {
            self.pairs.extend_from_slice(first);
        }
        self.block_count = blocks;
        self.blocks.clear();
        self.blocks
            .resize(self.pairs.len() * blocks, [F64x2::splat(0.0); 2]);
    }

    /// The pair and lane of size `q` of holding period `p`.
    #[inline]
    pub(crate) fn at(&self, p: usize, q: usize) -> (usize, usize) {
        (p * self.pairs_per_holding + q / 2, q % 2)
    }

    /// The pairs of holding period `p`, their block sums (pair by pair, block by block), and
    /// the number of blocks.
    #[inline]
    pub(crate) fn holding_mut(&mut self, p: usize) -> (&mut [RunPair], &mut [[F64x2; 2]], usize) {
        let (per, count) = (self.pairs_per_holding, self.block_count);
        let pairs = &mut self.pairs[p * per..(p + 1) * per];
        let blocks = &mut self.blocks[p * per * count..(p + 1) * per * count];
        (pairs, blocks, count)
    }

    /// The metrics of lane `w` of pair `j`.
    pub(crate) fn finish(&self, (j, w): (usize, usize)) -> Metrics {
        self.pairs[j].finish(w, self.n)
    }

    /// The `[sum r, sum r^2]` of every CSCV block of lane `w` of pair `j`, block by block.
    pub(crate) fn blocks_of(&self, (j, w): (usize, usize)) -> impl Iterator<Item = [f64; 2]> + '_ {
        self.blocks[j * self.block_count..(j + 1) * self.block_count]
            .iter()
            .map(move |[r, r2]| [r.lane(w), r2.lane(w)])
    }
}

/// `min` as one instruction (`f64::min` also handles NaN, which the callers do not need).
#[inline(always)]
pub(crate) fn min(a: f64, b: f64) -> f64 {
    if a < b { a } else { b }
}

/// `max` as one instruction.
#[inline(always)]
pub(crate) fn max(a: f64, b: f64) -> f64 {
    if a > b { a } else { b }
}

/// The spec's metrics of an equity curve (post-trade values, one a day, the first on the first
/// rebalance, relative to 1.0 before it) with `trades` entries and exits and a sum of
/// rebalance turnovers `turnover_sum`: what [`crate::backtest()`] reports, for a curve made
/// some other way (the stitched walk-forward curve).
pub(crate) fn curve_metrics(curve: &[f64], turnover_sum: f64, trades: u64) -> Metrics {
    let Some((&first, rest)) = curve.split_first() else {
        return Metrics::default();
    };
    #[expect(
        clippy::cast_precision_loss,
        reason = "a count of trades far below 2^52"
    )]
    let mut run = RunPair::start(
        F64x2::splat(first),
        F64x2::splat(turnover_sum),
        F64x2::splat(trades as f64),
    );
    let mut previous = first;
    for &v in rest {
        let r = v / previous - 1.0;
        run.add(0, [r, r * r, r.min(0.0).powi(2)]);
        run.day_drawdown(0, v);
        previous = v;
    }
    run.v = F64x2::splat(previous);
    run.finish(0, rest.len())
}

/// The spec's `cagr` of a curve from 1 to `v_end` over `days` returns: -1 for a curve that
/// ended at or below 0.
pub(crate) fn cagr(v_end: f64, days: f64) -> f64 {
    if v_end <= 0.0 {
        -1.0
    } else {
        v_end.powf(DAYS_PER_YEAR / days) - 1.0
    }
}

/// The spec's `sortino` of `days` returns from their sum `s1` and the sum `sn` of their
/// squared losses (`min(r, 0)^2`): `mean(r) / sqrt(mean(min(r, 0)^2))`, annualised; 0 when no
/// return is below 0.
pub(crate) fn sortino_of_sums(s1: f64, sn: f64, days: f64) -> f64 {
    let mean = s1 / days;
    let down = (sn / days).sqrt();
    if down != 0.0 {
        mean / down * DAYS_PER_YEAR.sqrt()
    } else {
        0.0
    }
}

/// The spec's `calmar`: `cagr / max_drawdown`, 0 without a drawdown.
pub(crate) fn calmar(cagr: f64, max_drawdown: f64) -> f64 {
    if max_drawdown == 0.0 {
        0.0
    } else {
        cagr / max_drawdown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A period that stays at or below the run's peak: the record from its lowest value equals
    /// the record found day by day, bit for bit.
    #[test]
    fn a_period_below_the_peak_needs_no_visit_of_its_days() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            #[expect(clippy::cast_precision_loss, reason = "test noise")]
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            u
        };
        let mut records = 0;
        for _ in 0..5000 {
            let peak = 0.5 + next();
            let mut run = RunPair::start(F64x2::splat(peak), F64x2::splat(0.0), F64x2::splat(0.0));
            let before = 0.4 * next();
            run.max_dd = F64x2::splat(before);
            run.floor = F64x2::splat(1.0 - before + MARGIN);
            // `S` over the period and its scale `a`: every value `a * S` at most the peak.
            let a = 0.1 + next();
            let days = 1 + (next() * 30.0) as usize;
            let curve: Vec<f64> = (0..=days)
                .map(|_| peak / a * (1.0 - 0.4 * next() * next()))
                .collect();
            let last = peak * (1.0 - 0.4 * next());
            let values = || curve[1..days].iter().map(|&c| a * c).chain([last]);
            // Rounding can put `a * S` an ulp above the peak; the simulation checks, so does this.
            if values().any(|v| v > peak) {
                continue;
            }
            let low = values().fold(f64::INFINITY, |low, v| if v < low { v } else { low });
            let mut by_days = run;
            by_days.drawdown_days(0, (a, &curve), last);
            run.drawdown_below_peak(F64x2::splat(low), F64x2::splat(1.0).gt(F64x2::splat(0.0)));
            records += usize::from(by_days.max_dd.lo() > before);
            assert_eq!(run.max_dd.lo().to_bits(), by_days.max_dd.lo().to_bits());
            assert_eq!(run.floor.lo().to_bits(), by_days.floor.lo().to_bits());
        }
        // Both outcomes occur: new records and periods that leave the record alone.
        assert!(records > 250 && records < 4950, "{records} records");
    }
}
