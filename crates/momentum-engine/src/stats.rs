//! Is the winner luck? The selection statistics of the spec: PSR, DSR and PBO by CSCV.
//!
//! All Sharpe ratios here are per period (daily), not annualised.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

use std::convert::Infallible;

use crate::cscv::cscv;
use crate::rows::GridRows;

/// The Euler-Mascheroni constant as the spec writes it.
pub const EULER_GAMMA: f64 = 0.577_215_664_9;

/// The standard normal distribution, for `Phi` and `Phi^-1`.
pub(crate) fn std_normal() -> Normal {
    Normal::new(0.0, 1.0).expect("the standard normal is valid")
}

/// Sample moments of a return series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Number of observations.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Standard deviation with ddof = 1 (0 when `n < 2`).
    pub std: f64,
    /// Per-period Sharpe ratio `mean / std` (0 when `std` is 0 or `n < 2`).
    pub sharpe: f64,
    /// Skewness `m3 / m2^1.5` with population central moments `m_k = mean((r - mean)^k)`.
    pub skewness: f64,
    /// Non-excess kurtosis `m4 / m2^2` (3 for a normal distribution).
    pub kurtosis: f64,
}

/// Mean, std (ddof 1), Sharpe, skewness and non-excess kurtosis of `r`.
///
/// Skewness and kurtosis use the population (biased, ddof = 0) central moments, as Bailey and
/// Lopez de Prado do; both are NaN when `m2` is 0.
///
/// ```
/// use momentum_engine::moments;
///
/// // Mean 0.01, each return 0.01 away from it.
/// let m = moments(&[0.02, 0.0, 0.02, 0.0]);
/// assert_eq!(m.n, 4);
/// assert!((m.mean - 0.01).abs() < 1e-15);
/// // std with ddof 1: sqrt(4 * 0.01^2 / 3).
/// assert!((m.std - 0.01 * (4.0_f64 / 3.0).sqrt()).abs() < 1e-15);
/// assert!((m.sharpe - 3.0_f64.sqrt() / 2.0).abs() < 1e-12);
/// // Symmetric (skewness 0), two-valued (kurtosis 1, its minimum).
/// assert!(m.skewness.abs() < 1e-9);
/// assert!((m.kurtosis - 1.0).abs() < 1e-9);
/// assert!(moments(&[0.01, 0.01]).skewness.is_nan());
/// ```
#[expect(
    clippy::cast_precision_loss,
    reason = "series lengths are far below 2^52"
)]
pub fn moments(r: &[f64]) -> Moments {
    let n = r.len();
    let nf = n as f64;
    let mean = r.iter().sum::<f64>() / nf;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for &x in r {
        let d = x - mean;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    let std = if n >= 2 {
        (m2 / (nf - 1.0)).sqrt()
    } else {
        0.0
    };
    let (m2, m3, m4) = (m2 / nf, m3 / nf, m4 / nf);
    Moments {
        n,
        mean,
        std,
        sharpe: if n >= 2 && std > 0.0 { mean / std } else { 0.0 },
        skewness: m3 / m2.powf(1.5),
        kurtosis: m4 / (m2 * m2),
    }
}

/// Probabilistic Sharpe Ratio: the probability that the true Sharpe ratio exceeds `sr_star`
/// given an observed per-period `sr` over `n` returns with skewness `skewness` (`g3`) and
/// non-excess kurtosis `kurtosis` (`g4`):
///
/// `PSR(SR*) = Phi( (SR - SR*) * sqrt(n - 1) / sqrt(1 - g3*SR + (g4 - 1)/4 * SR^2) )`.
///
/// NaN when `n < 2` or the term under the root is not positive.
///
/// ```
/// use momentum_engine::probabilistic_sharpe_ratio;
///
/// // An observed Sharpe of 0 over 101 normal returns (skewness 0, kurtosis 3) against a
/// // benchmark of -0.1: z = 0.1 * sqrt(100) / 1 = 1, and Phi(1) = 0.8413...
/// let psr = probabilistic_sharpe_ratio(0.0, -0.1, 101, 0.0, 3.0);
/// assert!((psr - 0.841_344_746_068_543).abs() < 1e-9);
/// // Observed exactly at the benchmark: a coin toss.
/// assert_eq!(probabilistic_sharpe_ratio(0.1, 0.1, 101, 0.0, 3.0), 0.5);
/// assert!(probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0).is_nan());
/// ```
///
/// # References
/// Bailey, D. H. and Lopez de Prado, M. (2012), "The Sharpe Ratio Efficient Frontier",
/// Journal of Risk 15(2), eq. for PSR.
#[expect(
    clippy::cast_precision_loss,
    reason = "series lengths are far below 2^52"
)]
pub fn probabilistic_sharpe_ratio(
    sr: f64,
    sr_star: f64,
    n: usize,
    skewness: f64,
    kurtosis: f64,
) -> f64 {
    let var = 1.0 - skewness * sr + (kurtosis - 1.0) / 4.0 * sr * sr;
    if n < 2 || var.is_nan() || var <= 0.0 {
        return f64::NAN;
    }
    let z = (sr - sr_star) * ((n - 1) as f64).sqrt() / var.sqrt();
    std_normal().cdf(z)
}

/// The expected maximum Sharpe ratio of `trials` independent trials with zero true Sharpe and
/// variance `var_trials` of their Sharpe ratios, the DSR's benchmark `SR0`:
///
/// `SR0 = sqrt(Var) * ((1 - gamma) * Phi^-1(1 - 1/N) + gamma * Phi^-1(1 - 1/(N e)))`,
/// `gamma` = 0.5772156649. With a single trial there is no selection and `SR0 = 0`.
///
/// # References
/// Bailey, D. H. and Lopez de Prado, M. (2014), "The Deflated Sharpe Ratio: Correcting for
/// Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management
/// 40(5), eq. (2) (false strategy theorem).
#[expect(
    clippy::cast_precision_loss,
    reason = "trial counts are far below 2^52"
)]
pub fn expected_max_sharpe(var_trials: f64, trials: usize) -> f64 {
    if trials < 2 {
        return 0.0;
    }
    let n = trials as f64;
    let phi = std_normal();
    var_trials.sqrt()
        * ((1.0 - EULER_GAMMA) * phi.inverse_cdf(1.0 - 1.0 / n)
            + EULER_GAMMA * phi.inverse_cdf(1.0 - 1.0 / (n * std::f64::consts::E)))
}

/// Deflated Sharpe Ratio: [`probabilistic_sharpe_ratio`] against the benchmark
/// [`expected_max_sharpe`] of the trials, `DSR = PSR(SR0)`.
///
/// `trial_sharpes` are the per-period Sharpe ratios of all `N` trials on the selection
/// window; `Var[SR_trials]` is their population variance (ddof = 0: the `N` trials are the
/// whole set tried, not a sample of it).
///
/// ```
/// use momentum_engine::{
///     deflated_sharpe_ratio, expected_max_sharpe, probabilistic_sharpe_ratio, variance_ddof0,
/// };
///
/// let (sr, n, skewness, kurtosis) = (0.1, 253, 0.0, 3.0);
/// // One trial: nothing was selected, and the DSR is PSR(0).
/// let psr0 = probabilistic_sharpe_ratio(sr, 0.0, n, skewness, kurtosis);
/// assert_eq!(deflated_sharpe_ratio(sr, n, skewness, kurtosis, &[sr]), psr0);
/// // The best of four trials is held to the Sharpe ratio luck alone would have reached.
/// let trials = [0.1, -0.05, 0.02, 0.04];
/// let sr0 = expected_max_sharpe(variance_ddof0(&trials), trials.len());
/// assert!(sr0 > 0.0);
/// let dsr = deflated_sharpe_ratio(sr, n, skewness, kurtosis, &trials);
/// assert_eq!(dsr, probabilistic_sharpe_ratio(sr, sr0, n, skewness, kurtosis));
/// assert!(dsr < psr0);
/// ```
///
/// # References
/// Bailey, D. H. and Lopez de Prado, M. (2014), "The Deflated Sharpe Ratio", Journal of
/// Portfolio Management 40(5), eq. (2)-(3).
pub fn deflated_sharpe_ratio(
    sr: f64,
    n: usize,
    skewness: f64,
    kurtosis: f64,
    trial_sharpes: &[f64],
) -> f64 {
    let sr0 = expected_max_sharpe(variance_ddof0(trial_sharpes), trial_sharpes.len());
    probabilistic_sharpe_ratio(sr, sr0, n, skewness, kurtosis)
}

/// Population variance (ddof = 0); 0 for fewer than 2 values.
pub fn variance_ddof0(x: &[f64]) -> f64 {
    let Ok(variance) =
        variance_of_passes::<Infallible>(x.len(), &mut |value| x.iter().try_for_each(value));
    variance
}

/// A source read in passes: each call hands every item, in the same order each time, to its
/// callback (values one by one, or chunks of block sums), and stops at the callback's error.
pub(crate) type Passes<'a, T, E> =
    &'a mut dyn FnMut(&mut dyn FnMut(&T) -> Result<(), E>) -> Result<(), E>;

/// [`variance_ddof0`] of `n` values that `pass` hands to its callback, in the same order each
/// time it is called (twice: for the mean, then for the squared deviations): values read a
/// chunk at a time give the same bits as one slice.
///
/// # Errors
/// `pass`'s error.
#[expect(
    clippy::cast_precision_loss,
    reason = "trial counts are far below 2^52"
)]
pub(crate) fn variance_of_passes<E>(n: usize, pass: Passes<'_, f64, E>) -> Result<f64, E> {
    if n < 2 {
        return Ok(0.0);
    }
    let count = n as f64;
    // `-0.0`: where `Iterator::sum` of `f64` starts.
    let mut sum = -0.0;
    pass(&mut |v| {
        sum += *v;
        Ok(())
    })?;
    let mean = sum / count;
    let mut squares = -0.0;
    pass(&mut |v| {
        squares += (v - mean) * (v - mean);
        Ok(())
    })?;
    Ok(squares / count)
}

/// The outcome of CSCV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pbo {
    /// Fraction of splits whose in-sample winner ranks in the bottom half out of sample
    /// (`logit <= 0`).
    pub pbo: f64,
    /// Number of splits `C(S, S/2)`.
    pub splits: usize,
    /// Blocks `S`.
    pub blocks: usize,
    /// Returns per block.
    pub block_len: usize,
    /// The logit of every split, in split order (bit masks ascending).
    pub logits: Vec<f64>,
}

/// Per-block sums of every combination's returns, the only input CSCV needs: Sharpe ratios of
/// a union of blocks follow exactly from the sums of `r`, of `r^2` and the counts.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSums {
    /// Blocks `S`.
    pub blocks: usize,
    /// Returns per block.
    pub block_len: usize,
    /// `[sum r, sum r^2]` per combination and block: `sums[c * blocks + b]`.
    pub sums: Vec<[f64; 2]>,
}

impl BlockSums {
    /// Splits each column of a `combinations x days` return matrix into `blocks` equal
    /// contiguous blocks (the earliest `days % blocks` days are dropped).
    pub fn from_returns(returns: &[Vec<f64>], blocks: usize) -> Self {
        let days = returns.first().map_or(0, Vec::len);
        let block_len = days.checked_div(blocks).unwrap_or(0);
        let skip = days - block_len * blocks;
        let mut sums = Vec::with_capacity(returns.len() * blocks);
        for r in returns {
            for b in 0..blocks {
                let chunk = &r[skip + b * block_len..skip + (b + 1) * block_len];
                sums.push([
                    chunk.iter().sum::<f64>(),
                    chunk.iter().map(|x| x * x).sum::<f64>(),
                ]);
            }
        }
        Self {
            blocks,
            block_len,
            sums,
        }
    }

    /// Number of combinations.
    pub fn combinations(&self) -> usize {
        self.sums.len().checked_div(self.blocks).unwrap_or(0)
    }
}

/// The per-period Sharpe ratio (`mean / std`, ddof 1) of `count >= 2` returns from their
/// `[sum r, sum r^2]`: `mean = s1 / count`, `var = (s2 - s1 * mean) / (count - 1)`,
/// `mean / sqrt(var)`, and 0 when `var` is not positive. CSCV's splits and CPCV's splits and
/// paths all compute it so.
pub(crate) fn sharpe_of_sums([s1, s2]: [f64; 2], count: usize) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "day counts are far below 2^52")]
    let n = count as f64;
    let mean = s1 / n;
    let var = (s2 - s1 * mean) / (n - 1.0);
    if var > 0.0 { mean / var.sqrt() } else { 0.0 }
}

/// Probability of Backtest Overfitting by combinatorially symmetric cross-validation.
///
/// The train returns of all `N` combinations are cut into `S` equal blocks. For each of the
/// `C(S, S/2)` choices of half the blocks as in-sample (the rest out-of-sample): `n*` is the
/// combination with the best in-sample Sharpe (ties: the lower index); its out-of-sample rank
/// among all `N` is `rank = 1 + #{worse} + #{equal others}/2` (ascending, mid-rank for ties), its
/// relative rank `w = rank / (N + 1)` and `logit = ln(w / (1 - w))`. PBO is the fraction of
/// splits with `logit <= 0`. Sharpe ratios are `mean / std` (ddof 1) of the blocks' returns.
/// Splits run in parallel; the result does not depend on the thread count.
///
/// Returns `None` when fewer than 2 combinations, `S` odd or `< 2`, or fewer than 2 returns
/// per half.
///
/// # Examples
///
/// Two combinations over 8 days in 2 blocks of 4: each is good in one block and bad in the
/// other, so whichever half is in-sample, its winner is the out-of-sample loser.
///
/// ```
/// use momentum_engine::{BlockSums, probability_of_backtest_overfitting};
///
/// let good = [0.01, 0.02, 0.01, 0.02];
/// let bad = [-0.01, -0.02, -0.01, -0.02];
/// let returns = vec![[good, bad].concat(), [bad, good].concat()];
/// let sums = BlockSums::from_returns(&returns, 2);
/// assert_eq!((sums.blocks, sums.block_len, sums.combinations()), (2, 4, 2));
/// let pbo = probability_of_backtest_overfitting(&sums).unwrap();
/// assert_eq!((pbo.splits, pbo.pbo), (2, 1.0));
/// // The winner ranks 1 of 2 out of sample: w = 1 / 3, logit ln(1/2).
/// assert!(pbo.logits.iter().all(|l| (l + 2f64.ln()).abs() < 1e-12));
///
/// // The first combination good in both blocks: it wins and ranks first out of sample.
/// let returns = vec![[good, good].concat(), [bad, bad].concat()];
/// let pbo = probability_of_backtest_overfitting(&BlockSums::from_returns(&returns, 2)).unwrap();
/// assert_eq!(pbo.pbo, 0.0);
/// // An odd number of blocks: no CSCV.
/// assert!(probability_of_backtest_overfitting(&BlockSums::from_returns(&returns, 3)).is_none());
/// ```
///
/// # References
/// Bailey, D. H., Borwein, J., Lopez de Prado, M. and Zhu, Q. J. (2017), "The Probability of
/// Backtest Overfitting", Journal of Computational Finance 20(4), section 2 (CSCV).
pub fn probability_of_backtest_overfitting(sums: &BlockSums) -> Option<Pbo> {
    let shape = (sums.combinations(), sums.blocks, sums.block_len);
    let Ok(pbo) = cscv::<Infallible>(shape, &mut |chunk| chunk(&sums.sums));
    pbo
}

/// [`probability_of_backtest_overfitting`] of the grid's rows, read a chunk at a time (once
/// more when they are several chunks and some winners came late):
/// the same value, bit for bit. `None` without block sums.
///
/// # Errors
/// [`crate::EngineError::GridSpill`] when the rows cannot be read.
pub(crate) fn pbo_of_rows(rows: &GridRows) -> crate::Result<Option<Pbo>> {
    let Some((blocks, block_len)) = rows.block_layout() else {
        return Ok(None);
    };
    cscv((rows.len(), blocks, block_len), &mut |chunk| {
        rows.chunks().try_for_each(|c| chunk(&c?.sums))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::SplitMix64;
    use crate::cscv::{cscv_on, logit};
    use crate::isa::Isa;

    /// CSCV by its definition, split by split from the block sums: every combination's Sharpe
    /// ratio on each half ([`sharpe_of_sums`] of the half's sums added in block order, as the
    /// engine adds them), the in-sample winner the first of the largest, its out-of-sample rank
    /// counted over every combination. No complements, no chunks, no pairing: what a faster
    /// CSCV must reproduce bit for bit.
    fn split_by_split(sums: &BlockSums) -> Vec<f64> {
        let (s, len, n) = (sums.blocks, sums.block_len, sums.combinations());
        let sharpe = |c: usize, set: &[usize]| {
            let total = set.iter().fold([0.0, 0.0], |acc, &b| {
                let x = sums.sums[c * s + b];
                [acc[0] + x[0], acc[1] + x[1]]
            });
            sharpe_of_sums(total, set.len() * len)
        };
        let mut logits = Vec::new();
        for mask in 0u32..1 << s {
            if mask.count_ones() as usize != s / 2 {
                continue;
            }
            let (ins, outs): (Vec<usize>, Vec<usize>) = (0..s).partition(|b| mask >> b & 1 == 1);
            let is: Vec<f64> = (0..n).map(|c| sharpe(c, &ins)).collect();
            let oos: Vec<f64> = (0..n).map(|c| sharpe(c, &outs)).collect();
            let mut best = 0;
            for (c, &v) in is.iter().enumerate() {
                if v > is[best] {
                    best = c;
                }
            }
            let x = oos[best];
            let below = oos.iter().filter(|&&y| y < x).count();
            let equal = oos.iter().filter(|&&y| y == x).count();
            logits.push(logit(below, equal, n));
        }
        logits
    }

    /// Returns that put CSCV's ties and edges to the test: noise with drifts apart, exact
    /// copies (ties in and out of sample), copies scaled by a hair (the same Sharpe ratio up to
    /// rounding), copies shifted by a hair (Sharpe ratios apart by about the keys' tolerance,
    /// inside and outside it), all zeros and a constant loss (no variance, or rounding's), and a loss so
    /// steady its per-period Sharpe ratio is far below -31 (it never wins, so the splits still
    /// disagree).
    fn awkward_returns(seed: u64, days: usize) -> Vec<Vec<f64>> {
        let mut rng = SplitMix64::new(seed);
        let mut returns: Vec<Vec<f64>> = (0..23)
            .map(|c| {
                let drift = 0.00002 * (f64::from(c) - 11.0);
                (0..days)
                    .map(|_| drift + 0.02 * (rng.uniform() - 0.5))
                    .collect()
            })
            .collect();
        for c in [1, 4, 9] {
            returns.push(returns[c].clone());
            let scaled = returns[c].iter().map(|r| r * (1.0 + 3e-16)).collect();
            returns.push(scaled);
            let scaled = returns[c].iter().map(|r| r * 1.000_000_000_1).collect();
            returns.push(scaled);
            for shift in [1e-10, 1e-11, 1e-12, 1e-13] {
                let shifted = returns[c].iter().map(|r| r + shift).collect();
                returns.push(shifted);
            }
        }
        returns.push(vec![0.0; days]);
        returns.push(vec![-0.001; days]);
        returns.push((0..days).map(|_| -0.01 + 1e-6 * rng.uniform()).collect());
        returns
    }

    /// Steady gains, each with its own faint noise, 1e-9 apart in drift: Sharpe ratios in the
    /// thousands, 1e-7 to 1e-6 apart (relatively), whose variances are what is left of
    /// `n s2 - s1^2` after it cancelled about 40 bits; beside a few noisy series that never win.
    fn steady_returns(seed: u64, days: usize) -> Vec<Vec<f64>> {
        let mut rng = SplitMix64::new(seed);
        (0..24)
            .map(|c| {
                let (drift, noise) = if c < 20 {
                    (0.01 + 1e-9 * f64::from(c % 7), 1e-7)
                } else {
                    (0.0, 0.02)
                };
                (0..days)
                    .map(|_| drift + noise * (rng.uniform() - 0.5))
                    .collect()
            })
            .collect()
    }

    /// [`cscv_on`] on every instruction set this processor has, whole and in chunks of 7
    /// combinations (winners and ranks across chunks), against [`split_by_split`] bit for bit.
    fn assert_definition_logits(sums: &BlockSums, case: &str) -> Vec<f64> {
        let expected = split_by_split(sums);
        let blocks = sums.blocks;
        let shape = (sums.combinations(), blocks, sums.block_len);
        for isa in Isa::ALL.into_iter().filter(|isa| isa.available()) {
            for chunk in [sums.combinations(), 7] {
                let Ok(got) = cscv_on::<Infallible>(isa, shape, &mut |pass| {
                    sums.sums.chunks(chunk * blocks).try_for_each(&mut *pass)
                });
                let got = got.expect("a PBO").logits;
                assert_eq!(got.len(), expected.len());
                for (split, (a, b)) in got.iter().zip(&expected).enumerate() {
                    assert_eq!(
                        a.to_bits(),
                        b.to_bits(),
                        "{case}: {isa:?}, chunks of {chunk}, split {split}: {a} {b}"
                    );
                }
            }
        }
        expected
    }

    #[test]
    fn steady_series_are_ranked_as_the_definition_ranks_them() {
        for (seed, blocks) in [(4, 8), (5, 10)] {
            let sums = BlockSums::from_returns(&steady_returns(seed, 40 * blocks), blocks);
            let logits = assert_definition_logits(&sums, &format!("seed {seed}"));
            // The steady series win; where the winner ranks differs from split to split.
            assert!(logits.windows(2).any(|w| w[0] != w[1]), "{logits:?}");
        }
    }

    #[test]
    fn every_split_has_the_logit_of_the_definition_bit_for_bit() {
        for (seed, blocks) in [(1, 8), (2, 6), (3, 10)] {
            let returns = awkward_returns(seed, 12 * blocks + 3);
            let sums = BlockSums::from_returns(&returns, blocks);
            let expected = assert_definition_logits(&sums, &format!("seed {seed}"));
            // Not degenerate: the splits disagree.
            assert!(
                expected.iter().any(|&l| l > 0.0) && expected.iter().any(|&l| l <= 0.0),
                "seed {seed}: {expected:?}"
            );
        }
    }
}
