//! The one simulation loop behind [`crate::backtest`], [`crate::baseline`] and the grid.
//!
//! Monomorphised twice over: `BLOCKS` turns on the CSCV block sums, and the [`Recorder`]
//! keeps the equity curve and trade log only when a caller asks for them, so the grid's hot
//! loop is the same code with the recording compiled out.

use crate::metrics::Acc;
use crate::select::RankTable;

/// Where the tickers to hold on a rebalance day come from.
pub(crate) trait Selection {
    /// The selected tickers of day `t`, at most `k`, best first.
    fn top(&self, t: usize, k: usize) -> &[u32];
}

impl Selection for RankTable {
    #[inline]
    fn top(&self, t: usize, k: usize) -> &[u32] {
        RankTable::top(self, t, k)
    }
}

/// The baseline's one purchase: every ticker with a usable price on day `t0`.
pub(crate) struct BuyAll(pub(crate) Vec<u32>);

impl Selection for BuyAll {
    fn top(&self, _t: usize, _k: usize) -> &[u32] {
        &self.0
    }
}

/// Receives the curve and trades of a recorded run.
pub(crate) trait Recorder {
    /// The value of the next day, `t0..=end` in order.
    fn value(&mut self, v: f64);
    /// One ticker traded on rebalance day `t`.
    fn trade(&mut self, t: usize, ticker: usize, before: f64, after: f64, price: f64);
}

/// Records nothing (the grid).
pub(crate) struct NoRecord;

impl Recorder for NoRecord {
    #[inline(always)]
    fn value(&mut self, _v: f64) {}
    #[inline(always)]
    fn trade(&mut self, _t: usize, _ticker: usize, _before: f64, _after: f64, _price: f64) {}
}

/// Per-worker buffers, reused across runs: nothing is allocated inside the day loop.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    pre: Vec<f64>,
    mark: Vec<bool>,
    idx: Vec<usize>,
    units: Vec<f64>,
    vals: Vec<f64>,
}

impl Scratch {
    pub(crate) fn new(n: usize, days: usize) -> Self {
        Self {
            pre: vec![0.0; n],
            mark: vec![false; n],
            idx: Vec::with_capacity(n),
            units: Vec::with_capacity(n),
            vals: vec![0.0; days],
        }
    }
}

/// One run, as the spec's "Simulation" section: the first rebalance on `t0`, then every
/// `holding` days while `< end`; values every day `t0..=end` into `acc` (and `rec`).
#[expect(clippy::too_many_arguments, reason = "the hot loop takes plain values")]
#[inline]
pub(crate) fn simulate<const BLOCKS: bool, S: Selection, R: Recorder>(
    rows: &[f64],
    by_ticker: &[f64],
    n: usize,
    sel: &S,
    holding: usize,
    top_k: usize,
    cost_bps: f64,
    t0: usize,
    end: usize,
    acc: &mut Acc,
    rec: &mut R,
    s: &mut Scratch,
) {
    let cost = cost_bps / 1e4;
    let days = by_ticker.len() / n.max(1);
    s.idx.clear();
    s.units.clear();
    let mut cash = 1.0;
    let v0 = rebalance(
        &rows[t0 * n..t0 * n + n],
        (by_ticker, days),
        t0,
        1.0,
        sel.top(t0, top_k),
        cost,
        &mut cash,
        acc,
        rec,
        s,
    );
    acc.start(v0);
    rec.value(v0);
    let mut t = t0;
    loop {
        let next = t + holding;
        let last_plain = if next < end { next - 1 } else { end };
        // The values of days t+1..=last_plain, then (when `next < end`) of the rebalance day.
        let len = last_plain - t;
        if s.idx.is_empty() {
            s.vals[..len].fill(cash);
        } else {
            // Value the whole holding period first, one ticker at a time over contiguous
            // prices (vectorisable, no dependency between days). Per day the sum runs over the
            // holdings in selection order, as on the rebalance day below.
            let vals = &mut s.vals[..len];
            vals.fill(0.0);
            for (&i, &q) in s.idx.iter().zip(&s.units) {
                let col = &by_ticker[i * days + t + 1..=i * days + last_plain];
                for (v, &p) in vals.iter_mut().zip(col) {
                    *v += q * p;
                }
            }
        }
        let rebalancing = next < end;
        if rebalancing {
            let v_pre = if s.idx.is_empty() {
                cash
            } else {
                // The held tickers' columns were just streamed: day `next` is hot.
                let mut v = 0.0;
                for (&i, &q) in s.idx.iter().zip(&s.units) {
                    v += q * by_ticker[i * days + next];
                }
                v
            };
            let v = rebalance(
                &rows[next * n..next * n + n],
                (by_ticker, days),
                next,
                v_pre,
                sel.top(next, top_k),
                cost,
                &mut cash,
                acc,
                rec,
                s,
            );
            s.vals[len] = v;
        }
        let pushed = &s.vals[..len + usize::from(rebalancing)];
        acc.push_values::<BLOCKS>(t + 1, pushed);
        for &v in pushed {
            rec.value(v);
        }
        if !rebalancing {
            break;
        }
        t = next;
    }
}

/// Trades at the close of day `t` from value `v_pre` to equal weights in `sel`; returns the
/// post-trade value (spec rules 4, 6 and 8).
#[expect(clippy::too_many_arguments, reason = "the hot loop takes plain values")]
#[inline]
fn rebalance<R: Recorder>(
    row: &[f64],
    held: (&[f64], usize),
    t: usize,
    v_pre: f64,
    sel: &[u32],
    cost: f64,
    cash: &mut f64,
    acc: &mut Acc,
    rec: &mut R,
    s: &mut Scratch,
) -> f64 {
    let price = |i: usize| row[i];
    // The held tickers' columns are hot (the holding period was just valued from them).
    let held_price = |i: usize| held.0[i * held.1 + t];
    let was_empty = s.idx.is_empty();
    let inv_v_pre = if v_pre > 0.0 { 1.0 / v_pre } else { 0.0 };
    for (&i, &q) in s.idx.iter().zip(&s.units) {
        // Weights only feed turnover (costs): one reciprocal instead of K divisions.
        s.pre[i] = q * held_price(i) * inv_v_pre;
    }
    for &i in sel {
        s.mark[i as usize] = true;
    }
    #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
    let w = if sel.is_empty() {
        0.0
    } else {
        1.0 / sel.len() as f64
    };
    let mut turnover = 0.0;
    let mut trades = 0u64;
    for &i in &s.idx {
        if !s.mark[i] {
            let p = s.pre[i];
            turnover += p.abs();
            trades += u64::from(p > 0.0);
            rec.trade(t, i, p, 0.0, held_price(i));
        }
    }
    for &i in sel {
        let i = i as usize;
        let p = s.pre[i];
        turnover += (w - p).abs();
        trades += u64::from(p == 0.0);
        rec.trade(t, i, p, w, price(i));
    }
    if was_empty && !sel.is_empty() {
        // All pre-trade weights are 0: the spec's turnover is exactly 1.0.
        turnover = 1.0;
    }
    for &i in &s.idx {
        s.pre[i] = 0.0;
    }
    for &i in sel {
        s.mark[i as usize] = false;
    }
    let v_post = v_pre * (1.0 - cost * turnover);
    acc.turnover += turnover;
    acc.trades += trades;
    s.idx.clear();
    s.units.clear();
    for &i in sel {
        let i = i as usize;
        s.idx.push(i);
        s.units.push(v_post * w / held_price(i));
    }
    *cash = if sel.is_empty() { v_post } else { 0.0 };
    v_post
}
