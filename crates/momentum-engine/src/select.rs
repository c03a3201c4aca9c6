//! Top-k selection with the spec's tie rule, and the per-lookback rank table the grid shares.

use std::cmp::Ordering;

use momentum_features::PricePanel;
use rayon::prelude::*;

use crate::error::Result;

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

/// For one `(lookback, skip)`, the best `width` tickers of every day, best first.
///
/// The grid shares one table across every holding and top_k: the top `K` of a day is the first
/// `min(K, eligible)` entries of its row, because the order is total. Memory is
/// `T * width * 4` bytes.
#[derive(Debug, Clone)]
pub struct RankTable {
    lookback: usize,
    skip: usize,
    width: usize,
    counts: Vec<u32>,
    ranked: Vec<u32>,
}

impl RankTable {
    /// Ranks every day `t` in `[lookback, T)` (earlier rows are empty), in parallel over days
    /// on the current rayon pool; the result does not depend on the number of threads.
    pub fn build(panel: &PricePanel, lookback: usize, skip: usize, width: usize) -> Result<Self> {
        momentum_features::validate_lookback_skip(lookback, skip)?;
        let (t_len, n) = (panel.n_days(), panel.n_tickers());
        let width = width.min(n).max(1);
        let mut counts = vec![0u32; t_len];
        let mut ranked = vec![0u32; t_len * width];
        let close = panel.close_flat();
        const CHUNK: usize = 256;
        counts
            .par_chunks_mut(CHUNK)
            .zip(ranked.par_chunks_mut(CHUNK * width))
            .enumerate()
            .for_each_init(
                || (vec![0.0; n], Vec::with_capacity(n)),
                |(scores, sel), (c, (cnt, rows))| {
                    for (j, count) in cnt.iter_mut().enumerate() {
                        let t = c * CHUNK + j;
                        if t < lookback {
                            continue;
                        }
                        momentum_features::scores_unchecked(close, n, t, lookback, skip, scores);
                        select_top_k_into(scores, width, sel);
                        #[expect(
                            clippy::cast_possible_truncation,
                            reason = "ticker counts fit u32"
                        )]
                        {
                            *count = sel.len() as u32;
                            for (slot, &i) in rows[j * width..].iter_mut().zip(sel.iter()) {
                                *slot = i as u32;
                            }
                        }
                    }
                },
            );
        Ok(Self {
            lookback,
            skip,
            width,
            counts,
            ranked,
        })
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
    fn ratios_that_round_to_the_same_score_tie() {
        // 0.3/0.1 and 3/1 differ as ratios of decimals but not necessarily in f64.
        let a = 1.1 / 1.0 - 1.0;
        let b = 2.2 / 2.0 - 1.0;
        assert_eq!(a, b);
        assert_eq!(select_top_k(&[a, b], 1), vec![0]);
        assert_eq!(select_top_k(&[b, a], 1), vec![0]);
    }
}
