//! The spec's performance metrics (risk-free rate 0, 252 trading days a year).

use serde::{Deserialize, Serialize};

use crate::sim::Blocks;

/// Trading days per year used for every annualisation.
pub const DAYS_PER_YEAR: f64 = 252.0;

/// The metrics of one run over one window, with exactly the spec's names.
///
/// `n` below is the number of daily returns, `end - t0`; `r` the daily returns
/// `r_u = V_u / V_(u-1) - 1`, `u = t0+1..=end`; `V` the equity curve from day `t0` (post-trade).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    /// `V_end - 1`.
    pub total_roi: f64,
    /// `V_end^(252/n) - 1`; `-1` when `V_end <= 0`.
    pub cagr: f64,
    /// `std(r, ddof=1) * sqrt(252)`; 0 when `n < 2`.
    pub volatility: f64,
    /// `mean(r) / std(r, ddof=1) * sqrt(252)`; 0 when the std is 0 or `n < 2`.
    pub sharpe: f64,
    /// `mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(252)`; 0 when the denominator is 0.
    pub sortino: f64,
    /// `max_u (1 - V_u / max_(s<=u) V_s)` over the curve from day `t0`; in `[0, 1]`.
    pub max_drawdown: f64,
    /// `cagr / max_drawdown`; 0 when `max_drawdown` is 0.
    pub calmar: f64,
    /// Entries plus exits over all rebalances (the final liquidation is not counted).
    pub num_trades: u64,
    /// Sum of rebalance turnovers divided by `n / 252` (annualised).
    pub turnover: f64,
}

/// How far below the drawdown record a day's bound must stay to skip its division: far above
/// the few units of 2^-52 by which the bound and the day's drawdown can round apart.
const MARGIN: f64 = 1e-12;

/// The state and sums of one run over one window, period by period: what the metrics need,
/// and the CSCV block sums of `r` and `r^2` when the window has blocks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Run {
    /// Daily returns in the window, `end - t0`.
    n: usize,
    /// `[sum r, sum r^2, sum min(r, 0)^2]`.
    sums: [f64; 3],
    /// The post-trade value at the start of the current period; `V_end` once the run is over.
    pub(crate) v: f64,
    /// The running maximum of the curve.
    pub(crate) peak: f64,
    max_dd: f64,
    /// `1 - max_dd + MARGIN`: a value above `peak * floor` cannot raise the drawdown.
    floor: f64,
    pub(crate) turnover: f64,
    pub(crate) trades: u64,
    /// `[sum r, sum r^2]` per CSCV block.
    pub(crate) blocks: Vec<[f64; 2]>,
}

impl Run {
    /// Starts a run of `n` daily returns from the post-trade value `v0` of its first day,
    /// after a first trade of `turnover` and `trades` entries.
    pub(crate) fn begin(
        &mut self,
        n: usize,
        v0: f64,
        turnover: f64,
        trades: u64,
        blocks: Option<Blocks>,
    ) {
        let mut kept = std::mem::take(&mut self.blocks);
        kept.clear();
        kept.resize(blocks.map_or(0, |b| b.count), [0.0; 2]);
        *self = Self {
            n,
            sums: [0.0; 3],
            v: v0,
            peak: v0,
            max_dd: 0.0,
            floor: 1.0 + MARGIN,
            turnover,
            trades,
            blocks: kept,
        };
    }

    /// Adds the sums `[r, r^2, min(r, 0)^2]` of some days' returns.
    #[inline]
    pub(crate) fn add(&mut self, sums: [f64; 3]) {
        for (total, x) in self.sums.iter_mut().zip(sums) {
            *total += x;
        }
    }

    /// The drawdown of a period of positive values `a * S` for `S` in `curve` (from the
    /// period's start: its days are `1..len - 1`), then `last` on its last day: the
    /// spec's running maximum, exactly. `low` and `high` are the lowest and highest value,
    /// `drop` the largest fall of a value below the highest one before it. A day whose running
    /// peak is still the one before the period has a drawdown of at most `1 - low / peak`; a
    /// day after a value above that peak, at most `drop / peak`. The days are visited only
    /// when a bound comes within `MARGIN` of the record, and on them the division is done only
    /// for a value at or below the running peak times `floor`.
    #[inline]
    pub(crate) fn drawdown(
        &mut self,
        (low, high, drop): (f64, f64, f64),
        curve: (f64, &[f64]),
        last: f64,
    ) {
        let peak = self.peak;
        // Written so that a NaN visits the days.
        let clear = low > peak * self.floor && drop < peak * (1.0 - self.floor);
        if !clear {
            self.drawdown_days(curve, last);
        }
        self.peak = max(peak, high);
    }

    #[inline(never)]
    fn drawdown_days(&mut self, (a, curve): (f64, &[f64]), last: f64) {
        // The values are positive and finite here. Only a value at or below the running peak
        // times `floor` can raise the record (a new peak has no drawdown).
        let mut peak = self.peak;
        for &c in &curve[1..curve.len() - 1] {
            let v = a * c;
            peak = max(peak, v);
            if v <= peak * self.floor {
                self.raise(1.0 - v / peak);
            }
        }
        peak = max(peak, last);
        if last <= peak * self.floor {
            self.raise(1.0 - last / peak);
        }
    }

    /// One day of the drawdown as the spec writes it, for values of any sign; a day whose
    /// drawdown is undefined (`0 / 0`, after costs of 100 %) does not count.
    pub(crate) fn day_drawdown(&mut self, v: f64) {
        self.peak = self.peak.max(v);
        self.max_dd = self.max_dd.max(1.0 - v / self.peak);
        self.floor = 1.0 - self.max_dd + MARGIN;
    }

    #[inline]
    fn raise(&mut self, dd: f64) {
        if dd > self.max_dd {
            self.max_dd = dd;
            self.floor = 1.0 - dd + MARGIN;
        }
    }

    /// Adds `[sum r, sum r^2]` of some days of CSCV block `block` (none: `NO_BLOCK`).
    #[inline]
    pub(crate) fn add_block(&mut self, block: usize, sums: [f64; 2]) {
        if let Some(b) = self.blocks.get_mut(block) {
            b[0] += sums[0];
            b[1] += sums[1];
        }
    }

    /// The metrics of the run so far.
    #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
    pub(crate) fn finish(&self) -> Metrics {
        let n = self.n as f64;
        let v_end = self.v;
        let sqrt_year = DAYS_PER_YEAR.sqrt();
        let total_roi = v_end - 1.0;
        let cagr = if v_end <= 0.0 {
            -1.0
        } else {
            v_end.powf(DAYS_PER_YEAR / n) - 1.0
        };
        let [s1, s2, sn] = self.sums;
        let mean = s1 / n;
        // A variance below 0 is rounding (0 then); a NaN one (a return of 0 / 0, after costs
        // of 100 %) stays NaN, as every metric made from it.
        let std = if self.n >= 2 {
            let variance = (s2 - s1 * mean) / (n - 1.0);
            if variance < 0.0 { 0.0 } else { variance.sqrt() }
        } else {
            0.0
        };
        let volatility = if self.n >= 2 { std * sqrt_year } else { 0.0 };
        let sharpe = if self.n >= 2 && std != 0.0 {
            mean / std * sqrt_year
        } else {
            0.0
        };
        let down = (sn / n).sqrt();
        let sortino = if down != 0.0 {
            mean / down * sqrt_year
        } else {
            0.0
        };
        let max_drawdown = self.max_dd;
        let calmar = if max_drawdown == 0.0 {
            0.0
        } else {
            cagr / max_drawdown
        };
        Metrics {
            total_roi,
            cagr,
            volatility,
            sharpe,
            sortino,
            max_drawdown,
            calmar,
            num_trades: self.trades,
            turnover: self.turnover / (n / DAYS_PER_YEAR),
        }
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
