//! The one simulation loop behind [`crate::backtest`], [`crate::baseline`] and the grid.
//!
//! One call simulates a whole *family* of portfolio sizes `K` that share a rank table, a
//! holding period and a window: their rebalance days and rank order are the same, and the top
//! `K` of a day is a prefix of its ranked row. Between rebalances (day `t`, selection
//! `sel_0, sel_1, ...` best first, post-trade value `v`) the value of size `K` on day `u` is
//!
//! ```text
//! V_u(K) = (v / m) * S_m(u),   S_m(u) = sum_{j < m} P[u, sel_j] * (1 / P[t, sel_j])
//! ```
//!
//! with `m = min(K, eligible)` and the sum in rank order, so one pass over the held tickers'
//! prices gives every `K` its value (the prefix sums of the rank order), and nothing is divided
//! per day. A plain backtest is the same code with a family of one `K`, so the grid and
//! [`crate::backtest`] agree bit for bit.
//!
//! Monomorphised twice over: `BLOCKS` turns on the CSCV block sums, and the [`Recorder`]
//! keeps the equity curve and trade log (of the first `K`) only when a caller asks for them,
//! so the grid's hot loop is the same code with the recording compiled out.

use crate::metrics::Acc;
use crate::select::RankTable;

/// Where the tickers to hold on a rebalance day come from.
pub(crate) trait Selection {
    /// The selected tickers of day `t`, at most `k`, best first.
    fn top(&self, t: usize, k: usize) -> &[u32];
    /// `1 / P[t, i]` of the `j`-th ticker `i` of `top(t, k)`; `row` is the closes of day `t`.
    fn inverse(&self, t: usize, j: usize, i: usize, row: &[f64]) -> f64;
}

impl Selection for RankTable {
    #[inline]
    fn top(&self, t: usize, k: usize) -> &[u32] {
        RankTable::top(self, t, k)
    }

    #[inline]
    fn inverse(&self, t: usize, j: usize, _i: usize, _row: &[f64]) -> f64 {
        // Precomputed with the ranks (the same division, so the same value).
        self.inverse_at(t, j)
    }
}

/// The baseline's one purchase: every ticker with a usable price on day `t0`.
pub(crate) struct BuyAll(pub(crate) Vec<u32>);

impl Selection for BuyAll {
    fn top(&self, _t: usize, _k: usize) -> &[u32] {
        &self.0
    }

    fn inverse(&self, _t: usize, _j: usize, i: usize, row: &[f64]) -> f64 {
        1.0 / row[i]
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

/// The state of one portfolio size `K` of a family.
#[derive(Debug, Clone, Copy, Default)]
struct Member {
    /// `K`.
    k: usize,
    /// Tickers held: a prefix of [`Scratch::held`].
    m: usize,
    /// Post-trade value over the number held, `v / m` (the scale of `S_m`).
    c: f64,
    /// The value while nothing is held.
    cash: f64,
    /// `S_m` on the last day of the period just valued.
    s_last: f64,
    /// The value before the next trade.
    v_pre: f64,
}

/// Per-worker buffers, reused across runs: nothing is allocated inside the day loop.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    /// The held tickers (the longest prefix of the family), best first.
    held: Vec<u32>,
    /// `1 / P[t, held_j]` at the last rebalance `t`.
    inv: Vec<f64>,
    /// `P[next, held_j] / P[t, held_j]` on a rebalance day `next`.
    x: Vec<f64>,
    /// Pre-trade weights of one member, after a 0 for "not held".
    wp: Vec<f64>,
    /// 1 + new position of each held ticker, then 1 + held position of each new one.
    cross: Vec<u32>,
    /// Per ticker: 1 + its position in `held` (0 when not held).
    pos_old: Vec<u32>,
    /// Per ticker: 1 + its position in the new ranked row (0 when not in it).
    pos_new: Vec<u32>,
    /// Running prefix sums `S_j(u)` over one holding period.
    sum: Vec<f64>,
    /// The values of each member over one holding period, `days` per member.
    vals: Vec<f64>,
    members: Vec<Member>,
    days: usize,
}

impl Scratch {
    pub(crate) fn new(n: usize, days: usize) -> Self {
        Self {
            held: Vec::with_capacity(n),
            inv: Vec::with_capacity(n),
            x: Vec::with_capacity(n),
            wp: Vec::with_capacity(n + 1),
            cross: Vec::with_capacity(2 * n),
            pos_old: vec![0; n],
            pos_new: vec![0; n],
            sum: vec![0.0; days],
            vals: Vec::new(),
            members: Vec::new(),
            days,
        }
    }
}

/// One run of every size in `ks` (at least one), as the spec's "Simulation" section: the first
/// rebalance on `t0`, then every `holding` days while `< end`; values every day `t0..=end` into
/// `accs[q]` for `ks[q]` (and into `rec` for `ks[0]`). `sel.top(t, k)` must be the first
/// `min(k, eligible)` of one ranked row for every `k <= max(ks)`.
#[expect(clippy::too_many_arguments, reason = "the hot loop takes plain values")]
#[inline]
pub(crate) fn simulate<const BLOCKS: bool, S: Selection, R: Recorder>(
    rows: &[f64],
    by_ticker: &[f64],
    n: usize,
    sel: &S,
    holding: usize,
    ks: &[usize],
    cost_bps: f64,
    t0: usize,
    end: usize,
    accs: &mut [Acc],
    rec: &mut R,
    s: &mut Scratch,
) {
    debug_assert!(!ks.is_empty() && accs.len() >= ks.len());
    let cost = cost_bps / 1e4;
    let days = by_ticker.len() / n.max(1);
    let kmax = ks.iter().copied().max().unwrap_or(1);
    let span = s.days;
    if s.vals.len() < ks.len() * span {
        s.vals.resize(ks.len() * span, 0.0);
    }
    s.members.clear();
    s.members.extend(ks.iter().map(|&k| Member {
        k,
        cash: 1.0,
        v_pre: 1.0,
        ..Member::default()
    }));
    s.held.clear();
    s.inv.clear();
    rebalance(
        &rows[t0 * n..t0 * n + n],
        (by_ticker, days),
        t0,
        (sel, kmax),
        cost,
        accs,
        rec,
        s,
    );
    for (q, mb) in s.members.iter().enumerate() {
        let v0 = mb.v_pre;
        accs[q].start(v0);
        if q == 0 {
            rec.value(v0);
        }
    }
    let mut t = t0;
    loop {
        let next = t + holding;
        let rebalancing = next < end;
        let last = if rebalancing { next } else { end };
        // Days t+1..=last (the last one is the rebalance day when rebalancing).
        let len = last - t;
        let Scratch {
            held,
            inv,
            sum,
            vals,
            members,
            ..
        } = s;
        let sum = &mut sum[..len];
        sum.fill(0.0);
        for (q, mb) in members.iter_mut().enumerate() {
            if mb.m == 0 {
                vals[q * span..q * span + len].fill(mb.cash);
            }
        }
        for (j, (&i, &r)) in held.iter().zip(inv.iter()).enumerate() {
            // One held ticker over the whole period: contiguous prices, no dependency between
            // days (vectorisable); the per-day sums run in rank order.
            let from = i as usize * days + t + 1;
            for (acc, &p) in sum.iter_mut().zip(&by_ticker[from..from + len]) {
                *acc += p * r;
            }
            for (q, mb) in members.iter_mut().enumerate() {
                if mb.m == j + 1 {
                    let c = mb.c;
                    for (v, &x) in vals[q * span..q * span + len].iter_mut().zip(sum.iter()) {
                        *v = c * x;
                    }
                    mb.s_last = sum[len - 1];
                }
            }
        }
        for (q, mb) in members.iter_mut().enumerate() {
            mb.v_pre = vals[q * span + len - 1];
        }
        if rebalancing {
            rebalance(
                &rows[next * n..next * n + n],
                (by_ticker, days),
                next,
                (sel, kmax),
                cost,
                accs,
                rec,
                s,
            );
            for (q, mb) in s.members.iter().enumerate() {
                s.vals[q * span + len - 1] = mb.v_pre;
            }
        }
        for (q, acc) in accs[..ks.len()].iter_mut().enumerate() {
            let pushed = &s.vals[q * span..q * span + len];
            acc.push_values::<BLOCKS>(t + 1, pushed);
            if q == 0 {
                for &v in pushed {
                    rec.value(v);
                }
            }
        }
        if !rebalancing {
            break;
        }
        t = next;
    }
}

/// Trades every member at the close of day `t` from its `v_pre` to equal weights in its prefix
/// of `new` (spec rules 4, 6 and 8); leaves the post-trade value in `v_pre`.
#[expect(clippy::too_many_arguments, reason = "the hot loop takes plain values")]
#[inline]
fn rebalance<S: Selection, R: Recorder>(
    row: &[f64],
    col: (&[f64], usize),
    t: usize,
    (sel, kmax): (&S, usize),
    cost: f64,
    accs: &mut [Acc],
    rec: &mut R,
    s: &mut Scratch,
) {
    let (by_ticker, days) = col;
    let new = sel.top(t, kmax);
    let Scratch {
        held,
        inv,
        x,
        wp,
        pos_old,
        pos_new,
        members,
        cross: s_cross,
        ..
    } = s;
    let (held, new_len) = (&held[..], new.len());
    // x[1 + j]: drift of held position j since the last rebalance (the columns are hot);
    // x[0] = 0 stands for "not held".
    x.clear();
    x.push(0.0);
    x.extend(
        held.iter()
            .zip(inv.iter())
            .map(|(&i, &r)| by_ticker[i as usize * days + t] * r),
    );
    // Cross positions, once for every member: old_at[a] = 1 + old position of new[a] (0 when
    // not held), new_at[j] = 1 + new position of held[j] (0 when not in the new row).
    #[expect(clippy::cast_possible_truncation, reason = "ticker counts fit u32")]
    {
        for (a, &i) in new.iter().enumerate() {
            pos_new[i as usize] = a as u32 + 1;
        }
        for (j, &i) in held.iter().enumerate() {
            pos_old[i as usize] = j as u32 + 1;
        }
    }
    let (h_len, cross) = (held.len(), s_cross);
    cross.clear();
    cross.extend(held.iter().map(|&i| pos_new[i as usize]));
    cross.extend(new.iter().map(|&i| pos_old[i as usize]));
    let (new_at, old_at) = cross.split_at(h_len);
    for (q, mb) in members.iter_mut().enumerate() {
        let m_old = mb.m;
        let m_new = mb.k.min(new_len);
        #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
        let w = if m_new == 0 { 0.0 } else { 1.0 / m_new as f64 };
        let v_pre = mb.v_pre;
        // Pre-trade weight of held position j: V_j / V = x_j / S_m (one reciprocal per member).
        let inv_s = if m_old > 0 && v_pre > 0.0 {
            1.0 / mb.s_last
        } else {
            0.0
        };
        // wp[1 + j]: pre-trade weight of held position j < m_old; wp[0] = 0 for "not held".
        wp.clear();
        wp.push(0.0);
        wp.extend(x[1..=m_old].iter().map(|&x| x * inv_s));
        wp.resize(h_len + 1, 0.0);
        let wp = &wp[..=h_len];
        // Exits and kept/entered tickers in two sums (two short dependency chains). The
        // loops run over the whole shared rows with masks instead of this member's prefixes,
        // so their trip counts are the same for every member (predictable), and membership
        // is a select, not a branch; a masked-out term adds +0.0, which changes no sum.
        let (mut t_exit, mut t_new) = (0.0, 0.0);
        let mut trades = 0u64;
        for (j, (&a, &p)) in new_at.iter().zip(&wp[1..]).enumerate() {
            let exit = (j < m_old) & ((a as usize).wrapping_sub(1) >= m_new);
            t_exit += if exit { p.abs() } else { 0.0 };
            trades += u64::from(exit & (p > 0.0));
            if q == 0 && exit {
                let i = held[j] as usize;
                rec.trade(t, i, p, 0.0, by_ticker[i * days + t]);
            }
        }
        for (a, &j) in old_at.iter().enumerate() {
            let j = j as usize;
            let p = wp[if j <= m_old { j } else { 0 }];
            let enter = a < m_new;
            t_new += if enter { (w - p).abs() } else { 0.0 };
            trades += u64::from(enter & (p == 0.0));
            if q == 0 && enter {
                let i = new[a] as usize;
                rec.trade(t, i, p, w, row[i]);
            }
        }
        let turnover = if m_old == 0 && m_new > 0 {
            // All pre-trade weights are 0: the spec's turnover is exactly 1.0.
            1.0
        } else {
            t_exit + t_new
        };
        let v_post = v_pre * (1.0 - cost * turnover);
        accs[q].turnover += turnover;
        accs[q].trades += trades;
        mb.m = m_new;
        mb.c = v_post * w;
        mb.cash = if m_new == 0 { v_post } else { 0.0 };
        mb.v_pre = v_post;
    }
    for &i in held {
        pos_old[i as usize] = 0;
    }
    for &i in new {
        pos_new[i as usize] = 0;
    }
    let keep = s.members.iter().map(|mb| mb.m).max().unwrap_or(0);
    s.held.clear();
    s.inv.clear();
    for (j, &i) in new[..keep].iter().enumerate() {
        s.held.push(i);
        s.inv.push(sel.inverse(t, j, i as usize, row));
    }
}
