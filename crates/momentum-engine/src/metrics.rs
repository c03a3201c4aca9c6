//! The spec's performance metrics (risk-free rate 0, 252 trading days a year).

use serde::{Deserialize, Serialize};

use crate::lanes::F64x2;

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

/// The accumulators of one run over one window: every metric's sums, the drawdown state and,
/// when asked, the CSCV block sums of `r` and `r^2`.
#[derive(Debug, Clone)]
pub(crate) struct Acc {
    n: usize,
    s1: f64,
    s2: f64,
    sn: f64,
    v_end: f64,
    max_dd: f64,
    pub(crate) turnover: f64,
    pub(crate) trades: u64,
    /// `(first_day, block_len, count)` of the CSCV blocks, when they are wanted.
    cscv: Option<(usize, usize, usize)>,
    /// `[sum r, sum r^2]` per CSCV block.
    pub(crate) blocks: Vec<[f64; 2]>,
}

/// Adds two days' returns `r` to the lanes of `[sum r, sum r^2, sum min(r, 0)^2]`.
#[inline(always)]
fn add_days(sums: &mut [F64x2; 3], r: F64x2) {
    let down = r.min(F64x2::splat(0.0));
    sums[0] = sums[0].add(r);
    sums[1] = sums[1].add(r.mul(r));
    sums[2] = sums[2].add(down.mul(down));
}

impl Acc {
    pub(crate) fn new() -> Self {
        Self {
            n: 0,
            s1: 0.0,
            s2: 0.0,
            sn: 0.0,
            v_end: 1.0,
            max_dd: 0.0,
            turnover: 0.0,
            trades: 0,
            cscv: None,
            blocks: Vec::new(),
        }
    }

    /// Resets for a run; `blocks = Some((first_day, block_len, count))` turns on block sums
    /// (`first_day` must be after the run's first day).
    pub(crate) fn reset(&mut self, blocks: Option<(usize, usize, usize)>) {
        let keep = std::mem::take(&mut self.blocks);
        *self = Self {
            blocks: keep,
            cscv: blocks,
            ..Self::new()
        };
        self.blocks.clear();
    }

    /// Takes the whole equity curve of the run: `values[j]` is `V` on day `t0 + j`, post-trade
    /// on rebalance days, `values[0]` the value after the first trade. `returns` is scratch
    /// space (it receives the daily returns).
    ///
    /// The sums run in four interleaved partial sums. The drawdown is the spec's
    /// `max_u (1 - V_u / max_(s<=u) V_s)`, exactly: the running peak is carried in both lanes,
    /// and a day can raise the maximum only when `V_u < peak * (1 - max_dd)`, which is rare,
    /// so the division is done, day by day, only in a chunk with a day within a margin of that
    /// bound (the margin is far above the rounding of the test, so no such day is missed).
    pub(crate) fn run(&mut self, t0: usize, values: &[f64], returns: &mut Vec<f64>) {
        const MARGIN: f64 = 1e-12;
        let v0 = values[0];
        let n = values.len() - 1;
        let keep_returns = self.cscv.is_some();
        if keep_returns && returns.len() < n {
            returns.resize(n, 0.0);
        }
        let (prev, cur) = (&values[..n], &values[1..]);
        // The bound test assumes positive peaks; a start value <= 0 (costs above 100 %)
        // divides every day.
        let test_bound = v0 > 0.0;
        let mut max_dd = 0.0;
        let mut peak = F64x2::splat(v0);
        let mut bound = F64x2::splat(1.0 + MARGIN);
        // Day i of the window goes to lane i % 4 ([0, 1] in `lanes_a`, [2, 3] in `lanes_b`)
        // while whole chunks of 4 days last, the rest to `tail`: consecutive days do not wait
        // on one another's additions, and the order is fixed, so the result does not depend
        // on the machine.
        let (mut lanes_a, mut lanes_b) = ([F64x2::splat(0.0); 3], [F64x2::splat(0.0); 3]);
        let mut tail = [0.0; 3];
        let one = F64x2::splat(1.0);
        let whole = n - n % 4;
        for i in (0..whole).step_by(4) {
            let (c, p) = (&cur[i..i + 4], &prev[i..i + 4]);
            let (ca, cb) = (F64x2::load(c), F64x2::load(&c[2..]));
            let ra = ca.div(F64x2::load(p)).sub(one);
            let rb = cb.div(F64x2::load(&p[2..])).sub(one);
            add_days(&mut lanes_a, ra);
            add_days(&mut lanes_b, rb);
            if keep_returns {
                ra.store(&mut returns[i..]);
                rb.store(&mut returns[i + 2..]);
            }
            // The running peak of each of the four days.
            let peak_a = ca.max(ca.lo_both()).max(peak);
            let peak_b = cb.max(cb.lo_both()).max(peak_a.hi_both());
            peak = peak_b.hi_both();
            if !test_bound || ca.any_lt(peak_a.mul(bound)) || cb.any_lt(peak_b.mul(bound)) {
                for (v, top) in [
                    (ca.lo(), peak_a.lo()),
                    (ca.hi(), peak_a.hi()),
                    (cb.lo(), peak_b.lo()),
                    (cb.hi(), peak_b.hi()),
                ] {
                    max_dd = max(max_dd, 1.0 - v / top);
                }
                bound = F64x2::splat(1.0 - max_dd + MARGIN);
            }
        }
        let mut top = peak.lo();
        for u in whole..n {
            let r = cur[u] / prev[u] - 1.0;
            if keep_returns {
                returns[u] = r;
            }
            let down = min(r, 0.0);
            tail[0] += r;
            tail[1] += r * r;
            tail[2] += down * down;
            top = max(top, cur[u]);
            max_dd = max(max_dd, 1.0 - cur[u] / top);
        }
        let total = |k: usize| (lanes_a[k].sum() + lanes_b[k].sum()) + tail[k];
        (self.s1, self.s2, self.sn) = (total(0), total(1), total(2));
        self.n = n;
        self.v_end = values[n];
        self.max_dd = max_dd;
        if let Some((first, len, count)) = self.cscv {
            debug_assert!(first > t0 && first + count * len <= t0 + n + 1);
            // returns[i] is the return of day t0 + 1 + i.
            let from = first - t0 - 1;
            self.blocks.clear();
            self.blocks.extend(
                returns[from..from + count * len]
                    .chunks_exact(len)
                    .map(block_sums),
            );
        }
    }

    /// The metrics of the run so far.
    #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
    pub(crate) fn finish(&self) -> Metrics {
        let n = self.n as f64;
        let v_end = self.v_end;
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

/// `[sum r, sum r^2]` of one CSCV block, in four interleaved partial sums.
fn block_sums(r: &[f64]) -> [f64; 2] {
    let zero = F64x2::splat(0.0);
    let (mut s1a, mut s1b, mut s2a, mut s2b) = (zero, zero, zero, zero);
    let mut chunks = r.chunks_exact(4);
    for c in &mut chunks {
        let (a, b) = (F64x2::load(c), F64x2::load(&c[2..]));
        (s1a, s1b) = (s1a.add(a), s1b.add(b));
        (s2a, s2b) = (s2a.add(a.mul(a)), s2b.add(b.mul(b)));
    }
    let (mut t1, mut t2) = (0.0, 0.0);
    for &x in chunks.remainder() {
        t1 += x;
        t2 += x * x;
    }
    [(s1a.sum() + s1b.sum()) + t1, (s2a.sum() + s2b.sum()) + t2]
}

/// `min` as one instruction (`f64::min` also handles NaN, which a value never is here), the
/// same as [`F64x2::min`].
#[inline(always)]
fn min(a: f64, b: f64) -> f64 {
    if a < b { a } else { b }
}

/// `max` as one instruction, the same as [`F64x2::max`].
#[inline(always)]
fn max(a: f64, b: f64) -> f64 {
    if a > b { a } else { b }
}
