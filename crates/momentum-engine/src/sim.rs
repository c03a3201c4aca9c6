//! The one simulation loop behind [`crate::backtest()`], [`crate::baseline`] and the grid.
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
//! - the running values below, and the settlement of each period, go through two sizes at a
//!   time, one SSE2 lane each ([`RunPair`]), in VEX encodings where the processor has AVX2
//!   ([`simulate`] keeps a copy compiled for it);
//! - the daily return inside a period, `S(h) / S(h-1) - 1`, does not depend on `V`, so the sums
//!   of `r`, `r^2` and `min(r, 0)^2` over the period's days, and its lowest and highest `S`,
//!   are running values of the walk that each `H` takes at its own length;
//! - each `H` adds its last day, whose value includes the cost of its next trade, and trades.
//!
//! The maximum drawdown is the spec's `max_u (1 - V_u / max_(s<=u) V_s)`, exactly. Bounds from
//! a period's lowest value and its largest fall below its running maximum (with a margin far
//! above rounding) show that most periods cannot raise it. Of the others, one that never rises
//! above the run's peak takes its record from its lowest value
//! ([`RunPair::drawdown_below_peak`]); the rest go through their days one by one
//! ([`RunPair::drawdown_days`]).
//!
//! A period whose starting value is not positive (costs above 100 %) takes every day's return
//! as `V_u / V_(u-1) - 1` directly. A plain backtest is the same code with one `H` and one `K`,
//! so the grid and [`crate::backtest()`] agree bit for bit.
//!
//! Monomorphised over the [`Recorder`], which keeps the equity curve and trade log only when a
//! caller asks for them, so the grid's loop is the same code with the recording compiled out.

use crate::isa::Isa;
use crate::lanes::F64x2;
use crate::metrics::{RunPair, Runs, min};
use crate::select::{NOT_RANKED, RankTable};
use momentum_features::PricePanel;

/// Where the tickers to hold on a rebalance day come from.
pub(crate) trait Ranking {
    /// The selected tickers of day `t`, at most `k`, best first, and `1 / P[t, i]` of each.
    fn top(&self, t: usize, k: usize) -> (&[u32], &[f64]);
    /// The place of every ticker in the row of day `t` (0 for the best), [`NOT_RANKED`]
    /// outside it.
    fn places(&self, t: usize) -> &[u32];
}

impl Ranking for RankTable {
    #[inline]
    fn top(&self, t: usize, k: usize) -> (&[u32], &[f64]) {
        self.top_with_inverse(t, k)
    }

    #[inline]
    fn places(&self, t: usize) -> &[u32] {
        RankTable::places(self, t)
    }
}

/// The baseline's one purchase: every ticker with a usable price on its day.
pub(crate) struct BuyAll {
    tickers: Vec<u32>,
    inverse: Vec<f64>,
    places: Vec<u32>,
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
        let mut places = vec![NOT_RANKED; row.len()];
        for (r, &i) in (0..).zip(&tickers) {
            places[i as usize] = r;
        }
        Self {
            tickers,
            inverse,
            places,
        }
    }
}

impl Ranking for BuyAll {
    fn top(&self, _t: usize, k: usize) -> (&[u32], &[f64]) {
        let m = k.min(self.tickers.len());
        (&self.tickers[..m], &self.inverse[..m])
    }

    fn places(&self, _t: usize) -> &[u32] {
        &self.places
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

/// The closes a run reads, missing prices carried (`PricePanel::carried_by_ticker_flat`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prices<'a> {
    /// Ticker-major, `by_ticker[i * days + t]`: the walks read columns.
    by_ticker: &'a [f64],
    /// Tickers.
    n: usize,
    /// Days.
    days: usize,
}

impl<'a> Prices<'a> {
    pub(crate) fn new(panel: &'a PricePanel) -> Self {
        Self {
            by_ticker: panel.carried_by_ticker_flat(),
            n: panel.n_tickers(),
            days: panel.n_days(),
        }
    }

    /// The carried close of ticker `i` on day `t`: a trade log's price.
    fn at(self, t: usize, i: usize) -> f64 {
        self.by_ticker[i * self.days + t]
    }
}

/// The blocks of a window whose return sums are kept (CSCV's equal blocks, CPCV's groups cut
/// at their purge): block `j` runs from its first day `starts[j]` to the day before the next
/// one's, the last to the window's end. `starts` ascend strictly, the first after the window's
/// `t0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blocks<'a> {
    pub(crate) starts: &'a [usize],
}

/// The block of a day before the first block.
pub(crate) const NO_BLOCK: usize = usize::MAX;

impl Blocks<'_> {
    /// The number of blocks.
    fn count(self) -> usize {
        self.starts.len()
    }

    /// The block of day `u`, [`NO_BLOCK`] before the first.
    fn of(self, u: usize) -> usize {
        self.starts
            .partition_point(|&start| start <= u)
            .checked_sub(1)
            .unwrap_or(NO_BLOCK)
    }

    /// The first day of block `j`.
    fn start(self, j: usize) -> usize {
        self.starts[j]
    }
}

/// The running values of a walk for two sizes, one per lane, and what a period takes of them.
#[derive(Debug, Clone, Copy)]
struct Running {
    /// `[sum r, sum r^2, sum min(r, 0)^2]` of the walk so far.
    sums: [F64x2; 3],
    /// `[sum r, sum r^2]` since the last CSCV block start (kept apart so that the sums above
    /// do not depend on the blocks).
    block: [F64x2; 2],
    /// Lowest and highest `S` of the walk so far.
    lo: F64x2,
    hi: F64x2,
    /// The largest fall of `S` below its highest before (0 while it only rises).
    drop: F64x2,
}

impl Running {
    fn new() -> Self {
        let zero = F64x2::splat(0.0);
        Self {
            sums: [zero; 3],
            block: [zero; 2],
            lo: F64x2::splat(f64::INFINITY),
            hi: F64x2::splat(f64::NEG_INFINITY),
            drop: zero,
        }
    }

    /// One day: the ratio `S(h) / S(h-1)` and the value `S(h)` of each size.
    #[inline(always)]
    fn add_day<const BLOCKS: bool>(&mut self, ratio: F64x2, c: F64x2) {
        let r = ratio.sub(F64x2::splat(1.0));
        let down = r.min(F64x2::splat(0.0));
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
}

/// Two sizes that walk and settle together, one per lane. With an odd number of sizes the
/// last pair's second lane repeats its first (the *padding* lane): its values are computed
/// alongside and never read, so a size's results do not depend on its partner.
#[derive(Debug, Clone, Copy)]
struct SizePair {
    /// Their rows in `curves`: indices into `ks`.
    rows: [usize; 2],
    /// Where those rows start (`row * stride`).
    bases: [usize; 2],
    /// Their `K`.
    k: [usize; 2],
    /// Their target weight and its `m` (as `f64`) after a rebalance into a full row (as many
    /// tickers as the largest `K`, or all of them): the usual case.
    full_row: (F64x2, F64x2),
    /// Positions held in the current walk (lane 1's is at least lane 0's: the sizes ascend).
    m: [usize; 2],
    /// `m` as `f64`.
    m_f64: F64x2,
    /// `a / V`: `1 / m`, or 1 for a size that holds cash (its `S` is 1).
    scale: F64x2,
    /// Mask bits of the lanes that hold something.
    holding: u32,
    /// Mask bits of the lanes that are real sizes (not the padding lane).
    real: u32,
}

/// Per-worker buffers, reused across calls: nothing is allocated per day.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    /// `held_j * days`: where the column of each held ticker starts.
    cols: Vec<usize>,
    /// `P[next, held_j] / P[t, held_j]` on a rebalance day `next`.
    x: Vec<f64>,
    /// `place[j]`: the place of held position `j` in the new ranked row (0 for the best),
    /// `NOT_RANKED` when it is not in it (as `f64`, above every size: never kept).
    place: Vec<f64>,
    /// Positions held by each `K` in the current walk.
    held: Vec<usize>,
    /// The sizes, two by two.
    pairs: Vec<SizePair>,
    /// Days per walk plus one: the row length of `curves`.
    stride: usize,
    /// `S(h)` of each `K` over the walk (row `q`, `h` at `q * stride + h`), `S(0) = m` (`V`
    /// before the walk is `a * m`); all 1 for a `K` that holds cash.
    curves: Vec<f64>,
    /// The running values of pair `g`'s walk after its day `h`, at `g * stride + h` (`h = 0`:
    /// before the first day); a period of length `h` takes those after day `h - 1`, the days
    /// before its last one. Written after every day instead of where a period ends: a loop that
    /// stopped at each period's end (at every divisor of the day's offset, so at irregular
    /// gaps) paid a mispredicted exit per period, which cost more than the stores.
    taken: Vec<Running>,
    /// The block of the walk's first day.
    first_block: usize,
    /// The days `h` of the walk on which a CSCV block starts, and that block.
    starts: Vec<(usize, usize)>,
    /// `[sum r, sum r^2]` closed at those starts: start `j` of pair `g` at `j * pairs + g`.
    closed: Vec<[F64x2; 2]>,
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
            place: vec![0.0; n],
            held: Vec::new(),
            pairs: Vec::new(),
            stride: 0,
            curves: Vec::new(),
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
/// `ks[q]` goes to `runs.at(p, q)`, with CSCV block sums when `blocks` is given (its
/// first day after `t0`); the curve and trades of `holdings[0]` and `ks[0]` go to `rec`.
/// `sel.top(t, k)` must be the first `min(k, eligible)` of one ranked row for every
/// `k <= max(ks)`. Compiled for the instruction set `isa` (which must be available), with the
/// same results on every one.
#[expect(clippy::too_many_arguments, reason = "the hot loop takes plain values")]
pub(crate) fn simulate<S: Ranking, R: Recorder>(
    isa: Isa,
    prices: Prices<'_>,
    sel: &S,
    (holdings, ks): (&[usize], &[usize]),
    cost_bps: f64,
    (t0, end): (usize, usize),
    blocks: Option<Blocks<'_>>,
    (runs, rec, s): (&mut Runs, &mut R, &mut Scratch),
) {
    let inputs = Inputs {
        prices,
        sel,
        ks,
        cost: cost_bps / 1e4,
        end,
        blocks,
    };
    #[cfg(target_arch = "x86_64")]
    #[expect(
        unsafe_code,
        reason = "calling a `#[target_feature]` function; `available` checked the feature"
    )]
    match isa {
        // SAFETY: the caller hands out only available instruction sets (`Isa::detected`).
        // AVX-512 has no copy of its own: it ran no faster than AVX2 here, the lanes being
        // pairs.
        Isa::Avx2 | Isa::Avx512 => unsafe {
            x86::simulate_avx2(inputs, (holdings, t0), runs, rec, s)
        },
        Isa::Portable => simulate_inlined(inputs, (holdings, t0), runs, rec, s),
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = isa;
        simulate_inlined(inputs, (holdings, t0), runs, rec, s);
    }
}

/// [`simulate_inlined`] compiled for AVX2: the same operations in VEX encodings (three
/// operands, fewer register copies): 4 % faster on the sample grid, 8 % with the rank tables'
/// copy (`docs/performance.md`).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Inputs, Ranking, Recorder, Runs, Scratch, simulate_inlined};

    #[target_feature(enable = "avx2")]
    pub(super) fn simulate_avx2<S: Ranking, R: Recorder>(
        inputs: Inputs<'_, S>,
        first: (&[usize], usize),
        runs: &mut Runs,
        rec: &mut R,
        s: &mut Scratch,
    ) {
        simulate_inlined(inputs, first, runs, rec, s);
    }
}

/// [`simulate`]'s body, with every function of the loop inlined into it (`#[inline(always)]`
/// down to the lanes), so that a copy compiled for a wider instruction set runs all of it
/// there: a function it called would run the baseline's code.
#[inline(always)]
fn simulate_inlined<S: Ranking, R: Recorder>(
    inputs: Inputs<'_, S>,
    (holdings, t0): (&[usize], usize),
    runs: &mut Runs,
    rec: &mut R,
    s: &mut Scratch,
) {
    let Inputs {
        prices, sel, ks, ..
    } = inputs;
    let (end, blocks) = (inputs.end, inputs.blocks);
    debug_assert!(!holdings.is_empty() && holdings.windows(2).all(|w| w[0] < w[1]));
    debug_assert!(!ks.is_empty() && ks.windows(2).all(|w| w[0] < w[1]));
    debug_assert!(t0 < end);
    let kmax = ks[ks.len() - 1];
    let span = end - t0;
    let longest = holdings.iter().copied().max().unwrap_or(1).min(span);
    s.stride = longest + 1;
    let values = ks.len() * s.stride;
    if s.curves.len() < values {
        s.curves.resize(values, 0.0);
    }
    s.held.resize(ks.len(), 0);
    s.targets.clear();
    #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
    s.targets
        .extend((0..=kmax.min(prices.n)).map(|m| if m == 0 { 0.0 } else { 1.0 / m as f64 }));
    s.pairs.clear();
    for g in 0..ks.len().div_ceil(2) {
        let rows = [2 * g, (2 * g + 1).min(ks.len() - 1)];
        s.pairs.push(SizePair {
            rows,
            bases: rows.map(|q| q * s.stride),
            k: rows.map(|q| ks[q]),
            full_row: {
                let m = rows.map(|q| ks[q].min(prices.n));
                #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
                let m_f64 = F64x2::pair(m[0] as f64, m[1] as f64);
                (F64x2::pair(s.targets[m[0]], s.targets[m[1]]), m_f64)
            },
            m: [0; 2],
            m_f64: F64x2::splat(0.0),
            scale: F64x2::splat(1.0),
            holding: 0,
            real: if rows[1] > rows[0] { 0b11 } else { 0b01 },
        });
    }

    // The first rebalance, from cash: the same for every holding period.
    let (first, _) = sel.top(t0, kmax);
    let started: Vec<RunPair> = s
        .pairs
        .iter()
        .map(|pair| {
            let m = pair.k.map(|k| k.min(first.len()));
            #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
            let trades = F64x2::pair(m[0] as f64, m[1] as f64);
            let turnover = F64x2::splat(1.0).keep(trades.gt(F64x2::splat(0.0)));
            let v = F64x2::splat(1.0).sub(F64x2::splat(inputs.cost).mul(turnover));
            RunPair::start(v, turnover, trades)
        })
        .collect();
    // Room for what the walks hand to the periods: every day of the longest walk, and every
    // block start.
    let pairs = s.pairs.len();
    s.taken.resize(pairs * s.stride, Running::new());
    s.closed.resize(
        blocks.map_or(0, |b| b.count()) * pairs,
        [F64x2::splat(0.0); 2],
    );
    runs.reset(
        (holdings.len(), &started),
        span,
        blocks.map_or(0, |b| b.count()),
    );
    if R::ACTIVE {
        let m = ks[0].min(first.len());
        for &i in &first[..m] {
            let i = i as usize;
            rec.trade(t0, i, 0.0, s.targets[m], prices.at(t0, i));
        }
        rec.value(runs.pairs[0].v.lo());
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
            while next_block < b.count() && b.start(next_block) <= t + 1 {
                next_block += 1;
            }
            s.first_block = next_block.checked_sub(1).unwrap_or(NO_BLOCK);
            let last = t + s.due[s.due.len() - 1].0;
            let mut j = next_block;
            while j < b.count() && b.start(j) <= last {
                s.starts.push((b.start(j) - t, j));
                j += 1;
            }
        }
        if blocks.is_some() {
            walk::<S, R, true>(inputs, t, runs, rec, s);
        } else {
            walk::<S, R, false>(inputs, t, runs, rec, s);
        }
    }
}

/// What every walk of a simulation reads: the closes, the ranked rows, the sizes (`ks`), the
/// cost per unit of turnover, and the window's last day and CSCV blocks.
struct Inputs<'a, S> {
    prices: Prices<'a>,
    sel: &'a S,
    ks: &'a [usize],
    cost: f64,
    end: usize,
    blocks: Option<Blocks<'a>>,
}

// By hand: a derive would ask `S: Copy`, but only a reference to `S` is copied.
impl<S> Clone for Inputs<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Inputs<'_, S> {}

/// The periods that start on rebalance day `t` (`s.due`, by length): values the held tickers
/// for every `K` as far as the longest, then hands each period its summaries. `BLOCKS`:
/// whether the window has CSCV blocks (the walks without them keep no block sums).
#[inline(always)]
fn walk<S: Ranking, R: Recorder, const BLOCKS: bool>(
    inputs: Inputs<'_, S>,
    t: usize,
    runs: &mut Runs,
    rec: &mut R,
    s: &mut Scratch,
) {
    let Inputs {
        prices, sel, ks, ..
    } = inputs;
    let len = s.due[s.due.len() - 1].0;
    let kmax = ks[ks.len() - 1];
    let (held, inv) = sel.top(t, kmax);
    for (c, &i) in s.cols.iter_mut().zip(held) {
        *c = i as usize * prices.days;
    }
    let stride = s.stride;
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
    for pair in &mut s.pairs {
        pair.m = pair.rows.map(|q| s.held[q]);
        let [m0, m1] = pair.m;
        #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
        {
            pair.m_f64 = F64x2::pair(m0 as f64, m1 as f64);
        }
        let scale = |m: usize| if m == 0 { 1.0 } else { s.targets[m] };
        pair.scale = F64x2::pair(scale(m0), scale(m1));
        pair.holding = u32::from(m0 > 0) | (u32::from(m1 > 0) << 1);
    }
    value_period(prices.by_ticker, (t + 1, t + len), t, inv, s);
    // Each pair runs through the walk once, recording its running values after every day and
    // stopping only where a block starts (to close its sums).
    for g in 0..s.pairs.len() {
        walk_pair::<BLOCKS>(g, len, s);
    }
    settle(inputs, (t, (held, inv)), runs, rec, s);
}

/// Pair `g` runs through days `1..len` of a walk: the running values of its two sizes,
/// recorded after every day (`s.taken`; the block sums only when the window has blocks) and
/// closed where a CSCV block starts (`s.closed`).
#[inline(always)]
fn walk_pair<const BLOCKS: bool>(g: usize, len: usize, s: &mut Scratch) {
    let pairs = s.pairs.len();
    let stride = s.stride;
    let curves = s.pairs[g].bases.map(|b| &s.curves[b..=b + len]);
    let track = &mut s.taken[g * stride..g * stride + len];
    let mut p = Running::new();
    track[0] = p;
    let add_days = |p: &mut Running, track: &mut [Running], from: usize, to: usize| {
        let mut before = F64x2::pair(curves[0][from - 1], curves[1][from - 1]);
        let days = curves[0][from..to].iter().zip(&curves[1][from..to]);
        for ((&c0, &c1), snap) in days.zip(&mut track[from..to]) {
            let now = F64x2::pair(c0, c1);
            p.add_day::<BLOCKS>(now.div(before), now);
            // Field by field: without blocks, two 16-byte stores fewer per day.
            snap.sums = p.sums;
            snap.lo = p.lo;
            snap.hi = p.hi;
            snap.drop = p.drop;
            if BLOCKS {
                snap.block = p.block;
            }
            before = now;
        }
    };
    let mut h = 1;
    for (j, &(start, _)) in s.starts.iter().enumerate() {
        add_days(&mut p, track, h, start);
        h = start;
        s.closed[j * pairs + g] = p.block;
        p.block = [F64x2::splat(0.0); 2];
        // A period whose last day is the block's first takes the reset block sums.
        track[start - 1] = p;
    }
    add_days(&mut p, track, h, len);
}

/// Ends the periods that start on rebalance day `t` (`s.due`) for every `K`, two at a time:
/// the rebalance on a period's last day (unless the window ends there), its returns into the
/// sums and blocks, its drawdown, and the next period's starting value. `held` is the ranked
/// row held since `t`, with `1 / P[t, i]` of each of its tickers.
#[inline(always)]
fn settle<S: Ranking, R: Recorder>(
    inputs: Inputs<'_, S>,
    (t, (held, inv)): (usize, (&[u32], &[f64])),
    runs: &mut Runs,
    rec: &mut R,
    s: &mut Scratch,
) {
    let Inputs {
        prices,
        sel,
        ks,
        cost,
        end,
        blocks,
    } = inputs;
    let m = held.len();
    let Scratch {
        cols,
        x,
        place,
        pairs,
        curves,
        taken,
        stride,
        first_block,
        starts,
        closed,
        due,
        targets,
        ..
    } = s;
    let (x, place, cols) = (&mut x[..m], &mut place[..m], &cols[..m]);
    let (one, zero) = (F64x2::splat(1.0), F64x2::splat(0.0));
    let kmax = ks[ks.len() - 1];
    let count = pairs.len();
    let stride = *stride;
    for &(h, holding) in due.iter() {
        let day = t + h;
        let closing = day < end;
        // The drifts and new places of the held positions, shared by every size; a size whose
        // positions all drifted to a positive value (the first `positive` do) trades on the
        // fast path.
        let (mut new, mut positive) = (&[][..], m);
        if closing {
            (new, _) = sel.top(day, kmax);
            let held = (held, inv, cols);
            positive = drifts(prices, day, held, sel.places(day), (x, place));
        }
        let trade = RebalanceDay {
            held,
            new,
            x,
            place,
            positive,
            full_row: new.len() == kmax.min(prices.n),
            targets,
            prices,
            day,
        };
        let last_block = starts
            .iter()
            .take_while(|&&(start, _)| start <= h)
            .last()
            .map_or(*first_block, |&(_, b)| b);
        let (run_pairs, run_blocks, block_count) = runs.holding_mut(holding);
        let periods = pairs.iter().zip(run_pairs);
        for (g, (sizes, run)) in periods.enumerate() {
            let summary = &taken[g * stride + h - 1];
            let run_blocks = &mut run_blocks[g * block_count..(g + 1) * block_count];
            // S at the period's end, of each lane; `curve(w)` is S over the period.
            let [b0, b1] = sizes.bases;
            let c_end = F64x2::pair(curves[b0 + h], curves[b1 + h]);
            let curve = |w: usize| &curves[sizes.bases[w]..=sizes.bases[w] + h];
            let a = run.v.mul(sizes.scale);
            let v_pre = a.mul(c_end);
            let (turnover, trades) = if closing {
                trade.pair(sizes, c_end, v_pre)
            } else {
                (zero, zero)
            };
            let f = one.sub(F64x2::splat(cost).mul(turnover));
            let v_post = v_pre.mul(f);
            // A lane whose starting value is not positive takes its days literally (below); the
            // others add the period's summaries.
            let summarised = a.gt(zero);
            let ratio = c_end.div(F64x2::pair(curves[b0 + h - 1], curves[b1 + h - 1]));
            let r_last = ratio.mul(f).sub(one);
            let down = r_last.min(zero);
            let r2 = r_last.mul(r_last);
            let sums = [
                summary.sums[0].add(r_last),
                summary.sums[1].add(r2),
                summary.sums[2].add(down.mul(down)),
            ];
            for (total, x) in run.sums.iter_mut().zip(sums) {
                *total = total.add(x.keep(summarised));
            }
            if blocks.is_some() {
                let mut add_block = |b: usize, [x, x2]: [F64x2; 2]| {
                    if let Some(sums) = run_blocks.get_mut(b) {
                        sums[0] = sums[0].add(x.keep(summarised));
                        sums[1] = sums[1].add(x2.keep(summarised));
                    }
                };
                for (j, &(start, b)) in starts.iter().enumerate() {
                    if start <= h && b > 0 {
                        add_block(b - 1, closed[j * count + g]);
                    }
                }
                add_block(
                    last_block,
                    [summary.block[0].add(r_last), summary.block[1].add(r2)],
                );
            }
            // The drawdown: the period's values are `a * S` on its days before the last and
            // `v_post` on it, `low` the lowest, `high` the highest, `drop` the largest fall
            // below a higher value before it. A day whose running peak is still the run's peak
            // before the period has a drawdown of at most `1 - low / peak`; a day after a value
            // above that peak, at most `drop / peak`. A lane's days are visited only when a
            // bound comes within `MARGIN` of the record (written so that a NaN visits them).
            let a_hi = a.mul(summary.hi);
            let low = a.mul(summary.lo).min(v_post);
            let high = a_hi.max(v_post);
            let drop = a.mul(summary.drop).max(a_hi.sub(v_post));
            let (peak, floor) = (run.peak, run.floor);
            let clear = low
                .gt(peak.mul(floor))
                .and(drop.lt(peak.mul(one.sub(floor))));
            // Without a day above the run's peak, the lowest day is the deepest: no need to
            // visit the days.
            let below = high.le(peak).and(summarised);
            let mut visit = summarised.bits() & !clear.bits() & sizes.real;
            if visit & below.bits() != 0 {
                run.drawdown_below_peak(low, below);
                visit &= !below.bits();
            }
            while visit != 0 {
                let w = visit.trailing_zeros() as usize;
                visit &= visit - 1;
                run.drawdown_days(w, (a.lane(w), curve(w)), v_post.lane(w));
            }
            run.peak = peak.max(high).select(summarised, peak);
            let mut literal = !summarised.bits() & sizes.real;
            while literal != 0 {
                let w = literal.trailing_zeros() as usize;
                literal &= literal - 1;
                let lane = (w, a.lane(w), curve(w));
                settle_literally((run, run_blocks), lane, v_post.lane(w), t, blocks);
            }
            if R::ACTIVE && holding == 0 && g == 0 {
                if closing {
                    trade.record(sizes.k[0], sizes.m[0], (v_pre.lo(), c_end.lo()), rec);
                }
                for &c in &curve(0)[1..h] {
                    rec.value(a.lo() * c);
                }
                rec.value(v_post.lo());
            }
            run.v = v_post;
            run.turnover = run.turnover.add(turnover);
            run.trades = run.trades.add(trades);
        }
    }
}

/// The drifts `x` of the held tickers on rebalance day `day` (`1 / P[t, i]` and the start of
/// each one's column), their places in the day's ranked row (from its `places`, as in
/// [`Scratch`]), and how many of the first drifts are `> 0` (all of them unless a held price
/// is 0).
#[inline]
fn drifts(
    prices: Prices<'_>,
    day: usize,
    (held, inv, cols): (&[u32], &[f64], &[usize]),
    places: &[u32],
    (x, place): (&mut [f64], &mut [f64]),
) -> usize {
    // Checked as they are written: reading them back at once in pairs would wait for the
    // stores.
    let mut all_positive = true;
    let drifted = x.iter_mut().zip(place).zip(held.iter().zip(cols).zip(inv));
    for ((x, p), ((&i, &col), &r)) in drifted {
        *p = f64::from(places[i as usize]);
        *x = prices.by_ticker[col + day] * r;
        all_positive &= *x > 0.0;
    }
    if all_positive {
        x.len()
    } else {
        x.iter()
            .position(|&d| d <= 0.0 || d.is_nan())
            .unwrap_or(x.len())
    }
}

/// A period of lane `w` of a run pair whose starting value is not positive: every day's return
/// as the spec writes it, `V_u / V_(u-1) - 1`, with values `a * S` before the last day and
/// `v_post` on it (`curve` is `S` from the period's start to its last day).
#[cold]
#[inline(never)]
fn settle_literally(
    (run, run_blocks): (&mut RunPair, &mut [[F64x2; 2]]),
    (w, a, curve): (usize, f64, &[f64]),
    v_post: f64,
    t: usize,
    blocks: Option<Blocks<'_>>,
) {
    let mut before = run.v.lane(w);
    let days = &curve[1..curve.len() - 1];
    for (u, v) in days.iter().map(|&c| a * c).chain([v_post]).enumerate() {
        let r = v / before - 1.0;
        let down = min(r, 0.0);
        run.add(w, [r, r * r, down * down]);
        let block = blocks.map_or(NO_BLOCK, |b| b.of(t + 1 + u));
        if let Some(sums) = run_blocks.get_mut(block) {
            sums[0] = sums[0].with_lane(w, sums[0].lane(w) + r);
            sums[1] = sums[1].with_lane(w, sums[1].lane(w) + r * r);
        }
        run.day_drawdown(w, v);
        before = v;
    }
}

/// A rebalance at the end of a period: what every `K` needs of it.
struct RebalanceDay<'a> {
    /// The ranked row held since the period's start.
    held: &'a [u32],
    /// The ranked row of the rebalance day.
    new: &'a [u32],
    /// The drift of each held position over the period, `P[day] / P[t]`.
    x: &'a [f64],
    /// Per held position: its place in `new` (0 for the best), `NOT_RANKED` when not there.
    place: &'a [f64],
    /// How many of the first held positions have a drift `> 0`.
    positive: usize,
    /// Whether `new` has as many tickers as the largest `K` (or all of them).
    full_row: bool,
    targets: &'a [f64],
    /// The closes (the trade log's prices), read only when recording.
    prices: Prices<'a>,
    day: usize,
}

impl RebalanceDay<'_> {
    /// Trades two sizes from their drifted holdings (`m` positions each, worth `v_pre`, `S =
    /// c_end`) to equal weights in their prefixes of the new row (spec rules 4, 6 and 8): the
    /// turnover and the number of entries and exits of each lane.
    ///
    /// Always inlined: left to itself, LLVM inlined it into the grid's `settle` in one binary
    /// and called it in another (the `momentum` binary and the benchmark, which also hold the
    /// recorded backtest's copies of `settle`), and the call made the grid about 5 % slower.
    #[inline(always)]
    fn pair(&self, sizes: &SizePair, c_end: F64x2, v_pre: F64x2) -> (F64x2, F64x2) {
        let (one, zero) = (F64x2::splat(1.0), F64x2::splat(0.0));
        let (target, m_new_f64) = if self.full_row {
            sizes.full_row
        } else {
            let m_new = sizes.k.map(|k| k.min(self.new.len()));
            #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
            let m_new_f64 = F64x2::pair(m_new[0] as f64, m_new[1] as f64);
            (
                F64x2::pair(self.targets[m_new[0]], self.targets[m_new[1]]),
                m_new_f64,
            )
        };
        // Every weight is > 0 on the fast path: `|target - x_j / S|` summed as
        // `|target * S - x_j|`, then scaled once; a dropped position adds `|0 - x_j|`.
        let goal = target.mul(c_end);
        let (mut sum, mut kept) = (zero, zero);
        let [m0, m1] = sizes.m;
        for (&x, &place) in self.x[..m0].iter().zip(&self.place[..m0]) {
            let is_kept = F64x2::splat(place).lt(m_new_f64);
            sum = sum.add(goal.keep(is_kept).sub(F64x2::splat(x)).abs());
            kept = kept.add(one.keep(is_kept));
        }
        // Positions only lane 1 holds: lane 0 adds +0.0, which changes nothing (its sums are
        // never -0.0).
        let second = F64x2::pair(0.0, 1.0).gt(zero);
        for (&x, &place) in self.x[m0..m1].iter().zip(&self.place[m0..m1]) {
            let is_kept = F64x2::splat(place).lt(m_new_f64).and(second);
            let gap = goal.keep(is_kept).sub(F64x2::splat(x)).abs();
            sum = sum.add(gap.keep(second));
            kept = kept.add(one.keep(is_kept));
        }
        // The new tickers of a prefix that were not held: weight 0 -> target each.
        let entries = m_new_f64.sub(kept);
        let mut turnover = sum.mul(one.div(c_end)).add(target.mul(entries));
        let mut trades = sizes.m_f64.sub(kept).add(entries);
        let positive = u32::from(m0 <= self.positive) | (u32::from(m1 <= self.positive) << 1);
        let slow = !(sizes.holding & positive & v_pre.gt(zero).bits()) & sizes.real;
        if slow != 0 {
            let rebalance = (self.new.len(), self.targets, self.x, self.place);
            (turnover, trades) =
                slow_lanes(sizes, rebalance, (c_end, v_pre), slow, (turnover, trades));
        }
        (turnover, trades)
    }

    /// The trade log of one size (`m_old` positions worth `v_pre`, `S = c_end`): every held
    /// position with its weight before and after, then every entry.
    fn record<R: Recorder>(&self, k: usize, m_old: usize, (v_pre, c_end): (f64, f64), rec: &mut R) {
        let m_new = k.min(self.new.len());
        let target = self.targets[m_new];
        #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
        let m_new_f64 = m_new as f64;
        let inv_s = if m_old > 0 && v_pre > 0.0 {
            1.0 / c_end
        } else {
            0.0
        };
        let held = &self.held[..m_old];
        let price = |i: usize| self.prices.at(self.day, i);
        for ((&place, &drift), &i) in self.place.iter().zip(self.x).zip(held) {
            let i = i as usize;
            let after = if place < m_new_f64 { target } else { 0.0 };
            rec.trade(self.day, i, drift * inv_s, after, price(i));
        }
        for &i in self.new[..m_new].iter().filter(|&&i| !held.contains(&i)) {
            let i = i as usize;
            rec.trade(self.day, i, 0.0, target, price(i));
        }
    }
}

/// [`RebalanceDay::pair`] for the lanes in `slow` (`rebalance`: the new row's length, the target
/// weights, the drifts and places): a size that holds cash (all pre-trade weights
/// are 0, the turnover is exactly 1.0 when it buys), or one with a weight that is 0 (a held
/// price or the value is 0 or below): a dropped position is an exit only with a weight
/// > 0, and a kept one with weight 0 is an entry.
#[cold]
#[inline(never)]
fn slow_lanes(
    sizes: &SizePair,
    (new_len, targets, x, place): (usize, &[f64], &[f64], &[f64]),
    (c_end, v_pre): (F64x2, F64x2),
    slow: u32,
    (turnover, trades): (F64x2, F64x2),
) -> (F64x2, F64x2) {
    let mut turnover = [turnover.lo(), turnover.hi()];
    let mut trades = [trades.lo(), trades.hi()];
    let c_end = [c_end.lo(), c_end.hi()];
    let v_pre = [v_pre.lo(), v_pre.hi()];
    for w in (0..2).filter(|w| slow & (1 << w) != 0) {
        let (k, m_old) = (sizes.k[w], sizes.m[w]);
        let m_new = k.min(new_len);
        let target = targets[m_new];
        #[expect(clippy::cast_precision_loss, reason = "ticker counts are small")]
        let m_new_f64 = m_new as f64;
        if m_old == 0 {
            turnover[w] = if m_new > 0 { 1.0 } else { 0.0 };
            trades[w] = m_new_f64;
            continue;
        }
        let inv_s = if v_pre[w] > 0.0 { 1.0 / c_end[w] } else { 0.0 };
        let mut sum = 0.0;
        let (mut kept_count, mut counted) = (0.0, 0.0);
        for (&place, &drift) in place[..m_old].iter().zip(&x[..m_old]) {
            let (before, kept) = (drift * inv_s, place < m_new_f64);
            sum += ((if kept { target } else { 0.0 }) - before).abs();
            kept_count += f64::from(u8::from(kept));
            let counts = (kept & (before == 0.0)) | (!kept & (before > 0.0));
            counted += f64::from(u8::from(counts));
        }
        let entries = m_new_f64 - kept_count;
        turnover[w] = sum + target * entries;
        trades[w] = counted + entries;
    }
    (F64x2::load(&turnover), F64x2::load(&trades))
}

/// Days `from..=to` of a walk from `t`: `S` of every `K` that holds something, summed in rank
/// order one column after the other, a chunk of days at a time. `inv` are the held tickers'
/// `1 / P[t, i]`.
#[inline(always)]
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
