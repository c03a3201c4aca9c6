//! The one simulation loop behind [`crate::backtest`], [`crate::baseline`] and the grid.
//!
//! One call runs every holding period `H` and portfolio size `K` that share a rank table, over
//! one window. A period that starts on rebalance day `t` holds `sel_0, sel_1, ...` (best first,
//! `m = min(K, eligible)` of them), and on day `t + h` of it, with `V` the post-trade value of
//! day `t`,
//!
//! ```text
//! V_(t+h) = a * S_m(h),   a = V / m,   S_m(h) = sum_(j < m) P[t+h, sel_j] * (1 / P[t, sel_j])
//! ```
//!
//! `S` depends on `t` and `K`, not on `H`: every `H` that rebalances on `t` holds the same
//! tickers from there. So one *walk* over the days after `t`, as far as the longest of those
//! periods, serves them all:
//! - the held columns are summed in rank order a few days at a time, so one pass gives every
//!   `K` its `S` (the prefix sums of the rank order);
//! - the running values below go through two sizes at a time, one SSE2 lane each;
//! - the daily return inside a period, `S(h) / S(h-1) - 1`, does not depend on `V`, so the sums
//!   of `r`, `r^2` and `min(r, 0)^2` over the period's days, and its lowest and highest `S`,
//!   are running values of the walk that each `H` takes at its own length;
//! - each `H` adds its last day, whose value includes the cost of its next trade, and trades.
//!
//! The maximum drawdown is the spec's `max_u (1 - V_u / max_(s<=u) V_s)`, exactly. Bounds from
//! a period's lowest value and its largest fall below its running maximum (with a margin far
//! above rounding) show that most periods cannot raise it; the others go through their days
//! one by one ([`Run::drawdown`]).
//!
//! A period whose starting value is not positive (costs above 100 %) takes every day's return
//! as `V_u / V_(u-1) - 1` directly. A plain backtest is the same code with one `H` and one `K`,
//! so the grid and [`crate::backtest`] agree bit for bit.
//!
//! Monomorphised over the [`Recorder`], which keeps the equity curve and trade log only when a
//! caller asks for them, so the grid's loop is the same code with the recording compiled out.

use crate::lanes::F64x2;
use crate::metrics::{Run, max, min};
use crate::select::RankTable;

/// Where the tickers to hold on a rebalance day come from.
pub(crate) trait Selection {
    /// The selected tickers of day `t`, at most `k`, best first, and `1 / P[t, i]` of each.
    fn top(&self, t: usize, k: usize) -> (&[u32], &[f64]);
    /// Per ticker, 1 + its place in the selection of day `t` (0 when it is not in it).
    fn positions(&self, t: usize) -> &[u16];
}

impl Selection for RankTable {
    #[inline]
    fn top(&self, t: usize, k: usize) -> (&[u32], &[f64]) {
        self.top_with_inverse(t, k)
    }

    #[inline]
    fn positions(&self, t: usize) -> &[u16] {
        RankTable::positions(self, t)
    }
}

/// The baseline's one purchase: every ticker with a usable price on its day.
pub(crate) struct BuyAll {
    tickers: Vec<u32>,
    inverse: Vec<f64>,
    positions: Vec<u16>,
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
        let mut positions = vec![0; row.len()];
        for (a, &i) in tickers.iter().enumerate() {
            positions[i as usize] = u16::try_from(a + 1).unwrap_or(u16::MAX);
        }
        Self {
            tickers,
            inverse,
            positions,
        }
    }
}

impl Selection for BuyAll {
    fn top(&self, _t: usize, k: usize) -> (&[u32], &[f64]) {
        let m = k.min(self.tickers.len());
        (&self.tickers[..m], &self.inverse[..m])
    }

    fn positions(&self, _t: usize) -> &[u16] {
        &self.positions
    }
}

/// Receives the curve and trades of a recorded run (the first `H` and `K` of the call).
pub(crate) trait Recorder {
    /// Whether anything is recorded: the grid's simulation compiles the recording out.
    const ACTIVE: bool;
    /// The value of the next day of the equity curve, from `t0` on.
    fn value(&mut self, v: f64);
    /// One ticker traded on rebalance day `t`.
    fn trade(&mut self, t: usize, ticker: usize, before: f64, after: f64, price: f64);
}

/// Records nothing (the grid).
pub(crate) struct NoRecord;

impl Recorder for NoRecord {
    const ACTIVE: bool = false;
    #[inline(always)]
    fn value(&mut self, _v: f64) {}
    #[inline(always)]
    fn trade(&mut self, _t: usize, _ticker: usize, _before: f64, _after: f64, _price: f64) {}
}

/// The closes a run reads, missing prices carried (`PricePanel::carried_*`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prices<'a> {
    /// Day-major, `rows[t * n + i]`: the trade log's prices.
    pub(crate) rows: &'a [f64],
    /// Ticker-major, `by_ticker[i * days + t]`: the walks read columns.
    pub(crate) by_ticker: &'a [f64],
    /// Tickers.
    pub(crate) n: usize,
    /// Days.
    pub(crate) days: usize,
}

/// The CSCV blocks of a window: `count` blocks of `len` days, the first starting on `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blocks {
    pub(crate) first: usize,
    pub(crate) len: usize,
    pub(crate) count: usize,
}

/// The block of a day before the first block.
pub(crate) const NO_BLOCK: usize = usize::MAX;

impl Blocks {
    /// The block of day `u`, [`NO_BLOCK`] before the first.
    fn of(self, u: usize) -> usize {
        if u < self.first {
            NO_BLOCK
        } else {
            (u - self.first) / self.len
        }
    }

    /// The first day of block `j`.
    fn start(self, j: usize) -> usize {
        self.first + j * self.len
    }
}

/// The running values of one `K` in a walk, and what a period takes of them.
type Partial = Running<f64>;

/// The values the walk's running sums take: one `f64` (one size), or two lanes (two sizes at
/// a time, one instruction per operation for both). Lane by lane the same IEEE operations, so
/// a size's sums do not depend on whether it shares a walk with another.
trait Lane: Copy {
    const WIDTH: usize;
    fn splat(x: f64) -> Self;
    /// Value `h` of rows `q..q + WIDTH` of `rows` (rows of `stride` values each).
    fn pick(rows: &[f64], stride: usize, q: usize, h: usize) -> Self;
    fn add(self, b: Self) -> Self;
    fn sub(self, b: Self) -> Self;
    fn mul(self, b: Self) -> Self;
    fn min(self, b: Self) -> Self;
    fn max(self, b: Self) -> Self;
    fn lane(self, w: usize) -> f64;
}

impl Lane for f64 {
    const WIDTH: usize = 1;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn pick(rows: &[f64], stride: usize, q: usize, h: usize) -> Self {
        rows[q * stride + h]
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        self + b
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        self - b
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        self * b
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        min(self, b)
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        max(self, b)
    }
    #[inline(always)]
    fn lane(self, _w: usize) -> f64 {
        self
    }
}

impl Lane for F64x2 {
    const WIDTH: usize = 2;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        F64x2::splat(x)
    }
    #[inline(always)]
    fn pick(rows: &[f64], stride: usize, q: usize, h: usize) -> Self {
        F64x2::pair(rows[q * stride + h], rows[(q + 1) * stride + h])
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        F64x2::add(self, b)
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        F64x2::sub(self, b)
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        F64x2::mul(self, b)
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        F64x2::min(self, b)
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        F64x2::max(self, b)
    }
    #[inline(always)]
    fn lane(self, w: usize) -> f64 {
        if w == 0 { self.lo() } else { self.hi() }
    }
}

/// The running values of `L::WIDTH` sizes in a walk (one size: a [`Partial`]).
#[derive(Debug, Clone, Copy)]
struct Running<L> {
    /// `[sum r, sum r^2, sum min(r, 0)^2]` of the walk so far.
    sums: [L; 3],
    /// `[sum r, sum r^2]` since the last CSCV block start (kept apart so that the sums above
    /// do not depend on the blocks).
    block: [L; 2],
    /// Lowest and highest `S` of the walk so far.
    lo: L,
    hi: L,
    /// The largest fall of `S` below its highest before (0 while it only rises).
    drop: L,
}

impl<L: Lane> Running<L> {
    fn new() -> Self {
        let zero = L::splat(0.0);
        Self {
            sums: [zero; 3],
            block: [zero; 2],
            lo: L::splat(f64::INFINITY),
            hi: L::splat(f64::NEG_INFINITY),
            drop: zero,
        }
    }

    /// One day: the ratio `S(h) / S(h-1)` and the value `S(h)` of each size.
    #[inline(always)]
    fn add_day<const BLOCKS: bool>(&mut self, ratio: L, c: L) {
        let r = ratio.sub(L::splat(1.0));
        let down = r.min(L::splat(0.0));
        let r2 = r.mul(r);
        self.sums[0] = self.sums[0].add(r);
        self.sums[1] = self.sums[1].add(r2);
        self.sums[2] = self.sums[2].add(down.mul(down));
        if BLOCKS {
            self.block[0] = self.block[0].add(r);
            self.block[1] = self.block[1].add(r2);
        }
        self.lo = self.lo.min(c);
        self.hi = self.hi.max(c);
        self.drop = self.drop.max(self.hi.sub(c));
    }

    /// The block sums of size `w`.
    fn close_block(&mut self, w: usize) -> [f64; 2] {
        [self.block[0].lane(w), self.block[1].lane(w)]
    }

    /// The running values of size `w`.
    fn of(&self, w: usize) -> Partial {
        Partial {
            sums: [
                self.sums[0].lane(w),
                self.sums[1].lane(w),
                self.sums[2].lane(w),
            ],
            block: [self.block[0].lane(w), self.block[1].lane(w)],
            lo: self.lo.lane(w),
            hi: self.hi.lane(w),
            drop: self.drop.lane(w),
        }
    }
}

/// Per-worker buffers, reused across calls: nothing is allocated per day.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    /// `held_j * days`: where the column of each held ticker starts.
    cols: Vec<usize>,
    /// `P[next, held_j] / P[t, held_j]` on a rebalance day `next`.
    x: Vec<f64>,
    /// Per held position: 1 + its position in the new ranked row (0 when not in it).
    new_at: Vec<u32>,
    /// Tickers held by each `K` in the current walk.
    held: Vec<usize>,
    /// Days per walk plus one: the row length of `curves` and `ratios`.
    stride: usize,
    /// `S(h)` of each `K` over the walk (row `q`, `h` at `q * stride + h`), `S(0) = m` (`V`
    /// before the walk is `a * m`); all 1 for a `K` that holds cash.
    curves: Vec<f64>,
    /// `S(h) / S(h-1)` of each `K` over the walk, laid out as `curves`.
    ratios: Vec<f64>,
    /// What the period of due entry `e` takes from the walk of `K` `q`, at `e * ks + q`: the
    /// days before its last one.
    taken: Vec<Partial>,
    /// The block of the walk's first day.
    first_block: usize,
    /// The days `h` of the walk on which a CSCV block starts, and that block.
    starts: Vec<(usize, usize)>,
    /// Block sums closed at those starts: start `j` of `K` `q` at `j * ks + q`.
    closed: Vec<[f64; 2]>,
    /// Per day of the window, a bit per holding period that rebalances then.
    due_bits: Vec<u64>,
    /// `(days to its next rebalance or the end, index)` of the holding periods due on a day.
    due: Vec<(usize, usize)>,
    /// `1 / m` for `m` held (0 for none): the target weight.
    targets: Vec<f64>,
}

impl Scratch {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            cols: vec![0; n],
            x: vec![0.0; n],
            new_at: vec![0; n],
            held: Vec::new(),
            stride: 0,
            curves: Vec::new(),
            ratios: Vec::new(),
            taken: Vec::new(),
            first_block: NO_BLOCK,
            starts: Vec::new(),
            closed: Vec::new(),
            due_bits: Vec::new(),
            due: Vec::new(),
            targets: Vec::new(),
        }
    }
}

/// Every holding period in `holdings` (distinct, ascending) times every size in `ks`
/// (distinct, ascending) over the window `t0..=end`, as the spec's "Simulation" section: the first
/// rebalance on `t0 < end`, then every `H` days while `< end`. The run of `holdings[p]` and
/// `ks[q]` goes to `runs[p * ks.len() + q]`, with CSCV block sums when `blocks` is given (its
/// first day after `t0`); the curve and trades of `holdings[0]` and `ks[0]` go to `rec`.
/// `sel.top(t, k)` must be the first `min(k, eligible)` of one ranked row for every
/// `k <= max(ks)`.
#[expect(clippy::too_many_arguments, reason = "the hot loop takes plain values")]
pub(crate) fn simulate<S: Selection, R: Recorder>(
    prices: Prices<'_>,
    sel: &S,
    (holdings, ks): (&[usize], &[usize]),
    cost_bps: f64,
    (t0, end): (usize, usize),
    blocks: Option<Blocks>,
    runs: &mut [Run],
    rec: &mut R,
    s: &mut Scratch,
) {
    debug_assert!(!holdings.is_empty() && holdings.windows(2).all(|w| w[0] < w[1]));
    debug_assert!(ks.windows(2).all(|w| w[0] < w[1]));
    debug_assert!(runs.len() == holdings.len() * ks.len() && t0 < end);
    let cost = cost_bps / 1e4;
    let kmax = ks[ks.len() - 1];
    let span = end - t0;
    let longest = holdings.iter().copied().max().unwrap_or(1).min(span);
    s.stride = longest + 1;
    let values = ks.len() * s.stride;
    if s.curves.len() < values {
        s.curves.resize(values, 0.0);
        s.ratios.resize(values, 0.0);
    }
    s.held.resize(ks.len(), 0);
    s.targets.clear();
    #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
    s.targets
        .extend((0..=kmax.min(prices.n)).map(|m| if m == 0 { 0.0 } else { 1.0 / m as f64 }));

    // The first rebalance, from cash: the same for every holding period.
    let (first, _) = sel.top(t0, kmax);
    for (q, &k) in ks.iter().enumerate() {
        let m = k.min(first.len());
        let turnover = if m > 0 { 1.0 } else { 0.0 };
        let v = 1.0 - cost * turnover;
        for run in runs.iter_mut().skip(q).step_by(ks.len()) {
            run.begin(span, v, turnover, m as u64, blocks);
        }
        if R::ACTIVE && q == 0 {
            for &i in &first[..m] {
                let i = i as usize;
                rec.trade(t0, i, 0.0, s.targets[m], prices.rows[t0 * prices.n + i]);
            }
            rec.value(v);
        }
    }

    // Per day of the window, a bit per holding period that rebalances then (all of them on
    // t0). Reading the bits upwards gives the periods by increasing `H`, so by length.
    let words = holdings.len().div_ceil(64);
    s.due_bits.clear();
    s.due_bits.resize(span * words, 0);
    for p in 0..holdings.len() {
        s.due_bits[p / 64] |= 1 << (p % 64);
    }
    let mut next_block = 0;
    for d in 0..span {
        let t = t0 + d;
        s.due.clear();
        for w in 0..words {
            let mut bits = std::mem::take(&mut s.due_bits[d * words + w]);
            while bits != 0 {
                let p = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let h = holdings[p];
                if h < end - t {
                    s.due_bits[(d + h) * words + w] |= 1 << (p % 64);
                }
                s.due.push((h.min(end - t), p));
            }
        }
        if s.due.is_empty() {
            continue;
        }
        s.starts.clear();
        if let Some(b) = blocks {
            // Blocks are counted as the days go by: no division per walk.
            while next_block < b.count && b.start(next_block) <= t + 1 {
                next_block += 1;
            }
            s.first_block = next_block.checked_sub(1).unwrap_or(NO_BLOCK);
            let last = t + s.due[s.due.len() - 1].0;
            let mut j = next_block;
            while j < b.count && b.start(j) <= last {
                s.starts.push((b.start(j) - t, j));
                j += 1;
            }
        }
        if blocks.is_some() {
            walk::<S, R, true>(prices, sel, (t, end), ks, cost, blocks, runs, rec, s);
        } else {
            walk::<S, R, false>(prices, sel, (t, end), ks, cost, blocks, runs, rec, s);
        }
    }
}

/// The periods that start on rebalance day `t` (`s.due`, by length): values the held tickers
/// for every `K` as far as the longest, then hands each period its summaries. `BLOCKS`:
/// whether `blocks` is given (the walks without it keep no block sums).
#[expect(clippy::too_many_arguments, reason = "the hot loop takes plain values")]
#[inline]
fn walk<S: Selection, R: Recorder, const BLOCKS: bool>(
    prices: Prices<'_>,
    sel: &S,
    (t, end): (usize, usize),
    ks: &[usize],
    cost: f64,
    blocks: Option<Blocks>,
    runs: &mut [Run],
    rec: &mut R,
    s: &mut Scratch,
) {
    let len = s.due[s.due.len() - 1].0;
    let kmax = ks[ks.len() - 1];
    let (held, inv) = sel.top(t, kmax);
    for (c, &i) in s.cols.iter_mut().zip(held) {
        *c = i as usize * prices.days;
    }
    let (nk, stride) = (ks.len(), s.stride);
    for (q, (m, &k)) in s.held.iter_mut().zip(ks).enumerate() {
        *m = k.min(held.len());
        let curve = &mut s.curves[q * stride..=q * stride + len];
        #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
        if *m == 0 {
            curve.fill(1.0);
        } else {
            curve[0] = *m as f64;
        }
    }
    value_period(prices.by_ticker, (t + 1, t + len), t, inv, s);
    for q in 0..nk {
        let base = q * stride;
        let curve = &s.curves[base..=base + len];
        for (ratio, (&now, &before)) in s.ratios[base + 1..=base + len]
            .iter_mut()
            .zip(curve[1..].iter().zip(curve))
        {
            *ratio = now / before;
        }
    }
    // Each K runs through the walk once, stopping where a block starts (to close its sums) and
    // where a period ends (to hand it the days before its last); two sizes at a time.
    s.taken.resize(s.due.len() * nk, Partial::new());
    s.closed.resize(s.starts.len() * nk, [0.0; 2]);
    let mut q = 0;
    while q + 1 < nk {
        walk_sizes::<F64x2, BLOCKS>(q, len, s);
        q += 2;
    }
    if q < nk {
        walk_sizes::<f64, BLOCKS>(q, len, s);
    }
    for e in 0..s.due.len() {
        let (h, p) = s.due[e];
        let period = Period {
            t,
            held: (held, inv),
            h,
            closing: t + h < end,
            entry: e,
        };
        settle(
            prices,
            sel,
            period,
            ks,
            cost,
            blocks,
            &mut runs[p * nk..],
            rec,
            p == 0,
            s,
        );
    }
}

/// Sizes `q..q + L::WIDTH` run through days `1..len` of a walk: the running values of each,
/// closed where a CSCV block starts (`s.closed`) and taken where a due period ends
/// (`s.taken`).
#[inline(always)]
fn walk_sizes<L: Lane, const BLOCKS: bool>(q: usize, len: usize, s: &mut Scratch) {
    let (nk, stride) = (s.held.len(), s.stride);
    let rows = (q + L::WIDTH) * stride;
    let (ratios, curves) = (&s.ratios[..rows], &s.curves[..rows]);
    debug_assert!(len < stride);
    let mut p = Running::<L>::new();
    let add_days = |p: &mut Running<L>, from: usize, to: usize| {
        for h in from..to {
            let ratio = L::pick(ratios, stride, q, h);
            p.add_day::<BLOCKS>(ratio, L::pick(curves, stride, q, h));
        }
    };
    let (mut h, mut j) = (1, 0);
    for (e, &(at, _)) in s.due.iter().enumerate() {
        while let Some(&(start, _)) = s.starts.get(j)
            && start <= at
        {
            add_days(&mut p, h, start);
            h = start;
            for w in 0..L::WIDTH {
                s.closed[j * nk + q + w] = p.close_block(w);
            }
            p.block = [L::splat(0.0); 2];
            j += 1;
        }
        add_days(&mut p, h, at);
        h = at;
        for w in 0..L::WIDTH {
            s.taken[e * nk + q + w] = p.of(w);
        }
    }
}

/// One holding period ending in a walk.
#[derive(Debug, Clone, Copy)]
struct Period<'a> {
    /// The rebalance day it starts on.
    t: usize,
    /// The ranked row held since `t`, and `1 / P[t, i]` of each of its tickers.
    held: (&'a [u32], &'a [f64]),
    /// Its days: it ends on `t + h`.
    h: usize,
    /// Whether it ends with a rebalance (otherwise the window ends).
    closing: bool,
    /// Its entry in the walk's due list.
    entry: usize,
}

/// Ends one holding period for every `K`: the rebalance on its last day (when `closing`), its
/// returns into the sums and blocks, its drawdown, and the next period's starting value.
/// `runs` starts at the run of `ks[0]` for this `H`; `first` says whether it is the recorded
/// one.
#[expect(clippy::too_many_arguments, reason = "the hot loop takes plain values")]
#[inline]
fn settle<S: Selection, R: Recorder>(
    prices: Prices<'_>,
    sel: &S,
    period: Period<'_>,
    ks: &[usize],
    cost: f64,
    blocks: Option<Blocks>,
    runs: &mut [Run],
    rec: &mut R,
    first: bool,
    s: &mut Scratch,
) {
    let Period {
        t,
        held: (held, inv),
        h,
        closing,
        entry,
    } = period;
    let kmax = ks[ks.len() - 1];
    let day = t + h;
    let (new, _) = if closing {
        sel.top(day, kmax)
    } else {
        (&[][..], &[][..])
    };
    let m = held.len();
    if closing {
        let (x, new_at, cols) = (&mut s.x[..m], &mut s.new_at[..m], &s.cols[..m]);
        let places = sel.positions(day);
        for j in 0..m {
            x[j] = prices.by_ticker[cols[j] + day] * inv[j];
            new_at[j] = u32::from(places[held[j] as usize]);
        }
    }
    let nk = ks.len();
    let (stride, curves, ratios, taken) = (s.stride, &s.curves[..], &s.ratios[..], &s.taken[..]);
    let (starts, closed, targets) = (&s.starts[..], &s.closed[..], &s.targets[..]);
    let last_block = starts
        .iter()
        .take_while(|&&(start, _)| start <= h)
        .last()
        .map_or(s.first_block, |&(_, b)| b);
    let x = &s.x[..m];
    let trade = Trade {
        held,
        new,
        x,
        new_at: &s.new_at[..m],
        drifts_positive: x.iter().fold(true, |all, &d| all & (d > 0.0)),
        targets,
        row: &prices.rows[day * prices.n..(day + 1) * prices.n],
        day,
    };
    let taken = &taken[entry * nk..(entry + 1) * nk];
    for (q, (run, (&k, &m_old))) in runs[..nk]
        .iter_mut()
        .zip(ks.iter().zip(&s.held[..nk]))
        .enumerate()
    {
        // S over the period, from its start.
        let curve = &curves[q * stride..=q * stride + h];
        let c_end = curve[h];
        let a = if m_old == 0 {
            run.v
        } else {
            run.v * targets[m_old]
        };
        let v_pre = a * c_end;
        let record = R::ACTIVE && first && q == 0;
        let (turnover, trades) = if closing {
            trade.member(k, m_old, v_pre, c_end, rec, record)
        } else {
            (0.0, 0)
        };
        let f = 1.0 - cost * turnover;
        let v_post = v_pre * f;
        if a > 0.0 {
            let r_last = ratios[q * stride + h] * f - 1.0;
            let p = &taken[q];
            let down = min(r_last, 0.0);
            let r2 = r_last * r_last;
            run.add([p.sums[0] + r_last, p.sums[1] + r2, p.sums[2] + down * down]);
            if blocks.is_some() {
                for (j, &(start, b)) in starts.iter().enumerate() {
                    if start <= h {
                        let before = b.checked_sub(1).unwrap_or(NO_BLOCK);
                        run.add_block(before, closed[j * nk + q]);
                    }
                }
                run.add_block(last_block, [p.block[0] + r_last, p.block[1] + r2]);
            }
            // The period's values are `a * S` on its days before the last and `v_post`.
            let (low, high) = (min(a * p.lo, v_post), max(a * p.hi, v_post));
            let drop = max(a * p.drop, a * p.hi - v_post);
            run.drawdown((low, high, drop), (a, curve), v_post);
        } else {
            settle_literally(run, (a, curve), v_post, t, blocks);
        }
        if record {
            for &c in &curve[1..h] {
                rec.value(a * c);
            }
            rec.value(v_post);
        }
        run.v = v_post;
        run.turnover += turnover;
        run.trades += trades;
    }
}

/// A period whose starting value is not positive: every day's return as the spec writes it,
/// `V_u / V_(u-1) - 1`, with values `a * S` before the last day and `v_post` on it (`curve` is
/// `S` from the period's start to its last day).
#[cold]
#[inline(never)]
fn settle_literally(
    run: &mut Run,
    (a, curve): (f64, &[f64]),
    v_post: f64,
    t: usize,
    blocks: Option<Blocks>,
) {
    let mut before = run.v;
    let days = &curve[1..curve.len() - 1];
    for (i, v) in days.iter().map(|&c| a * c).chain([v_post]).enumerate() {
        let r = v / before - 1.0;
        let down = min(r, 0.0);
        run.add([r, r * r, down * down]);
        run.add_block(blocks.map_or(NO_BLOCK, |b| b.of(t + 1 + i)), [r, r * r]);
        run.day_drawdown(v);
        before = v;
    }
}

/// A rebalance at the end of a period: what every `K` needs of it.
struct Trade<'a> {
    /// The ranked row held since the period's start.
    held: &'a [u32],
    /// The ranked row of the rebalance day.
    new: &'a [u32],
    /// The drift of each held position over the period, `P[day] / P[t]`.
    x: &'a [f64],
    /// Per held position: 1 + its position in `new`, 0 when not there.
    new_at: &'a [u32],
    /// Whether every drift is `> 0`.
    drifts_positive: bool,
    targets: &'a [f64],
    /// The carried closes of the rebalance day (the trade log's prices).
    row: &'a [f64],
    day: usize,
}

impl Trade<'_> {
    /// Trades one `K` from its drifted holdings (`m_old` positions worth `v_pre`, `S = c_end`)
    /// to equal weights in its prefix of the new row (spec rules 4, 6 and 8): the turnover and
    /// the number of entries and exits.
    #[inline]
    fn member<R: Recorder>(
        &self,
        k: usize,
        m_old: usize,
        v_pre: f64,
        c_end: f64,
        rec: &mut R,
        record: bool,
    ) -> (f64, u64) {
        let m_new = k.min(self.new.len());
        let target = self.targets[m_new];
        #[expect(clippy::cast_possible_truncation, reason = "ticker counts fit u32")]
        let m_new_u32 = m_new as u32;
        let is_kept = |a: u32| a.wrapping_sub(1) < m_new_u32;
        let (new_at, x) = (&self.new_at[..m_old], &self.x[..m_old]);
        // Pre-trade weight of held position j: V_j / V = x_j / S_m.
        let inv_s = if m_old > 0 && v_pre > 0.0 {
            1.0 / c_end
        } else {
            0.0
        };
        let (turnover, trades);
        if m_old == 0 {
            // All pre-trade weights are 0: the spec's turnover is exactly 1.0.
            turnover = if m_new > 0 { 1.0 } else { 0.0 };
            trades = u64::from(m_new_u32);
        } else if self.drifts_positive && inv_s > 0.0 {
            // Every weight is > 0: `|target - x_j / S|` summed as `|target * S - x_j|` (two
            // partial sums, then one scaling), so the reciprocal and the sums overlap.
            let goal_kept = target * c_end;
            let (mut even, mut odd) = (0.0, 0.0);
            let mut kept_count = 0u32;
            // |target - w| when kept, |0 - w| = |w| when dropped, without a branch.
            let gap = |a: u32, drift: f64| {
                let kept = is_kept(a);
                ((if kept { goal_kept } else { 0.0 }) - drift).abs()
            };
            let pairs = new_at.chunks_exact(2).zip(x.chunks_exact(2));
            for (a, d) in pairs {
                even += gap(a[0], d[0]);
                odd += gap(a[1], d[1]);
                kept_count += u32::from(is_kept(a[0])) + u32::from(is_kept(a[1]));
            }
            if m_old % 2 == 1 {
                even += gap(new_at[m_old - 1], x[m_old - 1]);
                kept_count += u32::from(is_kept(new_at[m_old - 1]));
            }
            // The new tickers of the prefix that were not held: weight 0 -> target each.
            let entries = m_new_u32 - kept_count;
            turnover = (even + odd) * inv_s + target * f64::from(entries);
            #[expect(clippy::cast_possible_truncation, reason = "ticker counts fit u32")]
            let exits = m_old as u32 - kept_count;
            trades = u64::from(exits + entries);
        } else {
            (turnover, trades) = self.member_with_zero_weights(new_at, x, inv_s, m_new_u32);
        }
        if record {
            let held = &self.held[..m_old];
            for ((&a, &drift), &i) in new_at.iter().zip(x).zip(held) {
                let (before, kept) = (drift * inv_s, is_kept(a));
                let i = i as usize;
                let after = if kept { target } else { 0.0 };
                rec.trade(self.day, i, before, after, self.row[i]);
            }
            for &i in self.new[..m_new].iter().filter(|&&i| !held.contains(&i)) {
                let i = i as usize;
                rec.trade(self.day, i, 0.0, target, self.row[i]);
            }
        }
        (turnover, trades)
    }

    /// [`Trade::member`] when a weight is 0 (a held price or the value is 0 or below): a
    /// dropped position is an exit only with a weight > 0, and a kept one with weight 0 is an
    /// entry.
    #[cold]
    #[inline(never)]
    fn member_with_zero_weights(
        &self,
        new_at: &[u32],
        x: &[f64],
        inv_s: f64,
        m_new: u32,
    ) -> (f64, u64) {
        let target = self.targets[m_new as usize];
        let is_kept = |a: u32| a.wrapping_sub(1) < m_new;
        let mut sum = 0.0;
        let (mut kept_count, mut counted) = (0u32, 0u64);
        for (&a, &drift) in new_at.iter().zip(x) {
            let (before, kept) = (drift * inv_s, is_kept(a));
            sum += ((if kept { target } else { 0.0 }) - before).abs();
            kept_count += u32::from(kept);
            counted += u64::from((kept & (before == 0.0)) | (!kept & (before > 0.0)));
        }
        let entries = m_new - kept_count;
        (
            sum + target * f64::from(entries),
            counted + u64::from(entries),
        )
    }
}

/// Days `from..=to` of a walk from `t`: `S` of every `K` that holds something, summed in rank
/// order one column after the other, a chunk of days at a time. `inv` are the held tickers'
/// `1 / P[t, i]`.
#[inline]
fn value_period(
    by_ticker: &[f64],
    (from, to): (usize, usize),
    t: usize,
    inv: &[f64],
    s: &mut Scratch,
) {
    let len = to - from + 1;
    let cols = (&s.cols[..inv.len()], inv);
    let family = (&s.held[..], t, s.stride);
    let curves = &mut s.curves[..];
    // Whole chunks, then one chunk ending on `to` that overlaps the last one (shorter walks:
    // two overlapping chunks): a day's value depends on nothing but its own prices, so the
    // overlap writes the same values again instead of leaving days to a scalar loop.
    if len >= 8 {
        let mut u = from;
        while u + 8 <= to + 1 {
            value_days::<8>(by_ticker, cols, u, family, curves);
            u += 8;
        }
        if u <= to {
            value_days::<8>(by_ticker, cols, to - 7, family, curves);
        }
    } else if len >= 4 {
        value_days::<4>(by_ticker, cols, from, family, curves);
        value_days::<4>(by_ticker, cols, to - 3, family, curves);
    } else if len >= 2 {
        value_days::<2>(by_ticker, cols, from, family, curves);
        value_days::<2>(by_ticker, cols, to - 1, family, curves);
    } else {
        value_days::<1>(by_ticker, cols, from, family, curves);
    }
}

/// `W` consecutive days from `day` of [`value_period`]: the running sum over the held columns
/// stays in registers, and each `K` takes it when its prefix is complete.
#[inline(always)]
fn value_days<const W: usize>(
    by_ticker: &[f64],
    (cols, inv): (&[usize], &[f64]),
    day: usize,
    (held, t, stride): (&[usize], usize, usize),
    curves: &mut [f64],
) {
    let mut acc = [0.0f64; W];
    let mut j = 0;
    for (q, &m) in held.iter().enumerate() {
        while j < m {
            let Some(col) = by_ticker[cols[j] + day..].first_chunk::<W>() else {
                unreachable!("the window ends inside the panel")
            };
            let r = inv[j];
            for l in 0..W {
                acc[l] += col[l] * r;
            }
            j += 1;
        }
        if m > 0 {
            let Some(out) = curves[q * stride + day - t..].first_chunk_mut::<W>() else {
                unreachable!("the curves hold the walk")
            };
            *out = acc;
        }
    }
}
