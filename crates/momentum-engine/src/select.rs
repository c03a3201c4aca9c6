//! Top-k selection with the spec's tie rule, and the per-lookback rank table the grid shares.

use std::cmp::Ordering;

use momentum_features::PricePanel;
use rayon::prelude::*;

use crate::error::Result;
use crate::isa::Isa;
use crate::lanes::F64x2;
use crate::params::Window;

/// Rank order of two eligible tickers: higher score first, equal scores to the lower index.
/// Scores compare as `f64` values (`-0.0 == 0.0`), so ratios that round to the same `m` tie.
#[inline]
fn rank_order(scores: &[f64], a: usize, b: usize) -> Ordering {
    scores[b]
        .partial_cmp(&scores[a])
        .unwrap_or(Ordering::Equal)
        .then(a.cmp(&b))
}

/// The `k` eligible tickers with the highest score, best first (spec rule 3).
///
/// `scores[i]` is NaN for an ineligible ticker (as [`momentum_features::momentum_scores`]
/// writes it). Equal scores go to the lower index. Fewer than `k` eligible: all of them; none:
/// empty.
///
/// ```
/// use momentum_engine::select_top_k;
///
/// let scores = [0.1, f64::NAN, 0.3, 0.1];
/// // Ticker 0 and ticker 3 tie: the lower index goes first. Ticker 1 is not eligible.
/// assert_eq!(select_top_k(&scores, 2), [2, 0]);
/// assert_eq!(select_top_k(&scores, 10), [2, 0, 3]);
/// assert!(select_top_k(&[f64::NAN], 1).is_empty());
/// ```
pub fn select_top_k(scores: &[f64], k: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(k.min(scores.len()));
    select_top_k_into(scores, k, &mut out);
    out
}

/// [`select_top_k`] into a reusable buffer (cleared first); allocates nothing once `out` has
/// room for the eligible tickers.
pub fn select_top_k_into(scores: &[f64], k: usize, out: &mut Vec<usize>) {
    out.clear();
    out.extend((0..scores.len()).filter(|&i| !scores[i].is_nan()));
    if k == 0 {
        out.clear();
        return;
    }
    if out.len() > k {
        out.select_nth_unstable_by(k - 1, |&a, &b| rank_order(scores, a, b));
        out.truncate(k);
    }
    out.sort_unstable_by(|&a, &b| rank_order(scores, a, b));
}

/// Up to this `k`, [`RankTable::build`] ranks by insertion into a short sorted list.
const SMALL_K: usize = 16;

/// The best tickers inserted so far, best first, at most `k` (`<= SMALL_K`) of them.
struct ShortList {
    scores: [f64; SMALL_K],
    tickers: [usize; SMALL_K],
    len: usize,
    k: usize,
}

impl ShortList {
    fn new(k: usize) -> Self {
        debug_assert!((1..=SMALL_K).contains(&k));
        Self {
            scores: [0.0; SMALL_K],
            tickers: [0; SMALL_K],
            len: 0,
            k,
        }
    }

    /// Whether the entry at `p` ranks below ticker `i` with score `sc`: a lower score, or an
    /// equal one with a higher index.
    #[inline(always)]
    fn below(&self, p: usize, i: usize, sc: f64) -> bool {
        self.scores[p] < sc || (self.scores[p] == sc && self.tickers[p] > i)
    }

    /// Inserts eligible ticker `i` (`sc` not NaN) in rank order, unless `k` tickers rank above
    /// it. Rank order is total, so the list does not depend on the order of the insertions.
    #[inline(always)]
    fn insert(&mut self, i: usize, sc: f64) {
        if self.len == self.k {
            if !self.below(self.k - 1, i, sc) {
                return;
            }
            self.len -= 1;
        }
        let mut p = self.len;
        while p > 0 && self.below(p - 1, i, sc) {
            self.scores[p] = self.scores[p - 1];
            self.tickers[p] = self.tickers[p - 1];
            p -= 1;
        }
        self.scores[p] = sc;
        self.tickers[p] = i;
        self.len += 1;
    }
}

/// [`select_top_k_into`] for a small `k >= 1`: the eligible tickers inserted one by one into a
/// sorted list of the best `k` so far.
///
/// `out` comes in holding any earlier selection (the previous day's, when ranking day after
/// day). If it names `k` distinct tickers that are all eligible now, two things follow:
/// - the `k`-th best score is at least the lowest of theirs, so a ticker scoring below that
///   cannot enter and is passed over with one comparison;
/// - they go in first, in their earlier order: from one day to the next that order mostly
///   holds, so each lands behind the one before without moving anything, and the insertion
///   loop ends where the branch predictor expects it (in index order, each insertion moved a
///   varying number of entries).
///
/// The result does not depend on what `out` held. `scores` of the tickers inserted from `out`
/// are overwritten with NaN, which keeps them out of the pass over the others.
#[inline(always)]
fn select_top_small_k(scores: &mut [f64], k: usize, out: &mut Vec<usize>) {
    let mut list = ShortList::new(k);
    let mut floor = f64::NEG_INFINITY;
    if out.len() == k {
        // An ineligible ticker among them (NaN) leaves no bound.
        let (mut lowest, mut eligible) = (f64::INFINITY, true);
        for &i in out.iter() {
            let sc = scores.get(i).copied().unwrap_or(f64::NAN);
            eligible &= !sc.is_nan();
            lowest = if sc < lowest { sc } else { lowest };
        }
        if eligible {
            for &i in out.iter() {
                // A ticker named twice is NaN the second time: inserted already.
                if !scores[i].is_nan() {
                    list.insert(i, scores[i]);
                    scores[i] = f64::NAN;
                }
            }
            // The bound needs `k` distinct tickers.
            if list.len == k {
                floor = lowest;
            }
        }
    }
    // The other tickers that can enter (at or above the floor; NaN, ineligible or inserted
    // above, is not), 64 at a time as bits without a branch, then only those, in index order.
    let floor_pair = F64x2::splat(floor);
    for (word, chunk) in scores.chunks(64).enumerate() {
        let pairs = chunk.chunks_exact(2);
        let mut bits = match pairs.remainder() {
            [sc] => u64::from(*sc >= floor) << (chunk.len() - 1),
            _ => 0,
        };
        for (b, pair) in pairs.enumerate() {
            bits |= u64::from(floor_pair.le(F64x2::load(pair)).bits()) << (2 * b);
        }
        while bits != 0 {
            let i = word * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            list.insert(i, scores[i]);
        }
    }
    out.clear();
    out.extend_from_slice(&list.tickers[..list.len]);
}

/// For one `(lookback, skip)`, the best `width` tickers of every day, best first.
///
/// The grid shares one table across every holding and top_k: the top `K` of a day is the first
/// `min(K, eligible)` entries of its row, because the order is total. Memory is
/// `T * (4 + 12 * width + 4 * N)` bytes: the counts, the ranked tickers with their reciprocal
/// prices, and every ticker's place in each row.
#[derive(Debug, Clone)]
pub struct RankTable {
    lookback: usize,
    skip: usize,
    width: usize,
    counts: Vec<u32>,
    ranked: Vec<u32>,
    /// `1 / P[t, i]` of each ranked ticker (eligible, so its close is finite and positive):
    /// what a rebalance needs next to the ranks, computed once per table.
    inverse: Vec<f64>,
    /// `places[t * N + i]`: the place of ticker `i` in the row of day `t` (0 for the best),
    /// [`NOT_RANKED`] outside it: a rebalance finds where each held ticker went without a
    /// search.
    places: Vec<u32>,
    /// Tickers: the length of a row of `places`.
    tickers: usize,
}

/// The place of a ticker that is not in a day's ranked row.
pub(crate) const NOT_RANKED: u32 = u32::MAX;

impl RankTable {
    /// Ranks every day `t` in `[lookback, T)` (earlier rows are empty), in parallel over days
    /// on the current rayon pool; the result does not depend on the number of threads.
    ///
    /// # Errors
    /// [`crate::EngineError::Features`] unless `lookback >= 1` and `skip < lookback`.
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_engine::{PricePanel, RankTable};
    ///
    /// let dates = (1..=4).map(|d| chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap()).collect();
    /// let nan = f64::NAN;
    /// let close = ndarray::array![
    ///     [10.0, 10.0, nan],
    ///     [11.0, 10.0, 5.0],
    ///     [12.0, 15.0, 5.0],
    ///     [13.0, 9.0, 6.0],
    /// ];
    /// let panel = PricePanel::new(dates, vec!["A".into(), "B".into(), "C".into()], close)?;
    /// let table = RankTable::build(&panel, 2, 0, 2)?;
    /// // Days before the lookback have no ranks.
    /// assert!(table.top(1, 2).is_empty());
    /// // Day 2: B +50 %, A +20 %; C had no price two days before, so it is not eligible.
    /// assert_eq!(table.top(2, 2), [1, 0]);
    /// // Day 3: C +20 % (6 / 5), A +18 % (13 / 11), B -10 %.
    /// assert_eq!(table.top(3, 2), [2, 0]);
    /// assert_eq!(table.top(3, 1), [2]);
    /// # Ok::<(), momentum_engine::EngineError>(())
    /// ```
    pub fn build(panel: &PricePanel, lookback: usize, skip: usize, width: usize) -> Result<Self> {
        Self::build_within(panel, (lookback, skip, width), Window::full(panel.n_days()))
    }

    /// [`Self::build`] ranking only the days of `within` ([`Self::rebuild`]).
    pub(crate) fn build_within(
        panel: &PricePanel,
        (lookback, skip, width): (usize, usize, usize),
        within: Window,
    ) -> Result<Self> {
        let mut table = Self {
            lookback,
            skip,
            width,
            counts: Vec::new(),
            ranked: Vec::new(),
            inverse: Vec::new(),
            places: Vec::new(),
            tickers: 0,
        };
        table.rebuild(panel, (lookback, skip, width), within)?;
        Ok(table)
    }

    /// [`Self::build`] into this table's memory (the grid ranks lookback after lookback without
    /// allocating, and faulting in, new tables each time), ranking only the days of `within`
    /// (a simulation over a window reads no other row; the rows of other days are empty). A
    /// search's walk-forward fold ranks its five years, not the whole panel.
    pub(crate) fn rebuild(
        &mut self,
        panel: &PricePanel,
        (lookback, skip, width): (usize, usize, usize),
        within: Window,
    ) -> Result<()> {
        momentum_features::validate_lookback_skip(lookback, skip)?;
        let (t_len, n) = (panel.n_days(), panel.n_tickers());
        let width = width.min(n).max(1);
        let Self {
            counts,
            ranked,
            inverse,
            places,
            tickers,
            ..
        } = self;
        *tickers = n;
        // Rows beyond a day's count are never read, so only the counts (of the days before the
        // lookback or outside `within`) need clearing.
        counts.clear();
        counts.resize(t_len, 0);
        ranked.resize(t_len * width, 0);
        inverse.resize(t_len * width, 0.0);
        places.clear();
        places.resize(t_len * n, NOT_RANKED);
        let close = panel.close_flat();
        let isa = Isa::detected();
        const CHUNK: usize = 256;
        counts
            .par_chunks_mut(CHUNK)
            .zip(ranked.par_chunks_mut(CHUNK * width))
            .zip(inverse.par_chunks_mut(CHUNK * width))
            // (Without tickers `places` is empty and no day has a row: no chunks at all.)
            .zip(places.par_chunks_mut(CHUNK * n.max(1)))
            .enumerate()
            .for_each_init(
                || (vec![0.0; n], Vec::with_capacity(n)),
                |working, (c, (((counts, rows), inverse), places))| {
                    let days = Days {
                        close,
                        ranking: (n, lookback, skip, width),
                        first: c * CHUNK,
                        within,
                    };
                    rank_days(isa, days, (counts, rows, inverse, places), working);
                },
            );
        (self.lookback, self.skip, self.width) = (lookback, skip, width);
        Ok(())
    }

    /// The lookback this table ranks.
    pub fn lookback(&self) -> usize {
        self.lookback
    }

    /// The skip this table ranks.
    pub fn skip(&self) -> usize {
        self.skip
    }

    /// Largest `k` the table can answer exactly.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The top `min(k, eligible, width)` tickers of day `t`, best first.
    #[inline]
    pub fn top(&self, t: usize, k: usize) -> &[u32] {
        let m = (self.counts[t] as usize).min(k);
        &self.ranked[t * self.width..t * self.width + m]
    }

    /// [`Self::top`] and `1 / P[t, i]` of each of those tickers.
    #[inline]
    pub(crate) fn top_with_inverse(&self, t: usize, k: usize) -> (&[u32], &[f64]) {
        let m = (self.counts[t] as usize).min(k);
        let at = t * self.width;
        (&self.ranked[at..at + m], &self.inverse[at..at + m])
    }

    /// The place of every ticker in the row of day `t`, [`NOT_RANKED`] outside it.
    #[inline]
    pub(crate) fn places(&self, t: usize) -> &[u32] {
        &self.places[t * self.tickers..(t + 1) * self.tickers]
    }
}

/// A run of days for [`rank_days`]: the panel's closes, what to rank (`n` tickers, lookback,
/// skip, width), the run's first day, and the days to rank at all.
#[derive(Clone, Copy)]
struct Days<'a> {
    close: &'a [f64],
    ranking: (usize, usize, usize, usize),
    first: usize,
    within: Window,
}

/// The rows of a run of days (`counts.len()` of them from `days.first`) of a [`RankTable`],
/// compiled for the instruction set `isa` (which must be available); `working` is the scores'
/// and selection's memory, reused from run to run.
fn rank_days(
    isa: Isa,
    days: Days<'_>,
    rows: (&mut [u32], &mut [u32], &mut [f64], &mut [u32]),
    working: &mut (Vec<f64>, Vec<usize>),
) {
    #[cfg(target_arch = "x86_64")]
    #[expect(
        unsafe_code,
        reason = "calling a `#[target_feature]` function; `available` checked the feature"
    )]
    match isa {
        // SAFETY: the caller hands out only available instruction sets (`Isa::detected`).
        Isa::Avx2 | Isa::Avx512 => unsafe { x86::rank_days_avx2(days, rows, working) },
        Isa::Portable => rank_days_inlined(days, rows, working),
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = isa;
        rank_days_inlined(days, rows, working);
    }
}

/// [`rank_days_inlined`] compiled for AVX2 (as the simulation, `sim.rs`).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Days, rank_days_inlined};

    #[target_feature(enable = "avx2")]
    pub(super) fn rank_days_avx2(
        days: Days<'_>,
        rows: (&mut [u32], &mut [u32], &mut [f64], &mut [u32]),
        working: &mut (Vec<f64>, Vec<usize>),
    ) {
        rank_days_inlined(days, rows, working);
    }
}

/// [`rank_days`]'s body, with the scoring and the selection inlined into it.
#[inline(always)]
fn rank_days_inlined(
    days: Days<'_>,
    (counts, rows, inverse, places): (&mut [u32], &mut [u32], &mut [f64], &mut [u32]),
    (scores, sel): &mut (Vec<f64>, Vec<usize>),
) {
    let Days {
        close,
        ranking: (n, lookback, skip, width),
        first,
        within,
    } = days;
    for (j, count) in counts.iter_mut().enumerate() {
        let t = first + j;
        if t < lookback || t < within.start || t > within.end {
            continue;
        }
        momentum_features::scores_of_closes(close, n, t, (lookback, skip), scores);
        if width <= SMALL_K {
            select_top_small_k(scores, width, sel);
        } else {
            select_top_k_into(scores, width, sel);
        }
        #[expect(clippy::cast_possible_truncation, reason = "ticker counts fit u32")]
        {
            *count = sel.len() as u32;
            let place_row = &mut places[j * n..(j + 1) * n];
            for (r, ((slot, inv), &i)) in rows[j * width..]
                .iter_mut()
                .zip(&mut inverse[j * width..])
                .zip(sel.iter())
                .enumerate()
            {
                *slot = i as u32;
                *inv = 1.0 / close[t * n + i];
                place_row[i] = r as u32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_lower_index_and_nan_is_ineligible() {
        let s = [0.1, f64::NAN, 0.3, 0.1, 0.3, -0.0, 0.0];
        assert_eq!(select_top_k(&s, 3), vec![2, 4, 0]);
        assert_eq!(select_top_k(&s, 10), vec![2, 4, 0, 3, 5, 6]);
        assert_eq!(select_top_k(&s, 1), vec![2]);
        assert!(select_top_k(&[f64::NAN, f64::NAN], 2).is_empty());
        // -0.0 and 0.0 are equal scores: lower index first.
        assert_eq!(select_top_k(&[0.0, -0.0, 0.0], 3), vec![0, 1, 2]);
        assert_eq!(select_top_k(&[-0.0, 0.0], 1), vec![0]);
    }

    #[test]
    fn every_instruction_set_ranks_the_same_rows() {
        // `rank_days` is compiled once per instruction set; each copy must write the portable
        // one's rows: closes with gaps, zeros and ties (rounded prices), small and large widths.
        let (days, n) = (60, 23);
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let close: Vec<f64> = (0..days * n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                match state % 16 {
                    0 => f64::NAN,
                    1 => 0.0,
                    #[expect(clippy::cast_precision_loss, reason = "test noise")]
                    r => (10 + r % 4) as f64 + (state >> 40) as f64 / (1u64 << 24) as f64,
                }
            })
            .collect();
        let rows_on = |isa: Isa, width: usize| {
            let mut rows = (
                vec![0; days],
                vec![0; days * width],
                vec![0.0; days * width],
                vec![NOT_RANKED; days * n],
            );
            let days = Days {
                close: &close,
                ranking: (n, 5, 1, width),
                first: 0,
                within: Window { start: 0, end: 55 },
            };
            let (counts, ranked, inverse, places) = &mut rows;
            rank_days(
                isa,
                days,
                (counts, ranked, inverse, places),
                &mut (vec![0.0; n], Vec::new()),
            );
            let inverse: Vec<u64> = rows.2.iter().map(|x| x.to_bits()).collect();
            (rows.0, rows.1, inverse, rows.3)
        };
        for width in [1, 3, 7, 16, 20] {
            let portable = rows_on(Isa::Portable, width);
            assert!(portable.0[5..=55].iter().all(|&count| count > 0));
            for isa in Isa::ALL.into_iter().filter(|isa| isa.available()) {
                assert!(rows_on(isa, width) == portable, "{isa:?}, width {width}");
            }
        }
    }

    #[test]
    fn small_k_insertion_matches_the_general_selection() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut fast = Vec::new();
        for case in 0..2000 {
            // Mostly small universes, some over several 64-ticker words.
            let n = (next() % if case % 4 == 0 { 200 } else { 30 }) as usize;
            // Few distinct values so that ties, -0.0 and NaN are common.
            let scores: Vec<f64> = (0..n)
                .map(|_| match next() % 7 {
                    0 => f64::NAN,
                    1 => -0.0,
                    2 => 0.0,
                    v => (v as f64 - 4.0) * 0.25,
                })
                .collect();
            let mut eligible: Vec<usize> = (0..n).filter(|&i| !scores[i].is_nan()).collect();
            for k in 1..=SMALL_K {
                let want = select_top_k(&scores, k);
                let mut shuffle = |list: &mut Vec<usize>| {
                    let len = list.len();
                    for a in 0..len {
                        list.swap(a, a + (next() % (len - a) as u64) as usize);
                    }
                };
                // Arbitrary tickers, some out of range or ineligible.
                let mut random: Vec<usize> = (0..n + 10).collect();
                shuffle(&mut random);
                random.truncate(k);
                // k eligible tickers in any order: the bound holds and they go in first.
                shuffle(&mut eligible);
                let some_eligible = eligible[..k.min(eligible.len())].to_vec();
                // The right tickers, two of them swapped; one replaced by another eligible one.
                let mut swapped = want.clone();
                if swapped.len() >= 2 {
                    let last = swapped.len() - 1;
                    swapped.swap(0, last);
                }
                let mut replaced = want.clone();
                if let (Some(first), Some(&other)) = (
                    replaced.first_mut(),
                    eligible.iter().find(|i| !want.contains(i)),
                ) {
                    *first = other;
                }
                // A ticker named twice: `k` entries, fewer distinct tickers.
                let twice: Vec<usize> = want.iter().map(|&i| i.min(want[0])).collect();
                let hints = [
                    Vec::new(),
                    fast.clone(),
                    random,
                    some_eligible,
                    swapped,
                    replaced,
                    twice,
                    want.clone(),
                ];
                // Whatever the previous selection was, the result is the general selection's.
                for (h, hint) in hints.into_iter().enumerate() {
                    fast = hint;
                    select_top_small_k(&mut scores.clone(), k, &mut fast);
                    assert_eq!(fast, want, "case {case} k {k} hint {h}");
                }
            }
        }
        // A ticker named twice left a floor that was too high: ticker 1 was passed over.
        let mut twice = vec![3, 3];
        select_top_small_k(&mut [0.1, 0.2, 0.0, 0.3], 2, &mut twice);
        assert_eq!(twice, [3, 1]);
    }

    #[test]
    fn places_name_each_tickers_place_in_its_days_row() {
        // Five tickers over six days: one listed late, one with a gap, two that always tie.
        let nan = f64::NAN;
        let rows = [
            [10.0, 20.0, nan, 5.0, 5.0],
            [11.0, 19.0, nan, 5.5, 5.5],
            [12.0, nan, 30.0, 6.0, 6.0],
            [11.5, 21.0, 31.0, 6.6, 6.6],
            [13.0, 22.0, 29.0, 6.0, 6.0],
            [12.5, 18.0, 33.0, 7.0, 7.0],
        ];
        let close = ndarray::Array2::from_shape_fn((6, 5), |(t, i)| rows[t][i]);
        let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
        let dates: Vec<_> = (0..6u64).map(|d| start + chrono::Days::new(d)).collect();
        let tickers = (0..5).map(|i| format!("T{i}")).collect();
        let panel = PricePanel::new(dates.clone(), tickers, close).expect("panel");
        let table = RankTable::build(&panel, 2, 0, 3).expect("table");
        // Day 4 (lookback 2: day 2 to day 4): T0 +8.3 %, T1 not eligible (no close on day 2),
        // T2 -3.3 %, T3 and T4 0 % (equal: the lower index first).
        assert_eq!(table.top(4, 3), [0, 3, 4]);
        assert_eq!(table.places(4), [0, NOT_RANKED, NOT_RANKED, 1, 2]);
        let empty = PricePanel::new(dates, Vec::new(), ndarray::Array2::zeros((6, 0)))
            .expect("a panel without tickers");
        let none = RankTable::build(&empty, 2, 0, 3).expect("table");
        assert!((0..6).all(|t| none.top(t, 3).is_empty() && none.places(t).is_empty()));
        for t in 0..6 {
            let row = table.top(t, 3);
            for (i, &place) in table.places(t).iter().enumerate() {
                let want = row.iter().position(|&r| r as usize == i);
                assert_eq!(
                    place,
                    want.map_or(NOT_RANKED, |p| p as u32),
                    "day {t} ticker {i}"
                );
            }
        }
    }

    #[test]
    fn ratios_that_round_to_the_same_score_tie() {
        // 0.3/0.1 and 3/1 differ as ratios of decimals but not necessarily in f64.
        let a = 1.1 / 1.0 - 1.0;
        let b = 2.2 / 2.0 - 1.0;
        assert_eq!(a, b);
        assert_eq!(select_top_k(&[a, b], 1), vec![0]);
        assert_eq!(select_top_k(&[b, a], 1), vec![0]);
    }
}
