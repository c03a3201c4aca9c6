//! The spec's performance metrics (risk-free rate 0, 252 trading days a year).

use serde::{Deserialize, Serialize};

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

/// Streaming accumulators of one run: every metric is fused into the day loop, and optionally
/// the per-block sums of `r` and `r^2` that CSCV needs.
#[derive(Debug, Clone)]
pub(crate) struct Acc {
    n: usize,
    s1: f64,
    s2: f64,
    sn: f64,
    v_prev: f64,
    peak: f64,
    trough: f64,
    max_dd: f64,
    pub(crate) turnover: f64,
    pub(crate) trades: u64,
    slot: usize,
    next_boundary: usize,
    block_len: usize,
    /// `[sum r, sum r^2]` per slot; slot 0 collects the days before the first block.
    pub(crate) blocks: Vec<[f64; 2]>,
}

impl Acc {
    pub(crate) fn new() -> Self {
        Self {
            n: 0,
            s1: 0.0,
            s2: 0.0,
            sn: 0.0,
            v_prev: 1.0,
            peak: 1.0,
            trough: 1.0,
            max_dd: 0.0,
            turnover: 0.0,
            trades: 0,
            slot: 0,
            next_boundary: usize::MAX,
            block_len: 0,
            blocks: vec![[0.0; 2]],
        }
    }

    /// Resets for a run; `blocks = Some((first_day, block_len, count))` turns on block sums.
    pub(crate) fn reset(&mut self, blocks: Option<(usize, usize, usize)>) {
        let keep = std::mem::take(&mut self.blocks);
        *self = Self {
            blocks: keep,
            ..Self::new()
        };
        self.blocks.clear();
        match blocks {
            Some((first, len, count)) => {
                self.next_boundary = first;
                self.block_len = len;
                self.blocks.resize(count + 1, [0.0; 2]);
            }
            None => self.blocks.push([0.0; 2]),
        }
    }

    /// The value on day `t0`, after the first trade.
    #[inline]
    pub(crate) fn start(&mut self, v0: f64) {
        self.v_prev = v0;
        self.peak = v0;
        self.trough = v0;
    }

    /// Pushes `values`, the values of days `from, from+1, ...` (post-trade on a rebalance
    /// day), into the accumulators. The state lives in locals for the whole slice, and the
    /// slice is cut at CSCV block boundaries so the block sums are locals too; every sum runs
    /// in day order either way, so the result does not depend on how days are grouped.
    #[inline(always)]
    pub(crate) fn push_values<const BLOCKS: bool>(&mut self, from: usize, values: &[f64]) {
        let end = from + values.len();
        let mut u = from;
        let mut rest = values;
        while u < end {
            let mut stop = end;
            if BLOCKS {
                if u == self.next_boundary {
                    self.slot += 1;
                    self.next_boundary += self.block_len;
                }
                stop = stop.min(self.next_boundary);
            }
            let (chunk, tail) = rest.split_at(stop - u);
            rest = tail;
            let (mut v_prev, mut s1, mut s2, mut sn) = (self.v_prev, self.s1, self.s2, self.sn);
            let (mut peak, mut trough, mut max_dd) = (self.peak, self.trough, self.max_dd);
            let [mut b1, mut b2] = if BLOCKS {
                self.blocks[self.slot]
            } else {
                [0.0; 2]
            };
            for &v in chunk {
                let r = v / v_prev - 1.0;
                v_prev = v;
                s1 += r;
                s2 += r * r;
                let m = r.min(0.0);
                sn += m * m;
                if BLOCKS {
                    b1 += r;
                    b2 += r * r;
                }
                // Drawdown: under one peak p, max(1 - v/p) = 1 - min(v)/p exactly (division
                // by p > 0 and 1 - x are monotone in IEEE arithmetic), so divide only when a
                // new peak closes the run (rare, predictable); the trough is a branch-free min.
                if v > peak {
                    let dd = 1.0 - trough / peak;
                    if dd > max_dd {
                        max_dd = dd;
                    }
                    peak = v;
                    trough = v;
                } else {
                    trough = if v < trough { v } else { trough };
                }
            }
            (self.v_prev, self.s1, self.s2, self.sn) = (v_prev, s1, s2, sn);
            (self.peak, self.trough, self.max_dd) = (peak, trough, max_dd);
            if BLOCKS {
                self.blocks[self.slot] = [b1, b2];
            }
            self.n += chunk.len();
            u = stop;
        }
    }

    /// The metrics of the run so far.
    #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
    pub(crate) fn finish(&self) -> Metrics {
        let n = self.n as f64;
        let v_end = self.v_prev;
        let sqrt_year = DAYS_PER_YEAR.sqrt();
        let total_roi = v_end - 1.0;
        let cagr = if v_end <= 0.0 {
            -1.0
        } else {
            v_end.powf(DAYS_PER_YEAR / n) - 1.0
        };
        let mean = self.s1 / n;
        let std = if self.n >= 2 {
            ((self.s2 - self.s1 * mean) / (n - 1.0)).max(0.0).sqrt()
        } else {
            0.0
        };
        let volatility = if self.n >= 2 { std * sqrt_year } else { 0.0 };
        let sharpe = if self.n >= 2 && std > 0.0 {
            mean / std * sqrt_year
        } else {
            0.0
        };
        let down = (self.sn / n).sqrt();
        let sortino = if down > 0.0 {
            mean / down * sqrt_year
        } else {
            0.0
        };
        let last = 1.0 - self.trough / self.peak;
        let max_drawdown = if last > self.max_dd {
            last
        } else {
            self.max_dd
        };
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
