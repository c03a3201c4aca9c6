//! CSCV's inner loop, the work behind PBO ([`crate::probability_of_backtest_overfitting`]):
//! for each split of the blocks into two halves, every combination's Sharpe ratio on both, the
//! in-sample winner and where it ranks out of sample. On the sample grid that is 116 million
//! Sharpe ratios of sums over 8 blocks, each three divisions and a square root: computed so,
//! PBO cost more than twice the grid that feeds it. This module gets the same logits, bit for
//! bit, in about the grid's time.
//!
//! - **Keys instead of Sharpe ratios.** Only comparisons matter (which combination wins, which
//!   rank below the winner) and only the winner's values. `mean / std` (ddof 1) of `n` returns
//!   with sums `s1` and `s2` has the sign of `s1` and the square
//!   `s1^2 (n - 1) / (n (n s2 - s1^2))`, so it is below `x` exactly when
//!   `s1 |s1| < t (n s2 - s1^2)` with `t = x |x| n / (n - 1)`: multiplications, no division.
//!   Rounding makes a key and the definition's own (rounded) Sharpe ratio differ by at most
//!   about 1e-9, relatively, while `n s2 - s1^2` keeps 31 of its 52 bits ([`CANCELLATION`]);
//!   a comparison decides only when the key clears `t` by [`TOLERANCE`] (1e-8). The rest
//!   (exact and near ties, little variance left, values near underflow or overflow) are
//!   settled by computing the Sharpe ratios as the definition does ([`sharpe_of_sums`]).
//! - **Sums shared between splits.** The splits are taken in the order of their masks' bits
//!   reversed, so consecutive splits put their first blocks on the same sides; the sums of
//!   each side's blocks, added in block order as the definition adds them, are kept level by
//!   level and only the blocks after the shared ones are added: 6.6 of 16 blocks on average.
//! - **One sweep instead of two.** A rank needs the final winner. The winners among a few
//!   hundred likely winners ([`head`]: the best of a sample of splits) are found first; the
//!   main sweep then looks for better ones and counts ranks against the winner so far, and
//!   only the halves whose winner changed after that (5 % of the split pairs, on the sample
//!   grid) count their ranks again.
//! - **Tiles and lanes.** The block sums are laid out in tiles of [`TILE`] combinations, lane
//!   by lane; a task takes a run of splits through each tile in turn, so what it reads stays in
//!   the first-level cache. The lanes are plain arrays that LLVM turns into vector
//!   instructions: AVX-512 or AVX2 when the processor has them (chosen at run time), the
//!   target's baseline (SSE2 on x86_64) otherwise. `MOMENTUM_SIMD` (`portable`, `avx2`,
//!   `avx512`, `auto`) picks one, for tests and measurements.
//!
//! The result is the definition's, bit for bit, whatever the data and the instruction set:
//! the unit tests in `stats.rs` compare every split's logit with CSCV computed split by split
//! from its definition, on every instruction set the processor has.

use rayon::prelude::*;

use crate::isa::Isa;
use crate::stats::{Passes, Pbo, sharpe_of_sums};

/// Combinations side by side in one set of lanes.
const LANES: usize = 8;
type Lanes = [f64; LANES];
/// Lane groups per tile.
const GROUPS: usize = 8;
/// Combinations per tile: 64, whose block sums (16 KB with 16 blocks) stay in the first-level
/// cache while a task's splits go over them.
const TILE: usize = LANES * GROUPS;
/// Splits whose best combinations make up the head, and how many of each half (see [`head`]).
const HEAD_SPLITS: usize = 32;
const HEAD_PER_HALF: usize = 16;

/// A key decides a comparison with a Sharpe ratio's bound `t` only when it clears `t` by this
/// fraction of `|t|`: ten times the largest relative difference between a key and the signed
/// square of the definition's Sharpe ratio when [`CANCELLATION`] holds (about 1e-9: the
/// rounding of `n s2 - s1^2` magnified by at most 2^21, in both, plus a few units of the last
/// place).
const TOLERANCE: f64 = 1e-8;
/// A key is trusted when `(n s2 - s1^2) * 2^20 > n s2`: the subtraction lost at most 21 bits
/// to cancellation (a combination with almost no variance, or none, is settled exactly).
const CANCELLATION: f64 = 1_048_576.0;
/// Keys are trusted only for `n s2` in this range and `s1^2` above its start (or `s1 = 0`), far
/// from underflow and overflow.
const SAFE_RANGE: (f64, f64) = (1e-150, 1e150);

/// One task's [`sweep`] on the instruction set `isa`.
fn sweep_on<const WINNERS: bool, const RANKS: bool>(
    isa: Isa,
    job: (&Tiles, usize),
    winners: &mut [[Half; 2]],
    splits: &[Split],
) {
    #[cfg(target_arch = "x86_64")]
    #[expect(
        unsafe_code,
        reason = "calling a `#[target_feature]` function; `available` checked the feature"
    )]
    match isa {
        // SAFETY: `detected` and the tests hand out only available instruction sets.
        Isa::Avx512 => unsafe { x86::sweep_avx512::<WINNERS, RANKS>(job, winners, splits) },
        // SAFETY: as above.
        Isa::Avx2 => unsafe { x86::sweep_avx2::<WINNERS, RANKS>(job, winners, splits) },
        Isa::Portable => sweep::<WINNERS, RANKS>(job, winners, splits),
    }
    #[cfg(not(target_arch = "x86_64"))]
    sweep::<WINNERS, RANKS>(job, winners, splits);
}

/// [`sweep`] compiled for each wider instruction set: the same body, twice (a macro for two
/// three-line functions would hide more than it saves).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Half, Split, Tiles, sweep};

    #[target_feature(enable = "avx512f")]
    pub(super) fn sweep_avx512<const WINNERS: bool, const RANKS: bool>(
        job: (&Tiles, usize),
        winners: &mut [[Half; 2]],
        splits: &[Split],
    ) {
        sweep::<WINNERS, RANKS>(job, winners, splits);
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn sweep_avx2<const WINNERS: bool, const RANKS: bool>(
        job: (&Tiles, usize),
        winners: &mut [[Half; 2]],
        splits: &[Split],
    ) {
        sweep::<WINNERS, RANKS>(job, winners, splits);
    }
}

/// One of the first half of the splits in bit-mask order (see [`cscv_on`]).
#[derive(Debug, Clone, Copy)]
struct Split {
    /// Bit `b` set when block `b` is in-sample.
    mask: u32,
    /// Its place in bit-mask order.
    index: usize,
    /// The halves as lists of blocks in block order (the first `S / 2` entries of each):
    /// in-sample, out-of-sample.
    halves: [[u8; 12]; 2],
}

/// One half of a split as in-sample: its winner so far (the first of the best) and where that
/// one ranks out of sample.
#[derive(Debug, Clone, Copy)]
struct Half {
    /// The winner's combination (`None` before the first).
    winner: Option<usize>,
    /// Its in-sample Sharpe ratio, and the keys' bounds around it.
    sharpe: f64,
    sharpe_bounds: Bounds,
    /// Its out-of-sample Sharpe ratio, and the keys' bounds around it.
    oos: f64,
    oos_bounds: Bounds,
    /// Combinations whose out-of-sample Sharpe ratio is below the winner's, and equal to it
    /// (the winner's own included).
    below: usize,
    equal: usize,
    /// The winner changed after ranks were counted against an earlier one: the counts are
    /// wrong and will be counted again.
    recount: bool,
}

impl Half {
    /// No winner yet: NaN thresholds trust no comparison, so the first combination offered is
    /// settled exactly and wins.
    const NONE: Self = Self {
        winner: None,
        sharpe: f64::NAN,
        sharpe_bounds: (f64::NAN, f64::NAN),
        oos: f64::NAN,
        oos_bounds: (f64::NAN, f64::NAN),
        below: 0,
        equal: 0,
        recount: false,
    };
}

/// Block sums in tiles of [`TILE`] combinations: per lane group of [`LANES`] combinations, per
/// block `b`, `[sum r, sum r^2]` lane by lane at `2 (g S + b)` and `+ 1` (lanes past the last
/// combination hold zeros), and each lane's combination (its index in the grid).
struct Tiles {
    blocks: usize,
    lanes: Vec<Lanes>,
    combinations: Vec<usize>,
}

/// One tile of [`Tiles`].
#[derive(Clone, Copy)]
struct Tile<'a> {
    blocks: usize,
    lanes: &'a [Lanes],
    combinations: &'a [usize],
}

impl Tiles {
    /// The block sums of `combinations` (`S` per combination, in the order listed).
    fn new(sums: &[[f64; 2]], blocks: usize, combinations: Vec<usize>) -> Self {
        let mut lanes = vec![[0.0; LANES]; combinations.len().div_ceil(LANES) * blocks * 2];
        lanes
            .par_chunks_mut(2 * blocks)
            .zip(sums.par_chunks(LANES * blocks))
            .for_each(|(group, rows)| {
                for (lane, row) in rows.chunks(blocks).enumerate() {
                    for (b, &[s1, s2]) in row.iter().enumerate() {
                        group[2 * b][lane] = s1;
                        group[2 * b + 1][lane] = s2;
                    }
                }
            });
        Self {
            blocks,
            lanes,
            combinations,
        }
    }

    fn tiles(&self) -> impl Iterator<Item = Tile<'_>> {
        self.lanes
            .chunks(GROUPS * 2 * self.blocks)
            .zip(self.combinations.chunks(TILE))
            .map(|(lanes, combinations)| Tile {
                blocks: self.blocks,
                lanes,
                combinations,
            })
    }
}

impl<'a> Tile<'a> {
    /// The lane groups' flags of their lanes in use, and their combinations.
    #[inline(always)]
    fn groups(self) -> impl Iterator<Item = (Flags, &'a [usize])> {
        self.combinations.chunks(LANES).map(|combinations| {
            let valid = std::array::from_fn(|l| u64::from(l < combinations.len()));
            (valid, combinations)
        })
    }
}

/// The keys' bounds around a Sharpe ratio `x`: `t (1 -+ TOLERANCE)` (lower first) with
/// `t = x |x| n / (n - 1)`. A combination's Sharpe ratio is surely below `x` when
/// `s1 |s1| < lower * (n s2 - s1^2)`, surely above when `s1 |s1| > upper * (n s2 - s1^2)`. NaN
/// (before a winner, or `x` infinite) decides nothing.
type Bounds = (f64, f64);

#[inline(always)]
fn bounds(x: f64, n: f64) -> Bounds {
    let t = x * x.abs() * (n / (n - 1.0));
    (t - TOLERANCE * t.abs(), t + TOLERANCE * t.abs())
}

/// One flag per lane, 0 or 1 (integers rather than `bool`, so that LLVM keeps them in vector
/// registers and adds and ors them lane by lane).
type Flags = [u64; LANES];

/// A lane group's keys on one half: `s1 |s1|` (NaN where the key is not trusted, so that no
/// comparison decides that lane) and `n s2 - s1^2`.
struct Keys {
    signed_square: Lanes,
    spread: Lanes,
}

#[inline(always)]
fn keys([s1, s2]: &[Lanes; 2], n: f64) -> Keys {
    let (mut signed_square, mut spread) = ([0.0; LANES], [0.0; LANES]);
    for l in 0..LANES {
        let (square, scaled) = (s1[l] * s1[l], n * s2[l]);
        spread[l] = scaled - square;
        // The mean not tiny (or exactly 0), the sums far from underflow and overflow, and
        // `n s2 + s1^2 < 2^21 (n s2 - s1^2)`: the variance kept at least 31 bits.
        let trusted = ((square > SAFE_RANGE.0) | (s1[l] == 0.0))
            & (scaled > SAFE_RANGE.0)
            & (scaled < SAFE_RANGE.1)
            & (spread[l] * CANCELLATION > scaled);
        signed_square[l] = if trusted {
            s1[l] * s1[l].abs()
        } else {
            f64::NAN
        };
    }
    Keys {
        signed_square,
        spread,
    }
}

/// The lanes whose Sharpe ratio is surely below, and surely above, the one of `bounds`.
#[inline(always)]
fn against(keys: &Keys, bounds: Bounds) -> (Flags, Flags) {
    let (mut below, mut above) = ([0; LANES], [0; LANES]);
    for l in 0..LANES {
        let key = keys.signed_square[l];
        below[l] = u64::from(key < bounds.0 * keys.spread[l]);
        above[l] = u64::from(key > bounds.1 * keys.spread[l]);
    }
    (below, above)
}

/// Bit `l` set for each lane `l` flagged.
#[inline(always)]
fn bits(flags: &Flags) -> u32 {
    flags
        .iter()
        .enumerate()
        .fold(0, |bits, (l, &f)| bits | u32::from(f != 0) << l)
}

/// Lane `l`'s Sharpe ratio from its sums, as the definition computes it.
#[inline(always)]
fn exact([s1, s2]: &[Lanes; 2], l: usize, count: usize) -> f64 {
    sharpe_of_sums([s1[l], s2[l]], count)
}

/// `a + b` lane by lane.
#[inline(always)]
fn add(a: &Lanes, b: &Lanes) -> Lanes {
    let mut sum = [0.0; LANES];
    for l in 0..LANES {
        sum[l] = a[l] + b[l];
    }
    sum
}

/// Whether any lane is flagged.
#[inline(always)]
fn any(flags: &Flags) -> bool {
    flags.iter().fold(0, |any, &f| any | f) != 0
}

/// One task: `splits` (with their `winners`) through every tile of `tiles`, a tile at a time.
/// `WINNERS`: looks for each half's winner; `RANKS`: counts where the winner ranks out of
/// sample. Both (the main sweep): the ranks against the winner so far, and a half whose winner
/// changes after its counting began is marked for a recount; `RANKS` alone (the recount): only
/// the halves so marked.
///
/// A split's pass over a tile first decides every lane it can from keys alone, in vector
/// registers: with no lane left undecided (nearly always), that is the tile's contribution.
/// Otherwise the tile goes again through [`Half::settle_winners`] or [`Half::settle_ranks`],
/// which settle the undecided lanes one by one.
#[inline(always)]
fn sweep<const WINNERS: bool, const RANKS: bool>(
    (tiles, count): (&Tiles, usize),
    winners: &mut [[Half; 2]],
    splits: &[Split],
) {
    // Per lane group and side (0: in-sample, 1: out-of-sample), the partial sums of the side's
    // first `k` blocks at level `k` (level 0: nothing, zeros).
    let mut stack = vec![[[0.0; LANES]; 2]; GROUPS * 2 * (tiles.blocks / 2 + 1)];
    for tile in tiles.tiles() {
        // A whole tile (all but a chunk's last) has every lane in use: the flags of the lanes in
        // use are constants there.
        if tile.combinations.len() == TILE {
            sweep_tile::<WINNERS, RANKS, true>((tile, count), winners, splits, &mut stack);
        } else {
            sweep_tile::<WINNERS, RANKS, false>((tile, count), winners, splits, &mut stack);
        }
    }
}

/// [`sweep`] over one tile, whole (`FULL`: [`GROUPS`] groups of [`LANES`] combinations) or
/// not. (No closures here: they would be compiled for the baseline, not the sweep's
/// instruction set, and called.)
#[inline(always)]
fn sweep_tile<const WINNERS: bool, const RANKS: bool, const FULL: bool>(
    (tile, count): (Tile<'_>, usize),
    winners: &mut [[Half; 2]],
    splits: &[Split],
    stack: &mut [[Lanes; 2]],
) {
    let (s, half) = (tile.blocks, tile.blocks / 2);
    let depth = half + 1;
    #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
    let n = count as f64;
    let mut valid_lanes = [[1; LANES]; GROUPS];
    let mut groups = GROUPS;
    if !FULL {
        groups = 0;
        for (g, (valid, _)) in tile.groups().enumerate() {
            valid_lanes[g] = valid;
            groups = g + 1;
        }
    }
    for (i, (pair, split)) in winners.iter_mut().zip(splits).enumerate() {
        // The first `shared` blocks are on the same sides as in the split before, and their
        // sums on the stack: the sums of the others onto it, each onto its side's level.
        let shared = if i == 0 {
            0
        } else {
            (split.mask ^ splits[i - 1].mask).trailing_zeros() as usize
        };
        let ins = (split.mask & ((1 << shared) - 1)).count_ones() as usize;
        let mut level = [ins, shared - ins];
        for b in shared..s {
            let side = usize::from(split.mask >> b & 1 == 0);
            for g in 0..groups {
                let (x1, x2) = (
                    &tile.lanes[2 * (g * s + b)],
                    &tile.lanes[2 * (g * s + b) + 1],
                );
                let at = (2 * g + side) * depth + level[side];
                let [s1, s2] = &stack[at];
                stack[at + 1] = [add(s1, x1), add(s2, x2)];
            }
            level[side] += 1;
        }
        let wins = [pair[0].sharpe_bounds, pair[1].sharpe_bounds];
        let ranks = [pair[0].oos_bounds, pair[1].oos_bounds];
        // Per side (0: the split's own in-sample half; 1: its complement's): the lanes that
        // might beat the winner; the lanes surely below it out of sample, and those undecided.
        let mut candidates = [[0; LANES]; 2];
        let (mut below, mut undecided) = ([[0; LANES]; 2], [[0; LANES]; 2]);
        for (g, valid) in valid_lanes.iter().enumerate().take(groups) {
            let at = 2 * g * depth + half;
            let keys = [keys(&stack[at], n), keys(&stack[at + depth], n)];
            for side in 0..2 {
                if WINNERS {
                    let (under, _) = against(&keys[side], wins[side]);
                    for l in 0..LANES {
                        candidates[side][l] |= valid[l] & (under[l] ^ 1);
                    }
                }
                if RANKS {
                    let (under, over) = against(&keys[1 - side], ranks[side]);
                    for l in 0..LANES {
                        below[side][l] += under[l] & valid[l];
                        undecided[side][l] |= valid[l] & ((under[l] | over[l]) ^ 1);
                    }
                }
            }
        }
        // Each group's sums of both halves, as the definition adds them: on the stack.
        let sums = HalfSums {
            stack,
            depth,
            half,
            groups,
        };
        for (side, winner) in pair.iter_mut().enumerate() {
            if WINNERS
                && any(&candidates[side])
                && winner.settle_winners((tile, &sums), side, count)
                && RANKS
            {
                // The ranks so far were counted against another winner.
                winner.recount = true;
            }
            if !RANKS || winner.recount == WINNERS {
                continue;
            }
            if any(&undecided[side]) {
                winner.settle_ranks((tile, &sums), side, count);
            } else {
                winner.below += below[side].iter().sum::<u64>() as usize;
            }
        }
    }
}

impl Half {
    /// A tile's candidates for this side's winner (`side` 0: in-sample `halves[0]`; 1: in-sample
    /// `halves[1]`): the lanes not surely below the winner so far, each settled by its exact
    /// Sharpe ratio (the first combination of the best wins). Whether the winner changed.
    fn settle_winners(
        &mut self,
        (tile, sums): (Tile<'_>, &HalfSums<'_>),
        side: usize,
        count: usize,
    ) -> bool {
        #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
        let n = count as f64;
        let before = self.winner;
        for (g, (valid, combinations)) in tile.groups().enumerate().take(sums.groups) {
            let (own, other) = (sums.of(g, side), sums.of(g, 1 - side));
            let (below, _) = against(&keys(own, n), self.sharpe_bounds);
            let mut candidates = bits(&valid) & !bits(&below);
            while candidates != 0 {
                let l = candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                let (sharpe, combination) = (exact(own, l, count), combinations[l]);
                let wins = self.winner.is_none_or(|best| {
                    sharpe > self.sharpe || (sharpe == self.sharpe && combination < best)
                });
                if wins {
                    let oos = exact(other, l, count);
                    *self = Self {
                        winner: Some(combination),
                        sharpe,
                        sharpe_bounds: bounds(sharpe, n),
                        oos,
                        oos_bounds: bounds(oos, n),
                        ..*self
                    };
                }
            }
        }
        self.winner != before
    }

    /// A tile's contribution to this side's counts below and equal to the winner out of sample,
    /// the undecided lanes settled by their exact Sharpe ratios.
    fn settle_ranks(&mut self, (tile, sums): (Tile<'_>, &HalfSums<'_>), side: usize, count: usize) {
        #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
        let n = count as f64;
        for (g, (valid, _)) in tile.groups().enumerate().take(sums.groups) {
            let oos = sums.of(g, 1 - side);
            let (below, above) = against(&keys(oos, n), self.oos_bounds);
            let valid = bits(&valid);
            self.below += (bits(&below) & valid).count_ones() as usize;
            let mut undecided = valid & !(bits(&below) | bits(&above));
            while undecided != 0 {
                let l = undecided.trailing_zeros() as usize;
                undecided &= undecided - 1;
                let y = exact(oos, l, count);
                self.below += usize::from(y < self.oos);
                self.equal += usize::from(y == self.oos);
            }
        }
    }
}

/// The sums of both halves of a split for each lane group of a tile, where [`sweep_tile`] left
/// them: the top level of each group's and side's stack.
struct HalfSums<'a> {
    stack: &'a [[Lanes; 2]],
    depth: usize,
    half: usize,
    groups: usize,
}

impl HalfSums<'_> {
    /// Group `g`'s sums of the blocks on `side` (0: the split's `halves[0]`).
    fn of(&self, g: usize, side: usize) -> &[Lanes; 2] {
        &self.stack[(2 * g + side) * self.depth + self.half]
    }
}

/// Likely winners: for [`HEAD_SPLITS`] splits spread over `splits`, the [`HEAD_PER_HALF`]
/// combinations of a chunk (`S` block sums of `len` returns each, the first being combination
/// `first`) with the
/// best in-sample Sharpe ratios on either half, best first over all blocks. The winners of the
/// splits are few and alike (302 distinct ones for the 12,870 splits of the sample grid), so
/// these few hundred hold nearly every split's winner (all but 5 % of the split pairs there):
/// the main sweep starts from the right winner and counts its ranks as it goes instead of in a
/// sweep of their own. Only a guess, ranked by `s1 |s1| / (n s2 - s1^2)` (the order of the
/// Sharpe ratios, up to rounding): the winners are then settled exactly.
fn head(sums: &[[f64; 2]], (blocks, len): (usize, usize), splits: &[Split], first: usize) -> Tiles {
    let half = blocks / 2;
    // `count` returns with sums `s1`, `s2`.
    #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
    let rank_key = |[s1, s2]: [f64; 2], count: usize| {
        let spread = count as f64 * s2 - s1 * s1;
        let key = if spread > 0.0 {
            s1 * s1.abs() / spread
        } else if s1 > 0.0 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
        if key.is_nan() { f64::NEG_INFINITY } else { key }
    };
    // The sums of a combination's blocks `set`.
    let total = |row: &[[f64; 2]], set: &[u8]| {
        set.iter().fold([0.0, 0.0], |t, &b| {
            let x = row[usize::from(b)];
            [t[0] + x[0], t[1] + x[1]]
        })
    };
    let best_first = |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    let rows = sums.len() / blocks;
    let step = splits.len().div_ceil(HEAD_SPLITS).max(1);
    let mut picked: Vec<usize> = splits
        .par_iter()
        .step_by(step)
        .flat_map_iter(|split| split.halves.map(|h| h[..half].to_vec()))
        .flat_map_iter(|half_blocks| {
            let mut keyed: Vec<(f64, usize)> = sums
                .chunks(blocks)
                .enumerate()
                .map(|(c, row)| (rank_key(total(row, &half_blocks), half * len), c))
                .collect();
            let take = HEAD_PER_HALF.min(rows);
            if take < rows {
                keyed.select_nth_unstable_by(take, best_first);
                keyed.truncate(take);
            }
            keyed.into_iter().map(|(_, c)| c)
        })
        .collect();
    picked.sort_unstable();
    picked.dedup();
    #[expect(clippy::cast_possible_truncation, reason = "at most 24 blocks")]
    let all_blocks: Vec<u8> = (0..blocks).map(|b| b as u8).collect();
    // Best first over all blocks: a split's winner comes early, and fewer lanes after it need
    // settling.
    let mut ranked: Vec<(f64, usize)> = picked
        .iter()
        .map(|&c| {
            let row = &sums[c * blocks..(c + 1) * blocks];
            (rank_key(total(row, &all_blocks), blocks * len), c)
        })
        .collect();
    ranked.sort_unstable_by(best_first);
    let picked: Vec<[f64; 2]> = ranked
        .iter()
        .flat_map(|&(_, c)| sums[c * blocks..(c + 1) * blocks].iter().copied())
        .collect();
    Tiles::new(
        &picked,
        blocks,
        ranked.iter().map(|&(_, c)| first + c).collect(),
    )
}

/// The logit of a winner's relative rank among `n` from the counts of out-of-sample Sharpe
/// ratios below and equal to its own (`equal >= 1`: its own): ascending, mid-rank for ties,
/// `rank = 1 + below + (equal - 1) / 2`, `w = rank / (N + 1)`, `ln(w / (1 - w))`.
#[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
pub(crate) fn logit(below: usize, equal: usize, n: usize) -> f64 {
    let rank = 1.0 + below as f64 + equal.saturating_sub(1) as f64 / 2.0;
    let w = rank / (n as f64 + 1.0);
    (w / (1.0 - w)).ln()
}

/// CSCV over `n` combinations of `s` blocks of `len` returns, whose block sums `pass` hands to
/// its callback a chunk of whole combinations at a time, in grid order, the same chunks each
/// time it is called (once when one chunk holds them all, otherwise once more for the halves
/// whose winner came late), on this processor's widest instruction set.
pub(crate) fn cscv<E>(
    shape: (usize, usize, usize),
    pass: Passes<'_, [[f64; 2]], E>,
) -> Result<Option<Pbo>, E> {
    cscv_on(Isa::detected(), shape, pass)
}

/// [`cscv`] on the instruction set `isa` (which must be available).
#[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
pub(crate) fn cscv_on<E>(
    isa: Isa,
    (n, s, len): (usize, usize, usize),
    pass: Passes<'_, [[f64; 2]], E>,
) -> Result<Option<Pbo>, E> {
    if n < 2 || s < 2 || !s.is_multiple_of(2) || s > 24 || len * s / 2 < 2 {
        return Ok(None);
    }
    let half = s / 2;
    // The splits in bit-mask order. The complement of the `i`-th of the `M` masks is the
    // `(M - 1 - i)`-th (complementing reverses the order), and a split and its complement use
    // the same two halves with the roles swapped. So each of the first `M / 2` masks works out
    // both halves of every combination once and gives two logits, its own and its
    // complement's.
    let masks: Vec<u32> = (0u32..(1 << s))
        .filter(|m| m.count_ones() as usize == half)
        .collect();
    // The first half of the masks, taken in the order of their bits reversed (block 0 decided
    // first, then block 1, ...): a split shares its first blocks' sides with the one before
    // it, so the sweeps add only the sums of the blocks after those (6.6 of 16 on average).
    let mut order: Vec<(usize, u32)> = masks[..masks.len() / 2]
        .iter()
        .copied()
        .enumerate()
        .collect();
    order.sort_unstable_by_key(|&(_, mask)| mask.reverse_bits());
    #[expect(clippy::cast_possible_truncation, reason = "at most 24 blocks")]
    let splits: Vec<Split> = order
        .iter()
        .map(|&(index, mask)| {
            let mut halves = [[0u8; 12]; 2];
            let mut taken = [0, 0];
            for block in 0..s {
                let side = usize::from(mask >> block & 1 == 0);
                halves[side][taken[side]] = block as u8;
                taken[side] += 1;
            }
            Split {
                mask,
                index,
                halves,
            }
        })
        .collect();
    let count = half * len;
    // A few runs of splits per thread: each run reads a chunk's tiles once.
    let tasks = 4 * rayon::current_num_threads();
    let mut winners = vec![[Half::NONE; 2]; splits.len()];
    // The main sweep: winners, and ranks against the winner so far, chunk by chunk; the first
    // chunk's head first. A chunk that holds every combination keeps its tiles for the recount.
    let (mut first, mut whole) = (0, None);
    pass(&mut |sums| {
        let rows = sums.len() / s;
        if first == 0 {
            let head = head(sums, (s, len), &splits, 0);
            in_tasks(&mut winners, &splits, tasks, |winners, splits| {
                sweep_on::<true, false>(isa, (&head, count), winners, splits);
            });
        }
        let tiles = Tiles::new(sums, s, (first..first + rows).collect());
        in_tasks(&mut winners, &splits, tasks, |winners, splits| {
            sweep_on::<true, true>(isa, (&tiles, count), winners, splits);
        });
        if rows == n {
            whole = Some(tiles);
        }
        first += rows;
        Ok(())
    })?;
    // The halves whose winner came late: their ranks again, against the final winner.
    let late: Vec<usize> = (0..splits.len())
        .filter(|&i| winners[i].iter().any(|w| w.recount))
        .collect();
    if !late.is_empty() {
        let mut again: Vec<[Half; 2]> = late.iter().map(|&i| winners[i]).collect();
        for half in again.iter_mut().flatten().filter(|w| w.recount) {
            (half.below, half.equal) = (0, 0);
        }
        let again_splits: Vec<Split> = late.iter().map(|&i| splits[i]).collect();
        let mut recount = |tiles: &Tiles| {
            in_tasks(&mut again, &again_splits, tasks, |winners, splits| {
                sweep_on::<false, true>(isa, (tiles, count), winners, splits);
            });
        };
        match &whole {
            Some(tiles) => recount(tiles),
            None => {
                let mut first = 0;
                pass(&mut |sums| {
                    let rows = sums.len() / s;
                    recount(&Tiles::new(sums, s, (first..first + rows).collect()));
                    first += rows;
                    Ok(())
                })?;
            }
        }
        for (&i, pair) in late.iter().zip(again) {
            winners[i] = pair;
        }
    }
    let mut logits = vec![0.0; masks.len()];
    for ([own, complement], split) in winners.iter().zip(&splits) {
        logits[split.index] = logit(own.below, own.equal, n);
        logits[masks.len() - 1 - split.index] = logit(complement.below, complement.equal, n);
    }
    let overfit = logits.iter().filter(|l| **l <= 0.0).count();
    Ok(Some(Pbo {
        pbo: overfit as f64 / logits.len() as f64,
        splits: logits.len(),
        blocks: s,
        block_len: len,
        logits,
    }))
}

/// `work` on runs of `splits` and their `winners`, about `tasks` runs in parallel.
fn in_tasks(
    winners: &mut [[Half; 2]],
    splits: &[Split],
    tasks: usize,
    work: impl Fn(&mut [[Half; 2]], &[Split]) + Sync,
) {
    let per_task = splits.len().div_ceil(tasks).max(1);
    winners
        .par_chunks_mut(per_task)
        .zip(splits.par_chunks(per_task))
        .for_each(|(winners, splits)| work(winners, splits));
}
