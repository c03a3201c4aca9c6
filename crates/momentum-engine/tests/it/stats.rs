//! PSR, DSR and PBO pinned against numbers computed independently: the published example of
//! Bailey and Lopez de Prado (2014), python3 sessions using only `math`, `statistics`
//! (`NormalDist`) and `itertools` (the script is reproduced in the comments), and a
//! split-by-split CSCV written out below.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use momentum_engine::{
    BlockSums, deflated_sharpe_ratio, expected_max_sharpe, moments, probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
};

#[test]
fn dsr_reproduces_the_published_example() {
    // Bailey and Lopez de Prado (2014), "The Deflated Sharpe Ratio", numerical example:
    // annualised SR 2.5 over 5 years of daily returns (T = 1250, 250 days a year), N = 100
    // trials with annualised Var[SR] = 0.5, skewness -3, kurtosis 10. Published: SR0 = 0.1132
    // (daily), DSR = 0.9004. Python (NormalDist) gives SR0 = 0.11317200186510788,
    // DSR = 0.9003968344495117.
    let sr = 2.5 / 250f64.sqrt();
    let var = 0.5 / 250.0;
    let sr0 = expected_max_sharpe(var, 100);
    assert!((sr0 - 0.11317200186510788).abs() < 1e-9, "{sr0}");
    assert!((sr0 - 0.1132).abs() < 5e-5);
    let dsr = probabilistic_sharpe_ratio(sr, sr0, 1250, -3.0, 10.0);
    assert!((dsr - 0.9003968344495117).abs() < 1e-9, "{dsr}");
    assert!((dsr - 0.9004).abs() < 5e-5);
    // Through the trial list: two trials at +-d have population variance d^2, but N = 2 then,
    // so compare with expected_max_sharpe(d^2, 2).
    let d = var.sqrt();
    let via = deflated_sharpe_ratio(sr, 1250, -3.0, 10.0, &[-d, d]);
    let direct = probabilistic_sharpe_ratio(sr, expected_max_sharpe(var, 2), 1250, -3.0, 10.0);
    assert!((via - direct).abs() < 1e-15);
    // One trial: no selection, SR0 = 0.
    assert_eq!(expected_max_sharpe(1.0, 1), 0.0);
}

#[test]
fn psr_matches_a_hand_computation() {
    // python3: NormalDist().cdf((sr - srs) * sqrt(n - 1) / sqrt(1 - g3*sr + (g4 - 1)/4*sr^2))
    //   psr(0.1, 0.0, 100, -0.5, 5.0)  = 0.8330822773316748
    //   psr(0.1, 0.05, 250, 0.2, 4.0)  = 0.7863919727534758
    let a = probabilistic_sharpe_ratio(0.1, 0.0, 100, -0.5, 5.0);
    // statrs' erfc agrees with Python's math.erfc to about 1e-11 here.
    assert!((a - 0.8330822773316748).abs() < 1e-9, "{a}");
    let b = probabilistic_sharpe_ratio(0.1, 0.05, 250, 0.2, 4.0);
    assert!((b - 0.7863919727534758).abs() < 1e-9, "{b}");
    assert!(probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0).is_nan());
}

#[test]
fn moments_match_python() {
    // r = [0.01, -0.02, 0.015, 0.003, -0.007, 0.02]; statistics.mean / stdev, and population
    // central moments m3 / m2^1.5, m4 / m2^2.
    let m = moments(&[0.01, -0.02, 0.015, 0.003, -0.007, 0.02]);
    assert!((m.mean - 0.0035).abs() < 1e-15);
    assert!((m.std - 0.014896308267486948).abs() < 1e-15);
    assert!((m.skewness - -0.5201680337911296).abs() < 1e-12);
    assert!((m.kurtosis - 2.0009762465624727).abs() < 1e-12);
}

/// 4 combinations x 13 daily returns (python `random.seed(7)`, `gauss(0.001*(c-1), 0.01)`
/// rounded to 6 decimals).
const R: [[f64; 13]; 4] = [
    [
        -0.003559, 0.004114, -0.003261, -0.004151, -0.0103, -0.003133, 0.010119, 0.003241,
        0.009369, 0.001489, 0.002948, 0.000853, -0.017661,
    ],
    [
        0.008553, 0.005064, 0.004988, -0.016914, -0.017439, -0.008896, -0.004682, 0.003054,
        -0.000459, 0.00521, -0.006422, 0.003087, 0.003942,
    ],
    [
        -0.005611, 0.018175, 0.006566, 0.01297, -0.005203, -0.006395, -0.00244, -6.4e-05, 0.007321,
        0.003484, -0.003474, -0.008569, -0.004206,
    ],
    [
        0.014209, -0.006079, 0.004448, 0.006265, -0.012897, 0.002485, 0.015062, -0.018144,
        -0.001216, 0.000939, -0.006173, 0.006974, 0.001377,
    ],
];

#[test]
fn pbo_matches_an_independent_cscv() {
    // python3, S = 6 blocks of 2 (the first of 13 days dropped), for IS in
    // itertools.combinations(range(6), 3): best = max in-sample mean/stdev (lower index on
    // ties); rank = 1 + #{oos < x} + (#{oos == x} - 1)/2; w = rank / 5; logit = ln(w/(1-w)).
    // 20 splits, PBO = 0.85, first logits -0.405465..., -1.386294..., -1.386294..., 0.405465...
    let returns: Vec<Vec<f64>> = R.iter().map(|r| r.to_vec()).collect();
    let sums = BlockSums::from_returns(&returns, 6);
    assert_eq!(sums.block_len, 2);
    let pbo = probability_of_backtest_overfitting(&sums).unwrap();
    assert_eq!(pbo.splits, 20);
    assert!((pbo.pbo - 0.85).abs() < 1e-15, "{}", pbo.pbo);
    // Python enumerates IS sets in lexicographic order; the engine in bit-mask order. Compare
    // as multisets.
    let mut got = pbo.logits.clone();
    got.sort_by(f64::total_cmp);
    assert!((got[0] - -1.3862943611198906).abs() < 1e-12);
    assert!(
        pbo.logits
            .iter()
            .any(|l| (l - 0.4054651081081642).abs() < 1e-12)
    );
    assert!(
        probability_of_backtest_overfitting(&BlockSums::from_returns(&returns[..1], 6)).is_none()
    );
}

/// CSCV split by split, straight from the returns (two-pass mean and variance, ddof 1), the
/// splits in bit-mask order: the logit of every split.
fn cscv_logits(returns: &[Vec<f64>], blocks: usize) -> Vec<f64> {
    let days = returns[0].len();
    let len = days / blocks;
    let skip = days - len * blocks;
    let sharpe = |r: &[f64], set: &[usize]| {
        let x: Vec<f64> = set
            .iter()
            .flat_map(|&b| r[skip + b * len..skip + (b + 1) * len].iter().copied())
            .collect();
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
        if var > 0.0 { mean / var.sqrt() } else { 0.0 }
    };
    let mut logits = Vec::new();
    for mask in 0u32..1 << blocks {
        if mask.count_ones() as usize != blocks / 2 {
            continue;
        }
        let (ins, outs): (Vec<usize>, Vec<usize>) = (0..blocks).partition(|b| mask >> b & 1 == 1);
        let is: Vec<f64> = returns.iter().map(|r| sharpe(r, &ins)).collect();
        let oos: Vec<f64> = returns.iter().map(|r| sharpe(r, &outs)).collect();
        let mut best = 0;
        for (c, &v) in is.iter().enumerate() {
            if v > is[best] {
                best = c;
            }
        }
        let x = oos[best];
        let below = oos.iter().filter(|&&y| y < x).count() as f64;
        let equal = oos.iter().filter(|&&y| y == x).count() as f64;
        let w = (1.0 + below + (equal - 1.0) / 2.0) / (returns.len() as f64 + 1.0);
        logits.push((w / (1.0 - w)).ln());
    }
    logits
}

#[test]
fn pbo_gives_every_split_the_logit_of_a_split_by_split_cscv() {
    // Nine combinations (an odd count: the last one is evaluated without a partner) of 43 days
    // (8 blocks of 5, the first 3 days dropped): seven of random noise with drifts apart, one
    // repeating the second (exact ties in- and out-of-sample) and one flat (Sharpe 0).
    let mut rng = StdRng::seed_from_u64(7);
    let mut returns: Vec<Vec<f64>> = (0..7)
        .map(|c| {
            (0..43)
                .map(|_| 0.0005 * f64::from(c) + rng.random_range(-0.01..0.01))
                .collect()
        })
        .collect();
    returns.push(returns[1].clone());
    returns.push(vec![0.0; 43]);
    let pbo = probability_of_backtest_overfitting(&BlockSums::from_returns(&returns, 8)).unwrap();
    let expected = cscv_logits(&returns, 8);
    assert_eq!(expected.len(), 70);
    assert_eq!(pbo.splits, 70);
    for (split, (got, want)) in pbo.logits.iter().zip(&expected).enumerate() {
        assert!(
            (got - want).abs() < 1e-12,
            "split {split}: {got} against {want}"
        );
    }
    let overfit = expected.iter().filter(|&&l| l <= 0.0).count() as f64;
    assert_eq!(pbo.pbo, overfit / 70.0);
    // Not a degenerate case: the splits disagree.
    assert!(expected.iter().any(|&l| l > 0.0) && expected.iter().any(|&l| l <= 0.0));
}
