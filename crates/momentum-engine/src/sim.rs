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
//! Monomorphised over the [`Recorder`], which keeps the equity curve and trade log (of the
//! first `K`) only when a caller asks for them, so the grid's hot loop is the same code with
//! the recording compiled out.

use crate::metrics::Acc;
use crate::select::RankTable;

/// Where the tickers to hold on a rebalance day come from.
pub(crate) trait Selection {
    /// The selected tickers of day `t`, at most `k`, best first, and `1 / P[t, i]` of each.
    fn top(&self, t: usize, k: usize) -> (&[u32], &[f64]);
}

impl Selection for RankTable {
    #[inline]
    fn top(&self, t: usize, k: usize) -> (&[u32], &[f64]) {
        self.top_with_inverse(t, k)
    }
}

/// The baseline's one purchase: every ticker with a usable price on its day.
pub(crate) struct BuyAll {
    tickers: Vec<u32>,
    inverse: Vec<f64>,
}

impl BuyAll {
    /// Every ticker with a finite, positive price in `row`.
    pub(crate) fn new(row: &[f64]) -> Self {
        #[expect(clippy::cast_possible_truncation, reason = "ticker counts fit u32")]
        let tickers: Vec<u32> = (0..row.len())
            .filter(|&i| momentum_features::is_valid(row[i]))
            .map(|i| i as u32)
            .collect();
        let inverse = tickers.iter().map(|&i| 1.0 / row[i as usize]).collect();
        Self { tickers, inverse }
    }
}

impl Selection for BuyAll {
    fn top(&self, _t: usize, k: usize) -> (&[u32], &[f64]) {
        let m = k.min(self.tickers.len());
        (&self.tickers[..m], &self.inverse[..m])
    }
}

/// Receives the curve and trades of a recorded run.
pub(crate) trait Recorder {
    /// Whether anything is recorded: the grid's simulation compiles the recording out.
    const ACTIVE: bool;
    /// The equity curve, `t0..=end`.
    fn curve(&mut self, values: &[f64]);
    /// One ticker traded on rebalance day `t`.
    fn trade(&mut self, t: usize, ticker: usize, before: f64, after: f64, price: f64);
}

/// Records nothing (the grid).
pub(crate) struct NoRecord;

impl Recorder for NoRecord {
    const ACTIVE: bool = false;
    #[inline(always)]
    fn curve(&mut self, _values: &[f64]) {}
    #[inline(always)]
    fn trade(&mut self, _t: usize, _ticker: usize, _before: f64, _after: f64, _price: f64) {}
}

/// The state of one portfolio size `K` of a family.
#[derive(Debug, Clone, Copy, Default)]
struct Member {
    /// `K`.
    k: usize,
    /// Tickers held: a prefix of the ranked row of [`Scratch::held_day`].
    m: usize,
    /// Post-trade value over the number held, `v / m` (the scale of `S_m`).
    c: f64,
    /// The value while nothing is held.
    cash: f64,
}

/// Per-worker buffers, reused across runs: nothing is allocated inside the day loop.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    /// The day of the last rebalance, whose ranked row is held (`None` before the first).
    held_day: Option<usize>,
    /// `held_j * days`: where the column of each held ticker starts.
    cols: Vec<usize>,
    /// `P[next, held_j] / P[t, held_j]` on a rebalance day `next`.
    x: Vec<f64>,
    /// `S_j` on a rebalance day: the sums of the first `j` drifts, in rank order.
    prefix: Vec<f64>,
    /// Per held position: 1 + its position in the new ranked row (0 when not in it).
    new_at: Vec<u32>,
    /// Per ticker: 1 + its position in a row, 0 otherwise (all 0 between rebalances).
    pos: Vec<u32>,
    /// The equity curve of each member over the window, `span` days per member.
    vals: Vec<f64>,
    /// The daily returns of one member (for the CSCV block sums).
    returns: Vec<f64>,
    members: Vec<Member>,
    /// Member indices by increasing `K` (so by increasing number held).
    order: Vec<usize>,
    /// `1 / m` for `m` held (0 for none): the target weight.
    targets: Vec<f64>,
}

impl Scratch {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            held_day: None,
            cols: vec![0; n],
            x: vec![0.0; n],
            prefix: vec![0.0; n + 1],
            new_at: vec![0; n],
            pos: vec![0; n],
            vals: Vec::new(),
            returns: Vec::new(),
            members: Vec::new(),
            order: Vec::new(),
            targets: Vec::new(),
        }
    }
}

/// One run of every size in `ks` (at least one), as the spec's "Simulation" section: the first
/// rebalance on `t0 < end`, then every `holding` days while `< end`; the metrics of `ks[q]`
/// into `accs[q]`, the curve and trades of `ks[0]` into `rec`. `sel.top(t, k)` must be the
/// first `min(k, eligible)` of one ranked row for every `k <= max(ks)`.
///
/// The whole curve of every member is built first (period by period: a rebalance, then the
/// days it holds), then each curve goes through the metrics in one pass.
#[expect(clippy::too_many_arguments, reason = "the hot loop takes plain values")]
#[inline]
pub(crate) fn simulate<S: Selection, R: Recorder>(
    rows: &[f64],
    by_ticker: &[f64],
    n: usize,
    sel: &S,
    holding: usize,
    ks: &[usize],
    cost_bps: f64,
    (t0, end): (usize, usize),
    accs: &mut [Acc],
    rec: &mut R,
    s: &mut Scratch,
) {
    debug_assert!(!ks.is_empty() && accs.len() >= ks.len() && t0 < end);
    let cost = cost_bps / 1e4;
    let days = by_ticker.len() / n.max(1);
    let kmax = ks.iter().copied().max().unwrap_or(1);
    let span = end - t0 + 1;
    if s.vals.len() < ks.len() * span {
        s.vals.resize(ks.len() * span, 0.0);
    }
    s.members.clear();
    s.members.extend(ks.iter().map(|&k| Member {
        k,
        cash: 1.0,
        ..Member::default()
    }));
    s.order.clear();
    s.order.extend(0..ks.len());
    s.order.sort_by_key(|&q| ks[q]);
    s.targets.clear();
    #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
    s.targets
        .extend((0..=kmax.min(n)).map(|m| if m == 0 { 0.0 } else { 1.0 / m as f64 }));
    s.held_day = None;
    let window = Curve { t0, span };
    let mut t = t0;
    loop {
        rebalance(
            (rows, by_ticker),
            (n, days),
            t,
            (sel, kmax),
            cost,
            window,
            accs,
            rec,
            s,
        );
        let next = t.saturating_add(holding);
        let rebalancing = next < end;
        // The days held after t; a rebalance day's value is the post-trade one, which
        // `rebalance` writes.
        let last = if rebalancing { next - 1 } else { end };
        if last > t {
            value_period(by_ticker, (t + 1, last), window, sel.top(t, kmax).1, s);
        }
        if !rebalancing {
            break;
        }
        t = next;
    }
    for (q, acc) in accs[..ks.len()].iter_mut().enumerate() {
        acc.run(t0, &s.vals[q * span..(q + 1) * span], &mut s.returns);
    }
    rec.curve(&s.vals[..span]);
}

/// Where the window's curves live in [`Scratch::vals`]: day `u` of member `q` at
/// `q * span + u - t0`.
#[derive(Debug, Clone, Copy)]
struct Curve {
    t0: usize,
    span: usize,
}

/// Days `from..=to` of a holding period: `V_u = c * S_m(u)` for every member, `S` summed in rank
/// order one column after the other, a chunk of days at a time. `inv` are the held tickers'
/// `1 / P[t, i]`.
#[inline]
fn value_period(
    by_ticker: &[f64],
    (from, to): (usize, usize),
    w: Curve,
    inv: &[f64],
    s: &mut Scratch,
) {
    let len = to - from + 1;
    for (q, mb) in s.members.iter().enumerate() {
        if mb.m == 0 {
            let at = q * w.span + from - w.t0;
            s.vals[at..at + len].fill(mb.cash);
        }
    }
    // `cols` were set for the held row at its rebalance.
    let cols = (&s.cols[..inv.len()], inv);
    let family = (&s.order[..], &s.members[..]);
    let vals = &mut s.vals[..];
    // Whole chunks, then one chunk ending on `to` that overlaps the last one (shorter periods:
    // two overlapping chunks): a day's value depends on nothing but its own prices, so the
    // overlap writes the same values again instead of leaving days to a scalar loop.
    if len >= 8 {
        let mut u = from;
        while u + 8 <= to + 1 {
            value_days::<8>(by_ticker, cols, u, w, family, vals);
            u += 8;
        }
        if u <= to {
            value_days::<8>(by_ticker, cols, to - 7, w, family, vals);
        }
    } else if len >= 4 {
        value_days::<4>(by_ticker, cols, from, w, family, vals);
        value_days::<4>(by_ticker, cols, to - 3, w, family, vals);
    } else if len >= 2 {
        value_days::<2>(by_ticker, cols, from, w, family, vals);
        value_days::<2>(by_ticker, cols, to - 1, w, family, vals);
    } else {
        value_days::<1>(by_ticker, cols, from, w, family, vals);
    }
}

/// `W` consecutive days from `day` of [`value_period`]: the running sum over the held columns
/// stays in registers, and each member takes it when its prefix is complete.
#[inline(always)]
fn value_days<const W: usize>(
    by_ticker: &[f64],
    (cols, inv): (&[usize], &[f64]),
    day: usize,
    w: Curve,
    (order, members): (&[usize], &[Member]),
    vals: &mut [f64],
) {
    let mut acc = [0.0f64; W];
    let mut j = 0;
    for &q in order {
        let mb = members[q];
        while j < mb.m {
            let Some(col) = by_ticker[cols[j] + day..].first_chunk::<W>() else {
                unreachable!("the window ends inside the panel")
            };
            let r = inv[j];
            for l in 0..W {
                acc[l] += col[l] * r;
            }
            j += 1;
        }
        if mb.m > 0 {
            let at = q * w.span + day - w.t0;
            let Some(out) = vals[at..].first_chunk_mut::<W>() else {
                unreachable!("the curves hold the window")
            };
            for l in 0..W {
                out[l] = mb.c * acc[l];
            }
        }
    }
}

/// Trades every member at the close of day `t` from its drifted holdings to equal weights in
/// its prefix of the new ranked row (spec rules 4, 6 and 8), and writes the post-trade values.
#[expect(clippy::too_many_arguments, reason = "the hot loop takes plain values")]
#[inline]
fn rebalance<S: Selection, R: Recorder>(
    (rows, by_ticker): (&[f64], &[f64]),
    (n, days): (usize, usize),
    t: usize,
    (sel, kmax): (&S, usize),
    cost: f64,
    w: Curve,
    accs: &mut [Acc],
    rec: &mut R,
    s: &mut Scratch,
) {
    let row = &rows[t * n..(t + 1) * n];
    let (new, _) = sel.top(t, kmax);
    let (held, inv) = s.held_day.map_or((&[][..], &[][..]), |d| sel.top(d, kmax));
    let Scratch {
        cols,
        x,
        prefix,
        new_at,
        pos,
        vals,
        members,
        targets,
        ..
    } = s;
    let (x, new_at) = (&mut x[..held.len()], &mut new_at[..held.len()]);
    // Drift of each held position since the last rebalance, and the prefix sums S_j of day t
    // exactly as `value_days` sums them (from 0.0, in rank order).
    // The prices come from the columns, which the period's valuation has just read up to
    // t - 1 (the row of day t is usually far from the cache).
    let mut sum = 0.0;
    prefix[0] = 0.0;
    for (((d, p), &col), &r) in x
        .iter_mut()
        .zip(&mut prefix[1..])
        .zip(&cols[..held.len()])
        .zip(inv)
    {
        *d = by_ticker[col + t] * r;
        sum += *d;
        *p = sum;
    }
    new_positions(held, new, pos, new_at);
    let drifts_positive = x.iter().fold(true, |all, &d| all & (d > 0.0));
    for (q, mb) in members.iter_mut().enumerate() {
        let m_old = mb.m;
        let m_new = mb.k.min(new.len());
        let target = targets[m_new];
        let v_pre = if m_old == 0 {
            mb.cash
        } else {
            mb.c * prefix[m_old]
        };
        // Pre-trade weight of held position j: V_j / V = x_j / S_m (one reciprocal).
        let inv_s = if m_old > 0 && v_pre > 0.0 {
            1.0 / prefix[m_old]
        } else {
            0.0
        };
        let is_kept = |a: u32| (a as usize).wrapping_sub(1) < m_new;
        let mut turnover = 0.0;
        let mut kept_count = 0;
        for (&a, &drift) in new_at[..m_old].iter().zip(&x[..m_old]) {
            let before = drift * inv_s;
            let kept = is_kept(a);
            // |target - w| when kept, |0 - w| = |w| when dropped, without a branch.
            let goal = target * f64::from(u8::from(kept));
            turnover += (goal - before).abs();
            kept_count += usize::from(kept);
        }
        // The new tickers of the prefix that were not held: weight 0 -> target each.
        let entries = m_new - kept_count;
        #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
        if m_old == 0 {
            // All pre-trade weights are 0: the spec's turnover is exactly 1.0.
            turnover = if m_new > 0 { 1.0 } else { 0.0 };
        } else {
            turnover += target * entries as f64;
        }
        // A dropped position is an exit only with a weight > 0, and a kept one with weight 0
        // is an entry. Every weight is > 0 unless a held price or the value is 0 (or below),
        // and then the counts are the exits and entries as counted.
        let mut trades = (m_old - kept_count + entries) as u64;
        if !(drifts_positive && inv_s > 0.0) {
            trades = entries as u64;
            for (&a, &drift) in new_at[..m_old].iter().zip(&x[..m_old]) {
                let (before, kept) = (drift * inv_s, is_kept(a));
                trades += u64::from((kept & (before == 0.0)) | (!kept & (before > 0.0)));
            }
        }
        if R::ACTIVE && q == 0 {
            for ((&a, &drift), &i) in new_at[..m_old].iter().zip(&x[..m_old]).zip(held) {
                let (before, kept) = (drift * inv_s, is_kept(a));
                let i = i as usize;
                rec.trade(t, i, before, if kept { target } else { 0.0 }, row[i]);
            }
            for &i in new[..m_new]
                .iter()
                .filter(|&&i| !held[..m_old].contains(&i))
            {
                rec.trade(t, i as usize, 0.0, target, row[i as usize]);
            }
        }
        let v_post = v_pre * (1.0 - cost * turnover);
        accs[q].turnover += turnover;
        accs[q].trades += trades;
        mb.m = m_new;
        mb.c = v_post * target;
        mb.cash = if m_new == 0 { v_post } else { 0.0 };
        vals[q * w.span + t - w.t0] = v_post;
    }
    for (c, &i) in s.cols.iter_mut().zip(new) {
        *c = i as usize * days;
    }
    s.held_day = Some(t);
}

/// `new_at[j]` = 1 + position of `held[j]` in `new` (0 when not there), through `pos` (all 0
/// before and after): a fixed amount of work per ticker, no data-dependent branch.
#[expect(clippy::cast_possible_truncation, reason = "ticker counts fit u32")]
#[inline]
fn new_positions(held: &[u32], new: &[u32], pos: &mut [u32], new_at: &mut [u32]) {
    for (a, &i) in new.iter().enumerate() {
        pos[i as usize] = a as u32 + 1;
    }
    for (a, &i) in new_at.iter_mut().zip(held) {
        *a = pos[i as usize];
    }
    for &i in new {
        pos[i as usize] = 0;
    }
}
