//! Statistics that tell whether live behaviour has left what the backtest promised.
//!
//! One statistic per function, each with its formula and degenerate cases, so `monitor` can put
//! every number, its threshold and its verdict side by side in `reports/monitor.json`.

use std::borrow::Cow;

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Population Stability Index of `actual` against the `expected` (reference) sample.
///
/// Bins are the reference's deciles (edges at the 10 %, 20 %, ..., 90 % empirical quantiles, open
/// at both ends), so each bin holds about a tenth of the reference. With `e_b` and `a_b` the
/// fraction of each sample in bin `b`, floored at `1e-4` so an empty bin stays finite:
/// `PSI = sum_b (a_b - e_b) * ln(a_b / e_b)`. 0 means identical bin shares; the usual reading is
/// < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 significant shift. Non-finite values are
/// ignored; `None` when either sample has no finite value.
///
/// ```
/// use momentum_scanner::drift::population_stability_index;
///
/// // The reference 0..=99 puts ten values in each decile bin (shares 0.1).
/// let reference: Vec<f64> = (0..100).map(f64::from).collect();
/// assert!(population_stability_index(&reference, &reference).unwrap().abs() < 1e-12);
/// // Everything above the last decile: share 1 in the last bin, 1e-4 (the floor) elsewhere.
/// let shifted: Vec<f64> = (0..100).map(|x| f64::from(x) + 1000.0).collect();
/// let want = (1.0 - 0.1) * 10f64.ln() + 9.0 * (1e-4 - 0.1) * 1e-3f64.ln();
/// let psi = population_stability_index(&reference, &shifted).unwrap();
/// assert!((psi - want).abs() < 1e-12);
/// assert!(psi > 0.25); // a significant shift
/// assert_eq!(population_stability_index(&reference, &[f64::NAN]), None);
/// ```
///
/// # References
/// Siddiqi, N. (2006). *Credit Risk Scorecards*, Wiley, ch. 8 (the characteristic stability index).
pub fn population_stability_index(expected: &[f64], actual: &[f64]) -> Option<f64> {
    let reference = finite_sorted(expected);
    let actual = finite_sorted(actual);
    if reference.is_empty() || actual.is_empty() {
        return None;
    }
    let edges: Vec<f64> = (1..10)
        .map(|decile| quantile_sorted(&reference, decile as f64 / 10.0))
        .collect();
    let shares = |sample: &[f64]| -> [f64; 10] {
        let mut counts = [0usize; 10];
        for &value in sample {
            // Bin b holds values in (edge[b-1], edge[b]]: the count of edges strictly below.
            let bin = edges.partition_point(|&edge| edge < value);
            counts[bin] += 1;
        }
        counts.map(|count| (count as f64 / sample.len() as f64).max(1e-4))
    };
    let expected_shares = shares(&reference);
    let actual_shares = shares(&actual);
    Some(
        expected_shares
            .iter()
            .zip(actual_shares)
            .map(|(e, a)| (a - e) * (a / e).ln())
            .sum(),
    )
}

/// Result of a two-sample Kolmogorov-Smirnov test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsTest {
    /// `D = sup_x |F_1(x) - F_2(x)|` of the two empirical CDFs.
    pub statistic: f64,
    /// Asymptotic two-sided p-value.
    pub p_value: f64,
}

/// Two-sample Kolmogorov-Smirnov test of `a` against `b` (non-finite values ignored).
///
/// `D` is the largest gap between the empirical CDFs. The p-value is the asymptotic Kolmogorov
/// distribution with the small-sample correction of Stephens (1970):
/// `n_e = m n / (m + n)`, `lambda = (sqrt(n_e) + 0.12 + 0.11 / sqrt(n_e)) * D`,
/// `p = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 lambda^2)` (clamped to [0, 1]). `None` when either
/// sample is empty.
///
/// ```
/// use momentum_scanner::drift::kolmogorov_smirnov;
///
/// // The empirical CDFs are furthest apart at 3: 3/5 of `a` is at or below it, none of `b`.
/// let a = [1.0, 2.0, 3.0, 4.0, 5.0];
/// let b = [4.0, 5.0, 6.0, 7.0, 8.0];
/// let test = kolmogorov_smirnov(&a, &b).unwrap();
/// assert!((test.statistic - 0.6).abs() < 1e-15);
/// // n_e = 5 * 5 / 10 = 2.5, lambda = (sqrt(2.5) + 0.12 + 0.11 / sqrt(2.5)) * 0.6 = 1.0624...
/// assert!((test.p_value - 0.208_984_830_575_167_17).abs() < 1e-12);
///
/// let same = kolmogorov_smirnov(&a, &a).unwrap();
/// assert_eq!((same.statistic, same.p_value), (0.0, 1.0));
/// assert!(kolmogorov_smirnov(&a, &[]).is_none());
/// ```
///
/// # References
/// Press et al., *Numerical Recipes* (3rd ed.), section 14.3.3; Stephens, M. A. (1970), JRSS B 32.
pub fn kolmogorov_smirnov(a: &[f64], b: &[f64]) -> Option<KsTest> {
    let a = finite_sorted(a);
    let b = finite_sorted(b);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (m, n) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut statistic) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        // Step past every copy of the smaller value in both samples, so ties move both CDFs at once.
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        statistic = statistic.max((i as f64 / m - j as f64 / n).abs());
    }
    let effective = (m * n / (m + n)).sqrt();
    let lambda = (effective + 0.12 + 0.11 / effective) * statistic;
    Some(KsTest {
        statistic,
        p_value: kolmogorov_survival(lambda),
    })
}

/// `Q_KS(lambda) = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 lambda^2)`, 1 at `lambda = 0`.
fn kolmogorov_survival(lambda: f64) -> f64 {
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for k in 1..=200 {
        let k = f64::from(k);
        let term = sign * (-2.0 * k * k * lambda * lambda).exp();
        sum += term;
        if term.abs() < 1e-16 {
            break;
        }
        sign = -sign;
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Result of a one-sample, one-sided Student t test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanShortfallTest {
    /// `t = (mean(x) - mu0) / (s / sqrt(n))`, `s` with ddof 1.
    pub t_statistic: f64,
    /// `P(T_{n-1} <= t)`: small when the live mean is significantly below `mu0`.
    pub p_value: f64,
}

/// Tests whether the mean of `live` is below `promised` (H1: `mean < promised`).
///
/// `None` with fewer than 2 values; with zero spread the statistic is `-inf`, `0` or `+inf` by
/// the sign of `mean - promised` and the p-value 0, 0.5 or 1.
///
/// ```
/// use momentum_scanner::drift::mean_shortfall_test;
///
/// // Mean -0.005 against a promised 0.01, s^2 = 0.0005 / 3:
/// // t = -0.015 / sqrt(0.0005 / 3 / 4) = -2.3238, P(T_3 <= t) = 0.0514.
/// let test = mean_shortfall_test(&[-0.02, 0.0, 0.01, -0.01], 0.01).unwrap();
/// assert!((test.t_statistic + 2.323_790_007_724_45).abs() < 1e-12);
/// assert!((test.p_value - 0.051_364_039_429_199_5).abs() < 1e-9);
///
/// // No spread: the sign of the shortfall decides.
/// let flat = mean_shortfall_test(&[0.01, 0.01], 0.02).unwrap();
/// assert_eq!((flat.t_statistic, flat.p_value), (f64::NEG_INFINITY, 0.0));
/// assert!(mean_shortfall_test(&[0.01], 0.0).is_none());
/// ```
pub fn mean_shortfall_test(live: &[f64], promised: f64) -> Option<MeanShortfallTest> {
    let n = live.len();
    if n < 2 {
        return None;
    }
    let mean = live.iter().sum::<f64>() / n as f64;
    let variance = live.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let gap = mean - promised;
    if variance == 0.0 {
        let (t_statistic, p_value) = match gap.partial_cmp(&0.0) {
            Some(std::cmp::Ordering::Less) => (f64::NEG_INFINITY, 0.0),
            Some(std::cmp::Ordering::Greater) => (f64::INFINITY, 1.0),
            _ => (0.0, 0.5),
        };
        return Some(MeanShortfallTest {
            t_statistic,
            p_value,
        });
    }
    let t_statistic = gap / (variance / n as f64).sqrt();
    let students = StudentsT::new(0.0, 1.0, (n - 1) as f64).ok()?;
    Some(MeanShortfallTest {
        t_statistic,
        p_value: students.cdf(t_statistic),
    })
}

/// The finite values in ascending order: borrowed when they already are (a caller with
/// millions of values sorts them in place first instead of having them copied here).
fn finite_sorted(values: &[f64]) -> Cow<'_, [f64]> {
    let ascending = values.is_sorted_by(|a, b| a.total_cmp(b).is_le());
    if ascending && values.iter().all(|v| v.is_finite()) {
        return Cow::Borrowed(values);
    }
    let mut out: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    out.sort_by(f64::total_cmp);
    Cow::Owned(out)
}

/// Linear-interpolation quantile (numpy's default, "type 7") of a sorted, non-empty sample.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_of_a_sample_against_itself_is_zero() {
        let sample: Vec<f64> = (0..100).map(f64::from).collect();
        assert!(population_stability_index(&sample, &sample).unwrap().abs() < 1e-12);
    }

    #[test]
    fn psi_matches_a_hand_computation() {
        // Reference 0..=99: deciles at 9.9, 19.8, ..., 89.1, so each bin holds 10 values (0.1).
        // Actual: 50 values in the first bin (0..=9) and 50 in the last (90..=99): shares 0.5,
        // 0.5 and 1e-4 for the 8 empty bins.
        // PSI = 2 * (0.5 - 0.1) * ln(5) + 8 * (1e-4 - 0.1) * ln(1e-3)
        //     = 0.8 * 1.6094379124341003 + 8 * (-0.0999) * (-6.907755278982137)
        let expected = 0.8 * 1.609_437_912_434_100_3 + 8.0 * -0.0999 * -6.907_755_278_982_137;
        let reference: Vec<f64> = (0..100).map(f64::from).collect();
        let actual: Vec<f64> = (0..50)
            .map(|i| f64::from(i % 10))
            .chain((0..50).map(|i| 90.0 + f64::from(i % 10)))
            .collect();
        let psi = population_stability_index(&reference, &actual).unwrap();
        assert!((psi - expected).abs() < 1e-12, "{psi} vs {expected}");
    }

    #[test]
    fn ks_statistic_and_p_value_match_a_hand_computation() {
        // a = 1..=5, b = 4..=8: the CDF gap peaks at x = 3 (3/5 - 0) = 0.6.
        // n_e = 25 / 10 = 2.5, sqrt = 1.5811388300841898,
        // lambda = (1.5811388300841898 + 0.12 + 0.11 / 1.5811388300841898) * 0.6 = 1.0624253631647365
        // p = 2 * (exp(-2 l^2) - exp(-8 l^2) + exp(-18 l^2) - ...) computed with python3's math:
        // 0.20898483057516717
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [4.0, 5.0, 6.0, 7.0, 8.0];
        let test = kolmogorov_smirnov(&a, &b).unwrap();
        assert!((test.statistic - 0.6).abs() < 1e-15);
        assert!(
            (test.p_value - 0.208_984_830_575_167_17).abs() < 1e-12,
            "{}",
            test.p_value
        );
    }

    #[test]
    fn ks_of_identical_samples_has_p_value_one() {
        let a = [0.3, 0.1, 0.2];
        let test = kolmogorov_smirnov(&a, &a).unwrap();
        assert_eq!(test.statistic, 0.0);
        assert_eq!(test.p_value, 1.0);
    }

    #[test]
    fn mean_shortfall_matches_a_hand_computation() {
        // x = [-0.02, 0.0, 0.01, -0.01], mean -0.005, mu0 = 0.01:
        // deviations 0.015^2 + 0.005^2 + 0.015^2 + 0.005^2 = 0.0005, s^2 = 0.0005 / 3,
        // t = -0.015 / sqrt(0.0005 / 3 / 4) = -2.32379000772445,
        // P(T_3 <= t) = 0.051364039429199496 (scipy.stats.t.cdf, checked independently).
        let test = mean_shortfall_test(&[-0.02, 0.0, 0.01, -0.01], 0.01).unwrap();
        assert!(
            (test.t_statistic - -2.323_790_007_724_45).abs() < 1e-12,
            "{}",
            test.t_statistic
        );
        assert!(
            (test.p_value - 0.051_364_039_429_199_496).abs() < 1e-9,
            "{}",
            test.p_value
        );
        assert!(mean_shortfall_test(&[0.1], 0.0).is_none());
    }
}
